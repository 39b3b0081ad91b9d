//! Unit tests of `ready_check=` / `health_check=` in the state machine (extension), fake clock.

use std::time::{Duration, Instant};

use supervisor_protocol::{ProcessState as S, SupervisorState};

use super::tests::config;
use super::*;
use crate::config::model::{CheckAction, HealthCheck, Probe};

const RUNNING: SupervisorState = SupervisorState::Running;

fn check(failures: u32, action: CheckAction) -> HealthCheck {
    HealthCheck {
        spec: "tcp://127.0.0.1:5432".into(),
        probe: Probe::Tcp {
            host: "127.0.0.1".into(),
            port: 5432,
        },
        interval: 1,
        timeout: 1,
        start_delay: 0,
        failures,
        action,
    }
}

fn process(ready: Option<HealthCheck>, health: Option<HealthCheck>) -> Process {
    let mut c = config("db", "db");
    c.ext.ready_check = ready;
    c.ext.health_check = health;
    Process::new(c)
}

fn started(p: &mut Process, t: Instant) {
    assert!(p.tick(t, RUNNING).contains(&Action::Spawn));
    p.spawned(100, t);
}

fn states(actions: &[Action]) -> Vec<S> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChange(c) => Some(c.to),
            _ => None,
        })
        .collect()
}

fn kills(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Kill { .. }))
        .count()
}

#[test]
fn a_ready_check_replaces_startsecs() {
    let t0 = Instant::now();
    let mut p = process(Some(check(5, CheckAction::Restart)), None);
    started(&mut p, t0);
    // Long past startsecs: still STARTING, and no timer for it.
    assert!(p.tick(t0 + Duration::from_secs(30), RUNNING).is_empty());
    assert_eq!(p.state(), S::Starting);
    assert_eq!(p.next_deadline(), None);
    assert_eq!(p.snapshot().check_note.as_deref(), Some("not ready yet"));
    let out = p.check_result(CheckKind::Ready, false, "connection refused", t0);
    assert!(out.is_empty());
    assert_eq!(
        p.snapshot().check_note.as_deref(),
        Some("not ready yet (1 failed check: connection refused)")
    );
    let out = p.check_result(CheckKind::Ready, true, "", t0 + Duration::from_secs(31));
    assert_eq!(states(&out), vec![S::Running]);
    assert!(out.iter().any(|a| matches!(a, Action::Log { message, .. }
        if message == "success: db entered RUNNING state, process is ready (ready_check tcp://127.0.0.1:5432)")));
    // Results of the wrong phase are ignored.
    assert!(p
        .check_result(CheckKind::Ready, false, "x", t0 + Duration::from_secs(32))
        .is_empty());
}

#[test]
fn without_a_ready_check_startsecs_still_decides() {
    let t0 = Instant::now();
    let mut p = process(None, Some(check(3, CheckAction::Restart)));
    started(&mut p, t0);
    // A health result while STARTING does not count.
    assert!(p.check_result(CheckKind::Health, false, "x", t0).is_empty());
    assert_eq!(p.check_failures(), 0);
    let out = p.tick(t0 + Duration::from_secs(2), RUNNING);
    assert_eq!(states(&out), vec![S::Running]);
}

#[test]
fn not_ready_after_the_threshold_is_a_failed_start() {
    let t0 = Instant::now();
    let mut p = process(Some(check(2, CheckAction::Restart)), None);
    started(&mut p, t0);
    assert!(p
        .check_result(CheckKind::Ready, false, "refused", t0)
        .is_empty());
    let out = p.check_result(
        CheckKind::Ready,
        false,
        "refused",
        t0 + Duration::from_secs(1),
    );
    assert_eq!(kills(&out), 1);
    assert_eq!(p.state(), S::Stopping);
    let out = p.exited(ExitStatus::Code(0), t0 + Duration::from_secs(2));
    // Not STOPPED: a failed start, retried under startretries.
    assert_eq!(states(&out), vec![S::Backoff]);
    assert_eq!(
        p.spawnerr(),
        Some("not ready after 2 checks (ready_check): refused")
    );
    let out = p.tick(t0 + Duration::from_secs(4), RUNNING);
    assert!(out.contains(&Action::Spawn));
}

