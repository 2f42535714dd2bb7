//! Runs one `k8s` action: connects, bounds it by the step's timeout, and keeps the undo it
//! captured even when it times out half-way.

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::api::PostParams;

use super::client::{Cluster, connect};
use super::{apply, argocd, nodes, read, rollout};
use crate::cx::{ActionCx, Outcome};
use crate::spec::{ActionKind, ArgocdSpec, K8sSpec, Undo};
use crate::wake::{Unmet, Woke};

/// The undo an action captured, written before the change is sent (a change whose answer is
/// lost is still undone; undoing a change that did not happen restores what already holds).
#[derive(Default)]
pub struct Captured(Mutex<Option<Undo>>);

impl Captured {
    pub fn set(&self, undo: Undo) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(undo);
    }
    fn take(&self) -> Option<Undo> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What an operation gets: the cluster, the step's means, and where to put its undo.
pub struct Op<'a, 'b> {
    pub cluster: Cluster,
    pub cx: &'a ActionCx<'b>,
    pub captured: &'a Captured,
    pub deadline: Instant,
    /// Every write is a server-side dry run (`dryRun=All`): the API server validates and
    /// admits it and persists nothing (`plan --check`).
    pub dry_run: bool,
}

/// How often waits ask again.
pub const POLL: Duration = Duration::from_secs(1);

impl Op<'_, '_> {
    /// The parameters of a create or replace: a dry run when the operation is one.
    pub fn post(&self) -> PostParams {
        PostParams {
            dry_run: self.dry_run,
            ..Default::default()
        }
    }

    /// Looks every [`POLL`] until `look` breaks, the step's deadline passes (after a last
    /// look), or the run is failing or interrupted.
    pub async fn poll<T, S, F>(&self, look: impl FnMut() -> F) -> Result<T, Unmet<S>>
    where
        F: Future<Output = ControlFlow<T, S>>,
    {
        crate::wake::poll(&self.cx.waits, POLL, self.deadline, look).await
    }

    /// The outcome of a poll that ended unmet: timed out, in `says`'s words of what the last
    /// look saw, or cut short.
    pub fn unmet<S>(&self, unmet: Unmet<S>, says: impl FnOnce(S) -> String) -> Outcome {
        match unmet {
            Unmet::Deadline(seen) | Unmet::Settling(seen) => self.timed_out(says(seen)),
            Unmet::Stopped => Outcome::fail(crate::cx::cut_short(Woke::Cancelled)),
        }
    }

    /// The wait ended without what it waited for: at its deadline, or cut short.
    pub fn timed_out(&self, message: String) -> Outcome {
        match self.cx.waits.state() {
            Some(woke) => Outcome::fail(crate::cx::cut_short(woke)),
            None => {
                let mut o = Outcome::fail(message);
                o.timed_out = true;
                o
            }
        }
    }

    /// The step's timeout as written: what is left of it arrives a hair short of `3s`.
    pub fn waited(&self) -> String {
        let tenths = (self.cx.timeout.as_secs_f64() * 10.0).round() as u64;
        crate::playbook::Duration(Duration::from_millis(tenths * 100)).to_string()
    }
}

/// An action that goes through the Kubernetes API.
#[derive(Clone, Copy)]
pub enum Through<'a> {
    K8s(&'a K8sSpec),
    Argocd(&'a ArgocdSpec),
}

impl Through<'_> {
    fn auto_rollback(&self) -> Option<&'static str> {
        match self {
            Through::K8s(s) => s.auto_rollback(),
            Through::Argocd(s) => s.auto_rollback(),
        }
    }
}

pub async fn execute(spec: Through<'_>, cx: &ActionCx<'_>) -> Outcome {
    run(spec, cx, false).await
}

/// The action as a server-side dry run: reads as written, every write with `dryRun=All`, so
/// the API server validates and admits it and nothing changes. For `plan --check`.
pub async fn dry_run(spec: Through<'_>, cx: &ActionCx<'_>) -> Outcome {
    run(spec, cx, true).await
}

async fn run(spec: Through<'_>, cx: &ActionCx<'_>, dry_run: bool) -> Outcome {
    // Every verb captures its undo before it writes: nothing captured, nothing changed.
    let nothing = || spec.auto_rollback().map(|_| Undo::Nothing);
    // ArgoCD may run in another cluster than the one the environment deploys to.
    let context = match spec {
        Through::Argocd(_) => cx.env.argocd.as_ref().and_then(|a| a.context.as_deref()),
        Through::K8s(_) => None,
    };
    let cluster = match connect(context.or(cx.env.kube_context.as_deref())).await {
        Ok(c) => c,
        Err(e) => return Outcome::fail(e).with_undo(nothing()),
    };
    let captured = Captured::default();
    let op = Op {
        cluster,
        cx,
        captured: &captured,
        deadline: crate::wake::deadline(cx.timeout),
        dry_run,
    };
    let work = async {
        let spec = match spec {
            Through::K8s(s) => s,
            Through::Argocd(s) => return argocd::execute(&op, s).await,
        };
        match spec {
            K8sSpec::Get(g) => read::get(&op, g).await,
            K8sSpec::Check(c) => read::check(&op, c).await,
            K8sSpec::Wait(w) => read::wait(&op, w).await,
            K8sSpec::Logs(l) => read::logs(&op, l).await,
            K8sSpec::Scale(s) => rollout::scale(&op, s).await,
            K8sSpec::Restart(d) => rollout::restart(&op, d).await,
            K8sSpec::SetImage(s) => rollout::set_image(&op, s).await,
            K8sSpec::Undo(u) => rollout::undo(&op, u).await,
            K8sSpec::Cordon(n) => nodes::cordon(&op, &n.node, true).await,
            K8sSpec::Uncordon(n) => nodes::cordon(&op, &n.node, false).await,
            K8sSpec::Drain(d) => nodes::drain(&op, d).await,
            K8sSpec::Apply(a) => apply::apply(&op, a).await,
            K8sSpec::Delete(o) => apply::delete(&op, o).await,
            K8sSpec::Revert(r) => apply::revert(&op, r).await,
        }
    };
    // Waits stop at their deadline themselves; this bounds a request the server never answers.
    let outcome = tokio::select! {
        o = tokio::time::timeout(cx.timeout.saturating_add(POLL), work) => o.unwrap_or_else(|_| {
            op.timed_out(format!("the API server did not answer within {}", op.waited()))
        }),
        _ = cx.waits.stopping() => Outcome::fail("interrupted"),
    };
    outcome.with_undo(captured.take().or_else(nothing))
}
