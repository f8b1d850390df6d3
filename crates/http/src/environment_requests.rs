//! `/api/v1/environment-requests`: self-service environment requests, and the time to live
//! of environments (`/api/v1/environments/{id}/ttl`).

use crate::auth::Authenticated;
use crate::extract::{
    etag, if_match, not_modified, path_id, with_location, JsonBody, OptionalJsonBody, Query,
};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{
    EnvironmentId, EnvironmentRequest, EnvironmentRequestId, EnvironmentTier, EnvironmentType,
    Page, RequestFilter, RequestHistoryEntry, RequestInput, RequestPatch, RequestStatus, TenantId,
    UserId,
};
use terrane_ports::RequestQuery;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

const REQUESTS: &str = "/api/v1/environment-requests";

fn type_schema() -> utoipa::openapi::Object {
    string_enum(EnvironmentType::ALL.iter().map(|t| t.as_str()), "ephemeral")
}

fn tier_schema() -> utoipa::openapi::Object {
    string_enum(EnvironmentTier::ALL.iter().map(|t| t.as_str()), "small")
}

fn status_schema() -> utoipa::openapi::Object {
    string_enum(RequestStatus::ALL.iter().map(|s| s.as_str()), "pending")
}

/// A status or `null` (the history's `from` of a submission).
fn from_status_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let values = RequestStatus::ALL
        .iter()
        .map(|s| serde_json::Value::from(s.as_str()))
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .examples([serde_json::Value::from("pending")])
        .build()
}

/// A request for an environment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "feature-xyz-preview",
    "description": "Preview environment for feature XYZ",
    "type": "ephemeral",
    "tier": "small",
    "ttlHours": 48
}))]
pub struct CreateRequestBody {
    /// The environment's name: 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending
    /// with a letter or digit, not taken by an environment or another open request of your
    /// organization.
    #[schema(example = "feature-xyz-preview")]
    pub name: Option<String>,
    /// Why it is needed, at most 2000 characters.
    pub description: Option<String>,
    /// `ephemeral` (expires after `ttlHours`) or `persistent` (never expires).
    #[serde(rename = "type")]
    #[schema(schema_with = type_schema)]
    pub environment_type: Option<String>,
    /// `small`, `medium` or `large`.
    #[schema(schema_with = tier_schema)]
    pub tier: Option<String>,
    /// Ephemeral only: hours it lives once provisioned (default and maximum set by the
    /// server, 24 and 720 unless configured). Refused for persistent environments.
    #[schema(example = 48)]
    pub ttl_hours: Option<i64>,
    /// The component of your catalog it serves.
    pub component_id: Option<Uuid>,
}

impl From<CreateRequestBody> for RequestInput {
    fn from(body: CreateRequestBody) -> Self {
        RequestInput {
            name: body.name,
            description: body.description,
            environment_type: body.environment_type,
            tier: body.tier,
            ttl_hours: body.ttl_hours,
            component_id: body.component_id,
        }
    }
}

/// Changes to a pending request; absent and `null` fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"ttlHours": 72}))]
pub struct PatchRequestBody {
    /// A new environment name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new time to live in hours (ephemeral only).
    pub ttl_hours: Option<i64>,
}

impl From<PatchRequestBody> for RequestPatch {
    fn from(body: PatchRequestBody) -> Self {
        RequestPatch {
            name: body.name,
            description: body.description.map(Some),
            ttl_hours: body.ttl_hours,
        }
    }
}

/// An admin's review; the body may be omitted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Use the existing staging environment instead"}))]
pub struct ReviewBody {
    /// Optional, at most 2000 characters.
    pub comment: Option<String>,
}

/// A time to live set on an environment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"minutes": 120}))]
pub struct TtlBody {
    /// Minutes from now until the environment expires (at least 1, at most the server's
    /// maximum time to live).
    #[schema(example = 120)]
    pub minutes: Option<i64>,
}

