//! supervisor-event-listener: a drop-in replacement for the Go tool of the same name
//! (github.com/ouqiang/supervisor-event-listener, INI edition), on the shared listener runtime.
//!
//! Configured like the Go tool: `[eventlistener:x] command=supervisor-event-listener -c
//! /path/file.ini` (default `/etc/supervisor-event-listener.ini`), `events=PROCESS_STATE_EXITED`.
//! The file's `[default]` section says where notifications go:
//!
//! ```ini
//! [default]
//! notify_type = mail            ; mail, slack or webhook
//! mail.server.user = sv@example.com
//! mail.server.password = secret
//! mail.server.host = smtp.example.com
//! mail.server.port = 587        ; 465 = TLS from the start, else STARTTLS when offered
//! mail.user = a@example.com,b@example.com
//! slack.webhook_url = https://hooks.slack.com/services/...
//! slack.channel = ops
//! webhook_url = https://example.com/hook
//! ```
//!
//! Every PROCESS_STATE_EXITED event (expected or not, as the Go tool) sends
//! `Host: <ip>(<hostname>)\nProcess: <name>\nPID: <pid>\nEXITED FROM state: <state>`: by
//! mail (subject `Supervisor事件通知`), to Slack (`{"text":...,"username":...,"channel":...}`),
//! or, for `webhook`, the event itself as JSON (`{"Header":{...},"Payload":{...}}`, field names
//! and types as the Go structs). Sending goes through the shared outbox (retries with backoff,
//! never delays the acknowledgement). Differences from the Go tool are in docs/compat.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Serialize;
use supervisor_listeners::cli::{parse_or_usage, under_supervisor};
use supervisor_listeners::notify::mail::{Mail, MailTransport, Security, SmtpConfig};
use supervisor_listeners::notify::{http, Outbox, RetryPolicy};
use supervisor_listeners::runtime::{self, log, Event, Handler, Verdict};
use supervisor_listeners::timefmt;

/// The Go tool's default configuration file.
const DEFAULT_CONFIG: &str = "/etc/supervisor-event-listener.ini";
/// Subject of the mails and user name of the Slack messages (the Go tool's fixed text).
const TITLE: &str = "Supervisor事件通知";
/// Longest configuration file read (a listener config is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Send a notification for every PROCESS_STATE_EXITED event, by mail, to Slack or to a
/// webhook, as configured in an INI file (drop-in for the Go supervisor-event-listener).
///
/// Run as an [eventlistener:x] with events=PROCESS_STATE_EXITED.
#[derive(Parser, Debug)]
#[command(name = "supervisor-event-listener", version)]
struct Cli {
    /// The INI file with the [default] section (notify_type = mail|slack|webhook, ...).
    #[arg(short = 'c', value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// Where notifications go.
#[derive(Debug, Clone)]
enum Target {
    Mail {
        transport: MailTransport,
        from: String,
        to: Vec<String>,
    },
    Slack {
        url: String,
        channel: String,
    },
    Webhook {
        url: String,
    },
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::Mail { transport, .. } => format!("mail via {}", transport.describe()),
            Target::Slack { url, .. } => format!("Slack {}", redact(url)),
            Target::Webhook { url } => format!("webhook {}", redact(url)),
        }
    }
}

/// A URL without its path and query (Slack webhook URLs carry their secret there).
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}/...")
        }
        None => "<url>".to_string(),
    }
}

/// The settings of one file's `[default]` section.
#[derive(Debug, Clone)]
struct Settings {
    target: Target,
    insecure: bool,
}

