//! The idle scheduler: `runbook scheduler` on a workspace whose next firing is far away,
//! left alone for a while (`RUNBOOK_IDLE_SECS`, default 600), then its CPU time and memory
//! read from /proc. Run with `cargo bench -p runbook --bench scheduler_idle`; figures go to
//! docs/performance.md (target: under 0.5 % of a core and under 20 MB RSS).

use std::time::{Duration, Instant};

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
}

/// A `VmRSS:`-style field of /proc/PID/status, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let secs: u64 = std::env::var("RUNBOOK_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("playbooks")).expect("mkdir");
    // Once a year, on the 1st of January: nothing fires during the measurement.
    std::fs::write(
        dir.path().join("runbook.yaml"),
        "environments:\n  dev: {}\ndefault_env: dev\nschedules:\n  - name: yearly\n    playbook: p\n    env: dev\n    cron: \"0 0 1 1 *\"\n  - name: monthly\n    playbook: p\n    env: dev\n    cron: \"0 3 * * MON#1\"\n    timezone: Europe/Berlin\n",
    )
    .expect("runbook.yaml");
    std::fs::write(
        dir.path().join("playbooks/p.yaml"),
        "name: p\nsteps:\n  - id: a\n    shell: 'true'\n",
    )
    .expect("playbook");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
        .args(["scheduler"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the scheduler starts");
    let pid = child.id();
    // Past its start-up (loading, the first look at the schedules).
    std::thread::sleep(Duration::from_secs(2));
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(secs));
    let (elapsed, c1) = (t0.elapsed(), cpu_ticks(pid));
    let (rss, hwm) = (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let status = child.wait().expect("it ends");
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let cpu = (c1 - c0) as f64 / hz;
    println!(
        "scheduler idle for {:.0} s: {cpu:.2} s of CPU ({:.4} % of a core), RSS {:.1} MB (peak {:.1} MB), exit {:?} on SIGTERM",
        elapsed.as_secs_f64(),
        100.0 * cpu / elapsed.as_secs_f64(),
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        status.code()
    );
}
