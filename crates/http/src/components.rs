//! `/api/v1/catalog/components`: the HTTP face of the component catalog.

use crate::auth::Authenticated;
use crate::environments::Deleted;
use crate::extract::{etag, if_match, not_modified, path_id, with_location, JsonBody, Query};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{
    Component, ComponentFilter, ComponentId, ComponentInput, ComponentKind, ComponentLifecycle,
    Page,
};
use terrane_ports::ComponentQuery;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

fn kind_schema() -> utoipa::openapi::Object {
    string_enum(ComponentKind::ALL.iter().map(|k| k.as_str()), "service")
}

/// `null` leaves the field as it is on `PATCH`.
fn nullable_kind_schema() -> utoipa::openapi::Object {
    crate::schema::nullable(kind_schema())
}

/// `null` keeps the default on create and the field as it is on `PATCH`.
fn nullable_lifecycle_schema() -> utoipa::openapi::Object {
    crate::schema::nullable(lifecycle_schema())
}

fn lifecycle_schema() -> utoipa::openapi::Object {
    string_enum(
        ComponentLifecycle::ALL.iter().map(|l| l.as_str()),
        "production",
    )
}

/// A component as a client writes it. On create, `name` and `kind` are required and
/// `lifecycle` defaults to `experimental`. On `PATCH`, absent and `null` fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "payments-api",
    "kind": "service",
    "owner": "team-payments",
    "lifecycle": "production",
    "description": "Takes card payments and settles them nightly"
}))]
pub struct ComponentBody {
    /// Lowercase slug (letters, digits, `-`), 1 to 100 characters, unique in the organization.
    #[schema(
        example = "payments-api",
        pattern = "^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$"
    )]
    pub name: Option<String>,
    /// `service`, `website`, `library`, `worker` or `job`.
    #[schema(schema_with = nullable_kind_schema)]
    pub kind: Option<String>,
    /// Who answers for it (a team or a person): free text, 1 to 100 characters.
    #[schema(example = "team-payments", pattern = "\\S", max_length = 100)]
    pub owner: Option<String>,
    /// `experimental` (default), `production` or `deprecated`.
    #[schema(schema_with = nullable_lifecycle_schema)]
    pub lifecycle: Option<String>,
    /// Free text, at most 2000 characters.
    pub description: Option<String>,
}

impl From<ComponentBody> for ComponentInput {
    fn from(body: ComponentBody) -> Self {
        ComponentInput {
            name: body.name,
            kind: body.kind,
            owner: body.owner.map(Some),
            lifecycle: body.lifecycle,
            description: body.description.map(Some),
        }
    }
}

/// A component of the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6c",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "payments-api",
    "kind": "service",
    "owner": "team-payments",
    "lifecycle": "production",
    "description": "Takes card payments and settles them nightly",
    "version": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "updatedAt": "2026-01-10T14:23:45Z"
}))]
pub struct ComponentResponse {
    /// Id.
    pub id: Uuid,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// Unique slug.
    pub name: String,
    /// What sort of thing it is.
    #[schema(schema_with = kind_schema)]
    pub kind: &'static str,
    /// Who answers for it.
    pub owner: Option<String>,
    /// Where it is in its life.
    #[schema(schema_with = lifecycle_schema)]
    pub lifecycle: &'static str,
    /// Free text.
    pub description: Option<String>,
    /// Bumped by every change; also the ETag.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Component> for ComponentResponse {
    fn from(component: Component) -> Self {
        Self {
            id: component.id.as_uuid(),
            organization_id: component.tenant.as_uuid(),
            name: component.name.as_str().to_owned(),
            kind: component.kind.as_str(),
            owner: component.owner,
            lifecycle: component.lifecycle.as_str(),
            description: component.description,
            version: component.version,
            created_at: component.created_at,
            updated_at: component.updated_at,
        }
    }
}

