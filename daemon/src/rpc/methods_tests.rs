//! Unit tests of the XML-RPC methods over a real [`Core`] and a [`Host`] that fakes only the
//! operating system: a spawn gets the next pid at once, a kill makes the child exit with that
//! signal at once (unless told otherwise), and nothing is forked. Every program has
//! `autostart=false`: the core starts autostart programs on its first tick, and these tests are
//! about what the calls start.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use supervisor_protocol::xmlrpc::{Fault, FaultCode, MethodCall, Value};

use super::*;
use crate::config::{parse_with_env, CliOverrides, Config, GroupConfig};
use crate::process::state::{Action, CommandError, ExitStatus};
use crate::supervisor::core::{Core, Output};

const CONF: &str = "[supervisord]
identifier=unit-host

[program:a]
autostart=false
command=/bin/sh -c 'sleep 100'
startsecs=1

[program:quick]
autostart=false
command=/bin/sh
startsecs=0
priority=1

[program:missing]
command=/nonexistent/cmd
autostart=false

[group:g]
programs=x,y

[program:x]
autostart=false
command=/bin/sh
startsecs=0

[program:y]
autostart=false
command=/bin/sh
startsecs=0
";

fn parse(text: &str) -> Config {
    let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    match parse_with_env(
        text,
        Path::new("/etc/supervisord.conf"),
        &CliOverrides::default(),
        &env,
    ) {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    }
}

struct FakeHost {
    core: Core,
    config: Config,
    stored: Config,
    /// What the next `reread` reads.
    next_config: Result<String, String>,
    env: Vec<(OsString, OsString)>,
    next_pid: i32,
    /// (pid, signal) of every kill carried out.
    kills: Vec<(i32, i32)>,
    /// A killed child exits at once.
    die_on_kill: bool,
    stdin: Vec<(ProcKey, Vec<u8>)>,
    stdin_open: bool,
    comm_events: Vec<(String, String)>,
    shutdown_requested: bool,
    restart_requested: bool,
    main_log: Option<PathBuf>,
    logs: Vec<String>,
}

impl FakeHost {
    fn new() -> FakeHost {
        let config = parse(CONF);
        FakeHost {
            core: Core::new(config.groups.clone()),
            stored: config.clone(),
            config,
            next_config: Ok(CONF.to_string()),
            env: vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))],
            next_pid: 1000,
            kills: Vec::new(),
            die_on_kill: true,
            stdin: Vec::new(),
            stdin_open: true,
            comm_events: Vec::new(),
            shutdown_requested: false,
            restart_requested: false,
            main_log: None,
            logs: Vec::new(),
        }
    }

    /// Let `secs` pass on the core's clock.
    fn advance(&mut self, secs: u64) {
        let out = self.core.tick(Instant::now() + Duration::from_secs(secs));
        self.apply(out);
    }

    fn state(&self, namespec: &str) -> ProcessState {
        match self.core.resolve_target(namespec) {
            Ok(Target::Process(k)) => self
                .core
                .process(k)
                .map_or(ProcessState::Unknown, |p| p.state()),
            other => panic!("{namespec}: {other:?}"),
        }
    }

    fn key(&self, namespec: &str) -> ProcKey {
        match self.core.resolve_target(namespec) {
            Ok(Target::Process(k)) => k,
            other => panic!("{namespec}: {other:?}"),
        }
    }
}

