//! Several servers at once (`-s` given more than once, or `[supervisorctl] serverurls=`):
//! `status` asks every server and prints one merged table with a HOST column. Also the
//! MEM/CPU columns of `status --resources`, which come from the supervisor-rs extension
//! method `supervisor_rs.getAllProcessResources` (a server without it shows `-`).

use std::collections::HashMap;

use supervisor_protocol::xmlrpc::{ProcessInfo, Value};

use super::client::{Client, RpcError};
use super::format::{namespec, pad};
use supervisor_protocol::xmlrpc::ServerAddress;

use super::transport::{ServerUrl, Transport, TransportError};
use super::Options;

/// Memory (KiB) and CPU seconds of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub rss_kb: i64,
    pub cpu_seconds: f64,
}

/// `supervisor_rs.getAllProcessResources` by namespec; `None` if the server lacks it.
pub fn resources(client: &Client) -> Option<HashMap<String, Usage>> {
    let v = client
        .call("supervisor_rs.getAllProcessResources", &[])
        .ok()?;
    Some(parse_resources(&v))
}

/// The method's answer keyed by namespec (malformed entries are skipped).
pub fn parse_resources(v: &Value) -> HashMap<String, Usage> {
    let mut out = HashMap::new();
    for item in v.as_array().unwrap_or(&[]) {
        let Value::Struct(members) = item else {
            continue;
        };
        let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let (Some(name), Some(group)) = (
            get("name").and_then(Value::as_str),
            get("group").and_then(Value::as_str),
        ) else {
            continue;
        };
        let rss_kb = get("rss_kb").and_then(Value::as_i32).unwrap_or(0);
        let cpu_seconds = match get("cpu_seconds") {
            Some(Value::Double(d)) => *d,
            Some(Value::Int(n)) => f64::from(*n),
            _ => 0.0,
        };
        out.insert(
            namespec(group, name),
            Usage {
                rss_kb: i64::from(rss_kb),
                cpu_seconds,
            },
        );
    }
    out
}

/// `12.3M`-style memory (from KiB); `-` when unknown or not running.
pub fn mem_text(u: Option<Usage>) -> String {
    match u {
        Some(u) if u.rss_kb > 0 => {
            let kb = u.rss_kb as f64;
            if kb >= 1024.0 * 1024.0 {
                format!("{:.1}G", kb / (1024.0 * 1024.0))
            } else if kb >= 1024.0 {
                format!("{:.1}M", kb / 1024.0)
            } else {
                format!("{}K", u.rss_kb)
            }
        }
        _ => "-".to_string(),
    }
}

/// CPU seconds as `1.25s`; `-` when unknown or not running.
pub fn cpu_text(u: Option<Usage>, running: bool) -> String {
    match u {
        Some(u) if running => format!("{:.2}s", u.cpu_seconds),
        _ => "-".to_string(),
    }
}

/// The status table with MEM and CPU columns (and a header line).
pub fn resource_lines(
    infos: &[ProcessInfo],
    usage: Option<&HashMap<String, Usage>>,
) -> Vec<String> {
    let rows: Vec<Row> = infos.iter().map(|i| Row::new(None, i, usage)).collect();
    table(&rows, false)
}

/// One row of a (merged) table.
struct Row {
    host: String,
    spec: String,
    state: String,
    mem: String,
    cpu: String,
    description: String,
}

impl Row {
    fn new(host: Option<&str>, i: &ProcessInfo, usage: Option<&HashMap<String, Usage>>) -> Row {
        let spec = namespec(&i.group, &i.name);
        let u = usage.and_then(|m| m.get(&spec).copied());
        let running = i.pid > 0;
        Row {
            host: host.unwrap_or_default().to_string(),
            spec,
            state: i.statename.clone(),
            mem: mem_text(u.filter(|_| running)),
            cpu: cpu_text(u, running),
            description: i.description.clone(),
        }
    }
}

fn table(rows: &[Row], with_host: bool) -> Vec<String> {
    let width = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain(std::iter::once(title.len()))
            .max()
            .unwrap_or(0)
            + 2
    };
    let hw = width(|r| &r.host, "HOST");
    let nw = width(|r| &r.spec, "NAME").max(30);
    let mw = width(|r| &r.mem, "MEM");
    let cw = width(|r| &r.cpu, "CPU");
    let line = |host: &str, spec: &str, state: &str, mem: &str, cpu: &str, desc: &str| {
        let mut s = String::new();
        if with_host {
            s.push_str(&pad(host, hw));
        }
        s.push_str(&pad(spec, nw));
        s.push_str(&pad(state, 10));
        s.push_str(&pad(mem, mw));
        s.push_str(&pad(cpu, cw));
        s.push_str(desc);
        s.trim_end().to_string()
    };
    let mut out = vec![line("HOST", "NAME", "STATE", "MEM", "CPU", "DESCRIPTION")];
    out.extend(
        rows.iter()
            .map(|r| line(&r.host, &r.spec, &r.state, &r.mem, &r.cpu, &r.description)),
    );
    out
}

