//! `runbook schedule export --kubernetes` through the binary: the objects it writes read
//! back into k8s-openapi's types with nothing left over, say what the schedules say, and
//! apply to the Kubernetes API test server; a workspace of file locks is refused; and
//! `runbook run --scheduled`, the CronJobs' command, is checked against its schedule.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use runbook_tests::Workspace;
use runbook_tests::kube::KubeServer;
use serde_json::Value;

const P: &str = r#"name: p
params:
  size: { type: integer, default: 1 }
steps:
  - id: prepare
    shell: "true"
  - id: gated
    risk: high
    shell: "echo gated"
"#;

fn workspace(locks: &str) -> Workspace {
    let config = format!(
        r#"environments:
  dev:
    kube_context: kind-dev
    vars: {{ kube_context: kind-dev }}
  prod: {{}}
default_env: dev
{locks}
schedules:
  - name: nightly
    playbook: p
    cron: "30 2 * * *"
    timezone: Europe/Berlin
    params: {{ size: 3 }}
    approve: [gated]
    catchup: 10m
  - name: first_monday
    playbook: p
    env: dev
    cron: "0 10 * * MON#1"
    timezone: America/New_York
    overlap: queue
  - name: hourly
    playbook: p
    env: prod
    cron: "0 * * * *"
    overlap: cancel-previous
"#
    );
    Workspace::new().file("runbook.yaml", &config).playbook("p", P)
}

/// The documents of a YAML stream, as JSON values.
fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text).expect("the export is YAML")
}

/// `doc` read into `T` and written back is `doc` itself: no field k8s-openapi does not know.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> T {
    let t: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc:#}"));
    assert_eq!(
        &serde_json::to_value(&t).expect("serializes"),
        doc,
        "a field did not survive"
    );
    t
}

