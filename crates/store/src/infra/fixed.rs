//! SQL text fixed at compile time, as an expression a statement may be kept prepared with.
//!
//! diesel's `sql()` literal marks every statement it appears in as unsafe to keep prepared
//! (its text could come from anywhere), so PostgreSQL would parse and plan such a statement
//! again on every run. The text here is always one of this crate's constants, so the
//! statements that hold it are cached by their text like any other.

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

/// `sql`, a constant of this crate, of SQL type `ST`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fixed<ST> {
    sql: &'static str,
    sql_type: PhantomData<ST>,
}

/// The fixed expression `sql` of SQL type `ST`.
pub(crate) fn fixed<ST>(sql: &'static str) -> Fixed<ST> {
    Fixed {
        sql,
        sql_type: PhantomData,
    }
}

impl<ST: SqlType + TypedExpressionType> Expression for Fixed<ST> {
    type SqlType = ST;
}

impl<ST, DB: Backend> QueryFragment<DB> for Fixed<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<ST> QueryId for Fixed<ST> {
    type QueryId = ();
    // Cached by the statement's text, which holds this constant.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, QS> SelectableExpression<QS> for Fixed<ST> where Fixed<ST>: AppearsOnTable<QS> {}

impl<ST, QS> AppearsOnTable<QS> for Fixed<ST> where Fixed<ST>: Expression {}

impl<ST, GB> ValidGrouping<GB> for Fixed<ST> {
    type IsAggregate = is_aggregate::Never;
}

/// `head`, a constant of this crate, followed by one bound value of SQL type `BT` and `)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedWithBind<ST, BT, V> {
    head: &'static str,
    value: V,
    types: PhantomData<(ST, BT)>,
}

/// The fixed expression `head`, `value` bound as `BT`, and `)`, of SQL type `ST`.
pub(crate) fn fixed_with_bind<ST, BT, V>(head: &'static str, value: V) -> FixedWithBind<ST, BT, V> {
    FixedWithBind {
        head,
        value,
        types: PhantomData,
    }
}

impl<ST: SqlType + TypedExpressionType, BT, V> Expression for FixedWithBind<ST, BT, V> {
    type SqlType = ST;
}

impl<ST, BT, V, DB> QueryFragment<DB> for FixedWithBind<ST, BT, V>
where
    DB: Backend + HasSqlType<BT>,
    V: ToSql<BT, DB>,
    BT: SqlType,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.head);
        out.push_bind_param::<BT, V>(&self.value)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<ST, BT, V> QueryId for FixedWithBind<ST, BT, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, BT, V, QS> SelectableExpression<QS> for FixedWithBind<ST, BT, V> where
    FixedWithBind<ST, BT, V>: AppearsOnTable<QS>
{
}

impl<ST, BT, V, QS> AppearsOnTable<QS> for FixedWithBind<ST, BT, V> where
    FixedWithBind<ST, BT, V>: Expression
{
}

impl<ST, BT, V, GB> ValidGrouping<GB> for FixedWithBind<ST, BT, V> {
    type IsAggregate = is_aggregate::Never;
}
