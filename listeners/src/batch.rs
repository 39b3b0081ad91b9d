//! The batching base of `crashmailbatch`, `fatalmailbatch` and `crashsms` (superlance's
//! `ProcessStateEmailMonitor`): watched state events become one line each (also written to
//! stderr); every `-e` tick adds its period to a minute counter, and once it reaches
//! `--interval` the lines go out as one mail and the batch starts over.

use std::time::Duration;

use clap::Parser;

use crate::cli::{parse_named, under_supervisor};
use crate::notify::mail::{Mail, MailTransport, Security, SmtpConfig};
use crate::notify::{Outbox, RetryPolicy};
use crate::runtime::{self, log, Event, Handler, Verdict};

// Options of the batch tools: superlance's optparse names, plus TLS/timeout extras.
#[derive(Parser, Debug, Clone)]
pub struct BatchArgs {
    /// Batch interval in minutes.
    #[arg(
        short = 'i',
        long = "interval",
        value_name = "MIN",
        default_value_t = 1.0
    )]
    pub interval: f64,
    /// Destination email address(es), comma separated.
    #[arg(short = 't', long = "toEmail", value_name = "ADDRS")]
    pub to_emails: Option<String>,
    /// Source email address.
    #[arg(short = 'f', long = "fromEmail", value_name = "ADDR")]
    pub from_email: Option<String>,
    /// Email subject.
    #[arg(short = 's', long = "subject", value_name = "STR")]
    pub subject: Option<String>,
    /// SMTP server, `host` or `host:port`.
    #[arg(
        short = 'H',
        long = "smtpHost",
        value_name = "HOST",
        default_value = "localhost"
    )]
    pub smtp_host: String,
    /// The TICK event that drives batching.
    #[arg(
        short = 'e',
        long = "tickEvent",
        value_name = "TICK_N",
        default_value = "TICK_60"
    )]
    pub tick_event: String,
    /// SMTP user name (AUTH when user and password are both set; default $SMTP_USERNAME).
    #[arg(
        short = 'u',
        long = "userName",
        value_name = "USER",
        default_value = ""
    )]
    pub smtp_user: String,
    /// SMTP password (default $SMTP_PASSWORD).
    #[arg(
        short = 'p',
        long = "password",
        value_name = "PASSWORD",
        default_value = ""
    )]
    pub smtp_password: String,
    /// Use STARTTLS (required once given, with or without AUTH).
    #[arg(long = "tls")]
    pub tls: bool,
    /// Use implicit TLS (SMTPS, port 465 unless -H names one).
    #[arg(long = "ssl", conflicts_with = "tls")]
    pub ssl: bool,
    /// Accept any TLS certificate (self-signed test servers).
    #[arg(long = "smtp-insecure")]
    pub smtp_insecure: bool,
    /// Seconds one SMTP attempt may take.
    #[arg(long = "timeout", value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Retries after a failed delivery (exponential backoff from 1 s).
    #[arg(long = "retries", value_name = "N", default_value_t = 3)]
    pub retries: u32,
}

/// What one tool watches and how it words a line.
pub struct BatchKind {
    pub name: &'static str,
    /// First line of `--help`.
    pub about: &'static str,
    pub default_subject: Option<&'static str>,
    /// The line for an event, or `None` to ignore it.
    pub message: fn(&Event, &str) -> Option<String>,
}

pub struct Batch {
    kind: BatchKind,
    args: BatchArgs,
    to: Vec<String>,
    from: String,
    subject: Option<String>,
    tick_minutes: f64,
    minutes: f64,
    messages: Vec<String>,
    transport: MailTransport,
    outbox: Outbox,
}

