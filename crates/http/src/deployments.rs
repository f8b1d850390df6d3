//! `/api/v1/deployments`: the HTTP face of the deployment ledger, its state machine and
//! gates.

use crate::auth::Authenticated;
use crate::extract::{etag, if_match, not_modified, path_id, with_location, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use terrane_domain::{
    ComponentId, Deployment, DeploymentId, DeploymentInput, DeploymentStatus, EnvironmentId,
    GateKind, GateResult, HistoryEntry, Page, ReleaseId, TransitionInput,
};
use terrane_ports::{Approval, DeploymentFilter, DeploymentQuery};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

fn status_schema() -> utoipa::openapi::Object {
    string_enum(
        DeploymentStatus::ALL.iter().map(|s| s.as_str()),
        "in_progress",
    )
}

fn optional_status_schema() -> utoipa::openapi::Object {
    string_enum(DeploymentStatus::ALL.iter().map(|s| s.as_str()), "pending")
}

fn gate_schema() -> utoipa::openapi::Object {
    string_enum(GateKind::ALL.iter().map(|g| g.as_str()), "approvals")
}

/// A deployment to record. `componentId`, `environmentId` and `version` are required.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "componentId": "550e8400-e29b-41d4-a716-446655440001",
    "environmentId": "550e8400-e29b-41d4-a716-446655440010",
    "version": "v2.3.1",
    "deployedBy": "ci-bot",
    "commitSha": "a1b2c3d4e5f6",
    "description": "Hotfix for login timeout issue",
    "metadata": {"pipelineUrl": "https://ci.example.com/runs/123"}
}))]
pub struct DeploymentBody {
    /// The component deployed.
    pub component_id: Option<Uuid>,
    /// The environment deployed into.
    pub environment_id: Option<Uuid>,
    /// The version label: 1 to 128 visible ASCII characters, no spaces.
    #[schema(example = "v2.3.1")]
    pub version: Option<String>,
    /// Who or what deploys (default: the caller's user id).
    #[schema(example = "ci-bot")]
    pub deployed_by: Option<String>,
    /// The commit: 7 to 40 hex digits.
    #[schema(example = "a1b2c3d4e5f6")]
    pub commit_sha: Option<String>,
    /// Free text, at most 2000 characters.
    pub description: Option<String>,
    /// Free-form facts (pipeline URL, ticket, ...): a JSON object of at most 16 KiB.
    pub metadata: Option<Map<String, Value>>,
    /// The image digest: `sha256:` and 64 lowercase hex digits.
    #[schema(example = "sha256:0d5c5f1e3b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d")]
    pub digest: Option<String>,
    /// The release this deployment belongs to.
    pub release_id: Option<Uuid>,
    /// When the change it ships was committed (RFC 3339): the start of its lead time for
    /// changes. A time in the future is taken as now.
    pub committed_at: Option<DateTime<Utc>>,
}

impl From<DeploymentBody> for DeploymentInput {
    fn from(body: DeploymentBody) -> Self {
        DeploymentInput {
            component_id: body.component_id,
            environment_id: body.environment_id,
            version: body.version,
            deployed_by: body.deployed_by,
            commit_sha: body.commit_sha,
            description: body.description,
            metadata: body.metadata,
            digest: body.digest,
            release_id: body.release_id,
            committed_at: body.committed_at,
        }
    }
}

/// A status change. `status` is required; `metadata` is merged shallowly into the stored
/// object; `finishedAt` (never in the future) overrides the server's time on entering
/// `succeeded` or `failed`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "status": "succeeded",
    "metadata": {"durationSeconds": 312}
}))]
pub struct TransitionBody {
    /// The status to move to.
    #[schema(schema_with = status_schema)]
    pub status: Option<String>,
    /// Replaces the description.
    pub description: Option<String>,
    /// Merged shallowly into the stored metadata.
    pub metadata: Option<Map<String, Value>>,
    /// When the deployment finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<TransitionBody> for TransitionInput {
    fn from(body: TransitionBody) -> Self {
        TransitionInput {
            status: body.status,
            description: body.description,
            metadata: body.metadata,
            finished_at: body.finished_at,
        }
    }
}

