use std::cell::RefCell;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use supervisor_protocol::events::{Event, EventKind};
use supervisor_protocol::listener::ListenerState;

use super::*;

fn pool(events: &[&str], buffer_size: usize) -> PoolConfig {
    PoolConfig {
        events: events.iter().map(|s| s.to_string()).collect(),
        buffer_size,
        result_handler: ResultHandler::Default,
    }
}

/// A bus plus fake processes: which keys are RUNNING and what each one's stdin received.
struct World {
    bus: EventBus<u32>,
    running: HashSet<u32>,
    broken: HashSet<u32>,
    sent: RefCell<Vec<(u32, String)>>,
    logs: Vec<Log>,
    /// Fake monotonic time.
    now: Instant,
}

impl World {
    fn new() -> World {
        World {
            bus: EventBus::new("sup", 0),
            running: HashSet::new(),
            broken: HashSet::new(),
            sent: RefCell::new(Vec::new()),
            logs: Vec::new(),
            now: Instant::now(),
        }
    }

    fn add(&mut self, name: &str, events: &[&str], size: usize, members: &[(u32, &str)]) {
        self.bus.add_pool(
            name,
            &pool(events, size),
            members.iter().map(|(k, n)| (*k, n.to_string())).collect(),
        );
    }

    /// Spawn and make RUNNING + READY.
    fn up(&mut self, key: u32) {
        self.bus.listener_spawned(key);
        self.running.insert(key);
        let l = self.bus.listener_output(key, b"READY\n", self.now);
        self.logs.extend(l);
    }

    fn publish(&mut self, e: Event) {
        let l = self.bus.publish(e);
        self.logs.extend(l);
    }

    fn dispatch(&mut self) {
        let running = self.running.clone();
        let broken = self.broken.clone();
        let sent = &self.sent;
        let l = self
            .bus
            .dispatch(self.now, &|k| running.contains(&k), &mut |k, bytes| {
                if broken.contains(&k) {
                    return false;
                }
                sent.borrow_mut()
                    .push((k, String::from_utf8_lossy(&bytes).into_owned()));
                true
            });
        self.logs.extend(l);
    }

    fn answer(&mut self, key: u32, bytes: &[u8]) {
        let l = self.bus.listener_output(key, bytes, self.now);
        self.logs.extend(l);
    }

    fn take_sent(&self) -> Vec<(u32, String)> {
        std::mem::take(&mut *self.sent.borrow_mut())
    }

    fn take_logs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.logs)
            .into_iter()
            .map(|(lvl, m)| format!("{} {m}", lvl.tag()))
            .collect()
    }
}

fn header(serial: u64, pool: &str, poolserial: u64, e: &Event) -> String {
    format!(
        "ver:3.0 server:sup serial:{serial} pool:{pool} poolserial:{poolserial} eventname:{} len:{}\n{}",
        e.kind.name(),
        e.payload.chars().count(),
        e.payload
    )
}

#[test]
fn delivers_with_serials_and_logs() {
    let mut w = World::new();
    w.add("lis", &["PROCESS_GROUP"], 10, &[(1, "lis")]);
    let g = Event::process_group(true, "a");
    w.publish(g.clone());
    w.publish(Event::process_group(true, "b"));
    w.dispatch();
    assert!(w.take_sent().is_empty(), "not RUNNING/READY yet");
    w.up(1);
    w.dispatch();
    assert_eq!(w.take_sent(), vec![(1, header(0, "lis", 0, &g))]);
    assert_eq!(w.bus.listener_state(1), Some(ListenerState::Busy));
    assert_eq!(
        w.take_logs(),
        vec![
            "DEBG lis: ACKNOWLEDGED -> READY",
            "DEBG event 0 sent to listener lis",
            "DEBG rebuffering event 1 for pool lis (buf size=0, max=10)",
        ]
    );
    w.answer(1, b"RESULT 2\nOKREADY\n");
    assert_eq!(
        w.take_logs(),
        vec![
            "DEBG lis: event was processed",
            "DEBG lis: BUSY -> ACKNOWLEDGED",
            "DEBG lis: ACKNOWLEDGED -> READY",
        ]
    );
    w.dispatch();
    let sent = w.take_sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("serial:1 pool:lis poolserial:1"));
    // Unsubscribed events consume no serial.
    w.publish(Event::tick(EventKind::Tick5, 5));
    assert_eq!(w.bus.next_serial(), 2);
}

