//! Unit tests of the process state machine, driven by a fake clock (`t0 + offsets`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use supervisor_protocol::{ProcessState as S, SupervisorState};

use super::*;
use crate::config::model::{AutoRestart, ChannelConfig, LogFile, ProcessConfig};
use crate::logs::LogLevel;

const RUNNING: SupervisorState = SupervisorState::Running;

/// A `[program:<name>]` with every option at Supervisor's default.
pub(crate) fn config(group: &str, name: &str) -> ProcessConfig {
    let channel = ChannelConfig {
        logfile: LogFile::Auto,
        logfile_maxbytes: 50 * 1024 * 1024,
        logfile_backups: 10,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
    };
    ProcessConfig {
        name: name.to_string(),
        program_name: name.to_string(),
        group_name: group.to_string(),
        process_num: 0,
        command: format!("/bin/{name}"),
        priority: 999,
        autostart: true,
        autorestart: AutoRestart::Unexpected,
        startsecs: 1,
        startretries: 3,
        exitcodes: vec![0],
        stopsignal: 15,
        stopwaitsecs: 10,
        stopasgroup: false,
        killasgroup: false,
        user: None,
        directory: None,
        umask: None,
        environment: Vec::new(),
        redirect_stderr: false,
        stdout: channel.clone(),
        stderr: channel,
        serverurl: None,
        ext: Default::default(),
    }
}

fn web() -> Process {
    Process::new(config("web", "web"))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The state changes among `actions`, as (from, to, tries, pid, expected).
type Change = (S, S, Option<u32>, Option<i32>, Option<bool>);

fn changes(actions: &[Action]) -> Vec<Change> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChange(c) => Some((c.from, c.to, c.tries, c.pid, c.expected)),
            _ => None,
        })
        .collect()
}

fn logs(actions: &[Action]) -> Vec<(LogLevel, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log { level, message } => Some((*level, message.clone())),
            _ => None,
        })
        .collect()
}

/// Log lines at INFO and above (debug lines are checked separately).
fn main_logs(actions: &[Action]) -> Vec<(LogLevel, String)> {
    logs(actions)
        .into_iter()
        .filter(|(l, _)| *l >= LogLevel::Info)
        .collect()
}

fn kills(actions: &[Action]) -> Vec<(i32, i32, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Kill { pid, signal, group } => Some((*pid, *signal, *group)),
            _ => None,
        })
        .collect()
}

fn has_spawn(actions: &[Action]) -> bool {
    actions.contains(&Action::Spawn)
}

/// Start `p` at `t` through an explicit start and give it `pid`.
fn started(p: &mut Process, pid: i32, t: Instant) {
    let a = p.start(t).expect("start");
    assert!(has_spawn(&a));
    p.spawned(pid, t);
}

/// `p` started at `t0` with pid 123 and RUNNING from `t0 + startsecs + 1 ms`.
fn running(p: &mut Process, t0: Instant) -> Instant {
    started(p, 123, t0);
    let t = t0 + Duration::from_secs(p.config.startsecs) + ms(1);
    p.tick(t, RUNNING);
    assert_eq!(p.state(), S::Running);
    t
}

#[test]
fn new_process_is_stopped_and_never_started() {
    let p = web();
    assert_eq!(p.state(), S::Stopped);
    assert_eq!(p.pid(), None);
    assert_eq!((p.name(), p.group()), ("web", "web"));
    assert_eq!(p.next_deadline(), None);
    let snap = p.snapshot();
    assert_eq!(
        (snap.pid, snap.exitstatus, snap.spawnerr.as_str()),
        (0, 0, "")
    );
    let t0 = Instant::now();
    assert_eq!(snap.description(t0, SystemTime::now()), "Not started");
}

#[test]
fn autostart_spawns_on_first_tick_with_tries_0() {
    let t0 = Instant::now();
    let mut p = web();
    let a = p.tick(t0, RUNNING);
    assert_eq!(
        changes(&a),
        vec![(S::Stopped, S::Starting, Some(0), None, None)]
    );
    assert_eq!(a.last(), Some(&Action::Spawn));
    let a = p.spawned(123, t0);
    assert_eq!(
        main_logs(&a),
        vec![(LogLevel::Info, "spawned: 'web' with pid 123".to_string())]
    );
    assert_eq!(p.pid(), Some(123));
    assert_eq!(p.laststart(), Some(t0));
}

#[test]
fn no_autostart_when_disabled_or_mood_not_running() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.autostart = false;
    let mut p = Process::new(cfg);
    assert!(p.tick(t0, RUNNING).is_empty());
    assert_eq!(p.state(), S::Stopped);

    let mut p = web();
    assert!(p.tick(t0, SupervisorState::Shutdown).is_empty());
    assert!(p.tick(t0, SupervisorState::Restarting).is_empty());
    assert_eq!(p.state(), S::Stopped);
}

#[test]
fn starting_to_running_only_when_strictly_past_startsecs() {
    let t0 = Instant::now();
    let mut p = web();
    started(&mut p, 123, t0);
    assert_eq!(
        p.next_deadline(),
        Some(t0 + secs(1) + Duration::from_nanos(1))
    );
    assert!(p.tick(t0 + ms(999), RUNNING).is_empty());
    // Exactly startsecs is not enough: upstream compares with `>`.
    assert!(p.tick(t0 + secs(1), RUNNING).is_empty());
    assert_eq!(p.state(), S::Starting);
    let a = p.tick(t0 + secs(1) + Duration::from_nanos(1), RUNNING);
    assert_eq!(
        changes(&a),
        vec![(S::Starting, S::Running, None, Some(123), None)]
    );
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Info,
            "success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
                .to_string()
        )]
    );
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn startsecs_zero_runs_on_the_next_tick() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.startsecs = 0;
    let mut p = Process::new(cfg);
    started(&mut p, 5, t0);
    assert!(p.tick(t0, RUNNING).is_empty());
    let a = p.tick(t0 + Duration::from_nanos(1), RUNNING);
    assert_eq!(changes(&a)[0].1, S::Running);
    assert!(main_logs(&a)[0].1.contains("> than 0 seconds (startsecs)"));
}

