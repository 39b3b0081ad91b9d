//! Unit tests of the core (groups, namespecs, ordering, shutdown sequencing), fake clock.

use std::time::{Duration, Instant};

use supervisor_protocol::{ProcessState as S, SupervisorState};

use super::*;
use crate::config::model::{GroupConfig, GroupKind, ProcessConfig};
use crate::process::state::tests::config;
use crate::process::state::{Action, CommandError, ExitStatus};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A homogeneous group: `[program:<name>]` with `priority`.
fn program(name: &str, priority: i32) -> GroupConfig {
    let mut pc = config(name, name);
    pc.priority = priority;
    GroupConfig {
        name: name.to_string(),
        priority,
        kind: GroupKind::Program,
        processes: vec![pc],
    }
}

/// A `[group:<name>]` with processes given as (name, priority).
fn hetero(name: &str, priority: i32, procs: &[(&str, i32)]) -> GroupConfig {
    let processes: Vec<ProcessConfig> = procs
        .iter()
        .map(|(p, prio)| {
            let mut pc = config(name, p);
            pc.priority = *prio;
            pc
        })
        .collect();
    GroupConfig {
        name: name.to_string(),
        priority,
        kind: GroupKind::Heterogeneous,
        processes,
    }
}

fn key(core: &Core, namespec: &str) -> ProcKey {
    match core.resolve_target(namespec) {
        Ok(Target::Process(k)) => k,
        other => panic!("{namespec}: {other:?}"),
    }
}

fn namespec(core: &Core, k: ProcKey) -> String {
    core.process(k).map(|p| p.namespec()).unwrap_or_default()
}

/// Namespecs of the processes asked to spawn, in order.
fn spawned_names(core: &Core, out: &Output) -> Vec<String> {
    out.iter()
        .filter(|(_, a)| *a == Action::Spawn)
        .filter_map(|(k, _)| k.map(|k| namespec(core, k)))
        .collect()
}

/// (namespec, pid, signal) of every Kill, in order.
fn kills(core: &Core, out: &Output) -> Vec<(String, i32, i32)> {
    out.iter()
        .filter_map(|(k, a)| match (k, a) {
            (Some(k), Action::Kill { pid, signal, .. }) => {
                Some((namespec(core, *k), *pid, *signal))
            }
            _ => None,
        })
        .collect()
}

fn daemon_logs(out: &Output) -> Vec<String> {
    out.iter()
        .filter_map(|(k, a)| match (k, a) {
            (None, Action::Log { message, .. }) => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Tick at `t`, give every requested spawn a pid (1000, 1001, ...), then tick again well past
/// startsecs so everything is RUNNING. Returns the pids by namespec.
fn start_everything(core: &mut Core, t: Instant) -> Vec<(String, i32)> {
    let out = core.tick(t);
    let mut pids = Vec::new();
    let mut pid = 1000;
    for (k, a) in out {
        if let (Some(k), Action::Spawn) = (k, a) {
            core.spawned(k, pid, t);
            pids.push((namespec(core, k), pid));
            pid += 1;
        }
    }
    core.tick(t + secs(2));
    assert!(core.processes().all(|(_, p)| p.state() == S::Running));
    pids
}

fn pid_of(pids: &[(String, i32)], name: &str) -> i32 {
    pids.iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| panic!("no pid for {name}"))
}

#[test]
fn namespec_resolution() {
    let core = Core::new(vec![
        program("web", 10),
        hetero("grp", 5, &[("a", 2), ("b", 1)]),
    ]);
    let web = key(&core, "web");
    assert_eq!(core.resolve("web"), Ok(vec![web]));
    assert_eq!(core.resolve("web:web"), Ok(vec![web]));
    let a = key(&core, "grp:a");
    let b = key(&core, "grp:b");
    // Whole group, processes in priority order.
    assert_eq!(core.resolve("grp:*"), Ok(vec![b, a]));
    assert_eq!(core.resolve("grp:"), Ok(vec![b, a]));
    assert!(matches!(
        core.resolve_target("grp:*"),
        Ok(Target::Group { ref name, .. }) if name == "grp"
    ));
    for bad in ["a", "grp", "nope", "nope:*", "grp:c", "web:x", ""] {
        assert_eq!(
            core.resolve(bad),
            Err(CommandError::BadName(bad.to_string())),
            "{bad}"
        );
    }
}

#[test]
fn groups_and_processes_in_priority_then_name_order() {
    let core = Core::new(vec![
        program("b", 999),
        hetero("z", 1, &[("y", 5), ("x", 5), ("w", 1)]),
        program("a", 999),
    ]);
    let names: Vec<&str> = core.group_names().collect();
    assert_eq!(names, vec!["z", "a", "b"]);
    let procs: Vec<String> = core.processes().map(|(_, p)| p.namespec()).collect();
    assert_eq!(procs, vec!["z:w", "z:x", "z:y", "a", "b"]);
    let g = core.group("z").expect("group z");
    assert_eq!((g.priority, g.members.len()), (1, 3));
}

#[test]
fn first_tick_spawns_in_priority_order() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        program("b", 999),
        hetero("z", 1, &[("y", 5), ("x", 5), ("w", 1)]),
        program("a", 999),
    ]);
    let out = core.tick(t0);
    assert_eq!(
        spawned_names(&core, &out),
        vec!["z:w", "z:x", "z:y", "a", "b"]
    );
    // Spawn follows the STARTING state change of the same process.
    assert!(matches!(out[0], (Some(_), Action::StateChange(_))));
}

