//! The environment request use cases: submitting, reviewing, provisioning, expiring, and the
//! time to live of the environments they make.

use crate::authorize;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use terrane_domain::request::{messages, parse_comment};
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
mod tests {
    use super::*;
    use chrono::TimeZone;
    use terrane_domain::{EnvironmentInput, RequestStatus, Role, TenantId, UserId};
    use terrane_ports::{
        MockClock, MockComponentRepository, MockEnvironmentRepository,
        MockEnvironmentRequestRepository, MockIdSource, MockProvisioner, MockProvisioningQueue,
    };
    use uuid::Uuid;

    const TENANT: u128 = 7;
    const REQUESTER: u128 = 1;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 5).unwrap()
    }

    fn actor(user: u128, role: Role) -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(user)),
            tenant: TenantId(Uuid::from_u128(TENANT)),
            roles: vec![role],
        }
    }

    fn input(kind: &str) -> RequestInput {
        RequestInput {
            name: Some("feature-xyz-preview".into()),
            environment_type: Some(kind.into()),
            tier: Some("small".into()),
            ..Default::default()
        }
    }

    /// A stored request of the requester in `status`.
    fn stored(status: RequestStatus) -> EnvironmentRequest {
        let (request, _) = input("ephemeral")
            .into_new(&TtlPolicy::default())
            .unwrap()
            .into_request(
                EnvironmentRequestId(Uuid::from_u128(5)),
                TenantId(Uuid::from_u128(TENANT)),
                UserId(Uuid::from_u128(REQUESTER)),
                t0(),
            );
        EnvironmentRequest { status, ..request }
    }

    struct Mocks {
        requests: MockEnvironmentRequestRepository,
        environments: MockEnvironmentRepository,
        components: MockComponentRepository,
        provisioner: MockProvisioner,
        queue: MockProvisioningQueue,
    }

    impl Mocks {
        fn new(inline: bool) -> Self {
            let mut provisioner = MockProvisioner::new();
            provisioner.expect_is_inline().return_const(inline);
            provisioner
                .expect_timeout()
                .return_const(std::time::Duration::from_secs(60));
            Self {
                requests: MockEnvironmentRequestRepository::new(),
                environments: MockEnvironmentRepository::new(),
                components: MockComponentRepository::new(),
                provisioner,
                queue: MockProvisioningQueue::new(),
            }
        }

        /// The repository answers `request` to every read.
        fn reading(mut self, request: EnvironmentRequest) -> Self {
            self.requests
                .expect_get()
                .returning(move |_, _| Ok(request.clone()));
            self
        }

        fn ports(self) -> RequestPorts {
            let mut clock = MockClock::new();
            clock.expect_now().returning(t0);
            let mut ids = MockIdSource::new();
            ids.expect_new_id().returning(|| Uuid::from_u128(42));
            RequestPorts {
                requests: Arc::new(self.requests),
                environments: Arc::new(self.environments),
                components: Arc::new(self.components),
                provisioner: Arc::new(self.provisioner),
                queue: Arc::new(self.queue),
                clock: Arc::new(clock),
                ids: Arc::new(ids),
            }
        }

        fn service(self, sod: bool) -> EnvironmentRequests {
            EnvironmentRequests::new(
                self.ports(),
                RequestSettings {
                    ttl: TtlPolicy::new(6, 48).unwrap(),
                    require_separation_of_duties: sod,
                },
            )
        }
    }

    fn id() -> EnvironmentRequestId {
        EnvironmentRequestId(Uuid::from_u128(5))
    }

    /// Saves answer what was saved.
    fn saving(mocks: &mut Mocks) {
        mocks
            .requests
            .expect_save()
            .returning(|_, next, _, _, _| Ok(next));
    }

    #[tokio::test]
    async fn viewers_cannot_request_environments_and_nothing_is_stored() {
        let mut mocks = Mocks::new(true);
        mocks.requests.expect_create().never();
        let error = mocks
            .service(false)
            .create(&actor(REQUESTER, Role::Viewer), input("ephemeral"))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(m) if m.contains("deployer")));
    }

    #[tokio::test]
    async fn a_request_is_stored_pending_for_the_caller_in_their_tenant_with_the_default_ttl() {
        let mut mocks = Mocks::new(true);
        mocks
            .requests
            .expect_create()
            .withf(|request, entry| {
                request.tenant == TenantId(Uuid::from_u128(TENANT))
                    && request.requested_by == UserId(Uuid::from_u128(REQUESTER))
                    && request.status == RequestStatus::Pending
                    && request.ttl_hours == Some(6)
                    && entry.to == RequestStatus::Pending
            })
            .returning(|request, _| Ok(request));
        let request = mocks
            .service(false)
            .create(&actor(REQUESTER, Role::Deployer), input("ephemeral"))
            .await
            .unwrap();
        assert_eq!(request.id, EnvironmentRequestId(Uuid::from_u128(42)));
    }

    #[tokio::test]
    async fn an_unknown_component_is_a_validation_error_on_component_id() {
        let mut mocks = Mocks::new(true);
        mocks
            .components
            .expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        mocks.requests.expect_create().never();
        let error = mocks
            .service(false)
            .create(
                &actor(REQUESTER, Role::Deployer),
                RequestInput {
                    component_id: Some(Uuid::from_u128(99)),
                    ..input("ephemeral")
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == "componentId"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn only_the_requester_or_an_admin_may_change_a_request() {
        let patch = RequestPatch {
            description: Some(Some("why".into())),
            ..Default::default()
        };
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Pending));
        mocks
            .requests
            .expect_save()
            .times(2)
            .returning(|_, next, _, _, _| Ok(next));
        let service = mocks.service(false);
        let other = service
            .update(&actor(3, Role::Deployer), id(), None, patch.clone())
            .await
            .unwrap_err();
        assert!(matches!(other, ServiceError::Forbidden(_)), "{other:?}");
        for who in [actor(REQUESTER, Role::Deployer), actor(3, Role::Admin)] {
            let changed = service
                .update(&who, id(), None, patch.clone())
                .await
                .unwrap();
            assert_eq!(changed.description.as_deref(), Some("why"));
        }
    }

    #[tokio::test]
    async fn a_request_that_is_no_longer_pending_cannot_be_changed_or_deleted() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Active));
        mocks.requests.expect_save().never();
        mocks.requests.expect_delete().never();
        let service = mocks.service(false);
        let patch = RequestPatch {
            ttl_hours: Some(2),
            ..Default::default()
        };
        let error = service
            .update(&actor(REQUESTER, Role::Deployer), id(), None, patch)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].message.contains("only pending")),
            "{error:?}"
        );
        let error = service
            .delete(&actor(3, Role::Admin), id(), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Validation(_)), "{error:?}");
    }

    #[tokio::test]
    async fn reviewing_expiring_retrying_and_deleting_need_the_admin_role() {
        let mut mocks = Mocks::new(true);
        mocks.requests.expect_get().never();
        mocks.requests.expect_save().never();
        let service = mocks.service(false);
        let deployer = actor(REQUESTER, Role::Deployer);
        let results = [
            service.approve(&deployer, id(), None, None).await,
            service.reject(&deployer, id(), None, None).await,
            service.expire(&deployer, id(), None).await,
            service.retry(&deployer, id(), None).await,
        ];
        for result in results {
            assert!(matches!(result, Err(ServiceError::Forbidden(ref m)) if m.contains("admin")));
        }
        assert!(matches!(
            service.delete(&deployer, id(), None).await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn approving_own_request_is_refused_when_separation_of_duties_is_on() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Pending));
        mocks.requests.expect_save().never();
        let requester_as_admin = actor(REQUESTER, Role::Admin);
        let error = mocks
            .service(true)
            .approve(&requester_as_admin, id(), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Forbidden(m) if m.contains("separation of duties")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn without_separation_of_duties_an_admin_may_approve_their_own_request() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Pending));
        saving(&mut mocks);
        let approved = mocks
            .service(false)
            .approve(&actor(REQUESTER, Role::Admin), id(), None, None)
            .await
            .unwrap();
        assert_eq!(approved.status, RequestStatus::Active);
    }

    #[tokio::test]
    async fn approving_inline_saves_the_whole_chain_and_the_environment_in_one_save() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Pending));
        mocks
            .requests
            .expect_save()
            .times(1)
            .withf(|expected, next, history, effect, _| {
                let moves: Vec<_> = history.iter().map(|e| e.to).collect();
                *expected == 1
                    && next.status == RequestStatus::Active
                    && next.environment_id == Some(EnvironmentId(Uuid::from_u128(42)))
                    && moves
                        == [
                            RequestStatus::Approved,
                            RequestStatus::Provisioning,
                            RequestStatus::Active,
                        ]
                    && matches!(effect, EnvironmentEffect::Create(env) if env.name.as_str() == "feature-xyz-preview")
            })
            .returning(|_, next, _, _, _| Ok(next));
        mocks.queue.expect_wake().never();
        let approved = mocks
            .service(true)
            .approve(&actor(3, Role::Admin), id(), None, Some("ok".into()))
            .await
            .unwrap();
        assert_eq!(
            approved.status_message.as_deref(),
            Some("Approved for provisioning")
        );
        assert_eq!(approved.reviewed_by, Some(UserId(Uuid::from_u128(3))));
        assert_eq!(approved.expires_at, Some(t0() + Duration::hours(24)));
    }

    #[tokio::test]
    async fn approving_inline_when_the_name_was_taken_meanwhile_fails_the_request() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Pending));
        let mut calls = 0;
        mocks
            .requests
            .expect_save()
            .times(2)
            .returning(move |_, next, _, effect, _| {
                calls += 1;
                match (calls, effect) {
                    (1, EnvironmentEffect::Create(_)) => Err(StoreError::Conflict(
                        "an environment named `feature-xyz-preview` already exists".into(),
                    )),
                    (2, EnvironmentEffect::None) => Ok(next),
                    other => panic!("unexpected save {other:?}"),
                }
            });
        let failed = mocks
            .service(false)
            .approve(&actor(3, Role::Admin), id(), None, None)
            .await
            .unwrap();
        assert_eq!(failed.status, RequestStatus::Failed);
        assert!(failed.status_message.unwrap().contains("already exists"));
    }

    #[tokio::test]
    async fn approving_with_a_background_provisioner_answers_provisioning_and_wakes_the_worker() {
        let mut mocks = Mocks::new(false).reading(stored(RequestStatus::Pending));
        mocks
            .requests
            .expect_save()
            .withf(|_, next, history, effect, _| {
                next.status == RequestStatus::Provisioning
                    && history.len() == 2
                    && *effect == EnvironmentEffect::None
            })
            .returning(|_, next, _, _, _| Ok(next));
        mocks.queue.expect_wake().times(1).return_const(());
        let approved = mocks
            .service(false)
            .approve(&actor(3, Role::Admin), id(), None, None)
            .await
            .unwrap();
        assert_eq!(approved.status, RequestStatus::Provisioning);
    }

    #[tokio::test]
    async fn approving_a_request_that_is_not_pending_is_a_400_naming_the_allowed_moves() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Rejected));
        mocks.requests.expect_save().never();
        let error = mocks
            .service(false)
            .approve(&actor(3, Role::Admin), id(), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].message.contains("`rejected` is final")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_stale_if_match_is_a_precondition_failure_and_nothing_is_saved() {
        let mut mocks = Mocks::new(true).reading(stored(RequestStatus::Pending));
        mocks.requests.expect_save().never();
        let error = mocks
            .service(false)
            .reject(&actor(3, Role::Admin), id(), Some(7), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::PreconditionFailed(m) if m.contains("\"1\"")));
    }

    #[tokio::test]
    async fn a_review_that_lost_a_race_is_decided_again_on_the_new_state() {
        let mut mocks = Mocks::new(true);
        let mut reads = 0;
        mocks.requests.expect_get().times(2).returning(move |_, _| {
            reads += 1;
            Ok(if reads == 1 {
                stored(RequestStatus::Pending)
            } else {
                stored(RequestStatus::Rejected)
            })
        });
        mocks
            .requests
            .expect_save()
            .times(1)
            .returning(|_, _, _, _, _| Err(StoreError::VersionMismatch { current: 2 }));
        let error = mocks
            .service(false)
            .approve(&actor(3, Role::Admin), id(), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].field == "status"),
            "the loser sees the winner's move: {error:?}"
        );
    }

    #[tokio::test]
    async fn another_organizations_requests_are_never_listed() {
        let mut mocks = Mocks::new(true);
        mocks.requests.expect_list().never();
        let query = RequestQuery {
            organization_id: Some(TenantId(Uuid::from_u128(8))),
            ..Default::default()
        };
        let (page, total) = mocks
            .service(false)
            .list(&actor(REQUESTER, Role::Viewer), query)
            .await
            .unwrap();
        assert_eq!((page.len(), total), (0, 0));
    }

    fn environment(request: Option<Uuid>) -> Environment {
        let mut env = EnvironmentInput {
            name: Some("feature-xyz-preview".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            EnvironmentId(Uuid::from_u128(9)),
            terrane_domain::EnvironmentNumber(1),
            TenantId(Uuid::from_u128(TENANT)),
            0,
            t0(),
        );
        env.request_id = request;
        env
    }

    fn ttl_mocks(request: EnvironmentRequest) -> Mocks {
        let mut mocks = Mocks::new(true).reading(request);
        mocks
            .environments
            .expect_get()
            .returning(|_, _| Ok(environment(Some(Uuid::from_u128(5)))));
        mocks
    }

    #[tokio::test]
    async fn the_requester_or_an_admin_may_set_the_ttl_and_the_expiry_is_now_plus_the_minutes() {
        let mut mocks = ttl_mocks(stored(RequestStatus::Active));
        mocks
            .requests
            .expect_set_expiry()
            .times(2)
            .withf(|_, _, expires_at, _| *expires_at == Some(t0() + Duration::minutes(30)))
            .returning(|_, _, expires_at, _| {
                let mut env = environment(Some(Uuid::from_u128(5)));
                env.expires_at = expires_at;
                Ok(env)
            });
        let service = mocks.service(false);
        let env = service
            .set_ttl(
                &actor(REQUESTER, Role::Deployer),
                EnvironmentId(Uuid::from_u128(9)),
                30,
            )
            .await
            .unwrap();
        assert_eq!(env.expires_at, Some(t0() + Duration::minutes(30)));
        service
            .set_ttl(
                &actor(3, Role::Admin),
                EnvironmentId(Uuid::from_u128(9)),
                30,
            )
            .await
            .unwrap();
        let error = service
            .set_ttl(
                &actor(3, Role::Deployer),
                EnvironmentId(Uuid::from_u128(9)),
                30,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(_)), "{error:?}");
    }

    #[tokio::test]
    async fn the_ttl_of_a_persistent_requests_environment_cannot_be_set() {
        let persistent = EnvironmentRequest {
            environment_type: EnvironmentType::Persistent,
            ttl_hours: None,
            ..stored(RequestStatus::Active)
        };
        let mut mocks = ttl_mocks(persistent);
        mocks.requests.expect_set_expiry().never();
        let error = mocks
            .service(false)
            .set_ttl(
                &actor(3, Role::Admin),
                EnvironmentId(Uuid::from_u128(9)),
                30,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Validation(e) if e.errors()[0].message.contains("do not expire")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_admin_expiry_deprovisions_the_environment_before_recording_it() {
        let active = EnvironmentRequest {
            environment_id: Some(EnvironmentId(Uuid::from_u128(9))),
            ..stored(RequestStatus::Active)
        };
        let mut mocks = Mocks::new(true).reading(active);
        let mut sequence = mockall::Sequence::new();
        mocks
            .requests
            .expect_claim_environment()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _, _, _| Ok(Some(environment(Some(Uuid::from_u128(5))))));
        mocks
            .provisioner
            .expect_deprovision()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _| Ok(()));
        mocks
            .requests
            .expect_save()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(|_, next, _, effect, _| {
                next.status == RequestStatus::Expired && *effect == EnvironmentEffect::Destroy
            })
            .returning(|_, next, _, _, _| Ok(next));
        let expired = mocks
            .service(false)
            .expire(&actor(3, Role::Admin), id(), None)
            .await
            .unwrap();
        assert_eq!(
            expired.status_message.as_deref(),
            Some("Environment expired by administrator")
        );
    }

    #[tokio::test]
    async fn a_failed_deprovisioning_leaves_the_request_active_and_releases_the_claim() {
        let active = EnvironmentRequest {
            environment_id: Some(EnvironmentId(Uuid::from_u128(9))),
            ..stored(RequestStatus::Active)
        };
        let mut mocks = Mocks::new(true).reading(active);
        mocks
            .requests
            .expect_claim_environment()
            .returning(|_, _, _, _| Ok(Some(environment(Some(Uuid::from_u128(5))))));
        mocks
            .provisioner
            .expect_deprovision()
            .returning(|_, _| Err(ProvisionError("exit status 1: no such cluster".into())));
        mocks
            .requests
            .expect_release_environment()
            .times(1)
            .returning(|_, _, _| Ok(()));
        mocks.requests.expect_save().never();
        let error = mocks
            .service(false)
            .expire(&actor(3, Role::Admin), id(), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Conflict(m) if m.contains("no such cluster")));
    }
}
