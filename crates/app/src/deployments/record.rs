//! Recording pending deployments into an environment: load the environment, decide in the
//! domain that it takes deployments, write them with a compare-and-set on the environment's
//! version; on a stale copy or a lost race, load again.

use super::{store_error, ATTEMPTS};
use chrono::{DateTime, Utc};
use terrane_domain::{Deployment, EnvironmentId, TenantId, ValidationErrors};
use terrane_ports::{Consistency, DeploymentRepository, ServiceError, StoreError};

/// What a store error on recording deployments means: a component, environment or release
/// the body names that does not exist (in the caller's organization) is a 400 naming the field,
/// as a missing reference is everywhere.
fn create_error(error: StoreError) -> ServiceError {
    let missing = |field: &str, what: &str| {
        ServiceError::Validation(ValidationErrors::single(
            field,
            format!("no {what} with that id exists in your organization"),
        ))
    };
    match error {
        StoreError::MissingReference(field) => match field.as_str() {
            "componentId" => missing("componentId", "component"),
            "environmentId" => missing("environmentId", "environment"),
            "releaseId" => missing("releaseId", "release"),
            _ => store_error(StoreError::MissingReference(field)),
        },
        StoreError::NotFound => missing("environmentId", "environment"),
        other => store_error(other),
    }
}

/// Records `deployments`, all into `environment`, all or none.
///
/// # Errors
/// `Validation` naming the environment, component or release that does not exist; `Conflict`
/// when the environment takes no deployments, or kept changing while they were recorded.
pub(crate) async fn record(
    repo: &dyn DeploymentRepository,
    tenant: TenantId,
    environment: EnvironmentId,
    deployments: Vec<Deployment>,
    now: DateTime<Utc>,
) -> Result<Vec<Deployment>, ServiceError> {
    let mut consistency = Consistency::Recent;
    let mut lost = 0;
    loop {
        let state = repo
            .environment_state(tenant, environment, now, consistency)
            .await
            .map_err(create_error)?;
        consistency = Consistency::Stored;
        if let Err(refused) = state.environment.takes_deployments() {
            // A refusal is only given about what is stored.
            if state.stored {
                return Err(ServiceError::Conflict(refused.to_string()));
            }
            continue;
        }
        match repo
            .create(tenant, deployments.clone(), state.environment.version)
            .await
        {
            Ok(created) => return Ok(created),
            Err(StoreError::VersionMismatch { .. }) => {
                lost += usize::from(state.stored);
                if lost == ATTEMPTS {
                    return Err(ServiceError::Conflict(
                        "the environment kept changing while the deployment was recorded; try again"
                            .into(),
                    ));
                }
            }
            Err(other) => return Err(create_error(other)),
        }
    }
}
