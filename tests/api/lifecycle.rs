//! The environment lifecycle: templates, environments born from them, runs of real
//! executables written to a temporary workflow directory, actions, the lifecycle gate of
//! deployments and the expiry of template environments.

use crate::support::{fields, problem, Db, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use terrane_domain::Role;

crate::on_both_databases!(lifecycle:
    a_template_environment_is_born_busy_and_becomes_ready_with_what_its_steps_report,
    a_failing_step_breaks_the_environment_with_its_output_and_reset_readies_it,
    a_deployment_into_an_environment_that_is_not_ready_is_refused_by_the_lifecycle_gate,
    canceling_a_long_step_kills_its_process_and_breaks_the_environment,
    workflows_run_only_while_ready_and_destroy_ends_in_destroyed,
    an_expired_template_environment_runs_its_destroy_workflow,
);

/// Writes an executable shell script into `dir`.
pub fn script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A server whose workflow directory holds `scripts`.
pub(crate) async fn app_with(db: Db, scripts: &[(&str, &str)]) -> Option<(TestApp, TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in scripts {
        script(dir.path(), name, body);
    }
    let app = TestApp::spawn_with(
        db,
        &[
            ("TERRANE_WORKFLOW_DIR", dir.path().to_str().unwrap()),
            ("TERRANE_WORKFLOW_POLL_MS", "100"),
            ("TERRANE_REAPER_INTERVAL_SECS", "1"),
        ],
    )
    .await?;
    Some((app, dir))
}

pub(crate) async fn json_of(response: Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "{body}");
    body
}

pub(crate) async fn post(app: &TestApp, path: &str, body: Value) -> Response {
    app.send_json(Method::POST, path, body).await
}

pub(crate) async fn get(app: &TestApp, path: &str) -> Value {
    json_of(app.get(path).await, 200).await
}

pub(crate) fn env_path(env: &Value) -> String {
    format!("/api/v1/environments/{}", env["id"].as_str().unwrap())
}

/// A template whose create workflow runs `create` and destroy workflow runs `destroy`.
pub(crate) fn template(name: &str, create: &[&str], destroy: &[&str]) -> Value {
    let steps = |runs: &[&str], phase: &str| -> Vec<Value> {
        runs.iter()
            .map(|run| json!({"phase": phase, "name": format!("run {run}"), "run": run, "timeoutSeconds": 120}))
            .collect()
    };
    json!({
        "name": name,
        "version": "1.0",
        "variables": [
            {"name": "region", "required": true, "pattern": "[a-z]+-[a-z]+-[0-9]"},
            {"name": "size", "default": "small"}
        ],
        "workflows": [
            {"name": "create", "steps": steps(create, "provision")},
            {"name": "destroy", "steps": steps(destroy, "destroy")},
            {"name": "deploy", "variables": [{"name": "version", "required": true}], "steps": steps(create, "deploy")}
        ]
    })
}

pub(crate) async fn create_template(app: &TestApp, body: Value) -> Value {
    json_of(post(app, "/api/v1/templates", body).await, 201).await
}

