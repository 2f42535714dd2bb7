//! Compiler benchmark: load → compile → plan of generated playbooks of 1,000, 10,000 and
//! 100,000 steps. Run with `cargo bench -p runbook --bench compile`; figures go to
//! docs/performance.md. The target: 10,000 steps plan in under 300 ms on 2 cores.

use std::time::{Duration, Instant};

use runbook::compile::{self, Options};
use runbook::plan::Plan;
use runbook::playbook;

/// A playbook shaped like real ones: sequential runs with fan-out branches, templates in
/// commands, rollbacks, outputs read by later steps, conditions and preconditions.
fn generate(n: usize) -> String {
    let mut s = String::with_capacity(n * 200);
    s.push_str("name: gen\nparams:\n  version: { pattern: '^v\\d+$', default: v1 }\n  replicas: { type: integer, default: 3 }\n");
    s.push_str("vars:\n  app: myapp\n  image: \"registry/{{ vars.app }}:{{ params.version }}\"\nsteps:\n");
    for i in 0..n {
        s.push_str(&format!("  - id: s{i}\n    name: Step {i}\n"));
        if i % 10 == 5 && i >= 10 {
            s.push_str(&format!("    needs: [s{}]\n", i - 10));
        }
        match i % 5 {
            0 => s.push_str(&format!(
                "    shell: {{ run: \"echo step {i} {{{{ params.version }}}} {{{{ vars.image }}}}\", read_only: true }}\n    outputs: {{ out: \"{{{{ result.stdout }}}}\" }}\n"
            )),
            1 => s.push_str(&format!(
                "    shell: \"deploy --replicas {{{{ params.replicas }}}} --from {{{{ steps.s{}.out }}}}\"\n    rollback: {{ shell: \"undeploy {{{{ vars.app }}}} {i}\" }}\n",
                i - 1
            )),
            2 => s.push_str(&format!("    when: \"params.replicas > {}\"\n    log: \"step {i} of {{{{ params.version }}}}\"\n", i % 3)),
            3 => s.push_str("    preconditions:\n      - assert: \"params.replicas >= 1\"\n    k8s: { scale: { deployment: \"{{ vars.app }}\", namespace: prod, replicas: 3 } }\n    rollback: auto\n    timeout: 5m\n"),
            _ => s.push_str("    http: { url: \"http://127.0.0.1:9/health\", expect_status: [200] }\n    retry: { attempts: 3, delay: 1s }\n"),
        }
    }
    s
}

fn measure(path: &std::path::Path, rounds: usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut steps = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let lp = match playbook::load_playbook(path) {
            Ok(lp) => lp,
            Err(d) => panic!("generated playbook does not load: {}", d[0]),
        };
        let env = compile::all_envs(&playbook::find_workspace(path.parent().unwrap_or(path)).expect("ws")).remove(0);
        let opts = Options {
            env: None,
            params: &[],
            allow_missing_params: false,
        };
        let compiled = match compile::compile_for(&lp, env, &opts) {
            Ok(c) => c,
            Err(d) => panic!("generated playbook does not compile: {}", d[0]),
        };
        let plan = Plan::new(compiled);
        times.push(start.elapsed());
        steps = plan.steps.len();
    }
    times.sort();
    (times[times.len() / 2], steps)
}

/// Time of each stage for one size, to see where the cost is.
fn stages(path: &std::path::Path) {
    let t = Instant::now();
    let text = std::fs::read_to_string(path).expect("read");
    let node = runbook::yaml::parse(&text).expect("parse");
    let t_parse = t.elapsed();
    let t = Instant::now();
    let (_raw, _errs) = runbook::yaml::from_node_collecting::<playbook::RawPlaybook>(&node);
    let t_de = t.elapsed();
    let lp = playbook::load_playbook(path).expect("load");
    let env = compile::all_envs(&playbook::find_workspace(path.parent().unwrap_or(path)).expect("ws")).remove(0);
    let opts = Options {
        env: None,
        params: &[],
        allow_missing_params: false,
    };
    let t = Instant::now();
    let compiled = compile::compile_for(&lp, env, &opts).expect("compiles");
    let t_compile = t.elapsed();
    let t = Instant::now();
    let plan = Plan::new(compiled);
    let t_plan = t.elapsed();
    let t = Instant::now();
    let _ = serde_json::to_vec(&plan);
    let t_json = t.elapsed();
    let t = Instant::now();
    let _: serde::de::IgnoredAny = serde_saphyr::from_str(&text).expect("parse");
    let t_ignored = t.elapsed();
    println!(
        "  for scale: serde-saphyr into IgnoredAny {:.1} ms · plan to JSON {:.1} ms",
        t_ignored.as_secs_f64() * 1e3,
        t_json.as_secs_f64() * 1e3
    );
    println!(
        "  stages: yaml parse {:.1} ms · typed read {:.1} ms · compile {:.1} ms · plan+hash {:.1} ms",
        t_parse.as_secs_f64() * 1e3,
        t_de.as_secs_f64() * 1e3,
        t_compile.as_secs_f64() * 1e3,
        t_plan.as_secs_f64() * 1e3
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "{:>8}  {:>12}  {:>12}  {:>10}",
        "steps", "median", "per step", "yaml size"
    );
    let mut per_step = Vec::new();
    for (n, rounds) in [(1_000, 15), (10_000, 7), (100_000, 3)] {
        let path = dir.path().join("gen.yaml");
        let text = generate(n);
        std::fs::write(&path, &text).expect("write");
        let (median, steps) = measure(&path, rounds);
        assert_eq!(steps, n);
        let us = median.as_secs_f64() * 1e6 / n as f64;
        if n == 10_000 {
            stages(&path);
        }
        per_step.push(us);
        println!(
            "{n:>8}  {:>9.1} ms  {:>9.2} µs  {:>7.1} MB",
            median.as_secs_f64() * 1e3,
            us,
            text.len() as f64 / 1e6
        );
    }
    println!(
        "per-step cost ratio 100k/1k: {:.2} (1.0 = perfectly linear)",
        per_step[2] / per_step[0]
    );
}
