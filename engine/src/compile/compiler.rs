//! Compiles a loaded playbook for one environment and set of params: resolves params and
//! vars, checks every step, template and reference, builds the DAG and decides the gates.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::Value;
use serde_json::Value as Json;

use super::dag::Dag;
use super::lint::Lints;
use super::model::*;
use super::refs::{self, Known, Scope};
use super::{env, params};
use crate::expr::template::{Placeholder, Quoting, Templates, is_template};
use crate::playbook::limits::{
    MAX_DURATION_SECS, MAX_DURATION_TEXT, MAX_RETRY_BACKOFF, MIN_GUARD_EVERY, MIN_RETRY_BACKOFF,
};
use crate::playbook::{ACTION_KEYS, Condition, Confirm, LoadedPlaybook, OnFailure, RawStep, Risk, Rollback, Workspace};
use crate::source::{Diagnostic, Source, Span};
use crate::spec::{Action, Effect, with_lenient_numbers};
use crate::yaml::{Node, NodeKind, Sp, suggest_name};

/// A compiled playbook, its DAG, and the lint warnings found on the way.
#[derive(Debug)]
pub struct Compiled {
    pub playbook: Playbook,
    pub dag: Dag,
    pub warnings: Vec<Diagnostic>,
    /// The sub-playbooks its steps call by name, compiled, by step id.
    pub subs: IndexMap<String, super::seal::SubCompiled>,
    /// Every file a run reads, with its sha256 (sub-playbooks' files included).
    pub files: Vec<SealedFile>,
    /// Why the plan cannot be sealed (a name or path known only at run time): a saved plan
    /// of it is refused.
    pub unsealed: Vec<String>,
}

/// What to compile for.
pub struct Options<'a> {
    /// `-e`; `None` uses the workspace default.
    pub env: Option<&'a str>,
    /// `-p` pairs in command-line order.
    pub params: &'a [(String, String)],
    /// Under `validate`, required params may be missing; they show as `<params.x>`.
    pub allow_missing_params: bool,
}

const DEFAULT_TIMEOUT_SECS: u64 = 600;
const DEFAULT_CONCURRENCY: u32 = 4;

/// Compiles for the environment chosen by `opts.env`.
pub fn compile(ws: &Workspace, lp: &LoadedPlaybook, opts: &Options) -> Result<Compiled, Vec<Diagnostic>> {
    let mut c = compile_checked(ws, lp, opts)?;
    let mut stack = vec![c.playbook.name.clone()];
    super::seal::seal(ws, &mut c, &mut stack)?;
    Ok(c)
}

/// [`compile`] without sealing: what sealing a sub-playbook starts from.
pub(super) fn compile_checked(
    ws: &Workspace,
    lp: &LoadedPlaybook,
    opts: &Options,
) -> Result<Compiled, Vec<Diagnostic>> {
    let env = env::select(ws, opts.env).map_err(|d| vec![d])?;
    let compiled = compile_for(lp, env, opts)?;
    let problems = super::subplaybook::check(ws, &compiled);
    if problems.is_empty() {
        Ok(compiled)
    } else {
        Err(problems)
    }
}

/// Compiles for a given environment.
pub fn compile_for(lp: &LoadedPlaybook, env: EnvInfo, opts: &Options) -> Result<Compiled, Vec<Diagnostic>> {
    let templates = Templates::new();
    let mut c = Compiler {
        lp,
        src: &lp.source,
        t: &templates,
        diags: Vec::new(),
        lints: Lints::default(),
        used_params: HashSet::new(),
        ctx: Value::UNDEFINED,
        display_ctx: Value::UNDEFINED,
        param_names: lp.raw.params.keys().cloned().collect(),
        has_missing_params: false,
        var_names: Vec::new(),
        secret_names: lp.raw.secrets.keys().cloned().collect(),
        env,
        known: Rc::new(Known::default()),
        failed_vars: Vec::new(),
        escalate: None,
        escalate_named: false,
    };
    let result = c.run(opts);
    let mut diags = lp.errors.clone();
    diags.append(&mut c.diags);
    if diags.iter().any(Diagnostic::is_error) || result.is_none() {
        diags.sort_by_key(|d| d.span.map(|s| s.start).unwrap_or(usize::MAX));
        return Err(diags);
    }
    let (playbook, dag) = result.unwrap_or_else(|| unreachable!("checked above"));
    let mut warnings = c.lints.finish(&playbook, &lp.raw, c.src, &c.used_params);
    warnings.sort_by_key(|d| d.span.map(|s| s.start).unwrap_or(usize::MAX));
    Ok(Compiled {
        playbook,
        dag,
        warnings,
        subs: IndexMap::new(),
        files: Vec::new(),
        unsealed: Vec::new(),
    })
}

struct Compiler<'a> {
    lp: &'a LoadedPlaybook,
    src: &'a Arc<Source>,
    t: &'a Templates,
    diags: Vec<Diagnostic>,
    lints: Lints,
    used_params: HashSet<String>,
    /// Everything known before the run; run-time names are placeholders.
    ctx: Value,
    /// Like `ctx`, and missing params too are placeholders (validate).
    display_ctx: Value,
    param_names: Vec<String>,
    has_missing_params: bool,
    var_names: Vec<String>,
    secret_names: Vec<String>,
    env: EnvInfo,
    /// What templates of steps may read; set once vars are known.
    known: Rc<Known>,
    /// Vars whose value was rejected: known by name, rendered as placeholders.
    failed_vars: Vec<String>,
    /// The playbook's `escalate:` chain, which its waiting steps take unless they have one.
    escalate: Option<super::model::Escalation>,
    /// The playbook's `escalate:` names its levels: each step takes them whatever its risk.
    escalate_named: bool,
}

/// Which step list a step belongs to: they have separate DAGs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    Main,
    OnFailure,
    Finally,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            List::Main => "steps",
            List::OnFailure => "on_failure",
            List::Finally => "finally",
        }
    }
}

/// The steps of one list, with what reference checks need.
struct StepList<'r> {
    raws: Vec<(&'r Sp<RawStep>, Option<&'r Node>)>,
    ids: HashMap<String, usize>,
    /// Ids of steps that could not be read (their error is reported): references to them
    /// are not errors of their own.
    broken: HashSet<String>,
    dag: Option<Dag>,
}

