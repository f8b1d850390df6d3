//! Databases for tests, shared by this crate's contract tests and the black-box API tests
//! (feature `testing`).
//!
//! PostgreSQL tests use `TERRANE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and get a database of their own. When that
//! server cannot be reached, a test fails under `CI=true` and is skipped loudly elsewhere.

use diesel::{Connection, PgConnection, RunQueryDsl};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server tests run against.
pub fn postgres_admin_url() -> String {
    std::env::var("TERRANE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A connection to the PostgreSQL test server, or `None` (after saying so loudly) when it
/// cannot be reached outside CI.
///
/// # Panics
/// When the server cannot be reached and `CI=true`: CI must never skip these tests.
pub fn postgres_admin() -> Option<PgConnection> {
    let url = postgres_admin_url();
    match PgConnection::establish(&url) {
        Ok(conn) => Some(conn),
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("PostgreSQL is unreachable at {url} and CI=true: {error}")
        }
        Err(error) => {
            eprintln!(
                "\n*** SKIPPED: PostgreSQL unreachable at {url}: {} ***\n",
                error.to_string().trim_end()
            );
            None
        }
    }
}

/// `base` with its database (the last path segment) replaced by `database`.
pub fn postgres_url_for(base: &str, database: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (base, None),
    };
    let authority_end = without_query.find("://").map_or(0, |i| i + 3);
    let root = match without_query[authority_end..].find('/') {
        Some(slash) => &without_query[..authority_end + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

/// A database created for one test and dropped with it (also when the test panics).
pub struct PgTestDatabase {
    name: String,
    /// Its URL.
    pub url: String,
}

impl PgTestDatabase {
    /// Creates a fresh database, or `None` when PostgreSQL is skipped (see [`postgres_admin`]).
    ///
    /// # Panics
    /// When `CREATE DATABASE` fails on a reachable server.
    pub fn create() -> Option<PgTestDatabase> {
        let mut admin = postgres_admin()?;
        let name = format!("terrane_test_{}", Uuid::now_v7().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("CREATE DATABASE");
        let url = postgres_url_for(&postgres_admin_url(), &name);
        Some(PgTestDatabase { name, url })
    }
}

impl PgTestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgTestDatabase {
    fn drop(&mut self) {
        // Best effort: a leftover database is harmless, and a panic here would hide the
        // test's own.
        let dropped = PgConnection::establish(&postgres_admin_url())
            .map_err(|e| e.to_string())
            .and_then(|mut admin| {
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .execute(&mut admin)
                .map_err(|e| e.to_string())
            });
        if let Err(error) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// The statement that reads the matrix as of a time on `backend` (binds: the tenant, the
/// time), for tests that look at its plan.
pub fn matrix_as_of_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => crate::repositories::timeline::CELLS_AS_OF_PG,
        crate::Backend::Sqlite => crate::repositories::timeline::CELLS_AS_OF_SQLITE,
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_url_for;

    #[test]
    fn the_database_of_a_url_is_replaced_keeping_the_query() {
        assert_eq!(
            postgres_url_for("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            postgres_url_for("postgres://u@h/postgres?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(
            postgres_url_for("postgres://u@h", "t1"),
            "postgres://u@h/t1"
        );
    }
}
