//! End to end: the supervisor-rs extensions of docs/extensions.md (restart policy, environment
//! files and `[program-default]`, containers, packaging). `ours_*` tests exercise our daemon;
//! `python_*` tests prove that Python Supervisor 4.3.0 still loads configs that use them.

use std::process::Command;

use supervisor_tests::rpc::{rpc_config, s, socket_path, RpcClient, Value};
use supervisor_tests::{
    ini_value, run_command, secs, timed_events, wait_for, workspace_root, Daemon, Kind, TimedEvent,
};

fn times(events: &[TimedEvent], process: &str, kind: &str) -> Vec<f64> {
    events
        .iter()
        .filter(|e| e.process == process && e.kind == kind)
        .map(|e| e.time)
        .collect()
}

fn client(d: &Daemon) -> RpcClient {
    let c = RpcClient::unix(socket_path(d.dir()));
    c.wait_ready(secs(10.0)).expect("daemon answers RPC");
    c
}

/// A member of an XML-RPC struct.
fn member<'a>(v: &'a Value, name: &str) -> &'a Value {
    match v {
        Value::Struct(m) => m
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no member {name} in {v:?}")),
        _ => panic!("not a struct: {v:?}"),
    }
}

fn int(v: &Value) -> i32 {
    match v {
        Value::Int(n) => *n,
        _ => panic!("not an int: {v:?}"),
    }
}

fn string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => panic!("not a string: {v:?}"),
    }
}

/// Our `supervisorctl -c <conf> <args>`: (stdout, exit code).
fn ctl(d: &Daemon, args: &[&str]) -> (String, Option<i32>) {
    let mut cmd = Command::new(Kind::Ours.bin("supervisorctl"));
    cmd.arg("-c").arg(d.path("supervisord.conf")).args(args);
    let out = run_command(cmd, secs(20.0));
    (out.stdout.clone(), out.code())
}

/// Our `supervisorctl -s unix://<dir>/supervisor.sock <args>` (configs without [supervisorctl]).
fn ctl_sock(d: &Daemon, args: &[&str]) -> (String, Option<i32>) {
    let mut cmd = Command::new(Kind::Ours.bin("supervisorctl"));
    cmd.arg("-s")
        .arg(format!("unix://{}", socket_path(d.dir()).display()))
        .args(args);
    let out = run_command(cmd, secs(20.0));
    (out.stdout.clone(), out.code())
}

const CTL_SECTION: &str = "[supervisorctl]\nserverurl=unix://{dir}/supervisor.sock\n\n";

// ---------------------------------------------------------------------------------------------
// Restart policy

#[test]
fn ours_restart_delay_pauses_before_each_autorestart() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            &format!(
                "{CTL_SECTION}[program:paced]\ncommand=sh -c 'sleep 1.5; exit 3'\nstartsecs=1\n\
                 restart_delay=3\n"
            ),
            None,
        ),
    );
    let log = d.expect_log("exited: paced (exit status 3; not expected)", secs(15.0));
    let c = client(&d);
    // The 3 s pause has just begun.
    let info = c.ok("supervisor_rs.getProcessInfo", &[s("paced")]);
    assert_eq!(string(member(&info, "statename")), "EXITED", "{info:?}");
    assert_eq!(int(member(&info, "restart_delay")), 3);
    assert!(int(member(&info, "next_start")) > 0, "{info:?}");
    let desc = string(member(&info, "description"));
    assert!(desc.contains("(restart_delay)"), "{desc}");
    let (status, _) = ctl(&d, &["status", "paced"]);
    assert!(status.contains("next start in"), "{status}");
    // Supervisor's own getProcessInfo is unchanged (no extra members).
    let plain = c.ok("supervisor.getProcessInfo", &[s("paced")]);
    match &plain {
        Value::Struct(m) => assert!(m.iter().all(|(k, _)| k != "restart_delay")),
        _ => panic!("{plain:?}"),
    }
    drop(log);
    let log = d
        .wait_log_count("spawned: 'paced'", 3, secs(30.0))
        .unwrap_or_else(|e| panic!("{e}"));
    let ev = timed_events(&log);
    let exits = times(&ev, "paced", "exited");
    let spawns = times(&ev, "paced", "spawned");
    for (exit, next) in exits.iter().zip(spawns.iter().skip(1)) {
        let gap = next - exit;
        // Upstream restarts at once (the run lasted more than a second).
        assert!(
            gap >= 2.9,
            "restarted {gap:.3}s after the exit, restart_delay=3\n{}",
            d.diagnostics()
        );
    }
    assert!(d.stop().success());
}

