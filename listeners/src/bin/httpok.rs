//! httpok: restart processes when a URL stops answering well (superlance 2.0.0 `httpok`).
//!
//! Subscribe it to a `TICK_*` event. Fixed upstream bugs: `-b` works (2.0.0 compares str with
//! bytes on Python 3 and crashes), HTTPS works (2.0.0 uses the removed `ssl.wrap_socket`),
//! `-p group:name` also counts for the not-eager check, and gcore runs without a shell.
//! Additions: a grace period after a process started, a restart rate limit, basic auth.

use std::time::{Duration, Instant};

use clap::Parser;
use supervisor_listeners::cli::{parse_or_usage, under_supervisor, MailArgs, RpcArgs};
use supervisor_listeners::notify::mail::{run_command, Mail, MailTransport};
use supervisor_listeners::notify::{http, Outbox, RateLimiter, RetryPolicy};
use supervisor_listeners::rpc::Rpc;
use supervisor_listeners::runtime::{self, log, namespec, Event, Handler, Verdict};
use supervisor_protocol::xmlrpc::ProcessInfo;
use supervisor_protocol::ProcessState;

/// Check a URL on every TICK and restart processes when it fails (bad status, missing body
/// text, timeout).
///
/// Run as an [eventlistener:x] with events=TICK_60 (or another TICK_*).
/// Example: httpok -p program1 -p group1:program2 http://localhost:8080/tasty
#[derive(Parser, Debug)]
#[command(name = "httpok", version)]
struct Cli {
    /// Process to restart (`name` or `group:name`); repeatable.
    #[arg(short = 'p', long = "program", value_name = "NAME")]
    programs: Vec<String>,
    /// Restart every RUNNING process.
    #[arg(short = 'a', long = "any")]
    any: bool,
    /// Seconds to wait for the response.
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "SECS",
        default_value_t = 10
    )]
    timeout: u64,
    /// Acceptable status code; repeatable (default 200).
    #[arg(short = 'c', long = "code", value_name = "STATUS")]
    codes: Vec<u16>,
    /// Text that must appear in the response body.
    #[arg(short = 'b', long = "body", value_name = "TEXT")]
    body: Option<String>,
    /// Mail a report to this address when acting.
    #[arg(short = 'm', long = "email", value_name = "ADDR")]
    email: Option<String>,
    /// Core dump command, run as `CMD <coredir>/<namespec> <pid>` (no shell).
    #[arg(
        short = 'g',
        long = "gcore",
        value_name = "CMD",
        default_value = "/usr/bin/gcore -o"
    )]
    gcore: String,
    /// Write a core of each hung process into this directory before restarting it.
    #[arg(short = 'd', long = "coredir", value_name = "DIR")]
    coredir: Option<String>,
    /// Always check the URL (the default).
    #[arg(short = 'e', long = "eager")]
    eager: bool,
    /// Check the URL only while some -p process is RUNNING.
    #[arg(short = 'E', long = "not-eager")]
    not_eager: bool,
    /// Name of this httpok, shown in mail subjects.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: Option<String>,
    /// Do not restart a process that started less than this many seconds ago.
    #[arg(long = "grace", value_name = "SECS", default_value_t = 0)]
    grace: u64,
    /// Restart a process at most this many times per --restart-window (0 = unlimited).
    #[arg(long = "max-restarts", value_name = "N", default_value_t = 0)]
    max_restarts: usize,
    /// Window of --max-restarts in seconds.
    #[arg(long = "restart-window", value_name = "SECS", default_value_t = 3600)]
    restart_window: u64,
    /// HTTP basic auth user for the URL (credentials in the URL work too).
    #[arg(long = "user", value_name = "USER")]
    user: Option<String>,
    /// HTTP basic auth password.
    #[arg(long = "password", value_name = "PASSWORD")]
    password: Option<String>,
    /// Accept any TLS certificate.
    #[arg(long = "insecure")]
    insecure: bool,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    rpc_args: RpcArgs,
    /// The URL to GET (http:// or https://).
    #[arg(value_name = "URL")]
    url: String,
}

