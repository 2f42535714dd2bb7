//! Engine overhead: 1,000 sequential `/bin/true` steps run by the engine, against a plain
//! shell script running the same 1,000 commands, in one run. Run with
//! `cargo bench -p runbook --bench overhead`; figures go to docs/performance.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runbook::approve::{Gatekeeper, Prompter};
use runbook::compile::{self, Options};
use runbook::exec::{Emitter, Engine, RunInfo, RunOptions};
use runbook::plan::Plan;
use runbook::playbook;

const STEPS: usize = 1000;
const ROUNDS: usize = 5;

/// Which journal the engine writes: none, one without fsync, or the real one.
#[derive(Clone, Copy, PartialEq)]
enum Journal {
    None,
    NoFsync,
    Fsync,
}

fn engine_once(dir: &std::path::Path, name: &str) -> Duration {
    engine_with(dir, name, Journal::None)
}

fn engine_with(dir: &std::path::Path, name: &str, journal: Journal) -> Duration {
    let lp = playbook::load_playbook(&dir.join(format!("playbooks/{name}.yaml"))).expect("loads");
    let ws = playbook::find_workspace(dir).expect("workspace");
    let opts = Options {
        env: None,
        params: &[],
        allow_missing_params: false,
    };
    let plan = Plan::new(compile::compile(&ws, &lp, &opts).expect("compiles"));
    let run = RunInfo {
        id: "bench".into(),
        user: "bench".into(),
        host: "bench".into(),
        started_at: String::new(),
        playbook: name.into(),
        env: "default".into(),
        file_sha256: String::new(),
        trigger: None,
    };
    let gates = Gatekeeper {
        approved: Default::default(),
        prompter: Arc::new(Prompter::nobody()),
        user: "bench".into(),
        saved: None,
        live: None,
        policy: Arc::new(runbook::approve::ApprovalPolicy::empty()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    let status = rt.block_on(async {
        let sinks: Vec<Box<dyn runbook::exec::Sink>> = match journal {
            Journal::None => Vec::new(),
            j => {
                let state = runbook::journal::StateDir::new(dir.join(format!("state-{}", std::process::id())));
                let id = format!("bench-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                vec![Box::new(
                    runbook::journal::JournalSink::create(state, &id)
                        .expect("journal")
                        .with_fsync(j == Journal::Fsync),
                )]
            }
        };
        let engine = Engine::new(
            plan,
            &run,
            Default::default(),
            gates,
            RunOptions {
                workdir: dir.to_path_buf(),
                inputs: Default::default(),
                signals: runbook::wake::Signals::new(Duration::from_secs(10)),
                webhooks: Default::default(),
            },
            Emitter::new(sinks, Arc::new(runbook::redact::Redactor::default())),
        );
        engine.run().await
    });
    let took = start.elapsed();
    assert_eq!(status.exit_code(), 0);
    took
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The disk's own cost of one durable append: write a journal-sized line and fsync it.
fn bare_fsync(dir: &std::path::Path, n: usize) -> Duration {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fsync-probe"))
        .expect("probe");
    let line = [b'x'; 400];
    let start = Instant::now();
    for _ in 0..n {
        f.write_all(&line).expect("write");
        f.sync_data().expect("fsync");
    }
    start.elapsed()
}

fn script_once(dir: &std::path::Path) -> Duration {
    let start = Instant::now();
    let ok = std::process::Command::new("sh")
        .arg(dir.join("seq.sh"))
        .status()
        .expect("sh")
        .success();
    assert!(ok);
    start.elapsed()
}

/// Runs a task runner (go-task, just) on the same 1,000 commands, when one is installed.
fn runner_once(program: &std::path::Path, args: &[&str], dir: &std::path::Path) -> Duration {
    let start = Instant::now();
    let ok = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("task runner")
        .success();
    assert!(ok, "{} failed", program.display());
    start.elapsed()
}

/// A task runner's binary: `$VAR` (e.g. the real binary behind a pyenv shim, which would
/// add a script's start to every round), else the name on the PATH.
fn runner(var: &str, name: &str) -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(p.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 1,000 sequential `shell: /bin/true` steps, direct and through `sh`, with and without the
/// durable journal, against the script and the task runners, interleaved in one run.
fn shell_steps(dir: &std::path::Path) {
    let task = runner("GO_TASK", "task");
    let just = runner("JUST", "just");
    let mut rows: Vec<(&str, Vec<Duration>)> = [
        "shell script (sh, one process per command)",
        "runbook shell, direct, no journal",
        "runbook shell, direct, durable journal",
        "runbook shell, through sh, durable journal",
        "go-task",
        "just",
    ]
    .into_iter()
    .map(|n| (n, Vec::new()))
    .collect();
    for _ in 0..ROUNDS {
        rows[0].1.push(script_once(dir));
        rows[1].1.push(engine_with(dir, "direct", Journal::None));
        rows[2].1.push(engine_with(dir, "direct", Journal::Fsync));
        rows[3].1.push(engine_with(dir, "via_sh", Journal::Fsync));
        if let Some(t) = &task {
            rows[4]
                .1
                .push(runner_once(t, &["--taskfile", "Taskfile.yml", "seq"], dir));
        }
        if let Some(j) = &just {
            rows[5].1.push(runner_once(j, &["--justfile", "justfile", "seq"], dir));
        }
    }
    let script = median(rows[0].1.clone());
    let us = |d: Duration| d.as_secs_f64() * 1e6 / STEPS as f64;
    println!("{STEPS} sequential `/bin/true` commands, median of {ROUNDS} interleaved rounds:");
    println!("  {:<45} {:>9} {:>13} {:>9}", "", "per step", "over script", "ratio");
    for (name, times) in rows {
        if times.is_empty() {
            println!("  {name:<45} (not installed: set GO_TASK / JUST or put it on the PATH)");
            continue;
        }
        let m = median(times);
        println!(
            "  {name:<45} {:>6.0} µs {:>+10.0} µs {:>9.2}",
            us(m),
            us(m) - us(script),
            m.as_secs_f64() / script.as_secs_f64()
        );
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("playbooks")).expect("mkdir");
    // `seq`: plain steps. `chain`: each step's command reads the previous step's result
    // through a template rendered at run time.
    let mut seq = String::from("name: seq\nconcurrency: 1\nsteps:\n");
    let mut chain = String::from("name: chain\nconcurrency: 1\nsteps:\n");
    let mut sh = String::new();
    // `shell` steps: a line of plain words starts its program directly; a trailing `;`
    // (shell syntax) sends the same command through `sh -c`, as every line went before.
    let mut direct = String::from("name: direct\nconcurrency: 1\nsteps:\n");
    let mut via_sh = String::from("name: via_sh\nconcurrency: 1\nsteps:\n");
    let mut taskfile = String::from("version: '3'\ntasks:\n  seq:\n    silent: true\n    cmds:\n");
    let mut justfile = String::from("seq:\n");
    for i in 0..STEPS {
        direct.push_str(&format!("  - id: s{i}\n    shell: /bin/true\n    risk: low\n"));
        via_sh.push_str(&format!("  - id: s{i}\n    shell: /bin/true;\n    risk: low\n"));
        taskfile.push_str("      - /bin/true\n");
        justfile.push_str("    @/bin/true\n");
        seq.push_str(&format!("  - id: s{i}\n    exec: [/bin/true]\n    risk: low\n"));
        let arg = if i == 0 {
            "0".to_string()
        } else {
            format!("{{{{ steps.s{}.exit_code }}}}", i - 1)
        };
        chain.push_str(&format!(
            "  - id: s{i}\n    exec: [/bin/true, \"{arg}\"]\n    risk: low\n"
        ));
        sh.push_str("/bin/true 0\n");
    }
    std::fs::write(dir.path().join("playbooks/seq.yaml"), seq).expect("write");
    std::fs::write(dir.path().join("playbooks/chain.yaml"), chain).expect("write");
    std::fs::write(dir.path().join("seq.sh"), sh).expect("write");
    std::fs::write(dir.path().join("playbooks/direct.yaml"), direct).expect("write");
    std::fs::write(dir.path().join("playbooks/via_sh.yaml"), via_sh).expect("write");
    std::fs::write(dir.path().join("Taskfile.yml"), taskfile).expect("write");
    std::fs::write(dir.path().join("justfile"), justfile).expect("write");

    shell_steps(dir.path());

    // Interleaved rounds, so all three see the same machine load.
    let (mut plain, mut templated, mut script) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        script.push(script_once(dir.path()));
        plain.push(engine_once(dir.path(), "seq"));
        templated.push(engine_once(dir.path(), "chain"));
    }
    let (p, t, s) = (median(plain), median(templated), median(script));

    // The journal: the same 1,000 steps with no journal, a journal without fsync, and the
    // real one (each step's `step_started` is fsync'd before it runs), interleaved.
    let (mut none, mut nofsync, mut fsync, mut bare) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        none.push(engine_with(dir.path(), "seq", Journal::None));
        nofsync.push(engine_with(dir.path(), "seq", Journal::NoFsync));
        fsync.push(engine_with(dir.path(), "seq", Journal::Fsync));
        bare.push(bare_fsync(dir.path(), STEPS));
    }
    let (jn, jw, jf, bf) = (median(none), median(nofsync), median(fsync), median(bare));
    let us = |d: Duration| d.as_secs_f64() * 1e6 / STEPS as f64;
    println!("journal, {STEPS} sequential steps (median of {ROUNDS}):");
    println!("  no journal:            {:>8.1} µs per step", us(jn));
    println!(
        "  journal, no fsync:     {:>8.1} µs per step (+{:.1})",
        us(jw),
        us(jw) - us(jn)
    );
    println!(
        "  journal with fsync:    {:>8.1} µs per step (+{:.1})",
        us(jf),
        us(jf) - us(jn)
    );
    println!("  bare write+fsync:      {:>8.1} µs per call", us(bf));
    println!(
        "  journal cost per step / bare fsync: without fsync {:.2}, with fsync {:.2}",
        (us(jw) - us(jn)) / us(bf),
        (us(jf) - us(jn)) / us(bf)
    );

    // Parallel scheduling: 16 independent `sleep 0.5` steps at concurrency 16 and 4.
    for c in [16, 4] {
        let mut par = format!("name: par{c}\nconcurrency: {c}\nsteps:\n");
        for i in 0..16 {
            par.push_str(&format!(
                "  - id: s{i}\n    needs: []\n    exec: [sleep, '0.5']\n    risk: low\n"
            ));
        }
        std::fs::write(dir.path().join(format!("playbooks/par{c}.yaml")), par).expect("write");
        let wall = median((0..3).map(|_| engine_once(dir.path(), &format!("par{c}"))).collect());
        println!(
            "16 independent `sleep 0.5` steps at concurrency {c:>2}: {:.3} s wall",
            wall.as_secs_f64()
        );
    }

    let per_step = |d: Duration| d.as_secs_f64() * 1e6 / STEPS as f64;
    println!("{STEPS} sequential /bin/true, median of {ROUNDS} interleaved rounds:");
    println!(
        "  shell script:              {:>8.1} ms  ({:.0} µs per command)",
        s.as_secs_f64() * 1e3,
        per_step(s)
    );
    println!(
        "  runbook, plain steps:      {:>8.1} ms  ({:.0} µs per step)",
        p.as_secs_f64() * 1e3,
        per_step(p)
    );
    println!(
        "  runbook, templated steps:  {:>8.1} ms  ({:.0} µs per step)",
        t.as_secs_f64() * 1e3,
        per_step(t)
    );
    println!(
        "  overhead per step: plain {:.0} µs (ratio {:.2}), templated {:.0} µs (ratio {:.2})",
        per_step(p) - per_step(s),
        p.as_secs_f64() / s.as_secs_f64(),
        per_step(t) - per_step(s),
        t.as_secs_f64() / s.as_secs_f64()
    );
}
