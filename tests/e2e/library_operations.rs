//! The shipped routine-operations playbooks (`daily-health-check`, `weekly-maintenance`,
//! `monthly-maintenance`, `security-audit`) run end to end on the platform (see
//! `library_gitops`): the Kubernetes API test server with the sandbox's world, the app
//! stand-in scraped by a real Prometheus, moto behind the real AWS CLI, and a webhook stand-in
//! for Slack. Each has a happy path and a failure path, checked on what was reported and on
//! the state left behind.

use runbook_tests::app::{Track, Traffic};
use runbook_tests::platform::step_statuses;
use runbook_tests::world::World;

/// The 30-day error budget left in prod, as the daily check computes it.
const BUDGET_PROD: &str = r#"1 - (sum(increase(http_requests_total{namespace="prod",app="myapp-backend",status=~"5.."}[30d])) / sum(increase(http_requests_total{namespace="prod",app="myapp-backend"}[30d]))) / (1 - 0.999)"#;
const P95_PROD: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="prod",app="myapp-backend"}[1h])))"#;

/// The ids a daily check's failure message lists: between "Failed: " and " - ".
fn failed_checks(text: &str) -> Vec<String> {
    let rest = text.split_once("Failed: ").map_or("", |(_, r)| r);
    let list = rest.split_once("- `runbook").map_or(rest, |(l, _)| l);
    list.split_whitespace().map(String::from).collect()
}

