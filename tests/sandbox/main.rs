//! `kube-sandbox`: the Kubernetes API test server as a program to rehearse playbooks against. It
//! loads a seed file, writes a kubeconfig (context `sandbox`), optionally serves the application
//! stand-in, and serves until SIGINT, SIGTERM or SIGHUP.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use nix::sys::signal::{SigSet, Signal};
use runbook_tests::app::App;
use runbook_tests::kube::KubeServer;

/// Exit code of a bad seed, an unusable port or kubeconfig path (as for bad arguments).
const EXIT_USAGE: u8 = 2;

/// The first line of every kubeconfig this program writes: only such a file is overwritten.
const MARKER: &str = "# Written by kube-sandbox";

#[derive(Debug, Parser)]
#[command(
    name = "kube-sandbox",
    about = "Serve the Kubernetes API test server on 127.0.0.1 for rehearsing playbooks",
    after_help = "Stops on Ctrl-C, SIGTERM or SIGHUP (exit 0). State lives in memory: restart to reset."
)]
struct Args {
    /// YAML file of objects to start with: a list, a stream of documents, or a `kind: List`
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Where to write the kubeconfig (context `sandbox`); an existing file is overwritten only
    /// if kube-sandbox wrote it
    #[arg(long, value_name = "OUT")]
    kubeconfig: PathBuf,
    /// Port of the API server on 127.0.0.1 (default: a free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Also serve the application stand-in (/metrics, /health) on 127.0.0.1:N
    #[arg(long, value_name = "N")]
    app_port: Option<u16>,
}

fn main() -> ExitCode {
    // Blocked before any thread starts, so that every thread inherits the mask and the signals
    // wait for `wait` below instead of killing the process.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(s);
    }
    if let Err(e) = signals.thread_block() {
        say(&format!("kube-sandbox: cannot block signals: {e}"));
        return ExitCode::FAILURE;
    }
    let args = Args::parse();
    match serve(&args, &signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "kube-sandbox: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Prints a line on stdout; a closed stdout is no reason to stop serving.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn serve(args: &Args, signals: &SigSet) -> Result<(), String> {
    let server = KubeServer::start_on(args.port)?;
    server.allow_anonymous();
    server.keep_pods();
    server.discover_stored_kinds();
    let seeded = match &args.seed {
        Some(path) => server.seed_file(path).map_err(|e| e.to_string())?,
        None => 0,
    };
    let app = args.app_port.map(App::start_on).transpose()?;
    write_kubeconfig(&args.kubeconfig, &server.url())?;
    say(&format!(
        "kube-sandbox: serving {} ({seeded} objects seeded)",
        server.url()
    ));
    say(&format!(
        "kube-sandbox: kubeconfig {} (context sandbox): export KUBECONFIG={}",
        args.kubeconfig.display(),
        absolute(&args.kubeconfig).display()
    ));
    if let Some(app) = &app {
        say(&format!(
            "kube-sandbox: application stand-in {} (/metrics, /health)",
            app.url()
        ));
    }
    say("kube-sandbox: Ctrl-C stops");
    let signal = signals.wait().map_err(|e| format!("waiting for a signal: {e}"))?;
    drop(app);
    drop(server);
    say(&format!("kube-sandbox: {signal}: stopped"));
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Writes the kubeconfig through a temporary file renamed into place, so that whoever waits for
/// it never reads half of it.
fn write_kubeconfig(path: &Path, url: &str) -> Result<(), String> {
    if let Ok(old) = std::fs::read_to_string(path)
        && !old.starts_with(MARKER)
    {
        return Err(format!(
            "{} exists and was not written by kube-sandbox; not overwriting it (choose another --kubeconfig)",
            path.display()
        ));
    }
    let text = format!(
        "{MARKER}; it is rewritten at each start.
apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: {url}
users:
- name: sandbox
  user:
    token: test-token
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox
    namespace: default
current-context: sandbox
"
    );
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.kube-sandbox-{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write the kubeconfig {}: {e}", path.display())
        })
}
