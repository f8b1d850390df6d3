//! One error envelope: RFC 9457 `application/problem+json`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use terrane_domain::{FieldError, GateKind, ValidationErrors};
use terrane_ports::ServiceError;
use utoipa::ToSchema;

/// The kinds of problem terrane answers, each with a stable `type` URI served as a short page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: input that cannot be accepted.
    Validation,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: valid credentials without the right.
    Forbidden,
    /// 404: no such resource (in the caller's tenant) or route.
    NotFound,
    /// 405: the route exists without that method.
    MethodNotAllowed,
    /// 409: clashes with the current state.
    Conflict,
    /// 412: `If-Match` names a stale version.
    PreconditionFailed,
    /// 409: an active freeze window keeps the deployment from starting.
    GateFreeze,
    /// 409: the deployment lacks required approvals.
    GateApprovals,
    /// 409: the version has not succeeded in the previous environment yet.
    GatePromotion,
    /// 409: the environment is busy, broken or destroyed.
    GateLifecycle,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: not JSON.
    UnsupportedMediaType,
    /// 422: an `Idempotency-Key` reused for a different request.
    IdempotencyKeyReused,
    /// 503: the database is unreachable.
    Unavailable,
    /// 503: every database connection stayed busy for longer than a request may queue.
    Overloaded,
    /// 500: a bug; details are logged, not shown.
    Internal,
}

impl ProblemKind {
    /// Every kind, for the problem pages.
    pub const ALL: &'static [ProblemKind] = &[
        ProblemKind::Validation,
        ProblemKind::Unauthorized,
        ProblemKind::Forbidden,
        ProblemKind::NotFound,
        ProblemKind::MethodNotAllowed,
        ProblemKind::Conflict,
        ProblemKind::PreconditionFailed,
        ProblemKind::GateFreeze,
        ProblemKind::GateApprovals,
        ProblemKind::GatePromotion,
        ProblemKind::GateLifecycle,
        ProblemKind::PayloadTooLarge,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::IdempotencyKeyReused,
        ProblemKind::Unavailable,
        ProblemKind::Overloaded,
        ProblemKind::Internal,
    ];

    /// The last segment of the `type` URI.
    pub fn slug(&self) -> &'static str {
        match self {
            ProblemKind::Validation => "validation",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Conflict => "conflict",
            ProblemKind::PreconditionFailed => "precondition-failed",
            ProblemKind::GateFreeze => "gate-freeze",
            ProblemKind::GateApprovals => "gate-approvals",
            ProblemKind::GatePromotion => "gate-promotion",
            ProblemKind::GateLifecycle => "gate-lifecycle",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemKind::Unavailable => "unavailable",
            ProblemKind::Overloaded => "overloaded",
            ProblemKind::Internal => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ProblemKind::Validation => StatusCode::BAD_REQUEST,
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemKind::GateFreeze
            | ProblemKind::GateApprovals
            | ProblemKind::GatePromotion
            | ProblemKind::GateLifecycle => StatusCode::CONFLICT,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::Unavailable | ProblemKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The short human title.
    pub fn title(&self) -> &'static str {
        match self {
            ProblemKind::Validation => "Your request is not valid",
            ProblemKind::Unauthorized => "Authentication required",
            ProblemKind::Forbidden => "Not allowed",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::Conflict => "Conflict with the current state",
            ProblemKind::PreconditionFailed => "Precondition failed",
            ProblemKind::GateFreeze => "The environment is frozen",
            ProblemKind::GateApprovals => "Approvals missing",
            ProblemKind::GatePromotion => "Promotion order not met",
            ProblemKind::GateLifecycle => "The environment is not ready",
            ProblemKind::PayloadTooLarge => "Request body too large",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::IdempotencyKeyReused => "Idempotency key reused",
            ProblemKind::Unavailable => "Service unavailable",
            ProblemKind::Overloaded => "Too busy right now",
            ProblemKind::Internal => "Internal server error",
        }
    }

    /// What the page at the `type` URI explains.
    pub fn explanation(&self) -> &'static str {
        match self {
            ProblemKind::Validation => "One or more fields, query parameters or path segments are malformed or break a rule. `errors` names each one and says what would be accepted.",
            ProblemKind::Unauthorized => "Send `Authorization: Bearer <token>` with a token signed by this server that has not expired (mint one with `terrane token`).",
            ProblemKind::Forbidden => "Your token is valid but its roles do not allow this action. Viewers read, deployers also record deployments and requests, admins do everything.",
            ProblemKind::NotFound => "Nothing exists at this path in your organization.",
            ProblemKind::MethodNotAllowed => "The path exists but does not accept this method; the `Allow` header lists the ones it does.",
            ProblemKind::Conflict => "The request clashes with the current state, for example a name that is already taken.",
            ProblemKind::PreconditionFailed => "The `If-Match` header names a version that is no longer current. Read the resource again and retry with its new ETag.",
            ProblemKind::GateFreeze => "A freeze window is active on the deployment's environment and you are not one of its exceptions. Wait until the window ends (the detail says when), or ask for the window to name you as an exception.",
            ProblemKind::GateApprovals => "The environment requires more distinct approvals before a deployment may start. Ask colleagues to `POST /api/v1/deployments/{id}/approvals`; with separation of duties the deployment's author does not count.",
            ProblemKind::GatePromotion => "The environment promotes sequentially: the same component and version must first succeed in the nearest active environment ordered before it.",
            ProblemKind::GateLifecycle => "A deployment goes only into a `ready` environment: not while a workflow runs on it (`busy`), after one failed (`broken`), or once it is `destroyed`. `GET /api/v1/environments/{id}/actions` says what can be done now (wait, `cancel`, `reset`).",
            ProblemKind::PayloadTooLarge => "Request bodies are limited to 1 MiB.",
            ProblemKind::UnsupportedMediaType => "Send JSON bodies with `Content-Type: application/json`.",
            ProblemKind::IdempotencyKeyReused => "This `Idempotency-Key` was already used for a different request. Use a new key for a new request.",
            ProblemKind::Unavailable => "The database cannot be reached right now. Retry after the seconds the `Retry-After` header says.",
            ProblemKind::Overloaded => "Every database connection stayed busy for longer than a request may wait for one (`--db-queue-timeout`). Nothing was done; retry after the seconds the `Retry-After` header says.",
            ProblemKind::Internal => "Something failed on the server. It has been logged; retrying may help.",
        }
    }

    /// The kind for a `type` URI slug.
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.slug() == slug)
    }
}

