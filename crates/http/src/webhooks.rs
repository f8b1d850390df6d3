//! `/api/v1/webhooks`: URLs that receive the organization's events as signed `POST`s, and
//! their deliveries (admin only).

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
    EventTypeFilter, Page, Webhook, WebhookDelivery, WebhookDeliveryId, WebhookId, WebhookInput,
};
use utoipa::ToSchema;
use uuid::Uuid;

fn delivery_status_schema() -> utoipa::openapi::Object {
    string_enum(["pending", "succeeded", "dead"].into_iter(), "dead")
}

/// A webhook to create, or the fields to change (absent or `null` fields stay as they are).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.example.com/terrane",
    "types": ["deployment.*", "freeze_window.started"],
    "active": true
}))]
pub struct WebhookBody {
    /// An absolute `http` or `https` URL, without credentials. A link-local or cloud metadata
    /// address (169.254.0.0/16, fe80::/10, fd00:ec2::254) is refused unless
    /// `TERRANE_PROBE_ALLOW` allows it, and `TERRANE_PROBE_DENY` refuses more: the same
    /// policy as health probes, applied to every address the host resolves to at each attempt.
    pub url: Option<String>,
    /// The key deliveries are signed with: 16 to 200 printable ASCII characters. Write-only:
    /// when omitted at creation terrane generates one (`whsec_...`); it is returned only in
    /// the answer to the create, never again.
    pub secret: Option<String>,
    /// Event type filters: a type (`deployment.status_changed`), every type of a kind
    /// (`deployment.*`) or `*`. Empty or absent: every event.
    pub types: Option<Vec<String>>,
    /// Inactive webhooks get no deliveries; pending ones wait. Default `true`.
    pub active: Option<bool>,
}

impl From<WebhookBody> for WebhookInput {
    fn from(body: WebhookBody) -> Self {
        WebhookInput {
            url: body.url,
            secret: body.secret,
            types: body.types,
            active: body.active,
        }
    }
}

/// A webhook (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "url": "https://hooks.example.com/terrane",
    "types": ["deployment.*"],
    "active": true,
    "version": 1,
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "createdAt": "2026-12-04T09:00:00Z",
    "updatedAt": "2026-12-04T09:00:00Z"
}))]
pub struct WebhookResponse {
    /// Id.
    pub id: Uuid,
    /// The organization whose events it receives.
    pub organization_id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// Event type filters; empty takes every event.
    pub types: Vec<String>,
    /// Whether it gets deliveries.
    pub active: bool,
    /// Bumped by every change; also the ETag.
    pub version: i64,
    /// Who created it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Webhook> for WebhookResponse {
    fn from(webhook: &Webhook) -> Self {
        Self {
            id: webhook.id.0,
            organization_id: webhook.tenant.as_uuid(),
            url: webhook.url.as_str().to_owned(),
            types: webhook
                .types
                .iter()
                .map(EventTypeFilter::as_str)
                .map(str::to_owned)
                .collect(),
            active: webhook.active,
            version: webhook.version,
            created_by: webhook.created_by.as_uuid(),
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

/// A webhook just created, with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: WebhookResponse,
    /// The signing secret: the one given, or the one terrane generated. Not shown again.
    #[schema(example = "whsec_3b1f0c5d7e9a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c")]
    pub secret: String,
}

/// A page of webhooks, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookPage {
    /// The webhooks of this page.
    pub data: Vec<WebhookResponse>,
    /// All webhooks.
    #[schema(example = 1)]
    pub total: u64,
    /// Rows skipped.
    #[schema(example = 0)]
    pub skip: u32,
    /// Most rows returned.
    #[schema(example = 20)]
    pub take: u32,
}

/// One event's delivery to a webhook.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-9a00-7000-8000-0000000000d1",
    "webhookId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5ab0",
    "eventId": "0.42",
    "eventType": "deployment.status_changed",
    "status": "dead",
    "attempts": 14,
    "lastStatusCode": 500,
    "lastError": "the receiver answered 500",
    "lastDurationMs": 31,
    "lastAttemptAt": "2026-12-05T09:00:00Z",
    "nextAttemptAt": null,
    "createdAt": "2026-12-04T09:00:00Z",
    "updatedAt": "2026-12-05T09:00:00Z"
}))]
pub struct DeliveryResponse {
    /// Id: the `X-Terrane-Delivery` header, the same on every attempt.
    pub id: Uuid,
    /// The webhook.
    pub webhook_id: Uuid,
    /// The event delivered (its id in `/api/v1/events`).
    pub event_id: String,
    /// Its type: the `X-Terrane-Event` header.
    pub event_type: String,
    /// `pending` (waiting for an attempt or a retry), `succeeded` (answered 2xx) or `dead`
    /// (every attempt of the retry window failed; redeliver to try again).
    #[schema(schema_with = delivery_status_schema)]
    pub status: &'static str,
    /// Attempts since it was created or last redelivered.
    pub attempts: u32,
    /// The status code of the last answer, if the last attempt got one.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed (timeout, refused connection, status).
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub last_duration_ms: Option<u64>,
    /// When the last attempt began.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the event was queued for this webhook.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookDelivery> for DeliveryResponse {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id.0,
            webhook_id: d.webhook.0,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_duration_ms: d.last_duration_ms,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// The deliveries of this page.
    pub data: Vec<DeliveryResponse>,
    /// All deliveries of the webhook.
    #[schema(example = 1)]
    pub total: u64,
    /// Rows skipped.
    #[schema(example = 0)]
    pub skip: u32,
    /// Most rows returned.
    #[schema(example = 20)]
    pub take: u32,
}

