//! The availability grid: days across, quarter hours down, in the viewer's zone. One layout
//! serves two grids: the participant's own answer, and the heatmap of how many are free (and
//! how many more only if need be) in each cell.
//!
//! Each cell of an answer is busy, free or if need be. The painter holds a brush (free or if
//! need be, chosen beside the grid): a drag (mouse or touch) paints the rectangle from where it
//! started with the brush, or clears it back to busy when it started on a cell the brush had
//! already painted; the keyboard does the same one cell at a time (arrows move, Space paints).
//!
//! The grids are drawn only in the browser: cells depend on the viewer's zone, which the server
//! can only guess, and they are useless without the wasm anyway (the text form is not). Until
//! then a placeholder of the same size holds their place, so nothing jumps.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use leptos::prelude::*;

use crate::events::{AnswerView, EventView, Heatmap, IntervalInput, SlotView, OPEN_ENDED_DAYS};
use crate::time::{day_label, days_between, minute_of_day, ViewerZone};

/// Minutes per cell.
pub const CELL_MINUTES: i64 = 15;
/// Days per page of the grid.
pub const DAYS_PER_PAGE: usize = 7;
/// The hours shown unless "all hours" is chosen or the answer needs more.
const DAY_HOURS: std::ops::Range<u32> = 8..20;

/// A cell is keyed by its start, in minutes since the Unix epoch.
pub type CellKey = i64;

/// What a painted cell says (a cell not painted is busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Free,
    IfNeedBe,
}

impl Mark {
    /// The cell's `data-state`.
    fn state(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::IfNeedBe => "if-need-be",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::IfNeedBe => "If need be",
        }
    }
}

/// The painted cells of an answer.
pub type Cells = BTreeMap<CellKey, Mark>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub key: CellKey,
    pub start: DateTime<Utc>,
    /// Inside the time the meeting may take: after the deadline, inside the window.
    pub bookable: bool,
}

/// The cells of one page of the grid, `[row][column]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub days: Vec<NaiveDate>,
    /// Minute of the day each row starts at.
    pub rows: Vec<u32>,
    pub cells: Vec<Vec<Cell>>,
    pub pages: usize,
}

/// What the grid needs to know of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The first minute a meeting may start (the deadline, or the window's start if later).
    pub earliest: DateTime<Utc>,
    pub latest: Option<DateTime<Utc>>,
}

impl Bounds {
    pub fn of(event: &EventView) -> Self {
        let deadline = event.deadline;
        let whole_minute = DateTime::from_timestamp(deadline.timestamp().div_euclid(60) * 60, 0).unwrap_or(deadline);
        let after_deadline = if whole_minute < deadline { whole_minute + Duration::minutes(1) } else { whole_minute };
        let earliest = event.window_start.map_or(after_deadline, |start| start.max(after_deadline));
        Self { earliest, latest: event.window_end }
    }

    fn bookable(&self, start: DateTime<Utc>) -> bool {
        start + Duration::minutes(CELL_MINUTES) > self.earliest && self.latest.is_none_or(|latest| start < latest)
    }
}

impl Layout {
    /// Page `page` (0-based) of the grid in `zone`; `all_hours` shows the whole day.
    pub fn new(bounds: Bounds, zone: &ViewerZone, page: usize, all_hours: bool) -> Self {
        let first_day = zone.local(bounds.earliest).date();
        let total_days = match bounds.latest {
            Some(latest) => days_between(first_day, zone.local(latest - Duration::minutes(1)).date()) + 1,
            None => OPEN_ENDED_DAYS,
        }
        .clamp(1, OPEN_ENDED_DAYS);
        let pages = (total_days as usize).div_ceil(DAYS_PER_PAGE);
        let page = page.min(pages - 1);
        let days: Vec<NaiveDate> = (0..total_days)
            .skip(page * DAYS_PER_PAGE)
            .take(DAYS_PER_PAGE)
            .filter_map(|offset| first_day.checked_add_signed(Duration::days(offset)))
            .collect();
        let hours = if all_hours { 0..24 } else { DAY_HOURS };
        let rows: Vec<u32> = (hours.start * 60..hours.end * 60).step_by(CELL_MINUTES as usize).collect();
        let cells = rows
            .iter()
            .map(|&minute| {
                days.iter()
                    .map(|day| {
                        let time = NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap_or(NaiveTime::MIN);
                        let start = zone.instant(day.and_time(time));
                        Cell { key: start.timestamp().div_euclid(60), start, bookable: bounds.bookable(start) }
                    })
                    .collect()
            })
            .collect();
        Self { days, rows, cells, pages }
    }

