//! Live event pages: each open page holds one stream (`GET /api/v1/events/{code}/live`,
//! [`crate::http`]), and is sent the event's shared state when it opens and after each change,
//! instead of asking every few seconds. An idle page costs one parked connection.
//!
//! One [`Topic`] per followed event holds its latest [`LiveFrame`] in a `watch` channel: every
//! subscriber of the event shares the one serialized frame, and a subscriber that was slow
//! simply sees the newest (the frames are whole states, so skipping is never losing).
//!
//! One task finds the changes. Every [`ROUND`] (sooner when this process made a change: the
//! event service sends the event's id through [`ChangeSender`]) it reads the generations of the
//! followed events from the database, which bumps them in the transaction of every change
//! whichever server process made it, and rebuilds the frames of those that moved on. An event
//! is rebuilt at most once per [`ROUND`], however many answers arrive in it. Topics nobody
//! follows any more are dropped in the same pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::db::{Db, MAX_IN_LIST};
use crate::error::Result;
use crate::events::{EventService, LiveFrame};
use crate::shutdown::Shutdown;

/// How often the generations are read, and the least time between two frames of one event.
pub const ROUND: Duration = Duration::from_millis(250);
/// Frames built at once in a round.
const BUILDS_AT_ONCE: usize = 8;
/// Local changes queued for the next round at most; past it they are dropped (the round reads
/// every followed event's generation anyway).
const QUEUED_CHANGES: usize = 4096;

/// What the event service tells the hub after a commit: "this event changed".
#[derive(Clone, Debug)]
pub struct ChangeSender(mpsc::Sender<i64>);

impl ChangeSender {
    pub fn changed(&self, event_id: i64) {
        // A full queue means a round is due anyway.
        let _ = self.0.try_send(event_id);
    }
}

/// The receiving end, for [`LiveHub::start`].
pub struct ChangeReceiver(mpsc::Receiver<i64>);

pub fn change_channel() -> (ChangeSender, ChangeReceiver) {
    let (sender, receiver) = mpsc::channel(QUEUED_CHANGES);
    (ChangeSender(sender), ChangeReceiver(receiver))
}

struct Topic {
    frames: watch::Sender<Arc<LiveFrame>>,
    published_at: Instant,
}

/// The followed events and their latest frames.
pub struct LiveHub {
    db: Db,
    events: Arc<EventService>,
    topics: Mutex<HashMap<i64, Topic>>,
    /// Open streams per user.
    streams: Mutex<HashMap<i64, usize>>,
    /// Open streams in all, and the most this process holds ([`crate::open_files`]).
    open: AtomicUsize,
    max_streams: usize,
}

/// Why a stream was refused a place.
#[derive(Debug, PartialEq, Eq)]
pub enum NoPlace {
    /// The user holds as many as one user may.
    ForUser,
    /// The process holds as many as it may.
    Full,
}

/// One of a user's open streams; frees its place when dropped.
pub struct StreamSlot {
    hub: Arc<LiveHub>,
    user_id: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::Relaxed);
        let mut streams = self.hub.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = streams.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                streams.remove(&self.user_id);
            }
        }
    }
}

