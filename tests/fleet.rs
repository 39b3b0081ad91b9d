//! supervisorctl against several of our daemons at once (`-s` repeated): one merged status
//! table with a HOST column; `status --resources` adds MEM and CPU columns; and
//! `system.listMethods` stays Python's (the extension method is not listed).

use std::net::TcpListener;
use std::process::Command;

use supervisor_tests::rpc::RpcClient;
use supervisor_tests::{config_with, ours_bin, run_command, secs, wait_for, Daemon, Kind};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn daemon(programs: &str) -> (Daemon, u16) {
    let port = free_port();
    let d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\nusername=u\npassword=p\n{programs}"
        )),
    );
    let c = RpcClient::tcp(port, Some(("u", "p")));
    c.wait_ready(secs(10.0)).expect("daemon up");
    let up = wait_for(secs(10.0), || {
        let all = c.ok("supervisor.getAllProcessInfo", &[]);
        let text = format!("{all:?}");
        (!text.contains("STARTING")).then_some(())
    });
    assert!(up.is_some(), "programs never settled");
    (d, port)
}

fn ctl(args: &[String]) -> (String, Option<i32>) {
    let mut cmd = Command::new(ours_bin("supervisorctl"));
    cmd.args(["-u", "u", "-p", "p"]).args(args);
    let out = run_command(cmd, secs(30.0));
    (out.stdout.clone(), out.code())
}

#[test]
fn status_across_servers_and_with_resources() {
    let (_a, pa) = daemon("[program:web]\ncommand=sleep 1000\nstartsecs=0\n");
    let (_b, pb) = daemon(
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\n\
         [program:idle]\ncommand=sleep 1000\nautostart=false\n",
    );
    let url = |p: u16| format!("http://127.0.0.1:{p}");

    let (out, code) = ctl(&["-s".into(), url(pa), "status".into(), "--resources".into()]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("MEM"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("web ") && lines[1].contains("RUNNING"),
        "{out}"
    );
    assert!(
        lines[1].contains('M') || lines[1].contains('K'),
        "memory shown: {out}"
    );
    assert_eq!(code, Some(0), "{out}");

    let (out, code) = ctl(&["-s".into(), url(pa), "-s".into(), url(pb), "status".into()]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("HOST"), "{out}");
    let host_a = format!("127.0.0.1:{pa}");
    let host_b = format!("127.0.0.1:{pb}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&host_a) && l.contains("web") && l.contains("RUNNING")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&host_b) && l.contains("web") && l.contains("RUNNING")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&host_b) && l.contains("idle") && l.contains("STOPPED")),
        "{out}"
    );
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        code,
        Some(3),
        "a stopped process makes status exit 3: {out}"
    );

    // A server that is down is reported, the others still listed.
    let (out, code) = ctl(&[
        "-s".into(),
        url(pa),
        "-s".into(),
        url(free_port()),
        "status".into(),
        "web".into(),
    ]);
    assert!(out.contains("ERROR (connection refused)"), "{out}");
    assert!(out.lines().any(|l| l.starts_with(&host_a)), "{out}");
    assert_eq!(code, Some(4), "{out}");

    // Other actions are refused with several servers.
    let (_, code) = ctl(&[
        "-s".into(),
        url(pa),
        "-s".into(),
        url(pb),
        "stop".into(),
        "all".into(),
    ]);
    assert_eq!(code, Some(2));

    // The extension method works but is not listed.
    let c = RpcClient::tcp(pa, Some(("u", "p")));
    let listed = format!("{:?}", c.ok("system.listMethods", &[]));
    assert!(!listed.contains("supervisor_rs"), "{listed}");
    let res = c.ok("supervisor_rs.getAllProcessResources", &[]);
    let text = format!("{res:?}");
    assert!(
        text.contains("rss_kb") && text.contains("\"web\""),
        "{text}"
    );
}
