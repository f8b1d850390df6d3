//! `/api/v1/environments/{id}/diff` (what two environments run, side by side) and
//! `/api/v1/insights/dora` (the four DORA measures of an environment).

use crate::auth::Authenticated;
use crate::extract::{path_id, Query};
use crate::problem::Problem;
use crate::AppState;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use terrane_domain::{Comparison, DiffLine, DoraMeasures, EnvironmentId, FieldError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

fn comparison_schema() -> utoipa::openapi::Object {
    crate::schema::string_enum(Comparison::ALL.iter().map(|c| c.as_str()), "differs")
}

/// One component of a diff.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffLineResponse {
    /// The component.
    pub component_id: Uuid,
    /// Its name.
    #[schema(example = "user-service")]
    pub component_name: String,
    /// The version running in this environment (its latest succeeded deployment); null
    /// when it runs only in the other.
    #[schema(example = "v2.4.0")]
    pub version: Option<String>,
    /// The version running in the other environment; null when it runs only here.
    #[schema(example = "v2.3.1")]
    pub against_version: Option<String>,
    /// Whether the two differ (a component running in one only differs too).
    pub differs: bool,
    /// `onlyHere`, `differs`, `onlyThere` or `same`, the order the lines come in.
    #[schema(schema_with = comparison_schema)]
    pub comparison: &'static str,
}

impl From<DiffLine> for DiffLineResponse {
    fn from(line: DiffLine) -> Self {
        Self {
            component_id: line.component_id.as_uuid(),
            component_name: line.component_name,
            differs: line.comparison != Comparison::Same,
            version: line.here,
            against_version: line.there,
            comparison: line.comparison.as_str(),
        }
    }
}

/// What two environments run, side by side.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "environmentId": "550e8400-e29b-41d4-a716-446655440010",
    "againstId": "550e8400-e29b-41d4-a716-446655440011",
    "components": [
        {"componentId": "550e8400-e29b-41d4-a716-446655440002", "componentName": "search",
         "version": "v1.0.0", "againstVersion": null, "differs": true, "comparison": "onlyHere"},
        {"componentId": "550e8400-e29b-41d4-a716-446655440001", "componentName": "user-service",
         "version": "v2.4.0", "againstVersion": "v2.3.1", "differs": true, "comparison": "differs"}
    ]
}))]
pub struct DiffResponse {
    /// This environment.
    pub environment_id: Uuid,
    /// The one it is compared against.
    pub against_id: Uuid,
    /// One line per component running in either: those only here first, then those in
    /// different versions, those only in the other, and those in the same version; by
    /// component name within each.
    pub components: Vec<DiffLineResponse>,
}

/// Parameters of the diff.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameter; `environment_diff` parses it.
pub struct DiffParams {
    /// The environment to compare against (required).
    against: Uuid,
}

/// What an environment runs against what another runs: per component, the version in each
/// and whether they differ; what this environment has and the other lacks reads first.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"), DiffParams),
    responses(
        (status = 200, description = "The diff", body = DiffResponse),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "against missing or not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment (either of them) in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}/diff")]
pub async fn environment_diff(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = path_id(&req, "id")?;
    let mut q = Query::of(&req)?;
    let given = q.contains("against");
    let against = q.uuid("against");
    if !given {
        q.error(FieldError::new(
            "against",
            "is required: the environment to compare with",
        ));
    }
    q.finish()?;
    let against = against.ok_or_else(|| Problem::internal("no against"))?;
    let lines = state
        .views
        .diff(&actor, EnvironmentId(id), EnvironmentId(against))
        .await?;
    Ok(HttpResponse::Ok().json(DiffResponse {
        environment_id: id,
        against_id: against,
        components: lines.into_iter().map(DiffLineResponse::from).collect(),
    }))
}

/// Succeeded deployments per day.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentFrequency {
    /// Deployments recorded in the window that succeeded in it.
    pub succeeded: u64,
    /// `succeeded` per day of the window.
    #[schema(example = 1.5)]
    pub per_day: f64,
}

/// From a deployment's `committedAt` to its first success.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadTime {
    /// Succeeded deployments that had a `committedAt`.
    pub measured: u64,
    /// Median, in seconds (nearest rank); null when none was measured.
    #[schema(example = 7200)]
    pub median_seconds: Option<i64>,
    /// 90th percentile, in seconds (nearest rank).
    #[schema(example = 86400)]
    pub p90_seconds: Option<i64>,
}