#[test]
fn ours_backoff_max_caps_the_retry_delay() {
    let mut d = Daemon::start(
        Kind::Ours,
        &supervisor_tests::config_with(
            "[program:flappy]\ncommand=sh -c 'exit 1'\nstartsecs=2\nstartretries=5\n\
             backoff_max=1\n",
        ),
    );
    let log = d.expect_log("gave up: flappy entered FATAL state", secs(30.0));
    let spawns = times(&timed_events(&log), "flappy", "spawned");
    assert_eq!(spawns.len(), 6, "{}", d.diagnostics());
    let gaps: Vec<f64> = spawns.windows(2).map(|w| w[1] - w[0]).collect();
    // Upstream waits 1, 2, 3, 4, 5 s (15 s in all) between these starts.
    for g in &gaps {
        assert!(*g < 2.5, "gaps {gaps:?} with backoff_max=1");
    }
    assert!(gaps.iter().sum::<f64>() < 10.0, "gaps {gaps:?}");
    assert!(d.stop().success());
}

#[test]
fn ours_retry_fatal_after_leaves_fatal_n_times_and_stop_cancels() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            &format!(
                "{CTL_SECTION}[program:limited]\ncommand=sh -c 'exit 1'\nstartsecs=2\n\
                 startretries=0\nretry_fatal_after=2\nretry_fatal_limit=2\n\n\
                 [program:forever]\ncommand=sh -c 'exit 1'\nstartsecs=2\nstartretries=0\n\
                 retry_fatal_after=2\n"
            ),
            None,
        ),
    );
    let log = d.expect_log(
        "limited stays FATAL: 2 retries (retry_fatal_limit) failed",
        secs(40.0),
    );
    assert!(
        log.contains("retrying: limited leaves FATAL state (retry_fatal_after), attempt 1 of 2")
    );
    assert!(
        log.contains("retrying: limited leaves FATAL state (retry_fatal_after), attempt 2 of 2")
    );
    assert_eq!(
        log.matches("gave up: limited entered FATAL state").count(),
        3,
        "{}",
        d.diagnostics()
    );
    let ev = timed_events(&log);
    let gave_up = times(&ev, "limited", "gave up");
    let spawns = times(&ev, "limited", "spawned");
    for (fatal, next) in gave_up.iter().zip(spawns.iter().skip(1)) {
        assert!(
            next - fatal >= 1.9,
            "retried {:.3}s after FATAL",
            next - fatal
        );
    }

    // `forever` retries with no limit; its status says when; a stop cancels the retry.
    let c = client(&d);
    let info = wait_fatal_with_retry(&c, "forever");
    assert_eq!(int(member(&info, "retry_fatal_after")), 2);
    assert_eq!(int(member(&info, "retry_fatal_limit")), 0);
    let (status, _) = ctl(&d, &["status", "forever"]);
    assert!(status.contains("(retry_fatal_after)"), "{status}");
    let (out, code) = ctl(&d, &["stop", "forever"]);
    assert_eq!(code, Some(0), "{out}");
    d.expect_log(
        "forever stays FATAL: its retry (retry_fatal_after) was cancelled",
        secs(5.0),
    );
    let before = d.log_text().matches("spawned: 'forever'").count();
    std::thread::sleep(secs(3.5));
    assert_eq!(
        d.log_text().matches("spawned: 'forever'").count(),
        before,
        "started again after the stop\n{}",
        d.diagnostics()
    );
    let info = c.ok("supervisor_rs.getProcessInfo", &[s("forever")]);
    assert_eq!(string(member(&info, "statename")), "FATAL");
    assert_eq!(int(member(&info, "next_start")), 0);
    assert!(d.stop().success());
}

