//! Agents and the inventories they report: where they are kept, and the use cases.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, Agent, AgentId, Inventory, InventoryComponent, NewAgent, Page, TargetId, TargetReport,
    TenantId, UserId,
};

/// Where agents, their targets and the latest inventory of each target are kept.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AgentRepository: Send + Sync {
    /// Stores a new agent with the SHA-256 hash of its token (never the token).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] naming `targetIds` when a listed target is not the
    /// tenant's.
    async fn create(
        &self,
        tenant: TenantId,
        id: AgentId,
        new: NewAgent,
        token_hash: String,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Agent, StoreError>;

    /// One agent.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such agent.
    async fn get(&self, tenant: TenantId, id: AgentId) -> Result<Agent, StoreError>;

    /// A page of the tenant's agents by name, and how many there are.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Agent>, u64), StoreError>;

    /// Deletes an agent; its token stops working at once.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn delete(&self, tenant: TenantId, id: AgentId) -> Result<(), StoreError>;

    /// The agent, of any tenant, whose token hashes to `token_hash`.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn by_token_hash(&self, token_hash: String) -> Result<Option<Agent>, StoreError>;

    /// Records a heartbeat: the agent's version and the time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the agent was deleted meanwhile.
    async fn heartbeat(
        &self,
        tenant: TenantId,
        id: AgentId,
        agent_version: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Agent, StoreError>;

    /// Replaces the latest inventory of its target.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the target or the agent is gone.
    async fn save_inventory(&self, inventory: Inventory) -> Result<Inventory, StoreError>;

    /// The latest inventory of a target, if any was reported.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such target.
    async fn inventory(
        &self,
        tenant: TenantId,
        target: TargetId,
    ) -> Result<Option<Inventory>, StoreError>;
}

/// An agent with whether it is online (a heartbeat within three heartbeat intervals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    /// The agent.
    pub agent: Agent,
    /// Whether it is online now.
    pub online: bool,
}

/// Managing agents, and what agents may do.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AgentService: Send + Sync {
    /// Registers an agent (admin) and returns it with its token, which exists nowhere else
    /// afterwards.
    ///
    /// # Errors
    /// `Forbidden` without the admin role; `Validation` for a bad name or a target that is
    /// not the tenant's.
    async fn register(
        &self,
        actor: &Actor,
        new: NewAgent,
    ) -> Result<(AgentStatus, String), ServiceError>;

    /// One agent (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn get(&self, actor: &Actor, id: AgentId) -> Result<AgentStatus, ServiceError>;

    /// A page of agents by name and their number (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        page: Page,
    ) -> Result<(Vec<AgentStatus>, u64), ServiceError>;

    /// Deletes an agent (admin); its token stops working at once.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    async fn revoke(&self, actor: &Actor, id: AgentId) -> Result<(), ServiceError>;

    /// The agent a token belongs to, or `None` for a token that is not (or no longer) one.
    ///
    /// # Errors
    /// `Unavailable` or `Internal` when storage fails.
    async fn authenticate(&self, token: &str) -> Result<Option<Agent>, ServiceError>;

    /// A heartbeat of `agent` on its own record `id`, with its version and a health report
    /// per target it serves, kept as those targets' health checks.
    ///
    /// # Errors
    /// `Forbidden` when `id` is another agent or a report names a target it does not serve.
    async fn heartbeat(
        &self,
        agent: &Agent,
        id: AgentId,
        agent_version: Option<String>,
        reports: Vec<TargetReport>,
    ) -> Result<AgentStatus, ServiceError>;

    /// Replaces the latest inventory of a target `agent` serves.
    ///
    /// # Errors
    /// `Forbidden` for a target it does not serve; `NotFound` when the target is gone.
    async fn report_inventory(
        &self,
        agent: &Agent,
        target: TargetId,
        collected_at: DateTime<Utc>,
        components: Vec<InventoryComponent>,
    ) -> Result<Inventory, ServiceError>;

    /// The latest inventory of a target (any role).
    ///
    /// # Errors
    /// `NotFound` when the tenant has no such target or no inventory was reported for it.
    async fn inventory(&self, actor: &Actor, target: TargetId) -> Result<Inventory, ServiceError>;
}
