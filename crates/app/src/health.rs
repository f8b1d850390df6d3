use crate::authorize;
use async_trait::async_trait;
use futures_util::future::join_all;
use std::sync::Arc;
use terrane_domain::{
    Actor, HealthCheck, HealthCheckId, HealthStatus, Page, Permission, ProbeOutcome, Target,
    TargetId, TargetType,
};
use terrane_ports::{
    Clock, HealthCheckRepository, HealthProber, HealthService, IdSource, ServiceError, StoreError,
    TargetRepository,
};

const WHAT: &str = "target";

/// The health check use cases: probing on demand and on schedule, and the history.
pub struct HealthChecks {
    targets: Arc<dyn TargetRepository>,
    checks: Arc<dyn HealthCheckRepository>,
    prober: Arc<dyn HealthProber>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl HealthChecks {
    /// Wires the use cases to their ports.
    pub fn new(
        targets: Arc<dyn TargetRepository>,
        checks: Arc<dyn HealthCheckRepository>,
        prober: Arc<dyn HealthProber>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            targets,
            checks,
            prober,
            clock,
            ids,
        }
    }
}

impl HealthChecks {
    /// What to record for `target` now, or `None` when its agent's report stands. An
    /// `ecs_service` is never probed (terrane holds no cloud credentials): its agent's
    /// heartbeat reports its health, which holds for three check intervals and is
    /// `unknown` after that.
    async fn outcome(&self, target: &Target, interval: u32) -> Option<ProbeOutcome> {
        if target.target_type() != TargetType::EcsService {
            return Some(self.prober.probe(&target.connection).await);
        }
        let window = chrono::Duration::seconds(3 * i64::from(interval));
        let reported = target.health_status != HealthStatus::Unknown
            && target
                .last_health_check_at
                .is_some_and(|at| self.clock.now() - at <= window);
        (!reported).then(|| {
            ProbeOutcome::new(
                HealthStatus::Unknown,
                format!(
                    "no report from its agent within three check intervals ({} s); an ecs_service is not probed",
                    3 * interval
                ),
            )
        })
    }
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

#[async_trait]
impl HealthService for HealthChecks {
    async fn check_now(&self, actor: &Actor, id: TargetId) -> Result<HealthCheck, ServiceError> {
        authorize(actor, Permission::Deploy, "checking a target's health")?;
        let target = self
            .targets
            .get(actor.tenant, id)
            .await
            .map_err(store_error)?;
        let interval = self
            .checks
            .interval(actor.tenant, id)
            .await
            .map_err(store_error)?;
        let Some(outcome) = self.outcome(&target, interval).await else {
            // The agent's last report is the answer; nothing new to keep.
            return Ok(HealthCheck::new(
                HealthCheckId(self.ids.new_id()),
                actor.tenant,
                id,
                ProbeOutcome::new(
                    target.health_status,
                    target.health_message.clone().unwrap_or_default(),
                ),
                target
                    .last_health_check_at
                    .unwrap_or_else(|| self.clock.now()),
            ));
        };
        let check = HealthCheck::new(
            HealthCheckId(self.ids.new_id()),
            actor.tenant,
            id,
            outcome,
            self.clock.now(),
        );
        self.checks
            .record(check.clone(), interval)
            .await
            .map_err(store_error)?;
        Ok(check)
    }

    async fn history(
        &self,
        actor: &Actor,
        id: TargetId,
        page: Page,
    ) -> Result<(Vec<HealthCheck>, u64), ServiceError> {
        authorize(actor, Permission::Read, "reading health checks")?;
        self.checks
            .history(actor.tenant, id, page)
            .await
            .map_err(store_error)
    }

