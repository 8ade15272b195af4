//! Ansible's argument-spec type conversion, as a serde deserializer over task arguments.
//!
//! Why this module exists: Ansible converts every module argument to the type its spec
//! declares before the module sees it (`lib/ansible/module_utils/common/validation.py`,
//! `check_type_int`, `check_type_float`, `check_type_bool`, `check_type_str`,
//! `check_type_list`). So `cache_valid_time=600` (free form: a string), `port: "{{ p }}"`
//! (a template: a string) and `port: 80` are the same argument. windlass's modules declare
//! their parameters as serde structs; [`Lenient`] wraps the templated arguments so that a
//! field typed as a number accepts a numeric string, a string field accepts a number or a
//! boolean, a boolean field accepts `yes`/`"true"`/`1`, and a list field accepts a
//! comma-separated string, in every module at once, instead of failing at run time with
//! serde's "expected u64".

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Error, Map, Value};

/// Task arguments read with Ansible's type conversions (see the module header).
pub struct Lenient(pub Value);

impl Lenient {
    fn forward<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(m) => v.visit_map(LenientMap::new(m)),
            Value::Array(a) => v.visit_seq(LenientSeq(a.into_iter())),
            other => other.deserialize_any(v),
        }
    }

    fn int<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => match check_type_int(&s) {
                Some(i) if i >= 0 => v.visit_u64(i as u64),
                Some(i) => v.visit_i64(i),
                None => Err(de::Error::custom(format!(
                    "{s:?} cannot be converted to an int"
                ))),
            },
            // check_type_int: a float with no fractional part is an int.
            Value::Number(n)
                if n.as_f64().is_some_and(|f| f.fract() == 0.0) && !n.is_i64() && !n.is_u64() =>
            {
                let f = n.as_f64().unwrap_or_default();
                if f >= 0.0 {
                    v.visit_u64(f as u64)
                } else {
                    v.visit_i64(f as i64)
                }
            }
            // A bool is an int in Python (True == 1).
            Value::Bool(b) => v.visit_u64(u64::from(b)),
            other => Lenient(other).forward(v),
        }
    }

    fn float<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) => v.visit_f64(f),
                Err(_) => Err(de::Error::custom(format!(
                    "{s:?} cannot be converted to a float"
                ))),
            },
            other => Lenient(other).forward(v),
        }
    }
}

/// `int(value)` of a string as Python reads it: optional sign, decimal digits, `_`
/// between digits, surrounding blanks.
fn check_type_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

/// `str(value)` of a scalar as Python prints it.
fn python_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

macro_rules! ints {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> { self.int(v) }
    )*};
}

impl<'de> Deserializer<'de> for Lenient {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.forward(v)
    }

    ints! { deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
    deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.float(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.float(v)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Bool(b) => v.visit_bool(b),
            other => match super::params::to_bool(&other) {
                Ok(b) => v.visit_bool(b),
                Err(e) => Err(de::Error::custom(e)),
            },
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match python_str(&self.0) {
            Some(s) => v.visit_string(s),
            None => self.forward(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => v.visit_none(),
            other => v.visit_some(Lenient(other)),
        }
    }

    /// check_type_list: a string is split on commas, a number is a one-item list.
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => {
                let items: Vec<Value> = s.split(',').map(|x| Value::String(x.into())).collect();
                v.visit_seq(LenientSeq(items.into_iter()))
            }
            n @ Value::Number(_) => {
                let items = vec![Value::String(python_str(&n).unwrap_or_default())];
                v.visit_seq(LenientSeq(items.into_iter()))
            }
            other => Lenient(other).forward(v),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            // `state: 1`: a choice compared as a string, as Ansible does.
            Value::Number(n) => Value::String(n.to_string()).deserialize_enum(name, variants, v),
            Value::Bool(b) => Value::String(if b { "True" } else { "False" }.into())
                .deserialize_enum(name, variants, v),
            other => other.deserialize_enum(name, variants, v),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier
    }
}

struct LenientSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for LenientSeq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|x| seed.deserialize(Lenient(x)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct LenientMap {
    iter: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl LenientMap {
    fn new(m: Map<String, Value>) -> Self {
        LenientMap {
            iter: m.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for LenientMap {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let v = self.value.take().unwrap_or(Value::Null);
        seed.deserialize(Lenient(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct P {
        port: Option<u64>,
        #[serde(default)]
        name: String,
        #[serde(default)]
        on: bool,
        #[serde(default)]
        list: Vec<String>,
        ratio: Option<f64>,
    }

    fn p(v: Value) -> Result<P, Error> {
        P::deserialize(Lenient(v))
    }

    #[test]
    fn strings_convert_like_check_type() {
        let x = p(json!({"port": "600", "name": 8, "on": "yes", "list": "a,b", "ratio": "0.5"}))
            .unwrap();
        assert_eq!(x.port, Some(600));
        assert_eq!(x.name, "8");
        assert!(x.on);
        assert_eq!(x.list, vec!["a", "b"]);
        assert_eq!(x.ratio, Some(0.5));
        assert_eq!(p(json!({"port": 80.0})).unwrap().port, Some(80));
        assert_eq!(p(json!({"name": true})).unwrap().name, "True");
    }

    #[test]
    fn bad_values_still_fail() {
        assert!(
            p(json!({"port": "six"}))
                .unwrap_err()
                .to_string()
                .contains("int")
        );
        assert!(p(json!({"on": "maybe"})).is_err());
        assert!(
            p(json!({"nope": 1}))
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
    }
}
