//! Group commit for answers.
//!
//! Every answer to an event takes the event's row lock (its generation bump) for the length of
//! its transaction, and on SQLite every write shares one lock besides, so the answers to one
//! event are written one after the other whatever the pool size. Written one transaction each,
//! a busy event saves one answer per commit round trip, and each save also pays a read of its
//! row and a second commit for the node's acknowledgement. Here the answers that arrive for an
//! event while its previous transaction runs wait, and are then written together: one lock,
//! one read (the event's state, the participants, their versions), one multi-row upsert, one
//! commit, then one batch of node calls and one statement recording the acknowledgements.
//! An answer that finds its
//! event idle is written at once, so a quiet event waits for nothing; a busy one gets bigger
//! transactions instead of a longer queue.
//!
//! A writer task per busy event does the writing, so a caller that goes away (its request
//! dropped) strands nobody. A participant appears at most once per transaction: a second
//! answer of theirs waits for the next one, so each answer gets its own version.
//!
//! After the commit the batch is applied to the event's cached page snapshot (the generation
//! moved by exactly one, under the lock), so live pages and readers do not re-read the event's
//! answers for it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use scheduling::Availability;
use tokio::sync::oneshot;

use super::page_cache::PageCache;
use super::repo::{self, NewAnswer};
use crate::cluster::Cluster;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::live::ChangeSender;

/// Answers one transaction writes at most (four values each in the upsert).
const MAX_BATCH: usize = 256;
/// Answers one event may have waiting, and one participant of it; past these an answer is
/// refused as busy (503, retry after a second) rather than queued without bound.
const MAX_WAITING: usize = 1024;
const MAX_WAITING_PER_USER: usize = 4;

pub(crate) struct AnswerQueue {
    writer: Arc<Writer>,
}

struct Writer {
    db: Db,
    cluster: Arc<Cluster>,
    page_cache: Arc<PageCache>,
    changes: ChangeSender,
    /// Answers waiting, per event. An event is present while its writer task runs.
    waiting: Mutex<HashMap<i64, VecDeque<Pending>>>,
}

struct Pending {
    user_id: i64,
    availability: Availability,
    /// `availability` as stored.
    intervals: String,
    reply: oneshot::Sender<Result<u64>>,
}

impl AnswerQueue {
    pub fn new(db: Db, cluster: Arc<Cluster>, page_cache: Arc<PageCache>, changes: ChangeSender) -> Self {
        Self { writer: Arc::new(Writer { db, cluster, page_cache, changes, waiting: Mutex::default() }) }
    }

    /// Stores `availability` as `user_id`'s answer to `event_id` and returns the answer's new
    /// version once it is committed; refused (under the event's lock) unless the event still
    /// takes answers and the user is a current participant.
    pub async fn save(&self, event_id: i64, user_id: i64, availability: Availability) -> Result<u64> {
        let intervals = serde_json::to_string(&availability).map_err(|e| Error::Encoding(e.to_string()))?;
        let (reply, replied) = oneshot::channel();
        let pending = Pending { user_id, availability, intervals, reply };
        let idle = match self.writer.waiting.lock().unwrap_or_else(PoisonError::into_inner).entry(event_id) {
            Entry::Occupied(mut queue) => {
                let queue = queue.get_mut();
                if queue.len() >= MAX_WAITING || queue.iter().filter(|waiting| waiting.user_id == user_id).count() >= MAX_WAITING_PER_USER {
                    return Err(Error::Busy { retry_after_secs: 1 });
                }
                queue.push_back(pending);
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(VecDeque::from([pending]));
                true
            }
        };
        if idle {
            tokio::spawn(Arc::clone(&self.writer).run(event_id));
        }
        replied.await.map_err(|_| Error::Cluster("the answer writer stopped".into()))?
    }
}

impl Writer {
    /// Writes `event_id`'s waiting answers, batch after batch, until none are left.
    async fn run(self: Arc<Self>, event_id: i64) {
        let mut unfinished = Unfinished { writer: &self, event_id, armed: true };
        loop {
            let batch = {
                let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(queue) = waiting.get_mut(&event_id) else { return };
                if queue.is_empty() {
                    // Under the lock a new answer checks: it finds no writer and starts one.
                    waiting.remove(&event_id);
                    unfinished.armed = false;
                    return;
                }
                next_batch(queue)
            };
            self.write(event_id, batch).await;
        }
    }

