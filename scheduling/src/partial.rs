//! A node's summary of the answers it holds for one event: the latest answer per participant
//! and their running intersections (free, and free or if need be). Partials from several nodes [`merge`](Partial::merge) into
//! one from which the coordinator decides the event; merging is commutative, associative and
//! idempotent, so retries and duplicated messages cannot change an outcome.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::{decide, intersect_free, intersect_possible, Outcome};
use crate::spec::{Answer, EventSpec, ParticipantId};
use crate::time::IntervalSet;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    answers: BTreeMap<ParticipantId, Answer>,
    /// Intersections of every held answer; `None` while no answer is held (the identity).
    intersection: Option<Common>,
}

/// The minutes every held answer is free, and those every one can make (free or if need be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Common {
    free: IntervalSet,
    possible: IntervalSet,
}

impl Common {
    fn of(answer: &Answer) -> Self {
        Self { free: answer.availability.clone(), possible: answer.possible().into_owned() }
    }

    fn narrowed_by(self, answer: &Answer) -> Self {
        Self { free: self.free.intersection(&answer.availability), possible: self.possible.intersection(&answer.possible()) }
    }

    fn intersection(&self, other: &Common) -> Self {
        Self { free: self.free.intersection(&other.free), possible: self.possible.intersection(&other.possible) }
    }
}

impl Partial {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_answers(answers: impl IntoIterator<Item = Answer>) -> Self {
        let mut partial = Self::new();
        for answer in answers {
            partial.put(answer);
        }
        partial
    }

    /// Adds or replaces a participant's answer; an older or equal version changes nothing.
    /// Returns whether the partial changed.
    pub fn put(&mut self, answer: Answer) -> bool {
        match self.answers.get(&answer.participant) {
            Some(held) if held.version >= answer.version => false,
            Some(_) => {
                self.answers.insert(answer.participant, answer);
                self.recompute_intersection();
                true
            }
            None => {
                self.intersection = Some(match self.intersection.take() {
                    Some(common) => common.narrowed_by(&answer),
                    None => Common::of(&answer),
                });
                self.answers.insert(answer.participant, answer);
                true
            }
        }
    }

    /// Drops a participant's answer (they left the event). Returns whether one was held.
    pub fn withdraw(&mut self, participant: ParticipantId) -> bool {
        let removed = self.answers.remove(&participant).is_some();
        if removed {
            self.recompute_intersection();
        }
        removed
    }

    /// Combines two partials, keeping the highest version per participant.
    pub fn merge(mut self, other: &Partial) -> Partial {
        let versions_agree = other
            .answers
            .iter()
            .all(|(id, answer)| self.answers.get(id).is_none_or(|held| held.version == answer.version));
        if versions_agree {
            // Same answers where they overlap: intersecting the intersections is exact.
            self.intersection = match (self.intersection.take(), &other.intersection) {
                (Some(mine), Some(theirs)) => Some(mine.intersection(theirs)),
                (mine, theirs) => mine.or_else(|| theirs.clone()),
            };
            for (id, answer) in &other.answers {
                self.answers.entry(*id).or_insert_with(|| answer.clone());
            }
        } else {
            for answer in other.answers.values() {
                if self.answers.get(&answer.participant).is_none_or(|held| held.version < answer.version) {
                    self.answers.insert(answer.participant, answer.clone());
                }
            }
            self.recompute_intersection();
        }
        self
    }

    pub fn answers(&self) -> impl Iterator<Item = &Answer> {
        self.answers.values()
    }

    /// The held version of each participant's answer.
    pub fn versions(&self) -> impl Iterator<Item = (ParticipantId, u64)> + '_ {
        self.answers.iter().map(|(id, answer)| (*id, answer.version))
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The outcome over the held answers; equal to [`crate::outcome`] over them, but reuses the
    /// running intersections.
    pub fn outcome(&self, spec: &EventSpec) -> Outcome {
        let latest = self.answers.iter().map(|(id, answer)| (*id, answer)).collect();
        let empty = IntervalSet::new();
        let (free, possible) = self.intersection.as_ref().map_or((&empty, &empty), |common| (&common.free, &common.possible));
        decide(spec, &latest, free, || possible.clone())
    }

    fn recompute_intersection(&mut self) {
        self.intersection = intersect_free(self.answers.values())
            .zip(intersect_possible(self.answers.values()))
            .map(|(free, possible)| Common { free, possible });
    }
}
