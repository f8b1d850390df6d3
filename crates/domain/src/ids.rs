//! Typed identifiers, so a tenant id can never be passed where an environment id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// The organization a row belongs to; every query is scoped to one.
    TenantId
);
id_type!(
    /// A person or machine acting on terrane (the token's `sub`).
    UserId
);
id_type!(
    /// An environment.
    EnvironmentId
);
id_type!(
    /// A component of the catalog: something that is deployed.
    ComponentId
);
id_type!(
    /// A freeze window of an environment.
    FreezeWindowId
);
id_type!(
    /// A target group: a logical group of targets (an application tier, a cluster).
    TargetGroupId
);
id_type!(
    /// The assignment of a target group to an environment (FlexDeploy's "target").
    AssignmentId
);
id_type!(
    /// A target: a place things run.
    TargetId
);
id_type!(
    /// A self-service request for an environment.
    EnvironmentRequestId
);
id_type!(
    /// A deployment of the ledger.
    DeploymentId
);
id_type!(
    /// A release: a named set of component versions.
    ReleaseId
);
id_type!(
    /// An environment template: variables and workflows environments are born from.
    TemplateId
);
id_type!(
    /// One execution of a workflow on an environment.
    RunId
);
id_type!(
    /// One step of a run.
    StepId
);
id_type!(
    /// One entry of an environment's lifecycle history.
    LifecycleEventId
);
id_type!(
    /// A project: a group of environments (Genesis's projects).
    ProjectId
);

macro_rules! number_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The number.
            pub fn get(&self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

number_type!(
    /// The server-wide number of an environment, beside its UUID: assigned at creation, never
    /// reused, for clients that address rows by number (FlexDeploy's `environmentId`).
    EnvironmentNumber
);
number_type!(
    /// The server-wide number of a target group (FlexDeploy's `targetGroupId`).
    TargetGroupNumber
);
number_type!(
    /// The server-wide number of an assignment (FlexDeploy's `targetId`).
    AssignmentNumber
);
number_type!(
    /// The server-wide number of a project (Genesis's project `id`).
    ProjectNumber
);

id_type!(
    /// A webhook: a URL that receives the organization's events.
    WebhookId
);
id_type!(
    /// One event's delivery to one webhook; also the `X-Terrane-Delivery` header, the same on
    /// every attempt.
    WebhookDeliveryId
);
