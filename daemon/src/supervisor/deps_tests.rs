//! Unit tests of dependencies in the core (extension, docs/extensions.md "Dependencies"):
//! start gates, explicit starts, failed dependencies, stop order. Fake clock.

use std::time::{Duration, Instant};

use supervisor_protocol::ProcessState as S;

use super::*;
use crate::config::model::{DepTarget, Dependency, GroupConfig, GroupKind, ProcessConfig};
use crate::process::state::tests::config;
use crate::process::state::{Action, ExitStatus};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn depends_on(name: &str) -> Dependency {
    Dependency {
        spec: name.to_string(),
        target: DepTarget::Name(name.to_string()),
        states: None,
    }
}

fn wait_for(name: &str, states: &[S]) -> Dependency {
    Dependency {
        spec: name.to_string(),
        target: DepTarget::Name(name.to_string()),
        states: Some(states.to_vec()),
    }
}

/// `[program:<name>]` with `priority` and dependencies.
fn program(name: &str, priority: i32, deps: Vec<Dependency>) -> GroupConfig {
    let mut pc = config(name, name);
    pc.priority = priority;
    pc.ext.dependencies = deps;
    GroupConfig {
        name: name.to_string(),
        priority,
        kind: GroupKind::Program,
        processes: vec![pc],
    }
}

fn edit(mut g: GroupConfig, f: impl Fn(&mut ProcessConfig)) -> GroupConfig {
    for p in &mut g.processes {
        f(p);
    }
    g
}

fn key(core: &Core, namespec: &str) -> ProcKey {
    match core.resolve_target(namespec) {
        Ok(Target::Process(k)) => k,
        other => panic!("{namespec}: {other:?}"),
    }
}

fn state(core: &Core, namespec: &str) -> S {
    core.process(key(core, namespec))
        .map(|p| p.state())
        .unwrap_or(S::Unknown)
}

/// Give every Spawn of `out` a pid (from `next_pid`); returns the namespecs spawned.
fn spawn_all(core: &mut Core, out: Output, t: Instant, next_pid: &mut i32) -> Vec<String> {
    let mut names = Vec::new();
    for (k, a) in out {
        if let (Some(k), Action::Spawn) = (k, a) {
            core.spawned(k, *next_pid, t);
            *next_pid += 1;
            names.push(core.process(k).map(|p| p.namespec()).unwrap_or_default());
        }
    }
    names
}

fn kills(core: &Core, out: &Output) -> Vec<String> {
    out.iter()
        .filter_map(|(k, a)| match (k, a) {
            (Some(k), Action::Kill { .. }) => core.process(*k).map(|p| p.namespec()),
            _ => None,
        })
        .collect()
}

#[test]
fn autostart_waits_until_the_dependency_is_running() {
    let t0 = Instant::now();
    // web sorts before db (priority), so without the dependency it would start first.
    let mut core = Core::new(vec![
        program("web", 1, vec![depends_on("db")]),
        program("db", 2, vec![]),
    ]);
    let mut pid = 100;
    let out = core.tick(t0);
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["db"]);
    let web = core.process(key(&core, "web")).map(|p| p.snapshot());
    let web = web.expect("web");
    assert_eq!(web.state, S::Stopped);
    assert_eq!(
        web.dependency_note.as_deref(),
        Some("waiting for dependencies: db")
    );
    // Nothing moves while db is STARTING.
    let out = core.tick(t0 + Duration::from_millis(500));
    assert!(spawn_all(&mut core, out, t0, &mut pid).is_empty());
    // db RUNNING after startsecs: web starts in the same tick.
    let t1 = t0 + secs(2);
    let out = core.tick(t1);
    assert_eq!(state(&core, "db"), S::Running);
    assert_eq!(spawn_all(&mut core, out, t1, &mut pid), vec!["web"]);
    assert_eq!(state(&core, "web"), S::Starting);
    let note = core
        .process(key(&core, "web"))
        .and_then(|p| p.snapshot().dependency_note);
    assert_eq!(note, None);
}

