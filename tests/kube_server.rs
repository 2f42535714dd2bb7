//! The in-process Kubernetes API server, driven by the real kube client through the kubeconfig it
//! writes: if these pass, engine code that works here speaks the same wire format as against a cluster.

use std::io::{Read, Write};
use std::net::TcpStream;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, LogParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::{Client, Config};
use runbook_tests::kube::{KubeServer, deployment, node, pdb, pod, pod_waiting};
use serde_json::{Value, json};

/// A server and a client of it, built from the kubeconfig it writes.
struct Fixture {
    server: KubeServer,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn config_for(server: &KubeServer, dir: &std::path::Path) -> Config {
    let path = server.write_kubeconfig(dir, "test");
    let kubeconfig = Kubeconfig::read_from(&path).expect("the kubeconfig parses");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a config from the kubeconfig")
}

async fn fixture() -> Fixture {
    let server = KubeServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_for(&server, dir.path()).await;
    let client = Client::try_from(config).expect("a client");
    Fixture {
        server,
        client,
        _dir: dir,
    }
}

impl Fixture {
    fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }
}

/// The `Status` of a failed call.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// One raw HTTP/1.1 exchange, for what the typed client will not send: (status code, body).
fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("receive");
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

const AUTH: (&str, &str) = ("Authorization", "Bearer test-token");

#[tokio::test]
async fn lists_nodes_and_selects_pods_by_label_and_field() {
    let f = fixture().await;
    f.server.put(node("n1", true));
    f.server.put(node("n2", false));
    f.server
        .put(pod("prod", "web-1", &[("app", "web"), ("tier", "front")], "n1", true));
    f.server.put(pod("prod", "web-2", &[("app", "web")], "n2", true));
    f.server.put(pod("prod", "db-1", &[("app", "db")], "n1", true));

    let nodes = Api::<Node>::all(f.client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let names: Vec<_> = nodes.items.iter().filter_map(|n| n.metadata.name.clone()).collect();
    assert_eq!(names, ["n1", "n2"]);
    let ready = |n: &Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    assert!(ready(&nodes.items[0]) && !ready(&nodes.items[1]));
    assert!(nodes.metadata.resource_version.is_some());

    let pods: Api<Pod> = f.api("prod");
    let names = |l: kube::core::ObjectList<Pod>| -> Vec<String> {
        l.items.into_iter().filter_map(|p| p.metadata.name).collect()
    };
    let on_n1 = pods
        .list(&ListParams::default().fields("spec.nodeName=n1"))
        .await
        .unwrap();
    assert_eq!(names(on_n1), ["db-1", "web-1"]);
    let web = pods
        .list(&ListParams::default().labels("app in (web),tier"))
        .await
        .unwrap();
    assert_eq!(names(web), ["web-1"]);
    let not_web = pods.list(&ListParams::default().labels("app!=web")).await.unwrap();
    assert_eq!(names(not_web), ["db-1"]);
    let all = Api::<Pod>::all(f.client.clone())
        .list(&ListParams::default().limit(2))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
    assert!(all.metadata.continue_.is_some(), "a limited list pages on");

    let err = api_error(pods.list(&ListParams::default().fields("spec.bogus=1")).await);
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let requests = f.server.requests();
    let wanted = "GET /api/v1/namespaces/prod/pods?fieldSelector=spec.nodeName=n1".to_string();
    assert!(requests.contains(&wanted), "{requests:#?}");
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_conflicts() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "app:1"));
    let deploys: Api<Deployment> = f.api("prod");
    let stale = deploys.get("web").await.unwrap();

    let mut fresh = stale.clone();
    fresh.spec.as_mut().unwrap().replicas = Some(4);
    let replaced = deploys.replace("web", &PostParams::default(), &fresh).await.unwrap();
    assert_eq!(replaced.spec.unwrap().replicas, Some(4));
    assert_ne!(replaced.metadata.resource_version, stale.metadata.resource_version);
    assert_eq!(
        replaced.metadata.generation,
        Some(2),
        "a spec change bumps the generation"
    );

    let err = api_error(deploys.replace("web", &PostParams::default(), &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply \
         your changes to the latest version and try again"
    );

    let err = api_error(deploys.create(&PostParams::default(), &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    let err = api_error(deploys.get("nope").await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, "deployments.apps \"nope\" not found");
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "app:1"));
    let deploys: Api<Deployment> = f.api("prod");

    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(3));
    let status = scale.status.as_ref().unwrap();
    assert_eq!((status.replicas, status.selector.as_deref()), (3, Some("app=web")));

    let mut more = scale.clone();
    more.spec.as_mut().unwrap().replicas = Some(5);
    let scaled = deploys
        .replace_scale("web", &PostParams::default(), &more)
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(5));
    let dep = deploys.get("web").await.unwrap();
    assert_eq!(dep.spec.unwrap().replicas, Some(5));
    assert_eq!(dep.status.unwrap().ready_replicas, Some(5), "the controller ran");

    let err = api_error(deploys.replace_scale("web", &PostParams::default(), &scale).await);
    assert_eq!(err.code, 409, "the stale Scale names an old resourceVersion");

    let patch = Patch::Merge(json!({ "spec": { "replicas": 2 } }));
    let patched: Scale = deploys
        .patch_scale("web", &PatchParams::default(), &patch)
        .await
        .unwrap();
    assert_eq!(patched.spec.unwrap().replicas, Some(2));
    assert_eq!(
        f.server.get("Deployment", Some("prod"), "web").unwrap()["spec"]["replicas"],
        2
    );
}

