//! Python `datetime`/`timedelta` values: the `to_datetime` filter, `now()`, and `-` between
//! them.
//!
//! Why this module exists: Ansible's `to_datetime` (`lib/ansible/plugins/filter/core.py`)
//! is `datetime.datetime.strptime(string, format)` with the default format
//! `"%Y-%m-%d %H:%M:%S"`, and playbooks read its attributes (`.year`), call `strftime`, and
//! subtract two of them to a `timedelta` (`.days`, `.seconds`, `.total_seconds()`). The
//! values are naive (no time zone), kept here as microseconds since the epoch. minijinja has
//! no operator hook for objects, so a binary `-` in an expression that makes datetimes is
//! routed to [`SUB_FN`](super::percent::SUB_FN) by the source pass in [`super::percent`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Environment, Error, State};

use super::corefilters::{Civil, format_time};
use super::filters::err;

const MICROS: i64 = 1_000_000;
const DAY: i64 = 86_400 * MICROS;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("to_datetime", to_datetime);
    env.add_function(super::percent::SUB_FN, py_sub);
}

/// A naive `datetime.datetime`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateTime(i64);

/// A `datetime.timedelta`.
#[derive(Debug, Clone, Copy)]
struct TimeDelta(i64);

impl DateTime {
    /// The datetime `t` seconds after the epoch.
    pub(crate) fn from_epoch(t: f64) -> Value {
        Value::from_object(DateTime((t * 1e6).round() as i64))
    }

    fn epoch(&self) -> f64 {
        self.0 as f64 / 1e6
    }

    fn civil(&self) -> Civil {
        Civil::from_epoch(self.0.div_euclid(MICROS) as f64 + self.micro() as f64 / 1e6)
    }

    fn micro(&self) -> u32 {
        self.0.rem_euclid(MICROS) as u32
    }
}

