//! End-to-end event scenarios: a real Python listener (`fixtures/event_recorder.py`, built on
//! `supervisor.childutils`) records every notification it gets, and the assertions check exact
//! headers and payloads. Each scenario runs against Python supervisord 4.3.0 (`python_*`, which
//! proves the assertion) and against ours (`ours_*`).
//!
//! The recorder reads `len:` characters in text mode like every superlance tool, so a
//! non-ASCII payload that is read correctly *and* keeps the stream in sync proves that `len`
//! counts characters.

use std::fs;
use std::path::Path;
use std::process::Command;

use supervisor_tests::{
    config_with, fixtures_dir, kill_pid, run_command, secs, venv_dir, venv_python, wait_for,
    Daemon, Kind,
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

/// One notification as the listener saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    header: String,
    payload: String,
}

impl Rec {
    fn token(&self, key: &str) -> Option<&str> {
        self.header
            .split(' ')
            .find_map(|t| t.strip_prefix(key)?.strip_prefix(':'))
    }

    fn name(&self) -> &str {
        self.token("eventname").unwrap_or("")
    }

    fn serial(&self) -> u64 {
        self.token("serial")
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX)
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn records(path: &Path) -> Vec<Rec> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks_exact(2)
        .map(|c| Rec {
            header: c[0].to_string(),
            payload: String::from_utf8_lossy(&unhex(c[1])).into_owned(),
        })
        .collect()
}

/// The sections every scenario needs: an RPC socket and the recording pool `rec`.
fn base(listener_args: &str, events: &str) -> String {
    config_with(&format!(
        "{RPC}{}",
        recorder_pool(
            "rec",
            "events.txt",
            listener_args,
            events,
            "buffer_size=100\n"
        )
    ))
}

const RPC: &str = "[unix_http_server]\nfile={dir}/sock\n\
    [rpcinterface:supervisor]\n\
    supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n";

/// An `[eventlistener:<name>]` running the recorder into `{dir}/<file>`; `extra` lines are
/// appended (a `startsecs=` there wins over the default 0 only if given).
fn recorder_pool(name: &str, file: &str, args: &str, events: &str, extra: &str) -> String {
    let startsecs = if extra.contains("startsecs=") {
        ""
    } else {
        "startsecs=0\n"
    };
    format!(
        "[eventlistener:{name}]\ncommand={} {} {{dir}}/{file} {args}\n\
         events={events}\n{startsecs}autorestart=true\n{extra}\n",
        venv_python().display(),
        fixtures_dir().join("event_recorder.py").display()
    )
}

/// Call `supervisor.<call>` over the daemon's unix socket with Python's XML-RPC client.
fn rpc(d: &Daemon, call: &str) -> String {
    let script = format!(
        "import xmlrpc.client\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         t = SupervisorTransport(None, None, 'unix://{}')\n\
         p = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=t)\n\
         print(repr(p.supervisor.{call}))\n",
        d.path("sock").display()
    );
    let mut cmd = Command::new(venv_python());
    cmd.arg("-c").arg(script);
    let out = run_command(cmd, secs(20.0));
    assert_eq!(out.code(), Some(0), "rpc {call} failed: {out}");
    out.combined()
}

/// Wait until the recorder has a record satisfying `pred`; returns all records.
#[track_caller]
fn wait_rec(d: &Daemon, what: &str, pred: impl Fn(&[Rec]) -> bool) -> Vec<Rec> {
    let path = d.path("events.txt");
    wait_for(secs(20.0), || {
        let r = records(&path);
        pred(&r).then_some(r)
    })
    .unwrap_or_else(|| {
        panic!(
            "timed out waiting for {what}; records:\n{:#?}\n{}",
            records(&path),
            d.diagnostics()
        )
    })
}

fn find<'a>(recs: &'a [Rec], name: &str, process: &str) -> Vec<&'a Rec> {
    recs.iter()
        .filter(|r| {
            r.name() == name
                && (process.is_empty()
                    || r.payload.starts_with(&format!("processname:{process} "))
                    || r.payload.starts_with(&format!("groupname:{process}\n")))
        })
        .collect()
}

/// Every header is exactly `ver:3.0 server:supervisor serial:S pool:rec poolserial:S
/// eventname:N len:L` with L the payload length in characters.
#[track_caller]
fn check_headers(recs: &[Rec]) {
    for r in recs {
        let s = r.serial();
        assert_eq!(
            r.header,
            format!(
                "ver:3.0 server:supervisor serial:{s} pool:rec poolserial:{s} eventname:{} len:{}",
                r.name(),
                r.payload.chars().count()
            )
        );
    }
}

