//! The kubernetes backend: a `coordination.k8s.io/v1` Lease per lock key, renewed while the
//! run lives, taken over only once it has expired, every write fenced by resourceVersion.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{Holder, LockError};
use crate::k8s::{connect, describe};

/// Where the holder's details are kept on the Lease, for the refusal message.
const HOLDER_ANNOTATION: &str = "runbook.dev/holder";

/// Where and how long Leases live.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub context: Option<String>,
    pub namespace: String,
    pub duration: Duration,
}

/// A held Lease; renewed in the background until dropped, then released.
pub struct LeaseLock {
    pub name: String,
    pub namespace: String,
    api: Api<Lease>,
    me: String,
    stop: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// The Lease of a key: a valid object name, distinct for keys that read alike.
pub fn lease_name(key: &str) -> String {
    let readable: String = key
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let readable = readable.trim_matches('-');
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let short: String = readable.chars().take(40).collect();
    format!("runbook-{}-{}", short.trim_end_matches('-'), &digest[..8])
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

/// Is the Lease free: no holder, or its holder stopped renewing more than its duration ago?
fn expired(l: &Lease, at: Timestamp) -> bool {
    let Some(spec) = &l.spec else { return true };
    if spec.holder_identity.as_deref().unwrap_or("").is_empty() {
        return true;
    }
    let secs = spec.lease_duration_seconds.unwrap_or(0) as i64;
    match spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) {
        Some(t) => t.0.as_second() + secs < at.as_second(),
        None => true,
    }
}

fn held_by(l: &Lease, key: &str) -> LockError {
    let holder = l
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HOLDER_ANNOTATION))
        .and_then(|h| serde_json::from_str::<Holder>(h).ok())
        .or_else(|| {
            let id = l.spec.as_ref()?.holder_identity.clone()?;
            Some(Holder {
                run: id,
                user: "?".into(),
                host: "?".into(),
                pid: 0,
                since: "?".into(),
            })
        });
    let renewed = l
        .spec
        .as_ref()
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0.to_string());
    LockError::Held {
        key: key.to_string(),
        holder,
        at: Some(format!(
            "Lease {}/{}{}",
            l.metadata.namespace.as_deref().unwrap_or("?"),
            l.metadata.name.as_deref().unwrap_or("?"),
            renewed.map(|r| format!(", last renewed {r}")).unwrap_or_default()
        )),
    }
}

/// One attempt: take a free Lease (create it, or take over an expired one) or report its holder.
async fn try_take(api: &Api<Lease>, name: &str, key: &str, holder: &Holder, cfg: &LeaseConfig) -> Result<(), Attempt> {
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        HOLDER_ANNOTATION.to_string(),
        serde_json::to_string(holder).unwrap_or_default(),
    );
    let spec = |transitions: i32| LeaseSpec {
        holder_identity: Some(holder.run.clone()),
        lease_duration_seconds: Some(cfg.duration.as_secs().max(1) as i32),
        acquire_time: Some(now()),
        renew_time: Some(now()),
        lease_transitions: Some(transitions),
        ..Default::default()
    };
    let what = format!("take Lease {}/{name}", cfg.namespace);
    match api
        .get_opt(name)
        .await
        .map_err(|e| Attempt::Failed(describe(&what, &e)))?
    {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(cfg.namespace.clone()),
                    annotations: Some(annotations),
                    ..Default::default()
                },
                spec: Some(spec(0)),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(()),
                // Someone created it between our read and our write: read again.
                Err(e) if crate::k8s::code(&e) == Some(409) => Err(Attempt::Raced),
                Err(e) => Err(Attempt::Failed(describe(&what, &e))),
            }
        }
        Some(l) if !expired(&l, Timestamp::now()) => Err(Attempt::Held(held_by(&l, key))),
        Some(mut l) => {
            let transitions = l.spec.as_ref().and_then(|s| s.lease_transitions).unwrap_or(0) + 1;
            l.spec = Some(spec(transitions));
            l.metadata.annotations = Some(annotations);
            // Fenced by the resourceVersion we read: of two runs taking over, one gets 409.
            match api.replace(name, &PostParams::default(), &l).await {
                Ok(_) => Ok(()),
                Err(e) if crate::k8s::code(&e) == Some(409) => Err(Attempt::Raced),
                Err(e) => Err(Attempt::Failed(describe(&what, &e))),
            }
        }
    }
}

enum Attempt {
    Held(LockError),
    Raced,
    Failed(String),
}

