//! The plan as a picture: Mermaid and Graphviz DOT, risky and gated steps marked.

use std::fmt::Write;

use super::model::Plan;
use crate::actions::Effect;
use crate::compile::Step;
use crate::playbook::Risk;

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
    let idx = |id: &str| plan.steps.iter().position(|s| s.id == id).unwrap_or(0);
    for (i, s) in plan.steps.iter().enumerate() {
        let text = label(s).replace('"', "#quot;").replace('\n', "<br/>");
        let class = match kind(s) {
            Kind::Gated => ":::gated",
            Kind::Risky => ":::risky",
            Kind::Plain => "",
        };
        let _ = writeln!(out, "  s{i}[\"{text}\"]{class}");
    }
    for (i, s) in plan.steps.iter().enumerate() {
        for n in &s.needs {
            let _ = writeln!(out, "  s{} --> s{i}", idx(n));
        }
    }
    out.push_str("  classDef gated fill:#fff3cd,stroke:#b8860b,stroke-width:2px\n");
    out.push_str("  classDef risky fill:#f8d7da,stroke:#b02a37,stroke-width:2px\n");
    out
}

pub fn dot(plan: &Plan) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=rounded];\n",
        esc(&plan.playbook.name)
    );
    for s in &plan.steps {
        let style = match kind(s) {
            Kind::Gated => ", color=\"#b8860b\", penwidth=2, style=\"rounded,filled\", fillcolor=\"#fff3cd\"",
            Kind::Risky => ", color=\"#b02a37\", penwidth=2, style=\"rounded,filled\", fillcolor=\"#f8d7da\"",
            Kind::Plain => "",
        };
        let _ = writeln!(out, "  \"{}\" [label=\"{}\"{style}];", esc(&s.id), esc(&label(s)));
    }
    for s in &plan.steps {
        for n in &s.needs {
            let _ = writeln!(out, "  \"{}\" -> \"{}\";", esc(n), esc(&s.id));
        }
    }
    out.push_str("}\n");
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
