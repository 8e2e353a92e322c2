//! Opening hours in a time zone, with holidays: when a team (or the support organisation)
//! works. Time comes in as a value.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// Weekly opening hours in a time zone, minus holidays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(serialize_with = "serialize_tz")]
    pub timezone: Tz,
    /// Opening intervals per weekday (Monday first), as minutes since local midnight, end
    /// exclusive. An interval that crosses midnight is split over the two days.
    pub days: [Vec<(u32, u32)>; 7],
    /// Local dates on which it is closed all day.
    pub holidays: Vec<NaiveDate>,
}

fn serialize_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Day names accepted in `hours` tables, and the weekdays each covers.
pub(crate) fn day_keys(key: &str) -> Option<&'static [Weekday]> {
    use Weekday::*;
    Some(match key {
        "mon" | "monday" => &[Mon],
        "tue" | "tuesday" => &[Tue],
        "wed" | "wednesday" => &[Wed],
        "thu" | "thursday" => &[Thu],
        "fri" | "friday" => &[Fri],
        "sat" | "saturday" => &[Sat],
        "sun" | "sunday" => &[Sun],
        "weekdays" => &[Mon, Tue, Wed, Thu, Fri],
        "weekend" => &[Sat, Sun],
        "everyday" | "daily" => &[Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        _ => return None,
    })
}

/// Parses `HH:MM`.
pub(crate) fn parse_clock(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if text == "24:00" {
        return Ok(24 * 60);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .map(|t| t.hour_minutes())
        .map_err(|_| format!("`{text}` is not a time of day (HH:MM, 00:00 to 24:00)"))
}

trait HourMinutes {
    fn hour_minutes(&self) -> u32;
}

impl HourMinutes for NaiveTime {
    fn hour_minutes(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

/// Parses `09:00-17:00`, `09:00-12:00, 13:00-17:00` or `closed` into intervals; an interval
/// whose end is before its start runs past midnight (`22:00-06:00`).
pub(crate) fn parse_ranges(text: &str) -> Result<Vec<(u32, u32)>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("closed") || text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let (from, to) = part.split_once('-').ok_or_else(|| {
                format!("`{}` is not a range of hours like 09:00-17:00", part.trim())
            })?;
            let (from, to) = (parse_clock(from)?, parse_clock(to)?);
            if from == to {
                return Err(format!("`{}` is an empty range", part.trim()));
            }
            Ok((from, to))
        })
        .collect()
}

impl Schedule {
    /// Open around the clock, every day, in `timezone`.
    pub fn always_open(timezone: Tz) -> Self {
        Schedule {
            timezone,
            days: std::array::from_fn(|_| vec![(0, 24 * 60)]),
            holidays: Vec::new(),
        }
    }

