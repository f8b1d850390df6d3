//! `/api/v1/audit`: the organization's tamper-evident audit log, and its verification.

use crate::auth::Authenticated;
use crate::extract::Query;
use crate::problem::Problem;
use crate::AppState;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{AuditFilter, ChainedEntry, Page, Verification};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// What an entry is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditSubjectResponse {
    /// The kind of resource (`environment`, `deployment`, ...).
    #[schema(example = "deployment")]
    pub kind: String,
    /// Its id.
    pub id: Uuid,
}

/// One event as it stands in the audit log, with its place in the organization's chain.
///
/// `hash` is SHA-256 over the 32 bytes of `previousHash` followed by the canonical JSON
/// (RFC 8785) of the entry's other fields: `actor`, `at`, `data`, `id`, `organizationId`,
/// `sequence`, `subject` and `type`. The first entry's `previousHash` is 64 zeros.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "0.42",
    "sequence": 42,
    "type": "deployment.status_changed",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "subject": {"kind": "deployment", "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80"},
    "actor": "01936f6e-0000-7000-8000-0000000000b1",
    "at": "2026-01-10T14:23:45.123456Z",
    "data": {"status": "in_progress", "from": "pending", "to": "in_progress"},
    "previousHash": "9f2c0e1bd0a8c3a54cbd46c6a7f3e2b1a0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5",
    "hash": "4b7d0c2e9a1f8e3d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a49382716051"
}))]
pub struct AuditEntryResponse {
    /// The event's id (its cursor in `/api/v1/events`).
    pub id: String,
    /// Its place in the organization's chain: 1, 2, 3, ... with no gap.
    pub sequence: u64,
    /// The event's type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The organization.
    pub organization_id: Uuid,
    /// What changed.
    pub subject: AuditSubjectResponse,
    /// Who changed it: a user or service account id, or `system`.
    pub actor: String,
    /// When, to the microsecond (hashed as RFC 3339 with six fractional digits and `Z`).
    pub at: DateTime<Utc>,
    /// The event's data (hashed in its canonical JSON form).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The hash of the entry before it (64 zeros for the first), hex.
    pub previous_hash: String,
    /// This entry's hash, hex.
    pub hash: String,
}

impl From<ChainedEntry> for AuditEntryResponse {
    fn from(chained: ChainedEntry) -> Self {
        let entry = chained.entry;
        // Stored data that is not JSON any more was changed by hand: shown as the text it
        // is, which verification names anyway.
        let data = entry
            .data
            .to_value()
            .unwrap_or_else(|_| serde_json::Value::String(entry.data.as_str().to_owned()));
        Self {
            id: entry.id.to_string(),
            sequence: entry.sequence,
            event_type: entry.event_type,
            organization_id: entry.organization_id.as_uuid(),
            subject: AuditSubjectResponse {
                kind: entry.subject.kind,
                id: entry.subject.id,
            },
            actor: entry.actor,
            at: entry.at,
            data,
            previous_hash: chained.previous_hash.to_hex(),
            hash: chained.hash.to_hex(),
        }
    }
}

/// A page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries of this page, in chain order.
    pub data: Vec<AuditEntryResponse>,
    /// All matching entries, over all pages.
    #[schema(example = 1)]
    pub total: u64,
    /// Entries skipped.
    #[schema(example = 0)]
    pub skip: u32,
    /// Most entries returned.
    #[schema(example = 20)]
    pub take: u32,
}

/// Filters and paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documents the parameters; they are parsed one by one.
pub struct AuditListParams {
    /// Entries of this actor (exactly: a user or service account id, or `system`).
    #[param(min_length = 1)]
    actor: Option<String>,
    /// Entries about subjects of this kind (`environment`, `deployment`, ...).
    #[param(min_length = 1)]
    subject_kind: Option<String>,
    /// Entries about the subject of this id.
    subject_id: Option<Uuid>,
    /// Entries at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339); must be after `from`.
    to: Option<DateTime<Utc>>,
    /// Entries to skip (default 0).
    skip: Option<i64>,
    /// Entries to return (default 20, at most 100).
    take: Option<i64>,
}

/// The verdict on the organization's chain.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"ok": false, "checked": 17, "firstBrokenId": "0.4711", "detail": "entry 0.4711 (sequence 17) does not match its hash or the entry before it"}))]
pub struct AuditVerification {
    /// Every entry matches its hash and links to the one before, and the chain ends at
    /// its recorded head.
    pub ok: bool,
    /// Entries checked: all of them when the chain is intact, otherwise up to and
    /// including the first broken one.
    pub checked: u64,
    /// The id of the first entry that does not verify, if one does not.
    pub first_broken_id: Option<String>,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<Verification> for AuditVerification {
    fn from(verdict: Verification) -> Self {
        let detail = match (&verdict.first_broken, verdict.ends_at_head) {
            (Some(id), _) => Some(format!(
                "entry {id} (sequence {}) does not match its hash or the entry before it",
                verdict.checked
            )),
            (None, false) => Some(
                "every entry verifies, but the chain does not end at its recorded head: \
                 entries were removed from its end or added around terrane"
                    .to_owned(),
            ),
            (None, true) => None,
        };
        Self {
            ok: verdict.ok,
            checked: verdict.checked,
            first_broken_id: verdict.first_broken.map(|id| id.to_string()),
            detail,
        }
    }
}

/// List the organization's audit log, in chain order (admin).
///
/// Every event of the organization is an entry, chained to the one before by hash. The
/// answer includes every event the event log has released when the request arrives.
#[utoipa::path(
    tag = "audit",
    params(AuditListParams),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "Bad filter or page", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit")]
pub async fn list_audit(
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
    let who = q.text("actor");
    let subject_kind = q.text("subjectKind");
    let subject_id = q.uuid("subjectId");
    let (from, to) = (q.time("from"), q.time("to"));
    let filter =
        AuditFilter::parse(who, subject_kind, subject_id, from, to).unwrap_or_else(|errors| {
            errors.into_iter().for_each(|e| q.error(e));
            AuditFilter::default()
        });
    q.finish()?;
    let (entries, total) = state.audit.list(&actor, filter, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(AuditPage {
        data: entries.into_iter().map(AuditEntryResponse::from).collect(),
        total,
        skip: page.skip(),
        take: page.take(),
    }))
}

/// Verify the organization's audit chain (admin).
///
/// Recomputes every entry's hash from the first, and names the first entry that was
/// changed, whose link is broken, or that does not end the chain where it should.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, description = "The verdict", body = AuditVerification),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit/verify")]
pub async fn verify_audit(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let verdict = state.audit.verify(&actor).await?;
    Ok(HttpResponse::Ok().json(AuditVerification::from(verdict)))
}
