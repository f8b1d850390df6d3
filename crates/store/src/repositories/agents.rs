//! The `agents`, `agent_targets` and `target_inventories` tables and the `AgentRepository`
//! port.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::{agent_targets, agents, target_inventories, targets};
use crate::infra::tx::Access;
use crate::infra::types::{DbJson, DbTime, DbUuid};
use crate::repositories::targets::find;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};
use terrane_domain::{
    Agent, AgentId, Inventory, InventoryComponent, NewAgent, Page, TargetId, TenantId, UserId,
};
use terrane_ports::{AgentRepository, StoreError};
use uuid::Uuid;

/// One row of `agents`, without its token hash.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = agents)]
struct AgentRow {
    id: DbUuid,
    tenant_id: DbUuid,
    name: String,
    agent_version: Option<String>,
    last_seen_at: Option<DbTime>,
    created_by: DbUuid,
    created_at: DbTime,
}

/// The agent of `row`, with the targets it serves.
fn with_targets(conn: &mut DbConnection, row: AgentRow) -> Result<Agent, Failure> {
    let target_ids: Vec<DbUuid> = agent_targets::table
        .filter(agent_targets::agent_id.eq(row.id))
        .order_by(agent_targets::target_id.asc())
        .select(agent_targets::target_id)
        .load(conn)?;
    Ok(Agent {
        id: AgentId(row.id.0),
        tenant: TenantId(row.tenant_id.0),
        name: row.name,
        target_ids: target_ids.into_iter().map(|t| TargetId(t.0)).collect(),
        agent_version: row.agent_version,
        last_seen_at: row.last_seen_at.map(|t| t.0),
        created_by: UserId(row.created_by.0),
        created_at: row.created_at.0,
    })
}

fn find_agent(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: AgentId,
) -> Result<Option<Agent>, Failure> {
    let row = agents::table
        .filter(agents::id.eq(DbUuid(id.0)))
        .filter(agents::tenant_id.eq(DbUuid(tenant.0)))
        .select(AgentRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| with_targets(conn, row)).transpose()
}

fn component_json(c: &InventoryComponent) -> Value {
    json!({
        "componentId": c.component_id,
        "componentName": c.component_name,
        "version": c.version,
        "digest": c.digest,
    })
}

