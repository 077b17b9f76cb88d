//! `outcome()`: the one function that decides an event (DESIGN.md §1 "Outcome"). The event
//! nodes, the server's verification and the tests all call it.
//!
//! Three tiers, each tried only when the one before finds nothing:
//! 1. the earliest slot where everyone who answered is free;
//! 2. the earliest slot where everyone is free or free if need be, naming who would come only
//!    if need be;
//! 3. no solution, with the best effort: the slot the most people can come to (free or if need
//!    be), then the one the fewest of them would come to only if need be, then the earliest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{Answer, EventSpec, ParticipantId};
use crate::time::{Interval, IntervalSet, Minute};

/// Serialized in serde's default (externally tagged) form, which binary RPC formats support;
/// the REST API renders its own `status`-tagged DTO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Nobody answered.
    Undefined,
    /// Everyone who answered can come during `slot`, the earliest such slot. `if_need_be` names
    /// those who would come only if need be (empty when everyone is free: then `slot` is the
    /// earliest time everyone is free, even if an earlier one suits everyone if need be).
    /// `common` is all the time everyone shares where a meeting may be (after the deadline,
    /// inside the window): free time when `if_need_be` is empty, else free-or-if-need-be time.
    Scheduled {
        slot: Interval,
        common: IntervalSet,
        #[serde(default)]
        if_need_be: Vec<ParticipantId>,
    },
    /// No slot suits everyone. `best_effort` is the slot the most people can come to (then the
    /// fewest only if need be, then the earliest), or `None` when nobody can come long enough.
    NoSolution { best_effort: Option<BestEffort> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BestEffort {
    pub slot: Interval,
    /// Free for the whole slot, by id.
    pub available: Vec<ParticipantId>,
    /// Able to come for the whole slot, but only if need be, by id.
    #[serde(default)]
    pub if_need_be: Vec<ParticipantId>,
    /// Answered but unable to come for the whole slot, by id.
    pub unavailable: Vec<ParticipantId>,
}

/// Decides an event from its answers. If several answers name one participant, the highest
/// version counts. Deterministic: ties go to the earliest slot, participants are listed by id.
pub fn outcome<'a>(spec: &EventSpec, answers: impl IntoIterator<Item = &'a Answer>) -> Outcome {
    let latest = latest_answers(answers);
    match intersect_free(latest.values().copied()) {
        Some(free) => decide(spec, &latest, &free, || intersect_possible(latest.values().copied()).unwrap_or_default()),
        None => Outcome::Undefined,
    }
}

/// The minutes every answer is free; `None` when there are no answers.
pub(crate) fn intersect_free<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> Option<IntervalSet> {
    let mut answers = answers.into_iter();
    let first = answers.next()?.availability.clone();
    Some(answers.fold(first, |common, answer| common.intersection(&answer.availability)))
}

/// The minutes every answer can make, free or if need be; `None` when there are no answers.
pub(crate) fn intersect_possible<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> Option<IntervalSet> {
    let mut answers = answers.into_iter();
    let first = answers.next()?.possible().into_owned();
    Some(answers.fold(first, |common, answer| common.intersection(&answer.possible())))
}

/// [`outcome`] when the caller already holds the answers' free intersection (a node's
/// partial); `possible` gives the free-or-if-need-be one, asked for only when needed.
pub(crate) fn decide(
    spec: &EventSpec,
    latest: &BTreeMap<ParticipantId, &Answer>,
    free: &IntervalSet,
    possible: impl FnOnce() -> IntervalSet,
) -> Outcome {
    if latest.is_empty() {
        return Outcome::Undefined;
    }
    let duration = i64::from(spec.duration_minutes());
    let Some(bounds) = spec.bounds() else {
        return Outcome::NoSolution { best_effort: None };
    };
    let free = free.clip(bounds);
    if let Some(slot) = first_slot(&free, duration) {
        return Outcome::Scheduled { slot, common: free, if_need_be: Vec::new() };
    }
    if latest.values().any(|answer| !answer.if_need_be.is_empty()) {
        let possible = possible().clip(bounds);
        if let Some(slot) = first_slot(&possible, duration) {
            let if_need_be = latest.iter().filter(|(_, answer)| !answer.availability.covers(slot)).map(|(id, _)| *id).collect();
            return Outcome::Scheduled { slot, common: possible, if_need_be };
        }
    }
    Outcome::NoSolution { best_effort: best_effort(latest, bounds, duration) }
}

/// The earliest `duration` minutes inside one interval of `set`.
fn first_slot(set: &IntervalSet, duration: i64) -> Option<Interval> {
    let free = set.intervals().iter().find(|free| free.minutes() >= duration)?;
    Interval::starting_at(free.start(), duration)
}

