//! Entry points for the fuzz targets (`fuzz/`) and their replay test: each takes untrusted
//! bytes or text, runs it through the same code as the CLI, and must return, never panic.
//!
//! Nothing here touches the disk but for reads of a playbooks folder that does not exist,
//! so a fuzzer can call these millions of times.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::value::Value;

use crate::compile::{self, Options};
use crate::expr::template::{self, Placeholder, Quoting, Templates};
use crate::plan::{self, Plan};
use crate::playbook::{self, Workspace};

/// The workspace playbooks are compiled in: one strict and one lenient environment, with
/// the `env.vars` keys the shipped playbooks and the test fixtures read.
const WORKSPACE: &str = r##"
default_env: dev
environments:
  prod:
    kube_context: eks-prod
    aws_region: us-east-1
    vars: &vars
      namespace: prod
      app: myapp-backend
      app_host: app.example
      app_url: https://app.example
      argocd_app: myapp-backend-prod
      argocd_server: argocd.example
      backup_bucket: backups
      cluster_name: eks-prod
      db_instance_class: db.r6g.large
      db_subnet_group: myapp-prod-db
      grafana_url: https://grafana.example
      image_repo: registry.example/myapp-backend
      incident_channel: "#incidents"
      kube_context: eks-prod
      min_replicas: 3
      nodegroup: ng-prod
      portfolio_bucket: portfolio
      portfolio_url: https://portfolio.example
      prometheus_url: http://prometheus:9090
      rds_instance: myapp-prod
      region: us-east-1
    policy:
      confirm: [medium, high, critical]
      two_person: [critical]
  dev:
    vars: *vars
    policy: { confirm: [] }
groups:
  sre-leads: [alice, bob]
  engineering-leads: [carol]
  dba: [dave]
contacts:
  people:
    alice: { name: Alice }
    bob: { name: Bob }
  rotation:
    start: 2025-09-29
    shifts: [{ primary: alice, secondary: bob, manager: bob }]
  escalation:
    - { name: L1, notify: [oncall:primary], within: 15m }
    - { name: L2, notify: [bob], within: 30m }
    - { name: L3, notify: [oncall:manager], within: 1h }
    - { name: L4, notify: [alice], risks: [critical] }
  channels:
    incidents: { webhook: { env: SLACK_INCIDENTS_WEBHOOK } }
"##;

/// Where the fuzzed playbook pretends to live; the folder does not exist, so `playbook`
/// actions find no sub-playbooks.
const ROOT: &str = "/nonexistent/runbook-fuzz";

fn workspace() -> Workspace {
    // The text above is fixed and valid; the replay test loads it on every run.
    playbook::workspace_from_bytes(Path::new(ROOT), WORKSPACE.as_bytes().to_vec())
        .unwrap_or_else(|d| panic!("the fuzzing workspace is invalid: {d:?}"))
}

/// What loading and compiling one input came to, for tests that want more than "no panic".
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Environments the playbook compiled in.
    pub compiled: usize,
    /// Diagnostics rendered (errors and warnings, all environments).
    pub diagnostics: usize,
}

/// Loads `bytes` as `playbooks/<name>.yaml`, compiles it for every environment of a fixed
/// workspace (params may be missing, as under `validate`), plans it and renders the plan
/// in every format; every diagnostic on the way is rendered too.
pub fn load_and_compile(name: &str, bytes: &[u8]) -> Summary {
    let ws = workspace();
    let path = ws.playbooks_dir.join(format!("{name}.yaml"));
    let mut summary = Summary::default();
    let mut render = |diags: &[crate::source::Diagnostic]| {
        for d in diags {
            let _ = d.render(false);
            let _ = d.to_string();
            summary.diagnostics += 1;
        }
    };
    let lp = match playbook::read_playbook_bytes(&path, bytes.to_vec()) {
        Ok(lp) => lp,
        Err(diags) => {
            render(&diags);
            return summary;
        }
    };
    let opts = Options {
        env: None,
        params: &[],
        allow_missing_params: true,
    };
    for env in compile::all_envs(&ws) {
        match compile::compile_for(&lp, env, &opts) {
            Ok(c) => {
                render(&compile::check_subplaybooks(&ws, &c));
                render(&c.warnings);
                let plan = Plan::new(c);
                let _ = plan::render_text(&plan);
                let _ = plan::mermaid(&plan);
                let _ = plan::dot(&plan);
                if let Ok(json) = serde_json::to_string(&plan) {
                    // A saved plan is read back by `run --plan`: it must round-trip.
                    if let Ok(back) = serde_json::from_str::<Plan>(&json) {
                        let _ = back.recompute_hash();
                    }
                }
                summary.compiled += 1;
            }
            Err(diags) => render(&diags),
        }
    }
    summary
}

/// Loads `bytes` as a `runbook.yaml` and lists its environments, rendering any diagnostic.
pub fn load_workspace(bytes: &[u8]) {
    match playbook::workspace_from_bytes(Path::new(ROOT), bytes.to_vec()) {
        Ok(ws) => {
            let _ = compile::all_envs(&ws);
            let _ = compile::select_env(&ws, None);
        }
        Err(diags) => {
            for d in diags {
                let _ = d.render(false);
            }
        }
    }
}

