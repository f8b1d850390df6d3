//! What can be done to a Genesis environment: actions, workflows, its history and its time
//! to live.

use super::environments::{as_text, variables, GenesisVariable};
use super::wire::{millis, run_status, step_status, Link, Links, ResultObject};
use super::{environment_of_path, GenesisAuthenticated};
use crate::extract::JsonBody;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use terrane_domain::{EnvironmentStatus, LifecycleAction, Page, Permission, Run};
use utoipa::{IntoParams, ToSchema};

/// An action that can be taken now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisAction)]
pub struct GenesisAction {
    /// `cancel` or `reset`.
    pub name: &'static str,
    /// Where to post it.
    pub links: Vec<Link>,
}

/// The actions available now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisActions, example = json!({
    "items": [{"name": "reset", "links": [{"rel": "self", "href": "http://localhost:8081/rest/projects/1/envs/1/actions/reset", "methods": ["post"], "type": "application/vnd.griddynamics.genesis.Action+json"}]}],
    "links": [{"rel": "self", "href": "http://localhost:8081/rest/projects/1/envs/1/actions", "methods": ["get"], "type": "application/vnd.griddynamics.genesis.Action+json"}]
}))]
pub struct GenesisActions {
    /// `cancel` while busy, `reset` while broken.
    pub items: Vec<GenesisAction>,
    /// The collection.
    pub links: Vec<Link>,
}

fn env_path(project: i64, env: i64) -> String {
    format!("/projects/{project}/envs/{env}")
}

