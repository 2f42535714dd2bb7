//! `Action::execute`: hands each action to its kind's runtime (the Kubernetes and AWS clients
//! among them), or says what this build lacks.

use super::{ActionCx, Outcome};
use crate::spec::Action;
#[cfg(feature = "aws")]
use crate::spec::Undo;

impl Action {
    /// Runs the action. `message` is the step's failure text for `assert`.
    pub async fn execute(&self, cx: &ActionCx<'_>, message: Option<&str>) -> Outcome {
        match self {
            Action::Shell(s) => s.execute(cx).await,
            Action::Exec(s) => s.execute(cx).await,
            Action::Http(s) => until_stopped(cx, s.execute(cx)).await,
            Action::Prometheus(s) => until_stopped(cx, s.execute(cx)).await,
            Action::Wait(d) => d.execute(cx).await,
            Action::Manual(s) => s.execute(cx).await,
            Action::Input(s) => s.execute(cx).await,
            Action::Notify(s) => until_stopped(cx, s.execute(cx)).await,
            Action::Assert(e) => e.execute(cx, message),
            Action::Log(l) => l.execute(cx),
            // `run` refuses plans with these before anything runs (see `unsupported`); the
            // engine runs sub-playbooks itself.
            // Its undo follows from the spec alone (delete what it creates), known before it runs.
            #[cfg(feature = "aws")]
            Action::Rds(s) => super::rds_client::execute(s, cx)
                .await
                .with_undo(s.undo().map(|u| Undo::Run(Box::new(Action::Rds(u))))),
            #[cfg(not(feature = "aws"))]
            Action::Rds(_) => Outcome::fail("this build has no AWS RDS client"),
            #[cfg(feature = "k8s")]
            Action::K8s(s) => crate::k8s::execute(crate::k8s::Through::K8s(s), cx).await,
            #[cfg(feature = "k8s")]
            Action::Argocd(s) => crate::k8s::execute(crate::k8s::Through::Argocd(s), cx).await,
            #[cfg(not(feature = "k8s"))]
            Action::K8s(_) | Action::Argocd(_) => Outcome::fail("this build has no Kubernetes client"),
            Action::Playbook(_) => Outcome::fail(format!("this build cannot run `{}` actions", self.key())),
        }
    }
}

/// A request that holds nothing to clean up: dropped when the run is interrupted.
async fn until_stopped(cx: &ActionCx<'_>, work: impl std::future::Future<Output = Outcome>) -> Outcome {
    tokio::select! {
        o = work => o,
        _ = cx.waits.stopping() => Outcome::fail("interrupted"),
    }
}
