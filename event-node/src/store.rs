//! The node's durable state in sled: answers, the events it coordinates, and seal markers.
//! Every write a caller is told about is flushed first, so an acknowledged answer survives a
//! SIGKILL. Anything here can be rebuilt from the server's database.
//!
//! Keys are big-endian ids so one event's answers are one prefix scan. Values are JSON.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use scheduling::{Answer, EventSpec, IntervalSet, Outcome, ParticipantId, Partial};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use crate::protocol::{EventId, NodeError};

/// A participant's latest word on an event: an answer, or a withdrawal (tombstone).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAnswer {
    version: u64,
    availability: Option<IntervalSet>,
    /// Absent in answers stored before "if need be" existed.
    #[serde(default)]
    if_need_be: IntervalSet,
}

pub struct NodeStore {
    flusher: Arc<GroupFlush>,
    answers: sled::Tree,
    coordinated: sled::Tree,
    sealed: sled::Tree,
}

fn storage(error: impl std::fmt::Display) -> NodeError {
    NodeError::Storage(error.to_string())
}

fn event_key(event: EventId) -> [u8; 8] {
    event.0.to_be_bytes()
}

fn answer_key(event: EventId, participant: ParticipantId) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&event.0.to_be_bytes());
    key[8..].copy_from_slice(&participant.0.to_be_bytes());
    key
}

fn event_of_key(key: &[u8]) -> Option<EventId> {
    Some(EventId(u64::from_be_bytes(key.get(..8)?.try_into().ok()?)))
}

impl NodeStore {
    pub fn open(path: &std::path::Path) -> Result<Self, NodeError> {
        let db = sled::open(path).map_err(storage)?;
        Ok(Self {
            answers: db.open_tree("answers").map_err(storage)?,
            coordinated: db.open_tree("coordinated").map_err(storage)?,
            sealed: db.open_tree("sealed").map_err(storage)?,
            flusher: GroupFlush::start(db),
        })
    }

    /// Returns once everything written before the call is on disk.
    async fn flush(&self) -> Result<(), NodeError> {
        self.flusher.flush().await
    }

    pub fn is_sealed(&self, event: EventId) -> Result<bool, NodeError> {
        self.sealed.contains_key(event_key(event)).map_err(storage)
    }

    fn refuse_if_sealed(&self, event: EventId) -> Result<(), NodeError> {
        if self.is_sealed(event)? { Err(NodeError::Sealed) } else { Ok(()) }
    }

    /// Stores each of `answers` unless a newer or equal version of it is held (atomically per
    /// participant), with one flush for all of them before it returns; one result per answer,
    /// in order.
    pub async fn put_answers(&self, answers: Vec<(EventId, Answer)>) -> Vec<Result<(), NodeError>> {
        let results: Vec<Result<(), NodeError>> = answers.into_iter().map(|(event, answer)| self.store_answer(event, answer)).collect();
        if results.iter().any(Result::is_ok) {
            if let Err(error) = self.flush().await {
                return results.into_iter().map(|result| result.and(Err(error.clone()))).collect();
            }
        }
        results
    }

    fn store_answer(&self, event: EventId, answer: Answer) -> Result<(), NodeError> {
        let stored = StoredAnswer { version: answer.version, availability: Some(answer.availability), if_need_be: answer.if_need_be };
        self.store_versioned(event, answer.participant, stored)
    }

    /// Records that `participant` left as of `version`.
    pub async fn withdraw(&self, event: EventId, participant: ParticipantId, version: u64) -> Result<(), NodeError> {
        self.store_versioned(event, participant, StoredAnswer { version, availability: None, if_need_be: IntervalSet::new() })?;
        self.flush().await
    }

    /// Writes `new` unless a newer or equal version is held; not flushed. The same version
    /// again counts as stored: flushing covers a first write of it that is still in flight on
    /// another request.
    fn store_versioned(&self, event: EventId, participant: ParticipantId, new: StoredAnswer) -> Result<(), NodeError> {
        self.refuse_if_sealed(event)?;
        let encoded = serde_json::to_vec(&new).map_err(storage)?;
        let mut held_version = None;
        self.answers
            .fetch_and_update(answer_key(event, participant), |old| {
                let held = old.and_then(|bytes| serde_json::from_slice::<StoredAnswer>(bytes).ok());
                match held {
                    Some(held) if held.version >= new.version => {
                        held_version = Some(held.version);
                        old.map(<[u8]>::to_vec)
                    }
                    _ => {
                        held_version = None;
                        Some(encoded.clone())
                    }
                }
            })
            .map_err(storage)?;
        match held_version {
            Some(held) if held > new.version => Err(NodeError::StaleVersion { held }),
            Some(_) | None => Ok(()),
        }
    }

