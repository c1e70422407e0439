//! Turns "in 20 minutes take the pizza out" or "내일 오전 9시 치과 전화" into an instant
//! and a text: times are computed here, in code, never by the model.
//!
//! No crate fits: the English date parsers (chrono-english, interim) read a whole string
//! as one date, know neither repeats ("every weekday at 8") nor Korean, and cannot find the
//! time phrase inside a sentence. This is a small grammar instead: each kind of phrase is a
//! regular expression (relative offsets, repeats, dates, times of day, parts of the day, in
//! English and Korean), the phrases found are combined, the rest of the text is what to be
//! reminded of. Local times become instants through the person's IANA zone (chrono-tz),
//! so repeats stay at the same wall-clock time across daylight-saving changes.

use std::sync::LazyLock;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// Which days a repeating reminder fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Days {
    /// Every day.
    Daily,
    /// Monday to Friday.
    Weekdays,
    /// Saturday and Sunday.
    Weekends,
    /// One day of the week.
    Weekly(Weekday),
}

impl Days {
    fn includes(self, day: Weekday) -> bool {
        match self {
            Days::Daily => true,
            Days::Weekdays => !matches!(day, Weekday::Sat | Weekday::Sun),
            Days::Weekends => matches!(day, Weekday::Sat | Weekday::Sun),
            Days::Weekly(d) => d == day,
        }
    }
}

/// A repeat: which days, at what local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    /// The days.
    pub days: Days,
    /// The wall-clock time in the reminder's zone.
    pub at: NaiveTime,
}

impl Repeat {
    /// The first firing strictly after `after`, at the local time in `zone`.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let start = after.with_timezone(&zone).date_naive();
        for offset in 0..=8 {
            let day = start + Duration::days(offset);
            if !self.days.includes(day.weekday()) {
                continue;
            }
            let instant = local_instant(zone, day.and_time(self.at));
            if instant > after {
                return instant;
            }
        }
        // Unreachable for any rule (each includes a day within 8); keep a sane answer.
        after + Duration::days(1)
    }

    /// The repeat in `lang`: "every weekday at 08:00", "평일 08:00마다".
    pub fn describe_in(&self, lang: crate::lang::Lang) -> String {
        if lang == crate::lang::Lang::En {
            return self.describe();
        }
        let days = match self.days {
            Days::Daily => "매일".to_owned(),
            Days::Weekdays => "평일".to_owned(),
            Days::Weekends => "주말".to_owned(),
            Days::Weekly(day) => format!("매주 {}요일", weekday_ko_short(day)),
        };
        format!("{days} {}", self.at.format("%H:%M"))
    }

    /// "every weekday at 08:00".
    pub fn describe(&self) -> String {
        let days = match self.days {
            Days::Daily => "every day".to_owned(),
            Days::Weekdays => "every weekday".to_owned(),
            Days::Weekends => "every weekend day".to_owned(),
            Days::Weekly(day) => format!("every {}", weekday_name(day)),
        };
        format!("{days} at {}", self.at.format("%H:%M"))
    }
}

/// When a reminder fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Once, at this instant.
    Once(DateTime<Utc>),
    /// Repeatedly.
    Every(Repeat),
}

/// What a reminder request says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// When.
    pub when: When,
    /// What to be reminded of.
    pub what: String,
}

impl Request {
    /// The first instant the reminder fires, after `now`.
    pub fn first(&self, now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        match self.when {
            When::Once(at) => at,
            When::Every(repeat) => repeat.next_after(now, zone),
        }
    }
}

/// Why a request could not be read; each says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    /// No time phrase found.
    #[error("I could not find a time in that")]
    NoTime,
    /// Two phrases of the same kind ("tomorrow on Friday").
    #[error("that names more than one time ({0} and {1})")]
    Conflicting(String, String),
    /// The time is not a real one ("at 25:00", "on 2027-02-30").
    #[error("{0} is not a valid time or date")]
    Invalid(String),
    /// The time named has already passed.
    #[error("{0} has already passed")]
    Past(String),
    /// A repeat without a time of day ("every day").
    #[error("that repeats, but says no time of day")]
    RepeatWithoutTime,
    /// Nothing left to be reminded of.
    #[error("that says when, but not what to remind you of")]
    NoText,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DateSpec {
    Today,
    Tomorrow,
    DayAfterTomorrow,
    /// The next such weekday (`true`: "next Friday", never today).
    Weekday(Weekday, bool),
    /// Month and day, with or without a year.
    Calendar(Option<i32>, u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Half {
    Am,
    Pm,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    After(Duration),
    Every(Days),
    Date(DateSpec),
    /// Hour, minute, morning/afternoon.
    Time(u32, u32, Half),
    /// A part of the day without a clock time ("tomorrow morning", "tonight").
    DayPart(u32),
    /// "tonight": today, in the evening.
    Tonight,
}

impl Piece {
    fn slot(self) -> u8 {
        match self {
            Piece::After(_) => 0,
            Piece::Every(_) => 1,
            Piece::Date(_) | Piece::Tonight => 2,
            Piece::Time(..) => 3,
            Piece::DayPart(_) => 4,
        }
    }
}

type Reader = fn(&regex::Captures<'_>) -> Option<Piece>;

const WEEKDAYS_EN: &str = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun)";
const WEEKDAYS_FULL: &str = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)";
const MONTHS_EN: &str = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)";
const NUMBER_EN: &str = r"(\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|forty-five|fifty|sixty|ninety|half an?|a half|a couple of|couple of|a few|few)";
const HOUR_EN: &str = r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)";
const HOUR_WORD: &str = r"(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b";
const UNITS_EN: &str =
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|days?|d|weeks?|wks?|w)";