    async fn write(&self, event_id: i64, batch: Vec<Pending>) {
        let answers: Vec<NewAnswer<'_>> = batch
            .iter()
            .map(|pending| NewAnswer { user_id: pending.user_id, intervals: &pending.intervals })
            .collect();
        let written = match repo::upsert_answers(&self.db, event_id, &answers).await {
            Ok(written) => written,
            Err(error) => {
                tracing::error!(%error, event_id, answers = batch.len(), "writing a batch of answers failed");
                let shared = Arc::new(error);
                for pending in batch {
                    let _ = pending.reply.send(Err(Error::SharedDatabase(Arc::clone(&shared))));
                }
                return;
            }
        };
        if let Some(generation) = written.generation {
            let stored = batch
                .iter()
                .zip(&written.results)
                .filter_map(|(pending, result)| Some((result.as_ref().ok()?.participant_id, &pending.availability)));
            self.page_cache.apply_answers(event_id, generation, stored);
            self.changes.changed(event_id);
            let rows = written.results.iter().filter_map(|result| result.as_ref().ok().cloned()).collect();
            let cluster = Arc::clone(&self.cluster);
            tokio::spawn(async move { cluster.dispatch_rows(rows).await });
        }
        for (pending, result) in batch.into_iter().zip(written.results) {
            let _ = pending.reply.send(result.map(|stored| u64::try_from(stored.version).unwrap_or_default()).map_err(Error::from));
        }
    }
}

/// Removes an event's queue if its writer task ends before emptying it (a panic, the runtime
/// shutting down): the answers still waiting then fail instead of waiting for a writer that
/// never comes, and the next answer starts a new one.
struct Unfinished<'a> {
    writer: &'a Writer,
    event_id: i64,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.writer.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.event_id);
        }
    }
}

/// Takes up to [`MAX_BATCH`] answers off the front of `queue`, at most one per participant;
/// the others keep their order for the next batch. An answer whose request is gone is dropped
/// unwritten, as it would have been before it reached the queue.
fn next_batch(queue: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut batch = Vec::with_capacity(queue.len().min(MAX_BATCH));
    let mut users = HashSet::new();
    let mut later = VecDeque::new();
    while let Some(pending) = queue.pop_front() {
        if batch.len() == MAX_BATCH {
            later.push_back(pending);
            later.append(queue);
            break;
        }
        if pending.reply.is_closed() {
            continue;
        }
        match users.insert(pending.user_id) {
            true => batch.push(pending),
            false => later.push_back(pending),
        }
    }
    *queue = later;
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waiting answer, and the receiver its caller would hold (dropped: the caller left).
    fn pending(user_id: i64) -> (Pending, oneshot::Receiver<Result<u64>>) {
        let (reply, replied) = oneshot::channel();
        (Pending { user_id, availability: Availability::default(), intervals: String::new(), reply }, replied)
    }

    fn queue_of(users: impl IntoIterator<Item = i64>) -> (VecDeque<Pending>, Vec<oneshot::Receiver<Result<u64>>>) {
        users.into_iter().map(pending).unzip()
    }

    fn users(batch: &[Pending]) -> Vec<i64> {
        batch.iter().map(|pending| pending.user_id).collect()
    }

    #[test]
    fn a_batch_holds_one_answer_per_participant_in_arrival_order() {
        let (mut queue, _callers) = queue_of([1, 2, 1, 3, 1, 2]);
        assert_eq!(users(&next_batch(&mut queue)), [1, 2, 3]);
        assert_eq!(users(&next_batch(&mut queue)), [1, 2]);
        assert_eq!(users(&next_batch(&mut queue)), [1]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_batch_is_bounded() {
        let (mut queue, _callers) = queue_of(0..MAX_BATCH as i64 + 3);
        assert_eq!(next_batch(&mut queue).len(), MAX_BATCH);
        assert_eq!(users(&Vec::from(std::mem::take(&mut queue))), [256, 257, 258]);
    }

    #[test]
    fn answers_whose_callers_left_are_not_written() {
        let (mut queue, mut callers) = queue_of([1, 2, 3]);
        drop(callers.remove(1));
        assert_eq!(users(&next_batch(&mut queue)), [1, 3]);
        assert!(queue.is_empty());
    }
}
