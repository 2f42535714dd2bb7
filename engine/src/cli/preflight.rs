//! `runbook plan NAME --check`: the preflight of a plan, printed as text or JSON; exit 0 when
//! nothing would fail, 1 otherwise. It takes no run lock and writes no journal.

use super::common::Global;
use super::plan::Format;
use super::session::{self, Session};
use crate::error;
use crate::plan::Plan;
use crate::preflight::{self, Means};

pub fn exec(g: &Global, plan: &Plan, format: Format) -> i32 {
    if !matches!(format, Format::Text | Format::Json) {
        eprintln!("error: `plan --check` prints text or json, not {format:?}");
        return error::INVALID;
    }
    let ws = match g.workspace() {
        Ok(ws) => ws,
        Err(d) => {
            g.print(&d);
            return error::INVALID;
        }
    };
    // A secret that is not set stops the run before its first step. The check goes on
    // without the secrets (what reads one is reported as failing) and says so.
    let (secrets, blockers) = match session::read_secrets(plan, &ws.root) {
        Ok(s) => (s, vec![]),
        Err(why) => (indexmap::IndexMap::new(), vec![why]),
    };
    // A signal stops the check cleanly: its commands' process groups are killed and the
    // steps not yet checked say so.
    let session = match Session::start(None) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let means = Means {
        run: session::run_info(plan),
        secrets,
        workdir: ws.root.clone(),
        waits: session.signals.outside(),
        blockers,
    };
    let report = session.rt.block_on(preflight::check(plan, means));
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report)
                .unwrap_or_else(|e| unreachable!("a preflight always serializes: {e}"));
            s.push('\n');
            print!("{s}");
        }
        _ => print!("{}", preflight::render_text(&report)),
    }
    if report.interrupted {
        session.signal_code()
    } else if report.ok {
        error::SUCCESS
    } else {
        error::STEP_FAILED
    }
}