/// The phrase kinds, in the order they claim text: a longer, more specific phrase first,
/// so "every Monday" is a repeat before "Monday" could be a date.
static PATTERNS: LazyLock<Vec<(Regex, Reader)>> = LazyLock::new(|| {
    let p = |pattern: String, read: Reader| {
        (
            Regex::new(&format!("(?i){pattern}")).expect("a valid pattern"),
            read,
        )
    };
    vec![
        // "in 20 minutes", "in 1 hour and 30 minutes", "in 1h30m", "in half an hour".
        p(
            format!(r"\b(?:in|after)\s+{NUMBER_EN}\s*{UNITS_EN}(?:\s*(?:and\s+)?(\d+)\s*(minutes?|mins?|m))?\b(?:\s+from\s+now)?"),
            |c| {
                let mut total = duration_of(amount(c.get(1)?.as_str())?, c.get(2)?.as_str())?;
                if let (Some(n), Some(u)) = (c.get(3), c.get(4)) {
                    total += duration_of(n.as_str().parse().ok()?, u.as_str())?;
                }
                Some(Piece::After(total))
            },
        ),
        // "an hour and a half".
        p(r"\bin\s+an?\s+hour\s+and\s+a\s+half\b".into(), |_| Some(Piece::After(Duration::minutes(90)))),
        // "20분 후", "2시간 뒤", "1시간 30분 후에", "10초 후".
        p(
            r"(\d+)\s*(초|분|시간|일|주)\s*(?:(\d+)\s*분\s*)?(?:후|뒤|있다가|이따가|지나서)(?:에)?".into(),
            |c| {
                let n: f64 = c.get(1)?.as_str().parse().ok()?;
                let unit = unit_ko(c.get(2)?.as_str());
                let mut total = duration_of(n, unit)?;
                if let Some(m) = c.get(3) {
                    total += Duration::minutes(m.as_str().parse().ok()?);
                }
                Some(Piece::After(total))
            },
        ),
        // Repeats.
        p(r"\b(?:every\s+(?:week\s*day|weekday)s?|on\s+weekdays|weekdays|each\s+weekday)\b".into(), |_| Some(Piece::Every(Days::Weekdays))),
        p(r"\b(?:every\s+weekend(?:\s+day)?|on\s+weekends|weekends)\b".into(), |_| Some(Piece::Every(Days::Weekends))),
        p(r"\b(?:every\s*day|everyday|daily|each\s+day)\b".into(), |_| Some(Piece::Every(Days::Daily))),
        p(r"\bevery\s+(morning|afternoon|evening|night)\b".into(), |_| Some(Piece::Every(Days::Daily))),
        p(format!(r"\b(?:every|each)\s+{WEEKDAYS_EN}s?\b"), |c| Some(Piece::Every(Days::Weekly(weekday_en(c.get(1)?.as_str())?)))),
        p(format!(r"\bon\s+{WEEKDAYS_EN}s\b"), |c| Some(Piece::Every(Days::Weekly(weekday_en(c.get(1)?.as_str())?)))),
        p(r"(?:매일|날마다)".into(), |_| Some(Piece::Every(Days::Daily))),
        p(r"(?:평일|주중)(?:마다|에는|에)?".into(), |_| Some(Piece::Every(Days::Weekdays))),
        p(r"(?:주말)(?:마다|에는|에)?".into(), |_| Some(Piece::Every(Days::Weekends))),
        p(r"매주\s*([월화수목금토일])요일(?:마다|에는|에)?".into(), |c| Some(Piece::Every(Days::Weekly(weekday_ko(c.get(1)?.as_str())?)))),
        p(r"([월화수목금토일])요일마다".into(), |c| Some(Piece::Every(Days::Weekly(weekday_ko(c.get(1)?.as_str())?)))),
        // Dates.
        p(r"\b(?:on\s+)?(\d{4})-(\d{1,2})-(\d{1,2})\b".into(), |c| {
            Some(Piece::Date(DateSpec::Calendar(Some(c.get(1)?.as_str().parse().ok()?), c.get(2)?.as_str().parse().ok()?, c.get(3)?.as_str().parse().ok()?)))
        }),
        p(r"(?:(\d{4})\s*년\s*)?(\d{1,2})\s*월\s*(\d{1,2})\s*일(?:에)?".into(), |c| {
            let year = match c.get(1) {
                Some(y) => Some(y.as_str().parse().ok()?),
                None => None,
            };
            Some(Piece::Date(DateSpec::Calendar(year, c.get(2)?.as_str().parse().ok()?, c.get(3)?.as_str().parse().ok()?)))
        }),
        p(format!(r"\b(?:on\s+)?(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS_EN}\.?(?:,?\s+(\d{{4}}))?\b"), |c| {
            let year = match c.get(3) {
                Some(y) => Some(y.as_str().parse().ok()?),
                None => None,
            };
            Some(Piece::Date(DateSpec::Calendar(year, month_en(c.get(2)?.as_str())?, c.get(1)?.as_str().parse().ok()?)))
        }),
        p(format!(r"\b(?:on\s+)?{MONTHS_EN}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"), |c| {
            let year = match c.get(3) {
                Some(y) => Some(y.as_str().parse().ok()?),
                None => None,
            };
            Some(Piece::Date(DateSpec::Calendar(year, month_en(c.get(1)?.as_str())?, c.get(2)?.as_str().parse().ok()?)))
        }),
        p(r"\b(?:the\s+)?day\s+after\s+tomorrow\b".into(), |_| Some(Piece::Date(DateSpec::DayAfterTomorrow))),
        p(r"\btomorrow\b".into(), |_| Some(Piece::Date(DateSpec::Tomorrow))),
        p(r"\btonight\b".into(), |_| Some(Piece::Tonight)),
        p(r"\btoday\b".into(), |_| Some(Piece::Date(DateSpec::Today))),
        p(format!(r"\b(?:on\s+)?(next\s+|this\s+)?{WEEKDAYS_FULL}\b"), |c| {
            let next = c.get(1).is_some_and(|m| m.as_str().trim().eq_ignore_ascii_case("next"));
            Some(Piece::Date(DateSpec::Weekday(weekday_en(c.get(2)?.as_str())?, next)))
        }),
        // Short names ("fri") only after next/this: "put on sun cream" is no Sunday.
        p(format!(r"\b(next\s+|this\s+){WEEKDAYS_EN}\b"), |c| {
            let next = c.get(1).is_some_and(|m| m.as_str().trim().eq_ignore_ascii_case("next"));
            Some(Piece::Date(DateSpec::Weekday(weekday_en(c.get(2)?.as_str())?, next)))
        }),
        p(r"모레(?:에)?".into(), |_| Some(Piece::Date(DateSpec::DayAfterTomorrow))),
        p(r"내일(?:은|에)?".into(), |_| Some(Piece::Date(DateSpec::Tomorrow))),
        p(r"오늘(?:은)?".into(), |_| Some(Piece::Date(DateSpec::Today))),
        p(r"(?:(다음\s*주|이번\s*주)\s*)?([월화수목금토일])요일(?:에)?".into(), |c| {
            let next = c.get(1).is_some_and(|m| m.as_str().starts_with("다음"));
            let day = weekday_ko(c.get(2)?.as_str())?;
            Some(Piece::Date(DateSpec::Weekday(day, next)))
        }),
        // Times of day. Spelled first: "half past nine", "quarter to 8 pm", "at nine thirty".
        p(format!(r"\b(?:at\s+)?(half|quarter|a\s+quarter)\s+(past|after|to|before)\s+{HOUR_EN}\b(?:\s*(a\.m\.|p\.m\.|am|pm)|\s+(?:in\s+the\s+)?(morning|afternoon|evening|at\s+night|tonight))?"), |c| {
            let minutes = if c.get(1)?.as_str().eq_ignore_ascii_case("half") { 30 } else { 15 };
            let hour = hour_en(c.get(3)?.as_str())?;
            let (hour, minute) = match c.get(2)?.as_str().to_ascii_lowercase().as_str() {
                "to" | "before" => (
                    match hour {
                        0 => 23,
                        1 => 12,
                        h => h - 1,
                    },
                    60 - minutes,
                ),
                _ => (hour, minutes),
            };
            Some(Piece::Time(hour, minute, spelled_half(c.get(4), c.get(5))))
        }),
        // A spelled hour needs something that makes it a time ("o'clock", "thirty", "pm",
        // "in the evening", or the end of the sentence): "look at one of them" is none.
        p(format!(r"\bat\s+{HOUR_WORD}(?:\s+(o'?clock|fifteen|thirty|forty-five|forty\s+five))?(?:\s*(a\.m\.|p\.m\.|am|pm)|\s+(?:in\s+the\s+)?(morning|afternoon|evening|at\s+night|tonight))?(\s*(?:[,.!?]|$))?"), |c| {
            if c.get(2).is_none() && c.get(3).is_none() && c.get(4).is_none() && c.get(5).is_none() {
                return None;
            }
            let minute = match c.get(2).map(|m| m.as_str().to_ascii_lowercase()) {
                Some(m) if m == "fifteen" => 15,
                Some(m) if m == "thirty" => 30,
                Some(m) if m.starts_with("forty") => 45,
                _ => 0,
            };
            Some(Piece::Time(hour_en(c.get(1)?.as_str())?, minute, spelled_half(c.get(3), c.get(4))))
        }),
        // "at 9 thirty".
        p(r"\bat\s+(\d{1,2})\s+(fifteen|thirty|forty-five|forty\s+five)\b".into(), |c| {
            let minute = match c.get(2)?.as_str().to_ascii_lowercase().as_str() {
                "fifteen" => 15,
                "thirty" => 30,
                _ => 45,
            };
            Some(Piece::Time(c.get(1)?.as_str().parse().ok()?, minute, Half::Unknown))
        }),
        p(r"(?:\bat\s+|@\s*)?\b(\d{1,2})(?:[:.](\d{2}))?\s*(a\.m\.|p\.m\.|am|pm)(?:\W|$)".into(), |c| {
            let half = if c.get(3)?.as_str().to_ascii_lowercase().starts_with('a') { Half::Am } else { Half::Pm };
            Some(Piece::Time(c.get(1)?.as_str().parse().ok()?, minutes(c.get(2))?, half))
        }),
        p(r"\b(?:at\s+)?(noon|midday|midnight)\b".into(), |c| {
            Some(if c.get(1)?.as_str().eq_ignore_ascii_case("midnight") { Piece::Time(0, 0, Half::Am) } else { Piece::Time(12, 0, Half::Pm) })
        }),
        p(r"(오전|오후|아침|저녁|밤|새벽|낮)?\s*(\d{1,2})\s*시(간)?(?:\s*(\d{1,2})\s*분|\s*(반))?(?:에|까지)?".into(), |c| {
            if c.get(3).is_some() {
                // "2시간" is a duration, not two o'clock.
                return None;
            }
            let half = match c.get(1).map(|m| m.as_str()) {
                Some("오전" | "아침" | "새벽") => Half::Am,
                Some("오후" | "저녁" | "밤" | "낮") => Half::Pm,
                _ => Half::Unknown,
            };
            let minute = if c.get(5).is_some() { 30 } else { minutes(c.get(4))? };
            Some(Piece::Time(c.get(2)?.as_str().parse().ok()?, minute, half))
        }),
        p(r"(?:\bat\s+|@\s*)?\b(\d{1,2}):(\d{2})\b(?:에)?".into(), |c| {
            Some(Piece::Time(c.get(1)?.as_str().parse().ok()?, minutes(c.get(2))?, Half::Unknown))
        }),
        p(r"\bat\s+(\d{1,2})\b(?:\s*o'?clock)?".into(), |c| Some(Piece::Time(c.get(1)?.as_str().parse().ok()?, 0, Half::Unknown))),
        // Parts of the day, for a date without a clock time.
        p(r"\b(?:in\s+the\s+)?(morning|afternoon|evening)\b".into(), |c| {
            Some(Piece::DayPart(match c.get(1)?.as_str().to_ascii_lowercase().as_str() {
                "morning" => 9,
                "afternoon" => 15,
                _ => 18,
            }))
        }),
        // Korean day parts only with 에 ("내일 아침에"): bare, they are as often nouns
        // ("저녁 약속", a dinner date) and stay in the text.
        p(r"(아침|오전|점심|오후|저녁|밤)에".into(), |c| {
            Some(Piece::DayPart(match c.get(1)?.as_str() {
                "아침" | "오전" => 9,
                "점심" => 12,
                "오후" => 15,
                "저녁" => 18,
                _ => 21,
            }))
        }),
    ]
});