#[test]
fn the_daily_health_check_is_all_green_with_p95_and_the_error_budget_from_the_slo() {
    let w = World::new();
    let out =
        w.p.run(&["run", "daily-health-check", "-e", "prod", "--non-interactive"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    let text = &slack[0];
    assert!(text.contains("all green"), "{text}");
    // Healthy traffic: p95 120 ms against the 200 ms objective, 0.05 % errors spend half of
    // the 0.1 % budget that SLO 99.9 % allows.
    assert!(text.contains("p95 120.0 ms (objective 200 ms)"), "{text}");
    assert!(text.contains("error budget left 50.0% (SLO 0.999)"), "{text}");
    assert!(text.contains("myapp-backend:v1.2.2 (revision 7c3e9a1f"), "{text}");
    let statuses = step_statuses(&w.p.last_journal());
    for check in [
        "nodes",
        "app-available",
        "app-pods",
        "cluster-pods",
        "argocd-sync",
        "recent-deployments",
        "error-budget",
        "p95",
        "grafana",
    ] {
        assert_eq!(
            statuses.get(check).map(String::as_str),
            Some("ok"),
            "{check}: {statuses:?}"
        );
    }
}

#[test]
fn a_daily_check_with_the_budget_spent_and_a_slow_p95_names_exactly_those_checks() {
    let w = World::new();
    // 0.3 % errors: under the 1 % alert, three times the 0.1 % the SLO allows; p95 250 ms
    // (p99 stays under 500 ms).
    w.app.set(
        "prod",
        Track::Stable,
        Traffic {
            error_ratio: 0.003,
            p95_seconds: 0.25,
            ..Traffic::healthy(500.0)
        },
    );
    w.prom.wait_until(BUDGET_PROD, |v| v < -0.5);
    w.prom.wait_until(P95_PROD, |v| v > 0.22);
    // And a new version in Git that nobody synced: prod's Application is OutOfSync.
    let mut app = w.application("prod");
    app["spec"]["source"]["helm"]["parameters"][0]["value"] = "v1.2.3".into();
    w.p.kube.put(app);
    runbook_tests::world::eventually(std::time::Duration::from_secs(10), "OutOfSync", || {
        w.application("prod")["status"]["sync"]["status"] == "OutOfSync"
    });

    let out =
        w.p.run(&["run", "daily-health-check", "-e", "prod", "--non-interactive"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert!(slack[0].contains("found problems"), "{}", slack[0]);
    assert_eq!(
        failed_checks(&slack[0]),
        ["argocd-sync", "error-budget", "p95"],
        "{}",
        slack[0]
    );
    let statuses = step_statuses(&w.p.last_journal());
    assert_eq!(statuses.get("errors").map(String::as_str), Some("ok"), "{statuses:?}");
    assert_eq!(
        statuses.get("all-green").map(String::as_str),
        Some("skipped"),
        "{statuses:?}"
    );
    // A check only reads: nothing was synced.
    assert_eq!(w.application("prod")["status"]["sync"]["status"], "OutOfSync");
    assert_eq!(w.history("prod"), ["v1.2.2"]);
    assert_eq!(
        w.image("prod", "myapp-backend"),
        format!("{}:v1.2.2", runbook_tests::world::REPO)
    );
}

const NODES: [&str; 3] = ["ip-10-0-1-1", "ip-10-0-2-1", "ip-10-0-3-1"];

/// What kube-state-metrics and node-exporter serve for the three nodes: CPU and memory
/// requests at `requested` of allocatable, every root filesystem with `disk_free` free.
fn platform_metrics(w: &World, requested: f64, disk_free: f64) {
    let (cpu, memory, disk) = (3.92, 15_411_281_920.0, 83_000_000_000.0);
    for node in NODES {
        w.app.set_gauge(
            &format!(r#"kube_node_status_allocatable{{node="{node}",resource="cpu",unit="core"}}"#),
            cpu,
        );
        w.app.set_gauge(
            &format!(r#"kube_node_status_allocatable{{node="{node}",resource="memory",unit="byte"}}"#),
            memory,
        );
        let fs = format!(r#"instance="{node}:9100",device="/dev/nvme0n1p1",fstype="xfs",mountpoint="/""#);
        w.app.set_gauge(&format!("node_filesystem_size_bytes{{{fs}}}"), disk);
        w.app
            .set_gauge(&format!("node_filesystem_avail_bytes{{{fs}}}"), disk * disk_free);
    }
    for (i, node) in NODES.iter().enumerate() {
        let pod = format!(r#"namespace="prod",pod="myapp-backend-{i}",container="myapp-backend",node="{node}""#);
        w.app.set_gauge(
            &format!(r#"kube_pod_container_resource_requests{{{pod},resource="cpu",unit="core"}}"#),
            cpu * requested,
        );
        w.app.set_gauge(
            &format!(r#"kube_pod_container_resource_requests{{{pod},resource="memory",unit="byte"}}"#),
            memory * requested,
        );
    }
    w.prom.wait_until(
        r#"min(node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"})"#,
        |v| (v - disk_free).abs() < 1e-9,
    );
    w.prom.wait_until(
        r#"sum(kube_pod_container_resource_requests{resource="memory"}) / sum(kube_node_status_allocatable{resource="memory"})"#,
        |v| (v - requested).abs() < 1e-9,
    );
}

fn ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn job(name: &str, finished_days_ago: Option<i64>) -> serde_json::Value {
    let mut job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": name, "namespace": "prod" },
        "spec": { "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "task", "image": "busybox" }] } } },
        "status": { "active": 1 },
    });
    if let Some(days) = finished_days_ago {
        job["status"] = serde_json::json!({ "succeeded": 1, "completionTime": ago(days), "startTime": ago(days) });
    }
    job
}

/// What the weekly cleanup works on, and what its reviews read besides the seed: finished and
/// running Jobs, a Failed pod, an ECR repository with an untagged image, a vulnerability
/// report, the CloudTrail log group with a console login, the node group.
fn weekly_world(w: &World) {
    w.p.kube.put(job("db-migrate-1", Some(10)));
    w.p.kube.put(job("db-migrate-2", Some(1)));
    w.p.kube.put(job("report-export", None));
    let mut failed = runbook_tests::kube::pod(
        "prod",
        "myapp-backend-evicted",
        &[("app", "myapp-backend")],
        "ip-10-0-1-1",
        false,
    );
    failed["status"] = serde_json::json!({ "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory." });
    w.p.kube.put(failed);
    w.p.kube.put(serde_json::json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
        "metadata": { "name": "replicaset-myapp-backend-myapp-backend", "namespace": "prod" },
        "report": { "summary": { "criticalCount": 0, "highCount": 2 } },
    }));
    // kubectl finds the CRD kinds (Certificates, VulnerabilityReports) through discovery.
    w.p.kube.discover_stored_kinds();
    w.p.moto.boto3(&format!(
        "ecr = boto3.client('ecr', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         ecr.create_repository(repositoryName='myapp-backend')\n\
         manifest = lambda layer: json.dumps({{'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json', 'layers': [{{'digest': 'sha256:' + layer * 64, 'size': 1}}]}})\n\
         ecr.put_image(repositoryName='myapp-backend', imageManifest=manifest('a'), imageTag='v1.2.2')\n\
         ecr.put_image(repositoryName='myapp-backend', imageManifest=manifest('b'))\n\
         logs = boto3.client('logs', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         logs.create_log_group(logGroupName='cloudtrail/management-events')\n\
         logs.create_log_stream(logGroupName='cloudtrail/management-events', logStreamName='123456789012_CloudTrail_us-east-1')\n\
         import time\n\
         logs.put_log_events(logGroupName='cloudtrail/management-events', logStreamName='123456789012_CloudTrail_us-east-1', logEvents=[\n\
             {{'timestamp': int(time.time() * 1000) - 3600000, 'message': json.dumps({{'eventName': 'ConsoleLogin', 'eventTime': '2026-01-01T09:00:00Z', 'userIdentity': {{'type': 'IAMUser', 'userName': 'jsmith'}}, 'sourceIPAddress': '203.0.113.7'}})}},\n\
             {{'timestamp': int(time.time() * 1000) - 1800000, 'message': json.dumps({{'eventName': 'DescribeInstances', 'eventTime': '2026-01-01T09:30:00Z', 'userIdentity': {{'type': 'IAMUser', 'userName': 'ci'}}, 'sourceIPAddress': '10.0.0.9'}})}},\n\
         ])",
        url = w.p.moto.url()
    ));
    w.p.stand_in_answers("eksctl", "CLUSTER\tNODEGROUP\tSTATUS\neks-prod\tng-prod\tACTIVE\n", 0);
}

fn ecr_images(w: &World) -> String {
    w.p.moto.boto3(&format!(
        "ecr = boto3.client('ecr', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         print(sorted(i.get('imageTag', 'untagged') for i in ecr.list_images(repositoryName='myapp-backend')['imageIds']))",
        w.p.moto.url()
    ))
}

fn jobs(w: &World) -> Vec<String> {
    let mut names: Vec<String> =
        w.p.kube
            .list("Job", Some("prod"))
            .iter()
            .filter_map(|j| j["metadata"]["name"].as_str().map(String::from))
            .collect();
    names.sort();
    names
}

/// The lines a step printed, from its `step_finished` record.
fn printed(journal: &[serde_json::Value], step: &str) -> String {
    journal
        .iter()
        .filter(|r| r["type"] == "step_finished" && r["step"] == step)
        .map(|r| r["tail"].to_string())
        .collect()
}

const WEEKLY: [&str; 7] = [
    "run",
    "weekly-maintenance",
    "-e",
    "prod",
    "--non-interactive",
    "--approve",
    "cleanup",
];

#[test]
fn weekly_maintenance_cleans_up_and_reviews_capacity_disks_certificates_and_logins() {
    let w = World::new();
    weekly_world(&w);
    platform_metrics(&w, 0.5, 0.6);
    let out = w.p.run(&WEEKLY);
    assert_eq!(out.code, 0, "{}", out.transcript());
    // The cleanup: the Job finished 10 days ago, the Failed pod and the untagged image are
    // gone; the recent and the running Jobs, the running pods and the tagged image stay.
    assert_eq!(jobs(&w), ["db-migrate-2", "report-export"]);
    assert!(w.p.kube.get("Pod", Some("prod"), "myapp-backend-evicted").is_none());
    assert!(
        w.p.kube
            .list("Pod", Some("prod"))
            .iter()
            .any(|p| p["metadata"]["labels"]["app"] == "myapp-backend"),
        "the running pods were deleted"
    );
    assert_eq!(ecr_images(&w).trim(), "['v1.2.2']");
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    // The seed's certificates expire in February 2027.
    let soonest = (chrono::DateTime::parse_from_rfc3339("2027-02-13T02:00:00Z").expect("a date")
        - chrono::Utc::now().fixed_offset())
    .num_days();
    assert!(
        slack[0].contains(&format!(
            "CPU requests 50.0% and memory requests 50.0% of allocatable, least free disk 60.0%, soonest certificate expiry in {soonest} days"
        )),
        "{}",
        slack[0]
    );
    let journal = w.p.last_journal();
    let logins = printed(&journal, "access-logs");
    assert!(logins.contains("jsmith from 203.0.113.7"), "{logins}");
    assert!(
        !logins.contains("DescribeInstances") && !logins.contains(" ci "),
        "{logins}"
    );
    assert!(printed(&journal, "usage").contains("ng-prod"), "{journal:?}");
    assert_eq!(
        w.p.calls(),
        ["eksctl get nodegroup --cluster eks-prod --region us-east-1"]
    );
}

#[test]
fn weekly_maintenance_reports_a_full_disk_and_an_expiring_certificate_and_still_cleans_up() {
    let w = World::new();
    weekly_world(&w);
    platform_metrics(&w, 0.5, 0.1);
    let mut cert =
        w.p.kube
            .get("Certificate", Some("staging"), "myapp-tls")
            .expect("staging's certificate");
    cert["status"]["notAfter"] = ago(-5).into();
    w.p.kube.put(cert);
    let out = w.p.run(&WEEKLY);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert!(slack[0].contains("has findings"), "{}", slack[0]);
    assert_eq!(failed_checks(&slack[0]), ["disk", "expiry"], "{}", slack[0]);
    // A finding stops nothing: the cleanup ran all the same.
    assert_eq!(jobs(&w), ["db-migrate-2", "report-export"]);
    assert_eq!(ecr_images(&w).trim(), "['v1.2.2']");
    let certs = printed(&w.p.last_journal(), "certificates");
    assert!(certs.contains("staging/myapp-tls"), "{certs}");
}

/// The audited world: an IAM user, the CloudTrail log group, a vulnerability report, network
/// policies in prod; `clean` or with a finding for each of the audit's six checks.
fn audited_world(w: &World, clean: bool) {
    let criticals = if clean { 0 } else { 3 };
    w.p.kube.put(serde_json::json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
        "metadata": { "name": "replicaset-myapp-backend-myapp-backend", "namespace": "prod" },
        "report": { "summary": { "criticalCount": criticals, "highCount": 2 } },
    }));
    let policy_ns = if clean { "prod" } else { "staging" };
    w.p.kube.put(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": { "name": "default-deny", "namespace": policy_ns },
        "spec": { "podSelector": {}, "policyTypes": ["Ingress"] },
    }));
    if !clean {
        let mut dep = w.deployment("prod", "myapp-backend");
        dep["spec"]["template"]["spec"]["containers"][0]["env"] =
            serde_json::json!([{ "name": "PAYMENT_API_TOKEN", "value": "tok_live_abc" }]);
        w.p.kube.put(dep);
        w.p.kube.put(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "myapp-config", "namespace": "prod" },
            "data": { "LOG_LEVEL": "info", "db_password": "hunter2" },
        }));
    }
    w.p.kube.discover_stored_kinds();
    let root_event = if clean {
        ""
    } else {
        "{'timestamp': int(time.time() * 1000) - 600000, 'message': json.dumps({'eventName': 'CreateAccessKey', 'eventTime': '2026-01-02T03:04:05Z', 'userIdentity': {'type': 'Root'}, 'sourceIPAddress': '198.51.100.9'})},"
    };
    let console_user = if clean {
        ""
    } else {
        "iam.create_login_profile(UserName='bob', Password='Correct-horse-9!')\n"
    };
    let open_port = if clean {
        ""
    } else {
        "ec2 = boto3.client('ec2', endpoint_url=URL, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         sg = ec2.create_security_group(GroupName='debug-ssh', Description='left open')['GroupId']\n\
         ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{'IpProtocol': 'tcp', 'FromPort': 22, 'ToPort': 22, 'IpRanges': [{'CidrIp': '0.0.0.0/0'}]}])\n\
         ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{'IpProtocol': 'tcp', 'FromPort': 443, 'ToPort': 443, 'IpRanges': [{'CidrIp': '0.0.0.0/0'}]}])\n"
    };
    w.p.moto.boto3(&format!(
        "import time\n\
         URL = '{url}'\n\
         iam = boto3.client('iam', endpoint_url=URL, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         iam.create_user(UserName='bob')\n\
         iam.create_access_key(UserName='bob')\n\
         {console_user}\
         {open_port}\
         logs = boto3.client('logs', endpoint_url=URL, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         logs.create_log_group(logGroupName='cloudtrail/management-events')\n\
         logs.create_log_stream(logGroupName='cloudtrail/management-events', logStreamName='trail')\n\
         logs.put_log_events(logGroupName='cloudtrail/management-events', logStreamName='trail', logEvents=[\n\
             {{'timestamp': int(time.time() * 1000) - 3600000, 'message': json.dumps({{'eventName': 'ConsoleLogin', 'eventTime': '2026-01-01T09:00:00Z', 'userIdentity': {{'type': 'IAMUser', 'userName': 'jsmith'}}, 'sourceIPAddress': '203.0.113.7'}})}},\n\
             {root_event}\n\
         ])",
        url = w.p.moto.url()
    ));
}

