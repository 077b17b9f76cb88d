//! Busy times from a participant's calendar file (`.ics`, RFC 5545), turned into an answer to
//! review: free wherever the grid offers time and the calendar has nothing, if need be where it
//! has only tentative events, busy where it has anything else.
//!
//! Exports differ: Google and Thunderbird name zones the IANA way, Outlook by Windows names
//! with its own VTIMEZONEs, Apple often with custom ones; exceptions to a series come as
//! separate VEVENTs with a RECURRENCE-ID (and, from Google, a higher SEQUENCE). Reading the
//! file, its zones and its recurrence rules is calcard's (the CalDAV library of the Stalwart
//! server); what counts as busy, and what it costs, is decided here. Nothing of the file is
//! kept: it is read, reduced to intervals, and dropped.
//!
//! Cost is bounded by the file's size (the route's body limit), the number of components, and
//! the occurrences expanded per series and in all. A series is expanded from its first
//! occurrence, so one repeating every minute for years stops at its limit: such series are
//! counted and reported, never silently taken as free.

use std::collections::HashMap;

use calcard::common::timezone::Tz as CalendarZone;
use calcard::icalendar::dates::TimeOrDelta;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFrequency, ICalendarProperty, ICalendarRecurrenceRule, ICalendarStatus, ICalendarTransparency, ICalendarValue,
};
use calcard::{Entry, Parser};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use scheduling::{Availability, Interval, IntervalSet, Minute};

/// VEVENTs (and other components) read from one file.
const MAX_COMPONENTS: usize = 100_000;
/// VTIMEZONEs: each series is expanded with all of them at hand.
const MAX_ZONES: usize = 200;
/// Occurrences expanded per series: a daily one for 130 years.
const SERIES_OCCURRENCES: usize = 50_000;
/// Occurrences expanded in all.
const TOTAL_OCCURRENCES: usize = 1_000_000;
/// Times a day a rule may name (BYHOUR × BYMINUTE × BYSECOND): hourly is the most any
/// exporter writes.
const MAX_TIMES_A_DAY: usize = 24;
/// Time spent expanding series before the file is refused.
const READ_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Content lines, and values in lists, read from one file: the parsed form of a line or a
/// value costs tens of times its bytes, and an 8 MB file of `X:` lines or `RDATE:,,,` would
/// otherwise cost hundreds of MB before any other limit applies. A 5 MB export has about
/// 150,000 lines.
const MAX_LINES: usize = 400_000;
const MAX_LIST_VALUES: usize = 200_000;
/// Parameters on one line (`DTSTART;TZID=…;VALUE=…` has two).
const MAX_PARAMETERS: usize = 64;
/// The longest a busy time is taken to last (a longer one covers any event's time anyway).
const MAX_LENGTH: Duration = Duration::days(400);

/// Why a file gave no busy times.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarFileError {
    #[error("The file is not an iCalendar (.ics) file: {0}")]
    NotCalendar(String),
    #[error("The file has more than {MAX_COMPONENTS} entries; export a shorter time span.")]
    TooManyComponents,
    #[error("The file has more than {MAX_ZONES} time zones.")]
    TooManyZones,
    #[error("The file's repeating events add up to more than {TOTAL_OCCURRENCES} occurrences; export a shorter time span.")]
    TooManyOccurrences,
    #[error("The file takes too long to read; export a shorter time span.")]
    TooComplex,
    #[error("The file has more than {MAX_LINES} lines, {MAX_LIST_VALUES} listed values or {MAX_PARAMETERS} parameters on a line; export a shorter time span.")]
    TooLong,
}

/// How a file is read: in the participant's zone, over the event's time, offering each day's
/// hours from `day_start` to `day_end` (`None`: midnight at the day's end).
pub struct Reading {
    pub zone: chrono_tz::Tz,
    pub span: Interval,
    pub day_start: NaiveTime,
    pub day_end: Option<NaiveTime>,
}

/// The answer `file` suggests, with what was read of it.
pub fn suggest(file: &[u8], reading: &Reading) -> Result<(Availability, Busy), CalendarFileError> {
    let busy = busy_times(file, reading.zone, reading.span)?;
    let offered = offered_time(reading.span, reading.zone, reading.day_start, reading.day_end);
    Ok((suggested_answer(&offered, &busy), busy))
}

/// `answer` cut to its first `max` intervals (free and if need be, in time order), and where
/// it was cut: a busy calendar over weeks leaves more separate times than an answer holds.
pub fn fit(answer: Availability, max: usize) -> (Availability, Option<Minute>) {
    let mut starts: Vec<Minute> = answer.free.intervals().iter().chain(answer.if_need_be.intervals()).map(|interval| interval.start()).collect();
    if starts.len() <= max {
        return (answer, None);
    }
    starts.sort_unstable();
    let (first, cut) = (starts[0], starts[max]);
    let Some(kept) = Interval::new(first, cut) else { return (Availability::default(), Some(cut)) };
    (Availability::new(answer.free.clip(kept), answer.if_need_be.clip(kept)), Some(cut))
}

/// What a calendar file says of a span of time.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Taken: opaque events that are not tentative.
    pub busy: IntervalSet,
    /// Tentative events (STATUS:TENTATIVE, or Outlook's busy status TENTATIVE).
    pub tentative: IntervalSet,
    /// Occurrences inside the span that count (busy or tentative).
    pub events: usize,
    /// Events (or series) that could not be followed into the span: an invalid date or rule,
    /// or a series repeating too often. Their times are missing, never taken as busy or free
    /// on a guess; the participant is told to check them.
    pub unread: usize,
}

