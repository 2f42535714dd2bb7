//! A stand-in for Slack and paging webhooks on 127.0.0.1: it answers every request `200 ok`
//! and keeps what it received, so tests assert on who was told what.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The path with its query, as sent (`/slack/incidents?x=1`).
    pub path: String,
    pub body: String,
}

impl Received {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// Records every request; stopped on drop.
pub struct Webhooks {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Webhooks {
    pub fn start() -> Webhooks {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a webhook server"));
        let port = server.server_addr().to_ip().map(|a| a.port()).expect("an IP address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (srv, log) = (server.clone(), seen.clone());
        std::thread::spawn(move || {
            for mut rq in srv.incoming_requests() {
                let mut body = String::new();
                let _ = rq.as_reader().read_to_string(&mut body);
                log.lock().expect("lock").push(Received {
                    method: rq.method().to_string(),
                    path: rq.url().to_string(),
                    body,
                });
                let _ = rq.respond(tiny_http::Response::from_string("ok"));
            }
        });
        Webhooks { port, server, seen }
    }

    /// The address of `path` on this server (`/slack/incidents`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().expect("lock").clone()
    }

    /// What was posted to `path` (query ignored), oldest first.
    pub fn posts_to(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .collect()
    }

    /// Waits until a request satisfies `found`, for at most `limit`; panics naming what came.
    pub fn wait_for(&self, limit: Duration, found: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(r) = self.received().into_iter().find(|r| found(r)) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no matching webhook within {limit:?}; received: {:#?}",
                self.received()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.server.unblock();
    }
}
