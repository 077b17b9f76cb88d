//! The seed text format: one interval per line, `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm`, in a
//! given IANA time zone. A line ending in `?` (after optional spaces) is time the participant
//! could make only if need be; where it overlaps a free line, free counts. Blank lines are
//! ignored. Parsing is all or nothing: any bad line makes
//! the whole text an error, listing the bad lines (the first [`MAX_REPORTED_ERRORS`]) with
//! what is wrong.
//!
//! Local times that a time-zone change makes odd follow RFC 5545 (iCalendar), as calendars do:
//! - a time that occurs twice (clocks go back) means its **first** occurrence;
//! - a time that does not exist (clocks go forward) is read with the offset in force **before**
//!   the gap, so `02:30` on a spring-forward night where 02:00 jumps to 03:00 means `03:30`.

use std::fmt;

use chrono::{Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::spec::Availability;
use crate::time::{Interval, IntervalSet, Minute};

/// Most intervals one answer may hold.
pub const MAX_INTERVALS: usize = 200;
/// The longest text read at all (200 lines of 33 characters fit many times over); longer
/// texts are refused before parsing.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Bad lines reported at most: the parser stops at this many, so a large bad text costs a
/// short error, not one message per line.
pub const MAX_REPORTED_ERRORS: usize = 20;

const LOCAL_FORMAT: &str = "%Y-%m-%d %H:%M";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorKind {
    #[error("expected `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm`, and `?` after it for if need be")]
    Unparseable,
    #[error("the end is not after the start")]
    EndNotAfterStart,
    #[error("more than {MAX_INTERVALS} intervals")]
    TooManyIntervals,
    #[error("outside the supported dates (years 2000 to 2199)")]
    OutOfRange,
}

/// What is wrong with one line (numbered from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct LineError {
    pub line: usize,
    pub kind: LineErrorKind,
}

/// Every bad line of a text, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextErrors(pub Vec<LineError>);

impl fmt::Display for TextErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl std::error::Error for TextErrors {}

/// Parses `text` in `zone` into normalized sets (overlaps merge, they are not errors).
pub fn parse(text: &str, zone: Tz) -> Result<Availability, TextErrors> {
    let (mut free, mut if_need_be) = (Vec::new(), Vec::new());
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if free.len() + if_need_be.len() == MAX_INTERVALS {
            errors.push(LineError { line: line_number, kind: LineErrorKind::TooManyIntervals });
            break;
        }
        let (line, maybe) = match line.trim_end().strip_suffix('?') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        match parse_line(line, zone) {
            Ok(interval) if maybe => if_need_be.push(interval),
            Ok(interval) => free.push(interval),
            Err(kind) => errors.push(LineError { line: line_number, kind }),
        }
        if errors.len() == MAX_REPORTED_ERRORS {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(TextErrors(errors));
    }
    Ok(Availability::new(IntervalSet::from_intervals(free), IntervalSet::from_intervals(if_need_be)))
}

fn parse_line(line: &str, zone: Tz) -> Result<Interval, LineErrorKind> {
    let (start, end) = line.trim().split_once(" - ").ok_or(LineErrorKind::Unparseable)?;
    let start = parse_local(start.trim(), zone)?;
    let end = parse_local(end.trim(), zone)?;
    Interval::new(start, end).ok_or(LineErrorKind::EndNotAfterStart)
}

fn parse_local(text: &str, zone: Tz) -> Result<Minute, LineErrorKind> {
    // chrono accepts a 1-digit hour for %H; the format says two digits everywhere.
    if text.len() != "YYYY-MM-DD HH:mm".len() {
        return Err(LineErrorKind::Unparseable);
    }
    let local = NaiveDateTime::parse_from_str(text, LOCAL_FORMAT).map_err(|_| LineErrorKind::Unparseable)?;
    let minute = Minute::floor(resolve_local(local, zone).ok_or(LineErrorKind::OutOfRange)?);
    if minute.is_supported() { Ok(minute) } else { Err(LineErrorKind::OutOfRange) }
}

/// The UTC instant a wall-clock time in `zone` means, by the RFC 5545 rule above.
pub fn resolve_local(local: NaiveDateTime, zone: Tz) -> Option<chrono::DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // In a gap: find the offset in force just before it (gaps last at most a few hours).
            (1..=24 * 60).find_map(|minutes_back| match zone.from_local_datetime(&(local - Duration::minutes(minutes_back))) {
                LocalResult::Single(before) => {
                    use chrono::Offset;
                    let offset = before.offset().fix();
                    Some((local - offset).and_utc())
                }
                _ => None,
            })
        }
    }
}

