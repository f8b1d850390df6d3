use crate::authorize;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use terrane_domain::{Actor, Environment, EnvironmentId, EnvironmentInput, Permission};
use terrane_ports::{
    Clock, EnvironmentQuery, EnvironmentRepository, EnvironmentService, EnvironmentView, IdSource,
    ServiceError,
};

const WHAT: &str = "environment";

/// The environment use cases.
pub struct Environments {
    repo: Arc<dyn EnvironmentRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Environments {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn EnvironmentRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self { repo, clock, ids }
    }
}

fn store_error(error: terrane_ports::StoreError) -> ServiceError {
    match error {
        // A listed target group the tenant does not have.
        terrane_ports::StoreError::MissingReference(field) => {
            crate::target_groups::missing_reference(&field)
        }
        other => ServiceError::from_store(other, WHAT),
    }
}

/// `view` with only the freeze windows active at `now`: the store loads those that had not
/// ended, the domain decides which have started.
fn shown(mut view: EnvironmentView, now: DateTime<Utc>) -> EnvironmentView {
    view.freeze_windows.retain(|window| window.is_active(now));
    view
}

#[async_trait]
impl EnvironmentService for Environments {
    async fn create(
        &self,
        actor: &Actor,
        input: EnvironmentInput,
    ) -> Result<EnvironmentView, ServiceError> {
        authorize(actor, Permission::Administer, "creating an environment")?;
        let new = input.into_new()?;
        let assigned = !new.target_groups.is_empty();
        let id = EnvironmentId(self.ids.new_id());
        let now = self.clock.now();
        let env = self
            .repo
            .create(actor.tenant, id, new, now)
            .await
            .map_err(store_error)?;
        if !assigned {
            // Nothing refers to it yet: its view is the row as written, with no read back.
            return Ok(EnvironmentView::new_born(env));
        }
        let view = self
            .repo
            .view(actor.tenant, env.id, now)
            .await
            .map_err(store_error)?;
        Ok(shown(view, now))
    }

    async fn get(&self, actor: &Actor, id: EnvironmentId) -> Result<Environment, ServiceError> {
        authorize(actor, Permission::Read, "reading environments")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        query: EnvironmentQuery,
    ) -> Result<(Vec<Environment>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading environments")?;
        self.repo
            .list(actor.tenant, query.filter, query.sort, query.page)
            .await
            .map_err(store_error)
    }

    async fn view(
        &self,
        actor: &Actor,
        id: EnvironmentId,
    ) -> Result<EnvironmentView, ServiceError> {
        authorize(actor, Permission::Read, "reading environments")?;
        let now = self.clock.now();
        let view = self
            .repo
            .view(actor.tenant, id, now)
            .await
            .map_err(store_error)?;
        Ok(shown(view, now))
    }

    async fn view_page(
        &self,
        actor: &Actor,
        query: EnvironmentQuery,
        with_release: bool,
    ) -> Result<(Vec<EnvironmentView>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading environments")?;
        let now = self.clock.now();
        let (views, total) = self
            .repo
            .view_page(
                actor.tenant,
                query.filter,
                query.sort,
                query.page,
                with_release,
                now,
            )
            .await
            .map_err(store_error)?;
        let views = views.into_iter().map(|view| shown(view, now)).collect();
        Ok((views, total))
    }

