//! The template use cases.

use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{Actor, Page, Permission, Template, TemplateId, TemplateInput};
use terrane_ports::{
    Clock, IdSource, ServiceError, TemplateRepository, TemplateService, WorkflowExecutor,
};

const WHAT: &str = "template";

/// Managing templates.
pub struct Templates {
    repo: Arc<dyn TemplateRepository>,
    executor: Arc<dyn WorkflowExecutor>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Templates {
    /// Wires the use cases to their ports; `executor` says which executables steps may name.
    pub fn new(
        repo: Arc<dyn TemplateRepository>,
        executor: Arc<dyn WorkflowExecutor>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            repo,
            executor,
            clock,
            ids,
        }
    }
}

fn store_error(error: terrane_ports::StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

#[async_trait]
impl TemplateService for Templates {
    async fn create(&self, actor: &Actor, input: TemplateInput) -> Result<Template, ServiceError> {
        authorize(actor, Permission::Administer, "creating a template")?;
        let new = input.into_new(&self.executor.executables())?;
        let template = new.into_template(
            TemplateId(self.ids.new_id()),
            actor.tenant,
            self.clock.now(),
        );
        self.repo
            .create(actor.tenant, template)
            .await
            .map_err(store_error)
    }

    async fn get(&self, actor: &Actor, id: TemplateId) -> Result<Template, ServiceError> {
        authorize(actor, Permission::Read, "reading templates")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(&self, actor: &Actor, page: Page) -> Result<(Vec<Template>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading templates")?;
        self.repo
            .list(actor.tenant, page)
            .await
            .map_err(store_error)
    }

    async fn replace(
        &self,
        actor: &Actor,
        id: TemplateId,
        expected_version: Option<i64>,
        input: TemplateInput,
    ) -> Result<Template, ServiceError> {
        authorize(actor, Permission::Administer, "changing a template")?;
        let new = input.into_new(&self.executor.executables())?;
        let current = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
        let next = current.replaced(new, self.clock.now());
        self.repo
            .replace(actor.tenant, expected_version, next)
            .await
            .map_err(store_error)
    }

    async fn delete(
        &self,
        actor: &Actor,
        id: TemplateId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "deleting a template")?;
        self.repo
            .delete(actor.tenant, id, expected_version)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::actor;
    use chrono::Utc;
    use terrane_domain::lifecycle::template::{StepInput, WorkflowInput};
    use terrane_domain::{Executables, Role};
    use terrane_ports::{MockClock, MockIdSource, MockTemplateRepository, MockWorkflowExecutor};
    use uuid::Uuid;

    fn service(repo: MockTemplateRepository, executables: Executables) -> Templates {
        let mut executor = MockWorkflowExecutor::new();
        executor
            .expect_executables()
            .returning(move || executables.clone());
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Templates::new(
            Arc::new(repo),
            Arc::new(executor),
            Arc::new(clock),
            Arc::new(ids),
        )
    }

    fn input(run: &str) -> TemplateInput {
        TemplateInput {
            name: Some("web".into()),
            version: Some("1".into()),
            workflows: vec![
                WorkflowInput {
                    name: Some("create".into()),
                    steps: vec![StepInput {
                        name: Some("up".into()),
                        run: Some(run.into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                WorkflowInput {
                    name: Some("destroy".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn only_admins_write_templates() {
        let mut repo = MockTemplateRepository::new();
        repo.expect_create().never();
        let error = service(repo, Executables::Unconfigured)
            .create(&actor(Role::Deployer), input("up.sh"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(_)));
    }

    #[tokio::test]
    async fn a_step_must_name_an_executable_the_executor_offers() {
        let mut repo = MockTemplateRepository::new();
        repo.expect_create().never();
        let offered = Executables::In(["up.sh".to_owned()].into());
        let error = service(repo, offered)
            .create(&actor(Role::Admin), input("down.sh"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == "workflows[0].steps[0].run"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_valid_template_is_stored_in_the_actors_tenant() {
        let mut repo = MockTemplateRepository::new();
        repo.expect_create()
            .withf(|tenant, t| {
                *tenant == TenantId(Uuid::from_u128(7)) && t.id == TemplateId(Uuid::from_u128(42))
            })
            .returning(|_, t| Ok(t));
        let offered = Executables::In(["up.sh".to_owned()].into());
        let stored = service(repo, offered)
            .create(&actor(Role::Admin), input("up.sh"))
            .await
            .unwrap();
        assert_eq!(stored.workflows[0].steps[0].run, "up.sh");
    }

    use terrane_domain::TenantId;
}
