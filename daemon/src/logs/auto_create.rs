//! Creating AUTO child log files on a thread of their own.
//!
//! Why: a start-up of thousands of programs creates two AUTO files per program, and on ext4
//! an exclusive create costs far more than a spawn once many files were deleted recently
//! (inode allocation skips recently freed inodes, `recently_deleted` in the kernel) — which
//! is exactly what a restart does, since it first deletes the old AUTO files. Measured at
//! 3,000 programs: 5.8 s to all RUNNING on ext4 after a cleanup, 2.7 s with the logs on
//! tmpfs. One worker thread creates the files in order while the event loop spawns; the
//! loop creates a file itself only when it needs it before the worker got there (a spawn,
//! a client reading the log), so nothing ever waits for the worker except for the one file
//! it is creating at that moment.
//!
//! Each file is an [`AutoSlot`]: pending, claimed (by the loop or the worker, whoever comes
//! first) or done with its outcome. The loop takes outcomes in order
//! ([`AutoSlot::try_take`]) to log failures and to learn a replacement name when the chosen
//! one was taken.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::auto::{auto_log_name, create_auto_log};
use super::output::Channel;

const PENDING: u8 = 0;
const CLAIMED: u8 = 1;
const DONE: u8 = 2;

/// How often a taken name is replaced by a fresh one before giving up.
const NAME_ATTEMPTS: usize = 100;

/// The outcome of creating one AUTO file: the name it got (a new one when the first was
/// taken) and whether it was created.
#[derive(Debug)]
pub struct Created {
    pub path: PathBuf,
    pub result: io::Result<()>,
}

/// What it takes to create one AUTO file, and to pick another name.
#[derive(Debug, Clone)]
pub struct AutoFile {
    pub path: PathBuf,
    pub childlogdir: PathBuf,
    pub process: String,
    pub channel: Channel,
    pub identifier: String,
}

impl AutoFile {
    /// Create the file exclusively (mode 0600); a taken name is replaced by a fresh one.
    pub fn create(&self) -> Created {
        let mut path = self.path.clone();
        let mut result = create_auto_log(&path);
        for _ in 0..NAME_ATTEMPTS {
            if !matches!(&result, Err(e) if e.kind() == io::ErrorKind::AlreadyExists) {
                break;
            }
            path = auto_log_name(
                &self.childlogdir,
                &self.process,
                self.channel,
                &self.identifier,
            );
            result = create_auto_log(&path);
        }
        Created { path, result }
    }
}

/// One AUTO file to be created by whoever claims it first.
#[derive(Debug)]
pub struct AutoSlot {
    file: AutoFile,
    state: AtomicU8,
    outcome: Mutex<Option<Created>>,
}

impl AutoSlot {
    pub fn new(file: AutoFile) -> Arc<Self> {
        Arc::new(AutoSlot {
            file,
            state: AtomicU8::new(PENDING),
            outcome: Mutex::new(None),
        })
    }

