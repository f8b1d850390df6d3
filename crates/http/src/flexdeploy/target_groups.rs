//! `/flexdeploy/rest/v2/topology/targetgroup`: FlexDeploy's Target Group API v2, so that a
//! FlexDeploy script can find (and make) the target group numbers it sends environments.

use super::environments::{targets, Target};
use super::{all_target_groups, in_dialect, path_number, FlexDeployAuthenticated, BASE};
use crate::extract::{with_location, JsonBody, Query};
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use terrane_domain::{
    Actor, FieldError, TargetGroup, TargetGroupFilter, TargetGroupId, TargetGroupInput,
    TargetGroupNumber,
};
use utoipa::{IntoParams, ToSchema};

/// How the use cases name the fields of this API.
const NAMES: &[(&str, &str)] = &[
    ("name", "targetGroupCode"),
    ("displayName", "targetGroupName"),
];

/// Distinguishes an explicit `null` (`Some(None)`) from an absent field (`None`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A target group, as FlexDeploy shows it. terrane keeps no group codes, property sets or
/// deployment-target flag: those fields are always empty (`null`, `[]`, `false`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlexDeployTargetGroup, example = json!({
    "description": "The web tier",
    "targets": [{"targetGroupId": 15100, "isActive": true, "targetId": 10001, "environmentId": 11101}],
    "workflowPropertySets": [],
    "targetGroupId": 15100,
    "targetGroupName": "Web tier",
    "isActive": true,
    "pluginOperationPropertySets": [],
    "targetGroupCode": "WEB",
    "groupCode": null,
    "subGroupCode": null,
    "isDeploymentTarget": false
}))]
pub struct TargetGroupV2 {
    /// Free text.
    pub description: Option<String>,
    /// Its assignments to environments.
    pub targets: Vec<Target>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub workflow_property_sets: Vec<serde_json::Value>,
    /// Its number.
    pub target_group_id: i64,
    /// Its name: terrane's `displayName`.
    pub target_group_name: String,
    /// Whether it is in use.
    pub is_active: bool,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub plugin_operation_property_sets: Vec<serde_json::Value>,
    /// Its code: terrane's `name`, case kept, unique ignoring case.
    pub target_group_code: String,
    /// Always null.
    pub group_code: Option<String>,
    /// Always null.
    pub sub_group_code: Option<String>,
    /// Always false.
    pub is_deployment_target: bool,
}

/// A target group as a FlexDeploy client writes it. `targetGroupId`, `targets`, the group
/// codes, the property sets and `isDeploymentTarget` are ignored (assign groups through the
/// environment API).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlexDeployTargetGroupBody, example = json!({
    "description": "The web tier",
    "targetGroupName": "Web tier",
    "isActive": true,
    "targetGroupCode": "WEB"
}))]
pub struct TargetGroupV2Body {
    /// Free text.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Required on `POST` and `PUT`: 1 to 100 letters, digits, `.`, `_` or `-`, unique
    /// ignoring case.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    pub target_group_code: Option<String>,
    /// Required on `PUT`; on `POST` defaults to the code.
    pub target_group_name: Option<String>,
    /// Required on `PUT`; on `POST` defaults to true.
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Post,
    Put,
    Patch,
}

impl TargetGroupV2Body {
    fn into_input(self, write: Write) -> Result<TargetGroupInput, Problem> {
        let required: &[(&str, bool)] = match write {
            Write::Post => &[("targetGroupCode", self.target_group_code.is_some())],
            Write::Put => &[
                ("targetGroupCode", self.target_group_code.is_some()),
                ("targetGroupName", self.target_group_name.is_some()),
                ("isActive", self.is_active.is_some()),
            ],
            Write::Patch => &[],
        };
        let missing: Vec<FieldError> = required
            .iter()
            .filter(|(_, present)| !present)
            .map(|(field, _)| FieldError::new(*field, "is required"))
            .collect();
        if !missing.is_empty() {
            return Err(Problem::validation(&missing));
        }
        Ok(TargetGroupInput {
            name: self.target_group_code,
            display_name: self.target_group_name,
            description: match write {
                Write::Put => Some(self.description.flatten()),
                Write::Post | Write::Patch => self.description.flatten().map(Some),
            },
            is_active: self.is_active,
        })
    }
}

