//! End to end: readiness and liveness checks (docs/extensions.md, "Readiness and liveness
//! checks"): `ready_check=` with tcp://, exec: and log: (RUNNING only once ready; a dependant
//! waits for it), a check that never passes (a failed start, then FATAL), `health_check=`
//! (unhealthy, restart, the PROCESS_HEALTH_* events, which an EVENT subscriber never sees),
//! config errors, and Python ignoring the options.

use std::process::Command;

use supervisor_tests::rpc::{rpc_config, s, socket_path, RpcClient, Value};
use supervisor_tests::{
    fixtures_dir, free_port, run_command, secs, timed_events, venv_python, wait_for, Daemon, Kind,
};

fn client(d: &Daemon) -> RpcClient {
    let c = RpcClient::unix(socket_path(d.dir()));
    c.wait_ready(secs(10.0)).expect("daemon answers RPC");
    c
}

fn member(v: &Value, name: &str) -> Value {
    match v {
        Value::Struct(m) => m
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no member {name} in {v:?}")),
        _ => panic!("not a struct: {v:?}"),
    }
}

fn string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        v => panic!("not a string: {v:?}"),
    }
}

fn info(c: &RpcClient, name: &str) -> Value {
    c.ok("supervisor_rs.getProcessInfo", &[s(name)])
}

fn ctl(d: &Daemon, args: &[&str]) -> String {
    let mut cmd = Command::new(Kind::Ours.bin("supervisorctl"));
    cmd.arg("-s")
        .arg(format!("unix://{}", socket_path(d.dir()).display()))
        .args(args);
    run_command(cmd, secs(30.0)).stdout
}

/// A python program that listens on 127.0.0.1:`port` after `delay` seconds.
fn late_listener(port: u16, delay: f64) -> String {
    format!(
        "{} -c 'import socket,time; time.sleep({delay}); s=socket.socket(); \
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", {port})); \
         s.listen(); time.sleep(1000)'",
        venv_python().display()
    )
}

fn first(log: &str, process: &str, kind: &str) -> f64 {
    timed_events(log)
        .iter()
        .find(|e| e.process == process && e.kind == kind)
        .map(|e| e.time)
        .unwrap_or_else(|| panic!("no '{kind}' for {process} in\n{log}"))
}

#[test]
fn ours_tcp_ready_check_holds_starting_until_the_port_answers() {
    let port = free_port();
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            &format!(
                "[program:db]\ncommand={}\nstartsecs=0\nready_check=tcp://127.0.0.1:{port}\n\
                 ready_check_interval=1\n\n\
                 [program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db\n",
                late_listener(port, 3.0)
            ),
            None,
        ),
    );
    let c = client(&d);
    // STARTING well past startsecs=0, and the status says why.
    std::thread::sleep(secs(1.5));
    let i = info(&c, "db");
    assert_eq!(string(member(&i, "statename")), "STARTING", "{i:?}");
    assert_eq!(
        string(member(&i, "ready_check")),
        format!("tcp://127.0.0.1:{port}")
    );
    assert!(ctl(&d, &["status", "db"]).contains("not ready yet"));
    let log = d.expect_log("success: web entered RUNNING state", secs(20.0));
    assert!(
        log.contains(&format!(
            "success: db entered RUNNING state, process is ready (ready_check tcp://127.0.0.1:{port})"
        )),
        "{log}"
    );
    let ready = first(&log, "db", "success");
    assert!(ready - first(&log, "db", "spawned") >= 2.5, "{log}");
    assert!(first(&log, "web", "spawned") >= ready, "{log}");
    assert!(d.stop().success());
}

#[test]
fn ours_log_and_exec_ready_checks() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:logged]\ncommand=sh -c 'echo booting; sleep 1; echo \"listening on :8080\" >&2; exec sleep 1000'\n\
             ready_check=log:^listening on :[0-9]+$\n\n\
             [program:flagged]\ncommand=sh -c 'sleep 1; touch {dir}/flag; exec sleep 1000'\n\
             ready_check=exec:test -f {dir}/flag\nready_check_interval=1\n",
            None,
        ),
    );
    let log = d.expect_log(
        "success: logged entered RUNNING state, process is ready",
        secs(15.0),
    );
    assert!(
        log.contains("(ready_check log:^listening on :[0-9]+$)"),
        "{log}"
    );
    let log = d.expect_log(
        "success: flagged entered RUNNING state, process is ready",
        secs(15.0),
    );
    // The exec probes are our children: their reaping is not logged as an unknown pid.
    assert!(!log.contains("reaped unknown pid"), "{log}");
    assert!(d.stop().success());
}

