//! The environment request use cases: submitting, reviewing, provisioning, expiring, and the
//! time to live of the environments they make.

use crate::authorize;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use terrane_domain::environment_request::{messages, parse_comment};
use terrane_domain::{
    Actor, ComponentId, Environment, EnvironmentId, EnvironmentRequest, EnvironmentRequestId,
    EnvironmentStatus, EnvironmentType, Permission, RequestError, RequestHistoryEntry,
    RequestInput, RequestPatch, TtlPolicy, ValidationErrors,
};
use terrane_ports::{
    Clock, ComponentRepository, EnvironmentEffect, EnvironmentRepository,
    EnvironmentRequestRepository, EnvironmentRequestService, IdSource, ProvisionError, Provisioner,
    ProvisioningQueue, RequestQuery, ServiceError, StoreError,
};

const WHAT: &str = "environment request";

/// How often a change that lost a compare-and-set without `If-Match` is decided again on
/// the new state before giving up.
const ATTEMPTS: usize = 3;

/// How much longer than the provisioner's timeout a claim is leased for: enough to record
/// the outcome after a run that took the whole timeout.
pub(crate) const LEASE_MARGIN: Duration = Duration::seconds(15);

/// What an installation decides about requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestSettings {
    /// Default and maximum time to live of ephemeral requests.
    pub ttl: TtlPolicy,
    /// Whether a request's requester is barred from approving it.
    pub require_separation_of_duties: bool,
}

/// The driven ports the request use cases and background jobs work through.
#[derive(Clone)]
pub struct RequestPorts {
    /// Requests and their history.
    pub requests: Arc<dyn EnvironmentRequestRepository>,
    /// The environment inventory (for time to live).
    pub environments: Arc<dyn EnvironmentRepository>,
    /// The component catalog (a request may name a component).
    pub components: Arc<dyn ComponentRepository>,
    /// What makes and tears down environments.
    pub provisioner: Arc<dyn Provisioner>,
    /// Wakes the background provisioning worker.
    pub queue: Arc<dyn ProvisioningQueue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdSource>,
}

impl RequestPorts {
    /// Until when a background claim made at `now` holds.
    pub(crate) fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let timeout = Duration::from_std(self.provisioner.timeout()).unwrap_or(Duration::days(1));
        now + timeout + LEASE_MARGIN
    }
}

/// The environment request use cases.
pub struct EnvironmentRequests {
    ports: RequestPorts,
    settings: RequestSettings,
}

impl EnvironmentRequests {
    /// Wires the use cases to their ports.
    pub fn new(ports: RequestPorts, settings: RequestSettings) -> Self {
        Self { ports, settings }
    }
}

/// A request after a decision, what to append to its history, and what happens to its
/// environment, all to be saved together.
pub(crate) struct Plan {
    pub(crate) next: EnvironmentRequest,
    pub(crate) history: Vec<RequestHistoryEntry>,
    pub(crate) effect: EnvironmentEffect,
}

pub(crate) fn store_error(error: StoreError) -> ServiceError {
    match error {
        StoreError::MissingReference(field) if field == "componentId" => unknown_component(),
        other => ServiceError::from_store(other, WHAT),
    }
}

fn unknown_component() -> ServiceError {
    ServiceError::Validation(ValidationErrors::single(
        "componentId",
        "no component with that id exists in your organization",
    ))
}

/// A move or change the request's status does not allow: a 400 naming `status`.
pub(crate) fn refused(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Validation(ValidationErrors::single("status", error.to_string()))
}

fn request_error(error: RequestError) -> ServiceError {
    match error {
        RequestError::Invalid(errors) => ServiceError::Validation(errors),
        RequestError::Transition(error) => refused(error),
        RequestError::NotPending(error) => refused(error),
    }
}

fn stale(current: i64) -> ServiceError {
    store_error(StoreError::VersionMismatch { current })
}

