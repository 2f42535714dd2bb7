//! Unit tests of the journal: the hash chain names the first record altered, removed or
//! moved; a torn last line is a crash, not tampering; the state dir's layout and its runs
//! index; and what a journal written by the sink tells `resume`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{JournalSink, Record, StateDir, Verdict, ZERO_HASH, read_past, record_hash, verify_file};
use crate::event::{Event, RunEvent, RunStatus, Sink, StepStatus};
use crate::state::IndexLine;

// --- a chain written by hand, as the writer writes it ---

/// `n` chained records of one run.
fn chain(n: usize) -> Vec<Record> {
    let mut prev = ZERO_HASH.to_string();
    (0..n)
        .map(|i| {
            let mut r = Record::new();
            r.insert("seq".into(), json!(i));
            r.insert("run".into(), json!("r1"));
            r.insert("type".into(), json!("log"));
            r.insert("message".into(), json!(format!("line {i}")));
            r.insert("prev".into(), json!(prev));
            let hash = record_hash(&r);
            r.insert("hash".into(), json!(hash));
            prev = hash;
            r
        })
        .collect()
}

fn text_of(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| format!("{}\n", serde_json::to_string(r).expect("encodes")))
        .collect()
}

/// Writes `text` as a journal and verifies it.
fn verify_text(text: &str) -> Verdict {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("journal.jsonl");
    std::fs::write(&path, text).expect("written");
    verify_file(&path).expect("read")
}