    /// The summary of the answers held for `event`.
    pub fn partial(&self, event: EventId) -> Result<Partial, NodeError> {
        self.refuse_if_sealed(event)?;
        let mut answers = Vec::new();
        for entry in self.answers.scan_prefix(event_key(event)) {
            let (key, value) = entry.map_err(storage)?;
            let stored: StoredAnswer = serde_json::from_slice(&value).map_err(storage)?;
            if let (Some(availability), Some(participant)) = (stored.availability, key.get(8..16)) {
                let participant = ParticipantId(u64::from_be_bytes(participant.try_into().map_err(storage)?));
                answers.push(Answer { participant, version: stored.version, availability, if_need_be: stored.if_need_be });
            }
        }
        Ok(Partial::from_answers(answers))
    }

    /// Remembers that this node coordinates `event`. Returns whether it is new.
    pub async fn coordinate(&self, event: EventId, spec: &EventSpec) -> Result<bool, NodeError> {
        self.refuse_if_sealed(event)?;
        let encoded = serde_json::to_vec(spec).map_err(storage)?;
        let previous = self.coordinated.insert(event_key(event), encoded).map_err(storage)?;
        self.flush().await?;
        Ok(previous.is_none())
    }

    /// The events this node coordinates and has not sealed, for re-arming at start.
    pub fn coordinated(&self) -> Result<Vec<(EventId, EventSpec)>, NodeError> {
        let mut events = Vec::new();
        for entry in self.coordinated.iter() {
            let (key, value) = entry.map_err(storage)?;
            let event = event_of_key(&key).ok_or_else(|| storage("bad key in coordinated tree"))?;
            if !self.is_sealed(event)? {
                events.push((event, serde_json::from_slice(&value).map_err(storage)?));
            }
        }
        Ok(events)
    }

    /// The outcome `event` was sealed with, if it was.
    pub fn sealed_outcome(&self, event: EventId) -> Result<Option<Outcome>, NodeError> {
        match self.sealed.get(event_key(event)).map_err(storage)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(storage),
            None => Ok(None),
        }
    }

    /// Seals `event` with its outcome and drops its working data; the marker (holding the
    /// outcome) stays so late writes are refused. Sealing again keeps the first outcome.
    pub async fn seal(&self, event: EventId, outcome: &Outcome) -> Result<(), NodeError> {
        let encoded = serde_json::to_vec(outcome).map_err(storage)?;
        let _ = self.sealed.compare_and_swap(event_key(event), None as Option<&[u8]>, Some(encoded)).map_err(storage)?;
        self.flush().await?;
        for entry in self.answers.scan_prefix(event_key(event)).keys() {
            self.answers.remove(entry.map_err(storage)?).map_err(storage)?;
        }
        self.coordinated.remove(event_key(event)).map_err(storage)?;
        self.flush().await
    }

    /// Forgets a cancelled event: its answers and its coordination entry go, no seal marker
    /// is kept (there is no outcome to keep).
    pub async fn abandon(&self, event: EventId) -> Result<(), NodeError> {
        for entry in self.answers.scan_prefix(event_key(event)).keys() {
            self.answers.remove(entry.map_err(storage)?).map_err(storage)?;
        }
        self.coordinated.remove(event_key(event)).map_err(storage)?;
        self.flush().await
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (self.coordinated.len(), self.answers.len(), self.sealed.len())
    }
}

/// Group commit: one task flushes sled for all waiting writers, so concurrent puts share one
/// fsync instead of queueing behind each other's. A writer takes a ticket after its write; the
/// flusher reads the newest ticket, flushes, and publishes it as done, which covers every
/// ticket up to it (their writes happened before the flush began).
struct GroupFlush {
    requested: AtomicU64,
    wake: Notify,
    /// The newest ticket known durable, and the error of the flush that published it, if any.
    done: watch::Sender<(u64, Option<String>)>,
}

impl GroupFlush {
    fn start(db: sled::Db) -> Arc<Self> {
        let flusher = Arc::new(Self { requested: AtomicU64::new(0), wake: Notify::new(), done: watch::Sender::new((0, None)) });
        let worker = Arc::clone(&flusher);
        tokio::spawn(async move {
            loop {
                worker.wake.notified().await;
                let target = worker.requested.load(Ordering::SeqCst);
                let error = db.flush_async().await.err().map(|e| e.to_string());
                worker.done.send_replace((target, error));
            }
        });
        flusher
    }

    async fn flush(&self) -> Result<(), NodeError> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        let mut done = self.done.subscribe();
        let state = done.wait_for(|(flushed, _)| *flushed >= ticket).await.map_err(storage)?;
        match &state.1 {
            Some(error) => Err(NodeError::Storage(error.clone())),
            None => Ok(()),
        }
    }
}