impl Host for FakeHost {
    fn core(&self) -> &Core {
        &self.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
    fn apply(&mut self, out: Output) {
        let mut queue: VecDeque<_> = out.into_iter().collect();
        while let Some((key, action)) = queue.pop_front() {
            let now = Instant::now();
            let more = match (key, action) {
                (Some(key), Action::Spawn) => {
                    self.next_pid += 1;
                    self.core.spawned(key, self.next_pid, now)
                }
                (_, Action::Kill { pid, signal, .. }) => {
                    self.kills.push((pid, signal));
                    if !self.die_on_kill {
                        continue;
                    }
                    let status = ExitStatus::Signaled {
                        signal,
                        core_dumped: false,
                    };
                    self.core.reaped(pid, status, now)
                }
                (_, Action::Log { message, .. }) => {
                    self.logs.push(message);
                    continue;
                }
                _ => continue,
            };
            queue.extend(more);
        }
    }
    fn identifier(&self) -> &str {
        &self.config.supervisord.identifier
    }
    fn base_env(&self) -> &[(OsString, OsString)] {
        &self.env
    }
    fn main_log_path(&self) -> Option<PathBuf> {
        self.main_log.clone()
    }
    fn clear_main_log(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn log_path(&self, _key: ProcKey, _channel: Channel) -> Option<PathBuf> {
        None
    }
    fn clear_process_logs(&mut self, _key: ProcKey) -> io::Result<()> {
        Ok(())
    }
    fn send_stdin(&mut self, key: ProcKey, data: Vec<u8>) -> Result<(), StdinError> {
        if !self.stdin_open {
            return Err(StdinError::Closed);
        }
        self.stdin.push((key, data));
        Ok(())
    }
    fn request_shutdown(&mut self) {
        self.shutdown_requested = true;
        let out = self.core.begin_shutdown(Instant::now(), false);
        self.apply(out);
    }
    fn request_restart(&mut self) {
        self.restart_requested = true;
        let out = self.core.begin_shutdown(Instant::now(), true);
        self.apply(out);
    }
    fn reread(&mut self) -> Result<(), String> {
        let text = self.next_config.clone()?;
        self.stored = parse(&text);
        Ok(())
    }
    fn stored_config(&self) -> &Config {
        &self.stored
    }
    fn add_group(&mut self, config: GroupConfig) -> Result<(), CommandError> {
        self.core.add_group(config)
    }
    fn remove_group(&mut self, name: &str) -> Result<(), CommandError> {
        self.core.remove_group(name).map(|_| ())
    }
    fn remote_comm_event(&mut self, kind: &str, data: &str) {
        self.comm_events.push((kind.to_string(), data.to_string()));
    }
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn b(v: bool) -> Value {
    Value::Boolean(v)
}

fn method_call(name: &str, params: &[Value]) -> MethodCall {
    MethodCall {
        name: name.to_string(),
        params: params.to_vec(),
    }
}

/// A call that must answer at once.
fn call(host: &mut FakeHost, name: &str, params: &[Value]) -> Result<Value, Fault> {
    match dispatch(host, &method_call(name, params)) {
        Reply::Ready(r) => r,
        Reply::Pending(_) => panic!("{name} is waiting"),
    }
}

fn ok(host: &mut FakeHost, name: &str, params: &[Value]) -> Value {
    call(host, name, params).unwrap_or_else(|f| panic!("{name}: {f:?}"))
}

/// The fault code of a call that must fail at once, and its string.
fn fault_code(host: &mut FakeHost, name: &str, params: &[Value]) -> (i32, String) {
    match call(host, name, params) {
        Ok(v) => panic!("{name} answered {v:?}"),
        Err(f) => (f.code, f.string),
    }
}

fn code(c: FaultCode) -> i32 {
    c.code()
}

/// `(name, status)` of each group-result struct.
fn statuses(v: &Value) -> Vec<(String, i32)> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v:?}"))
        .iter()
        .map(|r| {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("?");
            let status = r.get("status").and_then(Value::as_i32).unwrap_or(-1);
            (name.to_string(), status)
        })
        .collect()
}

#[test]
fn identity_and_versions() {
    let mut h = FakeHost::new();
    assert_eq!(ok(&mut h, "supervisor.getAPIVersion", &[]), s("3.0"));
    assert_eq!(ok(&mut h, "supervisor.getVersion", &[]), s("3.0"));
    assert_eq!(
        ok(&mut h, "supervisor.getSupervisorVersion", &[]),
        s("4.3.0")
    );
    assert_eq!(
        ok(&mut h, "supervisor.getIdentification", &[]),
        s("unit-host")
    );
    let state = ok(&mut h, "supervisor.getState", &[]);
    assert_eq!(state.get("statecode"), Some(&Value::Int(1)));
    assert_eq!(state.get("statename"), Some(&s("RUNNING")));
    let pid = ok(&mut h, "supervisor.getPID", &[]);
    assert_eq!(
        pid.as_i32().map(i64::from),
        Some(i64::from(std::process::id()))
    );
}

#[test]
fn unknown_and_hidden_methods() {
    let mut h = FakeHost::new();
    let unknown = code(FaultCode::UnknownMethod);
    for name in [
        "supervisor.nosuch",
        "supervisor._private",
        "supervisor.getState.extra",
        "nodot",
        "other.getState",
        "system._dispatch",
    ] {
        assert_eq!(fault_code(&mut h, name, &[]).0, unknown, "{name}");
    }
}

#[test]
fn parameter_counts_and_types() {
    let mut h = FakeHost::new();
    let bad = code(FaultCode::IncorrectParameters);
    assert_eq!(fault_code(&mut h, "supervisor.getState", &[s("x")]).0, bad);
    assert_eq!(fault_code(&mut h, "supervisor.startProcess", &[]).0, bad);
    assert_eq!(
        fault_code(&mut h, "supervisor.startProcess", &[Value::Int(3)]).0,
        bad
    );
    assert_eq!(
        fault_code(&mut h, "supervisor.startProcess", &[s("a"), s("yes")]).0,
        bad
    );
    // Python's int(): a numeric string is an int.
    h.main_log = None;
    assert_eq!(
        fault_code(&mut h, "supervisor.readLog", &[s("0"), s("10")]),
        (code(FaultCode::NoFile), "NO_FILE".to_string())
    );
    assert_eq!(
        fault_code(&mut h, "supervisor.readLog", &[s("zero"), s("10")]).0,
        bad
    );
}

#[test]
fn system_methods_describe_the_supervisor_namespace_only() {
    let mut h = FakeHost::new();
    let list = ok(&mut h, "system.listMethods", &[]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.contains(&"supervisor.startProcess"));
    assert!(names.contains(&"system.multicall"));
    assert!(!names.iter().any(|n| n.starts_with(EXTENSION_NAMESPACE)));
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(
        ok(
            &mut h,
            "system.methodSignature",
            &[s("supervisor.startProcess")]
        ),
        Value::Array(vec![s("boolean"), s("string"), s("boolean")])
    );
    let help = ok(&mut h, "system.methodHelp", &[s("supervisor.getPID")]);
    assert!(help.as_str().is_some_and(|t| t.contains("@return int PID")));
    assert_eq!(
        fault_code(&mut h, "system.methodHelp", &[s("supervisor.nosuch")]).0,
        code(FaultCode::SignatureUnsupported)
    );
    // The extension namespace answers though it is not listed.
    let resources = ok(&mut h, "supervisor_rs.getAllProcessResources", &[]);
    assert_eq!(resources.as_array().map(<[Value]>::len), Some(5));
}

#[test]
fn start_without_wait_then_already_started() {
    let mut h = FakeHost::new();
    assert_eq!(
        ok(&mut h, "supervisor.startProcess", &[s("a"), b(false)]),
        b(true)
    );
    assert_eq!(h.state("a"), ProcessState::Starting);
    assert_eq!(
        fault_code(&mut h, "supervisor.startProcess", &[s("a"), b(false)]),
        (
            code(FaultCode::AlreadyStarted),
            "ALREADY_STARTED: a".to_string()
        )
    );
    assert_eq!(
        fault_code(&mut h, "supervisor.startProcess", &[s("nosuch")]),
        (code(FaultCode::BadName), "BAD_NAME: nosuch".to_string())
    );
}

#[test]
fn start_checks_the_command_first() {
    let mut h = FakeHost::new();
    let (c, text) = fault_code(&mut h, "supervisor.startProcess", &[s("missing")]);
    assert_eq!(c, code(FaultCode::NoFile));
    assert_eq!(text, "NO_FILE: can't find command '/nonexistent/cmd'");
    assert_eq!(h.state("missing"), ProcessState::Stopped);
}

#[test]
fn start_with_startsecs_zero_is_running_before_the_answer() {
    let mut h = FakeHost::new();
    assert_eq!(
        ok(&mut h, "supervisor.startProcess", &[s("quick")]),
        b(true)
    );
    assert_eq!(h.state("quick"), ProcessState::Running);
}

#[test]
fn start_with_wait_answers_once_running() {
    let mut h = FakeHost::new();
    let Reply::Pending(mut pending) =
        dispatch(&mut h, &method_call("supervisor.startProcess", &[s("a")]))
    else {
        panic!("startProcess(a) with startsecs=1 should wait");
    };
    assert!(pending.poll(&mut h).is_none());
    h.advance(2);
    assert_eq!(h.state("a"), ProcessState::Running);
    assert_eq!(pending.poll(&mut h), Some(Ok(b(true))));
}

#[test]
fn start_with_wait_reports_an_early_exit() {
    let mut h = FakeHost::new();
    let Reply::Pending(mut pending) =
        dispatch(&mut h, &method_call("supervisor.startProcess", &[s("a")]))
    else {
        panic!("should wait");
    };
    let pid = h
        .core
        .process(h.key("a"))
        .and_then(|p| p.pid())
        .unwrap_or(0);
    let out = h.core.reaped(pid, ExitStatus::Code(1), Instant::now());
    h.apply(out);
    let answer = pending.poll(&mut h);
    assert_eq!(
        answer.map(|r| r.map_err(|f| f.string)),
        // Upstream: "Exited too quickly" sets spawnerr, so the wait ends in SPAWN_ERROR.
        Some(Err("SPAWN_ERROR: a".to_string()))
    );
}

#[test]
fn stop_not_running_then_stop_running() {
    let mut h = FakeHost::new();
    assert_eq!(
        fault_code(&mut h, "supervisor.stopProcess", &[s("a")]),
        (code(FaultCode::NotRunning), "NOT_RUNNING: a".to_string())
    );
    ok(&mut h, "supervisor.startProcess", &[s("quick")]);
    // The fake child dies of the SIGTERM at once, so the wait is already over.
    assert_eq!(ok(&mut h, "supervisor.stopProcess", &[s("quick")]), b(true));
    assert_eq!(h.state("quick"), ProcessState::Stopped);
    assert_eq!(h.kills.last().map(|k| k.1), Some(libc::SIGTERM));
}

#[test]
fn stop_with_wait_waits_for_the_exit() {
    let mut h = FakeHost::new();
    ok(&mut h, "supervisor.startProcess", &[s("quick")]);
    h.die_on_kill = false;
    let Reply::Pending(mut pending) = dispatch(
        &mut h,
        &method_call("supervisor.stopProcess", &[s("quick")]),
    ) else {
        panic!("should wait for the exit");
    };
    assert_eq!(h.state("quick"), ProcessState::Stopping);
    assert!(pending.poll(&mut h).is_none());
    let (pid, signal) = h.kills[0];
    let out = h.core.reaped(
        pid,
        ExitStatus::Signaled {
            signal,
            core_dumped: false,
        },
        Instant::now(),
    );
    h.apply(out);
    assert_eq!(pending.poll(&mut h), Some(Ok(b(true))));
}

#[test]
fn group_calls_list_each_process() {
    let mut h = FakeHost::new();
    let started = ok(&mut h, "supervisor.startProcessGroup", &[s("g")]);
    assert_eq!(
        statuses(&started),
        vec![("x".to_string(), 80), ("y".to_string(), 80)]
    );
    // Nothing left to start: an empty list.
    assert_eq!(
        ok(&mut h, "supervisor.startProcessGroup", &[s("g")]),
        Value::Array(vec![])
    );
    // `g:*` is the group.
    let stopped = ok(&mut h, "supervisor.stopProcess", &[s("g:*")]);
    assert_eq!(statuses(&stopped).len(), 2);
    assert_eq!(
        fault_code(&mut h, "supervisor.startProcessGroup", &[s("nosuch")]),
        (code(FaultCode::BadName), "BAD_NAME: nosuch".to_string())
    );
}

#[test]
fn start_all_reports_failures_per_process() {
    let mut h = FakeHost::new();
    let Reply::Pending(mut pending) =
        dispatch(&mut h, &method_call("supervisor.startAllProcesses", &[]))
    else {
        panic!("`a` has startsecs=1: the batch waits");
    };
    h.advance(2);
    let Some(Ok(result)) = pending.poll(&mut h) else {
        panic!("the batch should be done");
    };
    let mut got = statuses(&result);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".to_string(), 80),
            ("missing".to_string(), code(FaultCode::NoFile)),
            ("quick".to_string(), 80),
            ("x".to_string(), 80),
            ("y".to_string(), 80),
        ]
    );
}

