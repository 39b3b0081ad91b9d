//! End to end: dependencies between programs (docs/extensions.md, "Dependencies"):
//! `depends_on=` start order, explicit starts, a FATAL dependency, the reverse stop order,
//! config errors, and the supervisord-dependent-startup plugin's options compared with the
//! real plugin running under Python Supervisor 4.3.0.

use std::process::Command;

use supervisor_tests::rpc::{rpc_config, s, socket_path, RpcClient, Value};
use supervisor_tests::{run_command, secs, timed_events, venv_python, wait_for, Daemon, Kind};

fn client(d: &Daemon) -> RpcClient {
    let c = RpcClient::unix(socket_path(d.dir()));
    c.wait_ready(secs(10.0)).expect("daemon answers RPC");
    c
}

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

fn string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => panic!("not a string: {v:?}"),
    }
}

/// Our `supervisorctl -s unix://<dir>/supervisor.sock <args>`: (stdout, exit code).
fn ctl(d: &Daemon, args: &[&str]) -> (String, Option<i32>) {
    let mut cmd = Command::new(Kind::Ours.bin("supervisorctl"));
    cmd.arg("-s")
        .arg(format!("unix://{}", socket_path(d.dir()).display()))
        .args(args);
    let out = run_command(cmd, secs(30.0));
    (out.stdout.clone(), out.code())
}

/// Time of the first main-log event of `kind` for `process`.
fn first(log: &str, process: &str, kind: &str) -> f64 {
    timed_events(log)
        .iter()
        .find(|e| e.process == process && e.kind == kind)
        .map(|e| e.time)
        .unwrap_or_else(|| panic!("no '{kind}' for {process} in\n{log}"))
}

/// Position of the first line containing `needle`.
fn line_of(log: &str, needle: &str) -> usize {
    log.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{log}"))
}

#[test]
fn ours_depends_on_orders_start_and_reverse_stop() {
    // Without the dependencies Supervisor starts web first (lowest priority) and stops db
    // first (highest priority).
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:web]\ncommand=sleep 1000\npriority=1\nstartsecs=1\ndepends_on=db,cache:*\n\n\
             [program:cache]\ncommand=sleep 1001\npriority=2\nnumprocs=2\n\
             process_name=%(program_name)s_%(process_num)d\nstartsecs=1\ndepends_on=db\n\n\
             [program:db]\ncommand=sleep 1002\npriority=900\nstartsecs=2\n",
            None,
        ),
    );
    let c = client(&d);
    // While db is STARTING, web waits and says so.
    let info = wait_for(secs(10.0), || {
        let info = c.ok("supervisor_rs.getProcessInfo", &[s("web")]);
        (!string(member(&info, "dependency_status")).is_empty()).then_some(info)
    })
    .unwrap_or_else(|| panic!("web never waiting\n{}", d.diagnostics()));
    assert_eq!(string(member(&info, "statename")), "STOPPED");
    assert!(
        string(member(&info, "description")).contains("waiting for dependencies: db"),
        "{info:?}"
    );
    let log = d.expect_log("success: web entered RUNNING state", secs(20.0));
    let db_up = first(&log, "db", "success");
    for p in ["cache_0", "cache_1"] {
        assert!(first(&log, p, "spawned") >= db_up, "{p} before db\n{log}");
    }
    let cache_up = first(&log, "cache_0", "success").max(first(&log, "cache_1", "success"));
    assert!(first(&log, "web", "spawned") >= cache_up, "{log}");
    let (status, _) = ctl(&d, &["status"]);
    assert_eq!(status.matches("RUNNING").count(), 4, "{status}");
    // SIGTERM: web, then the caches, then db.
    assert!(d.stop().success());
    let log = d.log_text();
    let web = line_of(&log, "stopped: web");
    let caches = line_of(&log, "stopped: cache_0").max(line_of(&log, "stopped: cache_1"));
    let db = line_of(&log, "stopped: db");
    assert!(web < line_of(&log, "stopped: cache_0"), "{log}");
    assert!(caches < db, "{log}");
    assert!(line_of(&log, "waiting for dependencies: db") < db);
}

#[test]
fn ours_a_fatal_dependency_leaves_the_dependant_stopped() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:db]\ncommand=sh -c 'exit 1'\nstartsecs=1\nstartretries=1\n\n\
             [program:web]\ncommand=sleep 1000\ndepends_on=db\n",
            None,
        ),
    );
    d.expect_log("gave up: db entered FATAL state", secs(20.0));
    let log = d.expect_log("not starting web: dependency db is FATAL", secs(5.0));
    assert!(!log.contains("spawned: 'web'"), "{log}");
    let c = client(&d);
    let info = c.ok("supervisor.getProcessInfo", &[s("web")]);
    assert_eq!(string(member(&info, "statename")), "STOPPED");
    assert_eq!(
        string(member(&info, "spawnerr")),
        "dependency db is FATAL (depends_on)"
    );
    let (status, _) = ctl(&d, &["status", "web"]);
    assert!(
        status.contains("STOPPED") && status.contains("dependency db is FATAL"),
        "{status}"
    );
    // An explicit start tries db again and fails with a spawn error naming web.
    let (out, code) = ctl(&d, &["start", "web"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("web: ERROR (spawn error)"), "{out}");
    assert!(d.stop().success());
}