/// The components of a stored inventory.
fn components_from(stored: &Value) -> Result<Vec<InventoryComponent>, Failure> {
    stored
        .as_array()
        .map(|items| items.iter().map(component_from).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

fn component_from(value: &Value) -> Result<InventoryComponent, Failure> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let id = text("componentId")
        .map(|t| Uuid::parse_str(&t))
        .transpose()
        .map_err(|e| {
            Failure::Store(StoreError::Internal(format!(
                "an inventory holds an invalid component id: {e}"
            )))
        })?;
    Ok(InventoryComponent {
        component_id: id,
        component_name: text("componentName"),
        version: text("version").unwrap_or_default(),
        digest: text("digest"),
    })
}

#[async_trait]
impl AgentRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        id: AgentId,
        new: NewAgent,
        token_hash: String,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Agent, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let wanted: Vec<DbUuid> = new.target_ids.iter().map(|t| DbUuid(t.0)).collect();
            let found: i64 = targets::table
                .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
                .filter(targets::id.eq_any(wanted))
                .count()
                .get_result(conn)?;
            if usize::try_from(found).ok() != Some(new.target_ids.len()) {
                return Err(StoreError::MissingReference("targetIds".into()).into());
            }
            diesel::insert_into(agents::table)
                .values((
                    agents::id.eq(DbUuid(id.0)),
                    agents::tenant_id.eq(DbUuid(tenant.0)),
                    agents::name.eq(&new.name),
                    agents::token_hash.eq(&token_hash),
                    agents::created_by.eq(DbUuid(created_by.0)),
                    agents::created_at.eq(DbTime(now)),
                ))
                .execute(conn)
                .map_err(Failure::writing(&new.name))?;
            for target in &new.target_ids {
                diesel::insert_into(agent_targets::table)
                    .values((
                        agent_targets::tenant_id.eq(DbUuid(tenant.0)),
                        agent_targets::agent_id.eq(DbUuid(id.0)),
                        agent_targets::target_id.eq(DbUuid(target.0)),
                    ))
                    .execute(conn)?;
            }
            let agent = find_agent(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::of(
                    terrane_domain::Change::Registered,
                    &agent,
                    agent.created_at,
                ),
            )?;
            Ok(agent)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: AgentId) -> Result<Agent, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            find_agent(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Agent>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total: i64 = agents::table
                .filter(agents::tenant_id.eq(DbUuid(tenant.0)))
                .count()
                .get_result(conn)?;
            let rows = agents::table
                .filter(agents::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(agents::name.asc())
                .then_order_by(agents::id.asc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(AgentRow::as_select())
                .load(conn)?;
            let agents = rows
                .into_iter()
                .map(|row| with_targets(conn, row))
                .collect::<Result<_, _>>()?;
            // COUNT(*) is never negative.
            Ok((agents, total.unsigned_abs()))
        })
        .await
    }

    async fn delete(&self, tenant: TenantId, id: AgentId) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let deleted = diesel::delete(agents::table)
                .filter(agents::id.eq(DbUuid(id.0)))
                .filter(agents::tenant_id.eq(DbUuid(tenant.0)))
                .execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::Agent,
                tenant,
                id.0,
            )?;
            Ok(())
        })
        .await
    }

    async fn by_token_hash(&self, token_hash: String) -> Result<Option<Agent>, StoreError> {
        self.system_tx(move |conn| {
            let row = agents::table
                .filter(agents::token_hash.eq(token_hash))
                .select(AgentRow::as_select())
                .first(conn)
                .optional()?;
            row.map(|row| with_targets(conn, row)).transpose()
        })
        .await
    }

    async fn heartbeat(
        &self,
        tenant: TenantId,
        id: AgentId,
        agent_version: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Agent, StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let updated = diesel::update(agents::table)
                .filter(agents::id.eq(DbUuid(id.0)))
                .filter(agents::tenant_id.eq(DbUuid(tenant.0)))
                .set((
                    agents::agent_version.eq(agent_version),
                    agents::last_seen_at.eq(Some(DbTime(now))),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound.into());
            }
            find_agent(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn save_inventory(&self, inventory: Inventory) -> Result<Inventory, StoreError> {
        let tenant = inventory.tenant;
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            find(conn, tenant, inventory.target_id)?.ok_or(StoreError::NotFound)?;
            let target = DbUuid(inventory.target_id.0);
            let before = target_inventories::table
                .filter(target_inventories::target_id.eq(target))
                .filter(target_inventories::tenant_id.eq(DbUuid(tenant.0)))
                .select(target_inventories::components)
                .first::<DbJson>(conn)
                .optional()?
                .map(|components| components_from(&components.0))
                .transpose()?;
            // MultiBackend has no ON CONFLICT: replace in one transaction.
            diesel::delete(target_inventories::table)
                .filter(target_inventories::target_id.eq(target))
                .filter(target_inventories::tenant_id.eq(DbUuid(tenant.0)))
                .execute(conn)?;
            let components =
                Value::Array(inventory.components.iter().map(component_json).collect());
            diesel::insert_into(target_inventories::table)
                .values((
                    target_inventories::target_id.eq(target),
                    target_inventories::tenant_id.eq(DbUuid(tenant.0)),
                    target_inventories::agent_id.eq(DbUuid(inventory.agent_id.0)),
                    target_inventories::collected_at.eq(DbTime(inventory.collected_at)),
                    target_inventories::received_at.eq(DbTime(inventory.received_at)),
                    target_inventories::components.eq(DbJson(components)),
                ))
                .execute(conn)?;
            if let Some(event) =
                terrane_domain::NewEvent::inventory_reported(before.as_deref(), &inventory)
            {
                crate::repositories::events::record(conn, &actor, &event)?;
            }
            Ok(inventory)
        })
        .await
    }

    async fn inventory(
        &self,
        tenant: TenantId,
        target: TargetId,
    ) -> Result<Option<Inventory>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            find(conn, tenant, target)?.ok_or(StoreError::NotFound)?;
            let row: Option<(DbUuid, DbTime, DbTime, DbJson)> = target_inventories::table
                .filter(target_inventories::target_id.eq(DbUuid(target.0)))
                .filter(target_inventories::tenant_id.eq(DbUuid(tenant.0)))
                .select((
                    target_inventories::agent_id,
                    target_inventories::collected_at,
                    target_inventories::received_at,
                    target_inventories::components,
                ))
                .first(conn)
                .optional()?;
            let Some((agent, collected_at, received_at, components)) = row else {
                return Ok(None);
            };
            let components = components_from(&components.0)?;
            Ok(Some(Inventory {
                target_id: target,
                tenant,
                agent_id: AgentId(agent.0),
                collected_at: collected_at.0,
                received_at: received_at.0,
                components,
            }))
        })
        .await
    }
}
