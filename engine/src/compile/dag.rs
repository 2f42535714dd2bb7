//! The step DAG: topological order, waves of steps that can run together, whole-cycle
//! reports, and ancestor queries.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// A DAG over steps `0..n`; `deps[i]` are the steps step `i` needs.
#[derive(Debug, Clone)]
pub struct Dag {
    pub deps: Vec<Vec<usize>>,
    /// Steps in an order where every step comes after what it needs (stable: written order
    /// wins among ready steps).
    pub order: Vec<usize>,
    /// Position of each step in `order`.
    pub position: Vec<usize>,
    /// Wave of each step: 0 for steps that need nothing, else 1 + the highest wave needed.
    pub wave: Vec<usize>,
}

impl Dag {
    /// Builds the DAG, or returns every cycle as a list of steps (`a needs b needs … a`).
    pub fn build(deps: Vec<Vec<usize>>) -> Result<Dag, Vec<Vec<usize>>> {
        let n = deps.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut missing: Vec<usize> = vec![0; n];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
                missing[i] += 1;
            }
        }
        // Kahn's algorithm with a min-heap so the order follows the file among ready steps.
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> =
            (0..n).filter(|&i| missing[i] == 0).map(std::cmp::Reverse).collect();
        let mut order = Vec::with_capacity(n);
        let mut wave = vec![0usize; n];
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &j in &dependents[i] {
                wave[j] = wave[j].max(wave[i] + 1);
                missing[j] -= 1;
                if missing[j] == 0 {
                    ready.push(std::cmp::Reverse(j));
                }
            }
        }
        if order.len() < n {
            return Err(cycles(&deps));
        }
        let mut position = vec![0; n];
        for (p, &i) in order.iter().enumerate() {
            position[i] = p;
        }
        Ok(Dag {
            deps,
            order,
            position,
            wave,
        })
    }

    /// Steps grouped by wave, each wave in written order.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let count = self.wave.iter().max().map(|m| m + 1).unwrap_or(0);
        let mut waves = vec![Vec::new(); count];
        for (i, &w) in self.wave.iter().enumerate() {
            waves[w].push(i);
        }
        waves
    }

    /// Does `step` (transitively) need `ancestor`? Walks back from `step`, pruning every step
    /// that comes before `ancestor` in the order, so far-apart queries stay cheap.
    pub fn is_ancestor(&self, ancestor: usize, step: usize) -> bool {
        if ancestor == step || self.position[ancestor] > self.position[step] {
            return false;
        }
        let limit = self.position[ancestor];
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![step];
        while let Some(s) = stack.pop() {
            for &d in &self.deps[s] {
                if d == ancestor {
                    return true;
                }
                if self.position[d] > limit && seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        false
    }
}

/// Every cycle, each as the steps around it starting from its first-written step.
fn cycles(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(deps.len(), deps.len());
    let nodes: Vec<NodeIndex> = (0..deps.len()).map(|i| g.add_node(i)).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            g.add_edge(nodes[i], nodes[d], ());
        }
    }
    let mut out = Vec::new();
    for scc in tarjan_scc(&g) {
        let members: std::collections::HashSet<usize> = scc.iter().map(|n| g[*n]).collect();
        let start = *members.iter().min().unwrap_or(&0);
        let self_loop = deps[start].contains(&start);
        if members.len() < 2 && !self_loop {
            continue;
        }
        out.push(path_back(deps, &members, start));
    }
    out.sort();
    out
}

/// The shortest walk along `needs` edges from `start` back to itself inside one component.
fn path_back(deps: &[Vec<usize>], members: &std::collections::HashSet<usize>, start: usize) -> Vec<usize> {
    let mut prev: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(s) = queue.pop_front() {
        for &d in &deps[s] {
            if !members.contains(&d) {
                continue;
            }
            if d == start {
                let mut path = vec![s];
                let mut cur = s;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(d) {
                e.insert(s);
                queue.push_back(d);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_group_independent_steps() {
        // 0 → {1, 2} → 3 (a diamond)
        let dag = Dag::build(vec![vec![], vec![0], vec![0], vec![1, 2]]).unwrap();
        assert_eq!(dag.waves(), vec![vec![0], vec![1, 2], vec![3]]);
        assert!(dag.is_ancestor(0, 3));
        assert!(!dag.is_ancestor(1, 2));
        assert!(!dag.is_ancestor(3, 0));
    }

    #[test]
    fn a_cycle_is_reported_whole() {
        // 0 needs 2, 1 needs 0, 2 needs 1: 0 -> 2 -> 1 -> 0
        let err = Dag::build(vec![vec![2], vec![0], vec![1], vec![]]).unwrap_err();
        assert_eq!(err, vec![vec![0, 2, 1]]);
        let self_loop = Dag::build(vec![vec![0]]).unwrap_err();
        assert_eq!(self_loop, vec![vec![0]]);
    }
}
