//! Size-rotated log files (child logs and the main log), upstream-reference §6.8.
//!
//! Why this exists rather than "open a file and write": Supervisor rotates after every write
//! once the file has reached `maxbytes` (`f.(i) -> f.(i+1)`, `f -> f.1`, reopen truncated), must
//! never rotate or seek non-regular targets such as `/dev/stdout` or a fifo, reopens by path on
//! SIGUSR2 (external logrotate) and must keep working after a transient write error (disk full,
//! directory removed). All of that lives here so the callers only see `write` / `reopen` /
//! `clear` and an `io::Error` to log.
//!
//! Design notes:
//! * The file is always opened with `O_APPEND`, so an external truncation (`copytruncate`) never
//!   produces a sparse file and two writers never overwrite each other.
//! * The size is tracked in memory (initialised from metadata at open) instead of a `stat` per
//!   write. Only when the tracked size says "rotate" is the real size checked with one `fstat`,
//!   so an external truncation does not cause an early rotation.
//! * A whole `write` call always lands in one file: rotation happens after the write, never in
//!   the middle of it, so no byte is lost or duplicated across a rotation (a file may therefore
//!   exceed `maxbytes` by one write, exactly like Supervisor).
//! * After any failed write or failed reopen the handle is dropped and the next `write` reopens
//!   by path first, so logging resumes as soon as the cause is gone.
//! * A child log that is idle holds no descriptor: the owner may [`RotatingFile::release`] the
//!   handle of a regular file (at start-up, when the child exits), and the next `write`,
//!   `clear` or `reopen` opens it again by path, as Supervisor opens child logs at each spawn.
//!   Thousands of programs then need no fds for their logs until they write.
//! * While writing fails (disk full, directory gone) a reopen is tried at most once per
//!   [`RETRY_INTERVAL`]: output in between is counted as lost instead of producing one error per
//!   chunk (a chatty program would otherwise flood the main log). Each error says how many bytes
//!   were lost so far; after recovery [`RotatingFile::take_resumed`] tells the total once.
//!   `reopen()` (SIGUSR2) retries at once.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// While writes fail, how often a reopen is attempted (output in between is counted as lost).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// An ongoing write failure.
#[derive(Debug)]
struct Failure {
    /// Bytes that did not reach the file since the failure began.
    lost: u64,
    /// No reopen before this instant.
    retry_at: Instant,
}

/// A log file opened in append mode that rotates by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    maxbytes: u64,
    backups: u32,
    /// `None` after a failed write/reopen: the next write reopens by path first.
    file: Option<File>,
    /// Bytes in the current file as far as we know (only meaningful for regular files).
    size: u64,
    /// Regular file? Non-regular targets (tty, fifo, /dev/stdout, /dev/null) never rotate.
    regular: bool,
    /// Set while writes fail (see the module notes).
    failure: Option<Failure>,
    /// Bytes lost during a failure that has just ended, until [`RotatingFile::take_resumed`].
    resumed: Option<u64>,
    /// Minimum time between reopen attempts while failing ([`RETRY_INTERVAL`]; zero retries
    /// at every write, for the main log whose lines are few and all matter).
    retry_interval: Duration,
}

/// `<path>.<n>`, preserving non-UTF-8 paths.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The renames a rotation performs, in order: `f.(backups-1) -> f.backups`, ...,
/// `f.1 -> f.2`, then `f -> f.1`. Empty when `backups == 0` (the file is just truncated).
/// Each rename replaces its destination; a missing source is skipped at execution time.
pub fn rotation_plan(path: &Path, backups: u32) -> Vec<(PathBuf, PathBuf)> {
    let mut plan = Vec::new();
    if backups == 0 {
        return plan;
    }
    for i in (1..backups).rev() {
        plan.push((numbered(path, i), numbered(path, i + 1)));
    }
    plan.push((path.to_path_buf(), numbered(path, 1)));
    plan
}

