//! Times on the wire, written without the formatting machinery.
//!
//! chrono writes a `DateTime<Utc>` through `Display` and `collect_str`, a character at a
//! time: on a page of 50 environments that was about a twentieth of the server's work. These
//! serializers write the same text (RFC 3339 in UTC with `Z`, the fraction in the fewest of 0,
//! 3, 6 or 9 digits that hold it) into a buffer on the stack, and leave the times they do not
//! cover (years outside 0 to 9999, leap seconds) to chrono itself. Use them with
//! `#[serde(serialize_with = "crate::time::rfc3339")]` (or `rfc3339_option`); the schema is
//! unchanged.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Writes `value` as chrono's `Serialize` does.
pub fn rfc3339<S: Serializer>(value: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = Text::default();
    if text.rfc3339(value) {
        serializer.serialize_str(text.as_str())
    } else {
        value.serialize(serializer)
    }
}

/// [`rfc3339`] of a time that may be absent (`null`).
pub fn rfc3339_option<S: Serializer>(
    value: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => rfc3339(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// The text of a time, at most `9999-12-31T23:59:59.999999999Z`.
#[derive(Default)]
struct Text {
    bytes: [u8; 30],
    len: usize,
}

impl Text {
    /// Writes `value` as chrono does and answers true, or answers false for a year outside 0
    /// to 9999 or a leap second.
    fn rfc3339(&mut self, value: &DateTime<Utc>) -> bool {
        let (Ok(year @ 0..=9999), nano @ 0..=999_999_999) =
            (u32::try_from(value.year()), value.nanosecond())
        else {
            return false;
        };
        self.digits(year, 4);
        self.byte(b'-');
        self.digits(value.month(), 2);
        self.byte(b'-');
        self.digits(value.day(), 2);
        self.byte(b'T');
        self.digits(value.hour(), 2);
        self.byte(b':');
        self.digits(value.minute(), 2);
        self.byte(b':');
        self.digits(value.second(), 2);
        let fraction = match nano {
            0 => None,
            n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
            n if n % 1_000 == 0 => Some((n / 1_000, 6)),
            n => Some((n, 9)),
        };
        if let Some((n, width)) = fraction {
            self.byte(b'.');
            self.digits(n, width);
        }
        self.byte(b'Z');
        true
    }

    fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `n`, which has at most `width` digits, in exactly `width` digits.
    fn digits(&mut self, n: u32, width: usize) {
        let mut rest = n;
        for at in (self.len..self.len + width).rev() {
            self.bytes[at] = b"0123456789"[(rest % 10) as usize];
            rest /= 10;
        }
        self.len += width;
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn both(value: DateTime<Utc>) -> (String, String) {
        let ours = serde_json::to_string(&Wrapped(value)).unwrap();
        let chrono = serde_json::to_string(&value).unwrap();
        (ours, chrono)
    }

    struct Wrapped(DateTime<Utc>);

    impl Serialize for Wrapped {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            rfc3339(&self.0, s)
        }
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let base = Utc.with_ymd_and_hms(2026, 1, 9, 4, 5, 6).unwrap();
        let nanos = [
            0,
            1,
            999,
            1_000,
            5_000,
            120_000,
            422_784_000,
            1_000_000,
            7_000_000,
            100_000_000,
            999_000_000,
            999_999_000,
            999_999_999,
            123_456_789,
        ];
        let mut seen = 0;
        for nano in nanos {
            for days in [0, 1, 40, 400, 3_000, 20_000] {
                let value =
                    base + chrono::Duration::days(days) + chrono::Duration::nanoseconds(nano);
                let (ours, chrono) = both(value);
                assert_eq!(ours, chrono, "{value:?}");
                seen += 1;
            }
        }
        assert_eq!(seen, 84);
        // The edges of the years written in four digits.
        for value in [
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()
                + chrono::Duration::nanoseconds(999_999_999),
        ] {
            let (ours, chrono) = both(value);
            assert_eq!(ours, chrono);
        }
    }

    #[test]
    fn times_it_does_not_cover_are_left_to_chrono() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        for value in [
            leap,
            Utc.with_ymd_and_hms(-1, 6, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
        ] {
            assert!(!Text::default().rfc3339(&value), "{value:?}");
            let (ours, chrono) = both(value);
            assert_eq!(ours, chrono);
        }
        assert_eq!(both(leap).0, "\"2016-12-31T23:59:60.500Z\"");
    }

    #[test]
    fn an_absent_time_is_null() {
        let json = serde_json::to_value(Optional(None)).unwrap();
        assert_eq!(json, serde_json::Value::Null);
        let value = Utc.with_ymd_and_hms(2026, 12, 4, 21, 26, 12).unwrap();
        let json = serde_json::to_string(&Optional(Some(value))).unwrap();
        assert_eq!(json, "\"2026-12-04T21:26:12Z\"");
    }

    struct Optional(Option<DateTime<Utc>>);

    impl Serialize for Optional {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            rfc3339_option(&self.0, s)
        }
    }
}
