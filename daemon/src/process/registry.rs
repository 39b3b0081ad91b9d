//! The child record: which children this supervisord started, kept in a small state file next
//! to the pidfile (`<pidfile>.children`), so that after the daemon is killed with SIGKILL (or
//! crashes) the next start finds the programs it left running and stops them before starting
//! its own copies. No duplicate programs run, and the children themselves are started exactly
//! as before (no `PR_SET_PDEATHSIG`, so `posix_spawn` stays usable; see docs/reliability.md).
//!
//! Each line identifies a process by pid, start time (field 22 of `/proc/<pid>/stat`, clock
//! ticks since boot) **and** command line (`/proc/<pid>/cmdline`, first [`CMDLINE_MAX`] bytes,
//! percent-encoded), so a pid reused by an unrelated process never matches:
//!
//! ```text
//! supervisord <pid> <starttime> record=2 boot=<boot id>
//! <pid> <starttime> <cmdline> <group>:<name>
//! ```
//!
//! The boot id (`/proc/sys/kernel/random/boot_id`) makes a record written before a reboot
//! void (start times count from boot). A child that execs another program (a wrapper
//! `sh -c 'exec prog'`) changes its command line; while the daemon runs, the line is
//! refreshed when the child reaches RUNNING (it is still our unreaped child then, so its pid
//! cannot have been reused). A later change (a program
//! rewriting its own argv) makes the leftover unrecognisable: it is left running with a WARN.
//!
//! Maintenance is an append journal: a spawn appends one line to the open file (O(1), no
//! rewrite), and the file is compacted (rewritten without the entries of reaped children)
//! only when its line count has doubled since the last compaction, so the cost per spawn is
//! O(1) amortised, and nothing is read from `/proc` in the spawn path (see [`record`]). The
//! line (pid and start time, the start time taken from the clock around the spawn) is in the
//! file (page cache) before the spawn returns, so a SIGKILL of the daemon never loses it
//! (unless the spawn straddled a clock tick: that child's line follows a few ms later). A
//! clean shutdown removes the file. A record whose
//! `supervisord` line names a daemon that is still alive belongs to another running instance
//! and is left alone.
//!
//! The file may sit in a directory other users can write (`pidfile=/tmp/...`), so it is
//! treated as hostile input: it is only trusted when it is a regular file (no symlink) owned
//! by our uid and not writable by group or others, in a directory only we (or root) control
//! or that is sticky; it is written through a temporary file created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` (mode 0600) and renamed; and pid 1 (or less), our own pid, our
//! parent and process group 1 are never signalled whatever the record says.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much of a command line is recorded and compared.
pub const CMDLINE_MAX: usize = 1024;

/// A record larger than this is not read (a real one holds a few hundred bytes per child).
const RECORD_MAX: u64 = 64 << 20;

/// The format marker on the header line.
const FORMAT: &str = "record=2";

/// One recorded child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub pid: i32,
    pub start: u64,
    /// `/proc/<pid>/cmdline` when it was spawned (NUL-separated, at most [`CMDLINE_MAX`]).
    pub cmdline: Vec<u8>,
    pub name: String,
}

impl Entry {
    fn line(&self) -> String {
        // Names come from the config; keep the line a line whatever they hold.
        let name: String = self
            .name
            .chars()
            .map(|c| if c == '\n' || c == '\r' { '?' } else { c })
            .collect();
        let cmdline = if self.cmdline.is_empty() {
            // Not known yet (see `record`); a real one always ends with a NUL (`%00`).
            "-".to_string()
        } else {
            encode_cmdline(&self.cmdline)
        };
        format!("{} {} {cmdline} {name}\n", self.pid, self.start)
    }
}

/// The parsed state file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// `(pid, start time)` of the daemon that wrote it.
    pub daemon: Option<(i32, u64)>,
    /// The kernel's boot id when it was written.
    pub boot: Option<String>,
    pub children: Vec<Entry>,
}

