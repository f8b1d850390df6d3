//! The gates of starting a deployment (leaving `pending` for `in_progress`): what each one
//! looks at, and its verdict with a reason a person can act on. The use case loads the
//! [`GateInputs`] (asking only for what [`GateNeeds`] says), and the verdicts are decided
//! here, once, for both the transition and the "can I deploy now" view.

use crate::deployment::Deployment;
use crate::environment::{Environment, EnvironmentStatus, PromotionPolicy};
use crate::freeze::{FreezePolicy, FreezeWindow};
use crate::ids::UserId;
use chrono::{DateTime, Utc};

wire_enum!(
    /// The checks a deployment passes before it may start.
    GateKind, "gate" {
        /// No active freeze window, or the actor is one of its exceptions.
        Freeze => "freeze",
        /// Enough distinct approvals.
        Approvals => "approvals",
        /// The promotion order.
        Promotion => "promotion",
        /// The environment's lifecycle: it must be `ready` (not busy, broken or destroyed).
        Lifecycle => "lifecycle",
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

/// The lifecycle gate: a deployment goes only into a `ready` environment, not while a
/// workflow runs on it (`busy`), after one failed (`broken`), or once it is `destroyed`.
pub fn lifecycle_gate(status: EnvironmentStatus) -> GateResult {
    let (passed, reason) = match status {
        EnvironmentStatus::Ready => (true, "the environment is ready".to_owned()),
        EnvironmentStatus::Busy => (false, "the environment is busy: a workflow runs on it; wait until it is ready, or cancel the run".to_owned()),
        EnvironmentStatus::Broken => (false, "the environment is broken: a workflow failed on it; reset it (POST /api/v1/environments/{id}/actions/reset) once it is repaired".to_owned()),
        EnvironmentStatus::Destroyed => (false, "the environment is destroyed".to_owned()),
    };
    GateResult::new(GateKind::Lifecycle, passed, reason)
}

/// Everything the gates of starting one deployment look at, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct GateInputs {
    /// The deployment's environment.
    pub environment: Environment,
    /// The environment's freeze windows that had not ended when they were read; the freeze
    /// gate decides which of them are active at the moment asked about.
    pub windows: Vec<FreezeWindow>,
    /// Who approved the deployment in its current round (empty when the environment requires
    /// no approvals: see [`GateNeeds`]).
    pub approvers: Vec<UserId>,
    /// What the promotion gate needs ([`PromotionEvidence::FirstEnvironment`] when the
    /// environment's promotion policy is not sequential).
    pub promotion: PromotionEvidence,
}

/// What the gates of starting a deployment in an environment look at beyond the environment
/// and its freeze windows, which they always look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateNeeds {
    /// The approvals of the deployment's current round: the environment requires some.
    pub approvals: bool,
    /// The environments ordered before it: its promotion policy is sequential.
    pub promotion: bool,
}

impl GateNeeds {
    /// What the gates of `environment` look at beyond it.
    pub fn of(environment: &Environment) -> Self {
        GateNeeds {
            approvals: environment.required_approvals > 0,
            promotion: match environment.promotion_policy {
                PromotionPolicy::Sequential => true,
                PromotionPolicy::Default => false,
            },
        }
    }

    /// True when the gates look at nothing but the environment and its freeze windows.
    pub fn none(&self) -> bool {
        !self.approvals && !self.promotion
    }
}

/// An environment ordered before the one a deployment goes into, with whether the
/// deployment's component succeeded there at the deployment's version.
#[derive(Debug, Clone, PartialEq)]
pub struct Earlier {
    /// The environment.
    pub environment: Environment,
    /// Whether the same component and version succeeded there.
    pub succeeded: bool,
}

impl PromotionEvidence {
    /// The evidence for deploying into `environment`, from the environments ordered before
    /// it: the nearest one (highest order index, then first by name) that takes
    /// deployments, or [`PromotionEvidence::FirstEnvironment`] when none does.
    pub fn from_earlier(environment: &Environment, earlier: &[Earlier]) -> Self {
        earlier
            .iter()
            .filter(|e| {
                e.environment.id != environment.id
                    && e.environment.order_index < environment.order_index
                    && e.environment.takes_deployments().is_ok()
            })
            .min_by(|a, b| {
                b.environment
                    .order_index
                    .cmp(&a.environment.order_index)
                    .then_with(|| a.environment.name.as_str().cmp(b.environment.name.as_str()))
            })
            .map_or(PromotionEvidence::FirstEnvironment, |e| {
                PromotionEvidence::Previous {
                    environment: e.environment.name.as_str().to_owned(),
                    succeeded: e.succeeded,
                }
            })
    }
}

/// Every gate a deployment must pass to leave `pending` for `in_progress`, evaluated without
/// side effects at `now` for `actor`: the answer to "can I deploy now, and if not, why".
pub fn evaluate_gates(
    now: DateTime<Utc>,
    actor: UserId,
    deployment: &Deployment,
    inputs: &GateInputs,
) -> Vec<GateResult> {
    let environment = &inputs.environment;
    let freeze = FreezePolicy::new(&inputs.windows);
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
            &inputs.approvers,
        ),
        promotion_gate(
            environment.promotion_policy,
            deployment.version.as_str(),
            &inputs.promotion,
        ),
        lifecycle_gate(environment.status),
    ]
}