    fn cell(&self, row: usize, column: usize) -> Option<Cell> {
        self.cells.get(row)?.get(column).copied()
    }

    /// The bookable cells of the rectangle between two corners.
    fn rectangle(&self, (row_a, column_a): (usize, usize), (row_b, column_b): (usize, usize)) -> Vec<CellKey> {
        let mut keys = Vec::new();
        for row in row_a.min(row_b)..=row_a.max(row_b) {
            for column in column_a.min(column_b)..=column_a.max(column_b) {
                if let Some(cell) = self.cell(row, column).filter(|cell| cell.bookable) {
                    keys.push(cell.key);
                }
            }
        }
        keys
    }
}

/// Whether the cell starting at `key` lies in the hours shown by default (in `zone`).
pub fn in_day_hours(key: CellKey, zone: &ViewerZone) -> bool {
    DateTime::from_timestamp(key * 60, 0).is_some_and(|start| DAY_HOURS.contains(&(minute_of_day(zone.local(start)) / 60)))
}

/// Whether an answer needs hours outside the default ones to be seen.
pub fn needs_all_hours(answer: &AnswerView, zone: &ViewerZone, bounds: Bounds) -> bool {
    let outside = |instant: DateTime<Utc>| {
        let minute = minute_of_day(zone.local(instant));
        minute < DAY_HOURS.start * 60 || minute > DAY_HOURS.end * 60
    };
    let window_is_outside = bounds.latest.is_some_and(|latest| outside(bounds.earliest) && outside(latest) && latest - bounds.earliest < Duration::hours(12));
    window_is_outside || answer.free.iter().chain(&answer.if_need_be).any(|slot| outside(slot.start) || outside(slot.end))
}

/// The cells an answer covers completely, free ones over if-need-be ones.
pub fn cells_of(answer: &AnswerView) -> Cells {
    let mut cells: Cells = keys_of(&answer.if_need_be).into_iter().map(|key| (key, Mark::IfNeedBe)).collect();
    cells.extend(keys_of(&answer.free).into_iter().map(|key| (key, Mark::Free)));
    cells
}

/// The cells `slots` cover completely.
fn keys_of(slots: &[SlotView]) -> Vec<CellKey> {
    let mut keys = Vec::new();
    for slot in slots {
        let first = slot.start.timestamp().div_euclid(60).div_euclid(CELL_MINUTES) * CELL_MINUTES;
        let mut key = if first * 60 < slot.start.timestamp() { first + CELL_MINUTES } else { first };
        while (key + CELL_MINUTES) * 60 <= slot.end.timestamp() {
            keys.push(key);
            key += CELL_MINUTES;
        }
    }
    keys
}

/// The intervals the cells painted `mark` make: runs of adjacent cells become one interval.
pub fn intervals_of(cells: &Cells, mark: Mark) -> Vec<IntervalInput> {
    let mut intervals: Vec<IntervalInput> = Vec::new();
    for (&key, _) in cells.iter().filter(|(_, painted)| **painted == mark) {
        let start = DateTime::from_timestamp(key * 60, 0).unwrap_or_default();
        let end = start + Duration::minutes(CELL_MINUTES);
        match intervals.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => intervals.push(IntervalInput { start, end }),
        }
    }
    intervals
}

/// A drag in progress: where it started, what it paints (`None`: clears to busy), and the
/// cells before.
#[derive(Clone)]
struct Drag {
    anchor: (usize, usize),
    paint: Option<Mark>,
    before: Cells,
}

