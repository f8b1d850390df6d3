//! The lifecycle of an environment on `/api/v1/environments/{id}`: its runs (the history of
//! its workflows), its workflows, its actions and its lifecycle history.

use crate::auth::Authenticated;
use crate::environments::one;
use crate::extract::{path_id, with_location, OptionalJsonBody};
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::templates::{page_query, WorkflowResponse};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use terrane_domain::{
    EnvironmentId, EnvironmentStatus, LifecycleAction, LifecycleEvent, Run, RunId, RunStatus,
    StepStatus,
};
use utoipa::ToSchema;
use uuid::Uuid;

fn run_status_schema() -> utoipa::openapi::Object {
    string_enum(RunStatus::ALL.iter().map(|s| s.as_str()), "running")
}

fn step_status_schema() -> utoipa::openapi::Object {
    string_enum(StepStatus::ALL.iter().map(|s| s.as_str()), "succeeded")
}

fn action_schema() -> utoipa::openapi::Object {
    string_enum(LifecycleAction::ALL.iter().map(|a| a.as_str()), "reset")
}

fn env_status_schema() -> utoipa::openapi::Object {
    string_enum(EnvironmentStatus::ALL.iter().map(|s| s.as_str()), "broken")
}

/// One step of a run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStepResponse {
    /// Id.
    pub id: Uuid,
    /// Its phase.
    pub phase: String,
    /// Its name.
    pub name: String,
    /// Where it is.
    #[schema(schema_with = step_status_schema)]
    pub status: &'static str,
    /// When its process started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its exit status, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The last 4 KiB of its stdout and stderr.
    pub output: String,
}

/// A run: one execution of a workflow.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0",
    "environmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
    "workflow": "create",
    "status": "failed",
    "variables": {"region": "eu-west-1"},
    "startedBy": "01936f6e-0000-7000-8000-0000000000b1",
    "requestedAt": "2026-01-10T14:23:45Z",
    "startedAt": "2026-01-10T14:23:45Z",
    "finishedAt": "2026-01-10T14:24:05Z",
    "stepsCompleted": 0.5,
    "steps": [
        {"id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa1", "phase": "provision", "name": "Make the VM", "status": "succeeded",
         "startedAt": "2026-01-10T14:23:45Z", "finishedAt": "2026-01-10T14:23:55Z", "exitCode": 0, "output": "vm-42 is up\nterrane:attribute address=10.0.0.42\n"},
        {"id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa2", "phase": "configure", "name": "Install the app", "status": "failed",
         "startedAt": "2026-01-10T14:23:55Z", "finishedAt": "2026-01-10T14:24:05Z", "exitCode": 2, "output": "apt: package not found\n"}
    ]
}))]
pub struct RunResponse {
    /// Id.
    pub id: Uuid,
    /// Its environment.
    pub environment_id: Uuid,
    /// The workflow it runs.
    pub workflow: String,
    /// Where it is.
    #[schema(schema_with = run_status_schema)]
    pub status: &'static str,
    /// The values its steps get (defaults included).
    pub variables: BTreeMap<String, String>,
    /// Who started it; null when terrane did (the TTL reaper).
    pub started_by: Option<Uuid>,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// When a replica started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The share of its steps that succeeded, 0 to 1.
    pub steps_completed: f64,
    /// Its steps, in order.
    pub steps: Vec<RunStepResponse>,
}

impl From<Run> for RunResponse {
    fn from(run: Run) -> Self {
        Self {
            id: run.id.as_uuid(),
            environment_id: run.environment.as_uuid(),
            workflow: run.workflow.clone(),
            status: run.status.as_str(),
            started_by: run.started_by.map(|u| u.as_uuid()),
            requested_at: run.requested_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            steps_completed: run.steps_completed(),
            steps: run
                .steps
                .iter()
                .map(|s| RunStepResponse {
                    id: s.id.as_uuid(),
                    phase: s.phase.clone(),
                    name: s.name.clone(),
                    status: s.status.as_str(),
                    started_at: s.started_at,
                    finished_at: s.finished_at,
                    exit_code: s.exit_code,
                    output: s.output.clone(),
                })
                .collect(),
            variables: run.variables,
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0",
    "environmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
    "workflow": "create",
    "status": "succeeded",
    "variables": {"region": "eu-west-1"},
    "startedBy": "01936f6e-0000-7000-8000-0000000000b1",
    "requestedAt": "2026-01-10T14:23:45Z",
    "startedAt": "2026-01-10T14:23:45Z",
    "finishedAt": "2026-01-10T14:23:55Z",
    "stepsCompleted": 1.0,
    "steps": [{"id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa1", "phase": "provision", "name": "Make the VM", "status": "succeeded",
               "startedAt": "2026-01-10T14:23:45Z", "finishedAt": "2026-01-10T14:23:55Z", "exitCode": 0, "output": "vm-42 is up\n"}]
}], "total": 1, "skip": 0, "take": 20}))]
pub struct RunPage {
    /// Newest first.
    pub data: Vec<RunResponse>,
    /// All runs of the environment.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

/// What starts a workflow.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"variables": {"version": "2.3.1"}}))]
pub struct StartWorkflowBody {
    /// Values of the workflow's variables (strings); the environment's own and the defaults
    /// fill the others.
    #[serde(default)]
    pub variables: Map<String, Value>,
}

/// An action available now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResponse {
    /// Its name.
    #[schema(schema_with = action_schema)]
    pub name: &'static str,
    /// Where to `POST` it.
    pub href: String,
}

