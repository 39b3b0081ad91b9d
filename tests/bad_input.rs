//! The bad-input catalogue (issue 8): malformed configurations, XML-RPC bodies and HTTP request
//! heads, each answered with a clear error that names what was wrong. Table-driven: every row
//! is an input and the words its error must contain.
//!
//! * configs: `supervisord -c` exits 2 before starting anything, and stderr names the
//!   section, option and value (or the line) at fault;
//! * XML-RPC bodies: HTTP 400 whose page says why (also logged as a WARN), or a fault whose
//!   string names the problem;
//! * HTTP heads: the right 4xx status, and the server keeps serving.
//!
//! Event-listener protocol lines are added with the events system (listener.rs).
//! Ours only: these check our error messages, whose wording differs from upstream's by design
//! (docs/compat.md).

use supervisor_protocol::xmlrpc::{encode_method_call, parse_method_response, Value};
use supervisor_tests::rpc::{rpc_config, socket_path, RpcClient};
use supervisor_tests::{config_with, secs, Daemon, Kind};

/// (program section body or whole extra sections, words the error must contain).
const CONFIGS: &[(&str, &[&str])] = &[
    (
        "[program:x]\ncommand=ls\nstartsecs=abc\n",
        &["startsecs", "'abc'", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nstartsecs=-1\n",
        &["startsecs", "'-1'", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nstartretries=lots\n",
        &["startretries", "'lots'", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nautorestart=maybe\n",
        &["autorestart", "'maybe'", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nautostart=yesplease\n",
        &["autostart", "yesplease", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nstopsignal=FOO\n",
        &["stopsignal", "'FOO'", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nexitcodes=0,x\n",
        &["exitcodes", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\numask=999\n",
        &["umask", "999", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nstdout_logfile_maxbytes=12XB\n",
        &["stdout_logfile_maxbytes", "12XB", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nstdout_logfile_backups=many\n",
        &["stdout_logfile_backups", "many", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\npriority=high\n",
        &["priority", "high", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nnumprocs=abc\n",
        &["numprocs", "abc", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nnumprocs=2\n",
        &["process_name", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls %(nope)s\n",
        &["nope", "program:x", "command"],
    ),
    (
        "[program:x]\ncommand=ls %(program_name\n",
        &["program:x", "command"],
    ),
    (
        "[program:x]\ncommand=ls\nenvironment=A=1,B\n",
        &["environment", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nenvironment=A=\"unterminated\n",
        &["environment", "program:x"],
    ),
    (
        "[program:x]\ncommand=ls\nredirect_stderr=sometimes\n",
        &["redirect_stderr", "sometimes", "program:x"],
    ),
    ("[program:x]\nautostart=true\n", &["program:x", "command"]),
    ("[program:x:y]\ncommand=ls\n", &["x:y"]),
    ("[group:g]\npriority=1\n", &["group:g", "programs"]),
    ("[group:g]\nprograms=missing\n", &["group:g", "missing"]),
    (
        "[eventlistener:e]\ncommand=ls\nevents=NOT_AN_EVENT\n",
        &["eventlistener:e", "NOT_AN_EVENT"],
    ),
    (
        "[eventlistener:e]\ncommand=ls\n",
        &["eventlistener:e", "events"],
    ),
    (
        "[eventlistener:e]\ncommand=ls\nevents=TICK_5\nbuffer_size=huge\n",
        &["buffer_size", "huge", "eventlistener:e"],
    ),
    (
        "[inet_http_server]\nport=notaport\n",
        &["inet_http_server", "port", "notaport"],
    ),
    (
        "[inet_http_server]\nport=127.0.0.1:99999\n",
        &["inet_http_server", "99999"],
    ),
    (
        "[inet_http_server]\nport=127.0.0.1:9001\nusername=u\n",
        &["inet_http_server", "password"],
    ),
    (
        "[unix_http_server]\nfile=/tmp/x.sock\nchmod=rwx\n",
        &["unix_http_server", "chmod", "rwx"],
    ),
    (
        "[unix_http_server]\nfile=/tmp/x.sock\nchown=no-such-user-xyz\n",
        &["unix_http_server", "chown", "no-such-user-xyz"],
    ),
    ("garbage line without section\n", &["line", "garbage line"]),
    (
        "[program:x]\ncommand=ls\n  leading continuation is fine\n[program:y]\nnot an option\n",
        &["not an option"],
    ),
    ("[include]\npriority=1\n", &["include", "files"]),
    (
        "[program:x]\ncommand=ls\nuser=no-such-user-xyz\n",
        &["no-such-user-xyz", "program:x"],
    ),
];

/// `[supervisord]` options that are wrong (the section itself is written by config_with).
const SUPERVISORD_OPTIONS: &[(&str, &[&str])] = &[
    ("loglevel=loud", &["loglevel", "'loud'", "supervisord"]),
    (
        "logfile_maxbytes=1ZB",
        &["logfile_maxbytes", "1ZB", "supervisord"],
    ),
    ("minfds=few", &["minfds", "few", "supervisord"]),
    ("umask=8", &["umask", "supervisord"]),
    ("nodaemon=perhaps", &["nodaemon", "perhaps", "supervisord"]),
    ("user=no-such-user-xyz", &["no-such-user-xyz"]),
];

#[test]
fn ours_bad_configs_are_rejected_with_the_culprit_named() {
    let mut cases: Vec<(String, &[&str])> = CONFIGS
        .iter()
        .map(|(text, words)| (config_with(text), *words))
        .collect();
    for (opt, words) in SUPERVISORD_OPTIONS {
        cases.push((
            config_with("").replace("loglevel=info\n", &format!("{opt}\n")),
            *words,
        ));
    }
    let mut failures = Vec::new();
    for (n, (config, words)) in cases.iter().enumerate() {
        let d = Daemon::prepare(Kind::Ours, config);
        let out = d.run_to_exit(secs(10.0));
        let text = out.combined();
        let named = words.iter().all(|w| text.contains(w));
        if out.code() != Some(2) || !named || text.contains("panicked") {
            failures.push(format!(
                "case {n}: exit {:?}, want 2 and words {words:?}\n--- config ---\n{config}\n--- output ---\n{text}",
                out.code()
            ));
        }
    }
    println!(
        "bad configs: {} tried, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn xml(body: &str) -> Vec<u8> {
    body.as_bytes().to_vec()
}

/// Bodies that are not XML-RPC: HTTP 400 whose page states the reason.
fn malformed_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty body", Vec::new()),
        ("not XML", xml("hello")),
        ("unclosed root", xml("<methodCall><methodName>x</methodName>")),
        ("wrong root", xml("<methodResponse><params/></methodResponse>")),
        ("no methodName", xml("<methodCall><params/></methodCall>")),
        (
            "truncated in a value",
            xml("<methodCall><methodName>x</methodName><params><param><value><string>abc"),
        ),
        (
            "bad int",
            xml("<methodCall><methodName>x</methodName><params><param><value><int>1x</int></value></param></params></methodCall>"),
        ),
        (
            "int overflow",
            xml("<methodCall><methodName>x</methodName><params><param><value><i4>99999999999</i4></value></param></params></methodCall>"),
        ),
        (
            "bad boolean",
            xml("<methodCall><methodName>x</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>"),
        ),
        (
            "bad double",
            xml("<methodCall><methodName>x</methodName><params><param><value><double>abc</double></value></param></params></methodCall>"),
        ),
        (
            "bad base64",
            xml("<methodCall><methodName>x</methodName><params><param><value><base64>!!!</base64></value></param></params></methodCall>"),
        ),
        (
            "struct member without name",
            xml("<methodCall><methodName>x</methodName><params><param><value><struct><member><value>1</value></member></struct></value></param></params></methodCall>"),
        ),
        (
            "mismatched tags",
            xml("<methodCall><methodName>x</methodCall></methodName>"),
        ),
        (
            "DTD / entity expansion",
            xml("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><methodCall><methodName>&a;</methodName></methodCall>"),
        ),
        (
            "undefined entity",
            xml("<methodCall><methodName>&bogus;</methodName></methodCall>"),
        ),
        ("invalid UTF-8", b"<methodCall><methodName>\xff\xfe</methodName></methodCall>".to_vec()),
        (
            "nesting too deep",
            {
                let mut s = String::from("<methodCall><methodName>x</methodName><params><param><value>");
                for _ in 0..200 {
                    s.push_str("<array><data><value>");
                }
                s.push('1');
                for _ in 0..200 {
                    s.push_str("</value></data></array>");
                }
                s.push_str("</value></param></params></methodCall>");
                s.into_bytes()
            },
        ),
        (
            "trailing garbage",
            xml("<methodCall><methodName>x</methodName></methodCall><more/>"),
        ),
    ]
}

/// Well-formed calls that are wrong: a fault naming the problem.
fn wrong_calls() -> Vec<(&'static str, Vec<u8>, i32, &'static str)> {
    let call = |m: &str, p: &[Value]| encode_method_call(m, p);
    vec![
        (
            "unknown method",
            call("supervisor.nope", &[]),
            1,
            "UNKNOWN_METHOD",
        ),
        (
            "no such namespace",
            call("nope.getState", &[]),
            1,
            "UNKNOWN_METHOD",
        ),
        (
            "too many params",
            call("supervisor.getState", &[Value::Int(1)]),
            2,
            "INCORRECT_PARAMETERS",
        ),
        (
            "missing params",
            call("supervisor.getProcessInfo", &[]),
            2,
            "INCORRECT_PARAMETERS",
        ),
        (
            "wrong type",
            call(
                "supervisor.readLog",
                &[Value::String("abc".into()), Value::Int(0)],
            ),
            2,
            "INCORRECT_PARAMETERS",
        ),
        (
            "bad process name",
            call(
                "supervisor.getProcessInfo",
                &[Value::String("nosuch".into())],
            ),
            10,
            "BAD_NAME: nosuch",
        ),
        (
            "bad signal",
            call(
                "supervisor.signalProcess",
                &[Value::String("cat".into()), Value::String("NOSIG".into())],
            ),
            11,
            "BAD_SIGNAL: NOSIG",
        ),
        (
            "multicall of multicall",
            call(
                "system.multicall",
                &[Value::Array(vec![Value::new_struct(vec![
                    ("methodName", Value::String("system.multicall".into())),
                    ("params", Value::Array(vec![])),
                ])])],
            ),
            0,
            "",
        ),
    ]
}

#[test]
fn ours_bad_rpc_bodies_get_400_or_a_fault_with_a_reason() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config("[program:cat]\ncommand=cat\n", None),
    );
    let client = RpcClient::unix(socket_path(d.dir()));
    client.wait_ready(secs(15.0)).expect("daemon ready");
    let mut failures = Vec::new();
    let mut tried = 0;
    for (what, body) in malformed_bodies() {
        tried += 1;
        match client.post("/RPC2", &body) {
            Ok(resp) if resp.status == 400 && resp.text().contains("rejected XML-RPC request:") => {
            }
            Ok(resp) => failures.push(format!("{what}: HTTP {} {}", resp.status, resp.text())),
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    for (what, body, code, words) in wrong_calls() {
        tried += 1;
        let resp = match client.post("/RPC2", &body) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{what}: {e}"));
                continue;
            }
        };
        let parsed = parse_method_response(&resp.body, 1 << 20);
        match (code, parsed) {
            // multicall-in-multicall: a fault inside the result array.
            (0, Ok(Ok(Value::Array(items)))) => {
                let text = format!("{items:?}");
                if !text.contains("INCORRECT_PARAMETERS") && !text.contains("Recursive") {
                    failures.push(format!("{what}: {text}"));
                }
            }
            (_, Ok(Err(f))) if f.code == code && f.string.contains(words) => {}
            (_, other) => failures.push(format!(
                "{what}: want fault {code} {words:?}, got HTTP {} {other:?}",
                resp.status
            )),
        }
    }
    // Every rejected body is also in the main log as a WARN with its reason.
    let warned = d
        .log_text()
        .matches("WARN rejected XML-RPC request:")
        .count();
    if warned != malformed_bodies().len() {
        failures.push(format!(
            "{warned} WARN lines for {} rejected bodies",
            malformed_bodies().len()
        ));
    }
    // And the server still serves.
    client.ok("supervisor.getState", &[]);
    println!("bad RPC bodies: {tried} tried, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    d.stop();
}

#[test]
fn ours_bad_http_heads_get_4xx() {
    let mut d = Daemon::start(Kind::Ours, &rpc_config("", None));
    let client = RpcClient::unix(socket_path(d.dir()));
    client.wait_ready(secs(15.0)).expect("daemon ready");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "garbage request line",
            b"\x00\x01 nonsense\r\n\r\n".to_vec(),
            400,
        ),
        (
            "GET /RPC2",
            b"GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bad Content-Length",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: ten\r\n\r\n".to_vec(),
            400,
        ),
        (
            "chunked body",
            b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            411,
        ),
        (
            "body over 4 MiB",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
            413,
        ),
        (
            "head over 64 KiB",
            {
                let mut h = b"GET / HTTP/1.1\r\nX: ".to_vec();
                h.extend(std::iter::repeat_n(b'a', 70 * 1024));
                h.extend_from_slice(b"\r\n\r\n");
                h
            },
            431,
        ),
        ("unknown path", b"GET /nope HTTP/1.1\r\n\r\n".to_vec(), 404),
        (
            "header without colon",
            b"GET / HTTP/1.1\r\nthis is not a header\r\n\r\n".to_vec(),
            400,
        ),
    ];
    let mut failures = Vec::new();
    for (what, req, want) in &cases {
        match client.raw(req) {
            Ok(resp) if resp.status == *want => {}
            Ok(resp) => failures.push(format!("{what}: want {want}, got {}", resp.status)),
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    client.ok("supervisor.getState", &[]);
    println!(
        "bad HTTP heads: {} tried, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    d.stop();
}
