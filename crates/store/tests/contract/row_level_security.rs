//! PostgreSQL row-level security: the second line of tenant isolation, checked from a
//! session that does not bypass it (superusers do, as the store's test connections are).

use crate::harness::{env_id, named, now, tenant, TestDb};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use terrane_domain::{EnvironmentChanges, EnvironmentFilter, EnvironmentSort, Page, TenantId};
use terrane_ports::{EnvironmentRepository, IdempotencyBegin, IdempotencyRepository};
use terrane_store::Store;
use uuid::Uuid;

/// A login role without superuser or BYPASSRLS, dropped with its grants at the end.
struct Role {
    name: String,
    database_url: String,
}

impl Role {
    fn create(database_url: &str) -> Role {
        let name = format!("terrane_rls_{}", Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(database_url).unwrap();
        admin
            .batch_execute(&format!(
                "CREATE ROLE {name} LOGIN; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}; \
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name};"
            ))
            .unwrap();
        Role {
            name,
            database_url: database_url.to_owned(),
        }
    }

    /// The test database's URL, logging in as this role.
    fn url(&self) -> String {
        let mut url = url::Url::parse(&self.database_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.to_string()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        // Roles outlive databases: drop it even when the test failed.
        let dropped = PgConnection::establish(&self.database_url)
            .map_err(|e| e.to_string())
            .and_then(|mut admin| {
                admin
                    .batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0};", self.name))
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = dropped {
            eprintln!("could not drop role {}: {error}", self.name);
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

fn count(conn: &mut PgConnection, table: &str) -> i64 {
    diesel::sql_query(format!("SELECT count(*) AS count FROM {table}"))
        .get_result::<Count>(conn)
        .unwrap()
        .count
}

fn set_tenant(conn: &mut PgConnection, tenant: TenantId) {
    diesel::sql_query("SELECT set_config('terrane.tenant_id', $1, true)")
        .bind::<Text, _>(tenant.to_string())
        .execute(conn)
        .unwrap();
}

fn insert_environment(
    conn: &mut PgConnection,
    tenant: TenantId,
    name: &str,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO environments (id, tenant_id, name, display_name, order_index, is_production, is_active, \
         is_build_environment, deployment_timeout, health_check_interval, required_approvals, \
         require_separation_of_duties, promotion_policy, status, version, created_at, updated_at) \
         VALUES (gen_random_uuid(), $1, $2, $2, 0, false, true, false, 600, 30, 0, false, 'default', 'ready', \
         1, now(), now())",
    )
    .bind::<SqlUuid, _>(tenant.0)
    .bind::<Text, _>(name)
    .execute(conn)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_sees_and_writes_only_the_rows_of_the_tenant_it_set() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = (tenant(), tenant());
    for name in ["dev", "prod"] {
        db.store
            .create(a, env_id(), named(name), now())
            .await
            .unwrap();
    }
    let theirs = db
        .store
        .create(b, env_id(), named("dev"), now())
        .await
        .unwrap();
    let at = now();
    db.store
        .begin(a, "key".into(), "f".into(), at, at)
        .await
        .unwrap();
    db.store
        .begin(b, "key".into(), "f".into(), at, at)
        .await
        .unwrap();

    let role = Role::create(&db.url);
    let mut conn = PgConnection::establish(&role.url()).unwrap();
    assert_eq!(
        (
            count(&mut conn, "environments"),
            count(&mut conn, "idempotency_keys")
        ),
        (0, 0),
        "no tenant set: no rows"
    );

    conn.test_transaction::<_, diesel::result::Error, _>(|conn| {
        set_tenant(conn, a);
        assert_eq!(
            count(conn, "environments"),
            2,
            "A's rows only, without any WHERE"
        );
        assert_eq!(count(conn, "idempotency_keys"), 1);
        let hidden =
            diesel::sql_query("UPDATE environments SET display_name = 'hijacked' WHERE id = $1")
                .bind::<SqlUuid, _>(theirs.id.0)
                .execute(conn)
                .unwrap();
        assert_eq!(hidden, 0, "B's row cannot be updated: it is invisible");
        assert_eq!(
            insert_environment(conn, a, "own").unwrap(),
            1,
            "A may insert for A"
        );
        Ok(())
    });

    let refused = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        set_tenant(conn, a);
        insert_environment(conn, b, "planted")
    });
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("row-level security"),
        "inserting for another tenant is refused: {message}"
    );

    assert_eq!(
        count(&mut conn, "environments"),
        0,
        "the setting was local to its transaction"
    );
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        set_tenant(conn, b);
        assert_eq!(count(conn, "environments"), 1);
        Ok(())
    })
    .unwrap();
    drop(conn);
    assert_eq!(
        db.store.get(b, theirs.id).await.unwrap(),
        theirs,
        "B's row is untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_works_under_row_level_security_because_it_sets_the_tenant() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = (tenant(), tenant());
    let theirs = db
        .store
        .create(b, env_id(), named("dev"), now())
        .await
        .unwrap();
    let role = Role::create(&db.url);
    // Without `terrane.tenant_id` in each transaction, this store would see nothing and
    // every insert would break the policy.
    let confined = Store::connect(&role.url(), 2).unwrap();
    let mine = confined
        .create(a, env_id(), named("dev"), now())
        .await
        .unwrap();
    assert_eq!(mine.order_index, 0);
    assert_eq!(confined.get(a, mine.id).await.unwrap(), mine);
    let all = (
        EnvironmentFilter::default(),
        EnvironmentSort::default(),
        Page::default(),
    );
    let (listed, total) = confined.list(a, all.0, all.1, all.2).await.unwrap();
    assert_eq!((listed, total), (vec![mine.clone()], 1));
    let renamed = EnvironmentChanges {
        display_name: Some("Dev".into()),
        ..Default::default()
    };
    assert_eq!(
        confined
            .update(a, mine.id, Some(1), renamed, now())
            .await
            .unwrap()
            .version,
        2
    );
    assert_eq!(confined.get(b, theirs.id).await.unwrap(), theirs);
    let at = now();
    let begin = confined
        .begin(a, "key".into(), "f".into(), at, at)
        .await
        .unwrap();
    assert_eq!(begin, IdempotencyBegin::Started);
    confined.delete(a, mine.id, Some(2)).await.unwrap();
}