#[tokio::test]
async fn eviction_is_refused_by_a_disruption_budget_then_allowed() {
    let server = KubeServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&server, dir.path()).await;
    // kube retries 429 (with backoff, 15 times) by default; a caller that wants the refusal at once
    // turns that off, as the engine must.
    config.default_retry = false;
    let client = Client::try_from(config).unwrap();
    server.put(pod("prod", "web-1", &[("app", "web")], "n1", true));
    server.put(pod("prod", "web-2", &[("app", "web")], "n2", true));
    server.put(pdb("prod", "web", "web", 2));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "prod");

    let err = api_error(pods.evict("web-1", &EvictParams::default()).await);
    assert_eq!((err.code, err.reason.as_str()), (429, "TooManyRequests"));
    assert_eq!(
        err.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let causes = err.details.unwrap().causes;
    assert_eq!(causes[0].reason, "DisruptionBudget");
    assert_eq!(
        causes[0].message,
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    );

    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "prod");
    let status = budgets.get("web").await.unwrap().status.unwrap();
    assert_eq!(
        (
            status.current_healthy,
            status.desired_healthy,
            status.disruptions_allowed
        ),
        (2, 2, 0)
    );

    server.put(pod("prod", "web-3", &[("app", "web")], "n3", true));
    let ok = pods.evict("web-1", &EvictParams::default()).await.unwrap();
    assert_eq!(ok.code, 201);
    assert!(server.get("Pod", Some("prod"), "web-1").is_none());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("POST /api/v1/namespaces/prod/pods/web-1/eviction"))
    );

    let err = api_error(pods.evict("gone", &EvictParams::default()).await);
    assert_eq!(err.code, 404);
    // An unready pod costs the budget nothing while it is met.
    server.put(pod_waiting(
        "prod",
        "web-4",
        &[("app", "web")],
        "n3",
        "CrashLoopBackOff",
    ));
    pods.evict("web-4", &EvictParams::default()).await.unwrap();
}

