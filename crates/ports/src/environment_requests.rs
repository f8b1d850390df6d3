//! The ports of environment requests: where requests live, what makes and tears down their
//! environments, and the use cases the HTTP adapter calls.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use terrane_domain::{
    Actor, Environment, EnvironmentId, EnvironmentRequest, EnvironmentRequestId, NewEnvironment,
    Page, RequestFilter, RequestHistoryEntry, RequestInput, RequestPatch, TenantId,
};
use thiserror::Error;

/// What happens to a request's environment in the same transaction as the request's move.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvironmentEffect {
    /// Nothing.
    None,
    /// Create the environment in terrane's inventory: `new`, with the request's
    /// `environment_id` as its id, linked to the request (`request_id`), expiring at the
    /// request's `expires_at`, ordered after the tenant's other environments.
    Create(NewEnvironment),
    /// Mark the request's environment `destroyed` and release its deprovisioning claim.
    Destroy,
}

/// An environment whose time to live has passed, claimed for deprovisioning, with the
/// request it was made for (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiryClaim {
    /// The environment, as it was when claimed.
    pub environment: Environment,
    /// Its request, when it was made for one.
    pub request: Option<EnvironmentRequest>,
}

/// Where environment requests and their history live.
///
/// Tenant-scoped methods never touch another tenant's rows. The `claim_*` methods are the
/// exception by design: they find background work across every tenant, and each claims its
/// rows with a lease so that of several replicas exactly one works on a row at a time (and a
/// crashed replica's rows are taken over once its lease runs out).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EnvironmentRequestRepository: Send + Sync {
    /// Stores a new request (in `request.tenant`) with the history row of its submission.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] naming the name when the tenant has an environment of that
    /// name or another open request (see [`terrane_domain::RequestStatus::is_open`]) for it;
    /// [`StoreError::MissingReference`] naming `componentId` when the tenant has no such
    /// component.
    async fn create(
        &self,
        request: EnvironmentRequest,
        entry: RequestHistoryEntry,
    ) -> Result<EnvironmentRequest, StoreError>;

    /// One request.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no request with that id.
    async fn get(
        &self,
        tenant: TenantId,
        id: EnvironmentRequestId,
    ) -> Result<EnvironmentRequest, StoreError>;

    /// A page of the tenant's requests matching `filter`, newest first (then by id, so pages
    /// are stable), with the number of all matching rows.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        filter: RequestFilter,
        page: Page,
    ) -> Result<(Vec<EnvironmentRequest>, u64), StoreError>;

    /// The request's history, oldest first (entries of the same instant in the order they
    /// were stored).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no request with that id.
    async fn history(
        &self,
        tenant: TenantId,
        id: EnvironmentRequestId,
    ) -> Result<Vec<RequestHistoryEntry>, StoreError>;

    /// Replaces the stored request with `next` (in `next.tenant`) as one compare-and-set on
    /// `expected_version`, appends `history`, applies `effect` to its environment and
    /// releases any provisioning claim on it, all in one transaction: of two saves expecting
    /// the same version exactly one succeeds, and on any error nothing changes.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when the stored version is
    /// not `expected_version`; [`StoreError::Conflict`] naming the name when a new name is
    /// taken by an environment or another open request, or when
    /// [`EnvironmentEffect::Create`] finds an environment of that name.
    async fn save(
        &self,
        expected_version: i64,
        next: EnvironmentRequest,
        history: Vec<RequestHistoryEntry>,
        effect: EnvironmentEffect,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentRequest, StoreError>;

    /// Deletes a pending request and its history.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when the stored version is
    /// not `expected_version`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: EnvironmentRequestId,
        expected_version: i64,
    ) -> Result<(), StoreError>;

    /// Sets (or with `None` removes) the environment's expiry, bumping its version, and the
    /// expiry of the request it was made for, bumping that one's version, in one
    /// transaction. Answers the environment after the change.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn set_expiry(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError>;

    /// Claims up to `limit` requests of any tenant that are `approved` or `provisioning` and
    /// not claimed (or whose claim ran out before `now`), until `lease_until`. An approved
    /// request moves to `provisioning` in the claim, with its history row. Rows another
    /// transaction is claiming are skipped, never waited for.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn claim_provisioning(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EnvironmentRequest>, StoreError>;

    /// Claims, until `lease_until`, up to `limit` environments of any tenant whose expiry is
    /// at or before `now`, that are not destroyed and not claimed (or whose claim ran out),
    /// earliest expiry first, with their requests. Rows another transaction is claiming are
    /// skipped, never waited for.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn claim_expired(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ExpiryClaim>, StoreError>;

    /// Claims one environment of the tenant for deprovisioning until `lease_until`. `None`
    /// when it is already destroyed.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment;
    /// [`StoreError::Conflict`] when another claim on it has not run out.
    async fn claim_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Environment>, StoreError>;

    /// Gives up a deprovisioning claim: the environment may be claimed again from
    /// `retry_at` (at once when `None`).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn release_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Marks an environment `destroyed` without touching any request (one made for no
    /// request, or whose request is no longer active), bumping its version and releasing its
    /// claim. An environment already destroyed stays as it is.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn destroy_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Why making or tearing down an environment failed, in words for the request's
