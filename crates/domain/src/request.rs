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
use std::fmt;
use uuid::Uuid;

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

/// The time-to-live rules of an installation: what an ephemeral request gets when it names
/// no time to live, and the most it may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    default_hours: u32,
    max_hours: u32,
}

impl TtlPolicy {
    /// The default time to live when the installation does not configure one: a day.
    pub const DEFAULT_HOURS: u32 = 24;
    /// The default maximum when the installation does not configure one: thirty days.
    pub const MAX_HOURS: u32 = 720;

    /// A policy granting `default_hours` unless asked otherwise, and at most `max_hours`.
    ///
    /// # Errors
    /// A message when the default is 0 or over the maximum.
    pub fn new(default_hours: u32, max_hours: u32) -> Result<Self, String> {
        if default_hours == 0 {
            return Err("the default time to live must be at least 1 hour".into());
        }
        if default_hours > max_hours {
            return Err(format!(
                "the default time to live ({default_hours} h) exceeds the maximum ({max_hours} h)"
            ));
        }
        Ok(Self {
            default_hours,
            max_hours,
        })
    }

    /// Hours an ephemeral request gets when it names none.
    pub fn default_hours(&self) -> u32 {
        self.default_hours
    }

    /// Most hours a request may ask for.
    pub fn max_hours(&self) -> u32 {
        self.max_hours
    }

    /// The time to live of a request of type `kind` asking for `hours`: the default for an
    /// ephemeral request that asks for none, nothing for a persistent one.
    ///
    /// # Errors
    /// A [`FieldError`] on `ttlHours` when an ephemeral request asks for less than 1 or more
    /// than the maximum, or a persistent one asks for any.
    pub fn ttl_hours(
        &self,
        kind: EnvironmentType,
        hours: Option<i64>,
    ) -> Result<Option<u32>, FieldError> {
        match (kind, hours) {
            (EnvironmentType::Persistent, None) => Ok(None),
            (EnvironmentType::Persistent, Some(_)) => Err(FieldError::new(
                "ttlHours",
                "persistent environments do not expire: omit ttlHours or request an ephemeral environment",
            )),
            (EnvironmentType::Ephemeral, None) => Ok(Some(self.default_hours)),
            (EnvironmentType::Ephemeral, Some(h)) if (1..=i64::from(self.max_hours)).contains(&h) => {
                Ok(Some(h as u32))
            }
            (EnvironmentType::Ephemeral, Some(_)) => Err(FieldError::new(
                "ttlHours",
                format!("must be between 1 and {} hours", self.max_hours),
            )),
        }
    }

    /// A time to live set on an environment directly, in minutes: at least 1, at most the
    /// maximum.
    ///
    /// # Errors
    /// A [`FieldError`] on `minutes`.
    pub fn minutes(&self, minutes: i64) -> Result<u32, FieldError> {
        let max = i64::from(self.max_hours) * 60;
        if (1..=max).contains(&minutes) {
            Ok(minutes as u32)
        } else {
            Err(FieldError::new(
                "minutes",
                format!("must be between 1 and {max} minutes"),
            ))
        }
    }
}

impl Default for TtlPolicy {
    fn default() -> Self {
        Self {
            default_hours: Self::DEFAULT_HOURS,
            max_hours: Self::MAX_HOURS,
        }
    }
}

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

impl EnvironmentRequest {
    /// The request after moving to `to` at `now`, and the history row recording it. The
    /// `status_message`, when given, replaces the current one.
    fn moved(
        &self,
        to: RequestStatus,
        actor: Option<UserId>,
        message: &str,
        status_message: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let now = crate::time::truncate(now);
        let to = self.status.transition(to)?;
        let mut next = self.clone();
        next.status = to;
        if let Some(status_message) = status_message {
            next.status_message = Some(status_message);
        }
        next.version += 1;
        next.updated_at = now;
        let entry = RequestHistoryEntry {
            from: Some(self.status),
            to,
            actor,
            at: now,
            message: Some(message.to_owned()),
            comment: None,
        };
        Ok((next, entry))
    }

    /// Approval by `reviewer`: `pending -> approved`, reviewed by them, with their comment.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is pending.
    pub fn approve(
        &self,
        reviewer: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        self.review(
            RequestStatus::Approved,
            messages::APPROVED,
            reviewer,
            comment,
            now,
        )
    }

    /// Rejection by `reviewer`: `pending -> rejected`, with `statusMessage` "Request
    /// rejected" and their comment.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is pending.
    pub fn reject(
        &self,
        reviewer: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        self.review(
            RequestStatus::Rejected,
            messages::REJECTED,
            reviewer,
            comment,
            now,
        )
    }