#[test]
fn a_workspace_of_file_locks_is_refused_naming_the_fix() {
    let w = workspace("locks: { backend: file }");
    let out = w.run(&["schedule", "export", "--kubernetes"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("runbook.yaml:7:8") && out.stderr.contains("locks: { backend: kubernetes }"),
        "{}",
        out.stderr
    );
    // Without a `locks:` at all, file locks are the default: refused the same way.
    let out = workspace("").run(&["schedule", "export", "--kubernetes"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("(the default)"), "{}", out.stderr);
    // And the target must be said.
    let out = w.run(&["schedule", "export"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("--kubernetes"), "{}", out.stderr);
}

#[test]
fn the_export_reads_back_into_kubernetes_types_and_applies_to_the_api_server() {
    let w = workspace("locks: { backend: kubernetes, namespace: locks }");
    let out = w.run(&[
        "schedule",
        "export",
        "--kubernetes",
        "--namespace",
        "drills",
        "--image",
        "registry.local/runbook:1",
        "--grace",
        "20s",
        "--out",
        "drills.yaml",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let text = std::fs::read_to_string(w.path().join("drills.yaml")).expect("the file");
    let docs = documents(&text);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap_or("?")).collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "PersistentVolumeClaim",
            "ConfigMap",
            "CronJob",
            "CronJob",
            "CronJob"
        ]
    );

    let sa: ServiceAccount = typed(&docs[0]);
    assert_eq!(sa.metadata.namespace.as_deref(), Some("drills"));
    // The Lease lock's rights, in the namespace of the Leases, for the ServiceAccount.
    let role: Role = typed(&docs[1]);
    assert_eq!(role.metadata.namespace.as_deref(), Some("locks"));
    let rule = &role.rules.as_ref().expect("rules")[0];
    assert_eq!(
        rule.api_groups.as_deref(),
        Some(&["coordination.k8s.io".to_string()][..])
    );
    assert_eq!(rule.resources.as_deref(), Some(&["leases".to_string()][..]));
    let binding: RoleBinding = typed(&docs[2]);
    let subject = &binding.subjects.as_ref().expect("subjects")[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        (
            "ServiceAccount",
            sa.metadata.name.as_deref().unwrap_or(""),
            Some("drills")
        )
    );
    let pvc: PersistentVolumeClaim = typed(&docs[3]);
    let claim = pvc.metadata.name.clone().expect("a name");
    // The workspace the pods run is this one, byte for byte.
    let cm: ConfigMap = typed(&docs[4]);
    let data = cm.data.clone().expect("data");
    assert_eq!(
        data["runbook.yaml"],
        std::fs::read_to_string(w.path().join("runbook.yaml")).expect("runbook.yaml")
    );
    assert_eq!(data["playbooks.p.yaml"], P);
    let kubeconfig: Value = serde_saphyr::from_str(&data["kubeconfig"]).expect("a kubeconfig");
    let contexts: Vec<&str> = kubeconfig["contexts"]
        .as_array()
        .expect("contexts")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(contexts.contains(&"kind-dev"), "{contexts:?}");

    let jobs: BTreeMap<String, CronJob> = docs[5..]
        .iter()
        .map(typed::<CronJob>)
        .map(|c| (c.metadata.name.clone().expect("a name"), c))
        .collect();
    let spec = |name: &str| jobs[name].spec.clone().expect("a spec");
    let pod = |name: &str| {
        spec(name)
            .job_template
            .spec
            .expect("a job spec")
            .template
            .spec
            .expect("a pod spec")
    };
    let command = |name: &str| pod(name).containers[0].command.clone().expect("a command").join(" ");

    let nightly = spec("nightly");
    assert_eq!(nightly.schedule, "30 2 * * *");
    assert_eq!(nightly.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(nightly.starting_deadline_seconds, Some(600));
    assert_eq!(nightly.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(
        command("nightly"),
        "runbook run p -e dev -p size=3 --approve gated --non-interactive --scheduled nightly --grace 20s"
    );
    let grace = pod("nightly").termination_grace_period_seconds.expect("a grace period");
    assert!(grace > 20, "{grace}");
    assert_eq!(
        pod("nightly").containers[0].image.as_deref(),
        Some("registry.local/runbook:1")
    );
    let volumes = pod("nightly").volumes.expect("volumes");
    assert!(
        volumes.iter().any(|v| v
            .persistent_volume_claim
            .as_ref()
            .is_some_and(|c| c.claim_name == claim)),
        "{volumes:?}"
    );

    // `MON#1` is more than Kubernetes' cron says: days 1-7, and the run itself decides.
    let monday = spec("first-monday");
    assert_eq!(monday.schedule, "0 10 1-7 * *");
    assert_eq!(monday.time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(monday.starting_deadline_seconds, Some(300));
    assert_eq!(monday.concurrency_policy.as_deref(), Some("Allow"));
    assert!(
        command("first-monday").contains("--scheduled first_monday")
            && command("first-monday").contains("--lock-wait 27days23h"),
        "{}",
        command("first-monday")
    );
    assert_eq!(spec("hourly").concurrency_policy.as_deref(), Some("Replace"));
    assert_eq!(spec("hourly").time_zone.as_deref(), Some("UTC"));

    // Every object applies (server-side apply, as `kubectl apply --server-side` does) and
    // reads back as exported.
    let server = KubeServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = server.write_kubeconfig(dir.path(), "test");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let config = Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&kubeconfig).expect("kubeconfig"),
            &KubeConfigOptions::default(),
        )
        .await
        .expect("config");
        let client = Client::try_from(config).expect("client");
        for doc in &docs {
            let (group, version) = match doc["apiVersion"].as_str().expect("apiVersion").split_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (
                    String::new(),
                    doc["apiVersion"].as_str().unwrap_or_default().to_string(),
                ),
            };
            let gvk = GroupVersionKind::gvk(&group, &version, doc["kind"].as_str().expect("kind"));
            let ar = ApiResource::from_gvk(&gvk);
            let ns = doc["metadata"]["namespace"]
                .as_str()
                .expect("every object is namespaced");
            let name = doc["metadata"]["name"].as_str().expect("a name");
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            let obj: DynamicObject = serde_json::from_value(doc.clone()).expect("an object");
            api.patch(name, &PatchParams::apply("runbook-test"), &Patch::Apply(&obj))
                .await
                .unwrap_or_else(|e| panic!("{} {name} does not apply: {e}", gvk.kind));
        }
    });
    let live = server
        .get("CronJob", Some("drills"), "first-monday")
        .expect("the CronJob is there");
    assert_eq!(live["spec"]["schedule"], "0 10 1-7 * *");
    assert!(server.get("Role", Some("locks"), "runbook-leases").is_some());
    assert!(server.get("ConfigMap", Some("drills"), "runbook-workspace").is_some());
    assert!(server.get("PersistentVolumeClaim", Some("drills"), &claim).is_some());

    // --env keeps one environment's schedules: one cluster per environment.
    let prod = w.run(&["schedule", "export", "--kubernetes", "-e", "prod"]);
    assert_eq!(prod.code, 0, "{}", prod.transcript());
    let names: Vec<String> = documents(&prod.stdout)
        .iter()
        .filter(|d| d["kind"] == "CronJob")
        .map(|d| d["metadata"]["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["hourly"]);
}

#[test]
fn a_scheduled_run_must_be_its_schedules_run_and_journals_the_firing() {
    let w = Workspace::new()
        .file(
            "runbook.yaml",
            "environments:\n  dev: {}\ndefault_env: dev\nschedules:\n  - name: hourly\n    playbook: p\n    cron: \"0 * * * *\"\n    approve: [gated]\n",
        )
        .playbook("p", P);
    let ok = w.run(&[
        "run",
        "p",
        "--non-interactive",
        "--approve",
        "gated",
        "--scheduled",
        "hourly",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    let started = w
        .journal()
        .into_iter()
        .find(|e| e["type"] == "run_started")
        .expect("run_started");
    let trigger = started["trigger"].as_str().expect("a trigger").to_string();
    assert!(
        trigger.starts_with("schedule:hourly@") && trigger.ends_with(":00:00Z"),
        "{trigger}"
    );
    let runs = w.run(&["runs"]);
    assert!(runs.stdout.contains(&trigger), "{}", runs.stdout);

    // Anything but the schedule's own run is refused, saying what the schedule runs.
    for args in [
        &["run", "p", "--non-interactive", "--scheduled", "hourly"][..],
        &["run", "p", "--approve", "gated", "--scheduled", "hourly"][..],
        &[
            "run",
            "p",
            "--non-interactive",
            "--approve",
            "gated",
            "-p",
            "size=2",
            "--scheduled",
            "hourly",
        ][..],
    ] {
        let out = w.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript());
        assert!(
            out.stderr.contains("not the run the schedule starts")
                && out
                    .stderr
                    .contains("runbook run p -e dev --approve gated --non-interactive --scheduled hourly"),
            "{}",
            out.stderr
        );
    }
    let out = w.run(&["run", "p", "--non-interactive", "--scheduled", "hourlly"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("did you mean `hourly`"), "{}", out.stderr);
}
