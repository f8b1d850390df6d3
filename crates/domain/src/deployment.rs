//! Deployments: the ledger's state machine (the gates that guard leaving `pending` are in
//! [`crate::gates`]).

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{ComponentId, DeploymentId, EnvironmentId, ReleaseId, TenantId, UserId};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::fmt;
use uuid::Uuid;

wire_enum!(
    /// Where a deployment is.
    DeploymentStatus, "status" {
        /// Recorded, not started.
        Pending => "pending",
        /// Running.
        InProgress => "in_progress",
        /// Finished well.
        Succeeded => "succeeded",
        /// Finished badly.
        Failed => "failed",
        /// Undone after it succeeded.
        RolledBack => "rolled_back",
    }
);

impl DeploymentStatus {
    /// The statuses a deployment in this one may move to.
    pub fn next(&self) -> &'static [DeploymentStatus] {
        use DeploymentStatus::*;
        match self {
            Pending => &[InProgress, Failed],
            InProgress => &[Succeeded, Failed],
            Succeeded => &[RolledBack],
            Failed => &[Pending],
            RolledBack => &[Pending],
        }
    }

    /// Checks a move to `to`.
    ///
    /// # Errors
    /// [`InvalidTransition`], which names the allowed next statuses.
    pub fn transition(self, to: DeploymentStatus) -> Result<DeploymentStatus, InvalidTransition> {
        if self.next().contains(&to) {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }

    /// True for the statuses a deployment ends in until someone retries it.
    pub fn is_finished(&self) -> bool {
        use DeploymentStatus::*;
        match self {
            Succeeded | Failed | RolledBack => true,
            Pending | InProgress => false,
        }
    }
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The current status.
    pub from: DeploymentStatus,
    /// The status asked for.
    pub to: DeploymentStatus,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed: Vec<&str> = self.from.next().iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "a deployment cannot move from `{}` to `{}`; from `{}` it can move to {}",
            self.from,
            self.to,
            self.from,
            allowed.join(" or ")
        )
    }
}

impl std::error::Error for InvalidTransition {}