#[test]
fn a_fatal_dependency_leaves_the_dependant_stopped_with_a_spawnerr() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        edit(program("db", 1, vec![]), |p| p.startretries = 0),
        program("web", 2, vec![depends_on("db")]),
    ]);
    let mut pid = 100;
    let out = core.tick(t0);
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["db"]);
    // db dies at once: BACKOFF, then FATAL (startretries=0) a loop interval later.
    core.reaped(100, ExitStatus::Code(1), t0 + Duration::from_millis(100));
    let out = core.tick(t0 + secs(2));
    assert_eq!(state(&core, "db"), S::Fatal);
    assert!(spawn_all(&mut core, out, t0, &mut pid).is_empty());
    let web = core.process(key(&core, "web")).map(|p| p.snapshot());
    let web = web.expect("web");
    assert_eq!(web.state, S::Stopped);
    assert_eq!(web.spawnerr, "dependency db is FATAL (depends_on)");
    assert!(!core
        .process(key(&core, "web"))
        .is_some_and(|p| p.start_waiting()));
    // It stays that way.
    let out = core.tick(t0 + secs(60));
    assert!(spawn_all(&mut core, out, t0, &mut pid).is_empty());
}

#[test]
fn a_dependency_waiting_for_its_fatal_retry_is_still_awaited() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        edit(program("db", 1, vec![]), |p| {
            p.startretries = 0;
            p.ext.retry_fatal = Some(crate::config::model::RetryFatal {
                after: 5,
                limit: None,
            });
        }),
        program("web", 2, vec![depends_on("db")]),
    ]);
    let mut pid = 100;
    let out = core.tick(t0);
    spawn_all(&mut core, out, t0, &mut pid);
    core.reaped(100, ExitStatus::Code(1), t0 + Duration::from_millis(100));
    core.tick(t0 + secs(2));
    assert_eq!(state(&core, "db"), S::Fatal);
    assert!(core
        .process(key(&core, "web"))
        .is_some_and(|p| p.start_waiting()));
}

#[test]
fn an_explicit_start_starts_the_dependencies_first() {
    let t0 = Instant::now();
    let manual = |p: &mut ProcessConfig| p.autostart = false;
    let mut core = Core::new(vec![
        edit(program("db", 1, vec![]), manual),
        edit(program("cache", 2, vec![depends_on("db")]), manual),
        edit(program("web", 3, vec![depends_on("cache")]), manual),
    ]);
    let mut pid = 100;
    assert!(core.tick(t0).is_empty());
    let out = core.start(key(&core, "web"), t0).expect("start web");
    // db is started; cache and web wait.
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["db"]);
    assert!(core
        .process(key(&core, "cache"))
        .is_some_and(|p| p.start_waiting()));
    assert!(core
        .process(key(&core, "web"))
        .is_some_and(|p| p.start_waiting()));
    let t1 = t0 + secs(2);
    let out = core.tick(t1);
    assert_eq!(spawn_all(&mut core, out, t1, &mut pid), vec!["cache"]);
    let t2 = t1 + secs(2);
    let out = core.tick(t2);
    assert_eq!(spawn_all(&mut core, out, t2, &mut pid), vec!["web"]);
    // Starting something already waiting is refused like a running one? No: it is accepted
    // again (it is STOPPED); a start of a running one is ALREADY_STARTED as usual.
    assert!(matches!(
        core.start(key(&core, "db"), t2),
        Err(CommandError::AlreadyStarted(_))
    ));
}

#[test]
fn a_stop_request_cancels_a_waiting_start() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![
        edit(program("db", 1, vec![]), |p| p.autostart = false),
        program("web", 2, vec![depends_on("db")]),
    ]);
    core.tick(t0);
    let web = key(&core, "web");
    assert!(core.process(web).is_some_and(|p| p.start_waiting()));
    assert!(core.stop(web, t0).is_ok());
    assert!(!core.process(web).is_some_and(|p| p.start_waiting()));
    // db comes up later: web stays down.
    let mut pid = 100;
    let out = core.start(key(&core, "db"), t0).expect("start db");
    spawn_all(&mut core, out, t0, &mut pid);
    let out = core.tick(t0 + secs(2));
    assert!(spawn_all(&mut core, out, t0, &mut pid).is_empty());
    // A second stop is refused as for any stopped process.
    assert!(matches!(
        core.stop(web, t0),
        Err(CommandError::NotRunning(_))
    ));
}

