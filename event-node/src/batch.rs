//! Coalesces calls made at about the same moment into one batched call. Events share
//! deadlines (a meeting "by Friday 17:00"), so a node's coordinator tasks wake together; each
//! asking the server on its own costs one RPC, one lock and a round of queries per event,
//! while one batch costs about one round for all of them. Nothing waits for company: a batch
//! leaves as soon as the task sending batches runs, with whatever has queued by then.
//!
//! At most [`IN_FLIGHT`] batches are out at once; what arrives meanwhile waits and leaves in
//! the next batch, so load on the server stays bounded whatever the batch size. A batch that
//! fails as a whole (timed out, or refused by an overloaded server: too much work for one
//! call) halves the size of the batches sent after it, and a batch at the current size that
//! succeeds doubles it back, so a deadline shared by huge events degrades to smaller calls
//! instead of failing the same way forever.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

/// Batches out at once per coalescer.
pub(crate) const IN_FLIGHT: usize = 4;

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
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max);
            loop {
                // Never closed: the semaphore lives as long as this task.
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
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
                    drop(permit);
                    // Concurrent batches agree: a failure lowers the size below its own,
                    // only a success at the current size raises it.
                    let failure = values.iter().any(failed);
                    let _ = limit.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| match failure {
                        true => Some(current.min((size / 2).max(1))),
                        false if size >= current => Some(size.saturating_mul(2).min(max)),
                        false => None,
                    });
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_a_few_batches_are_out_at_once() {
        let out = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (counting, peak) = (Arc::clone(&out), Arc::clone(&most));
        // Batches of one, each slow: without the cap all 20 would be out together.
        let coalescer = Arc::new(Coalescer::new(
            1,
            move |keys: Vec<u32>| {
                let (counting, peak) = (Arc::clone(&counting), Arc::clone(&peak));
                async move {
                    let now = counting.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    counting.fetch_sub(1, Ordering::SeqCst);
                    keys
                }
            },
            |_| false,
        ));
        let calls = (0..20).map(|key| {
            let coalescer = Arc::clone(&coalescer);
            tokio::spawn(async move { coalescer.call(key).await })
        });
        let values: Vec<_> = futures::future::join_all(calls).await.into_iter().map(Result::unwrap).collect();
        assert!(values.iter().all(Option::is_some));
        assert_eq!(most.load(Ordering::SeqCst), IN_FLIGHT);
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
