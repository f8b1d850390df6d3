use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::deployment::evaluate_gates;
use terrane_domain::{
    Actor, Deployment, DeploymentInput, DeploymentStatus, Environment, FreezePolicy, GateResult,
    HistoryEntry, Permission, PromotionEvidence, PromotionPolicy, TransitionError, TransitionInput,
    ValidationErrors,
};
use terrane_ports::{
    Approval, Clock, DeploymentQuery, DeploymentRepository, DeploymentService,
    EnvironmentRepository, FreezeWindowRepository, IdSource, ServiceError, StoreError, TimedOut,
};
use uuid::Uuid;

const WHAT: &str = "deployment";

/// The deployment ledger use cases.
pub struct Deployments {
    repo: Arc<dyn DeploymentRepository>,
    environments: Arc<dyn EnvironmentRepository>,
    freeze_windows: Arc<dyn FreezeWindowRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Deployments {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn DeploymentRepository>,
        environments: Arc<dyn EnvironmentRepository>,
        freeze_windows: Arc<dyn FreezeWindowRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            repo,
            environments,
            freeze_windows,
            clock,
            ids,
        }
    }

    /// The gates as they stand for `actor` starting `deployment` now.
    async fn evaluate(
        &self,
        actor: &Actor,
        deployment: &Deployment,
    ) -> Result<Vec<GateResult>, ServiceError> {
        let now = self.clock.now();
        let environment = self.environment_of(deployment).await?;
        let windows = self
            .freeze_windows
            .list(actor.tenant, environment.id, Some(true), now)
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))?;
        // Each of these is a query; skip those the environment's rules make moot, since
        // every start of a deployment runs them.
        let approvers: Vec<_> = if environment.required_approvals > 0 {
            self.repo
                .approvals(actor.tenant, deployment.id)
                .await
                .map_err(store_error)?
                .into_iter()
                .filter(|a| a.round == deployment.approval_round)
                .map(|a| a.approver)
                .collect()
        } else {
            Vec::new()
        };
        let promotion = match environment.promotion_policy {
            PromotionPolicy::Sequential => self
                .repo
                .promotion_evidence(
                    actor.tenant,
                    environment.clone(),
                    deployment.component_id,
                    deployment.version.as_str().to_owned(),
                )
                .await
                .map_err(store_error)?,
            PromotionPolicy::Default => PromotionEvidence::FirstEnvironment,
        };
        Ok(evaluate_gates(
            now,
            actor.user,
            deployment,
            &environment,
            &FreezePolicy::new(&windows),
            &approvers,
            &promotion,
        ))
    }

    async fn environment_of(&self, deployment: &Deployment) -> Result<Environment, ServiceError> {
        self.environments
            .get(deployment.tenant, deployment.environment_id)
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))
    }
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
        let current = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
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
            .transition(input, Some(actor.user), None, self.clock.now())
            .map_err(|error| match error {
                TransitionError::Invalid(errors) => ServiceError::Validation(errors),
                TransitionError::NotAllowed(refused) => ServiceError::Validation(
                    ValidationErrors::single("status", refused.to_string()),
                ),
            })?;
        if current.status == DeploymentStatus::Pending
            && next.status == DeploymentStatus::InProgress
        {
            if let Some(refused) = self
                .evaluate(actor, &current)
                .await?
                .into_iter()
                .find(|gate| !gate.passed)
            {
                return Err(ServiceError::GateRefused {
                    gate: refused.gate,
                    detail: refused.reason,
                });
            }
        }
        let from = current.status;
        self.repo
            .transition(actor.tenant, current, next, entry)
            .await
            .map_err(|error| match error {
                StoreError::VersionMismatch { current } if expected_version.is_some() => {
                    ServiceError::PreconditionFailed(format!(
                        "the deployment changed while your request ran; its current ETag is \"{current}\""
                    ))
                }
                StoreError::VersionMismatch { .. } => ServiceError::Conflict(format!(
                    "the deployment left `{from}` while your request ran: another change won; read it again"
                )),
                other => store_error(other),
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
        let environment = self.environment_of(&deployment).await?;
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
        let deployment = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
        self.evaluate(actor, &deployment).await
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
    use terrane_domain::{Role, TenantId, UserId};
    use terrane_ports::{
        MockClock, MockDeploymentRepository, MockEnvironmentRepository, MockFreezeWindowRepository,
        MockIdSource,
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
            Arc::new(MockFreezeWindowRepository::new()),
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

    #[tokio::test]
    async fn losing_the_compare_and_set_is_a_409_or_with_if_match_a_412() {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_get().returning(|_, _| Ok(stored()));
        repo.expect_transition()
            .returning(|_, _, _, _| Err(StoreError::VersionMismatch { current: 2 }));
        let svc = service(repo);
        let who = actor(Role::Deployer);
        let id = Uuid::from_u128(3);
        let plain = svc.transition(&who, id, None, to("failed")).await;
        assert!(
            matches!(&plain, Err(ServiceError::Conflict(m)) if m.contains("`pending`")),
            "{plain:?}"
        );
        let guarded = svc.transition(&who, id, Some(1), to("failed")).await;
        assert!(
            matches!(&guarded, Err(ServiceError::PreconditionFailed(m)) if m.contains("\"2\"")),
            "{guarded:?}"
        );
    }

    #[tokio::test]
    async fn a_stale_if_match_or_the_current_status_is_refused_before_writing() {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_get().returning(|_, _| Ok(stored()));
        repo.expect_transition().never();
        let svc = service(repo);
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
