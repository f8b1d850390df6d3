//! Bulk loading of a synthetic inventory and ledger, for benchmarks: components,
//! environments, deployments spread over time, and the `latest_deployments` rows that match
//! them, written with multi-row INSERTs in large batches inside one transaction.
//!
//! The statements carry their values as literals: both backends parse a few hundred rows per
//! statement far faster than they bind them one by one, and every value is generated here
//! (numbers, UUIDs and fixed names), never taken from input.

use crate::infra::connection::DbConnection;
use crate::infra::tx::Access;
use crate::Store;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel::connection::SimpleConnection;
use std::time::Instant;
use terrane_domain::TenantId;
use terrane_ports::StoreError;
use uuid::Uuid;

/// Rows per INSERT statement.
const BATCH: usize = 500;

/// What to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedPlan {
    /// The tenant every row belongs to; it must not have components or environments named
    /// like the generated ones (`component-0001`, `env-01`, ...).
    pub tenant: TenantId,
    /// How many components.
    pub components: usize,
    /// How many environments.
    pub environments: usize,
    /// How many deployments, spread evenly over the components and environments and over the
    /// `span` before `now`; about 95% succeeded, the rest failed or rolled back.
    pub deployments: usize,
    /// The time of the newest deployment.
    pub now: DateTime<Utc>,
    /// How far back the oldest deployment is.
    pub span: Duration,
}

/// What was loaded, and how long each part took.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedReport {
    /// The components created, in name order.
    pub components: Vec<Uuid>,
    /// The environments created, in order.
    pub environments: Vec<Uuid>,
    /// Deployments inserted.
    pub deployments: usize,
    /// `latest_deployments` rows inserted.
    pub latest: usize,
    /// Seconds spent inserting deployments (and their latest rows).
    pub insert_seconds: f64,
    /// Seconds spent on `ANALYZE` after the load.
    pub analyze_seconds: f64,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The status of the `i`th deployment: about 95% succeeded, the rest failed or rolled back,
/// scattered (a multiplicative hash) so that every component and environment gets some of
/// each.
fn status(i: usize) -> &'static str {
    match (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58 {
        0 | 1 => "failed",
        2 => "rolled_back",
        _ => "succeeded",
    }
}

