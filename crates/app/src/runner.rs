//! The runner: executes the runs this replica claims, step after step, under a lease it
//! renews; fails the runs of replicas that stopped; and starts the destroy workflow of
//! template environments whose time to live has passed.

use crate::lifecycle::{store_error, LifecyclePorts};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use terrane_domain::{Environment, EnvironmentStatus, Run, RunStatus, Step, StepOutcome};
use terrane_ports::{
    ClaimedRun, Lease, RunSignal, ServiceError, StatusChange, StepCommand, StepEnd, StoreError,
    WorkflowExecutor,
};
use uuid::Uuid;

/// How the runner works.
#[derive(Debug, Clone, Copy)]
pub struct RunnerSettings {
    /// This replica's id, the owner of its leases.
    pub owner: Uuid,
    /// How long a lease lasts unless renewed; after it, another replica fails the run.
    pub lease: Duration,
    /// How often a running step's lease is renewed and a cancel looked for.
    pub poll: Duration,
}

/// Executes runs.
pub struct WorkflowRunner {
    ports: LifecyclePorts,
    executor: Arc<dyn WorkflowExecutor>,
    settings: RunnerSettings,
}

fn refused(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(error.to_string())
}

/// What a step gets on stdin: the run's variables (defaults included), the environment, the
/// run and the step.
fn stdin(run: &Run, env: &Environment, step: &Step) -> Value {
    json!({
        "variables": run.variables,
        "environment": {
            "id": env.id, "name": env.name.as_str(), "displayName": env.display_name,
            "organizationId": env.tenant, "status": env.status.as_str(), "expiresAt": env.expires_at,
        },
        "run": {"id": run.id, "workflow": run.workflow, "startedBy": run.started_by},
        "step": {"id": step.id, "phase": step.phase, "name": step.name},
    })
}

/// The step's environment variables: `TERRANE_VAR_<NAME>` per variable, and
/// `TERRANE_ENVIRONMENT_*`, `TERRANE_RUN_ID`, `TERRANE_WORKFLOW`, `TERRANE_STEP_*`.
fn vars(run: &Run, env: &Environment, step: &Step) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = run
        .variables
        .iter()
        .map(|(k, v)| (format!("TERRANE_VAR_{}", k.to_ascii_uppercase()), v.clone()))
        .collect();
    vars.extend([
        ("TERRANE_ENVIRONMENT_ID".to_owned(), env.id.to_string()),
        ("TERRANE_ENVIRONMENT_NAME".to_owned(), env.name.to_string()),
        (
            "TERRANE_ENVIRONMENT_DISPLAY_NAME".to_owned(),
            env.display_name.clone(),
        ),
        ("TERRANE_ORGANIZATION_ID".to_owned(), env.tenant.to_string()),
        ("TERRANE_RUN_ID".to_owned(), run.id.to_string()),
        ("TERRANE_WORKFLOW".to_owned(), run.workflow.clone()),
        ("TERRANE_STEP_PHASE".to_owned(), step.phase.clone()),
        ("TERRANE_STEP_NAME".to_owned(), step.name.clone()),
    ]);
    vars
}

impl WorkflowRunner {
    /// A runner over the lifecycle ports and `executor`.
    pub fn new(
        ports: LifecyclePorts,
        executor: Arc<dyn WorkflowExecutor>,
        settings: RunnerSettings,
    ) -> Self {
        Self {
            ports,
            executor,
            settings,
        }
    }

    fn lease(&self) -> Lease {
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or(chrono::Duration::seconds(30));
        Lease {
            owner: self.settings.owner,
            until: self.ports.clock.now() + lease,
        }
    }

    /// Claims up to `limit` runs for this replica.
    ///
    /// # Errors
    /// `Unavailable` when the database is.
    pub async fn claim(&self, limit: u32) -> Result<Vec<ClaimedRun>, ServiceError> {
        self.ports
            .lifecycle
            .claim_runs(self.lease(), self.ports.clock.now(), limit)
            .await
            .map_err(store_error)
    }

    fn ended(&self, env: &Environment, run: &Run) -> Option<terrane_domain::LifecycleEvent> {
        let to = run.environment_status()?;
        let detail = match run.status {
            RunStatus::Failed => run
                .steps
                .iter()
                .find(|s| s.status == terrane_domain::StepStatus::Failed)
                .map(|s| format!("step `{}` failed", s.name)),
            _ => None,
        };
        let mut event = self.ports.event(
            env,
            None,
            run.status.as_str(),
            Some(run),
            to,
            detail,
            self.ports.clock.now(),
        );
        event.from = Some(EnvironmentStatus::Busy);
        Some(event)
    }