/// The pid in a payload's `pid:` token.
fn pid_of(r: &Rec) -> i32 {
    r.payload
        .split([' ', '\n'])
        .find_map(|t| t.strip_prefix("pid:"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(-1)
}

// ---------------------------------------------------------------------------------------------

both!(lifecycle => python_every_event_type, ours_every_event_type);
fn lifecycle(kind: Kind) {
    let comm = format!(
        "{} -c \"import sys, time; from supervisor import childutils; \
         childutils.pcomm.send(b'hi there', sys.stdout.buffer); time.sleep(1000)\"",
        venv_python().display()
    );
    let conf = format!(
        "{}\n\
         [program:flaky]\ncommand=sh -c 'exit 3'\nstartsecs=1\nstartretries=1\n\
         [program:runner]\ncommand=sh -c 'echo hello; sleep 2; exit 3'\nstartsecs=1\n\
         autorestart=false\nstdout_events_enabled=true\n\
         [program:sleeper]\ncommand=sleep 1000\nstartsecs=1\n\
         [program:comm]\ncommand={comm}\nstartsecs=0\nstdout_capture_maxbytes=1KB\n\
         stdout_events_enabled=true\n",
        base("", "EVENT")
    );
    let mut d = Daemon::start(kind, &conf);

    // Startup: one PROCESS_GROUP_ADDED per group in (priority, name) order, then RUNNING.
    let recs = wait_rec(&d, "SUPERVISOR_STATE_CHANGE_RUNNING", |r| r.len() >= 6);
    let start: Vec<(&str, &str)> = recs[..6]
        .iter()
        .map(|r| (r.name(), r.payload.as_str()))
        .collect();
    assert_eq!(
        start,
        vec![
            ("PROCESS_GROUP_ADDED", "groupname:rec\n"),
            ("PROCESS_GROUP_ADDED", "groupname:comm\n"),
            ("PROCESS_GROUP_ADDED", "groupname:flaky\n"),
            ("PROCESS_GROUP_ADDED", "groupname:runner\n"),
            ("PROCESS_GROUP_ADDED", "groupname:sleeper\n"),
            ("SUPERVISOR_STATE_CHANGE_RUNNING", ""),
        ]
    );
    assert_eq!(recs[0].serial(), 0);

    // flaky: STARTING tries:0, BACKOFF tries:1, STARTING tries:1, BACKOFF tries:2, FATAL.
    let recs = wait_rec(&d, "FATAL", |r| {
        !find(r, "PROCESS_STATE_FATAL", "flaky").is_empty()
    });
    let flaky: Vec<(&str, &str)> = recs
        .iter()
        .filter(|r| r.payload.starts_with("processname:flaky "))
        .map(|r| (r.name(), r.payload.as_str()))
        .collect();
    assert_eq!(
        flaky,
        vec![
            (
                "PROCESS_STATE_STARTING",
                "processname:flaky groupname:flaky from_state:STOPPED tries:0"
            ),
            (
                "PROCESS_STATE_BACKOFF",
                "processname:flaky groupname:flaky from_state:STARTING tries:1"
            ),
            (
                "PROCESS_STATE_STARTING",
                "processname:flaky groupname:flaky from_state:BACKOFF tries:1"
            ),
            (
                "PROCESS_STATE_BACKOFF",
                "processname:flaky groupname:flaky from_state:STARTING tries:2"
            ),
            (
                "PROCESS_STATE_FATAL",
                "processname:flaky groupname:flaky from_state:BACKOFF"
            ),
        ]
    );

    // runner: RUNNING, its output as PROCESS_LOG_STDOUT, EXITED unexpected with the same pid.
    let recs = wait_rec(&d, "runner EXITED", |r| {
        !find(r, "PROCESS_STATE_EXITED", "runner").is_empty()
    });
    let running = find(&recs, "PROCESS_STATE_RUNNING", "runner");
    assert_eq!(running.len(), 1);
    let pid = pid_of(running[0]);
    assert_eq!(
        running[0].payload,
        format!("processname:runner groupname:runner from_state:STARTING pid:{pid}")
    );
    let logs = find(&recs, "PROCESS_LOG_STDOUT", "runner");
    assert_eq!(logs.len(), 1, "{recs:#?}");
    assert_eq!(
        logs[0].payload,
        format!("processname:runner groupname:runner pid:{pid} channel:stdout\nhello\n")
    );
    assert_eq!(
        find(&recs, "PROCESS_STATE_EXITED", "runner")[0].payload,
        format!("processname:runner groupname:runner from_state:RUNNING expected:0 pid:{pid}")
    );

    // comm: one PROCESS_COMMUNICATION_STDOUT with the text between the tokens. (Under Python 3
    // `childutils.pcomm.stdout()` fails — it writes bytes tokens to text stdout — so the
    // fixture calls `pcomm.send()` with the binary stdout.)
    let recs = wait_rec(&d, "PROCESS_COMMUNICATION_STDOUT", |r| {
        !find(r, "PROCESS_COMMUNICATION_STDOUT", "comm").is_empty()
    });
    let comm_running = find(&recs, "PROCESS_STATE_RUNNING", "comm");
    assert_eq!(comm_running.len(), 1);
    let comm_pid = pid_of(comm_running[0]);
    assert_eq!(
        find(&recs, "PROCESS_COMMUNICATION_STDOUT", "comm")[0].payload,
        format!("processname:comm groupname:comm pid:{comm_pid}\nhi there")
    );
    // Checklist 21: PROCESS_LOG is emitted for the captured bytes too (tokens excluded).
    let comm_logs: Vec<&str> = find(&recs, "PROCESS_LOG_STDOUT", "comm")
        .iter()
        .map(|r| r.payload.as_str())
        .collect();
    assert_eq!(
        comm_logs,
        vec![format!(
            "processname:comm groupname:comm pid:{comm_pid} channel:stdout\nhi there"
        )]
    );

    // sleeper: STOPPING and STOPPED through stopProcess.
    wait_rec(&d, "sleeper RUNNING", |r| {
        !find(r, "PROCESS_STATE_RUNNING", "sleeper").is_empty()
    });
    rpc(&d, "stopProcess('sleeper')");
    let recs = wait_rec(&d, "sleeper STOPPED", |r| {
        !find(r, "PROCESS_STATE_STOPPED", "sleeper").is_empty()
    });
    let spid = pid_of(find(&recs, "PROCESS_STATE_RUNNING", "sleeper")[0]);
    assert_eq!(
        find(&recs, "PROCESS_STATE_STOPPING", "sleeper")[0].payload,
        format!("processname:sleeper groupname:sleeper from_state:RUNNING pid:{spid}")
    );
    assert_eq!(
        find(&recs, "PROCESS_STATE_STOPPED", "sleeper")[0].payload,
        format!("processname:sleeper groupname:sleeper from_state:STOPPING pid:{spid}")
    );

    // REMOTE_COMMUNICATION with non-ASCII data, read correctly, and the stream stays in sync
    // (the next event still parses).
    rpc(&d, "sendRemoteCommEvent('mytype', 'données é ✓')");
    rpc(&d, "sendRemoteCommEvent('after', 'ascii')");
    let recs = wait_rec(&d, "REMOTE_COMMUNICATION x2", |r| {
        find(r, "REMOTE_COMMUNICATION", "").len() >= 2
    });
    let remote = find(&recs, "REMOTE_COMMUNICATION", "");
    assert_eq!(remote[0].payload, "type:mytype\ndonnées é ✓");
    assert_eq!(remote[0].token("len"), Some("23"));
    assert_eq!(remote[1].payload, "type:after\nascii");

    // TICK_5: when is the start of a 5 s slice.
    let recs = wait_rec(&d, "TICK_5", |r| !find(r, "TICK_5", "").is_empty());
    let tick = find(&recs, "TICK_5", "")[0];
    let when: u64 = tick
        .payload
        .strip_prefix("when:")
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    assert_eq!(when % 5, 0, "{tick:?}");

    // Serials are consecutive from 0 and every header is exact.
    let recs = records(&d.path("events.txt"));
    check_headers(&recs);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.serial(), i as u64, "{recs:#?}");
    }
    d.stop();
}

