//! supervisord's own log (upstream-reference §3.8): `YYYY-MM-DD HH:MM:SS,mmm LEVL message\n`.
//!
//! Why a dedicated type: messages are produced before the log file can be opened (config parse
//! warnings, which Supervisor replays once the logger exists), the file rotates like child logs,
//! it is mirrored to stdout with `nodaemon` and not `silent`, it is reopened on SIGUSR2, and a
//! logging failure must never take the daemon down. `log` therefore never panics and never
//! returns an error: a write failure is reported once on stderr and the file is reopened on
//! the next line (see [`RotatingFile`]).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Local};

use super::level::LogLevel;
use super::rotate::RotatingFile;

/// Lines kept while no sink is attached; older ones are dropped beyond this.
const MAX_PENDING: usize = 10_000;

/// One main-log line, newline included: `2024-01-02 03:04:05,678 INFO message\n`.
/// Milliseconds are truncated, like Supervisor's `'%s,%03d' % (part1, msecs)`.
pub fn format_line(time: DateTime<Local>, level: LogLevel, message: &str) -> String {
    let millis = time.timestamp_subsec_millis().min(999);
    format!(
        "{},{:03} {} {}\n",
        time.format("%Y-%m-%d %H:%M:%S"),
        millis,
        level.tag(),
        message
    )
}

/// The daemon's log. See the module docs.
#[derive(Debug)]
pub struct MainLog {
    level: LogLevel,
    file: Option<RotatingFile>,
    stdout: bool,
    /// `log_format=json` (extension): the stdout mirror writes JSON lines (the file keeps
    /// Supervisor's format).
    stdout_json: bool,
    /// `Some` until a sink is attached ([`MainLog::open_file`] or [`MainLog::flush_pending`]).
    pending: Option<VecDeque<(DateTime<Local>, LogLevel, String)>>,
    /// A write error was already reported on stderr; cleared by the next successful write.
    failing: bool,
}

impl MainLog {
    /// A log that buffers lines until a file is attached (or [`MainLog::flush_pending`]).
    pub fn new(level: LogLevel) -> MainLog {
        MainLog {
            level,
            file: None,
            stdout: false,
            stdout_json: false,
            pending: Some(VecDeque::new()),
            failing: false,
        }
    }

    /// Attach (or replace) the log file and replay buffered lines that pass the current level.
    pub fn open_file(&mut self, path: &Path, maxbytes: u64, backups: u32) -> io::Result<()> {
        // Main log lines are few and each matters: retry a failing file at every line.
        self.file = Some(
            RotatingFile::open(path, maxbytes, backups)?
                .with_retry_interval(std::time::Duration::ZERO),
        );
        self.failing = false;
        self.flush_pending();
        Ok(())
    }

