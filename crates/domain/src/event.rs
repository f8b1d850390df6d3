//! The event log: what changed, in which organization, by whom, when.
//!
//! Every change of state is recorded as an [`Event`] in the same transaction as the change
//! (an outbox). Which event a change produces is decided here: an adapter that writes a
//! change asks this module for its [`NewEvent`] (say, [`NewEvent::created`] for a new
//! environment) and stores it beside the row, and never spells an event type itself.

use crate::deployment::{Deployment, DeploymentStatus};
use crate::environment::Environment;
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The position of an event in the log, and what a reader resumes after.
///
/// Events are ordered by `(tx, seq)`: `tx` orders the writing transactions as they became
/// visible to readers (on PostgreSQL the writing transaction's id, which a reader only
/// passes once every transaction before it has ended; on SQLite, where writes are
/// serialized, always 0), `seq` the events (a sequence number, unique in the log). Printed
/// and parsed as `<tx>.<seq>`; clients treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventCursor {
    /// The writing transaction's place (0 on SQLite).
    pub tx: i64,
    /// The event's number.
    pub seq: i64,
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.tx, self.seq)
    }
}

impl FromStr for EventCursor {
    type Err = String;

    /// Accepts what [`fmt::Display`] prints, and a bare number as `0.<seq>`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an event cursor (expected the id of an event)");
        let (tx, seq) = match s.split_once('.') {
            Some((tx, seq)) => (tx, seq),
            None => ("0", s),
        };
        let tx: i64 = tx.parse().map_err(|_| bad())?;
        let seq: i64 = seq.parse().map_err(|_| bad())?;
        if tx < 0 || seq < 0 {
            return Err(bad());
        }
        Ok(EventCursor { tx, seq })
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// The kind of resource (`environment`, `deployment`, `freeze_window`, ...).
    pub kind: String,
    /// Its id.
    pub id: Uuid,
}

/// The kinds of resource events are about. Their names start event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// An environment.
    Environment,
    /// A deployment.
    Deployment,
    /// A freeze window.
    FreezeWindow,
    /// A component.
    Component,
    /// A target group.
    TargetGroup,
    /// A target.
    Target,
    /// A release.
    Release,
    /// An environment request.
    EnvironmentRequest,
    /// An agent.
    Agent,
    /// A project.
    Project,
    /// A service account.
    ServiceAccount,
    /// An environment template.
    Template,
    /// A run of a workflow.
    Run,
    /// A webhook.
    Webhook,
}

impl SubjectKind {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            SubjectKind::Environment => "environment",
            SubjectKind::Deployment => "deployment",
            SubjectKind::FreezeWindow => "freeze_window",
            SubjectKind::Component => "component",
            SubjectKind::TargetGroup => "target_group",
            SubjectKind::Target => "target",
            SubjectKind::Release => "release",
            SubjectKind::EnvironmentRequest => "environment_request",
            SubjectKind::Agent => "agent",
            SubjectKind::Project => "project",
            SubjectKind::ServiceAccount => "service_account",
            SubjectKind::Template => "template",
            SubjectKind::Run => "run",
            SubjectKind::Webhook => "webhook",
        }
    }
}

/// What happened to a subject: the second half of an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// It was created.
    Created,
    /// Some of its fields changed.
    Updated,
    /// It was deleted.
    Deleted,
    /// Its status moved (`data` carries `from` and `to`).
    StatusChanged,
    /// It was approved (a deployment).
    Approved,
    /// It began (a freeze window reaching its start).
    Started,
    /// It ended (a freeze window reaching its end).
    Ended,
    /// It was registered (an agent).
    Registered,
    /// An action was taken on it (an environment's `cancel`, `reset`, `destroy`).
    ActionTaken,
    /// Its health status changed (a target).
    HealthChanged,
    /// What runs on it changed, as its agent reported (a target).
    InventoryChanged,
}

