//! `/metrics` end to end against our daemon: the output passes `promtool check metrics`
//! (Debian package `prometheus`; `scripts/test.sh` installs it), values follow crashes and
//! restarts, auth is enforced, and the `[metrics]` bind serves it without auth.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::rpc::{RpcClient, Value};
use supervisor_tests::{config_with, secs, wait_for, Daemon, Kind};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The value of the sample whose line starts with `series ` (e.g. `name{labels}`).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn get_metrics(client: &RpcClient) -> String {
    let r = client.get("/metrics").expect("GET /metrics");
    assert_eq!(r.status, 200, "GET /metrics: {r:?}");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "content type: {r:?}"
    );
    r.text()
}

/// `promtool check metrics` on `text`; panics with its output when it complains.
fn promtool_check(text: &str) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool is needed for this test ({e}); install it with \
             `apt-get install prometheus` (scripts/test.sh does this)"
        ),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics failed: {}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const PROGRAMS: &str = r#"
[program:steady]
command=sh -c 'echo hello-from-steady; echo oops >&2; exec sleep 1000'
startsecs=0
[program:crasher]
command=sh -c 'echo crashing; sleep 0.3; exit 3'
startsecs=0
autorestart=true
[program:we"ird]
command=sleep 1000
startsecs=0
[eventlistener:pool]
command=cat
events=PROCESS_STATE
buffer_size=2
"#;

#[test]
fn metrics_pass_promtool_and_follow_crashes() {
    let port = free_port();
    let d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\n{PROGRAMS}"
        )),
    );
    let client = RpcClient::tcp(port, None);
    client.wait_ready(secs(10.0)).expect("daemon up");

    let steady = r#"{group="steady",name="steady"}"#;
    let crasher = r#"{group="crasher",name="crasher"}"#;
    let text = wait_for(secs(10.0), || {
        let t = get_metrics(&client);
        (sample(&t, &format!("supervisor_process_restarts_total{crasher}"))? >= 2.0).then_some(t)
    })
    .unwrap_or_else(|| panic!("crasher never restarted twice\n{}", d.diagnostics()));
    promtool_check(&text);

    let v = |t: &str, s: &str| sample(t, s).unwrap_or_else(|| panic!("no {s} in\n{t}"));
    assert_eq!(v(&text, &format!("supervisor_process_up{steady}")), 1.0);
    assert_eq!(
        v(
            &text,
            r#"supervisor_process_state{group="steady",name="steady",state="RUNNING"}"#
        ),
        1.0
    );
    assert!(
        v(
            &text,
            &format!("supervisor_process_resident_memory_bytes{steady}")
        ) > 0.0
    );
    assert!(
        v(
            &text,
            &format!("supervisor_process_start_time_seconds{steady}")
        ) > 1.0e9
    );
    assert!(
        v(
            &text,
            r#"supervisor_process_log_bytes_total{group="steady",name="steady",channel="stdout"}"#
        ) >= "hello-from-steady\n".len() as f64
    );
    assert!(
        v(
            &text,
            r#"supervisor_process_log_bytes_total{group="steady",name="steady",channel="stderr"}"#
        ) >= 5.0
    );
    // The label value is escaped.
    assert!(
        text.contains(r#"supervisor_process_up{group="we\"ird",name="we\"ird"} 1"#),
        "{text}"
    );
    // The listener pool never reads its events (`cat` is no listener): the buffer
    // overflows.
    assert!(
        v(
            &text,
            r#"supervisor_event_pool_events_dropped_total{pool="pool"}"#
        ) >= 1.0
    );
    assert!(v(&text, "supervisor_daemon_resident_memory_bytes") > 0.0);
    assert!(v(&text, "supervisor_daemon_open_fds") >= 3.0);

    // A crash counts: the restarts grow and the crash's exit status shows.
    let before = v(
        &text,
        &format!("supervisor_process_restarts_total{crasher}"),
    );
    let later = wait_for(secs(10.0), || {
        let t = get_metrics(&client);
        (sample(&t, &format!("supervisor_process_restarts_total{crasher}"))? > before).then_some(t)
    })
    .expect("restarts_total grows");
    promtool_check(&later);
    let exited = wait_for(secs(10.0), || {
        let t = get_metrics(&client);
        (sample(&t, &format!("supervisor_process_exit_status{crasher}"))? == 3.0).then_some(())
    });
    assert!(exited.is_some(), "exit status 3 never seen");

    // Stopping a process takes it down in the metrics.
    client.ok("supervisor.stopProcess", &[Value::from("steady")]);
    let t = get_metrics(&client);
    assert_eq!(v(&t, &format!("supervisor_process_up{steady}")), 0.0);
    assert_eq!(
        v(
            &t,
            r#"supervisor_process_state{group="steady",name="steady",state="STOPPED"}"#
        ),
        1.0
    );
    assert_eq!(
        v(&t, &format!("supervisor_process_uptime_seconds{steady}")),
        0.0
    );
    assert!(!t.contains(&format!("supervisor_process_resident_memory_bytes{steady}")));
    client.ok("supervisor.startProcess", &[Value::from("steady")]);
    let t = get_metrics(&client);
    assert_eq!(
        v(&t, &format!("supervisor_process_restarts_total{steady}")),
        1.0
    );
    promtool_check(&t);
}

