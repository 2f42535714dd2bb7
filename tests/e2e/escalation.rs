//! Escalation on the on-call contacts: a gate nobody answers notifies the escalation levels
//! in turn (a recording HTTP server stands in for Slack and the pager), an answer stops it,
//! a signal stops it cleanly, an unattended gate escalates nothing, and a bad `contacts:`
//! section is an error at its file:line:col.

use std::time::Duration;

use expectrl::{Eof, Expect};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use runbook_tests::webhooks::{Received, Webhooks};
use runbook_tests::{Background, Workspace, exit_code, of_type};

/// The token in the webhooks' addresses: it must never reach the journal or the output.
const TOKEN: &str = "T0KEN-s3cr3t-9f8e7d";

/// A workspace whose contacts escalate L1 (the on-call primary, alice) → L2 (dave) → L3 (the
/// rotation's manager, carol), with `within`s of `l1` and `l2`, then L4 (vp) for critical
/// steps only. `playbook` is `gated`.
fn workspace(l1: &str, l2: &str, playbook: &str) -> Workspace {
    let runbook = format!(
        r#"contacts:
  timezone: Europe/Berlin
  people:
    alice: {{ name: Alice Primary, phone: "+1-555-0101", slack: "@alice" }}
    bob: {{ name: Bob Second, slack: "@bob" }}
    carol: {{ name: Carol Manager, phone: "+1-555-0200", slack: "@carol" }}
    dave: {{ name: Dave Lead, slack: "@dave" }}
    vp: {{ name: Vera President }}
  rotation:
    start: 2020-01-06
    every: 1w
    shifts:
      - {{ primary: alice, secondary: bob, manager: carol }}
  escalation:
    - {{ name: L1, notify: [oncall:primary], within: {l1} }}
    - {{ name: L2, notify: [dave], within: {l2} }}
    - {{ name: L3, notify: [oncall:manager], within: 60s }}
    - {{ name: L4, notify: [vp], risks: [critical] }}
  channels:
    incidents: {{ webhook: {{ env: TEST_INCIDENTS_WEBHOOK }} }}
  pager: {{ env: TEST_PAGER_WEBHOOK }}
"#
    );
    Workspace::new()
        .file("runbook.yaml", &runbook)
        .playbook("gated", playbook)
}

/// An approval nobody but bob may give, escalating to #incidents.
const GATED: &str = r#"name: gated
steps:
  - id: ship
    risk: medium
    approval: { approvers: [bob], timeout: 120s }
    escalate: { channel: incidents }
    shell: 'echo shipped >> log'
"#;

fn env(hooks: &Webhooks) -> Vec<(&'static str, String)> {
    vec![
        ("RUNBOOK_USER", "alice".to_string()),
        (
            "TEST_INCIDENTS_WEBHOOK",
            hooks.url(&format!("/slack/incidents/{TOKEN}")),
        ),
        ("TEST_PAGER_WEBHOOK", hooks.url(&format!("/page/{TOKEN}"))),
    ]
}

