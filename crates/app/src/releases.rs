use crate::authorize;
use crate::deployments::record;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{
    Actor, Deployment, DeploymentInput, EnvironmentId, Page, Permission, Release, ReleaseId,
    ReleaseInput,
};
use terrane_ports::{
    Clock, DeploymentRepository, IdSource, ReleaseRepository, ReleaseService, ServiceError,
    StoreError,
};

const WHAT: &str = "release";

/// The release use cases.
pub struct Releases {
    repo: Arc<dyn ReleaseRepository>,
    deployments: Arc<dyn DeploymentRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Releases {
    /// Wires the use cases to their ports.
    pub fn new(
        repo: Arc<dyn ReleaseRepository>,
        deployments: Arc<dyn DeploymentRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            repo,
            deployments,
            clock,
            ids,
        }
    }
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

#[async_trait]
impl ReleaseService for Releases {
    async fn create(&self, actor: &Actor, input: ReleaseInput) -> Result<Release, ServiceError> {
        authorize(actor, Permission::Deploy, "recording a release")?;
        let new = input.into_new()?;
        let release = new.into_release(
            self.ids.new_id(),
            actor.tenant,
            actor.user,
            self.clock.now(),
        );
        self.repo
            .create(actor.tenant, release)
            .await
            .map_err(store_error)
    }

    async fn get(&self, actor: &Actor, id: ReleaseId) -> Result<Release, ServiceError> {
        authorize(actor, Permission::Read, "reading releases")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(&self, actor: &Actor, page: Page) -> Result<(Vec<Release>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading releases")?;
        self.repo
            .list(actor.tenant, page)
            .await
            .map_err(store_error)
    }

    async fn deploy(
        &self,
        actor: &Actor,
        id: ReleaseId,
        environment: EnvironmentId,
    ) -> Result<Vec<Deployment>, ServiceError> {
        authorize(actor, Permission::Deploy, "deploying a release")?;
        let release = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
        let now = self.clock.now();
        let mut deployments = Vec::with_capacity(release.components.len());
        for part in &release.components {
            let input = DeploymentInput {
                component_id: Some(part.component_id.as_uuid()),
                environment_id: Some(environment.as_uuid()),
                version: Some(part.version.as_str().to_owned()),
                digest: part.digest.as_ref().map(|d| d.as_str().to_owned()),
                description: Some(format!("release {}", release.name)),
                release_id: Some(release.id.0),
                ..Default::default()
            };
            let new = input.into_new(actor.user)?;
            deployments.push(new.into_deployment(self.ids.new_id(), actor.tenant, actor.user, now));
        }
        record(
            self.deployments.as_ref(),
            actor.tenant,
            environment,
            deployments,
            now,
        )
        .await
    }
}
