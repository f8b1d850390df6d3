use crate::authorize;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use terrane_domain::deployment::evaluate_gates;
use terrane_domain::{
    Actor, Deployment, DeploymentInput, DeploymentStatus, FreezePolicy, GateResult, HistoryEntry,
    Permission, TransitionError, TransitionInput, UserId, ValidationErrors,
};
use terrane_ports::{
    Approval, Clock, Decide, DeploymentQuery, DeploymentRepository, DeploymentService,
    EnvironmentRepository, GateInputs, IdSource, ServiceError, StoreError, TimedOut,
    TransitionFailure,
};
use uuid::Uuid;

const WHAT: &str = "deployment";

/// The deployment ledger use cases.
pub struct Deployments {
    repo: Arc<dyn DeploymentRepository>,
    environments: Arc<dyn EnvironmentRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Deployments {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn DeploymentRepository>,
        environments: Arc<dyn EnvironmentRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            repo,
            environments,
            clock,
            ids,
        }
    }
}

/// Every gate of starting `deployment` at `now`, for `actor`.
fn gates(
    now: DateTime<Utc>,
    actor: UserId,
    deployment: &Deployment,
    inputs: &GateInputs,
) -> Vec<GateResult> {
    evaluate_gates(
        now,
        actor,
        deployment,
        &inputs.environment,
        &FreezePolicy::new(&inputs.active_windows),
        &inputs.approvers,
        &inputs.promotion,
    )
}

