//! Numeric keywords and parameters (`timeout`, `retries`, `delay`, `loop_control.pause`,
//! `throttle`, `async`, `poll`, `gather_timeout`, `max_fail_percentage`, modules' seconds):
//! what each accepts, in one place.
//!
//! Why this module exists: these numbers become sleeps, deadlines and counts. A value no
//! `Duration` can hold (negative, NaN, infinite, beyond `u64` seconds) used to panic the
//! run. Every such value goes through a check here: a literal at load time (a located
//! error, see `check_literal`), a templated one when the task runs (a task failure). The
//! rules model Ansible's (ansible-core 2.19):
//! - `FieldAttribute(isa='int')` (`timeout`, `retries`, `throttle`, `async`, `poll`,
//!   `gather_timeout`): an integer, a float without fraction or a string of one
//!   (`playbook/base.py`, `_post_validate_attribute`, `isa == 'int'`); `0.5` is an error.
//! - `isa='float'` (`delay`, `loop_control.pause`): any number or a string of one.
//! - `isa='percent'` (`max_fail_percentage`): a number, a `%` sign allowed.
//! - a task `timeout` must lie in 0..=100000000 (`_internal/_errors/_alarm_timeout.py`,
//!   `_MAX_TIMEOUT`); 0 means none. The same bound caps every other sleep here.
//! - `retries` below 0 count as 0 (`executor/task_executor.py`: `max(0, retries)`); a
//!   `delay` below 0 is 1 second (same place: `if delay < 0: delay = 1`).
//! - `throttle` 0 or below means no limit (the strategies only act on `throttle > 0`).
//! - a negative or NaN `pause` fails in Ansible's `time.sleep`; here it is refused up front.

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::yaml::{Kind, Node};

/// The largest number of seconds any timeout, delay or pause may be: Ansible's
/// `AnsibleTimeoutError._MAX_TIMEOUT` (about 3 years).
pub const MAX_SECONDS: u64 = 100_000_000;

/// A numeric keyword, for its checks and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numeric {
    /// Task `timeout`.
    Timeout,
    /// `retries`.
    Retries,
    /// `delay`.
    Delay,
    /// `throttle`.
    Throttle,
    /// `async`.
    Async,
    /// `poll`.
    Poll,
    /// The play's `gather_timeout`.
    GatherTimeout,
}

impl Numeric {
    /// The keyword as written.
    pub fn name(self) -> &'static str {
        match self {
            Numeric::Timeout => "timeout",
            Numeric::Retries => "retries",
            Numeric::Delay => "delay",
            Numeric::Throttle => "throttle",
            Numeric::Async => "async",
            Numeric::Poll => "poll",
            Numeric::GatherTimeout => "gather_timeout",
        }
    }

    /// Check a value (literal or rendered) the way the engine will use it.
    pub fn check(self, v: &Value) -> std::result::Result<(), String> {
        match self {
            Numeric::Timeout | Numeric::GatherTimeout => timeout(self.name(), v).map(drop),
            Numeric::Retries => retries(v).map(drop),
            Numeric::Delay => delay(v).map(drop),
            Numeric::Throttle => throttle(v).map(drop),
            Numeric::Async | Numeric::Poll => whole(self.name(), v).map(drop),
        }
    }
}

/// A keyword's literal value, checked now (a located error) unless it is a template, which
/// is checked when the task runs. Returns the value to keep.
pub fn check_literal(node: &Node, what: Numeric) -> Result<Value> {
    if let Kind::Str(s) = &node.kind
        && super::task::is_templated(s)
    {
        return Ok(Value::String(s.clone()));
    }
    let v = node.to_value();
    what.check(&v).map_err(|e| Error::invalid(&node.loc, e))?;
    Ok(v)
}

/// Modules' parameters that are seconds (Ansible types them `int`; a fraction is allowed
/// here as before), by FQCN.
const MODULE_SECONDS: &[(&str, &[&str])] = &[
    (
        "ansible.builtin.wait_for",
        &["timeout", "delay", "sleep", "connect_timeout"],
    ),
    ("ansible.builtin.uri", &["timeout"]),
    ("ansible.builtin.get_url", &["timeout"]),
];

/// Check a module's seconds parameters in `args`; templated values are skipped (`literal`
/// at load time) or checked as rendered (at run time).
pub fn check_module_seconds(
    module: &str,
    args: &serde_json::Map<String, Value>,
    literal: bool,
) -> std::result::Result<(), String> {
    let names = MODULE_SECONDS
        .iter()
        .find(|(m, _)| *m == module)
        .map_or(&[][..], |(_, n)| *n);
    for name in names {
        match args.get(*name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if literal && super::task::is_templated(s) => {}
            Some(v) => drop(seconds(name, v)?),
        }
    }
    Ok(())
}

