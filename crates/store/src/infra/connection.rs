//! Connections: the one connection type every query runs on, where it comes from, and the
//! pool that hands it out.

use crate::Backend;
use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use terrane_domain::TenantId;
use terrane_ports::StoreError;

/// A connection to either backend. All queries are written once against this type; diesel
/// dispatches each to the backend the connection speaks.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL.
    Pg(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

/// Runs `$body`, a statement written once, on the backend's own connection bound to `$c`:
/// `natively!(conn, c => query.first(c))`.
///
/// Through [`DbConnection`] diesel writes a statement's whole text out twice on every run (to
/// check it may be kept prepared, and again to collect its binds), even when the statement is
/// already prepared. On the backend's own connection a statement whose type identifies it
/// (see [`crate::infra::fixed`]) is found prepared without that: for the environment view it
/// is a fifth of a `GET`'s work. Kept for the hottest reads; the rest stay on `DbConnection`.
macro_rules! natively {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::infra::connection::DbConnection::Pg($c) => $body,
            $crate::infra::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use natively;

/// A pooled connection, with what its PostgreSQL session remembers between units of work.
pub(crate) struct Session {
    conn: DbConnection,
    /// The tenant `terrane.tenant_id` is set to for the whole session, once a unit of work
    /// running outside a transaction set it (see `tx::in_session`). Transactions set their
    /// own tenant for themselves only, which takes precedence while they run.
    pub(crate) tenant: Option<TenantId>,
    /// The count of [`Breaks`] when this connection last answered (or was opened).
    answered: u64,
    /// Found not to answer: the pool drops it when it comes back.
    dead: bool,
}

impl Deref for Session {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// Runs on every new SQLite connection. `busy_timeout` comes first so that switching to WAL
/// waits for a concurrent opener instead of failing.
///
/// `synchronous = FULL`: every commit waits for the write-ahead log to reach the disk
/// (fsync), so a write is durable when its caller is answered, even if the machine loses
/// power. `NORMAL` syncs only at checkpoints: its commits survive the process being killed
/// (they are in the kernel's page cache) but not the machine going down. The writer commits
/// a whole batch of callers at once (see [`crate::infra::writer`]), so the sync is paid once
/// per batch, not once per request.
///
/// `mmap_size` lets every connection read the database file through a shared memory map
/// instead of copying each page it misses into its own small page cache with a `pread`: the
/// matrix as of a time (4,000 index probes) spent most of its time in those copies (p99 135 ms
/// at 1M deployments without the map, 43 ms with it, `make bench`). The mapped pages are the
/// operating system's file cache, shared by every connection and dropped under memory
/// pressure, but the process's resident size counts those it touched.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; \
     PRAGMA mmap_size = 4294967296;";

/// What every PostgreSQL session of the pool sets first.
///
/// A prepared statement is planned once, generically, and the plan kept. Left to itself,
/// PostgreSQL plans each of the first five runs for its values, then keeps planning every run
/// whenever its generic plan looks costlier than those: a page of environments (a `LIMIT`
/// it cannot see, and a subquery per row) was planned again on every run, which was 40% of
/// the database's work on it. Every statement here looks rows up by keys and ranges the
/// indexes serve whatever the values, so one plan per statement is what they want anyway.
const POSTGRES_SESSION: &str = "SET plan_cache_mode = force_generic_plan";

/// Where to connect, decided from the URL's scheme.
pub(crate) enum Target {
    /// A libpq connection URL, kept whole.
    Postgres(String),
    /// A file path.
    Sqlite(String),
}

impl Target {
    /// Reads `sqlite://<path>`, `sqlite:<path>`, `postgres://…` or `postgresql://…`.
    ///
    /// Errors name the scheme only: the rest of a URL may hold a password.
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            // `sqlite://terrane.db` is the relative file terrane.db; `sqlite:///var/x.db` is
            // absolute because the path itself starts with the third slash.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(StoreError::Internal(
                    "the SQLite database URL names no file: use sqlite://<path>".into(),
                ));
            }
            if path == ":memory:" {
                // Each pooled connection would get its own empty database.
                return Err(StoreError::Internal(
                    "an in-memory SQLite database cannot be shared by a connection pool: use a file".into(),
                ));
            }
            return Ok(Target::Sqlite(path.to_owned()));
        }
        let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
        Err(StoreError::Internal(format!(
            "unsupported database URL scheme `{scheme}`: expected sqlite://<path>, sqlite:<path>, \
             postgres://… or postgresql://…"
        )))
    }

    /// The backend this target speaks.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Opens connections for r2d2. diesel's own manager would call the derived
/// `DbConnection::establish`, which tries each backend in turn and reports only the last
/// failure (and SQLite accepts any string as a file name); this one goes straight to the
/// backend of the URL and reports its real error.
pub(crate) struct Manager {
    pub(crate) target: Target,
    pub(crate) breaks: Breaks,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Session, Self::Error> {
        use diesel::r2d2::Error;
        let conn = match &self.target {
            Target::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(Error::ConnectionError)?;
                conn.batch_execute(POSTGRES_SESSION)
                    .map_err(Error::QueryError)?;
                DbConnection::Pg(conn)
            }
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(Error::QueryError)?;
                DbConnection::Sqlite(conn)
            }
        };
        Ok(Session {
            conn,
            tenant: None,
            answered: self.breaks.seen(),
            dead: false,
        })
    }

    fn is_valid(&self, conn: &mut Session) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Session) -> bool {
        conn.dead || conn.is_broken()
    }
}

