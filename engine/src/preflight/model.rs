//! What a preflight found: a verdict per step (and per precondition), and whether the run
//! would fail. Serialized as the `plan --check --format json` document.

use serde::Serialize;

use crate::spec::Effect;

/// Version of the check's JSON format.
pub const CHECK_FORMAT: u32 = 1;

/// The preflight of one plan.
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    pub format: u32,
    pub playbook: String,
    pub env: String,
    pub plan_hash: String,
    /// Nothing would fail (`unknown` and `not_checked` steps do not count against it).
    pub ok: bool,
    /// A signal stopped the check; the steps after it are `not_checked`.
    pub interrupted: bool,
    /// What would stop the run before its first step (a secret that is not set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<String>,
    pub steps: Vec<StepCheck>,
}

impl Preflight {
    /// How many steps have this status.
    pub fn count(&self, status: Status) -> usize {
        self.steps.iter().filter(|s| s.status == status).count()
    }
}

/// Where a step sits in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Steps,
    OnFailure,
    Finally,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checked against the live systems and passed.
    Ready,
    /// Checked, and the run would fail here.
    WouldFail,
    /// Needs what only an earlier step's run gives (its output, or the state it changes).
    Unknown,
    /// Its `when` is false: the run skips it.
    Skipped,
    /// Not run by design (mutating, external, asks a person) or not checkable by this build.
    NotChecked,
}

impl Status {
    pub fn glyph(self) -> &'static str {
        match self {
            Status::Ready => "✓",
            Status::WouldFail => "✗",
            Status::Unknown => "?",
            Status::Skipped | Status::NotChecked => "·",
        }
    }

    /// How bad it is, to pick a step's status from its parts.
    fn rank(self) -> u8 {
        match self {
            Status::WouldFail => 4,
            Status::Unknown => 3,
            Status::NotChecked => 2,
            Status::Ready => 1,
            Status::Skipped => 0,
        }
    }
}

/// How an action was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Run for real: it only reads.
    Ran,
    /// A server-side dry run (`dryRun=All`): validated and admitted, nothing persisted.
    DryRun,
    /// An expression evaluated (`assert`, `when`).
    Evaluated,
}

/// The verdict on one action or precondition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub status: Status,
    /// Why, in words (redacted).
    pub message: String,
    /// For `unknown`: the step whose run it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<How>,
}

impl Verdict {
    pub fn ready(how: How, message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Ready,
            message: message.into(),
            until: None,
            how: Some(how),
        }
    }
    pub fn fail(how: Option<How>, message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::WouldFail,
            message: message.into(),
            until: None,
            how,
        }
    }
    pub fn unknown(until: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Unknown,
            message: message.into(),
            until: Some(until.to_string()),
            how: None,
        }
    }
    pub fn not_checked(message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::NotChecked,
            message: message.into(),
            until: None,
            how: None,
        }
    }
    pub fn skipped(message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Skipped,
            message: message.into(),
            until: None,
            how: None,
        }
    }

    /// The worse of two verdicts (a failure outranks an unknown, which outranks the rest).
    pub fn worst(self, other: Verdict) -> Verdict {
        if other.status.rank() > self.status.rank() {
            other
        } else {
            self
        }
    }
}

/// One precondition's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckLine {
    pub name: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// One step's verdict: its own (`status`, `message`, `until`, `how`) and its preconditions'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCheck {
    pub id: String,
    pub section: Section,
    /// `k8s scale`, `shell`; absent for a step that is only a gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub effect: Effect,
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preconditions: Vec<CheckLine>,
}

impl std::ops::Deref for StepCheck {
    type Target = Verdict;
    fn deref(&self) -> &Verdict {
        &self.verdict
    }
}

impl std::ops::Deref for CheckLine {
    type Target = Verdict;
    fn deref(&self) -> &Verdict {
        &self.verdict
    }
}
