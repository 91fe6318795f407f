//! Japanese calendar display: JST, era (和暦) years and fiscal years (年度).
//!
//! Japan has no daylight saving time, so JST is a fixed +09:00 offset; a time-zone
//! database would add compile time and nothing else.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Japan Standard Time. Evaluated when compiling: an invalid offset would not build.
const JST: FixedOffset = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");

pub fn jst() -> FixedOffset {
    JST
}

/// Converts a UTC timestamp (how the database stores time) to JST.
pub fn to_jst(utc: NaiveDateTime) -> DateTime<FixedOffset> {
    Utc.from_utc_datetime(&utc).with_timezone(&jst())
}

/// Today's date in Japan.
pub fn today_jst(now_utc: DateTime<Utc>) -> NaiveDate {
    now_utc.with_timezone(&jst()).date_naive()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

impl Era {
    pub fn name(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    fn first_day(self) -> NaiveDate {
        let (y, m, d) = match self {
            Era::Meiji => (1868, 1, 25),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        };
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
    }

    /// The era a date falls in (`None` before Meiji).
    pub fn of(date: NaiveDate) -> Option<Era> {
        [Era::Reiwa, Era::Heisei, Era::Showa, Era::Taisho, Era::Meiji]
            .into_iter()
            .find(|era| date >= era.first_day())
    }

    pub fn year_of(self, date: NaiveDate) -> i32 {
        date.year() - self.first_day().year() + 1
    }
}

fn era_year_text(era: Era, year: i32) -> String {
    if year == 1 {
        format!("{}元", era.name())
    } else {
        format!("{}{}", era.name(), year)
    }
}

/// `令和8年11月22日`; dates before Meiji fall back to the western form.
pub fn date_wareki(date: NaiveDate) -> String {
    match Era::of(date) {
        Some(era) => format!(
            "{}年{}月{}日",
            era_year_text(era, era.year_of(date)),
            date.month(),
            date.day()
        ),
        None => format!("{}年{}月{}日", date.year(), date.month(), date.day()),
    }
}

/// A UTC timestamp as people in Japan read it: `令和8年11月22日 10:49`.
pub fn datetime_jst(utc: NaiveDateTime) -> String {
    let local = to_jst(utc);
    format!(
        "{} {:02}:{:02}",
        date_wareki(local.date_naive()),
        local.hour(),
        local.minute()
    )
}

/// The fiscal year (年度) a date belongs to: April to March, named by its starting year.
pub fn fiscal_year_of(date: NaiveDate) -> i32 {
    if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// `令和7年度` for FY2025: a fiscal year is named after the era in force on its first
/// day, 1 April (so FY2019 is 平成31年度, though some later documents say 令和元年度).
pub fn fiscal_year_label(fy: i32) -> String {
    let start = NaiveDate::from_ymd_opt(fy, 4, 1).unwrap_or(NaiveDate::MIN);
    match Era::of(start) {
        Some(era) => format!("{}年度", era_year_text(era, era.year_of(start))),
        None => format!("{fy}年度"),
    }
}

/// `令和7年度（2025年度）`: the era form with the western year beside it (domain.md §4.1).
pub fn fiscal_year_full(fy: i32) -> String {
    format!("{}（{}年度）", fiscal_year_label(fy), fy)
}

/// A time typed in Japan time (`2027-01-10T09:00`, `2027-01-10 09:00`, full-width
/// digits too), as UTC; `None` when it is not one.
pub fn parse_jst_datetime(text: &str) -> Option<NaiveDateTime> {
    use unicode_normalization::UnicodeNormalization;
    let text: String = text.nfkc().collect::<String>().trim().replace(' ', "T");
    let local = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    jst()
        .from_local_datetime(&local)
        .single()
        .map(|t| t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn japan_time_is_read_as_utc() {
        let t = parse_jst_datetime("2027-01-10T09:00").unwrap();
        assert_eq!(t.to_string(), "2027-01-10 00:00:00");
        assert_eq!(parse_jst_datetime("２０２７-01-10 09:00"), Some(t));
        assert_eq!(parse_jst_datetime("10 Jan"), None);
        assert_eq!(parse_jst_datetime(""), None);
    }

    #[test]
    fn fiscal_year_labels() {
        let cases = [
            (2025, "令和7年度"),
            (2026, "令和8年度"),
            (2019, "平成31年度"),
            (2020, "令和2年度"),
            (1988, "昭和63年度"),
            (1989, "平成元年度"),
        ];
        for (fy, label) in cases {
            assert_eq!(fiscal_year_label(fy), label, "FY{fy}");
        }
        assert_eq!(fiscal_year_full(2025), "令和7年度（2025年度）");
    }

    #[test]
    fn fiscal_year_of_dates() {
        assert_eq!(fiscal_year_of(d(2026, 1, 1)), 2025);
        assert_eq!(fiscal_year_of(d(2026, 3, 31)), 2025);
        assert_eq!(fiscal_year_of(d(2026, 4, 1)), 2026);
    }

    #[test]
    fn era_boundaries() {
        assert_eq!(date_wareki(d(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(date_wareki(d(2019, 5, 1)), "令和元年5月1日");
        assert_eq!(date_wareki(d(1989, 1, 7)), "昭和64年1月7日");
        assert_eq!(date_wareki(d(1989, 1, 8)), "平成元年1月8日");
        assert_eq!(date_wareki(d(1963, 5, 1)), "昭和38年5月1日");
    }

    #[test]
    fn utc_times_show_in_jst() {
        let utc = d(2026, 11, 22).and_hms_opt(16, 5, 0).unwrap();
        assert_eq!(datetime_jst(utc), "令和8年11月23日 01:05");
        let now = Utc.from_utc_datetime(&utc);
        assert_eq!(today_jst(now), d(2026, 11, 23));
    }
}
