//! Runs `rds` actions through aws-sdk-rds: credentials, region and endpoint from the
//! standard AWS chain (`AWS_ENDPOINT_URL` included), the environment's `aws_region` first.

use std::future::Future;
use std::ops::ControlFlow::{self, Break, Continue};
use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::error::ProvideErrorMetadata;
use serde_json::json;

use super::{ActionCx, Outcome};
use crate::spec::{RdsSpec, SnapshotType};
use crate::wake::{Unmet, Woke};

/// How often a wait asks again.
const POLL: Duration = Duration::from_secs(2);

async fn client(cx: &ActionCx<'_>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::v2026_01_12());
    if let Some(region) = &cx.env.aws_region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    Client::new(&loader.load().await)
}

/// An SDK error as one line: the service's code and message when it sent them.
fn describe<E: ProvideErrorMetadata + std::fmt::Debug + std::error::Error + 'static>(
    what: &str,
    e: &aws_sdk_rds::error::SdkError<E>,
) -> String {
    match e.as_service_error() {
        Some(s) => match (s.code(), s.message()) {
            (Some(code), Some(msg)) => format!("{what}: {code}: {msg}"),
            (Some(code), None) => format!("{what}: {code}"),
            _ => format!("{what}: {s:?}"),
        },
        None => format!("{what}: {}", aws_sdk_rds::error::DisplayErrorContext(e)),
    }
}

fn is_not_found<E: ProvideErrorMetadata>(e: &aws_sdk_rds::error::SdkError<E>) -> bool {
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c.contains("NotFound"))
}

/// An instance's status and endpoint, or `None` when it does not exist.
async fn instance(c: &Client, id: &str) -> Result<Option<serde_json::Value>, String> {
    match c.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(out) => Ok(out.db_instances().first().map(|i| {
            json!({
                "instance": i.db_instance_identifier(),
                "status": i.db_instance_status(),
                "class": i.db_instance_class(),
                "engine": i.engine(),
                "endpoint": i.endpoint().and_then(|e| e.address()),
                "port": i.endpoint().and_then(|e| e.port()),
            })
        })),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(describe(&format!("describe instance {id}"), &e)),
    }
}

