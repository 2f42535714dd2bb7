//! The shipped platform workspace (the repository's `runbook.yaml`, `playbooks/` and `config/`, copied
//! into a temp dir) wired to local servers: one Kubernetes API test server behind every
//! environment's context, moto for AWS, a webhook recorder for Slack, and stand-ins for
//! terraform, eksctl and helm, first on PATH, that record how they were called.
//!
//! ```ignore
//! let p = Platform::new();
//! p.moto.boto3("rds.create_db_instance(...)");
//! let out = p.run(&["run", "db-backup", "-e", "staging"]);
//! assert_eq!(p.slack().len(), 1);
//! ```

use std::path::{Path, PathBuf};

use crate::kube::KubeServer;
use crate::servers::Moto;
use crate::webhooks::Webhooks;
use crate::{Background, Output};

/// The tools that get recording stand-ins: the real ones would change real infrastructure
/// and have no local server to talk to.
pub const STAND_INS: [&str; 3] = ["terraform", "eksctl", "helm"];

/// The kube contexts of the shipped environments; all of them reach [`Platform::kube`].
pub const CONTEXTS: [&str; 3] = ["eks-prod", "eks-staging", "eks-dev"];

/// Where a rewritten outside endpoint points until a test names a server for it: a port
/// where nothing listens, so that nothing ever leaves the machine.
pub const NOWHERE: &str = "http://127.0.0.1:1";

/// The path the Slack webhook posts to on [`Platform::hooks`].
pub const SLACK_PATH: &str = "/slack";

pub struct Platform {
    dir: tempfile::TempDir,
    /// Kubeconfig, stand-ins and their call log, outside the workspace.
    aux: tempfile::TempDir,
    pub kube: KubeServer,
    pub moto: Moto,
    pub hooks: Webhooks,
    env: Vec<(String, String)>,
}

impl Platform {
    /// Copies the repository's workspace and starts its servers. Every `http(s)://` var of
    /// `runbook.yaml` points at [`NOWHERE`] until [`Platform::set_var`] names a local server.
    pub fn new() -> Platform {
        let root = crate::repo_root();
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&root.join("playbooks"), &dir.path().join("playbooks"));
        // Files the playbooks apply (`config/emergency-config.yaml`).
        copy_dir(&root.join("config"), &dir.path().join("config"));
        let config = std::fs::read_to_string(root.join("runbook.yaml")).expect("the repository's runbook.yaml");
        std::fs::write(dir.path().join("runbook.yaml"), rewrite_urls(&config)).expect("write runbook.yaml");

