//! End to end: `child_output=stdout` and `log_format=json` (docs/extensions.md, "Logs for
//! containers"): child lines copied to supervisord's stdout, whole and prefixed.

use supervisor_tests::{config_with, secs, wait_for, Daemon, Kind};

/// A program that writes `n` lines to `fd`, each in three separate writes (so partial lines
/// reach supervisord), then a last line without a newline.
fn writer(name: &str, fd: u8, n: u32) -> String {
    format!(
        "sh -c 'i=0; while [ $i -lt {n} ]; do printf \"{name}-%%s-\" $i >&{fd}; \
         printf \"middle-\" >&{fd}; printf \"end\\n\" >&{fd}; i=$((i+1)); done; \
         printf \"{name}-tail\" >&{fd}'"
    )
}

/// A main-log line mirrored to stdout (`2024-01-02 03:04:05,678 INFO ...`).
fn is_main_log_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 29
        && b[4] == b'-'
        && b[10] == b' '
        && b[19] == b','
        && b[23] == b' '
        && b[24..28].iter().all(u8::is_ascii_uppercase)
}

fn wait_stdout(d: &Daemon, needles: &[&str]) -> String {
    wait_for(secs(30.0), || {
        let out = d.stdout_text();
        needles.iter().all(|n| out.contains(n)).then_some(out)
    })
    .unwrap_or_else(|| {
        let log = d.log_text();
        let out = d.stdout_text();
        let tail = |s: &str| s[s.len().saturating_sub(3000)..].to_string();
        panic!(
            "stdout never had {needles:?}\n--- main log ---\n{}\n--- stdout (end) ---\n{}",
            tail(&log),
            tail(&out)
        )
    })
}

#[test]
fn ours_text_lines_are_whole_prefixed_and_in_order() {
    const N: u32 = 300;
    let mut d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "child_output=stdout\n\n\
             [program:alpha]\ncommand={}\nstartsecs=0\nautorestart=false\n\
             stdout_logfile={{dir}}/alpha.log\n\n\
             [program:beta]\ncommand={}\nstartsecs=0\nautorestart=false\n\
             stderr_logfile={{dir}}/beta.err\n\n\
             [program:quiet]\ncommand=sh -c 'echo quiet-line; sleep 1000'\nchild_output=none\n\
             startsecs=0\n",
            writer("alpha", 1, N),
            writer("beta", 2, N),
        )),
    );
    let out = wait_stdout(&d, &["alpha | alpha-tail", "beta | beta-tail"]);
    d.expect_log("exited: beta", secs(10.0));
    let mut got = std::collections::HashMap::<&str, Vec<String>>::new();
    for line in out.lines() {
        if is_main_log_line(line) {
            continue;
        }
        let (name, rest) = line
            .split_once(" | ")
            .unwrap_or_else(|| panic!("line without a program prefix: {line:?}\n{out}"));
        assert!(name == "alpha" || name == "beta", "{line:?}");
        got.entry(name).or_default().push(rest.to_string());
    }
    for name in ["alpha", "beta"] {
        let mut want: Vec<String> = (0..N).map(|i| format!("{name}-{i}-middle-end")).collect();
        want.push(format!("{name}-tail"));
        assert_eq!(got.get(name), Some(&want), "{name}\n{out}");
    }
    assert!(
        !out.contains("quiet-line"),
        "child_output=none copied\n{out}"
    );
    // The log files are written as before, byte for byte.
    let alpha = std::fs::read_to_string(d.path("alpha.log")).unwrap();
    let mut want = String::new();
    for i in 0..N {
        want.push_str(&format!("alpha-{i}-middle-end\n"));
    }
    want.push_str("alpha-tail");
    assert_eq!(alpha, want);
    assert!(std::fs::read_to_string(d.path("beta.err"))
        .unwrap()
        .ends_with("beta-299-middle-end\nbeta-tail"));
    assert!(d.stop().success());
}

