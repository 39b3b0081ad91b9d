//! End-to-end XML-RPC tests: the same scripted calls against Python supervisord 4.3.0 and ours.
//!
//! `compare!(scenario => python_x, ours_x)`: a scenario runs a script of calls and returns a
//! normalised transcript (pids, times, uptimes, the temp dir and the random part of AUTO log
//! names replaced by placeholders), asserting on the way whatever the transcript cannot show
//! (timings, live pids). `python_x` runs it against Python alone (proving the assertions);
//! `ours_x` runs it against both concurrently and requires identical transcripts.
//!
//! `both!(scenario => python_x, ours_x)` is for HTTP-level checks asserted on each side, and
//! `ours_*` tests are robustness checks Python is not expected to pass (one-threaded medusa).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use supervisor_tests::rpc::{
    b, free_port, i, rpc_config, s, socket_path, CallResult, RpcClient, Stream, Value,
};
use supervisor_tests::{pid_alive, ppid_of, secs, wait_for, Daemon, Kind};

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

macro_rules! compare {
    ($scenario:ident => $py:ident, $ours:ident) => {
        #[test]
        fn $py() {
            let t = $scenario(Kind::Python);
            assert!(!t.is_empty(), "empty transcript");
            // `cargo test -- --nocapture` shows what Python answered.
            println!("{}", t.join("\n"));
        }
        #[test]
        fn $ours() {
            same_as_python($scenario)
        }
    };
}

