//! Mail: SMTP through lettre, or a sendmail-style command.
//!
//! The command (superlance's `-s`, default `/usr/sbin/sendmail -t -i`) is split with POSIX
//! shell word rules and run **without** a shell; write `sh -c '...'` to get one. It receives
//! the message on stdin, exactly as superlance builds it: `To: <to>\nSubject: <subject>\n\n<body>`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport as _};

/// superlance's default mail command.
pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail -t -i";

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: Option<String>,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub body: String,
}

impl Mail {
    /// The text superlance pipes to sendmail (`From:` only when a sender was given).
    pub fn sendmail_text(&self) -> String {
        let mut text = String::new();
        if let Some(from) = &self.from {
            text.push_str(&format!("From: {from}\n"));
        }
        text.push_str(&format!("To: {}\n", self.to.join(", ")));
        if let Some(subject) = &self.subject {
            text.push_str(&format!("Subject: {subject}\n"));
        }
        text.push('\n');
        text.push_str(&self.body);
        text
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (port 25 / local relays).
    Plain,
    /// STARTTLS, required.
    StartTls,
    /// STARTTLS when the server offers it, plain otherwise (gomail's behaviour, used by
    /// `supervisor-event-listener`).
    Opportunistic,
    /// Implicit TLS (port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    /// Accept any certificate (self-signed test servers).
    pub insecure: bool,
}

impl SmtpConfig {
    /// `host` or `host:port` (superlance's `-H`), default port 25 (465 with implicit TLS).
    pub fn from_host_port(spec: &str, security: Security) -> Result<SmtpConfig, String> {
        let default_port = if security == Security::Tls { 465 } else { 25 };
        let (host, port) = match spec.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>()
                    .map_err(|_| format!("bad SMTP port in {spec:?}"))?,
            ),
            _ => (spec, default_port),
        };
        Ok(SmtpConfig {
            host: host.to_string(),
            port,
            security,
            user: None,
            password: None,
            timeout: Duration::from_secs(30),
            insecure: false,
        })
    }
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// A sendmail-style command line (split with shell rules, run without a shell).
    Command {
        command: String,
        timeout: Duration,
    },
    Smtp(SmtpConfig),
}

fn mailbox(addr: &str) -> Result<Mailbox, String> {
    addr.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("bad address {addr:?}: {e}"))
}

impl MailTransport {
    /// Sends one message; `Ok` carries a short note (the server's reply).
    pub fn send(&self, mail: &Mail) -> Result<String, String> {
        match self {
            MailTransport::Command { command, timeout } => {
                run_command(command, mail.sendmail_text().as_bytes(), *timeout)
            }
            MailTransport::Smtp(cfg) => send_smtp(cfg, mail),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            MailTransport::Command { command, .. } => format!("mail command {command:?}"),
            MailTransport::Smtp(c) => format!("SMTP {}:{}", c.host, c.port),
        }
    }
}

/// Sends `mail` over SMTP.
pub fn send_smtp(cfg: &SmtpConfig, mail: &Mail) -> Result<String, String> {
    let from = match &mail.from {
        Some(f) => f.clone(),
        None => format!("supervisor@{}", crate::timefmt::hostname()),
    };
    let mut builder = Message::builder().from(mailbox(&from)?).message_id(None);
    for to in &mail.to {
        builder = builder.to(mailbox(to)?);
    }
    if let Some(subject) = &mail.subject {
        builder = builder.subject(subject.clone());
    }
    // 7bit when the text allows it (ASCII, lines up to 998 bytes): readable everywhere,
    // including email-to-SMS gateways; otherwise lettre picks quoted-printable or base64.
    let body = if mail.body.is_ascii() && mail.body.lines().all(|l| l.len() <= 998) {
        let crlf = mail.body.replace("\r\n", "\n").replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(mail.body.clone())
    };
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("cannot build message: {e}"))?;

    let mut transport = SmtpTransport::builder_dangerous(&cfg.host)
        .port(cfg.port)
        .timeout(Some(cfg.timeout));
    if cfg.security != Security::Plain {
        let params = TlsParameters::builder(cfg.host.clone())
            .dangerous_accept_invalid_certs(cfg.insecure)
            .dangerous_accept_invalid_hostnames(cfg.insecure)
            .build()
            .map_err(|e| format!("TLS setup: {e}"))?;
        transport = transport.tls(match cfg.security {
            Security::Tls => Tls::Wrapper(params),
            Security::Opportunistic => Tls::Opportunistic(params),
            _ => Tls::Required(params),
        });
    }
    if let (Some(user), Some(password)) = (&cfg.user, &cfg.password) {
        if !user.is_empty() {
            transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
        }
    }
    let response = transport
        .build()
        .send(&message)
        .map_err(|e| format!("SMTP {}:{}: {e}", cfg.host, cfg.port))?;
    Ok(format!(
        "{} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    ))
}

/// Runs `command` (shell word rules, no shell) with `input` on stdin; waits at most `timeout`.
pub fn run_command(command: &str, input: &[u8], timeout: Duration) -> Result<String, String> {
    let argv = shlex::split(command).ok_or_else(|| format!("cannot parse command {command:?}"))?;
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "empty mail command".to_string())?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let mut stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
        drop(stdin);
    });
    let mut stderr = child.stderr.take();
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{command:?} did not finish within {:.0}s; killed",
                    timeout.as_secs_f64()
                ));
            }
            Err(e) => return Err(format!("waiting for {command:?}: {e}")),
        }
    };
    let _ = writer.join();
    let err = err_reader.join().unwrap_or_default();
    if status.success() {
        Ok(String::new())
    } else {
        Err(format!("{command:?} failed ({status}): {}", err.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmail_text_matches_superlance() {
        let m = Mail {
            from: None,
            to: vec!["a@b".into()],
            subject: Some(" x crashed".into()),
            body: "body".into(),
        };
        assert_eq!(m.sendmail_text(), "To: a@b\nSubject:  x crashed\n\nbody");
    }

    #[test]
    fn command_gets_stdin_without_shell() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out file");
        let cmd = format!("sh -c 'cat > \"$0\"' '{}'", out.display());
        run_command(&cmd, b"hello; $(rm -rf /)", Duration::from_secs(5)).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"hello; $(rm -rf /)");
        let e = run_command("false", b"", Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("failed"), "{e}");
        assert!(run_command("/nonexistent/sendmail -t", b"", Duration::from_secs(5)).is_err());
    }

    #[test]
    fn host_port() {
        let c = SmtpConfig::from_host_port("mail:2525", Security::Plain).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("mail", 2525));
        let c = SmtpConfig::from_host_port("localhost", Security::Tls).unwrap();
        assert_eq!(c.port, 465);
    }
}
