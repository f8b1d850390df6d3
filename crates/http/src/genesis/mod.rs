//! Genesis (OpenGenesis REST), served as a dialect under `/rest`: projects and their
//! environments, actions, workflows, history and time to live, on the wire exactly as
//! Genesis's documents show them.
//!
//! A driving adapter of its own over the same driving ports as `/api/v1` (`ProjectService`,
//! `EnvironmentService`, `LifecycleService`, `EnvironmentRequestService` for the time to
//! live). It translates ids (Genesis speaks only the server-wide numbers rows carry beside
//! their UUIDs), status spellings (`Ready`, `Succeed`, ...), times (epoch milliseconds),
//! envelopes (`{items, links}`, the result object) and hypermedia links. Which actions and
//! workflows exist, and who may take them, is decided behind the ports: nothing here holds a
//! rule or reaches the store.

mod environments;
mod operations;
mod projects;
mod wire;

use crate::flexdeploy::FlexDeployAuthenticated as GenesisAuthenticated;
use crate::problem::Problem;
use crate::AppState;
use terrane_domain::{
    Actor, Environment, EnvironmentFilter, EnvironmentNumber, Page, Project, ProjectNumber,
};
use terrane_ports::EnvironmentQuery;
use utoipa_actix_web::service_config::ServiceConfig;

/// Where the dialect is mounted.
pub const BASE: &str = "/rest";

/// The OpenAPI tag of every dialect operation.
pub const TAG: &str = "genesis";

/// Registers the dialect's operations.
pub(crate) fn routes(config: &mut ServiceConfig) {
    config.service(
        utoipa_actix_web::scope(BASE)
            .service(projects::list_projects)
            .service(projects::get_project)
            .service(projects::create_project)
            .service(environments::list_environments)
            .service(environments::create_environment)
            .service(environments::get_environment)
            .service(environments::delete_environment)
            .service(operations::list_actions)
            .service(operations::run_action)
            .service(operations::history)
            .service(operations::list_workflows)
            .service(operations::run_workflow)
            .service(operations::set_time_to_live)
            .service(operations::remove_time_to_live),
    );
}

/// A numeric id of a path.
///
/// # Errors
/// A 400 naming `name` when it is not a whole number.
fn path_number(req: &actix_web::HttpRequest, name: &str) -> Result<i64, Problem> {
    let raw = req.match_info().get(name).unwrap_or_default();
    raw.parse::<i64>()
        .map_err(|_| Problem::bad_field(name, format!("must be a whole number, not `{raw}`")))
}

/// The actor's project of the path's `projectId`.
///
/// # Errors
/// A 404 when the actor's organization has none of that number.
async fn project_of_path(
    req: &actix_web::HttpRequest,
    state: &AppState,
    actor: &Actor,
) -> Result<Project, Problem> {
    let number = ProjectNumber(path_number(req, "projectId")?);
    Ok(state.projects.by_number(actor, number).await?)
}

/// The project of the path and its environment of the path's `envId`.
///
/// # Errors
/// A 404 when the actor's organization has no such project, or the project no such
/// environment.
async fn environment_of_path(
    req: &actix_web::HttpRequest,
    state: &AppState,
    actor: &Actor,
) -> Result<(Project, Environment), Problem> {
    let project = project_of_path(req, state, actor).await?;
    let number = EnvironmentNumber(path_number(req, "envId")?);
    let filter = EnvironmentFilter {
        number: Some(number),
        project: Some(project.id),
        ..Default::default()
    };
    let query = EnvironmentQuery {
        filter,
        ..Default::default()
    };
    let (mut found, _) = state.environments.list(actor, query).await?;
    let env = found
        .pop()
        .ok_or_else(|| Problem::not_found("environment"))?;
    Ok((project, env))
}

/// The largest page starting at `skip`.
fn page_from(skip: usize) -> Page {
    let skip = i64::try_from(skip).unwrap_or(i64::MAX);
    Page::parse(Some(skip), Some(i64::from(Page::MAX_TAKE))).unwrap_or_default()
}