/// Why a server could not be asked, in a few words.
fn describe(e: &RpcError) -> String {
    match e {
        RpcError::Fault(f) => format!("fault {}: {}", f.code, f.string),
        RpcError::Transport(TransportError::Refused) => "connection refused".to_string(),
        RpcError::Transport(TransportError::NoSuchFile) => "no such socket file".to_string(),
        RpcError::Transport(TransportError::Status { code, reason }) => {
            format!("HTTP {code} {reason}")
        }
        RpcError::Transport(TransportError::Io(e)) => e.to_string(),
        RpcError::Transport(TransportError::Protocol(m)) => m.clone(),
    }
}

/// A short name for a server in the HOST column: `host:port` or the socket path.
pub fn host_label(url: &str) -> String {
    match ServerAddress::parse(url) {
        Ok(ServerAddress::Tcp { host, port }) => format!("{host}:{port}"),
        Ok(ServerAddress::Unix(path)) => path,
        Err(_) => url.to_string(),
    }
}

/// `status [name...]` on every server of `options.fleet`; returns the exit status (0, 3 if a
/// listed process is not running, 4 if a server could not be asked or a name matched nothing).
pub fn status(options: &Options, args: &[&str]) -> i32 {
    let names: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--resources" && *a != "all")
        .collect();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut exit = 0;
    let mut matched = vec![false; names.len()];
    for url in &options.fleet {
        let host = host_label(url);
        let client = match ServerUrl::parse(url) {
            Ok(u) => Client::new(Transport {
                url: u,
                username: options.username.clone(),
                password: options.password.clone(),
                timeout: Some(std::time::Duration::from_secs(10)),
            }),
            Err(e) => {
                errors.push(format!("{host}: ERROR ({e})"));
                exit = 4;
                continue;
            }
        };
        let infos = match client.get_all_process_info() {
            Ok(i) => i,
            Err(e) => {
                errors.push(format!("{host}: ERROR ({})", describe(&e)));
                exit = 4;
                continue;
            }
        };
        let usage = resources(&client);
        for info in &infos {
            let spec = namespec(&info.group, &info.name);
            let wanted = names.is_empty()
                || names.iter().enumerate().any(|(i, n)| {
                    let hit = *n == spec
                        || *n == info.group
                        || n.strip_suffix(":*") == Some(info.group.as_str());
                    if hit {
                        matched[i] = true;
                    }
                    hit
                });
            if wanted {
                if [0, 100, 200, 1000].contains(&info.state) && exit == 0 {
                    exit = 3;
                }
                rows.push(Row::new(Some(&host), info, usage.as_ref()));
            }
        }
    }
    for line in table(&rows, true) {
        println!("{line}");
    }
    for (i, n) in names.iter().enumerate() {
        if !matched[i] {
            errors.push(format!("{n}: ERROR (no such process on any server)"));
            exit = 4;
        }
    }
    for e in errors {
        println!("{e}");
    }
    exit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str, state: (i32, &str), pid: i32) -> ProcessInfo {
        ProcessInfo {
            name: name.to_string(),
            group: group.to_string(),
            description: if pid > 0 {
                format!("pid {pid}, uptime 0:00:05")
            } else {
                "Not started".to_string()
            },
            start: 0,
            stop: 0,
            now: 0,
            state: state.0,
            statename: state.1.to_string(),
            spawnerr: String::new(),
            exitstatus: 0,
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            pid,
        }
    }

    #[test]
    fn resources_parse_and_format() {
        let v = Value::Array(vec![
            Value::new_struct([
                ("name", Value::from("web")),
                ("group", Value::from("web")),
                ("pid", Value::Int(10)),
                ("rss_kb", Value::Int(2048)),
                ("cpu_seconds", Value::Double(1.5)),
            ]),
            Value::from("junk"),
        ]);
        let m = parse_resources(&v);
        assert_eq!(m.len(), 1);
        let u = m.get("web").copied();
        assert_eq!(mem_text(u), "2.0M");
        assert_eq!(cpu_text(u, true), "1.50s");
        assert_eq!(cpu_text(u, false), "-");
        assert_eq!(mem_text(None), "-");
        assert_eq!(
            mem_text(Some(Usage {
                rss_kb: 512,
                cpu_seconds: 0.0
            })),
            "512K"
        );
        let lines = resource_lines(
            &[
                info("web", "web", (20, "RUNNING"), 10),
                info("g", "w", (0, "STOPPED"), 0),
            ],
            Some(&m),
        );
        assert!(lines[0].starts_with("NAME"), "{lines:?}");
        assert!(lines[0].contains("STATE") && lines[0].contains("MEM"));
        assert!(lines[1].starts_with("web ") && lines[1].contains("2.0M"));
        assert!(lines[1].contains("1.50s") && lines[1].ends_with("uptime 0:00:05"));
        assert!(lines[2].starts_with("g:w ") && lines[2].contains(" - "));
    }

    #[test]
    fn merged_table_has_a_host_column() {
        let rows = vec![
            Row::new(
                Some("a:9001"),
                &info("web", "web", (20, "RUNNING"), 3),
                None,
            ),
            Row::new(
                Some("bb:9001"),
                &info("web", "web", (100, "EXITED"), 0),
                None,
            ),
        ];
        let lines = table(&rows, true);
        assert!(lines[0].starts_with("HOST     NAME"), "{lines:?}");
        assert!(lines[1].starts_with("a:9001   web"));
        assert!(lines[2].starts_with("bb:9001  web"));
        assert_eq!(host_label("http://h:9001"), "h:9001");
        assert_eq!(host_label("unix:///tmp/s.sock"), "/tmp/s.sock");
    }
}
