//! Column types that are native on PostgreSQL and TEXT on SQLite.
//!
//! diesel's `MultiBackend` only knows the SQL types both backends share, and none of `Uuid`,
//! `Timestamptz` or `Jsonb` is one of them. Each kind here is therefore a local SQL type that
//! PostgreSQL sees by its real oid and SQLite sees as `Text`, plus a value newtype that knows
//! how to cross each backend and delegates to the right one when the connection is a
//! [`DbConnection`](crate::infra::connection::DbConnection).

use crate::infra::connection::MultiBackend;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::HasSqlType;
use diesel::sqlite::{Sqlite, SqliteValue};

/// The SQL types of the schema that differ between the backends.
pub mod sql {
    use diesel::sql_types::SqlType;

    /// `uuid` on PostgreSQL, hyphenated lowercase `TEXT` on SQLite.
    #[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Uuid;

    /// `timestamptz` on PostgreSQL; on SQLite RFC 3339 `TEXT` in UTC with exactly six
    /// fractional digits, so that text order is time order. (Not named `Timestamptz`:
    /// `diesel::table!` recognizes that name and adds date arithmetic this type lacks.)
    #[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct UtcTimestamp;

    /// `jsonb` on PostgreSQL, JSON text on SQLite.
    #[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(oid = 3802, array_oid = 3807))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Jsonb;
}

/// A UUID column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Uuid)]
pub struct DbUuid(pub uuid::Uuid);

/// A point-in-time column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::UtcTimestamp)]
pub struct DbTime(pub DateTime<Utc>);

impl ToSql<sql::Uuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::Uuid, Pg> for DbUuid {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(value).map(DbUuid)
    }
}

impl ToSql<sql::Uuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql::Uuid, Sqlite> for DbUuid {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbUuid(uuid::Uuid::parse_str(value.read_text())?))
    }
}

impl ToSql<sql::UtcTimestamp, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<diesel::sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::UtcTimestamp, Pg> for DbTime {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<diesel::sql_types::Timestamptz, Pg>>::from_sql(value).map(DbTime)
    }
}

impl ToSql<sql::UtcTimestamp, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // Fixed width (always six digits, always `Z`) keeps comparisons and ORDER BY on the
        // text equal to those on the time. Finer digits are dropped, as PostgreSQL does.
        out.set_value(self.0.to_rfc3339_opts(SecondsFormat::Micros, true));
        Ok(IsNull::No)
    }
}

impl FromSql<sql::UtcTimestamp, Sqlite> for DbTime {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = value.read_text();
        if let Some(at) = stored_time(text) {
            return Ok(DbTime(at));
        }
        Ok(DbTime(
            DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc),
        ))
    }
}

/// A time in the one form terrane stores on SQLite (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, see
/// `to_sql` above), read without chrono's general RFC 3339 parser (a twentieth of the work of
/// reading a page of environments); `None` for any other text, which that parser reads.
fn stored_time(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 27 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'.' || b[26] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..26)?,
    )?;
    Some(date.and_time(time).and_utc())
}

/// Implements the `MultiBackend` side of a column type by delegating to the backend the
/// connection actually speaks.
macro_rules! multi_backend_type {
    ($sql:ty, $value:ty) => {
        impl HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }

        impl ToSql<$sql, MultiBackend> for $value {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                // The multi-backend bind collector keeps the value and serializes it later
                // with the inner backend's `ToSql` above.
                out.set_value((<$sql>::default(), self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, MultiBackend> for $value {
            fn from_sql(
                value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                value.from_sql::<Self, $sql>()
            }
        }
    };
}

multi_backend_type!(sql::Uuid, DbUuid);
multi_backend_type!(sql::UtcTimestamp, DbTime);

/// A JSON document column: `jsonb` on PostgreSQL (so it can be indexed and queried), its
/// compact text on SQLite.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Jsonb)]
pub struct DbJson(pub serde_json::Value);

impl ToSql<sql::Jsonb, Pg> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <serde_json::Value as ToSql<diesel::sql_types::Jsonb, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::Jsonb, Pg> for DbJson {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <serde_json::Value as FromSql<diesel::sql_types::Jsonb, Pg>>::from_sql(value).map(DbJson)
    }
}

impl ToSql<sql::Jsonb, Sqlite> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql::Jsonb, Sqlite> for DbJson {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbJson(serde_json::from_str(value.read_text())?))
    }
}

multi_backend_type!(sql::Jsonb, DbJson);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_stored_time_reads_as_chrono_reads_it() {
        let instants = [
            Utc.with_ymd_and_hms(2026, 12, 5, 0, 24, 23).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        ];
        for base in instants {
            for micros in [0, 1, 231_983, 999_999] {
                let at = base + chrono::Duration::microseconds(micros);
                let text = at.to_rfc3339_opts(SecondsFormat::Micros, true);
                assert_eq!(stored_time(&text), Some(at), "{text}");
            }
        }
    }

    #[test]
    fn other_text_is_left_to_chrono() {
        for text in [
            "2026-12-05T00:24:23Z",
            "2026-12-05T00:24:23.231983+00:00",
            "2026-12-05 00:24:23.231983Z",
            "2026-13-05T00:24:23.231983Z",
            "2026-02-30T00:24:23.231983Z",
            "2026-12-05T24:00:00.000000Z",
            "2026-12-05T00:24:2x.231983Z",
            "+026-12-05T00:24:23.231983Z",
        ] {
            assert_eq!(stored_time(text), None, "{text}");
        }
    }
}
