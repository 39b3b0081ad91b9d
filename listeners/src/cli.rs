//! Command-line handling shared by the binaries: superlance's usage/exit-code conventions and
//! the option groups several listeners have (mail transport, XML-RPC credentials).

use std::time::Duration;

use clap::{Args, Parser};

use crate::notify::mail::{MailTransport, Security, SmtpConfig, DEFAULT_SENDMAIL};
use crate::notify::RetryPolicy;
use crate::rpc::Rpc;

/// Parses the command line. `--help` prints the help on stdout and exits 0 (as superlance);
/// an error prints it on stderr, the help on stdout, and exits `bad_exit` (255 for the getopt
/// tools, 2 for the optparse ones).
pub fn parse_or_usage<T: Parser>(bad_exit: i32) -> T {
    let name = T::command().get_name().to_string();
    parse_named(&name, None, bad_exit)
}

/// [`parse_or_usage`] with the program name (and help text) set (for option sets shared by
/// several binaries).
pub fn parse_named<T: Parser>(name: &str, about: Option<&'static str>, bad_exit: i32) -> T {
    // clap without its `string` feature wants 'static names; this runs once per process.
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let mut cmd = T::command().name(name).bin_name(name);
    if let Some(about) = about {
        cmd = cmd.about(about).long_about(about);
    }
    match cmd.try_get_matches_from_mut(std::env::args_os()) {
        Ok(m) => match T::from_arg_matches(&m) {
            Ok(v) => v,
            Err(e) => usage_error(&mut cmd, &e.to_string(), bad_exit),
        },
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                print!("{}", cmd.render_help());
                std::process::exit(0);
            }
            _ => usage_error(&mut cmd, &e.to_string(), bad_exit),
        },
    }
}

/// Error on stderr, help on stdout, exit.
pub fn usage_error(cmd: &mut clap::Command, msg: &str, code: i32) -> ! {
    eprintln!("{}", msg.trim_end());
    print!("{}", cmd.render_help());
    std::process::exit(code)
}

/// Mail delivery options of crashmail, memmon and httpok: superlance's `-s` command, or
/// direct SMTP when `--smtp-host` is given.
#[derive(Args, Debug, Clone)]
pub struct MailArgs {
    /// Mail command that reads the message (headers, blank line, body) on stdin. Split with
    /// shell word rules and run without a shell.
    #[arg(short = 's', long = "sendmail_program", value_name = "CMD", default_value = DEFAULT_SENDMAIL)]
    pub sendmail: String,
    /// Send through this SMTP server instead of the mail command.
    #[arg(long = "smtp-host", value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default 25; 465 with --tls; 587 is usual with --starttls).
    #[arg(long = "smtp-port", value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// SMTP AUTH user (default: $SMTP_USERNAME).
    #[arg(long = "smtp-user", value_name = "USER")]
    pub smtp_user: Option<String>,
    /// SMTP AUTH password (default: $SMTP_PASSWORD).
    #[arg(long = "smtp-password", value_name = "PASSWORD")]
    pub smtp_password: Option<String>,
    /// Require STARTTLS.
    #[arg(long, conflicts_with = "tls")]
    pub starttls: bool,
    /// Implicit TLS (SMTPS).
    #[arg(long)]
    pub tls: bool,
    /// Accept any TLS certificate (self-signed test servers).
    #[arg(long = "smtp-insecure")]
    pub smtp_insecure: bool,
    /// Sender address (default supervisor@<hostname>; the mail command gets no From: unless set).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// Seconds one delivery attempt may take.
    #[arg(long = "mail-timeout", value_name = "SECS", default_value_t = 30.0)]
    pub mail_timeout: f64,
    /// Retries after a failed delivery (exponential backoff from 1 s).
    #[arg(long = "mail-retries", value_name = "N", default_value_t = 3)]
    pub mail_retries: u32,
}

impl MailArgs {
    pub fn transport(&self) -> MailTransport {
        let timeout = Duration::from_secs_f64(self.mail_timeout.max(0.1));
        match &self.smtp_host {
            None => MailTransport::Command {
                command: self.sendmail.clone(),
                timeout,
            },
            Some(host) => {
                let security = if self.tls {
                    Security::Tls
                } else if self.starttls {
                    Security::StartTls
                } else {
                    Security::Plain
                };
                MailTransport::Smtp(SmtpConfig {
                    host: host.clone(),
                    port: self.smtp_port.unwrap_or(match security {
                        Security::Tls => 465,
                        _ => 25,
                    }),
                    security,
                    user: self
                        .smtp_user
                        .clone()
                        .or_else(|| std::env::var("SMTP_USERNAME").ok()),
                    password: self
                        .smtp_password
                        .clone()
                        .or_else(|| std::env::var("SMTP_PASSWORD").ok()),
                    timeout,
                    insecure: self.smtp_insecure,
                })
            }
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.mail_retries,
            ..RetryPolicy::default()
        }
    }
}

/// How to reach supervisord (defaults from the environment, like childutils).
#[derive(Args, Debug, Clone)]
pub struct RpcArgs {
    /// supervisord URL (default: $SUPERVISOR_SERVER_URL, set by supervisord).
    #[arg(long = "server-url", value_name = "URL")]
    pub server_url: Option<String>,
    /// XML-RPC user (default: $SUPERVISOR_USERNAME).
    #[arg(long = "rpc-user", value_name = "USER")]
    pub rpc_user: Option<String>,
    /// XML-RPC password (default: $SUPERVISOR_PASSWORD).
    #[arg(long = "rpc-password", value_name = "PASSWORD")]
    pub rpc_password: Option<String>,
}

impl RpcArgs {
    /// The client, or why there is none.
    pub fn rpc(&self) -> Result<Rpc, String> {
        let rpc = match &self.server_url {
            Some(url) => {
                let mut r = Rpc::new(url)?;
                if let Ok(user) = std::env::var("SUPERVISOR_USERNAME") {
                    r.auth = Some((
                        user,
                        std::env::var("SUPERVISOR_PASSWORD").unwrap_or_default(),
                    ));
                }
                r
            }
            None => Rpc::from_env()?,
        };
        Ok(rpc.with_auth(self.rpc_user.clone(), self.rpc_password.clone()))
    }
}

/// Whether supervisord started us (superlance's check of `SUPERVISOR_SERVER_URL`).
pub fn under_supervisor() -> bool {
    std::env::var_os("SUPERVISOR_SERVER_URL").is_some()
}