async fn represent(
    state: &AppState,
    actor: &Actor,
    groups: Vec<TargetGroup>,
) -> Result<Vec<TargetGroupV2>, Problem> {
    let ids: Vec<TargetGroupId> = groups.iter().map(|g| g.id).collect();
    let mut assignments = state
        .target_groups
        .assignments_of_groups(actor, &ids)
        .await?;
    Ok(groups
        .into_iter()
        .map(|group| TargetGroupV2 {
            targets: targets(assignments.remove(&group.id).unwrap_or_default()),
            description: group.description,
            workflow_property_sets: Vec::new(),
            target_group_id: group.number.get(),
            target_group_name: group.display_name,
            is_active: group.is_active,
            plugin_operation_property_sets: Vec::new(),
            target_group_code: group.name.as_str().to_owned(),
            group_code: None,
            sub_group_code: None,
            is_deployment_target: false,
        })
        .collect())
}

async fn one(
    state: &AppState,
    actor: &Actor,
    status: StatusCode,
    group: TargetGroup,
) -> Result<HttpResponse, Problem> {
    let body = represent(state, actor, vec![group])
        .await?
        .pop()
        .ok_or_else(|| Problem::internal("empty representation"))?;
    Ok(HttpResponse::build(status).json(body))
}

async fn by_number(state: &AppState, actor: &Actor, number: i64) -> Result<TargetGroup, Problem> {
    let filter = TargetGroupFilter {
        numbers: vec![TargetGroupNumber(number)],
        ..Default::default()
    };
    all_target_groups(state, actor, filter)
        .await?
        .pop()
        .ok_or_else(|| Problem::not_found("target group"))
}

/// Search parameters: every one given must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `search`.
pub struct TargetGroupSearch {
    /// The group's number.
    target_group_id: Option<i64>,
    /// Code equals this, ignoring case.
    target_group_code: Option<String>,
    /// Name contains this, ignoring case.
    target_group_name: Option<String>,
    /// terrane keeps no group codes: given, nothing matches.
    group_code: Option<String>,
    /// terrane keeps no sub-group codes: given, nothing matches.
    sub_group_code: Option<String>,
}

async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let filter = TargetGroupFilter {
        numbers: q
            .integer("targetGroupId")
            .map(TargetGroupNumber)
            .into_iter()
            .collect(),
        name: q.text("targetGroupCode"),
        display_name: q.text("targetGroupName"),
        environment: None,
    };
    let codes_asked = q.text("groupCode").is_some() | q.text("subGroupCode").is_some();
    q.finish()?;
    if codes_asked {
        // No group has one, so none matches.
        return Ok(HttpResponse::Ok().json(Vec::<TargetGroupV2>::new()));
    }
    let groups = all_target_groups(&state, &actor, filter).await?;
    Ok(HttpResponse::Ok().json(represent(&state, &actor, groups).await?))
}

/// Find target groups: every parameter given must match (`targetGroupCode` equals and
/// `targetGroupName` contains, both ignoring case); none lists every group, unpaged.
#[utoipa::path(
    tag = "flexdeploy",
    params(TargetGroupSearch),
    responses(
        (status = 200, description = "Search successful and results returned", body = Vec<TargetGroupV2>),
        (status = 400, description = "Bad request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Authentication failure", body = Problem, content_type = "application/problem+json",
         headers(("WWW-Authenticate" = String, description = "Basic realm=\"terrane\""))),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/topology/targetgroup")]
pub async fn search_target_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
) -> Result<HttpResponse, Problem> {
    search(req, state, actor).await
}

/// The same search, at the path with a trailing slash.
#[utoipa::path(
    tag = "flexdeploy",
    params(TargetGroupSearch),
    responses(
        (status = 200, description = "Search successful and results returned", body = Vec<TargetGroupV2>),
        (status = 400, description = "Bad request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/topology/targetgroup/")]
pub async fn search_target_groups_slash(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
) -> Result<HttpResponse, Problem> {
    search(req, state, actor).await
}

