//! The pure decision core of supervisord: every group and process, the daemon's mood, namespec
//! resolution and shutdown sequencing (upstream `supervisord.py` `Supervisor` + `ProcessGroup`).
//!
//! Like [`crate::process::state`], nothing here performs I/O or reads a clock. Every call returns
//! the actions to carry out, each tagged with the process it concerns (`None` for daemon-level
//! log lines such as `reaped unknown pid ...` or `waiting for ... to die`).
//!
//! Runtime contract: call [`Core::tick`] at startup, after every input (reap, spawn outcome,
//! command, group added) and whenever [`Core::next_deadline`] passes. Ticking more often never
//! changes the outcome. Autostart is not timed: it happens on the first tick, or, with a spawn
//! budget ([`Core::set_spawn_budget`]), over the first ticks: each tick starts at most that many
//! processes in priority order and [`Core::next_deadline`] asks for the next tick at once, so
//! the runtime can answer its clients between two batches of a large start-up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use supervisor_protocol::{ProcessState, SupervisorState};

use crate::config::model::{DepTarget, GroupConfig, GroupKind};
use crate::logs::LogLevel;
use crate::process::state::{
    mood_allows_starts, Action, CheckKind, CommandError, ExitStatus, Process,
};
use crate::supervisor::deps::{self, Gate};

/// How often `waiting for <names> to die` may be logged during shutdown (upstream: every 3 s).
const SHUTDOWN_REPORT_INTERVAL: Duration = Duration::from_secs(3);

/// A stable handle on one process. Keys are never reused, so a key held across a group removal
/// simply stops resolving instead of pointing at another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcKey(u64);

impl fmt::Display for ProcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Actions to carry out in order, each with the process it concerns (`None`: the daemon itself).
pub type Output = Vec<(Option<ProcKey>, Action)>;

/// What a namespec designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `name` or `group:name`: one process.
    Process(ProcKey),
    /// `group:` or `group:*`: every process of the group, in priority order.
    Group { name: String, members: Vec<ProcKey> },
}

impl Target {
    pub fn keys(&self) -> Vec<ProcKey> {
        match self {
            Target::Process(k) => vec![*k],
            Target::Group { members, .. } => members.clone(),
        }
    }
}

/// Per-process outcome of a group or all-processes command, plus the actions to carry out.
/// Results come in priority order and only for the processes the command applies to (start:
/// not running; stop: running; signal: signallable), as upstream's `make_allfunc`.
#[derive(Debug, Default)]
pub struct Batch {
    pub results: Vec<(ProcKey, Result<(), CommandError>)>,
    pub actions: Output,
}

/// A read-only view of one group.
#[derive(Debug, Clone, Copy)]
pub struct GroupView<'a> {
    pub name: &'a str,
    pub priority: i32,
    pub kind: &'a GroupKind,
    /// In (priority, name) order.
    pub members: &'a [ProcKey],
}

#[derive(Debug)]
struct Group {
    name: String,
    priority: i32,
    kind: GroupKind,
    /// In (priority, name) order.
    members: Vec<ProcKey>,
}

/// All process groups and the daemon's mood.
#[derive(Debug)]
pub struct Core {
    mood: SupervisorState,
    /// In (priority, name) order: the order of transitions and of all-process commands.
    groups: Vec<Group>,
    procs: BTreeMap<ProcKey, Process>,
    /// Live children (upstream `pidhistory`), so a reap finds its process.
    pids: HashMap<i32, ProcKey>,
    next_key: u64,
    /// During shutdown: names of the groups still to stop, ascending; the last one is being
    /// stopped (upstream `stop_groups`). `None` while running.
    stop_queue: Option<Vec<String>>,
    last_shutdown_report: Option<Instant>,
    /// Set when an `essential` / `exit_on_fatal` process (extension) ended the daemon: the
    /// shutdown is under way and supervisord exits with this code.
    exit_code: Option<i32>,
    /// At most this many starts per [`Core::tick`].
    spawn_budget: usize,
    /// The last tick left starts for later (budget spent): when it ran.
    deferred_since: Option<Instant>,
    /// Some process has dependencies (extension): the start gates and the dependency-aware
    /// stop order are in use. False for every stock configuration.
    has_dependencies: bool,
}

