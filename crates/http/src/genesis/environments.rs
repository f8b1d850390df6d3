//! `/rest/projects/{projectId}/envs`: Genesis's environments.

use super::wire::{
    environment_status, millis, parse_environment_status, Link, Links, ResultObject,
};
use super::{environment_of_path, page_from, project_of_path, GenesisAuthenticated};
use crate::extract::JsonBody;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use terrane_domain::{
    Actor, Environment, EnvironmentFilter, EnvironmentInput, EnvironmentLifecycle, EnvironmentSort,
    LifecycleAction, Page, Permission, Project, Template,
};
use terrane_ports::{BirthInput, EnvironmentQuery};
use utoipa::{IntoParams, ToSchema};

/// The one configuration terrane has: every environment is in it.
const CONFIGURATION: &str = "Default";

/// How the use cases name the fields of a create.
pub(super) const NAMES: &[(&str, &str)] = &[
    ("name", "envName"),
    ("template", "templateName"),
    ("ttlMinutes", "timeToLive"),
];

/// An environment of a list, as Genesis shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisEnvironment)]
pub struct GenesisEnvironment {
    /// Its number.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `Ready`, `Busy`, `Broken` or `Destroyed`.
    pub status: &'static str,
    /// The project's number.
    pub project_id: i64,
    /// Always `Default`.
    pub configuration: &'static str,
    /// Who created it (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Epoch milliseconds.
    pub creation_time: i64,
    /// Who changed it last (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
    /// Epoch milliseconds.
    pub modification_time: i64,
    /// Its template (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    /// Its template's version (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version: Option<String>,
    /// What its steps reported.
    pub attributes: BTreeMap<String, String>,
    /// Where it is.
    pub links: Vec<Link>,
}

/// Environments with the collection's links.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisEnvironments)]
pub struct GenesisEnvironments {
    /// The environments.
    pub items: Vec<GenesisEnvironment>,
    /// The collection.
    pub links: Vec<Link>,
}

/// A workflow of an environment's template, with its variables.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisWorkflowVariables)]
pub struct WorkflowVariables {
    /// Its name.
    pub name: String,
    /// Its variables.
    pub variables: Vec<GenesisVariable>,
}

/// A workflow variable, as Genesis describes one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisVariable)]
pub struct GenesisVariable {
    /// Its name.
    pub name: String,
    /// Always `string`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a run may go without it.
    pub optional: bool,
    /// Its value when none is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
}

