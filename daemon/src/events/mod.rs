//! The event bus and the event listener pools (upstream `events.py` + `EventListenerPool` +
//! `PEventListenerDispatcher`), as pure logic: no processes, no pipes, no clock. The runtime
//! publishes [`Event`]s, feeds listener stdout bytes in, reports spawns and exits, and calls
//! [`EventBus::dispatch`] once per loop iteration with a way to write to a listener's stdin.
//! Everything the bus has to say comes back as log lines ([`Log`]).
//!
//! Why each rule is what it is (upstream-reference §1.5–§1.9):
//!
//! * **Subscriptions** follow the type hierarchy (a parent type receives all descendants). A
//!   pool subscribed to a parent *and* a child (`events=TICK,TICK_5`) accepts the event twice,
//!   exactly like upstream (the second acceptance is logged as a rebuffering and appends a
//!   duplicate with the same serials). Kept on purpose: it is observable, documented upstream
//!   behaviour, and the config already removes exact duplicates.
//! * **Serials**: the global serial is assigned when the first pool accepts an event (events
//!   nobody subscribes to consume none) and each pool assigns its poolserial on its first
//!   acceptance; a rebuffered event keeps both. The global counter is carried across
//!   in-process restarts by the runtime ([`EventBus::next_serial`]); pool counters restart.
//! * **Buffers** are FIFO with `buffer_size` slots. Accepting into a full buffer drops the
//!   *oldest* event with an ERRO line, and the pool counts its drops ([`EventBus::dropped`]).
//!   Exception: a PROCESS_LOG chunk that a full buffer would make room for is first offered to
//!   the event at the buffer's tail (same output, never sent, at most 128 KiB and
//!   `buffer_size` chunks), so a chatty program loses nothing where it can be avoided; while
//!   the buffer has room every chunk stays its own event, as upstream.
//! * **Dispatch**: for every pool with an eligible listener (process RUNNING and listener
//!   READY), pop the oldest event and give it to the first eligible listener in pool order;
//!   stop at the first event that cannot be placed and put it back at the head.
//! * **Rejection** (a non-`OK` result, a bad result line, a listener that dies while BUSY)
//!   puts the event back at the head of the listener's *own* pool, with the same serials.
//!   Upstream compares processes by priority only and so also re-injects the event into every
//!   other pool whose processes share that priority (999 by default); we deliberately do not
//!   (see `docs/compat.md`, "Events").
//! * **Result handlers** ([`handlers`]): upstream's default (`OK` accepts, anything else
//!   rejects) and the echo handlers of supervisor-stdout and supervisor-stdlog, judged while
//!   the listener's output is parsed; what they print is collected for the runtime
//!   ([`EventBus::take_relays`]). Any other handler is refused when the config is loaded.
//! * **Backoff**: upstream resends a rejected event at once, so a listener that rejects
//!   everything turns into a busy loop. The first rejection in a row is resent at once (as
//!   upstream: a listener that alternates FAIL/OK still sees each event twice); after that the
//!   pool waits 50 ms, doubling up to 5 s, before it dispatches again. Only the first
//!   rejection of a streak is logged one per event (upstream's WARN); the second logs that a
//!   backoff starts, and the streak's end logs its count.
//! * **Ticks**: TICK_5/60/3600 fire when the wall-clock slice `now - now % period` changes;
//!   the first check only records the slice, and at most one tick per type fires per check.

pub mod handlers;

use std::collections::VecDeque;
use std::fmt::Debug;
use std::rc::Rc;
use std::time::{Duration, Instant};

use supervisor_protocol::events::{encode_notification, Event, EventKind, TICKS};
use supervisor_protocol::listener::{
    ListenerOutput, ListenerParser, ListenerState, Verdict, MAX_UNPARSED,
};

use crate::config::model::{PoolConfig, ResultHandler};
use crate::logs::LogLevel;
use handlers::{Handlers, Relay};

/// A main-log line produced by the bus.
pub type Log = (LogLevel, String);

/// Upstream wraps serials to 0 after `sys.maxsize`.
const SERIAL_MAX: u64 = i64::MAX as u64;

fn bump(counter: &mut u64) -> u64 {
    let serial = *counter;
    *counter = if serial >= SERIAL_MAX { 0 } else { serial + 1 };
    serial
}

/// Wait before resending after the second rejection in a row; doubles per rejection.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
/// Longest wait before resending a rejected event.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How long a pool waits before dispatching again after `streak` rejections in a row.
fn backoff(streak: u32) -> Duration {
    match streak {
        0 | 1 => Duration::ZERO,
        n => BACKOFF_FIRST
            .saturating_mul(1u32 << (n - 2).min(16))
            .min(BACKOFF_MAX),
    }
}