/// How an event counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Busy,
    Tentative,
    /// Transparent (free), cancelled, without length, or not an event at all.
    Ignored,
}

/// A series to expand: the master (if any) with its exceptions, and the zones they name.
struct Series {
    components: Vec<ICalendarComponent>,
    /// A rule that would cost too much to follow (see [`too_frequent`]), or one that cannot
    /// be read (calcard would drop it and keep only the first occurrence).
    cannot_follow: bool,
    /// Its master has a rule.
    repeats: bool,
}

/// The busy and tentative times that `file` has within `span`. Times the file leaves floating
/// (no zone, and all-day dates) are read in `zone`, the participant's.
fn busy_times(file: &[u8], zone: chrono_tz::Tz, span: Interval) -> Result<Busy, CalendarFileError> {
    let started = std::time::Instant::now();
    // Only dates and times matter: a file in Latin-1 (older Lotus and Outlook exports) reads
    // as well as a UTF-8 one.
    let text = String::from_utf8_lossy(file);
    let calendar = parse(&text)?;
    let zones = zones_of(&calendar)?;
    let resolver = calendar.build_owned_tz_resolver();
    let (start, end) = (span.start().to_utc(), span.end().to_utc());
    let mut busy = Vec::new();
    let mut tentative = Vec::new();
    let mut result = Busy::default();
    let mut budget = TOTAL_OCCURRENCES;
    // Series are expanded from their start; one that never ends would be followed for
    // centuries. No occurrence after the span matters (two days cover any zone's offset from
    // the floating time rules are counted in).
    let follow_until = (end + Duration::days(2)).timestamp();
    for series in series_of(calendar, follow_until) {
        // Each series costs at most a bounded number of calcard's loop turns; many of them
        // (rules that never produce an occurrence cost the most) are bounded by time.
        if started.elapsed() > READ_TIME_LIMIT {
            return Err(CalendarFileError::TooComplex);
        }
        let kinds: Vec<Kind> = series.components.iter().map(kind).collect();
        if kinds.iter().all(|kind| *kind == Kind::Ignored) {
            continue;
        }
        if series.cannot_follow {
            result.unread += 1;
            continue;
        }
        // A time in a zone the file names but nobody can resolve (a custom VTIMEZONE known
        // only by its offsets) would be read in the participant's zone: a guess. Such a series
        // is followed, wherever its zone is, only to see whether it comes near the span.
        let unknown_zone = series.components.iter().flat_map(|component| component.entries.iter().filter_map(|entry| entry.tz_id())).any(|id| resolver.resolve(id).is_none());
        // One series at a time, with the zones it names: the occurrence limit is then per
        // series, and an exception can only replace an occurrence of its own series.
        let mut components = series.components;
        let first_zone = components.len();
        let named: Vec<&str> = components.iter().flat_map(|component| component.entries.iter().filter_map(|entry| entry.tz_id())).collect();
        let named: Vec<ICalendarComponent> = zones.iter().filter(|(id, _)| named.contains(&id.as_str())).map(|(_, zone)| zone.clone()).collect();
        components.extend(named);
        let expanded = ICalendar { components }.expand_dates(CalendarZone::Tz(zone), SERIES_OCCURRENCES);
        let occurrences = expanded.events.len();
        budget = budget.checked_sub(occurrences).ok_or(CalendarFileError::TooManyOccurrences)?;
        // An event calcard could not read (a date that does not exist, a rule that breaks
        // the RFC) is left out by it: said, not silently free.
        let mut failed: Vec<u32> = expanded.errors.iter().map(|error| error.comp_id).filter(|&id| kinds.get(id as usize).is_some_and(|kind| *kind != Kind::Ignored)).collect();
        failed.dedup();
        result.unread += failed.len();
        // The zone the series' times are in, for the occurrences calcard leaves floating.
        let floating = expanded.events.iter().map(|event| event.start.timezone()).find(|zone| !zone.is_floating()).unwrap_or(CalendarZone::Tz(zone));
        // Zones lie at most 26 hours apart.
        let reach = if unknown_zone { Duration::hours(26) } else { Duration::zero() };
        let mut last_start = None;
        // An occurrence near the span that cannot be placed: ending before it starts (the file
        // is wrong, and which end is, nobody knows), or in a zone nobody knows.
        let mut unplaced = false;
        for event in expanded.events {
            let Some(kind) = kinds.get(event.comp_id as usize).filter(|_| (event.comp_id as usize) < first_zone) else { continue };
            let occurrence_start = instant(event.start, floating);
            last_start = last_start.max(Some(occurrence_start));
            if *kind == Kind::Ignored || occurrence_start.checked_sub_signed(reach).unwrap_or(occurrence_start) >= end {
                continue;
            }
            let Some(occurrence_end) = end_of(&event, floating) else {
                unplaced |= occurrence_start >= start;
                continue;
            };
            if unknown_zone {
                // Read in the participant's zone; its own is at most a day's offset away.
                unplaced |= occurrence_end.checked_add_signed(reach).unwrap_or(occurrence_end) > start;
                continue;
            }
            if occurrence_end <= start || occurrence_end <= occurrence_start {
                continue;
            }
            let Some(interval) = Interval::new(Minute::floor(occurrence_start.max(start)), Minute::ceil(occurrence_end.min(end))) else { continue };
            result.events += 1;
            match kind {
                Kind::Busy => busy.push(interval),
                _ => tentative.push(interval),
            }
        }
        if unplaced || (occurrences >= SERIES_OCCURRENCES && last_start.is_some_and(|last| last < end)) {
            result.unread += 1;
        }
    }
    result.busy = IntervalSet::from_intervals(busy);
    result.tentative = IntervalSet::from_intervals(tentative).difference(&result.busy);
    Ok(result)
}