fn broken(v: Verdict) -> (usize, Option<u64>, String) {
    match v {
        Verdict::Broken { line, seq, reason } => (line, seq, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn the_hash_is_sha256_of_the_sorted_compact_json_without_the_hash() {
    let mut r = Record::new();
    r.insert("type".into(), json!("log"));
    r.insert("seq".into(), json!(0));
    r.insert("prev".into(), json!(ZERO_HASH));
    let canonical = format!(r#"{{"prev":"{ZERO_HASH}","seq":0,"type":"log"}}"#);
    let expected = hex::encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(record_hash(&r), expected);
    // The stored hash is not part of what is hashed, whatever it says.
    r.insert("hash".into(), json!("anything"));
    assert_eq!(record_hash(&r), expected);
    r.insert("seq".into(), json!(1));
    assert_ne!(record_hash(&r), expected);
}

#[test]
fn an_intact_chain_verifies_with_its_count() {
    assert_eq!(
        verify_text(&text_of(&chain(4))),
        Verdict::Intact {
            records: 4,
            torn: false
        }
    );
    assert_eq!(
        verify_text(""),
        Verdict::Intact {
            records: 0,
            torn: false
        }
    );
}

#[test]
fn a_changed_record_is_named_by_its_line() {
    let mut records = chain(5);
    records[2].insert("message".into(), json!("something else"));
    let (line, seq, reason) = broken(verify_text(&text_of(&records)));
    assert_eq!((line, seq), (3, Some(2)));
    assert!(reason.contains("does not match its hash"), "{reason}");
}

#[test]
fn a_changed_record_whose_hash_was_recomputed_breaks_the_next_link() {
    let mut records = chain(5);
    records[1].insert("message".into(), json!("rewritten"));
    let rehashed = record_hash(&records[1]);
    records[1].insert("hash".into(), json!(rehashed));
    let (line, seq, reason) = broken(verify_text(&text_of(&records)));
    assert_eq!((line, seq), (3, Some(2)));
    assert!(
        reason.contains("`prev` is not the hash of the record before"),
        "{reason}"
    );
}

#[test]
fn a_removed_record_is_found_where_it_was() {
    let mut records = chain(5);
    records.remove(2);
    let (line, seq, reason) = broken(verify_text(&text_of(&records)));
    assert_eq!((line, seq), (3, Some(3)));
    assert!(reason.contains("sequence number 3 where 2 was expected"), "{reason}");
}

#[test]
fn moved_records_are_found_at_the_first_out_of_place() {
    let mut records = chain(5);
    records.swap(1, 3);
    let (line, seq, _) = broken(verify_text(&text_of(&records)));
    assert_eq!((line, seq), (2, Some(3)));
}

#[test]
fn a_removed_and_renumbered_record_is_still_found_by_its_link() {
    // Renumbering hides the gap in `seq`, and rehashing each record hides the edits:
    // the chain of `prev` still names where the record went missing.
    let mut records = chain(5);
    records.remove(1);
    for (i, r) in records.iter_mut().enumerate() {
        r.insert("seq".into(), json!(i));
        let h = record_hash(r);
        r.insert("hash".into(), json!(h));
    }
    let (line, seq, reason) = broken(verify_text(&text_of(&records)));
    assert_eq!((line, seq), (2, Some(1)));
    assert!(reason.contains("`prev`"), "{reason}");
}

#[test]
fn the_first_record_chains_from_zero() {
    let mut records = chain(2);
    records[0].insert("prev".into(), json!("ab".repeat(32)));
    let h = record_hash(&records[0]);
    records[0].insert("hash".into(), json!(h));
    let (line, _, reason) = broken(verify_text(&text_of(&records)));
    assert_eq!(line, 1);
    assert!(reason.contains("`prev`"), "{reason}");
}

#[test]
fn a_torn_last_line_is_a_crash_not_tampering() {
    let whole = text_of(&chain(3));
    let torn = format!("{whole}{{\"seq\":3,\"run\":\"r1\",\"ty");
    assert_eq!(verify_text(&torn), Verdict::Intact { records: 3, torn: true });
    // The same bytes ended by a newline were written whole: they are a bad record.
    let (line, seq, reason) = broken(verify_text(&format!("{torn}\n")));
    assert_eq!((line, seq, reason.as_str()), (4, None, "not a JSON record"));
    // A line that is not JSON before the last is never a torn tail.
    let lines: Vec<&str> = whole.lines().collect();
    let middle = format!("{}\nnot json\n{}\n", lines[0], lines[2]);
    assert_eq!(broken(verify_text(&middle)).0, 2);
}

// --- the state dir ---

#[test]
fn the_state_dir_lays_out_runs_their_index_and_locks() {
    let s = StateDir::new("/state");
    assert_eq!(s.runs(), Path::new("/state/runs"));
    assert_eq!(s.run_dir("r1"), Path::new("/state/runs/r1"));
    assert_eq!(s.journal("r1"), Path::new("/state/runs/r1/journal.jsonl"));
    assert_eq!(s.index(), Path::new("/state/runs/index.jsonl"));
    assert_eq!(s.locks(), Path::new("/state/locks"));
}

#[test]
fn what_the_state_dir_creates_is_private_to_the_user() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let nested = dir.path().join("a/b");
    StateDir::private_dir(&nested).expect("created");
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&nested), 0o700);
    let file = nested.join("f");
    let mut f = StateDir::append(&file).expect("opened");
    f.write_all(b"one\n").expect("written");
    drop(f);
    assert_eq!(mode(&file), 0o600);
    // Appending keeps what is there.
    StateDir::append(&file)
        .expect("opened")
        .write_all(b"two\n")
        .expect("written");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "one\ntwo\n");
}

fn index_line(run: &str, event: &str, status: Option<&str>, duration_ms: Option<u64>) -> IndexLine {
    IndexLine {
        run: run.into(),
        event: event.into(),
        playbook: (event == "started").then(|| "deploy".into()),
        env: (event == "started").then(|| "prod".into()),
        user: (event == "started").then(|| "alice".into()),
        host: (event == "started").then(|| "h".into()),
        ts: "2026-01-01T00:00:00.000Z".into(),
        status: status.map(String::from),
        duration_ms,
        trigger: None,
    }
}

