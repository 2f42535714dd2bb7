//! Compiles a loaded playbook for one environment and set of params: the entry points, the
//! [`Compiler`] state its rooms share, and the order of the passes (`run`).

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::Value;

use super::dag::Dag;
use super::graph::List;
use super::lint::Lints;
use super::model::*;
use super::refs::Known;
use super::{context, env, params};
use crate::expr::template::Templates;
use crate::playbook::{LoadedPlaybook, Risk, Workspace};
use crate::source::{Diagnostic, Source, Span};

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
        diags: Diags::new(&lp.source),
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
    diags.append(&mut c.diags.list);
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

/// Where compile problems collect: each check reports and goes on, so that every problem of
/// a playbook is shown at once.
pub(super) struct Diags<'a> {
    src: &'a Arc<Source>,
    pub(super) list: Vec<Diagnostic>,
}

impl<'a> Diags<'a> {
    pub(super) fn new(src: &'a Arc<Source>) -> Self {
        Diags { src, list: Vec::new() }
    }

    pub(super) fn src(&self) -> &'a Arc<Source> {
        self.src
    }

    /// Reports an error at `span`; the caller may add a help or a label to it.
    pub(super) fn error(&mut self, msg: impl Into<String>, span: Span) -> &mut Diagnostic {
        self.list.push(Diagnostic::error(msg).at(self.src, span));
        let last = self.list.len() - 1;
        &mut self.list[last]
    }

    pub(super) fn append(&mut self, more: &mut Vec<Diagnostic>) {
        self.list.append(more);
    }

    /// A mark to ask [`Diags::errors_since`] about: whether one part (a step, a measure)
    /// had errors of its own.
    pub(super) fn mark(&self) -> usize {
        self.list.len()
    }

    pub(super) fn errors_since(&self, mark: usize) -> bool {
        self.list[mark..].iter().any(Diagnostic::is_error)
    }
}

/// The state the compiler's passes share; each room (`context`, `graph`, `steps`, `gates`,
/// `rollback`, `action`, `guards`, `measures`) adds an `impl` block of its own.
pub(super) struct Compiler<'a> {
    pub(super) lp: &'a LoadedPlaybook,
    pub(super) src: &'a Arc<Source>,
    pub(super) t: &'a Templates,
    pub(super) diags: Diags<'a>,
    pub(super) lints: Lints,
    pub(super) used_params: HashSet<String>,
    /// Everything known before the run; run-time names are placeholders.
    pub(super) ctx: Value,
    /// Like `ctx`, and missing params too are placeholders (validate).
    pub(super) display_ctx: Value,
    pub(super) param_names: Vec<String>,
    pub(super) has_missing_params: bool,
    pub(super) var_names: Vec<String>,
    pub(super) secret_names: Vec<String>,
    pub(super) env: EnvInfo,
    /// What templates of steps may read; set once vars are known.
    pub(super) known: Rc<Known>,
    /// Vars whose value was rejected: known by name, rendered as placeholders.
    pub(super) failed_vars: Vec<String>,
    /// The playbook's `escalate:` chain, which its waiting steps take unless they have one.
    pub(super) escalate: Option<Escalation>,
    /// The playbook's `escalate:` names its levels: each step takes them whatever its risk.
    pub(super) escalate_named: bool,
}

impl Compiler<'_> {
    pub(super) fn error(&mut self, msg: impl Into<String>, span: Span) -> &mut Diagnostic {
        self.diags.error(msg, span)
    }

    /// The passes in order: params, vars and secrets first (every template reads them), then
    /// the step lists, then what reads the steps (guards, measures).
    fn run(&mut self, opts: &Options) -> Option<(Playbook, Dag)> {
        let raw = &self.lp.raw;
        let resolved = params::resolve(
            raw,
            self.src,
            opts.params,
            opts.allow_missing_params,
            &mut self.diags.list,
        );
        self.has_missing_params = !resolved.missing.is_empty() || !resolved.invalid.is_empty();
        (self.ctx, self.display_ctx) = context::base(&self.env, &resolved);
        let vars = self.vars();
        self.var_names = vars.keys().chain(&self.failed_vars).cloned().collect();
        self.set_vars(&vars);
        self.known = Rc::new(Known {
            params: self.param_names.clone(),
            vars: self.var_names.clone(),
            env_vars: self.env.vars.clone(),
            secrets: self.secret_names.clone(),
        });
        let secrets = context::secrets(raw, &mut self.diags);
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

        let main = super::graph::step_list(self.lp, List::Main, &mut self.diags);
        let on_failure = super::graph::step_list(self.lp, List::OnFailure, &mut self.diags);
        let finally = super::graph::step_list(self.lp, List::Finally, &mut self.diags);
        super::graph::check_shared_ids(&main, [&on_failure, &finally], &mut self.diags);
        let steps = self.compile_list(&main, &main);
        let on_failure_steps = self.compile_list(&on_failure, &main);
        let finally_steps = self.compile_list(&finally, &main);

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

    /// Some params or vars are placeholders (validate, or a var that failed): templates that
    /// read them stay unrendered, and values computed from them are not judged.
    pub(super) fn missing_params(&self) -> bool {
        self.has_missing_params
    }
}

/// A step or measure id: what `steps.ID` and the CLI can name without quoting.
pub(super) fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A name templates read as `vars.NAME`, `item` or `outputs.NAME`.
pub(super) fn valid_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
