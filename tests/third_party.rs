//! Third-party software we did not write, run against both daemons (each case under Python
//! supervisord 4.3.0 and ours):
//!
//! * supervisor-logging 0.0.9 (PROCESS_LOG events relayed to a syslog server over UDP);
//! * supervisor-wildcards 0.1.3, a supervisorctl plugin (`[ctlplugin:x]`) loaded by Python's
//!   supervisorctl, whose `mstop`/`mstart` start one thread (one XML-RPC connection) per match;
//! * supervisor-checks 0.8.1 (`supervisor_tcp_check`, `supervisor_memory_check`) and
//!   superlance 2.0.0's httpok, memmon, fatalmailbatch, crashmailbatch and crashsms: event
//!   listeners that read TICK_5 and PROCESS_STATE events and call getAllProcessInfo,
//!   getProcessInfo, stopProcess and startProcess back, or mail through a real SMTP server
//!   (aiosmtpd);
//! * superfsmon 1.2.3, restarting programs when a watched directory changes;
//! * real-world configs: the supervisord.conf pattern of many Docker images
//!   (`logfile=/dev/null`, child logs on `/dev/fd/1`, `/dev/fd/2` and `/dev/stdout`,
//!   `[include]`, and an event listener that SIGQUITs supervisord, `kill -SIGQUIT $PPID`, when
//!   a program exits), and a desktop/document-server image config (see
//!   `real_world_config`).
//!
//! The Python packages are pinned in scripts/test.sh.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Instant;

use supervisor_tests::rpc::{rpc_config, RpcClient};
use supervisor_tests::{
    free_port, python_bin, run_command, secs, wait_for, Capture, Daemon, Kind, SmtpSink,
};

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

fn bin(name: &str) -> String {
    python_bin(name).display().to_string()
}

/// supervisor-logging gets every line a program writes (stdout and stderr) as PROCESS_LOG
/// events and sends each to syslog, tagged with the program's name.
fn syslog_relay(kind: Kind) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    sock.set_read_timeout(Some(secs(0.5))).expect("timeout");
    let port = sock.local_addr().expect("addr").port();
    let config = rpc_config(
        &format!(
            "[program:talker]\n\
             command=sh -c 'echo \"hello out\"; echo \"hello err\" >&2; printf \"multi\\nline\\n\"; sleep 30'\n\
             stdout_events_enabled=true\n\
             stderr_events_enabled=true\n\n\
             [eventlistener:logging]\n\
             command={}\n\
             events=PROCESS_LOG\n\
             environment=SYSLOG_SERVER=\"127.0.0.1\",SYSLOG_PORT=\"{port}\",SYSLOG_PROTO=\"udp\"\n",
            bin("supervisor_logging")
        ),
        None,
    );
    let mut d = Daemon::start(kind, &config);
    let mut received = String::new();
    let start = Instant::now();
    let wanted = ["hello out", "hello err", "multi line"];
    let mut buf = [0u8; 65536];
    while start.elapsed() < secs(20.0) && !wanted.iter().all(|w| received.contains(w)) {
        if let Ok(n) = sock.recv(&mut buf) {
            received.push_str(&String::from_utf8_lossy(&buf[..n]));
            received.push('\n');
        }
    }
    for w in wanted {
        assert!(
            received.contains(w),
            "syslog got no {w:?}; received:\n{received}\n{}",
            d.diagnostics()
        );
    }
    // <14> = facility user, priority info; the record's name is the program's.
    for line in received.lines().filter(|l| l.contains("hello")) {
        assert!(
            line.starts_with("<14>") && line.contains(" talker["),
            "{line:?}"
        );
    }
    d.stop();
}
both!(syslog_relay => python_supervisor_logging_relays_process_log, ours_supervisor_logging_relays_process_log);

