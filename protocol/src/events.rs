//! The event type hierarchy, the payload of every concrete event type and the notification
//! envelope supervisord writes to a listener's stdin (upstream-reference §1.2, §2.2, §2.3).
//!
//! Abstract types exist only for `events=` subscriptions; the leaf name is what goes into a
//! notification's `eventname:` token.
//!
//! Payloads are `String`s, not bytes, on purpose: upstream builds them as Python `str` and
//! puts `len(payload)` — a count of *characters* — in the `len:` token, then writes the UTF-8
//! encoding. Python listeners (`supervisor.childutils`, every superlance tool) read stdin in text
//! mode and so read `len` characters; counting bytes would make them over-read and hang on any
//! non-ASCII payload. See `docs/compat.md`, "Events". Child output that is not valid UTF-8 is
//! replaced by `Undecodable: b'...'` exactly as upstream's `as_string()` fallback does, so a
//! payload is always valid text.

use std::fmt::Write as _;

use crate::states::ProcessState;

macro_rules! event_kinds {
    ($( $variant:ident => $name:literal, parent $parent:expr, abstract $abs:literal; )*) => {
        /// Every event type Supervisor 4.3.0 knows, abstract ones included.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind { $( $variant, )* }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[ $( EventKind::$variant, )* ];

            /// The name used in `events=` and in the `eventname:` header token.
            pub fn name(self) -> &'static str {
                match self { $( EventKind::$variant => $name, )* }
            }

            /// The parent type: `None` for `EVENT` and for the extension root `PROCESS_HEALTH`.
            pub fn parent(self) -> Option<EventKind> {
                match self { $( EventKind::$variant => $parent, )* }
            }

            /// Abstract types are never sent, only subscribed to.
            pub fn is_abstract(self) -> bool {
                match self { $( EventKind::$variant => $abs, )* }
            }
        }
    };
}

use EventKind as K;

event_kinds! {
    Event => "EVENT", parent None, abstract true;
    ProcessState => "PROCESS_STATE", parent Some(K::Event), abstract true;
    ProcessStateStopped => "PROCESS_STATE_STOPPED", parent Some(K::ProcessState), abstract false;
    ProcessStateStarting => "PROCESS_STATE_STARTING", parent Some(K::ProcessState), abstract false;
    ProcessStateRunning => "PROCESS_STATE_RUNNING", parent Some(K::ProcessState), abstract false;
    ProcessStateBackoff => "PROCESS_STATE_BACKOFF", parent Some(K::ProcessState), abstract false;
    ProcessStateStopping => "PROCESS_STATE_STOPPING", parent Some(K::ProcessState), abstract false;
    ProcessStateExited => "PROCESS_STATE_EXITED", parent Some(K::ProcessState), abstract false;
    ProcessStateFatal => "PROCESS_STATE_FATAL", parent Some(K::ProcessState), abstract false;
    ProcessStateUnknown => "PROCESS_STATE_UNKNOWN", parent Some(K::ProcessState), abstract false;
    ProcessCommunication => "PROCESS_COMMUNICATION", parent Some(K::Event), abstract true;
    ProcessCommunicationStdout => "PROCESS_COMMUNICATION_STDOUT", parent Some(K::ProcessCommunication), abstract false;
    ProcessCommunicationStderr => "PROCESS_COMMUNICATION_STDERR", parent Some(K::ProcessCommunication), abstract false;
    ProcessLog => "PROCESS_LOG", parent Some(K::Event), abstract true;
    ProcessLogStdout => "PROCESS_LOG_STDOUT", parent Some(K::ProcessLog), abstract false;
    ProcessLogStderr => "PROCESS_LOG_STDERR", parent Some(K::ProcessLog), abstract false;
    RemoteCommunication => "REMOTE_COMMUNICATION", parent Some(K::Event), abstract false;
    SupervisorStateChange => "SUPERVISOR_STATE_CHANGE", parent Some(K::Event), abstract true;
    SupervisorStateChangeRunning => "SUPERVISOR_STATE_CHANGE_RUNNING", parent Some(K::SupervisorStateChange), abstract false;
    SupervisorStateChangeStopping => "SUPERVISOR_STATE_CHANGE_STOPPING", parent Some(K::SupervisorStateChange), abstract false;
    Tick => "TICK", parent Some(K::Event), abstract true;
    Tick5 => "TICK_5", parent Some(K::Tick), abstract false;
    Tick60 => "TICK_60", parent Some(K::Tick), abstract false;
    Tick3600 => "TICK_3600", parent Some(K::Tick), abstract false;
    ProcessGroup => "PROCESS_GROUP", parent Some(K::Event), abstract true;
    ProcessGroupAdded => "PROCESS_GROUP_ADDED", parent Some(K::ProcessGroup), abstract false;
    ProcessGroupRemoved => "PROCESS_GROUP_REMOVED", parent Some(K::ProcessGroup), abstract false;
    // supervisor-rs extension (`health_check=`, docs/extensions.md). Deliberately outside the
    // EVENT tree: a listener subscribed to EVENT (every stock listener that wants "all") never
    // receives them; only `events=PROCESS_HEALTH` or a leaf name does.
    ProcessHealth => "PROCESS_HEALTH", parent None, abstract true;
    ProcessHealthHealthy => "PROCESS_HEALTH_HEALTHY", parent Some(K::ProcessHealth), abstract false;
    ProcessHealthUnhealthy => "PROCESS_HEALTH_UNHEALTHY", parent Some(K::ProcessHealth), abstract false;
}

