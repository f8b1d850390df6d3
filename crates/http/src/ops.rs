//! Operations endpoints, problem pages and the fallback for unknown routes.

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

/// Liveness: the process answers.
#[utoipa::path(tag = "ops", responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// Readiness of the service.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// Readiness: the database answers and is migrated.
#[utoipa::path(tag = "ops", responses(
    (status = 200, description = "Ready", body = Ready),
    (status = 503, description = "Database unreachable or not migrated", body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    state.health.ready().await.map_err(|error| {
        tracing::warn!(%error, "not ready");
        Problem::new(ProblemKind::Unavailable, format!("not ready: {error}"))
    })?;
    Ok(HttpResponse::Ok().json(Ready { status: "ready" }))
}

/// Prometheus metrics: request counts and latency histograms by route and status.
#[utoipa::path(tag = "ops", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<crate::observe::Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// The page behind each problem `type` URI.
#[get("/problems/{kind}")]
pub async fn problem_page(req: HttpRequest) -> Result<HttpResponse, Problem> {
    let slug = req.match_info().get("kind").unwrap_or_default();
    let kind = ProblemKind::from_slug(slug)
        .ok_or_else(|| Problem::new(ProblemKind::NotFound, "no such problem type"))?;
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>HTTP status {status}.</p><p>{text}</p></body></html>",
        title = kind.title(),
        status = kind.status().as_u16(),
        text = kind.explanation(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// `/swagger-ui` without the slash.
#[get("/swagger-ui")]
pub async fn swagger_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}

/// The documented routes, to tell a wrong method (405) from an unknown path (404).
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Option<String>>, Vec<&'static str>)>,
}

impl RouteTable {
    /// The routes of an OpenAPI document.
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = segments(path)
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods a path accepts, if it is a known route. Where several routes match, the
    /// ones with the most literal segments decide: `/deployments/latest` is its own resource,
    /// not a `/deployments/{id}`.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let segments: Vec<&str> = segments(path).collect();
        let matching: Vec<&(Vec<Option<String>>, Vec<&'static str>)> = self
            .routes
            .iter()
            .filter(|(pattern, _)| {
                pattern.len() == segments.len()
                    && pattern
                        .iter()
                        .zip(&segments)
                        .all(|(p, s)| p.as_deref().is_none_or(|p| p == *s))
            })
            .collect();
        let literals = |pattern: &Vec<Option<String>>| pattern.iter().flatten().count();
        let most = matching.iter().map(|(p, _)| literals(p)).max()?;
        let mut allowed: Vec<&'static str> = Vec::new();
        for (_, methods) in matching.into_iter().filter(|(p, _)| literals(p) == most) {
            for method in methods {
                if !allowed.contains(method) {
                    allowed.push(method);
                }
            }
        }
        Some(allowed)
    }
}

/// A path's segments; a trailing slash is a segment of its own (`/environment/` is not
/// `/environment`).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

/// Answers 405 with `Allow` before any handler runs when the path is a documented route that
/// does not take the method, so a body of any content type never gets a 415 or a 400 first.
/// `GET` and `HEAD` carry no body: they go on untouched (no route scan on the reads' path),
/// and where no handler takes them the fallback answers the same 405.
pub async fn method_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let bodiless = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let refused = (!bodiless)
        .then(|| req.app_data::<web::Data<RouteTable>>())
        .flatten()
        .and_then(|routes| routes.allowed(req.path()))
        .filter(|allowed| !allowed.contains(&req.method().as_str()));
    if let Some(allowed) = refused {
        let response = Problem::method_not_allowed(&allowed).error_response();
        return Ok(req.into_response(response).map_into_boxed_body());
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Everything no route answered: 405 with `Allow` for a known path, 404 otherwise.
pub async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, Problem> {
    Err(match routes.allowed(req.path()) {
        Some(allowed) => Problem::method_not_allowed(&allowed),
        None => Problem::new(
            ProblemKind::NotFound,
            format!("no route matches {} {}", req.method(), req.path()),
        ),
    })
}
