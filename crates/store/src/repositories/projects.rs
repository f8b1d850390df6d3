//! The `projects` table and the `ProjectRepository` port.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::projects;
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::repositories::environments::lower;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use terrane_domain::{NewProject, Page, Project, ProjectId, ProjectName, ProjectNumber, TenantId};
use terrane_ports::{ProjectRepository, StoreError};

/// One row of `projects`.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: DbUuid,
    number: i64,
    tenant_id: DbUuid,
    name: String,
    description: Option<String>,
    project_manager: String,
    creator: String,
    version: i64,
    created_at: DbTime,
}

impl TryFrom<ProjectRow> for Project {
    type Error = Failure;

    /// Fails only on a name that no version of terrane writes (edited by hand, say).
    fn try_from(row: ProjectRow) -> Result<Self, Failure> {
        let name = ProjectName::parse(&row.name).map_err(|e| {
            Failure::Store(StoreError::Internal(format!(
                "project {} has an invalid name stored: {}",
                row.id.0, e.message
            )))
        })?;
        Ok(Project {
            id: ProjectId(row.id.0),
            number: ProjectNumber(row.number),
            tenant: TenantId(row.tenant_id.0),
            name,
            description: row.description,
            project_manager: row.project_manager,
            creator: row.creator,
            version: row.version,
            created_at: row.created_at.0,
        })
    }
}

/// The tenant's project `id`, if it exists.
pub(crate) fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: ProjectId,
) -> Result<Option<Project>, Failure> {
    projects::table
        .filter(projects::id.eq(DbUuid(id.0)))
        .filter(projects::tenant_id.eq(DbUuid(tenant.0)))
        .select(ProjectRow::as_select())
        .first(conn)
        .optional()?
        .map(Project::try_from)
        .transpose()
}

#[async_trait]
impl ProjectRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        id: ProjectId,
        new: NewProject,
        creator: String,
        now: DateTime<Utc>,
    ) -> Result<Project, StoreError> {
        let now = terrane_domain::time::truncate(now);
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let number = crate::infra::numbers::next_number(conn)?;
            diesel::insert_into(projects::table)
                .values((
                    projects::id.eq(DbUuid(id.0)),
                    projects::number.eq(number),
                    projects::tenant_id.eq(DbUuid(tenant.0)),
                    projects::name.eq(new.name.as_str()),
                    projects::description.eq(&new.description),
                    projects::project_manager.eq(&new.project_manager),
                    projects::creator.eq(&creator),
                    projects::version.eq(1_i64),
                    projects::created_at.eq(DbTime(now)),
                ))
                .execute(conn)
                .map_err(Failure::writing(new.name.as_str()))?;
            let project = find(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&project, project.created_at),
            )?;
            Ok(project)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: ProjectId) -> Result<Project, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn by_number(
        &self,
        tenant: TenantId,
        number: ProjectNumber,
    ) -> Result<Project, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            projects::table
                .filter(projects::number.eq(number.get()))
                .filter(projects::tenant_id.eq(DbUuid(tenant.0)))
                .select(ProjectRow::as_select())
                .first(conn)
                .optional()?
                .map(Project::try_from)
                .transpose()?
                .ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        descending: bool,
        page: Page,
    ) -> Result<(Vec<Project>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total: i64 = projects::table
                .filter(projects::tenant_id.eq(DbUuid(tenant.0)))
                .count()
                .get_result(conn)?;
            let query = projects::table
                .filter(projects::tenant_id.eq(DbUuid(tenant.0)))
                .into_boxed();
            let query = if descending {
                query.order_by(lower(projects::name).desc())
            } else {
                query.order_by(lower(projects::name).asc())
            };
            let projects = query
                .then_order_by(projects::id.asc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(ProjectRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Project::try_from)
                .collect::<Result<_, _>>()?;
            // COUNT(*) is never negative.
            Ok((projects, total.unsigned_abs()))
        })
        .await
    }
}
