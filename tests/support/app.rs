//! A stand-in for the platform's application as Prometheus and the playbooks see it, on
//! 127.0.0.1: `/metrics` with the runbook's request counters and latency histogram, growing at
//! the traffic a test sets, its pods' memory against their limit, and `/health`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `app` label of every series.
pub const APP: &str = "myapp-backend";

/// Upper bounds of the latency histogram, in seconds; 0.2 is the runbook's p95 objective.
pub const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Which deployment serves the requests: the `track` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    Stable,
    Canary,
}

impl Track {
    pub fn label(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }

    fn parse(s: &str) -> Option<Track> {
        match s {
            "stable" => Some(Track::Stable),
            "canary" => Some(Track::Canary),
            _ => None,
        }
    }
}

/// The traffic one track of one namespace serves. Values are clamped where used: `rps` to
/// [0, 1e6], `error_ratio` to [0, 1], `p95_seconds` to the histogram's range [0.005, 10].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Requests per second.
    pub rps: f64,
    /// The share of requests answered 500.
    pub error_ratio: f64,
    /// The 95th percentile of latency that `histogram_quantile(0.95, ...)` reads.
    pub p95_seconds: f64,
}

impl Traffic {
    /// Healthy traffic: well within the runbook's objectives (errors < 0.1 %, p95 < 200 ms).
    pub fn healthy(rps: f64) -> Traffic {
        Traffic {
            rps,
            error_ratio: 0.0005,
            p95_seconds: 0.12,
        }
    }

    fn clamped(self) -> Traffic {
        let finite = |v: f64, lo: f64, hi: f64, fallback: f64| if v.is_finite() { v.clamp(lo, hi) } else { fallback };
        Traffic {
            rps: finite(self.rps, 0.0, 1e6, 0.0),
            error_ratio: finite(self.error_ratio, 0.0, 1.0, 0.0),
            p95_seconds: finite(self.p95_seconds, BUCKETS[0], BUCKETS[BUCKETS.len() - 1], 0.12),
        }
    }

    /// The cumulative share of requests at or under each bucket bound. `histogram_quantile`
    /// interpolates linearly inside the bucket where the 95 % rank falls, so the bucket
    /// holding p95 gets a mass of 5 % placed to make that line cross 0.95 exactly at p95.
    fn cumulative(self) -> [f64; BUCKETS.len()] {
        let p = self.p95_seconds;
        let k = BUCKETS.iter().position(|b| *b >= p).unwrap_or(BUCKETS.len() - 1);
        let mut cum = [1.0; BUCKETS.len()];
        if k == 0 {
            // The first bucket starts at 0: only p95 == its bound is representable (p is
            // clamped to it), which puts 95 % in it.
            cum[0] = 0.95;
            return cum;
        }
        let (a, b) = (BUCKETS[k - 1], BUCKETS[k]);
        let t = (p - a) / (b - a);
        let below = 0.95 - 0.05 * t;
        for (i, c) in cum.iter_mut().enumerate().take(k) {
            *c = below * (i + 1) as f64 / k as f64;
        }
        cum[k] = 1.0 - 0.05 * t;
        cum
    }
}

/// Counter values of one (namespace, track).
#[derive(Debug, Clone, Copy)]
struct Counts {
    ok: f64,
    errors: f64,
    buckets: [f64; BUCKETS.len()],
    sum: f64,
}

impl Counts {
    /// What `traffic` adds in `secs` seconds.
    fn of(traffic: Traffic, secs: f64) -> Counts {
        let n = traffic.rps * secs;
        let cum = traffic.cumulative();
        Counts {
            ok: n * (1.0 - traffic.error_ratio),
            errors: n * traffic.error_ratio,
            buckets: cum.map(|c| c * n),
            // A mean of half the p95; nothing reads it but an average.
            sum: n * traffic.p95_seconds / 2.0,
        }
    }

    fn plus(mut self, o: Counts) -> Counts {
        self.ok += o.ok;
        self.errors += o.errors;
        for (b, x) in self.buckets.iter_mut().zip(o.buckets) {
            *b += x;
        }
        self.sum += o.sum;
        self
    }
}