#[test]
fn ours_start_brings_up_the_dependencies_first() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:db]\ncommand=sleep 1000\nautostart=false\nstartsecs=1\n\n\
             [program:web]\ncommand=sleep 1001\nautostart=false\nstartsecs=1\ndepends_on=db\n",
            None,
        ),
    );
    client(&d);
    let (out, code) = ctl(&d, &["start", "web"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("web: started"), "{out}");
    let log = d.log_text();
    assert!(
        first(&log, "web", "spawned") >= first(&log, "db", "success"),
        "{log}"
    );
    let (status, _) = ctl(&d, &["status"]);
    assert_eq!(status.matches("RUNNING").count(), 2, "{status}");
    // stop web, then a stop of a waiting start: stop db, start web without waiting, stop it.
    let (out, _) = ctl(&d, &["stop", "all"]);
    assert!(
        out.contains("web: stopped") && out.contains("db: stopped"),
        "{out}"
    );
    assert!(d.stop().success());
}

#[test]
fn ours_a_dependency_cycle_is_a_config_error() {
    let d = Daemon::prepare(
        Kind::Ours,
        &supervisor_tests::config_with(
            "[program:a]\ncommand=sleep 1\ndepends_on=b\n\n\
             [program:b]\ncommand=sleep 1\ndepends_on=a\n",
        ),
    );
    let out = d.run_to_exit(secs(10.0));
    assert_ne!(out.code(), Some(0), "{out}");
    let text = out.combined();
    assert!(
        text.contains("dependency cycle: [program:a] -> [program:b] -> [program:a]"),
        "{text}"
    );
    let d = Daemon::prepare(
        Kind::Ours,
        &supervisor_tests::config_with("[program:a]\ncommand=sleep 1\ndepends_on=nosuch\n"),
    );
    let out = d.run_to_exit(secs(10.0));
    assert_ne!(out.code(), Some(0), "{out}");
    let text = out.combined();
    assert!(
        text.contains("'nosuch'")
            && text.contains("[program:nosuch]")
            && text.contains("program:a"),
        "{text}"
    );
}

/// Python Supervisor ignores `depends_on` (it starts by priority): the config still loads.
#[test]
fn python_ignores_depends_on() {
    let mut d = Daemon::start(
        Kind::Python,
        &supervisor_tests::config_with(
            "[program:db]\ncommand=sleep 1000\nstartsecs=1\n\n\
             [program:web]\ncommand=sleep 1001\nstartsecs=1\ndepends_on=db\n",
        ),
    );
    d.expect_log("success: web entered RUNNING state", secs(15.0));
    assert!(d.stop().success());
}

/// The plugin's documented set-up: its event listener plus `dependent_startup` programs with
/// `autostart=false`. An init job must have exited before db starts; web waits for both.
fn plugin_config(with_listener: bool) -> String {
    let listener = if with_listener {
        format!(
            "[eventlistener:dependentstartup]\n\
             command={} -m supervisord_dependent_startup -c {{dir}}/supervisord.conf\n\
             autostart=true\nautorestart=unexpected\nstartretries=0\nexitcodes=0,3\n\
             events=PROCESS_STATE\n\n",
            venv_python().display()
        )
    } else {
        String::new()
    };
    rpc_config(
        &format!(
            "{listener}\
             [program:init]\ncommand=sh -c 'sleep 1; echo init done'\nautostart=false\n\
             autorestart=false\nstartsecs=0\ndependent_startup=true\n\n\
             [program:db]\ncommand=sleep 1000\nautostart=false\nstartsecs=1\n\
             dependent_startup=true\ndependent_startup_wait_for=init:exited\n\n\
             [program:web]\ncommand=sleep 1001\nautostart=false\nstartsecs=1\npriority=1\n\
             dependent_startup=true\ndependent_startup_wait_for=db:running init:exited\n\
             dependent_startup_inherit_priority=true\n"
        ),
        None,
    )
}

/// (process, kind) of the start-up events of init, db and web, in log order.
fn startup_sequence(log: &str) -> Vec<(String, String)> {
    timed_events(log)
        .into_iter()
        .filter(|e| ["init", "db", "web"].contains(&e.process.as_str()))
        .filter(|e| ["spawned", "success", "exited"].contains(&e.kind.as_str()))
        .map(|e| (e.process, e.kind))
        .collect()
}

#[test]
fn ours_reads_the_dependent_startup_options_like_the_plugin() {
    if Command::new(venv_python())
        .args(["-c", "import supervisord_dependent_startup"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        panic!(
            "supervisord-dependent-startup is not installed in {} (scripts/test.sh installs \
             it; or pip install supervisord-dependent-startup==1.4.0 there)",
            venv_python().display()
        );
    }
    // The real plugin under Python Supervisor 4.3.0.
    let mut py = Daemon::start(Kind::Python, &plugin_config(true));
    let py_log = py.expect_log("success: web entered RUNNING state", secs(40.0));
    assert!(py.stop().success());
    let expected = startup_sequence(&py_log);
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(p, k)| (p.to_string(), k.to_string()))
            .collect()
    };
    assert_eq!(
        expected,
        pairs(&[
            ("init", "spawned"),
            ("init", "success"),
            ("init", "exited"),
            ("db", "spawned"),
            ("db", "success"),
            ("web", "spawned"),
            ("web", "success"),
        ]),
        "{py_log}"
    );
    // Ours without the plugin, and ours with the plugin's listener left in the file.
    for with_listener in [false, true] {
        let mut d = Daemon::start(Kind::Ours, &plugin_config(with_listener));
        let log = d.expect_log("success: web entered RUNNING state", secs(40.0));
        assert_eq!(
            startup_sequence(&log),
            expected,
            "listener: {with_listener}\n{}",
            d.diagnostics()
        );
        let c = client(&d);
        let info = c.ok("supervisor_rs.getProcessInfo", &[s("web")]);
        assert_eq!(
            member(&info, "dependent_startup_wait_for"),
            &Value::Array(vec![s("db:running"), s("init:exited")])
        );
        assert_eq!(member(&info, "dependent_startup"), &Value::Boolean(true));
        assert!(d.stop().success());
    }
}
