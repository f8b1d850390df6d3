//! A SIGKILL under a write load loses nothing: several clients create environments, record
//! deployments and move them to `succeeded` or `failed`, submit environment requests and
//! approve them, against the real binary; the server is killed with SIGKILL in the middle,
//! started again on the same database, and then every write that was answered 2xx is there as
//! its answer said, nothing that was not answered is half there, and every derived row (the
//! latest deployments, the matrix, histories, the environments of active requests) agrees
//! with the ledger.
//!
//! A SIGKILL proves durability against a dying process, not against a dying machine: what the
//! kernel holds in its page cache survives the one and not the other. That part is the
//! store's `synchronous` setting (see `crates/store/src/infra/connection.rs` and its test).

mod checks;
mod load;

use crate::support::{database, start_server, Db, SECRET};
use load::{Client, Ledger};
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use uuid::Uuid;

crate::on_both_databases!(crash: a_sigkill_under_write_load_loses_no_answered_write_and_leaves_nothing_half_written);

/// Clients writing at once.
const CLIENTS: usize = 8;
/// Components the load deploys.
const COMPONENTS: [&str; 3] = ["api", "web", "worker"];
/// Writes answered before the kill, at least: the load must be well under way.
const LEAST_ANSWERED: usize = 300;

/// The server process, killed when dropped (a test that fails leaves nothing running).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An admin token for `tenant`, signed with the servers' secret.
fn admin_token(tenant: Uuid) -> String {
    let actor = Actor {
        user: UserId(Uuid::now_v7()),
        tenant: TenantId(tenant),
        roles: vec![Role::Admin],
    };
    let now = chrono::Utc::now();
    TokenKeys::new(SECRET.as_bytes())
        .expect("keys")
        .issue(&actor, now, now + chrono::Duration::hours(1))
        .expect("token")
}

async fn a_sigkill_under_write_load_loses_no_answered_write_and_leaves_nothing_half_written(
    db: Db,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    // The subject is durability, not overload: on a busy machine a request may wait long for
    // a connection, and a 503 would stop its client early.
    let envs = [
        ("TERRANE_JWT_SECRET", SECRET),
        ("TERRANE_DB_QUEUE_TIMEOUT", "60s"),
    ];
    let (child, base) = start_server(&url, &envs);
    let mut server = Server(child);
    let token = admin_token(Uuid::now_v7());

    let setup = Client::new(&base, &token);
    let mut components = Vec::new();
    for name in COMPONENTS {
        let (status, body) = setup
            .call(
                Method::POST,
                "/api/v1/catalog/components",
                Some(json!({"name": name, "kind": "service"})),
            )
            .await
            .expect("the server is up");
        assert_eq!(status, 201, "creating component {name}: {body}");
        components.push(body);
    }
    let component_ids: Vec<String> = components.iter().map(load::id).collect();

    // The load, until the kill.
    let answered = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for index in 0..CLIENTS {
        let client = Client::new(&base, &token);
        let components = component_ids.clone();
        let answered = answered.clone();
        clients.spawn(async move { load::run(index, client, components, answered).await });
    }
    // Kill at a moment that differs from run to run, once the load is well under way.
    let kill_after =
        Duration::from_millis(1500 + u64::from(Uuid::now_v7().as_u128() as u16 % 1500));
    let deadline = started + Duration::from_secs(60);
    let mut ledgers: Vec<Ledger> = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        // A client stops early only when a write was refused (the test fails below).
        while let Some(ledger) = clients.try_join_next() {
            ledgers.push(ledger.expect("a client task"));
        }
        let enough = answered.load(Ordering::SeqCst) >= LEAST_ANSWERED;
        if (enough && started.elapsed() >= kill_after) || clients.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the load answered only {} writes in 60 s",
            answered.load(Ordering::SeqCst)
        );
    }
    let answered_at_kill = answered.load(Ordering::SeqCst);
    server.0.kill().expect("SIGKILL the server");
    server.0.wait().expect("reap the server");
    let load_time = started.elapsed();
    while let Some(ledger) = clients.join_next().await {
        ledgers.push(ledger.expect("a client task"));
    }
    for ledger in &ledgers {
        if let Some(problem) = &ledger.failure {
            panic!("a write was refused while the server was up: {problem}");
        }
    }
    let answered: usize = ledgers.iter().map(|l| l.answered).sum();
    let lost = ledgers.iter().filter(|l| l.lost.is_some()).count();
    let refused = ledgers.iter().filter(|l| l.refused.is_some()).count();
    assert_eq!(
        lost + refused,
        CLIENTS,
        "every client stops at its first unanswered write"
    );

    // The same database, a new process.
    let (child, base) = start_server(&url, &envs);
    let _server = Server(child);
    let reader = Client::new(&base, &token);
    let checked = checks::verify(&reader, &components, &ledgers).await;

    eprintln!(
        "crash ({db:?}): {answered} writes answered 2xx in {load_time:.1?} ({answered_at_kill} \
         when the kill was sent), {lost} in flight at the kill (sent, never answered; {} of them written \
         all the same), {refused} refused after it (never reached the server); after the restart {} rows \
         checked: {} environments, {} deployments, {} environment requests, {} history rows, \
         {} latest-deployment rows, {} matrix cells, {} deployment counts",
        checked.landed,
        checked.total(),
        checked.environments,
        checked.deployments,
        checked.requests,
        checked.history_rows,
        checked.latest_rows,
        checked.matrix_cells,
        checked.counts,
    );
    assert!(answered >= LEAST_ANSWERED, "{answered} writes answered");
}

/// Reads `value[key]` as a string.
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
}
