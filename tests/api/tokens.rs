//! Forged and malformed JWTs: every one is a 401, and the 401 names what a token must carry.

use crate::on_both_backends;
use crate::support::{problem, TestApp, SECRET};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    forged_and_malformed_tokens_get_401,
    a_token_missing_a_claim_gets_a_401_naming_every_required_claim,
);

/// HMAC-SHA256 (RFC 2104), so the test can sign whatever header it likes.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A token of `header` and `claims` signed with HMAC-SHA256 under `key` (no signature when
/// `key` is `None`).
fn token(header: Value, claims: Value, key: Option<&[u8]>) -> String {
    let signed = format!("{}.{}", encode(&header), encode(&claims));
    let signature = key.map_or(String::new(), |key| {
        URL_SAFE_NO_PAD.encode(hmac_sha256(key, signed.as_bytes()))
    });
    format!("{signed}.{signature}")
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn claims(app: &TestApp) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": app.user, "tenant": app.tenant, "roles": ["admin"], "exp": now + 3600, "iat": now})
}

fn with(app: &TestApp, name: &str, value: Value) -> Value {
    let mut claims = claims(app);
    claims[name] = value;
    claims
}

async fn status_of(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/environments", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn forged_and_malformed_tokens_get_401(app: TestApp) {
    let secret = SECRET.as_bytes();
    let good = token(hs256(), claims(&app), Some(secret));
    assert_eq!(
        status_of(&app, &good).await.status(),
        200,
        "the hand-made token itself is good"
    );
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none, unsigned",
            token(json!({"alg": "none", "typ": "JWT"}), claims(&app), None),
        ),
        (
            "alg none, signed",
            token(
                json!({"alg": "none", "typ": "JWT"}),
                claims(&app),
                Some(secret),
            ),
        ),
        (
            "alg None",
            token(json!({"alg": "None"}), claims(&app), None),
        ),
        (
            "HS256 with an empty key",
            token(hs256(), claims(&app), Some(b"")),
        ),
        (
            "HS256 with another key",
            token(
                hs256(),
                claims(&app),
                Some(b"another-secret-of-at-least-32-bytes!!"),
            ),
        ),
        (
            "RS256 header signed with the HS256 secret",
            token(
                json!({"alg": "RS256", "typ": "JWT"}),
                claims(&app),
                Some(secret),
            ),
        ),
        ("no signature", token(hs256(), claims(&app), None)),
        (
            "iat an hour ahead",
            token(hs256(), with(&app, "iat", json!(now + 3600)), Some(secret)),
        ),
        (
            "sub a number",
            token(hs256(), with(&app, "sub", json!(42)), Some(secret)),
        ),
        (
            "tenant not a UUID",
            token(hs256(), with(&app, "tenant", json!("acme")), Some(secret)),
        ),
        (
            "roles a string",
            token(hs256(), with(&app, "roles", json!("admin")), Some(secret)),
        ),
        (
            "roles of unknown names",
            token(hs256(), with(&app, "roles", json!(["root"])), Some(secret)),
        ),
        (
            "exp a string",
            token(
                hs256(),
                with(&app, "exp", json!((now + 3600).to_string())),
                Some(secret),
            ),
        ),
        (
            "iat a string",
            token(
                hs256(),
                with(&app, "iat", json!(now.to_string())),
                Some(secret),
            ),
        ),
        (
            "claims an array",
            token(hs256(), json!([1, 2, 3]), Some(secret)),
        ),
    ];
    for (what, token) in cases {
        let response = status_of(&app, &token).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        let body = problem(response, 401).await;
        if what.starts_with("iat an hour") {
            assert!(
                body["detail"].as_str().unwrap().contains("iat"),
                "{what}: {body}"
            );
        }
    }
}

async fn a_token_missing_a_claim_gets_a_401_naming_every_required_claim(app: TestApp) {
    for missing in ["sub", "tenant", "roles", "exp", "iat"] {
        let mut claims = claims(&app);
        claims.as_object_mut().unwrap().remove(missing);
        let token = token(hs256(), claims, Some(SECRET.as_bytes()));
        let body = problem(status_of(&app, &token).await, 401).await;
        let detail = body["detail"].as_str().unwrap();
        for claim in ["sub", "tenant", "roles", "exp", "iat"] {
            assert!(
                detail.contains(claim),
                "without {missing}, the detail does not name {claim}: {detail}"
            );
        }
    }
}
