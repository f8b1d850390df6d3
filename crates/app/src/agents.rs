use crate::authorize;
use async_trait::async_trait;
use chrono::{DateTime, Duration};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use terrane_domain::{
    Actor, Agent, AgentId, HealthCheck, HealthCheckId, Inventory, InventoryComponent, NewAgent,
    Page, Permission, ProbeOutcome, TargetId, TargetReport, AGENT_TOKEN_PREFIX,
};
use terrane_ports::{
    AgentRepository, AgentService, AgentStatus, Clock, HealthCheckRepository, IdSource,
    ServiceError, StoreError,
};

/// The SHA-256 of a token, in hex: all that is stored of it. Tokens carry 256 random bits,
/// so a fast hash is enough; a slow one would only slow every agent request.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh token: the prefix and 256 random bits in hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{AGENT_TOKEN_PREFIX}{hex}")
}

/// The agent use cases.
pub struct Agents {
    agents: Arc<dyn AgentRepository>,
    checks: Arc<dyn HealthCheckRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    heartbeat_interval: Duration,
}

impl Agents {
    /// Wires the use cases to their ports; an agent is online while its last heartbeat is
    /// at most three `heartbeat_interval`s old.
    pub fn new(
        agents: Arc<dyn AgentRepository>,
        checks: Arc<dyn HealthCheckRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
        heartbeat_interval: Duration,
    ) -> Self {
        Self {
            agents,
            checks,
            clock,
            ids,
            heartbeat_interval,
        }
    }

    fn status(&self, agent: Agent) -> AgentStatus {
        let online = agent.online(self.clock.now(), self.heartbeat_interval);
        AgentStatus { agent, online }
    }
}

fn store_error(error: StoreError, what: &str) -> ServiceError {
    match error {
        StoreError::MissingReference(field) => {
            ServiceError::Validation(terrane_domain::ValidationErrors::single(
                field,
                "lists a target that does not exist in your organization",
            ))
        }
        other => ServiceError::from_store(other, what),
    }
}

fn not_served(target: TargetId) -> ServiceError {
    ServiceError::Forbidden(format!("this agent does not serve target {target}"))
}

#[async_trait]
impl AgentService for Agents {
    async fn register(
        &self,
        actor: &Actor,
        new: NewAgent,
    ) -> Result<(AgentStatus, String), ServiceError> {
        authorize(actor, Permission::Administer, "registering an agent")?;
        let token = new_token();
        let agent = self
            .agents
            .create(
                actor.tenant,
                AgentId(self.ids.new_id()),
                new,
                token_hash(&token),
                actor.user,
                self.clock.now(),
            )
            .await
            .map_err(|e| store_error(e, "agent"))?;
        Ok((self.status(agent), token))
    }

    async fn get(&self, actor: &Actor, id: AgentId) -> Result<AgentStatus, ServiceError> {
        authorize(actor, Permission::Read, "reading agents")?;
        let agent = self
            .agents
            .get(actor.tenant, id)
            .await
            .map_err(|e| store_error(e, "agent"))?;
        Ok(self.status(agent))
    }

    async fn list(
        &self,
        actor: &Actor,
        page: Page,
    ) -> Result<(Vec<AgentStatus>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading agents")?;
        let (agents, total) = self
            .agents
            .list(actor.tenant, page)
            .await
            .map_err(|e| store_error(e, "agent"))?;
        Ok((agents.into_iter().map(|a| self.status(a)).collect(), total))
    }