fn minutes(m: Option<regex::Match<'_>>) -> Option<u32> {
    match m {
        Some(m) => m.as_str().parse().ok(),
        None => Some(0),
    }
}

/// An hour said in digits or words, 0-24.
fn hour_en(word: &str) -> Option<u32> {
    let hour = match word.parse::<u32>() {
        Ok(n) => n,
        Err(_) => amount(word)? as u32,
    };
    (hour <= 24).then_some(hour)
}

/// Morning or afternoon from "pm" or "in the evening" after a spelled time.
fn spelled_half(suffix: Option<regex::Match<'_>>, part: Option<regex::Match<'_>>) -> Half {
    if let Some(s) = suffix {
        return if s.as_str().to_ascii_lowercase().starts_with('a') {
            Half::Am
        } else {
            Half::Pm
        };
    }
    match part.map(|p| p.as_str().to_ascii_lowercase()) {
        Some(p) if p == "morning" => Half::Am,
        Some(_) => Half::Pm,
        None => Half::Unknown,
    }
}

fn amount(word: &str) -> Option<f64> {
    let word = word.to_ascii_lowercase();
    Some(match word.as_str() {
        "a" | "an" | "one" => 1.0,
        "two" | "a couple of" | "couple of" => 2.0,
        "a few" | "few" | "three" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        "nine" => 9.0,
        "ten" => 10.0,
        "eleven" => 11.0,
        "twelve" => 12.0,
        "fifteen" => 15.0,
        "twenty" => 20.0,
        "thirty" => 30.0,
        "forty" => 40.0,
        "forty-five" => 45.0,
        "fifty" => 50.0,
        "sixty" => 60.0,
        "ninety" => 90.0,
        "half a" | "half an" | "a half" => 0.5,
        number => number.parse().ok()?,
    })
}

