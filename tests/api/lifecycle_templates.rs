//! Templates: steps name executables of the workflow directory, a used template is
//! immutable, and an environment's variables are checked before anything is stored.

use crate::lifecycle::{
    app_with, born, create_template, env_path, get, json_of, post, template, wait_for,
};
use crate::support::{fields, problem, Db, TestApp};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use terrane_domain::Role;

crate::on_both_databases!(templates:
    templates_name_executables_of_the_workflow_directory_and_are_immutable_once_used,
    every_bad_variable_is_named_in_one_answer_and_status_is_not_writable,
    without_a_workflow_directory_templates_with_steps_are_refused,
);

async fn templates_name_executables_of_the_workflow_directory_and_are_immutable_once_used(db: Db) {
    let Some((app, _dir)) = app_with(db, &[("up.sh", "exit 0")]).await else {
        return;
    };
    for (run, why) in [
        ("/bin/sh", "a path"),
        ("../up.sh", "a way out"),
        ("missing.sh", "nothing there"),
    ] {
        let mut body = template("t", &["up.sh"], &[]);
        body["workflows"][0]["steps"][0]["run"] = json!(run);
        let refused = problem(post(&app, "/api/v1/templates", body).await, 400).await;
        assert_eq!(fields(&refused), ["workflows[0].steps[0].run"], "{why}");
    }
    let mut no_destroy = template("t", &["up.sh"], &[]);
    no_destroy["destroyWorkflow"] = json!("teardown");
    assert_eq!(
        fields(&problem(post(&app, "/api/v1/templates", no_destroy).await, 400).await),
        ["destroyWorkflow"]
    );
    let stored = create_template(&app, template("t", &["up.sh"], &[])).await;
    problem(
        post(&app, "/api/v1/templates", template("t", &["up.sh"], &[])).await,
        409,
    )
    .await;
    let deployer = app.token(&[Role::Deployer]);
    let forbidden = app
        .request(Method::POST, "/api/v1/templates", &deployer)
        .json(&template("u", &["up.sh"], &[]))
        .send()
        .await
        .unwrap();
    problem(forbidden, 403).await;
    let list = get(&app, "/api/v1/templates").await;
    assert_eq!(
        (list["total"].clone(), list["data"][0]["name"].clone()),
        (json!(1), json!("t"))
    );
    let path = format!("/api/v1/templates/{}", stored["id"].as_str().unwrap());
    let mut changed = template("t", &["up.sh"], &[]);
    changed["description"] = json!("still unused");
    let replaced = json_of(
        app.send_json(Method::PUT, &path, changed.clone()).await,
        200,
    )
    .await;
    assert_eq!(replaced["revision"], 2);
    born(&app, "user-1", "t", json!({})).await;
    let immutable = problem(app.send_json(Method::PUT, &path, changed).await, 409).await;
    assert!(
        immutable["detail"]
            .as_str()
            .unwrap()
            .contains("new version"),
        "{immutable}"
    );
    problem(app.send_json(Method::DELETE, &path, json!({})).await, 409).await;
    let unused = create_template(&app, json!({"name": "spare", "version": "1", "workflows": [{"name": "create"}, {"name": "destroy"}]})).await;
    json_of(
        app.send_json(
            Method::DELETE,
            &format!("/api/v1/templates/{}", unused["id"].as_str().unwrap()),
            json!({}),
        )
        .await,
        200,
    )
    .await;
}

async fn every_bad_variable_is_named_in_one_answer_and_status_is_not_writable(db: Db) {
    let Some((app, _dir)) = app_with(db, &[("up.sh", "exit 0")]).await else {
        return;
    };
    create_template(&app, template("vars", &["up.sh"], &[])).await;
    let refused = problem(post(&app, "/api/v1/environments", json!({
        "name": "v1", "template": {"name": "vars", "version": "1.0"}, "variables": {"size": "xl", "colour": "red"}
    })).await, 400).await;
    let mut named = fields(&refused);
    named.sort();
    assert_eq!(named, ["variables.colour", "variables.region"]);
    let refused = problem(post(&app, "/api/v1/environments", json!({
        "name": "Bad Name", "template": {"name": "vars", "version": "1.0"}, "variables": {"region": "Europe"}
    })).await, 400).await;
    let mut named = fields(&refused);
    named.sort();
    assert_eq!(named, ["name", "variables.region"]);
    let unknown = problem(
        post(
            &app,
            "/api/v1/environments",
            json!({"name": "v2", "template": {"name": "vars", "version": "9"}}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&unknown), ["template"]);
    assert_eq!(
        get(&app, "/api/v1/environments").await,
        json!([]),
        "nothing was stored"
    );
    let env = app.create_env(json!({"name": "plain"})).await;
    for method in [Method::PUT, Method::PATCH] {
        let refused = problem(
            app.send_json(method, &env_path(&env), json!({"status": "broken"}))
                .await,
            400,
        )
        .await;
        assert_eq!(fields(&refused), ["status"]);
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("/actions"),
            "{refused}"
        );
    }
}

async fn without_a_workflow_directory_templates_with_steps_are_refused(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let refused = problem(
        post(&app, "/api/v1/templates", template("t", &["up.sh"], &[])).await,
        400,
    )
    .await;
    assert_eq!(fields(&refused), ["workflows"]);
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("TERRANE_WORKFLOW_DIR"),
        "{refused}"
    );
    let empty = json!({"name": "bare", "version": "1.0", "workflows": [{"name": "create"}, {"name": "destroy"}]});
    create_template(&app, empty).await;
    let env = born(&app, "bare-1", "bare", json!({"variables": {}})).await;
    wait_for(&app, &env, "ready", Duration::from_secs(30)).await;
}