/// An environment request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "name": "feature-xyz-preview",
    "description": "Preview environment for feature XYZ",
    "type": "ephemeral",
    "tier": "small",
    "ttlHours": 48,
    "componentId": null,
    "status": "pending",
    "statusMessage": null,
    "requestedBy": "01936f6e-0000-7000-8000-0000000000a1",
    "reviewedBy": null,
    "reviewComment": null,
    "environmentId": null,
    "provisionedAt": null,
    "expiresAt": null,
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "version": 1,
    "createdAt": "2024-01-01T00:00:00Z",
    "updatedAt": "2024-01-01T00:00:00Z"
}))]
pub struct EnvironmentRequestResponse {
    /// Id.
    pub id: Uuid,
    /// The environment's name.
    pub name: String,
    /// Why it is needed.
    pub description: Option<String>,
    /// `ephemeral` or `persistent`.
    #[serde(rename = "type")]
    #[schema(schema_with = type_schema)]
    pub environment_type: &'static str,
    /// `small`, `medium` or `large`.
    #[schema(schema_with = tier_schema)]
    pub tier: &'static str,
    /// Hours it lives once provisioned (ephemeral only).
    pub ttl_hours: Option<u32>,
    /// The component it serves.
    pub component_id: Option<Uuid>,
    /// `pending`, `approved`, `rejected`, `provisioning`, `active`, `expired` or `failed`.
    #[schema(schema_with = status_schema)]
    pub status: &'static str,
    /// Why it is where it is (a rejection, a provisioning failure, an expiry).
    pub status_message: Option<String>,
    /// Who asked.
    pub requested_by: Uuid,
    /// The admin who approved or rejected it.
    pub reviewed_by: Option<Uuid>,
    /// What that admin said.
    pub review_comment: Option<String>,
    /// The environment it produced, once active.
    pub environment_id: Option<Uuid>,
    /// When its environment was made.
    pub provisioned_at: Option<DateTime<Utc>>,
    /// When its environment expires (ephemeral only).
    pub expires_at: Option<DateTime<Utc>>,
    /// The organization it belongs to.
    pub organization_id: Uuid,
    /// Bumped by every change; also the ETag.
    pub version: i64,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<EnvironmentRequest> for EnvironmentRequestResponse {
    fn from(request: EnvironmentRequest) -> Self {
        Self {
            id: request.id.as_uuid(),
            name: request.name.as_str().to_owned(),
            description: request.description,
            environment_type: request.environment_type.as_str(),
            tier: request.tier.as_str(),
            ttl_hours: request.ttl_hours,
            component_id: request.component_id.map(|c| c.as_uuid()),
            status: request.status.as_str(),
            status_message: request.status_message,
            requested_by: request.requested_by.as_uuid(),
            reviewed_by: request.reviewed_by.map(|u| u.as_uuid()),
            review_comment: request.review_comment,
            environment_id: request.environment_id.map(|e| e.as_uuid()),
            provisioned_at: request.provisioned_at,
            expires_at: request.expires_at,
            organization_id: request.tenant.as_uuid(),
            version: request.version,
            created_at: request.created_at,
            updated_at: request.updated_at,
        }
    }
}

/// A page of environment requests.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
        "name": "feature-xyz-preview",
        "description": "Preview environment for feature XYZ",
        "type": "ephemeral",
        "tier": "small",
        "ttlHours": 48,
        "componentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a90",
        "status": "pending",
        "statusMessage": null,
        "requestedBy": "01936f6e-0000-7000-8000-0000000000a1",
        "reviewedBy": null,
        "reviewComment": null,
        "environmentId": null,
        "provisionedAt": null,
        "expiresAt": null,
        "organizationId": "01936f6e-0000-7000-8000-000000000001",
        "version": 1,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-01-01T00:00:00Z"
    }],
    "total": 1,
    "skip": 0,
    "take": 20
}))]
pub struct RequestPage {
    /// The requests of this page, newest first.
    pub data: Vec<EnvironmentRequestResponse>,
    /// Requests matching the filters, over all pages.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

/// One move of a request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "from": "pending",
    "to": "approved",
    "actor": "01936f6e-0000-7000-8000-0000000000b1",
    "at": "2024-01-01T00:00:05Z",
    "message": "Approved for provisioning",
    "comment": "Enjoy"
}))]
pub struct HistoryEntryResponse {
    /// The status before; `null` for the submission.
    #[schema(schema_with = from_status_schema)]
    pub from: Option<&'static str>,
    /// The status after.
    #[schema(schema_with = status_schema)]
    pub to: &'static str,
    /// Who made the move; `null` when terrane made it (provisioning, the TTL reaper).
    pub actor: Option<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened.
    pub message: Option<String>,
    /// The reviewer's comment, for approvals and rejections.
    pub comment: Option<String>,
}