#[test]
fn startsecs_zero_exit_goes_starting_running_exited_in_one_reap() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.startsecs = 0;
    let mut p = Process::new(cfg);
    started(&mut p, 77, t0);
    let a = p.exited(ExitStatus::Code(0), t0);
    assert_eq!(
        changes(&a),
        vec![
            (S::Starting, S::Running, None, Some(77), None),
            (S::Running, S::Exited, None, Some(77), Some(true)),
        ]
    );
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Info,
            "exited: web (exit status 0; expected)".to_string()
        )]
    );
    assert_eq!(p.pid(), None);
    assert_eq!(p.snapshot().spawnerr, "");
}

#[test]
fn too_quick_exit_goes_backoff() {
    let t0 = Instant::now();
    let mut p = web();
    started(&mut p, 9, t0);
    let a = p.exited(ExitStatus::Code(3), t0 + ms(500));
    assert_eq!(
        changes(&a),
        vec![(S::Starting, S::Backoff, Some(1), None, None)]
    );
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Warn,
            "exited: web (exit status 3; not expected)".to_string()
        )]
    );
    let snap = p.snapshot();
    assert_eq!(
        snap.spawnerr,
        "Exited too quickly (process log may have details)"
    );
    assert_eq!(snap.exitstatus, 0);
    assert_eq!(snap.pid, 0);
    let wall = SystemTime::now();
    assert_eq!(
        snap.description(t0, wall),
        "Exited too quickly (process log may have details)"
    );
}

#[test]
fn too_quick_exit_with_code_in_exitcodes_is_still_not_expected() {
    let t0 = Instant::now();
    let mut p = web();
    started(&mut p, 9, t0);
    let a = p.exited(ExitStatus::Code(0), t0 + ms(10));
    assert_eq!(p.state(), S::Backoff);
    assert_eq!(
        main_logs(&a)[0].1,
        "exited: web (exit status 0; not expected)"
    );
}

#[test]
fn running_exit_expected_and_unexpected() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    let a = p.exited(ExitStatus::Code(0), t + secs(5));
    assert_eq!(
        changes(&a),
        vec![(S::Running, S::Exited, None, Some(123), Some(true))]
    );
    assert_eq!(p.snapshot().exitstatus, 0);
    assert_eq!(p.laststop(), Some(t + secs(5)));

    let mut p = web();
    let t = running(&mut p, t0);
    let a = p.exited(ExitStatus::Code(1), t + secs(5));
    assert_eq!(
        changes(&a),
        vec![(S::Running, S::Exited, None, Some(123), Some(false))]
    );
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Warn,
            "exited: web (exit status 1; not expected)".to_string()
        )]
    );
    let snap = p.snapshot();
    assert_eq!(
        (snap.exitstatus, snap.spawnerr.as_str()),
        (1, "Bad exit code 1")
    );
}

#[test]
fn signal_death_is_never_expected_and_reports_minus_one() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.exitcodes = vec![0, 255];
    let mut p = Process::new(cfg);
    let t = running(&mut p, t0);
    let a = p.exited(
        ExitStatus::Signaled {
            signal: 9,
            core_dumped: false,
        },
        t,
    );
    assert_eq!(changes(&a)[0].4, Some(false));
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Warn,
            "exited: web (terminated by SIGKILL; not expected)".to_string()
        )]
    );
    let snap = p.snapshot();
    assert_eq!(
        (snap.exitstatus, snap.spawnerr.as_str()),
        (-1, "Bad exit code -1")
    );
    assert_eq!(
        ExitStatus::Signaled {
            signal: 11,
            core_dumped: true
        }
        .message(),
        "terminated by SIGSEGV (core dumped)"
    );
}

#[test]
fn exitcodes_decide_expected() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.exitcodes = vec![0, 2];
    let mut p = Process::new(cfg.clone());
    let t = running(&mut p, t0);
    assert_eq!(changes(&p.exited(ExitStatus::Code(2), t))[0].4, Some(true));

    cfg.exitcodes = Vec::new();
    let mut p = Process::new(cfg);
    let t = running(&mut p, t0);
    assert_eq!(changes(&p.exited(ExitStatus::Code(0), t))[0].4, Some(false));
}

/// autorestart × (expected exit, unexpected exit, signal death): whether the EXITED process is
/// restarted on the tick one loop interval after the reap.
#[test]
fn autorestart_matrix() {
    let t0 = Instant::now();
    let statuses = [
        ExitStatus::Code(0),
        ExitStatus::Code(1),
        ExitStatus::Signaled {
            signal: 15,
            core_dumped: false,
        },
    ];
    let cases = [
        (AutoRestart::Never, [false, false, false]),
        (AutoRestart::Unexpected, [false, true, true]),
        (AutoRestart::Always, [true, true, true]),
    ];
    for (policy, expect) in cases {
        for (status, restarts) in statuses.into_iter().zip(expect) {
            let mut cfg = config("web", "web");
            cfg.autorestart = policy;
            let mut p = Process::new(cfg);
            let t = running(&mut p, t0);
            let stop = t + secs(2);
            p.exited(status, stop);
            assert_eq!(p.state(), S::Exited);
            // It ran for more than AUTORESTART_FLOOR, so the restart is due at once.
            let deadline = restarts.then_some(t0 + AUTORESTART_FLOOR);
            assert_eq!(p.next_deadline(), deadline, "{policy:?} {status:?}");
            // Never when shutting down.
            assert!(p.tick(stop + secs(5), SupervisorState::Shutdown).is_empty());
            let a = p.tick(stop, RUNNING);
            assert_eq!(has_spawn(&a), restarts, "{policy:?} {status:?}");
            if restarts {
                assert_eq!(
                    changes(&a),
                    vec![(S::Exited, S::Starting, Some(0), None, None)]
                );
            } else {
                assert_eq!(p.state(), S::Exited);
            }
        }
    }
}

#[test]
fn every_spawn_resets_spawnerr_and_exitstatus() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    p.exited(ExitStatus::Code(1), t);
    assert_eq!(p.spawnerr(), Some("Bad exit code 1"));
    let a = p.tick(t + LOOP_INTERVAL, RUNNING);
    assert!(has_spawn(&a));
    let snap = p.snapshot();
    assert_eq!((snap.exitstatus, snap.spawnerr.as_str()), (0, ""));
    assert_eq!(snap.laststart, Some(t + LOOP_INTERVAL));
}