#[test]
fn signals() {
    let mut h = FakeHost::new();
    ok(&mut h, "supervisor.startProcess", &[s("quick")]);
    h.die_on_kill = false;
    assert_eq!(
        ok(&mut h, "supervisor.signalProcess", &[s("quick"), s("HUP")]),
        b(true)
    );
    assert_eq!(
        ok(&mut h, "supervisor.signalProcess", &[s("quick"), s("10")]),
        b(true)
    );
    let signals: Vec<i32> = h.kills.iter().map(|k| k.1).collect();
    assert_eq!(signals, vec![libc::SIGHUP, libc::SIGUSR1]);
    assert_eq!(
        fault_code(&mut h, "supervisor.signalProcess", &[s("quick"), s("NOPE")]),
        (code(FaultCode::BadSignal), "BAD_SIGNAL: NOPE".to_string())
    );
    assert_eq!(
        fault_code(&mut h, "supervisor.signalProcess", &[s("a"), s("HUP")]).0,
        code(FaultCode::NotRunning)
    );
    // A group call reports a bad signal per process.
    ok(&mut h, "supervisor.startProcessGroup", &[s("g")]);
    let r = ok(
        &mut h,
        "supervisor.signalProcessGroup",
        &[s("g"), s("NOPE")],
    );
    assert_eq!(
        statuses(&r),
        vec![
            ("x".to_string(), code(FaultCode::BadSignal)),
            ("y".to_string(), code(FaultCode::BadSignal))
        ]
    );
}

