//! Property tests: `outcome()` (free, if need be, best effort) against a deliberately naive
//! minute-by-minute oracle, and the partial-merge law (any split, order, grouping and duplication gives the same outcome).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use scheduling::{outcome, Answer, BestEffort, EventSpec, Interval, IntervalSet, Minute, Outcome, ParticipantId, Partial};

/// All generated times fall within HORIZON minutes after the origin.
const HORIZON: i64 = 600;

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap()
}

fn at(minutes: i64) -> Minute {
    Minute::floor(origin()).plus(minutes)
}

fn interval_strategy() -> impl Strategy<Value = Interval> {
    (0..HORIZON, 1..180i64).prop_map(|(start, length)| Interval::new(at(start), at((start + length).min(HORIZON + 1))).unwrap())
}

fn intervals(max: usize) -> impl Strategy<Value = IntervalSet> {
    prop::collection::vec(interval_strategy(), 0..max).prop_map(IntervalSet::from_intervals)
}

/// 1–6 participants, each with 0–5 free intervals (possibly overlapping or touching) and
/// 0–3 if-need-be ones (possibly overlapping the free ones: free counts), and for some an
/// older, different version too.
fn answers_strategy() -> impl Strategy<Value = Vec<Answer>> {
    prop::collection::vec(((intervals(5), intervals(3)), prop::option::of((intervals(3), intervals(2)))), 1..6).prop_map(|people| {
        let mut answers = Vec::new();
        for (index, ((free, maybe), older)) in people.into_iter().enumerate() {
            let participant = ParticipantId(index as u64 * 7 + 3);
            if let Some((free, maybe)) = older {
                answers.push(Answer { participant, version: 1, availability: free, if_need_be: maybe });
            }
            answers.push(Answer { participant, version: 2, availability: free, if_need_be: maybe });
        }
        answers
    })
}

fn spec_strategy() -> impl Strategy<Value = EventSpec> {
    (0..HORIZON * 60, 5..=150u32, prop::option::of((0..HORIZON, 0..HORIZON)))
        .prop_filter_map("valid spec", |(deadline_seconds, duration, window)| {
            let deadline = origin() + chrono::Duration::seconds(deadline_seconds);
            let window = window.and_then(|(a, b)| Interval::new(at(a.min(b)), at(a.max(b))));
            EventSpec::new(deadline, duration, window).ok()
        })
}

fn minutes(set: &IntervalSet) -> BTreeSet<i64> {
    set.intervals().iter().flat_map(|i| i.start().0..i.end().0).collect()
}

/// Per participant (latest version): the minutes they are free, and those they can make at
/// all (free or if need be), as plain sets of minute numbers.
fn oracle_people(answers: &[Answer]) -> Vec<(ParticipantId, BTreeSet<i64>, BTreeSet<i64>)> {
    let mut latest: Vec<&Answer> = Vec::new();
    for answer in answers {
        match latest.iter_mut().find(|held| held.participant == answer.participant) {
            Some(held) if held.version < answer.version => *held = answer,
            Some(_) => {}
            None => latest.push(answer),
        }
    }
    latest.sort_by_key(|answer| answer.participant);
    latest
        .into_iter()
        .map(|answer| {
            let free = minutes(&answer.availability);
            let possible = free.union(&minutes(&answer.if_need_be)).copied().collect();
            (answer.participant, free, possible)
        })
        .collect()
}

/// Minute by minute, with no cleverness: try every start time in order, first with everyone
/// free, then with everyone free or if need be, then score every start.
fn oracle(spec: &EventSpec, answers: &[Answer]) -> Outcome {
    let people = oracle_people(answers);
    if people.is_empty() {
        return Outcome::Undefined;
    }
    let duration = i64::from(spec.duration_minutes());
    let first = spec.earliest_start().0;
    // Nobody is free past the horizon, so searching further cannot find anything.
    let last_end = spec.window().map_or(at(HORIZON + 1).0, |w| w.end().0.min(at(HORIZON + 1).0));
    let has = |minutes: &BTreeSet<i64>, start: i64| (start..start + duration).all(|m| minutes.contains(&m));
    let slot_at = |start: i64| Interval::starting_at(Minute(start), duration).unwrap();
    let common_of = |everyone: Vec<i64>| everyone.iter().map(|&m| Interval::starting_at(Minute(m), 1).unwrap()).collect();

    for tier_possible in [false, true] {
        let pick = |person: &(ParticipantId, BTreeSet<i64>, BTreeSet<i64>)| if tier_possible { person.2.clone() } else { person.1.clone() };
        let sets: Vec<BTreeSet<i64>> = people.iter().map(pick).collect();
        for start in first..=last_end - duration {
            if sets.iter().all(|set| has(set, start)) {
                let everyone = (first..last_end).filter(|m| sets.iter().all(|set| set.contains(m))).collect();
                let if_need_be = people.iter().filter(|(_, free, _)| !has(free, start)).map(|(id, ..)| *id).collect();
                return Outcome::Scheduled { slot: slot_at(start), common: common_of(everyone), if_need_be };
            }
        }
    }
    let mut best: Option<((usize, usize), i64)> = None;
    for start in first..=last_end - duration {
        let can = people.iter().filter(|(_, _, possible)| has(possible, start)).count();
        let free = people.iter().filter(|(_, free, _)| has(free, start)).count();
        if can > 0 && best.is_none_or(|(score, _)| (can, free) > score) {
            best = Some(((can, free), start));
        }
    }
    Outcome::NoSolution {
        best_effort: best.map(|(_, start)| {
            let mut best = BestEffort { slot: slot_at(start), available: vec![], if_need_be: vec![], unavailable: vec![] };
            for (id, free, possible) in &people {
                if has(free, start) {
                    best.available.push(*id);
                } else if has(possible, start) {
                    best.if_need_be.push(*id);
                } else {
                    best.unavailable.push(*id);
                }
            }
            best
        }),
    }
}

