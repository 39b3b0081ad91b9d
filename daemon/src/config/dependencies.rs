//! Dependencies between programs (docs/extensions.md, Dependencies): `depends_on=` and the
//! options of the supervisord-dependent-startup plugin (`dependent_startup`,
//! `dependent_startup_wait_for`, `dependent_startup_inherit_priority`), read unchanged.
//!
//! Reading the options of one section is [`process_options`]; [`check`] then validates the
//! whole configuration: every name resolves (an unknown `depends_on` name is an error, an
//! unknown `dependent_startup_wait_for` name is dropped with a warning, as the plugin does)
//! and there is no cycle.

use std::collections::HashMap;

use supervisor_protocol::ProcessState;

use super::Ctx;
use crate::config::error::ConfigError;
use crate::config::expand::Expansions;
use crate::config::model::{DepTarget, Dependency, GroupConfig, GroupKind};
use crate::config::values::{self, py_repr};

/// The states `dependent_startup_wait_for` accepts (the plugin's list).
const WAIT_FOR_STATES: [ProcessState; 6] = [
    ProcessState::Starting,
    ProcessState::Running,
    ProcessState::Backoff,
    ProcessState::Stopping,
    ProcessState::Exited,
    ProcessState::Fatal,
];

/// What the dependency options of one `[program:x]` section say.
pub(super) struct DependencyOptions {
    pub dependencies: Vec<Dependency>,
    pub dependent_startup: bool,
    pub inherit_priority: bool,
}

/// Read `depends_on`, `dependent_startup`, `dependent_startup_wait_for` and
/// `dependent_startup_inherit_priority` of `section` (only `[program:x]` sections have them).
pub(super) fn process_options(
    ctx: &Ctx,
    section: &str,
    exp: &Expansions,
) -> Result<DependencyOptions, ConfigError> {
    let mut out = DependencyOptions {
        dependencies: Vec::new(),
        dependent_startup: false,
        inherit_priority: false,
    };
    if !section.starts_with("program:") {
        return Ok(out);
    }
    if let Some((text, v)) = ctx.get(section, "depends_on", exp)? {
        for spec in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let target = parse_target(spec).map_err(|e| {
                ctx.err(
                    section,
                    format!("invalid value for 'depends_on': {e}"),
                    Some(&v),
                )
            })?;
            out.dependencies.push(Dependency {
                spec: spec.to_string(),
                target,
                states: None,
            });
        }
    }
    out.dependent_startup = ctx.typed(
        section,
        "dependent_startup",
        exp,
        "false",
        values::parse_bool,
    )?;
    out.inherit_priority = ctx.typed(
        section,
        "dependent_startup_inherit_priority",
        exp,
        "false",
        values::parse_bool,
    )?;
    // The plugin ignores wait_for unless dependent_startup is set.
    if out.dependent_startup {
        if let Some((text, v)) = ctx.get(section, "dependent_startup_wait_for", exp)? {
            for spec in text.split_whitespace() {
                let dep = parse_wait_for(spec).map_err(|e| {
                    ctx.err(
                        section,
                        format!("invalid value for 'dependent_startup_wait_for': {e}"),
                        Some(&v),
                    )
                })?;
                out.dependencies.push(dep);
            }
        }
    }
    Ok(out)
}

/// `name`, `group:*`, `group:` or `group:process`.
fn parse_target(spec: &str) -> Result<DepTarget, String> {
    let bad = |why: &str| format!("{} {why}", py_repr(spec));
    let check = |part: &str| {
        if part.is_empty() || part.contains('/') {
            Err(bad("is not a program, group:* or group:process name"))
        } else {
            Ok(part.to_string())
        }
    };
    match spec.split_once(':') {
        None => Ok(DepTarget::Name(check(spec)?)),
        Some((g, "*" | "")) => Ok(DepTarget::Group(check(g)?)),
        Some((_, p)) if p.contains(':') => Err(bad("has more than one ':'")),
        Some((g, p)) => Ok(DepTarget::Process {
            group: check(g)?,
            name: check(p)?,
        }),
    }
}

/// The plugin's `service[:state[,state...]]`: the service is a `[program:x]` name, the states
/// (case-insensitive) default to `running`.
fn parse_wait_for(spec: &str) -> Result<Dependency, String> {
    let (name, states) = match spec.split_once(':') {
        None => (spec, vec![ProcessState::Running]),
        Some((name, list)) => {
            let mut states = Vec::new();
            for word in list.split(',') {
                let state = WAIT_FOR_STATES
                    .into_iter()
                    .find(|s| s.name().eq_ignore_ascii_case(word.trim()))
                    .ok_or_else(|| {
                        format!(
                            "unknown state {} in {} (use starting, running, backoff, stopping, \
                             exited or fatal)",
                            py_repr(word),
                            py_repr(spec)
                        )
                    })?;
                if !states.contains(&state) {
                    states.push(state);
                }
            }
            (name, states)
        }
    };
    if name.is_empty() || name.contains('/') {
        return Err(format!("{} does not name a program", py_repr(spec)));
    }
    Ok(Dependency {
        spec: spec.to_string(),
        target: DepTarget::Name(name.to_string()),
        states: Some(states),
    })
}

/// Where one process sits in the configuration.
struct Node {
    group: usize,
    process: usize,
}