#[test]
fn dependent_startup_wait_for_counts_states_reached() {
    let t0 = Instant::now();
    // The plugin's example: an init job that must have exited, a server that must run.
    let mut core = Core::new(vec![
        edit(program("init", 1, vec![]), |p| {
            p.startsecs = 0;
            p.autorestart = crate::config::model::AutoRestart::Never;
        }),
        edit(
            program("app", 2, vec![wait_for("init", &[S::Exited])]),
            |p| {
                p.autostart = false;
                p.ext.dependent_startup = true;
            },
        ),
        edit(
            program("worker", 3, vec![wait_for("app", &[S::Running, S::Fatal])]),
            |p| {
                p.autostart = false;
                p.ext.dependent_startup = true;
            },
        ),
    ]);
    let mut pid = 100;
    let out = core.tick(t0);
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["init"]);
    core.tick(t0 + Duration::from_millis(1));
    assert_eq!(state(&core, "init"), S::Running);
    let t1 = t0 + secs(1);
    core.reaped(100, ExitStatus::Code(0), t1);
    let out = core.tick(t1);
    assert_eq!(state(&core, "init"), S::Exited);
    assert_eq!(spawn_all(&mut core, out, t1, &mut pid), vec!["app"]);
    let t2 = t1 + secs(2);
    let out = core.tick(t2);
    assert_eq!(spawn_all(&mut core, out, t2, &mut pid), vec!["worker"]);
}

#[test]
fn shutdown_stops_dependants_before_their_dependencies() {
    let t0 = Instant::now();
    // Supervisor stops the highest priority first: db (900) before web (100). web depends on
    // db, so web goes first.
    let mut core = Core::new(vec![
        program("web", 100, vec![depends_on("db")]),
        program("db", 900, vec![]),
        program("other", 500, vec![]),
    ]);
    let mut pid = 100;
    let out = core.tick(t0);
    spawn_all(&mut core, out, t0, &mut pid);
    let out = core.tick(t0 + secs(2));
    spawn_all(&mut core, out, t0, &mut pid);
    core.tick(t0 + secs(4));
    assert!(core.processes().all(|(_, p)| p.state() == S::Running));
    let t = t0 + secs(10);
    let out = core.begin_shutdown(t, false);
    assert_eq!(kills(&core, &out), vec!["other"]);
    let other = core.process(key(&core, "other")).and_then(|p| p.pid());
    let out = core.reaped(other.unwrap_or(0), ExitStatus::Code(0), t);
    assert_eq!(kills(&core, &out), vec!["web"]);
    let web = core.process(key(&core, "web")).and_then(|p| p.pid());
    let out = core.reaped(web.unwrap_or(0), ExitStatus::Code(0), t);
    assert_eq!(kills(&core, &out), vec!["db"]);
}

#[test]
fn within_a_group_a_dependency_is_held_until_its_dependants_stopped() {
    let t0 = Instant::now();
    let mut a = config("site", "a");
    a.priority = 1;
    let mut b = config("site", "b");
    b.priority = 2;
    // Without the dependency both would be signalled together; b (higher priority) first.
    a.ext.dependencies = vec![Dependency {
        spec: "site:b".into(),
        target: DepTarget::Process {
            group: "site".into(),
            name: "b".into(),
        },
        states: None,
    }];
    let mut core = Core::new(vec![GroupConfig {
        name: "site".into(),
        priority: 1,
        kind: GroupKind::Heterogeneous,
        processes: vec![a, b],
    }]);
    let mut pid = 100;
    let out = core.tick(t0);
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["site:b"]);
    let out = core.tick(t0 + secs(2));
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["site:a"]);
    core.tick(t0 + secs(4));
    let out = core.begin_shutdown(t0 + secs(5), false);
    assert_eq!(kills(&core, &out), vec!["site:a"]);
    let out = core.reaped(101, ExitStatus::Code(0), t0 + secs(6));
    assert_eq!(kills(&core, &out), vec!["site:b"]);
}

#[test]
fn stock_configs_keep_supervisors_order() {
    let t0 = Instant::now();
    let mut core = Core::new(vec![program("a", 1, vec![]), program("b", 2, vec![])]);
    let mut pid = 100;
    let out = core.tick(t0);
    assert_eq!(spawn_all(&mut core, out, t0, &mut pid), vec!["a", "b"]);
    core.tick(t0 + secs(2));
    let out = core.begin_shutdown(t0 + secs(3), false);
    assert_eq!(kills(&core, &out), vec!["b"]);
}
