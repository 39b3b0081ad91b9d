//! The event type hierarchy. Abstract types exist only for `events=` subscriptions; the leaf
//! name is what goes into a notification's `eventname:` token.

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

            /// The parent type, `None` only for `EVENT`.
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
}