#[test]
fn process_info() {
    let mut h = FakeHost::new();
    ok(&mut h, "supervisor.startProcess", &[s("quick")]);
    let info = ok(&mut h, "supervisor.getProcessInfo", &[s("quick")]);
    assert_eq!(info.get("name"), Some(&s("quick")));
    assert_eq!(info.get("group"), Some(&s("quick")));
    assert_eq!(info.get("statename"), Some(&s("RUNNING")));
    assert_eq!(info.get("pid"), Some(&Value::Int(h.next_pid)));
    assert_eq!(
        fault_code(&mut h, "supervisor.getProcessInfo", &[s("g")]),
        (code(FaultCode::BadName), "BAD_NAME: g".to_string())
    );
    let all = ok(&mut h, "supervisor.getAllProcessInfo", &[]);
    let names: Vec<(String, String)> = all
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(|i| {
            let f = |k| i.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (f("group"), f("name"))
        })
        .collect();
    // Sorted by (group, name), like the Python.
    let want = [
        ("a", "a"),
        ("g", "x"),
        ("g", "y"),
        ("missing", "missing"),
        ("quick", "quick"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(g, n)| (g.to_string(), n.to_string()))
        .collect();
    assert_eq!(names, want);
}

#[test]
fn stdin_and_remote_events() {
    let mut h = FakeHost::new();
    assert_eq!(
        fault_code(
            &mut h,
            "supervisor.sendProcessStdin",
            &[s("quick"), s("hi\n")]
        ),
        (
            code(FaultCode::NotRunning),
            "NOT_RUNNING: quick".to_string()
        )
    );
    ok(&mut h, "supervisor.startProcess", &[s("quick")]);
    assert_eq!(
        ok(
            &mut h,
            "supervisor.sendProcessStdin",
            &[s("quick"), s("hi\n")]
        ),
        b(true)
    );
    assert_eq!(h.stdin, vec![(h.key("quick"), b"hi\n".to_vec())]);
    assert_eq!(
        fault_code(
            &mut h,
            "supervisor.sendProcessStdin",
            &[s("quick"), Value::Int(5)]
        ),
        (
            code(FaultCode::IncorrectParameters),
            "INCORRECT_PARAMETERS: 5".to_string()
        )
    );
    h.stdin_open = false;
    assert_eq!(
        fault_code(&mut h, "supervisor.sendProcessStdin", &[s("quick"), s("x")]).0,
        code(FaultCode::NoFile)
    );
    assert_eq!(
        ok(&mut h, "supervisor.sendRemoteCommEvent", &[s("t"), s("d")]),
        b(true)
    );
    assert_eq!(h.comm_events, vec![("t".to_string(), "d".to_string())]);
}

#[test]
fn multicall_runs_each_call_and_reports_faults_inline() {
    let mut h = FakeHost::new();
    let one = |name: &str, params: Vec<Value>| {
        Value::new_struct([("methodName", s(name)), ("params", Value::Array(params))])
    };
    let calls = Value::Array(vec![
        one("supervisor.getAPIVersion", vec![]),
        one("supervisor.startProcess", vec![s("nosuch")]),
        one("system.multicall", vec![Value::Array(vec![])]),
        one("supervisor.startProcess", vec![s("quick")]),
    ]);
    let results = ok(&mut h, "system.multicall", &[calls]);
    let results = results.as_array().unwrap_or_default();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0], s("3.0"));
    assert_eq!(
        results[1].get("faultCode"),
        Some(&Value::Int(code(FaultCode::BadName)))
    );
    assert_eq!(
        results[2].get("faultString"),
        Some(&s(
            "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"
        ))
    );
    assert_eq!(results[3], b(true));
}

