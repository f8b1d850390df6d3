use crate::authorize;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use terrane_domain::{
    Actor, Assignment, EnvironmentId, Page, Permission, TargetGroup, TargetGroupFilter,
    TargetGroupId, TargetGroupInput, ValidationErrors,
};
use terrane_ports::{
    Clock, IdSource, ServiceError, StoreError, TargetGroupRepository, TargetGroupService,
};

const WHAT: &str = "target group";

/// A reference the store could not resolve, as a 400 on the field that holds it, in words
/// that say what was expected there.
pub(crate) fn missing_reference(field: &str) -> ServiceError {
    let message = if field == "environmentId" {
        "no environment with that id exists in your organization"
    } else if field == "targetGroupId" {
        "must be a target group assigned to the target's environment"
    } else if field.starts_with("targetGroups") {
        "no target group with that id exists in your organization"
    } else if field == "projectId" {
        "no project with that id exists in your organization"
    } else {
        return ServiceError::from_store(StoreError::MissingReference(field.to_owned()), field);
    };
    ServiceError::Validation(ValidationErrors::single(field, message))
}

/// The target group use cases.
pub struct TargetGroups {
    repo: Arc<dyn TargetGroupRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl TargetGroups {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn TargetGroupRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self { repo, clock, ids }
    }
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

/// For operations addressed to an environment, where "not found" means the environment.
fn environment_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, "environment")
}

#[async_trait]
impl TargetGroupService for TargetGroups {
    async fn create_in_environment(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        input: TargetGroupInput,
    ) -> Result<TargetGroup, ServiceError> {
        authorize(actor, Permission::Administer, "creating a target group")?;
        let new = input.into_new()?;
        let id = TargetGroupId(self.ids.new_id());
        self.repo
            .create_in_environment(actor.tenant, environment, id, new, self.clock.now())
            .await
            .map_err(environment_error)
    }

    async fn get(&self, actor: &Actor, id: TargetGroupId) -> Result<TargetGroup, ServiceError> {
        authorize(actor, Permission::Read, "reading target groups")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn create(
        &self,
        actor: &Actor,
        input: TargetGroupInput,
    ) -> Result<TargetGroup, ServiceError> {
        authorize(actor, Permission::Administer, "creating a target group")?;
        let new = input.into_new()?;
        let id = TargetGroupId(self.ids.new_id());
        self.repo
            .create(actor.tenant, id, new, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        filter: TargetGroupFilter,
        page: Page,
    ) -> Result<(Vec<TargetGroup>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading target groups")?;
        self.repo
            .list(actor.tenant, filter, page)
            .await
            .map_err(environment_error)
    }

    async fn update(
        &self,
        actor: &Actor,
        id: TargetGroupId,
        expected_version: Option<i64>,
        input: TargetGroupInput,
    ) -> Result<TargetGroup, ServiceError> {
        authorize(actor, Permission::Administer, "changing a target group")?;
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
        id: TargetGroupId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "deleting a target group")?;
        self.repo
            .delete(actor.tenant, id, expected_version, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn assignments_for(
        &self,
        actor: &Actor,
        environments: &[EnvironmentId],
    ) -> Result<HashMap<EnvironmentId, Vec<Assignment>>, ServiceError> {
        authorize(actor, Permission::Read, "reading target groups")?;
        if environments.is_empty() {
            return Ok(HashMap::new());
        }
        self.repo
            .assignments_for(actor.tenant, environments.to_vec())
            .await
            .map_err(store_error)
    }

    async fn assignments_of_groups(
        &self,
        actor: &Actor,
        groups: &[TargetGroupId],
    ) -> Result<HashMap<TargetGroupId, Vec<Assignment>>, ServiceError> {
        authorize(actor, Permission::Read, "reading target groups")?;
        if groups.is_empty() {
            return Ok(HashMap::new());
        }
        self.repo
            .assignments_of_groups(actor.tenant, groups.to_vec())
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{
        AssignmentId, AssignmentNumber, EnvironmentNumber, Role, TargetGroupName,
        TargetGroupNumber, TenantId,
    };
    use terrane_ports::{MockClock, MockIdSource, MockTargetGroupRepository};
    use uuid::Uuid;

    use crate::test_support::actor;

    fn service(repo: MockTargetGroupRepository) -> TargetGroups {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        TargetGroups::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn input(name: &str) -> TargetGroupInput {
        TargetGroupInput {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    const ENV: EnvironmentId = EnvironmentId(Uuid::from_u128(3));

    #[tokio::test]
    async fn creating_needs_the_admin_role_and_touches_nothing_otherwise() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_create_in_environment().never();
        let error = service(repo)
            .create_in_environment(&actor(Role::Deployer), ENV, input("web"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(m) if m.contains("admin")));
    }

    #[tokio::test]
    async fn creating_stores_in_the_actors_tenant_and_the_named_environment() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_create_in_environment()
            .withf(|tenant, env, id, new, _| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *env == ENV
                    && *id == TargetGroupId(Uuid::from_u128(42))
                    && new.name.as_str() == "web"
            })
            .returning(|tenant, _, id, new, now| {
                Ok(new.into_target_group(id, TargetGroupNumber(1), tenant, now))
            });
        let group = service(repo)
            .create_in_environment(&actor(Role::Admin), ENV, input("web"))
            .await
            .unwrap();
        assert_eq!(group.id, TargetGroupId(Uuid::from_u128(42)));
    }

    #[tokio::test]
    async fn invalid_input_is_refused_before_the_store_is_asked() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_create_in_environment().never();
        let error = service(repo)
            .create_in_environment(&actor(Role::Admin), ENV, input("no spaces"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Validation(e) if e.errors()[0].field == "name"));
    }

    #[tokio::test]
    async fn creating_in_or_listing_an_unknown_environment_is_not_found_naming_the_environment() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_create_in_environment()
            .returning(|_, _, _, _, _| Err(StoreError::NotFound));
        repo.expect_list()
            .returning(|_, _, _| Err(StoreError::NotFound));
        let svc = service(repo);
        let admin = actor(Role::Admin);
        assert_eq!(
            svc.create_in_environment(&admin, ENV, input("web"))
                .await
                .unwrap_err(),
            ServiceError::NotFound("environment".into())
        );
        assert_eq!(
            svc.list(
                &admin,
                TargetGroupFilter {
                    environment: Some(ENV),
                    ..Default::default()
                },
                Page::default()
            )
            .await
            .unwrap_err(),
            ServiceError::NotFound("environment".into())
        );
    }

    #[tokio::test]
    async fn viewers_read_but_do_not_write() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        repo.expect_update().never();
        repo.expect_delete().never();
        let svc = service(repo);
        let viewer = actor(Role::Viewer);
        let id = TargetGroupId(Uuid::from_u128(5));
        assert_eq!(
            svc.get(&viewer, id).await.unwrap_err(),
            ServiceError::NotFound("target group".into())
        );
        assert!(matches!(
            svc.update(&viewer, id, None, input("x")).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            svc.delete(&viewer, id, None).await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn deleting_a_group_with_targets_is_a_conflict_that_names_them() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_delete().returning(|_, _, _, _| {
            Err(StoreError::Conflict(
                "target group `web` still has targets: web-01".into(),
            ))
        });
        let error = service(repo)
            .delete(&actor(Role::Admin), TargetGroupId(Uuid::from_u128(5)), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Conflict(m) if m.contains("web-01")));
    }

    #[tokio::test]
    async fn a_stale_version_becomes_precondition_failed_and_an_empty_update_writes_nothing() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_update()
            .returning(|_, _, _, _, _| Err(StoreError::VersionMismatch { current: 4 }));
        repo.expect_get().returning(|tenant, id| {
            Ok(input("web").into_new().unwrap().into_target_group(
                id,
                TargetGroupNumber(1),
                tenant,
                Utc::now(),
            ))
        });
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let id = TargetGroupId(Uuid::from_u128(5));
        let error = svc
            .update(&admin, id, Some(2), input("api"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::PreconditionFailed(m) if m.contains("\"4\"")));
        assert_eq!(
            svc.update(&admin, id, Some(1), TargetGroupInput::default())
                .await
                .unwrap()
                .version,
            1
        );
        assert!(matches!(
            svc.update(&admin, id, Some(3), TargetGroupInput::default())
                .await,
            Err(ServiceError::PreconditionFailed(_))
        ));
    }

    #[tokio::test]
    async fn creating_a_group_outside_any_environment_needs_the_admin_role() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_create()
            .times(1)
            .withf(|tenant, _, new, _| {
                *tenant == TenantId(Uuid::from_u128(7)) && new.name.as_str() == "web"
            })
            .returning(|tenant, id, new, now| {
                Ok(new.into_target_group(id, TargetGroupNumber(1), tenant, now))
            });
        let svc = service(repo);
        assert!(matches!(
            svc.create(&actor(Role::Deployer), input("web")).await,
            Err(ServiceError::Forbidden(_))
        ));
        let group = svc.create(&actor(Role::Admin), input("web")).await.unwrap();
        assert_eq!(group.display_name, "web");
    }

