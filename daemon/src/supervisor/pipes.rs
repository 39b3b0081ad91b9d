//! The read end of a child's output pipe, which can stop being watched by the reactor for a
//! moment (I/O edge; the runtime's reader tasks use it).
//!
//! Why: a program that writes many small lines (`print` per line) makes every write wake the
//! loop, and a loop that reads at once turns each line into its own read, PROCESS_LOG event and
//! listener round trip: three times Python's CPU, and the writer itself slowed by our
//! wake-ups (issue 15). Upstream reads once per (slow) loop turn and so gets large chunks.
//! A reader that sees a burst (two short reads within [`BURST_WINDOW`]) *parks* the pipe: it
//! leaves the reactor (writes no longer wake the loop), sleeps [`GATHER_DELAY`], reads what
//! gathered, and watches the pipe again once a read finds it empty. Output is still read at
//! least every few milliseconds, so no chunk is held back longer than that, and a full pipe
//! never blocks the writer for longer either.

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::net::unix::pipe;

/// Two short reads closer than this are a burst.
pub const BURST_WINDOW: Duration = Duration::from_millis(2);
/// How long a parked pipe gathers output between reads.
pub const GATHER_DELAY: Duration = Duration::from_millis(1);
/// A read at least this long is not short: the pipe is busy enough that reads are big anyway.
pub const SHORT_READ: usize = 32 * 1024;

enum Slot {
    /// Registered with the reactor: readiness wakes the reader task.
    Watched(Rc<pipe::Receiver>),
    /// Out of the reactor (non-blocking fd): read on a timer.
    Parked(OwnedFd),
    /// Gone (an error while switching).
    Closed,
}

/// One output pipe of one run.
pub struct PipeEnd {
    slot: RefCell<Slot>,
}

impl PipeEnd {
    pub fn new(receiver: pipe::Receiver) -> PipeEnd {
        PipeEnd {
            slot: RefCell::new(Slot::Watched(Rc::new(receiver))),
        }
    }

    /// Non-blocking read: `Ok(0)` at EOF, `WouldBlock` when empty.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &*self.slot.borrow() {
            Slot::Watched(r) => r.try_read(buf),
            Slot::Parked(fd) => nix::unistd::read(fd, buf).map_err(io::Error::from),
            Slot::Closed => Ok(0),
        }
    }

    /// Non-blocking read of the descriptor itself, bypassing tokio's readiness (which answers
    /// WouldBlock until the reactor has seen the pipe become readable): for the drain right
    /// after a reap.
    pub fn read_direct(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &*self.slot.borrow() {
            Slot::Watched(r) => nix::unistd::read(&**r, buf).map_err(io::Error::from),
            Slot::Parked(fd) => nix::unistd::read(fd, buf).map_err(io::Error::from),
            Slot::Closed => Ok(0),
        }
    }

    /// Wait until the reactor says the pipe is readable (at once when parked).
    pub async fn readable(&self) -> io::Result<()> {
        let watched = match &*self.slot.borrow() {
            Slot::Watched(r) => Some(r.clone()),
            Slot::Parked(_) | Slot::Closed => None,
        };
        match watched {
            Some(r) => r.readable().await,
            None => Ok(()),
        }
    }

    pub fn parked(&self) -> bool {
        matches!(&*self.slot.borrow(), Slot::Parked(_))
    }

    /// Leave the reactor. Nothing changes if the receiver is shared at the moment.
    pub fn park(&self) -> io::Result<()> {
        let mut slot = self.slot.borrow_mut();
        if !matches!(&*slot, Slot::Watched(_)) {
            return Ok(());
        }
        let Slot::Watched(r) = std::mem::replace(&mut *slot, Slot::Closed) else {
            return Ok(());
        };
        match Rc::try_unwrap(r) {
            Ok(r) => *slot = Slot::Parked(r.into_nonblocking_fd()?),
            Err(r) => *slot = Slot::Watched(r),
        }
        Ok(())
    }

    /// Join the reactor again (a pipe that is readable by then wakes the reader at once).
    pub fn watch(&self) -> io::Result<()> {
        let mut slot = self.slot.borrow_mut();
        if !matches!(&*slot, Slot::Parked(_)) {
            return Ok(());
        }
        let Slot::Parked(fd) = std::mem::replace(&mut *slot, Slot::Closed) else {
            return Ok(());
        };
        // The fd came out of a pipe::Receiver: a FIFO read end, already non-blocking.
        let r = pipe::Receiver::from_owned_fd_unchecked(fd)?;
        *slot = Slot::Watched(Rc::new(r));
        Ok(())
    }
}

/// Decides when a reader parks its pipe: after a short read that follows another read within
/// [`BURST_WINDOW`]. Plain logic; the reader passes the clock.
#[derive(Debug, Default)]
pub struct BurstDetector {
    last_short: Option<Instant>,
}

impl BurstDetector {
    /// Record a read of `n` bytes at `now`; true to park and gather.
    pub fn read(&mut self, n: usize, now: Instant) -> bool {
        if n >= SHORT_READ {
            self.last_short = None;
            return false;
        }
        let burst = self
            .last_short
            .is_some_and(|t| now.saturating_duration_since(t) < BURST_WINDOW);
        self.last_short = Some(now);
        burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_short_reads_close_together_are_a_burst() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut b = BurstDetector::default();
        assert!(!b.read(10, t), "one read is no burst");
        assert!(b.read(10, t + ms(1)));
        // Sparse output (a line a second) never parks.
        let mut b = BurstDetector::default();
        assert!(!b.read(10, t));
        assert!(!b.read(10, t + ms(1000)));
        assert!(!b.read(10, t + ms(2000)));
        // Big reads never park: a fast writer fills the buffer anyway.
        let mut b = BurstDetector::default();
        assert!(!b.read(64 * 1024, t));
        assert!(!b.read(64 * 1024, t + ms(0)));
        assert!(!b.read(10, t + ms(0)));
        assert!(b.read(10, t + ms(1)));
    }
}