/// Runs `scenario` for both kinds at once and requires identical transcripts.
fn same_as_python(scenario: fn(Kind) -> Vec<String>) {
    let (py, ours) = thread::scope(|sc| {
        let py = sc.spawn(|| scenario(Kind::Python));
        let ours = sc.spawn(|| scenario(Kind::Ours));
        (py.join(), ours.join())
    });
    let py = py.unwrap_or_else(|_| panic!("the Python run of the scenario failed (see above)"));
    let ours = ours.unwrap_or_else(|_| panic!("our run of the scenario failed (see above)"));
    let mut diffs = Vec::new();
    for n in 0..py.len().max(ours.len()) {
        let (p, o) = (py.get(n), ours.get(n));
        if p != o {
            diffs.push(format!(
                "#{n}\n  python: {}\n  ours:   {}",
                p.map_or("<missing>", String::as_str),
                o.map_or("<missing>", String::as_str)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} transcript line(s) differ from Python:\n{}\n\nfull Python transcript:\n{}",
        diffs.len(),
        diffs.join("\n"),
        py.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Setup and normalisation

/// A running daemon with its unix-socket client.
struct Env {
    d: Daemon,
    c: RpcClient,
    dir: String,
}

fn boot(kind: Kind, sections: &str) -> Env {
    boot_with(kind, &rpc_config(sections, None), |_| {})
}

/// Prepares the config, lets `setup` put files into the dir, starts, waits for the socket.
fn boot_with(kind: Kind, config: &str, setup: impl FnOnce(&Daemon)) -> Env {
    let mut d = Daemon::prepare(kind, config);
    setup(&d);
    d.spawn();
    let c = RpcClient::unix(socket_path(d.dir()));
    if let Err(e) = c.wait_ready(secs(15.0)) {
        panic!("{e}\n{}", d.diagnostics());
    }
    let dir = d.dir().to_string_lossy().into_owned();
    Env { d, c, dir }
}

/// A transcript under construction.
struct T<'a> {
    env: &'a Env,
    lines: Vec<String>,
}

impl<'a> T<'a> {
    fn new(env: &'a Env) -> T<'a> {
        T {
            env,
            lines: Vec::new(),
        }
    }

    /// Calls and records `label => normalised result`.
    fn call(&mut self, method: &str, params: &[Value]) {
        let _ = self.call_r(method, params);
    }

    /// [`T::call`] returning the raw result.
    fn call_r(&mut self, method: &str, params: &[Value]) -> CallResult {
        let r = match self.env.c.try_call(method, params) {
            Ok(r) => r,
            Err(e) => panic!("{e}\n{}", self.env.d.diagnostics()),
        };
        self.record(&format!("{method}{}", render_params(params)), &r);
        r
    }

    /// [`T::call`] for results whose order depends on timing (group calls whose waiting
    /// members finish in any order; Supervisor lists them as they finish): sorted.
    fn call_sorted(&mut self, method: &str, params: &[Value]) {
        let r = match self.env.c.try_call(method, params) {
            Ok(r) => r,
            Err(e) => panic!("{e}\n{}", self.env.d.diagnostics()),
        };
        let r = r.map(|v| match v {
            Value::Array(mut items) => {
                items.sort_by_key(render);
                Value::Array(items)
            }
            other => other,
        });
        self.record(&format!("{method}{} (sorted)", render_params(params)), &r);
    }

    fn record(&mut self, label: &str, r: &CallResult) {
        let text = match r {
            Ok(v) => render(&norm(v, &self.env.dir)),
            Err(f) => format!("FAULT {} {:?}", f.code, norm_str(&f.string, &self.env.dir)),
        };
        self.lines.push(format!("{label} => {text}"));
    }

    fn note(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }
}

fn render_params(params: &[Value]) -> String {
    let inner: Vec<String> = params.iter().map(render).collect();
    format!("({})", inner.join(", "))
}

/// A compact, deterministic rendering (structs keep wire order).
fn render(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Boolean(x) => if *x { "True" } else { "False" }.to_owned(),
        Value::String(x) => format!("{x:?}"),
        Value::Double(x) => x.to_string(),
        Value::DateTime(x) => format!("datetime({x})"),
        Value::Base64(x) => format!("base64({x:?})"),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Struct(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}: {}", render(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Nil => "nil".to_owned(),
    }
}

/// Replaces the temp dir by `{dir}` and the random part of AUTO log names
/// (`<name>-stdout---<identifier>-<random>.log`) by `<rand>`.
fn norm_str(text: &str, dir: &str) -> String {
    let mut t = text.replace(dir, "{dir}");
    let mut from = 0;
    while let Some(pos) = t[from..].find("---") {
        let start = from + pos + 3;
        let Some(end) = t[start..].find(".log").map(|e| start + e) else {
            break;
        };
        let Some(dash) = t[start..end].rfind('-').map(|d| start + d + 1) else {
            from = end;
            continue;
        };
        t.replace_range(dash..end, "<rand>");
        from = dash + "<rand>".len();
    }
    t
}

/// `Nov 25 09:36 PM`
fn is_stop_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 15
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && b[4..6].iter().all(u8::is_ascii_digit)
        && b[6] == b' '
        && b[9] == b':'
        && (s.ends_with(" AM") || s.ends_with(" PM"))
}

fn norm(v: &Value, dir: &str) -> Value {
    match v {
        Value::String(x) => Value::String(norm_str(x, dir)),
        Value::Array(items) => Value::Array(items.iter().map(|x| norm(x, dir)).collect()),
        Value::Struct(m) => Value::Struct(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("pid" | "start" | "stop" | "now", Value::Int(n)) if *n != 0 => {
                            Value::String(format!("<{k}>"))
                        }
                        ("description", Value::String(d)) if d.starts_with("pid ") => {
                            Value::String("pid <pid>, uptime <uptime>".to_owned())
                        }
                        ("description", Value::String(d)) if is_stop_date(d) => {
                            Value::String("<date>".to_owned())
                        }
                        _ => norm(v, dir),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn statename(c: &RpcClient, name: &str) -> String {
    match c.call("supervisor.getProcessInfo", &[s(name)]) {
        Ok(v) => v
            .get("statename")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned(),
        Err(f) => format!("{f}"),
    }
}

/// Polls until `name` is in state `want`.
#[track_caller]
fn wait_state(env: &Env, name: &str, want: &str, timeout: Duration) {
    let ok = wait_for(timeout, || (statename(&env.c, name) == want).then_some(()));
    assert!(
        ok.is_some(),
        "[{}] {name} not {want} within {timeout:?} (is {})\n{}",
        env.d.kind,
        statename(&env.c, name),
        env.d.diagnostics()
    );
}

/// Polls `readProcessStdoutLog(name, 0, 0)` until it satisfies `pred`.
#[track_caller]
fn wait_stdout(env: &Env, name: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    let ok = wait_for(timeout, || {
        if let Ok(Value::String(t)) = env
            .c
            .call("supervisor.readProcessStdoutLog", &[s(name), i(0), i(0)])
        {
            last = t;
        }
        pred(&last).then_some(())
    });
    assert!(
        ok.is_some(),
        "[{}] stdout log of {name} never matched; last {last:?}\n{}",
        env.d.kind,
        env.d.diagnostics()
    );
    last
}

fn call_struct(name: &str, params: Vec<Value>) -> Value {
    Value::new_struct([("methodName", s(name)), ("params", Value::Array(params))])
}

// ---------------------------------------------------------------------------------------------
// system.* and the identity methods

compare!(introspection => python_introspection, ours_introspection_same_as_python);
fn introspection(kind: Kind) -> Vec<String> {
    let config = rpc_config("[program:up]\ncommand=sleep 1000\nstartsecs=0\n", None).replacen(
        "[supervisord]\n",
        "[supervisord]\nidentifier=rpc-test\n",
        1,
    );
    let env = boot_with(kind, &config, |_| {});
    let mut t = T::new(&env);
    let methods = t.call_r("system.listMethods", &[]).expect("listMethods");
    let names: Vec<String> = methods
        .as_array()
        .expect("listMethods returns an array")
        .iter()
        .map(|v| v.as_str().expect("method names are strings").to_owned())
        .collect();
    assert_eq!(names.len(), 41, "[{kind}] listMethods: {names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "[{kind}] listMethods is sorted");
    for name in &names {
        t.call("system.methodSignature", &[s(name)]);
        t.call("system.methodHelp", &[s(name)]);
    }
    t.call("system.methodHelp", &[s("supervisor.nosuch")]);
    t.call("system.methodSignature", &[s("nosuch")]);
    t.call("system.methodHelp", &[]);

    t.call("supervisor.getAPIVersion", &[]);
    t.call("supervisor.getVersion", &[]);
    t.call("supervisor.getSupervisorVersion", &[]);
    t.call("supervisor.getIdentification", &[]);
    t.call("supervisor.getState", &[]);
    let pid = env.c.ok("supervisor.getPID", &[]);
    assert_eq!(
        pid.as_i32(),
        Some(env.d.pid()),
        "[{kind}] getPID is the daemon's pid"
    );

    // Dispatch errors.
    t.call("supervisor.nosuch", &[]);
    t.call("supervisor.a.b", &[]);
    t.call("system.listMethods.x", &[]);
    t.call("nosuch.getState", &[]);
    t.call("getState", &[]);
    t.call("supervisor._rpcinterface__dispatch", &[]);
    t.call("supervisor.getState", &[i(1)]);
    t.call("supervisor.getProcessInfo", &[]);
    t.call("supervisor.getProcessInfo", &[s("up"), s("extra")]);
    t.call("supervisor.startProcess", &[]);
    t.call("supervisor.readLog", &[i(0)]);

    // multicall: good calls, faults, a missing methodName, no params, a nested multicall.
    t.call(
        "system.multicall",
        &[Value::Array(vec![
            call_struct("supervisor.getAPIVersion", vec![]),
            call_struct("supervisor.getProcessInfo", vec![s("nosuch")]),
            Value::new_struct([("params", Value::Array(vec![]))]),
            Value::new_struct([("methodName", s("supervisor.getState"))]),
            call_struct("system.multicall", vec![Value::Array(vec![])]),
            call_struct("supervisor.nosuch", vec![]),
            call_struct("supervisor.a.b", vec![]),
            call_struct("supervisor.getState", vec![i(1)]),
            call_struct("supervisor.getProcessInfo", vec![s("up")]),
            call_struct("system.methodSignature", vec![s("supervisor.getPID")]),
        ])],
    );
    t.call("system.multicall", &[Value::Array(vec![])]);
    t.call("system.multicall", &[]);
    t.lines
}

// ---------------------------------------------------------------------------------------------
// getProcessInfo / getAllProcessInfo / getAllConfigInfo

const INFO_PROGRAMS: &str = "\
[program:up]
command=sleep 1000
startsecs=1
priority=10

[program:off]
command=sleep 1000
autostart=false
stdout_logfile={dir}/off.out
stderr_logfile=NONE
priority=20

[program:multi]
command=sleep 1000
numprocs=2
process_name=%(program_name)s_%(process_num)s
autostart=false
redirect_stderr=true
exitcodes=0,3
stopsignal=INT
stopwaitsecs=3
startretries=5
directory=/tmp
stdout_logfile_maxbytes=1KB
stdout_logfile_backups=2
stdout_capture_maxbytes=64
stdout_events_enabled=true
killasgroup=true
stopasgroup=true
priority=30

[program:quick]
command=sh -c 'echo quick'
startsecs=0
autorestart=false
priority=40

[program:fatal]
command=/nonexistent/program
priority=50
startretries=0

[group:pair]
programs=pa,pb
priority=60

[program:pa]
command=sleep 1000
autostart=false
priority=2

[program:pb]
command=sleep 1000
autostart=false
priority=1

[eventlistener:lis]
command=cat
events=PROCESS_STATE_EXITED,TICK_60
autostart=false
numprocs=2
process_name=lis_%(process_num)s
buffer_size=20
";

compare!(process_info => python_process_info, ours_process_info_same_as_python);
fn process_info(kind: Kind) -> Vec<String> {
    let env = boot(kind, INFO_PROGRAMS);
    wait_state(&env, "up", "RUNNING", secs(10.0));
    wait_state(&env, "quick", "EXITED", secs(10.0));
    wait_state(&env, "fatal", "FATAL", secs(10.0));
    let mut t = T::new(&env);

    let up = env.c.ok("supervisor.getProcessInfo", &[s("up")]);
    let pid = up.get("pid").and_then(Value::as_i32).expect("pid");
    assert!(pid_alive(pid), "[{kind}] up's pid {pid} is alive");
    assert_eq!(ppid_of(pid), Some(env.d.pid()), "[{kind}] up is our child");
    let desc = up.get("description").and_then(Value::as_str).unwrap_or("");
    assert!(
        desc.starts_with(&format!("pid {pid}, uptime 0:00:")),
        "[{kind}] description {desc:?}"
    );
    let (start, now) = (
        up.get("start").and_then(Value::as_i32).unwrap_or(0),
        up.get("now").and_then(Value::as_i32).unwrap_or(0),
    );
    assert!(
        start > 0 && now >= start && now - start < 60,
        "[{kind}] start {start} now {now}"
    );

    for name in [
        "up",
        "off",
        "quick",
        "fatal",
        "multi:multi_0",
        "pair:pa",
        "multi_0",
        "multi:*",
        "multi:",
        "pair:nosuch",
        "nosuch",
        "nosuch:up",
    ] {
        t.call("supervisor.getProcessInfo", &[s(name)]);
    }
    t.call("supervisor.getAllProcessInfo", &[]);
    t.call("supervisor.getAllConfigInfo", &[]);
    t.lines
}

/// `[fcgi-program:x]` processes in getAllConfigInfo / getProcessInfo, started, without a stdin
/// channel (fd 0 is the group's socket), and the group in a `[group:x]` (a plain program).
const FCGI_PROGRAMS: &str = "\
[fcgi-program:web]
command=sleep 1000
socket=unix://{dir}/web.sock
socket_mode=0600
numprocs=2
process_name=%(program_name)s_%(process_num)d
autostart=false
startsecs=1
priority=5

[fcgi-program:member]
command=sleep 1000
socket=tcp://127.0.0.1:1
autostart=false

[group:grp]
programs=member
";

compare!(fcgi_info => python_fcgi_info, ours_fcgi_info_same_as_python);
fn fcgi_info(kind: Kind) -> Vec<String> {
    let env = boot(kind, FCGI_PROGRAMS);
    let mut t = T::new(&env);
    t.call("supervisor.getAllConfigInfo", &[]);
    t.call("supervisor.getAllProcessInfo", &[]);
    t.call("supervisor.startProcess", &[s("web:web_0")]);
    t.call("supervisor.sendProcessStdin", &[s("web:web_0"), s("x\n")]);
    t.call("supervisor.startProcess", &[s("grp:member")]);
    t.call("supervisor.sendProcessStdin", &[s("grp:member"), s("x\n")]);
    t.call("supervisor.getProcessInfo", &[s("web:web_0")]);
    t.call("supervisor.stopProcessGroup", &[s("web")]);
    t.call("supervisor.stopProcessGroup", &[s("grp")]);
    t.call("supervisor.reloadConfig", &[]);
    t.lines
}

// ---------------------------------------------------------------------------------------------
// start / stop

const START_PROGRAMS: &str = "\
[program:solo]
command=sleep 1000
autostart=false
startsecs=1
priority=10
; Python's child runs supervisord's own SIGTERM handler between fork and exec,
; so a stop that lands in that window is swallowed and only SIGKILL ends it.
stopwaitsecs=3

[program:crash]
command=sh -c 'exit 3'
autostart=false
startsecs=2
startretries=0
priority=20

[program:missing]
command=/nonexistent/cmd
autostart=false
priority=30

[program:noexec]
command={dir}/noexec.sh
autostart=false
priority=40

[group:g]
programs=p1,p2
priority=50

[program:slow]
command=sleep 1000
autostart=false
startsecs=5
priority=60

[program:p1]
command=sleep 1000
autostart=false
startsecs=0
priority=2

[program:p2]
command=sleep 1000
autostart=false
startsecs=0
priority=1
";

fn write_noexec(d: &Daemon) {
    let p = d.path("noexec.sh");
    fs::write(&p, "#!/bin/sh\nexit 0\n").expect("write noexec.sh");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).expect("chmod");
}

compare!(start_stop => python_start_stop, ours_start_stop_same_as_python);
fn start_stop(kind: Kind) -> Vec<String> {
    let env = boot_with(kind, &rpc_config(START_PROGRAMS, None), write_noexec);
    let mut t = T::new(&env);
    t.call("supervisor.startProcess", &[s("nosuch")]);
    t.call("supervisor.startProcess", &[s("nosuch:solo")]);

    // wait=True blocks for about startsecs.
    let t0 = Instant::now();
    t.call("supervisor.startProcess", &[s("solo"), b(true)]);
    let took = t0.elapsed();
    assert!(
        took >= secs(0.9) && took < secs(4.0),
        "[{kind}] startProcess(solo, True) took {took:?}, expected about startsecs=1"
    );
    t.note(format!("solo state: {}", statename(&env.c, "solo")));
    t.call("supervisor.startProcess", &[s("solo")]);
    t.call("supervisor.stopProcess", &[s("solo"), b(true)]);
    t.note(format!("solo state: {}", statename(&env.c, "solo")));
    t.call("supervisor.stopProcess", &[s("solo")]);

    // wait=False returns at once, in STARTING.
    let t0 = Instant::now();
    t.call("supervisor.startProcess", &[s("solo"), b(false)]);
    let took = t0.elapsed();
    assert!(
        took < secs(0.8),
        "[{kind}] startProcess(solo, False) took {took:?}"
    );
    t.note(format!("solo state: {}", statename(&env.c, "solo")));
    t.call("supervisor.startProcess", &[s("solo"), b(false)]);
    t.call("supervisor.stopProcess", &[s("solo"), b(false)]);
    wait_state(&env, "solo", "STOPPED", secs(10.0));

    // A start that is waiting when another client stops the process: ABNORMAL_TERMINATION.
    let c2 = env.c.clone();
    let t0 = Instant::now();
    let waiting = thread::spawn(move || c2.call("supervisor.startProcess", &[s("slow"), b(true)]));
    wait_state(&env, "slow", "STARTING", secs(5.0));
    thread::sleep(secs(0.3));
    t.call("supervisor.stopProcess", &[s("slow")]);
    let r = waiting.join().expect("waiting start");
    assert!(
        t0.elapsed() < secs(4.5),
        "[{kind}] the waiting start answered only after {:?}",
        t0.elapsed()
    );
    t.record("startProcess(slow, True) while stopped", &r);

    // Failures: a program that exits at once fails its start (spawnerr "Exited too quickly").
    t.call("supervisor.startProcess", &[s("crash"), b(true)]);
    wait_state(&env, "crash", "FATAL", secs(10.0));
    t.call("supervisor.startProcess", &[s("missing")]);
    t.call("supervisor.startProcess", &[s("noexec")]);
    t.note(format!("missing state: {}", statename(&env.c, "missing")));
    t.call("supervisor.stopProcess", &[s("missing")]);

    // Group specs return arrays, only for processes the operation applies to.
    t.call("supervisor.startProcess", &[s("g:*")]);
    t.call("supervisor.startProcess", &[s("g:*")]);
    t.call("supervisor.startProcess", &[s("g:p1")]);
    t.call("supervisor.stopProcess", &[s("g:p1")]);
    t.call_sorted("supervisor.stopProcess", &[s("g:")]);
    t.call("supervisor.stopProcess", &[s("g:*")]);
    t.call("supervisor.startProcessGroup", &[s("g"), b(false)]);
    t.call("supervisor.startProcessGroup", &[s("g")]);
    t.call_sorted("supervisor.stopProcessGroup", &[s("g"), b(true)]);
    t.call("supervisor.stopProcessGroup", &[s("g")]);
    t.call("supervisor.startProcessGroup", &[s("nosuch")]);
    t.call("supervisor.stopProcessGroup", &[s("nosuch")]);
    t.call("supervisor.startProcess", &[s("nosuch:*")]);

    // "restart": stop + start in one multicall, each awaited in turn.
    t.call("supervisor.startProcess", &[s("solo")]);
    let before = env.c.ok("supervisor.getProcessInfo", &[s("solo")]);
    t.call(
        "system.multicall",
        &[Value::Array(vec![
            call_struct("supervisor.stopProcess", vec![s("solo")]),
            call_struct("supervisor.startProcess", vec![s("solo")]),
        ])],
    );
    let after = env.c.ok("supervisor.getProcessInfo", &[s("solo")]);
    assert_ne!(
        before.get("pid"),
        after.get("pid"),
        "[{kind}] restart gives a new pid"
    );
    t.note(format!("solo state: {}", statename(&env.c, "solo")));

    // All-variants: everything not running, in priority order; crash is FATAL again.
    t.call("supervisor.startAllProcesses", &[b(true)]);
    wait_state(&env, "crash", "FATAL", secs(10.0));
    t.call("supervisor.startAllProcesses", &[b(true)]);
    wait_state(&env, "crash", "FATAL", secs(10.0));
    t.call_sorted("supervisor.stopAllProcesses", &[b(true)]);
    t.call("supervisor.stopAllProcesses", &[]);
    for name in ["solo", "crash", "missing", "noexec", "g:p1", "g:p2", "slow"] {
        t.note(format!("{name} state: {}", statename(&env.c, name)));
    }
    t.lines
}

// ---------------------------------------------------------------------------------------------
// signals

const SIGNAL_PROGRAMS: &str = "\
[program:sig]
command=sh -c 'trap \"echo usr1\" USR1; trap \"echo hup\" HUP; trap \"\" USR2; echo ready; while true; do sleep 0.1; done'
startsecs=0
stdout_logfile={dir}/sig.out
priority=10

[program:off]
command=sleep 1000
autostart=false
priority=20

[group:g]
programs=ga,gb
priority=30

[program:ga]
command=sh -c 'trap \"echo usr2\" USR2; echo ready; while true; do sleep 0.1; done'
startsecs=0
priority=1

[program:gb]
command=sh -c 'trap \"echo usr2\" USR2; echo ready; while true; do sleep 0.1; done'
startsecs=0
priority=2
";

compare!(signals => python_signals, ours_signals_same_as_python);
fn signals(kind: Kind) -> Vec<String> {
    let env = boot(kind, SIGNAL_PROGRAMS);
    // startsecs=0: RUNNING comes before the shell has set its traps; wait for "ready".
    for n in ["sig", "g:ga", "g:gb"] {
        wait_stdout(&env, n, secs(10.0), |l| l == "ready\n");
    }
    let mut t = T::new(&env);
    t.call("supervisor.signalProcess", &[s("sig"), s("USR1")]);
    wait_stdout(&env, "sig", secs(5.0), |l| l == "ready\nusr1\n");
    t.call("supervisor.signalProcess", &[s("sig"), s("10")]);
    wait_stdout(&env, "sig", secs(5.0), |l| l == "ready\nusr1\nusr1\n");
    // Pending signals coalesce: wait for each to be handled before sending the next.
    t.call("supervisor.signalProcess", &[s("sig"), s("sighup")]);
    wait_stdout(&env, "sig", secs(5.0), |l| l.matches("hup").count() == 1);
    t.call("supervisor.signalProcess", &[s("sig"), s(" HUP ")]);
    let out = wait_stdout(&env, "sig", secs(5.0), |l| l.matches("hup").count() == 2);
    t.note(format!("sig stdout: {out:?}"));
    t.call("supervisor.signalProcess", &[s("sig"), s("NOPE")]);
    t.call("supervisor.signalProcess", &[s("sig"), s("999")]);
    t.call("supervisor.signalProcess", &[s("sig"), s("")]);
    t.call("supervisor.signalProcess", &[s("off"), s("HUP")]);
    t.call("supervisor.signalProcess", &[s("nosuch"), s("HUP")]);
    t.call("supervisor.signalProcess", &[s("g:*"), s("USR2")]);
    t.call("supervisor.signalProcessGroup", &[s("g"), s("USR2")]);
    t.call("supervisor.signalProcessGroup", &[s("g"), s("NOPE")]);
    t.call("supervisor.signalProcessGroup", &[s("nosuch"), s("USR2")]);
    t.call("supervisor.signalAllProcesses", &[s("USR2")]);
    t.call("supervisor.signalAllProcesses", &[s("NOPE")]);
    t.note(format!("sig state: {}", statename(&env.c, "sig")));
    t.note(format!("off state: {}", statename(&env.c, "off")));
    t.lines
}

// ---------------------------------------------------------------------------------------------
// logs

const LOG_PROGRAMS: &str = "\
[program:talk]
command=sh -c 'printf \"hello\\nworld\\n\"; printf \"err\\n\" >&2; exec sleep 1000'
startsecs=0
stdout_logfile={dir}/talk.out
stderr_logfile={dir}/talk.err

[program:nolog]
command=sleep 1000
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE

[program:utf]
command=sh -c 'printf \"\\303\\251t\\303\\251\\n\"; exec sleep 1000'
startsecs=0
stdout_logfile={dir}/utf.out
";

compare!(logs => python_logs, ours_logs_same_as_python);
fn logs(kind: Kind) -> Vec<String> {
    let env = boot(kind, LOG_PROGRAMS);
    wait_stdout(&env, "talk", secs(10.0), |l| l == "hello\nworld\n");
    wait_stdout(&env, "utf", secs(10.0), |l| l == "été\n");
    let mut t = T::new(&env);
    let read = "supervisor.readProcessStdoutLog";
    for (off, len) in [
        (0, 0),
        (0, 5),
        (6, 0),
        (6, 3),
        (-6, 0),
        (-100, 0),
        (11, 100),
        (12, 0),
        (100, 0),
        (100, 5),
        (-1, 5),
        (0, -1),
        (-3, -3),
    ] {
        t.call(read, &[s("talk"), i(off), i(len)]);
    }
    t.call("supervisor.readProcessLog", &[s("talk"), i(0), i(0)]);
    t.call("supervisor.readProcessStderrLog", &[s("talk"), i(0), i(0)]);
    t.call("supervisor.readProcessStderrLog", &[s("talk"), i(-2), i(0)]);
    t.call(read, &[s("nolog"), i(0), i(0)]);
    t.call("supervisor.readProcessStderrLog", &[s("nolog"), i(0), i(0)]);
    t.call(read, &[s("nosuch"), i(0), i(0)]);
    t.call(read, &[s("talk"), s("0"), i(0)]);
    t.call(read, &[s("talk"), i(0)]);

    // tail: [data, size, overflow] (upstream-reference §4.8).
    let tail = "supervisor.tailProcessStdoutLog";
    for (off, len) in [
        (0, 2),
        (0, 12),
        (0, 100),
        (10, 2),
        (11, 2),
        (12, 5),
        (100, 2),
        (5, 0),
    ] {
        t.call(tail, &[s("talk"), i(off), i(len)]);
    }
    t.call("supervisor.tailProcessLog", &[s("talk"), i(0), i(3)]);
    t.call("supervisor.tailProcessStderrLog", &[s("talk"), i(0), i(3)]);
    t.call(tail, &[s("nolog"), i(0), i(10)]);
    t.call(tail, &[s("nosuch"), i(0), i(10)]);

    // A slice that cuts "é" in half: Python fails to decode and answers HTTP 500 (upstream-reference §4.8,
    // quirk); we decode lossily (deliberate deviation: the request is valid, the log is not
    // ours to reject).
    let split = env.c.try_call(read, &[s("utf"), i(0), i(1)]);
    match kind {
        Kind::Python => assert!(
            matches!(&split, Err(e) if e.contains("HTTP 500")),
            "Python answers HTTP 500 for a split UTF-8 read, got {split:?}"
        ),
        Kind::Ours => assert_eq!(
            split,
            Ok(Ok(s("\u{fffd}"))),
            "we decode a split UTF-8 read lossily"
        ),
    }
    t.call(read, &[s("utf"), i(0), i(2)]);
    t.call(read, &[s("utf"), i(0), i(0)]);

    // Main log: only lengths and faults can be compared.
    let main = env.c.ok("supervisor.readLog", &[i(0), i(0)]);
    let main_text = main.as_str().unwrap_or("").to_owned();
    let file = env.d.log_text();
    assert!(
        file.starts_with(&main_text) && !main_text.is_empty(),
        "[{kind}] readLog(0, 0) is the main log file"
    );
    let head = env.c.ok("supervisor.readLog", &[i(0), i(10)]);
    assert_eq!(
        head.as_str(),
        Some(&main_text[..10]),
        "[{kind}] readLog(0, 10)"
    );
    let last = env.c.ok("supervisor.readMainLog", &[i(-5), i(0)]);
    assert_eq!(
        last.as_str().map(str::len),
        Some(5),
        "[{kind}] readLog(-5, 0)"
    );
    t.call("supervisor.readLog", &[i(-1), i(5)]);
    t.call("supervisor.readLog", &[i(0), i(-1)]);
    t.call("supervisor.readLog", &[i(1 << 30), i(0)]);

    // Clearing.
    t.call("supervisor.clearProcessLogs", &[s("talk")]);
    t.call(read, &[s("talk"), i(0), i(0)]);
    t.call("supervisor.readProcessStderrLog", &[s("talk"), i(0), i(0)]);
    t.call(tail, &[s("talk"), i(0), i(10)]);
    t.call("supervisor.clearProcessLog", &[s("utf")]);
    t.call("supervisor.clearProcessLogs", &[s("nosuch")]);
    t.call("supervisor.clearProcessLogs", &[s("talk:*")]);
    t.call("supervisor.clearProcessLogs", &[s("nolog")]);
    t.call("supervisor.clearAllProcessLogs", &[]);
    t.call("supervisor.clearLog", &[]);
    let after = env.c.ok("supervisor.readLog", &[i(0), i(0)]);
    let after = after.as_str().unwrap_or("");
    // Known difference, reported (the fix belongs in the main-log code, not the RPC layer):
    // upstream logs "reopening log file" *before* reopening, into the deleted file, so the new
    // log starts empty; ours writes that line into the new file.
    let messages: Vec<String> = supervisor_tests::parse_log(after)
        .into_iter()
        .map(|e| format!("{} {}", e.level, e.message))
        .filter(|m| !(kind == Kind::Ours && m == "INFO reopening log file"))
        .collect();
    t.note(format!("main log after clearLog: {messages:?}"));
    t.call("supervisor.clearLog", &[]);
    fs::remove_file(env.d.path("supervisord.log")).expect("remove the main log");
    t.call("supervisor.clearLog", &[]);
    t.call("supervisor.readLog", &[i(0), i(0)]);
    assert!(
        !after.contains(&main_text[..40.min(main_text.len())]),
        "[{kind}] clearLog emptied the main log; now {after:?}"
    );
    t.lines
}

// ---------------------------------------------------------------------------------------------
// stdin and remote comm events

compare!(stdin => python_stdin, ours_stdin_same_as_python);
fn stdin(kind: Kind) -> Vec<String> {
    let env = boot(
        kind,
        "[program:cat]\ncommand=cat\nstartsecs=0\nstdout_logfile={dir}/cat.out\n\n\
         [program:off]\ncommand=cat\nautostart=false\n\n\
         [program:deaf]\ncommand=sh -c 'exec 0<&-; echo closed; exec sleep 1000'\nstartsecs=0\n",
    );
    wait_state(&env, "cat", "RUNNING", secs(10.0));
    let mut t = T::new(&env);
    t.call("supervisor.sendProcessStdin", &[s("cat"), s("hello cat\n")]);
    let out = wait_stdout(&env, "cat", secs(5.0), |l| l == "hello cat\n");
    t.note(format!("cat stdout: {out:?}"));
    t.call(
        "supervisor.sendProcessStdin",
        &[s("cat"), s("h\u{e9}llo <&>\n")],
    );
    let out = wait_stdout(&env, "cat", secs(5.0), |l| l.ends_with("<&>\n"));
    t.note(format!("cat stdout: {out:?}"));
    t.call("supervisor.sendProcessStdin", &[s("off"), s("x")]);
    t.call("supervisor.sendProcessStdin", &[s("nosuch"), s("x")]);
    t.call("supervisor.sendProcessStdin", &[s("cat:*"), s("x")]);
    t.call("supervisor.sendProcessStdin", &[s("cat"), i(5)]);
    t.call("supervisor.sendProcessStdin", &[s("cat")]);
    // A child that closed its stdin: writes fault with NO_FILE. Upstream notices the closed
    // pipe (POLLERR on its end) in its loop and faults already on the first write; ours
    // accepts the first write (queued) and faults once the pipe error closed our end — an
    // accepted timing difference (the data could never have been delivered either way).
    wait_stdout(&env, "deaf", secs(10.0), |l| l == "closed\n");
    let closed = wait_for(secs(5.0), || {
        env.c
            .call("supervisor.sendProcessStdin", &[s("deaf"), s("y\n")])
            .err()
    });
    t.note(format!("deaf after EPIPE: {closed:?}"));
    t.call("supervisor.sendRemoteCommEvent", &[s("type"), s("data")]);
    t.call("supervisor.sendRemoteCommEvent", &[s("type")]);
    t.lines
}

// ---------------------------------------------------------------------------------------------
// reloadConfig / addProcessGroup / removeProcessGroup

const RELOAD_BEFORE: &str = "\
[program:keep]
command=sleep 1000
startsecs=0

[program:change]
command=sleep 1000
startsecs=0

[program:gone]
command=sleep 1000
startsecs=0
";

const RELOAD_AFTER: &str = "\
[program:keep]
command=sleep 1000
startsecs=0

[program:change]
command=sleep 999
startsecs=0

[program:fresh]
command=sleep 1000
startsecs=0
";

fn config_summary(c: &RpcClient) -> Vec<String> {
    let all = c.ok("supervisor.getAllConfigInfo", &[]);
    all.as_array()
        .unwrap_or(&[])
        .iter()
        .map(|v| {
            format!(
                "{}:{} inuse={} command={}",
                v.get("group").map(render).unwrap_or_default(),
                v.get("name").map(render).unwrap_or_default(),
                v.get("inuse").map(render).unwrap_or_default(),
                v.get("command").map(render).unwrap_or_default()
            )
        })
        .collect()
}

compare!(reload => python_reload, ours_reload_same_as_python);
fn reload(kind: Kind) -> Vec<String> {
    let env = boot(kind, RELOAD_BEFORE);
    for n in ["keep", "change", "gone"] {
        wait_state(&env, n, "RUNNING", secs(10.0));
    }
    let mut t = T::new(&env);
    t.call("supervisor.reloadConfig", &[]);
    let conf = env.d.path("supervisord.conf");
    let text = fs::read_to_string(&conf).expect("read config");
    let text = text.replace(
        &RELOAD_BEFORE.replace("{dir}", &env.dir),
        &RELOAD_AFTER.replace("{dir}", &env.dir),
    );
    assert!(text.contains("[program:fresh]"), "config was rewritten");
    fs::write(&conf, text).expect("write config");
    t.call("supervisor.reloadConfig", &[]);
    t.note(format!("config: {:?}", config_summary(&env.c)));
    // `fresh` is not active yet: inuse False, AUTO logs as `auto`. Accepted difference: for
    // groups that stay active across the reload, Python reports `auto` too (the re-read config
    // objects were never resolved; only a re-added group gets a path), while we report the
    // live log path of the running process. So the log fields of active groups are masked.
    let mut info = env.c.call("supervisor.getAllConfigInfo", &[]);
    if let Ok(Value::Array(items)) = &mut info {
        for item in items.iter_mut() {
            if item.get("inuse") == Some(&b(true)) {
                item.set("stdout_logfile", s("<masked>"));
                item.set("stderr_logfile", s("<masked>"));
            }
        }
    }
    t.record(
        "getAllConfigInfo() after reload (active log paths masked)",
        &info,
    );
    t.call("supervisor.addProcessGroup", &[s("fresh")]);
    t.call("supervisor.addProcessGroup", &[s("fresh")]);
    t.call("supervisor.addProcessGroup", &[s("keep")]);
    t.call("supervisor.addProcessGroup", &[s("nosuch")]);
    t.call("supervisor.addProcessGroup", &[s("gone")]);
    t.call("supervisor.removeProcessGroup", &[s("gone")]);
    t.call("supervisor.stopProcessGroup", &[s("gone")]);
    t.call("supervisor.removeProcessGroup", &[s("gone")]);
    t.call("supervisor.removeProcessGroup", &[s("gone")]);
    t.call("supervisor.removeProcessGroup", &[s("nosuch")]);
    wait_state(&env, "fresh", "RUNNING", secs(10.0));
    t.call("supervisor.stopProcess", &[s("change")]);
    t.call("supervisor.removeProcessGroup", &[s("change")]);
    t.call("supervisor.addProcessGroup", &[s("change")]);
    wait_state(&env, "change", "RUNNING", secs(10.0));
    t.call("supervisor.reloadConfig", &[]);
    t.note(format!("config: {:?}", config_summary(&env.c)));
    let names: Vec<String> = env
        .c
        .ok("supervisor.getAllProcessInfo", &[])
        .as_array()
        .unwrap_or(&[])
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                render(&v.get("name").cloned().unwrap_or(Value::Nil)),
                statename(&env.c, v.get("name").and_then(Value::as_str).unwrap_or(""))
            )
        })
        .collect();
    t.note(format!("processes: {names:?}"));
    // A config that no longer parses: CANT_REREAD, and nothing changes.
    fs::write(&conf, "[program:broken]\n").expect("write config");
    let r = t.call_r("supervisor.reloadConfig", &[]);
    assert!(
        matches!(&r, Err(f) if f.code == 92),
        "[{kind}] CANT_REREAD for a broken config: {r:?}"
    );
    t.lines.pop(); // the message text is implementation-specific
    t.note("broken config => CANT_REREAD");
    t.lines
}

// ---------------------------------------------------------------------------------------------
// HTTP level

fn http_program() -> &'static str {
    "[program:cat]\ncommand=cat\nstartsecs=0\nstdout_logfile={dir}/cat.out\n"
}

both!(http_errors => python_http_errors, ours_http_errors);
fn http_errors(kind: Kind) {
    let env = boot(kind, http_program());
    let c = &env.c;
    let r = c.get("/RPC2").expect("GET /RPC2");
    assert_eq!(r.status, 400, "[{kind}] GET /RPC2: {r:?}");
    let r = c.post("/RPC2", b"<methodCall><methodName>x").expect("POST");
    assert_eq!(r.status, 400, "[{kind}] malformed XML: {r:?}");
    let r = c.post("/RPC2", b"this is not xml").expect("POST");
    assert_eq!(r.status, 400, "[{kind}] not XML: {r:?}");
    let r = c
        .post(
            "/RPC2",
            b"<?xml version='1.0'?>\n<methodCall><params></params></methodCall>",
        )
        .expect("POST");
    assert_eq!(r.status, 400, "[{kind}] missing methodName: {r:?}");
    let r = c
        .post(
            "/RPC2",
            b"<?xml version='1.0'?>\n<methodCall><methodName>supervisor.getState</methodName></methodCall>",
        )
        .expect("POST");
    assert_eq!(r.status, 200, "[{kind}] no <params> is fine: {r:?}");
    assert!(r.text().contains("RUNNING"), "[{kind}] {}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/xml")),
        "[{kind}] content type {r:?}"
    );
    // Any path starting with /RPC2 is the endpoint.
    let r = c
        .post(
            "/RPC2/extra",
            &supervisor_protocol::xmlrpc::encode_method_call("supervisor.getAPIVersion", &[]),
        )
        .expect("POST");
    assert_eq!(r.status, 200, "[{kind}] /RPC2/extra: {r:?}");
    assert!(r.text().contains("3.0"));
    // The server still answers after all that.
    assert_eq!(
        c.ok("supervisor.getState", &[]).get("statename"),
        Some(&s("RUNNING"))
    );
    // HTTP/1.0 with a body: answered, then closed.
    let body = supervisor_protocol::xmlrpc::encode_method_call("supervisor.getAPIVersion", &[]);
    let mut req = format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = c.raw(&req).expect("HTTP/1.0 POST");
    assert_eq!(r.status, 200, "[{kind}] HTTP/1.0: {r:?}");
    assert!(
        r.text().contains("<string>3.0</string>"),
        "[{kind}] {}",
        r.text()
    );
    let r = c.get("/logtail/nosuch").expect("GET");
    assert_eq!(r.status, 404, "[{kind}] /logtail/nosuch: {r:?}");
    let r = c.get("/logtail/cat/nosuchchannel").expect("GET");
    assert_eq!(r.status, 404, "[{kind}] unknown channel: {r:?}");
}

