//! Signed approvals, groups and expiry, through the binary: SSH keys made by `ssh-keygen`,
//! approvals signed by runbook and by OpenSSH, forgeries, the runner's own key, `group:`
//! membership, M-of-N with two people, and approvals that expire.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use runbook_tests::{Output, Workspace};

fn run(w: &Workspace, args: &[&str], user: &str) -> Output {
    runbook_tests::runbook(w.path(), args)
        .envs(&[("RUNBOOK_USER", user)])
        .run()
}

fn ssh_keygen(args: &[&str]) -> Output {
    let program = runbook_tests::on_path("ssh-keygen").expect("ssh-keygen (OpenSSH) is on PATH");
    runbook_tests::run_program(&program, args, Duration::from_secs(30))
}

/// OpenSSH signs the message file `msg` (in the workspace) with `key` in `namespace`: the
/// signature lands in `msg.sig`.
fn openssh_sign(w: &Workspace, key: &std::path::Path, namespace: &str, msg: &str) {
    let signed = ssh_keygen(&[
        "-Y",
        "sign",
        "-q",
        "-f",
        key.to_str().expect("utf-8"),
        "-n",
        namespace,
        w.path().join(msg).to_str().expect("utf-8"),
    ]);
    assert_eq!(signed.code, 0, "{}", signed.transcript());
}

/// Makes an ed25519 key pair `keys/NAME` (and `keys/NAME.pub`) in the workspace.
fn keygen(w: &Workspace, name: &str, passphrase: &str) -> PathBuf {
    let dir = w.path().join("keys");
    std::fs::create_dir_all(&dir).expect("keys dir");
    let key = dir.join(name);
    let out = ssh_keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        passphrase,
        "-C",
        name,
        "-f",
        key.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    key
}

fn public(key: &Path) -> String {
    let text = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let mut parts = text.split_whitespace();
    format!(
        "{} {}",
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default()
    )
}

/// Writes `.runbook/allowed_signers`: one `principal key` line per pair.
fn allow(w: &Workspace, lines: &[(&str, &Path)]) {
    let text: String = lines.iter().map(|(p, k)| format!("{p} {}\n", public(k))).collect();
    std::fs::create_dir_all(w.path().join(".runbook")).expect("state dir");
    std::fs::write(w.path().join(".runbook/allowed_signers"), text).expect("allowed_signers");
}

const WORKSPACE: &str = "default_env: prod
environments:
  prod:
    policy: { confirm: [], two_person: [critical] }
  quick:
    policy: { confirm: [], two_person: [critical] }
    approval_ttl: 1s
approvals:
  allowed_signers: .runbook/allowed_signers
  require_signatures: [high, critical]
groups:
  sre-leads: [alice, bob, carol]
";

const DROP: &str = "name: drop
steps:
  - id: drop
    risk: critical
    approval: { approvers: [group:sre-leads, dave], min: 2 }
    shell: 'echo dropped >> log'
";

/// A workspace with the keys of alice, bob, carol (all in allowed_signers) and mallory (not).
fn setup(playbook: &str) -> (Workspace, Keys) {
    let w = Workspace::new()
        .file("runbook.yaml", WORKSPACE)
        .playbook("drop", playbook);
    let keys = Keys {
        alice: keygen(&w, "alice", ""),
        bob: keygen(&w, "bob", ""),
        carol: keygen(&w, "carol", ""),
        mallory: keygen(&w, "mallory", ""),
    };
    allow(
        &w,
        &[("alice", &keys.alice), ("bob", &keys.bob), ("carol", &keys.carol)],
    );
    (w, keys)
}

struct Keys {
    alice: PathBuf,
    bob: PathBuf,
    carol: PathBuf,
    mallory: PathBuf,
}

fn plan(w: &Workspace, env: &str) {
    let out = run(w, &["plan", "drop", "-e", env, "--out", "plan.json"], "alice");
    assert_eq!(out.code, 0, "{}", out.transcript());
    // The plan says whose approvals count, and that they must be signed.
    assert!(out.stdout.contains(", signed ("), "{}", out.stdout);
}

fn approve(w: &Workspace, who: &str, key: &Path) -> Output {
    run(
        w,
        &[
            "approve",
            "plan.json",
            "--as",
            who,
            "--key",
            key.to_str().expect("utf-8"),
        ],
        who,
    )
}

fn plan_json(w: &Workspace) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(w.path().join("plan.json")).expect("plan")).expect("json")
}

