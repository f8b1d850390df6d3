//! `/api/v1/targets`: the HTTP face of the target use cases.

use crate::auth::Authenticated;
use crate::environments::Deleted;
use crate::extract::{etag, if_match, not_modified, path_id, with_location, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use terrane_domain::{
    EnvironmentId, FieldError, HealthStatus, LabelSelector, Page, Target, TargetFilter,
    TargetGroupId, TargetId, TargetInput, TargetType,
};
use terrane_ports::TargetQuery;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

fn target_type_schema() -> utoipa::openapi::Object {
    string_enum(TargetType::ALL.iter().map(|t| t.as_str()), "docker_host")
}

fn health_status_schema() -> utoipa::openapi::Object {
    string_enum(HealthStatus::ALL.iter().map(|h| h.as_str()), "unknown")
}

/// Distinguishes an explicit `null` (`Some(None)`) from an absent field (`None`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The connection of a `docker_host` target: a Docker daemon over TCP.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"host": "192.168.1.100", "port": 2375, "tlsEnabled": true}))]
#[allow(dead_code)] // documents the shape; `Connection::parse` in the domain reads it.
pub struct DockerHostConnection {
    /// A host name or an IP address.
    host: String,
    /// 1 to 65535.
    #[schema(minimum = 1, maximum = 65535)]
    port: u16,
    /// Default false.
    tls_enabled: Option<bool>,
}

/// The connection of a `compose_host` target: a Compose project on a Docker daemon.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"host": "docker-1.internal", "port": 2376, "tlsEnabled": true, "projectName": "shop"}))]
#[allow(dead_code)] // documents the shape; `Connection::parse` in the domain reads it.
pub struct ComposeHostConnection {
    /// A host name or an IP address.
    host: String,
    /// 1 to 65535.
    #[schema(minimum = 1, maximum = 65535)]
    port: u16,
    /// Default false.
    tls_enabled: Option<bool>,
    /// Lowercase letters, digits, `-` and `_`, starting with a letter or digit.
    project_name: String,
}

/// The connection of an `ecs_service` target.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"cluster": "prod", "service": "api", "region": "us-east-1"}))]
#[allow(dead_code)] // documents the shape; `Connection::parse` in the domain reads it.
pub struct EcsServiceConnection {
    /// Cluster name or ARN.
    cluster: String,
    /// Service name or ARN.
    service: String,
    /// AWS region, like `us-east-1`.
    region: String,
}

/// The connection of a `nomad_job` target.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"address": "https://nomad.example.com:4646", "jobId": "api", "namespace": "default"}))]
#[allow(dead_code)] // documents the shape; `Connection::parse` in the domain reads it.
pub struct NomadJobConnection {
    /// The Nomad HTTP API, an `http://` or `https://` URL.
    address: String,
    /// The job's id.
    job_id: String,
    /// Default `default`.
    namespace: Option<String>,
}

/// How to reach a target; the fields depend on `targetType`, and unknown fields are refused.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the shape; `Connection::parse` in the domain reads it.
pub enum ConnectionSchema {
    /// `docker_host`.
    DockerHost(DockerHostConnection),
    /// `compose_host`.
    ComposeHost(ComposeHostConnection),
    /// `ecs_service`.
    EcsService(EcsServiceConnection),
    /// `nomad_job`.
    NomadJob(NomadJobConnection),
}

/// A target as a client writes it. On create, `environmentId`, `name`, `targetType` and
/// `connection` are required. On `PUT`, absent fields stay and `null` clears `targetGroupId`
/// and `deploymentDirectory` (other fields cannot be null); on `PATCH`, absent and `null`
/// fields both stay. A new `targetType` or `connection` replaces the connection whole.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "environmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
    "targetGroupId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
    "name": "prod-web-01",
    "targetType": "docker_host",
    "connection": {"host": "192.168.1.100", "port": 2375, "tlsEnabled": true},
    "labels": {"role": "web", "datacenter": "us-east-1"},
    "deploymentDirectory": "/opt/deployments"
}))]
pub struct TargetBody {
    /// The environment it belongs to.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub environment_id: Option<Option<Uuid>>,
    /// A target group assigned to that environment.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub target_group_id: Option<Option<Uuid>>,
    /// 1 to 100 letters, digits, `.`, `_` or `-`, starting with a letter or digit; unique in
    /// the environment.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "prod-web-01", pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    pub name: Option<Option<String>>,
    /// What kind of place it is; decides the fields of `connection`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = target_type_schema)]
    pub target_type: Option<Option<String>>,
    /// How to reach it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ConnectionSchema>)]
    pub connection: Option<Option<Map<String, Value>>>,
    /// At most 64 labels: keys of 1 to 63 lowercase letters, digits, `.`, `_`, `/` or `-`,
    /// string values of at most 255 characters. Replaces all labels on update.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub labels: Option<Option<Map<String, Value>>>,
    /// Where deployments put their files: an absolute path.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "/opt/deployments")]
    pub deployment_directory: Option<Option<String>>,
}