/// The file's zones by TZID, each cut to what resolving it reads (its name and the two
/// names other tools give it): a series is expanded with the zones it names, and a zone's
/// transitions, however many, are not copied into each.
fn zones_of(calendar: &ICalendar) -> Result<Vec<(String, ICalendarComponent)>, CalendarFileError> {
    let kept = |entry: &ICalendarEntry| match &entry.name {
        ICalendarProperty::Tzid => true,
        ICalendarProperty::Other(name) => name.eq_ignore_ascii_case("X-LIC-LOCATION") || name.eq_ignore_ascii_case("X-MICROSOFT-CDO-TZID"),
        _ => false,
    };
    let zones: Vec<(String, ICalendarComponent)> = calendar
        .components
        .iter()
        .filter(|component| component.component_type == ICalendarComponentType::VTimezone)
        .filter_map(|component| {
            let id = component.property(&ICalendarProperty::Tzid)?.values.first()?.as_text()?.to_owned();
            let entries = component
                .entries
                .iter()
                .filter(|entry| kept(entry))
                .map(|entry| ICalendarEntry { name: entry.name.clone(), params: Vec::new(), values: entry.values.iter().take(1).cloned().collect() })
                .collect();
            Some((id, ICalendarComponent { component_type: ICalendarComponentType::VTimezone, entries, component_ids: Vec::new() }))
        })
        .collect();
    if zones.len() > MAX_ZONES {
        return Err(CalendarFileError::TooManyZones);
    }
    Ok(zones)
}

/// An instant of calcard's. calcard leaves an occurrence floating when its local time is
/// repeated by a DST change: it is read in `floating`, the series' own zone, as the first of
/// the two.
fn instant(at: DateTime<CalendarZone>, floating: CalendarZone) -> DateTime<Utc> {
    match at.timezone() {
        CalendarZone::Floating => local_instant(floating, at.naive_local().date(), at.naive_local().time()),
        _ => at.with_timezone(&Utc),
    }
}

type CalendarOccurrence = calcard::icalendar::dates::CalendarEvent<DateTime<CalendarZone>, TimeOrDelta<DateTime<CalendarZone>, chrono::TimeDelta>>;

/// The answer a calendar suggests: of the time offered, free where it has nothing, if need be
/// where it has only tentative events.
fn suggested_answer(offered: &IntervalSet, busy: &Busy) -> Availability {
    let not_busy = offered.difference(&busy.busy);
    Availability::new(not_busy.difference(&busy.tentative), not_busy.intersection(&busy.tentative))
}

/// The time the grid offers: each local day's hours (in `zone`) within `span`.
fn offered_time(span: Interval, zone: chrono_tz::Tz, day_start: NaiveTime, day_end: Option<NaiveTime>) -> IntervalSet {
    let local_day = |minute: Minute| minute.to_utc().with_timezone(&zone).date_naive();
    let (first, last) = (local_day(span.start()), local_day(span.end()));
    let mut intervals = Vec::new();
    let mut day = first;
    while day <= last {
        let next = day.succ_opt().unwrap_or(day);
        let from = local_instant(zone, day, day_start);
        let to = match day_end {
            Some(time) => local_instant(zone, day, time),
            None => local_instant(zone, next, NaiveTime::MIN),
        };
        if let Some(interval) = Interval::new(Minute::floor(from), Minute::floor(to)).and_then(|day| day.intersection(span)) {
            intervals.push(interval);
        }
        if next == day {
            break;
        }
        day = next;
    }
    IntervalSet::from_intervals(intervals)
}

/// A local wall-clock time as an instant; a time the clocks skip (a DST gap) is the first
/// instant after the gap.
pub(super) fn local_instant<Z: TimeZone>(zone: Z, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(time);
    let after_gap = local.checked_add_signed(Duration::hours(1)).unwrap_or(local);
    match zone.from_local_datetime(&local).earliest() {
        Some(instant) => instant.with_timezone(&Utc),
        None => zone.from_local_datetime(&after_gap).earliest().map_or_else(|| local.and_utc(), |instant| instant.with_timezone(&Utc)),
    }
}

/// Refuses a file whose parsed form would cost far more than its bytes: too many lines, list
/// values (commas outside escapes) or parameters on one line (semicolons before the value).
fn prescan(bytes: &[u8]) -> Result<(), CalendarFileError> {
    let mut values = 0usize;
    let mut lines = 0usize;
    for line in bytes.split(|&byte| byte == b'\n') {
        lines += 1;
        let (mut parameters, mut quoted, mut in_value, mut escaped) = (0usize, false, false, false);
        for &byte in line {
            match (in_value, byte) {
                (true, _) if escaped => escaped = false,
                (true, b'\\') => escaped = true,
                (true, b',') => values += 1,
                (true, _) => {}
                (false, b'"') => quoted = !quoted,
                (false, b';') if !quoted => parameters += 1,
                (false, b',') => values += 1,
                (false, b':') if !quoted => in_value = true,
                (false, _) => {}
            }
        }
        if parameters > MAX_PARAMETERS {
            return Err(CalendarFileError::TooLong);
        }
    }
    if lines > MAX_LINES || values > MAX_LIST_VALUES {
        return Err(CalendarFileError::TooLong);
    }
    Ok(())
}

