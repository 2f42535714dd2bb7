//! `runbook.yaml`'s schedules, checked against the workspace: each becomes a [`Schedule`]
//! (what `list` and `run-due` use), or diagnostics at `runbook.yaml:line:col`.

use std::sync::Arc;
use std::time::Duration;

use super::cron::{CronZone, parse_cron, parse_zone, zone_names};
use crate::compile::{self, GateKind, Options};
use crate::playbook::{self, Overlap, ScheduleSpec, Workspace};
use crate::source::{Diagnostic, Source, Span};
use crate::yaml::suggest_name;

/// How late a firing may start when the schedule does not say.
pub const DEFAULT_CATCHUP: Duration = Duration::from_secs(5 * 60);
/// `run-due` is called once a minute: a shorter window would miss firings.
pub const MIN_CATCHUP: Duration = Duration::from_secs(60);

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub playbook: String,
    /// The environment it runs in (given, or the workspace's default).
    pub env: String,
    pub cron: String,
    /// The zone's IANA name (`UTC` when not given).
    pub timezone: String,
    pub zone: CronZone,
    /// The params as `-p` pairs, checked against the playbook.
    pub params: Vec<(String, String)>,
    pub approve: Vec<String>,
    pub overlap: Overlap,
    pub catchup: Duration,
}

impl Schedule {
    /// The unattended run a firing of this schedule is, as a command line:
    /// `runbook run PLAYBOOK -e ENV -p … --approve … --non-interactive --scheduled NAME`.
    pub fn run_command(&self) -> Vec<String> {
        let mut c: Vec<String> = ["runbook", "run", &self.playbook, "-e", &self.env]
            .map(String::from)
            .to_vec();
        for (k, v) in &self.params {
            c.push("-p".into());
            c.push(format!("{k}={v}"));
        }
        for step in &self.approve {
            c.push("--approve".into());
            c.push(step.clone());
        }
        c.push("--non-interactive".into());
        c.push("--scheduled".into());
        c.push(self.name.clone());
        c
    }
}

#[cfg(test)]
impl Schedule {
    /// A schedule of playbook `p` in environment `e` (skip, 5m catchup), for tests.
    pub fn for_test(name: &str, cron: &str, tz: &str) -> Schedule {
        Schedule {
            name: name.into(),
            playbook: "p".into(),
            env: "e".into(),
            cron: cron.into(),
            timezone: tz.into(),
            zone: CronZone::new(parse_cron(cron).expect("cron"), parse_zone(tz).expect("zone")),
            params: vec![],
            approve: vec![],
            overlap: Overlap::Skip,
            catchup: DEFAULT_CATCHUP,
        }
    }
}