#[test]
fn hierarchy_and_duplicate_subscription() {
    let mut w = World::new();
    w.add("a", &["TICK", "TICK_5"], 10, &[(1, "a")]);
    w.add("b", &["EVENT"], 10, &[(2, "b")]);
    w.add("c", &["PROCESS_STATE"], 10, &[(3, "c")]);
    w.publish(Event::tick(EventKind::Tick5, 10));
    assert_eq!(
        w.bus.buffered("a"),
        Some(2),
        "parent+child: delivered twice"
    );
    assert_eq!(w.bus.buffered("b"), Some(1));
    assert_eq!(w.bus.buffered("c"), Some(0));
    w.publish(Event::tick(EventKind::Tick60, 60));
    assert_eq!(w.bus.buffered("a"), Some(3));
    assert_eq!(w.bus.buffered("b"), Some(2));
    w.up(1);
    let tick = Event::tick(EventKind::Tick5, 10);
    for _ in 0..2 {
        w.dispatch();
        assert_eq!(w.take_sent(), vec![(1, header(0, "a", 0, &tick))]);
        w.answer(1, b"RESULT 2\nOKREADY\n");
    }
}

#[test]
fn fail_redelivers_same_serials_first() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 10, &[(1, "l1")]);
    w.publish(Event::remote_communication("t", "one"));
    w.publish(Event::remote_communication("t", "two"));
    w.up(1);
    w.dispatch();
    let first = w.take_sent();
    w.take_logs();
    w.answer(1, b"RESULT 4\nFAILREADY\n");
    assert_eq!(
        w.take_logs(),
        vec![
            "WARN l1: event was rejected",
            "DEBG l1: BUSY -> ACKNOWLEDGED",
            "DEBG rebuffering event 0 for pool p (buf size=1, max=10)",
            "DEBG l1: ACKNOWLEDGED -> READY",
        ]
    );
    w.dispatch();
    assert_eq!(w.take_sent(), first);
}

#[test]
fn bad_result_line_goes_unknown_and_rebuffers() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 10, &[(1, "l1"), (2, "l2")]);
    w.publish(Event::remote_communication("t", "x"));
    w.up(1);
    w.dispatch();
    let first = w.take_sent();
    assert_eq!(first[0].0, 1);
    w.take_logs();
    w.answer(1, b"READY\n");
    assert_eq!(
        w.take_logs(),
        vec![
            "WARN l1: bad result line: 'READY'",
            "DEBG l1: BUSY -> UNKNOWN",
            "WARN l1: has entered the UNKNOWN state and will no longer receive events, this \
             usually indicates the process violated the eventlistener protocol",
            "DEBG rebuffering event 0 for pool p (buf size=0, max=10)",
        ]
    );
    w.dispatch();
    assert!(w.take_sent().is_empty());
    // Another listener of the pool takes it, same serials.
    w.up(2);
    w.dispatch();
    let again = w.take_sent();
    assert_eq!(again, vec![(2, first[0].1.clone())]);
}

#[test]
fn flood_without_newline_goes_unknown_and_rebuffers() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 10, &[(1, "l1")]);
    w.publish(Event::remote_communication("t", "x"));
    w.up(1);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
    w.take_logs();
    let chunk = vec![b'x'; 128 * 1024];
    for _ in 0..(MAX_UNPARSED / chunk.len() + 4) {
        w.answer(1, &chunk);
    }
    assert_eq!(
        w.take_logs(),
        vec![
            format!(
                "WARN l1: wrote more than {MAX_UNPARSED} bytes without completing a result; \
                 treated as a bad result line"
            ),
            "DEBG l1: BUSY -> UNKNOWN".to_string(),
            "WARN l1: has entered the UNKNOWN state and will no longer receive events, this \
             usually indicates the process violated the eventlistener protocol"
                .to_string(),
            "DEBG rebuffering event 0 for pool p (buf size=0, max=10)".to_string(),
        ]
    );
    assert_eq!(w.bus.listener_state(1), Some(ListenerState::Unknown));
    assert_eq!(w.bus.buffered("p"), Some(1));
}

#[test]
fn rejection_stays_in_own_pool() {
    let mut w = World::new();
    w.add("a", &["EVENT"], 10, &[(1, "la")]);
    w.add("b", &["EVENT"], 10, &[(2, "lb")]);
    w.publish(Event::remote_communication("t", "x"));
    w.up(1);
    w.up(2);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 2);
    w.answer(1, b"RESULT 4\nFAIL");
    assert_eq!(w.bus.buffered("a"), Some(1));
    assert_eq!(w.bus.buffered("b"), Some(0), "no cross-pool leak");
}

