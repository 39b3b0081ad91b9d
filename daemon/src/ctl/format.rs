//! Fixed-width output: the status table (upstream-reference §5.3, 9.17), `avail` lines, the help table, and
//! `status --json`.

use supervisor_protocol::xmlrpc::{ConfigInfo, ProcessInfo};

pub use supervisor_protocol::names::namespec;

/// ANSI colour for a state name (only used when stdout is a terminal and `NO_COLOR` unset).
fn state_colour(statename: &str) -> Option<&'static str> {
    match statename {
        "RUNNING" => Some("\x1b[32m"),
        "STARTING" | "STOPPING" | "BACKOFF" => Some("\x1b[33m"),
        "FATAL" | "EXITED" | "UNKNOWN" => Some("\x1b[31m"),
        _ => None,
    }
}

/// Status lines: namespec padded to `max(30, longest) + 3`, state padded to 10, description.
/// Widths count characters, as Python's `%-Ns` does.
pub fn status_lines(infos: &[ProcessInfo], colour: bool) -> Vec<String> {
    let specs: Vec<String> = infos.iter().map(|i| namespec(&i.group, &i.name)).collect();
    let width = specs
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(30)
        + 3;
    infos
        .iter()
        .zip(specs)
        .map(|(info, spec)| {
            let state = pad(&info.statename, 10);
            let state = match (colour, state_colour(&info.statename)) {
                (true, Some(c)) => {
                    let name_len = info.statename.len();
                    format!("{c}{}\x1b[0m{}", &state[..name_len], &state[name_len..])
                }
                _ => state,
            };
            format!("{}{}{}", pad(&spec, width), state, info.description)
        })
        .collect()
}

/// Python `%-Ns`.
pub fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// One `avail` line: `%-32s %-9s %-9s %s`.
pub fn avail_line(c: &ConfigInfo) -> String {
    format!(
        "{} {} {} {}:{}",
        pad(&namespec(&c.group, &c.name), 32),
        pad(if c.inuse { "in use" } else { "avail" }, 9),
        pad(if c.autostart { "auto" } else { "manual" }, 9),
        c.group_prio,
        c.process_prio
    )
}

/// JSON string literal.
pub fn json_str(s: &str) -> String {
    // Serialising a str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

/// `status --json`: a JSON array of process info objects (one line).
pub fn status_json(infos: &[ProcessInfo]) -> String {
    let items: Vec<String> = infos
        .iter()
        .map(|i| {
            format!(
                "{{\"name\":{},\"group\":{},\"namespec\":{},\"state\":{},\"statename\":{},\
                 \"description\":{},\"pid\":{},\"start\":{},\"stop\":{},\"now\":{},\
                 \"exitstatus\":{},\"spawnerr\":{},\"stdout_logfile\":{},\
                 \"stderr_logfile\":{}}}",
                json_str(&i.name),
                json_str(&i.group),
                json_str(&namespec(&i.group, &i.name)),
                i.state,
                json_str(&i.statename),
                json_str(&i.description),
                i.pid,
                i.start,
                i.stop,
                i.now,
                i.exitstatus,
                json_str(&i.spawnerr),
                json_str(&i.stdout_logfile),
                json_str(&i.stderr_logfile),
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// `help` with no topic (cmd.Cmd's `print_topics` over the default plugin's commands).
pub const HELP_TABLE: &str = "
default commands (type help <topic>):
=====================================
add    exit      open  reload  restart   start   tail   
avail  fg        pid   remove  shutdown  status  update 
clear  maintail  quit  reread  signal    stop    version
";

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str, state: &str, desc: &str) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            group: group.into(),
            description: desc.into(),
            start: 0,
            stop: 0,
            now: 0,
            state: 20,
            statename: state.into(),
            spawnerr: String::new(),
            exitstatus: 0,
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            pid: 1,
        }
    }

    #[test]
    fn ctl_status_widths() {
        let lines = status_lines(
            &[
                info("grp", "g1", "RUNNING", "pid 1, uptime 0:00:02"),
                info("newone", "newone", "STARTING", ""),
            ],
            false,
        );
        assert_eq!(
            lines[0],
            "grp:g1                           RUNNING   pid 1, uptime 0:00:02"
        );
        assert_eq!(lines[1], "newone                           STARTING  ");
        let long = "x".repeat(40);
        let lines = status_lines(&[info(&long, &long, "STOPPED", "Not started")], false);
        assert_eq!(lines[0], format!("{long}   STOPPED   Not started"));
        let lines = status_lines(&[info("a", "a", "RUNNING", "")], true);
        assert!(lines[0].contains("\x1b[32mRUNNING\x1b[0m   "));
    }

    #[test]
    fn ctl_json_escapes() {
        assert_eq!(json_str("a\"b\\\n\u{1}é"), "\"a\\\"b\\\\\\n\\u0001é\"");
    }
}
