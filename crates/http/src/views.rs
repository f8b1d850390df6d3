//! `/api/v1/deployments/matrix`, `/api/v1/deployments/latest` and the version sticker: what
//! is deployed where, read from the latest succeeded deployments.

use crate::auth::Authenticated;
use crate::extract::Query;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use terrane_domain::{ComponentId, FieldError};
use terrane_ports::{LatestDeployment, MatrixCell, MatrixRow, Sticker, StickerComponent};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// What runs of a component in one environment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatrixCellResponse {
    /// The version of the latest succeeded deployment.
    #[schema(example = "v2.3.1")]
    pub version: String,
    /// When it succeeded.
    pub deployed_at: DateTime<Utc>,
}

/// The cells of a matrix row, keyed by environment name, in the environments' order.
#[derive(Debug)]
pub struct MatrixCells(Vec<(String, MatrixCellResponse)>);

impl Serialize for MatrixCells {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, cell) in &self.0 {
            map.serialize_entry(name, cell)?;
        }
        map.end()
    }
}

/// One component and the version it runs in each environment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "componentId": "550e8400-e29b-41d4-a716-446655440001",
    "componentName": "user-service",
    "environments": {
        "development": {"version": "v2.4.0", "deployedAt": "2026-01-09T10:00:00Z"},
        "staging": {"version": "v2.3.1", "deployedAt": "2026-01-08T16:30:00Z"},
        "production": {"version": "v2.3.0", "deployedAt": "2026-01-05T09:15:00Z"}
    }
}))]
pub struct MatrixRowResponse {
    /// The component.
    pub component_id: Uuid,
    /// Its name.
    #[schema(example = "user-service")]
    pub component_name: String,
    /// By environment name (active, non-destroyed environments, in their order): the
    /// latest succeeded deployment there. Environments it never succeeded in are absent.
    #[schema(value_type = std::collections::HashMap<String, MatrixCellResponse>)]
    pub environments: MatrixCells,
}

impl From<MatrixRow> for MatrixRowResponse {
    fn from(row: MatrixRow) -> Self {
        Self {
            component_id: row.component_id.as_uuid(),
            component_name: row.component_name,
            environments: MatrixCells(
                row.environments
                    .into_iter()
                    .map(|cell: MatrixCell| {
                        (
                            cell.environment_name,
                            MatrixCellResponse {
                                version: cell.version,
                                deployed_at: cell.deployed_at,
                            },
                        )
                    })
                    .collect(),
            ),
        }
    }
}

/// The latest succeeded deployment of a component in one environment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "componentId": "550e8400-e29b-41d4-a716-446655440001",
    "environmentId": "550e8400-e29b-41d4-a716-446655440010",
    "environmentName": "staging",
    "releaseId": null,
    "version": "v2.3.1",
    "digest": null,
    "status": "succeeded",
    "deployedBy": "ci-bot",
    "deployedAt": "2026-01-09T10:00:00Z"
}))]
pub struct LatestDeploymentResponse {
    /// The deployment's id.
    pub id: Uuid,
    /// The component.
    pub component_id: Uuid,
    /// The environment.
    pub environment_id: Uuid,
    /// The environment's name.
    #[schema(example = "staging")]
    pub environment_name: String,
    /// The release the deployment belongs to.
    pub release_id: Option<Uuid>,
    /// The version deployed.
    #[schema(example = "v2.3.1")]
    pub version: String,
    /// The image digest, when recorded.
    pub digest: Option<String>,
    /// Always `succeeded`.
    #[schema(example = "succeeded")]
    pub status: &'static str,
    /// Who or what deployed it.
    #[schema(example = "ci-bot")]
    pub deployed_by: String,
    /// When it succeeded.
    pub deployed_at: DateTime<Utc>,
}

impl From<LatestDeployment> for LatestDeploymentResponse {
    fn from(latest: LatestDeployment) -> Self {
        Self {
            id: latest.deployment_id,
            component_id: latest.component_id.as_uuid(),
            environment_id: latest.environment_id.as_uuid(),
            environment_name: latest.environment_name,
            release_id: latest.release_id,
            version: latest.version,
            digest: latest.digest,
            status: "succeeded",
            deployed_by: latest.deployed_by,
            deployed_at: latest.deployed_at,
        }
    }
}

