//! The lifecycle use cases: environments born from templates, their workflows, runs, actions
//! and history.

mod ports;

pub(crate) use ports::store_error;
pub use ports::LifecyclePorts;

use crate::authorize;
use async_trait::async_trait;
use chrono::Duration;
use serde_json::{Map, Value};
use std::collections::HashMap;
use terrane_domain::lifecycle::{
    self, check_action, check_workflow, status_after_action, variables,
};
use terrane_domain::{
    Actor, Environment, EnvironmentId, EnvironmentInput, EnvironmentLifecycle, EnvironmentStatus,
    LifecycleAction, LifecycleEvent, Page, Permission, Run, RunId, RunStatus, Template, TtlPolicy,
    ValidationErrors,
};
use terrane_ports::{Birth, BirthInput, LifecycleService, ServiceError, StatusChange, StoreError};

/// How long a cancel waits for the replica running the step to kill it.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How often a cancel looks whether the run stopped.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(100);
/// Attempts of a decision that lost a race with another change of the environment.
const ATTEMPTS: usize = 3;

fn not_now(refused: lifecycle::NotNow) -> ServiceError {
    ServiceError::Conflict(refused.to_string())
}

/// The lifecycle use cases.
pub struct Lifecycle {
    ports: LifecyclePorts,
    ttl: TtlPolicy,
}

impl Lifecycle {
    /// Wires the use cases; `ttl` bounds `ttlMinutes`.
    pub fn new(ports: LifecyclePorts, ttl: TtlPolicy) -> Self {
        Self { ports, ttl }
    }

    async fn environment(
        &self,
        actor: &Actor,
        id: EnvironmentId,
    ) -> Result<Environment, ServiceError> {
        self.ports
            .environments
            .get(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    /// Starts `run` on `env` (making it busy), deciding again on a fresh copy when the
    /// environment changed meanwhile.
    async fn start(
        &self,
        env: Environment,
        run: Run,
        event: LifecycleEvent,
    ) -> Result<Run, ServiceError> {
        let tenant = env.tenant;
        let now = self.ports.clock.now();
        self.ports
            .lifecycle
            .change_status(
                tenant,
                env.id,
                StatusChange {
                    expected_version: env.version,
                    status: EnvironmentStatus::Busy,
                    run: Some(run.clone()),
                    event,
                },
                now,
            )
            .await
            .map_err(store_error)?;
        self.ports.queue.wake();
        Ok(run)
    }

    /// Waits until `run` is over (the replica running it killed its step).
    async fn until_over(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        run: RunId,
    ) -> Result<(), ServiceError> {
        let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
        loop {
            let current = self
                .ports
                .lifecycle
                .run(actor.tenant, environment, run)
                .await
                .map_err(store_error)?;
            if current.status.is_final() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::Unavailable("the replica running the step did not stop it within 30 s; read the environment again later".into()));
            }
            tokio::time::sleep(CANCEL_POLL).await;
        }
    }

    async fn cancel(&self, actor: &Actor, env: Environment) -> Result<(), ServiceError> {
        let now = self.ports.clock.now();
        let Some(run) = self
            .ports
            .lifecycle
            .active_run(actor.tenant, env.id)
            .await
            .map_err(store_error)?
        else {
            // Busy with nothing running (made so at creation): nothing to stop.
            let event = self.ports.event(
                &env,
                Some(actor.user),
                "cancel",
                None,
                EnvironmentStatus::Broken,
                None,
                now,
            );
            self.ports
                .lifecycle
                .change_status(
                    actor.tenant,
                    env.id,
                    StatusChange {
                        expected_version: env.version,
                        status: EnvironmentStatus::Broken,
                        run: None,
                        event,
                    },
                    now,
                )
                .await
                .map_err(store_error)?;
            return Ok(());
        };
        if run.status == RunStatus::Requested {
            let canceled = run
                .cancel(None, now)
                .map_err(|e| ServiceError::Conflict(e.to_string()))?;
            let event = self.ports.event(
                &env,
                Some(actor.user),
                "cancel",
                Some(&run),
                EnvironmentStatus::Broken,
                Some("canceled before a replica started it".into()),
                now,
            );
            match self
                .ports
                .lifecycle
                .save_unclaimed(actor.tenant, canceled, event, now)
                .await
            {
                Ok(()) => return Ok(()),
                // A replica took it meanwhile: ask it to stop, as below.
                Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(store_error(other)),
            }
        }
        let event = self.ports.event(
            &env,
            Some(actor.user),
            "cancel",
            Some(&run),
            EnvironmentStatus::Broken,
            Some("the running step's process group is killed".into()),
            now,
        );
        self.ports
            .lifecycle
            .request_cancel(actor.tenant, run.id, event)
            .await
            .map_err(store_error)?;
        self.until_over(actor, env.id, run.id).await
    }
}