#[test]
fn multicall_waits_for_a_waiting_call_in_order() {
    let mut h = FakeHost::new();
    let one = |name: &str, params: Vec<Value>| {
        Value::new_struct([("methodName", s(name)), ("params", Value::Array(params))])
    };
    let calls = Value::Array(vec![
        one("supervisor.startProcess", vec![s("a")]),
        one("supervisor.getProcessInfo", vec![s("a")]),
    ]);
    let Reply::Pending(mut pending) = dispatch(&mut h, &method_call("system.multicall", &[calls]))
    else {
        panic!("should wait for a");
    };
    assert!(pending.poll(&mut h).is_none());
    h.advance(2);
    let Some(Ok(Value::Array(results))) = pending.poll(&mut h) else {
        panic!("should be done");
    };
    assert_eq!(results[0], b(true));
    // The second call ran after the first was done.
    assert_eq!(results[1].get("statename"), Some(&s("RUNNING")));
}

/// `n` copies of `system.methodHelp("supervisor.tailProcessLog")` (about 1 KB of answer each).
fn help_calls(n: usize) -> Value {
    let one = Value::new_struct([
        ("methodName", s("system.methodHelp")),
        ("params", Value::Array(vec![s("supervisor.tailProcessLog")])),
    ]);
    Value::Array(vec![one; n])
}

