//! The audit log over HTTP: every event as an entry chained by hash (the hash recomputed here
//! from the documented formula), filters and pages, admins only and one organization's
//! entries only; the verification names an entry changed in the database; and replicas on
//! one PostgreSQL database chaining at once never fork or repeat a chain.

use crate::support::{database, fields, problem, start_server, Db, TestApp, SECRET};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::process::Child;
use terrane_domain::audit::canonical_json;
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use uuid::Uuid;

crate::on_both_backends!(
    every_event_is_an_entry_chained_by_the_documented_hash,
    entries_filter_by_actor_subject_and_time_and_page,
    only_admins_read_the_audit_log_and_only_their_organizations,
    bad_filters_are_refused_naming_the_field,
    an_entry_changed_in_the_database_is_named_by_the_verification,
    entries_removed_from_the_end_are_caught_by_the_recorded_head,
);

async fn json_ok(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    body
}

/// Every entry of the test's organization, following the pages.
async fn all_entries(app: &TestApp) -> Vec<Value> {
    all_entries_at(&app.client, &app.base, &app.admin()).await
}

/// The organization's entries once there are `n` of them. On PostgreSQL the event log
/// releases an event once every transaction that began before it ended, in the whole
/// cluster (see the README): other tests' transactions may hold it back for a moment.
async fn entries_once(client: &Client, base: &str, token: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let entries = all_entries_at(client, base, token).await;
        assert!(entries.len() <= n, "more entries than events: {entries:#?}");
        if entries.len() == n {
            return entries;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} entries after 30 s",
            entries.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// [`entries_once`] for the test's organization.
async fn entries(app: &TestApp, n: usize) -> Vec<Value> {
    entries_once(&app.client, &app.base, &app.admin(), n).await
}

/// SHA-256 of the previous hash's bytes and the canonical JSON of the entry's other fields,
/// written from the README's formula rather than with the server's own code.
fn recomputed_hash(entry: &Value) -> String {
    let mut fields = entry.as_object().unwrap().clone();
    let previous = fields.remove("previousHash").unwrap();
    fields.remove("hash").unwrap();
    // Hashed with exactly six fractional digits.
    let at = chrono::DateTime::parse_from_rfc3339(fields["at"].as_str().unwrap()).unwrap();
    fields.insert(
        "at".into(),
        json!(at
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    let previous = (0..32)
        .map(|i| u8::from_str_radix(&previous.as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let mut hasher = Sha256::new();
    hasher.update(&previous);
    hasher.update(canonical_json(&Value::Object(fields)).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks sequences 1..n, the links and every hash.
fn assert_chained(entries: &[Value]) {
    let mut previous = "0".repeat(64);
    for (at, entry) in entries.iter().enumerate() {
        assert_eq!(entry["sequence"], at as u64 + 1, "{entry}");
        assert_eq!(entry["previousHash"], previous.as_str(), "{entry}");
        assert_eq!(entry["hash"], recomputed_hash(entry).as_str(), "{entry}");
        previous = entry["hash"].as_str().unwrap().to_owned();
    }
}

async fn every_event_is_an_entry_chained_by_the_documented_hash(app: TestApp) {
    let prod = app.create_env(json!({"name": "prod"})).await;
    app.create_env(json!({"name": "staging"})).await;
    let path = format!("/api/v1/environments/{}", prod["id"].as_str().unwrap());
    let patched = app
        .send_json(Method::PATCH, &path, json!({"displayName": "Production"}))
        .await;
    assert_eq!(patched.status(), 200);
    let entries = entries(&app, 3).await;
    assert_chained(&entries);
    let types: Vec<&str> = entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "environment.created",
            "environment.created",
            "environment.updated"
        ]
    );
    let last = &entries[2];
    assert_eq!(
        last["subject"],
        json!({"kind": "environment", "id": prod["id"]})
    );
    assert_eq!(last["actor"], app.user.to_string());
    assert_eq!(last["organizationId"], app.tenant.to_string());
    assert_eq!(last["data"]["displayName"], "Production");
    let verdict = json_ok(app.get("/api/v1/audit/verify").await).await;
    assert_eq!(
        verdict,
        json!({"ok": true, "checked": 3, "firstBrokenId": null})
    );
}

async fn entries_filter_by_actor_subject_and_time_and_page(app: TestApp) {
    let first = app.create_env(json!({"name": "one"})).await;
    let other_user = Uuid::now_v7();
    let other = app.token_for(app.tenant, other_user, &[Role::Admin]);
    let created = app
        .request(Method::POST, "/api/v1/environments", &other)
        .json(&json!({"name": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let entries = entries(&app, 2).await;
    let list = |query: String| {
        let app = &app;
        async move { json_ok(app.get(&format!("/api/v1/audit?{query}")).await).await }
    };
    let ids = |page: &Value| -> Vec<Value> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    };

    let by_actor = list(format!("actor={other_user}")).await;
    assert_eq!(
        (ids(&by_actor), by_actor["total"].clone()),
        (vec![entries[1]["id"].clone()], json!(1))
    );
    let by_subject = list(format!(
        "subjectKind=environment&subjectId={}",
        first["id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(ids(&by_subject), vec![entries[0]["id"].clone()]);
    assert_eq!(list("subjectKind=deployment".into()).await["total"], 0);
    // `from` is inclusive and `to` exclusive.
    let at = entries[1]["at"].as_str().unwrap();
    let encoded = at.replace('+', "%2B");
    let from = list(format!("from={encoded}")).await;
    assert_eq!(ids(&from), vec![entries[1]["id"].clone()]);
    let to = list(format!("to={encoded}")).await;
    assert!(!ids(&to).contains(&entries[1]["id"]));
    let page = list("skip=1&take=1".into()).await;
    assert_eq!(page["skip"], 1);
    assert_eq!(page["take"], 1);
    assert_eq!(page["total"], 2);
    assert_eq!(ids(&page), vec![entries[1]["id"].clone()]);
}

async fn only_admins_read_the_audit_log_and_only_their_organizations(app: TestApp) {
    app.create_env(json!({"name": "mine"})).await;
    for role in [Role::Viewer, Role::Deployer] {
        let token = app.token(&[role]);
        for path in ["/api/v1/audit", "/api/v1/audit/verify"] {
            let response = app.request(Method::GET, path, &token).send().await.unwrap();
            problem(response, 403).await;
        }
    }
    let anonymous = app
        .client
        .get(format!("{}/api/v1/audit", app.base))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;

    // An admin of another organization sees an empty log, and verifies it as empty.
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let theirs = json_ok(
        app.request(Method::GET, "/api/v1/audit", &stranger)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    assert_eq!(theirs["data"], json!([]));
    let verdict = json_ok(
        app.request(Method::GET, "/api/v1/audit/verify", &stranger)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        verdict,
        json!({"ok": true, "checked": 0, "firstBrokenId": null})
    );
    entries(&app, 1).await;
}

async fn bad_filters_are_refused_naming_the_field(app: TestApp) {
    let response = app
        .get("/api/v1/audit?subjectId=nope&from=2026-12-04T10:00:00Z&to=2026-12-04T09:00:00Z&take=0&actor=")
        .await;
    let body = problem(response, 400).await;
    let mut named = fields(&body);
    named.sort();
    assert_eq!(named, ["actor", "subjectId", "take", "to"], "{body}");
    let body = problem(app.get("/api/v1/audit?colour=red").await, 400).await;
    assert_eq!(fields(&body), ["colour"], "{body}");
}

/// Runs `sql` on the server's database behind its back.
fn tamper(database_url: &str, sql: &str) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute(&format!("PRAGMA busy_timeout = 10000; {sql}"))
            .unwrap();
    } else {
        diesel::PgConnection::establish(database_url)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }
}

async fn an_entry_changed_in_the_database_is_named_by_the_verification(app: TestApp) {
    for name in ["a", "b", "c", "d"] {
        app.create_env(json!({"name": name})).await;
    }
    // Another organization's chain, which must stay intact.
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let created = app
        .request(Method::POST, "/api/v1/environments", &stranger)
        .json(&json!({"name": "theirs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let entries = entries(&app, 4).await;
    let verdict = json_ok(app.get("/api/v1/audit/verify").await).await;
    assert_eq!(verdict["ok"], true, "{verdict}");

    // The data of the third entry, changed directly in the table.
    tamper(
        &app.database_url,
        &format!(
            "UPDATE audit_entries SET data = replace(data, '\"name\":\"c\"', '\"name\":\"x\"') \
             WHERE tenant_id = '{}' AND sequence = 3",
            app.tenant
        ),
    );
    let verdict = json_ok(app.get("/api/v1/audit/verify").await).await;
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert_eq!(verdict["checked"], 3, "{verdict}");
    assert_eq!(verdict["firstBrokenId"], entries[2]["id"], "{verdict}");
    assert!(
        verdict["detail"].as_str().unwrap().contains("sequence 3"),
        "{verdict}"
    );

    // Then the actor of the second: now that one is the first broken entry.
    tamper(
        &app.database_url,
        &format!(
            "UPDATE audit_entries SET actor = 'someone-else' WHERE tenant_id = '{}' AND sequence = 2",
            app.tenant
        ),
    );
    let verdict = json_ok(app.get("/api/v1/audit/verify").await).await;
    assert_eq!(verdict["ok"], false);
    assert_eq!(verdict["firstBrokenId"], entries[1]["id"], "{verdict}");
    // The list shows the entry as it is stored now.
    let now = all_entries(&app).await;
    assert_eq!(now[1]["actor"], "someone-else");

    // The other organization is not affected.
    entries_once(&app.client, &app.base, &stranger, 1).await;
    let theirs = json_ok(
        app.request(Method::GET, "/api/v1/audit/verify", &stranger)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        theirs,
        json!({"ok": true, "checked": 1, "firstBrokenId": null})
    );
}

async fn entries_removed_from_the_end_are_caught_by_the_recorded_head(app: TestApp) {
    for name in ["a", "b", "c"] {
        app.create_env(json!({"name": name})).await;
    }
    entries(&app, 3).await;
    tamper(
        &app.database_url,
        &format!(
            "DELETE FROM audit_entries WHERE tenant_id = '{}' AND sequence = 3",
            app.tenant
        ),
    );
    let verdict = json_ok(app.get("/api/v1/audit/verify").await).await;
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert_eq!(verdict["checked"], 2, "{verdict}");
    assert_eq!(verdict["firstBrokenId"], Value::Null, "{verdict}");
    assert!(
        verdict["detail"]
            .as_str()
            .unwrap()
            .contains("does not end at its recorded head"),
        "{verdict}"
    );
}

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Events of the organization as the `events` table holds them, in the log's order, as the
/// ids the audit log gives its entries.
fn event_ids(database_url: &str, tenant: Uuid) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let mut conn = diesel::PgConnection::establish(database_url).unwrap();
    diesel::sql_query(format!(
        "SELECT tx::text || '.' || id::text AS id FROM events WHERE tenant_id = '{tenant}' \
         ORDER BY tx, id"
    ))
    .load::<Id>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|row| row.id)
    .collect()
}

#[tokio::test]
async fn three_replicas_chaining_at_once_never_fork_or_repeat_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(Db::Postgres, &dir) else {
        return;
    };
    let mut servers = Servers(Vec::new());
    let mut bases = Vec::new();
    for _ in 0..3 {
        // Chaining in the background every 10 ms, so the replicas contend all the time.
        let (child, base) = start_server(
            &url,
            &[
                ("TERRANE_JWT_SECRET", SECRET),
                ("TERRANE_AUDIT_CHAIN_INTERVAL_MS", "10"),
            ],
        );
        servers.0.push(child);
        bases.push(base);
    }
    let keys = TokenKeys::new(SECRET.as_bytes()).unwrap();
    let tenants: Vec<Uuid> = (0..2).map(|_| Uuid::now_v7()).collect();
    let token = |tenant: Uuid| {
        let actor = Actor {
            user: UserId(Uuid::now_v7()),
            tenant: TenantId(tenant),
            roles: vec![Role::Admin],
        };
        let now = chrono::Utc::now();
        keys.issue(&actor, now, now + chrono::Duration::hours(1))
            .unwrap()
    };
    let tokens: Vec<String> = tenants.iter().map(|t| token(*t)).collect();
    let client = Client::new();

    // 8 writers per organization spread over the replicas, while readers on every replica
    // chain on demand (list and verify) at the same time.
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..16_usize {
        let (client, base, token) = (
            client.clone(),
            bases[writer % 3].clone(),
            tokens[writer % 2].clone(),
        );
        tasks.spawn(async move {
            for n in 0..8 {
                let response = client
                    .post(format!("{base}/api/v1/environments"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("env-{writer}-{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
            }
        });
    }
    for reader in 0..6_usize {
        let (client, base, token) = (
            client.clone(),
            bases[reader % 3].clone(),
            tokens[reader % 2].clone(),
        );
        tasks.spawn(async move {
            for _ in 0..10 {
                for path in ["/api/v1/audit?take=5", "/api/v1/audit/verify"] {
                    let response = client
                        .get(format!("{base}{path}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(status, 200, "{body}");
                    if path.ends_with("verify") {
                        assert_eq!(body["ok"], true, "{body}");
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }

    for (tenant, token) in tenants.iter().zip(&tokens) {
        let events = event_ids(&url, *tenant);
        assert_eq!(events.len(), 64);
        // Every replica answers the same chain: each event once, in the log's order.
        let mut chains = Vec::new();
        for base in &bases {
            let chain = entries_once(&client, base, token, 64).await;
            assert_chained(&chain);
            let ids: Vec<String> = chain
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids, events, "the chain holds each event once, in order");
            let verdict: Value = client
                .get(format!("{base}/api/v1/audit/verify"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                verdict,
                json!({"ok": true, "checked": 64, "firstBrokenId": null})
            );
            chains.push(chain);
        }
        assert!(chains.windows(2).all(|w| w[0] == w[1]));
    }
}

/// Every entry of the token's organization on the server at `base`, following the pages.
async fn all_entries_at(client: &Client, base: &str, token: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    loop {
        let page = json_ok(
            client
                .get(format!(
                    "{base}/api/v1/audit?take=100&skip={}",
                    entries.len()
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let total = page["total"].as_u64().unwrap() as usize;
        let data = page["data"].as_array().unwrap();
        entries.extend(data.iter().cloned());
        if data.is_empty() || entries.len() >= total {
            assert_eq!(entries.len(), total);
            return entries;
        }
    }
}
