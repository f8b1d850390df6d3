//! The Environment API v2, example by example.

use super::{target_id, Client, ENVIRONMENTS};
use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    get_by_id_answers_the_documents_example,
    search_with_the_documents_parameters_answers_the_documents_example,
    search_values_ignore_case_combine_and_none_lists_every_environment,
    post_with_targets_answers_the_documents_example,
    post_without_targets_answers_the_documents_example,
    post_generates_the_sort_number_when_absent_and_ignores_the_environment_id,
    put_answers_the_documents_example_and_replaces_the_targets,
    the_documents_sample_put_request_sets_every_field,
    patch_answers_the_documents_example_and_appends_the_targets,
    put_without_a_required_field_is_a_400_naming_it_and_changes_nothing,
    an_unknown_target_group_is_a_400_and_nothing_is_created_or_changed,
);

/// The environment of the document's GET examples.
pub(super) fn env1() -> Value {
    json!({
        "description": "This is Environment 1",
        "targets": [],
        "isActive": true,
        "environmentCode": "ENV1",
        "sortNumber": 1,
        "isBuildEnvironment": true,
        "environmentName": "Env 1"
    })
}

pub(super) fn number(value: &Value, field: &str) -> i64 {
    value[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

async fn get_by_id_answers_the_documents_example(app: TestApp) {
    let fd = Client::admin(&app).await;
    let id = number(&fd.environment(env1()).await, "environmentId");
    let found = Client::expect(fd.get(&format!("{ENVIRONMENTS}/{id}")).await, 200).await;
    assert_eq!(
        found,
        json!({
            "description": "This is Environment 1",
            "targets": [],
            "isActive": true,
            "environmentCode": "ENV1",
            "sortNumber": 1,
            "environmentId": id,
            "isBuildEnvironment": true,
            "environmentName": "Env 1"
        })
    );
    let missing = fd.get(&format!("{ENVIRONMENTS}/{}", id + 1_000_000)).await;
    problem(missing, 404).await;
    let bad = fd.get(&format!("{ENVIRONMENTS}/eleven")).await;
    assert_eq!(fields(&problem(bad, 400).await), ["id"]);
}

async fn search_with_the_documents_parameters_answers_the_documents_example(app: TestApp) {
    let fd = Client::admin(&app).await;
    let id = number(&fd.environment(env1()).await, "environmentId");
    // Others that each miss one of the parameters.
    let mut other = env1();
    other["environmentCode"] = json!("ENV2");
    fd.environment(other).await;
    let mut inactive = env1();
    inactive["environmentCode"] = json!("ENV3");
    inactive["isActive"] = json!(false);
    fd.environment(inactive).await;
    let url = format!(
        "{ENVIRONMENTS}/?environmentCode=ENV1&environmentName=Env 1&isActive=true&sortNumber=1"
    );
    let found = Client::expect(fd.get(&url).await, 200).await;
    assert_eq!(
        found,
        json!([{
            "description": "This is Environment 1",
            "targets": [],
            "isActive": true,
            "environmentCode": "ENV1",
            "sortNumber": 1,
            "environmentId": id,
            "isBuildEnvironment": true,
            "environmentName": "Env 1"
        }])
    );
    let without_slash = url.replacen("environment/?", "environment?", 1);
    assert_eq!(
        Client::expect(fd.get(&without_slash).await, 200).await,
        found
    );
}

async fn search_values_ignore_case_combine_and_none_lists_every_environment(app: TestApp) {
    let fd = Client::admin(&app).await;
    let id = number(&fd.environment(env1()).await, "environmentId");
    let mut build = env1();
    build["environmentCode"] = json!("QA");
    build["environmentName"] = json!("Quality");
    build["isBuildEnvironment"] = json!(false);
    build["sortNumber"] = json!(2);
    let qa = number(&fd.environment(build).await, "environmentId");
    let codes = |found: Value| -> Vec<String> {
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["environmentCode"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |query: &str| {
        let url = format!("{ENVIRONMENTS}?{query}");
        let fd = &fd;
        async move { codes(Client::expect(fd.get(&url).await, 200).await) }
    };
    assert_eq!(search("environmentCode=env1").await, ["ENV1"]);
    assert_eq!(search("environmentName=ENV").await, ["ENV1"]);
    assert_eq!(search("environmentName=t").await, ["QA"]);
    assert_eq!(search("isBuildEnvironment=FALSE").await, ["QA"]);
    assert_eq!(search("sortNumber=2&isActive=True").await, ["QA"]);
    assert_eq!(search(&format!("environmentId={qa}")).await, ["QA"]);
    assert!(search(&format!("environmentId={id}&environmentCode=QA"))
        .await
        .is_empty());
    let everything = Client::expect(fd.get(ENVIRONMENTS).await, 200).await;
    assert_eq!(codes(everything), ["ENV1", "QA"]);
    let bad = fd
        .get(&format!("{ENVIRONMENTS}?isActive=maybe&colour=red"))
        .await;
    assert_eq!(fields(&problem(bad, 400).await), ["isActive", "colour"]);
}

async fn post_with_targets_answers_the_documents_example(app: TestApp) {
    let fd = Client::admin(&app).await;
    let (g1, g2) = (fd.target_group("TG1").await, fd.target_group("TG2").await);
    let response = fd
        .send(
            Method::POST,
            ENVIRONMENTS,
            json!({
               "description": "This is Post 1",
               "targets":
               [
                  {
                     "targetGroupId": g1
                  },
                  {
                     "targetGroupId": g2
                  }
               ],
               "isActive": true,
               "environmentCode": "POST1",
               "sortNumber": 1,
               "isBuildEnvironment": true,
               "environmentName": "Post 1"
            }),
        )
        .await;
    let created = Client::expect(response, 201).await;
    let id = number(&created, "environmentId");
    let (t1, t2) = (target_id(&created, g1), target_id(&created, g2));
    assert_ne!(t1, t2);
    // The document's answer shows "This is Environment 1", a copy slip: the description
    // sent is the one kept.
    assert_eq!(
        created,
        json!({
           "description": "This is Post 1",
           "targets":
           [
              {
                 "targetGroupId": g1,
                 "isActive": true,
                 "targetId": t1,
                 "environmentId": id
              },
              {
                 "targetGroupId": g2,
                 "isActive": true,
                 "targetId": t2,
                 "environmentId": id
              }
           ],
           "isActive": true,
           "environmentCode": "POST1",
           "sortNumber": 1,
           "environmentId": id,
           "isBuildEnvironment": true,
           "environmentName": "Post 1"
        })
    );
    let read = Client::expect(fd.get(&format!("{ENVIRONMENTS}/{id}")).await, 200).await;
    assert_eq!(read, created);
}

async fn post_without_targets_answers_the_documents_example(app: TestApp) {
    let fd = Client::admin(&app).await;
    let response = fd
        .send(
            Method::POST,
            ENVIRONMENTS,
            json!({
               "description": "This is Post 1",
               "isActive": true,
               "environmentCode": "POST1",
               "sortNumber": 1,
               "isBuildEnvironment": true,
               "environmentName": "Post 1"
            }),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = Client::expect(response, 201).await;
    let id = number(&created, "environmentId");
    assert_eq!(location, format!("{ENVIRONMENTS}/{id}"));
    assert_eq!(
        created,
        json!({
           "description": "This is Post 1",
           "targets": [],
           "isActive": true,
           "environmentCode": "POST1",
           "sortNumber": 1,
           "environmentId": id,
           "isBuildEnvironment": true,
           "environmentName": "Post 1"
        })
    );
}

async fn post_generates_the_sort_number_when_absent_and_ignores_the_environment_id(app: TestApp) {
    let fd = Client::admin(&app).await;
    fd.environment(env1()).await;
    let created = fd
        .environment(json!({
            "isActive": true,
            "environmentCode": "ENV2",
            "environmentId": 424242,
            "isBuildEnvironment": false,
            "environmentName": "Env 2"
        }))
        .await;
    assert_eq!(created["sortNumber"], 2, "the highest plus one");
    assert_ne!(created["environmentId"], 424242);
    assert_eq!(created["description"], Value::Null);
    let missing = fd
        .send(Method::POST, ENVIRONMENTS, json!({"environmentCode": "X"}))
        .await;
    assert_eq!(
        fields(&problem(missing, 400).await),
        ["isActive", "isBuildEnvironment", "environmentName"]
    );
    let taken = fd.send(Method::POST, ENVIRONMENTS, env1()).await;
    let body = problem(taken, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("ENV1"), "{body}");
}

/// The environment of the document's PUT and PATCH examples: ENV1 with a target of `group`.
async fn env1_with_target(fd: &Client<'_>, group: i64, build: bool) -> Value {
    fd.environment(json!({
       "description": "This is Environment 1",
       "targets": [{"targetGroupId": group}],
       "isActive": true,
       "environmentCode": "ENV1",
       "sortNumber": 1,
       "isBuildEnvironment": build,
       "environmentName": "Env 1"
    }))
    .await
}

async fn put_answers_the_documents_example_and_replaces_the_targets(app: TestApp) {
    let fd = Client::admin(&app).await;
    let (g1, g2) = (fd.target_group("TG1").await, fd.target_group("TG2").await);
    let before = env1_with_target(&fd, g1, true).await;
    let id = number(&before, "environmentId");
    let response = fd
        .send(
            Method::PUT,
            &format!("{ENVIRONMENTS}/{id}"),
            json!({
               "description": "This is the updated Environment 1",
               "targets":
               [
                  {
                     "targetGroupId": g2
                  }
               ],
               "isActive": true,
               "environmentCode": "PUT2",
               "sortNumber": 2,
               "environmentId": id,
               "isBuildEnvironment": false,
               "environmentName": "PUT 2"
            }),
        )
        .await;
    let updated = Client::expect(response, 200).await;
    let t2 = target_id(&updated, g2);
    assert_ne!(t2, target_id(&before, g1));
    assert_eq!(
        updated,
        json!({
           "description": "This is the updated Environment 1",
           "targets":
           [
              {
                 "targetGroupId": g2,
                 "isActive": true,
                 "targetId": t2,
                 "environmentId": id
              }
           ],
           "isActive": true,
           "environmentCode": "PUT2",
           "sortNumber": 2,
           "environmentId": id,
           "isBuildEnvironment": false,
           "environmentName": "PUT 2"
        })
    );
    let read = Client::expect(fd.get(&format!("{ENVIRONMENTS}/{id}")).await, 200).await;
    assert_eq!(read, updated);
}

async fn the_documents_sample_put_request_sets_every_field(app: TestApp) {
    let fd = Client::admin(&app).await;
    let g1 = fd.target_group("TG1").await;
    let id = number(&env1_with_target(&fd, g1, false).await, "environmentId");
    // The document's sample sends `"environmentId": 00000`, which is not JSON (leading
    // zeros); the place holder is ignored whatever its value, so 0 stands in for it.
    let response = fd
        .send(
            Method::PUT,
            &format!("{ENVIRONMENTS}/{id}"),
            json!({
               "description": "This is Put 1",
               "targets": [],
               "isActive": false,
               "environmentCode": "PUT1",
               "sortNumber": 6,
               "environmentId": 0,
               "isBuildEnvironment": true,
               "environmentName": "Put 1"
            }),
        )
        .await;
    assert_eq!(
        Client::expect(response, 200).await,
        json!({
           "description": "This is Put 1",
           "targets": [],
           "isActive": false,
           "environmentCode": "PUT1",
           "sortNumber": 6,
           "environmentId": id,
           "isBuildEnvironment": true,
           "environmentName": "Put 1"
        })
    );
}

async fn patch_answers_the_documents_example_and_appends_the_targets(app: TestApp) {
    let fd = Client::admin(&app).await;
    let g1 = fd.target_group("TG1").await;
    let g2 = fd.target_group("TG2").await;
    let g3 = fd.target_group("TG3").await;
    let before = env1_with_target(&fd, g1, false).await;
    let id = number(&before, "environmentId");
    let t1 = target_id(&before, g1);
    let response = fd
        .send(
            Method::PATCH,
            &format!("{ENVIRONMENTS}/{id}"),
            json!({
               "description": "This is Patch with some null attributes",
               "targets":
               [
                  {
                     "targetGroupId": g2
                  },
                  {
                     "targetGroupId": g3
                  }
               ],
               "isActive": null,
               "environmentCode": null,
               "sortNumber": 7,
               "environmentId": null,
               "isBuildEnvironment": false,
               "environmentName": "Patch with some null"
            }),
        )
        .await;
    let patched = Client::expect(response, 200).await;
    let (t2, t3) = (target_id(&patched, g2), target_id(&patched, g3));
    assert!(t1 < t2 && t2 < t3, "{t1} {t2} {t3}");
    assert_eq!(
        patched,
        json!({
           "description": "This is Patch with some null attributes",
           "targets":
           [
              {
                 "targetGroupId": g1,
                 "isActive": true,
                 "targetId": t1,
                 "environmentId": id
              },
              {
                 "targetGroupId": g2,
                 "isActive": true,
                 "targetId": t2,
                 "environmentId": id
              },
              {
                 "targetGroupId": g3,
                 "isActive": true,
                 "targetId": t3,
                 "environmentId": id
              }
           ],
           "isActive": true,
           "environmentCode": "ENV1",
           "sortNumber": 7,
           "environmentId": id,
           "isBuildEnvironment": false,
           "environmentName": "Patch with some null"
        })
    );
}

async fn put_without_a_required_field_is_a_400_naming_it_and_changes_nothing(app: TestApp) {
    let fd = Client::admin(&app).await;
    let g1 = fd.target_group("TG1").await;
    let before = env1_with_target(&fd, g1, true).await;
    let id = number(&before, "environmentId");
    let path = format!("{ENVIRONMENTS}/{id}");
    let response = fd
        .send(
            Method::PUT,
            &path,
            json!({
               "description": "changed",
               "targets": [],
               "isActive": false,
               "environmentCode": "PUT2",
               "sortNumber": 2,
               "environmentId": id,
               "environmentName": null
            }),
        )
        .await;
    let body = problem(response, 400).await;
    assert_eq!(fields(&body), ["isBuildEnvironment", "environmentName"]);
    assert_eq!(Client::expect(fd.get(&path).await, 200).await, before);
    let invalid = fd
        .send(
            Method::PUT,
            &path,
            json!({
               "targets": [],
               "isActive": true,
               "environmentCode": "not valid",
               "sortNumber": 2,
               "environmentId": id,
               "isBuildEnvironment": true,
               "environmentName": "x"
            }),
        )
        .await;
    assert_eq!(fields(&problem(invalid, 400).await), ["environmentCode"]);
    assert_eq!(Client::expect(fd.get(&path).await, 200).await, before);
}

async fn an_unknown_target_group_is_a_400_and_nothing_is_created_or_changed(app: TestApp) {
    let fd = Client::admin(&app).await;
    let g1 = fd.target_group("TG1").await;
    let unknown = g1 + 1_000_000;
    let mut body = env1();
    body["targets"] = json!([{"targetGroupId": g1}, {"targetGroupId": unknown}]);
    let response = fd.send(Method::POST, ENVIRONMENTS, body).await;
    assert_eq!(
        fields(&problem(response, 400).await),
        ["targets[1].targetGroupId"]
    );
    let all = Client::expect(fd.get(ENVIRONMENTS).await, 200).await;
    assert_eq!(all, json!([]), "nothing was created");

    let before = env1_with_target(&fd, g1, true).await;
    let id = number(&before, "environmentId");
    let path = format!("{ENVIRONMENTS}/{id}");
    for method in [Method::PUT, Method::PATCH] {
        let response = fd
            .send(
                method.clone(),
                &path,
                json!({
                   "description": "changed",
                   "targets": [{"targetGroupId": unknown}],
                   "isActive": false,
                   "environmentCode": "PUT2",
                   "sortNumber": 2,
                   "environmentId": id,
                   "isBuildEnvironment": false,
                   "environmentName": "PUT 2"
                }),
            )
            .await;
        assert_eq!(
            fields(&problem(response, 400).await),
            ["targets[0].targetGroupId"],
            "{method}"
        );
        assert_eq!(Client::expect(fd.get(&path).await, 200).await, before);
    }
}