    async fn revoke(&self, actor: &Actor, id: AgentId) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "revoking an agent")?;
        self.agents
            .delete(actor.tenant, id)
            .await
            .map_err(|e| store_error(e, "agent"))
    }

    async fn authenticate(&self, token: &str) -> Result<Option<Agent>, ServiceError> {
        if !token.starts_with(AGENT_TOKEN_PREFIX) {
            return Ok(None);
        }
        self.agents
            .by_token_hash(token_hash(token))
            .await
            .map_err(|e| store_error(e, "agent"))
    }

    async fn heartbeat(
        &self,
        agent: &Agent,
        id: AgentId,
        agent_version: Option<String>,
        reports: Vec<TargetReport>,
    ) -> Result<AgentStatus, ServiceError> {
        if id != agent.id {
            return Err(ServiceError::Forbidden(
                "an agent may only send its own heartbeat".into(),
            ));
        }
        if let Some(report) = reports.iter().find(|r| !agent.serves(r.target_id)) {
            return Err(not_served(report.target_id));
        }
        let now = self.clock.now();
        let updated = self
            .agents
            .heartbeat(agent.tenant, agent.id, agent_version, now)
            .await
            .map_err(|e| store_error(e, "agent"))?;
        for report in reports {
            let interval = self
                .checks
                .interval(agent.tenant, report.target_id)
                .await
                .map_err(|e| store_error(e, "target"))?;
            let check = HealthCheck::new(
                HealthCheckId(self.ids.new_id()),
                agent.tenant,
                report.target_id,
                ProbeOutcome::new(report.status, report.message),
                now,
            );
            self.checks
                .record(check, interval)
                .await
                .map_err(|e| store_error(e, "target"))?;
        }
        Ok(self.status(updated))
    }

    async fn report_inventory(
        &self,
        agent: &Agent,
        target: TargetId,
        collected_at: DateTime<chrono::Utc>,
        components: Vec<InventoryComponent>,
    ) -> Result<Inventory, ServiceError> {
        if !agent.serves(target) {
            return Err(not_served(target));
        }
        let inventory = Inventory {
            target_id: target,
            tenant: agent.tenant,
            agent_id: agent.id,
            collected_at: terrane_domain::time::truncate(collected_at),
            received_at: self.clock.now(),
            components,
        };
        self.agents
            .save_inventory(inventory)
            .await
            .map_err(|e| store_error(e, "target"))
    }

    async fn inventory(&self, actor: &Actor, target: TargetId) -> Result<Inventory, ServiceError> {
        authorize(actor, Permission::Read, "reading inventories")?;
        self.agents
            .inventory(actor.tenant, target)
            .await
            .map_err(|e| store_error(e, "target"))?
            .ok_or_else(|| ServiceError::NotFound("inventory of this target".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use terrane_domain::{HealthStatus, Role, TenantId, UserId};
    use terrane_ports::{MockAgentRepository, MockClock, MockHealthCheckRepository, MockIdSource};
    use uuid::Uuid;

    fn agent(targets: &[u128]) -> Agent {
        Agent {
            id: AgentId(Uuid::from_u128(5)),
            tenant: TenantId(Uuid::from_u128(7)),
            name: "edge".into(),
            target_ids: targets
                .iter()
                .map(|t| TargetId(Uuid::from_u128(*t)))
                .collect(),
            agent_version: None,
            last_seen_at: None,
            created_by: UserId(Uuid::from_u128(1)),
            created_at: Utc::now(),
        }
    }

    fn service(repo: MockAgentRepository, checks: MockHealthCheckRepository) -> Agents {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        Agents::new(
            Arc::new(repo),
            Arc::new(checks),
            Arc::new(clock),
            Arc::new(ids),
            Duration::seconds(30),
        )
    }

    #[tokio::test]
    async fn a_registered_agent_gets_a_prefixed_token_of_which_only_the_hash_is_stored() {
        let mut repo = MockAgentRepository::new();
        repo.expect_create()
            .times(1)
            .returning(|tenant, id, new, hash, by, now| {
                assert_eq!(hash.len(), 64);
                assert!(!hash.starts_with(AGENT_TOKEN_PREFIX));
                Ok(Agent {
                    id,
                    tenant,
                    name: new.name,
                    target_ids: new.target_ids,
                    agent_version: Some(hash),
                    last_seen_at: None,
                    created_by: by,
                    created_at: now,
                })
            });
        let admin = Actor {
            user: UserId(Uuid::from_u128(1)),
            tenant: TenantId(Uuid::from_u128(7)),
            roles: vec![Role::Admin],
        };
        let new = NewAgent::parse(Some("edge"), None).unwrap();
        let (status, token) = service(repo, MockHealthCheckRepository::new())
            .register(&admin, new)
            .await
            .unwrap();
        assert!(token.starts_with(AGENT_TOKEN_PREFIX) && token.len() == 10 + 64);
        // The mock echoed the stored hash in agent_version.
        assert_eq!(status.agent.agent_version, Some(token_hash(&token)));
        assert!(!status.online);
    }

    #[tokio::test]
    async fn an_agent_may_heartbeat_only_for_itself_and_report_only_its_targets() {
        let mut repo = MockAgentRepository::new();
        repo.expect_heartbeat().never();
        let service = service(repo, MockHealthCheckRepository::new());
        let me = agent(&[1]);
        let other = AgentId(Uuid::from_u128(6));
        let error = service
            .heartbeat(&me, other, None, vec![])
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(_)));
        let report = TargetReport {
            target_id: TargetId(Uuid::from_u128(2)),
            status: HealthStatus::Healthy,
            message: "ok".into(),
        };
        let error = service
            .heartbeat(&me, me.id, None, vec![report])
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(m) if m.contains("does not serve")));
        let error = service
            .report_inventory(&me, TargetId(Uuid::from_u128(2)), Utc::now(), vec![])
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(_)));
    }

    #[tokio::test]
    async fn a_token_without_the_prefix_is_no_agent_and_is_not_looked_up() {
        let mut repo = MockAgentRepository::new();
        repo.expect_by_token_hash().never();
        let found = service(repo, MockHealthCheckRepository::new())
            .authenticate("eyJhbGciOiJIUzI1NiJ9.x.y")
            .await
            .unwrap();
        assert_eq!(found, None);
    }
}