fn page_query(req: &HttpRequest) -> Result<Page, Problem> {
    let mut q = Query::of(req)?;
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok(page)
}

fn one(status: StatusCode, webhook: &Webhook) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(webhook.version)))
        .json(WebhookResponse::from(webhook))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`WebhookBody`]): a webhook needs its `url`.
    WebhookCreateBodyDoc as "WebhookCreateBody" = WebhookBody, ["url"]
);

/// Create a webhook (admin). The answer carries its secret, shown this once.
#[utoipa::path(
    tag = "webhooks",
    request_body = WebhookCreateBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = CreatedWebhook,
         headers(("Location" = String, description = "The webhook's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Bad url (a refused address is named), secret or types", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks")]
pub async fn create_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<WebhookBody>,
) -> Result<HttpResponse, Problem> {
    let input = WebhookInput::from(body.value);
    idempotent(&req, &state, &actor, &body.raw, || async {
        let webhook = state.webhooks.create(&actor, input).await?;
        let url = format!("/api/v1/webhooks/{}", webhook.id);
        let response = HttpResponse::Created()
            .insert_header((header::ETAG, etag(webhook.version)))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(CreatedWebhook {
                webhook: WebhookResponse::from(&webhook),
                secret: webhook.secret.expose().to_owned(),
            });
        with_location(response, &url)
    })
    .await
}

/// List webhooks, oldest first (admin).
#[utoipa::path(
    tag = "webhooks",
    params(
        ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"),
        ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)"),
    ),
    responses(
        (status = 200, description = "A page of webhooks", body = WebhookPage),
        (status = 400, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let page = page_query(&req)?;
    let (webhooks, total) = state.webhooks.list(&actor, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(WebhookPage {
        data: webhooks.iter().map(WebhookResponse::from).collect(),
        total,
        skip: page.skip(),
        take: page.take(),
    }))
}

/// Get one webhook (admin), without its secret. `If-None-Match` with its current ETag
/// answers 304.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = WebhookResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = WebhookId(path_id(&req, "id")?);
    let webhook = state.webhooks.get(&actor, id).await?;
    if not_modified(&req, webhook.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(webhook.version)))
            .finish());
    }
    Ok(one(StatusCode::OK, &webhook))
}

/// Change some fields of a webhook (admin): absent or `null` fields stay as they are. A new
/// `secret` signs every attempt from now on, pending retries included; it is not returned.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = WebhookBody,
    responses(
        (status = 200, description = "Updated", body = WebhookResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/webhooks/{id}")]
pub async fn patch_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<WebhookBody>,
) -> Result<HttpResponse, Problem> {
    let id = WebhookId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let webhook = state
        .webhooks
        .update(&actor, id, expected, body.value.into())
        .await?;
    Ok(one(StatusCode::OK, &webhook))
}

/// Delete a webhook and its deliveries (admin).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook id"),
           ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = WebhookId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    state.webhooks.delete(&actor, id, expected).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

/// List a webhook's deliveries, newest first (admin): status, attempts, last response code,
/// duration and next attempt.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Webhook id"),
        ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"),
        ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)"),
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 400, description = "Bad id or paging", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = WebhookId(path_id(&req, "id")?);
    let page = page_query(&req)?;
    let (deliveries, total) = state.webhooks.deliveries(&actor, id, page).await?;
    Ok(
        crate::paging::page_of(&req, page, total).json(DeliveryPage {
            data: deliveries.into_iter().map(DeliveryResponse::from).collect(),
            total,
            skip: page.skip(),
            take: page.take(),
        }),
    )
}

/// Send a succeeded or dead delivery again (admin): it becomes pending with the same id, a
/// fresh retry window and no attempts, and is attempted before the webhook's later
/// deliveries.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Webhook id"),
        ("deliveryId" = Uuid, Path, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Queued again", body = DeliveryResponse),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook or delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still pending: it is retried by itself", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks/{id}/deliveries/{deliveryId}/redeliver")]
pub async fn redeliver(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let webhook = WebhookId(path_id(&req, "id")?);
    let id = WebhookDeliveryId(path_id(&req, "deliveryId")?);
    let delivery = state.webhooks.redeliver(&actor, webhook, id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryResponse::from(delivery)))
}
