//! `runbook schema`: the JSON Schemas generated from the playbook and workspace types.

use std::path::PathBuf;

use clap::ValueEnum;
use schemars::generate::SchemaSettings;

use super::common::Global;
use crate::error;
use crate::playbook::{RawPlaybook, RawWorkspace};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which schema (default: both, as one JSON object).
    #[arg(value_enum)]
    pub which: Option<Which>,
    /// Write playbook.schema.json and workspace.schema.json into DIR instead.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Which {
    Playbook,
    Workspace,
}

fn settings() -> SchemaSettings {
    // draft-07: what yaml-language-server supports fully.
    SchemaSettings::draft07()
}

/// The playbook schema, pretty-printed with a trailing newline.
pub fn playbook_schema() -> String {
    let s = settings().into_generator().into_root_schema_for::<RawPlaybook>();
    serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"
}

/// The runbook.yaml schema, pretty-printed with a trailing newline.
pub fn workspace_schema() -> String {
    let s = settings().into_generator().into_root_schema_for::<RawWorkspace>();
    serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"
}

pub fn exec(_g: &Global, a: Args) -> i32 {
    if let Some(dir) = a.write {
        for (name, text) in [
            ("playbook.schema.json", playbook_schema()),
            ("workspace.schema.json", workspace_schema()),
        ] {
            let path = dir.join(name);
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return error::INVALID;
            }
            eprintln!("wrote {}", path.display());
        }
        return error::SUCCESS;
    }
    match a.which {
        Some(Which::Playbook) => print!("{}", playbook_schema()),
        Some(Which::Workspace) => print!("{}", workspace_schema()),
        None => {
            let both = serde_json::json!({
                "playbook": serde_json::from_str::<serde_json::Value>(&playbook_schema()).unwrap_or_default(),
                "workspace": serde_json::from_str::<serde_json::Value>(&workspace_schema()).unwrap_or_default(),
            });
            println!("{}", serde_json::to_string_pretty(&both).unwrap_or_default());
        }
    }
    error::SUCCESS
}