/// The moves that provision `current` from `provisioning` inline: to `active` with its new
/// environment, or, when `failure` says the environment cannot be made, to `failed`.
pub(crate) fn provisioned(
    current: &EnvironmentRequest,
    mut history: Vec<RequestHistoryEntry>,
    environment: EnvironmentId,
    failure: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Plan, ServiceError> {
    let (next, entry, effect) = match failure {
        None => {
            let (next, entry) = current.activate(environment, now).map_err(refused)?;
            (
                next,
                entry,
                EnvironmentEffect::Create(current.new_environment()),
            )
        }
        Some(reason) => {
            let (next, entry) = current.fail(reason, now).map_err(refused)?;
            (next, entry, EnvironmentEffect::None)
        }
    };
    history.push(entry);
    Ok(Plan {
        next,
        history,
        effect,
    })
}

impl EnvironmentRequests {
    /// The request, checked against the version the client expects.
    async fn current(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<EnvironmentRequest, ServiceError> {
        let request = self
            .ports
            .requests
            .get(actor.tenant, id)
            .await
            .map_err(store_error)?;
        match expected_version {
            Some(expected) if expected != request.version => Err(stale(request.version)),
            _ => Ok(request),
        }
    }

    /// Decides a change on the current request and saves it as one compare-and-set. Without
    /// `If-Match`, a change that loses to a concurrent one is decided again on the new state
    /// (which may now refuse it); with `If-Match`, it is a 412.
    async fn change(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        decide: impl Fn(&EnvironmentRequest, DateTime<Utc>) -> Result<Option<Plan>, ServiceError>
            + Send
            + Sync,
    ) -> Result<EnvironmentRequest, ServiceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.current(actor, id, expected_version).await?;
            let now = self.ports.clock.now();
            let Some(plan) = decide(&current, now)? else {
                return Ok(current);
            };
            match self
                .ports
                .requests
                .save(current.version, plan.next, plan.history, plan.effect, now)
                .await
            {
                Err(StoreError::VersionMismatch { .. })
                    if expected_version.is_none() && attempt < ATTEMPTS => {}
                other => return other.map_err(store_error),
            }
        }
    }

    /// Provisions a request that has just entered `provisioning` (approved or retried):
    /// inline, the whole chain is saved at once and answers `active`, or `failed` when its
    /// environment's name is taken; otherwise it is saved as `provisioning` and the
    /// background worker is woken.
    async fn provision_from(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        enter: impl Fn(
                &EnvironmentRequest,
                DateTime<Utc>,
            ) -> Result<(EnvironmentRequest, Vec<RequestHistoryEntry>), ServiceError>
            + Send
            + Sync,
    ) -> Result<EnvironmentRequest, ServiceError> {
        if !self.ports.provisioner.is_inline() {
            let saved = self
                .change(actor, id, expected_version, |current, now| {
                    let (next, history) = enter(current, now)?;
                    Ok(Some(Plan {
                        next,
                        history,
                        effect: EnvironmentEffect::None,
                    }))
                })
                .await?;
            self.ports.queue.wake();
            return Ok(saved);
        }
        let environment = EnvironmentId(self.ports.ids.new_id());
        let made = self
            .change(actor, id, expected_version, |current, now| {
                let (provisioning, history) = enter(current, now)?;
                provisioned(&provisioning, history, environment, None, now).map(Some)
            })
            .await;
        match made {
            // The only name that can clash here is the environment's: another environment
            // took it after the request was submitted. That is the provisioning's failure.
            Err(ServiceError::Conflict(reason)) => {
                self.change(actor, id, expected_version, |current, now| {
                    let (provisioning, history) = enter(current, now)?;
                    provisioned(&provisioning, history, environment, Some(&reason), now).map(Some)
                })
                .await
            }
            other => other,
        }
    }

    /// The environment, and the request it was made for, when an actor may change its time
    /// to live: an admin, or (with the deployer role) the requester.
    async fn ttl_target(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<(Environment, Option<EnvironmentRequest>), ServiceError> {
        authorize(
            actor,
            Permission::Read,
            "changing the time to live of an environment",
        )?;
        let env = self
            .ports
            .environments
            .get(actor.tenant, environment)
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))?;
        let request = match env.request_id {
            Some(id) => match self
                .ports
                .requests
                .get(actor.tenant, EnvironmentRequestId(id))
                .await
            {
                Ok(request) => Some(request),
                Err(StoreError::NotFound) => None,
                Err(other) => return Err(store_error(other)),
            },
            None => None,
        };
        let is_requester = request
            .as_ref()
            .is_some_and(|r| r.requested_by == actor.user && actor.may(Permission::Deploy));
        if !actor.is_admin() && !is_requester {
            return Err(ServiceError::Forbidden(
                "changing the time to live of an environment needs the `admin` role, or to be \
                 the requester of the request it was made for"
                    .into(),
            ));
        }
        if env.status == EnvironmentStatus::Destroyed {
            return Err(ServiceError::Validation(ValidationErrors::single(
                "status",
                "the environment is destroyed: it has no time to live to change",
            )));
        }
        Ok((env, request))
    }
}

