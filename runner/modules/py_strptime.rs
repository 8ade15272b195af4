//! Python's `time.strptime` for the `file` module's `modification_time`/`access_time`
//! and the `to_datetime` filter (`datetime.strptime` shares `_strptime`).
//!
//! Why this module exists: Ansible parses those timestamps with `time.strptime(value,
//! format)` and `time.mktime` (lib/ansible/modules/file.py `get_timestamp_for_time`), so a
//! playbook's value means what Python's `_strptime` makes of it: each directive matches the
//! regex `_strptime.TimeRE` gives it (so `%m` takes one or two digits), format whitespace
//! matches any run of whitespace, case is ignored, the whole value must be used, and fields
//! left out default to 1900-01-01 00:00:00. The result is a local time of the host
//! (`mktime`): windlass hands it to the host's `date` to get the epoch there.

use regex::Regex;

/// A broken-down local time, as `strptime` leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// Year.
    pub year: i64,
    /// Month 1-12.
    pub month: u32,
    /// Day of the month.
    pub day: u32,
    /// Hour 0-23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second 0-61.
    pub second: u32,
    /// Microsecond (`%f`).
    pub micro: u32,
}

impl LocalTime {
    /// `YYYY-MM-DD HH:MM:SS`, as GNU `date -d` reads it.
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The regex of one directive, as Python's `_strptime.TimeRE` (C locale).
fn directive(c: char) -> Option<String> {
    let months_full = MONTHS.join("|");
    let months_abbr: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
    Some(match c {
        'd' => r"(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])".into(),
        'H' => r"(?P<H>2[0-3]|[0-1]\d|\d)".into(),
        'I' => r"(?P<I>1[0-2]|0[1-9]|[1-9])".into(),
        'm' => r"(?P<m>1[0-2]|0[1-9]|[1-9])".into(),
        'M' => r"(?P<M>[0-5]\d|\d)".into(),
        'S' => r"(?P<S>6[0-1]|[0-5]\d|\d)".into(),
        'y' => r"(?P<y>\d\d)".into(),
        'Y' => r"(?P<Y>\d\d\d\d)".into(),
        'p' => r"(?P<p>am|pm)".into(),
        'f' => r"(?P<f>[0-9]{1,6})".into(),
        'b' | 'h' => format!("(?P<b>{})", months_abbr.join("|")),
        'B' => format!("(?P<B>{months_full})"),
        '%' => "%".into(),
        _ => return None,
    })
}

/// `time.strptime(value, format)`; the error is Python's `ValueError` text.
pub fn strptime(value: &str, format: &str) -> Result<LocalTime, String> {
    let mut pat = String::from("(?i)^");
    let mut chars = format.chars().peekable();
    let mut in_space = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            if !in_space {
                pat.push_str(r"\s+");
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c != '%' {
            pat.push_str(&regex::escape(&c.to_string()));
            continue;
        }
        let d = chars
            .next()
            .ok_or_else(|| "stray % in format '%'".to_string())?;
        match directive(d) {
            Some(r) if !pat.contains(&format!("(?P<{d}>")) => pat.push_str(&r),
            Some(_) => return Err(format!("redefinition of group name '{d}'")),
            None => return Err(format!("'{d}' is a bad directive in format '%{d}'")),
        }
    }
    let re = Regex::new(&pat).map_err(|e| e.to_string())?;
    let caps = re
        .captures(value)
        .ok_or_else(|| format!("time data '{value}' does not match format '{format}'"))?;
    let end = caps.get(0).map_or(0, |m| m.end());
    if end != value.len() {
        return Err(format!("unconverted data remains: {}", &value[end..]));
    }
    let num = |k: &str| {
        caps.name(k)
            .and_then(|m| m.as_str().trim().parse::<u32>().ok())
    };
    let mut t = LocalTime {
        year: 1900,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
    };
    if let Some(y) = num("Y") {
        t.year = i64::from(y);
    } else if let Some(y) = num("y") {
        // POSIX: 69-99 are 1969-1999, 00-68 are 2000-2068.
        t.year = i64::from(if y < 69 { 2000 + y } else { 1900 + y });
    }
    if let Some(m) = num("m") {
        t.month = m;
    }
    for k in ["b", "B"] {
        if let Some(name) = caps.name(k) {
            let n = name.as_str().to_ascii_lowercase();
            t.month = MONTHS.iter().position(|m| m.starts_with(&n)).unwrap_or(0) as u32 + 1;
        }
    }
    t.day = num("d").unwrap_or(1);
    t.minute = num("M").unwrap_or(0);
    t.second = num("S").unwrap_or(0);
    // `%f` is a fraction: right-padded to microseconds (Python's _strptime).
    if let Some(f) = caps.name("f") {
        t.micro = format!("{:0<6}", f.as_str()).parse().unwrap_or(0);
    }
    t.hour = match (num("H"), num("I")) {
        (Some(h), _) => h,
        (None, Some(i)) => {
            let pm = caps
                .name("p")
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("pm"));
            (i % 12) + if pm { 12 } else { 0 }
        }
        (None, None) => 0,
    };
    if t.day > days_in_month(t.year, t.month) {
        return Err("day is out of range for month".into());
    }
    Ok(t)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_python_parses() {
        let t = strptime("202001011200.00", "%Y%m%d%H%M.%S").unwrap();
        assert_eq!(t.iso(), "2020-01-01 12:00:00");
        // %m takes one digit when two would leave the rest unmatched? No: Python's regex
        // prefers two digits here and the rest must still match.
        assert_eq!(
            strptime("3 jan 99  7:05pm", "%d %b %y %I:%M%p")
                .unwrap()
                .iso(),
            "1999-01-03 19:05:00"
        );
        assert_eq!(strptime("12", "%H").unwrap().iso(), "1900-01-01 12:00:00");
        assert_eq!(
            strptime("2020", "%Y%m").unwrap_err(),
            "time data '2020' does not match format '%Y%m'"
        );
        assert_eq!(
            strptime("2020-01-01x", "%Y-%m-%d").unwrap_err(),
            "unconverted data remains: x"
        );
        assert_eq!(
            strptime("2021-02-29", "%Y-%m-%d").unwrap_err(),
            "day is out of range for month"
        );
        assert!(strptime("1", "%Q").is_err());
    }
}