/// Spec 2.3's observed sequence and upstream-reference §3.3's timings with `startretries=2`: a program that
/// exits 3 right away is spawned at t=0, ~1, ~3 and goes FATAL at ~4, driven the way the
/// runtime drives it (tick at each deadline; the child dies 10 ms after each spawn).
#[test]
fn backoff_sequence_timing_and_fatal_after_startretries_plus_one_attempts() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.startretries = 2;
    let mut p = Process::new(cfg);
    let mut all = Vec::new();
    let mut spawns = Vec::new();
    let mut fatal_at = None;
    let mut now = t0;
    let mut pid = 100;
    all.extend(p.tick(now, RUNNING));
    spawns.push(now);
    for _ in 0..20 {
        if p.state() == S::Starting {
            pid += 1;
            p.spawned(pid, now);
            now += ms(10);
            all.extend(p.exited(ExitStatus::Code(3), now));
            continue;
        }
        let Some(deadline) = p.next_deadline() else {
            break;
        };
        // Nothing happens just before the deadline.
        assert!(p
            .tick(deadline - Duration::from_nanos(1), RUNNING)
            .is_empty());
        now = deadline;
        let a = p.tick(now, RUNNING);
        if has_spawn(&a) {
            spawns.push(now);
        }
        if p.state() == S::Fatal {
            fatal_at = Some(now);
        }
        all.extend(a);
    }
    assert_eq!(
        changes(&all),
        vec![
            (S::Stopped, S::Starting, Some(0), None, None),
            (S::Starting, S::Backoff, Some(1), None, None),
            (S::Backoff, S::Starting, Some(1), None, None),
            (S::Starting, S::Backoff, Some(2), None, None),
            (S::Backoff, S::Starting, Some(2), None, None),
            (S::Starting, S::Backoff, Some(3), None, None),
            (S::Backoff, S::Fatal, None, None, None),
        ]
    );
    let offsets: Vec<u128> = spawns.iter().map(|t| (*t - t0).as_millis()).collect();
    // Delays 1 s then 2 s after each too-quick exit (which happens 10 ms after each spawn).
    assert_eq!(offsets, vec![0, 1010, 3020]);
    let fatal = fatal_at.map(|t| (t - t0).as_millis());
    assert_eq!(fatal, Some(4030));
    assert_eq!(
        main_logs(&all).last(),
        Some(&(
            LogLevel::Info,
            "gave up: web entered FATAL state, too many start retries too quickly".to_string()
        ))
    );
    // FATAL is never auto-restarted, the counter is reset and nothing is pending.
    assert_eq!(p.backoff(), 0);
    assert_eq!(p.next_deadline(), None);
    assert!(p.tick(now + secs(100), RUNNING).is_empty());
    // The description keeps the last spawnerr.
    assert_eq!(
        p.snapshot().description(now, SystemTime::now()),
        "Exited too quickly (process log may have details)"
    );
}

#[test]
fn backoff_waits_1_2_3_seconds() {
    let t0 = Instant::now();
    let mut p = web(); // startretries = 3
    let mut now = t0;
    p.tick(now, RUNNING);
    for n in 1..=3u64 {
        p.spawned(1, now);
        p.exited(ExitStatus::Code(1), now);
        assert_eq!(p.backoff(), n as u32);
        let expected = now + secs(n) + Duration::from_nanos(1);
        assert_eq!(p.next_deadline(), Some(expected));
        // `now > delay`, strictly.
        assert!(p.tick(now + secs(n), RUNNING).is_empty());
        now = expected;
        assert!(has_spawn(&p.tick(now, RUNNING)));
    }
    // Fourth attempt fails: backoff 4 > startretries 3, give up one loop interval later.
    p.spawned(1, now);
    p.exited(ExitStatus::Code(1), now);
    assert_eq!(p.next_deadline(), Some(now + LOOP_INTERVAL));
    let a = p.tick(now + LOOP_INTERVAL, RUNNING);
    assert_eq!(changes(&a), vec![(S::Backoff, S::Fatal, None, None, None)]);
}

#[test]
fn backoff_retry_waits_for_running_mood_but_give_up_does_not() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.startretries = 0;
    let mut p = Process::new(cfg);
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    // backoff 1 > startretries 0: FATAL even while shutting down.
    let a = p.tick(t0 + LOOP_INTERVAL, SupervisorState::Shutdown);
    assert_eq!(p.state(), S::Fatal);
    assert_eq!(changes(&a).len(), 1);

    let mut p = web();
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    assert!(p.tick(t0 + secs(10), SupervisorState::Shutdown).is_empty());
    assert_eq!(p.state(), S::Backoff);
}

#[test]
fn reaching_running_resets_backoff() {
    let t0 = Instant::now();
    let mut p = web();
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    let t = t0 + secs(1) + Duration::from_nanos(1);
    assert!(has_spawn(&p.tick(t, RUNNING)));
    p.spawned(2, t);
    assert_eq!(p.backoff(), 1);
    p.tick(t + secs(2), RUNNING);
    assert_eq!((p.state(), p.backoff()), (S::Running, 0));
}

#[test]
fn spawn_failure_goes_backoff_with_spawnerr() {
    let t0 = Instant::now();
    let mut p = web();
    p.tick(t0, RUNNING);
    let a = p.spawn_failed("can't find command 'nope'".to_string(), t0);
    assert_eq!(
        logs(&a),
        vec![(
            LogLevel::Info,
            "spawnerr: can't find command 'nope'".to_string()
        )]
    );
    assert_eq!(
        changes(&a),
        vec![(S::Starting, S::Backoff, Some(1), None, None)]
    );
    assert_eq!(p.spawnerr(), Some("can't find command 'nope'"));
    assert_eq!(
        p.snapshot().description(t0, SystemTime::now()),
        "can't find command 'nope'"
    );
    assert_eq!(
        p.next_deadline(),
        Some(t0 + secs(1) + Duration::from_nanos(1))
    );
}

