//! End-to-end scenarios for the daemon core: process state machine, priorities, stopping,
//! child logs, child environment and config errors.
//!
//! Each scenario is written once against [`Kind`] and instantiated for Python supervisord
//! 4.3.0 (`python_*`, which proves the assertion) and for ours (`ours_*`).
//!
//! Python 4.3.0 quirk that shapes these configs: its main loop polls with a 1 s timeout and
//! SIGCHLD does not wake it, so when a child's pipes reach EOF just before the child is
//! reapable, the exit is only noticed on the next tick. With `startsecs=1` a process that
//! exited at once can then be declared RUNNING ("success:" followed by "exited:"). Programs
//! that must fail their start therefore use `startsecs=2`, which absorbs that 1 s.

use std::collections::BTreeSet;
use std::fs;
use std::time::Instant;

use supervisor_tests::{
    config_with, events_of, pgid_of, pid_alive, ppid_of, secs, state_events, timed_events,
    wait_for, Daemon, Kind, StateEvent, TimedEvent,
};

/// Generates `#[test] fn $py()` and `#[test] fn $ours()` calling `$scenario(Kind::..)`.
macro_rules! both {
    ($scenario:ident => $py:ident, $ours:ident) => {
        #[test]
        fn $py() {
            $scenario(Kind::Python)
        }
        #[test]
        fn $ours() {
            $scenario(Kind::Ours)
        }
    };
}

/// Events of `process` with the given `kind`.
fn timed<'a>(events: &'a [TimedEvent], process: &str, kind: &str) -> Vec<&'a TimedEvent> {
    events
        .iter()
        .filter(|e| e.process == process && e.kind == kind)
        .collect()
}

fn success_line(name: &str, startsecs: u32) -> String {
    format!(
        "success: {name} entered RUNNING state, process has stayed up for > than {startsecs} \
         seconds (startsecs)"
    )
}

// ---------------------------------------------------------------------------------------------

both!(reaches_running => python_reaches_running_after_startsecs, ours_reaches_running_after_startsecs);
fn reaches_running(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with("[program:up]\ncommand=sleep 1000\nstartsecs=1\n"),
    );
    let log = d.expect_log(&success_line("up", 1), secs(10.0));
    let ev = timed_events(&log);
    let spawned = timed(&ev, "up", "spawned");
    let success = timed(&ev, "up", "success");
    assert_eq!(spawned.len(), 1, "one spawn expected\n{}", d.diagnostics());
    let dt = success[0].time - spawned[0].time;
    assert!(
        dt >= 0.95,
        "RUNNING after {dt:.3}s, before startsecs=1\n{}",
        d.diagnostics()
    );

    // The child really runs, is ours, and leads its own process group (setpgrp).
    let pid = spawned[0].pid.expect("pid in spawned line");
    assert!(pid_alive(pid), "pid {pid} not alive\n{}", d.diagnostics());
    assert_eq!(ppid_of(pid), Some(d.pid()), "parent of {pid}");
    assert_eq!(pgid_of(pid), Some(pid), "process group of {pid}");
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert_eq!(cmdline, b"sleep\x001000\x00", "cmdline of {pid}");

    let status = d.stop();
    assert!(
        status.success(),
        "daemon exit status {status}\n{}",
        d.diagnostics()
    );
    let log = d.log_text();
    assert!(
        log.contains("stopped: up (terminated by SIGTERM)"),
        "no stopped line\n{}",
        d.diagnostics()
    );
    assert!(!pid_alive(pid), "child {pid} survived the daemon");
}

// ---------------------------------------------------------------------------------------------

