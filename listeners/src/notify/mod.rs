//! Notifiers and the machinery around them.
//!
//! * [`mail`]: SMTP (lettre; plain, STARTTLS, implicit TLS, AUTH) or a sendmail-style command.
//! * [`http`]: HTTP POST/GET with reqwest's blocking client (rustls).
//! * [`template`]: `{var}` substitution.
//! * [`Outbox`]: a worker thread that runs send jobs with retries and exponential backoff, so
//!   the protocol loop only enqueues and acknowledges at once; every failure is logged on
//!   stderr with the server's reply and is never fatal.
//! * [`RateLimiter`] and [`FlapGuard`]: at most N sends per period; N crashes of one process
//!   within T seconds produce one alert.

pub mod http;
pub mod mail;
pub mod template;

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::runtime::log;

/// How often and how patiently a job is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Delay before the first retry; doubled each time up to `max_delay`.
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Jobs an [`Outbox`] holds at most; more are dropped with a log line, so a dead server
/// cannot make a listener hoard alerts (and memory) without bound.
pub const MAX_PENDING: usize = 1000;

/// One unit of work: returns a short success note or the error text (with the server reply).
pub type SendFn = Box<dyn FnMut() -> Result<String, String> + Send>;

struct Job {
    what: String,
    send: SendFn,
    policy: RetryPolicy,
    on_success: Option<String>,
}

/// A background sender. Dropping it (or [`Outbox::close`]) waits for queued jobs, bounded by
/// the drain timeout.
pub struct Outbox {
    tx: Option<Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    done_rx: Receiver<()>,
    pending: usize,
    drain_timeout: Duration,
}

impl Outbox {
    pub fn new(drain_timeout: Duration) -> Outbox {
        let (tx, rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let worker = thread::spawn(move || {
            for mut job in rx {
                run_job(&mut job);
                let _ = done_tx.send(());
            }
        });
        Outbox {
            tx: Some(tx),
            worker: Some(worker),
            done_rx,
            pending: 0,
            drain_timeout,
        }
    }

    /// Queues `send`; `what` names it in log lines; `on_success` is logged after it worked.
    pub fn push(
        &mut self,
        what: impl Into<String>,
        policy: RetryPolicy,
        on_success: Option<String>,
        send: SendFn,
    ) {
        while self.done_rx.try_recv().is_ok() {
            self.pending = self.pending.saturating_sub(1);
        }
        let what = what.into();
        if self.pending >= MAX_PENDING {
            log(&format!(
                "{what}: {} notifications are already waiting (is the server down?); dropped",
                self.pending
            ));
            return;
        }
        let job = Job {
            what,
            send,
            policy,
            on_success,
        };
        if let Some(tx) = &self.tx {
            if tx.send(job).is_ok() {
                self.pending += 1;
            }
        }
    }

    /// Waits until every queued job finished, at most `timeout`; true if all did.
    pub fn wait_idle(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.done_rx.recv_timeout(left) {
                Ok(()) => self.pending -= 1,
                Err(_) => return false,
            }
        }
        true
    }

    /// Stops accepting jobs and waits (bounded) for the queue to drain.
    pub fn close(&mut self) {
        self.tx.take();
        if !self.wait_idle(self.drain_timeout) {
            log(&format!(
                "giving up on {} unsent notification(s) at exit",
                self.pending
            ));
            return;
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.close();
    }
}

fn run_job(job: &mut Job) {
    let attempts = job.policy.retries + 1;
    for attempt in 1..=attempts {
        match (job.send)() {
            Ok(note) => {
                if let Some(msg) = &job.on_success {
                    log(msg);
                } else if !note.is_empty() {
                    log(&format!("{}: {note}", job.what));
                }
                return;
            }
            Err(e) if attempt < attempts => {
                let delay = job.policy.delay(attempt);
                log(&format!(
                    "{} failed (attempt {attempt}/{attempts}): {e}; retrying in {:.1}s",
                    job.what,
                    delay.as_secs_f64()
                ));
                thread::sleep(delay);
            }
            Err(e) => {
                log(&format!(
                    "{} failed (attempt {attempt}/{attempts}): {e}; giving up",
                    job.what
                ));
            }
        }
    }
}

/// A sliding-window limiter: at most `max` events per `period`. `max == 0` means unlimited.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    pub max: usize,
    pub period: Duration,
    sent: Vec<Instant>,
}

impl RateLimiter {
    pub fn new(max: usize, period: Duration) -> RateLimiter {
        RateLimiter {
            max,
            period,
            sent: Vec::new(),
        }
    }

    pub fn unlimited() -> RateLimiter {
        RateLimiter::new(0, Duration::from_secs(60))
    }