#[test]
fn stop_from_running_sends_stopsignal_and_stopped_on_reap() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    let a = p.stop(t).expect("stop");
    assert_eq!(
        changes(&a),
        vec![(S::Running, S::Stopping, None, Some(123), None)]
    );
    assert_eq!(kills(&a), vec![(123, 15, false)]);
    assert_eq!(
        logs(&a),
        vec![(
            LogLevel::Debug,
            "killing web (pid 123) with signal SIGTERM".to_string()
        )]
    );
    assert_eq!(p.next_deadline(), Some(t + secs(10)));
    // STOPPING -> STOPPED regardless of the status; WARN for a signal death (-1 not expected).
    let a = p.exited(
        ExitStatus::Signaled {
            signal: 15,
            core_dumped: false,
        },
        t + secs(1),
    );
    assert_eq!(
        changes(&a),
        vec![(S::Stopping, S::Stopped, None, Some(123), None)]
    );
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Warn,
            "stopped: web (terminated by SIGTERM)".to_string()
        )]
    );
    assert_eq!(p.snapshot().exitstatus, -1);
    assert_eq!(p.next_deadline(), None);
    // A manually stopped process is never auto-started again.
    assert!(p.tick(t + secs(100), RUNNING).is_empty());
}

#[test]
fn stopped_log_level_follows_exitcodes() {
    let t0 = Instant::now();
    for (status, level, text) in [
        (
            ExitStatus::Code(0),
            LogLevel::Info,
            "stopped: web (exit status 0)",
        ),
        (
            ExitStatus::Code(1),
            LogLevel::Warn,
            "stopped: web (exit status 1)",
        ),
    ] {
        let mut p = web();
        let t = running(&mut p, t0);
        p.stop(t).expect("stop");
        let a = p.exited(status, t);
        assert_eq!(p.state(), S::Stopped);
        assert_eq!(main_logs(&a), vec![(level, text.to_string())]);
    }
}

#[test]
fn stop_from_starting_ends_stopped_even_if_too_quick() {
    let t0 = Instant::now();
    let mut p = web();
    started(&mut p, 50, t0);
    let a = p.stop(t0 + ms(100)).expect("stop");
    assert_eq!(
        changes(&a),
        vec![(S::Starting, S::Stopping, None, Some(50), None)]
    );
    let a = p.exited(ExitStatus::Code(0), t0 + ms(200));
    assert_eq!(
        changes(&a),
        vec![(S::Stopping, S::Stopped, None, Some(50), None)]
    );
    assert_eq!(p.backoff(), 0);
}

#[test]
fn stop_from_backoff_goes_stopped_with_pid_0_and_no_signal() {
    let t0 = Instant::now();
    let mut p = web();
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    let a = p.stop(t0 + ms(100)).expect("stop");
    assert_eq!(
        changes(&a),
        vec![(S::Backoff, S::Stopped, None, Some(0), None)]
    );
    assert!(kills(&a).is_empty());
    assert_eq!(p.next_deadline(), None);
    assert!(p.tick(t0 + secs(60), RUNNING).is_empty());
    // Upstream keeps the counter: the next explicit start reports tries:1.
    let a = p.start(t0 + secs(61)).expect("start");
    assert_eq!(
        changes(&a),
        vec![(S::Stopped, S::Starting, Some(1), None, None)]
    );
}

#[test]
fn stop_refused_outside_running_states() {
    let t0 = Instant::now();
    let mut p = web();
    assert_eq!(p.stop(t0), Err(CommandError::NotRunning("web".to_string())));
    let t = running(&mut p, t0);
    p.stop(t).expect("stop");
    // STOPPING is not in the running set.
    let err = p.stop(t).expect_err("stopping");
    assert_eq!(err.to_string(), "NOT_RUNNING: web");
    p.exited(ExitStatus::Code(0), t);
    assert!(p.stop(t).is_err());
}

#[test]
fn start_refusals_and_allowed_states() {
    let t0 = Instant::now();
    let mut p = Process::new(config("grp", "web"));
    started(&mut p, 1, t0);
    assert_eq!(
        p.start(t0),
        Err(CommandError::AlreadyStarted("grp:web".to_string()))
    );
    p.tick(t0 + secs(2), RUNNING);
    assert!(matches!(p.start(t0), Err(CommandError::AlreadyStarted(_))));
    // BACKOFF counts as started.
    let mut p = web();
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    assert!(matches!(p.start(t0), Err(CommandError::AlreadyStarted(_))));
    // EXITED and FATAL can be started.
    let mut p = web();
    let t = running(&mut p, t0);
    p.exited(ExitStatus::Code(0), t);
    assert!(has_spawn(&p.start(t).expect("from exited")));
    let mut p = web();
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    p.give_up(t0);
    let a = p.start(t0).expect("from fatal");
    assert_eq!(
        changes(&a),
        vec![(S::Fatal, S::Starting, Some(0), None, None)]
    );
}

#[test]
fn start_while_stopping_only_warns() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    p.stop(t).expect("stop");
    let a = p.start(t).expect("start");
    assert_eq!(
        a,
        vec![Action::Log {
            level: LogLevel::Warn,
            message: "process 'web' already running".to_string()
        }]
    );
    assert_eq!(p.state(), S::Stopping);
}

#[test]
fn sigkill_escalation_repeats_every_stopwaitsecs() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    p.stop(t).expect("stop");
    assert!(p.tick(t + secs(10) - ms(1), RUNNING).is_empty());
    let a = p.tick(t + secs(10), RUNNING);
    assert!(changes(&a).is_empty(), "STOPPING -> STOPPING emits nothing");
    assert_eq!(kills(&a), vec![(123, 9, false)]);
    assert_eq!(
        main_logs(&a),
        vec![(
            LogLevel::Warn,
            "killing 'web' (123) with SIGKILL".to_string()
        )]
    );
    assert_eq!(p.next_deadline(), Some(t + secs(20)));
    let a = p.tick(t + secs(20), RUNNING);
    assert_eq!(kills(&a), vec![(123, 9, false)]);
    assert_eq!(p.state(), S::Stopping);
    let a = p.exited(
        ExitStatus::Signaled {
            signal: 9,
            core_dumped: false,
        },
        t + secs(21),
    );
    assert_eq!(p.state(), S::Stopped);
    assert_eq!(main_logs(&a)[0].1, "stopped: web (terminated by SIGKILL)");
}