#[test]
fn death_while_busy_rebuffers() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 10, &[(1, "l1")]);
    w.publish(Event::remote_communication("t", "x"));
    w.up(1);
    w.dispatch();
    let first = w.take_sent();
    w.take_logs();
    w.running.remove(&1);
    let l = w.bus.listener_exited(1);
    assert_eq!(
        l,
        vec![(
            LogLevel::Debug,
            "rebuffering event 0 for pool p (buf size=0, max=10)".to_string()
        )]
    );
    w.dispatch();
    assert!(w.take_sent().is_empty());
    w.up(1);
    w.dispatch();
    assert_eq!(w.take_sent(), first);
    // Exiting when not BUSY rebuffers nothing.
    w.answer(1, b"RESULT 2\nOK");
    assert!(w.bus.listener_exited(1).is_empty());
}

#[test]
fn overflow_drops_oldest_and_counts() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 2, &[(1, "l1")]);
    for i in 0..4 {
        w.publish(Event::remote_communication("t", &i.to_string()));
    }
    assert_eq!(
        w.take_logs(),
        vec![
            "ERRO pool p event buffer overflowed, discarding event 0",
            "ERRO pool p event buffer overflowed, discarding event 1",
        ]
    );
    assert_eq!(w.bus.dropped("p"), Some(2));
    w.up(1);
    w.dispatch();
    let sent = w.take_sent();
    assert!(sent[0].1.contains("serial:2 pool:p poolserial:2"));
}

#[test]
fn epipe_tries_next_listener() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 10, &[(1, "l1"), (2, "l2")]);
    w.publish(Event::remote_communication("t", "x"));
    w.up(1);
    w.up(2);
    w.broken.insert(1);
    w.take_logs();
    w.dispatch();
    assert_eq!(w.take_sent()[0].0, 2);
    assert_eq!(
        w.take_logs(),
        vec![
            "DEBG epipe occurred while sending event 0 to listener l1, listener state unchanged",
            "DEBG event 0 sent to listener l2",
        ]
    );
    assert_eq!(w.bus.listener_state(1), Some(ListenerState::Ready));
}

#[test]
fn spurious_output_makes_unknown_without_stalling_others() {
    let mut w = World::new();
    w.add("bad", &["EVENT"], 10, &[(1, "bad")]);
    w.add("good", &["EVENT"], 10, &[(2, "good")]);
    w.bus.listener_spawned(1);
    w.running.insert(1);
    w.answer(1, b"hello there\n");
    assert_eq!(w.bus.listener_state(1), Some(ListenerState::Unknown));
    w.up(2);
    w.publish(Event::remote_communication("t", "x"));
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
    // A respawn recovers.
    w.up(1);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
}

#[test]
fn ticks_first_check_records_only() {
    let mut bus: EventBus<u32> = EventBus::new("s", 7);
    bus.add_pool("t", &pool(&["TICK"], 10), vec![]);
    assert!(bus.tick(1000.5).is_empty());
    assert_eq!(bus.buffered("t"), Some(0));
    bus.tick(1004.9);
    assert_eq!(bus.buffered("t"), Some(0));
    bus.tick(1005.0);
    assert_eq!(bus.buffered("t"), Some(1));
    // A big jump fires each type once.
    bus.tick(10_000.0);
    assert_eq!(bus.buffered("t"), Some(4));
    assert_eq!(bus.next_serial(), 11);
    assert_eq!(EventBus::<u32>::next_tick_at(1001.0), 1005.0);
}

#[test]
fn serial_wraps_like_python() {
    let mut bus: EventBus<u32> = EventBus::new("s", SERIAL_MAX);
    bus.add_pool("t", &pool(&["EVENT"], 10), vec![]);
    bus.publish(Event::supervisor_state_change(true));
    assert_eq!(bus.next_serial(), 0);
}

