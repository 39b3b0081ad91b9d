//! memmon: restart processes whose resident memory passes a limit (superlance 2.0.0 `memmon`).
//!
//! Subscribe it to a `TICK_*` event. RSS comes from `/proc` (never `ps`). Fixed upstream bugs:
//! `-p group:name=SIZE` works (2.0.0 dies with KeyError), `-n` no longer takes the last
//! `-p`/`-g` name, a process is restarted at most once per tick, and an XML-RPC fault while
//! restarting is logged (and mailed) instead of killing memmon.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use supervisor_listeners::cli::{parse_or_usage, usage_error, MailArgs, RpcArgs};
use supervisor_listeners::notify::mail::{Mail, MailTransport};
use supervisor_listeners::notify::{parse_seconds, Outbox};
use supervisor_listeners::proc;
use supervisor_listeners::rpc::Rpc;
use supervisor_listeners::runtime::{self, log, Event, Handler, Verdict};
use supervisor_listeners::timefmt;

/// Restart supervised processes that use too much memory (RSS).
///
/// Sizes are bytes with an optional KB, MB or GB suffix. Run as an [eventlistener:x] with
/// events=TICK_60 (or another TICK_*).
/// Example: memmon -p program1=200MB -p group:prog=100MB -g group=100MB -a 1GB -m ops@example.com
#[derive(Parser, Debug)]
#[command(name = "memmon", version)]
struct Cli {
    /// Count the RSS of the process and all its descendants.
    #[arg(short = 'c', long = "cumulative")]
    cumulative: bool,
    /// `name=SIZE` or `group:name=SIZE`: limit for one process; repeatable.
    #[arg(short = 'p', long = "program", value_name = "NAME=SIZE")]
    programs: Vec<String>,
    /// `group=SIZE`: limit for every process of a group; repeatable.
    #[arg(short = 'g', long = "group", value_name = "NAME=SIZE")]
    groups: Vec<String>,
    /// Limit for every supervised process.
    #[arg(short = 'a', long = "any", value_name = "SIZE")]
    any: Option<String>,
    /// Mail this address when a process is restarted.
    #[arg(short = 'm', long = "email", value_name = "ADDR")]
    email: Option<String>,
    /// Only mail when the restarted process had been up at most this long (`90`, `5m`, `2h`, `1d`).
    #[arg(short = 'u', long = "uptime", value_name = "SECS")]
    uptime: Option<String>,
    /// Name of this memmon, shown in mail subjects.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    rpc: RpcArgs,
}

struct Memmon {
    cumulative: bool,
    programs: BTreeMap<String, u64>,
    groups: BTreeMap<String, u64>,
    any: Option<u64>,
    email: Option<String>,
    uptime_limit: Option<u64>,
    name: Option<String>,
    from: Option<String>,
    transport: MailTransport,
    policy: supervisor_listeners::notify::RetryPolicy,
    rpc: Rpc,
    outbox: Outbox,
    /// Our own `group:name`, never restarted (that would deadlock the stop call).
    me: Option<String>,
}

impl Memmon {
    fn subject(&self, s: &str) -> String {
        match &self.name {
            None => format!("memmon: {s}"),
            Some(n) => format!("memmon [{n}]: {s}"),
        }
    }

    fn mail(&mut self, subject: String, body: String) {
        let Some(to) = self.email.clone() else {
            return;
        };
        let mail = Mail {
            from: self.from.clone(),
            to: vec![to],
            subject: Some(subject),
            body,
        };
        let transport = self.transport.clone();
        self.outbox.push(
            format!("memmon: mail via {}", transport.describe()),
            self.policy,
            None,
            Box::new(move || transport.send(&mail)),
        );
    }

    fn restart(&mut self, name: &str, rss: u64) {
        let uptime = match self.rpc.get_process_info(name) {
            Ok(info) => i64::from(info.now) - i64::from(info.start),
            Err(e) => {
                log(&format!("Failed to get info of {name}: {e}"));
                0
            }
        };
        log(&format!("Restarting {name}"));
        if let Err(e) = self.rpc.stop_process(name) {
            let msg = format!("Failed to stop process {name} (RSS {rss}): {e}");
            log(&msg);
            let subject = self.subject(&format!("failed to stop process {name}"));
            self.mail(subject, msg);
            return;
        }
        if let Err(e) = self.rpc.start_process(name) {
            let msg = format!("Failed to start process {name} after stopping it: {e}");
            log(&msg);
            let subject = self.subject(&format!("failed to start process {name}"));
            self.mail(subject, msg);
            return;
        }
        if self.uptime_limit.is_none_or(|l| uptime <= l as i64) {
            let now = timefmt::asctime_tz(timefmt::now_f64());
            let msg = format!(
                "memmon.py restarted the process named {name} at {now} because it was \
                 consuming too much memory ({rss} bytes RSS)"
            );
            let subject = self.subject(&format!("process {name} restarted"));
            self.mail(subject, msg);
        }
    }

