//! webhook: POST process alerts to HTTP endpoints (not in superlance).
//!
//! Formats: generic JSON, Slack, Discord, Microsoft Teams (MessageCard), Alertmanager v2.
//! A process *fires* when it exits unexpectedly (EXITED expected:0) or goes FATAL, and is
//! *resolved* by its next RUNNING. Other events are sent as `info` when a route's `events`
//! list names them (or an ancestor type such as PROCESS_STATE). Subscribe the listener to
//! `PROCESS_STATE` (plus anything else the routes want).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::blocking::Client;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use supervisor_listeners::cli::{parse_or_usage, under_supervisor};
use supervisor_listeners::notify::template::{render, render_json};
use supervisor_listeners::notify::{http, FlapGuard, Outbox, RateLimiter, RetryPolicy};
use supervisor_listeners::runtime::{self, log, Event, Handler, Verdict};
use supervisor_listeners::timefmt;
use supervisor_protocol::events::EventKind;

/// POST process alerts (crash, FATAL, recovery) to webhooks: generic JSON, Slack, Discord,
/// Teams or Alertmanager.
///
/// One target from flags (--url ...), or several routes from a YAML file (--config).
#[derive(Parser, Debug)]
#[command(name = "webhook", version)]
struct Cli {
    /// YAML file with `routes:` (each: url, format, headers, template, body, events, programs,
    /// rate_limit, rate_period, flap_window, retries, timeout, insecure).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Target URL (for alertmanager: the full .../api/v2/alerts URL).
    #[arg(short = 'u', long = "url", value_name = "URL")]
    url: Option<String>,
    /// Payload format: json, slack, discord, teams or alertmanager.
    #[arg(
        short = 'f',
        long = "format",
        value_name = "FORMAT",
        default_value = "json"
    )]
    format: String,
    /// Extra header `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Message text template; `{var}` takes event fields (processname, groupname, namespec,
    /// pid, from_state, expected, eventname, state, status, summary, suppressed, hostname,
    /// time, ...). Default `{summary}`.
    #[arg(short = 't', long = "template", value_name = "TEXT")]
    template: Option<String>,
    /// Whole request body template (values JSON-escaped); overrides the format's body.
    #[arg(short = 'b', long = "body", value_name = "TEXT")]
    body: Option<String>,
    /// Event types to act on, comma separated (ancestors such as PROCESS_STATE match their
    /// children). Default PROCESS_STATE_EXITED,PROCESS_STATE_FATAL,PROCESS_STATE_RUNNING.
    #[arg(short = 'e', long = "events", value_name = "LIST")]
    events: Option<String>,
    /// Only these processes (`name`, `group:name` or `group:*`); repeatable.
    #[arg(short = 'p', long = "program", value_name = "NAME")]
    programs: Vec<String>,
    /// At most this many requests per --rate-period (0 = unlimited).
    #[arg(long = "rate-limit", value_name = "N", default_value_t = 0)]
    rate_limit: usize,
    /// Rate limit period in seconds.
    #[arg(long = "rate-period", value_name = "SECS", default_value_t = 60.0)]
    rate_period: f64,
    /// Flap suppression: after an alert for a process, further crash alerts for it within this
    /// many seconds are counted, not sent (0 = off).
    #[arg(long = "flap-window", value_name = "SECS", default_value_t = 0.0)]
    flap_window: f64,
    /// Retries after a failed POST (exponential backoff from 1 s).
    #[arg(long = "retries", value_name = "N", default_value_t = 3)]
    retries: u32,
    /// Seconds one POST may take.
    #[arg(long = "timeout", value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    /// Accept any TLS certificate.
    #[arg(long = "insecure")]
    insecure: bool,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    routes: Vec<RouteConfig>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct RouteConfig {
    #[serde(default)]
    name: Option<String>,
    url: String,
    #[serde(default = "default_format")]
    format: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    programs: Vec<String>,
    #[serde(default)]
    rate_limit: usize,
    #[serde(default = "default_rate_period")]
    rate_period: f64,
    #[serde(default)]
    flap_window: f64,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_timeout")]
    timeout: f64,
    #[serde(default)]
    insecure: bool,
}

fn default_format() -> String {
    "json".into()
}
fn default_rate_period() -> f64 {
    60.0
}
fn default_retries() -> u32 {
    3
}
fn default_timeout() -> f64 {
    10.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Slack,
    Discord,
    Teams,
    Alertmanager,
}

impl Format {
    fn parse(s: &str) -> Result<Format, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "json" | "generic" => Format::Json,
            "slack" => Format::Slack,
            "discord" => Format::Discord,
            "teams" | "msteams" => Format::Teams,
            "alertmanager" => Format::Alertmanager,
            other => return Err(format!("unknown format {other:?}")),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Firing,
    Resolved,
    Info,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
            Status::Info => "info",
        }
    }
}