fn dropped(w: &Workspace) -> bool {
    w.path().join("log").exists()
}

#[test]
fn a_signed_saved_plan_runs_and_audit_verify_names_a_forged_approval() {
    let (w, k) = setup(DROP);
    plan(&w, "prod");
    for (who, key) in [("bob", &k.bob), ("carol", &k.carol)] {
        let out = approve(&w, who, key);
        assert_eq!(out.code, 0, "{}", out.transcript());
        assert!(out.stderr.contains("signed by SHA256:"), "{}", out.stderr);
    }
    let saved = plan_json(&w);
    let first = &saved["approvals"][0];
    assert!(
        first["signature"]
            .as_str()
            .unwrap_or_default()
            .starts_with("-----BEGIN SSH SIGNATURE-----"),
        "{saved}"
    );

    let ok = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert!(dropped(&w));
    let gate = w
        .journal()
        .into_iter()
        .find(|r| r["type"] == "gate" && r["kind"] == "approval")
        .expect("a gate record");
    let signed = gate["approvals"].as_array().expect("signed approvals in the journal");
    assert_eq!(signed.len(), 2, "{gate}");
    assert_eq!(signed[0]["approver"], "bob");
    assert_eq!(signed[0]["step"], serde_json::Value::Null);

    let verified = run(&w, &["audit", "verify"], "alice");
    assert_eq!(verified.code, 0, "{}", verified.transcript());
    assert!(
        verified.stdout.contains("2 signed approval(s) verify"),
        "{}",
        verified.stdout
    );

    // Someone edits bob's approval in the journal into dave's and rehashes the chain, which
    // anyone can: the chain verifies, the signature does not.
    let path = w.run_dir().join("journal.jsonl");
    let mut prev = runbook::journal::ZERO_HASH.to_string();
    let mut out = String::new();
    for mut r in w.journal() {
        let serde_json::Value::Object(m) = &mut r else {
            panic!("a record is an object")
        };
        if m.get("type").and_then(|t| t.as_str()) == Some("gate") && m.contains_key("approvals") {
            m["approvals"][0]["approver"] = "dave".into();
            m.insert("by".into(), "dave, carol".into());
        }
        m.insert("prev".into(), prev.clone().into());
        let hash = runbook::journal::record_hash(m);
        m.insert("hash".into(), hash.clone().into());
        prev = hash;
        out.push_str(&serde_json::to_string(&r).expect("json"));
        out.push('\n');
    }
    std::fs::write(&path, out).expect("forge");
    let forged = run(&w, &["audit", "verify"], "alice");
    assert_eq!(forged.code, 1, "{}", forged.transcript());
    assert!(
        forged.stdout.contains("FORGED")
            && forged.stdout.contains("approval #1 by dave")
            && forged.stdout.contains("changed after it was signed"),
        "{}",
        forged.stdout
    );
}

#[test]
fn a_plan_file_edited_after_signing_is_refused_naming_the_approval() {
    let (w, k) = setup(DROP);
    plan(&w, "prod");
    assert_eq!(approve(&w, "bob", &k.bob).code, 0);
    assert_eq!(approve(&w, "carol", &k.carol).code, 0);
    let text = std::fs::read_to_string(w.path().join("plan.json")).expect("plan");

    // carol's approval turned into dave's (dave may approve, by name).
    std::fs::write(
        w.path().join("plan.json"),
        text.replace("\"by\": \"carol\"", "\"by\": \"dave\""),
    )
    .expect("edit");
    let out = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stderr.contains("approval #2 by dave")
            && out
                .stderr
                .contains("does not match what it says: it was changed after it was signed"),
        "{}",
        out.stderr
    );

    // bob's approval made to look later than it was (to outlive its expiry).
    let at = plan_json(&w)["approvals"][0]["at"].as_str().expect("at").to_string();
    std::fs::write(
        w.path().join("plan.json"),
        text.replacen(&format!("\"at\": \"{at}\""), "\"at\": \"2099-01-01T00:00:00Z\"", 1),
    )
    .expect("edit");
    let out = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stderr.contains("approval #1 by bob (given 2099-01-01T00:00:00Z)")
            && out.stderr.contains("changed after it was signed"),
        "{}",
        out.stderr
    );
    assert!(!dropped(&w), "nothing ran");
}

