//! The lookup plugins `lines`, `sequence`, `indexed_items`, `varnames`, `fileglob`,
//! `random_choice` and `subelements`, which `with_<name>` loops use too.
//!
//! Why this module exists: ansible-core ships them (`lib/ansible/plugins/lookup/*.py`) and
//! playbooks loop over them; each function here follows its plugin's `run()`.

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::context::Ctx;
use super::filters::{err, text};

/// `lines`: each output line of each command (run by `/bin/sh`), as `lines.py`.
pub(crate) fn lines(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        let cmd = text(t)?;
        let o = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .map_err(|e| err(format!("lookup_plugin.lines({cmd}): {e}")))?;
        if !o.status.success() {
            return Err(err(format!(
                "lookup_plugin.lines({cmd}) returned {}",
                o.status.code().unwrap_or(-1)
            )));
        }
        out.extend(String::from_utf8_lossy(&o.stdout).lines().map(Value::from));
    }
    Ok(out)
}

/// `sequence`: `start=1 end=5 stride=2 format=%02d` or the `[start-]end[/stride][:format]`
/// shortcut; the items are strings (`sequence.py`).
pub(crate) fn sequence(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        let term = text(t)?;
        let (start, end, stride, fmt) = parse_sequence(&term)?;
        if stride == 0 {
            continue;
        }
        if fmt.matches('%').count() != 1 {
            return Err(err(format!("bad formatting string: {fmt}")));
        }
        let mut i = start;
        while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
            // `self.format % i` in sequence.py: Python's `%` formatting
            out.push(Value::from(super::pyformat::format(&fmt, &Value::from(i))?));
            i += stride;
        }
    }
    Ok(out)
}

fn parse_sequence(term: &str) -> Result<(i64, i64, i64, String), Error> {
    let num = |s: &str| -> Result<i64, Error> {
        let s = s.trim();
        let r = if let Some(h) = s.strip_prefix("0x") {
            i64::from_str_radix(h, 16)
        } else if let Some(o) = s.strip_prefix("0o") {
            i64::from_str_radix(o, 8)
        } else {
            s.parse()
        };
        r.map_err(|_| err(format!("can't parse integer from '{s}' in sequence")))
    };
    let (mut start, mut end, mut count, mut stride, mut fmt) =
        (1i64, None, None, 1i64, "%d".to_owned());
    if term.contains('=') {
        for w in term.split_whitespace() {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| err(format!("can't parse arg '{w}' in sequence")))?;
            match k {
                "start" => start = num(v)?,
                "end" => end = Some(num(v)?),
                "count" => count = Some(num(v)?),
                "stride" => stride = num(v)?,
                "format" => fmt = v.to_owned(),
                _ => return Err(err(format!("unrecognized arguments to with_sequence: {k}"))),
            }
        }
    } else {
        let (rest, f) = term.split_once(':').unwrap_or((term, ""));
        if !f.is_empty() {
            fmt = f.to_owned();
        }
        let (rest, st) = rest.split_once('/').unwrap_or((rest, ""));
        if !st.is_empty() {
            stride = num(st)?;
        }
        match rest.split_once('-') {
            Some((a, b)) => {
                start = num(a)?;
                end = Some(num(b)?);
            }
            None => end = Some(num(rest)?),
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => {
            return Err(err("can't specify both count and end in with_sequence"));
        }
        (Some(e), None) => e,
        (None, Some(0)) => return Ok((start, start - 1, 1, fmt)),
        (None, Some(c)) => start + (c - 1) * stride,
        (None, None) => return Err(err("must specify count or end in with_sequence")),
    };
    if stride > 0 && end < start {
        return Err(err("to count backwards make stride negative"));
    }
    if stride < 0 && end > start {
        return Err(err("to count forward don't make stride negative"));
    }
    Ok((start, end, stride, fmt))
}

/// `indexed_items`: `[index, item]` pairs.
pub(crate) fn indexed_items(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let items: Vec<Value> = if terms.len() == 1 && terms[0].kind() == ValueKind::Seq {
        terms[0].try_iter()?.collect()
    } else {
        terms.to_vec()
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, v)| Value::from(vec![Value::from(i), v]))
        .collect())
}

/// `varnames`: the names of the variables matching each regular expression.
pub(crate) fn varnames(ctx: &Arc<Ctx>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let names = ctx.names();
    let mut out = Vec::new();
    for t in terms {
        let re = super::pyre::compile(&text(t)?, false, false)?;
        for n in &names {
            if re.is_match(n).map_err(super::pyre::run_err)? {
                out.push(Value::from(n.as_str()));
            }
        }
    }
    Ok(out)
}

/// `fileglob`: the files (not directories) matching each pattern; a relative pattern is
/// looked up in the `files` search path, the first directory with matches wins.
pub(crate) fn fileglob(dirs: &[PathBuf], terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        let pat = text(t)?;
        let bases: Vec<PathBuf> = if std::path::Path::new(&pat).is_absolute() {
            vec![PathBuf::new()]
        } else {
            dirs.to_vec()
        };
        for base in bases {
            let full = base.join(&pat);
            let Ok(paths) = glob::glob(&full.to_string_lossy()) else {
                continue;
            };
            let found: Vec<Value> = paths
                .flatten()
                .filter(|p| p.is_file())
                .map(|p| std::path::absolute(&p).unwrap_or(p))
                .map(|p| Value::from(p.to_string_lossy().into_owned()))
                .collect();
            if !found.is_empty() {
                out.extend(found);
                break;
            }
        }
    }
    Ok(out)
}