/// How many times a pooled connection was found closed under the store: the database
/// restarted, or ended the session. A restart closes every connection the pool holds, but
/// each shows it only when next used, and the pool hands out the one returned last: a
/// request arriving while a background job holds the one fresh connection would be handed a
/// closed one, and fail, long after the database came back. So once one connection was found
/// closed, every connection that has not answered since is pinged before it is handed out,
/// and dropped when it does not answer. Otherwise checking out costs nothing.
#[derive(Clone, Default)]
pub(crate) struct Breaks(Arc<AtomicU64>);

impl Breaks {
    fn seen(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// A connection from `pool` that answers, as far as anything can tell without using it:
    /// one that answered since the last break was found, or that answers a ping now.
    pub(crate) fn check_out(
        &self,
        pool: &r2d2::Pool<Manager>,
    ) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        loop {
            let mut session = pool
                .get()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let seen = self.seen();
            if session.answered >= seen {
                return Ok(session);
            }
            if session.conn.ping().is_ok() {
                session.answered = seen;
                return Ok(session);
            }
            // Each turn drops one connection the pool held, so this ends with a fresh one,
            // or with the pool's own timeout while the database is down.
            session.dead = true;
        }
    }

    /// Called after `session` failed a unit of work: when the failure left it broken, the
    /// connection was closed under it, and so, likely, were the others.
    pub(crate) fn failed(&self, session: &mut Session) {
        if session.conn.is_broken() {
            self.0.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_path(url: &str) -> String {
        match Target::parse(url) {
            Ok(Target::Sqlite(path)) => path,
            _ => panic!("{url} is not a SQLite URL"),
        }
    }

    /// A connection as the pool opens it, to a new file in a temporary directory (kept open
    /// as long as the directory is).
    fn fresh_sqlite() -> (tempfile::TempDir, SqliteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let manager = Manager {
            breaks: Breaks::default(),
            target: Target::Sqlite(dir.path().join("t.db").display().to_string()),
        };
        let session = r2d2::ManageConnection::connect(&manager).unwrap();
        let DbConnection::Sqlite(conn) = session.conn else {
            panic!("not SQLite")
        };
        (dir, conn)
    }

    #[test]
    fn postgres_sessions_plan_each_prepared_statement_once() {
        use diesel::sql_types::Text;
        use diesel::RunQueryDsl;

        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = Text)]
            plan_cache_mode: String,
        }

        if terrane_store::testing::postgres_admin().is_none() {
            return;
        }
        let manager = Manager {
            breaks: Breaks::default(),
            target: Target::Postgres(terrane_store::testing::postgres_admin_url()),
        };
        let mut session = r2d2::ManageConnection::connect(&manager).unwrap();
        let DbConnection::Pg(conn) = &mut session.conn else {
            panic!("not PostgreSQL")
        };
        let setting: Setting = diesel::sql_query("SHOW plan_cache_mode")
            .get_result(conn)
            .unwrap();
        assert_eq!(setting.plan_cache_mode, "force_generic_plan");
    }

    #[test]
    fn sqlite_connections_are_in_wal_mode_and_sync_every_commit() {
        use diesel::sql_types::{BigInt, Text};
        use diesel::RunQueryDsl;

        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = Text)]
            journal_mode: String,
        }
        #[derive(diesel::QueryableByName)]
        struct Sync {
            #[diesel(sql_type = BigInt)]
            synchronous: i64,
        }

        let (_dir, mut conn) = fresh_sqlite();
        let conn = &mut conn;
        let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(conn)
            .unwrap();
        assert_eq!(mode.journal_mode, "wal");
        // 2 is FULL: the log is synced at every commit, not only at checkpoints.
        let sync: Sync = diesel::sql_query("PRAGMA synchronous")
            .get_result(conn)
            .unwrap();
        assert_eq!(sync.synchronous, 2);
    }

    /// The options `.cargo/config.toml` builds the bundled SQLite with: without them the
    /// page caches share one group behind a global mutex and every call locks its connection.
    #[test]
    fn sqlite_is_built_for_connections_used_by_one_thread_at_a_time() {
        use diesel::sql_types::Text;
        use diesel::RunQueryDsl;

        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = Text)]
            compile_options: String,
        }

        let (_dir, mut conn) = fresh_sqlite();
        let conn = &mut conn;
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(conn)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        for wanted in ["THREADSAFE=2", "DEFAULT_MEMSTATUS=0", "ENABLE_QPSG"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} in {options:?}"
            );
        }
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    #[test]
    fn sqlite_urls_name_a_relative_or_absolute_file() {
        assert_eq!(sqlite_path("sqlite://terrane.db"), "terrane.db");
        assert_eq!(sqlite_path("sqlite:terrane.db"), "terrane.db");
        assert_eq!(
            sqlite_path("sqlite:///var/lib/terrane.db"),
            "/var/lib/terrane.db"
        );
        assert_eq!(sqlite_path("sqlite:data/t.db"), "data/t.db");
    }

    #[test]
    fn both_postgres_schemes_are_accepted() {
        for url in ["postgres://u@127.0.0.1/db", "postgresql://u@127.0.0.1/db"] {
            assert_eq!(
                Target::parse(url).map(|t| t.backend()),
                Ok(Backend::Postgres)
            );
        }
    }

    #[test]
    fn other_urls_are_refused_without_echoing_secrets() {
        for url in [
            "mysql://root:hunter2@db/x",
            "terrane.db",
            "sqlite://",
            "sqlite::memory:",
        ] {
            let Err(StoreError::Internal(message)) = Target::parse(url) else {
                panic!("{url} was accepted")
            };
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
