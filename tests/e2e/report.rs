//! `runbook report`: a run's report from its journal and plan alone (Markdown, JSON, HTML),
//! a playbook's history with the trend of its measures, secrets never shown, a journal that
//! does not verify said so, and the HTML rendered by headless Chromium.

use std::path::Path;
use std::time::Duration;

use runbook_tests::{Output, Workspace};

const TOKEN: &str = "hunter2-drill-token-7f3a";

/// A drill: the age of the newest snapshot comes from `age` (the RPO), the restore is gated
/// and has a rollback, a fan-out of two, and a verification that fails when `fail=yes`.
const DRILL: &str = r#"
name: drill
description: A restore drill <with markup>
params:
  age: { type: integer, default: 3600 }
  fail: { type: enum, values: ["no", "yes"], default: "no" }
secrets:
  token: { env: DRILL_TOKEN }
steps:
  - id: latest
    name: Newest snapshot
    shell: { run: "echo {{ params.age }}", read_only: true }
    outputs:
      age_seconds: "{{ result.stdout | trim | int }}"
  - id: announce
    shell: "echo connecting with {{ secrets.token }}"
    outputs:
      said: "{{ result.stdout | trim }}"
  - id: restore
    name: Restore the snapshot
    confirm: "Restore the snapshot now?"
    shell: "echo restored >> log"
    rollback: { shell: "echo undo-restore >> log" }
  - id: fan
    for_each: "['a', 'b']"
    shell: "echo {{ item }}"
  - id: verify
    shell: "echo 'verification failed' >&2; test {{ params.fail }} = no"
measures:
  rto:
    description: restore started until verified
    from: restore.started
    to: verify.finished
    target: 30m
  rpo:
    value: steps.latest.age_seconds
    target: 24h
    on_miss: fail
"#;

const STEPS: [&str; 5] = ["latest", "announce", "restore", "fan", "verify"];

fn drill() -> Workspace {
    Workspace::new().playbook("drill", DRILL)
}

/// Runs the drill as alice, with the restore approved ahead; the run's id.
fn run_drill(w: &Workspace, params: &[&str]) -> (Output, String) {
    run_drill_with(w, params, &[])
}

/// [`run_drill`] with more arguments.
fn run_drill_with(w: &Workspace, params: &[&str], extra: &[&str]) -> (Output, String) {
    let mut args = vec!["run", "drill", "--approve", "restore", "--output", "json"];
    args.extend(extra);
    for p in params {
        args.extend(["-p", p]);
    }
    let out = runbook_tests::runbook(w.path(), &args)
        .envs(&[("DRILL_TOKEN", TOKEN), ("RUNBOOK_USER", "alice")])
        .run();
    let id = out
        .stdout
        .lines()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["type"] == "run_started").then(|| v["run"].as_str().unwrap_or_default().to_string())
        })
        .unwrap_or_else(|| panic!("no run_started:\n{}", out.transcript()));
    (out, id)
}

fn report(w: &Workspace, args: &[&str]) -> Output {
    let mut all = vec!["report"];
    all.extend(args);
    w.run(&all)
}