/// Every schedule of the workspace that checks out, and the diagnostics of those that do
/// not (in file order).
pub fn load(ws: &Workspace) -> (Vec<Schedule>, Vec<Diagnostic>) {
    let Some(src) = &ws.config_source else {
        return (Vec::new(), Vec::new());
    };
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for s in ws.config.schedules.iter().filter_map(|s| s.0.as_ref()) {
        let before = diags.len();
        let name = s.name.value.as_str();
        if seen.contains(&name) {
            diags.push(
                Diagnostic::error(format!("two schedules are named `{name}`"))
                    .at(src, s.name.span)
                    .help("each schedule's name must be unique: it names its firing records"),
            );
        } else if !valid_name(name) {
            diags.push(
                Diagnostic::error(format!("schedule name `{name}` is not a plain name"))
                    .at(src, s.name.span)
                    .help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit (at most 64)"),
            );
        }
        seen.push(name);
        if let Some(sched) = check_one(ws, src, &s.value, &mut diags)
            && diags.len() == before
        {
            out.push(sched);
        }
    }
    (out, diags)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn check_one(ws: &Workspace, src: &Arc<Source>, s: &ScheduleSpec, diags: &mut Vec<Diagnostic>) -> Option<Schedule> {
    let name = &s.name.value;
    let cron = match parse_cron(&s.cron.value) {
        Ok(c) => Some(c),
        Err(why) => {
            diags.push(
                Diagnostic::error(format!("schedule `{name}`: cron `{}` {why}", s.cron.value))
                    .at(src, s.cron.span)
                    .help("minute hour day-of-month month day-of-week, e.g. `0 3 * * MON#1` (names, `L`, `#`, `W` and `@daily` work)"),
            );
            None
        }
    };
    let tz_name = s.timezone.as_ref().map(|t| t.value.as_str()).unwrap_or("UTC");
    let tz = match parse_zone(tz_name) {
        Ok(tz) => Some(tz),
        Err(why) => {
            let span = s.timezone.as_ref().map(|t| t.span).unwrap_or(s.name.span);
            diags.push(
                Diagnostic::error(format!("schedule `{name}`: {why}"))
                    .at(src, span)
                    .help(suggest_zone(tz_name)),
            );
            None
        }
    };
    let zone = match (cron, tz) {
        (Some(c), Some(tz)) => {
            let z = CronZone::new(c, tz);
            // A pattern that names a day that never comes (Feb 30) would never run.
            if z.next_after(chrono::Utc::now()).is_none() {
                diags.push(
                    Diagnostic::error(format!("schedule `{name}`: cron `{}` never fires", s.cron.value))
                        .at(src, s.cron.span),
                );
                None
            } else {
                Some(z)
            }
        }
        _ => None,
    };
    let catchup = match &s.catchup {
        Some(c) if c.value.std() < MIN_CATCHUP => {
            diags.push(
                Diagnostic::error(format!("schedule `{name}`: catchup {} is shorter than 1m", c.value))
                    .at(src, c.span)
                    .help("run-due is called once a minute; a firing must stay due until the next call"),
            );
            None
        }
        Some(c) => Some(c.value.std()),
        None => Some(DEFAULT_CATCHUP),
    };
    let env = schedule_env(ws, src, s, diags);
    let Checked { params, approve } = check_playbook(ws, src, s, env.as_deref(), diags)?;
    Some(Schedule {
        name: name.clone(),
        playbook: s.playbook.value.clone(),
        env: env?,
        cron: s.cron.value.clone(),
        timezone: tz_name.to_string(),
        zone: zone?,
        params,
        approve,
        overlap: s.overlap.unwrap_or_default(),
        catchup: catchup?,
    })
}

/// The zone names closest to a misspelt one.
fn suggest_zone(got: &str) -> String {
    let names = zone_names();
    // The case-insensitive twin is the likeliest meaning (`europe/berlin`).
    if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(got)) {
        return format!("did you mean `{n}`?");
    }
    let help = suggest_name(got, &names, "time zone");
    if help.starts_with("did you mean") {
        help
    } else {
        "write an IANA name such as `UTC`, `Europe/Berlin` or `America/New_York`".into()
    }
}

/// The environment a schedule runs in: its own, or the workspace's default.
fn schedule_env(ws: &Workspace, src: &Arc<Source>, s: &ScheduleSpec, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let envs: Vec<&str> = ws.config.environments.keys().map(String::as_str).collect();
    match &s.env {
        Some(e) if envs.contains(&e.value.as_str()) => Some(e.value.clone()),
        Some(e) if envs.is_empty() && e.value == compile::IMPLICIT_ENV => Some(e.value.clone()),
        Some(e) => {
            diags.push(
                Diagnostic::error(format!(
                    "schedule `{}` uses unknown environment `{}`",
                    s.name.value, e.value
                ))
                .at(src, e.span)
                .help(suggest_name(&e.value, &envs, "environment")),
            );
            None
        }
        None => match &ws.config.default_env {
            Some(d) => Some(d.value.clone()),
            None if envs.is_empty() => Some(compile::IMPLICIT_ENV.to_string()),
            None => {
                diags.push(
                    Diagnostic::error(format!(
                        "schedule `{}` names no environment, and runbook.yaml has no default_env",
                        s.name.value
                    ))
                    .at(src, s.name.span)
                    .help(format!("add `env:` ({})", envs.join(", "))),
                );
                None
            }
        },
    }
}

