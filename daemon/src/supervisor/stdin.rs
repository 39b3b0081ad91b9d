//! A child's stdin as the daemon feeds it: bytes are queued and written by a task, so a child
//! that does not read never blocks the loop, and the queue is bounded, so it never grows the
//! daemon's memory without limit either (issue 12 item 5).
//!
//! Control-plane writes (`sendProcessStdin`) go through [`StdinQueue::send_bounded`]: at most
//! [`MAX_QUEUED_PER_PROCESS`] bytes may wait for one child and [`MAX_QUEUED_TOTAL`] for all of
//! them together; past that the write is refused ([`StdinError::Full`]) and nothing is queued.
//! Event notifications to listeners use [`StdinQueue::send`]: the event bus sends one at a
//! time and waits for the answer, so they are bounded already.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use crate::supervisor::host::StdinError;

/// Bytes that may wait for one child's stdin (what the pipe itself holds, 64 KiB on Linux,
/// is not counted: it leaves the queue as soon as the kernel takes it).
pub const MAX_QUEUED_PER_PROCESS: usize = 1024 * 1024;
/// Bytes that may wait for the stdin of all children together.
pub const MAX_QUEUED_TOTAL: usize = 64 * 1024 * 1024;

/// Bytes queued for every child's stdin (the daemon is one process with one loop).
static TOTAL_QUEUED: AtomicUsize = AtomicUsize::new(0);

/// The queue in front of one run's stdin pipe. Dropping it closes the pipe once what is
/// queued has been written (or the child has closed its end).
pub struct StdinQueue {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: Rc<Cell<usize>>,
}

impl StdinQueue {
    /// Start the writer task for `pipe` (inside the daemon's `LocalSet`).
    pub fn spawn(pipe: pipe::Sender) -> StdinQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Rc::new(Cell::new(0));
        tokio::task::spawn_local(write_stdin(pipe, rx, queued.clone()));
        StdinQueue { tx, queued }
    }

    /// Queue `data` without a bound; `false` when the child's stdin is closed.
    pub fn send(&self, data: Vec<u8>) -> bool {
        let n = data.len();
        if self.tx.send(data).is_err() {
            return false;
        }
        self.queued.set(self.queued.get() + n);
        TOTAL_QUEUED.fetch_add(n, Ordering::Relaxed);
        true
    }

    /// Queue `data` if it fits under both bounds.
    pub fn send_bounded(&self, data: Vec<u8>) -> Result<(), StdinError> {
        if self.tx.is_closed() {
            return Err(StdinError::Closed);
        }
        let n = data.len();
        let mine = self.queued.get().saturating_add(n);
        let all = TOTAL_QUEUED.load(Ordering::Relaxed).saturating_add(n);
        if mine > MAX_QUEUED_PER_PROCESS || all > MAX_QUEUED_TOTAL {
            return Err(StdinError::Full {
                queued: self.queued.get(),
                limit: MAX_QUEUED_PER_PROCESS,
            });
        }
        if self.send(data) {
            Ok(())
        } else {
            Err(StdinError::Closed)
        }
    }
}

/// Feed one run's stdin. Ends (closing the pipe) when the queue is dropped at exit, or when
/// the child closed its end; whatever was still queued is then forgotten.
async fn write_stdin(
    mut pipe: pipe::Sender,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Rc<Cell<usize>>,
) {
    use tokio::io::AsyncWriteExt;
    while let Some(data) = rx.recv().await {
        let ok = pipe.write_all(&data).await.is_ok();
        done(&queued, data.len());
        if !ok {
            rx.close();
            while let Ok(data) = rx.try_recv() {
                done(&queued, data.len());
            }
            return;
        }
    }
}

fn done(queued: &Cell<usize>, n: usize) {
    queued.set(queued.get().saturating_sub(n));
    TOTAL_QUEUED.fetch_sub(
        n.min(TOTAL_QUEUED.load(Ordering::Relaxed)),
        Ordering::Relaxed,
    );
}