struct Route {
    name: String,
    url: String,
    format: Format,
    headers: Vec<(String, String)>,
    template: String,
    body: Option<String>,
    events: Vec<EventKind>,
    programs: Vec<String>,
    limiter: RateLimiter,
    flap: FlapGuard,
    policy: RetryPolicy,
    client: Client,
    /// namespec -> startsAt of the open alert.
    firing: HashMap<String, String>,
    /// One sender per route, so a dead endpoint's retries never delay the others.
    outbox: Outbox,
}

impl Route {
    fn new(c: RouteConfig, index: usize) -> Result<Route, String> {
        let format = Format::parse(&c.format)?;
        let names = c.events.unwrap_or_else(|| {
            vec![
                "PROCESS_STATE_EXITED".into(),
                "PROCESS_STATE_FATAL".into(),
                "PROCESS_STATE_RUNNING".into(),
            ]
        });
        let events = names
            .iter()
            .map(|n| {
                let n = n.trim().to_ascii_uppercase();
                EventKind::from_name(&n).ok_or_else(|| format!("unknown event type {n}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !c.url.starts_with("http://") && !c.url.starts_with("https://") {
            return Err(format!("bad URL {:?} (http:// or https://)", c.url));
        }
        Ok(Route {
            name: c.name.unwrap_or_else(|| format!("route {}", index + 1)),
            client: http::client(Duration::from_secs_f64(c.timeout.max(0.1)), c.insecure)?,
            url: c.url,
            format,
            headers: c.headers.into_iter().collect(),
            template: c.template.unwrap_or_else(|| "{summary}".into()),
            body: c.body,
            events,
            programs: c.programs,
            limiter: RateLimiter::new(
                c.rate_limit,
                Duration::from_secs_f64(c.rate_period.max(0.001)),
            ),
            flap: FlapGuard::new(Duration::from_secs_f64(c.flap_window.max(0.0))),
            policy: RetryPolicy {
                retries: c.retries,
                ..RetryPolicy::default()
            },
            firing: HashMap::new(),
            outbox: Outbox::new(Duration::from_secs_f64(c.timeout.max(1.0) * 2.0)),
        })
    }

    fn wants_program(&self, ev: &Event) -> bool {
        if self.programs.is_empty() {
            return true;
        }
        let group_all = format!("{}:*", ev.groupname());
        let full = format!("{}:{}", ev.groupname(), ev.processname());
        self.programs
            .iter()
            .any(|p| *p == ev.processname() || *p == full || *p == ev.namespec() || *p == group_all)
    }

    fn wants_event(&self, kind: EventKind) -> bool {
        self.events.iter().any(|k| k.matches(kind))
    }
}

struct Webhook {
    routes: Vec<Route>,
}

fn summary(ev: &Event, status: Status) -> String {
    let host = timefmt::hostname();
    match (status, ev.name()) {
        (Status::Firing, "PROCESS_STATE_FATAL") => format!(
            "{} entered FATAL state (too many start retries) on {host}",
            ev.namespec()
        ),
        (Status::Firing, _) => format!(
            "{} exited unexpectedly (pid {}) from state {} on {host}",
            ev.namespec(),
            ev.get("pid").unwrap_or("?"),
            ev.get("from_state").unwrap_or("?")
        ),
        (Status::Resolved, _) => format!(
            "{} is RUNNING again (pid {}) on {host}",
            ev.namespec(),
            ev.get("pid").unwrap_or("?")
        ),
        (Status::Info, name) if ev.tokens.contains_key("processname") => {
            format!("{name} {} on {host}", ev.namespec())
        }
        (Status::Info, name) => format!("{name} on {host}"),
    }
}

impl Webhook {
    fn deliver(&mut self, ev: &Event) {
        let Some(kind) = ev.kind else {
            return;
        };
        let now = Instant::now();
        let now_s = timefmt::rfc3339(timefmt::now_f64());
        for route in &mut self.routes {
            if !route.wants_event(kind) {
                continue;
            }
            let has_process = ev.tokens.contains_key("processname");
            if has_process && !route.wants_program(ev) {
                continue;
            }
            let ns = ev.namespec();
            let status = match kind {
                EventKind::ProcessStateExited if ev.expected() == Some(false) => Status::Firing,
                EventKind::ProcessStateExited => continue,
                EventKind::ProcessStateFatal => Status::Firing,
                EventKind::ProcessStateRunning => {
                    if route.firing.contains_key(&ns) {
                        Status::Resolved
                    } else {
                        continue;
                    }
                }
                _ if route.format == Format::Alertmanager => continue,
                _ => Status::Info,
            };
            let mut suppressed = 0;
            if status == Status::Firing {
                match route.flap.peek(&ns, now) {
                    Some(n) => suppressed = n,
                    None => {
                        route.flap.suppress(&ns);
                        log(&format!(
                            "{}: {ns} is flapping; alert for {} suppressed",
                            route.name,
                            ev.name()
                        ));
                        continue;
                    }
                }
            }
            if !route.limiter.allow(now) {
                log(&format!(
                    "{}: rate limit reached, dropping {} alert for {}",
                    route.name,
                    status.name(),
                    if ns.is_empty() { ev.name() } else { &ns }
                ));
                continue;
            }
            if status == Status::Firing {
                // Only an alert that really goes out opens a flap window.
                route.flap.record(&ns, now);
            }
            let starts_at = match status {
                Status::Firing => {
                    route.firing.insert(ns.clone(), now_s.clone());
                    now_s.clone()
                }
                Status::Resolved => route.firing.remove(&ns).unwrap_or_else(|| now_s.clone()),
                Status::Info => now_s.clone(),
            };
            let mut vars = ev.vars();
            let mut sum = summary(ev, status);
            if suppressed > 0 {
                sum.push_str(&format!(
                    " ({suppressed} more alerts suppressed while flapping)"
                ));
            }
            vars.insert("status".into(), status.name().into());
            vars.insert("summary".into(), sum);
            vars.insert("suppressed".into(), suppressed.to_string());
            vars.insert("time".into(), now_s.clone());
            let text = render(&route.template, &vars);
            let (content_type, body) = match &route.body {
                Some(t) => ("application/json", render_json(t, &vars)),
                None => (
                    "application/json",
                    build_body(route.format, status, &text, &vars, &starts_at, &now_s).to_string(),
                ),
            };
            let client = route.client.clone();
            let url = route.url.clone();
            let headers = route.headers.clone();
            let what = format!("{}: POST {} ({} {})", route.name, url, status.name(), ns);
            route.outbox.push(
                what,
                route.policy,
                None,
                Box::new(move || http::post(&client, &url, &headers, content_type, &body)),
            );
        }
    }
}

fn build_body(
    format: Format,
    status: Status,
    text: &str,
    vars: &BTreeMap<String, String>,
    starts_at: &str,
    now: &str,
) -> Json {
    let v = |k: &str| vars.get(k).cloned().unwrap_or_default();
    match format {
        Format::Json => {
            let mut m = serde_json::Map::new();
            m.insert("status".into(), json!(status.name()));
            m.insert("message".into(), json!(text));
            for (k, val) in vars {
                if k != "summary" && k != "status" {
                    m.insert(k.clone(), json!(val));
                }
            }
            Json::Object(m)
        }
        Format::Slack => json!({ "text": text }),
        Format::Discord => json!({ "content": text }),
        Format::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": text,
            "themeColor": match status { Status::Firing => "D70000", Status::Resolved => "2DC72D", Status::Info => "0076D7" },
            "title": format!("supervisord: {}", status.name()),
            "text": text,
        }),
        Format::Alertmanager => {
            let alertname = "SupervisorProcessDown";
            let mut alert = json!({
                "labels": {
                    "alertname": alertname,
                    "namespec": v("namespec"),
                    "processname": v("processname"),
                    "groupname": v("groupname"),
                    "instance": v("hostname"),
                    "server": v("server"),
                    "severity": "critical",
                },
                "annotations": {
                    "summary": text,
                    "event": v("eventname"),
                },
                "startsAt": starts_at,
            });
            if status == Status::Resolved {
                alert["endsAt"] = json!(now);
            }
            json!([alert])
        }
    }
}

impl Handler for Webhook {
    fn handle(&mut self, ev: &Event) -> Verdict {
        self.deliver(ev);
        Verdict::Ok
    }

