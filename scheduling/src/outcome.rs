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

/// Sweep events, packed as `(minutes after the bounds' start << 3) | kind` so one integer sort
/// orders them by time. Each kind moves the two counts (can come, free) by one; the order within
/// a minute does not matter, since counts are read only between minutes.
const ENDS_BOTH: u64 = 0;
const ENDS_POSSIBLE: u64 = 1;
const ENDS_FREE: u64 = 2;
const STARTS_BOTH: u64 = 4;
const STARTS_POSSIBLE: u64 = 5;
const STARTS_FREE: u64 = 6;

/// A sweep over slot *start* times. Someone free (or able, if need be) during `[s, e)` within
/// bounds can attend any slot starting in `[s, e - duration]`; each participant's ranges are
/// disjoint, so overlapping ranges count people. Someone with no if-need-be time has the same
/// free and possible ranges, pushed once as "both".
fn best_effort(latest: &BTreeMap<ParticipantId, &Answer>, bounds: Interval, duration: i64) -> Option<BestEffort> {
    let base = bounds.start().0;
    let possible: Vec<std::borrow::Cow<'_, IntervalSet>> = latest.values().map(|answer| answer.possible()).collect();
    let mut events: Vec<u64> = Vec::new();
    let mut push_ranges = |set: &IntervalSet, starts: u64, ends: u64| {
        for range in set.clipped(bounds).filter(|range| range.minutes() >= duration) {
            // Inside the bounds: never before `base`.
            let offset = |minute: i64| (minute - base) as u64;
            events.push((offset(range.start().0) << 3) | starts);
            events.push((offset(range.end().0 - duration + 1) << 3) | ends);
        }
    };
    for (answer, possible) in latest.values().zip(&possible) {
        if answer.if_need_be.is_empty() {
            push_ranges(&answer.availability, STARTS_BOTH, ENDS_BOTH);
        } else {
            push_ranges(&answer.availability, STARTS_FREE, ENDS_FREE);
            push_ranges(possible, STARTS_POSSIBLE, ENDS_POSSIBLE);
        }
    }
    let best_start = Minute(base + i64::try_from(earliest_best(events)?).ok()?);

    let slot = Interval::starting_at(best_start, duration)?;
    let mut best = BestEffort { slot, available: Vec::new(), if_need_be: Vec::new(), unavailable: Vec::new() };
    for ((id, answer), possible) in latest.iter().zip(&possible) {
        if answer.availability.covers(slot) {
            best.available.push(*id);
        } else if possible.covers(slot) {
            best.if_need_be.push(*id);
        } else {
            best.unavailable.push(*id);
        }
    }
    Some(best)
}

/// How an event moves (can come, free).
fn delta(kind: u64) -> (i32, i32) {
    match kind {
        ENDS_BOTH => (-1, -1),
        ENDS_POSSIBLE => (-1, 0),
        ENDS_FREE => (0, -1),
        STARTS_BOTH => (1, 1),
        STARTS_POSSIBLE => (1, 0),
        _ => (0, 1),
    }
}

/// The earliest offset with the most people able to come, then the most of them free; `None`
/// when nobody can come. When the offsets span no more minutes than there are events (the
/// usual case: answers within weeks), the deltas are summed per minute in one array and no sort
/// is needed; otherwise the events are sorted.
fn earliest_best(events: Vec<u64>) -> Option<u64> {
    let span = usize::try_from(events.iter().max()? >> 3).ok()?.checked_add(1)?;
    if span <= events.len().max(1 << 16) { summed_best(&events, span) } else { sorted_best(events) }
}

/// [`earliest_best`] over an array of per-minute deltas `span` long.
fn summed_best(events: &[u64], span: usize) -> Option<u64> {
    let mut deltas = vec![(0i32, 0i32); span];
    for &key in events {
        let (can_delta, free_delta) = delta(key & 7);
        let at = &mut deltas[(key >> 3) as usize];
        (at.0, at.1) = (at.0 + can_delta, at.1 + free_delta);
    }
    best_of(deltas.into_iter().enumerate().map(|(offset, step)| (offset as u64, step)))
}

/// [`earliest_best`] over the events sorted.
fn sorted_best(mut events: Vec<u64>) -> Option<u64> {
    radix_sort(&mut events);
    let steps = events.chunk_by(|a, b| a >> 3 == b >> 3).map(|same_minute| {
        let step = same_minute.iter().map(|&key| delta(key & 7)).fold((0, 0), |(c, f), (dc, df)| (c + dc, f + df));
        (same_minute[0] >> 3, step)
    });
    best_of(steps)
}

/// The first offset where the running (can come, free) is highest, from each offset's change.
fn best_of(steps: impl Iterator<Item = (u64, (i32, i32))>) -> Option<u64> {
    let (mut counts, mut best, mut best_offset) = ((0i32, 0i32), (0i32, 0i32), None);
    for (offset, (can_delta, free_delta)) in steps {
        counts = (counts.0 + can_delta, counts.1 + free_delta);
        if counts > best {
            (best, best_offset) = (counts, Some(offset));
        }
    }
    best_offset
}

/// Sorts `keys` by least-significant-digit radix sort, 11 bits a pass and only as many passes
/// as the largest key needs: the sweep's keys span minutes after the bounds' start (three
/// passes for centuries), where a comparison sort of hundreds of thousands of keys took most of
/// `outcome()`'s time.
fn radix_sort(keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    let Some(&largest) = keys.iter().max() else { return };
    let mut buffer = vec![0u64; keys.len()];
    let mut shift = 0;
    while shift < u64::BITS && largest >> shift != 0 {
        let digit = |key: u64| ((key >> shift) as usize) & (BUCKETS - 1);
        let mut starts = [0usize; BUCKETS];
        for &key in keys.iter() {
            starts[digit(key)] += 1;
        }
        let mut total = 0;
        for start in &mut starts {
            (*start, total) = (total, total + *start);
        }
        for &key in keys.iter() {
            let bucket = &mut starts[digit(key)];
            buffer[*bucket] = key;
            *bucket += 1;
        }
        std::mem::swap(keys, &mut buffer);
        shift += BITS;
    }
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
    fn the_radix_sort_sorts() {
        let mut keys: Vec<u64> = (0..5000u64).map(|i| (i * 2_654_435_761) % 1_000_000_007).chain([0, u64::MAX, 1 << 40]).collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        radix_sort(&mut keys);
        assert_eq!(keys, expected);
    }

    #[test]
    fn summing_per_minute_and_sorting_find_the_same_best_start() {
        let mut seed = 0x9e37_79b9_u64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for _ in 0..200 {
            // Ranges as the sweep makes them: a start and a later end of one kind pair.
            let mut events = Vec::new();
            for _ in 0..next(40) {
                let (start, length) = (next(500), 1 + next(100));
                let (starts, ends) = [(STARTS_BOTH, ENDS_BOTH), (STARTS_POSSIBLE, ENDS_POSSIBLE), (STARTS_FREE, ENDS_FREE)][next(3) as usize];
                events.push((start << 3) | starts);
                events.push(((start + length) << 3) | ends);
            }
            let span = events.iter().max().map_or(0, |&largest| (largest >> 3) as usize + 1);
            assert_eq!(summed_best(&events, span), sorted_best(events.clone()), "{events:?}");
        }
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