/// List the actions available now (Genesis): `cancel` while busy, `reset` while broken
/// (destroying is `DELETE` on the environment).
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
    ),
    responses(
        (status = 200, description = "The actions", body = GenesisActions),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects/{projectId}/envs/{envId}/actions")]
pub async fn list_actions(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let (project, env) = environment_of_path(&req, &state, &actor).await?;
    let (_, actions) = state.lifecycle.actions(&actor, env.id).await?;
    let links = Links::of(&req);
    let base = format!(
        "{}/actions",
        env_path(project.number.get(), env.number.get())
    );
    let methods = || {
        if actor.may(Permission::Deploy) {
            vec!["post"]
        } else {
            Vec::new()
        }
    };
    let items = actions
        .into_iter()
        .filter(|a| *a != LifecycleAction::Destroy)
        .map(|a| GenesisAction {
            name: a.as_str(),
            links: vec![links.link(
                "self",
                &format!("{base}/{}", a.as_str()),
                methods(),
                "Action",
            )],
        })
        .collect();
    Ok(HttpResponse::Ok().json(GenesisActions {
        items,
        links: vec![links.link("self", &base, vec!["get"], "Action")],
    }))
}

/// Take an action (Genesis): `cancel` or `reset`.
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
        ("action" = String, Path, description = "`cancel` or `reset`"),
    ),
    responses(
        (status = 200, description = "Done: the result object", body = ResultObject),
        (status = 400, description = "Not available in the environment's status", body = ResultObject),
        (status = 403, description = "Neither an admin nor a deployer", body = ResultObject),
        (status = 404, description = "No such project, environment or action", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/projects/{projectId}/envs/{envId}/actions/{action}")]
pub async fn run_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let (_, env) = environment_of_path(&req, &state, &actor).await?;
    let action = req
        .match_info()
        .get("action")
        .unwrap_or_default()
        .to_owned();
    // Destroying is DELETE on the environment in Genesis.
    if action.parse::<LifecycleAction>().ok() == Some(LifecycleAction::Destroy) {
        return Err(super::wire::not_found("action"));
    }
    match state.lifecycle.act(&actor, env.id, action).await {
        Ok(_) => Ok(ResultObject::success()),
        Err(error) => ResultObject::failure(error, &[], None),
    }
}

/// A step of a run in the history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisStep)]
pub struct GenesisStep {
    /// Its id.
    pub step_id: String,
    /// Its phase.
    pub phase: String,
    /// `Requested`, `Running`, `Succeed`, `Failed` or `Canceled`.
    pub status: &'static str,
    /// What it does.
    pub details: String,
}

/// A run in the history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisWorkflowDetails)]
pub struct GenesisRun {
    /// The workflow.
    pub name: String,
    /// `Requested`, `Running`, `Succeed`, `Failed` or `Canceled`.
    pub status: &'static str,
    /// The share of its steps that succeeded, 0 to 1.
    pub steps_completed: f64,
    /// Its steps, in order.
    pub steps: Vec<GenesisStep>,
    /// When it started, epoch milliseconds (absent until it starts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_started_timestamp: Option<i64>,
}

impl From<Run> for GenesisRun {
    fn from(run: Run) -> Self {
        let succeeded = run
            .steps
            .iter()
            .filter(|s| s.status == terrane_domain::StepStatus::Succeeded)
            .count();
        let share = if run.steps.is_empty() {
            0.0
        } else {
            // Two decimals, as Genesis shows it.
            ((succeeded as f64 / run.steps.len() as f64) * 100.0).round() / 100.0
        };
        Self {
            name: run.workflow,
            status: run_status(run.status),
            steps_completed: share,
            execution_started_timestamp: run.started_at.map(millis),
            steps: run
                .steps
                .into_iter()
                .map(|s| GenesisStep {
                    step_id: s.id.to_string(),
                    phase: s.phase,
                    status: step_status(s.status),
                    details: s.name,
                })
                .collect(),
        }
    }
}

/// A page of an environment's runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisHistory)]
pub struct GenesisHistory {
    /// The runs of the page.
    pub history: Vec<GenesisRun>,
    /// Runs over all pages.
    pub total_count: u64,
    /// The collection.
    pub links: Vec<Link>,
}

/// Paging of the history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are read by hand.
pub struct HistoryParams {
    /// The first run to show (default 0).
    page_offset: Option<i64>,
    /// How many (default 20, at most 100).
    page_length: Option<i64>,
}

/// An environment's workflow history, newest first (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
        HistoryParams,
    ),
    responses(
        (status = 200, description = "A page of runs", body = GenesisHistory),
        (status = 400, description = "Bad page", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects/{projectId}/envs/{envId}/history")]
pub async fn history(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let number = |name: &str| -> Result<Option<i64>, Problem> {
        params
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    Problem::bad_field(name, format!("must be a whole number, not `{v}`"))
                })
            })
            .transpose()
    };
    let page = Page::parse(number("page_offset")?, number("page_length")?).map_err(|errors| {
        let renamed: Vec<_> = errors
            .into_iter()
            .map(|e| {
                let field = if e.field == "skip" {
                    "page_offset"
                } else {
                    "page_length"
                };
                terrane_domain::FieldError::new(field, e.message)
            })
            .collect();
        Problem::validation(&renamed)
    })?;
    let (project, env) = environment_of_path(&req, &state, &actor).await?;
    let (runs, total) = state.lifecycle.runs(&actor, env.id, page).await?;
    let links = Links::of(&req);
    Ok(HttpResponse::Ok().json(GenesisHistory {
        history: runs.into_iter().map(GenesisRun::from).collect(),
        total_count: total,
        links: vec![links.link(
            "self",
            &format!(
                "{}/history",
                env_path(project.number.get(), env.number.get())
            ),
            vec!["get"],
            "WorkflowHistory",
        )],
    }))
}

/// A workflow that can be run.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisWorkflow)]
pub struct GenesisWorkflow {
    /// Its name.
    pub name: String,
    /// Its variables.
    pub variables: Vec<GenesisVariable>,
    /// Where to post a run.
    pub links: Vec<Link>,
}

/// The workflows of an environment's template.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisWorkflows)]
pub struct GenesisWorkflows {
    /// Every workflow but the create workflow.
    pub items: Vec<GenesisWorkflow>,
    /// The collection.
    pub links: Vec<Link>,
}

