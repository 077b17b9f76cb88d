//! `cargo bench -p scheduling`: outcome() over 10,000 participants × 20 intervals (target
//! < 10 ms), free only and with a quarter of them if need be, merging 3 partials of that size,
//! parsing 200 lines. Figures: docs/BENCHMARKS.md.

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

/// Each participant: 20 intervals, one per working day over four weeks, 1–8 hours long; with
/// `if_need_be`, every fourth of them (and the shared hour, for every other person) is if need
/// be. With `shared_hour`, everyone can also come 12:00–13:00 on the first Monday (a Scheduled
/// outcome); without it the answers rarely all overlap (NoSolution, the slower path).
fn answers(shared_hour: bool, if_need_be: bool) -> Vec<Answer> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let day0 = Minute::floor(deadline());
    (0..PARTICIPANTS)
        .map(|id| {
            let (mut free, mut maybe) = (Vec::new(), Vec::new());
            for day in 0..INTERVALS {
                let start = day0.plus(day * 1440 + 60 * rng.next(10));
                let interval = Interval::starting_at(start, 60 + 60 * rng.next(8)).unwrap();
                if if_need_be && day % 4 == 3 { maybe.push(interval) } else { free.push(interval) }
            }
            if shared_hour {
                let hour = Interval::starting_at(day0.plus(4 * 60), 60).unwrap();
                if if_need_be && id % 2 == 1 { maybe.push(hour) } else { free.push(hour) }
            }
            Answer::new(ParticipantId(id), 1, IntervalSet::from_intervals(free), IntervalSet::from_intervals(maybe))
        })
        .collect()
}

fn bench_outcome(c: &mut Criterion) {
    let spec = EventSpec::new(deadline(), 60, None).unwrap();
    use scheduling::Outcome::{NoSolution, Scheduled};
    let scheduled = answers(true, false);
    let no_solution = answers(false, false);
    let scheduled_if_need_be = answers(true, true);
    let no_solution_if_need_be = answers(false, true);
    assert!(matches!(outcome(&spec, &scheduled), Scheduled { ref if_need_be, .. } if if_need_be.is_empty()));
    assert!(matches!(outcome(&spec, &no_solution), NoSolution { best_effort: Some(_) }));
    assert!(matches!(outcome(&spec, &scheduled_if_need_be), Scheduled { ref if_need_be, .. } if !if_need_be.is_empty()));
    assert!(matches!(outcome(&spec, &no_solution_if_need_be), NoSolution { best_effort: Some(ref best) } if !best.if_need_be.is_empty()));
    for (name, answers) in [
        ("scheduled", &scheduled),
        ("no common time", &no_solution),
        ("scheduled if need be", &scheduled_if_need_be),
        ("no common time, a quarter if need be", &no_solution_if_need_be),
    ] {
        c.bench_function(&format!("outcome/10k participants x 20 intervals/{name}"), |b| {
            b.iter(|| outcome(black_box(&spec), black_box(answers)))
        });
    }
}

fn bench_merge(c: &mut Criterion) {
    let all = answers(true, true);
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
    assert_eq!(text::parse(&lines, zone).unwrap().free.intervals().len(), 200);
    c.bench_function("parse/200 lines", |b| b.iter(|| text::parse(black_box(&lines), zone)));
}

criterion_group!(benches, bench_outcome, bench_merge, bench_parse);
criterion_main!(benches);
