use crate::on_both_backends;
use crate::support::{problem, TestApp};
use reqwest::Method;
use serde_json::json;
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use uuid::Uuid;

on_both_backends!(
    requests_without_a_valid_token_get_401_with_a_bearer_challenge,
    viewers_and_deployers_read_but_only_admins_write_environments,
    another_tenants_environment_is_not_found_and_not_listed,
);

async fn requests_without_a_valid_token_get_401_with_a_bearer_challenge(app: TestApp) {
    let url = format!("{}/api/v1/environments", app.base);
    let now = chrono::Utc::now();
    let actor = Actor {
        user: UserId(app.user),
        tenant: TenantId(app.tenant),
        roles: vec![Role::Admin],
    };
    let expired = TokenKeys::new(crate::support::SECRET.as_bytes())
        .unwrap()
        .issue(
            &actor,
            now - chrono::Duration::hours(2),
            now - chrono::Duration::hours(1),
        )
        .unwrap();
    let forged = TokenKeys::new(&[9u8; 32])
        .unwrap()
        .issue(&actor, now, now + chrono::Duration::hours(1))
        .unwrap();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "Authorization"),
        (Some("Basic dXNlcjpwYXNz".into()), "Bearer"),
        (Some("Bearer not-a-jwt".into()), "malformed"),
        (Some(format!("Bearer {expired}")), "expired"),
        (Some(format!("Bearer {forged}")), "signature"),
    ];
    for (header, says) in cases {
        let mut request = app.client.get(&url);
        if let Some(h) = &header {
            request = request.header("Authorization", h);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer",
            "{header:?}"
        );
        let body = problem(response, 401).await;
        assert!(
            body["detail"].as_str().unwrap().contains(says),
            "{header:?}: {body}"
        );
    }
}

async fn viewers_and_deployers_read_but_only_admins_write_environments(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    for role in [Role::Viewer, Role::Deployer] {
        let token = app.token(&[role]);
        assert_eq!(
            app.request(Method::GET, &path, &token)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            app.request(Method::GET, "/api/v1/environments", &token)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let create = app
            .request(Method::POST, "/api/v1/environments", &token)
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        let body = problem(create, 403).await;
        assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");
        let patch = app
            .request(Method::PATCH, &path, &token)
            .json(&json!({"displayName": "x"}))
            .send()
            .await
            .unwrap();
        problem(patch, 403).await;
        problem(
            app.request(Method::DELETE, &path, &token)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
    }
    let no_roles = app.token(&[]);
    problem(
        app.request(Method::GET, &path, &no_roles)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
}

async fn another_tenants_environment_is_not_found_and_not_listed(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    problem(
        app.request(Method::GET, &path, &stranger)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let patch = app
        .request(Method::PATCH, &path, &stranger)
        .json(&json!({"displayName": "mine"}))
        .send()
        .await
        .unwrap();
    problem(patch, 404).await;
    let put = app
        .request(Method::PUT, &path, &stranger)
        .json(&json!({"displayName": "mine"}))
        .send()
        .await
        .unwrap();
    problem(put, 404).await;
    problem(
        app.request(Method::DELETE, &path, &stranger)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let listed = app
        .request(Method::GET, "/api/v1/environments", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.headers()["x-total-count"], "0");
    assert_eq!(listed.json::<serde_json::Value>().await.unwrap(), json!([]));
    let same_name = app
        .request(Method::POST, "/api/v1/environments", &stranger)
        .json(&json!({"name": "dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same_name.status(), 201, "names are unique per tenant only");
    let mine: serde_json::Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(mine, env, "the other tenant changed nothing");
}
