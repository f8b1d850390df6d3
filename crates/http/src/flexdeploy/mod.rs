//! FlexDeploy REST v2, served as a dialect under `/flexdeploy/rest/v2`: the environment and
//! target group topology APIs on the wire exactly as FlexDeploy's documents show them.
//!
//! This is a driving adapter of its own over the same driving ports as `/api/v1`
//! (`EnvironmentService`, `TargetGroupService`, `ServiceAccountService`). It translates names
//! (`environmentCode` is terrane's `name`, `environmentName` its `displayName`, `sortNumber`
//! its `orderIndex`), ids (FlexDeploy speaks only the server-wide numbers rows carry beside
//! their UUIDs) and authentication (HTTP Basic with a service account). Search, `PUT`
//! replacing assignments and `PATCH` appending them are `/api/v1`'s own semantics, reached
//! through these names: no rule is written here, and nothing here reaches the store.

mod auth;
mod environments;
mod target_groups;

pub use auth::{FlexDeployAuthenticated, BASIC_CHALLENGE};

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use terrane_domain::{
    Actor, Environment, EnvironmentFilter, EnvironmentNumber, FieldError, Page, TargetGroup,
    TargetGroupFilter,
};
use terrane_ports::EnvironmentQuery;
use utoipa_actix_web::service_config::ServiceConfig;

/// Where the dialect is mounted.
pub const BASE: &str = "/flexdeploy/rest/v2";

/// The OpenAPI tag of every dialect operation.
pub const TAG: &str = "flexdeploy";

/// Registers the dialect's operations.
pub(crate) fn routes(config: &mut ServiceConfig) {
    config.service(
        utoipa_actix_web::scope(BASE)
            .service(environments::search_environments)
            .service(environments::search_environments_slash)
            .service(environments::get_environment)
            .service(environments::create_environment)
            .service(environments::put_environment)
            .service(environments::patch_environment)
            .service(target_groups::search_target_groups)
            .service(target_groups::search_target_groups_slash)
            .service(target_groups::get_target_group)
            .service(target_groups::create_target_group)
            .service(target_groups::put_target_group)
            .service(target_groups::patch_target_group),
    );
}

/// A problem of the use cases in the dialect's words: fields renamed (`from` as a whole field
/// or as the start of `from[i]...`), and a conflict (a code taken, a group that still has
/// targets) a 400, since FlexDeploy's documents list no 409.
fn in_dialect(problem: Problem, names: &[(&str, &str)]) -> Problem {
    let rename = |field: &str| -> String {
        for (from, to) in names {
            if field == *from {
                return (*to).to_owned();
            }
            if let Some(rest) = field.strip_prefix(from) {
                if rest.starts_with('[') || rest.starts_with('.') {
                    return format!("{to}{rest}");
                }
            }
        }
        field.to_owned()
    };
    match problem.kind() {
        ProblemKind::Validation if !problem.errors.is_empty() => {
            let errors: Vec<FieldError> = problem
                .errors
                .iter()
                .map(|e| FieldError::new(rename(&e.field), e.message.clone()))
                .collect();
            Problem::validation(&errors)
        }
        ProblemKind::Conflict => Problem::new(ProblemKind::Validation, problem.detail),
        _ => problem,
    }
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

/// `true` or `false`, ignoring case, as FlexDeploy's query parameters are.
fn boolean(value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("must be true or false, not `{value}`"))
    }
}

/// Every environment matching `filter`, page after page (the dialect's search is unpaged).
async fn all_environments(
    state: &AppState,
    actor: &Actor,
    filter: EnvironmentFilter,
) -> Result<Vec<Environment>, Problem> {
    let mut found = Vec::new();
    loop {
        let page = page_from(found.len());
        let query = EnvironmentQuery {
            filter: filter.clone(),
            page,
            ..Default::default()
        };
        let (envs, total) = state.environments.list(actor, query).await?;
        let done = envs.is_empty();
        found.extend(envs);
        if done || found.len() as u64 >= total {
            return Ok(found);
        }
    }
}

/// Every target group matching `filter`, page after page.
async fn all_target_groups(
    state: &AppState,
    actor: &Actor,
    filter: TargetGroupFilter,
) -> Result<Vec<TargetGroup>, Problem> {
    let mut found = Vec::new();
    loop {
        let page = page_from(found.len());
        let (groups, total) = state
            .target_groups
            .list(actor, filter.clone(), page)
            .await?;
        let done = groups.is_empty();
        found.extend(groups);
        if done || found.len() as u64 >= total {
            return Ok(found);
        }
    }
}

/// The largest page starting at `skip`.
fn page_from(skip: usize) -> Page {
    let skip = i64::try_from(skip).unwrap_or(i64::MAX);
    Page::parse(Some(skip), Some(i64::from(Page::MAX_TAKE))).unwrap_or_default()
}

/// The actor's environment of `number`.
///
/// # Errors
/// A 404 when the actor's organization has none.
async fn environment_by_number(
    state: &AppState,
    actor: &Actor,
    number: i64,
) -> Result<Environment, Problem> {
    let filter = EnvironmentFilter {
        number: Some(EnvironmentNumber(number)),
        ..Default::default()
    };
    all_environments(state, actor, filter)
        .await?
        .pop()
        .ok_or_else(|| Problem::not_found("environment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_dialects_fields_and_conflicts_are_bad_requests() {
        let problem = Problem::validation(&[
            FieldError::new("name", "bad"),
            FieldError::new("targetGroups[2].targetGroupId", "unknown"),
            FieldError::new("description", "long"),
        ]);
        let renamed = in_dialect(
            problem,
            &[("name", "environmentCode"), ("targetGroups", "targets")],
        );
        let fields: Vec<_> = renamed.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["environmentCode", "targets[2].targetGroupId", "description"]
        );
        let conflict = in_dialect(Problem::new(ProblemKind::Conflict, "taken"), &[]);
        assert_eq!(
            (conflict.status(), conflict.detail.as_str()),
            (400, "taken")
        );
    }

    #[test]
    fn booleans_ignore_case() {
        assert_eq!(boolean("TRUE"), Ok(true));
        assert_eq!(boolean("False"), Ok(false));
        assert!(boolean("yes").is_err());
    }
}
