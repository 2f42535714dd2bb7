//! Asking a person: at the terminal (dialoguer), or not at all.

use std::io::IsTerminal;
use std::sync::Mutex;

/// Asks the operator. Each method returns `Err` with the reason when it cannot ask.
pub trait Prompter: Send + Sync {
    fn interactive(&self) -> bool;
    fn confirm(&self, question: &str, detail: &str) -> Result<bool, String>;
    fn input(&self, prompt: &str, choices: Option<&[String]>, default: Option<&str>) -> Result<String, String>;
}

/// Asks at the terminal. Only built when stdin and stderr are both terminals: dialoguer
/// checks only its output and would read /dev/tty behind a redirected stdin.
pub struct Terminal {
    /// One question at a time, and the progress display paused meanwhile.
    lock: Mutex<()>,
    progress: Option<indicatif::MultiProgress>,
}

impl Terminal {
    pub fn detect(progress: Option<indicatif::MultiProgress>) -> Option<Terminal> {
        (std::io::stdin().is_terminal() && std::io::stderr().is_terminal()).then(|| Terminal {
            lock: Mutex::new(()),
            progress,
        })
    }

    fn ask<T>(&self, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        let _one = self
            .lock
            .lock()
            .map_err(|_| "the prompt lock is poisoned".to_string())?;
        let mut f = Some(f);
        let mut out = None;
        let mut run = || out = f.take().map(|f| f());
        match &self.progress {
            Some(p) => p.suspend(run),
            None => run(),
        }
        out.unwrap_or_else(|| Err("the prompt did not run".into()))
    }
}

impl Prompter for Terminal {
    fn interactive(&self) -> bool {
        true
    }

    fn confirm(&self, question: &str, detail: &str) -> Result<bool, String> {
        self.ask(|| {
            eprintln!("\n{detail}");
            dialoguer::Confirm::new()
                .with_prompt(question)
                .default(false)
                .interact()
                .map_err(|e| format!("the terminal prompt failed: {e}"))
        })
    }

    fn input(&self, prompt: &str, choices: Option<&[String]>, default: Option<&str>) -> Result<String, String> {
        self.ask(|| match choices {
            Some(choices) => {
                let start = default.and_then(|d| choices.iter().position(|c| c == d)).unwrap_or(0);
                dialoguer::Select::new()
                    .with_prompt(prompt)
                    .items(choices)
                    .default(start)
                    .interact()
                    .map(|i| choices[i].clone())
                    .map_err(|e| format!("the terminal prompt failed: {e}"))
            }
            None => {
                let mut input = dialoguer::Input::<String>::new().with_prompt(prompt);
                if let Some(d) = default {
                    input = input.default(d.to_string());
                }
                input
                    .interact_text()
                    .map_err(|e| format!("the terminal prompt failed: {e}"))
            }
        })
    }
}

/// No terminal (or `--non-interactive`): nothing can be asked.
pub struct NoTerminal;

impl Prompter for NoTerminal {
    fn interactive(&self) -> bool {
        false
    }
    fn confirm(&self, _: &str, _: &str) -> Result<bool, String> {
        Err("no terminal to ask at".into())
    }
    fn input(&self, _: &str, _: Option<&[String]>, _: Option<&str>) -> Result<String, String> {
        Err("no terminal to ask at".into())
    }
}