impl Object for DateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = self.civil();
        Some(match key.as_str()? {
            "year" => Value::from(c.year),
            "month" => Value::from(c.month),
            "day" => Value::from(c.day),
            "hour" => Value::from(c.hour),
            "minute" => Value::from(c.minute),
            "second" => Value::from(c.second),
            "microsecond" => Value::from(self.micro()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let c = self.civil();
        Ok(match (method, args) {
            ("strftime", [fmt]) => {
                Value::from(format_time(&super::filters::text(fmt)?, self.epoch()))
            }
            ("timestamp", []) => Value::from(self.epoch()),
            ("isoformat", []) => Value::from(self.to_string().replacen(' ', "T", 1)),
            ("weekday", []) => Value::from((c.wday + 6) % 7),
            ("isoweekday", []) => Value::from(if c.wday == 0 { 7 } else { c.wday }),
            _ => {
                return Err(err(format!(
                    "'datetime.datetime' object has no method '{method}' with {} arguments",
                    args.len()
                )));
            }
        })
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for DateTime {
    /// Python's `str(datetime)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )?;
        match self.micro() {
            0 => Ok(()),
            us => write!(f, ".{us:06}"),
        }
    }
}

impl TimeDelta {
    /// Python's normalised fields: days (any sign), seconds in a day, microseconds.
    fn fields(&self) -> (i64, i64, i64) {
        let days = self.0.div_euclid(DAY);
        let rest = self.0.rem_euclid(DAY);
        (days, rest / MICROS, rest % MICROS)
    }
}

impl Object for TimeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (days, seconds, micros) = self.fields();
        Some(match key.as_str()? {
            "days" => Value::from(days),
            "seconds" => Value::from(seconds),
            "microseconds" => Value::from(micros),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (method, args) {
            ("total_seconds", []) => Ok(Value::from(self.0 as f64 / 1e6)),
            _ => Err(err(format!(
                "'datetime.timedelta' object has no method '{method}'"
            ))),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for TimeDelta {
    /// Python's `str(timedelta)`: `[D day[s], ]H:MM:SS[.ffffff]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, seconds, micros) = self.fields();
        if days != 0 {
            let s = if days.abs() == 1 { "" } else { "s" };
            write!(f, "{days} day{s}, ")?;
        }
        write!(
            f,
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )?;
        match micros {
            0 => Ok(()),
            us => write!(f, ".{us:06}"),
        }
    }
}

/// `to_datetime(format="%Y-%m-%d %H:%M:%S")`: `datetime.strptime`.
fn to_datetime(v: &Value, format: Option<String>) -> Result<Value, Error> {
    let s = super::filters::text(v)?;
    let fmt = format.unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".to_owned());
    let micros = strptime(&s, &fmt)
        .ok_or_else(|| err(format!("time data '{s}' does not match format '{fmt}'")))?;
    Ok(Value::from_object(DateTime(micros)))
}

/// The fields `strptime` collects.
struct Parsed {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
    pm: Option<bool>,
}

/// Python's `strptime` for the numeric directives and month names; microseconds since the
/// epoch, or `None` when `s` does not match `fmt` exactly.
fn strptime(s: &str, fmt: &str) -> Option<i64> {
    let mut p = Parsed {
        year: 1900,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
        pm: None,
    };
    let mut rest = s;
    let mut f = fmt.chars();
    while let Some(c) = f.next() {
        if c.is_whitespace() {
            rest = rest.trim_start();
            continue;
        }
        if c != '%' {
            rest = rest.strip_prefix(c)?;
            continue;
        }
        rest = directive(f.next()?, rest, &mut p)?;
    }
    if !rest.is_empty() {
        return None;
    }
    if let Some(pm) = p.pm {
        p.hour = p.hour % 12 + if pm { 12 } else { 0 };
    }
    let leap = (p.year % 4 == 0 && p.year % 100 != 0) || p.year % 400 == 0;
    const LEN: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let month_len = LEN.get((p.month - 1) as usize)? + i64::from(leap && p.month == 2);
    if p.day < 1 || p.day > month_len || p.hour > 23 || p.minute > 59 || p.second > 61 {
        return None;
    }
    let days = crate::modules::py_time::days_from_civil(p.year, p.month, p.day);
    let secs = days * 86_400 + p.hour * 3600 + p.minute * 60 + p.second;
    Some(secs * MICROS + p.micro)
}

/// One `%x` directive read from the front of `rest`.
fn directive<'a>(d: char, rest: &'a str, p: &mut Parsed) -> Option<&'a str> {
    let (n, width) = match d {
        'Y' => (&mut p.year, 4),
        'm' => (&mut p.month, 2),
        'd' => (&mut p.day, 2),
        'H' | 'I' => (&mut p.hour, 2),
        'M' => (&mut p.minute, 2),
        'S' => (&mut p.second, 2),
        'y' => {
            let (v, r) = number(rest, 2)?;
            p.year = if v < 69 { 2000 + v } else { 1900 + v };
            return Some(r);
        }
        'f' => {
            let (digits, r) = split_digits(rest, 6)?;
            p.micro = format!("{digits:0<6}").parse().ok()?;
            return Some(r);
        }
        'p' => {
            let up = rest.get(..2)?.to_ascii_uppercase();
            p.pm = Some(match up.as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
            return rest.get(2..);
        }
        'b' | 'B' | 'h' => return month_name(rest, p),
        '%' => return rest.strip_prefix('%'),
        _ => return None,
    };
    let (v, r) = number(rest, width)?;
    *n = v;
    Some(r)
}

fn split_digits(s: &str, max: usize) -> Option<(&str, &str)> {
    let len = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    (len > 0).then(|| s.split_at(len))
}

fn number(s: &str, max: usize) -> Option<(i64, &str)> {
    let (d, r) = split_digits(s, max)?;
    Some((d.parse().ok()?, r))
}

fn month_name<'a>(rest: &'a str, p: &mut Parsed) -> Option<&'a str> {
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
    let lower = rest.to_ascii_lowercase();
    for (i, m) in MONTHS.iter().enumerate() {
        for name in [*m, &m[..3]] {
            if lower.starts_with(name) {
                p.month = i as i64 + 1;
                return rest.get(name.len()..);
            }
        }
    }
    None
}

/// `lhs - rhs`: datetimes and timedeltas as Python subtracts them, else minijinja's `-`.
fn py_sub(lhs: Value, rhs: Value) -> Result<Value, Error> {
    let dt = |v: &Value| v.downcast_object_ref::<DateTime>().map(|d| d.0);
    let td = |v: &Value| v.downcast_object_ref::<TimeDelta>().map(|d| d.0);
    if let (Some(a), Some(b)) = (dt(&lhs), dt(&rhs)) {
        return Ok(Value::from_object(TimeDelta(a - b)));
    }
    if let (Some(a), Some(b)) = (dt(&lhs), td(&rhs)) {
        return Ok(Value::from_object(DateTime(a - b)));
    }
    if let (Some(a), Some(b)) = (td(&lhs), td(&rhs)) {
        return Ok(Value::from_object(TimeDelta(a - b)));
    }
    if dt(&lhs).is_some() || dt(&rhs).is_some() || td(&lhs).is_some() || td(&rhs).is_some() {
        return Err(err(format!(
            "unsupported operand type(s) for -: '{lhs}' and '{rhs}'"
        )));
    }
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(Environment::new);
    env.compile_expression("a - b")?
        .eval(minijinja::context! { a => lhs, b => rhs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_python() {
        let d = DateTime(strptime("2024-01-02 03:04:05", "%Y-%m-%d %H:%M:%S").unwrap());
        assert_eq!(d.to_string(), "2024-01-02 03:04:05");
        let e = DateTime(strptime("02/01/24", "%d/%m/%y").unwrap());
        assert_eq!(e.to_string(), "2024-01-02 00:00:00");
        assert!(strptime("2024-02-30", "%Y-%m-%d").is_none());
        assert!(strptime("2024-01-02x", "%Y-%m-%d").is_none());
        assert_eq!(TimeDelta(d.0 - e.0).to_string(), "3:04:05");
        assert_eq!(TimeDelta(e.0 - d.0).to_string(), "-1 day, 20:55:55");
        assert_eq!(TimeDelta(2 * DAY + 1).to_string(), "2 days, 0:00:00.000001");
    }
}
