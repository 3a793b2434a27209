//! Password checks on a few dedicated threads. Does I/O (threads; the
//! check reads the password file).
//!
//! Why not `spawn_blocking`: an argon2id check needs about 19 MiB, and
//! glibc keeps freed memory in per-thread arenas. Tokio's blocking pool
//! starts new threads freely, so even with two checks at a time the daemon
//! grew to 416 MB under forty guesses from forty addresses (260 MB with
//! fixed threads still allocating per check). Each thread here keeps one
//! working buffer and reuses it: memory stays at `threads` × 19 MiB.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::{auth, AdminError};

/// One check, given the thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<argon2::Block>) + Send>;

/// A fixed pool of threads that check passwords.
pub(crate) struct Checker {
    jobs: mpsc::Sender<Job>,
    slots: Arc<Semaphore>,
}

impl Checker {
    /// Starts `threads` checker threads (at least one). They end when the
    /// checker is dropped.
    pub(crate) fn start(threads: usize) -> Result<Checker, AdminError> {
        let threads = threads.max(1);
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("parvis-passwd-{i}"))
                .spawn(move || work(&rx))
                .map_err(|e| AdminError::Serve(format!("cannot start a password thread: {e}")))?;
        }
        Ok(Checker {
            jobs,
            slots: Arc::new(Semaphore::new(threads)),
        })
    }

    /// Waits for a free thread; `None` after `wait`.
    pub(crate) async fn slot(&self, wait: std::time::Duration) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(wait, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// Checks `password` against the hash in `state_dir` on a checker
    /// thread; `carry` travels with the check and comes back with its
    /// result (it is dropped there if the caller went away). The slot is
    /// freed when the check ends.
    pub(crate) async fn verify<T: Send + 'static>(
        &self,
        slot: OwnedSemaphorePermit,
        state_dir: PathBuf,
        password: String,
        carry: T,
    ) -> Option<(Result<bool, AdminError>, T)> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let verdict = auth::verify_with(&state_dir, &password, memory);
            drop(slot);
            let _ = tx.send((verdict, carry));
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

fn work(rx: &Mutex<mpsc::Receiver<Job>>) {
    // Allocated once per thread, at the first check, and reused.
    let mut memory = Vec::new();
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut memory),
            Err(_) => return,
        }
    }
}