/// The highest version per participant.
pub(crate) fn latest_answers<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> BTreeMap<ParticipantId, &'a Answer> {
    let mut latest: BTreeMap<ParticipantId, &Answer> = BTreeMap::new();
    for answer in answers {
        latest
            .entry(answer.participant)
            .and_modify(|held| {
                if answer.version > held.version {
                    *held = answer;
                }
            })
            .or_insert(answer);
    }
    latest
}

/// Sweep events, packed as `(minute << 3) | kind` so one integer sort orders them by time.
/// Each kind moves the two counts (can come, free) by one; the order within a minute does not
/// matter, since counts are read only between minutes.
const ENDS_BOTH: i64 = 0;
const ENDS_POSSIBLE: i64 = 1;
const ENDS_FREE: i64 = 2;
const STARTS_BOTH: i64 = 4;
const STARTS_POSSIBLE: i64 = 5;
const STARTS_FREE: i64 = 6;

/// A sweep over slot *start* times. Someone free (or able, if need be) during `[s, e)` within
/// bounds can attend any slot starting in `[s, e - duration]`; each participant's ranges are
/// disjoint, so overlapping ranges count people. Someone with no if-need-be time has the same
/// free and possible ranges, pushed once as "both".
fn best_effort(latest: &BTreeMap<ParticipantId, &Answer>, bounds: Interval, duration: i64) -> Option<BestEffort> {
    let mut events: Vec<i64> = Vec::new();
    let mut push_ranges = |set: &IntervalSet, starts: i64, ends: i64| {
        for range in set.clip(bounds).intervals() {
            if range.minutes() >= duration {
                events.push((range.start().0 << 3) | starts);
                events.push(((range.end().0 - duration + 1) << 3) | ends);
            }
        }
    };
    for answer in latest.values() {
        if answer.if_need_be.is_empty() {
            push_ranges(&answer.availability, STARTS_BOTH, ENDS_BOTH);
        } else {
            push_ranges(&answer.availability, STARTS_FREE, ENDS_FREE);
            push_ranges(&answer.possible(), STARTS_POSSIBLE, ENDS_POSSIBLE);
        }
    }
    events.sort_unstable();

    // (can come, free) at the best start so far; a later start must do strictly better.
    let (mut can, mut free) = (0i64, 0i64);
    let (mut best, mut best_start) = ((0i64, 0i64), None);
    let mut index = 0;
    while index < events.len() {
        let minute = events[index] >> 3;
        while index < events.len() && events[index] >> 3 == minute {
            let (can_delta, free_delta) = match events[index] & 7 {
                ENDS_BOTH => (-1, -1),
                ENDS_POSSIBLE => (-1, 0),
                ENDS_FREE => (0, -1),
                STARTS_BOTH => (1, 1),
                STARTS_POSSIBLE => (1, 0),
                _ => (0, 1),
            };
            can += can_delta;
            free += free_delta;
            index += 1;
        }
        if (can, free) > best {
            best = (can, free);
            best_start = Some(Minute(minute));
        }
    }

    let slot = Interval::starting_at(best_start?, duration)?;
    let mut best = BestEffort { slot, available: Vec::new(), if_need_be: Vec::new(), unavailable: Vec::new() };
    for (id, answer) in latest {
        if answer.availability.covers(slot) {
            best.available.push(*id);
        } else if answer.possible().covers(slot) {
            best.if_need_be.push(*id);
        } else {
            best.unavailable.push(*id);
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::spec::SpecError;

    /// Minutes after 2030-01-07 09:00Z (a Monday), the tests' origin.
    fn at(minutes: i64) -> Minute {
        Minute::floor(origin()).plus(minutes)
    }

    fn origin() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap()
    }

    fn iv(start: i64, end: i64) -> Interval {
        Interval::new(at(start), at(end)).unwrap()
    }

    fn set(pairs: &[(i64, i64)]) -> IntervalSet {
        pairs.iter().map(|&(s, e)| iv(s, e)).collect()
    }

    fn answer(id: u64, version: u64, free: &[(i64, i64)]) -> Answer {
        Answer::free(ParticipantId(id), version, set(free))
    }

    fn maybe(id: u64, free: &[(i64, i64)], if_need_be: &[(i64, i64)]) -> Answer {
        Answer::new(ParticipantId(id), 1, set(free), set(if_need_be))
    }

    fn ids(ids: &[u64]) -> Vec<ParticipantId> {
        ids.iter().copied().map(ParticipantId).collect()
    }

    fn spec(duration: u32) -> EventSpec {
        EventSpec::new(origin(), duration, None).unwrap()
    }

    fn scheduled_slot(outcome: &Outcome) -> Interval {
        match outcome {
            Outcome::Scheduled { slot, .. } => *slot,
            other => panic!("expected scheduled, got {other:?}"),
        }
    }

    fn best(outcome: Outcome) -> Option<BestEffort> {
        match outcome {
            Outcome::NoSolution { best_effort } => best_effort,
            other => panic!("expected no solution, got {other:?}"),
        }
    }

    #[test]
    fn nobody_answered_is_undefined() {
        assert_eq!(outcome(&spec(30), &[]), Outcome::Undefined);
    }

    #[test]
    fn earliest_common_slot_and_the_whole_common_time() {
        let answers = [answer(1, 1, &[(0, 120), (300, 400)]), answer(2, 1, &[(60, 180), (320, 360)])];
        let decided = outcome(&spec(30), &answers);
        assert_eq!(decided, Outcome::Scheduled { slot: iv(60, 90), common: set(&[(60, 120), (320, 360)]), if_need_be: vec![] });
    }

    #[test]
    fn touching_intervals_join_into_one_long_enough() {
        // 0–30 and 30–60 are one free hour.
        let answers = [answer(1, 1, &[(0, 30), (30, 60)])];
        assert_eq!(scheduled_slot(&outcome(&spec(60), &answers)), iv(0, 60));
    }

    #[test]
    fn deadline_inside_a_free_interval_starts_at_the_next_whole_minute() {
        let deadline = origin() + chrono::Duration::seconds(20 * 60 + 30);
        let spec = EventSpec::new(deadline, 30, None).unwrap();
        let answers = [answer(1, 1, &[(-60, 60)])];
        assert_eq!(scheduled_slot(&outcome(&spec, &answers)), iv(21, 51));
        // Exactly on a minute: that minute.
        let on_minute = EventSpec::new(origin() + chrono::Duration::minutes(20), 30, None).unwrap();
        assert_eq!(scheduled_slot(&outcome(&on_minute, &answers)), iv(20, 50));
    }

    #[test]
    fn slot_may_end_exactly_at_the_window_end_but_not_past_it() {
        let window = iv(60, 120);
        let spec = EventSpec::new(origin(), 60, Some(window)).unwrap();
        assert_eq!(scheduled_slot(&outcome(&spec, &[answer(1, 1, &[(0, 240)])])), iv(60, 120));
        let late = [answer(1, 1, &[(90, 240)])];
        assert_eq!(best(outcome(&spec, &late)), None, "only 30 minutes inside the window");
    }

    #[test]
    fn duration_longer_than_any_common_time_gives_the_best_effort() {
        let answers = [answer(1, 1, &[(0, 60)]), answer(2, 1, &[(30, 120)]), answer(3, 1, &[(40, 100)])];
        let best = best(outcome(&spec(60), &answers)).unwrap();
        // 2 and 3 can both do 40–100; 1 and 2 can never both do an hour.
        assert_eq!(best.slot, iv(40, 100));
        assert_eq!(best.available, vec![ParticipantId(2), ParticipantId(3)]);
        assert_eq!(best.unavailable, vec![ParticipantId(1)]);
    }

    #[test]
    fn best_effort_ties_go_to_the_earliest_slot() {
        let answers = [answer(1, 1, &[(0, 30)]), answer(2, 1, &[(100, 130)]), answer(3, 1, &[])];
        let best = best(outcome(&spec(30), &answers)).unwrap();
        assert_eq!(best.slot, iv(0, 30));
        assert_eq!(best.available, vec![ParticipantId(1)]);
        assert_eq!(best.unavailable, vec![ParticipantId(2), ParticipantId(3)]);
    }

    #[test]
    fn an_empty_answer_makes_full_overlap_impossible() {
        let answers = [answer(1, 1, &[(0, 60)]), answer(2, 1, &[])];
        let best = best(outcome(&spec(30), &answers)).unwrap();
        assert_eq!(best.slot, iv(0, 30));
        assert_eq!(best.unavailable, vec![ParticipantId(2)]);
    }

    #[test]
    fn nobody_free_long_enough_has_no_best_effort() {
        let answers = [answer(1, 1, &[(0, 20)]), answer(2, 1, &[(40, 50)])];
        assert_eq!(best(outcome(&spec(30), &answers)), None);
    }

    #[test]
    fn time_before_the_deadline_does_not_count() {
        let answers = [answer(1, 1, &[(-120, 10)])];
        assert_eq!(best(outcome(&spec(30), &answers)), None);
    }

    #[test]
    fn the_highest_version_of_an_answer_counts_in_any_order() {
        let old = answer(1, 1, &[(0, 60)]);
        let new = answer(1, 2, &[(200, 260)]);
        let other = answer(2, 1, &[(200, 300)]);
        for answers in [[old.clone(), new.clone(), other.clone()], [new.clone(), other.clone(), old.clone()]] {
            assert_eq!(scheduled_slot(&outcome(&spec(60), &answers)), iv(200, 260));
        }
    }

    #[test]
    fn a_later_slot_everyone_is_free_for_beats_an_earlier_one_if_need_be() {
        let answers = [maybe(1, &[(200, 260)], &[(0, 60)]), answer(2, 1, &[(0, 300)])];
        assert_eq!(outcome(&spec(60), &answers), Outcome::Scheduled { slot: iv(200, 260), common: set(&[(200, 260)]), if_need_be: vec![] });
    }

    #[test]
    fn if_nobody_is_free_together_the_earliest_slot_if_need_be_names_who_would_stretch() {
        // 1 is free 0–30 and could do 30–90 if need be; 2 only if need be 0–60; 3 free all along.
        let answers = [maybe(1, &[(0, 30)], &[(30, 90)]), maybe(2, &[], &[(0, 60)]), answer(3, 1, &[(0, 300)])];
        let decided = outcome(&spec(60), &answers);
        assert_eq!(decided, Outcome::Scheduled { slot: iv(0, 60), common: set(&[(0, 60)]), if_need_be: ids(&[1, 2]) });
        // 1 free for the whole slot is not named.
        let answers = [maybe(1, &[(0, 60)], &[(60, 90)]), maybe(2, &[], &[(0, 60)])];
        assert_eq!(outcome(&spec(60), &answers), Outcome::Scheduled { slot: iv(0, 60), common: set(&[(0, 60)]), if_need_be: ids(&[2]) });
    }

    #[test]
    fn free_and_if_need_be_time_join_into_one_slot() {
        // 09:00–09:30 free and 09:30–10:00 if need be: an hour, only if need be.
        let answers = [maybe(1, &[(0, 30)], &[(30, 60)])];
        assert_eq!(outcome(&spec(60), &answers), Outcome::Scheduled { slot: iv(0, 60), common: set(&[(0, 60)]), if_need_be: ids(&[1]) });
    }

    #[test]
    fn overlapping_if_need_be_time_counts_as_free() {
        let both = Answer::new(ParticipantId(1), 1, set(&[(0, 60)]), set(&[(30, 90)]));
        assert_eq!(both.if_need_be, set(&[(60, 90)]));
        let raw = Answer { participant: ParticipantId(1), version: 1, availability: set(&[(0, 60)]), if_need_be: set(&[(0, 90)]) };
        assert_eq!(scheduled_slot(&outcome(&spec(60), &[raw])), iv(0, 60));
    }

    #[test]
    fn best_effort_most_people_then_fewest_if_need_be_then_earliest() {
        // 0–60: 1 and 2 if need be. 100–160: 1 free, 2 if need be. 200–260: 1 and 2 free, but
        // 3 (never with the others) makes a full slot impossible.
        let answers = [
            maybe(1, &[(100, 160), (200, 260)], &[(0, 60)]),
            maybe(2, &[(200, 260)], &[(0, 60), (100, 160)]),
            answer(3, 1, &[(400, 460)]),
        ];
        let first = best(outcome(&spec(60), &answers)).unwrap();
        assert_eq!(first, BestEffort { slot: iv(200, 260), available: ids(&[1, 2]), if_need_be: vec![], unavailable: ids(&[3]) });
        // More people if need be beats fewer people free.
        let answers = [maybe(1, &[(0, 60)], &[(100, 160)]), maybe(2, &[], &[(100, 160)]), answer(3, 1, &[(0, 60)]), answer(4, 1, &[(100, 160)]), answer(5, 1, &[])];
        let second = best(outcome(&spec(60), &answers)).unwrap();
        assert_eq!(second, BestEffort { slot: iv(100, 160), available: ids(&[4]), if_need_be: ids(&[1, 2]), unavailable: ids(&[3, 5]) });
    }

    #[test]
    fn spec_rules() {
        assert_eq!(EventSpec::new(origin(), 4, None), Err(SpecError::Duration));
        assert_eq!(EventSpec::new(origin(), 1441, None), Err(SpecError::Duration));
        assert_eq!(EventSpec::new(origin(), 61, Some(iv(0, 60))), Err(SpecError::WindowTooShort));
        assert_eq!(EventSpec::new(origin(), 30, Some(iv(-100, 20))), Err(SpecError::WindowBeforeDeadline));
        assert!(EventSpec::new(origin(), 5, Some(iv(-100, 5))).is_ok());
    }
}
