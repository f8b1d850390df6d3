//! Request ids and Prometheus metrics.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;
use uuid::Uuid;

/// The request id header, accepted from the client or generated, and echoed.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counts and latency histograms by method, route pattern and status.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = series
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        entry.count += 1;
        entry.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|upper| seconds <= *upper) {
            entry.buckets[i] += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str("# HELP terrane_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE terrane_http_requests_total counter\n");
        for ((method, route, status), s) in &series {
            let _ = writeln!(
                out,
                "terrane_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str(
            "# HELP terrane_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE terrane_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &series {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (upper, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(out, "terrane_http_request_duration_seconds_bucket{{{labels},le=\"{upper}\"}} {cumulative}");
            }
            let _ = writeln!(
                out,
                "terrane_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "terrane_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "terrane_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

fn accepted_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?;
    let ok = (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_owned())
}

/// Middleware: gives every request an id (the client's `X-Request-Id` when sensible), echoes
/// it, runs the request inside a tracing span carrying it, and records metrics by route.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let id = accepted_request_id(req.headers().get(&REQUEST_ID))
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<actix_web::web::Data<Metrics>>().cloned();
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, path = %req.path());
    let result = tracing::Instrument::instrument(next.call(req), span).await;
    let mut response = result?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, started.elapsed().as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if status >= 500 {
        tracing::warn!(request_id = %id, %method, %route, status, "request failed");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counted_by_route_and_status() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/a", 200, 0.0007);
        metrics.observe("GET", "/a", 200, 0.3);
        metrics.observe("GET", "/a", 404, 0.0001);
        let text = metrics.render();
        assert!(text
            .contains("terrane_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2"));
        assert!(text.contains("terrane_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",status=\"200\",le=\"0.001\"} 1"));
        assert!(text.contains("terrane_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",status=\"200\",le=\"0.5\"} 2"));
        assert!(text.contains("terrane_http_request_duration_seconds_count{method=\"GET\",route=\"/a\",status=\"404\"} 1"));
    }

    #[test]
    fn unreasonable_request_ids_are_replaced() {
        assert_eq!(
            accepted_request_id(Some(&HeaderValue::from_static("abc-1"))),
            Some("abc-1".into())
        );
        assert_eq!(
            accepted_request_id(Some(&HeaderValue::from_static("has space"))),
            None
        );
        assert_eq!(accepted_request_id(None), None);
    }
}
