//! Processes a killed run left behind: its steps' commands run in their own process
//! groups (so timeouts can kill them whole) and so outlive an engine killed with SIGKILL.
//! They carry `RUNBOOK_RUN_ID` in their environment.

/// A process of the run that is still alive.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub pid: u32,
    pub pgid: u32,
    pub step: String,
    pub command: String,
}

/// Every live process whose environment says it belongs to `run` (Linux `/proc`).
pub fn leftovers(run: &str) -> Vec<Leftover> {
    let want = format!("RUNBOOK_RUN_ID={run}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        if !vars.contains(&want.as_bytes()) {
            continue;
        }
        let step = vars
            .iter()
            .find_map(|v| v.strip_prefix(b"RUNBOOK_STEP="))
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_default();
        let command = std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim().to_string())
            .unwrap_or_default();
        // Field 5 of /proc/PID/stat is the process group (after the parenthesised name).
        let pgid = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.to_string()))
            .and_then(|rest| rest.split_whitespace().nth(2).and_then(|g| g.parse().ok()))
            .unwrap_or(0);
        out.push(Leftover {
            pid,
            pgid,
            step,
            command,
        });
    }
    out
}
