use crate::authorize;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use terrane_domain::{
    diff_versions, measure, Actor, ComponentId, DiffLine, DoraMeasures, DoraWindow, EnvironmentId,
    Permission, TargetId,
};
use terrane_ports::{
    Clock, CurrentRelease, DeploymentViewService, DeploymentViews, LatestDeployment, MatrixRow,
    ServiceError, Sticker,
};

/// The read models of the ledger: matrix (now and as of a time), latest, current release,
/// sticker, the diff of two environments and the DORA measures.
pub struct Views {
    repo: Arc<dyn DeploymentViews>,
    clock: Arc<dyn Clock>,
}

impl Views {
    /// Wires the use cases to their ports.
    pub fn new(repo: Arc<dyn DeploymentViews>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }
}

const READING: &str = "reading deployments";

#[async_trait]
impl DeploymentViewService for Views {
    async fn matrix(&self, actor: &Actor) -> Result<Vec<MatrixRow>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        self.repo
            .matrix(actor.tenant)
            .await
            .map_err(|e| ServiceError::from_store(e, "component"))
    }

    async fn matrix_as_of(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Vec<MatrixRow>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        self.repo
            .matrix_as_of(actor.tenant, terrane_domain::time::truncate(at))
            .await
            .map_err(|e| ServiceError::from_store(e, "component"))
    }

    async fn diff(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        against: EnvironmentId,
    ) -> Result<Vec<DiffLine>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        let running = |id| async move {
            self.repo
                .running_versions(actor.tenant, id)
                .await
                .map_err(|e| ServiceError::from_store(e, "environment"))
        };
        let here = running(environment).await?;
        let there = running(against).await?;
        Ok(diff_versions(here, there))
    }

    async fn dora(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<DoraMeasures, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        let window = DoraWindow::parse(from, to, self.clock.now())?;
        let ledger = self
            .repo
            .ledger_between(actor.tenant, environment, window.from(), window.to())
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))?;
        Ok(measure(window, &ledger))
    }

    async fn latest(
        &self,
        actor: &Actor,
        component: ComponentId,
    ) -> Result<Vec<LatestDeployment>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        self.repo
            .latest(actor.tenant, component)
            .await
            .map_err(|e| ServiceError::from_store(e, "component"))
    }

    async fn current_releases(
        &self,
        actor: &Actor,
        environments: &[EnvironmentId],
    ) -> Result<HashMap<EnvironmentId, CurrentRelease>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        if environments.is_empty() {
            return Ok(HashMap::new());
        }
        self.repo
            .current_releases(actor.tenant, environments.to_vec())
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))
    }

    async fn sticker(
        &self,
        actor: &Actor,
        target: TargetId,
    ) -> Result<Option<Sticker>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        self.repo
            .sticker(actor.tenant, target)
            .await
            .map_err(|e| ServiceError::from_store(e, "target"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{Role, TenantId, UserId};
    use terrane_ports::{MockDeploymentViews, StoreError};
    use uuid::Uuid;

    fn clock() -> Arc<dyn Clock> {
        let mut clock = terrane_ports::MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).unwrap());
        Arc::new(clock)
    }

    fn actor(roles: Vec<Role>) -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(1)),
            tenant: TenantId(Uuid::from_u128(7)),
            roles,
        }
    }

    #[tokio::test]
    async fn a_viewer_reads_the_matrix_of_their_own_tenant() {
        let mut repo = MockDeploymentViews::new();
        repo.expect_matrix()
            .withf(|tenant| *tenant == TenantId(Uuid::from_u128(7)))
            .returning(|_| Ok(Vec::new()));
        let views = Views::new(Arc::new(repo), clock());
        assert_eq!(
            views.matrix(&actor(vec![Role::Viewer])).await,
            Ok(Vec::new())
        );
    }

    #[tokio::test]
    async fn an_actor_without_roles_reads_nothing() {
        let views = Views::new(Arc::new(MockDeploymentViews::new()), clock());
        let nobody = actor(Vec::new());
        let component = ComponentId(Uuid::from_u128(3));
        let target = TargetId(Uuid::from_u128(4));
        assert!(matches!(
            views.matrix(&nobody).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            views.latest(&nobody, component).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            views.sticker(&nobody, target).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            views
                .current_releases(&nobody, &[EnvironmentId(Uuid::from_u128(5))])
                .await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn an_unknown_component_or_target_is_not_found_by_its_kind() {
        let mut repo = MockDeploymentViews::new();
        repo.expect_latest()
            .returning(|_, _| Err(StoreError::NotFound));
        repo.expect_sticker()
            .returning(|_, _| Err(StoreError::NotFound));
        let views = Views::new(Arc::new(repo), clock());
        let viewer = actor(vec![Role::Viewer]);
        assert_eq!(
            views.latest(&viewer, ComponentId(Uuid::from_u128(3))).await,
            Err(ServiceError::NotFound("component".into()))
        );
        assert_eq!(
            views.sticker(&viewer, TargetId(Uuid::from_u128(4))).await,
            Err(ServiceError::NotFound("target".into()))
        );
    }

    #[tokio::test]
    async fn current_releases_of_no_environments_ask_nothing() {
        // The mock has no expectation: a call would panic.
        let views = Views::new(Arc::new(MockDeploymentViews::new()), clock());
        assert_eq!(
            views
                .current_releases(&actor(vec![Role::Viewer]), &[])
                .await,
            Ok(HashMap::new())
        );
    }

    #[tokio::test]
    async fn current_releases_pass_the_page_through() {
        let env = EnvironmentId(Uuid::from_u128(5));
        let release = CurrentRelease {
            id: Uuid::from_u128(9),
            name: "myapp-v2.3.1".into(),
            deployed_at: Utc.with_ymd_and_hms(2026, 1, 9, 10, 0, 0).unwrap(),
        };
        let mut repo = MockDeploymentViews::new();
        let answer = release.clone();
        repo.expect_current_releases()
            .withf(move |_, envs| envs == &[env])
            .returning(move |_, _| Ok(HashMap::from([(env, answer.clone())])));
        let views = Views::new(Arc::new(repo), clock());
        let found = views
            .current_releases(&actor(vec![Role::Viewer]), &[env])
            .await
            .unwrap();
        assert_eq!(found.get(&env), Some(&release));
    }

    #[tokio::test]
    async fn the_diff_reads_both_environments_and_names_a_missing_one() {
        let (staging, production) = (
            EnvironmentId(Uuid::from_u128(5)),
            EnvironmentId(Uuid::from_u128(6)),
        );
        let web = |version: &str| terrane_domain::RunningVersion {
            component_id: ComponentId(Uuid::from_u128(1)),
            component_name: "web".into(),
            version: version.into(),
        };
        let mut repo = MockDeploymentViews::new();
        repo.expect_running_versions().returning(move |_, env| {
            if env == staging {
                Ok(vec![web("v2")])
            } else if env == production {
                Ok(vec![web("v1")])
            } else {
                Err(StoreError::NotFound)
            }
        });
        let views = Views::new(Arc::new(repo), clock());
        let viewer = actor(vec![Role::Viewer]);
        let lines = views.diff(&viewer, staging, production).await.unwrap();
        assert_eq!(
            (lines[0].here.as_deref(), lines[0].there.as_deref()),
            (Some("v2"), Some("v1"))
        );
        assert_eq!(
            views
                .diff(&viewer, staging, EnvironmentId(Uuid::from_u128(99)))
                .await,
            Err(ServiceError::NotFound("environment".into()))
        );
    }

    #[tokio::test]
    async fn dora_measures_the_last_thirty_days_by_default_and_refuses_a_backwards_window() {
        let env = EnvironmentId(Uuid::from_u128(5));
        let mut repo = MockDeploymentViews::new();
        repo.expect_ledger_between()
            .withf(move |_, e, from, to| {
                *e == env
                    && *from == Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
                    && *to == Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).unwrap()
            })
            .returning(|_, _, _, _| Ok(Vec::new()));
        let views = Views::new(Arc::new(repo), clock());
        let viewer = actor(vec![Role::Viewer]);
        let measures = views.dora(&viewer, env, None, None).await.unwrap();
        assert_eq!(measures.succeeded, 0);
        let at = Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap();
        assert!(matches!(
            views.dora(&viewer, env, Some(at), Some(at)).await,
            Err(ServiceError::Validation(_))
        ));
    }
}
