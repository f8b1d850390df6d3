//! Deployments: the ledger's state machine and the gates that guard leaving `pending`.

use crate::environment::PromotionPolicy;
use crate::ids::UserId;
use std::fmt;

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
