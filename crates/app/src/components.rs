use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{Actor, Component, ComponentId, ComponentInput, Permission};
use terrane_ports::{
    Clock, ComponentQuery, ComponentRepository, ComponentService, IdSource, ServiceError,
    StoreError,
};

const WHAT: &str = "component";

/// The component catalog use cases.
pub struct Components {
    repo: Arc<dyn ComponentRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Components {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn ComponentRepository>,
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
impl ComponentService for Components {
    async fn create(
        &self,
        actor: &Actor,
        input: ComponentInput,
    ) -> Result<Component, ServiceError> {
        authorize(actor, Permission::Administer, "adding a component")?;
        let new = input.into_new()?;
        let id = ComponentId(self.ids.new_id());
        self.repo
            .create(actor.tenant, id, new, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn get(&self, actor: &Actor, id: ComponentId) -> Result<Component, ServiceError> {
        authorize(actor, Permission::Read, "reading the component catalog")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        query: ComponentQuery,
    ) -> Result<(Vec<Component>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading the component catalog")?;
        self.repo
            .list(actor.tenant, query.filter, query.page)
            .await
            .map_err(store_error)
    }

    async fn update(
        &self,
        actor: &Actor,
        id: ComponentId,
        expected_version: Option<i64>,
        input: ComponentInput,
    ) -> Result<Component, ServiceError> {
        authorize(actor, Permission::Administer, "changing a component")?;
        let changes = input.into_changes()?;
        if changes.is_empty() {
            // Nothing to write: answer the current state (still honouring If-Match), so an
            // empty PATCH neither bumps the version nor fails.
            let current = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
            return match expected_version {
                Some(v) if v != current.version => Err(store_error(StoreError::VersionMismatch {
                    current: current.version,
                })),
                _ => Ok(current),
            };
        }
        self.repo
            .update(
                actor.tenant,
                id,
                expected_version,
                changes,
                self.clock.now(),
            )
            .await
            .map_err(store_error)
    }

    async fn delete(
        &self,
        actor: &Actor,
        id: ComponentId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "removing a component")?;
        self.repo
            .delete(actor.tenant, id, expected_version)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{ComponentFilter, ComponentKind, Page, Role, TenantId};
    use terrane_ports::{MockClock, MockComponentRepository, MockIdSource};
    use uuid::Uuid;

    use crate::test_support::actor;

    fn service(repo: MockComponentRepository) -> Components {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Components::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn input(name: &str, kind: &str) -> ComponentInput {
        ComponentInput {
            name: Some(name.into()),
            kind: Some(kind.into()),
            ..Default::default()
        }
    }

    fn stored(tenant: TenantId, id: ComponentId) -> Component {
        input("api", "service").into_new().unwrap().into_component(
            id,
            tenant,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )
    }

    #[tokio::test]
    async fn only_admins_add_change_or_remove_components() {
        let mut repo = MockComponentRepository::new();
        repo.expect_create().never();
        repo.expect_update().never();
        repo.expect_delete().never();
        repo.expect_get().never();
        let svc = service(repo);
        let id = ComponentId(Uuid::from_u128(3));
        for role in [Role::Viewer, Role::Deployer] {
            let who = actor(role);
            let created = svc.create(&who, input("api", "service")).await;
            assert!(
                matches!(&created, Err(ServiceError::Forbidden(m)) if m.contains("`admin`")),
                "{created:?}"
            );
            assert!(matches!(
                svc.update(&who, id, None, input("web", "website")).await,
                Err(ServiceError::Forbidden(_))
            ));
            assert!(matches!(
                svc.update(&who, id, None, ComponentInput::default()).await,
                Err(ServiceError::Forbidden(_))
            ));
            assert!(matches!(
                svc.delete(&who, id, None).await,
                Err(ServiceError::Forbidden(_))
            ));
        }
    }

    #[tokio::test]
    async fn viewers_read_the_catalog_of_their_own_tenant() {
        let mut repo = MockComponentRepository::new();
        repo.expect_get()
            .withf(|tenant, _| *tenant == TenantId(Uuid::from_u128(7)))
            .returning(|tenant, id| Ok(stored(tenant, id)));
        repo.expect_list()
            .withf(|tenant, filter, page| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && filter.kind == Some(ComponentKind::Job)
                    && page.take() == 5
            })
            .returning(|_, _, _| Ok((vec![], 0)));
        let svc = service(repo);
        let viewer = actor(Role::Viewer);
        let id = ComponentId(Uuid::from_u128(3));
        assert_eq!(svc.get(&viewer, id).await.unwrap().id, id);
        let query = ComponentQuery {
            filter: ComponentFilter {
                kind: Some(ComponentKind::Job),
                ..Default::default()
            },
            page: Page::parse(None, Some(5)).unwrap(),
        };
        assert_eq!(svc.list(&viewer, query).await.unwrap(), (vec![], 0));
    }

    #[tokio::test]
    async fn an_actor_without_roles_reads_nothing() {
        let mut repo = MockComponentRepository::new();
        repo.expect_get().never();
        repo.expect_list().never();
        let nobody = Actor {
            roles: vec![],
            ..actor(Role::Viewer)
        };
        let svc = service(repo);
        assert!(matches!(
            svc.get(&nobody, ComponentId(Uuid::from_u128(3))).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            svc.list(&nobody, ComponentQuery::default()).await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn creating_stores_in_the_actors_tenant_with_a_fresh_id_and_the_clocks_time() {
        let mut repo = MockComponentRepository::new();
        repo.expect_create()
            .withf(|tenant, id, new, now| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *id == ComponentId(Uuid::from_u128(42))
                    && new.name.as_str() == "api"
                    && *now == Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
            })
            .returning(|tenant, id, new, now| Ok(new.into_component(id, tenant, now)));
        let component = service(repo)
            .create(&actor(Role::Admin), input("api", "service"))
            .await
            .unwrap();
        assert_eq!(component.id, ComponentId(Uuid::from_u128(42)));
    }

    #[tokio::test]
    async fn invalid_input_is_refused_before_the_store_is_asked() {
        let mut repo = MockComponentRepository::new();
        repo.expect_create().never();
        repo.expect_update().never();
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let error = svc
            .create(&admin, input("Not A Slug", "daemon"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors().len() == 2),
            "{error:?}"
        );
        let error = svc
            .update(
                &admin,
                ComponentId(Uuid::from_u128(3)),
                None,
                input("x", "gizmo"),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Validation(e) if e.errors()[0].field == "kind"));
    }

    #[tokio::test]
    async fn store_outcomes_become_the_errors_the_port_promises() {
        let mut repo = MockComponentRepository::new();
        repo.expect_create().returning(|_, _, _, _| {
            Err(StoreError::Conflict(
                "a component named `api` already exists".into(),
            ))
        });
        repo.expect_update()
            .returning(|_, _, _, _, _| Err(StoreError::VersionMismatch { current: 4 }));
        repo.expect_delete()
            .returning(|_, _, _| Err(StoreError::NotFound));
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let id = ComponentId(Uuid::from_u128(3));
        assert!(matches!(
            svc.create(&admin, input("api", "service")).await,
            Err(ServiceError::Conflict(m)) if m.contains("`api`")
        ));
        let stale = svc
            .update(&admin, id, Some(2), input("web", "website"))
            .await
            .unwrap_err();
        assert!(matches!(stale, ServiceError::PreconditionFailed(m) if m.contains("\"4\"")));
        assert_eq!(
            svc.delete(&admin, id, None).await.unwrap_err(),
            ServiceError::NotFound("component".into())
        );
    }

    #[tokio::test]
    async fn an_empty_update_writes_nothing_but_still_checks_the_version() {
        let mut repo = MockComponentRepository::new();
        repo.expect_update().never();
        repo.expect_get()
            .returning(|tenant, id| Ok(stored(tenant, id)));
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let id = ComponentId(Uuid::from_u128(3));
        let same = svc
            .update(&admin, id, Some(1), ComponentInput::default())
            .await
            .unwrap();
        assert_eq!(same.version, 1);
        assert!(matches!(
            svc.update(&admin, id, Some(9), ComponentInput::default())
                .await,
            Err(ServiceError::PreconditionFailed(_))
        ));
    }
}
