//! A page of rows with the total of all matching rows, read in one statement.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use diesel::dsl::SingleValue;
use diesel::Connection;

/// The number of all rows `count` (the page's query without its order and limit, counted)
/// matches, as a column of each row of the page: an uncorrelated scalar subquery, which both
/// backends run once per statement. (A window function, `count(*) OVER ()`, would copy every
/// row of the page, all its columns, into a temporary table before answering the first.) The
/// column is never null: `count(*)` always answers.
pub(crate) fn total_of<Q>(count: Q) -> SingleValue<Q>
where
    Q: diesel::query_dsl::methods::SingleValueDsl,
{
    count.single_value()
}

/// The page `load` answers (each row with [`total_of`]) and the total, from one statement,
/// which is one snapshot on its own. A page past the end has no row to carry the total: then
/// `count` counts it, and `load` runs again, in one transaction so that the two agree.
pub(crate) fn paged<Row>(
    conn: &mut DbConnection,
    skip: u32,
    load: impl Fn(&mut DbConnection) -> Result<Vec<(Row, Option<i64>)>, Failure>,
    count: impl Fn(&mut DbConnection) -> Result<i64, Failure>,
) -> Result<(Vec<Row>, u64), Failure> {
    let mut rows = load(conn)?;
    let total = match rows.first() {
        Some((_, total)) => total.unwrap_or(0),
        None if skip == 0 => 0,
        None => {
            let (total, again) =
                conn.transaction(|conn| Ok::<_, Failure>((count(conn)?, load(conn)?)))?;
            rows = again;
            total
        }
    };
    // COUNT(*) is never negative.
    Ok((
        rows.into_iter().map(|(row, _)| row).collect(),
        total.unsigned_abs(),
    ))
}