impl EventKind {
    pub fn from_name(name: &str) -> Option<EventKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// True when a subscription to `self` receives events of type `other`
    /// (the type itself or any descendant).
    pub fn matches(self, other: EventKind) -> bool {
        let mut cur = Some(other);
        while let Some(k) = cur {
            if k == self {
                return true;
            }
            cur = k.parent();
        }
        false
    }

    /// The PROCESS_STATE_* leaf for a process state.
    pub fn for_process_state(state: ProcessState) -> EventKind {
        match state {
            ProcessState::Stopped => K::ProcessStateStopped,
            ProcessState::Starting => K::ProcessStateStarting,
            ProcessState::Running => K::ProcessStateRunning,
            ProcessState::Backoff => K::ProcessStateBackoff,
            ProcessState::Stopping => K::ProcessStateStopping,
            ProcessState::Exited => K::ProcessStateExited,
            ProcessState::Fatal => K::ProcessStateFatal,
            ProcessState::Unknown => K::ProcessStateUnknown,
        }
    }
}

/// Which output channel a PROCESS_LOG / PROCESS_COMMUNICATION event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputChannel {
    Stdout,
    Stderr,
}

impl OutputChannel {
    pub fn name(self) -> &'static str {
        match self {
            OutputChannel::Stdout => "stdout",
            OutputChannel::Stderr => "stderr",
        }
    }
}

/// One concrete event: its leaf type and its payload text (captured when the event is created,
/// as upstream's event objects capture pid/tries/expected at creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub payload: String,
}

impl Event {
    /// `PROCESS_STATE_<to>`: `processname:<p> groupname:<g> from_state:<FROM>` followed by
    /// whichever of `tries:`, `expected:`, `pid:` are given, in that order (upstream-reference §2.3: STARTING
    /// and BACKOFF carry tries; EXITED expected then pid; RUNNING/STOPPING/STOPPED pid;
    /// FATAL/UNKNOWN nothing). The caller passes exactly the fields of the target state.
    pub fn process_state(
        processname: &str,
        groupname: &str,
        from: ProcessState,
        to: ProcessState,
        tries: Option<u32>,
        expected: Option<bool>,
        pid: Option<i32>,
    ) -> Event {
        let mut payload = format!(
            "processname:{processname} groupname:{groupname} from_state:{}",
            from.name()
        );
        if let Some(t) = tries {
            let _ = write!(payload, " tries:{t}");
        }
        if let Some(e) = expected {
            let _ = write!(payload, " expected:{}", u8::from(e));
        }
        if let Some(p) = pid {
            let _ = write!(payload, " pid:{p}");
        }
        Event {
            kind: EventKind::for_process_state(to),
            payload,
        }
    }

    /// `PROCESS_HEALTH_HEALTHY/UNHEALTHY` (extension): `processname:<p> groupname:<g>
    /// pid:<pid> failures:<n>\n<detail>` where detail is what the last check said.
    pub fn process_health(
        processname: &str,
        groupname: &str,
        healthy: bool,
        pid: i32,
        failures: u32,
        detail: &str,
    ) -> Event {
        Event {
            kind: if healthy {
                K::ProcessHealthHealthy
            } else {
                K::ProcessHealthUnhealthy
            },
            payload: format!(
                "processname:{processname} groupname:{groupname} pid:{pid} failures:{failures}\n{detail}"
            ),
        }
    }

    /// `PROCESS_LOG_STDOUT/STDERR`: `processname:<p> groupname:<g> pid:<pid> channel:<c>\n<data>`.
    pub fn process_log(
        channel: OutputChannel,
        processname: &str,
        groupname: &str,
        pid: i32,
        data: &[u8],
    ) -> Event {
        let kind = match channel {
            OutputChannel::Stdout => K::ProcessLogStdout,
            OutputChannel::Stderr => K::ProcessLogStderr,
        };
        Event {
            kind,
            payload: format!(
                "processname:{processname} groupname:{groupname} pid:{pid} channel:{}\n{}",
                channel.name(),
                decode_text(data)
            ),
        }
    }

