//! One invocation of the `runbook` binary in a test, built fluently and checked against
//! what the test expects: `w.runbook(["run", "deploy"]).user("alice").status(4)
//! .stderr_has("REFUSED").run()`. A failed expectation shows the command and its whole
//! transcript.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;

use crate::Background;
use crate::process::{Output, RUN_DEADLINE, TAG_VAR, capture, new_tag};

/// `runbook ARGS` in `dir`, to be configured and then run: without colors, stdin closed,
/// our variables (`RUNBOOK_STATE_DIR`, `RUNBOOK_USER`) cleared, within [`RUN_DEADLINE`].
pub fn runbook<S: AsRef<OsStr>>(dir: &Path, args: impl IntoIterator<Item = S>) -> Invocation {
    Invocation {
        dir: dir.to_path_buf(),
        args: args.into_iter().map(|a| a.as_ref().to_os_string()).collect(),
        env: Vec::new(),
        stdin: None,
        setup: None,
        limit: RUN_DEADLINE,
        status: None,
        expected: Vec::new(),
        context: None,
        retry: None,
    }
}

/// A `runbook` command line with its environment and input, and what the test expects of
/// its end.
#[must_use = "an invocation does nothing until it is run"]
pub struct Invocation {
    dir: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    /// Shell lines run before the binary replaces the shell (`ulimit -f 8`).
    setup: Option<String>,
    limit: Duration,
    status: Option<i32>,
    expected: Vec<Expected>,
    /// Said first when an expectation fails: which round of a loop, which case.
    context: Option<String>,
    /// Run again while this holds of the output, until the deadline.
    retry: Option<(Duration, Retry)>,
}

type Retry = Box<dyn Fn(&Output) -> bool>;

/// One expectation on a stream's text.
enum Expected {
    Has(Stream, String),
    Lacks(Stream, String),
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Invocation {
    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// A variable of the binary's environment.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Variables of the binary's environment.
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, vars: &[(K, V)]) -> Self {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Runs as `name` (`RUNBOOK_USER`), the identity the engine records and checks.
    pub fn user(self, name: &str) -> Self {
        self.env("RUNBOOK_USER", name)
    }

    /// Text written to the binary's stdin (closed after it) instead of a closed stdin.
    pub fn stdin(mut self, text: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(text.into());
        self
    }

    /// Runs the binary from `sh -c 'SETUP; exec runbook ...'`: for limits only a shell
    /// sets (`ulimit -f 8`).
    pub fn after_sh(mut self, setup: &str) -> Self {
        self.setup = Some(setup.to_string());
        self
    }

    /// How long the invocation may take before the test fails (default [`RUN_DEADLINE`]).
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// Runs the binary again while `again` holds of what it did, for at most `limit`; the
    /// expectations are checked on the last run. For a state another process is still
    /// leaving (a killed run's steps still exiting) that the binary reports by its answer.
    pub fn retry_while(mut self, limit: Duration, again: impl Fn(&Output) -> bool + 'static) -> Self {
        self.retry = Some((limit, Box::new(again)));
        self
    }

    /// Expects this exit code.
    pub fn status(mut self, code: i32) -> Self {
        self.status = Some(code);
        self
    }

    /// Expects success (exit code 0).
    pub fn success(self) -> Self {
        self.status(0)
    }

    /// Expects stdout to contain `text`.
    pub fn stdout_has(mut self, text: impl Into<String>) -> Self {
        self.expected.push(Expected::Has(Stream::Stdout, text.into()));
        self
    }

    /// Expects stderr to contain `text`.
    pub fn stderr_has(mut self, text: impl Into<String>) -> Self {
        self.expected.push(Expected::Has(Stream::Stderr, text.into()));
        self
    }

    /// Expects stdout not to contain `text`.
    pub fn stdout_lacks(mut self, text: impl Into<String>) -> Self {
        self.expected.push(Expected::Lacks(Stream::Stdout, text.into()));
        self
    }

    /// Expects stderr not to contain `text`.
    pub fn stderr_lacks(mut self, text: impl Into<String>) -> Self {
        self.expected.push(Expected::Lacks(Stream::Stderr, text.into()));
        self
    }

    /// What a failed expectation says first (the round of a loop, the case at hand).
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.context = Some(context.to_string());
        self
    }