/// Python's supervisorctl with `[ctlplugin:wildcards]`: its commands run in threads, one
/// XML-RPC connection each, against the daemon.
fn wildcards(kind: Kind) {
    let config = rpc_config(
        "[supervisorctl]\nserverurl=unix://{dir}/supervisor.sock\n\n\
         [ctlplugin:wildcards]\n\
         supervisor.ctl_factory = supervisorwildcards.controllerplugin:make_wildcards_controllerplugin\n\
         match_group = 1\n\n\
         [program:web]\ncommand=sleep 60\nnumprocs=4\nprocess_name=web_%(process_num)d\nstartsecs=0\n\n\
         [program:worker]\ncommand=sleep 60\nstartsecs=0\n",
        None,
    );
    let mut d = Daemon::start(kind, &config);
    d.expect_log("success: worker entered RUNNING", secs(15.0));
    for n in 0..4 {
        d.expect_log(&format!("success: web_{n} entered RUNNING"), secs(15.0));
    }
    let conf = d.dir().join("supervisord.conf");
    // `status` exits 3 when a process is not running (supervisorctl 4.3.0).
    let ctl = |args: &[&str]| {
        let mut cmd = Command::new(python_bin("supervisorctl"));
        cmd.arg("-c").arg(&conf).args(args);
        let out = run_command(cmd, secs(30.0));
        let want = if args == ["status"] { 3 } else { 0 };
        assert_eq!(out.code(), Some(want), "supervisorctl {args:?}\n{out}");
        let mut lines: Vec<String> = out
            .stdout
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        ctl(&["mstop", "web:*"]),
        [
            "web:web_0: stopped",
            "web:web_1: stopped",
            "web:web_2: stopped",
            "web:web_3: stopped"
        ]
    );
    assert_eq!(
        ctl(&["mstart", "*web_1 *web_3"]),
        ["web:web_1: started", "web:web_3: started"]
    );
    assert_eq!(
        ctl(&["mrestart", "worker:*"]),
        ["worker: started", "worker: stopped"]
    );
    assert_eq!(
        ctl(&["mstop", "nomatch"]),
        ["No process matched given expression."]
    );
    let status: Vec<(String, String)> = ctl(&["status"])
        .iter()
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap_or("").into(), f.next().unwrap_or("").into())
        })
        .collect();
    let want = [
        ("web:web_0", "STOPPED"),
        ("web:web_1", "RUNNING"),
        ("web:web_2", "STOPPED"),
        ("web:web_3", "RUNNING"),
        ("worker", "RUNNING"),
    ];
    assert_eq!(
        status,
        want.map(|(a, b)| (a.to_string(), b.to_string())),
        "{}",
        d.diagnostics()
    );
    d.stop();
}
both!(wildcards => python_supervisor_wildcards_ctl_plugin, ours_supervisor_wildcards_ctl_plugin);

