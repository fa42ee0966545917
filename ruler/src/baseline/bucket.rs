//! Hour-of-week buckets in local time: 7 days x 24 hours = 168 buckets, Monday 00:00 first.
//! "Monday 09:00" means local time in the configured zone, daylight-saving rules included.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// Number of hour-of-week buckets.
pub const BUCKETS: usize = 168;

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One hour of the week: `day_of_week` 0 = Monday .. 6 = Sunday, `hour_of_day` 0..23.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bucket {
    pub day_of_week: u8,
    pub hour_of_day: u8,
}

impl Bucket {
    /// The bucket `t` falls in, in zone `tz`.
    pub fn of(t: DateTime<Utc>, tz: Tz) -> Bucket {
        let local = t.with_timezone(&tz);
        Bucket {
            day_of_week: local.weekday().num_days_from_monday() as u8,
            hour_of_day: local.hour() as u8,
        }
    }

    /// 0..168, Monday 00:00 first.
    pub fn index(self) -> usize {
        usize::from(self.day_of_week) * 24 + usize::from(self.hour_of_day)
    }

    pub fn from_index(i: usize) -> Bucket {
        Bucket {
            day_of_week: (i / 24 % 7) as u8,
            hour_of_day: (i % 24) as u8,
        }
    }

    /// "Monday 14:00".
    pub fn label(self) -> String {
        format!(
            "{} {:02}:00",
            DAYS[usize::from(self.day_of_week) % 7],
            self.hour_of_day
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn tbilisi_is_utc_plus_four_without_dst() {
        let tz: Tz = "Asia/Tbilisi".parse().unwrap();
        // 2026-03-02 is a Monday; 10:00 UTC is 14:00 in Tbilisi, in winter and in summer.
        let b = Bucket::of(utc(2026, 3, 2, 10, 0), tz);
        assert_eq!(b.label(), "Monday 14:00");
        assert_eq!(
            Bucket::of(utc(2026, 7, 6, 10, 0), tz).label(),
            "Monday 14:00"
        );
    }

    #[test]
    fn week_boundary_in_local_time() {
        let tz: Tz = "Asia/Tbilisi".parse().unwrap();
        // Sunday 19:59 UTC is Sunday 23:59 local; 20:00 UTC is Monday 00:00 local.
        let sun = Bucket::of(utc(2026, 3, 8, 19, 59), tz);
        let mon = Bucket::of(utc(2026, 3, 8, 20, 0), tz);
        assert_eq!((sun.index(), mon.index()), (167, 0));
    }

    #[test]
    fn daylight_saving_moves_utc_hours_between_buckets() {
        // Berlin: CET (UTC+1) until 2026-03-29 01:00 UTC, then CEST (UTC+2).
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let before = Bucket::of(utc(2026, 3, 23, 8, 0), tz); // Monday 09:00 CET
        let after = Bucket::of(utc(2026, 3, 30, 7, 0), tz); // Monday 09:00 CEST
        assert_eq!(before, after);
        assert_eq!(after.label(), "Monday 09:00");
        // The skipped local hour 02:00 on the change day has no instant; 01:00 UTC is 03:00.
        assert_eq!(
            Bucket::of(utc(2026, 3, 29, 1, 0), tz).label(),
            "Sunday 03:00"
        );
        // Autumn: local 02:00 happens twice and both land in the same bucket.
        let first = Bucket::of(utc(2026, 10, 25, 0, 30), tz);
        let second = Bucket::of(utc(2026, 10, 25, 1, 30), tz);
        assert_eq!(
            (first.label(), second.label()),
            ("Sunday 02:00".into(), "Sunday 02:00".into())
        );
    }

    #[test]
    fn index_round_trips() {
        for i in 0..BUCKETS {
            assert_eq!(Bucket::from_index(i).index(), i);
        }
    }
}