impl Core {
    /// All groups, processes STOPPED and never started, mood RUNNING.
    pub fn new(groups: Vec<GroupConfig>) -> Core {
        let mut core = Core {
            mood: SupervisorState::Running,
            groups: Vec::new(),
            procs: BTreeMap::new(),
            pids: HashMap::new(),
            next_key: 0,
            stop_queue: None,
            last_shutdown_report: None,
            exit_code: None,
            spawn_budget: usize::MAX,
            deferred_since: None,
            has_dependencies: false,
        };
        for g in groups {
            // Duplicate names cannot come from a validated config; keep the first.
            let _ = core.insert_group(g);
        }
        core
    }

    pub fn mood(&self) -> SupervisorState {
        self.mood
    }

    /// [`Process::scheduled_start`] of `key`, unless the daemon's mood forbids starts (during
    /// a shutdown or restart the put-off start will not happen).
    pub fn scheduled_start(&self, key: ProcKey) -> Option<Instant> {
        if !mood_allows_starts(self.mood) {
            return None;
        }
        self.procs.get(&key).and_then(Process::scheduled_start)
    }

    /// The exit code an `essential` / `exit_on_fatal` process (extension) has set; when it is
    /// `Some`, the core has begun a shutdown on its own.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }

    /// Let each [`Core::tick`] start at most `budget` processes (at least one); the others wait
    /// for the next tick, which [`Core::next_deadline`] then asks for at once. Unlimited by
    /// default. The order of starts is unchanged: priority order, as in one pass.
    pub fn set_spawn_budget(&mut self, budget: usize) {
        self.spawn_budget = budget.max(1);
    }

    /// The last tick left automatic starts for the next one (spawn budget spent).
    pub fn starts_deferred(&self) -> bool {
        self.deferred_since.is_some()
    }

    pub fn process(&self, key: ProcKey) -> Option<&Process> {
        self.procs.get(&key)
    }

