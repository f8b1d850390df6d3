//! Rows of the lifecycle tables, and their conversion to and from the domain.

use super::tables::{
    environment_lifecycle_events, environment_templates, workflow_runs, workflow_steps,
};
use crate::infra::error::Failure;
use crate::infra::types::{DbJson, DbTime, DbUuid};
use diesel::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use terrane_domain::lifecycle::template::{StepSpec, WorkflowSpec};
use terrane_domain::lifecycle::variables::{Pattern, VariableSpec};
use terrane_domain::{
    EnvironmentId, LifecycleEvent, LifecycleEventId, Run, RunId, Step, StepId, Template,
    TemplateId, TenantId, UserId, Variables,
};
use terrane_ports::StoreError;

fn corrupt(what: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Store(StoreError::Internal(format!(
        "an invalid {what} is stored: {why}"
    )))
}

/// One row of `environment_templates`.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = environment_templates, treat_none_as_null = true)]
pub(crate) struct TemplateRow {
    id: DbUuid,
    tenant_id: DbUuid,
    name: String,
    template_version: String,
    description: Option<String>,
    definition: DbJson,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

fn variables_json(variables: &[VariableSpec]) -> Value {
    Value::Array(
        variables
            .iter()
            .map(|v| {
                json!({
                    "name": v.name,
                    "description": v.description,
                    "required": v.required,
                    "default": v.default,
                    "pattern": v.pattern.as_ref().map(Pattern::as_str),
                })
            })
            .collect(),
    )
}

fn text(value: &Value, key: &str) -> Result<String, Failure> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| corrupt("template definition", format!("`{key}` is not text")))
}

fn optional_text(value: &Value, key: &str) -> Option<String> {
    value[key].as_str().map(str::to_owned)
}

fn items<'a>(value: &'a Value, key: &str) -> Result<&'a Vec<Value>, Failure> {
    value[key]
        .as_array()
        .ok_or_else(|| corrupt("template definition", format!("`{key}` is not a list")))
}

fn variables_from(value: &Value) -> Result<Vec<VariableSpec>, Failure> {
    items(value, "variables")?
        .iter()
        .map(|v| {
            Ok(VariableSpec {
                name: text(v, "name")?,
                description: optional_text(v, "description"),
                required: v["required"].as_bool().unwrap_or(false),
                default: optional_text(v, "default"),
                pattern: optional_text(v, "pattern")
                    .map(|p| {
                        Pattern::parse(&p, "pattern").map_err(|e| corrupt("pattern", e.message))
                    })
                    .transpose()?,
            })
        })
        .collect()
}

