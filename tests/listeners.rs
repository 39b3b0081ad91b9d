//! The event listeners (crashmail, crashmailbatch, fatalmailbatch, crashsms, memmon, httpok,
//! webhook) end to end: a real SMTP server (aiosmtpd from the venv), real HTTP receivers on
//! 127.0.0.1, and the listener binaries from this workspace.
//!
//! Two layers:
//! * `stdin_*`: the test plays supervisord's side of the protocol through the binary's
//!   stdin/stdout (no daemon); these run everywhere.
//! * scenarios written once against [`Kind`], run under Python supervisord 4.3.0 now
//!   (`python_*`). This branch's daemon predates event dispatch; all of them also passed
//!   against main's daemon at f2528fb (merge of `events`), so after merging, turn
//!   `python_only!(s => python_x)` into a `both!`-style macro adding `ours_x` with `Kind::Ours`.
//!
//! Build the binaries first (`cargo build -p supervisor-listeners`, or scripts/test.sh).

use std::fs;
use std::time::Instant;

use supervisor_tests::{
    config_with, ours_bin, run, secs, wait_for, Daemon, HttpSink, Kind, ListenerProc, SmtpSink,
    RPC_SECTIONS,
};

fn bin(name: &str) -> String {
    ours_bin(name).to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Options and exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn stdin_options_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "crashmail",
        "crashmailbatch",
        "fatalmailbatch",
        "crashsms",
        "memmon",
        "httpok",
        "webhook",
    ] {
        let out = run(&ours_bin(name), &["--help"], tmp.path(), secs(10.0));
        assert_eq!(out.code(), Some(0), "{name} --help\n{out}");
        assert!(out.stdout.contains("Usage:"), "{name} --help\n{out}");
    }
    let out = run(&ours_bin("crashmail"), &["--bogus"], tmp.path(), secs(10.0));
    assert_eq!(out.code(), Some(255), "{out}");
    assert!(out.stdout.contains("Usage:"), "usage on stdout\n{out}");
    // memmon without arguments: usage, 255; unparseable size: 255.
    let out = run(&ours_bin("memmon"), &[], tmp.path(), secs(10.0));
    assert_eq!(out.code(), Some(255), "{out}");
    let out = run(
        &ours_bin("memmon"),
        &["-p", "x=lots"],
        tmp.path(),
        secs(10.0),
    );
    assert_eq!(out.code(), Some(255), "{out}");
    assert!(out.stderr.contains("Unparseable byte_size"), "{out}");
    // Batch tools: -t and -f are required (help on stdout, exit 1).
    let out = run(
        &ours_bin("crashmailbatch"),
        &["-f", "a@b"],
        tmp.path(),
        secs(10.0),
    );
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stdout.contains("--toEmail"), "{out}");
    // httpok needs exactly one URL.
    let out = run(&ours_bin("httpok"), &["-p", "x"], tmp.path(), secs(10.0));
    assert_eq!(out.code(), Some(255), "{out}");
    // Outside supervisord: crashmail says so and exits 0 (as superlance).
    let mut cmd = std::process::Command::new(ours_bin("crashmail"));
    cmd.env_remove("SUPERVISOR_SERVER_URL")
        .current_dir(tmp.path());
    let out = supervisor_tests::run_command(cmd, secs(10.0));
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(
        out.stderr
            .contains("crashmail must be run as a supervisor event listener"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// crashmail through stdin
// ---------------------------------------------------------------------------------------------

#[test]
fn stdin_crashmail_command_gets_superlance_text() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mail out.txt");
    // `tee -a <file>` run without a shell: the quoted path with a space proves the splitting.
    let cmd = format!("tee -a '{}'", out.display());
    let mut l = ListenerProc::start(
        &ours_bin("crashmail"),
        &["-m", "ops@example.com", "-o", "PROD", "-s", &cmd],
        &[],
    );
    assert_eq!(l.send("TICK_5", "when:5"), "OK");
    assert_eq!(l.exited("calm", true, 10), "OK");
    assert_eq!(l.exited("web", false, 4242), "OK");
    // Unknown event names and garbage never kill it.
    assert_eq!(l.send("SOMETHING_NEW", "x:y"), "OK");
    assert_eq!(l.send_raw(b"garbage without tokens\n"), "OK");
    assert_eq!(l.exited("web", false, 4243), "OK");
    let stderr = l
        .wait_stderr("(pid 4243)", secs(10.0))
        .unwrap_or_else(|| panic!("no second mail logged:\n{}", l.stderr()));
    assert!(stderr.contains("unexpected exit, mailing"), "{stderr}");
    let text = fs::read_to_string(&out).unwrap();
    let mails: Vec<&str> = text.split("To: ").filter(|s| !s.is_empty()).collect();
    assert_eq!(mails.len(), 2, "{text}");
    let first = mails[0];
    assert!(
        first.starts_with("ops@example.com\nSubject: PROD: web crashed at "),
        "{first}"
    );
    assert!(
        first.ends_with(
            "\n\nProcess web in group web exited unexpectedly (pid 4242) from state RUNNING"
        ),
        "{first}"
    );
    assert!(!text.contains("calm"), "{text}");
    assert!(l.close(secs(10.0)).is_some_and(|s| s.success()));
}

#[test]
fn stdin_crashmail_program_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.txt");
    let cmd = format!("tee -a {}", out.display());
    let mut l = ListenerProc::start(
        &ours_bin("crashmail"),
        &["-m", "a@b.c", "-p", "g:watched", "-p", "solo", "-s", &cmd],
        &[],
    );
    let exit = |l: &mut ListenerProc, name: &str, group: &str| {
        l.send(
            "PROCESS_STATE_EXITED",
            &format!("processname:{name} groupname:{group} from_state:RUNNING expected:0 pid:1"),
        )
    };
    exit(&mut l, "other", "other");
    exit(&mut l, "watched", "g");
    exit(&mut l, "solo", "solo");
    exit(&mut l, "watched", "h");
    assert!(l.close(secs(10.0)).is_some());
    let text = fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(text.matches("To: a@b.c").count(), 2, "{text}");
    assert!(text.contains("Process watched in group g "), "{text}");
    assert!(text.contains("Process solo in group solo "), "{text}");
}