#[tokio::test]
async fn logs_honour_tail_lines() {
    let f = fixture().await;
    f.server.put(pod("prod", "web-1", &[("app", "web")], "n1", true));
    f.server.set_logs("prod", "web-1", "one\ntwo\nthree\nfour\n");
    let pods: Api<Pod> = f.api("prod");
    let all = pods.logs("web-1", &LogParams::default()).await.unwrap();
    assert_eq!(all, "one\ntwo\nthree\nfour\n");
    let tail = pods
        .logs(
            "web-1",
            &LogParams {
                tail_lines: Some(2),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail, "three\nfour\n");
    let err = api_error(pods.logs("nope", &LogParams::default()).await);
    assert_eq!((err.code, err.message.as_str()), (404, "pods \"nope\" not found"));
}

#[tokio::test]
async fn server_side_apply_creates_then_updates() {
    let f = fixture().await;
    let maps: Api<ConfigMap> = f.api("default");
    let params = PatchParams::apply("runbook");
    let first =
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "settings" }, "data": { "a": "1" } });
    let made = maps.patch("settings", &params, &Patch::Apply(&first)).await.unwrap();
    assert_eq!(made.data.unwrap()["a"], "1");
    assert!(made.metadata.uid.is_some());

    let second = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "settings" }, "data": { "a": "2", "b": "3" } });
    let updated = maps.patch("settings", &params, &Patch::Apply(&second)).await.unwrap();
    let data = updated.data.unwrap();
    assert_eq!((data["a"].as_str(), data["b"].as_str()), ("2", "3"));
    assert_eq!(updated.metadata.uid, made.metadata.uid);

    // YAML bodies, and the field manager the real server insists on.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  k: v\n";
    let ct = ("Content-Type", "application/apply-patch+yaml");
    let path = "/api/v1/namespaces/default/configmaps/other";
    let (code, body) = raw(f.server.port, "PATCH", path, &[AUTH, ct], yaml);
    assert_eq!(code, 422, "{body}");
    let (code, body) = raw(
        f.server.port,
        "PATCH",
        &format!("{path}?fieldManager=m"),
        &[AUTH, ct],
        yaml,
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(maps.get("other").await.unwrap().data.unwrap()["k"], "v");
}

#[tokio::test]
async fn template_changes_make_revisions_and_a_rollback_reuses_the_replica_set() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "app:1"));
    let deploys: Api<Deployment> = f.api("prod");
    let sets: Api<ReplicaSet> = f.api("prod");
    let revision =
        |d: &Deployment| d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone();
    let first = deploys.get("web").await.unwrap();
    assert_eq!(revision(&first), "1");
    let rs1 = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(rs1.len(), 1);
    let rs1_name = rs1[0].metadata.name.clone().unwrap();
    let owner = &rs1[0].metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Deployment", "web", Some(true))
    );
    assert_eq!(&owner.uid, first.metadata.uid.as_ref().unwrap());

    let image =
        |i: &str| json!({ "spec": { "template": { "spec": { "containers": [{ "name": "app", "image": i }] } } } });
    let second = deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(image("app:2")))
        .await
        .unwrap();
    assert_eq!(revision(&second), "2");
    let containers = &second.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers;
    assert_eq!((containers.len(), containers[0].image.as_deref()), (1, Some("app:2")));
    let status = second.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, second.metadata.generation);
    assert_eq!((status.updated_replicas, status.available_replicas), (Some(3), Some(3)));
    let after = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(after.len(), 2);
    let replicas = |name: &str| {
        after
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .replicas
    };
    assert_eq!(replicas(&rs1_name), Some(0), "the old ReplicaSet is scaled down");

    let third = deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(image("app:1")))
        .await
        .unwrap();
    assert_eq!(revision(&third), "3");
    let again = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(again.len(), 2, "the revision-1 ReplicaSet is reused");
    let reused = again
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(rs1_name.as_str()))
        .unwrap();
    assert_eq!(
        reused.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(reused.spec.as_ref().unwrap().replicas, Some(3));

    // Deleting the Deployment collects its ReplicaSets.
    deploys.delete("web", &DeleteParams::default()).await.unwrap();
    assert!(sets.list(&ListParams::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn forbidden_verbs_answer_403_like_rbac() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "app:1"));
    f.server.forbid("patch", "deployments");
    let deploys: Api<Deployment> = f.api("prod");
    deploys.get("web").await.expect("get is still allowed");
    let patch = Patch::Merge(json!({ "spec": { "replicas": 1 } }));
    let err = api_error(deploys.patch("web", &PatchParams::default(), &patch).await);
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "deployments.apps \"web\" is forbidden: User \"test\" cannot patch resource \"deployments\" in API group \
         \"apps\" in the namespace \"prod\""
    );
    f.server.forbid("list", "nodes");
    let err = api_error(Api::<Node>::all(f.client.clone()).list(&ListParams::default()).await);
    assert_eq!(
        err.message,
        "nodes is forbidden: User \"test\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
}