impl Record {
    /// Parse the state file. Malformed lines are skipped (lines naming pid 1 or less are kept
    /// for [`kill_leftovers`] to refuse them aloud), and so is a last line without its
    /// newline (an append cut short by a crash). A later line for the same pid and start time
    /// replaces an earlier one. Errors when the header is missing or of another format.
    pub fn parse(text: &str) -> Result<Record, String> {
        let mut record = Record::default();
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        let mut lines = complete.lines();
        let header = lines.next().unwrap_or("");
        let mut h = header.split(' ');
        if h.next() != Some("supervisord") {
            return Err("no 'supervisord' header line".into());
        }
        let pid = h.next().and_then(|p| p.parse().ok());
        let start = h.next().and_then(|s| s.parse().ok());
        if h.next() != Some(FORMAT) {
            return Err(format!(
                "not in the {FORMAT} format (written by an older version?)"
            ));
        }
        if let (Some(pid), Some(start)) = (pid, start) {
            record.daemon = Some((pid, start));
        }
        record.boot = h.find_map(|w| w.strip_prefix("boot=")).map(str::to_string);
        let mut seen: HashMap<(i32, u64), usize> = HashMap::new();
        for line in lines {
            let mut parts = line.splitn(4, ' ');
            let (Some(a), Some(b), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(pid), Ok(start)) = (a.parse::<i32>(), b.parse::<u64>()) else {
                continue;
            };
            let cmdline = if c == "-" {
                Vec::new()
            } else {
                match decode_cmdline(c) {
                    Some(cmd) if !cmd.is_empty() => cmd,
                    _ => continue,
                }
            };
            let entry = Entry {
                pid,
                start,
                cmdline,
                name: parts.next().unwrap_or("").to_string(),
            };
            match seen.get(&(pid, start)) {
                Some(&i) => record.children[i] = entry,
                None => {
                    seen.insert((pid, start), record.children.len());
                    record.children.push(entry);
                }
            }
        }
        Ok(record)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let (pid, start) = self.daemon.unwrap_or((0, 0));
        out.push_str(&format!("supervisord {pid} {start} {FORMAT}"));
        if let Some(boot) = &self.boot {
            out.push_str(&format!(" boot={boot}"));
        }
        out.push('\n');
        for e in &self.children {
            out.push_str(&e.line());
        }
        out
    }
}

