//! `rds` actions through aws-sdk-rds against a moto server started by the test: describe,
//! snapshots, restore, delete, waits, `rollback: auto`, and failure modes.

use runbook_tests::servers::Moto;
use runbook_tests::{Output, Workspace};

fn run(w: &Workspace, moto: &Moto, args: &[&str]) -> Output {
    runbook_tests::runbook(w.path(), args).envs(&moto.env()).run()
}

const CREATE: &str = "rds.create_db_instance(DBInstanceIdentifier='myapp-prod', DBInstanceClass='db.t3.micro', Engine='postgres', MasterUsername='u', MasterUserPassword='password123', AllocatedStorage=20)";
const STATE: &str = "print(json.dumps([sorted(i['DBInstanceIdentifier'] for i in rds.describe_db_instances()['DBInstances']), sorted(s['DBSnapshotIdentifier'] for s in rds.describe_db_snapshots(SnapshotType='manual')['DBSnapshots'])]))";

#[test]
fn a_drill_restores_a_snapshot_and_a_failure_undoes_it() {
    let moto = Moto::start();
    moto.boto3(CREATE);
    let pb = r#"name: drill
params:
  fail: { type: boolean, default: false }
steps:
  - id: source
    rds: { describe: { instance: myapp-prod } }
    outputs: { status: "{{ result.status }}" }
  - id: snap
    rds: { create-snapshot: { instance: myapp-prod, snapshot_id: drill-snap } }
    rollback: auto
  - id: latest
    rds: { latest-snapshot: { instance: myapp-prod, snapshot_type: manual } }
    outputs: { id: "{{ result.id }}", age: "{{ result.age_seconds }}" }
  - id: rpo
    assert: "steps.latest.age | int < 3600"
  - id: restore
    rds: { restore-snapshot: { snapshot_id: "{{ steps.latest.id }}", instance: myapp-drill } }
    rollback: auto
  - id: verify
    rds: { wait: { instance: myapp-drill } }
    outputs: { endpoint: "{{ result.endpoint }}" }
  - id: maybe-fail
    shell: "test {{ params.fail }} = false"
"#;
    let w = Workspace::new().playbook("drill", pb);
    let failed = run(&w, &moto, &["run", "drill", "-p", "fail=true", "--output", "json"]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    assert!(
        failed.stdout.contains("\"step\":\"latest\"") && failed.stdout.contains("\"id\":\"drill-snap\""),
        "{}",
        failed.stdout
    );
    // The restored instance and the drill snapshot are gone again; the source is untouched.
    assert_eq!(moto.boto3(STATE).trim(), r#"[["myapp-prod"], []]"#);
    assert!(
        failed.stderr.contains("↺ restore undone") && failed.stderr.contains("↺ snap undone"),
        "{}",
        failed.stderr
    );

    let ok = run(&w, &moto, &["run", "drill"]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(
        moto.boto3(STATE).trim(),
        r#"[["myapp-drill", "myapp-prod"], ["drill-snap"]]"#
    );
}

#[test]
fn rds_failures_are_clear() {
    let moto = Moto::start();
    moto.boto3(CREATE);
    let w = Workspace::new()
        .playbook("missing", "name: missing\nsteps:\n  - id: d\n    rds: { describe: { instance: nope } }\n")
        .playbook("slow", "name: slow\nsteps:\n  - id: w\n    timeout: 3s\n    rds: { wait: { instance: myapp-prod, status: deleted } }\n")
        .playbook(
            "drop",
            "name: drop\nsteps:\n  - id: drop\n    confirm: true\n    rds: { delete-instance: { instance: myapp-prod, skip_final_snapshot: true } }\n",
        )
        .playbook("badsnap", "name: badsnap\nsteps:\n  - id: r\n    rds: { restore-snapshot: { snapshot_id: no-such-snap, instance: x } }\n    rollback: auto\n");
    let missing = run(&w, &moto, &["run", "missing"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("instance nope not found"), "{}", missing.stderr);
    let slow = run(&w, &moto, &["run", "slow"]);
    assert_eq!(slow.code, 1);
    assert!(
        slow.stderr.contains("instance myapp-prod is still available after")
            && slow.stderr.contains("waited for deleted"),
        "{}",
        slow.stderr
    );
    let bad = run(&w, &moto, &["run", "badsnap"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("restore no-such-snap to x: DBSnapshotNotFound"),
        "{}",
        bad.stderr
    );
    // delete-instance is irreversible: without a yes it does not run.
    let refused = run(&w, &moto, &["run", "drop"]);
    assert_eq!(refused.code, 4);
    assert!(moto.boto3(STATE).contains("myapp-prod"));
    let dropped = run(&w, &moto, &["run", "drop", "--approve", "drop"]);
    assert_eq!(dropped.code, 0, "{}", dropped.transcript());
    assert_eq!(moto.boto3(STATE).trim(), "[[], []]");
}
