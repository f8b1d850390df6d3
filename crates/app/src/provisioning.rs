//! Provisioning and expiry in the background, and the built-in provisioner.
//!
//! The background work is claimed across tenants with a lease (see
//! [`EnvironmentRequestRepository`](terrane_ports::EnvironmentRequestRepository)), so that
//! whatever the number of replicas exactly one works on a request or an environment at a
//! time, and a replica that dies mid-way leaves work that another takes over when its lease
//! runs out.

use crate::environment_requests::{provisioned, store_error, Plan, RequestPorts};
use async_trait::async_trait;
use chrono::Duration;
use std::time::Duration as StdDuration;
use terrane_domain::environment_request::messages;
use terrane_domain::{Environment, EnvironmentId, EnvironmentRequest, RequestStatus};
use terrane_ports::{
    EnvironmentEffect, ExpiryClaim, ProvisionError, Provisioner, ServiceError, StoreError,
};

/// How long an environment whose deprovisioning failed waits before it is tried again.
const RETRY_BACKOFF: Duration = Duration::seconds(60);

/// How often recording an expiry is decided again when the request changed meanwhile.
const ATTEMPTS: usize = 3;

/// The provisioner with nothing to do outside terrane: the environment a request asks for is
/// the one terrane records in its own inventory, in the same transaction as the request's
/// move to `active`, and tearing it down is marking it `destroyed`.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinProvisioner;

#[async_trait]
impl Provisioner for BuiltinProvisioner {
    fn is_inline(&self) -> bool {
        true
    }

    fn timeout(&self) -> StdDuration {
        StdDuration::from_secs(60)
    }

    async fn provision(&self, _request: &EnvironmentRequest) -> Result<(), ProvisionError> {
        Ok(())
    }

    async fn deprovision(
        &self,
        _environment: &Environment,
        _request: Option<EnvironmentRequest>,
    ) -> Result<(), ProvisionError> {
        Ok(())
    }
}

/// The background jobs of environment requests: provisioning that runs outside a request,
/// and the reaper that expires environments whose time to live has passed.
pub struct RequestJobs {
    ports: RequestPorts,
}

impl RequestJobs {
    /// Wires the jobs to their ports.
    pub fn new(ports: RequestPorts) -> Self {
        Self { ports }
    }

    /// Claims up to `limit` requests awaiting provisioning, of any tenant.
    ///
    /// # Errors
    /// `Unavailable` or `Internal` from storage.
    pub async fn claim_provisioning(
        &self,
        limit: u32,
    ) -> Result<Vec<EnvironmentRequest>, ServiceError> {
        let now = self.ports.clock.now();
        self.ports
            .requests
            .claim_provisioning(now, self.ports.lease_until(now), limit)
            .await
            .map_err(store_error)
    }

    /// Provisions a claimed request and records the outcome: `active` with its environment,
    /// or `failed` with the reason.
    ///
    /// # Errors
    /// `Validation` when the request is not provisioning; storage errors. A request changed
    /// by someone else meanwhile is `PreconditionFailed`, and left as it now is.
    pub async fn provision(
        &self,
        request: EnvironmentRequest,
    ) -> Result<EnvironmentRequest, ServiceError> {
        if request.status != RequestStatus::Provisioning {
            return Err(crate::environment_requests::refused(format!(
                "only provisioning requests are provisioned; this one is `{}`",
                request.status
            )));
        }
        let outcome = self.ports.provisioner.provision(&request).await;
        let environment = EnvironmentId(self.ports.ids.new_id());
        let failure = outcome.err().map(|ProvisionError(reason)| reason);
        let saved = self.save(&request, environment, failure.as_deref()).await;
        match (saved, failure) {
            // The environment's name was taken while it was being provisioned.
            (Err(ServiceError::Conflict(reason)), None) => {
                self.save(&request, environment, Some(&reason)).await
            }
            (saved, _) => saved,
        }
    }

    async fn save(
        &self,
        request: &EnvironmentRequest,
        environment: EnvironmentId,
        failure: Option<&str>,
    ) -> Result<EnvironmentRequest, ServiceError> {
        let now = self.ports.clock.now();
        let Plan {
            next,
            history,
            effect,
        } = provisioned(request, Vec::new(), environment, failure, now)?;
        self.ports
            .requests
            .save(request.version, next, history, effect, now)
            .await
            .map_err(store_error)
    }

    /// Claims up to `limit` environments of any tenant whose time to live has passed.
    ///
    /// # Errors
    /// `Unavailable` or `Internal` from storage.
    pub async fn claim_expired(&self, limit: u32) -> Result<Vec<ExpiryClaim>, ServiceError> {
        let now = self.ports.clock.now();
        self.ports
            .requests
            .claim_expired(now, self.ports.lease_until(now), limit)
            .await
            .map_err(store_error)
    }

