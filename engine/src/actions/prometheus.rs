//! Running `prometheus`: the instant query, its one value, and `expect` over it.

use crate::spec::{Aggregate, PrometheusSpec};

impl PrometheusSpec {
    /// An instant query: `result.value` is the single value (or the aggregate of several
    /// series); `expect` must hold over `value`.
    pub async fn execute(&self, cx: &super::ActionCx<'_>) -> super::Outcome {
        let url = format!("{}/api/v1/query", self.url.trim_end_matches('/'));
        let resp = cx
            .http
            .get(&url)
            .query(&[("query", self.query.as_str())])
            .timeout(cx.timeout)
            .send()
            .await;
        let body: serde_json::Value = match resp {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(b) => b,
                Err(e) => return super::Outcome::fail(format!("prometheus at {}: unreadable answer: {e}", self.url)),
            },
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                return super::Outcome::fail(format!("prometheus at {} answered {status}: {}", self.url, text.trim()));
            }
            Err(e) => {
                return super::Outcome::fail(format!("prometheus at {}: {}", self.url, super::http::error_chain(&e)));
            }
        };
        let value = match extract(&body, self.aggregate) {
            Ok(v) => v,
            Err(e) => return super::Outcome::fail(format!("query `{}`: {e}", self.query)),
        };
        let result = serde_json::json!({ "value": value, "data": body.get("data") });
        let mut out = super::Outcome::ok(result.clone());
        out.output = format!("value = {value}");
        if let Some(expect) = &self.expect {
            match (cx.eval)(expect, &[("value", serde_json::json!(value)), ("result", result)]) {
                Ok(v) if crate::expr::truthy(&v) => {}
                Ok(_) => {
                    out.ok = false;
                    out.error = Some(format!("expect `{expect}` does not hold (value = {value})"));
                }
                Err(e) => {
                    out.ok = false;
                    out.error = Some(format!("expect `{expect}`: {e}"));
                }
            }
        }
        out
    }
}

/// The one number of an instant query's answer.
fn extract(body: &serde_json::Value, aggregate: Option<Aggregate>) -> Result<f64, String> {
    let data = body.get("data").ok_or("the answer has no data")?;
    let parse = |v: &serde_json::Value| -> Result<f64, String> {
        v.get(1)
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| format!("unreadable sample {v}"))
    };
    match data.get("resultType").and_then(|t| t.as_str()) {
        Some("scalar") => parse(data.get("result").ok_or("no result")?),
        Some("vector") => {
            let series = data.get("result").and_then(|r| r.as_array()).ok_or("no result")?;
            let values: Vec<f64> = series
                .iter()
                .map(|s| parse(s.get("value").unwrap_or(&serde_json::Value::Null)))
                .collect::<Result<_, _>>()?;
            match (values.len(), aggregate) {
                (0, Some(Aggregate::Count | Aggregate::Sum)) => Ok(0.0),
                (0, _) => Err("the result is empty (no series matched); add `or vector(0)` or `aggregate`".into()),
                (1, None) => Ok(values[0]),
                (n, None) => Err(format!(
                    "the result has {n} series; give `aggregate` (sum, max, min, avg, count)"
                )),
                (_, Some(a)) => Ok(match a {
                    Aggregate::Sum => values.iter().sum(),
                    Aggregate::Max => values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                    Aggregate::Min => values.iter().cloned().fold(f64::INFINITY, f64::min),
                    Aggregate::Avg => values.iter().sum::<f64>() / values.len() as f64,
                    Aggregate::Count => values.len() as f64,
                }),
            }
        }
        other => Err(format!("unsupported result type {other:?}")),
    }
}