impl From<RequestHistoryEntry> for HistoryEntryResponse {
    fn from(entry: RequestHistoryEntry) -> Self {
        Self {
            from: entry.from.map(|s| s.as_str()),
            to: entry.to.as_str(),
            actor: entry.actor.map(|u| u.as_uuid()),
            at: entry.at,
            message: entry.message,
            comment: entry.comment,
        }
    }
}

/// Filters and paging of the request list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `list_query`.
pub struct RequestListParams {
    /// Status equals this.
    #[param(schema_with = status_schema)]
    status: Option<String>,
    /// Type equals this (`ephemeral`, `persistent`).
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = type_schema)]
    environment_type: Option<String>,
    /// Requested by this user id.
    requested_by: Option<Uuid>,
    /// Organization id: yours, or (any other) nothing is listed.
    organization_id: Option<Uuid>,
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

fn list_query(req: &HttpRequest) -> Result<RequestQuery, Problem> {
    let mut q = Query::of(req)?;
    let filter = RequestFilter {
        status: q.parsed("status", |v| v.parse()),
        environment_type: q.parsed("type", |v| v.parse()),
        requested_by: q.uuid("requestedBy").map(UserId),
    };
    let organization_id = q.uuid("organizationId").map(TenantId);
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(RequestQuery {
        filter,
        organization_id,
        page,
    })
}

/// One request's response with its ETag.
fn one(status: StatusCode, request: EnvironmentRequest) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(request.version)))
        .json(EnvironmentRequestResponse::from(request))
}

fn request_id(req: &HttpRequest) -> Result<EnvironmentRequestId, Problem> {
    path_id(req, "id").map(EnvironmentRequestId)
}

/// Request an environment.
#[utoipa::path(
    tag = "environment-requests",
    request_body = CreateRequestBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Submitted, pending review", body = EnvironmentRequestResponse,
         headers(("Location" = String, description = "The new request's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Invalid fields (a time to live for a persistent environment, one over the maximum, an unknown component)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A viewer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken by an environment or another open request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environment-requests")]
pub async fn create_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<CreateRequestBody>,
) -> Result<HttpResponse, Problem> {
    let input = RequestInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let request = state.requests.create(&actor, input).await?;
        let url = format!("{REQUESTS}/{}", request.id);
        with_location(one(StatusCode::CREATED, request), &url)
    })
    .await
}

/// List environment requests, newest first.
#[utoipa::path(
    tag = "environment-requests",
    params(RequestListParams),
    responses(
        (status = 200, description = "A page of requests", body = RequestPage),
        (status = 400, description = "Bad filter or page", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environment-requests")]
pub async fn list_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let query = list_query(&req)?;
    let page = query.page;
    let (requests, total) = state.requests.list(&actor, query).await?;
    Ok(crate::paging::page_of(&req, page, total).json(RequestPage {
        data: requests
            .into_iter()
            .map(EnvironmentRequestResponse::from)
            .collect(),
        total,
        skip: page.skip(),
        take: page.take(),
    }))
}

/// Get one environment request. `If-None-Match` with its current ETag answers 304.
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id")),
    responses(
        (status = 200, description = "The request", body = EnvironmentRequestResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such request in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environment-requests/{id}")]
pub async fn get_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let request = state.requests.get(&actor, request_id(&req)?).await?;
    if not_modified(&req, request.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(request.version)))
            .finish());
    }
    Ok(one(StatusCode::OK, request))
}

