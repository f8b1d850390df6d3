//! Deployments: the ledger's state machine and the gates that guard leaving `pending`.

use crate::environment::{Environment, PromotionPolicy};
use crate::error::{FieldError, ValidationErrors};
use crate::freeze::FreezePolicy;
use crate::ids::{ComponentId, EnvironmentId, TenantId, UserId};
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

wire_enum!(
    /// The checks a deployment passes before it may start.
    GateKind, "gate" {
        /// No active freeze window, or the actor is one of its exceptions.
        Freeze => "freeze",
        /// Enough distinct approvals.
        Approvals => "approvals",
        /// The promotion order.
        Promotion => "promotion",
    }
);

/// The verdict of one gate, with a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateResult {
    /// Which gate.
    pub gate: GateKind,
    /// Whether it lets the deployment start.
    pub passed: bool,
    /// Why, and when refused, what would let it pass.
    pub reason: String,
}

impl GateResult {
    fn new(gate: GateKind, passed: bool, reason: String) -> Self {
        Self {
            gate,
            passed,
            reason,
        }
    }
}

/// The approvals gate: `required` distinct approvers; with separation of duties, the
/// deployment's author neither may approve nor counts.
pub fn approvals_gate(
    required: u8,
    separation_of_duties: bool,
    author: UserId,
    approvers: &[UserId],
) -> GateResult {
    let mut counted: Vec<UserId> = Vec::new();
    for approver in approvers {
        let barred = separation_of_duties && *approver == author;
        if !barred && !counted.contains(approver) {
            counted.push(*approver);
        }
    }
    let have = counted.len();
    let need = usize::from(required);
    let passed = have >= need;
    let reason = match (need, passed) {
        (0, _) => "the environment requires no approvals".to_owned(),
        (_, true) => format!("{have} of {need} required approvals"),
        (_, false) if separation_of_duties => format!(
            "{have} of {need} required approvals: {} more from someone other than the author",
            need - have
        ),
        (_, false) => format!(
            "{have} of {need} required approvals: {} more needed",
            need - have
        ),
    };
    GateResult::new(GateKind::Approvals, passed, reason)
}

/// What the ledger says about the environment a version must pass through first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionEvidence {
    /// There is no active environment ordered before the target.
    FirstEnvironment,
    /// The nearest active environment ordered before the target, and whether the same
    /// component and version succeeded there.
    Previous {
        /// Its name, for the reason.
        environment: String,
        /// Whether the version succeeded there.
        succeeded: bool,
    },
}

/// The promotion gate: with a `sequential` policy, the version must have succeeded in the
/// nearest lower-ordered active environment.
pub fn promotion_gate(
    policy: PromotionPolicy,
    version: &str,
    evidence: &PromotionEvidence,
) -> GateResult {
    let (passed, reason) = match (policy, evidence) {
        (PromotionPolicy::Default, _) => (true, "the environment has no promotion order".to_owned()),
        (PromotionPolicy::Sequential, PromotionEvidence::FirstEnvironment) => {
            (true, "no active environment comes before this one".to_owned())
        }
        (PromotionPolicy::Sequential, PromotionEvidence::Previous { environment, succeeded: true }) => {
            (true, format!("{version} succeeded in `{environment}`"))
        }
        (PromotionPolicy::Sequential, PromotionEvidence::Previous { environment, succeeded: false }) => (
            false,
            format!("{version} must succeed in `{environment}` first: the environment promotes sequentially"),
        ),
    };
    GateResult::new(GateKind::Promotion, passed, reason)
}

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
    pub id: Uuid,
    /// The organization.
    pub tenant: TenantId,
    /// What is deployed.
    pub component_id: ComponentId,
    /// Where.
    pub environment_id: EnvironmentId,
    /// The release it belongs to, if any.
    pub release_id: Option<Uuid>,
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
    pub version_number: i64,
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
}

/// A validated deployment to record; it starts `pending`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    /// What.
    pub component_id: ComponentId,
    /// Where.
    pub environment_id: EnvironmentId,
    /// Which release, if any.
    pub release_id: Option<Uuid>,
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
                release_id: self.release_id,
                version,
                digest,
                commit_sha,
                deployed_by,
                description,
                metadata,
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
            id,
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
            version_number: 1,
            approval_round: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
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
        next.version_number += 1;
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
}

