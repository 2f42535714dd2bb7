//! What the commands that run, resume, roll back, approve or schedule share: who runs (in
//! `identity`), the secrets and webhooks a run must not show (in `secrets`), the plans and
//! files a run keeps and reads back (in `kept`), and here the flags of a run, a tokio runtime
//! whose signal handlers are in place before anything is taken or started, the run lock
//! (waited for through the one sleep), the prompter, the sinks behind the one redactor, and
//! the exit code.

mod identity;
mod kept;
mod secrets;

pub use identity::{host, run_info, user};
pub use kept::{as_given, continue_journal, read_plan, save_plan, stopped_run};
pub use secrets::{contact_webhooks, read_secrets};

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;

use super::common::parse_param;
use crate::approve::{Prompter, Terminal};
use crate::error;
use crate::exec::{Emitter, Engine, Sink};
use crate::journal::{JournalSink, StateDir};
use crate::lock::{Holder, LockError, RunLock};
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::report::{JsonLines, Progress};
use crate::wake::{Signal, Signals};

/// The default time between SIGTERM and SIGKILL when a signal stops a run: under
/// Kubernetes' 30 s termination grace, so a pod's own SIGKILL never comes first.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The flags of a command that drives an engine (`run`, `resume`, `rollback`): answers given
/// ahead, prompting, the lock, the output.
#[derive(Debug, clap::Args)]
pub struct RunFlags {
    /// Answer yes to this step's confirmation ahead of time; repeat for several. There is no
    /// blanket yes.
    #[arg(long = "approve", value_name = "STEP")]
    pub approve: Vec<String>,
    /// Answer an `input` step (or `STEP=done` for a `manual` step) ahead of time.
    #[arg(long = "input", value_name = "STEP=VALUE", value_parser = parse_param)]
    pub inputs: Vec<(String, String)>,
    /// Never prompt: steps that need a yes fail closed unless approved with --approve.
    #[arg(long)]
    pub non_interactive: bool,
    /// Wait this long for the run lock when another run holds it (default: do not wait).
    #[arg(long, value_name = "DURATION")]
    pub lock_wait: Option<crate::playbook::Duration>,
    /// When a signal (INT, TERM, HUP) stops the run: how long its running commands get
    /// between SIGTERM and SIGKILL (default 10s; a second signal kills at once).
    #[arg(long, value_name = "DURATION", env = "RUNBOOK_GRACE")]
    pub grace: Option<crate::playbook::Duration>,
    /// `text`: progress on stderr; `json`: one event per line on stdout as well.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// What a run prints (also the `scheduler`'s log format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// The runtime of one command, with the process's signals wired in.
pub struct Session {
    pub rt: tokio::runtime::Runtime,
    pub signals: Arc<Signals>,
}

impl Session {
    /// Starts the runtime and takes over SIGINT, SIGTERM and SIGHUP; from here on a signal
    /// stops the command cleanly instead of killing it.
    pub fn start(grace: Option<crate::playbook::Duration>) -> Result<Session, i32> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                eprintln!("error: cannot start the engine: {e}");
                error::INVALID
            })?;
        let signals = Signals::new(grace.map(|g| g.std()).unwrap_or(DEFAULT_GRACE));
        let installed = {
            let _inside = rt.enter();
            signals.install()
        };
        installed.map_err(|e| {
            eprintln!("error: cannot take over the process's signals: {e}");
            error::INVALID
        })?;
        Ok(Session { rt, signals })
    }

    /// The exit code of a command a signal stopped.
    pub fn signal_code(&self) -> i32 {
        match self.signals.received() {
            Some(Signal::Int) | None => error::INTERRUPTED,
            Some(Signal::Term | Signal::Hup) => error::TERMINATED,
        }
    }

    /// Takes the plan's lock with the workspace's backend (a Lease in the cluster of the
    /// plan's environment), or says who holds it (exit 5), why it cannot be taken (exit 2),
    /// or that a signal ended the wait. The backend the workspace asks for must be one this
    /// build has: silently taking a file lock where a cluster-wide Lease was asked for would
    /// let two machines run at once.
    pub fn take_lock(
        &self,
        ws: &crate::playbook::Workspace,
        plan: &Plan,
        state: &StateDir,
        holder: &Holder,
        wait: Option<crate::playbook::Duration>,
    ) -> Result<RunLock, i32> {
        let (key, kube_context) = (plan.lock.as_str(), plan.env.kube_context.as_deref());
        let waits = self.signals.outside();
        let refuse = |e: LockError| {
            match &e {
                LockError::Io(_) => eprintln!("error: {e}; nothing was run"),
                _ => eprintln!("error: {e}"),
            }
            match e {
                LockError::Held { .. } => error::LOCKED,
                LockError::Io(_) => error::INVALID,
                LockError::Interrupted => self.signal_code(),
            }
        };
        let locks = ws.config.locks.as_ref().map(|l| &l.value);
        match locks.and_then(|l| l.backend) {
            Some(crate::playbook::LockBackend::Kubernetes) => {
                #[cfg(feature = "k8s")]
                {
                    let cfg = crate::lock::LeaseConfig {
                        context: kube_context.map(String::from),
                        namespace: locks
                            .and_then(|l| l.namespace.clone())
                            .unwrap_or_else(|| "default".into()),
                        duration: locks
                            .and_then(|l| l.lease_duration)
                            .map(|d| d.std())
                            .unwrap_or(Duration::from_secs(30)),
                    };
                    let on_lost = Box::new(|why: String| eprintln!("warning: {why}"));
                    crate::lock::acquire_lease(&cfg, key, holder, wait.map(|d| d.std()), &waits, on_lost)
                        .map(|l| RunLock::Lease(Box::new(l)))
                        .map_err(refuse)
                }
                #[cfg(not(feature = "k8s"))]
                {
                    let _ = (kube_context, waits);
                    eprintln!(
                        "error: runbook.yaml asks for `locks: {{ backend: kubernetes }}` (Lease objects), which needs the Kubernetes client this build does not have (the `k8s` feature); nothing was run"
                    );
                    Err(error::INVALID)
                }
            }
            _ => self
                .rt
                .block_on(crate::lock::acquire(state, key, holder, wait.map(|d| d.std()), &waits))
                .map(RunLock::File)
                .map_err(refuse),
        }
    }

    /// Runs the engine to its end; reports a journal that could not be written; the exit
    /// code. The lock (held by the caller) is released only after this returns, that is
    /// after every step's process group is gone.
    pub fn drive(self, engine: Engine, emitter: &Emitter, run: &str) -> i32 {
        let status = self.rt.block_on(engine.run());
        journal_failure(emitter, run);
        self.rt.shutdown_timeout(Duration::from_secs(1));
        status.exit_code()
    }
}

