//! The canonical JSON text an audit entry is hashed over.
//!
//! It is RFC 8785 (the JSON Canonicalization Scheme, JCS) with one stated difference:
//!
//! - no whitespace anywhere;
//! - object members sorted by their names compared as sequences of UTF-16 code units
//!   (RFC 8785 §3.2.3), each name once;
//! - strings written with `\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r` for those characters,
//!   `\u00xx` (lowercase hex) for the other control characters U+0000..U+001F, and every other
//!   character as itself in UTF-8 (RFC 8785 §3.2.2.2);
//! - literals `null`, `true`, `false`;
//! - a number that is not an integer is written as ECMAScript's `Number.prototype.toString`
//!   writes the double (RFC 8785 §3.2.2.3): the shortest digits that read back as the same
//!   double, plain between 1e-6 and 1e21, otherwise with an exponent (`1e+21`, `1.5e-7`),
//!   `-0` as `0`;
//! - **the difference:** an integer that fits 64 bits (what `serde_json` holds as `i64` or
//!   `u64`) is written in plain decimal, exactly. Up to 2^53 in magnitude that is what RFC 8785
//!   writes too; beyond it RFC 8785 would round the integer to a double first, which would let
//!   a change to its last digits go unnoticed.
//!
//! Two JSON texts that mean the same value (members in another order, other whitespace, `1.0`
//! for `1`, `1E2` for `100`, escapes for plain characters) have the same canonical text, so
//! the hash does not depend on how a database stores the document (PostgreSQL's `jsonb`
//! reorders members and rewrites numbers).

use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// A JSON document in canonical form, kept as text: the exact bytes an entry's hash covers.
///
/// Kept as text rather than as a parsed value because reading JSON back is not always exact
/// (a double parsed again may land on its neighbour), and a stored entry must hash the same
/// way in ten years as on the day it was chained.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonicalJson(String);

impl CanonicalJson {
    /// The canonical text of `value`.
    pub fn of(value: &Value) -> Self {
        Self(canonical_json(value))
    }

    /// Text as it was stored. It is not written again: verifying hashes exactly these bytes,
    /// so text that was changed in storage, canonical or not, fails verification.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document, parsed.
    ///
    /// # Errors
    /// When the stored text is not JSON (changed in storage).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

/// The canonical text of `value` (see the module documentation).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Appends the canonical text of `value` to `out`.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => write_object(out, members),
    }
}

fn write_object(out: &mut String, members: &Map<String, Value>) {
    let mut sorted: Vec<(Vec<u16>, &String, &Value)> = members
        .iter()
        .map(|(name, value)| (name.encode_utf16().collect(), name, value))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('{');
    for (at, (_, name, value)) in sorted.into_iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

/// Appends `text` as a canonical JSON string.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, number: &Number) {
    if let Some(n) = number.as_u64() {
        let _ = write!(out, "{n}");
    } else if let Some(n) = number.as_i64() {
        let _ = write!(out, "{n}");
    } else if let Some(n) = number.as_f64() {
        write_double(out, n);
    } else {
        // Unreachable without serde_json's `arbitrary_precision`, which terrane does not
        // enable; its own text is the best left then.
        out.push_str(&number.to_string());
    }
}

/// Appends a finite double as ECMAScript's `Number.prototype.toString` writes it.
pub fn write_double(out: &mut String, value: f64) {
    if value == 0.0 || !value.is_finite() {
        // serde_json holds no NaN or infinity; -0 is written as 0.
        out.push('0');
        return;
    }
    if value < 0.0 {
        out.push('-');
    }
    // Rust writes the shortest digits that read back as the same double; `{:e}` gives them
    // as `d[.ddd]e<exp>`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    // ECMAScript's names: the value is digits × 10^(n − k).
    let k = digits.len() as i64;
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn double(value: f64) -> String {
        let mut out = String::new();
        write_double(&mut out, value);
        out
    }

    #[test]
    fn members_are_sorted_and_whitespace_is_gone() {
        let value: Value =
            serde_json::from_str(r#"{ "b": [1, 2, {"z": null, "a": true}], "a": "x" }"#).unwrap();
        assert_eq!(
            canonical_json(&value),
            r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn member_names_sort_by_utf16_code_units_as_rfc_8785_says() {
        // RFC 8785 §3.2.3's example: U+1F600 (a surrogate pair, 0xD83D..) sorts before
        // U+FB33 in UTF-16 although it comes after it in UTF-8.
        let value =
            json!({"\u{fb33}": 1, "\u{1f600}": 2, "\r": 3, "1": 4, "\u{80}": 5, "\u{f6}": 6});
        assert_eq!(
            canonical_json(&value),
            "{\"\\r\":3,\"1\":4,\"\u{80}\":5,\"\u{f6}\":6,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn strings_escape_only_what_rfc_8785_escapes() {
        let value = json!("\u{0}\u{1f}\u{8}\t\n\u{c}\r\"\\/\u{7f}\u{2028}é€😀");
        assert_eq!(
            canonical_json(&value),
            "\"\\u0000\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\u{7f}\u{2028}é€😀\""
        );
    }

    #[test]
    fn doubles_are_written_as_ecmascript_writes_them() {
        // The number examples of RFC 8785 Appendix B (those a double can hold).
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (-5e-324, "-5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-1.7976931348623157e308, "-1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (-9007199254740992.0, "-9007199254740992"),
            (295147905179352830000.0, "295147905179352830000"),
            (9.999999999999997e22, "9.999999999999997e+22"),
            (1e23, "1e+23"),
            (1e21, "1e+21"),
            (999999999999999700000.0, "999999999999999700000"),
            (999999999999999900000.0, "999999999999999900000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (123.456, "123.456"),
            (100.0, "100"),
            (0.000123, "0.000123"),
            (1.23e-7, "1.23e-7"),
        ];
        for (value, text) in cases {
            assert_eq!(double(value), text, "{value:e}");
        }
    }

    #[test]
    fn one_number_written_in_several_ways_has_one_canonical_text() {
        for text in ["100", "1E2", "100.0", "1e+2", "100.000"] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(canonical_json(&value), "100", "{text}");
        }
        let value: Value = serde_json::from_str("[1.50, -0.0, 2e-7]").unwrap();
        assert_eq!(canonical_json(&value), "[1.5,0,2e-7]");
    }

    #[test]
    fn integers_of_64_bits_are_written_exactly() {
        assert_eq!(canonical_json(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(canonical_json(&json!(i64::MIN)), "-9223372036854775808");
        assert_eq!(
            canonical_json(&json!(9007199254740993_u64)),
            "9007199254740993"
        );
    }

    #[test]
    fn a_canonical_text_reads_back_as_the_same_value() {
        let value = json!({"data": {"x": [1, 2.5, "é"], "y": null}, "a": -3});
        let text = canonical_json(&value);
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(again, value);
        assert_eq!(canonical_json(&again), text);
    }
}