/// Largest PROCESS_LOG payload built by merging chunks (upstream reads at most 128 KiB).
const MAX_COALESCED_LOG: usize = 128 * 1024;

/// How a PROCESS_LOG payload that is not UTF-8 starts (never merged: it is one `repr`).
const UNDECODABLE: &str = "Undecodable: b";

/// One event in a pool's buffer (or in flight to a listener), with its serials.
#[derive(Debug, Clone)]
struct Queued {
    event: Rc<Event>,
    serial: u64,
    poolserial: u64,
    /// Never handed to a listener yet (only such events may absorb later PROCESS_LOG chunks).
    fresh: bool,
    /// PROCESS_LOG chunks (reads) this event carries: 1, more once it absorbed chunks that a
    /// full buffer would otherwise have dropped.
    chunks: usize,
}

/// One listener process of a pool, keyed by the runtime's process key `K`.
#[derive(Debug)]
struct Listener<K> {
    key: K,
    name: String,
    parser: ListenerParser,
    /// The event sent and not yet answered (upstream `process.event`).
    current: Option<Queued>,
}

#[derive(Debug)]
struct Pool<K> {
    name: String,
    subscriptions: Vec<EventKind>,
    buffer_size: usize,
    buffer: VecDeque<Queued>,
    next_poolserial: u64,
    /// Events dropped because the buffer overflowed.
    dropped: u64,
    /// Notifications written to a listener's stdin (a redelivery counts again).
    sent: u64,
    /// Results that rejected an event (`FAIL`, a bad result line, or the listener dying busy).
    rejected: u64,
    handler: ResultHandler,
    /// Results rejected in a row (reset by an accepted one).
    streak: u32,
    /// No dispatch before this (backoff after repeated rejections).
    retry_at: Option<Instant>,
    /// In pool process order (the order dispatch tries them).
    listeners: Vec<Listener<K>>,
}

impl<K> Pool<K> {
    /// Upstream `_acceptEvent` for an event that already has this pool's serials.
    fn rebuffer(&mut self, q: Queued, head: bool, logs: &mut Vec<Log>) {
        logs.push((
            LogLevel::Debug,
            format!(
                "rebuffering event {} for pool {} (buf size={}, max={})",
                q.serial,
                self.name,
                self.buffer.len(),
                self.buffer_size
            ),
        ));
        self.insert(q, head, logs);
    }

    /// Append PROCESS_LOG chunk `event` to the event waiting at the tail of the buffer, when
    /// that event is the same output (process, group, pid, channel), was never sent, and stays
    /// within [`MAX_COALESCED_LOG`] bytes and `buffer_size` chunks. Chunk boundaries are kept
    /// wherever the buffer has room; merging only replaces upstream's drop of the oldest event.
    fn absorb(&mut self, event: &Event) -> bool {
        if !matches!(
            event.kind,
            EventKind::ProcessLogStdout | EventKind::ProcessLogStderr
        ) {
            return false;
        }
        let Some((head, data)) = event.payload.split_once('\n') else {
            return false;
        };
        let Some(tail) = self.buffer.back_mut() else {
            return false;
        };
        if !tail.fresh || tail.event.kind != event.kind || tail.chunks >= self.buffer_size {
            return false;
        }
        let Some((thead, tdata)) = tail.event.payload.split_once('\n') else {
            return false;
        };
        if thead != head
            || tdata.starts_with(UNDECODABLE)
            || data.starts_with(UNDECODABLE)
            || tail.event.payload.len() + data.len() > MAX_COALESCED_LOG
        {
            return false;
        }
        // Unshared (one subscribed pool): appended in place; else this pool gets its own copy.
        Rc::make_mut(&mut tail.event).payload.push_str(data);
        tail.chunks += 1;
        true
    }

    fn insert(&mut self, q: Queued, head: bool, logs: &mut Vec<Log>) {
        if self.buffer.len() >= self.buffer_size {
            if let Some(old) = self.buffer.pop_front() {
                self.dropped += 1;
                logs.push((
                    LogLevel::Error,
                    format!(
                        "pool {} event buffer overflowed, discarding event {}",
                        self.name, old.serial
                    ),
                ));
            }
        }
        if head {
            self.buffer.push_front(q);
        } else {
            self.buffer.push_back(q);
        }
    }
}

/// A pool's counters since it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub name: String,
    /// Notifications sent to listeners.
    pub sent: u64,
    /// Events a listener rejected (they are redelivered).
    pub rejected: u64,
    /// Events discarded because the buffer was full.
    pub dropped: u64,
    /// Events waiting in the buffer now.
    pub queued: usize,
}