/// The participant's own answer, painted with `brush`, editable while `editable` holds.
#[component]
pub fn AnswerGrid(
    layout: Signal<Layout>,
    selected: RwSignal<Cells>,
    brush: Signal<Mark>,
    editable: Signal<bool>,
    #[prop(into)] on_change: Callback<()>,
) -> impl IntoView {
    let drag = StoredValue::new(None::<Drag>);
    let active = RwSignal::new((0usize, 0usize));

    let apply = move |drag: &Drag, corner: (usize, usize)| {
        let rectangle = layout.with_untracked(|layout| layout.rectangle(drag.anchor, corner));
        let mut cells = drag.before.clone();
        for key in rectangle {
            match drag.paint {
                Some(mark) => cells.insert(key, mark),
                None => cells.remove(&key),
            };
        }
        if selected.with_untracked(|current| *current != cells) {
            selected.set(cells);
            on_change.run(());
        }
    };
    let start = move |corner: (usize, usize)| {
        let Some(cell) = layout.with_untracked(|layout| layout.cell(corner.0, corner.1)) else { return };
        if !editable.get_untracked() || !cell.bookable {
            return;
        }
        let brush = brush.get_untracked();
        let paint = (selected.with_untracked(|cells| cells.get(&cell.key).copied()) != Some(brush)).then_some(brush);
        let started = Drag { anchor: corner, paint, before: selected.get_untracked() };
        apply(&started, corner);
        drag.set_value(Some(started));
        active.set(corner);
    };
    let extend = move |corner: (usize, usize)| {
        if let Some(current) = drag.get_value() {
            apply(&current, corner);
        }
    };
    let finish = move || drag.set_value(None);

    let on_pointer_down = move |event: leptos::ev::PointerEvent| {
        if let Some(corner) = cell_at(event.client_x(), event.client_y()) {
            event.prevent_default();
            start(corner);
        }
    };
    let on_pointer_move = move |event: leptos::ev::PointerEvent| {
        if drag.with_value(Option::is_some) {
            if let Some(corner) = cell_at(event.client_x(), event.client_y()) {
                extend(corner);
            }
        }
    };
    let _up = window_event_listener(leptos::ev::pointerup, move |_| finish());
    let _cancel = window_event_listener(leptos::ev::pointercancel, move |_| finish());

    let on_key_down = move |event: leptos::ev::KeyboardEvent| {
        let (row, column) = active.get_untracked();
        let (rows, columns) = layout.with_untracked(|layout| (layout.rows.len(), layout.days.len()));
        let moved = match event.key().as_str() {
            "ArrowUp" => Some((row.saturating_sub(1), column)),
            "ArrowDown" => Some(((row + 1).min(rows.saturating_sub(1)), column)),
            "ArrowLeft" => Some((row, column.saturating_sub(1))),
            "ArrowRight" => Some((row, (column + 1).min(columns.saturating_sub(1)))),
            " " | "Enter" => {
                event.prevent_default();
                start((row, column));
                finish();
                return;
            }
            _ => None,
        };
        if let Some(corner) = moved {
            event.prevent_default();
            active.set(corner);
            focus_cell("answer", corner);
        }
    };

    // A cell focused by a click or by the browser becomes the one the keys act on.
    let on_focus_in = move |event: leptos::ev::FocusEvent| {
        if let Some(corner) = focused_cell(&event) {
            active.set(corner);
        }
    };

    view! {
        <div class="grid answer-grid" role="grid"
            aria-label="Your availability: drag, or use the arrow keys and Space, to paint when you are free or free if need be"
            aria-readonly=move || (!editable.get()).to_string()
            on:pointerdown=on_pointer_down on:pointermove=on_pointer_move on:keydown=on_key_down on:focusin=on_focus_in
            style=move || columns_style(layout.with(|layout| layout.days.len()))>
            <GridBody layout cell=move |row, column, cell: Cell| {
                let mark = move || selected.with(|cells| cells.get(&cell.key).copied());
                let is_active = move || active.get() == (row, column);
                view! {
                    <div role="gridcell" id=format!("answer-{row}-{column}") data-row=row data-col=column
                        data-start=cell.start.to_rfc3339()
                        data-state=move || mark().map_or("busy", Mark::state)
                        class="cell" class:bookable=cell.bookable
                        class:selected=move || mark() == Some(Mark::Free) class:maybe=move || mark() == Some(Mark::IfNeedBe)
                        aria-selected=move || mark().is_some().to_string()
                        title=move || mark().map(Mark::label)
                        aria-disabled=(!cell.bookable).then_some("true")
                        tabindex=move || if is_active() { "0" } else { "-1" }></div>
                }.into_any()
            }/>
        </div>
    }
}

