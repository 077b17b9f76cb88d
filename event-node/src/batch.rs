//! Coalesces calls made at about the same moment into one batched call. Events share
//! deadlines (a meeting "by Friday 17:00"), so a node's coordinator tasks wake together; each
//! asking the server on its own costs one RPC, one lock and a round of queries per event,
//! while one batch costs about one round for all of them. Nothing waits for company: a batch
//! leaves as soon as the task sending batches runs, with whatever has queued by then.
//!
//! A batch that fails as a whole (the call timed out: too many large events for one call)
//! halves the batch size for the next ones, and each success doubles it back, so a deadline
//! shared by huge events degrades to smaller calls instead of failing the same way forever.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

/// Sends calls to `call` in batches of at most `max` keys.
pub(crate) struct Coalescer<K, V> {
    queue: mpsc::UnboundedSender<(K, oneshot::Sender<V>)>,
}

impl<K: Send + 'static, V: Send + 'static> Coalescer<K, V> {
    /// Starts the sending task (it ends when the coalescer is dropped). `call` must answer
    /// with one value per key, in order; batches run concurrently. `failed` tells a value of
    /// a batch that failed as a whole.
    pub(crate) fn new<F, Fut>(max: usize, call: F, failed: fn(&V) -> bool) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<V>> + Send + 'static,
    {
        let (queue, mut requests) = mpsc::unbounded_channel::<(K, oneshot::Sender<V>)>();
        let limit = Arc::new(AtomicUsize::new(max));
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max);
            loop {
                let size = limit.load(Ordering::Relaxed).clamp(1, max);
                if requests.recv_many(&mut batch, size).await == 0 {
                    return;
                }
                // Callers woken by the same timer are still queueing: let them in.
                tokio::task::yield_now().await;
                while batch.len() < size {
                    match requests.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                let (keys, replies): (Vec<K>, Vec<oneshot::Sender<V>>) = batch.drain(..).unzip();
                let values = call(keys);
                let limit = Arc::clone(&limit);
                tokio::spawn(async move {
                    let values = values.await;
                    let next = if values.iter().any(failed) { (size / 2).max(1) } else { size.saturating_mul(2).min(max) };
                    limit.store(next, Ordering::Relaxed);
                    for (reply, value) in replies.into_iter().zip(values) {
                        // The caller may have given up; nothing to do then.
                        let _ = reply.send(value);
                    }
                });
            }
        });
        Self { queue }
    }

    /// The value for `key`, or `None` if the batch went unanswered (the node is stopping).
    pub(crate) async fn call(&self, key: K) -> Option<V> {
        let (reply, value) = oneshot::channel();
        self.queue.send((key, reply)).ok()?;
        value.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn calls_made_together_share_a_batch_and_each_gets_its_own_value() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&batches);
        let coalescer = Arc::new(Coalescer::new(
            4,
            move |keys: Vec<u32>| {
                seen.lock().unwrap().push(keys.len());
                async move { keys.into_iter().map(|key| key * 10).collect::<Vec<_>>() }
            },
            |_| false,
        ));
        let calls = (0..10).map(|key| {
            let coalescer = Arc::clone(&coalescer);
            tokio::spawn(async move { (key, coalescer.call(key).await) })
        });
        for (key, value) in futures::future::join_all(calls).await.into_iter().map(Result::unwrap) {
            assert_eq!(value, Some(key * 10));
        }
        let batches = batches.lock().unwrap().clone();
        assert_eq!(batches.iter().sum::<usize>(), 10);
        assert!(batches.iter().all(|size| *size <= 4), "{batches:?}");
        assert!(batches.len() < 10, "nothing was batched: {batches:?}");
    }

    #[tokio::test]
    async fn a_batch_answered_short_leaves_the_rest_with_none() {
        let coalescer = Coalescer::new(8, |_keys: Vec<u32>| async { Vec::<u32>::new() }, |_| false);
        assert_eq!(coalescer.call(1).await, None);
    }

    #[tokio::test]
    async fn batches_that_fail_whole_get_smaller_until_they_pass() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sizes);
        // A "server" that times out on batches of more than 2.
        let coalescer = Arc::new(Coalescer::new(
            8,
            move |keys: Vec<u32>| {
                seen.lock().unwrap().push(keys.len());
                let ok = keys.len() <= 2;
                async move { keys.into_iter().map(|key| if ok { Ok(key) } else { Err(()) }).collect::<Vec<_>>() }
            },
            Result::is_err,
        ));
        let mut outstanding: Vec<u32> = (0..8).collect();
        for _round in 0..10 {
            let calls = outstanding.iter().map(|key| {
                let coalescer = Arc::clone(&coalescer);
                let key = *key;
                tokio::spawn(async move { (key, coalescer.call(key).await) })
            });
            let results = futures::future::join_all(calls).await;
            outstanding = results.into_iter().map(Result::unwrap).filter(|(_, value)| !matches!(value, Some(Ok(_)))).map(|(key, _)| key).collect();
            if outstanding.is_empty() {
                break;
            }
        }
        assert!(outstanding.is_empty(), "still failing: {outstanding:?} after batches {:?}", sizes.lock().unwrap());
    }
}
