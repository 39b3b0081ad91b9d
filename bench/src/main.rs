//! `supervisor-bench`: run the same scenarios against Python supervisord 4.3.0 and ours, in one
//! invocation, interleaved A/B, and print medians and the ratio ours/python per figure.
//!
//! ```sh
//! scripts/bench.sh                 # builds release binaries, sets up the venv, runs everything
//! scripts/bench.sh --runs 5 --only rpc
//! ```
//!
//! Each scenario writes one config, used unchanged by both daemons. Figures come from the
//! daemons' public surfaces only: `/proc/<pid>` for memory and CPU, XML-RPC over the unix socket
//! for state, and the processes they spawn.

mod rpc;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use supervisor_protocol::xmlrpc::Value;
use supervisor_tests::{config_with, kill_pid, wait_for, Daemon, Kind};

/// One measured figure of one scenario, with the direction that counts as better.
struct Figure {
    name: &'static str,
    unit: &'static str,
    lower_is_better: bool,
}

/// All samples of a run: figure name -> value.
type Sample = BTreeMap<&'static str, f64>;

struct Scenario {
    name: &'static str,
    figures: &'static [Figure],
    run: fn(Kind, &Options) -> Result<Sample, String>,
}

struct Options {
    runs: usize,
    idle_secs: u64,
}

const fn fig(name: &'static str, unit: &'static str, lower_is_better: bool) -> Figure {
    Figure {
        name,
        unit,
        lower_is_better,
    }
}

/// Start-up: launch to all RUNNING, launch to the first XML-RPC answer, and the slowest
/// `getState` while the start-up is going on (a client polls it every 10 ms).
const STARTUP_FIGURES: &[Figure] = &[
    fig("all-running", "s", true),
    fig("first-answer", "s", true),
    fig("rpc-max", "ms", true),
];

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "idle-100",
        figures: &[fig("rss", "MiB", true), fig("cpu", "% of a core", true)],
        run: |k, o| idle(k, o, 100),
    },
    Scenario {
        name: "idle-500",
        figures: &[fig("rss", "MiB", true), fig("cpu", "% of a core", true)],
        run: |k, o| idle(k, o, 500),
    },
    Scenario {
        name: "startup-200",
        figures: STARTUP_FIGURES,
        run: |k, _| startup(k, 200),
    },
    Scenario {
        name: "startup-3000",
        figures: STARTUP_FIGURES,
        run: |k, _| startup(k, 3000),
    },
    Scenario {
        name: "restart-after-sigkill",
        figures: &[fig("p50", "ms", true), fig("p95", "ms", true)],
        run: |k, _| restart_latency(k, 30),
    },
    Scenario {
        name: "crash-storm-50",
        figures: &[fig("all-fatal", "s", true)],
        run: |k, _| crash_storm(k, 50),
    },
    Scenario {
        name: "events-buffer-10",
        figures: &[
            fig("delivered", "lines/s", false),
            fig("lost", "lines", true),
            fig("daemon-cpu", "s", true),
        ],
        run: |k, _| event_delivery(k, 10),
    },
    Scenario {
        name: "events-buffer-10000",
        figures: &[
            fig("delivered", "lines/s", false),
            fig("lost", "lines", true),
            fig("daemon-cpu", "s", true),
        ],
        run: |k, _| event_delivery(k, 10000),
    },
    Scenario {
        name: "process-log-20000",
        figures: &[
            fig("daemon-cpu-per-line", "us", true),
            fig("delivery", "lines/s", false),
            fig("producer-writes", "ms", true),
            fig("events", "events", true),
            fig("lost", "lines", true),
        ],
        run: |k, _| process_log_path(k, 20_000),
    },
    Scenario {
        name: "log-throughput-500MB",
        figures: &[
            fig("throughput", "MB/s", false),
            fig("daemon-cpu-per-MB", "ms", true),
            fig("bytes-lost", "bytes", true),
        ],
        run: |k, _| log_throughput(k, 500),
    },
    Scenario {
        name: "scale-5000",
        figures: &[
            fig("all-running", "s", true),
            fig("status", "ms", true),
            fig("rss", "MiB", true),
            fig("fds", "open fds", true),
        ],
        run: |k, _| scale(k, 5000),
    },
    Scenario {
        name: "rpc-500",
        figures: &[
            fig("getAllProcessInfo", "ms", true),
            fig("getState", "calls/s", false),
        ],
        run: |k, _| rpc_speed(k, 500),
    },
];