#[test]
fn stopasgroup_and_killasgroup_flags() {
    let t0 = Instant::now();
    for (stopasgroup, killasgroup) in [(true, true), (false, true), (false, false)] {
        let mut cfg = config("web", "web");
        cfg.stopasgroup = stopasgroup;
        cfg.killasgroup = killasgroup;
        cfg.stopsignal = 2;
        cfg.stopwaitsecs = 3;
        let mut p = Process::new(cfg);
        let t = running(&mut p, t0);
        let a = p.stop(t).expect("stop");
        assert_eq!(kills(&a), vec![(123, 2, stopasgroup)]);
        if stopasgroup {
            assert_eq!(
                logs(&a)[0].1,
                "killing web (pid 123) process group with signal SIGINT"
            );
        }
        let a = p.tick(t + secs(3), RUNNING);
        assert_eq!(kills(&a), vec![(123, 9, killasgroup)]);
    }
}

#[test]
fn signal_without_state_change_only_when_signallable() {
    let t0 = Instant::now();
    let mut p = web();
    assert!(matches!(p.signal(1), Err(CommandError::NotRunning(_))));
    started(&mut p, 123, t0);
    let a = p.signal(1).expect("starting is signallable");
    assert_eq!(kills(&a), vec![(123, 1, false)]);
    assert!(changes(&a).is_empty());
    assert_eq!(logs(&a)[0].1, "sending web (pid 123) sig SIGHUP");
    p.tick(t0 + secs(2), RUNNING);
    let mut cfg_group = p.clone();
    cfg_group.config.stopasgroup = true;
    // signalProcess never targets the group.
    assert_eq!(
        kills(&cfg_group.signal(10).expect("running")),
        vec![(123, 10, false)]
    );
    p.stop(t0 + secs(2)).expect("stop");
    assert!(p.signal(9).is_ok(), "STOPPING is signallable");
    // BACKOFF is not signallable.
    let mut p = web();
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    assert!(matches!(p.signal(1), Err(CommandError::NotRunning(_))));
    assert_eq!(p.state(), S::Backoff);
}

#[test]
fn kill_failure_goes_unknown() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    p.stop(t).expect("stop");
    let a = p.signal_error(t, "EPERM");
    assert_eq!(
        changes(&a),
        vec![(S::Stopping, S::Unknown, None, None, None)]
    );
    assert_eq!(
        logs(&a),
        vec![(
            LogLevel::Critical,
            "unknown problem killing web (123):EPERM".to_string()
        )]
    );
    // No escalation, no restart, start refused with FAILED.
    assert_eq!(p.next_deadline(), None);
    assert!(p.tick(t + secs(60), RUNNING).is_empty());
    assert_eq!(
        p.start(t).map_err(|e| e.to_string()),
        Err("FAILED: web is in an unknown process state".to_string())
    );
    assert!(matches!(p.stop(t), Err(CommandError::NotRunning(_))));
    assert_eq!(p.snapshot().description(t, SystemTime::now()), "");
    // The eventual reap of the still-known pid ends in EXITED.
    let a = p.exited(ExitStatus::Code(0), t + secs(61));
    assert_eq!(
        changes(&a),
        vec![(S::Unknown, S::Exited, None, Some(123), Some(true))]
    );

    let mut p = web();
    let t = running(&mut p, t0);
    let a = p.signal_error(t, "EINVAL");
    assert_eq!(
        logs(&a)[0].1,
        "unknown problem sending sig web (123):EINVAL"
    );
    assert_eq!(p.state(), S::Unknown);
}

#[test]
fn give_up_only_from_backoff() {
    let t0 = Instant::now();
    let mut p = web();
    assert!(p.give_up(t0).is_empty());
    started(&mut p, 1, t0);
    assert!(p.give_up(t0).is_empty());
    p.exited(ExitStatus::Code(1), t0);
    let a = p.give_up(t0);
    assert_eq!(changes(&a), vec![(S::Backoff, S::Fatal, None, None, None)]);
    assert_eq!(p.backoff(), 0);
}

#[test]
fn tick_never_chains_two_transitions() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.startsecs = 0;
    let mut p = Process::new(cfg);
    let a = p.tick(t0 + secs(5), RUNNING);
    assert_eq!(p.state(), S::Starting);
    assert_eq!(changes(&a).len(), 1);
}

#[test]
fn next_deadline_per_state() {
    let t0 = Instant::now();
    let mut p = web();
    assert_eq!(p.next_deadline(), None);
    let t = running(&mut p, t0);
    assert_eq!(p.next_deadline(), None, "RUNNING");
    p.exited(ExitStatus::Code(0), t);
    assert_eq!(
        p.next_deadline(),
        None,
        "EXITED, expected, autorestart=unexpected"
    );
    p.start(t).expect("start");
    p.spawned(5, t);
    p.tick(t + secs(2), RUNNING);
    p.exited(ExitStatus::Code(4), t + secs(3));
    assert_eq!(p.next_deadline(), Some(t + AUTORESTART_FLOOR));
}

#[test]
fn autorestart_is_immediate_but_at_most_once_per_floor() {
    let t0 = Instant::now();
    let mut cfg = config("web", "web");
    cfg.startsecs = 0;
    cfg.autorestart = AutoRestart::Always;
    let mut p = Process::new(cfg);
    started(&mut p, 1, t0);
    // Dies 10 ms after its start: the restart waits until AUTORESTART_FLOOR after that start.
    p.exited(ExitStatus::Code(1), t0 + ms(10));
    assert_eq!(p.state(), S::Exited);
    assert_eq!(p.next_deadline(), Some(t0 + AUTORESTART_FLOOR));
    assert!(!has_spawn(&p.tick(t0 + ms(999), RUNNING)));
    assert!(has_spawn(&p.tick(t0 + AUTORESTART_FLOOR, RUNNING)));
    // A run that lasted longer restarts in the same tick as its exit.
    let t1 = t0 + AUTORESTART_FLOOR;
    p.spawned(2, t1);
    p.tick(t1 + secs(5), RUNNING);
    p.exited(ExitStatus::Code(1), t1 + secs(5));
    assert!(has_spawn(&p.tick(t1 + secs(5), RUNNING)));
}