/// What can be done to an environment now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "broken", "actions": [
    {"name": "reset", "href": "/api/v1/environments/01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b/actions/reset"},
    {"name": "destroy", "href": "/api/v1/environments/01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b/actions/destroy"}
]}))]
pub struct ActionsResponse {
    /// The environment's status.
    #[schema(schema_with = env_status_schema)]
    pub status: &'static str,
    /// The actions its status allows.
    pub actions: Vec<ActionResponse>,
}

/// One entry of an environment's lifecycle history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0",
    "at": "2026-01-10T14:30:00Z",
    "actor": "01936f6e-0000-7000-8000-0000000000b1",
    "event": "reset",
    "runId": null,
    "workflow": null,
    "from": "broken",
    "to": "ready",
    "detail": null
}))]
pub struct LifecycleEventResponse {
    /// Id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who; null for terrane itself (a run ending, the TTL reaper).
    pub actor: Option<Uuid>,
    /// `created`, `workflow` (a run started), `cancel`, `reset`, `destroy`, `expired`, or
    /// `succeeded`, `failed`, `canceled` (a run ended).
    pub event: String,
    /// The run it concerns.
    pub run_id: Option<Uuid>,
    /// That run's workflow.
    pub workflow: Option<String>,
    /// The status before.
    #[schema(schema_with = env_status_schema)]
    pub from: Option<&'static str>,
    /// The status after.
    #[schema(schema_with = env_status_schema)]
    pub to: &'static str,
    /// Why.
    pub detail: Option<String>,
}

impl From<LifecycleEvent> for LifecycleEventResponse {
    fn from(e: LifecycleEvent) -> Self {
        Self {
            id: e.id.as_uuid(),
            at: e.at,
            actor: e.actor.map(|a| a.as_uuid()),
            event: e.event,
            run_id: e.run.map(|r| r.as_uuid()),
            workflow: e.workflow,
            from: e.from.map(|s| s.as_str()),
            to: e.to.as_str(),
            detail: e.detail,
        }
    }
}

/// A page of lifecycle history, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [
    {"id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab1", "at": "2026-01-10T14:23:55Z", "actor": null, "event": "succeeded",
     "runId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0", "workflow": "create", "from": "busy", "to": "ready", "detail": null},
    {"id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0", "at": "2026-01-10T14:23:45Z", "actor": "01936f6e-0000-7000-8000-0000000000b1", "event": "created",
     "runId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0", "workflow": "create", "from": null, "to": "busy", "detail": "born from template `web` version `1.0`"}
], "total": 2, "skip": 0, "take": 20}))]
pub struct LifecycleHistoryPage {
    /// Newest first.
    pub data: Vec<LifecycleEventResponse>,
    /// All entries.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

fn environment(req: &HttpRequest) -> Result<EnvironmentId, Problem> {
    Ok(EnvironmentId(path_id(req, "id")?))
}

/// The environment's runs: every execution of its workflows, newest first.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"), ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"), ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)")),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "Bad id or page", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/runs")]
pub async fn list_runs(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let page = page_query(&req)?;
    let (runs, total) = state.lifecycle.runs(&actor, id, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(RunPage {
        data: runs.into_iter().map(RunResponse::from).collect(),
        total,
        skip: page.skip(),
        take: page.take(),
    }))
}

/// One run with its steps and their output.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"), ("runId" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunResponse),
        (status = 404, description = "No such environment or run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/runs/{runId}")]
pub async fn get_run(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let run = RunId(path_id(&req, "runId")?);
    Ok(HttpResponse::Ok().json(RunResponse::from(
        state.lifecycle.run(&actor, id, run).await?,
    )))
}