    fn finish(&mut self) {
        // Routes drain in parallel: each outbox already had the whole queue to work on.
        for r in &mut self.routes {
            r.outbox.close();
        }
    }
}

fn routes_from(cli: &Cli) -> Result<Vec<Route>, String> {
    let mut configs = Vec::new();
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: FileConfig =
            serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        configs.extend(file.routes);
    }
    if let Some(url) = &cli.url {
        let mut headers = BTreeMap::new();
        for h in &cli.headers {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| format!("bad header {h:?} (Name: value)"))?;
            headers.insert(k.trim().to_string(), v.trim().to_string());
        }
        configs.push(RouteConfig {
            name: Some("webhook".into()),
            url: url.clone(),
            format: cli.format.clone(),
            headers,
            template: cli.template.clone(),
            body: cli.body.clone(),
            events: cli
                .events
                .as_ref()
                .map(|e| e.split(',').map(str::to_string).collect()),
            programs: cli.programs.clone(),
            rate_limit: cli.rate_limit,
            rate_period: cli.rate_period,
            flap_window: cli.flap_window,
            retries: cli.retries,
            timeout: cli.timeout,
            insecure: cli.insecure,
        });
    }
    if configs.is_empty() {
        return Err("no target: give --url or --config".into());
    }
    configs
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let name = c.name.clone().unwrap_or_else(|| format!("route {}", i + 1));
            Route::new(c, i).map_err(|e| format!("{name}: {e}"))
        })
        .collect()
}

fn main() {
    let cli: Cli = parse_or_usage(255);
    let routes = match routes_from(&cli) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("webhook: {e}");
            std::process::exit(2);
        }
    };
    if !under_supervisor() {
        eprintln!("webhook must be run as a supervisor event listener");
        std::process::exit(1);
    }
    let mut h = Webhook { routes };
    if let Err(e) = runtime::run(&mut h) {
        log(&format!("webhook: {e}"));
    }
}