/// Reads the keys of `[default]` the way the Go tool's INI library does for the files it
/// documents: `key = value` or `key: value`, `#` and `;` comment lines, a `#` or `;` after
/// whitespace starts a comment, values in `"..."` or `` `...` `` are taken literally, keys and
/// section names are case-sensitive. Other sections are ignored.
fn read_default_section(text: &str, path: &Path) -> Result<HashMap<String, String>, String> {
    let mut keys = HashMap::new();
    let mut section: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| {
                format!(
                    "{}, line {}: unclosed section header {line:?}",
                    path.display(),
                    n + 1
                )
            })?;
            section = Some(name.trim().to_string());
            continue;
        }
        let Some(i) = line.find(['=', ':']) else {
            return Err(format!(
                "{}, line {}: expected `key = value`, found {line:?}",
                path.display(),
                n + 1
            ));
        };
        if section.as_deref() != Some("default") {
            continue;
        }
        let key = line[..i].trim().to_string();
        keys.insert(key, value_of(line[i + 1..].trim()));
    }
    Ok(keys)
}

/// A value without its inline comment and quotes.
fn value_of(text: &str) -> String {
    for q in ['"', '`'] {
        if let Some(rest) = text.strip_prefix(q) {
            if let Some(end) = rest.find(q) {
                return rest[..end].to_string();
            }
        }
    }
    let mut end = text.len();
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if (b == b'#' || b == b';') && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            end = i;
            break;
        }
    }
    text[..end].trim().to_string()
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{key} = {value:?}: expected true or false")),
    }
}

/// The settings from a file's text. Errors name the file and the key.
fn parse_settings(text: &str, path: &Path) -> Result<Settings, String> {
    let keys = read_default_section(text, path)?;
    let get = |k: &str| keys.get(k).map(String::as_str).unwrap_or("");
    let need = |k: &str| -> Result<String, String> {
        match get(k) {
            "" => Err(format!(
                "{}: [default] {k} is missing or empty",
                path.display()
            )),
            v => Ok(v.to_string()),
        }
    };
    let insecure = parse_bool("insecure", get("insecure"))
        .map_err(|e| format!("{}: [default] {e}", path.display()))?;
    let target = match get("notify_type") {
        "mail" => {
            let host = need("mail.server.host")?;
            let port_text = need("mail.server.port")?;
            let port: u16 = port_text.parse().map_err(|_| {
                format!(
                    "{}: [default] mail.server.port = {port_text:?} is not a port number",
                    path.display()
                )
            })?;
            let user = get("mail.server.user").to_string();
            let password = get("mail.server.password").to_string();
            let to: Vec<String> = need("mail.user")?
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
            let security = match get("mail.server.tls") {
                // gomail: TLS from the first byte on port 465, else STARTTLS when offered.
                "" | "auto" if port == 465 => Security::Tls,
                "" | "auto" => Security::Opportunistic,
                "starttls" => Security::StartTls,
                "tls" => Security::Tls,
                "none" => Security::Plain,
                other => {
                    return Err(format!(
                    "{}: [default] mail.server.tls = {other:?}: use auto, starttls, tls or none",
                    path.display()
                ))
                }
            };
            let from = match get("mail.from") {
                "" if !user.is_empty() => user.clone(),
                "" => format!("supervisor@{}", timefmt::hostname()),
                f => f.to_string(),
            };
            let transport = MailTransport::Smtp(SmtpConfig {
                host,
                port,
                security,
                user: (!user.is_empty()).then_some(user),
                password: (!password.is_empty()).then_some(password),
                timeout: Duration::from_secs(30),
                insecure,
            });
            Target::Mail {
                transport,
                from,
                to,
            }
        }
        "slack" => Target::Slack {
            url: need("slack.webhook_url")?,
            channel: need("slack.channel")?,
        },
        "webhook" => Target::Webhook {
            url: need("webhook_url")?,
        },
        other => {
            return Err(format!(
                "{}: [default] notify_type = {other:?}: use mail, slack or webhook",
                path.display()
            ))
        }
    };
    Ok(Settings { target, insecure })
}