/// The variables of `template`'s workflow `name`.
pub(super) fn variables(template: &Template, name: &str) -> Vec<GenesisVariable> {
    template
        .workflow(name)
        .map(|spec| {
            template
                .declared(spec)
                .into_iter()
                .map(|v| GenesisVariable {
                    name: v.name.clone(),
                    kind: "string",
                    description: v.description.clone(),
                    optional: !v.required || v.default.is_some(),
                    default_value: v.default.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An environment with everything Genesis shows of one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisEnvironmentDetails)]
pub struct EnvironmentDetails {
    /// Its number.
    pub env_id: i64,
    /// Its name.
    pub name: String,
    /// `Ready`, `Busy`, `Broken` or `Destroyed`.
    pub status: &'static str,
    /// The project's number.
    pub project_id: i64,
    /// Who created it (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Its template (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    /// Its template's version (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version: Option<String>,
    /// Always `Default`.
    pub configuration: &'static str,
    /// Its template's workflows.
    pub workflows: Vec<WorkflowVariables>,
    /// Who changed it last (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
    /// Its template's destroy workflow (absent without a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destroy_workflow_name: Option<String>,
    /// Its template's create workflow (absent without a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_workflow_name: Option<String>,
    /// Epoch milliseconds.
    pub creation_time: i64,
    /// Epoch milliseconds.
    pub modification_time: i64,
    /// terrane keeps no virtual machines: always empty.
    pub vms: Vec<Value>,
    /// terrane keeps no servers: always empty.
    pub servers: Vec<Value>,
    /// Workflows run on it.
    pub history_count: u64,
    /// Steps of the workflow in progress that are over.
    pub current_workflow_finished_actions_count: usize,
    /// What its steps reported.
    pub attributes: BTreeMap<String, String>,
    /// Where it is and what can be done to it.
    pub links: Vec<Link>,
}

/// Who created the environment and who changed it last, from its lifecycle history
/// (`terrane` for what terrane did by itself).
async fn people(
    state: &AppState,
    actor: &Actor,
    env: &Environment,
) -> Result<(Option<String>, Option<String>), Problem> {
    let who = |event: &terrane_domain::LifecycleEvent| {
        event
            .actor
            .map_or_else(|| "terrane".to_owned(), |user| user.to_string())
    };
    let newest = Page::parse(Some(0), Some(1)).unwrap_or_default();
    let (events, total) = state.lifecycle.history(actor, env.id, newest).await?;
    let modified_by = events.first().map(who);
    if total <= 1 {
        return Ok((modified_by.clone(), modified_by));
    }
    let skip = i64::try_from(total - 1).unwrap_or(i64::MAX);
    let oldest = Page::parse(Some(skip), Some(1)).unwrap_or_default();
    let (events, _) = state.lifecycle.history(actor, env.id, oldest).await?;
    Ok((events.first().map(who), modified_by))
}

fn item(
    links: &Links,
    project: &Project,
    env: Environment,
    lifecycle: Option<&EnvironmentLifecycle>,
    (creator, modified_by): (Option<String>, Option<String>),
) -> GenesisEnvironment {
    let number = env.number.get();
    GenesisEnvironment {
        id: number,
        name: env.name.as_str().to_owned(),
        status: environment_status(env.status),
        project_id: project.number.get(),
        configuration: CONFIGURATION,
        creator,
        creation_time: millis(env.created_at),
        modified_by,
        modification_time: millis(env.updated_at),
        template_name: lifecycle.map(|l| l.template_name.clone()),
        template_version: lifecycle.map(|l| l.template_version.clone()),
        attributes: lifecycle.map(|l| l.attributes.clone()).unwrap_or_default(),
        links: vec![links.link(
            "self",
            &format!("/projects/{}/envs/{number}", project.number),
            vec!["get"],
            "Environment",
        )],
    }
}

/// Filtering and sorting of the environment list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are read by hand.
pub struct EnvironmentListParams {
    /// `statuses[Destroyed,Broken]`: only environments of any of these statuses.
    #[param(
        pattern = "^statuses\\[(Ready|Busy|Broken|Destroyed)(,(Ready|Busy|Broken|Destroyed))*\\]$"
    )]
    filter: Option<String>,
    /// `name`, `creationTime` or `orderIndex`; prefix `~` for descending.
    #[param(pattern = "^~?(name|creationTime|orderIndex)$")]
    sorting: Option<String>,
}

/// The statuses of `statuses[A,B]`.
fn statuses(value: &str) -> Result<Vec<terrane_domain::EnvironmentStatus>, Problem> {
    let bad = || {
        Problem::bad_field(
            "filter",
            format!(
                "must read `statuses[Ready,Busy,Broken,Destroyed]` (any of them), not `{value}`"
            ),
        )
    };
    let inner = value
        .trim()
        .strip_prefix("statuses[")
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(bad)?;
    inner
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_environment_status(s).ok_or_else(bad))
        .collect()
}

/// The sort of `sorting`: Genesis's field names, `~` for descending.
fn sorting(value: &str) -> Result<EnvironmentSort, Problem> {
    let (prefix, field) = match value.strip_prefix('~') {
        Some(rest) => ("~", rest),
        None => ("", value),
    };
    let field = match field {
        "creationTime" => "createdAt",
        other => other,
    };
    EnvironmentSort::parse(&format!("{prefix}{field}")).map_err(|_| {
        Problem::bad_field(
            "sorting",
            format!("must be `name`, `creationTime` or `orderIndex`, `~` first for descending, not `{value}`"),
        )
    })
}

