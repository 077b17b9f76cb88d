//! The heatmap: how many of the participants who answered are free, over time, as the step
//! function the page draws. Computed once per change (it is part of the page snapshot).

use app::events::{HeatSegment, Heatmap};
use scheduling::{IntervalSet, Minute};

/// How many of `answers` are free over time, as the step function the heatmap draws.
pub(super) fn heatmap<'a>(answers: impl Iterator<Item = &'a IntervalSet>) -> Heatmap {
    let mut answered = 0u32;
    // +1 where an interval starts, -1 where it ends; each answer's intervals are disjoint.
    let mut steps: Vec<(Minute, i64)> = Vec::new();
    for set in answers {
        answered += 1;
        for interval in set.intervals() {
            steps.push((interval.start(), 1));
            steps.push((interval.end(), -1));
        }
    }
    steps.sort_unstable();
    let mut segments: Vec<HeatSegment> = Vec::new();
    let mut free = 0i64;
    for pair in steps.chunk_by(|a, b| a.0 == b.0).collect::<Vec<_>>().windows(2) {
        free += pair[0].iter().map(|step| step.1).sum::<i64>();
        let (start, end) = (pair[0][0].0, pair[1][0].0);
        let count = u32::try_from(free).unwrap_or_default();
        match segments.last_mut() {
            _ if count == 0 => {}
            Some(last) if last.end == start.to_utc() && last.free == count => last.end = end.to_utc(),
            _ => segments.push(HeatSegment { start: start.to_utc(), end: end.to_utc(), free: count }),
        }
    }
    Heatmap { answered, segments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduling::Interval;

    fn set(spans: &[(i64, i64)]) -> IntervalSet {
        spans.iter().map(|&(start, end)| Interval::new(Minute(start), Minute(end)).unwrap()).collect()
    }

    #[test]
    fn the_heatmap_counts_who_is_free_and_merges_equal_neighbours() {
        let answers = [set(&[(0, 60), (120, 180)]), set(&[(30, 90)]), set(&[(30, 60), (60, 90)]), set(&[])];
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
}