/// Poll a multicall to its end; the answer and how many polls it took.
fn run_multicall(h: &mut FakeHost, calls: Value) -> (Result<Value, Fault>, usize) {
    match dispatch(h, &method_call("system.multicall", &[calls])) {
        Reply::Ready(r) => (r, 1),
        Reply::Pending(mut p) => {
            for polls in 2.. {
                if let Some(r) = p.poll(h) {
                    return (r, polls);
                }
            }
            unreachable!()
        }
    }
}

#[test]
fn a_large_multicall_is_built_in_slices() {
    let mut h = FakeHost::new();
    let (r, polls) = run_multicall(&mut h, help_calls(5000));
    let results = r.expect("answer");
    assert_eq!(results.as_array().map(<[Value]>::len), Some(5000));
    // About 5 MB of answer and 5 MB of per-call cost, in slices of 1 MiB.
    assert!((5..=20).contains(&polls), "{polls} polls");
    // A small one still answers at once.
    let (r, polls) = run_multicall(&mut h, help_calls(3));
    assert!(r.is_ok());
    assert_eq!(polls, 1);
}

#[test]
fn a_multicall_over_the_response_limit_is_a_fault() {
    let mut h = FakeHost::new();
    let per_call = supervisor_protocol::xmlrpc::encoded_len_bound(&ok(
        &mut h,
        "system.methodHelp",
        &[s("supervisor.tailProcessLog")],
    ));
    let n = MAX_RESPONSE / per_call + 10;
    let (r, _) = run_multicall(&mut h, help_calls(n));
    let fault = r.expect_err("too large");
    assert_eq!(fault.code, code(FaultCode::Failed));
    assert!(
        fault.string.contains("response larger than"),
        "{}",
        fault.string
    );
}

