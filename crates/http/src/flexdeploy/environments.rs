//! `/flexdeploy/rest/v2/topology/environment`: FlexDeploy's Environment API v2.

use super::{
    all_environments, all_target_groups, boolean, environment_by_number, in_dialect, path_number,
    FlexDeployAuthenticated, BASE,
};
use crate::extract::{with_location, JsonBody, Query};
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashMap;
use terrane_domain::target_group::MAX_ASSIGNMENTS_PER_REQUEST;
use terrane_domain::{
    Actor, Assignment, AssignmentInput, AssignmentMode, AssignmentRequest, Environment,
    EnvironmentFilter, EnvironmentId, EnvironmentInput, EnvironmentNumber, FieldError,
    TargetGroupFilter, TargetGroupNumber,
};
use utoipa::{IntoParams, ToSchema};

/// How the use cases name the fields of this API.
const NAMES: &[(&str, &str)] = &[
    ("name", "environmentCode"),
    ("displayName", "environmentName"),
    ("orderIndex", "sortNumber"),
    ("targetGroups", "targets"),
];

/// Distinguishes an explicit `null` (`Some(None)`) from an absent field (`None`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A target group assigned to an environment (FlexDeploy's "target").
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlexDeployTarget, example = json!({
    "targetGroupId": 15100, "isActive": true, "targetId": 10001, "environmentId": 11101
}))]
pub struct Target {
    /// The assignment's number.
    pub target_id: i64,
    /// The target group's number.
    pub target_group_id: i64,
    /// The environment's number.
    pub environment_id: i64,
    /// Whether the assignment is in use.
    pub is_active: bool,
}

impl From<Assignment> for Target {
    fn from(assignment: Assignment) -> Self {
        Self {
            target_id: assignment.number.get(),
            target_group_id: assignment.target_group_number.get(),
            environment_id: assignment.environment_number.get(),
            is_active: assignment.is_active,
        }
    }
}

/// The targets of `assignments`, oldest assignment first.
pub(super) fn targets(mut assignments: Vec<Assignment>) -> Vec<Target> {
    assignments.sort_by_key(|a| a.number);
    assignments.into_iter().map(Target::from).collect()
}

/// An environment, as FlexDeploy shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlexDeployEnvironment, example = json!({
    "description": "This is Environment 1",
    "targets": [{"targetGroupId": 15100, "isActive": true, "targetId": 10001, "environmentId": 11101}],
    "isActive": true,
    "environmentCode": "ENV1",
    "sortNumber": 1,
    "environmentId": 11101,
    "isBuildEnvironment": true,
    "environmentName": "Env 1"
}))]
pub struct EnvironmentV2 {
    /// Free text.
    pub description: Option<String>,
    /// Its target groups.
    pub targets: Vec<Target>,
    /// Whether it is active.
    pub is_active: bool,
    /// Its code: terrane's `name`, unique ignoring case.
    pub environment_code: String,
    /// Its place among environments: terrane's `orderIndex`.
    pub sort_number: i32,
    /// Its number.
    pub environment_id: i64,
    /// Whether it is a build environment.
    pub is_build_environment: bool,
    /// Its name: terrane's `displayName`.
    pub environment_name: String,
}

/// A target group to assign, by number; the other fields of a target are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlexDeployTargetRef, example = json!({"targetGroupId": 15100}))]
pub struct TargetRef {
    /// The target group's number.
    pub target_group_id: Option<i64>,
}

/// An environment as a FlexDeploy client writes it. Fields FlexDeploy shows but does not let
/// a client set (`environmentId`, a target's `targetId`) are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlexDeployEnvironmentBody, example = json!({
    "description": "This is Post 1",
    "targets": [{"targetGroupId": 15100}, {"targetGroupId": 15101}],
    "isActive": true,
    "environmentCode": "POST1",
    "sortNumber": 1,
    "isBuildEnvironment": true,
    "environmentName": "Post 1"
}))]
pub struct EnvironmentV2Body {
    /// Free text.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Target groups: `POST` assigns them, `PUT` makes them exactly the assignments,
    /// `PATCH` adds them.
    pub targets: Option<Vec<TargetRef>>,
    /// Required on `POST` and `PUT`.
    pub is_active: Option<bool>,
    /// Required on `POST` and `PUT`: 1 to 63 letters, digits, `-`, `_` or `.`, unique
    /// ignoring case.
    #[schema(pattern = "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")]
    pub environment_code: Option<String>,
    /// Required on `PUT`; generated on `POST` when absent.
    pub sort_number: Option<i64>,
    /// A place holder, required on `PUT`, ignored.
    pub environment_id: Option<i64>,
    /// Required on `POST` and `PUT`.
    pub is_build_environment: Option<bool>,
    /// Required on `POST` and `PUT`.
    pub environment_name: Option<String>,
}

