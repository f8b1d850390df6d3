use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    creating_a_group_in_an_environment_assigns_it_and_answers_201_with_location_and_etag,
    the_groups_of_an_environment_and_of_the_organization_are_bare_arrays_with_a_total,
    a_taken_group_name_is_a_conflict,
    group_fields_are_validated_naming_each,
    a_group_reads_with_its_etag_and_put_replaces_fields_present,
    a_stale_if_match_on_a_group_is_refused_with_412,
    deleting_a_group_removes_its_assignments,
    deleting_a_group_with_targets_is_a_conflict_naming_them,
    viewers_read_groups_but_only_admins_write,
    another_organizations_groups_and_environments_are_not_found,
    environments_assign_groups_on_create_put_replaces_them_and_patch_adds,
    an_unknown_or_foreign_group_is_a_400_naming_it_and_nothing_changes,
    unassigning_a_group_with_targets_in_the_environment_is_a_409_naming_them,
    every_environment_representation_lists_its_assignments,
    deleting_an_environment_removes_its_assignments_and_targets,
    a_retried_group_create_with_the_same_idempotency_key_gets_the_first_answer,
    groups_have_a_number_a_display_name_and_a_flag_and_are_found_by_them,
);

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn env_path(env: &Value) -> String {
    format!("/api/v1/environments/{}", id(env))
}

fn groups_path(env: &Value) -> String {
    format!("{}/target-groups", env_path(env))
}

fn group_path(group: &Value) -> String {
    format!("/api/v1/target-groups/{}", id(group))
}

/// Creates a group in `env` and returns its body.
async fn create_group(app: &TestApp, env: &Value, name: &str) -> Value {
    let response = app
        .send_json(Method::POST, &groups_path(env), json!({"name": name}))
        .await;
    assert_eq!(response.status(), 201, "creating group {name}");
    response.json().await.unwrap()
}

/// Creates a docker_host target named `name` in `env`, in `group` when given.
async fn create_target(app: &TestApp, env: &Value, group: Option<&Value>, name: &str) -> Value {
    let mut body = json!({
        "environmentId": id(env),
        "name": name,
        "targetType": "docker_host",
        "connection": {"host": "10.0.0.1", "port": 2375}
    });
    if let Some(group) = group {
        body["targetGroupId"] = json!(id(group));
    }
    let response = app.send_json(Method::POST, "/api/v1/targets", body).await;
    assert_eq!(response.status(), 201, "creating target {name}");
    response.json().await.unwrap()
}

async fn read(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The names of the groups an environment representation lists.
fn assigned(env: &Value) -> Vec<String> {
    env["targetGroups"]
        .as_array()
        .expect("targetGroups")
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect()
}

async fn list(app: &TestApp, path: &str) -> (Value, String) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let total = response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.json().await.unwrap(), total)
}