const AUDIT: [&str; 5] = ["run", "security-audit", "-e", "prod", "--non-interactive"];

#[test]
fn the_security_audit_passes_a_clean_platform_and_lists_the_logins() {
    let w = World::new();
    audited_world(&w, true);
    let out = w.p.run(&AUDIT);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert!(
        slack[0].contains("Security audit of prod passed (0 critical vulnerabilities, budget 0)"),
        "{}",
        slack[0]
    );
    let journal = w.p.last_journal();
    assert!(
        printed(&journal, "access-logs").contains("jsmith from 203.0.113.7"),
        "{journal:?}"
    );
    let statuses = step_statuses(&journal);
    assert_eq!(
        statuses.get("trivy-install").map(String::as_str),
        Some("skipped"),
        "{statuses:?}"
    );
}

#[test]
fn the_security_audit_finds_each_of_the_six_findings_and_changes_nothing() {
    let w = World::new();
    audited_world(&w, false);
    let before = w.deployment("prod", "myapp-backend")["spec"].clone();
    let out = w.p.run(&AUDIT);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let slack = w.p.slack();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(
        failed_checks(&slack[0]),
        [
            "iam",
            "exposed-secrets",
            "network-policies",
            "access-logs",
            "vulnerability-budget",
            "security-groups"
        ],
        "{}",
        slack[0]
    );
    let journal = w.p.last_journal();
    let said = |step: &str| printed(&journal, step);
    assert!(said("iam").contains("bob"), "{}", said("iam"));
    let secrets = said("exposed-secrets");
    assert!(
        secrets.contains("Deployment prod/myapp-backend: env PAYMENT_API_TOKEN"),
        "{secrets}"
    );
    assert!(
        secrets.contains("ConfigMap prod/myapp-config: key db_password"),
        "{secrets}"
    );
    assert!(
        !secrets.contains("LOG_LEVEL") && !secrets.contains("tok_live_abc"),
        "{secrets}"
    );
    assert!(
        said("access-logs").contains("CreateAccessKey from 198.51.100.9"),
        "{}",
        said("access-logs")
    );
    let groups = said("security-groups");
    assert!(groups.contains("debug-ssh: tcp 22-22 open to 0.0.0.0/0"), "{groups}");
    assert!(!groups.contains("443"), "{groups}");
    // An audit only reads.
    assert_eq!(w.deployment("prod", "myapp-backend")["spec"], before);
    assert!(w.p.kube.get("ConfigMap", Some("prod"), "myapp-config").is_some());
}

