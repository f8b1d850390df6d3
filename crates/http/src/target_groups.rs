//! `/api/v1/target-groups` and `/api/v1/environments/{envId}/target-groups`: the HTTP face of
//! the target group use cases, and the assignment shapes environments read and write.

use crate::auth::Authenticated;
use crate::environments::Deleted;
use crate::extract::{etag, if_match, not_modified, path_id, with_location, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use terrane_domain::{
    Assignment, AssignmentRequest, EnvironmentId, FieldError, Page, TargetGroup, TargetGroupFilter,
    TargetGroupId, TargetGroupInput, TargetGroupNumber,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A target group listed in an environment's `targetGroups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"targetGroupId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70"}))]
pub struct TargetGroupRef {
    /// A target group of your organization.
    pub target_group_id: Uuid,
    /// The assignment's active flag: new assignments default to true, existing ones keep
    /// theirs unless this is given.
    #[schema(example = true)]
    pub is_active: Option<bool>,
}

impl From<TargetGroupRef> for AssignmentRequest {
    fn from(body: TargetGroupRef) -> Self {
        AssignmentRequest {
            target_group_id: TargetGroupId(body.target_group_id),
            is_active: body.is_active,
        }
    }
}

/// A target group assigned to an environment (FlexDeploy's "target").
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "assignmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a71",
    "number": 10001,
    "targetGroupId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
    "name": "web",
    "isActive": true
}))]
pub struct AssignmentResponse {
    /// The assignment's id.
    pub assignment_id: Uuid,
    /// The assignment's server-wide number (FlexDeploy's `targetId`).
    #[schema(example = 10001)]
    pub number: i64,
    /// The group.
    pub target_group_id: Uuid,
    /// The group's name.
    pub name: String,
    /// Whether the assignment is in use.
    pub is_active: bool,
}

impl From<Assignment> for AssignmentResponse {
    fn from(assignment: Assignment) -> Self {
        Self {
            assignment_id: assignment.id.as_uuid(),
            number: assignment.number.get(),
            target_group_id: assignment.target_group_id.as_uuid(),
            name: assignment.target_group_name.as_str().to_owned(),
            is_active: assignment.is_active,
        }
    }
}

/// Distinguishes an explicit `null` (`Some(None)`) from an absent field (`None`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A target group as a client writes it. On `PUT`, absent fields stay and `null` clears
/// `description` (`name` cannot be null).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "web", "displayName": "Web tier", "description": "The web tier"}))]
pub struct TargetGroupBody {
    /// 1 to 100 letters, digits, `.`, `_` or `-`, starting with a letter or digit; its case
    /// is kept; unique in the organization ignoring case.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false, example = "web", pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    pub name: Option<Option<String>>,
    /// What people read, 1 to 100 characters; defaults to the name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false, example = "Web tier", pattern = "\\S", max_length = 100)]
    pub display_name: Option<Option<String>>,
    /// Whether the group is in use; defaults to true.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool, required = false, example = true)]
    pub is_active: Option<Option<bool>>,
    /// Free text, at most 2000 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "The web tier")]
    pub description: Option<Option<String>>,
}

impl TargetGroupBody {
    /// The input: on create `null` means absent; on `PUT` `null` clears the description and
    /// is refused for the name.
    fn into_input(self, put: bool) -> Result<TargetGroupInput, Problem> {
        let mut errors = Vec::new();
        let mut not_null = |value: Option<Option<_>>, field: &str| match value {
            Some(None) if put => {
                errors.push(FieldError::new(
                    field,
                    "must not be null; omit it to keep the current value",
                ));
                None
            }
            other => other.flatten(),
        };
        let name = not_null(self.name, "name");
        let display_name = not_null(self.display_name, "displayName");
        let is_active = match self.is_active {
            Some(None) if put => {
                errors.push(FieldError::new(
                    "isActive",
                    "must not be null; omit it to keep the current value",
                ));
                None
            }
            other => other.flatten(),
        };
        let description = if put {
            self.description
        } else {
            self.description.flatten().map(Some)
        };
        if !errors.is_empty() {
            return Err(Problem::validation(&errors));
        }
        Ok(TargetGroupInput {
            name,
            display_name,
            description,
            is_active,
        })
    }
}