    /// Deprovisions a claimed environment and records it: the environment `destroyed` and
    /// its request, if active, `expired` with "TTL elapsed", in one transaction. When
    /// deprovisioning fails, the claim is given back to be tried again a minute later.
    ///
    /// # Errors
    /// `Unavailable` when deprovisioning failed (naming why); storage errors.
    pub async fn expire(&self, claim: ExpiryClaim) -> Result<(), ServiceError> {
        let ExpiryClaim {
            environment,
            request,
        } = claim;
        let tenant = environment.tenant;
        if let Err(ProvisionError(reason)) = self
            .ports
            .provisioner
            .deprovision(&environment, request.clone())
            .await
        {
            let retry_at = self.ports.clock.now() + RETRY_BACKOFF;
            self.ports
                .requests
                .release_environment(tenant, environment.id, Some(retry_at))
                .await
                .map_err(store_error)?;
            return Err(ServiceError::Unavailable(format!(
                "deprovisioning environment {} failed: {reason}",
                environment.id
            )));
        }
        let mut request = request;
        for _ in 0..ATTEMPTS {
            let now = self.ports.clock.now();
            let Some(current) = request.filter(|r| r.status == RequestStatus::Active) else {
                return self
                    .ports
                    .requests
                    .destroy_environment(tenant, environment.id, now)
                    .await
                    .map_err(store_error);
            };
            let (next, entry) = current
                .expire(None, messages::TTL_ELAPSED, now)
                .map_err(crate::environment_requests::refused)?;
            match self
                .ports
                .requests
                .save(
                    current.version,
                    next,
                    vec![entry],
                    EnvironmentEffect::Destroy,
                    now,
                )
                .await
            {
                Ok(_) => return Ok(()),
                // Its time to live was changed meanwhile; the environment is gone anyway.
                Err(StoreError::VersionMismatch { .. }) => {
                    request = Some(
                        self.ports
                            .requests
                            .get(tenant, current.id)
                            .await
                            .map_err(store_error)?,
                    );
                }
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "the request of environment {} kept changing while it was expired",
            environment.id
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment_requests::RequestPorts;
    use chrono::{DateTime, TimeZone, Utc};
    use std::sync::Arc;
    use terrane_domain::{
        EnvironmentInput, EnvironmentRequestId, RequestInput, TenantId, TtlPolicy, UserId,
    };
    use terrane_ports::{
        MockClock, MockComponentRepository, MockEnvironmentRepository,
        MockEnvironmentRequestRepository, MockIdSource, MockProvisioner, MockProvisioningQueue,
    };
    use uuid::Uuid;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 5).unwrap()
    }

    fn request(status: RequestStatus) -> EnvironmentRequest {
        let (request, _) = RequestInput {
            name: Some("preview".into()),
            environment_type: Some("ephemeral".into()),
            tier: Some("small".into()),
            ..Default::default()
        }
        .into_new(&TtlPolicy::default())
        .unwrap()
        .into_request(
            EnvironmentRequestId(Uuid::from_u128(5)),
            TenantId(Uuid::from_u128(7)),
            UserId(Uuid::from_u128(1)),
            t0(),
        );
        EnvironmentRequest {
            status,
            environment_id: (status == RequestStatus::Active)
                .then_some(EnvironmentId(Uuid::from_u128(9))),
            ..request
        }
    }

    fn environment() -> Environment {
        let mut env = EnvironmentInput {
            name: Some("preview".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            EnvironmentId(Uuid::from_u128(9)),
            terrane_domain::EnvironmentNumber(1),
            TenantId(Uuid::from_u128(7)),
            0,
            t0(),
        );
        env.request_id = Some(Uuid::from_u128(5));
        env
    }

    fn jobs(
        requests: MockEnvironmentRequestRepository,
        provisioner: MockProvisioner,
    ) -> RequestJobs {
        let mut clock = MockClock::new();
        clock.expect_now().returning(t0);
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        RequestJobs::new(RequestPorts {
            requests: Arc::new(requests),
            environments: Arc::new(MockEnvironmentRepository::new()),
            components: Arc::new(MockComponentRepository::new()),
            provisioner: Arc::new(provisioner),
            queue: Arc::new(MockProvisioningQueue::new()),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        })
    }

    fn provisioner(outcome: Result<(), ProvisionError>) -> MockProvisioner {
        let mut provisioner = MockProvisioner::new();
        provisioner
            .expect_timeout()
            .return_const(StdDuration::from_secs(60));
        provisioner
            .expect_provision()
            .returning(move |_| outcome.clone());
        provisioner
    }

    #[tokio::test]
    async fn claims_are_leased_for_longer_than_the_provisioner_may_take() {
        let mut requests = MockEnvironmentRequestRepository::new();
        requests
            .expect_claim_provisioning()
            .withf(|now, lease_until, limit| {
                *now == t0() && *lease_until == t0() + Duration::seconds(75) && *limit == 4
            })
            .returning(|_, _, _| Ok(Vec::new()));
        jobs(requests, provisioner(Ok(())))
            .claim_provisioning(4)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_successful_provisioning_activates_the_request_with_its_new_environment() {
        let mut requests = MockEnvironmentRequestRepository::new();
        requests
            .expect_save()
            .times(1)
            .withf(|expected, next, history, effect, _| {
                *expected == 1
                    && next.status == RequestStatus::Active
                    && next.environment_id == Some(EnvironmentId(Uuid::from_u128(42)))
                    && history.len() == 1
                    && matches!(effect, EnvironmentEffect::Create(_))
            })
            .returning(|_, next, _, _, _| Ok(next));
        let done = jobs(requests, provisioner(Ok(())))
            .provision(request(RequestStatus::Provisioning))
            .await
            .unwrap();
        assert_eq!(done.expires_at, Some(t0() + Duration::hours(24)));
    }

    #[tokio::test]
    async fn a_failed_provisioning_fails_the_request_with_the_reason_and_no_environment() {
        let mut requests = MockEnvironmentRequestRepository::new();
        requests
            .expect_save()
            .times(1)
            .withf(|_, next, _, effect, _| {
                next.status == RequestStatus::Failed && *effect == EnvironmentEffect::None
            })
            .returning(|_, next, _, _, _| Ok(next));
        let failed = jobs(
            requests,
            provisioner(Err(ProvisionError("exit status 2: quota".into()))),
        )
        .provision(request(RequestStatus::Provisioning))
        .await
        .unwrap();
        assert_eq!(
            failed.status_message.as_deref(),
            Some("exit status 2: quota")
        );
    }

    #[tokio::test]
    async fn only_provisioning_requests_are_provisioned() {
        let mut provisioner = MockProvisioner::new();
        provisioner.expect_provision().never();
        let error = jobs(MockEnvironmentRequestRepository::new(), provisioner)
            .provision(request(RequestStatus::Failed))
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Validation(_)), "{error:?}");
    }

    #[tokio::test]
    async fn an_expired_environment_is_deprovisioned_then_destroyed_with_its_request_expired() {
        let mut provisioner = MockProvisioner::new();
        provisioner
            .expect_deprovision()
            .times(1)
            .returning(|_, _| Ok(()));
        let mut requests = MockEnvironmentRequestRepository::new();
        requests
            .expect_save()
            .times(1)
            .withf(|_, next, history, effect, _| {
                next.status == RequestStatus::Expired
                    && next.status_message.as_deref() == Some("TTL elapsed")
                    && history[0].actor.is_none()
                    && *effect == EnvironmentEffect::Destroy
            })
            .returning(|_, next, _, _, _| Ok(next));
        jobs(requests, provisioner)
            .expire(ExpiryClaim {
                environment: environment(),
                request: Some(request(RequestStatus::Active)),
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_environment_without_an_active_request_is_only_destroyed() {
        let mut provisioner = MockProvisioner::new();
        provisioner.expect_deprovision().returning(|_, _| Ok(()));
        let mut requests = MockEnvironmentRequestRepository::new();
        requests.expect_save().never();
        requests
            .expect_destroy_environment()
            .times(1)
            .returning(|_, _, _| Ok(()));
        jobs(requests, provisioner)
            .expire(ExpiryClaim {
                environment: environment(),
                request: None,
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_deprovisioning_gives_the_claim_back_for_a_later_retry() {
        let mut provisioner = MockProvisioner::new();
        provisioner
            .expect_deprovision()
            .returning(|_, _| Err(ProvisionError("cluster unreachable".into())));
        let mut requests = MockEnvironmentRequestRepository::new();
        requests.expect_save().never();
        requests
            .expect_release_environment()
            .times(1)
            .withf(|_, _, retry_at| *retry_at == Some(t0() + RETRY_BACKOFF))
            .returning(|_, _, _| Ok(()));
        let error = jobs(requests, provisioner)
            .expire(ExpiryClaim {
                environment: environment(),
                request: Some(request(RequestStatus::Active)),
            })
            .await
            .unwrap_err();
        assert!(matches!(error, ServiceError::Unavailable(m) if m.contains("cluster unreachable")));
    }

    #[tokio::test]
    async fn an_expiry_that_raced_a_ttl_change_is_recorded_on_the_new_version() {
        let mut provisioner = MockProvisioner::new();
        provisioner.expect_deprovision().returning(|_, _| Ok(()));
        let mut requests = MockEnvironmentRequestRepository::new();
        requests
            .expect_save()
            .times(2)
            .returning(|expected, next, _, _, _| {
                if expected == 1 {
                    Err(StoreError::VersionMismatch { current: 2 })
                } else {
                    Ok(next)
                }
            });
        requests.expect_get().times(1).returning(|_, _| {
            Ok(EnvironmentRequest {
                version: 2,
                ..request(RequestStatus::Active)
            })
        });
        jobs(requests, provisioner)
            .expire(ExpiryClaim {
                environment: environment(),
                request: Some(request(RequestStatus::Active)),
            })
            .await
            .unwrap();
    }
}
