//! The child record: which children this supervisord started, kept in a small state file next
//! to the pidfile (`<pidfile>.children`), so that after the daemon is killed with SIGKILL (or
//! crashes) the next start finds the programs it left running and stops them before starting
//! its own copies. No duplicate programs run, and the children themselves are started exactly
//! as before (no `PR_SET_PDEATHSIG`, so `posix_spawn` stays usable; see docs/reliability.md).
//!
//! Each line identifies a process by pid **and** start time (field 22 of `/proc/<pid>/stat`,
//! clock ticks since boot), so a pid reused by an unrelated process never matches:
//!
//! ```text
//! supervisord <pid> <starttime>
//! <pid> <starttime> <group>:<name>
//! ```
//!
//! The file is rewritten (write + rename) at every spawn, dropping entries whose process is
//! gone, and removed at a clean shutdown. A record whose `supervisord` line names a daemon that
//! is still alive belongs to another running instance and is left alone.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One recorded child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub pid: i32,
    pub start: u64,
    pub name: String,
}

/// The parsed state file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// `(pid, start time)` of the daemon that wrote it.
    pub daemon: Option<(i32, u64)>,
    pub children: Vec<Entry>,
}

impl Record {
    /// Parse the state file; malformed lines are skipped (the file is ours, but may be cut
    /// short by a crash mid-write on filesystems without atomic rename).
    pub fn parse(text: &str) -> Record {
        let mut record = Record::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
                continue;
            };
            if a == "supervisord" {
                let mut rest = b.split(' ').chain(parts);
                let pid = rest.next().and_then(|p| p.parse().ok());
                let start = rest.next().and_then(|s| s.parse().ok());
                if let (Some(pid), Some(start)) = (pid, start) {
                    record.daemon = Some((pid, start));
                }
                continue;
            }
            let (Ok(pid), Ok(start)) = (a.parse::<i32>(), b.parse::<u64>()) else {
                continue;
            };
            if pid <= 0 {
                continue;
            }
            record.children.push(Entry {
                pid,
                start,
                name: parts.next().unwrap_or("").to_string(),
            });
        }
        record
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some((pid, start)) = self.daemon {
            out.push_str(&format!("supervisord {pid} {start}\n"));
        }
        for e in &self.children {
            out.push_str(&format!("{} {} {}\n", e.pid, e.start, e.name));
        }
        out
    }
}

/// `<pidfile>.children`.
pub fn state_path(pidfile: &Path) -> PathBuf {
    let mut s = pidfile.as_os_str().to_owned();
    s.push(".children");
    PathBuf::from(s)
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

/// True if `pid` is the same process as recorded and has not exited (zombies count as gone).
fn still_running(pid: i32, start: u64) -> bool {
    matches!(proc_stat(pid), Some((state, s)) if s == start && state != 'Z' && state != 'X')
}

struct Active {
    path: PathBuf,
    record: Record,
    /// Entry count at which exited children are pruned (amortised: a spawn reads
    /// `/proc/<pid>/stat` of every entry only when the list has doubled).
    prune_at: usize,
}

const MIN_PRUNE: usize = 64;

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    fs::rename(&tmp, path)
}

/// Start recording this daemon's children in `path` (replacing any old record).
pub fn open(path: PathBuf) -> io::Result<()> {
    let me = std::process::id() as i32;
    let start = proc_stat(me).map(|(_, s)| s).unwrap_or(0);
    let record = Record {
        daemon: Some((me, start)),
        children: Vec::new(),
    };
    write_atomic(&path, &record.render())?;
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(Active {
            path,
            record,
            prune_at: MIN_PRUNE,
        });
    }
    Ok(())
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
    let _ = fs::remove_file(&active.path);
    active.path = path;
    write_atomic(&active.path, &active.record.render())
}

/// Record a child just spawned (`name` is `group:process`). Entries of children that have
/// exited are dropped now and then (stale entries are harmless: pid and start time must both
/// match). A failure to write is returned for the caller to log; the child
/// runs either way.
pub fn record(pid: i32, name: &str) -> io::Result<()> {
    let Ok(mut guard) = ACTIVE.lock() else {
        return Ok(());
    };
    let Some(active) = guard.as_mut() else {
        return Ok(());
    };
    let Some((_, start)) = proc_stat(pid) else {
        // Already gone (exec failed at once): nothing can be left over.
        return Ok(());
    };
    let children = &mut active.record.children;
    children.retain(|e| e.pid != pid);
    if children.len() >= active.prune_at {
        children.retain(|e| still_running(e.pid, e.start));
        active.prune_at = (children.len() * 2).max(MIN_PRUNE);
    }
    active.record.children.push(Entry {
        pid,
        start,
        name: name.to_string(),
    });
    write_atomic(&active.path, &active.record.render())
}

