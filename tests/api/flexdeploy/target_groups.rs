//! The Target Group API v2: how a FlexDeploy script finds (and makes) the target group
//! numbers it sends environments.

use super::{target_id, Client, ENVIRONMENTS, TARGET_GROUPS};
use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    a_created_group_reads_back_with_flexdeploys_empty_fields,
    a_groups_targets_are_its_assignments,
    search_combines_code_equals_and_name_contains_ignoring_case,
    put_needs_every_field_and_patch_leaves_nulls_as_they_are,
    codes_keep_their_case_and_are_unique_ignoring_it,
);

async fn a_created_group_reads_back_with_flexdeploys_empty_fields(app: TestApp) {
    let fd = Client::admin(&app).await;
    let response = fd
        .send(
            Method::POST,
            TARGET_GROUPS,
            json!({
                "description": "The web tier",
                "targetGroupCode": "WEB",
                "targetGroupName": "Web tier",
                "isActive": true,
                "groupCode": "ignored",
                "workflowPropertySets": [{"ignored": true}],
                "isDeploymentTarget": true
            }),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = Client::expect(response, 201).await;
    let id = created["targetGroupId"].as_i64().unwrap();
    assert_eq!(location, format!("{TARGET_GROUPS}/{id}"));
    let expected = json!({
        "description": "The web tier",
        "targets": [],
        "workflowPropertySets": [],
        "targetGroupId": id,
        "targetGroupName": "Web tier",
        "isActive": true,
        "pluginOperationPropertySets": [],
        "targetGroupCode": "WEB",
        "groupCode": null,
        "subGroupCode": null,
        "isDeploymentTarget": false
    });
    assert_eq!(created, expected);
    let read = Client::expect(fd.get(&format!("{TARGET_GROUPS}/{id}")).await, 200).await;
    assert_eq!(read, expected);
    problem(
        fd.get(&format!("{TARGET_GROUPS}/{}", id + 1_000_000)).await,
        404,
    )
    .await;
    let defaults = fd
        .send(
            Method::POST,
            TARGET_GROUPS,
            json!({"targetGroupCode": "API"}),
        )
        .await;
    let defaults = Client::expect(defaults, 201).await;
    assert_eq!(
        (&defaults["targetGroupName"], &defaults["isActive"]),
        (&json!("API"), &json!(true))
    );
}

async fn a_groups_targets_are_its_assignments(app: TestApp) {
    let fd = Client::admin(&app).await;
    let group = fd.target_group("WEB").await;
    let mut envs = Vec::new();
    for code in ["DEV", "PROD"] {
        envs.push(
            fd.environment(json!({
                "targets": [{"targetGroupId": group}],
                "isActive": true,
                "environmentCode": code,
                "isBuildEnvironment": false,
                "environmentName": code
            }))
            .await,
        );
    }
    let read = Client::expect(fd.get(&format!("{TARGET_GROUPS}/{group}")).await, 200).await;
    let expected: Vec<Value> = envs
        .iter()
        .map(|env| {
            json!({
                "targetId": target_id(env, group),
                "targetGroupId": group,
                "environmentId": env["environmentId"],
                "isActive": true
            })
        })
        .collect();
    assert_eq!(read["targets"], json!(expected));
    // The environment answers the same target.
    let dev = Client::expect(
        fd.get(&format!("{ENVIRONMENTS}/{}", envs[0]["environmentId"]))
            .await,
        200,
    )
    .await;
    assert_eq!(dev["targets"][0], expected[0]);
}

async fn search_combines_code_equals_and_name_contains_ignoring_case(app: TestApp) {
    let fd = Client::admin(&app).await;
    for (code, name) in [("WEB", "Web tier"), ("API", "Api tier"), ("DB", "Database")] {
        fd.send(
            Method::POST,
            TARGET_GROUPS,
            json!({"targetGroupCode": code, "targetGroupName": name, "isActive": true}),
        )
        .await;
    }
    let codes = |found: Value| -> Vec<String> {
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["targetGroupCode"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |query: String| {
        let fd = &fd;
        async move {
            let url = format!("{TARGET_GROUPS}?{query}");
            codes(Client::expect(fd.get(&url).await, 200).await)
        }
    };
    assert_eq!(search("targetGroupName=TIER".into()).await, ["API", "WEB"]);
    assert_eq!(
        search("targetGroupName=tier&targetGroupCode=web".into()).await,
        ["WEB"]
    );
    let all = Client::expect(fd.get(TARGET_GROUPS).await, 200).await;
    assert_eq!(codes(all), ["API", "DB", "WEB"]);
    let web = Client::expect(
        fd.get(&format!("{TARGET_GROUPS}?targetGroupCode=WEB"))
            .await,
        200,
    )
    .await;
    let number = web[0]["targetGroupId"].as_i64().unwrap();
    assert_eq!(search(format!("targetGroupId={number}")).await, ["WEB"]);
    assert!(
        search("groupCode=X".into()).await.is_empty(),
        "no group has one"
    );
    let bad = fd.get(&format!("{TARGET_GROUPS}/?targetGroupId=x")).await;
    assert_eq!(fields(&problem(bad, 400).await), ["targetGroupId"]);
}

async fn put_needs_every_field_and_patch_leaves_nulls_as_they_are(app: TestApp) {
    let fd = Client::admin(&app).await;
    let created = Client::expect(
        fd.send(
            Method::POST,
            TARGET_GROUPS,
            json!({"targetGroupCode": "WEB", "targetGroupName": "Web", "description": "d", "isActive": true}),
        )
        .await,
        201,
    )
    .await;
    let path = format!("{TARGET_GROUPS}/{}", created["targetGroupId"]);
    let missing = fd
        .send(Method::PUT, &path, json!({"targetGroupCode": "WEB2"}))
        .await;
    assert_eq!(
        fields(&problem(missing, 400).await),
        ["targetGroupName", "isActive"]
    );
    assert_eq!(Client::expect(fd.get(&path).await, 200).await, created);
    let put = fd
        .send(
            Method::PUT,
            &path,
            json!({"targetGroupCode": "WEB2", "targetGroupName": "Web 2", "isActive": false}),
        )
        .await;
    let put = Client::expect(put, 200).await;
    assert_eq!(
        (
            &put["targetGroupCode"],
            &put["targetGroupName"],
            &put["isActive"],
            &put["description"]
        ),
        (&json!("WEB2"), &json!("Web 2"), &json!(false), &Value::Null)
    );
    let patched = fd
        .send(
            Method::PATCH,
            &path,
            json!({"targetGroupCode": null, "targetGroupName": null, "isActive": true, "description": "back"}),
        )
        .await;
    let patched = Client::expect(patched, 200).await;
    assert_eq!(
        (
            &patched["targetGroupCode"],
            &patched["targetGroupName"],
            &patched["isActive"],
            &patched["description"]
        ),
        (
            &json!("WEB2"),
            &json!("Web 2"),
            &json!(true),
            &json!("back")
        )
    );
    let unknown = fd
        .send(
            Method::PATCH,
            &format!(
                "{TARGET_GROUPS}/{}",
                created["targetGroupId"].as_i64().unwrap() + 1_000_000
            ),
            json!({"isActive": true}),
        )
        .await;
    problem(unknown, 404).await;
}

async fn codes_keep_their_case_and_are_unique_ignoring_it(app: TestApp) {
    let fd = Client::admin(&app).await;
    fd.target_group("Web").await;
    let taken = fd
        .send(
            Method::POST,
            TARGET_GROUPS,
            json!({"targetGroupCode": "WEB"}),
        )
        .await;
    let body = problem(taken, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("WEB"), "{body}");
    let bad = fd
        .send(
            Method::POST,
            TARGET_GROUPS,
            json!({"targetGroupCode": "no spaces"}),
        )
        .await;
    assert_eq!(fields(&problem(bad, 400).await), ["targetGroupCode"]);
}
