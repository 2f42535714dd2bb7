//! Finds the workspace (walking up to `runbook.yaml`) and loads its config and playbooks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::limits::{MAX_LEASE_SECS, MIN_LEASE_SECS};
use super::raw::RawPlaybook;
use super::workspace::RawWorkspace;
use crate::source::{Diagnostic, Source, Span};
use crate::yaml::{self, DeError, Node};

pub const WORKSPACE_FILE: &str = "runbook.yaml";

/// A workspace: its root, its config (maybe absent) and where its playbooks and state live.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    /// `runbook.yaml`, when there is one.
    pub config_source: Option<Arc<Source>>,
    pub config_node: Option<Node>,
    pub config: RawWorkspace,
    pub playbooks_dir: PathBuf,
    pub state_dir: PathBuf,
    /// The checked `contacts:` section (escalation), when there is one.
    pub contacts: Option<Arc<super::Contacts>>,
}

/// A parsed playbook file.
#[derive(Debug)]
pub struct LoadedPlaybook {
    pub source: Arc<Source>,
    pub node: Node,
    pub raw: RawPlaybook,
    /// What was wrong in the file although the playbook could still be read (unknown keys,
    /// a step that did not read): compiling reports these first, then its own findings.
    pub errors: Vec<Diagnostic>,
}

/// Walks up from `start` to the first directory holding `runbook.yaml`; without one, `start`
/// itself is the workspace.
pub fn find_workspace(start: &Path) -> Result<Workspace, Vec<Diagnostic>> {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let root = start
        .ancestors()
        .find(|dir| dir.join(WORKSPACE_FILE).is_file())
        .map(Path::to_path_buf);
    match root {
        Some(root) => load_workspace(&root),
        None => Ok(Workspace {
            playbooks_dir: start.join("playbooks"),
            state_dir: start.join(".runbook"),
            root: start,
            config_source: None,
            config_node: None,
            config: RawWorkspace::default(),
            contacts: None,
        }),
    }
}

fn load_workspace(root: &Path) -> Result<Workspace, Vec<Diagnostic>> {
    let (source, node) = read_yaml(&root.join(WORKSPACE_FILE))?;
    workspace_from(root, source, node)
}

/// A workspace whose `runbook.yaml` holds `bytes` (nothing is read from disk until its
/// playbooks are asked for): for tools and fuzzing that have the text but no file.
pub fn workspace_from_bytes(root: &Path, bytes: Vec<u8>) -> Result<Workspace, Vec<Diagnostic>> {
    let (source, node) = parse_yaml(&root.join(WORKSPACE_FILE), bytes)?;
    workspace_from(root, source, node)
}

fn workspace_from(root: &Path, source: Arc<Source>, node: Node) -> Result<Workspace, Vec<Diagnostic>> {
    let (config, errors) = yaml::from_node_collecting::<RawWorkspace>(&node);
    let mut diags: Vec<Diagnostic> = errors.into_iter().map(|e| de_diagnostic(&source, e)).collect();
    let Some(config) = config else {
        return Err(diags);
    };
    if let Some(default) = &config.default_env
        && !config.environments.contains_key(default.value.as_str())
    {
        let names: Vec<&str> = config.environments.keys().map(String::as_str).collect();
        diags.push(
            Diagnostic::error(format!(
                "default_env `{}` is not one of the environments",
                default.value
            ))
            .at(&source, default.span)
            .help(yaml::suggest_name(&default.value, &names, "environment")),
        );
    }
    if let Some(locks) = &config.locks
        && let Some(lease) = locks.value.lease_duration
        && !(MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&lease.std().as_secs())
    {
        let span = node
            .get("locks")
            .and_then(|l| l.get("lease_duration"))
            .map(|n| n.span)
            .unwrap_or(locks.span);
        diags.push(
            Diagnostic::error(format!(
                "locks.lease_duration must be between {} and {}, not {lease}",
                super::Duration::from_secs(MIN_LEASE_SECS),
                super::Duration::from_secs(MAX_LEASE_SECS)
            ))
            .at(&source, span)
            .help("a crashed run's Lease blocks the other runs of its lock until it expires"),
        );
    }
    let contacts = match &config.contacts {
        Some(spec) => {
            let at = node.get("contacts").cloned().unwrap_or_else(|| node.clone());
            match super::contacts::load(root, &source, &at, spec) {
                Ok(c) => Some(Arc::new(c)),
                Err(mut d) => {
                    diags.append(&mut d);
                    None
                }
            }
        }
        None => None,
    };
    if !diags.is_empty() {
        return Err(diags);
    }
    let playbooks_dir = root.join(config.playbooks.as_deref().unwrap_or("playbooks"));
    let state_dir = root.join(config.state_dir.as_deref().unwrap_or(".runbook"));
    Ok(Workspace {
        root: root.to_path_buf(),
        config_source: Some(source),
        config_node: Some(node),
        config,
        playbooks_dir,
        state_dir,
        contacts,
    })
}

