//! Running `http`: one request; the expected status and `expect` decide, the JSON reply is the result.

use crate::spec::HttpSpec;

impl HttpSpec {
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let method = reqwest::Method::from_bytes(self.method().as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
        let timeout = self
            .timeout
            .map(|t| t.std())
            .unwrap_or(std::time::Duration::from_secs(30))
            .min(cx.timeout);
        let mut req = cx.http.request(method, &self.url).timeout(timeout);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(j) = &self.json {
            req = req.json(j);
        } else if let Some(b) = &self.body {
            req = req.body(b.clone());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                let mut o = super::Outcome::fail(format!("{} {}: timed out", self.method().as_str(), self.url));
                o.timed_out = true;
                return o;
            }
            Err(e) => {
                return super::Outcome::fail(format!("{} {}: {}", self.method().as_str(), self.url, error_chain(&e)));
            }
        };
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        let result = serde_json::json!({ "status": status, "body": body, "json": json });
        let status_ok = match &self.expect_status {
            Some(codes) => codes.contains(&status),
            None => (200..300).contains(&status),
        };
        let mut out = super::Outcome {
            result: result.clone(),
            output: body.clone(),
            ..Default::default()
        };
        if !status_ok {
            out.error = Some(format!("{} {} answered {status}", self.method().as_str(), self.url));
            return out;
        }
        if let Some(expect) = &self.expect {
            match (cx.eval)(expect, &[("result", result)]) {
                Ok(v) if crate::expr::truthy(&v) => {}
                Ok(_) => {
                    out.error = Some(format!("expect `{expect}` does not hold"));
                    return out;
                }
                Err(e) => {
                    out.error = Some(format!("expect `{expect}`: {e}"));
                    return out;
                }
            }
        }
        out.ok = true;
        out
    }
}

/// reqwest's error and its causes, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}
