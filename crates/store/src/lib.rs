//! terrane's storage adapter: the repository ports of `terrane-ports` on PostgreSQL and
//! SQLite, from one query code path.
//!
//! The layout: `infra/` is how the store reaches the database (connection, units of work,
//! the SQLite writer, SQL types, schema, migrations, error mapping); `repositories/` holds one
//! module per port, converting rows and writing with compare-and-set, deciding nothing;
//! `recent_deployments` is the cache, a decorator over the ledger's port.
//!
//! Every query is written once with diesel against `DbConnection`, a multi-connection over
//! both backends. Columns are native on PostgreSQL (`uuid`, `timestamptz`) and TEXT on SQLite
//! (see `infra::types`). Blocking diesel work runs on tokio's blocking pool. Every tenant-scoped operation first tells PostgreSQL the tenant, so
//! row-level security backs up the `tenant_id` filter each query carries anyway: most run in
//! one transaction that sets it for itself; the hottest writes (recording a deployment,
//! moving one) are one statement each that needs no transaction around it, and run with the
//! tenant set for the connection's session instead (`tx::Access::Statements`).

mod infra;
#[cfg(test)]
mod queue_tests;
mod recent_deployments;
mod repositories;
pub mod seed;
#[cfg(feature = "testing")]
pub mod testing;

pub use infra::migrations::migrations;
pub use recent_deployments::RecentDeployments;

use infra::connection::{Breaks, Manager, Target};
use infra::writer;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use terrane_ports::StoreError;

/// How long a caller waits for a pooled connection, and how long [`Store::connect`] waits for
/// the database to answer, before giving up with [`StoreError::Unavailable`].
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Most connections to one SQLite file: it has one writer at a time anyway, and readers
/// gain nothing from more connections than cores.
const SQLITE_MAX_POOL_SIZE: u32 = 8;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A pool of connections to one database, implementing every repository port.
///
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    /// Connections found closed under the pool (see [`Breaks`]).
    breaks: Breaks,
    /// One permit per pooled connection, handed out first come, first served. r2d2 wakes
    /// waiting threads in no particular order, so under load some requests would wait far
    /// longer than others; queueing here keeps the tail latency close to the median, and
    /// keeps blocking threads from piling up behind the pool.
    permits: Arc<tokio::sync::Semaphore>,
    /// Longest a unit of work waits for a permit before it gives up with
    /// [`StoreError::Overloaded`]: under overload a bounded wait and a 503 the client can
    /// retry beat a latency that grows without bound.
    queue_timeout: std::time::Duration,
    /// On SQLite, the thread every write transaction runs on (see [`writer`]). SQLite lets
    /// one writer in at a time and has the others poll with growing sleeps
    /// (`busy_timeout`); queueing in front of one thread instead hands over at once, and
    /// lets one commit serve every write waiting. `None` on PostgreSQL.
    writer: Option<Arc<writer::Writer>>,
    backend: Backend,
}

/// How long a unit of work waits for a connection unless told otherwise.
pub const DEFAULT_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl fmt::Debug for Store {
    // By hand: the pool's manager holds the URL, which may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to the database `url` names, with up to `pool_size` connections (at most
    /// 8 for SQLite).
    ///
    /// `url` is `sqlite://<path>` or `sqlite:<path>` (a relative path is relative to the
    /// working directory; the file is created when missing), or a `postgres://` or
    /// `postgresql://` libpq URL.
    ///
    /// # Errors
    /// [`StoreError::Internal`] for an unsupported URL or a pool size of 0;
    /// [`StoreError::Unavailable`] when the database cannot be opened within 5 seconds,
    /// with the driver's reason.
    pub fn connect(url: &str, pool_size: u32) -> Result<Store, StoreError> {
        let target = Target::parse(url)?;
        let backend = target.backend();
        if pool_size == 0 {
            return Err(StoreError::Internal(
                "the connection pool size must be at least 1".into(),
            ));
        }
        let max_size = match backend {
            Backend::Postgres => pool_size,
            // The writer keeps one connection once it has written: at least one more is
            // left for the reads.
            Backend::Sqlite => pool_size.clamp(2, SQLITE_MAX_POOL_SIZE),
        };
        let breaks = Breaks::default();
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .connection_timeout(CONNECTION_TIMEOUT)
            // A broken connection fails its query and is mapped to `Unavailable` anyway; a
            // test query on every checkout would cost a round trip per request.
            .test_on_check_out(false)
            .build(Manager {
                target,
                breaks: breaks.clone(),
            })
            .map_err(|e| {
                // libpq ends its messages with a newline.
                let reason = e.to_string();
                StoreError::Unavailable(format!(
                    "cannot open the {backend} database: {}",
                    reason.trim_end()
                ))
            })?;
        // One permit per connection the reads (and on PostgreSQL the writes) may take, so
        // that a permit always finds a free connection and waiting happens in the bounded
        // queue, never inside the pool.
        let readers = match backend {
            Backend::Postgres => max_size,
            Backend::Sqlite => max_size - 1,
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(readers as usize));
        let writer = match backend {
            Backend::Sqlite => Some(Arc::new(writer::Writer::start(pool.clone())?)),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            breaks,
            permits,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            writer,
            backend,
        })
    }

    /// The store with units of work waiting at most `timeout` for a connection (default
    /// [`DEFAULT_QUEUE_TIMEOUT`]) before they fail with [`StoreError::Overloaded`].
    pub fn with_queue_timeout(mut self, timeout: std::time::Duration) -> Store {
        self.queue_timeout = timeout;
        self
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}
