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
    EnvironmentRepository, IdempotencyBegin, IdempotencyRepository, SettingsRepository,
    StoreHealth, StoredResponse,
};
pub use service::{EnvironmentQuery, EnvironmentService};
pub use system::{Clock, IdSource, SystemClock, UuidV7Source};

#[cfg(feature = "mocks")]
pub use repository::{
    MockEnvironmentRepository, MockIdempotencyRepository, MockSettingsRepository, MockStoreHealth,
};
#[cfg(feature = "mocks")]
pub use service::MockEnvironmentService;
#[cfg(feature = "mocks")]
pub use system::{MockClock, MockIdSource};
