//! Text encodings of written files, by Python's codec names.
//!
//! Why this exists: `template`'s `output_encoding` names a Python codec; Ansible writes the
//! rendered text with `to_bytes(resultant, encoding=output_encoding,
//! errors='surrogate_or_strict')` (`lib/ansible/plugins/action/template.py`), so a character
//! the codec cannot represent fails the task. windlass knows the codecs configuration files
//! use (UTF-8, Latin-1, ASCII, UTF-16); another name fails the task as an unknown encoding.

/// A codec for text written to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (Python `utf-8`, `utf8`, `u8`, ...).
    Utf8,
    /// ISO-8859-1: each character below U+0100 as one byte (Python `latin-1`).
    Latin1,
    /// 7-bit ASCII.
    Ascii,
    /// UTF-16 with a byte order mark, little endian (Python's `utf-16` on x86/arm).
    Utf16,
    /// UTF-16 little endian, no byte order mark.
    Utf16Le,
    /// UTF-16 big endian, no byte order mark.
    Utf16Be,
}

impl Encoding {
    /// The codec named `name` as Python looks it up (`encodings.normalize_encoding` and
    /// `encodings/aliases.py`); `None` or empty is UTF-8, as Ansible's `or 'utf-8'`.
    pub fn named(name: Option<&str>) -> Result<Encoding, String> {
        let Some(raw) = name.filter(|n| !n.is_empty()) else {
            return Ok(Encoding::Utf8);
        };
        let norm: String = raw
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(match norm.as_str() {
            "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => {
                Encoding::Utf8
            }
            "latin_1" | "latin1" | "latin" | "l1" | "iso_8859_1" | "iso8859_1" | "iso8859"
            | "8859" | "cp819" | "iso_ir_100" | "csisolatin1" | "ibm819" => Encoding::Latin1,
            "ascii" | "us_ascii" | "646" | "us" | "ansi_x3.4_1968" | "ansi_x3.4_1986" | "cp367"
            | "csascii" | "ibm367" | "iso646_us" | "iso_646.irv_1991" | "iso_ir_6" => {
                Encoding::Ascii
            }
            "utf_16" | "utf16" | "u16" => Encoding::Utf16,
            "utf_16_le" | "utf_16le" | "utf16le" | "unicodelittleunmarked" => Encoding::Utf16Le,
            "utf_16_be" | "utf_16be" | "utf16be" | "unicodebigunmarked" => Encoding::Utf16Be,
            _ => return Err(format!("unknown encoding: {raw}")),
        })
    }

    /// `text` in this encoding; a character it cannot represent is an error worded as
    /// Python's `UnicodeEncodeError`.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Latin1 => single_byte(text, "latin-1", 0x100),
            Encoding::Ascii => single_byte(text, "ascii", 0x80),
            Encoding::Utf16 => {
                let mut out = vec![0xff, 0xfe];
                out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                Ok(out)
            }
            Encoding::Utf16Le => Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
            Encoding::Utf16Be => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        }
    }
}

/// A single-byte codec holding the code points below `limit`.
fn single_byte(text: &str, codec: &str, limit: u32) -> Result<Vec<u8>, String> {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            u8::try_from(c as u32)
                .ok()
                .filter(|_| (c as u32) < limit)
                .ok_or_else(|| {
                    format!(
                        "'{codec}' codec can't encode character '\\u{:04x}' in position {i}: ordinal not in range({limit})",
                        c as u32
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bytes() {
        assert_eq!(Encoding::named(None).unwrap(), Encoding::Utf8);
        assert_eq!(
            Encoding::named(Some("ISO-8859-1")).unwrap(),
            Encoding::Latin1
        );
        assert_eq!(Encoding::named(Some("latin-1")).unwrap(), Encoding::Latin1);
        assert!(Encoding::named(Some("klingon")).is_err());
        assert_eq!(Encoding::Latin1.encode("é").unwrap(), vec![0xe9]);
        assert!(Encoding::Latin1.encode("€").unwrap_err().contains("20ac"));
        assert_eq!(Encoding::Utf16Be.encode("a").unwrap(), vec![0, b'a']);
    }
}
