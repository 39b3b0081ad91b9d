//! AUTO child log names and their cleanup at startup (upstream-reference §6.8).
//!
//! Why: `stdout_logfile=AUTO` (the default) means Supervisor creates a unique file with
//! `mkstemp(prefix="<name>-<channel>---<identifier>-", suffix=".log", dir=childlogdir)` and, at
//! startup unless `nocleanup`, deletes every file in childlogdir matching
//! `.+?---<identifier>-\S+\.log\.?\d{0,4}`. We reproduce the name shape (8 chars from mkstemp's
//! alphabet `[a-z0-9_]`, exclusive create, mode 0600) with std only, and match names by hand
//! instead of pulling in a regex engine.
//!
//! Deliberate difference: upstream uses `re.match` (anchored at the start only) and interpolates
//! the identifier into the regex unescaped; we require a full match and compare the identifier
//! literally, so e.g. `x---supervisor-abc.log.gz` or `x---supervisor-abc.log.bak` survive.

use std::collections::hash_map::RandomState;
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::output::Channel;

/// Python tempfile's name alphabet.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
/// Python's TMP_MAX-like bound on name collisions.
const MAX_ATTEMPTS: u32 = 10_000;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Eight random characters from [`ALPHABET`], from std's randomly keyed SipHash over time,
/// pid and a process-wide counter.
fn random_suffix() -> String {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut v = h.finish();
    let n = ALPHABET.len() as u64;
    let mut s = String::with_capacity(8);
    for _ in 0..8 {
        let idx = (v % n) as usize;
        s.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'_')));
        v /= n;
    }
    s
}

/// A fresh AUTO name `<childlogdir>/<process_name>-<stdout|stderr>---<identifier>-<8 chars>.log`,
/// without creating anything (see [`create_auto_log`]).
pub fn auto_log_name(
    childlogdir: &Path,
    process_name: &str,
    channel: Channel,
    identifier: &str,
) -> PathBuf {
    childlogdir.join(format!(
        "{process_name}-{}---{identifier}-{}.log",
        channel.name(),
        random_suffix()
    ))
}

