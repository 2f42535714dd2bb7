//! Real servers for tests, on 127.0.0.1: a metrics endpoint whose value the test sets,
//! Prometheus scraping it, moto (AWS) with a clock the test can move, and PostgreSQL.

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

    /// Polls until `query` answers a value that `holds`, or panics at the deadline (60 s).
    pub fn wait_until(&self, query: &str, holds: impl Fn(f64) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.query(query).is_some_and(&holds) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never gave `{query}` the value the test waits for (last: {:?})",
                self.query(query)
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
/// Its RDS clock can be moved ([`Moto::set_clock`]) so that a test can make snapshots that
/// are days old.
pub struct Moto {
    pub port: u16,
    child: Child,
    clock: tempfile::TempDir,
}

/// Starts moto's server with its RDS clock shifted by the seconds in the file named by
/// `MOTO_TEST_CLOCK`, read at every timestamp: moto stamps instances and snapshots with
/// `moto.rds.models.utcnow`, and has no API to set a creation time.
const MOTO_LAUNCHER: &str = r#"
import datetime, os, sys
import moto.rds.models as rds
real = rds.utcnow
def shifted():
    try:
        with open(os.environ["MOTO_TEST_CLOCK"]) as f:
            offset = float(f.read().strip() or 0)
    except (OSError, ValueError):
        offset = 0
    return real() + datetime.timedelta(seconds=offset)
rds.utcnow = shifted
from moto.server import main
main(sys.argv[1:])
"#;

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let clock = tempfile::tempdir().expect("temp dir");
        // Through python3, not the `moto_server` script: a freshly pip-installed script may have
        // no pyenv shim yet.
        let child = Command::new("python3")
            .args(["-c", MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_TEST_CLOCK", clock.path().join("offset"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("these tests need python3 with moto: scripts/test installs it (pip install 'moto[server]')");
        let mut m = Moto { port, child, clock };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = m.child.try_wait() {
                panic!("moto's server exited ({status}): scripts/test installs moto (pip install 'moto[server]')");
            }
            assert!(Instant::now() < deadline, "moto did not start within 30s");
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    /// Moves moto's RDS clock `offset_seconds` from the real time (negative: into the past)
    /// for what it creates from now on: instances, their automated snapshot, manual snapshots.
    pub fn set_clock(&self, offset_seconds: i64) {
        std::fs::write(self.clock.path().join("offset"), offset_seconds.to_string()).expect("write moto's clock");
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

    /// Runs a few lines of boto3 against the server (setup and checks), with the clients
    /// `rds` and `s3`, and `set_clock(seconds)` as [`Moto::set_clock`]; returns stdout.
    pub fn boto3(&self, code: &str) -> String {
        let script = format!(
            "import boto3, json\nrds = boto3.client('rds', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\ns3 = boto3.client('s3', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\ndef set_clock(seconds):\n    open({clock:?}, 'w').write(str(int(seconds)))\n{code}\n",
            url = self.url(),
            clock = self.clock.path().join("offset").display().to_string(),
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

/// A PostgreSQL server (Debian's `postgresql`) on 127.0.0.1 with a data directory of its
/// own, `trust` authentication and the superuser `postgres`; stopped on drop. Run as root,
/// it runs as the `postgres` user, since the server refuses to run as root.
pub struct Postgres {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The directory of `initdb` and `postgres`: Debian keeps them off PATH, under
/// /usr/lib/postgresql/VERSION/bin (the newest version wins).
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .pop()
        .or_else(|| crate::on_path("initdb").and_then(|p| p.parent().map(PathBuf::from)))
        .expect("these tests need PostgreSQL's server: scripts/test installs it (apt-get install postgresql)")
}

/// The uid and gid of the `postgres` user, when this process is root (else none needed).
fn postgres_user() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to this process's effective user.
    if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        return None;
    }
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().ok()
    };
    Some((
        id("-u").expect("running as root, these tests need the `postgres` user (apt-get install postgresql makes it)"),
        id("-g").expect("the `postgres` user has a group"),
    ))
}

impl Postgres {
    pub fn start() -> Postgres {
        use std::os::unix::process::CommandExt;
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        let user = postgres_user();
        let as_user = |cmd: &mut Command| {
            if let Some((uid, gid)) = user {
                cmd.uid(uid).gid(gid);
            }
        };
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the data dir's parent");
        }
        let data = dir.path().join("data");
        let mut init = Command::new(bin.join("initdb"));
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut init);
        let out = init.output().expect("initdb runs");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ])
            .arg("-k")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_user(&mut server);
        let child = server.spawn().expect("postgres starts");
        let mut pg = Postgres { port, child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = pg.child.try_wait() {
                panic!("postgres exited ({status}) before it accepted connections");
            }
            let ready = Command::new("psql")
                .args(pg.args("postgres"))
                .args(["-c", "select 1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return pg;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections within 30s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn args(&self, db: &str) -> Vec<String> {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
            "-X",
            "-q",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Runs SQL with `psql -At` in database `db` (`ON_ERROR_STOP`); its output, or a panic.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(self.args(db))
            .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql runs (Debian's postgresql-client)");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The libpq environment of a runner whose database hosts, whatever their names, are this
    /// server: `PGHOSTADDR` skips the name lookup (moto's endpoints resolve nowhere), and the
    /// port comes from the command line, as the playbooks pass the instance's port.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("PGHOSTADDR", "127.0.0.1".into()), ("PGUSER", "postgres".into())]
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        // SIGQUIT: immediate shutdown, the postmaster takes its backends with it.
        let _ = kill(nix::unistd::Pid::from_raw(self.child.id() as i32), Signal::SIGQUIT);
        if wait_until_exit(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_until_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