/// The decision of moving a deployment as `actor` asked, taken on the deployment as stored:
/// the If-Match revision, the state machine, and on leaving `pending` for `in_progress` every
/// gate.
fn decide(
    actor: UserId,
    expected_version: Option<i64>,
    input: TransitionInput,
    now: DateTime<Utc>,
) -> Decide {
    Box::new(move |current, source| {
        if let Some(expected) = expected_version.filter(|v| *v != current.version_number) {
            return Err(ServiceError::PreconditionFailed(format!(
                "the deployment has changed since you read it (you sent ETag \"{expected}\"); its current ETag is \"{}\"",
                current.version_number
            )));
        }
        // Asking for the status it already has is what the losers of a race do (they read
        // after the winner): a clash with the current state rather than a malformed request.
        if input.status.as_deref() == Some(current.status.as_str()) {
            return Err(ServiceError::Conflict(format!(
                "the deployment is already `{}`",
                current.status
            )));
        }
        let (next, entry) = current
            .transition(input.clone(), Some(actor), None, now)
            .map_err(|error| match error {
                TransitionError::Invalid(errors) => ServiceError::Validation(errors),
                TransitionError::NotAllowed(refused) => ServiceError::Validation(
                    ValidationErrors::single("status", refused.to_string()),
                ),
            })?;
        if current.status == DeploymentStatus::Pending
            && next.status == DeploymentStatus::InProgress
        {
            let inputs = source
                .gate_inputs()
                .map_err(|e| ServiceError::from_store(e, "environment"))?;
            if let Some(refused) = gates(now, actor, current, &inputs)
                .into_iter()
                .find(|gate| !gate.passed)
            {
                return Err(ServiceError::GateRefused {
                    gate: refused.gate,
                    detail: refused.reason,
                });
            }
        }
        Ok((next, entry))
    })
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

/// What a store error on recording deployments means: a missing reference is a 404 naming
/// the kind of thing that is missing.
pub(crate) fn create_error(error: StoreError) -> ServiceError {
    match error {
        StoreError::MissingReference(field) => match field.as_str() {
            "componentId" => ServiceError::NotFound("component".into()),
            "environmentId" => ServiceError::NotFound("environment".into()),
            "releaseId" => ServiceError::NotFound("release".into()),
            _ => ServiceError::from_store(StoreError::MissingReference(field), WHAT),
        },
        other => store_error(other),
    }
}

#[async_trait]
impl DeploymentService for Deployments {
    async fn create(
        &self,
        actor: &Actor,
        input: DeploymentInput,
    ) -> Result<Deployment, ServiceError> {
        authorize(actor, Permission::Deploy, "recording a deployment")?;
        let new = input.into_new(actor.user)?;
        let deployment = new.into_deployment(
            self.ids.new_id(),
            actor.tenant,
            actor.user,
            self.clock.now(),
        );
        let mut stored = self
            .repo
            .create(actor.tenant, vec![deployment])
            .await
            .map_err(create_error)?;
        stored
            .pop()
            .ok_or_else(|| ServiceError::Internal("the store recorded no deployment".into()))
    }

    async fn get(&self, actor: &Actor, id: Uuid) -> Result<Deployment, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        query: DeploymentQuery,
    ) -> Result<(Vec<Deployment>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        self.repo
            .list(actor.tenant, query.filter, query.page)
            .await
            .map_err(store_error)
    }

    async fn transition(
        &self,
        actor: &Actor,
        id: Uuid,
        expected_version: Option<i64>,
        input: TransitionInput,
    ) -> Result<Deployment, ServiceError> {
        authorize(actor, Permission::Deploy, "changing a deployment's status")?;
        let now = self.clock.now();
        let decide = decide(actor.user, expected_version, input, now);
        self.repo
            .transition(actor.tenant, id, now, decide)
            .await
            .map_err(|failure| match failure {
                TransitionFailure::Refused(error) => error,
                TransitionFailure::Store(StoreError::VersionMismatch { current })
                    if expected_version.is_some() =>
                {
                    ServiceError::PreconditionFailed(format!(
                        "the deployment changed while your request ran; its current ETag is \"{current}\""
                    ))
                }
                TransitionFailure::Store(StoreError::VersionMismatch { .. }) => {
                    ServiceError::Conflict(
                        "another change to the deployment won while your request ran; read it again"
                            .into(),
                    )
                }
                TransitionFailure::Store(other) => store_error(other),
            })
    }

    async fn history(&self, actor: &Actor, id: Uuid) -> Result<Vec<HistoryEntry>, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        self.repo
            .history(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn approve(
        &self,
        actor: &Actor,
        id: Uuid,
        comment: Option<String>,
    ) -> Result<Approval, ServiceError> {
        authorize(actor, Permission::Deploy, "approving a deployment")?;
        if comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
            return Err(
                ValidationErrors::single("comment", "must be at most 2000 characters").into(),
            );
        }
        let deployment = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
        let environment = self
            .environments
            .get(deployment.tenant, deployment.environment_id)
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))?;
        if environment.require_separation_of_duties && deployment.created_by == actor.user {
            return Err(ServiceError::Forbidden(format!(
                "the environment `{}` requires separation of duties: the author of a deployment cannot approve it",
                environment.name.as_str()
            )));
        }
        self.repo
            .approve(actor.tenant, id, actor.user, comment, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn approvals(&self, actor: &Actor, id: Uuid) -> Result<Vec<Approval>, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        self.repo
            .approvals(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn gates(&self, actor: &Actor, id: Uuid) -> Result<Vec<GateResult>, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        let now = self.clock.now();
        let (deployment, inputs) = self
            .repo
            .gate_inputs(actor.tenant, id, now)
            .await
            .map_err(store_error)?;
        Ok(gates(now, actor.user, &deployment, &inputs))
    }

    async fn sweep_timed_out(&self, limit: u32) -> Result<Vec<TimedOut>, ServiceError> {
        self.repo
            .fail_timed_out(self.clock.now(), limit)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{
        EnvironmentId, EnvironmentInput, GateKind, PromotionEvidence, Role, TenantId,
    };
    use terrane_ports::{
        GateSource, MockClock, MockDeploymentRepository, MockEnvironmentRepository, MockIdSource,
    };

    use crate::test_support::actor;

    fn service(repo: MockDeploymentRepository) -> Deployments {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Deployments::new(
            Arc::new(repo),
            Arc::new(MockEnvironmentRepository::new()),
            Arc::new(clock),
            Arc::new(ids),
        )
    }

    fn input() -> DeploymentInput {
        DeploymentInput {
            component_id: Some(Uuid::from_u128(10)),
            environment_id: Some(Uuid::from_u128(20)),
            version: Some("v1".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn viewers_neither_record_nor_move_nor_approve_deployments() {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_create().never();
        repo.expect_transition().never();
        repo.expect_approve().never();
        let svc = service(repo);
        let viewer = actor(Role::Viewer);
        let id = Uuid::from_u128(3);
        for result in [
            svc.create(&viewer, input()).await.map(|_| ()),
            svc.transition(&viewer, id, None, TransitionInput::default())
                .await
                .map(|_| ()),
            svc.approve(&viewer, id, None).await.map(|_| ()),
        ] {
            assert!(
                matches!(&result, Err(ServiceError::Forbidden(m)) if m.contains("`deployer`")),
                "{result:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_component_environment_or_release_is_a_not_found_naming_it() {
        for (field, what) in [
            ("componentId", "component"),
            ("environmentId", "environment"),
            ("releaseId", "release"),
        ] {
            let mut repo = MockDeploymentRepository::new();
            repo.expect_create()
                .returning(move |_, _| Err(StoreError::MissingReference(field.into())));
            let result = service(repo).create(&actor(Role::Deployer), input()).await;
            assert_eq!(result, Err(ServiceError::NotFound(what.into())));
        }
    }

    fn stored() -> Deployment {
        input()
            .into_new(UserId(Uuid::from_u128(1)))
            .unwrap()
            .into_deployment(
                Uuid::from_u128(3),
                TenantId(Uuid::from_u128(7)),
                UserId(Uuid::from_u128(1)),
                Utc.with_ymd_and_hms(2026, 1, 10, 14, 0, 0).unwrap(),
            )
    }

    fn to(status: &str) -> TransitionInput {
        TransitionInput {
            status: Some(status.into()),
            ..Default::default()
        }
    }

    /// Gate inputs handed to a decision; `None` fails the test if the decision asks.
    struct Inputs(Option<GateInputs>);

    impl GateSource for Inputs {
        fn gate_inputs(&mut self) -> Result<GateInputs, StoreError> {
            Ok(self
                .0
                .clone()
                .expect("this transition must not look at the gates"))
        }
    }

    /// A store whose transition runs the decision on `current` with `inputs`.
    fn deciding_on(current: Deployment, inputs: Option<GateInputs>) -> MockDeploymentRepository {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_transition().returning(move |_, _, _, decide| {
            match decide(&current, &mut Inputs(inputs.clone())) {
                Ok((next, _)) => Ok(next),
                Err(refused) => Err(TransitionFailure::Refused(refused)),
            }
        });
        repo
    }

    fn open_inputs(required_approvals: u8, approvers: Vec<UserId>) -> GateInputs {
        let mut environment = EnvironmentInput {
            name: Some("prod".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            EnvironmentId(Uuid::from_u128(20)),
            terrane_domain::EnvironmentNumber(1),
            TenantId(Uuid::from_u128(7)),
            0,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        );
        environment.required_approvals = required_approvals;
        GateInputs {
            environment,
            active_windows: Vec::new(),
            approvers,
            promotion: PromotionEvidence::FirstEnvironment,
        }
    }

    #[tokio::test]
    async fn losing_the_compare_and_set_is_a_409_or_with_if_match_a_412() {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_transition().returning(|_, _, _, _| {
            Err(TransitionFailure::Store(StoreError::VersionMismatch {
                current: 2,
            }))
        });
        let svc = service(repo);
        let who = actor(Role::Deployer);
        let id = Uuid::from_u128(3);
        let plain = svc.transition(&who, id, None, to("failed")).await;
        assert!(
            matches!(&plain, Err(ServiceError::Conflict(m)) if m.contains("another change")),
            "{plain:?}"
        );
        let guarded = svc.transition(&who, id, Some(1), to("failed")).await;
        assert!(
            matches!(&guarded, Err(ServiceError::PreconditionFailed(m)) if m.contains("\"2\"")),
            "{guarded:?}"
        );
    }

    #[tokio::test]
    async fn a_stale_if_match_or_the_current_status_is_refused_by_the_decision() {
        let svc = service(deciding_on(stored(), None));
        let who = actor(Role::Admin);
        let id = Uuid::from_u128(3);
        let stale = svc.transition(&who, id, Some(5), to("failed")).await;
        assert!(
            matches!(&stale, Err(ServiceError::PreconditionFailed(_))),
            "{stale:?}"
        );
        let same = svc.transition(&who, id, None, to("pending")).await;
        assert_eq!(
            same,
            Err(ServiceError::Conflict(
                "the deployment is already `pending`".into()
            ))
        );
        let refused = svc.transition(&who, id, None, to("succeeded")).await;
        assert!(
            matches!(&refused, Err(ServiceError::Validation(e)) if e.errors()[0].message.contains("from `pending` it can move to in_progress or failed")),
            "{refused:?}"
        );
        let current = stored().version_number;
        let failed = svc
            .transition(&who, id, Some(current), to("failed"))
            .await
            .unwrap();
        assert_eq!(failed.status, DeploymentStatus::Failed);
    }

    #[tokio::test]
    async fn starting_asks_the_gates_and_the_first_refusal_names_its_gate() {
        let who = actor(Role::Deployer);
        let id = Uuid::from_u128(3);
        let refused = service(deciding_on(stored(), Some(open_inputs(1, Vec::new()))))
            .transition(&who, id, None, to("in_progress"))
            .await;
        assert!(
            matches!(
                &refused,
                Err(ServiceError::GateRefused {
                    gate: GateKind::Approvals,
                    ..
                })
            ),
            "{refused:?}"
        );
        let approved = open_inputs(1, vec![UserId(Uuid::from_u128(8))]);
        let started = service(deciding_on(stored(), Some(approved)))
            .transition(&who, id, None, to("in_progress"))
            .await
            .unwrap();
        assert_eq!(started.status, DeploymentStatus::InProgress);
    }

    #[tokio::test]
    async fn other_moves_never_read_the_gates() {
        let (running, _) = stored()
            .transition(to("in_progress"), None, None, stored().created_at)
            .unwrap();
        let done = service(deciding_on(running, None))
            .transition(
                &actor(Role::Deployer),
                Uuid::from_u128(3),
                None,
                to("succeeded"),
            )
            .await
            .unwrap();
        assert_eq!(done.status, DeploymentStatus::Succeeded);
    }

    #[tokio::test]
    async fn the_gates_view_evaluates_what_one_read_returned() {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_gate_inputs()
            .withf(|tenant, id, _| {
                *tenant == TenantId(Uuid::from_u128(7)) && *id == Uuid::from_u128(3)
            })
            .returning(|_, _, _| Ok((stored(), open_inputs(2, vec![UserId(Uuid::from_u128(8))]))));
        let gates = service(repo)
            .gates(&actor(Role::Viewer), Uuid::from_u128(3))
            .await
            .unwrap();
        let approvals = gates
            .iter()
            .find(|g| g.gate == GateKind::Approvals)
            .unwrap();
        assert!(!approvals.passed, "{approvals:?}");
        assert!(gates
            .iter()
            .filter(|g| g.gate != GateKind::Approvals)
            .all(|g| g.passed));
    }

    #[tokio::test]
    async fn a_deployer_records_a_pending_deployment_authored_by_themselves() {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_create()
            .withf(|tenant, list| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && list.len() == 1
                    && list[0].status == DeploymentStatus::Pending
                    && list[0].created_by == UserId(Uuid::from_u128(1))
                    && list[0].id == Uuid::from_u128(42)
            })
            .returning(|_, list| Ok(list));
        let created = service(repo)
            .create(&actor(Role::Deployer), input())
            .await
            .unwrap();
        assert_eq!(created.deployed_by, Uuid::from_u128(1).to_string());
    }
}
