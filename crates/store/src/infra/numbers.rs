//! Server-wide numbers of environments, target groups and assignments: drawn from one
//! sequence, in the transaction that inserts the row, never reused.

use crate::infra::connection::DbConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};

#[derive(QueryableByName)]
struct Drawn {
    #[diesel(sql_type = BigInt)]
    number: i64,
}

/// The next number. On PostgreSQL a sequence, which never hands a number out twice, even to
/// transactions that roll back. On SQLite a one-row counter: its writes are serialized with
/// every other write, and a number drawn in a transaction that rolls back was never stored.
pub(crate) fn next_number(conn: &mut DbConnection) -> Result<i64, diesel::result::Error> {
    let drawn: Drawn = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT nextval('entity_numbers') AS number").get_result(pg)?
        }
        DbConnection::Sqlite(sqlite) => diesel::sql_query(
            "UPDATE entity_numbers SET last = last + 1 WHERE id = 1 RETURNING last AS number",
        )
        .get_result(sqlite)?,
    };
    Ok(drawn.number)
}
