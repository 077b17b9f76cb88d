//! The viewer's clock and time zone. Times are stored and sent in UTC; pages show them in the
//! zone of the person looking. In the browser that is the browser's own zone (through JS
//! `Date`, so the wasm carries no zone database); on the server, rendering the same page, it
//! is the zone the browser left in the `whenly_tz` cookie on an earlier page (UTC before
//! that). The cookie is written by a one-line script in the document head
//! ([`REMEMBER_ZONE_SCRIPT`]), so it is there from the second page on, before any wasm has
//! loaded (every page that shows times comes after log-in, so it has the cookie). Inside an
//! island, text that depends on the zone is written again once hydrated (see
//! [`after_hydration`]), so even a render without the cookie corrects itself at once.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use leptos::prelude::*;

/// The cookie holding the browser's IANA zone name.
pub const ZONE_COOKIE: &str = "whenly_tz";

/// Stores the browser's zone in [`ZONE_COOKIE`] for the server's next render (a year; the
/// whole site). Inline in the head: it runs as the page is parsed, wasm or not.
pub const REMEMBER_ZONE_SCRIPT: &str = "document.cookie='whenly_tz='+encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone||'UTC')+';path=/;max-age=31536000;samesite=lax'";

/// Where the viewer is. Cheap to copy; provided as context by the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerZone {
    name: String,
    #[cfg(feature = "ssr")]
    zone: chrono_tz::Tz,
    /// The server had no cookie and fell back to UTC.
    #[cfg(feature = "ssr")]
    guessed: bool,
}

impl ViewerZone {
    /// The viewer's zone for this render: on the server from the request's cookie, in the
    /// browser from the browser (which also refreshes the cookie for the next request).
    pub fn detect() -> Self {
        #[cfg(feature = "ssr")]
        {
            let from_cookie = use_context::<axum::http::request::Parts>().and_then(|parts| {
                parts.headers.get_all(axum::http::header::COOKIE).iter().find_map(|value| cookie_value(value.to_str().ok()?, ZONE_COOKIE))
            });
            let from_cookie = from_cookie.and_then(|name| name.parse::<chrono_tz::Tz>().ok());
            let zone = from_cookie.unwrap_or(chrono_tz::UTC);
            Self { name: zone.name().to_owned(), zone, guessed: from_cookie.is_none() }
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            Self { name: browser::zone_name() }
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            Self { name: "UTC".to_owned() }
        }
    }

    /// The IANA name, e.g. `Europe/Berlin`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone is the viewer's own, not the server's UTC stand-in for a browser it has not
    /// heard from yet.
    pub fn is_known(&self) -> bool {
        #[cfg(feature = "ssr")]
        {
            !self.guessed
        }
        #[cfg(not(feature = "ssr"))]
        {
            true
        }
    }

    /// The wall-clock time `instant` shows in this zone.
    pub fn local(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        #[cfg(feature = "ssr")]
        {
            instant.with_timezone(&self.zone).naive_local()
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            browser::local(instant)
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            instant.naive_utc()
        }
    }

    /// The instant a wall-clock time in this zone means (a time skipped by a clock change
    /// moves forward, as browsers do).
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        #[cfg(feature = "ssr")]
        {
            use chrono::TimeZone;
            match self.zone.from_local_datetime(&local) {
                chrono::LocalResult::Single(instant) | chrono::LocalResult::Ambiguous(instant, _) => instant.to_utc(),
                chrono::LocalResult::None => self.instant(local + chrono::Duration::hours(1)) - chrono::Duration::hours(1),
            }
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            browser::instant(local)
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            local.and_utc()
        }
    }

    /// The start of the local day `date`.
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        self.instant(date.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    /// "Tue 8 Jan 2030, 09:30".
    pub fn date_time(&self, instant: DateTime<Utc>) -> String {
        let local = self.local(instant);
        let (weekday, day) = day_label(local.date());
        format!("{weekday} {day} {} {}, {}", MONTHS[local.month0() as usize], local.year(), hh_mm(local))
    }

    /// "09:30".
    pub fn clock(&self, instant: DateTime<Utc>) -> String {
        hh_mm(self.local(instant))
    }

    /// "Tue 8 Jan, 09:30 – 10:30" (the end's date only when it differs).
    pub fn span(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        let (from, to) = (self.local(start), self.local(end));
        if from.date() == to.date() || (to.time() == chrono::NaiveTime::MIN && to.date() == from.date().succ_opt().unwrap_or(to.date())) {
            format!("{} – {}", self.date_time(start), hh_mm(to))
        } else {
            format!("{} – {}", self.date_time(start), self.date_time(end))
        }
    }

    /// `YYYY-MM-DD HH:mm`, the seed text format's time.
    pub fn text_format(&self, instant: DateTime<Utc>) -> String {
        let local = self.local(instant);
        format!("{} {}", iso_date(local.date()), hh_mm(local))
    }

    /// `YYYY-MM-DDTHH:MM`, a `datetime-local` input's value.
    pub fn input_value(&self, instant: DateTime<Utc>) -> String {
        let local = self.local(instant);
        format!("{}T{}", iso_date(local.date()), hh_mm(local))
    }
}

/// The current instant (in the browser from JS: chrono's clock needs std's, which wasm lacks).
pub fn now() -> DateTime<Utc> {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    {
        Utc::now()
    }
}

/// The viewer's zone from context (the app provides it).
pub fn use_viewer_zone() -> ViewerZone {
    use_context::<ViewerZone>().unwrap_or_else(ViewerZone::detect)
}