#[async_trait]
impl EnvironmentRequestService for EnvironmentRequests {
    async fn create(
        &self,
        actor: &Actor,
        input: RequestInput,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(actor, Permission::Deploy, "requesting an environment")?;
        let new = input.into_new(&self.settings.ttl)?;
        if let Some(ComponentId(component)) = new.component_id {
            match self
                .ports
                .components
                .get(actor.tenant, ComponentId(component))
                .await
            {
                Ok(_) => {}
                Err(StoreError::NotFound) => return Err(unknown_component()),
                Err(other) => return Err(ServiceError::from_store(other, "component")),
            }
        }
        let id = EnvironmentRequestId(self.ports.ids.new_id());
        let (request, entry) =
            new.into_request(id, actor.tenant, actor.user, self.ports.clock.now());
        self.ports
            .requests
            .create(request, entry)
            .await
            .map_err(store_error)
    }

    async fn get(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(actor, Permission::Read, "reading environment requests")?;
        self.current(actor, id, None).await
    }

    async fn list(
        &self,
        actor: &Actor,
        query: RequestQuery,
    ) -> Result<(Vec<EnvironmentRequest>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading environment requests")?;
        if query
            .organization_id
            .is_some_and(|organization| organization != actor.tenant)
        {
            // Another organization's requests are never visible: the filter matches none.
            return Ok((Vec::new(), 0));
        }
        self.ports
            .requests
            .list(actor.tenant, query.filter, query.page)
            .await
            .map_err(store_error)
    }

    async fn update(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        patch: RequestPatch,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(actor, Permission::Deploy, "changing an environment request")?;
        let ttl = self.settings.ttl;
        self.change(actor, id, expected_version, |current, now| {
            if current.requested_by != actor.user && !actor.is_admin() {
                return Err(ServiceError::Forbidden(
                    "only the requester or an admin may change an environment request".into(),
                ));
            }
            let next = current
                .edit(patch.clone(), &ttl, now)
                .map_err(request_error)?;
            if next == *current {
                return Ok(None);
            }
            Ok(Some(Plan {
                next,
                history: Vec::new(),
                effect: EnvironmentEffect::None,
            }))
        })
        .await
    }