/// The workflows an environment can run (Genesis): its template's, but the create workflow.
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
    ),
    responses(
        (status = 200, description = "The workflows", body = GenesisWorkflows),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects/{projectId}/envs/{envId}/workflows")]
pub async fn list_workflows(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let (project, env) = environment_of_path(&req, &state, &actor).await?;
    let template = state.lifecycle.template_of(&actor, env.id).await?;
    let links = Links::of(&req);
    let base = format!(
        "{}/workflows",
        env_path(project.number.get(), env.number.get())
    );
    let runnable = env.status == EnvironmentStatus::Ready && actor.may(Permission::Deploy);
    let items = template
        .as_ref()
        .map(|t| {
            t.workflows
                .iter()
                .filter(|w| w.name != t.create_workflow)
                .map(|w| GenesisWorkflow {
                    name: w.name.clone(),
                    variables: variables(t, &w.name),
                    links: vec![links.link(
                        "self",
                        &format!("{base}/{}", w.name),
                        if runnable { vec!["post"] } else { Vec::new() },
                        "Workflow",
                    )],
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(GenesisWorkflows {
        items,
        links: vec![links.link("self", &base, vec!["get"], "Workflow")],
    }))
}

/// Values for a workflow run.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = GenesisWorkflowParameters)]
pub struct WorkflowParameters {
    /// Values of the workflow's variables (numbers and booleans are taken as text).
    #[serde(default)]
    pub variables: Map<String, Value>,
}

/// A workflow run request, as Genesis clients send it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = GenesisWorkflowBody, example = json!({"parameters": {"variables": {"nodesCount": "2"}}}))]
pub struct WorkflowBody {
    /// The run's parameters.
    #[serde(default)]
    pub parameters: WorkflowParameters,
}

/// Run a workflow (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
        ("workflow" = String, Path, description = "The workflow's name"),
    ),
    request_body = WorkflowBody,
    responses(
        (status = 200, description = "Started: the result object", body = ResultObject),
        (status = 400, description = "Bad variables (`variablesErrors`), the environment is not ready, or an unreadable body", body = ResultObject),
        (status = 403, description = "Neither an admin nor a deployer", body = ResultObject),
        (status = 404, description = "No such project, environment or workflow", body = ResultObject),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/projects/{projectId}/envs/{envId}/workflows/{workflow}")]
pub async fn run_workflow(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
    body: JsonBody<WorkflowBody>,
) -> Result<HttpResponse, Problem> {
    let (_, env) = environment_of_path(&req, &state, &actor).await?;
    let name = req
        .match_info()
        .get("workflow")
        .unwrap_or_default()
        .to_owned();
    let variables = as_text(body.value.parameters.variables);
    match state
        .lifecycle
        .start_workflow(&actor, env.id, name, variables)
        .await
    {
        Ok(_) => Ok(ResultObject::success()),
        Err(error) => ResultObject::failure(error, &[], None),
    }
}

/// A time to live.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = GenesisTimeToLive, example = json!({"value": 5}))]
pub struct TimeToLive {
    /// Minutes from now.
    pub value: Option<i64>,
}

/// Set when the environment is destroyed by itself (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
    ),
    request_body = TimeToLiveDoc,
    responses(
        (status = 200, description = "Set: the result object", body = ResultObject),
        (status = 400, description = "Minutes out of range, a destroyed environment, or an unreadable body", body = ResultObject),
        (status = 403, description = "Not allowed", body = ResultObject),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[put("/projects/{projectId}/envs/{envId}/timeToLive")]
pub async fn set_time_to_live(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
    body: JsonBody<TimeToLive>,
) -> Result<HttpResponse, Problem> {
    let (_, env) = environment_of_path(&req, &state, &actor).await?;
    let Some(minutes) = body.value.value else {
        return Ok(ResultObject::bad_request("value", "is required"));
    };
    match state.requests.set_ttl(&actor, env.id, minutes).await {
        Ok(_) => Ok(ResultObject::success()),
        Err(error) => ResultObject::failure(error, &[("minutes", "value")], None),
    }
}

/// Remove the environment's time to live (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
    ),
    responses(
        (status = 200, description = "Removed: the result object", body = ResultObject),
        (status = 403, description = "Not allowed", body = ResultObject),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[delete("/projects/{projectId}/envs/{envId}/timeToLive")]
pub async fn remove_time_to_live(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let (_, env) = environment_of_path(&req, &state, &actor).await?;
    match state.requests.remove_ttl(&actor, env.id).await {
        Ok(_) => Ok(ResultObject::success()),
        Err(error) => ResultObject::failure(error, &[], None),
    }
}

crate::schema::requiring_schema!(
    /// What the operation takes (see [`TimeToLive`]).
    TimeToLiveDoc as "GenesisTimeToLive" = TimeToLive, ["value"]
);
