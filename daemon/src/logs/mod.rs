//! Child output and the main log.
//!
//! Everything here is plain logic plus blocking std file I/O (no tokio): the runtime owns the
//! pipes and calls into these types with the bytes it read.
//!
//! * [`output`]: per-channel processing of child output (capture mode, ANSI stripping) into
//!   [`OutputItem`]s the caller routes to the log file, PROCESS_LOG / PROCESS_COMMUNICATION
//!   events and the DEBG mirror.
//! * [`passthrough`]: `child_output=stdout`, child lines copied to supervisord's stdout.
//! * [`rotate`]: [`RotatingFile`], the size-rotated append-only file used for child logs and
//!   the main log.
//! * [`auto`]: AUTO child log names and their cleanup at startup.
//! * [`mainlog`]: [`MainLog`], supervisord's own log with Supervisor's line format.
//! * [`tail`]: reading logs for `readLog` / `tailProcessLog`.

pub mod auto;
pub mod auto_create;
mod level;
pub mod mainlog;
pub mod output;
pub mod passthrough;
pub mod rotate;
pub mod tail;

pub use auto::{
    auto_log_name, auto_log_path, cleanup_auto_logs, cleanup_auto_logs_report, create_auto_log,
    is_auto_log_name, CleanupReport,
};
pub use level::LogLevel;
pub use mainlog::{format_line, MainLog};
pub use output::{
    comm_event_debug_message, output_debug_message, strip_ansi, AnsiStripper, Channel, OutputItem,
    OutputProcessor, BEGIN_TOKEN, END_TOKEN,
};
pub use passthrough::{LineSplitter, LogFormat, StdoutSink, Style};
pub use rotate::{rotation_plan, RotatingFile};
pub use tail::{read_range, tail, ReadError};