    async fn delete(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "deleting an environment request",
        )?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.current(actor, id, expected_version).await?;
            current.ensure_deletable().map_err(refused)?;
            match self
                .ports
                .requests
                .delete(actor.tenant, id, current.version)
                .await
            {
                Err(StoreError::VersionMismatch { .. })
                    if expected_version.is_none() && attempt < ATTEMPTS => {}
                other => return other.map_err(store_error),
            }
        }
    }

    async fn approve(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        comment: Option<String>,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "approving an environment request",
        )?;
        let comment = parse_comment(comment).map_err(ValidationErrors::from)?;
        let separation_of_duties = self.settings.require_separation_of_duties;
        self.provision_from(actor, id, expected_version, |current, now| {
            if separation_of_duties && current.requested_by == actor.user {
                return Err(ServiceError::Forbidden(
                    "separation of duties: nobody may approve their own environment request".into(),
                ));
            }
            let (approved, approval) = current
                .approve(actor.user, comment.clone(), now)
                .map_err(refused)?;
            let (provisioning, start) = approved.start_provisioning(now).map_err(refused)?;
            Ok((provisioning, vec![approval, start]))
        })
        .await
    }

    async fn reject(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        comment: Option<String>,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "rejecting an environment request",
        )?;
        let comment = parse_comment(comment).map_err(ValidationErrors::from)?;
        self.change(actor, id, expected_version, |current, now| {
            let (next, entry) = current
                .reject(actor.user, comment.clone(), now)
                .map_err(refused)?;
            Ok(Some(Plan {
                next,
                history: vec![entry],
                effect: EnvironmentEffect::None,
            }))
        })
        .await
    }

    async fn expire(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "expiring an environment request",
        )?;
        let current = self.current(actor, id, expected_version).await?;
        let now = self.ports.clock.now();
        current
            .expire(Some(actor.user), messages::EXPIRED_BY_ADMIN, now)
            .map_err(refused)?;
        // Claimed first, so that the reaper (on any replica) does not tear it down as well.
        let claimed =
            match current.environment_id {
                Some(environment) => match self
                    .ports
                    .requests
                    .claim_environment(actor.tenant, environment, now, self.ports.lease_until(now))
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(StoreError::NotFound) => None,
                    Err(StoreError::Conflict(_)) => return Err(ServiceError::Conflict(
                        "the environment is being deprovisioned already; read the request again \
                         in a moment"
                            .into(),
                    )),
                    Err(other) => return Err(store_error(other)),
                },
                None => None,
            };
        if let Some(env) = &claimed {
            if let Err(ProvisionError(reason)) = self
                .ports
                .provisioner
                .deprovision(env, Some(current.clone()))
                .await
            {
                self.release(actor, env.id).await;
                return Err(ServiceError::Conflict(format!(
                    "deprovisioning the environment failed, so the request stays active: {reason}"
                )));
            }
        }
        let effect = match claimed {
            Some(_) => EnvironmentEffect::Destroy,
            None => EnvironmentEffect::None,
        };
        // The environment is gone now: record it even if the request changed meanwhile (its
        // time to live, say), as long as it is still active. `If-Match` was checked above.
        let saved = self
            .change(actor, id, None, |current, now| {
                let (next, entry) = current
                    .expire(Some(actor.user), messages::EXPIRED_BY_ADMIN, now)
                    .map_err(refused)?;
                Ok(Some(Plan {
                    next,
                    history: vec![entry],
                    effect: effect.clone(),
                }))
            })
            .await;
        if let (Err(_), Some(env)) = (&saved, &claimed) {
            self.release(actor, env.id).await;
        }
        saved
    }

    async fn retry(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<EnvironmentRequest, ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "retrying an environment request",
        )?;
        self.provision_from(actor, id, expected_version, |current, now| {
            let (provisioning, entry) = current.retry(actor.user, now).map_err(refused)?;
            Ok((provisioning, vec![entry]))
        })
        .await
    }

    async fn history(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
    ) -> Result<Vec<RequestHistoryEntry>, ServiceError> {
        authorize(actor, Permission::Read, "reading environment requests")?;
        self.ports
            .requests
            .history(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn set_ttl(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        minutes: i64,
    ) -> Result<Environment, ServiceError> {
        let (env, request) = self.ttl_target(actor, environment).await?;
        let minutes = self
            .settings
            .ttl
            .minutes(minutes)
            .map_err(ValidationErrors::from)?;
        if request
            .as_ref()
            .is_some_and(|r| r.environment_type == EnvironmentType::Persistent)
        {
            return Err(ServiceError::Validation(ValidationErrors::single(
                "minutes",
                "the environment was requested as persistent, and persistent environments do not expire",
            )));
        }
        let now = self.ports.clock.now();
        let expires_at = now + Duration::minutes(i64::from(minutes));
        self.ports
            .requests
            .set_expiry(actor.tenant, env.id, Some(expires_at), now)
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))
    }

    async fn remove_ttl(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<Environment, ServiceError> {
        let (env, _) = self.ttl_target(actor, environment).await?;
        self.ports
            .requests
            .set_expiry(actor.tenant, env.id, None, self.ports.clock.now())
            .await
            .map_err(|e| ServiceError::from_store(e, "environment"))
    }
}

impl EnvironmentRequests {
    /// Gives a deprovisioning claim back after a failure, so the reaper or an admin can try
    /// again; a failure to do so only delays that until the lease runs out.
    async fn release(&self, actor: &Actor, environment: EnvironmentId) {
        if let Err(error) = self
            .ports
            .requests
            .release_environment(actor.tenant, environment, None)
            .await
        {
            tracing::warn!(%error, %environment, "could not release a deprovisioning claim");
        }
    }
}

#[cfg(test)]
mod tests;