/// How many are free in each cell, shaded from none to everyone who answered; cells where
/// more could come if need be are striped.
#[component]
pub fn HeatGrid(layout: Signal<Layout>, heatmap: Signal<Heatmap>) -> impl IntoView {
    view! {
        <div class="grid heat-grid" role="grid" aria-readonly="true" aria-label="Everyone's availability"
            style=move || columns_style(layout.with(|layout| layout.days.len()))>
            <GridBody layout cell=move |_, _, cell: Cell| {
                let end = cell.start + Duration::minutes(CELL_MINUTES);
                // (free, more if need be, answered)
                let counts = move || heatmap.with(|heatmap| {
                    let (free, possible) = heatmap.throughout(cell.start, end);
                    (free, possible.saturating_sub(free), heatmap.answered)
                });
                let level = move || {
                    let (free, _, answered) = counts();
                    if free == 0 || answered == 0 { 0 } else { 1 + (free * 4 - 1) / answered }
                };
                view! {
                    <div role="gridcell" class=move || format!("cell heat-{}{}", level(), if counts().1 > 0 { " maybe-some" } else { "" })
                        class:bookable=cell.bookable
                        data-start=cell.start.to_rfc3339() data-free=move || counts().0.to_string()
                        data-if-need-be=move || counts().1.to_string()
                        title=move || heat_title(counts())></div>
                }.into_any()
            }/>
        </div>
    }
}

/// "2 of 5 free", "2 of 5 free, 1 more if need be".
fn heat_title((free, maybe, answered): (u32, u32, u32)) -> String {
    match maybe {
        0 => format!("{free} of {answered} free"),
        _ => format!("{free} of {answered} free, {maybe} more if need be"),
    }
}

/// The head row and one row per quarter hour; `cell` draws the cell at (row, column).
#[component]
fn GridBody(layout: Signal<Layout>, cell: impl Fn(usize, usize, Cell) -> AnyView + Copy + Send + Sync + 'static) -> impl IntoView {
    view! {
        <GridHead layout/>
        {move || layout.with(|layout| layout.rows.iter().enumerate().map(|(row, &minute)| {
            let cells = layout.cells[row].clone();
            view! {
                <div role="row" class="grid-row">
                    <RowHead minute/>
                    {cells.into_iter().enumerate().map(|(column, at)| cell(row, column, at)).collect_view()}
                </div>
            }
        }).collect_view())}
    }
}

#[component]
fn GridHead(layout: Signal<Layout>) -> impl IntoView {
    view! {
        <div role="row" class="grid-row grid-head">
            <div role="columnheader" class="corner"><span class="visually-hidden">"Time"</span></div>
            {move || layout.with(|layout| layout.days.iter().map(|&day| {
                let (weekday, date) = day_label(day);
                view! { <div role="columnheader"><span>{weekday}</span> <span>{date}</span></div> }
            }).collect_view())}
        </div>
    }
}

/// A row's time; only full hours are shown, the others are for screen readers.
#[component]
fn RowHead(minute: u32) -> impl IntoView {
    let label = format!("{:02}:{:02}", minute / 60, minute % 60);
    view! {
        <div role="rowheader" class="row-head" class:hour=minute % 60 == 0>
            {if minute % 60 == 0 { view! { <span>{label}</span> }.into_any() } else { view! { <span class="visually-hidden">{label}</span> }.into_any() }}
        </div>
    }
}

fn columns_style(days: usize) -> String {
    format!("--days: {days}")
}