#[test]
fn spawn_budget_starts_in_batches_in_priority_order() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        program("b", 999),
        hetero("z", 1, &[("y", 5), ("x", 5), ("w", 1)]),
        program("a", 999),
    ]);
    core.set_spawn_budget(2);
    let mut batches = Vec::new();
    let mut pid = 1;
    for i in 0..4 {
        let t = t0 + Duration::from_millis(i);
        let out = core.tick(t);
        batches.push(spawned_names(&core, &out).join(","));
        for (k, a) in out {
            if let (Some(k), Action::Spawn) = (k, a) {
                core.spawned(k, pid, t);
                pid += 1;
            }
        }
        let waiting = core
            .processes()
            .filter(|(_, p)| p.state() == S::Stopped)
            .count();
        if waiting > 0 {
            // The rest is not started yet (STOPPED, as before a start) and the next tick is due
            // at once.
            assert!(core.next_deadline().is_some_and(|d| d <= t), "tick {i}");
        }
    }
    assert_eq!(batches, ["z:w,z:x", "z:y,a", "b", ""]);
    // Nothing is deferred any more: the next deadline is startsecs again.
    assert_eq!(
        core.next_deadline(),
        Some(t0 + secs(1) + Duration::from_nanos(1))
    );
    // STARTING -> RUNNING is never held back by the budget.
    core.set_spawn_budget(1);
    core.tick(t0 + secs(2));
    assert!(core.processes().all(|(_, p)| p.state() == S::Running));
}

#[test]
fn reaped_finds_process_by_pid_and_logs_unknown_pids() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("web", 1)]);
    let pids = start_everything(&mut core, t0);
    let web = key(&core, "web");
    let pid = pid_of(&pids, "web");
    assert_eq!(core.find_by_pid(pid), Some(web));
    let out = core.reaped(pid, ExitStatus::Code(0), t0 + secs(5));
    assert!(out.iter().all(|(k, _)| *k == Some(web)));
    assert_eq!(core.process(web).map(|p| p.state()), Some(S::Exited));
    assert_eq!(core.find_by_pid(pid), None);

    let out = core.reaped(4242, ExitStatus::Code(0), t0 + secs(6));
    assert_eq!(
        daemon_logs(&out),
        vec!["reaped unknown pid 4242 (exit status 0)"]
    );
    let out = core.reaped(
        4243,
        ExitStatus::Signaled {
            signal: 9,
            core_dumped: false,
        },
        t0,
    );
    assert_eq!(
        daemon_logs(&out),
        vec!["reaped unknown pid 4243 (terminated by SIGKILL)"]
    );
}

#[test]
fn commands_per_process() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("web", 1)]);
    let web = key(&core, "web");
    let out = core.start(web, t0).expect("start");
    assert_eq!(spawned_names(&core, &out), vec!["web"]);
    core.spawned(web, 7, t0);
    assert_eq!(
        core.start(web, t0),
        Err(CommandError::AlreadyStarted("web".to_string()))
    );
    let out = core.signal(web, 1).expect("signal");
    assert_eq!(kills(&core, &out), vec![("web".to_string(), 7, 1)]);
    let out = core.stop(web, t0).expect("stop");
    assert_eq!(kills(&core, &out), vec![("web".to_string(), 7, 15)]);
    assert!(matches!(
        core.stop(web, t0),
        Err(CommandError::NotRunning(_))
    ));
    core.reaped(7, ExitStatus::Code(0), t0);
    assert_eq!(core.process(web).map(|p| p.state()), Some(S::Stopped));
    // A manually stopped process is not auto-started.
    let out = core.tick(t0 + secs(60));
    assert!(spawned_names(&core, &out).is_empty());
}