/// A Korean time unit as the English letter [`duration_of`] reads; other units unchanged.
fn unit_ko(unit: &str) -> &str {
    match unit {
        "초" => "s",
        "분" => "m",
        "시간" => "h",
        "일" => "d",
        "주" => "w",
        other => other,
    }
}

fn duration_of(amount: f64, unit: &str) -> Option<Duration> {
    let unit = unit.to_ascii_lowercase();
    let seconds_per = match unit.chars().next()? {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        'w' => 604_800.0,
        _ => return None,
    };
    let seconds = amount * seconds_per;
    // Ten years is far enough; past that (or a NaN) it is not a reminder.
    (seconds.is_finite() && seconds > 0.0 && seconds <= 10.0 * 366.0 * 86_400.0)
        .then(|| Duration::seconds(seconds.round() as i64))
}

fn weekday_en(word: &str) -> Option<Weekday> {
    let w = word.to_ascii_lowercase();
    Some(match &w[..3.min(w.len())] {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_ko(word: &str) -> Option<Weekday> {
    Some(match word {
        "월" => Weekday::Mon,
        "화" => Weekday::Tue,
        "수" => Weekday::Wed,
        "목" => Weekday::Thu,
        "금" => Weekday::Fri,
        "토" => Weekday::Sat,
        "일" => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn month_en(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|m| w.starts_with(m))
        .map(|i| i as u32 + 1)
}

/// The instant of a wall-clock time in `zone`: the earlier one when the clock goes back
/// (the hour happens twice), the first valid minute after a gap when it jumps forward.
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut local = local;
    for _ in 0..4 {
        if let Some(at) = zone.from_local_datetime(&local).earliest() {
            return at.with_timezone(&Utc);
        }
        // In a gap (spring forward): move on until the clock exists again.
        local += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

/// The phrases found in `text`: (start, end, piece), in text order.
fn find_pieces(text: &str) -> Vec<(usize, usize, Piece)> {
    let mut found: Vec<(usize, usize, Piece)> = Vec::new();
    for (pattern, read) in PATTERNS.iter() {
        for captures in pattern.captures_iter(text) {
            let whole = captures.get(0).expect("group 0 is the match");
            let (start, end) = (whole.start(), whole.end());
            if found.iter().any(|(s, e, _)| start < *e && *s < end) {
                continue;
            }
            if let Some(piece) = read(&captures) {
                found.push((start, end, piece));
            }
        }
    }
    found.sort_by_key(|(start, _, _)| *start);
    found
}

/// Time phrases next to each other (only spaces, commas and small words between) form one
/// cluster: "every weekday at 7:30". The first cluster is the request's time, and must make
/// sense on its own; a later cluster joins it when it adds to it ("remind me at 9 to call the
/// dentist tomorrow") and otherwise stays in the text ("... summarize what I did today").
fn choose(
    text: &str,
    pieces: Vec<(usize, usize, Piece)>,
) -> Result<Vec<(usize, usize, Piece)>, WhenError> {
    static GLUE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:[\s,]|\bat\b|\bon\b|\bin\b|\band\b|\bthe\b|에)*$")
            .expect("a valid pattern")
    });
    let mut clusters: Vec<Vec<(usize, usize, Piece)>> = Vec::new();
    for piece in pieces {
        match clusters.last_mut() {
            Some(cluster) if GLUE.is_match(&text[cluster.last().map_or(0, |p| p.1)..piece.0]) => {
                cluster.push(piece);
            }
            _ => clusters.push(vec![piece]),
        }
    }
    let mut clusters = clusters.into_iter();
    let Some(first) = clusters.next() else {
        return Err(WhenError::NoTime);
    };
    fits(text, &[], &first)?;
    let mut chosen = first;
    for cluster in clusters {
        if fits(text, &chosen, &cluster).is_ok() {
            chosen.extend(cluster);
        }
    }
    chosen.sort_by_key(|(start, _, _)| *start);
    Ok(chosen)
}

/// Whether `more` can join `chosen`: no kind twice, an offset alone, a repeat without a date.
fn fits(
    text: &str,
    chosen: &[(usize, usize, Piece)],
    more: &[(usize, usize, Piece)],
) -> Result<(), WhenError> {
    let mut seen: [Option<&str>; 5] = [None; 5];
    for (start, end, piece) in chosen.iter().chain(more) {
        let phrase = text[*start..*end].trim();
        let slot = &mut seen[piece.slot() as usize];
        if let Some(earlier) = slot {
            return Err(WhenError::Conflicting(
                (*earlier).to_owned(),
                phrase.to_owned(),
            ));
        }
        *slot = Some(phrase);
    }
    let [after, every, date, time, part] = seen;
    if let Some(after) = after
        && let Some(other) = every.or(date).or(time).or(part)
    {
        return Err(WhenError::Conflicting(after.to_owned(), other.to_owned()));
    }
    if let (Some(every), Some(date)) = (every, date) {
        return Err(WhenError::Conflicting(every.to_owned(), date.to_owned()));
    }
    Ok(())
}

/// Whether `text` names a time at all (for telling a reminder request from a question).
pub fn mentions_time(text: &str) -> bool {
    !find_pieces(text).is_empty()
}

/// Reads a reminder request: the time phrases anywhere in `text`, resolved against `now`
/// in `zone`; the rest is what to be reminded of.
pub fn parse(text: &str, now: DateTime<Utc>, zone: Tz) -> Result<Request, WhenError> {
    let (when, pieces) = resolve(text, now, zone)?;
    let what = rest_of(text, &pieces);
    if what.is_empty() {
        return Err(WhenError::NoText);
    }
    Ok(Request { when, what })
}

/// Reads a request whose time phrase and text come apart (a model's tool call:
/// `when` = "tomorrow at 9", `what` = "call the dentist"). Only `when` is searched for
/// times, so a time-like word in the text changes nothing.
pub fn parse_parts(
    when: &str,
    what: &str,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Request, WhenError> {
    let (when, _) = resolve(when, now, zone)?;
    let what = what.trim();
    if what.is_empty() {
        return Err(WhenError::NoText);
    }
    Ok(Request {
        when,
        what: what.to_owned(),
    })
}

/// The instant or repeat the time phrases in `text` name, and where those phrases are.
#[allow(clippy::type_complexity)]
fn resolve(
    text: &str,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<(When, Vec<(usize, usize, Piece)>), WhenError> {
    let pieces = choose(text, find_pieces(text))?;
    let mut slots: [Option<(Piece, &str)>; 5] = [None; 5];
    for (start, end, piece) in &pieces {
        let phrase = text[*start..*end].trim();
        let slot = &mut slots[piece.slot() as usize];
        if let Some((_, earlier)) = slot {
            return Err(WhenError::Conflicting(
                (*earlier).to_owned(),
                phrase.to_owned(),
            ));
        }
        *slot = Some((*piece, phrase));
    }
    let [after, every, date, mut time, part] = slots;
    // "at 7 in the evening": the part of the day says which 7.
    if let (Some((Piece::Time(h, m, Half::Unknown), p)), Some((Piece::DayPart(d), _))) =
        (time, part)
        && h <= 12
    {
        time = Some((
            Piece::Time(h, m, if d >= 12 { Half::Pm } else { Half::Am }),
            p,
        ));
    }
    let when_phrase = pieces
        .iter()
        .map(|(s, e, _)| text[*s..*e].trim())
        .collect::<Vec<_>>()
        .join(" ");
    let local_now = now.with_timezone(&zone).naive_local();
    let when = if let Some((Piece::After(by), phrase)) = after {
        if let Some((_, other)) = every.or(date).or(time).or(part) {
            return Err(WhenError::Conflicting(phrase.to_owned(), other.to_owned()));
        }
        When::Once(now + by)
    } else if let Some((Piece::Every(days), phrase)) = every {
        if let Some((_, other)) = date {
            return Err(WhenError::Conflicting(phrase.to_owned(), other.to_owned()));
        }
        let at = match (time, part) {
            (Some((Piece::Time(h, m, half), p)), _) => {
                clock_time(h, m, half).ok_or_else(|| WhenError::Invalid(p.to_owned()))?
            }
            (None, Some((Piece::DayPart(h), _))) => {
                NaiveTime::from_hms_opt(h, 0, 0).expect("a valid hour")
            }
            _ if phrase.to_lowercase().contains("morning") => {
                NaiveTime::from_hms_opt(9, 0, 0).expect("9:00")
            }
            _ if phrase.to_lowercase().contains("evening")
                || phrase.to_lowercase().contains("night") =>
            {
                NaiveTime::from_hms_opt(18, 0, 0).expect("18:00")
            }
            _ if phrase.to_lowercase().contains("afternoon") => {
                NaiveTime::from_hms_opt(15, 0, 0).expect("15:00")
            }
            _ => return Err(WhenError::RepeatWithoutTime),
        };
        When::Every(Repeat { days, at })
    } else {
        let tonight = matches!(date, Some((Piece::Tonight, _)));
        let day = match date {
            Some((Piece::Date(spec), phrase)) => Some((
                resolve_date(spec, local_now.date())
                    .ok_or_else(|| WhenError::Invalid(phrase.to_owned()))?,
                spec,
            )),
            Some((Piece::Tonight, _)) => Some((local_now.date(), DateSpec::Today)),
            _ => None,
        };
        let local = match (day, time, part) {
            (Some((day, spec)), time, part) => {
                let at = match (time, part) {
                    (Some((Piece::Time(h, m, half), p)), _) => {
                        let half = if tonight && half == Half::Unknown {
                            Half::Pm
                        } else {
                            half
                        };
                        clock_time(h, m, half).ok_or_else(|| WhenError::Invalid(p.to_owned()))?
                    }
                    (None, Some((Piece::DayPart(h), _))) => {
                        NaiveTime::from_hms_opt(h, 0, 0).expect("a valid hour")
                    }
                    _ if tonight => NaiveTime::from_hms_opt(20, 0, 0).expect("20:00"),
                    _ => NaiveTime::from_hms_opt(9, 0, 0).expect("9:00"),
                };
                let mut local = day.and_time(at);
                // "on Friday at 8" said on a Friday at 9: next week's; a date without a
                // year that has passed: next year's.
                if local <= local_now {
                    match spec {
                        DateSpec::Weekday(..) => local += Duration::days(7),
                        DateSpec::Calendar(None, month, dom) => {
                            let next = NaiveDate::from_ymd_opt(day.year() + 1, month, dom)
                                .ok_or_else(|| WhenError::Invalid(when_phrase.clone()))?;
                            local = next.and_time(at);
                        }
                        _ => return Err(WhenError::Past(when_phrase)),
                    }
                }
                local
            }
            (None, Some((Piece::Time(h, m, half), p)), _) => {
                // A clock time alone: the next time the clock shows it; "at 5" without am/pm
                // is whichever of 5:00 and 17:00 comes first.
                let candidates: Vec<NaiveTime> = match half {
                    Half::Unknown if (1..12).contains(&h) => {
                        [clock_time(h, m, Half::Am), clock_time(h, m, Half::Pm)]
                            .into_iter()
                            .flatten()
                            .collect()
                    }
                    _ => clock_time(h, m, half).into_iter().collect(),
                };
                if candidates.is_empty() {
                    return Err(WhenError::Invalid(p.to_owned()));
                }
                let today = local_now.date();
                let mut options: Vec<NaiveDateTime> = candidates
                    .iter()
                    .flat_map(|t| [today.and_time(*t), (today + Duration::days(1)).and_time(*t)])
                    .filter(|at| *at > local_now)
                    .collect();
                options.sort();
                options[0]
            }
            (None, None, Some((Piece::DayPart(h), phrase))) => {
                let local = local_now
                    .date()
                    .and_time(NaiveTime::from_hms_opt(h, 0, 0).expect("a valid hour"));
                if local <= local_now {
                    return Err(WhenError::Past(phrase.to_owned()));
                }
                local
            }
            _ => return Err(WhenError::NoTime),
        };
        let at = local_instant(zone, local);
        if at <= now {
            return Err(WhenError::Past(when_phrase));
        }
        When::Once(at)
    };
    Ok((when, pieces))
}

/// A clock time from an hour, minutes and a half of the day; an hour without am/pm is
/// read on a 24-hour clock ("tomorrow at 9" is 9:00).
fn clock_time(hour: u32, minute: u32, half: Half) -> Option<NaiveTime> {
    let hour = match half {
        Half::Am if hour == 12 => 0,
        Half::Am if hour <= 12 => hour,
        Half::Pm if hour < 12 => hour + 12,
        Half::Pm if hour == 12 => 12,
        Half::Unknown if hour <= 24 => hour % 24,
        _ => return None,
    };
    NaiveTime::from_hms_opt(hour, minute, 0)
}

fn resolve_date(spec: DateSpec, today: NaiveDate) -> Option<NaiveDate> {
    Some(match spec {
        DateSpec::Today => today,
        DateSpec::Tomorrow => today + Duration::days(1),
        DateSpec::DayAfterTomorrow => today + Duration::days(2),
        DateSpec::Weekday(day, next) => {
            let ahead =
                (day.num_days_from_monday() + 7 - today.weekday().num_days_from_monday()) % 7;
            let ahead = if ahead == 0 && next { 7 } else { ahead };
            today + Duration::days(i64::from(ahead))
        }
        DateSpec::Calendar(Some(year), month, day) => NaiveDate::from_ymd_opt(year, month, day)?,
        DateSpec::Calendar(None, month, day) => NaiveDate::from_ymd_opt(today.year(), month, day)
            // 29 February in a year without one: the next year that has it is too far.
            .or_else(|| NaiveDate::from_ymd_opt(today.year() + 1, month, day))?,
    })
}

static LEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(?:(?:hey|hi|ok|okay|please|pls|can you|could you|would you|will you|kindly|set an? reminder|set a timer|reminder|remind|me|to|that|about|of|for|and)\b|(?:에는|에|은|는)(?:\s|$)|[,:\-–—])\s*)+")
        .expect("a valid pattern")
});
static TRAILING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\s*(?:[,.!?~]|\b(?:please|pls|thanks|thank you|for me|to|on|at|in|and)\b|(?:고)?\s*(?:알려\s*(?:줘요|줘|주세요|줄래|주라)|리마인드(?:\s*해\s*(?:줘|주세요))?|알림(?:\s*설정)?(?:\s*해\s*(?:줘|주세요))?|알람(?:\s*맞춰\s*(?:줘|주세요))?|말해\s*(?:줘|주세요)|챙겨\s*(?:줘|주세요))))+$")
        .expect("a valid pattern")
});