/// The webhook body: the Go tool's `Message` struct as `encoding/json` writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Message {
    header: MessageHeader,
    payload: MessagePayload,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MessageHeader {
    ver: String,
    server: String,
    serial: i64,
    pool: String,
    pool_serial: i64,
    event_name: String,
    len: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MessagePayload {
    ip: String,
    process_name: String,
    group_name: String,
    from_state: String,
    expected: i64,
    pid: i64,
}

/// Go's `strconv.Atoi` as the tool uses it: a bad number is 0.
fn atoi(text: Option<&str>) -> i64 {
    text.and_then(|t| t.parse().ok()).unwrap_or(0)
}

impl Message {
    fn from_event(ev: &Event, host: &str) -> Message {
        let h = &ev.header;
        let field = |k: &str| {
            h.tokens
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        Message {
            header: MessageHeader {
                ver: h.ver.clone(),
                server: h.server.clone(),
                serial: atoi(field("serial")),
                pool: h.pool.clone(),
                pool_serial: atoi(field("poolserial")),
                event_name: h.eventname.clone(),
                len: atoi(field("len")),
            },
            payload: MessagePayload {
                ip: host.to_string(),
                process_name: ev.processname().to_string(),
                group_name: ev.groupname().to_string(),
                from_state: ev.get("from_state").unwrap_or("").to_string(),
                expected: atoi(ev.get("expected")),
                pid: atoi(ev.get("pid")),
            },
        }
    }

    /// The text of mails and Slack messages.
    fn text(&self) -> String {
        let p = &self.payload;
        format!(
            "Host: {}\nProcess: {}\nPID: {}\nEXITED FROM state: {}",
            p.ip, p.process_name, p.pid, p.from_state
        )
    }

    /// `encoding/json` output: compact, struct field order, `<`, `>`, `&`, U+2028 and U+2029
    /// escaped.
    fn json(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        go_html_escape(&text)
    }
}

/// The escapes Go's `json.Marshal` adds to what serde_json writes (these characters only
/// occur inside strings there).
fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The Slack body, byte for byte the Go tool's (its JSON escapes, then `&`, `<`, `>` as HTML
/// entities); other control characters are escaped too, so the body is always valid JSON.
fn slack_body(text: &str, channel: &str) -> String {
    let mut content = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => content.push_str("\\\\"),
            '\u{8}' => content.push_str("\\b"),
            '\u{c}' => content.push_str("\\f"),
            '\n' => content.push_str("\\n"),
            '\r' => content.push_str("\\r"),
            '\t' => content.push_str("\\t"),
            '"' => content.push_str("\\\""),
            '&' => content.push_str("&amp;"),
            '<' => content.push_str("&lt;"),
            '>' => content.push_str("&gt;"),
            c if (c as u32) < 0x20 => content.push_str(&format!("\\u{:04x}", c as u32)),
            c => content.push(c),
        }
    }
    let channel = serde_json::to_string(channel).unwrap_or_else(|_| "\"\"".to_string());
    format!("{{\"text\":\"{content}\",\"username\":\"{TITLE}\", \"channel\":{channel}}}")
}

