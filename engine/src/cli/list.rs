//! `runbook list`: the playbooks of the workspace with risk, description and params.

use serde::Serialize;

use super::common::{Format, Global};
use crate::error;
use crate::playbook::{self, ParamType, Risk};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Serialize)]
struct Row {
    name: String,
    description: Option<String>,
    risk: Option<Risk>,
    params: Vec<ParamRow>,
    /// Set when the file does not load; `runbook validate` says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid: Option<String>,
}

#[derive(Serialize)]
struct ParamRow {
    name: String,
    #[serde(rename = "type")]
    ty: ParamType,
    required: bool,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let mut rows = Vec::new();
    for file in ws.playbook_files() {
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
        match playbook::load_playbook(&file) {
            Ok(lp) => rows.push(Row {
                name: stem,
                description: lp.raw.description.clone(),
                risk: Some(lp.raw.risk.as_ref().map(|r| r.value).unwrap_or(Risk::Medium)),
                params: lp
                    .raw
                    .params
                    .iter()
                    .filter_map(|(n, p)| p.0.as_ref().map(|p| (n, p)))
                    .map(|(n, p)| ParamRow {
                        name: n.clone(),
                        ty: p.ty.as_ref().map(|t| t.value).unwrap_or(ParamType::String),
                        required: p.default.is_none() && p.required.unwrap_or(true),
                    })
                    .collect(),
                invalid: None,
            }),
            Err(d) => rows.push(Row {
                name: stem,
                description: None,
                risk: None,
                params: Vec::new(),
                invalid: Some(format!(
                    "{} (run `runbook validate`)",
                    super::common::count(d.len(), "error")
                )),
            }),
        }
    }
    match a.format {
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        }
        Format::Text => {
            if rows.is_empty() {
                eprintln!("no playbooks in {}", crate::source::display_path(&ws.playbooks_dir));
            }
            let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            println!("{:<width$}  {:<8}  DESCRIPTION / PARAMS", "NAME", "RISK");
            for r in &rows {
                let risk = r.risk.map(|r| r.as_str()).unwrap_or("-");
                let desc = r
                    .invalid
                    .clone()
                    .map(|i| format!("INVALID: {i}"))
                    .or(r.description.clone())
                    .unwrap_or_default();
                println!("{:<width$}  {:<8}  {desc}", r.name, risk);
                if !r.params.is_empty() {
                    let ps: Vec<String> = r
                        .params
                        .iter()
                        .map(|p| format!("{}{}", p.name, if p.required { "*" } else { "" }))
                        .collect();
                    println!("{:<width$}  {:<8}  params: {}", "", "", ps.join(" "));
                }
            }
        }
    }
    error::SUCCESS
}