/// Change a pending request: its name, description or time to live (its requester or an
/// admin). Absent and `null` fields stay as they are.
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = PatchRequestBody,
    responses(
        (status = 200, description = "Updated", body = EnvironmentRequestResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields, or the request is no longer pending", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the requester nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/environment-requests/{id}")]
pub async fn patch_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<PatchRequestBody>,
) -> Result<HttpResponse, Problem> {
    let id = request_id(&req)?;
    let expected = if_match(&req)?;
    let request = state
        .requests
        .update(&actor, id, expected, body.value.into())
        .await?;
    Ok(one(StatusCode::OK, request))
}

/// Delete a pending request (admin).
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The request is no longer pending", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/environment-requests/{id}")]
pub async fn delete_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = request_id(&req)?;
    let expected = if_match(&req)?;
    state.requests.delete(&actor, id, expected).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Approve a pending request (admin) and provision its environment. With the built-in
/// provisioner the answer is `active`, with its `environmentId`, `provisionedAt` and (for an
/// ephemeral request) `expiresAt`. With a provisioning command it is `provisioning`: the
/// command runs in the background and the request becomes `active` or `failed`. When
/// separation of duties is required, nobody approves their own request.
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "Only approve if this is still the current ETag")),
    request_body(content = Option<ReviewBody>, description = "Optional"),
    responses(
        (status = 200, description = "Approved: active, or provisioning in the background", body = EnvironmentRequestResponse,
         headers(("ETag" = String, description = "The new version")),
         example = json!({
            "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
            "name": "feature-xyz-preview",
            "status": "active",
            "statusMessage": "Approved for provisioning",
            "reviewedBy": "01936f6e-0000-7000-8000-0000000000b1",
            "provisionedAt": "2024-01-01T00:00:05Z",
            "expiresAt": "2024-01-03T00:00:05Z",
            "updatedAt": "2024-01-01T00:00:05Z"
         })),
        (status = 400, description = "Not pending, or a bad comment", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin, or the requester while separation of duties is required", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environment-requests/{id}/approve")]
pub async fn approve_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: OptionalJsonBody<ReviewBody>,
) -> Result<HttpResponse, Problem> {
    let id = request_id(&req)?;
    let expected = if_match(&req)?;
    let body = body.0.unwrap_or_default();
    let request = state
        .requests
        .approve(&actor, id, expected, body.comment)
        .await?;
    Ok(one(StatusCode::OK, request))
}

