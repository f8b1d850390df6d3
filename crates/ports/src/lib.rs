//! The boundary of terrane's core.
//!
//! *Driven* ports are what the core needs from the outside world (storage, a clock, ids);
//! adapters such as `terrane-store` implement them. *Driving* ports are the services an
//! inbound adapter such as `terrane-http` calls; `terrane-app` implements them over the
//! driven ports. Every method documents which error variant an implementation returns when.

pub mod error;
pub mod repository;
pub mod service;
pub mod system;

pub use error::{ServiceError, StoreError};
pub use repository::{
    ComponentRepository, EnvironmentRepository, FreezeWindowRepository, IdempotencyBegin,
    IdempotencyRepository, SettingsRepository, StoreHealth, StoredResponse,
};
pub use repository::{TargetGroupRepository, TargetRepository};
pub use service::{
    ComponentQuery, ComponentService, EnvironmentQuery, EnvironmentService, FreezeWindowService,
};
pub use service::{TargetGroupService, TargetQuery, TargetService};
pub use system::{Clock, IdSource, SystemClock, UuidV7Source};

#[cfg(feature = "mocks")]
pub use repository::{
    MockComponentRepository, MockEnvironmentRepository, MockFreezeWindowRepository,
    MockIdempotencyRepository, MockSettingsRepository, MockStoreHealth,
};
#[cfg(feature = "mocks")]
pub use repository::{MockTargetGroupRepository, MockTargetRepository};
#[cfg(feature = "mocks")]
pub use service::{MockComponentService, MockEnvironmentService, MockFreezeWindowService};
#[cfg(feature = "mocks")]
pub use service::{MockTargetGroupService, MockTargetService};
#[cfg(feature = "mocks")]
pub use system::{MockClock, MockIdSource};