    fn claim(&self) -> bool {
        self.state
            .compare_exchange(PENDING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn finish(&self, created: Created) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(created);
        self.state.store(DONE, Ordering::Release);
    }

    fn take(&self) -> Option<Created> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Nobody needs the file any more (its process was removed): the worker skips it if it
    /// has not started it yet.
    pub fn cancel(&self) {
        let _ = self
            .state
            .compare_exchange(PENDING, DONE, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The outcome if the file is done; `None` while it is pending or being created.
    pub fn try_take(&self) -> Option<Created> {
        if self.state.load(Ordering::Acquire) == DONE {
            self.take()
        } else {
            None
        }
    }

    /// The file now: created here if nobody started it, else wait for the one creation in
    /// progress on the worker (a single `open`).
    pub fn create_now(&self) -> Created {
        if self.claim() {
            let created = self.file.create();
            self.state.store(DONE, Ordering::Release);
            return created;
        }
        loop {
            if self.state.load(Ordering::Acquire) == DONE {
                // Taken already only if a caller took it before: then the name is known.
                return self.take().unwrap_or_else(|| Created {
                    path: self.file.path.clone(),
                    result: Ok(()),
                });
            }
            std::thread::yield_now();
        }
    }
}

/// The worker thread that creates AUTO files in the order they were submitted.
pub struct AutoLogCreator {
    jobs: Option<mpsc::Sender<Arc<AutoSlot>>>,
    cancelled: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AutoLogCreator {
    /// Start the worker. An error (no thread could be started) leaves the loop to create
    /// every file itself.
    pub fn start() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Arc<AutoSlot>>();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = cancelled.clone();
        let thread = std::thread::Builder::new()
            .name("auto-logs".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for slot in rx {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if slot.claim() {
                        let created = slot.file.create();
                        slot.finish(created);
                    }
                }
            })?;
        Ok(AutoLogCreator {
            jobs: Some(tx),
            cancelled,
            thread: Some(thread),
        })
    }

    /// Queue `slot`; `false` if the worker is gone (the caller creates it itself).
    pub fn submit(&self, slot: Arc<AutoSlot>) -> bool {
        self.jobs.as_ref().is_some_and(|tx| tx.send(slot).is_ok())
    }
}

impl Drop for AutoLogCreator {
    /// Stop after the file in progress: a daemon that reloads or exits creates no more files
    /// for the processes it no longer has.
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Release);
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &std::path::Path, name: &str) -> AutoFile {
        AutoFile {
            path: auto_log_name(dir, name, Channel::Stdout, "supervisor"),
            childlogdir: dir.to_path_buf(),
            process: name.to_string(),
            channel: Channel::Stdout,
            identifier: "supervisor".to_string(),
        }
    }

    fn wait_done(slot: &AutoSlot) -> Created {
        for _ in 0..2000 {
            if let Some(c) = slot.try_take() {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the worker did not create the file");
    }

    #[test]
    fn the_worker_creates_files_in_order_with_mode_0600() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let creator = AutoLogCreator::start()?;
        let slots: Vec<_> = (0..50)
            .map(|i| AutoSlot::new(file(dir.path(), &format!("p{i}"))))
            .collect();
        for s in &slots {
            assert!(creator.submit(s.clone()));
        }
        for s in &slots {
            let c = wait_done(s);
            c.result?;
            let mode = std::fs::metadata(&c.path)?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", c.path.display());
        }
        Ok(())
    }

    #[test]
    fn the_loop_creates_a_file_the_worker_has_not_reached() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let slot = AutoSlot::new(file(dir.path(), "web"));
        let c = slot.create_now();
        c.result?;
        assert!(c.path.is_file());
        // The worker then finds it claimed and leaves it alone.
        let creator = AutoLogCreator::start()?;
        assert!(creator.submit(slot.clone()));
        drop(creator);
        assert!(slot.try_take().is_none(), "created twice");
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn a_cancelled_file_is_not_created() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let slot = AutoSlot::new(file(dir.path(), "web"));
        slot.cancel();
        let creator = AutoLogCreator::start()?;
        assert!(creator.submit(slot.clone()));
        drop(creator);
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        Ok(())
    }

    #[test]
    fn a_taken_name_is_replaced() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let f = file(dir.path(), "web");
        std::fs::write(&f.path, b"planted")?;
        let slot = AutoSlot::new(f.clone());
        let c = slot.create_now();
        c.result?;
        assert_ne!(c.path, f.path);
        assert_eq!(std::fs::read(&f.path)?, b"planted");
        Ok(())
    }

    #[test]
    fn a_failure_is_reported_not_retried_forever() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let slot = AutoSlot::new(file(&dir.path().join("missing"), "web"));
        let creator = AutoLogCreator::start()?;
        assert!(creator.submit(slot.clone()));
        let c = wait_done(&slot);
        assert_eq!(c.result.map_err(|e| e.kind()), Err(io::ErrorKind::NotFound));
        Ok(())
    }

    #[test]
    fn a_dropped_creator_creates_nothing_more() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let creator = AutoLogCreator::start()?;
        let slots: Vec<_> = (0..2000)
            .map(|i| AutoSlot::new(file(dir.path(), &format!("p{i}"))))
            .collect();
        for s in &slots {
            creator.submit(s.clone());
        }
        drop(creator);
        let made = std::fs::read_dir(dir.path())?.count();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(std::fs::read_dir(dir.path())?.count(), made);
        Ok(())
    }
}
