//! Service accounts and how clients authenticate with them: HTTP Basic on the dialect, the
//! secret as a bearer token on `/api/v1`, revoked and rotated at once, and guessing slowed
//! down.

use super::{service_account, Client, ENVIRONMENTS};
use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;

on_both_backends!(
    an_admin_creates_a_service_account_whose_secret_is_shown_once,
    only_admins_manage_service_accounts_and_bad_input_is_named,
    basic_auth_works_with_a_service_account_and_the_dialect_takes_bearer_tokens_too,
    a_wrong_revoked_or_malformed_credential_is_a_401_with_a_basic_challenge,
    deleting_a_service_account_stops_its_secret_at_once,
    rotating_a_secret_stops_the_old_one_at_once,
    api_v1_takes_a_service_account_secret_as_a_bearer_token_with_its_roles,
    repeated_failures_from_one_client_lock_it_out_for_a_while,
    another_organizations_service_accounts_are_not_found,
);

async fn an_admin_creates_a_service_account_whose_secret_is_shown_once(app: TestApp) {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/service-accounts",
            json!({"name": "flexdeploy", "description": "FlexDeploy sync", "roles": ["deployer", "viewer"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    let hex = secret.strip_prefix("trn_sa_").expect("the prefix");
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    assert!(created["login"].as_str().unwrap().starts_with("sa-"));
    assert_eq!(created["roles"], json!(["deployer", "viewer"]));
    assert_eq!(created["organizationId"], app.tenant.to_string());
    let id = created["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/api/v1/service-accounts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["login"], created["login"]);
    assert!(read.get("secret").is_none(), "{read}");
    let response = app.get("/api/v1/service-accounts").await;
    assert_eq!(response.headers()["x-total-count"], "1");
    let listed: Value = response.json().await.unwrap();
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(listed[0].get("secret").is_none());
    let other = service_account(&app, "other", &[Role::Viewer]).await;
    assert_ne!(other.login, created["login"].as_str().unwrap());
}

async fn only_admins_manage_service_accounts_and_bad_input_is_named(app: TestApp) {
    let deployer = app.token(&[Role::Deployer]);
    let response = app
        .request(Method::POST, "/api/v1/service-accounts", &deployer)
        .json(&json!({"name": "x", "roles": ["viewer"]}))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let response = app
        .request(Method::GET, "/api/v1/service-accounts", &deployer)
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let bad = app
        .send_json(
            Method::POST,
            "/api/v1/service-accounts",
            json!({"name": "bad name", "roles": ["root"]}),
        )
        .await;
    assert_eq!(fields(&problem(bad, 400).await), ["name", "roles[0]"]);
    service_account(&app, "ci", &[Role::Viewer]).await;
    let taken = app
        .send_json(
            Method::POST,
            "/api/v1/service-accounts",
            json!({"name": "ci", "roles": ["viewer"]}),
        )
        .await;
    problem(taken, 409).await;
}

async fn basic_auth_works_with_a_service_account_and_the_dialect_takes_bearer_tokens_too(
    app: TestApp,
) {
    let fd = Client::admin(&app).await;
    let created = fd
        .environment(json!({
            "isActive": true, "environmentCode": "ENV1",
            "isBuildEnvironment": false, "environmentName": "Env 1"
        }))
        .await;
    let found = Client::expect(fd.get(ENVIRONMENTS).await, 200).await;
    assert_eq!(found, json!([created]));
    // The same, with a person's JWT and with the secret as a bearer token.
    for token in [app.admin(), fd.account.secret.clone()] {
        let response = app
            .request(Method::GET, ENVIRONMENTS, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), found);
    }
    // A viewer account reads but does not write.
    let viewer = Client {
        app: &app,
        account: service_account(&app, "reader", &[Role::Viewer]).await,
    };
    assert_eq!(viewer.get(ENVIRONMENTS).await.status(), 200);
    let response = viewer
        .send(
            Method::POST,
            ENVIRONMENTS,
            json!({"isActive": true, "environmentCode": "X", "isBuildEnvironment": false, "environmentName": "X"}),
        )
        .await;
    problem(response, 403).await;
}

async fn expect_basic_challenge(response: reqwest::Response) {
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"terrane\""
    );
    problem(response, 401).await;
}

async fn a_wrong_revoked_or_malformed_credential_is_a_401_with_a_basic_challenge(app: TestApp) {
    let fd = Client::admin(&app).await;
    let url = format!("{}{ENVIRONMENTS}", app.base);
    let with = |header: Option<String>| {
        let mut request = app.client.get(&url);
        if let Some(value) = header {
            request = request.header("Authorization", value);
        }
        request.send()
    };
    expect_basic_challenge(with(None).await.unwrap()).await;
    let wrong = app
        .client
        .get(&url)
        .basic_auth(&fd.account.login, Some("trn_sa_wrong"))
        .send()
        .await
        .unwrap();
    expect_basic_challenge(wrong).await;
    // The right secret under another login.
    let other_login = app
        .client
        .get(&url)
        .basic_auth("sa-nobody", Some(&fd.account.secret))
        .send()
        .await
        .unwrap();
    expect_basic_challenge(other_login).await;
    expect_basic_challenge(with(Some("Basic !!notbase64".into())).await.unwrap()).await;
    // Those were four failures; a success forgets them.
    assert_eq!(fd.get(ENVIRONMENTS).await.status(), 200);
    expect_basic_challenge(with(Some("Bearer not.a.jwt".into())).await.unwrap()).await;
    expect_basic_challenge(with(Some("Digest x".into())).await.unwrap()).await;
}

async fn deleting_a_service_account_stops_its_secret_at_once(app: TestApp) {
    let fd = Client::admin(&app).await;
    assert_eq!(fd.get(ENVIRONMENTS).await.status(), 200);
    let response = app
        .request(
            Method::DELETE,
            &format!("/api/v1/service-accounts/{}", fd.account.id),
            &app.admin(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    expect_basic_challenge(fd.get(ENVIRONMENTS).await).await;
    let bearer = app
        .request(Method::GET, "/api/v1/environments", &fd.account.secret)
        .send()
        .await
        .unwrap();
    problem(bearer, 401).await;
    problem(
        app.get(&format!("/api/v1/service-accounts/{}", fd.account.id))
            .await,
        404,
    )
    .await;
}

async fn rotating_a_secret_stops_the_old_one_at_once(app: TestApp) {
    let mut fd = Client::admin(&app).await;
    let response = app
        .request(
            Method::POST,
            &format!("/api/v1/service-accounts/{}/rotate", fd.account.id),
            &app.admin(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    assert_eq!(rotated["login"], fd.account.login.as_str());
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, fd.account.secret);
    expect_basic_challenge(fd.get(ENVIRONMENTS).await).await;
    fd.account.secret = new_secret;
    assert_eq!(fd.get(ENVIRONMENTS).await.status(), 200);
}

async fn api_v1_takes_a_service_account_secret_as_a_bearer_token_with_its_roles(app: TestApp) {
    let deployer = service_account(&app, "ci", &[Role::Deployer]).await;
    let response = app
        .request(Method::GET, "/api/v1/environments", &deployer.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .request(Method::POST, "/api/v1/environments", &deployer.secret)
        .json(&json!({"name": "dev"}))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let admin = service_account(&app, "ops", &[Role::Admin]).await;
    let response = app
        .request(Method::POST, "/api/v1/environments", &admin.secret)
        .json(&json!({"name": "dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["organizationId"], app.tenant.to_string());
    let unknown = app
        .request(Method::GET, "/api/v1/environments", "trn_sa_0000")
        .send()
        .await
        .unwrap();
    problem(unknown, 401).await;
}

async fn repeated_failures_from_one_client_lock_it_out_for_a_while(app: TestApp) {
    let fd = Client::admin(&app).await;
    let url = format!("{}{ENVIRONMENTS}", app.base);
    let guess = || {
        app.client
            .get(&url)
            .basic_auth(&fd.account.login, Some("trn_sa_guess"))
            .send()
    };
    for _ in 0..5 {
        let response = guess().await.unwrap();
        assert!(response.headers().get("retry-after").is_none());
        expect_basic_challenge(response).await;
    }
    let locking = guess().await.unwrap();
    assert!(locking.headers().get("retry-after").is_some());
    expect_basic_challenge(locking).await;
    // While locked out, even the right secret is not checked.
    let right = fd.get(ENVIRONMENTS).await;
    assert!(right.headers().get("retry-after").is_some());
    let body = problem(right, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    // After the lockout (one second for the first), the right secret works and clears it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(fd.get(ENVIRONMENTS).await.status(), 200);
    expect_basic_challenge(guess().await.unwrap()).await;
    assert_eq!(fd.get(ENVIRONMENTS).await.status(), 200);
}

async fn another_organizations_service_accounts_are_not_found(app: TestApp) {
    let account = service_account(&app, "ci", &[Role::Viewer]).await;
    let other = app.token_for(uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), &[Role::Admin]);
    for (method, path) in [
        (
            Method::GET,
            format!("/api/v1/service-accounts/{}", account.id),
        ),
        (
            Method::DELETE,
            format!("/api/v1/service-accounts/{}", account.id),
        ),
        (
            Method::POST,
            format!("/api/v1/service-accounts/{}/rotate", account.id),
        ),
    ] {
        let response = app.request(method, &path, &other).send().await.unwrap();
        problem(response, 404).await;
    }
    // Its secret still works for its own organization.
    let response = app
        .request(Method::GET, "/api/v1/environments", &account.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
