//! The document's examples, one by one.

use super::{expect, normalized, simple, Client};
use crate::on_both_databases;
use crate::support::Db;
use reqwest::Method;
use serde_json::{json, Value};

on_both_databases!(genesis_examples:
    creating_answers_the_documents_three_result_objects,
    the_environment_list_and_its_filter_and_sorting_answer_as_the_document_shows,
    the_environment_details_answer_the_documents_example,
    actions_answer_the_documents_examples_for_a_busy_and_a_broken_environment,
    history_answers_the_documents_shape_with_genesis_statuses,
    workflows_answer_the_documents_example,
    time_to_live_is_set_and_removed_with_the_documents_body,
);

const SCRIPTS: &[(&str, &str)] = &[
    ("ok.sh", "exit 0"),
    ("fail.sh", "echo broken >&2\nexit 1"),
    ("slow.sh", "sleep 30"),
];

fn success() -> Value {
    json!({"serviceErrors": {}, "variablesErrors": {}, "compoundServiceErrors": [], "compoundVariablesErrors": [], "isSuccess": true})
}

async fn creating_answers_the_documents_three_result_objects(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis
        .template(json!({
            "name": "Erlang",
            "version": "2.0",
            "variables": [{"name": "nodesCount", "required": true}],
            "workflows": [
                {"name": "create", "steps": [{"phase": "provision", "name": "nodes", "run": "ok.sh", "timeoutSeconds": 60}]},
                {"name": "destroy", "steps": [{"phase": "destroy", "name": "nodes", "run": "ok.sh", "timeoutSeconds": 60}]}
            ]
        }))
        .await;
    let project = genesis.project("Erlang team").await;
    let envs = format!("/rest/projects/{project}/envs");
    let request = json!({
      "envName" : "erlt",
      "templateName" : "Erlang",
      "templateVersion" : "2.0",
      "variables":{"nodesCount": 4}
    });
    let created = genesis.send(Method::POST, &envs, request.clone()).await;
    assert_eq!(expect(created, 200).await, success());

    let again = genesis.send(Method::POST, &envs, request).await;
    assert_eq!(
        expect(again, 400).await,
        json!({
            "serviceErrors":{
                "envName":"Environment with the same name already exists"
            },
            "variablesErrors":{},
            "compoundServiceErrors":[],
            "compoundVariablesErrors":[],
            "isSuccess":false
        })
    );

    let missing = json!({"envName": "erlt2", "templateName": "Erlang", "templateVersion": "2.0"});
    let refused = genesis.send(Method::POST, &envs, missing).await;
    assert_eq!(
        expect(refused, 400).await,
        json!({
            "serviceErrors":{},
            "variablesErrors":{
                "nodesCount":"Variable 'nodesCount' is not set"
            },
            "compoundServiceErrors":[],
            "compoundVariablesErrors":[],
            "isSuccess":false
        })
    );
    let names: Vec<Value> = genesis.get(&envs).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names, [json!("erlt")], "refused creates store nothing");
}

