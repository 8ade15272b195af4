//! Python's printf-style string formatting (`'%s-%03d' % (a, n)`, `'%(k)s' % d`), the
//! string half of the `%` operator the [`super::percent`] rewrite routes here.
//!
//! Why this module exists: Jinja2 evaluates `%` with Python, so a string on the left is
//! `str.__mod__` (CPython `Objects/unicodeobject.c`, `PyUnicode_Format`; documented under
//! "printf-style String Formatting"). Anything else on the left keeps minijinja's modulo.
//! minijinja has no tuple type: a sequence on the right is taken as the argument tuple when
//! the format asks for more than one value or the sequence has exactly one item.

use std::sync::OnceLock;

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error};

use super::convert::{py_repr, py_str};
use super::filters::err;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function(super::percent::MOD_FN, py_mod);
}

/// `lhs % rhs` with Python's meaning.
fn py_mod(lhs: Value, rhs: Value) -> Result<Value, Error> {
    match lhs.as_str() {
        Some(fmt) if lhs.kind() == ValueKind::String => format(fmt, &rhs).map(Value::from),
        _ => native_mod(lhs, rhs),
    }
}

/// minijinja's own `%` (integer and float modulo, its errors).
fn native_mod(lhs: Value, rhs: Value) -> Result<Value, Error> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(Environment::new);
    let expr = env.compile_expression("a % b")?;
    expr.eval(minijinja::context! { a => lhs, b => rhs })
}

/// One conversion specifier: `%(key)flags width .precision type`.
#[derive(Default)]
struct Spec {
    key: Option<String>,
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: Option<usize>,
    precision: Option<usize>,
    conv: char,
}

/// The arguments a format takes its values from.
enum Args<'a> {
    Map(&'a Value),
    Seq(Vec<Value>, usize),
}

impl Args<'_> {
    fn next(&mut self, key: Option<&str>) -> Result<Value, Error> {
        match (self, key) {
            (Args::Map(m), Some(k)) => m
                .get_item(&Value::from(k))
                .ok()
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| err(format!("KeyError: '{k}'"))),
            (Args::Map(_), None) => Err(err("format requires a mapping")),
            (Args::Seq(items, pos), _) => {
                let v = items
                    .get(*pos)
                    .cloned()
                    .ok_or_else(|| err("not enough arguments for format string"))?;
                *pos += 1;
                Ok(v)
            }
        }
    }
}

/// `fmt % args`.
pub(crate) fn format(fmt: &str, args: &Value) -> Result<String, Error> {
    let specs = parse(fmt)?;
    let wanted = specs.iter().filter(|s| matches!(s, Piece::Spec(_))).count();
    let keyed = specs
        .iter()
        .any(|s| matches!(s, Piece::Spec(p) if p.key.is_some()));
    let mut a = if keyed && args.kind() == ValueKind::Map {
        Args::Map(args)
    } else if args.kind() == ValueKind::Seq && (wanted != 1 || args.len() == Some(1)) {
        Args::Seq(args.try_iter()?.collect(), 0)
    } else {
        Args::Seq(vec![args.clone()], 0)
    };
    let mut out = String::with_capacity(fmt.len() + 16);
    for p in &specs {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Spec(s) => out.push_str(&convert(s, &a.next(s.key.as_deref())?)?),
        }
    }
    if let Args::Seq(items, pos) = &a {
        if *pos < items.len() && !(keyed || wanted == 0 && args.kind() == ValueKind::Map) {
            return Err(err("not all arguments converted during string formatting"));
        }
    }
    Ok(out)
}

enum Piece {
    Text(String),
    Spec(Spec),
}

fn parse(fmt: &str) -> Result<Vec<Piece>, Error> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut it = fmt.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        if it.peek() == Some(&'%') {
            it.next();
            text.push('%');
            continue;
        }
        out.push(Piece::Text(std::mem::take(&mut text)));
        out.push(Piece::Spec(spec(&mut it)?));
    }
    out.push(Piece::Text(text));
    Ok(out)
}

