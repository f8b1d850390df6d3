use crate::authorize;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use terrane_domain::{
    Actor, EnvironmentId, FreezeWindow, FreezeWindowId, FreezeWindowInput, Permission,
};
use terrane_ports::{
    Clock, FreezeWindowRepository, FreezeWindowService, IdSource, ServiceError, StoreError,
};

/// The freeze window use cases.
pub struct FreezeWindows {
    repo: Arc<dyn FreezeWindowRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl FreezeWindows {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn FreezeWindowRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self { repo, clock, ids }
    }
}

/// For operations on an environment's windows as a whole, where a missing row is the
/// environment.
fn environment_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, "environment")
}

/// For operations on one window.
fn window_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, "freeze window")
}

#[async_trait]
impl FreezeWindowService for FreezeWindows {
    async fn create(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        input: FreezeWindowInput,
    ) -> Result<FreezeWindow, ServiceError> {
        authorize(actor, Permission::Administer, "freezing an environment")?;
        let new = input.into_new()?;
        let id = FreezeWindowId(self.ids.new_id());
        self.repo
            .create(
                actor.tenant,
                environment,
                id,
                new,
                actor.user,
                self.clock.now(),
            )
            .await
            .map_err(environment_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        active: Option<bool>,
    ) -> Result<Vec<FreezeWindow>, ServiceError> {
        authorize(actor, Permission::Read, "reading freeze windows")?;
        self.repo
            .list(actor.tenant, environment, active, self.clock.now())
            .await
            .map_err(environment_error)
    }

    async fn get(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<FreezeWindow, ServiceError> {
        authorize(actor, Permission::Read, "reading freeze windows")?;
        self.repo
            .get(actor.tenant, environment, id)
            .await
            .map_err(window_error)
    }

    async fn delete(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "removing a freeze window")?;
        self.repo
            .delete(actor.tenant, environment, id)
            .await
            .map_err(window_error)
    }

    async fn active_for(
        &self,
        actor: &Actor,
        environments: &[EnvironmentId],
    ) -> Result<HashMap<EnvironmentId, Vec<FreezeWindow>>, ServiceError> {
        authorize(actor, Permission::Read, "reading freeze windows")?;
        if environments.is_empty() {
            return Ok(HashMap::new());
        }
        self.repo
            .active_for(actor.tenant, environments.to_vec(), self.clock.now())
            .await
            .map_err(environment_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use terrane_domain::{Role, TenantId, UserId};
    use terrane_ports::{MockClock, MockFreezeWindowRepository, MockIdSource};
    use uuid::Uuid;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
    }

    use crate::test_support::actor;

    fn service(repo: MockFreezeWindowRepository) -> FreezeWindows {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        FreezeWindows::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn env() -> EnvironmentId {
        EnvironmentId(Uuid::from_u128(3))
    }

    fn input() -> FreezeWindowInput {
        FreezeWindowInput {
            start: Some("2026-01-15T00:00:00Z".into()),
            end: Some("2026-01-20T00:00:00Z".into()),
            reason: Some("Holiday freeze".into()),
            exceptions: Some(vec![Uuid::from_u128(9).to_string()]),
        }
    }

    #[tokio::test]
    async fn only_admins_create_or_delete_windows() {
        let mut repo = MockFreezeWindowRepository::new();
        repo.expect_create().never();
        repo.expect_delete().never();
        let svc = service(repo);
        for role in [Role::Viewer, Role::Deployer] {
            let who = actor(role);
            let created = svc.create(&who, env(), input()).await;
            assert!(
                matches!(&created, Err(ServiceError::Forbidden(m)) if m.contains("`admin`")),
                "{created:?}"
            );
            let window = FreezeWindowId(Uuid::from_u128(5));
            assert!(matches!(
                svc.delete(&who, env(), window).await,
                Err(ServiceError::Forbidden(_))
            ));
        }
    }

    #[tokio::test]
    async fn creating_records_the_actor_as_creator_in_their_tenant_at_the_clocks_time() {
        let mut repo = MockFreezeWindowRepository::new();
        repo.expect_create()
            .withf(|tenant, environment, id, new, created_by, at| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *environment == env()
                    && *id == FreezeWindowId(Uuid::from_u128(42))
                    && new.reason() == "Holiday freeze"
                    && new.exceptions() == [UserId(Uuid::from_u128(9))]
                    && *created_by == UserId(Uuid::from_u128(1))
                    && *at == now()
            })
            .returning(|tenant, environment, id, new, created_by, at| {
                Ok(new.into_window(id, tenant, environment, created_by, at))
            });
        let window = service(repo)
            .create(&actor(Role::Admin), env(), input())
            .await
            .unwrap();
        assert_eq!(window.created_by, UserId(Uuid::from_u128(1)));
    }

    #[tokio::test]
    async fn an_end_before_the_start_is_refused_before_the_store_is_asked() {
        let mut repo = MockFreezeWindowRepository::new();
        repo.expect_create().never();
        let backwards = FreezeWindowInput {
            end: Some("2026-01-14T00:00:00Z".into()),
            ..input()
        };
        let error = service(repo)
            .create(&actor(Role::Admin), env(), backwards)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Validation(e) if e.errors()[0].field == "end"));
    }