#[tokio::test]
async fn injected_conflicts_bump_the_resource_version() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "app:1"));
    f.server.conflict_next("deployments", 2);
    let deploys: Api<Deployment> = f.api("prod");
    let before = deploys.get("web").await.unwrap().metadata.resource_version;
    let patch = Patch::Merge(json!({ "spec": { "replicas": 1 } }));
    for _ in 0..2 {
        let err = api_error(deploys.patch("web", &PatchParams::default(), &patch).await);
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    }
    let after = deploys.get("web").await.unwrap().metadata.resource_version;
    assert_ne!(before, after, "someone else wrote it");
    let done = deploys.patch("web", &PatchParams::default(), &patch).await.unwrap();
    assert_eq!(done.spec.unwrap().replicas, Some(1));
}

#[tokio::test]
async fn discovery_finds_pinned_kinds() {
    let f = fixture().await;
    let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
    let (resource, caps): (ApiResource, _) = kube::discovery::pinned_kind(&f.client, &gvk).await.unwrap();
    assert_eq!(
        (resource.plural.as_str(), resource.api_version.as_str()),
        ("deployments", "apps/v1")
    );
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(r, _)| r.plural == "scale"));

    let gvk = GroupVersionKind::gvk("", "v1", "ConfigMap");
    let (resource, caps) = kube::discovery::pinned_kind(&f.client, &gvk).await.unwrap();
    assert_eq!(
        (resource.plural.as_str(), resource.api_version.as_str()),
        ("configmaps", "v1")
    );
    assert_eq!(caps.scope, Scope::Namespaced);
    let (node, caps) = kube::discovery::pinned_kind(&f.client, &GroupVersionKind::gvk("", "v1", "Node"))
        .await
        .unwrap();
    assert_eq!((node.plural.as_str(), caps.scope), ("nodes", Scope::Cluster));

    let full = kube::Discovery::new(f.client.clone()).run().await.unwrap();
    assert!(full.has_group("coordination.k8s.io"));
    let aggregated = kube::Discovery::new(f.client.clone()).run_aggregated().await.unwrap();
    assert!(aggregated.has_group("policy") && aggregated.has_group(""));
    let version = f.client.apiserver_version().await.unwrap();
    assert_eq!(version.minor, "33");
}

#[tokio::test]
async fn lease_replace_with_a_stale_version_conflicts() {
    let f = fixture().await;
    let leases: Api<Lease> = f.api("default");
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": { "name": "runbook-lock" },
        "spec": { "holderIdentity": "a", "leaseDurationSeconds": 30, "acquireTime": "2025-01-01T00:00:00.000000Z" },
    }))
    .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().holder_identity.as_deref(), Some("a"));
    let mut taken = created.clone();
    taken.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("runbook-lock", &PostParams::default(), &taken)
        .await
        .unwrap();

    let mut late = created.clone();
    late.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let err = api_error(leases.replace("runbook-lock", &PostParams::default(), &late).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        f.server.get("Lease", Some("default"), "runbook-lock").unwrap()["spec"]["holderIdentity"],
        "b"
    );
    let err = api_error(leases.create(&PostParams::default(), &lease).await);
    assert_eq!(err.code, 409);
}

