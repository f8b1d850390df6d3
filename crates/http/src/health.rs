//! `/api/v1/targets/{id}/health-check(s)`: probing a target now, and its health history.

use crate::auth::Authenticated;
use crate::extract::{path_id, Query};
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use terrane_domain::{HealthCheck, HealthStatus, Page, TargetId};
use utoipa::ToSchema;
use uuid::Uuid;

fn health_status_schema() -> utoipa::openapi::Object {
    string_enum(HealthStatus::ALL.iter().map(|h| h.as_str()), "healthy")
}

/// What a health check found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "status": "healthy",
    "message": "Docker daemon responding",
    "checkedAt": "2026-01-10T14:23:45Z"
}))]
pub struct HealthCheckResult {
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    #[schema(schema_with = health_status_schema)]
    pub status: &'static str,
    /// Why, in words a person can act on.
    pub message: String,
    /// When the probe finished.
    pub checked_at: DateTime<Utc>,
}

impl From<&HealthCheck> for HealthCheckResult {
    fn from(check: &HealthCheck) -> Self {
        Self {
            status: check.status.as_str(),
            message: check.message.clone(),
            checked_at: check.checked_at,
        }
    }
}

/// One kept health check of a target.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a90",
    "targetId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "status": "healthy",
    "message": "Docker daemon responding",
    "checkedAt": "2026-01-10T14:23:45Z"
}))]
pub struct HealthCheckResponse {
    /// Id.
    pub id: Uuid,
    /// The target checked.
    pub target_id: Uuid,
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    #[schema(schema_with = health_status_schema)]
    pub status: &'static str,
    /// Why.
    pub message: String,
    /// When the probe finished.
    pub checked_at: DateTime<Utc>,
}

impl From<HealthCheck> for HealthCheckResponse {
    fn from(check: HealthCheck) -> Self {
        Self {
            id: check.id.0,
            target_id: check.target_id.as_uuid(),
            status: check.status.as_str(),
            message: check.message,
            checked_at: check.checked_at,
        }
    }
}

/// A page of a target's health checks, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckPage {
    /// The checks of this page.
    pub data: Vec<HealthCheckResponse>,
    /// All checks of the target.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

/// Probe a target now (admin or deployer). The target's `healthStatus`, `healthMessage` and
/// `lastHealthCheckAt` follow, and the check is kept in its history. Docker and Compose hosts
/// answer `GET /_ping`, Nomad jobs their job status; ECS services report through their agent.
#[utoipa::path(
    tag = "health",
    params(("id" = Uuid, Path, description = "Target id")),
    responses(
        (status = 200, description = "What the probe found; an unreachable target is `unhealthy` with the reason", body = HealthCheckResult),
        (status = 403, description = "A viewer, or an agent token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such target in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/targets/{id}/health-check")]
pub async fn check_target_health(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    let check = state.health_checks.check_now(&actor, id).await?;
    Ok(HttpResponse::Ok().json(HealthCheckResult::from(&check)))
}

/// A target's health checks, newest first (any role).
#[utoipa::path(
    tag = "health",
    params(
        ("id" = Uuid, Path, description = "Target id"),
        ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"),
        ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)"),
    ),
    responses(
        (status = 200, description = "The page of checks", body = HealthCheckPage),
        (status = 400, description = "Bad id or paging", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such target in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/targets/{id}/health-checks")]
pub async fn list_target_health_checks(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    let mut q = Query::of(&req)?;
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    let (checks, total) = state.health_checks.history(&actor, id, page).await?;
    Ok(
        crate::paging::page_of(&req, page, total).json(HealthCheckPage {
            data: checks.into_iter().map(HealthCheckResponse::from).collect(),
            total,
            skip: page.skip(),
            take: page.take(),
        }),
    )
}