    async fn update(
        &self,
        actor: &Actor,
        id: EnvironmentId,
        expected_version: Option<i64>,
        input: EnvironmentInput,
    ) -> Result<Environment, ServiceError> {
        authorize(actor, Permission::Administer, "changing an environment")?;
        let changes = input.into_changes()?;
        if changes.is_empty() {
            // Nothing to write: answer the current state (still honouring If-Match), so an
            // empty PATCH neither bumps the version nor fails.
            let current = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
            return match expected_version {
                Some(v) if v != current.version => {
                    Err(store_error(terrane_ports::StoreError::VersionMismatch {
                        current: current.version,
                    }))
                }
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
        id: EnvironmentId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "deleting an environment")?;
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
    use terrane_domain::{Role, TenantId};
    use terrane_ports::{MockClock, MockEnvironmentRepository, MockIdSource, StoreError};
    use uuid::Uuid;

    use crate::test_support::actor;

    fn service(repo: MockEnvironmentRepository) -> Environments {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Environments::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn input(name: &str) -> EnvironmentInput {
        EnvironmentInput {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn creating_needs_the_admin_role_and_touches_nothing_otherwise() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_create().never();
        let error = service(repo)
            .create(&actor(Role::Deployer), input("dev"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(m) if m.contains("admin")));
    }

    #[tokio::test]
    async fn creating_stores_in_the_actors_tenant_with_a_fresh_id_and_the_clocks_time() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_create()
            .withf(|tenant, id, new, now| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *id == EnvironmentId(Uuid::from_u128(42))
                    && new.name.as_str() == "production"
                    && new.is_production
                    && *now == Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
            })
            .returning(|tenant, id, new, now| {
                Ok(new.into_environment(id, terrane_domain::EnvironmentNumber(1), tenant, 0, now))
            });
        // Nothing is attached to it yet: the store is not asked for its view.
        repo.expect_view().never();
        let view = service(repo)
            .create(&actor(Role::Admin), input("production"))
            .await
            .unwrap();
        assert_eq!(view.environment.id, EnvironmentId(Uuid::from_u128(42)));
        assert!(view.assignments.is_empty() && view.freeze_windows.is_empty());
        assert!(view.current_release.is_none() && view.lifecycle.is_none());
    }

    #[tokio::test]
    async fn an_environment_created_with_target_groups_is_answered_as_read_back_at_the_same_time() {
        let id = EnvironmentId(Uuid::from_u128(42));
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_create().returning(|tenant, id, new, now| {
            Ok(new.into_environment(id, terrane_domain::EnvironmentNumber(1), tenant, 0, now))
        });
        // What the store reads back, windows ended or not started included.
        let (active, later) = (window(id, -1, 1), window(id, 1, 2));
        let loaded = vec![active.clone(), later];
        repo.expect_view()
            .times(1)
            .withf(move |tenant, read, now| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *read == id
                    && *now == Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
            })
            .returning(move |_, id, _| Ok(view_with(id, loaded.clone())));
        let input = EnvironmentInput {
            name: Some("dev".into()),
            ..assign(terrane_domain::AssignmentMode::Add, &[1])
        };
        let view = service(repo)
            .create(&actor(Role::Admin), input)
            .await
            .unwrap();
        assert_eq!(view.environment.id, id);
        assert_eq!(view.freeze_windows, [active], "shown as a view is");
    }

    #[tokio::test]
    async fn invalid_input_is_refused_before_the_store_is_asked() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_create().never();
        let error = service(repo)
            .create(&actor(Role::Admin), input("Not A Slug"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Validation(e) if e.errors()[0].field == "name"));
    }