#[tokio::test]
async fn a_stuck_rollout_completes_when_released_and_watches_see_it() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "app:1"));
    f.server.set_stuck("prod", "web", true);
    let deploys: Api<Deployment> = f.api("prod");
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "app", "image": "app:2" }] } } } });
    deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    let stuck = f.server.get("Deployment", Some("prod"), "web").unwrap();
    let status = &stuck["status"];
    assert_eq!(status["observedGeneration"], stuck["metadata"]["generation"]);
    assert_eq!(
        (status["updatedReplicas"].as_i64(), status["availableReplicas"].as_i64()),
        (None, Some(3))
    );
    let progressing = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap();
    assert_eq!(progressing["reason"], "ReplicaSetUpdated");

    let watch = deploys
        .watch(
            &WatchParams::default().timeout(10),
            stuck["metadata"]["resourceVersion"].as_str().unwrap(),
        )
        .await
        .unwrap();
    let waiter = tokio::spawn(kube::runtime::wait::await_condition(
        deploys.clone(),
        "web",
        kube::runtime::wait::conditions::is_deployment_completed(),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!waiter.is_finished());
    f.server.set_stuck("prod", "web", false);
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(done.unwrap().status.unwrap().updated_replicas, Some(3));

    let mut watch = Box::pin(watch);
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), watch.next())
        .await
        .unwrap();
    match event {
        Some(Ok(WatchEvent::Modified(d))) => assert_eq!(d.metadata.name.as_deref(), Some("web")),
        other => panic!("expected a MODIFIED event, got {other:?}"),
    }
}

#[tokio::test]
async fn wire_errors_without_the_typed_client() {
    let server = KubeServer::start();
    let (code, body) = raw(server.port, "GET", "/api/v1/nodes", &[], "");
    assert_eq!(code, 401, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("Unauthorized"))
    );

    server.put(deployment("prod", "web", 3, "app:1"));
    let path = "/apis/apps/v1/namespaces/prod/deployments/web";
    let json_patch = ("Content-Type", "application/json-patch+json");
    let failing =
        r#"[{"op":"test","path":"/spec/replicas","value":7},{"op":"replace","path":"/spec/replicas","value":1}]"#;
    let (code, body) = raw(server.port, "PATCH", path, &[AUTH, json_patch], failing);
    assert_eq!(code, 422, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["reason"], "Invalid");
    let passing =
        r#"[{"op":"test","path":"/spec/replicas","value":3},{"op":"replace","path":"/spec/replicas","value":1}]"#;
    let (code, body) = raw(server.port, "PATCH", path, &[AUTH, json_patch], passing);
    assert_eq!(code, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["spec"]["replicas"], 1);

    let merge = ("Content-Type", "application/merge-patch+json");
    let (code, body) = raw(
        server.port,
        "PATCH",
        "/apis/apps/v1/namespaces/prod/deployments/nope",
        &[AUTH, merge],
        "{}",
    );
    assert_eq!(code, 404, "{body}");
    let (code, _) = raw(
        server.port,
        "PATCH",
        path,
        &[AUTH, ("Content-Type", "text/plain")],
        "{}",
    );
    assert_eq!(code, 415);
    let (code, body) = raw(
        server.port,
        "GET",
        "/apis/apps/v1/namespaces/prod/deployments?watch=true&timeoutSeconds=1",
        &[AUTH],
        "",
    );
    assert_eq!(code, 200);
    assert!(body.contains(r#""type":"ADDED""#), "{body}");
}

#[tokio::test]
async fn dry_runs_are_validated_and_answered_and_persist_nothing() {
    let f = fixture().await;
    f.server.put(deployment("prod", "web", 3, "web:1"));
    f.server.put(node("node-1", true));
    let deployments: Api<Deployment> = f.api("prod");
    let config_maps: Api<ConfigMap> = f.api("prod");
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };

    // Create, scale, apply, replace, delete and evict, all dry: each answers as the write would.
    let cm: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "settings" }, "data": { "a": "1" } })).expect("cm");
    let created = config_maps.create(&dry, &cm).await.expect("a dry create");
    assert_eq!(created.metadata.name.as_deref(), Some("settings"));
    let mut scale = deployments.get_scale("web").await.expect("scale");
    scale.spec.get_or_insert_with(Default::default).replicas = Some(7);
    let scaled = deployments
        .replace_scale("web", &dry, &scale)
        .await
        .expect("a dry scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(7));
    let apply = PatchParams {
        dry_run: true,
        ..PatchParams::apply("runbook").force()
    };
    let patch = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web" }, "spec": { "replicas": 9 } });
    deployments
        .patch("web", &apply, &Patch::Apply(&patch))
        .await
        .expect("a dry apply");
    let nodes: Api<Node> = Api::all(f.client.clone());
    let mut n = nodes.get("node-1").await.expect("node");
    n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
    nodes.replace("node-1", &dry, &n).await.expect("a dry cordon");
    let delete = DeleteParams {
        dry_run: true,
        ..DeleteParams::background()
    };
    deployments.delete("web", &delete).await.expect("a dry delete");

    // Validation applies to dry runs too.
    let negative = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web" }, "spec": { "replicas": -1 } });
    let refused = api_error(deployments.patch("web", &apply, &Patch::Apply(&negative)).await);
    assert_eq!(refused.code, 422, "{refused:?}");
    let bad: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "Bad_Name" } })).expect("cm");
    assert_eq!(api_error(config_maps.create(&dry, &bad).await).code, 422);

    assert_eq!(f.server.writes(), Vec::<String>::new());
    let web = f
        .server
        .get("Deployment", Some("prod"), "web")
        .expect("web is still there");
    assert_eq!(web["spec"]["replicas"], 3);
    assert_eq!(f.server.get("ConfigMap", Some("prod"), "settings"), None);
    assert_eq!(
        f.server.get("Node", None, "node-1").expect("node")["spec"]["unschedulable"],
        Value::Null
    );

    // A real write is persisted and listed.
    config_maps.create(&PostParams::default(), &cm).await.expect("a create");
    assert_eq!(f.server.writes(), ["POST /api/v1/namespaces/prod/configmaps"]);
}