/// Health-check and alert listeners: each failing check restarts its program through
/// XML-RPC; the batch mailers send a FATAL and a crash alert through SMTP.
fn check_listeners(kind: Kind) {
    let smtp = SmtpSink::start();
    let port = smtp.port;
    let config = rpc_config(
        &format!(
            "[program:deaf]\ncommand=sleep 60\nstartsecs=0\n\n\
             [program:fat]\ncommand=sleep 61\nstartsecs=0\n\n\
             [program:deaf2]\ncommand=sleep 62\nstartsecs=0\n\n\
             [program:fat2]\ncommand=sleep 63\nstartsecs=0\n\n\
             [program:doomed]\ncommand=/nonexistent/doomed\nstartretries=0\n\n\
             [program:crasher]\ncommand=sh -c 'sleep 1; exit 2'\nstartsecs=0\nautorestart=false\n\n\
             [eventlistener:tcpcheck]\n\
             command={tcp} -n deafcheck -g deaf -p 1 -t 1 -r 0\n\
             events=TICK_5\nstderr_logfile={{dir}}/tcpcheck.err\n\n\
             [eventlistener:memcheck]\n\
             command={mem} -n fatcheck -g fat -m 1\n\
             events=TICK_5\nstderr_logfile={{dir}}/memcheck.err\n\n\
             [eventlistener:httpok]\n\
             command={httpok} -p deaf2 -t 1 -s \"cat >> {{dir}}/httpok.mail\" -m ops@example.com http://127.0.0.1:1/\n\
             events=TICK_5\n\n\
             [eventlistener:memmon]\n\
             command={memmon} -p fat2=1KB -s \"cat >> {{dir}}/memmon.mail\" -m ops@example.com\n\
             events=TICK_5\n\n\
             [eventlistener:fatalmail]\n\
             command={fatal} --toEmail=ops@example.com --fromEmail=sd@example.com --smtpHost=127.0.0.1:{port} --interval=0.05 -e TICK_5\n\
             events=PROCESS_STATE,TICK_5\nbuffer_size=100\n\n\
             [eventlistener:crashmail]\n\
             command={crash} --toEmail=ops@example.com --fromEmail=sd@example.com --smtpHost=127.0.0.1:{port} --interval=0.05 -e TICK_5\n\
             events=PROCESS_STATE,TICK_5\nbuffer_size=100\n\n\
             [eventlistener:crashsms]\n\
             command={sms} --toEmail=ops@example.com --fromEmail=sd@example.com --smtpHost=127.0.0.1:{port} --subject=sms -i 0.05 -e TICK_5\n\
             events=PROCESS_STATE,TICK_5\nbuffer_size=100\n",
            tcp = bin("supervisor_tcp_check"),
            mem = bin("supervisor_memory_check"),
            httpok = bin("httpok"),
            memmon = bin("memmon"),
            fatal = bin("fatalmailbatch"),
            crash = bin("crashmailbatch"),
            sms = bin("crashsms"),
        ),
        None,
    );
    let mut d = Daemon::start(kind, &config);
    for name in ["deaf", "fat", "deaf2", "fat2"] {
        d.expect_log(
            &format!("stopped: {name} (terminated by SIGTERM)"),
            secs(30.0),
        );
        let respawned = wait_for(secs(15.0), || {
            (d.log_text().matches(&format!("spawned: '{name}' ")).count() >= 2).then_some(())
        });
        assert!(
            respawned.is_some(),
            "{name} not started again\n{}",
            d.diagnostics()
        );
    }
    let read = |name: &str| std::fs::read_to_string(d.dir().join(name)).unwrap_or_default();
    assert!(
        read("tcpcheck.err").contains("Starting process deaf"),
        "{}",
        read("tcpcheck.err")
    );
    assert!(
        read("memcheck.err").contains("Starting process fat"),
        "{}",
        read("memcheck.err")
    );
    assert!(
        wait_for(secs(10.0), || read("httpok.mail")
            .contains("deaf2 restarted")
            .then_some(()))
        .is_some(),
        "httpok mail: {}",
        read("httpok.mail")
    );
    assert!(
        wait_for(secs(10.0), || read("memmon.mail")
            .contains("restarted the process named fat2:fat2")
            .then_some(()))
        .is_some(),
        "memmon mail: {}",
        read("memmon.mail")
    );
    let mails = wait_for(secs(40.0), || {
        let m = smtp.messages();
        let fatal = m.iter().any(|m| {
            m.contains("Subject: Fatal start alert from supervisord")
                && m.contains("Process doomed:doomed failed to start too many times")
        });
        let crash = m
            .iter()
            .any(|m| m.contains("Subject: Crash alert from supervisord") && m.contains("crasher"));
        let sms = m.iter().any(|m| {
            m.contains("Subject: sms")
                && m.contains("[crasher:crasher](")
                && m.contains("exited unexpectedly")
        });
        (fatal && crash && sms).then_some(m)
    });
    assert!(
        mails.is_some(),
        "mails: {:?}\n{}",
        smtp.messages(),
        d.diagnostics()
    );
    d.stop();
}
both!(check_listeners => python_health_check_and_alert_listeners, ours_health_check_and_alert_listeners);

