//! The mails themselves: subject, plain text and an HTML alternative, the `.ics` for a
//! scheduled outcome, and the headers that make a mail safe to send twice and easy to stop: a
//! `Message-ID` fixed per notification and recipient (a resend after a crash is recognisably
//! the same mail) and `List-Unsubscribe` with `List-Unsubscribe-Post` (RFC 8058). Times are
//! written in the recipient's zone (their setting, else the event's).

use app::events::{people, OutcomeView};
use app::notifications::NotificationKind;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;

use super::unsubscribe::Unsubscribe;
use crate::events::EventNotice;

/// Who a mail goes to.
pub struct Recipient {
    pub user_id: i64,
    pub username: String,
    pub address: String,
    /// Their own zone, if they set one.
    pub time_zone: Option<String>,
}

/// What a mail says.
pub enum Content<'a> {
    Notice { kind: NotificationKind, event: &'a EventNotice },
    VerifyEmail { link: String },
    PasswordReset { link: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("bad address: {0}")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot build the mail: {0}")]
    Build(#[from] lettre::error::Error),
}

pub struct Composer {
    from: Mailbox,
    /// The right-hand side of every Message-ID.
    domain: String,
    public_url: String,
    unsubscribe: Unsubscribe,
}

impl Composer {
    pub fn new(from: Mailbox, public_url: String, unsubscribe: Unsubscribe) -> Self {
        let domain = from.email.domain().to_owned();
        Self { from, domain, public_url, unsubscribe }
    }

    /// The Message-ID of notification `notification_id` to `user_id`, the same on every attempt.
    pub fn message_id(&self, notification_id: i64, user_id: i64) -> String {
        format!("<whenly-{notification_id}-{user_id}@{}>", self.domain)
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    pub fn message(&self, notification_id: i64, to: &Recipient, content: &Content<'_>) -> Result<Message, ComposeError> {
        let mailbox = Mailbox::new(Some(to.username.clone()), to.address.parse()?);
        let written = self.write(to, content);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject(written.subject)
            .message_id(Some(self.message_id(notification_id, to.user_id)))
            .date_now();
        if let Content::Notice { kind, .. } = content {
            let link = self.link(&format!("{}?token={}", app::routes::UNSUBSCRIBE, self.unsubscribe.token(to.user_id, *kind)));
            builder = builder
                .raw_header(raw_header("List-Unsubscribe", format!("<{link}>")))
                .raw_header(raw_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()));
        }
        let html = to_html(&written.text, &self.public_url);
        let body = MultiPart::alternative_plain_html(written.text, html);
        let message = match written.calendar {
            Some((name, calendar)) => {
                let ics = Attachment::new(name).body(calendar, ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH").expect("a valid content type"));
                builder.multipart(MultiPart::mixed().multipart(body).singlepart(ics))?
            }
            None => builder.multipart(body)?,
        };
        Ok(message)
    }

    fn write(&self, to: &Recipient, content: &Content<'_>) -> Written {
        let hello = format!("Hello {},", to.username);
        match content {
            Content::VerifyEmail { link } => Written::text(
                "Confirm your e-mail address for Whenly",
                format!("{hello}\n\nplease confirm that this is your address by opening this link within 48 hours:\n\n{link}\n\nIf you did not add this address to a Whenly account, ignore this mail: nothing will be sent to it."),
            ),
            Content::PasswordReset { link } => Written::text(
                "Reset your Whenly password",
                format!("{hello}\n\nsomeone (we hope you) asked to reset the password of your Whenly account \u{201c}{}\u{201d}. Set a new one within an hour with this link, which works once:\n\n{link}\n\nIf it was not you, ignore this mail: your password stays as it is.", to.username),
            ),
            Content::Notice { kind, event } => {
                let zone = zone_of(to.time_zone.as_deref(), &event.time_zone);
                let page = self.link(&app::routes::event(&event.code));
                let unsubscribe = self.link(&format!("{}?token={}", app::routes::UNSUBSCRIBE, self.unsubscribe.token(to.user_id, *kind)));
                let footer = format!(
                    "\n\nEvent page: {page}\n\n-- \nYou get this mail because you take part in this event on Whenly.\nStop mails like this: {unsubscribe}\nAll your settings: {}",
                    self.link(app::routes::SETTINGS)
                );
                let name = &event.name;
                let (subject, body, calendar) = match kind {
                    NotificationKind::Outcome => match &event.outcome_for(to.user_id) {
                        OutcomeView::Scheduled { slot, if_need_be, if_need_be_count, .. } => (
                            format!("\u{201c}{name}\u{201d}: {}", slot_text(slot.start, slot.end, zone)),
                            format!(
                                "the time for \u{201c}{name}\u{201d} is decided:\n\n    {}\n\n{}The attached calendar file adds it to your calendar.",
                                slot_text(slot.start, slot.end, zone),
                                stretch(if_need_be, *if_need_be_count)
                            ),
                            event.calendar.clone().map(|calendar| (format!("whenly-{}.ics", event.code), calendar)),
                        ),
                        OutcomeView::NoSolution { best_effort: Some(best) } => (
                            format!("\u{201c}{name}\u{201d}: no time suits everyone"),
                            format!(
                                "no time suits everyone who answered \u{201c}{name}\u{201d}. The time most people can make:\n\n    {}\n\nCan come: {}.\n{}Cannot come: {}.",
                                slot_text(best.slot.start, best.slot.end, zone),
                                people(&best.available, best.available_count),
                                match best.if_need_be_count {
                                    0 => String::new(),
                                    count => format!("Can come if need be: {}.\n", people(&best.if_need_be, count)),
                                },
                                people(&best.unavailable, best.unavailable_count)
                            ),
                            None,
                        ),
                        OutcomeView::NoSolution { best_effort: None } => (
                            format!("\u{201c}{name}\u{201d}: no time suits everyone"),
                            format!("no time suits everyone who answered \u{201c}{name}\u{201d}, and no time suits any of them for the whole meeting."),
                            None,
                        ),
                        OutcomeView::Undefined | OutcomeView::Pending | OutcomeView::Cancelled => (
                            format!("\u{201c}{name}\u{201d}: no time was picked"),
                            format!("nobody said when they are free for \u{201c}{name}\u{201d} before the deadline, so Whenly could not pick a time."),
                            None,
                        ),
                    },
                    NotificationKind::Reminder => (
                        format!("Reminder: when can you make \u{201c}{name}\u{201d}?"),
                        format!("answers for \u{201c}{name}\u{201d} close on {}, and you have not said when you are free yet. Whenly picks the time at the deadline from the answers it has.", time_text(event.deadline, zone)),
                        None,
                    ),
                    NotificationKind::EveryoneAnswered => (
                        format!("Everyone has answered \u{201c}{name}\u{201d}"),
                        format!("everyone who joined \u{201c}{name}\u{201d} has said when they are free. Whenly picks the time at the deadline, {}; answers can still change until then.", time_text(event.deadline, zone)),
                        None,
                    ),
                    NotificationKind::Cancelled => (
                        format!("Cancelled: \u{201c}{name}\u{201d}"),
                        match event.organizer == crate::accounts::DELETED_NAME {
                            true => format!("the organizer of \u{201c}{name}\u{201d} deleted their account, so the event is cancelled. No time will be picked for it."),
                            false => format!("{} cancelled \u{201c}{name}\u{201d}. No time will be picked for it.", event.organizer),
                        },
                        None,
                    ),
                };
                Written { subject, text: format!("{hello}\n\n{body}{footer}"), calendar }
            }
        }
    }
}

struct Written {
    subject: String,
    text: String,
    /// The attachment's file name and contents.
    calendar: Option<(String, String)>,
}

impl Written {
    fn text(subject: &str, text: String) -> Self {
        Self { subject: subject.to_owned(), text, calendar: None }
    }
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// The recipient's zone if they set a valid one, else the event's, else UTC.
fn zone_of(own: Option<&str>, event: &str) -> Tz {
    own.and_then(|zone| zone.parse().ok()).or_else(|| event.parse().ok()).unwrap_or(Tz::UTC)
}

/// `Tuesday 8 January 2030, 09:00–10:00 (Europe/Berlin)`; the end's date only when it differs.
pub fn slot_text(start: DateTime<Utc>, end: DateTime<Utc>, zone: Tz) -> String {
    let (start, end) = (start.with_timezone(&zone), end.with_timezone(&zone));
    let end_text = match start.date_naive() == end.date_naive() {
        true => end.format("%H:%M").to_string(),
        false => end.format("%A %-d %B %Y, %H:%M").to_string(),
    };
    format!("{}\u{2013}{end_text} ({})", start.format("%A %-d %B %Y, %H:%M"), zone.name())
}

/// `Tuesday 8 January 2030, 09:00 (Europe/Berlin)`.
pub fn time_text(at: DateTime<Utc>, zone: Tz) -> String {
    format!("{} ({})", at.with_timezone(&zone).format("%A %-d %B %Y, %H:%M"), zone.name())
}

/// Who would come only if need be, as a paragraph (nothing when everyone is free).
fn stretch(if_need_be: &[String], count: u32) -> String {
    match count {
        0 => String::new(),
        _ => format!("No time suits everyone freely; this one suits everyone if need be. Coming only if need be: {}.\n\n", people(if_need_be, count)),
    }
}

/// The plain text as HTML: escaped, paragraphs kept, links to this site clickable (only ours:
/// an event name or a username that looks like a link stays text).
fn to_html(text: &str, site: &str) -> String {
    let site = escape(site);
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|paragraph| {
            let lines: Vec<String> = paragraph.lines().map(|line| link_words(&escape(line.trim_start()), &site)).collect();
            format!("<p>{}</p>", lines.join("<br>\n"))
        })
        .collect();
    format!("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n{}\n</body></html>\n", paragraphs.join("\n"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Words that are links to `site` (both already escaped) as anchors.
fn link_words(escaped: &str, site: &str) -> String {
    escaped
        .split(' ')
        .map(|word| match word.starts_with(&format!("{site}/")) {
            true => format!("<a href=\"{word}\">{word}</a>"),
            false => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_slot_is_written_in_the_recipients_zone() {
        let start = Utc.with_ymd_and_hms(2030, 1, 8, 14, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2030, 1, 8, 15, 30, 0).unwrap();
        assert_eq!(slot_text(start, end, "America/New_York".parse().unwrap()), "Tuesday 8 January 2030, 09:00\u{2013}10:30 (America/New_York)");
        assert_eq!(
            slot_text(start, end, "Asia/Tokyo".parse().unwrap()),
            "Tuesday 8 January 2030, 23:00\u{2013}Wednesday 9 January 2030, 00:30 (Asia/Tokyo)"
        );
        assert_eq!(zone_of(Some("Nowhere/Else"), "Europe/Berlin"), chrono_tz::Europe::Berlin);
        assert_eq!(zone_of(None, "bad"), Tz::UTC);
    }

    #[test]
    fn html_is_escaped_and_links_are_anchors() {
        let html = to_html("Hello <b>&</b>,\n\nsee https://whenly.example/e/abc?x=1&y=2 now, not https://evil.example/x", "https://whenly.example");
        assert!(html.contains("Hello &lt;b&gt;&amp;&lt;/b&gt;,"));
        assert!(html.contains("<a href=\"https://whenly.example/e/abc?x=1&amp;y=2\">"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("href=\"https://evil"), "only this site's links are anchors: {html}");
    }
}
