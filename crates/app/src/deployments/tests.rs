use super::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Mutex;
use terrane_domain::{
    DeploymentStatus, Environment, EnvironmentId, EnvironmentInput, GateKind, Role, TenantId,
    TransitionInput, UserId,
};
use terrane_ports::{
    EnvironmentState, InProgress, MockClock, MockDeploymentRepository, MockIdSource,
    TransitionContext,
};
use uuid::Uuid;

use crate::test_support::actor;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
}

fn service(repo: MockDeploymentRepository) -> Deployments {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let mut ids = MockIdSource::new();
    ids.expect_new_id().returning(|| Uuid::from_u128(42));
    Deployments::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
}

fn input() -> DeploymentInput {
    DeploymentInput {
        component_id: Some(Uuid::from_u128(10)),
        environment_id: Some(Uuid::from_u128(20)),
        version: Some("v1".into()),
        ..Default::default()
    }
}

fn stored() -> Deployment {
    input()
        .into_new(UserId(Uuid::from_u128(1)))
        .unwrap()
        .into_deployment(
            Uuid::from_u128(3),
            TenantId(Uuid::from_u128(7)),
            UserId(Uuid::from_u128(1)),
            Utc.with_ymd_and_hms(2026, 1, 10, 14, 0, 0).unwrap(),
        )
}

fn environment(required_approvals: u8) -> Environment {
    let mut environment = EnvironmentInput {
        name: Some("prod".into()),
        ..Default::default()
    }
    .into_new()
    .unwrap()
    .into_environment(
        EnvironmentId(Uuid::from_u128(20)),
        terrane_domain::EnvironmentNumber(1),
        TenantId(Uuid::from_u128(7)),
        0,
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    );
    environment.required_approvals = required_approvals;
    environment
}

fn state(environment: Environment, stored: bool) -> EnvironmentState {
    EnvironmentState {
        environment,
        windows: Vec::new(),
        stored,
    }
}

fn context(deployment: Deployment, environment: Environment, stored: bool) -> TransitionContext {
    TransitionContext {
        deployment,
        environment: state(environment, stored),
        stored,
    }
}

fn to(status: &str) -> TransitionInput {
    TransitionInput {
        status: Some(status.into()),
        ..Default::default()
    }
}

/// A store holding `current` in `environment`, writing every transition asked of it.
fn holding(current: Deployment, environment: Environment) -> MockDeploymentRepository {
    let mut repo = MockDeploymentRepository::new();
    repo.expect_load_for_transition()
        .returning(move |_, _, _, _| Ok(context(current.clone(), environment.clone(), true)));
    repo.expect_save_transition().returning(|_, _| Ok(()));
    repo
}