    #[tokio::test]
    async fn assignments_of_no_group_are_answered_without_asking_the_store() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_assignments_of_groups().never();
        let found = service(repo)
            .assignments_of_groups(&actor(Role::Viewer), &[])
            .await
            .unwrap();
        assert!(found.is_empty());
    }

    #[tokio::test]
    async fn assignments_of_no_environment_are_answered_without_asking_the_store() {
        let mut repo = MockTargetGroupRepository::new();
        repo.expect_assignments_for().never();
        let found = service(repo)
            .assignments_for(&actor(Role::Viewer), &[])
            .await
            .unwrap();
        assert!(found.is_empty());
    }

    #[tokio::test]
    async fn assignments_of_a_page_are_loaded_in_one_call() {
        let mut repo = MockTargetGroupRepository::new();
        let other = EnvironmentId(Uuid::from_u128(4));
        repo.expect_assignments_for()
            .times(1)
            .withf(move |tenant, envs| {
                *tenant == TenantId(Uuid::from_u128(7)) && envs.as_slice() == [ENV, other]
            })
            .returning(|_, _| {
                let assignment = Assignment {
                    id: AssignmentId(Uuid::from_u128(9)),
                    number: AssignmentNumber(3),
                    environment_id: ENV,
                    environment_number: EnvironmentNumber(1),
                    target_group_id: TargetGroupId(Uuid::from_u128(5)),
                    target_group_number: TargetGroupNumber(2),
                    target_group_name: TargetGroupName::parse("web").unwrap(),
                    is_active: true,
                };
                Ok(HashMap::from([(ENV, vec![assignment])]))
            });
        let found = service(repo)
            .assignments_for(&actor(Role::Viewer), &[ENV, other])
            .await
            .unwrap();
        assert_eq!(found[&ENV].len(), 1);
        assert!(!found.contains_key(&other));
    }

    #[test]
    fn unresolved_references_name_their_field_with_a_message_that_says_what_was_expected() {
        for (field, words) in [
            ("environmentId", "no environment"),
            ("targetGroupId", "assigned to the target's environment"),
            ("targetGroups[2].targetGroupId", "no target group"),
        ] {
            let ServiceError::Validation(errors) = missing_reference(field) else {
                panic!("{field}")
            };
            assert_eq!(errors.errors()[0].field, field);
            assert!(errors.errors()[0].message.contains(words), "{field}");
        }
    }
}
