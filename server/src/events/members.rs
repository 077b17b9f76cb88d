//! Who has been seen a participant of which event, for the answer path's check before it reads
//! a body. The write checks membership again under the event's lock, so this only decides whose
//! body is worth parsing: someone never seen a member is asked of the database (a stranger's
//! body is never parsed), someone seen once is not asked again. A leave forgets them here; one
//! made through another server process does not, so that participant's next body is parsed
//! (bounded, see `rules`) and the write refuses it.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// (event id, user id) pairs seen as participants. Bounded: past [`KnownMembers::CAPACITY`]
/// pairs it starts over.
#[derive(Default)]
pub(crate) struct KnownMembers(Mutex<HashSet<(i64, i64)>>);

impl KnownMembers {
    const CAPACITY: usize = 200_000;

    pub fn contains(&self, event_id: i64, user_id: i64) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(&(event_id, user_id))
    }

    /// They left (here; a leave in another process is found by the write).
    pub fn forget(&self, event_id: i64, user_id: i64) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&(event_id, user_id));
    }

    pub fn keep(&self, event_id: i64, user_id: i64) {
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= Self::CAPACITY {
            known.clear();
        }
        known.insert((event_id, user_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_pairs_are_known_and_the_set_stays_bounded() {
        let known = KnownMembers::default();
        assert!(!known.contains(1, 2));
        known.keep(1, 2);
        assert!(known.contains(1, 2) && !known.contains(2, 1));
        known.forget(1, 2);
        assert!(!known.contains(1, 2));
        for user in 0..KnownMembers::CAPACITY as i64 + 1 {
            known.keep(7, user);
        }
        assert!(known.0.lock().unwrap().len() <= KnownMembers::CAPACITY);
    }
}
