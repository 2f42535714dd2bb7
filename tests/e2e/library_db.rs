//! The shipped database playbooks (`db-backup`, `db-restore`, `dr-drill`) run end to end on the
//! shipped workspace ([`Platform`]): RDS and S3 are moto, reached by the engine's `rds` actions
//! and by the real AWS CLI; the database is a real PostgreSQL, which every instance's endpoint
//! reaches through libpq's `PGHOSTADDR` (moto's endpoint names resolve nowhere) at the port
//! moto gives the instance, so pg_dump, pg_restore, pg_isready and psql run for real. Each
//! test asserts on what is left in moto and S3, on what Slack was told, and on the journal.

use std::process::Command;

use runbook_tests::of_type;
use runbook_tests::platform::{Platform, step_statuses};
use runbook_tests::servers::Postgres;
use serde_json::Value;

const DAY: i64 = 24 * 3600;

/// The platform with a database: `myapp` holds `schema_migrations` and `orders`, and moto has
/// the prod and staging instances (their port is the database's), both subnet groups and the
/// backup bucket. Moto's clock is `instances_age` in the past while the instances are made.
struct Db {
    p: Platform,
    pg: Postgres,
}

fn db(instances_age: i64) -> Db {
    let mut p = Platform::new();
    let pg = Postgres::start();
    pg.psql("postgres", "create database myapp");
    pg.psql(
        "myapp",
        "create table schema_migrations (version text primary key);
         insert into schema_migrations values ('20261001120000'), ('20261115090000');
         create table orders (id serial primary key, total numeric);
         insert into orders (total) select n from generate_series(1, 42) n;",
    );
    for (k, v) in pg.env() {
        p.set_env(k, &v);
    }
    p.moto.set_clock(-instances_age);
    p.moto.boto3(&format!(
        r#"
ec2 = boto3.client('ec2', endpoint_url=rds.meta.endpoint_url, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f'10.0.{{i}}.0/24', AvailabilityZone=f'us-east-1{{z}}')['Subnet']['SubnetId'] for i, z in enumerate('ab')]
for env in ['prod', 'staging']:
    rds.create_db_subnet_group(DBSubnetGroupName=f'myapp-{{env}}-db', DBSubnetGroupDescription=env, SubnetIds=subnets)
rds.create_db_instance(DBInstanceIdentifier='myapp-prod', DBInstanceClass='db.r6g.large', Engine='postgres', MasterUsername='u', MasterUserPassword='password123', AllocatedStorage=20, Port={port}, BackupRetentionPeriod=7)
rds.create_db_instance(DBInstanceIdentifier='myapp-staging', DBInstanceClass='db.t4g.medium', Engine='postgres', MasterUsername='u', MasterUserPassword='password123', AllocatedStorage=20, Port={port}, BackupRetentionPeriod=7)
s3.create_bucket(Bucket='myapp-database-backups')
"#,
        port = pg.port
    ));
    p.moto.set_clock(0);
    Db { p, pg }
}

/// A manual snapshot of `instance` named `id`, made `age` seconds ago (moto's clock).
fn snapshot_aged(p: &Platform, instance: &str, id: &str, age: i64) {
    p.moto.set_clock(-age);
    p.moto.boto3(&format!(
        "rds.create_db_snapshot(DBInstanceIdentifier='{instance}', DBSnapshotIdentifier='{id}')"
    ));
    p.moto.set_clock(0);
}

fn instances(p: &Platform) -> Vec<String> {
    let out = p.moto.boto3(
        "print(json.dumps(sorted(i['DBInstanceIdentifier'] for i in rds.describe_db_instances()['DBInstances'])))",
    );
    serde_json::from_str(out.trim()).expect("a JSON list")
}

fn manual_snapshots(p: &Platform, instance: &str) -> Vec<String> {
    let out = p.moto.boto3(&format!(
        "print(json.dumps(sorted(s['DBSnapshotIdentifier'] for s in rds.describe_db_snapshots(DBInstanceIdentifier='{instance}', SnapshotType='manual')['DBSnapshots'])))"
    ));
    serde_json::from_str(out.trim()).expect("a JSON list")
}

