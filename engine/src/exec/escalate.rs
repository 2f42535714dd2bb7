//! Escalation while a step waits for a person: the first level of the step's chain is
//! notified when the wait begins, each next one when the level before it let its `within`
//! pass unanswered; an answer (or the run failing or stopping) ends it. Also the incident's
//! announcement when an escalating playbook starts. Everything here runs in the step's task
//! (or a task of its own), never on the dispatcher, and waits only through the one sleep.

use std::time::{Duration, Instant};

use serde_json::json;

use super::engine::Engine;
use crate::compile::{Escalation, EscalationLevel, Step};
use crate::event::RunEvent;
use crate::playbook::Contacts;
use crate::wake::{Waits, Woke};

/// The longest a webhook may take: a slow chat service must not hold up the next level.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a person does to answer a waiting step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Awaiting {
    Confirm,
    Approval,
    /// A `manual` or `input` step.
    Operator,
}

impl Engine {
    /// Awaits `answer` (a gate's decision, or a `manual`/`input` action) while escalating
    /// along the step's chain. An answer that needs no waiting (given ahead, or failing
    /// closed with nobody to ask) is taken before anyone is notified.
    pub(super) async fn escalating<T>(
        &self,
        label: &str,
        step: &Step,
        awaiting: Awaiting,
        answer: impl std::future::Future<Output = T>,
        waits: &Waits,
    ) -> T {
        let (Some(chain), Some(contacts)) = (&step.escalate, self.plan.env.contacts.clone()) else {
            return answer.await;
        };
        tokio::pin!(answer);
        let start = Instant::now();
        let mut due = chain.after.map(|a| a.std()).unwrap_or_default();
        for (i, level) in chain.levels.iter().enumerate() {
            let left = due.saturating_sub(start.elapsed());
            tokio::select! {
                // The answer first: one already there ends it before anyone is told.
                biased;
                a = &mut answer => return a,
                woke = waits.sleep(left) => {
                    if woke != Woke::Elapsed {
                        // The gate is being withdrawn: its answer comes at once.
                        return answer.await;
                    }
                }
            }
            let last = i + 1 == chain.levels.len() || level.within.is_none();
            // Sent while the answer is not polled: a notification is never cut off halfway,
            // and an answer that arrives meanwhile is taken right after.
            self.notify_level(label, awaiting, chain, level, &contacts, start.elapsed(), last, waits)
                .await;
            match level.within {
                Some(w) if !last => due += w.std(),
                _ => break,
            }
        }
        answer.await
    }

    #[allow(clippy::too_many_arguments)]
    async fn notify_level(
        &self,
        label: &str,
        awaiting: Awaiting,
        chain: &Escalation,
        level: &EscalationLevel,
        contacts: &Contacts,
        waited: Duration,
        last: bool,
        waits: &Waits,
    ) {
        let now = chrono::Utc::now();
        let mut people: Vec<(&str, &crate::playbook::contacts::Person)> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        for who in &level.notify {
            match contacts.resolve(who, now) {
                Some(p) if !people.iter().any(|(id, _)| *id == p.0) => people.push(p),
                Some(_) => {}
                None => failed.push(format!("{who}: nobody holds it now")),
            }
        }
        let answer = self.how_to_answer(label, awaiting);
        let waited_text = crate::playbook::Duration(Duration::from_secs(waited.as_secs()));
        let mentions: Vec<String> = people
            .iter()
            .map(|(_, p)| p.slack.clone().unwrap_or_else(|| p.name.clone()))
            .collect();
        let text = format!(
            "[{}] {} of {} (run {}, env {}) has waited {waited_text} for an answer: step `{label}`. {}: please answer: {answer}",
            level.name,
            match awaiting {
                Awaiting::Approval => "an approval",
                Awaiting::Confirm => "a confirmation",
                Awaiting::Operator => "an operator's step",
            },
            self.plan.playbook.name,
            self.run.id,
            self.plan.env.name,
            if mentions.is_empty() {
                "nobody could be named".to_string()
            } else {
                mentions.join(" ")
            },
        );
        let mut delivered = Vec::new();
        if let Some(channel) = &chain.channel {
            let var = contacts.channels.get(channel).cloned().unwrap_or_default();
            match self.post(&var, json!({ "text": text }), waits).await {
                Ok(()) => delivered.push(format!("#{channel}")),
                Err(why) => failed.push(format!("#{channel}: {why}")),
            }
        }
        if let Some(var) = &contacts.pager {
            let page = json!({
                "event": "escalation",
                "level": level.name,
                "playbook": self.plan.playbook.name,
                "run": self.run.id,
                "env": self.plan.env.name,
                "step": label,
                "waited_seconds": waited.as_secs(),
                "people": people.iter().map(|(id, p)| json!({
                    "id": id, "name": p.name, "phone": p.phone, "slack": p.slack,
                })).collect::<Vec<_>>(),
                "answer": answer,
                "text": text,
            });
            match self.post(var, page, waits).await {
                Ok(()) => delivered.push("pager".into()),
                Err(why) => failed.push(format!("pager: {why}")),
            }
        }
        self.emit(RunEvent::Escalated {
            step: label.to_string(),
            level: level.name.clone(),
            notified: people.iter().map(|(_, p)| p.describe()).collect(),
            channel: chain.channel.clone(),
            waited_ms: waited.as_millis() as u64,
            delivered,
            failed,
            last,
        });
    }