/// The context templates are rendered against: params, vars and env as the compiler makes
/// them, and run-time names as placeholders.
fn context() -> Value {
    let serde = |v: serde_json::Value| Value::from(minijinja::value::Serde(v));
    let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
    ctx.insert(
        "params",
        serde(serde_json::json!({
            "version": "v1.2.3", "replicas": 3, "ratio": 0.5, "dry_run": false, "tags": ["a", "b"]
        })),
    );
    ctx.insert(
        "vars",
        serde(serde_json::json!({
            "app": "myapp", "image": "registry.example/myapp:v1.2.3", "nodes": ["n1", "n2"], "limits": { "cpu": 2 }
        })),
    );
    ctx.insert(
        "env",
        serde(serde_json::json!({
            "name": "prod", "vars": { "namespace": "prod" }, "kube_context": null, "aws_region": "us-east-1"
        })),
    );
    for root in ["steps", "run", "result", "value"] {
        ctx.insert(root, Placeholder::value(root, false));
    }
    ctx.insert("secrets", Placeholder::value("secrets", true));
    Value::from(ctx)
}

/// Renders `src` as a template the way the compiler does: its names, plain and shell-quoted
/// output, the typed value of a lone `{{ expr }}`, and the plan's display of run-time parts.
pub fn render_template(src: &str) {
    let t = Templates::new();
    let ctx = context();
    let _ = t.names(src, Quoting::Plain);
    let _ = t.names(src, Quoting::Shell);
    let _ = t.render(src, Quoting::Plain, &ctx);
    let _ = t.render(src, Quoting::Shell, &ctx);
    let _ = t.render_value(src, &ctx);
    let shown = template::mark_runtime_expressions(src, |expr| {
        let names = t.expr_names(expr).ok()?;
        names
            .iter()
            .any(|n| template::RUNTIME_ROOTS.iter().any(|r| n.starts_with(r)))
            .then(|| format!("<{expr}>"))
    });
    let _ = t.render(&shown, Quoting::Plain, &ctx);
}

/// Evaluates `src` as an expression (`when`, `until`, `assert`, ...) against the same
/// context, and its truthiness, as the compiler and the engine read it.
pub fn eval_expression(src: &str) {
    let t = Templates::new();
    let ctx = context();
    let _ = t.expr_names(src);
    if let Ok(v) = t.eval(src, &ctx) {
        let _ = v.is_true();
        let _ = v.to_string();
        let _ = serde_json::to_value(&v);
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::path::PathBuf;

    use super::*;

    /// The files of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`.
    fn inputs(target: &str) -> Vec<PathBuf> {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut files: Vec<PathBuf> = ["corpus", "regressions"]
            .iter()
            .filter_map(|d| std::fs::read_dir(fuzz.join(d).join(target)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    }

    /// Feeds every input through `f`; names each one that panics.
    fn replay(target: &str, f: impl Fn(&[u8])) -> usize {
        let files = inputs(target);
        let panicked: Vec<String> = files
            .iter()
            .filter(|p| {
                let bytes = std::fs::read(p).unwrap_or_default();
                catch_unwind(AssertUnwindSafe(|| f(&bytes))).is_err()
            })
            .map(|p| p.display().to_string())
            .collect();
        assert!(panicked.is_empty(), "these inputs panic: {panicked:#?}");
        files.len()
    }

    #[test]
    fn the_compile_corpus_and_its_crashes_replay_without_a_panic() {
        let n = replay("compile", |b| {
            load_and_compile("fuzz", b);
        });
        assert!(n >= 50, "only {n} inputs: is fuzz/corpus/compile there?");
    }

    #[test]
    fn the_workspace_corpus_and_its_crashes_replay_without_a_panic() {
        let n = replay("workspace", load_workspace);
        assert!(n >= 5, "only {n} inputs: is fuzz/corpus/workspace there?");
    }

    #[test]
    fn the_template_corpus_and_its_crashes_replay_without_a_panic() {
        let n = replay("template", |b| {
            let src = String::from_utf8_lossy(b);
            render_template(&src);
            eval_expression(&src);
        });
        assert!(n >= 50, "only {n} inputs: is fuzz/corpus/template there?");
    }

    #[test]
    fn the_shipped_playbooks_compile_in_the_fuzzing_workspace() {
        // Else the fuzzer would start from inputs that stop at the first unknown env var.
        let seeds = inputs("compile");
        let shipped: Vec<&PathBuf> = seeds
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("playbooks-"))
            })
            .collect();
        assert!(shipped.len() >= 10, "{shipped:?}");
        for p in shipped {
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let bytes = std::fs::read(p).unwrap_or_default();
            let name = name.trim_start_matches("playbooks-");
            assert_eq!(load_and_compile(name, &bytes).compiled, 2, "{}", p.display());
        }
    }
}
