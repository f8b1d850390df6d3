//! `/api/v1/agents` and `/api/v1/targets/{id}/inventory`: registering agents, their
//! heartbeats, and the inventories they report.

use crate::auth::{AgentAuthenticated, Authenticated};
use crate::environments::Deleted;
use crate::extract::{path_id, JsonBody, Query};
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::AppState;
use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrane_domain::{
    AgentId, FieldError, HealthStatus, Inventory, InventoryComponent, NewAgent, Page, TargetId,
    TargetReport,
};
use terrane_ports::AgentStatus;
use utoipa::ToSchema;
use uuid::Uuid;

fn health_status_schema() -> utoipa::openapi::Object {
    string_enum(HealthStatus::ALL.iter().map(|h| h.as_str()), "healthy")
}

/// An agent to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "edge-eu-1", "targetIds": ["01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80"]}))]
pub struct AgentBody {
    /// 1 to 100 letters, digits, `.`, `_` or `-`; unique in the organization.
    pub name: Option<String>,
    /// The targets it serves: the only ones it may report on.
    pub target_ids: Option<Vec<Uuid>>,
}

/// An agent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "edge-eu-1",
    "targetIds": ["01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80"],
    "agentVersion": "1.4.2",
    "lastSeenAt": "2026-01-10T14:23:45Z",
    "online": true,
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "createdAt": "2026-01-10T14:00:00Z"
}))]
pub struct AgentResponse {
    /// Id.
    pub id: Uuid,
    /// The organization it reports to.
    pub organization_id: Uuid,
    /// Its name.
    pub name: String,
    /// The targets it serves.
    pub target_ids: Vec<Uuid>,
    /// The version it reported at its last heartbeat.
    pub agent_version: Option<String>,
    /// Its last heartbeat.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Whether its last heartbeat is at most three heartbeat intervals old.
    pub online: bool,
    /// Who registered it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<AgentStatus> for AgentResponse {
    fn from(status: AgentStatus) -> Self {
        let agent = status.agent;
        Self {
            id: agent.id.0,
            organization_id: agent.tenant.as_uuid(),
            name: agent.name,
            target_ids: agent.target_ids.iter().map(|t| t.as_uuid()).collect(),
            agent_version: agent.agent_version,
            last_seen_at: agent.last_seen_at,
            online: status.online,
            created_by: agent.created_by.as_uuid(),
            created_at: agent.created_at,
        }
    }
}

/// A newly registered agent with its token, shown this once and never again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "edge-eu-1",
    "targetIds": ["01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80"],
    "agentVersion": null,
    "lastSeenAt": null,
    "online": false,
    "createdBy": "01936f6e-0000-7000-8000-0000000000aa",
    "createdAt": "2026-01-10T14:00:00Z",
    "token": "trn_agent_3f9a0c6e8b1d4f2a7c5e9b0d1a3f6c8e2b4d7f9a1c3e5b7d9f0a2c4e6b8d0f1a"
}))]
pub struct AgentCreated {
    /// The agent.
    #[serde(flatten)]
    pub agent: AgentResponse,
    /// `Authorization: Bearer <token>` for the agent's requests. Only its hash is stored.
    pub token: String,
}

/// One target's health as its agent sees it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetReportBody {
    /// A target the agent serves.
    pub target_id: Uuid,
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    #[schema(schema_with = health_status_schema)]
    pub status: String,
    /// Why.
    pub message: Option<String>,
}

/// A heartbeat: the agent's version and, per target it serves, its health (how
/// `ecs_service` targets get theirs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "version": "1.4.2",
    "targets": [{"targetId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80", "status": "healthy", "message": "2/2 tasks running"}]
}))]
pub struct HeartbeatBody {
    /// The agent's version.
    pub version: Option<String>,
    /// Health per served target.
    #[serde(default)]
    pub targets: Vec<TargetReportBody>,
}