#[async_trait]
impl LifecycleService for Lifecycle {
    async fn create_environment(
        &self,
        actor: &Actor,
        input: EnvironmentInput,
        birth: BirthInput,
    ) -> Result<Environment, ServiceError> {
        authorize(actor, Permission::Administer, "creating an environment")?;
        let mut errors = ValidationErrors::new();
        let new = input
            .into_new()
            .map_err(|e| {
                e.errors()
                    .iter()
                    .for_each(|f| errors.add(f.field.clone(), f.message.clone()))
            })
            .ok();
        let ttl = birth
            .ttl_minutes
            .map(|m| {
                self.ttl
                    .minutes(m)
                    .map_err(|e| errors.add("ttlMinutes", e.message))
            })
            .transpose()
            .ok()
            .flatten();
        let template = match &birth.template {
            Some((name, version)) => match self
                .ports
                .templates
                .find(actor.tenant, name.clone(), version.clone())
                .await
            {
                Ok(template) => Some(template),
                Err(StoreError::NotFound) => {
                    errors.add(
                        "template",
                        format!("your organization has no template `{name}` version `{version}`"),
                    );
                    None
                }
                Err(other) => return Err(store_error(other)),
            },
            None => {
                if birth.variables.as_ref().is_some_and(|v| !v.is_empty()) {
                    errors.add(
                        "variables",
                        "are the values of a template's variables: name a `template`",
                    );
                }
                None
            }
        };
        let now = self.ports.clock.now();
        let id = EnvironmentId(self.ports.ids.new_id());
        let given = birth.variables.unwrap_or_default();
        let (Some(mut new), true) = (new, errors.is_empty()) else {
            // Variables are checked too, so that one answer names every bad field.
            if let Some(template) = &template {
                if let Some(spec) = template.workflow(&template.create_workflow) {
                    if let Err(bad) =
                        variables::resolve(&template.declared(spec), &Default::default(), &given)
                    {
                        bad.errors()
                            .iter()
                            .for_each(|f| errors.add(f.field.clone(), f.message.clone()));
                    }
                }
            }
            return Err(errors.into());
        };
        if template.is_some() {
            new.status = EnvironmentStatus::Busy;
        }
        let env = new.clone().into_environment(
            id,
            terrane_domain::EnvironmentNumber(1),
            actor.tenant,
            0,
            now,
        );
        let (run, kept) = match &template {
            Some(template) => {
                let run = self.ports.request_run(
                    &env,
                    template,
                    &template.create_workflow,
                    &Default::default(),
                    &given,
                    Some(actor.user),
                )?;
                let kept = (template.id, run.variables.clone());
                (Some(run), Some(kept))
            }
            None => (None, None),
        };
        let mut event = self.ports.event(
            &env,
            Some(actor.user),
            "created",
            run.as_ref(),
            env.status,
            template
                .as_ref()
                .map(|t| format!("born from template `{}` version `{}`", t.name, t.version)),
            now,
        );
        event.from = None;
        let birth = Birth {
            template: kept,
            expires_at: ttl.map(|minutes| now + Duration::minutes(i64::from(minutes))),
            run,
            event,
        };
        let created = self
            .ports
            .lifecycle
            .create_environment(actor.tenant, id, new, birth, now)
            .await
            .map_err(store_error)?;
        self.ports.queue.wake();
        Ok(created)
    }