    /// The attached file's path, if any (`readLog` / `clearLog` / `tail`).
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path())
    }

    /// `nodaemon && !silent`: also print lines to stdout.
    pub fn set_stdout(&mut self, on: bool) {
        self.stdout = on;
    }

    /// `log_format=json`: the stdout mirror writes one JSON object per line
    /// (`{"time","level","message"}`).
    pub fn set_stdout_json(&mut self, on: bool) {
        self.stdout_json = on;
    }

    /// Stop buffering without a file (e.g. `logfile=syslog` or no file wanted): replay the
    /// buffered lines to stdout if enabled, else drop them. Idempotent.
    pub fn flush_pending(&mut self) {
        if let Some(lines) = self.pending.take() {
            for (time, level, message) in lines {
                if self.enabled(level) {
                    self.emit(time, level, &message);
                }
            }
        }
    }

    pub fn set_level(&mut self, level: LogLevel) {
        self.level = level;
    }

    pub fn level(&self) -> LogLevel {
        self.level
    }

    /// Would a message at `level` be written? (Skip building expensive messages otherwise.)
    pub fn enabled(&self, level: LogLevel) -> bool {
        level as u8 >= self.level as u8
    }

    /// Log one message. Never panics, never fails.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        let now = Local::now();
        if let Some(pending) = self.pending.as_mut() {
            // Filtered at replay time, with the level in force then.
            if pending.len() >= MAX_PENDING {
                pending.pop_front();
            }
            pending.push_back((now, level, message.to_string()));
            return;
        }
        if self.enabled(level) {
            self.emit(now, level, message);
        }
    }

    fn emit(&mut self, time: DateTime<Local>, level: LogLevel, message: &str) {
        let line = format_line(time, level, message);
        if let Some(file) = self.file.as_mut() {
            match file.write(line.as_bytes()) {
                Ok(()) => self.failing = false,
                Err(e) => {
                    if !self.failing {
                        self.failing = true;
                        let _ = writeln!(
                            io::stderr(),
                            "supervisord: cannot write log file {}: {e} (will retry)",
                            file.path().display()
                        );
                    }
                }
            }
        }
        if self.stdout {
            let json;
            let line = if self.stdout_json {
                json = super::passthrough::format_main_json(time, level.tag(), message);
                &json
            } else {
                &line
            };
            // EPIPE and friends on stdout are ignored, like Supervisor.
            let mut out = io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }

    /// Reopen the file by path (SIGUSR2). No-op without a file.
    pub fn reopen(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.reopen(),
            None => Ok(()),
        }
    }

    /// `supervisor.clearLog`: delete the file, reopen it, then log INFO `reopening log file`
    /// (Supervisor's order). `NotFound` if no file is attached.
    pub fn clear(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no main log file configured",
            ));
        };
        std::fs::remove_file(file.path())?;
        let reopened = file.reopen();
        self.log(LogLevel::Info, "reopening log file");
        reopened
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::fs;

    fn is_line(line: &str, tag: &str, msg: &str) -> bool {
        // "YYYY-MM-DD HH:MM:SS,mmm TAG msg"
        let b = line.as_bytes();
        line.len() == 24 + tag.len() + 1 + msg.len()
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b','
            && b[23] == b' '
            && line[24..].starts_with(tag)
            && line.ends_with(msg)
    }

    #[test]
    fn line_format() {
        let t = Local
            .with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
            .single()
            .map(|t| t + chrono::Duration::microseconds(678_900));
        let Some(t) = t else { return };
        assert_eq!(
            format_line(t, LogLevel::Info, "hello"),
            "2024-01-02 03:04:05,678 INFO hello\n"
        );
        assert_eq!(
            format_line(t, LogLevel::Debug, "'cat' stdout output:\nx\n"),
            "2024-01-02 03:04:05,678 DEBG 'cat' stdout output:\nx\n\n"
        );
        assert_eq!(
            format_line(
                t - chrono::Duration::milliseconds(678),
                LogLevel::Critical,
                "c"
            ),
            "2024-01-02 03:04:05,000 CRIT c\n"
        );
    }

    #[test]
    fn levels_filter() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("supervisord.log");
        let mut log = MainLog::new(LogLevel::Info);
        log.open_file(&path, 0, 0)?;
        assert!(log.enabled(LogLevel::Info));
        assert!(log.enabled(LogLevel::Critical));
        assert!(!log.enabled(LogLevel::Debug));
        log.log(LogLevel::Debug, "hidden");
        log.log(LogLevel::Info, "shown");
        log.log(LogLevel::Warn, "warned");
        log.set_level(LogLevel::Blather);
        assert!(log.enabled(LogLevel::Blather));
        log.log(LogLevel::Trace, "traced");
        let text = fs::read_to_string(&path)?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(is_line(lines[0], "INFO", "shown"));
        assert!(is_line(lines[1], "WARN", "warned"));
        assert!(is_line(lines[2], "TRAC", "traced"));
        assert_eq!(log.path(), Some(path.as_path()));
        Ok(())
    }

    #[test]
    fn buffers_until_file_then_replays_with_current_level() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("m.log");
        let mut log = MainLog::new(LogLevel::Info);
        log.log(LogLevel::Warn, "parse warning");
        log.log(LogLevel::Debug, "debug before level known");
        log.set_level(LogLevel::Debug);
        log.open_file(&path, 0, 0)?;
        log.log(LogLevel::Info, "after");
        let text = fs::read_to_string(&path)?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(is_line(lines[0], "WARN", "parse warning"));
        assert!(is_line(lines[1], "DEBG", "debug before level known"));
        assert!(is_line(lines[2], "INFO", "after"));
        Ok(())
    }

    #[test]
    fn rotates_and_reopens_and_clears() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("m.log");
        let mut log = MainLog::new(LogLevel::Info);
        log.open_file(&path, 100, 2)?;
        for i in 0..20 {
            log.log(LogLevel::Info, &format!("message number {i}"));
        }
        assert!(dir.path().join("m.log.1").exists());
        assert!(dir.path().join("m.log.2").exists());
        assert!(!dir.path().join("m.log.3").exists());
        fs::rename(&path, dir.path().join("moved"))?;
        log.reopen()?;
        log.log(LogLevel::Info, "fresh");
        assert!(is_line(
            fs::read_to_string(&path)?.trim_end(),
            "INFO",
            "fresh"
        ));
        log.clear()?;
        let text = fs::read_to_string(&path)?;
        assert!(
            is_line(text.trim_end(), "INFO", "reopening log file"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn write_failure_never_panics_and_recovers() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let sub = dir.path().join("sub");
        fs::create_dir(&sub)?;
        let path = sub.join("m.log");
        let mut log = MainLog::new(LogLevel::Info);
        log.open_file(&path, 10, 1)?;
        fs::remove_file(&path)?;
        fs::remove_dir(&sub)?;
        log.log(LogLevel::Info, "lost 1");
        log.log(LogLevel::Info, "lost 2");
        fs::create_dir(&sub)?;
        log.log(LogLevel::Info, "back");
        // The line landed in the reopened file, which then rotated (line > 10 bytes).
        assert!(fs::read_to_string(sub.join("m.log.1"))?.contains("back"));
        Ok(())
    }

    #[test]
    fn flush_pending_without_file_and_clear_without_file() {
        let mut log = MainLog::new(LogLevel::Info);
        log.log(LogLevel::Info, "dropped");
        log.flush_pending();
        log.log(LogLevel::Info, "no sink");
        assert!(log.path().is_none());
        assert!(log.reopen().is_ok());
        assert!(log.clear().is_err());
    }
}