#[test]
fn stdin_crashmail_smtp_to_aiosmtpd() {
    let smtp = SmtpSink::start();
    let port = smtp.port.to_string();
    let mut l = ListenerProc::start(
        &ours_bin("crashmail"),
        &[
            "-m",
            "ops@example.com",
            "--from",
            "sv@example.com",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
        ],
        &[],
    );
    assert_eq!(l.exited("api", false, 777), "OK");
    assert_eq!(l.exited("api", true, 778), "OK");
    let mails = smtp.wait_messages(1, secs(15.0));
    assert_eq!(mails.len(), 1, "stderr:\n{}", l.stderr());
    let m = &mails[0];
    assert!(m.contains("X-Mail-From: sv@example.com"), "{m}");
    assert!(m.contains("X-Rcpt-To: ops@example.com"), "{m}");
    assert!(m.contains("Subject:  api crashed at "), "{m}");
    assert!(
        m.contains("Process api in group api exited unexpectedly (pid 777) from state RUNNING"),
        "{m}"
    );
    assert!(l.close(secs(10.0)).is_some_and(|s| s.success()));
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn stdin_smtp_down_retries_on_stderr_without_blocking() {
    // A port nobody listens on.
    let port = supervisor_tests::free_port().to_string();
    let mut l = ListenerProc::start(
        &ours_bin("crashmail"),
        &[
            "-m",
            "ops@example.com",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--mail-retries",
            "2",
            "--timeout",
            "2",
        ],
        &[],
    );
    let t0 = Instant::now();
    assert_eq!(l.exited("api", false, 1), "OK");
    assert_eq!(l.exited("api", false, 2), "OK");
    assert!(
        t0.elapsed() < secs(2.0),
        "acknowledging waited for the mail: {:?}",
        t0.elapsed()
    );
    let err = l
        .wait_stderr("giving up", secs(20.0))
        .unwrap_or_else(|| panic!("no final failure logged:\n{}", l.stderr()));
    assert!(err.contains("failed (attempt 1/3)"), "{err}");
    assert!(err.contains("retrying in"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    // Still alive and answering.
    assert_eq!(l.send("TICK_5", "when:10"), "OK");
    assert!(l.close(secs(30.0)).is_some_and(|s| s.success()));
}

// ---------------------------------------------------------------------------------------------
// Batch tools through stdin
// ---------------------------------------------------------------------------------------------

#[test]
fn stdin_crashmailbatch_fatalmailbatch_crashsms() {
    let smtp = SmtpSink::start();
    let host = format!("127.0.0.1:{}", smtp.port);
    let common = [
        "-t",
        "a@example.com, b@example.com",
        "-f",
        "sv@example.com",
        "-H",
        &host,
    ];

    // crashmailbatch: two crashes and an expected exit, interval 2 minutes of TICK_60.
    let mut args = common.to_vec();
    args.extend(["-i", "2"]);
    let mut l = ListenerProc::start(&ours_bin("crashmailbatch"), &args, &[]);
    l.exited("one", false, 11);
    l.exited("calm", true, 12);
    l.send(
        "PROCESS_STATE_EXITED",
        "processname:two groupname:grp from_state:RUNNING expected:0 pid:13",
    );
    l.send("TICK_5", "when:5");
    l.send("TICK_60", "when:60");
    assert!(smtp.messages().is_empty(), "sent before the interval");
    l.send("TICK_60", "when:120");
    let mails = smtp.wait_messages(1, secs(15.0));
    assert_eq!(mails.len(), 1, "stderr:\n{}", l.stderr());
    let m = &mails[0];
    assert!(m.contains("X-Rcpt-To: a@example.com, b@example.com"), "{m}");
    assert!(m.contains("Subject: Crash alert from supervisord"), "{m}");
    assert!(
        m.contains("-- Process one:one (pid 11) died unexpectedly"),
        "{m}"
    );
    assert!(
        m.contains("-- Process grp:two (pid 13) died unexpectedly"),
        "{m}"
    );
    assert!(!m.contains("calm"), "{m}");
    // The next window is empty: nothing more is sent.
    l.send("TICK_60", "when:180");
    l.send("TICK_60", "when:240");
    let err = l.stderr();
    assert!(err.contains("Sending notification email:\nTo: a@example.com, b@example.com\nFrom: sv@example.com\nSubject: Crash alert from supervisord\nBody:\n"), "{err}");
    assert!(l.close(secs(10.0)).is_some());
    assert_eq!(smtp.messages().len(), 1);

    // fatalmailbatch on FATAL, with its own subject.
    let mut l = ListenerProc::start(&ours_bin("fatalmailbatch"), &common, &[]);
    l.send(
        "PROCESS_STATE_FATAL",
        "processname:bad groupname:bad from_state:BACKOFF",
    );
    l.exited("ignored", false, 5);
    l.send("TICK_60", "when:60");
    let mails = smtp.wait_messages(2, secs(15.0));
    assert_eq!(mails.len(), 2, "stderr:\n{}", l.stderr());
    assert!(
        mails[1].contains("Subject: Fatal start alert from supervisord"),
        "{}",
        mails[1]
    );
    assert!(mails[1].contains("-- Process bad:bad failed to start too many times"));
    assert!(!mails[1].contains("ignored"));
    assert!(l.close(secs(10.0)).is_some());

    // crashsms: short lines, no Subject header, driven by -e TICK_5.
    let mut args = common.to_vec();
    args.extend(["-e", "TICK_5", "-i", "0.08"]);
    let mut l = ListenerProc::start(&ours_bin("crashsms"), &args, &[]);
    l.exited("web", false, 99);
    l.send("TICK_60", "when:60");
    assert_eq!(
        smtp.messages().len(),
        2,
        "TICK_60 must not flush with -e TICK_5"
    );
    l.send("TICK_5", "when:65");
    let mails = smtp.wait_messages(3, secs(15.0));
    assert_eq!(mails.len(), 3, "stderr:\n{}", l.stderr());
    assert!(
        mails[2].contains("[web:web](99) exited unexpectedly "),
        "{}",
        mails[2]
    );
    assert!(!mails[2].contains("Subject:"), "{}", mails[2]);
    assert!(l.close(secs(10.0)).is_some());
}

// ---------------------------------------------------------------------------------------------
// webhook through stdin
// ---------------------------------------------------------------------------------------------

/// `"key":"value"` as serde_json writes it (compact), for checks without a JSON parser.
fn kv(key: &str, value: &str) -> String {
    format!("\"{key}\":\"{value}")
}

#[track_caller]
fn has(body: &str, key: &str, value: &str) {
    assert!(
        body.contains(&kv(key, value)),
        "{key}={value} not in {body}"
    );
}

#[test]
fn stdin_webhook_generic_json_and_resolve() {
    let sink = HttpSink::start();
    let url = sink.url("/hook");
    let mut l = ListenerProc::start(
        &ours_bin("webhook"),
        &["--url", &url, "-H", "X-Token: s3cret"],
        &[],
    );
    l.exited("web", true, 1); // expected: nothing
    l.send(
        "PROCESS_STATE_RUNNING",
        "processname:web groupname:web from_state:STARTING pid:2",
    ); // not firing: nothing
    l.exited("web", false, 3);
    l.send(
        "PROCESS_STATE_RUNNING",
        "processname:web groupname:web from_state:STARTING pid:4",
    );
    let reqs = sink.wait_requests(2, secs(15.0));
    assert_eq!(reqs.len(), 2, "stderr:\n{}", l.stderr());
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/hook");
    assert_eq!(reqs[0].header("x-token"), Some("s3cret"));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    let fire = &reqs[0].body;
    has(fire, "status", "firing");
    has(fire, "processname", "web");
    has(fire, "pid", "3\"");
    has(fire, "eventname", "PROCESS_STATE_EXITED");
    has(
        fire,
        "message",
        "web exited unexpectedly (pid 3) from state RUNNING",
    );
    let resolved = &reqs[1].body;
    has(resolved, "status", "resolved");
    has(resolved, "pid", "4\"");
    assert!(l.close(secs(10.0)).is_some());
    assert_eq!(sink.requests().len(), 2);
}

#[test]
fn stdin_webhook_yaml_routes_slack_alertmanager_flapping() {
    let slack = HttpSink::start();
    let am = HttpSink::start();
    let discord = HttpSink::start();
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("routes.yaml");
    fs::write(
        &yaml,
        format!(
            "routes:\n\
             \x20 - name: slack\n\
             \x20   url: {}\n\
             \x20   format: slack\n\
             \x20   template: \"[{{status}}] {{namespec}} on {{hostname}}: {{summary}}\"\n\
             \x20   programs: [\"workers:*\"]\n\
             \x20   flap_window: 60\n\
             \x20 - name: am\n\
             \x20   url: {}\n\
             \x20   format: alertmanager\n\
             \x20   headers: {{Authorization: \"Bearer t\"}}\n\
             \x20 - name: discord\n\
             \x20   url: {}\n\
             \x20   format: discord\n\
             \x20   events: [PROCESS_STATE_FATAL]\n",
            slack.url("/slack"),
            am.url("/api/v2/alerts"),
            discord.url("/d")
        ),
    )
    .unwrap();
    let mut l = ListenerProc::start(
        &ours_bin("webhook"),
        &["--config", yaml.to_str().unwrap()],
        &[],
    );
    let w = |l: &mut ListenerProc, ev: &str, extra: &str| {
        l.send(
            ev,
            &format!("processname:w1 groupname:workers from_state:{extra}"),
        )
    };
    // Flapping: three crashes of workers:w1 in a row; slack gets one alert.
    for pid in 1..=3 {
        w(
            &mut l,
            "PROCESS_STATE_EXITED",
            &format!("RUNNING expected:0 pid:{pid}"),
        );
    }
    w(&mut l, "PROCESS_STATE_RUNNING", "STARTING pid:9");
    w(&mut l, "PROCESS_STATE_FATAL", "BACKOFF");
    // Not a worker: only alertmanager (no program filter) hears it.
    l.exited("db", false, 50);

    let s = slack.wait_requests(3, secs(15.0));
    let a = am.wait_requests(7, secs(15.0));
    let d = discord.wait_requests(1, secs(15.0));
    let stderr = l.stderr();
    // slack: firing (1), resolved, then FATAL is within the flap window: suppressed.
    assert_eq!(s.len(), 2, "slack {s:#?}\n{stderr}");
    let text = &s[0].body;
    has(text, "text", "[firing] workers:w1 on ");
    assert!(
        text.contains("workers:w1 exited unexpectedly (pid 1)"),
        "{text}"
    );
    has(&s[1].body, "text", "[resolved] workers:w1");
    assert!(stderr.contains("workers:w1 is flapping"), "{stderr}");
    // alertmanager: 3 firing + resolved + FATAL firing + db firing = 6 posts.
    assert_eq!(a.len(), 6, "{a:#?}\n{stderr}");
    assert_eq!(a[0].path, "/api/v2/alerts");
    assert_eq!(a[0].header("authorization"), Some("Bearer t"));
    let alert = &a[0].body;
    assert!(alert.starts_with("[{"), "{alert}");
    has(alert, "alertname", "SupervisorProcessDown");
    has(alert, "namespec", "workers:w1");
    assert!(!alert.contains("endsAt"), "{alert}");
    let resolved = &a[3].body;
    assert!(resolved.contains("\"endsAt\":\""), "{resolved}");
    let labels = |b: &str| {
        b[b.find("\"labels\"").unwrap()..]
            .split('}')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(labels(resolved), labels(alert));
    has(&a[5].body, "namespec", "db");
    // discord: only FATAL.
    assert_eq!(d.len(), 1, "{d:#?}");
    has(&d[0].body, "content", "workers:w1 entered FATAL state");
    assert!(l.close(secs(10.0)).is_some());
}

#[test]
fn stdin_webhook_retries_then_delivers_and_rate_limits() {
    let sink = HttpSink::start();
    sink.set_status(503);
    let url = sink.url("/x");
    let mut l = ListenerProc::start(
        &ours_bin("webhook"),
        &[
            "--url",
            &url,
            "--format",
            "teams",
            "--rate-limit",
            "1",
            "--retries",
            "3",
        ],
        &[],
    );
    let t0 = Instant::now();
    l.exited("a", false, 1);
    l.exited("b", false, 2); // over the rate limit: dropped
    assert!(t0.elapsed() < secs(2.0));
    sink.wait_requests(2, secs(10.0));
    sink.set_status(200);
    let err = l.wait_stderr("POST", secs(10.0)).unwrap_or_default();
    assert!(err.contains("503"), "{err}");
    assert!(err.contains("rate limit reached"), "{err}");
    let ok = wait_for(secs(15.0), || {
        let r = sink.requests();
        (r.len() >= 3).then_some(r)
    })
    .unwrap_or_else(|| panic!("never retried to success\n{}", l.stderr()));
    let card = &ok.last().unwrap().body;
    has(card, "@type", "MessageCard");
    has(card, "text", "a exited unexpectedly");
    assert!(l.close(secs(20.0)).is_some());
    assert!(sink.requests().iter().all(|r| !r.body.contains("b exited")));
}

// ---------------------------------------------------------------------------------------------
// Under a daemon
// ---------------------------------------------------------------------------------------------

/// Generates `#[test] fn $py()` (under Python supervisord 4.3.0) and `#[test] fn $ours()`
/// (under ours): the listeners must work unchanged under both daemons.
macro_rules! both_daemons {
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

fn listener_section(name: &str, command: &str, events: &str) -> String {
    format!(
        "[eventlistener:{name}]\ncommand={command}\nevents={events}\n\
         stderr_logfile={{dir}}/{name}.err\nstdout_logfile={{dir}}/{name}.out\n\
         startsecs=0\nbuffer_size=100\n"
    )
}

fn read(d: &Daemon, name: &str) -> String {
    fs::read_to_string(d.path(name)).unwrap_or_default()
}

both_daemons!(crashmail_mails_unexpected_exit_only => python_crashmail_mails_unexpected_exit_only, ours_crashmail_mails_unexpected_exit_only);
fn crashmail_mails_unexpected_exit_only(kind: Kind) {
    let smtp = SmtpSink::start();
    let conf = config_with(&format!(
        "{RPC_SECTIONS}\n{}\n\
         [program:crasher]\ncommand=sh -c 'sleep 3; exit 3'\nstartsecs=1\nautorestart=false\n\n\
         [program:clean]\ncommand=sh -c 'sleep 3; exit 0'\nstartsecs=1\nautorestart=false\n",
        listener_section(
            "crashmail",
            &format!(
                "{} -m ops@example.com --smtp-host 127.0.0.1 --smtp-port {}",
                bin("crashmail"),
                smtp.port
            ),
            "PROCESS_STATE_EXITED"
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    d.expect_log("exited: crasher (exit status 3; not expected)", secs(20.0));
    d.expect_log("exited: clean (exit status 0; expected)", secs(20.0));
    let mails = smtp.wait_messages(1, secs(20.0));
    assert_eq!(
        mails.len(),
        1,
        "{}\n{}",
        read(&d, "crashmail.err"),
        d.diagnostics()
    );
    assert!(
        mails[0].contains("Process crasher in group crasher exited unexpectedly"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("from state RUNNING"), "{}", mails[0]);
    // Give a mail for `clean` time to (wrongly) arrive.
    std::thread::sleep(secs(2.0));
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());
    assert!(read(&d, "crashmail.err").contains("unexpected exit, mailing"));
    d.stop();
}

both_daemons!(batches_under_daemon => python_crashmailbatch_and_fatalmailbatch, ours_crashmailbatch_and_fatalmailbatch);
fn batches_under_daemon(kind: Kind) {
    let smtp = SmtpSink::start();
    let opts = format!(
        "-t ops@example.com -f sv@example.com -H 127.0.0.1:{} -e TICK_5 -i 0.08",
        smtp.port
    );
    let conf = config_with(&format!(
        "{RPC_SECTIONS}\n{}\n{}\n\
         [program:c1]\ncommand=sh -c 'sleep 3; exit 3'\nstartsecs=1\nautorestart=false\n\n\
         [program:c2]\ncommand=sh -c 'sleep 3; exit 4'\nstartsecs=1\nautorestart=false\n\n\
         [program:never]\ncommand=sh -c 'exit 1'\nstartsecs=2\nstartretries=0\n",
        listener_section(
            "batch",
            &format!("{} {opts}", bin("crashmailbatch")),
            "PROCESS_STATE_EXITED,TICK_5"
        ),
        listener_section(
            "fatal",
            &format!("{} {opts} -s 'FATAL!'", bin("fatalmailbatch")),
            "PROCESS_STATE_FATAL,TICK_5"
        ),
    ));
    let mut d = Daemon::start(kind, &conf);
    d.expect_log("exited: c2 (exit status 4; not expected)", secs(20.0));
    d.expect_log("gave up: never entered FATAL state", secs(20.0));
    // Both crashes normally share one mail (they happen within ms of each other); should a
    // TICK_5 boundary fall between them they are split, so look across the crash mails.
    // Batching itself is pinned down by stdin_crashmailbatch_fatalmailbatch_crashsms.
    let complete = |m: &[String]| {
        let crash: String = m
            .iter()
            .filter(|x| x.contains("Crash alert"))
            .cloned()
            .collect();
        crash.contains("Process c1:c1 (pid ")
            && crash.contains("Process c2:c2 (pid ")
            && m.iter().any(|x| x.contains("Subject: FATAL!"))
    };
    let mails = wait_for(secs(20.0), || {
        let m = smtp.messages();
        complete(&m).then_some(m)
    })
    .unwrap_or_else(|| smtp.messages());
    let diag = || {
        format!(
            "{}\n{}\n{}",
            read(&d, "batch.err"),
            read(&d, "fatal.err"),
            d.diagnostics()
        )
    };
    assert!(complete(&mails), "{mails:#?}\n{}", diag());
    let crash_mails = mails.iter().filter(|m| m.contains("Crash alert")).count();
    assert!((1..=2).contains(&crash_mails), "{mails:#?}");
    let fatal = mails
        .iter()
        .find(|m| m.contains("Subject: FATAL!"))
        .unwrap();
    assert!(fatal.contains("Process never:never failed to start too many times"));
    d.stop();
}

both_daemons!(memmon_restarts_big_process => python_memmon_restarts_big_process, ours_memmon_restarts_big_process);
fn memmon_restarts_big_process(kind: Kind) {
    let py = supervisor_tests::venv_python();
    let hog = format!(
        "{} -c \"b = bytearray(64 * 1024 * 1024); import time; time.sleep(1000)\"",
        py.display()
    );
    // `family`: a small shell whose child allocates; only -c (cumulative) sees it.
    let family = format!("sh -c '{hog} & wait'").replace('"', "\\\"");
    let family = family.replace("\\\"", "\"");
    let conf = config_with(&format!(
        "{RPC_SECTIONS}\n{}\n{}\n\
         [program:hog]\ncommand={hog}\nstartsecs=1\n\n\
         [program:family]\ncommand={family}\nstartsecs=1\nstopasgroup=true\n\n\
         [program:small]\ncommand=sleep 1000\nstartsecs=1\n",
        listener_section(
            "memmon",
            &format!(
                "{} -p hog=32MB -p family:family=32MB -a 32MB",
                bin("memmon")
            ),
            "TICK_5"
        ),
        listener_section(
            "memmonc",
            &format!("{} -c -g family=32MB", bin("memmon")),
            "TICK_5"
        ),
    ));
    let mut d = Daemon::start(kind, &conf);
    // hog is restarted (a second spawn), by the plain memmon.
    d.wait_log_count("spawned: 'hog' with pid", 2, secs(30.0))
        .unwrap_or_else(|e| panic!("{e}\n{}", read(&d, "memmon.err")));
    // family: its own RSS is tiny; only the cumulative memmon restarts it.
    d.wait_log_count("spawned: 'family' with pid", 2, secs(30.0))
        .unwrap_or_else(|e| panic!("{e}\n{}", read(&d, "memmonc.err")));
    let plain = read(&d, "memmon.err");
    let cumulative = read(&d, "memmonc.err");
    assert!(plain.contains("Restarting hog:hog"), "{plain}");
    assert!(!plain.contains("Restarting family:family"), "{plain}");
    assert!(!plain.contains("Restarting small:small"), "{plain}");
    assert!(
        plain.contains("Checking programs family:family=33554432, hog=33554432"),
        "{plain}"
    );
    assert!(
        cumulative.contains("Restarting family:family"),
        "{cumulative}"
    );
    d.stop();
}

both_daemons!(httpok_restarts_unhealthy_app => python_httpok_restarts_unhealthy_app, ours_httpok_restarts_unhealthy_app);
fn httpok_restarts_unhealthy_app(kind: Kind) {
    let port = supervisor_tests::free_port();
    let app = supervisor_tests::fixtures_dir().join("webapp.py");
    let py = supervisor_tests::venv_python();
    let conf = config_with(&format!(
        "{RPC_SECTIONS}\n{}\n\
         [program:web]\ncommand={} {} {port} {{dir}}/healthy\nstartsecs=1\n",
        listener_section(
            "httpok",
            &format!(
                "{} -p web -t 5 -b ok --grace 2 http://127.0.0.1:{port}/health",
                bin("httpok")
            ),
            "TICK_5"
        ),
        py.display(),
        app.display()
    ));
    let mut d = Daemon::prepare(kind, &conf);
    fs::write(d.path("healthy"), "").unwrap();
    d.spawn();
    d.expect_log("success: web entered RUNNING state", secs(20.0));
    // Healthy for a couple of ticks: no restart.
    std::thread::sleep(secs(7.0));
    assert_eq!(
        d.log_text().matches("spawned: 'web'").count(),
        1,
        "{}",
        read(&d, "httpok.err")
    );
    // 200 with the wrong body: the -b check (which crashes superlance on Python 3) restarts it.
    fs::remove_file(d.path("healthy")).unwrap();
    d.wait_log_count("spawned: 'web' with pid", 2, secs(20.0))
        .unwrap_or_else(|e| panic!("{e}\n{}", read(&d, "httpok.err")));
    let err = wait_for(secs(10.0), || {
        let e = read(&d, "httpok.err");
        e.contains("web restarted").then_some(e)
    })
    .unwrap_or_else(|| read(&d, "httpok.err"));
    assert!(err.contains("status contacting http://127.0.0.1:"), "{err}");
    assert!(err.contains("web is in RUNNING state, restarting"), "{err}");
    assert!(err.contains("web restarted"), "{err}");
    // Healthy again: no more restarts.
    fs::write(d.path("healthy"), "").unwrap();
    std::thread::sleep(secs(1.0));
    let n = d.log_text().matches("spawned: 'web'").count();
    std::thread::sleep(secs(7.0));
    assert_eq!(d.log_text().matches("spawned: 'web'").count(), n);
    d.stop();
}

both_daemons!(webhook_fires_and_resolves => python_webhook_fires_and_resolves, ours_webhook_fires_and_resolves);
fn webhook_fires_and_resolves(kind: Kind) {
    let sink = HttpSink::start();
    let conf = config_with(&format!(
        "{RPC_SECTIONS}\n{}\n\
         [program:flaky]\n\
         command=sh -c 'if [ -f {{dir}}/once ]; then exec sleep 1000; fi; touch {{dir}}/once; sleep 3; exit 3'\n\
         startsecs=1\nautorestart=unexpected\n",
        listener_section(
            "webhook",
            &format!(
                "{} --url {} --format alertmanager",
                bin("webhook"),
                sink.url("/api/v2/alerts")
            ),
            "PROCESS_STATE"
        )
    ));
    let mut d = Daemon::start(kind, &conf);
    let reqs = sink.wait_requests(2, secs(30.0));
    assert_eq!(
        reqs.len(),
        2,
        "{reqs:#?}\n{}\n{}",
        read(&d, "webhook.err"),
        d.diagnostics()
    );
    let (fire, resolve) = (&reqs[0].body, &reqs[1].body);
    has(fire, "namespec", "flaky\"");
    assert!(!fire.contains("endsAt"), "{fire}");
    has(resolve, "namespec", "flaky\"");
    assert!(resolve.contains("\"endsAt\":\""), "{resolve}");
    let starts = |b: &str| {
        b[b.find("\"startsAt\"").unwrap()..]
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(starts(resolve), starts(fire));
    d.stop();
}

#[test]
fn stdin_crashmail_starttls_auth_implicit_tls_and_bad_password() {
    for implicit in [false, true] {
        let smtp = SmtpSink::start_tls(implicit, "alice", "s3cret");
        let port = smtp.port.to_string();
        let mode = if implicit { "--tls" } else { "--starttls" };
        let mut l = ListenerProc::start(
            &ours_bin("crashmail"),
            &[
                "-m",
                "ops@example.com",
                "--smtp-host",
                "127.0.0.1",
                "--smtp-port",
                &port,
                mode,
                "--smtp-insecure",
                "--smtp-user",
                "alice",
            ],
            // The password from the environment.
            &[("SMTP_PASSWORD", "s3cret")],
        );
        l.exited("api", false, 7);
        let mails = smtp.wait_messages(1, secs(15.0));
        assert_eq!(mails.len(), 1, "{mode}: {}", l.stderr());
        assert!(mails[0].contains("X-Auth-Login: alice"), "{}", mails[0]);
        assert!(mails[0].contains("(pid 7)"), "{}", mails[0]);
        assert!(l.close(secs(10.0)).is_some());
    }
    // A wrong password: the server's 535 reply is logged, retried, never fatal.
    let smtp = SmtpSink::start_tls(false, "alice", "s3cret");
    let port = smtp.port.to_string();
    let mut l = ListenerProc::start(
        &ours_bin("crashmail"),
        &[
            "-m",
            "ops@example.com",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--starttls",
            "--smtp-insecure",
            "--smtp-user",
            "alice",
            "--smtp-password",
            "wrong",
            "--mail-retries",
            "1",
        ],
        &[],
    );
    l.exited("api", false, 8);
    let err = l
        .wait_stderr("giving up", secs(20.0))
        .unwrap_or_else(|| panic!("{}", l.stderr()));
    assert!(err.contains("535"), "{err}");
    assert_eq!(l.send("TICK_5", "when:5"), "OK");
    assert!(smtp.messages().is_empty());
    assert!(l.close(secs(10.0)).is_some());
}

#[test]
fn stdin_sigterm_drains_queued_notifications() {
    let sink = HttpSink::start();
    sink.set_status(503);
    let url = sink.url("/x");
    let mut l = ListenerProc::start(&ours_bin("webhook"), &["--url", &url], &[]);
    l.exited("a", false, 1);
    sink.wait_requests(1, secs(10.0));
    // SIGTERM while the POST waits for its retry: it is still delivered before the exit.
    supervisor_tests::kill_pid(l.pid(), libc::SIGTERM);
    sink.set_status(200);
    let st = l.wait_exit(secs(15.0));
    assert!(st.is_some_and(|s| s.success()), "{st:?}\n{}", l.stderr());
    let reqs = sink.requests();
    assert!(reqs.len() >= 2, "{reqs:#?}\n{}", l.stderr());
    assert!(
        l.stderr().contains("stop signal received"),
        "{}",
        l.stderr()
    );
}

#[test]
fn stdin_httpok_https_and_body_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success());
    let port = supervisor_tests::free_port();
    let flag = tmp.path().join("healthy");
    fs::write(&flag, "").unwrap();
    // Killed however the test ends: a leftover would hold the test run's stdout open.
    let _app = KillOnDrop(
        std::process::Command::new(supervisor_tests::venv_python())
            .arg(supervisor_tests::fixtures_dir().join("webapp.py"))
            .arg(port.to_string())
            .arg(&flag)
            .arg(&cert)
            .arg(&key)
            .spawn()
            .expect("start webapp.py"),
    );
    let url = format!("https://127.0.0.1:{port}/health");
    // Ready means answering HTTPS, not just accepting TCP (it listens before it loads the
    // certificate; on a loaded machine the first check could otherwise time out).
    let probe = format!(
        "import ssl, urllib.request; \
         urllib.request.urlopen('{url}', context=ssl._create_unverified_context(), timeout=2)"
    );
    wait_for(secs(30.0), || {
        std::process::Command::new(supervisor_tests::venv_python())
            .args(["-c", &probe])
            .output()
            .ok()
            .filter(|o| o.status.success())
    })
    .expect("webapp answers HTTPS");
    let mut l = ListenerProc::start(
        &ours_bin("httpok"),
        &["-p", "web", "-t", "5", "-b", "ok", "--insecure", &url],
        &[],
    );
    assert_eq!(l.send("TICK_5", "when:5"), "OK");
    let err = l.stderr();
    assert!(!err.contains("contacting"), "{err}");
    // Degraded body: httpok acts (and, without a daemon, says it cannot get process info).
    fs::remove_file(&flag).unwrap();
    assert_eq!(l.send("TICK_5", "when:10"), "OK");
    // The RESULT comes on stdout; what it wrote to stderr may still be on its way.
    for needle in [
        format!("status contacting {url}: 200 OK"),
        "Exception retrieving process info".to_string(),
    ] {
        assert!(
            l.wait_stderr(&needle, secs(10.0)).is_some(),
            "no {needle:?} in {}",
            l.stderr()
        );
    }
    // Non-TICK events are just acknowledged.
    assert_eq!(l.exited("web", false, 1), "OK");
    assert!(l.close(secs(10.0)).is_some_and(|s| s.success()));
}

/// A helper process killed (and reaped) when the test ends, passed or panicked.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

both_daemons!(memmon_over_http_with_auth => python_memmon_over_http_with_auth, ours_memmon_over_http_with_auth);
/// XML-RPC over http:// with Basic auth: credentials from SUPERVISOR_USERNAME/PASSWORD (which
/// supervisord never sets; `environment=` does), as childutils.getRPCInterface.
fn memmon_over_http_with_auth(kind: Kind) {
    let port = supervisor_tests::free_port();
    let py = supervisor_tests::venv_python();
    let hog = format!(
        "{} -c \"b = bytearray(48 * 1024 * 1024); import time; time.sleep(1000)\"",
        py.display()
    );
    let conf = config_with(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=pw\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         {}environment=SUPERVISOR_USERNAME=\"admin\",SUPERVISOR_PASSWORD=\"pw\"\n\n\
         {}\n\
         [program:hog]\ncommand={hog}\nstartsecs=1\n",
        listener_section("memmon", &format!("{} -a 24MB", bin("memmon")), "TICK_5"),
        // Without credentials: every tick logs the 401, nothing is restarted by it.
        listener_section("nocreds", &format!("{} -a 24MB", bin("memmon")), "TICK_5"),
    ));
    let mut d = Daemon::start(kind, &conf);
    d.wait_log_count("spawned: 'hog' with pid", 2, secs(30.0))
        .unwrap_or_else(|e| panic!("{e}\n{}", read(&d, "memmon.err")));
    let err = read(&d, "memmon.err");
    assert!(err.contains("Restarting hog:hog"), "{err}");
    let nocreds = wait_for(secs(10.0), || {
        let e = read(&d, "nocreds.err");
        e.contains("401").then_some(e)
    })
    .unwrap_or_else(|| read(&d, "nocreds.err"));
    assert!(nocreds.contains("cannot get process info"), "{nocreds}");
    assert!(
        nocreds.contains(&format!("http://127.0.0.1:{port}")),
        "{nocreds}"
    );
    assert!(!nocreds.contains("Restarting"), "{nocreds}");
    d.stop();
}

#[test]
fn stdin_webhook_dead_route_does_not_delay_others() {
    let dead = HttpSink::start();
    dead.set_status(500);
    let good = HttpSink::start();
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("r.yaml");
    fs::write(
        &yaml,
        format!(
            "routes:\n  - url: {}\n    retries: 5\n  - url: {}\n    format: slack\n",
            dead.url("/dead"),
            good.url("/good")
        ),
    )
    .unwrap();
    let mut l = ListenerProc::start(
        &ours_bin("webhook"),
        &["--config", yaml.to_str().unwrap()],
        &[],
    );
    l.exited("a", false, 1);
    l.exited("b", false, 2);
    let t0 = Instant::now();
    let got = good.wait_requests(2, secs(10.0));
    assert_eq!(got.len(), 2, "{}", l.stderr());
    assert!(
        t0.elapsed() < secs(2.5),
        "good route waited {:?}",
        t0.elapsed()
    );
    let err = l
        .wait_stderr("route 1: POST", secs(5.0))
        .unwrap_or_else(|| l.stderr());
    assert!(err.contains("500"), "{err}");
}

#[test]
fn stdin_httpok_basic_auth_and_status_codes() {
    let sink = HttpSink::start();
    let url = sink.url("/check?x=1");
    let mut l = ListenerProc::start(
        &ours_bin("httpok"),
        &[
            "-a",
            "-b",
            "ok",
            "--user",
            "u",
            "--password",
            "p",
            "-c",
            "200",
            &url,
        ],
        &[],
    );
    assert_eq!(l.send("TICK_60", "when:60"), "OK");
    let r = sink.wait_requests(1, secs(5.0));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].method, "GET");
    assert_eq!(r[0].path, "/check?x=1");
    assert_eq!(r[0].header("authorization"), Some("Basic dTpw"));
    assert_eq!(r[0].header("user-agent"), Some("httpok"));
    assert!(!l.stderr().contains("contacting"), "{}", l.stderr());
    // A status outside -c: acts (and reports it).
    sink.set_status(503);
    assert_eq!(l.send("TICK_60", "when:120"), "OK");
    // stderr is written by the listener as it acts; wait for it rather than race it.
    let want = format!("status contacting {url}: 503");
    let seen = wait_for(secs(5.0), || {
        let err = l.stderr();
        (err.contains(&want) && err.contains("Exception retrieving process info")).then_some(())
    });
    assert!(seen.is_some(), "{}", l.stderr());
}

// ---------------------------------------------------------------------------------------------
// supervisor-event-listener (drop-in for the Go tool)
// ---------------------------------------------------------------------------------------------

/// The pid in the `spawned: '<name>' with pid N` line of the main log.
fn spawned_pid(d: &Daemon, name: &str) -> String {
    let needle = format!("spawned: '{name}' with pid ");
    d.log_text()
        .lines()
        .find_map(|l| l.split_once(&needle).map(|(_, p)| p.trim().to_string()))
        .unwrap_or_default()
}

/// Two programs that exit (3: unexpected, 0: expected) and one `supervisor-event-listener`
/// per INI file in `inis` (name, text), subscribed to PROCESS_STATE_EXITED as the Go tool's
/// README says.
fn event_listener_daemon(kind: Kind, inis: &[(&str, String)]) -> Daemon {
    let mut sections = String::new();
    for (name, _) in inis {
        sections.push_str(&listener_section(
            name,
            &format!("{} -c {{dir}}/{name}.ini", bin("supervisor-event-listener")),
            "PROCESS_STATE_EXITED",
        ));
        sections.push('\n');
    }
    let conf = config_with(&format!(
        "{RPC_SECTIONS}\n{sections}\
         [program:crasher]\ncommand=sh -c 'sleep 3; exit 3'\nstartsecs=1\nautorestart=false\n\n\
         [program:clean]\ncommand=sh -c 'sleep 3; exit 0'\nstartsecs=1\nautorestart=false\n"
    ));
    let mut d = Daemon::prepare(kind, &conf);
    for (name, text) in inis {
        fs::write(d.path(&format!("{name}.ini")), text).expect("write ini");
    }
    d.spawn();
    d
}

both_daemons!(event_listener_mail => python_supervisor_event_listener_mail, ours_supervisor_event_listener_mail);
/// `notify_type = mail`: every EXITED event (expected or not, as the Go tool) is mailed with
/// its text, through STARTTLS (offered by the server on a port other than 465) and AUTH with
/// `mail.server.user/password`, to every `mail.user` recipient.
fn event_listener_mail(kind: Kind) {
    let smtp = SmtpSink::start_tls(false, "sv@example.com", "s3cret");
    let ini = format!(
        "[default]\n# as the Go tool's sample\nnotify_type = mail\n\n\
         mail.server.user = sv@example.com\nmail.server.password = s3cret\n\
         mail.server.host = 127.0.0.1\nmail.server.port = {}\n\
         mail.user = ops@example.com,oncall@example.com\n\
         ; the test server's certificate is self-signed\ninsecure = true\n",
        smtp.port
    );
    let mut d = event_listener_daemon(kind, &[("sel", ini)]);
    d.expect_log("exited: crasher (exit status 3; not expected)", secs(20.0));
    d.expect_log("exited: clean (exit status 0; expected)", secs(20.0));
    let mails = smtp.wait_messages(2, secs(20.0));
    assert_eq!(
        mails.len(),
        2,
        "{}\n{}",
        read(&d, "sel.err"),
        d.diagnostics()
    );
    for (name, pid) in [
        ("crasher", spawned_pid(&d, "crasher")),
        ("clean", spawned_pid(&d, "clean")),
    ] {
        let mail = mails
            .iter()
            .find(|m| {
                m.contains(&format!("Process: {name}\r\n"))
                    || m.contains(&format!("Process: {name}\n"))
            })
            .unwrap_or_else(|| panic!("no mail for {name}: {mails:#?}"));
        let body = mail.replace("\r\n", "\n");
        let host = format!("({})\n", supervisor_listeners_hostname());
        assert!(body.contains("\nHost: ") && body.contains(&host), "{body}");
        assert!(
            body.contains(&format!(
                "Process: {name}\nPID: {pid}\nEXITED FROM state: RUNNING"
            )),
            "{body}"
        );
        assert!(body.contains("X-Auth-Login: sv@example.com"), "{body}");
        assert!(
            body.contains("ops@example.com") && body.contains("oncall@example.com"),
            "{body}"
        );
        // The Go tool's subject, `Supervisor事件通知`, RFC 2047-encoded.
        assert!(body.contains("Subject: =?utf-8?"), "{body}");
    }
    d.stop();
}

/// The host name as the listener reports it (`gethostname`).
fn supervisor_listeners_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname");
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

both_daemons!(event_listener_http => python_supervisor_event_listener_webhook_and_slack, ours_supervisor_event_listener_webhook_and_slack);
/// `notify_type = webhook` posts the event as the Go tool's JSON (`Header` and `Payload` with
/// its field names and types); `notify_type = slack` posts `text`, `username` and `channel`.
fn event_listener_http(kind: Kind) {
    let sink = HttpSink::start();
    let hook = format!(
        "[default]\nnotify_type = webhook\nwebhook_url = {}\n",
        sink.url("/hook")
    );
    let slack = format!(
        "[default]\nnotify_type = slack\nslack.webhook_url = {}\nslack.channel = exception\n",
        sink.url("/services/T0/B0/x")
    );
    let mut d = event_listener_daemon(kind, &[("hook", hook), ("slack", slack)]);
    d.expect_log("exited: crasher (exit status 3; not expected)", secs(20.0));
    d.expect_log("exited: clean (exit status 0; expected)", secs(20.0));
    let reqs = sink.wait_requests(4, secs(20.0));
    assert_eq!(
        reqs.len(),
        4,
        "{reqs:#?}\n{}\n{}\n{}",
        read(&d, "hook.err"),
        read(&d, "slack.err"),
        d.diagnostics()
    );
    let host = supervisor_listeners_hostname();
    for (name, expected) in [("crasher", 0), ("clean", 1)] {
        let pid = spawned_pid(&d, name);
        let hook = reqs
            .iter()
            .find(|r| r.path == "/hook" && r.body.contains(&kv("ProcessName", name)))
            .unwrap_or_else(|| panic!("no webhook for {name}: {reqs:#?}"));
        let b = &hook.body;
        assert!(
            b.starts_with("{\"Header\":{\"Ver\":\"3.0\",\"Server\":\"supervisor\",\"Serial\":"),
            "{b}"
        );
        assert!(
            b.contains(",\"Pool\":\"hook\",\"PoolSerial\":")
                && b.contains(",\"EventName\":\"PROCESS_STATE_EXITED\",\"Len\":"),
            "{b}"
        );
        assert!(b.contains("},\"Payload\":{\"Ip\":\""), "{b}");
        assert!(
            b.contains(&format!("({host})\",\"ProcessName\":\"{name}\"")),
            "{b}"
        );
        assert!(
            b.ends_with(&format!(
                "\"GroupName\":\"{name}\",\"FromState\":\"RUNNING\",\"Expected\":{expected},\
                 \"Pid\":{pid}}}}}"
            )),
            "{b}"
        );
        assert!(
            hook.headers
                .iter()
                .any(|(k, v)| k == "content-type" && v.starts_with("application/json")),
            "{hook:?}"
        );
        let slack = reqs
            .iter()
            .find(|r| {
                r.path == "/services/T0/B0/x" && r.body.contains(&format!("Process: {name}\\n"))
            })
            .unwrap_or_else(|| panic!("no Slack message for {name}: {reqs:#?}"));
        assert!(
            slack.body.starts_with("{\"text\":\"Host: ")
                && slack.body.contains(&format!(
                    "({host})\\nProcess: {name}\\nPID: {pid}\\nEXITED FROM state: RUNNING\",\
                     \"username\":\"Supervisor事件通知\", \"channel\":\"exception\"}}"
                )),
            "{}",
            slack.body
        );
    }
    d.stop();
}

/// A bad file stops the listener at once with a message naming the file and the key (the
/// Go tool exits 1 too, with a terse message).
#[test]
fn stdin_supervisor_event_listener_config_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let ini = tmp.path().join("l.ini");
    for (text, wanted) in [
        ("[default]\nnotify_type = pager\n", "notify_type = \"pager\": use mail, slack or webhook"),
        ("[default]\nnotify_type = webhook\n", "[default] webhook_url is missing or empty"),
        (
            "[default]\nnotify_type = mail\nmail.server.host = h\nmail.server.port = 25x\nmail.user = a@b\n",
            "mail.server.port = \"25x\" is not a port number",
        ),
    ] {
        fs::write(&ini, text).unwrap();
        let out = run(
            &ours_bin("supervisor-event-listener"),
            &["-c", ini.to_str().unwrap()],
            tmp.path(),
            secs(10.0),
        );
        assert_eq!(out.code(), Some(1), "{out}");
        assert!(out.stderr.contains(ini.to_str().unwrap()), "{out}");
        assert!(out.stderr.contains(wanted), "{wanted}\n{out}");
    }
    let out = run(
        &ours_bin("supervisor-event-listener"),
        &["-c", tmp.path().join("missing.ini").to_str().unwrap()],
        tmp.path(),
        secs(10.0),
    );
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("missing.ini"), "{out}");
}
