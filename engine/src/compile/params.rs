//! Params: checks each declaration, then resolves `-p name=value` and defaults against types
//! and rules (pattern, minimum/maximum, enum values).

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::playbook::{ParamSpec, ParamType, RawPlaybook};
use crate::source::{Diagnostic, Source, Span};
use crate::yaml::{Sp, suggest_name};

/// The outcome: values by name, and params left without one (allowed only in validate).
pub struct Resolved {
    pub values: IndexMap<String, Json>,
    pub missing: Vec<String>,
    /// Params whose value was rejected (already reported); templates that read them are
    /// not rendered, so one bad value gives one error.
    pub invalid: Vec<String>,
}

struct Checked<'a> {
    name: &'a str,
    spec: &'a Sp<ParamSpec>,
    ty: ParamType,
    pattern: Option<regex::Regex>,
}

/// Resolves params. `given` are the `-p` pairs in command-line order. With `allow_missing`,
/// a required param without a value is listed in `missing` rather than an error.
pub fn resolve(
    raw: &RawPlaybook,
    source: &Arc<Source>,
    given: &[(String, String)],
    allow_missing: bool,
    diags: &mut Vec<Diagnostic>,
) -> Resolved {
    let mut checked = Vec::new();
    for (name, spec) in &raw.params {
        let Some(spec) = &spec.0 else { continue };
        if let Some(c) = check_spec(name, spec, source, diags) {
            checked.push(c);
        }
    }

    let declared: Vec<&str> = raw.params.keys().map(String::as_str).collect();
    let mut given_map: IndexMap<&str, &str> = IndexMap::new();
    for (k, v) in given {
        if !raw.params.contains_key(k) {
            let help = if declared.is_empty() {
                format!("playbook `{}` takes no params", raw.name.value)
            } else {
                suggest_name(k, &declared, "param")
            };
            diags.push(Diagnostic::error(format!("unknown param `{k}` (given with -p {k}=...)")).help(help));
            continue;
        }
        given_map.insert(k, v);
    }

    let mut values = IndexMap::new();
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    for c in &checked {
        if let Some(text) = given_map.get(c.name) {
            match parse_cli(c, text).and_then(|v| check_rules(c, &v).map(|_| v)) {
                Ok(v) => {
                    values.insert(c.name.to_string(), v);
                }
                Err(rule) => {
                    invalid.push(c.name.to_string());
                    diags.push(
                        Diagnostic::error(format!("param `{}`: {rule}", c.name))
                            .at(source, c.spec.span)
                            .label("declared here")
                            .help(describe_rules(c)),
                    )
                }
            }
        } else if let Some(default) = &c.spec.default {
            // A wrong default is reported where it is declared, by check_spec.
            if let Ok(v) = coerce_default(c, source, default) {
                values.insert(c.name.to_string(), v);
            }
        } else if c.spec.required.unwrap_or(true) {
            if allow_missing {
                missing.push(c.name.to_string());
            } else {
                diags.push(
                    Diagnostic::error(format!(
                        "missing required param `{}`: give it with -p {}=VALUE",
                        c.name, c.name
                    ))
                    .at(source, c.spec.span)
                    .label("declared here")
                    .help(describe_rules(c)),
                );
            }
        } else {
            values.insert(c.name.to_string(), Json::Null);
        }
    }
    // Params whose declaration is wrong have no value either.
    for name in raw.params.keys() {
        if !values.contains_key(name) && !missing.contains(name) && !invalid.contains(name) {
            invalid.push(name.clone());
        }
    }
    Resolved {
        values,
        missing,
        invalid,
    }
}