#[test]
fn shutdown_refuses_further_supervisor_calls() {
    let mut h = FakeHost::new();
    assert_eq!(ok(&mut h, "supervisor.shutdown", &[]), b(true));
    assert!(h.shutdown_requested);
    assert_eq!(
        fault_code(&mut h, "supervisor.getState", &[]),
        (code(FaultCode::ShutdownState), "SHUTDOWN_STATE".to_string())
    );
    // Exempt from the check, as upstream.
    assert_eq!(
        ok(&mut h, "supervisor.sendRemoteCommEvent", &[s("t"), s("d")]),
        b(true)
    );
    // system.* still answers.
    assert!(call(&mut h, "system.listMethods", &[]).is_ok());
}

#[test]
fn restart_is_requested() {
    let mut h = FakeHost::new();
    assert_eq!(ok(&mut h, "supervisor.restart", &[]), b(true));
    assert!(h.restart_requested);
}

#[test]
fn reload_config_and_group_changes() {
    let mut h = FakeHost::new();
    let unchanged = ok(&mut h, "supervisor.reloadConfig", &[]);
    let empty = || Value::Array(vec![]);
    assert_eq!(
        unchanged,
        Value::Array(vec![Value::Array(vec![empty(), empty(), empty()])])
    );

    // `a` removed, `quick` changed, `new` added.
    let changed = CONF
        .replace(
            "autostart=false\ncommand=/bin/sh -c 'sleep 100'",
            "autostart=false\ncommand=/bin/sh -c 'sleep 1'",
        )
        .replace("[program:a]", "[program:new]")
        .replace(
            "[program:quick]\nautostart=false\ncommand=/bin/sh\n",
            "[program:quick]\nautostart=false\ncommand=/bin/sh -x\n",
        );
    assert_ne!(changed.matches("sh -x").count(), 0, "the edit applies");
    h.next_config = Ok(changed);
    let diff = ok(&mut h, "supervisor.reloadConfig", &[]);
    assert_eq!(
        diff,
        Value::Array(vec![Value::Array(vec![
            Value::Array(vec![s("new")]),
            Value::Array(vec![s("quick")]),
            Value::Array(vec![s("a")]),
        ])])
    );
    assert_eq!(
        ok(&mut h, "supervisor.addProcessGroup", &[s("new")]),
        b(true)
    );
    assert_eq!(
        fault_code(&mut h, "supervisor.addProcessGroup", &[s("new")]),
        (
            code(FaultCode::AlreadyAdded),
            "ALREADY_ADDED: new".to_string()
        )
    );
    // Active but no longer configured: BAD_NAME, as upstream.
    assert_eq!(
        fault_code(&mut h, "supervisor.addProcessGroup", &[s("a")]).0,
        code(FaultCode::BadName)
    );
    ok(&mut h, "supervisor.startProcess", &[s("new"), b(false)]);
    assert_eq!(
        fault_code(&mut h, "supervisor.removeProcessGroup", &[s("new")]),
        (
            code(FaultCode::StillRunning),
            "STILL_RUNNING: new".to_string()
        )
    );
    ok(&mut h, "supervisor.stopProcess", &[s("new")]);
    assert_eq!(
        ok(&mut h, "supervisor.removeProcessGroup", &[s("new")]),
        b(true)
    );
    assert!(h.core.group("new").is_none());

    h.next_config = Err("bad file".to_string());
    assert_eq!(
        fault_code(&mut h, "supervisor.reloadConfig", &[]),
        (
            code(FaultCode::CantReread),
            "CANT_REREAD: bad file".to_string()
        )
    );
}