/// Which operation a body is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Post,
    Put,
    Patch,
}

impl EnvironmentV2Body {
    /// The fields FlexDeploy requires for `write` that are missing (absent or null).
    fn missing(&self, write: Write) -> Vec<FieldError> {
        let required: &[(&str, bool)] = &[
            ("isActive", self.is_active.is_some()),
            ("environmentCode", self.environment_code.is_some()),
            (
                "sortNumber",
                self.sort_number.is_some() || write != Write::Put,
            ),
            (
                "environmentId",
                self.environment_id.is_some() || write != Write::Put,
            ),
            ("isBuildEnvironment", self.is_build_environment.is_some()),
            ("environmentName", self.environment_name.is_some()),
        ];
        if write == Write::Patch {
            return Vec::new();
        }
        required
            .iter()
            .filter(|(_, present)| !present)
            .map(|(field, _)| FieldError::new(*field, "is required"))
            .collect()
    }

    /// terrane's input for `write`, with the target groups already resolved to ids.
    fn into_input(self, write: Write, groups: Option<Vec<AssignmentRequest>>) -> EnvironmentInput {
        EnvironmentInput {
            name: self.environment_code,
            display_name: self.environment_name,
            description: match write {
                // PUT sets every field: an absent description is none.
                Write::Put => Some(self.description.flatten()),
                Write::Post | Write::Patch => self.description.flatten().map(Some),
            },
            order_index: self.sort_number,
            is_active: self.is_active,
            is_build_environment: self.is_build_environment,
            target_groups: match (write, groups) {
                (Write::Put, groups) => Some(AssignmentInput {
                    mode: AssignmentMode::Replace,
                    target_groups: groups.unwrap_or_default(),
                }),
                (_, Some(groups)) => Some(AssignmentInput {
                    mode: AssignmentMode::Add,
                    target_groups: groups,
                }),
                (_, None) => None,
            },
            ..Default::default()
        }
    }
}

/// The ids of the target groups `refs` name by number, in order.
///
/// # Errors
/// A 400 naming `targets[i].targetGroupId` for each missing number or group the actor's
/// organization does not have.
async fn resolve(
    state: &AppState,
    actor: &Actor,
    refs: Option<Vec<TargetRef>>,
) -> Result<Option<Vec<AssignmentRequest>>, Problem> {
    let Some(refs) = refs else {
        return Ok(None);
    };
    if refs.len() > MAX_ASSIGNMENTS_PER_REQUEST {
        return Err(Problem::bad_field(
            "targets",
            format!("may list at most {MAX_ASSIGNMENTS_PER_REQUEST} target groups"),
        ));
    }
    let numbers: Vec<TargetGroupNumber> = refs
        .iter()
        .filter_map(|r| r.target_group_id.map(TargetGroupNumber))
        .collect();
    let known: HashMap<TargetGroupNumber, _> = if numbers.is_empty() {
        HashMap::new()
    } else {
        let filter = TargetGroupFilter {
            numbers,
            ..Default::default()
        };
        all_target_groups(state, actor, filter)
            .await?
            .into_iter()
            .map(|g| (g.number, g.id))
            .collect()
    };
    let mut errors = Vec::new();
    let mut requests = Vec::new();
    for (index, target) in refs.iter().enumerate() {
        let field = format!("targets[{index}].targetGroupId");
        match target.target_group_id {
            None => errors.push(FieldError::new(field, "is required")),
            Some(number) => match known.get(&TargetGroupNumber(number)) {
                Some(id) => requests.push(AssignmentRequest {
                    target_group_id: *id,
                    is_active: None,
                }),
                None => errors.push(FieldError::new(
                    field,
                    format!("no target group {number} exists in your organization"),
                )),
            },
        }
    }
    if errors.is_empty() {
        Ok(Some(requests))
    } else {
        Err(Problem::validation(&errors))
    }
}

/// FlexDeploy's view of `envs`, each with its targets, loaded for all of them at once.
async fn represent(
    state: &AppState,
    actor: &Actor,
    envs: Vec<Environment>,
) -> Result<Vec<EnvironmentV2>, Problem> {
    let ids: Vec<EnvironmentId> = envs.iter().map(|env| env.id).collect();
    let mut assignments = state.target_groups.assignments_for(actor, &ids).await?;
    Ok(envs
        .into_iter()
        .map(|env| EnvironmentV2 {
            targets: targets(assignments.remove(&env.id).unwrap_or_default()),
            description: env.description,
            is_active: env.is_active,
            environment_code: env.name.as_str().to_owned(),
            sort_number: env.order_index,
            environment_id: env.number.get(),
            is_build_environment: env.is_build_environment,
            environment_name: env.display_name,
        })
        .collect())
}