// `outcome()` over a window that reaches past the horizon reports `common` up to the window
// end; the oracle only looks to the horizon. Nobody is free past it, so they agree exactly.
proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn outcome_matches_the_minute_by_minute_oracle(spec in spec_strategy(), answers in answers_strategy()) {
        prop_assert_eq!(outcome(&spec, &answers), oracle(&spec, &answers));
    }

    #[test]
    fn merging_partials_of_any_split_gives_the_same_outcome(
        spec in spec_strategy(),
        answers in answers_strategy(),
        assignment in prop::collection::vec((0..4usize, any::<bool>()), 12),
        merge_order in Just(()).prop_perturb(|_, mut rng| { let mut order: Vec<usize> = (0..4).collect(); for i in (1..4).rev() { order.swap(i, (rng.next_u32() as usize) % (i + 1)); } order }),
        grouped in any::<bool>(),
    ) {
        let direct = outcome(&spec, &answers);
        // Deal answers to 4 nodes; some also to a second node (a duplicate delivery).
        let mut nodes: Vec<Vec<Answer>> = vec![Vec::new(); 4];
        for (index, answer) in answers.iter().enumerate() {
            let (node, duplicate) = assignment[index % assignment.len()];
            nodes[node].push(answer.clone());
            if duplicate {
                nodes[(node + 1) % 4].push(answer.clone());
            }
        }
        let partials: Vec<Partial> = nodes.into_iter().map(Partial::from_answers).collect();
        let ordered: Vec<&Partial> = merge_order.iter().map(|&i| &partials[i]).collect();
        let merged = if grouped {
            // ((p0 + p1) + (p2 + p3)): a different grouping.
            let left = ordered[0].clone().merge(ordered[1]);
            let right = ordered[2].clone().merge(ordered[3]);
            left.merge(&right)
        } else {
            ordered.iter().fold(Partial::new(), |acc, partial| acc.merge(partial))
        };
        prop_assert_eq!(merged.outcome(&spec), direct.clone());
        // Merging again (a retried gather) changes nothing.
        prop_assert_eq!(merged.clone().merge(&partials[0]).outcome(&spec), direct);
    }

    #[test]
    fn set_operations_match_minute_sets(a in prop::collection::vec(interval_strategy(), 0..6), b in prop::collection::vec(interval_strategy(), 0..6), window in interval_strategy()) {
        let (set_a, set_b) = (IntervalSet::from_intervals(a), IntervalSet::from_intervals(b));
        let (ma, mb) = (minutes(&set_a), minutes(&set_b));
        prop_assert_eq!(minutes(&set_a.union(&set_b)), ma.union(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(minutes(&set_a.intersection(&set_b)), ma.intersection(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(minutes(&set_a.difference(&set_b)), ma.difference(&mb).copied().collect::<BTreeSet<_>>());
        for pair in set_a.difference(&set_b).intervals().windows(2) {
            prop_assert!(pair[0].end() < pair[1].start());
        }
        let window_minutes: BTreeSet<i64> = (window.start().0..window.end().0).collect();
        prop_assert_eq!(minutes(&set_a.clip(window)), ma.intersection(&window_minutes).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(set_a.total_minutes() as usize, ma.len());
        // Normalized: sorted, and neither overlapping nor touching.
        for pair in set_a.intervals().windows(2) {
            prop_assert!(pair[0].end() < pair[1].start());
        }
        // Normalization makes equal minute sets equal values.
        prop_assert_eq!(set_a.union(&set_b), set_b.union(&set_a));
    }
}