/// A deployment in the ledger.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "componentId": "550e8400-e29b-41d4-a716-446655440001",
    "environmentId": "550e8400-e29b-41d4-a716-446655440010",
    "releaseId": null,
    "version": "v2.3.1",
    "digest": null,
    "commitSha": "a1b2c3d4e5f6",
    "deployedBy": "ci-bot",
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "description": "Hotfix for login timeout issue",
    "metadata": {"pipelineUrl": "https://ci.example.com/runs/123"},
    "status": "pending",
    "approvalRound": 0,
    "revision": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "startedAt": null,
    "finishedAt": null,
    "updatedAt": "2026-01-10T14:23:45Z"
}))]
pub struct DeploymentResponse {
    /// Id.
    pub id: Uuid,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// The component deployed.
    pub component_id: Uuid,
    /// The environment deployed into.
    pub environment_id: Uuid,
    /// The release it belongs to.
    pub release_id: Option<Uuid>,
    /// The version label.
    pub version: String,
    /// The image digest.
    pub digest: Option<String>,
    /// The commit.
    pub commit_sha: Option<String>,
    /// Who or what deployed.
    pub deployed_by: String,
    /// The user who recorded it.
    pub created_by: Uuid,
    /// Free text.
    pub description: Option<String>,
    /// Free-form facts.
    pub metadata: Map<String, Value>,
    /// Where it is in its state machine.
    #[schema(schema_with = status_schema)]
    pub status: &'static str,
    /// Bumped by every retry; only approvals of the current round count.
    pub approval_round: u32,
    /// Bumped by every change; also the ETag.
    pub revision: i64,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last entered `in_progress`.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last entered `succeeded` or `failed`.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the change it ships was committed, if the client said.
    pub committed_at: Option<DateTime<Utc>>,
}

impl From<Deployment> for DeploymentResponse {
    fn from(d: Deployment) -> Self {
        Self {
            id: d.id.0,
            organization_id: d.tenant.as_uuid(),
            component_id: d.component_id.as_uuid(),
            environment_id: d.environment_id.as_uuid(),
            release_id: d.release_id.map(|r| r.0),
            version: d.version.as_str().to_owned(),
            digest: d.digest.map(|x| x.as_str().to_owned()),
            commit_sha: d.commit_sha.map(|x| x.as_str().to_owned()),
            deployed_by: d.deployed_by,
            created_by: d.created_by.as_uuid(),
            description: d.description,
            metadata: d.metadata,
            status: d.status.as_str(),
            approval_round: d.approval_round,
            revision: d.revision,
            created_at: d.created_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
            updated_at: d.updated_at,
            committed_at: d.committed_at,
        }
    }
}

/// A page of deployments, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
        "componentId": "550e8400-e29b-41d4-a716-446655440001",
        "environmentId": "550e8400-e29b-41d4-a716-446655440010",
        "version": "v2.3.1",
        "status": "succeeded"
    }],
    "total": 128,
    "skip": 0,
    "take": 20
}))]
pub struct DeploymentPage {
    /// The deployments of this page.
    pub data: Vec<DeploymentResponse>,
    /// Deployments matching the filters, over all pages.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

/// Filters and paging of the deployment list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `list_query`.
pub struct DeploymentListParams {
    /// Of this component.
    component_id: Option<Uuid>,
    /// Into this environment.
    environment_id: Option<Uuid>,
    /// In this status (`pending`, `in_progress`, `succeeded`, `failed`, `rolled_back`).
    #[param(schema_with = optional_status_schema)]
    status: Option<String>,
    /// Part of this release.
    release_id: Option<Uuid>,
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

fn list_query(req: &HttpRequest) -> Result<DeploymentQuery, Problem> {
    let mut q = Query::of(req)?;
    let filter = DeploymentFilter {
        component_id: q.uuid("componentId").map(ComponentId),
        environment_id: q.uuid("environmentId").map(EnvironmentId),
        status: q.parsed("status", |v| v.parse()),
        release_id: q.uuid("releaseId").map(ReleaseId),
    };
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(DeploymentQuery { filter, page })
}

/// One row of a deployment's history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "from": "pending",
    "to": "in_progress",
    "actor": "01936f6e-0000-7000-8000-0000000000aa",
    "at": "2026-01-10T14:25:00Z",
    "reason": null
}))]
pub struct HistoryResponse {
    /// The status before (null when the deployment was recorded).
    #[schema(schema_with = optional_status_schema)]
    pub from: Option<&'static str>,
    /// The status after.
    #[schema(schema_with = status_schema)]
    pub to: &'static str,
    /// Who made the change (null when the server did, e.g. a timeout).
    pub actor: Option<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, when known (`timed out`).
    pub reason: Option<String>,
}