/// List a project's environments (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(("projectId" = i64, Path, description = "The project's number"), EnvironmentListParams),
    responses(
        (status = 200, description = "The project's environments", body = GenesisEnvironments),
        (status = 400, description = "Bad filter or sorting", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects/{projectId}/envs")]
pub async fn list_environments(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let project = project_of_path(&req, &state, &actor).await?;
    let filter = EnvironmentFilter {
        project: Some(project.id),
        statuses: params
            .get("filter")
            .map(|f| statuses(f))
            .transpose()?
            .unwrap_or_default(),
        ..Default::default()
    };
    let sort = params
        .get("sorting")
        .map(|s| sorting(s))
        .transpose()?
        .unwrap_or(EnvironmentSort::parse("name").unwrap_or_default());
    let mut envs = Vec::new();
    loop {
        let query = EnvironmentQuery {
            filter: filter.clone(),
            sort,
            page: page_from(envs.len()),
        };
        let (page, total) = state.environments.list(&actor, query).await?;
        let done = page.is_empty();
        envs.extend(page);
        if done || envs.len() as u64 >= total {
            break;
        }
    }
    let lifecycles = state
        .lifecycle
        .lifecycles(&actor, envs.iter().map(|e| e.id).collect())
        .await?;
    let links = Links::of(&req);
    let mut items = Vec::with_capacity(envs.len());
    for env in envs {
        let who = people(&state, &actor, &env).await?;
        let lifecycle = lifecycles.get(&env.id);
        items.push(item(&links, &project, env, lifecycle, who));
    }
    let methods = if actor.may(Permission::Administer) {
        vec!["post"]
    } else {
        vec!["get"]
    };
    Ok(HttpResponse::Ok().json(GenesisEnvironments {
        items,
        links: vec![links.link(
            "self",
            &format!("/projects/{}/envs", project.number),
            methods,
            "Environment",
        )],
    }))
}

/// An environment to create, as a Genesis client writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisEnvironmentBody, example = json!({
    "envName": "erlt", "templateName": "Erlang", "templateVersion": "2.0", "variables": {"nodesCount": 4}
}))]
pub struct EnvironmentBody {
    /// Its name.
    pub env_name: Option<String>,
    /// Ignored: the creator is the caller.
    #[allow(dead_code)] // read so that a body naming it is accepted
    pub creator: Option<String>,
    /// The template's name.
    pub template_name: Option<String>,
    /// The template's version.
    pub template_version: Option<String>,
    /// terrane has one configuration: only its absence is accepted.
    pub config_id: Option<i64>,
    /// Values of the create workflow's variables (numbers and booleans are taken as text).
    pub variables: Option<Map<String, Value>>,
    /// Minutes until it is destroyed by itself.
    pub time_to_live: Option<i64>,
}

/// Values as text, as workflow steps read them.
pub(super) fn as_text(variables: Map<String, Value>) -> Map<String, Value> {
    variables
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Number(n) => Value::String(n.to_string()),
                Value::Bool(b) => Value::String(b.to_string()),
                other => other,
            };
            (name, value)
        })
        .collect()
}

/// Create an environment from a template (Genesis); its create workflow starts at once.
#[utoipa::path(
    tag = "genesis",
    params(("projectId" = i64, Path, description = "The project's number")),
    request_body = EnvironmentBodyDoc,
    responses(
        (status = 200, description = "Created: the result object with `isSuccess: true`", body = ResultObject),
        (status = 400, description = "A taken name (`serviceErrors.envName`), a missing variable (`variablesErrors`), or an unreadable body", body = ResultObject),
        (status = 403, description = "Not an admin", body = ResultObject),
        (status = 404, description = "No such project in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/projects/{projectId}/envs")]
pub async fn create_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
    body: JsonBody<EnvironmentBody>,
) -> Result<HttpResponse, Problem> {
    let project = project_of_path(&req, &state, &actor).await?;
    let body = body.value;
    if body.config_id.is_some() {
        return Ok(ResultObject::bad_request(
            "configId",
            "terrane has one configuration: omit configId",
        ));
    }
    let template = match (body.template_name, body.template_version) {
        (Some(name), Some(version)) => Some((name, version)),
        (None, _) => return Ok(ResultObject::bad_request("templateName", "is required")),
        (_, None) => return Ok(ResultObject::bad_request("templateVersion", "is required")),
    };
    let input = EnvironmentInput {
        name: Some(body.env_name.unwrap_or_default()),
        project: Some(project.id),
        ..Default::default()
    };
    let birth = BirthInput {
        template,
        variables: Some(as_text(body.variables.unwrap_or_default())),
        ttl_minutes: body.time_to_live,
    };
    match state
        .lifecycle
        .create_environment(&actor, input, birth)
        .await
    {
        Ok(_) => Ok(ResultObject::success()),
        Err(error) => ResultObject::failure(
            error,
            NAMES,
            Some(("envName", "Environment with the same name already exists")),
        ),
    }
}