#[test]
fn start_all_and_stop_all_in_priority_order_with_filters() {
    let t0 = Instant::now();
    let mut g = hetero("grp", 5, &[("a", 2), ("b", 1)]);
    for p in &mut g.processes {
        p.autostart = false;
    }
    let mut late = program("late", 100);
    late.processes[0].autostart = false;
    let mut core = Core::new(vec![late, g]);
    let batch = core.start_all(t0).expect("start all");
    let order: Vec<String> = batch
        .results
        .iter()
        .map(|(k, _)| namespec(&core, *k))
        .collect();
    assert_eq!(order, vec!["grp:b", "grp:a", "late"]);
    assert!(batch.results.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(spawned_names(&core, &batch.actions), order);
    for (pid, (k, _)) in (10..).zip(batch.results.iter()) {
        core.spawned(*k, pid, t0);
    }
    // Everything is running now: a group start has nothing to do.
    let batch = core.start_group("grp", t0).expect("start group");
    assert!(batch.results.is_empty() && batch.actions.is_empty());
    assert!(matches!(
        core.start_group("nope", t0),
        Err(CommandError::BadName(_))
    ));

    let late = key(&core, "late");
    core.stop(late, t0).expect("stop late");
    core.reaped(12, ExitStatus::Code(0), t0);
    let batch = core.stop_all(t0).expect("stop all");
    let order: Vec<String> = batch
        .results
        .iter()
        .map(|(k, _)| namespec(&core, *k))
        .collect();
    assert_eq!(order, vec!["grp:b", "grp:a"], "only running processes");
    assert_eq!(kills(&core, &batch.actions).len(), 2);

    let batch = core.signal_group("grp", 10, t0).expect("signal group");
    assert_eq!(batch.results.len(), 2, "STOPPING is signallable");
    let batch = core.signal_all(10, t0).expect("signal all");
    assert_eq!(batch.results.len(), 2, "STOPPED late is not");
}

#[test]
fn shutdown_stops_groups_one_at_a_time_in_descending_priority() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        program("low", 1),
        hetero("mid", 50, &[("m1", 1), ("m2", 2)]),
        program("high", 999),
    ]);
    let pids = start_everything(&mut core, t0);
    let t = t0 + secs(10);
    let out = core.begin_shutdown(t, false);
    assert_eq!(core.mood(), SupervisorState::Shutdown);
    assert_eq!(
        kills(&core, &out),
        vec![("high".to_string(), pid_of(&pids, "high"), 15)]
    );
    assert_eq!(
        daemon_logs(&out),
        vec!["waiting for low, m1, m2, high to die"]
    );
    assert!(!core.shutdown_complete());

    // Ticking does not move on while "high" is STOPPING.
    let out = core.tick(t + secs(1));
    assert!(kills(&core, &out).is_empty());

    // Its reap moves on to the next group at once; within a group, descending process priority.
    let out = core.reaped(pid_of(&pids, "high"), ExitStatus::Code(0), t + secs(2));
    assert_eq!(
        kills(&core, &out),
        vec![
            ("mid:m2".to_string(), pid_of(&pids, "mid:m2"), 15),
            ("mid:m1".to_string(), pid_of(&pids, "mid:m1"), 15),
        ]
    );
    let out = core.reaped(pid_of(&pids, "mid:m1"), ExitStatus::Code(0), t + secs(2));
    assert!(kills(&core, &out).is_empty(), "m2 still stopping");
    let out = core.reaped(pid_of(&pids, "mid:m2"), ExitStatus::Code(0), t + secs(2));
    assert_eq!(
        kills(&core, &out),
        vec![("low".to_string(), pid_of(&pids, "low"), 15)]
    );
    core.reaped(pid_of(&pids, "low"), ExitStatus::Code(0), t + secs(3));
    assert!(core.shutdown_complete());
    assert!(core.processes().all(|(_, p)| p.state() == S::Stopped));
    assert_eq!(core.next_deadline(), None);
}

