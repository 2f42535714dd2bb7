//! Real servers for tests, on 127.0.0.1: a metrics endpoint whose value the test sets, and
//! Prometheus scraping it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serves `/metrics` with `app_error_ratio <value>`; `set` changes the value.
pub struct Metrics {
    pub port: u16,
    value: Arc<Mutex<f64>>,
}

impl Metrics {
    pub fn start(initial: f64) -> Metrics {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let value = Arc::new(Mutex::new(initial));
        let v = value.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                // Read the request head.
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let body = format!(
                    "# TYPE app_error_ratio gauge\napp_error_ratio {}\n",
                    *v.lock().expect("lock")
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Metrics { port, value }
    }

    pub fn set(&self, v: f64) {
        *self.value.lock().expect("lock") = v;
    }
}

/// A Prometheus server scraping the given targets every second; stopped on drop.
pub struct Prometheus {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Prometheus {
    pub fn start(target_port: u16) -> Prometheus {
        // On PATH, where scripts/test looks for it (and installs it when it is missing).
        let path = std::env::var_os("PATH").unwrap_or_default();
        let binary = std::env::split_paths(&path)
            .chain(["/usr/bin", "/usr/local/bin"].map(PathBuf::from))
            .map(|dir| dir.join("prometheus"))
            .find(|p| p.is_file())
            .expect(
                "these tests need the Prometheus server on PATH: scripts/test installs it (apt-get install prometheus)",
            );
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"),
        )
        .expect("config");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Prometheus { port, child, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls until `query` answers with `expected` (one series' value), or panics at the deadline.
    pub fn wait_for(&self, query: &str, expected: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = self.query(query)
                && (v - expected).abs() < 1e-9
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never answered {expected} to `{query}`"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// One instant query's single value, if it has one.
    pub fn query(&self, query: &str) -> Option<f64> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let q: String = query
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        write!(
            stream,
            "GET /api/v1/query?query={q} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stream, &mut text).ok()?;
        let body = text.split("\r\n\r\n").nth(1)?;
        // Chunked or not, the JSON is the first `{` to the last `}`.
        let json = &body[body.find('{')?..=body.rfind('}')?];
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A moto server (AWS API test server, PyPI `moto[server]`) on 127.0.0.1; stopped on drop.
pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        // As a module: a freshly pip-installed `moto_server` script may have no pyenv shim yet.
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("these tests need python3 with moto: scripts/test installs it (pip install 'moto[server]')");
        let mut m = Moto { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = m.child.try_wait() {
                panic!(
                    "`python3 -m moto.server` exited ({status}): scripts/test installs moto (pip install 'moto[server]')"
                );
            }
            assert!(Instant::now() < deadline, "moto did not start within 30s");
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment that points the AWS SDK (and boto3) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Runs a few lines of boto3 against the server (setup and checks); returns stdout.
    pub fn boto3(&self, code: &str) -> String {
        let script = format!(
            "import boto3, json\nrds = boto3.client('rds', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n{code}\n",
            self.url()
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