fn parse(text: &str) -> Result<ICalendar, CalendarFileError> {
    // The parser closes what is open at the end of the input, so a download cut short would
    // read as a calendar missing its last events.
    let last_line = text.trim_end().rsplit(['\r', '\n']).next().unwrap_or_default();
    if text.trim().is_empty() {
        return Err(CalendarFileError::NotCalendar("it is empty.".into()));
    }
    let first_line = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']).split(['\r', '\n']).next().unwrap_or_default();
    if !first_line.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR") {
        return Err(CalendarFileError::NotCalendar("it does not start with BEGIN:VCALENDAR.".into()));
    }
    if !last_line.trim().eq_ignore_ascii_case("END:VCALENDAR") {
        return Err(CalendarFileError::NotCalendar("it does not end with END:VCALENDAR (is it cut short?).".into()));
    }
    prescan(text.as_bytes())?;
    let mut parser = Parser::new(text);
    let mut calendar: Option<ICalendar> = None;
    loop {
        match parser.entry() {
            Entry::ICalendar(more) => match calendar.as_mut() {
                None => calendar = Some(more),
                // A second VCALENDAR in the same file (some tools concatenate): its
                // components count too, but no longer refer to each other by index.
                Some(calendar) => calendar.components.extend(more.components),
            },
            Entry::Eof => break,
            Entry::VCard(_) => return Err(CalendarFileError::NotCalendar("it holds contacts (vCard), not events.".into())),
            Entry::InvalidLine(line) => return Err(CalendarFileError::NotCalendar(format!("cannot read the line “{}”.", excerpt(&line)))),
            Entry::UnexpectedComponentEnd { expected, found } => {
                return Err(CalendarFileError::NotCalendar(format!("END:{} where END:{} was expected.", found.as_str(), expected.as_str())))
            }
            Entry::UnterminatedComponent(name) => return Err(CalendarFileError::NotCalendar(format!("BEGIN:{} has no END (is the file cut short?).", excerpt(&name)))),
            Entry::TooManyComponents => return Err(CalendarFileError::TooManyComponents),
            _ => return Err(CalendarFileError::NotCalendar("it holds something other than events.".into())),
        }
        if calendar.as_ref().is_some_and(|calendar| calendar.components.len() > MAX_COMPONENTS) {
            return Err(CalendarFileError::TooManyComponents);
        }
    }
    calendar.ok_or_else(|| CalendarFileError::NotCalendar("it has no BEGIN:VCALENDAR.".into()))
}

/// The file's events grouped by series: a repeating event with its exceptions (same UID), or
/// a single event, each followed no further than `follow_until` (floating, seconds). Other
/// components (to-dos, journals, alarms, zones) are left out.
fn series_of(calendar: ICalendar, follow_until: i64) -> Vec<Series> {
    // Series by UID, for the exceptions to join; and whether it has a rule yet.
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for mut component in calendar.components {
        if component.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        // An exception replaces the occurrence it names whatever its SEQUENCE (calcard would
        // match only equal ones; Google raises it on every changed occurrence).
        component.entries.retain(|entry| entry.name != ICalendarProperty::Sequence);
        // One rule per series, on its master: calcard would follow every rule it finds in one
        // call (no time limit could stop it in between), and an exception has no rule of its own.
        let exception = component.has_property(&ICalendarProperty::RecurrenceId);
        let starts_after = start_of(&component).is_some_and(|start| start > follow_until);
        let mut rules = 0;
        component.entries.retain(|entry| {
            let rule = entry.name == ICalendarProperty::Rrule;
            rules += usize::from(rule);
            !rule || (!exception && !starts_after && rules == 1)
        });
        let mut cannot_follow = false;
        for entry in component.entries.iter_mut().filter(|entry| entry.name == ICalendarProperty::Rrule) {
            match entry.values.first_mut() {
                Some(ICalendarValue::RecurrenceRule(rule)) => {
                    cannot_follow |= too_frequent(rule);
                    let ends_sooner = rule.until.as_ref().and_then(|until| until.to_date_time()).is_some_and(|until| until.date_time.and_utc().timestamp() <= follow_until);
                    if !ends_sooner {
                        rule.until = Some(PartialDateTime::from_naive_timestamp(follow_until));
                    }
                }
                // A rule calcard could not read: it would keep only the first occurrence.
                _ => cannot_follow = true,
            }
        }
        let repeats = component.has_property(&ICalendarProperty::Rrule);
        // Alarms and other children are not looked at, and their indexes would not hold.
        component.component_ids.clear();
        let joins = component.uid().and_then(|uid| by_uid.get(uid)).copied().filter(|&index| !(repeats && series[index].repeats));
        match joins {
            Some(index) => {
                series[index].cannot_follow |= cannot_follow;
                series[index].repeats |= repeats;
                series[index].components.push(component);
            }
            None => {
                // A second master with the same UID (a broken file) is a series of its own.
                if let Some(uid) = component.uid().filter(|uid| !by_uid.contains_key(*uid)) {
                    by_uid.insert(uid.to_owned(), series.len());
                }
                series.push(Series { components: vec![component], cannot_follow, repeats });
            }
        }
    }
    series
}