#[test]
fn running_description_and_times() {
    let t0 = Instant::now();
    let wall0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000) + ms(300);
    let mut p = web();
    started(&mut p, 123, t0);
    let snap = p.snapshot();
    assert_eq!(snap.description_in(t0, wall0, &Utc), "");
    p.tick(t0 + secs(2), RUNNING);
    let now = t0 + secs(62) + ms(800);
    let wall = wall0 + secs(62) + ms(800);
    let snap = p.snapshot();
    assert_eq!(snap.start_unix(now, wall), 1_700_000_000);
    // Whole seconds on both sides: 1_700_000_063 - 1_700_000_000.
    assert_eq!(
        snap.description_in(now, wall, &Utc),
        "pid 123, uptime 0:01:03"
    );
    let later = now + secs(86_400 + 2 * 3600 + 3 * 60 + 4);
    let wall_later = wall + secs(86_400 + 2 * 3600 + 3 * 60 + 4);
    assert_eq!(
        snap.description_in(later, wall_later, &Utc),
        "pid 123, uptime 1 day, 2:04:07"
    );
    let much_later = now + secs(3 * 86_400);
    assert!(snap
        .description_in(much_later, wall + secs(3 * 86_400), &Utc)
        .starts_with("pid 123, uptime 3 days, 0:01:03"));

    // EXITED: the stop time, `%b %d %I:%M %p`.
    let stop = t0 + secs(100);
    p.exited(ExitStatus::Code(0), stop);
    let snap = p.snapshot();
    assert_eq!(snap.stop_unix(stop, wall0 + secs(100)), 1_700_000_100);
    // 1_700_000_100 = 2023-11-14 22:15:00 UTC.
    assert_eq!(
        snap.description_in(stop + secs(5), wall0 + secs(105), &Utc),
        "Nov 14 10:15 PM"
    );
}

#[test]
fn fatal_description_without_spawnerr() {
    let snap = ProcessSnapshot {
        name: "web".to_string(),
        group: "web".to_string(),
        state: S::Fatal,
        pid: 0,
        laststart: None,
        laststop: None,
        exitstatus: 0,
        spawnerr: String::new(),
        scheduled_start: None,
        dependency_note: None,
        check_note: None,
    };
    let t0 = Instant::now();
    assert_eq!(
        snap.description(t0, SystemTime::now()),
        "unknown error (try \"tail web\")"
    );
}

#[test]
fn stop_report_is_throttled_to_2_seconds() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0);
    assert!(p.stop_report(t).is_empty(), "not stopping");
    p.stop(t).expect("stop");
    assert_eq!(logs(&p.stop_report(t))[0].1, "waiting for web to stop");
    assert!(p.stop_report(t + secs(2)).is_empty());
    assert_eq!(p.stop_report(t + ms(2001)).len(), 1);
}

#[test]
fn signal_names_match_python() {
    assert_eq!(signal_name(15), "SIGTERM");
    assert_eq!(signal_name(6), "SIGABRT");
    assert_eq!(signal_name(17), "SIGCHLD");
    assert_eq!(signal_name(29), "SIGPOLL");
    assert_eq!(signal_name(31), "SIGSYS");
    assert_eq!(signal_name(32), "signal 32");
    assert_eq!(signal_name(34), "SIGRTMIN");
    assert_eq!(signal_name(64), "SIGRTMAX");
    assert_eq!(signal_name(0), "signal 0");
    assert_eq!(signal_name(-3), "signal -3");
}

#[test]
fn command_error_fault_strings() {
    assert_eq!(CommandError::ShutdownState.to_string(), "SHUTDOWN_STATE");
    assert_eq!(CommandError::ShutdownState.code(), 6);
    let e = CommandError::AlreadyStarted("web".to_string());
    assert_eq!(
        (e.code(), e.to_string()),
        (60, "ALREADY_STARTED: web".to_string())
    );
    assert_eq!(CommandError::BadName("x:y".to_string()).code(), 10);
    assert_eq!(CommandError::StillRunning("g".to_string()).code(), 91);
    assert_eq!(make_namespec("g", "g"), "g");
    assert_eq!(make_namespec("g", "p"), "g:p");
}