both!(backoff_then_fatal => python_backoff_then_fatal, ours_backoff_then_fatal);
fn backoff_then_fatal(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:crash]\ncommand=sh -c 'exit 3'\nstartretries=2\nstartsecs=2\n\
             autorestart=true\n",
        ),
    );
    let log = d.expect_log(
        "gave up: crash entered FATAL state, too many start retries too quickly",
        secs(20.0),
    );
    let s = |a: &str, b: &str| ("crash".to_owned(), a.to_owned(), b.to_owned());
    let spawn = s("spawned", "INFO with pid <pid>");
    let exit = s("exited", "WARN (exit status 3; not expected)");
    let gave_up = s(
        "gave up",
        "INFO entered FATAL state, too many start retries too quickly",
    );
    let expected: Vec<StateEvent> = vec![
        spawn.clone(),
        exit.clone(),
        spawn.clone(),
        exit.clone(),
        spawn,
        exit,
        gave_up,
    ];
    assert_eq!(
        state_events(&log),
        expected,
        "startretries=2 means 3 attempts then FATAL\n{}",
        d.diagnostics()
    );

    // Backoff: the n-th retry comes n seconds after the previous exit.
    let ev = timed_events(&log);
    let spawned = timed(&ev, "crash", "spawned");
    let exited = timed(&ev, "crash", "exited");
    for (n, (lo, hi)) in [(0.9, 1.7), (1.9, 2.7)].into_iter().enumerate() {
        let gap = spawned[n + 1].time - exited[n].time;
        assert!(
            (lo..=hi).contains(&gap),
            "retry {} came {gap:.3}s after the exit, expected {lo}..{hi}\n{}",
            n + 1,
            d.diagnostics()
        );
    }
    let total = spawned[2].time - spawned[0].time;
    assert!(
        total >= 2.9,
        "3 attempts within {total:.3}s\n{}",
        d.diagnostics()
    );
}

// ---------------------------------------------------------------------------------------------

both!(autorestart_true => python_autorestart_true_restarts, ours_autorestart_true_restarts);
fn autorestart_true(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with("[program:again]\ncommand=sh -c 'sleep 0.3'\nstartsecs=0\nautorestart=true\n"),
    );
    let log = d
        .wait_log_count("spawned: 'again'", 3, secs(15.0))
        .unwrap_or_else(|e| panic!("{e}"));
    let ev = state_events(&log);
    let exits: Vec<_> = events_of(&ev, "again")
        .into_iter()
        .filter(|e| e.1 == "exited")
        .collect();
    assert!(!exits.is_empty(), "no exited line\n{}", d.diagnostics());
    for e in exits {
        assert_eq!(e.2, "INFO (exit status 0; expected)", "{}", d.diagnostics());
    }
    assert!(
        !log.contains("gave up:"),
        "autorestart must not give up\n{}",
        d.diagnostics()
    );
}

both!(autorestart_unexpected => python_autorestart_unexpected_honours_exitcodes, ours_autorestart_unexpected_honours_exitcodes);
fn autorestart_unexpected(kind: Kind) {
    // `two` exits with an expected code: not restarted. `one` exits with an unexpected code:
    // restarted. `marker` reaches RUNNING 3 s after start, by which time a restart of `two`
    // (immediate, no backoff) would have shown up.
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:two]\ncommand=sh -c 'exit 2'\nstartsecs=0\nautorestart=unexpected\n\
             exitcodes=0,2\n\n\
             [program:one]\ncommand=sh -c 'sleep 0.2; exit 1'\nstartsecs=0\n\
             autorestart=unexpected\nexitcodes=0,2\n\n\
             [program:marker]\ncommand=sleep 1000\nstartsecs=3\n",
        ),
    );
    d.expect_log("exited: two (exit status 2; expected)", secs(10.0));
    let log = d.expect_log(&success_line("marker", 3), secs(15.0));
    let ev = state_events(&log);
    let two: Vec<_> = events_of(&ev, "two");
    assert_eq!(
        two.iter().filter(|e| e.1 == "spawned").count(),
        1,
        "an expected exit must not be restarted\n{}",
        d.diagnostics()
    );
    assert!(
        log.contains("exited: one (exit status 1; not expected)"),
        "{}",
        d.diagnostics()
    );
    assert!(
        log.matches("spawned: 'one'").count() >= 2,
        "an unexpected exit must be restarted\n{}",
        d.diagnostics()
    );
}

// ---------------------------------------------------------------------------------------------