#[test]
fn logs_without_files() {
    let mut h = FakeHost::new();
    assert_eq!(
        fault_code(&mut h, "supervisor.clearLog", &[]).0,
        code(FaultCode::NoFile)
    );
    assert_eq!(
        fault_code(
            &mut h,
            "supervisor.readProcessStdoutLog",
            &[s("quick"), Value::Int(0), Value::Int(10)]
        )
        .0,
        code(FaultCode::NoFile)
    );
    assert_eq!(
        ok(
            &mut h,
            "supervisor.tailProcessStdoutLog",
            &[s("quick"), Value::Int(0), Value::Int(10)]
        ),
        Value::Array(vec![s(""), Value::Int(0), b(false)])
    );
}

#[test]
fn read_main_log_ranges() {
    let dir = std::env::temp_dir().join(format!("sup-rs-methods-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("main.log");
    std::fs::write(&path, b"0123456789").unwrap_or_else(|e| panic!("{e}"));
    let mut h = FakeHost::new();
    h.main_log = Some(path.clone());
    assert_eq!(
        ok(
            &mut h,
            "supervisor.readLog",
            &[Value::Int(2), Value::Int(3)]
        ),
        s("234")
    );
    assert_eq!(
        ok(
            &mut h,
            "supervisor.readLog",
            &[Value::Int(-4), Value::Int(0)]
        ),
        s("6789")
    );
    assert_eq!(
        fault_code(
            &mut h,
            "supervisor.readLog",
            &[Value::Int(-1), Value::Int(5)]
        )
        .0,
        code(FaultCode::BadArguments)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_request_answers_its_channel_and_notices_an_abandoned_asker() {
    let mut h = FakeHost::new();
    let (tx, mut rx) = oneshot::channel();
    let Command::Request(mut request) = command(method_call("supervisor.getAPIVersion", &[]), tx)
    else {
        panic!("not a request");
    };
    assert!(!request.abandoned());
    assert!(request.poll(&mut h));
    assert_eq!(rx.try_recv().ok(), Some(Ok(s("3.0"))));

    let (tx, mut rx) = oneshot::channel();
    let Command::Request(mut request) =
        command(method_call("supervisor.startProcess", &[s("a")]), tx)
    else {
        panic!("not a request");
    };
    assert!(!request.poll(&mut h), "waits for RUNNING");
    assert!(rx.try_recv().is_err());
    h.advance(2);
    assert!(request.poll(&mut h));
    assert_eq!(rx.try_recv().ok(), Some(Ok(b(true))));

    let (tx, rx) = oneshot::channel();
    let Command::Request(request) = command(method_call("supervisor.getState", &[]), tx) else {
        panic!("not a request");
    };
    drop(rx);
    assert!(request.abandoned());
}