/// All listener pools and the global serial. `K` identifies a listener process (the runtime
/// uses `ProcKey`; tests use integers).
#[derive(Debug)]
pub struct EventBus<K> {
    identifier: String,
    next_serial: u64,
    /// In creation order (upstream's subscription order).
    pools: Vec<Pool<K>>,
    /// Last recorded slice per tick type, `None` until the first check.
    ticks: [Option<u64>; 3],
    handlers: Handlers,
    /// What result handlers printed, for the runtime to write out.
    relays: Vec<Relay>,
}

impl<K: Copy + Eq + Debug> EventBus<K> {
    /// `identifier` is `[supervisord] identifier` (the `server:` token); `next_serial` the
    /// first global serial to hand out (0 at boot, [`EventBus::next_serial`] after a restart).
    pub fn new(identifier: &str, next_serial: u64) -> EventBus<K> {
        EventBus {
            identifier: identifier.to_string(),
            next_serial,
            pools: Vec::new(),
            ticks: [None; 3],
            handlers: Handlers::default(),
            relays: Vec::new(),
        }
    }

    /// The global serial the next new event will get.
    pub fn next_serial(&self) -> u64 {
        self.next_serial
    }

    /// Create a pool (subscribing it) with its listener processes `(key, process name)` in
    /// pool order. A pool of the same name is replaced.
    pub fn add_pool(&mut self, name: &str, config: &PoolConfig, members: Vec<(K, String)>) {
        self.remove_pool(name);
        let subscriptions = config
            .events
            .iter()
            .filter_map(|e| EventKind::from_name(&e.to_uppercase()))
            .collect();
        self.pools.push(Pool {
            name: name.to_string(),
            subscriptions,
            buffer_size: config.buffer_size.max(1),
            buffer: VecDeque::new(),
            next_poolserial: 0,
            dropped: 0,
            sent: 0,
            rejected: 0,
            handler: config.result_handler,
            streak: 0,
            retry_at: None,
            listeners: members
                .into_iter()
                .map(|(key, name)| Listener {
                    key,
                    name,
                    parser: ListenerParser::new(),
                    current: None,
                })
                .collect(),
        });
    }

    /// Unsubscribe and forget a pool (its buffered events are lost, as upstream).
    pub fn remove_pool(&mut self, name: &str) {
        self.pools.retain(|p| p.name != name);
    }

    pub fn has_pool(&self, name: &str) -> bool {
        self.pools.iter().any(|p| p.name == name)
    }

    /// Events dropped by a pool's buffer overflows since it was created.
    pub fn dropped(&self, pool: &str) -> Option<u64> {
        self.pools
            .iter()
            .find(|p| p.name == pool)
            .map(|p| p.dropped)
    }

    /// Events waiting in a pool's buffer.
    pub fn buffered(&self, pool: &str) -> Option<usize> {
        self.pools
            .iter()
            .find(|p| p.name == pool)
            .map(|p| p.buffer.len())
    }

