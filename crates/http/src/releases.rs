//! `/api/v1/releases`: named sets of component versions, and deploying them.

use crate::auth::Authenticated;
use crate::deployments::DeploymentResponse;
use crate::extract::{path_id, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{
    EnvironmentId, Page, Release, ReleaseComponentInput, ReleaseId, ReleaseInput,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// One component version of a release to record.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseComponentBody {
    /// The component.
    pub component_id: Option<Uuid>,
    /// Its version label.
    #[schema(example = "v2.3.1")]
    pub version: Option<String>,
    /// Its image digest: `sha256:` and 64 lowercase hex digits.
    pub digest: Option<String>,
}

/// A release to record: a name unique in the organization and at least one component, each
/// at most once.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "2026.01-sprint-3",
    "components": [
        {"componentId": "550e8400-e29b-41d4-a716-446655440001", "version": "v2.3.1",
         "digest": "sha256:0d5c5f1e3b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"},
        {"componentId": "550e8400-e29b-41d4-a716-446655440002", "version": "v1.8.0"}
    ]
}))]
pub struct ReleaseBody {
    /// 1 to 128 characters.
    #[schema(example = "2026.01-sprint-3")]
    pub name: Option<String>,
    /// The component versions.
    pub components: Option<Vec<ReleaseComponentBody>>,
}

impl From<ReleaseBody> for ReleaseInput {
    fn from(body: ReleaseBody) -> Self {
        ReleaseInput {
            name: body.name,
            components: body.components.map(|list| {
                list.into_iter()
                    .map(|c| ReleaseComponentInput {
                        component_id: c.component_id,
                        version: c.version,
                        digest: c.digest,
                    })
                    .collect()
            }),
        }
    }
}

/// One component version of a release.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseComponentResponse {
    /// The component.
    pub component_id: Uuid,
    /// Its version.
    pub version: String,
    /// Its image digest.
    pub digest: Option<String>,
}

/// A release.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "2026.01-sprint-3",
    "components": [
        {"componentId": "550e8400-e29b-41d4-a716-446655440001", "version": "v2.3.1",
         "digest": "sha256:0d5c5f1e3b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"},
        {"componentId": "550e8400-e29b-41d4-a716-446655440002", "version": "v1.8.0", "digest": null}
    ],
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "createdAt": "2026-01-10T14:23:45Z"
}))]
pub struct ReleaseResponse {
    /// Id.
    pub id: Uuid,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// Unique name.
    pub name: String,
    /// The component versions, by component id.
    pub components: Vec<ReleaseComponentResponse>,
    /// Who recorded it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<Release> for ReleaseResponse {
    fn from(r: Release) -> Self {
        Self {
            id: r.id.0,
            organization_id: r.tenant.as_uuid(),
            name: r.name,
            components: r
                .components
                .into_iter()
                .map(|c| ReleaseComponentResponse {
                    component_id: c.component_id.as_uuid(),
                    version: c.version.as_str().to_owned(),
                    digest: c.digest.map(|d| d.as_str().to_owned()),
                })
                .collect(),
            created_by: r.created_by.as_uuid(),
            created_at: r.created_at,
        }
    }
}

/// A page of releases, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasePage {
    /// The releases of this page.
    pub data: Vec<ReleaseResponse>,
    /// All releases.
    pub total: u64,
    /// Rows skipped.
    pub skip: u32,
    /// Most rows returned.
    pub take: u32,
}

/// Paging of the release list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in the handler.
pub struct ReleaseListParams {
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

/// Where to deploy a release.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"environmentId": "550e8400-e29b-41d4-a716-446655440010"}))]
pub struct DeployReleaseBody {
    /// The environment.
    pub environment_id: Option<Uuid>,
}

/// Record a release.
#[utoipa::path(
    tag = "releases",
    request_body = ReleaseBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Recorded", body = ReleaseResponse,
         headers(("Location" = String, description = "The release's URL"))),
        (status = 400, description = "Invalid fields, or a component that does not exist (named as components[i].componentId)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor deployer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/releases")]
pub async fn create_release(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<ReleaseBody>,
) -> Result<HttpResponse, Problem> {
    let input = ReleaseInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let release = state.releases.create(&actor, input).await?;
        let url = format!("/api/v1/releases/{}", release.id);
        Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, url))
            .json(ReleaseResponse::from(release)))
    })
    .await
}

/// List releases, newest first.
#[utoipa::path(
    tag = "releases",
    params(ReleaseListParams),
    responses(
        (status = 200, description = "A page of releases", body = ReleasePage),
        (status = 400, description = "Bad page", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/releases")]
pub async fn list_releases(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    let (list, total) = state.releases.list(&actor, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(ReleasePage {
        data: list.into_iter().map(ReleaseResponse::from).collect(),
        total,
        skip: page.skip(),
        take: page.take(),
    }))
}

/// Get one release.
#[utoipa::path(
    tag = "releases",
    params(("id" = Uuid, Path, description = "Release id")),
    responses(
        (status = 200, description = "The release", body = ReleaseResponse),
        (status = 404, description = "No such release in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/releases/{id}")]
pub async fn get_release(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ReleaseId(path_id(&req, "id")?);
    let release = state.releases.get(&actor, id).await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(release)))
}

/// Deploy a release into an environment: one pending deployment per component of the
/// release, recorded together (all or none).
#[utoipa::path(
    tag = "releases",
    params(("id" = Uuid, Path, description = "Release id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    request_body = DeployReleaseBodyDoc,
    responses(
        (status = 201, description = "The deployments recorded", body = Vec<DeploymentResponse>),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor deployer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such release or environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The environment is destroyed or inactive", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/releases/{id}/deploy")]
pub async fn deploy_release(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<DeployReleaseBody>,
) -> Result<HttpResponse, Problem> {
    let id = ReleaseId(path_id(&req, "id")?);
    let environment = body
        .value
        .environment_id
        .map(EnvironmentId)
        .ok_or_else(|| Problem::bad_field("environmentId", "is required"))?;
    idempotent(&req, &state, &actor, &body.raw, || async {
        let deployments = state.releases.deploy(&actor, id, environment).await?;
        Ok(HttpResponse::Created().json(
            deployments
                .into_iter()
                .map(DeploymentResponse::from)
                .collect::<Vec<_>>(),
        ))
    })
    .await
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`ReleaseBody`]).
    ReleaseBodyDoc as "ReleaseBody" = ReleaseBody, ["name", "components"]
);

crate::schema::requiring_schema!(
    /// What the operation takes (see [`DeployReleaseBody`]).
    DeployReleaseBodyDoc as "DeployReleaseBody" = DeployReleaseBody, ["environmentId"]
);