/// The workflows of the environment's template, each with the variables it takes (the
/// template's and its own); empty for an environment with no template.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id")),
    responses(
        (status = 200, description = "Its workflows", body = Vec<WorkflowResponse>),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/workflows")]
pub async fn list_workflows(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let workflows: Vec<WorkflowResponse> = match state.lifecycle.template_of(&actor, id).await? {
        Some(template) => template
            .workflows
            .iter()
            .map(|w| WorkflowResponse::of(w, template.declared(w)))
            .collect(),
        None => Vec::new(),
    };
    Ok(HttpResponse::Ok().json(workflows))
}

/// Start a run of a workflow (admin or deployer), only while the environment is `ready`; it
/// becomes `busy`, then `ready` again (`destroyed` after the destroy workflow) or `broken`.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"), ("name" = String, Path, description = "Workflow name")),
    request_body(content = Option<StartWorkflowBody>, description = "Variables; may be left out"),
    responses(
        (status = 202, description = "The run, requested", body = RunResponse, headers(("Location" = String, description = "The run's URL"))),
        (status = 400, description = "Bad variables: every missing, unknown or mismatching one is named as `variables.<name>`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment or workflow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The environment is not ready; the detail names its status", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environments/{id}/workflows/{name}")]
pub async fn start_workflow(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: OptionalJsonBody<StartWorkflowBody>,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let name = req.match_info().get("name").unwrap_or_default().to_owned();
    let variables = body.0.unwrap_or_default().variables;
    let run = state
        .lifecycle
        .start_workflow(&actor, id, name, variables)
        .await?;
    let url = format!("/api/v1/environments/{id}/runs/{}", run.id);
    with_location(HttpResponse::Accepted().json(RunResponse::from(run)), &url)
}

/// What can be done to the environment now: `cancel` while `busy`, `reset` while `broken`,
/// `destroy` while `ready` or `broken`.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id")),
    responses(
        (status = 200, description = "Its status and the actions it allows", body = ActionsResponse),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/actions")]
pub async fn list_actions(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let (status, actions) = state.lifecycle.actions(&actor, id).await?;
    Ok(HttpResponse::Ok().json(ActionsResponse {
        status: status.as_str(),
        actions: actions
            .into_iter()
            .map(|a| ActionResponse {
                name: a.as_str(),
                href: format!("/api/v1/environments/{id}/actions/{a}"),
            })
            .collect(),
    }))
}

/// Take an action (admin or deployer). `cancel` kills the running step's process group and
/// answers once it is gone (the step and the run `canceled`, the environment `broken`);
/// `reset` makes a broken environment `ready`; `destroy` runs the destroy workflow (an
/// environment with no template is `destroyed` at once).
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"), ("name" = String, Path, description = "`cancel`, `reset` or `destroy`")),
    responses(
        (status = 200, description = "The environment after the action", body = crate::environments::EnvironmentResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 403, description = "A viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment or action", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not available now; the detail names the status and the actions available", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The step did not stop in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environments/{id}/actions/{name}")]
pub async fn take_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let name = req.match_info().get("name").unwrap_or_default().to_owned();
    let env = state.lifecycle.act(&actor, id, name).await?;
    one(&state, &actor, StatusCode::OK, env.id).await
}

/// The environment's lifecycle history, newest first: its birth, every run started and
/// ended, every action, with who and when.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"), ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"), ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)")),
    responses(
        (status = 200, description = "A page of history", body = LifecycleHistoryPage),
        (status = 400, description = "Bad id or page", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/history")]
pub async fn environment_history(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = environment(&req)?;
    let page = page_query(&req)?;
    let (events, total) = state.lifecycle.history(&actor, id, page).await?;
    Ok(
        crate::paging::page_of(&req, page, total).json(LifecycleHistoryPage {
            data: events.into_iter().map(Into::into).collect(),
            total,
            skip: page.skip(),
            take: page.take(),
        }),
    )
}

/// The template an environment is born from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "web", "version": "1.0"}))]
pub struct TemplateRef {
    /// The template's name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The template an environment was born from, and the variables it was created with.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOfEnvironment {
    /// The template's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The variables the environment was created with.
    pub variables: BTreeMap<String, String>,
}

impl From<terrane_domain::EnvironmentLifecycle> for TemplateOfEnvironment {
    fn from(l: terrane_domain::EnvironmentLifecycle) -> Self {
        Self {
            id: l.template.as_uuid(),
            name: l.template_name,
            version: l.template_version,
            variables: l.variables,
        }
    }
}

/// Refuses on `PUT` and `PATCH` the fields only a create reads.
pub(crate) fn refuse_birth_fields(birth: terrane_ports::BirthInput) -> Result<(), Problem> {
    let mut errors = Vec::new();
    let only = "is read only when the environment is created";
    if birth.template.is_some() {
        errors.push(terrane_domain::FieldError::new("template", only));
    }
    if birth.variables.is_some() {
        errors.push(terrane_domain::FieldError::new("variables", "is read only when the environment is created; run a workflow with its own variables instead"));
    }
    if birth.ttl_minutes.is_some() {
        errors.push(terrane_domain::FieldError::new(
            "ttlMinutes",
            "is read only when the environment is created; use PUT /api/v1/environments/{id}/ttl",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(&errors))
    }
}