/// Get a target group by its number.
#[utoipa::path(
    tag = "flexdeploy",
    params(("id" = i64, Path, description = "The target group's number")),
    responses(
        (status = 200, description = "Target group was found and returned", body = TargetGroupV2),
        (status = 400, description = "Bad request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Target group not found", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/topology/targetgroup/{id}")]
pub async fn get_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
) -> Result<HttpResponse, Problem> {
    let number = path_number(&req, "id")?;
    let group = by_number(&state, &actor, number).await?;
    one(&state, &actor, StatusCode::OK, group).await
}

/// Create a target group, assigned to no environment.
#[utoipa::path(
    tag = "flexdeploy",
    request_body = TargetGroupV2CreateBodyDoc,
    responses(
        (status = 201, description = "Target group was created successfully", body = TargetGroupV2,
         headers(("Location" = String, description = "The new group's URL"))),
        (status = 400, description = "Bad request: a missing or bad field, a code taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/topology/targetgroup")]
pub async fn create_target_group(
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
    body: JsonBody<TargetGroupV2Body>,
) -> Result<HttpResponse, Problem> {
    let input = body.value.into_input(Write::Post)?;
    let group = state
        .target_groups
        .create(&actor, input)
        .await
        .map_err(|e| in_dialect(e.into(), NAMES))?;
    let url = format!("{BASE}/topology/targetgroup/{}", group.number);
    with_location(one(&state, &actor, StatusCode::CREATED, group).await?, &url)
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    body: TargetGroupV2Body,
    write: Write,
) -> Result<HttpResponse, Problem> {
    let number = path_number(&req, "id")?;
    let input = body.into_input(write)?;
    let group = by_number(&state, &actor, number).await?;
    let group = state
        .target_groups
        .update(&actor, group.id, None, input)
        .await
        .map_err(|e| in_dialect(e.into(), NAMES))?;
    one(&state, &actor, StatusCode::OK, group).await
}

/// Replace a target group: `targetGroupCode`, `targetGroupName` and `isActive` are required,
/// an absent `description` is cleared.
#[utoipa::path(
    tag = "flexdeploy",
    params(("id" = i64, Path, description = "The target group's number")),
    request_body = TargetGroupV2PutBodyDoc,
    responses(
        (status = 200, description = "Target group was found and updated", body = TargetGroupV2),
        (status = 400, description = "Bad request: a missing or bad field, a code taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Target group not found", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[put("/topology/targetgroup/{id}")]
pub async fn put_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
    body: JsonBody<TargetGroupV2Body>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, Write::Put).await
}

/// Change a target group: absent or null fields stay as they are.
#[utoipa::path(
    tag = "flexdeploy",
    params(("id" = i64, Path, description = "The target group's number")),
    request_body = TargetGroupV2Body,
    responses(
        (status = 200, description = "Target group was found and patched", body = TargetGroupV2),
        (status = 400, description = "Bad request: a bad field, a code taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Authorization failure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Target group not found", body = Problem, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[patch("/topology/targetgroup/{id}")]
pub async fn patch_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    FlexDeployAuthenticated(actor): FlexDeployAuthenticated,
    body: JsonBody<TargetGroupV2Body>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, Write::Patch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> TargetGroupV2Body {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn put_needs_code_name_and_flag_post_only_the_code_patch_nothing() {
        let fields = |write| -> Vec<String> {
            match body(serde_json::json!({"groupCode": "x"})).into_input(write) {
                Ok(_) => vec![],
                Err(problem) => problem.errors.into_iter().map(|e| e.field).collect(),
            }
        };
        assert_eq!(
            fields(Write::Put),
            ["targetGroupCode", "targetGroupName", "isActive"]
        );
        assert_eq!(fields(Write::Post), ["targetGroupCode"]);
        assert!(fields(Write::Patch).is_empty());
    }
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`TargetGroupV2Body`]).
    TargetGroupV2CreateBodyDoc as "TargetGroupV2CreateBody" = TargetGroupV2Body, ["targetGroupCode"]
);
crate::schema::requiring_schema!(
    /// What a `PUT` takes (see [`TargetGroupV2Body`]).
    TargetGroupV2PutBodyDoc as "TargetGroupV2PutBody" = TargetGroupV2Body, ["targetGroupCode", "targetGroupName", "isActive"]
);