    #[tokio::test]
    async fn viewers_read_but_do_not_write() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        repo.expect_update().never();
        repo.expect_delete().never();
        let svc = service(repo);
        let viewer = actor(Role::Viewer);
        let id = EnvironmentId(Uuid::from_u128(3));
        assert_eq!(
            svc.get(&viewer, id).await.unwrap_err(),
            ServiceError::NotFound("environment".into())
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

    /// A window of environment `id` from `start` to `end` hours after the clock's time.
    fn window(id: EnvironmentId, start: i64, end: i64) -> terrane_domain::FreezeWindow {
        let at = Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap();
        terrane_domain::FreezeWindow {
            id: terrane_domain::FreezeWindowId(Uuid::now_v7()),
            tenant: TenantId(Uuid::from_u128(7)),
            environment_id: id,
            start: at + chrono::Duration::hours(start),
            end: at + chrono::Duration::hours(end),
            reason: "freeze".into(),
            exceptions: Vec::new(),
            created_by: terrane_domain::UserId(Uuid::from_u128(1)),
            created_at: at,
        }
    }

    fn view_with(id: EnvironmentId, windows: Vec<terrane_domain::FreezeWindow>) -> EnvironmentView {
        EnvironmentView {
            environment: input("dev").into_new().unwrap().into_environment(
                id,
                terrane_domain::EnvironmentNumber(1),
                TenantId(Uuid::from_u128(7)),
                0,
                Utc::now(),
            ),
            assignments: Vec::new(),
            freeze_windows: windows,
            current_release: None,
            lifecycle: None,
        }
    }

    #[tokio::test]
    async fn a_view_shows_only_the_windows_active_at_the_clocks_time() {
        let id = EnvironmentId(Uuid::from_u128(3));
        // What the store may hand over: every window not ended, started or not.
        let (active, starting_now, later) = (window(id, -1, 1), window(id, 0, 2), window(id, 1, 2));
        let loaded = vec![active.clone(), starting_now.clone(), later];
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_view()
            .withf(|tenant, _, now| {
                *tenant == TenantId(Uuid::from_u128(7))
                    && *now == Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
            })
            .returning(move |_, id, _| Ok(view_with(id, loaded.clone())));
        let view = service(repo).view(&actor(Role::Viewer), id).await.unwrap();
        assert_eq!(view.freeze_windows, [active, starting_now]);
    }

    #[tokio::test]
    async fn a_page_of_views_shows_only_active_windows_and_passes_the_query_through() {
        let id = EnvironmentId(Uuid::from_u128(3));
        let (active, later) = (window(id, -2, 1), window(id, 3, 4));
        let loaded = vec![active.clone(), later];
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_view_page()
            .withf(|_, _, _, page, with_release, _| page.take() == 5 && *with_release)
            .returning(move |_, _, _, _, _, _| Ok((vec![view_with(id, loaded.clone())], 9)));
        let query = EnvironmentQuery {
            page: terrane_domain::Page::parse(None, Some(5)).unwrap(),
            ..Default::default()
        };
        let (views, total) = service(repo)
            .view_page(&actor(Role::Viewer), query, true)
            .await
            .unwrap();
        assert_eq!(total, 9);
        assert_eq!(views[0].freeze_windows, [active]);
    }

    #[tokio::test]
    async fn reading_views_needs_a_role() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_view().never();
        repo.expect_view_page().never();
        let svc = service(repo);
        let nobody = terrane_domain::Actor {
            roles: Vec::new(),
            ..actor(Role::Viewer)
        };
        let id = EnvironmentId(Uuid::from_u128(3));
        assert!(matches!(
            svc.view(&nobody, id).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            svc.view_page(&nobody, EnvironmentQuery::default(), false)
                .await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_stale_version_becomes_precondition_failed_naming_the_current_etag() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_update()
            .returning(|_, _, _, _, _| Err(StoreError::VersionMismatch { current: 4 }));
        let changes = EnvironmentInput {
            display_name: Some("X".into()),
            ..Default::default()
        };
        let error = service(repo)
            .update(
                &actor(Role::Admin),
                EnvironmentId(Uuid::from_u128(3)),
                Some(2),
                changes,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::PreconditionFailed(m) if m.contains("\"4\"")));
    }

    #[tokio::test]
    async fn an_empty_update_writes_nothing_but_still_checks_the_version() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_update().never();
        repo.expect_get().returning(|tenant, id| {
            Ok(input("dev").into_new().unwrap().into_environment(
                id,
                terrane_domain::EnvironmentNumber(1),
                tenant,
                0,
                Utc::now(),
            ))
        });
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let id = EnvironmentId(Uuid::from_u128(3));
        assert_eq!(
            svc.update(&admin, id, Some(1), EnvironmentInput::default())
                .await
                .unwrap()
                .version,
            1
        );
        assert!(matches!(
            svc.update(&admin, id, Some(9), EnvironmentInput::default())
                .await,
            Err(ServiceError::PreconditionFailed(_))
        ));
    }

    fn assign(mode: terrane_domain::AssignmentMode, groups: &[u128]) -> EnvironmentInput {
        EnvironmentInput {
            target_groups: Some(terrane_domain::AssignmentInput {
                mode,
                target_groups: groups
                    .iter()
                    .map(|n| terrane_domain::AssignmentRequest {
                        target_group_id: terrane_domain::TargetGroupId(Uuid::from_u128(*n)),
                        is_active: None,
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_unknown_target_group_is_a_validation_error_naming_its_place_in_the_list() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_create().returning(|_, _, _, _| {
            Err(StoreError::MissingReference(
                "targetGroups[1].targetGroupId".into(),
            ))
        });
        let input = EnvironmentInput {
            name: Some("dev".into()),
            ..assign(terrane_domain::AssignmentMode::Add, &[1, 2])
        };
        let error = service(repo)
            .create(&actor(Role::Admin), input)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == "targetGroups[1].targetGroupId"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_update_of_only_the_assignments_reaches_the_store_with_its_mode() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_get().never();
        repo.expect_update()
            .withf(|_, _, _, changes, _| {
                changes.assignments.as_ref().is_some_and(|a| {
                    a.mode() == terrane_domain::AssignmentMode::Replace
                        && a.target_groups().is_empty()
                })
            })
            .returning(|tenant, id, _, _, now| {
                Ok(input("dev").into_new().unwrap().into_environment(
                    id,
                    terrane_domain::EnvironmentNumber(1),
                    tenant,
                    0,
                    now,
                ))
            });
        service(repo)
            .update(
                &actor(Role::Admin),
                EnvironmentId(Uuid::from_u128(3)),
                None,
                assign(terrane_domain::AssignmentMode::Replace, &[]),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_group_listed_twice_is_refused_before_the_store_is_asked() {
        let mut repo = MockEnvironmentRepository::new();
        repo.expect_update().never();
        let error = service(repo)
            .update(
                &actor(Role::Admin),
                EnvironmentId(Uuid::from_u128(3)),
                None,
                assign(terrane_domain::AssignmentMode::Add, &[4, 4]),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == "targetGroups[1].targetGroupId"),
            "{error:?}"
        );
    }
}