    async fn lifecycles(
        &self,
        actor: &Actor,
        ids: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, EnvironmentLifecycle>, ServiceError> {
        authorize(actor, Permission::Read, "reading environments")?;
        self.ports
            .lifecycle
            .lifecycles(actor.tenant, ids)
            .await
            .map_err(store_error)
    }

    async fn runs(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<Run>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading runs")?;
        self.ports
            .lifecycle
            .runs(actor.tenant, environment, page)
            .await
            .map_err(store_error)
    }

    async fn run(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        run: RunId,
    ) -> Result<Run, ServiceError> {
        authorize(actor, Permission::Read, "reading runs")?;
        self.ports
            .lifecycle
            .run(actor.tenant, environment, run)
            .await
            .map_err(|e| ServiceError::from_store(e, "run"))
    }

    async fn template_of(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<Option<Template>, ServiceError> {
        authorize(actor, Permission::Read, "reading workflows")?;
        let env = self.environment(actor, environment).await?;
        Ok(self
            .ports
            .template_of(&env)
            .await?
            .map(|(_, template)| template))
    }

    async fn start_workflow(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        name: String,
        variables: Map<String, Value>,
    ) -> Result<Run, ServiceError> {
        authorize(actor, Permission::Deploy, "running a workflow")?;
        for attempt in 1..=ATTEMPTS {
            let env = self.environment(actor, environment).await?;
            let Some((lifecycle, template)) = self.ports.template_of(&env).await? else {
                return Err(ServiceError::NotFound("workflow".into()));
            };
            if template.workflow(&name).is_none() {
                return Err(ServiceError::NotFound("workflow".into()));
            }
            check_workflow(env.status, &name).map_err(not_now)?;
            let now = self.ports.clock.now();
            let run = self.ports.request_run(
                &env,
                &template,
                &name,
                &lifecycle.variables,
                &variables,
                Some(actor.user),
            )?;
            let event = self.ports.event(
                &env,
                Some(actor.user),
                "workflow",
                Some(&run),
                EnvironmentStatus::Busy,
                None,
                now,
            );
            match self.start(env, run, event).await {
                Err(ServiceError::PreconditionFailed(_)) if attempt < ATTEMPTS => continue,
                other => return other,
            }
        }
        Err(ServiceError::Conflict(
            "the environment kept changing; try again".into(),
        ))
    }

    async fn actions(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<(EnvironmentStatus, Vec<LifecycleAction>), ServiceError> {
        authorize(actor, Permission::Read, "reading actions")?;
        let env = self.environment(actor, environment).await?;
        Ok((
            env.status,
            lifecycle::available_actions(env.status).to_vec(),
        ))
    }

    async fn act(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        action: String,
    ) -> Result<Environment, ServiceError> {
        authorize(actor, Permission::Deploy, "acting on an environment")?;
        let action: LifecycleAction = action
            .parse()
            .map_err(|_| ServiceError::NotFound("action".into()))?;
        for attempt in 1..=ATTEMPTS {
            let env = self.environment(actor, environment).await?;
            check_action(env.status, action).map_err(not_now)?;
            let now = self.ports.clock.now();
            let outcome = match action {
                LifecycleAction::Cancel => self.cancel(actor, env).await,
                LifecycleAction::Reset | LifecycleAction::Destroy => {
                    let template = self.ports.template_of(&env).await?;
                    match status_after_action(action, template.is_some()) {
                        Some(status) => {
                            let event = self.ports.event(
                                &env,
                                Some(actor.user),
                                action.as_str(),
                                None,
                                status,
                                None,
                                now,
                            );
                            self.ports
                                .lifecycle
                                .change_status(
                                    actor.tenant,
                                    env.id,
                                    StatusChange {
                                        expected_version: env.version,
                                        status,
                                        run: None,
                                        event,
                                    },
                                    now,
                                )
                                .await
                                .map(drop)
                                .map_err(store_error)
                        }
                        None => {
                            let (lifecycle, template) = template.expect("a template decides");
                            let run = self.ports.request_run(
                                &env,
                                &template,
                                &template.destroy_workflow,
                                &lifecycle.variables,
                                &Map::new(),
                                Some(actor.user),
                            )?;
                            let event = self.ports.event(
                                &env,
                                Some(actor.user),
                                action.as_str(),
                                Some(&run),
                                EnvironmentStatus::Busy,
                                None,
                                now,
                            );
                            self.start(env, run, event).await.map(drop)
                        }
                    }
                }
            };
            match outcome {
                Err(ServiceError::PreconditionFailed(_)) if attempt < ATTEMPTS => continue,
                Err(error) => return Err(error),
                Ok(()) => return self.environment(actor, environment).await,
            }
        }
        Err(ServiceError::Conflict(
            "the environment kept changing; try again".into(),
        ))
    }

    async fn history(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<LifecycleEvent>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading history")?;
        self.ports
            .lifecycle
            .history(actor.tenant, environment, page)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests;
