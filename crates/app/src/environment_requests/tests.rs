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