    fn review(
        &self,
        to: RequestStatus,
        message: &str,
        reviewer: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let (mut next, mut entry) =
            self.moved(to, Some(reviewer), message, Some(message.to_owned()), now)?;
        next.reviewed_by = Some(reviewer);
        next.review_comment.clone_from(&comment);
        entry.comment = comment;
        Ok((next, entry))
    }

    /// terrane begins making the environment: `approved -> provisioning`. The status message
    /// (the approval's) stays.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is approved.
    pub fn start_provisioning(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        if self.status != RequestStatus::Approved {
            return Err(InvalidRequestTransition {
                from: self.status,
                to: RequestStatus::Provisioning,
            });
        }
        self.moved(
            RequestStatus::Provisioning,
            None,
            messages::PROVISIONING,
            None,
            now,
        )
    }

    /// An admin retries a failed provisioning: `failed -> provisioning`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request failed.
    pub fn retry(
        &self,
        actor: UserId,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        if self.status != RequestStatus::Failed {
            return Err(InvalidRequestTransition {
                from: self.status,
                to: RequestStatus::Provisioning,
            });
        }
        self.moved(
            RequestStatus::Provisioning,
            Some(actor),
            messages::RETRIED,
            Some(messages::RETRIED.to_owned()),
            now,
        )
    }

    /// The environment exists as `environment`: `provisioning -> active`, provisioned now,
    /// and for an ephemeral request expiring its time to live from now.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is provisioning.
    pub fn activate(
        &self,
        environment: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let (mut next, entry) = self.moved(
            RequestStatus::Active,
            None,
            messages::PROVISIONED,
            None,
            now,
        )?;
        next.environment_id = Some(environment);
        next.provisioned_at = Some(next.updated_at);
        next.expires_at = match self.environment_type {
            EnvironmentType::Ephemeral => self
                .ttl_hours
                .map(|hours| next.updated_at + Duration::hours(i64::from(hours))),
            EnvironmentType::Persistent => None,
        };
        Ok((next, entry))
    }

    /// Making the environment failed for `reason`: `provisioning -> failed`, the reason
    /// (cut to its last 2000 characters) in `statusMessage`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is provisioning.
    pub fn fail(
        &self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let reason = tail(reason);
        self.moved(
            RequestStatus::Failed,
            None,
            &reason,
            Some(reason.clone()),
            now,
        )
    }

    /// The environment was torn down: `active -> expired`, by an admin (`actor`) or by
    /// terrane itself when its time to live passed (`None`), with `message` in
    /// `statusMessage`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is active.
    pub fn expire(
        &self,
        actor: Option<UserId>,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        self.moved(
            RequestStatus::Expired,
            actor,
            message,
            Some(message.to_owned()),
            now,
        )
    }