/// One series set: counters as they were at `since`, growing at `traffic` from then.
#[derive(Debug, Clone, Copy)]
struct Series {
    traffic: Traffic,
    since: Instant,
    base: Counts,
}

impl Series {
    /// A new series starts as if it had served its traffic for an hour: `rate()` limits its
    /// extrapolation where a counter would reach zero, differently per series, which would
    /// skew a ratio of counters that all started at zero within the window.
    fn new(traffic: Traffic, now: Instant) -> Series {
        Series {
            traffic,
            since: now,
            base: Counts::of(traffic, WARM_START.as_secs_f64()),
        }
    }

    fn at(&self, now: Instant) -> Counts {
        let secs = now.saturating_duration_since(self.since).as_secs_f64();
        self.base.plus(Counts::of(self.traffic, secs))
    }
}

const WARM_START: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct World {
    series: BTreeMap<(String, Track), Series>,
    healthy: bool,
    /// Bodies posted to `/hooks/...`, oldest first, at most [`MAX_HOOKS`].
    hooks: Vec<String>,
    /// Per namespace, the application pods' memory working set as a share of their limit.
    memory: BTreeMap<String, f64>,
    /// Other gauges a test set: exposed series (name and labels) → value.
    gauges: BTreeMap<String, f64>,
}

/// The memory limit the memory series report, 1 GiB.
pub const MEMORY_LIMIT_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

const MAX_HOOKS: usize = 100;

/// The application stand-in; stopped on drop.
pub struct App {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    world: Arc<Mutex<World>>,
}

impl App {
    /// Serves on a free port with healthy stable traffic in prod (50 rps), staging (5) and
    /// dev (1), and a tenth of that on the canary track.
    pub fn start() -> App {
        App::start_on(0).expect("bind the app stand-in on 127.0.0.1")
    }

