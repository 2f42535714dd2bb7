//! The shipped monthly DR drill, started by its schedule: `runbook schedule run-due --now`
//! at the `monthly-dr-drill` firing runs the shipped `dr-drill` playbook against moto —
//! newest automated snapshot, restore, wait, teardown — and its report shows the RTO and
//! RPO measured, in seconds, each met.
//!
//! The drill's checks (`pg_isready`, then `psql` runs the check query) reach a real PostgreSQL:
//! moto gives the instances its port, and libpq's `PGHOSTADDR` sends the endpoint's name,
//! which resolves nowhere, to 127.0.0.1.

use runbook_tests::servers::{Moto, Postgres};
use runbook_tests::{Workspace, repo_root};
use serde_json::Value;

const SETUP: &str = r#"
ec2 = boto3.client('ec2', endpoint_url=rds.meta.endpoint_url, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f'10.0.{i}.0/24', AvailabilityZone=f'us-east-1{z}')['Subnet']['SubnetId'] for i, z in enumerate('ab')]
rds.create_db_subnet_group(DBSubnetGroupName='myapp-staging-db', DBSubnetGroupDescription='staging', SubnetIds=subnets)
rds.create_db_instance(DBInstanceIdentifier='myapp-prod', DBInstanceClass='db.r6g.large', Engine='postgres', MasterUsername='u', MasterUserPassword='password123', AllocatedStorage=20, BackupRetentionPeriod=7, Port=PORT)
print(json.dumps([s['DBSnapshotIdentifier'] for s in rds.describe_db_snapshots(DBInstanceIdentifier='myapp-prod', SnapshotType='automated')['DBSnapshots']]))
"#;

const INSTANCES: &str =
    "print(json.dumps(sorted(i['DBInstanceIdentifier'] for i in rds.describe_db_instances()['DBInstances'])))";

/// The shipped workspace, with the shipped `monthly-dr-drill` schedule as its one schedule
/// (the shipped db-backup schedule is due at the same hour and has its own tests).
fn shipped_drill_workspace() -> Workspace {
    let root = repo_root();
    let config = std::fs::read_to_string(root.join("runbook.yaml")).expect("runbook.yaml");
    let mut doc: Value = serde_saphyr::from_str(&config).expect("runbook.yaml reads");
    let drill: Vec<Value> = doc["schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .filter(|s| s["name"] == "monthly-dr-drill")
        .cloned()
        .collect();
    assert_eq!(drill.len(), 1, "runbook.yaml schedules the monthly DR drill");
    doc["schedules"] = Value::Array(drill);
    let mut w = Workspace::new().file("runbook.yaml", &serde_saphyr::to_string(&doc).expect("YAML"));
    for entry in std::fs::read_dir(root.join("playbooks")).expect("playbooks") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name").to_string();
        w = w.file(
            &format!("playbooks/{name}"),
            &std::fs::read_to_string(&path).expect("a playbook"),
        );
    }
    w
}

#[test]
fn the_scheduled_dr_drill_runs_against_moto_and_its_report_shows_rto_and_rpo_met() {
    let moto = Moto::start();
    let pg = Postgres::start();
    pg.psql("postgres", "create database myapp");
    pg.psql(
        "myapp",
        "create table schema_migrations (version text); insert into schema_migrations values ('20261115090000')",
    );
    let snapshots = moto.boto3(&SETUP.replace("PORT", &pg.port.to_string()));
    assert!(
        snapshots.contains("rds:myapp-prod-"),
        "moto made an automated snapshot: {snapshots}"
    );
    let (port, _hook) = crate::run::http_server(4);
    let w = shipped_drill_workspace();
    let mut env = moto.env();
    env.extend(pg.env());
    env.push(("SLACK_WEBHOOK_URL", format!("http://127.0.0.1:{port}/services/T0/B0/X")));
    let runbook = |args: &[&str]| runbook_tests::runbook(w.path(), args).envs(&env).run();

    let listed = runbook(&["schedule", "list", "--from", "2027-01-01T00:00:00Z", "--next", "1"]);
    assert!(
        listed
            .stdout
            .contains("monthly-dr-drill  playbook dr-drill · env staging")
            && listed.stdout.contains("2027-01-01T03:00:00Z"),
        "{}",
        listed.transcript()
    );

    // Five minutes after the firing of 1 January, 03:00 UTC.
    let due = runbook(&["schedule", "run-due", "--now", "2027-01-01T03:05:00Z"]);
    assert_eq!(due.code, 0, "{}", due.transcript());
    assert!(
        due.stdout
            .contains("monthly-dr-drill: firing 2027-01-01T03:00:00Z started")
            && due
                .stdout
                .contains("monthly-dr-drill: firing 2027-01-01T03:00:00Z succeeded"),
        "{}",
        due.transcript()
    );

    let runs: Value = serde_json::from_str(&runbook(&["runs", "--format", "json"]).stdout).expect("runs as JSON");
    let run = &runs[0];
    assert_eq!(run["playbook"], "dr-drill");
    assert_eq!(run["trigger"], "schedule:monthly-dr-drill@2027-01-01T03:00:00Z");
    let id = run["run"].as_str().expect("a run id").to_string();

    // The drill instance was restored, checked and torn down; the source is untouched.
    assert_eq!(moto.boto3(INSTANCES).trim(), r#"["myapp-prod"]"#);
    let journal = w.journal();
    let finished = |step: &str| {
        journal
            .iter()
            .any(|e| e["type"] == "step_finished" && e["step"] == step && e["status"] == "ok")
    };
    for step in [
        "latest",
        "rpo",
        "drill-free",
        "restore",
        "available",
        "accepts-connections",
        "data-check",
        "teardown",
        "deleted",
    ] {
        assert!(finished(step), "{step} did not succeed: {journal:#?}");
    }
    // The restored database answered the check query; the drill says so.
    assert!(
        journal.iter().any(|e| e["type"] == "log"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("myapp-staging-dr-drill.") && m.contains("(check: 20261115090000)"))),
        "{journal:#?}"
    );

    // The report: both measures numeric and met.
    let report = runbook(&["report", &id, "--format", "json"]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    let r: Value = serde_json::from_str(&report.stdout).expect("a JSON report");
    assert_eq!(r["header"]["trigger"], "schedule:monthly-dr-drill@2027-01-01T03:00:00Z");
    let measures = r["measures"].as_array().expect("measures");
    let names: Vec<&str> = measures.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["rto", "rpo"]);
    for m in measures {
        let value = m["value_seconds"]
            .as_f64()
            .unwrap_or_else(|| panic!("a numeric value: {m}"));
        assert!(
            value >= 0.0 && value < m["target_seconds"].as_f64().expect("a target"),
            "{m}"
        );
        assert_eq!(m["met"], true, "{m}");
    }
    let md = runbook(&["report", &id]);
    assert_eq!(md.code, 0, "{}", md.transcript());
    // `| rto | restore.started → … | 0.1s | 1h | met |`
    for (name, target) in [("rto", "1h"), ("rpo", "24h")] {
        let row = md
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no {name} row: {}", md.stdout));
        assert!(row.ends_with(&format!(" | {target} | met |")), "{row}");
    }
}
