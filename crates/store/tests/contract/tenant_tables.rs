//! Every table holding tenant rows is guarded by row-level security on PostgreSQL, with the
//! same policy as `environments`, so a table added later cannot forget it.

use crate::harness::TestDb;
use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

#[derive(Debug, QueryableByName, PartialEq, Eq)]
struct Guard {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Bool)]
    forced: bool,
    /// Whether the table has a policy whose USING and WITH CHECK read exactly like those
    /// of `environments`.
    #[diesel(sql_type = Bool)]
    same_policy: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn every_table_with_a_tenant_id_forces_the_tenant_policy_of_environments() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mut conn = PgConnection::establish(&db.url).unwrap();
    let guards: Vec<Guard> = diesel::sql_query(
        "SELECT c.relname::text AS name, c.relrowsecurity AS enabled, \
                c.relforcerowsecurity AS forced, \
                EXISTS (SELECT 1 FROM pg_policies p, pg_policies e \
                        WHERE p.schemaname = 'public' AND p.tablename = c.relname \
                          AND e.schemaname = 'public' AND e.tablename = 'environments' \
                          AND p.cmd = e.cmd AND p.permissive = e.permissive \
                          AND p.qual = e.qual AND p.with_check = e.with_check) AS same_policy \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                       AND a.attname = 'tenant_id' AND NOT a.attisdropped) \
         ORDER BY 1",
    )
    .load(&mut conn)
    .unwrap();
    let names: Vec<&str> = guards.iter().map(|g| g.name.as_str()).collect();
    for table in [
        "components",
        "environments",
        "freeze_windows",
        "idempotency_keys",
    ] {
        assert!(
            names.contains(&table),
            "{table} holds tenant rows: {names:?}"
        );
    }
    for guard in &guards {
        assert!(
            guard.enabled && guard.forced && guard.same_policy,
            "{} must ENABLE and FORCE row-level security with the tenant policy: {guard:?}",
            guard.name
        );
    }
}
