//! The web dashboard in a real headless Chromium, driven through chromedriver's WebDriver
//! HTTP API with a tiny JSON-over-TCP client (no extra crates). Needs `/usr/bin/chromium` and
//! `chromedriver` (Debian packages chromium, chromium-driver; `scripts/test.sh` installs
//! them). Assertions are on the DOM and on the daemon's real state over XML-RPC.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use supervisor_tests::rpc::{RpcClient, Value};
use supervisor_tests::{config_with, secs, wait_for, Daemon, Kind};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

// ---------------------------------------------------------------------------------------------
// Minimal JSON helpers (requests are built by hand; answers only need a few fields)
// ---------------------------------------------------------------------------------------------

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The JSON string that starts at `text[at]` (which is `"`), decoded; and where it ends.
fn parse_json_string(text: &str, at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = text[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, at + 1 + i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String =
                            (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// The string value of the first `"key":"..."` in `text`.
fn json_field(text: &str, key: &str) -> Option<String> {
    let pat = format!("{}:", json_str(key));
    let start = text.find(&pat)? + pat.len();
    let at = start + text[start..].find(|c: char| !c.is_whitespace())?;
    if !text[at..].starts_with('"') {
        return None;
    }
    parse_json_string(text, at).map(|(s, _)| s)
}

// ---------------------------------------------------------------------------------------------
// WebDriver
// ---------------------------------------------------------------------------------------------

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "Chromium is needed for this test: install the Debian packages chromium and \
                     chromium-driver (scripts/test.sh does this)"
                )
            });
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver ({e}): install the Debian package chromium-driver")
            });
        let profile = tempfile::tempdir().expect("profile dir");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let ready = wait_for(secs(20.0), || {
            b.request("GET", "/status", None)
                .ok()
                .filter(|r| r.contains("\"ready\":true"))
        });
        assert!(ready.is_some(), "chromedriver did not become ready");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| json_str(a))
        .chain(std::iter::once(json_str(&format!(
            "--user-data-dir={}",
            b._profile.path().display()
        ))))
        .collect::<Vec<_>>()
        .join(",");
        let caps = format!(
            r#"{{"capabilities":{{"alwaysMatch":{{"browserName":"chrome","unhandledPromptBehavior":"ignore","goog:chromeOptions":{{"binary":{},"args":[{args}]}}}}}}}}"#,
            json_str(chromium)
        );
        let resp = b
            .request("POST", "/session", Some(&caps))
            .unwrap_or_else(|e| panic!("new session: {e}"));
        b.session =
            json_field(&resp, "sessionId").unwrap_or_else(|| panic!("no sessionId in {resp}"));
        b
    }

    /// One WebDriver request; `Err` on transport errors or a WebDriver error answer.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
        let mut conn =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| format!("connect: {e}"))?;
        let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
        let body = body.unwrap_or(if method == "POST" { "{}" } else { "" });
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(req.as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        let resp = supervisor_tests::rpc::read_response(&mut conn)?;
        let body = resp.text();
        if resp.status == 200 {
            Ok(body)
        } else {
            Err(format!("{method} {path}: HTTP {}\n{body}", resp.status))
        }
    }

    fn cmd(&self, method: &str, what: &str, body: Option<&str>) -> Result<String, String> {
        self.request(method, &format!("/session/{}{what}", self.session), body)
    }

    fn goto(&self, url: &str) {
        self.cmd(
            "POST",
            "/url",
            Some(&format!(r#"{{"url":{}}}"#, json_str(url))),
        )
        .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// Run `script` (a function body) and return its result, which must be a string.
    fn js(&self, script: &str) -> String {
        let body = format!(r#"{{"script":{},"args":[]}}"#, json_str(script));
        let resp = self
            .cmd("POST", "/execute/sync", Some(&body))
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"));
        json_field(&resp, "value").unwrap_or_default()
    }

    /// Poll `script` until it returns a non-empty string.
    fn wait_js(&self, script: &str, timeout: Duration, what: &str) -> String {
        wait_for(timeout, || Some(self.js(script)).filter(|s| !s.is_empty())).unwrap_or_else(|| {
            panic!(
                "timed out waiting for {what}\n--- DOM ---\n{}",
                self.js("return document.body ? document.body.outerHTML : ''")
            )
        })
    }

    fn click(&self, css: &str) {
        let body = format!(r#"{{"using":"css selector","value":{}}}"#, json_str(css));
        let resp = self
            .cmd("POST", "/element", Some(&body))
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        let id = json_field(&resp, ELEMENT_KEY).unwrap_or_else(|| panic!("no element in {resp}"));
        self.cmd("POST", &format!("/element/{id}/click"), None)
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    fn type_into(&self, css: &str, text: &str) {
        let body = format!(r#"{{"using":"css selector","value":{}}}"#, json_str(css));
        let resp = self
            .cmd("POST", "/element", Some(&body))
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        let id = json_field(&resp, ELEMENT_KEY).unwrap_or_else(|| panic!("no element in {resp}"));
        let body = format!(r#"{{"text":{}}}"#, json_str(text));
        self.cmd("POST", &format!("/element/{id}/value"), Some(&body))
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The text of the open confirm() dialog, accepted; panics if there is none.
    fn accept_confirm(&self) -> String {
        let text = wait_for(secs(5.0), || {
            self.cmd("GET", "/alert/text", None)
                .ok()
                .and_then(|r| json_field(&r, "value"))
        })
        .expect("a confirmation dialog");
        self.cmd("POST", "/alert/accept", None)
            .expect("accept the dialog");
        text
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

const PROGRAMS: &str = r#"
[program:talker]
command=sh -c 'i=0; while true; do i=$((i+1)); echo "tick-out-$i"; echo "tick-err-$i" >&2; sleep 0.3; done'
startsecs=0
[program:sleeper]
command=sleep 1000
startsecs=0
[program:worker]
command=sleep 1000
process_name=worker_%(process_num)s
numprocs=2
startsecs=0
"#;

fn state_of(client: &RpcClient, name: &str) -> String {
    let info = client.ok("supervisor.getProcessInfo", &[Value::from(name)]);
    match info {
        Value::Struct(members) => members
            .iter()
            .find(|(k, _)| k == "statename")
            .and_then(|(_, v)| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn wait_state(client: &RpcClient, name: &str, want: &str) {
    let ok = wait_for(secs(15.0), || {
        (state_of(client, name) == want).then_some(())
    });
    assert!(
        ok.is_some(),
        "{name} never became {want} (is {})",
        state_of(client, name)
    );
}

#[test]
fn dashboard_lists_acts_and_tails_in_chromium() {
    let port = free_port();
    let d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=pw\n{PROGRAMS}"
        )),
    );
    let client = RpcClient::tcp(port, Some(("admin", "pw")));
    client.wait_ready(secs(10.0)).expect("daemon up");
    wait_state(&client, "sleeper", "RUNNING");

    // Without credentials the server answers 401 and the page never loads.
    let anon = client.with_auth(None);
    for path in ["/", "/api/status", "/dashboard.js"] {
        assert_eq!(anon.get(path).expect("GET").status, 401, "{path}");
    }
    let browser = Browser::start();
    browser.goto(&format!("http://127.0.0.1:{port}/"));
    let dom = browser.js("return document.documentElement.outerHTML");
    assert!(
        !dom.contains("process-rows"),
        "the dashboard must not load without credentials:\n{dom}"
    );

    // With credentials: every process gets a row, with its state.
    browser.goto(&format!("http://admin:pw@127.0.0.1:{port}/"));
    let names = browser.wait_js(
        "const r = [...document.querySelectorAll('#process-rows tr.process-row')];
         return r.length === 4 ? r.map(t => t.dataset.name).sort().join(',') : '';",
        secs(15.0),
        "four process rows",
    );
    assert_eq!(names, "sleeper,talker,worker:worker_0,worker:worker_1");
    browser.wait_js(
        "const t = document.querySelector('tr[data-name=\"sleeper\"] td.state span');
         return t && t.textContent === 'RUNNING' && t.classList.contains('state-RUNNING') ? 'y' : '';",
        secs(10.0),
        "sleeper shown RUNNING",
    );
    let pid =
        browser.js("return document.querySelector('tr[data-name=\"sleeper\"] td.pid').textContent");
    assert!(pid.parse::<i32>().is_ok_and(|p| p > 0), "pid cell: {pid:?}");
    let group = browser.js(
        "const g = document.querySelector('tr.group-row[data-group=\"worker\"]');
         return g ? g.textContent : '';",
    );
    assert!(group.contains("worker"), "group row: {group:?}");

    // Stop asks for confirmation, then really stops the process.
    browser.click("tr[data-name=\"sleeper\"] button[data-action=\"stop\"]");
    let question = browser.accept_confirm();
    assert!(question.contains("sleeper"), "confirm text: {question:?}");
    wait_state(&client, "sleeper", "STOPPED");
    browser.wait_js(
        "const t = document.querySelector('tr[data-name=\"sleeper\"] td.state span');
         return t && t.textContent === 'STOPPED' ? 'y' : '';",
        secs(10.0),
        "sleeper shown STOPPED without a reload",
    );

    // Start needs no confirmation.
    browser.click("tr[data-name=\"sleeper\"] button[data-action=\"start\"]");
    wait_state(&client, "sleeper", "RUNNING");
    browser.wait_js(
        "const t = document.querySelector('tr[data-name=\"sleeper\"] td.state span');
         return t && t.textContent === 'RUNNING' ? 'y' : '';",
        secs(10.0),
        "sleeper shown RUNNING again",
    );

    // A group stop, confirmed.
    browser.click("tr.group-row[data-group=\"worker\"] button[data-action=\"stop\"]");
    browser.accept_confirm();
    wait_state(&client, "worker:worker_0", "STOPPED");
    wait_state(&client, "worker:worker_1", "STOPPED");

    // The tail shows what the program printed, and keeps following it. The pane is only
    // shown once asked for.
    let shown = "return getComputedStyle(document.getElementById('tail')).display;";
    assert_eq!(browser.js(shown), "none", "tail pane hidden at first");
    browser.click("tr[data-name=\"talker\"] button[data-action=\"tail\"]");
    assert_ne!(browser.js(shown), "none", "tail pane shown");
    let first = browser.wait_js(
        "const m = document.getElementById('tail-stdout').textContent.match(/tick-out-(\\d+)/g);
         return m ? m[m.length - 1] : '';",
        secs(10.0),
        "stdout in the tail pane",
    );
    browser.wait_js(
        "return document.getElementById('tail-stderr').textContent.includes('tick-err-') ? 'y' : '';",
        secs(10.0),
        "stderr in the tail pane",
    );
    let n: u32 = first
        .trim_start_matches("tick-out-")
        .parse()
        .expect("tick number");
    browser.wait_js(
        &format!(
            "return document.getElementById('tail-stdout').textContent.includes('tick-out-{}\\n') ? 'y' : '';",
            n + 3
        ),
        secs(10.0),
        "new output followed live",
    );

    // Clear log: confirmed, and the log file really shrinks.
    let log_size = |c: &RpcClient| match c.ok(
        "supervisor.tailProcessStdoutLog",
        &[Value::from("talker"), Value::Int(0), Value::Int(0)],
    ) {
        Value::Array(items) => items.get(1).and_then(Value::as_i32).unwrap_or(-1),
        _ => -1,
    };
    let before = log_size(&client);
    assert!(before > 40, "talker has written: {before}");
    browser.click("tr[data-name=\"talker\"] button[data-action=\"clear\"]");
    let question = browser.accept_confirm();
    assert!(question.contains("talker"), "confirm text: {question:?}");
    let cleared = wait_for(secs(10.0), || (log_size(&client) < before).then_some(()));
    assert!(cleared.is_some(), "log not cleared (was {before} bytes)");

    browser.click("#tail-close");
    assert_eq!(browser.js(shown), "none", "tail pane closed");

    // Filtering by name and by state.
    browser.type_into("#filter", "talk");
    browser.wait_js(
        "const r = [...document.querySelectorAll('#process-rows tr.process-row')];
         return r.length === 1 && r[0].dataset.name === 'talker' ? 'y' : '';",
        secs(5.0),
        "name filter",
    );
    browser.js("const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input')); return '';");
    browser.js("const s = document.getElementById('state-filter'); s.value = 'STOPPED'; s.dispatchEvent(new Event('change')); return '';");
    let stopped = browser.wait_js(
        "const r = [...document.querySelectorAll('#process-rows tr.process-row')];
         return r.length === 2 ? r.map(t => t.dataset.name).join(',') : '';",
        secs(5.0),
        "state filter",
    );
    assert_eq!(stopped, "worker:worker_0,worker:worker_1");
    drop(browser);
    drop(d);
}

#[test]
fn dashboard_handles_a_thousand_programs() {
    let port = free_port();
    let d = Daemon::start(
        Kind::Ours,
        &config_with(&format!(
            "[inet_http_server]\nport=127.0.0.1:{port}\n\
             [program:many]\ncommand=sleep 1000\nprocess_name=many_%(process_num)04d\n\
             numprocs=1000\nautostart=false\n"
        )),
    );
    let client = RpcClient::tcp(port, None);
    client.wait_ready(secs(10.0)).expect("daemon up");
    let browser = Browser::start();
    let started = Instant::now();
    browser.goto(&format!("http://127.0.0.1:{port}/"));
    browser.wait_js(
        "return document.querySelectorAll('#process-rows tr.process-row').length === 1000 ? 'y' : '';",
        secs(30.0),
        "1000 rows",
    );
    let loaded = started.elapsed();
    // A refresh cycle of 1000 rows stays cheap.
    let ms = browser.js("const t0 = performance.now();
         document.getElementById('filter').dispatchEvent(new Event('input'));
         return String(performance.now() - t0);");
    let ms: f64 = ms.parse().expect("a duration");
    assert!(ms < 500.0, "re-rendering 1000 rows took {ms} ms");
    assert!(loaded < secs(30.0), "page took {loaded:?}");
    drop(browser);
    drop(d);
}
