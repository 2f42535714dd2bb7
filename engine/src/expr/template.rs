//! Templates and expressions: strict minijinja, shell quoting of interpolations, and the
//! placeholders that stand in for values known only at run time.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Rest, Value, ValueOrKwargs};
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior};

/// The most items (list entries and mapping entries, at any depth) a value may hold when it
/// is printed or returned by an expression, and how deeply it may nest. minijinja repeats a
/// list lazily (`[x] * 100000000` costs nothing until read), so fuel does not bound what
/// printing it or handing it to the engine would cost; a playbook's real lists (nodes, pods,
/// instances) are thousands long at most. Found by fuzzing (fuzz/regressions/template/).
pub const MAX_VALUE_ITEMS: usize = 100_000;
pub const MAX_VALUE_DEPTH: usize = 64;

/// Names whose values exist only once the run has started.
pub const RUNTIME_ROOTS: &[&str] = &["steps", "run", "result", "secrets"];

/// How interpolated values are written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    Plain,
    /// Each value becomes one shell word (`'v1; touch x'`), unless marked `| raw`.
    Shell,
}

/// A template or expression error, with the detail minijinja gave.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
}

fn convert(e: minijinja::Error) -> TemplateError {
    let mut message = match e.detail() {
        Some(detail) => format!("{}: {detail}", kind_text(&e)),
        None => kind_text(&e),
    };
    if let Some(line) = e.line()
        && line > 1
    {
        message.push_str(&format!(" (template line {line})"));
    }
    TemplateError { message }
}

fn kind_text(e: &minijinja::Error) -> String {
    use minijinja::ErrorKind::*;
    match e.kind() {
        SyntaxError => "template syntax error".into(),
        UndefinedError => "undefined value".into(),
        UnknownFilter => "unknown filter".into(),
        UnknownTest => "unknown test".into(),
        UnknownFunction => "unknown function".into(),
        InvalidOperation => "invalid operation".into(),
        OutOfFuel => "template takes too long (out of fuel)".into(),
        other => format!("{other}"),
    }
}

/// Does the string contain template syntax at all? Plain strings skip the engine.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// What finding a template's names gave, by (source, is-expression).
type NameCache = std::sync::Mutex<std::collections::HashMap<(String, bool), Result<BTreeSet<String>, TemplateError>>>;