/// Longest version label.
pub const MAX_VERSION_LEN: usize = 128;
/// Longest `deployedBy` label.
pub const MAX_DEPLOYED_BY_LEN: usize = 255;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Largest metadata object, serialized.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A version label: 1 to 128 visible characters, no whitespace (`v2.3.1`, `2024.01.09-1`, a
/// commit hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// Parses a version label.
    ///
    /// # Errors
    /// A [`FieldError`] on `version`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if value.is_empty() || value.len() > MAX_VERSION_LEN {
            return Err(FieldError::new("version", "must be 1 to 128 characters"));
        }
        if !value.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldError::new(
                "version",
                "may contain only visible ASCII characters, no spaces",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An image digest: `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest, naming `field` when it is malformed.
    ///
    /// # Errors
    /// A [`FieldError`] on `field`.
    pub fn parse(value: &str, field: &str) -> Result<Self, FieldError> {
        let ok = value.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "must be `sha256:` followed by 64 lowercase hex digits",
            ))
        }
    }

    /// The digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A git commit hash: 7 to 40 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitSha(String);

impl CommitSha {
    /// Parses a commit hash.
    ///
    /// # Errors
    /// A [`FieldError`] on `commitSha`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if (7..=40).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err(FieldError::new("commitSha", "must be 7 to 40 hex digits"))
        }
    }

    /// The hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A deployment in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Its id.
    pub id: DeploymentId,
    /// The organization.
    pub tenant: TenantId,
    /// What is deployed.
    pub component_id: ComponentId,
    /// Where.
    pub environment_id: EnvironmentId,
    /// The release it belongs to, if any.
    pub release_id: Option<ReleaseId>,
    /// Which version.
    pub version: Version,
    /// The image digest, when known.
    pub digest: Option<Digest>,
    /// The commit, when known.
    pub commit_sha: Option<CommitSha>,
    /// Who or what deployed it, as the client names it (`ci-bot`); defaults to the author.
    pub deployed_by: String,
    /// The user who recorded it: separation of duties bars them from approving it.
    pub created_by: UserId,
    /// Free text.
    pub description: Option<String>,
    /// Free-form facts (pipeline URL, ticket, ...).
    pub metadata: Map<String, Value>,
    /// Where it is.
    pub status: DeploymentStatus,
    /// Bumped by every change; the ETag.
    pub revision: i64,
    /// Bumped by every retry (`-> pending`): only approvals of the current round count.
    pub approval_round: u32,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last entered `in_progress`.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last entered `succeeded` or `failed`.
    pub finished_at: Option<DateTime<Utc>>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the change it ships was committed, as the client says: where its lead time for
    /// changes starts.
    pub committed_at: Option<DateTime<Utc>>,
}

/// Raw fields of a deployment to record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentInput {
    /// Required.
    pub component_id: Option<Uuid>,
    /// Required.
    pub environment_id: Option<Uuid>,
    /// Required.
    pub version: Option<String>,
    /// Defaults to the caller.
    pub deployed_by: Option<String>,
    /// Optional.
    pub commit_sha: Option<String>,
    /// Optional.
    pub description: Option<String>,
    /// Optional JSON object.
    pub metadata: Option<Map<String, Value>>,
    /// Optional.
    pub digest: Option<String>,
    /// Optional.
    pub release_id: Option<Uuid>,
    /// Optional; not in the future.
    pub committed_at: Option<DateTime<Utc>>,
}

/// A validated deployment to record; it starts `pending`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    /// What.
    pub component_id: ComponentId,
    /// Where.
    pub environment_id: EnvironmentId,
    /// Which release, if any.
    pub release_id: Option<ReleaseId>,
    /// Which version.
    pub version: Version,
    /// Which image.
    pub digest: Option<Digest>,
    /// Which commit.
    pub commit_sha: Option<CommitSha>,
    /// Who or what deploys.
    pub deployed_by: String,
    /// Free text.
    pub description: Option<String>,
    /// Free-form facts.
    pub metadata: Map<String, Value>,
    /// When its change was committed.
    pub committed_at: Option<DateTime<Utc>>,
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

fn parse_metadata(value: Option<Map<String, Value>>) -> Result<Map<String, Value>, FieldError> {
    let map = value.unwrap_or_default();
    if Value::Object(map.clone()).to_string().len() > MAX_METADATA_BYTES {
        return Err(FieldError::new(
            "metadata",
            "must be at most 16 KiB of JSON",
        ));
    }
    Ok(map)
}

impl DeploymentInput {
    /// Validates a deployment recorded by `author`, every bad or missing field at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each field.
    pub fn into_new(self, author: UserId) -> Result<NewDeployment, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let component_id = self.component_id.map(ComponentId);
        let environment_id = self.environment_id.map(EnvironmentId);
        if component_id.is_none() {
            errors.add("componentId", "is required");
        }
        if environment_id.is_none() {
            errors.add("environmentId", "is required");
        }
        let version = match self.version.as_deref() {
            Some(v) => errors.take(Version::parse(v)),
            None => {
                errors.add("version", "is required");
                None
            }
        };
        let deployed_by = match self.deployed_by {
            Some(by) if by.trim().is_empty() || by.chars().count() > MAX_DEPLOYED_BY_LEN => {
                errors.add("deployedBy", "must be 1 to 255 characters");
                None
            }
            Some(by) => Some(by),
            None => Some(author.to_string()),
        };
        let commit_sha = self.commit_sha.as_deref().map(CommitSha::parse).transpose();
        let commit_sha = errors.take(commit_sha).flatten();
        let digest = self
            .digest
            .as_deref()
            .map(|d| Digest::parse(d, "digest"))
            .transpose();
        let digest = errors.take(digest).flatten();
        let description = errors.take(parse_description(self.description)).flatten();
        let metadata = errors.take(parse_metadata(self.metadata));
        match (component_id, environment_id, version, deployed_by, metadata) {
            (
                Some(component_id),
                Some(environment_id),
                Some(version),
                Some(deployed_by),
                Some(metadata),
            ) if errors.is_empty() => Ok(NewDeployment {
                component_id,
                environment_id,
                release_id: self.release_id.map(ReleaseId),
                version,
                digest,
                commit_sha,
                deployed_by,
                description,
                metadata,
                committed_at: self.committed_at.map(crate::time::truncate),
            }),
            _ => Err(errors),
        }
    }
}

impl NewDeployment {
    /// The pending deployment this becomes.
    pub fn into_deployment(
        self,
        id: Uuid,
        tenant: TenantId,
        author: UserId,
        now: DateTime<Utc>,
    ) -> Deployment {
        let now = crate::time::truncate(now);
        Deployment {
            id: DeploymentId(id),
            tenant,
            component_id: self.component_id,
            environment_id: self.environment_id,
            release_id: self.release_id,
            version: self.version,
            digest: self.digest,
            commit_sha: self.commit_sha,
            deployed_by: self.deployed_by,
            created_by: author,
            description: self.description,
            metadata: self.metadata,
            status: DeploymentStatus::Pending,
            revision: 1,
            approval_round: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
            // A commit from the future (a skewed clock) would make a negative lead time.
            committed_at: self.committed_at.map(|at| at.min(now)),
        }
    }
}

/// A requested status change with what may change along with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransitionInput {
    /// The status to move to (required).
    pub status: Option<String>,
    /// Replaces the description.
    pub description: Option<String>,
    /// Merged shallowly into the stored metadata.
    pub metadata: Option<Map<String, Value>>,
    /// When the deployment finished, if the client knows better than the server's clock.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// Bad fields.
    Invalid(ValidationErrors),
    /// Not a move the state machine allows.
    NotAllowed(InvalidTransition),
}

/// One row of a deployment's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The status before (none when the deployment was recorded).
    pub from: Option<DeploymentStatus>,
    /// The status after.
    pub to: DeploymentStatus,
    /// Who made the change (none for the server itself, e.g. a timeout).
    pub actor: Option<UserId>,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, when known.
    pub reason: Option<String>,
}

impl Deployment {
    /// When it became what its environment runs: the finish of a succeeded deployment
    /// (`None` for any other status). The latest-deployment table and the matrix date an
    /// environment's deployment by it.
    #[must_use]
    pub fn succeeded_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
            .filter(|_| self.status == DeploymentStatus::Succeeded)
    }

    /// The deployment after moving to the requested status at `now`, and the history row to
    /// keep with it. `startedAt` is set on entering `in_progress`, `finishedAt` on entering
    /// `succeeded` or `failed` (the client's value when given, never in the future); a retry
    /// (`-> pending`) clears both. Gates are checked separately, see [`evaluate_gates`].
    ///
    /// # Errors
    /// [`TransitionError`] for bad fields or a move the state machine refuses.
    pub fn transition(
        &self,
        input: TransitionInput,
        actor: Option<UserId>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(Deployment, HistoryEntry), TransitionError> {
        let now = crate::time::truncate(now);
        let mut errors = ValidationErrors::new();
        let to = match input.status.as_deref() {
            Some(s) => errors.take(DeploymentStatus::parse_field(s, "status")),
            None => {
                errors.add("status", "is required");
                None
            }
        };
        let description = errors.take(parse_description(input.description)).flatten();
        let finished_at = match input.finished_at.map(crate::time::truncate) {
            Some(at) if at > now => {
                errors.add("finishedAt", "must not be in the future");
                None
            }
            Some(at) if at < self.created_at => {
                errors.add(
                    "finishedAt",
                    "must not be before the deployment was recorded",
                );
                None
            }
            other => other,
        };
        let mut metadata = self.metadata.clone();
        if let Some(extra) = input.metadata {
            metadata.extend(extra);
            if let Err(e) = parse_metadata(Some(metadata.clone())) {
                errors.add(e.field, e.message);
            }
        }
        let Some(to) = to.filter(|_| errors.is_empty()) else {
            return Err(TransitionError::Invalid(errors));
        };
        let to = self
            .status
            .transition(to)
            .map_err(TransitionError::NotAllowed)?;
        let mut next = self.clone();
        next.status = to;
        next.metadata = metadata;
        if description.is_some() {
            next.description = description;
        }
        match to {
            DeploymentStatus::InProgress => next.started_at = Some(now),
            DeploymentStatus::Succeeded | DeploymentStatus::Failed => {
                next.finished_at = Some(finished_at.unwrap_or(now))
            }
            DeploymentStatus::Pending => {
                next.started_at = None;
                next.finished_at = None;
                next.approval_round += 1;
            }
            DeploymentStatus::RolledBack => {}
        }
        next.revision += 1;
        next.updated_at = now;
        let entry = HistoryEntry {
            from: Some(self.status),
            to,
            actor,
            at: now,
            reason,
        };
        Ok((next, entry))
    }

    /// True when it has been `in_progress` for longer than `timeout_seconds` (its
    /// environment's deployment timeout) at `now`: the stuck-deployment sweep fails it.
    pub fn is_timed_out(&self, now: DateTime<Utc>, timeout_seconds: u32) -> bool {
        match (self.status, self.started_at) {
            (DeploymentStatus::InProgress, Some(started)) => {
                started + chrono::Duration::seconds(i64::from(timeout_seconds)) < now
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;
    use DeploymentStatus::*;

    #[test]
    fn the_state_machine_allows_exactly_the_specified_transitions() {
        let allowed = [
            (Pending, InProgress),
            (Pending, Failed),
            (InProgress, Succeeded),
            (InProgress, Failed),
            (Succeeded, RolledBack),
            (Failed, Pending),
            (RolledBack, Pending),
        ];
        for from in DeploymentStatus::ALL {
            for to in DeploymentStatus::ALL {
                let expected = allowed.contains(&(*from, *to));
                assert_eq!(from.transition(*to).is_ok(), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_refused_transition_names_the_current_status_and_the_allowed_ones() {
        let error = Pending.transition(Succeeded).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a deployment cannot move from `pending` to `succeeded`; from `pending` it can move to in_progress or failed"
        );
    }

    #[test]
    fn statuses_round_trip_their_wire_names() {
        for s in DeploymentStatus::ALL {
            assert_eq!(s.as_str().parse::<DeploymentStatus>().unwrap(), *s);
        }
        assert!("done".parse::<DeploymentStatus>().is_err());
        assert!(Succeeded.is_finished() && !InProgress.is_finished());
    }

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn deployment() -> Deployment {
        let input = DeploymentInput {
            component_id: Some(Uuid::from_u128(10)),
            environment_id: Some(Uuid::from_u128(20)),
            version: Some("v2.3.1".into()),
            metadata: Some(
                serde_json::from_str(r#"{"pipelineUrl": "https://ci/1", "n": 1}"#).unwrap(),
            ),
            ..Default::default()
        };
        let t0 = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 9, 10, 0, 0).unwrap();
        input.into_new(user(1)).unwrap().into_deployment(
            Uuid::from_u128(5),
            TenantId(Uuid::nil()),
            user(1),
            t0,
        )
    }

    fn to(status: &str) -> TransitionInput {
        TransitionInput {
            status: Some(status.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_commit_time_is_kept_to_the_microsecond_and_never_after_the_recording() {
        let t0 = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 9, 10, 0, 0).unwrap();
        let at = |committed| {
            DeploymentInput {
                component_id: Some(Uuid::from_u128(10)),
                environment_id: Some(Uuid::from_u128(20)),
                version: Some("v1".into()),
                committed_at: Some(committed),
                ..Default::default()
            }
            .into_new(user(1))
            .unwrap()
            .into_deployment(Uuid::from_u128(5), TenantId(Uuid::nil()), user(1), t0)
            .committed_at
        };
        let earlier = t0 - chrono::Duration::hours(3) + chrono::Duration::nanoseconds(1_500);
        assert_eq!(
            at(earlier),
            Some(t0 - chrono::Duration::hours(3) + chrono::Duration::microseconds(1))
        );
        assert_eq!(at(t0 + chrono::Duration::hours(1)), Some(t0));
    }

    #[test]
    fn a_new_deployment_is_pending_and_deployed_by_its_author_unless_named() {
        let d = deployment();
        assert_eq!(d.status, Pending);
        assert_eq!(d.deployed_by, user(1).to_string());
        assert_eq!((d.revision, d.started_at, d.finished_at), (1, None, None));
    }

    #[test]
    fn every_bad_deployment_field_is_named_at_once() {
        let input = DeploymentInput {
            version: Some("has space".into()),
            digest: Some("sha256:xyz".into()),
            commit_sha: Some("zz".into()),
            deployed_by: Some(" ".into()),
            ..Default::default()
        };
        let errors = input.into_new(user(1)).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "componentId",
                "environmentId",
                "version",
                "deployedBy",
                "commitSha",
                "digest"
            ]
        );
    }

    #[test]
    fn digests_are_sha256_with_64_lowercase_hex_digits() {
        assert!(Digest::parse(&format!("sha256:{}", "a1".repeat(32)), "digest").is_ok());
        assert!(Digest::parse(&format!("sha256:{}", "A1".repeat(32)), "digest").is_err());
        assert!(Digest::parse(&format!("sha512:{}", "a1".repeat(32)), "digest").is_err());
        assert!(Digest::parse("sha256:abc", "digest").is_err());
    }

    #[test]
    fn transitions_stamp_start_and_finish_times_and_keep_history() {
        let d = deployment();
        let t1 = d.created_at + chrono::Duration::seconds(10);
        let (running, entry) = d
            .transition(to("in_progress"), Some(user(2)), None, t1)
            .unwrap();
        assert_eq!(
            (running.status, running.started_at, running.revision),
            (InProgress, Some(t1), 2)
        );
        assert_eq!(
            entry,
            HistoryEntry {
                from: Some(Pending),
                to: InProgress,
                actor: Some(user(2)),
                at: t1,
                reason: None
            }
        );
        let t2 = t1 + chrono::Duration::seconds(10);
        let (done, _) = running
            .transition(to("succeeded"), Some(user(2)), None, t2)
            .unwrap();
        assert_eq!(done.finished_at, Some(t2));
        let (undone, _) = done
            .transition(to("rolled_back"), Some(user(2)), None, t2)
            .unwrap();
        assert_eq!(
            (
                running.succeeded_at(),
                done.succeeded_at(),
                undone.succeeded_at()
            ),
            (None, Some(t2), None),
            "only a succeeded deployment has succeeded, whatever times it keeps"
        );
        assert_eq!(undone.finished_at, Some(t2));
        let (retry, _) = undone
            .transition(to("pending"), Some(user(2)), None, t2)
            .unwrap();
        assert_eq!((retry.started_at, retry.finished_at), (None, None));
        assert_eq!((d.approval_round, done.approval_round), (0, 0));
        assert_eq!(
            retry.approval_round, 1,
            "a retry starts a new approval round"
        );
    }

    #[test]
    fn finished_at_from_the_client_is_kept_but_never_in_the_future() {
        let d = deployment();
        let now = d.created_at + chrono::Duration::minutes(5);
        let (running, _) = d.transition(to("in_progress"), None, None, now).unwrap();
        let earlier = now - chrono::Duration::minutes(1);
        let input = TransitionInput {
            finished_at: Some(earlier),
            ..to("failed")
        };
        assert_eq!(
            running
                .transition(input, None, None, now)
                .unwrap()
                .0
                .finished_at,
            Some(earlier)
        );
        let future = TransitionInput {
            finished_at: Some(now + chrono::Duration::minutes(1)),
            ..to("failed")
        };
        match running.transition(future, None, None, now) {
            Err(TransitionError::Invalid(e)) => assert_eq!(e.errors()[0].field, "finishedAt"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn metadata_merges_shallowly_and_description_replaces() {
        let d = deployment();
        let input = TransitionInput {
            description: Some("went fine".into()),
            metadata: Some(serde_json::from_str(r#"{"n": 2, "ticket": "OPS-1"}"#).unwrap()),
            ..to("in_progress")
        };
        let (next, _) = d.transition(input, None, None, d.created_at).unwrap();
        assert_eq!(
            Value::Object(next.metadata),
            serde_json::json!({"pipelineUrl": "https://ci/1", "n": 2, "ticket": "OPS-1"})
        );
        assert_eq!(next.description.as_deref(), Some("went fine"));
    }

    #[test]
    fn a_refused_transition_changes_nothing_and_says_why() {
        let d = deployment();
        match d.transition(to("succeeded"), None, None, d.created_at) {
            Err(TransitionError::NotAllowed(e)) => assert_eq!((e.from, e.to), (Pending, Succeeded)),
            other => panic!("{other:?}"),
        }
        match d.transition(to("done"), None, None, d.created_at) {
            Err(TransitionError::Invalid(e)) => assert_eq!(e.errors()[0].field, "status"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_deployment_in_progress_past_its_timeout_is_timed_out() {
        let pending = deployment();
        let t0 = pending.created_at;
        let later = t0 + chrono::Duration::seconds(601);
        assert!(!pending.is_timed_out(later, 600), "pending never times out");
        let (running, _) = pending
            .transition(to("in_progress"), None, None, t0)
            .unwrap();
        assert!(!running.is_timed_out(t0 + chrono::Duration::seconds(600), 600));
        assert!(running.is_timed_out(later, 600));
        let (done, _) = running.transition(to("succeeded"), None, None, t0).unwrap();
        assert!(
            !done.is_timed_out(later, 600),
            "a finished one is not stuck"
        );
    }
}
