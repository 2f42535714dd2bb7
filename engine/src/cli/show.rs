//! `runbook show NAME`: a playbook's description, params, and steps with their docs.

use std::fmt::Write;

use super::common::{self, Global};
use crate::compile::{self, Options};
use crate::error;
use crate::playbook::ParamType;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The playbook's name.
    pub name: String,
    /// Environment whose policy decides the gates shown (default: the workspace's).
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Option<String>,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let lp = match common::load(&ws, Some(&a.name), None) {
        Ok(lp) => lp,
        Err(d) => {
            g.print(&d);
            return error::INVALID;
        }
    };
    let opts = Options {
        env: a.env.as_deref(),
        params: &[],
        allow_missing_params: true,
    };
    let compiled = match compile::compile(&ws, &lp, &opts) {
        Ok(c) => c,
        Err(d) => {
            g.print(&d);
            return error::INVALID;
        }
    };
    let raw = &lp.raw;
    let pb = &compiled.playbook;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {}",
        pb.name,
        raw.description.as_deref().unwrap_or("(no description)")
    );
    let _ = writeln!(out, "file   {}", lp.source.name);
    if let Some(o) = &raw.owner {
        let _ = writeln!(out, "owner  {o}");
    }
    let _ = writeln!(out, "risk   {}", pb.risk.as_str());
    if let Some(doc) = &raw.doc {
        let _ = writeln!(out, "\n{}", doc.trim_end());
    }
    if !raw.params.is_empty() {
        let _ = writeln!(out, "\nparams");
        for (name, p) in &raw.params {
            let Some(p) = &p.0 else { continue };
            let ty = match p.ty.as_ref().map(|t| t.value).unwrap_or(ParamType::String) {
                ParamType::String => "string".to_string(),
                ParamType::Integer => "integer".to_string(),
                ParamType::Number => "number".to_string(),
                ParamType::Boolean => "boolean".to_string(),
                ParamType::Duration => "duration".to_string(),
                ParamType::Enum => format!(
                    "enum({})",
                    p.values.as_ref().map(|v| v.value.join("|")).unwrap_or_default()
                ),
            };
            let mut rules = Vec::new();
            match &p.default {
                Some(d) => rules.push(format!("default {}", lp.source.slice(d.span).trim())),
                None if p.required.unwrap_or(true) => rules.push("required".into()),
                None => {}
            }
            if let Some(pat) = &p.pattern {
                rules.push(format!("pattern {}", pat.value));
            }
            if let Some(m) = &p.minimum {
                rules.push(format!("min {}", m.value));
            }
            if let Some(m) = &p.maximum {
                rules.push(format!("max {}", m.value));
            }
            let _ = writeln!(out, "  {name:<16} {ty:<10} {}", rules.join(", "));
            if let Some(d) = &p.description {
                let _ = writeln!(out, "  {:<16} {d}", "");
            }
        }
    }
    for (title, steps) in [
        ("steps", &pb.steps),
        ("on failure", &pb.on_failure),
        ("finally", &pb.finally),
    ] {
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        for s in steps {
            let action = s.action.as_ref().map(|a| a.spec.key()).unwrap_or("gate");
            let gated = if s.gates.is_empty() { "" } else { " · gated" };
            let _ = writeln!(
                out,
                "  {:<24} {:<10} {:<8} {}{gated}",
                s.id,
                action,
                s.risk.as_str(),
                s.name.as_deref().unwrap_or("")
            );
            if let Some(doc) = &s.doc {
                for line in doc.trim_end().lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    if !pb.measures.is_empty() {
        let _ = writeln!(out, "\nmeasures");
        for m in &pb.measures {
            let _ = writeln!(
                out,
                "  {:<16} {} · target {} · on miss {}",
                m.name,
                m.measures.text(),
                m.target,
                m.on_miss.as_str()
            );
            if let Some(d) = &m.description {
                let _ = writeln!(out, "  {:<16} {d}", "");
            }
        }
    }
    print!("{out}");
    error::SUCCESS
}
