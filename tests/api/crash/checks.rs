//! What must hold after the restart: every answered write is there as answered, nothing
//! unanswered is half there, and every derived row agrees with the ledger.

use super::load::{id, Client, Ledger, Write};
use super::text;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Rows the checks looked at.
#[derive(Debug, Default)]
pub struct Checked {
    pub environments: usize,
    pub deployments: usize,
    pub requests: usize,
    pub history_rows: usize,
    pub latest_rows: usize,
    pub matrix_cells: usize,
    pub counts: usize,
    /// Writes in flight at the kill that were written all the same.
    pub landed: usize,
}

impl Checked {
    pub fn total(&self) -> usize {
        self.environments
            + self.deployments
            + self.requests
            + self.history_rows
            + self.latest_rows
            + self.matrix_cells
            + self.counts
    }
}

/// Rows by id.
type ById = BTreeMap<String, Value>;

/// Every row of a paged list, checking that the pages add up to the total they state.
async fn list_all(client: &Client, path: &str) -> ById {
    let mut rows = ById::new();
    let mut stated = None;
    let mut skip = 0;
    loop {
        let (body, header) = client.page(&format!("{path}?skip={skip}&take=100")).await;
        let (page, total) = match body.as_array() {
            Some(page) => (page.clone(), header.expect("X-Total-Count on a bare array")),
            None => (
                body["data"].as_array().expect("an envelope").clone(),
                body["total"].as_u64().expect("a total"),
            ),
        };
        assert_eq!(
            *stated.get_or_insert(total),
            total,
            "{path}: the total moved"
        );
        let count = page.len();
        for row in page {
            assert!(rows.insert(id(&row), row).is_none(), "{path}: a row twice");
        }
        skip += 100;
        if count < 100 {
            break;
        }
    }
    assert_eq!(
        rows.len() as u64,
        stated.unwrap_or(0),
        "{path}: listed vs total"
    );
    rows
}

/// GETs every path, a few at a time.
async fn get_each(client: &Client, paths: Vec<String>) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for path in chunk {
            let (client, path) = (client.clone(), path.clone());
            set.spawn(async move {
                let body = client.get(&path).await;
                (path, body)
            });
        }
        while let Some(done) = set.join_next().await {
            out.push(done.expect("a GET task"));
        }
    }
    out
}

/// A history (oldest first) must start at creation, go on from each status to the next, and
/// end at `status`.
fn check_history(what: &str, history: &Value, status: &str) -> usize {
    let rows = history
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {history}"));
    assert!(!rows.is_empty(), "{what}: no history");
    assert!(
        rows[0]["from"].is_null(),
        "{what} starts at creation: {history}"
    );
    for pair in rows.windows(2) {
        assert_eq!(pair[1]["from"], pair[0]["to"], "{what}: a gap in {history}");
    }
    assert_eq!(
        rows[rows.len() - 1]["to"],
        status,
        "{what}: the history ends where the row is: {history}"
    );
    rows.len()
}

