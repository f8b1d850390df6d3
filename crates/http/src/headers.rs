//! Response headers set around every handler: conditional GETs of the API answered from a
//! digest of the body (so a page polling a list gets a 304 until it changes), and the
//! security headers (a content security policy that lets the dashboard run its own scripts
//! only, and none at all on API answers).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpResponse;

/// The policy of the dashboard's page and assets: its own scripts, styles and API only.
pub const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The policy of API answers: they are data, never a document that runs anything.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// A weak ETag naming `body`'s digest: the first 96 bits of its BLAKE3 hash, which holds
/// against crafted collisions like SHA-256 and, spread over the 1 KiB chunks of a page of
/// JSON, hashes it several times faster (SHA-256 was a sixteenth of the server's work on a
/// page of 50 environments).
pub fn digest_etag(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = blake3::hash(body);
    let digest = digest.as_bytes();
    let mut etag = String::with_capacity(28);
    etag.push_str("W/\"");
    for byte in &digest[..12] {
        etag.push(char::from(HEX[usize::from(byte >> 4)]));
        etag.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    etag.push('"');
    etag
}

/// Whether an `If-None-Match` value names `etag` (or is `*`), comparing weakly.
pub fn none_match_hits(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(value) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    value
        .split(',')
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

/// Gives every `200` JSON answer to a `GET` under `/api/` that carries no `ETag` of its own
/// one made from its body, and answers `304 Not Modified` when `If-None-Match` names it.
pub async fn conditional_get(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let applies = req.method() == Method::GET && req.path().starts_with("/api/");
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let res = next.call(req).await?;
    // Only whole JSON documents: a stream (Server-Sent Events) must never be buffered.
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !applies
        || !json
        || res.status() != StatusCode::OK
        || res.headers().contains_key(header::ETAG)
    {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = {
        let (head, body) = res.into_parts();
        (head, body)
    };
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?;
    let etag = digest_etag(&bytes);
    let value = HeaderValue::from_str(&etag)
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    if none_match_hits(if_none_match.as_ref(), &etag) {
        let mut not_modified = HttpResponse::NotModified();
        not_modified.insert_header((header::ETAG, value));
        return Ok(ServiceResponse::new(req, not_modified.finish()));
    }
    head.headers_mut().insert(header::ETAG, value);
    Ok(ServiceResponse::new(
        req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

/// Security headers on every answer; the content security policy of the dashboard on its
/// page and assets, and the strictest one on JSON answers (Swagger UI and the problem pages
/// keep their own).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let dashboard = crate::dashboard::serves(req.path());
    let mut res = next.call(req).await?;
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if dashboard {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DASHBOARD_CSP),
        );
    } else if json {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_etag_is_weak_and_changes_with_the_body() {
        // The first 12 bytes of BLAKE3("abc"), in lower-case hex.
        assert_eq!(digest_etag(b"abc"), "W/\"6437b3ac38465133ffb63b75\"");
        let a = digest_etag(b"[1]");
        assert!(a.starts_with("W/\""));
        assert_ne!(a, digest_etag(b"[2]"));
        assert_eq!(a, digest_etag(b"[1]"));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_a_star() {
        let etag = digest_etag(b"x");
        let strong = etag.trim_start_matches("W/").to_owned();
        for value in [
            etag.clone(),
            strong,
            format!("\"other\", {etag}"),
            "*".into(),
        ] {
            assert!(
                none_match_hits(Some(&HeaderValue::from_str(&value).unwrap()), &etag),
                "{value}"
            );
        }
        assert!(!none_match_hits(
            Some(&HeaderValue::from_static("\"other\"")),
            &etag
        ));
        assert!(!none_match_hits(None, &etag));
    }
}
