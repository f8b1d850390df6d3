//! How each resource appears in the `data` of its events: camelCase, as on the wire, without
//! secrets (a target's connection, a service account's secret hash).

use crate::event::{Recorded, SubjectKind};
use crate::ids::TenantId;
use crate::{
    Agent, Component, EnvironmentRequest, FreezeWindow, Project, Release, Run, ServiceAccount,
    Target, TargetGroup, Template, Webhook,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) fn time(at: DateTime<Utc>) -> Value {
    Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

pub(crate) fn opt_time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, time)
}

macro_rules! recorded {
    ($type:ty, $kind:expr, |$it:ident| $data:expr) => {
        impl Recorded for $type {
            const KIND: SubjectKind = $kind;

            fn subject_id(&self) -> Uuid {
                self.id.0
            }

            fn organization(&self) -> TenantId {
                self.tenant
            }

            fn event_data(&self) -> Value {
                let $it = self;
                $data
            }
        }
    };
}

recorded!(Component, SubjectKind::Component, |c| json!({
    "id": c.id.0,
    "organizationId": c.tenant.0,
    "name": c.name.as_str(),
    "kind": c.kind.as_str(),
    "owner": c.owner,
    "lifecycle": c.lifecycle.as_str(),
    "description": c.description,
    "version": c.version,
    "createdAt": time(c.created_at),
    "updatedAt": time(c.updated_at),
}));

recorded!(FreezeWindow, SubjectKind::FreezeWindow, |w| json!({
    "id": w.id.0,
    "organizationId": w.tenant.0,
    "environmentId": w.environment_id.0,
    "start": time(w.start),
    "end": time(w.end),
    "reason": w.reason,
    "exceptions": w.exceptions.iter().map(|u| u.0).collect::<Vec<_>>(),
    "createdBy": w.created_by.0,
    "createdAt": time(w.created_at),
}));

recorded!(TargetGroup, SubjectKind::TargetGroup, |g| json!({
    "id": g.id.0,
    "number": g.number.get(),
    "organizationId": g.tenant.0,
    "name": g.name.as_str(),
    "displayName": g.display_name,
    "description": g.description,
    "isActive": g.is_active,
    "version": g.version,
    "createdAt": time(g.created_at),
    "updatedAt": time(g.updated_at),
}));

recorded!(Target, SubjectKind::Target, |t| json!({
    "id": t.id.0,
    "organizationId": t.tenant.0,
    "environmentId": t.environment_id.0,
    "targetGroupId": t.target_group_id.map(|g| g.0),
    "name": t.name.as_str(),
    "targetType": t.target_type().as_str(),
    "deploymentDirectory": t.deployment_directory,
    "healthStatus": t.health_status.as_str(),
    "healthMessage": t.health_message,
    "lastHealthCheckAt": opt_time(t.last_health_check_at),
    "version": t.version,
    "createdAt": time(t.created_at),
    "updatedAt": time(t.updated_at),
}));

recorded!(
    EnvironmentRequest,
    SubjectKind::EnvironmentRequest,
    |r| json!({
        "id": r.id.0,
        "organizationId": r.tenant.0,
        "name": r.name.as_str(),
        "description": r.description,
        "type": r.environment_type.as_str(),
        "tier": r.tier.as_str(),
        "ttlHours": r.ttl_hours,
        "componentId": r.component_id.map(|c| c.0),
        "status": r.status.as_str(),
        "statusMessage": r.status_message,
        "requestedBy": r.requested_by.0,
        "reviewedBy": r.reviewed_by.map(|u| u.0),
        "reviewComment": r.review_comment,
        "environmentId": r.environment_id.map(|e| e.0),
        "provisionedAt": opt_time(r.provisioned_at),
        "expiresAt": opt_time(r.expires_at),
        "version": r.version,
        "createdAt": time(r.created_at),
        "updatedAt": time(r.updated_at),
    })
);

recorded!(Release, SubjectKind::Release, |r| json!({
    "id": r.id.0,
    "organizationId": r.tenant.0,
    "name": r.name,
    "components": r.components.iter().map(|c| json!({
        "componentId": c.component_id.0,
        "version": c.version.as_str(),
        "digest": c.digest.as_ref().map(|d| d.as_str()),
    })).collect::<Vec<_>>(),
    "createdBy": r.created_by.0,
    "createdAt": time(r.created_at),
}));

recorded!(Agent, SubjectKind::Agent, |a| json!({
    "id": a.id.0,
    "organizationId": a.tenant.0,
    "name": a.name,
    "targetIds": a.target_ids.iter().map(|t| t.0).collect::<Vec<_>>(),
    "agentVersion": a.agent_version,
    "lastSeenAt": opt_time(a.last_seen_at),
    "createdBy": a.created_by.0,
    "createdAt": time(a.created_at),
}));

recorded!(Project, SubjectKind::Project, |p| json!({
    "id": p.id.0,
    "number": p.number.get(),
    "organizationId": p.tenant.0,
    "name": p.name.as_str(),
    "description": p.description,
    "projectManager": p.project_manager,
    "creator": p.creator,
    "version": p.version,
    "createdAt": time(p.created_at),
}));

recorded!(ServiceAccount, SubjectKind::ServiceAccount, |s| json!({
    "id": s.id.0,
    "organizationId": s.tenant.0,
    "name": s.name,
    "description": s.description,
    "roles": s.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    "login": s.login,
    "createdBy": s.created_by.0,
    "createdAt": time(s.created_at),
    "secretIssuedAt": time(s.secret_issued_at),
}));

recorded!(Template, SubjectKind::Template, |t| json!({
    "id": t.id.0,
    "organizationId": t.tenant.0,
    "name": t.name,
    "version": t.version,
    "description": t.description,
    "createWorkflow": t.create_workflow,
    "destroyWorkflow": t.destroy_workflow,
    "revision": t.version_number,
    "createdAt": time(t.created_at),
    "updatedAt": time(t.updated_at),
}));

recorded!(Run, SubjectKind::Run, |r| json!({
    "id": r.id.0,
    "organizationId": r.tenant.0,
    "environmentId": r.environment.0,
    "workflow": r.workflow,
    "status": r.status.as_str(),
    "startedBy": r.started_by.map(|u| u.0),
    "destroys": r.destroys,
    "requestedAt": time(r.requested_at),
    "startedAt": opt_time(r.started_at),
    "finishedAt": opt_time(r.finished_at),
    "steps": r.steps.iter().map(|s| json!({
        "name": s.name,
        "status": s.status.as_str(),
    })).collect::<Vec<_>>(),
}));

// Neither the secret nor the URL's path and query (a chat webhook's URL is its token): events
// are read by every role, webhooks are an administrator's.
recorded!(Webhook, SubjectKind::Webhook, |w| json!({
    "id": w.id.0,
    "organizationId": w.tenant.0,
    "origin": w.url.origin(),
    "types": w.types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
    "active": w.active,
    "version": w.version,
    "createdBy": w.created_by.0,
    "createdAt": time(w.created_at),
    "updatedAt": time(w.updated_at),
}));