#[test]
fn the_runs_list_is_newest_first_and_a_later_rollback_keeps_the_duration() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let s = StateDir::new(dir.path());
    s.add_to_index(&index_line("r1", "started", None, None)).expect("index");
    s.add_to_index(&index_line("r2", "started", None, None)).expect("index");
    s.add_to_index(&index_line("r1", "finished", Some("failed"), Some(1500)))
        .expect("index");
    // A line from a crashed write is skipped, not fatal.
    StateDir::append(&s.index())
        .expect("opened")
        .write_all(b"{\"run\":\"r3\",\"eve\n")
        .expect("written");
    s.add_to_index(&index_line("r1", "finished", Some("rolled_back"), None))
        .expect("index");
    let runs = s.list();
    let seen: Vec<(&str, &str, Option<u64>)> = runs
        .iter()
        .map(|r| (r.run.as_str(), r.status.as_str(), r.duration_ms))
        .collect();
    assert_eq!(
        seen,
        vec![("r2", "unfinished", None), ("r1", "rolled_back", Some(1500))]
    );
    assert_eq!(runs[1].playbook, "deploy");
}

#[test]
fn a_run_is_found_by_its_id_or_a_unique_prefix() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let s = StateDir::new(dir.path());
    for run in ["20260101-aaa", "20260101-abb", "20260102-ccc"] {
        s.add_to_index(&index_line(run, "started", None, None)).expect("index");
    }
    assert_eq!(s.find("20260101-aaa"), Ok("20260101-aaa".to_string()));
    assert_eq!(s.find("20260102"), Ok("20260102-ccc".to_string()));
    let many = s.find("20260101-a").expect_err("ambiguous");
    assert!(many.contains("any of 2 runs"), "{many}");
    let none = s.find("2027").expect_err("unknown");
    assert!(none.starts_with("no run `2027`"), "{none}");
}

// --- the sink, and what `resume` reads back ---

fn at(kind: RunEvent) -> Event {
    Event {
        ts: "2026-01-01T00:00:00.000Z".into(),
        kind,
    }
}

fn run_started() -> Event {
    at(RunEvent::RunStarted {
        run: "r1".into(),
        playbook: "deploy".into(),
        file_sha256: "f".into(),
        env: "prod".into(),
        plan_hash: "sha256:one".into(),
        params: Map::new(),
        user: "alice".into(),
        host: "h".into(),
        engine_version: "0".into(),
        dry_run: false,
        trigger: None,
    })
}

fn step_started(step: &str) -> Event {
    at(RunEvent::StepStarted {
        step: step.into(),
        name: step.into(),
        attempt: 1,
        summary: "shell: true".into(),
        item: None,
    })
}

fn step_finished(step: &str, status: StepStatus, outputs: Map<String, Value>) -> Event {
    at(RunEvent::StepFinished {
        step: step.into(),
        status,
        duration_ms: 5,
        exit_code: None,
        error: None,
        outputs,
        tail: Vec::new(),
        undo: None,
    })
}

fn run_finished() -> Event {
    at(RunEvent::RunFinished {
        status: RunStatus::Succeeded,
        exit_code: 0,
        duration_ms: 42,
        remaining_undo: Vec::new(),
    })
}

#[test]
fn the_sink_writes_a_chain_that_verifies_and_indexes_the_run() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(dir.path());
    let mut sink = JournalSink::create(state.clone(), "r1").expect("created");
    for e in [
        run_started(),
        step_started("a"),
        step_finished("a", StepStatus::Ok, Map::new()),
        run_finished(),
    ] {
        sink.event(&e).expect("written");
    }
    let path = state.journal("r1");
    assert_eq!(
        verify_file(&path).expect("read"),
        Verdict::Intact {
            records: 4,
            torn: false
        }
    );
    let text = std::fs::read_to_string(&path).expect("read");
    let first: Record = serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    assert_eq!(first.get("run"), Some(&json!("r1")));
    assert_eq!(first.get("type"), Some(&json!("run_started")));
    assert_eq!(first.get("prev"), Some(&json!(ZERO_HASH)));
    let runs = state.list();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].status.as_str(), runs[0].duration_ms, runs[0].user.as_str()),
        ("succeeded", Some(42), "alice")
    );
}