/// One bad field in a validation problem.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ProblemField {
    /// The field, query parameter or path segment, as the client spelled it.
    #[schema(example = "name")]
    pub field: String,
    /// What is wrong and what would be accepted.
    #[schema(example = "may contain only letters, digits, '-', '_' and '.'")]
    pub message: String,
}

/// An RFC 9457 problem: what every error response of terrane carries. `type`, `title` and
/// `status` follow from its kind.
#[derive(Debug, Clone)]
pub struct Problem {
    kind: ProblemKind,
    /// What happened in this case.
    pub detail: String,
    /// For validation problems: every bad field.
    pub errors: Vec<ProblemField>,
    /// For 405: the methods the path accepts.
    allow: Option<String>,
    /// For 401: the `WWW-Authenticate` challenge (`Bearer` unless said otherwise).
    challenge: Option<&'static str>,
    /// For a 401 while a client is locked out, and for a 503: seconds until it may try again.
    retry_after: Option<u64>,
}

/// An RFC 9457 problem document (`application/problem+json`), the body of every error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem, example = json!({
    "type": "/problems/validation",
    "title": "Your request is not valid",
    "status": 400,
    "detail": "name: may contain only letters, digits, '-', '_' and '.'",
    "errors": [{"field": "name", "message": "may contain only letters, digits, '-', '_' and '.'"}]
}))]
pub struct ProblemDocument<'a> {
    /// A relative URI naming the kind of problem; a short page there explains it.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation")]
    pub kind_uri: String,
    /// The kind's short title.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this case.
    pub detail: &'a str,
    /// For validation problems: every bad field.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub errors: &'a [ProblemField],
}

