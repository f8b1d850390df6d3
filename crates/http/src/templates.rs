//! `/api/v1/templates`: environment templates, their variables and workflows.

use crate::auth::Authenticated;
use crate::environments::Deleted;
use crate::extract::{etag, if_match, path_id, with_location, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::lifecycle::template::{StepInput, WorkflowInput};
use terrane_domain::lifecycle::variables::{VariableSpec, VariableSpecInput};
use terrane_domain::lifecycle::WorkflowSpec;
use terrane_domain::{Page, Template, TemplateId, TemplateInput};
use utoipa::ToSchema;
use uuid::Uuid;

/// A variable a template or workflow declares.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariableBody {
    /// Letters, digits and `_`; steps see it as `TERRANE_VAR_<NAME>`.
    #[schema(example = "region")]
    pub name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Whether a value (or a default) is needed; default false.
    pub required: Option<bool>,
    /// Its value when none is given.
    pub default: Option<String>,
    /// A regular expression every value must match, whole.
    #[schema(example = "[a-z]+-[a-z]+-[0-9]")]
    pub pattern: Option<String>,
}

/// A step: an executable of the server's workflow directory.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepBody {
    /// The phase it belongs to; defaults to the workflow's name.
    pub phase: Option<String>,
    /// What people read.
    pub name: Option<String>,
    /// The file name of an executable in the workflow directory (never a path).
    #[schema(example = "provision.sh")]
    pub run: Option<String>,
    /// Longest it may run, 1 to 86400 s (default 3600).
    pub timeout_seconds: Option<i64>,
}

/// A workflow: steps run in order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowBody {
    /// Unique in the template.
    pub name: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// Its own variables, besides the template's.
    #[serde(default)]
    pub variables: Vec<VariableBody>,
    /// Its steps.
    #[serde(default)]
    pub steps: Vec<StepBody>,
}

/// A template as an admin writes it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "web",
    "version": "1.0",
    "description": "A web server with its database",
    "variables": [{"name": "region", "required": true, "pattern": "[a-z]+-[a-z]+-[0-9]"}],
    "workflows": [
        {"name": "create", "steps": [
            {"phase": "provision", "name": "Make the VM", "run": "provision.sh", "timeoutSeconds": 600},
            {"phase": "configure", "name": "Install the app", "run": "configure.sh", "timeoutSeconds": 300}
        ]},
        {"name": "destroy", "steps": [{"phase": "destroy", "name": "Remove the VM", "run": "destroy.sh", "timeoutSeconds": 600}]}
    ]
}))]
pub struct TemplateBody {
    /// With `version`, unique in your organization.
    pub name: Option<String>,
    /// The template's own version label.
    pub version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Variables every workflow gets.
    #[serde(default)]
    pub variables: Vec<VariableBody>,
    /// Its workflows.
    #[serde(default)]
    pub workflows: Vec<WorkflowBody>,
    /// The workflow run at an environment's birth (default `create`).
    pub create_workflow: Option<String>,
    /// The workflow that destroys an environment (default `destroy`).
    pub destroy_workflow: Option<String>,
}

fn variable_input(body: VariableBody) -> VariableSpecInput {
    VariableSpecInput {
        name: body.name,
        description: body.description,
        required: body.required,
        default: body.default,
        pattern: body.pattern,
    }
}

impl From<TemplateBody> for TemplateInput {
    fn from(body: TemplateBody) -> Self {
        TemplateInput {
            name: body.name,
            version: body.version,
            description: body.description,
            variables: body.variables.into_iter().map(variable_input).collect(),
            workflows: body
                .workflows
                .into_iter()
                .map(|w| WorkflowInput {
                    name: w.name,
                    description: w.description,
                    variables: w.variables.into_iter().map(variable_input).collect(),
                    steps: w
                        .steps
                        .into_iter()
                        .map(|s| StepInput {
                            phase: s.phase,
                            name: s.name,
                            run: s.run,
                            timeout_seconds: s.timeout_seconds,
                        })
                        .collect(),
                })
                .collect(),
            create_workflow: body.create_workflow,
            destroy_workflow: body.destroy_workflow,
        }
    }
}