/// One component found running.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryComponentBody {
    /// The catalog id; this or `componentName` is required.
    pub component_id: Option<Uuid>,
    /// The component name.
    pub component_name: Option<String>,
    /// The version running.
    pub version: Option<String>,
    /// The image digest running.
    pub digest: Option<String>,
}

/// What runs on a target, as its agent found it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "collectedAt": "2026-01-10T14:23:40Z",
    "components": [{"componentName": "api", "version": "2.3.1", "digest": "sha256:abc123"}]
}))]
pub struct InventoryBody {
    /// When the agent looked.
    pub collected_at: Option<DateTime<Utc>>,
    /// What runs.
    pub components: Option<Vec<InventoryComponentBody>>,
}

/// The latest inventory of a target.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "targetId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a80",
    "agentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5aa0",
    "collectedAt": "2026-01-10T14:23:40Z",
    "receivedAt": "2026-01-10T14:23:45Z",
    "components": [{"componentId": null, "componentName": "api", "version": "2.3.1", "digest": "sha256:abc123"}]
}))]
pub struct InventoryResponse {
    /// The target.
    pub target_id: Uuid,
    /// The agent that reported it.
    pub agent_id: Uuid,
    /// When the agent looked.
    pub collected_at: DateTime<Utc>,
    /// When terrane received it.
    pub received_at: DateTime<Utc>,
    /// What runs.
    pub components: Vec<InventoryComponentBody>,
}

impl From<Inventory> for InventoryResponse {
    fn from(inventory: Inventory) -> Self {
        Self {
            target_id: inventory.target_id.as_uuid(),
            agent_id: inventory.agent_id.0,
            collected_at: inventory.collected_at,
            received_at: inventory.received_at,
            components: inventory
                .components
                .into_iter()
                .map(|c| InventoryComponentBody {
                    component_id: c.component_id,
                    component_name: c.component_name,
                    version: Some(c.version),
                    digest: c.digest,
                })
                .collect(),
        }
    }
}

/// Register an agent (admin). The answer carries its token, shown this once.
#[utoipa::path(
    tag = "agents",
    request_body = AgentBodyDoc,
    responses(
        (status = 201, description = "Registered", body = AgentCreated,
         headers(("Location" = String, description = "The agent's URL"))),
        (status = 400, description = "Bad name, or a target not in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/agents")]
pub async fn create_agent(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<AgentBody>,
) -> Result<HttpResponse, Problem> {
    let body = body.value;
    let new = NewAgent::parse(body.name.as_deref(), body.target_ids)?;
    let (status, token) = state.agents.register(&actor, new).await?;
    let url = format!("/api/v1/agents/{}", status.agent.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AgentCreated {
            agent: AgentResponse::from(status),
            token,
        }))
}

