//! The event log: `/api/v1/events` and `/api/v1/events/stream`.

use crate::deployments::{component, id, move_to, path, record};
use crate::on_both_backends;
use crate::support::{fields, problem, Db, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    each_kind_of_change_records_its_event_by_its_actor,
    a_refused_write_leaves_no_event,
    a_poller_never_misses_an_event_under_concurrent_writers,
    events_are_filtered_by_type_and_paged_and_bad_parameters_are_named,
    another_organization_sees_none_of_the_events,
    the_stream_sends_events_as_they_come_and_resumes_after_last_event_id,
);

crate::on_both_databases!(event_retention:
    events_older_than_the_retention_are_purged,
);

crate::on_both_databases!(more_kinds:
    every_other_kind_of_change_records_its_event,
);

/// Events after `after` (from the start when `None`), as `token` reads them.
pub async fn events_as(app: &TestApp, token: &str, after: Option<&str>, query: &str) -> Vec<Value> {
    let mut url = format!("/api/v1/events?take=1000{query}");
    if let Some(after) = after {
        url.push_str(&format!("&after={after}"));
    }
    let response = app.request(Method::GET, &url, token).send().await.unwrap();
    assert_eq!(response.status(), 200, "reading events");
    response.json().await.unwrap()
}

/// The next `n` events after `cursor`, waiting for them (on PostgreSQL an event shows once
/// every transaction that began before its own has ended, which other tests keep busy for
/// moments), and `cursor` moved past them.
pub async fn next_events(app: &TestApp, cursor: &mut Option<String>, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got: Vec<Value> = Vec::new();
    while got.len() < n {
        let page = events_as(app, &app.admin(), cursor.as_deref(), "").await;
        for event in page {
            *cursor = Some(event["id"].as_str().unwrap().to_owned());
            got.push(event);
        }
        if got.len() < n {
            assert!(
                Instant::now() < deadline,
                "waited for {n} events, got {}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    got
}

/// Asserts that the next events are exactly `expected` (type and subject id), by this test's
/// user, in this organization.
async fn expect(
    app: &TestApp,
    cursor: &mut Option<String>,
    expected: &[(&str, &str)],
) -> Vec<Value> {
    let events = next_events(app, cursor, expected.len()).await;
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["subject"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(t, s)| ((*t).to_owned(), (*s).to_owned()))
        .collect();
    assert_eq!(got, want);
    for event in &events {
        assert_eq!(event["organizationId"], app.tenant.to_string());
        assert_eq!(event["actor"], app.user.to_string(), "{event}");
        assert!(event["at"].is_string());
    }
    events
}

async fn send(app: &TestApp, method: Method, path: &str, body: Value) -> Response {
    app.send_json(method, path, body).await
}

/// Each kind of change, through the API, and the event it must record: one step per row.
async fn each_kind_of_change_records_its_event_by_its_actor(app: TestApp) {
    let mut cursor = None;
    let env = app.create_env(json!({"name": "staging"})).await;
    let env_id = id(&env);
    let events = expect(&app, &mut cursor, &[("environment.created", &env_id)]).await;
    assert_eq!(events[0]["subject"]["kind"], "environment");
    assert_eq!(events[0]["data"]["name"], "staging");
    assert_eq!(events[0]["data"]["number"], env["number"]);
    assert_eq!(events[0]["data"]["orderIndex"], env["orderIndex"]);

    let patched = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/environments/{env_id}"),
        json!({"displayName": "Staging"}),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let events = expect(&app, &mut cursor, &[("environment.updated", &env_id)]).await;
    assert_eq!(events[0]["data"]["displayName"], "Staging");
    assert_eq!(events[0]["data"]["version"], 2);

    let api = component(&app, "api").await;
    let component_id = id(&api);
    expect(&app, &mut cursor, &[("component.created", &component_id)]).await;

    let deployment = record(&app, &api, &env, "v1").await;
    let deployment_id = id(&deployment);
    let events = expect(&app, &mut cursor, &[("deployment.created", &deployment_id)]).await;
    assert_eq!(events[0]["data"]["status"], "pending");
    assert_eq!(events[0]["data"]["version"], "v1");

    let approved = app
        .request(
            Method::POST,
            &format!("{}/approvals", path(&deployment)),
            &app.admin(),
        )
        .json(&json!({"comment": "fine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 201);
    let events = expect(
        &app,
        &mut cursor,
        &[("deployment.approved", &deployment_id)],
    )
    .await;
    assert_eq!(events[0]["data"]["approval"]["comment"], "fine");

    move_to(&app, &deployment, "in_progress").await;
    move_to(&app, &deployment, "succeeded").await;
    let events = expect(
        &app,
        &mut cursor,
        &[
            ("deployment.status_changed", &deployment_id),
            ("deployment.status_changed", &deployment_id),
        ],
    )
    .await;
    assert_eq!(
        (&events[0]["data"]["from"], &events[0]["data"]["to"]),
        (&json!("pending"), &json!("in_progress"))
    );
    assert_eq!(
        (&events[1]["data"]["from"], &events[1]["data"]["to"]),
        (&json!("in_progress"), &json!("succeeded"))
    );
    assert_eq!(events[1]["data"]["status"], "succeeded");

    let other = app.create_env(json!({"name": "scratch"})).await;
    let other_id = id(&other);
    expect(&app, &mut cursor, &[("environment.created", &other_id)]).await;
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/environments/{other_id}"),
            &app.admin(),
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let events = expect(&app, &mut cursor, &[("environment.deleted", &other_id)]).await;
    assert_eq!(events[0]["data"]["name"], "scratch");
}

async fn a_refused_write_leaves_no_event(app: TestApp) {
    let mut cursor = None;
    let env = app.create_env(json!({"name": "staging"})).await;
    expect(&app, &mut cursor, &[("environment.created", &id(&env))]).await;
    // A taken name: refused by the unique constraint.
    let clash = send(
        &app,
        Method::POST,
        "/api/v1/environments",
        json!({"name": "STAGING"}),
    )
    .await;
    problem(clash, 409).await;
    // A stale If-Match: refused by the compare-and-set.
    let stale = app
        .request(
            Method::PATCH,
            &format!("/api/v1/environments/{}", id(&env)),
            &app.admin(),
        )
        .header("If-Match", "\"7\"")
        .json(&json!({"displayName": "never"}))
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;
    // A deployment into an environment that does not exist.
    let api = component(&app, "api").await;
    expect(&app, &mut cursor, &[("component.created", &id(&api))]).await;
    let missing = app
        .request(Method::POST, "/api/v1/deployments", &app.admin())
        .json(&json!({"componentId": id(&api), "environmentId": Uuid::now_v7(), "version": "v1"}))
        .send()
        .await
        .unwrap();
    assert!(missing.status().is_client_error());
    // An illegal transition.
    let deployment = record(&app, &api, &env, "v1").await;
    expect(
        &app,
        &mut cursor,
        &[("deployment.created", &id(&deployment))],
    )
    .await;
    let illegal = app
        .request(Method::PATCH, &path(&deployment), &app.admin())
        .json(&json!({"status": "succeeded"}))
        .send()
        .await
        .unwrap();
    problem(illegal, 400).await;
    // The next event is the next write that landed: nothing of the refused ones.
    let last = app.create_env(json!({"name": "last"})).await;
    expect(&app, &mut cursor, &[("environment.created", &id(&last))]).await;
}

async fn a_poller_never_misses_an_event_under_concurrent_writers(app: TestApp) {
    const WRITERS: usize = 12;
    const EACH: usize = 6;
    let app = std::sync::Arc::new(app);
    let poller = {
        let app = app.clone();
        tokio::spawn(async move {
            let token = app.token(&[Role::Viewer]);
            let mut cursor: Option<String> = None;
            let mut seen: Vec<String> = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while seen.len() < WRITERS * EACH && Instant::now() < deadline {
                // Small pages, so that the poller reads while the writers write.
                let mut url = "/api/v1/events?take=3".to_owned();
                if let Some(after) = &cursor {
                    url.push_str(&format!("&after={after}"));
                }
                let page: Vec<Value> = app
                    .request(Method::GET, &url, &token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if page.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                for event in page {
                    let id = event["id"].as_str().unwrap().to_owned();
                    cursor = Some(id.clone());
                    seen.push(id);
                }
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let response = app
                        .send_json(
                            Method::POST,
                            "/api/v1/environments",
                            json!({"name": format!("env-{w}-{i}")}),
                        )
                        .await;
                    assert_eq!(response.status(), 201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = poller.await.unwrap();
    let mut cursor = None;
    let all: Vec<String> = next_events(&app, &mut cursor, WRITERS * EACH)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), WRITERS * EACH);
    assert_eq!(
        seen, all,
        "the poller saw every event once, in the log's order"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

async fn events_are_filtered_by_type_and_paged_and_bad_parameters_are_named(app: TestApp) {
    let mut cursor = None;
    let a = app.create_env(json!({"name": "a"})).await;
    let api = component(&app, "api").await;
    let b = app.create_env(json!({"name": "b"})).await;
    let all = next_events(&app, &mut cursor, 3).await;
    let only: Vec<Value> = events_as(&app, &app.admin(), None, "&types=environment.created").await;
    let subjects: Vec<&str> = only
        .iter()
        .map(|e| e["subject"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, [id(&a), id(&b)]);
    let two = events_as(
        &app,
        &app.admin(),
        None,
        "&types=component.created,environment.created",
    )
    .await;
    assert_eq!(two, all);
    let first = app.get("/api/v1/events?take=1").await;
    assert_eq!(first.status(), 200);
    let first: Vec<Value> = first.json().await.unwrap();
    assert_eq!(first, all[..1]);
    let rest = events_as(&app, &app.admin(), all[0]["id"].as_str(), "").await;
    assert_eq!(rest, all[1..]);
    assert_eq!(id(&all[1]["data"]), id(&api));
    for (query, field) in [
        ("after=x", "after"),
        ("take=0", "take"),
        ("take=1001", "take"),
        ("types=Nope", "types"),
        ("colour=red", "colour"),
    ] {
        let bad = problem(app.get(&format!("/api/v1/events?{query}")).await, 400).await;
        assert_eq!(fields(&bad), [field], "{query}");
    }
    let anonymous = app
        .client
        .get(format!("{}/api/v1/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn another_organization_sees_none_of_the_events(app: TestApp) {
    let mut cursor = None;
    app.create_env(json!({"name": "mine"})).await;
    next_events(&app, &mut cursor, 1).await;
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    assert_eq!(
        events_as(&app, &stranger, None, "").await,
        Vec::<Value>::new()
    );
    let response = app
        .request(Method::GET, "/api/v1/events/stream", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = SseReader::new(response);
    // The stream opens, and sends nothing of this organization.
    assert_eq!(
        reader.events_within(Duration::from_millis(1500)).await,
        Vec::<Sse>::new()
    );
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// Reads a `text/event-stream` response, event by event.
pub struct SseReader {
    response: Response,
    buffer: String,
    pub comments: usize,
}

impl SseReader {
    pub fn new(response: Response) -> SseReader {
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "text/event-stream");
        SseReader {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// Every complete event in the buffer.
    fn take_events(&mut self) -> Vec<Sse> {
        let mut events = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, None, None);
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                } else if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                events.push(Sse { id, event, data });
            }
        }
        events
    }

    /// The events that arrive within `wait`.
    pub async fn events_within(&mut self, wait: Duration) -> Vec<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        loop {
            events.extend(self.take_events());
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Ok(None)) => panic!("the event stream ended"),
                Ok(Err(e)) => panic!("the event stream failed: {e}"),
                Err(_) => return events,
            }
        }
    }

    /// The next `n` events, waiting at most 20 s.
    pub async fn next(&mut self, n: usize) -> Vec<Sse> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut events = Vec::new();
        while events.len() < n {
            assert!(
                Instant::now() < deadline,
                "waited for {n} events, got {events:?}"
            );
            events.extend(self.events_within(Duration::from_millis(200)).await);
        }
        events
    }
}

async fn stream(app: &TestApp, query: &str, last_event_id: Option<&str>) -> SseReader {
    let mut request = app.request(
        Method::GET,
        &format!("/api/v1/events/stream{query}"),
        &app.token(&[Role::Viewer]),
    );
    if let Some(last) = last_event_id {
        request = request.header("Last-Event-ID", last);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    SseReader::new(response)
}

async fn the_stream_sends_events_as_they_come_and_resumes_after_last_event_id(app: TestApp) {
    let mut reader = stream(&app, "", None).await;
    let a = app.create_env(json!({"name": "a"})).await;
    let b = app.create_env(json!({"name": "b"})).await;
    let first = reader.next(2).await;
    let subjects: Vec<String> = first.iter().map(|e| id(&e.data["subject"])).collect();
    assert_eq!(subjects, [id(&a), id(&b)]);
    assert!(first.iter().all(|e| e.event == "environment.created"));
    // The data is the event as GET /events answers it.
    let listed = events_as(&app, &app.admin(), None, "").await;
    assert_eq!(
        first.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        listed[..2]
    );
    assert!(first
        .iter()
        .zip(&listed)
        .all(|(e, l)| e.id == l["id"].as_str().unwrap()));
    drop(reader);

    // Written while nobody listened: a client reconnecting with Last-Event-ID gets it, and
    // nothing twice.
    let c = app.create_env(json!({"name": "c"})).await;
    let mut resumed = stream(&app, "?after=0.0", Some(&first[0].id)).await;
    let again = resumed.next(2).await;
    let subjects: Vec<String> = again.iter().map(|e| id(&e.data["subject"])).collect();
    assert_eq!(subjects, [id(&b), id(&c)]);
    assert_eq!(
        resumed.events_within(Duration::from_millis(500)).await,
        vec![]
    );
    // `after` alone, and a type filter.
    let mut filtered = stream(
        &app,
        &format!("?after={}&types=environment.deleted", first[1].id),
        None,
    )
    .await;
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/environments/{}", id(&c)),
            &app.admin(),
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let only = filtered.next(1).await;
    assert_eq!(only[0].event, "environment.deleted");
    assert_eq!(id(&only[0].data["subject"]), id(&c));
    // A bad Last-Event-ID is named.
    let bad = app
        .request(Method::GET, "/api/v1/events/stream", &app.admin())
        .header("Last-Event-ID", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(bad, 400).await), ["Last-Event-ID"]);
}

/// With a short keep-alive, an idle stream sends comments; with a tiny retention, old events
/// go.
async fn events_older_than_the_retention_are_purged(db: Db) {
    let Some(app) = TestApp::spawn_with(
        db,
        &[
            ("TERRANE_EVENT_RETENTION", "2s"),
            ("TERRANE_EVENT_PURGE_INTERVAL_SECS", "1"),
            ("TERRANE_EVENT_STREAM_KEEPALIVE_SECS", "1"),
            ("TERRANE_EVENT_STREAM_POLL_MS", "50"),
        ],
    )
    .await
    else {
        return;
    };
    let mut idle = stream(&app, "?types=nothing.happens", None).await;
    let mut cursor = None;
    let old = app.create_env(json!({"name": "old"})).await;
    next_events(&app, &mut cursor, 1).await;
    // Purged within a few seconds, while a newer one stays (created after the old is gone).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = events_as(&app, &app.admin(), None, "").await;
        if left.is_empty() {
            break;
        }
        assert_eq!(id(&left[0]["subject"]), id(&old));
        assert!(Instant::now() < deadline, "the old event was never purged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let new = app.create_env(json!({"name": "new"})).await;
    let mut cursor = None;
    let kept = next_events(&app, &mut cursor, 1).await;
    assert_eq!(id(&kept[0]["subject"]), id(&new));
    // Meanwhile the idle stream kept its connection alive with comments, at least one a
    // second.
    assert_eq!(
        idle.events_within(Duration::from_millis(2500)).await,
        vec![]
    );
    assert!(idle.comments >= 3, "{} keep-alive comments", idle.comments);
}

/// Events after `cursor` until one matches `last`, waiting at most 20 s.
async fn events_until(
    app: &TestApp,
    cursor: &mut Option<String>,
    last: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got: Vec<Value> = Vec::new();
    loop {
        let page = events_as(app, &app.admin(), cursor.as_deref(), "").await;
        for event in page {
            *cursor = Some(event["id"].as_str().unwrap().to_owned());
            let done = last(&event);
            got.push(event);
            if done {
                return got;
            }
        }
        assert!(Instant::now() < deadline, "waited in vain, got {got:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["subject"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The rest of the table: each step is a change through the API and the events it must
/// record, in order.
async fn every_other_kind_of_change_records_its_event(db: Db) {
    let Some(app) =
        TestApp::spawn_with(db, &[("TERRANE_FREEZE_WINDOW_EVENTS_INTERVAL_SECS", "1")]).await
    else {
        return;
    };
    let mut cursor = None;
    let env = app.create_env(json!({"name": "production"})).await;
    expect(&app, &mut cursor, &[("environment.created", &id(&env))]).await;

    // Target groups: created, updated, deleted.
    let group: Value = send(
        &app,
        Method::POST,
        &format!("/api/v1/environments/{}/target-groups", id(&env)),
        json!({"name": "web"}),
    )
    .await
    .json()
    .await
    .unwrap();
    expect(&app, &mut cursor, &[("target_group.created", &id(&group))]).await;
    let put = send(
        &app,
        Method::PUT,
        &format!("/api/v1/target-groups/{}", id(&group)),
        json!({"name": "web", "displayName": "Web tier"}),
    )
    .await;
    assert_eq!(put.status(), 200);
    let events = expect(&app, &mut cursor, &[("target_group.updated", &id(&group))]).await;
    assert_eq!(events[0]["data"]["displayName"], "Web tier");

    // Targets: created, updated, deleted.
    let target: Value = send(
        &app,
        Method::POST,
        "/api/v1/targets",
        json!({"environmentId": id(&env), "name": "host-1", "targetType": "docker_host",
               "connection": {"host": "10.0.0.1", "port": 2375}}),
    )
    .await
    .json()
    .await
    .unwrap();
    let events = expect(&app, &mut cursor, &[("target.created", &id(&target))]).await;
    assert_eq!(events[0]["data"]["targetType"], "docker_host");
    assert!(
        events[0]["data"].get("connection").is_none(),
        "no connection details in events"
    );
    let patched = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/targets/{}", id(&target)),
        json!({"deploymentDirectory": "/srv/app"}),
    )
    .await;
    assert_eq!(patched.status(), 200);
    expect(&app, &mut cursor, &[("target.updated", &id(&target))]).await;
    let gone = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/targets/{}", id(&target)),
        json!({}),
    )
    .await;
    assert!(gone.status().is_success());
    expect(&app, &mut cursor, &[("target.deleted", &id(&target))]).await;
    let gone = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/target-groups/{}", id(&group)),
        json!({}),
    )
    .await;
    assert!(gone.status().is_success());
    expect(&app, &mut cursor, &[("target_group.deleted", &id(&group))]).await;

    // Releases.
    let api = component(&app, "api").await;
    expect(&app, &mut cursor, &[("component.created", &id(&api))]).await;
    let release: Value = send(
        &app,
        Method::POST,
        "/api/v1/releases",
        json!({"name": "2026.1", "components": [{"componentId": id(&api), "version": "v1"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    expect(&app, &mut cursor, &[("release.created", &id(&release))]).await;

    // Service accounts: created, rotated (updated), deleted; never their secret.
    let account: Value = send(
        &app,
        Method::POST,
        "/api/v1/service-accounts",
        json!({"name": "ci", "roles": ["deployer"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let events = expect(
        &app,
        &mut cursor,
        &[("service_account.created", &id(&account))],
    )
    .await;
    assert!(
        !events[0]["data"].to_string().contains("trn_sa_"),
        "no secret in events"
    );
    let rotated = send(
        &app,
        Method::POST,
        &format!("/api/v1/service-accounts/{}/rotate", id(&account)),
        json!({}),
    )
    .await;
    assert!(rotated.status().is_success());
    expect(
        &app,
        &mut cursor,
        &[("service_account.updated", &id(&account))],
    )
    .await;
    let gone = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/service-accounts/{}", id(&account)),
        json!({}),
    )
    .await;
    assert!(gone.status().is_success());
    expect(
        &app,
        &mut cursor,
        &[("service_account.deleted", &id(&account))],
    )
    .await;

    // Webhooks: created, updated, deleted; neither the secret nor the URL's path (a chat
    // webhook's URL is its token) is in the events, which every role reads.
    let hook: Value = send(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        json!({"url": "https://hooks.example.com/services/T0/tok3n?key=k3y", "secret": "a-secret-of-20-chars"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let created = expect(&app, &mut cursor, &[("webhook.created", &id(&hook))]).await;
    assert_eq!(created[0]["data"]["origin"], "https://hooks.example.com");
    assert_eq!(created[0]["data"]["active"], true);
    let patched = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/webhooks/{}", id(&hook)),
        json!({"active": false, "types": ["deployment.*"]}),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let updated = expect(&app, &mut cursor, &[("webhook.updated", &id(&hook))]).await;
    assert_eq!(updated[0]["data"]["active"], false);
    assert_eq!(updated[0]["data"]["types"], json!(["deployment.*"]));
    assert_eq!(updated[0]["data"]["version"], 2);
    let gone = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/webhooks/{}", id(&hook)),
        json!({}),
    )
    .await;
    assert!(gone.status().is_success());
    expect(&app, &mut cursor, &[("webhook.deleted", &id(&hook))]).await;
    for event in created.iter().chain(&updated) {
        let text = event["data"].to_string();
        assert!(
            !text.contains("a-secret-of-20-chars")
                && !text.contains("tok3n")
                && !text.contains("k3y"),
            "{text}"
        );
    }

    // Projects.
    let project: Value = send(
        &app,
        Method::POST,
        "/api/v1/projects",
        json!({"name": "shop", "projectManager": "ann"}),
    )
    .await
    .json()
    .await
    .unwrap();
    expect(&app, &mut cursor, &[("project.created", &id(&project))]).await;

    // Environment requests: created, reviewed and provisioned (each a status change), and
    // the environment it produced.
    let request: Value = send(
        &app,
        Method::POST,
        "/api/v1/environment-requests",
        json!({"name": "preview-1", "type": "ephemeral", "tier": "small", "ttlHours": 4}),
    )
    .await
    .json()
    .await
    .unwrap();
    expect(
        &app,
        &mut cursor,
        &[("environment_request.created", &id(&request))],
    )
    .await;
    let approved = send(
        &app,
        Method::POST,
        &format!("/api/v1/environment-requests/{}/approve", id(&request)),
        json!({"comment": "ok"}),
    )
    .await;
    assert!(approved.status().is_success(), "{}", approved.status());
    let events = events_until(&app, &mut cursor, |e| e["data"]["to"] == "active").await;
    let moves: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "environment_request.status_changed")
        .map(|e| {
            (
                e["data"]["from"].as_str().unwrap(),
                e["data"]["to"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("pending", "approved"),
            ("approved", "provisioning"),
            ("provisioning", "active")
        ]
    );
    assert!(
        events.iter().any(|e| e["type"] == "environment.created"),
        "{events:#?}"
    );

    // A freeze window: created by the user; begun and ended by the system, once each.
    let now = chrono::Utc::now();
    let window: Value = send(
        &app,
        Method::POST,
        &format!("/api/v1/environments/{}/freeze-windows", id(&env)),
        json!({"start": rfc3339(now + chrono::Duration::seconds(1)),
               "end": rfc3339(now + chrono::Duration::seconds(2)), "reason": "release"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let events = events_until(&app, &mut cursor, |e| e["type"] == "freeze_window.ended").await;
    assert_eq!(
        kinds(&events),
        [
            ("freeze_window.created".to_owned(), id(&window)),
            ("freeze_window.started".to_owned(), id(&window)),
            ("freeze_window.ended".to_owned(), id(&window)),
        ]
    );
    assert_eq!(events[0]["actor"], app.user.to_string());
    assert_eq!(events[1]["actor"], "system");
    assert_eq!(events[2]["actor"], "system");
    // Nothing more comes of it, however many looks later.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        events_as(&app, &app.admin(), cursor.as_deref(), "").await,
        Vec::<Value>::new()
    );
}