#[test]
fn a_resumed_journal_drops_its_torn_tail_and_chains_on() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(dir.path());
    let mut sink = JournalSink::create(state.clone(), "r1").expect("created");
    for e in [run_started(), step_started("a")] {
        sink.event(&e).expect("written");
    }
    drop(sink);
    let path = state.journal("r1");
    let whole = std::fs::metadata(&path).expect("exists").len();
    StateDir::append(&path)
        .expect("opened")
        .write_all(b"{\"seq\":2,\"run\":\"r1\",\"type\":\"step_fin")
        .expect("written");

    let past = read_past(&path).expect("a crash is resumable");
    assert_eq!(past.valid_len, whole);
    assert_eq!(past.last_seq, 1);
    assert_eq!(past.in_doubt, vec!["a".to_string()]);
    let mut sink = JournalSink::resume(state.clone(), "r1", &past).expect("resumed");
    sink.event(&step_finished("a", StepStatus::Ok, Map::new()))
        .expect("written");
    assert_eq!(
        verify_file(&path).expect("read"),
        Verdict::Intact {
            records: 3,
            torn: false
        }
    );
}

#[test]
fn the_past_says_which_steps_finished_failed_were_skipped_or_are_in_doubt() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(dir.path());
    let mut sink = JournalSink::create(state.clone(), "r1").expect("created");
    let outputs: Map<String, Value> = [("version".to_string(), json!("v2"))].into_iter().collect();
    let events = [
        run_started(),
        step_started("a"),
        step_finished("a", StepStatus::Ok, outputs.clone()),
        step_started("b"),
        step_started("c"),
        step_finished("c", StepStatus::Failed, Map::new()),
        // Failed before it started (a precondition): its action never ran.
        step_finished("d", StepStatus::Failed, Map::new()),
        at(RunEvent::StepSkipped {
            step: "e".into(),
            reason: "when is false".into(),
        }),
        step_finished("f", StepStatus::Declined, Map::new()),
        at(RunEvent::Resumed {
            run: "r1".into(),
            by: "bob".into(),
            plan_hash: "sha256:two".into(),
            accepted_changes: true,
            rerun: Vec::new(),
            assume_done: Vec::new(),
        }),
    ];
    for e in &events {
        sink.event(e).expect("written");
    }
    let past = read_past(&state.journal("r1")).expect("read");
    assert_eq!(
        (past.playbook.as_str(), past.env.as_str(), past.user.as_str()),
        ("deploy", "prod", "alice")
    );
    assert_eq!(past.plan_hash, "sha256:two", "a resume's plan is the one that counts");
    assert_eq!(past.done, vec![("a".to_string(), outputs)]);
    assert_eq!(past.in_doubt, vec!["b".to_string()]);
    assert_eq!(past.failed, vec!["c".to_string(), "d".to_string()]);
    assert_eq!(past.failed_started, vec!["c".to_string()]);
    assert_eq!(past.skipped, vec!["e".to_string(), "f".to_string()]);
    assert_eq!(past.finished, None);
    assert_eq!(past.last_seq, events.len() as u64 - 1);
    let text = std::fs::read_to_string(state.journal("r1")).expect("read");
    let last: Record = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    assert_eq!(Some(&json!(past.last_hash)), last.get("hash"));
    assert_eq!(past.valid_len, text.len() as u64);
}

#[test]
fn a_tampered_journal_is_not_resumed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = StateDir::new(dir.path());
    let mut sink = JournalSink::create(state.clone(), "r1").expect("created");
    for e in [
        run_started(),
        step_started("a"),
        step_finished("a", StepStatus::Ok, Map::new()),
    ] {
        sink.event(&e).expect("written");
    }
    let path = state.journal("r1");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replacen("\"status\":\"ok\"", "\"status\":\"failed\"", 1)).expect("written");
    let err = read_past(&path).expect_err("tampered");
    assert!(err.contains("does not verify (record on line 3"), "{err}");
}