/// Every gate a deployment must pass to leave `pending` for `in_progress`, evaluated without
/// side effects: the answer to "can I deploy now, and if not, why".
pub fn evaluate_gates(
    now: DateTime<Utc>,
    actor: UserId,
    deployment: &Deployment,
    environment: &Environment,
    freeze: &FreezePolicy<'_>,
    approvers: &[UserId],
    promotion: &PromotionEvidence,
) -> Vec<GateResult> {
    let freeze = match freeze.may_deploy(now, actor) {
        Ok(()) if freeze.is_frozen(now) => GateResult::new(
            GateKind::Freeze,
            true,
            "the environment is frozen, but you are one of its exceptions".into(),
        ),
        Ok(()) => GateResult::new(GateKind::Freeze, true, "no freeze window is active".into()),
        Err(frozen) => GateResult::new(GateKind::Freeze, false, frozen.to_string()),
    };
    vec![
        freeze,
        approvals_gate(
            environment.required_approvals,
            environment.require_separation_of_duties,
            deployment.created_by,
            approvers,
        ),
        promotion_gate(
            environment.promotion_policy,
            deployment.version.as_str(),
            promotion,
        ),
    ]
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

    #[test]
    fn approvals_count_distinct_people() {
        let gate = approvals_gate(2, false, user(1), &[user(2), user(2)]);
        assert!(!gate.passed);
        assert_eq!(gate.reason, "1 of 2 required approvals: 1 more needed");
        assert!(approvals_gate(2, false, user(1), &[user(2), user(3)]).passed);
    }

    #[test]
    fn with_separation_of_duties_the_author_does_not_count() {
        let gate = approvals_gate(1, true, user(1), &[user(1)]);
        assert!(!gate.passed);
        assert!(
            gate.reason.contains("other than the author"),
            "{}",
            gate.reason
        );
        assert!(
            approvals_gate(1, false, user(1), &[user(1)]).passed,
            "without it, the author counts"
        );
        assert!(approvals_gate(1, true, user(1), &[user(1), user(2)]).passed);
    }

    #[test]
    fn no_required_approvals_always_passes() {
        assert!(approvals_gate(0, true, user(1), &[]).passed);
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
    fn a_new_deployment_is_pending_and_deployed_by_its_author_unless_named() {
        let d = deployment();
        assert_eq!(d.status, Pending);
        assert_eq!(d.deployed_by, user(1).to_string());
        assert_eq!(
            (d.version_number, d.started_at, d.finished_at),
            (1, None, None)
        );
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
            (running.status, running.started_at, running.version_number),
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
    fn gates_report_freeze_approvals_and_promotion_with_reasons() {
        use crate::environment::EnvironmentInput;
        use crate::freeze::FreezeWindow;
        use crate::ids::FreezeWindowId;
        let d = deployment();
        let env = EnvironmentInput {
            name: Some("production".into()),
            required_approvals: Some(1),
            require_separation_of_duties: Some(true),
            promotion_policy: Some("sequential".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            d.environment_id,
            crate::EnvironmentNumber(2),
            d.tenant,
            2,
            d.created_at,
        );
        let now = d.created_at + chrono::Duration::hours(1);
        let window = FreezeWindow {
            id: FreezeWindowId(Uuid::from_u128(77)),
            tenant: d.tenant,
            environment_id: d.environment_id,
            start: now - chrono::Duration::hours(1),
            end: now + chrono::Duration::hours(1),
            reason: "Holiday freeze".into(),
            exceptions: vec![user(9)],
            created_by: user(3),
            created_at: now,
        };
        let windows = [window];
        let policy = FreezePolicy::new(&windows);
        let staging = PromotionEvidence::Previous {
            environment: "staging".into(),
            succeeded: false,
        };
        let gates = evaluate_gates(now, user(2), &d, &env, &policy, &[user(1)], &staging);
        let verdicts: Vec<_> = gates.iter().map(|g| (g.gate, g.passed)).collect();
        assert_eq!(
            verdicts,
            [
                (GateKind::Freeze, false),
                (GateKind::Approvals, false),
                (GateKind::Promotion, false)
            ]
        );
        assert!(
            gates[0].reason.contains("Holiday freeze"),
            "{}",
            gates[0].reason
        );
        let exempt = evaluate_gates(
            now,
            user(9),
            &d,
            &env,
            &policy,
            &[user(2)],
            &PromotionEvidence::FirstEnvironment,
        );
        assert!(exempt.iter().all(|g| g.passed), "{exempt:?}");
        assert!(exempt[0].reason.contains("exceptions"));
    }

    #[test]
    fn sequential_promotion_needs_success_in_the_previous_environment() {
        let missing = PromotionEvidence::Previous {
            environment: "staging".into(),
            succeeded: false,
        };
        let gate = promotion_gate(PromotionPolicy::Sequential, "v2", &missing);
        assert!(!gate.passed);
        assert_eq!(
            gate.reason,
            "v2 must succeed in `staging` first: the environment promotes sequentially"
        );
        let done = PromotionEvidence::Previous {
            environment: "staging".into(),
            succeeded: true,
        };
        assert!(promotion_gate(PromotionPolicy::Sequential, "v2", &done).passed);
        assert!(
            promotion_gate(
                PromotionPolicy::Sequential,
                "v2",
                &PromotionEvidence::FirstEnvironment
            )
            .passed
        );
        assert!(
            promotion_gate(PromotionPolicy::Default, "v2", &missing).passed,
            "the default policy has no order"
        );
    }
}