/// One row per line of upstream-reference §3.2's transition table, each producing exactly its state change(s).
#[test]
fn spec_3_2_transition_table() {
    let t0 = Instant::now();
    let ns = Duration::from_nanos(1);
    let pair = |a: &[Action]| -> Vec<(S, S)> { changes(a).iter().map(|c| (c.0, c.1)).collect() };

    // STOPPED -> STARTING: autostart (never started) and start request.
    let mut p = web();
    assert_eq!(pair(&p.tick(t0, RUNNING)), [(S::Stopped, S::Starting)]);
    let mut cfg = config("web", "web");
    cfg.autostart = false;
    let mut p = Process::new(cfg);
    assert_eq!(
        pair(&p.start(t0).expect("start")),
        [(S::Stopped, S::Starting)]
    );

    // EXITED -> STARTING: autorestart and start request.
    let mut p = web();
    let t = running(&mut p, t0);
    p.exited(ExitStatus::Code(1), t);
    assert_eq!(
        pair(&p.tick(t + LOOP_INTERVAL, RUNNING)),
        [(S::Exited, S::Starting)]
    );
    let mut p = web();
    let t = running(&mut p, t0);
    p.exited(ExitStatus::Code(0), t);
    assert_eq!(
        pair(&p.start(t).expect("start")),
        [(S::Exited, S::Starting)]
    );

    // FATAL -> STARTING: start request only.
    let mut cfg = config("web", "web");
    cfg.startretries = 0;
    let mut p = Process::new(cfg);
    started(&mut p, 1, t0);
    p.exited(ExitStatus::Code(1), t0);
    // BACKOFF -> FATAL: backoff > startretries at the next loop iteration.
    assert_eq!(
        pair(&p.tick(t0 + LOOP_INTERVAL, RUNNING)),
        [(S::Backoff, S::Fatal)]
    );
    assert!(p.tick(t0 + secs(100), RUNNING).is_empty());
    assert_eq!(
        pair(&p.start(t0).expect("start")),
        [(S::Fatal, S::Starting)]
    );

    // STARTING -> BACKOFF: too-quick exit, and spawn failure in the parent.
    let mut p = web();
    started(&mut p, 1, t0);
    assert_eq!(
        pair(&p.exited(ExitStatus::Code(0), t0)),
        [(S::Starting, S::Backoff)]
    );
    // BACKOFF -> STARTING: `now > delay` and backoff <= startretries.
    assert_eq!(
        pair(&p.tick(t0 + secs(1) + ns, RUNNING)),
        [(S::Backoff, S::Starting)]
    );
    assert_eq!(
        pair(&p.spawn_failed("boom".to_string(), t0)),
        [(S::Starting, S::Backoff)]
    );
    // BACKOFF -> STOPPED: stop request (no signal).
    let a = p.stop(t0).expect("stop");
    assert_eq!(pair(&a), [(S::Backoff, S::Stopped)]);
    assert!(kills(&a).is_empty());

    // STARTING -> RUNNING after startsecs; RUNNING -> EXITED on its own.
    let mut p = web();
    started(&mut p, 1, t0);
    assert_eq!(
        pair(&p.tick(t0 + secs(1) + ns, RUNNING)),
        [(S::Starting, S::Running)]
    );
    assert_eq!(
        pair(&p.exited(ExitStatus::Code(0), t0 + secs(2))),
        [(S::Running, S::Exited)]
    );

    // STARTING -> RUNNING -> EXITED in one reap when the exit is not too quick.
    let mut p = web();
    started(&mut p, 1, t0);
    assert_eq!(
        pair(&p.exited(ExitStatus::Code(0), t0 + secs(1))),
        [(S::Starting, S::Running), (S::Running, S::Exited)]
    );

    // STARTING -> STOPPING, RUNNING -> STOPPING, STOPPING -> STOPPING (silent), STOPPING -> STOPPED.
    let mut p = web();
    started(&mut p, 1, t0);
    assert_eq!(
        pair(&p.stop(t0).expect("stop")),
        [(S::Starting, S::Stopping)]
    );
    let mut p = web();
    let t = running(&mut p, t0);
    assert_eq!(pair(&p.stop(t).expect("stop")), [(S::Running, S::Stopping)]);
    let a = p.tick(t + secs(10), RUNNING);
    assert!(pair(&a).is_empty() && kills(&a) == [(123, 9, false)]);
    assert_eq!(
        pair(&p.exited(ExitStatus::Code(7), t + secs(11))),
        [(S::Stopping, S::Stopped)]
    );

    // any -> UNKNOWN on an unexpected kill() error.
    let mut p = web();
    let t = running(&mut p, t0);
    assert_eq!(
        pair(&p.signal_error(t, "EPERM")),
        [(S::Running, S::Unknown)]
    );
}

#[test]
fn restarts_count_spawns_after_the_first() {
    let t0 = Instant::now();
    let mut p = web();
    assert_eq!(p.restarts(), 0);
    let t = running(&mut p, t0);
    assert_eq!(p.restarts(), 0, "the first spawn is not a restart");
    p.exited(ExitStatus::Code(1), t + secs(5));
    let a = p.tick(t + secs(6), RUNNING);
    assert!(has_spawn(&a), "autorestart after an unexpected exit");
    p.spawned(124, t + secs(6));
    assert_eq!(p.restarts(), 1);
    assert_eq!(p.exitstatus(), None, "reset by the spawn, like upstream");
    assert_eq!(p.last_exit_status(), Some(1), "kept for metrics");
    // A failed spawn is no restart.
    p.exited(ExitStatus::Code(1), t + secs(20));
    p.tick(t + secs(21), RUNNING);
    p.spawn_failed("no such file".to_string(), t + secs(21));
    assert_eq!(p.restarts(), 1);
}

// ---------------------------------------------------------------------------------------------
// Extensions (docs/extensions.md): restart_delay, backoff_max, retry_fatal_after.

fn with_ext(edit: impl FnOnce(&mut crate::config::model::Extensions)) -> Process {
    let mut cfg = config("web", "web");
    edit(&mut cfg.ext);
    Process::new(cfg)
}

/// Crash `p` (too quickly) at every retry until it is FATAL; returns the instant it gave up.
fn crash_until_fatal(p: &mut Process, mut t: Instant, pid: i32) -> Instant {
    for _ in 0..100 {
        match p.state() {
            S::Fatal => return t,
            S::Starting => {
                p.spawned(pid, t);
                p.exited(ExitStatus::Code(1), t + ms(10));
                t += ms(10);
            }
            _ => {
                let due = p.next_deadline().expect("a deadline in BACKOFF");
                t = t.max(due);
                let a = p.tick(t, RUNNING);
                if has_spawn(&a) {
                    continue;
                }
            }
        }
    }
    panic!("never went FATAL: {:?}", p.state());
}

#[test]
fn restart_delay_puts_off_the_autorestart_after_an_exit() {
    let t0 = Instant::now();
    let mut p = with_ext(|e| e.restart_delay = 5);
    let t = running(&mut p, t0) + secs(10);
    p.exited(ExitStatus::Code(1), t);
    assert_eq!(p.state(), S::Exited);
    // Without the option the restart would be immediate (the run lasted > 1 s).
    assert_eq!(p.next_deadline(), Some(t + secs(5)));
    assert_eq!(p.scheduled_start(), Some(t + secs(5)));
    assert!(!has_spawn(&p.tick(t, RUNNING)));
    assert!(!has_spawn(&p.tick(t + ms(4999), RUNNING)));
    let desc = p
        .snapshot()
        .description_in(t + secs(2), SystemTime::now(), &Utc);
    assert!(
        desc.ends_with("; next start in 3s (restart_delay)"),
        "{desc}"
    );
    let a = p.tick(t + secs(5), RUNNING);
    assert!(has_spawn(&a));
    assert_eq!(p.state(), S::Starting);
    assert_eq!(p.scheduled_start(), None);
}

#[test]
fn restart_delay_zero_keeps_supervisor_timing_and_description() {
    let t0 = Instant::now();
    let mut p = web();
    let t = running(&mut p, t0) + secs(10);
    p.exited(ExitStatus::Code(1), t);
    assert_eq!(p.scheduled_start(), None);
    assert!(!p
        .snapshot()
        .description_in(t, SystemTime::now(), &Utc)
        .contains("next start"));
    assert!(has_spawn(&p.tick(t, RUNNING)));
}

