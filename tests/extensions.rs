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
    let metrics = c.get("/metrics").expect("GET /metrics").text();
    for family in [
        "supervisor_process_next_start_timestamp_seconds",
        "supervisor_process_fatal_retries",
    ] {
        assert!(
            metrics.contains(&format!("{family}{{group=\"forever\",name=\"forever\"}}")),
            "{family} missing\n{metrics}"
        );
    }
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
        if let Some(port) = ini_value(&text, "inet_http_server", "port") {
            // The dashboard answers on the configured address.
            let port: u16 = port
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse().ok())
                .expect("inet port");
            let page = RpcClient::tcp(port, None).get("/");
            assert!(
                page.as_ref().is_ok_and(|r| r.status == 200),
                "{}: GET / on port {port}: {:?}",
                conf.display(),
                page.map(|r| r.status)
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

// ---------------------------------------------------------------------------------------------
// Containers: essential / exit_on_fatal, and supervisord as PID 1

#[test]
fn ours_essential_exit_stops_the_rest_in_order_and_sets_the_exit_code() {
    let mut d = Daemon::start(
        Kind::Ours,
        &supervisor_tests::config_with(
            "[program:db]\ncommand=sleep 1000\npriority=1\nstartsecs=1\n\n\
             [program:app]\ncommand=sh -c 'sleep 2.5; exit 5'\npriority=10\nstartsecs=1\n\
             essential=true\n\n\
             [program:web]\ncommand=sleep 1001\npriority=20\nstartsecs=1\n",
        ),
    );
    let status = d
        .wait_exit(secs(30.0))
        .expect("supervisord exits by itself");
    assert_eq!(status.code(), Some(5), "{}", d.diagnostics());
    let log = d.log_text();
    let crit = "essential app exited (exit status 5): stopping all processes, \
                supervisord will exit with code 5";
    assert!(log.contains(crit), "{}", d.diagnostics());
    let pos = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?}\n{log}"))
    };
    // Highest priority first; app itself is never restarted.
    assert!(pos(crit) < pos("stopped: web") && pos("stopped: web") < pos("stopped: db"));
    assert_eq!(log.matches("spawned: 'app'").count(), 1, "{log}");
}

#[test]
fn ours_exit_on_fatal_exits_with_the_last_exit_code() {
    let mut d = Daemon::start(
        Kind::Ours,
        &supervisor_tests::config_with(
            "[program:other]\ncommand=sleep 1000\nstartsecs=1\n\n\
             [program:broken]\ncommand=sh -c 'exit 3'\nstartsecs=1\nstartretries=1\n\
             exit_on_fatal=true\n",
        ),
    );
    let status = d
        .wait_exit(secs(30.0))
        .expect("supervisord exits by itself");
    assert_eq!(status.code(), Some(3), "{}", d.diagnostics());
    let log = d.log_text();
    assert!(
        log.contains(
            "broken entered FATAL state (exit_on_fatal=true): stopping all processes, \
             supervisord will exit with code 3"
        ),
        "{log}"
    );
    assert!(
        log.contains("stopped: other (terminated by SIGTERM)"),
        "{log}"
    );
}

/// `(pid, state letter, ppid)` of every process.
fn proc_table() -> Vec<(i32, char, i32)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let mut f = rest.split_whitespace();
            let state = f.next()?.chars().next()?;
            let ppid = f.next()?.parse().ok()?;
            Some((pid, state, ppid))
        })
        .collect()
}

/// Every process below `root` (not `root` itself).
fn tree_below(root: i32) -> Vec<(i32, char)> {
    let table = proc_table();
    let mut found: Vec<(i32, char)> = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for &(pid, state, ppid) in &table {
            if ppid == parent && !found.iter().any(|(p, _)| *p == pid) {
                found.push((pid, state));
                parents.push(pid);
            }
        }
    }
    found
}

/// supervisord as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`).
struct Pid1 {
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Pid1 {
    /// `None` when this machine cannot create PID namespaces (the test then says so).
    fn start(programs: &str) -> Option<Pid1> {
        let probe = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("SKIPPED: unshare --pid --fork --mount-proc does not work here");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("sv-pid1-")
            .tempdir()
            .expect("temp dir");
        let conf = dir.path().join("supervisord.conf");
        let text = supervisor_tests::config_with(programs)
            .replace("{dir}", dir.path().to_str().expect("utf-8 dir"));
        std::fs::write(&conf, text).expect("write config");
        let child = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(Kind::Ours.supervisord())
            .arg("-n")
            .arg("-c")
            .arg(&conf)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start unshare");
        Some(Pid1 { dir, child })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("supervisord.log")).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str, n: usize) -> String {
        wait_for(secs(20.0), || {
            let log = self.log();
            (log.matches(needle).count() >= n).then_some(log)
        })
        .unwrap_or_else(|| panic!("no {n} x {needle:?} in\n{}", self.log()))
    }

