use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{
    differences, Actor, EnvironmentId, ExpectedComponent, Page, Permission, Target, TargetFilter,
    TargetId,
};
use terrane_ports::{
    AgentRepository, DeploymentViews, DriftService, EnvironmentRepository, ServiceError, Sticker,
    StoreError, TargetDrift, TargetRepository,
};

const READING: &str = "reading drift";

/// The drift use cases.
pub struct Drift {
    targets: Arc<dyn TargetRepository>,
    environments: Arc<dyn EnvironmentRepository>,
    views: Arc<dyn DeploymentViews>,
    agents: Arc<dyn AgentRepository>,
}

impl Drift {
    /// Wires the use cases to their ports.
    pub fn new(
        targets: Arc<dyn TargetRepository>,
        environments: Arc<dyn EnvironmentRepository>,
        views: Arc<dyn DeploymentViews>,
        agents: Arc<dyn AgentRepository>,
    ) -> Self {
        Self {
            targets,
            environments,
            views,
            agents,
        }
    }

    /// The drift of `target` against `sticker`, its environment's.
    async fn compare(
        &self,
        target: Target,
        sticker: Option<Sticker>,
    ) -> Result<TargetDrift, ServiceError> {
        let actual = self
            .agents
            .inventory(target.tenant, target.id)
            .await
            .map_err(|e| ServiceError::from_store(e, "target"))?;
        let expected: Vec<ExpectedComponent> = sticker
            .iter()
            .flat_map(|s| &s.components)
            .map(|c| ExpectedComponent {
                component_id: c.component_id.as_uuid(),
                component_name: c.component_name.clone(),
                digest: c.digest.clone(),
            })
            .collect();
        let differences = actual
            .as_ref()
            .map(|inventory| differences(&expected, &inventory.components))
            .unwrap_or_default();
        Ok(TargetDrift {
            target,
            expected: sticker,
            actual,
            differences,
        })
    }
}

fn store_error(error: StoreError, what: &str) -> ServiceError {
    ServiceError::from_store(error, what)
}

#[async_trait]
impl DriftService for Drift {
    async fn target(&self, actor: &Actor, id: TargetId) -> Result<TargetDrift, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        let target = self
            .targets
            .get(actor.tenant, id)
            .await
            .map_err(|e| store_error(e, "target"))?;
        let sticker = self
            .views
            .sticker(actor.tenant, id)
            .await
            .map_err(|e| store_error(e, "target"))?;
        self.compare(target, sticker).await
    }

    async fn environment(
        &self,
        actor: &Actor,
        id: EnvironmentId,
    ) -> Result<Vec<TargetDrift>, ServiceError> {
        authorize(actor, Permission::Read, READING)?;
        self.environments
            .get(actor.tenant, id)
            .await
            .map_err(|e| store_error(e, "environment"))?;
        let filter = TargetFilter {
            environment_id: Some(id),
            ..Default::default()
        };
        let mut targets = Vec::new();
        loop {
            let skip = i64::try_from(targets.len()).unwrap_or(i64::MAX);
            let page = Page::parse(Some(skip), Some(i64::from(Page::MAX_TAKE)))
                .map_err(|_| ServiceError::Internal("a page past 4 billion targets".into()))?;
            let (batch, total) = self
                .targets
                .list(actor.tenant, filter.clone(), page)
                .await
                .map_err(|e| store_error(e, "environment"))?;
            let done = batch.is_empty();
            targets.extend(batch);
            if done || targets.len() as u64 >= total {
                break;
            }
        }
        // The sticker belongs to the environment: read it once.
        let sticker = match targets.first() {
            Some(first) => self
                .views
                .sticker(actor.tenant, first.id)
                .await
                .map_err(|e| store_error(e, "environment"))?,
            None => None,
        };
        let mut lines = Vec::with_capacity(targets.len());
        for target in targets {
            lines.push(self.compare(target, sticker.clone()).await?);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;
    use terrane_domain::{
        AgentId, ComponentId, Inventory, InventoryComponent, Role, TargetInput, TenantId, UserId,
    };
    use terrane_ports::{
        MockAgentRepository, MockDeploymentViews, MockEnvironmentRepository, MockTargetRepository,
        StickerComponent,
    };
    use uuid::Uuid;

    const TENANT: TenantId = TenantId(Uuid::from_u128(7));

    fn actor() -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(1)),
            tenant: TENANT,
            roles: vec![Role::Viewer],
        }
    }

    fn target(id: TargetId) -> Target {
        let serde_json::Value::Object(connection) = json!({"host": "10.0.0.1", "port": 2375})
        else {
            unreachable!()
        };
        TargetInput {
            environment_id: Some(Uuid::from_u128(3)),
            name: Some("web".into()),
            target_type: Some("docker_host".into()),
            connection: Some(connection),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_target(id, TENANT, Utc::now())
    }

    fn service(agents: MockAgentRepository) -> Drift {
        let mut targets = MockTargetRepository::new();
        targets.expect_get().returning(|_, id| Ok(target(id)));
        let mut views = MockDeploymentViews::new();
        views.expect_sticker().returning(|_, _| {
            Ok(Some(Sticker {
                release: None,
                components: vec![StickerComponent {
                    component_id: ComponentId(Uuid::from_u128(9)),
                    component_name: "api".into(),
                    digest: Some("sha256:abc".into()),
                }],
                deployed_at: Utc::now(),
                deployed_by: "u".into(),
            }))
        });
        Drift::new(
            Arc::new(targets),
            Arc::new(MockEnvironmentRepository::new()),
            Arc::new(views),
            Arc::new(agents),
        )
    }

    #[tokio::test]
    async fn without_an_inventory_drift_is_undecided() {
        let mut agents = MockAgentRepository::new();
        agents.expect_inventory().returning(|_, _| Ok(None));
        let drift = service(agents)
            .target(&actor(), TargetId(Uuid::from_u128(4)))
            .await
            .unwrap();
        assert_eq!(drift.has_drift(), None);
        assert!(drift.differences.is_empty());
    }

    #[tokio::test]
    async fn a_wrong_digest_in_the_inventory_is_drift() {
        let mut agents = MockAgentRepository::new();
        agents.expect_inventory().returning(|tenant, target| {
            Ok(Some(Inventory {
                target_id: target,
                tenant,
                agent_id: AgentId(Uuid::from_u128(5)),
                collected_at: Utc::now(),
                received_at: Utc::now(),
                components: vec![InventoryComponent {
                    component_id: None,
                    component_name: Some("api".into()),
                    version: "2".into(),
                    digest: Some("sha256:def".into()),
                }],
            }))
        });
        let drift = service(agents)
            .target(&actor(), TargetId(Uuid::from_u128(4)))
            .await
            .unwrap();
        assert_eq!(drift.has_drift(), Some(true));
        assert_eq!(drift.differences[0].actual.as_deref(), Some("sha256:def"));
    }
}