#[test]
fn what_the_sandbox_turns_on_anonymous_access_kept_pods_and_stored_kinds_in_discovery() {
    let server = KubeServer::start();
    server.put(deployment("prod", "web", 2, "app:1"));
    // A kind the server's catalog does not know (the catalog has ArgoCD's, cert-manager's
    // and Istio's): the Prometheus operator's ServiceMonitor.
    server.put(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": { "name": "web", "namespace": "monitoring" },
        "spec": { "endpoints": [{ "port": "http" }] },
    }));
    // Off by default: the tests see exactly what they seeded.
    assert_eq!(raw(server.port, "GET", "/api/v1/nodes", &[], "").0, 401);
    let (_, groups) = raw(server.port, "GET", "/apis", &[AUTH], "");
    assert!(!groups.contains("monitoring.coreos.com"), "{groups}");
    assert!(server.list("Pod", Some("prod")).is_empty());

    server.allow_anonymous();
    server.discover_stored_kinds();
    server.keep_pods();
    assert_eq!(raw(server.port, "GET", "/api/v1/nodes", &[], "").0, 200);
    let wrong = ("Authorization", "Bearer nope");
    assert_eq!(
        raw(server.port, "GET", "/api/v1/nodes", &[wrong], "").0,
        401,
        "a wrong token is still refused"
    );
    let (code, list) = raw(server.port, "GET", "/apis/monitoring.coreos.com/v1", &[], "");
    assert_eq!(code, 200, "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["resources"][0]["name"], "servicemonitors");
    assert_eq!(list["resources"][0]["namespaced"], true);

    // No node is Ready: the pods wait, Pending; a Ready node takes them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let pods = |phase: &str| {
        server
            .list("Pod", Some("prod"))
            .into_iter()
            .filter(|p| p["status"]["phase"] == phase)
            .count()
    };
    while pods("Pending") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.list("Pod", Some("prod"))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.put(node("n1", true));
    while pods("Running") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.list("Pod", Some("prod"))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        server
            .list("Pod", Some("prod"))
            .iter()
            .all(|p| p["spec"]["nodeName"] == "n1" && p["metadata"]["labels"]["app"] == "web")
    );
}
