//! `/metrics`: a [`Snapshot`] of the daemon (taken inside the supervision loop) rendered into
//! the Prometheus text exposition format (version 0.0.4).
//!
//! Rendering is a pure function of the snapshot; the only I/O is [`procfs`], which fills in
//! memory and CPU figures from `/proc` at the edge (in the HTTP task, not in the loop).

pub mod procfs;

use std::fmt::Write as _;

use supervisor_protocol::ProcessState;

use crate::events::PoolStats;

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One process as the loop sees it, plus what `/proc` says about its pid.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessMetrics {
    pub group: String,
    pub name: String,
    pub state: ProcessState,
    /// The live child's pid.
    pub pid: Option<i32>,
    /// UNIX time of the last spawn attempt.
    pub start_time: Option<f64>,
    /// Seconds since the last start, while the process is RUNNING.
    pub uptime: Option<f64>,
    /// Status of the most recent exit, kept across restarts (0 before the first exit).
    pub exit_status: i32,
    pub restarts: u64,
    /// Bytes the process wrote on stdout and stderr (after capture-mode handling).
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// From `/proc/<pid>`; `None` when there is no live pid or it could not be read.
    pub resources: Option<procfs::Resources>,
    /// UNIX time of a start put off by `restart_delay` / `retry_fatal_after` (extensions).
    pub next_start: Option<f64>,
    /// Starts out of FATAL since the last RUNNING; `None` without `retry_fatal_after`.
    pub fatal_retries: Option<u32>,
    /// `health_check=` (extension): the last verdict; `None` without a check or before one.
    pub healthy: Option<bool>,
    /// Failed checks in a row (extension); `None` without `ready_check=` / `health_check=`.
    pub check_failures: Option<u32>,
}

/// The daemon process itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaemonMetrics {
    pub resident_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    /// UNIX time the supervision loop started.
    pub start_time: f64,
}

/// Everything `/metrics` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub processes: Vec<ProcessMetrics>,
    pub pools: Vec<PoolStats>,
    pub daemon: DaemonMetrics,
}

impl Snapshot {
    /// Read `/proc` for every live pid and for the daemon itself.
    pub fn collect_resources(&mut self) {
        for p in &mut self.processes {
            p.resources = p.pid.and_then(procfs::read_pid);
        }
        let own = procfs::read_self();
        self.daemon.resident_memory_bytes = own.map(|r| r.resident_memory_bytes);
        self.daemon.cpu_seconds = own.map(|r| r.cpu_seconds);
        self.daemon.open_fds = procfs::open_fds();
    }
}

/// Escape a label value: backslash, double quote and newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float the way Prometheus reads it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
}

fn family<'a>(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out }
}

impl Family<'_> {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: String) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&value);
        self.out.push('\n');
    }
}

/// Write a per-process family; `value` returns `None` to leave a process out.
fn per_process(
    out: &mut String,
    s: &Snapshot,
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&ProcessMetrics) -> Option<String>,
) {
    let mut f = family(out, name, kind, help);
    for p in &s.processes {
        if let Some(v) = value(p) {
            f.sample(name, &[("group", &p.group), ("name", &p.name)], v);
        }
    }
}

