//! The heavy part of an event page read — the participants with their answers, and the heatmap
//! made of them — is the same for everyone on the event, and a crowd reads it far more often
//! than it changes. It is kept here per event, keyed on the event's `generation`: the database
//! bumps it in the same transaction as every change to what the page shows (`db::
//! lock_event_for_change`, the cancellation, the outcome). A reader has just read the event's
//! row, generation included, and is served the copy only if it was made at that generation, so
//! a change made by any server process on the same database is seen by the next read of every
//! other; nothing has to be told.
//!
//! A copy is made from reads that follow the row's, so it holds at least that generation's
//! data (perhaps a later change too, which only makes the next reader rebuild it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use app::events::Heatmap;
use scheduling::Availability;

use super::heatmap::heatmap;
use super::repo::Participant;

/// Events kept at most; past it, those not read for [`IDLE`] are dropped.
const CAPACITY: usize = 1024;
const IDLE: Duration = Duration::from_secs(60);

/// What every participant's page shows of the others, as of one read.
pub(crate) struct PageSnapshot {
    pub participants: Vec<Participant>,
    /// Each participant's answer, in the order of `participants`.
    pub answers: Vec<Option<Availability>>,
    pub heatmap: Heatmap,
}

#[derive(Default)]
pub(crate) struct PageCache {
    slots: Mutex<HashMap<i64, Slot>>,
}

struct Slot {
    generation: i64,
    snapshot: Arc<PageSnapshot>,
    read_at: Instant,
}

impl PageCache {
    /// The snapshot of `event_id` made at `generation`, if one is kept.
    pub fn get(&self, event_id: i64, generation: i64) -> Option<Arc<PageSnapshot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = slots.get_mut(&event_id).filter(|slot| slot.generation == generation)?;
        slot.read_at = Instant::now();
        Some(Arc::clone(&slot.snapshot))
    }

    /// The newest snapshot of `event_id` kept, whatever its generation: for a quick answer that
    /// is checked again where it matters.
    pub fn latest(&self, event_id: i64) -> Option<Arc<PageSnapshot>> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get(&event_id).map(|slot| Arc::clone(&slot.snapshot))
    }

    /// Keeps `snapshot`, made after reading `generation`, unless a later one is kept already.
    pub fn keep(&self, event_id: i64, generation: i64, snapshot: PageSnapshot) -> Arc<PageSnapshot> {
        let snapshot = Arc::new(snapshot);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.get(&event_id).is_some_and(|slot| slot.generation > generation) {
            return snapshot;
        }
        if slots.len() >= CAPACITY && !slots.contains_key(&event_id) {
            slots.retain(|_, slot| slot.read_at.elapsed() < IDLE);
            if slots.len() >= CAPACITY {
                slots.clear();
            }
        }
        slots.insert(event_id, Slot { generation, snapshot: Arc::clone(&snapshot), read_at: Instant::now() });
        snapshot
    }

    /// Keeps the snapshot of `generation`, made from the kept one of `generation - 1` by
    /// storing `answers` (participant id, availability): the change that moved the event from
    /// one to the other, under its lock. Without the previous one nothing is kept; the next
    /// reader reads the database.
    pub fn apply_answers<'a>(&self, event_id: i64, generation: i64, answers: impl Iterator<Item = (i64, &'a Availability)>) {
        let Some(previous) = self.get(event_id, generation - 1) else { return };
        let mut participants = previous.participants.clone();
        let mut stored = previous.answers.clone();
        let index: HashMap<i64, usize> = participants.iter().enumerate().map(|(at, p)| (p.participant_id, at)).collect();
        for (participant_id, availability) in answers {
            // Absent: the snapshot already holds a later change (they left); it stays as read.
            if let Some(&at) = index.get(&participant_id) {
                participants[at].answered = true;
                stored[at] = Some(availability.clone());
            }
        }
        let heatmap = heatmap(stored.iter().flatten());
        self.keep(event_id, generation, PageSnapshot { participants, answers: stored, heatmap });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(answered: u32) -> PageSnapshot {
        PageSnapshot { participants: Vec::new(), answers: Vec::new(), heatmap: Heatmap { answered, segments: Vec::new() } }
    }

    fn cached_answered(cache: &PageCache, event_id: i64, generation: i64) -> Option<u32> {
        cache.get(event_id, generation).map(|snapshot| snapshot.heatmap.answered)
    }

    #[test]
    fn a_kept_snapshot_is_served_only_at_its_generation() {
        let cache = PageCache::default();
        assert_eq!(cached_answered(&cache, 7, 3), None);
        assert_eq!(cache.keep(7, 3, snapshot(1)).heatmap.answered, 1);
        assert_eq!(cached_answered(&cache, 7, 3), Some(1));
        assert_eq!(cached_answered(&cache, 8, 3), None, "another event is not served this one's snapshot");
        assert_eq!(cached_answered(&cache, 7, 4), None, "the event changed (in any process)");
    }

    #[test]
    fn a_slow_read_does_not_replace_a_newer_snapshot() {
        let cache = PageCache::default();
        cache.keep(7, 5, snapshot(2));
        // A read that began at generation 4 finishes last: it answers its own request only.
        assert_eq!(cache.keep(7, 4, snapshot(1)).heatmap.answered, 1);
        assert_eq!(cached_answered(&cache, 7, 5), Some(2));
        assert_eq!(cached_answered(&cache, 7, 4), None);
    }

    #[test]
    fn answers_are_applied_to_the_previous_generation_only() {
        let cache = PageCache::default();
        let person = |participant_id| Participant { participant_id, user_id: participant_id, username: String::new(), answered: false };
        let mut first = snapshot(0);
        first.participants = vec![person(10), person(11)];
        first.answers = vec![None, None];
        cache.keep(7, 3, first);
        let minute = |m: i64| scheduling::Minute::floor(chrono::DateTime::from_timestamp(m * 60, 0).unwrap());
        let free = Availability::new(
            scheduling::IntervalSet::from_intervals(vec![scheduling::Interval::new(minute(0), minute(60)).unwrap()]),
            scheduling::IntervalSet::new(),
        );
        // Participant 12 is not in the snapshot (it was read after they left): skipped.
        cache.apply_answers(7, 4, [(11, &free), (12, &free)].into_iter());
        let applied = cache.get(7, 4).expect("generation 4 derived from 3");
        assert_eq!(applied.participants.iter().map(|p| p.answered).collect::<Vec<_>>(), [false, true]);
        assert_eq!(applied.answers[1].as_ref(), Some(&free));
        assert_eq!(applied.heatmap.answered, 1);
        assert_eq!(applied.heatmap.segments.len(), 1);
        // Generation 5 was never seen here: 6 cannot be derived.
        cache.apply_answers(7, 6, [(10, &free)].into_iter());
        assert!(cache.get(7, 6).is_none());
        assert!(cache.get(7, 4).is_some());
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = PageCache::default();
        for event_id in 0..CAPACITY as i64 {
            cache.keep(event_id, 1, snapshot(1));
        }
        // One more event: all slots were read just now, so the cache starts over.
        cache.keep(CAPACITY as i64, 1, snapshot(2));
        assert_eq!(cached_answered(&cache, 1, 1), None);
        assert_eq!(cached_answered(&cache, CAPACITY as i64, 1), Some(2));
    }
}
