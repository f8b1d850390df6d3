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
        Ok(DbTime(
            DateTime::parse_from_rfc3339(value.read_text())?.with_timezone(&Utc),
        ))
    }
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