both!(redelivery => python_fail_redelivers_same_serials, ours_fail_redelivers_same_serials);
fn redelivery(kind: Kind) {
    let conf = format!(
        "{}\n[program:flaky]\ncommand=sh -c 'exit 3'\nstartsecs=1\nstartretries=0\n",
        base("--fail-first", "PROCESS_STATE,PROCESS_GROUP")
    );
    let mut d = Daemon::start(kind, &conf);
    let recs = wait_rec(&d, "FATAL twice", |r| {
        find(r, "PROCESS_STATE_FATAL", "flaky").len() >= 2
    });
    check_headers(&recs);
    // Every event arrives twice in a row, identical (same serial and poolserial).
    assert_eq!(recs.len() % 2, 0, "{recs:#?}");
    for pair in recs.chunks_exact(2) {
        assert_eq!(pair[0], pair[1], "{recs:#?}");
    }
    let log = d.log_text();
    assert!(log.contains("WARN rec: event was rejected"), "{log}");
    d.stop();
}

both!(killed_busy => python_listener_killed_while_busy_gets_event_again, ours_listener_killed_while_busy_gets_event_again);
fn killed_busy(kind: Kind) {
    let mut d = Daemon::start(
        kind,
        &base("--hang-on REMOTE_COMMUNICATION", "REMOTE_COMMUNICATION"),
    );
    d.expect_log("success: rec entered RUNNING state", secs(20.0));
    rpc(&d, "sendRemoteCommEvent('t', 'payload')");
    let marker = d.path("events.txt.hang");
    let pid: i32 = wait_for(secs(20.0), || {
        fs::read_to_string(&marker).ok()?.trim().parse().ok()
    })
    .unwrap_or_else(|| panic!("listener never hung\n{}", d.diagnostics()));
    assert!(kill_pid(pid, libc::SIGKILL));
    let recs = wait_rec(&d, "redelivery after respawn", |r| r.len() >= 2);
    assert_eq!(recs[0], recs[1]);
    assert_eq!(recs[0].payload, "type:t\npayload");
    check_headers(&recs);
    d.stop();
}