/// A page of components.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentPage {
    /// The components of this page, ordered by name.
    pub data: Vec<ComponentResponse>,
    /// Components matching the filters, over all pages.
    #[schema(example = 1)]
    pub total: u64,
    /// Rows skipped.
    #[schema(example = 0)]
    pub skip: u32,
    /// Most rows returned.
    #[schema(example = 20)]
    pub take: u32,
}

/// Filters and paging of the component list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `list_query`.
pub struct ComponentListParams {
    /// Name contains this, ignoring case.
    name: Option<String>,
    /// Kind equals this (`service`, `website`, `library`, `worker`, `job`).
    #[param(schema_with = kind_schema)]
    kind: Option<String>,
    /// Owner equals this, ignoring case.
    owner: Option<String>,
    /// Lifecycle equals this (`experimental`, `production`, `deprecated`).
    #[param(schema_with = lifecycle_schema)]
    lifecycle: Option<String>,
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
}

fn list_query(req: &HttpRequest) -> Result<ComponentQuery, Problem> {
    let mut q = Query::of(req)?;
    let filter = ComponentFilter {
        name: q.text("name"),
        kind: q.parsed("kind", |v| v.parse()),
        owner: q.text("owner"),
        lifecycle: q.parsed("lifecycle", |v| v.parse()),
    };
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(ComponentQuery { filter, page })
}

/// One component's response with its ETag.
fn one(status: StatusCode, component: Component) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(component.version)))
        .json(ComponentResponse::from(component))
}

/// Add a component to the catalog.
#[utoipa::path(
    tag = "catalog",
    request_body = ComponentCreateBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = ComponentResponse,
         headers(("Location" = String, description = "The new component's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/catalog/components")]
pub async fn create_component(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<ComponentBody>,
) -> Result<HttpResponse, Problem> {
    let input = ComponentInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let component = state.components.create(&actor, input).await?;
        let url = format!("/api/v1/catalog/components/{}", component.id);
        with_location(one(StatusCode::CREATED, component), &url)
    })
    .await
}

/// List components, ordered by name.
#[utoipa::path(
    tag = "catalog",
    params(ComponentListParams),
    responses(
        (status = 200, description = "A page of components", body = ComponentPage),
        (status = 400, description = "Bad filter or page", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/catalog/components")]
pub async fn list_components(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let query = list_query(&req)?;
    let page = query.page;
    let (components, total) = state.components.list(&actor, query).await?;
    Ok(
        crate::paging::page_of(&req, page, total).json(ComponentPage {
            data: components
                .into_iter()
                .map(ComponentResponse::from)
                .collect(),
            total,
            skip: page.skip(),
            take: page.take(),
        }),
    )
}

/// Get one component. `If-None-Match` with its current ETag answers 304.
#[utoipa::path(
    tag = "catalog",
    params(("id" = Uuid, Path, description = "Component id")),
    responses(
        (status = 200, description = "The component", body = ComponentResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such component in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/catalog/components/{id}")]
pub async fn get_component(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ComponentId(path_id(&req, "id")?);
    let component = state.components.get(&actor, id).await?;
    if not_modified(&req, component.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(component.version)))
            .finish());
    }
    Ok(one(StatusCode::OK, component))
}

/// Change some fields of a component: absent or `null` fields stay as they are.
#[utoipa::path(
    tag = "catalog",
    params(("id" = Uuid, Path, description = "Component id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = ComponentBody,
    responses(
        (status = 200, description = "Updated", body = ComponentResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such component", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/catalog/components/{id}")]
pub async fn patch_component(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<ComponentBody>,
) -> Result<HttpResponse, Problem> {
    let id = ComponentId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let component = state
        .components
        .update(&actor, id, expected, body.value.into())
        .await?;
    Ok(one(StatusCode::OK, component))
}

/// Remove a component from the catalog.
#[utoipa::path(
    tag = "catalog",
    params(("id" = Uuid, Path, description = "Component id"),
           ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such component", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/catalog/components/{id}")]
pub async fn delete_component(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ComponentId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    state.components.delete(&actor, id, expected).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`ComponentBody`]).
    ComponentCreateBodyDoc as "ComponentCreateBody" = ComponentBody, ["name", "kind"]
);