#[test]
fn shutdown_gives_up_backoff_processes_when_their_group_is_reached() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("low", 1), program("high", 999)]);
    // Both fail too quickly: BACKOFF.
    let out = core.tick(t0);
    let keys: Vec<ProcKey> = out
        .iter()
        .filter(|(_, a)| *a == Action::Spawn)
        .filter_map(|(k, _)| *k)
        .collect();
    for (i, k) in keys.iter().enumerate() {
        let pid = 10 + i as i32;
        core.spawned(*k, pid, t0);
        core.reaped(pid, ExitStatus::Code(1), t0);
    }
    assert!(core.processes().all(|(_, p)| p.state() == S::Backoff));
    let out = core.begin_shutdown(t0, false);
    // Both groups only hold BACKOFF processes: each goes FATAL in turn, no signal sent.
    let fatal: Vec<String> = out
        .iter()
        .filter_map(|(k, a)| match a {
            Action::StateChange(c) if c.to == S::Fatal => k.map(|k| namespec(&core, k)),
            _ => None,
        })
        .collect();
    assert_eq!(fatal, vec!["high", "low"]);
    assert!(kills(&core, &out).is_empty());
    assert!(core.shutdown_complete());
}

#[test]
fn later_groups_keep_their_state_but_never_restart_during_shutdown() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("low", 1), program("high", 999)]);
    let pids = start_everything(&mut core, t0);
    core.begin_shutdown(t0 + secs(3), false);
    // "low" crashes while "high" is still stopping: it stays EXITED.
    core.reaped(pid_of(&pids, "low"), ExitStatus::Code(1), t0 + secs(4));
    let low = key(&core, "low");
    assert_eq!(core.process(low).map(|p| p.state()), Some(S::Exited));
    // Its autorestart deadline is not reported while shutting down.
    let high_deadline = t0 + secs(3) + secs(10);
    assert_eq!(
        core.next_deadline(),
        Some(t0 + secs(6) + Duration::from_nanos(1))
    );
    let out = core.tick(t0 + secs(30));
    assert!(spawned_names(&core, &out).is_empty());
    // The SIGKILL escalation of "high" still happens.
    assert!(kills(&core, &out)
        .iter()
        .any(|(n, _, s)| n == "high" && *s == 9));
    assert!(high_deadline < t0 + secs(30));
    core.reaped(pid_of(&pids, "high"), ExitStatus::Code(0), t0 + secs(31));
    assert!(core.shutdown_complete());
}

#[test]
fn shutdown_report_every_3_seconds() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("web", 1)]);
    start_everything(&mut core, t0);
    let t = t0 + secs(5);
    let out = core.begin_shutdown(t, false);
    assert_eq!(daemon_logs(&out), vec!["waiting for web to die"]);
    let blather: Vec<String> = out
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Log {
                level: LogLevel::Blather,
                message,
            } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(blather, vec!["web state: STOPPING"]);
    let report_at = t + secs(3) + Duration::from_nanos(1);
    assert_eq!(core.next_deadline(), Some(report_at));
    assert!(daemon_logs(&core.tick(t + secs(3))).is_empty());
    assert_eq!(
        daemon_logs(&core.tick(report_at)),
        vec!["waiting for web to die"]
    );
}

#[test]
fn restart_and_shutdown_moods() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("web", 1)]);
    start_everything(&mut core, t0);
    core.begin_shutdown(t0, true);
    assert_eq!(core.mood(), SupervisorState::Restarting);
    // Commands are refused while not RUNNING.
    let web = key(&core, "web");
    assert_eq!(core.start(web, t0), Err(CommandError::ShutdownState));
    assert_eq!(core.stop(web, t0), Err(CommandError::ShutdownState));
    assert_eq!(core.signal(web, 1), Err(CommandError::ShutdownState));
    assert!(matches!(
        core.start_all(t0),
        Err(CommandError::ShutdownState)
    ));
    assert_eq!(
        core.add_group(program("new", 1)),
        Err(CommandError::ShutdownState)
    );
    // A shutdown request turns the restart into a shutdown; a restart is then ignored.
    let out = core.begin_shutdown(t0, false);
    assert_eq!(core.mood(), SupervisorState::Shutdown);
    assert!(kills(&core, &out).is_empty(), "already stopping");
    core.begin_shutdown(t0, true);
    assert_eq!(core.mood(), SupervisorState::Shutdown);
}