#[test]
fn unknown_keys_other_principals_wrong_namespaces_and_unsigned_approvals_are_refused() {
    let (w, k) = setup(DROP);
    plan(&w, "prod");

    let unknown = approve(&w, "bob", &k.mallory);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    assert!(
        unknown
            .stderr
            .contains("the approval by bob is refused: it was signed by a key not in allowed_signers (SHA256:"),
        "{}",
        unknown.stderr
    );

    let other = approve(&w, "bob", &k.carol);
    assert_eq!(other.code, 2, "{}", other.transcript());
    assert!(
        other
            .stderr
            .contains("belongs to carol in allowed_signers, not to the approver"),
        "{}",
        other.stderr
    );

    let stranger = approve(&w, "dave", &k.mallory);
    assert_eq!(stranger.code, 2, "{}", stranger.transcript());

    // A signature made for git commits does not pass for an approval.
    let msg = run(&w, &["approve", "plan.json", "--as", "bob", "--print-message"], "bob");
    assert_eq!(msg.code, 0, "{}", msg.transcript());
    std::fs::write(w.path().join("msg"), &msg.stdout).expect("msg");
    openssh_sign(&w, &k.bob, "git", "msg");
    let git = run(
        &w,
        &[
            "approve",
            "plan.json",
            "--as",
            "bob",
            "--message",
            "msg",
            "--signature",
            "msg.sig",
        ],
        "bob",
    );
    assert_eq!(git.code, 2, "{}", git.transcript());
    assert!(
        git.stderr
            .contains("made for the namespace `git`, not `runbook-approval`"),
        "{}",
        git.stderr
    );

    // A key with a passphrase, and no agent to ask (an empty SSH_AUTH_SOCK is none).
    let locked = keygen(&w, "locked", "secret passphrase");
    let out = runbook_tests::runbook(
        w.path(),
        [
            "approve",
            "plan.json",
            "--as",
            "bob",
            "--key",
            locked.to_str().expect("utf-8"),
        ],
    )
    .envs(&[("RUNBOOK_USER", "bob"), ("SSH_AUTH_SOCK", "")])
    .run();
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("is encrypted with a passphrase"), "{}", out.stderr);
    assert!(plan_json(&w).get("approvals").is_none(), "nothing was added");

    // Unsigned approvals are stored, and do not count where signatures are required.
    for who in ["bob", "carol"] {
        let out = run(&w, &["approve", "plan.json", "--as", who], who);
        assert_eq!(out.code, 0, "{}", out.transcript());
        assert!(
            out.stderr
                .contains("warning: this approval is not signed, and step `drop` counts only signed approvals"),
            "{}",
            out.stderr
        );
    }
    let out = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("2 signed approval(s) from group:sre-leads, dave, not the runner needed, 0 given")
            && out.stderr.contains("approval #1 by bob")
            && out.stderr.contains("it is not signed"),
        "{}",
        out.stderr
    );
    assert!(!dropped(&w));
}

