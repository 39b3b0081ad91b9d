//! supervisorctl end to end: the same command sequence is run by Python's supervisorctl
//! 4.3.0 and by ours, each against its own fresh daemon, and the transcripts (stdout and exit
//! status of every command, with pids, uptimes, dates and temp paths normalised) must be
//! identical.
//!
//! Every scenario is a function of `(daemon Kind, ctl Kind)`. For now the daemon is always
//! Python's (ours gets its XML-RPC server later): `python_python_*` runs the reference
//! transcript alone (and checks a few of its lines, proving the scenario exercises what it
//! says), `python_ours_*` compares ours against it.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use supervisor_tests::{config_with, python_bin, run_command, secs, wait_for, Daemon, Kind};

/// Generates `#[test] fn $pp()` (Python daemon, Python ctl) and `#[test] fn $po()` (Python
/// daemon, our ctl compared with Python's).
macro_rules! ctl_test {
    ($scenario:ident, $programs:expr => $pp:ident, $po:ident) => {
        #[test]
        fn $pp() {
            let t = transcript(Kind::Python, Kind::Python, $programs, $scenario);
            check_reference(stringify!($scenario), &t);
        }
        #[test]
        fn $po() {
            compare(Kind::Python, $programs, $scenario);
        }
    };
}

/// Generates `#[test] fn $op()` (our daemon, Python's ctl) and `#[test] fn $oo()` (our daemon,
/// our ctl), each compared with Python's ctl against Python's daemon.
macro_rules! ours_daemon_test {
    ($scenario:ident, $programs:expr => $op:ident, $oo:ident) => {
        #[test]
        fn $op() {
            compare_daemons(Kind::Python, $programs, $scenario);
        }
        #[test]
        fn $oo() {
            compare_daemons(Kind::Ours, $programs, $scenario);
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A free TCP port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The servers, RPC interface and `[supervisorctl]` sections every scenario uses, plus
/// `programs`. `{port}` is the authenticated inet server's port.
fn ctl_config(programs: &str, port: u16) -> String {
    config_with(&format!(
        "[unix_http_server]
file={{dir}}/supervisor.sock

[inet_http_server]
port=127.0.0.1:{port}
username=user
password=secret

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{{dir}}/supervisor.sock

{programs}"
    ))
}

/// One daemon and one supervisorctl implementation; records a transcript.
struct Session {
    d: Daemon,
    ctl: PathBuf,
    port: u16,
    log: String,
}

impl Session {
    /// Wait (up to 10 s) until no process is between states (EXITED, BACKOFF, STARTING,
    /// STOPPING), so timing differences between daemons cannot change the next transcript line.
    fn settle(&self) {
        let client = supervisor_tests::rpc::RpcClient::unix(supervisor_tests::rpc::socket_path(
            self.d.dir(),
        ));
        let settled = wait_for(secs(10.0), || {
            let infos = client.call("supervisor.getAllProcessInfo", &[]).ok()?;
            let busy = infos.as_array()?.iter().any(|p| {
                matches!(
                    p.get("statename").and_then(|v| v.as_str()),
                    Some("EXITED" | "BACKOFF" | "STARTING" | "STOPPING")
                )
            });
            (!busy).then_some(())
        });
        assert!(settled.is_some(), "processes did not settle within 10 s");
    }

    fn start(daemon: Kind, ctl: Kind, programs: &str) -> Session {
        let port = free_port();
        let d = Daemon::start(daemon, &ctl_config(programs, port));
        let s = Session {
            d,
            ctl: ctl.bin("supervisorctl"),
            port,
            log: String::new(),
        };
        s.wait_settled();
        s
    }

    fn conf(&self) -> String {
        self.d.path("supervisord.conf").display().to_string()
    }

    /// Until the server answers and no process is STARTING (always asked with Python's ctl,
    /// so the wait does not depend on the ctl under test).
    fn wait_settled(&self) {
        let py = python_bin("supervisorctl");
        let conf = self.conf();
        let ok = wait_for(secs(20.0), || {
            let mut cmd = Command::new(&py);
            cmd.args(["-c", &conf, "status"]);
            let out = run_command(cmd, secs(10.0));
            let up = matches!(out.code(), Some(0) | Some(3));
            (up && !out.stdout.contains("STARTING") && !out.stdout.contains("STOPPING"))
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "daemon did not settle\n{}",
            self.d.diagnostics()
        );
    }

    /// Runs `supervisorctl -c <conf> <args>` (args split on whitespace).
    fn ctl(&mut self, args: &str) -> (String, Option<i32>) {
        self.ctl_with(&["-c", &self.conf()], args, None)
    }

    /// [`Session::ctl`] for commands whose result order is the server's completion order
    /// (`stop all`: deferred stops finish in any order): records the lines sorted.
    fn ctl_sorted(&mut self, args: &str) {
        let mark = self.log.len();
        let (out, code) = self.ctl(args);
        self.log.truncate(mark);
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort_unstable();
        self.log.push_str(&format!(
            "$ supervisorctl -c CONF {args} (lines sorted)\n{}\n[exit {code:?}]\n",
            lines.join("\n")
        ));
    }

    /// Runs supervisorctl without `-c` (`{dir}` and `{port}` in `args` are substituted).
    fn ctl_raw(&mut self, args: &str) -> (String, Option<i32>) {
        self.ctl_with(&[], args, None)
    }

    /// Runs with `input` on stdin.
    fn ctl_input(&mut self, args: &str, input: &str) -> (String, Option<i32>) {
        self.ctl_with(&["-c", &self.conf()], args, Some(input))
    }

    fn expand(&self, s: &str) -> String {
        s.replace("{dir}", &self.d.dir().display().to_string())
            .replace("{port}", &self.port.to_string())
    }

    fn ctl_with(&mut self, pre: &[&str], args: &str, input: Option<&str>) -> (String, Option<i32>) {
        let shown = args.to_string();
        let args = self.expand(args);
        let mut cmd = Command::new(&self.ctl);
        cmd.args(pre).args(args.split_whitespace());
        cmd.current_dir(self.d.dir());
        let out = match input {
            None => run_command(cmd, secs(30.0)),
            Some(text) => run_with_input(cmd, text, secs(30.0)),
        };
        let stdout = self.normalise(&out.stdout);
        self.log.push_str(&format!(
            "$ supervisorctl {} {shown}\n{stdout}[exit {:?}]\n",
            pre.first().map(|_| "-c CONF").unwrap_or(""),
            out.code()
        ));
        (stdout, out.code())
    }

    /// Runs a streaming command (`tail -f`), sends SIGINT after `after`, records stdout.
    fn ctl_interrupted(&mut self, args: &str, after: Duration) -> (String, String) {
        let expanded = self.expand(args);
        let mut cmd = Command::new(&self.ctl);
        cmd.args(["-c", &self.conf()])
            .args(expanded.split_whitespace());
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisorctl");
        thread::sleep(after);
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + secs(10.0);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait supervisorctl");
        let stdout = self.normalise(&String::from_utf8_lossy(&out.stdout));
        let stderr = self.normalise(&String::from_utf8_lossy(&out.stderr));
        self.log.push_str(&format!(
            "$ supervisorctl -c CONF {args} (SIGINT)\n{stdout}--- stderr\n{stderr}"
        ));
        (stdout, stderr)
    }

    /// Like [`Session::ctl_interrupted`], but the command starts with SIGINT ignored (a
    /// background job of a script): Python installs its KeyboardInterrupt handler only over
    /// the default action, so the command keeps running. Records whether it did.
    fn ctl_sigint_ignored(&mut self, args: &str, after: Duration) {
        let expanded = self.expand(args);
        let mut cmd = Command::new(&self.ctl);
        cmd.args(["-c", &self.conf()])
            .args(expanded.split_whitespace());
        // SAFETY: only an async-signal-safe call between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisorctl");
        thread::sleep(after);
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        thread::sleep(Duration::from_millis(700));
        let running = child.try_wait().ok().flatten().is_none();
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait supervisorctl");
        let stdout = self.normalise(&String::from_utf8_lossy(&out.stdout));
        self.log.push_str(&format!(
            "$ supervisorctl -c CONF {args} (SIGINT ignored, then SIGINT)\n\
             still running: {running}\n{stdout}"
        ));
    }

    /// The interactive shell with stdin held open, interrupted by SIGINT after `after`.
    fn ctl_interrupted_shell(&mut self, after: Duration) -> (String, Option<i32>) {
        let mut child = Command::new(&self.ctl)
            .args(["-c", &self.conf()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisorctl");
        let stdin = child.stdin.take();
        thread::sleep(after);
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + secs(10.0);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        drop(stdin);
        let out = child.wait_with_output().expect("wait supervisorctl");
        let stdout = self.normalise(&String::from_utf8_lossy(&out.stdout));
        self.log.push_str(&format!(
            "$ supervisorctl -c CONF (shell, SIGINT)\n{stdout}[exit {:?}]\n",
            out.status.code()
        ));
        (stdout, out.status.code())
    }

    fn note(&mut self, s: &str) {
        self.log.push_str(&format!("# {s}\n"));
    }

    /// Rewrites the config's program sections (the server sections stay).
    fn set_programs(&mut self, programs: &str) {
        let text =
            ctl_config(programs, self.port).replace("{dir}", &self.d.dir().display().to_string());
        std::fs::write(self.d.path("supervisord.conf"), text).expect("rewrite config");
        self.note("config rewritten");
    }

    fn normalise(&self, text: &str) -> String {
        let dir = self.d.dir().display().to_string();
        let text = text
            .replace(&dir, "{dir}")
            .replace(&self.port.to_string(), "{port}")
            .replace(&self.ctl.display().to_string(), "PROG");
        text.lines().map(normalise_line).map(|l| l + "\n").collect()
    }
}

/// Pids, uptimes, stop dates, log timestamps and the Python-internal `file: ... line: ...`.
fn normalise_line(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    // `error: <class ...>, ...: file: X line: N` → cut the location.
    if let Some(i) = rest.find(": file: ") {
        if rest.starts_with("error: ") {
            return format!("{}: file: F", &rest[..i]);
        }
    }
    if rest.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty() {
        return "N".to_string();
    }
    while let Some(i) = rest.find("pid ") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    let mut line = out;
    if let Some(i) = line.find("uptime ") {
        line.truncate(i + 7);
        line.push('T');
    }
    // `Nov 23 03:12 AM` in STOPPED/EXITED descriptions.
    for m in ["AM", "PM"] {
        if line.ends_with(m) && line.len() >= 15 {
            let cut = line.len() - 15;
            if line.is_char_boundary(cut) {
                line.truncate(cut);
                line.push_str("DATE");
            }
        }
    }
    // Main log lines: `2026-11-25 21:34:54,920 INFO ...`.
    if line.len() > 24 && line.as_bytes()[4] == b'-' && line.as_bytes()[19] == b',' {
        line = format!("TIME{}", &line[23..]);
    }
    line
}

fn run_with_input(mut cmd: Command, input: &str, timeout: Duration) -> supervisor_tests::RunOutput {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn supervisorctl");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    while child.try_wait().ok().flatten().is_none() && start.elapsed() < timeout {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait supervisorctl");
    supervisor_tests::RunOutput {
        status: Some(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

fn transcript(daemon: Kind, ctl: Kind, programs: &str, scenario: fn(&mut Session)) -> String {
    let mut s = Session::start(daemon, ctl, programs);
    scenario(&mut s);
    if std::env::var_os("SUPERVISOR_RS_SHOW_TRANSCRIPT").is_some() {
        eprintln!("===== daemon {daemon}, ctl {ctl} =====\n{}", s.log);
    }
    std::mem::take(&mut s.log)
}

/// Runs the scenario with Python's ctl and with ours (on separate daemons of `daemon` kind,
/// in parallel) and requires identical transcripts.
fn compare(daemon: Kind, programs: &'static str, scenario: fn(&mut Session)) {
    let py = thread::spawn(move || transcript(daemon, Kind::Python, programs, scenario));
    let ours = transcript(daemon, Kind::Ours, programs, scenario);
    let py = py.join().expect("python transcript");
    assert_same_transcript(&py, &ours);
}

/// Our daemon behind `ctl`: the transcript must equal Python's supervisorctl against Python's
/// supervisord running the same scenario.
fn compare_daemons(ctl: Kind, programs: &'static str, scenario: fn(&mut Session)) {
    let py = thread::spawn(move || transcript(Kind::Python, Kind::Python, programs, scenario));
    let ours = transcript(Kind::Ours, ctl, programs, scenario);
    let py = py.join().expect("python transcript");
    assert_same_transcript(&mask_config_reasons(&py), &mask_config_reasons(&ours));
}

/// Config error texts differ on purpose (ours names the option: docs/compat.md,
/// "Configuration"), so a CANT_REREAD reason is compared up to its section and file.
fn mask_config_reasons(t: &str) -> String {
    t.lines()
        .map(
            |line| match (line.find("CANT_REREAD: "), line.find(" in section")) {
                (Some(a), Some(b)) if a + 13 <= b => {
                    format!("{}<reason>{}", &line[..a + 13], &line[b..])
                }
                _ => line.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_same_transcript(py: &str, ours: &str) {
    if py != ours {
        let diff: Vec<String> = py
            .lines()
            .zip(ours.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  python: {a:?}\n  ours:   {b:?}", i + 1))
            .collect();
        panic!(
            "transcripts differ\n{}\n===== python =====\n{py}\n===== ours =====\n{ours}",
            diff.join("\n")
        );
    }
}

/// Lines the Python reference transcript must contain (so a scenario cannot silently stop
/// testing what it claims).
fn check_reference(name: &str, t: &str) {
    let expected: &[&str] = match name {
        "basics" => &[
            "sleeper                          RUNNING   pid N, uptime T",
            "nope: ERROR (no such process)",
            "nogrp: ERROR (no such group)",
            "Error: start requires a process name",
            "*** Unknown syntax: bogus",
            "default commands (type help <topic>):",
        ],
        "start_stop" => &[
            "sleeper: stopped",
            "sleeper: ERROR (not running)",
            "sleeper: ERROR (already started)",
            "grp:g1: started",
            "stopped: ERROR (not running)",
            "sleeper: ERROR (bad signal name)",
        ],
        "logs" => &[
            "hello",
            "oops",
            "echoer: cleared",
            "grp:None: ERROR (no such process)",
        ],
        "update" => &[
            "gone: disappeared",
            "changed: changed",
            "added: available",
            "changed: updated process group",
            "ERROR: no such group: nope",
            "ERROR: CANT_REREAD: ",
            "error: <class 'xmlrpc.client.Fault'>, <Fault 92: ",
        ],
        "auth_and_unreachable" => &[
            "Server requires authentication",
            "unix://{dir}/nope.sock no such file",
            "http://127.0.0.1:1 refused connection",
        ],
        "interactive" => &["supervisor> 4.3.0", "*** Unknown syntax: bogus"],
        "shutdown" => &["Shut down"],
        "reload" => &["Restarted supervisord"],
        "streaming" => &["==> Press Ctrl-C to exit <=="],
        _ => &[],
    };
    for e in expected {
        assert!(
            t.contains(e),
            "reference transcript of {name} lacks {e:?}:\n{t}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

const PROGRAMS: &str = "\
[program:sleeper]
command=sleep 1000
startsecs=0
priority=10

[program:echoer]
command=sh -c 'echo hello; echo oops >&2; exec sleep 1000'
startsecs=0
priority=20

[program:stopped]
command=sleep 1000
autostart=false
startsecs=0
priority=30

[group:grp]
programs=g1,g2
priority=40

[program:g1]
command=sleep 1000
startsecs=0
priority=41

[program:g2]
command=sleep 1000
startsecs=0
autostart=false
priority=42
";

ctl_test!(basics, PROGRAMS => python_python_basics, python_ours_basics);
ours_daemon_test!(basics, PROGRAMS => ours_python_basics, ours_ours_basics);
fn basics(s: &mut Session) {
    for cmd in [
        "status",
        "status sleeper",
        "status grp:*",
        "status grp:",
        "status sleeper nope grp:*",
        "status nope",
        "status nogrp:*",
        "status all",
        "version",
        "version x",
        "pid",
        "pid sleeper",
        "pid stopped",
        "pid nope",
        "pid all",
        "avail",
        "avail x",
        "reread x",
        "help",
        "help start",
        "help help",
        "help nope",
        "bogus",
        "start",
        "stop",
        "restart",
        "signal",
        "signal HUP",
        "clear",
        "tail",
        "tail a b c d",
        "tail echoer x",
        "tail -x echoer",
        "maintail -x",
        "maintail a b",
        "fg",
        "fg a b",
        "fg nope",
        "fg stopped",
        "shutdown x",
        "reload x",
        "open foo://x",
        "EOF",
        "quit",
    ] {
        s.ctl(cmd);
    }
    for h in [
        "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload",
        "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail",
        "update", "version", "EOF",
    ] {
        s.ctl(&format!("help {h}"));
    }
    s.ctl_raw("-h");
    s.ctl_raw("-?");
    s.ctl_raw("-x status");
    s.ctl_raw("-c");
    s.ctl_raw("-s foo status");
    s.ctl_raw("--serverurl=foo status");
    s.ctl_raw("-s foo -h");
    s.ctl_raw("-h -s foo");
    s.ctl_raw("-i -i status");
    s.ctl_raw("-c {dir}/supervisord.conf --conf {dir}/supervisord.conf status");
    s.ctl_raw("--history-file x status");
    s.ctl_raw("-c {dir}/missing.conf status");
    s.ctl_raw("-c /dev/null status");
    s.ctl_raw("-s unix://{dir}/supervisor.sock status sleeper");
}

ctl_test!(start_stop, PROGRAMS => python_python_start_stop, python_ours_start_stop);
ours_daemon_test!(start_stop, PROGRAMS => ours_python_start_stop, ours_ours_start_stop);
fn start_stop(s: &mut Session) {
    let unordered = [
        "stop all",
        "restart all",
        "restart grp:* sleeper",
        "stop grp:*",
    ];
    for cmd in [
        "stop sleeper",
        "stop sleeper",
        "status sleeper",
        "start sleeper",
        "start sleeper",
        "restart sleeper",
        "start nope",
        "start nogrp:*",
        "stop nope",
        "stop nogrp:*",
        "stop grp:*",
        "stop grp:*",
        "status grp:*",
        "start grp:*",
        "start grp:*",
        "signal HUP sleeper",
        "signal HUP stopped",
        "signal BOGUS sleeper",
        "signal USR1 grp:*",
        "signal HUP nogrp:*",
        "signal HUP nope",
        "stop all",
        "status",
        "start all",
        "status",
        "signal HUP all",
        "restart all",
        "restart grp:* sleeper",
        "stop stopped sleeper",
        "status",
    ] {
        if unordered.contains(&cmd) {
            s.ctl_sorted(cmd);
        } else {
            s.ctl(cmd);
        }
        if cmd.starts_with("signal") {
            // Signals kill some programs; what the next command finds depends on how fast the
            // daemon restarts them, so let both daemons get there first.
            s.settle();
        }
    }
}

ctl_test!(logs, PROGRAMS => python_python_logs, python_ours_logs);
ours_daemon_test!(logs, PROGRAMS => ours_python_logs, ours_ours_logs);
fn logs(s: &mut Session) {
    // The echoer's output reaches its log asynchronously.
    let conf = s.conf();
    let py = python_bin("supervisorctl");
    wait_for(secs(10.0), || {
        let mut cmd = Command::new(&py);
        cmd.args(["-c", &conf, "tail", "echoer", "stderr"]);
        run_command(cmd, secs(10.0))
            .stdout
            .contains("oops")
            .then_some(())
    });
    for cmd in [
        "tail echoer",
        "tail echoer stderr",
        "tail echoer STDERR",
        "tail -3 echoer",
        "tail -3 echoer stderr",
        "tail -0 echoer",
        "tail nope",
        "tail stopped",
        "tail grp:g1",
        "clear echoer",
        "tail echoer",
        "clear nope",
        "clear grp:*",
        "clear grp:g1 sleeper",
        "clear all",
    ] {
        s.ctl(cmd);
    }
    // The main log's last bytes start mid-line (pid widths vary): keep whole lines only.
    let mark = s.log.len();
    let (out, code) = s.ctl_with(&["-c", &conf], "maintail -300", None);
    s.log.truncate(mark);
    let whole = out
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("TIME "))
        .count();
    s.note(&format!(
        "maintail -300: whole log lines {} exit {code:?}",
        whole.min(1)
    ));
    s.ctl("maintail -0");
}

const UPDATE_BEFORE: &str = "\
[program:keep]
command=sleep 1000
startsecs=0

[program:gone]
command=sleep 1000
startsecs=0

[program:changed]
command=sleep 1000
startsecs=0
";

const UPDATE_AFTER: &str = "\
[program:keep]
command=sleep 1000
startsecs=0

[program:changed]
command=sleep 1001
startsecs=0

[program:added]
command=sleep 1000
startsecs=0

[program:added2]
command=sleep 1000
startsecs=0
autostart=false
";

ctl_test!(update, UPDATE_BEFORE => python_python_update, python_ours_update);
ours_daemon_test!(update, UPDATE_BEFORE => ours_python_update, ours_ours_update);
fn update(s: &mut Session) {
    s.ctl("reread");
    s.ctl("update");
    s.set_programs(UPDATE_AFTER);
    s.ctl("reread");
    s.ctl("avail");
    s.ctl("update nope added");
    s.wait_settled();
    s.ctl("status");
    s.ctl("update all");
    s.wait_settled();
    s.ctl("status");
    s.ctl("reread");
    s.ctl("remove added");
    s.ctl("stop added");
    s.ctl("remove added");
    s.ctl("remove added");
    s.ctl("add added");
    s.ctl("add added");
    s.ctl("add nope");
    s.wait_settled();
    s.ctl("remove keep");
    s.set_programs("[program:broken]\ncommand=sleep 1\nstartsecs=notanumber\n");
    s.ctl("reread");
    s.ctl("update");
    s.set_programs(UPDATE_BEFORE);
    s.ctl("update keep changed gone");
    s.wait_settled();
    s.ctl("status");
}

ctl_test!(auth_and_unreachable, PROGRAMS => python_python_auth_and_unreachable, python_ours_auth_and_unreachable);
ours_daemon_test!(auth_and_unreachable, PROGRAMS => ours_python_auth_and_unreachable, ours_ours_auth_and_unreachable);
fn auth_and_unreachable(s: &mut Session) {
    for cmd in [
        "-s http://127.0.0.1:{port} status",
        "-s http://127.0.0.1:{port} avail",
        "-s http://127.0.0.1:{port} -u user -p wrong status",
        "-s http://127.0.0.1:{port} -u user -p secret status sleeper",
        "-s http://127.0.0.1:{port}/ignored -u user -p secret version",
        "--serverurl=http://127.0.0.1:{port} --username=user --password=secret pid sleeper",
        "-s unix://{dir}/nope.sock status",
        "-s unix://{dir}/nope.sock start sleeper",
        "-s unix://{dir}/nope.sock version",
        "-s unix://{dir}/nope.sock avail",
        "-s unix://{dir}/nope.sock shutdown",
        "-s http://127.0.0.1:1 status",
        "-s http://127.0.0.1:1 stop sleeper",
        "-s http://127.0.0.1:1 reread",
        "-s http://127.0.0.1:1 shutdown",
        "-s https://127.0.0.1:1 status",
        "-s https://127.0.0.1:1 avail",
    ] {
        s.ctl_raw(cmd);
    }
}

ctl_test!(interactive, PROGRAMS => python_python_interactive, python_ours_interactive);
ours_daemon_test!(interactive, PROGRAMS => ours_python_interactive, ours_ours_interactive);
fn interactive(s: &mut Session) {
    let script = "version\n\nbogus\nhelp quit\n?stop\nstatus nope\nstart nope\n\
                  open foo://x\nopen unix://{dir}/nope.sock\nversion\n";
    let script = s.expand(script);
    s.ctl_input("", &script);
    s.ctl_input("-i", "version\nquit\nversion\n");
    s.ctl_input("-i version", "status\n");
    s.ctl_input("-i shutdown", "n\n");
    s.ctl_input("-i reload", "no\n");
    s.ctl_input("", "exit\n");
    // With stdin not a terminal, no history file is written.
    s.ctl_input("-r {dir}/history", "version\nquit\n");
    let written = s.d.path("history").exists();
    s.note(&format!("history file written: {written}"));
}

ctl_test!(shutdown, PROGRAMS => python_python_shutdown, python_ours_shutdown);
ours_daemon_test!(shutdown, PROGRAMS => ours_python_shutdown, ours_ours_shutdown);
fn shutdown(s: &mut Session) {
    s.ctl("shutdown");
    let gone = s.d.wait_exit(secs(20.0)).is_some();
    s.note(&format!("daemon exited: {gone}"));
    s.ctl("shutdown");
    s.ctl("status");
    s.ctl("stop all");
}

ctl_test!(reload, PROGRAMS => python_python_reload, python_ours_reload);
ours_daemon_test!(reload, PROGRAMS => ours_python_reload, ours_ours_reload);
fn reload(s: &mut Session) {
    s.ctl("reload");
    // The daemon restarts in place: wait for its socket to answer again.
    thread::sleep(secs(1.0));
    s.wait_settled();
    s.ctl("status");
    s.ctl_input("-i reload", "y\n");
    thread::sleep(secs(1.0));
    s.wait_settled();
    s.ctl("version");
}

ctl_test!(streaming, PROGRAMS => python_python_streaming, python_ours_streaming);
ours_daemon_test!(streaming, PROGRAMS => ours_python_streaming, ours_ours_streaming);
fn streaming(s: &mut Session) {
    let conf = s.conf();
    let py = python_bin("supervisorctl");
    wait_for(secs(10.0), || {
        let mut cmd = Command::new(&py);
        cmd.args(["-c", &conf, "tail", "echoer", "stderr"]);
        run_command(cmd, secs(10.0))
            .stdout
            .contains("oops")
            .then_some(())
    });
    s.ctl_interrupted("tail -f echoer", secs(1.5));
    s.ctl_interrupted("tail -f echoer stderr", secs(1.5));
    s.ctl_interrupted("tail -f nope", secs(1.5));
    s.ctl_interrupted(
        "-s http://127.0.0.1:{port} -u user -p secret tail -f echoer",
        secs(1.5),
    );
    s.ctl_sigint_ignored("tail -f echoer", secs(1.5));
    // Ctrl-C at the shell prompt: a newline, exit 0.
    let (out, _) = s.ctl_interrupted_shell(secs(1.5));
    s.note(&format!(
        "shell after SIGINT ends with: {:?}",
        out.lines().last()
    ));
    let mark = s.log.len();
    let (out, _) = s.ctl_interrupted("maintail -f", secs(1.5));
    s.log.truncate(mark);
    s.note(&format!(
        "maintail -f framing: first={:?} ends-with-blank={}",
        out.lines().next(),
        out.ends_with("\n\n")
    ));
}

// ---------------------------------------------------------------------------------------------
// Ours only: extras and `fg` (Python's fg hangs at exit on its own threads, so its transcript
// cannot be compared)
// ---------------------------------------------------------------------------------------------

const FG_PROGRAMS: &str = "\
[program:cat]
command=cat
startsecs=0

[program:sleeper]
command=sleep 1000
startsecs=0
";

#[test]
fn python_ours_fg_forwards_stdin() {
    let mut s = Session::start(Kind::Python, Kind::Ours, FG_PROGRAMS);
    let conf = s.conf();
    let mut cmd = Command::new(&s.ctl);
    cmd.args(["-c", &conf, "fg", "cat"]);
    // Keep stdin open for a while so the output stream has time to show the echo.
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn supervisorctl");
    let mut child = child;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello from fg\n").expect("write stdin");
    thread::sleep(secs(1.5));
    drop(stdin);
    let start = Instant::now();
    while child.try_wait().ok().flatten().is_none() && start.elapsed() < secs(10.0) {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("==> Press Ctrl-C to exit <==\n"),
        "{stdout}"
    );
    assert!(stdout.contains("hello from fg\n"), "{stdout}");
    assert!(stdout.ends_with("Exiting foreground\n"), "{stdout}");
    let (tail, _) = s.ctl("tail cat");
    assert!(tail.contains("hello from fg"), "{tail}");
    let (out, code) = s.ctl("fg sleeper extra");
    assert_eq!(
        (out.as_str(), code),
        ("ERROR: too many process names supplied\n", Some(1))
    );
}

#[test]
fn python_ours_status_json() {
    let mut s = Session::start(Kind::Python, Kind::Ours, FG_PROGRAMS);
    let raw = |s: &Session, args: &[&str]| {
        let mut cmd = Command::new(&s.ctl);
        cmd.args(["-c", &s.conf()]).args(args);
        run_command(cmd, secs(30.0))
    };
    let out = raw(&s, &["status", "--json"]);
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(
        out.stdout.starts_with(
            "[{\"name\":\"cat\",\"group\":\"cat\",\"namespec\":\"cat\",\"state\":20,\
             \"statename\":\"RUNNING\",\"description\":\"pid "
        ),
        "{out}"
    );
    assert!(out.stdout.contains("},{\"name\":\"sleeper\""), "{out}");
    assert!(out.stdout.ends_with(".log\"}]\n"), "{out}");
    let out = raw(&s, &["status", "--json", "sleeper", "nope"]);
    assert_eq!(out.code(), Some(4), "{out}");
    assert!(
        out.stdout
            .starts_with("nope: ERROR (no such process)\n[{\"name\":\"sleeper\""),
        "{out}"
    );
    // Piped output never carries colour codes.
    let (out, _) = s.ctl("status");
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn python_ours_interactive_401_asks_for_credentials() {
    let mut s = Session::start(Kind::Python, Kind::Ours, FG_PROGRAMS);
    let (out, code) = s.ctl_with(
        &[],
        "-s http://127.0.0.1:{port} -i version",
        Some("user\nsecret\n"),
    );
    assert_eq!(
        (out.as_str(), code),
        (
            "Server requires authentication\nUsername:\n4.3.0\n",
            Some(0)
        )
    );
}

/// A pseudo-terminal: (master fd, slave path).
fn open_pty() -> (std::fs::File, PathBuf) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls; the fd is owned by the returned File.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(m >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(m), 0, "grantpt");
        assert_eq!(libc::unlockpt(m), 0, "unlockpt");
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()),
            0,
            "ptsname_r"
        );
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .into_owned();
        let ws = libc::winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        libc::ioctl(m, libc::TIOCSWINSZ, &ws);
        (std::fs::File::from_raw_fd(m), PathBuf::from(name))
    }
}

/// Reads what the master side has for `wait`.
fn pty_read(master: &mut std::fs::File, wait: Duration) -> String {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    let end = Instant::now() + wait;
    while Instant::now() < end {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 50) };
        if n > 0 {
            let mut buf = [0u8; 4096];
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// On a terminal the shell edits lines (rustyline): Tab completes actions and process names,
/// the history file is written as plain lines, Ctrl-C leaves with status 0, and with
/// `--color` the state column is coloured.
#[test]
fn python_ours_terminal_shell() {
    let s = Session::start(Kind::Python, Kind::Ours, FG_PROGRAMS);
    let (mut master, slave) = open_pty();
    let open_slave = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave)
            .expect("open pty slave")
    };
    let history = s.d.path("history");
    let mut child = Command::new(&s.ctl)
        .args(["-c", &s.conf(), "--color", "-r"])
        .arg(&history)
        .env_remove("NO_COLOR")
        .stdin(open_slave())
        .stdout(open_slave())
        .stderr(open_slave())
        .spawn()
        .expect("spawn supervisorctl on a pty");
    let mut seen = pty_read(&mut master, secs(2.0));
    for keys in [&b"vers\t\r"[..], b"pid sle\t\r", b"\x03"] {
        master.write_all(keys).expect("type");
        seen.push_str(&pty_read(&mut master, secs(1.0)));
    }
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if start.elapsed() > secs(10.0) {
            let _ = child.kill();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{seen:?}");
    assert!(seen.contains("\x1b[32mRUNNING\x1b[0m   "), "{seen:?}");
    assert!(seen.contains("4.3.0"), "{seen:?}");
    let text = std::fs::read_to_string(&history).expect("history written");
    assert_eq!(text, "version \npid sleeper \n", "{seen:?}");
}

/// Runs `ctl args` with stdin, stdout and stderr on a fresh pty and returns everything it
/// wrote there until it exits (at most 30 s).
fn pty_run(ctl: &std::path::Path, args: &[&str], cwd: &std::path::Path) -> String {
    pty_session(ctl, args, cwd, &[])
}

/// [`pty_run`] typing each of `keys` after the output has been quiet for a moment (with
/// `TERM=xterm`, so line editors behave the same everywhere).
fn pty_session(
    ctl: &std::path::Path,
    args: &[&str],
    cwd: &std::path::Path,
    keys: &[&[u8]],
) -> String {
    let (mut master, slave) = open_pty();
    let open_slave = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave)
            .expect("open pty slave")
    };
    let mut child = Command::new(ctl)
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(open_slave())
        .stdout(open_slave())
        .stderr(open_slave())
        .spawn()
        .expect("spawn supervisorctl on a pty");
    let start = Instant::now();
    let mut seen = String::new();
    for k in keys {
        seen.push_str(&pty_read(&mut master, Duration::from_millis(1500)));
        master.write_all(k).expect("type on the pty");
    }
    loop {
        seen.push_str(&pty_read(&mut master, Duration::from_millis(100)));
        if child.try_wait().expect("try_wait").is_some() {
            seen.push_str(&pty_read(&mut master, Duration::from_millis(200)));
            break;
        }
        if start.elapsed() > secs(30.0) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("supervisorctl {args:?} did not exit on a pty: {seen:?}");
        }
    }
    seen
}

/// Upstream's `test_issue_664` (pexpect `test_öäü\\s+RUNNING` through a pty): `status` on a
/// terminal prints the same plain bytes as Python's supervisorctl, under Python's daemon and
/// ours. Colour only when asked: `--color` (or `--color=always`) and `[supervisorctl] color=`.
fn status_on_a_pty(daemon: Kind) {
    let s = Session::start(daemon, Kind::Ours, "[program:test_öäü]\ncommand=/bin/cat\n");
    let conf = s.conf();
    let run = |ctl: &std::path::Path, args: &[&str]| {
        let mut all = vec!["-c", conf.as_str()];
        all.extend_from_slice(args);
        s.normalise(&pty_run(ctl, &all, s.d.dir()))
    };
    let python = run(&python_bin("supervisorctl"), &["status"]);
    let ours = run(&s.ctl, &["status"]);
    assert_eq!(ours, python);
    let plain = regex_like_issue_664(&ours);
    assert!(plain, "no plain `test_öäü\\s+RUNNING` in {ours:?}");
    assert!(!ours.contains('\x1b'), "{ours:?}");
    // Asked for: coloured on the terminal.
    let coloured = run(&s.ctl, &["--color", "status"]);
    assert!(coloured.contains("\x1b[32mRUNNING\x1b[0m"), "{coloured:?}");
    let never = run(&s.ctl, &["--color=never", "status"]);
    assert_eq!(never, python);
    let text = std::fs::read_to_string(&conf).expect("read config");
    std::fs::write(
        &conf,
        text.replace("[supervisorctl]\n", "[supervisorctl]\ncolor=auto\n"),
    )
    .expect("rewrite config");
    let coloured = run(&s.ctl, &["status"]);
    assert!(coloured.contains("\x1b[32mRUNNING\x1b[0m"), "{coloured:?}");
    // Through a pipe only `always` colours.
    let mut cmd = Command::new(&s.ctl);
    cmd.args(["-c", &conf, "status"]);
    let out = run_command(cmd, secs(30.0));
    assert!(!out.stdout.contains('\x1b'), "{out}");
    let mut cmd = Command::new(&s.ctl);
    cmd.args(["-c", &conf, "--color=always", "status"]);
    let out = run_command(cmd, secs(30.0));
    assert!(out.stdout.contains("\x1b[32mRUNNING\x1b[0m"), "{out}");
    let mut cmd = Command::new(&s.ctl);
    cmd.args(["-c", &conf, "--color=sometimes", "status"]);
    let out = run_command(cmd, secs(30.0));
    assert_eq!(out.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("Error: invalid value for --color 'sometimes'"),
        "{out}"
    );
}

/// `test_öäü` then whitespace then `RUNNING`, as pexpect's pattern.
fn regex_like_issue_664(text: &str) -> bool {
    text.split("test_öäü").skip(1).any(|rest| {
        let trimmed = rest.trim_start();
        trimmed.len() < rest.len() && trimmed.starts_with("RUNNING")
    })
}

#[test]
fn python_ours_status_on_a_pty() {
    status_on_a_pty(Kind::Python);
}

#[test]
fn ours_ours_status_on_a_pty() {
    status_on_a_pty(Kind::Ours);
}

/// The interactive shell through a pty (how pexpect/expect scripts drive it): the same bytes
/// as Python's supervisorctl once rustyline's line redraw (`\r ESC[K` before the prompt,
/// `\r ESC[<n>C` after it) is taken out; in particular no bracketed-paste or
/// synchronized-update sequences around each prompt.
#[test]
fn python_ours_interactive_shell_on_a_pty() {
    let s = Session::start(Kind::Python, Kind::Ours, FG_PROGRAMS);
    let conf = s.conf();
    let keys: &[&[u8]] = &[b"status sleeper\r", b"pid sleeper\r", b"quit\r"];
    let run = |ctl: &std::path::Path| {
        s.normalise(&pty_session(ctl, &["-c", conf.as_str()], s.d.dir(), keys))
    };
    let python = run(&python_bin("supervisorctl"));
    let ours = run(&s.ctl);
    assert!(python.contains("supervisor> status sleeper"), "{python:?}");
    assert!(!ours.contains("\x1b[?"), "{ours:?}");
    let mut plain = ours.replace("\r\x1b[K", "");
    while let Some(i) = plain.find("\r\x1b[") {
        let rest = &plain[i + 3..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || !rest[digits..].starts_with('C') {
            break;
        }
        plain.replace_range(i..i + 3 + digits + 1, "");
    }
    assert_eq!(plain, python);
}
