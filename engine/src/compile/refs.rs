//! Checks the names a template or expression reads against what exists where it is used.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::yaml::suggest_name;

/// The params, vars, environment vars and secrets a playbook declares.
#[derive(Debug, Default)]
pub struct Known {
    pub params: Vec<String>,
    pub vars: Vec<String>,
    pub env_vars: IndexMap<String, serde_json::Value>,
    pub secrets: Vec<String>,
}

/// Says whether a step id may be read from here (`Err` explains why not).
pub type StepCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// What a template may read at the place it is written.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub params: &'a [String],
    pub vars: &'a [String],
    pub env_vars: &'a IndexMap<String, serde_json::Value>,
    pub secrets: &'a [String],
    /// `None`: steps may not be read here (vars, lock). `Some(f)`: `f(id)` says whether the
    /// step exists and has surely run by then (`Err` explains why not).
    pub steps: Option<StepCheck<'a>>,
    /// `run.*` may be read (not in vars or the lock: they are fixed before the run).
    pub run: bool,
    /// `result` (and `value` for metric expressions) may be read.
    pub result: bool,
    pub loop_var: Option<&'a str>,
}

impl<'a> Scope<'a> {
    /// The scope of a step's templates.
    pub fn of(known: &'a Known, steps: Option<StepCheck<'a>>, result: bool, loop_var: Option<&'a str>) -> Self {
        Scope {
            params: &known.params,
            vars: &known.vars,
            env_vars: &known.env_vars,
            secrets: &known.secrets,
            steps,
            run: true,
            result,
            loop_var,
        }
    }
}

const ROOTS: &[&str] = &["params", "vars", "env", "secrets", "steps", "run", "result"];
const RUN_FIELDS: &[&str] = &["id", "user", "started_at", "playbook", "env"];
const ENV_FIELDS: &[&str] = &["name", "vars", "kube_context", "aws_region"];
/// Functions minijinja provides; they show up as undeclared names.
const GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "lipsum",
    "cycler",
    "joiner",
    "loop",
];

/// One problem: the message and a hint.
pub type Problem = (String, String);

/// Checks every dotted name (`params.version`, `steps.base.value`).
pub fn check(names: &BTreeSet<String>, scope: &Scope) -> Vec<Problem> {
    let mut out = Vec::new();
    for name in names {
        if let Some(p) = check_one(name, scope) {
            out.push(p);
        }
    }
    out
}

fn check_one(name: &str, s: &Scope) -> Option<Problem> {
    let parts: Vec<&str> = name.split('.').collect();
    let root = parts[0];
    let second = parts.get(1).copied();
    let member = |kind: &str, known: &[String]| -> Option<Problem> {
        let field = second?;
        if known.iter().any(|k| k == field) {
            return None;
        }
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        Some((
            format!("undefined {kind} `{root}.{field}`"),
            suggest_name(field, &known, kind),
        ))
    };
    match root {
        "params" => member("param", s.params),
        "vars" => member("var", s.vars),
        "secrets" => member("secret", s.secrets),
        "env" => {
            let field = second?;
            if !ENV_FIELDS.contains(&field) {
                return Some((
                    format!("undefined name `env.{field}`"),
                    suggest_name(field, ENV_FIELDS, "field"),
                ));
            }
            if field == "vars"
                && let Some(key) = parts.get(2)
                && !s.env_vars.contains_key(*key)
            {
                let known: Vec<&str> = s.env_vars.keys().map(String::as_str).collect();
                return Some((
                    format!("undefined environment var `env.vars.{key}`"),
                    suggest_name(key, &known, "environment var"),
                ));
            }
            None
        }
        "run" if s.run => {
            let field = second?;
            if RUN_FIELDS.contains(&field) {
                None
            } else {
                Some((
                    format!("undefined name `run.{field}`"),
                    suggest_name(field, RUN_FIELDS, "field"),
                ))
            }
        }
        "run" => Some((
            "`run` is not known here: this value is computed before the run starts".to_string(),
            "use params, vars or env here".to_string(),
        )),
        "steps" => match s.steps {
            None => Some((
                "`steps` cannot be read here: this value is computed before any step runs".to_string(),
                "use params, vars or env here".to_string(),
            )),
            Some(f) => {
                let id = second?;
                f(id).err().map(|why| (why, format!("`{name}` is read here")))
            }
        },
        "result" if s.result => None,
        "value" if s.result => None,
        "result" => Some((
            "`result` can only be read in `until`, `outputs`, `expect` and a guard's `abort_if`".to_string(),
            "to read an earlier step's result, use steps.<id>.<field>".to_string(),
        )),
        _ if Some(root) == s.loop_var => None,
        _ if GLOBALS.contains(&root) => None,
        _ => {
            // Suggest only names that may be read here.
            let mut known: Vec<&str> = ROOTS
                .iter()
                .copied()
                .filter(|r| match *r {
                    "steps" => s.steps.is_some(),
                    "run" => s.run,
                    "result" => s.result,
                    _ => true,
                })
                .collect();
            if s.result {
                known.push("value");
            }
            if let Some(v) = s.loop_var {
                known.push(v);
            }
            Some((format!("undefined name `{root}`"), suggest_name(root, &known, "name")))
        }
    }
}

/// Does the template read anything known only once the run has started?
pub fn is_runtime(names: &BTreeSet<String>, loop_var: Option<&str>) -> bool {
    names.iter().any(|n| {
        let root = n.split('.').next().unwrap_or("");
        crate::expr::template::RUNTIME_ROOTS.contains(&root) || Some(root) == loop_var || root == "value"
    })
}

/// The params a template reads.
pub fn params_read(names: &BTreeSet<String>) -> impl Iterator<Item = &str> {
    names
        .iter()
        .filter_map(|n| n.strip_prefix("params."))
        .map(|rest| rest.split('.').next().unwrap_or(rest))
}