/// Inserts `rows` (each a parenthesized VALUES tuple) into `head`, `BATCH` rows a statement.
fn insert_all(
    conn: &mut DbConnection,
    head: &str,
    rows: impl Iterator<Item = String>,
) -> Result<usize, diesel::result::Error> {
    let mut sql = String::with_capacity(BATCH * 400);
    let mut in_batch = 0;
    let mut total = 0;
    for row in rows {
        if in_batch == 0 {
            sql.clear();
            sql.push_str(head);
            sql.push_str(" VALUES ");
        } else {
            sql.push(',');
        }
        sql.push_str(&row);
        in_batch += 1;
        total += 1;
        if in_batch == BATCH {
            conn.batch_execute(&sql)?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        conn.batch_execute(&sql)?;
    }
    Ok(total)
}

impl Store {
    /// Loads `plan` in one transaction and then analyzes the tables (vacuuming them on
    /// PostgreSQL), so the planner knows their sizes, and on SQLite empties the write-ahead
    /// log into the database.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a generated name is taken in the tenant; otherwise only
    /// [`StoreError::Unavailable`] or [`StoreError::Internal`]. Nothing is stored on error.
    pub async fn seed(&self, plan: SeedPlan) -> Result<SeedReport, StoreError> {
        let started = Instant::now();
        let report = self
            .tenant_tx(plan.tenant, Access::Write, move |conn| {
                Ok(load(conn, plan)?)
            })
            .await?;
        let insert_seconds = started.elapsed().as_secs_f64();
        let analyzing = Instant::now();
        self.blocking(|conn| {
            // On PostgreSQL VACUUM also fills the visibility map, without which counting a
            // page's total cannot be an index-only scan; it runs outside a transaction, one
            // table a statement. On SQLite VACUUM would rewrite the file: ANALYZE is enough.
            let (verb, rewrite) = match conn {
                DbConnection::Pg(_) => ("VACUUM ANALYZE", "VACUUM FULL ANALYZE"),
                DbConnection::Sqlite(_) => ("ANALYZE", "ANALYZE"),
            };
            for table in [
                "components",
                "environments",
                "deployments",
                "latest_deployments",
                "deployment_timeline",
            ] {
                conn.batch_execute(&format!("{verb} {table}"))?;
            }
            // Kept by a trigger, statement by statement: the load leaves a version of each
            // count behind per batch, about a hundred times the table's live size, which
            // would then crowd PostgreSQL's buffer cache. The live rows are few: rewrite it.
            conn.batch_execute(&format!("{rewrite} deployment_counts"))?;
            // On SQLite the load sits in the write-ahead log (gigabytes for a million
            // deployments) until a checkpoint copies it into the database: until then every
            // read looks each page up in the log and copies it out with a `pread`, past the
            // memory map. A bulk load ends with a checkpoint that empties the log.
            if let DbConnection::Sqlite(_) = conn {
                conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
            }
            Ok(())
        })
        .await?;
        Ok(SeedReport {
            insert_seconds,
            analyze_seconds: analyzing.elapsed().as_secs_f64(),
            ..report
        })
    }
}

fn load(conn: &mut DbConnection, plan: SeedPlan) -> Result<SeedReport, diesel::result::Error> {
    let tenant = plan.tenant.0;
    let created = time(plan.now - plan.span - Duration::days(1));
    let components: Vec<Uuid> = (0..plan.components).map(|_| Uuid::now_v7()).collect();
    let environments: Vec<Uuid> = (0..plan.environments).map(|_| Uuid::now_v7()).collect();
    insert_all(
        conn,
        "INSERT INTO components (id, tenant_id, name, kind, lifecycle, version, created_at, \
         updated_at)",
        components.iter().enumerate().map(|(i, id)| {
            format!(
                "('{id}','{tenant}','component-{:04}','service','production',1,'{created}',\
                 '{created}')",
                i + 1
            )
        }),
    )?;
    let numbers = environments
        .iter()
        .map(|_| crate::infra::numbers::next_number(conn))
        .collect::<Result<Vec<i64>, _>>()?;
    insert_all(
        conn,
        "INSERT INTO environments (id, number, tenant_id, name, display_name, order_index, \
         is_production, is_active, is_build_environment, deployment_timeout, \
         health_check_interval, required_approvals, require_separation_of_duties, \
         promotion_policy, status, version, created_at, updated_at)",
        environments
            .iter()
            .zip(&numbers)
            .enumerate()
            .map(|(i, (id, number))| {
                format!(
                "('{id}',{number},'{tenant}','env-{n:02}','Environment {n}',{n},FALSE,TRUE,FALSE,\
                 600,30,0,FALSE,'default','ready',1,'{created}','{created}')",
                n = i + 1
            )
            }),
    )?;

    // The latest succeeded deployment of each (component, environment): later indexes are
    // later in time, so the last one seen wins.
    let pairs = plan.components * plan.environments;
    let mut latest: Vec<Option<(Uuid, usize)>> = vec![None; pairs];
    let step_micros = if plan.deployments > 1 {
        plan.span.num_microseconds().unwrap_or(i64::MAX) / (plan.deployments as i64 - 1)
    } else {
        0
    };
    let oldest = plan.now - plan.span;
    let at = |i: usize| oldest + Duration::microseconds(step_micros * i as i64);
    let where_ = |i: usize| {
        let component = i % plan.components;
        let environment = (i / plan.components) % plan.environments;
        (component, environment)
    };
    let mut ids = Vec::with_capacity(plan.deployments);
    for i in 0..plan.deployments {
        let id = Uuid::now_v7();
        ids.push(id);
        if status(i) == "succeeded" {
            let (c, e) = where_(i);
            latest[c * plan.environments + e] = Some((id, i));
        }
    }
    let version = |i: usize| format!("v{}.{}.{}", i / 100_000, (i / 1000) % 100, i % 1000);
    let deployments = insert_all(
        conn,
        "INSERT INTO deployments (id, tenant_id, component_id, environment_id, version, \
         commit_sha, deployed_by, created_by, metadata, status, approval_round, revision, \
         created_at, started_at, finished_at, updated_at)",
        ids.iter().enumerate().map(|(i, id)| {
            let (c, e) = where_(i);
            let created = at(i);
            let finished = time(created + Duration::seconds(90));
            let started = time(created + Duration::seconds(5));
            let created = time(created);
            format!(
                "('{id}','{tenant}','{}','{}','{}','{:012x}','ci-bot','{tenant}','{{}}','{}',0,\
                 3,'{created}','{started}','{finished}','{finished}')",
                components[c],
                environments[e],
                version(i),
                i,
                status(i),
            )
        }),
    )?;
    // What became current when: every success, in the order it happened (the triggers on
    // `latest_deployments` then find the last one there already), so that the matrix as of
    // a past time probes a timeline as long as the ledger's.
    insert_all(
        conn,
        "INSERT INTO deployment_timeline (tenant_id, component_id, environment_id, since, \
         deployment_id, version, deployed_at)",
        ids.iter().enumerate().filter_map(|(i, id)| {
            if status(i) != "succeeded" {
                return None;
            }
            let (c, e) = where_(i);
            let finished = time(at(i) + Duration::seconds(90));
            Some(format!(
                "('{tenant}','{}','{}','{finished}','{id}','{}','{finished}')",
                components[c],
                environments[e],
                version(i),
            ))
        }),
    )?;
    let latest_rows = insert_all(
        conn,
        "INSERT INTO latest_deployments (tenant_id, component_id, environment_id, \
         deployment_id, version, deployed_by, deployed_at)",
        latest.iter().enumerate().filter_map(|(pair, found)| {
            let (id, i) = (*found)?;
            let (c, e) = (pair / plan.environments, pair % plan.environments);
            Some(format!(
                "('{tenant}','{}','{}','{id}','{}','ci-bot','{}')",
                components[c],
                environments[e],
                version(i),
                time(at(i) + Duration::seconds(90)),
            ))
        }),
    )?;
    Ok(SeedReport {
        components,
        environments,
        deployments,
        latest: latest_rows,
        insert_seconds: 0.0,
        analyze_seconds: 0.0,
    })
}