impl LiveHub {
    /// Starts the hub and its round task, for as long as the server runs; it holds at most
    /// `max_streams` streams open.
    pub fn start(db: Db, events: Arc<EventService>, changes: ChangeReceiver, max_streams: usize, shutdown: &Shutdown) -> Arc<Self> {
        let hub = Arc::new(Self { db, events, topics: Mutex::default(), streams: Mutex::default(), open: AtomicUsize::new(0), max_streams });
        shutdown.spawn_until(Arc::clone(&hub).run(changes.0));
        hub
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Topic>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The frames of `event_id`, starting with the current one; `None` if there is no such
    /// event. The topic's frame may be a round old, and a reader who has just joined (here or
    /// in another process) would not be among its members: it is brought up to the event's
    /// generation first.
    pub async fn follow(&self, event_id: i64) -> Result<Option<watch::Receiver<Arc<LiveFrame>>>> {
        let published = self.topics().get(&event_id).map(|topic| topic.frames.borrow().generation);
        if let Some(published) = published {
            let current = crate::events::generations(&self.db, &[event_id]).await?.first().map(|(_, generation)| *generation);
            if current.is_some_and(|current| current > published) {
                if let Some(frame) = self.events.live_frame(event_id).await? {
                    self.publish(event_id, frame);
                }
            }
            if let Some(topic) = self.topics().get(&event_id) {
                return Ok(Some(topic.frames.subscribe()));
            }
        }
        let Some(frame) = self.events.live_frame(event_id).await? else { return Ok(None) };
        let mut topics = self.topics();
        // Another request may have opened the topic meanwhile: one topic per event.
        let topic = topics
            .entry(event_id)
            .or_insert_with(|| Topic { frames: watch::Sender::new(Arc::new(frame)), published_at: Instant::now() });
        Ok(Some(topic.frames.subscribe()))
    }

    /// Sends `frame` to the event's readers, unless they have a later one already.
    fn publish(&self, event_id: i64, frame: LiveFrame) {
        let mut topics = self.topics();
        if let Some(topic) = topics.get_mut(&event_id) {
            if frame.generation > topic.frames.borrow().generation {
                topic.frames.send_replace(Arc::new(frame));
                topic.published_at = Instant::now();
            }
        }
    }

    /// Whether the process holds as many streams as it may (checked first, before any work
    /// for a stream that would be refused anyway).
    pub fn is_full(&self) -> bool {
        self.open.load(Ordering::Relaxed) >= self.max_streams
    }

    /// A place for one more stream of `user_id`, unless they hold `most` already or the
    /// process is full.
    pub fn open_stream(self: &Arc<Self>, user_id: i64, most: usize) -> std::result::Result<StreamSlot, NoPlace> {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let count = streams.entry(user_id).or_default();
        if *count >= most {
            return Err(NoPlace::ForUser);
        }
        // Counted under the lock, so the cap is exact.
        if self.open.load(Ordering::Relaxed) >= self.max_streams {
            if *count == 0 {
                streams.remove(&user_id);
            }
            return Err(NoPlace::Full);
        }
        self.open.fetch_add(1, Ordering::Relaxed);
        *count += 1;
        Ok(StreamSlot { hub: Arc::clone(self), user_id })
    }

    /// Streams open in this process.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// How many events are followed, and by how many streams in all.
    pub fn followers(&self) -> (usize, usize) {
        let topics = self.topics();
        (topics.len(), topics.values().map(|topic| topic.frames.receiver_count()).sum())
    }

    async fn run(self: Arc<Self>, mut changes: mpsc::Receiver<i64>) {
        let mut every = tokio::time::interval(ROUND);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_round = Instant::now();
        loop {
            tokio::select! {
                _ = every.tick() => {}
                Some(_) = changes.recv() => {
                    // A local change: a round now, but not more often than one per ROUND / 4.
                    tokio::time::sleep((ROUND / 4).saturating_sub(last_round.elapsed())).await;
                    while changes.try_recv().is_ok() {}
                }
            }
            last_round = Instant::now();
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "live pages: cannot read the events' generations; retrying");
            }
        }
    }

    /// Drops unfollowed topics, reads the generations of the others, rebuilds those that moved.
    async fn round(&self) -> Result<()> {
        let followed: Vec<i64> = {
            let mut topics = self.topics();
            topics.retain(|_, topic| topic.frames.receiver_count() > 0);
            topics.keys().copied().collect()
        };
        let mut moved = Vec::new();
        for chunk in followed.chunks(MAX_IN_LIST) {
            let generations = crate::events::generations(&self.db, chunk).await?;
            let topics = self.topics();
            for (event_id, generation) in generations {
                let Some(topic) = topics.get(&event_id) else { continue };
                let due = topic.published_at.elapsed() >= ROUND;
                if due && topic.frames.borrow().generation != generation {
                    moved.push(event_id);
                }
            }
        }
        let built: Vec<(i64, Result<Option<LiveFrame>>)> = futures::stream::iter(moved)
            .map(|event_id| async move { (event_id, self.events.live_frame(event_id).await) })
            .buffer_unordered(BUILDS_AT_ONCE)
            .collect()
            .await;
        for (event_id, frame) in built {
            match frame {
                Ok(Some(frame)) => self.publish(event_id, frame),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, event_id, "live pages: cannot build the event's state"),
            }
        }
        Ok(())
    }
}
