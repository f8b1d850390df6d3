//! `/rest/projects`: Genesis's projects.

use super::wire::{millis, Link, Links, ResultObject};
use super::{page_from, path_number, GenesisAuthenticated};
use crate::extract::JsonBody;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use terrane_domain::{Actor, Permission, Project, ProjectInput, ProjectNumber};
use utoipa::{IntoParams, ToSchema};

const CLASS: &str = "Project";

/// A project, as Genesis shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisProject, example = json!({
    "id": 1,
    "name": "Shop",
    "description": "The web shop",
    "projectManager": "ann",
    "creator": "genesis",
    "creationTime": 1360066307030_i64,
    "links": [{"rel": "self", "href": "http://localhost:8081/rest/projects/1", "methods": ["get"],
               "type": "application/vnd.griddynamics.genesis.Project+json"}]
}))]
pub struct GenesisProject {
    /// Its number.
    pub id: i64,
    /// Unique in the organization, ignoring case.
    pub name: String,
    /// Free text (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who manages it.
    pub project_manager: String,
    /// Who created it.
    pub creator: String,
    /// When, in epoch milliseconds.
    pub creation_time: i64,
    /// Where it is.
    pub links: Vec<Link>,
}

fn shown(links: &Links, project: Project) -> GenesisProject {
    let number = project.number.get();
    GenesisProject {
        id: number,
        name: project.name.as_str().to_owned(),
        description: project.description,
        project_manager: project.project_manager,
        creator: project.creator,
        creation_time: millis(project.created_at),
        links: vec![links.link("self", &format!("/projects/{number}"), vec!["get"], CLASS)],
    }
}

/// Projects with the collection's links.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisProjects)]
pub struct GenesisProjects {
    /// The projects.
    pub items: Vec<GenesisProject>,
    /// The collection.
    pub links: Vec<Link>,
}

/// Sorting of the project list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameter; it is read by hand.
pub struct ProjectSorting {
    /// `name` (the default) or `~name` for descending.
    #[param(pattern = "^~?name$")]
    sorting: Option<String>,
}

fn collection_methods(actor: &Actor) -> Vec<&'static str> {
    if actor.may(Permission::Administer) {
        vec!["get", "post"]
    } else {
        vec!["get"]
    }
}

/// List projects (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(ProjectSorting),
    responses(
        (status = 200, description = "The organization's projects", body = GenesisProjects),
        (status = 400, description = "Bad sorting", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects")]
pub async fn list_projects(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let sorting =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.get("sorting").cloned())
            .unwrap_or_default();
    let descending = match sorting.as_deref() {
        None | Some("name") => false,
        Some("~name") => true,
        Some(other) => {
            return Err(Problem::bad_field(
                "sorting",
                format!("must be `name` or `~name`, not `{other}`"),
            ))
        }
    };
    let links = Links::of(&req);
    let mut items = Vec::new();
    loop {
        let (page, total) = state
            .projects
            .list(&actor, descending, page_from(items.len()))
            .await?;
        let done = page.is_empty();
        items.extend(page.into_iter().map(|p| shown(&links, p)));
        if done || items.len() as u64 >= total {
            break;
        }
    }
    Ok(HttpResponse::Ok().json(GenesisProjects {
        items,
        links: vec![links.link("self", "/projects", collection_methods(&actor), CLASS)],
    }))
}

/// Get one project (Genesis).
#[utoipa::path(
    tag = "genesis",
    params(("projectId" = i64, Path, description = "The project's number")),
    responses(
        (status = 200, description = "The project", body = GenesisProject),
        (status = 400, description = "Not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/projects/{projectId}")]
pub async fn get_project(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
) -> Result<HttpResponse, Problem> {
    let number = ProjectNumber(path_number(&req, "projectId")?);
    let project = state.projects.by_number(&actor, number).await?;
    Ok(HttpResponse::Ok().json(shown(&Links::of(&req), project)))
}

/// A project as a Genesis client writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisProjectBody, example = json!({"name": "Shop", "projectManager": "ann", "description": "The web shop"}))]
pub struct GenesisProjectBody {
    /// 1 to 64 letters, digits, `.`, `-`, `_` or spaces.
    #[schema(
        pattern = "^ *[A-Za-z0-9._-][A-Za-z0-9._ -]*$",
        min_length = 1,
        max_length = 64
    )]
    pub name: Option<String>,
    /// Who manages it.
    #[schema(pattern = "\\S", max_length = 100)]
    pub project_manager: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// Create a project (Genesis): answers the project, or the result object naming what is wrong.
#[utoipa::path(
    tag = "genesis",
    request_body = GenesisProjectBodyDoc,
    responses(
        (status = 200, description = "The new project", body = GenesisProject),
        (status = 400, description = "Bad fields or a taken name", body = ResultObject),
        (status = 403, description = "Not an admin", body = ResultObject),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/projects")]
pub async fn create_project(
    req: HttpRequest,
    state: web::Data<AppState>,
    GenesisAuthenticated(actor): GenesisAuthenticated,
    body: JsonBody<GenesisProjectBody>,
) -> Result<HttpResponse, Problem> {
    let body = body.value;
    let input = ProjectInput {
        name: body.name,
        description: body.description,
        project_manager: body.project_manager,
    };
    match state.projects.create(&actor, input, None).await {
        Ok(project) => Ok(HttpResponse::Ok().json(shown(&Links::of(&req), project))),
        Err(error) => ResultObject::failure(error, &[], None),
    }
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`GenesisProjectBody`]).
    GenesisProjectBodyDoc as "GenesisProjectBody" = GenesisProjectBody, ["name", "projectManager"]
);