    #[tokio::test]
    async fn a_missing_environment_or_window_is_named_as_such() {
        let mut repo = MockFreezeWindowRepository::new();
        repo.expect_create()
            .returning(|_, _, _, _, _, _| Err(StoreError::NotFound));
        repo.expect_list()
            .returning(|_, _, _, _| Err(StoreError::NotFound));
        repo.expect_get()
            .returning(|_, _, _| Err(StoreError::NotFound));
        repo.expect_delete()
            .returning(|_, _, _| Err(StoreError::NotFound));
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let window = FreezeWindowId(Uuid::from_u128(5));
        let environment = ServiceError::NotFound("environment".into());
        let freeze_window = ServiceError::NotFound("freeze window".into());
        assert_eq!(
            svc.create(&admin, env(), input()).await.unwrap_err(),
            environment
        );
        assert_eq!(
            svc.list(&admin, env(), None).await.unwrap_err(),
            environment
        );
        assert_eq!(
            svc.get(&admin, env(), window).await.unwrap_err(),
            freeze_window
        );
        assert_eq!(
            svc.delete(&admin, env(), window).await.unwrap_err(),
            freeze_window
        );
    }

    #[tokio::test]
    async fn viewers_list_with_the_active_filter_at_the_clocks_time() {
        let mut repo = MockFreezeWindowRepository::new();
        repo.expect_list()
            .withf(|tenant, environment, active, at| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *environment == env()
                    && *active == Some(true)
                    && *at == now()
            })
            .returning(|_, _, _, _| Ok(vec![]));
        let windows = service(repo)
            .list(&actor(Role::Viewer), env(), Some(true))
            .await
            .unwrap();
        assert!(windows.is_empty());
    }

    #[tokio::test]
    async fn active_windows_load_for_a_whole_page_in_one_call_and_not_at_all_for_none() {
        let mut repo = MockFreezeWindowRepository::new();
        repo.expect_active_for()
            .times(1)
            .withf(|tenant, environments, at| {
                *tenant == TenantId(Uuid::from_u128(7)) && environments.len() == 3 && *at == now()
            })
            .returning(|_, _, _| Ok(HashMap::new()));
        let svc = service(repo);
        let viewer = actor(Role::Viewer);
        let page: Vec<EnvironmentId> = (1..=3).map(|n| EnvironmentId(Uuid::from_u128(n))).collect();
        assert!(svc.active_for(&viewer, &page).await.unwrap().is_empty());
        assert!(svc.active_for(&viewer, &[]).await.unwrap().is_empty());
        let nobody = Actor {
            roles: vec![],
            ..viewer
        };
        assert!(matches!(
            svc.active_for(&nobody, &page).await,
            Err(ServiceError::Forbidden(_))
        ));
    }
}