fn json_report(w: &Workspace, id: &str) -> serde_json::Value {
    let out = report(w, &[id, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
}

#[test]
fn a_drill_runs_report_has_its_header_timeline_gates_outputs_and_measures() {
    let w = drill();
    // A snapshot 25 hours old: the RPO is missed and fails the run.
    let (out, id) = run_drill(&w, &["age=90000"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let journal = w.journal();
    let r = json_report(&w, &id);
    assert_eq!(r["format"], 1);
    let h = &r["header"];
    assert_eq!(h["run"], id.as_str());
    assert_eq!(h["playbook"], "drill");
    assert_eq!(h["description"], "A restore drill <with markup>");
    assert_eq!(h["env"], "default");
    assert_eq!(h["user"], "alice");
    assert!(h.get("trigger").is_none(), "no trigger recorded: {h}");
    assert_eq!(h["outcome"], "measure_missed");
    assert_eq!(h["exit_code"], 1);
    assert_eq!(h["plan_hash"], journal[0]["plan_hash"]);
    assert_eq!(h["plan"], "matches the journal");
    assert_eq!(h["journal"]["verified"], true);
    assert_eq!(h["journal"]["records"], journal.len());
    assert_eq!(h["started"], journal[0]["ts"]);
    assert!(h["duration_ms"].as_u64().is_some(), "{h}");

    let timeline = r["timeline"].as_array().expect("timeline");
    let steps: Vec<&str> = timeline.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(steps, STEPS, "in the order they started");
    for s in timeline {
        assert_eq!(s["status"], "ok", "{s}");
        assert_eq!(s["attempts"], 1, "{s}");
        assert!(
            s["start_ms"].as_u64().is_some() && s["duration_ms"].as_u64().is_some(),
            "{s}"
        );
    }
    let fan = &timeline[3];
    assert_eq!(fan["iterations"], 2);
    assert_eq!(timeline[2]["name"], "Restore the snapshot");

    let gates = r["gates"].as_array().expect("gates");
    assert_eq!(gates.len(), 1, "{gates:?}");
    assert_eq!(gates[0]["step"], "restore");
    assert_eq!(gates[0]["approved"], true);
    assert_eq!(gates[0]["by"], "alice");
    assert_eq!(gates[0]["how"], "--approve");
    assert_eq!(gates[0]["question"], "Restore the snapshot now?");

    let outputs = r["outputs"].as_array().expect("outputs");
    assert!(
        outputs
            .iter()
            .any(|o| o["step"] == "latest" && o["name"] == "age_seconds" && o["value"] == 90000),
        "{outputs:?}"
    );
    let measures = r["measures"].as_array().expect("measures");
    assert_eq!(measures.len(), 2);
    assert_eq!(measures[0]["name"], "rto");
    assert_eq!(measures[0]["met"], true);
    assert_eq!(measures[0]["target_seconds"], 1800.0);
    assert_eq!(measures[1]["name"], "rpo");
    assert_eq!(measures[1]["value_seconds"], 90000.0);
    assert_eq!(measures[1]["met"], false);
    assert_eq!(measures[1]["on_miss"], "fail");
    assert!(
        r["rollbacks"].as_array().is_some_and(Vec::is_empty),
        "{}",
        r["rollbacks"]
    );
    assert_eq!(r["dag"]["waves"].as_array().map(Vec::len), Some(5));

    let md = report(&w, &[&id]);
    assert_eq!(md.code, 0, "{}", md.transcript());
    for needle in [
        "# Run report: drill",
        "| Outcome | **measure_missed** (exit 1) |",
        "| Journal | verified:",
        "## Measures",
        "| rpo |",
        "MISSED (on_miss: fail)",
        "## Timeline",
        "| fan |",
        "## Gates",
        "| restore | confirm | approved | alice | --approve |",
        // Markup from the playbook is text.
        "A restore drill &lt;with markup>",
    ] {
        assert!(md.stdout.contains(needle), "{needle:?} missing in:\n{}", md.stdout);
    }

    let file = w.path().join("report.html");
    let html = report(
        &w,
        &[
            &id[..12],
            "--format",
            "html",
            "--out",
            file.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(html.code, 0, "{}", html.transcript());
    assert!(html.stdout.is_empty(), "--out writes the file, not stdout");
    let page = std::fs::read_to_string(&file).expect("the report file");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<svg class=\"gantt\"") && page.contains("<svg class=\"dag\""));
    assert!(page.contains("Content-Security-Policy"));
    for id in STEPS {
        assert!(page.contains(&format!(">{id}<")), "{id} is not named in the HTML");
    }
    // Self-contained: nothing to fetch, nothing to run.
    for banned in ["<script", "src=", "href=", "http://", "https://", "@import", "url(http"] {
        assert!(!page.contains(banned), "the HTML has {banned:?}");
    }
    assert!(page.contains("A restore drill &lt;with markup&gt;"));
}

#[test]
fn a_rolled_back_runs_report_shows_the_rollbacks_and_the_failure() {
    let w = drill();
    let (out, id) = run_drill(&w, &["fail=yes"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert_eq!(w.lines("log"), vec!["restored", "undo-restore"]);
    let r = json_report(&w, &id);
    assert_eq!(r["header"]["outcome"], "failed");
    let rollbacks = r["rollbacks"].as_array().expect("rollbacks");
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    assert_eq!(rollbacks[0]["step"], "restore");
    assert_eq!(rollbacks[0]["ok"], true);
    assert_eq!(rollbacks[0]["summary"], "shell: echo undo-restore >> log");
    let failures = r["failures"].as_array().expect("failures");
    assert_eq!(failures[0]["what"], "verify");
    assert_eq!(failures[0]["status"], "failed");
    assert!(
        failures[0]["message"].as_str().is_some_and(|m| m.contains("exit")),
        "{failures:?}"
    );
    assert_eq!(failures[0]["tail"][0], "verification failed");
    let verify = r["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|s| s["step"] == "verify"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(verify["status"], "failed");
    let rto = &r["measures"][0];
    assert_eq!(rto["reason"], "not measured: `verify` ended failed");

    let md = report(&w, &[&id]);
    for needle in [
        "## Rollbacks",
        "| restore | shell: echo undo-restore >> log |",
        "| undone |",
        "## Failures",
        "- **verify** failed",
        "verification failed",
    ] {
        assert!(md.stdout.contains(needle), "{needle:?} missing in:\n{}", md.stdout);
    }
    let html = report(&w, &[&id, "--format", "html"]);
    assert!(
        html.stdout.contains("id=\"rollbacks\"") && html.stdout.contains("↺ restore"),
        "{}",
        html.stdout
    );
}

#[test]
fn secrets_never_appear_in_a_report() {
    let w = drill();
    let (_, id) = run_drill(&w, &["fail=yes"]);
    for format in ["md", "json", "html"] {
        let out = report(&w, &[&id, "--format", format]);
        assert_eq!(out.code, 0, "{}", out.transcript());
        assert!(
            !out.stdout.contains(TOKEN),
            "{format} shows the secret:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("***"),
            "{format}: the redacted output is shown as ***"
        );
    }
}

#[test]
fn a_history_shows_the_last_runs_of_a_drill_and_the_trend_of_its_measures() {
    let w = drill();
    let mut ids = Vec::new();
    for age in [100, 200, 300, 400] {
        // The newest as `schedule run-due` starts it: with its trigger.
        let trigger: &[&str] = if age == 400 {
            &["--trigger", "schedule:drill@2027-01-01T03:00:00Z"]
        } else {
            &[]
        };
        let (out, id) = run_drill_with(&w, &[&format!("age={age}")], trigger);
        assert_eq!(out.code, 0, "{}", out.transcript());
        ids.push(id);
    }
    let out = report(&w, &["--playbook", "drill", "--last", "3", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let h: serde_json::Value = serde_json::from_str(&out.stdout).expect("history json");
    let runs: Vec<&str> = h["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["run"].as_str())
        .collect();
    assert_eq!(
        runs,
        ids[1..].iter().map(String::as_str).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(h["runs"][2]["trigger"], "schedule:drill@2027-01-01T03:00:00Z");
    assert!(h["runs"][1].get("trigger").is_none(), "{}", h["runs"][1]);
    for r in h["runs"].as_array().expect("runs") {
        assert_eq!(r["outcome"], "succeeded");
        assert_eq!(r["verified"], true);
        assert_eq!(r["measures"].as_array().map(Vec::len), Some(2));
    }
    let rpo = h["trends"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "rpo"))
        .cloned()
        .expect("an rpo trend");
    assert_eq!(rpo["values"], serde_json::json!([200.0, 300.0, 400.0]));
    assert_eq!((&rpo["met"], &rpo["recorded"]), (&3.into(), &3.into()));
    assert_eq!(rpo["direction"], "worse");
    assert_eq!(
        (&rpo["best"], &rpo["worst"], &rpo["mean"]),
        (&200.0.into(), &400.0.into(), &300.0.into())
    );

    let md = report(&w, &["--playbook", "drill", "--last", "3"]);
    assert_eq!(md.code, 0, "{}", md.transcript());
    assert!(
        md.stdout.contains("# History of drill: the last 3 runs"),
        "{}",
        md.stdout
    );
    assert!(!md.stdout.contains(&ids[0]), "the oldest run is not among the last 3");
    for id in &ids[1..] {
        assert!(md.stdout.contains(id.as_str()), "{id} missing:\n{}", md.stdout);
    }
    assert!(
        md.stdout
            .contains("| rpo | 24h | 3/3 | 3m20s | 6m40s | 5m | worse | ▁▅█ |"),
        "{}",
        md.stdout
    );
    let html = report(&w, &["--playbook", "drill", "--format", "html"]);
    assert_eq!(html.code, 0, "{}", html.transcript());
    assert!(html.stdout.contains("<svg class=\"spark\""), "{}", html.stdout);
    assert!(html.stdout.contains("the last 4 runs"));

    let none = report(&w, &["--playbook", "drll"]);
    assert_eq!(none.code, 2, "{}", none.transcript());
    assert!(none.stderr.contains("did you mean `drill`?"), "{}", none.stderr);
}

#[test]
fn a_report_says_when_the_journal_does_not_verify_and_reads_a_trigger() {
    let w = drill();
    let (_, id) = run_drill(&w, &[]);
    let path = w.run_dir().join("journal.jsonl");
    let text = std::fs::read_to_string(&path).expect("journal");

    // A run started by a schedule records what started it; the chain is rebuilt as the
    // engine would have written it.
    let mut prev = "0".repeat(64);
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut r: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).expect("record");
        if i == 0 {
            r.insert("trigger".into(), "schedule monthly-drill".into());
        }
        r.insert("prev".into(), prev.clone().into());
        let hash = runbook::journal::record_hash(&r);
        r.insert("hash".into(), hash.clone().into());
        prev = hash;
        lines.push(serde_json::to_string(&r).expect("json"));
    }
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let r = json_report(&w, &id);
    assert_eq!(r["header"]["trigger"], "schedule monthly-drill");
    assert_eq!(r["header"]["journal"]["verified"], true);

    // Now a record changed after the fact.
    let tampered =
        std::fs::read_to_string(&path)
            .expect("journal")
            .replacen("\"user\":\"alice\"", "\"user\":\"mallory\"", 1);
    std::fs::write(&path, tampered).expect("write");
    let out = report(&w, &[&id]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("does not verify"), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("**NOT VERIFIED**: DOES NOT VERIFY: record on line 1"),
        "{}",
        out.stdout
    );
    let html = report(&w, &[&id, "--format", "html"]);
    assert!(
        html.stdout.contains("This run's journal does not verify"),
        "{}",
        html.stdout
    );

    let unknown = report(&w, &["nosuchrun"]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    let usage = report(&w, &[&id, "--last", "3"]);
    assert_eq!(usage.code, 2, "--last goes with --playbook: {}", usage.transcript());
}

/// Headless Chromium, as CI installs it (Debian's `chromium-headless-shell`).
fn chromium() -> std::path::PathBuf {
    runbook_tests::on_path("chromium-headless-shell").unwrap_or_else(|| {
        panic!("this test needs chromium-headless-shell on PATH: scripts/test installs it (apt-get install chromium-headless-shell)")
    })
}

/// Opens `page` in a fresh headless Chromium with `extra` flags, logging what it loads.
fn browse(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    let url = format!("file://{}", page.display());
    let profile = format!("--user-data-dir={}", profile.display());
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        // The network is closed: no background connections, updates or sync.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--hide-scrollbars",
        profile.as_str(),
        // Every file it loads (FileURLLoader::Start) and every console message (a blocked
        // load, a refused script) goes to stderr.
        "--enable-logging=stderr",
        "--v=1",
    ];
    args.extend(extra);
    args.push(&url);
    runbook_tests::run_program(&chromium(), &args, Duration::from_secs(90))
}

/// What the browser log says went wrong loading `page`: loads of anything but the page
/// itself, console messages (a load the page's policy blocked), network errors.
fn load_problems(log: &str, page: &Path) -> Vec<String> {
    let own = format!("FileURLLoader::Start: file://{}", page.display());
    log.lines()
        .filter(|l| {
            (l.contains("FileURLLoader::Start:") && !l.ends_with(&own))
                || l.contains(":CONSOLE")
                || l.contains("net::ERR_")
                || l.contains("Failed to load")
        })
        .map(String::from)
        .collect()
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let w = drill();
    let (out, id) = run_drill(&w, &["fail=yes"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let page = w.path().join("report.html");
    let written = report(
        &w,
        &[&id, "--format", "html", "--out", page.to_str().unwrap_or_default()],
    );
    assert_eq!(written.code, 0, "{}", written.transcript());

    // The DOM as the browser built it names every step.
    let dom = browse(&page, &w.path().join("profile-dom"), &["--dump-dom"]);
    assert_eq!(dom.code, 0, "{}", dom.transcript());
    assert!(dom.stdout.contains("<svg class=\"gantt\""), "{}", dom.stdout);
    for step in STEPS {
        assert!(
            dom.stdout.contains(&format!(">{step}<")),
            "the DOM does not name {step}:\n{}",
            dom.stdout
        );
    }
    let problems = load_problems(&dom.stderr, &page);
    assert!(
        problems.is_empty(),
        "resource loads failed or were blocked: {problems:#?}"
    );

    // The screenshot is not blank: the status colours of the timeline are on it.
    let shot = w.path().join("report.png");
    let flag = format!("--screenshot={}", shot.display());
    let taken = browse(
        &page,
        &w.path().join("profile-shot"),
        &[&flag, "--window-size=1200,1400"],
    );
    assert_eq!(taken.code, 0, "{}", taken.transcript());
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).map(|p| &p[..3]).collect();
    assert!(pixels.len() >= 1200 * 1000, "{}x{}", info.width, info.height);
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 6);
    let count = |c: [u8; 3]| pixels.iter().filter(|p| near(p, c)).count();
    assert!(pixels.iter().any(|p| *p != pixels[0]), "the screenshot is one colour");
    // ok (green), failed (red), rollback (purple): bars and badges, far more than stray pixels.
    for (what, colour) in [
        ("ok", [0x1a, 0x7f, 0x37]),
        ("failed", [0xcf, 0x22, 0x2e]),
        ("rollback", [0x82, 0x50, 0xdf]),
    ] {
        let n = count(colour);
        assert!(n >= 100, "only {n} pixels of the {what} colour on the screenshot");
    }
    assert!(load_problems(&taken.stderr, &page).is_empty(), "{}", taken.stderr);

    // The check above finds a failed load when there is one (else it proves nothing).
    let broken = w.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><img src=\"missing.png\"></body></html>",
    )
    .expect("write");
    let control = browse(&broken, &w.path().join("profile-control"), &["--dump-dom"]);
    assert!(
        !load_problems(&control.stderr, &broken).is_empty(),
        "a page that loads a missing image went unnoticed:\n{}",
        control.stderr
    );
}