impl<'a> Compiler<'a> {
    fn error(&mut self, msg: impl Into<String>, span: Span) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(msg).at(self.src, span));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn run(&mut self, opts: &Options) -> Option<(Playbook, Dag)> {
        let raw = &self.lp.raw;
        let resolved = params::resolve(raw, self.src, opts.params, opts.allow_missing_params, &mut self.diags);
        self.build_context(&resolved);
        let vars = self.vars();
        self.var_names = vars.keys().chain(&self.failed_vars).cloned().collect();
        self.set_vars(&vars);
        self.known = Rc::new(Known {
            params: self.param_names.clone(),
            vars: self.var_names.clone(),
            env_vars: self.env.vars.clone(),
            secrets: self.secret_names.clone(),
        });
        let secrets = self.secrets();
        if let Some(spec) = &raw.escalate {
            match super::escalate::chain(spec, self.env.contacts.as_deref(), None, self.src) {
                Ok(Some(e)) => {
                    self.escalate = Some(e);
                    self.escalate_named = spec.value.levels.is_some();
                }
                Ok(None) => self.lints.escalate_without_contacts(spec.span),
                Err(mut d) => self.diags.append(&mut d),
            }
        }

        let main = self.step_list(List::Main);
        let on_failure = self.step_list(List::OnFailure);
        let finally = self.step_list(List::Finally);
        let main_ids: HashSet<String> = main.ids.keys().cloned().collect();
        for (list, other) in [(&on_failure, "on_failure"), (&finally, "finally")] {
            for (raw, _) in &list.raws {
                if main_ids.contains(&raw.id.value) {
                    self.error(
                        format!("step id `{}` is already used in `steps`", raw.id.value),
                        raw.id.span,
                    )
                    .help = Some(format!(
                        "ids are shared by `steps`, `on_failure` and `finally` ({other})"
                    ));
                }
            }
        }
        let steps = self.compile_list(&main, List::Main, &main);
        let on_failure_steps = self.compile_list(&on_failure, List::OnFailure, &main);
        let finally_steps = self.compile_list(&finally, List::Finally, &main);

        let lock = self.lock();
        let concurrency = match &raw.concurrency {
            Some(c) if c.value == 0 => {
                self.error("concurrency must be at least 1", c.span);
                1
            }
            Some(c) => c.value,
            None => DEFAULT_CONCURRENCY,
        };
        let guards = self.guards();
        let measures = self.measures([&main, &on_failure, &finally]);
        let dag = main.dag?;
        let risk = raw.risk.as_ref().map(|r| r.value).unwrap_or(Risk::Medium);
        Some((
            Playbook {
                name: raw.name.value.clone(),
                description: raw.description.clone(),
                owner: raw.owner.clone(),
                risk,
                source: self.src.clone(),
                env: self.env.clone(),
                params: resolved.values,
                missing_params: resolved.missing,
                vars,
                secrets,
                lock,
                concurrency,
                guards,
                steps,
                on_failure: on_failure_steps,
                finally: finally_steps,
                measures,
                escalate: self.escalate.clone(),
            },
            dag,
        ))
    }

    fn build_context(&mut self, resolved: &params::Resolved) {
        self.has_missing_params = !resolved.missing.is_empty() || !resolved.invalid.is_empty();
        let mut params: serde_json::Map<String, Json> =
            resolved.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let env = serde_json::json!({
            "name": self.env.name,
            "vars": self.env.vars,
            "kube_context": self.env.kube_context,
            "aws_region": self.env.aws_region,
        });
        let mut base: BTreeMap<String, Value> = BTreeMap::new();
        base.insert("env".into(), Value::from(minijinja::value::Serde(&env)));
        base.insert("steps".into(), Placeholder::value("steps", false));
        base.insert("run".into(), Placeholder::value("run", false));
        base.insert("result".into(), Placeholder::value("result", false));
        base.insert("value".into(), Placeholder::value("value", false));
        base.insert("secrets".into(), Placeholder::value("secrets", true));
        base.insert(
            "vars".into(),
            Value::from(minijinja::value::Serde(serde_json::Map::new())),
        );
        let mut display = base.clone();
        // Missing params (validate only) exist in the display context as placeholders, and
        // in the static one not at all: a template that needs them is not rendered early.
        let mut display_params: BTreeMap<String, Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
            .collect();
        for m in resolved.missing.iter().chain(&resolved.invalid) {
            display_params.insert(m.clone(), Placeholder::value(&format!("params.{m}"), false));
        }
        base.insert(
            "params".into(),
            Value::from(minijinja::value::Serde(std::mem::take(&mut params))),
        );
        display.insert("params".into(), Value::from(display_params));
        self.ctx = Value::from(base);
        self.display_ctx = Value::from(display);
    }

    fn set_vars(&mut self, vars: &IndexMap<String, Json>) {
        let mut map: BTreeMap<String, Value> = vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
            .collect();
        for f in &self.failed_vars {
            map.insert(f.clone(), Placeholder::value(&format!("vars.{f}"), false));
            self.has_missing_params = true;
        }
        let v = Value::from(map);
        self.ctx = merge(&self.ctx, "vars", v.clone());
        self.display_ctx = merge(&self.display_ctx, "vars", v);
    }

    fn missing_params(&self) -> bool {
        self.has_missing_params
    }

    /// Renders `vars` in order; each may read params, env and the vars before it.
    fn vars(&mut self) -> IndexMap<String, Json> {
        let mut out: IndexMap<String, Json> = IndexMap::new();
        let lp: &'a LoadedPlaybook = self.lp;
        for (name, value) in &lp.raw.vars {
            if !valid_ident(name) {
                self.error(format!("var name `{name}` is not an identifier"), value.span);
                continue;
            }
            let visible: Vec<String> = out.keys().cloned().collect();
            let ctx = merge(&self.display_ctx, "vars", Value::from(minijinja::value::Serde(&out)));
            match self.render_var(name, &value.value, value.span, &visible, &ctx) {
                Some(v) => {
                    out.insert(name.clone(), v);
                }
                // Reported already; later uses of it are not errors of their own.
                None => self.failed_vars.push(name.clone()),
            }
        }
        out
    }

    /// Renders every string of a var's value; `{{ expr }}` alone keeps the expression's type.
    fn render_var(&mut self, name: &str, v: &Json, span: Span, visible: &[String], ctx: &Value) -> Option<Json> {
        match v {
            Json::String(s) if is_template(s) => {
                let names = match self.t.names(s, Quoting::Plain) {
                    Ok(n) => n,
                    Err(e) => {
                        self.error(format!("var `{name}`: {e}"), span);
                        return None;
                    }
                };
                self.note_params(&names);
                if names.iter().any(|n| n.starts_with("secrets")) {
                    self.error(
                        format!("var `{name}` reads a secret, and vars are shown in plans"),
                        span,
                    )
                    .help = Some("read the secret where it is used: {{ secrets.name }} in the action".into());
                    return None;
                }
                let scope = Scope {
                    params: &self.param_names,
                    vars: visible,
                    env_vars: &self.env.vars,
                    secrets: &[],
                    steps: None,
                    run: false,
                    result: false,
                    loop_var: None,
                };
                let problems = refs::check(&names, &scope);
                if !problems.is_empty() {
                    for (m, h) in problems {
                        self.error(format!("var `{name}`: {m}"), span).help = Some(h);
                    }
                    return None;
                }
                match self.t.render_value(s, ctx) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        self.error(format!("var `{name}`: {e}"), span);
                        None
                    }
                }
            }
            Json::Array(items) => items
                .iter()
                .map(|i| self.render_var(name, i, span, visible, ctx))
                .collect::<Option<Vec<_>>>()
                .map(Json::Array),
            Json::Object(map) => map
                .iter()
                .map(|(k, i)| self.render_var(name, i, span, visible, ctx).map(|r| (k.clone(), r)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Json::Object),
            other => Some(other.clone()),
        }
    }

    fn secrets(&mut self) -> IndexMap<String, SecretRef> {
        let mut out = IndexMap::new();
        for (name, spec) in &self.lp.raw.secrets {
            let Some(spec) = &spec.0 else { continue };
            match (&spec.env, &spec.file) {
                (Some(_), Some(_)) | (None, None) => {
                    self.diags.push(
                        Diagnostic::error(format!("secret `{name}` needs exactly one source: `env` or `file`"))
                            .at(self.src, spec.span),
                    );
                }
                _ => {
                    out.insert(
                        name.clone(),
                        SecretRef {
                            env: spec.env.clone(),
                            file: spec.file.clone(),
                            optional: spec.optional,
                        },
                    );
                }
            }
        }
        out
    }

    fn lock(&mut self) -> String {
        let default = format!("{}/{}", self.env.name, self.lp.raw.name.value);
        let Some(lock) = self.lp.raw.lock.clone() else {
            return default;
        };
        let scope_params = self.param_names.clone();
        let vars = self.var_names.clone();
        let env_vars = self.env.vars.clone();
        let scope = Scope {
            params: &scope_params,
            vars: &vars,
            env_vars: &env_vars,
            secrets: &[],
            steps: None,
            run: false,
            result: false,
            loop_var: None,
        };
        match self.render_static(&lock.value, Quoting::Plain, &scope, lock.span, "lock") {
            Some(s) if s.trim().is_empty() => {
                self.error("the lock key renders to nothing", lock.span);
                default
            }
            Some(s) => s,
            None => default,
        }
    }

    /// Renders a template that must be known before the run (the lock): its scope allows
    /// no run-time names, so `check_template` renders it completely.
    fn render_static(&mut self, src: &str, q: Quoting, scope: &Scope, span: Span, what: &str) -> Option<String> {
        self.check_template(src, q, span, scope, what).map(|(s, _)| s)
    }

    /// Checks the names a template or expression reads, reporting each problem; `None`
    /// when there was one.
    fn checked_names(
        &mut self,
        names: Result<BTreeSet<String>, crate::expr::template::TemplateError>,
        scope: &Scope,
        span: Span,
        what: &str,
    ) -> Option<BTreeSet<String>> {
        let names = match names {
            Ok(n) => n,
            Err(e) => {
                self.error(format!("{what}: {e}"), span);
                return None;
            }
        };
        self.note_params(&names);
        let problems = refs::check(&names, scope);
        let ok = problems.is_empty();
        for (m, h) in problems {
            self.error(format!("{what}: {m}"), span).help = Some(h);
        }
        ok.then_some(names)
    }

    fn note_params(&mut self, names: &BTreeSet<String>) {
        for p in refs::params_read(names) {
            self.used_params.insert(p.to_string());
        }
    }

    fn guards(&mut self) -> Vec<GuardPlan> {
        let mut out = Vec::new();
        let guards = self.lp.raw.guards.clone();
        for g in guards.iter().filter_map(|g| g.0.as_ref()) {
            // A guard queries Prometheus each period: a period near zero is a busy loop
            // against it. (Tests tick at 500ms; real guards at 15s or more.)
            if let Some(e) = &g.every
                && e.value.std() < MIN_GUARD_EVERY
            {
                self.error(
                    format!(
                        "guard `every` must be at least {}, not {}",
                        crate::playbook::Duration(MIN_GUARD_EVERY),
                        e.value
                    ),
                    e.span,
                );
            }
            let action = Sp::new(g.prometheus.span, Action::Prometheus(g.prometheus.value.clone()));
            let node = None;
            let empty: HashMap<String, usize> = HashMap::new();
            let steps_check = |id: &str| -> Result<(), String> {
                let _ = &empty;
                Err(format!("guards cannot read `steps.{id}`: they run beside the steps"))
            };
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(&steps_check), false, None);
            let Some(planned) = self.plan_action(&action, node, &scope) else {
                continue;
            };
            let known = self.known.clone();
            let abort_scope = Scope::of(&known, Some(&steps_check), true, None);
            self.check_expr(&g.abort_if.value, g.abort_if.span, &abort_scope, "abort_if");
            out.push(GuardPlan {
                name: g.name.value.clone(),
                action: planned,
                abort_if: g.abort_if.value.clone(),
                every: g
                    .every
                    .as_ref()
                    .map(|e| e.value)
                    .unwrap_or(crate::playbook::Duration::from_secs(30)),
            });
        }
        out
    }

    /// Checks the measures: `from` and `to` name steps of the playbook as `STEP.started` or
    /// `STEP.finished`, or `value` is an expression that may read any step (it is computed
    /// when the run has ended, like a `finally` step's templates); the target is a duration.
    fn measures(&mut self, lists: [&StepList; 3]) -> Vec<Measure> {
        let lp: &'a LoadedPlaybook = self.lp;
        let node = lp.node.get("measures");
        let mut ids: Vec<&str> = lists
            .iter()
            .flat_map(|l| l.raws.iter().map(|(r, _)| r.id.value.as_str()))
            .collect();
        ids.sort();
        let broken = |id: &str| lists.iter().any(|l| l.broken.contains(id));
        let mut out = Vec::new();
        for (name, spec) in &lp.raw.measures {
            let Some(spec) = &spec.0 else { continue };
            let before = self.diags.len();
            if !valid_id(name) {
                let span = node.and_then(|n| n.key_span(name)).unwrap_or(spec.span);
                self.error(
                    format!("measure name `{name}` is not valid: use lowercase letters, digits, `-` and `_`"),
                    span,
                );
            }
            let moment = |c: &mut Self, which: &str, v: &Sp<String>| -> Option<Moment> {
                match Moment::parse(&v.value) {
                    Err(why) => {
                        c.error(format!("measure `{name}`: `{which}`: {why}"), v.span).help =
                            Some("write it as `STEP.started` or `STEP.finished`".into());
                        None
                    }
                    Ok(m) if !ids.contains(&m.step.as_str()) && !broken(&m.step) => {
                        c.error(
                            format!("measure `{name}`: `{which}` names unknown step `{}`", m.step),
                            v.span,
                        )
                        .help = Some(suggest_name(&m.step, &ids, "step"));
                        None
                    }
                    Ok(m) => Some(m),
                }
            };
            let m = &spec.value;
            let measured = match (&m.from, &m.to, &m.value) {
                (Some(from), Some(to), None) => {
                    let (f, t) = (moment(self, "from", from), moment(self, "to", to));
                    match (f, t) {
                        (Some(from), Some(to))
                            if from.step == to.step && !(from.at == Edge::Started && to.at == Edge::Finished) =>
                        {
                            self.error(
                                format!(
                                    "measure `{name}` runs from `{from}` to `{to}`: a step ends after it starts, so this measures nothing"
                                ),
                                spec.span,
                            );
                            None
                        }
                        (Some(from), Some(to)) => Some(Measured::Between { from, to }),
                        _ => None,
                    }
                }
                (None, None, Some(expr)) => {
                    let any_step = |id: &str| -> Result<(), String> {
                        if ids.contains(&id) || broken(id) {
                            Ok(())
                        } else {
                            Err(format!(
                                "undefined step `steps.{id}` ({})",
                                suggest_name(id, &ids, "step")
                            ))
                        }
                    };
                    let known = self.known.clone();
                    let scope = Scope::of(&known, Some(&any_step), false, None);
                    let names = self.check_expr(&expr.value, expr.span, &scope, &format!("measure `{name}` value"));
                    match names {
                        // A number is journaled as it is: the redactor cannot hide it.
                        Some(n) if n.iter().any(|n| n.starts_with("secrets")) => {
                            self.error(
                                format!("measure `{name}` reads a secret, and its value is journaled and shown"),
                                expr.span,
                            );
                            None
                        }
                        Some(_) => Some(Measured::Value {
                            expr: expr.value.clone(),
                        }),
                        None => None,
                    }
                }
                (from, to, value) => {
                    let what = if value.is_some() {
                        "has both `value` and `from`/`to`: it measures one or the other"
                    } else if from.is_none() && to.is_none() {
                        "says nothing to measure"
                    } else if from.is_none() {
                        "has `to` without `from`"
                    } else {
                        "has `from` without `to`"
                    };
                    self.error(format!("measure `{name}` {what}"), spec.span).help = Some(
                        "a measure is either `from: STEP.started|finished` with `to: ...`, or `value: EXPRESSION` (seconds)"
                            .into(),
                    );
                    None
                }
            };
            if let (Some(measures), false) = (measured, self.diags[before..].iter().any(Diagnostic::is_error)) {
                out.push(Measure {
                    name: name.clone(),
                    description: m.description.clone(),
                    measures,
                    target: m.target.value,
                    on_miss: m.on_miss.unwrap_or(crate::playbook::OnMiss::Warn),
                });
            }
        }
        out
    }

    /// Collects a step list, checks ids and `needs`, and builds its DAG.
    fn step_list(&mut self, list: List) -> StepList<'a> {
        let lp: &'a LoadedPlaybook = self.lp;
        let entries = match list {
            List::Main => &lp.raw.steps,
            List::OnFailure => &lp.raw.on_failure,
            List::Finally => &lp.raw.finally,
        };
        let nodes: Vec<&'a Node> = match lp.node.get(list.key()).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items.iter().collect(),
            _ => Vec::new(),
        };
        let mut raws = Vec::new();
        let mut broken = HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            match &e.0 {
                Some(step) => raws.push((step, nodes.get(i).copied())),
                None => {
                    if let Some(id) = nodes.get(i).and_then(|n| n.get("id")).and_then(Node::as_scalar_text) {
                        broken.insert(id.to_string());
                    }
                }
            }
        }
        // With errors in the file already (a misspelled `steps:`), "no steps" would only repeat them.
        if list == List::Main && entries.is_empty() && lp.errors.is_empty() {
            let span = lp.node.key_span("steps").unwrap_or(lp.raw.name.span);
            self.error("the playbook has no steps", span);
        }
        let mut ids: HashMap<String, usize> = HashMap::with_capacity(raws.len());
        for (i, (raw, _)) in raws.iter().enumerate() {
            let id = &raw.id;
            if !valid_id(&id.value) {
                self.error(
                    format!(
                        "step id `{}` is not valid: use lowercase letters, digits, `-` and `_`",
                        id.value
                    ),
                    id.span,
                );
            }
            if let Some(&first) = ids.get(&id.value) {
                let (line, _) = self.src.line_col(raws[first].0.id.span.start);
                self.error(format!("duplicate step id `{}`", id.value), id.span).label =
                    Some(format!("first used on line {line}"));
            } else {
                ids.insert(id.value.clone(), i);
            }
        }
        let id_list: Vec<&str> = raws.iter().map(|(r, _)| r.id.value.as_str()).collect();
        // Unknown `needs` are reported and left out, so the rest of the DAG is still checked.
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(raws.len());
        for (i, (raw, _)) in raws.iter().enumerate() {
            let mut d = Vec::new();
            match &raw.needs {
                None if i > 0 => d.push(i - 1),
                None => {}
                Some(needs) => {
                    for n in &needs.value {
                        match ids.get(&n.value) {
                            Some(&j) => {
                                if !d.contains(&j) {
                                    d.push(j);
                                }
                            }
                            None if broken.contains(&n.value) => {}
                            None => {
                                let help = suggest_name(&n.value, &id_list, "step");
                                self.error(format!("`needs` names unknown step `{}`", n.value), n.span)
                                    .help = Some(help);
                            }
                        }
                    }
                }
            }
            deps.push(d);
        }
        let dag = match Dag::build(deps) {
            Ok(dag) => Some(dag),
            Err(cycles) => {
                for cycle in cycles {
                    let mut names: Vec<&str> = cycle.iter().map(|&i| raws[i].0.id.value.as_str()).collect();
                    names.push(names[0]);
                    let first = raws[cycle[0]].0;
                    // Point at the `needs` entry that closes the cycle.
                    let closing = names[1];
                    let span = first
                        .needs
                        .as_ref()
                        .and_then(|n| n.value.iter().find(|e| e.value == closing).map(|e| e.span))
                        .unwrap_or(first.id.span);
                    let msg = if cycle.len() == 1 {
                        format!("step `{}` needs itself", names[0])
                    } else {
                        format!("dependency cycle: {}", names.join(" -> "))
                    };
                    self.error(msg, span).help =
                        Some("each step needs the next one in this list; remove one of these `needs`".into());
                }
                None
            }
        };
        StepList { raws, ids, broken, dag }
    }

    fn compile_list(&mut self, list: &StepList, which: List, main: &StepList) -> Vec<Step> {
        let mut out = Vec::with_capacity(list.raws.len());
        for (i, (raw, node)) in list.raws.iter().enumerate() {
            // Main steps may read the steps they (transitively) need; on_failure and finally
            // steps run after the main ones and may read any of them, and their own ancestors.
            let check = |id: &str| -> Result<(), String> {
                if which != List::Main
                    && let Some(&j) = main.ids.get(id)
                {
                    let _ = j;
                    return Ok(());
                }
                if list.broken.contains(id) || main.broken.contains(id) {
                    return Ok(());
                }
                match list.ids.get(id) {
                    None => {
                        let mut known: Vec<&str> = list.ids.keys().map(String::as_str).collect();
                        if which != List::Main {
                            known.extend(main.ids.keys().map(String::as_str));
                        }
                        known.sort();
                        Err(format!(
                            "undefined step `steps.{id}` ({})",
                            suggest_name(id, &known, "step")
                        ))
                    }
                    Some(&j) if j == i => Err(format!(
                        "step `{id}` reads its own `steps.{id}`: use `result` in `until` and `outputs`"
                    )),
                    Some(&j) => match &list.dag {
                        Some(dag) if !dag.is_ancestor(j, i) => Err(format!(
                            "`steps.{id}` is read, but `{id}` is not among this step's dependencies, so it may not have run yet: add it to `needs`"
                        )),
                        _ => Ok(()),
                    },
                }
            };
            if let Some(mut step) = self.compile_step(raw, *node, &check) {
                if let Some(dag) = &list.dag {
                    step.needs = dag.deps[i].iter().map(|&j| list.raws[j].0.id.value.clone()).collect();
                }
                out.push(step);
            }
        }
        out
    }

    fn compile_step(
        &mut self,
        raw: &Sp<RawStep>,
        node: Option<&Node>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
    ) -> Option<Step> {
        let before = self.diags.len();
        let id = raw.id.value.clone();
        let loop_var: Option<String> = match (&raw.for_each, &raw.as_) {
            (Some(_), Some(a)) => {
                if !valid_ident(&a.value) {
                    self.error(format!("`as: {}` is not a valid variable name", a.value), a.span);
                }
                Some(a.value.clone())
            }
            (Some(_), None) => Some("item".to_string()),
            (None, Some(a)) => {
                self.error(
                    "`as` names the loop variable of `for_each`, which this step does not have",
                    a.span,
                );
                None
            }
            (None, None) => None,
        };
        if raw.for_each.is_none()
            && let Some(m) = &raw.max_parallel
        {
            self.error("`max_parallel` applies to `for_each` steps only", m.span);
        }
        let lv = loop_var.as_deref();

        // The action: exactly one key.
        let actions = raw.actions();
        if actions.len() > 1 {
            let keys: Vec<String> = actions.iter().map(|a| format!("`{}`", a.key())).collect();
            self.error(
                format!(
                    "step `{id}` has {} actions ({}): a step runs exactly one",
                    actions.len(),
                    keys.join(", ")
                ),
                node.and_then(|n| n.key_span(actions[1].key()))
                    .unwrap_or(actions[1].span),
            );
        }
        let action_node = |key: &str| node.and_then(|n| n.get(key));
        let known = self.known.clone();
        let scope = Scope::of(&known, Some(steps_check), false, lv);
        let action = actions
            .first()
            .and_then(|a| self.plan_action(a, action_node(a.key()), &scope));
        if actions.is_empty() && raw.confirm.is_none() && raw.approval.is_none() {
            self.error(
                format!("step `{id}` has no action: add one of {}", ACTION_KEYS.join(", ")),
                raw.id.span,
            )
            .help = Some("a step with only `confirm` or `approval` is a pure gate".into());
        }
        let effect = action.as_ref().map(|a| a.effect).unwrap_or(Effect::ReadOnly);
        if let (Some(a), Some(msg)) = (&action, &raw.message)
            && !matches!(a.spec, Action::Assert(_))
        {
            let _ = msg;
            if let Some(span) = node.and_then(|n| n.key_span("message")) {
                self.error(
                    "`message` is the failure text of an `assert` step; this step has another action",
                    span,
                );
            }
        }

        // Risk: read-only work is low risk unless the step says otherwise.
        let risk = match (&raw.risk, effect) {
            (Some(r), _) => r.value,
            (None, Effect::ReadOnly | Effect::External) => Risk::Low,
            (None, _) => self.lp.raw.risk.as_ref().map(|r| r.value).unwrap_or(Risk::Medium),
        };

        let when = self.when(raw, steps_check, lv);
        let preconditions = self.preconditions(raw, node, steps_check, lv);
        let gates = self.gates(raw, node, risk, steps_check, lv);
        if effect == Effect::Irreversible && gates.is_empty() {
            let what = action.as_ref().map(|a| a.spec.verb()).unwrap_or_default();
            self.error(
                format!("step `{id}` is irreversible (`{what}`) and nothing gates it"),
                raw.id.span,
            )
            .help = Some("add `confirm:` or `approval:` to the step".into());
        }

        let until = raw.until.as_ref().map(|u| {
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), true, lv);
            self.check_expr(&u.value, u.span, &scope, "until");
            u.value.clone()
        });
        if let Some(i) = &raw.interval
            && raw.until.is_none()
        {
            self.error(
                "`interval` is the time between `until` polls; this step has no `until`",
                i.span,
            );
        }
        let mut outputs = IndexMap::new();
        for (name, tpl) in &raw.outputs {
            if !valid_ident(name) {
                self.error(format!("output name `{name}` is not an identifier"), tpl.span);
            }
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), true, lv);
            self.check_template(&tpl.value, Quoting::Plain, tpl.span, &scope, "output");
            outputs.insert(name.clone(), tpl.value.clone());
        }
        let for_each = raw.for_each.as_ref().map(|f| {
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), false, None);
            self.check_expr(&f.value, f.span, &scope, "for_each");
            ForEach {
                items: f.value.clone(),
                as_: loop_var.clone().unwrap_or_else(|| "item".into()),
                max_parallel: match &raw.max_parallel {
                    Some(m) if m.value == 0 => {
                        self.error("max_parallel must be at least 1", m.span);
                        1
                    }
                    Some(m) => m.value,
                    None => 1,
                },
            }
        });
        // With several actions the rollback cannot be judged against "the" action.
        let rollback = if actions.len() > 1 {
            None
        } else {
            self.rollback(raw, node, action.as_ref(), steps_check, lv, &id)
        };
        if let Some(r) = &raw.retry {
            self.check_retry(&r.value, r.span, node.and_then(|n| n.get("retry")));
        }
        for (what, d) in [("timeout", &raw.timeout), ("interval", &raw.interval)] {
            if let Some(d) = d
                && d.value.std().is_zero()
            {
                self.error(format!("`{what}` must be longer than 0s"), d.span);
            }
        }
        if raw.on_decline.is_some()
            && gates.iter().all(|g| g.kind != GateKind::Confirm)
            && let Some(span) = node.and_then(|n| n.key_span("on_decline"))
        {
            self.error(
                "`on_decline` says what a \"no\" to a confirmation does; this step asks none",
                span,
            );
        }
        let timeout = self.timeout(raw, action.as_ref());
        let escalate = self.escalation(raw, &gates, action.as_ref(), risk);
        if self.diags[before..].iter().any(Diagnostic::is_error) {
            return None;
        }
        Some(Step {
            id,
            name: raw.name.clone(),
            doc: raw.doc.clone(),
            needs: Vec::new(),
            when,
            risk,
            effect,
            gates,
            on_decline: raw.on_decline,
            preconditions,
            action,
            for_each,
            timeout,
            retry: raw.retry.as_ref().map(|r| r.value.clone()),
            until,
            interval: match (&raw.interval, &raw.until) {
                (Some(i), _) => Some(i.value),
                (None, Some(_)) => Some(crate::playbook::Duration::from_secs(10)),
                _ => None,
            },
            outputs,
            rollback,
            on_failure: raw.on_failure.unwrap_or(OnFailure::Rollback),
            idempotent: raw.idempotent.unwrap_or(false),
            message: raw.message.clone(),
            escalate,
            span: raw.span,
        })
    }

    /// The chain of a step that waits for a person (a gate, `manual`, `input`): its own
    /// `escalate:`, else its playbook's. A step's own `escalate:` on a step that waits for
    /// nobody is an error: it would never notify anyone.
    fn escalation(
        &mut self,
        raw: &RawStep,
        gates: &[Gate],
        action: Option<&PlannedAction>,
        risk: Risk,
    ) -> Option<super::model::Escalation> {
        let waits = !gates.is_empty() || action.is_some_and(|a| matches!(a.spec, Action::Manual(_) | Action::Input(_)));
        let chain = match &raw.escalate {
            Some(spec) if !waits => {
                self.error(
                    format!(
                        "step `{}` has `escalate` but waits for nobody: it has no gate and is not `manual` or `input`",
                        raw.id.value
                    ),
                    spec.span,
                )
                .help = Some("escalation notifies people while a gate waits for an answer".into());
                return None;
            }
            Some(spec) => match super::escalate::chain(spec, self.env.contacts.as_deref(), Some(risk), self.src) {
                Ok(Some(e)) => e,
                Ok(None) => {
                    self.lints.escalate_without_contacts(spec.span);
                    return None;
                }
                Err(mut d) => {
                    self.diags.append(&mut d);
                    return None;
                }
            },
            None if !waits => return None,
            None => {
                let (pb, contacts) = (self.escalate.as_ref()?, self.env.contacts.as_deref()?);
                super::escalate::for_step(pb, self.escalate_named, contacts, risk)
            }
        };
        (!chain.levels.is_empty()).then_some(chain)
    }

    /// `node` is the `retry` mapping, to point at the bad field; `span` is used without it.
    fn check_retry(&mut self, r: &crate::playbook::Retry, span: Span, node: Option<&Node>) {
        let at = |key: &str| node.and_then(|n| n.get(key)).map(|n| n.span).unwrap_or(span);
        if r.attempts == 0 {
            self.error(
                "retry.attempts counts every attempt, the first included: it must be at least 1",
                span,
            );
        }
        let backoff = r.backoff.unwrap_or(1.0);
        if !(MIN_RETRY_BACKOFF..=MAX_RETRY_BACKOFF).contains(&backoff) {
            self.error(
                format!(
                    "retry.backoff multiplies the delay after each attempt: it must be between {MIN_RETRY_BACKOFF} and {MAX_RETRY_BACKOFF}, not {backoff}"
                ),
                at("backoff"),
            );
            return;
        }
        // The wait before the last attempt is `delay × backoff^(attempts-2)`, and the engine
        // multiplies once more after it: bounding that wait keeps every product a valid
        // duration. (`attempts` is at most 100 when read, so the power is finite.)
        if r.attempts >= 2 {
            let delay = r.delay.map(|d| d.std().as_secs_f64()).unwrap_or(1.0);
            let last = delay * backoff.powi(r.attempts as i32 - 2);
            if last > MAX_DURATION_SECS as f64 {
                self.error(
                    format!(
                        "retry waits longer than the longest duration runbook accepts ({MAX_DURATION_TEXT}) before attempt {}: the delay is multiplied by the backoff {backoff} after each attempt",
                        r.attempts
                    ),
                    span,
                )
                .help = Some("lower `attempts`, `delay` or `backoff`".into());
            }
        }
    }

    /// The step's time limit: as written, else one that fits the action (a `wait` gets its
    /// duration and a minute, people get a day, everything else 10 minutes).
    fn timeout(&mut self, raw: &RawStep, action: Option<&PlannedAction>) -> crate::playbook::Duration {
        use crate::playbook::Duration;
        let waited = match action.map(|a| &a.spec) {
            Some(Action::Wait(w)) => {
                // Params left out (validate) leave the template unrendered; anything else
                // that does is read at run time, too late for the step's timeout.
                if w.known().is_none()
                    && !self.missing_params()
                    && let Some(span) = raw.wait.as_ref().map(|w| w.span)
                {
                    self.error(
                        format!(
                            "`wait: {w}` reads what only the run knows: a wait's duration must be known before the run"
                        ),
                        span,
                    )
                    .help = Some("use params, vars or env values (a `duration` param: `-p soak=30m`)".into());
                }
                w.known()
            }
            _ => None,
        };
        match (&raw.timeout, waited) {
            (Some(t), Some(w)) if t.value < w => {
                self.error(
                    format!(
                        "this step waits {w} but its timeout is {}: it would always time out",
                        t.value
                    ),
                    t.span,
                )
                .help = Some("raise `timeout`, or remove it: a `wait` step gets its duration plus a minute".into());
                t.value
            }
            (Some(t), _) => t.value,
            (None, Some(w)) => Duration(w.std() + std::time::Duration::from_secs(60)),
            (None, None) => match action.map(|a| &a.spec) {
                Some(Action::Manual(_) | Action::Input(_)) | None => Duration::from_secs(24 * 3600),
                _ => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            },
        }
    }

    fn when(
        &mut self,
        raw: &RawStep,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Option<When> {
        let w = raw.when.as_ref()?;
        match &w.value {
            Condition::Literal(b) => {
                if !b {
                    self.lints.when_false(&raw.id.value, w.span);
                }
                Some(When {
                    expr: b.to_string(),
                    value: Some(*b),
                })
            }
            Condition::Expr(e) => {
                let known = self.known.clone();
                let scope = Scope::of(&known, Some(steps_check), false, lv);
                let names = self.check_expr(e, w.span, &scope, "when")?;
                let value = if refs::is_runtime(&names, lv)
                    || (self.missing_params() && names.iter().any(|n| n.starts_with("params")))
                {
                    None
                } else {
                    match self.t.eval(e, &self.ctx) {
                        Ok(v) => Some(v.is_true()),
                        Err(err) => {
                            self.error(format!("when: {err}"), w.span);
                            None
                        }
                    }
                };
                Some(When { expr: e.clone(), value })
            }
        }
    }

    fn preconditions(
        &mut self,
        raw: &RawStep,
        node: Option<&Node>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Vec<Check> {
        let mut out = Vec::new();
        let nodes: Vec<&Node> = match node.and_then(|n| n.get("preconditions")).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items.iter().collect(),
            _ => Vec::new(),
        };
        for (i, p) in raw.preconditions.iter().enumerate() {
            let actions = p.actions();
            let pnode = nodes.get(i).copied();
            if actions.len() != 1 {
                let msg = if actions.is_empty() {
                    format!("a precondition needs one check: one of {}", ACTION_KEYS.join(", "))
                } else {
                    let keys: Vec<String> = actions.iter().map(|a| format!("`{}`", a.key())).collect();
                    format!("a precondition runs one check, this one has {}", keys.join(", "))
                };
                self.error(msg, p.span);
                continue;
            }
            if let Some(t) = &p.timeout
                && t.value.std().is_zero()
            {
                self.error("`timeout` must be longer than 0s", t.span);
            }
            let a = &actions[0];
            let known = self.known.clone();
            let scope = Scope::of(&known, Some(steps_check), false, lv);
            let Some(planned) = self.plan_action(a, pnode.and_then(|n| n.get(a.key())), &scope) else {
                continue;
            };
            if planned.effect != Effect::ReadOnly {
                let hint = match a.value {
                    Action::Shell(_) | Action::Exec(_) => "add `read_only: true` if the command only reads",
                    _ => "preconditions may only read",
                };
                self.error(
                    format!(
                        "precondition `{}` is {}; preconditions must be read-only",
                        planned.summary,
                        planned.effect.as_str()
                    ),
                    a.span,
                )
                .help = Some(hint.into());
                continue;
            }
            out.push(Check {
                name: p.name.clone().unwrap_or_else(|| planned.summary.clone()),
                message: p.message.clone(),
                action: planned,
                timeout: p.timeout.as_ref().map(|t| t.value),
            });
        }
        out
    }

    fn gates(
        &mut self,
        raw: &RawStep,
        node: Option<&Node>,
        risk: Risk,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Vec<Gate> {
        let mut gates = Vec::new();
        let policy = self.env.policy.clone();
        let env = self.env.name.clone();
        let mut confirm_reasons = Vec::new();
        let mut question = None;
        let mut question_template = None;
        if let Some(c) = &raw.confirm {
            match &c.value {
                Confirm::Flag(true) => confirm_reasons.push("step".to_string()),
                Confirm::Flag(false) => {}
                Confirm::Question(q) => {
                    confirm_reasons.push("step".to_string());
                    let known = self.known.clone();
                    let scope = Scope::of(&known, Some(steps_check), false, lv);
                    if let Some((rendered, runtime)) = self.check_template(q, Quoting::Plain, c.span, &scope, "confirm")
                    {
                        question = Some(rendered);
                        question_template = runtime.then(|| q.clone());
                    }
                }
            }
        }
        if policy.confirm.contains(&risk) {
            confirm_reasons.push(format!("policy: {env} confirms {} risk", risk.as_str()));
        }
        let signed = self.env.require_signatures.contains(&risk);
        if !confirm_reasons.is_empty() {
            gates.push(Gate {
                kind: GateKind::Confirm,
                reasons: confirm_reasons,
                question,
                question_template,
                approval: None,
                two_person: false,
                signed,
            });
        }
        let two_person = policy.two_person.contains(&risk);
        if let Some(a) = &raw.approval {
            self.check_groups(&a.value.approvers, node, a.span);
            let min = a.value.min.unwrap_or(1);
            if a.value.approvers.is_empty() {
                self.error("an approval needs at least one approver", a.span);
            } else if min == 0
                || min as usize > a.value.approvers.len() && !a.value.approvers.iter().any(|x| x.starts_with("group:"))
            {
                self.error(
                    format!("approval needs {min} approvers but lists {}", a.value.approvers.len()),
                    a.span,
                );
            }
            if let Some(t) = a.value.timeout
                && t.std().is_zero()
            {
                let span = node
                    .and_then(|n| n.get("approval"))
                    .and_then(|n| n.get("timeout"))
                    .map(|n| n.span)
                    .unwrap_or(a.span);
                self.error("approval.timeout must be longer than 0s", span);
            }
            let mut reasons = vec!["step".to_string()];
            if two_person {
                reasons.push(format!(
                    "policy: {env} requires a second person for {} risk",
                    risk.as_str()
                ));
            }
            gates.push(Gate {
                kind: GateKind::Approval,
                reasons,
                question: None,
                question_template: None,
                approval: Some(a.value.clone()),
                two_person,
                signed,
            });
        } else if two_person {
            gates.push(Gate {
                kind: GateKind::Approval,
                reasons: vec![format!(
                    "policy: {env} requires a second person for {} risk",
                    risk.as_str()
                )],
                question: None,
                question_template: None,
                approval: None,
                two_person: true,
                signed,
            });
        }
        gates
    }

    /// Every `group:NAME` among an approval's approvers must be one of the workspace's
    /// `groups`: an unknown one would be a gate nobody can pass, or anybody.
    fn check_groups(&mut self, approvers: &[String], node: Option<&Node>, fallback: Span) {
        let items = node.and_then(|n| n.get("approval")).and_then(|n| n.get("approvers"));
        for (i, who) in approvers.iter().enumerate() {
            let Some(group) = who.strip_prefix("group:") else {
                continue;
            };
            if self.env.groups.contains_key(group) {
                continue;
            }
            let span = match items.map(|n| &n.kind) {
                Some(NodeKind::Seq(list)) => list.get(i).map(|n| n.span).unwrap_or(fallback),
                _ => fallback,
            };
            let names: Vec<&str> = self.env.groups.keys().map(String::as_str).collect();
            let help = if names.is_empty() {
                "define it under `groups:` in runbook.yaml, e.g. `groups: { sre-leads: [alice, bob] }`".to_string()
            } else {
                suggest_name(group, &names, "group")
            };
            self.error(format!("undefined group `{group}`"), span).help = Some(help);
        }
    }

    fn rollback(
        &mut self,
        raw: &RawStep,
        node: Option<&Node>,
        action: Option<&PlannedAction>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
        id: &str,
    ) -> Option<RollbackPlan> {
        let rb = raw.rollback.as_ref()?;
        // A rollback runs after its step, so it may read the step's own outputs.
        let own = |s: &str| if s == id { Ok(()) } else { steps_check(s) };
        match &rb.value {
            Rollback::Auto => match action.map(|a| a.spec.auto_rollback()) {
                // The action itself did not compile; its error is reported already.
                None if !raw.actions().is_empty() => None,
                Some(Some(d)) => Some(RollbackPlan::Auto {
                    description: d.to_string(),
                }),
                _ => {
                    let what = action
                        .map(|a| format!("`{}`", a.spec.key()))
                        .unwrap_or("this step".into());
                    self.error(
                        format!("`rollback: auto` needs an action that can undo itself; {what} cannot"),
                        rb.span,
                    )
                    .help = Some("write the rollback action instead: `rollback: { shell: ... }`".into());
                    None
                }
            },
            Rollback::One(one) => {
                let rnode = node.and_then(|n| n.get("rollback"));
                let step = self.rollback_step(one, rb.span, rnode, &own, lv)?;
                Some(RollbackPlan::Steps(vec![step]))
            }
            Rollback::Many(list) => {
                let nodes: Vec<&Node> = match node.and_then(|n| n.get("rollback")).map(|n| &n.kind) {
                    Some(NodeKind::Seq(items)) => items.iter().collect(),
                    _ => Vec::new(),
                };
                let mut steps = Vec::new();
                for (i, r) in list.iter().enumerate() {
                    if let Some(s) = self.rollback_step(&r.value, r.span, nodes.get(i).copied(), &own, lv) {
                        steps.push(s);
                    }
                }
                if list.is_empty() {
                    self.error("an empty rollback list undoes nothing; remove `rollback`", rb.span);
                }
                Some(RollbackPlan::Steps(steps))
            }
        }
    }

    fn rollback_step(
        &mut self,
        r: &crate::playbook::RollbackAction,
        span: Span,
        node: Option<&Node>,
        steps_check: &dyn Fn(&str) -> Result<(), String>,
        lv: Option<&str>,
    ) -> Option<RollbackStep> {
        let actions = r.actions();
        if actions.len() != 1 {
            self.error(
                if actions.is_empty() {
                    format!("a rollback entry needs one action: one of {}", ACTION_KEYS.join(", "))
                } else {
                    "a rollback entry runs one action; write a list for several".to_string()
                },
                span,
            );
            return None;
        }
        let a = &actions[0];
        let known = self.known.clone();
        let scope = Scope::of(&known, Some(steps_check), false, lv);
        let planned = self.plan_action(a, node.and_then(|n| n.get(a.key())), &scope)?;
        if let Some(rt) = &r.retry {
            self.check_retry(&rt.value, rt.span, node.and_then(|n| n.get("retry")));
        }
        if let Some(t) = &r.timeout
            && t.value.std().is_zero()
        {
            self.error("`timeout` must be longer than 0s", t.span);
        }
        Some(RollbackStep {
            name: r.name.clone(),
            action: planned,
            timeout: r.timeout.as_ref().map(|t| t.value),
            retry: r.retry.as_ref().map(|t| t.value.clone()),
        })
    }

    /// Checks an expression; returns the names it reads.
    fn check_expr(&mut self, src: &str, span: Span, scope: &Scope, what: &str) -> Option<BTreeSet<String>> {
        let names = self.t.expr_names(src);
        self.checked_names(names, scope, span, what)
    }

    /// Checks a template and renders it for people; returns (rendered-for-display, runtime?).
    fn check_template(
        &mut self,
        src: &str,
        q: Quoting,
        span: Span,
        scope: &Scope,
        what: &str,
    ) -> Option<(String, bool)> {
        if !is_template(src) {
            return Some((src.to_string(), false));
        }
        let names = self.t.names(src, q);
        let names = self.checked_names(names, scope, span, what)?;
        let runtime = refs::is_runtime(&names, scope.loop_var);
        let shown_src = if runtime {
            let loop_var = scope.loop_var;
            crate::expr::template::mark_runtime_expressions(src, |expr| {
                let names = self.t.expr_names(expr).ok()?;
                if names.iter().any(|n| n.starts_with("secrets")) {
                    Some("***".to_string())
                } else {
                    refs::is_runtime(&names, loop_var).then(|| format!("<{expr}>"))
                }
            })
        } else {
            src.to_string()
        };
        match self.t.render(&shown_src, q, &self.display_ctx) {
            Ok(s) => Some((s, runtime)),
            // A run-time value may not support what the template does with it before the run
            // (a filter over a list): show the template as written.
            Err(_) if runtime => Some((src.to_string(), true)),
            Err(e) => {
                self.error(format!("{what}: {e}"), span);
                None
            }
        }
    }

    /// Renders an action's templates: those known before the run into `spec`, the others kept
    /// for the engine; `summary` shows run-time values as `<steps.x.y>` and secrets as `***`.
    fn plan_action(&mut self, action: &Sp<Action>, node: Option<&Node>, scope: &Scope) -> Option<PlannedAction> {
        let key = action.key();
        let mut exec = match serde_json::to_value(&action.value) {
            Ok(v) => v,
            Err(e) => {
                self.error(format!("`{key}`: {e}"), action.span);
                return None;
            }
        };
        let mut display = exec.clone();
        let mut leaves = Vec::new();
        let mut templates = Vec::new();
        collect_strings(&exec, String::new(), &mut Vec::new(), &mut leaves);
        let mut ok = true;
        for (pointer, path, s) in leaves {
            let span = node
                .map(|n| locate(n, &path[1.min(path.len())..]))
                .unwrap_or(action.span);
            let field = path.last().map(String::as_str).unwrap_or(key);
            // Expressions are evaluated by the engine, not rendered.
            let is_expr = key == "assert" || (field == "expect" && matches!(key, "http" | "prometheus"));
            if is_expr {
                let expr_scope = Scope { result: true, ..*scope };
                if self.check_expr(&s, span, &expr_scope, field).is_none() {
                    ok = false;
                }
                continue;
            }
            if !is_template(&s) {
                continue;
            }
            let q = if key == "shell" && path.len() == 2 && path[1] == "run" {
                Quoting::Shell
            } else {
                Quoting::Plain
            };
            if q == Quoting::Shell {
                self.lints.shell_template(&s, span);
            }
            let what = format!("{key} {}", path[1..].join("."));
            let Some((shown, runtime)) = self.check_template(&s, q, span, scope, what.trim()) else {
                ok = false;
                continue;
            };
            if let Some(slot) = display.pointer_mut(&pointer) {
                *slot = Json::String(shown.clone());
            }
            if runtime || self.missing_params() {
                templates.push(pointer);
            } else if let Some(slot) = exec.pointer_mut(&pointer) {
                *slot = Json::String(shown);
            }
        }
        if !ok {
            return None;
        }
        let spec: Action = match serde_json::from_value(exec) {
            Ok(a) => a,
            Err(e) => {
                self.error(format!("`{key}` after rendering its templates: {e}"), action.span);
                return None;
            }
        };
        let problems = spec.problems();
        if !problems.is_empty() {
            for p in problems {
                self.error(format!("`{}`: {p}", spec.verb()), action.span);
            }
            return None;
        }
        let shown: Action = with_lenient_numbers(|| serde_json::from_value(display)).unwrap_or_else(|_| spec.clone());
        Some(PlannedAction {
            effect: spec.effect(),
            summary: shown.summary(),
            spec,
            templates,
        })
    }
}

fn merge(ctx: &Value, key: &str, value: Value) -> Value {
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    if let Ok(keys) = ctx.try_iter() {
        for k in keys {
            if let Some(name) = k.as_str()
                && let Ok(v) = ctx.get_item(&k)
            {
                map.insert(name.to_string(), v);
            }
        }
    }
    map.insert(key.to_string(), value);
    Value::from(map)
}

/// Every string leaf with its JSON pointer and key path.
fn collect_strings(v: &Json, pointer: String, path: &mut Vec<String>, out: &mut Vec<(String, Vec<String>, String)>) {
    match v {
        Json::String(s) => out.push((pointer, path.clone(), s.clone())),
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_strings(item, format!("{pointer}/{i}"), path, out);
                path.pop();
            }
        }
        Json::Object(map) => {
            for (k, item) in map {
                path.push(k.clone());
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_strings(item, format!("{pointer}/{escaped}"), path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The span of the deepest node along a key path (falls back to the closest ancestor: short
/// forms like `shell: cmd` have no `run` node).
fn locate(node: &Node, path: &[String]) -> Span {
    let mut cur = node;
    for seg in path {
        let next = match &cur.kind {
            NodeKind::Map(_) => cur.get(seg),
            NodeKind::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur.span
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn valid_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