both!(logtail => python_logtail, ours_logtail);
fn logtail(kind: Kind) {
    let env = boot(
        kind,
        &format!(
            "{}\n[group:grp]\nprograms=big\n\n[program:big]\n\
             command=sh -c 'i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done; \
             exec sleep 1000'\nstartsecs=0\nstdout_logfile={{dir}}/big.out\n",
            http_program()
        ),
    );
    wait_state(&env, "cat", "RUNNING", secs(10.0));

    // A log longer than 1 KiB starts with its last 1024 bytes; the namespec is %-decoded.
    wait_stdout(&env, "grp:big", secs(10.0), |l| l.ends_with("line299\n"));
    let file = fs::read(env.d.path("big.out")).expect("big.out");
    assert!(
        file.len() > 2048,
        "[{kind}] big.out is {} bytes",
        file.len()
    );
    let mut st = Stream::open(&env.c, "/logtail/grp%3Abig").expect("open /logtail/grp%3Abig");
    assert_eq!(st.status, 200, "[{kind}] /logtail/grp%3Abig");
    let text = st.read_until(secs(5.0), |t| t.ends_with("line299\n"));
    assert_eq!(
        text.as_bytes(),
        &file[file.len() - 1024..],
        "[{kind}] /logtail starts with the last 1024 bytes"
    );
    env.c.ok(
        "supervisor.sendProcessStdin",
        &[s("cat"), s("first line\n")],
    );
    wait_stdout(&env, "cat", secs(5.0), |l| l == "first line\n");

    let mut st = Stream::open(&env.c, "/logtail/cat").expect("open /logtail/cat");
    assert_eq!(st.status, 200, "[{kind}] /logtail/cat");
    assert!(
        st.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "[{kind}] headers {:?}",
        st.headers
    );
    let text = st.read_until(secs(5.0), |t| t.contains("first line\n"));
    assert_eq!(text, "first line\n", "[{kind}] existing tail");
    env.c.ok(
        "supervisor.sendProcessStdin",
        &[s("cat"), s("second line\n")],
    );
    let text = st.read_until(secs(5.0), |t| t.contains("second line\n"));
    assert_eq!(
        text, "first line\nsecond line\n",
        "[{kind}] appended output"
    );

    let mut st = Stream::open(&env.c, "/logtail/cat/stdout").expect("open");
    assert_eq!(st.status, 200, "[{kind}] explicit channel");
    let text = st.read_until(secs(5.0), |t| t.contains("second line\n"));
    assert_eq!(
        text, "first line\nsecond line\n",
        "[{kind}] explicit channel"
    );

    let mut st = Stream::open(&env.c, "/mainlogtail").expect("open /mainlogtail");
    assert_eq!(st.status, 200, "[{kind}] /mainlogtail");
    let text = st.read_until(secs(5.0), |t| t.contains("spawned: 'cat'"));
    assert!(
        text.contains("spawned: 'cat'"),
        "[{kind}] mainlogtail: {text:?}"
    );
}