/// Polls until `name` is FATAL with a retry scheduled; returns its extended info.
fn wait_fatal_with_retry(c: &RpcClient, name: &str) -> Value {
    wait_for(secs(20.0), || {
        let info = c.ok("supervisor_rs.getProcessInfo", &[s(name)]);
        let fatal = string(member(&info, "statename")) == "FATAL";
        (fatal && int(member(&info, "next_start")) > 0).then_some(info)
    })
    .unwrap_or_else(|| panic!("{name} never FATAL with a retry pending"))
}

/// Python Supervisor 4.3.0 ignores the extension options and `[program-default]`: the config
/// loads and runs there (with Supervisor's behaviour; the environment file is not read).
#[test]
fn python_ignores_the_extension_options() {
    let mut d = Daemon::start(
        Kind::Python,
        &supervisor_tests::config_with(
            "[program-default]\nstartsecs=7\n\n\
             [program:up]\ncommand=sleep 1000\nstartsecs=1\nrestart_delay=5\nbackoff_max=10\n\
             retry_fatal_after=60\nretry_fatal_limit=3\nenvironment_file=-/nonexistent.env\n\
             exit_on_fatal=true\nessential=false\n",
        ),
    );
    d.expect_log("success: up entered RUNNING state", secs(15.0));
    assert!(d.stop().success());
}

// ---------------------------------------------------------------------------------------------
// Environment files and [program-default]