/// What is left of `text` once the time phrases and the "remind me to" around them are gone.
fn rest_of(text: &str, pieces: &[(usize, usize, Piece)]) -> String {
    let mut rest = String::new();
    let mut from = 0;
    for (start, end, _) in pieces {
        rest.push_str(&text[from..*start]);
        rest.push(' ');
        from = *end;
    }
    rest.push_str(&text[from..]);
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = LEADING.replace(&rest, "");
    let rest = TRAILING.replace(&rest, "");
    rest.trim().to_owned()
}

/// Reads a duration for snoozing: "10m", "10 min", "1h", "2 hours", "30초", "10분".
pub fn parse_duration(text: &str) -> Option<Duration> {
    static SHORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:for\s+|in\s+)?(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|days?|d|weeks?|w|초|분|시간|일|주)\s*(?:후|뒤)?\s*$").expect("a valid pattern")
    });
    let c = SHORT.captures(text)?;
    let n: f64 = c.get(1)?.as_str().parse().ok()?;
    let unit = unit_ko(c.get(2)?.as_str());
    duration_of(n, unit)
}

/// "Fri 15 Jan 2027 09:00" in `zone`.
pub fn format_instant(at: DateTime<Utc>, zone: Tz) -> String {
    format_instant_in(at, zone, crate::lang::Lang::En)
}