/// Says on stderr that the audit trail is incomplete, and where to look.
pub fn journal_failure(emitter: &Emitter, run: &str) {
    if let Some(why) = emitter.failure() {
        eprintln!(
            "error: the journal of run {run} could not be written ({why}): nothing was started after that; `runbook audit verify {run}` says where the record ends"
        );
    }
}

/// Asks at the terminal unless told not to or there is none.
pub fn prompter(non_interactive: bool, progress: &Progress) -> Arc<Prompter> {
    if non_interactive {
        return Arc::new(Prompter::Nobody("--non-interactive".into()));
    }
    Arc::new(match Terminal::detect(progress.multi(), progress.prompting()) {
        Some(t) => Prompter::Terminal(t),
        None => Prompter::nobody(),
    })
}

/// The progress display (stderr) and, with `--output json`, JSON lines on stdout.
pub fn display(json: bool) -> (Progress, Option<JsonLines>) {
    (
        Progress::new(std::io::stderr().is_terminal()),
        json.then_some(JsonLines),
    )
}

/// The emitter of a run: the journal first, then what people see, all behind the one
/// redactor built from every secret value of the run.
pub fn emitter(journal: JournalSink, progress: Progress, json: Option<JsonLines>, secrets: &[&str]) -> Emitter {
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(journal), Box::new(progress)];
    if let Some(j) = json {
        sinks.push(Box::new(j));
    }
    Emitter::new(sinks, Arc::new(Redactor::new(secrets.iter().copied())))
}