fn check_spec<'a>(
    name: &'a str,
    spec: &'a Sp<ParamSpec>,
    source: &Arc<Source>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Checked<'a>> {
    let before = diags.len();
    if !valid_identifier(name) {
        diags.push(
            Diagnostic::error(format!(
                "param name `{name}` is not an identifier (letters, digits, `_`)"
            ))
            .at(source, spec.span),
        );
    }
    let ty = spec.ty.as_ref().map(|t| t.value).unwrap_or(ParamType::String);
    let ty_span = spec.ty.as_ref().map(|t| t.span).unwrap_or(spec.span);
    match (&spec.values, ty) {
        (None, ParamType::Enum) => diags
            .push(Diagnostic::error(format!("param `{name}` is an enum but lists no `values`")).at(source, ty_span)),
        (Some(v), t) if t != ParamType::Enum => diags.push(
            Diagnostic::error(format!("param `{name}` has `values` but its type is not `enum`"))
                .at(source, v.span)
                .help("write `type: enum`, or remove `values`"),
        ),
        (Some(v), _) if v.value.is_empty() => {
            diags.push(Diagnostic::error(format!("param `{name}` lists no enum values")).at(source, v.span))
        }
        _ => {}
    }
    let mut pattern = None;
    if let Some(p) = &spec.pattern {
        if ty != ParamType::String {
            diags.push(
                Diagnostic::error(format!("param `{name}`: `pattern` applies to string params only"))
                    .at(source, p.span),
            );
        }
        match regex::Regex::new(&format!("^(?:{})$", p.value)) {
            Ok(re) => pattern = Some(re),
            Err(e) => diags.push(
                Diagnostic::error(format!(
                    "param `{name}`: invalid pattern: {}",
                    first_line(&e.to_string())
                ))
                .at(source, p.span),
            ),
        }
    }
    for (what, bound) in [("minimum", &spec.minimum), ("maximum", &spec.maximum)] {
        let Some(bound) = bound else { continue };
        // `.nan` compares false with everything and would let any value through.
        if !bound.value.is_finite() {
            diags.push(
                Diagnostic::error(format!(
                    "param `{name}`: {what} must be a finite number, not {}",
                    bound.value
                ))
                .at(source, bound.span),
            );
        }
        if !matches!(ty, ParamType::Integer | ParamType::Number) {
            diags.push(
                Diagnostic::error(format!(
                    "param `{name}`: minimum/maximum apply to integer and number params"
                ))
                .at(source, bound.span),
            );
        }
    }
    if let (Some(min), Some(max)) = (&spec.minimum, &spec.maximum)
        && min.value > max.value
    {
        diags.push(
            Diagnostic::error(format!(
                "param `{name}`: minimum {} is above maximum {}",
                min.value, max.value
            ))
            .at(source, min.span),
        );
    }
    if diags.len() > before {
        return None;
    }
    let c = Checked {
        name,
        spec,
        ty,
        pattern,
    };
    if let Some(default) = &spec.default {
        match coerce_default(&c, source, default).and_then(|v| check_rules(&c, &v).map(|_| v)) {
            Ok(_) => {}
            Err(rule) => {
                diags.push(Diagnostic::error(format!("param `{name}`: default {rule}")).at(source, default.span));
                return None;
            }
        }
    }
    Some(c)
}

fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

/// A default as its typed value; a string param keeps the spelling written (`1.10`).
fn coerce_default(c: &Checked, source: &Source, default: &Sp<Json>) -> Result<Json, String> {
    match (c.ty, &default.value) {
        (ParamType::String | ParamType::Enum, Json::String(_)) => Ok(default.value.clone()),
        (ParamType::String | ParamType::Enum, Json::Number(_) | Json::Bool(_)) => Ok(Json::String(
            source.slice(default.span).trim().trim_matches(['"', '\'']).to_string(),
        )),
        (ParamType::Integer, Json::Number(n)) if n.is_i64() || n.is_u64() => Ok(default.value.clone()),
        (ParamType::Number, Json::Number(_)) => Ok(default.value.clone()),
        (ParamType::Boolean, Json::Bool(_)) => Ok(default.value.clone()),
        (ParamType::Duration, Json::String(t)) => duration(t),
        (ParamType::Duration, Json::Number(n)) => duration(&n.to_string()),
        (_, other) => Err(format!("is {}, not {}", json_kind(other), type_name(c.ty))),
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "empty",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a number",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

fn type_name(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "a string",
        ParamType::Integer => "an integer",
        ParamType::Number => "a number",
        ParamType::Boolean => "a boolean",
        ParamType::Enum => "one of the enum values",
        ParamType::Duration => "a duration",
    }
}

/// A duration param's value, as the duration prints (`90` and `1m30s` are both `1m30s`).
fn duration(text: &str) -> Result<Json, String> {
    text.parse::<crate::playbook::Duration>()
        .map(|d| Json::String(d.to_string()))
}

/// A `-p` value, parsed by the param's type.
fn parse_cli(c: &Checked, text: &str) -> Result<Json, String> {
    match c.ty {
        ParamType::String | ParamType::Enum => Ok(Json::String(text.to_string())),
        ParamType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| format!("`{text}` is not an integer")),
        ParamType::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| format!("`{text}` is not a number")),
        ParamType::Duration => duration(text),
        ParamType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Json::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Json::Bool(false)),
            _ => Err(format!("`{text}` is not a boolean (true or false)")),
        },
    }
}

