//! Five-field cron schedules (`minute hour day-of-month month day-of-week`, in UTC), as crontab
//! reads them: `*`, numbers, `a-b` ranges, `/n` steps on either, comma lists, month and day
//! names (`jan`, `mon`), 7 as Sunday, and the usual rule that when both day fields are
//! restricted a day matching either one is due.

/// A parsed schedule: for each field, the values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether the day-of-month and day-of-week fields were both given (not `*`).
    both_days: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!("cron schedule {text:?} must have 5 fields (minute hour day month weekday)"));
        };
        let mut weekdays = field(weekday, 0, 7, &WEEKDAYS, "weekday")?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Schedule {
            minutes: field(minute, 0, 59, &[], "minute")?,
            hours: field(hour, 0, 23, &[], "hour")?,
            days: field(day, 1, 31, &[], "day")?,
            months: field(month, 1, 12, &MONTHS, "month")?,
            weekdays,
            both_days: !day.starts_with('*') && !weekday.starts_with('*'),
        })
    }

    /// Whether the minute starting at `unix_minute` (minutes since the epoch, UTC) is due.
    pub fn is_due(&self, unix_minute: i64) -> bool {
        let (minute, hour) = (unix_minute.rem_euclid(60), unix_minute.div_euclid(60).rem_euclid(24));
        let days_since_epoch = unix_minute.div_euclid(24 * 60);
        let (_, month, day) = civil_from_days(days_since_epoch);
        let weekday = (days_since_epoch + 4).rem_euclid(7); // 1970-01-01 was a Thursday.
        let on = |set: u64, value: i64| set & (1 << value) != 0;
        let by_day = on(self.days, day);
        let by_weekday = on(self.weekdays, weekday);
        let day_ok = if self.both_days { by_day || by_weekday } else { by_day && by_weekday };
        on(self.minutes, minute) && on(self.hours, hour) && on(self.months, month) && day_ok
    }
}

/// The values one field allows, as a bit set.
fn field(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("cron {what} field {text:?}: {why}");
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| bad("bad step"))?),
            None => (part, 1),
        };
        let (first, last) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (
                    value(a, names, min).ok_or_else(|| bad("bad range"))?,
                    value(b, names, min).ok_or_else(|| bad("bad range"))?,
                ),
                None => {
                    let v = value(range, names, min).ok_or_else(|| bad("not a number"))?;
                    (v, if step > 1 { max } else { v })
                }
            },
        };
        if first < min || last > max || first > last {
            return Err(bad(&format!("out of {min}-{max}")));
        }
        for v in (first..=last).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(text: &str, names: &[&str], first: u32) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    match names.iter().position(|n| *n == lower) {
        Some(i) => Some(i as u32 + first),
        None => text.parse().ok(),
    }
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minutes since the epoch of a UTC date and time (found by walking back from a guess
    /// past it, so the test does not lean on an inverse it would share bugs with).
    fn at(year: i64, month: i64, day: i64, hour: i64, minute: i64) -> i64 {
        let mut days = (year - 1970 + 1) * 366;
        while civil_from_days(days) != (year, month, day) {
            days -= 1;
        }
        (days * 24 + hour) * 60 + minute
    }

    #[test]
    fn schedules_match_as_crontab_reads_them() {
        let due = |schedule: &str, minute: i64| Schedule::parse(schedule).expect(schedule).is_due(minute);
        let friday_noon = at(2026, 12, 4, 12, 0);
        assert_eq!(civil_from_days(friday_noon / 1440), (2026, 12, 4));
        assert!(due("* * * * *", friday_noon));
        assert!(due("0 12 * * *", friday_noon) && !due("0 12 * * *", friday_noon + 1));
        assert!(due("*/15 * * * *", friday_noon + 45) && !due("*/15 * * * *", friday_noon + 46));
        assert!(due("0 9-17/3 * * mon-fri", friday_noon) && !due("0 9-17/3 * * sat,sun", friday_noon));
        assert!(due("0 12 4 dec *", friday_noon) && !due("0 12 4 nov *", friday_noon));
        assert!(due("0 12 1 * fri", friday_noon), "both day fields given: either matches");
        assert!(!due("0 12 1 * *", friday_noon));
        assert!(due("0 12 * * 7", at(2026, 12, 6, 12, 0)), "7 is Sunday too");
        assert!(due("30 2 29 2 *", at(2028, 2, 29, 2, 30)), "a leap day");
    }

    #[test]
    fn malformed_schedules_say_why() {
        for (bad, says) in [
            ("* * * *", "5 fields"),
            ("60 * * * *", "out of 0-59"),
            ("* * 0 * *", "out of 1-31"),
            ("*/0 * * * *", "bad step"),
            ("5-1 * * * *", "out of"),
            ("x * * * *", "not a number"),
            ("* * * * funday", "not a number"),
        ] {
            let err = Schedule::parse(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