/// Prints `availability` in `zone`, one interval per line in time order, if-need-be ones
/// with ` ?`. Parsing the result in the same zone gives it back, except for instants in a
/// repeated hour, which print as a wall-clock time that parses to its first occurrence.
pub fn print(availability: &Availability, zone: Tz) -> String {
    let mut lines: Vec<(Interval, bool)> = availability.free.intervals().iter().map(|&interval| (interval, false)).collect();
    lines.extend(availability.if_need_be.intervals().iter().map(|&interval| (interval, true)));
    lines.sort_unstable();
    let local = |minute: Minute| minute.to_utc().with_timezone(&zone).format(LOCAL_FORMAT).to_string();
    let mut text = String::new();
    for (interval, maybe) in lines {
        let mark = if maybe { " ?" } else { "" };
        text.push_str(&format!("{} - {}{mark}\n", local(interval.start()), local(interval.end())));
    }
    text
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn zone(name: &str) -> Tz {
        name.parse().unwrap()
    }

    fn utc_minute(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Minute {
        Minute::floor(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
    }

    #[test]
    fn parses_lines_in_the_given_zone_and_merges_overlaps() {
        let text = "2030-01-07 09:00 - 2030-01-07 12:00\n\n  2030-01-07 11:00 - 2030-01-07 13:30  \n";
        let set = parse(text, zone("Europe/Berlin")).unwrap().free;
        // Berlin is UTC+1 in January.
        assert_eq!(set.intervals(), &[Interval::new(utc_minute(2030, 1, 7, 8, 0), utc_minute(2030, 1, 7, 12, 30)).unwrap()]);
    }

    #[test]
    fn a_text_of_bad_lines_reports_only_the_first_few() {
        let text = "not a time\n".repeat(10_000);
        let errors = parse(&text, zone("UTC")).unwrap_err();
        assert_eq!(errors.0.len(), MAX_REPORTED_ERRORS);
        assert_eq!(errors.0.last().unwrap().line, MAX_REPORTED_ERRORS);
    }

    #[test]
    fn each_bad_line_is_named_and_nothing_is_applied() {
        let text = "2030-01-07 09:00 - 2030-01-07 12:00\n\
                    tomorrow at nine\n\
                    2030-01-07 12:00 - 2030-01-07 12:00\n\
                    2030-01-07 13:00 - 2030-01-07 12:00\n\
                    2030-02-30 09:00 - 2030-02-30 10:00\n\
                    1999-12-31 09:00 - 1999-12-31 10:00\n\
                    2030-01-07 9:00 - 2030-01-07 10:00";
        let errors = parse(text, zone("UTC")).unwrap_err();
        assert_eq!(
            errors.0,
            vec![
                LineError { line: 2, kind: LineErrorKind::Unparseable },
                LineError { line: 3, kind: LineErrorKind::EndNotAfterStart },
                LineError { line: 4, kind: LineErrorKind::EndNotAfterStart },
                LineError { line: 5, kind: LineErrorKind::Unparseable },
                LineError { line: 6, kind: LineErrorKind::OutOfRange },
                LineError { line: 7, kind: LineErrorKind::Unparseable },
            ]
        );
        assert_eq!(errors.0[0].to_string(), "line 2: expected `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm`, and `?` after it for if need be");
    }

    #[test]
    fn more_than_200_intervals_is_an_error_at_line_201() {
        let line = "2030-01-07 09:00 - 2030-01-07 10:00\n";
        assert!(parse(&line.repeat(200), zone("UTC")).is_ok());
        let errors = parse(&line.repeat(201), zone("UTC")).unwrap_err();
        assert_eq!(errors.0, vec![LineError { line: 201, kind: LineErrorKind::TooManyIntervals }]);
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_uses_the_offset_before_it() {
        // Berlin, 2030-03-31: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        let set = parse("2030-03-31 02:30 - 2030-03-31 04:00", zone("Europe/Berlin")).unwrap().free;
        let interval = set.intervals()[0];
        assert_eq!(interval.start(), utc_minute(2030, 3, 31, 1, 30), "02:30 at +01:00, i.e. 03:30 CEST");
        assert_eq!(interval.end(), utc_minute(2030, 3, 31, 2, 0));
    }

    #[test]
    fn a_repeated_time_in_the_fall_back_overlap_is_its_first_occurrence() {
        // Berlin, 2030-10-27: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
        let set = parse("2030-10-27 02:30 - 2030-10-27 05:00", zone("Europe/Berlin")).unwrap().free;
        assert_eq!(set.intervals()[0].start(), utc_minute(2030, 10, 27, 0, 30), "the first 02:30 is at +02:00");
    }

    #[test]
    fn print_then_parse_round_trips() {
        let berlin = zone("Europe/Berlin");
        let set: IntervalSet = [
            Interval::new(utc_minute(2030, 1, 7, 8, 0), utc_minute(2030, 1, 7, 9, 15)).unwrap(),
            Interval::new(utc_minute(2030, 6, 1, 22, 0), utc_minute(2030, 6, 2, 1, 0)).unwrap(),
        ]
        .into_iter()
        .collect();
        let maybe: IntervalSet = [Interval::new(utc_minute(2030, 1, 7, 12, 0), utc_minute(2030, 1, 7, 13, 0)).unwrap()].into_iter().collect();
        let answer = Availability::new(set, maybe);
        let printed = print(&answer, berlin);
        assert_eq!(printed, "2030-01-07 09:00 - 2030-01-07 10:15\n2030-01-07 13:00 - 2030-01-07 14:00 ?\n2030-06-02 00:00 - 2030-06-02 03:00\n");
        assert_eq!(parse(&printed, berlin).unwrap(), answer);
    }

    #[test]
    fn a_trailing_question_mark_is_if_need_be_and_free_wins_where_they_overlap() {
        let text = "2030-01-07 09:00 - 2030-01-07 12:00\n2030-01-07 11:00 - 2030-01-07 14:00?\n2030-01-07 15:00 - 2030-01-07 16:00   ?  \n";
        let answer = parse(text, zone("UTC")).unwrap();
        let iv = |h1, h2| Interval::new(utc_minute(2030, 1, 7, h1, 0), utc_minute(2030, 1, 7, h2, 0)).unwrap();
        assert_eq!(answer.free.intervals(), &[iv(9, 12)]);
        assert_eq!(answer.if_need_be.intervals(), &[iv(12, 14), iv(15, 16)]);
        // `?` alone, or twice, is not a time.
        let errors = parse("?\n2030-01-07 09:00 - 2030-01-07 12:00 ??", zone("UTC")).unwrap_err();
        assert_eq!(errors.0.iter().map(|error| error.line).collect::<Vec<_>>(), vec![1, 2]);
    }
}
