//! Running `notify`: posts the message, redacted, to the webhook.

use crate::spec::NotifySpec;

impl NotifySpec {
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let (url, mut body) = match self {
            NotifySpec::Slack { webhook, text } => (webhook, serde_json::json!({ "text": text })),
            NotifySpec::Webhook { url, json } => (url, json.clone()),
        };
        // A message leaves the run: no secret goes with it (the address may hold a token).
        cx.redact.redact_json(&mut body);
        match cx.http.post(url).json(&body).timeout(cx.timeout).send().await {
            Ok(r) if r.status().is_success() => {
                super::Outcome::ok(serde_json::json!({ "status": r.status().as_u16() }))
            }
            // The webhook's address may hold a token: it is not repeated in the message.
            Ok(r) => super::Outcome::fail(format!("the webhook answered {}", r.status())),
            Err(e) => super::Outcome::fail(format!(
                "the webhook could not be reached: {}",
                if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "connection failed".to_string()
                } else {
                    "request failed".to_string()
                }
            )),
        }
    }
}