    /// Runs the binary to its end and checks what was expected; panics with the command and
    /// its transcript when something is not as expected, or when it has not ended within
    /// the limit (after killing it and every process it started).
    #[track_caller]
    pub fn run(self) -> Output {
        let shown = self.shown();
        let once = || {
            let (cmd, tag) = self.command();
            capture(cmd, &tag, self.stdin.clone(), self.limit, &shown)
        };
        let out = match &self.retry {
            None => once(),
            Some((limit, again)) => {
                let mut last = None;
                let settled = crate::poll::poll(*limit, || {
                    let out = once();
                    if again(&out) {
                        last = Some(out);
                        None
                    } else {
                        Some(out)
                    }
                });
                settled.or(last).unwrap_or_else(once)
            }
        };
        let mut wrong = Vec::new();
        if let Some(code) = self.status
            && out.code != code
        {
            wrong.push(format!("exit code {}, expected {code}", out.code));
        }
        for e in &self.expected {
            let text = |s: &Stream| match s {
                Stream::Stdout => ("stdout", &out.stdout),
                Stream::Stderr => ("stderr", &out.stderr),
            };
            match e {
                Expected::Has(s, want) if !text(s).1.contains(want.as_str()) => {
                    wrong.push(format!("{} lacks `{want}`", text(s).0));
                }
                Expected::Lacks(s, unwanted) if text(s).1.contains(unwanted.as_str()) => {
                    wrong.push(format!("{} has `{unwanted}`", text(s).0));
                }
                _ => {}
            }
        }
        if !wrong.is_empty() {
            let context = self.context.map(|c| format!("{c}: ")).unwrap_or_default();
            panic!("{context}`{shown}`: {}\n{}", wrong.join("; "), out.transcript());
        }
        out
    }

    /// Starts `runbook ARGS --output json` in the background, to be read event by event.
    pub fn start(self) -> Background {
        self.arg("--output").arg("json").spawn()
    }

    /// Starts `runbook ARGS` in the background, reading its stdout line by line (for
    /// commands other than a run: `schedule run-due`).
    pub fn spawn(self) -> Background {
        let (cmd, tag) = self.command();
        Background::of(cmd, tag)
    }

    /// Starts the binary in a pseudo-terminal, as a person at a terminal runs it; each
    /// `expect` on it waits at most 20 s.
    pub fn terminal(self) -> OsSession {
        let (cmd, _) = self.command();
        let mut s = OsSession::spawn(cmd).expect("spawn in a pty");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        s
    }

    /// `runbook ARGS` as the reader of a failed test sees it.
    fn shown(&self) -> String {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        format!("runbook {}", args.join(" "))
    }

    /// The command, with a new tag that lets [`crate::kill_tagged`] find every process it
    /// starts.
    fn command(&self) -> (Command, String) {
        let tag = new_tag();
        let mut cmd = match &self.setup {
            None => Command::new(crate::binary()),
            Some(setup) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{setup}; exec \"$0\" \"$@\""))
                    .arg(crate::binary());
                sh
            }
        };
        cmd.args(["--color", "never"])
            .args(&self.args)
            .current_dir(&self.dir)
            .env_remove("RUNBOOK_STATE_DIR")
            .env_remove("RUNBOOK_USER")
            .env("NO_COLOR", "1")
            .env(TAG_VAR, &tag)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        (cmd, tag)
    }
}

/// How a run in a pseudo-terminal ended: its exit code (panics when a signal ended it).
pub fn exit_code(s: &OsSession) -> i32 {
    match s.get_process().wait() {
        Ok(WaitStatus::Exited(_, code)) => code,
        other => panic!("unexpected end: {other:?}"),
    }
}