both!(inet_auth => python_inet_auth, ours_inet_auth);
fn inet_auth(kind: Kind) {
    let port = free_port();
    let config = rpc_config(http_program(), Some((port, Some(("user", "s3cret")))));
    let env = boot_with(kind, &config, |_| {});
    let good = RpcClient::tcp(port, Some(("user", "s3cret")));
    if let Err(e) = good.wait_ready(secs(10.0)) {
        panic!("{e}\n{}", env.d.diagnostics());
    }
    assert_eq!(
        good.ok("supervisor.getState", &[]).get("statename"),
        Some(&s("RUNNING")),
        "[{kind}] authenticated call"
    );
    for (what, client) in [
        ("wrong password", good.with_auth(Some(("user", "nope")))),
        ("wrong user", good.with_auth(Some(("root", "s3cret")))),
        ("no auth", good.with_auth(None)),
    ] {
        let r = client
            .post(
                "/RPC2",
                &supervisor_protocol::xmlrpc::encode_method_call("supervisor.getState", &[]),
            )
            .expect("POST");
        assert_eq!(r.status, 401, "[{kind}] {what}: {r:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"default\""),
            "[{kind}] {what}: {r:?}"
        );
        let r = client.get("/logtail/cat").expect("GET");
        assert_eq!(r.status, 401, "[{kind}] {what} on /logtail: {r:?}");
    }
    // The unix socket has no credentials configured.
    assert_eq!(
        env.c.ok("supervisor.getState", &[]).get("statename"),
        Some(&s("RUNNING"))
    );
}