#[test]
fn openssh_verifies_runbooks_signatures_and_runbook_takes_openssh_signatures() {
    let (w, k) = setup(DROP);
    plan(&w, "prod");

    // runbook signs; ssh-keygen verifies the documented message bytes.
    assert_eq!(approve(&w, "bob", &k.bob).code, 0);
    let a = plan_json(&w)["approvals"][0].clone();
    let message = format!(
        r#"{{"approver":"bob","decision":"approve","plan_hash":"{}","step":null,"time":"{}"}}"#,
        a["hash"].as_str().expect("hash"),
        a["at"].as_str().expect("at")
    );
    std::fs::write(w.path().join("bob.msg"), &message).expect("msg");
    std::fs::write(w.path().join("bob.sig"), a["signature"].as_str().expect("signature")).expect("sig");
    let verified = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-f",
            ".runbook/allowed_signers",
            "-I",
            "bob",
            "-n",
            "runbook-approval",
            "-s",
            "bob.sig",
        ])
        .current_dir(w.path())
        .stdin(std::fs::File::open(w.path().join("bob.msg")).expect("msg"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("ssh-keygen runs");
    assert!(
        verified.status.success(),
        "ssh-keygen -Y verify: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // ssh-keygen signs the statement runbook prints; runbook takes it.
    let msg = run(
        &w,
        &["approve", "plan.json", "--as", "carol", "--print-message"],
        "carol",
    );
    assert_eq!(msg.code, 0, "{}", msg.transcript());
    assert!(
        !msg.stdout.ends_with('\n'),
        "exactly the signed bytes: {:?}",
        msg.stdout
    );
    std::fs::write(w.path().join("carol.msg"), &msg.stdout).expect("msg");
    openssh_sign(&w, &k.carol, "runbook-approval", "carol.msg");
    let took = run(
        &w,
        &[
            "approve",
            "plan.json",
            "--message",
            "carol.msg",
            "--signature",
            "carol.msg.sig",
        ],
        "carol",
    );
    assert_eq!(took.code, 0, "{}", took.transcript());
    let ok = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert!(dropped(&w));
}

#[test]
fn the_runners_own_key_never_approves_their_own_run() {
    // High risk: signatures required, no two-person rule.
    let pb = "name: drop\nsteps:\n  - id: drop\n    risk: high\n    approval: { approvers: [alice, bob] }\n    shell: 'echo dropped >> log'\n";
    let (w, k) = setup(pb);
    plan(&w, "prod");
    assert_eq!(approve(&w, "alice", &k.alice).code, 0);
    let own = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(own.code, 4, "{}", own.transcript());
    assert!(
        own.stderr.contains("approval #1 by alice")
            && own
                .stderr
                .contains("signed with a key of the runner (alice), who never approves their own run"),
        "{}",
        own.stderr
    );
    assert!(!dropped(&w));
    assert_eq!(approve(&w, "bob", &k.bob).code, 0);
    let ok = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(ok.code, 0, "{}", ok.transcript());
}

#[test]
fn groups_min_two_and_two_person_together_then_approvals_expire() {
    let (w, k) = setup(DROP);
    let dave = keygen(&w, "dave", "");
    let erin = keygen(&w, "erin", "");
    allow(
        &w,
        &[
            ("alice", &k.alice),
            ("bob", &k.bob),
            ("carol", &k.carol),
            ("dave", &dave),
            ("erin", &erin),
        ],
    );
    plan(&w, "prod");
    // alice runs: her own approval does not count, erin is in no group.
    for (who, key) in [("alice", &k.alice), ("bob", &k.bob), ("erin", &erin)] {
        assert_eq!(approve(&w, who, key).code, 0, "{who}");
    }
    let short = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(short.code, 4, "{}", short.transcript());
    assert!(
        short.stderr.contains("needed, 1 given") && short.stderr.contains("signed with a key of the runner (alice)"),
        "{}",
        short.stderr
    );
    // dave is named directly: bob and dave make two.
    assert_eq!(approve(&w, "dave", &dave).code, 0);
    let ok = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(ok.code, 0, "{}", ok.transcript());

    // In `quick` approvals count for 1s. Waiting until that second has surely passed (the
    // time recorded is in whole seconds) makes the refusal certain, not lucky.
    std::fs::remove_file(w.path().join("log")).expect("rm log");
    plan(&w, "quick");
    assert_eq!(approve(&w, "bob", &k.bob).code, 0);
    assert_eq!(approve(&w, "carol", &k.carol).code, 0);
    let last = plan_json(&w)["approvals"][1]["at"].as_str().expect("at").to_string();
    let given = chrono::DateTime::parse_from_rfc3339(&last).expect("rfc3339");
    let expired = given + chrono::Duration::seconds(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while chrono::Utc::now() <= expired + chrono::Duration::milliseconds(50) {
        assert!(std::time::Instant::now() < deadline, "the clock does not move");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stderr.contains(&format!(
            "approval #2 by carol (given {last}) expired at {} (approvals count for 1s)",
            expired
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        "{}",
        out.stderr
    );
    assert!(!dropped(&w), "nothing ran");
    // Approving again renews it.
    let again = approve(&w, "bob", &k.bob);
    assert!(
        again.stderr.contains("replacing their earlier approval"),
        "{}",
        again.stderr
    );
}

#[test]
fn an_undefined_group_is_a_compile_error_at_its_place() {
    let pb =
        "name: drop\nsteps:\n  - id: drop\n    approval:\n      approvers: [bob, group:sre-lead]\n    shell: 'true'\n";
    let w = Workspace::new().file("runbook.yaml", WORKSPACE).playbook("drop", pb);
    for args in [&["validate"][..], &["plan", "drop"], &["run", "drop"]] {
        let out = run(&w, args, "alice");
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript());
        assert!(
            out.stderr.contains("undefined group `sre-lead`") && out.stderr.contains("playbooks/drop.yaml:5:"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("sre-leads"), "a suggestion: {}", out.stderr);
    }
    // validate also finds that the allowed_signers file signatures need is missing.
    let out = run(&w, &["validate"], "alice");
    assert!(
        out.stderr
            .contains("approvals.allowed_signers: cannot read the allowed signers"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_running_run_counts_only_signed_decisions() {
    let pb = "name: drop\nsteps:\n  - id: ship\n    risk: critical\n    approval: { approvers: [group:sre-leads], timeout: 60s }\n    shell: 'echo shipped >> log'\n";
    let (w, k) = setup(pb);
    let mut bg = w.runbook(["run", "drop"]).user("alice").start();
    bg.wait_for(|l| l.contains("\"type\":\"log\"") && l.contains("\"message\":\"waiting up to"));
    let id = bg.run_id();
    // Unsigned, and signed by the wrong key: refused or not counted; the run keeps waiting.
    assert_eq!(run(&w, &["approve", &id, "ship", "--as", "bob"], "bob").code, 0);
    let as_bob = |key: &PathBuf| {
        let key = key.to_str().expect("utf-8");
        run(&w, &["approve", &id, "ship", "--as", "bob", "--key", key], "bob")
    };
    let wrong = as_bob(&k.carol);
    assert_eq!(wrong.code, 2, "{}", wrong.transcript());
    // Nothing marks a decision that does not count: the run is watched for a while that
    // spans two of the engine's readings of the decisions (every 300 ms), no event, no end.
    bg.quiet_for(Duration::from_millis(700), "an unsigned decision must not count");
    assert!(
        bg.child.try_wait().expect("poll").is_none(),
        "an unsigned decision must not count"
    );
    let signed = as_bob(&k.bob);
    assert_eq!(signed.code, 0, "{}", signed.transcript());
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());
    let gate = w
        .journal()
        .into_iter()
        .find(|r| r["type"] == "gate")
        .expect("a gate record");
    assert_eq!(gate["approvals"][0]["step"], "ship", "{gate}");
    assert_eq!(gate["approvals"][0]["decision"], "approve", "{gate}");
    let verified = run(&w, &["audit", "verify"], "alice");
    assert_eq!(verified.code, 0, "{}", verified.transcript());
    assert!(
        verified.stdout.contains("1 signed approval(s) verify"),
        "{}",
        verified.stdout
    );
}

/// A private ssh-agent of the test's own, stopped when the test ends.
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a", sock.to_str().expect("utf-8")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        runbook_tests::eventually(Duration::from_secs(10), "ssh-agent makes its socket", || sock.exists());
        Agent { child, sock }
    }

    /// `ssh-add`s keys, answering a passphrase question with `passphrase`.
    fn add(&self, dir: &Path, key: &Path, passphrase: &str) {
        let askpass = dir.join("askpass");
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{passphrase}'\n")).expect("askpass");
        std::fs::set_permissions(&askpass, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .output()
            .expect("ssh-add runs");
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ssh_agent_signs_for_a_public_key_and_for_a_key_with_a_passphrase() {
    let (w, k) = setup(DROP);
    let locked = keygen(&w, "carol-locked", "secret passphrase");
    allow(&w, &[("alice", &k.alice), ("bob", &k.bob), ("carol", &locked)]);
    plan(&w, "prod");
    let agent = Agent::start(w.path());
    agent.add(w.path(), &k.bob, "");
    agent.add(w.path(), &locked, "secret passphrase");
    let sock = agent.sock.to_str().expect("utf-8");
    let bob_pub = k.bob.with_extension("pub");
    for (who, key) in [("bob", bob_pub.as_path()), ("carol", locked.as_path())] {
        let out = runbook_tests::runbook(
            w.path(),
            [
                "approve",
                "plan.json",
                "--as",
                who,
                "--key",
                key.to_str().expect("utf-8"),
            ],
        )
        .envs(&[("RUNBOOK_USER", who), ("SSH_AUTH_SOCK", sock)])
        .run();
        assert_eq!(out.code, 0, "{who}: {}", out.transcript());
    }
    // A key the agent does not hold.
    let out = runbook_tests::runbook(
        w.path(),
        [
            "approve",
            "plan.json",
            "--as",
            "alice",
            "--key",
            k.alice.with_extension("pub").to_str().expect("utf-8"),
        ],
    )
    .envs(&[("RUNBOOK_USER", "alice"), ("SSH_AUTH_SOCK", sock)])
    .run();
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("ssh-agent would not sign with SHA256:"),
        "{}",
        out.stderr
    );
    let ok = run(&w, &["run", "--plan", "plan.json"], "alice");
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert!(dropped(&w));
}