impl Change {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
            Change::StatusChanged => "status_changed",
            Change::Approved => "approved",
            Change::Started => "started",
            Change::Ended => "ended",
            Change::Registered => "registered",
            Change::ActionTaken => "action_taken",
            Change::HealthChanged => "health_changed",
            Change::InventoryChanged => "inventory_changed",
        }
    }
}

/// An event type, `<subject kind>.<change>` (`deployment.status_changed`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(String);

impl EventType {
    /// The type of `change` to a subject of `kind`.
    pub fn of(kind: SubjectKind, change: Change) -> EventType {
        EventType(format!("{}.{}", kind.as_str(), change.as_str()))
    }

    /// A type as stored or asked for: lower-case words joined by `_`, a dot between the
    /// kind and the change. Types no version of terrane writes are accepted (a filter on
    /// them matches nothing).
    ///
    /// # Errors
    /// A message naming the text when it is not shaped like a type.
    pub fn parse(text: &str) -> Result<EventType, String> {
        let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        match text.split_once('.') {
            Some((kind, change)) if word(kind) && word(change) && text.len() <= 100 => {
                Ok(EventType(text.to_owned()))
            }
            _ => Err(format!(
                "`{text}` is not an event type (expected e.g. `deployment.status_changed`)"
            )),
        }
    }

    /// The type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many events one read answers when the reader does not say.
pub const DEFAULT_TAKE: u32 = 100;
/// The most events one read answers.
pub const MAX_TAKE: u32 = 1000;

/// How many events a reader asks for: [`DEFAULT_TAKE`] when it does not say, at most
/// [`MAX_TAKE`].
///
/// # Errors
/// A message when `take` is below 1 or above [`MAX_TAKE`].
pub fn parse_take(take: Option<i64>) -> Result<u32, String> {
    match take {
        None => Ok(DEFAULT_TAKE),
        Some(n) if (1..=i64::from(MAX_TAKE)).contains(&n) => Ok(n as u32),
        Some(n) => Err(format!("must be between 1 and {MAX_TAKE}, not {n}")),
    }
}

/// A comma-separated list of event types (empty items ignored).
///
/// # Errors
/// A message naming the first item that is not shaped like a type.
pub fn parse_types(list: &str) -> Result<Vec<EventType>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(EventType::parse)
        .collect()
}

/// The actor of work no request asked for (expiry, sweeps, freeze windows beginning).
pub const SYSTEM_ACTOR: &str = "system";

/// An event as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its place in the log.
    pub id: EventCursor,
    /// What happened.
    pub event_type: EventType,
    /// The organization it happened in.
    pub organization_id: TenantId,
    /// To what.
    pub subject: Subject,
    /// Who did it: the token's subject (a user or service account id), or
    /// [`SYSTEM_ACTOR`] for background work.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The subject's representation after the change (for a deletion, what it was), plus
    /// `from` and `to` for a status change.
    pub data: Value,
}

/// An event about to be stored with a change: everything but its place in the log and its
/// actor, which the adapter adds from the request writing it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub event_type: EventType,
    /// The organization.
    pub organization_id: TenantId,
    /// To what.
    pub subject: Subject,
    /// When.
    pub at: DateTime<Utc>,
    /// See [`Event::data`].
    pub data: Value,
}

/// A resource events are about: its kind, id, organization and representation.
pub trait Recorded {
    /// Its kind.
    const KIND: SubjectKind;
    /// Its id.
    fn subject_id(&self) -> Uuid;
    /// Its organization.
    fn organization(&self) -> TenantId;
    /// Its representation in events (camelCase, as on the wire).
    fn event_data(&self) -> Value;
}

impl NewEvent {
    /// `change` to `subject` at `at`, with the subject's representation.
    pub fn of<R: Recorded>(change: Change, subject: &R, at: DateTime<Utc>) -> NewEvent {
        NewEvent::with_data(change, subject, at, subject.event_data())
    }