both!(shutdown => python_shutdown, ours_shutdown);
fn shutdown(kind: Kind) {
    // `up` ignores SIGTERM, so the daemon stays in SHUTDOWN for stopwaitsecs=2.
    let mut env = boot(
        kind,
        "[program:up]\ncommand=sh -c 'trap \"\" TERM; echo ready; while true; do sleep 0.1; done'\n\
         startsecs=0\nstopwaitsecs=2\n",
    );
    wait_stdout(&env, "up", secs(10.0), |l| l == "ready\n");
    let pid = env
        .c
        .ok("supervisor.getProcessInfo", &[s("up")])
        .get("pid")
        .and_then(Value::as_i32)
        .expect("pid");
    assert_eq!(env.c.ok("supervisor.shutdown", &[]), b(true));
    // While stopping, every supervisor.* method (getState too) faults with SHUTDOWN_STATE,
    // except sendRemoteCommEvent; system.* still answers.
    let f = env.c.fault("supervisor.getState", &[]);
    assert_eq!(
        (f.code, f.string.as_str()),
        (6, "SHUTDOWN_STATE"),
        "[{kind}]"
    );
    let f = env.c.fault("supervisor.getProcessInfo", &[s("up")]);
    assert_eq!(
        (f.code, f.string.as_str()),
        (6, "SHUTDOWN_STATE"),
        "[{kind}]"
    );
    let f = env.c.fault("supervisor.startProcess", &[s("up")]);
    assert_eq!(f.code, 6, "[{kind}] startProcess during shutdown: {f}");
    assert_eq!(
        env.c
            .ok("supervisor.sendRemoteCommEvent", &[s("t"), s("d")]),
        b(true),
        "[{kind}] sendRemoteCommEvent does not check the state"
    );
    let methods = env.c.ok("system.listMethods", &[]);
    assert_eq!(methods.as_array().map(<[Value]>::len), Some(41), "[{kind}]");
    let st = env.d.wait_exit(secs(15.0));
    assert!(
        st.is_some_and(|s| s.success()),
        "[{kind}] daemon exit after shutdown: {st:?}\n{}",
        env.d.diagnostics()
    );
    assert!(!pid_alive(pid), "[{kind}] child survived shutdown");
    assert!(
        !socket_path(env.d.dir()).exists(),
        "[{kind}] socket file removed on exit"
    );
}