/// An instant as a person reads it in `lang`: "Fri 15 Jan 2027 09:00", "2027년 1월 15일 (금) 09:00".
pub fn format_instant_in(at: DateTime<Utc>, zone: Tz, lang: crate::lang::Lang) -> String {
    let local = at.with_timezone(&zone);
    match lang {
        crate::lang::Lang::En => local.format("%a %-d %b %Y %H:%M").to_string(),
        crate::lang::Lang::Ko => format!(
            "{}년 {}월 {}일 ({}) {}",
            local.year(),
            local.month(),
            local.day(),
            weekday_ko_short(local.weekday()),
            local.format("%H:%M")
        ),
    }
}

fn weekday_ko_short(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "월",
        Weekday::Tue => "화",
        Weekday::Wed => "수",
        Weekday::Thu => "목",
        Weekday::Fri => "금",
        Weekday::Sat => "토",
        Weekday::Sun => "일",
    }
}

/// How late something is, in `lang`: "2 h", "2시간 5분".
pub fn format_lateness_in(by: Duration, lang: crate::lang::Lang) -> String {
    if lang == crate::lang::Lang::En {
        return format_lateness(by);
    }
    let minutes = by.num_minutes().max(1);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}일"));
    }
    if hours > 0 {
        parts.push(format!("{hours}시간"));
    }
    if mins > 0 && days == 0 {
        parts.push(format!("{mins}분"));
    }
    parts.join(" ")
}

/// "2 h", "5 min", "1 day 3 h": how late something is.
pub fn format_lateness(by: Duration) -> String {
    let minutes = by.num_minutes().max(1);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} day{}", if d == 1 { "" } else { "s" }),
        (d, h, _) => format!("{d} day{} {h} h", if d == 1 { "" } else { "s" }),
    }
}