/// True once the page is hydrated (see [`after_hydration`]).
#[derive(Clone, Copy)]
pub struct Hydrated(pub ReadSignal<bool>);

pub fn provide_time_context() {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_hydrated.set(true));
    provide_context(Hydrated(hydrated));
    provide_context(ViewerZone::detect());
}

pub fn use_hydrated() -> ReadSignal<bool> {
    use_context::<Hydrated>().map(|hydrated| hydrated.0).unwrap_or_else(|| signal(false).0)
}

/// A reactive value that depends on the viewer's zone or clock, which the server could only
/// guess. Hydration adopts the server's HTML without writing it, and later writes only values
/// that differ from the one computed while hydrating; so while hydrating this yields
/// `T::default()`, and the browser's real value, computed once hydrated, always reaches the page.
pub fn after_hydration<T: Default>(
    value: impl Fn() -> T + Clone + Send + Sync + 'static,
) -> impl Fn() -> T + Clone + Send + Sync + 'static {
    let hydrated = use_hydrated();
    move || {
        let hydrating = cfg!(all(feature = "hydrate", not(feature = "ssr"))) && !hydrated.get();
        if hydrating { T::default() } else { value() }
    }
}

/// A time for people: `<time datetime=…>` whose text is `format` of the instant in the
/// viewer's zone.
#[component]
pub fn LocalTime(at: DateTime<Utc>, #[prop(default = ViewerZone::date_time)] format: fn(&ViewerZone, DateTime<Utc>) -> String) -> impl IntoView {
    let zone = use_viewer_zone();
    view! { <time datetime=at.to_rfc3339()>{after_hydration(move || format(&zone, at))}</time> }
}

/// The value of cookie `name` in a `Cookie:` header.
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.replace("%2F", "/"))
    })
}

// Dates are written by hand, not with chrono's `format`: its strftime machinery would weigh on
// the wasm bundle.
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A date's weekday and day of the month, ("Tue", "8").
pub fn day_label(date: NaiveDate) -> (&'static str, String) {
    (WEEKDAYS[date.weekday().num_days_from_monday() as usize], date.day().to_string())
}

fn hh_mm(local: NaiveDateTime) -> String {
    format!("{:02}:{:02}", local.hour(), local.minute())
}

fn iso_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// Minutes since midnight of a local time.
pub fn minute_of_day(local: NaiveDateTime) -> u32 {
    local.hour() * 60 + local.minute()
}

/// Whole days between two dates.
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    i64::from(to.num_days_from_ce() - from.num_days_from_ce())
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
mod browser {
    use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
    use wasm_bindgen::JsValue;

    pub fn zone_name() -> String {
        let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
        js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
            .ok()
            .and_then(|zone| zone.as_string())
            .unwrap_or_else(|| "UTC".to_owned())
    }

    pub fn local(instant: DateTime<Utc>) -> NaiveDateTime {
        let date = js_sys::Date::new(&JsValue::from_f64(instant.timestamp_millis() as f64));
        NaiveDate::from_ymd_opt(date.get_full_year() as i32, date.get_month() + 1, date.get_date())
            .and_then(|day| day.and_hms_opt(date.get_hours(), date.get_minutes(), date.get_seconds()))
            .unwrap_or_else(|| instant.naive_utc())
    }

    pub fn instant(local: NaiveDateTime) -> DateTime<Utc> {
        let date = js_sys::Date::new_with_year_month_day_hr_min_sec(
            local.year() as u32,
            local.month0() as i32,
            local.day() as i32,
            local.hour() as i32,
            local.minute() as i32,
            local.second() as i32,
        );
        DateTime::from_timestamp_millis(date.get_time() as i64).unwrap_or_else(|| local.and_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_for_people_and_for_inputs() {
        use chrono::TimeZone;
        let zone = ViewerZone::detect();
        let at = |h, m| Utc.with_ymd_and_hms(2030, 1, 8, h, m, 0).unwrap();
        assert_eq!(zone.date_time(at(9, 5)), "Tue 8 Jan 2030, 09:05");
        assert_eq!(zone.span(at(9, 0), at(10, 30)), "Tue 8 Jan 2030, 09:00 – 10:30");
        assert_eq!(zone.text_format(at(9, 5)), "2030-01-08 09:05");
        assert_eq!(zone.input_value(at(23, 59)), "2030-01-08T23:59");
    }

    #[test]
    fn the_zone_cookie_is_found_among_others() {
        assert_eq!(cookie_value("a=1; whenly_tz=Europe%2FBerlin; b=2", ZONE_COOKIE).as_deref(), Some("Europe/Berlin"));
        assert_eq!(cookie_value("whenly_session=x", ZONE_COOKIE), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_reads_the_zone_from_the_cookie_and_says_when_it_guessed() {
        let zone_for = |cookie: Option<&str>| {
            let owner = Owner::new();
            owner.with(|| {
                let mut request = axum::http::Request::builder();
                if let Some(cookie) = cookie {
                    request = request.header(axum::http::header::COOKIE, cookie);
                }
                provide_context(request.body(()).unwrap().into_parts().0);
                ViewerZone::detect()
            })
        };
        let berlin = zone_for(Some("whenly_session=x; whenly_tz=Europe%2FBerlin"));
        assert_eq!((berlin.name(), berlin.is_known()), ("Europe/Berlin", true));
        let unknown = zone_for(None);
        assert_eq!((unknown.name(), unknown.is_known()), ("UTC", false));
        let nonsense = zone_for(Some("whenly_tz=Mars%2FOlympus"));
        assert_eq!((nonsense.name(), nonsense.is_known()), ("UTC", false));
    }
}