both!(priority_order => python_priority_order, ours_priority_order);
fn priority_order(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:a]\ncommand=sleep 1000\npriority=300\nstartsecs=1\n\n\
             [program:b]\ncommand=sleep 1000\npriority=100\nstartsecs=1\n\n\
             [program:c]\ncommand=sleep 1000\npriority=200\nstartsecs=1\n",
        ),
    );
    d.wait_log_count("success: ", 3, secs(10.0))
        .unwrap_or_else(|e| panic!("{e}"));
    let status = d.stop();
    assert!(status.success(), "exit {status}\n{}", d.diagnostics());
    let ev = state_events(&d.log_text());
    let order = |kind: &str| -> Vec<String> {
        ev.iter()
            .filter(|e| e.1 == kind)
            .map(|e| e.0.clone())
            .collect()
    };
    assert_eq!(
        order("spawned"),
        ["b", "c", "a"],
        "start order is ascending priority\n{}",
        d.diagnostics()
    );
    assert_eq!(
        order("stopped"),
        ["a", "c", "b"],
        "stop order is descending priority\n{}",
        d.diagnostics()
    );
}

// ---------------------------------------------------------------------------------------------

both!(numprocs => python_numprocs_names, ours_numprocs_names);
fn numprocs(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:x]\ncommand=sleep 1000\nnumprocs=3\n\
             process_name=%(program_name)s_%(process_num)02d\nstartsecs=1\n",
        ),
    );
    let log = d
        .wait_log_count("success: x_", 3, secs(10.0))
        .unwrap_or_else(|e| panic!("{e}"));
    let spawned: Vec<String> = state_events(&log)
        .into_iter()
        .filter(|e| e.1 == "spawned")
        .map(|e| e.0)
        .collect();
    assert_eq!(spawned, ["x_00", "x_01", "x_02"], "{}", d.diagnostics());
    let pids: BTreeSet<i32> = timed_events(&log).iter().filter_map(|e| e.pid).collect();
    assert_eq!(pids.len(), 3, "three distinct pids\n{}", d.diagnostics());
    for pid in pids {
        assert!(pid_alive(pid), "{pid} not alive\n{}", d.diagnostics());
    }
}

// ---------------------------------------------------------------------------------------------

both!(stopwaitsecs_sigkill => python_stopwaitsecs_escalates_to_sigkill, ours_stopwaitsecs_escalates_to_sigkill);
fn stopwaitsecs_sigkill(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:stubborn]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\n\
             stopwaitsecs=2\nstartsecs=1\n",
        ),
    );
    let log = d.expect_log(&success_line("stubborn", 1), secs(10.0));
    let pid = timed_events(&log)[0].pid.expect("spawned pid");
    let t0 = Instant::now();
    d.signal(libc::SIGTERM);
    d.expect_log(
        &format!("killing 'stubborn' ({pid}) with SIGKILL"),
        secs(10.0),
    );
    let waited = t0.elapsed().as_secs_f64();
    assert!(
        (1.9..7.0).contains(&waited),
        "SIGKILL {waited:.3}s after shutdown began, stopwaitsecs=2\n{}",
        d.diagnostics()
    );
    let status = d
        .wait_exit(secs(10.0))
        .unwrap_or_else(|| panic!("daemon did not exit\n{}", d.diagnostics()));
    assert!(status.success(), "exit {status}\n{}", d.diagnostics());
    let ev = state_events(&d.log_text());
    let tail: Vec<_> = events_of(&ev, "stubborn")
        .into_iter()
        .filter(|e| e.1 != "waiting")
        .map(|e| (e.1.as_str(), e.2.as_str()))
        .collect();
    assert_eq!(
        tail[tail.len() - 2..],
        [
            ("killing", "WARN (<pid>) with SIGKILL"),
            ("stopped", "WARN (terminated by SIGKILL)")
        ],
        "{}",
        d.diagnostics()
    );
    assert!(!pid_alive(pid), "{pid} survived");
}

// ---------------------------------------------------------------------------------------------