#[test]
fn an_exit_before_ready_is_a_failed_start_whatever_startsecs() {
    let t0 = Instant::now();
    let mut p = process(Some(check(0, CheckAction::Restart)), None);
    started(&mut p, t0);
    let out = p.exited(ExitStatus::Code(0), t0 + Duration::from_secs(60));
    assert_eq!(states(&out), vec![S::Backoff]);
}

#[test]
fn health_failures_make_it_unhealthy_then_restart() {
    let t0 = Instant::now();
    let mut p = process(None, Some(check(3, CheckAction::Restart)));
    started(&mut p, t0);
    p.tick(t0 + Duration::from_secs(2), RUNNING);
    let out = p.check_result(CheckKind::Health, true, "", t0 + Duration::from_secs(3));
    assert!(out.contains(&Action::Health(HealthChange {
        healthy: true,
        failures: 0,
        detail: String::new()
    })));
    assert_eq!(p.health(), Health::Healthy);
    // A second pass says nothing new.
    let out = p.check_result(CheckKind::Health, true, "", t0 + Duration::from_secs(4));
    assert!(out.is_empty());
    for i in 0..2 {
        let out = p.check_result(
            CheckKind::Health,
            false,
            "refused",
            t0 + Duration::from_secs(5 + i),
        );
        assert!(out.is_empty());
    }
    assert_eq!(
        p.snapshot().check_note.as_deref(),
        Some("healthy (2 failed checks: refused)")
    );
    let t = t0 + Duration::from_secs(8);
    let out = p.check_result(CheckKind::Health, false, "refused", t);
    assert!(out.contains(&Action::Health(HealthChange {
        healthy: false,
        failures: 3,
        detail: "refused".into()
    })));
    assert_eq!(kills(&out), 1);
    let out = p.exited(ExitStatus::Code(0), t + Duration::from_secs(1));
    assert_eq!(states(&out), vec![S::Stopped]);
    // Started again by the next tick (and only while the daemon runs).
    assert!(p
        .clone()
        .tick(t + Duration::from_secs(1), SupervisorState::Shutdown)
        .is_empty());
    let out = p.tick(t + Duration::from_secs(1), RUNNING);
    assert!(out.contains(&Action::Spawn));
    assert_eq!(p.health(), Health::Unknown);
}

#[test]
fn health_action_stop_and_nothing() {
    let t0 = Instant::now();
    let mut p = process(None, Some(check(1, CheckAction::Stop)));
    started(&mut p, t0);
    p.tick(t0 + Duration::from_secs(2), RUNNING);
    let out = p.check_result(CheckKind::Health, false, "x", t0 + Duration::from_secs(3));
    assert_eq!(kills(&out), 1);
    p.exited(ExitStatus::Code(0), t0 + Duration::from_secs(4));
    assert_eq!(p.state(), S::Stopped);
    assert!(!p
        .tick(t0 + Duration::from_secs(9), RUNNING)
        .contains(&Action::Spawn));

    let mut p = process(None, Some(check(1, CheckAction::Nothing)));
    started(&mut p, t0);
    p.tick(t0 + Duration::from_secs(2), RUNNING);
    let out = p.check_result(CheckKind::Health, false, "x", t0 + Duration::from_secs(3));
    assert_eq!(kills(&out), 0);
    assert_eq!(p.health(), Health::Unhealthy);
    assert_eq!(p.state(), S::Running);
    // Back to healthy on the next pass.
    let out = p.check_result(CheckKind::Health, true, "", t0 + Duration::from_secs(4));
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Health(h) if h.healthy)));
}

#[test]
fn an_explicit_stop_cancels_the_health_restart() {
    let t0 = Instant::now();
    let mut p = process(None, Some(check(1, CheckAction::Restart)));
    started(&mut p, t0);
    p.tick(t0 + Duration::from_secs(2), RUNNING);
    p.check_result(CheckKind::Health, false, "x", t0 + Duration::from_secs(3));
    assert_eq!(p.state(), S::Stopping);
    p.exited(ExitStatus::Code(0), t0 + Duration::from_secs(4));
    // restart pending; an explicit stop of a STOPPED process is refused as usual...
    assert!(p.stop(t0 + Duration::from_secs(4)).is_err());
}