// ---------------------------------------------------------------------------------------------
// Ours only: robustness

#[test]
fn ours_oversized_requests_get_413_431_411_and_server_keeps_serving() {
    let env = boot(Kind::Ours, http_program());
    let mut conn = env.c.connect().expect("connect");
    let len = 10 * 1024 * 1024;
    let head = env
        .c
        .head("POST", "/RPC2", &[("Content-Length", len.to_string())]);
    conn.write_all(head.as_bytes()).expect("write head");
    // The server may answer before reading the body; a write error after that is fine.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..(len / chunk.len()) {
        if conn.write_all(&chunk).is_err() {
            break;
        }
    }
    let r = supervisor_tests::rpc::read_response(&mut *conn).expect("a response");
    assert_eq!(r.status, 413, "10 MB body: {r:?}");
    assert_eq!(
        env.c.ok("supervisor.getState", &[]).get("statename"),
        Some(&s("RUNNING")),
        "server still serves"
    );

    // A 100 KB head: 431, and still serving.
    let mut head = String::from("POST /RPC2 HTTP/1.1\r\n");
    for n in 0..2000 {
        head.push_str(&format!("X-Filler-{n}: {}\r\n", "y".repeat(40)));
    }
    head.push_str("\r\n");
    let r = env
        .c
        .raw(head.as_bytes())
        .expect("a response to a huge head");
    assert_eq!(r.status, 431, "100 KB head: {r:?}");
    // A chunked body (never sent by XML-RPC clients): 411.
    let r = env
        .c
        .raw(b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .expect("a response to a chunked POST");
    assert_eq!(r.status, 411, "chunked POST: {r:?}");
    assert_eq!(
        env.c.ok("supervisor.getState", &[]).get("statename"),
        Some(&s("RUNNING")),
        "server still serves"
    );
}

