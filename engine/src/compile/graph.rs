//! The step lists (`steps`, `on_failure`, `finally`): their ids, their `needs`, the DAG of
//! each, and which steps a step may read.

use std::collections::{HashMap, HashSet};

use super::compiler::{Diags, valid_id};
use super::dag::Dag;
use crate::playbook::{LoadedPlaybook, RawStep};
use crate::yaml::{Node, NodeKind, Sp, suggest_name};

/// Which step list a step belongs to: they have separate DAGs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    Main,
    OnFailure,
    Finally,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            List::Main => "steps",
            List::OnFailure => "on_failure",
            List::Finally => "finally",
        }
    }
}

/// The steps of one list, with what reference checks need.
pub(super) struct StepList<'r> {
    pub(super) list: List,
    pub(super) raws: Vec<(&'r Sp<RawStep>, Option<&'r Node>)>,
    pub(super) ids: HashMap<String, usize>,
    /// Ids of steps that could not be read (their error is reported): references to them
    /// are not errors of their own.
    pub(super) broken: HashSet<String>,
    pub(super) dag: Option<Dag>,
}

/// Collects a step list, checks ids and `needs`, and builds its DAG.
pub(super) fn step_list<'a>(lp: &'a LoadedPlaybook, list: List, diags: &mut Diags) -> StepList<'a> {
    let entries = match list {
        List::Main => &lp.raw.steps,
        List::OnFailure => &lp.raw.on_failure,
        List::Finally => &lp.raw.finally,
    };
    let nodes: Vec<&'a Node> = match lp.node.get(list.key()).map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items.iter().collect(),
        _ => Vec::new(),
    };
    let mut raws = Vec::new();
    let mut broken = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        match &e.0 {
            Some(step) => raws.push((step, nodes.get(i).copied())),
            None => {
                if let Some(id) = nodes.get(i).and_then(|n| n.get("id")).and_then(Node::as_scalar_text) {
                    broken.insert(id.to_string());
                }
            }
        }
    }
    // With errors in the file already (a misspelled `steps:`), "no steps" would only repeat them.
    if list == List::Main && entries.is_empty() && lp.errors.is_empty() {
        let span = lp.node.key_span("steps").unwrap_or(lp.raw.name.span);
        diags.error("the playbook has no steps", span);
    }
    let mut ids: HashMap<String, usize> = HashMap::with_capacity(raws.len());
    for (i, (raw, _)) in raws.iter().enumerate() {
        let id = &raw.id;
        if !valid_id(&id.value) {
            diags.error(
                format!(
                    "step id `{}` is not valid: use lowercase letters, digits, `-` and `_`",
                    id.value
                ),
                id.span,
            );
        }
        if let Some(&first) = ids.get(&id.value) {
            let (line, _) = diags.src().line_col(raws[first].0.id.span.start);
            diags.error(format!("duplicate step id `{}`", id.value), id.span).label =
                Some(format!("first used on line {line}"));
        } else {
            ids.insert(id.value.clone(), i);
        }
    }
    let id_list: Vec<&str> = raws.iter().map(|(r, _)| r.id.value.as_str()).collect();
    // Unknown `needs` are reported and left out, so the rest of the DAG is still checked.
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(raws.len());
    for (i, (raw, _)) in raws.iter().enumerate() {
        let mut d = Vec::new();
        match &raw.needs {
            None if i > 0 => d.push(i - 1),
            None => {}
            Some(needs) => {
                for n in &needs.value {
                    match ids.get(&n.value) {
                        Some(&j) => {
                            if !d.contains(&j) {
                                d.push(j);
                            }
                        }
                        None if broken.contains(&n.value) => {}
                        None => {
                            let help = suggest_name(&n.value, &id_list, "step");
                            diags
                                .error(format!("`needs` names unknown step `{}`", n.value), n.span)
                                .help = Some(help);
                        }
                    }
                }
            }
        }
        deps.push(d);
    }
    let dag = match Dag::build(deps) {
        Ok(dag) => Some(dag),
        Err(cycles) => {
            for cycle in cycles {
                let mut names: Vec<&str> = cycle.iter().map(|&i| raws[i].0.id.value.as_str()).collect();
                names.push(names[0]);
                let first = raws[cycle[0]].0;
                // Point at the `needs` entry that closes the cycle.
                let closing = names[1];
                let span = first
                    .needs
                    .as_ref()
                    .and_then(|n| n.value.iter().find(|e| e.value == closing).map(|e| e.span))
                    .unwrap_or(first.id.span);
                let msg = if cycle.len() == 1 {
                    format!("step `{}` needs itself", names[0])
                } else {
                    format!("dependency cycle: {}", names.join(" -> "))
                };
                diags.error(msg, span).help =
                    Some("each step needs the next one in this list; remove one of these `needs`".into());
            }
            None
        }
    };
    StepList {
        list,
        raws,
        ids,
        broken,
        dag,
    }
}

/// Ids are shared by the three lists: an `on_failure` or `finally` step may not reuse a
/// main step's id (templates name steps by id alone).
pub(super) fn check_shared_ids(main: &StepList, others: [&StepList; 2], diags: &mut Diags) {
    for list in others {
        let other = list.list.key();
        for (raw, _) in &list.raws {
            if main.ids.contains_key(&raw.id.value) {
                diags
                    .error(
                        format!("step id `{}` is already used in `steps`", raw.id.value),
                        raw.id.span,
                    )
                    .help = Some(format!(
                    "ids are shared by `steps`, `on_failure` and `finally` ({other})"
                ));
            }
        }
    }
}

impl StepList<'_> {
    /// Whether the step at `i` of this list may read `steps.{id}`. Main steps may read the
    /// steps they (transitively) need; on_failure and finally steps run after the main ones
    /// and may read any of them, and their own ancestors.
    pub(super) fn may_read(&self, main: &StepList, i: usize, id: &str) -> Result<(), String> {
        if self.list != List::Main && main.ids.contains_key(id) {
            return Ok(());
        }
        if self.broken.contains(id) || main.broken.contains(id) {
            return Ok(());
        }
        match self.ids.get(id) {
            None => {
                let mut known: Vec<&str> = self.ids.keys().map(String::as_str).collect();
                if self.list != List::Main {
                    known.extend(main.ids.keys().map(String::as_str));
                }
                known.sort();
                Err(format!(
                    "undefined step `steps.{id}` ({})",
                    suggest_name(id, &known, "step")
                ))
            }
            Some(&j) if j == i => Err(format!(
                "step `{id}` reads its own `steps.{id}`: use `result` in `until` and `outputs`"
            )),
            Some(&j) => match &self.dag {
                Some(dag) if !dag.is_ancestor(j, i) => Err(format!(
                    "`steps.{id}` is read, but `{id}` is not among this step's dependencies, so it may not have run yet: add it to `needs`"
                )),
                _ => Ok(()),
            },
        }
    }
}