fn main() {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        runs: 3,
        idle_secs: 10,
    };
    let mut only: Option<String> = None;
    let mut markdown: Option<String> = None;
    let mut ours_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => opts.runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(3),
            "--idle-secs" => {
                opts.idle_secs = args.next().and_then(|v| v.parse().ok()).unwrap_or(10)
            }
            "--only" => only = args.next(),
            "--markdown" => markdown = args.next(),
            "--ours-only" => ours_only = true,
            "-h" | "--help" => {
                println!(
                    "supervisor-bench [--runs N] [--idle-secs S] [--only NAME-SUBSTRING] [--markdown FILE] [--ours-only]\n\n\
                     Runs each scenario against Python supervisord 4.3.0 (from the venv) and ours,\n\
                     interleaved, and prints medians and ours/python ratios. --ours-only skips\n\
                     Python (for scenarios it cannot finish, such as scale-5000)."
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other:?}; see --help");
                std::process::exit(2);
            }
        }
    }
    let mut table = String::from(
        "| scenario | figure | python | ours | ours/python |\n|---|---|---|---|---|\n",
    );
    for sc in SCENARIOS {
        if only.as_deref().is_some_and(|o| !sc.name.contains(o)) {
            continue;
        }
        let mut samples: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
        for run in 0..opts.runs {
            // Alternate who goes first so drift on the machine hits both equally.
            let order = if run % 2 == 0 {
                [Kind::Python, Kind::Ours]
            } else {
                [Kind::Ours, Kind::Python]
            };
            for kind in order {
                if ours_only && kind == Kind::Python {
                    continue;
                }
                match (sc.run)(kind, &opts) {
                    Ok(s) => samples.entry(kind_name(kind)).or_default().push(s),
                    Err(e) => eprintln!("{} run {run} ({kind}): {e}", sc.name),
                }
            }
        }
        for f in sc.figures {
            let py = median_of(samples.get("python"), f.name);
            let ours = median_of(samples.get("ours"), f.name);
            let ratio = match (py, ours) {
                (Some(p), Some(o)) if p != 0.0 => format!("{:.3}", o / p),
                _ => "n/a".to_string(),
            };
            let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
            let better = if f.lower_is_better { "lower" } else { "higher" };
            println!(
                "{:<24} {:<20} python {:>12} ours {:>12} {:<12} ours/python {:>8} ({better} is better)",
                sc.name,
                f.name,
                show(py),
                show(ours),
                f.unit,
                ratio
            );
            let _ = writeln!(
                table,
                "| {} | {} ({}, {better} is better) | {} | {} | {} |",
                sc.name,
                f.name,
                f.unit,
                show(py),
                show(ours),
                ratio
            );
        }
    }
    println!("\n{table}");
    if let Some(path) = markdown {
        if let Err(e) = std::fs::write(&path, &table) {
            eprintln!("cannot write {path}: {e}");
        }
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Ours => "ours",
        Kind::Python => "python",
    }
}