/// `random_choice`: one of the terms.
pub(crate) fn random_choice(terms: &[Value]) -> Result<Vec<Value>, Error> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let v = Value::from(terms.to_vec());
    let pick = super::corefilters::pick_random(&v)?;
    Ok(vec![pick])
}

/// `subelements`: terms are the list, the key path and optionally `{skip_missing: bool}`.
pub(crate) fn subelements(terms: &[Value]) -> Result<Vec<Value>, Error> {
    if terms.len() < 2 {
        return Err(err(
            "subelements lookup expects a list of two or three items",
        ));
    }
    let skip = match terms.get(2) {
        Some(flags) => flags
            .get_attr("skip_missing")
            .map(|v| v.is_true())
            .unwrap_or(false),
        None => false,
    };
    let path = text(&terms[1])?;
    let v = super::corefilters::subelements_of(&terms[0], &path, skip)?;
    // the lookup, unlike the filter, drops the subelement's key from the item
    // (`lib/ansible/plugins/lookup/subelements.py` pops it)
    let mut out = Vec::new();
    for pair in v.try_iter()? {
        let item = pair.get_item(&Value::from(0))?;
        let sub = pair.get_item(&Value::from(1))?;
        let item = match path.contains('.') || item.kind() != ValueKind::Map {
            true => item,
            false => Value::from(
                item.try_iter()?
                    .filter(|k| k.as_str() != Some(path.as_str()))
                    .map(|k| {
                        let v = item.get_item(&k).unwrap_or_default();
                        (k, v)
                    })
                    .collect::<std::collections::BTreeMap<Value, Value>>(),
            ),
        };
        out.push(Value::from(vec![item, sub]));
    }
    Ok(out)
}

/// `password`: the password stored in the file a term names (first the text before
/// ` salt=`), else a new random one written there (mode 0600; not for `/dev/null`), as
/// `lib/ansible/plugins/lookup/password.py`. Options: `length=` (20) and `chars=` (names of
/// Python `string` constants or literal characters; default letters, digits and `.,:-_`).
pub(crate) fn password(
    terms: &[Value],
    kw: &Option<minijinja::value::Kwargs>,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        let term = text(t)?;
        let mut words = term.split_whitespace();
        let path = words
            .next()
            .ok_or_else(|| err("password lookup needs a path"))?;
        let mut length = 20usize;
        let mut chars = "ascii_letters,digits,.,:-_".to_owned();
        let mut set = |k: &str, v: String| -> Result<(), Error> {
            match k {
                "length" => {
                    length = v.parse().map_err(|_| err(format!("invalid length {v}")))?;
                }
                "chars" => chars = v,
                "encrypt" | "ident" | "seed" | "salt" => {}
                other => {
                    return Err(err(format!(
                        "Unrecognized parameter(s) given to password lookup: {other}"
                    )));
                }
            }
            Ok(())
        };
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| err(format!("invalid password lookup term {w}")))?;
            set(k, v.to_owned())?;
        }
        if let Some(kw) = kw {
            for k in ["length", "chars"] {
                if let Some(v) = kw.get::<Option<Value>>(k)? {
                    let v = match v.as_str() {
                        Some(s) => s.to_owned(),
                        None if v.kind() == ValueKind::Seq => v
                            .try_iter()?
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                        None => v.to_string(),
                    };
                    set(k, v)?;
                }
            }
        }
        let p = std::path::PathBuf::from(path);
        let null = p == std::path::Path::new("/dev/null");
        if !null {
            if let Ok(content) = std::fs::read_to_string(&p) {
                let content = content.trim_end();
                let pw = content.rsplit_once(" salt=").map_or(content, |(a, _)| a);
                out.push(Value::from(pw));
                continue;
            }
        }
        let pool = candidate_chars(&chars);
        if pool.is_empty() {
            return Err(err("password lookup: no characters to choose from"));
        }
        let pw: String = (0..length)
            .map(|_| pool[(super::corefilters::rand_u64() % pool.len() as u64) as usize])
            .collect();
        if !null {
            write_secret(&p, &pw)
                .map_err(|e| err(format!("password lookup: cannot write {path}: {e}")))?;
        }
        out.push(Value::from(pw));
    }
    Ok(out)
}

/// The characters `chars=` names: comma-separated Python `string` constant names or
/// literal characters (`,,` is a comma).
fn candidate_chars(spec: &str) -> Vec<char> {
    let lower = "abcdefghijklmnopqrstuvwxyz";
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = String::new();
    for part in spec.replace(",,", ",\u{0}").split(',') {
        let part = part.replace('\u{0}', ",");
        out.push_str(match part.as_str() {
            "ascii_letters" | "letters" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "ascii_lowercase" | "lowercase" => lower,
            "ascii_uppercase" | "uppercase" => upper,
            "digits" => "0123456789",
            "hexdigits" => "0123456789abcdefABCDEF",
            "octdigits" => "01234567",
            "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
            other => {
                out.push_str(other);
                continue;
            }
        });
    }
    let mut seen = Vec::new();
    for c in out.chars() {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen
}

fn write_secret(p: &std::path::Path, pw: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(format!("{pw}\n").as_bytes())
}
