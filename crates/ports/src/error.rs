//! The errors that cross the boundary.

use terrane_domain::ValidationErrors;
use thiserror::Error;

/// What a storage adapter reports. Adapters map their native errors into these once, in one
/// place, so the core never sees a driver error.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No row with that id in the caller's tenant (rows of other tenants are not found either).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would break; the text names what clashes.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row changed since the caller read it: its version is now `current`.
    #[error("version mismatch: the current version is {current}")]
    VersionMismatch {
        /// The version now stored.
        current: i64,
    },
    /// A row the operation points at does not exist (a foreign key); the text names it.
    #[error("missing reference: {0}")]
    MissingReference(String),
    /// The database cannot be reached; retrying may help.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Every database connection stayed busy for longer than the queue waits: any method
    /// of any port may answer this under overload; retrying shortly may help.
    #[error("storage overloaded: {0}")]
    Overloaded(String),
    /// Anything else; the text is for logs, never for clients.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// What a use case reports to an inbound adapter, which maps each variant to one status.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// Bad input; every bad field is named (400).
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The actor lacks the role or right (403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing of that kind with that id in the actor's tenant (404).
    #[error("{0} not found")]
    NotFound(String),
    /// The request clashes with the current state (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A gate refused to let a deployment start (409); the detail says what would let it
    /// pass.
    #[error("the {gate} gate refused: {detail}")]
    GateRefused {
        /// Which gate.
        gate: terrane_domain::GateKind,
        /// Why, and what would let it pass.
        detail: String,
    },
    /// `If-Match` named a version that is no longer current (412).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// A dependency is down; retrying may help (503).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Too busy to take the request now; retrying shortly may help (503).
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// A bug or an unexpected failure; the text is logged, never shown (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        ServiceError::Validation(errors)
    }
}

impl ServiceError {
    /// Maps a storage error for an operation on the `what` named (e.g. "environment").
    pub fn from_store(error: StoreError, what: &str) -> Self {
        match error {
            StoreError::NotFound => ServiceError::NotFound(what.to_owned()),
            StoreError::Conflict(detail) => ServiceError::Conflict(detail),
            StoreError::VersionMismatch { current } => ServiceError::PreconditionFailed(format!(
                "the {what} has changed since you read it; its current ETag is \"{current}\""
            )),
            StoreError::MissingReference(detail) => {
                ServiceError::Validation(ValidationErrors::single(
                    detail.clone(),
                    format!("refers to something that does not exist: {detail}"),
                ))
            }
            StoreError::Unavailable(detail) => ServiceError::Unavailable(detail),
            StoreError::Overloaded(detail) => ServiceError::Overloaded(detail),
            StoreError::Internal(detail) => ServiceError::Internal(detail),
        }
    }
}