#[tokio::test]
async fn viewers_neither_record_nor_move_nor_approve_deployments() {
    let mut repo = MockDeploymentRepository::new();
    repo.expect_environment_state().never();
    repo.expect_create().never();
    repo.expect_load_for_transition().never();
    repo.expect_save_transition().never();
    repo.expect_approve().never();
    let svc = service(repo);
    let viewer = actor(Role::Viewer);
    let id = DeploymentId(Uuid::from_u128(3));
    for result in [
        svc.create(&viewer, input()).await.map(|_| ()),
        svc.transition(&viewer, id, None, TransitionInput::default())
            .await
            .map(|_| ()),
        svc.approve(&viewer, id, None).await.map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(ServiceError::Forbidden(m)) if m.contains("`deployer`")),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_component_environment_or_release_is_a_bad_field_naming_it() {
    let missing = |field: &str, what: &str| {
        Err(ServiceError::Validation(
            terrane_domain::ValidationErrors::single(
                field,
                format!("no {what} with that id exists in your organization"),
            ),
        ))
    };
    for (field, what) in [
        ("componentId", "component"),
        ("environmentId", "environment"),
        ("releaseId", "release"),
    ] {
        let mut repo = MockDeploymentRepository::new();
        repo.expect_environment_state()
            .returning(|_, _, _, _| Ok(state(environment(0), true)));
        repo.expect_create()
            .returning(move |_, _, _| Err(StoreError::MissingReference(field.into())));
        let result = service(repo).create(&actor(Role::Deployer), input()).await;
        assert_eq!(result, missing(field, what));
    }
    let mut repo = MockDeploymentRepository::new();
    repo.expect_environment_state()
        .returning(|_, _, _, _| Err(StoreError::NotFound));
    repo.expect_create().never();
    let result = service(repo).create(&actor(Role::Deployer), input()).await;
    assert_eq!(result, missing("environmentId", "environment"));
}

#[tokio::test]
async fn a_deployer_records_a_pending_deployment_authored_by_themselves_on_the_environment_version_read(
) {
    let mut repo = MockDeploymentRepository::new();
    repo.expect_environment_state()
        .withf(|tenant, id, _, consistency| {
            *tenant == TenantId(Uuid::from_u128(7))
                && *id == EnvironmentId(Uuid::from_u128(20))
                && *consistency == Consistency::Recent
        })
        .returning(|_, _, _, _| {
            let mut environment = environment(0);
            environment.version = 9;
            Ok(state(environment, false))
        });
    repo.expect_create()
        .withf(|tenant, list, environment_version| {
            *tenant == TenantId(Uuid::from_u128(7))
                && list.len() == 1
                && list[0].status == DeploymentStatus::Pending
                && list[0].created_by == UserId(Uuid::from_u128(1))
                && list[0].id == DeploymentId(Uuid::from_u128(42))
                && *environment_version == 9
        })
        .returning(|_, list, _| Ok(list));
    let created = service(repo)
        .create(&actor(Role::Deployer), input())
        .await
        .unwrap();
    assert_eq!(created.deployed_by, Uuid::from_u128(1).to_string());
}

#[tokio::test]
async fn an_environment_that_takes_no_deployments_refuses_only_as_stored() {
    let mut destroyed = environment(0);
    destroyed.status = terrane_domain::EnvironmentStatus::Destroyed;
    let mut repo = MockDeploymentRepository::new();
    let copy = destroyed.clone();
    repo.expect_environment_state()
        .withf(|_, _, _, consistency| *consistency == Consistency::Recent)
        .returning(move |_, _, _, _| Ok(state(copy.clone(), false)));
    repo.expect_environment_state()
        .withf(|_, _, _, consistency| *consistency == Consistency::Stored)
        .returning(|_, _, _, _| Ok(state(environment(0), true)));
    repo.expect_create()
        .times(1)
        .returning(|_, list, _| Ok(list));
    service(repo)
        .create(&actor(Role::Deployer), input())
        .await
        .expect("a stale copy is read again, and the stored environment takes it");

    let mut repo = MockDeploymentRepository::new();
    repo.expect_environment_state()
        .returning(move |_, _, _, _| Ok(state(destroyed.clone(), true)));
    repo.expect_create().never();
    let refused = service(repo).create(&actor(Role::Deployer), input()).await;
    assert_eq!(
        refused,
        Err(ServiceError::Conflict(
            "the environment `prod` is destroyed and takes no deployments".into()
        ))
    );
}

#[tokio::test]
async fn recording_on_an_environment_that_keeps_changing_gives_up_with_a_409() {
    let mut repo = MockDeploymentRepository::new();
    repo.expect_environment_state()
        .returning(|_, _, _, _| Ok(state(environment(0), true)));
    repo.expect_create()
        .times(ATTEMPTS)
        .returning(|_, _, _| Err(StoreError::VersionMismatch { current: 4 }));
    let result = service(repo).create(&actor(Role::Deployer), input()).await;
    assert!(
        matches!(&result, Err(ServiceError::Conflict(m)) if m.contains("kept changing")),
        "{result:?}"
    );
}

#[tokio::test]
async fn losing_every_compare_and_set_is_a_409_or_with_if_match_a_412() {
    let mut repo = MockDeploymentRepository::new();
    repo.expect_load_for_transition()
        .returning(|_, _, _, _| Ok(context(stored(), environment(0), true)));
    repo.expect_save_transition()
        .times(2 * ATTEMPTS)
        .returning(|_, _| Err(StoreError::VersionMismatch { current: 2 }));
    let svc = service(repo);
    let who = actor(Role::Deployer);
    let id = DeploymentId(Uuid::from_u128(3));
    let plain = svc.transition(&who, id, None, to("failed")).await;
    assert!(
        matches!(&plain, Err(ServiceError::Conflict(m)) if m.contains("another change")),
        "{plain:?}"
    );
    let current = stored().revision;
    let guarded = svc.transition(&who, id, Some(current), to("failed")).await;
    assert!(
        matches!(&guarded, Err(ServiceError::PreconditionFailed(m)) if m.contains("\"2\"")),
        "{guarded:?}"
    );
}

#[tokio::test]
async fn a_stale_if_match_or_the_current_status_is_refused_by_the_decision() {
    let svc = service(holding(stored(), environment(0)));
    let who = actor(Role::Admin);
    let id = DeploymentId(Uuid::from_u128(3));
    let stale = svc.transition(&who, id, Some(5), to("failed")).await;
    assert!(
        matches!(&stale, Err(ServiceError::PreconditionFailed(_))),
        "{stale:?}"
    );
    let same = svc.transition(&who, id, None, to("pending")).await;
    assert_eq!(
        same,
        Err(ServiceError::Conflict(
            "the deployment is already `pending`".into()
        ))
    );
    let refused = svc.transition(&who, id, None, to("succeeded")).await;
    assert!(
        matches!(&refused, Err(ServiceError::Validation(e)) if e.errors()[0].message.contains("from `pending` it can move to in_progress or failed")),
        "{refused:?}"
    );
    let current = stored().revision;
    let failed = svc
        .transition(&who, id, Some(current), to("failed"))
        .await
        .unwrap();
    assert_eq!(failed.status, DeploymentStatus::Failed);
}

#[tokio::test]
async fn starting_asks_the_gates_and_the_first_refusal_names_its_gate() {
    let who = actor(Role::Deployer);
    let id = DeploymentId(Uuid::from_u128(3));
    let mut repo = holding(stored(), environment(1));
    repo.expect_approvers().returning(|_, _, _| Ok(Vec::new()));
    let refused = service(repo)
        .transition(&who, id, None, to("in_progress"))
        .await;
    assert!(
        matches!(
            &refused,
            Err(ServiceError::GateRefused {
                gate: GateKind::Approvals,
                ..
            })
        ),
        "{refused:?}"
    );
    let mut repo = MockDeploymentRepository::new();
    repo.expect_load_for_transition().returning(|_, _, _, _| {
        let mut environment = environment(1);
        environment.version = 6;
        Ok(context(stored(), environment, true))
    });
    repo.expect_approvers()
        .withf(|_, id, round| *id == DeploymentId(Uuid::from_u128(3)) && *round == 0)
        .returning(|_, _, _| Ok(vec![UserId(Uuid::from_u128(8))]));
    repo.expect_save_transition()
        .withf(|_, t| {
            t.environment_version == Some(6) && t.next.status == DeploymentStatus::InProgress
        })
        .returning(|_, _| Ok(()));
    let started = service(repo)
        .transition(&who, id, None, to("in_progress"))
        .await
        .unwrap();
    assert_eq!(started.status, DeploymentStatus::InProgress);
}

#[tokio::test]
async fn other_moves_never_read_the_gates_nor_hold_the_environment() {
    let (running, _) = stored()
        .transition(to("in_progress"), None, None, stored().created_at)
        .unwrap();
    let mut repo = MockDeploymentRepository::new();
    repo.expect_load_for_transition()
        .returning(move |_, _, _, _| Ok(context(running.clone(), environment(2), true)));
    repo.expect_approvers().never();
    repo.expect_earlier_environments().never();
    repo.expect_save_transition()
        .withf(|_, t| t.environment_version.is_none())
        .returning(|_, _| Ok(()));
    let done = service(repo)
        .transition(
            &actor(Role::Deployer),
            DeploymentId(Uuid::from_u128(3)),
            None,
            to("succeeded"),
        )
        .await
        .unwrap();
    assert_eq!(done.status, DeploymentStatus::Succeeded);
}

/// A store whose copy of the deployment is `copy` and whose database holds `stored`; it
/// writes only transitions decided on `stored`.
fn with_copy(
    copy: Deployment,
    stored: Deployment,
) -> (MockDeploymentRepository, Arc<Mutex<Vec<Consistency>>>) {
    let reads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reads);
    let mut repo = MockDeploymentRepository::new();
    let held = stored.clone();
    repo.expect_load_for_transition()
        .returning(move |_, _, _, consistency| {
            seen.lock().unwrap().push(consistency);
            Ok(match consistency {
                Consistency::Recent => context(copy.clone(), environment(0), false),
                Consistency::Stored => context(held.clone(), environment(0), true),
            })
        });
    repo.expect_save_transition().returning(move |_, t| {
        if t.current == stored {
            Ok(())
        } else {
            Err(StoreError::VersionMismatch {
                current: stored.revision,
            })
        }
    });
    (repo, reads)
}