/// Prod's EKS cluster in moto, at Kubernetes 1.33.
fn eks_cluster(w: &World) {
    w.p.moto.boto3(&format!(
        "eks = boto3.client('eks', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         eks.create_cluster(name='eks-prod', version='1.33', roleArn='arn:aws:iam::123456789012:role/eks-cluster', resourcesVpcConfig={{'subnetIds': ['subnet-1', 'subnet-2']}})",
        w.p.moto.url()
    ));
}

/// The guided part that needs no other playbook's world: the security audit and the runbook
/// review (a checklist, answered done); the rest declines by itself without a terminal.
const MONTHLY: [&str; 16] = [
    "run",
    "monthly-maintenance",
    "-e",
    "prod",
    "--non-interactive",
    "-p",
    "guided=false",
    "-p",
    "drill=false",
    "--approve",
    "security-audit",
    "--approve",
    "runbook-review",
    "--input",
    "runbook-review=done",
    "--output=text",
];

#[test]
fn monthly_maintenance_reviews_capacity_runs_the_audit_as_a_sub_run_and_posts_the_summary() {
    let w = World::new();
    audited_world(&w, true);
    platform_metrics(&w, 0.5, 0.6);
    eks_cluster(&w);
    let out = w.p.run(&MONTHLY);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let slack = w.p.slack();
    // The audit's own report, then the session's summary.
    assert_eq!(slack.len(), 2, "{slack:?}");
    assert!(slack[0].contains("Security audit of prod passed"), "{}", slack[0]);
    assert!(
        slack[1].contains("Peak requests (30d): CPU 50.0%, memory 50.0% of allocatable; cluster 1.33. Done: security-audit runbook-review -"),
        "{}",
        slack[1]
    );
    let statuses = step_statuses(&w.p.last_journal());
    for skipped in ["certificates", "dr-drill", "target", "k8s-upgrade", "rotate-secrets"] {
        assert_eq!(
            statuses.get(skipped).map(String::as_str),
            Some("skipped"),
            "{skipped}: {statuses:?}"
        );
    }
    assert_eq!(
        statuses.get("security-audit/iam").map(String::as_str),
        Some("ok"),
        "{statuses:?}"
    );
    // Nothing but reads: no stand-in was called, the cluster is as it was.
    assert!(w.p.calls().is_empty(), "{:?}", w.p.calls());
}

#[test]
fn a_monthly_audit_with_findings_fails_its_task_but_the_session_goes_on_and_names_it() {
    let w = World::new();
    audited_world(&w, false);
    platform_metrics(&w, 0.5, 0.6);
    eks_cluster(&w);
    let out = w.p.run(&MONTHLY);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let statuses = step_statuses(&w.p.last_journal());
    assert_eq!(
        statuses.get("security-audit").map(String::as_str),
        Some("failed"),
        "{statuses:?}"
    );
    // The checklist after it still ran.
    assert_eq!(
        statuses.get("runbook-review").map(String::as_str),
        Some("ok"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.get("summary").map(String::as_str),
        Some("skipped"),
        "{statuses:?}"
    );
    let slack = w.p.slack();
    assert_eq!(slack.len(), 2, "{slack:?}");
    assert!(slack[0].contains("Security audit of prod has findings"), "{}", slack[0]);
    assert!(
        slack[1].contains("Monthly maintenance of prod finished with failed tasks"),
        "{}",
        slack[1]
    );
    assert_eq!(failed_checks(&slack[1]), ["security-audit"], "{}", slack[1]);
}
