//! `Idempotency-Key`: a retried create gets the first answer instead of a second resource.

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use actix_web::body::{to_bytes, BoxBody};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Duration;
use sha2::{Digest, Sha256};
use std::future::Future;
use terrane_domain::Actor;
use terrane_ports::{IdempotencyBegin, StoredResponse};

/// How long a key's first answer is replayed.
pub const RETENTION_HOURS: i64 = 24;
const HEADER: &str = "Idempotency-Key";
const REPLAYED: &str = "Idempotent-Replayed";
const KEPT_HEADERS: [&str; 3] = ["location", "etag", "content-type"];

/// Runs `handle` at most once per `Idempotency-Key` (per tenant): a retry with the same key
/// and body within 24 hours gets the stored answer, the same key with another body a 422.
/// Only successful answers are kept, so a request that failed can be corrected and retried.
///
/// # Errors
/// The problems of `handle`, a 400 for a malformed key, 409 while the first request is still
/// running, 422 for a key reused with a different request.
pub async fn idempotent<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    actor: &Actor,
    body: &[u8],
    handle: F,
) -> Result<HttpResponse, Problem>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<HttpResponse, Problem>>,
{
    let Some(value) = req.headers().get(HEADER) else {
        return handle().await;
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            (1..=crate::document::IDEMPOTENCY_KEY_MAX).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| Problem::bad_field(HEADER, "must be 1 to 255 visible ASCII characters"))?
        .to_owned();
    let fingerprint = fingerprint(req, body);
    let now = state.clock.now();
    let begun = state
        .idempotency
        .begin(
            actor.tenant,
            key.clone(),
            fingerprint,
            now,
            now - Duration::hours(RETENTION_HOURS),
        )
        .await
        .map_err(|e| {
            Problem::from(terrane_ports::ServiceError::from_store(
                e,
                "idempotency key",
            ))
        })?;
    match begun {
        IdempotencyBegin::Replay(stored) => replay(stored),
        IdempotencyBegin::Mismatch => Err(Problem::new(
            ProblemKind::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different request; use a new key",
        )),
        IdempotencyBegin::InProgress => Err(Problem::new(
            ProblemKind::Conflict,
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )),
        IdempotencyBegin::Started => {
            let outcome = handle().await;
            match outcome {
                Ok(response) if response.status().is_success() => {
                    let (response, stored) = capture(response).await?;
                    store(state, actor, key, Some(stored)).await;
                    Ok(response)
                }
                other => {
                    store(state, actor, key, None).await;
                    other
                }
            }
        }
    }
}

fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.path());
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn capture(response: HttpResponse) -> Result<(HttpResponse, StoredResponse), Problem> {
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body)
        .await
        .map_err(|e| Problem::internal(format!("reading a response body: {e}")))?;
    let headers = head
        .headers()
        .iter()
        .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let stored = StoredResponse {
        status: head.status().as_u16(),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    Ok((head.set_body(BoxBody::new(bytes)), stored))
}

/// Completes (with an answer) or releases (without one) a held key. A failure here must not
/// turn a finished request into an error: the resource exists, so it is logged instead.
async fn store(state: &AppState, actor: &Actor, key: String, answer: Option<StoredResponse>) {
    let result = match answer {
        Some(stored) => state.idempotency.complete(actor.tenant, key, stored).await,
        None => state.idempotency.abandon(actor.tenant, key).await,
    };
    if let Err(error) = result {
        tracing::error!(%error, "could not record an idempotency key");
    }
}

fn replay(stored: StoredResponse) -> Result<HttpResponse, Problem> {
    let status = StatusCode::from_u16(stored.status).map_err(Problem::internal)?;
    let mut response = HttpResponse::build(status);
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((REPLAYED, "true"));
    Ok(response.body(stored.body))
}
