//! The request's state machine and why a move is refused.

use crate::error::ValidationErrors;
use std::fmt;

wire_enum!(
    /// Where a request is in its life.
    RequestStatus, "status" {
        /// Submitted, awaiting an admin's review.
        Pending => "pending",
        /// Approved, awaiting provisioning.
        Approved => "approved",
        /// Refused by an admin; final.
        Rejected => "rejected",
        /// Its environment is being made.
        Provisioning => "provisioning",
        /// Its environment exists and may be used.
        Active => "active",
        /// Its environment has been torn down; final.
        Expired => "expired",
        /// Making its environment failed; an admin may retry.
        Failed => "failed",
    }
);

impl RequestStatus {
    /// The statuses a request in this one may move to.
    pub fn next(&self) -> &'static [RequestStatus] {
        use RequestStatus::*;
        match self {
            Pending => &[Approved, Rejected],
            Approved => &[Provisioning],
            Rejected => &[],
            Provisioning => &[Active, Failed],
            Active => &[Expired],
            Expired => &[],
            Failed => &[Provisioning],
        }
    }

    /// Checks a move to `to`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`], which names the allowed next statuses.
    pub fn transition(self, to: RequestStatus) -> Result<RequestStatus, InvalidRequestTransition> {
        if self.next().contains(&to) {
            Ok(to)
        } else {
            Err(InvalidRequestTransition { from: self, to })
        }
    }

    /// True while the request holds its name: no other open request of the tenant may ask
    /// for the same environment name. Rejected and expired requests let it go.
    pub fn is_open(&self) -> bool {
        use RequestStatus::*;
        match self {
            Pending | Approved | Provisioning | Active | Failed => true,
            Rejected | Expired => false,
        }
    }
}

/// A move the request state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidRequestTransition {
    /// The current status.
    pub from: RequestStatus,
    /// The status asked for.
    pub to: RequestStatus,
}

impl fmt::Display for InvalidRequestTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a request cannot move from `{}` to `{}`; ",
            self.from, self.to
        )?;
        let allowed: Vec<&str> = self.from.next().iter().map(|s| s.as_str()).collect();
        if allowed.is_empty() {
            write!(f, "`{}` is final", self.from)
        } else {
            write!(
                f,
                "from `{}` it can move to {}",
                self.from,
                allowed.join(" or ")
            )
        }
    }
}

impl std::error::Error for InvalidRequestTransition {}

/// A change that only a pending request accepts (editing, deleting), asked of one that is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPending {
    /// What was attempted, as a verb phrase (`changed`, `deleted`).
    pub action: &'static str,
    /// The request's status.
    pub status: RequestStatus,
}

impl fmt::Display for NotPending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "only pending requests can be {}; this one is `{}`",
            self.action, self.status
        )
    }
}

impl std::error::Error for NotPending {}

/// Why a change to a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Bad fields.
    Invalid(ValidationErrors),
    /// Not a move the state machine allows.
    Transition(InvalidRequestTransition),
    /// The request is no longer pending.
    NotPending(NotPending),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Invalid(errors) => errors.fmt(f),
            RequestError::Transition(error) => error.fmt(f),
            RequestError::NotPending(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<ValidationErrors> for RequestError {
    fn from(errors: ValidationErrors) -> Self {
        RequestError::Invalid(errors)
    }
}

impl From<InvalidRequestTransition> for RequestError {
    fn from(error: InvalidRequestTransition) -> Self {
        RequestError::Transition(error)
    }
}