/// A component on a version sticker.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StickerComponentResponse {
    /// The component.
    pub component_id: Uuid,
    /// Its name.
    #[schema(example = "api")]
    pub component_name: String,
    /// The image digest of the deployment running, when recorded.
    #[schema(example = "sha256:abc123...")]
    pub digest: Option<String>,
}

/// What a target's environment runs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "releaseId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a90",
    "releaseName": "myapp-v2.3.1",
    "components": [{
        "componentId": "550e8400-e29b-41d4-a716-446655440001",
        "componentName": "api",
        "digest": "sha256:abc123..."
    }],
    "deployedAt": "2026-01-09T10:00:00Z",
    "deployedBy": "user-uuid"
}))]
pub struct StickerResponse {
    /// The environment's current release: that of its latest succeeded deployment that
    /// belongs to one. Null when none of its deployments belongs to a release.
    pub release_id: Option<Uuid>,
    /// Its name.
    #[schema(example = "myapp-v2.3.1")]
    pub release_name: Option<String>,
    /// The components of that release running there, by name (every component deployed
    /// there when there is no release).
    pub components: Vec<StickerComponentResponse>,
    /// When the last of them succeeded.
    pub deployed_at: DateTime<Utc>,
    /// Who deployed that last one.
    pub deployed_by: String,
}

impl From<Sticker> for StickerResponse {
    fn from(sticker: Sticker) -> Self {
        let (release_id, release_name) = sticker.release.unzip();
        Self {
            release_id,
            release_name,
            components: sticker
                .components
                .into_iter()
                .map(|c: StickerComponent| StickerComponentResponse {
                    component_id: c.component_id.as_uuid(),
                    component_name: c.component_name,
                    digest: c.digest,
                })
                .collect(),
            deployed_at: sticker.deployed_at,
            deployed_by: sticker.deployed_by,
        }
    }
}

/// Parameters of the matrix.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameter; `deployment_matrix` parses it.
pub struct MatrixParams {
    /// Show the matrix as it was at this time (RFC 3339): in each cell the deployment that
    /// was the latest succeeded one then, rollbacks included. Default: now.
    #[param(rename = "asOf", example = "2026-01-09T10:00:00Z")]
    as_of: Option<DateTime<Utc>>,
}

/// The deployment matrix: the latest succeeded deployment of every component in every active
/// environment, by environment name. A rolled-back deployment no longer counts; the one
/// before it shows. Components ordered by name. With `asOf`, the matrix as it was at that
/// time (for the components and environments there are now).
#[utoipa::path(
    tag = "deployments",
    params(MatrixParams),
    responses(
        (status = 200, description = "One row per component, ordered by name", body = Vec<MatrixRowResponse>),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "asOf is not an RFC 3339 time, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments/matrix")]
pub async fn deployment_matrix(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let as_of = q.time("asOf");
    q.finish()?;
    let rows = match as_of {
        Some(at) => state.views.matrix_as_of(&actor, at).await?,
        None => state.views.matrix(&actor).await?,
    };
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(MatrixRowResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Parameters of the latest deployments.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameter; `latest_deployments` parses it.
pub struct LatestParams {
    /// The component (required).
    #[param(rename = "componentId")]
    component_id: Uuid,
}

/// The latest succeeded deployment of a component in each active environment, in the
/// environments' order.
#[utoipa::path(
    tag = "deployments",
    params(LatestParams),
    responses(
        (status = 200, description = "One deployment per environment the component succeeded in", body = Vec<LatestDeploymentResponse>),
        (status = 400, description = "componentId missing or not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such component in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/deployments/latest")]
pub async fn latest_deployments(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let component = match q.text("componentId") {
        None => {
            q.error(FieldError::new(
                "componentId",
                "is required: the component whose deployments to show",
            ));
            None
        }
        Some(value) => match Uuid::parse_str(&value) {
            Ok(id) => Some(id),
            Err(_) => {
                q.error(FieldError::new(
                    "componentId",
                    format!("must be a UUID, not `{value}`"),
                ));
                None
            }
        },
    };
    q.finish()?;
    let component = ComponentId(component.ok_or_else(|| Problem::internal("no componentId"))?);
    let latest = state.views.latest(&actor, component).await?;
    Ok(HttpResponse::Ok().json(
        latest
            .into_iter()
            .map(LatestDeploymentResponse::from)
            .collect::<Vec<_>>(),
    ))
}