/// `statusMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct ProvisionError(pub String);

/// Makes and tears down the environments of requests outside terrane's own inventory (a
/// Terraform run, a Helm release, an operator's script). terrane records the environment in
/// its inventory itself, in the same transaction as the request's move to `active`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// True when `provision` has nothing to do outside terrane, so approving a request makes
    /// its environment within the same call; false when it runs outside work, which terrane
    /// then runs in the background.
    fn is_inline(&self) -> bool;

    /// The longest a `provision` or `deprovision` call may take: background claims are
    /// leased for longer than this.
    fn timeout(&self) -> Duration;

    /// Makes what `request` asks for.
    ///
    /// # Errors
    /// [`ProvisionError`] with the reason (a command's exit status and the end of its error
    /// output, or that it ran past [`Provisioner::timeout`] and was stopped).
    async fn provision(&self, request: &EnvironmentRequest) -> Result<(), ProvisionError>;

    /// Tears down `environment`, made for `request` when it was made for one.
    ///
    /// # Errors
    /// [`ProvisionError`] with the reason, as for `provision`.
    async fn deprovision(
        &self,
        environment: &Environment,
        request: Option<EnvironmentRequest>,
    ) -> Result<(), ProvisionError>;
}

/// Wakes the background provisioning worker, so a request approved or retried on this
/// replica starts at once rather than at the worker's next tick.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait ProvisioningQueue: Send + Sync {
    /// There is provisioning to claim.
    fn wake(&self);
}

/// A validated request list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Which requests.
    pub filter: RequestFilter,
    /// Only requests of this organization: the actor's own, or (any other) none at all.
    pub organization_id: Option<TenantId>,
    /// Which slice.
    pub page: Page,
}

/// Self-service environment requests: submitting, reviewing, provisioning, expiring.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EnvironmentRequestService: Send + Sync {
    /// Submits a request as the actor (deployer or admin), in the actor's organization.
    ///
    /// # Errors
    /// `Forbidden` for a viewer; `Validation` for bad fields (also naming `componentId` when
    /// the organization has no such component); `Conflict` when the name is taken by an
    /// environment or another open request.
    async fn create(
        &self,
        actor: &Actor,
        input: RequestInput,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// One request (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's organization has no such request.
    async fn get(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// A page of requests, newest first, and the total matching (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        query: RequestQuery,
    ) -> Result<(Vec<EnvironmentRequest>, u64), ServiceError>;

    /// Changes the name, description or time to live of a pending request (its requester
    /// or an admin).
    ///
    /// # Errors
    /// `Forbidden` for anyone else; `NotFound`; `Validation` for bad fields or a request that
    /// is no longer pending; `Conflict` for a taken name; `PreconditionFailed` when
    /// `expected_version` is stale.
    async fn update(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        patch: RequestPatch,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// Deletes a pending request (admin).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Validation` when it is no longer pending;
    /// `PreconditionFailed` when `expected_version` is stale.
    async fn delete(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;

    /// Approves a pending request (admin) and provisions it: with an inline provisioner the
    /// answer is `active` with its environment (or `failed`), otherwise `provisioning`, which
    /// continues in the background.
    ///
    /// # Errors
    /// `Forbidden` without the admin role, or for the requester when separation of duties
    /// is required; `NotFound`; `Validation` when it is not pending or for a bad comment;
    /// `PreconditionFailed` when `expected_version` is stale.
    async fn approve(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        comment: Option<String>,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// Rejects a pending request (admin).
    ///
    /// # Errors
    /// As for `approve`, except that separation of duties does not apply.
    async fn reject(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
        comment: Option<String>,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// Expires an active request (admin): its environment is deprovisioned and destroyed.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Validation` when it is not active; `Conflict` when its
    /// environment is being deprovisioned already or deprovisioning fails (naming why);
    /// `PreconditionFailed` when `expected_version` is stale.
    async fn expire(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// Provisions a failed request again (admin), inline or in the background as `approve`.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Validation` when it has not failed; `PreconditionFailed`
    /// when `expected_version` is stale.
    async fn retry(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
        expected_version: Option<i64>,
    ) -> Result<EnvironmentRequest, ServiceError>;

    /// Every move of a request, oldest first (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's organization has no such request.
    async fn history(
        &self,
        actor: &Actor,
        id: EnvironmentRequestId,
    ) -> Result<Vec<RequestHistoryEntry>, ServiceError>;

    /// Sets an environment to expire `minutes` from now (an admin, or the requester of the
    /// request it was made for); that request's expiry follows.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Validation` for minutes out of range, a destroyed
    /// environment, or one made for a persistent request.
    async fn set_ttl(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        minutes: i64,
    ) -> Result<Environment, ServiceError>;

    /// Removes an environment's expiry (an admin, or the requester of the request it was
    /// made for); that request's expiry follows.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    async fn remove_ttl(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<Environment, ServiceError>;
}