/// Reads and parses a YAML file into its source and node tree.
pub fn read_yaml(path: &Path) -> Result<(Arc<Source>, Node), Vec<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        vec![Diagnostic::error(format!(
            "cannot read {}: {e}",
            crate::source::display_path(path)
        ))]
    })?;
    parse_yaml(path, bytes)
}

/// Parses YAML bytes as the contents of `path` (which names the file in messages).
pub fn parse_yaml(path: &Path, bytes: Vec<u8>) -> Result<(Arc<Source>, Node), Vec<Diagnostic>> {
    let text = String::from_utf8(bytes).map_err(|e| {
        vec![Diagnostic::error(format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            crate::source::display_path(path),
            e.utf8_error().valid_up_to()
        ))]
    })?;
    let source = Source::new(path, text);
    match yaml::parse(&source.text) {
        Ok(node) => Ok((source, node)),
        Err(e) => Err(vec![
            Diagnostic::error(format!("invalid YAML: {}", e.message)).at(&source, e.span),
        ]),
    }
}

/// Turns a deserialization error into a diagnostic in its file.
pub fn de_diagnostic(source: &Arc<Source>, e: DeError) -> Diagnostic {
    let mut d = Diagnostic::error(e.message);
    if let Some(help) = e.help {
        d = d.help(help);
    }
    match e.span {
        Some(span) => d.at(source, span),
        None => d.in_file(source),
    }
}

/// Loads one playbook file and fails on any error in it (every error returned together).
pub fn load_playbook(path: &Path) -> Result<LoadedPlaybook, Vec<Diagnostic>> {
    let lp = read_playbook(path)?;
    if lp.errors.is_empty() { Ok(lp) } else { Err(lp.errors) }
}

/// Reads a playbook file as far as it can be read: `Err` only when nothing usable is left
/// (bad YAML, not a mapping, no `name`); other errors travel in `errors`.
pub fn read_playbook(path: &Path) -> Result<LoadedPlaybook, Vec<Diagnostic>> {
    let (source, node) = read_yaml(path)?;
    playbook_from(path, source, node)
}

/// Like [`read_playbook`], for a playbook whose text is `bytes` (as if read from `path`).
pub fn read_playbook_bytes(path: &Path, bytes: Vec<u8>) -> Result<LoadedPlaybook, Vec<Diagnostic>> {
    let (source, node) = parse_yaml(path, bytes)?;
    playbook_from(path, source, node)
}

fn playbook_from(path: &Path, source: Arc<Source>, node: Node) -> Result<LoadedPlaybook, Vec<Diagnostic>> {
    if node.kind == yaml::NodeKind::Null {
        return Err(vec![
            Diagnostic::error("the file is empty: a playbook needs at least `name` and `steps`").in_file(&source),
        ]);
    }
    if !matches!(node.kind, yaml::NodeKind::Map(_)) {
        return Err(vec![
            Diagnostic::error(format!(
                "a playbook is a mapping (name, steps, ...), found {}",
                node.describe()
            ))
            .at(&source, node.span),
        ]);
    }
    let (raw, errors) = yaml::from_node_collecting::<RawPlaybook>(&node);
    let mut diags: Vec<Diagnostic> = errors.into_iter().map(|e| de_diagnostic(&source, e)).collect();
    if let Some(raw) = &raw {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if raw.name.value != stem {
            diags.push(
                Diagnostic::error(format!(
                    "playbook name `{}` differs from its file name `{stem}`",
                    raw.name.value
                ))
                .at(&source, raw.name.span)
                .help(format!(
                    "name it `{stem}`, or rename the file to `{}.yaml`",
                    raw.name.value
                )),
            );
        }
    }
    match raw {
        Some(raw) => Ok(LoadedPlaybook {
            source,
            node,
            raw,
            errors: diags,
        }),
        None => Err(diags),
    }
}

impl Workspace {
    /// The playbook files of the workspace, sorted by name.
    pub fn playbook_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.playbooks_dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_yaml(p) && p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The file of a named playbook.
    pub fn playbook_path(&self, name: &str) -> Result<PathBuf, Diagnostic> {
        for ext in ["yaml", "yml"] {
            let p = self.playbooks_dir.join(format!("{name}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
        let names: Vec<String> = self
            .playbook_files()
            .iter()
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut d = Diagnostic::error(format!(
            "no playbook named `{name}` in {}",
            crate::source::display_path(&self.playbooks_dir)
        ));
        d = d.help(if names.is_empty() {
            "this workspace has no playbooks yet".to_string()
        } else {
            yaml::suggest_name(name, &names, "playbook")
        });
        Err(d)
    }

    /// The span of an environment's entry in `runbook.yaml`, for errors about it.
    pub fn env_span(&self, name: &str) -> Option<Span> {
        self.config_node.as_ref()?.get("environments")?.key_span(name)
    }
}

pub fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}