/// A field that may be absent but, on `PUT`, not `null`.
fn required<T>(
    errors: &mut Vec<FieldError>,
    put: bool,
    value: Option<Option<T>>,
    field: &str,
) -> Option<T> {
    match value {
        Some(None) if put => {
            errors.push(FieldError::new(
                field,
                "must not be null; omit it to keep the current value",
            ));
            None
        }
        other => other.flatten(),
    }
}

/// A nullable field: on `PUT`, `null` clears it; otherwise `null` means absent.
fn clearable<T>(put: bool, value: Option<Option<T>>) -> Option<Option<T>> {
    if put {
        value
    } else {
        value.flatten().map(Some)
    }
}

impl TargetBody {
    fn into_input(self, put: bool) -> Result<TargetInput, Problem> {
        let mut errors = Vec::new();
        let input = TargetInput {
            environment_id: required(&mut errors, put, self.environment_id, "environmentId"),
            target_group_id: clearable(put, self.target_group_id),
            name: required(&mut errors, put, self.name, "name"),
            target_type: required(&mut errors, put, self.target_type, "targetType"),
            connection: required(&mut errors, put, self.connection, "connection"),
            labels: required(&mut errors, put, self.labels, "labels"),
            deployment_directory: clearable(put, self.deployment_directory),
        };
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(Problem::validation(&errors))
        }
    }
}

/// A target.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "environmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
    "targetGroupId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
    "name": "prod-web-01",
    "targetType": "docker_host",
    "connection": {"host": "192.168.1.100", "port": 2375, "tlsEnabled": true},
    "labels": {"datacenter": "us-east-1", "role": "web"},
    "deploymentDirectory": "/opt/deployments",
    "healthStatus": "unknown",
    "healthMessage": null,
    "lastHealthCheckAt": null,
    "version": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "updatedAt": "2026-01-10T14:23:45Z"
}))]
pub struct TargetResponse {
    /// Id.
    pub id: Uuid,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// Its environment.
    pub environment_id: Uuid,
    /// Its target group, if any.
    pub target_group_id: Option<Uuid>,
    /// Unique in the environment.
    pub name: String,
    /// What kind of place it is.
    #[schema(schema_with = target_type_schema)]
    pub target_type: &'static str,
    /// How to reach it, with defaults filled in.
    #[schema(value_type = ConnectionSchema)]
    pub connection: Map<String, Value>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Where deployments put their files.
    pub deployment_directory: Option<String>,
    /// What the last health check found (`unknown` until the first).
    #[schema(schema_with = health_status_schema)]
    pub health_status: &'static str,
    /// What the last health check said.
    pub health_message: Option<String>,
    /// When it was last checked.
    pub last_health_check_at: Option<DateTime<Utc>>,
    /// Bumped by every change; also the ETag.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Target> for TargetResponse {
    fn from(target: Target) -> Self {
        Self {
            id: target.id.as_uuid(),
            organization_id: target.tenant.as_uuid(),
            environment_id: target.environment_id.as_uuid(),
            target_group_id: target.target_group_id.map(|g| g.as_uuid()),
            name: target.name.as_str().to_owned(),
            target_type: target.target_type().as_str(),
            connection: target.connection.to_json(),
            labels: target
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            deployment_directory: target.deployment_directory,
            health_status: target.health_status.as_str(),
            health_message: target.health_message,
            last_health_check_at: target.last_health_check_at,
            version: target.version,
            created_at: target.created_at,
            updated_at: target.updated_at,
        }
    }
}

/// Filters and paging of the target list; every filter given must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `list_query`.
pub struct TargetListParams {
    /// In this environment.
    environment_id: Option<Uuid>,
    /// In this target group.
    target_group_id: Option<Uuid>,
    /// Of this type (`docker_host`, `compose_host`, `ecs_service`, `nomad_job`).
    #[param(schema_with = target_type_schema)]
    target_type: Option<String>,
    /// With this health (`unknown`, `healthy`, `degraded`, `unhealthy`).
    #[param(schema_with = health_status_schema)]
    health_status: Option<String>,
    /// A JSON object of string values, URL-encoded: a target matches when it has every
    /// listed pair, e.g. `{"role":"web"}`.
    #[param(example = json!("{\"role\":\"web\"}"))]
    labels: Option<String>,
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

fn list_query(req: &HttpRequest) -> Result<TargetQuery, Problem> {
    let mut q = Query::of(req)?;
    let filter = TargetFilter {
        environment_id: q.uuid("environmentId").map(EnvironmentId),
        target_group_id: q.uuid("targetGroupId").map(TargetGroupId),
        target_type: q.parsed("targetType", |v| v.parse()),
        health_status: q.parsed("healthStatus", |v| v.parse()),
        labels: q.parsed("labels", |v| LabelSelector::parse(v).map_err(|e| e.message)),
    };
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(TargetQuery { filter, page })
}

fn respond(status: StatusCode, target: Target) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(target.version)))
        .json(TargetResponse::from(target))
}