async fn one(
    state: &AppState,
    actor: &Actor,
    status: StatusCode,
    env: Environment,
) -> Result<HttpResponse, Problem> {
    let body = represent(state, actor, vec![env])
        .await?
        .pop()
        .ok_or_else(|| Problem::internal("empty representation"))?;
    Ok(HttpResponse::build(status).json(body))
}

/// Search parameters: every one given must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `search`.
pub struct EnvironmentSearch {
    /// The environment's number.
    environment_id: Option<i64>,
    /// Code equals this, ignoring case.
    environment_code: Option<String>,
    /// Name contains this, ignoring case.
    environment_name: Option<String>,
    /// `true` or `false`, ignoring case.
    is_active: Option<bool>,
    /// `true` or `false`, ignoring case.
    is_build_environment: Option<bool>,
    /// Sort number equals this.
    sort_number: Option<i32>,
}

async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let filter = EnvironmentFilter {
        number: q.integer("environmentId").map(EnvironmentNumber),
        name: q.text("environmentCode"),
        display_name: q.text("environmentName"),
        is_active: q.parsed("isActive", boolean),
        is_build_environment: q.parsed("isBuildEnvironment", boolean),
        order_index: q.parsed("sortNumber", |v| {
            v.parse::<i32>()
                .map_err(|_| format!("must be a whole number, not `{v}`"))
        }),
        ..Default::default()
    };
    q.finish()?;
    let envs = all_environments(&state, &actor, filter).await?;
    Ok(HttpResponse::Ok().json(represent(&state, &actor, envs).await?))
}