#[test]
fn ours_http_checks_read_the_status() {
    let port = free_port();
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            &format!(
                "[program:web]\ncommand={} -m http.server {port} --bind 127.0.0.1\n\
                 ready_check=http://127.0.0.1:{port}/\n\
                 health_check=http://127.0.0.1:{port}/no/such/page?x=1\n\
                 health_check_interval=1\nhealth_check_failures=2\nhealth_check_action=nothing\n",
                venv_python().display()
            ),
            None,
        ),
    );
    let log = d.expect_log("web is unhealthy: 2 failed checks", secs(20.0));
    assert!(
        log.contains(&format!(
            "success: web entered RUNNING state, process is ready (ready_check http://127.0.0.1:{port}/)"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "http://127.0.0.1:{port}/no/such/page?x=1: status 404"
        )),
        "{log}"
    );
    let c = client(&d);
    let i = info(&c, "web");
    assert_eq!(string(member(&i, "statename")), "RUNNING");
    assert_eq!(string(member(&i, "health")), "unhealthy");
    assert!(ctl(&d, &["status", "web"]).contains("unhealthy (2 failed checks:"));
    let metrics = c.get("/metrics").expect("GET /metrics").text();
    assert!(
        metrics.contains("supervisor_process_healthy{group=\"web\",name=\"web\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(
            |l| l.starts_with("supervisor_process_check_failures{group=\"web\",name=\"web\"} ")
        ),
        "{metrics}"
    );
    assert!(d.stop().success());
}

/// A program speaking sd_notify: READY=1 with a STATUS= after 2 s, WATCHDOG=1 for 2 s, then
/// silence.
const NOTIFIER: &str = "import os, socket, time
addr = os.environ['NOTIFY_SOCKET']
if addr.startswith('@'):
    addr = '\\0' + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
time.sleep(2)
s.sendto(b'READY=1\\nSTATUS=serving 3 clients', addr)
for i in range(5):
    s.sendto(b'WATCHDOG=1', addr)
    time.sleep(0.4)
time.sleep(1000)
";

#[test]
fn ours_notify_checks_speak_sd_notify() {
    let mut d = Daemon::prepare(
        Kind::Ours,
        &rpc_config(
            &format!(
                "[program:app]\ncommand={} {{dir}}/notifier.py\nready_check=notify\n\
                 health_check=notify\nhealth_check_interval=1\nhealth_check_failures=2\n\
                 health_check_action=nothing\n\n\
                 [program:plain]\ncommand=sh -c 'echo \"socket=[$NOTIFY_SOCKET]\"; exec sleep 1000'\n",
                venv_python().display()
            ),
            None,
        ),
    );
    std::fs::write(d.path("notifier.py"), NOTIFIER).expect("script");
    d.spawn();
    let log = d.expect_log(
        "success: app entered RUNNING state, process is ready (ready_check notify)",
        secs(20.0),
    );
    assert!(
        first(&log, "app", "success") - first(&log, "app", "spawned") >= 1.5,
        "{log}"
    );
    d.expect_log("app is healthy (health_check notify)", secs(10.0));
    let c = client(&d);
    assert!(string(member(&info(&c, "app"), "description")).contains("status: serving 3 clients"));
    let log = d.expect_log(
        "app is unhealthy: 2 failed checks (health_check notify): no WATCHDOG=1 within 1s",
        secs(20.0),
    );
    assert!(!log.contains("reaped unknown pid"), "{log}");
    // Programs without a notify check do not get a NOTIFY_SOCKET.
    let out = std::fs::read_to_string(
        std::fs::read_dir(d.dir())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("plain-stdout"))
            })
            .expect("plain's stdout log"),
    )
    .unwrap_or_default();
    assert!(out.contains("socket=[]"), "{out}");
    assert!(d.stop().success());
}

#[test]
fn ours_a_ready_check_that_never_passes_ends_fatal() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:never]\ncommand=sleep 1000\nstartretries=1\n\
             ready_check=exec:exit 1\nready_check_failures=2\nready_check_interval=1\n",
            None,
        ),
    );
    let log = d.expect_log("gave up: never entered FATAL state", secs(30.0));
    assert!(
        log.contains("never not ready after 2 checks (ready_check exec:exit 1): check command exit status 1; restarting"),
        "{log}"
    );
    let c = client(&d);
    let i = c.ok("supervisor.getProcessInfo", &[s("never")]);
    assert_eq!(
        string(member(&i, "spawnerr")),
        "not ready after 2 checks (ready_check): check command exit status 1"
    );
    assert!(d.stop().success());
}