/// The first gate that refuses to let `deployment` start at `now` for `actor`, if any.
pub fn first_refusal(
    now: DateTime<Utc>,
    actor: UserId,
    deployment: &Deployment,
    inputs: &GateInputs,
) -> Option<GateResult> {
    evaluate_gates(now, actor, deployment, inputs)
        .into_iter()
        .find(|gate| !gate.passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::DeploymentInput;
    use crate::environment::EnvironmentInput;
    use crate::ids::{EnvironmentId, TenantId};
    use uuid::Uuid;

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn deployment() -> Deployment {
        DeploymentInput {
            component_id: Some(Uuid::from_u128(10)),
            environment_id: Some(Uuid::from_u128(20)),
            version: Some("v2.3.1".into()),
            ..Default::default()
        }
        .into_new(user(1))
        .unwrap()
        .into_deployment(
            Uuid::from_u128(3),
            TenantId(Uuid::from_u128(7)),
            user(1),
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 9, 10, 0, 0).unwrap(),
        )
    }

    fn environment(name: &str, order_index: i32, active: bool) -> Environment {
        EnvironmentInput {
            name: Some(name.into()),
            is_active: Some(active),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            EnvironmentId(Uuid::now_v7()),
            crate::EnvironmentNumber(1),
            TenantId(Uuid::from_u128(7)),
            order_index,
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 1, 0, 0, 0).unwrap(),
        )
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
            crate::EnvironmentNumber(1),
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
        let staging = PromotionEvidence::Previous {
            environment: "staging".into(),
            succeeded: false,
        };
        let mut inputs = GateInputs {
            environment: env,
            windows: vec![window],
            approvers: vec![user(1)],
            promotion: staging,
        };
        let gates = evaluate_gates(now, user(2), &d, &inputs);
        let verdicts: Vec<_> = gates.iter().map(|g| (g.gate, g.passed)).collect();
        assert_eq!(
            verdicts,
            [
                (GateKind::Freeze, false),
                (GateKind::Approvals, false),
                (GateKind::Promotion, false),
                (GateKind::Lifecycle, true)
            ]
        );
        assert!(
            gates[0].reason.contains("Holiday freeze"),
            "{}",
            gates[0].reason
        );
        inputs.approvers = vec![user(2)];
        inputs.promotion = PromotionEvidence::FirstEnvironment;
        let exempt = evaluate_gates(now, user(9), &d, &inputs);
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

    #[test]
    fn the_lifecycle_gate_lets_deployments_into_ready_environments_only() {
        for status in EnvironmentStatus::ALL {
            let gate = lifecycle_gate(*status);
            assert_eq!(gate.gate, GateKind::Lifecycle);
            assert_eq!(gate.passed, *status == EnvironmentStatus::Ready, "{status}");
            assert!(gate.reason.contains(status.as_str()), "{}", gate.reason);
        }
    }

    #[test]
    fn the_previous_environment_is_the_nearest_lower_ordered_one_that_takes_deployments() {
        let prod = environment("prod", 3, true);
        let earlier = |name: &str, order: i32, active: bool, succeeded: bool| Earlier {
            environment: environment(name, order, active),
            succeeded,
        };
        let ladder = [
            earlier("dev", 0, true, true),
            earlier("qa", 1, true, false),
            earlier("staging", 2, false, true),
            earlier("canary", 3, true, true),
            earlier("perf", 4, true, true),
        ];
        assert_eq!(
            PromotionEvidence::from_earlier(&prod, &ladder),
            PromotionEvidence::Previous {
                environment: "qa".into(),
                succeeded: false
            },
            "inactive staging is skipped; canary and perf are not before prod"
        );
        let tied = [
            earlier("b-qa", 1, true, true),
            earlier("a-qa", 1, true, false),
        ];
        assert_eq!(
            PromotionEvidence::from_earlier(&prod, &tied),
            PromotionEvidence::Previous {
                environment: "a-qa".into(),
                succeeded: false
            },
            "a tie goes to the first name"
        );
        let mut destroyed = earlier("old", 2, true, true);
        destroyed.environment.status = crate::environment::EnvironmentStatus::Destroyed;
        assert_eq!(
            PromotionEvidence::from_earlier(&prod, &[destroyed]),
            PromotionEvidence::FirstEnvironment
        );
        assert_eq!(
            PromotionEvidence::from_earlier(&prod, &[]),
            PromotionEvidence::FirstEnvironment
        );
    }

    #[test]
    fn the_gates_look_beyond_the_environment_only_for_approvals_or_sequential_promotion() {
        let mut env = environment("prod", 1, true);
        assert!(GateNeeds::of(&env).none());
        env.required_approvals = 1;
        assert_eq!(
            GateNeeds::of(&env),
            GateNeeds {
                approvals: true,
                promotion: false
            }
        );
        env.required_approvals = 0;
        env.promotion_policy = PromotionPolicy::Sequential;
        assert_eq!(
            GateNeeds::of(&env),
            GateNeeds {
                approvals: false,
                promotion: true
            }
        );
    }
}
