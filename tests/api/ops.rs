use crate::on_both_backends;
use crate::support::TestApp;
use serde_json::{json, Value};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_requests_by_route_and_status,
    request_ids_are_echoed_or_generated,
    swagger_ui_and_the_openapi_document_are_served_offline,
);

async fn health_and_readiness_answer(app: TestApp) {
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
}

async fn metrics_count_requests_by_route_and_status(app: TestApp) {
    app.create_env(json!({"name": "dev"})).await;
    app.get(&format!("/api/v1/environments/{}", uuid::Uuid::now_v7()))
        .await;
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#"terrane_http_requests_total{method="POST",route="/api/v1/environments",status="201"} 1"#), "{text}");
    assert!(text.contains(r#"terrane_http_requests_total{method="GET",route="/api/v1/environments/{id}",status="404"} 1"#), "{text}");
    assert!(text.contains("# TYPE terrane_http_request_duration_seconds histogram"));
}

async fn request_ids_are_echoed_or_generated(app: TestApp) {
    let echoed = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    let generated = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

async fn swagger_ui_and_the_openapi_document_are_served_offline(app: TestApp) {
    let doc: Value = app
        .client
        .get(format!("{}/api-docs/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/environments/{id}"]["patch"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let ui = app
        .client
        .get(format!("{}/swagger-ui/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200);
    let html = ui.text().await.unwrap();
    assert!(
        html.contains("swagger-ui"),
        "served from the binary, no CDN"
    );
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn."),
        "no CDN"
    );
    let bundle = app
        .client
        .get(format!("{}/swagger-ui/swagger-ui-bundle.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = no_redirects
        .get(format!("{}/swagger-ui", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/swagger-ui/");
}

#[tokio::test]
async fn readiness_is_503_and_requests_get_a_problem_when_postgres_goes_away() {
    use diesel::{Connection, RunQueryDsl};
    let Some(app) = TestApp::spawn(crate::support::Db::Postgres).await else {
        return;
    };
    app.create_env(json!({"name": "dev"})).await;
    let database = app.database_name();
    let mut admin =
        diesel::PgConnection::establish(&terrane_store::testing::postgres_admin_url()).unwrap();
    diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    let body = crate::support::problem(ready, 503).await;
    assert_eq!(body["type"], "/problems/unavailable");
    let list = app.get("/api/v1/environments").await;
    let status = list.status().as_u16();
    assert!(
        status == 503,
        "a lost database is unavailable, not a 500: {status}"
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the process itself is alive");
}