    /// `change` to `subject` with `data` instead of its representation.
    pub fn with_data<R: Recorded>(
        change: Change,
        subject: &R,
        at: DateTime<Utc>,
        data: Value,
    ) -> NewEvent {
        NewEvent {
            event_type: EventType::of(R::KIND, change),
            organization_id: subject.organization(),
            subject: Subject {
                kind: R::KIND.as_str().to_owned(),
                id: subject.subject_id(),
            },
            at,
            data,
        }
    }

    /// `change` to a subject of `kind` known only by its id and organization, with `data`
    /// (an approval, a row deleted by id, a freeze window reaching its start).
    pub fn about(
        kind: SubjectKind,
        change: Change,
        organization_id: TenantId,
        id: Uuid,
        at: DateTime<Utc>,
        data: Value,
    ) -> NewEvent {
        NewEvent {
            event_type: EventType::of(kind, change),
            organization_id,
            subject: Subject {
                kind: kind.as_str().to_owned(),
                id,
            },
            at,
            data,
        }
    }

    /// The subject of `kind` with `id` was deleted (its data holds only its id).
    pub fn removed(
        kind: SubjectKind,
        organization_id: TenantId,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> NewEvent {
        NewEvent::about(
            kind,
            Change::Deleted,
            organization_id,
            id,
            at,
            json!({ "id": id }),
        )
    }

    /// `subject` was created.
    pub fn created<R: Recorded>(subject: &R, at: DateTime<Utc>) -> NewEvent {
        NewEvent::of(Change::Created, subject, at)
    }

    /// `subject` changed.
    pub fn updated<R: Recorded>(subject: &R, at: DateTime<Utc>) -> NewEvent {
        NewEvent::of(Change::Updated, subject, at)
    }

    /// `subject` (as it was) was deleted.
    pub fn deleted<R: Recorded>(subject: &R, at: DateTime<Utc>) -> NewEvent {
        NewEvent::of(Change::Deleted, subject, at)
    }

    /// `subject`'s status moved from `from` (none for a new subject) to `to`.
    pub fn status_changed<R: Recorded>(
        subject: &R,
        from: Option<&str>,
        to: &str,
        at: DateTime<Utc>,
    ) -> NewEvent {
        let mut data = subject.event_data();
        if let Value::Object(fields) = &mut data {
            fields.insert("from".into(), from.map_or(Value::Null, Value::from));
            fields.insert("to".into(), Value::from(to));
        }
        NewEvent::with_data(Change::StatusChanged, subject, at, data)
    }

    /// The events of a deployment that moved from `from` to `next.status`.
    pub fn deployment_moved(
        next: &Deployment,
        from: DeploymentStatus,
        at: DateTime<Utc>,
    ) -> NewEvent {
        NewEvent::status_changed(next, Some(from.as_str()), next.status.as_str(), at)
    }

    /// The event of a request's history entry, `request` being the request after the move:
    /// `environment_request.created` for its first entry, `environment_request.status_changed`
    /// (with `from`, `to`, and the entry's `message` and `comment`) for every move: reviews
    /// (`approved`, `rejected`), provisioning outcomes (`active`, `failed`) and expiry.
    pub fn request_moved(
        request: &crate::EnvironmentRequest,
        entry: &crate::RequestHistoryEntry,
    ) -> NewEvent {
        match entry.from {
            None => NewEvent::created(request, entry.at),
            Some(from) => {
                let mut event = NewEvent::status_changed(
                    request,
                    Some(from.as_str()),
                    entry.to.as_str(),
                    entry.at,
                );
                if let Value::Object(fields) = &mut event.data {
                    fields.insert("message".into(), json!(entry.message));
                    fields.insert("comment".into(), json!(entry.comment));
                }
                event
            }
        }
    }

    /// The event of an entry of an environment's lifecycle history, if it is one of its
    /// own: an action taken (`environment.action_taken`). The other entries (its birth, a
    /// workflow started, a run ended) are recorded as the changes they come with
    /// (`environment.created`, `run.created`, `run.updated`, `environment.status_changed`).
    pub fn lifecycle_entry(
        organization_id: TenantId,
        entry: &crate::LifecycleEvent,
    ) -> Option<NewEvent> {
        let action: crate::LifecycleAction = entry.event.parse().ok()?;
        Some(NewEvent::about(
            SubjectKind::Environment,
            Change::ActionTaken,
            organization_id,
            entry.environment.0,
            entry.at,
            json!({
                "action": action.as_str(),
                "environmentId": entry.environment.0,
                "runId": entry.run.map(|r| r.0),
                "workflow": entry.workflow,
                "from": entry.from.map(|s| s.as_str()),
                "to": entry.to.as_str(),
                "detail": entry.detail,
            }),
        ))
    }

    /// The event of a health check that left `before` as `after`: `target.health_changed`
    /// (with `from` and `to`) when its health status changed, none when it stayed.
    pub fn health_checked(
        before: &crate::Target,
        after: &crate::Target,
        at: DateTime<Utc>,
    ) -> Option<NewEvent> {
        if before.health_status == after.health_status {
            return None;
        }
        let mut data = after.event_data();
        if let Value::Object(fields) = &mut data {
            fields.insert("from".into(), json!(before.health_status.as_str()));
            fields.insert("to".into(), json!(after.health_status.as_str()));
        }
        Some(NewEvent::with_data(Change::HealthChanged, after, at, data))
    }

    /// The event of an agent's report of what runs on a target, `inventory`, where the
    /// target's last report listed `before`: `target.inventory_changed` (with the components
    /// in `from` and `to`) when the first report comes or the components changed, none when
    /// the report only repeats the last one (agents report on a schedule).
    pub fn inventory_reported(
        before: Option<&[crate::InventoryComponent]>,
        inventory: &crate::Inventory,
    ) -> Option<NewEvent> {
        if before == Some(inventory.components.as_slice()) {
            return None;
        }
        let components = |list: &[crate::InventoryComponent]| -> Vec<Value> {
            list.iter()
                .map(|c| {
                    json!({
                        "componentId": c.component_id,
                        "componentName": c.component_name,
                        "version": c.version,
                        "digest": c.digest,
                    })
                })
                .collect()
        };
        Some(NewEvent::about(
            SubjectKind::Target,
            Change::InventoryChanged,
            inventory.tenant,
            inventory.target_id.0,
            inventory.received_at,
            json!({
                "targetId": inventory.target_id.0,
                "agentId": inventory.agent_id.0,
                "collectedAt": crate::event_data::time(inventory.collected_at),
                "from": before.map(components),
                "to": components(&inventory.components),
            }),
        ))
    }

    /// `window` began (at its start).
    pub fn freeze_window_started(window: &crate::FreezeWindow) -> NewEvent {
        NewEvent::of(Change::Started, window, window.start)
    }

    /// `window` ended (at its end).
    pub fn freeze_window_ended(window: &crate::FreezeWindow) -> NewEvent {
        NewEvent::of(Change::Ended, window, window.end)
    }

    /// `approver` approved `deployment` in approval round `round`.
    pub fn deployment_approved(
        deployment: &Deployment,
        approver: crate::ids::UserId,
        round: u32,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> NewEvent {
        let mut data = deployment.event_data();
        if let Value::Object(fields) = &mut data {
            fields.insert(
                "approval".into(),
                json!({
                    "approver": approver.0,
                    "round": round,
                    "comment": comment,
                    "createdAt": time(at),
                }),
            );
        }
        NewEvent::with_data(Change::Approved, deployment, at, data)
    }
}

use crate::event_data::{opt_time, time};

impl Recorded for Environment {
    const KIND: SubjectKind = SubjectKind::Environment;

    fn subject_id(&self) -> Uuid {
        self.id.0
    }

    fn organization(&self) -> TenantId {
        self.tenant
    }

    fn event_data(&self) -> Value {
        json!({
            "id": self.id.0,
            "number": self.number.get(),
            "organizationId": self.tenant.0,
            "name": self.name.as_str(),
            "displayName": self.display_name,
            "description": self.description,
            "orderIndex": self.order_index,
            "isProduction": self.is_production,
            "isActive": self.is_active,
            "isBuildEnvironment": self.is_build_environment,
            "config": {
                "deploymentTimeout": self.config.deployment_timeout,
                "healthCheckInterval": self.config.health_check_interval,
            },
            "requiredApprovals": self.required_approvals,
            "requireSeparationOfDuties": self.require_separation_of_duties,
            "promotionPolicy": self.promotion_policy.as_str(),
            "status": self.status.as_str(),
            "requestId": self.request_id,
            "projectId": self.project.map(|p| p.0),
            "expiresAt": opt_time(self.expires_at),
            "version": self.version,
            "createdAt": time(self.created_at),
            "updatedAt": time(self.updated_at),
        })
    }
}

impl Recorded for Deployment {
    const KIND: SubjectKind = SubjectKind::Deployment;

    fn subject_id(&self) -> Uuid {
        self.id.0
    }

    fn organization(&self) -> TenantId {
        self.tenant
    }

    fn event_data(&self) -> Value {
        json!({
            "id": self.id.0,
            "organizationId": self.tenant.0,
            "componentId": self.component_id.0,
            "environmentId": self.environment_id.0,
            "releaseId": self.release_id.map(|r| r.0),
            "version": self.version.as_str(),
            "digest": self.digest.as_ref().map(|d| d.as_str()),
            "commitSha": self.commit_sha.as_ref().map(|c| c.as_str()),
            "deployedBy": self.deployed_by,
            "createdBy": self.created_by.0,
            "description": self.description,
            "metadata": Value::Object(self.metadata.clone()),
            "status": self.status.as_str(),
            "revision": self.revision,
            "approvalRound": self.approval_round,
            "createdAt": time(self.created_at),
            "startedAt": opt_time(self.started_at),
            "finishedAt": opt_time(self.finished_at),
            "updatedAt": time(self.updated_at),
            "committedAt": opt_time(self.committed_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_print_and_parse_back_and_order_by_transaction_then_number() {
        let a = EventCursor { tx: 7, seq: 42 };
        assert_eq!(a.to_string(), "7.42");
        assert_eq!("7.42".parse::<EventCursor>(), Ok(a));
        assert_eq!(
            "42".parse::<EventCursor>(),
            Ok(EventCursor { tx: 0, seq: 42 })
        );
        assert!(EventCursor { tx: 7, seq: 50 } < EventCursor { tx: 8, seq: 1 });
        for bad in ["", "x", "1.", ".1", "-1.2", "1.-2", "1.2.3"] {
            assert!(bad.parse::<EventCursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn take_defaults_and_is_bounded_and_types_are_a_comma_list() {
        assert_eq!(parse_take(None), Ok(DEFAULT_TAKE));
        assert_eq!(parse_take(Some(1)), Ok(1));
        assert_eq!(parse_take(Some(1000)), Ok(1000));
        assert!(parse_take(Some(0)).is_err());
        assert!(parse_take(Some(1001)).is_err());
        let types = parse_types("environment.created, deployment.status_changed,").unwrap();
        assert_eq!(types.len(), 2);
        assert!(parse_types("environment.created,nope").is_err());
    }

    #[test]
    fn types_are_kind_dot_change() {
        assert_eq!(
            EventType::of(SubjectKind::Deployment, Change::StatusChanged).as_str(),
            "deployment.status_changed"
        );
        assert_eq!(
            EventType::of(SubjectKind::FreezeWindow, Change::Started).as_str(),
            "freeze_window.started"
        );
        assert!(EventType::parse("environment.created").is_ok());
        for bad in [
            "",
            "environment",
            "Environment.created",
            "a.b c",
            ".x",
            "x.",
        ] {
            assert!(EventType::parse(bad).is_err(), "{bad}");
        }
    }
}
