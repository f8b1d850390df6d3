use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    bad_bodies_get_a_problem_naming_each_bad_field,
    malformed_json_and_wrong_types_are_400_problems,
    bad_ids_in_paths_are_400_problems,
    oversized_bodies_get_413_and_non_json_bodies_415,
    unknown_routes_get_404_and_wrong_methods_405_as_problems,
    every_problem_type_has_a_page,
);

async fn bad_bodies_get_a_problem_naming_each_bad_field(app: TestApp) {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/environments",
            json!({
                "name": "not a name",
                "requiredApprovals": 11,
                "config": {"deploymentTimeout": 0, "healthCheckInterval": -5},
                "promotionPolicy": "whenever",
                "status": "on-fire"
            }),
        )
        .await;
    let body = problem(response, 400).await;
    assert_eq!(body["type"], "/problems/validation");
    assert_eq!(
        fields(&body),
        [
            "name",
            "config.deploymentTimeout",
            "config.healthCheckInterval",
            "requiredApprovals",
            "promotionPolicy",
            "status"
        ]
    );
    let missing = app
        .send_json(Method::POST, "/api/v1/environments", json!({}))
        .await;
    assert_eq!(fields(&problem(missing, 400).await), ["name"]);
    let (_, total) = (
        0,
        app.get("/api/v1/environments").await.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(total, "0", "nothing was written");
}

async fn malformed_json_and_wrong_types_are_400_problems(app: TestApp) {
    let token = app.admin();
    let raw = |body: &'static str| {
        app.request(Method::POST, "/api/v1/environments", &token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        fields(&problem(raw("{\"name\": ").await.unwrap(), 400).await),
        ["body"]
    );
    assert_eq!(
        fields(&problem(raw("[1, 2]").await.unwrap(), 400).await),
        ["body"]
    );
    assert_eq!(
        fields(&problem(raw("{\"name\": 5}").await.unwrap(), 400).await),
        ["name"]
    );
    assert_eq!(
        fields(
            &problem(
                raw("{\"name\": \"a\", \"isActive\": \"yes\"}")
                    .await
                    .unwrap(),
                400
            )
            .await
        ),
        ["isActive"]
    );
    let unknown = problem(
        raw("{\"name\": \"a\", \"colour\": \"red\"}").await.unwrap(),
        400,
    )
    .await;
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{unknown}"
    );
}

async fn bad_ids_in_paths_are_400_problems(app: TestApp) {
    let body = problem(app.get("/api/v1/environments/not-a-uuid").await, 400).await;
    assert_eq!(fields(&body), ["id"]);
    let missing = format!("/api/v1/environments/{}", uuid::Uuid::now_v7());
    problem(app.get(&missing).await, 404).await;
}

async fn oversized_bodies_get_413_and_non_json_bodies_415(app: TestApp) {
    let token = app.admin();
    let huge = format!(
        "{{\"name\": \"a\", \"description\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let response = app
        .request(Method::POST, "/api/v1/environments", &token)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
    let text = app
        .request(Method::POST, "/api/v1/environments", &token)
        .header("Content-Type", "text/plain")
        .body("{\"name\": \"a\"}")
        .send()
        .await
        .unwrap();
    problem(text, 415).await;
    let none = app
        .request(Method::POST, "/api/v1/environments", &token)
        .body("{\"name\": \"a\"}")
        .send()
        .await
        .unwrap();
    problem(none, 415).await;
}

async fn unknown_routes_get_404_and_wrong_methods_405_as_problems(app: TestApp) {
    problem(app.get("/api/v1/nothing-here").await, 404).await;
    // `/` is the dashboard; anything else outside the API is still a problem.
    problem(app.get("/nothing-here").await, 404).await;
    let id = uuid::Uuid::now_v7();
    let response = app
        .request(
            Method::POST,
            &format!("/api/v1/environments/{id}"),
            &app.admin(),
        )
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    problem(response, 405).await;
    assert_eq!(allow, "GET, PUT, PATCH, DELETE");
    let on_list = app
        .request(Method::DELETE, "/api/v1/environments", &app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(on_list.headers()["allow"], "GET, POST");
    problem(on_list, 405).await;
    // A read of a route that takes none is refused the same way, by the fallback.
    for method in [Method::GET, Method::HEAD] {
        let read = app
            .request(
                method.clone(),
                &format!("/api/v1/service-accounts/{id}/rotate"),
                &app.admin(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 405, "{method}");
        assert_eq!(read.headers()["allow"], "POST", "{method}");
    }
}

async fn every_problem_type_has_a_page(app: TestApp) {
    for kind in [
        "validation",
        "unauthorized",
        "forbidden",
        "not-found",
        "method-not-allowed",
        "conflict",
        "precondition-failed",
        "payload-too-large",
        "unsupported-media-type",
        "idempotency-key-reused",
        "unavailable",
        "internal",
    ] {
        let response = app
            .client
            .get(format!("{}/problems/{kind}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{kind}");
        assert!(response.text().await.unwrap().contains("<h1>"), "{kind}");
    }
}