    fn tick(&mut self) {
        let mut status = Vec::new();
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.programs.is_empty() {
            status.push(format!("Checking programs {}", list(&self.programs)));
        }
        if !self.groups.is_empty() {
            status.push(format!("Checking groups {}", list(&self.groups)));
        }
        if let Some(a) = self.any {
            status.push(format!("Checking any={a}"));
        }
        log(&status.join("\n"));
        let infos = match self.rpc.get_all_process_info() {
            Ok(i) => i,
            Err(e) => {
                log(&format!("cannot get process info: {e}"));
                return;
            }
        };
        for info in infos {
            if info.pid == 0 {
                continue;
            }
            let pname = format!("{}:{}", info.group, info.name);
            let rss = if self.cumulative {
                proc::cumulative_rss(info.pid)
            } else {
                proc::rss(info.pid)
            };
            let Some(rss) = rss else {
                continue;
            };
            let mut limits = Vec::new();
            for key in [&info.name, &pname] {
                if let Some(&l) = self.programs.get(key.as_str()) {
                    limits.push(l);
                    break;
                }
            }
            if let Some(&l) = self.groups.get(&info.group) {
                limits.push(l);
            }
            if let Some(l) = self.any {
                limits.push(l);
            }
            for limit in limits {
                log(&format!("RSS of {pname} is {rss}"));
                if rss > limit {
                    if self.me.as_deref() == Some(pname.as_str()) {
                        log(&format!("not restarting {pname}: that is this memmon"));
                    } else {
                        self.restart(&pname, rss);
                    }
                    break;
                }
            }
        }
    }
}

impl Handler for Memmon {
    fn handle(&mut self, ev: &Event) -> Verdict {
        if ev.is_tick() {
            self.tick();
        }
        Verdict::Ok
    }

    fn finish(&mut self) {
        self.outbox.close();
    }
}

fn parse_namesize(opt: &str, value: &str) -> Result<(String, u64), String> {
    let (name, size) = value
        .rsplit_once('=')
        .ok_or_else(|| format!("Unparseable value {value:?} for {opt:?}"))?;
    Ok((name.to_string(), parse_size(opt, size)?))
}

fn parse_size(opt: &str, value: &str) -> Result<u64, String> {
    proc::parse_byte_size(value)
        .ok_or_else(|| format!("Unparseable byte_size in {value:?} for {opt:?}"))
}

fn main() {
    if std::env::args_os().len() < 2 {
        use clap::CommandFactory;
        print!("{}", Cli::command().render_help());
        std::process::exit(255);
    }
    let cli: Cli = parse_or_usage(255);
    let build = || -> Result<Memmon, String> {
        let mut programs = BTreeMap::new();
        for p in &cli.programs {
            let (n, s) = parse_namesize("-p", p)?;
            programs.insert(n, s);
        }
        let mut groups = BTreeMap::new();
        for g in &cli.groups {
            let (n, s) = parse_namesize("-g", g)?;
            groups.insert(n, s);
        }
        let any = cli
            .any
            .as_deref()
            .map(|a| parse_size("-a", a))
            .transpose()?;
        let uptime_limit = cli
            .uptime
            .as_deref()
            .map(|u| {
                parse_seconds(u)
                    .ok_or_else(|| format!("Unparseable value for time in {u:?} for -u"))
            })
            .transpose()?;
        let rpc = cli
            .rpc
            .rpc()
            .map_err(|e| format!("memmon must be run as a supervisor event listener: {e}"))?;
        let me = match (
            std::env::var("SUPERVISOR_GROUP_NAME"),
            std::env::var("SUPERVISOR_PROCESS_NAME"),
        ) {
            (Ok(g), Ok(n)) => Some(format!("{g}:{n}")),
            _ => None,
        };
        Ok(Memmon {
            cumulative: cli.cumulative,
            programs,
            groups,
            any,
            email: cli.email.clone(),
            uptime_limit,
            name: cli.name.clone(),
            from: cli.mail.from.clone(),
            transport: cli.mail.transport(),
            policy: cli.mail.retry_policy(),
            rpc,
            outbox: Outbox::new(Duration::from_secs_f64(
                cli.mail.mail_timeout.max(1.0) * 2.0,
            )),
            me,
        })
    };
    let mut memmon = match build() {
        Ok(m) => m,
        Err(e) if e.starts_with("memmon must") => {
            eprintln!("{e}");
            std::process::exit(1);
        }
        Err(e) => {
            use clap::CommandFactory;
            usage_error(&mut Cli::command(), &e, 255)
        }
    };
    if let Err(e) = runtime::run(&mut memmon) {
        log(&format!("memmon: {e}"));
    }
}