/// The totals of filtered deployment lists (kept by the database as counts per component,
/// environment and status) against the rows.
async fn check_counts(client: &Client, deployments: &ById) -> usize {
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for d in deployments.values() {
        let (c, e, s) = (
            text(d, "componentId"),
            text(d, "environmentId"),
            text(d, "status"),
        );
        for filter in [
            format!("status={s}"),
            format!("componentId={c}"),
            format!("environmentId={e}"),
            format!("componentId={c}&status={s}"),
            format!("environmentId={e}&componentId={c}&status={s}"),
        ] {
            *expected.entry(filter).or_default() += 1;
        }
    }
    for status in [
        "pending",
        "in_progress",
        "succeeded",
        "failed",
        "rolled_back",
    ] {
        expected.entry(format!("status={status}")).or_default();
    }
    let paths = expected
        .keys()
        .map(|filter| format!("/api/v1/deployments?{filter}&take=1"))
        .collect();
    for (path, body) in get_each(client, paths).await {
        let filter = &path["/api/v1/deployments?".len()..path.len() - "&take=1".len()];
        assert_eq!(body["total"], expected[filter], "{path}");
    }
    expected.len()
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

pub async fn verify(client: &Client, components: &[Value], ledgers: &[Ledger]) -> Checked {
    let mut checked = Checked::default();
    let environments = list_all(client, "/api/v1/environments").await;
    let deployments = list_all(client, "/api/v1/deployments").await;
    let requests = list_all(client, "/api/v1/environment-requests").await;
    checked.environments = environments.len();
    checked.deployments = deployments.len();
    checked.requests = requests.len();

    let unanswered: Vec<(&Write, bool)> = ledgers.iter().filter_map(Ledger::unanswered).collect();
    let may_have_landed = |matches: &dyn Fn(&Write) -> bool| {
        unanswered
            .iter()
            .any(|(write, landed)| *landed && matches(write))
    };
    let never_sent = |matches: &dyn Fn(&Write) -> bool| {
        unanswered
            .iter()
            .any(|(write, landed)| !*landed && matches(write))
    };

    // Environments: each answered one is there, exactly as answered.
    let answered_environments: BTreeMap<String, &Value> = ledgers
        .iter()
        .flat_map(|l| l.environments.iter())
        .map(|e| (id(e), e))
        .collect();
    let paths = answered_environments
        .keys()
        .map(|id| format!("/api/v1/environments/{id}"))
        .collect();
    for (path, stored) in get_each(client, paths).await {
        let answer = answered_environments[&id(&stored)];
        assert_eq!(&stored, answer, "{path}: as its 201 said");
    }
    // ... and every other one is an unanswered create, or the environment of an active request.
    for (env_id, env) in &environments {
        if answered_environments.contains_key(env_id) {
            continue;
        }
        let name = text(env, "name");
        if let Some(request) = env["requestId"].as_str() {
            let request = requests
                .get(request)
                .unwrap_or_else(|| panic!("the request of {env} is missing"));
            assert_eq!(request["status"], "active", "{request}");
            assert_eq!(request["environmentId"], env["id"], "{request}");
            continue;
        }
        assert!(
            may_have_landed(&|w| matches!(w, Write::CreateEnvironment { name: n } if n == name)),
            "an environment nobody was told of: {env}"
        );
    }
    let names: BTreeSet<&str> = environments.values().map(|e| text(e, "name")).collect();
    assert!(
        !never_sent(
            &|w| matches!(w, Write::CreateEnvironment { name } if names.contains(name.as_str()))
        ),
        "an environment whose create never reached the server exists"
    );

    // Deployments: each answered one is there as last answered, or one unanswered move on.
    let mut accounted = BTreeSet::new();
    for ledger in ledgers {
        for (deployment, answer) in &ledger.deployments {
            let stored = deployments
                .get(deployment)
                .unwrap_or_else(|| panic!("answered deployment {deployment} is missing"));
            accounted.insert(deployment.clone());
            if stored["status"] == answer["status"] {
                assert_eq!(stored, answer, "deployment {deployment} as last answered");
                continue;
            }
            let to = text(stored, "status");
            assert!(
                matches!(&ledger.lost, Some(Write::MoveDeployment { id, to: t }) if id == deployment && *t == to),
                "deployment {deployment} is {to}, but was last answered {}, and no move to {to} \
                 was in flight: {stored}",
                answer["status"]
            );
            assert_eq!(stored["revision"], answer["revision"].as_i64().unwrap() + 1);
        }
        if let Some(Write::MoveDeployment { id, .. }) = &ledger.refused {
            assert_eq!(
                deployments[id]["status"], ledger.deployments[id]["status"],
                "a move that never reached the server happened"
            );
        }
    }
    let mut unclaimed: Vec<&Write> = unanswered
        .iter()
        .filter(|(w, landed)| *landed && matches!(w, Write::RecordDeployment { .. }))
        .map(|(w, _)| *w)
        .collect();
    let mut recorded_unanswered = 0;
    for (deployment, stored) in &deployments {
        if accounted.contains(deployment) {
            continue;
        }
        let at = unclaimed.iter().position(|w| {
            matches!(w, Write::RecordDeployment { component, environment, version }
                if stored["componentId"] == component.as_str()
                    && stored["environmentId"] == environment.as_str()
                    && stored["version"] == version.as_str())
        });
        let at = at.unwrap_or_else(|| panic!("a deployment nobody was told of: {stored}"));
        unclaimed.remove(at);
        recorded_unanswered += 1;
        assert_eq!(
            stored["status"], "pending",
            "an unanswered record: {stored}"
        );
    }
    assert!(
        !never_sent(
            &|w| matches!(w, Write::RecordDeployment { component, environment, version }
            if deployments.values().any(|d| d["componentId"] == component.as_str()
                && d["environmentId"] == environment.as_str()
                && d["version"] == version.as_str()))
        ),
        "a deployment whose record never reached the server exists"
    );
    // Every deployment (its row, its history) is whole.
    let paths = deployments
        .keys()
        .map(|id| format!("/api/v1/deployments/{id}/history"))
        .collect();
    for (path, history) in get_each(client, paths).await {
        let deployment = &deployments[path.split('/').nth(4).unwrap()];
        checked.history_rows += check_history(&path, &history, text(deployment, "status"));
        assert_eq!(
            history.as_array().unwrap().len() as i64,
            deployment["revision"].as_i64().unwrap(),
            "{path}: one history row per revision"
        );
    }

    // Environment requests: as last answered, or approved by an unanswered approval.
    let mut accounted = BTreeSet::new();
    for ledger in ledgers {
        for (request, answer) in &ledger.requests {
            let stored = requests
                .get(request)
                .unwrap_or_else(|| panic!("answered request {request} is missing"));
            accounted.insert(request.clone());
            if stored["status"] == answer["status"] {
                assert_eq!(stored, answer, "request {request} as last answered");
                continue;
            }
            assert!(
                matches!(&ledger.lost, Some(Write::ApproveRequest { id }) if id == request),
                "request {request} moved without an answered or in-flight approval: {stored}"
            );
            assert_eq!(stored["status"], "active", "{stored}");
        }
        if let Some(Write::ApproveRequest { id }) = &ledger.refused {
            assert_eq!(
                requests[id]["status"], "pending",
                "an approval never sent happened"
            );
        }
    }
    for (request, stored) in &requests {
        if accounted.contains(request) {
            continue;
        }
        let name = text(stored, "name");
        assert!(
            may_have_landed(&|w| matches!(w, Write::SubmitRequest { name: n } if n == name)),
            "a request nobody was told of: {stored}"
        );
        assert_eq!(stored["status"], "pending", "{stored}");
    }
    let request_names: BTreeSet<&str> = requests.values().map(|r| text(r, "name")).collect();
    assert!(
        !never_sent(
            &|w| matches!(w, Write::SubmitRequest { name } if request_names.contains(name.as_str()))
        ),
        "a request whose submission never reached the server exists"
    );
    // An active request has its environment; a pending one has none.
    for stored in requests.values() {
        match text(stored, "status") {
            "active" => {
                let env = environments
                    .get(text(stored, "environmentId"))
                    .unwrap_or_else(|| panic!("the environment of {stored} is missing"));
                assert_eq!(env["requestId"], stored["id"], "{env}");
                assert_eq!(env["name"], stored["name"], "{env}");
            }
            "pending" => assert!(stored["environmentId"].is_null(), "{stored}"),
            other => panic!("a request the load never moved to {other}: {stored}"),
        }
    }
    let paths = requests
        .keys()
        .map(|id| format!("/api/v1/environment-requests/{id}/history"))
        .collect();
    for (path, history) in get_each(client, paths).await {
        let request = &requests[path.split('/').nth(4).unwrap()];
        checked.history_rows += check_history(&path, &history, text(request, "status"));
    }

    checked.counts = check_counts(client, &deployments).await;

    // The latest success of each (component, environment), from the ledger as stored.
    let mut latest: BTreeMap<(String, String), &Value> = BTreeMap::new();
    for stored in deployments.values().filter(|d| d["status"] == "succeeded") {
        let key = (
            text(stored, "componentId").to_owned(),
            text(stored, "environmentId").to_owned(),
        );
        let later = latest
            .get(&key)
            .is_none_or(|best| time(&stored["finishedAt"]) > time(&best["finishedAt"]));
        if later {
            latest.insert(key, stored);
        }
    }
    // ... is what its client last heard of, or the success it was waiting to hear of.
    for ledger in ledgers {
        for (pair, successes) in &ledger.successes {
            let last = successes.last().expect("a success");
            let found = id(latest[pair]);
            let in_flight = matches!(&ledger.lost, Some(Write::MoveDeployment { id, to: "succeeded" }) if *id == found);
            assert!(
                found == *last || in_flight,
                "the latest success of {pair:?} is {found}, its client last heard of {last}"
            );
        }
    }
    for component in components {
        let component_id = id(component);
        let rows = client
            .get(&format!(
                "/api/v1/deployments/latest?componentId={component_id}"
            ))
            .await;
        let rows = rows.as_array().expect("a bare array");
        let expected: BTreeMap<&str, &Value> = latest
            .iter()
            .filter(|((c, _), _)| *c == component_id)
            .map(|((_, e), d)| (e.as_str(), *d))
            .collect();
        assert_eq!(rows.len(), expected.len(), "latest of {component_id}");
        for row in rows {
            let deployment = expected[text(row, "environmentId")];
            assert_eq!(row["id"], deployment["id"], "{row}");
            assert_eq!(row["version"], deployment["version"], "{row}");
            assert_eq!(row["deployedAt"], deployment["finishedAt"], "{row}");
            checked.latest_rows += 1;
        }
    }
    let matrix = client.get("/api/v1/deployments/matrix").await;
    let matrix = matrix.as_array().expect("a bare array");
    assert_eq!(
        matrix.len(),
        components.len(),
        "one matrix row per component"
    );
    for row in matrix {
        let component_id = text(row, "componentId");
        let cells = row["environments"].as_object().expect("cells");
        let expected: BTreeMap<&str, &Value> = latest
            .iter()
            .filter(|((c, _), _)| c == component_id)
            .map(|((_, e), d)| (text(&environments[e], "name"), *d))
            .collect();
        assert_eq!(cells.len(), expected.len(), "matrix row {row}");
        for (name, cell) in cells {
            let deployment = expected
                .get(name.as_str())
                .unwrap_or_else(|| panic!("a matrix cell without a success: {name}"));
            assert_eq!(cell["version"], deployment["version"], "{cell}");
            assert_eq!(cell["deployedAt"], deployment["finishedAt"], "{cell}");
            checked.matrix_cells += 1;
        }
    }
    for ledger in ledgers {
        let landed = match &ledger.lost {
            Some(Write::CreateEnvironment { name }) => names.contains(name.as_str()),
            Some(Write::RecordDeployment { .. }) => false, // counted below
            Some(Write::MoveDeployment { id, to }) => deployments[id]["status"] == *to,
            Some(Write::SubmitRequest { name }) => request_names.contains(name.as_str()),
            Some(Write::ApproveRequest { id }) => requests[id]["status"] == "active",
            None => false,
        };
        checked.landed += usize::from(landed);
    }
    checked.landed += recorded_unanswered;
    checked
}