#[test]
fn restart_delay_does_not_apply_without_autorestart_or_to_an_expected_exit() {
    let t0 = Instant::now();
    let mut p = with_ext(|e| e.restart_delay = 5);
    let t = running(&mut p, t0) + secs(10);
    p.exited(ExitStatus::Code(0), t);
    assert_eq!(p.scheduled_start(), None);
    assert_eq!(p.next_deadline(), None);
    assert!(!has_spawn(&p.tick(t + secs(60), RUNNING)));
}

#[test]
fn restart_delay_waits_for_a_running_mood() {
    let t0 = Instant::now();
    let mut p = with_ext(|e| e.restart_delay = 2);
    let t = running(&mut p, t0) + secs(10);
    p.exited(ExitStatus::Code(1), t);
    assert!(p.deadline_needs_running_mood());
    assert!(!has_spawn(&p.tick(t + secs(3), SupervisorState::Shutdown)));
}

#[test]
fn backoff_max_caps_the_growing_retry_delay() {
    let t0 = Instant::now();
    let mut p = with_ext(|e| e.backoff_max = Some(2));
    p.config.startretries = 10;
    started(&mut p, 1, t0);
    let mut t = t0;
    let mut delays = Vec::new();
    for _ in 0..5 {
        p.exited(ExitStatus::Code(1), t + ms(10));
        t += ms(10);
        assert_eq!(p.state(), S::Backoff);
        let due = p.next_deadline().expect("retry deadline");
        delays.push((due - t).as_secs());
        assert!(!has_spawn(&p.tick(due - Duration::from_nanos(1), RUNNING)));
        t = due;
        assert!(has_spawn(&p.tick(t, RUNNING)));
        p.spawned(1, t);
    }
    // Upstream: 1, 2, 3, 4, 5 s.
    assert_eq!(delays, vec![1, 2, 2, 2, 2]);
    assert_eq!(p.backoff(), 5);
}

#[test]
fn retry_fatal_after_leaves_fatal_forever_when_unlimited() {
    use crate::config::model::RetryFatal;
    let t0 = Instant::now();
    let mut p = with_ext(|e| {
        e.retry_fatal = Some(RetryFatal {
            after: 30,
            limit: None,
        })
    });
    p.config.startretries = 0;
    started(&mut p, 1, t0);
    let mut t = t0;
    for attempt in 1..=4u32 {
        t = crash_until_fatal(&mut p, t, 1);
        let at = p.next_deadline().expect("retry deadline");
        assert_eq!(p.scheduled_start(), Some(at));
        assert!(at >= t + secs(30) && at <= t + secs(31), "{:?}", at - t);
        let desc = p
            .snapshot()
            .description_in(at - secs(10), SystemTime::now(), &Utc);
        assert_eq!(
            desc,
            "Exited too quickly (process log may have details); next start in 10s \
             (retry_fatal_after)"
        );
        assert!(p.tick(at - Duration::from_nanos(1), RUNNING).is_empty());
        // Not while shutting down.
        assert!(p.tick(at, SupervisorState::Shutdown).is_empty());
        let a = p.tick(at, RUNNING);
        assert!(has_spawn(&a));
        assert_eq!(
            changes(&a),
            vec![(S::Fatal, S::Starting, Some(0), None, None)]
        );
        assert_eq!(
            main_logs(&a)[0].1,
            format!("retrying: web leaves FATAL state (retry_fatal_after), attempt {attempt}")
        );
        assert_eq!(p.fatal_retries(), attempt);
        t = at;
    }
}

#[test]
fn retry_fatal_limit_stops_after_n_retries_and_running_resets_the_count() {
    use crate::config::model::RetryFatal;
    let t0 = Instant::now();
    let mut p = with_ext(|e| {
        e.retry_fatal = Some(RetryFatal {
            after: 5,
            limit: Some(2),
        })
    });
    p.config.startretries = 0;
    started(&mut p, 1, t0);
    let mut t = crash_until_fatal(&mut p, t0, 1);
    for attempt in 1..=2 {
        let at = p.next_deadline().expect("retry");
        let a = p.tick(at, RUNNING);
        assert!(main_logs(&a)[0]
            .1
            .ends_with(&format!("attempt {attempt} of 2")));
        t = crash_until_fatal(&mut p, at, 1);
    }
    assert_eq!(p.state(), S::Fatal);
    assert_eq!(p.next_deadline(), None);
    assert_eq!(p.scheduled_start(), None);
    assert!(p.tick(t + secs(3600), RUNNING).is_empty());

    // A manual start that reaches RUNNING resets the count: the next FATAL retries again.
    started(&mut p, 2, t + secs(3600));
    let t = t + secs(3600) + secs(2);
    p.tick(t, RUNNING);
    assert_eq!((p.state(), p.fatal_retries()), (S::Running, 0));
    p.exited(ExitStatus::Code(1), t);
    let a = p.tick(t + secs(1), RUNNING);
    assert!(has_spawn(&a));
    let t = crash_until_fatal(&mut p, t + secs(1), 3);
    assert!(p.next_deadline().is_some_and(|d| d > t));
}

#[test]
fn stop_cancels_a_pending_fatal_retry_and_start_replaces_it() {
    use crate::config::model::RetryFatal;
    let t0 = Instant::now();
    let mut p = with_ext(|e| {
        e.retry_fatal = Some(RetryFatal {
            after: 5,
            limit: None,
        })
    });
    p.config.startretries = 0;
    started(&mut p, 1, t0);
    let t = crash_until_fatal(&mut p, t0, 1);
    let a = p.stop(t).expect("stop cancels the retry");
    assert!(changes(&a).is_empty());
    assert!(main_logs(&a)[0].1.contains("cancelled by a stop request"));
    assert_eq!((p.state(), p.next_deadline()), (S::Fatal, None));
    // A second stop is refused like upstream's.
    assert_eq!(p.stop(t), Err(CommandError::NotRunning("web".to_string())));

    started(&mut p, 2, t + secs(1));
    let t = crash_until_fatal(&mut p, t + secs(1), 2);
    assert!(p.next_deadline().is_some());
    // An explicit start drops the pending retry (the new run decides what comes next).
    p.start(t + secs(1)).expect("start from FATAL");
    assert_eq!(p.scheduled_start(), None);
}