/// A target group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
    "number": 15100,
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "web",
    "displayName": "Web tier",
    "description": "The web tier",
    "isActive": true,
    "version": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "updatedAt": "2026-01-10T14:23:45Z"
}))]
pub struct TargetGroupResponse {
    /// Id.
    pub id: Uuid,
    /// Server-wide number, for clients that address groups by number (FlexDeploy's
    /// `targetGroupId`).
    pub number: i64,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// Unique name (ignoring case).
    pub name: String,
    /// What people read.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// Whether the group is in use.
    pub is_active: bool,
    /// Bumped by every change; also the ETag.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<TargetGroup> for TargetGroupResponse {
    fn from(group: TargetGroup) -> Self {
        Self {
            id: group.id.as_uuid(),
            number: group.number.get(),
            organization_id: group.tenant.as_uuid(),
            name: group.name.as_str().to_owned(),
            display_name: group.display_name,
            description: group.description,
            is_active: group.is_active,
            version: group.version,
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}

/// Paging of a target group list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed in `page`.
pub struct TargetGroupListParams {
    /// Name equals this, ignoring case (`/api/v1/target-groups` only).
    name: Option<String>,
    /// Display name contains this, ignoring case (`/api/v1/target-groups` only).
    display_name: Option<String>,
    /// Number equals this (`/api/v1/target-groups` only).
    number: Option<i64>,
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

fn page(req: &HttpRequest) -> Result<Page, Problem> {
    let q = Query::of(req)?;
    paged(q)
}

fn paged(mut q: Query) -> Result<Page, Problem> {
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(page)
}

fn respond(status: StatusCode, group: TargetGroup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(group.version)))
        .json(TargetGroupResponse::from(group))
}

fn listing(req: &HttpRequest, page: Page, groups: Vec<TargetGroup>, total: u64) -> HttpResponse {
    crate::paging::page_of(req, page, total).json(
        groups
            .into_iter()
            .map(TargetGroupResponse::from)
            .collect::<Vec<_>>(),
    )
}

/// Create a target group and assign it to the environment, in one step.
#[utoipa::path(
    tag = "target-groups",
    params(("envId" = Uuid, Path, description = "Environment id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    request_body = TargetGroupCreateBodyDoc,
    responses(
        (status = 201, description = "Created and assigned", body = TargetGroupResponse,
         headers(("Location" = String, description = "The new group's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environments/{envId}/target-groups")]
pub async fn create_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TargetGroupBody>,
) -> Result<HttpResponse, Problem> {
    let environment = EnvironmentId(path_id(&req, "envId")?);
    let input = body.value.into_input(false)?;
    idempotent(&req, &state, &actor, &body.raw, || async {
        let group = state
            .target_groups
            .create_in_environment(&actor, environment, input)
            .await?;
        let url = format!("/api/v1/target-groups/{}", group.id);
        with_location(respond(StatusCode::CREATED, group), &url)
    })
    .await
}

/// List the target groups assigned to an environment, ordered by name.
#[utoipa::path(
    tag = "target-groups",
    params(("envId" = Uuid, Path, description = "Environment id"), EnvironmentTargetGroupParams),
    responses(
        (status = 200, description = "The page of the environment's groups", body = Vec<TargetGroupResponse>,
         headers(("X-Total-Count" = u64, description = "Groups assigned to the environment, over all pages"))),
        (status = 400, description = "Bad id or paging", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{envId}/target-groups")]
pub async fn list_environment_target_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let environment = EnvironmentId(path_id(&req, "envId")?);
    let page = page(&req)?;
    let filter = TargetGroupFilter {
        environment: Some(environment),
        ..Default::default()
    };
    let (groups, total) = state.target_groups.list(&actor, filter, page).await?;
    Ok(listing(&req, page, groups, total))
}

/// Paging of an environment's target groups (no filters).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed by `page`.
pub struct EnvironmentTargetGroupParams {
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

/// List the target groups of your organization, ordered by name; the filters combine.
#[utoipa::path(
    tag = "target-groups",
    params(TargetGroupListParams),
    responses(
        (status = 200, description = "The page of groups", body = Vec<TargetGroupResponse>,
         headers(("X-Total-Count" = u64, description = "Groups over all pages"))),
        (status = 400, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/target-groups")]
pub async fn list_target_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let filter = TargetGroupFilter {
        name: q.text("name"),
        display_name: q.text("displayName"),
        numbers: q
            .integer("number")
            .map(TargetGroupNumber)
            .into_iter()
            .collect(),
        environment: None,
    };
    let page = paged(q)?;
    let (groups, total) = state.target_groups.list(&actor, filter, page).await?;
    Ok(listing(&req, page, groups, total))
}

/// Get one target group. `If-None-Match` with its current ETag answers 304.
#[utoipa::path(
    tag = "target-groups",
    params(("id" = Uuid, Path, description = "Target group id")),
    responses(
        (status = 200, description = "The group", body = TargetGroupResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such group in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/target-groups/{id}")]
pub async fn get_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetGroupId(path_id(&req, "id")?);
    let group = state.target_groups.get(&actor, id).await?;
    if not_modified(&req, group.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(group.version)))
            .finish());
    }
    Ok(respond(StatusCode::OK, group))
}

/// Replace fields of a target group: fields present replace, fields absent stay, `null`
/// clears `description`.
#[utoipa::path(
    tag = "target-groups",
    params(("id" = Uuid, Path, description = "Target group id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = TargetGroupBody,
    responses(
        (status = 200, description = "Updated", body = TargetGroupResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/target-groups/{id}")]
pub async fn put_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TargetGroupBody>,
) -> Result<HttpResponse, Problem> {
    let id = TargetGroupId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let input = body.value.into_input(true)?;
    let group = state
        .target_groups
        .update(&actor, id, expected, input)
        .await?;
    Ok(respond(StatusCode::OK, group))
}

/// Delete a target group and its assignments. A group that still has targets is kept (409
/// naming them): move or delete them first.
#[utoipa::path(
    tag = "target-groups",
    params(("id" = Uuid, Path, description = "Target group id"),
           ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The group still has targets", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/target-groups/{id}")]
pub async fn delete_target_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetGroupId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    state.target_groups.delete(&actor, id, expected).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`TargetGroupBody`]).
    TargetGroupCreateBodyDoc as "TargetGroupCreateBody" = TargetGroupBody, ["name"]
);
