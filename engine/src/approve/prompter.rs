//! Asking a person at the terminal. Prompts run on one thread of their own, never on the
//! async runtime, so a person reading a question holds up no other step's timeout, no guard
//! and no output pipe. A prompt can be withdrawn: when the run starts failing or is
//! interrupted, the open question is taken back (with a line saying why) and counts as no
//! answer. dialoguer cannot be withdrawn once it reads the terminal, so the questions are
//! asked here with poll(2) on the terminal and on a wake-up pipe.

use std::io::{IsTerminal, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr};
use tokio::sync::oneshot;

use crate::wake::{Waits, Woke};

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptError {
    /// Nobody can be asked (no terminal, `--non-interactive`).
    NoTerminal(String),
    /// The question was taken back: the run is failing or was interrupted.
    Withdrawn(String),
    /// The terminal failed or closed.
    Failed(String),
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            PromptError::NoTerminal(why) | PromptError::Failed(why) => f.write_str(why),
            PromptError::Withdrawn(why) => write!(f, "the question was withdrawn: {why}"),
        }
    }
}

/// Where questions go: the terminal, or nowhere.
pub enum Prompter {
    Terminal(Terminal),
    /// Nothing can be asked; the text says why.
    Nobody(String),
}

impl Prompter {
    /// Nobody to ask: no terminal.
    pub fn nobody() -> Prompter {
        Prompter::Nobody("no terminal to ask at".into())
    }

    pub fn interactive(&self) -> bool {
        matches!(self, Prompter::Terminal(_))
    }

    /// Asks a yes/no question (default no) after showing `detail`.
    pub async fn confirm(&self, question: &str, detail: &str, waits: &Waits) -> Result<bool, PromptError> {
        let ask = Ask::Confirm {
            question: question.to_string(),
            detail: detail.to_string(),
        };
        match self.ask(ask, waits).await? {
            Reply::Yes(b) => Ok(b),
            Reply::Text(_) => Err(PromptError::Failed(
                "the terminal answered text to a yes/no question".into(),
            )),
        }
    }

    /// Asks for a value, or one of `choices`.
    pub async fn input(
        &self,
        prompt: &str,
        choices: Option<&[String]>,
        default: Option<&str>,
        waits: &Waits,
    ) -> Result<String, PromptError> {
        let ask = Ask::Input {
            prompt: prompt.to_string(),
            choices: choices.map(<[String]>::to_vec),
            default: default.map(String::from),
        };
        match self.ask(ask, waits).await? {
            Reply::Text(t) => Ok(t),
            Reply::Yes(_) => Err(PromptError::Failed(
                "the terminal answered yes/no to a question for a value".into(),
            )),
        }
    }

    async fn ask(&self, ask: Ask, waits: &Waits) -> Result<Reply, PromptError> {
        let t = match self {
            Prompter::Terminal(t) => t,
            Prompter::Nobody(why) => return Err(PromptError::NoTerminal(why.clone())),
        };
        if let Some(w) = waits.state() {
            return Err(PromptError::Withdrawn(withdrawn_why(w).into()));
        }
        let (tx, mut rx) = oneshot::channel();
        let withdrawn = Arc::new(AtomicBool::new(false));
        t.requests
            .send(Request {
                ask,
                withdrawn: withdrawn.clone(),
                reply: tx,
            })
            .map_err(|_| PromptError::Failed("the prompt thread has stopped".into()))?;
        tokio::select! {
            r = &mut rx => r.unwrap_or_else(|_| Err(PromptError::Failed("the prompt thread has stopped".into()))),
            why = waits.ended() => {
                withdrawn.store(true, Ordering::SeqCst);
                let _ = nix::unistd::write(&t.wake, &[1]);
                // The thread gives the terminal back before the next question is asked.
                let _ = rx.await;
                Err(PromptError::Withdrawn(withdrawn_why(why).into()))
            }
        }
    }
}

fn withdrawn_why(w: Woke) -> &'static str {
    match w {
        Woke::Settling => "the run is failing",
        _ => "the run was interrupted",
    }
}

enum Ask {
    Confirm {
        question: String,
        detail: String,
    },
    Input {
        prompt: String,
        choices: Option<Vec<String>>,
        default: Option<String>,
    },
}

enum Reply {
    Yes(bool),
    Text(String),
}

struct Request {
    ask: Ask,
    withdrawn: Arc<AtomicBool>,
    reply: oneshot::Sender<Result<Reply, PromptError>>,
}

/// The terminal's prompt thread: one question at a time, in the order asked.
pub struct Terminal {
    requests: std::sync::mpsc::Sender<Request>,
    /// A byte written here wakes the thread from its poll to see a withdrawal.
    wake: OwnedFd,
}

impl Terminal {
    /// The terminal, when stdin and stderr both are one: a prompt at a terminal nobody
    /// types into (stdin redirected) would wait forever. `progress` is hidden while a
    /// question is open, and `prompting` tells the display to hold its lines meanwhile.
    pub fn detect(progress: Option<indicatif::MultiProgress>, prompting: Arc<AtomicBool>) -> Option<Terminal> {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return None;
        }
        let (wake_read, wake_write) = nix::unistd::pipe().ok()?;
        let (tx, rx) = std::sync::mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("runbook-prompt".into())
            .spawn(move || serve(rx, wake_read, progress, prompting))
            .ok()?;
        Some(Terminal {
            requests: tx,
            wake: wake_write,
        })
    }
}

