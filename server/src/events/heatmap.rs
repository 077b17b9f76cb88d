//! The heatmap: how many of the participants who answered are free, and how many more could
//! come if need be, over time, as the step function the page draws. Computed once per change
//! (it is part of the page snapshot).

use app::events::{HeatSegment, Heatmap};
use scheduling::{Availability, Minute};

/// How many of `answers` are free (and free only if need be) over time.
pub(super) fn heatmap<'a>(answers: impl Iterator<Item = &'a Availability>) -> Heatmap {
    let mut answered = 0u32;
    // Where an interval starts and ends, with the change to (free, if need be). Each answer's
    // intervals are disjoint, its free and if-need-be ones too.
    let mut steps: Vec<(Minute, i64, i64)> = Vec::new();
    for answer in answers {
        answered += 1;
        for interval in answer.free.intervals() {
            steps.push((interval.start(), 1, 0));
            steps.push((interval.end(), -1, 0));
        }
        for interval in answer.if_need_be.intervals() {
            steps.push((interval.start(), 0, 1));
            steps.push((interval.end(), 0, -1));
        }
    }
    steps.sort_unstable();
    let mut segments: Vec<HeatSegment> = Vec::new();
    let (mut free, mut maybe) = (0i64, 0i64);
    for pair in steps.chunk_by(|a, b| a.0 == b.0).collect::<Vec<_>>().windows(2) {
        free += pair[0].iter().map(|step| step.1).sum::<i64>();
        maybe += pair[0].iter().map(|step| step.2).sum::<i64>();
        let (start, end) = (pair[0][0].0, pair[1][0].0);
        let (free, if_need_be) = (u32::try_from(free).unwrap_or_default(), u32::try_from(maybe).unwrap_or_default());
        match segments.last_mut() {
            _ if free == 0 && if_need_be == 0 => {}
            Some(last) if last.end == start.to_utc() && (last.free, last.if_need_be) == (free, if_need_be) => last.end = end.to_utc(),
            _ => segments.push(HeatSegment { start: start.to_utc(), end: end.to_utc(), free, if_need_be }),
        }
    }
    Heatmap { answered, segments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduling::{Interval, IntervalSet};

    fn set(spans: &[(i64, i64)]) -> IntervalSet {
        spans.iter().map(|&(start, end)| Interval::new(Minute(start), Minute(end)).unwrap()).collect()
    }

    fn free(spans: &[(i64, i64)]) -> Availability {
        Availability::new(set(spans), IntervalSet::new())
    }

    #[test]
    fn the_heatmap_counts_who_is_free_and_merges_equal_neighbours() {
        let answers = [free(&[(0, 60), (120, 180)]), free(&[(30, 90)]), free(&[(30, 60), (60, 90)]), free(&[])];
        let map = heatmap(answers.iter());
        let spans: Vec<(i64, i64, u32)> = map
            .segments
            .iter()
            .map(|s| (Minute::floor(s.start).0, Minute::floor(s.end).0, s.free))
            .collect();
        assert_eq!(map.answered, 4);
        assert_eq!(spans, vec![(0, 30, 1), (30, 60, 3), (60, 90, 2), (120, 180, 1)]);
        assert_eq!(map.free_throughout(Minute(30).to_utc(), Minute(90).to_utc()), 2);
        assert_eq!(map.free_throughout(Minute(80).to_utc(), Minute(130).to_utc()), 0, "nobody between 90 and 120");
    }

    #[test]
    fn if_need_be_time_is_counted_apart_from_free_time() {
        let answers = [Availability::new(set(&[(0, 60)]), set(&[(60, 120)])), Availability::new(set(&[]), set(&[(30, 90)]))];
        let map = heatmap(answers.iter());
        let spans: Vec<(i64, i64, u32, u32)> =
            map.segments.iter().map(|s| (Minute::floor(s.start).0, Minute::floor(s.end).0, s.free, s.if_need_be)).collect();
        assert_eq!(spans, vec![(0, 30, 1, 0), (30, 60, 1, 1), (60, 90, 0, 2), (90, 120, 0, 1)]);
        let at = |m: i64| Minute(m).to_utc();
        assert_eq!(map.throughout(at(30), at(60)), (1, 2), "one free, both able to come");
        assert_eq!(map.throughout(at(0), at(90)), (0, 1));
        assert_eq!(map.throughout(at(100), at(130)), (0, 0), "nobody after 120");
    }
}