fn median_of(samples: Option<&Vec<Sample>>, figure: &str) -> Option<f64> {
    let mut v: Vec<f64> = samples?
        .iter()
        .filter_map(|s| s.get(figure).copied())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

const RPC_SECTIONS: &str = "[unix_http_server]\nfile={dir}/supervisor.sock\n\n\
    [supervisorctl]\nserverurl=unix://{dir}/supervisor.sock\n\n\
    [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n";

fn programs(n: usize, body: &str) -> String {
    let mut s = String::from(RPC_SECTIONS);
    for i in 0..n {
        let _ = write!(s, "[program:p{i:04}]\n{body}\n\n");
    }
    s
}

fn start(kind: Kind, sections: &str) -> Daemon {
    let cfg = config_with(sections).replace(
        "loglevel=info",
        "loglevel=info\nminfds=16384\nminprocs=20000",
    );
    Daemon::start(kind, &cfg)
}

fn socket(d: &Daemon) -> std::path::PathBuf {
    d.dir().join("supervisor.sock")
}

/// Wait until every process reports `state`; returns when that happened.
/// Whether all `n` programs are in `state` (one getAllProcessInfo).
fn all_in_state(sock: &Path, n: usize, state: &str) -> bool {
    rpc::call(sock, "supervisor.getAllProcessInfo", &[])
        .ok()
        .and_then(|v| {
            let arr = v.as_array()?;
            Some(
                arr.len() == n
                    && arr
                        .iter()
                        .all(|p| p.get("statename").and_then(Value::as_str) == Some(state)),
            )
        })
        .unwrap_or(false)
}

/// Whether the program started last (`p{n-1}`: priority order is by name) is in `state`: one
/// cheap getProcessInfo.
fn last_in_state(sock: &Path, n: usize, state: &str) -> bool {
    let last = format!("p{:04}", n.saturating_sub(1));
    rpc::call(sock, "supervisor.getProcessInfo", &[Value::String(last)])
        .ok()
        .and_then(|v| {
            v.get("statename")
                .and_then(Value::as_str)
                .map(|s| s == state)
        })
        .unwrap_or(false)
}

/// When all `n` programs of a start-up are RUNNING: every 20 ms a look at the last one, and
/// the whole list only when it is RUNNING or every second (getAllProcessInfo of thousands
/// costs both daemons up to 100 ms; polling it back to back slowed the start-up it measured).
fn wait_startup(sock: &Path, n: usize, timeout: Duration) -> Result<Instant, String> {
    let t0 = Instant::now();
    let mut full = Instant::now();
    loop {
        if t0.elapsed() > timeout {
            return Err(format!("not all {n} processes RUNNING within {timeout:?}"));
        }
        let due = full.elapsed() >= Duration::from_secs(1) || last_in_state(sock, n, "RUNNING");
        if due {
            full = Instant::now();
            if all_in_state(sock, n, "RUNNING") {
                return Ok(Instant::now());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_all(d: &Daemon, n: usize, state: &str, timeout: Duration) -> Result<Instant, String> {
    let sock = socket(d);
    wait_for(timeout, || all_in_state(&sock, n, state).then(Instant::now))
        .ok_or_else(|| format!("not all {n} processes reached {state} within {timeout:?}"))
}

fn proc_stat(pid: i32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = 100.0; // USER_HZ on Linux
    Some((rss_kb / 1024.0, (utime + stime) / ticks))
}

fn idle(kind: Kind, opts: &Options, n: usize) -> Result<Sample, String> {
    let d = start(kind, &programs(n, "command=sleep 100000"));
    wait_all(&d, n, "RUNNING", Duration::from_secs(60))?;
    let pid = d.pid();
    let (_, cpu0) = proc_stat(pid).ok_or("cannot read /proc")?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(opts.idle_secs));
    let (rss, cpu1) = proc_stat(pid).ok_or("cannot read /proc")?;
    let cpu = (cpu1 - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    Ok(Sample::from([("rss", rss), ("cpu", cpu)]))
}

/// `n` programs with AUTO logs, `startsecs=0`. A client calls `getState` every 10 ms from the
/// launch (one connection per call, as `supervisorctl` does) and checks whether all are
/// RUNNING when the last program is (every 20 ms), at least every second.
fn startup(kind: Kind, n: usize) -> Result<Sample, String> {
    let limit = Duration::from_secs(300);
    let t0 = Instant::now();
    let d = start(kind, &programs(n, "command=sleep 100000\nstartsecs=0"));
    let sock = socket(&d);
    let mut first: Option<Duration> = None;
    let mut worst = Duration::ZERO;
    let mut checked = Instant::now();
    let mut last_checked = Instant::now();
    let done = loop {
        if t0.elapsed() > limit {
            return Err(format!("not all {n} processes RUNNING within {limit:?}"));
        }
        let t = Instant::now();
        if rpc::call(&sock, "supervisor.getState", &[]).is_err() {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        worst = worst.max(t.elapsed());
        first.get_or_insert_with(|| t0.elapsed());
        // Every 20 ms a cheap look at the program started last; the whole list only when it
        // is RUNNING, or every second (see `wait_startup`).
        let due = checked.elapsed() >= Duration::from_secs(1)
            || (last_checked.elapsed() >= Duration::from_millis(20) && {
                last_checked = Instant::now();
                last_in_state(&sock, n, "RUNNING")
            });
        if due {
            checked = Instant::now();
            if all_in_state(&sock, n, "RUNNING") {
                break t0.elapsed();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Sample::from([
        ("all-running", done.as_secs_f64()),
        ("first-answer", first.unwrap_or(done).as_secs_f64()),
        ("rpc-max", worst.as_secs_f64() * 1000.0),
    ]))
}

fn restart_latency(kind: Kind, samples: usize) -> Result<Sample, String> {
    let d = start(
        kind,
        &programs(1, "command=sleep 100000\nstartsecs=0\nautorestart=true"),
    );
    wait_all(&d, 1, "RUNNING", Duration::from_secs(30))?;
    let mut lat = Vec::new();
    for _ in 0..samples {
        let old = children(d.pid());
        let [victim] = old[..] else {
            return Err(format!("expected one child, found {old:?}"));
        };
        // Let the new run age past Supervisor's "too quick" window and our 1 s restart floor.
        std::thread::sleep(Duration::from_millis(1100));
        let t0 = Instant::now();
        kill_pid(victim, libc::SIGKILL);
        // Poll tightly: the harness's 25 ms poll would swamp a millisecond-scale figure.
        let found = loop {
            if children(d.pid()).into_iter().any(|p| p != victim) {
                break t0.elapsed();
            }
            if t0.elapsed() > Duration::from_secs(5) {
                return Err("no restart within 5 s".into());
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        lat.push(found.as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    Ok(Sample::from([("p50", pick(0.5)), ("p95", pick(0.95))]))
}

fn children(pid: i32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn crash_storm(kind: Kind, n: usize) -> Result<Sample, String> {
    let t0 = Instant::now();
    let d = start(kind, &programs(n, "command=false\nstartretries=2"));
    let done = wait_all(&d, n, "FATAL", Duration::from_secs(60))?;
    Ok(Sample::from([(
        "all-fatal",
        done.duration_since(t0).as_secs_f64(),
    )]))
}

fn rpc_speed(kind: Kind, n: usize) -> Result<Sample, String> {
    let d = start(kind, &programs(n, "command=sleep 100000\nstartsecs=0"));
    wait_all(&d, n, "RUNNING", Duration::from_secs(60))?;
    let sock = socket(&d);
    let mut conn = rpc::Conn::open(&sock).map_err(|e| e.to_string())?;
    let mut lat = Vec::new();
    for _ in 0..30 {
        let t0 = Instant::now();
        let v = conn.call("supervisor.getAllProcessInfo", &[])?;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        if v.as_array().map(<[Value]>::len) != Some(n) {
            return Err("getAllProcessInfo returned the wrong number of processes".into());
        }
    }
    lat.sort_by(f64::total_cmp);
    let t0 = Instant::now();
    let mut calls = 0u32;
    while t0.elapsed() < Duration::from_secs(2) {
        conn.call("supervisor.getState", &[])?;
        calls += 1;
    }
    let rate = f64::from(calls) / t0.elapsed().as_secs_f64();
    Ok(Sample::from([
        ("getAllProcessInfo", lat[lat.len() / 2]),
        ("getState", rate),
    ]))
}

/// Lines a producer writes, one per write, each becoming one PROCESS_LOG_STDOUT event.
const EVENT_LINES: usize = 50_000;

fn event_delivery(kind: Kind, buffer_size: usize) -> Result<Sample, String> {
    let listener = supervisor_tests::workspace_root().join("bench/fixtures/sink_listener.py");
    let python = supervisor_tests::venv_python();
    let producer = supervisor_tests::workspace_root().join("bench/fixtures/producer.py");
    let sections = format!(
        "{RPC_SECTIONS}[eventlistener:sink]\ncommand={} {} {{dir}}/events.txt\nevents=PROCESS_LOG\nbuffer_size={buffer_size}\nstartsecs=0\n\n\
         [program:producer]\ncommand={} {} {EVENT_LINES}\nstdout_events_enabled=true\nstartsecs=0\n\n",
        python.display(),
        listener.display(),
        python.display(),
        producer.display()
    );
    let d = start(kind, &sections);
    let out = d.dir().join("events.txt");
    let (_, cpu0) = proc_stat(d.pid()).ok_or("cannot read /proc")?;
    let count = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|t| t.matches("line").count())
            .unwrap_or(0)
    };
    // Wait for the first event, then until the count stops growing for 2 s.
    wait_for(Duration::from_secs(30), || (count(&out) > 0).then_some(()))
        .ok_or("no event delivered within 30 s")?;
    let t0 = Instant::now();
    let mut last = (count(&out), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let n = count(&out);
        if n >= EVENT_LINES {
            last = (n, Instant::now());
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(2) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let (_, cpu1) = proc_stat(d.pid()).ok_or("cannot read /proc")?;
    let delivered = last.0;
    let secs = last.1.duration_since(t0).as_secs_f64().max(0.001);
    Ok(Sample::from([
        ("delivered", delivered as f64 / secs),
        ("lost", EVENT_LINES.saturating_sub(delivered) as f64),
        ("daemon-cpu", cpu1 - cpu0),
    ]))
}

/// A program writes `mb` MiB to stdout as fast as it can, through rotation (50 MB files, enough
/// backups to keep everything): time until every byte is on disk, daemon CPU, bytes lost.
fn log_throughput(kind: Kind, mb: u64) -> Result<Sample, String> {
    let total = mb * 1024 * 1024;
    let sections = format!(
        "{RPC_SECTIONS}[program:burst]\ncommand=sh -c 'dd if=/dev/zero bs=1048576 count={mb} 2>/dev/null; exec sleep 100000'\n\
         startsecs=0\nstdout_logfile={{dir}}/burst.log\nstdout_logfile_maxbytes=50MB\nstdout_logfile_backups=30\n\n"
    );
    let t0 = Instant::now();
    let d = start(kind, &sections);
    let dir = d.dir().to_path_buf();
    let on_disk = || -> u64 {
        std::fs::read_dir(&dir)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("burst.log"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    };
    let mut last = (0u64, Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let n = on_disk();
        if n >= total {
            last = (n, Instant::now());
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(300) {
            break;
        }
    }
    let (_, cpu) = proc_stat(d.pid()).ok_or("cannot read /proc")?;
    let secs = last.1.duration_since(t0).as_secs_f64().max(0.001);
    Ok(Sample::from([
        ("throughput", last.0 as f64 / 1_048_576.0 / secs),
        ("daemon-cpu-per-MB", cpu * 1000.0 / mb as f64),
        ("bytes-lost", total.saturating_sub(last.0) as f64),
    ]))
}

/// `n` programs: time to all RUNNING, `supervisorctl status` latency (our ctl for ours,
/// Python's for Python, as an operator would run it), daemon RSS.
fn scale(kind: Kind, n: usize) -> Result<Sample, String> {
    let t0 = Instant::now();
    // Merged stderr and an AUTO stdout log: 5,000 programs must fit a 20,000-fd limit.
    let d = start(
        kind,
        &programs(n, "command=sleep 100000\nstartsecs=0\nredirect_stderr=true"),
    );
    let done = wait_startup(&socket(&d), n, Duration::from_secs(300))?;
    let all_running = done.duration_since(t0).as_secs_f64();
    let conf = d.dir().join("supervisord.conf");
    let ctl = kind.bin("supervisorctl");
    let mut lat = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = std::process::Command::new(&ctl)
            .arg("-c")
            .arg(&conf)
            .arg("status")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", ctl.display()))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if out.stdout.iter().filter(|b| **b == b'\n').count() != n {
            return Err("supervisorctl status did not list every process".into());
        }
    }
    lat.sort_by(f64::total_cmp);
    let (rss, _) = proc_stat(d.pid()).ok_or("cannot read /proc")?;
    let fds = std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .map(|it| it.count())
        .map_err(|e| format!("cannot read /proc: {e}"))?;
    Ok(Sample::from([
        ("all-running", all_running),
        ("status", lat[lat.len() / 2]),
        ("rss", rss),
        ("fds", fds as f64),
    ]))
}

/// CPU time a process has used (`/proc/<pid>/schedstat`, nanosecond resolution), in seconds.
fn cpu_ns(pid: i32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Issue 15's PROCESS_LOG scenario: a program writes `lines` lines, one write each, with
/// `stdout_events_enabled=true`, to a Python listener subscribed to PROCESS_LOG
/// (`buffer_size=10000`). Figures: the daemon's CPU per line from the first write until every
/// line is delivered, the delivery rate (lines / time from the first write to the event that
/// completes delivery), how long the program's writes took (a daemon that reads each write at
/// once slows its writer), and the number of events used.
fn process_log_path(kind: Kind, lines: usize) -> Result<Sample, String> {
    let fixtures = supervisor_tests::workspace_root().join("bench/fixtures");
    let python = supervisor_tests::venv_python();
    let sections = format!(
        "{RPC_SECTIONS}[eventlistener:sink]\ncommand={py} {sink} {{dir}}/events.txt {{dir}}/stamps.txt\n\
         events=PROCESS_LOG\nbuffer_size=10000\nstartsecs=0\n\n\
         [program:producer]\ncommand={py} {producer} {lines} {{dir}}/go {{dir}}/times.txt\n\
         stdout_events_enabled=true\nstartsecs=0\n\n",
        py = python.display(),
        sink = fixtures.join("timed_sink_listener.py").display(),
        producer = fixtures.join("burst_producer.py").display(),
    );
    let d = start(kind, &sections);
    wait_all(&d, 2, "RUNNING", Duration::from_secs(30))?;
    // Let start-up events reach the listener and the loop settle.
    std::thread::sleep(Duration::from_millis(1500));
    let cpu0 = cpu_ns(d.pid()).ok_or("cannot read /proc")?;
    std::fs::write(d.dir().join("go"), b"").map_err(|e| e.to_string())?;
    let stamps = d.dir().join("stamps.txt");
    let read_stamps = || -> Vec<(f64, usize)> {
        std::fs::read_to_string(&stamps)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (t, n) = l.split_once(' ')?;
                Some((t.parse().ok()?, n.parse().ok()?))
            })
            .collect()
    };
    let delivered = |s: &[(f64, usize)]| s.iter().map(|(_, n)| n).sum::<usize>();
    let t0 = Instant::now();
    let mut last = (0usize, Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let n = delivered(&read_stamps());
        if n >= lines {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let cpu1 = cpu_ns(d.pid()).ok_or("cannot read /proc")?;
    let times = std::fs::read_to_string(d.dir().join("times.txt")).map_err(|e| e.to_string())?;
    let mut t = times
        .split_whitespace()
        .filter_map(|v| v.parse::<f64>().ok());
    let (start_t, end_t) = (t.next().ok_or("no start")?, t.next().ok_or("no end")?);
    let stamps = read_stamps();
    // Only PROCESS_LOG events of this run carry lines; start-up events carry none.
    let events: Vec<&(f64, usize)> = stamps.iter().filter(|(_, n)| *n > 0).collect();
    let total = delivered(&stamps);
    let done_at = events.last().map_or(end_t, |(t, _)| *t);
    Ok(Sample::from([
        ("daemon-cpu-per-line", (cpu1 - cpu0) * 1e6 / lines as f64),
        ("delivery", total as f64 / (done_at - start_t).max(1e-6)),
        ("producer-writes", (end_t - start_t) * 1000.0),
        ("events", events.len() as f64),
        ("lost", lines.saturating_sub(total) as f64),
    ]))
}