#[test]
fn process_log_chunks_stay_apart_while_the_buffer_has_room() {
    use supervisor_protocol::events::OutputChannel;
    let log =
        |pid: i32, data: &[u8]| Event::process_log(OutputChannel::Stdout, "p", "p", pid, data);
    let mut w = World::new();
    w.add("lis", &["PROCESS_LOG"], 3, &[(1, "lis")]);
    w.up(1);
    // The first chunk goes out at once; the listener is then BUSY.
    w.publish(log(7, b"a\n"));
    w.dispatch();
    assert_eq!(
        w.take_sent(),
        vec![(1, header(0, "lis", 0, &log(7, b"a\n")))]
    );
    // One event per chunk while the buffer has room, as upstream (one per read).
    for line in [&b"b\n"[..], b"c\n", b"d\n"] {
        w.publish(log(7, line));
    }
    assert_eq!(w.bus.buffered("lis"), Some(3));
    // Full: upstream would drop the oldest; the chunk joins the tail event instead, up to
    // buffer_size chunks in one event.
    w.publish(log(7, b"e\n"));
    w.publish(log(7, b"f\n"));
    assert_eq!(
        (w.bus.buffered("lis"), w.bus.dropped("lis")),
        (Some(3), Some(0))
    );
    // The tail now holds 3 chunks (d, e, f): the next one overflows as upstream.
    w.publish(log(7, b"g\n"));
    assert_eq!(
        (w.bus.buffered("lis"), w.bus.dropped("lis")),
        (Some(3), Some(1))
    );
    // A different pid is a different output: never merged.
    w.publish(log(8, b"other pid\n"));
    assert_eq!(w.bus.dropped("lis"), Some(2));
    let mut got = Vec::new();
    for _ in 0..3 {
        w.answer(1, b"RESULT 2\nOKREADY\n");
        w.dispatch();
        got.extend(w.take_sent());
    }
    assert_eq!(
        got,
        vec![
            (1, header(3, "lis", 3, &log(7, b"d\ne\nf\n"))),
            (1, header(4, "lis", 4, &log(7, b"g\n"))),
            (1, header(5, "lis", 5, &log(8, b"other pid\n"))),
        ]
    );
}

#[test]
fn merging_in_one_pool_leaves_the_other_pools_copy_alone() {
    use supervisor_protocol::events::OutputChannel;
    let log = |data: &[u8]| Event::process_log(OutputChannel::Stdout, "p", "p", 7, data);
    let mut w = World::new();
    w.add("small", &["PROCESS_LOG"], 2, &[(1, "s")]);
    w.add("big", &["PROCESS_LOG"], 10, &[(2, "b")]);
    for data in [&b"a\n"[..], b"b\n", b"c\n"] {
        w.publish(log(data));
    }
    assert_eq!(w.bus.buffered("small"), Some(2), "c joined b");
    assert_eq!(w.bus.buffered("big"), Some(3));
    w.up(1);
    w.up(2);
    w.dispatch();
    w.take_sent();
    w.answer(1, b"RESULT 2\nOKREADY\n");
    w.answer(2, b"RESULT 2\nOKREADY\n");
    w.dispatch();
    assert_eq!(
        w.take_sent(),
        vec![
            (1, header(1, "small", 1, &log(b"b\nc\n"))),
            (2, header(1, "big", 1, &log(b"b\n"))),
        ]
    );
}

#[test]
fn in_flight_process_log_is_never_changed() {
    use supervisor_protocol::events::OutputChannel;
    let log = |data: &[u8]| Event::process_log(OutputChannel::Stdout, "p", "p", 7, data);
    let mut w = World::new();
    w.add("lis", &["PROCESS_LOG"], 10, &[(1, "lis")]);
    w.up(1);
    w.publish(log(b"a\n"));
    w.dispatch();
    w.take_sent();
    // Rejected: the event goes back to the buffer with its serials; a later chunk must not
    // be glued onto a redelivery.
    w.answer(1, b"RESULT 4\nFAILREADY\n");
    w.publish(log(b"b\n"));
    w.dispatch();
    assert_eq!(w.take_sent(), vec![(1, header(0, "lis", 0, &log(b"a\n")))]);
}

#[test]
fn pool_stats_count_sent_rejected_dropped() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 2, &[(1, "l1")]);
    let stats = |w: &World| {
        let s = w.bus.pool_stats();
        assert_eq!(s.len(), 1);
        (s[0].sent, s[0].rejected, s[0].dropped, s[0].queued)
    };
    assert_eq!(stats(&w), (0, 0, 0, 0));
    for body in ["a", "b", "c"] {
        w.publish(Event::remote_communication("t", body));
    }
    assert_eq!(stats(&w), (0, 0, 1, 2), "one dropped on overflow");
    w.up(1);
    w.dispatch();
    assert_eq!(stats(&w), (1, 0, 1, 1));
    w.answer(1, b"RESULT 4\nFAILREADY\n");
    assert_eq!(stats(&w), (1, 1, 1, 2), "rejected event rebuffered");
    w.dispatch();
    w.answer(1, b"RESULT 2\nOKREADY\n");
    assert_eq!(stats(&w), (2, 1, 1, 1));
    w.dispatch();
    w.bus.listener_exited(1);
    assert_eq!(stats(&w), (3, 2, 1, 1), "dying while busy rejects");
    assert_eq!(w.bus.pool_stats()[0].name, "p");
}