struct HttpOk {
    cli: Cli,
    codes: Vec<u16>,
    eager: bool,
    client: reqwest::blocking::Client,
    rpc: Rpc,
    transport: MailTransport,
    policy: RetryPolicy,
    outbox: Outbox,
    limiters: std::collections::HashMap<String, RateLimiter>,
}

impl HttpOk {
    fn selected(&self, info: &ProcessInfo) -> bool {
        let full = format!("{}:{}", info.group, info.name);
        self.cli
            .programs
            .iter()
            .any(|p| *p == info.name || *p == full || *p == info.namespec())
    }

    fn subject(&self, s: &str) -> String {
        match &self.cli.name {
            None => format!("httpok: {s}"),
            Some(n) => format!("httpok [{n}]: {s}"),
        }
    }

    /// GET the URL: `(status, body, message)`; retries a refused connection every 10 s up to
    /// `(timeout-1)//10` times, as upstream.
    fn check(&self) -> (Option<u16>, String, String) {
        let retries = self.cli.timeout.saturating_sub(1) / 10;
        let mut attempt = 0;
        loop {
            let mut req = self
                .client
                .get(&self.cli.url)
                .header("User-Agent", "httpok");
            if let Some(user) = &self.cli.user {
                req = req.basic_auth(user, self.cli.password.as_deref());
            }
            match req.send() {
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().unwrap_or_default();
                    return (
                        Some(status.as_u16()),
                        body,
                        format!(
                            "status contacting {}: {} {}",
                            self.cli.url,
                            status.as_u16(),
                            status.canonical_reason().unwrap_or("")
                        ),
                    );
                }
                Err(e) if e.is_connect() && attempt < retries => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_secs(10));
                }
                Err(e) => {
                    return (
                        None,
                        String::new(),
                        format!(
                            "error contacting {}:\n\n {}",
                            self.cli.url,
                            http::error_chain(&e)
                        ),
                    )
                }
            }
        }
    }

    fn act(&mut self, subject: String, msg: String) {
        log(&msg);
        let mut messages = vec![msg];
        let write = |m: String, messages: &mut Vec<String>| {
            log(&m);
            messages.push(m);
        };
        let specs = match self.rpc.get_all_process_info() {
            Ok(s) => s,
            Err(e) => {
                write(
                    format!("Exception retrieving process info {e}, not acting"),
                    &mut messages,
                );
                return;
            }
        };
        let mut waiting = self.cli.programs.clone();
        if self.cli.any {
            write("Restarting all running processes".into(), &mut messages);
        } else {
            write(
                format!(
                    "Restarting selected processes [{}]",
                    self.cli
                        .programs
                        .iter()
                        .map(|p| format!("'{p}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &mut messages,
            );
        }
        for spec in &specs {
            if !(self.cli.any || self.selected(spec)) {
                continue;
            }
            let ns = namespec(&spec.group, &spec.name);
            let full = format!("{}:{}", spec.group, spec.name);
            waiting.retain(|w| *w != spec.name && *w != ns && *w != full);
            self.restart(spec, &mut messages);
        }
        if !waiting.is_empty() {
            write(
                format!(
                    "Programs not restarted because they did not exist: [{}]",
                    waiting
                        .iter()
                        .map(|p| format!("'{p}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &mut messages,
            );
        }
        if let Some(to) = self.cli.email.clone() {
            let mail = Mail {
                from: self.cli.mail.from.clone(),
                to: vec![to],
                subject: Some(subject),
                body: messages.join("\n"),
            };
            let transport = self.transport.clone();
            let note = format!("Mailed:\n\n{}", mail.sendmail_text());
            self.outbox.push(
                format!("httpok: mail via {}", transport.describe()),
                self.policy,
                Some(note),
                Box::new(move || transport.send(&mail)),
            );
        }
    }

    fn restart(&mut self, spec: &ProcessInfo, out: &mut Vec<String>) {
        let ns = namespec(&spec.group, &spec.name);
        if spec.process_state() != Some(ProcessState::Running) {
            say(out, format!("{ns} not in RUNNING state, NOT restarting"));
            return;
        }
        let up = i64::from(spec.now) - i64::from(spec.start);
        if up < self.cli.grace as i64 {
            say(
                out,
                format!(
                    "{ns} started {up}s ago, within the {}s grace period, NOT restarting",
                    self.cli.grace
                ),
            );
            return;
        }
        let limiter = self.limiters.entry(ns.clone()).or_insert_with(|| {
            RateLimiter::new(
                self.cli.max_restarts,
                Duration::from_secs(self.cli.restart_window),
            )
        });
        if !limiter.allow(Instant::now()) {
            say(
                out,
                format!(
                    "{ns} was restarted {} times in the last {}s, NOT restarting",
                    self.cli.max_restarts, self.cli.restart_window
                ),
            );
            return;
        }
        if let Some(dir) = &self.cli.coredir {
            let core = std::path::Path::new(dir).join(&ns);
            let cmd = format!(
                "{} {} {}",
                self.cli.gcore,
                shlex::try_quote(&core.to_string_lossy()).unwrap_or_default(),
                spec.pid
            );
            let output = match run_command(&cmd, b"", Duration::from_secs(120)) {
                Ok(o) => o,
                Err(e) => e,
            };
            say(out, format!("gcore output for {ns}:\n\n {output}"));
        }
        say(out, format!("{ns} is in RUNNING state, restarting"));
        if let Err(e) = self.rpc.stop_process(&ns) {
            say(out, format!("Failed to stop process {ns}: {e}"));
        }
        match self.rpc.start_process(&ns) {
            Err(e) => say(out, format!("Failed to start process {ns}: {e}")),
            Ok(()) => say(out, format!("{ns} restarted")),
        }
    }
}

/// Logs a report line on stderr at once and keeps it for the mail.
fn say(out: &mut Vec<String>, line: String) {
    log(&line);
    out.push(line);
}

impl Handler for HttpOk {
    fn handle(&mut self, ev: &Event) -> Verdict {
        if !ev.is_tick() {
            return Verdict::Ok;
        }
        let go = self.eager
            || match self.rpc.get_all_process_info() {
                Ok(specs) => specs
                    .iter()
                    .any(|s| self.selected(s) && s.process_state() == Some(ProcessState::Running)),
                Err(e) => {
                    log(&format!("cannot get process info: {e}"));
                    false
                }
            };
        if !go {
            return Verdict::Ok;
        }
        let (status, body, msg) = self.check();
        match status {
            Some(s) if self.codes.contains(&s) => {
                if let Some(want) = self.cli.body.clone() {
                    if !body.contains(&want) {
                        let subject = self.subject(&format!("{}: bad body returned", self.cli.url));
                        self.act(subject, msg);
                    }
                }
            }
            _ => {
                let subject = self.subject(&format!("{}: bad status returned", self.cli.url));
                self.act(subject, msg);
            }
        }
        Verdict::Ok
    }

    fn finish(&mut self) {
        self.outbox.close();
    }
}

fn main() {
    let cli: Cli = parse_or_usage(255);
    if !cli.url.starts_with("http://") && !cli.url.starts_with("https://") {
        eprintln!("httpok: Bad scheme in {} (http:// or https://)", cli.url);
        std::process::exit(2);
    }
    if !under_supervisor() && cli.rpc_args.server_url.is_none() {
        eprintln!("httpok must be run as a supervisor event listener");
        return;
    }
    let rpc = match cli.rpc_args.rpc() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("httpok: {e}");
            std::process::exit(2);
        }
    };
    let client = match http::client(Duration::from_secs(cli.timeout.max(1)), cli.insecure) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("httpok: {e}");
            std::process::exit(2);
        }
    };
    let codes = if cli.codes.is_empty() {
        vec![200]
    } else {
        cli.codes.clone()
    };
    let mut h = HttpOk {
        eager: !cli.not_eager || cli.eager,
        codes,
        client,
        rpc,
        transport: cli.mail.transport(),
        policy: cli.mail.retry_policy(),
        outbox: Outbox::new(Duration::from_secs_f64(
            cli.mail.mail_timeout.max(1.0) * 2.0,
        )),
        limiters: Default::default(),
        cli,
    };
    if let Err(e) = runtime::run(&mut h) {
        log(&format!("httpok: {e}"));
    }
}