    /// Counters of every pool, in creation order (for `/metrics`).
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.pools
            .iter()
            .map(|p| PoolStats {
                name: p.name.clone(),
                sent: p.sent,
                rejected: p.rejected,
                dropped: p.dropped,
                queued: p.buffer.len(),
            })
            .collect()
    }

    /// True if `key` is a listener process of some pool.
    pub fn is_listener(&self, key: K) -> bool {
        self.listener(key).is_some()
    }

    /// The protocol state of a listener process.
    pub fn listener_state(&self, key: K) -> Option<ListenerState> {
        self.listener(key).map(|l| l.parser.state())
    }

    fn listener(&self, key: K) -> Option<&Listener<K>> {
        self.pools
            .iter()
            .flat_map(|p| p.listeners.iter())
            .find(|l| l.key == key)
    }

    /// (pool index, listener index) of a listener process.
    fn locate(&self, key: K) -> Option<(usize, usize)> {
        self.pools.iter().enumerate().find_map(|(pi, p)| {
            p.listeners
                .iter()
                .position(|l| l.key == key)
                .map(|li| (pi, li))
        })
    }

    /// Offer an event to every subscribed pool (upstream `notify`).
    pub fn publish(&mut self, event: Event) -> Vec<Log> {
        let mut logs = Vec::new();
        let kind = event.kind;
        let mut event = Some(event);
        let mut shared: Option<Rc<Event>> = None;
        let mut serial: Option<u64> = None;
        for pool in &mut self.pools {
            let matches = pool
                .subscriptions
                .iter()
                .filter(|s| s.matches(kind))
                .count();
            if matches == 0 {
                continue;
            }
            // Where upstream would drop the oldest event, a PROCESS_LOG chunk joins the waiting
            // event of the same output at the tail instead (subscribed twice: kept apart).
            if matches == 1 && pool.buffer.len() >= pool.buffer_size {
                let ev = shared.as_deref().or(event.as_ref());
                if ev.is_some_and(|ev| pool.absorb(ev)) {
                    continue;
                }
            }
            let ev = match (&shared, event.take()) {
                (Some(rc), _) => rc.clone(),
                (None, Some(e)) => shared.insert(Rc::new(e)).clone(),
                (None, None) => continue,
            };
            let serial = *serial.get_or_insert_with(|| bump(&mut self.next_serial));
            let poolserial = bump(&mut pool.next_poolserial);
            for i in 0..matches {
                let q = Queued {
                    event: ev.clone(),
                    serial,
                    poolserial,
                    fresh: true,
                    chunks: 1,
                };
                if i == 0 {
                    pool.insert(q, false, &mut logs);
                } else {
                    // Subscribed twice (parent and child): upstream accepts it again.
                    pool.rebuffer(q, false, &mut logs);
                }
            }
        }
        logs
    }

    /// Check the tick slices at wall-clock time `now` (UNIX seconds) and publish the ticks
    /// whose slice changed.
    pub fn tick(&mut self, now: f64) -> Vec<Log> {
        let mut logs = Vec::new();
        for (i, (kind, period)) in TICKS.iter().enumerate() {
            let now_s = if now.is_finite() && now > 0.0 {
                now
            } else {
                0.0
            };
            let p = *period as f64;
            let slice = (now_s - now_s % p) as u64;
            match self.ticks[i] {
                None => self.ticks[i] = Some(slice),
                Some(last) if last != slice => {
                    self.ticks[i] = Some(slice);
                    logs.extend(self.publish(Event::tick(*kind, slice)));
                }
                Some(_) => {}
            }
        }
        logs
    }

    /// Seconds (UNIX time) at which the next TICK_5 slice starts after `now`.
    pub fn next_tick_at(now: f64) -> f64 {
        let now = if now.is_finite() && now > 0.0 {
            now
        } else {
            0.0
        };
        now - now % 5.0 + 5.0
    }

    /// A new run of a listener process: it starts ACKNOWLEDGED, awaiting `READY\n`.
    pub fn listener_spawned(&mut self, key: K) {
        if let Some((pi, li)) = self.locate(key) {
            let l = &mut self.pools[pi].listeners[li];
            l.parser = ListenerParser::new();
            l.current = None;
        }
    }

    /// A listener process was reaped. An event it had not answered is rejected: it goes back
    /// to the head of the pool to be sent again with the same serials.
    pub fn listener_exited(&mut self, key: K) -> Vec<Log> {
        let mut logs = Vec::new();
        if let Some((pi, li)) = self.locate(key) {
            let pool = &mut self.pools[pi];
            if let Some(q) = pool.listeners[li].current.take() {
                pool.rejected += 1;
                pool.rebuffer(q, true, &mut logs);
            }
        }
        logs
    }

    /// Bytes the listener wrote on stdout, read at `now`.
    pub fn listener_output(&mut self, key: K, data: &[u8], now: Instant) -> Vec<Log> {
        let mut logs = Vec::new();
        let Some((pi, li)) = self.locate(key) else {
            return logs;
        };
        let EventBus {
            pools,
            handlers,
            relays,
            ..
        } = self;
        let pool = &mut pools[pi];
        let handler = pool.handler;
        let outputs = pool.listeners[li]
            .parser
            .feed_judged(data, &mut |body| handlers.judge(handler, body, relays));
        let name = pool.listeners[li].name.clone();
        let mut rejected: Option<Queued> = None;
        for out in outputs {
            match out {
                ListenerOutput::Result(Verdict::Accepted) => {
                    pool.listeners[li].current = None;
                    logs.push((LogLevel::Debug, format!("{name}: event was processed")));
                    if pool.streak >= 2 {
                        logs.push((
                            LogLevel::Warn,
                            format!(
                                "pool {}: an event was accepted after {} rejections in a row",
                                pool.name, pool.streak
                            ),
                        ));
                    }
                    pool.streak = 0;
                    pool.retry_at = None;
                }
                ListenerOutput::Result(Verdict::Rejected) => {
                    let current = pool.listeners[li].current.take();
                    pool.streak = pool.streak.saturating_add(1);
                    match pool.streak {
                        1 => logs.push((LogLevel::Warn, format!("{name}: event was rejected"))),
                        2 => logs.push((
                            LogLevel::Warn,
                            format!(
                                "pool {}: events rejected twice in a row; resending with a \
                                 backoff (up to {} s), further rejections are counted, not \
                                 logged",
                                pool.name,
                                BACKOFF_MAX.as_secs()
                            ),
                        )),
                        _ => {}
                    }
                    pool.retry_at = Some(now + backoff(pool.streak));
                    pool.rejected += u64::from(current.is_some());
                    rejected = current;
                }
                ListenerOutput::Result(Verdict::Error) => {
                    logs.push((LogLevel::Warn, format!("{name}: event caused an error")));
                    rejected = pool.listeners[li].current.take();
                    pool.rejected += u64::from(rejected.is_some());
                }
                ListenerOutput::BadResultLine(line) => {
                    let line = supervisor_protocol::events::decode_text(&line);
                    logs.push((LogLevel::Warn, format!("{name}: bad result line: '{line}'")));
                    rejected = pool.listeners[li].current.take();
                    pool.rejected += u64::from(rejected.is_some());
                }
                ListenerOutput::Oversized => {
                    logs.push((
                        LogLevel::Warn,
                        format!(
                            "{name}: wrote more than {MAX_UNPARSED} bytes without completing \
                             a result; treated as a bad result line"
                        ),
                    ));
                    rejected = pool.listeners[li].current.take();
                    pool.rejected += u64::from(rejected.is_some());
                }
                ListenerOutput::ProtocolError(_) => {
                    pool.listeners[li].current = None;
                }
                ListenerOutput::Transition { from, to } => {
                    logs.push((LogLevel::Debug, format!("{name}: {from} -> {to}")));
                    if to == ListenerState::Unknown {
                        logs.push((
                            LogLevel::Warn,
                            format!(
                                "{name}: has entered the UNKNOWN state and will no longer \
                                 receive events, this usually indicates the process violated \
                                 the eventlistener protocol"
                            ),
                        ));
                    }
                    if let Some(q) = rejected.take() {
                        pool.rebuffer(q, true, &mut logs);
                    }
                }
            }
        }
        if let Some(q) = rejected.take() {
            pool.rebuffer(q, true, &mut logs);
        }
        logs
    }

    /// What result handlers printed since the last call: `(stream, bytes)` in order.
    pub fn take_relays(&mut self) -> Vec<Relay> {
        std::mem::take(&mut self.relays)
    }

    /// The earliest moment a pool held back by a rejection backoff may dispatch again.
    pub fn next_retry(&self) -> Option<Instant> {
        self.pools
            .iter()
            .filter(|p| !p.buffer.is_empty())
            .filter_map(|p| p.retry_at)
            .min()
    }

    /// Hand buffered events to eligible listeners. `running(key)` says whether the listener
    /// process is in state RUNNING; `send(key, bytes)` writes to its stdin and returns false if
    /// the pipe is gone (upstream's EPIPE: the next listener is tried, the state is unchanged).
    /// A pool in a rejection backoff is skipped until its time (`now`) has come.
    pub fn dispatch(
        &mut self,
        now: Instant,
        running: &dyn Fn(K) -> bool,
        send: &mut dyn FnMut(K, Vec<u8>) -> bool,
    ) -> Vec<Log> {
        let mut logs = Vec::new();
        for pool in &mut self.pools {
            if pool.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            let capable = pool
                .listeners
                .iter()
                .any(|l| running(l.key) && l.parser.state() == ListenerState::Ready);
            if !capable {
                continue;
            }
            while let Some(q) = pool.buffer.pop_front() {
                let mut placed = false;
                for l in &mut pool.listeners {
                    if !running(l.key) || l.parser.state() != ListenerState::Ready {
                        continue;
                    }
                    let bytes = encode_notification(
                        &self.identifier,
                        q.serial,
                        &pool.name,
                        q.poolserial,
                        q.event.kind,
                        &q.event.payload,
                    );
                    if !send(l.key, bytes) {
                        logs.push((
                            LogLevel::Debug,
                            format!(
                                "epipe occurred while sending event {} to listener {}, \
                                 listener state unchanged",
                                q.serial, l.name
                            ),
                        ));
                        continue;
                    }
                    l.parser.event_sent();
                    pool.sent += 1;
                    logs.push((
                        LogLevel::Debug,
                        format!("event {} sent to listener {}", q.serial, l.name),
                    ));
                    l.current = Some(Queued {
                        fresh: false,
                        ..q.clone()
                    });
                    placed = true;
                    break;
                }
                if !placed {
                    pool.rebuffer(q, true, &mut logs);
                    break;
                }
            }
        }
        logs
    }
}

#[cfg(test)]
mod tests;