/// Render the snapshot as Prometheus text.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(256 + s.processes.len() * 1600);

    let name = "supervisor_process_state";
    let mut f = family(
        &mut out,
        name,
        "gauge",
        "Process state: 1 for the current state, 0 for the others.",
    );
    for p in &s.processes {
        for st in &ProcessState::ALL {
            let v = if *st == p.state { "1" } else { "0" };
            f.sample(
                name,
                &[("group", &p.group), ("name", &p.name), ("state", st.name())],
                v.to_string(),
            );
        }
    }
    per_process(
        &mut out,
        s,
        "supervisor_process_up",
        "gauge",
        "1 if the process is RUNNING, else 0.",
        |p| Some(u8::from(p.state == ProcessState::Running).to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_start_time_seconds",
        "gauge",
        "UNIX time of the last start of the process (0 if never started).",
        |p| Some(num(p.start_time.unwrap_or(0.0))),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_exit_status",
        "gauge",
        "Status of the most recent exit of the process, kept across restarts (-1 for a signal).",
        |p| Some(p.exit_status.to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_restarts_total",
        "counter",
        "Times the process was started again after its first start.",
        |p| Some(p.restarts.to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_uptime_seconds",
        "gauge",
        "Seconds since the process started, while it is RUNNING (else 0).",
        |p| Some(num(p.uptime.unwrap_or(0.0))),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_next_start_timestamp_seconds",
        "gauge",
        "UNIX time of a start put off by restart_delay or retry_fatal_after (supervisor-rs \
         extensions; only while one is pending).",
        |p| p.next_start.map(num),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_fatal_retries",
        "gauge",
        "Starts out of FATAL (retry_fatal_after) since the process was last RUNNING (only for \
         processes with retry_fatal_after).",
        |p| p.fatal_retries.map(|n| n.to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_healthy",
        "gauge",
        "1 if the process's health_check passes, 0 once it failed health_check_failures times \
         in a row (supervisor-rs extension; only for processes with a health_check that has \
         answered since the last start).",
        |p| p.healthy.map(|h| u8::from(h).to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_check_failures",
        "gauge",
        "Failed readiness (while STARTING) or liveness (while RUNNING) checks in a row \
         (supervisor-rs extension; only for processes with a ready_check or health_check).",
        |p| p.check_failures.map(|n| n.to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_resident_memory_bytes",
        "gauge",
        "Resident set size of the process, from /proc (live processes only).",
        |p| p.resources.map(|r| r.resident_memory_bytes.to_string()),
    );
    per_process(
        &mut out,
        s,
        "supervisor_process_cpu_seconds_total",
        "counter",
        "User and system CPU time of the current run of the process, from /proc.",
        |p| p.resources.map(|r| num(r.cpu_seconds)),
    );

    let name = "supervisor_process_log_bytes_total";
    let mut f = family(
        &mut out,
        name,
        "counter",
        "Bytes of output the process wrote, per channel (stdout, stderr).",
    );
    for p in &s.processes {
        for (channel, v) in [("stdout", p.stdout_bytes), ("stderr", p.stderr_bytes)] {
            f.sample(
                name,
                &[("group", &p.group), ("name", &p.name), ("channel", channel)],
                v.to_string(),
            );
        }
    }

    type PoolValue = fn(&PoolStats) -> String;
    let pool_families: [(&str, &str, &str, PoolValue); 4] = [
        (
            "supervisor_event_pool_events_sent_total",
            "counter",
            "Event notifications sent to the pool's listeners.",
            |p| p.sent.to_string(),
        ),
        (
            "supervisor_event_pool_events_rejected_total",
            "counter",
            "Events the pool's listeners rejected (they are sent again).",
            |p| p.rejected.to_string(),
        ),
        (
            "supervisor_event_pool_events_dropped_total",
            "counter",
            "Events discarded because the pool's buffer overflowed.",
            |p| p.dropped.to_string(),
        ),
        (
            "supervisor_event_pool_queue_length",
            "gauge",
            "Events waiting in the pool's buffer.",
            |p| p.queued.to_string(),
        ),
    ];
    for (name, kind, help, value) in pool_families {
        let mut f = family(&mut out, name, kind, help);
        for p in &s.pools {
            f.sample(name, &[("pool", &p.name)], value(p));
        }
    }

    let d = &s.daemon;
    let daemon: [(&str, &str, &str, Option<String>); 4] = [
        (
            "supervisor_daemon_resident_memory_bytes",
            "gauge",
            "Resident set size of supervisord.",
            d.resident_memory_bytes.map(|v| v.to_string()),
        ),
        (
            "supervisor_daemon_cpu_seconds_total",
            "counter",
            "User and system CPU time of supervisord.",
            d.cpu_seconds.map(num),
        ),
        (
            "supervisor_daemon_open_fds",
            "gauge",
            "File descriptors open in supervisord.",
            d.open_fds.map(|v| v.to_string()),
        ),
        (
            "supervisor_daemon_start_time_seconds",
            "gauge",
            "UNIX time the supervision loop started (again after a reload).",
            Some(num(d.start_time)),
        ),
    ];
    for (name, kind, help, value) in daemon {
        let mut f = family(&mut out, name, kind, help);
        if let Some(v) = value {
            f.sample(name, &[], v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(name: &str, state: ProcessState) -> ProcessMetrics {
        ProcessMetrics {
            group: "g".to_string(),
            name: name.to_string(),
            state,
            pid: Some(42),
            start_time: Some(1_700_000_000.5),
            uptime: Some(12.25),
            exit_status: 0,
            restarts: 3,
            stdout_bytes: 10,
            stderr_bytes: 2,
            resources: Some(procfs::Resources {
                resident_memory_bytes: 4096,
                cpu_seconds: 1.5,
            }),
            next_start: None,
            fatal_retries: None,
            healthy: None,
            check_failures: None,
        }
    }

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(escape_label("plain:1"), "plain:1");
    }

    #[test]
    fn renders_every_family_with_help_and_type() {
        let mut crash = proc("we\"ird\\name", ProcessState::Backoff);
        crash.resources = None;
        crash.pid = None;
        crash.uptime = None;
        crash.next_start = Some(1_700_000_060.0);
        crash.fatal_retries = Some(2);
        crash.healthy = Some(false);
        crash.check_failures = Some(3);
        let s = Snapshot {
            processes: vec![proc("web", ProcessState::Running), crash],
            pools: vec![PoolStats {
                name: "alerts".to_string(),
                sent: 5,
                rejected: 1,
                dropped: 2,
                queued: 3,
            }],
            daemon: DaemonMetrics {
                resident_memory_bytes: Some(1000),
                cpu_seconds: Some(0.25),
                open_fds: Some(9),
                start_time: 1.0,
            },
        };
        let text = render(&s);
        let has = |line: &str| {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            )
        };
        has("# TYPE supervisor_process_state gauge");
        has(r#"supervisor_process_state{group="g",name="web",state="RUNNING"} 1"#);
        has(r#"supervisor_process_state{group="g",name="web",state="STOPPED"} 0"#);
        has(r#"supervisor_process_state{group="g",name="we\"ird\\name",state="BACKOFF"} 1"#);
        has(r#"supervisor_process_up{group="g",name="web"} 1"#);
        has(r#"supervisor_process_up{group="g",name="we\"ird\\name"} 0"#);
        has(r#"supervisor_process_start_time_seconds{group="g",name="web"} 1700000000.5"#);
        has("# TYPE supervisor_process_restarts_total counter");
        has(r#"supervisor_process_restarts_total{group="g",name="web"} 3"#);
        has(r#"supervisor_process_uptime_seconds{group="g",name="web"} 12.25"#);
        has(r#"supervisor_process_uptime_seconds{group="g",name="we\"ird\\name"} 0"#);
        has(r#"supervisor_process_resident_memory_bytes{group="g",name="web"} 4096"#);
        has(r#"supervisor_process_cpu_seconds_total{group="g",name="web"} 1.5"#);
        has(r#"supervisor_process_log_bytes_total{group="g",name="web",channel="stderr"} 2"#);
        has(r#"supervisor_event_pool_events_sent_total{pool="alerts"} 5"#);
        has(r#"supervisor_event_pool_events_rejected_total{pool="alerts"} 1"#);
        has(r#"supervisor_event_pool_events_dropped_total{pool="alerts"} 2"#);
        has(r#"supervisor_event_pool_queue_length{pool="alerts"} 3"#);
        has("supervisor_daemon_resident_memory_bytes 1000");
        has("supervisor_daemon_open_fds 9");
        has(
            r#"supervisor_process_next_start_timestamp_seconds{group="g",name="we\"ird\\name"} 1700000060"#,
        );
        has(r#"supervisor_process_fatal_retries{group="g",name="we\"ird\\name"} 2"#);
        // Extension checks: only for processes that have them.
        has("# TYPE supervisor_process_healthy gauge");
        has(r#"supervisor_process_healthy{group="g",name="we\"ird\\name"} 0"#);
        has(r#"supervisor_process_check_failures{group="g",name="we\"ird\\name"} 3"#);
        assert!(!text.contains(r#"supervisor_process_healthy{group="g",name="web"}"#));
        assert!(!text.contains(r#"supervisor_process_fatal_retries{group="g",name="web"}"#));
        assert!(
            !text.contains(r#"resident_memory_bytes{group="g",name="we\""#),
            "no RSS without a live pid"
        );
        // Every family has exactly one HELP and one TYPE line.
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types, helps);
        assert_eq!(types, 21);
    }
}