    /// Serves on 127.0.0.1:`port` (0: a free one), with the defaults of [`App::start`].
    pub fn start_on(port: u16) -> Result<App, String> {
        let server = tiny_http::Server::http(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let server = Arc::new(server);
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(port);
        let now = Instant::now();
        // The canary track serves a tenth as much: a canary taking its share of the traffic
        // has series to check, as it would behind the VirtualService.
        let series = [("prod", 50.0), ("staging", 5.0), ("dev", 1.0)]
            .into_iter()
            .flat_map(|(ns, rps)| {
                [
                    ((ns.to_string(), Track::Stable), Series::new(Traffic::healthy(rps), now)),
                    (
                        (ns.to_string(), Track::Canary),
                        Series::new(Traffic::healthy(rps / 10.0), now),
                    ),
                ]
            })
            .collect();
        let world = Arc::new(Mutex::new(World {
            series,
            healthy: true,
            hooks: Vec::new(),
            memory: BTreeMap::new(),
            gauges: BTreeMap::new(),
        }));
        let (srv, w) = (server.clone(), world.clone());
        std::thread::spawn(move || {
            for mut rq in srv.incoming_requests() {
                let mut posted = String::new();
                // Bounded: a webhook message is small, and nothing else here reads a body.
                let _ = std::io::Read::read_to_string(&mut std::io::Read::take(rq.as_reader(), 64 * 1024), &mut posted);
                let (code, body) = answer(&w, rq.method(), rq.url(), posted);
                let _ = rq.respond(tiny_http::Response::from_string(body).with_status_code(code));
            }
        });
        Ok(App { port, server, world })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on `track` in `namespace` serves `traffic`; counters keep what they counted.
    pub fn set(&self, namespace: &str, track: Track, traffic: Traffic) {
        set(&self.world, namespace, track, traffic);
    }

    /// Whether `/health` answers 200 (or 503).
    pub fn set_healthy(&self, healthy: bool) {
        lock(&self.world).healthy = healthy;
    }

    /// From now on the application's pods in `namespace` use `share` of their memory limit
    /// (cAdvisor's `container_memory_working_set_bytes` and kube-state-metrics'
    /// `kube_pod_container_resource_limits`, as `kubectl top pods` sees them).
    pub fn set_memory(&self, namespace: &str, share: f64) {
        let share = if share.is_finite() { share.clamp(0.0, 4.0) } else { 0.0 };
        lock(&self.world).memory.insert(namespace.to_string(), share);
    }
}

impl App {
    /// From now on `/metrics` also serves `series` (a metric name with its labels, as exposed:
    /// `kube_node_status_allocatable{node="n1",resource="cpu",unit="core"}`) at `value`: what
    /// kube-state-metrics and node-exporter serve beside the application, for the playbooks
    /// that read the platform's capacity and disks.
    pub fn set_gauge(&self, series: &str, value: f64) {
        let value = if value.is_finite() { value } else { 0.0 };
        lock(&self.world).gauges.insert(series.to_string(), value);
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn lock(world: &Mutex<World>) -> std::sync::MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

fn set(world: &Mutex<World>, namespace: &str, track: Track, traffic: Traffic) {
    let (now, traffic) = (Instant::now(), traffic.clamped());
    let mut w = lock(world);
    match w.series.get_mut(&(namespace.to_string(), track)) {
        Some(s) => {
            s.base = s.at(now);
            s.since = now;
            s.traffic = traffic;
        }
        None => {
            w.series
                .insert((namespace.to_string(), track), Series::new(traffic, now));
        }
    }
}

/// The reply to one request. Besides what the platform serves, `POST /traffic?namespace=prod&
/// track=stable&rps=..&error_ratio=..&p95=..` (omitted fields keep their value) and
/// `POST /health?healthy=false` let someone rehearsing in the sandbox stage an incident, and
/// `POST /hooks/NAME` takes the webhooks a run sends (`GET /hooks` lists them).
fn answer(world: &Mutex<World>, method: &tiny_http::Method, url: &str, posted: String) -> (u16, String) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    };
    match (method, path) {
        (tiny_http::Method::Get, "/metrics") => (200, metrics(&lock(world), Instant::now())),
        (tiny_http::Method::Get, "/health") if lock(world).healthy => (200, "ok".into()),
        (tiny_http::Method::Get, "/health") => (503, "unhealthy".into()),
        // A sink for Slack and paging webhooks in the sandbox; `GET /hooks` shows what came.
        (tiny_http::Method::Post, p) if p.starts_with("/hooks/") => {
            let mut w = lock(world);
            if w.hooks.len() == MAX_HOOKS {
                w.hooks.remove(0);
            }
            w.hooks.push(format!("{p} {posted}"));
            (200, "ok".into())
        }
        (tiny_http::Method::Get, "/hooks") => (200, lock(world).hooks.iter().map(|h| format!("{h}\n")).collect()),
        // Grafana's health check, so that a sandbox can point `grafana_url` here as well.
        (tiny_http::Method::Get, "/api/health") => (200, "{\"database\": \"ok\"}\n".into()),
        (tiny_http::Method::Post, "/health") => match param("healthy") {
            Some(v @ ("true" | "false")) => {
                lock(world).healthy = v == "true";
                (200, format!("healthy={v}\n"))
            }
            _ => (400, "want ?healthy=true or ?healthy=false\n".into()),
        },
        (tiny_http::Method::Post, "/traffic") => {
            let (Some(ns), Some(track)) = (param("namespace"), param("track").and_then(Track::parse)) else {
                return (
                    400,
                    "want ?namespace=NS&track=stable|canary[&rps=N][&error_ratio=R][&p95=S]\n".into(),
                );
            };
            let number = |name: &str| param(name).map(|v| v.parse::<f64>().map_err(|_| format!("{name}={v}")));
            let current = lock(world)
                .series
                .get(&(ns.to_string(), track))
                .map_or(Traffic::healthy(0.0), |s| s.traffic);
            let parsed = (number("rps"), number("error_ratio"), number("p95"));
            let (rps, error_ratio, p95) = match parsed {
                (Some(Err(bad)), _, _) | (_, Some(Err(bad)), _) | (_, _, Some(Err(bad))) => {
                    return (400, format!("not a number: {bad}\n"));
                }
                (rps, error_ratio, p95) => (rps, error_ratio, p95),
            };
            let traffic = Traffic {
                rps: rps.and_then(Result::ok).unwrap_or(current.rps),
                error_ratio: error_ratio.and_then(Result::ok).unwrap_or(current.error_ratio),
                p95_seconds: p95.and_then(Result::ok).unwrap_or(current.p95_seconds),
            };
            set(world, ns, track, traffic);
            (200, format!("{ns} {}: {:?}\n", track.label(), traffic.clamped()))
        }
        _ => (404, "not found\n".into()),
    }
}

/// The Prometheus text exposition of every series at `now`.
fn metrics(world: &World, now: Instant) -> String {
    let mut out = String::from("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n");
    for ((ns, track), s) in &world.series {
        let c = s.at(now);
        let t = track.label();
        out += &format!(
            "http_requests_total{{namespace=\"{ns}\",app=\"{APP}\",track=\"{t}\",status=\"200\"}} {}\n",
            c.ok
        );
        out += &format!(
            "http_requests_total{{namespace=\"{ns}\",app=\"{APP}\",track=\"{t}\",status=\"500\"}} {}\n",
            c.errors
        );
    }
    out += "# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n";
    for ((ns, track), s) in &world.series {
        let c = s.at(now);
        let labels = format!("namespace=\"{ns}\",app=\"{APP}\",track=\"{}\"", track.label());
        for (le, n) in BUCKETS.iter().zip(c.buckets) {
            out += &format!("http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}\n");
        }
        let total = c.ok + c.errors;
        out += &format!("http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}\n");
        out += &format!("http_request_duration_seconds_sum{{{labels}}} {}\n", c.sum);
        out += &format!("http_request_duration_seconds_count{{{labels}}} {total}\n");
    }
    if !world.memory.is_empty() {
        out += "# TYPE container_memory_working_set_bytes gauge\n# TYPE kube_pod_container_resource_limits gauge\n";
    }
    for (ns, share) in &world.memory {
        for pod in ["0", "1"] {
            let labels = format!("namespace=\"{ns}\",pod=\"{APP}-{pod}\",container=\"{APP}\"");
            out += &format!(
                "container_memory_working_set_bytes{{{labels}}} {}\n",
                share * MEMORY_LIMIT_BYTES
            );
            out += &format!(
                "kube_pod_container_resource_limits{{{labels},resource=\"memory\",unit=\"byte\"}} {MEMORY_LIMIT_BYTES}\n"
            );
        }
    }
    for (series, value) in &world.gauges {
        out += &format!("{series} {value}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus's `histogram_quantile` over one histogram's cumulative shares (+Inf is 1): the
    /// first bucket that reaches the rank, interpolated linearly from its lower bound (0 for the
    /// first bucket); the highest finite bound when only +Inf reaches it.
    fn histogram_quantile(q: f64, cum: &[f64]) -> f64 {
        let Some(i) = cum.iter().position(|c| *c >= q) else {
            return BUCKETS[BUCKETS.len() - 1];
        };
        let (lower, below) = if i == 0 {
            (0.0, 0.0)
        } else {
            (BUCKETS[i - 1], cum[i - 1])
        };
        lower + (BUCKETS[i] - lower) * (q - below) / (cum[i] - below)
    }

    #[test]
    fn every_p95_in_range_is_where_histogram_quantile_finds_it() {
        let mut p = BUCKETS[0];
        while p <= BUCKETS[BUCKETS.len() - 1] {
            let cum = Traffic::healthy(1.0).with_p95(p).cumulative();
            assert!(cum.windows(2).all(|w| w[0] <= w[1]), "p95 {p}: not cumulative: {cum:?}");
            let found = histogram_quantile(0.95, &cum);
            assert!(
                (found - p).abs() <= 1e-9 * p,
                "p95 {p}: histogram_quantile gives {found}"
            );
            p *= 1.013;
        }
        for (asked, given) in [(0.0, BUCKETS[0]), (f64::NAN, 0.12), (60.0, 10.0)] {
            let cum = Traffic::healthy(1.0).with_p95(asked).clamped().cumulative();
            assert!((histogram_quantile(0.95, &cum) - given).abs() < 1e-9, "{asked}");
        }
    }

    impl Traffic {
        fn with_p95(self, p95_seconds: f64) -> Traffic {
            Traffic { p95_seconds, ..self }
        }
    }
}