/// The playbook exists, the params fit its params, and `approve` names steps with a
/// confirmation gate in the schedule's environment.
fn check_playbook(
    ws: &Workspace,
    src: &Arc<Source>,
    s: &ScheduleSpec,
    env: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Checked> {
    let name = &s.name.value;
    let Ok(path) = ws.playbook_path(&s.playbook.value) else {
        let names: Vec<String> = ws
            .playbook_files()
            .iter()
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        diags.push(
            Diagnostic::error(format!(
                "schedule `{name}` runs unknown playbook `{}`",
                s.playbook.value
            ))
            .at(src, s.playbook.span)
            .help(suggest_name(&s.playbook.value, &names, "playbook")),
        );
        return None;
    };
    // A playbook that does not load is reported by its own checks; the schedule cannot be
    // checked further against it.
    let lp = match playbook::load_playbook(&path) {
        Ok(lp) => lp,
        Err(_) => {
            diags.push(
                Diagnostic::error(format!(
                    "schedule `{name}` runs playbook `{}`, which is invalid (see `runbook validate`)",
                    s.playbook.value
                ))
                .at(src, s.playbook.span),
            );
            return None;
        }
    };
    let given: Vec<(String, serde_json::Value, String)> = s
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone(), src.slice(v.span).to_string()))
        .collect();
    let (params, problems) = compile::check_written_params(&lp.raw, &lp.source, &given);
    for p in &problems {
        let key = s.params.get_index_of(&p.param);
        let span = match p.about {
            compile::WrittenPart::Name => key.and_then(|i| param_key_span(ws, s, i)),
            compile::WrittenPart::Value => s.params.get(&p.param).map(|v| v.span),
            compile::WrittenPart::Absent => schedule_key_span(ws, s, "params"),
        };
        diags.push(
            Diagnostic::error(format!("schedule `{name}`: {}", p.message))
                .at(src, span.unwrap_or(s.playbook.span))
                .help(p.help.clone()),
        );
    }
    let env = env?;
    let env_info = compile::select_env(ws, Some(env)).ok()?;
    let opts = Options {
        env: Some(env),
        params: &params,
        allow_missing_params: true,
    };
    let compiled = compile::compile_for(&lp, env_info, &opts).ok();
    let pb = compiled.as_ref().map(|c| &c.playbook);
    let steps: Vec<&compile::Step> = pb
        .map(|p| p.steps.iter().chain(&p.on_failure).chain(&p.finally).collect())
        .unwrap_or_default();
    let ids: Vec<&str> = lp
        .raw
        .steps
        .iter()
        .chain(&lp.raw.on_failure)
        .chain(&lp.raw.finally)
        .filter_map(|st| st.0.as_ref().map(|st| st.id.value.as_str()))
        .collect();
    let mut approve = Vec::new();
    for a in &s.approve {
        let step = steps.iter().find(|st| st.id == a.value);
        let problem = match step {
            _ if !ids.contains(&a.value.as_str()) => Some((
                format!(
                    "schedule `{name}` pre-approves `{}`, which is not a step of `{}`",
                    a.value, s.playbook.value
                ),
                suggest_name(&a.value, &ids, "step"),
            )),
            // The playbook did not compile here: its own checks say why.
            None => None,
            Some(st) if st.gates.iter().any(|g| g.kind == GateKind::Approval) => Some((
                format!(
                    "schedule `{name}` pre-approves `{}`, whose gate needs an approval by other people",
                    a.value
                ),
                "a schedule can only answer confirmations; an approval gate of a scheduled run fails closed".into(),
            )),
            Some(st) if st.gates.is_empty() => Some((
                format!(
                    "schedule `{name}` pre-approves `{}`, which has no gate in environment `{env}`",
                    a.value
                ),
                "remove it: a step without a confirmation runs without one".into(),
            )),
            Some(_) => None,
        };
        match problem {
            Some((message, help)) => diags.push(Diagnostic::error(message).at(src, a.span).help(help)),
            None => approve.push(a.value.clone()),
        }
    }
    Some(Checked { params, approve })
}

/// What the playbook's checks give a schedule: its `-p` pairs and its pre-approved steps.
struct Checked {
    params: Vec<(String, String)>,
    approve: Vec<String>,
}

/// The span of a key of this schedule's mapping in runbook.yaml.
fn schedule_key_span(ws: &Workspace, s: &ScheduleSpec, key: &str) -> Option<Span> {
    schedule_node(ws, s)?.key_span(key)
}

/// The span of the `i`-th key under this schedule's `params`.
fn param_key_span(ws: &Workspace, s: &ScheduleSpec, i: usize) -> Option<Span> {
    match &schedule_node(ws, s)?.get("params")?.kind {
        crate::yaml::NodeKind::Map(entries) => entries.get(i).map(|(k, _)| k.span),
        _ => None,
    }
}

/// This schedule's node in runbook.yaml: the one whose `name` sits at the same span.
fn schedule_node<'a>(ws: &'a Workspace, s: &ScheduleSpec) -> Option<&'a crate::yaml::Node> {
    match &ws.config_node.as_ref()?.get("schedules")?.kind {
        crate::yaml::NodeKind::Seq(items) => items
            .iter()
            .find(|n| n.get("name").is_some_and(|nm| nm.span == s.name.span)),
        _ => None,
    }
}