#[test]
fn metrics_behind_auth_and_open_on_the_metrics_bind() {
    let (port, mport) = (free_port(), free_port());
    let _d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=s3cret\n\
             [metrics]\nport=127.0.0.1:{mport}\n\
             [program:steady]\ncommand=sleep 1000\n"
        )),
    );
    let authed = RpcClient::tcp(port, Some(("admin", "s3cret")));
    authed.wait_ready(secs(10.0)).expect("daemon up");
    let anon = authed.with_auth(None);
    for path in ["/metrics", "/", "/api/status", "/dashboard.js"] {
        let r = anon.get(path).expect("GET");
        assert_eq!(r.status, 401, "{path} without credentials: {r:?}");
        let r = authed
            .with_auth(Some(("admin", "wrong")))
            .get(path)
            .expect("GET");
        assert_eq!(r.status, 401, "{path} with a wrong password: {r:?}");
    }
    let text = get_metrics(&authed);
    assert!(text.contains(r#"supervisor_process_up{group="steady",name="steady"}"#));

    let open = RpcClient::tcp(mport, None);
    let text = get_metrics(&open);
    promtool_check(&text);
    assert!(text.contains("supervisor_daemon_open_fds"));
    for path in ["/", "/RPC2", "/api/status", "/logtail/steady"] {
        let r = open.get(path).expect("GET");
        assert_eq!(r.status, 404, "{path} on the metrics bind: {r:?}");
    }
    let r = open
        .post(
            "/RPC2",
            b"<methodCall><methodName>supervisor.shutdown</methodName></methodCall>",
        )
        .expect("POST");
    assert_eq!(r.status, 404, "no RPC on the metrics bind");
    std::thread::sleep(Duration::from_millis(100));
    authed.wait_ready(secs(2.0)).expect("still up");
}

/// config-examples/: the scrape config and rules pass promtool; the Alertmanager config
/// passes amtool when it is installed (Debian package prometheus-alertmanager).
#[test]
fn example_prometheus_and_alertmanager_configs_are_valid() {
    let root = supervisor_tests::workspace_root();
    let run = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .current_dir(&root)
            .output()
            .map(|o| {
                (
                    o.status.success(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    ),
                )
            })
    };
    for args in [
        ["check", "config", "config-examples/prometheus.yml"],
        ["check", "rules", "config-examples/supervisor-rules.yml"],
    ] {
        match run("promtool", &args) {
            Ok((ok, out)) => assert!(ok, "promtool {args:?}:\n{out}"),
            Err(e) => panic!("promtool is needed ({e}): apt-get install prometheus"),
        }
    }
    if let Ok((ok, out)) = run(
        "amtool",
        &["check-config", "config-examples/alertmanager.yml"],
    ) {
        assert!(ok, "amtool:\n{out}");
    }
}

/// A closed `/logtail` of a quiet process gives its descriptor back at once (the dashboard
/// opens and closes tails all the time); `supervisor_daemon_open_fds` shows it.
#[test]
fn closed_log_tails_release_their_descriptors() {
    let port = free_port();
    let _d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\n\
             [program:quiet]\ncommand=sh -c 'echo once; exec sleep 1000'\nstartsecs=0\n"
        )),
    );
    let client = RpcClient::tcp(port, None);
    client.wait_ready(secs(10.0)).expect("daemon up");
    let fds = |c: &RpcClient| sample(&get_metrics(c), "supervisor_daemon_open_fds").unwrap_or(0.0);
    std::thread::sleep(Duration::from_millis(300));
    let before = fds(&client);
    let streams: Vec<_> = (0..20)
        .map(|_| {
            supervisor_tests::rpc::Stream::open(&client, "/logtail/quiet/stdout")
                .expect("open tail")
        })
        .collect();
    let during = wait_for(secs(5.0), || {
        let n = fds(&client);
        (n >= before + 20.0).then_some(n)
    });
    assert!(during.is_some(), "20 open tails hold 20 descriptors");
    drop(streams);
    let after = wait_for(secs(5.0), || {
        let n = fds(&client);
        (n <= before).then_some(n)
    });
    assert!(
        after.is_some(),
        "closed tails still hold descriptors: before {before}, now {}",
        fds(&client)
    );
}
