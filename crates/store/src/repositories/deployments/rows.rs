//! The rows of the ledger's tables, read and written whole, and how they map to the
//! domain's types.

use crate::infra::error::Failure;
use crate::infra::schema::{deployment_approvals, deployment_history, deployments};
use crate::infra::types::{DbJson, DbTime, DbUuid};
use diesel::prelude::*;
use terrane_domain::{
    CommitSha, ComponentId, Deployment, DeploymentId, DeploymentStatus, Digest, EnvironmentId,
    HistoryEntry, ReleaseId, TenantId, UserId, Version,
};
use terrane_ports::{Approval, StoreError};
use uuid::Uuid;

/// One row of `deployments`, read and written whole.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = deployments, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(super) struct DeploymentRow {
    pub(super) id: DbUuid,
    pub(super) tenant_id: DbUuid,
    pub(super) component_id: DbUuid,
    pub(super) environment_id: DbUuid,
    pub(super) release_id: Option<DbUuid>,
    pub(super) version: String,
    pub(super) digest: Option<String>,
    pub(super) commit_sha: Option<String>,
    pub(super) deployed_by: String,
    pub(super) created_by: DbUuid,
    pub(super) description: Option<String>,
    pub(super) metadata: DbJson,
    pub(super) status: String,
    pub(super) approval_round: i32,
    pub(super) revision: i64,
    pub(super) created_at: DbTime,
    pub(super) started_at: Option<DbTime>,
    pub(super) finished_at: Option<DbTime>,
    pub(super) updated_at: DbTime,
    pub(super) committed_at: Option<DbTime>,
}

impl From<&Deployment> for DeploymentRow {
    fn from(d: &Deployment) -> Self {
        DeploymentRow {
            id: DbUuid(d.id.0),
            tenant_id: DbUuid(d.tenant.0),
            component_id: DbUuid(d.component_id.0),
            environment_id: DbUuid(d.environment_id.0),
            release_id: d.release_id.map(|r| DbUuid(r.0)),
            version: d.version.as_str().to_owned(),
            digest: d.digest.as_ref().map(|x| x.as_str().to_owned()),
            commit_sha: d.commit_sha.as_ref().map(|x| x.as_str().to_owned()),
            deployed_by: d.deployed_by.clone(),
            created_by: DbUuid(d.created_by.0),
            description: d.description.clone(),
            metadata: DbJson(serde_json::Value::Object(d.metadata.clone())),
            status: d.status.as_str().to_owned(),
            // Rounds count retries of one deployment: far below i32::MAX.
            approval_round: i32::try_from(d.approval_round).unwrap_or(i32::MAX),
            revision: d.revision,
            created_at: DbTime(d.created_at),
            started_at: d.started_at.map(DbTime),
            finished_at: d.finished_at.map(DbTime),
            updated_at: DbTime(d.updated_at),
            committed_at: d.committed_at.map(DbTime),
        }
    }
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: DeploymentRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = |what: &str, why: String| {
            Failure::Store(StoreError::Internal(format!(
                "deployment {id} has an invalid {what} stored: {why}"
            )))
        };
        let metadata = match row.metadata.0 {
            serde_json::Value::Object(map) => map,
            other => return Err(corrupt("metadata", format!("not an object: {other}"))),
        };
        Ok(Deployment {
            id: DeploymentId(id),
            tenant: TenantId(row.tenant_id.0),
            component_id: ComponentId(row.component_id.0),
            environment_id: EnvironmentId(row.environment_id.0),
            release_id: row.release_id.map(|r| ReleaseId(r.0)),
            version: Version::parse(&row.version).map_err(|e| corrupt("version", e.message))?,
            digest: row
                .digest
                .map(|d| Digest::parse(&d, "digest"))
                .transpose()
                .map_err(|e| corrupt("digest", e.message))?,
            commit_sha: row
                .commit_sha
                .map(|c| CommitSha::parse(&c))
                .transpose()
                .map_err(|e| corrupt("commit sha", e.message))?,
            deployed_by: row.deployed_by,
            created_by: UserId(row.created_by.0),
            description: row.description,
            metadata,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            revision: row.revision,
            approval_round: u32::try_from(row.approval_round)
                .map_err(|e| corrupt("approval round", e.to_string()))?,
            created_at: row.created_at.0,
            started_at: row.started_at.map(|t| t.0),
            finished_at: row.finished_at.map(|t| t.0),
            updated_at: row.updated_at.0,
            committed_at: row.committed_at.map(|t| t.0),
        })
    }
}

/// One row of `deployment_history`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = deployment_history, treat_none_as_default_value = false)]
pub(super) struct HistoryRow {
    pub(super) id: DbUuid,
    pub(super) tenant_id: DbUuid,
    pub(super) deployment_id: DbUuid,
    pub(super) from_status: Option<String>,
    pub(super) to_status: String,
    pub(super) actor: Option<DbUuid>,
    pub(super) at: DbTime,
    pub(super) reason: Option<String>,
}

impl HistoryRow {
    pub(super) fn new(tenant: TenantId, deployment: DeploymentId, entry: &HistoryEntry) -> Self {
        HistoryRow {
            // History rows are never addressed by id; v7 keeps them in time order.
            id: DbUuid(Uuid::now_v7()),
            tenant_id: DbUuid(tenant.0),
            deployment_id: DbUuid(deployment.0),
            from_status: entry.from.map(|s| s.as_str().to_owned()),
            to_status: entry.to.as_str().to_owned(),
            actor: entry.actor.map(|a| DbUuid(a.0)),
            at: DbTime(entry.at),
            reason: entry.reason.clone(),
        }
    }

    pub(super) fn into_entry(self) -> Result<HistoryEntry, Failure> {
        let corrupt = |why: String| {
            Failure::Store(StoreError::Internal(format!(
                "deployment history row {} is invalid: {why}",
                self.id.0
            )))
        };
        let from = match &self.from_status {
            Some(s) => Some(s.parse::<DeploymentStatus>().map_err(corrupt)?),
            None => None,
        };
        let to = self
            .to_status
            .parse::<DeploymentStatus>()
            .map_err(corrupt)?;
        Ok(HistoryEntry {
            from,
            to,
            actor: self.actor.map(|a| UserId(a.0)),
            at: self.at.0,
            reason: self.reason,
        })
    }
}

/// One row of `deployment_approvals`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = deployment_approvals)]
pub(super) struct ApprovalRow {
    pub(super) tenant_id: DbUuid,
    pub(super) deployment_id: DbUuid,
    pub(super) approval_round: i32,
    pub(super) approver: DbUuid,
    pub(super) comment: Option<String>,
    pub(super) created_at: DbTime,
}

impl ApprovalRow {
    pub(super) fn into_approval(self) -> Approval {
        Approval {
            deployment_id: DeploymentId(self.deployment_id.0),
            round: u32::try_from(self.approval_round).unwrap_or_default(),
            approver: UserId(self.approver.0),
            comment: self.comment,
            created_at: self.created_at.0,
        }
    }
}
