//! `/api/v1/targets/{id}/drift` and `/api/v1/environments/{id}/drift`: what the ledger says
//! runs against what the agents found.

use crate::auth::Authenticated;
use crate::extract::path_id;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use terrane_domain::{EnvironmentId, TargetId};
use terrane_ports::TargetDrift;
use utoipa::ToSchema;
use uuid::Uuid;

/// The reason `hasDrift` is null.
const NO_INVENTORY: &str =
    "no inventory was reported for this target yet: its agent has nothing to compare with";

/// A component in the expected or the actual state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftComponent {
    /// The catalog id, when known.
    pub component_id: Option<Uuid>,
    /// The component name, when known.
    pub component_name: Option<String>,
    /// The version running (actual state only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The image digest.
    pub digest: Option<String>,
}

/// What should run: the target's version sticker.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedState {
    /// The environment's current release, if its deployments belong to one.
    pub release_id: Option<Uuid>,
    /// Its name.
    pub release_name: Option<String>,
    /// The digest, when exactly one component is expected.
    pub digest: Option<String>,
    /// Every component expected, with its digest.
    pub components: Vec<DriftComponent>,
}

/// What runs: the target's latest inventory.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActualState {
    /// The digest, when exactly one component runs.
    pub digest: Option<String>,
    /// When the agent looked.
    pub collected_at: DateTime<Utc>,
    /// Every component running.
    pub components: Vec<DriftComponent>,
}

/// One difference.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DifferenceResponse {
    /// The component's name.
    pub component: String,
    /// The digest expected; null for a component running that was never deployed.
    pub expected: Option<String>,
    /// The digest running; null for an expected component that is absent.
    pub actual: Option<String>,
}

/// The drift of a target.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "targetId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "hasDrift": true,
    "expected": {"releaseId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0", "releaseName": "myapp-v2.3.1", "digest": "sha256:abc...",
                 "components": [{"componentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ac0", "componentName": "api", "digest": "sha256:abc..."}]},
    "actual": {"digest": "sha256:def...", "collectedAt": "2026-01-10T14:23:40Z",
               "components": [{"componentId": null, "componentName": "api", "version": "2.3.1", "digest": "sha256:def..."}]},
    "differences": [{"component": "api", "expected": "sha256:abc...", "actual": "sha256:def..."}]
}))]
pub struct DriftResponse {
    /// The target.
    pub target_id: Uuid,
    /// Whether what runs differs from what should; null when no inventory was reported.
    pub has_drift: Option<bool>,
    /// Why `hasDrift` is null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// What should run.
    pub expected: ExpectedState,
    /// What runs; null without an inventory.
    pub actual: Option<ActualState>,
    /// Each difference.
    pub differences: Vec<DifferenceResponse>,
}

fn single<T>(items: &[T], digest: impl Fn(&T) -> Option<String>) -> Option<String> {
    match items {
        [only] => digest(only),
        _ => None,
    }
}

impl From<TargetDrift> for DriftResponse {
    fn from(drift: TargetDrift) -> Self {
        let has_drift = drift.has_drift();
        let (release, components) = match drift.expected {
            Some(sticker) => (sticker.release, sticker.components),
            None => (None, Vec::new()),
        };
        let expected = ExpectedState {
            release_id: release.as_ref().map(|(id, _)| *id),
            release_name: release.map(|(_, name)| name),
            digest: single(&components, |c| c.digest.clone()),
            components: components
                .into_iter()
                .map(|c| DriftComponent {
                    component_id: Some(c.component_id.as_uuid()),
                    component_name: Some(c.component_name),
                    version: None,
                    digest: c.digest,
                })
                .collect(),
        };
        let actual = drift.actual.map(|inventory| ActualState {
            digest: single(&inventory.components, |c| c.digest.clone()),
            collected_at: inventory.collected_at,
            components: inventory
                .components
                .into_iter()
                .map(|c| DriftComponent {
                    component_id: c.component_id,
                    component_name: c.component_name,
                    version: Some(c.version),
                    digest: c.digest,
                })
                .collect(),
        });
        Self {
            target_id: drift.target.id.as_uuid(),
            has_drift,
            reason: has_drift.is_none().then_some(NO_INVENTORY),
            expected,
            actual,
            differences: drift
                .differences
                .into_iter()
                .map(|d| DifferenceResponse {
                    component: d.component,
                    expected: d.expected,
                    actual: d.actual,
                })
                .collect(),
        }
    }
}

/// One target of an environment, at a glance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"targetId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80", "name": "prod-web-01", "hasDrift": true, "differenceCount": 1}))]
pub struct DriftLine {
    /// The target.
    pub target_id: Uuid,
    /// Its name.
    pub name: String,
    /// Whether it drifts; null when no inventory was reported.
    pub has_drift: Option<bool>,
    /// How many differences.
    pub difference_count: usize,
}

/// Compare what the ledger says runs on a target (its version sticker) with what its agent
/// last found (its inventory): a wrong digest, an expected component absent, a component
/// running that was never deployed.
#[utoipa::path(
    tag = "health",
    params(("id" = Uuid, Path, description = "Target id")),
    responses(
        (status = 200, description = "The comparison; `hasDrift` null with a `reason` when no inventory was reported", body = DriftResponse),
        (status = 404, description = "No such target in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/targets/{id}/drift")]
pub async fn get_target_drift(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    let drift = state.drift.target(&actor, id).await?;
    Ok(HttpResponse::Ok().json(DriftResponse::from(drift)))
}

/// The drift of every target of an environment, one line each, by target name.
#[utoipa::path(
    tag = "health",
    params(("id" = Uuid, Path, description = "Environment id")),
    responses(
        (status = 200, description = "One line per target", body = Vec<DriftLine>),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/drift")]
pub async fn get_environment_drift(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = EnvironmentId(path_id(&req, "id")?);
    let lines: Vec<DriftLine> = state
        .drift
        .environment(&actor, id)
        .await?
        .into_iter()
        .map(|drift| DriftLine {
            target_id: drift.target.id.as_uuid(),
            name: drift.target.name.as_str().to_owned(),
            has_drift: drift.has_drift(),
            difference_count: drift.differences.len(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(lines))
}
