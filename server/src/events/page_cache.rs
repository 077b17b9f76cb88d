//! Every open event page polls its data (every 4 s while answers are open), so a crowd turns
//! into thousands of page reads a second, nearly all of them of data that has not changed. The
//! heavy part of a page read — the participants with their answers, and the heatmap made of
//! them — is the same for everyone on the event, so it is kept here per event and built again
//! only after it changed. The event's own row (status, deadline, outcome, cancellation) is
//! still read on every poll; it is one indexed row.
//!
//! Correctness rests on two rules. Every write to an event's participants or answers calls
//! [`PageCache::invalidate`] after its commit (joins, leaves and answers all go through
//! [`super::EventService`]). And a snapshot read while such a write was committing is not
//! kept: [`PageCache::begin`] hands out the event's generation, [`PageCache::keep`] stores the
//! snapshot only if no invalidation bumped it since. Whenly runs one server process, so an
//! in-process cache sees every write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use app::events::Heatmap;
use scheduling::IntervalSet;

use super::repo::Participant;

/// Events kept at most; past it, those not read for [`IDLE`] are dropped.
const CAPACITY: usize = 1024;
const IDLE: Duration = Duration::from_secs(60);

/// What every participant's page shows of the others, as of one read.
pub(crate) struct PageSnapshot {
    pub participants: Vec<Participant>,
    /// Each participant's answer, in the order of `participants`.
    pub answers: Vec<Option<IntervalSet>>,
    pub heatmap: Heatmap,
}

/// A read in progress: the event and its generation when the read began.
pub(crate) struct Ticket {
    event_id: i64,
    generation: u64,
}

#[derive(Default)]
pub(crate) struct PageCache {
    slots: Mutex<HashMap<i64, Slot>>,
}

struct Slot {
    generation: u64,
    snapshot: Option<Arc<PageSnapshot>>,
    read_at: Instant,
}

impl PageCache {
    /// The cached snapshot of `event_id`, or a ticket to read one and [`keep`](Self::keep) it.
    pub fn begin(&self, event_id: i64) -> Result<Arc<PageSnapshot>, Ticket> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= CAPACITY && !slots.contains_key(&event_id) {
            slots.retain(|_, slot| slot.read_at.elapsed() < IDLE);
            if slots.len() >= CAPACITY {
                slots.clear();
            }
        }
        let slot = slots.entry(event_id).or_insert_with(|| Slot { generation: 0, snapshot: None, read_at: Instant::now() });
        slot.read_at = Instant::now();
        match &slot.snapshot {
            Some(snapshot) => Ok(Arc::clone(snapshot)),
            None => Err(Ticket { event_id, generation: slot.generation }),
        }
    }

    /// Keeps `snapshot` for later reads unless the event changed (or was dropped) since `ticket`.
    pub fn keep(&self, ticket: Ticket, snapshot: PageSnapshot) -> Arc<PageSnapshot> {
        let snapshot = Arc::new(snapshot);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(&ticket.event_id) {
            if slot.generation == ticket.generation {
                slot.snapshot = Some(Arc::clone(&snapshot));
            }
        }
        snapshot
    }

    /// The event's participants or answers changed (call after the commit).
    pub fn invalidate(&self, event_id: i64) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(&event_id) {
            slot.generation += 1;
            slot.snapshot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(answered: u32) -> PageSnapshot {
        PageSnapshot { participants: Vec::new(), answers: Vec::new(), heatmap: Heatmap { answered, segments: Vec::new() } }
    }

    fn cached_answered(cache: &PageCache, event_id: i64) -> Option<u32> {
        cache.begin(event_id).ok().map(|snapshot| snapshot.heatmap.answered)
    }

    #[test]
    fn a_kept_snapshot_is_served_until_its_event_changes() {
        let cache = PageCache::default();
        let ticket = cache.begin(7).err().expect("nothing cached yet");
        assert_eq!(cache.keep(ticket, snapshot(1)).heatmap.answered, 1);
        assert_eq!(cached_answered(&cache, 7), Some(1));
        assert_eq!(cached_answered(&cache, 8), None, "another event is not served this one's snapshot");

        cache.invalidate(7);
        assert_eq!(cached_answered(&cache, 7), None);
    }

    #[test]
    fn a_snapshot_read_while_its_event_changed_is_not_kept() {
        let cache = PageCache::default();
        let ticket = cache.begin(7).err().expect("nothing cached yet");
        // A write commits and invalidates while the read is in flight: what the read saw may
        // predate the write, so it answers this one request and is not kept.
        cache.invalidate(7);
        assert_eq!(cache.keep(ticket, snapshot(1)).heatmap.answered, 1);
        assert_eq!(cached_answered(&cache, 7), None);

        let ticket = cache.begin(7).err().expect("still nothing cached");
        cache.keep(ticket, snapshot(2));
        assert_eq!(cached_answered(&cache, 7), Some(2));
    }

    #[test]
    fn a_full_cache_makes_room_and_a_dropped_read_is_not_kept() {
        let cache = PageCache::default();
        let early = cache.begin(0).err().expect("nothing cached yet");
        for event_id in 1..CAPACITY as i64 {
            let ticket = cache.begin(event_id).err().expect("nothing cached yet");
            cache.keep(ticket, snapshot(1));
        }
        // One more event: all slots were read just now, so the cache starts over.
        assert!(cache.begin(CAPACITY as i64).is_err());
        assert_eq!(cached_answered(&cache, 1), None);
        cache.keep(early, snapshot(1));
        assert_eq!(cached_answered(&cache, 0), None, "the slot the read began on was dropped");
    }
}
