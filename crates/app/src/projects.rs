//! Project use cases.

use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{Actor, Page, Permission, Project, ProjectId, ProjectInput, ProjectNumber};
use terrane_ports::{Clock, IdSource, ProjectRepository, ProjectService, ServiceError, StoreError};

const WHAT: &str = "project";

/// The project use cases.
pub struct Projects {
    repo: Arc<dyn ProjectRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Projects {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn ProjectRepository>,
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
impl ProjectService for Projects {
    async fn create(
        &self,
        actor: &Actor,
        input: ProjectInput,
        creator: Option<String>,
    ) -> Result<Project, ServiceError> {
        authorize(actor, Permission::Administer, "adding a project")?;
        let new = input.into_new()?;
        let creator = creator
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| actor.user.to_string());
        let id = ProjectId(self.ids.new_id());
        self.repo
            .create(actor.tenant, id, new, creator, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn get(&self, actor: &Actor, id: ProjectId) -> Result<Project, ServiceError> {
        authorize(actor, Permission::Read, "reading projects")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn by_number(
        &self,
        actor: &Actor,
        number: ProjectNumber,
    ) -> Result<Project, ServiceError> {
        authorize(actor, Permission::Read, "reading projects")?;
        self.repo
            .by_number(actor.tenant, number)
            .await
            .map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        descending: bool,
        page: Page,
    ) -> Result<(Vec<Project>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading projects")?;
        self.repo
            .list(actor.tenant, descending, page)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::actor;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{Role, TenantId};
    use terrane_ports::{MockClock, MockIdSource, MockProjectRepository};
    use uuid::Uuid;

    fn service(repo: MockProjectRepository) -> Projects {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Projects::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn input(name: &str) -> ProjectInput {
        ProjectInput {
            name: Some(name.into()),
            description: None,
            project_manager: Some("ann".into()),
        }
    }

    #[tokio::test]
    async fn only_admins_add_projects_and_bad_input_never_reaches_the_store() {
        let mut repo = MockProjectRepository::new();
        repo.expect_create().never();
        let svc = service(repo);
        for role in [Role::Viewer, Role::Deployer] {
            assert!(matches!(
                svc.create(&actor(role), input("Shop"), None).await,
                Err(ServiceError::Forbidden(_))
            ));
        }
        assert!(matches!(
            svc.create(&actor(Role::Admin), input("a/b"), None).await,
            Err(ServiceError::Validation(_))
        ));
    }

    #[tokio::test]
    async fn the_creator_is_the_actor_unless_the_client_names_one() {
        let mut repo = MockProjectRepository::new();
        repo.expect_create()
            .withf(|tenant, id, _, creator, _| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *id == ProjectId(Uuid::from_u128(42))
                    && (creator == "genesis" || Uuid::parse_str(creator).is_ok())
            })
            .times(2)
            .returning(|tenant, id, new, creator, now| {
                Ok(Project {
                    id,
                    number: ProjectNumber(1),
                    tenant,
                    name: new.name,
                    description: new.description,
                    project_manager: new.project_manager,
                    creator,
                    version: 1,
                    created_at: now,
                })
            });
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let named = svc
            .create(&admin, input("Shop"), Some("genesis".into()))
            .await
            .unwrap();
        assert_eq!(named.creator, "genesis");
        let defaulted = svc.create(&admin, input("Shop"), None).await.unwrap();
        assert_eq!(defaulted.creator, admin.user.to_string());
    }
}