/// Index of the configuration's processes by group name and by program name.
struct Index<'a> {
    groups: &'a [GroupConfig],
    nodes: Vec<Node>,
    by_group: HashMap<&'a str, Vec<usize>>,
    by_program: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(groups: &'a [GroupConfig]) -> Index<'a> {
        let mut index = Index {
            groups,
            nodes: Vec::new(),
            by_group: HashMap::new(),
            by_program: HashMap::new(),
        };
        for (gi, g) in groups.iter().enumerate() {
            for (pi, p) in g.processes.iter().enumerate() {
                let n = index.nodes.len();
                index.nodes.push(Node {
                    group: gi,
                    process: pi,
                });
                index.by_group.entry(g.name.as_str()).or_default().push(n);
                // Only [program:x] processes can be named by their program.
                if matches!(g.kind, GroupKind::Program | GroupKind::Heterogeneous) {
                    index
                        .by_program
                        .entry(p.program_name.as_str())
                        .or_default()
                        .push(n);
                }
            }
        }
        index
    }

    fn resolve(&self, target: &DepTarget) -> Vec<usize> {
        let found = match target {
            DepTarget::Name(n) => self
                .by_group
                .get(n.as_str())
                .or_else(|| self.by_program.get(n.as_str())),
            DepTarget::Group(g) => self.by_group.get(g.as_str()),
            DepTarget::Process { group, name } => {
                return self
                    .by_group
                    .get(group.as_str())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|n| self.process(*n).name == *name)
                    .collect()
            }
        };
        found.cloned().unwrap_or_default()
    }

    fn process(&self, n: usize) -> &'a crate::config::model::ProcessConfig {
        let node = &self.nodes[n];
        &self.groups[node.group].processes[node.process]
    }

    /// `program:x` for a process (the section its options come from).
    fn section(&self, n: usize) -> String {
        format!("program:{}", self.process(n).program_name)
    }
}

/// Validate the dependencies of the whole configuration: drop (with a warning) unknown
/// `dependent_startup_wait_for` names, refuse unknown `depends_on` names and cycles.
pub(super) fn check(
    ctx: &Ctx,
    groups: &mut [GroupConfig],
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    if !groups
        .iter()
        .flat_map(|g| &g.processes)
        .any(|p| !p.ext.dependencies.is_empty())
    {
        return Ok(());
    }
    // Unknown names first (they need the index of the unchanged configuration).
    let mut drop: Vec<(usize, usize, String)> = Vec::new();
    {
        let index = Index::new(groups);
        for n in 0..index.nodes.len() {
            let p = index.process(n);
            let section = index.section(n);
            for dep in &p.ext.dependencies {
                if !index.resolve(&dep.target).is_empty() {
                    continue;
                }
                if dep.states.is_some() {
                    let msg = format!(
                        "[{section}] dependent_startup_wait_for names unknown program {}: \
                         dependency ignored (as supervisord-dependent-startup does)",
                        py_repr(&dep.spec)
                    );
                    if !warnings.contains(&msg) {
                        warnings.push(msg);
                    }
                    drop.push((
                        index.nodes[n].group,
                        index.nodes[n].process,
                        dep.spec.clone(),
                    ));
                    continue;
                }
                let hint = match &dep.target {
                    DepTarget::Name(x) => format!("[program:{x}] or [group:{x}]"),
                    DepTarget::Group(g) => format!("[program:{g}] or [group:{g}]"),
                    DepTarget::Process { group, .. } => {
                        format!("a process of that name in group {}", py_repr(group))
                    }
                };
                return Err(ctx.err(
                    &section,
                    format!(
                        "invalid value for 'depends_on': {} names no program, group or process \
                         of this configuration (no {hint})",
                        py_repr(&dep.spec)
                    ),
                    ctx.ini.get(&section, "depends_on"),
                ));
            }
        }
    }
    for (gi, pi, spec) in drop {
        if let Some(p) = groups.get_mut(gi).and_then(|g| g.processes.get_mut(pi)) {
            p.ext.dependencies.retain(|d| d.spec != spec);
        }
    }
    let index = Index::new(groups);
    if let Some(cycle) = find_cycle(&index) {
        let first = cycle[0];
        let path: Vec<String> = cycle
            .iter()
            .chain(std::iter::once(&first))
            .map(|n| {
                let p = index.process(*n);
                if p.name == p.program_name {
                    format!("[{}]", index.section(*n))
                } else {
                    format!("[{}] ({})", index.section(*n), p.name)
                }
            })
            .collect();
        let section = index.section(first);
        let option = if index.process(first).ext.dependent_startup
            && ctx.ini.get(&section, "depends_on").is_none()
        {
            "dependent_startup_wait_for"
        } else {
            "depends_on"
        };
        return Err(ctx.err(
            &section,
            format!(
                "dependency cycle: {} (each one must start after the next; break the cycle)",
                path.join(" -> ")
            ),
            ctx.ini.get(&section, option),
        ));
    }
    Ok(())
}

/// A cycle of the dependency graph as a list of nodes (each depends on the next, the last on
/// the first), or `None`. Iterative depth-first search: linear in processes + edges.
fn find_cycle(index: &Index) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = index.nodes.len();
    let edges: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            index
                .process(i)
                .ext
                .dependencies
                .iter()
                .flat_map(|d| index.resolve(&d.target))
                .collect()
        })
        .collect();
    let mut mark = vec![Mark::New; n];
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, next edge to look at)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Open;
        while let Some(top) = stack.last_mut() {
            let (node, i) = *top;
            match edges[node].get(i) {
                Some(&next) => {
                    top.1 += 1;
                    match mark[next] {
                        Mark::New => {
                            mark[next] = Mark::Open;
                            stack.push((next, 0));
                        }
                        Mark::Open => {
                            let start = stack.iter().position(|(m, _)| *m == next).unwrap_or(0);
                            return Some(stack[start..].iter().map(|(m, _)| *m).collect());
                        }
                        Mark::Done => {}
                    }
                }
                None => {
                    mark[node] = Mark::Done;
                    stack.pop();
                }
            }
        }
    }
    None
}