both!(crashmail => python_superlance_crashmail_mails_unexpected_exit, ours_superlance_crashmail_mails_unexpected_exit);
fn crashmail(kind: Kind) {
    let crashmail = venv_dir().join("bin").join("crashmail");
    let sendmail = fixtures_dir().join("append_stdin.sh");
    let conf = config_with(&format!(
        "[unix_http_server]\nfile={{dir}}/sock\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         [eventlistener:crashmail]\n\
         command={} -a -m ops@example.com -s \"{} {{dir}}/mail.txt\"\n\
         events=PROCESS_STATE\nstartsecs=0\n\
         [program:crasher]\ncommand=sh -c 'sleep 1.5; exit 1'\nstartsecs=1\nautorestart=false\n",
        crashmail.display(),
        sendmail.display()
    ));
    let mut d = Daemon::start(kind, &conf);
    let mail_path = d.path("mail.txt");
    let mail = wait_for(secs(20.0), || {
        fs::read_to_string(&mail_path)
            .ok()
            .filter(|m| m.contains("--end of mail--"))
    })
    .unwrap_or_else(|| panic!("no mail\n{}", d.diagnostics()));
    let log = d.log_text();
    let pid = log
        .lines()
        .find_map(|l| l.split("spawned: 'crasher' with pid ").nth(1))
        .and_then(|p| p.trim().parse::<i32>().ok())
        .unwrap_or(-1);
    assert!(
        mail.starts_with("To: ops@example.com\nSubject:  crasher crashed at "),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "\n\nProcess crasher in group crasher exited unexpectedly (pid {pid}) from state \
             RUNNING\n--end of mail--"
        )),
        "{mail}"
    );
    d.stop();
}

both!(overflow => python_overflow_drops_oldest_and_waits_for_running, ours_overflow_drops_oldest_and_waits_for_running);
fn overflow(kind: Kind) {
    // Three startup events into a buffer of 1 while the listener is not RUNNING yet
    // (startsecs=2): serials 0 and 1 are discarded, 2 is delivered once RUNNING.
    let conf = config_with(&format!(
        "{RPC}{}[program:other]\ncommand=sleep 1000\nautostart=false\n",
        recorder_pool(
            "rec",
            "events.txt",
            "",
            "PROCESS_GROUP,SUPERVISOR_STATE_CHANGE",
            "buffer_size=1\nstartsecs=2\n"
        )
    ))
    .replace("loglevel=info", "loglevel=debug");
    let mut d = Daemon::start(kind, &conf);
    let recs = wait_rec(&d, "one event", |r| !r.is_empty());
    assert_eq!(
        recs[0].header,
        "ver:3.0 server:supervisor serial:2 pool:rec poolserial:2 \
         eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0"
    );
    let log = d.log_text();
    for serial in [0, 1] {
        assert!(
            log.contains(&format!(
                "ERRO pool rec event buffer overflowed, discarding event {serial}\n"
            )),
            "{log}"
        );
    }
    let success = log
        .find("success: rec entered RUNNING state")
        .unwrap_or(usize::MAX);
    let sent = log.find("DEBG event 2 sent to listener rec").unwrap_or(0);
    assert!(success < sent, "dispatched before RUNNING:\n{log}");
    d.stop();
}

both!(garbage => python_garbage_listener_goes_unknown_others_continue, ours_garbage_listener_goes_unknown_others_continue);
fn garbage(kind: Kind) {
    let conf = config_with(&format!(
        "{RPC}[eventlistener:bad]\ncommand=sh -c 'echo garbage here; sleep 1000'\n\
         events=REMOTE_COMMUNICATION\nstartsecs=0\n{}",
        recorder_pool("rec", "events.txt", "", "REMOTE_COMMUNICATION", "")
    ));
    let mut d = Daemon::start(kind, &conf);
    d.expect_log(
        "WARN bad: has entered the UNKNOWN state and will no longer receive events, this \
         usually indicates the process violated the eventlistener protocol",
        secs(20.0),
    );
    d.expect_log("success: rec entered RUNNING state", secs(20.0));
    for i in 0..3 {
        rpc(&d, &format!("sendRemoteCommEvent('t', 'n{i}')"));
    }
    let recs = wait_rec(&d, "three events", |r| r.len() >= 3);
    let payloads: Vec<&str> = recs.iter().map(|r| r.payload.as_str()).collect();
    assert_eq!(payloads, vec!["type:t\nn0", "type:t\nn1", "type:t\nn2"]);
    d.stop();
}

