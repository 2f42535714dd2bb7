//! The shipped setup and maintenance playbooks (`cluster-setup`, `k8s-upgrade`,
//! `cert-renewal`) run end to end on the platform: the repository's workspace against the
//! Kubernetes API test server seeded with the sandbox's world, moto behind the `aws` lines,
//! stand-ins for terraform, eksctl and helm, real `kubectl` and `openssl`. Each has a happy
//! path and a failure whose rollback is checked on the resulting state.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use runbook_tests::platform::{Platform, step_statuses};
use runbook_tests::{poll_every, within};
use serde_json::{Value, json};

/// The platform with the sandbox's seed, its kinds in discovery (kubectl reads Certificates and
/// Applications) and kubectl's anonymous requests allowed.
fn platform() -> Platform {
    let p = Platform::new();
    p.kube
        .seed_file(&runbook_tests::repo_root().join("examples/platform-sandbox/seed.yaml"))
        .unwrap_or_else(|e| panic!("the sandbox's seed: {e}"));
    p.kube.allow_anonymous();
    p.kube.discover_stored_kinds();
    p
}

// --- cert-renewal --------------------------------------------------------------------------------

/// A self-signed certificate for `host` valid for `days`, made by openssl: (cert PEM, key PEM).
fn certificate(dir: &Path, name: &str, host: &str, days: u32) -> (String, String) {
    let (crt, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days"])
        .arg(days.to_string())
        .arg("-subj")
        .arg(format!("/CN={host}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(crt).expect("the cert"),
        std::fs::read_to_string(key).expect("the key"),
    )
}

/// RFC 3339 of an hour short of `days` from now: `days - 1` whole days left, whenever the run
/// reads it.
fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days) - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What cert-manager does once a certificate is issued: the TLS secret `myapp-tls` holds it,
/// and the Certificate is Ready until `not_after`.
fn issued(p: &Platform, ns: &str, (crt, key): &(String, String), not_after: &str) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    p.kube.put(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": { "name": "myapp-tls", "namespace": ns },
        "data": { "tls.crt": b64(crt), "tls.key": b64(key) },
    }));
    let mut cert = p
        .kube
        .get("Certificate", Some(ns), "myapp-tls")
        .expect("the Certificate");
    cert["status"] = json!({
        "conditions": [{ "type": "Ready", "status": "True", "reason": "Ready", "message": "Certificate is up to date and has not expired" }],
        "notAfter": not_after,
    });
    p.kube.put(cert);
}

/// `openssl s_server` on a free port of 127.0.0.1 serving `cert`, the ingress in front of the
/// application; killed on drop.
struct Tls {
    child: Child,
    port: u16,
}

impl Tls {
    /// Serves `cert` on a free port.
    fn serve(dir: &Path, cert: &(String, String)) -> Tls {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Tls::serve_on(dir, cert, port)
    }

