//! Statements diesel prepares once per connection although it would not on its own.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement whose SQL text is the same on every run: an `UPDATE` that sets every column,
/// or a raw query with a fixed text. diesel prepares an `UPDATE` or a raw query again on
/// every run, since in general their text may vary (a changeset that skips `None`s, a string
/// built at run time); wrapped in this, it is kept in the connection's statement cache,
/// keyed by its text, and runs without being parsed and planned again.
///
/// Only wrap a statement whose text cannot depend on its values: a text that varied would
/// fill the cache with one entry per variant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reusable<Q>(pub(crate) Q);

impl<Q, DB> QueryFragment<DB> for Reusable<Q>
where
    Q: QueryFragment<DB>,
    DB: Backend,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Reusable<Q> {
    // No static id: the cache keys the statement by its text.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Conn> RunQueryDsl<Conn> for Reusable<Q> {}
