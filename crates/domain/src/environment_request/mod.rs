//! Environment requests: self-service environments, reviewed by an admin, provisioned by
//! terrane or an operator's command, and expired when their time to live has passed.
//!
//! The request's state machine is
//! `pending -> approved | rejected`, `approved -> provisioning`,
//! `provisioning -> active | failed`, `failed -> provisioning` (a retry),
//! `active -> expired`. Every move returns the request after it and the history row that
//! records it; nothing here reads a clock or stores anything.

use crate::environment::{EnvironmentInput, EnvironmentName, NewEnvironment};
use crate::error::{FieldError, ValidationErrors};
use crate::ids::{ComponentId, EnvironmentId, EnvironmentRequestId, TenantId, UserId};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

mod moves;
mod status;
mod ttl;

pub use status::{InvalidRequestTransition, NotPending, RequestError, RequestStatus};
pub use ttl::TtlPolicy;

wire_enum!(
    /// How long a requested environment lives.
    EnvironmentType, "type" {
        /// Short-lived: it expires by itself when its time to live has passed.
        Ephemeral => "ephemeral",
        /// Long-lived: it never expires by itself.
        Persistent => "persistent",
    }
);

wire_enum!(
    /// How much a requested environment gets.
    EnvironmentTier, "tier" {
        /// Minimal resources for lightweight testing.
        Small => "small",
        /// Standard resources for integration testing.
        Medium => "medium",
        /// Full resources for performance and load testing.
        Large => "large",
    }
);

/// Status messages of the moves, as they appear in `statusMessage` and the history.
pub mod messages {
    /// A request was submitted.
    pub const SUBMITTED: &str = "Request submitted";
    /// An admin approved it.
    pub const APPROVED: &str = "Approved for provisioning";
    /// An admin rejected it.
    pub const REJECTED: &str = "Request rejected";
    /// Provisioning began.
    pub const PROVISIONING: &str = "Provisioning started";
    /// An admin retried a failed provisioning.
    pub const RETRIED: &str = "Provisioning retried";
    /// The environment exists.
    pub const PROVISIONED: &str = "Environment provisioned";
    /// An admin expired it.
    pub const EXPIRED_BY_ADMIN: &str = "Environment expired by administrator";
    /// Its time to live passed.
    pub const TTL_ELAPSED: &str = "TTL elapsed";
}

/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Longest review comment.
pub const MAX_COMMENT_LEN: usize = 2000;
/// Longest status message kept (a provisioning failure's output is cut to its end).
pub const MAX_STATUS_MESSAGE_LEN: usize = 2000;

/// A stored environment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRequest {
    /// Its id.
    pub id: EnvironmentRequestId,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// The name the environment will have.
    pub name: EnvironmentName,
    /// Why it is needed.
    pub description: Option<String>,
    /// Ephemeral or persistent.
    pub environment_type: EnvironmentType,
    /// How much it gets.
    pub tier: EnvironmentTier,
    /// Hours it lives once provisioned (ephemeral only).
    pub ttl_hours: Option<u32>,
    /// The component it serves.
    pub component_id: Option<ComponentId>,
    /// Where it is.
    pub status: RequestStatus,
    /// Why it is there, when there is something to say.
    pub status_message: Option<String>,
    /// Who asked.
    pub requested_by: UserId,
    /// The admin who approved or rejected it.
    pub reviewed_by: Option<UserId>,
    /// What that admin said.
    pub review_comment: Option<String>,
    /// The environment it produced, once active.
    pub environment_id: Option<EnvironmentId>,
    /// When its environment was made.
    pub provisioned_at: Option<DateTime<Utc>>,
    /// When its environment expires (ephemeral only; it follows the environment's time to
    /// live when that is changed).
    pub expires_at: Option<DateTime<Utc>>,
    /// Bumped by every change; served as the ETag.
    pub version: i64,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One row of a request's history: a move, who made it, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHistoryEntry {
    /// The status before (none when the request was submitted).
    pub from: Option<RequestStatus>,
    /// The status after.
    pub to: RequestStatus,
    /// Who made the move (none for terrane itself: provisioning, the reaper).
    pub actor: Option<UserId>,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened.
    pub message: Option<String>,
    /// What the reviewer said, for reviews.
    pub comment: Option<String>,
}

/// Raw fields of a request as a client submits them; `None` means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInput {
    /// Required: a valid environment name.
    pub name: Option<String>,
    /// Optional justification.
    pub description: Option<String>,
    /// Required wire name of an [`EnvironmentType`].
    pub environment_type: Option<String>,
    /// Required wire name of an [`EnvironmentTier`].
    pub tier: Option<String>,
    /// Hours (ephemeral only).
    pub ttl_hours: Option<i64>,
    /// The component it serves.
    pub component_id: Option<Uuid>,
}