/// The share of finished deployments that failed or were rolled back.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFailureRate {
    /// Deployments that succeeded or failed in the window.
    pub finished: u64,
    /// Of those, the ones that failed or were rolled back (at least once).
    pub failed: u64,
    /// `failed / finished`, from 0 to 1; null when nothing finished.
    #[schema(example = 0.1)]
    pub rate: Option<f64>,
}

/// From a failure or rollback to the next success of that component in the environment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeToRestore {
    /// Failures or rollbacks of a component that was not already broken.
    pub incidents: u64,
    /// Of those, the ones a later success ended in the window.
    pub restored: u64,
    /// Median time to that success, in seconds (nearest rank); null when none was restored.
    #[schema(example = 3600)]
    pub median_seconds: Option<i64>,
}

/// The four DORA measures of an environment over a window.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DoraResponse {
    /// The environment.
    pub environment_id: Uuid,
    /// The window's start (included).
    pub from: DateTime<Utc>,
    /// Its end (excluded).
    pub to: DateTime<Utc>,
    /// Its length in days.
    pub days: f64,
    /// Deployment frequency.
    pub deployment_frequency: DeploymentFrequency,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Change failure rate.
    pub change_failure_rate: ChangeFailureRate,
    /// Time to restore service.
    pub time_to_restore: TimeToRestore,
}

fn seconds(d: Option<Duration>) -> Option<i64> {
    d.map(|d| d.num_seconds())
}

impl DoraResponse {
    fn new(environment: Uuid, m: DoraMeasures) -> Self {
        Self {
            environment_id: environment,
            from: m.window.from(),
            to: m.window.to(),
            days: m.window.days(),
            deployment_frequency: DeploymentFrequency {
                succeeded: m.succeeded,
                per_day: m.deployments_per_day,
            },
            lead_time: LeadTime {
                measured: m.lead_times,
                median_seconds: seconds(m.lead_time_median),
                p90_seconds: seconds(m.lead_time_p90),
            },
            change_failure_rate: ChangeFailureRate {
                finished: m.finished,
                failed: m.failed_changes,
                rate: m.change_failure_rate,
            },
            time_to_restore: TimeToRestore {
                incidents: m.incidents,
                restored: m.restored,
                median_seconds: seconds(m.time_to_restore_median),
            },
        }
    }
}

/// Parameters of the DORA measures.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `dora` parses them.
pub struct DoraParams {
    /// The environment (required).
    #[param(rename = "environmentId")]
    environment_id: Uuid,
    /// The window's start, RFC 3339 (default: 30 days before `to`); at most 366 days
    /// before `to`.
    #[param(example = "2026-01-01T00:00:00Z")]
    from: Option<DateTime<Utc>>,
    /// The window's end, RFC 3339, excluded (default: now).
    #[param(example = "2026-02-01T00:00:00Z")]
    to: Option<DateTime<Utc>>,
}

/// The DORA measures of an environment over a window: deployment frequency (succeeded
/// deployments per day), lead time for changes (from `committedAt` to success: median and
/// 90th percentile), change failure rate (the share of finished deployments that failed or
/// were rolled back) and time to restore (from a failure or rollback to the next success of
/// that component there: median). The deployments measured are those recorded in the
/// window; their status changes count up to its end.
#[utoipa::path(
    tag = "deployments",
    params(DoraParams),
    responses(
        (status = 200, description = "The measures", body = DoraResponse),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "environmentId missing, a bad time, or a window backwards or longer than 366 days", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/insights/dora")]
pub async fn dora(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let given = q.contains("environmentId");
    let environment = q.uuid("environmentId");
    if !given {
        q.error(FieldError::new(
            "environmentId",
            "is required: the environment to measure",
        ));
    }
    let from = q.time("from");
    let to = q.time("to");
    q.finish()?;
    let environment = environment.ok_or_else(|| Problem::internal("no environmentId"))?;
    let measures = state
        .views
        .dora(&actor, EnvironmentId(environment), from, to)
        .await?;
    Ok(HttpResponse::Ok().json(DoraResponse::new(environment, measures)))
}
