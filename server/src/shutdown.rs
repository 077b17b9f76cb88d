//! Graceful shutdown: one signal every long-lived part of the server watches.
//!
//! On SIGTERM or SIGINT the server stops accepting connections, lets requests in flight finish
//! (for at most the grace period), ends live page streams with a retry hint (the browser
//! reconnects by itself, to this process once it is back or to another behind the proxy), and
//! stops its background loops. Every write the server makes is a transaction and every hand-off
//! to a node is recorded only once acknowledged, so stopping anywhere loses nothing (a SIGKILL
//! is safe too); stopping at a loop's boundary only spares the logs the errors of work cut off
//! mid-way, and lets the mail sender finish the mails it has claimed rather than leave them to
//! the next claim after their lease.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The shutdown signal and the tasks that finish their work before the process ends.
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    /// When the shutdown began.
    begun: watch::Sender<Option<Instant>>,
    finishing: Mutex<Vec<JoinHandle<()>>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self { inner: Arc::new(Inner { begun: watch::Sender::new(None), finishing: Mutex::default() }) }
    }
}

impl Shutdown {
    /// Starts the shutdown (again is harmless).
    pub fn begin(&self) {
        self.inner.begun.send_if_modified(|begun| begun.is_none() && begun.replace(Instant::now()).is_none());
    }

    pub fn is_begun(&self) -> bool {
        self.inner.begun.borrow().is_some()
    }

    /// How long ago the shutdown began (zero before it has).
    pub fn since_begun(&self) -> Duration {
        self.inner.begun.borrow().map_or(Duration::ZERO, |at| at.elapsed())
    }

    /// Completes once the shutdown has begun.
    pub fn begun(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut begun = self.inner.begun.subscribe();
        async move {
            // The sender lives as long as any `Shutdown`; if it went, so did the server.
            let _ = begun.wait_for(Option::is_some).await;
        }
    }

    /// Runs `work` until the shutdown begins, then drops it wherever it waits: for loops all of
    /// whose waits are safe to stop at (reads, and writes that are whole transactions).
    pub fn spawn_until<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let begun = self.begun();
        tokio::spawn(async move {
            tokio::select! {
                () = work => {}
                () = begun => {}
            }
        });
    }

    /// Runs `work`, which watches [`Shutdown::begun`] itself and returns at a boundary of its
    /// own; [`Shutdown::finish`] waits for it.
    pub fn spawn_finishing<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(work);
        self.inner.finishing.lock().unwrap_or_else(PoisonError::into_inner).push(handle);
    }

    /// Waits up to `grace` for the tasks of [`Shutdown::spawn_finishing`]; says whether they all
    /// finished in time.
    pub async fn finish(&self, grace: Duration) -> bool {
        let handles = std::mem::take(&mut *self.inner.finishing.lock().unwrap_or_else(PoisonError::into_inner));
        tokio::time::timeout(grace, futures::future::join_all(handles)).await.is_ok()
    }
}

/// Completes at the first SIGTERM or SIGINT; a second one ends the process at once (an
/// operator who presses Ctrl-C twice does not want to wait). The handlers are installed when
/// this is called, not when it is first awaited: a signal during start-up (migrations) is
/// held until the server serves, which then stops at once, rather than killing it mid-way.
/// Must be called within the runtime.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let (first, first_seen) = tokio::sync::oneshot::channel();
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(terminate), Ok(interrupt)) => {
            tokio::spawn(first_then_second(terminate, interrupt, first));
        }
        _ => tracing::error!("cannot listen for SIGTERM and SIGINT; running until killed"),
    }
    async move {
        if first_seen.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Reports the first signal, then ends the process at the second (also while starting).
async fn first_then_second(mut terminate: tokio::signal::unix::Signal, mut interrupt: tokio::signal::unix::Signal, first: tokio::sync::oneshot::Sender<()>) {
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
    }
    let _ = first.send(());
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    tracing::warn!("second signal: exiting now");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loops_stop_at_the_signal_and_finishing_tasks_are_awaited() {
        let shutdown = Shutdown::default();
        let (stopped, mut stopped_rx) = tokio::sync::mpsc::channel::<()>(1);
        shutdown.spawn_until(async move {
            let _guard = stopped;
            std::future::pending::<()>().await;
        });
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&finished);
        let begun = shutdown.begun();
        shutdown.spawn_finishing(async move {
            begun.await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        assert!(!shutdown.is_begun());
        shutdown.begin();
        assert!(stopped_rx.recv().await.is_none(), "the loop was dropped");
        assert!(shutdown.finish(Duration::from_secs(5)).await);
        assert!(finished.load(std::sync::atomic::Ordering::SeqCst), "the finishing task ran to its end");
    }

    #[tokio::test]
    async fn finish_gives_up_after_the_grace() {
        let shutdown = Shutdown::default();
        shutdown.spawn_finishing(std::future::pending());
        shutdown.begin();
        assert!(!shutdown.finish(Duration::from_millis(50)).await);
    }
}
