//! Per-core runtimes for the connection path: one thread per CPU, each
//! with a single-threaded tokio runtime that runs its own accept loop on a
//! duplicate of every listening socket. A connection is accepted, served
//! and closed on one thread: no work stealing, no wake-up of another
//! worker for each new task, and timers and I/O registrations stay local.
//! Health checks, the admin side and reloads stay on the caller's runtime.
//! Does I/O (threads).
//!
//! `PARVIS_FORWARD_THREADS` sets the number of threads (default: the CPUs
//! available); `0` runs the accept loops on the caller's runtime as before
//! (kept for comparison in `docs/benchmarks.md`).

use std::future::Future;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The runtimes connections run on; their threads end when this is dropped
/// (dropping the tasks still running there, which closes their sockets).
pub struct Cores {
    handles: Vec<Handle>,
    stop: CancellationToken,
}

/// The threads to start: `PARVIS_FORWARD_THREADS`, else the CPUs available.
fn wanted() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    match std::env::var("PARVIS_FORWARD_THREADS") {
        Ok(v) => v.trim().parse().unwrap_or(cpus).min(256),
        Err(_) => cpus,
    }
}

impl Cores {
    /// Starts the threads. Without any (asked for none, or none could
    /// start) connections run on the caller's runtime.
    pub fn start() -> Cores {
        Cores::with_threads(wanted())
    }

    /// Starts `n` threads (fewer if the system refuses one).
    fn with_threads(n: usize) -> Cores {
        let stop = CancellationToken::new();
        let mut handles = Vec::new();
        for i in 0..n {
            match spawn_core(i, stop.clone()) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    tracing::warn!(error = %e, "forwarder thread not started; using fewer");
                    break;
                }
            }
        }
        Cores { handles, stop }
    }

    /// How many accept loops each listener gets (at least one).
    pub fn count(&self) -> usize {
        self.handles.len().max(1)
    }

    /// Runs `task` on runtime `i` (on the caller's runtime when there are
    /// no threads).
    pub fn spawn<F>(&self, i: usize, task: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self.handles.get(i) {
            Some(h) => h.spawn(task),
            None => tokio::spawn(task),
        }
    }
}

impl Drop for Cores {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One thread with a current-thread runtime, until `stop`.
fn spawn_core(i: usize, stop: CancellationToken) -> std::io::Result<Handle> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name(format!("parvis-fwd-{i}"))
        .spawn(move || rt.block_on(stop.cancelled()))?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("").to_string()
    }

    #[tokio::test]
    async fn tasks_run_on_their_own_thread_and_stop_with_it() {
        let cores = Cores::with_threads(2);
        assert_eq!(cores.count(), 2);
        for i in 0..2 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            cores.spawn(i, async move {
                let _ = tx.send(thread_name());
            });
            assert_eq!(rx.await.expect("ran"), format!("parvis-fwd-{i}"));
        }
        let parked = cores.spawn(0, std::future::pending());
        drop(cores);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), parked).await;
        assert!(ended.expect("ended with its thread").is_err(), "cancelled");
    }

    #[tokio::test]
    async fn without_threads_tasks_run_on_the_caller_runtime() {
        let cores = Cores::with_threads(0);
        assert_eq!(cores.count(), 1);
        let name = cores.spawn(0, async {}).await;
        assert!(name.is_ok());
        let (tx, rx) = tokio::sync::oneshot::channel();
        cores.spawn(5, async move {
            let _ = tx.send(thread_name());
        });
        assert!(!rx.await.expect("ran").starts_with("parvis-fwd"));
    }
}
