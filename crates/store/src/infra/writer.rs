//! The one writer of a SQLite database: write units of work queue here and run on one
//! thread, several to a transaction.
//!
//! SQLite lets one transaction write at a time, and most of a small write's cost is the
//! commit (appending every page it touched to the write-ahead log) and the hand-over from one
//! writer to the next. The writer thread takes every unit of work waiting, runs each in its
//! own savepoint inside one `BEGIN IMMEDIATE` transaction, commits once, and only then
//! answers each caller. A unit that fails the way a request can (not found, a conflict, a
//! constraint) is rolled back to its savepoint and answered with its error, without touching
//! the others. A unit that fails the way a database can (I/O, a full disk, a panic), after
//! which SQLite may have rolled the whole transaction back, ends the batch: everything of it
//! is rolled back and every unit answered with an error, so that nothing runs outside a
//! transaction and nobody is told of a write that did not happen. If the commit fails, every
//! unit is answered with that failure. Each caller sees what a transaction of its own would
//! have given it: its writes are durable when its answer arrives, since every commit waits
//! for the write-ahead log to reach the disk (`synchronous = FULL`, see
//! `infra::connection`), and one sync serves the whole batch.

use crate::infra::connection::{DbConnection, Manager};
use crate::infra::error::Failure;
use crate::infra::tx::{self, Access};
use diesel::connection::TransactionManager;
use diesel::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use terrane_ports::StoreError;

/// Most units of work one transaction takes: bounds how long the first of them waits for
/// the commit.
const MOST_PER_BATCH: usize = 64;

/// What a unit of work leaves to do once its batch is committed, or failed to commit:
/// answer its caller.
type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A unit of work that ran: how to answer its caller, and whether it failed the way a
/// database fails (which ends its batch).
struct Ran {
    answer: Answer,
    broke: bool,
}

/// A unit of work, given the writer's connection inside the batch's transaction (or the
/// reason there is none).
type Job = Box<dyn FnOnce(Result<&mut DbConnection, StoreError>) -> Ran + Send>;

/// Whether a unit of work that failed with `error` may have left the transaction unusable.
fn breaks_the_batch(error: &StoreError) -> bool {
    matches!(error, StoreError::Unavailable(_) | StoreError::Internal(_))
}

