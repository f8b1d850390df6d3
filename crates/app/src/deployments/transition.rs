//! Moving a deployment through its state machine: load the deployment with its environment,
//! decide in the domain (the state machine, and on a start every gate), write the decision
//! as one compare-and-set on the versions it read; on a stale copy or a lost race, load
//! again.

use super::{store_error, Deployments, ATTEMPTS};
use chrono::{DateTime, Utc};
use terrane_domain::{
    first_refusal, Actor, Deployment, DeploymentId, DeploymentStatus, GateInputs, GateNeeds,
    PromotionEvidence, TransitionError, TransitionInput, UserId, ValidationErrors,
};
use terrane_ports::{
    Consistency, EnvironmentState, ServiceError, StoreError, Transition, TransitionContext,
};

impl Deployments {
    /// See `DeploymentService::transition`.
    pub(super) async fn move_deployment(
        &self,
        actor: &Actor,
        id: DeploymentId,
        expected_version: Option<i64>,
        input: TransitionInput,
    ) -> Result<Deployment, ServiceError> {
        let now = self.clock.now();
        let mut consistency = Consistency::Recent;
        let mut lost = 0;
        loop {
            let context = self
                .repo
                .load_for_transition(actor.tenant, id, now, consistency)
                .await
                .map_err(store_error)?;
            consistency = Consistency::Stored;
            let stored = context.stored && context.environment.stored;
            let transition = match self
                .decide(actor.user, expected_version, &input, now, &context)
                .await
            {
                Ok(transition) => transition,
                // A refusal is only given about what is stored.
                Err(_) if !stored => continue,
                Err(refused) => return Err(refused),
            };
            let next = transition.next.clone();
            match self.repo.save_transition(actor.tenant, transition).await {
                Ok(()) => return Ok(next),
                Err(StoreError::VersionMismatch { current }) => {
                    lost += usize::from(stored);
                    if lost == ATTEMPTS {
                        return Err(lost_race(expected_version, current));
                    }
                }
                Err(other) => return Err(store_error(other)),
            }
        }
    }

    /// The transition `actor` asked for, decided on `context`: the If-Match version, the
    /// state machine, and on leaving `pending` for `in_progress` every gate.
    async fn decide(
        &self,
        actor: UserId,
        expected_version: Option<i64>,
        input: &TransitionInput,
        now: DateTime<Utc>,
        context: &TransitionContext,
    ) -> Result<Transition, ServiceError> {
        let current = &context.deployment;
        if let Some(expected) = expected_version.filter(|v| *v != current.revision) {
            return Err(ServiceError::PreconditionFailed(format!(
                "the deployment has changed since you read it (you sent ETag \"{expected}\"); its current ETag is \"{}\"",
                current.revision
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
        let starts = current.status == DeploymentStatus::Pending
            && next.status == DeploymentStatus::InProgress;
        let environment_version = if starts {
            let inputs = self.gate_inputs(current, &context.environment).await?;
            if let Some(refused) = first_refusal(now, actor, current, &inputs) {
                return Err(ServiceError::GateRefused {
                    gate: refused.gate,
                    detail: refused.reason,
                });
            }
            Some(context.environment.environment.version)
        } else {
            None
        };
        Ok(Transition {
            current: current.clone(),
            next,
            entry,
            environment_version,
        })
    }

    /// The gate inputs of starting `deployment` in the environment of `state`: the
    /// approvals and the environments before it are read only when its gates look at them.
    pub(super) async fn gate_inputs(
        &self,
        deployment: &Deployment,
        state: &EnvironmentState,
    ) -> Result<GateInputs, ServiceError> {
        let environment = &state.environment;
        let needs = GateNeeds::of(environment);
        let approvers = if needs.approvals {
            self.repo
                .approvers(deployment.tenant, deployment.id, deployment.approval_round)
                .await
                .map_err(store_error)?
        } else {
            Vec::new()
        };
        let promotion = if needs.promotion {
            let earlier = self
                .repo
                .earlier_environments(
                    deployment.tenant,
                    environment.order_index,
                    deployment.component_id,
                    deployment.version.as_str().to_owned(),
                )
                .await
                .map_err(store_error)?;
            PromotionEvidence::from_earlier(environment, &earlier)
        } else {
            PromotionEvidence::FirstEnvironment
        };
        Ok(GateInputs {
            environment: environment.clone(),
            windows: state.windows.clone(),
            approvers,
            promotion,
        })
    }
}

/// What losing every compare-and-set means to the client: with If-Match, its ETag is stale.
fn lost_race(expected_version: Option<i64>, current: i64) -> ServiceError {
    match expected_version {
        Some(_) => ServiceError::PreconditionFailed(format!(
            "the deployment changed while your request ran; its current ETag is \"{current}\""
        )),
        None => ServiceError::Conflict(
            "another change to the deployment won while your request ran; read it again".into(),
        ),
    }
}
