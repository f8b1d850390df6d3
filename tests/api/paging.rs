//! RFC 8288 `Link` headers on every paged list: `first`, `prev`, `next`, `last`, keeping
//! every query parameter of the request and changing only `skip` and `take`.

use crate::on_both_backends;
use crate::support::TestApp;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;

on_both_backends!(
    a_bare_array_list_is_walked_by_next_alone_keeping_its_filters_and_sort,
    an_envelope_list_is_walked_by_next_alone_keeping_its_filters,
    every_paged_list_of_the_document_answers_link_headers,
);

/// The links of a response by relation, each a path and query (the URL as the server wrote
/// it: a reference relative to the request's URL).
fn links(response: &Response) -> BTreeMap<String, String> {
    let header = response
        .headers()
        .get("link")
        .unwrap_or_else(|| panic!("no Link header on {}", response.url()))
        .to_str()
        .unwrap()
        .to_owned();
    header
        .split(", ")
        .map(|link| {
            let (target, rel) = link.split_once(">; rel=\"").expect(&header);
            let target = target.strip_prefix('<').expect(&header);
            let rel = rel.strip_suffix('"').expect(&header);
            (rel.to_owned(), target.to_owned())
        })
        .collect()
}

/// The query pairs of a link, decoded.
fn query(link: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://terrane{link}"))
        .expect(link)
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Follows `rel="next"` from `start` until there is none: each page's response.
async fn walk(app: &TestApp, start: &str) -> Vec<(BTreeMap<String, String>, Value)> {
    let mut pages = Vec::new();
    let mut url = start.to_owned();
    loop {
        assert!(pages.len() < 10, "the next links never end");
        let response = app.get(&url).await;
        assert_eq!(response.status(), 200, "{url}");
        let links = links(&response);
        let body: Value = response.json().await.unwrap();
        let next = links.get("next").cloned();
        pages.push((links, body));
        match next {
            Some(next) => {
                assert!(next.starts_with("/api/v1/"), "path-absolute: {next}");
                url = next;
            }
            None => return pages,
        }
    }
}

fn skip_of(link: &str) -> String {
    query(link)
        .into_iter()
        .find(|(k, _)| k == "skip")
        .map(|(_, v)| v)
        .expect(link)
}

async fn a_bare_array_list_is_walked_by_next_alone_keeping_its_filters_and_sort(app: TestApp) {
    for i in 1..=7 {
        app.create_env(json!({"name": format!("stage-{i}"), "isProduction": false}))
            .await;
    }
    // Left out by the filter: the walk must not count it.
    app.create_env(json!({"name": "live", "isProduction": true}))
        .await;

    let pages = walk(
        &app,
        "/api/v1/environments?isProduction=false&sort=~name&take=3",
    )
    .await;
    assert_eq!(pages.len(), 3, "7 rows, 3 to a page");
    let names: Vec<String> = pages
        .iter()
        .flat_map(|(_, body)| body.as_array().unwrap().clone())
        .map(|env| env["name"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (1..=7).rev().map(|i| format!("stage-{i}")).collect();
    assert_eq!(names, expected, "every row once, in the sort order");

    for (links, _) in &pages {
        for link in links.values() {
            let pairs = query(link);
            assert_eq!(
                pairs
                    .iter()
                    .filter(|(k, _)| k != "skip")
                    .cloned()
                    .collect::<Vec<_>>(),
                [
                    ("isProduction".to_owned(), "false".to_owned()),
                    ("sort".to_owned(), "~name".to_owned()),
                    ("take".to_owned(), "3".to_owned()),
                ],
                "the filter and the sort are kept: {link}"
            );
            assert!(link.starts_with("/api/v1/environments?"), "{link}");
        }
        assert_eq!(skip_of(&links["first"]), "0");
        assert_eq!(skip_of(&links["last"]), "6");
    }
    let rels = |i: usize| pages[i].0.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        rels(0),
        ["first", "last", "next"],
        "no prev on the first page"
    );
    assert_eq!(rels(1), ["first", "last", "next", "prev"]);
    assert_eq!(
        rels(2),
        ["first", "last", "prev"],
        "no next on the last page"
    );
    assert_eq!(skip_of(&pages[1].0["prev"]), "0");
    assert_eq!(skip_of(&pages[2].0["prev"]), "3");

    // `last` and `prev` lead where they say.
    let last = app.get(&pages[0].0["last"]).await;
    let last: Value = last.json().await.unwrap();
    assert_eq!(last, pages[2].1);
    let prev = app.get(&pages[2].0["prev"]).await;
    let prev: Value = prev.json().await.unwrap();
    assert_eq!(prev, pages[1].1);
}

async fn an_envelope_list_is_walked_by_next_alone_keeping_its_filters(app: TestApp) {
    let component = crate::deployments::component(&app, "api").await;
    let env = app.create_env(json!({"name": "dev"})).await;
    let other = app.create_env(json!({"name": "qa"})).await;
    for i in 0..5 {
        crate::deployments::record(&app, &component, &env, &format!("1.{i}.0")).await;
    }
    crate::deployments::record(&app, &component, &other, "9.9.9").await;

    let env_id = env["id"].as_str().unwrap();
    let start = format!("/api/v1/deployments?environmentId={env_id}&status=pending&take=2");
    let pages = walk(&app, &start).await;
    assert_eq!(pages.len(), 3, "5 rows, 2 to a page");
    let mut versions: Vec<String> = pages
        .iter()
        .flat_map(|(_, body)| {
            assert_eq!(body["total"], 5);
            body["data"].as_array().unwrap().clone()
        })
        .map(|d| d["version"].as_str().unwrap().to_owned())
        .collect();
    versions.sort();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]);
    for (links, _) in &pages {
        for link in links.values() {
            let pairs = query(link);
            assert_eq!(pairs[0], ("environmentId".to_owned(), env_id.to_owned()));
            assert_eq!(pairs[1], ("status".to_owned(), "pending".to_owned()));
        }
        assert_eq!(skip_of(&links["last"]), "4");
    }
    assert!(!pages[0].0.contains_key("prev"));
    assert_eq!(skip_of(&pages[2].0["prev"]), "2");
}

