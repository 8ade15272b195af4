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
    let micros = strptime(&s, &fmt).map_err(err)?;
    Ok(Value::from_object(DateTime(micros)))
}

/// Python's `datetime.strptime` (the `_strptime` rules `file` times use too): microseconds
/// since the epoch, or Python's `ValueError` text.
fn strptime(s: &str, fmt: &str) -> Result<i64, String> {
    let t = crate::modules::py_strptime::strptime(s, fmt)?;
    let days = crate::modules::py_time::days_from_civil(t.year, t.month.into(), t.day.into());
    let secs =
        days * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second);
    Ok(secs * MICROS + i64::from(t.micro))
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
        assert!(strptime("2024-02-30", "%Y-%m-%d").is_err());
        assert!(strptime("2024-01-02x", "%Y-%m-%d").is_err());
        assert_eq!(TimeDelta(d.0 - e.0).to_string(), "3:04:05");
        assert_eq!(TimeDelta(e.0 - d.0).to_string(), "-1 day, 20:55:55");
        assert_eq!(TimeDelta(2 * DAY + 1).to_string(), "2 days, 0:00:00.000001");
    }
}