pub(crate) async fn born(app: &TestApp, name: &str, template: &str, extra: Value) -> Value {
    let mut body = json!({"name": name, "template": {"name": template, "version": "1.0"}, "variables": {"region": "eu-west-1"}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json_of(post(app, "/api/v1/environments", body).await, 201).await
}

/// Reads the environment until its status is `status`.
pub(crate) async fn wait_for(app: &TestApp, env: &Value, status: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let current = get(app, &env_path(env)).await;
        if current["status"] == status {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after {within:?}: {current}",
            current["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn runs(app: &TestApp, env: &Value) -> Vec<Value> {
    get(app, &format!("{}/runs", env_path(env))).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn statuses(run: &Value) -> Vec<&str> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect()
}

async fn a_template_environment_is_born_busy_and_becomes_ready_with_what_its_steps_report(db: Db) {
    let Some((app, dir)) = app_with(db, &[
        ("first.sh", "cat > \"stdin-$TERRANE_STEP_PHASE.json\"\necho \"making $TERRANE_ENVIRONMENT_NAME in $TERRANE_VAR_REGION\"\necho \"terrane:attribute url=https://$TERRANE_ENVIRONMENT_NAME.$TERRANE_VAR_REGION.example\""),
        ("second.sh", "echo \"terrane:attribute size=$TERRANE_VAR_SIZE\"\necho done >&2"),
        ("destroy.sh", "exit 0"),
    ]).await else { return };
    create_template(
        &app,
        template("web", &["first.sh", "second.sh"], &["destroy.sh"]),
    )
    .await;
    let env = born(&app, "review-1", "web", json!({})).await;
    assert_eq!(env["status"], "busy", "born busy: its create workflow runs");
    assert_eq!(env["template"]["name"], "web");
    let ready = wait_for(&app, &env, "ready", Duration::from_secs(30)).await;
    assert_eq!(
        ready["attributes"],
        json!({"url": "https://review-1.eu-west-1.example", "size": "small"})
    );
    assert_eq!(
        ready["template"]["variables"],
        json!({"region": "eu-west-1", "size": "small"})
    );
    let stdin: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("stdin-provision.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        stdin["variables"],
        json!({"region": "eu-west-1", "size": "small"})
    );
    assert_eq!(stdin["environment"]["name"], "review-1");
    let runs = runs(&app, &env).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(
        (run["workflow"].as_str(), run["status"].as_str()),
        (Some("create"), Some("succeeded"))
    );
    assert_eq!(run["stepsCompleted"], 1.0);
    assert_eq!(run["startedBy"], json!(app.user));
    assert_eq!(statuses(run), ["succeeded", "succeeded"]);
    assert!(
        run["steps"][0]["output"]
            .as_str()
            .unwrap()
            .contains("making review-1 in eu-west-1"),
        "{run}"
    );
    assert_eq!(run["steps"][1]["exitCode"], 0);
    let one = get(
        &app,
        &format!("{}/runs/{}", env_path(&env), run["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(&one, run);
    let workflows = get(&app, &format!("{}/workflows", env_path(&env))).await;
    let names: Vec<&str> = workflows
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["create", "destroy", "deploy"]);
    let deploy_vars: Vec<&str> = workflows[2]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(deploy_vars, ["region", "size", "version"]);
    let history = get(&app, &format!("{}/history", env_path(&env))).await;
    let events: Vec<(&str, &str)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [("succeeded", "ready"), ("created", "busy")],
        "newest first"
    );
    assert_eq!(history["data"][1]["actor"], json!(app.user));
    assert_eq!(
        history["data"][0]["actor"],
        Value::Null,
        "terrane ended the run"
    );
}

async fn a_failing_step_breaks_the_environment_with_its_output_and_reset_readies_it(db: Db) {
    let Some((app, _dir)) = app_with(
        db,
        &[
            ("ok.sh", "echo fine"),
            (
                "fail.sh",
                "echo 'checking quota'\necho 'disk full on eu-west-1' >&2\nexit 3",
            ),
            ("never.sh", "echo should-not-run"),
        ],
    )
    .await
    else {
        return;
    };
    create_template(
        &app,
        template("flaky", &["ok.sh", "fail.sh", "never.sh"], &[]),
    )
    .await;
    let env = born(&app, "flaky-1", "flaky", json!({})).await;
    wait_for(&app, &env, "broken", Duration::from_secs(30)).await;
    let run = &runs(&app, &env).await[0];
    assert_eq!(run["status"], "failed");
    assert_eq!(statuses(run), ["succeeded", "failed", "skipped"]);
    let failed = &run["steps"][1];
    assert_eq!(failed["exitCode"], 3);
    let output = failed["output"].as_str().unwrap();
    assert!(
        output.contains("checking quota") && output.contains("disk full on eu-west-1"),
        "{output}"
    );
    assert!((run["stepsCompleted"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    let actions = get(&app, &format!("{}/actions", env_path(&env))).await;
    assert_eq!(actions["status"], "broken");
    let names: Vec<&str> = actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reset", "destroy"]);
    let refused = problem(
        post(
            &app,
            &format!("{}/actions/cancel", env_path(&env)),
            json!({}),
        )
        .await,
        409,
    )
    .await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("broken") && detail.contains("reset, destroy"),
        "{detail}"
    );
    let viewer = app.token(&[Role::Viewer]);
    let forbidden = app
        .request(
            Method::POST,
            &format!("{}/actions/reset", env_path(&env)),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    problem(forbidden, 403).await;
    problem(
        post(
            &app,
            &format!("{}/actions/explode", env_path(&env)),
            json!({}),
        )
        .await,
        404,
    )
    .await;
    let deployer = app.token(&[Role::Deployer]);
    let reset = app
        .request(
            Method::POST,
            &format!("{}/actions/reset", env_path(&env)),
            &deployer,
        )
        .send()
        .await
        .unwrap();
    let reset = json_of(reset, 200).await;
    assert_eq!(reset["status"], "ready");
    let history = get(&app, &format!("{}/history", env_path(&env))).await;
    assert_eq!(history["data"][0]["event"], "reset");
    assert_eq!(history["data"][0]["from"], "broken");
    assert_eq!(history["data"][1]["event"], "failed");
}

async fn a_deployment_into_an_environment_that_is_not_ready_is_refused_by_the_lifecycle_gate(
    db: Db,
) {
    let Some((app, _dir)) = app_with(db, &[("fail.sh", "exit 1")]).await else {
        return;
    };
    create_template(&app, template("broken", &["fail.sh"], &[])).await;
    let env = born(&app, "gated", "broken", json!({})).await;
    wait_for(&app, &env, "broken", Duration::from_secs(30)).await;
    let component = json_of(
        post(
            &app,
            "/api/v1/catalog/components",
            json!({"name": "api", "kind": "service"}),
        )
        .await,
        201,
    )
    .await;
    let deployment = json_of(
        post(
            &app,
            "/api/v1/deployments",
            json!({"componentId": component["id"], "environmentId": env["id"], "version": "v1"}),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/deployments/{}", deployment["id"].as_str().unwrap());
    let gates = get(&app, &format!("{path}/gates")).await;
    let lifecycle = gates
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "lifecycle")
        .unwrap()
        .clone();
    assert_eq!(lifecycle["passed"], false);
    assert!(
        lifecycle["reason"].as_str().unwrap().contains("broken"),
        "{lifecycle}"
    );
    let refused = problem(
        app.send_json(Method::PATCH, &path, json!({"status": "in_progress"}))
            .await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "/problems/gate-lifecycle");
    json_of(
        post(
            &app,
            &format!("{}/actions/reset", env_path(&env)),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    let started = json_of(
        app.send_json(Method::PATCH, &path, json!({"status": "in_progress"}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        started["status"], "in_progress",
        "a reset environment takes deployments again"
    );
}

async fn canceling_a_long_step_kills_its_process_and_breaks_the_environment(db: Db) {
    let pids = tempfile::tempdir().unwrap();
    let pidfile = pids.path().join("pid");
    let body = format!(
        "echo $$ > {}\necho sleeping\nexec sleep 300",
        pidfile.display()
    );
    let Some((app, _dir)) = app_with(db, &[("long.sh", &body), ("after.sh", "echo never")]).await
    else {
        return;
    };
    create_template(&app, template("slow", &["long.sh", "after.sh"], &[])).await;
    let env = born(&app, "slow-1", "slow", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
        assert!(Instant::now() < deadline, "the step never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "the step runs");
    let actions = get(&app, &format!("{}/actions", env_path(&env))).await;
    assert_eq!(actions["actions"][0]["name"], "cancel");
    let canceled = json_of(
        post(
            &app,
            &format!("{}/actions/cancel", env_path(&env)),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the process is gone when the answer comes"
    );
    assert_eq!(canceled["status"], "broken");
    let run = &runs(&app, &env).await[0];
    assert_eq!(run["status"], "canceled");
    assert_eq!(statuses(run), ["canceled", "skipped"]);
    assert!(
        run["steps"][0]["output"]
            .as_str()
            .unwrap()
            .contains("sleeping"),
        "{run}"
    );
    let history = get(&app, &format!("{}/history", env_path(&env))).await;
    let events: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"cancel") && events.contains(&"canceled"),
        "{events:?}"
    );
    let cancel = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "cancel")
        .unwrap();
    assert_eq!(cancel["actor"], json!(app.user));
}

async fn workflows_run_only_while_ready_and_destroy_ends_in_destroyed(db: Db) {
    let Some((app, dir)) = app_with(
        db,
        &[
            (
                "up.sh",
                "echo \"$TERRANE_WORKFLOW $TERRANE_VAR_VERSION\" >> log",
            ),
            ("down.sh", "echo destroyed >> log"),
        ],
    )
    .await
    else {
        return;
    };
    create_template(&app, template("app", &["up.sh"], &["down.sh"])).await;
    let env = born(&app, "app-1", "app", json!({})).await;
    let busy = problem(
        post(
            &app,
            &format!("{}/workflows/deploy", env_path(&env)),
            json!({"variables": {"version": "1"}}),
        )
        .await,
        409,
    )
    .await;
    assert!(busy["detail"].as_str().unwrap().contains("busy"), "{busy}");
    wait_for(&app, &env, "ready", Duration::from_secs(30)).await;
    problem(
        post(
            &app,
            &format!("{}/workflows/nope", env_path(&env)),
            json!({}),
        )
        .await,
        404,
    )
    .await;
    let bad = problem(
        post(
            &app,
            &format!("{}/workflows/deploy", env_path(&env)),
            json!({"variables": {"colour": "red"}}),
        )
        .await,
        400,
    )
    .await;
    let mut bad_fields = fields(&bad);
    bad_fields.sort();
    assert_eq!(bad_fields, ["variables.colour", "variables.version"]);
    let run = json_of(
        post(
            &app,
            &format!("{}/workflows/deploy", env_path(&env)),
            json!({"variables": {"version": "2.3.1"}}),
        )
        .await,
        202,
    )
    .await;
    assert_eq!(run["workflow"], "deploy");
    assert_eq!(
        run["variables"]["region"], "eu-west-1",
        "inherited from the environment"
    );
    wait_for(&app, &env, "ready", Duration::from_secs(30)).await;
    let destroying = json_of(
        post(
            &app,
            &format!("{}/actions/destroy", env_path(&env)),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(destroying["status"], "busy");
    let destroyed = wait_for(&app, &env, "destroyed", Duration::from_secs(30)).await;
    assert_eq!(destroyed["status"], "destroyed");
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert_eq!(log, "create \ndeploy 2.3.1\ndestroyed\n");
    let workflows: Vec<String> = runs(&app, &env)
        .await
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["workflow"].as_str().unwrap(),
                r["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        workflows,
        ["destroy succeeded", "deploy succeeded", "create succeeded"]
    );
    let actions = get(&app, &format!("{}/actions", env_path(&env))).await;
    assert_eq!(actions["actions"], json!([]));
    let plain = app.create_env(json!({"name": "plain"})).await;
    assert_eq!(
        plain["status"], "ready",
        "without a template an environment starts ready"
    );
    let gone = json_of(
        post(
            &app,
            &format!("{}/actions/destroy", env_path(&plain)),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        gone["status"], "destroyed",
        "no template: destroyed at once"
    );
    assert_eq!(
        get(&app, &format!("{}/workflows", env_path(&plain))).await,
        json!([])
    );
}

async fn an_expired_template_environment_runs_its_destroy_workflow(db: Db) {
    let Some((app, dir)) = app_with(
        db,
        &[
            ("up.sh", "exit 0"),
            ("down.sh", "echo \"$TERRANE_ENVIRONMENT_NAME\" >> destroyed"),
        ],
    )
    .await
    else {
        return;
    };
    create_template(&app, template("short", &["up.sh"], &["down.sh"])).await;
    let env = born(&app, "short-lived", "short", json!({"ttlMinutes": 1})).await;
    assert!(env["expiresAt"].is_string(), "{env}");
    problem(
        post(
            &app,
            "/api/v1/environments",
            json!({"name": "x", "ttlMinutes": 0}),
        )
        .await,
        400,
    )
    .await;
    wait_for(&app, &env, "ready", Duration::from_secs(30)).await;
    wait_for(&app, &env, "destroyed", Duration::from_secs(90)).await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("destroyed")).unwrap(),
        "short-lived\n"
    );
    let run = &runs(&app, &env).await[0];
    assert_eq!(
        (run["workflow"].as_str(), run["startedBy"].clone()),
        (Some("destroy"), Value::Null)
    );
    let history = get(&app, &format!("{}/history", env_path(&env))).await;
    assert!(
        history["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "expired"),
        "{history}"
    );
}
