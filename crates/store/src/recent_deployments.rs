//! A decorator over the `DeploymentRepository` port that keeps, in this process, the
//! deployments it last wrote and the environment states it last read, and answers
//! [`Consistency::Recent`] reads from them. That saves the read before most writes: a
//! deployment's life is then one round trip per request. Nothing kept here is ever trusted:
//! every write decided on a copy is a compare-and-set on the versions the decision read, a
//! copy that turns out stale writes nothing and is dropped, and the use case reads again with
//! [`Consistency::Stored`] (which always goes to the database).
//!
//! Turned off with `--recent-copies false` (the server then uses the repository as it is).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use terrane_domain::{
    ComponentId, Deployment, Earlier, EnvironmentId, HistoryEntry, Page, TenantId, UserId,
};
use terrane_ports::{
    Approval, Consistency, DeploymentFilter, DeploymentRepository, EnvironmentState, InProgress,
    StoreError, Transition, TransitionContext,
};
use uuid::Uuid;

/// Most copies kept of one kind. When full, the map starts over: the rows that matter are the
/// ones moving now, and they are written or read again soon.
const MOST: usize = 4096;

/// Copies of rows by tenant and id, as this process last wrote or read them.
#[derive(Debug)]
struct Recent<T> {
    copies: Mutex<HashMap<(TenantId, Uuid), T>>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            copies: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Recent<T> {
    /// The copy of the tenant's row `id`, if this process saw it lately.
    fn get(&self, tenant: TenantId, id: Uuid) -> Option<T> {
        self.lock().get(&(tenant, id)).cloned()
    }

    /// Keeps `row` as just written or read.
    fn put(&self, tenant: TenantId, id: Uuid, row: &T) {
        let key = (tenant, id);
        let mut copies = self.lock();
        if copies.len() >= MOST && !copies.contains_key(&key) {
            copies.clear();
        }
        copies.insert(key, row.clone());
    }

    /// Forgets the copy of the tenant's row `id`.
    fn remove(&self, tenant: TenantId, id: Uuid) {
        self.lock().remove(&(tenant, id));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(TenantId, Uuid), T>> {
        // A panic while holding the lock leaves at worst a stale copy, which is never trusted.
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`DeploymentRepository`] over `inner`, answering [`Consistency::Recent`] reads from the
/// copies this process keeps.
pub struct RecentDeployments {
    inner: Arc<dyn DeploymentRepository>,
    deployments: Recent<Deployment>,
    environments: Recent<EnvironmentState>,
}

impl RecentDeployments {
    /// Keeps copies of what passes through `inner`.
    pub fn new(inner: Arc<dyn DeploymentRepository>) -> Self {
        RecentDeployments {
            inner,
            deployments: Recent::default(),
            environments: Recent::default(),
        }
    }

    fn keep_environment(&self, tenant: TenantId, state: &EnvironmentState) {
        self.environments
            .put(tenant, state.environment.id.0, &copy_of(state.clone()));
    }
}

/// `state`, marked as a copy.
fn copy_of(mut state: EnvironmentState) -> EnvironmentState {
    state.stored = false;
    state
}

#[async_trait]
impl DeploymentRepository for RecentDeployments {
    async fn create(
        &self,
        tenant: TenantId,
        deployments: Vec<Deployment>,
        environment_version: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        let environment = deployments.first().map(|d| d.environment_id.0);
        let created = self
            .inner
            .create(tenant, deployments, environment_version)
            .await;
        match &created {
            Ok(created) => {
                for d in created {
                    self.deployments.put(tenant, d.id, d);
                }
            }
            Err(_) => {
                if let Some(environment) = environment {
                    self.environments.remove(tenant, environment);
                }
            }
        }
        created
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Deployment, StoreError> {
        self.inner.get(tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: DeploymentFilter,
        page: Page,
    ) -> Result<(Vec<Deployment>, u64), StoreError> {
        self.inner.list(tenant, filter, page).await
    }

    async fn environment_state(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        now: DateTime<Utc>,
        consistency: Consistency,
    ) -> Result<EnvironmentState, StoreError> {
        if consistency == Consistency::Recent {
            if let Some(copy) = self.environments.get(tenant, id.0) {
                return Ok(copy);
            }
        }
        let state = self
            .inner
            .environment_state(tenant, id, now, Consistency::Stored)
            .await?;
        self.keep_environment(tenant, &state);
        Ok(state)
    }

    async fn load_for_transition(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        consistency: Consistency,
    ) -> Result<TransitionContext, StoreError> {
        if consistency == Consistency::Recent {
            let deployment = self.deployments.get(tenant, id);
            let environment = deployment
                .as_ref()
                .and_then(|d| self.environments.get(tenant, d.environment_id.0));
            if let (Some(deployment), Some(environment)) = (deployment, environment) {
                return Ok(TransitionContext {
                    deployment,
                    environment,
                    stored: false,
                });
            }
        }
        let context = self
            .inner
            .load_for_transition(tenant, id, now, Consistency::Stored)
            .await?;
        self.deployments.put(tenant, id, &context.deployment);
        self.keep_environment(tenant, &context.environment);
        Ok(context)
    }

    async fn approvers(
        &self,
        tenant: TenantId,
        id: Uuid,
        round: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        self.inner.approvers(tenant, id, round).await
    }

    async fn earlier_environments(
        &self,
        tenant: TenantId,
        order_index: i32,
        component: ComponentId,
        version: String,
    ) -> Result<Vec<Earlier>, StoreError> {
        self.inner
            .earlier_environments(tenant, order_index, component, version)
            .await
    }

    async fn save_transition(
        &self,
        tenant: TenantId,
        transition: Transition,
    ) -> Result<(), StoreError> {
        let id = transition.current.id;
        let environment = transition.current.environment_id.0;
        let next = transition.next.clone();
        let saved = self.inner.save_transition(tenant, transition).await;
        match saved {
            Ok(()) => self.deployments.put(tenant, id, &next),
            Err(_) => {
                // Whichever was stale, neither is asked again.
                self.deployments.remove(tenant, id);
                self.environments.remove(tenant, environment);
            }
        }
        saved
    }

    async fn in_progress(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<InProgress>, StoreError> {
        self.inner.in_progress(after, limit).await
    }

    async fn history(&self, tenant: TenantId, id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        self.inner.history(tenant, id).await
    }

    async fn approve(
        &self,
        tenant: TenantId,
        id: Uuid,
        approver: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Approval, StoreError> {
        self.inner.approve(tenant, id, approver, comment, now).await
    }

    async fn approvals(&self, tenant: TenantId, id: Uuid) -> Result<Vec<Approval>, StoreError> {
        self.inner.approvals(tenant, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_kept_per_tenant_and_bounded() {
        let recent = Recent::<u32>::default();
        let (a, b) = (TenantId(Uuid::now_v7()), TenantId(Uuid::now_v7()));
        let mine = Uuid::now_v7();
        recent.put(a, mine, &1);
        recent.put(a, mine, &2);
        assert_eq!(
            recent.get(a, mine),
            Some(2),
            "the last copy put is the one kept"
        );
        assert_eq!(recent.get(b, mine), None, "another tenant never sees it");
        for n in 0..MOST {
            recent.put(a, Uuid::now_v7(), &(n as u32));
        }
        assert!(recent.lock().len() <= MOST);
        assert_eq!(recent.get(a, mine), None, "the full map started over");
    }
}