    /// `PROCESS_COMMUNICATION_STDOUT/STDERR`: `processname:<p> groupname:<g> pid:<pid>\n<data>`.
    pub fn process_communication(
        channel: OutputChannel,
        processname: &str,
        groupname: &str,
        pid: i32,
        data: &[u8],
    ) -> Event {
        let kind = match channel {
            OutputChannel::Stdout => K::ProcessCommunicationStdout,
            OutputChannel::Stderr => K::ProcessCommunicationStderr,
        };
        Event {
            kind,
            payload: format!(
                "processname:{processname} groupname:{groupname} pid:{pid}\n{}",
                decode_text(data)
            ),
        }
    }

    /// `REMOTE_COMMUNICATION`: `type:<type>\n<data>`, both verbatim.
    pub fn remote_communication(kind: &str, data: &str) -> Event {
        Event {
            kind: K::RemoteCommunication,
            payload: format!("type:{kind}\n{data}"),
        }
    }

    /// `SUPERVISOR_STATE_CHANGE_RUNNING` (`running`) or `_STOPPING`: empty payload.
    pub fn supervisor_state_change(running: bool) -> Event {
        Event {
            kind: if running {
                K::SupervisorStateChangeRunning
            } else {
                K::SupervisorStateChangeStopping
            },
            payload: String::new(),
        }
    }

    /// `TICK_5/60/3600`: `when:<start of the period>`. `kind` must be a concrete TICK type;
    /// anything else is treated as TICK_5.
    pub fn tick(kind: EventKind, when: u64) -> Event {
        let kind = match kind {
            K::Tick60 | K::Tick3600 => kind,
            _ => K::Tick5,
        };
        Event {
            kind,
            payload: format!("when:{when}"),
        }
    }

    /// `PROCESS_GROUP_ADDED` (`added`) or `_REMOVED`: `groupname:<g>\n` — the one token set
    /// with a trailing newline.
    pub fn process_group(added: bool, groupname: &str) -> Event {
        Event {
            kind: if added {
                K::ProcessGroupAdded
            } else {
                K::ProcessGroupRemoved
            },
            payload: format!("groupname:{groupname}\n"),
        }
    }
}

/// The tick types with their periods in seconds, in upstream's `TICK_EVENTS` order.
pub const TICKS: [(EventKind, u64); 3] = [(K::Tick5, 5), (K::Tick60, 60), (K::Tick3600, 3600)];

/// Upstream `as_string()` with its fallback: the UTF-8 text, or `Undecodable: b'...'` (Python
/// `repr` of the whole chunk) when any byte is not valid UTF-8.
pub fn decode_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => format!("Undecodable: {}", py_repr_bytes(data)),
    }
}

/// Python `repr()` of a bytes object (`b'...'`).
pub use crate::pyrepr::repr_bytes as py_repr_bytes;