    /// Serves `cert` on `port` (the ingress reloading its certificate on the same address);
    /// starts again while the port is not free yet.
    fn serve_on(dir: &Path, (crt, key): &(String, String), port: u16) -> Tls {
        let (c, k) = (
            dir.join(format!("served-{port}.crt")),
            dir.join(format!("served-{port}.key")),
        );
        std::fs::write(&c, crt).expect("write");
        std::fs::write(&k, key).expect("write");
        let mut child = spawn_s_server(port, &c, &k);
        let listening = within(Duration::from_secs(10), || {
            if let Ok(Some(_)) = child.try_wait() {
                child = spawn_s_server(port, &c, &k);
            }
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(listening, "openssl s_server does not listen on {port}");
        Tls { child, port }
    }

    fn endpoint(&self) -> String {
        format!("endpoint=127.0.0.1:{}", self.port)
    }
}

fn spawn_s_server(port: u16, crt: &Path, key: &Path) -> Child {
    Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(crt)
        .arg("-key")
        .arg(key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts")
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `found` every 100 ms for at most `limit`; panics with what the run wrote so far.
fn meanwhile(run: &runbook_tests::Background, limit: Duration, what: &str, found: impl Fn() -> bool) {
    assert!(
        poll_every(limit, Duration::from_millis(100), || found().then_some(())).is_some(),
        "not within {limit:?}: {what}\n--- the run's stderr\n{}",
        run.stderr()
    );
}

fn cert(p: &Platform) -> Value {
    p.kube
        .get("Certificate", Some("staging"), "myapp-tls")
        .expect("the Certificate")
}

#[test]
fn a_valid_certificate_is_checked_and_left_alone() {
    let p = platform();
    let certs = tempfile::tempdir().expect("temp dir");
    let valid = certificate(certs.path(), "valid", "staging.app.myapp.com", 60);
    issued(&p, "staging", &valid, &in_days(60));
    let uid = cert(&p)["metadata"]["uid"].clone();
    let tls = Tls::serve(certs.path(), &valid);
    let out = p.run(&[
        "run",
        "cert-renewal",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        &tls.endpoint(),
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let steps = step_statuses(&p.last_journal());
    assert_eq!(steps["delete"], "skipped", "{steps:?}");
    assert_eq!(steps["served"], "ok", "{steps:?}");
    assert_eq!(cert(&p)["metadata"]["uid"], uid, "the Certificate was not touched");
    assert!(
        p.slack().iter().any(|t| t.contains("was Ready=True, 59 days left")),
        "{:?}",
        p.slack()
    );
}

#[test]
fn an_expiring_certificate_is_recreated_and_the_new_one_is_served() {
    let p = platform();
    let certs = tempfile::tempdir().expect("temp dir");
    let old = certificate(certs.path(), "old", "staging.app.myapp.com", 5);
    let new = certificate(certs.path(), "new", "staging.app.myapp.com", 90);
    issued(&p, "staging", &old, &in_days(5));
    let before = cert(&p);
    // The ingress serves the old certificate until cert-manager has issued the new one.
    let old_tls = Tls::serve(certs.path(), &old);
    let (endpoint, port) = (old_tls.endpoint(), old_tls.port);
    let mut run = p.background(&[
        "run",
        "cert-renewal",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "delete",
        "-p",
        &endpoint,
    ]);
    // cert-manager sees a new Certificate (no status yet) and issues it.
    meanwhile(&run, Duration::from_secs(60), "the Certificate re-created", || {
        p.kube
            .get("Certificate", Some("staging"), "myapp-tls")
            .is_some_and(|c| c["metadata"]["uid"] != before["metadata"]["uid"])
    });
    // ...and the ingress reloads: the new certificate on the same address.
    drop(old_tls);
    issued(&p, "staging", &new, &in_days(90));
    let _new_tls = Tls::serve_on(certs.path(), &new, port);
    assert_eq!(run.finish(), 0, "{}", run.stderr());

    let after = cert(&p);
    assert_ne!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(after["spec"], before["spec"], "re-created from its own definition");
    let steps = step_statuses(&p.last_journal());
    for step in ["delete", "recreate", "ready", "issued", "served"] {
        assert_eq!(steps[step], "ok", "{step}: {steps:?}");
    }
    assert!(
        p.slack().iter().any(|t| t.contains("was Ready=True, 4 days left")),
        "{:?}",
        p.slack()
    );
}

#[test]
fn a_renewal_that_issues_no_fresh_certificate_puts_the_definition_back_and_pages() {
    let p = platform();
    let certs = tempfile::tempdir().expect("temp dir");
    let old = certificate(certs.path(), "old", "staging.app.myapp.com", 5);
    issued(&p, "staging", &old, &in_days(5));
    let before = cert(&p);
    let tls = Tls::serve(certs.path(), &old);
    let mut run = p.background(&[
        "run",
        "cert-renewal",
        "-e",
        "staging",
        "--non-interactive",
        "--approve",
        "delete",
        "-p",
        &tls.endpoint(),
    ]);
    meanwhile(&run, Duration::from_secs(60), "the Certificate re-created", || {
        p.kube
            .get("Certificate", Some("staging"), "myapp-tls")
            .is_some_and(|c| c["metadata"]["uid"] != before["metadata"]["uid"])
    });
    let recreated = cert(&p)["metadata"]["uid"].clone();
    // The issuer hands back the same short-lived certificate: Ready, but expiring.
    issued(&p, "staging", &old, &in_days(5));
    assert_eq!(run.finish(), 1, "{}", run.stderr());

    let journal = p.last_journal();
    let steps = step_statuses(&journal);
    assert_eq!(steps["issued"], "failed", "{steps:?}");
    assert!(
        journal
            .iter()
            .any(|r| r["type"] == "rollback_finished" && r["step"] == "delete"),
        "{journal:?}"
    );
    // The definition is back: the Certificate exists with its spec, as a new object (the
    // run's own copy was deleted by the undo of `recreate`, then the undo of `delete`
    // applied the definition read at the start).
    let after = cert(&p);
    assert_eq!(after["spec"], before["spec"]);
    assert_ne!(after["metadata"]["uid"], recreated);
    assert!(
        p.slack()
            .iter()
            .any(|t| t.contains("Renewal of certificate myapp-tls in staging failed")),
        "{:?}",
        p.slack()
    );
}

// --- k8s-upgrade ---------------------------------------------------------------------------------

const OLD_NODES: [&str; 3] = ["ip-10-0-1-1", "ip-10-0-2-1", "ip-10-0-3-1"];
const NEW_NODES: [&str; 3] = ["ip-10-0-4-1", "ip-10-0-5-1", "ip-10-0-6-1"];
const KUBELET_1_34: &str = "v1.34.0-eks-1a2b3c4";

/// The steps of `k8s-upgrade` that prod's policy asks about.
const UPGRADE_GATES: [&str; 9] = [
    "control-plane",
    "new-nodegroup",
    "cordon-old",
    "drain-old",
    "eks-addons",
    "cluster-autoscaler",
    "load-balancer-controller",
    "metrics-server",
    "delete-old-nodegroup",
];

/// The EKS cluster `eks-prod` in moto at `version` (made again: moto has no version update).
fn eks_prod(p: &Platform, version: &str) {
    p.moto.boto3(&format!(
        "eks = boto3.client('eks', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         if 'eks-prod' in eks.list_clusters()['clusters']:\n    eks.delete_cluster(name='eks-prod')\n\
         eks.create_cluster(name='eks-prod', version='{version}', roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={{'subnetIds': ['subnet-1', 'subnet-2']}})",
        p.moto.url()
    ));
}

/// A Ready node of node group `group` whose kubelet runs `kubelet`.
fn node(name: &str, group: &str, kubelet: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name, "eks.amazonaws.com/nodegroup": group } },
        "spec": {},
        "status": {
            "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady" }],
            "allocatable": { "cpu": "4", "memory": "16Gi", "pods": "58" },
            "nodeInfo": { "kubeletVersion": kubelet },
        },
    })
}