/// The template engine, configured once.
pub struct Templates {
    env: Environment<'static>,
    /// Names read by each template or expression seen so far: finding them parses the
    /// source, and playbooks repeat the same small templates (`{{ vars.app }}`) often.
    names: NameCache,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Bounds so that a hostile or mistaken template cannot hang the compiler.
        env.set_fuel(Some(200_000));
        env.set_recursion_limit(64);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".sh") {
                AutoEscape::Custom("shell".into())
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(|out, state, value| {
            if let Some(p) = value.downcast_object_ref::<Placeholder>() {
                return out.write_str(&p.shown()).map_err(minijinja::Error::from);
            }
            // YAML, JSON and shell spell booleans in lowercase; minijinja's `True` would make
            // `test {{ params.flag }} = true` silently false.
            if value.kind() == minijinja::value::ValueKind::Bool {
                return out
                    .write_str(if value.is_true() { "true" } else { "false" })
                    .map_err(minijinja::Error::from);
            }
            if let Err(e) = check_size(value) {
                return Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.message));
            }
            if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == "shell") && !value.is_safe() {
                let text = value.to_string();
                let quoted = shell_escape::unix::escape(text.into());
                return out.write_str(&quoted).map_err(minijinja::Error::from);
            }
            minijinja::escape_formatter(out, state, value)
        });
        // `| raw` lets a value through a shell command unquoted; `validate` warns about it.
        env.add_filter("raw", |v: Value| Value::from_safe_string(v.to_string()));
        env.add_filter("format", format_filter);
        Templates {
            env,
            names: Default::default(),
        }
    }

    fn name(q: Quoting) -> &'static str {
        match q {
            Quoting::Plain => "template",
            Quoting::Shell => "command.sh",
        }
    }

    /// Checks a template's syntax and returns the dotted names it reads (`params.version`).
    pub fn names(&self, src: &str, q: Quoting) -> Result<BTreeSet<String>, TemplateError> {
        self.cached(src, false, || {
            let t = self.env.template_from_named_str(Self::name(q), src).map_err(convert)?;
            Ok(sorted(t.undeclared_variables(true)))
        })
    }

    /// Checks an expression's syntax and returns the dotted names it reads.
    pub fn expr_names(&self, src: &str) -> Result<BTreeSet<String>, TemplateError> {
        self.cached(src, true, || {
            let e = self.env.compile_expression(src).map_err(convert)?;
            Ok(sorted(e.undeclared_variables(true)))
        })
    }

    fn cached(
        &self,
        src: &str,
        expr: bool,
        f: impl FnOnce() -> Result<BTreeSet<String>, TemplateError>,
    ) -> Result<BTreeSet<String>, TemplateError> {
        let key = (src.to_string(), expr);
        if let Some(hit) = self.names.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return hit;
        }
        let r = f();
        if let Ok(mut c) = self.names.lock() {
            c.insert(key, r.clone());
        }
        r
    }

    pub fn render(&self, src: &str, q: Quoting, ctx: &Value) -> Result<String, TemplateError> {
        let t = self.env.template_from_named_str(Self::name(q), src).map_err(convert)?;
        t.render(ctx).map_err(convert)
    }

    /// Evaluates an expression; its value is at most [`MAX_VALUE_ITEMS`] items, so callers may
    /// convert it to JSON or iterate it.
    pub fn eval(&self, expr: &str, ctx: &Value) -> Result<Value, TemplateError> {
        let e = self.env.compile_expression(expr).map_err(convert)?;
        let v = e.eval(ctx).map_err(convert)?;
        check_size(&v)?;
        Ok(v)
    }

    /// Renders a value-producing template: a string that is exactly one `{{ expr }}` keeps the
    /// expression's type (a list, a number); anything else renders to a string.
    pub fn render_value(&self, src: &str, ctx: &Value) -> Result<serde_json::Value, TemplateError> {
        if let Some(expr) = single_expression(src) {
            let v = self.eval(expr, ctx)?;
            if v.downcast_object_ref::<Placeholder>().is_none() {
                return serde_json::to_value(&v).map_err(|e| TemplateError { message: e.to_string() });
            }
        }
        self.render(src, Quoting::Plain, ctx).map(serde_json::Value::String)
    }
}

/// An error when `v` holds more than [`MAX_VALUE_ITEMS`] items or nests deeper than
/// [`MAX_VALUE_DEPTH`]; reads at most that many items to find out.
fn check_size(v: &Value) -> Result<(), TemplateError> {
    let mut budget = MAX_VALUE_ITEMS;
    if fits(v, &mut budget, 0) {
        Ok(())
    } else {
        Err(TemplateError {
            message: format!(
                "value too large: more than {MAX_VALUE_ITEMS} items, or nested more than {MAX_VALUE_DEPTH} deep"
            ),
        })
    }
}

fn fits(v: &Value, budget: &mut usize, depth: usize) -> bool {
    use minijinja::value::ValueKind;
    let kind = v.kind();
    if !matches!(kind, ValueKind::Seq | ValueKind::Map | ValueKind::Iterable) {
        return true;
    }
    if depth >= MAX_VALUE_DEPTH || v.len().is_some_and(|n| n > *budget) {
        return false;
    }
    let Ok(items) = v.try_iter() else { return true };
    for item in items {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        // A mapping iterates over its keys.
        let item = if kind == ValueKind::Map {
            v.get_item(&item).unwrap_or_default()
        } else {
            item
        };
        if !fits(&item, budget, depth + 1) {
            return false;
        }
    }
    true
}