/// Open `path` for appending, creating it; returns the file, its size and whether it is a
/// regular file.
fn open_append(path: &Path) -> io::Result<(File, u64, bool)> {
    let file = OpenOptions::new().append(true).create(true).open(path)?;
    let meta = file.metadata()?;
    let regular = meta.file_type().is_file();
    let size = if regular { meta.len() } else { 0 };
    Ok((file, size, regular))
}

/// Rename ignoring a missing source (a cleanup script may have removed it).
fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Remove ignoring a missing file.
fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl RotatingFile {
    /// Open (append, create) `path`. `maxbytes == 0` never rotates; `backups == 0` truncates
    /// instead of keeping `.1` files. Non-regular files are never rotated nor seeked.
    pub fn open(path: &Path, maxbytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let (file, size, regular) = open_append(path)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            maxbytes,
            backups,
            file: Some(file),
            size,
            regular,
            failure: None,
            resumed: None,
            retry_interval: RETRY_INTERVAL,
        })
    }

    /// A regular file that exists already (an AUTO log just created), not opened until the
    /// first `write`, `clear` or `reopen`.
    pub fn closed(path: &Path, maxbytes: u64, backups: u32) -> RotatingFile {
        RotatingFile {
            path: path.to_path_buf(),
            maxbytes,
            backups,
            file: None,
            size: 0,
            regular: true,
            failure: None,
            resumed: None,
            retry_interval: RETRY_INTERVAL,
        }
    }

    /// Set the minimum time between reopen attempts while writes fail.
    pub fn with_retry_interval(mut self, interval: Duration) -> RotatingFile {
        self.retry_interval = interval;
        self
    }

    /// The configured path (what `reopen` opens again).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write all of `data`, then rotate if the file has reached `maxbytes` (> 0).
    ///
    /// Errors (disk full, directory gone, rotation rename refused) are returned, never panic.
    /// After a failed write the next call reopens the file by path first.
    ///
    /// While a failure lasts, calls before the next retry time drop `data` (counted as lost)
    /// and return `Ok`; the failing attempts return the error with the loss so far.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(f) = self.failure.as_mut() {
            if Instant::now() < f.retry_at {
                f.lost = f.lost.saturating_add(data.len() as u64);
                return Ok(());
            }
        }
        let written = (|| {
            if self.file.is_none() {
                self.open_again()?;
            }
            let Some(file) = self.file.as_mut() else {
                return Err(io::Error::other("log file is not open"));
            };
            if let Err(e) = file.write_all(data) {
                // How much reached the disk is unknown; reopen (and re-read the size) next time.
                self.file = None;
                return Err(e);
            }
            Ok(())
        })();
        if let Err(e) = written {
            let f = self.failure.get_or_insert(Failure {
                lost: 0,
                retry_at: Instant::now(),
            });
            f.lost = f.lost.saturating_add(data.len() as u64);
            f.retry_at = Instant::now() + self.retry_interval;
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "{e} ({} bytes of output lost so far; retrying every {:.1}s)",
                    f.lost,
                    self.retry_interval.as_secs_f64()
                ),
            ));
        }
        if let Some(f) = self.failure.take() {
            self.resumed = Some(f.lost);
        }
        self.size = self.size.saturating_add(data.len() as u64);
        if self.should_rotate() {
            self.rotate()?;
        }
        Ok(())
    }

    fn should_rotate(&mut self) -> bool {
        if !self.regular || self.maxbytes == 0 || self.size < self.maxbytes {
            return false;
        }
        // Confirm with one fstat: an external truncation may have shrunk the file.
        if let Some(file) = self.file.as_ref() {
            if let Ok(meta) = file.metadata() {
                self.size = meta.len();
            }
        }
        self.size >= self.maxbytes
    }

    /// Perform a rotation now (upstream-reference §6.8).
    fn rotate(&mut self) -> io::Result<()> {
        // Close first, like Supervisor.
        self.file = None;
        let mut result = Ok(());
        let plan = rotation_plan(&self.path, self.backups);
        let last = plan.len().saturating_sub(1);
        for (i, (from, to)) in plan.iter().enumerate() {
            if let Err(e) = rename_if_exists(from, to) {
                if i == last {
                    // `f -> f.1` failed: do NOT truncate `f`, that would lose its content.
                    // Reopen in append mode and report; the next write will try again.
                    self.open_again()?;
                    return Err(e);
                }
                // An older backup could not be shifted: keep going, report at the end.
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        let (file, size, regular) = open_append(&self.path)?;
        if self.backups == 0 || size > 0 {
            // backups == 0: truncate in place. Otherwise the path was renamed away, but a
            // racing writer may have recreated it: truncate to start the new file clean.
            file.set_len(0)?;
        }
        self.file = Some(file);
        self.size = 0;
        self.regular = regular;
        result
    }

    /// Close and reopen by path (SIGUSR2, external logrotate). On failure the file stays
    /// closed and the next `write` tries again.
    pub fn reopen(&mut self) -> io::Result<()> {
        if self.file.is_none() && self.failure.is_none() {
            // Released (or never opened): the next write opens it by path anyway.
            return Ok(());
        }
        // An explicit reopen (SIGUSR2) retries a failing file at once.
        if let Some(f) = self.failure.as_mut() {
            f.retry_at = Instant::now();
        }
        self.open_again()
    }

    /// Close the descriptor of a regular file until the next `write`, `clear` or `reopen`,
    /// which open it again by path. Non-regular targets (fifo, terminal, `/dev/stdout`) stay
    /// open: opening them again could block or reach something else.
    pub fn release(&mut self) {
        if self.regular {
            self.file = None;
        }
    }

    /// `maxbytes` and `backups`.
    pub fn limits(&self) -> (u64, u32) {
        (self.maxbytes, self.backups)
    }

    /// Whether a descriptor is held right now.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// After a write failure ended: the bytes lost while it lasted (once).
    pub fn take_resumed(&mut self) -> Option<u64> {
        self.resumed.take()
    }

    fn open_again(&mut self) -> io::Result<()> {
        self.file = None;
        let (file, size, regular) = open_append(&self.path)?;
        self.file = Some(file);
        self.size = size;
        self.regular = regular;
        Ok(())
    }

    /// `clearProcessLogs`: truncate the current file and remove backups `.1` ..`.backups`.
    /// Non-regular targets are left alone (nothing to clear).
    pub fn clear(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.open_again()?;
        }
        if !self.regular {
            return Ok(());
        }
        let mut result = Ok(());
        if let Some(file) = self.file.as_ref() {
            if let Err(e) = file.set_len(0) {
                result = Err(e);
            } else {
                self.size = 0;
            }
        }
        for i in 1..=self.backups {
            if let Err(e) = remove_if_exists(&numbered(&self.path, i)) {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn plan_three_backups() {
        assert_eq!(
            rotation_plan(Path::new("/l/a.log"), 3),
            vec![
                (p("/l/a.log.2"), p("/l/a.log.3")),
                (p("/l/a.log.1"), p("/l/a.log.2")),
                (p("/l/a.log"), p("/l/a.log.1")),
            ]
        );
    }

    #[test]
    fn released_file_reopens_by_path_at_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut f = RotatingFile::open(&path, 0, 0).unwrap();
        f.write(b"one\n").unwrap();
        f.release();
        assert!(!f.is_open());
        // Removed while released (a cleanup script): the next write creates it again.
        fs::remove_file(&path).unwrap();
        f.write(b"two\n").unwrap();
        assert!(f.is_open());
        assert_eq!(fs::read_to_string(&path).unwrap(), "two\n");
        f.release();
        f.clear().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "");
        // A non-regular target keeps its descriptor.
        let mut null = RotatingFile::open(Path::new("/dev/null"), 0, 0).unwrap();
        null.release();
        assert!(null.is_open());
    }

    #[test]
    fn plan_one_and_zero_backups() {
        assert_eq!(rotation_plan(Path::new("x"), 1), vec![(p("x"), p("x.1"))]);
        assert!(rotation_plan(Path::new("x"), 0).is_empty());
    }

    #[test]
    fn plan_ten_backups_order() {
        let plan = rotation_plan(Path::new("f"), 10);
        assert_eq!(plan.len(), 10);
        assert_eq!(plan[0], (p("f.9"), p("f.10")));
        assert_eq!(plan[8], (p("f.1"), p("f.2")));
        assert_eq!(plan[9], (p("f"), p("f.1")));
    }

    /// Small deterministic-enough PRNG from std only.
    struct Rng(u64);
    impl Rng {
        fn new() -> Rng {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(42);
            Rng(h.finish() | 1)
        }
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    fn read_or_empty(path: &Path) -> Vec<u8> {
        fs::read(path).unwrap_or_default()
    }

    #[test]
    fn rotation_keeps_exact_tail() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("child.log");
        let maxbytes = 100 * 1024;
        let backups = 3;
        let mut rf = RotatingFile::open(&path, maxbytes, backups)?;
        let mut rng = Rng::new();
        let mut input = Vec::new();
        let total = 10 * 1024 * 1024;
        let mut counter: u32 = 0;
        while input.len() < total {
            let n = (rng.next() % 20_000) as usize + 1;
            let mut chunk = Vec::with_capacity(n);
            for _ in 0..n {
                chunk.push((counter % 251) as u8);
                counter = counter.wrapping_add(1);
            }
            rf.write(&chunk)?;
            input.extend_from_slice(&chunk);
        }
        let mut retained = Vec::new();
        for i in (1..=backups).rev() {
            let backup = read_or_empty(&numbered(&path, i));
            assert!(!backup.is_empty(), "backup {i} missing");
            assert!(backup.len() as u64 >= maxbytes);
            assert!((backup.len() as u64) < maxbytes + 20_001);
            retained.extend_from_slice(&backup);
        }
        let current = read_or_empty(&path);
        assert!((current.len() as u64) < maxbytes);
        retained.extend_from_slice(&current);
        assert!(!numbered(&path, backups + 1).exists());
        assert!(retained.len() <= input.len());
        assert_eq!(&input[input.len() - retained.len()..], &retained[..]);
        Ok(())
    }

    #[test]
    fn zero_backups_truncates() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&path, 10, 0)?;
        rf.write(b"12345")?;
        rf.write(b"678901")?; // 11 >= 10 -> truncate
        assert_eq!(fs::read(&path)?, b"");
        rf.write(b"abc")?;
        assert_eq!(fs::read(&path)?, b"abc");
        assert!(!numbered(&path, 1).exists());
        Ok(())
    }

    #[test]
    fn zero_maxbytes_never_rotates() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&path, 0, 5)?;
        for _ in 0..1000 {
            rf.write(b"0123456789")?;
        }
        assert_eq!(fs::metadata(&path)?.len(), 10_000);
        assert!(!numbered(&path, 1).exists());
        Ok(())
    }

    #[test]
    fn appends_to_existing_and_counts_existing_size() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.log");
        fs::write(&path, b"old-")?;
        let mut rf = RotatingFile::open(&path, 8, 2)?;
        rf.write(b"new")?; // 7 < 8
        assert_eq!(fs::read(&path)?, b"old-new");
        rf.write(b"!")?; // 8 >= 8 -> rotate
        assert_eq!(fs::read(numbered(&path, 1))?, b"old-new!");
        assert_eq!(fs::read(&path)?, b"");
        Ok(())
    }

    #[test]
    fn external_truncation_does_not_rotate_early() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&path, 10, 2)?;
        rf.write(b"123456789")?;
        OpenOptions::new().write(true).open(&path)?.set_len(0)?;
        rf.write(b"ab")?; // tracked 11, real 2: no rotation
        assert_eq!(fs::read(&path)?, b"ab");
        assert!(!numbered(&path, 1).exists());
        Ok(())
    }

    #[test]
    fn dev_null_never_rotates_or_errors() -> io::Result<()> {
        let mut rf = RotatingFile::open(Path::new("/dev/null"), 1, 2)?;
        for _ in 0..10 {
            rf.write(b"hello")?;
        }
        rf.reopen()?;
        rf.clear()?;
        rf.write(b"x")?;
        Ok(())
    }

    #[test]
    fn fifo_is_written_without_seeking() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(io::Error::from)?;
        let reader_path = path.clone();
        let reader = std::thread::spawn(move || fs::read(reader_path));
        {
            let mut rf = RotatingFile::open(&path, 4, 2)?;
            rf.write(b"hello ")?;
            rf.write(b"world")?;
        }
        let got = reader
            .join()
            .map_err(|_| io::Error::other("reader thread panicked"))??;
        assert_eq!(got, b"hello world");
        assert!(!numbered(&path, 1).exists());
        Ok(())
    }

    #[test]
    fn write_after_directory_removed_errors_then_resumes() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let sub = dir.path().join("sub");
        fs::create_dir(&sub)?;
        let path = sub.join("a.log");
        let mut rf = RotatingFile::open(&path, 4, 1)?;
        fs::remove_file(&path)?;
        fs::remove_dir(&sub)?;
        // The write itself goes to the unlinked inode; the rotation rename fails -> error.
        assert!(rf.write(b"12345").is_err());
        // Reopen by path fails while the directory is gone.
        let err = rf.write(b"x").expect_err("reopen fails");
        assert!(
            err.to_string().contains("1 bytes of output lost so far"),
            "{err}"
        );
        // Until the retry time, output is counted, not attempted (no error per chunk).
        rf.write(b"yy")?;
        assert!(rf.take_resumed().is_none());
        fs::create_dir(&sub)?;
        // SIGUSR2's reopen retries at once.
        rf.reopen()?;
        rf.write(b"ok")?;
        assert_eq!(fs::read(&path)?, b"ok");
        assert_eq!(rf.take_resumed(), Some(3));
        assert_eq!(rf.take_resumed(), None);
        Ok(())
    }

    #[test]
    fn failing_writes_retry_once_per_interval() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let sub = dir.path().join("sub");
        fs::create_dir(&sub)?;
        let path = sub.join("a.log");
        let mut rf = RotatingFile::open(&path, 0, 0)?;
        rf.file = None;
        fs::remove_dir_all(&sub)?;
        assert!(rf.write(b"a").is_err());
        let mut errors = 0;
        for _ in 0..1000 {
            if rf.write(b"b").is_err() {
                errors += 1;
            }
        }
        assert_eq!(errors, 0, "no error per chunk within the retry interval");
        fs::create_dir(&sub)?;
        std::thread::sleep(RETRY_INTERVAL + Duration::from_millis(50));
        rf.write(b"c")?;
        assert_eq!(fs::read(&path)?, b"c");
        assert_eq!(rf.take_resumed(), Some(1001));
        Ok(())
    }

    #[test]
    fn clear_truncates_and_removes_backups() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&path, 4, 2)?;
        rf.write(b"1111")?;
        rf.write(b"2222")?;
        rf.write(b"33")?;
        assert!(numbered(&path, 1).exists() && numbered(&path, 2).exists());
        rf.clear()?;
        assert_eq!(fs::read(&path)?, b"");
        assert!(!numbered(&path, 1).exists() && !numbered(&path, 2).exists());
        rf.write(b"z")?;
        assert_eq!(fs::read(&path)?, b"z");
        Ok(())
    }

    #[test]
    fn reopen_follows_external_rename() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&path, 0, 0)?;
        rf.write(b"before")?;
        fs::rename(&path, dir.path().join("a.log.old"))?;
        rf.write(b"+")?; // still the old inode
        rf.reopen()?;
        rf.write(b"after")?;
        assert_eq!(fs::read(dir.path().join("a.log.old"))?, b"before+");
        assert_eq!(fs::read(&path)?, b"after");
        Ok(())
    }
}
