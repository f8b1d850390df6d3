//! `/api/v1/environments/{envId}/freeze-windows`: the HTTP face of the freeze window use cases.

use crate::auth::Authenticated;
use crate::environments::Deleted;
use crate::extract::{path_id, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{EnvironmentId, FreezeWindow, FreezeWindowId, FreezeWindowInput};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A freeze window as a client writes it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "start": "2026-01-15T00:00:00Z",
    "end": "2026-01-20T00:00:00Z",
    "reason": "Holiday freeze",
    "exceptions": ["01936f6e-0000-7000-8000-0000000000a1", "01936f6e-0000-7000-8000-0000000000a2"]
}))]
pub struct FreezeWindowBody {
    /// First instant of the freeze (RFC 3339 with an offset).
    #[schema(required = true, value_type = String, format = DateTime, example = "2026-01-15T00:00:00Z")]
    pub start: Option<String>,
    /// First instant after the freeze (RFC 3339 with an offset); must be after `start`.
    #[schema(required = true, value_type = String, format = DateTime, example = "2026-01-20T00:00:00Z")]
    pub end: Option<String>,
    /// Why, for the people who are refused: 1 to 500 characters.
    #[schema(required = true, value_type = String, example = "Holiday freeze")]
    pub reason: Option<String>,
    /// Ids of the users who may still deploy (at most 100; default none).
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub exceptions: Option<Vec<String>>,
}

impl From<FreezeWindowBody> for FreezeWindowInput {
    fn from(body: FreezeWindowBody) -> Self {
        FreezeWindowInput {
            start: body.start,
            end: body.end,
            reason: body.reason,
            exceptions: body.exceptions,
        }
    }
}

/// A freeze window: from `start` (inclusive) to `end` (exclusive) its environment takes no
/// deployments, except from the users in `exceptions`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6d",
    "environmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
    "start": "2026-01-15T00:00:00Z",
    "end": "2026-01-20T00:00:00Z",
    "reason": "Holiday freeze",
    "exceptions": ["01936f6e-0000-7000-8000-0000000000a1", "01936f6e-0000-7000-8000-0000000000a2"],
    "createdBy": "01936f6e-0000-7000-8000-0000000000b1",
    "createdAt": "2026-01-10T14:23:45Z"
}))]
pub struct FreezeWindowResponse {
    /// Id.
    pub id: Uuid,
    /// The environment it freezes.
    pub environment_id: Uuid,
    /// First instant of the freeze.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub start: DateTime<Utc>,
    /// First instant after the freeze.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub end: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Users who may still deploy.
    pub exceptions: Vec<Uuid>,
    /// Who created it.
    pub created_by: Uuid,
    /// When it was created.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl From<FreezeWindow> for FreezeWindowResponse {
    fn from(window: FreezeWindow) -> Self {
        Self {
            id: window.id.as_uuid(),
            environment_id: window.environment_id.as_uuid(),
            start: window.start,
            end: window.end,
            reason: window.reason,
            exceptions: window.exceptions.iter().map(|u| u.as_uuid()).collect(),
            created_by: window.created_by.as_uuid(),
            created_at: window.created_at,
        }
    }
}

/// Filter of the freeze window list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameter; it is parsed in `list_freeze_windows`.
pub struct FreezeWindowListParams {
    /// `true`: only the windows active now (`start <= now < end`); `false`: only the others.
    active: Option<bool>,
}

fn environment_id(req: &HttpRequest) -> Result<EnvironmentId, Problem> {
    path_id(req, "envId").map(EnvironmentId)
}

/// Freeze an environment for a period. Windows may overlap.
#[utoipa::path(
    tag = "freeze-windows",
    params(("envId" = Uuid, Path, description = "Environment id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    request_body = FreezeWindowBodyDoc,
    responses(
        (status = 201, description = "Created", body = FreezeWindowResponse,
         headers(("Location" = String, description = "The new window's URL"))),
        (status = 400, description = "Invalid fields (`end` not after `start`, ...)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environments/{envId}/freeze-windows")]
pub async fn create_freeze_window(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<FreezeWindowBody>,
) -> Result<HttpResponse, Problem> {
    let environment = environment_id(&req)?;
    let input = FreezeWindowInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let window = state
            .freeze_windows
            .create(&actor, environment, input)
            .await?;
        let url = format!(
            "/api/v1/environments/{}/freeze-windows/{}",
            window.environment_id, window.id
        );
        Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, url))
            .json(FreezeWindowResponse::from(window)))
    })
    .await
}

/// List an environment's freeze windows, ordered by start.
#[utoipa::path(
    tag = "freeze-windows",
    params(("envId" = Uuid, Path, description = "Environment id"), FreezeWindowListParams),
    responses(
        (status = 200, description = "The environment's freeze windows", body = Vec<FreezeWindowResponse>,
         headers(("X-Total-Count" = u64, description = "Windows in the answer"))),
        (status = 400, description = "Bad id or filter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{envId}/freeze-windows")]
pub async fn list_freeze_windows(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let environment = environment_id(&req)?;
    let mut q = Query::of(&req)?;
    let active = q.boolean("active");
    q.finish()?;
    let windows = state
        .freeze_windows
        .list(&actor, environment, active)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", windows.len().to_string()))
        .json(
            windows
                .into_iter()
                .map(FreezeWindowResponse::from)
                .collect::<Vec<_>>(),
        ))
}

/// Get one freeze window of an environment.
#[utoipa::path(
    tag = "freeze-windows",
    params(("envId" = Uuid, Path, description = "Environment id"),
           ("windowId" = Uuid, Path, description = "Freeze window id")),
    responses(
        (status = 200, description = "The freeze window", body = FreezeWindowResponse),
        (status = 404, description = "No such window of that environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{envId}/freeze-windows/{windowId}")]
pub async fn get_freeze_window(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let environment = environment_id(&req)?;
    let id = FreezeWindowId(path_id(&req, "windowId")?);
    let window = state.freeze_windows.get(&actor, environment, id).await?;
    Ok(HttpResponse::Ok().json(FreezeWindowResponse::from(window)))
}

/// Delete a freeze window: the environment thaws unless another window is active.
#[utoipa::path(
    tag = "freeze-windows",
    params(("envId" = Uuid, Path, description = "Environment id"),
           ("windowId" = Uuid, Path, description = "Freeze window id")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such window of that environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/environments/{envId}/freeze-windows/{windowId}")]
pub async fn delete_freeze_window(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let environment = environment_id(&req)?;
    let id = FreezeWindowId(path_id(&req, "windowId")?);
    state.freeze_windows.delete(&actor, environment, id).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`FreezeWindowBody`]).
    FreezeWindowBodyDoc as "FreezeWindowBody" = FreezeWindowBody, ["start", "end", "reason"]
);