/// The prompt thread's loop: until the run drops its prompter.
fn serve(
    rx: std::sync::mpsc::Receiver<Request>,
    wake: OwnedFd,
    progress: Option<indicatif::MultiProgress>,
    prompting: Arc<AtomicBool>,
) {
    for req in rx {
        if req.withdrawn.load(Ordering::SeqCst) {
            let _ = req
                .reply
                .send(Err(PromptError::Withdrawn("withdrawn before it was asked".into())));
            continue;
        }
        prompting.store(true, Ordering::SeqCst);
        if let Some(p) = &progress {
            let _ = p.clear();
            p.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let tty = Tty {
            wake: &wake,
            withdrawn: &req.withdrawn,
        };
        let answer = match &req.ask {
            Ask::Confirm { question, detail } => tty.confirm(question, detail).map(Reply::Yes),
            Ask::Input {
                prompt,
                choices,
                default,
            } => tty
                .input(prompt, choices.as_deref(), default.as_deref())
                .map(Reply::Text),
        };
        if let Some(p) = &progress {
            p.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        prompting.store(false, Ordering::SeqCst);
        let _ = req.reply.send(answer);
    }
}

/// One question's view of the terminal.
struct Tty<'a> {
    wake: &'a OwnedFd,
    withdrawn: &'a AtomicBool,
}

impl Tty<'_> {
    fn confirm(&self, question: &str, detail: &str) -> Result<bool, PromptError> {
        say(&format!("\n{detail}\n{question} [y/N] "));
        let _raw = RawMode::enter();
        loop {
            let mut b = [0u8; 1];
            self.read(&mut b)?;
            let Some(answer) = key_answer(b[0]) else {
                continue;
            };
            say(if answer { "yes\n" } else { "no\n" });
            return Ok(answer);
        }
    }

    fn input(&self, prompt: &str, choices: Option<&[String]>, default: Option<&str>) -> Result<String, PromptError> {
        let mut text = format!("\n{prompt}");
        if let Some(choices) = choices {
            for (i, c) in choices.iter().enumerate() {
                let mark = if Some(c.as_str()) == default { " (default)" } else { "" };
                text.push_str(&format!("\n  {}) {c}{mark}", i + 1));
            }
            text.push_str(&format!("\nchoose 1-{}", choices.len()));
        }
        if let Some(d) = default {
            text.push_str(&format!(" [{d}]"));
        }
        text.push_str(": ");
        say(&text);
        loop {
            let line = self.line()?;
            match pick(line.trim(), choices, default) {
                Some(p) => return Ok(p),
                None => say(&match choices {
                    Some(c) => format!("choose a number from 1 to {} or one of the names: ", c.len()),
                    None => "an answer is needed: ".into(),
                }),
            }
        }
    }

    /// One line as typed (the terminal's own line editing applies).
    fn line(&self) -> Result<String, PromptError> {
        let mut line = Vec::new();
        loop {
            let mut buf = [0u8; 256];
            let n = self.read(&mut buf)?;
            line.extend_from_slice(&buf[..n]);
            if let Some(end) = line.iter().position(|b| *b == b'\n') {
                line.truncate(end);
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }

    /// Reads what the terminal has, once it has something, unless the question is withdrawn
    /// first.
    fn read(&self, buf: &mut [u8]) -> Result<usize, PromptError> {
        let stdin = std::io::stdin();
        loop {
            let mut fds = [
                PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(PromptError::Failed(format!("the terminal prompt failed: {e}"))),
            }
            let woken = fds[1].revents().is_some_and(|r| !r.is_empty());
            let typed = fds[0].revents().is_some_and(|r| !r.is_empty());
            if woken {
                let mut drain = [0u8; 64];
                let _ = nix::unistd::read(self.wake.as_fd(), &mut drain);
                if self.withdrawn.load(Ordering::SeqCst) {
                    say("\n(question withdrawn: the run no longer waits for it)\n");
                    return Err(PromptError::Withdrawn("withdrawn".into()));
                }
            }
            if typed {
                return match nix::unistd::read(stdin.as_fd(), buf) {
                    Ok(0) => Err(PromptError::Failed("the terminal closed".into())),
                    Ok(n) => Ok(n),
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
                    Err(e) => Err(PromptError::Failed(format!("the terminal prompt failed: {e}"))),
                };
            }
        }
    }
}

/// What one key answers to a yes/no question: `y` yes; `n`, Enter or Ctrl-D no (the
/// default); any other key nothing, and the question waits for another.
pub(super) fn key_answer(key: u8) -> Option<bool> {
    match key {
        b'y' | b'Y' => Some(true),
        b'n' | b'N' | b'\r' | b'\n' | 4 => Some(false),
        _ => None,
    }
}

/// What a typed line answers to a question for a value: the default for an empty line, a
/// choice by its number (from 1) or its name, or the text itself when there are no
/// choices; `None` asks again.
pub(super) fn pick(answer: &str, choices: Option<&[String]>, default: Option<&str>) -> Option<String> {
    match (answer, choices, default) {
        ("", _, Some(d)) => Some(d.to_string()),
        ("", _, None) => None,
        (a, Some(choices), _) => a
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| choices.get(i).cloned())
            .or_else(|| choices.iter().find(|c| c.as_str() == a).cloned()),
        (a, None, _) => Some(a.to_string()),
    }
}

fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Keys arrive one at a time, unechoed, while it lives; the terminal is restored after.
struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        // Signals (Ctrl-C) stay on: they reach the engine, which withdraws the question.
        raw.local_flags.remove(LocalFlags::ICANON | LocalFlags::ECHO);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}
