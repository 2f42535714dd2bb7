//! The plan as a picture: Mermaid and Graphviz DOT, risky and gated steps marked.

use std::fmt::Write;

use super::model::{Plan, PlanBody};
use crate::compile::Step;
use crate::playbook::Risk;
use crate::spec::Effect;

#[derive(PartialEq)]
enum Kind {
    Gated,
    Risky,
    Plain,
}

fn kind(s: &Step) -> Kind {
    if !s.gates.is_empty() {
        Kind::Gated
    } else if s.risk >= Risk::High || s.effect == Effect::Irreversible {
        Kind::Risky
    } else {
        Kind::Plain
    }
}

fn label(s: &Step) -> String {
    let mut l = s.id.clone();
    if let Some(n) = &s.name {
        l.push_str(&format!("\n{n}"));
    }
    l.push_str(&format!("\n{} · {}", s.risk.as_str(), s.effect.as_str()));
    if !s.gates.is_empty() {
        l.push_str(" · gated");
    }
    l
}

pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    mermaid_body(&mut out, &plan.body, "s", "  ");
    out.push_str("  classDef gated fill:#fff3cd,stroke:#b8860b,stroke-width:2px\n");
    out.push_str("  classDef risky fill:#f8d7da,stroke:#b02a37,stroke-width:2px\n");
    out
}

/// The steps of `body` as nodes `{prefix}{i}`; a sub-playbook's as a subgraph under its
/// caller, which points at it with a dotted edge.
fn mermaid_body(out: &mut String, body: &PlanBody, prefix: &str, pad: &str) {
    let idx = |id: &str| body.steps.iter().position(|s| s.id == id).unwrap_or(0);
    for (i, s) in body.steps.iter().enumerate() {
        let text = label(s).replace('"', "#quot;").replace('\n', "<br/>");
        let class = match kind(s) {
            Kind::Gated => ":::gated",
            Kind::Risky => ":::risky",
            Kind::Plain => "",
        };
        let _ = writeln!(out, "{pad}{prefix}{i}[\"{text}\"]{class}");
    }
    for (i, s) in body.steps.iter().enumerate() {
        for n in &s.needs {
            let _ = writeln!(out, "{pad}{prefix}{} --> {prefix}{i}", idx(n));
        }
    }
    for (i, s) in body.steps.iter().enumerate() {
        let Some(sub) = body.subplans.get(&s.id) else { continue };
        let inner = format!("{prefix}{i}_");
        let _ = writeln!(
            out,
            "{pad}subgraph {inner}g[\"{}: playbook {}\"]",
            s.id.replace('"', "#quot;"),
            sub.playbook.replace('"', "#quot;")
        );
        mermaid_body(out, &sub.plan, &inner, &format!("{pad}  "));
        let _ = writeln!(out, "{pad}end");
        let _ = writeln!(out, "{pad}{prefix}{i} -.-> {inner}g");
    }
}

pub fn dot(plan: &Plan) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=rounded];\n",
        esc(&plan.playbook.name)
    );
    dot_body(&mut out, &plan.body, "", "  ");
    out.push_str("}\n");
    out
}

/// The steps of `body` as nodes named `{prefix}{id}`; a sub-playbook's in a cluster under
/// its caller.
fn dot_body(out: &mut String, body: &PlanBody, prefix: &str, pad: &str) {
    for s in &body.steps {
        let style = match kind(s) {
            Kind::Gated => ", color=\"#b8860b\", penwidth=2, style=\"rounded,filled\", fillcolor=\"#fff3cd\"",
            Kind::Risky => ", color=\"#b02a37\", penwidth=2, style=\"rounded,filled\", fillcolor=\"#f8d7da\"",
            Kind::Plain => "",
        };
        let _ = writeln!(
            out,
            "{pad}\"{}\" [label=\"{}\"{style}];",
            esc(&format!("{prefix}{}", s.id)),
            esc(&label(s))
        );
    }
    for s in &body.steps {
        for n in &s.needs {
            let _ = writeln!(
                out,
                "{pad}\"{}\" -> \"{}\";",
                esc(&format!("{prefix}{n}")),
                esc(&format!("{prefix}{}", s.id))
            );
        }
    }
    for s in &body.steps {
        let Some(sub) = body.subplans.get(&s.id) else { continue };
        let inner = format!("{prefix}{}/", s.id);
        let _ = writeln!(out, "{pad}subgraph \"cluster_{}\" {{", esc(&inner));
        let _ = writeln!(out, "{pad}  label=\"{}: playbook {}\";", esc(&s.id), esc(&sub.playbook));
        dot_body(out, &sub.plan, &inner, &format!("{pad}  "));
        let _ = writeln!(out, "{pad}}}");
        if let Some(first) = sub.plan.steps.first() {
            let _ = writeln!(
                out,
                "{pad}\"{}\" -> \"{}\" [style=dashed];",
                esc(&format!("{prefix}{}", s.id)),
                esc(&format!("{inner}{}", first.id))
            );
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