fn start(w: &Workspace, args: &[&str], env: &[(&'static str, String)]) -> Background {
    w.runbook(args).envs(env).start()
}

fn slack(hooks: &Webhooks) -> Vec<String> {
    hooks
        .posts_to(&format!("/slack/incidents/{TOKEN}"))
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn pages(hooks: &Webhooks) -> Vec<serde_json::Value> {
    hooks
        .posts_to(&format!("/page/{TOKEN}"))
        .iter()
        .map(Received::json)
        .collect()
}

fn approve(w: &Workspace, id: &str, step: &str, who: &str) {
    w.runbook(["approve", id, step, "--as", who]).user(who).success().run();
}

#[test]
fn an_unanswered_approval_escalates_level_by_level_to_the_right_people_until_approved() {
    let hooks = Webhooks::start();
    let w = workspace("1s", "1s", GATED);

    // The plan shows the chain: L4 is for critical steps only, and `ship` is medium.
    let plan = w.run(&["plan", "gated"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert!(
        plan.stdout
            .contains("escalates L1 oncall:primary (1s) → L2 dave (1s) → L3 oncall:manager (1m) · #incidents"),
        "{}",
        plan.stdout
    );

    let mut bg = start(&w, &["run", "gated"], &env(&hooks));
    // The last level (L3) is notified, and the gate keeps waiting.
    bg.wait_for(|l| l.contains(r#""type":"escalated""#) && l.contains(r#""level":"L3""#));
    assert!(bg.child.try_wait().expect("poll").is_none(), "the gate stopped waiting");
    let id = bg.run_id();
    approve(&w, &id, "ship", "bob");
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    assert_eq!(w.lines("log"), ["shipped"]);

    // Slack, in order: who, which step, which run, how to answer.
    let texts = slack(&hooks);
    assert_eq!(texts.len(), 3, "{texts:#?}");
    for (text, (level, who)) in texts.iter().zip([("L1", "@alice"), ("L2", "@dave"), ("L3", "@carol")]) {
        assert!(text.starts_with(&format!("[{level}]")), "{text}");
        assert!(text.contains(who), "{level} should name {who}: {text}");
        assert!(text.contains("step `ship`"), "{text}");
        assert!(text.contains(&format!("runbook approve {id} ship --as NAME")), "{text}");
    }
    // The pager, in order, with the people's phones.
    let pages = pages(&hooks);
    let levels: Vec<&str> = pages.iter().map(|p| p["level"].as_str().unwrap_or_default()).collect();
    assert_eq!(levels, ["L1", "L2", "L3"]);
    assert_eq!(pages[0]["people"][0]["name"], "Alice Primary");
    assert_eq!(pages[0]["people"][0]["phone"], "+1-555-0101");
    assert_eq!(pages[1]["people"][0]["name"], "Dave Lead");
    assert_eq!(pages[2]["people"][0]["name"], "Carol Manager");
    assert_eq!(pages[2]["run"], id.as_str());
    assert_eq!(pages[2]["step"], "ship");
    // Each level came only after the one before it had its `within`.
    let waited: Vec<u64> = pages
        .iter()
        .map(|p| p["waited_seconds"].as_u64().unwrap_or(99))
        .collect();
    assert!(waited[0] < 1 && waited[1] >= 1 && waited[2] >= 2, "{waited:?}");

    // The journal: three escalations in order, then the approval.
    let journal = w.journal();
    let escalated = of_type(&journal, "escalated");
    let names: Vec<&str> = escalated
        .iter()
        .map(|e| e["level"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["L1", "L2", "L3"]);
    assert_eq!(escalated[0]["notified"][0], "Alice Primary (@alice, +1-555-0101)");
    assert_eq!(escalated[1]["notified"][0], "Dave Lead (@dave)");
    assert_eq!(escalated[2]["delivered"], serde_json::json!(["#incidents", "pager"]));
    assert_eq!(escalated[2]["last"], true);
    let seq = |kind: &str| journal.iter().position(|r| r["type"] == kind).expect(kind);
    assert!(seq("escalated") < seq("gate"));
    assert_eq!(of_type(&journal, "gate")[0]["by"], "bob");
    let show = w.run(&["audit", "show", &id]);
    assert_eq!(show.code, 0, "{}", show.transcript());
    assert!(
        show.stdout
            .contains("⇡ ship unanswered: escalated to L2 (Dave Lead (@dave)) via #incidents, pager"),
        "{}",
        show.stdout
    );
    let report = w.run(&["report", &id]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    assert!(
        report.stdout.contains("Escalations while gates waited")
            && report
                .stdout
                .contains("| ship | L2 | Dave Lead (@dave) | #incidents, pager |"),
        "{}",
        report.stdout
    );
    let verify = w.run(&["audit", "verify", &id]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    // The webhooks' addresses hold a token: never written down.
    let text = std::fs::read_to_string(w.run_dir().join("journal.jsonl")).expect("journal");
    assert!(!text.contains(TOKEN), "the webhook token reached the journal");
    assert!(!bg.lines.concat().contains(TOKEN) && !bg.stderr().contains(TOKEN));
}

#[test]
fn an_answer_stops_the_escalation_and_an_incident_playbook_is_announced() {
    let hooks = Webhooks::start();
    let playbook = r#"name: gated
risk: medium
escalate: { channel: incidents, after: 1s }
steps:
  - id: look
    shell: 'echo looked >> log'
  - id: ship
    approval: { approvers: [bob], timeout: 120s }
    shell: 'echo shipped >> log'
"#;
    // L1 has a minute: the answer comes long before L2 would.
    let w = workspace("60s", "1s", playbook);
    let plan = w.run(&["plan", "gated"]);
    assert!(
        plan.stdout
            .contains("incident: announced in #incidents; waiting steps escalate after 1s: L1 oncall:primary (1m) → L2 dave (1s) → L3 oncall:manager (1m) → L4 vp"),
        "{}",
        plan.stdout
    );
    let mut bg = start(&w, &["run", "gated"], &env(&hooks));
    bg.wait_for(|l| l.contains(r#""type":"escalated""#) && l.contains(r#""level":"L1""#));
    let id = bg.run_id();
    approve(&w, &id, "ship", "bob");
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());

    // The run is over: whatever was sent is all there is.
    let texts = slack(&hooks);
    assert!(texts[0].starts_with("Incident: gated started by alice"), "{texts:#?}");
    assert!(texts[0].contains("On call: Alice Primary"), "{texts:#?}");
    assert_eq!(texts.len(), 2, "only the announcement and L1: {texts:#?}");
    assert!(texts[1].starts_with("[L1]"), "{texts:#?}");
    // `after: 1s`: nobody was paged in the step's first second.
    let pages = pages(&hooks);
    assert_eq!(pages.len(), 1);
    assert!(pages[0]["waited_seconds"].as_u64() >= Some(1), "{}", pages[0]);
    let journal = w.journal();
    assert_eq!(of_type(&journal, "escalated").len(), 1);
    let announced = of_type(&journal, "incident_announced");
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0]["channel"], "incidents");
    assert!(announced[0].get("failed").is_none(), "{}", announced[0]);
    // A step that waits for nobody escalates nothing.
    assert!(of_type(&journal, "escalated").iter().all(|e| e["step"] == "ship"));
}

#[test]
fn a_signal_while_escalating_stops_the_run_cleanly() {
    let hooks = Webhooks::start();
    let w = workspace("1s", "60s", GATED);
    let mut bg = start(&w, &["run", "gated"], &env(&hooks));
    bg.wait_for(|l| l.contains(r#""type":"escalated""#) && l.contains(r#""level":"L2""#));
    kill(Pid::from_raw(bg.child.id() as i32), Signal::SIGINT).expect("signal");
    assert_eq!(bg.finish(), 130, "{}", bg.stderr());

    let journal = w.journal();
    let kinds: Vec<&str> = journal.iter().map(|r| r["type"].as_str().unwrap_or_default()).collect();
    let escalated = of_type(&journal, "escalated");
    assert_eq!(escalated.len(), 2, "{kinds:?}");
    assert_eq!(of_type(&journal, "interrupted")[0]["signal"], "SIGINT");
    let skipped = of_type(&journal, "step_skipped");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted"),
        "{kinds:?}"
    );
    assert_eq!(journal.last().expect("records")["status"], "interrupted");
    assert!(w.lines("log").is_empty(), "the step ran");
    assert_eq!(pages(&hooks).len(), 2, "no level after the signal");
}

#[test]
fn a_question_at_the_terminal_escalates_until_the_operator_answers() {
    let hooks = Webhooks::start();
    let playbook = "name: gated\nsteps:\n  - id: ship\n    confirm: Ship it?\n    escalate: { channel: incidents }\n    shell: 'echo shipped >> log'\n";
    let w = workspace("60s", "1s", playbook);
    let mut s = w.runbook(["run", "gated"]).envs(&env(&hooks)).terminal();
    s.expect("Ship it?").expect("the question is shown");
    // Asked at the runner's terminal: L1 is told where the question waits.
    let l1 = hooks.wait_for(Duration::from_secs(20), |r| r.path.starts_with("/slack/"));
    let text = l1.json()["text"].as_str().unwrap_or_default().to_string();
    assert!(text.starts_with("[L1]") && text.contains("@alice"), "{text}");
    assert!(text.contains("waits at the terminal of alice"), "{text}");
    s.send("y").expect("answer");
    // Held while the question was open (it must not be torn), then shown.
    s.expect("escalated to L1").expect("the terminal says who was told");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 0);
    assert_eq!(w.lines("log"), ["shipped"]);
    assert_eq!(slack(&hooks).len(), 1, "{:#?}", slack(&hooks));
    let journal = w.journal();
    assert_eq!(of_type(&journal, "escalated").len(), 1);
    assert_eq!(of_type(&journal, "gate")[0]["how"], "terminal");
}

#[test]
fn a_manual_step_escalates_until_the_operator_says_done() {
    let hooks = Webhooks::start();
    let playbook = "name: gated\nsteps:\n  - id: failover\n    manual: Promote the replica in the console\n    escalate: { channel: incidents, levels: [L2] }\n";
    let w = workspace("60s", "60s", playbook);
    let mut s = w.runbook(["run", "gated"]).envs(&env(&hooks)).terminal();
    s.expect("Done?").expect("the operator is asked");
    // `levels: [L2]`: only the lead is told, and told what waits.
    let page = hooks.wait_for(Duration::from_secs(20), |r| r.path.starts_with("/page/"));
    let page = page.json();
    assert_eq!(page["level"], "L2", "{page}");
    assert_eq!(page["people"][0]["name"], "Dave Lead", "{page}");
    assert!(
        page["text"].as_str().unwrap_or_default().contains("an operator's step"),
        "{page}"
    );
    s.send("y").expect("answer");
    s.expect(Eof).expect("the run ends");
    assert_eq!(exit_code(&s), 0);
    let journal = w.journal();
    let escalated = of_type(&journal, "escalated");
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0]["step"], "failover");
    assert_eq!(escalated[0]["last"], true);
}

#[test]
fn a_gate_that_fails_closed_escalates_nothing() {
    let hooks = Webhooks::start();
    let playbook = "name: gated\nsteps:\n  - id: ship\n    confirm: Ship it?\n    escalate: { channel: incidents }\n    shell: 'echo shipped >> log'\n";
    let w = workspace("1s", "1s", playbook);
    w.runbook(["run", "gated", "--non-interactive"])
        .envs(&env(&hooks))
        .status(4)
        .run();
    assert!(hooks.received().is_empty(), "{:#?}", hooks.received());
    assert!(of_type(&w.journal(), "escalated").is_empty());
}

#[test]
fn contacts_shows_who_is_on_call_and_the_chain() {
    let w = workspace("15m", "30m", GATED);
    let out = w.run(&["contacts", "--at", "2026-03-02T10:00:00Z"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains("primary    Alice Primary (@alice, +1-555-0101)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("L2   Dave Lead (@dave) · within 30m"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("only for critical risk"), "{}", out.stdout);
    assert!(
        out.stdout.contains("webhook from TEST_INCIDENTS_WEBHOOK (NOT SET)"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_bad_contacts_file_is_an_error_at_its_line_and_column() {
    let contacts = r#"contacts:
  people:
    alice: { name: Alice }
    bob: { name: Bob }
  rotation:
    start: 2020-01-06
    shifts:
      - { primary: alice, secondary: alice }
  escalation:
    - { name: L1, notify: [alice], within: soon }
    - { name: L2, notify: [bobby] }
  channels:
    incidents: { description: no webhook }
  pagr: { env: PAGER }
"#;
    let w = Workspace::new()
        .file("runbook.yaml", "contacts: { file: config/contacts.yaml }\n")
        .file("config/contacts.yaml", contacts)
        .playbook("gated", GATED);
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    for (place, what) in [
        ("config/contacts.yaml:10:44", "soon"),
        ("config/contacts.yaml:13:16", "webhook"),
        ("config/contacts.yaml:14:3", "pagr"),
    ] {
        assert!(
            out.stderr.contains(&format!("error: {place}")) && out.stderr.contains(what),
            "expected an error at {place} about {what}:\n{}",
            out.stderr
        );
    }
    // Once the file reads, what it says is checked: people, roles, overlaps.
    let fixed = contacts
        .replace("within: soon", "within: 15m")
        .replace(
            "incidents: { description: no webhook }",
            "incidents: { webhook: { env: HOOK } }",
        )
        .replace("  pagr: { env: PAGER }\n", "");
    let w = w.file("config/contacts.yaml", &fixed);
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("error: config/contacts.yaml:8:38"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("overlap"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: config/contacts.yaml:11:28: unknown person `bobby`"),
        "{}",
        out.stderr
    );

    // An `escalate` naming a channel the contacts lack: an error in the playbook.
    let fixed = fixed
        .replace("secondary: alice", "secondary: bob")
        .replace("[bobby]", "[bob]");
    let w = w
        .file("config/contacts.yaml", &fixed)
        .playbook("gated", &GATED.replace("channel: incidents", "channel: incident"));
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("error: playbooks/gated.yaml:6:26: unknown channel `incident`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("incidents"), "a did-you-mean: {}", out.stderr);

    // Fixed, the file is the workspace's contacts.
    let w = w.playbook("gated", GATED);
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let out = w.run(&["contacts", "--at", "2026-03-02T10:00:00Z"]);
    assert!(
        out.stdout.starts_with("contacts from config/contacts.yaml"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("L2   Bob · last level"), "{}", out.stdout);
}

#[test]
fn escalate_in_a_workspace_without_contacts_is_a_warning_and_the_playbook_still_runs() {
    let playbook = "name: gated\nescalate: { channel: incidents }\nsteps:\n  - id: ship\n    confirm: Ship it?\n    shell: 'echo shipped >> log'\n";
    let w = Workspace::new().playbook("gated", playbook);
    let out = w.run(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr.contains("warning[escalate-without-contacts]") || out.stderr.contains("escalate-without-contacts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("playbooks/gated.yaml:2:11"), "{}", out.stderr);
    assert_eq!(w.run(&["validate", "--strict"]).code, 2);
    let out = w.run(&["run", "gated", "--approve", "ship"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(w.lines("log"), ["shipped"]);
}