#[test]
fn ours_json_lines_parse_and_carry_the_fields() {
    let mut d = Daemon::prepare(
        Kind::Ours,
        &config_with(&format!(
            "log_format=json\n\n\
             [program:web]\ncommand={}\nstartsecs=0\nautorestart=false\nchild_output=stdout\n\n\
             [program:big]\ncommand=sh {{dir}}/big.sh\n\
             startsecs=0\nautorestart=false\nchild_output=stdout\n\n\
             [program:off]\ncommand=sh -c 'echo off-line; sleep 1000'\nstartsecs=0\n",
            writer("web", 2, 50),
        )),
    );
    // One 150000-byte line on stdout, then an empty line and a quoted one on stderr.
    std::fs::write(
        d.path("big.sh"),
        "head -c 150000 /dev/zero | tr '\\000' x\nprintf '\\n\"quoted\"\\n' >&2\n",
    )
    .unwrap();
    d.spawn();
    let out = wait_stdout(&d, &["web-tail", "\\\"quoted\\\""]);
    let mut web = Vec::new();
    let mut big = Vec::new();
    let mut main_lines = 0;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{out}"));
        let time = v["time"].as_str().expect("time");
        assert!(time.len() >= 23 && time.as_bytes()[10] == b'T', "{time}");
        if v.get("level").is_some() {
            assert!(v["message"].is_string(), "{line}");
            main_lines += 1;
            continue;
        }
        let program = v["program"].as_str().expect("program");
        assert_eq!(v["group"].as_str(), Some(program), "{line}");
        let stream = v["stream"].as_str().expect("stream");
        let text = v["line"].as_str().expect("line").to_string();
        let partial = v.get("partial").and_then(|p| p.as_bool()).unwrap_or(false);
        match program {
            "web" => {
                assert_eq!(stream, "stderr");
                assert!(!partial);
                web.push(text);
            }
            "big" => big.push((stream.to_string(), text.len(), partial, text)),
            _ => panic!("unexpected program {program}: {line}"),
        }
    }
    assert!(
        main_lines > 0,
        "the main log's stdout mirror is JSON too\n{out}"
    );
    let mut want: Vec<String> = (0..50).map(|i| format!("web-{i}-middle-end")).collect();
    want.push("web-tail".into());
    assert_eq!(web, want);
    // 150000 bytes on stdout: two marked pieces of 64 KiB, then the rest (flushed at EOF);
    // on stderr an empty line and a quoted one. The two pipes are read independently, so
    // only the order within each stream is fixed.
    let shape = |want: &str| -> Vec<(usize, bool)> {
        big.iter()
            .filter(|(s, ..)| s == want)
            .map(|(_, n, p, _)| (*n, *p))
            .collect()
    };
    assert_eq!(
        shape("stdout"),
        vec![(65536, true), (65536, true), (150000 - 131072, false)]
    );
    assert_eq!(shape("stderr"), vec![(0, false), (8, false)]);
    assert!(big.iter().any(|(_, _, _, t)| t == "\"quoted\""));
    assert!(!out.contains("off-line"));
    assert!(d.stop().success());
}

/// Python Supervisor 4.3.0 loads a config with the new `[supervisord]` and program options
/// (it ignores them).
#[test]
fn python_ignores_the_child_output_options() {
    let mut d = Daemon::start(
        Kind::Python,
        &config_with(
            "child_output=stdout\nlog_format=json\nchild_output_timestamps=true\n\n\
             [program:up]\ncommand=sleep 1000\nstartsecs=1\nchild_output=none\n",
        ),
    );
    d.expect_log("success: up entered RUNNING state", secs(15.0));
    assert!(d.stop().success());
}

/// supervisord's stdout is a pipe nobody reads: the queue to stdout fills, lines are dropped
/// with a warning in the main log, and the daemon keeps answering and writing the log files.
#[test]
fn ours_a_blocked_stdout_drops_lines_and_never_stalls_the_daemon() {
    use std::os::unix::process::CommandExt;
    use supervisor_tests::rpc::{socket_path, RpcClient};
    const FLOOD: u64 = 8_000_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "{}child_output=stdout\nsilent=true\n\n\
         [unix_http_server]\nfile={{dir}}/supervisor.sock\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [program:flood]\ncommand=sh -c 'yes flood-line | head -c {FLOOD}; sleep 1000'\n\
         startsecs=0\nstdout_logfile={{dir}}/flood.log\nstdout_logfile_maxbytes=0\n",
        supervisor_tests::SUPERVISORD_SECTION
    )
    .replace("{dir}", dir.path().to_str().expect("utf-8 dir"));
    let conf = dir.path().join("supervisord.conf");
    std::fs::write(&conf, text).unwrap();
    let mut child = std::process::Command::new(Kind::Ours.supervisord())
        .arg("-n")
        .arg("-c")
        .arg(&conf)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start supervisord");
    let pid = child.id() as i32;
    let log = dir.path().join("supervisord.log");
    let flood = dir.path().join("flood.log");
    let c = RpcClient::unix(socket_path(dir.path()));
    let result = std::panic::catch_unwind(|| {
        c.wait_ready(secs(15.0)).expect("daemon answers RPC");
        // The log file gets every byte although stdout is blocked.
        wait_for(secs(30.0), || {
            (std::fs::metadata(&flood).map_or(0, |m| m.len()) >= FLOOD).then_some(())
        })
        .expect("flood.log complete");
        let text = wait_for(secs(10.0), || {
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            t.contains("dropping child output lines").then_some(t)
        })
        .expect("drop warning in the main log");
        assert!(
            text.contains("WARN child_output: stdout is not keeping up"),
            "{text}"
        );
        // Still answering.
        let started = std::time::Instant::now();
        c.ok("supervisor.getState", &[]);
        assert!(started.elapsed() < secs(5.0));
    });
    supervisor_tests::kill_pid(pid, libc::SIGTERM);
    // Unblock stdout so the writer thread can go on while supervisord shuts down.
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut sink);
        sink.len()
    });
    let exited = wait_for(secs(20.0), || child.try_wait().ok().flatten());
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = reader.join();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(exited.is_some(), "supervisord did not exit on SIGTERM");
}
