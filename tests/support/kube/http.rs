//! The HTTP side: tiny_http requests in, one thread per request (a watch holds its thread), replies
//! out; watches stream chunked JSON lines.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use super::api::{self, Reply, Request, Watch};
use super::pods;
use super::state::{Event, Shared, State};
use super::status::ApiError;

/// Serves until the server is unblocked.
pub(crate) fn serve(server: Arc<tiny_http::Server>, shared: Arc<Shared>) {
    for rq in server.incoming_requests() {
        let shared = shared.clone();
        std::thread::spawn(move || respond(&shared, rq));
    }
}

/// Percent-decoding of a URL component (`+` is a space in queries).
fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    // Both are ASCII literals or media types of our own, which tiny_http always accepts.
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("an ASCII header")
}

fn respond(shared: &Shared, mut rq: tiny_http::Request) {
    // exec, attach and port-forward ask to upgrade the connection; tiny_http then hands the body
    // reader the whole connection, which would be read until the client gives up. There are no
    // containers to reach: refuse at once.
    if rq.headers().iter().any(|h| h.field.equiv("Upgrade")) {
        let refusal =
            ApiError::bad_request("this test server runs no containers: exec, attach and port-forward are not served");
        let response = tiny_http::Response::from_data(refusal.to_json().to_string().into_bytes())
            .with_status_code(refusal.code)
            .with_header(header("Content-Type", "application/json"));
        let _ = rq.respond(response);
        return;
    }
    let url = rq.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = Vec::new();
    let _ = rq.as_reader().read_to_end(&mut body);
    let req = Request {
        method: rq.method().as_str().to_string(),
        path: decode(path, false),
        query: parse_query(query),
        headers: rq
            .headers()
            .iter()
            .map(|h| (h.field.to_string().to_ascii_lowercase(), h.value.to_string()))
            .collect(),
        body,
    };
    let (code, content_type, bytes) = match api::handle(shared, &req) {
        Reply::Json(code, v) => (code, "application/json", v.to_string().into_bytes()),
        Reply::Typed(code, ct, v) => (code, ct, v.to_string().into_bytes()),
        Reply::Text(code, t) => (code, "text/plain", t.into_bytes()),
        Reply::Bytes(code, ct, b) => (code, ct, b),
        Reply::Watch(w) => return stream(shared, rq, &w),
    };
    let response = tiny_http::Response::from_data(bytes)
        .with_status_code(code)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-cache, private"));
    let _ = rq.respond(response);
}

/// One watch event line for `ev`, if the watch sees it: an object entering the selection is ADDED to
/// it, one leaving it DELETED.
fn event_line(state: &State, w: &Watch, ev: &Event) -> Option<String> {
    if ev.key.group != w.group || ev.key.plural != w.plural {
        return None;
    }
    if w.namespace.as_deref().is_some_and(|ns| ev.key.namespace != ns) {
        return None;
    }
    let now = w.matches(&ev.object);
    let kind = match ev.kind {
        "MODIFIED" => match (ev.previous.as_ref().is_some_and(|p| w.matches(p)), now) {
            (true, true) => "MODIFIED",
            (false, true) => "ADDED",
            (true, false) => "DELETED",
            (false, false) => return None,
        },
        other if now => other,
        _ => return None,
    };
    let object = w.render(pods::view(state, &ev.key, &ev.object));
    Some(format!("{}\n", json!({ "type": kind, "object": object })))
}

fn chunk(out: &mut dyn Write, data: &[u8]) -> std::io::Result<()> {
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(data)?;
    out.write_all(b"\r\n")?;
    out.flush()
}

/// Streams a watch: the initial objects (when asked from no resourceVersion), then every matching
/// change, until the timeout, the server stops, or the client goes away.
fn stream(shared: &Shared, rq: tiny_http::Request, w: &Watch) {
    let mut out = rq.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    if out.write_all(head.as_bytes()).and_then(|()| out.flush()).is_err() {
        return;
    }
    let deadline = w.timeout.map(|t| Instant::now() + t);
    let mut lines = String::new();
    let mut last = {
        let state = shared.lock();
        match w.since {
            Some(rv) => rv,
            None => {
                for (key, obj) in state.of(&w.group, &w.plural, w.namespace.as_deref()) {
                    if w.matches(&obj) {
                        let object = w.render(pods::view(&state, &key, &obj));
                        lines.push_str(&format!("{}\n", json!({ "type": "ADDED", "object": object })));
                    }
                }
                if w.initial_events {
                    let bookmark = json!({ "type": "BOOKMARK", "object": {
                        "kind": w.kind,
                        "apiVersion": w.api_version,
                        "metadata": {
                            "resourceVersion": state.rv.to_string(),
                            "annotations": { "k8s.io/initial-events-end": "true" },
                        },
                    } });
                    lines.push_str(&format!("{bookmark}\n"));
                }
                state.rv
            }
        }
    };
    loop {
        if !lines.is_empty() {
            if chunk(&mut out, lines.as_bytes()).is_err() {
                return;
            }
            lines.clear();
        }
        if shared.stopped.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let mut state = shared.lock();
        if state.rv <= last {
            let wait = deadline.map_or(Duration::from_millis(500), |d| {
                d.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(500))
            });
            state = shared
                .changed
                .wait_timeout(state, wait)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        for ev in state.events.iter().filter(|e| e.rv > last) {
            if let Some(line) = event_line(&state, w, ev) {
                lines.push_str(&line);
            }
        }
        last = state.rv;
    }
    let _ = out.write_all(b"0\r\n\r\n").and_then(|()| out.flush());
}
