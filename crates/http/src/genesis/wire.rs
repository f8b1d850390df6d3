//! What every Genesis answer is made of: hypermedia links, the result object, status
//! spellings and times.

use crate::problem::{Problem, ProblemKind};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use terrane_domain::{EnvironmentStatus, RunStatus, StepStatus};
use terrane_ports::ServiceError;
use utoipa::ToSchema;

/// The vendor media type of a Genesis class.
pub(super) fn media_type(class: &str) -> String {
    format!("application/vnd.griddynamics.genesis.{class}+json")
}

/// A hypermedia link: where, what it is, which methods this caller may use on it now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GenesisLink, example = json!({
    "rel": "self",
    "href": "http://localhost:8081/rest/projects/1/envs/1",
    "methods": ["get"],
    "type": "application/vnd.griddynamics.genesis.Environment+json"
}))]
pub struct Link {
    /// `self` or `collection`.
    pub rel: &'static str,
    /// Absolute, from the request's own scheme and host.
    pub href: String,
    /// Lower-case HTTP methods.
    pub methods: Vec<&'static str>,
    /// The vendor media type.
    #[serde(rename = "type")]
    pub media_type: String,
}

/// Builds links from the request's scheme and host.
pub(super) struct Links {
    origin: String,
}

impl Links {
    /// The origin of `req` (`http://host:port`).
    pub(super) fn of(req: &HttpRequest) -> Self {
        let info = req.connection_info();
        Self {
            origin: format!("{}://{}", info.scheme(), info.host()),
        }
    }

    /// A link to `path` (under `/rest`).
    pub(super) fn link(
        &self,
        rel: &'static str,
        path: &str,
        methods: Vec<&'static str>,
        class: &str,
    ) -> Link {
        Link {
            rel,
            href: format!("{}{}{}", self.origin, super::BASE, path),
            methods,
            media_type: media_type(class),
        }
    }
}

/// Genesis's answer to a write: what went wrong, by field and as a whole.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GenesisResult, example = json!({
    "serviceErrors": {},
    "variablesErrors": {},
    "compoundServiceErrors": [],
    "compoundVariablesErrors": [],
    "isSuccess": true
}))]
pub struct ResultObject {
    /// Bad fields of the request, by Genesis's field name.
    pub service_errors: BTreeMap<String, String>,
    /// Bad workflow variables, by variable name.
    pub variables_errors: BTreeMap<String, String>,
    /// What went wrong as a whole.
    pub compound_service_errors: Vec<String>,
    /// What went wrong with the variables as a whole.
    pub compound_variables_errors: Vec<String>,
    /// Whether it was done.
    pub is_success: bool,
}

impl ResultObject {
    /// Done.
    pub(super) fn success() -> HttpResponse {
        HttpResponse::Ok().json(Self {
            is_success: true,
            ..Self::default()
        })
    }