/// The environment of a live pid, from /proc.
fn environ_of(pid: i32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn running_pid(c: &RpcClient, name: &str) -> i32 {
    wait_for(secs(15.0), || {
        let info = c.ok("supervisor.getProcessInfo", &[s(name)]);
        (string(member(&info, "statename")) == "RUNNING").then(|| int(member(&info, "pid")))
    })
    .unwrap_or_else(|| panic!("{name} never RUNNING"))
}

#[test]
fn ours_environment_files_and_program_default_reach_the_children() {
    let mut d = Daemon::prepare(
        Kind::Ours,
        &rpc_config(
            "[program-default]\nstartsecs=1\nenvironment_file=common.env, -{dir}/optional.env\n\
             autorestart=false\n\n\
             [program:web]\ncommand=sleep 1000\nenvironment=LEVEL=web\n\n\
             [program:worker]\ncommand=sleep 1001\nenvironment_file=common.env\n   worker.env\n\n\
             [eventlistener:quiet]\ncommand=sleep 1002\nevents=TICK_60\n",
            None,
        ),
    );
    std::fs::write(
        d.path("common.env"),
        "# shared\nexport LEVEL=common\nGREETING=\"hello world\"\nRAW='$HOME'\n",
    )
    .unwrap();
    std::fs::write(d.path("worker.env"), "LEVEL=worker # later file wins\n").unwrap();
    d.spawn();
    let c = client(&d);
    let web = environ_of(running_pid(&c, "web"));
    let worker = environ_of(running_pid(&c, "worker"));
    for (env, level) in [(&web, "web"), (&worker, "worker")] {
        assert!(env.contains(&format!("LEVEL={level}")), "{env:?}");
        assert!(env.contains(&"GREETING=hello world".to_string()), "{env:?}");
    }
    assert!(web.contains(&"RAW=$HOME".to_string()), "{web:?}");
    let files = |name: &str| match member(
        &c.ok("supervisor_rs.getProcessInfo", &[s(name)]),
        "environment_files",
    ) {
        Value::Array(a) => a.iter().map(string).collect::<Vec<_>>(),
        v => panic!("{v:?}"),
    };
    let path = |f: &str| d.path(f).display().to_string();
    assert_eq!(files("web"), vec![path("common.env"), path("optional.env")]);
    // worker sets its own environment_file=, which replaces the default's list.
    assert_eq!(
        files("worker"),
        vec![path("common.env"), path("worker.env")]
    );
    // The event listener does not inherit [program-default] (no environment file).
    let info = c.ok("supervisor_rs.getProcessInfo", &[s("quiet")]);
    assert_eq!(
        member(&info, "environment_files"),
        &Value::Array(Vec::new())
    );

    // Editing a file and `update` restarts the program that reads it with the new value.
    std::fs::write(d.path("worker.env"), "LEVEL=worker-v2\n").unwrap();
    let (out, code) = ctl_sock(&d, &["update"]);
    assert_eq!(code, Some(0), "{out}");
    let pid = wait_for(secs(15.0), || {
        let pid = running_pid(&c, "worker");
        environ_of(pid)
            .contains(&"LEVEL=worker-v2".to_string())
            .then_some(pid)
    });
    assert!(
        pid.is_some(),
        "worker not restarted with the new file\n{}",
        d.diagnostics()
    );
    assert!(d.stop().success());
}

#[test]
fn ours_missing_environment_file_is_a_clear_startup_error() {
    let d = Daemon::prepare(
        Kind::Ours,
        &supervisor_tests::config_with(
            "[program:app]\ncommand=sleep 1\nenvironment_file=app.env\n",
        ),
    );
    let out = d.run_to_exit(secs(10.0));
    assert_ne!(out.code(), Some(0), "{out}");
    let text = out.combined();
    assert!(
        text.contains("environment_file")
            && text.contains("[program:app]") | text.contains("'program:app'")
            && text.contains(&d.path("app.env").display().to_string()),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// config-examples/

/// Every `config-examples/*.conf` starts under our supervisord in place (so `%(here)s` is the
/// examples directory), answers `supervisorctl status` when it has a `[supervisorctl]` section,
/// and stops cleanly on SIGTERM.
#[test]
fn ours_every_config_example_starts_and_stops() {
    let dir = workspace_root().join("config-examples");
    let mut confs: Vec<_> = std::fs::read_dir(&dir)
        .expect("config-examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    confs.sort();
    assert!(confs.len() >= 2, "{confs:?}");
    for conf in confs {
        let text = std::fs::read_to_string(&conf).expect("read example");
        let log = ini_value(&text, "supervisord", "logfile").expect("example sets logfile=");
        let offset = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        let mut child = Command::new(Kind::Ours.supervisord())
            .arg("-n")
            .arg("-c")
            .arg(&conf)
            .current_dir(workspace_root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start supervisord");
        let fresh = || {
            let all = std::fs::read(&log).unwrap_or_default();
            String::from_utf8_lossy(all.get(offset..).unwrap_or_default()).into_owned()
        };
        let started = wait_for(secs(15.0), || {
            fresh()
                .contains("supervisord started with pid")
                .then_some(())
        });
        if started.is_none() {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{} did not start\n{}\nstderr: {}",
                conf.display(),
                fresh(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if text.contains("[supervisorctl]") {
            let mut cmd = Command::new(Kind::Ours.bin("supervisorctl"));
            cmd.arg("-c").arg(&conf).arg("status");
            let out = run_command(cmd, secs(20.0));
            assert!(
                !out.stdout.is_empty() && !out.stdout.contains("refused"),
                "{}: supervisorctl status\n{out}",
                conf.display()
            );
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = wait_for(secs(30.0), || child.try_wait().ok().flatten());
        let Some(status) = status else {
            let _ = child.kill();
            panic!("{} did not stop on SIGTERM\n{}", conf.display(), fresh());
        };
        assert!(
            status.success(),
            "{}: exit {status}\n{}",
            conf.display(),
            fresh()
        );
    }
}