#[tokio::test]
async fn a_stale_copy_is_decided_again_on_what_is_stored() {
    let (running, _) = stored()
        .transition(to("in_progress"), None, None, stored().created_at)
        .unwrap();
    // The copy is pending: the start decided on it misses the compare-and-set.
    let (repo, reads) = with_copy(stored(), running.clone());
    let done = service(repo)
        .transition(&actor(Role::Deployer), running.id, None, to("succeeded"))
        .await;
    assert_eq!(
        done.map(|d| d.status),
        Ok(DeploymentStatus::Succeeded),
        "a refusal on the copy (pending cannot succeed) is asked again of the store"
    );
    assert_eq!(
        *reads.lock().unwrap(),
        [Consistency::Recent, Consistency::Stored]
    );

    let (repo, reads) = with_copy(stored(), running);
    let failed = service(repo)
        .transition(
            &actor(Role::Deployer),
            DeploymentId(Uuid::from_u128(3)),
            None,
            to("failed"),
        )
        .await;
    assert_eq!(failed.map(|d| d.status), Ok(DeploymentStatus::Failed));
    assert_eq!(
        *reads.lock().unwrap(),
        [Consistency::Recent, Consistency::Stored],
        "a write decided on a stale copy misses and is decided again"
    );
}

#[tokio::test]
async fn the_gates_view_evaluates_what_one_read_returned() {
    let mut repo = MockDeploymentRepository::new();
    repo.expect_load_for_transition()
        .withf(|tenant, id, _, consistency| {
            *tenant == TenantId(Uuid::from_u128(7))
                && *id == DeploymentId(Uuid::from_u128(3))
                && *consistency == Consistency::Stored
        })
        .returning(|_, _, _, _| Ok(context(stored(), environment(2), true)));
    repo.expect_approvers()
        .returning(|_, _, _| Ok(vec![UserId(Uuid::from_u128(8))]));
    repo.expect_save_transition().never();
    let gates = service(repo)
        .gates(&actor(Role::Viewer), DeploymentId(Uuid::from_u128(3)))
        .await
        .unwrap();
    let approvals = gates
        .iter()
        .find(|g| g.gate == GateKind::Approvals)
        .unwrap();
    assert!(!approvals.passed, "{approvals:?}");
    assert!(gates
        .iter()
        .filter(|g| g.gate != GateKind::Approvals)
        .all(|g| g.passed));
}