    /// Builds a schedule from per-day ranges (as written in a policy file, already split per
    /// weekday). Overnight ranges spill into the next day.
    pub(crate) fn from_ranges(
        timezone: Tz,
        per_day: &[(Weekday, Vec<(u32, u32)>)],
        holidays: Vec<NaiveDate>,
    ) -> Self {
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, ranges) in per_day {
            let i = day.num_days_from_monday() as usize;
            for &(from, to) in ranges {
                if to > from {
                    days[i].push((from, to));
                } else {
                    days[i].push((from, 24 * 60));
                    if to > 0 {
                        days[(i + 1) % 7].push((0, to));
                    }
                }
            }
        }
        for d in &mut days {
            d.sort_unstable();
        }
        Schedule {
            timezone,
            days,
            holidays,
        }
    }

    /// Whether it is open at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let minute = local.time().hour_minutes();
        self.days[local.weekday().num_days_from_monday() as usize]
            .iter()
            .any(|&(from, to)| from <= minute && minute < to)
    }

    /// When it next opens at or after `now` (`now` itself when open), looking two weeks
    /// ahead; `None` when it never opens in that time.
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(now) {
            return Some(now);
        }
        let local = now.with_timezone(&self.timezone);
        let today = local.date_naive();
        let minute_now = local.time().hour_minutes();
        for offset in 0..15 {
            let date = today + Duration::days(offset);
            if self.holidays.contains(&date) {
                continue;
            }
            let ranges = &self.days[date.weekday().num_days_from_monday() as usize];
            for &(from, _) in ranges {
                if offset == 0 && from <= minute_now {
                    continue;
                }
                let naive = date.and_hms_opt(from / 60, from % 60, 0)?;
                // A gap at a daylight-saving change: take the earliest valid instant.
                let at = match self.timezone.from_local_datetime(&naive) {
                    chrono::LocalResult::Single(t) => t,
                    chrono::LocalResult::Ambiguous(t, _) => t,
                    chrono::LocalResult::None => self
                        .timezone
                        .from_local_datetime(&(naive + Duration::hours(1)))
                        .earliest()?,
                };
                return Some(at.with_timezone(&Utc));
            }
        }
        None
    }

    /// Local weekday and minute of the day at `now` in this schedule's time zone.
    pub fn local_day_and_minute(tz: Tz, now: DateTime<Utc>) -> (Weekday, u32) {
        let local = now.with_timezone(&tz);
        (local.weekday(), local.time().hour_minutes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin_office() -> Schedule {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let weekdays = parse_ranges("09:00-17:00").unwrap();
        let per_day: Vec<(Weekday, Vec<(u32, u32)>)> = day_keys("weekdays")
            .unwrap()
            .iter()
            .map(|d| (*d, weekdays.clone()))
            .collect();
        Schedule::from_ranges(
            tz,
            &per_day,
            vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn office_hours_follow_the_local_time_zone() {
        let office = berlin_office();
        // 08:30 UTC in winter is 09:30 in Berlin.
        assert!(office.is_open(at("2026-12-01T08:30:00Z")));
        // 16:30 UTC is 17:30 in Berlin: closed.
        assert!(!office.is_open(at("2026-12-01T16:30:00Z")));
        // Summer time: 07:30 UTC is 09:30 in Berlin.
        assert!(office.is_open(at("2026-07-01T07:30:00Z")));
        // Saturday.
        assert!(!office.is_open(at("2026-12-05T10:00:00Z")));
    }

    #[test]
    fn holidays_are_closed_and_next_opening_skips_them() {
        let office = berlin_office();
        assert!(!office.is_open(at("2026-12-25T10:00:00Z")));
        // Thursday 24 Dec, 18:00 Berlin → Friday is a holiday → Monday 28 Dec 09:00 Berlin.
        let next = office.next_open(at("2026-12-24T17:00:00Z")).unwrap();
        assert_eq!(next, at("2026-12-28T08:00:00Z"));
    }

    #[test]
    fn overnight_ranges_spill_into_the_next_day() {
        let tz: Tz = "UTC".parse().unwrap();
        let night = Schedule::from_ranges(
            tz,
            &[(Weekday::Mon, parse_ranges("22:00-06:00").unwrap())],
            Vec::new(),
        );
        assert!(night.is_open(at("2026-11-30T23:00:00Z"))); // Monday night
        assert!(night.is_open(at("2026-12-01T05:59:00Z"))); // Tuesday morning
        assert!(!night.is_open(at("2026-12-01T06:00:00Z")));
        assert!(!night.is_open(at("2026-11-30T21:00:00Z")));
    }

    #[test]
    fn hour_ranges_are_checked() {
        assert_eq!(
            parse_ranges("09:00-12:00, 13:00-17:30").unwrap(),
            vec![(540, 720), (780, 1050)]
        );
        assert!(parse_ranges("closed").unwrap().is_empty());
        assert!(parse_ranges("9-17").is_err());
        assert!(parse_ranges("09:00").is_err());
        assert!(parse_ranges("25:00-26:00").is_err());
        assert_eq!(parse_ranges("00:00-24:00").unwrap(), vec![(0, 1440)]);
    }
}
