//! Times in a module result as Python prints them: `str(datetime)` and `str(timedelta)`.
//!
//! Why this module exists: Ansible's `command`/`shell` results carry `start`, `end`
//! (`2026-12-03 03:54:46.123456`) and `delta` (`0:00:00.003125`) made by `str()` of
//! Python's `datetime.now()` and of the difference (lib/ansible/modules/command.py), and
//! content parses them (`to_datetime`, `regex_search`). windlass measures on the
//! controller, in UTC (no time zone database here; Ansible uses the target's local time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `str(datetime)` of `t` in UTC: `YYYY-MM-DD HH:MM:SS.ffffff` (no fraction when the
/// microseconds are 0, as Python).
pub fn datetime(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    let mut out = format!(
        "{y:04}-{m:02}-{day:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    push_micros(&mut out, d.subsec_micros());
    out
}

/// `str(timedelta)` of `d`: `H:MM:SS.ffffff` (`N day(s), ` first past a day).
pub fn timedelta(d: Duration) -> String {
    let secs = d.as_secs();
    let days = secs / 86_400;
    let s = secs % 86_400;
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days} day{}, ", if days == 1 { "" } else { "s" }));
    }
    out.push_str(&format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60));
    push_micros(&mut out, d.subsec_micros());
    out
}

fn push_micros(out: &mut String, us: u32) {
    if us != 0 {
        out.push_str(&format!(".{us:06}"));
    }
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// [`civil_from_days`]).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_python() {
        let t = UNIX_EPOCH + Duration::from_micros(1_796_270_086_123_456);
        assert_eq!(datetime(t), "2026-12-03 03:54:46.123456");
        assert_eq!(
            datetime(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00:00:00"
        );
        assert_eq!(timedelta(Duration::from_micros(3125)), "0:00:00.003125");
        assert_eq!(timedelta(Duration::from_secs(3_723)), "1:02:03");
        assert_eq!(timedelta(Duration::from_secs(90_000)), "1 day, 1:00:00");
    }
}
