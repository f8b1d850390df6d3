use crate::authorize;
use crate::target_groups::missing_reference;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{Actor, AddressPolicy, Permission, Target, TargetId, TargetInput};
use terrane_ports::{
    Clock, IdSource, ServiceError, StoreError, TargetQuery, TargetRepository, TargetService,
};

const WHAT: &str = "target";

/// How often an update without `If-Match` is retried when a concurrent update changed the
/// target between reading it and writing: the new fields are checked against what was read
/// (the type decides the connection), so the write must apply to exactly that version.
const UPDATE_ATTEMPTS: usize = 5;

/// The target use cases.
pub struct Targets {
    repo: Arc<dyn TargetRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    /// Refuses connections to addresses a health probe may never reach.
    addresses: AddressPolicy,
}

impl Targets {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn TargetRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            repo,
            clock,
            ids,
            addresses: AddressPolicy::default(),
        }
    }

    /// The same use cases refusing connections to what `addresses` refuses (by default
    /// link-local and cloud metadata addresses).
    pub fn with_address_policy(mut self, addresses: AddressPolicy) -> Self {
        self.addresses = addresses;
        self
    }
}

fn store_error(error: StoreError) -> ServiceError {
    match error {
        StoreError::MissingReference(field) => missing_reference(&field),
        other => ServiceError::from_store(other, WHAT),
    }
}

#[async_trait]
impl TargetService for Targets {
    async fn create(&self, actor: &Actor, input: TargetInput) -> Result<Target, ServiceError> {
        authorize(actor, Permission::Administer, "creating a target")?;
        let new = input.into_new()?;
        self.addresses.check_connection(&new.connection)?;
        let id = TargetId(self.ids.new_id());
        self.repo
            .create(actor.tenant, id, new, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn get(&self, actor: &Actor, id: TargetId) -> Result<Target, ServiceError> {
        authorize(actor, Permission::Read, "reading targets")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        query: TargetQuery,
    ) -> Result<(Vec<Target>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading targets")?;
        self.repo
            .list(actor.tenant, query.filter, query.page)
            .await
            .map_err(store_error)
    }

    async fn update(
        &self,
        actor: &Actor,
        id: TargetId,
        expected_version: Option<i64>,
        input: TargetInput,
    ) -> Result<Target, ServiceError> {
        authorize(actor, Permission::Administer, "changing a target")?;
        let mut attempt = 1;
        loop {
            let current = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
            if expected_version.is_some_and(|v| v != current.version) {
                return Err(store_error(StoreError::VersionMismatch {
                    current: current.version,
                }));
            }
            let changes = input.clone().into_changes(&current)?;
            if let Some(connection) = &changes.connection {
                self.addresses.check_connection(connection)?;
            }
            if changes.is_empty() {
                // Nothing to write: an empty PATCH neither bumps the version nor fails.
                return Ok(current);
            }
            let written = self
                .repo
                .update(
                    actor.tenant,
                    id,
                    Some(current.version),
                    changes,
                    self.clock.now(),
                )
                .await;
            match written {
                Err(StoreError::VersionMismatch { .. })
                    if expected_version.is_none() && attempt < UPDATE_ATTEMPTS =>
                {
                    attempt += 1;
                }
                other => return other.map_err(store_error),
            }
        }
    }

    async fn delete(
        &self,
        actor: &Actor,
        id: TargetId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "deleting a target")?;
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
    use mockall::Sequence;
    use serde_json::{json, Map, Value};
    use terrane_domain::{Role, TargetType, TenantId};
    use terrane_ports::{MockClock, MockIdSource, MockTargetRepository};
    use uuid::Uuid;

    use crate::test_support::actor;

    fn service(repo: MockTargetRepository) -> Targets {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Targets::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn input() -> TargetInput {
        TargetInput {
            environment_id: Some(Uuid::from_u128(3)),
            name: Some("prod-web-01".into()),
            target_type: Some("docker_host".into()),
            connection: Some(object(json!({"host": "192.168.1.100", "port": 2375}))),
            ..Default::default()
        }
    }

    fn stored(version: i64) -> Target {
        let mut target = input().into_new().unwrap().into_target(
            TargetId(Uuid::from_u128(42)),
            TenantId(Uuid::from_u128(7)),
            Utc::now(),
        );
        target.version = version;
        target
    }

    const ID: TargetId = TargetId(Uuid::from_u128(42));

    #[tokio::test]
    async fn creating_needs_the_admin_role_and_touches_nothing_otherwise() {
        let mut repo = MockTargetRepository::new();
        repo.expect_create().never();
        let error = service(repo)
            .create(&actor(Role::Deployer), input())
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(m) if m.contains("admin")));
    }

    #[tokio::test]
    async fn creating_stores_a_valid_target_with_a_fresh_id_in_the_actors_tenant() {
        let mut repo = MockTargetRepository::new();
        repo.expect_create()
            .withf(|tenant, id, new, _| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *id == ID
                    && new.connection.target_type() == TargetType::DockerHost
            })
            .returning(|tenant, id, new, now| Ok(new.into_target(id, tenant, now)));
        let target = service(repo)
            .create(&actor(Role::Admin), input())
            .await
            .unwrap();
        assert_eq!(target.id, ID);
    }