    /// supervisord's pid as the host sees it (the child of `unshare`).
    fn daemon_pid(&self) -> i32 {
        let unshare = self.child.id() as i32;
        wait_for(secs(10.0), || {
            proc_table()
                .into_iter()
                .find(|&(_, _, ppid)| ppid == unshare)
                .map(|(pid, _, _)| pid)
        })
        .expect("supervisord under unshare")
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        wait_for(secs(30.0), || self.child.try_wait().ok().flatten())
            .unwrap_or_else(|| panic!("supervisord did not exit\n{}", self.log()))
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        // Killing PID 1 of the namespace kills everything in it.
        for (pid, _) in tree_below(self.child.id() as i32) {
            // SAFETY: plain kill(2) of processes this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ours_as_pid_1_reaps_orphans_and_stops_in_order_on_sigterm() {
    // `orphans` leaves three grandchildren behind (their parent subshells exit at once), so
    // they are reparented to PID 1; each one exits after half a second.
    let Some(mut ns) = Pid1::start(
        "[program:orphans]\ncommand=sh -c 'for i in 1 2 3; do (sleep 0.5 &); done; exec sleep 1000'\n\
         priority=1\nstartsecs=1\n\n\
         [program:web]\ncommand=sleep 1001\npriority=2\nstartsecs=1\n",
    ) else {
        return;
    };
    let log = ns.wait_log("reaped unknown pid", 3);
    assert!(log.contains("reaped unknown pid"), "{log}");
    ns.wait_log("success: web entered RUNNING state", 1);
    let pid1 = ns.daemon_pid();
    assert!(
        std::fs::read_to_string(format!("/proc/{pid1}/status"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.trim_end().ends_with("\t1")),
        "supervisord is not PID 1 of its namespace"
    );
    let zombies: Vec<_> = tree_below(pid1)
        .into_iter()
        .filter(|(_, s)| *s == 'Z')
        .collect();
    assert!(zombies.is_empty(), "zombies {zombies:?}\n{log}");

    // SIGTERM (what `docker stop` sends): everything stops, highest priority first; exit 0.
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid1, libc::SIGTERM) };
    let status = ns.wait();
    assert_eq!(status.code(), Some(0), "{}", ns.log());
    let log = ns.log();
    let web = log.find("stopped: web").expect("web stopped");
    let orphans = log.find("stopped: orphans").expect("orphans stopped");
    assert!(web < orphans, "{log}");
}

#[test]
fn ours_as_pid_1_sigint_and_essential_exit_codes() {
    let Some(mut ns) = Pid1::start(
        "[program:job]\ncommand=sh -c 'sleep 2; exit 7'\nstartsecs=1\nessential=true\n\n\
         [program:side]\ncommand=sleep 1000\nstartsecs=0\n",
    ) else {
        return;
    };
    let status = ns.wait();
    assert_eq!(status.code(), Some(7), "{}", ns.log());
    assert!(ns.log().contains("stopped: side"), "{}", ns.log());

    let Some(mut ns) = Pid1::start("[program:up]\ncommand=sleep 1000\nstartsecs=1\n") else {
        return;
    };
    ns.wait_log("success: up entered RUNNING state", 1);
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(ns.daemon_pid(), libc::SIGINT) };
    let status = ns.wait();
    assert_eq!(status.code(), Some(0), "{}", ns.log());
    assert!(ns.log().contains("received SIGINT indicating exit request"));
}

// ---------------------------------------------------------------------------------------------
// Packaging: systemd Type=notify