/// minijinja's `format` filter, refusing what would make it panic: minijinja 3.1 reads a
/// `%(key)` byte by byte and slices the text mid-character when the key is not ASCII (found
/// by fuzzing, fuzz/regressions/template/).
fn format_filter(state: &mut State, fmt: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, minijinja::Error> {
    if let Some(key) = fmt.as_str().and_then(non_ascii_format_key) {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("format key `%({key})` is not ASCII: name format keys with ASCII letters"),
        ));
    }
    minijinja::filters::format(state, fmt, args)
}

/// The first `%(key)` of a printf-style format whose key is not ASCII (an unclosed one runs
/// to the end of the text, as minijinja reads it). `%%` is a literal percent sign.
fn non_ascii_format_key(fmt: &str) -> Option<&str> {
    let mut rest = fmt;
    while let Some(i) = rest.find('%') {
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            let key = &tail[..tail.find(')').unwrap_or(tail.len())];
            if !key.is_ascii() {
                return Some(key);
            }
            rest = &tail[key.len()..];
        } else {
            rest = after;
        }
    }
    None
}

fn sorted(names: HashSet<String>) -> BTreeSet<String> {
    names.into_iter().collect()
}

/// The template with every `{{ … }}` for which `shown` gives a text (run-time values:
/// `<steps.a.value | upper>`, secrets: `***`) replaced by that text, so a plan never shows a
/// filter applied to a placeholder.
pub fn mark_runtime_expressions(src: &str, shown: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let inner = &rest[start + 2..start + len];
        let expr = inner.trim().trim_start_matches('-').trim_end_matches('-').trim();
        out.push_str(&rest[..start]);
        match shown(expr).filter(|_| !expr.contains("{%") && !expr.contains("%}")) {
            Some(text) => {
                out.push_str("{% raw %}");
                out.push_str(&text);
                out.push_str("{% endraw %}");
            }
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// `{{ expr }}` with nothing around it → `expr`.
pub fn single_expression(src: &str) -> Option<&str> {
    let inner = src.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim().trim_start_matches('-').trim_end_matches('-').trim())
}

/// A value known only at run time; renders as `<steps.x.y>` (or `***` for a secret) and
/// answers any attribute with a deeper placeholder.
#[derive(Debug)]
pub struct Placeholder {
    path: String,
    secret: bool,
}

impl Placeholder {
    pub fn value(path: &str, secret: bool) -> Value {
        Value::from_object(Placeholder {
            path: path.to_string(),
            secret,
        })
    }
    fn shown(&self) -> String {
        if self.secret {
            "***".to_string()
        } else {
            format!("<{}>", self.path)
        }
    }
}

impl Object for Placeholder {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = match key.as_str() {
            Some(s) => s.to_string(),
            None => key.to_string(),
        };
        Some(Value::from_object(Placeholder {
            path: format!("{}.{key}", self.path),
            secret: self.secret,
        }))
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Value {
        Value::from(minijinja::value::Serde(
            serde_json::json!({ "params": { "v": "v1; touch /tmp/pwned", "n": 3 } }),
        ))
    }

    #[test]
    fn shell_interpolations_are_one_quoted_word() {
        let t = Templates::new();
        let out = t
            .render("echo {{ params.v }} {{ params.n }}", Quoting::Shell, &ctx())
            .unwrap();
        assert_eq!(out, "echo 'v1; touch /tmp/pwned' 3");
        let raw = t.render("echo {{ params.v | raw }}", Quoting::Shell, &ctx()).unwrap();
        assert_eq!(raw, "echo v1; touch /tmp/pwned");
        let plain = t.render("{{ params.v }}", Quoting::Plain, &ctx()).unwrap();
        assert_eq!(plain, "v1; touch /tmp/pwned");
    }

    #[test]
    fn undefined_names_are_errors() {
        let t = Templates::new();
        assert!(t.render("{{ params.nope }}", Quoting::Plain, &ctx()).is_err());
        let names = t
            .names("{{ params.v }} {{ steps.a.value | upper }}", Quoting::Plain)
            .unwrap();
        assert!(
            names.contains("params.v") && names.contains("steps.a.value"),
            "{names:?}"
        );
    }

    #[test]
    fn placeholders_render_as_their_path() {
        let t = Templates::new();
        let mut map = std::collections::BTreeMap::new();
        map.insert("steps", Placeholder::value("steps", false));
        map.insert("secrets", Placeholder::value("secrets", true));
        let ctx = Value::from(map);
        let out = t
            .render("x={{ steps.base.value }} k={{ secrets.token }}", Quoting::Shell, &ctx)
            .unwrap();
        assert_eq!(out, "x=<steps.base.value> k=***");
    }

    #[test]
    fn booleans_render_in_lowercase() {
        let t = Templates::new();
        let ctx = Value::from(minijinja::value::Serde(serde_json::json!({ "f": true, "g": false })));
        assert_eq!(t.render("{{ f }} {{ g }}", Quoting::Shell, &ctx).unwrap(), "true false");
    }

    #[test]
    fn runtime_expressions_are_shown_whole() {
        let marked = mark_runtime_expressions("a {{ steps.x.v | replace('.', '-') }} b {{ params.p }}", |e| {
            e.starts_with("steps").then(|| format!("<{e}>"))
        });
        assert_eq!(
            marked,
            "a {% raw %}<steps.x.v | replace('.', '-')>{% endraw %} b {{ params.p }}"
        );
    }

    #[test]
    fn format_rejects_keys_that_are_not_ascii_instead_of_panicking() {
        let t = Templates::new();
        for src in [
            "{{ '%(ߚ)s' | format(a=1) }}",
            "{{ '%(é' | format(a=1) }}",
            "{{ 'x %(a)s %(κλειδί)d' | format(a=1) }}",
        ] {
            let e = t.render(src, Quoting::Plain, &ctx()).unwrap_err();
            assert!(e.message.contains("is not ASCII"), "{src}: {e}");
        }
        assert_eq!(
            t.render("{{ '%%(é) %(a)s' | format(a=1) }}", Quoting::Plain, &ctx())
                .unwrap(),
            "%(é) 1"
        );
        assert_eq!(
            t.render("{{ '%s-%d' | format('a', 3) }}", Quoting::Plain, &ctx())
                .unwrap(),
            "a-3"
        );
        assert_eq!(non_ascii_format_key("%%(é) %(a)s"), None);
        assert_eq!(non_ascii_format_key("%(é"), Some("é"));
    }

    #[test]
    fn huge_lazy_values_are_errors_not_hangs() {
        let t = Templates::new();
        for src in [
            "[1] * 100000000",
            "[steps] * 8 * 8 * 8 * 9 * 88 * 88",
            "[[1] * 1000] * 1000",
            "{'a': [0] * 100001}",
        ] {
            let e = t.eval(src, &ctx()).unwrap_err();
            assert!(e.message.contains("value too large"), "{src}: {e}");
            let e = t
                .render(&format!("{{{{ {src} }}}}"), Quoting::Plain, &ctx())
                .unwrap_err();
            assert!(e.message.contains("value too large"), "{src}: {e}");
        }
        assert_eq!(
            t.eval("([1] * 100000000) | length", &ctx()).unwrap(),
            Value::from(100_000_000)
        );
        assert_eq!(t.eval("([1] * 3) | length", &ctx()).unwrap(), Value::from(3));
        assert_eq!(
            t.render("{{ [1, 2] * 2 }}", Quoting::Plain, &ctx()).unwrap(),
            "[1, 2, 1, 2]"
        );
    }

    #[test]
    fn a_single_expression_keeps_its_type() {
        let t = Templates::new();
        assert_eq!(
            t.render_value("{{ params.n * 2 }}", &ctx()).unwrap(),
            serde_json::json!(6)
        );
        assert_eq!(
            t.render_value("n={{ params.n }}", &ctx()).unwrap(),
            serde_json::json!("n=3")
        );
    }
}
