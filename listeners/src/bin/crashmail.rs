//! crashmail: mail when a process exits unexpectedly (superlance 2.0.0 `crashmail`).
//!
//! Subscribe it to `PROCESS_STATE_EXITED` (or `PROCESS_STATE`). Fixed upstream bugs: `-p` and
//! `-a` work as documented (2.0.0 parses and ignores them), and without `-m` no mail is sent
//! (2.0.0 mails `To: None`).

use std::time::Duration;

use clap::Parser;
use supervisor_listeners::cli::{parse_or_usage, under_supervisor, MailArgs};
use supervisor_listeners::notify::mail::Mail;
use supervisor_listeners::notify::Outbox;
use supervisor_listeners::runtime::{self, log, Event, Handler, Verdict};
use supervisor_listeners::timefmt;

/// Send mail when a supervised process exits unexpectedly (EXITED with expected:0).
///
/// Run as an [eventlistener:x] with events=PROCESS_STATE_EXITED.
/// Example: crashmail -p program1 -p group1:program2 -m dev@example.com
#[derive(Parser, Debug)]
#[command(name = "crashmail", version)]
struct Cli {
    /// Only mail for this process (`name` or `group:name`); repeatable. Without -p or -a,
    /// every process is watched.
    #[arg(short = 'p', long = "program", value_name = "NAME")]
    programs: Vec<String>,
    /// Mail for any process (overrides -p).
    #[arg(short = 'a', long = "any")]
    any: bool,
    /// Prefix of the mail subject.
    #[arg(short = 'o', long = "optionalheader", value_name = "STR")]
    optionalheader: Option<String>,
    /// Recipient; without it crashes are only logged on stderr.
    #[arg(short = 'm', long = "email", value_name = "ADDR")]
    email: Option<String>,
    #[command(flatten)]
    mail: MailArgs,
    /// Seconds one delivery attempt may take (same as --mail-timeout).
    #[arg(long = "timeout", value_name = "SECS")]
    timeout: Option<f64>,
}

struct CrashMail {
    cli: Cli,
    transport: supervisor_listeners::notify::mail::MailTransport,
    outbox: Outbox,
}

impl CrashMail {
    fn watched(&self, ev: &Event) -> bool {
        if self.cli.any || self.cli.programs.is_empty() {
            return true;
        }
        let ns = ev.namespec();
        let full = format!("{}:{}", ev.groupname(), ev.processname());
        self.cli
            .programs
            .iter()
            .any(|p| p == ev.processname() || *p == ns || *p == full)
    }
}

impl Handler for CrashMail {
    fn handle(&mut self, ev: &Event) -> Verdict {
        if ev.name() != "PROCESS_STATE_EXITED" {
            return Verdict::Ok;
        }
        if ev.expected() != Some(false) || !self.watched(ev) {
            return Verdict::Ok;
        }
        let body = format!(
            "Process {} in group {} exited unexpectedly (pid {}) from state {}",
            ev.processname(),
            ev.groupname(),
            ev.get("pid").unwrap_or(""),
            ev.get("from_state").unwrap_or("")
        );
        let mut subject = format!(
            " {} crashed at {}",
            ev.processname(),
            timefmt::asctime_ms(timefmt::now_f64())
        );
        if let Some(h) = &self.cli.optionalheader {
            subject = format!("{h}:{subject}");
        }
        let Some(email) = self.cli.email.clone() else {
            log(&format!("unexpected exit, not mailing (no -m): {body}"));
            return Verdict::Ok;
        };
        log("unexpected exit, mailing");
        let mail = Mail {
            from: self.cli.mail.from.clone(),
            to: vec![email],
            subject: Some(subject),
            body,
        };
        let transport = self.transport.clone();
        let note = format!("Mailed:\n\n{}", mail.sendmail_text());
        self.outbox.push(
            format!("mail via {}", transport.describe()),
            self.cli.mail.retry_policy(),
            Some(note),
            Box::new(move || transport.send(&mail)),
        );
        Verdict::Ok
    }

    fn finish(&mut self) {
        self.outbox.close();
    }
}

fn main() {
    let mut cli: Cli = parse_or_usage(255);
    if let Some(t) = cli.timeout {
        cli.mail.mail_timeout = t;
    }
    if !under_supervisor() {
        eprintln!("crashmail must be run as a supervisor event listener");
        return;
    }
    let transport = cli.mail.transport();
    let drain = Duration::from_secs_f64(cli.mail.mail_timeout.max(1.0) * 2.0);
    let mut h = CrashMail {
        cli,
        transport,
        outbox: Outbox::new(drain),
    };
    if let Err(e) = runtime::run(&mut h) {
        log(&format!("crashmail: {e}"));
    }
}
