//! The `.ics` file of a scheduled event (RFC 5545): one VEVENT in UTC, so every calendar shows
//! it in its owner's zone. Text is escaped and long lines folded as the RFC requires.

use app::events::SlotView;
use chrono::{DateTime, Utc};

pub struct CalendarEvent<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub organizer: &'a str,
    pub slot: SlotView,
    /// When the outcome was decided: the file's DTSTAMP.
    pub stamp: DateTime<Utc>,
}

/// The calendar file, CRLF line ends included.
pub fn ics(event: &CalendarEvent<'_>) -> String {
    let mut description = format!("Scheduled with Whenly (event {}, organized by {}).", event.code, event.organizer);
    if !event.description.is_empty() {
        description = format!("{}\n\n{description}", event.description);
    }
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Whenly//Whenly//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@whenly", event.code),
        format!("DTSTAMP:{}", utc(event.stamp)),
        format!("DTSTART:{}", utc(event.slot.start)),
        format!("DTEND:{}", utc(event.slot.end)),
        format!("SUMMARY:{}", escape(event.name)),
        format!("DESCRIPTION:{}", escape(&description)),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|line| fold(line)).collect::<Vec<_>>().join("")
}

fn utc(instant: DateTime<Utc>) -> String {
    instant.format("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT escaping: backslash, semicolon, comma and newline; other control characters dropped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            // RFC 5545 TEXT allows no control character but HTAB (rows from before input
            // refused them may hold some).
            other if other.is_control() && other != '\t' => {}
            other => escaped.push(other),
        }
    }
    escaped
}

/// Splits a content line into lines of at most 75 octets (never inside a UTF-8 character),
/// each continuation starting with a space, and ends it with CRLF.
fn fold(line: &str) -> String {
    const LIMIT: usize = 75;
    let mut folded = String::with_capacity(line.len() + 8);
    let mut current = 0;
    for character in line.chars() {
        let width = character.len_utf8();
        if current + width > LIMIT {
            folded.push_str("\r\n ");
            current = 1;
        }
        folded.push(character);
        current += width;
    }
    folded.push_str("\r\n");
    folded
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_file_holds_the_slot_in_utc_with_escaped_folded_text() {
        let at = |h| Utc.with_ymd_and_hms(2030, 1, 8, h, 0, 0).unwrap();
        let name = "Planning; budget, Q1 — ".to_owned() + &"ü".repeat(60);
        let file = ics(&CalendarEvent {
            code: "abcDEF1234",
            name: &name,
            description: "Bring\\notes",
            organizer: "alice",
            slot: SlotView { start: at(9), end: at(10) },
            stamp: at(7),
        });
        assert!(file.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(file.contains("\r\nDTSTART:20300108T090000Z\r\nDTEND:20300108T100000Z\r\n"));
        assert!(file.contains("UID:abcDEF1234@whenly\r\n"));
        assert!(file.contains("SUMMARY:Planning\\; budget\\, Q1"));
        assert!(file.contains("DESCRIPTION:Bring\\\\notes\\n\\nScheduled with Whenly"));
        assert!(file.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        for line in file.split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
        }
        // Unfolding gives the name back.
        let unfolded = file.replace("\r\n ", "");
        assert!(unfolded.contains(&"ü".repeat(60)));
    }
}