/// List agents by name (any role).
#[utoipa::path(
    tag = "agents",
    params(
        ("skip" = Option<i64>, Query, description = "Rows to skip (default 0)"),
        ("take" = Option<i64>, Query, description = "Rows to return (default 20, at most 100)"),
    ),
    responses(
        (status = 200, description = "The page of agents", body = Vec<AgentResponse>,
         headers(("X-Total-Count" = u64, description = "All agents"))),
        (status = 400, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/agents")]
pub async fn list_agents(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    let (agents, total) = state.agents.list(&actor, page).await?;
    Ok(crate::paging::page_of(&req, page, total).json(
        agents
            .into_iter()
            .map(AgentResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Get one agent (any role).
#[utoipa::path(
    tag = "agents",
    params(("id" = Uuid, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent", body = AgentResponse),
        (status = 404, description = "No such agent in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/agents/{id}")]
pub async fn get_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = AgentId(path_id(&req, "id")?);
    let status = state.agents.get(&actor, id).await?;
    Ok(HttpResponse::Ok().json(AgentResponse::from(status)))
}

/// Revoke an agent (admin): its token stops working at once.
#[utoipa::path(
    tag = "agents",
    params(("id" = Uuid, Path, description = "Agent id")),
    responses(
        (status = 200, description = "Revoked", body = Deleted),
        (status = 404, description = "No such agent in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/agents/{id}")]
pub async fn delete_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = AgentId(path_id(&req, "id")?);
    state.agents.revoke(&actor, id).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

/// An agent's heartbeat, with its agent token: its version and the health of the targets it
/// serves.
#[utoipa::path(
    tag = "agents",
    params(("id" = Uuid, Path, description = "The agent's own id")),
    request_body = HeartbeatBody,
    responses(
        (status = 200, description = "Recorded", body = AgentResponse),
        (status = 401, description = "Unknown or revoked agent token", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Bad fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another agent's id, a target it does not serve, or a person's token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/agents/{id}/heartbeat")]
pub async fn agent_heartbeat(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentAuthenticated(agent): AgentAuthenticated,
    body: JsonBody<HeartbeatBody>,
) -> Result<HttpResponse, Problem> {
    let id = AgentId(path_id(&req, "id")?);
    let body = body.value;
    let mut errors = Vec::new();
    let mut reports = Vec::new();
    for (i, report) in body.targets.into_iter().enumerate() {
        match HealthStatus::parse_field(&report.status, &format!("targets[{i}].status")) {
            Ok(status) => reports.push(TargetReport {
                target_id: TargetId(report.target_id),
                status,
                message: report.message.unwrap_or_default(),
            }),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(&errors));
    }
    let status = state
        .agents
        .heartbeat(&agent, id, body.version, reports)
        .await?;
    Ok(HttpResponse::Ok().json(AgentResponse::from(status)))
}

/// Report what runs on a target, with the agent token of an agent that serves it; replaces
/// the target's latest inventory.
#[utoipa::path(
    tag = "agents",
    params(("id" = Uuid, Path, description = "Target id")),
    request_body = InventoryBody,
    responses(
        (status = 200, description = "Kept as the latest inventory", body = InventoryResponse),
        (status = 401, description = "Unknown or revoked agent token", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Bad fields, each named", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A target the agent does not serve, or a person's token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/targets/{id}/inventory")]
pub async fn report_inventory(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentAuthenticated(agent): AgentAuthenticated,
    body: JsonBody<InventoryBody>,
) -> Result<HttpResponse, Problem> {
    let target = TargetId(path_id(&req, "id")?);
    let body = body.value;
    let mut errors = Vec::new();
    if body.collected_at.is_none() {
        errors.push(FieldError::new("collectedAt", "is required"));
    }
    if body.components.is_none() {
        errors.push(FieldError::new("components", "is required"));
    }
    let mut components = Vec::new();
    for (i, c) in body.components.unwrap_or_default().into_iter().enumerate() {
        match InventoryComponent::parse(i, c.component_id, c.component_name, c.version, c.digest) {
            Ok(component) => components.push(component),
            Err(bad) => errors.extend(bad),
        }
    }
    let (Some(collected_at), true) = (body.collected_at, errors.is_empty()) else {
        return Err(Problem::validation(&errors));
    };
    let inventory = state
        .agents
        .report_inventory(&agent, target, collected_at, components)
        .await?;
    Ok(HttpResponse::Ok().json(InventoryResponse::from(inventory)))
}

/// The latest inventory of a target (any role).
#[utoipa::path(
    tag = "agents",
    params(("id" = Uuid, Path, description = "Target id")),
    responses(
        (status = 200, description = "What its agent last reported", body = InventoryResponse),
        (status = 404, description = "No such target in your organization, or no inventory reported yet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/targets/{id}/inventory")]
pub async fn get_inventory(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let target = TargetId(path_id(&req, "id")?);
    let inventory = state.agents.inventory(&actor, target).await?;
    Ok(HttpResponse::Ok().json(InventoryResponse::from(inventory)))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`AgentBody`]).
    AgentBodyDoc as "AgentBody" = AgentBody, ["name"]
);