/// The supervisord.conf of many Docker images, run as the container's command (stdout a
/// pipe): the program's output reaches supervisord's stdout and stderr through /dev/fd/1 and
/// /dev/fd/2, and when it exits the listener SIGQUITs supervisord, which stops everything
/// and exits 0.
fn docker_pattern(kind: Kind) {
    let config = "[unix_http_server]\nfile={dir}/supervisor.sock\nchmod=0700\n\n\
         [supervisord]\nnodaemon=true\nuser=root\nlogfile=/dev/null\nlogfile_maxbytes=0\n\
         pidfile={dir}/supervisord.pid\nloglevel=info\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{dir}/supervisor.sock\n\n\
         [program:web]\n\
         command=sh -c 'echo \"web up on %(ENV_HOME)s\"; echo web-err >&2; sleep 2; exit 3'\n\
         autorestart=false\npriority=10\n\
         stdout_logfile=/dev/fd/1\nstdout_logfile_maxbytes=0\n\
         stderr_logfile=/dev/fd/2\nstderr_logfile_maxbytes=0\n\n\
         [program:cron]\ncommand=sleep 100\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n\
         redirect_stderr=true\n\n\
         [eventlistener:processes]\n\
         command=bash -c \"printf 'READY\\n' && while read line; do kill -SIGQUIT $PPID; done < /dev/stdin\"\n\
         events=PROCESS_STATE_STOPPED,PROCESS_STATE_EXITED,PROCESS_STATE_FATAL\n\n\
         [include]\nfiles = {dir}/conf.d/*.conf\n";
    let mut d = Daemon::prepare(kind, config);
    std::fs::create_dir(d.dir().join("conf.d")).expect("conf.d");
    std::fs::write(
        d.dir().join("conf.d/extra.conf"),
        "[program:extra]\ncommand=sleep 100\n",
    )
    .expect("extra.conf");
    if std::env::var_os("HOME").is_none() {
        panic!("HOME must be set (the config reads %(ENV_HOME)s)");
    }
    d.spawn_with(&[], Capture::Pipe);
    let status = d.wait_exit(secs(30.0));
    let out = d.stdout_text();
    let err = d.stderr_text();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        d.diagnostics()
    );
    let home = std::env::var("HOME").unwrap_or_default();
    for needle in [
        format!("web up on {home}"),
        "Included extra file".into(),
        "spawned: 'extra'".into(),
        "exited: web (exit status 3; not expected)".into(),
        "received SIGQUIT indicating exit request".into(),
        "stopped: cron (terminated by SIGTERM)".into(),
        "stopped: extra (terminated by SIGTERM)".into(),
    ] {
        assert!(
            out.contains(&needle),
            "no {needle:?} in stdout:\n{out}\nstderr:\n{err}"
        );
    }
    assert!(err.contains("web-err"), "stderr:\n{err}");
}
both!(docker_pattern => python_docker_image_config, ours_docker_image_config);

/// A supervisord.conf in the style of desktop/VNC and document-server images: a unix socket
/// with credentials (and `[supervisorctl]` carrying them), `[inet_http_server] port=*:N` with
/// a `{SHA}` password, a `[group:x]` with priorities, `stopsignal=QUIT` with
/// `stopasgroup`/`killasgroup`, unquoted `environment=` values with `/` and `-`,
/// `%(program_name)s` log paths, and `numprocs_start` with a `%(process_num)02d` name.
/// Python's supervisorctl and ours both drive it.
fn real_world_config(kind: Kind) {
    let port = free_port();
    let config = format!(
        "[unix_http_server]\nfile={{dir}}/supervisor.sock\nchmod=0700\nusername=dummy\npassword=dummy\n\n\
         [inet_http_server]\nport=*:{port}\nusername=admin\n\
         password={{SHA}}d033e22ae348aeb5660fc2140aec35850c4da997\n\n\
         [supervisord]\nnodaemon=true\nlogfile={{dir}}/supervisord.log\nlogfile_maxbytes=50MB\n\
         logfile_backups=10\npidfile={{dir}}/supervisord.pid\nminfds=1024\nminprocs=200\n\
         childlogdir={{dir}}\nenvironment=LANG=\"en_US.UTF-8\",LC_ALL=en_US.UTF-8\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{{dir}}/supervisor.sock\nusername=dummy\npassword=dummy\n\n\
         [group:desktop]\nprograms=xvfb,panel\npriority=15\n\n\
         [program:xvfb]\npriority=10\ncommand=sleep 100\nautorestart=true\nstopsignal=QUIT\n\
         stopasgroup=true\nkillasgroup=true\n\n\
         [program:panel]\npriority=15\ndirectory={{dir}}\n\
         command=sh -c 'echo \"$DISPLAY $HOME $USER $NODE_ENV $NODE_CONFIG_DIR $LANG\"; exec sleep 100'\n\
         environment=DISPLAY=\":1\",HOME=\"/root\",USER=\"root\",NODE_ENV=production-linux,NODE_CONFIG_DIR=/etc/onlyoffice/documentserver\n\
         stdout_logfile={{dir}}/%(program_name)s.log\nstderr_logfile={{dir}}/%(program_name)s.err.log\n\
         stdout_logfile_maxbytes=1MB\nstdout_logfile_backups=0\nstartretries=10\n\n\
         [program:manual]\ncommand=sleep 100\nautostart=false\n\
         process_name=%(program_name)s_%(process_num)02d\nnumprocs=2\nnumprocs_start=1\n"
    );
    let mut d = Daemon::start(kind, &config);
    d.expect_log("success: xvfb entered RUNNING", secs(15.0));
    d.expect_log("success: panel entered RUNNING", secs(15.0));
    let conf = d.dir().join("supervisord.conf");
    let ctl = |exe: std::path::PathBuf, args: &[&str], want: i32| {
        let mut cmd = Command::new(exe);
        cmd.arg("-c").arg(&conf).args(args);
        let out = run_command(cmd, secs(30.0));
        assert_eq!(out.code(), Some(want), "supervisorctl {args:?}\n{out}");
        out.stdout
            .lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ctl(python_bin("supervisorctl"), &["status"], 3),
        [
            "desktop:panel RUNNING",
            "desktop:xvfb RUNNING",
            "manual:manual_01 STOPPED",
            "manual:manual_02 STOPPED"
        ]
    );
    assert_eq!(
        ctl(python_bin("supervisorctl"), &["start", "manual:*"], 0),
        ["manual:manual_01: started", "manual:manual_02: started"]
    );
    assert_eq!(
        ctl(Kind::Ours.bin("supervisorctl"), &["status"], 0),
        [
            "desktop:panel RUNNING",
            "desktop:xvfb RUNNING",
            "manual:manual_01 RUNNING",
            "manual:manual_02 RUNNING"
        ]
    );
    let rpc = RpcClient::tcp(port, Some(("admin", "admin")));
    rpc.wait_ready(secs(10.0)).expect("inet server answers");
    let state = format!("{:?}", rpc.ok("supervisor.getState", &[]));
    assert!(state.contains("RUNNING"), "{state}");
    assert!(
        RpcClient::tcp(port, Some(("admin", "wrong")))
            .try_call("supervisor.getState", &[])
            .is_err(),
        "a wrong password is refused"
    );
    let line = wait_for(secs(10.0), || {
        let t = std::fs::read_to_string(d.dir().join("panel.log")).unwrap_or_default();
        (!t.is_empty()).then_some(t)
    });
    assert_eq!(
        line.as_deref(),
        Some(":1 /root root production-linux /etc/onlyoffice/documentserver en_US.UTF-8\n")
    );
    assert!(d.stop().success());
    assert!(
        d.log_text()
            .contains("stopped: xvfb (terminated by SIGQUIT)"),
        "{}",
        d.diagnostics()
    );
}
both!(real_world_config => python_real_world_image_config, ours_real_world_image_config);