#[test]
fn ours_stalled_client_does_not_block_others() {
    let env = boot(Kind::Ours, http_program());
    // Half a head, then silence.
    let mut stalled_head = env.c.connect().expect("connect");
    stalled_head
        .write_all(b"POST /RPC2 HTTP/1.1\r\nContent-Le")
        .expect("write");
    // A complete head with a body that never comes.
    let mut stalled_body = env.c.connect().expect("connect");
    stalled_body
        .write_all(b"POST /RPC2 HTTP/1.1\r\nContent-Length: 1000\r\n\r\n<?xml")
        .expect("write");
    // Connected but silent.
    let _silent = env.c.connect().expect("connect");
    thread::sleep(secs(0.2));
    for n in 0..5 {
        let t0 = Instant::now();
        let state = env.c.ok("supervisor.getState", &[]);
        let took = t0.elapsed();
        assert_eq!(state.get("statename"), Some(&s("RUNNING")));
        assert!(
            took < secs(1.0),
            "getState #{n} took {took:?} behind stalled clients"
        );
    }
    drop(stalled_head);
    drop(stalled_body);
}

#[test]
fn ours_200_concurrent_calls_succeed() {
    let env = boot(Kind::Ours, http_program());
    let ok = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    thread::scope(|sc| {
        for _ in 0..200 {
            let (c, ok, errors) = (env.c.clone(), ok.clone(), errors.clone());
            sc.spawn(move || match c.try_call("supervisor.getState", &[]) {
                Ok(Ok(v)) if v.get("statename") == Some(&s("RUNNING")) => {
                    ok.fetch_add(1, Ordering::SeqCst);
                }
                other => errors.lock().unwrap().push(format!("{other:?}")),
            });
        }
    });
    let errors = errors.lock().unwrap();
    assert_eq!(
        ok.load(Ordering::SeqCst),
        200,
        "{} failures, e.g. {:?}",
        errors.len(),
        errors.first()
    );
}

