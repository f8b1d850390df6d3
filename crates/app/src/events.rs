//! Reading the event log.

use crate::authorize;
use async_trait::async_trait;
use std::sync::Arc;
use terrane_domain::{Actor, Event, EventCursor, EventType, Permission, ValidationErrors};
use terrane_ports::{EventLog, EventService, ServiceError};

/// The event log use cases.
pub struct Events {
    log: Arc<dyn EventLog>,
}

impl Events {
    /// Wires the use cases to the log.
    pub fn new(log: Arc<dyn EventLog>) -> Self {
        Self { log }
    }
}

#[async_trait]
impl EventService for Events {
    async fn after(
        &self,
        actor: &Actor,
        after: Option<EventCursor>,
        types: Vec<EventType>,
        take: u32,
    ) -> Result<Vec<Event>, ServiceError> {
        authorize(actor, Permission::Read, "reading events")?;
        if take == 0 || take > terrane_domain::event::MAX_TAKE {
            return Err(ValidationErrors::single(
                "take",
                format!("must be between 1 and {}", terrane_domain::event::MAX_TAKE),
            )
            .into());
        }
        self.log
            .after(actor.tenant, after, &types, take)
            .await
            .map_err(|e| ServiceError::from_store(e, "event"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrane_domain::{Role, TenantId, UserId};
    use terrane_ports::MockEventLog;
    use uuid::Uuid;

    fn actor(roles: Vec<Role>) -> Actor {
        Actor {
            user: UserId(Uuid::nil()),
            tenant: TenantId(Uuid::from_u128(9)),
            roles,
        }
    }

    #[tokio::test]
    async fn reads_the_actors_organization_only_and_refuses_a_bad_take() {
        let mut log = MockEventLog::new();
        log.expect_after()
            .withf(|tenant, after, types, take| {
                *tenant == TenantId(Uuid::from_u128(9))
                    && after.is_none()
                    && types.is_empty()
                    && *take == 5
            })
            .times(1)
            .returning(|_, _, _, _| Ok(Vec::new()));
        let events = Events::new(Arc::new(log));
        let viewer = actor(vec![Role::Viewer]);
        assert_eq!(events.after(&viewer, None, vec![], 5).await, Ok(vec![]));
        assert!(matches!(
            events.after(&viewer, None, vec![], 0).await,
            Err(ServiceError::Validation(_))
        ));
        assert!(matches!(
            events.after(&actor(vec![]), None, vec![], 5).await,
            Err(ServiceError::Forbidden(_))
        ));
    }
}