impl From<&Template> for TemplateRow {
    fn from(t: &Template) -> Self {
        let workflows: Vec<Value> = t
            .workflows
            .iter()
            .map(|w| {
                json!({
                    "name": w.name,
                    "description": w.description,
                    "variables": variables_json(&w.variables),
                    "steps": w.steps.iter().map(|s| json!({
                        "phase": s.phase, "name": s.name, "run": s.run, "timeoutSeconds": s.timeout_seconds,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        TemplateRow {
            id: DbUuid(t.id.0),
            tenant_id: DbUuid(t.tenant.0),
            name: t.name.clone(),
            template_version: t.version.clone(),
            description: t.description.clone(),
            definition: DbJson(json!({
                "variables": variables_json(&t.variables),
                "workflows": workflows,
                "createWorkflow": t.create_workflow,
                "destroyWorkflow": t.destroy_workflow,
            })),
            version: t.version_number,
            created_at: DbTime(t.created_at),
            updated_at: DbTime(t.updated_at),
        }
    }
}

impl TryFrom<TemplateRow> for Template {
    type Error = Failure;

    fn try_from(row: TemplateRow) -> Result<Self, Failure> {
        let d = &row.definition.0;
        let workflows = items(d, "workflows")?
            .iter()
            .map(|w| {
                Ok(WorkflowSpec {
                    name: text(w, "name")?,
                    description: optional_text(w, "description"),
                    variables: variables_from(w)?,
                    steps: items(w, "steps")?
                        .iter()
                        .map(|s| {
                            Ok(StepSpec {
                                phase: text(s, "phase")?,
                                name: text(s, "name")?,
                                run: text(s, "run")?,
                                timeout_seconds: s["timeoutSeconds"]
                                    .as_u64()
                                    .and_then(|t| u32::try_from(t).ok())
                                    .ok_or_else(|| corrupt("step", "no timeout"))?,
                            })
                        })
                        .collect::<Result<_, Failure>>()?,
                })
            })
            .collect::<Result<_, Failure>>()?;
        Ok(Template {
            id: TemplateId(row.id.0),
            tenant: TenantId(row.tenant_id.0),
            name: row.name,
            version: row.template_version,
            description: row.description,
            variables: variables_from(d)?,
            workflows,
            create_workflow: text(d, "createWorkflow")?,
            destroy_workflow: text(d, "destroyWorkflow")?,
            version_number: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// A string map as a JSON object.
pub(crate) fn map_json(map: &BTreeMap<String, String>) -> DbJson {
    DbJson(Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    ))
}

/// A JSON object of strings as a map.
pub(crate) fn json_map(json: &DbJson) -> Variables {
    json.0
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// One row of `workflow_runs`, without its lease.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = workflow_runs)]
pub(crate) struct RunRow {
    pub(crate) id: DbUuid,
    tenant_id: DbUuid,
    pub(crate) environment_id: DbUuid,
    workflow: String,
    status: String,
    variables: DbJson,
    started_by: Option<DbUuid>,
    destroys: bool,
    requested_at: DbTime,
    started_at: Option<DbTime>,
    finished_at: Option<DbTime>,
}

impl From<&Run> for RunRow {
    fn from(r: &Run) -> Self {
        RunRow {
            id: DbUuid(r.id.0),
            tenant_id: DbUuid(r.tenant.0),
            environment_id: DbUuid(r.environment.0),
            workflow: r.workflow.clone(),
            status: r.status.as_str().to_owned(),
            variables: map_json(&r.variables),
            started_by: r.started_by.map(|u| DbUuid(u.0)),
            destroys: r.destroys,
            requested_at: DbTime(r.requested_at),
            started_at: r.started_at.map(DbTime),
            finished_at: r.finished_at.map(DbTime),
        }
    }
}

/// One row of `workflow_steps`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = workflow_steps)]
pub(crate) struct StepRow {
    id: DbUuid,
    pub(crate) run_id: DbUuid,
    tenant_id: DbUuid,
    position: i32,
    phase: String,
    name: String,
    run: String,
    timeout_seconds: i32,
    status: String,
    started_at: Option<DbTime>,
    finished_at: Option<DbTime>,
    exit_code: Option<i32>,
    output: String,
}

impl StepRow {
    pub(crate) fn of(run: &Run, position: usize, s: &Step) -> StepRow {
        StepRow {
            id: DbUuid(s.id.0),
            run_id: DbUuid(run.id.0),
            tenant_id: DbUuid(run.tenant.0),
            position: i32::try_from(position).unwrap_or(i32::MAX),
            phase: s.phase.clone(),
            name: s.name.clone(),
            run: s.run.clone(),
            timeout_seconds: i32::try_from(s.timeout_seconds).unwrap_or(i32::MAX),
            status: s.status.as_str().to_owned(),
            started_at: s.started_at.map(DbTime),
            finished_at: s.finished_at.map(DbTime),
            exit_code: s.exit_code,
            output: s.output.clone(),
        }
    }

    fn into_step(self) -> Result<Step, Failure> {
        Ok(Step {
            id: StepId(self.id.0),
            phase: self.phase,
            name: self.name,
            run: self.run,
            timeout_seconds: u32::try_from(self.timeout_seconds)
                .map_err(|e| corrupt("timeout", e))?,
            status: self.status.parse().map_err(|e| corrupt("step status", e))?,
            started_at: self.started_at.map(|t| t.0),
            finished_at: self.finished_at.map(|t| t.0),
            exit_code: self.exit_code,
            output: self.output,
        })
    }
}

impl RunRow {
    /// The run with its steps (`steps` holds them, of any runs, in position order).
    pub(crate) fn into_run(self, steps: &mut Vec<StepRow>) -> Result<Run, Failure> {
        let id = self.id.0;
        let (mine, others): (Vec<StepRow>, Vec<StepRow>) = std::mem::take(steps)
            .into_iter()
            .partition(|s| s.run_id.0 == id);
        *steps = others;
        Ok(Run {
            id: RunId(id),
            tenant: TenantId(self.tenant_id.0),
            environment: EnvironmentId(self.environment_id.0),
            workflow: self.workflow,
            status: self.status.parse().map_err(|e| corrupt("run status", e))?,
            variables: json_map(&self.variables),
            started_by: self.started_by.map(|u| UserId(u.0)),
            destroys: self.destroys,
            requested_at: self.requested_at.0,
            started_at: self.started_at.map(|t| t.0),
            finished_at: self.finished_at.map(|t| t.0),
            steps: mine
                .into_iter()
                .map(StepRow::into_step)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// One row of `environment_lifecycle_events`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = environment_lifecycle_events)]
pub(crate) struct EventRow {
    id: DbUuid,
    tenant_id: DbUuid,
    environment_id: DbUuid,
    at: DbTime,
    actor: Option<DbUuid>,
    event: String,
    run_id: Option<DbUuid>,
    workflow: Option<String>,
    from_status: Option<String>,
    to_status: String,
    detail: Option<String>,
}

impl EventRow {
    pub(crate) fn of(tenant: TenantId, e: &LifecycleEvent) -> EventRow {
        EventRow {
            id: DbUuid(e.id.0),
            tenant_id: DbUuid(tenant.0),
            environment_id: DbUuid(e.environment.0),
            at: DbTime(e.at),
            actor: e.actor.map(|a| DbUuid(a.0)),
            event: e.event.clone(),
            run_id: e.run.map(|r| DbUuid(r.0)),
            workflow: e.workflow.clone(),
            from_status: e.from.map(|s| s.as_str().to_owned()),
            to_status: e.to.as_str().to_owned(),
            detail: e.detail.clone(),
        }
    }
}

impl TryFrom<EventRow> for LifecycleEvent {
    type Error = Failure;

    fn try_from(row: EventRow) -> Result<Self, Failure> {
        Ok(LifecycleEvent {
            id: LifecycleEventId(row.id.0),
            environment: EnvironmentId(row.environment_id.0),
            at: row.at.0,
            actor: row.actor.map(|a| UserId(a.0)),
            event: row.event,
            run: row.run_id.map(|r| RunId(r.0)),
            workflow: row.workflow,
            from: row
                .from_status
                .map(|s| s.parse())
                .transpose()
                .map_err(|e| corrupt("status", e))?,
            to: row.to_status.parse().map_err(|e| corrupt("status", e))?,
            detail: row.detail,
        })
    }
}