/// Stop recording and remove the file (clean shutdown: every child has been stopped).
pub fn close() {
    if let Ok(mut guard) = ACTIVE.lock() {
        if let Some(active) = guard.take() {
            let _ = fs::remove_file(&active.path);
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

/// Read the record left at `path` by an earlier supervisord and stop every child it lists
/// that is still running: SIGTERM to its process group, up to `grace` for them to go, then
/// SIGKILL (and up to `grace` again). Does nothing when the writer is still alive (another
/// instance) or when there is no record.
pub fn kill_leftovers(path: &Path, grace: Duration) -> Cleanup {
    let mut out = Cleanup::default();
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return out,
        Err(e) => {
            out.warn.push(format!(
                "could not read the child record {}: {e}",
                path.display()
            ));
            return out;
        }
    };
    let record = Record::parse(&text);
    let me = std::process::id() as i32;
    if let Some((pid, start)) = record.daemon {
        if pid != me && still_running(pid, start) {
            out.warn.push(format!(
                "the child record {} belongs to a supervisord that is still running (pid {pid}); \
                 leaving its children alone",
                path.display()
            ));
            return out;
        }
    }
    let left: Vec<&Entry> = record
        .children
        .iter()
        .filter(|e| e.pid != me && still_running(e.pid, e.start))
        .collect();
    if left.is_empty() {
        return out;
    }
    let deliver = |e: &Entry, sig: i32| {
        // The child leads its own process group (spawn uses setpgid(0, 0)); signal the group
        // so its descendants go too, else the process alone.
        // SAFETY: plain syscalls with integer arguments.
        let pgid = unsafe { libc::getpgid(e.pid) };
        unsafe {
            if pgid == e.pid {
                libc::kill(-e.pid, sig);
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
        let alive: Vec<&Entry> = left
            .iter()
            .copied()
            .filter(|e| still_running(e.pid, e.start))
            .collect();
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
    use std::os::unix::process::CommandExt;

    #[test]
    fn record_round_trips_and_skips_garbage() {
        let text = "supervisord 10 20\n11 21 g:a\ngarbage\n-1 5 x\n12 x y\n13 23 g:with space\n";
        let r = Record::parse(text);
        assert_eq!(r.daemon, Some((10, 20)));
        assert_eq!(
            r.children,
            vec![
                Entry {
                    pid: 11,
                    start: 21,
                    name: "g:a".into()
                },
                Entry {
                    pid: 13,
                    start: 23,
                    name: "g:with space".into()
                },
            ]
        );
        assert_eq!(Record::parse(&r.render()), r);
        assert_eq!(Record::parse(""), Record::default());
    }

    #[test]
    fn proc_stat_of_self() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).expect("own /proc stat");
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(start > 0);
        assert!(proc_stat(i32::MAX).is_none());
    }

    #[test]
    fn state_path_is_next_to_the_pidfile() {
        assert_eq!(
            state_path(Path::new("/run/supervisord.pid")),
            PathBuf::from("/run/supervisord.pid.children")
        );
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
        let (_, start) = proc_stat(pid).expect("child stat");
        // A dead daemon (pid 0 never matches), one live child, one stale entry.
        let record = Record {
            daemon: Some((i32::MAX, 1)),
            children: vec![
                Entry {
                    pid,
                    start,
                    name: "g:sleep".into(),
                },
                Entry {
                    pid,
                    start: start + 1,
                    name: "g:stale".into(),
                },
            ],
        };
        fs::write(&path, record.render()).expect("write record");
        let cleanup = kill_leftovers(&path, Duration::from_secs(5));
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
        assert_eq!(cleanup.warn.len(), 1, "{cleanup:?}");
        assert!(cleanup.warn[0].contains("g:sleep"), "{cleanup:?}");
        assert!(cleanup.survivors.is_empty());

        // A record written by a live daemon (this test process) is left alone.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let opid = other.id() as i32;
        let (_, ostart) = proc_stat(opid).expect("stat");
        let record = Record {
            daemon: Some((opid, ostart)),
            children: vec![Entry {
                pid: opid,
                start: ostart,
                name: "g:x".into(),
            }],
        };
        fs::write(&path, record.render()).expect("write record");
        let cleanup = kill_leftovers(&path, Duration::from_secs(1));
        assert!(cleanup.warn[0].contains("still running"), "{cleanup:?}");
        assert!(still_running(opid, ostart));
        let _ = other.kill();
        let _ = other.wait();
    }
}