/// Every `GET` of `/api/v1` the document says takes `skip` and `take` answers `Link` (and
/// `X-Total-Count`), and the document says so. A new paged list is covered without a new
/// test.
async fn every_paged_list_of_the_document_answers_link_headers(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let target = app
        .send_json(
            Method::POST,
            "/api/v1/targets",
            json!({"environmentId": env["id"], "name": "web-1", "targetType": "docker_host",
                   "connection": {"host": "10.0.0.1", "port": 2375}}),
        )
        .await;
    assert_eq!(target.status(), 201);
    let target: Value = target.json().await.unwrap();
    let webhook = app
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(webhook.status(), 201);
    let webhook: Value = webhook.json().await.unwrap();

    let doc: Value = app
        .get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let names: Vec<&str> = get["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        if !path.starts_with("/api/v1/") || !names.contains(&"skip") || !names.contains(&"take") {
            continue;
        }
        let headers = &get["responses"]["200"]["headers"];
        assert!(headers["Link"].is_object(), "{path}: Link is documented");
        assert!(
            headers["X-Total-Count"].is_object(),
            "{path}: X-Total-Count is documented"
        );

        // Path parameters: the environment or the target made above.
        let id = if path.starts_with("/api/v1/environments/") {
            env["id"].as_str().unwrap()
        } else if path.starts_with("/api/v1/targets/") {
            target["id"].as_str().unwrap()
        } else if path.starts_with("/api/v1/webhooks/") {
            webhook["id"].as_str().unwrap()
        } else {
            assert!(
                !path.contains('{'),
                "{path}: which row fills its parameter?"
            );
            ""
        };
        let url = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    id
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let response = app.get(&format!("{url}?take=1")).await;
        assert_eq!(response.status(), 200, "{url}");
        assert!(response.headers().contains_key("x-total-count"), "{url}");
        let links = links(&response);
        assert!(
            links.contains_key("first") && links.contains_key("last"),
            "{url}: {links:?}"
        );
        assert!(
            links["first"].starts_with(&format!("{url}?")),
            "{url}: {links:?}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} paged lists in the document");
}
