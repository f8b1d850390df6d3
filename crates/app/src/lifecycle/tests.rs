use super::*;
use crate::test_support::actor;
use chrono::{TimeZone, Utc};
use std::sync::Arc;
use terrane_domain::{Role, TenantId};
use terrane_ports::{
    MockClock, MockEnvironmentRepository, MockIdSource, MockLifecycleRepository,
    MockProvisioningQueue, MockTemplateRepository,
};
use uuid::Uuid;

fn environment(status: EnvironmentStatus) -> Environment {
    EnvironmentInput {
        name: Some("review-1".into()),
        ..Default::default()
    }
    .into_new()
    .unwrap()
    .into_environment(
        EnvironmentId(Uuid::from_u128(9)),
        terrane_domain::EnvironmentNumber(1),
        TenantId(Uuid::from_u128(7)),
        0,
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    )
    .with_status(status)
}

trait WithStatus {
    fn with_status(self, status: EnvironmentStatus) -> Self;
}

impl WithStatus for Environment {
    fn with_status(mut self, status: EnvironmentStatus) -> Self {
        self.status = status;
        self
    }
}

fn service(env: Environment, lifecycle: MockLifecycleRepository) -> Lifecycle {
    let mut environments = MockEnvironmentRepository::new();
    environments
        .expect_get()
        .returning(move |_, _| Ok(env.clone()));
    let mut clock = MockClock::new();
    clock.expect_now().returning(Utc::now);
    let mut ids = MockIdSource::new();
    ids.expect_new_id().returning(Uuid::now_v7);
    let mut queue = MockProvisioningQueue::new();
    queue.expect_wake().return_const(());
    Lifecycle::new(
        LifecyclePorts {
            environments: Arc::new(environments),
            templates: Arc::new(MockTemplateRepository::new()),
            lifecycle: Arc::new(lifecycle),
            queue: Arc::new(queue),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        },
        TtlPolicy::default(),
    )
}

fn no_template() -> MockLifecycleRepository {
    let mut lifecycle = MockLifecycleRepository::new();
    lifecycle
        .expect_lifecycles()
        .returning(|_, _| Ok(HashMap::new()));
    lifecycle
}

#[tokio::test]
async fn an_unavailable_action_is_a_conflict_naming_the_status_and_the_actions_available() {
    let mut lifecycle = no_template();
    lifecycle.expect_change_status().never();
    let refused = service(environment(EnvironmentStatus::Ready), lifecycle)
        .act(
            &actor(Role::Admin),
            EnvironmentId(Uuid::from_u128(9)),
            "reset".into(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ServiceError::Conflict(d) if d.contains("ready") && d.contains("destroy")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn destroying_an_environment_without_a_template_marks_it_destroyed_on_the_version_read() {
    let mut lifecycle = no_template();
    lifecycle
        .expect_change_status()
        .withf(|_, _, change, _| {
            change.expected_version == 1
                && change.status == EnvironmentStatus::Destroyed
                && change.run.is_none()
                && change.event.event == "destroy"
                && change.event.actor == Some(terrane_domain::UserId(Uuid::from_u128(1)))
        })
        .times(1)
        .returning(|_, _, _, _| Ok(environment(EnvironmentStatus::Destroyed)));
    service(environment(EnvironmentStatus::Broken), lifecycle)
        .act(
            &actor(Role::Deployer),
            EnvironmentId(Uuid::from_u128(9)),
            "destroy".into(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn viewers_neither_act_nor_run_workflows_and_unknown_actions_are_not_found() {
    let svc = service(environment(EnvironmentStatus::Broken), no_template());
    let id = EnvironmentId(Uuid::from_u128(9));
    let viewer = actor(Role::Viewer);
    assert!(matches!(
        svc.act(&viewer, id, "reset".into()).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        svc.start_workflow(&viewer, id, "deploy".into(), Map::new())
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert_eq!(
        svc.act(&actor(Role::Admin), id, "explode".into())
            .await
            .unwrap_err(),
        ServiceError::NotFound("action".into())
    );
}

#[tokio::test]
async fn an_environment_without_a_template_has_no_workflows_to_run() {
    let svc = service(environment(EnvironmentStatus::Ready), no_template());
    let error = svc
        .start_workflow(
            &actor(Role::Admin),
            EnvironmentId(Uuid::from_u128(9)),
            "deploy".into(),
            Map::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(error, ServiceError::NotFound("workflow".into()));
}