        let aux = tempfile::tempdir().expect("temp dir");
        let kube = KubeServer::start();
        let kubeconfig = aux.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text(&kube.url())).expect("write the kubeconfig");
        let bin = aux.path().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir bin");
        for tool in STAND_INS {
            stand_in(&bin, tool, &aux.path().join("calls"));
        }
        let moto = Moto::start();
        let hooks = Webhooks::start();

        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("KUBECONFIG".into(), kubeconfig.display().to_string()),
            ("SLACK_WEBHOOK_URL".into(), hooks.url(SLACK_PATH)),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            // No profile or credentials of the machine's user can leak in.
            (
                "AWS_CONFIG_FILE".into(),
                aux.path().join("aws-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                aux.path().join("aws-credentials").display().to_string(),
            ),
        ];
        env.extend(moto.env().into_iter().map(|(k, v)| (k.to_string(), v)));
        Platform {
            dir,
            aux,
            kube,
            moto,
            hooks,
            env,
        }
    }

    /// The workspace (its `runbook.yaml`, `playbooks/`, `.runbook/`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets `key` to `value` in the `vars` of every environment of `runbook.yaml`.
    pub fn set_var(&self, key: &str, value: &str) {
        let file = self.path().join("runbook.yaml");
        let text = std::fs::read_to_string(&file).expect("runbook.yaml");
        let mut found = 0;
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let indent = l.len() - l.trim_start().len();
                if indent >= 6 && l.trim_start().starts_with(&format!("{key}: ")) {
                    found += 1;
                    format!("{}{key}: {}", &l[..indent], serde_json::Value::from(value))
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(found > 0, "runbook.yaml has no environment var `{key}`");
        std::fs::write(&file, lines.join("\n") + "\n").expect("write runbook.yaml");
    }

    /// Adds (or replaces) a variable of the environment every run gets.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    /// The environment every run gets: PATH with the stand-ins first, KUBECONFIG, moto's
    /// AWS variables, SLACK_WEBHOOK_URL, and what [`Platform::set_env`] added.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Runs `runbook ARGS` in the workspace.
    pub fn run(&self, args: &[&str]) -> Output {
        crate::runbook(self.path(), args).envs(&self.env).run()
    }

    /// Starts `runbook ARGS --output json` in the workspace, in the background.
    pub fn background(&self, args: &[&str]) -> Background {
        crate::runbook(self.path(), args).envs(&self.env).start()
    }

    /// Every call of a stand-in, in order: `helm upgrade --install myapp ...`.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.aux.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Makes the stand-in `tool` print `stdout` and exit with `code` from now on.
    pub fn stand_in_answers(&self, tool: &str, stdout: &str, code: i32) {
        assert!(STAND_INS.contains(&tool), "{tool} has no stand-in");
        let bin = self.aux.path().join("bin");
        std::fs::write(bin.join(format!("{tool}.out")), stdout).expect("write the answer");
        std::fs::write(bin.join(format!("{tool}.exit")), code.to_string()).expect("write the exit code");
    }

    /// The texts posted to the Slack webhook, oldest first.
    pub fn slack(&self) -> Vec<String> {
        self.hooks
            .posts_to(SLACK_PATH)
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The journal records of run `id`.
    pub fn journal(&self, id: &str) -> Vec<serde_json::Value> {
        let file = self.path().join(".runbook/runs").join(id).join("journal.jsonl");
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON record ({e}): {l}")))
            .collect()
    }

    /// The ids of the runs made so far, oldest first.
    pub fn runs(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.path().join(".runbook/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .collect();
        ids.sort();
        ids
    }

    /// The journal of the newest run.
    pub fn last_journal(&self) -> Vec<serde_json::Value> {
        let id = self.runs().pop().expect("a run");
        self.journal(&id)
    }
}

/// `{ step: status }` from a journal's `step_finished` records, and `skipped` from its
/// `step_skipped` ones (the last record of a step wins).
pub fn step_statuses(journal: &[serde_json::Value]) -> std::collections::BTreeMap<String, String> {
    journal
        .iter()
        .filter_map(|r| {
            let step = r["step"].as_str()?.to_string();
            match r["type"].as_str()? {
                "step_finished" => Some((step, r["status"].as_str()?.to_string())),
                "step_skipped" => Some((step, "skipped".to_string())),
                _ => None,
            }
        })
        .collect()
}

impl Default for Platform {
    fn default() -> Self {
        Self::new()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.expect("an entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            // `copy` keeps the mode: shipped scripts stay executable.
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// Points every `key: http(s)://...` var at [`NOWHERE`].
fn rewrite_urls(config: &str) -> String {
    config
        .lines()
        .map(|l| {
            let indent = l.len() - l.trim_start().len();
            match l.trim_start().split_once(": ") {
                Some((key, value))
                    if indent >= 6 && (value.starts_with("http://") || value.starts_with("https://")) =>
                {
                    format!("{}{key}: {NOWHERE}", &l[..indent])
                }
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn kubeconfig_text(url: &str) -> String {
    let mut contexts = String::new();
    for c in CONTEXTS {
        contexts.push_str(&format!(
            "- name: {c}\n  context:\n    cluster: test\n    user: test\n    namespace: default\n"
        ));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\nusers:\n- name: test\n  user:\n    token: test-token\ncontexts:\n{contexts}current-context: {}\n",
        CONTEXTS[0]
    )
}

/// A script named `tool` that appends `tool ARGS` to `calls`, then prints `tool.out` and
/// exits with `tool.exit` when the test wrote them (0 and nothing otherwise).
fn stand_in(bin: &Path, tool: &str, calls: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script: PathBuf = bin.join(tool);
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let (out, exit) = (bin.join(format!("{tool}.out")), bin.join(format!("{tool}.exit")));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"{tool} $*\" >> {calls}\n[ -f {out} ] && cat {out}\nexit \"$(cat {exit} 2>/dev/null || echo 0)\"\n",
            calls = q(calls),
            out = q(&out),
            exit = q(&exit),
        ),
    )
    .expect("write a stand-in");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
