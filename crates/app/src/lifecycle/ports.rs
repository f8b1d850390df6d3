//! The ports the lifecycle use cases and the runner share, and the decisions both make
//! with them: a history entry, a requested run.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::sync::Arc;
use terrane_domain::lifecycle::variables;
use terrane_domain::{
    Environment, EnvironmentLifecycle, EnvironmentStatus, LifecycleEvent, LifecycleEventId, Run,
    RunId, StepId, Template, UserId,
};
use terrane_ports::{
    Clock, EnvironmentRepository, IdSource, LifecycleRepository, ProvisioningQueue, ServiceError,
    StoreError, TemplateRepository,
};

/// The ports the lifecycle use cases and the runner share.
#[derive(Clone)]
pub struct LifecyclePorts {
    /// Environments.
    pub environments: Arc<dyn EnvironmentRepository>,
    /// Templates.
    pub templates: Arc<dyn TemplateRepository>,
    /// Lifecycles, runs, history.
    pub lifecycle: Arc<dyn LifecycleRepository>,
    /// Wakes this replica's runner when a run is requested.
    pub queue: Arc<dyn ProvisioningQueue>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdSource>,
}

impl LifecyclePorts {
    /// A history entry of `environment`, now.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn event(
        &self,
        environment: &Environment,
        actor: Option<UserId>,
        event: &str,
        run: Option<&Run>,
        to: EnvironmentStatus,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> LifecycleEvent {
        LifecycleEvent {
            id: LifecycleEventId(self.ids.new_id()),
            environment: environment.id,
            at: terrane_domain::time::truncate(now),
            actor,
            event: event.to_owned(),
            run: run.map(|r| r.id),
            workflow: run.map(|r| r.workflow.clone()),
            from: Some(environment.status),
            to,
            detail,
        }
    }

    /// A requested run of `workflow` of `template` on `environment`, its variables resolved
    /// from `given` over the environment's own and the defaults.
    ///
    /// # Errors
    /// `NotFound` for an unknown workflow, `Validation` naming each bad variable.
    pub(crate) fn request_run(
        &self,
        environment: &Environment,
        template: &Template,
        workflow: &str,
        inherited: &terrane_domain::Variables,
        given: &Map<String, Value>,
        started_by: Option<UserId>,
    ) -> Result<Run, ServiceError> {
        let spec = template
            .workflow(workflow)
            .ok_or_else(|| ServiceError::NotFound("workflow".into()))?;
        let values = variables::resolve(&template.declared(spec), inherited, given)?;
        Ok(Run::requested(
            RunId(self.ids.new_id()),
            environment.tenant,
            environment.id,
            template,
            spec,
            values,
            started_by,
            || StepId(self.ids.new_id()),
            self.clock.now(),
        ))
    }

    /// The environment's lifecycle and template, when it was born from one.
    pub(crate) async fn template_of(
        &self,
        environment: &Environment,
    ) -> Result<Option<(EnvironmentLifecycle, Template)>, ServiceError> {
        let mut lifecycles = self
            .lifecycle
            .lifecycles(environment.tenant, vec![environment.id])
            .await
            .map_err(store_error)?;
        let Some(lifecycle) = lifecycles.remove(&environment.id) else {
            return Ok(None);
        };
        let template = self
            .templates
            .get(environment.tenant, lifecycle.template)
            .await
            .map_err(store_error)?;
        Ok(Some((lifecycle, template)))
    }
}

pub(crate) fn store_error(error: StoreError) -> ServiceError {
    match error {
        StoreError::MissingReference(field) => crate::target_groups::missing_reference(&field),
        other => ServiceError::from_store(other, "environment"),
    }
}
