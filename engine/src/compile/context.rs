//! What templates read before the run: the params and env context, the playbook's vars
//! rendered in order, its secrets (by reference), and the lock key.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use minijinja::value::Value;
use serde_json::Value as Json;

use super::compiler::{Compiler, Diags, valid_ident};
use super::model::*;
use super::params;
use super::refs::{self, Scope};
use crate::expr::template::{Placeholder, Quoting, is_template};
use crate::playbook::{LoadedPlaybook, RawPlaybook};
use crate::source::Span;

/// The template contexts before vars: (static, display). Run-time names (`steps`, `run`,
/// `result`, `value`, `secrets`) are placeholders in both.
pub(super) fn base(env: &EnvInfo, resolved: &params::Resolved) -> (Value, Value) {
    let mut params: serde_json::Map<String, Json> =
        resolved.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let env = serde_json::json!({
        "name": env.name,
        "vars": env.vars,
        "kube_context": env.kube_context,
        "aws_region": env.aws_region,
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
    (Value::from(base), Value::from(display))
}

/// The playbook's secrets by reference (where to read each at run time), each with
/// exactly one source.
pub(super) fn secrets(raw: &RawPlaybook, diags: &mut Diags) -> IndexMap<String, SecretRef> {
    let mut out = IndexMap::new();
    for (name, spec) in &raw.secrets {
        let Some(spec) = &spec.0 else { continue };
        match (&spec.env, &spec.file) {
            (Some(_), Some(_)) | (None, None) => {
                diags.error(
                    format!("secret `{name}` needs exactly one source: `env` or `file`"),
                    spec.span,
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

impl<'a> Compiler<'a> {
    /// Puts the rendered vars into both contexts; failed ones are placeholders.
    pub(super) fn set_vars(&mut self, vars: &IndexMap<String, Json>) {
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

    /// Renders `vars` in order; each may read params, env and the vars before it.
    pub(super) fn vars(&mut self) -> IndexMap<String, Json> {
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

    /// The run lock key: as written (a template of params, vars and env), else
    /// `<env>/<playbook>`.
    pub(super) fn lock(&mut self) -> String {
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
}

/// `ctx` with `key` set to `value` (a minijinja map cannot be changed in place).
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
