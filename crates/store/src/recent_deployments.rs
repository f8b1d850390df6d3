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
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use terrane_domain::{
    ComponentId, Deployment, DeploymentId, Earlier, EnvironmentId, HistoryEntry, Page, TenantId,
    UserId,
};
use terrane_ports::{
    Approval, Consistency, DeploymentFilter, DeploymentRepository, EnvironmentState, InProgress,
    StoreError, Transition, TransitionContext,
};

/// Most copies kept of one kind. When full, the map starts over: the rows that matter are the
/// ones moving now, and they are written or read again soon.
const MOST: usize = 4096;

/// Copies of rows by tenant and id, as this process last wrote or read them.
#[derive(Debug)]
struct Recent<K, T> {
    copies: Mutex<HashMap<(TenantId, K), T>>,
}

impl<K, T> Default for Recent<K, T> {
    fn default() -> Self {
        Recent {
            copies: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Copy + Eq + Hash, T: Clone> Recent<K, T> {
    /// The copy of the tenant's row `id`, if this process saw it lately.
    fn get(&self, tenant: TenantId, id: K) -> Option<T> {
        self.lock().get(&(tenant, id)).cloned()
    }

    /// Keeps `row` as just written or read.
    fn put(&self, tenant: TenantId, id: K, row: &T) {
        let key = (tenant, id);
        let mut copies = self.lock();
        if copies.len() >= MOST && !copies.contains_key(&key) {
            copies.clear();
        }
        copies.insert(key, row.clone());
    }

    /// Forgets the copy of the tenant's row `id`.
    fn remove(&self, tenant: TenantId, id: K) {
        self.lock().remove(&(tenant, id));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(TenantId, K), T>> {
        // A panic while holding the lock leaves at worst a stale copy, which is never trusted.
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`DeploymentRepository`] over `inner`, answering [`Consistency::Recent`] reads from the
/// copies this process keeps.
pub struct RecentDeployments {
    inner: Arc<dyn DeploymentRepository>,
    deployments: Recent<DeploymentId, Deployment>,
    environments: Recent<EnvironmentId, EnvironmentState>,
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
            .put(tenant, state.environment.id, &copy_of(state.clone()));
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
        let environment = deployments.first().map(|d| d.environment_id);
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

    async fn get(&self, tenant: TenantId, id: DeploymentId) -> Result<Deployment, StoreError> {
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
            if let Some(copy) = self.environments.get(tenant, id) {
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
        id: DeploymentId,
        now: DateTime<Utc>,
        consistency: Consistency,
    ) -> Result<TransitionContext, StoreError> {
        if consistency == Consistency::Recent {
            let deployment = self.deployments.get(tenant, id);
            let environment = deployment
                .as_ref()
                .and_then(|d| self.environments.get(tenant, d.environment_id));
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
        id: DeploymentId,
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
        let environment = transition.current.environment_id;
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
        after: Option<DeploymentId>,
        limit: u32,
    ) -> Result<Vec<InProgress>, StoreError> {
        self.inner.in_progress(after, limit).await
    }

    async fn history(
        &self,
        tenant: TenantId,
        id: DeploymentId,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.inner.history(tenant, id).await
    }

    async fn approve(
        &self,
        tenant: TenantId,
        id: DeploymentId,
        approver: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Approval, StoreError> {
        self.inner.approve(tenant, id, approver, comment, now).await
    }

    async fn approvals(
        &self,
        tenant: TenantId,
        id: DeploymentId,
    ) -> Result<Vec<Approval>, StoreError> {
        self.inner.approvals(tenant, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn copies_are_kept_per_tenant_and_bounded() {
        let recent = Recent::<Uuid, u32>::default();
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

    use chrono::TimeZone;
    use terrane_domain::{DeploymentInput, EnvironmentInput, TransitionInput};
    use terrane_ports::MockDeploymentRepository;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 14, 0, 0).unwrap()
    }

    fn tenant() -> TenantId {
        TenantId(Uuid::from_u128(7))
    }

    fn state() -> EnvironmentState {
        let environment = EnvironmentInput {
            name: Some("dev".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            EnvironmentId(Uuid::from_u128(20)),
            terrane_domain::EnvironmentNumber(1),
            tenant(),
            0,
            at(),
        );
        EnvironmentState {
            environment,
            windows: Vec::new(),
            stored: true,
        }
    }

    fn deployment() -> Deployment {
        DeploymentInput {
            component_id: Some(Uuid::from_u128(10)),
            environment_id: Some(Uuid::from_u128(20)),
            version: Some("v1".into()),
            ..Default::default()
        }
        .into_new(UserId(Uuid::from_u128(1)))
        .unwrap()
        .into_deployment(
            Uuid::from_u128(3),
            tenant(),
            UserId(Uuid::from_u128(1)),
            at(),
        )
    }

    fn started() -> Transition {
        let current = deployment();
        let input = TransitionInput {
            status: Some("in_progress".into()),
            ..Default::default()
        };
        let (next, entry) = current.transition(input, None, None, at()).unwrap();
        Transition {
            current,
            next,
            entry,
            environment_version: Some(1),
        }
    }

    /// A repository that answers `times` stored reads of the deployment and its environment.
    fn stored_reads(times: usize) -> MockDeploymentRepository {
        let mut inner = MockDeploymentRepository::new();
        inner
            .expect_load_for_transition()
            .withf(|_, _, _, consistency| *consistency == Consistency::Stored)
            .times(times)
            .returning(|_, _, _, _| {
                Ok(TransitionContext {
                    deployment: deployment(),
                    environment: state(),
                    stored: true,
                })
            });
        inner
    }

    async fn load(recent: &RecentDeployments, consistency: Consistency) -> TransitionContext {
        recent
            .load_for_transition(
                tenant(),
                DeploymentId(Uuid::from_u128(3)),
                at(),
                consistency,
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn recent_reads_answer_from_what_a_stored_read_returned_and_say_so() {
        let recent = RecentDeployments::new(Arc::new(stored_reads(2)));
        let first = load(&recent, Consistency::Recent).await;
        assert!(first.stored, "nothing kept yet: read from the database");
        let copy = load(&recent, Consistency::Recent).await;
        assert_eq!(copy.deployment, first.deployment);
        assert_eq!(copy.environment.environment, first.environment.environment);
        assert!(!copy.stored && !copy.environment.stored, "marked as copies");
        let state = recent
            .environment_state(
                tenant(),
                EnvironmentId(Uuid::from_u128(20)),
                at(),
                Consistency::Recent,
            )
            .await
            .unwrap();
        assert!(!state.stored);
        assert!(
            load(&recent, Consistency::Stored).await.stored,
            "a stored read always asks the database"
        );
    }

    #[tokio::test]
    async fn a_saved_transition_is_the_next_copy_and_a_missed_one_drops_both_copies() {
        let mut inner = stored_reads(2);
        let mut saves = 0;
        inner
            .expect_save_transition()
            .times(2)
            .returning(move |_, _| {
                saves += 1;
                if saves == 1 {
                    Ok(())
                } else {
                    Err(StoreError::VersionMismatch { current: 9 })
                }
            });
        let recent = RecentDeployments::new(Arc::new(inner));
        load(&recent, Consistency::Stored).await;
        let transition = started();
        let next = transition.next.clone();
        recent.save_transition(tenant(), transition).await.unwrap();
        let copy = load(&recent, Consistency::Recent).await;
        assert_eq!(copy.deployment, next, "what was written is the copy");
        assert!(!copy.stored);
        assert_eq!(
            recent.save_transition(tenant(), started()).await,
            Err(StoreError::VersionMismatch { current: 9 })
        );
        assert!(
            load(&recent, Consistency::Recent).await.stored,
            "after a miss, nothing stale is handed out again"
        );
        assert!(
            recent
                .environments
                .get(tenant(), EnvironmentId(Uuid::from_u128(20)))
                .is_some(),
            "the read after the miss is kept"
        );
    }

    #[tokio::test]
    async fn recorded_deployments_are_kept_and_a_refused_record_drops_the_environment() {
        let mut inner = MockDeploymentRepository::new();
        inner
            .expect_environment_state()
            .times(2)
            .returning(|_, _, _, _| Ok(state()));
        let mut creates = 0;
        inner.expect_create().times(2).returning(move |_, list, _| {
            creates += 1;
            if creates == 1 {
                Ok(list)
            } else {
                Err(StoreError::VersionMismatch { current: 2 })
            }
        });
        let recent = RecentDeployments::new(Arc::new(inner));
        let env = EnvironmentId(Uuid::from_u128(20));
        recent
            .environment_state(tenant(), env, at(), Consistency::Recent)
            .await
            .unwrap();
        recent
            .create(tenant(), vec![deployment()], 1)
            .await
            .unwrap();
        assert_eq!(
            recent
                .deployments
                .get(tenant(), DeploymentId(Uuid::from_u128(3))),
            Some(deployment())
        );
        let copy = recent
            .environment_state(tenant(), env, at(), Consistency::Recent)
            .await
            .unwrap();
        assert!(!copy.stored, "the environment came from the copy");
        assert!(recent
            .create(tenant(), vec![deployment()], 1)
            .await
            .is_err());
        let read = recent
            .environment_state(tenant(), env, at(), Consistency::Recent)
            .await
            .unwrap();
        assert!(read.stored, "a refused record drops the environment's copy");
    }
}
