use crate::authorize;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use terrane_domain::{Actor, ComponentId, EnvironmentId, Permission, TargetId};
use terrane_ports::{
    CurrentRelease, DeploymentViewService, DeploymentViews, LatestDeployment, MatrixRow,
    ServiceError, Sticker,
};

/// The read models of the ledger: matrix, latest, current release, sticker.
pub struct Views {
    repo: Arc<dyn DeploymentViews>,
}

impl Views {
    /// Wires the use cases to their port.
    pub fn new(repo: Arc<dyn DeploymentViews>) -> Self {
        Self { repo }
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
        let views = Views::new(Arc::new(repo));
        assert_eq!(
            views.matrix(&actor(vec![Role::Viewer])).await,
            Ok(Vec::new())
        );
    }

    #[tokio::test]
    async fn an_actor_without_roles_reads_nothing() {
        let views = Views::new(Arc::new(MockDeploymentViews::new()));
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
        let views = Views::new(Arc::new(repo));
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
        let views = Views::new(Arc::new(MockDeploymentViews::new()));
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
        let views = Views::new(Arc::new(repo));
        let found = views
            .current_releases(&actor(vec![Role::Viewer]), &[env])
            .await
            .unwrap();
        assert_eq!(found.get(&env), Some(&release));
    }
}
