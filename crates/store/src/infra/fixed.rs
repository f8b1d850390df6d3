//! SQL text fixed at compile time, as an expression a statement may be kept prepared with.
//!
//! diesel's `sql()` literal marks every statement it appears in as unsafe to keep prepared
//! (its text could come from anywhere), so PostgreSQL would parse and plan such a statement
//! again on every run. The text here is always one of this crate's constants, so the
//! statements that hold it are cached by their text like any other.
//!
//! Finding a statement by its text means writing the text out on every run (for the
//! environment view, a fifth of a `GET`'s work). A fixed expression may instead be *keyed*
//! by a marker type ([`FixedKey`]): a statement made only of diesel's own parts and keyed
//! expressions has a type of its own, and diesel finds it prepared by that type without
//! writing its text.

use diesel::backend::Backend;
use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, TypedExpressionType,
    ValidGrouping,
};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, SqlType};
use diesel::QueryResult;
use std::marker::PhantomData;

/// What identifies a fixed expression to diesel's cache of prepared statements.
///
/// A keyed marker type promises: on one connection, every expression keyed by it has the same
/// text (it may differ between backends, since each connection caches its own statements).
pub(crate) trait FixedKey: 'static {
    /// Whether the marker identifies the text: `false` makes diesel look the statement up by
    /// its text.
    const KEYED: bool;
}

/// The statement is looked up by its text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByText;

impl FixedKey for ByText {
    const KEYED: bool = false;
}

/// Declares marker types that key fixed expressions (see [`FixedKey`]).
macro_rules! fixed_keys {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub(crate) struct $name;

            impl $crate::infra::fixed::FixedKey for $name {
                const KEYED: bool = true;
            }
        )+
    };
}
pub(crate) use fixed_keys;

/// `sql`, a constant of this crate, of SQL type `ST`, identified by `K`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fixed<ST, K = ByText> {
    sql: &'static str,
    types: PhantomData<(ST, K)>,
}

/// The fixed expression `sql` of SQL type `ST`, keyed by `K`: every expression keyed by `K`
/// must have the same text on one connection.
pub(crate) fn keyed<ST, K: FixedKey>(sql: &'static str) -> Fixed<ST, K> {
    Fixed {
        sql,
        types: PhantomData,
    }
}

impl<ST: SqlType + TypedExpressionType, K> Expression for Fixed<ST, K> {
    type SqlType = ST;
}

impl<ST, K, DB: Backend> QueryFragment<DB> for Fixed<ST, K> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<ST, K: FixedKey> QueryId for Fixed<ST, K> {
    type QueryId = K;
    const HAS_STATIC_QUERY_ID: bool = K::KEYED;
}

impl<ST, K, QS> SelectableExpression<QS> for Fixed<ST, K> where Fixed<ST, K>: AppearsOnTable<QS> {}

impl<ST, K, QS> AppearsOnTable<QS> for Fixed<ST, K> where Fixed<ST, K>: Expression {}

impl<ST, K, GB> ValidGrouping<GB> for Fixed<ST, K> {
    type IsAggregate = is_aggregate::Never;
}

/// A condition written out as a constant, the way the predicate of a partial index is (say
/// `deployments.status = 'in_progress'`). PostgreSQL plans each prepared statement once, for
/// any values (see `infra::connection`): with the value bound, the plan could not use the
/// partial index, since nothing would show the value is the one the index holds.
pub(crate) fn condition(sql: &'static str) -> Fixed<diesel::sql_types::Bool> {
    keyed::<diesel::sql_types::Bool, ByText>(sql)
}

/// `head`, a constant of this crate, followed by one bound value of SQL type `BT` and `tail`
/// (another constant), identified by `K` (see [`Fixed`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedWithBind<ST, BT, V, K = ByText> {
    head: &'static str,
    value: V,
    tail: &'static str,
    types: PhantomData<(ST, BT, K)>,
}

/// The fixed expression `head`, `value` bound as `BT`, and `)`, of SQL type `ST`, keyed by
/// `K` (pass [`ByText`] to look it up by its text).
pub(crate) fn fixed_with_bind<ST, BT, V, K: FixedKey>(
    head: &'static str,
    value: V,
) -> FixedWithBind<ST, BT, V, K> {
    fixed_around_bind(head, value, ")")
}

/// [`fixed_with_bind`] ending in `tail` instead of `)`.
pub(crate) fn fixed_around_bind<ST, BT, V, K: FixedKey>(
    head: &'static str,
    value: V,
    tail: &'static str,
) -> FixedWithBind<ST, BT, V, K> {
    FixedWithBind {
        head,
        value,
        tail,
        types: PhantomData,
    }
}

impl<ST: SqlType + TypedExpressionType, BT, V, K> Expression for FixedWithBind<ST, BT, V, K> {
    type SqlType = ST;
}

impl<ST, BT, V, K, DB> QueryFragment<DB> for FixedWithBind<ST, BT, V, K>
where
    DB: Backend + HasSqlType<BT>,
    V: ToSql<BT, DB>,
    BT: SqlType,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.head);
        out.push_bind_param::<BT, V>(&self.value)?;
        out.push_sql(self.tail);
        Ok(())
    }
}

impl<ST, BT, V, K: FixedKey> QueryId for FixedWithBind<ST, BT, V, K> {
    type QueryId = K;
    const HAS_STATIC_QUERY_ID: bool = K::KEYED;
}

impl<ST, BT, V, K, QS> SelectableExpression<QS> for FixedWithBind<ST, BT, V, K> where
    FixedWithBind<ST, BT, V, K>: AppearsOnTable<QS>
{
}

impl<ST, BT, V, K, QS> AppearsOnTable<QS> for FixedWithBind<ST, BT, V, K> where
    FixedWithBind<ST, BT, V, K>: Expression
{
}

impl<ST, BT, V, K, GB> ValidGrouping<GB> for FixedWithBind<ST, BT, V, K> {
    type IsAggregate = is_aggregate::Never;
}

/// Makes `$name` a PostgreSQL expression of SQL type `$st` that `walk` writes with the `AstPass`
/// `$out` (`$this` is the value): constant text of this crate around bound values, so a
/// statement holding it is found prepared by its text. (diesel's `sql` literals would have the
/// statement parsed and planned again on every run.)
macro_rules! pg_expression {
    ($name:ident: $st:ty, |$this:ident, $out:ident| $walk:block) => {
        impl diesel::expression::Expression for $name {
            type SqlType = $st;
        }

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut $out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                let $this = self;
                $walk
                Ok(())
            }
        }

        impl diesel::query_builder::QueryId for $name {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl<QS> diesel::expression::SelectableExpression<QS> for $name {}

        impl<QS> diesel::expression::AppearsOnTable<QS> for $name {}

        impl<GB> diesel::expression::ValidGrouping<GB> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
    };
}
pub(crate) use pg_expression;

/// Binds each value as its SQL type into the `AstPass` `$out`, separated by `, `: a row of
/// values in column order (`push_binds!(out; sql::Uuid => &row.id, Text => &row.name)`).
macro_rules! push_binds {
    ($out:expr; $ty:ty => $value:expr $(, $rest_ty:ty => $rest:expr)* $(,)?) => {{
        $out.push_bind_param::<$ty, _>($value)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$rest_ty, _>($rest)?;
        )*
    }};
}
pub(crate) use push_binds;
