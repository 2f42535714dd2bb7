//! The sandbox a playbook author rehearses in: the built `kube-sandbox` with the example's seed,
//! driven by real `kubectl` and the `runbook` binary, stopped by a signal; bad seeds; and the
//! application stand-in read through a real Prometheus.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runbook_tests::app::{App, Track, Traffic};
use runbook_tests::servers::Prometheus;
use runbook_tests::webhooks::Webhooks;
use runbook_tests::{Output, on_path, poll, poll_every, repo_root, run_program, within};

/// Cargo builds the package's binaries for its integration tests and says where.
const SANDBOX: &str = env!("CARGO_BIN_EXE_kube-sandbox");

fn example(file: &str) -> PathBuf {
    repo_root().join("examples/platform-sandbox").join(file)
}

/// A running `kube-sandbox`; killed on drop if the test did not stop it.
struct Sandbox {
    child: Child,
    stdout: Arc<Mutex<String>>,
}

impl Sandbox {
    fn start(args: &[&str]) -> Sandbox {
        let mut child = Command::new(SANDBOX)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kube-sandbox starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        for (pipe, sink) in [
            (
                child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
                stdout.clone(),
            ),
            (
                child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
                stdout.clone(),
            ),
        ] {
            let Some(mut pipe) = pipe else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().expect("lock").push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Sandbox { child, stdout }
    }

    fn said(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// Waits, within 30 s, for `path` to exist (it is renamed into place whole).
    fn wait_for_file(&mut self, path: &Path) {
        let written = within(Duration::from_secs(30), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "kube-sandbox exited ({status}) before writing {}:\n{}",
                    path.display(),
                    self.said()
                );
            }
            path.is_file()
        });
        assert!(written, "no {} within 30s:\n{}", path.display(), self.said());
    }

    /// Sends `signal` and returns the exit code, which must come within 10 s.
    fn stop(&mut self, signal: nix::sys::signal::Signal) -> i32 {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal kube-sandbox");
        let status = poll(Duration::from_secs(10), || self.child.try_wait().ok().flatten());
        let Some(status) = status else {
            panic!("kube-sandbox still runs 10s after {signal}:\n{}", self.said());
        };
        status.code().unwrap_or(-1)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    let kubectl = on_path("kubectl")
        .expect("these tests need kubectl on PATH: scripts/test installs it (apt-get install kubernetes-client)");
    let mut all = vec!["--kubeconfig", kubeconfig.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    let out = run_program(&kubectl, &all, Duration::from_secs(60));
    assert_eq!(out.code, 0, "kubectl {}:\n{}", args.join(" "), out.transcript());
    out
}

/// The rows of a `kubectl get --no-headers`, each split on whitespace.
fn rows(out: &Output) -> Vec<Vec<String>> {
    out.stdout
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// Polls `kubectl get` until `done` holds for its rows, within 30 s (the sandbox's pod keeper
/// works on a thread of its own).
fn wait_rows(kubeconfig: &Path, args: &[&str], done: impl Fn(&[Vec<String>]) -> bool) -> Vec<Vec<String>> {
    let mut last = Vec::new();
    let found = poll_every(Duration::from_secs(30), Duration::from_millis(100), || {
        last = rows(&kubectl(kubeconfig, args));
        done(&last).then(|| last.clone())
    });
    found.unwrap_or_else(|| panic!("`kubectl {}` never showed what was awaited: {last:?}", args.join(" ")))
}

#[test]
fn the_sandbox_serves_the_platform_seed_to_kubectl_and_to_a_run_and_stops_on_sigint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("sandbox.kubeconfig");
    let seed = example("seed.yaml");
    let mut sandbox = Sandbox::start(&[
        "--seed",
        seed.to_str().expect("UTF-8"),
        "--kubeconfig",
        kubeconfig.to_str().expect("UTF-8"),
    ]);
    sandbox.wait_for_file(&kubeconfig);
    let config = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    assert!(config.contains("current-context: sandbox"), "{config}");

    let deployments = rows(&kubectl(&kubeconfig, &["get", "deployments", "-A", "--no-headers"]));
    let ready = |ns: &str, name: &str| {
        deployments
            .iter()
            .find(|r| r[0] == ns && r[1] == name)
            .map(|r| r[2].clone())
            .unwrap_or_else(|| panic!("no deployment {ns}/{name} in {deployments:?}"))
    };
    assert_eq!(ready("prod", "myapp-backend"), "3/3");
    assert_eq!(ready("staging", "myapp-backend"), "2/2");
    assert_eq!(ready("dev", "myapp-backend"), "1/1");
    assert_eq!(ready("prod", "myapp-backend-canary"), "0/0");
    assert_eq!(ready("argocd", "argocd-server"), "1/1");

    let nodes = rows(&kubectl(
        &kubeconfig,
        &[
            "get",
            "nodes",
            "-l",
            "eks.amazonaws.com/nodegroup=ng-prod",
            "--no-headers",
        ],
    ));
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(nodes.iter().all(|n| n[1] == "Ready"), "{nodes:?}");
    assert!(nodes.iter().any(|n| n[0] == "ip-10-0-1-1"), "{nodes:?}");

    // The sandbox keeps pods for every ReplicaSet, labelled from the template.
    let pods = wait_rows(
        &kubeconfig,
        &[
            "get",
            "pods",
            "-n",
            "prod",
            "-l",
            "app=myapp-backend,track=stable",
            "--no-headers",
        ],
        |r| r.len() == 3,
    );
    assert!(pods.iter().all(|p| p[1] == "1/1" && p[2] == "Running"), "{pods:?}");

    // ArgoCD Applications: the sandbox lists the seed's kinds in discovery, as installed CRDs.
    let apps = rows(&kubectl(
        &kubeconfig,
        &["get", "applications", "-n", "argocd", "--no-headers"],
    ));
    let summary: Vec<String> = apps
        .iter()
        .map(|r| r.iter().take(3).cloned().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        summary,
        [
            "myapp-backend-prod Synced Healthy",
            "myapp-backend-staging Synced Healthy"
        ]
    );
    let app: serde_json::Value = serde_json::from_str(
        &kubectl(
            &kubeconfig,
            &[
                "get",
                "application",
                "myapp-backend-staging",
                "-n",
                "argocd",
                "-o",
                "json",
            ],
        )
        .stdout,
    )
    .expect("an Application as JSON");
    assert_eq!(app["spec"]["syncPolicy"]["automated"]["selfHeal"], true);
    assert_eq!(app["spec"]["destination"]["namespace"], "staging");
    assert_eq!(app["status"]["sync"]["status"], "Synced");
    let revision = app["status"]["history"][0]["revision"].as_str().unwrap_or_default();
    assert!(
        revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()),
        "{app}"
    );

    // kubectl's own verbs change the sandbox.
    kubectl(
        &kubeconfig,
        &["scale", "deployment/myapp-backend", "-n", "dev", "--replicas=2"],
    );
    wait_rows(
        &kubeconfig,
        &["get", "pods", "-n", "dev", "-l", "app=myapp-backend", "--no-headers"],
        |r| r.len() == 2,
    );
    let before: Vec<String> = pods.iter().map(|p| p[0].clone()).collect();
    kubectl(
        &kubeconfig,
        &["rollout", "restart", "deployment/myapp-backend", "-n", "prod"],
    );
    kubectl(
        &kubeconfig,
        &[
            "rollout",
            "status",
            "deployment/myapp-backend",
            "-n",
            "prod",
            "--timeout=30s",
        ],
    );
    let after = wait_rows(
        &kubeconfig,
        &[
            "get",
            "pods",
            "-n",
            "prod",
            "-l",
            "app=myapp-backend,track=stable",
            "--no-headers",
        ],
        |r| r.len() == 3 && r.iter().all(|p| !before.contains(&p[0])),
    );
    assert_eq!(after.len(), 3);
    let revision = kubectl(
        &kubeconfig,
        &[
            "get",
            "deployment/myapp-backend",
            "-n",
            "prod",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
        ],
    );
    assert_eq!(revision.stdout, "2");

    // apply (client-side, then again unchanged), as the runbook's emergency config is applied.
    let manifest = dir.path().join("emergency.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: emergency-config, namespace: prod}\ndata: {MAINTENANCE: \"true\"}\n",
    )
    .expect("write the manifest");
    let applied = kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().expect("UTF-8")]);
    assert!(
        applied.stdout.contains("configmap/emergency-config created"),
        "{}",
        applied.transcript()
    );
    let again = kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().expect("UTF-8")]);
    assert!(again.stdout.contains("unchanged"), "{}", again.transcript());
    let value = kubectl(
        &kubeconfig,
        &[
            "get",
            "configmap",
            "emergency-config",
            "-n",
            "prod",
            "-o",
            "jsonpath={.data.MAINTENANCE}",
        ],
    );
    assert_eq!(value.stdout, "true");
    // No container runs: exec is refused at once (run_program fails the test on a hang).
    let kubectl_bin = on_path("kubectl").expect("kubectl");
    let exec = run_program(
        &kubectl_bin,
        &[
            "--kubeconfig",
            kubeconfig.to_str().expect("UTF-8"),
            "exec",
            "-n",
            "prod",
            "deployment/myapp-backend",
            "--",
            "true",
        ],
        Duration::from_secs(30),
    );
    assert_ne!(exec.code, 0, "{}", exec.transcript());
    assert!(exec.stderr.contains("runs no containers"), "{}", exec.transcript());

    // The shipped scale-app, run in the example workspace against the sandbox.
    let slack = Webhooks::start();
    let state = tempfile::tempdir().expect("state dir");
    let run = runbook_tests::runbook(
        &example(""),
        [
            "--state-dir",
            state.path().to_str().expect("UTF-8"),
            "run",
            "scale-app",
            "-e",
            "staging",
            "-p",
            "replicas=3",
            "--approve",
            "scale",
        ],
    )
    .envs(&[
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("SLACK_WEBHOOK_URL", slack.url("/slack")),
    ])
    .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let replicas = kubectl(
        &kubeconfig,
        &[
            "get",
            "deployment/myapp-backend",
            "-n",
            "staging",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(replicas.stdout, "3");
    wait_rows(
        &kubeconfig,
        &[
            "get",
            "pods",
            "-n",
            "staging",
            "-l",
            "app=myapp-backend,track=stable",
            "--no-headers",
        ],
        |r| r.len() == 3,
    );
    let told = slack.posts_to("/slack");
    assert!(
        told.iter().any(|r| r.json()["text"]
            .as_str()
            .is_some_and(|t| t.contains("scaled from 2 to 3 replicas"))),
        "{told:?}"
    );

    assert_eq!(sandbox.stop(nix::sys::signal::Signal::SIGINT), 0, "{}", sandbox.said());
    assert!(sandbox.said().contains("SIGINT: stopped"), "{}", sandbox.said());
    assert!(kubeconfig.is_file(), "the kubeconfig stays where the user asked for it");
}

#[test]
fn the_sandbox_stops_cleanly_on_sigterm_and_sighup_and_serves_the_app_stand_in() {
    for signal in [nix::sys::signal::Signal::SIGTERM, nix::sys::signal::Signal::SIGHUP] {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut sandbox = Sandbox::start(&["--kubeconfig", kubeconfig.to_str().expect("UTF-8"), "--app-port", "0"]);
        sandbox.wait_for_file(&kubeconfig);
        // The app's address is printed once the kubeconfig is written; read the line for it.
        let url = poll(Duration::from_secs(10), || {
            sandbox
                .said()
                .lines()
                .find_map(|l| l.strip_prefix("kube-sandbox: application stand-in "))
                .and_then(|rest| rest.split_whitespace().next())
                .map(String::from)
        })
        .unwrap_or_else(|| panic!("no application stand-in address:\n{}", sandbox.said()));
        let (code, body) = http(&url, "GET", "/health");
        assert_eq!((code, body.as_str()), (200, "ok"));
        let (code, metrics) = http(&url, "GET", "/metrics");
        assert_eq!(code, 200);
        assert!(
            metrics
                .contains(r#"http_requests_total{namespace="prod",app="myapp-backend",track="stable",status="500"}"#),
            "{metrics}"
        );
        assert_eq!(sandbox.stop(signal), 0, "{}", sandbox.said());
    }
}

#[test]
fn a_bad_seed_is_refused_with_its_file_line_and_column_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let cases = [
        (
            "syntax.yaml",
            "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: prod\n",
            "syntax.yaml:3:13: not valid YAML: unclosed bracket",
        ),
        (
            "nameless.yaml",
            "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: prod}\n\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {namespace: prod}\n",
            "nameless.yaml:5:3: the Deployment has no metadata.name",
        ),
        (
            "invalid.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: Web, namespace: prod}\n",
            "invalid.yaml:5:1: Deployment Web: Deployment.apps \"Web\" is invalid: metadata.name",
        ),
        (
            "scalar.yaml",
            "- 3\n",
            "scalar.yaml:1:3: entry 1 is not a Kubernetes object",
        ),
    ];
    for (name, text, expected) in cases {
        let seed = dir.path().join(name);
        std::fs::write(&seed, text).expect("write the seed");
        let out = run_program(
            Path::new(SANDBOX),
            &[
                "--seed",
                seed.to_str().expect("UTF-8"),
                "--kubeconfig",
                kubeconfig.to_str().expect("UTF-8"),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(out.code, 2, "{name}: {}", out.transcript());
        assert!(out.stderr.contains(expected), "{name}: {}", out.transcript());
        assert!(!out.stderr.contains("panicked"), "{}", out.transcript());
        assert!(
            !kubeconfig.exists(),
            "{name}: no kubeconfig for a sandbox that did not start"
        );
    }

    // A kubeconfig someone else wrote is not overwritten.
    let theirs = dir.path().join("config");
    std::fs::write(&theirs, "apiVersion: v1\nkind: Config\n").expect("write");
    let out = run_program(
        Path::new(SANDBOX),
        &["--kubeconfig", theirs.to_str().expect("UTF-8")],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("was not written by kube-sandbox"),
        "{}",
        out.transcript()
    );
    assert_eq!(
        std::fs::read_to_string(&theirs).expect("read"),
        "apiVersion: v1\nkind: Config\n"
    );
}

/// One HTTP/1.1 request to `base` (`http://127.0.0.1:PORT`): status code and body.
fn http(base: &str, method: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// Polls Prometheus until `query` is within `tolerance` of `expected`, within 60 s.
fn wait_close(prometheus: &Prometheus, query: &str, expected: f64, tolerance: f64) {
    let mut last = None;
    let close = within(Duration::from_secs(60), || {
        last = prometheus.query(query).or(last);
        last.is_some_and(|v| (v - expected).abs() <= tolerance)
    });
    assert!(
        close,
        "Prometheus answered {last:?} to `{query}`, not {expected} (±{tolerance})"
    );
}

fn error_ratio(selector: &str) -> String {
    format!(
        r#"sum(rate(http_requests_total{{{selector},status=~"5.."}}[5m])) / sum(rate(http_requests_total{{{selector}}}[5m]))"#
    )
}

fn p95(selector: &str) -> String {
    format!(r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))"#)
}

#[test]
fn the_app_stand_in_gives_prometheus_the_error_ratio_and_p95_a_test_sets() {
    let app = App::start();
    // p95 on a bucket bound, inside a bucket, and inside the second bucket.
    app.set(
        "prod",
        Track::Stable,
        Traffic {
            rps: 40.0,
            error_ratio: 0.02,
            p95_seconds: 0.2,
        },
    );
    app.set(
        "prod",
        Track::Canary,
        Traffic {
            rps: 4.0,
            error_ratio: 0.25,
            p95_seconds: 0.8,
        },
    );
    for (track, rps) in [(Track::Stable, 2.0), (Track::Canary, 0.2)] {
        app.set(
            "dev",
            track,
            Traffic {
                rps,
                error_ratio: 0.0,
                p95_seconds: 0.007,
            },
        );
    }
    let prometheus = Prometheus::start(app.port);
    let tol = 1e-6;
    let prod = r#"namespace="prod",app="myapp-backend""#;
    wait_close(
        &prometheus,
        &error_ratio(&format!(r#"{prod},track="stable""#)),
        0.02,
        tol,
    );
    wait_close(
        &prometheus,
        &error_ratio(&format!(r#"{prod},track="canary""#)),
        0.25,
        tol,
    );
    // Both tracks: (40 × 0.02 + 4 × 0.25) / 44.
    wait_close(&prometheus, &error_ratio(prod), 1.8 / 44.0, tol);
    wait_close(&prometheus, &p95(&format!(r#"{prod},track="stable""#)), 0.2, tol);
    wait_close(&prometheus, &p95(&format!(r#"{prod},track="canary""#)), 0.8, tol);
    wait_close(&prometheus, &p95(r#"namespace="dev",track="stable""#), 0.007, tol);
    wait_close(&prometheus, &error_ratio(r#"namespace="dev""#), 0.0, tol);
    // Staging keeps the healthy defaults: well inside the runbook's objectives.
    let staging = r#"namespace="staging",app="myapp-backend""#;
    wait_close(&prometheus, &error_ratio(staging), 0.0005, tol);
    wait_close(&prometheus, &p95(staging), 0.12, tol);

    // A change of traffic: counters go on from where they were (no reset), and a short
    // window sees the new ratio once it holds only new samples.
    app.set(
        "prod",
        Track::Stable,
        Traffic {
            rps: 40.0,
            error_ratio: 0.3,
            p95_seconds: 0.2,
        },
    );
    let short = format!(
        r#"sum(rate(http_requests_total{{{prod},track="stable",status=~"5.."}}[4s])) / sum(rate(http_requests_total{{{prod},track="stable"}}[4s]))"#
    );
    wait_close(&prometheus, &short, 0.3, tol);
    wait_close(
        &prometheus,
        "sum(resets(http_requests_total[5m])) + sum(resets(http_request_duration_seconds_bucket[5m]))",
        0.0,
        0.0,
    );

    assert_eq!(http(&app.url(), "GET", "/health"), (200, "ok".into()));
    app.set_healthy(false);
    assert_eq!(http(&app.url(), "GET", "/health").0, 503);
}

/// The example's runbook.yaml is the repository's with the sandbox's addresses: a change to one
/// must reach the other, or rehearsals drift from what the library runs with.
#[test]
fn the_example_workspace_is_the_repositorys_pointed_at_the_sandbox() {
    let body = |text: &str| -> String {
        text.lines()
            .skip_while(|l| l.starts_with('#') || l.trim().is_empty())
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let mut expected = body(&std::fs::read_to_string(repo_root().join("runbook.yaml")).expect("runbook.yaml"))
        .replacen("playbooks: playbooks\n", "playbooks: ../../playbooks\n", 1);
    for (from, to) in [
        ("kube_context: eks-prod", "kube_context: sandbox"),
        ("kube_context: eks-staging", "kube_context: sandbox"),
        ("kube_context: eks-dev", "kube_context: sandbox"),
        (
            "prometheus_url: http://prometheus.monitoring:9090",
            "prometheus_url: http://127.0.0.1:9090",
        ),
        ("app_url: https://app.myapp.com", "app_url: http://127.0.0.1:18080"),
        (
            "app_url: https://staging.app.myapp.com",
            "app_url: http://127.0.0.1:18080",
        ),
        ("app_url: https://dev.app.myapp.com", "app_url: http://127.0.0.1:18080"),
        (
            "grafana_url: https://grafana.mycompany.com",
            "grafana_url: http://127.0.0.1:18080",
        ),
        // The cluster ArgoCD runs in (`argocd.context`).
        ("context: eks-prod", "context: sandbox"),
    ] {
        expected = expected.replace(from, to);
    }
    let actual = body(&std::fs::read_to_string(example("runbook.yaml")).expect("the example's runbook.yaml"));
    assert!(
        actual == expected,
        "examples/platform-sandbox/runbook.yaml is no longer runbook.yaml with the sandbox's addresses; \
         copy the change over. First differing line: {:?}",
        actual.lines().zip(expected.lines()).find(|(a, e)| a != e)
    );

    let state = tempfile::tempdir().expect("state dir");
    let validate = runbook_tests::runbook(
        &example(""),
        ["--state-dir", state.path().to_str().expect("UTF-8"), "validate"],
    )
    .run();
    assert_eq!(validate.code, 0, "{}", validate.transcript());
    assert!(
        validate.stderr.contains(", 0 errors, 0 warnings"),
        "{}",
        validate.transcript()
    );
}

/// A new user's rehearsal of a crash loop: a pod told to fail, the shipped incident-crashloop
/// finds it, reads why, restarts the deployment, and the new pods are healthy.
#[test]
fn incident_crashloop_rehearsed_in_the_sandbox_finds_the_crashing_pod_and_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let seed = example("seed.yaml");
    let mut sandbox = Sandbox::start(&[
        "--seed",
        seed.to_str().expect("UTF-8"),
        "--kubeconfig",
        kubeconfig.to_str().expect("UTF-8"),
    ]);
    sandbox.wait_for_file(&kubeconfig);
    let selector = [
        "get",
        "pods",
        "-n",
        "staging",
        "-l",
        "app=myapp-backend,track=stable",
        "--no-headers",
    ];
    let pods = wait_rows(&kubeconfig, &selector, |r| r.len() == 2);
    let victim = pods[0][0].clone();
    kubectl(
        &kubeconfig,
        &[
            "annotate",
            "pod",
            &victim,
            "-n",
            "staging",
            "kube-sandbox/waiting=OOMKilled",
        ],
    );
    wait_rows(&kubeconfig, &selector, |r| {
        r.iter()
            .any(|p| p[0] == victim && p[1] == "0/1" && p[2] == "CrashLoopBackOff")
    });

    let slack = Webhooks::start();
    let state = tempfile::tempdir().expect("state dir");
    let run = runbook_tests::runbook(
        &example(""),
        [
            "--state-dir",
            state.path().to_str().expect("UTF-8"),
            "run",
            "incident-crashloop",
            "-e",
            "staging",
            "--approve",
            "restart",
            "-p",
            "settle=1s",
        ],
    )
    .envs(&[
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("SLACK_WEBHOOK_URL", slack.url("/slack")),
    ])
    .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let after = wait_rows(&kubeconfig, &selector, |r| {
        r.len() == 2 && r.iter().all(|p| p[0] != victim && p[2] == "Running")
    });
    assert!(after.iter().all(|p| p[1] == "1/1"), "{after:?}");
    let told = slack.posts_to("/slack");
    assert!(
        told.iter().any(|r| r.json()["text"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("Pod {victim} had terminated with 'OOMKilled'")))),
        "{told:?}"
    );
    assert_eq!(sandbox.stop(nix::sys::signal::Signal::SIGINT), 0, "{}", sandbox.said());
}