/// Create the file named by [`auto_log_name`] exclusively (O_EXCL, mode 0600, like mkstemp),
/// empty and closed. `AlreadyExists` means the name is taken: pick another one.
pub fn create_auto_log(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Create `<childlogdir>/<process_name>-<stdout|stderr>---<identifier>-<8 chars>.log`
/// exclusively (O_EXCL, mode 0600, like mkstemp) and return its path. The file is left empty
/// and closed; open it with [`super::RotatingFile`].
pub fn auto_log_path(
    childlogdir: &Path,
    process_name: &str,
    channel: Channel,
    identifier: &str,
) -> io::Result<PathBuf> {
    let prefix = format!("{process_name}-{}---{identifier}-", channel.name());
    for _ in 0..MAX_ATTEMPTS {
        let path = childlogdir.join(format!("{prefix}{}.log", random_suffix()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no usable temporary file name found for {prefix}*.log"),
    ))
}

/// Python's `\s` for str patterns (Unicode whitespace plus the ASCII separators 0x1c..0x1f).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Does `head` fully match `.+?---<identifier>-\S+`?
fn head_matches(head: &str, identifier: &str) -> bool {
    let marker = format!("---{identifier}-");
    let mut search_from = 0;
    while let Some(rel) = head.get(search_from..).and_then(|h| h.find(&marker)) {
        let pos = search_from + rel;
        let before = &head[..pos];
        let after = &head[pos + marker.len()..];
        if !before.is_empty()
            && !before.contains('\n')
            && !after.is_empty()
            && !after.chars().any(is_py_space)
        {
            return true;
        }
        if before.contains('\n') {
            // `.` cannot cross a newline, and later positions only add to `before`.
            return false;
        }
        // Advance by one char.
        let step = head[pos..].chars().next().map(char::len_utf8).unwrap_or(1);
        search_from = pos + step;
    }
    false
}

/// Full match of `name` against `.+?---<identifier>-\S+\.log\.?\d{0,4}` (identifier literal,
/// `\d` ASCII digits).
pub fn is_auto_log_name(name: &str, identifier: &str) -> bool {
    // Peel the optional suffix `\.?\d{0,4}` in every possible way, then require `.log`.
    let bytes = name.as_bytes();
    let trailing_digits = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    for ndigits in 0..=trailing_digits.min(4) {
        let without_digits = &name[..name.len() - ndigits];
        let mut candidates = vec![without_digits];
        if let Some(stripped) = without_digits.strip_suffix('.') {
            candidates.push(stripped);
        }
        for candidate in candidates {
            if let Some(head) = candidate.strip_suffix(".log") {
                if head_matches(head, identifier) {
                    return true;
                }
            }
        }
    }
    false
}

/// What a cleanup did, for callers that want to log failures
/// (Supervisor: WARN `Failed to clean up '<path>'`).
#[derive(Debug, Default)]
pub struct CleanupReport {
    pub removed: Vec<PathBuf>,
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Delete every AUTO log of this `identifier` in `childlogdir` (startup, unless `nocleanup`).
/// Directories and non-UTF-8 names are skipped. `Err` only if the directory cannot be listed
/// (Supervisor: WARN `Could not clear childlog dir`).
pub fn cleanup_auto_logs_report(childlogdir: &Path, identifier: &str) -> io::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    for entry in fs::read_dir(childlogdir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_auto_log_name(name, identifier) {
            continue;
        }
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => report.removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => report.failed.push((path, e)),
        }
    }
    Ok(report)
}

/// [`cleanup_auto_logs_report`] returning only the number of files removed.
pub fn cleanup_auto_logs(childlogdir: &Path, identifier: &str) -> io::Result<usize> {
    cleanup_auto_logs_report(childlogdir, identifier).map(|r| r.removed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_shape_and_exclusive() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let p = auto_log_path(dir.path(), "web", Channel::Stdout, "supervisor")?;
            assert_eq!(p.parent(), Some(dir.path()));
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| io::Error::other("bad name"))?;
            let rand = name
                .strip_prefix("web-stdout---supervisor-")
                .and_then(|r| r.strip_suffix(".log"))
                .ok_or_else(|| io::Error::other(format!("bad shape {name}")))?;
            assert_eq!(rand.len(), 8);
            assert!(rand.bytes().all(|b| ALPHABET.contains(&b)), "{rand}");
            assert!(p.is_file());
            assert!(is_auto_log_name(name, "supervisor"));
            assert!(seen.insert(p));
        }
        let e = auto_log_path(dir.path(), "x", Channel::Stderr, "supervisor")?;
        let en = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(en.starts_with("x-stderr---supervisor-"));
        Ok(())
    }

    #[test]
    fn missing_dir_is_error() {
        assert!(auto_log_path(
            Path::new("/nonexistent/dir/for/test"),
            "a",
            Channel::Stdout,
            "s"
        )
        .is_err());
    }

    #[test]
    fn matcher_positive() {
        let id = "supervisor";
        for name in [
            "cat-stdout---supervisor-abcd1234.log",
            "cat-stderr---supervisor-a_b_c_d_.log",
            "cat-stdout---supervisor-abcd1234.log.1",
            "cat-stdout---supervisor-abcd1234.log.10",
            "cat-stdout---supervisor-abcd1234.log1234",
            "cat-stdout---supervisor-abcd1234.log.",
            "x---supervisor-y.log",
            "a b---supervisor-y.log",
            "a---supervisor-b---supervisor-c.log",
            "a---supervisor----.log",
        ] {
            assert!(is_auto_log_name(name, id), "{name}");
        }
        assert!(is_auto_log_name("p-stdout---my.id-xyz.log", "my.id"));
    }

    #[test]
    fn matcher_negative() {
        let id = "supervisor";
        for name in [
            "---supervisor-abc.log",                  // .+? needs one char
            "cat-stdout---supervisor-.log",           // \S+ needs one char
            "cat-stdout---supervisor-ab cd.log",      // whitespace in \S+
            "cat-stdout---supervisor-abcd.log.12345", // more than 4 digits
            "cat-stdout---supervisor-abcd.log.gz",    // full match
            "cat-stdout---supervisor-abcd.log.1.bak",
            "cat-stdout---supervisor-abcd.txt",
            "cat-stdout---other-abcd.log",
            "cat-stdout--supervisor-abcd.log",
            "cat-stdout---supervisorX-abcd.log",
            "supervisord.log",
            "a\nb---supervisor-c.log",
            "",
        ] {
            assert!(!is_auto_log_name(name, id), "{name:?}");
        }
        // The identifier is literal, not a regex.
        assert!(!is_auto_log_name("p-stdout---myXid-xyz.log", "my.id"));
    }

    #[test]
    fn cleanup_removes_only_matching() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let keep = [
            "supervisord.log",
            "cat-stdout---other-abcd1234.log",
            "cat-stdout---supervisor-abcd.log.gz",
            "mine.log",
        ];
        let remove = [
            "cat-stdout---supervisor-abcd1234.log",
            "cat-stdout---supervisor-abcd1234.log.1",
            "cat-stderr---supervisor-zzzzzzzz.log.10",
        ];
        for n in keep.iter().chain(remove.iter()) {
            fs::write(d.join(n), b"x")?;
        }
        fs::create_dir(d.join("dir---supervisor-abc.log"))?;
        assert_eq!(cleanup_auto_logs(d, "supervisor")?, remove.len());
        for n in keep {
            assert!(d.join(n).exists(), "{n}");
        }
        for n in remove {
            assert!(!d.join(n).exists(), "{n}");
        }
        assert!(d.join("dir---supervisor-abc.log").is_dir());
        assert!(cleanup_auto_logs(&d.join("missing"), "supervisor").is_err());
        Ok(())
    }
}