impl Problem {
    /// A problem of `kind` with `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            allow: None,
            challenge: None,
            retry_after: None,
        }
    }

    /// The problem with `challenge` as its `WWW-Authenticate` header when it is a 401.
    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The problem with a `Retry-After` header of `seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A 400 naming every bad field.
    pub fn validation(errors: &[FieldError]) -> Self {
        let detail = match errors {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut problem = Self::new(ProblemKind::Validation, detail);
        problem.errors = errors
            .iter()
            .map(|e| ProblemField {
                field: e.field.clone(),
                message: e.message.clone(),
            })
            .collect();
        problem
    }

    /// A 400 naming one bad field.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(&[FieldError::new(field, message)])
    }

    /// A 404 for a resource kind.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ProblemKind::NotFound,
            format!("no {what} with that id exists in your organization"),
        )
    }

    /// A 405 listing the methods the path accepts.
    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        let allow = allowed.join(", ");
        let mut problem = Self::new(
            ProblemKind::MethodNotAllowed,
            format!("this path accepts {allow}"),
        );
        problem.allow = Some(allow);
        problem
    }

    /// The problem's kind.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.kind.status().as_u16()
    }

    /// The wire form.
    pub fn document(&self) -> ProblemDocument<'_> {
        ProblemDocument {
            kind_uri: format!("/problems/{}", self.kind.slug()),
            title: self.kind.title(),
            status: self.status(),
            detail: &self.detail,
            errors: &self.errors,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.title(),
            self.status(),
            self.detail
        )
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if self.kind == ProblemKind::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, self.challenge.unwrap_or("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        response.body(serde_json::to_string(&self.document()).unwrap_or_default())
    }
}

impl From<ValidationErrors> for Problem {
    fn from(errors: ValidationErrors) -> Self {
        Problem::validation(errors.errors())
    }
}

/// The `Retry-After` of a 503: long enough for a burst to drain or a database restart to
/// finish, short enough that a client barely notices.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Validation(errors) => errors.into(),
            ServiceError::Forbidden(detail) => Problem::new(ProblemKind::Forbidden, detail),
            ServiceError::NotFound(what) => Problem::not_found(&what),
            ServiceError::Conflict(detail) => Problem::new(ProblemKind::Conflict, detail),
            ServiceError::GateRefused { gate, detail } => {
                let kind = match gate {
                    GateKind::Freeze => ProblemKind::GateFreeze,
                    GateKind::Approvals => ProblemKind::GateApprovals,
                    GateKind::Promotion => ProblemKind::GatePromotion,
                    GateKind::Lifecycle => ProblemKind::GateLifecycle,
                };
                Problem::new(kind, detail)
            }
            ServiceError::PreconditionFailed(detail) => {
                Problem::new(ProblemKind::PreconditionFailed, detail)
            }
            ServiceError::Unavailable(cause) => {
                tracing::warn!(%cause, "storage unavailable");
                Problem::new(
                    ProblemKind::Unavailable,
                    "the database cannot be reached; retry later",
                )
                .with_retry_after(RETRY_AFTER_SECONDS)
            }
            ServiceError::Overloaded(cause) => {
                tracing::warn!(%cause, "storage overloaded");
                Problem::new(
                    ProblemKind::Overloaded,
                    "every database connection is busy; nothing was done, retry shortly",
                )
                .with_retry_after(RETRY_AFTER_SECONDS)
            }
            ServiceError::Internal(cause) => Problem::internal(cause),
        }
    }
}

impl Problem {
    /// A 500 whose cause is logged and hidden from the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Problem::new(
            ProblemKind::Internal,
            "an unexpected error occurred; it has been logged",
        )
    }
}

// Handlers document `body = Problem`; its schema is that of the wire form.
impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ProblemDocument::schema()
    }
}

impl ToSchema for Problem {
    fn name() -> std::borrow::Cow<'static, str> {
        ProblemDocument::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        ProblemDocument::schemas(schemas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(problem: &Problem) -> serde_json::Value {
        let response = problem.error_response();
        let bytes = response.into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn an_internal_error_hides_its_cause_from_the_client() {
        let problem = Problem::from(ServiceError::Internal(
            "password=hunter2 in a driver message".into(),
        ));
        let json = body(&problem);
        assert_eq!(json["status"], 500);
        assert!(!json.to_string().contains("hunter2"), "{json}");
    }

    #[test]
    fn an_unavailable_database_is_a_503_without_the_drivers_words() {
        let problem = Problem::from(ServiceError::Unavailable(
            "connection to 10.0.0.5 refused".into(),
        ));
        let json = body(&problem);
        assert_eq!(json["status"], 503);
        assert_eq!(json["type"], "/problems/unavailable");
        assert!(!json.to_string().contains("10.0.0.5"), "{json}");
    }

    #[test]
    fn a_busy_or_unreachable_database_is_a_503_saying_when_to_retry() {
        for (error, kind) in [
            (
                ServiceError::Overloaded("queue".into()),
                "/problems/overloaded",
            ),
            (
                ServiceError::Unavailable("down".into()),
                "/problems/unavailable",
            ),
        ] {
            let response = Problem::from(error).error_response();
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
            let bytes = response.into_body().try_into_bytes().unwrap();
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(json["type"], kind);
        }
    }

    #[test]
    fn every_service_error_maps_to_its_status() {
        let cases = [
            (
                ServiceError::Validation(ValidationErrors::single("name", "bad")),
                400,
            ),
            (ServiceError::Forbidden("x".into()), 403),
            (ServiceError::NotFound("environment".into()), 404),
            (ServiceError::Conflict("x".into()), 409),
            (ServiceError::PreconditionFailed("x".into()), 412),
            (
                ServiceError::GateRefused {
                    gate: GateKind::Freeze,
                    detail: "x".into(),
                },
                409,
            ),
            (ServiceError::Unavailable("x".into()), 503),
            (ServiceError::Overloaded("x".into()), 503),
            (ServiceError::Internal("x".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(Problem::from(error).status(), status);
        }
    }

    #[test]
    fn unauthorized_problems_carry_a_bearer_challenge() {
        let response = Problem::new(ProblemKind::Unauthorized, "no token").error_response();
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
    }

    #[test]
    fn problem_kinds_are_found_by_their_slug() {
        for kind in ProblemKind::ALL {
            assert_eq!(ProblemKind::from_slug(kind.slug()), Some(*kind));
        }
    }
}
