//! The time grammar against a table of English and Korean requests, a fixed "now" and
//! zone; daylight-saving changes; and any input at all (proptest).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::When;
use super::when::{Days, Repeat, WhenError, parse, parse_duration};

/// Thursday 3 December 2026, 13:00 in Seoul.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 4, 0, 0).unwrap()
}

const SEOUL: Tz = chrono_tz::Asia::Seoul;

fn seoul(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    SEOUL
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .with_timezone(&Utc)
}

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

enum Want {
    Once(DateTime<Utc>),
    Every(Days, NaiveTime, DateTime<Utc>),
}

fn once(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Want {
    Want::Once(seoul(y, mo, d, h, mi, 0))
}

fn every(days: Days, h: u32, m: u32, first: DateTime<Utc>) -> Want {
    Want::Every(days, at(h, m), first)
}

#[test]
fn english_and_korean_requests_resolve_to_the_right_instant() {
    use Days::*;
    let table: Vec<(&str, Want, &str)> = vec![
        (
            "in 20 minutes take the pizza out",
            once(2026, 12, 3, 13, 20),
            "take the pizza out",
        ),
        ("in 2 hours call mom", once(2026, 12, 3, 15, 0), "call mom"),
        (
            "at 17:30 leave work",
            once(2026, 12, 3, 17, 30),
            "leave work",
        ),
        ("at 5pm buy milk", once(2026, 12, 3, 17, 0), "buy milk"),
        (
            "remind me tomorrow at half past nine to call mom",
            once(2026, 12, 4, 9, 30),
            "call mom",
        ),
        (
            "at quarter to 8 pm put the bins out",
            once(2026, 12, 3, 19, 45),
            "put the bins out",
        ),
        (
            "on Friday at a quarter past ten in the morning water the plants",
            once(2026, 12, 4, 10, 15),
            "water the plants",
        ),
        (
            "tomorrow at nine thirty standup notes",
            once(2026, 12, 4, 9, 30),
            "standup notes",
        ),
        (
            "call the bank tomorrow at nine",
            once(2026, 12, 4, 9, 0),
            "call the bank",
        ),
        (
            "tomorrow at seven in the evening feed the cat",
            once(2026, 12, 4, 19, 0),
            "feed the cat",
        ),
        (
            "tomorrow look at one of the flats",
            once(2026, 12, 4, 9, 0),
            "look at one of the flats",
        ),
        (
            "tomorrow at 9 thirty dentist",
            once(2026, 12, 4, 9, 30),
            "dentist",
        ),
        (
            "tomorrow at 9 call the dentist",
            once(2026, 12, 4, 9, 0),
            "call the dentist",
        ),
        ("on Friday at 8 gym", once(2026, 12, 4, 8, 0), "gym"),
        (
            "on 2027-01-15 at 10:00 renew the passport",
            once(2027, 1, 15, 10, 0),
            "renew the passport",
        ),
        (
            "every day at 7:00 take vitamins",
            every(Daily, 7, 0, seoul(2026, 12, 4, 7, 0, 0)),
            "take vitamins",
        ),
        (
            "every weekday at 8 stand-up",
            every(Weekdays, 8, 0, seoul(2026, 12, 4, 8, 0, 0)),
            "stand-up",
        ),
        (
            "every Monday at 9 plan the week",
            every(Weekly(Weekday::Mon), 9, 0, seoul(2026, 12, 7, 9, 0, 0)),
            "plan the week",
        ),
        (
            "remind me in 20 minutes to take the pizza out",
            once(2026, 12, 3, 13, 20),
            "take the pizza out",
        ),
        (
            "Remind me to call the dentist tomorrow at 9.",
            once(2026, 12, 4, 9, 0),
            "call the dentist",
        ),
        (
            "remind me tomorrow at 9 to call the dentist",
            once(2026, 12, 4, 9, 0),
            "call the dentist",
        ),
        (
            "can you remind me at 6pm to water the plants please",
            once(2026, 12, 3, 18, 0),
            "water the plants",
        ),
        (
            "in 1 hour and 30 minutes check the oven",
            once(2026, 12, 3, 14, 30),
            "check the oven",
        ),
        ("in 1h30m stretch", once(2026, 12, 3, 14, 30), "stretch"),
        ("in half an hour tea", once(2026, 12, 3, 13, 30), "tea"),
        (
            "in an hour walk the dog",
            once(2026, 12, 3, 14, 0),
            "walk the dog",
        ),
        (
            "in 3 days water the plants",
            once(2026, 12, 6, 13, 0),
            "water the plants",
        ),
        (
            "in 2 weeks book the flights",
            once(2026, 12, 17, 13, 0),
            "book the flights",
        ),
        (
            "in 90 minutes leave for the station",
            once(2026, 12, 3, 14, 30),
            "leave for the station",
        ),
        (
            "in 10m check the laundry",
            once(2026, 12, 3, 13, 10),
            "check the laundry",
        ),
        ("at 5 call bob", once(2026, 12, 3, 17, 0), "call bob"),
        (
            "at 1:15pm lunch with Ana",
            once(2026, 12, 3, 13, 15),
            "lunch with Ana",
        ),
        ("at 12pm lunch", once(2026, 12, 4, 12, 0), "lunch"),
        ("at noon eat", once(2026, 12, 4, 12, 0), "eat"),
        (
            "at midnight lock the door",
            once(2026, 12, 4, 0, 0),
            "lock the door",
        ),
        ("at 9:45 am coffee", once(2026, 12, 4, 9, 45), "coffee"),
        (
            "tomorrow morning call the bank",
            once(2026, 12, 4, 9, 0),
            "call the bank",
        ),
        (
            "tomorrow evening movie night",
            once(2026, 12, 4, 18, 0),
            "movie night",
        ),
        (
            "tomorrow renew the parking permit",
            once(2026, 12, 4, 9, 0),
            "renew the parking permit",
        ),
        (
            "tonight take out the trash",
            once(2026, 12, 3, 20, 0),
            "take out the trash",
        ),
        ("tonight at 10 read", once(2026, 12, 3, 22, 0), "read"),
        ("today at 6pm run", once(2026, 12, 3, 18, 0), "run"),
        (
            "at 9am tomorrow standup notes",
            once(2026, 12, 4, 9, 0),
            "standup notes",
        ),
        (
            "next Monday at 10 review the budget",
            once(2026, 12, 7, 10, 0),
            "review the budget",
        ),
        (
            "on Thursday at 9 team meeting",
            once(2026, 12, 10, 9, 0),
            "team meeting",
        ),
        (
            "on Thursday at 3pm team meeting",
            once(2026, 12, 3, 15, 0),
            "team meeting",
        ),
        (
            "on Sunday at 10am call grandma",
            once(2026, 12, 6, 10, 0),
            "call grandma",
        ),
        (
            "on 15 January at 10:00 passport",
            once(2027, 1, 15, 10, 0),
            "passport",
        ),
        (
            "on Jan 15 2027 at 10 passport",
            once(2027, 1, 15, 10, 0),
            "passport",
        ),
        (
            "on December 25 at 8 gifts",
            once(2026, 12, 25, 8, 0),
            "gifts",
        ),
        (
            "the day after tomorrow at 11 haircut",
            once(2026, 12, 5, 11, 0),
            "haircut",
        ),
        (
            "at 7 in the evening dinner",
            once(2026, 12, 3, 19, 0),
            "dinner",
        ),
        (
            "every weekend at 10 clean the flat",
            every(Weekends, 10, 0, seoul(2026, 12, 5, 10, 0, 0)),
            "clean the flat",
        ),
        (
            "every morning meditate",
            every(Daily, 9, 0, seoul(2026, 12, 4, 9, 0, 0)),
            "meditate",
        ),
        (
            "daily at 21:00 journal",
            every(Daily, 21, 0, seoul(2026, 12, 3, 21, 0, 0)),
            "journal",
        ),
        (
            "every Friday at 5pm weekly review",
            every(Weekly(Weekday::Fri), 17, 0, seoul(2026, 12, 4, 17, 0, 0)),
            "weekly review",
        ),
        (
            "every weekday at 7:30 summarize my day",
            every(Weekdays, 7, 30, seoul(2026, 12, 4, 7, 30, 0)),
            "summarize my day",
        ),
        (
            "20분 후 피자 꺼내기",
            once(2026, 12, 3, 13, 20),
            "피자 꺼내기",
        ),
        ("2시간 뒤 회의 준비", once(2026, 12, 3, 15, 0), "회의 준비"),
        (
            "내일 오전 9시 치과 전화",
            once(2026, 12, 4, 9, 0),
            "치과 전화",
        ),
        (
            "금요일 오후 3시 보고서 제출",
            once(2026, 12, 4, 15, 0),
            "보고서 제출",
        ),
        (
            "매일 7시 약 먹기",
            every(Daily, 7, 0, seoul(2026, 12, 4, 7, 0, 0)),
            "약 먹기",
        ),
        (
            "평일 8시 출근 준비",
            every(Weekdays, 8, 0, seoul(2026, 12, 4, 8, 0, 0)),
            "출근 준비",
        ),
        (
            "20분 후에 피자 꺼내라고 알려줘",
            once(2026, 12, 3, 13, 20),
            "피자 꺼내라",
        ),
        (
            "30분 뒤에 빨래 널기",
            once(2026, 12, 3, 13, 30),
            "빨래 널기",
        ),
        ("1시간 30분 후 운동", once(2026, 12, 3, 14, 30), "운동"),
        ("10초 후 테스트", once(2026, 12, 3, 13, 0), "테스트"),
        ("내일 아침에 산책", once(2026, 12, 4, 9, 0), "산책"),
        (
            "내일 저녁 약속 확인",
            once(2026, 12, 4, 9, 0),
            "저녁 약속 확인",
        ),
        ("모레 10시 미용실", once(2026, 12, 5, 10, 0), "미용실"),
        (
            "다음 주 월요일 오전 10시 회의",
            once(2026, 12, 7, 10, 0),
            "회의",
        ),
        (
            "매주 월요일 9시 주간 계획",
            every(Weekly(Weekday::Mon), 9, 0, seoul(2026, 12, 7, 9, 0, 0)),
            "주간 계획",
        ),
        (
            "월요일마다 10시 청소",
            every(Weekly(Weekday::Mon), 10, 0, seoul(2026, 12, 7, 10, 0, 0)),
            "청소",
        ),
        ("오늘 오후 6시 운동", once(2026, 12, 3, 18, 0), "운동"),
        (
            "2027년 1월 15일 오전 10시 여권 갱신",
            once(2027, 1, 15, 10, 0),
            "여권 갱신",
        ),
        (
            "12월 25일 8시 선물 포장",
            once(2026, 12, 25, 8, 0),
            "선물 포장",
        ),
        ("오후 5시 30분 퇴근", once(2026, 12, 3, 17, 30), "퇴근"),
        ("오후 5시 반 퇴근", once(2026, 12, 3, 17, 30), "퇴근"),
        ("저녁 7시에 헬스", once(2026, 12, 3, 19, 0), "헬스"),
        (
            "매일 아침 8시 물 마시기",
            every(Daily, 8, 0, seoul(2026, 12, 4, 8, 0, 0)),
            "물 마시기",
        ),
        ("3일 후 택배 확인", once(2026, 12, 6, 13, 0), "택배 확인"),
        (
            "주말 10시 대청소",
            every(Weekends, 10, 0, seoul(2026, 12, 5, 10, 0, 0)),
            "대청소",
        ),
        (
            "내일 9시에 치과 가라고 알려줘",
            once(2026, 12, 4, 9, 0),
            "치과 가라",
        ),
        (
            "내일 오전 9시에 엄마한테 전화 리마인드 해줘",
            once(2026, 12, 4, 9, 0),
            "엄마한테 전화",
        ),
    ];
    assert!(table.len() >= 60, "the table has {} phrases", table.len());
    let mut failures = Vec::new();
    for (text, want, what) in &table {
        let got = match parse(text, now(), SEOUL) {
            Ok(got) => got,
            Err(e) => {
                failures.push(format!("{text:?}: {e}"));
                continue;
            }
        };
        let ok = match (want, got.when) {
            (Want::Once(instant), When::Once(found)) => {
                // "10초 후" is 10 seconds, not a whole minute.
                let expected = if text.contains("10초") {
                    *instant + chrono::Duration::seconds(10)
                } else {
                    *instant
                };
                found == expected
            }
            (Want::Every(days, time, first), When::Every(repeat)) => {
                repeat
                    == Repeat {
                        days: *days,
                        at: *time,
                    }
                    && repeat.next_after(now(), SEOUL) == *first
            }
            _ => false,
        };
        if !ok || got.what != *what {
            failures.push(format!(
                "{text:?}: got {:?} {:?} (first {})",
                got.when,
                got.what,
                got.first(now(), SEOUL).with_timezone(&SEOUL)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unreadable_requests_say_why() {
    type Check = fn(&WhenError) -> bool;
    let cases: Vec<(&str, Check)> = vec![
        ("remind me to call the plumber", |e| *e == WhenError::NoTime),
        ("tomorrow at 9", |e| *e == WhenError::NoText),
        ("every day take vitamins", |e| {
            *e == WhenError::RepeatWithoutTime
        }),
        ("at 25:00 something", |e| matches!(e, WhenError::Invalid(_))),
        ("on 2027-02-30 at 9 something", |e| {
            matches!(e, WhenError::Invalid(_))
        }),
        ("on 2020-01-01 at 9 something", |e| {
            matches!(e, WhenError::Past(_))
        }),
        ("today at 8am something", |e| {
            matches!(e, WhenError::Past(_))
        }),
        ("tomorrow on Friday something", |e| {
            matches!(e, WhenError::Conflicting(..))
        }),
        ("in 20 minutes tomorrow something", |e| {
            matches!(e, WhenError::Conflicting(..))
        }),
        ("내일 모레 뭔가", |e| {
            matches!(e, WhenError::Conflicting(..))
        }),
        ("피자 꺼내기", |e| *e == WhenError::NoTime),
    ];
    for (text, expected) in cases {
        match parse(text, now(), SEOUL) {
            Ok(got) => panic!("{text:?} was read as {got:?}"),
            Err(e) => assert!(expected(&e), "{text:?}: {e:?}"),
        }
    }
}

#[test]
fn words_that_only_look_like_times_stay_in_the_text() {
    // "sun" and "sat" are words, not days, without "on"/"next".
    let got = parse("at 3pm put on sun cream", now(), SEOUL).unwrap();
    assert_eq!(got.when, When::Once(seoul(2026, 12, 3, 15, 0, 0)));
    assert_eq!(got.what, "put on sun cream");
    let got = parse("in 5 minutes meet Tom", now(), SEOUL).unwrap();
    assert_eq!(got.what, "meet Tom");
}

#[test]
fn repeats_keep_their_wall_clock_time_across_daylight_saving() {
    let york = chrono_tz::America::New_York;
    let daily = Repeat {
        days: Days::Daily,
        at: at(7, 0),
    };
    // Saturday 7 March 2026, noon in New York (EST, UTC-5); DST starts Sunday 8 March.
    let start = york
        .with_ymd_and_hms(2026, 3, 7, 12, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let first = daily.next_after(start, york);
    let second = daily.next_after(first, york);
    let third = daily.next_after(second, york);
    for (fired, day) in [(first, 8), (second, 9), (third, 10)] {
        let local = fired.with_timezone(&york);
        assert_eq!(
            local.date_naive(),
            NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
        );
        assert_eq!(local.time(), at(7, 0), "{fired}");
    }
    // In UTC the hour moves: 12:00Z before the change would have been 7:00 EST.
    assert_eq!(first, Utc.with_ymd_and_hms(2026, 3, 8, 11, 0, 0).unwrap());
    // And back in autumn (1 November 2026): 7:00 stays 7:00.
    let autumn = york
        .with_ymd_and_hms(2026, 10, 31, 12, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let next = daily.next_after(autumn, york);
    assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap());
    // A time that does not exist on the day of the change fires when the clock exists again.
    let gap = Repeat {
        days: Days::Daily,
        at: at(2, 30),
    };
    let in_gap = gap.next_after(
        york.with_ymd_and_hms(2026, 3, 7, 12, 0, 0)
            .unwrap()
            .with_timezone(&Utc),
        york,
    );
    assert_eq!(
        in_gap.with_timezone(&york).date_naive(),
        NaiveDate::from_ymd_opt(2026, 3, 8).unwrap()
    );
    assert!(in_gap > Utc.with_ymd_and_hms(2026, 3, 8, 6, 59, 0).unwrap());
}

#[test]
fn snooze_lengths() {
    let minutes = |text: &str| parse_duration(text).map(|d| d.num_minutes());
    assert_eq!(minutes("10m"), Some(10));
    assert_eq!(minutes("10 min"), Some(10));
    assert_eq!(minutes("1h"), Some(60));
    assert_eq!(minutes("2 hours"), Some(120));
    assert_eq!(minutes("10분"), Some(10));
    assert_eq!(minutes("1시간"), Some(60));
    assert_eq!(minutes("soon"), None);
    assert_eq!(minutes("0m"), None);
}

proptest::proptest! {
    #[test]
    fn any_text_parses_without_panicking_and_only_into_the_future(
        text in "\\PC{0,80}",
        offset in 0i64..(40 * 365 * 86_400),
        zone in proptest::sample::select(vec![chrono_tz::UTC, SEOUL, chrono_tz::America::New_York, chrono_tz::Europe::Berlin, chrono_tz::Australia::Lord_Howe]),
    ) {
        let now = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(offset);
        if let Ok(request) = parse(&text, now, zone) {
            proptest::prop_assert!(request.first(now, zone) > now);
            proptest::prop_assert!(!request.what.is_empty());
        }
    }

    #[test]
    fn time_like_text_parses_without_panicking_and_only_into_the_future(
        words in proptest::collection::vec(proptest::sample::select(vec![
            "in", "at", "on", "every", "tomorrow", "today", "tonight", "next", "friday", "mon", "weekday",
            "20", "5", "17:30", "99", "0", "12", "pm", "am", "minutes", "hours", "days", "2027-01-15",
            "jan", "31", "feb", "29", "매일", "평일", "내일", "오전", "오후", "9시", "30분", "후", "뒤", "금요일",
            "반", "call", "mom", "알려줘", "remind", "me", "to", "morning", "evening", "noon", "midnight",
        ]), 0..10),
        offset in 0i64..(40 * 365 * 86_400),
    ) {
        let text = words.join(" ");
        let now = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(offset);
        for zone in [SEOUL, chrono_tz::America::New_York] {
            if let Ok(request) = parse(&text, now, zone) {
                proptest::prop_assert!(request.first(now, zone) > now, "{text:?}");
            }
        }
    }
}