#[test]
fn ours_notifies_systemd_ready_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::Builder::new()
        .prefix("sv-notify-")
        .tempdir()
        .expect("temp dir");
    let notify = dir.path().join("notify.sock");
    let rx = UnixDatagram::bind(&notify).expect("bind the notification socket");
    rx.set_read_timeout(Some(secs(20.0))).expect("timeout");
    let text = rpc_config("[program:up]\ncommand=sleep 1000\nstartsecs=1\n", None)
        .replace("{dir}", dir.path().to_str().expect("utf-8 dir"));
    let conf = dir.path().join("supervisord.conf");
    std::fs::write(&conf, text).expect("write config");
    let mut child = Command::new(Kind::Ours.supervisord())
        .arg("-n")
        .arg("-c")
        .arg(&conf)
        .current_dir(dir.path())
        .env("NOTIFY_SOCKET", &notify)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start supervisord");
    let pid = child.id() as i32;
    let recv = || {
        let mut buf = vec![0u8; 4096];
        let n = rx.recv(&mut buf).expect("a notification datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = recv();
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    assert!(ready.contains(&format!("MAINPID={pid}\n")), "{ready:?}");
    // Ready means ready: the control socket answers right away, without any retry.
    let c = RpcClient::unix(socket_path(dir.path()));
    let state = c.call("supervisor.getState", &[]);
    assert!(state.is_ok(), "{state:?}");
    // Children do not inherit supervisord's NOTIFY_SOCKET.
    let env = environ_of(running_pid(&c, "up"));
    assert!(
        env.iter().any(|v| v.starts_with("SUPERVISOR_ENABLED="))
            && !env.iter().any(|v| v.starts_with("NOTIFY_SOCKET=")),
        "{env:?}"
    );

    // SIGHUP: RELOADING=1, then READY=1 once the new configuration runs.
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let reloading = recv();
    assert!(reloading.starts_with("RELOADING=1\n"), "{reloading:?}");
    let ready = recv();
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");

    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let stopping = recv();
    assert!(stopping.starts_with("STOPPING=1\n"), "{stopping:?}");
    let status = wait_for(secs(20.0), || child.try_wait().ok().flatten());
    let _ = child.kill();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

/// `packaging/etc/supervisor/` (the Debian layout) with its paths moved into a temp dir runs a
/// program from `conf.d/*.conf` and answers `supervisorctl` on its control socket.
#[test]
fn ours_runs_the_debian_layout() {
    let root = tempfile::Builder::new()
        .prefix("sv-debian-")
        .tempdir()
        .expect("temp dir");
    let r = root.path().to_str().expect("utf-8 dir");
    let src = workspace_root().join("packaging/etc/supervisor/supervisord.conf");
    let text = std::fs::read_to_string(&src)
        .expect("packaging config")
        .replace("/etc/supervisor", &format!("{r}/etc/supervisor"))
        .replace("/var/", &format!("{r}/var/"));
    for d in ["etc/supervisor/conf.d", "var/log/supervisor", "var/run"] {
        std::fs::create_dir_all(root.path().join(d)).expect("mkdir");
    }
    let conf = root.path().join("etc/supervisor/supervisord.conf");
    std::fs::write(&conf, text).expect("write");
    std::fs::write(
        root.path().join("etc/supervisor/conf.d/web.conf"),
        "[program:web]\ncommand=sleep 1000\nstartsecs=1\n",
    )
    .expect("write conf.d");
    std::fs::copy(
        workspace_root().join("packaging/etc/supervisor/conf.d/README"),
        root.path().join("etc/supervisor/conf.d/README"),
    )
    .expect("copy README");
    let mut child = Command::new(Kind::Ours.supervisord())
        .arg("-n")
        .arg("-c")
        .arg(&conf)
        .current_dir(root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start supervisord");
    let c = RpcClient::unix(root.path().join("var/run/supervisor.sock"));
    let ready = c.wait_ready(secs(15.0));
    let mut status = String::new();
    if ready.is_ok() {
        let pid = running_pid(&c, "web");
        assert!(pid > 0);
        let mut cmd = Command::new(Kind::Ours.bin("supervisorctl"));
        cmd.arg("-c").arg(&conf).arg("status");
        status = run_command(cmd, secs(20.0)).stdout;
    }
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let exit = wait_for(secs(20.0), || child.try_wait().ok().flatten());
    let _ = child.kill();
    let log = std::fs::read_to_string(root.path().join("var/log/supervisor/supervisord.log"))
        .unwrap_or_default();
    ready.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(
        status.contains("web") && status.contains("RUNNING"),
        "{status}"
    );
    assert!(!status.contains("README"));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{log}");
}

/// The systemd unit passes `systemd-analyze verify` (skipped where systemd-analyze is missing).
#[test]
fn systemd_unit_verifies() {
    let unit =
        std::fs::read_to_string(workspace_root().join("packaging/systemd/supervisor.service"))
            .expect("unit file");
    assert!(
        unit.contains("Type=notify")
            && unit.contains("supervisord -n -c /etc/supervisor/supervisord.conf")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("supervisor.service");
    // Point ExecStart at the binary we built, so verify can find it.
    let ours = Kind::Ours.supervisord();
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/supervisord",
            ours.to_str().expect("utf-8 path"),
        ),
    )
    .expect("write unit");
    let out = match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED: systemd-analyze not available ({e})");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("supervisor.service"),
        "systemd-analyze verify: {stderr}"
    );
}