    /// The failure `error` describes, with `fields` renaming terrane's field names to
    /// Genesis's; a taken name is `serviceErrors.<conflict_field>` with `conflict_message`.
    /// 404 for a missing row, 403 for a missing role, 400 otherwise.
    pub(super) fn failure(
        error: ServiceError,
        fields: &[(&str, &str)],
        conflict: Option<(&str, &str)>,
    ) -> Result<HttpResponse, Problem> {
        let mut result = Self::default();
        let status = match error {
            ServiceError::Validation(errors) => {
                for error in errors.errors() {
                    if let Some(name) = error.field.strip_prefix("variables.") {
                        let message = if error.message == "is required" {
                            format!("Variable '{name}' is not set")
                        } else {
                            format!("Variable '{name}' {}", error.message)
                        };
                        result.variables_errors.insert(name.to_owned(), message);
                    } else {
                        let field = fields
                            .iter()
                            .find(|(from, _)| *from == error.field)
                            .map_or(error.field.as_str(), |(_, to)| to);
                        result
                            .service_errors
                            .insert(field.to_owned(), error.message.clone());
                    }
                }
                StatusCode::BAD_REQUEST
            }
            ServiceError::Conflict(detail) => {
                match conflict {
                    Some((field, message)) => {
                        result
                            .service_errors
                            .insert(field.to_owned(), message.to_owned());
                    }
                    None => result.compound_service_errors.push(detail),
                }
                StatusCode::BAD_REQUEST
            }
            ServiceError::NotFound(what) => {
                result
                    .compound_service_errors
                    .push(format!("{what} not found"));
                StatusCode::NOT_FOUND
            }
            ServiceError::Forbidden(detail) => {
                result.compound_service_errors.push(detail);
                StatusCode::FORBIDDEN
            }
            ServiceError::GateRefused { detail, .. } | ServiceError::PreconditionFailed(detail) => {
                result.compound_service_errors.push(detail);
                StatusCode::BAD_REQUEST
            }
            other @ (ServiceError::Unavailable(_)
            | ServiceError::Overloaded(_)
            | ServiceError::Internal(_)) => return Err(other.into()),
        };
        Ok(HttpResponse::build(status).json(result))
    }

    /// A bad request that reached no use case (a body the dialect cannot read).
    pub(super) fn bad_request(field: &str, message: &str) -> HttpResponse {
        let mut result = Self::default();
        result
            .service_errors
            .insert(field.to_owned(), message.to_owned());
        HttpResponse::BadRequest().json(result)
    }
}

/// A 404 with a JSON body, for a path naming nothing.
pub(super) fn not_found(what: &str) -> Problem {
    Problem::new(ProblemKind::NotFound, format!("no such {what}"))
}

/// An environment status as Genesis spells it.
pub(super) fn environment_status(status: EnvironmentStatus) -> &'static str {
    match status {
        EnvironmentStatus::Ready => "Ready",
        EnvironmentStatus::Busy => "Busy",
        EnvironmentStatus::Broken => "Broken",
        EnvironmentStatus::Destroyed => "Destroyed",
    }
}

/// An environment status of Genesis's spelling (any case).
pub(super) fn parse_environment_status(value: &str) -> Option<EnvironmentStatus> {
    [
        EnvironmentStatus::Ready,
        EnvironmentStatus::Busy,
        EnvironmentStatus::Broken,
        EnvironmentStatus::Destroyed,
    ]
    .into_iter()
    .find(|s| environment_status(*s).eq_ignore_ascii_case(value.trim()))
}

/// A workflow status as Genesis spells it.
pub(super) fn run_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Requested => "Requested",
        RunStatus::Running => "Running",
        RunStatus::Succeeded => "Succeed",
        RunStatus::Failed => "Failed",
        RunStatus::Canceled => "Canceled",
    }
}

/// A step status as Genesis spells it: a step never run is still `Requested` there.
pub(super) fn step_status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Requested | StepStatus::Skipped => "Requested",
        StepStatus::Running => "Running",
        StepStatus::Succeeded => "Succeed",
        StepStatus::Failed => "Failed",
        StepStatus::Canceled => "Canceled",
    }
}

/// Epoch milliseconds.
pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrane_domain::ValidationErrors;

    #[test]
    fn statuses_are_spelled_as_genesis_spells_them() {
        assert_eq!(environment_status(EnvironmentStatus::Broken), "Broken");
        assert_eq!(
            parse_environment_status("destroyed"),
            Some(EnvironmentStatus::Destroyed)
        );
        assert_eq!(run_status(RunStatus::Succeeded), "Succeed");
        assert_eq!(step_status(StepStatus::Skipped), "Requested");
    }

    #[test]
    fn a_missing_variable_is_not_set_and_fields_take_genesis_names() {
        let mut errors = ValidationErrors::new();
        errors.add("variables.nodesCount", "is required");
        errors.add("name", "is bad");
        let response = ResultObject::failure(
            ServiceError::Validation(errors),
            &[("name", "envName")],
            None,
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