/// What a value is, as a number: `None` for anything else (a list, a word, null).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Ansible's `isa='int'`: an integer, or a float or string with no fraction.
fn whole(what: &str, v: &Value) -> std::result::Result<i128, String> {
    if let Value::Number(n) = v
        && let Some(i) = n.as_i64()
    {
        return Ok(i.into());
    }
    if let Value::String(s) = v
        && let Ok(i) = s.trim().parse::<i128>()
    {
        return Ok(i);
    }
    match number(v) {
        // The saturating cast is exact for every float that fits; larger ones are beyond
        // any bound checked below.
        Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(f as i128),
        _ => Err(format!(
            "`{what}` must be a whole number, found {}",
            shown(v)
        )),
    }
}

/// A float number of seconds, finite and within `0..=MAX_SECONDS`.
fn float_seconds(what: &str, f: Option<f64>, v: &Value) -> std::result::Result<f64, String> {
    match f {
        Some(f) if f.is_finite() && (0.0..=MAX_SECONDS as f64).contains(&f) => Ok(f),
        _ => Err(format!(
            "`{what}` must be a number of seconds between 0 and {MAX_SECONDS}, found {}",
            shown(v)
        )),
    }
}

/// A task `timeout` or `gather_timeout`: whole seconds in `0..=MAX_SECONDS`; 0 is none.
pub fn timeout(what: &str, v: &Value) -> std::result::Result<Option<Duration>, String> {
    let n = whole(what, v)?;
    if !(0..=MAX_SECONDS as i128).contains(&n) {
        return Err(format!(
            "`{what}` must be between 0 and {MAX_SECONDS} seconds, found {n}"
        ));
    }
    Ok((n > 0).then(|| Duration::from_secs(n as u64)))
}

/// `retries`: a whole number; below 0 is 0.
pub fn retries(v: &Value) -> std::result::Result<usize, String> {
    let n = whole("retries", v)?;
    Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
}

/// `delay`: seconds between `until` attempts; below 0 is 1 second, as in Ansible.
pub fn delay(v: &Value) -> std::result::Result<Duration, String> {
    let f = match number(v) {
        Some(f) if f < 0.0 => Some(1.0),
        other => other,
    };
    float_seconds("delay", f, v).map(Duration::from_secs_f64)
}

/// `loop_control.pause`: seconds between items.
pub fn pause(v: &Value) -> std::result::Result<Duration, String> {
    float_seconds("pause", number(v), v).map(Duration::from_secs_f64)
}

/// `throttle`: how many hosts may run the task at once; 0 or below is no limit.
pub fn throttle(v: &Value) -> std::result::Result<Option<usize>, String> {
    let n = whole("throttle", v)?;
    Ok((n > 0).then(|| usize::try_from(n).unwrap_or(usize::MAX)))
}

/// `max_fail_percentage`: a finite number, with or without a `%` sign.
pub fn percent(v: &Value) -> std::result::Result<f64, String> {
    let f = match v {
        Value::String(s) => s.replace('%', "").trim().parse::<f64>().ok(),
        other => number(other),
    };
    match f {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(format!(
            "`max_fail_percentage` must be a number, found {}",
            shown(v)
        )),
    }
}

/// A module's seconds parameter (`wait_for`'s `timeout`, `uri`'s `timeout`, …): a number
/// in `0..=MAX_SECONDS`.
pub fn seconds(what: &str, v: &Value) -> std::result::Result<f64, String> {
    float_seconds(what, number(v), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ansible_rules() {
        assert_eq!(
            timeout("timeout", &json!(5)).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            timeout("timeout", &json!("5")).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            timeout("timeout", &json!(5.0)).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(timeout("timeout", &json!(0)).unwrap(), None);
        assert!(timeout("timeout", &json!(0.5)).is_err());
        assert!(timeout("timeout", &json!(-1)).is_err());
        assert!(timeout("timeout", &json!(100_000_001)).is_err());
        assert!(timeout("timeout", &json!(1e20)).is_err());
        assert_eq!(retries(&json!(-1)).unwrap(), 0);
        assert_eq!(delay(&json!(-1)).unwrap(), Duration::from_secs(1));
        assert_eq!(delay(&json!(0.5)).unwrap(), Duration::from_millis(500));
        assert!(delay(&json!("inf")).is_err());
        assert!(pause(&json!(-1)).is_err());
        assert!(pause(&json!("nan")).is_err());
        assert_eq!(throttle(&json!(-1)).unwrap(), None);
        assert!(throttle(&json!(1.5)).is_err());
        assert_eq!(percent(&json!("25%")).unwrap(), 25.0);
        assert!(percent(&json!("nan")).is_err());
    }
}