impl Batch {
    pub fn new(kind: BatchKind, args: BatchArgs) -> Result<Batch, String> {
        let tick_secs: u64 = args
            .tick_event
            .strip_prefix("TICK_")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("Invalid TICK event name: {}", args.tick_event))?;
        let security = if args.ssl {
            Security::Tls
        } else if args.tls {
            Security::StartTls
        } else {
            Security::Plain
        };
        let mut smtp = SmtpConfig::from_host_port(&args.smtp_host, security)?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let user = Some(args.smtp_user.clone())
            .filter(|u| !u.is_empty())
            .or_else(|| env("SMTP_USERNAME"));
        let password = Some(args.smtp_password.clone())
            .filter(|p| !p.is_empty())
            .or_else(|| env("SMTP_PASSWORD"));
        if user.is_some() && password.is_some() {
            smtp.user = user;
            smtp.password = password;
        }
        smtp.timeout = Duration::from_secs_f64(args.timeout.max(0.1));
        smtp.insecure = args.smtp_insecure;
        let to = args
            .to_emails
            .clone()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let subject = args
            .subject
            .clone()
            .or(kind.default_subject.map(str::to_string));
        Ok(Batch {
            to,
            from: args.from_email.clone().unwrap_or_default(),
            subject,
            tick_minutes: tick_secs as f64 / 60.0,
            minutes: 0.0,
            messages: Vec::new(),
            transport: MailTransport::Smtp(smtp),
            outbox: Outbox::new(Duration::from_secs_f64(args.timeout.max(1.0) * 2.0)),
            kind,
            args,
        })
    }

    fn send_batch(&mut self) {
        if self.messages.is_empty() {
            return;
        }
        let body = self.messages.join("\n");
        let digest = if body.chars().count() > 76 {
            format!("{}...", body.chars().take(76).collect::<String>())
        } else {
            body.clone()
        };
        let mail = Mail {
            from: Some(self.from.clone()),
            to: self.to.clone(),
            subject: self.subject.clone(),
            body,
        };
        log(&format!(
            "Sending notification email:\nTo: {}\nFrom: {}\nSubject: {}\nBody:\n{}",
            self.to.join(", "),
            self.from,
            self.subject.as_deref().unwrap_or("None"),
            digest
        ));
        let transport = self.transport.clone();
        self.outbox.push(
            format!(
                "{}: sending email via {}",
                self.kind.name,
                transport.describe()
            ),
            RetryPolicy {
                retries: self.args.retries,
                ..RetryPolicy::default()
            },
            None,
            Box::new(move || transport.send(&mail).map(|r| format!("sent ({r})"))),
        );
    }
}

impl Handler for Batch {
    fn handle(&mut self, ev: &Event) -> Verdict {
        if ev.name() == self.args.tick_event {
            self.minutes += self.tick_minutes;
            if self.minutes >= self.args.interval {
                self.send_batch();
                self.minutes = 0.0;
                self.messages.clear();
            }
        } else if let Some(msg) =
            (self.kind.message)(ev, &crate::timefmt::asctime_ms(crate::timefmt::now_f64()))
        {
            log(&msg);
            self.messages.push(msg);
        }
        Verdict::Ok
    }

    fn finish(&mut self) {
        self.outbox.close();
    }
}

/// `main` of a batch tool.
pub fn main(kind: BatchKind) {
    let args: BatchArgs = parse_named(kind.name, Some(kind.about), 2);
    if args.to_emails.as_deref().unwrap_or("").is_empty()
        || args.from_email.as_deref().unwrap_or("").is_empty()
    {
        use clap::CommandFactory;
        print!(
            "{}",
            BatchArgs::command()
                .name(kind.name)
                .bin_name(kind.name)
                .about(kind.about)
                .render_help()
        );
        std::process::exit(1);
    }
    if !under_supervisor() {
        eprintln!("Must run as a supervisor event listener");
        std::process::exit(1);
    }
    let name = kind.name;
    let mut batch = match Batch::new(kind, args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime::run(&mut batch) {
        log(&format!("{name}: {e}"));
    }
}

/// crashmailbatch's line for an unexpected exit.
pub fn crash_line(ev: &Event, now: &str) -> Option<String> {
    (ev.name() == "PROCESS_STATE_EXITED" && ev.expected() == Some(false)).then(|| {
        format!(
            "{now} -- Process {}:{} (pid {}) died unexpectedly",
            ev.groupname(),
            ev.processname(),
            ev.get("pid").unwrap_or("")
        )
    })
}

/// fatalmailbatch's line for a FATAL process.
pub fn fatal_line(ev: &Event, now: &str) -> Option<String> {
    (ev.name() == "PROCESS_STATE_FATAL").then(|| {
        format!(
            "{now} -- Process {}:{} failed to start too many times",
            ev.groupname(),
            ev.processname()
        )
    })
}

/// crashsms's short line for an unexpected exit.
pub fn sms_line(ev: &Event, now: &str) -> Option<String> {
    (ev.name() == "PROCESS_STATE_EXITED" && ev.expected() == Some(false)).then(|| {
        format!(
            "[{}:{}]({}) exited unexpectedly {now}",
            ev.groupname(),
            ev.processname(),
            ev.get("pid").unwrap_or("")
        )
    })
}