/// Takes the Lease of `key`, waiting up to `wait` while another run holds it.
pub fn acquire(
    cfg: &LeaseConfig,
    key: &str,
    holder: &Holder,
    wait: Option<Duration>,
    waits: &crate::wake::Waits,
    on_lost: Box<dyn Fn(String) + Send + Sync>,
) -> Result<LeaseLock, LockError> {
    // Its own runtime: the Lease must be renewed while the run's runtime is busy or gone.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("runbook-lease")
        .enable_all()
        .build()
        .map_err(|e| LockError::Io(format!("cannot start the lease renewer: {e}")))?;
    let name = lease_name(key);
    let api = runtime.block_on(async {
        let cluster = connect(cfg.context.as_deref())
            .await
            .map_err(|e| LockError::Io(format!("lock `{key}` (kubernetes backend): {e}")))?;
        Ok::<_, LockError>(Api::<Lease>::namespaced(cluster.client, &cfg.namespace))
    })?;
    let deadline = wait.map(crate::wake::deadline);
    runtime.block_on(async {
        loop {
            match try_take(&api, &name, key, holder, cfg).await {
                Ok(()) => return Ok(()),
                Err(Attempt::Raced) => continue,
                Err(Attempt::Failed(e)) => return Err(LockError::Io(e)),
                Err(Attempt::Held(h)) => {
                    if deadline.is_some_and(|d| std::time::Instant::now() < d) {
                        if waits.sleep(Duration::from_millis(500)).await != crate::wake::Woke::Elapsed {
                            return Err(LockError::Interrupted);
                        }
                        continue;
                    }
                    return Err(h);
                }
            }
        }
    })?;
    let (stop, stopped) = watch::channel(false);
    let renewer = runtime.spawn(renew(
        api.clone(),
        name.clone(),
        holder.run.clone(),
        cfg.duration,
        stopped,
        on_lost,
    ));
    Ok(LeaseLock {
        api,
        me: holder.run.clone(),
        name,
        namespace: cfg.namespace.clone(),
        stop,
        runtime: Some(runtime),
        renewer: Some(renewer),
    })
}

/// Renews every third of the duration; says once if the Lease was lost (taken by another run
/// after we failed to renew it in time, or deleted).
async fn renew(
    api: Api<Lease>,
    name: String,
    me: String,
    duration: Duration,
    mut stop: watch::Receiver<bool>,
    on_lost: Box<dyn Fn(String) + Send + Sync>,
) {
    let every = (duration / 3).max(Duration::from_millis(200));
    let mut last_ok = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match api.get_opt(&name).await {
            Ok(Some(mut l)) => {
                let holder = l
                    .spec
                    .as_ref()
                    .and_then(|s| s.holder_identity.clone())
                    .unwrap_or_default();
                if holder != me {
                    on_lost(format!(
                        "the run's Lease {name} is now held by `{holder}`: another run may be running the same procedure"
                    ));
                    return;
                }
                if let Some(spec) = l.spec.as_mut() {
                    spec.renew_time = Some(now());
                }
                // A conflict means someone wrote it since our read: the next round reads again
                // and sees who holds it.
                if api.replace(&name, &PostParams::default(), &l).await.is_ok() {
                    last_ok = std::time::Instant::now();
                }
            }
            Ok(None) => {
                on_lost(format!("the run's Lease {name} was deleted"));
                return;
            }
            Err(_) => {}
        }
        if last_ok.elapsed() > duration {
            on_lost(format!(
                "could not renew the run's Lease {name} for {}: another run may take it",
                crate::playbook::Duration(duration)
            ));
            return;
        }
    }
}

impl Drop for LeaseLock {
    /// Stops renewing and releases the Lease (clears its holder) so the next run need not wait
    /// for it to expire. Done on a plain thread: drop may happen inside another runtime.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let Some(runtime) = self.runtime.take() else { return };
        let renewer = self.renewer.take();
        let (api, name, me) = (self.api.clone(), self.name.clone(), self.me.clone());
        let _ = std::thread::spawn(move || {
            runtime.block_on(async move {
                if let Some(r) = renewer {
                    let _ = r.await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), release(&api, &name, &me)).await;
            });
        })
        .join();
    }
}

/// Clears the holder if it is still us; a Lease someone else took is left alone.
async fn release(api: &Api<Lease>, name: &str, me: &str) {
    for _ in 0..3 {
        let Ok(Some(mut l)) = api.get_opt(name).await else {
            return;
        };
        let Some(spec) = l.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(me) {
            return;
        }
        spec.holder_identity = None;
        match api.replace(name, &PostParams::default(), &l).await {
            Err(e) if crate::k8s::code(&e) == Some(409) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_valid_object_names_and_distinct() {
        let a = lease_name("prod/deploy");
        assert!(a.starts_with("runbook-prod-deploy-"), "{a}");
        assert_ne!(a, lease_name("prod_deploy"));
        let long = lease_name(&"x".repeat(300));
        assert!(long.len() <= 63, "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{long}"
        );
    }

    #[test]
    fn a_lease_expires_when_its_holder_stops_renewing() {
        let at = Timestamp::now();
        let lease = |holder: Option<&str>, renewed_secs_ago: i64| Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                lease_duration_seconds: Some(30),
                renew_time: Some(MicroTime(
                    Timestamp::from_second(at.as_second() - renewed_secs_ago).expect("time"),
                )),
                ..Default::default()
            }),
        };
        assert!(!expired(&lease(Some("r1"), 10), at));
        assert!(expired(&lease(Some("r1"), 31), at));
        assert!(expired(&lease(None, 0), at));
    }
}