    /// Records and allows one event at `now`, or refuses it.
    pub fn allow(&mut self, now: Instant) -> bool {
        if self.max == 0 {
            return true;
        }
        self.sent
            .retain(|t| now.saturating_duration_since(*t) < self.period);
        if self.sent.len() >= self.max {
            return false;
        }
        self.sent.push(now);
        true
    }
}

/// Flap suppression: the first alert for a key goes out; further ones within `window` of it
/// are counted, not sent. The next alert after the window carries the count.
#[derive(Debug, Clone)]
pub struct FlapGuard {
    pub window: Duration,
    last: HashMap<String, (Instant, u32)>,
}

impl FlapGuard {
    pub fn new(window: Duration) -> FlapGuard {
        FlapGuard {
            window,
            last: HashMap::new(),
        }
    }

    /// `Some(suppressed_before)` when an alert for `key` should go out now; records it as
    /// sent (or counts it as suppressed).
    pub fn check(&mut self, key: &str, now: Instant) -> Option<u32> {
        let verdict = self.peek(key, now);
        match verdict {
            Some(_) => self.record(key, now),
            None => self.suppress(key),
        }
        verdict
    }

    /// Like [`FlapGuard::check`] without changing anything (to consult a rate limiter first).
    pub fn peek(&self, key: &str, now: Instant) -> Option<u32> {
        if self.window.is_zero() {
            return Some(0);
        }
        match self.last.get(key) {
            Some((at, _)) if now.saturating_duration_since(*at) < self.window => None,
            Some((_, count)) => Some(*count),
            None => Some(0),
        }
    }

    /// Records that an alert for `key` went out at `now`.
    pub fn record(&mut self, key: &str, now: Instant) {
        if !self.window.is_zero() {
            self.last.insert(key.to_string(), (now, 0));
        }
    }

    /// Counts a suppressed alert for `key`.
    pub fn suppress(&mut self, key: &str) {
        if let Some(entry) = self.last.get_mut(key) {
            entry.1 += 1;
        }
    }

    /// Forgets `key` (e.g. the process is healthy again).
    pub fn reset(&mut self, key: &str) {
        self.last.remove(key);
    }
}

/// Parses a duration like `30`, `30s`, `5m`, `2h`, `1d` (superlance's `-u` syntax).
pub fn parse_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last()? {
        (i, c) if c.eq_ignore_ascii_case(&'s') => (&t[..i], 1),
        (i, c) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 60),
        (i, c) if c.eq_ignore_ascii_case(&'h') => (&t[..i], 3600),
        (i, c) if c.eq_ignore_ascii_case(&'d') => (&t[..i], 86400),
        _ => (t, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            retries: 10,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(4), Duration::from_millis(500));
        assert_eq!(p.delay(40), Duration::from_millis(500));
    }

    #[test]
    fn rate_limiter_window() {
        let mut r = RateLimiter::new(2, Duration::from_secs(10));
        let t = Instant::now();
        assert!(r.allow(t));
        assert!(r.allow(t + Duration::from_secs(1)));
        assert!(!r.allow(t + Duration::from_secs(2)));
        assert!(r.allow(t + Duration::from_secs(11)));
        assert!(RateLimiter::unlimited().allow(t));
    }

    #[test]
    fn flap_guard_counts() {
        let mut f = FlapGuard::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(f.check("a", t), Some(0));
        assert_eq!(f.check("a", t + Duration::from_secs(1)), None);
        assert_eq!(f.check("a", t + Duration::from_secs(2)), None);
        assert_eq!(f.check("b", t + Duration::from_secs(2)), Some(0));
        assert_eq!(f.check("a", t + Duration::from_secs(61)), Some(2));
        f.reset("a");
        assert_eq!(f.check("a", t + Duration::from_secs(62)), Some(0));
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("90"), Some(90));
        assert_eq!(parse_seconds("5m"), Some(300));
        assert_eq!(parse_seconds("2H"), Some(7200));
        assert_eq!(parse_seconds("1d"), Some(86400));
        assert_eq!(parse_seconds("x"), None);
    }

    #[test]
    fn outbox_retries_then_succeeds() {
        let tries = Arc::new(Mutex::new(0));
        let t2 = tries.clone();
        let mut o = Outbox::new(Duration::from_secs(5));
        o.push(
            "test",
            RetryPolicy {
                retries: 3,
                initial_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            },
            None,
            Box::new(move || {
                let mut n = t2.lock().unwrap();
                *n += 1;
                if *n < 3 {
                    Err("nope".into())
                } else {
                    Ok(String::new())
                }
            }),
        );
        assert!(o.wait_idle(Duration::from_secs(5)));
        assert_eq!(*tries.lock().unwrap(), 3);
    }
}