impl From<HistoryEntry> for HistoryResponse {
    fn from(entry: HistoryEntry) -> Self {
        Self {
            from: entry.from.map(|s| s.as_str()),
            to: entry.to.as_str(),
            actor: entry.actor.map(|a| a.as_uuid()),
            at: entry.at,
            reason: entry.reason,
        }
    }
}

/// An approval to record.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"comment": "Checked the migration plan"}))]
pub struct ApprovalBody {
    /// Why, at most 2000 characters.
    pub comment: Option<String>,
}

/// An approval of a deployment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "deploymentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
    "approver": "01936f6e-0000-7000-8000-0000000000bb",
    "round": 0,
    "comment": "Checked the migration plan",
    "createdAt": "2026-01-10T14:24:10Z"
}))]
pub struct ApprovalResponse {
    /// The deployment approved.
    pub deployment_id: Uuid,
    /// Who approved.
    pub approver: Uuid,
    /// The approval round (a retry starts a new one; only the current one counts).
    pub round: u32,
    /// Why.
    pub comment: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<Approval> for ApprovalResponse {
    fn from(a: Approval) -> Self {
        Self {
            deployment_id: a.deployment_id.0,
            approver: a.approver.as_uuid(),
            round: a.round,
            comment: a.comment,
            created_at: a.created_at,
        }
    }
}

/// The verdict of one gate.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "gate": "approvals",
    "passed": false,
    "reason": "1 of 2 required approvals: 1 more needed"
}))]
pub struct GateResponse {
    /// Which gate.
    #[schema(schema_with = gate_schema)]
    pub gate: &'static str,
    /// Whether it lets the deployment start now.
    pub passed: bool,
    /// Why, and when refused, what would let it pass.
    pub reason: String,
}

impl From<GateResult> for GateResponse {
    fn from(g: GateResult) -> Self {
        Self {
            gate: g.gate.as_str(),
            passed: g.passed,
            reason: g.reason,
        }
    }
}

/// One deployment's response with its ETag.
pub(crate) fn one(status: StatusCode, deployment: Deployment) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(deployment.revision)))
        .json(DeploymentResponse::from(deployment))
}

/// Record a deployment; it starts `pending`.
#[utoipa::path(
    tag = "deployments",
    request_body = DeploymentBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Recorded", body = DeploymentResponse,
         headers(("Location" = String, description = "The deployment's URL"), ("ETag" = String, description = "Its revision"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor deployer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such component, environment or release", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The environment is destroyed or inactive", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/deployments")]
pub async fn create_deployment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<DeploymentBody>,
) -> Result<HttpResponse, Problem> {
    let input = DeploymentInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let deployment = state.deployments.create(&actor, input).await?;
        let url = format!("/api/v1/deployments/{}", deployment.id);
        with_location(one(StatusCode::CREATED, deployment), &url)
    })
    .await
}

/// List deployments, newest first.
#[utoipa::path(
    tag = "deployments",
    params(DeploymentListParams),
    responses(
        (status = 200, description = "A page of deployments", body = DeploymentPage),
        (status = 400, description = "Bad filter or page", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments")]
pub async fn list_deployments(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let query = list_query(&req)?;
    let page = query.page;
    let (list, total) = state.deployments.list(&actor, query).await?;
    Ok(
        crate::paging::page_of(&req, page, total).json(DeploymentPage {
            data: list.into_iter().map(DeploymentResponse::from).collect(),
            total,
            skip: page.skip(),
            take: page.take(),
        }),
    )
}

/// Get one deployment. `If-None-Match` with its current ETag answers 304.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentResponse, headers(("ETag" = String, description = "Its revision"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such deployment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments/{id}")]
pub async fn get_deployment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = DeploymentId(path_id(&req, "id")?);
    let deployment = state.deployments.get(&actor, id).await?;
    if not_modified(&req, deployment.revision) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(deployment.revision)))
            .finish());
    }
    Ok(one(StatusCode::OK, deployment))
}

