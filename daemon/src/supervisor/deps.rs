//! Dependencies between processes (extension, docs/extensions.md "Dependencies"): may a
//! waiting start go ahead, and in which order are groups stopped. Pure functions of process
//! states, no I/O and no clock; [`crate::supervisor::core::Core`] resolves the names and acts
//! on the answers.

use std::collections::BinaryHeap;

use supervisor_protocol::ProcessState;

use crate::config::model::Dependency;
use crate::process::state::Process;

/// The answer for a start that waits for its dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Every dependency is satisfied: start now.
    Open,
    /// Some are not yet: keep waiting (the text says for what, for status and the log).
    Wait(String),
    /// One failed for good (FATAL, no retry pending): do not start (the text says why).
    Blocked(String),
}

/// The option a dependency comes from, for messages.
pub fn option_name(dep: &Dependency) -> &'static str {
    if dep.states.is_some() {
        "dependent_startup_wait_for"
    } else {
        "depends_on"
    }
}

/// Whether `target` satisfies `dep` now. `depends_on`: RUNNING (which means ready when it has
/// a readiness check), or EXITED with an expected exit code (a one-shot job that finished).
/// `dependent_startup_wait_for`: it has been in one of the listed states since supervisord
/// started, as the plugin counts the events it has seen.
pub fn satisfied(dep: &Dependency, target: &Process) -> bool {
    match &dep.states {
        None => target.state() == ProcessState::Running || target.exited_expectedly(),
        Some(states) => states.iter().any(|s| target.has_reached(*s)),
    }
}

/// Whether `target` failed for good as far as `dep` is concerned: FATAL with no
/// `retry_fatal_after` start pending, and not already satisfying the dependency.
pub fn failed(dep: &Dependency, target: &Process) -> bool {
    target.state() == ProcessState::Fatal
        && target.scheduled_start().is_none()
        && !satisfied(dep, target)
}

/// The gate of `p`, given the processes each of its dependencies names (`targets(i)` for the
/// `i`-th dependency; empty when the name matches nothing loaded, e.g. after a group removal).
pub fn gate<'a>(p: &Process, mut targets: impl FnMut(usize) -> Vec<&'a Process>) -> Gate {
    let mut waiting: Vec<String> = Vec::new();
    for (i, dep) in p.config.ext.dependencies.iter().enumerate() {
        let found = targets(i);
        if found.is_empty() {
            waiting.push(format!("{} (not loaded)", dep.spec));
            continue;
        }
        for t in found {
            if satisfied(dep, t) {
                continue;
            }
            if failed(dep, t) {
                return Gate::Blocked(format!(
                    "dependency {} is FATAL ({})",
                    t.namespec(),
                    option_name(dep)
                ));
            }
            let what = match &dep.states {
                None => t.namespec(),
                Some(states) => {
                    let names: Vec<String> =
                        states.iter().map(|s| s.name().to_lowercase()).collect();
                    format!("{}:{}", t.namespec(), names.join(","))
                }
            };
            if !waiting.contains(&what) {
                waiting.push(what);
            }
        }
    }
    if waiting.is_empty() {
        Gate::Open
    } else {
        Gate::Wait(format!("waiting for dependencies: {}", waiting.join(", ")))
    }
}

/// The order in which shutdown stops `n` groups: Supervisor's (highest index, i.e. highest
/// (priority, name), first), except that a group is stopped only after every group that
/// depends on it (`edges` holds `(dependant, dependency)` pairs of group indexes). Groups
/// caught in a cycle between groups (possible with `[group:x]` even when processes have none)
/// come last, highest index first. Kahn's algorithm: O((n + edges) log n).
pub fn group_stop_order(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    // dependants still up, per group; and for each group, the groups it depends on.
    let mut up_dependants = vec![0usize; n];
    let mut dependencies: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(dependant, dependency) in edges {
        if dependant == dependency || dependant >= n || dependency >= n {
            continue;
        }
        up_dependants[dependency] += 1;
        dependencies[dependant].push(dependency);
    }
    let mut ready: BinaryHeap<usize> = (0..n).filter(|i| up_dependants[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while let Some(g) = ready.pop() {
        order.push(g);
        placed[g] = true;
        for &d in &dependencies[g] {
            up_dependants[d] -= 1;
            if up_dependants[d] == 0 {
                ready.push(d);
            }
        }
    }
    order.extend((0..n).rev().filter(|g| !placed[*g]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_edges_the_highest_index_stops_first() {
        assert_eq!(group_stop_order(4, &[]), vec![3, 2, 1, 0]);
    }

    #[test]
    fn dependants_stop_before_their_dependencies() {
        // 0 depends on 3, 1 depends on 0: 3 waits for 0, 0 waits for 1.
        assert_eq!(group_stop_order(4, &[(0, 3), (1, 0)]), vec![2, 1, 0, 3]);
    }

    #[test]
    fn a_cycle_between_groups_goes_last() {
        assert_eq!(group_stop_order(3, &[(0, 1), (1, 0)]), vec![2, 1, 0]);
    }
}