    #[tokio::test]
    async fn a_bad_connection_is_refused_field_by_field_before_the_store_is_asked() {
        let mut repo = MockTargetRepository::new();
        repo.expect_create().never();
        let bad = TargetInput {
            connection: Some(object(json!({"host": "", "port": 0}))),
            ..input()
        };
        let error = service(repo)
            .create(&actor(Role::Admin), bad)
            .await
            .unwrap_err();
        let ServiceError::Validation(errors) = error else {
            panic!("{error:?}")
        };
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["connection.host", "connection.port"]);
    }

    #[tokio::test]
    async fn an_unknown_environment_or_an_unassigned_group_is_a_validation_error_on_its_field() {
        for field in ["environmentId", "targetGroupId"] {
            let mut repo = MockTargetRepository::new();
            repo.expect_create()
                .returning(move |_, _, _, _| Err(StoreError::MissingReference(field.into())));
            let error = service(repo)
                .create(&actor(Role::Admin), input())
                .await
                .unwrap_err();
            assert!(
                matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == field),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_update_checks_a_new_type_against_the_current_connection_without_writing() {
        let mut repo = MockTargetRepository::new();
        repo.expect_get().returning(|_, _| Ok(stored(1)));
        repo.expect_update().never();
        let change_type = TargetInput {
            target_type: Some("compose_host".into()),
            ..Default::default()
        };
        let error = service(repo)
            .update(&actor(Role::Admin), ID, None, change_type)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == "connection.projectName"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_update_writes_against_the_version_it_read() {
        let mut repo = MockTargetRepository::new();
        repo.expect_get().returning(|_, _| Ok(stored(3)));
        repo.expect_update()
            .withf(|_, _, expected, changes, _| {
                *expected == Some(3) && changes.name.as_ref().unwrap().as_str() == "web-02"
            })
            .returning(|_, _, _, changes, now| Ok(stored(3).apply(changes, now)));
        let rename = TargetInput {
            name: Some("web-02".into()),
            ..Default::default()
        };
        let updated = service(repo)
            .update(&actor(Role::Admin), ID, None, rename)
            .await
            .unwrap();
        assert_eq!(updated.version, 4);
    }

    #[tokio::test]
    async fn without_if_match_an_update_that_lost_a_race_is_checked_again_and_retried() {
        let mut repo = MockTargetRepository::new();
        let mut order = Sequence::new();
        repo.expect_get()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(stored(1)));
        repo.expect_update()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _, _, _, _| Err(StoreError::VersionMismatch { current: 2 }));
        repo.expect_get()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(stored(2)));
        repo.expect_update()
            .times(1)
            .in_sequence(&mut order)
            .withf(|_, _, expected, _, _| *expected == Some(2))
            .returning(|_, _, _, changes, now| Ok(stored(2).apply(changes, now)));
        let rename = TargetInput {
            name: Some("web-02".into()),
            ..Default::default()
        };
        let updated = service(repo)
            .update(&actor(Role::Admin), ID, None, rename)
            .await
            .unwrap();
        assert_eq!(updated.version, 3);
    }

    #[tokio::test]
    async fn a_stale_if_match_fails_without_writing_and_names_the_current_etag() {
        let mut repo = MockTargetRepository::new();
        repo.expect_get().returning(|_, _| Ok(stored(5)));
        repo.expect_update().never();
        let rename = TargetInput {
            name: Some("web-02".into()),
            ..Default::default()
        };
        let error = service(repo)
            .update(&actor(Role::Admin), ID, Some(4), rename)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::PreconditionFailed(m) if m.contains("\"5\"")));
    }

    #[tokio::test]
    async fn with_if_match_a_lost_race_is_a_precondition_failure_not_a_retry() {
        let mut repo = MockTargetRepository::new();
        repo.expect_get().times(1).returning(|_, _| Ok(stored(1)));
        repo.expect_update()
            .times(1)
            .returning(|_, _, _, _, _| Err(StoreError::VersionMismatch { current: 2 }));
        let rename = TargetInput {
            name: Some("web-02".into()),
            ..Default::default()
        };
        let error = service(repo)
            .update(&actor(Role::Admin), ID, Some(1), rename)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::PreconditionFailed(_)));
    }

    #[tokio::test]
    async fn an_empty_update_answers_the_current_target_without_writing() {
        let mut repo = MockTargetRepository::new();
        repo.expect_get().returning(|_, _| Ok(stored(2)));
        repo.expect_update().never();
        let same = service(repo)
            .update(&actor(Role::Admin), ID, Some(2), TargetInput::default())
            .await
            .unwrap();
        assert_eq!(same.version, 2);
    }

    #[tokio::test]
    async fn viewers_read_but_do_not_write() {
        let mut repo = MockTargetRepository::new();
        repo.expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        repo.expect_update().never();
        repo.expect_delete().never();
        let svc = service(repo);
        let viewer = actor(Role::Viewer);
        assert_eq!(
            svc.get(&viewer, ID).await.unwrap_err(),
            ServiceError::NotFound("target".into())
        );
        assert!(matches!(
            svc.update(&viewer, ID, None, TargetInput::default()).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            svc.delete(&viewer, ID, None).await,
            Err(ServiceError::Forbidden(_))
        ));
    }
}