/// A validated request to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnvironmentRequest {
    /// The environment's name.
    pub name: EnvironmentName,
    /// Why.
    pub description: Option<String>,
    /// Ephemeral or persistent.
    pub environment_type: EnvironmentType,
    /// How much.
    pub tier: EnvironmentTier,
    /// Hours, for an ephemeral request (the default when it asked for none).
    pub ttl_hours: Option<u32>,
    /// The component it serves.
    pub component_id: Option<ComponentId>,
}

/// Raw changes to a pending request; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestPatch {
    /// A new environment name.
    pub name: Option<String>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// A new time to live in hours (ephemeral only).
    pub ttl_hours: Option<i64>,
}

/// Filters of the request list; every one given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Exact status.
    pub status: Option<RequestStatus>,
    /// Exact type.
    pub environment_type: Option<EnvironmentType>,
    /// Requested by this user.
    pub requested_by: Option<UserId>,
}

fn parse_description(value: Option<String>) -> Result<Option<String>, FieldError> {
    match value {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_LEN => Err(FieldError::new(
            "description",
            "must be at most 2000 characters",
        )),
        other => Ok(other),
    }
}

/// A reviewer's comment: at most 2000 characters; blank counts as none.
///
/// # Errors
/// A [`FieldError`] on `comment`.
pub fn parse_comment(value: Option<String>) -> Result<Option<String>, FieldError> {
    match value {
        Some(text) if text.chars().count() > MAX_COMMENT_LEN => Err(FieldError::new(
            "comment",
            "must be at most 2000 characters",
        )),
        Some(text) if text.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The last [`MAX_STATUS_MESSAGE_LEN`] characters of `text`, trimmed: the end of a command's
/// output says why it failed.
pub fn tail(text: &str) -> String {
    let text = text.trim();
    let count = text.chars().count();
    if count <= MAX_STATUS_MESSAGE_LEN {
        return text.to_owned();
    }
    text.chars().skip(count - MAX_STATUS_MESSAGE_LEN).collect()
}

impl RequestInput {
    /// Validates a request under the installation's time-to-live policy, every bad or missing
    /// field at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each field.
    pub fn into_new(self, ttl: &TtlPolicy) -> Result<NewEnvironmentRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name.as_deref() {
            Some(name) => errors.take(EnvironmentName::parse(name)),
            None => {
                errors.add("name", "is required");
                None
            }
        };
        let description = errors.take(parse_description(self.description)).flatten();
        let environment_type = match self.environment_type.as_deref() {
            Some(kind) => errors.take(EnvironmentType::parse_field(kind, "type")),
            None => {
                errors.add("type", "is required: ephemeral or persistent");
                None
            }
        };
        let tier = match self.tier.as_deref() {
            Some(tier) => errors.take(EnvironmentTier::parse_field(tier, "tier")),
            None => {
                errors.add("tier", "is required: small, medium or large");
                None
            }
        };
        let ttl_hours = match environment_type {
            Some(kind) => errors.take(ttl.ttl_hours(kind, self.ttl_hours)).flatten(),
            None => None,
        };
        match (name, environment_type, tier) {
            (Some(name), Some(environment_type), Some(tier)) if errors.is_empty() => {
                Ok(NewEnvironmentRequest {
                    name,
                    description,
                    environment_type,
                    tier,
                    ttl_hours,
                    component_id: self.component_id.map(ComponentId),
                })
            }
            _ => Err(errors),
        }
    }
}

impl NewEnvironmentRequest {
    /// The pending request this becomes when `requested_by` submits it at `now`, and the
    /// history row that records the submission.
    pub fn into_request(
        self,
        id: EnvironmentRequestId,
        tenant: TenantId,
        requested_by: UserId,
        now: DateTime<Utc>,
    ) -> (EnvironmentRequest, RequestHistoryEntry) {
        let now = crate::time::truncate(now);
        let request = EnvironmentRequest {
            id,
            tenant,
            name: self.name,
            description: self.description,
            environment_type: self.environment_type,
            tier: self.tier,
            ttl_hours: self.ttl_hours,
            component_id: self.component_id,
            status: RequestStatus::Pending,
            status_message: None,
            requested_by,
            reviewed_by: None,
            review_comment: None,
            environment_id: None,
            provisioned_at: None,
            expires_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let entry = RequestHistoryEntry {
            from: None,
            to: RequestStatus::Pending,
            actor: Some(requested_by),
            at: now,
            message: Some(messages::SUBMITTED.to_owned()),
            comment: None,
        };
        (request, entry)
    }
}

#[cfg(test)]
mod tests;