#[test]
fn repeated_rejection_backs_off_and_is_counted_not_logged() {
    let mut w = World::new();
    w.add("p", &["EVENT"], 10, &[(1, "l1")]);
    w.publish(Event::remote_communication("t", "x"));
    w.up(1);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
    w.take_logs();
    // First rejection: upstream's WARN, resent at once.
    w.answer(1, b"RESULT 4\nFAILREADY\n");
    assert!(w
        .take_logs()
        .contains(&"WARN l1: event was rejected".to_string()));
    assert_eq!(w.bus.next_retry(), Some(w.now));
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
    // Second: one WARN that a backoff starts; nothing is sent for 50 ms.
    w.answer(1, b"RESULT 4\nFAILREADY\n");
    let warns: Vec<String> = w
        .take_logs()
        .into_iter()
        .filter(|l| l.starts_with("WARN"))
        .collect();
    assert_eq!(
        warns,
        vec![
            "WARN pool p: events rejected twice in a row; resending with a backoff (up to 5 s), \
             further rejections are counted, not logged"
        ]
    );
    assert_eq!(w.bus.next_retry(), Some(w.now + Duration::from_millis(50)));
    w.dispatch();
    assert!(w.take_sent().is_empty(), "held back");
    w.now += Duration::from_millis(50);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
    // Later rejections double the wait up to 5 s and log nothing at WARN.
    let mut waits = Vec::new();
    for _ in 0..10 {
        w.answer(1, b"RESULT 4\nFAILREADY\n");
        let wait = w.bus.next_retry().map(|t| t - w.now);
        waits.push(wait.map(|d| d.as_millis()));
        w.now += wait.unwrap_or_default();
        w.dispatch();
        assert_eq!(w.take_sent().len(), 1);
    }
    assert_eq!(
        waits,
        [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000].map(Some)
    );
    assert!(w.take_logs().iter().all(|l| !l.starts_with("WARN")));
    // Accepted: the count is logged once and the backoff ends.
    w.publish(Event::remote_communication("t", "y"));
    w.answer(1, b"RESULT 2\nOKREADY\n");
    let warns: Vec<String> = w
        .take_logs()
        .into_iter()
        .filter(|l| l.starts_with("WARN"))
        .collect();
    assert_eq!(
        warns,
        vec!["WARN pool p: an event was accepted after 12 rejections in a row"]
    );
    assert_eq!(w.bus.next_retry(), None);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1, "the next event goes out at once");
    assert_eq!(w.bus.pool_stats()[0].rejected, 12);
}

#[test]
fn echo_handlers_relay_and_accept() {
    use handlers::Stream;
    use supervisor_protocol::events::OutputChannel;
    let mut w = World::new();
    w.bus.add_pool(
        "out",
        &PoolConfig {
            result_handler: ResultHandler::SupervisorStdout,
            ..pool(&["PROCESS_LOG"], 10)
        },
        vec![(1, "out".to_string())],
    );
    let ev = Event::process_log(OutputChannel::Stdout, "talk", "talk", 9, b"hello\n");
    w.publish(ev.clone());
    w.up(1);
    w.dispatch();
    assert_eq!(w.take_sent().len(), 1);
    w.take_logs();
    // The listener echoes the payload, as supervisor_stdout does.
    let mut answer = format!("RESULT {}\n", ev.payload.len()).into_bytes();
    answer.extend_from_slice(ev.payload.as_bytes());
    answer.extend_from_slice(b"READY\n");
    w.answer(1, &answer);
    assert_eq!(
        w.bus.take_relays(),
        vec![(Stream::Stdout, b"talk stdout | hello\n".to_vec())]
    );
    assert!(w
        .take_logs()
        .contains(&"DEBG out: event was processed".to_string()));
    assert_eq!(w.bus.listener_state(1), Some(ListenerState::Ready));
    assert_eq!(w.bus.buffered("out"), Some(0));
    // A body the handler cannot use: upstream's "event caused an error", UNKNOWN, rebuffered.
    w.publish(ev.clone());
    w.dispatch();
    w.take_logs();
    w.answer(1, b"RESULT 2\nOKREADY\n");
    let logs = w.take_logs();
    assert_eq!(logs[0], "WARN out: event caused an error");
    assert_eq!(logs[1], "DEBG out: BUSY -> UNKNOWN");
    assert_eq!(w.bus.buffered("out"), Some(1));
    assert!(w.bus.take_relays().is_empty());
}
