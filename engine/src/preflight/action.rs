//! How the preflight checks one action: what it can never run (a person, a message, a
//! change), what waits on an earlier step's result, and the rest run for real (read-only) or
//! as a server-side dry run (Kubernetes writes), bounded by the action's timeout.

use std::time::Duration;

use serde_json::Value as Json;

use super::check::Pass;
use super::model::{How, Status, Verdict};
use super::reads;
use crate::actions::{ActionCx, Outcome};
use crate::compile::PlannedAction;
use crate::spec::{Action, Effect};

impl Pass<'_> {
    /// Checks one action (of a step or a precondition), with the loop variable's binding.
    pub(super) async fn action(
        &self,
        step: &str,
        a: &PlannedAction,
        binding: &Option<(String, Json)>,
        timeout: Duration,
        before: Option<&str>,
        message: Option<&str>,
    ) -> (Verdict, Option<Outcome>) {
        let not = |why: &str| (Verdict::not_checked(why), None);
        match &a.spec {
            Action::Playbook(_) => {
                let why = match self.plan.subplans.get(step.split('[').next().unwrap_or(step)) {
                    Some(sub) if sub.complete => "a sub-playbook: its steps are checked below",
                    Some(_) => "a sub-playbook whose params are known only when it runs",
                    None => "a sub-playbook whose name is known only when it runs",
                };
                return not(why);
            }
            Action::Manual(_) => return not("a person does it (manual)"),
            Action::Input(_) => return not("asks a person for a value when it runs"),
            Action::Notify(_) => return not("external: it sends a message"),
            Action::Log(_) => {
                let v = Verdict {
                    status: Status::Ready,
                    message: "a log line".into(),
                    until: None,
                    how: None,
                };
                return (v, None);
            }
            Action::Wait(d) => {
                let v = Verdict {
                    status: Status::Ready,
                    message: format!("a pause of {d} (not waited in a check)"),
                    until: None,
                    how: None,
                };
                return (v, None);
            }
            _ => {}
        }
        if let Some(what) = a.spec.unsupported() {
            return not(&format!("this build has no {what}"));
        }
        let k8s_write = matches!(a.spec, Action::K8s(_) | Action::Argocd(_)) && a.effect != Effect::ReadOnly;
        if !k8s_write && a.effect != Effect::ReadOnly {
            return not(&format!("{} (a check never runs it)", a.effect.as_str()));
        }
        if let Err(until) = self.known(&reads::in_action(&self.t, a)) {
            return (Verdict::unknown(&until, "it reads its result"), None);
        }
        // What it reads may be what an earlier step changes: only its run can tell. An
        // expression reads no system, and a write is dry-run (its failure is taken below).
        let pure = matches!(a.spec, Action::Assert(_));
        if let (Some(w), false, false) = (before, pure, k8s_write) {
            return (Verdict::unknown(w, format!("it reads what {w} changes")), None);
        }
        let extra: Vec<(&str, Json)> = binding.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let spec = match self.rt.render_action(a, &extra) {
            Ok(s) => s,
            Err(e) => return (Verdict::fail(None, e), None),
        };
        let how = if k8s_write {
            How::DryRun
        } else if pure {
            How::Evaluated
        } else {
            How::Ran
        };
        let eval = |expr: &str, more: &[(&str, Json)]| {
            let mut all = extra.clone();
            all.extend(more.iter().cloned());
            self.rt.eval(expr, &all)
        };
        // A check's log lines are not shown: it reports one line per step.
        let log = |_: String| {};
        let cx = ActionCx {
            step,
            doc: None,
            workdir: self.workdir.clone(),
            timeout,
            waits: self.waits.clone(),
            http: &self.http,
            eval: &eval,
            log: &log,
            prompter: &self.prompter,
            redact: &self.redactor,
            inputs: &self.inputs,
            env: &self.plan.env,
            run_id: &self.run_id,
            sealed: &self.sealed,
        };
        let work = async {
            if k8s_write {
                dry_run(&spec, &cx).await
            } else {
                spec.execute(&cx, message).await
            }
        };
        // The action keeps its own timeout; this bounds one that would not (a request that
        // never answers), a little after it.
        let o = match tokio::time::timeout(timeout.saturating_add(Duration::from_secs(1)), work).await {
            Ok(o) => o,
            Err(_) => Outcome::fail(format!("timed out after {}", crate::playbook::Duration(timeout))),
        };
        if self.waits.stopped() {
            return (Verdict::not_checked("interrupted"), None);
        }
        let summary = spec.summary();
        if o.ok {
            let what = match how {
                How::DryRun => "server-side dry run admitted",
                How::Evaluated => "holds",
                How::Ran => "ran",
            };
            return (Verdict::ready(how, format!("{what}: {summary}")), Some(o));
        }
        let error = o.error.clone().unwrap_or_else(|| "failed".into());
        match before {
            // The write may need what an earlier step makes (a namespace, a scaled deployment).
            Some(w) if k8s_write => (
                Verdict::unknown(w, format!("its dry run fails before {w} has run: {error}")),
                Some(o),
            ),
            _ => (Verdict::fail(Some(how), error), Some(o)),
        }
    }
}

#[cfg(feature = "k8s")]
async fn dry_run(spec: &Action, cx: &ActionCx<'_>) -> Outcome {
    match spec {
        Action::K8s(k) => crate::k8s::dry_run(crate::k8s::Through::K8s(k), cx).await,
        Action::Argocd(a) => crate::k8s::dry_run(crate::k8s::Through::Argocd(a), cx).await,
        other => Outcome::fail(format!("`{}` has no dry run", other.verb())),
    }
}

#[cfg(not(feature = "k8s"))]
async fn dry_run(_: &Action, _: &ActionCx<'_>) -> Outcome {
    Outcome::fail("this build has no Kubernetes client")
}