both!(duplicate_subscription => python_parent_and_child_subscription_delivers_twice, ours_parent_and_child_subscription_delivers_twice);
fn duplicate_subscription(kind: Kind) {
    let conf = config_with(&format!(
        "{RPC}{}",
        recorder_pool(
            "rec",
            "events.txt",
            "",
            "PROCESS_GROUP,PROCESS_GROUP_ADDED",
            ""
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    let recs = wait_rec(&d, "two records", |r| r.len() >= 2);
    assert_eq!(recs[0], recs[1]);
    assert_eq!(
        recs[0].header,
        "ver:3.0 server:supervisor serial:0 pool:rec poolserial:0 \
         eventname:PROCESS_GROUP_ADDED len:14"
    );
    d.stop();
}

both!(cross_pool => python_rejection_leaks_into_equal_priority_pools, ours_rejection_stays_in_its_pool);
fn cross_pool(kind: Kind) {
    // Pool `fail` rejects the first delivery of every event; pool `other` accepts everything.
    let conf = config_with(&format!(
        "{RPC}{}{}",
        recorder_pool(
            "fail",
            "fail.txt",
            "--fail-first",
            "REMOTE_COMMUNICATION",
            ""
        ),
        recorder_pool("other", "other.txt", "", "REMOTE_COMMUNICATION", "")
    ));
    let mut d = Daemon::start(kind, &conf);
    d.expect_log("success: fail entered RUNNING state", secs(20.0));
    d.expect_log("success: other entered RUNNING state", secs(20.0));
    rpc(&d, "sendRemoteCommEvent('t', 'x')");
    let fail = d.path("fail.txt");
    let other = d.path("other.txt");
    wait_for(secs(20.0), || (records(&fail).len() >= 2).then_some(()))
        .unwrap_or_else(|| panic!("no redelivery\n{}", d.diagnostics()));
    std::thread::sleep(secs(1.5));
    let got = records(&other);
    match kind {
        // Upstream quirk (upstream-reference §1.7): equal process priorities make the rejection re-inject
        // the event into `other` as well.
        Kind::Python => assert_eq!(got.len(), 2, "{got:#?}"),
        // Ours: only the rejecting pool gets it again (docs/compat.md, "Events").
        Kind::Ours => assert_eq!(got.len(), 1, "{got:#?}"),
    }
    assert_eq!(got[0].payload, "type:t\nx");
    d.stop();
}

both!(restart_serial => python_global_serial_survives_sighup, ours_global_serial_survives_sighup);
fn restart_serial(kind: Kind) {
    let conf = config_with(&format!(
        "{RPC}{}",
        recorder_pool(
            "rec",
            "events.txt",
            "",
            "PROCESS_GROUP,SUPERVISOR_STATE_CHANGE",
            ""
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    wait_rec(&d, "startup events", |r| r.len() >= 2);
    d.signal(libc::SIGHUP);
    // Serial 2 went to SUPERVISOR_STATE_CHANGE_STOPPING (buffered, lost with the old pool);
    // the new pool counts from 0 again but the global serial goes on.
    let recs = wait_rec(&d, "events after restart", |r| r.len() >= 4);
    let headers: Vec<&str> = recs.iter().map(|r| r.header.as_str()).collect();
    assert_eq!(
        headers,
        vec![
            "ver:3.0 server:supervisor serial:0 pool:rec poolserial:0 \
             eventname:PROCESS_GROUP_ADDED len:14",
            "ver:3.0 server:supervisor serial:1 pool:rec poolserial:1 \
             eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0",
            "ver:3.0 server:supervisor serial:3 pool:rec poolserial:0 \
             eventname:PROCESS_GROUP_ADDED len:14",
            "ver:3.0 server:supervisor serial:4 pool:rec poolserial:1 \
             eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0",
        ]
    );
    d.stop();
}

both!(stopping => python_supervisor_stopping_reaches_listener, ours_supervisor_stopping_reaches_listener);
fn stopping(kind: Kind) {
    // `slow` ignores SIGTERM, so the pool (stopped last: priority -1) is still up to receive
    // SUPERVISOR_STATE_CHANGE_STOPPING while supervisord waits for it.
    let conf = config_with(&format!(
        "{RPC}{}[program:slow]\ncommand=sh -c \"trap '' TERM; sleep 1000\"\nstartsecs=0\n\
         stopwaitsecs=3\n",
        recorder_pool("rec", "events.txt", "", "SUPERVISOR_STATE_CHANGE", "")
    ));
    let mut d = Daemon::start(kind, &conf);
    wait_rec(&d, "RUNNING", |r| !r.is_empty());
    d.expect_log("success: slow entered RUNNING state", secs(20.0));
    d.signal(libc::SIGTERM);
    let recs = wait_rec(&d, "STOPPING", |r| r.len() >= 2);
    let got: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r.header.as_str(), r.payload.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "ver:3.0 server:supervisor serial:0 pool:rec poolserial:0 \
                 eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0",
                ""
            ),
            (
                "ver:3.0 server:supervisor serial:1 pool:rec poolserial:1 \
                 eventname:SUPERVISOR_STATE_CHANGE_STOPPING len:0",
                ""
            ),
        ]
    );
    d.stop();
}

both!(group_events => python_group_added_and_removed_at_runtime, ours_group_added_and_removed_at_runtime);
fn group_events(kind: Kind) {
    let conf = config_with(&format!(
        "{RPC}{}",
        recorder_pool("rec", "events.txt", "", "PROCESS_GROUP", "")
    ));
    let mut d = Daemon::start(kind, &conf);
    wait_rec(&d, "startup ADDED", |r| !r.is_empty());
    let conf_path = d.path("supervisord.conf");
    let mut text = fs::read_to_string(&conf_path).unwrap_or_default();
    text.push_str("\n[program:late]\ncommand=sleep 1000\nautostart=false\n");
    fs::write(&conf_path, text).unwrap_or_else(|e| panic!("rewrite config: {e}"));
    rpc(&d, "reloadConfig()");
    rpc(&d, "addProcessGroup('late')");
    rpc(&d, "removeProcessGroup('late')");
    let recs = wait_rec(&d, "ADDED and REMOVED", |r| r.len() >= 3);
    let got: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r.header.as_str(), r.payload.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "ver:3.0 server:supervisor serial:0 pool:rec poolserial:0 \
                 eventname:PROCESS_GROUP_ADDED len:14",
                "groupname:rec\n"
            ),
            (
                "ver:3.0 server:supervisor serial:1 pool:rec poolserial:1 \
                 eventname:PROCESS_GROUP_ADDED len:15",
                "groupname:late\n"
            ),
            (
                "ver:3.0 server:supervisor serial:2 pool:rec poolserial:2 \
                 eventname:PROCESS_GROUP_REMOVED len:15",
                "groupname:late\n"
            ),
        ]
    );
    d.stop();
}