/// The bytes written to a listener's stdin for one event (upstream-reference §1.2):
/// `ver:3.0 server:<id> serial:<S> pool:<pool> poolserial:<P> eventname:<NAME> len:<L>\n<payload>`.
///
/// `len` is the payload length in characters (Unicode code points), like Python's
/// `len(str)`; the payload itself is written as UTF-8.
pub fn encode_notification(
    identifier: &str,
    serial: u64,
    pool: &str,
    poolserial: u64,
    kind: EventKind,
    payload: &str,
) -> Vec<u8> {
    format!(
        "ver:3.0 server:{identifier} serial:{serial} pool:{pool} poolserial:{poolserial} \
         eventname:{} len:{}\n{payload}",
        kind.name(),
        payload.chars().count()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_matching() {
        assert!(K::Event.matches(K::Tick60));
        assert!(K::ProcessState.matches(K::ProcessStateExited));
        assert!(!K::ProcessState.matches(K::ProcessLogStdout));
        assert!(K::ProcessLog.matches(K::ProcessLogStderr));
        assert!(!K::Tick5.matches(K::Tick60));
        // Extension events are not under EVENT.
        assert!(!K::Event.matches(K::ProcessHealthUnhealthy));
        assert!(K::ProcessHealth.matches(K::ProcessHealthHealthy));
    }

    #[test]
    fn names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(*k));
        }
        assert_eq!(
            EventKind::for_process_state(ProcessState::Fatal).name(),
            "PROCESS_STATE_FATAL"
        );
    }

    // Vectors below were captured from Python supervisord 4.3.0 (identifier=labsup) with a
    // listener that dumped its stdin verbatim.

    #[test]
    fn process_state_vectors() {
        use ProcessState as S;
        let e = Event::process_state("dump", "dump", S::Stopped, S::Starting, Some(0), None, None);
        assert_eq!(
            encode_notification("labsup", 3, "dump", 3, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:3 pool:dump poolserial:3 \
              eventname:PROCESS_STATE_STARTING len:58\n\
              processname:dump groupname:dump from_state:STOPPED tries:0"
        );
        let e = Event::process_state(
            "child",
            "child",
            S::Starting,
            S::Running,
            None,
            None,
            Some(17875),
        );
        assert_eq!(
            encode_notification("labsup", 7, "dump", 7, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:7 pool:dump poolserial:7 \
              eventname:PROCESS_STATE_RUNNING len:63\n\
              processname:child groupname:child from_state:STARTING pid:17875"
        );
        let e = Event::process_state(
            "child",
            "child",
            S::Running,
            S::Exited,
            None,
            Some(false),
            Some(17875),
        );
        assert_eq!(
            encode_notification("labsup", 8, "dump", 8, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:8 pool:dump poolserial:8 \
              eventname:PROCESS_STATE_EXITED len:73\n\
              processname:child groupname:child from_state:RUNNING expected:0 pid:17875"
        );
        let e = Event::process_state("exiter", "exiter", S::Backoff, S::Fatal, None, None, None);
        assert_eq!(e.kind, K::ProcessStateFatal);
        assert_eq!(
            e.payload,
            "processname:exiter groupname:exiter from_state:BACKOFF"
        );
    }

    #[test]
    fn group_supervisor_tick_remote_vectors() {
        let e = Event::process_group(true, "dump");
        assert_eq!(
            encode_notification("labsup", 0, "dump", 0, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:0 pool:dump poolserial:0 \
              eventname:PROCESS_GROUP_ADDED len:15\ngroupname:dump\n"
        );
        let e = Event::process_group(false, "g");
        assert_eq!(
            (e.kind, e.payload.as_str()),
            (K::ProcessGroupRemoved, "groupname:g\n")
        );
        let e = Event::supervisor_state_change(true);
        assert_eq!(
            encode_notification("labsup", 2, "dump", 2, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:2 pool:dump poolserial:2 \
              eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0\n"
        );
        assert_eq!(
            Event::supervisor_state_change(false).kind.name(),
            "SUPERVISOR_STATE_CHANGE_STOPPING"
        );
        let e = Event::tick(K::Tick5, 1795642535);
        assert_eq!(
            encode_notification("labsup", 9, "dump", 9, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:9 pool:dump poolserial:9 \
              eventname:TICK_5 len:15\nwhen:1795642535"
        );
        // Non-ASCII: len counts characters (23), the bytes are UTF-8 (24).
        let e = Event::remote_communication("mytype", "some data é");
        let wire = encode_notification("labsup", 10, "dump", 10, e.kind, &e.payload);
        assert_eq!(
            wire,
            "ver:3.0 server:labsup serial:10 pool:dump poolserial:10 \
             eventname:REMOTE_COMMUNICATION len:23\ntype:mytype\nsome data é"
                .as_bytes()
        );
    }

    #[test]
    fn process_log_and_communication_vectors() {
        let e = Event::process_log(
            OutputChannel::Stdout,
            "child",
            "child",
            17875,
            b"hello \xc3\xa9\nbad \xff\n",
        );
        assert_eq!(
            encode_notification("labsup", 5, "dump", 5, e.kind, &e.payload),
            b"ver:3.0 server:labsup serial:5 pool:dump poolserial:5 \
              eventname:PROCESS_LOG_STDOUT len:101\n\
              processname:child groupname:child pid:17875 channel:stdout\n\
              Undecodable: b'hello \\xc3\\xa9\\nbad \\xff\\n'"
        );
        let e = Event::process_log(OutputChannel::Stderr, "p", "g", 1, "é\n".as_bytes());
        assert_eq!(e.kind, K::ProcessLogStderr);
        assert_eq!(
            e.payload,
            "processname:p groupname:g pid:1 channel:stderr\né\n"
        );
        let e = Event::process_communication(OutputChannel::Stdout, "p", "g", 7, b"hi");
        assert_eq!(e.kind, K::ProcessCommunicationStdout);
        assert_eq!(e.payload, "processname:p groupname:g pid:7\nhi");
    }

    #[test]
    fn repr_bytes_quotes() {
        assert_eq!(py_repr_bytes(b"a'b"), "b\"a'b\"");
        assert_eq!(py_repr_bytes(b"a'\"b"), "b'a\\'\"b'");
        assert_eq!(py_repr_bytes(b"\\\x00\x7f"), "b'\\\\\\x00\\x7f'");
    }
}