#[test]
fn add_and_remove_groups() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("web", 10)]);
    start_everything(&mut core, t0);
    core.add_group(hetero("grp", 5, &[("a", 1)])).expect("add");
    assert_eq!(
        core.add_group(program("web", 1)),
        Err(CommandError::AlreadyAdded("web".to_string()))
    );
    assert_eq!(core.group_names().collect::<Vec<_>>(), vec!["grp", "web"]);
    // The added group autostarts on the next tick.
    let out = core.tick(t0 + secs(3));
    assert_eq!(spawned_names(&core, &out), vec!["grp:a"]);
    let a = key(&core, "grp:a");
    core.spawned(a, 99, t0 + secs(3));
    assert_eq!(
        core.remove_group("grp").map(|g| g.name),
        Err(CommandError::StillRunning("grp".to_string()))
    );
    assert!(matches!(
        core.remove_group("nope"),
        Err(CommandError::BadName(_))
    ));
    core.stop(a, t0 + secs(3)).expect("stop");
    core.reaped(99, ExitStatus::Code(0), t0 + secs(4));
    let removed = core.remove_group("grp").expect("remove");
    assert_eq!(removed.name, "grp");
    assert_eq!(removed.priority, 5);
    assert_eq!(removed.kind, GroupKind::Heterogeneous);
    assert_eq!(removed.processes.len(), 1);
    assert_eq!(removed.processes[0].name, "a");
    // The key no longer resolves; namespecs neither.
    assert!(core.process(a).is_none());
    assert!(matches!(core.start(a, t0), Err(CommandError::BadName(_))));
    assert!(core.resolve("grp:a").is_err());
    // Re-adding gives fresh, never-started processes with new keys.
    core.add_group(removed).expect("re-add");
    let a2 = key(&core, "grp:a");
    assert_ne!(a, a2);
    assert_eq!(core.process(a2).and_then(|p| p.laststart()), None);
}

#[test]
fn core_next_deadline_is_the_minimum() {
    let t0 = Instant::now();
    let mut fast = program("fast", 1);
    fast.processes[0].startsecs = 5;
    let mut core = Core::new(vec![fast, program("slow", 2)]);
    assert_eq!(core.next_deadline(), None, "autostart is not timed");
    let out = core.tick(t0);
    let mut pid = 1;
    for (k, a) in out {
        if let (Some(k), Action::Spawn) = (k, a) {
            core.spawned(k, pid, t0);
            pid += 1;
        }
    }
    // slow: startsecs 1; fast: startsecs 5.
    assert_eq!(
        core.next_deadline(),
        Some(t0 + secs(1) + Duration::from_nanos(1))
    );
    core.tick(t0 + secs(2));
    assert_eq!(
        core.next_deadline(),
        Some(t0 + secs(5) + Duration::from_nanos(1))
    );
    core.tick(t0 + secs(6));
    assert_eq!(core.next_deadline(), None);
}

// ---------------------------------------------------------------------------------------------
// Extension: essential / exit_on_fatal (docs/extensions.md, Containers).

fn with_ext(
    mut g: GroupConfig,
    edit: impl Fn(&mut crate::config::model::Extensions),
) -> GroupConfig {
    for p in &mut g.processes {
        edit(&mut p.ext);
    }
    g
}

fn crit_logs(out: &Output) -> Vec<String> {
    out.iter()
        .filter_map(|(_, a)| match a {
            Action::Log {
                level: crate::logs::LogLevel::Critical,
                message,
            } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn essential_exit_stops_everything_and_sets_the_exit_code() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        program("db", 1),
        with_ext(program("app", 10), |e| e.essential = true),
        program("web", 20),
    ]);
    let pids = start_everything(&mut core, t0);
    let t = t0 + secs(30);
    let out = core.reaped(pid_of(&pids, "app"), ExitStatus::Code(3), t);
    assert_eq!(core.exit_code(), Some(3));
    assert_eq!(core.mood(), SupervisorState::Shutdown);
    assert_eq!(
        crit_logs(&out),
        vec!["essential app exited (exit status 3): stopping all processes, supervisord will exit with code 3"]
    );
    // Highest priority first, as a normal shutdown; app itself is not restarted.
    assert_eq!(
        kills(&core, &out),
        vec![("web".to_string(), pid_of(&pids, "web"), 15)]
    );
    let out = core.tick(t + secs(5));
    assert!(spawned_names(&core, &out).is_empty());
    core.reaped(pid_of(&pids, "web"), ExitStatus::Code(0), t + secs(1));
    core.reaped(pid_of(&pids, "db"), ExitStatus::Code(0), t + secs(1));
    assert!(core.shutdown_complete());
    // A later trigger does not change the code.
    assert_eq!(core.exit_code(), Some(3));
}