/// Move a deployment to another status: `pending -> in_progress | failed`,
/// `in_progress -> succeeded | failed`, `succeeded -> rolled_back`, `failed -> pending`,
/// `rolled_back -> pending`. Leaving `pending` for `in_progress` must pass the freeze,
/// approvals and promotion gates. Of concurrent changes from the same status exactly one wins.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Deployment id"),
           ("If-Match" = Option<String>, Header, description = "Only change it if this is still the current ETag"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    request_body = TransitionBodyDoc,
    responses(
        (status = 200, description = "Moved", body = DeploymentResponse, headers(("ETag" = String, description = "The new revision"))),
        (status = 400, description = "Invalid fields, or a move the state machine does not allow (the detail names the current status and the allowed next ones)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor deployer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such deployment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A gate refused (type /problems/gate-freeze, /problems/gate-approvals or /problems/gate-promotion, the detail says what would let it pass), or a concurrent change won", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/deployments/{id}")]
pub async fn patch_deployment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TransitionBody>,
) -> Result<HttpResponse, Problem> {
    let id = DeploymentId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let input = TransitionInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let deployment = state
            .deployments
            .transition(&actor, id, expected, input)
            .await?;
        Ok(one(StatusCode::OK, deployment))
    })
    .await
}

/// A deployment's history, oldest first.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "Every status change", body = Vec<HistoryResponse>),
        (status = 404, description = "No such deployment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments/{id}/history")]
pub async fn deployment_history(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = DeploymentId(path_id(&req, "id")?);
    let history = state.deployments.history(&actor, id).await?;
    Ok(HttpResponse::Ok().json(
        history
            .into_iter()
            .map(HistoryResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Approve a pending deployment. Each person approves once per round; with separation of
/// duties the deployment's author cannot approve it.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Deployment id")),
    request_body = ApprovalBody,
    responses(
        (status = 201, description = "Approved", body = ApprovalResponse),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor deployer, or the author under separation of duties", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such deployment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, or already approved by you", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/deployments/{id}/approvals")]
pub async fn approve_deployment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<ApprovalBody>,
) -> Result<HttpResponse, Problem> {
    let id = DeploymentId(path_id(&req, "id")?);
    let approval = state
        .deployments
        .approve(&actor, id, body.value.comment)
        .await?;
    Ok(HttpResponse::Created().json(ApprovalResponse::from(approval)))
}

/// A deployment's approvals, of every round, oldest first.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The approvals", body = Vec<ApprovalResponse>),
        (status = 404, description = "No such deployment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments/{id}/approvals")]
pub async fn list_deployment_approvals(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = DeploymentId(path_id(&req, "id")?);
    let approvals = state.deployments.approvals(&actor, id).await?;
    Ok(HttpResponse::Ok().json(
        approvals
            .into_iter()
            .map(ApprovalResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Can this deployment start now, and if not, why: every gate of `pending -> in_progress`
/// for the caller, changing nothing.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "Every gate with its verdict", body = Vec<GateResponse>,
         example = json!([
            {"gate": "freeze", "passed": true, "reason": "no freeze window is active"},
            {"gate": "approvals", "passed": false, "reason": "1 of 2 required approvals: 1 more needed"},
            {"gate": "promotion", "passed": true, "reason": "v2.3.1 succeeded in `staging`"}
         ])),
        (status = 404, description = "No such deployment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments/{id}/gates")]
pub async fn deployment_gates(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = DeploymentId(path_id(&req, "id")?);
    let gates = state.deployments.gates(&actor, id).await?;
    Ok(HttpResponse::Ok().json(
        gates
            .into_iter()
            .map(GateResponse::from)
            .collect::<Vec<_>>(),
    ))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`DeploymentBody`]).
    DeploymentBodyDoc as "DeploymentBody" = DeploymentBody, ["componentId", "environmentId", "version"]
);

crate::schema::requiring_schema!(
    /// What the operation takes (see [`TransitionBody`]).
    TransitionBodyDoc as "TransitionBody" = TransitionBody, ["status"]
);
