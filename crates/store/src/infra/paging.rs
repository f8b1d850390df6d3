//! A page of rows with the total of all matching rows, read in one statement.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use diesel::dsl::SingleValue;
use diesel::Connection;
use terrane_domain::Page;

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

/// The `page` that `load` answers (each row with [`total_of`]) and the total, from one
/// statement, which is one snapshot on its own. A page past the end has no row to carry the
/// total: then `load` answers the first page for it, and the asked page again, in one
/// transaction so that the two agree.
pub(crate) fn paged<Row>(
    conn: &mut DbConnection,
    page: Page,
    load: impl Fn(&mut DbConnection, Page) -> Result<Vec<(Row, Option<i64>)>, Failure>,
) -> Result<(Vec<Row>, u64), Failure> {
    let total_on =
        |rows: &[(Row, Option<i64>)]| rows.first().map_or(0, |(_, total)| total.unwrap_or(0));
    let mut rows = load(conn, page)?;
    let total = if rows.is_empty() && page.skip() > 0 {
        let (total, again) = conn.transaction(|conn| {
            let total = total_on(&load(conn, page.first())?);
            Ok::<_, Failure>((total, load(conn, page)?))
        })?;
        rows = again;
        total
    } else {
        total_on(&rows)
    };
    // COUNT(*) is never negative.
    Ok((
        rows.into_iter().map(|(row, _)| row).collect(),
        total.unsigned_abs(),
    ))
}