/// The grid cell (row, column) under a point, if any: pointer events of a touch stay with the
/// element the touch started on, so the cell is found by position.
fn cell_at(x: i32, y: i32) -> Option<(usize, usize)> {
    #[cfg(feature = "hydrate")]
    {
        let element = leptos::prelude::document().element_from_point(x as f32, y as f32)?;
        let row = element.get_attribute("data-row")?.parse().ok()?;
        let column = element.get_attribute("data-col")?.parse().ok()?;
        Some((row, column))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (x, y);
        None
    }
}

/// The grid cell (row, column) a focus event landed on, if any.
fn focused_cell(event: &leptos::ev::FocusEvent) -> Option<(usize, usize)> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let element = event.target()?.dyn_into::<web_sys::Element>().ok()?;
        let row = element.get_attribute("data-row")?.parse().ok()?;
        let column = element.get_attribute("data-col")?.parse().ok()?;
        Some((row, column))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = event;
        None
    }
}

fn focus_cell(grid: &str, (row, column): (usize, usize)) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(element) = leptos::prelude::document().get_element_by_id(&format!("{grid}-{row}-{column}")) {
            if let Ok(element) = element.dyn_into::<web_sys::HtmlElement>() {
                let _ = element.focus();
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (grid, row, column);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, day, hour, minute, 0).unwrap()
    }

    #[test]
    fn cells_and_intervals_round_trip_on_quarter_hours() {
        let free = vec![SlotView { start: at(8, 9, 0), end: at(8, 10, 0) }, SlotView { start: at(8, 10, 0), end: at(8, 10, 30) }];
        let if_need_be = vec![SlotView { start: at(8, 10, 15), end: at(8, 11, 0) }];
        let cells = cells_of(&AnswerView { free, if_need_be });
        assert_eq!(cells.len(), 8, "09:00–11:00; 10:15–10:30 is free, not if need be");
        assert_eq!(intervals_of(&cells, Mark::Free), vec![IntervalInput { start: at(8, 9, 0), end: at(8, 10, 30) }]);
        assert_eq!(intervals_of(&cells, Mark::IfNeedBe), vec![IntervalInput { start: at(8, 10, 30), end: at(8, 11, 0) }]);
        // Partial quarters are not cells.
        let only = |slot: SlotView| AnswerView { free: vec![slot], if_need_be: vec![] };
        assert!(cells_of(&only(SlotView { start: at(8, 9, 5), end: at(8, 9, 25) })).is_empty());
        assert_eq!(cells_of(&only(SlotView { start: at(8, 9, 5), end: at(8, 9, 45) })).len(), 2);
    }

    #[test]
    fn the_layout_pages_a_window_and_marks_what_is_bookable() {
        let zone = ViewerZone::detect();
        let bounds = Bounds { earliest: at(7, 10, 7), latest: Some(at(16, 12, 0)) };
        let layout = Layout::new(bounds, &zone, 0, false);
        assert_eq!((layout.days.len(), layout.pages, layout.rows.len()), (7, 2, 48));
        assert_eq!(layout.cells[0][0].start, at(7, 8, 0));
        // 10:00–10:15 holds the earliest start (10:07): bookable; 09:45 is not.
        assert!(layout.cells[8][0].bookable && !layout.cells[7][0].bookable);
        let last_page = Layout::new(bounds, &zone, 5, true);
        assert_eq!(last_page.days.len(), 3, "the 14th to the 16th");
        assert_eq!(last_page.rows.len(), 96);
        assert!(last_page.cells[47][2].bookable && !last_page.cells[48][2].bookable, "the window ends at 12:00 on the 16th");
    }

    #[test]
    fn a_drag_rectangle_takes_only_bookable_cells() {
        let zone = ViewerZone::detect();
        let layout = Layout::new(Bounds { earliest: at(7, 9, 0), latest: None }, &zone, 0, false);
        let keys = layout.rectangle((0, 0), (5, 1));
        // Day 1 from 09:00 (rows 4, 5) and all six rows of day 2.
        assert_eq!(keys.len(), 2 + 6);
    }
}
