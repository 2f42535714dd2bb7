//! The platform with its world running, for the tests of the shipped playbooks: the
//! repository's workspace ([`Platform`]) against a Kubernetes API test server seeded with the
//! sandbox's world (`examples/platform-sandbox/seed.yaml`: namespaces, nodes, the app's
//! Deployments, Services, ingress, VirtualService, ArgoCD Applications...) whose pods are kept,
//! the app stand-in's traffic scraped by a real Prometheus, and the workspace's URLs pointing at
//! them.

use serde_json::Value;

use crate::app::{App, Track, Traffic};
use crate::platform::Platform;
use crate::servers::Prometheus;

/// The image repository of the platform's application.
pub const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/myapp-backend";

pub struct World {
    pub p: Platform,
    pub app: App,
    pub prom: Prometheus,
}

impl World {
    /// Starts everything; returns once Prometheus has scraped every traffic series.
    pub fn new() -> World {
        let mut p = Platform::new();
        // The contacts' channels and pager (runbook.yaml `contacts:`) post to the webhook
        // stand-in: `/slack/<channel>` and `/pager`.
        for (var, path) in [
            ("SLACK_INCIDENTS_WEBHOOK", "/slack/incidents"),
            ("SLACK_PLATFORM_ALERTS_WEBHOOK", "/slack/platform-alerts"),
            ("SLACK_PLATFORM_TEAM_WEBHOOK", "/slack/platform-team"),
            ("SLACK_ONCALL_WEBHOOK", "/slack/on-call"),
            ("PAGER_WEBHOOK_URL", "/pager"),
        ] {
            let url = p.hooks.url(path);
            p.set_env(var, &url);
        }
        p.kube
            .seed_file(&crate::repo_root().join("examples/platform-sandbox/seed.yaml"))
            .unwrap_or_else(|e| panic!("the sandbox's seed: {e}"));
        p.kube.keep_pods();
        // The playbooks' kubectl lines send no token over plain HTTP, as kubectl does.
        p.kube.allow_anonymous();
        let app = App::start();
        for ns in ["prod", "staging", "dev"] {
            app.set(ns, Track::Stable, Traffic::healthy(50.0));
            app.set(ns, Track::Canary, Traffic::healthy(5.0));
        }
        let prom = Prometheus::start(app.port);
        for key in ["app_url", "staging_app_url", "grafana_url"] {
            p.set_var(key, &app.url());
        }
        p.set_var("prometheus_url", &prom.url());
        // Two scrapes of every series (3 namespaces × 2 tracks × 2 statuses): rate() answers.
        prom.wait_until(r#"count(http_requests_total{app="myapp-backend"})"#, |n| n >= 12.0);
        prom.wait_until(
            r#"count(rate(http_requests_total{app="myapp-backend"}[1m]) > 0)"#,
            |n| n >= 12.0,
        );
        World { p, app, prom }
    }

    pub fn deployment(&self, ns: &str, name: &str) -> Value {
        self.p
            .kube
            .get("Deployment", Some(ns), name)
            .unwrap_or_else(|| panic!("deployment {ns}/{name}"))
    }

    /// The image of the first container of deployment `ns/name`.
    pub fn image(&self, ns: &str, name: &str) -> String {
        self.deployment(ns, name)["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The ArgoCD Application of `env` (`myapp-backend-<env>`).
    pub fn application(&self, env: &str) -> Value {
        self.p
            .kube
            .get("Application", Some("argocd"), &format!("myapp-backend-{env}"))
            .expect("the Application")
    }

    /// The `image.tag` of each history entry of the env's Application, oldest first.
    pub fn history(&self, env: &str) -> Vec<String> {
        self.application(env)["status"]["history"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| tag(&h["source"]))
            .collect()
    }

    /// The canary's share of the traffic in the VirtualService of `ns`.
    pub fn canary_weight(&self, ns: &str) -> i64 {
        let vs = self
            .p
            .kube
            .get("VirtualService", Some(ns), "myapp-backend")
            .expect("the VirtualService");
        vs["spec"]["http"][0]["route"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["destination"]["subset"] == "canary")
            .and_then(|r| r["weight"].as_i64())
            .unwrap_or(0)
    }

    /// The texts posted to #incidents (its own webhook, `/slack/incidents`), oldest first.
    pub fn incidents(&self) -> Vec<String> {
        self.p
            .hooks
            .posts_to("/slack/incidents")
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Makes the ECR repository `myapp-backend` in moto hold these tags.
    pub fn ecr_has(&self, tags: &[&str]) {
        let list: Vec<String> = tags.iter().map(|t| format!("'{t}'")).collect();
        self.p.moto.boto3(&format!(
            "ecr = boto3.client('ecr', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
             ecr.create_repository(repositoryName='myapp-backend')\n\
             for t in [{}]:\n    ecr.put_image(repositoryName='myapp-backend', imageManifest=json.dumps({{'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json', 'tag': t}}), imageManifestMediaType='application/vnd.docker.distribution.manifest.v2+json', imageTag=t)",
            self.p.moto.url(),
            list.join(", ")
        ));
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// The `image.tag` Helm parameter of an Application source.
pub fn tag(source: &Value) -> String {
    source["helm"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "image.tag")
        .and_then(|p| p["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Polls `found` every 100 ms (it asks servers and runs programs) for at most `limit`;
/// panics naming `what`.
#[track_caller]
pub fn eventually(limit: std::time::Duration, what: &str, found: impl Fn() -> bool) {
    let pace = std::time::Duration::from_millis(100);
    let held = crate::poll_every(limit, pace, || found().then_some(()));
    assert!(held.is_some(), "not within {limit:?}: {what}");
}