/// An event_recorder listener writing to `{dir}/<file>`.
fn recorder(name: &str, file: &str, events: &str) -> String {
    format!(
        "[eventlistener:{name}]\ncommand={} {} {{dir}}/{file}\nevents={events}\nstartsecs=0\n\
         autorestart=true\n\n",
        venv_python().display(),
        fixtures_dir().join("event_recorder.py").display()
    )
}

/// The event names a recorder wrote.
fn recorded(d: &Daemon, file: &str) -> Vec<String> {
    std::fs::read_to_string(d.path(file))
        .unwrap_or_default()
        .lines()
        .step_by(2)
        .filter_map(|l| {
            l.split(' ')
                .find_map(|t| t.strip_prefix("eventname:"))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn ours_health_check_unhealthy_restarts_and_emits_events_only_to_subscribers() {
    let mut d = Daemon::prepare(
        Kind::Ours,
        &rpc_config(
            &format!(
                "{}{}[program:app]\ncommand=sleep 1000\nstartsecs=1\n\
                 health_check=exec:test -f {{dir}}/healthy\nhealth_check_interval=1\n\
                 health_check_failures=2\n",
                recorder("health", "health.txt", "PROCESS_HEALTH"),
                recorder("everything", "all.txt", "EVENT"),
            ),
            None,
        ),
    );
    std::fs::write(d.path("healthy"), "").expect("flag");
    d.spawn();
    let c = client(&d);
    d.expect_log("app is healthy (health_check exec:test -f", secs(15.0));
    let i = info(&c, "app");
    assert_eq!(string(member(&i, "health")), "healthy");
    assert!(ctl(&d, &["status", "app"]).contains("; healthy"));
    std::fs::remove_file(d.path("healthy")).expect("rm flag");
    let log = d.expect_log(
        "app: starting again (health_check_action=restart)",
        secs(20.0),
    );
    assert!(
        log.contains("app is unhealthy: 2 failed checks (health_check exec:test -f"),
        "{log}"
    );
    assert_eq!(log.matches("spawned: 'app'").count(), 2, "{log}");
    let events = wait_for(secs(10.0), || {
        let e = recorded(&d, "health.txt");
        (e.len() >= 2).then_some(e)
    })
    .unwrap_or_else(|| panic!("no health events\n{}", d.diagnostics()));
    assert_eq!(
        &events[..2],
        &[
            "PROCESS_HEALTH_HEALTHY".to_string(),
            "PROCESS_HEALTH_UNHEALTHY".to_string()
        ]
    );
    // The EVENT subscriber got the state changes of the restart, but no health event.
    let all = recorded(&d, "all.txt");
    assert!(all.iter().any(|e| e == "PROCESS_STATE_STOPPING"), "{all:?}");
    assert!(
        all.iter().all(|e| !e.starts_with("PROCESS_HEALTH")),
        "{all:?}"
    );
    assert!(d.stop().success());
}

#[test]
fn ours_bad_check_values_are_config_errors() {
    for (opt, needle) in [
        ("ready_check=udp://x:1", "is not a check"),
        ("ready_check=tcp://localhost", "has no port"),
        (
            "ready_check=https://localhost/",
            "https:// is not supported",
        ),
        (
            "ready_check=http://h/\nready_check_http_status=600",
            "not an HTTP status",
        ),
        (
            "ready_check=tcp://h:1\nready_check_http_status=200",
            "not an http:// check",
        ),
        ("health_check=log:ready", "readiness check only"),
        ("ready_check=log:(unclosed", "bad regular expression"),
        (
            "ready_check_interval=2",
            "ready_check_interval is set but ready_check is not",
        ),
        (
            "health_check=tcp://h:1\nhealth_check_action=explode",
            "is not restart, stop or nothing",
        ),
    ] {
        let d = Daemon::prepare(
            Kind::Ours,
            &supervisor_tests::config_with(&format!("[program:a]\ncommand=sleep 1\n{opt}\n")),
        );
        let out = d.run_to_exit(secs(10.0));
        assert_ne!(out.code(), Some(0), "{opt}: {out}");
        let text = out.combined();
        assert!(
            text.contains(needle) && text.contains("program:a"),
            "{opt}: {text}"
        );
    }
}

/// Python Supervisor ignores the check options (startsecs decides) and the config loads.
#[test]
fn python_ignores_the_check_options() {
    let mut d = Daemon::start(
        Kind::Python,
        &supervisor_tests::config_with(
            "[program:a]\ncommand=sleep 1000\nstartsecs=1\nready_check=tcp://127.0.0.1:1\n\
             ready_check_failures=1\nhealth_check=exec:false\nhealth_check_action=stop\n",
        ),
    );
    d.expect_log("success: a entered RUNNING state", secs(15.0));
    assert!(d.stop().success());
}