/// `{ key: size }` of the backup bucket's objects under `prefix`.
fn objects(p: &Platform, prefix: &str) -> Vec<(String, u64)> {
    let out = p.moto.boto3(&format!(
        "print(json.dumps([[o['Key'], o['Size']] for o in s3.list_objects_v2(Bucket='myapp-database-backups', Prefix='{prefix}').get('Contents', [])]))"
    ));
    let v: Vec<(String, u64)> = serde_json::from_str(out.trim()).expect("a JSON list");
    v
}

/// The UTC day `days_ago` days before now: (`2026-11-29`, `20261129`).
fn day(days_ago: i64) -> (String, String) {
    let d = chrono::Utc::now() - chrono::Duration::seconds(days_ago * DAY);
    (d.format("%Y-%m-%d").to_string(), d.format("%Y%m%d").to_string())
}

fn assert_ok(out: &runbook_tests::Output) {
    assert_eq!(out.code, 0, "{}", out.transcript());
}

// ---------------------------------------------------------------------------------------
// db-backup

#[test]
fn db_backup_snapshots_and_dumps_a_restorable_backup_then_lists_and_prunes_past_the_retention() {
    let Db { p, pg } = db(60 * DAY);
    let (d40, d35, d10) = (day(40).1, day(35).1, day(10).1);
    for (d, age) in [(&d40, 40), (&d35, 35), (&d10, 10)] {
        snapshot_aged(
            &p,
            "myapp-staging",
            &format!("myapp-staging-daily-{d}-020000"),
            age * DAY,
        );
    }
    // Not named by db-backup: never a candidate, however old.
    snapshot_aged(&p, "myapp-staging", "myapp-staging-by-hand", 50 * DAY);
    // The dumps of the same days, and an object that is not a dump.
    p.moto.boto3(&format!(
        "for d in [{d40:?}, {d35:?}, {d10:?}]:\n    s3.put_object(Bucket='myapp-database-backups', Key=f'staging/myapp-staging-daily-{{d}}-020000.dump', Body=b'x')\ns3.put_object(Bucket='myapp-database-backups', Key='staging/myapp-staging-notes.txt', Body=b'x')"
    ));
    let dump = |d: &str| format!("staging/myapp-staging-daily-{d}-020000.dump");

    // The dry run (prune=false): the expired ones beyond the newest one are listed, and stay.
    let dry = p.run(&["run", "db-backup", "-e", "staging", "-p", "keep=1", "--output", "json"]);
    assert_ok(&dry);
    let journal = p.last_journal();
    let logged: Vec<&str> = of_type(&journal, "log")
        .iter()
        .filter_map(|r| r["message"].as_str())
        .collect();
    let expected = format!(
        "Past the 30-day retention, beyond the newest 1: 2 snapshot(s) of myapp-staging (myapp-staging-daily-{d40}-020000, myapp-staging-daily-{d35}-020000) and 2 dump(s) ({}, {}); kept (prune=false, a dry run)",
        dump(&d40),
        dump(&d35)
    );
    assert!(logged.iter().any(|l| *l == expected), "{logged:#?}");
    assert_eq!(step_statuses(&journal)["prune"], "skipped");
    assert_eq!(step_statuses(&journal)["prune-dumps"], "skipped");
    let after_dry = manual_snapshots(&p, "myapp-staging");
    assert_eq!(after_dry.len(), 5, "nothing deleted: {after_dry:?}");
    let first = after_dry
        .iter()
        .find(|s| s.starts_with("myapp-staging-manual-"))
        .expect("the new snapshot")
        .clone();

    // The dump is in S3, and it is a real backup: restored into an empty database, it
    // holds the rows.
    assert_eq!(objects(&p, "staging/").len(), 5, "nothing deleted");
    let dumps = objects(&p, "staging/myapp-staging-manual-");
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let (key, size) = &dumps[0];
    assert_eq!(key, &format!("staging/{first}.dump"));
    assert!(*size > 0);
    let file = p.path().join("fetched.dump");
    p.moto.boto3(&format!(
        "s3.download_file('myapp-database-backups', '{key}', '{}')",
        file.display()
    ));
    pg.psql("postgres", "create database fromdump");
    let restored = Command::new("pg_restore")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "fromdump",
            "--no-owner",
        ])
        .arg(&file)
        .output()
        .expect("pg_restore runs");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        pg.psql("fromdump", "select count(*), sum(total) from orders").trim(),
        "42|903"
    );
    assert_eq!(
        pg.psql("fromdump", "select max(version) from schema_migrations").trim(),
        "20261115090000"
    );

    // Pruning for real (the stamp has a one-second resolution: a new second for a new name).
    let wait = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string() == first.trim_start_matches("myapp-staging-manual-")
        && std::time::Instant::now() < wait
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pruned = p.run(&[
        "run",
        "db-backup",
        "-e",
        "staging",
        "-p",
        "keep=4",
        "-p",
        "prune=true",
        "--approve",
        "prune",
        "--approve",
        "prune-dumps",
    ]);
    assert_ok(&pruned);
    // The newest four stay, the 35-day-old one among them; the 40-day-old one is gone;
    // the hand-made one and RDS's automated one are not db-backup's to delete.
    let left = manual_snapshots(&p, "myapp-staging");
    assert!(!left.contains(&format!("myapp-staging-daily-{d40}-020000")), "{left:?}");
    for kept in [
        format!("myapp-staging-daily-{d35}-020000"),
        format!("myapp-staging-daily-{d10}-020000"),
        first.clone(),
        "myapp-staging-by-hand".into(),
    ] {
        assert!(left.contains(&kept), "{kept} was deleted: {left:?}");
    }
    assert_eq!(left.len(), 5, "{left:?}");
    let automated = p.moto.boto3(
        "print(len(rds.describe_db_snapshots(DBInstanceIdentifier='myapp-staging', SnapshotType='automated')['DBSnapshots']))",
    );
    assert_eq!(automated.trim(), "1");
    // The same for the dumps: the 40-day-old one goes, the rest stay.
    let keys: Vec<String> = objects(&p, "staging/").into_iter().map(|(k, _)| k).collect();
    assert!(!keys.contains(&dump(&d40)), "{keys:?}");
    assert!(keys.contains(&dump(&d35)) && keys.contains(&dump(&d10)), "{keys:?}");
    assert!(
        keys.contains(&"staging/myapp-staging-notes.txt".to_string()),
        "{keys:?}"
    );
    assert_eq!(keys.len(), 5, "{keys:?}");

    let journal = p.last_journal();
    let gates = of_type(&journal, "gate");
    assert_eq!(gates.len(), 2, "one confirmation per deleted backup: {gates:#?}");
    let asked = |what: &str| {
        gates
            .iter()
            .any(|g| g["question"].as_str().is_some_and(|q| q.contains(what)))
    };
    assert!(
        asked(&format!("Delete the snapshot myapp-staging-daily-{d40}-020000")),
        "{gates:#?}"
    );
    assert!(
        asked(&format!("Delete the dump s3://myapp-database-backups/{}", dump(&d40))),
        "{gates:#?}"
    );
    let statuses = step_statuses(&journal);
    for (done, not) in [("prune[0]", "prune[1]"), ("prune-dumps[0]", "prune-dumps[1]")] {
        assert_eq!(statuses.get(done).map(String::as_str), Some("ok"), "{statuses:#?}");
        assert!(!statuses.contains_key(not), "{statuses:#?}");
    }

    let slack = p.slack();
    assert_eq!(slack.len(), 2, "{slack:#?}");
    assert!(
        slack[0].starts_with(":floppy_disk: staging database backed up: snapshot myapp-staging-manual-")
            && slack[0].ends_with("Past the 30-day retention: 2 snapshot(s), 2 dump(s)."),
        "{slack:#?}"
    );
    assert!(
        slack[1].ends_with("Past the 30-day retention: 1 snapshot(s), 1 dump(s) (deleting)."),
        "{slack:#?}"
    );
}