async fn the_environment_list_and_its_filter_and_sorting_answer_as_the_document_shows(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis.template(simple(&["ok.sh"], &["ok.sh"])).await;
    let project = genesis.project("Tests").await;
    let test = genesis
        .environment(
            project,
            json!({"envName": "test", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    genesis
        .wait_for(&format!("/rest/projects/{project}/envs/{test}"), "Ready")
        .await;
    let envs = format!("/rest/projects/{project}/envs");
    let list = genesis.get(&envs).await;
    let document = json!({
        "items": [
            {
             "id" : 1,
             "name" : "test",
             "status" : "Ready",
             "projectId" : 1,
             "configuration" : "Default",
             "creator" : "genesis",
             "creationTime" : 1360066307030_i64,
             "modifiedBy" : "genesis",
             "modificationTime" : 1360066307158_i64,
             "templateName" : "Simple",
             "templateVersion" : "0.1",
             "attributes" : {},
             "links" : [
                {
                   "rel" : "self",
                   "href" : "http://localhost:8081/rest/projects/1/envs/1",
                   "methods" : [
                      "get"
                   ],
                   "type" : "application/vnd.griddynamics.genesis.Environment+json"
                }
             ]
            }
        ],
        "links" : [
          {
             "rel" : "self",
             "href" : "http://localhost:8081/rest/projects/1/envs",
             "methods" : [
                "post"
             ],
             "type" : "application/vnd.griddynamics.genesis.Environment+json"
          }
       ]
    });
    assert_eq!(normalized(&list), normalized(&document));
    assert_eq!(list["items"][0]["id"], test);
    assert_eq!(list["items"][0]["projectId"], project);
    let host = genesis.app.base.clone();
    assert_eq!(
        list["links"][0]["href"],
        format!("{host}/rest/projects/{project}/envs"),
        "links are absolute, from the request's host"
    );

    // A second, broken environment: the filter and the sorting.
    genesis.template(json!({
        "name": "Failing", "version": "1.0",
        "workflows": [
            {"name": "create", "steps": [{"phase": "provision", "name": "fails", "run": "fail.sh", "timeoutSeconds": 60}]},
            {"name": "destroy", "steps": [{"phase": "destroy", "name": "ok", "run": "ok.sh", "timeoutSeconds": 60}]}
        ]
    })).await;
    let broken = genesis
        .environment(
            project,
            json!({"envName": "zeta", "templateName": "Failing", "templateVersion": "1.0"}),
        )
        .await;
    genesis
        .wait_for(&format!("{envs}/{broken}"), "Broken")
        .await;
    let names = |list: Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let filtered = genesis
        .get(&format!("{envs}?filter=statuses[Destroyed,Broken]"))
        .await;
    assert_eq!(names(filtered), ["zeta"]);
    assert_eq!(
        names(genesis.get(&format!("{envs}?sorting=~name")).await),
        ["zeta", "test"]
    );
    assert_eq!(
        names(genesis.get(&format!("{envs}?sorting=name")).await),
        ["test", "zeta"]
    );
    let bad = genesis
        .request(Method::GET, &format!("{envs}?filter=colours[Red]"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

async fn the_environment_details_answer_the_documents_example(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis.template(simple(&["ok.sh"], &["ok.sh"])).await;
    let project = genesis.project("Tests").await;
    let test = genesis
        .environment(
            project,
            json!({"envName": "test", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let details = genesis
        .wait_for(&format!("/rest/projects/{project}/envs/{test}"), "Ready")
        .await;
    let mut document = json!({
       "envId" : 1,
       "name" : "test",
       "status" : "Ready",
       "projectId" : 1,
       "creator" : "genesis",
       "templateName" : "Simple",
       "configuration" : "Default",
       "workflows" : [
          {
             "name" : "create",
             "variables" : []
          },
          {
             "name" : "destroy",
             "variables" : []
          }
       ],
       "modifiedBy" : "genesis",
       "destroyWorkflowName" : "destroy",
       "creationTime" : 1360066307030_i64,
       "vms" : [],
       "historyCount" : 1,
       "createWorkflowName" : "create",
       "modificationTime" : 1360066307158_i64,
       "currentWorkflowFinishedActionsCount" : 0,
       "servers" : [],
       "attributes" : {},
       "templateVersion" : "0.1",
       "links" : [
           {
             "rel" : "self",
             "href" : "http://localhost:8081/rest/projects/1/envs/1",
             "methods" : [
                "get",
                "put",
                "delete"
             ],
             "type" : "application/vnd.griddynamics.genesis.EnvironmentDetails+json"
          },
          {
             "rel" : "collection",
             "href" : "http://localhost:8081/rest/projects/1/envs/1/history",
             "methods" : [
                "get"
             ],
             "type" : "application/vnd.griddynamics.genesis.WorkflowHistory+json"
          },
          {
             "rel" : "collection",
             "href" : "http://localhost:8081/rest/projects/1/envs/1/actions",
             "methods" : [
                "get"
             ],
             "type" : "application/vnd.griddynamics.genesis.Action+json"
          },
          {
             "rel" : "collection",
             "href" : "http://localhost:8081/rest/projects/1/envs/1/workflows",
             "methods" : [
                "get"
             ],
             "type" : "application/vnd.griddynamics.genesis.Workflow+json"
          }
       ]
    });
    // The methods listed are those the caller may use now: terrane has no PUT of an
    // environment (the document describes none), so `put` is never offered.
    document["links"][0]["methods"] = json!(["get", "delete"]);
    assert_eq!(normalized(&details), normalized(&document));
    assert_eq!(
        (details["envId"].clone(), details["projectId"].clone()),
        (json!(test), json!(project))
    );
    assert!(
        details["creationTime"].as_i64().unwrap() > 1_700_000_000_000,
        "epoch milliseconds"
    );

    let missing = genesis
        .request(
            Method::GET,
            &format!("/rest/projects/{project}/envs/999999999"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body.is_object(), "a JSON body: {body}");
}

async fn actions_answer_the_documents_examples_for_a_busy_and_a_broken_environment(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis.template(simple(&["slow.sh"], &["ok.sh"])).await;
    let project = genesis.project("Tests").await;
    let env = genesis
        .environment(
            project,
            json!({"envName": "busy", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let path = format!("/rest/projects/{project}/envs/{env}");
    genesis.wait_for(&path, "Busy").await;
    let busy = genesis.get(&format!("{path}/actions")).await;
    let action_list = |name: &str| {
        json!({
           "items" : [
              {
                 "name" : name,
                 "links" : [
                    {
                       "rel" : "self",
                       "href" : format!("http://localhost:8081/rest/projects/1/envs/1/actions/{name}"),
                       "methods" : [
                          "post"
                       ],
                       "type" : "application/vnd.griddynamics.genesis.Action+json"
                    }
                 ]
              }
           ],
           "links" : [
              {
                 "rel" : "self",
                 "href" : "http://localhost:8081/rest/projects/1/envs/1/actions",
                 "methods" : [
                    "get"
                 ],
                 "type" : "application/vnd.griddynamics.genesis.Action+json"
              }
           ]
        })
    };
    assert_eq!(normalized(&busy), normalized(&action_list("cancel")));

    // Canceling the slow step breaks the environment.
    let canceled = genesis
        .send(Method::POST, &format!("{path}/actions/cancel"), Value::Null)
        .await;
    assert_eq!(expect(canceled, 200).await, success());
    genesis.wait_for(&path, "Broken").await;
    let broken = genesis.get(&format!("{path}/actions")).await;
    assert_eq!(normalized(&broken), normalized(&action_list("reset")));
    let not_now = genesis
        .send(Method::POST, &format!("{path}/actions/cancel"), Value::Null)
        .await;
    let refused = expect(not_now, 400).await;
    assert_eq!(refused["isSuccess"], false);
    assert!(
        !refused["compoundServiceErrors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{refused}"
    );
}

async fn history_answers_the_documents_shape_with_genesis_statuses(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis
        .template(simple(&["ok.sh", "fail.sh", "ok.sh"], &["ok.sh"]))
        .await;
    let project = genesis.project("Tests").await;
    let env = genesis
        .environment(
            project,
            json!({"envName": "xwiki", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let path = format!("/rest/projects/{project}/envs/{env}");
    genesis.wait_for(&path, "Broken").await;
    let history = genesis
        .get(&format!("{path}/history?page_offset=0&page_length=10"))
        .await;
    assert_eq!(
        normalized(&history),
        normalized(&json!({
            "history": [{
                "name": "create",
                "status": "Failed",
                "stepsCompleted": 0.33,
                "steps": [
                    {"stepId": "1", "phase": "provision", "status": "Succeed", "details": "run ok.sh"},
                    {"stepId": "2", "phase": "provision", "status": "Failed", "details": "run fail.sh"},
                    {"stepId": "3", "phase": "provision", "status": "Requested", "details": "run ok.sh"}
                ],
                "executionStartedTimestamp": 1341310956532_i64
            }],
            "totalCount": 1,
            "links" : [{
                "rel" : "self",
                "href" : "http://localhost:8081/rest/projects/1/envs/1/history",
                "methods" : ["get"],
                "type" : "application/vnd.griddynamics.genesis.WorkflowHistory+json"
            }]
        }))
    );
    // Reset, then destroy: the destroy run comes first, as in the document.
    let reset = genesis
        .send(Method::POST, &format!("{path}/actions/reset"), Value::Null)
        .await;
    assert_eq!(expect(reset, 200).await, success());
    let deleted = genesis.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(expect(deleted, 200).await, success());
    genesis.wait_for(&path, "Destroyed").await;
    let history = genesis.get(&format!("{path}/history")).await;
    assert_eq!(history["totalCount"], 2);
    assert_eq!(history["history"][0]["name"], "destroy");
    assert_eq!(history["history"][0]["status"], "Succeed");
    assert_eq!(history["history"][0]["stepsCompleted"], 1.0);
    let page = genesis
        .get(&format!("{path}/history?page_offset=1&page_length=1"))
        .await;
    assert_eq!(page["history"][0]["name"], "create");
    assert_eq!(page["totalCount"], 2);
}

async fn workflows_answer_the_documents_example(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis.template(simple(&["ok.sh"], &["ok.sh"])).await;
    let project = genesis.project("Tests").await;
    let env = genesis
        .environment(
            project,
            json!({"envName": "test", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let path = format!("/rest/projects/{project}/envs/{env}");
    genesis.wait_for(&path, "Ready").await;
    let workflows = genesis.get(&format!("{path}/workflows")).await;
    assert_eq!(
        normalized(&workflows),
        normalized(&json!({
           "items" : [
              {
                 "name" : "destroy",
                 "variables" : [],
                 "links" : [
                    {
                       "rel" : "self",
                       "href" : "http://localhost:8081/rest/projects/1/envs/1/workflows/destroy",
                       "methods" : [
                          "post"
                       ],
                       "type" : "application/vnd.griddynamics.genesis.Workflow+json"
                    }
                 ]
              }
           ],
           "links" : [
              {
                 "rel" : "self",
                 "href" : "http://localhost:8081/rest/projects/1/envs/1/workflows",
                 "methods" : [
                    "get"
                 ],
                 "type" : "application/vnd.griddynamics.genesis.Workflow+json"
              }
           ]
        }))
    );
    let unreadable = genesis
        .request(Method::POST, &format!("{path}/workflows/destroy"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(unreadable.status(), 400);
    let body: Value = unreadable.json().await.unwrap();
    assert!(body.is_object(), "a JSON body: {body}");
    let started = genesis
        .send(
            Method::POST,
            &format!("{path}/workflows/destroy"),
            json!({"parameters": {"variables": {}}}),
        )
        .await;
    assert_eq!(expect(started, 200).await, success());
    genesis.wait_for(&path, "Destroyed").await;
}

async fn time_to_live_is_set_and_removed_with_the_documents_body(db: Db) {
    let Some(genesis) = Client::start(db, SCRIPTS).await else {
        return;
    };
    genesis.template(simple(&["ok.sh"], &["ok.sh"])).await;
    let project = genesis.project("Tests").await;
    let env = genesis
        .environment(
            project,
            json!({"envName": "ttl", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let path = format!("/rest/projects/{project}/envs/{env}");
    genesis.wait_for(&path, "Ready").await;
    let expires_at = || async {
        let list = expect(
            genesis
                .app
                .get(&format!("/api/v1/environments?number={env}"))
                .await,
            200,
        )
        .await;
        list[0]["expiresAt"].clone()
    };
    assert_eq!(expires_at().await, Value::Null);
    let set = genesis
        .send(
            Method::PUT,
            &format!("{path}/timeToLive"),
            json!({"value": 5}),
        )
        .await;
    assert_eq!(expect(set, 200).await, success());
    assert!(expires_at().await.is_string());
    let removed = genesis
        .request(Method::DELETE, &format!("{path}/timeToLive"))
        .send()
        .await
        .unwrap();
    assert_eq!(expect(removed, 200).await, success());
    assert_eq!(expires_at().await, Value::Null);
}
