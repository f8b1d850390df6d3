use crate::support::{database, problem, start_server, Db};
use serde_json::{json, Value};
use std::process::Command;

fn terrane(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_terrane"));
    command.args(args).env_remove("TERRANE_JWT_SECRET");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("run terrane")
}

async fn a_minted_token_works_against_a_server_sharing_the_database(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    // No TERRANE_JWT_SECRET anywhere: the secret is generated once and kept in the database.
    let (mut server, base) = start_server(&url, &[]);
    let tenant = uuid::Uuid::now_v7().to_string();
    let subject = uuid::Uuid::now_v7().to_string();
    let out = terrane(
        &[
            "token",
            "--database-url",
            &url,
            "--tenant",
            &tenant,
            "--subject",
            &subject,
            "--role",
            "admin",
            "--expires-in",
            "1h",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/v1/environments"))
        .bearer_auth(&token)
        .json(&json!({"name": "dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["organizationId"], tenant);
    let foreign = terrane(
        &[
            "token",
            "--database-url",
            &url,
            "--tenant",
            &tenant,
            "--subject",
            &subject,
            "--role",
            "admin",
        ],
        &[(
            "TERRANE_JWT_SECRET",
            "another-secret-that-is-long-enough-0123",
        )],
    );
    let foreign = String::from_utf8(foreign.stdout).unwrap().trim().to_owned();
    let refused = client
        .get(format!("{base}/api/v1/environments"))
        .bearer_auth(&foreign)
        .send()
        .await
        .unwrap();
    problem(refused, 401).await;
    stop(&mut server);
}

fn stop(server: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    server.wait().unwrap()
}

async fn sigterm_drains_and_exits_zero(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    let (mut server, base) = start_server(&url, &[("TERRANE_JWT_SECRET", crate::support::SECRET)]);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let status = stop(&mut server);
    assert_eq!(status.code(), Some(0), "graceful exit");
}

async fn migrate_applies_migrations_and_exits(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    let out = terrane(&["migrate", "--database-url", &url], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = terrane(
        &["migrate", "--database-url", &url],
        &[("TERRANE_LOG_FORMAT", "json")],
    );
    assert!(again.status.success());
    let log = String::from_utf8(again.stderr).unwrap();
    let line: Value = serde_json::from_str(log.lines().last().unwrap()).expect("JSON log lines");
    assert!(
        line["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("migrations applied"),
        "{line}"
    );
}

crate::on_both_databases!(commands:
    a_minted_token_works_against_a_server_sharing_the_database,
    sigterm_drains_and_exits_zero,
    migrate_applies_migrations_and_exits
);

#[test]
fn a_secret_under_32_bytes_is_refused_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let out = terrane(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("TERRANE_JWT_SECRET", "short")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
}

#[test]
fn an_unknown_database_scheme_is_refused_with_a_clear_message() {
    let out = terrane(&["migrate", "--database-url", "mysql://localhost/x"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mysql://"), "{stderr}");
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = terrane_http::openapi().to_pretty_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[test]
fn the_openapi_command_prints_the_same_document() {
    let out = terrane(&["openapi"], &[]);
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let generated: Value = serde_json::to_value(terrane_http::openapi()).unwrap();
    assert_eq!(printed, generated);
}