both!(stopasgroup => python_stopasgroup_kills_grandchildren, ours_stopasgroup_kills_grandchildren);
fn stopasgroup(kind: Kind) {
    // `fam` stops as a group; `solo` (control) does not, so its grandchild survives the stop.
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:fam]\ncommand=sh -c 'sleep 1000 & echo $! > {dir}/fam.pid; wait'\n\
             stopasgroup=true\nstartsecs=1\n\n\
             [program:solo]\ncommand=sh -c 'sleep 1000 & echo $! > {dir}/solo.pid; wait'\n\
             startsecs=1\n",
        ),
    );
    let log = d
        .wait_log_count("success: ", 2, secs(10.0))
        .unwrap_or_else(|e| panic!("{e}"));
    let ev = timed_events(&log);
    let read_pid = |name: &str| -> i32 {
        let path = d.path(name);
        wait_for(secs(5.0), || {
            fs::read_to_string(&path).ok()?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no pid in {}\n{}", path.display(), d.diagnostics()))
    };
    let (fam_gc, solo_gc) = (read_pid("fam.pid"), read_pid("solo.pid"));
    let fam = timed(&ev, "fam", "spawned")[0].pid.unwrap();
    assert!(
        pid_alive(fam_gc) && pid_alive(solo_gc),
        "grandchildren alive"
    );
    assert_eq!(
        pgid_of(fam_gc),
        Some(fam),
        "grandchild in the child's group"
    );

    let status = d.stop();
    assert!(status.success(), "exit {status}\n{}", d.diagnostics());
    assert!(
        wait_for(secs(3.0), || (!pid_alive(fam_gc)).then_some(())).is_some(),
        "grandchild {fam_gc} of a stopasgroup=true program survived the stop\n{}",
        d.diagnostics()
    );
    assert!(
        pid_alive(solo_gc),
        "grandchild {solo_gc} of a stopasgroup=false program was killed too (only the child \
         should get the stop signal)\n{}",
        d.diagnostics()
    );
}

// ---------------------------------------------------------------------------------------------

/// 16384 numbered 64-byte lines (1 MiB).
fn numbered_data() -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    for i in 0..16384 {
        out.extend_from_slice(format!("{i:07} {}\n", "x".repeat(55)).as_bytes());
    }
    assert_eq!(out.len(), 1 << 20);
    out
}

both!(child_log_rotation => python_child_log_rotation_keeps_every_byte, ours_child_log_rotation_keeps_every_byte);
fn child_log_rotation(kind: Kind) {
    let mut d = Daemon::prepare(
        kind,
        &config_with(
            "[program:w]\ncommand=cat {dir}/data.txt\nstartsecs=0\nautorestart=false\n\
             stdout_logfile={dir}/w.log\nstdout_logfile_maxbytes=100KB\n\
             stdout_logfile_backups=3\n",
        ),
    );
    let data = numbered_data();
    fs::write(d.path("data.txt"), &data).unwrap();
    d.spawn();
    d.expect_log("exited: w (exit status 0; expected)", secs(15.0));

    let retained = || -> Vec<u8> {
        let mut all = Vec::new();
        for name in ["w.log.3", "w.log.2", "w.log.1", "w.log"] {
            all.extend(fs::read(d.path(name)).unwrap_or_default());
        }
        all
    };
    let last_line = &data[data.len() - 64..];
    let all = wait_for(secs(5.0), || {
        let all = retained();
        all.ends_with(last_line).then_some(all)
    })
    .unwrap_or_else(|| {
        panic!(
            "retained child logs do not end with the last line written\n{}",
            d.diagnostics()
        )
    });
    assert!(
        data.ends_with(&all),
        "w.log.3+.2+.1+w.log ({} bytes) is not exactly the tail of the 1 MiB written: bytes \
         lost or duplicated\n{}",
        all.len(),
        d.diagnostics()
    );
    for name in ["w.log.1", "w.log.2", "w.log.3"] {
        let len = fs::metadata(d.path(name)).map(|m| m.len()).unwrap_or(0);
        assert!(
            len >= 100 * 1024,
            "{name} has {len} bytes, a backup must have reached maxbytes=100KB"
        );
    }
    assert!(
        !d.path("w.log.4").exists(),
        "only 3 backups may be kept (w.log.4 exists)"
    );
}

