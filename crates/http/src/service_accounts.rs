//! `/api/v1/service-accounts`: machines that act in the organization with their roles,
//! authenticated by a login and a secret shown once (HTTP Basic on the dialects, or the secret
//! as a bearer token).

use crate::auth::Authenticated;
use crate::environments::Deleted;
use crate::extract::{path_id, JsonBody, Query};
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{NewServiceAccount, Page, ServiceAccount, ServiceAccountId};
use utoipa::ToSchema;
use uuid::Uuid;

/// A service account to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "flexdeploy",
    "description": "FlexDeploy's topology sync",
    "roles": ["admin"]
}))]
pub struct ServiceAccountBody {
    /// 1 to 100 letters, digits, `.`, `_` or `-`; unique in the organization.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    pub name: Option<String>,
    /// Free text, at most 2000 characters.
    pub description: Option<String>,
    /// At least one of `admin`, `deployer`, `viewer`.
    #[schema(schema_with = crate::schema::roles)]
    pub roles: Option<Vec<String>>,
}

/// A service account (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "flexdeploy",
    "description": "FlexDeploy's topology sync",
    "roles": ["admin"],
    "login": "sa-5f2c0e9a41b7d3c8e6f1",
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "createdAt": "2026-01-10T14:00:00Z",
    "secretIssuedAt": "2026-01-10T14:00:00Z"
}))]
pub struct ServiceAccountResponse {
    /// Id; also the user id it acts as.
    pub id: Uuid,
    /// The organization it acts in.
    pub organization_id: Uuid,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// What it may do.
    pub roles: Vec<String>,
    /// The user name of its HTTP Basic credentials, unique across the server.
    pub login: String,
    /// Who created it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When its current secret was issued.
    pub secret_issued_at: DateTime<Utc>,
}

impl From<ServiceAccount> for ServiceAccountResponse {
    fn from(account: ServiceAccount) -> Self {
        Self {
            id: account.id.0,
            organization_id: account.tenant.as_uuid(),
            name: account.name,
            description: account.description,
            roles: account
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            login: account.login,
            created_by: account.created_by.as_uuid(),
            created_at: account.created_at,
            secret_issued_at: account.secret_issued_at,
        }
    }
}

/// A service account with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "flexdeploy",
    "description": "FlexDeploy's topology sync",
    "roles": ["admin"],
    "login": "sa-5f2c0e9a41b7d3c8e6f1",
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "createdAt": "2026-01-10T14:00:00Z",
    "secretIssuedAt": "2026-01-10T14:00:00Z",
    "secret": "trn_sa_3b1f0c5d7e9a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c"
}))]
pub struct ServiceAccountWithSecret {
    /// The account.
    #[serde(flatten)]
    pub account: ServiceAccountResponse,
    /// `trn_sa_` and 256 random bits: the password of its HTTP Basic credentials, or a bearer
    /// token. Stored only as a hash; it cannot be shown again (rotate for a new one).
    pub secret: String,
}

fn with_secret(
    status: actix_web::http::StatusCode,
    account: ServiceAccount,
    secret: String,
) -> HttpResponse {
    let url = format!("/api/v1/service-accounts/{}", account.id);
    HttpResponse::build(status)
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ServiceAccountWithSecret {
            account: account.into(),
            secret,
        })
}

/// Create a service account (admin). The answer carries its secret, shown this once.
#[utoipa::path(
    tag = "service-accounts",
    request_body = ServiceAccountBodyDoc,
    responses(
        (status = 201, description = "Created", body = ServiceAccountWithSecret,
         headers(("Location" = String, description = "The account's URL"))),
        (status = 400, description = "Bad name, description or roles", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/service-accounts")]
pub async fn create_service_account(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<ServiceAccountBody>,
) -> Result<HttpResponse, Problem> {
    let body = body.value;
    let new = NewServiceAccount::parse(body.name.as_deref(), body.description, body.roles)?;
    let (account, secret) = state.service_accounts.create(&actor, new).await?;
    Ok(with_secret(
        actix_web::http::StatusCode::CREATED,
        account,
        secret,
    ))
}

/// List service accounts by name (admin).
#[utoipa::path(
    tag = "service-accounts",
    params(
        ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"),
        ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)"),
    ),
    responses(
        (status = 200, description = "The page of service accounts", body = Vec<ServiceAccountResponse>,
         headers(("X-Total-Count" = u64, description = "All service accounts"))),
        (status = 400, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/service-accounts")]
pub async fn list_service_accounts(
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
    let (accounts, total) = state.service_accounts.list(&actor, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(
        accounts
            .into_iter()
            .map(ServiceAccountResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Get one service account (admin).
#[utoipa::path(
    tag = "service-accounts",
    params(("id" = Uuid, Path, description = "Service account id")),
    responses(
        (status = 200, description = "The account", body = ServiceAccountResponse),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/service-accounts/{id}")]
pub async fn get_service_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ServiceAccountId(path_id(&req, "id")?);
    let account = state.service_accounts.get(&actor, id).await?;
    Ok(HttpResponse::Ok().json(ServiceAccountResponse::from(account)))
}

/// Delete a service account (admin): its secret stops working at once.
#[utoipa::path(
    tag = "service-accounts",
    params(("id" = Uuid, Path, description = "Service account id")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such account in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/service-accounts/{id}")]
pub async fn delete_service_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ServiceAccountId(path_id(&req, "id")?);
    state.service_accounts.revoke(&actor, id).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

/// Give a service account a new secret (admin), shown this once; the old one stops working at
/// once.
#[utoipa::path(
    tag = "service-accounts",
    params(("id" = Uuid, Path, description = "Service account id")),
    responses(
        (status = 200, description = "The account with its new secret", body = ServiceAccountWithSecret),
        (status = 404, description = "No such account in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/service-accounts/{id}/rotate")]
pub async fn rotate_service_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = ServiceAccountId(path_id(&req, "id")?);
    let (account, secret) = state.service_accounts.rotate(&actor, id).await?;
    Ok(with_secret(
        actix_web::http::StatusCode::OK,
        account,
        secret,
    ))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`ServiceAccountBody`]).
    ServiceAccountBodyDoc as "ServiceAccountBody" = ServiceAccountBody, ["name", "roles"]
);