/// Get an environment with its workflows, history count and links (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
    ),
    responses(
        (status = 200, description = "The environment", body = EnvironmentDetails),
        (status = 400, description = "Not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects/{projectId}/envs/{envId}")]
pub async fn get_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let (project, env) = environment_of_path(&req, &state, &actor).await?;
    let lifecycle = state
        .lifecycle
        .lifecycles(&actor, vec![env.id])
        .await?
        .remove(&env.id);
    let template = state.lifecycle.template_of(&actor, env.id).await?;
    let (runs, history_count) = state
        .lifecycle
        .runs(
            &actor,
            env.id,
            Page::parse(Some(0), Some(1)).unwrap_or_default(),
        )
        .await?;
    let finished = runs
        .first()
        .filter(|run| !run.status.is_final())
        .map_or(0, |run| {
            run.steps.iter().filter(|s| s.status.is_final()).count()
        });
    let (_, actions) = state.lifecycle.actions(&actor, env.id).await?;
    let (creator, modified_by) = people(&state, &actor, &env).await?;
    let links = Links::of(&req);
    let base = format!("/projects/{}/envs/{}", project.number, env.number);
    let mut methods = vec!["get"];
    if actions.contains(&LifecycleAction::Destroy) && actor.may(Permission::Deploy) {
        methods.push("delete");
    }
    let details = EnvironmentDetails {
        env_id: env.number.get(),
        name: env.name.as_str().to_owned(),
        status: environment_status(env.status),
        project_id: project.number.get(),
        creator,
        template_name: lifecycle.as_ref().map(|l| l.template_name.clone()),
        template_version: lifecycle.as_ref().map(|l| l.template_version.clone()),
        configuration: CONFIGURATION,
        workflows: template
            .as_ref()
            .map(|t| {
                t.workflows
                    .iter()
                    .map(|w| WorkflowVariables {
                        name: w.name.clone(),
                        variables: variables(t, &w.name),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        modified_by,
        destroy_workflow_name: template.as_ref().map(|t| t.destroy_workflow.clone()),
        create_workflow_name: template.as_ref().map(|t| t.create_workflow.clone()),
        creation_time: millis(env.created_at),
        modification_time: millis(env.updated_at),
        vms: Vec::new(),
        servers: Vec::new(),
        history_count,
        current_workflow_finished_actions_count: finished,
        attributes: lifecycle.map(|l| l.attributes).unwrap_or_default(),
        links: vec![
            links.link("self", &base, methods, "EnvironmentDetails"),
            links.link(
                "collection",
                &format!("{base}/history"),
                vec!["get"],
                "WorkflowHistory",
            ),
            links.link(
                "collection",
                &format!("{base}/actions"),
                vec!["get"],
                "Action",
            ),
            links.link(
                "collection",
                &format!("{base}/workflows"),
                vec!["get"],
                "Workflow",
            ),
        ],
    };
    Ok(HttpResponse::Ok().json(details))
}

/// Destroy an environment (Genesis): runs its template's destroy workflow.
#[utoipa::path(
    tag = "genesis",
    params(
        ("projectId" = i64, Path, description = "The project's number"),
        ("envId" = i64, Path, description = "The environment's number"),
    ),
    responses(
        (status = 200, description = "Its destroy workflow started: the result object", body = ResultObject),
        (status = 400, description = "Not while it is busy or destroyed", body = ResultObject),
        (status = 403, description = "Neither an admin nor a deployer", body = ResultObject),
        (status = 404, description = "No such project or environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[delete("/projects/{projectId}/envs/{envId}")]
pub async fn delete_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let (_, env) = environment_of_path(&req, &state, &actor).await?;
    let destroy = LifecycleAction::Destroy.as_str().to_owned();
    match state.lifecycle.act(&actor, env.id, destroy).await {
        Ok(_) => Ok(ResultObject::success()),
        Err(error) => ResultObject::failure(error, &[], None),
    }
}

crate::schema::requiring_schema!(
    /// What the operation takes (see [`EnvironmentBody`]).
    EnvironmentBodyDoc as "GenesisEnvironmentBody" = EnvironmentBody, ["templateName"]
);
