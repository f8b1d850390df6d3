//! The lifecycle driven through Genesis's paths alone, with real executables.

use super::{expect, simple, Client};
use crate::on_both_databases;
use crate::support::Db;
use reqwest::Method;
use serde_json::{json, Value};

on_both_databases!(genesis_lifecycle:
    an_environment_is_born_busy_becomes_ready_breaks_resets_and_is_destroyed_through_genesis,
    canceling_a_busy_environment_through_genesis_breaks_it,
);

async fn an_environment_is_born_busy_becomes_ready_breaks_resets_and_is_destroyed_through_genesis(
    db: Db,
) {
    let Some(genesis) = Client::start(
        db,
        &[
            (
                "provision.sh",
                "sleep 1\necho \"terrane:attribute url=https://$TERRANE_ENVIRONMENT_NAME.example\"",
            ),
            (
                "upgrade.sh",
                "[ \"$TERRANE_VAR_VERSION\" = good ] || exit 3",
            ),
            ("destroy.sh", "exit 0"),
        ],
    )
    .await
    else {
        return;
    };
    genesis
        .template(json!({
            "name": "Shop",
            "version": "1.0",
            "workflows": [
                {"name": "create", "steps": [{"phase": "provision", "name": "machines", "run": "provision.sh", "timeoutSeconds": 60}]},
                {"name": "upgrade", "variables": [{"name": "version", "required": true}],
                 "steps": [{"phase": "deploy", "name": "upgrade", "run": "upgrade.sh", "timeoutSeconds": 60}]},
                {"name": "destroy", "steps": [{"phase": "destroy", "name": "machines", "run": "destroy.sh", "timeoutSeconds": 60}]}
            ]
        }))
        .await;
    let project = genesis.project("Shop").await;
    let env = genesis
        .environment(project, json!({"envName": "shop-1", "templateName": "Shop", "templateVersion": "1.0", "timeToLive": 60}))
        .await;
    let path = format!("/rest/projects/{project}/envs/{env}");
    assert_eq!(genesis.get(&path).await["status"], "Busy");
    let ready = genesis.wait_for(&path, "Ready").await;
    assert_eq!(
        ready["attributes"],
        json!({"url": "https://shop-1.example"})
    );
    assert_eq!(ready["historyCount"], 1);
    let listed = expect(
        genesis
            .app
            .get(&format!("/api/v1/environments?number={env}"))
            .await,
        200,
    )
    .await;
    assert!(
        listed[0]["expiresAt"].is_string(),
        "timeToLive sets its expiry: {listed}"
    );

    // A workflow run without its variable is refused in Genesis's words.
    let missing = genesis
        .send(
            Method::POST,
            &format!("{path}/workflows/upgrade"),
            json!({"parameters": {"variables": {}}}),
        )
        .await;
    let refused = expect(missing, 400).await;
    assert_eq!(
        refused["variablesErrors"],
        json!({"version": "Variable 'version' is not set"})
    );

    // A failing step breaks it; reset readies it.
    let failing = genesis
        .send(
            Method::POST,
            &format!("{path}/workflows/upgrade"),
            json!({"parameters": {"variables": {"version": "bad"}}}),
        )
        .await;
    assert_eq!(expect(failing, 200).await["isSuccess"], true);
    genesis.wait_for(&path, "Broken").await;
    let reset = genesis
        .send(Method::POST, &format!("{path}/actions/reset"), Value::Null)
        .await;
    assert_eq!(expect(reset, 200).await["isSuccess"], true);
    assert_eq!(genesis.get(&path).await["status"], "Ready");

    let good = genesis
        .send(
            Method::POST,
            &format!("{path}/workflows/upgrade"),
            json!({"parameters": {"variables": {"version": "good"}}}),
        )
        .await;
    assert_eq!(expect(good, 200).await["isSuccess"], true);
    genesis.wait_for(&path, "Ready").await;
    let history = genesis.get(&format!("{path}/history")).await;
    let runs: Vec<(Value, Value)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].clone(), r["status"].clone()))
        .collect();
    assert_eq!(
        runs,
        [
            (json!("upgrade"), json!("Succeed")),
            (json!("upgrade"), json!("Failed")),
            (json!("create"), json!("Succeed")),
        ]
    );

    // Delete runs the destroy workflow.
    let deleted = genesis.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(expect(deleted, 200).await["isSuccess"], true);
    let destroyed = genesis.wait_for(&path, "Destroyed").await;
    assert_eq!(
        destroyed["links"][0]["methods"],
        json!(["get"]),
        "nothing left to delete"
    );
    let again = genesis.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(expect(again, 400).await["isSuccess"], false);
}

async fn canceling_a_busy_environment_through_genesis_breaks_it(db: Db) {
    let Some(genesis) =
        Client::start(db, &[("slow.sh", "sleep 30"), ("destroy.sh", "exit 0")]).await
    else {
        return;
    };
    genesis
        .template(simple(&["slow.sh"], &["destroy.sh"]))
        .await;
    let project = genesis.project("Slow").await;
    let env = genesis
        .environment(
            project,
            json!({"envName": "slow", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let path = format!("/rest/projects/{project}/envs/{env}");
    let busy = genesis.wait_for(&path, "Busy").await;
    assert_eq!(
        busy["links"][0]["methods"],
        json!(["get"]),
        "no delete while busy"
    );
    let canceled = genesis
        .send(Method::POST, &format!("{path}/actions/cancel"), Value::Null)
        .await;
    assert_eq!(expect(canceled, 200).await["isSuccess"], true);
    genesis.wait_for(&path, "Broken").await;
    let history = genesis.get(&format!("{path}/history")).await;
    assert_eq!(history["history"][0]["status"], "Canceled");
    assert_eq!(history["history"][0]["steps"][0]["status"], "Canceled");
}