/// A declared variable.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariableResponse {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Whether a value is needed.
    pub required: bool,
    /// Its default.
    pub default: Option<String>,
    /// The pattern values must match.
    pub pattern: Option<String>,
}

impl From<&VariableSpec> for VariableResponse {
    fn from(v: &VariableSpec) -> Self {
        Self {
            name: v.name.clone(),
            description: v.description.clone(),
            required: v.required,
            default: v.default.clone(),
            pattern: v.pattern.as_ref().map(|p| p.as_str().to_owned()),
        }
    }
}

/// A step of a workflow.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepResponse {
    /// Its phase.
    pub phase: String,
    /// Its name.
    pub name: String,
    /// The executable it runs.
    pub run: String,
    /// Its timeout.
    pub timeout_seconds: u32,
}

/// A workflow.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "name": "deploy",
    "description": "Installs a version of the app",
    "variables": [{"name": "version", "description": null, "required": true, "default": null, "pattern": null}],
    "steps": [{"phase": "deploy", "name": "Install", "run": "deploy.sh", "timeoutSeconds": 300}]
}))]
#[serde(rename_all = "camelCase")]
pub struct WorkflowResponse {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Its variables.
    pub variables: Vec<VariableResponse>,
    /// Its steps, in order.
    pub steps: Vec<StepResponse>,
}

impl WorkflowResponse {
    /// `workflow` with `variables` as its variables.
    pub fn of(workflow: &WorkflowSpec, variables: Vec<&VariableSpec>) -> Self {
        Self {
            name: workflow.name.clone(),
            description: workflow.description.clone(),
            variables: variables.into_iter().map(VariableResponse::from).collect(),
            steps: workflow
                .steps
                .iter()
                .map(|s| StepResponse {
                    phase: s.phase.clone(),
                    name: s.name.clone(),
                    run: s.run.clone(),
                    timeout_seconds: s.timeout_seconds,
                })
                .collect(),
        }
    }
}

/// A template.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a90",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "web",
    "version": "1.0",
    "description": null,
    "variables": [{"name": "region", "description": null, "required": true, "default": null, "pattern": "[a-z]+-[a-z]+-[0-9]"}],
    "workflows": [
        {"name": "create", "description": null, "variables": [], "steps": [{"phase": "provision", "name": "Make the VM", "run": "provision.sh", "timeoutSeconds": 600}]},
        {"name": "destroy", "description": null, "variables": [], "steps": []}
    ],
    "createWorkflow": "create",
    "destroyWorkflow": "destroy",
    "revision": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "updatedAt": "2026-01-10T14:23:45Z"
}))]
pub struct TemplateResponse {
    /// Id.
    pub id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// The template's own version label.
    pub version: String,
    /// Free text.
    pub description: Option<String>,
    /// Variables every workflow gets.
    pub variables: Vec<VariableResponse>,
    /// Workflows.
    pub workflows: Vec<WorkflowResponse>,
    /// Run at an environment's birth.
    pub create_workflow: String,
    /// Destroys an environment.
    pub destroy_workflow: String,
    /// The row's revision, also the ETag.
    pub revision: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateResponse {
    fn from(t: Template) -> Self {
        Self {
            id: t.id.as_uuid(),
            organization_id: t.tenant.as_uuid(),
            variables: t.variables.iter().map(VariableResponse::from).collect(),
            workflows: t
                .workflows
                .iter()
                .map(|w| WorkflowResponse::of(w, w.variables.iter().collect()))
                .collect(),
            name: t.name,
            version: t.version,
            description: t.description,
            create_workflow: t.create_workflow,
            destroy_workflow: t.destroy_workflow,
            revision: t.version_number,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A page of templates.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a90",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "web",
    "version": "1.0",
    "description": null,
    "variables": [],
    "workflows": [{"name": "create", "description": null, "variables": [], "steps": []}, {"name": "destroy", "description": null, "variables": [], "steps": []}],
    "createWorkflow": "create",
    "destroyWorkflow": "destroy",
    "revision": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "updatedAt": "2026-01-10T14:23:45Z"
}], "total": 1, "skip": 0, "take": 20}))]
pub struct TemplatePage {
    /// By name, then version.
    pub data: Vec<TemplateResponse>,
    /// All templates.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

fn one(status: StatusCode, template: Template) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(template.version_number)))
        .json(TemplateResponse::from(template))
}