/// Create a target.
#[utoipa::path(
    tag = "targets",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    request_body = TargetCreateBodyDoc,
    responses(
        (status = 201, description = "Created", body = TargetResponse,
         headers(("Location" = String, description = "The new target's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Invalid fields (each bad connection field is named), an unknown environment, or a group not assigned to it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken in the environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/targets")]
pub async fn create_target(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TargetBody>,
) -> Result<HttpResponse, Problem> {
    let input = body.value.into_input(false)?;
    idempotent(&req, &state, &actor, &body.raw, || async {
        let target = state.targets.create(&actor, input).await?;
        let url = format!("/api/v1/targets/{}", target.id);
        with_location(respond(StatusCode::CREATED, target), &url)
    })
    .await
}

/// List targets, ordered by name.
#[utoipa::path(
    tag = "targets",
    params(TargetListParams),
    responses(
        (status = 200, description = "The page of targets", body = Vec<TargetResponse>,
         headers(("X-Total-Count" = u64, description = "Targets matching the filters, over all pages"))),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/targets")]
pub async fn list_targets(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let query = list_query(&req)?;
    let page = query.page;
    let (targets, total) = state.targets.list(&actor, query).await?;
    Ok(crate::paging::page_of(&req, page, total).json(
        targets
            .into_iter()
            .map(TargetResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Get one target. `If-None-Match` with its current ETag answers 304.
#[utoipa::path(
    tag = "targets",
    params(("id" = Uuid, Path, description = "Target id")),
    responses(
        (status = 200, description = "The target", body = TargetResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such target in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/targets/{id}")]
pub async fn get_target(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    let target = state.targets.get(&actor, id).await?;
    if not_modified(&req, target.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(target.version)))
            .finish());
    }
    Ok(respond(StatusCode::OK, target))
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: terrane_domain::Actor,
    body: TargetBody,
    put: bool,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let input = body.into_input(put)?;
    let target = state.targets.update(&actor, id, expected, input).await?;
    Ok(respond(StatusCode::OK, target))
}

/// Replace fields of a target: fields present replace (`connection` and `labels` whole),
/// fields absent stay, `null` clears `targetGroupId` and `deploymentDirectory`.
#[utoipa::path(
    tag = "targets",
    params(("id" = Uuid, Path, description = "Target id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = TargetBody,
    responses(
        (status = 200, description = "Updated", body = TargetResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields, an unknown environment, or a group not assigned to it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such target", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken in the environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/targets/{id}")]
pub async fn put_target(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TargetBody>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, true).await
}

/// Change some fields of a target: absent or `null` fields stay as they are.
#[utoipa::path(
    tag = "targets",
    params(("id" = Uuid, Path, description = "Target id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = TargetBody,
    responses(
        (status = 200, description = "Updated", body = TargetResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields, an unknown environment, or a group not assigned to it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such target", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken in the environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/targets/{id}")]
pub async fn patch_target(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<TargetBody>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, false).await
}

/// Delete a target.
#[utoipa::path(
    tag = "targets",
    params(("id" = Uuid, Path, description = "Target id"),
           ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such target", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/targets/{id}")]
pub async fn delete_target(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    state.targets.delete(&actor, id, expected).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

/// The version sticker of a target: the release its environment runs, the components of it
/// with their digests, when and by whom the last of them was deployed.
#[utoipa::path(
    tag = "deployments",
    params(("id" = Uuid, Path, description = "Target id")),
    responses(
        (status = 200, description = "What the target's environment runs", body = crate::views::StickerResponse),
        (status = 404, description = "No such target in your organization, or nothing was ever deployed to its environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/targets/{id}/sticker")]
pub async fn get_target_sticker(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = TargetId(path_id(&req, "id")?);
    match state.views.sticker(&actor, id).await? {
        Some(sticker) => Ok(HttpResponse::Ok().json(crate::views::StickerResponse::from(sticker))),
        None => Err(Problem::new(
            crate::problem::ProblemKind::NotFound,
            "nothing was ever deployed to this target's environment",
        )),
    }
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`TargetBody`]).
    TargetCreateBodyDoc as "TargetCreateBody" = TargetBody, ["environmentId", "name", "targetType", "connection"]
);