/// Reject a pending request (admin).
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "Only reject if this is still the current ETag")),
    request_body(content = Option<ReviewBody>, description = "Optional"),
    responses(
        (status = 200, description = "Rejected", body = EnvironmentRequestResponse,
         headers(("ETag" = String, description = "The new version")),
         example = json!({
            "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
            "name": "feature-xyz-preview",
            "status": "rejected",
            "statusMessage": "Request rejected",
            "reviewedBy": "01936f6e-0000-7000-8000-0000000000b1",
            "reviewComment": "Use the existing staging environment instead",
            "updatedAt": "2024-01-01T00:00:00Z"
         })),
        (status = 400, description = "Not pending, or a bad comment", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environment-requests/{id}/reject")]
pub async fn reject_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: OptionalJsonBody<ReviewBody>,
) -> Result<HttpResponse, Problem> {
    let id = request_id(&req)?;
    let expected = if_match(&req)?;
    let body = body.0.unwrap_or_default();
    let request = state
        .requests
        .reject(&actor, id, expected, body.comment)
        .await?;
    Ok(one(StatusCode::OK, request))
}

/// Expire an active request (admin): its environment is deprovisioned and destroyed.
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "Only expire if this is still the current ETag")),
    responses(
        (status = 200, description = "Expired", body = EnvironmentRequestResponse,
         headers(("ETag" = String, description = "The new version")),
         example = json!({
            "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
            "name": "feature-xyz-preview",
            "status": "expired",
            "statusMessage": "Environment expired by administrator",
            "updatedAt": "2024-01-01T00:00:00Z"
         })),
        (status = 400, description = "Not active", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its environment is being deprovisioned already, or deprovisioning failed (the detail says why)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environment-requests/{id}/expire")]
pub async fn expire_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = request_id(&req)?;
    let expected = if_match(&req)?;
    let request = state.requests.expire(&actor, id, expected).await?;
    Ok(one(StatusCode::OK, request))
}

/// Provision a failed request again (admin): `active` with the built-in provisioner,
/// `provisioning` with a provisioning command.
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "Only retry if this is still the current ETag")),
    responses(
        (status = 200, description = "Provisioning again", body = EnvironmentRequestResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Not failed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environment-requests/{id}/retry")]
pub async fn retry_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = request_id(&req)?;
    let expected = if_match(&req)?;
    let request = state.requests.retry(&actor, id, expected).await?;
    Ok(one(StatusCode::OK, request))
}

/// Every move of a request, oldest first, with who made it, when and why.
#[utoipa::path(
    tag = "environment-requests",
    params(("id" = Uuid, Path, description = "Request id")),
    responses(
        (status = 200, description = "The history", body = Vec<HistoryEntryResponse>),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environment-requests/{id}/history")]
pub async fn request_history(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let history = state.requests.history(&actor, request_id(&req)?).await?;
    Ok(HttpResponse::Ok().json(
        history
            .into_iter()
            .map(HistoryEntryResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Set an environment to expire `minutes` from now (an admin, or the requester of the
/// request it was made for); that request's `expiresAt` follows. The TTL reaper then
/// deprovisions and destroys it.
#[utoipa::path(
    tags = ["environments", "environment-requests"],
    params(("id" = Uuid, Path, description = "Environment id")),
    request_body = TtlBodyDoc,
    responses(
        (status = 200, description = "The environment with its new expiry", body = crate::environments::EnvironmentResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Minutes out of range, a destroyed environment, or one requested as persistent", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither an admin nor the requester", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/environments/{id}/ttl")]
pub async fn set_environment_ttl(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TtlBody>,
) -> Result<HttpResponse, Problem> {
    let id = EnvironmentId(path_id(&req, "id")?);
    let minutes = body
        .value
        .minutes
        .ok_or_else(|| Problem::bad_field("minutes", "is required"))?;
    let env = state.requests.set_ttl(&actor, id, minutes).await?;
    crate::environments::one(&state, &actor, StatusCode::OK, env.id).await
}

/// Remove an environment's expiry, so it no longer expires (an admin, or the requester of
/// the request it was made for); that request's `expiresAt` follows.
#[utoipa::path(
    tags = ["environments", "environment-requests"],
    params(("id" = Uuid, Path, description = "Environment id")),
    responses(
        (status = 200, description = "The environment without an expiry", body = crate::environments::EnvironmentResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A destroyed environment", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither an admin nor the requester", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/environments/{id}/ttl")]
pub async fn remove_environment_ttl(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = EnvironmentId(path_id(&req, "id")?);
    let env = state.requests.remove_ttl(&actor, id).await?;
    crate::environments::one(&state, &actor, StatusCode::OK, env.id).await
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`CreateRequestBody`]).
    CreateRequestBodyDoc as "CreateRequestBody" = CreateRequestBody, ["name", "type", "tier"]
);

crate::schema::requiring_schema!(
    /// What the operation takes (see [`TtlBody`]).
    TtlBodyDoc as "TtlBody" = TtlBody, ["minutes"]
);