#[test]
fn ours_keep_alive_serves_two_requests_on_one_connection() {
    let env = boot(Kind::Ours, http_program());
    let mut conn = env.c.connect().expect("connect");
    for _ in 0..2 {
        let body = supervisor_protocol::xmlrpc::encode_method_call("supervisor.getAPIVersion", &[]);
        let mut req = env
            .c
            .head(
                "POST",
                "/RPC2",
                &[("Content-Length", body.len().to_string())],
            )
            .into_bytes();
        req.extend_from_slice(&body);
        conn.write_all(&req).expect("write");
        let r = supervisor_tests::rpc::read_response(&mut *conn).expect("response");
        assert_eq!(r.status, 200);
        assert!(r.text().contains("3.0"), "{}", r.text());
    }
}

both!(restart_via_rpc => python_restart_via_rpc, ours_restart_via_rpc);
fn restart_via_rpc(kind: Kind) {
    let env = boot(kind, "[program:up]\ncommand=sleep 1000\nstartsecs=0\n");
    wait_state(&env, "up", "RUNNING", secs(10.0));
    let pid_of = |name: &str| {
        env.c
            .ok("supervisor.getProcessInfo", &[s(name)])
            .get("pid")
            .and_then(Value::as_i32)
            .unwrap_or(0)
    };
    let (daemon_pid, up_pid) = (env.c.ok("supervisor.getPID", &[]), pid_of("up"));
    // The restart re-reads the config file.
    let conf = env.d.path("supervisord.conf");
    let mut text = fs::read_to_string(&conf).expect("read config");
    text.push_str("\n[program:added]\ncommand=sleep 1000\nstartsecs=0\n");
    fs::write(&conf, text).expect("write config");
    assert_eq!(env.c.ok("supervisor.restart", &[]), b(true), "[{kind}]");
    // Same daemon process, new children, the new program running.
    let ok = wait_for(secs(20.0), || {
        let r = env
            .c
            .try_call("supervisor.getProcessInfo", &[s("added")])
            .ok()?;
        (r.ok()?.get("statename") == Some(&s("RUNNING"))).then_some(())
    });
    assert!(
        ok.is_some(),
        "[{kind}] 'added' not RUNNING after restart\n{}",
        env.d.diagnostics()
    );
    wait_state(&env, "up", "RUNNING", secs(10.0));
    assert_eq!(
        env.c.ok("supervisor.getPID", &[]),
        daemon_pid,
        "[{kind}] supervisord restarts in place"
    );
    let new_up = pid_of("up");
    assert!(
        new_up != up_pid && new_up != 0,
        "[{kind}] up restarted: {up_pid} -> {new_up}"
    );
    assert!(!pid_alive(up_pid), "[{kind}] the old child is gone");
}

compare!(backoff => python_backoff, ours_backoff_same_as_python);
fn backoff(kind: Kind) -> Vec<String> {
    // Exits at once, so it alternates between a short STARTING and BACKOFF (1 s, 2 s, ...).
    let env = boot(
        kind,
        "[program:flaky]\ncommand=sh -c 'exit 1'\nstartsecs=2\nstartretries=100\n",
    );
    wait_state(&env, "flaky", "BACKOFF", secs(10.0));
    let mut t = T::new(&env);
    let info = env.c.ok("supervisor.getProcessInfo", &[s("flaky")]);
    t.note(format!("BACKOFF info: {}", render(&norm(&info, &env.dir))));
    // BACKOFF (and STARTING) count as started; stopping from BACKOFF gives STOPPED.
    t.call("supervisor.startProcess", &[s("flaky")]);
    t.call("supervisor.signalProcess", &[s("flaky"), s("HUP")]);
    t.call("supervisor.stopProcess", &[s("flaky")]);
    t.note(format!("flaky state: {}", statename(&env.c, "flaky")));
    t.call("supervisor.stopProcess", &[s("flaky")]);
    t.lines
}

both!(inet_sha_password => python_inet_sha_password, ours_inet_sha_password);
fn inet_sha_password(kind: Kind) {
    let port = free_port();
    let sha = "{SHA}fef341f85d87439e7d91a2d465b9871ef66b5e98"; // sha1("s3cret")
    let config = rpc_config(http_program(), Some((port, Some(("user", sha)))));
    let env = boot_with(kind, &config, |_| {});
    let good = RpcClient::tcp(port, Some(("user", "s3cret")));
    if let Err(e) = good.wait_ready(secs(10.0)) {
        panic!("[{kind}] {e}\n{}", env.d.diagnostics());
    }
    assert_eq!(
        good.ok("supervisor.getAPIVersion", &[]),
        s("3.0"),
        "[{kind}]"
    );
    // The stored hash itself is not a password.
    let r = good
        .with_auth(Some(("user", sha)))
        .get("/logtail/cat")
        .expect("GET");
    assert_eq!(r.status, 401, "[{kind}] the hash as password: {r:?}");
}

compare!(raw_bodies => python_raw_bodies, ours_raw_bodies_same_as_python);
/// Byte-for-byte response bodies (our encoder against Python's marshaller) and status lines.
fn raw_bodies(kind: Kind) -> Vec<String> {
    let env = boot(kind, "[program:up]\ncommand=sleep 1000\nstartsecs=0\n");
    let mut t = T::new(&env);
    let calls: Vec<(&str, Vec<Value>)> = vec![
        ("supervisor.getAPIVersion", vec![]),
        ("supervisor.getState", vec![]),
        ("system.methodSignature", vec![s("supervisor.readLog")]),
        ("system.methodHelp", vec![s("supervisor.getPID")]),
        ("supervisor.getProcessInfo", vec![s("no<such>&")]),
        ("supervisor.nosuch", vec![]),
        (
            "system.multicall",
            vec![Value::Array(vec![
                call_struct("supervisor.getAPIVersion", vec![]),
                call_struct("supervisor.nosuch", vec![]),
            ])],
        ),
        (
            "supervisor.sendRemoteCommEvent",
            vec![s("t"), s("\u{e9}<>&\"'")],
        ),
    ];
    for (method, params) in calls {
        let body = supervisor_protocol::xmlrpc::encode_method_call(method, &params);
        let r = env.c.post("/RPC2", &body).expect("POST");
        let ctype = r.header("content-type").unwrap_or("").to_owned();
        t.note(format!(
            "{method}: HTTP {} {ctype} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    t.lines
}
