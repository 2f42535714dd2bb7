//! The action keys a step, a precondition and a rollback entry may carry (exactly one each).
//!
//! They are plain optional fields rather than a flattened enum: serde's `flatten` loses both
//! `deny_unknown_fields` and the spans that errors point at.

/// Declares a struct with the given fields plus one optional field per action key, and
/// `actions()` listing the keys that are present with their spans.
macro_rules! with_action_keys {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Run a shell command with `sh -c` (interpolated values are shell-quoted).
            #[serde(default)]
            pub shell: Option<Sp<Form<ShellSpec>>>,
            /// Run a program with an argument list, no shell.
            #[serde(default)]
            pub exec: Option<Sp<Form<ExecSpec>>>,
            /// Send an HTTP request.
            #[serde(default)]
            pub http: Option<Sp<HttpSpec>>,
            /// Run a Prometheus instant query.
            #[serde(default)]
            pub prometheus: Option<Sp<PrometheusSpec>>,
            /// A Kubernetes operation through the API.
            #[serde(default)]
            pub k8s: Option<Sp<K8sSpec>>,
            /// An ArgoCD Application operation through the Kubernetes API.
            #[serde(default)]
            pub argocd: Option<Sp<ArgocdSpec>>,
            /// An AWS RDS operation through the API.
            #[serde(default)]
            pub rds: Option<Sp<RdsSpec>>,
            /// Sleep for a duration.
            #[serde(default)]
            pub wait: Option<Sp<WaitFor>>,
            /// Show instructions and wait for the operator to say done.
            #[serde(default)]
            pub manual: Option<Sp<Form<ManualSpec>>>,
            /// Ask the operator for a value or a choice.
            #[serde(default)]
            pub input: Option<Sp<Form<InputSpec>>>,
            /// Post to a Slack or generic webhook.
            #[serde(default)]
            pub notify: Option<Sp<NotifySpec>>,
            /// Run another playbook as a sub-run.
            #[serde(default)]
            pub playbook: Option<Sp<Form<SubPlaybookSpec>>>,
            /// An expression that must hold.
            #[serde(default)]
            pub assert: Option<Sp<AssertExpr>>,
            /// Write a line to the progress display and the journal.
            #[serde(default)]
            pub log: Option<Sp<LogLine>>,
        }

        impl $name {
            /// Every action key that is present, in a fixed order, with its span.
            pub fn actions(&self) -> Vec<Sp<Action>> {
                let mut out = Vec::new();
                if let Some(a) = &self.shell { out.push(Sp::new(a.span, Action::Shell(a.value.clone()))); }
                if let Some(a) = &self.exec { out.push(Sp::new(a.span, Action::Exec(a.value.clone()))); }
                if let Some(a) = &self.http { out.push(Sp::new(a.span, Action::Http(a.value.clone()))); }
                if let Some(a) = &self.prometheus { out.push(Sp::new(a.span, Action::Prometheus(a.value.clone()))); }
                if let Some(a) = &self.k8s { out.push(Sp::new(a.span, Action::K8s(a.value.clone()))); }
                if let Some(a) = &self.argocd { out.push(Sp::new(a.span, Action::Argocd(a.value.clone()))); }
                if let Some(a) = &self.rds { out.push(Sp::new(a.span, Action::Rds(a.value.clone()))); }
                if let Some(a) = &self.wait { out.push(Sp::new(a.span, Action::Wait(a.value.clone()))); }
                if let Some(a) = &self.manual { out.push(Sp::new(a.span, Action::Manual(a.value.clone()))); }
                if let Some(a) = &self.input { out.push(Sp::new(a.span, Action::Input(a.value.clone()))); }
                if let Some(a) = &self.notify { out.push(Sp::new(a.span, Action::Notify(a.value.clone()))); }
                if let Some(a) = &self.playbook { out.push(Sp::new(a.span, Action::Playbook(a.value.clone()))); }
                if let Some(a) = &self.assert { out.push(Sp::new(a.span, Action::Assert(a.value.clone()))); }
                if let Some(a) = &self.log { out.push(Sp::new(a.span, Action::Log(a.value.clone()))); }
                out
            }
        }
    };
}

pub(crate) use with_action_keys;

/// The action keys, for messages.
pub const ACTION_KEYS: &[&str] = &[
    "shell",
    "exec",
    "http",
    "prometheus",
    "k8s",
    "argocd",
    "rds",
    "wait",
    "manual",
    "input",
    "notify",
    "playbook",
    "assert",
    "log",
];
