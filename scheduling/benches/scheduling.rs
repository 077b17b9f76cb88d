//! `cargo bench -p scheduling`: outcome() over 10,000 participants × 20 intervals (target
//! < 10 ms), merging 3 partials of that size, parsing 200 lines. Figures: docs/BENCHMARKS.md.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use scheduling::{outcome, text, Answer, EventSpec, Interval, IntervalSet, Minute, ParticipantId, Partial};

const PARTICIPANTS: u64 = 10_000;
const INTERVALS: i64 = 20;

/// A deterministic pseudo-random generator (xorshift), so every run measures the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self, bound: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as i64
    }
}

fn deadline() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 1, 8, 0, 0).unwrap()
}

/// Each participant: 20 intervals, one per working day over four weeks, 1–8 hours long.
/// With `shared_hour`, everyone is also free 12:00–13:00 on the first Monday (a Scheduled
/// outcome); without it the answers rarely all overlap (NoSolution, the slower path).
fn answers(shared_hour: bool) -> Vec<Answer> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let day0 = Minute::floor(deadline());
    (0..PARTICIPANTS)
        .map(|id| {
            let mut intervals: Vec<Interval> = (0..INTERVALS)
                .map(|day| {
                    let start = day0.plus(day * 1440 + 60 * rng.next(10));
                    Interval::starting_at(start, 60 + 60 * rng.next(8)).unwrap()
                })
                .collect();
            if shared_hour {
                intervals.push(Interval::starting_at(day0.plus(4 * 60), 60).unwrap());
            }
            Answer { participant: ParticipantId(id), version: 1, availability: IntervalSet::from_intervals(intervals) }
        })
        .collect()
}

fn bench_outcome(c: &mut Criterion) {
    let spec = EventSpec::new(deadline(), 60, None).unwrap();
    let scheduled = answers(true);
    let no_solution = answers(false);
    assert!(matches!(outcome(&spec, &scheduled), scheduling::Outcome::Scheduled { .. }));
    assert!(matches!(outcome(&spec, &no_solution), scheduling::Outcome::NoSolution { best_effort: Some(_) }));
    c.bench_function("outcome/10k participants x 20 intervals/scheduled", |b| {
        b.iter(|| outcome(black_box(&spec), black_box(&scheduled)))
    });
    c.bench_function("outcome/10k participants x 20 intervals/no common time", |b| {
        b.iter(|| outcome(black_box(&spec), black_box(&no_solution)))
    });
}

fn bench_merge(c: &mut Criterion) {
    let all = answers(true);
    let thirds: Vec<Partial> = all.chunks(all.len().div_ceil(3)).map(|chunk| Partial::from_answers(chunk.iter().cloned())).collect();
    c.bench_function("merge/3 partials of 10k answers in all", |b| {
        b.iter(|| black_box(&thirds).iter().fold(Partial::new(), |acc, partial| acc.merge(partial)))
    });
}

fn bench_parse(c: &mut Criterion) {
    let zone: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let lines: String = (0..200)
        .map(|day| {
            let date = deadline().date_naive() + chrono::Duration::days(day);
            format!("{date} 09:00 - {date} 17:30\n")
        })
        .collect();
    assert_eq!(text::parse(&lines, zone).unwrap().intervals().len(), 200);
    c.bench_function("parse/200 lines", |b| b.iter(|| text::parse(black_box(&lines), zone)));
}

criterion_group!(benches, bench_outcome, bench_merge, bench_parse);
criterion_main!(benches);