async fn creating_a_group_in_an_environment_assigns_it_and_answers_201_with_location_and_etag(
    app: TestApp,
) {
    let env = app.create_env(json!({"name": "production"})).await;
    let response = app
        .send_json(
            Method::POST,
            &groups_path(&env),
            json!({"name": "web", "description": "The web tier"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let group: Value = response.json().await.unwrap();
    assert_eq!(location, group_path(&group));
    assert_eq!(group["name"], "web");
    assert_eq!(group["description"], "The web tier");
    assert_eq!(group["version"], 1);
    assert_eq!(group["organizationId"], app.tenant.to_string());
    assert!(group["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(read(&app, &location).await, group);

    let response = app.get(&env_path(&env)).await;
    assert_eq!(
        response.headers()["etag"],
        "\"2\"",
        "the environment's representation changed, so did its ETag"
    );
    let env: Value = response.json().await.unwrap();
    let assignments = env["targetGroups"].as_array().unwrap();
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0]["targetGroupId"], group["id"]);
    assert_eq!(assignments[0]["name"], "web");
    assert_eq!(assignments[0]["isActive"], true);
    assert!(Uuid::parse_str(assignments[0]["assignmentId"].as_str().unwrap()).is_ok());
}

async fn the_groups_of_an_environment_and_of_the_organization_are_bare_arrays_with_a_total(
    app: TestApp,
) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    for name in ["web", "db", "api"] {
        create_group(&app, &dev, name).await;
    }
    create_group(&app, &prod, "cache").await;
    let (of_dev, total) = list(&app, &groups_path(&dev)).await;
    assert_eq!(
        (names(&of_dev), total.as_str()),
        (vec!["api", "db", "web"], "3")
    );
    let (all, total) = list(&app, "/api/v1/target-groups").await;
    assert_eq!(
        (names(&all), total.as_str()),
        (vec!["api", "cache", "db", "web"], "4")
    );
    let (page, total) = list(&app, "/api/v1/target-groups?skip=1&take=2").await;
    assert_eq!((names(&page), total.as_str()), (vec!["cache", "db"], "4"));
    let bad = app
        .get(&format!("{}?take=0&colour=red", groups_path(&dev)))
        .await;
    let mut named = fields(&problem(bad, 400).await);
    named.sort();
    assert_eq!(named, ["colour", "take"]);
}

async fn a_taken_group_name_is_a_conflict(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    create_group(&app, &dev, "web").await;
    let response = app
        .send_json(Method::POST, &groups_path(&prod), json!({"name": "web"}))
        .await;
    let body = problem(response, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("`web`"), "{body}");
    let prod: Value = read(&app, &env_path(&prod)).await;
    assert!(assigned(&prod).is_empty(), "nothing was assigned");
    let api = create_group(&app, &dev, "api").await;
    let rename = app
        .send_json(Method::PUT, &group_path(&api), json!({"name": "web"}))
        .await;
    problem(rename, 409).await;
}

async fn group_fields_are_validated_naming_each(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let response = app
        .send_json(
            Method::POST,
            &groups_path(&env),
            json!({"name": "web tier", "description": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(
        fields(&problem(response, 400).await),
        ["name", "description"]
    );
    let missing = app
        .send_json(Method::POST, &groups_path(&env), json!({}))
        .await;
    assert_eq!(fields(&problem(missing, 400).await), ["name"]);
    let unknown = app
        .send_json(
            Method::POST,
            &groups_path(&env),
            json!({"name": "web", "colour": "red"}),
        )
        .await;
    let body = problem(unknown, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    let (all, _) = list(&app, "/api/v1/target-groups").await;
    assert_eq!(all, json!([]));
}

async fn a_group_reads_with_its_etag_and_put_replaces_fields_present(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let response = app
        .send_json(
            Method::POST,
            &groups_path(&env),
            json!({"name": "web", "description": "first"}),
        )
        .await;
    let group: Value = response.json().await.unwrap();
    let path = group_path(&group);
    let response = app.get(&path).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let cached = app
        .request(Method::GET, &path, &app.admin())
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    let response = app
        .send_json(Method::PUT, &path, json!({"name": "frontend"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let renamed: Value = response.json().await.unwrap();
    assert_eq!(
        (
            &renamed["name"],
            &renamed["description"],
            &renamed["version"]
        ),
        (&json!("frontend"), &json!("first"), &json!(2))
    );
    let cleared: Value = app
        .send_json(Method::PUT, &path, json!({"description": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["name"], "frontend");
    let refused = app
        .send_json(Method::PUT, &path, json!({"name": null}))
        .await;
    assert_eq!(fields(&problem(refused, 400).await), ["name"]);
    let bad = app
        .send_json(Method::PUT, &path, json!({"name": "-web"}))
        .await;
    assert_eq!(fields(&problem(bad, 400).await), ["name"]);
    assert_eq!(
        read(&app, &path).await,
        cleared,
        "refused updates change nothing"
    );
    let env: Value = read(&app, &env_path(&env)).await;
    assert_eq!(
        assigned(&env),
        ["frontend"],
        "assignments show the new name"
    );
}

async fn a_stale_if_match_on_a_group_is_refused_with_412(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let group = create_group(&app, &env, "web").await;
    let path = group_path(&group);
    let ok = app
        .request(Method::PUT, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .json(&json!({"description": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let stale = app
        .request(Method::PUT, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .json(&json!({"description": "b"}))
        .send()
        .await
        .unwrap();
    let body = problem(stale, 412).await;
    assert!(body["detail"].as_str().unwrap().contains("\"2\""), "{body}");
    let stale_delete = app
        .request(Method::DELETE, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(stale_delete, 412).await;
    assert_eq!(read(&app, &path).await["description"], "a");
}

async fn deleting_a_group_removes_its_assignments(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let group = create_group(&app, &dev, "web").await;
    let prod = app
        .create_env(json!({"name": "prod", "targetGroups": [{"targetGroupId": id(&group)}]}))
        .await;
    let before = read(&app, &env_path(&prod)).await;
    let response = app
        .request(Method::DELETE, &group_path(&group), &app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": true})
    );
    problem(app.get(&group_path(&group)).await, 404).await;
    for env in [&dev, &prod] {
        assert!(assigned(&read(&app, &env_path(env)).await).is_empty());
    }
    let after = read(&app, &env_path(&prod)).await;
    assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
    assert_eq!(list(&app, "/api/v1/target-groups").await.1, "0");
}

async fn deleting_a_group_with_targets_is_a_conflict_naming_them(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let group = create_group(&app, &env, "web").await;
    create_target(&app, &env, Some(&group), "web-02").await;
    create_target(&app, &env, Some(&group), "web-01").await;
    let response = app
        .request(Method::DELETE, &group_path(&group), &app.admin())
        .send()
        .await
        .unwrap();
    let body = problem(response, 409).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("`web-01`, `web-02`"), "{detail}");
    assert_eq!(read(&app, &group_path(&group)).await, group);
    assert_eq!(assigned(&read(&app, &env_path(&env)).await), ["web"]);
}

async fn viewers_read_groups_but_only_admins_write(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let group = create_group(&app, &env, "web").await;
    for role in [Role::Viewer, Role::Deployer] {
        let token = app.token(&[role]);
        for path in [
            groups_path(&env),
            group_path(&group),
            "/api/v1/target-groups".into(),
        ] {
            let response = app
                .request(Method::GET, &path, &token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{role} reads {path}");
        }
        let create = app
            .request(Method::POST, &groups_path(&env), &token)
            .json(&json!({"name": "api"}))
            .send()
            .await
            .unwrap();
        problem(create, 403).await;
        let put = app
            .request(Method::PUT, &group_path(&group), &token)
            .json(&json!({"name": "api"}))
            .send()
            .await
            .unwrap();
        problem(put, 403).await;
        let delete = app
            .request(Method::DELETE, &group_path(&group), &token)
            .send()
            .await
            .unwrap();
        problem(delete, 403).await;
    }
    assert_eq!(read(&app, &group_path(&group)).await, group);
    let anonymous = app
        .client
        .get(format!("{}/api/v1/target-groups", app.base))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
}

async fn another_organizations_groups_and_environments_are_not_found(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let group = create_group(&app, &env, "web").await;
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    for (method, path) in [
        (Method::GET, group_path(&group)),
        (Method::PUT, group_path(&group)),
        (Method::DELETE, group_path(&group)),
        (Method::GET, groups_path(&env)),
        (Method::POST, groups_path(&env)),
    ] {
        let response = app
            .request(method.clone(), &path, &stranger)
            .json(&json!({"name": "mine"}))
            .send()
            .await
            .unwrap();
        problem(response, 404).await;
    }
    let theirs = app
        .request(Method::GET, "/api/v1/target-groups", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.headers()["x-total-count"], "0");
    assert_eq!(read(&app, &group_path(&group)).await, group);
}

async fn environments_assign_groups_on_create_put_replaces_them_and_patch_adds(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let web = create_group(&app, &dev, "web").await;
    let api = create_group(&app, &dev, "api").await;
    let db = create_group(&app, &dev, "db").await;
    let prod = app
        .create_env(json!({
            "name": "prod",
            "targetGroups": [{"targetGroupId": id(&web)}, {"targetGroupId": id(&api)}]
        }))
        .await;
    assert_eq!(assigned(&prod), ["api", "web"]);
    let web_assignment = prod["targetGroups"][1]["assignmentId"].clone();

    let response = app
        .send_json(
            Method::PUT,
            &env_path(&prod),
            json!({"targetGroups": [{"targetGroupId": id(&web)}, {"targetGroupId": id(&db)}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let put: Value = response.json().await.unwrap();
    assert_eq!(
        assigned(&put),
        ["db", "web"],
        "PUT makes them exactly the list"
    );
    assert_eq!(
        put["targetGroups"][1]["assignmentId"], web_assignment,
        "a kept assignment keeps its id"
    );
    assert_eq!(put["version"], 2);

    let patched: Value = app
        .send_json(
            Method::PATCH,
            &env_path(&prod),
            json!({"targetGroups": [{"targetGroupId": id(&api), "isActive": false}], "displayName": "Production"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        assigned(&patched),
        ["api", "db", "web"],
        "PATCH adds and keeps"
    );
    assert_eq!(patched["targetGroups"][0]["isActive"], false);
    assert_eq!(patched["displayName"], "Production");

    let untouched: Value = app
        .send_json(
            Method::PATCH,
            &env_path(&prod),
            json!({"targetGroups": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        assigned(&untouched),
        ["api", "db", "web"],
        "null leaves them"
    );
    let emptied: Value = app
        .send_json(Method::PUT, &env_path(&prod), json!({"targetGroups": []}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        assigned(&emptied).is_empty(),
        "an empty PUT list unassigns all"
    );
    let null_put = app
        .send_json(Method::PUT, &env_path(&prod), json!({"targetGroups": null}))
        .await;
    assert_eq!(fields(&problem(null_put, 400).await), ["targetGroups"]);
}

async fn an_unknown_or_foreign_group_is_a_400_naming_it_and_nothing_changes(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let web = create_group(&app, &dev, "web").await;
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let their_env = app
        .request(Method::POST, "/api/v1/environments", &stranger)
        .json(&json!({"name": "theirs"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let theirs: Value = app
        .request(Method::POST, &groups_path(&their_env), &stranger)
        .json(&json!({"name": "theirs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    for foreign in [id(&theirs), Uuid::now_v7().to_string()] {
        let response = app
            .send_json(
                Method::POST,
                "/api/v1/environments",
                json!({"name": "prod", "targetGroups": [{"targetGroupId": id(&web)}, {"targetGroupId": foreign}]}),
            )
            .await;
        assert_eq!(
            fields(&problem(response, 400).await),
            ["targetGroups[1].targetGroupId"]
        );
    }
    let (_, total) = list(&app, "/api/v1/environments").await;
    assert_eq!(total, "1", "no environment was created");

    let before = read(&app, &env_path(&dev)).await;
    for method in [Method::PUT, Method::PATCH] {
        let response = app
            .send_json(
                method,
                &env_path(&dev),
                json!({"displayName": "Changed", "targetGroups": [{"targetGroupId": Uuid::now_v7()}]}),
            )
            .await;
        assert_eq!(
            fields(&problem(response, 400).await),
            ["targetGroups[0].targetGroupId"]
        );
    }
    let malformed = app
        .send_json(
            Method::PATCH,
            &env_path(&dev),
            json!({"targetGroups": [{"targetGroupId": "web"}]}),
        )
        .await;
    assert_eq!(
        fields(&problem(malformed, 400).await),
        ["targetGroups[0].targetGroupId"]
    );
    let twice = app
        .send_json(
            Method::PATCH,
            &env_path(&dev),
            json!({"targetGroups": [{"targetGroupId": id(&web)}, {"targetGroupId": id(&web)}]}),
        )
        .await;
    assert_eq!(
        fields(&problem(twice, 400).await),
        ["targetGroups[1].targetGroupId"]
    );
    assert_eq!(read(&app, &env_path(&dev)).await, before, "nothing changed");
}

async fn unassigning_a_group_with_targets_in_the_environment_is_a_409_naming_them(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let web = create_group(&app, &env, "web").await;
    create_group(&app, &env, "api").await;
    create_target(&app, &env, Some(&web), "web-01").await;
    let before = read(&app, &env_path(&env)).await;
    let response = app
        .send_json(
            Method::PUT,
            &env_path(&env),
            json!({"displayName": "Changed", "targetGroups": []}),
        )
        .await;
    let body = problem(response, 409).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`web`") && detail.contains("`web-01`"),
        "{detail}"
    );
    assert_eq!(read(&app, &env_path(&env)).await, before, "nothing changed");
}

async fn every_environment_representation_lists_its_assignments(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    assert_eq!(dev["targetGroups"], json!([]), "create answers it");
    let staging = app.create_env(json!({"name": "staging"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    create_group(&app, &dev, "web").await;
    create_group(&app, &dev, "api").await;
    create_group(&app, &prod, "db").await;
    let (all, _) = list(&app, "/api/v1/environments?sort=name").await;
    let by_name: Vec<(String, Vec<String>)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), assigned(e)))
        .collect();
    assert_eq!(
        by_name,
        [
            ("dev".to_owned(), vec!["api".to_owned(), "web".to_owned()]),
            ("prod".to_owned(), vec!["db".to_owned()]),
            ("staging".to_owned(), vec![]),
        ]
    );
    assert_eq!(assigned(&read(&app, &env_path(&dev)).await), ["api", "web"]);
    let patched: Value = app
        .send_json(Method::PATCH, &env_path(&dev), json!({"description": "x"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assigned(&patched), ["api", "web"], "PATCH answers it");
    let put: Value = app
        .send_json(
            Method::PUT,
            &env_path(&staging),
            json!({"description": "y"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(put["targetGroups"], json!([]), "PUT answers it");
}

async fn deleting_an_environment_removes_its_assignments_and_targets(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    let web = create_group(&app, &dev, "web").await;
    let doomed = create_target(&app, &dev, Some(&web), "web-01").await;
    let loose = create_target(&app, &dev, None, "loose").await;
    let kept = create_target(&app, &prod, None, "web-01").await;
    let response = app
        .request(Method::DELETE, &env_path(&dev), &app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for target in [&doomed, &loose] {
        problem(
            app.get(&format!("/api/v1/targets/{}", id(target))).await,
            404,
        )
        .await;
    }
    assert_eq!(
        read(&app, &format!("/api/v1/targets/{}", id(&kept))).await,
        kept
    );
    let (targets, total) = list(&app, "/api/v1/targets").await;
    assert_eq!((names(&targets), total.as_str()), (vec!["web-01"], "1"));
    assert_eq!(read(&app, &group_path(&web)).await, web, "the group stays");
    let (groups_of_prod, _) = list(&app, &groups_path(&prod)).await;
    assert_eq!(groups_of_prod, json!([]));
    let deleted_group = app
        .request(Method::DELETE, &group_path(&web), &app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted_group.status(),
        200,
        "its targets went with the environment"
    );
}

async fn a_retried_group_create_with_the_same_idempotency_key_gets_the_first_answer(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let send = || {
        app.request(Method::POST, &groups_path(&env), &app.admin())
            .header("Idempotency-Key", "group-1")
            .json(&json!({"name": "web"}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first_body: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    assert_eq!(list(&app, "/api/v1/target-groups").await.1, "1");
}

async fn groups_have_a_number_a_display_name_and_a_flag_and_are_found_by_them(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let web = create_group(&app, &env, "Web").await;
    assert_eq!(
        (&web["displayName"], &web["isActive"]),
        (&json!("Web"), &json!(true))
    );
    let response = app
        .send_json(
            Method::POST,
            &groups_path(&env),
            json!({"name": "api", "displayName": "API tier", "isActive": false}),
        )
        .await;
    let api: Value = response.json().await.unwrap();
    assert_eq!(
        (&api["displayName"], &api["isActive"]),
        (&json!("API tier"), &json!(false))
    );
    let number = api["number"].as_i64().unwrap();
    assert!(number > web["number"].as_i64().unwrap());
    let names = |query: String| {
        let app = &app;
        async move {
            let response = app.get(&format!("/api/v1/target-groups?{query}")).await;
            assert_eq!(response.status(), 200, "{query}");
            let found: Value = response.json().await.unwrap();
            found
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("name=WEB".into()).await, ["Web"]);
    assert_eq!(names("displayName=tier".into()).await, ["api"]);
    assert_eq!(names(format!("number={number}")).await, ["api"]);
    let taken = app
        .send_json(Method::POST, &groups_path(&env), json!({"name": "web"}))
        .await;
    problem(taken, 409).await;
    let response = app
        .send_json(
            Method::PUT,
            &group_path(&web),
            json!({"displayName": "Web tier", "isActive": false}),
        )
        .await;
    let updated: Value = response.json().await.unwrap();
    assert_eq!(
        (
            &updated["displayName"],
            &updated["isActive"],
            &updated["number"]
        ),
        (&json!("Web tier"), &json!(false), &web["number"])
    );
    let null = app
        .send_json(Method::PUT, &group_path(&web), json!({"isActive": null}))
        .await;
    assert_eq!(fields(&problem(null, 400).await), ["isActive"]);
}