/// The first IPv4 address of a non-loopback interface, as the Go tool's `GetLocalIp` (empty
/// when there is none).
fn local_ipv4() -> String {
    let mut found = String::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read and then free once.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut cur = list;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let sin = &*(addr as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() {
                    found = ip.to_string();
                    break;
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found
}

struct Listener {
    target: Target,
    client: Option<reqwest::blocking::Client>,
    host: String,
    outbox: Outbox,
}

impl Handler for Listener {
    fn handle(&mut self, ev: &Event) -> Verdict {
        if ev.name() != "PROCESS_STATE_EXITED" {
            return Verdict::Ok;
        }
        let message = Message::from_event(ev, &self.host);
        let what = self.target.describe();
        log(&format!(
            "{} exited from {}: notifying ({what})",
            ev.namespec(),
            message.payload.from_state
        ));
        let send: supervisor_listeners::notify::SendFn = match &self.target {
            Target::Mail {
                transport,
                from,
                to,
            } => {
                let mail = Mail {
                    from: Some(from.clone()),
                    to: to.clone(),
                    subject: Some(TITLE.to_string()),
                    body: message.text(),
                };
                let transport = transport.clone();
                Box::new(move || transport.send(&mail))
            }
            Target::Slack { url, channel } => {
                let body = slack_body(&message.text(), channel);
                let (client, url) = (self.client.clone(), url.clone());
                Box::new(move || post(client.as_ref(), &url, &body))
            }
            Target::Webhook { url } => {
                let body = message.json();
                let (client, url) = (self.client.clone(), url.clone());
                Box::new(move || post(client.as_ref(), &url, &body))
            }
        };
        self.outbox.push(what, RetryPolicy::default(), None, send);
        Verdict::Ok
    }

    fn finish(&mut self) {
        self.outbox.close();
    }
}

fn post(
    client: Option<&reqwest::blocking::Client>,
    url: &str,
    body: &str,
) -> Result<String, String> {
    let client = client.ok_or_else(|| "no HTTP client".to_string())?;
    http::post(client, url, &[], "application/json", body)
}

fn main() {
    let cli: Cli = parse_or_usage(2);
    let settings = std::fs::File::open(&cli.config)
        .and_then(|f| {
            use std::io::Read;
            let mut text = String::new();
            f.take(MAX_CONFIG_BYTES).read_to_string(&mut text)?;
            Ok(text)
        })
        .map_err(|e| format!("cannot read {}: {e}", cli.config.display()))
        .and_then(|text| parse_settings(&text, &cli.config));
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("supervisor-event-listener: {e}");
            std::process::exit(1);
        }
    };
    if !under_supervisor() {
        eprintln!("supervisor-event-listener must be run as a supervisor event listener");
        std::process::exit(1);
    }
    // The Go tool waits 60 s for a webhook and 120 s for Slack.
    let timeout = match settings.target {
        Target::Slack { .. } => Duration::from_secs(120),
        _ => Duration::from_secs(60),
    };
    let client = match &settings.target {
        Target::Mail { .. } => None,
        _ => match http::client(timeout, settings.insecure) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("supervisor-event-listener: {e}");
                std::process::exit(1);
            }
        },
    };
    let ip = local_ipv4();
    let mut h = Listener {
        host: format!("{ip}({})", timefmt::hostname()),
        target: settings.target,
        client,
        outbox: Outbox::new(Duration::from_secs(60)),
    };
    if let Err(e) = runtime::run(&mut h) {
        log(&format!("supervisor-event-listener: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_protocol::listener::Header;

    fn event(payload: &str) -> Event {
        let tokens: Vec<(String, String)> = [
            ("ver", "3.0"),
            ("server", "supervisor"),
            ("serial", "21"),
            ("pool", "listener"),
            ("poolserial", "10"),
            ("eventname", "PROCESS_STATE_EXITED"),
            ("len", "84"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let header = Header {
            ver: "3.0".into(),
            server: "supervisor".into(),
            serial: 21,
            pool: "listener".into(),
            poolserial: 10,
            eventname: "PROCESS_STATE_EXITED".into(),
            len: 84,
            tokens,
        };
        Event::new(header, payload.to_string())
    }

    #[test]
    fn message_text_and_json_as_the_go_tool() {
        let ev = event("processname:cat groupname:cat from_state:RUNNING expected:0 pid:2766");
        let m = Message::from_event(&ev, "10.0.0.5(web1)");
        assert_eq!(
            m.text(),
            "Host: 10.0.0.5(web1)\nProcess: cat\nPID: 2766\nEXITED FROM state: RUNNING"
        );
        assert_eq!(
            m.json(),
            "{\"Header\":{\"Ver\":\"3.0\",\"Server\":\"supervisor\",\"Serial\":21,\
             \"Pool\":\"listener\",\"PoolSerial\":10,\"EventName\":\"PROCESS_STATE_EXITED\",\
             \"Len\":84},\"Payload\":{\"Ip\":\"10.0.0.5(web1)\",\"ProcessName\":\"cat\",\
             \"GroupName\":\"cat\",\"FromState\":\"RUNNING\",\"Expected\":0,\"Pid\":2766}}"
        );
        // Missing or bad numbers are 0, as strconv.Atoi's result there.
        let m = Message::from_event(&event("processname:a<b pid:x"), "");
        assert_eq!(m.payload.pid, 0);
        assert!(
            m.json().contains("\"ProcessName\":\"a\\u003cb\""),
            "{}",
            m.json()
        );
    }

    #[test]
    fn slack_body_as_the_go_tool() {
        assert_eq!(
            slack_body("Host: (h)\nProcess: a&b\"", "ops"),
            "{\"text\":\"Host: (h)\\nProcess: a&amp;b\\\"\",\"username\":\"Supervisor事件通知\", \
             \"channel\":\"ops\"}"
        );
        let v: serde_json::Value = serde_json::from_str(&slack_body("x\u{1}<y>", "c\"h")).unwrap();
        assert_eq!(v["text"], "x\u{1}&lt;y&gt;");
        assert_eq!(v["channel"], "c\"h");
    }

    #[test]
    fn settings_from_the_go_sample_file() {
        let text = "[default]\n# comment\nnotify_type = mail\n\n\
                    mail.server.user = test@163.com\nmail.server.password = 123456\n\
                    mail.server.host = smtp.163.com\nmail.server.port = 25\n\
                    mail.user = hello@163.com, ops@example.com\n\
                    slack.webhook_url = https://hooks.slack.com/services/x\n\
                    slack.channel = exception\nwebhook_url = http://my.webhook.com\n\
                    [bearychat]\nnotify_type = other\n";
        let s = parse_settings(text, Path::new("/etc/x.ini")).unwrap();
        match s.target {
            Target::Mail {
                transport: MailTransport::Smtp(cfg),
                from,
                to,
            } => {
                assert_eq!(cfg.host, "smtp.163.com");
                assert_eq!(cfg.port, 25);
                assert_eq!(cfg.security, Security::Opportunistic);
                assert_eq!(cfg.user.as_deref(), Some("test@163.com"));
                assert_eq!(cfg.password.as_deref(), Some("123456"));
                assert_eq!(from, "test@163.com");
                assert_eq!(to, vec!["hello@163.com", "ops@example.com"]);
            }
            other => panic!("{other:?}"),
        }
        let s = parse_settings(
            &text.replace("notify_type = mail", "notify_type = webhook ; inline"),
            Path::new("/x"),
        )
        .unwrap();
        assert!(matches!(s.target, Target::Webhook { url } if url == "http://my.webhook.com"));
        let port465 = text.replace("port = 25", "port = 465");
        match parse_settings(&port465, Path::new("/x")).unwrap().target {
            Target::Mail {
                transport: MailTransport::Smtp(cfg),
                ..
            } => assert_eq!(cfg.security, Security::Tls),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_errors_name_file_and_key() {
        let e = parse_settings("[default]\nnotify_type = sms\n", Path::new("/e.ini")).unwrap_err();
        assert_eq!(
            e,
            "/e.ini: [default] notify_type = \"sms\": use mail, slack or webhook"
        );
        let e = parse_settings(
            "[default]\nnotify_type = slack\nslack.channel=x\n",
            Path::new("/e.ini"),
        )
        .unwrap_err();
        assert_eq!(e, "/e.ini: [default] slack.webhook_url is missing or empty");
        let e = parse_settings(
            "[default]\nnotify_type=mail\nmail.server.host=h\nmail.server.port=x\nmail.user=a@b\n",
            Path::new("/e.ini"),
        )
        .unwrap_err();
        assert!(
            e.contains("mail.server.port = \"x\" is not a port number"),
            "{e}"
        );
        let e = parse_settings("[default\n", Path::new("/e.ini")).unwrap_err();
        assert!(e.contains("line 1: unclosed section header"), "{e}");
        // Quoted values keep their `#`.
        assert_eq!(value_of("\"a #b\" # c"), "a #b");
        assert_eq!(value_of("http://x/#frag"), "http://x/#frag");
    }

    #[test]
    fn local_ip_is_ipv4_or_empty() {
        let ip = local_ipv4();
        assert!(
            ip.is_empty() || ip.parse::<std::net::Ipv4Addr>().is_ok(),
            "{ip}"
        );
        assert_eq!(
            redact("https://hooks.slack.com/services/T/B/X"),
            "https://hooks.slack.com/..."
        );
    }
}