    /// What the people notified do to answer.
    fn how_to_answer(&self, label: &str, awaiting: Awaiting) -> String {
        match awaiting {
            Awaiting::Approval => format!("runbook approve {} {label} --as NAME (or --reject)", self.run.id),
            Awaiting::Confirm => format!(
                "the confirmation waits at the terminal of {} on {}",
                self.run.user, self.run.host
            ),
            Awaiting::Operator => format!(
                "the step waits at the terminal of {} on {}",
                self.run.user, self.run.host
            ),
        }
    }

    /// Posts `body` to the webhook whose address is in the environment variable `var`.
    async fn post(&self, var: &str, mut body: serde_json::Value, waits: &Waits) -> Result<(), String> {
        let Some(url) = self.opts.webhooks.get(var).filter(|u| !u.is_empty()) else {
            return Err(format!("not sent: {var} is not set"));
        };
        // A message leaves the run: no secret goes with it.
        self.redactor.redact_json(&mut body);
        let send = self.http.post(url).json(&body).timeout(NOTIFY_TIMEOUT).send();
        tokio::select! {
            r = send => match r {
                Ok(r) if r.status().is_success() => Ok(()),
                // The address holds a token: it is never repeated in a message.
                Ok(r) => Err(format!("the webhook answered {}", r.status())),
                Err(e) if e.is_timeout() => Err("the webhook timed out".into()),
                Err(_) => Err("the webhook could not be reached".into()),
            },
            _ = waits.ended() => Err("not sent: the run is stopping".into()),
        }
    }

    /// Announces an escalating playbook's run in its channel: what runs, who runs it, who is
    /// on call, and the chain.
    pub(super) async fn announce(&self, waits: &Waits) {
        let (Some(chain), Some(contacts)) = (&self.plan.escalate, self.plan.env.contacts.clone()) else {
            return;
        };
        let Some(channel) = &chain.channel else {
            return;
        };
        let on_call: Vec<String> = contacts
            .resolve("oncall:primary", chrono::Utc::now())
            .map(|(_, p)| p.describe())
            .into_iter()
            .collect();
        let text = format!(
            "Incident: {} {} by {} in env {} (run {}). On call: {}. Unanswered gates escalate {}.",
            self.plan.playbook.name,
            if self.resumed() { "resumed" } else { "started" },
            self.run.user,
            self.plan.env.name,
            self.run.id,
            if on_call.is_empty() {
                "nobody (no rotation)".to_string()
            } else {
                on_call.join(", ")
            },
            chain.chain()
        );
        let var = contacts.channels.get(channel).cloned().unwrap_or_default();
        let failed = self.post(&var, json!({ "text": text }), waits).await.err();
        self.emit(RunEvent::IncidentAnnounced {
            channel: channel.clone(),
            on_call,
            failed,
        });
    }
}