/// When an event starts, as floating seconds (its zone not applied).
fn start_of(component: &ICalendarComponent) -> Option<i64> {
    let start = component.property(&ICalendarProperty::Dtstart)?.values.first()?.as_partial_date_time()?.to_date_time()?;
    Some(start.date_time.and_utc().timestamp())
}

/// Whether following `rule` costs more than any calendar's real series: every second or
/// minute, or many times a day by its BYHOUR × BYMINUTE × BYSECOND (calcard computes each
/// period's candidates at once, a year of seconds in one go).
fn too_frequent(rule: &ICalendarRecurrenceRule) -> bool {
    let per_day = [&rule.byhour, &rule.byminute, &rule.bysecond].iter().map(|list| list.len().max(1)).product::<usize>();
    matches!(rule.freq, ICalendarFrequency::Secondly | ICalendarFrequency::Minutely) || per_day > MAX_TIMES_A_DAY
}

fn kind(event: &ICalendarComponent) -> Kind {
    // A timed event with neither end nor length takes no time (RFC 5545, 3.6.1); calcard would
    // make it last until midnight.
    let timed = event.property(&ICalendarProperty::Dtstart).and_then(|entry| entry.values.first()).and_then(|value| value.as_partial_date_time()).is_some_and(|start| start.has_time());
    if timed && !event.has_property(&ICalendarProperty::Dtend) && !event.has_property(&ICalendarProperty::Duration) {
        return Kind::Ignored;
    }
    let outlook_status = event
        .property(&ICalendarProperty::Other("X-MICROSOFT-CDO-BUSYSTATUS".into()))
        .and_then(|entry| entry.values.first())
        .and_then(|value| value.as_text())
        .map(str::to_ascii_uppercase);
    match (event.status(), event.transparency(), outlook_status.as_deref()) {
        (Some(ICalendarStatus::Cancelled), _, _) | (_, Some(ICalendarTransparency::Transparent), _) | (_, _, Some("FREE")) => Kind::Ignored,
        (Some(ICalendarStatus::Tentative), _, _) | (_, _, Some("TENTATIVE")) => Kind::Tentative,
        _ => Kind::Busy,
    }
}