#[test]
fn a_db_backup_whose_snapshot_does_not_verify_deletes_the_snapshot_and_the_dump() {
    let Db { p, pg: _pg } = db(DAY);
    // A manual snapshot stamped a day ahead (a skewed clock): the new one is not the newest.
    snapshot_aged(&p, "myapp-staging", "myapp-staging-from-the-future", -DAY);
    let out = p.run(&["run", "db-backup", "-e", "staging"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("the newest manual snapshot is not the one just taken"),
        "{}",
        out.stderr
    );
    assert_eq!(manual_snapshots(&p, "myapp-staging"), ["myapp-staging-from-the-future"]);
    assert_eq!(
        objects(&p, "staging/"),
        [],
        "the dump was deleted again: {}",
        out.stderr
    );
    let journal = p.last_journal();
    let undone: Vec<&str> = of_type(&journal, "rollback_finished")
        .iter()
        .filter(|r| r["ok"] == true)
        .filter_map(|r| r["step"].as_str())
        .collect();
    assert!(undone.contains(&"snapshot") && undone.contains(&"dump"), "{journal:#?}");
    let slack = p.slack();
    assert_eq!(slack.len(), 1, "{slack:#?}");
    assert!(
        slack[0].starts_with(":rotating_light: Database backup of myapp-staging in staging FAILED"),
        "{slack:#?}"
    );
}

#[test]
fn the_shipped_daily_backup_schedule_prunes_unattended_and_keeps_the_newest_seven() {
    let Db { p, pg: _pg } = db(60 * DAY);
    // Eight daily snapshots, 31 to 38 days old: with today's, the newest seven are today's
    // and those of 31 to 36 days ago; 37 and 38 go.
    let olds: Vec<String> = (31..=38)
        .map(|age| format!("myapp-prod-daily-{}-020000", day(age).1))
        .collect();
    p.moto.boto3(&format!(
        "for age, id in zip(range(31, 39), {olds:?}):\n    set_clock(-age * {DAY})\n    rds.create_db_snapshot(DBInstanceIdentifier='myapp-prod', DBSnapshotIdentifier=id)\n    s3.put_object(Bucket='myapp-database-backups', Key=f'prod/{{id}}.dump', Body=b'x')\nset_clock(0)"
    ));
    // 02:05 UTC on a Tuesday: db-backup is the one schedule due (the others' firings are
    // past their catch-up window, or later).
    let due = p.run(&["schedule", "run-due", "--now", "2027-01-05T02:05:00Z"]);
    assert_ok(&due);
    assert!(
        due.stdout.contains("db-backup: firing 2027-01-05T02:00:00Z succeeded"),
        "{}",
        due.transcript()
    );
    let left = manual_snapshots(&p, "myapp-prod");
    assert_eq!(left.len(), 7, "{left:?}");
    for (i, old) in olds.iter().enumerate() {
        assert_eq!(left.contains(old), i < 6, "{old}: {left:?}");
    }
    assert!(
        left.iter()
            .any(|s| s.starts_with("myapp-prod-daily-") && !olds.contains(s))
    );
    let journal = p.last_journal();
    let gates: Vec<(String, String)> = of_type(&journal, "gate")
        .iter()
        .map(|g| {
            (
                g["step"].as_str().unwrap_or("").into(),
                g["how"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(gates.len(), 4, "{gates:?}");
    assert!(
        gates
            .iter()
            .all(|(step, _)| step.starts_with("prune[") || step.starts_with("prune-dumps[")),
        "{gates:?}"
    );
    let keys: Vec<String> = objects(&p, "prod/").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
    for (i, old) in olds.iter().enumerate() {
        assert_eq!(keys.contains(&format!("prod/{old}.dump")), i < 6, "{old}: {keys:?}");
    }
    let slack = p.slack();
    assert!(
        slack.len() == 1 && slack[0].ends_with("Past the 30-day retention: 2 snapshot(s), 2 dump(s) (deleting)."),
        "{slack:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// db-restore

/// The backup of `days_ago` (UTC day), as db-backup leaves it: a manual snapshot, and a dump
/// of the database in S3 (`good`: a real pg_dump; else bytes pg_restore rejects).
fn prod_backup_of(p: &Platform, pg: &Postgres, days_ago: i64, good: bool) -> (String, String) {
    let (date, d) = day(days_ago);
    let id = format!("myapp-prod-daily-{d}-020000");
    // Mid-day of that day, whatever the time now: the snapshot belongs to that UTC day.
    let now = chrono::Utc::now();
    let noon = now.date_naive().and_hms_opt(12, 0, 0).expect("noon").and_utc() - chrono::Duration::days(days_ago);
    snapshot_aged(p, "myapp-prod", &id, (now - noon).num_seconds());
    let file = p.path().join(format!("{id}.dump"));
    if good {
        let out = Command::new("pg_dump")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
                "--format=custom",
                "-f",
            ])
            .arg(&file)
            .arg("myapp")
            .output()
            .expect("pg_dump runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    } else {
        std::fs::write(&file, "PGDMP, but not really").expect("write");
    }
    p.moto.boto3(&format!(
        "s3.upload_file('{}', 'myapp-database-backups', 'prod/{id}.dump')",
        file.display()
    ));
    (date, id)
}

fn approve(p: &Platform, run: &str, step: &str, who: &str) {
    let out = p.run(&["approve", run, step, "--as", who]);
    assert_ok(&out);
}

#[test]
fn db_restore_restores_to_staging_first_then_to_a_new_prod_instance_after_two_approvals_then_cuts_over() {
    let Db { mut p, pg } = db(10 * DAY);
    let (date, snap) = prod_backup_of(&p, &pg, 3, true);
    prod_backup_of(&p, &pg, 2, true);
    let d = date.replace('-', "");
    p.set_env("RUNBOOK_USER", "oncall");
    // The cut-over: the application's Deployment in the test cluster (context eks-prod), and
    // its health endpoint (the webhook recorder answers 200 to everything).
    p.kube.put(runbook_tests::kube::namespace("prod"));
    p.kube.put(runbook_tests::kube::deployment(
        "prod",
        "myapp-backend",
        3,
        "myapp-backend:v1.2.3",
    ));
    p.set_var("app_url", &p.hooks.url("/app"));
    let mut bg = p.background(&[
        "run",
        "db-restore",
        "-e",
        "prod",
        "-p",
        &format!("date={date}"),
        "-p",
        "cutover=true",
        "--approve",
        "rehearse",
        "--approve",
        "approval",
        "--approve",
        "restore",
        "--approve",
        "rehearsal-teardown",
        "--approve",
        "cutover",
        "--input",
        "cutover=done",
    ]);
    bg.wait_for(|l| l.contains("\"run_started\""));
    let run = bg.run_id();
    bg.wait_for(|l| l.contains("\"type\":\"log\"") && l.contains("for approval by 2 of"));
    // The staging copy is up and checked before anyone is asked; prod has nothing new yet.
    let rehearsal = format!("myapp-prod-rehearsal-{d}");
    assert_eq!(instances(&p), ["myapp-prod", rehearsal.as_str(), "myapp-staging"]);
    let class_and_group = |id: &str| {
        p.moto.boto3(&format!(
            "i = rds.describe_db_instances(DBInstanceIdentifier='{id}')['DBInstances'][0]\nprint(i['DBInstanceClass'], i['DBSubnetGroup']['DBSubnetGroupName'])"
        ))
    };
    assert_eq!(class_and_group(&rehearsal).trim(), "db.t4g.medium myapp-staging-db");
    // The runner's own approval does not count (two_person); two others do.
    approve(&p, &run, "approval", "oncall");
    approve(&p, &run, "approval", "sre-lead-1");
    approve(&p, &run, "approval", "dba-2");
    // The cut-over needs one more approver, someone other than the runner.
    bg.wait_for(|l| l.contains("\"type\":\"log\"") && l.contains("for approval by 1 of"));
    approve(&p, &run, "cutover", "dba-1");
    assert_eq!(bg.finish(), 0, "{}", bg.stderr());

    let target = format!("myapp-prod-restore-{d}");
    assert_eq!(instances(&p), ["myapp-prod", target.as_str(), "myapp-staging"]);
    assert_eq!(class_and_group(&target).trim(), "db.r6g.large myapp-prod-db");

    let journal = p.journal(&run);
    let statuses = step_statuses(&journal);
    for step in [
        "backup",
        "rehearse",
        "rehearsal-ready",
        "rehearsal-check",
        "rehearsal-dump",
        "approval",
        "restore",
        "ready",
        "check",
        "rehearsal-teardown",
        "cutover",
        "rollout",
        "smoke",
        "announce",
    ] {
        assert_eq!(
            statuses.get(step).map(String::as_str),
            Some("ok"),
            "{step}: {statuses:#?}"
        );
    }
    let backup = journal
        .iter()
        .find(|r| r["type"] == "step_finished" && r["step"] == "backup")
        .expect("backup finished");
    assert_eq!(backup["outputs"]["snapshot_id"], Value::from(snap.clone()), "{backup}");
    let approval = of_type(&journal, "gate")
        .into_iter()
        .find(|g| g["step"] == "approval" && g["kind"] == "approval")
        .expect("the approval gate");
    assert_eq!(
        (approval["approved"].as_bool(), approval["by"].as_str()),
        (Some(true), Some("sre-lead-1, dba-2"))
    );
    // Staging first: the staging copy was checked before the gate, prod restored after it.
    let seq = |step: &str, kind: &str| {
        journal
            .iter()
            .find(|r| r["type"] == kind && r["step"] == step)
            .and_then(|r| r["seq"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} of {step}"))
    };
    assert!(seq("rehearsal-check", "step_finished") < seq("approval", "gate"));
    assert!(seq("approval", "gate") < seq("restore", "step_started"));

    // The dump of that day was restored too (on the staging copy, which in this test is the
    // one PostgreSQL server behind every endpoint): all its rows are there.
    assert_eq!(pg.psql("myapp_dump", "select count(*) from orders").trim(), "42");

    let slack = p.slack();
    assert_eq!(slack.len(), 1, "{slack:#?}");
    assert!(
        slack[0].contains(&format!("backup of {date} ({snap}) is restored to {target}"))
            && slack[0].contains("checked in staging first")
            && slack[0].contains(&format!("Dump of that day: prod/{snap}.dump"))
            && slack[0].contains("; application cut over."),
        "{slack:#?}"
    );
    assert!(
        p.hooks
            .received()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/app/health"),
        "the smoke test asked the application"
    );
}

#[test]
fn db_restore_never_reaches_prod_when_the_staging_copy_or_the_dump_fails_and_deletes_what_it_restored() {
    let Db { p, pg } = db(10 * DAY);
    let (date, _) = prod_backup_of(&p, &pg, 3, true);

    // No backup that day: nothing is restored.
    let (none, _) = day(5);
    let out = p.run(&["run", "db-restore", "-e", "prod", "-p", &format!("date={none}")]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains(&format!(
            "no available snapshot of myapp-prod was created on {none} (UTC)"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(instances(&p), ["myapp-prod", "myapp-staging"]);

    // The staging copy does not hold what the check asks for.
    let out = p.run(&[
        "run",
        "db-restore",
        "-e",
        "prod",
        "-p",
        &format!("date={date}"),
        "-p",
        "check_sql=select count(*) from no_such_table",
        "--approve",
        "rehearse",
        "--approve",
        "approval",
        "--approve",
        "restore",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("no_such_table"), "{}", out.stderr);
    // The copy was deleted again; prod was never asked for nor touched.
    assert_eq!(instances(&p), ["myapp-prod", "myapp-staging"]);
    let journal = p.last_journal();
    assert!(
        of_type(&journal, "gate").iter().all(|g| g["step"] != "approval"),
        "nobody was asked: {journal:#?}"
    );
    assert!(!step_statuses(&journal).contains_key("restore"));
    assert!(
        of_type(&journal, "rollback_finished")
            .iter()
            .any(|r| r["step"] == "rehearse" && r["ok"] == true),
        "{journal:#?}"
    );
    let slack = p.slack();
    assert_eq!(slack.len(), 2, "{slack:#?}");
    assert!(
        slack[1].starts_with(&format!(
            ":warning: Restore of the myapp-prod backup of {date} in prod failed; what it restored was deleted again"
        )),
        "{slack:#?}"
    );

    // A dump of that day that does not restore stops the run too, before anyone is asked:
    // its database is dropped and the staging copy deleted.
    let (broken, _) = prod_backup_of(&p, &pg, 4, false);
    let out = p.run(&[
        "run",
        "db-restore",
        "-e",
        "prod",
        "-p",
        &format!("date={broken}"),
        "--approve",
        "rehearse",
        "--approve",
        "approval",
        "--approve",
        "restore",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("did not restore"), "{}", out.stderr);
    assert_eq!(instances(&p), ["myapp-prod", "myapp-staging"]);
    assert_eq!(
        pg.psql(
            "postgres",
            "select count(*) from pg_database where datname = 'myapp_dump'"
        )
        .trim(),
        "0"
    );
    let statuses = step_statuses(&p.last_journal());
    assert_eq!(statuses["rehearsal-check"], "ok", "{statuses:#?}");
    assert_eq!(statuses["rehearsal-dump"], "failed", "{statuses:#?}");
    assert!(!statuses.contains_key("restore"), "{statuses:#?}");
}

#[test]
fn a_restore_a_dba_rejects_stops_before_prod_and_keeps_the_checked_staging_copy() {
    let Db { mut p, pg } = db(10 * DAY);
    let (date, _) = prod_backup_of(&p, &pg, 3, true);
    p.set_env("RUNBOOK_USER", "oncall");
    let mut bg = p.background(&[
        "run",
        "db-restore",
        "-e",
        "prod",
        "-p",
        &format!("date={date}"),
        "--approve",
        "rehearse",
        "--approve",
        "approval",
        "--approve",
        "restore",
    ]);
    bg.wait_for(|l| l.contains("\"run_started\""));
    let run = bg.run_id();
    bg.wait_for(|l| l.contains("\"type\":\"log\"") && l.contains("for approval by 2 of"));
    approve(&p, &run, "approval", "sre-lead-2");
    let out = p.run(&["approve", &run, "approval", "--as", "dba-1", "--reject"]);
    assert_ok(&out);
    assert_eq!(bg.finish(), 4, "{}", bg.stderr());
    // A "no" undoes nothing: the staging copy stays for a look; prod got nothing new.
    let d = date.replace('-', "");
    assert_eq!(
        instances(&p),
        [
            "myapp-prod",
            format!("myapp-prod-rehearsal-{d}").as_str(),
            "myapp-staging"
        ]
    );
    let journal = p.journal(&run);
    let gate = of_type(&journal, "gate")
        .into_iter()
        .find(|g| g["step"] == "approval" && g["kind"] == "approval")
        .expect("the approval gate");
    assert_eq!(
        (gate["approved"].as_bool(), gate["by"].as_str()),
        (Some(false), Some("dba-1"))
    );
    assert!(!step_statuses(&journal).contains_key("restore"));
    assert_eq!(
        of_type(&journal, "run_finished")[0]["status"],
        "refused",
        "{journal:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// dr-drill (its scheduled happy path is tests/e2e/drill.rs)

#[test]
fn a_dr_drill_whose_restored_data_fails_the_check_deletes_the_drill_instance_and_pages() {
    let Db { p, pg: _pg } = db(3600);
    let out = p.run(&[
        "run",
        "dr-drill",
        "-e",
        "staging",
        "-p",
        "source_instance=myapp-prod",
        "-p",
        "check_sql=select version from schema_migrations where false",
        "--approve",
        "restore",
        "--approve",
        "teardown",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("no value from: select version"), "{}", out.stderr);
    assert_eq!(instances(&p), ["myapp-prod", "myapp-staging"]);
    let journal = p.last_journal();
    let statuses = step_statuses(&journal);
    assert_eq!(statuses["accepts-connections"], "ok", "{statuses:#?}");
    assert_eq!(statuses["data-check"], "failed", "{statuses:#?}");
    assert!(!statuses.contains_key("teardown"));
    assert!(
        of_type(&journal, "rollback_finished")
            .iter()
            .any(|r| r["step"] == "restore" && r["ok"] == true),
        "{journal:#?}"
    );
    let slack = p.slack();
    assert!(
        slack
            .iter()
            .any(|t| t.starts_with(":x: DR drill in staging FAILED") && t.contains("myapp-prod")),
        "{slack:#?}"
    );
    assert!(
        slack
            .iter()
            .any(|t| t.starts_with(":clipboard: DR drill of myapp-prod")),
        "{slack:#?}"
    );
}