/// The `skip` and `take` of a list.
pub(crate) fn page_query(req: &HttpRequest) -> Result<Page, Problem> {
    let mut q = Query::of(req)?;
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(page)
}

/// Create a template (admin). Each step's `run` must name an executable of the server's
/// workflow directory.
#[utoipa::path(
    tag = "templates",
    request_body = TemplateBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = TemplateResponse, headers(("Location" = String, description = "Its URL"), ("ETag" = String, description = "Its revision"))),
        (status = 400, description = "Invalid fields, e.g. `workflows[0].steps[1].run` naming no executable of the workflow directory", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name and version taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/templates")]
pub async fn create_template(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TemplateBody>,
) -> Result<HttpResponse, Problem> {
    let input = TemplateInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let template = state.templates.create(&actor, input).await?;
        let url = format!("/api/v1/templates/{}", template.id);
        with_location(one(StatusCode::CREATED, template), &url)
    })
    .await
}

/// List templates, by name then version.
#[utoipa::path(
    tag = "templates",
    params(("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"), ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)")),
    responses(
        (status = 200, description = "A page of templates", body = TemplatePage),
        (status = 400, description = "Bad page", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/templates")]
pub async fn list_templates(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let page = page_query(&req)?;
    let (templates, total) = state.templates.list(&actor, page).await?;
    Ok(
        crate::paging::page_of(&req, page, total).json(TemplatePage {
            data: templates.into_iter().map(TemplateResponse::from).collect(),
            total,
            skip: page.skip(),
            take: page.take(),
        }),
    )
}

/// Get one template.
#[utoipa::path(
    tag = "templates",
    params(("id" = Uuid, Path, description = "Template id")),
    responses(
        (status = 200, description = "The template", body = TemplateResponse, headers(("ETag" = String, description = "Its revision"))),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/templates/{id}")]
pub async fn get_template(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TemplateId(path_id(&req, "id")?);
    Ok(one(StatusCode::OK, state.templates.get(&actor, id).await?))
}

/// Replace a template (admin), only while no environment uses it: publish a new version
/// instead.
#[utoipa::path(
    tag = "templates",
    params(("id" = Uuid, Path, description = "Template id"), ("If-Match" = Option<String>, Header, description = "Only if this is still the current ETag")),
    request_body = TemplateBodyDoc,
    responses(
        (status = 200, description = "Replaced", body = TemplateResponse, headers(("ETag" = String, description = "The new revision"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Used by an environment, or name and version taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/templates/{id}")]
pub async fn put_template(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TemplateBody>,
) -> Result<HttpResponse, Problem> {
    let id = TemplateId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let template = state
        .templates
        .replace(&actor, id, expected, body.value.into())
        .await?;
    Ok(one(StatusCode::OK, template))
}

/// Delete a template (admin), only while no environment uses it.
#[utoipa::path(
    tag = "templates",
    params(("id" = Uuid, Path, description = "Template id"), ("If-Match" = Option<String>, Header, description = "Only if this is still the current ETag")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Used by an environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/templates/{id}")]
pub async fn delete_template(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TemplateId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    state.templates.delete(&actor, id, expected).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`TemplateBody`]).
    TemplateBodyDoc as "TemplateBody" = TemplateBody, ["name", "version", "workflows"]
);