/// When an occurrence ends. A length in whole days is nominal (RFC 5545, 3.3.6): it is added
/// to the local date, so an all-day event ends at the next local midnight, even on a 23-hour
/// day. A length in hours or minutes is exact: a 30-minute meeting at 02:30 on the night the
/// clocks go back ends 30 minutes later, not at 03:00 on the wall. `None` for an occurrence
/// that ends before it starts (a DTEND before the DTSTART, a negative DURATION).
fn end_of(event: &CalendarOccurrence, floating: CalendarZone) -> Option<DateTime<Utc>> {
    let start = instant(event.start, floating);
    let end = match event.end {
        TimeOrDelta::Time(end) => instant(end, floating),
        TimeOrDelta::Delta(length) if length < Duration::zero() => return None,
        TimeOrDelta::Delta(length) => {
            let length = length.min(MAX_LENGTH);
            let exact = start.checked_add_signed(length).unwrap_or(start);
            if length.num_seconds() % 86_400 != 0 {
                return Some(exact);
            }
            let Some(local_end) = event.start.naive_local().checked_add_signed(length) else { return Some(exact) };
            let zone = if event.start.timezone().is_floating() { floating } else { event.start.timezone() };
            local_instant(zone, local_end.date(), local_end.time())
        }
    };
    (end >= start).then_some(end)
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, TimeZone, Utc};
    use chrono_tz::{America, Europe};

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/calendars/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
    }

    fn at(day: u32, hour: u32, minute: u32) -> Minute {
        Minute::floor(Utc.with_ymd_and_hms(2030, 3, 1, hour, minute, 0).unwrap() + Duration::days(i64::from(day) - 1))
    }

    fn interval(from: Minute, to: Minute) -> Interval {
        Interval::new(from, to).unwrap()
    }

    /// 25 March 2030 (a Monday) to 5 April, over Berlin's switch to summer time on the 31st.
    fn spring_fortnight() -> Interval {
        interval(at(25, 0, 0), at(36, 0, 0))
    }

    #[test]
    fn a_google_export_keeps_exceptions_all_day_events_and_the_clock_through_dst() {
        let busy = busy_times(&fixture("google.ics"), Europe::Berlin, spring_fortnight()).unwrap();
        let busy_at = |from, to| busy.busy.covers(interval(from, to));
        // The stand-up at 09:00 Berlin: 08:00 UTC in winter, 07:00 UTC from the 31st.
        assert!(busy_at(at(25, 8, 0), at(25, 8, 30)));
        assert!(busy_at(at(33, 7, 0), at(33, 7, 30)), "after the switch the stand-up is still at 09:00 on the wall");
        assert!(!busy.busy.contains(at(33, 8, 0)));
        // The 27th is excluded; the 28th moved to 14:00 (a higher SEQUENCE than the series).
        assert!(!busy.busy.contains(at(27, 8, 0)), "EXDATE");
        assert!(!busy.busy.contains(at(28, 8, 0)), "the moved occurrence is not at its old time");
        assert!(busy_at(at(28, 13, 0), at(28, 13, 30)), "the moved occurrence is at its new time");
        // The opaque all-day offsite covers Berlin's whole day; the transparent birthday nothing.
        assert!(busy_at(at(28, 23, 0), at(29, 23, 0)));
        assert!(!busy.busy.contains(at(29, 23, 0)) && !busy.busy.contains(at(28, 22, 59)));
        assert!(!busy.busy.contains(at(26, 12, 0)), "a transparent all-day event is free time");
        // Cancelled counts for nothing, tentative only as tentative, UTC times as they are.
        assert!(!busy.busy.contains(at(25, 10, 30)) && !busy.tentative.contains(at(25, 10, 30)));
        assert!(busy.tentative.covers(interval(at(25, 14, 0), at(25, 15, 0))) && !busy.busy.contains(at(25, 14, 0)));
        assert!(busy_at(at(26, 10, 0), at(26, 11, 0)));
        // 8 stand-ups (9 weekdays, one excluded, one moved) + offsite + tentative + call.
        assert_eq!(busy.events, 11);
        assert_eq!(busy.unread, 0);
    }

    #[test]
    fn an_outlook_export_reads_windows_zones_and_busy_status() {
        let busy = busy_times(&fixture("outlook.ics"), America::New_York, spring_fortnight()).unwrap();
        // Tuesdays 13:00 "W. Europe Standard Time": 12:00 UTC in winter, 11:00 UTC in summer.
        assert!(busy.busy.covers(interval(at(26, 12, 0), at(26, 13, 0))));
        assert!(busy.busy.covers(interval(at(33, 11, 0), at(33, 12, 0))));
        assert!(!busy.busy.contains(at(33, 12, 30)));
        // Busy status FREE is free time, TENTATIVE tentative.
        assert!(!busy.busy.contains(at(34, 7, 30)) && !busy.tentative.contains(at(34, 7, 30)));
        assert!(busy.tentative.covers(interval(at(35, 14, 0), at(35, 15, 0))));
        assert_eq!(busy.events, 3);
    }

    #[test]
    fn an_apple_export_follows_new_york_over_its_dst_and_reads_dates_in_the_readers_zone() {
        let span = interval(at(7, 0, 0), at(14, 0, 0));
        let busy = busy_times(&fixture("apple.ics"), America::New_York, span).unwrap();
        // 17:00 New York: 22:00 UTC until the 9th, 21:00 UTC from the 10th; the series ends on the 11th.
        assert!(busy.busy.covers(interval(at(9, 22, 0), at(9, 23, 0))));
        assert!(busy.busy.covers(interval(at(11, 21, 0), at(11, 22, 0))));
        assert!(!busy.busy.contains(at(12, 21, 30)), "UNTIL ends the series");
        // The all-day move on the 10th: New York's day, which is 23 hours long.
        assert!(busy.busy.covers(interval(at(10, 5, 0), at(11, 4, 0))));
        assert!(!busy.busy.contains(at(10, 4, 59)) && !busy.busy.contains(at(11, 4, 0)));
    }

    #[test]
    fn floating_times_are_the_readers_and_a_duration_is_a_length() {
        let busy = busy_times(&fixture("thunderbird.ics"), America::New_York, spring_fortnight()).unwrap();
        // 11:00 floating in New York (summer time since the 10th) is 15:00 UTC.
        assert_eq!(busy.busy.intervals()[0], interval(at(25, 15, 0), at(25, 16, 0)));
        // 18:00 Berlin for 1 h 30: 17:00–18:30 UTC.
        assert_eq!(busy.busy.intervals()[1], interval(at(25, 17, 0), at(25, 18, 30)));
    }

    #[test]
    fn broken_files_are_refused_with_a_reason() {
        let error = busy_times(&fixture("cut-short.ics"), Europe::Berlin, spring_fortnight()).unwrap_err();
        assert!(matches!(error, CalendarFileError::NotCalendar(ref why) if why.contains("cut short")), "{error}");
        let png = busy_times(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff", Europe::Berlin, spring_fortnight());
        assert!(matches!(png, Err(CalendarFileError::NotCalendar(ref why)) if why.contains("BEGIN:VCALENDAR")), "{png:?}");
        for text in ["", "Dear Ana, see you Monday.", "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ana\r\nEND:VCARD\r\n"] {
            let error = busy_times(text.as_bytes(), Europe::Berlin, spring_fortnight()).unwrap_err();
            assert!(matches!(error, CalendarFileError::NotCalendar(_)), "{text:?}: {error:?}");
        }
    }

    #[test]
    fn a_series_too_frequent_to_follow_is_reported_not_taken_as_free() {
        let file = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20000101T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let busy = busy_times(file.as_bytes(), Europe::Berlin, spring_fortnight()).unwrap();
        assert_eq!((busy.events, busy.unread), (0, 1));
        // A year of seconds in one rule is not expanded either (it would be 1.5 GB at once).
        let seconds = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:y\r\nDTSTART:20300101T000000Z\r\nDURATION:PT1S\r\nRRULE:FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,30;BYSECOND=0,30\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let busy = busy_times(seconds.as_bytes(), Europe::Berlin, spring_fortnight()).unwrap();
        assert_eq!((busy.events, busy.unread), (0, 1));
        // Many hourly series from long ago: each stops at its limit, and the total budget
        // ends the reading.
        let many: String = (0..30).map(|n| format!("BEGIN:VEVENT\r\nUID:{n}\r\nDTSTART:20000101T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=HOURLY\r\nEND:VEVENT\r\n")).collect();
        let file = format!("BEGIN:VCALENDAR\r\n{many}END:VCALENDAR\r\n");
        // (On a loaded machine in a debug build the 5 s limit may come first: refused either way.)
        let refused = busy_times(file.as_bytes(), Europe::Berlin, spring_fortnight());
        assert!(matches!(refused, Err(CalendarFileError::TooManyOccurrences | CalendarFileError::TooComplex)), "{refused:?}");
    }

    #[test]
    fn what_cannot_be_read_is_counted_and_what_takes_no_time_is_not_busy() {
        let file = |events: &str| format!("BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n");
        // A daily 02:30 in Berlin over the night the clocks go back (27 October 2030), when
        // 02:30 happens twice: calcard leaves that occurrence floating; it is read as the first
        // 02:30 (summer time, 00:30 UTC), never as 02:30 UTC.
        let utc = |day: u32, hour: u32, minute: u32| Minute::floor(Utc.with_ymd_and_hms(2030, 10, day, hour, minute, 0).unwrap());
        let autumn = interval(utc(25, 0, 0), utc(30, 0, 0));
        let twice = file("BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Europe/Berlin:20301025T023000\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY;COUNT=4\r\nEND:VEVENT\r\n");
        let busy = busy_times(twice.as_bytes(), Europe::Berlin, autumn).unwrap();
        assert_eq!(busy.busy.intervals(), [interval(utc(25, 0, 30), utc(25, 1, 0)), interval(utc(26, 0, 30), utc(26, 1, 0)), interval(utc(27, 0, 30), utc(27, 1, 0)), interval(utc(28, 1, 30), utc(28, 2, 0))]);
        // A timed event with neither end nor length takes no time.
        let instant = file("BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20300326T100000Z\r\nSUMMARY:Deadline\r\nEND:VEVENT\r\n");
        let busy = busy_times(instant.as_bytes(), Europe::Berlin, spring_fortnight()).unwrap();
        assert_eq!((busy.events, busy.busy.is_empty()), (0, true));
        // A date that does not exist is counted, not taken as free.
        let invalid = file("BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20300230T100000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n");
        let busy = busy_times(invalid.as_bytes(), Europe::Berlin, spring_fortnight()).unwrap();
        assert_eq!(busy.unread, 1, "{busy:?}");
        // Lists and lines that would cost far more parsed than sent are refused up front.
        let commas = file(&format!("BEGIN:VEVENT\r\nUID:d\r\nDTSTART:20300326T100000Z\r\nRDATE:{}\r\nEND:VEVENT\r\n", ",".repeat(MAX_LIST_VALUES + 1)));
        assert_eq!(busy_times(commas.as_bytes(), Europe::Berlin, spring_fortnight()), Err(CalendarFileError::TooLong));
        let lines = file(&"X:\r\n".repeat(MAX_LINES + 1));
        assert_eq!(busy_times(lines.as_bytes(), Europe::Berlin, spring_fortnight()), Err(CalendarFileError::TooLong));
    }

    #[test]
    fn what_a_file_gets_wrong_or_leaves_unknown_is_counted_not_guessed() {
        let file = |events: &str| format!("BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n");
        let read = |text: &str| busy_times(text.as_bytes(), Europe::Berlin, spring_fortnight()).unwrap();
        // A zone known only by its offsets (Outlook's "Customized Time Zone") cannot be
        // resolved; its times would otherwise be read in the reader's zone.
        let custom = file("BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=\"Customized Time Zone\":20300326T100000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n");
        let busy = read(&custom);
        assert_eq!((busy.events, busy.unread, busy.busy.is_empty()), (0, 1, true), "{busy:?}");
        // The same event in a zone the file names the IANA or Windows way is read.
        // Long before the event's time, it does not matter.
        let old = custom.replace("20300326T100000", "20190326T100000");
        assert_eq!(read(&old), Busy::default());
        let named = custom.replace("Customized Time Zone", "W. Europe Standard Time");
        assert_eq!(read(&named).busy.intervals(), [interval(at(26, 9, 0), at(26, 10, 0))]);
        // Ending before it starts, once or every day, or lasting a negative time.
        for event in [
            "DTSTART:20300326T100000Z\r\nDTEND:20300326T080000Z",
            "DTSTART:20300326T100000Z\r\nDTEND:20300326T080000Z\r\nRRULE:FREQ=DAILY;COUNT=3",
            "DTSTART:20300326T100000Z\r\nDURATION:-PT2H",
        ] {
            let busy = read(&file(&format!("BEGIN:VEVENT\r\nUID:b\r\n{event}\r\nEND:VEVENT\r\n")));
            assert_eq!((busy.events, busy.unread), (0, 1), "{event}: {busy:?}");
            let before = read(&file(&format!("BEGIN:VEVENT\r\nUID:b\r\n{}\r\nEND:VEVENT\r\n", event.replace("20300326", "20200326"))));
            assert_eq!(before, Busy::default(), "{event} years before");
        }
        // A rule that cannot be read: the series is not taken as its first occurrence.
        let garbage = file("BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20300326T100000Z\r\nDURATION:PT1H\r\nRRULE:garbage\r\nEND:VEVENT\r\n");
        let busy = read(&garbage);
        assert_eq!((busy.events, busy.unread), (0, 1), "{busy:?}");
    }

    #[test]
    fn odd_and_hostile_files_read_right_and_cheaply() {
        let file = |events: &str| format!("BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n");
        let read = |text: &str| busy_times(text.as_bytes(), Europe::Berlin, spring_fortnight());
        // Two masters with one UID (a broken file): each is a series, and both count.
        let twice = file("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20300325T080000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s\r\nDTSTART:20300325T150000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\n");
        let busy = read(&twice).unwrap();
        assert_eq!((busy.events, busy.unread), (4, 0), "{busy:?}");
        // A series that starts after the event's time is not a problem, just nothing.
        let later = file("BEGIN:VEVENT\r\nUID:t\r\nDTSTART:20300901T080000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n");
        assert_eq!(read(&later).unwrap(), Busy::default());
        // An absurd length covers the span; it does not overflow.
        let endless = file("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20300326T080000Z\r\nDURATION:PT4294967295H1S\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:v\r\nDTSTART:20300327T080000Z\r\nDURATION:-PT4294967295H1S\r\nEND:VEVENT\r\n");
        assert_eq!(read(&endless).unwrap().busy.intervals(), [interval(at(26, 8, 0), at(36, 0, 0))]);
        // New York's 01:30 on the night its clocks go back (3 November 2030) is the first one
        // (05:30 UTC), also for a reader in Berlin.
        let autumn = interval(Minute::floor(Utc.with_ymd_and_hms(2030, 11, 2, 0, 0, 0).unwrap()), Minute::floor(Utc.with_ymd_and_hms(2030, 11, 5, 0, 0, 0).unwrap()));
        let new_york = file("BEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=America/New_York:20301102T013000\r\nDURATION:PT15M\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n");
        let busy = busy_times(new_york.as_bytes(), Europe::Berlin, autumn).unwrap();
        let starts: Vec<_> = busy.busy.intervals().iter().map(|interval| interval.start().to_utc().format("%d %H:%M").to_string()).collect();
        assert_eq!(starts, ["02 05:30", "03 05:30", "04 06:30"]);
        // Latin-1 (older Lotus and Outlook exports) reads: only times matter.
        let latin1 = [b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:R\xe9union\r\nDTSTART:20300326T080000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".as_slice()].concat();
        assert_eq!(busy_times(&latin1, Europe::Berlin, spring_fortnight()).unwrap().events, 1);
        // Parameters by the thousand on a line, and commas after escaped backslashes, are
        // refused before parsing; escaped commas in text are not counted.
        let parameters = file(&format!("BEGIN:VEVENT\r\nUID:y\r\nX{}:1\r\nEND:VEVENT\r\n", ";A".repeat(MAX_PARAMETERS + 1)));
        assert_eq!(read(&parameters), Err(CalendarFileError::TooLong));
        let backslashes = file(&format!("BEGIN:VEVENT\r\nUID:z\r\nCATEGORIES:{}\r\nEND:VEVENT\r\n", "\\\\,".repeat(MAX_LIST_VALUES + 1)));
        assert_eq!(read(&backslashes), Err(CalendarFileError::TooLong));
        let prose = file(&format!("BEGIN:VEVENT\r\nUID:p\r\nDTSTART:20300326T080000Z\r\nDURATION:PT1H\r\nDESCRIPTION:{}\r\nEND:VEVENT\r\n", "a\\, b".repeat(MAX_LIST_VALUES + 1)));
        assert_eq!(read(&prose).unwrap().events, 1);
    }

    #[test]
    fn the_suggested_answer_is_the_offered_hours_minus_busy_times() {
        let span = interval(at(25, 0, 0), at(27, 0, 0));
        let offered = offered_time(span, Europe::Berlin, NaiveTime::from_hms_opt(8, 0, 0).unwrap(), Some(NaiveTime::from_hms_opt(20, 0, 0).unwrap()));
        // 08:00–20:00 Berlin on the 25th and 26th (07:00–19:00 UTC).
        assert_eq!(offered.intervals(), [interval(at(25, 7, 0), at(25, 19, 0)), interval(at(26, 7, 0), at(26, 19, 0))]);
        let busy = busy_times(&fixture("google.ics"), Europe::Berlin, span).unwrap();
        let answer = suggested_answer(&offered, &busy);
        assert!(!answer.free.contains(at(25, 8, 15)) && answer.free.contains(at(25, 8, 30)), "the stand-up is busy");
        assert!(answer.if_need_be.covers(interval(at(25, 14, 0), at(25, 15, 0))), "the tentative coffee is if need be");
        assert!(!answer.free.contains(at(25, 14, 0)));
        assert!(!answer.free.contains(at(25, 19, 0)) && !answer.free.contains(at(25, 6, 59)), "outside the hours is not offered");
        // All day, midnight to midnight, is one interval per day; a short span clips it.
        // Cut to fit an answer: the first intervals in time order, none after the cut.
        let (fitted, cut) = fit(answer.clone(), 2);
        assert_eq!(cut, Some(answer.if_need_be.intervals()[0].start()));
        assert_eq!((fitted.free.intervals(), fitted.if_need_be.is_empty()), (&answer.free.intervals()[..2], true));
        assert_eq!(fit(answer.clone(), 200), (answer, None));
        let whole = offered_time(interval(at(25, 10, 0), at(26, 3, 0)), Europe::Berlin, NaiveTime::MIN, None);
        assert_eq!(whole.intervals(), [interval(at(25, 10, 0), at(26, 3, 0))]);
    }
}