/// superfsmon 1.2.3 watches a directory and restarts programs through XML-RPC with
/// `stopProcess(name, False)` (no wait), polls `getProcessInfo` until STOPPED, then
/// `startProcess(name, False)`: a program by name and a group (`-g`), never the others.
fn superfsmon(kind: Kind) {
    let config = rpc_config(
        &format!(
            "[program:app]\ncommand=sleep 100\nstartsecs=0\n\n\
             [program:web]\ncommand=sleep 101\nnumprocs=2\nprocess_name=web_%(process_num)d\nstartsecs=0\n\n\
             [program:other]\ncommand=sleep 102\nstartsecs=0\n\n\
             [program:superfsmon]\ncommand={} {{dir}}/watch app -g web\n\
             stdout_logfile={{dir}}/superfsmon.log\nredirect_stderr=true\n",
            bin("superfsmon")
        ),
        None,
    );
    let mut d = Daemon::prepare(kind, &config);
    std::fs::create_dir(d.dir().join("watch")).expect("watch dir");
    d.spawn();
    d.expect_log("success: superfsmon entered RUNNING", secs(15.0));
    let watching = wait_for(secs(10.0), || {
        std::fs::read_to_string(d.dir().join("superfsmon.log"))
            .ok()
            .filter(|t| t.contains("watching"))
    });
    assert!(
        watching.is_some(),
        "superfsmon not watching\n{}",
        d.diagnostics()
    );
    std::fs::write(d.dir().join("watch/changed.py"), "x = 1\n").expect("write watched file");
    for name in ["app", "web_0", "web_1"] {
        d.expect_log(
            &format!("stopped: {name} (terminated by SIGTERM)"),
            secs(20.0),
        );
        let respawned = wait_for(secs(15.0), || {
            (d.log_text().matches(&format!("spawned: '{name}' ")).count() >= 2).then_some(())
        });
        assert!(
            respawned.is_some(),
            "{name} not started again\n{}",
            d.diagnostics()
        );
    }
    assert!(
        !d.log_text().contains("stopped: other"),
        "{}",
        d.diagnostics()
    );
    d.stop();
}
both!(superfsmon => python_superfsmon_restarts_on_change, ours_superfsmon_restarts_on_change);