    /// The request after `patch`, validated under `ttl`; only a pending request changes.
    /// Returns the request unchanged (same version) when the patch changes nothing.
    ///
    /// # Errors
    /// [`RequestError::NotPending`] unless pending, [`RequestError::Invalid`] for bad fields
    /// (a time to live for a persistent request, one over the maximum, a bad name).
    pub fn edit(
        &self,
        patch: RequestPatch,
        ttl: &TtlPolicy,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentRequest, RequestError> {
        if self.status != RequestStatus::Pending {
            return Err(RequestError::NotPending(NotPending {
                action: "changed",
                status: self.status,
            }));
        }
        let mut errors = ValidationErrors::new();
        let name = patch
            .name
            .as_deref()
            .map(EnvironmentName::parse)
            .transpose();
        let name = errors.take(name).flatten();
        let description = patch.description.map(parse_description).transpose();
        let description = errors.take(description).flatten();
        let ttl_hours = match patch.ttl_hours {
            Some(hours) => errors.take(ttl.ttl_hours(self.environment_type, Some(hours))),
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let mut next = self.clone();
        if let Some(name) = name {
            next.name = name;
        }
        if let Some(description) = description {
            next.description = description;
        }
        if let Some(ttl_hours) = ttl_hours {
            next.ttl_hours = ttl_hours;
        }
        if next == *self {
            return Ok(next);
        }
        next.version += 1;
        next.updated_at = crate::time::truncate(now);
        Ok(next)
    }

    /// Checks that the request may be deleted: only while pending.
    ///
    /// # Errors
    /// [`NotPending`] otherwise.
    pub fn ensure_deletable(&self) -> Result<(), NotPending> {
        if self.status == RequestStatus::Pending {
            Ok(())
        } else {
            Err(NotPending {
                action: "deleted",
                status: self.status,
            })
        }
    }

    /// The environment this request makes in terrane's inventory: its name and description,
    /// every other setting at its default. The link to the request and the expiry come from
    /// the request once active.
    pub fn new_environment(&self) -> NewEnvironment {
        EnvironmentInput {
            name: Some(self.name.as_str().to_owned()),
            description: Some(self.description.clone()),
            ..Default::default()
        }
        .into_new()
        .expect("a request's name and description are valid environment fields")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use RequestStatus::*;

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    fn input(kind: &str, ttl_hours: Option<i64>) -> RequestInput {
        RequestInput {
            name: Some("feature-xyz-preview".into()),
            description: Some("Preview environment for feature XYZ".into()),
            environment_type: Some(kind.into()),
            tier: Some("small".into()),
            ttl_hours,
            component_id: None,
        }
    }

    fn pending(kind: &str, ttl_hours: Option<i64>) -> EnvironmentRequest {
        input(kind, ttl_hours)
            .into_new(&TtlPolicy::default())
            .unwrap()
            .into_request(
                EnvironmentRequestId(Uuid::from_u128(5)),
                TenantId(Uuid::from_u128(7)),
                user(1),
                t0(),
            )
            .0
    }

    fn with_status(status: RequestStatus) -> EnvironmentRequest {
        EnvironmentRequest {
            status,
            ..pending("ephemeral", Some(48))
        }
    }

    #[test]
    fn the_state_machine_allows_exactly_the_specified_transitions() {
        let allowed = [
            (Pending, Approved),
            (Pending, Rejected),
            (Approved, Provisioning),
            (Provisioning, Active),
            (Provisioning, Failed),
            (Failed, Provisioning),
            (Active, Expired),
        ];
        for from in RequestStatus::ALL {
            for to in RequestStatus::ALL {
                let expected = allowed.contains(&(*from, *to));
                assert_eq!(from.transition(*to).is_ok(), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn every_move_of_a_request_is_allowed_only_from_its_one_status() {
        // The named moves, each tried from every status: exactly the table above.
        type Move = fn(&EnvironmentRequest) -> Result<RequestStatus, InvalidRequestTransition>;
        let moves: [(&str, Move, &[RequestStatus]); 7] = [
            (
                "approve",
                |r| r.approve(user(2), None, t0()).map(|(n, _)| n.status),
                &[Pending],
            ),
            (
                "reject",
                |r| r.reject(user(2), None, t0()).map(|(n, _)| n.status),
                &[Pending],
            ),
            (
                "start",
                |r| r.start_provisioning(t0()).map(|(n, _)| n.status),
                &[Approved],
            ),
            (
                "retry",
                |r| r.retry(user(2), t0()).map(|(n, _)| n.status),
                &[Failed],
            ),
            (
                "activate",
                |r| {
                    r.activate(EnvironmentId(Uuid::nil()), t0())
                        .map(|(n, _)| n.status)
                },
                &[Provisioning],
            ),
            (
                "fail",
                |r| r.fail("boom", t0()).map(|(n, _)| n.status),
                &[Provisioning],
            ),
            (
                "expire",
                |r| r.expire(None, "TTL elapsed", t0()).map(|(n, _)| n.status),
                &[Active],
            ),
        ];
        for (name, apply, from) in moves {
            for status in RequestStatus::ALL {
                let result = apply(&with_status(*status));
                assert_eq!(
                    result.is_ok(),
                    from.contains(status),
                    "{name} from {status}"
                );
            }
        }
    }

    #[test]
    fn a_refused_transition_names_the_current_status_and_the_allowed_ones() {
        assert_eq!(
            Active.transition(Approved).unwrap_err().to_string(),
            "a request cannot move from `active` to `approved`; from `active` it can move to expired"
        );
        assert_eq!(
            Rejected.transition(Approved).unwrap_err().to_string(),
            "a request cannot move from `rejected` to `approved`; `rejected` is final"
        );
    }

    #[test]
    fn only_rejected_and_expired_requests_let_their_name_go() {
        let open: Vec<_> = RequestStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&Pending, &Approved, &Provisioning, &Active, &Failed]);
    }

    #[test]
    fn enums_round_trip_their_wire_names() {
        for s in RequestStatus::ALL {
            assert_eq!(s.as_str().parse::<RequestStatus>().unwrap(), *s);
        }
        for t in EnvironmentType::ALL {
            assert_eq!(t.as_str().parse::<EnvironmentType>().unwrap(), *t);
        }
        for t in EnvironmentTier::ALL {
            assert_eq!(t.as_str().parse::<EnvironmentTier>().unwrap(), *t);
        }
        assert!("huge".parse::<EnvironmentTier>().is_err());
    }

    #[test]
    fn an_ephemeral_request_without_ttl_gets_the_configured_default() {
        let policy = TtlPolicy::new(6, 48).unwrap();
        let new = input("ephemeral", None).into_new(&policy).unwrap();
        assert_eq!(new.ttl_hours, Some(6));
        let asked = input("ephemeral", Some(48)).into_new(&policy).unwrap();
        assert_eq!(asked.ttl_hours, Some(48));
    }

    #[test]
    fn an_ephemeral_ttl_over_the_configured_maximum_is_refused() {
        let policy = TtlPolicy::new(6, 48).unwrap();
        for hours in [0, 49, -1] {
            let errors = input("ephemeral", Some(hours))
                .into_new(&policy)
                .unwrap_err();
            assert_eq!(errors.errors()[0].field, "ttlHours");
            assert_eq!(errors.errors()[0].message, "must be between 1 and 48 hours");
        }
    }

    #[test]
    fn a_persistent_request_refuses_a_ttl_because_it_does_not_expire() {
        let errors = input("persistent", Some(24))
            .into_new(&TtlPolicy::default())
            .unwrap_err();
        assert_eq!(errors.errors()[0].field, "ttlHours");
        assert!(errors.errors()[0]
            .message
            .starts_with("persistent environments do not expire"));
        let new = input("persistent", None)
            .into_new(&TtlPolicy::default())
            .unwrap();
        assert_eq!(new.ttl_hours, None);
    }

    #[test]
    fn every_bad_or_missing_field_is_named_at_once() {
        let errors = RequestInput {
            name: Some("Not A Slug".into()),
            description: Some("x".repeat(2001)),
            tier: Some("huge".into()),
            ..Default::default()
        }
        .into_new(&TtlPolicy::default())
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "description", "type", "tier"]);
    }

    #[test]
    fn the_ttl_policy_needs_a_default_within_the_maximum() {
        assert!(TtlPolicy::new(24, 720).is_ok());
        assert!(TtlPolicy::new(0, 720).is_err());
        assert!(TtlPolicy::new(721, 720).is_err());
        let policy = TtlPolicy::new(1, 2).unwrap();
        assert_eq!(policy.minutes(120), Ok(120));
        assert_eq!(policy.minutes(121).unwrap_err().field, "minutes");
        assert_eq!(policy.minutes(0).unwrap_err().field, "minutes");
    }

    #[test]
    fn a_submitted_request_is_pending_and_its_history_starts_with_the_requester() {
        let (request, entry) = input("ephemeral", Some(48))
            .into_new(&TtlPolicy::default())
            .unwrap()
            .into_request(
                EnvironmentRequestId(Uuid::from_u128(5)),
                TenantId(Uuid::from_u128(7)),
                user(1),
                t0(),
            );
        assert_eq!(request.status, Pending);
        assert_eq!((request.status_message, request.expires_at), (None, None));
        assert_eq!((request.version, request.created_at), (1, t0()));
        assert_eq!(entry.from, None);
        assert_eq!((entry.to, entry.actor), (Pending, Some(user(1))));
    }

    #[test]
    fn approving_records_the_reviewer_and_activation_sets_the_expiry_from_the_ttl() {
        let request = pending("ephemeral", Some(48));
        let (approved, entry) = request.approve(user(2), Some("ok".into()), t0()).unwrap();
        assert_eq!(
            approved.status_message.as_deref(),
            Some("Approved for provisioning")
        );
        assert_eq!(approved.reviewed_by, Some(user(2)));
        assert_eq!(approved.review_comment.as_deref(), Some("ok"));
        assert_eq!(
            (entry.actor, entry.comment.as_deref()),
            (Some(user(2)), Some("ok"))
        );
        let (provisioning, _) = approved.start_provisioning(t0()).unwrap();
        let at = t0() + Duration::seconds(5);
        let env = EnvironmentId(Uuid::from_u128(9));
        let (active, entry) = provisioning.activate(env, at).unwrap();
        assert_eq!(active.status, Active);
        assert_eq!(
            active.status_message.as_deref(),
            Some("Approved for provisioning")
        );
        assert_eq!(active.provisioned_at, Some(at));
        assert_eq!(active.expires_at, Some(at + Duration::hours(48)));
        assert_eq!(active.environment_id, Some(env));
        assert_eq!(active.version, 4);
        assert_eq!((entry.from, entry.actor), (Some(Provisioning), None));
    }

    #[test]
    fn a_persistent_request_never_gets_an_expiry() {
        let request = EnvironmentRequest {
            status: Provisioning,
            ..pending("persistent", None)
        };
        let (active, _) = request.activate(EnvironmentId(Uuid::nil()), t0()).unwrap();
        assert_eq!(active.expires_at, None);
    }

    #[test]
    fn rejecting_says_so_and_keeps_the_comment() {
        let (rejected, _) = pending("ephemeral", None)
            .reject(
                user(2),
                Some("Use the existing staging environment instead".into()),
                t0(),
            )
            .unwrap();
        assert_eq!(rejected.status, Rejected);
        assert_eq!(rejected.status_message.as_deref(), Some("Request rejected"));
        assert_eq!(
            rejected.review_comment.as_deref(),
            Some("Use the existing staging environment instead")
        );
    }

    #[test]
    fn a_failure_keeps_the_end_of_a_long_reason() {
        let request = with_status(Provisioning);
        let reason = format!("{}THE END", "x".repeat(5000));
        let (failed, entry) = request.fail(&reason, t0()).unwrap();
        let message = failed.status_message.unwrap();
        assert_eq!(message.chars().count(), MAX_STATUS_MESSAGE_LEN);
        assert!(message.ends_with("THE END"));
        assert_eq!(entry.message.as_deref(), Some(message.as_str()));
        let (retried, entry) = failed_request().retry(user(2), t0()).unwrap();
        assert_eq!(retried.status, Provisioning);
        assert_eq!(entry.actor, Some(user(2)));
    }

    fn failed_request() -> EnvironmentRequest {
        with_status(Failed)
    }

    #[test]
    fn expiring_names_who_and_why() {
        let (expired, entry) = with_status(Active)
            .expire(Some(user(2)), messages::EXPIRED_BY_ADMIN, t0())
            .unwrap();
        assert_eq!(
            expired.status_message.as_deref(),
            Some("Environment expired by administrator")
        );
        assert_eq!(entry.actor, Some(user(2)));
        let (_, entry) = with_status(Active)
            .expire(None, messages::TTL_ELAPSED, t0())
            .unwrap();
        assert_eq!(
            (entry.actor, entry.message.as_deref()),
            (None, Some("TTL elapsed"))
        );
    }

    #[test]
    fn only_a_pending_request_can_be_edited_or_deleted() {
        let patch = RequestPatch {
            description: Some(Some("new".into())),
            ..Default::default()
        };
        for status in RequestStatus::ALL {
            let request = with_status(*status);
            let edited = request.edit(patch.clone(), &TtlPolicy::default(), t0());
            assert_eq!(edited.is_ok(), *status == Pending, "{status}");
            assert_eq!(
                request.ensure_deletable().is_ok(),
                *status == Pending,
                "{status}"
            );
        }
        let error = with_status(Active).ensure_deletable().unwrap_err();
        assert_eq!(
            error.to_string(),
            "only pending requests can be deleted; this one is `active`"
        );
    }

    #[test]
    fn an_edit_validates_the_ttl_against_the_requests_type() {
        let later = t0() + Duration::seconds(1);
        let ttl = |hours| RequestPatch {
            ttl_hours: Some(hours),
            ..Default::default()
        };
        let ephemeral = pending("ephemeral", Some(48));
        let edited = ephemeral
            .edit(ttl(12), &TtlPolicy::default(), later)
            .unwrap();
        assert_eq!(
            (edited.ttl_hours, edited.version, edited.updated_at),
            (Some(12), 2, later)
        );
        assert!(matches!(
            ephemeral.edit(ttl(721), &TtlPolicy::default(), later),
            Err(RequestError::Invalid(e)) if e.errors()[0].field == "ttlHours"
        ));
        let persistent = pending("persistent", None);
        assert!(matches!(
            persistent.edit(ttl(1), &TtlPolicy::default(), later),
            Err(RequestError::Invalid(e)) if e.errors()[0].message.starts_with("persistent environments do not expire")
        ));
        let unchanged = ephemeral
            .edit(RequestPatch::default(), &TtlPolicy::default(), later)
            .unwrap();
        assert_eq!(unchanged, ephemeral, "an empty patch changes nothing");
    }

    #[test]
    fn the_environment_of_a_request_carries_its_name_and_description() {
        let env = pending("ephemeral", None).new_environment();
        assert_eq!(env.name.as_str(), "feature-xyz-preview");
        assert_eq!(
            env.description.as_deref(),
            Some("Preview environment for feature XYZ")
        );
    }

    #[test]
    fn comments_are_limited_and_blank_ones_are_none() {
        assert_eq!(parse_comment(Some("  ".into())), Ok(None));
        assert_eq!(
            parse_comment(Some("x".repeat(2001))).unwrap_err().field,
            "comment"
        );
    }
}