    async fn run_due(&self, limit: u32) -> Result<usize, ServiceError> {
        let due = self
            .checks
            .claim_due(self.clock.now(), limit)
            .await
            .map_err(store_error)?;
        // All at once: a hanging target costs its own timeout, never the others' turn.
        let recorded = join_all(due.into_iter().map(|due| async move {
            let Some(outcome) = self.outcome(&due.target, due.interval_seconds).await else {
                return true;
            };
            let check = HealthCheck::new(
                HealthCheckId(self.ids.new_id()),
                due.target.tenant,
                due.target.id,
                outcome,
                self.clock.now(),
            );
            match self.checks.record(check, due.interval_seconds).await {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(target_id = %due.target.id, %error, "a scheduled health check was not recorded");
                    false
                }
            }
        }))
        .await;
        Ok(recorded.into_iter().filter(|ok| *ok).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use terrane_domain::{HealthStatus, ProbeOutcome, Role, Target, TargetInput, TenantId, UserId};
    use terrane_ports::{
        DueCheck, MockClock, MockHealthCheckRepository, MockHealthProber, MockIdSource,
        MockTargetRepository,
    };
    use uuid::Uuid;

    const TENANT: TenantId = TenantId(Uuid::from_u128(7));
    const ID: TargetId = TargetId(Uuid::from_u128(42));

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(1)),
            tenant: TENANT,
            roles: vec![role],
        }
    }

    fn target(id: TargetId) -> Target {
        let serde_json::Value::Object(connection) = json!({"host": "10.0.0.1", "port": 2375})
        else {
            unreachable!()
        };
        TargetInput {
            environment_id: Some(Uuid::from_u128(3)),
            name: Some(format!("t-{}", id.0.as_u128())),
            target_type: Some("docker_host".into()),
            connection: Some(connection),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_target(id, TENANT, Utc::now())
    }

    fn service(
        targets: MockTargetRepository,
        checks: MockHealthCheckRepository,
        prober: MockHealthProber,
    ) -> HealthChecks {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        HealthChecks::new(
            Arc::new(targets),
            Arc::new(checks),
            Arc::new(prober),
            Arc::new(clock),
            Arc::new(ids),
        )
    }

    #[tokio::test]
    async fn a_viewer_may_not_probe_and_nothing_is_reached() {
        let mut prober = MockHealthProber::new();
        prober.expect_probe().never();
        let error = service(
            MockTargetRepository::new(),
            MockHealthCheckRepository::new(),
            prober,
        )
        .check_now(&actor(Role::Viewer), ID)
        .await
        .unwrap_err();
        assert!(matches!(error, ServiceError::Forbidden(m) if m.contains("deployer")));
    }

    #[tokio::test]
    async fn a_check_now_keeps_what_the_probe_found_with_the_environments_interval() {
        let mut targets = MockTargetRepository::new();
        targets.expect_get().returning(|_, id| Ok(target(id)));
        let mut checks = MockHealthCheckRepository::new();
        checks.expect_interval().returning(|_, _| Ok(45));
        checks
            .expect_record()
            .withf(|check, interval| {
                check.status == HealthStatus::Healthy
                    && check.message == "Docker daemon responding"
                    && check.target_id == ID
                    && check.tenant == TENANT
                    && *interval == 45
            })
            .times(1)
            .returning(|check, _| Ok(target(check.target_id)));
        let mut prober = MockHealthProber::new();
        prober
            .expect_probe()
            .times(1)
            .returning(|_| ProbeOutcome::new(HealthStatus::Healthy, "Docker daemon responding"));
        let check = service(targets, checks, prober)
            .check_now(&actor(Role::Deployer), ID)
            .await
            .unwrap();
        assert_eq!(
            check.checked_at,
            Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
        );
    }

    #[tokio::test]
    async fn another_tenants_target_is_not_found_and_not_probed() {
        let mut targets = MockTargetRepository::new();
        targets
            .expect_get()
            .returning(|_, _| Err(StoreError::NotFound));
        let mut prober = MockHealthProber::new();
        prober.expect_probe().never();
        let error = service(targets, MockHealthCheckRepository::new(), prober)
            .check_now(&actor(Role::Admin), ID)
            .await
            .unwrap_err();
        assert_eq!(error, ServiceError::NotFound("target".into()));
    }

    fn ecs(id: TargetId, status: HealthStatus, seconds_ago: i64) -> Target {
        let serde_json::Value::Object(connection) =
            json!({"cluster": "c", "service": "s", "region": "us-east-1"})
        else {
            unreachable!()
        };
        let mut target = TargetInput {
            environment_id: Some(Uuid::from_u128(3)),
            name: Some("ecs".into()),
            target_type: Some("ecs_service".into()),
            connection: Some(connection),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_target(id, TENANT, Utc::now());
        target.health_status = status;
        target.health_message = Some("from the agent".into());
        target.last_health_check_at = Some(
            Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap()
                - chrono::Duration::seconds(seconds_ago),
        );
        target
    }

    #[tokio::test]
    async fn an_ecs_service_keeps_its_agents_report_for_three_intervals_then_is_unknown() {
        let mut prober = MockHealthProber::new();
        prober.expect_probe().never();
        let mut targets = MockTargetRepository::new();
        targets
            .expect_get()
            .returning(|_, id| Ok(ecs(id, HealthStatus::Healthy, 90)));
        let mut checks = MockHealthCheckRepository::new();
        checks.expect_interval().returning(|_, _| Ok(30));
        checks.expect_record().never();
        let check = service(targets, checks, prober)
            .check_now(&actor(Role::Admin), ID)
            .await
            .unwrap();
        assert_eq!(
            (check.status, check.message.as_str()),
            (HealthStatus::Healthy, "from the agent")
        );

        let mut prober = MockHealthProber::new();
        prober.expect_probe().never();
        let mut checks = MockHealthCheckRepository::new();
        checks.expect_claim_due().returning(|_, _| {
            Ok(vec![DueCheck {
                target: ecs(ID, HealthStatus::Healthy, 91),
                interval_seconds: 30,
            }])
        });
        checks
            .expect_record()
            .withf(|check, _| {
                check.status == HealthStatus::Unknown && check.message.contains("90 s")
            })
            .times(1)
            .returning(|check, _| Ok(ecs(check.target_id, HealthStatus::Unknown, 0)));
        let checked = service(MockTargetRepository::new(), checks, prober)
            .run_due(10)
            .await
            .unwrap();
        assert_eq!(checked, 1);
    }

    #[tokio::test]
    async fn scheduled_checks_probe_every_claimed_target_and_skip_one_deleted_meanwhile() {
        let mut checks = MockHealthCheckRepository::new();
        checks.expect_claim_due().returning(|_, limit| {
            assert_eq!(limit, 10);
            Ok((1..=3u128)
                .map(|n| DueCheck {
                    target: target(TargetId(Uuid::from_u128(n))),
                    interval_seconds: 30,
                })
                .collect())
        });
        checks.expect_record().times(3).returning(|check, _| {
            if check.target_id == TargetId(Uuid::from_u128(2)) {
                Err(StoreError::NotFound)
            } else {
                Ok(target(check.target_id))
            }
        });
        let mut prober = MockHealthProber::new();
        prober
            .expect_probe()
            .times(3)
            .returning(|_| ProbeOutcome::new(HealthStatus::Unhealthy, "refused"));
        let checked = service(MockTargetRepository::new(), checks, prober)
            .run_due(10)
            .await
            .unwrap();
        assert_eq!(checked, 2);
    }
}