fn spec(it: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Spec, Error> {
    let mut s = Spec::default();
    if it.peek() == Some(&'(') {
        it.next();
        let mut key = String::new();
        for c in it.by_ref() {
            if c == ')' {
                break;
            }
            key.push(c);
        }
        s.key = Some(key);
    }
    while let Some(&c) = it.peek() {
        match c {
            '-' => s.left = true,
            '0' => s.zero = true,
            '+' => s.plus = true,
            ' ' => s.space = true,
            '#' => s.alt = true,
            _ => break,
        }
        it.next();
    }
    s.width = digits(it);
    if it.peek() == Some(&'.') {
        it.next();
        s.precision = Some(digits(it).unwrap_or(0));
    }
    while matches!(it.peek(), Some('h' | 'l' | 'L')) {
        it.next();
    }
    s.conv = it.next().ok_or_else(|| err("incomplete format"))?;
    Ok(s)
}

fn digits(it: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        it.next();
    }
    n
}

/// One value converted and padded as the specifier says.
fn convert(s: &Spec, v: &Value) -> Result<String, Error> {
    let (body, numeric) = match s.conv {
        's' => (py_str(v), false),
        'r' | 'a' => {
            let mut r = String::new();
            py_repr(v, &mut r);
            (r, false)
        }
        'c' => (char_of(v)?, false),
        'd' | 'i' | 'u' => (signed(s, int_of(s, v)?.to_string()), true),
        'x' | 'X' | 'o' => (radix(s, int_of(s, v)?), true),
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => (signed(s, float_text(s, float_of(s, v)?)), true),
        c => {
            return Err(err(format!(
                "unsupported format character '{c}' (0x{:x})",
                c as u32
            )));
        }
    };
    let body = match s.precision {
        Some(p) if !numeric => body.chars().take(p).collect(),
        _ => body,
    };
    Ok(pad(s, body, numeric))
}

fn pad(s: &Spec, body: String, numeric: bool) -> String {
    let width = s.width.unwrap_or(0);
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if s.left {
        return body + &" ".repeat(fill);
    }
    if s.zero && numeric {
        // zeros go after the sign and a 0x/0o prefix
        let sign = body.starts_with(['-', '+', ' ']) as usize;
        let prefix = sign + 2 * (s.alt && body[sign..].starts_with("0")) as usize;
        let prefix = prefix.min(body.len());
        return format!("{}{}{}", &body[..prefix], "0".repeat(fill), &body[prefix..]);
    }
    " ".repeat(fill) + &body
}

fn signed(s: &Spec, body: String) -> String {
    if body.starts_with('-') {
        body
    } else if s.plus {
        format!("+{body}")
    } else if s.space {
        format!(" {body}")
    } else {
        body
    }
}

fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::String => "str",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::None | ValueKind::Undefined => "NoneType",
        _ => "object",
    }
}

fn int_of(s: &Spec, v: &Value) -> Result<i128, Error> {
    if let Ok(i) = i128::try_from(v.clone()) {
        return Ok(i);
    }
    match f64::try_from(v.clone()) {
        Ok(f) if v.kind() == ValueKind::Number && f.is_finite() => Ok(f.trunc() as i128),
        _ => Err(err(format!(
            "%{} format: a real number is required, not {}",
            s.conv,
            type_name(v)
        ))),
    }
}

fn float_of(s: &Spec, v: &Value) -> Result<f64, Error> {
    match v.kind() {
        ValueKind::Number | ValueKind::Bool => f64::try_from(v.clone()),
        _ => Err(err(format!(
            "must be real number, not {} (in %{})",
            type_name(v),
            s.conv
        ))),
    }
}

fn char_of(v: &Value) -> Result<String, Error> {
    if let Some(t) = v.as_str().filter(|t| t.chars().count() == 1) {
        return Ok(t.to_owned());
    }
    i128::try_from(v.clone())
        .ok()
        .and_then(|i| u32::try_from(i).ok())
        .and_then(char::from_u32)
        .map(String::from)
        .ok_or_else(|| err("%c requires an int or a unicode character"))
}