/// kubectl against the platform's API server, as a person would type it.
fn kubectl(p: &Platform, args: &[&str]) {
    let out = Command::new("kubectl")
        .args(["--context", "eks-prod"])
        .args(args)
        .envs(p.env().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the upgrade of prod (1.33 in moto) to 1.34 on node group ng-prod-1-34 in the
/// background, with the confirmations of `gates` given, and returns once it waits for the
/// control plane's approval: nothing has been changed yet.
fn start_upgrade(w: &runbook_tests::world::World, gates: &[&str]) -> runbook_tests::Background {
    eks_prod(&w.p, "1.33");
    let mut args = vec![
        "run",
        "k8s-upgrade",
        "-e",
        "prod",
        "-p",
        "target_version=1.34",
        "-p",
        "new_nodegroup=ng-prod-1-34",
        "--non-interactive",
    ];
    for gate in gates {
        args.extend(["--approve", gate]);
    }
    let mut run = w.p.background(&args);
    run.wait_for_within(Duration::from_secs(90), |l| {
        l.contains("\"type\":\"log\"") && l.contains("waiting up to")
    });
    assert!(calls_of(&w.p, &["eksctl", "helm"]).is_empty(), "{:?}", w.p.calls());
    run
}

/// `runbook approve RUN control-plane --as NAME` (with `--reject` when not `yes`).
fn decide_control_plane(w: &runbook_tests::world::World, run: &runbook_tests::Background, name: &str, yes: bool) {
    let id = run.run_id();
    let mut args = vec!["approve", id.as_str(), "control-plane", "--as", name];
    if !yes {
        args.push("--reject");
    }
    let out = w.p.run(&args);
    assert_eq!(out.code, 0, "{}", out.transcript());
}

/// Plays EKS for the stand-in eksctl once an SRE lead approved the upgrade: the control plane
/// reports 1.34 (made again in moto before the approval, so that no read of the run ever
/// finds the cluster missing), and the new node group's nodes, their kubelets at `kubelet`,
/// join once it was created.
fn upgrade_approved(w: &runbook_tests::world::World, run: &runbook_tests::Background, kubelet: &str) {
    eks_prod(&w.p, "1.34");
    decide_control_plane(w, run, "sre-lead-1", true);
    let called = |prefix: &str| w.p.calls().iter().any(|c| c.starts_with(prefix));
    meanwhile(run, Duration::from_secs(90), "eksctl create nodegroup", || {
        called("eksctl create nodegroup")
    });
    for name in NEW_NODES {
        w.p.kube.put(node(name, "ng-prod-1-34", kubelet));
    }
}

/// Waits for the upgrade to end (its exit code); past the deadline, panics with what the run
/// said and what the API server saw last, so a hang can be told from a slow run.
fn upgrade_ends(w: &runbook_tests::world::World, run: &mut runbook_tests::Background) -> i32 {
    let ended = poll_every(Duration::from_secs(110), Duration::from_millis(200), || {
        run.child.try_wait().ok().flatten()
    });
    if ended.is_none() {
        let requests = w.p.kube.requests();
        let last: Vec<&String> = requests.iter().rev().take(40).collect();
        let pods: Vec<String> =
            w.p.kube
                .list("Pod", None)
                .iter()
                .map(|p| format!("{} on {}", p["metadata"]["name"], p["spec"]["nodeName"]))
                .collect();
        panic!(
            "the upgrade did not end within 110s\n--- stderr\n{}\n--- last requests, newest first\n{last:#?}\n--- pods\n{pods:#?}",
            run.stderr()
        );
    }
    run.finish()
}

fn calls_of(p: &Platform, tools: &[&str]) -> Vec<String> {
    p.calls()
        .into_iter()
        .filter(|c| tools.iter().any(|t| c.starts_with(&format!("{t} "))))
        .collect()
}

/// The nodes the application's pods in prod run on.
fn app_nodes(p: &Platform) -> std::collections::BTreeSet<String> {
    p.kube
        .list("Pod", Some("prod"))
        .iter()
        .filter(|pod| pod["metadata"]["labels"]["app"] == "myapp-backend")
        .filter_map(|pod| pod["spec"]["nodeName"].as_str().map(String::from))
        .collect()
}

#[test]
fn k8s_upgrade_moves_the_workloads_to_a_new_node_group_and_retires_the_old_one() {
    let w = runbook_tests::world::World::new();
    assert!(app_nodes(&w.p).iter().all(|n| OLD_NODES.contains(&n.as_str())));
    let mut run = start_upgrade(&w, &UPGRADE_GATES);
    upgrade_approved(&w, &run, KUBELET_1_34);
    // The old node group's instances terminate: their nodes leave the cluster.
    meanwhile(&run, Duration::from_secs(120), "eksctl delete nodegroup", || {
        w.p.calls().iter().any(|c| c.starts_with("eksctl delete nodegroup"))
    });
    for name in OLD_NODES {
        kubectl(&w.p, &["delete", "node", name]);
    }
    assert_eq!(upgrade_ends(&w, &mut run), 0, "{}", run.stderr());

    assert_eq!(
        calls_of(&w.p, &["eksctl", "helm"]),
        [
            "eksctl upgrade cluster --name=eks-prod --region=us-east-1 --version=1.34 --approve",
            "eksctl create nodegroup --cluster eks-prod --region us-east-1 --name ng-prod-1-34 --version 1.34 --managed --node-type m5.large --nodes 3 --nodes-min 3 --nodes-max 6",
            "eksctl update addon --cluster=eks-prod --region=us-east-1 --name=vpc-cni --version=latest --force --wait",
            "eksctl update addon --cluster=eks-prod --region=us-east-1 --name=coredns --version=latest --force --wait",
            "eksctl update addon --cluster=eks-prod --region=us-east-1 --name=kube-proxy --version=latest --force --wait",
            "helm repo update",
            "helm upgrade cluster-autoscaler autoscaler/cluster-autoscaler --namespace kube-system --reuse-values --set image.tag=v1.34.0 --wait --timeout 10m",
            "helm upgrade aws-load-balancer-controller eks/aws-load-balancer-controller --namespace kube-system --reuse-values --set clusterName=eks-prod --wait --timeout 10m",
            "helm upgrade metrics-server metrics-server/metrics-server --namespace kube-system --reuse-values --wait --timeout 10m",
            "eksctl delete nodegroup --cluster eks-prod --region us-east-1 --name ng-prod --drain=false --wait",
        ]
    );
    // The application was drained onto the new nodes, one old node at a time.
    let on = app_nodes(&w.p);
    assert!(
        !on.is_empty() && on.iter().all(|n| NEW_NODES.contains(&n.as_str())),
        "{on:?}"
    );
    let journal = w.p.last_journal();
    let drained: Vec<&str> = journal
        .iter()
        .filter(|r| r["type"] == "step_finished" && r["step"].as_str().is_some_and(|s| s.starts_with("drain-old[")))
        .filter_map(|r| r["step"].as_str())
        .collect();
    assert_eq!(drained, ["drain-old[0]", "drain-old[1]", "drain-old[2]"], "{journal:?}");
    assert!(
        journal
            .iter()
            .any(|r| r["type"] == "gate" && r["step"] == "control-plane" && r.to_string().contains("sre-lead-1")),
        "{journal:?}"
    );
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("eks-prod upgraded from 1.33 to 1.34 (node group ng-prod-1-34)")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn k8s_upgrade_whose_new_nodes_run_the_old_kubelet_goes_back_to_the_old_nodes() {
    let w = runbook_tests::world::World::new();
    let mut run = start_upgrade(&w, &UPGRADE_GATES);
    // The new node group came up on the old AMI: its kubelets are still 1.33.
    upgrade_approved(&w, &run, "v1.33.5-eks-9f8e7d6");
    assert_eq!(upgrade_ends(&w, &mut run), 1, "{}", run.stderr());

    let steps = step_statuses(&w.p.last_journal());
    assert_eq!(steps["verify-kubelets"], "failed", "{steps:?}");
    // Undone in reverse: the Helm releases, then the old nodes uncordoned, then the new
    // node group deleted; the old one is kept, the control plane stays upgraded.
    let calls = calls_of(&w.p, &["eksctl", "helm"]);
    let undo: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with("helm rollback") || c.starts_with("eksctl delete"))
        .collect();
    assert_eq!(
        undo,
        [
            "helm rollback metrics-server --namespace kube-system --wait --timeout 10m",
            "helm rollback aws-load-balancer-controller --namespace kube-system --wait --timeout 10m",
            "helm rollback cluster-autoscaler --namespace kube-system --wait --timeout 10m",
            "eksctl delete nodegroup --cluster eks-prod --region us-east-1 --name ng-prod-1-34 --wait",
        ]
    );
    // The new group went only once eksctl had confirmed the old one is still there.
    let at = |call: &str| {
        calls
            .iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("no `{call}`: {calls:?}"))
    };
    assert!(
        at("eksctl get nodegroup --cluster eks-prod --region us-east-1 --name ng-prod")
            < at("eksctl delete nodegroup --cluster eks-prod --region us-east-1 --name ng-prod-1-34 --wait"),
        "{calls:?}"
    );
    for name in OLD_NODES {
        let n = w.p.kube.get("Node", None, name).expect("the old node is kept");
        assert_ne!(n["spec"]["unschedulable"], true, "{name} is schedulable again");
    }
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("Kubernetes upgrade of eks-prod to 1.34 FAILED")),
        "{:?}",
        w.p.slack()
    );
}