/// Percent-encoding of a command line: printable ASCII other than `%` as is, every other byte
/// (NUL separators, spaces, newlines, UTF-8) as `%XX`. Never empty for a non-empty input and
/// never contains a space.
fn encode_cmdline(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_cmdline(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A command line for a log line: arguments separated by spaces, control bytes escaped.
fn shown_cmdline(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| match c {
            '\0' => " ".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// `<pidfile>.children`.
pub fn state_path(pidfile: &Path) -> PathBuf {
    let mut s = pidfile.as_os_str().to_owned();
    s.push(".children");
    PathBuf::from(s)
}

/// This boot's id (`None` where the kernel has no such file).
pub fn boot_id() -> Option<String> {
    let text = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = text.trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| id.to_string())
}

/// `(state letter, start time)` of a live process from `/proc/<pid>/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces and ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the line (index 0 here), starttime field 22 (19).
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// The first [`CMDLINE_MAX`] bytes of `/proc/<pid>/cmdline` (empty for zombies and kernel
/// threads).
pub fn proc_cmdline(pid: i32) -> Option<Vec<u8>> {
    let f = fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut out = Vec::new();
    f.take(CMDLINE_MAX as u64).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Start time and command line of a child just spawned, waiting for its exec to finish (see
/// `record`; tests only: the daemon does not wait).
#[cfg(test)]
fn identity_after_exec(pid: i32) -> Option<(u64, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_millis(50);
    loop {
        let (state, start) = proc_stat(pid)?;
        if state == 'Z' || state == 'X' {
            return None;
        }
        let cmdline = proc_cmdline(pid)?;
        if !cmdline.is_empty() {
            return Some((start, cmdline));
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// What `/proc` says about a recorded process now.
#[derive(Debug, PartialEq, Eq)]
enum Now {
    /// Same pid, start time and command line: the recorded process, still running.
    Same,
    /// Same pid and start time, another command line (it exec'd or rewrote its argv).
    Changed(Vec<u8>),
    /// Same pid and start time, but `/proc/<pid>/cmdline` reads empty (an exec under way).
    Unknown,
    /// Exited, a zombie, or another process (start time differs).
    Gone,
}

fn now(e: &Entry) -> Now {
    match proc_stat(e.pid) {
        Some((state, s)) if s == e.start && state != 'Z' && state != 'X' => {}
        _ => return Now::Gone,
    }
    match proc_cmdline(e.pid) {
        Some(c) if c.is_empty() => Now::Unknown,
        Some(c) if c == e.cmdline => Now::Same,
        Some(c) => Now::Changed(c),
        None => Now::Gone,
    }
}

/// True if `pid` is still the process that was recorded (same start time and command line)
/// and has not exited (zombies count as gone).
fn still_running(e: &Entry) -> bool {
    now(e) == Now::Same
}

/// Whether a process named in a record may be signalled at all: never pid 0 or 1 (`kill(0)`
/// and `kill(-1)` reach whole groups or every process), nor ourselves or our parent.
fn may_signal(pid: i32) -> bool {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    pid > 1 && pid != std::process::id() as i32 && pid != parent
}

/// Why `dir` is not a safe place for the record, if it is not: it must be owned by us or
/// root, and not writable by others unless sticky (as /tmp), else another user could swap
/// our file for theirs between two of our system calls.
fn unsafe_dir(dir: &Path) -> Option<String> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => {
            return Some(format!(
                "cannot inspect its directory {}: {e}",
                dir.display()
            ))
        }
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!(
            "its directory {} belongs to another user (uid {})",
            dir.display(),
            meta.uid()
        ));
    }
    let mode = meta.mode();
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Some(format!(
            "its directory {} is writable by other users and not sticky (mode {:o})",
            dir.display(),
            mode & 0o7777
        ));
    }
    None
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

struct Active {
    path: PathBuf,
    /// The record file we created (the inode renamed to `path`), open for appending.
    file: Option<fs::File>,
    daemon: (i32, u64),
    boot: Option<String>,
    /// Every entry written since the last compaction, by pid (a pid seen again replaces it).
    entries: HashMap<i32, Entry>,
    /// Child lines in the file.
    lines: usize,
    /// Line count at which the file is compacted.
    compact_at: usize,
    /// Children recorded before their command line could be read, oldest first.
    pending: VecDeque<Pending>,
}

/// A child whose command line (and perhaps start time) is still to be read from `/proc`.
struct Pending {
    pid: i32,
    /// Where its start time must lie (see [`record`]).
    window: (u64, u64),
    /// When it was spawned: `/proc` is read only [`RESOLVE_AFTER`] later.
    since: Instant,
}

/// How long after a spawn its `/proc` entries are first read. Reading `/proc/<pid>/stat` or
/// `cmdline` of a child still inside `execve` waits until its exec is done (the kernel holds
/// the child's exec lock while it closes the inherited descriptors, which takes longer the
/// more the daemon holds), so reading them at once would make the loop wait for every exec.
const RESOLVE_AFTER: Duration = Duration::from_millis(5);

impl Active {
    fn render(&self) -> String {
        let mut record = Record {
            daemon: Some(self.daemon),
            boot: self.boot.clone(),
            // Start time 0: not known yet (see `record`), written once it is.
            children: self
                .entries
                .values()
                .filter(|e| e.start != 0)
                .cloned()
                .collect(),
        };
        record.children.sort_by_key(|e| e.pid);
        record.render()
    }

    /// Append one line, compacting instead when the file has doubled.
    fn append(&mut self, line: &str) -> io::Result<()> {
        self.lines += 1;
        if self.lines >= self.compact_at {
            return self.compact();
        }
        match self.file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()),
            None => Ok(()),
        }
    }

    /// Fill in the command lines (and start times not known yet) of pending children spawned
    /// at least [`RESOLVE_AFTER`] ago whose exec has finished, oldest first, stopping at the
    /// first one still under way (so a call costs O(1) plus what it resolves).
    fn resolve_pending(&mut self) -> io::Result<()> {
        while let Some(p) = self.pending.front() {
            let (pid, (lo, hi)) = (p.pid, p.window);
            let Some(entry) = self.entries.get_mut(&pid).filter(|e| e.cmdline.is_empty()) else {
                self.pending.pop_front();
                continue;
            };
            if p.since.elapsed() < RESOLVE_AFTER {
                return Ok(());
            }
            if entry.start == 0 {
                match proc_stat(pid) {
                    Some((state, start))
                        if state != 'Z' && state != 'X' && (lo..=hi).contains(&start) =>
                    {
                        entry.start = start;
                    }
                    _ => {
                        // Exited already: nothing can be left over.
                        self.entries.remove(&pid);
                        self.pending.pop_front();
                        continue;
                    }
                }
            }
            // Entries are our unreaped children (see `exited`), so the pid still names the
            // child with this start time: only its command line is read.
            match proc_cmdline(pid) {
                Some(c) if c.is_empty() => return Ok(()),
                Some(cmdline) => {
                    entry.cmdline = cmdline;
                    let line = entry.line();
                    self.pending.pop_front();
                    self.append(&line)?;
                }
                None => {
                    self.pending.pop_front();
                }
            }
        }
        Ok(())
    }

    /// Rewrite the file with only the children not reaped yet (see [`exited`]); nothing is
    /// read from `/proc`.
    fn compact(&mut self) -> io::Result<()> {
        // Entries whose start time is still to be read are not written.
        self.lines = self.entries.values().filter(|e| e.start != 0).count();
        self.compact_at = (self.lines * 2).max(MIN_COMPACT);
        self.file = Some(write_new(&self.path, &self.render())?);
        Ok(())
    }
}

const MIN_COMPACT: usize = 64;

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

/// Write `text` as the new record at `path` and return the file, open for appending: create
/// `<path>.tmp` with `O_CREAT|O_EXCL|O_NOFOLLOW` (mode 0600; a planted file or symlink there is
/// unlinked, never followed), write, rename over `path`.
fn write_new(path: &Path, text: &str) -> io::Result<fs::File> {
    if let Some(why) = unsafe_dir(parent_of(path)) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut attempts = 0;
    let mut f = loop {
        let opened = fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        match opened {
            Ok(f) => break f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 3 => {
                // Left by a crash, or planted: unlink removes the name (a symlink itself,
                // not its target), then try again.
                attempts += 1;
                fs::remove_file(&tmp)?;
            }
            Err(e) => return Err(e),
        }
    };
    let written = f.write_all(text.as_bytes());
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(f)
}

/// Start recording this daemon's children in `path` (replacing any old record).
pub fn open(path: PathBuf) -> io::Result<()> {
    let me = std::process::id() as i32;
    let start = proc_stat(me).map(|(_, s)| s).unwrap_or(0);
    let mut active = Active {
        path,
        file: None,
        daemon: (me, start),
        boot: boot_id(),
        entries: HashMap::new(),
        lines: 0,
        compact_at: MIN_COMPACT,
        pending: VecDeque::new(),
    };
    let result = write_new(&active.path, &active.render()).map(|f| active.file = Some(f));
    // Kept even on failure: a later compaction retries (e.g. once a planted .tmp is gone).
    if let Ok(mut guard) = ACTIVE.lock() {
        *guard = Some(active);
    }
    result
}

/// Move the record (the pidfile moved on a restart).
pub fn move_to(path: PathBuf) -> io::Result<()> {
    let Ok(mut guard) = ACTIVE.lock() else {
        return Ok(());
    };
    let Some(active) = guard.as_mut() else {
        return Ok(());
    };
    if active.path == path {
        return Ok(());
    }
    if active.file.take().is_some() {
        let _ = fs::remove_file(&active.path);
    }
    active.path = path;
    active.compact()
}

/// Clock ticks since boot now (`CLOCK_BOOTTIME`, the clock and unit of a process's start
/// time in `/proc/<pid>/stat`, field 22), for the window passed to [`record`].
pub fn boot_ticks() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; sysconf has no preconditions.
    let (ok, hz) = unsafe {
        (
            libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) == 0,
            libc::sysconf(libc::_SC_CLK_TCK),
        )
    };
    let (secs, nanos, hz) = (
        u64::try_from(ts.tv_sec).ok()?,
        u64::try_from(ts.tv_nsec).ok()?,
        u64::try_from(hz).ok()?,
    );
    if !ok || hz == 0 || 1_000_000_000 % hz != 0 {
        return None;
    }
    // As the kernel's nsec_to_clock_t: whole ticks, rounded down.
    let per_tick = 1_000_000_000 / hz;
    Some(secs * hz + nanos / per_tick)
}

/// Record a child just spawned (`name` is `group:process`). `window` is [`boot_ticks`] just
/// before and just after the spawn call: the kernel stamps the child's start time inside it.
/// Entries of reaped children ([`exited`]) are dropped when the file is compacted (stale entries
/// are harmless: pid, start time and command line must all match). A failure to write is
/// returned for the caller to log; the child runs either way.
///
/// Nothing is read from `/proc` here: `posix_spawn` (vfork) returns once the child has left
/// our memory, before the kernel has finished its exec, and `/proc/<pid>/stat` and `cmdline`
/// of a child in that state can only be read once the exec is done (the daemon would wait
/// for every child's exec in turn). When both ends of the window are the same tick (nearly
/// always: a spawn takes well under a tick), that is the child's start time and its line is
/// written at once, with the command line unknown (`-`), so the line is in the file (page
/// cache) before the spawn returns. A second line with the command line follows as soon as
/// it can be read: at the next turn of the supervision loop after [`RESOLVE_AFTER`]
/// ([`resolve_pending`]). When the spawn straddled a tick, the start time
/// is read from `/proc` at that point too, and the child's first line is written then.
pub fn record(pid: i32, name: &str, window: Option<(u64, u64)>) -> io::Result<()> {
    let Ok(mut guard) = ACTIVE.lock() else {
        return Ok(());
    };
    let Some(active) = guard.as_mut() else {
        return Ok(());
    };
    let (lo, hi) = window.unwrap_or((1, u64::MAX));
    let start = if lo == hi { lo } else { 0 };
    active.pending.push_back(Pending {
        pid,
        window: (lo, hi),
        since: Instant::now(),
    });
    let entry = Entry {
        pid,
        start,
        cmdline: Vec::new(),
        name: name.to_string(),
    };
    let line = entry.line();
    active.entries.insert(pid, entry);
    if start == 0 {
        return Ok(());
    }
    active.append(&line)
}

/// A recorded child was reaped: it can no longer be left over, and its pid may be reused.
/// Its lines leave the file at the next compaction.
pub fn exited(pid: i32) {
    if let Ok(mut guard) = ACTIVE.lock() {
        if let Some(active) = guard.as_mut() {
            active.entries.remove(&pid);
        }
    }
}

/// True while some recorded child's command line is still to be read (the supervision loop
/// then comes back soon to [`resolve_pending`]).
pub fn has_pending() -> bool {
    ACTIVE
        .lock()
        .ok()
        .is_some_and(|g| g.as_ref().is_some_and(|a| !a.pending.is_empty()))
}

/// Write the command lines of children recorded before their exec had finished.
pub fn resolve_pending() -> io::Result<()> {
    let Ok(mut guard) = ACTIVE.lock() else {
        return Ok(());
    };
    match guard.as_mut() {
        Some(active) => active.resolve_pending(),
        None => Ok(()),
    }
}

/// A recorded child reached RUNNING: if it has exec'd another program since it was spawned
/// (a wrapper `sh -c 'exec prog'`), append a line with its current command line.
pub fn refresh(pid: i32) -> io::Result<()> {
    let Ok(mut guard) = ACTIVE.lock() else {
        return Ok(());
    };
    let Some(active) = guard.as_mut() else {
        return Ok(());
    };
    // Still pending: its command line is read then, after the exec (reading it now could wait
    // for the exec).
    let Some(entry) = active
        .entries
        .get_mut(&pid)
        .filter(|e| !e.cmdline.is_empty() && e.start != 0)
    else {
        return Ok(());
    };
    let Now::Changed(cmdline) = now(entry) else {
        return Ok(());
    };
    entry.cmdline = cmdline;
    let line = entry.line();
    active.append(&line)
}

/// Stop recording and remove the file (clean shutdown: every child has been stopped).
pub fn close() {
    if let Ok(mut guard) = ACTIVE.lock() {
        if let Some(active) = guard.take() {
            if active.file.is_some() {
                let _ = fs::remove_file(&active.path);
            }
        }
    }
}

/// What [`kill_leftovers`] did, as main-log lines (`warn` ones are WARN, `info` INFO).
#[derive(Debug, Default)]
pub struct Cleanup {
    pub warn: Vec<String>,
    pub info: Vec<String>,
    /// Pids that were still running after SIGKILL and the grace time (should stay empty).
    pub survivors: Vec<i32>,
}

/// Open and read the record at `path` if it can be trusted: a regular file (not a symlink,
/// FIFO or device), owned by our uid, not writable by group or others, of a sane size, in a
/// safe directory. `Ok(None)` when there is none.
fn read_trusted(path: &Path) -> Result<Option<String>, String> {
    let shown = path.display();
    let f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(format!(
                "ignoring the child record {shown}: it is a symbolic link"
            ))
        }
        Err(e) => return Err(format!("could not read the child record {shown}: {e}")),
    };
    let meta = f
        .metadata()
        .map_err(|e| format!("could not read the child record {shown}: {e}"))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.file_type().is_file() {
        return Err(format!(
            "ignoring the child record {shown}: not a regular file"
        ));
    }
    if meta.uid() != me {
        return Err(format!(
            "ignoring the child record {shown}: owned by uid {}, not by this supervisord's uid {me}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "ignoring the child record {shown}: writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    if let Some(why) = unsafe_dir(parent_of(path)) {
        return Err(format!("ignoring the child record {shown}: {why}"));
    }
    if meta.len() > RECORD_MAX {
        return Err(format!(
            "ignoring the child record {shown}: {} bytes is more than a record can be",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    f.take(RECORD_MAX)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("could not read the child record {shown}: {e}"))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Read the record left at `path` by an earlier supervisord and stop every child it lists
/// that is still running: SIGTERM to its process group, up to `grace` for them to go, then
/// SIGKILL (and up to `grace` again). Does nothing when the writer is still alive (another
/// instance), when there is no record, or when the record cannot be trusted (WARN).
pub fn kill_leftovers(path: &Path, grace: Duration) -> Cleanup {
    let mut out = Cleanup::default();
    let text = match read_trusted(path) {
        Ok(Some(t)) => t,
        Ok(None) => return out,
        Err(msg) => {
            out.warn.push(msg);
            return out;
        }
    };
    let record = match Record::parse(&text) {
        Ok(r) => r,
        Err(why) => {
            out.warn.push(format!(
                "ignoring the child record {}: {why}",
                path.display()
            ));
            return out;
        }
    };
    if let (Some(then), Some(current)) = (&record.boot, boot_id()) {
        if *then != current {
            out.info.push(format!(
                "the child record {} was written before the last reboot; nothing to stop",
                path.display()
            ));
            return out;
        }
    }
    let me = std::process::id() as i32;
    if let Some((pid, start)) = record.daemon {
        if pid != me && matches!(proc_stat(pid), Some((st, s)) if s == start && st != 'Z') {
            out.warn.push(format!(
                "the child record {} belongs to a supervisord that is still running (pid {pid}); \
                 leaving its children alone",
                path.display()
            ));
            return out;
        }
    }
    let mut left: Vec<&Entry> = Vec::new();
    for e in &record.children {
        if !may_signal(e.pid) {
            out.warn.push(format!(
                "the child record {} names pid {} ({}); never signalling it",
                path.display(),
                e.pid,
                e.name
            ));
        } else {
            match now(e) {
                Now::Same => left.push(e),
                Now::Changed(_) if e.cmdline.is_empty() => out.warn.push(format!(
                    "leftover process {} (pid {}): the previous supervisord died before it \
                     recorded its command line; leaving it alone",
                    e.name, e.pid
                )),
                Now::Changed(cmdline) => out.warn.push(format!(
                    "leftover process {} (pid {}) now runs '{}', not the recorded '{}'; \
                     leaving it alone",
                    e.name,
                    e.pid,
                    shown_cmdline(&cmdline),
                    shown_cmdline(&e.cmdline)
                )),
                Now::Gone | Now::Unknown => {}
            }
        }
    }
    if left.is_empty() {
        return out;
    }
    // SAFETY: getpgrp has no preconditions.
    let own_group = unsafe { libc::getpgrp() };
    let deliver = |e: &Entry, sig: i32| {
        if !may_signal(e.pid) {
            return;
        }
        // The child leads its own process group (spawn uses setpgid(0, 0)); signal the group
        // so its descendants go too, else the process alone. Never group 0 or 1, nor ours.
        // SAFETY: plain syscalls with integer arguments.
        let pgid = unsafe { libc::getpgid(e.pid) };
        unsafe {
            if pgid == e.pid && pgid > 1 && pgid != own_group {
                libc::kill(-pgid, sig);
            } else {
                libc::kill(e.pid, sig);
            }
        }
    };
    for e in &left {
        out.warn.push(format!(
            "stopping leftover process {} (pid {}) from a previous supervisord that did not \
             shut down cleanly",
            e.name, e.pid
        ));
        deliver(e, libc::SIGTERM);
    }
    let wait = |deadline: Instant| loop {
        let alive: Vec<&Entry> = left.iter().copied().filter(|e| still_running(e)).collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stubborn = wait(Instant::now() + grace);
    for e in &stubborn {
        out.warn.push(format!(
            "leftover process {} (pid {}) ignored SIGTERM; sending SIGKILL",
            e.name, e.pid
        ));
        deliver(e, libc::SIGKILL);
    }
    if !stubborn.is_empty() {
        out.survivors = wait(Instant::now() + grace).iter().map(|e| e.pid).collect();
    }
    for pid in &out.survivors {
        out.warn.push(format!(
            "leftover process {pid} is still running after SIGKILL"
        ));
    }
    out.info.push(format!(
        "stopped {} leftover process(es) of a previous supervisord",
        left.len() - out.survivors.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    fn entry(pid: i32, start: u64, cmd: &[u8], name: &str) -> Entry {
        Entry {
            pid,
            start,
            cmdline: cmd.to_vec(),
            name: name.into(),
        }
    }

    #[test]
    fn record_round_trips_and_skips_garbage() {
        let text = "supervisord 10 20 record=2\n11 21 sleep%0030%00 g:a\ngarbage\n-1 5 x y\n\
                    12 x y z\n14 24 bad%zz g:b\n13 23 a%20b%0A%25 g:with space\n\
                    11 21 sleep%0031%00 g:a2\n16 26 - g:pending\n17 27 % g:bad\n15 25 cut";
        let r = Record::parse(text).expect("parses");
        assert_eq!(r.daemon, Some((10, 20)));
        assert_eq!(
            r.children,
            vec![
                entry(11, 21, b"sleep\x0031\x00", "g:a2"),
                entry(-1, 5, b"x", "y"),
                entry(13, 23, b"a b\n%", "g:with space"),
                entry(16, 26, b"", "g:pending"),
            ]
        );
        assert_eq!(Record::parse(&r.render()), Ok(r));
        assert!(Record::parse("").is_err());
        // The format before command lines were recorded is refused as a whole.
        let old = Record::parse("supervisord 10 20\n11 21 g:a\n").unwrap_err();
        assert!(old.contains("older version"), "{old}");
    }

    #[test]
    fn a_record_from_before_a_reboot_is_void() {
        let Some(boot) = boot_id() else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pid.children");
        let mut victim = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = victim.id() as i32;
        let (start, cmd) = identity_after_exec(pid).expect("identity");
        let mut record = Record {
            daemon: Some((i32::MAX, 1)),
            boot: Some(format!("{boot}-other")),
            children: vec![entry(pid, start, &cmd, "g:x")],
        };
        assert_eq!(Record::parse(&record.render()), Ok(record.clone()));
        write_new(&path, &record.render()).expect("write");
        let cleanup = kill_leftovers(&path, Duration::from_secs(1));
        assert!(
            cleanup.info[0].contains("before the last reboot"),
            "{cleanup:?}"
        );
        assert!(victim.try_wait().expect("try_wait").is_none());
        // Same boot: stopped.
        record.boot = Some(boot);
        write_new(&path, &record.render()).expect("write");
        let cleanup = kill_leftovers(&path, Duration::from_secs(5));
        assert!(
            cleanup.warn[0].contains("stopping leftover process g:x"),
            "{cleanup:?}"
        );
        let _ = victim.wait();
    }

    /// The only test that uses the process-wide record: spawns are recorded at once (the
    /// command line possibly still unknown), resolved later, compacted when doubled.
    #[test]
    fn spawns_are_appended_then_resolved_and_compacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pid.children");
        open(path.clone()).expect("open");
        let mut kids: Vec<std::process::Child> = Vec::new();
        for i in 0..70 {
            let before = boot_ticks();
            let child = std::process::Command::new("sleep")
                .arg(format!("{}", 100 + i))
                .process_group(0)
                .spawn()
                .expect("spawn sleep");
            // Odd ones as if the spawn had straddled a tick: the start time is read later.
            let window = if i % 2 == 0 {
                before.zip(boot_ticks())
            } else {
                before.map(|b| (b.saturating_sub(1), b + 100))
            };
            record(child.id() as i32, &format!("g:s{i}"), window).expect("record");
            kids.push(child);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while has_pending() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            resolve_pending().expect("resolve");
        }
        assert!(!has_pending());
        let text = fs::read_to_string(&path).expect("record");
        let record = Record::parse(&text).expect("parses");
        assert_eq!(record.children.len(), 70, "{text}");
        for (i, kid) in kids.iter().enumerate() {
            let e = record
                .children
                .iter()
                .find(|e| e.pid == kid.id() as i32)
                .expect("entry");
            assert_eq!(e.cmdline, format!("sleep\x00{}\x00", 100 + i).into_bytes());
            let (_, start) = proc_stat(e.pid).expect("stat");
            assert_eq!(e.start, start, "start time of {}", e.name);
            assert_eq!(e.name, format!("g:s{i}"));
        }
        // Up to 140 lines were appended (70 spawns, up to 70 resolutions); the file was
        // compacted at 64 and stays below the next threshold, 2 x the live entries then.
        let lines = text.lines().count() - 1;
        assert!(lines < 2 * 64, "{lines} lines:\n{text}");
        // Reaped children leave the record at the next compaction (moving it compacts).
        for k in kids.iter_mut().take(10) {
            let _ = k.kill();
            let _ = k.wait();
            exited(k.id() as i32);
        }
        let moved = dir.path().join("y.pid.children");
        move_to(moved.clone()).expect("move");
        let text = fs::read_to_string(&moved).expect("record");
        let record = Record::parse(&text).expect("parses");
        assert_eq!(record.children.len(), 60, "{text}");
        close();
        assert!(!path.exists() && !moved.exists());
        for mut k in kids {
            let _ = k.kill();
            let _ = k.wait();
        }
    }

    /// The clock read around a spawn brackets the start time the kernel reports.
    #[test]
    fn boot_ticks_bracket_a_childs_start_time() {
        for _ in 0..20 {
            let lo = boot_ticks().expect("CLOCK_BOOTTIME");
            let mut child = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .expect("spawn sleep");
            let hi = boot_ticks().expect("CLOCK_BOOTTIME");
            let (_, start) = proc_stat(child.id() as i32).expect("stat");
            let _ = child.kill();
            let _ = child.wait();
            assert!(lo <= start && start <= hi, "{lo} <= {start} <= {hi}");
        }
    }

    #[test]
    fn cmdline_encoding_has_no_spaces_and_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let enc = encode_cmdline(&all);
        assert!(!enc.contains(' ') && !enc.contains('\n'));
        assert_eq!(decode_cmdline(&enc), Some(all));
        assert_eq!(decode_cmdline("%4"), None);
    }

    #[test]
    fn proc_stat_and_cmdline_of_self() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).expect("own /proc stat");
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(start > 0);
        assert!(proc_stat(i32::MAX).is_none());
        let cmd = proc_cmdline(me).expect("own cmdline");
        assert!(!cmd.is_empty() && cmd.len() <= CMDLINE_MAX);
    }

    #[test]
    fn never_signals_init_ourselves_or_our_parent() {
        assert!(!may_signal(-5));
        assert!(!may_signal(0));
        assert!(!may_signal(1));
        assert!(!may_signal(std::process::id() as i32));
        assert!(!may_signal(unsafe { libc::getppid() }));
        assert!(may_signal(i32::MAX));
    }

    #[test]
    fn state_path_is_next_to_the_pidfile() {
        assert_eq!(
            state_path(Path::new("/run/supervisord.pid")),
            PathBuf::from("/run/supervisord.pid.children")
        );
    }

    #[test]
    fn unsafe_directories_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(unsafe_dir(dir.path()), None);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
        assert_eq!(unsafe_dir(dir.path()), None, "sticky like /tmp is fine");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
        let why = unsafe_dir(dir.path()).expect("world-writable, not sticky");
        assert!(why.contains("not sticky"), "{why}");
        // The record is not written there.
        let err = write_new(&dir.path().join("x.children"), "x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn write_never_follows_a_planted_tmp_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("precious");
        fs::write(&target, "keep").expect("write target");
        let path = dir.path().join("x.pid.children");
        std::os::unix::fs::symlink(&target, dir.path().join("x.pid.children.tmp"))
            .expect("plant symlink");
        let mut f = write_new(&path, "supervisord 1 2 record=2\n").expect("write record");
        f.write_all(b"3 4 x g:x\n").expect("append");
        assert_eq!(fs::read_to_string(&target).expect("target"), "keep");
        let meta = fs::symlink_metadata(&path).expect("record");
        assert!(meta.file_type().is_file());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(&path).expect("record"),
            "supervisord 1 2 record=2\n3 4 x g:x\n"
        );
        assert!(!dir.path().join("x.pid.children.tmp").exists());
    }

    #[test]
    fn untrusted_records_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pid.children");
        let good = "supervisord 2147483647 1 record=2\n";
        // Symlink to a good record.
        let real = dir.path().join("real");
        fs::write(&real, good).expect("write");
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::symlink(&real, &path).expect("symlink");
        let err = read_trusted(&path).unwrap_err();
        assert!(
            err.contains("symbolic link") && err.contains("x.pid.children"),
            "{err}"
        );
        fs::remove_file(&path).expect("rm");
        // Group-writable.
        fs::write(&path, good).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o620)).expect("chmod");
        let err = read_trusted(&path).unwrap_err();
        assert!(err.contains("writable by group or others"), "{err}");
        // Owned by someone else.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).expect("chown");
            let err = read_trusted(&path).unwrap_err();
            assert!(err.contains("owned by uid 65534"), "{err}");
            std::os::unix::fs::chown(&path, Some(0), None).expect("chown");
        }
        assert_eq!(read_trusted(&path), Ok(Some(good.to_string())));
        // A FIFO is refused without blocking.
        fs::remove_file(&path).expect("rm");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("cstr");
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_trusted(&path).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn leftovers_are_stopped_and_others_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pid.children");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        let (start, cmd) = identity_after_exec(pid).expect("child identity");
        assert_eq!(cmd, b"sleep\x0030\x00");
        let mut reused = std::process::Command::new("sleep")
            .arg("31")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let rpid = reused.id() as i32;
        let (rstart, _) = identity_after_exec(rpid).expect("identity");
        // A dead daemon, one live child, one stale entry (other start time), one pid reused
        // by another command line, pid 1 with its real identity.
        let (_, init_start) = proc_stat(1).expect("stat 1");
        let record = Record {
            daemon: Some((i32::MAX, 1)),
            boot: boot_id(),
            children: vec![
                entry(pid, start, &cmd, "g:sleep"),
                entry(pid, start + 1, &cmd, "g:stale"),
                entry(rpid, rstart, b"sleep\x00999\x00", "g:reused"),
                entry(
                    1,
                    init_start,
                    &proc_cmdline(1).unwrap_or_default(),
                    "g:init",
                ),
            ],
        };
        write_new(&path, &record.render()).expect("write record");
        let cleanup = kill_leftovers(&path, Duration::from_secs(5));
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
        assert!(cleanup.survivors.is_empty());
        let stopping: Vec<&String> = cleanup
            .warn
            .iter()
            .filter(|w| w.contains("stopping leftover"))
            .collect();
        assert_eq!(stopping.len(), 1, "{cleanup:?}");
        assert!(
            cleanup
                .warn
                .iter()
                .any(|w| w.contains("names pid 1 (g:init); never signalling it")),
            "{cleanup:?}"
        );
        assert!(stopping[0].contains("g:sleep"), "{cleanup:?}");
        assert!(
            reused.try_wait().expect("try_wait").is_none(),
            "reused pid kept"
        );
        assert!(
            cleanup.warn.iter().any(|w| w.contains(&format!(
                "leftover process g:reused (pid {rpid}) now runs 'sleep 31', not the recorded \
                 'sleep 999'; leaving it alone"
            ))),
            "{cleanup:?}"
        );
        let _ = reused.kill();
        let _ = reused.wait();

        // A record written by a live daemon (this test process) is left alone.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let opid = other.id() as i32;
        let (ostart, ocmd) = identity_after_exec(opid).expect("identity");
        let record = Record {
            daemon: Some((opid, ostart)),
            boot: None,
            children: vec![entry(opid, ostart, &ocmd, "g:x")],
        };
        write_new(&path, &record.render()).expect("write record");
        let cleanup = kill_leftovers(&path, Duration::from_secs(1));
        assert!(cleanup.warn[0].contains("still running"), "{cleanup:?}");
        assert!(still_running(&record.children[0]));
        let _ = other.kill();
        let _ = other.wait();
    }
}