    /// Every process in priority order: groups by (priority, name), then their processes.
    pub fn processes(&self) -> impl Iterator<Item = (ProcKey, &Process)> + '_ {
        self.groups.iter().flat_map(move |g| {
            g.members
                .iter()
                .filter_map(move |k| self.procs.get(k).map(|p| (*k, p)))
        })
    }

    /// Every group in (priority, name) order.
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> + '_ {
        self.groups.iter().map(|g| GroupView {
            name: &g.name,
            priority: g.priority,
            kind: &g.kind,
            members: &g.members,
        })
    }

    pub fn group_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.groups.iter().map(|g| g.name.as_str())
    }

    pub fn group(&self, name: &str) -> Option<GroupView<'_>> {
        self.groups().find(|g| g.name == name)
    }

    pub fn find_by_pid(&self, pid: i32) -> Option<ProcKey> {
        self.pids.get(&pid).copied()
    }

    /// Resolve a namespec (upstream-reference §4.3): `name` (group and process both `name`), `group:name`,
    /// `group:` or `group:*`. Anything unknown is BAD_NAME with the namespec as given.
    pub fn resolve_target(&self, namespec: &str) -> Result<Target, CommandError> {
        let bad = || CommandError::BadName(namespec.to_string());
        let (group_name, process_name) = supervisor_protocol::names::split_namespec(namespec);
        let group = self
            .groups
            .iter()
            .find(|g| g.name == group_name)
            .ok_or_else(bad)?;
        match process_name {
            None => Ok(Target::Group {
                name: group.name.clone(),
                members: group.members.clone(),
            }),
            Some(p) => group
                .members
                .iter()
                .find(|k| self.procs.get(k).is_some_and(|proc_| proc_.name() == p))
                .map(|k| Target::Process(*k))
                .ok_or_else(bad),
        }
    }

    /// [`Core::resolve_target`] flattened to keys.
    pub fn resolve(&self, namespec: &str) -> Result<Vec<ProcKey>, CommandError> {
        self.resolve_target(namespec).map(|t| t.keys())
    }

    /// One main-loop pass: shutdown progression, then `transition()` of every process in
    /// priority order.
    pub fn tick(&mut self, now: Instant) -> Output {
        let mut out = Vec::new();
        self.advance_shutdown(now, &mut out);
        self.shutdown_report(now, &mut out);
        let mut budget = self.spawn_budget;
        self.deferred_since = None;
        self.release_waiting_starts(now, &mut budget, &mut out);
        let keys: Vec<ProcKey> = self.processes().map(|(k, _)| k).collect();
        for key in keys {
            let mood = self.mood;
            if let Some(p) = self.procs.get_mut(&key) {
                if budget == 0 && may_start_from(p.state()) {
                    // Its tick could start it: leave it for the next tick. Such a tick does
                    // nothing else that cannot wait one loop iteration.
                    self.deferred_since = Some(now);
                    continue;
                }
                let from = out.len();
                tag(&mut out, key, p.tick(now, mood));
                let spawns = out[from..]
                    .iter()
                    .filter(|(_, a)| matches!(a, Action::Spawn))
                    .count();
                budget = budget.saturating_sub(spawns);
                self.watch_essential(from, now, &mut out);
            }
        }
        // A dependency that became RUNNING or FATAL in this pass releases or blocks its
        // dependants at once.
        self.release_waiting_starts(now, &mut budget, &mut out);
        self.advance_shutdown(now, &mut out);
        out
    }

    /// The earliest instant at which [`Core::tick`] would act on a timer, or `None`.
    pub fn next_deadline(&self) -> Option<Instant> {
        let running = mood_allows_starts(self.mood);
        let procs = self
            .procs
            .values()
            .filter(|p| running || !p.deadline_needs_running_mood())
            .filter_map(|p| p.next_deadline());
        let report = if self.stop_queue.is_some() && !self.all_stopped() {
            self.last_shutdown_report
                .map(|t| t + SHUTDOWN_REPORT_INTERVAL + Duration::from_nanos(1))
        } else {
            None
        };
        procs.chain(report).chain(self.deferred_since).min()
    }

    /// The fork for `key` succeeded.
    pub fn spawned(&mut self, key: ProcKey, pid: i32, now: Instant) -> Output {
        let mut out = Vec::new();
        if let Some(p) = self.procs.get_mut(&key) {
            self.pids.insert(pid, key);
            tag(&mut out, key, p.spawned(pid, now));
        }
        out
    }

    /// The spawn of `key` failed in the parent.
    pub fn spawn_failed(&mut self, key: ProcKey, message: String, now: Instant) -> Output {
        let mut out = Vec::new();
        if let Some(p) = self.procs.get_mut(&key) {
            tag(&mut out, key, p.spawn_failed(message, now));
        }
        self.advance_shutdown(now, &mut out);
        out
    }

    /// `kill()` for `key` failed with an unexpected errno.
    pub fn signal_error(&mut self, key: ProcKey, now: Instant, message: &str) -> Output {
        let mut out = Vec::new();
        if let Some(p) = self.procs.get_mut(&key) {
            tag(&mut out, key, p.signal_error(now, message));
        }
        self.advance_shutdown(now, &mut out);
        out
    }

    /// A child was reaped. An unknown pid is logged like upstream.
    pub fn reaped(&mut self, pid: i32, status: ExitStatus, now: Instant) -> Output {
        let mut out = Vec::new();
        let found = self
            .pids
            .remove(&pid)
            .and_then(|key| self.procs.get_mut(&key).map(|p| (key, p)));
        match found {
            Some((key, p)) if p.pid() == Some(pid) => {
                tag(&mut out, key, p.exited(status, now));
                self.watch_essential(0, now, &mut out);
            }
            _ => out.push((
                None,
                Action::Log {
                    level: LogLevel::Info,
                    message: format!("reaped unknown pid {pid} ({})", status.message()),
                },
            )),
        }
        self.advance_shutdown(now, &mut out);
        out
    }

    /// Extension (`ready_check=` / `health_check=`): the result of one check of the run with
    /// `pid` (a result for an earlier run is dropped).
    pub fn check_result(
        &mut self,
        key: ProcKey,
        pid: i32,
        kind: CheckKind,
        ok: bool,
        detail: &str,
        now: Instant,
    ) -> Output {
        let mut out = Vec::new();
        if let Some(p) = self.procs.get_mut(&key) {
            if p.pid() == Some(pid) {
                tag(&mut out, key, p.check_result(kind, ok, detail, now));
            }
        }
        out
    }

    /// Extension (`notify` checks): a `STATUS=` text from the run with `pid`.
    pub fn notify_status(&mut self, key: ProcKey, pid: i32, text: String) {
        if let Some(p) = self.procs.get_mut(&key) {
            if p.pid() == Some(pid) {
                p.set_notify_status(text);
            }
        }
    }

    /// `startProcess` for one process. SHUTDOWN_STATE unless the mood is RUNNING.
    ///
    /// Extension (dependencies): a process whose dependencies are not up waits for them
    /// (STOPPED, `start_waiting`), and those that are not running are started first.
    pub fn start(&mut self, key: ProcKey, now: Instant) -> Result<Output, CommandError> {
        self.check_running()?;
        let mut out = Vec::new();
        self.start_one(key, now, &mut out)?;
        Ok(out)
    }

    /// Start `key` now, or (extension) make it wait for its dependencies and start those.
    fn start_one(
        &mut self,
        key: ProcKey,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CommandError> {
        let p = self.proc_mut(key)?;
        if !p.has_dependencies() {
            tag(out, key, p.start(now)?);
            return Ok(());
        }
        let index = self.dep_index();
        let note = match self.gate_of(&index, key) {
            Gate::Open => {
                tag(out, key, self.proc_mut(key)?.start(now)?);
                return Ok(());
            }
            Gate::Wait(note) | Gate::Blocked(note) => note,
        };
        let actions = self.proc_mut(key)?.request_start_after_dependencies(note)?;
        tag(out, key, actions);
        // Start what it needs (and what those need), each at most once.
        let mut stack = vec![key];
        let mut seen: HashSet<ProcKey> = HashSet::from([key]);
        while let Some(k) = stack.pop() {
            for t in self.unsatisfied_targets(&index, k) {
                if !seen.insert(t) {
                    continue;
                }
                let Some(tp) = self.procs.get(&t) else {
                    continue;
                };
                let state = tp.state();
                if state.is_running()
                    || matches!(state, ProcessState::Stopping | ProcessState::Unknown)
                {
                    continue;
                }
                if tp.start_waiting() {
                    stack.push(t);
                    continue;
                }
                let waits = tp.has_dependencies() && self.gate_of(&index, t) != Gate::Open;
                let Some(tp) = self.procs.get_mut(&t) else {
                    continue;
                };
                if waits {
                    if let Ok(actions) = tp
                        .request_start_after_dependencies(String::from("waiting for dependencies"))
                    {
                        tag(out, t, actions);
                    }
                    stack.push(t);
                } else if let Ok(actions) = tp.start(now) {
                    tag(out, t, actions);
                }
            }
        }
        Ok(())
    }

    /// `stopProcess` for one process. SHUTDOWN_STATE unless the mood is RUNNING.
    pub fn stop(&mut self, key: ProcKey, now: Instant) -> Result<Output, CommandError> {
        self.check_running()?;
        let p = self.proc_mut(key)?;
        let actions = p.stop(now)?;
        Ok(tagged(key, actions))
    }

    /// `signalProcess` for one process. SHUTDOWN_STATE unless the mood is RUNNING.
    pub fn signal(&mut self, key: ProcKey, sig: i32) -> Result<Output, CommandError> {
        self.check_running()?;
        let p = self.proc_mut(key)?;
        let actions = p.signal(sig)?;
        Ok(tagged(key, actions))
    }

    /// `waiting for <name> to stop` (throttled), for waiting stop requests.
    pub fn stop_report(&mut self, key: ProcKey, now: Instant) -> Output {
        match self.procs.get_mut(&key) {
            Some(p) => tagged(key, p.stop_report(now)),
            None => Vec::new(),
        }
    }

    /// `startAllProcesses`: every process not in a running state, in priority order.
    pub fn start_all(&mut self, now: Instant) -> Result<Batch, CommandError> {
        self.check_running()?;
        let keys: Vec<ProcKey> = self.processes().map(|(k, _)| k).collect();
        Ok(self.batch(keys, now, BatchOp::Start))
    }

    /// `stopAllProcesses`: every process in a running state, in priority order (upstream's RPC
    /// goes in ascending priority here; only the shutdown sequence goes in descending order).
    pub fn stop_all(&mut self, now: Instant) -> Result<Batch, CommandError> {
        self.check_running()?;
        let keys: Vec<ProcKey> = self.processes().map(|(k, _)| k).collect();
        Ok(self.batch(keys, now, BatchOp::Stop))
    }

    /// `signalAllProcesses`: every signallable process, in priority order.
    pub fn signal_all(&mut self, sig: i32, now: Instant) -> Result<Batch, CommandError> {
        self.check_running()?;
        let keys: Vec<ProcKey> = self.processes().map(|(k, _)| k).collect();
        Ok(self.batch(keys, now, BatchOp::Signal(sig)))
    }

    /// `startProcessGroup`; BAD_NAME for an unknown group.
    pub fn start_group(&mut self, name: &str, now: Instant) -> Result<Batch, CommandError> {
        self.check_running()?;
        let keys = self.group_keys(name)?;
        Ok(self.batch(keys, now, BatchOp::Start))
    }

    /// `stopProcessGroup`; BAD_NAME for an unknown group.
    pub fn stop_group(&mut self, name: &str, now: Instant) -> Result<Batch, CommandError> {
        self.check_running()?;
        let keys = self.group_keys(name)?;
        Ok(self.batch(keys, now, BatchOp::Stop))
    }

    /// `signalProcessGroup`; BAD_NAME for an unknown group.
    pub fn signal_group(
        &mut self,
        name: &str,
        sig: i32,
        now: Instant,
    ) -> Result<Batch, CommandError> {
        self.check_running()?;
        let keys = self.group_keys(name)?;
        Ok(self.batch(keys, now, BatchOp::Signal(sig)))
    }

    /// Enter SHUTDOWN (or RESTARTING) and start stopping groups one at a time, highest priority
    /// first (upstream-reference §3.8). A restart request during a shutdown is ignored (upstream ignores SIGHUP
    /// then); a shutdown request during a restart turns it into a shutdown.
    pub fn begin_shutdown(&mut self, now: Instant, restart: bool) -> Output {
        let mut out = Vec::new();
        match (self.mood, restart) {
            (SupervisorState::Shutdown, true) => return out,
            (_, true) => self.mood = SupervisorState::Restarting,
            (_, false) => self.mood = SupervisorState::Shutdown,
        }
        if self.stop_queue.is_none() {
            self.stop_queue = Some(self.stop_order());
        }
        self.advance_shutdown(now, &mut out);
        self.shutdown_report(now, &mut out);
        out
    }

    /// Shutting down and every process is in a stopped state: supervisord may exit or reload.
    pub fn shutdown_complete(&self) -> bool {
        self.stop_queue.is_some() && self.all_stopped()
    }

    /// `addProcessGroup`: ALREADY_ADDED if a group of that name exists. Its autostart processes
    /// start on the next tick.
    pub fn add_group(&mut self, config: GroupConfig) -> Result<(), CommandError> {
        self.check_running()?;
        self.insert_group(config)
    }

    /// `removeProcessGroup`: BAD_NAME if unknown, STILL_RUNNING if any process is outside the
    /// stopped states. Returns the group's configuration.
    pub fn remove_group(&mut self, name: &str) -> Result<GroupConfig, CommandError> {
        self.check_running()?;
        let idx = self
            .groups
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| CommandError::BadName(name.to_string()))?;
        let running = self.groups[idx]
            .members
            .iter()
            .any(|k| self.procs.get(k).is_some_and(|p| !p.state().is_stopped()));
        if running {
            return Err(CommandError::StillRunning(name.to_string()));
        }
        let group = self.groups.remove(idx);
        let mut processes = Vec::with_capacity(group.members.len());
        for key in &group.members {
            if let Some(p) = self.procs.remove(key) {
                // An UNKNOWN process may still own a pid; its reap becomes "unknown pid".
                if let Some(pid) = p.pid() {
                    self.pids.remove(&pid);
                }
                processes.push(p.config);
            }
        }
        Ok(GroupConfig {
            name: group.name,
            priority: group.priority,
            kind: group.kind,
            processes,
        })
    }

    fn insert_group(&mut self, config: GroupConfig) -> Result<(), CommandError> {
        if self.groups.iter().any(|g| g.name == config.name) {
            return Err(CommandError::AlreadyAdded(config.name));
        }
        let mut processes = config.processes;
        processes.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        let mut members = Vec::with_capacity(processes.len());
        for pc in processes {
            self.has_dependencies |= !pc.ext.dependencies.is_empty() || pc.ext.dependent_startup;
            let key = ProcKey(self.next_key);
            self.next_key += 1;
            self.procs.insert(key, Process::new(pc));
            members.push(key);
        }
        let group = Group {
            name: config.name,
            priority: config.priority,
            kind: config.kind,
            members,
        };
        let pos = self
            .groups
            .partition_point(|g| (g.priority, &g.name) < (group.priority, &group.name));
        self.groups.insert(pos, group);
        Ok(())
    }

    fn check_running(&self) -> Result<(), CommandError> {
        if self.mood == SupervisorState::Running {
            Ok(())
        } else {
            Err(CommandError::ShutdownState)
        }
    }

    fn proc_mut(&mut self, key: ProcKey) -> Result<&mut Process, CommandError> {
        self.procs
            .get_mut(&key)
            .ok_or_else(|| CommandError::BadName(key.to_string()))
    }

    fn group_keys(&self, name: &str) -> Result<Vec<ProcKey>, CommandError> {
        self.groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.members.clone())
            .ok_or_else(|| CommandError::BadName(name.to_string()))
    }

    fn batch(&mut self, keys: Vec<ProcKey>, now: Instant, op: BatchOp) -> Batch {
        let mut batch = Batch::default();
        for key in keys {
            let Some(p) = self.procs.get_mut(&key) else {
                continue;
            };
            let state = p.state();
            let result = match op {
                BatchOp::Start if !state.is_running() => {
                    let mut actions = Vec::new();
                    match self.start_one(key, now, &mut actions) {
                        Ok(()) => {
                            batch.actions.extend(actions);
                            batch.results.push((key, Ok(())));
                        }
                        Err(e) => batch.results.push((key, Err(e))),
                    }
                    continue;
                }
                BatchOp::Stop if state.is_running() => p.stop(now),
                // Extension: a FATAL process waiting for its retry_fatal_after start.
                BatchOp::Stop if state == ProcessState::Fatal && p.scheduled_start().is_some() => {
                    p.stop(now)
                }
                BatchOp::Signal(sig) if state.is_signallable() => p.signal(sig),
                _ => continue,
            };
            match result {
                Ok(actions) => {
                    tag(&mut batch.actions, key, actions);
                    batch.results.push((key, Ok(())));
                }
                Err(e) => batch.results.push((key, Err(e))),
            }
        }
        batch
    }

    /// Extension (dependencies): the processes `dependency` names, resolved against what is
    /// loaded now: `name` is the group `name` if there is one, else every process of the
    /// section `[program:name]`.
    fn dependency_targets(&self, index: &DepIndex, target: &DepTarget) -> Vec<ProcKey> {
        let group_members = |g: &str| index.groups.get(g).cloned();
        match target {
            DepTarget::Group(g) => group_members(g).unwrap_or_default(),
            DepTarget::Process { group, name } => group_members(group)
                .unwrap_or_default()
                .into_iter()
                .filter(|k| self.procs.get(k).is_some_and(|p| p.name() == name))
                .collect(),
            DepTarget::Name(n) => group_members(n)
                .or_else(|| index.programs.get(n.as_str()).cloned())
                .unwrap_or_default(),
        }
    }

    /// Extension (dependencies): group and program names to processes, built once per pass
    /// (O(processes)) so that resolving a dependency costs no scan.
    fn dep_index(&self) -> DepIndex {
        let mut index = DepIndex::default();
        for g in &self.groups {
            index.groups.insert(g.name.clone(), g.members.clone());
            // Only [program:x] processes are named by their section (as the config checks).
            if !matches!(g.kind, GroupKind::Program | GroupKind::Heterogeneous) {
                continue;
            }
            for k in &g.members {
                if let Some(p) = self.procs.get(k) {
                    index
                        .programs
                        .entry(p.config.program_name.clone())
                        .or_default()
                        .push(*k);
                }
            }
        }
        index
    }

    /// Extension (dependencies): may the waiting start of `key` go ahead?
    fn gate_of(&self, index: &DepIndex, key: ProcKey) -> Gate {
        let Some(p) = self.procs.get(&key) else {
            return Gate::Open;
        };
        deps::gate(p, |i| {
            p.config
                .ext
                .dependencies
                .get(i)
                .map(|d| {
                    self.dependency_targets(index, &d.target)
                        .into_iter()
                        .filter_map(|k| self.procs.get(&k))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Extension (dependencies): the processes `key` depends on that do not satisfy it yet.
    fn unsatisfied_targets(&self, index: &DepIndex, key: ProcKey) -> Vec<ProcKey> {
        let Some(p) = self.procs.get(&key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for dep in &p.config.ext.dependencies {
            for t in self.dependency_targets(index, &dep.target) {
                if self
                    .procs
                    .get(&t)
                    .is_some_and(|tp| !deps::satisfied(dep, tp))
                {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Extension (dependencies): start the waiting processes whose dependencies are up, and
    /// give up on those with a failed dependency. Only while the mood is RUNNING.
    /// Each start spends one of `budget` (the spawn budget of the tick); when it is spent the
    /// rest wait for the next tick.
    fn release_waiting_starts(&mut self, now: Instant, budget: &mut usize, out: &mut Output) {
        if !self.has_dependencies || !mood_allows_starts(self.mood) {
            return;
        }
        let waiting: Vec<ProcKey> = self
            .processes()
            .filter(|(_, p)| p.start_waiting())
            .map(|(k, _)| k)
            .collect();
        if waiting.is_empty() {
            return;
        }
        let index = self.dep_index();
        for key in waiting {
            // Decided one at a time: a start made here is seen by the next one.
            let gate = self.gate_of(&index, key);
            let Some(p) = self.procs.get_mut(&key) else {
                continue;
            };
            let actions = match gate {
                Gate::Open if *budget == 0 => {
                    self.deferred_since = Some(now);
                    break;
                }
                Gate::Open => {
                    *budget = budget.saturating_sub(1);
                    p.start_after_dependencies(now)
                }
                Gate::Wait(note) => p.wait_for_dependencies(note),
                Gate::Blocked(why) => p.dependency_failed(why),
            };
            tag(out, key, actions);
        }
    }

    /// The shutdown queue: group names, the last one stopped first. Supervisor's order is
    /// (priority, name) ascending; with dependencies (extension) a group is stopped only after
    /// the groups that depend on it.
    fn stop_order(&self) -> Vec<String> {
        if !self.has_dependencies {
            return self.groups.iter().map(|g| g.name.clone()).collect();
        }
        let group_of: HashMap<ProcKey, usize> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.members.iter().map(move |k| (*k, i)))
            .collect();
        let index = self.dep_index();
        let mut edges = Vec::new();
        for (key, p) in self.processes() {
            let Some(&from) = group_of.get(&key) else {
                continue;
            };
            for dep in &p.config.ext.dependencies {
                for t in self.dependency_targets(&index, &dep.target) {
                    if let Some(&to) = group_of.get(&t) {
                        edges.push((from, to));
                    }
                }
            }
        }
        // The queue is popped from its end.
        deps::group_stop_order(self.groups.len(), &edges)
            .into_iter()
            .rev()
            .filter_map(|i| self.groups.get(i).map(|g| g.name.clone()))
            .collect()
    }

    /// Extension (dependencies): the members of a group that must not be stopped yet because
    /// a member that depends on them is still up.
    fn held_by_dependants(&self, members: &[ProcKey]) -> HashSet<ProcKey> {
        let mut held = HashSet::new();
        if !self.has_dependencies {
            return held;
        }
        let with_deps = members.iter().any(|k| {
            self.procs
                .get(k)
                .is_some_and(|p| !p.config.ext.dependencies.is_empty() && !p.state().is_stopped())
        });
        if !with_deps {
            return held;
        }
        let index = self.dep_index();
        let in_group: HashSet<ProcKey> = members.iter().copied().collect();
        for key in members {
            let Some(p) = self.procs.get(key) else {
                continue;
            };
            if p.state().is_stopped() {
                continue;
            }
            for dep in &p.config.ext.dependencies {
                for t in self.dependency_targets(&index, &dep.target) {
                    if t != *key && in_group.contains(&t) {
                        held.insert(t);
                    }
                }
            }
        }
        held
    }

    fn all_stopped(&self) -> bool {
        self.procs.values().all(|p| p.state().is_stopped())
    }

    /// Extension `essential` / `exit_on_fatal` (docs/extensions.md, Containers): if one of the
    /// state changes in `out[from..]` is an essential process exiting (EXITED) or going FATAL,
    /// or an `exit_on_fatal` process going FATAL, log why, record the exit code and begin the
    /// shutdown. Only the first such event counts, and only while the mood is RUNNING.
    fn watch_essential(&mut self, from: usize, now: Instant, out: &mut Output) {
        if self.mood != SupervisorState::Running || self.exit_code.is_some() {
            return;
        }
        let trigger = out
            .get(from..)
            .unwrap_or_default()
            .iter()
            .find_map(|(key, a)| {
                let (Some(key), Action::StateChange(c)) = (key, a) else {
                    return None;
                };
                let p = self.procs.get(key)?;
                let ext = &p.config.ext;
                let fatal = c.to == ProcessState::Fatal && (ext.essential || ext.exit_on_fatal);
                let exited = c.to == ProcessState::Exited && ext.essential;
                (fatal || exited).then(|| (*key, c.to, p.last_status()))
            });
        let Some((key, to, status)) = trigger else {
            return;
        };
        let code = container_exit_code(to, status);
        let Some(p) = self.procs.get(&key) else {
            return;
        };
        let why = match (to, status) {
            (ProcessState::Fatal, _) => {
                let option = if p.config.ext.essential {
                    "essential"
                } else {
                    "exit_on_fatal"
                };
                format!("{} entered FATAL state ({option}=true)", p.name())
            }
            (_, Some(st)) => format!("essential {} exited ({})", p.name(), st.message()),
            (_, None) => format!("essential {} exited", p.name()),
        };
        out.push((
            Some(key),
            Action::Log {
                level: LogLevel::Critical,
                message: format!(
                    "{why}: stopping all processes, supervisord will exit with code {code}"
                ),
            },
        ));
        self.exit_code = Some(code);
        let actions = self.begin_shutdown(now, false);
        out.extend(actions);
    }

    /// Upstream `ordered_stop_groups_phase_1/2`: stop the highest-priority remaining group (its
    /// processes in descending priority; BACKOFF ones give up), and move on to the next group
    /// only once nothing in it is outside the stopped states.
    fn advance_shutdown(&mut self, now: Instant, out: &mut Output) {
        loop {
            let Some(name) = self.stop_queue.as_ref().and_then(|q| q.last()).cloned() else {
                return;
            };
            let members = match self.groups.iter().find(|g| g.name == name) {
                Some(g) => g.members.clone(),
                None => Vec::new(),
            };
            let mut unstopped = false;
            for key in &members {
                if let Some(p) = self.procs.get_mut(key) {
                    if p.state() == ProcessState::Backoff {
                        tag(out, *key, p.give_up(now));
                    }
                }
            }
            // Extension (dependencies): a process stops only after its dependants in the
            // same group (the group order took care of the other groups).
            let held = self.held_by_dependants(&members);
            for key in members.iter().rev() {
                let Some(p) = self.procs.get_mut(key) else {
                    continue;
                };
                match p.state() {
                    ProcessState::Running | ProcessState::Starting if held.contains(key) => {}
                    ProcessState::Running | ProcessState::Starting => {
                        if let Ok(actions) = p.stop(now) {
                            tag(out, *key, actions);
                        }
                    }
                    ProcessState::Backoff => tag(out, *key, p.give_up(now)),
                    _ => {}
                }
                unstopped |= !p.state().is_stopped();
            }
            if unstopped {
                return;
            }
            if let Some(q) = self.stop_queue.as_mut() {
                q.pop();
            }
        }
    }

    /// Upstream `shutdown_report`: INFO `waiting for a, b to die` at most every 3 s, with a
    /// BLATHER state line per process.
    fn shutdown_report(&mut self, now: Instant, out: &mut Output) {
        if self.stop_queue.is_none() {
            return;
        }
        let due = self
            .last_shutdown_report
            .is_none_or(|t| now.saturating_duration_since(t) > SHUTDOWN_REPORT_INTERVAL);
        if !due {
            return;
        }
        let unstopped: Vec<(ProcKey, &Process)> = self
            .processes()
            .filter(|(_, p)| !p.state().is_stopped())
            .collect();
        if unstopped.is_empty() {
            return;
        }
        let names: Vec<&str> = unstopped.iter().map(|(_, p)| p.name()).collect();
        let mut lines = vec![(
            None,
            Action::Log {
                level: LogLevel::Info,
                message: format!("waiting for {} to die", names.join(", ")),
            },
        )];
        for (key, p) in &unstopped {
            lines.push((
                Some(*key),
                Action::Log {
                    level: LogLevel::Blather,
                    message: format!("{} state: {}", p.name(), p.state()),
                },
            ));
        }
        out.extend(lines);
        self.last_shutdown_report = Some(now);
    }
}

/// Extension (dependencies): group names and program (section) names to their processes.
#[derive(Debug, Default)]
struct DepIndex {
    groups: HashMap<String, Vec<ProcKey>>,
    programs: HashMap<String, Vec<ProcKey>>,
}

#[derive(Debug, Clone, Copy)]
enum BatchOp {
    Start,
    Stop,
    Signal(i32),
}

/// supervisord's exit code when an essential / exit_on_fatal process ends it: the process's
/// exit code (0 included) when it EXITED, 128 + the signal number when a signal killed it, and
/// for FATAL its last non-zero exit code (or 128 + signal), else 1 (spawn errors, exit 0).
pub fn container_exit_code(to: ProcessState, status: Option<ExitStatus>) -> i32 {
    match (to, status) {
        (_, Some(ExitStatus::Signaled { signal, .. })) => 128 + signal,
        (ProcessState::Exited, Some(ExitStatus::Code(c))) => c,
        (_, Some(ExitStatus::Code(c))) if c != 0 => c,
        _ => 1,
    }
}

/// States whose tick may start the process (autostart, autorestart, retries).
fn may_start_from(state: ProcessState) -> bool {
    matches!(
        state,
        ProcessState::Stopped | ProcessState::Exited | ProcessState::Backoff | ProcessState::Fatal
    )
}

fn tag(out: &mut Output, key: ProcKey, actions: Vec<Action>) {
    out.extend(actions.into_iter().map(|a| (Some(key), a)));
}

fn tagged(key: ProcKey, actions: Vec<Action>) -> Output {
    actions.into_iter().map(|a| (Some(key), a)).collect()
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "deps_tests.rs"]
mod deps_tests;