/// Find environments: every parameter given must match (`environmentCode` equals and
/// `environmentName` contains, both ignoring case); none lists every environment, unpaged.
#[utoipa::path(
    tag = "flexdeploy",
    params(EnvironmentSearch),
    responses(
        (status = 200, description = "Search successful and results returned", body = Vec<EnvironmentV2>),
        (status = 400, description = "Bad request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Authentication failure", body = Problem, content_type = "application/problem+json",
         headers(("WWW-Authenticate" = String, description = "Basic realm=\"terrane\""))),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/topology/environment")]
pub async fn search_environments(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
) -> Result<HttpResponse, Problem> {
    search(req, state, actor).await
}

/// The same search, at the path with a trailing slash that FlexDeploy's examples use.
#[utoipa::path(
    tag = "flexdeploy",
    params(EnvironmentSearch),
    responses(
        (status = 200, description = "Search successful and results returned", body = Vec<EnvironmentV2>),
        (status = 400, description = "Bad request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/topology/environment/")]
pub async fn search_environments_slash(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
) -> Result<HttpResponse, Problem> {
    search(req, state, actor).await
}

/// Get an environment by its number.
#[utoipa::path(
    tag = "flexdeploy",
    params(("id" = i64, Path, description = "The environment's number")),
    responses(
        (status = 200, description = "Environment was found and returned", body = EnvironmentV2),
        (status = 400, description = "Bad request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Environment not found", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/topology/environment/{id}")]
pub async fn get_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
) -> Result<HttpResponse, Problem> {
    let number = path_number(&req, "id")?;
    let env = environment_by_number(&state, &actor, number).await?;
    one(&state, &actor, StatusCode::OK, env).await
}

/// Create an environment: `environmentId` is ignored, `sortNumber` is generated when absent,
/// every listed target group is assigned, and an unknown one creates nothing (400).
#[utoipa::path(
    tag = "flexdeploy",
    request_body = EnvironmentV2CreateBodyDoc,
    responses(
        (status = 201, description = "Environment was created successfully", body = EnvironmentV2,
         headers(("Location" = String, description = "The new environment's URL"))),
        (status = 400, description = "Bad request: a missing or bad field, an unknown target group, a code taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/topology/environment")]
pub async fn create_environment(
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
    body: JsonBody<EnvironmentV2Body>,
) -> Result<HttpResponse, Problem> {
    let mut body = body.value;
    let missing = body.missing(Write::Post);
    if !missing.is_empty() {
        return Err(Problem::validation(&missing));
    }
    let groups = resolve(&state, &actor, body.targets.take()).await?;
    let input = body.into_input(Write::Post, groups);
    let env = state
        .environments
        .create(&actor, input)
        .await
        .map_err(|e| in_dialect(e.into(), NAMES))?
        .environment;
    let url = format!("{BASE}/topology/environment/{}", env.number);
    with_location(one(&state, &actor, StatusCode::CREATED, env).await?, &url)
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    mut body: EnvironmentV2Body,
    write: Write,
) -> Result<HttpResponse, Problem> {
    let number = path_number(&req, "id")?;
    let missing = body.missing(write);
    if !missing.is_empty() {
        return Err(Problem::validation(&missing));
    }
    let env = environment_by_number(&state, &actor, number).await?;
    let groups = resolve(&state, &actor, body.targets.take()).await?;
    let input = body.into_input(write, groups);
    let env = state
        .environments
        .update(&actor, env.id, None, input)
        .await
        .map_err(|e| in_dialect(e.into(), NAMES))?;
    one(&state, &actor, StatusCode::OK, env).await
}

/// Replace an environment: every required field must be given (400 naming the missing ones),
/// and its target groups become exactly `targets`.
#[utoipa::path(
    tag = "flexdeploy",
    params(("id" = i64, Path, description = "The environment's number")),
    request_body(content = EnvironmentV2PutBodyDoc, example = json!({
        "description": "This is the updated Environment 1",
        "targets": [{"targetGroupId": 15101}],
        "isActive": true,
        "environmentCode": "PUT2",
        "sortNumber": 2,
        "environmentId": 11101,
        "isBuildEnvironment": false,
        "environmentName": "PUT 2"
    })),
    responses(
        (status = 200, description = "Environment was found and updated", body = EnvironmentV2),
        (status = 400, description = "Bad request: a missing or bad field, an unknown target group, a code taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Environment not found", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[put("/topology/environment/{id}")]
pub async fn put_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
    body: JsonBody<EnvironmentV2Body>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, Write::Put).await
}

/// Change an environment: absent or null fields stay as they are, and the listed target
/// groups are added to its assignments.
#[utoipa::path(
    tag = "flexdeploy",
    params(("id" = i64, Path, description = "The environment's number")),
    request_body(content = EnvironmentV2Body, example = json!({
        "description": "This is Patch with some null attributes",
        "targets": [{"targetGroupId": 15101}, {"targetGroupId": 15102}],
        "isActive": null,
        "environmentCode": null,
        "sortNumber": 7,
        "environmentId": null,
        "isBuildEnvironment": false,
        "environmentName": "Patch with some null"
    })),
    responses(
        (status = 200, description = "Environment was found and patched", body = EnvironmentV2),
        (status = 400, description = "Bad request: a bad field, an unknown target group, a code taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Environment not found", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[patch("/topology/environment/{id}")]
pub async fn patch_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
    body: JsonBody<EnvironmentV2Body>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, Write::Patch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> EnvironmentV2Body {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn put_names_every_missing_required_field_and_post_needs_no_sort_number_or_id() {
        let empty = body(serde_json::json!({"description": "d", "isActive": null}));
        let fields =
            |write| -> Vec<String> { empty.missing(write).into_iter().map(|e| e.field).collect() };
        assert_eq!(
            fields(Write::Put),
            [
                "isActive",
                "environmentCode",
                "sortNumber",
                "environmentId",
                "isBuildEnvironment",
                "environmentName"
            ]
        );
        assert_eq!(
            fields(Write::Post),
            [
                "isActive",
                "environmentCode",
                "isBuildEnvironment",
                "environmentName"
            ]
        );
        assert!(fields(Write::Patch).is_empty());
    }

    #[test]
    fn put_replaces_the_assignments_and_clears_an_absent_description_patch_adds_and_keeps() {
        let put = body(serde_json::json!({"environmentCode": "PUT2"})).into_input(Write::Put, None);
        assert_eq!(put.description, Some(None));
        assert_eq!(put.target_groups.unwrap().mode, AssignmentMode::Replace);
        let patch = body(serde_json::json!({"description": null, "environmentCode": null}))
            .into_input(Write::Patch, Some(vec![]));
        assert_eq!((patch.description, patch.name), (None, None));
        assert_eq!(patch.target_groups.unwrap().mode, AssignmentMode::Add);
    }
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`EnvironmentV2Body`]).
    EnvironmentV2CreateBodyDoc as "EnvironmentV2CreateBody" = EnvironmentV2Body, ["environmentCode", "environmentName", "isActive", "isBuildEnvironment"]
);
crate::schema::requiring_schema!(
    /// What a `PUT` takes (see [`EnvironmentV2Body`]).
    EnvironmentV2PutBodyDoc as "EnvironmentV2PutBody" = EnvironmentV2Body, ["environmentId", "environmentCode", "environmentName", "isActive", "isBuildEnvironment", "sortNumber"]
);