// --- cluster-setup -------------------------------------------------------------------------------

/// A child process (a small server) killed on drop.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `dir` over HTTP on 127.0.0.1 (`python3 -m http.server`), as a mirror of ArgoCD's
/// release files; its URL.
fn http_files(dir: &Path) -> (Serving, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server starts");
    let serving = Serving(child);
    let listening = within(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(listening, "http.server does not listen");
    (serving, format!("http://127.0.0.1:{port}"))
}

/// ArgoCD's install manifest as the mirror serves it: a part of the real one.
const ARGOCD_INSTALL: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels: { app.kubernetes.io/part-of: argocd }
data:
  timeout.reconciliation: 180s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
  labels: { app.kubernetes.io/name: argocd-repo-server }
spec:
  replicas: 1
  selector: { matchLabels: { app.kubernetes.io/name: argocd-repo-server } }
  template:
    metadata: { labels: { app.kubernetes.io/name: argocd-repo-server } }
    spec:
      containers:
        - { name: argocd-repo-server, image: quay.io/argoproj/argocd:v2.14.11 }
";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the platform's workspace a checkout of the repository as the setup expects it (the
/// Terraform folders, the frontend, ArgoCD's projects and applications), and the world around
/// it: the cluster ACTIVE in moto, the portfolio bucket, ArgoCD's mirror, the tools' versions.
/// Returns the mirror, which must outlive the run.
fn setup_world(w: &mut runbook_tests::world::World, mirror: &Path) -> Serving {
    let root = w.p.path().to_path_buf();
    git(&root, &["init", "-q"]);
    git(
        &root,
        &[
            "remote",
            "add",
            "origin",
            "https://gitlab.com/mycompany/kubernetes-cicd-complete.git",
        ],
    );
    write(
        &root,
        "infrastructure/kubernetes/terraform/environments/staging/main.tf",
        "# the cluster\n",
    );
    write(
        &root,
        "infrastructure/portfolio-website/terraform/main.tf",
        "# the bucket\n",
    );
    write(
        &root,
        "applications/frontend/package.json",
        r#"{ "name": "portfolio", "version": "1.0.0", "private": true,
  "scripts": { "build": "mkdir -p .next && echo built > .next/BUILD_ID", "export": "mkdir -p out && cp public/index.html out/index.html" } }"#,
    );
    write(
        &root,
        "applications/frontend/package-lock.json",
        r#"{ "name": "portfolio", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": { "": { "name": "portfolio", "version": "1.0.0" } } }"#,
    );
    write(
        &root,
        "applications/frontend/public/index.html",
        "<h1>Samuel Jackson, portfolio</h1>\n",
    );
    write(
        &root,
        "argocd/projects/platform.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: platform\n  namespace: argocd\nspec:\n  sourceRepos: ['*']\n  destinations: [{ server: 'https://kubernetes.default.svc', namespace: '*' }]\n",
    );
    // The staging Application as the repository defines it (the seed's, without its status).
    let mut app = w.application("staging");
    app.as_object_mut().map(|o| o.remove("status"));
    app["metadata"] =
        json!({ "name": "myapp-backend-staging", "namespace": "argocd", "labels": app["metadata"]["labels"] });
    write(
        &root,
        "argocd/applications/myapp-backend-staging.json",
        &app.to_string(),
    );
    // ArgoCD's own project exists once it is installed; kubectl finds the kinds in discovery.
    w.p.kube.put(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": { "name": "default", "namespace": "argocd" }, "spec": {},
    }));
    w.p.kube.discover_stored_kinds();

    w.p.moto.boto3(&format!(
        "eks = boto3.client('eks', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         eks.create_cluster(name='eks-staging', version='1.33', roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={{'subnetIds': ['subnet-1']}})\n\
         s3.create_bucket(Bucket='portfolio-staging-website')\n\
         s3.put_bucket_policy(Bucket='portfolio-staging-website', Policy=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': '*', 'Action': 's3:GetObject', 'Resource': 'arn:aws:s3:::portfolio-staging-website/*'}}]}}))\n\
         s3.put_object(Bucket='portfolio-staging-website', Key='old-page.html', Body=b'gone after the sync')",
        w.p.moto.url()
    ));
    w.p.set_var(
        "portfolio_url",
        &format!("{}/portfolio-staging-website/index.html", w.p.moto.url()),
    );
    w.p.stand_in_answers("terraform", "Terraform v1.9.8\non linux_amd64\n", 0);
    w.p.stand_in_answers("helm", "v3.15.4+gfa9efb0\n", 0);
    let npm_cache = mirror.join("npm-cache");
    w.p.set_env("npm_config_cache", &npm_cache.display().to_string());
    w.p.set_env("npm_config_offline", "true");
    write(mirror, "install.yaml", ARGOCD_INSTALL);
    let (serving, url) = http_files(mirror);
    w.p.set_env("ARGOCD_MIRROR", &url);
    serving
}

