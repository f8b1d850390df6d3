//! The deployment ledger use cases. Each reads top to bottom: load what the decision needs
//! through the ports, decide in `terrane-domain`, write with a compare-and-set, and on a
//! stale copy or a lost race load again ([`record`], [`transition`], [`sweep`]).

use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{
    evaluate_gates, Actor, Deployment, DeploymentId, DeploymentInput, GateResult, HistoryEntry,
    Permission, ValidationErrors,
};
use terrane_ports::{
    Approval, Clock, Consistency, DeploymentQuery, DeploymentRepository, DeploymentService,
    IdSource, ServiceError, StoreError, TimedOut,
};

mod record;
mod sweep;
mod transition;

pub(crate) use record::record;

const WHAT: &str = "deployment";

/// How many compare-and-sets a write decided on what is stored may lose to concurrent
/// changes before the client is told to try again.
const ATTEMPTS: usize = 3;

/// The deployment ledger use cases.
pub struct Deployments {
    repo: Arc<dyn DeploymentRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Deployments {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn DeploymentRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self { repo, clock, ids }
    }
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
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
        let now = self.clock.now();
        let deployment = new.into_deployment(self.ids.new_id(), actor.tenant, actor.user, now);
        let environment = deployment.environment_id;
        record(
            self.repo.as_ref(),
            actor.tenant,
            environment,
            vec![deployment],
            now,
        )
        .await?
        .pop()
        .ok_or_else(|| ServiceError::Internal("the store recorded no deployment".into()))
    }

    async fn get(&self, actor: &Actor, id: DeploymentId) -> Result<Deployment, ServiceError> {
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
        id: DeploymentId,
        expected_version: Option<i64>,
        input: terrane_domain::TransitionInput,
    ) -> Result<Deployment, ServiceError> {
        authorize(actor, Permission::Deploy, "changing a deployment's status")?;
        self.move_deployment(actor, id, expected_version, input)
            .await
    }

    async fn history(
        &self,
        actor: &Actor,
        id: DeploymentId,
    ) -> Result<Vec<HistoryEntry>, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        self.repo
            .history(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn approve(
        &self,
        actor: &Actor,
        id: DeploymentId,
        comment: Option<String>,
    ) -> Result<Approval, ServiceError> {
        authorize(actor, Permission::Deploy, "approving a deployment")?;
        if comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
            return Err(
                ValidationErrors::single("comment", "must be at most 2000 characters").into(),
            );
        }
        let now = self.clock.now();
        let context = self
            .repo
            .load_for_transition(actor.tenant, id, now, Consistency::Stored)
            .await
            .map_err(store_error)?;
        let environment = &context.environment.environment;
        if environment.require_separation_of_duties && context.deployment.created_by == actor.user {
            return Err(ServiceError::Forbidden(format!(
                "the environment `{}` requires separation of duties: the author of a deployment cannot approve it",
                environment.name.as_str()
            )));
        }
        self.repo
            .approve(actor.tenant, id, actor.user, comment, now)
            .await
            .map_err(store_error)
    }

    async fn approvals(
        &self,
        actor: &Actor,
        id: DeploymentId,
    ) -> Result<Vec<Approval>, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        self.repo
            .approvals(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn gates(
        &self,
        actor: &Actor,
        id: DeploymentId,
    ) -> Result<Vec<GateResult>, ServiceError> {
        authorize(actor, Permission::Read, "reading deployments")?;
        let now = self.clock.now();
        let context = self
            .repo
            .load_for_transition(actor.tenant, id, now, Consistency::Stored)
            .await
            .map_err(store_error)?;
        let inputs = self
            .gate_inputs(&context.deployment, &context.environment)
            .await?;
        Ok(evaluate_gates(
            now,
            actor.user,
            &context.deployment,
            &inputs,
        ))
    }

    async fn sweep_timed_out(&self, limit: u32) -> Result<Vec<TimedOut>, ServiceError> {
        self.sweep(limit).await
    }
}

#[cfg(test)]
mod tests;