fn check_rules(c: &Checked, v: &Json) -> Result<(), String> {
    if let (Some(re), Some(s)) = (&c.pattern, v.as_str())
        && !re.is_match(s)
    {
        let pat = c.spec.pattern.as_ref().map(|p| p.value.as_str()).unwrap_or("");
        return Err(format!("value `{s}` does not match pattern `{pat}`"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = &c.spec.minimum
            && n < min.value
        {
            return Err(format!("value {n} is below the minimum {}", min.value));
        }
        if let Some(max) = &c.spec.maximum
            && n > max.value
        {
            return Err(format!("value {n} is above the maximum {}", max.value));
        }
    }
    if let (Some(values), Some(s)) = (&c.spec.values, v.as_str())
        && c.ty == ParamType::Enum
        && !values.value.iter().any(|x| x == s)
    {
        return Err(format!("value `{s}` is not one of: {}", values.value.join(", ")));
    }
    Ok(())
}

/// The param's type and rules in one line, for help text.
fn describe_rules(c: &Checked) -> String {
    let mut parts = vec![format!(
        "type {}",
        match c.ty {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::Enum => "enum",
            ParamType::Duration => "duration",
        }
    )];
    if let Some(p) = &c.spec.pattern {
        parts.push(format!("pattern `{}`", p.value));
    }
    if let Some(m) = &c.spec.minimum {
        parts.push(format!("minimum {}", m.value));
    }
    if let Some(m) = &c.spec.maximum {
        parts.push(format!("maximum {}", m.value));
    }
    if let Some(v) = &c.spec.values {
        parts.push(format!("one of {}", v.value.join(", ")));
    }
    if let Some(d) = &c.spec.description {
        parts.push(d.clone());
    }
    parts.join("; ")
}

/// Where in the file a param is declared (for lints about it).
pub fn param_span(raw: &RawPlaybook, name: &str) -> Option<Span> {
    raw.params.get(name).and_then(|p| p.0.as_ref()).map(|p| p.span)
}

/// What is wrong with a value written for a param outside the command line (a schedule's
/// `params` in runbook.yaml): the message, the help, and what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenProblem {
    pub param: String,
    pub about: WrittenPart,
    pub message: String,
    pub help: String,
}

/// The part of a written param a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrittenPart {
    /// The name: the playbook has no such param.
    Name,
    /// The value: wrong type, or against a rule.
    Value,
    /// A required param that was left out.
    Absent,
}

/// Checks typed YAML values (`name`, value, its spelling) against the playbook's params —
/// names, types, patterns, bounds, enum values, required params left out — and gives the
/// `-p` pairs they become. A param whose declaration is itself wrong is left to the
/// playbook's own checks.
pub fn check_written(
    raw: &RawPlaybook,
    source: &Arc<Source>,
    given: &[(String, Json, String)],
) -> (Vec<(String, String)>, Vec<WrittenProblem>) {
    let mut ignored = Vec::new();
    let checked: Vec<Checked> = raw
        .params
        .iter()
        .filter_map(|(name, spec)| check_spec(name, spec.0.as_ref()?, source, &mut ignored))
        .collect();
    let declared: Vec<&str> = raw.params.keys().map(String::as_str).collect();
    let (mut pairs, mut problems) = (Vec::new(), Vec::new());
    for (name, value, spelling) in given {
        if !raw.params.contains_key(name) {
            problems.push(WrittenProblem {
                param: name.clone(),
                about: WrittenPart::Name,
                message: format!("playbook `{}` has no param `{name}`", raw.name.value),
                help: if declared.is_empty() {
                    format!("playbook `{}` takes no params", raw.name.value)
                } else {
                    suggest_name(name, &declared, "param")
                },
            });
            continue;
        }
        let Some(c) = checked.iter().find(|c| c.name == name) else {
            continue;
        };
        let typed = match (c.ty, value) {
            (ParamType::String | ParamType::Enum, Json::String(s)) => Ok(s.clone()),
            // A string param keeps the spelling written (`1.10`, `no`).
            (ParamType::String | ParamType::Enum, Json::Number(_) | Json::Bool(_)) => {
                Ok(spelling.trim().trim_matches(['"', '\'']).to_string())
            }
            (ParamType::Integer, Json::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            (ParamType::Number, Json::Number(n)) => Ok(n.to_string()),
            (ParamType::Boolean, Json::Bool(b)) => Ok(b.to_string()),
            (_, other) => Err(format!("the value is {}, not {}", json_kind(other), type_name(c.ty))),
        };
        let checked_value = typed.and_then(|text| {
            let v = parse_cli(c, &text)?;
            check_rules(c, &v)?;
            Ok(text)
        });
        match checked_value {
            Ok(text) => pairs.push((name.clone(), text)),
            Err(why) => problems.push(WrittenProblem {
                param: name.clone(),
                about: WrittenPart::Value,
                message: format!("param `{name}` of playbook `{}`: {why}", raw.name.value),
                help: describe_rules(c),
            }),
        }
    }
    for c in &checked {
        let required = c.spec.default.is_none() && c.spec.required.unwrap_or(true);
        if required && !given.iter().any(|(n, _, _)| n == c.name) {
            problems.push(WrittenProblem {
                param: c.name.to_string(),
                about: WrittenPart::Absent,
                message: format!(
                    "playbook `{}` needs param `{}`, which is not given",
                    raw.name.value, c.name
                ),
                help: describe_rules(c),
            });
        }
    }
    (pairs, problems)
}