/// The queue in front of the writer thread. The thread ends when the queue is dropped (with
/// the last clone of its store), after the batch it is running.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread, which opens its connection through `pool` when it first
    /// needs one (and again after a failure broke it).
    pub(crate) fn start(pool: r2d2::Pool<Manager>) -> Result<Writer, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("terrane-sqlite-writer".into())
            .spawn(move || run(&pool, &queue))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` in a savepoint of the writer's next transaction and answers once that
    /// transaction is committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Failure> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let outcome =
                conn.and_then(|conn| savepoint(conn, work).map_err(Failure::into_store_error));
            let broke = outcome.as_ref().err().is_some_and(breaks_the_batch);
            Ran {
                broke,
                answer: Box::new(move |committed| {
                    // The caller may have gone (its request was cancelled): nobody to tell.
                    // Its own failure first: the commit of the others does not change it.
                    let _ = answer.send(outcome.and_then(|value| committed.map(|()| value)));
                }),
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Internal("the SQLite writer has stopped".into()))?;
        // The job is dropped unanswered only if it panicked.
        answered
            .await
            .map_err(|_| StoreError::Internal("a write failed unexpectedly".into()))?
    }
}

/// The writer thread: takes what is queued, runs it as one transaction, answers, repeats.
fn run(pool: &r2d2::Pool<Manager>, queue: &mpsc::Receiver<Job>) {
    let mut conn: Option<r2d2::PooledConnection<Manager>> = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            conn = pool.get().ok();
        }
        let Some(open) = conn.as_mut() else {
            refuse(
                batch,
                &StoreError::Unavailable("cannot open a connection to the SQLite database".into()),
            );
            continue;
        };
        if !run_batch(open, batch) {
            // The connection's transaction state is unknown: start again on a new one.
            conn = None;
        }
    }
}

/// Answers every job of `batch` with `error`, without running any.
fn refuse(batch: Vec<Job>, error: &StoreError) {
    for job in batch {
        (job(Err(error.clone())).answer)(Err(error.clone()));
    }
}

/// Runs `batch` in one transaction and answers every job. Returns false when the batch
/// ended in a way that leaves the connection's state unknown.
fn run_batch(conn: &mut DbConnection, batch: Vec<Job>) -> bool {
    if let Err(failure) = tx::begin(conn, Access::Write, None) {
        refuse(batch, &failure.into_store_error());
        return false;
    }
    let mut answers = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    let mut broken = None;
    for job in jobs.by_ref() {
        match catch_unwind(AssertUnwindSafe(|| job(Ok(&mut *conn)))) {
            Ok(Ran { answer, broke }) => {
                answers.push(answer);
                if broke {
                    broken = Some(StoreError::Internal(
                        "a write queued in the same transaction failed; nothing of it was written"
                            .into(),
                    ));
                    break;
                }
            }
            Err(_) => {
                broken = Some(StoreError::Internal(
                    "a write queued in the same transaction failed unexpectedly; nothing of it was written"
                        .into(),
                ));
                break;
            }
        }
    }
    let committed = match &broken {
        Some(error) => {
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            refuse(jobs.collect(), error);
            Err(error.clone())
        }
        None => <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
            .map_err(|e| Failure::from(e).into_store_error()),
    };
    let healthy = committed.is_ok();
    for answer in answers {
        answer(committed.clone());
    }
    healthy
}

/// `work` in a savepoint of the open transaction: released when it returns `Ok`, rolled
/// back (and only its own writes with it) otherwise.
fn savepoint<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    // Inside a transaction, diesel begins a savepoint.
    <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
    let result = work(conn);
    tx::finish(conn, result)
}

#[cfg(test)]
mod tests {
    use crate::infra::schema::settings;
    use crate::infra::tx::Access;
    use crate::Store;
    use diesel::prelude::*;
    use terrane_domain::TenantId;
    use terrane_ports::StoreError;
    use uuid::Uuid;

    fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("terrane.db").display());
        Store::connect(&url, 4).unwrap()
    }

    fn stored(conn: &mut crate::infra::connection::DbConnection, key: &str) -> Option<String> {
        settings::table
            .filter(settings::key.eq(key))
            .select(settings::value)
            .first(conn)
            .optional()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_queued_write_keeps_its_own_outcome_and_only_the_successes_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        store.migrate().await.unwrap();
        let tenant = TenantId(Uuid::from_u128(7));
        // Enough writers at once that they queue up and share transactions.
        let writes = (0..200).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .tenant_tx(tenant, Access::Write, move |conn| {
                        diesel::insert_into(settings::table)
                            .values((settings::key.eq(format!("k{i}")), settings::value.eq("v")))
                            .execute(conn)?;
                        if i % 3 == 0 {
                            // Refused after writing: its insert must be rolled back alone.
                            return Err(StoreError::Conflict(format!("no {i}")).into());
                        }
                        Ok(i)
                    })
                    .await
            })
        });
        let results: Vec<_> = futures_join(writes).await;
        for (i, result) in results.iter().enumerate() {
            if i % 3 == 0 {
                assert_eq!(*result, Err(StoreError::Conflict(format!("no {i}"))));
            } else {
                assert_eq!(*result, Ok(i));
            }
        }
        let written = store
            .blocking(|conn| {
                Ok((0..200)
                    .map(|i| stored(conn, &format!("k{i}")).is_some())
                    .collect::<Vec<_>>())
            })
            .await
            .unwrap();
        for (i, present) in written.into_iter().enumerate() {
            assert_eq!(present, i % 3 != 0, "k{i}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_panics_fails_its_batch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        store.migrate().await.unwrap();
        let tenant = TenantId(Uuid::from_u128(7));
        let panicking = store
            .tenant_tx(tenant, Access::Write, |_conn| -> Result<(), _> {
                panic!("a bug in a unit of work")
            })
            .await;
        assert!(
            matches!(panicking, Err(StoreError::Internal(_))),
            "{panicking:?}"
        );
        let after = store
            .tenant_tx(tenant, Access::Write, |conn| {
                diesel::insert_into(settings::table)
                    .values((settings::key.eq("after"), settings::value.eq("v")))
                    .execute(conn)?;
                Ok(())
            })
            .await;
        assert_eq!(after, Ok(()));
        let read = store
            .blocking(|conn| Ok(stored(conn, "after")))
            .await
            .unwrap();
        assert_eq!(read.as_deref(), Some("v"));
    }

    /// Awaits every task, in order.
    async fn futures_join<T: std::fmt::Debug>(
        tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let handles: Vec<_> = tasks.collect();
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    }
}