#[tokio::test]
async fn the_sweep_fails_only_deployments_past_their_timeout_and_skips_lost_races() {
    let started = now() - Duration::seconds(700);
    let running = |n: u128, timeout_seconds: u32| {
        let mut d = stored();
        d.id = DeploymentId(Uuid::from_u128(n));
        let (d, _) = d
            .transition(to("in_progress"), None, None, started)
            .unwrap();
        InProgress {
            deployment: d,
            timeout_seconds,
        }
    };
    let mut repo = MockDeploymentRepository::new();
    let page = vec![
        running(1, 600),
        running(2, 900),
        running(3, 600),
        running(4, 60),
    ];
    repo.expect_in_progress()
        .withf(|after, _| after.is_none())
        .returning(move |_, _| Ok(page.clone()));
    repo.expect_save_transition()
        .withf(|_, t| {
            t.next.status == DeploymentStatus::Failed
                && t.entry.actor.is_none()
                && t.entry.reason.as_deref() == Some("timed out")
        })
        .returning(|_, t| {
            if t.current.id == DeploymentId(Uuid::from_u128(3)) {
                Err(StoreError::VersionMismatch { current: 9 })
            } else {
                Ok(())
            }
        });
    let svc = service(repo);
    let failed: Vec<Uuid> = svc
        .sweep_timed_out(10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id.0)
        .collect();
    assert_eq!(
        failed,
        [Uuid::from_u128(1), Uuid::from_u128(4)],
        "2 is within its 900 s; another sweeper won 3"
    );
    let limited = svc.sweep_timed_out(1).await.unwrap();
    assert_eq!(limited.len(), 1, "at most `limit` per call");
}