    /// Saves `run` under `lease`; `false` when the lease is lost (stop at once).
    async fn save(
        &self,
        env: &Environment,
        run: &Run,
        lease: &mut Lease,
        attributes: BTreeMap<String, String>,
    ) -> Result<bool, ServiceError> {
        *lease = self.lease();
        let event = self.ended(env, run);
        match self
            .ports
            .lifecycle
            .save_run(
                run.tenant,
                run.clone(),
                *lease,
                attributes,
                event,
                self.ports.clock.now(),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_) | StoreError::NotFound) => Ok(false),
            Err(other) => Err(store_error(other)),
        }
    }

    /// Executes a claimed run to its end: fails it at once if its replica stopped while it
    /// ran, or starts it and runs its steps in order. Stops without writing when the lease is
    /// lost, killing the step it runs.
    ///
    /// # Errors
    /// `Unavailable` when the database is (the lease then runs out and another replica
    /// fails the run).
    pub async fn execute(&self, claim: ClaimedRun) -> Result<(), ServiceError> {
        let ClaimedRun {
            run,
            environment: env,
            mut lease,
        } = claim;
        let mut run = match run.status {
            RunStatus::Running => {
                tracing::warn!(run = %run.id, environment = %env.id, "failing a run whose replica stopped");
                let failed = run.abandon(self.ports.clock.now()).map_err(refused)?;
                self.save(&env, &failed, &mut lease, BTreeMap::new())
                    .await?;
                return Ok(());
            }
            RunStatus::Requested => run.start(self.ports.clock.now()).map_err(refused)?,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Canceled => return Ok(()),
        };
        if !self.save(&env, &run, &mut lease, BTreeMap::new()).await? {
            return Ok(());
        }
        while let Some(step) = run.next_step().cloned() {
            run = run
                .start_step(step.id, self.ports.clock.now())
                .map_err(refused)?;
            // Recorded as started before its process starts: a replica that takes over after
            // this one stopped finds it running and fails it, never starting it again.
            if !self.save(&env, &run, &mut lease, BTreeMap::new()).await? {
                return Ok(());
            }
            let Some(end) = self.step(&env, &run, &step, &mut lease).await? else {
                return Ok(());
            };
            let StepEnd {
                outcome,
                attributes,
            } = end;
            run = run
                .finish_step(step.id, outcome, self.ports.clock.now())
                .map_err(refused)?;
            if !self.save(&env, &run, &mut lease, attributes).await? || run.status.is_final() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Runs one step, renewing the lease meanwhile. `None` when the run ended otherwise
    /// (canceled, recorded here, or its lease lost).
    async fn step(
        &self,
        env: &Environment,
        run: &Run,
        step: &Step,
        lease: &mut Lease,
    ) -> Result<Option<StepEnd>, ServiceError> {
        let command = StepCommand {
            executable: step.run.clone(),
            stdin: stdin(run, env, step),
            vars: vars(run, env, step),
            timeout: Duration::from_secs(step.timeout_seconds.into()),
        };
        let mut running = match self.executor.start(command).await {
            Ok(running) => running,
            Err(why) => {
                return Ok(Some(StepEnd {
                    outcome: StepOutcome {
                        exit_code: None,
                        timed_out: false,
                        output: why,
                    },
                    attributes: BTreeMap::new(),
                }))
            }
        };
        loop {
            tokio::select! {
                end = running.wait() => return Ok(Some(end)),
                () = tokio::time::sleep(self.settings.poll) => {}
            }
            *lease = self.lease();
            match self.ports.lifecycle.renew(run.tenant, run.id, *lease).await {
                Ok(RunSignal::Continue) => {}
                Ok(RunSignal::Cancel) => {
                    let end = running.kill().await;
                    let canceled = run
                        .cancel(Some(end.outcome.output), self.ports.clock.now())
                        .map_err(refused)?;
                    self.save(env, &canceled, lease, end.attributes).await?;
                    return Ok(None);
                }
                Ok(RunSignal::Lost) => {
                    tracing::warn!(run = %run.id, "lost the lease of a run; stopping its step");
                    running.kill().await;
                    return Ok(None);
                }
                // The lease may still hold; the next renewal tries again.
                Err(error) => {
                    tracing::warn!(run = %run.id, %error, "renewing a run's lease failed")
                }
            }
        }
    }

    /// Starts the destroy workflow of up to `limit` template environments whose time to
    /// live has passed, and answers how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is.
    pub async fn expire(&self, limit: u32) -> Result<usize, ServiceError> {
        let now = self.ports.clock.now();
        let expired = self
            .ports
            .lifecycle
            .expired(now, limit)
            .await
            .map_err(store_error)?;
        let mut started = 0;
        for env in expired {
            let Some((lifecycle, template)) = self.ports.template_of(&env).await? else {
                continue;
            };
            let run = match self.ports.request_run(
                &env,
                &template,
                &template.destroy_workflow,
                &lifecycle.variables,
                &Map::new(),
                None,
            ) {
                Ok(run) => run,
                Err(error) => {
                    tracing::warn!(environment = %env.id, %error, "the destroy workflow of an expired environment cannot run");
                    continue;
                }
            };
            let event = self.ports.event(
                &env,
                None,
                "expired",
                Some(&run),
                EnvironmentStatus::Busy,
                Some("time to live elapsed; the destroy workflow runs".into()),
                now,
            );
            match self
                .ports
                .lifecycle
                .change_status(
                    env.tenant,
                    env.id,
                    StatusChange {
                        expected_version: env.version,
                        status: EnvironmentStatus::Busy,
                        run: Some(run),
                        event,
                    },
                    now,
                )
                .await
            {
                Ok(_) => started += 1,
                // Another replica (or a person) got there first.
                Err(
                    StoreError::VersionMismatch { .. }
                    | StoreError::Conflict(_)
                    | StoreError::NotFound,
                ) => {}
                Err(other) => return Err(store_error(other)),
            }
        }
        if started > 0 {
            self.ports.queue.wake();
        }
        Ok(started)
    }
}
