use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    the_seed_example_creates_a_whole_target_with_location_and_etag,
    every_bad_connection_field_is_named_in_one_400_for_each_type,
    missing_fields_bad_labels_and_unknown_fields_are_named,
    a_name_taken_in_the_environment_is_a_conflict,
    the_environment_must_be_the_organizations_and_the_group_assigned_to_it,
    the_list_is_a_bare_array_with_a_total_and_every_filter_combines,
    the_label_filter_is_a_url_encoded_json_object_of_strings,
    bad_list_parameters_are_named_each,
    get_answers_the_target_with_its_etag_and_304_when_unchanged,
    put_replaces_fields_present_and_null_clears_the_group_and_directory,
    patch_leaves_absent_and_null_fields_and_checks_a_new_type_against_the_connection,
    a_stale_if_match_on_a_target_is_refused_with_412,
    delete_answers_deleted_and_the_target_is_gone,
    viewers_read_targets_but_only_admins_write,
    another_organizations_targets_are_not_found_and_not_listed,
    a_retried_target_create_with_the_same_idempotency_key_gets_the_first_answer,
);

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn target_path(target: &Value) -> String {
    format!("/api/v1/targets/{}", id(target))
}

async fn group_in(app: &TestApp, env: &Value, name: &str) -> Value {
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/environments/{}/target-groups", id(env)),
            json!({"name": name}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A valid docker_host body for `name` in `env`, with `extra` fields merged in.
fn body(env: &Value, name: &str, extra: Value) -> Value {
    let mut body = json!({
        "environmentId": id(env),
        "name": name,
        "targetType": "docker_host",
        "connection": {"host": "10.0.0.1", "port": 2375}
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

async fn post(app: &TestApp, body: Value) -> Response {
    app.send_json(Method::POST, "/api/v1/targets", body).await
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = post(app, body).await;
    assert_eq!(response.status(), 201, "creating a target");
    response.json().await.unwrap()
}

/// The targets a list query answers, by name, with the total.
async fn list(app: &TestApp, query: &[(&str, &str)]) -> (Vec<String>, String) {
    let response = app
        .request(Method::GET, "/api/v1/targets", &app.admin())
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query:?}");
    let total = response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let names = body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    (names, total)
}

async fn names(app: &TestApp, query: &[(&str, &str)]) -> Vec<String> {
    list(app, query).await.0
}

async fn the_seed_example_creates_a_whole_target_with_location_and_etag(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let group = group_in(&app, &env, "web").await;
    let response = post(
        &app,
        json!({
            "environmentId": id(&env),
            "targetGroupId": id(&group),
            "name": "prod-web-01",
            "targetType": "docker_host",
            "connection": {"host": "192.168.1.100", "port": 2375, "tlsEnabled": true},
            "labels": {"role": "web", "datacenter": "us-east-1"},
            "deploymentDirectory": "/opt/deployments"
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let target: Value = response.json().await.unwrap();
    assert_eq!(location, target_path(&target));
    let created_at = target["createdAt"].as_str().unwrap();
    assert!(created_at.ends_with('Z'), "{created_at}");
    assert_eq!(
        target,
        json!({
            "id": id(&target),
            "organizationId": app.tenant.to_string(),
            "environmentId": id(&env),
            "targetGroupId": id(&group),
            "name": "prod-web-01",
            "targetType": "docker_host",
            "connection": {"host": "192.168.1.100", "port": 2375, "tlsEnabled": true},
            "labels": {"datacenter": "us-east-1", "role": "web"},
            "deploymentDirectory": "/opt/deployments",
            "healthStatus": "unknown",
            "healthMessage": null,
            "lastHealthCheckAt": null,
            "version": 1,
            "createdAt": created_at,
            "updatedAt": created_at
        })
    );
    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(
        fetched, target,
        "a read answers exactly what the create answered"
    );
    let minimal = create(&app, body(&env, "prod-web-02", json!({}))).await;
    assert_eq!(
        minimal["connection"]["tlsEnabled"], false,
        "the default is filled in"
    );
    assert_eq!(minimal["labels"], json!({}));
    assert_eq!(minimal["targetGroupId"], Value::Null);
}

async fn every_bad_connection_field_is_named_in_one_400_for_each_type(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let cases = [
        (
            "docker_host",
            json!({"host": "not a host!", "port": 70000, "tlsEnabled": "yes", "socket": "/var/run/docker.sock"}),
            vec![
                "connection.host",
                "connection.port",
                "connection.tlsEnabled",
                "connection.socket",
            ],
        ),
        (
            "docker_host",
            json!({}),
            vec!["connection.host", "connection.port"],
        ),
        (
            "compose_host",
            json!({"host": "docker-1", "port": 0, "projectName": "My App"}),
            vec!["connection.port", "connection.projectName"],
        ),
        (
            "compose_host",
            json!({"host": "docker-1", "port": 2375}),
            vec!["connection.projectName"],
        ),
        (
            "ecs_service",
            json!({"cluster": "", "region": "Mars"}),
            vec![
                "connection.cluster",
                "connection.service",
                "connection.region",
            ],
        ),
        (
            "nomad_job",
            json!({"address": "nomad:4646", "namespace": "bad namespace", "host": "x"}),
            vec![
                "connection.address",
                "connection.jobId",
                "connection.namespace",
                "connection.host",
            ],
        ),
    ];
    for (target_type, connection, expected) in cases {
        let response = post(
            &app,
            body(
                &env,
                "t",
                json!({"targetType": target_type, "connection": connection}),
            ),
        )
        .await;
        let mut named = fields(&problem(response, 400).await);
        let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
        named.sort();
        expected.sort();
        assert_eq!(named, expected, "{target_type} {connection}");
    }
    for (target_type, connection) in [
        (
            "compose_host",
            json!({"host": "docker-1", "port": 2375, "projectName": "shop"}),
        ),
        (
            "ecs_service",
            json!({"cluster": "prod", "service": "api", "region": "us-east-1"}),
        ),
        (
            "nomad_job",
            json!({"address": "https://nomad.example.com:4646", "jobId": "api"}),
        ),
    ] {
        let created = create(
            &app,
            body(
                &env,
                target_type,
                json!({"targetType": target_type, "connection": connection}),
            ),
        )
        .await;
        assert_eq!(created["targetType"], target_type);
    }
    assert_eq!(
        list(&app, &[]).await.1,
        "3",
        "only the valid ones were stored"
    );
}

async fn missing_fields_bad_labels_and_unknown_fields_are_named(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let response = post(&app, json!({"labels": {"role": "web"}})).await;
    assert_eq!(
        fields(&problem(response, 400).await),
        ["environmentId", "name", "targetType", "connection"]
    );
    let response = post(
        &app,
        body(
            &env,
            "-bad",
            json!({
                "targetType": "kubernetes_pod",
                "labels": {"Role": "web", "zone": "x".repeat(256)},
                "deploymentDirectory": "relative/path"
            }),
        ),
    )
    .await;
    let mut named = fields(&problem(response, 400).await);
    named.sort();
    assert_eq!(
        named,
        [
            "deploymentDirectory",
            "labels.Role",
            "labels.zone",
            "name",
            "targetType"
        ]
    );
    let not_a_string = post(&app, body(&env, "t", json!({"labels": {"tier": 1}}))).await;
    assert_eq!(fields(&problem(not_a_string, 400).await), ["labels.tier"]);
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let too_many = post(&app, body(&env, "t", json!({"labels": many}))).await;
    assert_eq!(fields(&problem(too_many, 400).await), ["labels"]);
    let unknown = post(&app, body(&env, "t", json!({"colour": "red"}))).await;
    let problem_body = problem(unknown, 400).await;
    assert!(
        problem_body["detail"].as_str().unwrap().contains("colour"),
        "{problem_body}"
    );
    let not_an_object = post(&app, body(&env, "t", json!({"connection": "tcp://x"}))).await;
    assert_eq!(fields(&problem(not_an_object, 400).await), ["connection"]);
    assert_eq!(list(&app, &[]).await.1, "0");
}

async fn a_name_taken_in_the_environment_is_a_conflict(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    create(&app, body(&dev, "web-01", json!({}))).await;
    let clash = post(&app, body(&dev, "web-01", json!({}))).await;
    let problem_body = problem(clash, 409).await;
    assert!(
        problem_body["detail"]
            .as_str()
            .unwrap()
            .contains("`web-01`"),
        "{problem_body}"
    );
    create(&app, body(&prod, "web-01", json!({}))).await;
}

async fn the_environment_must_be_the_organizations_and_the_group_assigned_to_it(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    let web = group_in(&app, &dev, "web").await;
    let unknown = post(
        &app,
        json!({
            "environmentId": Uuid::now_v7(),
            "name": "t",
            "targetType": "docker_host",
            "connection": {"host": "h", "port": 1}
        }),
    )
    .await;
    assert_eq!(fields(&problem(unknown, 400).await), ["environmentId"]);
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let theirs: Value = app
        .request(Method::POST, "/api/v1/environments", &stranger)
        .json(&json!({"name": "theirs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign = post(&app, body(&theirs, "t", json!({}))).await;
    assert_eq!(fields(&problem(foreign, 400).await), ["environmentId"]);
    let unassigned = post(&app, body(&prod, "t", json!({"targetGroupId": id(&web)}))).await;
    let problem_body = problem(unassigned, 400).await;
    assert_eq!(fields(&problem_body), ["targetGroupId"]);
    assert!(
        problem_body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("assigned"),
        "{problem_body}"
    );
    let unknown_group = post(
        &app,
        body(&dev, "t", json!({"targetGroupId": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(
        fields(&problem(unknown_group, 400).await),
        ["targetGroupId"]
    );
    create(&app, body(&dev, "t", json!({"targetGroupId": id(&web)}))).await;
}

async fn the_list_is_a_bare_array_with_a_total_and_every_filter_combines(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    let web = group_in(&app, &prod, "web").await;
    create(&app, body(&dev, "a", json!({"labels": {"role": "web"}}))).await;
    create(
        &app,
        body(
            &prod,
            "b",
            json!({"targetGroupId": id(&web), "labels": {"role": "web", "dc": "eu"}}),
        ),
    )
    .await;
    create(
        &app,
        body(
            &prod,
            "c",
            json!({"targetGroupId": id(&web), "labels": {"role": "db", "dc": "eu"}}),
        ),
    )
    .await;
    create(
        &app,
        body(
            &prod,
            "d",
            json!({
                "targetType": "nomad_job",
                "connection": {"address": "http://nomad:4646", "jobId": "d"},
                "labels": {"role": "web"}
            }),
        ),
    )
    .await;
    let response = app.get("/api/v1/targets").await;
    assert_eq!(response.headers()["x-total-count"], "4");
    let all: Value = response.json().await.unwrap();
    assert!(all.is_array(), "a bare array");
    let prod_id = id(&prod);
    let web_id = id(&web);
    assert_eq!(
        names(&app, &[("environmentId", &prod_id)]).await,
        ["b", "c", "d"]
    );
    assert_eq!(names(&app, &[("targetGroupId", &web_id)]).await, ["b", "c"]);
    assert_eq!(names(&app, &[("targetType", "nomad_job")]).await, ["d"]);
    assert_eq!(
        names(&app, &[("healthStatus", "unknown")]).await,
        ["a", "b", "c", "d"]
    );
    assert!(names(&app, &[("healthStatus", "healthy")]).await.is_empty());
    assert_eq!(
        list(
            &app,
            &[
                ("environmentId", &prod_id),
                ("targetType", "docker_host"),
                ("labels", r#"{"role":"web"}"#)
            ]
        )
        .await,
        (vec!["b".to_owned()], "1".to_owned())
    );
    assert_eq!(
        list(
            &app,
            &[
                ("labels", r#"{"role":"web"}"#),
                ("skip", "1"),
                ("take", "1")
            ]
        )
        .await,
        (vec!["b".to_owned()], "3".to_owned())
    );
}

async fn the_label_filter_is_a_url_encoded_json_object_of_strings(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    create(
        &app,
        body(&env, "a", json!({"labels": {"role": "web", "dc": "eu"}})),
    )
    .await;
    create(
        &app,
        body(&env, "b", json!({"labels": {"role": "web", "dc": "us"}})),
    )
    .await;
    create(
        &app,
        body(&env, "c", json!({"labels": {"role": "db", "dc": "eu"}})),
    )
    .await;
    assert_eq!(
        names(&app, &[("labels", r#"{"dc":"eu"}"#)]).await,
        ["a", "c"]
    );
    assert_eq!(
        names(&app, &[("labels", r#"{"role":"web","dc":"eu"}"#)]).await,
        ["a"]
    );
    assert!(names(&app, &[("labels", r#"{"role":"web","zone":"x"}"#)])
        .await
        .is_empty());
    assert_eq!(names(&app, &[("labels", "{}")]).await, ["a", "b", "c"]);
    for bad in [
        "role=web",
        r#"{"role":1}"#,
        r#"{"role":null}"#,
        r#"["role"]"#,
        "{",
    ] {
        let response = app
            .request(Method::GET, "/api/v1/targets", &app.admin())
            .query(&[("labels", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(fields(&problem(response, 400).await), ["labels"], "{bad}");
    }
}

async fn bad_list_parameters_are_named_each(app: TestApp) {
    let response = app
        .get("/api/v1/targets?environmentId=prod&targetGroupId=1&targetType=vm&healthStatus=fine&take=101&skip=-1&colour=red")
        .await;
    let mut named = fields(&problem(response, 400).await);
    named.sort();
    assert_eq!(
        named,
        [
            "colour",
            "environmentId",
            "healthStatus",
            "skip",
            "take",
            "targetGroupId",
            "targetType"
        ]
    );
}

async fn get_answers_the_target_with_its_etag_and_304_when_unchanged(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let target = create(&app, body(&env, "web-01", json!({}))).await;
    let path = target_path(&target);
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let cached = app
        .request(Method::GET, &path, &app.admin())
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    problem(
        app.get(&format!("/api/v1/targets/{}", Uuid::now_v7()))
            .await,
        404,
    )
    .await;
    let bad = app.get("/api/v1/targets/not-a-uuid").await;
    assert_eq!(fields(&problem(bad, 400).await), ["id"]);
}

async fn put_replaces_fields_present_and_null_clears_the_group_and_directory(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let web = group_in(&app, &env, "web").await;
    let target = create(
        &app,
        body(
            &env,
            "web-01",
            json!({
                "targetGroupId": id(&web),
                "connection": {"host": "10.0.0.1", "port": 2375, "tlsEnabled": true},
                "labels": {"role": "web", "dc": "eu"},
                "deploymentDirectory": "/opt/deployments"
            }),
        ),
    )
    .await;
    let path = target_path(&target);
    let response = app
        .send_json(
            Method::PUT,
            &path,
            json!({
                "connection": {"host": "10.0.0.2", "port": 2376},
                "labels": {"role": "api"},
                "targetGroupId": null,
                "deploymentDirectory": null
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let updated: Value = response.json().await.unwrap();
    assert_eq!(
        updated["connection"],
        json!({"host": "10.0.0.2", "port": 2376, "tlsEnabled": false}),
        "the connection is replaced whole"
    );
    assert_eq!(updated["labels"], json!({"role": "api"}), "labels too");
    assert_eq!(updated["targetGroupId"], Value::Null);
    assert_eq!(updated["deploymentDirectory"], Value::Null);
    assert_eq!(updated["name"], "web-01");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["createdAt"], target["createdAt"]);
    for field in [
        "name",
        "targetType",
        "connection",
        "labels",
        "environmentId",
    ] {
        let refused = app
            .send_json(Method::PUT, &path, json!({ field: null }))
            .await;
        assert_eq!(fields(&problem(refused, 400).await), [field]);
    }
    let bad = app
        .send_json(
            Method::PUT,
            &path,
            json!({"connection": {"host": "10.0.0.2"}, "name": "no spaces allowed"}),
        )
        .await;
    let mut named = fields(&problem(bad, 400).await);
    named.sort();
    assert_eq!(named, ["connection.port", "name"]);
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now, updated, "refused updates change nothing");
}

async fn patch_leaves_absent_and_null_fields_and_checks_a_new_type_against_the_connection(
    app: TestApp,
) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    let web = group_in(&app, &dev, "web").await;
    let target = create(
        &app,
        body(
            &dev,
            "web-01",
            json!({"targetGroupId": id(&web), "labels": {"role": "web"}, "deploymentDirectory": "/srv"}),
        ),
    )
    .await;
    let path = target_path(&target);
    let patched: Value = app
        .send_json(
            Method::PATCH,
            &path,
            json!({"name": "web-02", "targetGroupId": null, "labels": null, "deploymentDirectory": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["name"], "web-02");
    assert_eq!(patched["targetGroupId"], id(&web));
    assert_eq!(patched["labels"], json!({"role": "web"}));
    assert_eq!(patched["deploymentDirectory"], "/srv");

    let only_type = app
        .send_json(Method::PATCH, &path, json!({"targetType": "compose_host"}))
        .await;
    assert_eq!(
        fields(&problem(only_type, 400).await),
        ["connection.projectName"],
        "the current connection is checked against the new type"
    );
    let retyped: Value = app
        .send_json(
            Method::PATCH,
            &path,
            json!({"targetType": "ecs_service", "connection": {"cluster": "c", "service": "s", "region": "eu-west-1"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retyped["targetType"], "ecs_service");
    assert_eq!(
        retyped["connection"],
        json!({"cluster": "c", "service": "s", "region": "eu-west-1"})
    );
    assert_eq!(
        names(&app, &[("targetType", "ecs_service")]).await,
        ["web-02"]
    );

    let moved = app
        .send_json(Method::PATCH, &path, json!({"environmentId": id(&prod)}))
        .await;
    assert_eq!(
        fields(&problem(moved, 400).await),
        ["targetGroupId"],
        "its group is not assigned to prod"
    );
    let moved: Value = app
        .send_json(
            Method::PUT,
            &path,
            json!({"environmentId": id(&prod), "targetGroupId": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["environmentId"], id(&prod));
    let empty = app.send_json(Method::PATCH, &path, json!({})).await;
    assert_eq!(empty.status(), 200);
    assert_eq!(
        empty.json::<Value>().await.unwrap()["version"],
        moved["version"],
        "an empty PATCH changes nothing"
    );
}

async fn a_stale_if_match_on_a_target_is_refused_with_412(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let target = create(&app, body(&env, "web-01", json!({}))).await;
    let path = target_path(&target);
    let ok = app
        .request(Method::PATCH, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .json(&json!({"labels": {"a": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for method in [Method::PATCH, Method::PUT] {
        let stale = app
            .request(method, &path, &app.admin())
            .header("If-Match", "\"1\"")
            .json(&json!({"labels": {"a": "2"}}))
            .send()
            .await
            .unwrap();
        let body = problem(stale, 412).await;
        assert!(body["detail"].as_str().unwrap().contains("\"2\""), "{body}");
    }
    let stale_delete = app
        .request(Method::DELETE, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(stale_delete, 412).await;
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["labels"], json!({"a": "1"}));
}

async fn delete_answers_deleted_and_the_target_is_gone(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let target = create(&app, body(&env, "web-01", json!({}))).await;
    let path = target_path(&target);
    let response = app
        .request(Method::DELETE, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": true})
    );
    problem(app.get(&path).await, 404).await;
    problem(
        app.request(Method::DELETE, &path, &app.admin())
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(list(&app, &[]).await.1, "0");
}

async fn viewers_read_targets_but_only_admins_write(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let target = create(&app, body(&env, "web-01", json!({}))).await;
    let path = target_path(&target);
    for role in [Role::Viewer, Role::Deployer] {
        let token = app.token(&[role]);
        for read in ["/api/v1/targets".to_owned(), path.clone()] {
            let response = app
                .request(Method::GET, &read, &token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{role} reads {read}");
        }
        let create = app
            .request(Method::POST, "/api/v1/targets", &token)
            .json(&body(&env, "web-02", json!({})))
            .send()
            .await
            .unwrap();
        problem(create, 403).await;
        for method in [Method::PUT, Method::PATCH] {
            let update = app
                .request(method, &path, &token)
                .json(&json!({"name": "mine"}))
                .send()
                .await
                .unwrap();
            problem(update, 403).await;
        }
        let delete = app
            .request(Method::DELETE, &path, &token)
            .send()
            .await
            .unwrap();
        problem(delete, 403).await;
    }
    let anonymous = app
        .client
        .get(format!("{}/api/v1/targets", app.base))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now, target);
}

async fn another_organizations_targets_are_not_found_and_not_listed(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let target = create(&app, body(&env, "web-01", json!({}))).await;
    let path = target_path(&target);
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = app
            .request(method, &path, &stranger)
            .json(&json!({"name": "mine"}))
            .send()
            .await
            .unwrap();
        problem(response, 404).await;
    }
    let theirs = app
        .request(Method::GET, "/api/v1/targets", &stranger)
        .query(&[("environmentId", id(&env))])
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.headers()["x-total-count"], "0");
    assert_eq!(theirs.json::<Value>().await.unwrap(), json!([]));
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now, target);
}

async fn a_retried_target_create_with_the_same_idempotency_key_gets_the_first_answer(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let send = |name: &str| {
        app.request(Method::POST, "/api/v1/targets", &app.admin())
            .header("Idempotency-Key", "target-1")
            .json(&body(&env, name, json!({})))
            .send()
    };
    let first = send("web-01").await.unwrap();
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();
    let again = send("web-01").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    let other_body = send("web-02").await.unwrap();
    problem(other_body, 422).await;
    assert_eq!(list(&app, &[]).await.1, "1");
}