both!(result_handler => python_unknown_result_handler_is_refused, ours_unknown_result_handler_is_refused);
fn result_handler(kind: Kind) {
    // Upstream cannot import the handler and refuses to start; ours implements only a few
    // handlers natively (docs/compat.md) and refuses any other in the same words.
    let conf = config_with(&format!(
        "{RPC}{}",
        recorder_pool(
            "rec",
            "events.txt",
            "",
            "SUPERVISOR_STATE_CHANGE",
            "result_handler=nosuchmodule:handler\n"
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    let st = d.wait_exit(secs(20.0));
    assert!(st.is_some_and(|s| !s.success()), "{}", d.diagnostics());
    assert!(
        d.diagnostics()
            .contains("nosuchmodule:handler cannot be resolved within [eventlistener:rec]"),
        "{}",
        d.diagnostics()
    );
}

/// A program that writes three lines to stdout, 0.3 s apart, then idles.
const TALK: &str = "[program:talk]\ncommand=sh -c 'for i in 1 2 3; do echo hello $i; sleep 0.3; \
    done; exec sleep 1000'\nstdout_events_enabled=true\nstartsecs=0\n";

/// supervisord's stdout after a stop, the lines that carry a colour escape (stdlog's records).
fn relayed_lines(d: &Daemon) -> Vec<String> {
    d.stdout_text()
        .lines()
        .filter(|l| l.contains('\x1b'))
        .map(str::to_string)
        .collect()
}

both!(stdlog => python_supervisor_stdlog_relays_each_line, ours_supervisor_stdlog_relays_each_line);
fn stdlog(kind: Kind) {
    // Issue 12: the real supervisor-stdlog (PyPI 0.7.9) echoes each PROCESS_LOG payload as its
    // result and `supervisor_stdlog:log_handler` prints it on supervisord's stdout. Ours used
    // to judge the echo with the default handler: every event rejected and resent at once.
    let stdlog = venv_dir().join("bin/supervisor-stdlog");
    assert!(
        stdlog.is_file(),
        "{} missing: pip install supervisor-stdlog into the venv (scripts/test.sh does)",
        stdlog.display()
    );
    let conf = config_with(&format!(
        "{RPC}[eventlistener:stdlog]\ncommand={}\nevents=PROCESS_LOG\nbuffer_size=100\n\
         result_handler=supervisor_stdlog:log_handler\nstartsecs=0\n{TALK}",
        stdlog.display()
    ));
    let mut d = Daemon::start(kind, &conf);
    d.expect_log("success: talk entered RUNNING state", secs(20.0));
    std::thread::sleep(secs(2.0));
    d.stop();
    assert_eq!(
        relayed_lines(&d),
        vec![
            "\x1b[36mtalk | \x1b[37mhello 1\x1b[m",
            "\x1b[36mtalk | \x1b[37mhello 2\x1b[m",
            "\x1b[36mtalk | \x1b[37mhello 3\x1b[m",
        ],
        "{}",
        d.diagnostics()
    );
    let log = d.log_text();
    assert!(!log.contains("event was rejected"), "{log}");
}

both!(stdout_echo => python_supervisor_stdout_handler_cannot_load, ours_supervisor_stdout_handler_prints_the_payload);
fn stdout_echo(kind: Kind) {
    // supervisor-stdout (PyPI 0.1.1) is a Python 2 module: Python supervisord 4.3.0 fails to
    // import `supervisor_stdout:event_handler` and does not start. Ours implements the handler
    // natively; the listener is its loop ported to Python 3 (fixtures/echo_listener.py).
    let module = venv_dir().join("lib");
    assert!(
        Command::new(venv_python())
            .args([
                "-c",
                "import importlib.util as u; assert u.find_spec('supervisor_stdout')"
            ])
            .status()
            .is_ok_and(|s| s.success()),
        "supervisor-stdout is not installed in {} (scripts/test.sh installs it)",
        module.display()
    );
    let conf = config_with(&format!(
        "{RPC}[eventlistener:echo]\ncommand={} {}\nevents=PROCESS_LOG\nbuffer_size=100\n\
         result_handler=supervisor_stdout:event_handler\nstartsecs=0\n{TALK}",
        venv_python().display(),
        fixtures_dir().join("echo_listener.py").display()
    ));
    let mut d = Daemon::start(kind, &conf);
    match kind {
        Kind::Python => {
            let st = d.wait_exit(secs(20.0));
            assert!(st.is_some(), "{}", d.diagnostics());
            assert!(
                d.diagnostics().contains("SyntaxError"),
                "{}",
                d.diagnostics()
            );
        }
        Kind::Ours => {
            d.expect_log("success: talk entered RUNNING state", secs(20.0));
            std::thread::sleep(secs(2.0));
            d.stop();
            let out = d.stdout_text();
            let relayed: Vec<&str> = out.lines().filter(|l| l.contains(" | ")).collect();
            assert_eq!(
                relayed,
                vec![
                    "talk stdout | hello 1",
                    "talk stdout | hello 2",
                    "talk stdout | hello 3"
                ],
                "{}",
                d.diagnostics()
            );
            assert!(!d.log_text().contains("event was rejected"));
        }
    }
}

#[test]
fn ours_rejecting_listener_is_backed_off_not_busy_looped() {
    // Issue 12: a listener that rejects every event. Upstream resends at once (a busy loop:
    // thousands of deliveries and WARN lines a second); ours resends the first rejection at
    // once, then backs off 50 ms doubling to 5 s, and logs one WARN for the streak.
    let conf = config_with(&format!(
        "{RPC}{}",
        recorder_pool(
            "rec",
            "events.txt",
            "--always-fail",
            "SUPERVISOR_STATE_CHANGE",
            ""
        )
    ));
    let mut d = Daemon::start(Kind::Ours, &conf);
    wait_rec(&d, "first delivery", |r| !r.is_empty());
    std::thread::sleep(secs(3.0));
    let deliveries = records(&d.path("events.txt")).len();
    // 0, 0, 50, 100, 200, 400, 800, 1600 ms: about 8 in 3 s.
    assert!(
        (4..=15).contains(&deliveries),
        "{deliveries} deliveries in 3 s\n{}",
        d.diagnostics()
    );
    let log = d.log_text();
    assert_eq!(
        log.matches("WARN rec: event was rejected").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("WARN pool rec: events rejected twice in a row")
            .count(),
        1,
        "{log}"
    );
    d.stop();
}

both!(oneshot => python_oneshot_listener_and_stderr_log_events, ours_oneshot_listener_and_stderr_log_events);
fn oneshot(kind: Kind) {
    // A listener that exits right after each OK: every event must arrive exactly once, which
    // needs the result to be read before the exit is handled (upstream drains the pipes before
    // `finish()`, so do we; this scenario exercises that path but cannot force the race). One
    // event is undecodable stderr output (PROCESS_LOG_STDERR with `Undecodable: b'...'`).
    let conf = config_with(&format!(
        "{RPC}{}[program:noisy]\ncommand=sh -c \"printf 'bad \\\\377\\\\n' >&2; sleep 1000\"\n\
         startsecs=0\nstderr_events_enabled=true\n",
        recorder_pool(
            "rec",
            "events.txt",
            "--exit-after-ok",
            "PROCESS_LOG,PROCESS_GROUP",
            ""
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    let recs = wait_rec(&d, "PROCESS_LOG_STDERR", |r| {
        !find(r, "PROCESS_LOG_STDERR", "noisy").is_empty()
    });
    std::thread::sleep(secs(2.0));
    let recs2 = records(&d.path("events.txt"));
    assert_eq!(recs, recs2, "an event came again");
    check_headers(&recs);
    let names: Vec<&str> = recs.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        vec![
            "PROCESS_GROUP_ADDED",
            "PROCESS_GROUP_ADDED",
            "PROCESS_LOG_STDERR"
        ]
    );
    let payload = &recs[2].payload;
    let pid = pid_of(&recs[2]);
    assert_eq!(
        payload,
        &format!(
            "processname:noisy groupname:noisy pid:{pid} channel:stderr\n\
             Undecodable: b'bad \\xff\\n'"
        )
    );
    d.stop();
}

/// `VmHWM` (peak resident memory) of a process, in MiB.
fn peak_rss_mib(pid: i32) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

both!(flood => python_busy_listener_flooding_stdout_does_not_stall_the_daemon, ours_busy_listener_flooding_stdout_does_not_stall_the_daemon);
fn flood(kind: Kind) {
    // Issue 12: a BUSY listener writes 32 MiB without a newline. Every XML-RPC call made
    // during the flood must still be answered within 2 s (Python's own buffer copying makes
    // it pause up to about a second on a loaded machine) (ours used to rescan the whole buffer on
    // every read: quadratic, 16 MB stalled it for seconds), and ours cuts the listener off at
    // 1 MiB of unparsed output (UNKNOWN, like a bad result line) instead of buffering it all.
    let conf = config_with(&format!(
        "{RPC}[eventlistener:flood]\ncommand={} {} {{dir}}/flood 32\n\
         events=SUPERVISOR_STATE_CHANGE\nstartsecs=0\nstdout_logfile=NONE\n",
        venv_python().display(),
        fixtures_dir().join("flood_listener.py").display()
    ));
    let mut d = Daemon::start(kind, &conf);
    let client = supervisor_tests::rpc::RpcClient::unix(d.path("sock"));
    wait_for(secs(30.0), || d.path("flood.busy").exists().then_some(()))
        .unwrap_or_else(|| panic!("the listener never got its event\n{}", d.diagnostics()));
    let mut slowest = std::time::Duration::ZERO;
    let mut calls = 0;
    loop {
        let done = d.path("flood.done").exists();
        let t0 = std::time::Instant::now();
        let state = client.try_call("supervisor.getState", &[]);
        let took = t0.elapsed();
        assert!(state.is_ok(), "getState failed during the flood: {state:?}");
        slowest = slowest.max(took);
        calls += 1;
        if done {
            break;
        }
        assert!(calls < 3000, "the flood never ended\n{}", d.diagnostics());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        slowest < secs(2.0),
        "an XML-RPC call took {slowest:?} during the flood ({calls} calls)\n{}",
        d.diagnostics()
    );
    if kind == Kind::Ours {
        d.expect_log(
            "WARN flood: wrote more than 1048576 bytes without completing a result; treated \
             as a bad result line",
            secs(10.0),
        );
        d.expect_log("WARN flood: has entered the UNKNOWN state", secs(10.0));
        let peak = peak_rss_mib(d.pid());
        assert!(
            peak < 30.0,
            "daemon peak RSS {peak:.1} MiB after a 32 MiB flood"
        );
    }
    d.stop();
}

both!(one_event_per_chunk => python_process_log_keeps_one_event_per_write_while_the_listener_is_busy, ours_process_log_keeps_one_event_per_write_while_the_listener_is_busy);
fn one_event_per_chunk(kind: Kind) {
    // Issue 13: tools that relay one record per PROCESS_LOG event (supervisor-logging to
    // syslog) must see one event per write while the pool's buffer has room, even when the
    // listener is slow; ours used to merge everything written while the listener was busy.
    let conf = config_with(&format!(
        "{RPC}{}[program:talk]\ncommand=sh -c 'for i in $(seq 1 40); do echo line $i; \
         sleep 0.02; done; exec sleep 1000'\nstdout_events_enabled=true\nstartsecs=0\n",
        recorder_pool(
            "rec",
            "events.txt",
            "--sleep 0.05",
            "PROCESS_LOG",
            "buffer_size=100\n"
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    let recs = wait_rec(&d, "40 lines", |r| {
        find(r, "PROCESS_LOG_STDOUT", "talk")
            .iter()
            .map(|r| r.payload.matches("line ").count())
            .sum::<usize>()
            >= 40
    });
    let data: Vec<String> = find(&recs, "PROCESS_LOG_STDOUT", "talk")
        .iter()
        .map(|r| {
            r.payload
                .split_once('\n')
                .map_or("", |(_, d)| d)
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (1..=40).map(|i| format!("line {i}\n")).collect();
    assert_eq!(data, expected, "{}", d.diagnostics());
    d.stop();
}

both!(burst_then_exit => python_burst_of_writes_then_exit_loses_no_line, ours_burst_of_writes_then_exit_loses_no_line);
fn burst_then_exit(kind: Kind) {
    // Issue 15: during a burst of small writes our reader leaves the reactor and reads on a
    // timer. A program that writes 5,000 lines and exits at once must still have every line in
    // its log file and in its PROCESS_LOG events, in order, before its exit is handled.
    let conf = config_with(&format!(
        "{RPC}{}[program:burst]\ncommand={} -c \"import os; [os.write(1, b'burst ' + \
         str(i).zfill(4).encode() + b'\\\\n') for i in range(5000)]\"\n\
         stdout_events_enabled=true\nstartsecs=0\n\
         autorestart=false\nstdout_logfile={{dir}}/burst.log\n",
        recorder_pool(
            "rec",
            "events.txt",
            "",
            "PROCESS_LOG",
            "buffer_size=10000\n"
        ),
        venv_python().display()
    ));
    let mut d = Daemon::start(kind, &conf);
    let expected: String = (0..5000).map(|i| format!("burst {i:04}\n")).collect();
    let recs = wait_rec(&d, "5,000 lines", |r| {
        find(r, "PROCESS_LOG_STDOUT", "burst")
            .iter()
            .map(|r| r.payload.matches("burst ").count())
            .sum::<usize>()
            >= 5000
    });
    let data: String = find(&recs, "PROCESS_LOG_STDOUT", "burst")
        .iter()
        .map(|r| r.payload.split_once('\n').map_or("", |(_, d)| d))
        .collect();
    assert!(data == expected, "event data differs\n{}", d.diagnostics());
    d.expect_log("exited: burst (exit status 0; expected)", secs(20.0));
    let log = fs::read_to_string(d.path("burst.log")).unwrap_or_default();
    assert!(log == expected, "log file differs ({} bytes)", log.len());
    d.stop();
}