fn radix(s: &Spec, i: i128) -> String {
    let (neg, n) = (i < 0, i.unsigned_abs());
    let digits = match s.conv {
        'x' => format!("{n:x}"),
        'X' => format!("{n:X}"),
        _ => format!("{n:o}"),
    };
    let prefix = match (s.alt, s.conv) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, _) => "0o",
        _ => "",
    };
    let body = format!("{prefix}{digits}");
    signed(s, if neg { format!("-{body}") } else { body })
}

/// `%f`, `%e`, `%g` of a float, as CPython writes them.
fn float_text(s: &Spec, f: f64) -> String {
    if !f.is_finite() {
        let t = if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return if s.conv.is_ascii_uppercase() {
            t.to_uppercase()
        } else {
            t.to_owned()
        };
    }
    let p = s.precision.unwrap_or(6);
    let t = match s.conv.to_ascii_lowercase() {
        'f' => format!("{f:.p$}"),
        'e' => exp_text(f, p),
        _ => general(f, p, s.alt),
    };
    if s.conv.is_ascii_uppercase() {
        t.to_uppercase()
    } else {
        t
    }
}

/// Rust's `{:e}` with Python's exponent (sign and at least two digits).
fn exp_text(f: f64, p: usize) -> String {
    let t = format!("{f:.p$e}");
    let (mant, exp) = t.split_once('e').unwrap_or((&t, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mant}e{sign}{digits:0>2}")
}

/// `%g`: `%e` when the exponent is < -4 or >= precision, else `%f`; trailing zeros go.
fn general(f: f64, p: usize, alt: bool) -> String {
    let p = p.max(1);
    let e = if f == 0.0 {
        0
    } else {
        let t = format!("{:.*e}", p - 1, f);
        t.split_once('e')
            .and_then(|(_, x)| x.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let t = if e < -4 || e >= p as i64 {
        exp_text(f, p - 1)
    } else {
        let decimals = (p as i64 - 1 - e).max(0) as usize;
        format!("{f:.decimals$}")
    };
    if alt {
        return t;
    }
    match t.split_once('e') {
        Some((m, x)) => format!("{}e{x}", strip_zeros(m)),
        None => strip_zeros(&t).to_owned(),
    }
}

fn strip_zeros(t: &str) -> &str {
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.')
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, v: Value) -> String {
        format(fmt, &v).unwrap()
    }

    #[test]
    fn formats_like_python() {
        let args = Value::from(vec![Value::from("a"), Value::from(5)]);
        assert_eq!(f("%s-%03d", args), "a-005");
        assert_eq!(
            f("%.2f|%5.1f|%-4d|", Value::from(vec![1.23456, 2.0, 7.0])),
            "1.23|  2.0|7   |"
        );
        assert_eq!(
            f("%x %X %o %#x %#o", Value::from(vec![255; 5])),
            "ff FF 377 0xff 0o377"
        );
        assert_eq!(f("%e", Value::from(12345.678)), "1.234568e+04");
        assert_eq!(
            f("%g %g %g", Value::from(vec![0.0001, 1e20, 2.5])),
            "0.0001 1e+20 2.5"
        );
        assert_eq!(f("%r %s %%", Value::from(vec!["x", "y"])), "'x' y %");
        assert_eq!(
            f("%+d % d %05d", Value::from(vec![3, 3, -42])),
            "+3  3 -0042"
        );
        let m = Value::from(std::collections::BTreeMap::from([("k", Value::from("v"))]));
        assert_eq!(f("%(k)s!", m), "v!");
        assert_eq!(f("%s", Value::from(vec![1])), "1");
        assert!(format("%s %s", &Value::from(vec![1])).is_err());
        assert!(format("%d", &Value::from("x")).is_err());
    }
}