#[test]
fn essential_exit_zero_and_signal_deaths_map_to_exit_codes() {
    for (status, code) in [
        (ExitStatus::Code(0), 0),
        (
            ExitStatus::Signaled {
                signal: 9,
                core_dumped: false,
            },
            137,
        ),
    ] {
        let t0 = Instant::now();
        let mut core = Core::new(vec![with_ext(program("job", 1), |e| e.essential = true)]);
        let pids = start_everything(&mut core, t0);
        core.reaped(pid_of(&pids, "job"), status, t0 + secs(5));
        assert_eq!(core.exit_code(), Some(code), "{status:?}");
        assert!(core.shutdown_complete());
    }
}

#[test]
fn exit_on_fatal_triggers_on_fatal_only() {
    let t0 = Instant::now();
    let mut g = with_ext(program("app", 1), |e| e.exit_on_fatal = true);
    g.processes[0].startretries = 0;
    let mut core = Core::new(vec![g, program("other", 2)]);
    let pids = start_everything(&mut core, t0);
    // A normal exit (autorestart) does not trigger it.
    let t = t0 + secs(10);
    core.reaped(pid_of(&pids, "app"), ExitStatus::Code(1), t);
    assert_eq!(core.exit_code(), None);
    let out = core.tick(t + secs(1));
    let app = key(&core, "app");
    assert_eq!(spawned_names(&core, &out), vec!["app".to_string()]);
    core.spawned(app, 2000, t + secs(1));
    // Exits too quickly: BACKOFF, then FATAL at the give-up (startretries=0).
    core.reaped(2000, ExitStatus::Code(4), t + secs(1));
    assert_eq!(core.exit_code(), None);
    let out = core.tick(t + secs(3));
    assert_eq!(core.process(app).map(|p| p.state()), Some(S::Fatal));
    assert_eq!(core.exit_code(), Some(4));
    assert_eq!(
        crit_logs(&out),
        vec!["app entered FATAL state (exit_on_fatal=true): stopping all processes, supervisord will exit with code 4"]
    );
    assert_eq!(
        kills(&core, &out),
        vec![("other".to_string(), pid_of(&pids, "other"), 15)]
    );
}

#[test]
fn fatal_without_an_exit_status_and_stock_configs_never_trigger() {
    assert_eq!(container_exit_code(S::Fatal, None), 1);
    assert_eq!(container_exit_code(S::Fatal, Some(ExitStatus::Code(0))), 1);
    assert_eq!(container_exit_code(S::Fatal, Some(ExitStatus::Code(2))), 2);
    assert_eq!(container_exit_code(S::Exited, Some(ExitStatus::Code(0))), 0);

    let t0 = Instant::now();
    let mut core = Core::new(vec![program("plain", 1)]);
    let pids = start_everything(&mut core, t0);
    core.reaped(pid_of(&pids, "plain"), ExitStatus::Code(0), t0 + secs(5));
    assert_eq!(core.exit_code(), None);
    assert_eq!(core.mood(), SupervisorState::Running);

    // A stop request of an essential process is deliberate: no trigger.
    let mut core = Core::new(vec![with_ext(program("job", 1), |e| e.essential = true)]);
    let pids = start_everything(&mut core, t0);
    let job = key(&core, "job");
    core.stop(job, t0 + secs(5)).expect("stop");
    core.reaped(pid_of(&pids, "job"), ExitStatus::Code(0), t0 + secs(6));
    assert_eq!(core.exit_code(), None);
    // Nor does anything during a shutdown.
    let mut core = Core::new(vec![
        with_ext(program("job", 1), |e| e.essential = true),
        program("web", 2),
    ]);
    let pids = start_everything(&mut core, t0);
    core.begin_shutdown(t0 + secs(5), false);
    core.reaped(pid_of(&pids, "job"), ExitStatus::Code(7), t0 + secs(6));
    assert_eq!(core.exit_code(), None);
}

#[test]
fn scheduled_start_is_hidden_once_starts_are_forbidden() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        with_ext(program("paced", 1), |e| e.restart_delay = 5),
        program("other", 2),
    ]);
    let pids = start_everything(&mut core, t0);
    let paced = key(&core, "paced");
    core.reaped(pid_of(&pids, "paced"), ExitStatus::Code(1), t0 + secs(10));
    assert_eq!(core.scheduled_start(paced), Some(t0 + secs(15)));
    core.begin_shutdown(t0 + secs(11), false);
    assert_eq!(core.scheduled_start(paced), None);
}
