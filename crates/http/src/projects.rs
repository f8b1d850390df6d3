//! `/api/v1/projects`: named groups of environments (Genesis's projects).

use crate::auth::Authenticated;
use crate::extract::{path_id, with_location, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{Page, Project, ProjectId, ProjectInput};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A project as a client writes it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Shop", "description": "The web shop", "projectManager": "ann"}))]
pub struct ProjectBody {
    /// 1 to 64 letters, digits, `.`, `-`, `_` or spaces; unique in the organization ignoring
    /// case.
    #[schema(
        pattern = "^ *[A-Za-z0-9._-][A-Za-z0-9._ -]*$",
        min_length = 1,
        max_length = 64
    )]
    pub name: Option<String>,
    /// Free text, at most 2000 characters.
    pub description: Option<String>,
    /// Who manages it (1 to 100 characters).
    #[schema(pattern = "\\S", max_length = 100)]
    pub project_manager: Option<String>,
}

/// A project.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "number": 12001,
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "Shop",
    "description": "The web shop",
    "projectManager": "ann",
    "creator": "01936f6e-0000-7000-8000-0000000000b1",
    "createdAt": "2026-01-10T14:23:45Z"
}))]
pub struct ProjectResponse {
    /// Id.
    pub id: Uuid,
    /// Server-wide number (Genesis's project `id`).
    pub number: i64,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// Unique name (ignoring case).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Who manages it.
    pub project_manager: String,
    /// Who created it.
    pub creator: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<Project> for ProjectResponse {
    fn from(project: Project) -> Self {
        Self {
            id: project.id.as_uuid(),
            number: project.number.get(),
            organization_id: project.tenant.as_uuid(),
            name: project.name.as_str().to_owned(),
            description: project.description,
            project_manager: project.project_manager,
            creator: project.creator,
            created_at: project.created_at,
        }
    }
}

/// A page of projects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectPage {
    /// The projects of this page, ordered by name.
    pub data: Vec<ProjectResponse>,
    /// All projects, over all pages.
    #[schema(example = 1)]
    pub total: u64,
    /// Rows skipped.
    #[schema(example = 0)]
    pub skip: u32,
    /// Most rows returned.
    #[schema(example = 20)]
    pub take: u32,
}

/// Paging of the project list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one.
pub struct ProjectListParams {
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

/// Add a project.
#[utoipa::path(
    tag = "projects",
    request_body = ProjectBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = ProjectResponse,
         headers(("Location" = String, description = "The new project's URL"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/projects")]
pub async fn create_project(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<ProjectBody>,
) -> Result<HttpResponse, Problem> {
    let input = ProjectInput {
        name: body.value.name,
        description: body.value.description,
        project_manager: body.value.project_manager,
    };
    idempotent(&req, &state, &actor, &body.raw, || async {
        let project = state.projects.create(&actor, input, None).await?;
        let url = format!("/api/v1/projects/{}", project.id);
        with_location(
            HttpResponse::Created().json(ProjectResponse::from(project)),
            &url,
        )
    })
    .await
}

/// List projects, ordered by name.
#[utoipa::path(
    tag = "projects",
    params(ProjectListParams),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage),
        (status = 400, description = "Bad page", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/projects")]
pub async fn list_projects(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    let (projects, total) = state.projects.list(&actor, false, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(ProjectPage {
        data: projects.into_iter().map(ProjectResponse::from).collect(),
        total,
        skip: page.skip(),
        take: page.take(),
    }))
}

/// Get one project.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = ProjectResponse),
        (status = 404, description = "No such project in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/projects/{id}")]
pub async fn get_project(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ProjectId(path_id(&req, "id")?);
    let project = state.projects.get(&actor, id).await?;
    Ok(HttpResponse::Ok().json(ProjectResponse::from(project)))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`ProjectBody`]).
    ProjectBodyDoc as "ProjectBody" = ProjectBody, ["name", "projectManager"]
);