fn setup_run(w: &runbook_tests::world::World, extra: &[&str]) -> runbook_tests::Output {
    let manifest = format!(
        "argocd_manifest={}/install.yaml",
        w.p.env()
            .iter()
            .find(|(k, _)| k == "ARGOCD_MIRROR")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    );
    let mut args = vec![
        "run",
        "cluster-setup",
        "-e",
        "staging",
        "--non-interactive",
        "-p",
        manifest.as_str(),
        // CI's kubectl is Debian's kubernetes-client, 1.20: older than the runbook's 1.28,
        // and enough for what the playbook's kubectl lines do.
        "-p",
        "min_kubectl=1.20",
    ];
    for gate in ["tf-apply", "addons", "monitoring", "portfolio-infra", "portfolio-sync"] {
        args.extend(["--approve", gate]);
    }
    args.extend(extra);
    w.p.run(&args)
}

fn addon_calls(p: &Platform, verb: &str) -> Vec<String> {
    p.calls()
        .into_iter()
        .filter(|c| c.starts_with(&format!("helm {verb} ")))
        .map(|c| c.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn cluster_setup_installs_the_platform_publishes_the_portfolio_and_verifies_it() {
    let mut w = runbook_tests::world::World::new();
    let mirror = tempfile::tempdir().expect("temp dir");
    let _mirror = setup_world(&mut w, mirror.path());
    let kubeconfig_before =
        std::fs::read_to_string(&w.p.env().iter().find(|(k, _)| k == "KUBECONFIG").expect("KUBECONFIG").1)
            .expect("the kubeconfig");
    let out = setup_run(&w, &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());

    let calls = w.p.calls();
    for expected in [
        "terraform plan -input=false -out=tfplan",
        "terraform apply -input=false tfplan",
        "terraform apply -input=false -auto-approve",
    ] {
        assert!(calls.iter().any(|c| c == expected), "{expected}: {calls:?}");
    }
    assert!(!calls.iter().any(|c| c.contains("destroy")), "{calls:?}");
    assert_eq!(
        addon_calls(&w.p, "upgrade"),
        [
            "helm upgrade --install aws-load-balancer-controller",
            "helm upgrade --install cert-manager",
            "helm upgrade --install external-dns",
            "helm upgrade --install metrics-server",
            "helm upgrade --install cluster-autoscaler",
            "helm upgrade --install kube-prometheus-stack",
        ]
    );
    assert!(addon_calls(&w.p, "uninstall").is_empty(), "{calls:?}");
    // ArgoCD from its manifest, the repository's project and application, applied by kubectl.
    assert!(w.p.kube.get("ConfigMap", Some("argocd"), "argocd-cm").is_some());
    assert!(
        w.p.kube
            .get("Deployment", Some("argocd"), "argocd-repo-server")
            .is_some()
    );
    assert!(w.p.kube.get("AppProject", Some("argocd"), "platform").is_some());
    // The existing kube context was kept, not rewritten for moto's endpoint.
    let steps = step_statuses(&w.p.last_journal());
    assert_eq!(steps["kubeconfig"], "skipped", "{steps:?}");
    let kubeconfig_after =
        std::fs::read_to_string(&w.p.env().iter().find(|(k, _)| k == "KUBECONFIG").expect("KUBECONFIG").1)
            .expect("the kubeconfig");
    assert_eq!(kubeconfig_after, kubeconfig_before);
    for step in [
        "ready-app",
        "ready-alerts",
        "ready-errors",
        "ready-latency",
        "smoke",
        "verify-pods",
        "verify-argocd",
        "verify-portfolio",
    ] {
        assert_eq!(steps[step], "ok", "{step}: {steps:?}");
    }
    // The build is what the bucket holds now; what it did not build is gone.
    let listed = w.p.moto.boto3(
        "print(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='portfolio-staging-website').get('Contents', [])))\n\
         print(s3.get_object(Bucket='portfolio-staging-website', Key='index.html')['Body'].read().decode().strip())",
    );
    assert_eq!(listed, "['index.html']\n<h1>Samuel Jackson, portfolio</h1>\n");
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("Environment staging is set up and verified")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn cluster_setup_that_fails_at_the_argocd_applications_uninstalls_what_it_installed() {
    let mut w = runbook_tests::world::World::new();
    let mirror = tempfile::tempdir().expect("temp dir");
    let _mirror = setup_world(&mut w, mirror.path());
    // The setup's identity may create ArgoCD projects but not change Applications.
    w.p.kube.forbid("patch", "applications");
    let out = setup_run(&w, &["-p", "with_portfolio=false"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("argocd-apps"), "{}", out.stderr);

    // Everything the run put into the cluster is gone again, newest first; Terraform's
    // resources stay for a fix-forward.
    assert_eq!(
        addon_calls(&w.p, "uninstall"),
        [
            "helm uninstall kube-prometheus-stack --namespace",
            "helm uninstall cluster-autoscaler --namespace",
            "helm uninstall metrics-server --namespace",
            "helm uninstall external-dns --namespace",
            "helm uninstall cert-manager --namespace",
            "helm uninstall aws-load-balancer-controller --namespace",
        ]
    );
    assert!(w.p.kube.get("ConfigMap", Some("argocd"), "argocd-cm").is_none());
    assert!(
        w.p.kube
            .get("Deployment", Some("argocd"), "argocd-repo-server")
            .is_none()
    );
    assert!(w.p.kube.get("AppProject", Some("argocd"), "platform").is_none());
    // What the repository's argocd/ folders define is deleted again, as on a new cluster.
    assert!(
        w.p.kube
            .get("Application", Some("argocd"), "myapp-backend-staging")
            .is_none()
    );
    // The namespace was there before the run: its undo leaves it.

    assert!(w.p.kube.get("Namespace", None, "argocd").is_some());
    assert!(w.p.calls().iter().any(|c| c == "terraform apply -input=false tfplan"));
    assert!(!w.p.calls().iter().any(|c| c.contains("destroy")));
    assert!(
        w.p.slack()
            .iter()
            .any(|t| t.contains("Setup of staging did not complete")),
        "{:?}",
        w.p.slack()
    );
}

#[test]
fn k8s_upgrade_keeps_the_old_node_group_when_its_deletion_is_declined() {
    let w = runbook_tests::world::World::new();
    let gates: Vec<&str> = UPGRADE_GATES
        .into_iter()
        .filter(|g| *g != "delete-old-nodegroup")
        .collect();
    // An SRE lead says no: refused, nothing changed.
    let mut refused = start_upgrade(&w, &gates);
    decide_control_plane(&w, &refused, "sre-lead-2", false);
    assert_eq!(refused.finish(), 4, "{}", refused.stderr());
    assert!(calls_of(&w.p, &["eksctl", "helm"]).is_empty(), "{:?}", w.p.calls());

    let mut run = start_upgrade(&w, &gates);
    upgrade_approved(&w, &run, KUBELET_1_34);
    assert_eq!(upgrade_ends(&w, &mut run), 0, "{}", run.stderr());

    let steps = step_statuses(&w.p.last_journal());
    assert_eq!(steps["delete-old-nodegroup"], "skipped", "{steps:?}");
    assert_eq!(steps["old-nodes-gone"], "skipped", "{steps:?}");
    assert!(
        !w.p.calls().iter().any(|c| c.starts_with("eksctl delete")),
        "{:?}",
        w.p.calls()
    );
    // Kept drained and cordoned for a later cleanup; the application runs on the new nodes.
    for name in OLD_NODES {
        let n = w.p.kube.get("Node", None, name).expect("the old node is kept");
        assert_eq!(n["spec"]["unschedulable"], true, "{name}");
    }
    assert!(app_nodes(&w.p).iter().all(|n| NEW_NODES.contains(&n.as_str())));
}