both!(redirect_stderr => python_redirect_stderr_into_stdout_log, ours_redirect_stderr_into_stdout_log);
fn redirect_stderr(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &config_with(
            "[program:r]\ncommand=sh -c 'echo to-stdout; echo to-stderr >&2; echo again'\n\
             startsecs=0\nautorestart=false\nredirect_stderr=true\n\
             stdout_logfile={dir}/r.log\n",
        ),
    );
    d.expect_log("exited: r (exit status 0; expected)", secs(10.0));
    let path = d.path("r.log");
    let text = wait_for(secs(5.0), || {
        let t = fs::read_to_string(&path).ok()?;
        t.ends_with("again\n").then_some(t)
    })
    .unwrap_or_else(|| panic!("r.log incomplete\n{}", d.diagnostics()));
    assert_eq!(text, "to-stdout\nto-stderr\nagain\n");
    let stray: Vec<_> = fs::read_dir(d.dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("stderr---"))
        .collect();
    assert!(
        stray.is_empty(),
        "redirect_stderr=true must not create a stderr log: {stray:?}"
    );
}

// ---------------------------------------------------------------------------------------------

both!(environment => python_child_environment_directory_umask, ours_child_environment_directory_umask);
fn environment(kind: Kind) {
    let mut d = Daemon::prepare(
        kind,
        &config_with(
            "[program:envy]\n\
             command=sh -c 'env > env.txt; pwd > pwd.txt; umask > umask.txt; touch made; \
             exec sleep 1000'\n\
             directory={dir}/work\numask=027\nstartsecs=1\n\
             environment=FOO=\"bar baz\",NUM=\"42\"\n\n\
             [group:grp]\nprograms=envy\n",
        ),
    );
    fs::create_dir(d.path("work")).unwrap();
    d.spawn();
    d.expect_log(&success_line("envy", 1), secs(10.0));
    let work = d.path("work");
    let read = |name: &str| -> String {
        let p = work.join(name);
        wait_for(secs(5.0), || {
            let t = fs::read_to_string(&p).ok()?;
            t.ends_with('\n').then_some(t)
        })
        .unwrap_or_else(|| panic!("{} not written\n{}", p.display(), d.diagnostics()))
    };
    let env = read("env.txt");
    let vars: BTreeSet<&str> = env.lines().collect();
    for want in [
        "SUPERVISOR_ENABLED=1",
        "SUPERVISOR_PROCESS_NAME=envy",
        "SUPERVISOR_GROUP_NAME=grp",
        "FOO=bar baz",
        "NUM=42",
    ] {
        assert!(vars.contains(want), "child env lacks {want:?}:\n{env}");
    }
    assert!(
        vars.iter()
            .any(|v| v.starts_with("SUPERVISOR_RS_TEST_TAG=")),
        "supervisord's own environment must be passed on:\n{env}"
    );
    assert!(
        !env.contains("SUPERVISOR_SERVER_URL="),
        "no HTTP server configured, so no SUPERVISOR_SERVER_URL:\n{env}"
    );
    assert_eq!(read("pwd.txt").trim(), work.to_str().unwrap(), "directory=");
    assert_eq!(read("umask.txt").trim(), "0027", "umask=");
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(work.join("made"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o640,
        "file created under umask=027 has mode {mode:o}"
    );
}

// ---------------------------------------------------------------------------------------------

/// Runs a config that must be rejected: non-zero exit within a few seconds, output naming
/// every string in `must_mention`, and nothing started (the `canary` program never ran).
fn bad_config(kind: Kind, sections: &str, must_mention: &[&str]) {
    let d = Daemon::prepare(
        kind,
        &config_with(&format!(
            "[program:canary]\ncommand=sh -c 'touch {{dir}}/started; exec sleep 1000'\n\
             startsecs=0\n\n{sections}"
        )),
    );
    let out = d.run_to_exit(secs(10.0));
    let ctx = || format!("{out}\n{}", d.diagnostics());
    let code = out.code();
    assert!(
        code.is_some() && code != Some(0),
        "a bad config must make supervisord exit non-zero\n{}",
        ctx()
    );
    assert!(
        out.elapsed < secs(5.0),
        "took {:?} to reject the config\n{}",
        out.elapsed,
        ctx()
    );
    let text = out.combined();
    for m in must_mention {
        assert!(
            text.contains(m),
            "error output does not mention {m:?}\n{}",
            ctx()
        );
    }
    assert!(!d.path("started").exists(), "canary was started\n{}", ctx());
    assert!(
        !d.log_text().contains("spawned:"),
        "something was spawned\n{}",
        ctx()
    );
}

both!(bad_missing_command => python_bad_config_missing_command, ours_bad_config_missing_command);
fn bad_missing_command(kind: Kind) {
    bad_config(
        kind,
        "[program:nocmd]\nstartsecs=1\n",
        &["program:nocmd", "command"],
    );
}

both!(bad_startsecs => python_bad_config_startsecs_not_integer, ours_bad_config_startsecs_not_integer);
fn bad_startsecs(kind: Kind) {
    bad_config(
        kind,
        "[program:x]\ncommand=sleep 10\nstartsecs=abc\n",
        &["program:x", "'abc'"],
    );
}

both!(bad_group_member => python_bad_config_group_names_unknown_program, ours_bad_config_group_names_unknown_program);
fn bad_group_member(kind: Kind) {
    // Python names `[group:g]` only when the unknown program is the group's first member
    // (it reuses the loop variable): `programs=x,nosuch` would say `[program:x]`.
    bad_config(
        kind,
        "[program:x]\ncommand=sleep 10\n\n[group:g]\nprograms=nosuch\n",
        &["group:g", "nosuch"],
    );
}

both!(bad_signal => python_bad_config_stopsignal, ours_bad_config_stopsignal);
fn bad_signal(kind: Kind) {
    bad_config(
        kind,
        "[program:x]\ncommand=sleep 10\nstopsignal=FOO\n",
        &["program:x", "'FOO'", "signal"],
    );
}

both!(bad_syntax => python_bad_config_syntax_error, ours_bad_config_syntax_error);
fn bad_syntax(kind: Kind) {
    bad_config(
        kind,
        "[program:x]\ncommand=sleep 10\nthis line has no equals\n",
        &["this line has no equals"],
    );
}

// ---------------------------------------------------------------------------------------------

/// The state lines of one run of the side-by-side config, by process (no `waiting` lines).
fn side_by_side_events(d: &mut Daemon) -> Vec<StateEvent> {
    d.expect_log(&success_line("stable", 1), secs(15.0));
    d.expect_log("gave up: crash", secs(15.0));
    d.expect_log("exited: once", secs(15.0));
    let status = d.stop();
    assert!(status.success(), "exit {status}\n{}", d.diagnostics());
    state_events(&d.log_text())
        .into_iter()
        .filter(|e| e.1 != "waiting")
        .collect()
}

#[test]
fn same_state_sequence_as_python() {
    let conf = config_with(
        "[program:stable]\ncommand=sleep 1000\nstartsecs=1\n\n\
         [program:crash]\ncommand=sh -c 'exit 3'\nstartretries=1\nstartsecs=2\n\n\
         [program:once]\ncommand=sh -c 'sleep 1.5; exit 0'\nstartsecs=1\nautorestart=false\n",
    );
    let mut py = Daemon::start(Kind::Python, &conf);
    let mut ours = Daemon::start(Kind::Ours, &conf);
    let py_ev = side_by_side_events(&mut py);
    let ours_ev = side_by_side_events(&mut ours);
    for name in ["stable", "crash", "once"] {
        assert_eq!(
            events_of(&ours_ev, name),
            events_of(&py_ev, name),
            "state sequence of {name:?} differs (left: ours, right: python)\n{}\n{}",
            ours.diagnostics(),
            py.diagnostics()
        );
    }
    assert!(
        !events_of(&py_ev, "crash").is_empty(),
        "python produced no events"
    );
}