/// Looks every [`POLL`] until `look` breaks or the step's timeout passes (after a last look);
/// a failing or interrupted run ends the wait in `cut_short`'s words.
async fn wait_for<S, F>(cx: &ActionCx<'_>, look: impl FnMut() -> F, late: impl FnOnce(S) -> String) -> Outcome
where
    F: Future<Output = ControlFlow<Outcome, S>>,
{
    match crate::wake::poll(&cx.waits, POLL, crate::wake::deadline(cx.timeout), look).await {
        Ok(o) => o,
        Err(Unmet::Deadline(seen)) => {
            let mut o = Outcome::fail(late(seen));
            o.timed_out = true;
            o
        }
        Err(Unmet::Settling(_)) => Outcome::fail(crate::actions::cut_short(Woke::Settling)),
        Err(Unmet::Stopped) => Outcome::fail(crate::actions::cut_short(Woke::Cancelled)),
    }
}

/// Waits until the instance reaches `status` (`deleted`: it no longer exists).
async fn wait_instance(c: &Client, id: &str, status: &str, cx: &ActionCx<'_>) -> Outcome {
    wait_for(
        cx,
        || async move {
            let now = match instance(c, id).await {
                Ok(i) => i,
                Err(e) => return Break(Outcome::fail(e)),
            };
            let seen = now.as_ref().and_then(|i| i["status"].as_str().map(String::from));
            match (&now, status) {
                (None, "deleted") => Break(Outcome::ok(json!({ "instance": id, "status": "deleted" }))),
                (Some(i), s) if seen.as_deref() == Some(s) => Break(Outcome::ok(i.clone())),
                (None, _) => Break(Outcome::fail(format!("instance {id} not found"))),
                _ => Continue(seen),
            }
        },
        |seen| {
            format!(
                "instance {id} is still {} after {}; waited for {status}",
                seen.unwrap_or_else(|| "unknown".into()),
                crate::playbook::Duration(cx.timeout)
            )
        },
    )
    .await
}

async fn wait_snapshot(c: &Client, id: &str, cx: &ActionCx<'_>) -> Outcome {
    wait_for(
        cx,
        || async move {
            let out = match c.describe_db_snapshots().db_snapshot_identifier(id).send().await {
                Ok(o) => o,
                Err(e) => return Break(Outcome::fail(describe(&format!("describe snapshot {id}"), &e))),
            };
            let snap = out.db_snapshots().first();
            match snap.and_then(|s| s.status()).unwrap_or("unknown") {
                "available" => Break(Outcome::ok(snap.map(snapshot_json).unwrap_or_default())),
                status => Continue(status.to_string()),
            }
        },
        |status| {
            format!(
                "snapshot {id} is still {status} after {}",
                crate::playbook::Duration(cx.timeout)
            )
        },
    )
    .await
}

fn snapshot_json(s: &aws_sdk_rds::types::DbSnapshot) -> serde_json::Value {
    let created = s.snapshot_create_time().map(|t| t.secs());
    let now = chrono::Utc::now().timestamp();
    json!({
        "id": s.db_snapshot_identifier(),
        "instance": s.db_instance_identifier(),
        "status": s.status(),
        "type": s.snapshot_type(),
        "created_at": created.and_then(|c| chrono::DateTime::from_timestamp(c, 0)).map(|d| d.to_rfc3339()),
        "age_seconds": created.map(|c| now - c),
    })
}

pub async fn execute(spec: &RdsSpec, cx: &ActionCx<'_>) -> Outcome {
    let c = client(cx).await;
    match spec {
        RdsSpec::Describe(d) => match instance(&c, &d.instance).await {
            Ok(Some(i)) => Outcome::ok(i),
            Ok(None) => Outcome::fail(format!("instance {} not found", d.instance)),
            Err(e) => Outcome::fail(e),
        },
        RdsSpec::CreateSnapshot(s) => {
            if let Err(e) = c
                .create_db_snapshot()
                .db_instance_identifier(&s.instance)
                .db_snapshot_identifier(&s.snapshot_id)
                .send()
                .await
            {
                return Outcome::fail(describe(
                    &format!("create snapshot {} of {}", s.snapshot_id, s.instance),
                    &e,
                ));
            }
            wait_snapshot(&c, &s.snapshot_id, cx).await
        }
        RdsSpec::LatestSnapshot(l) => {
            let mut req = c.describe_db_snapshots().db_instance_identifier(&l.instance);
            match l.snapshot_type {
                Some(SnapshotType::Automated) => req = req.snapshot_type("automated"),
                Some(SnapshotType::Manual) => req = req.snapshot_type("manual"),
                _ => {}
            }
            match req.send().await {
                Ok(out) => match out
                    .db_snapshots()
                    .iter()
                    .filter(|s| s.status() == Some("available"))
                    .max_by_key(|s| s.snapshot_create_time().map(|t| t.secs()))
                {
                    Some(s) => Outcome::ok(snapshot_json(s)),
                    None => Outcome::fail(format!("instance {} has no available snapshot", l.instance)),
                },
                Err(e) => Outcome::fail(describe(&format!("list snapshots of {}", l.instance), &e)),
            }
        }
        RdsSpec::RestoreSnapshot(r) => {
            let mut req = c
                .restore_db_instance_from_db_snapshot()
                .db_snapshot_identifier(&r.snapshot_id)
                .db_instance_identifier(&r.instance);
            if let Some(class) = &r.instance_class {
                req = req.db_instance_class(class);
            }
            if let Some(g) = &r.subnet_group {
                req = req.db_subnet_group_name(g);
            }
            if let Err(e) = req.send().await {
                return Outcome::fail(describe(&format!("restore {} to {}", r.snapshot_id, r.instance), &e));
            }
            wait_instance(&c, &r.instance, "available", cx).await
        }
        RdsSpec::DeleteInstance(d) => {
            let skip = d.skip_final_snapshot.unwrap_or(false);
            let mut req = c
                .delete_db_instance()
                .db_instance_identifier(&d.instance)
                .skip_final_snapshot(skip);
            if !skip {
                req = req.final_db_snapshot_identifier(
                    d.final_snapshot_id
                        .clone()
                        .unwrap_or_else(|| format!("{}-final", d.instance)),
                );
            }
            match req.send().await {
                Ok(_) => wait_instance(&c, &d.instance, "deleted", cx).await,
                // The desired state holds already; an undo must be safe to repeat.
                Err(e) if is_not_found(&e) => {
                    Outcome::ok(json!({ "instance": d.instance, "status": "deleted", "already_absent": true }))
                }
                Err(e) => Outcome::fail(describe(&format!("delete instance {}", d.instance), &e)),
            }
        }
        RdsSpec::DeleteSnapshot(s) => match c
            .delete_db_snapshot()
            .db_snapshot_identifier(&s.snapshot_id)
            .send()
            .await
        {
            Ok(_) => Outcome::ok(json!({ "id": s.snapshot_id, "status": "deleted" })),
            Err(e) if is_not_found(&e) => {
                Outcome::ok(json!({ "id": s.snapshot_id, "status": "deleted", "already_absent": true }))
            }
            Err(e) => Outcome::fail(describe(&format!("delete snapshot {}", s.snapshot_id), &e)),
        },
        RdsSpec::Wait(w) => wait_instance(&c, &w.instance, w.status.as_deref().unwrap_or("available"), cx).await,
    }
}
