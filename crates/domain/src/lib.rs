//! terrane's pure model: entities, value objects, validation and policies.
//!
//! Nothing here performs I/O, reads a clock or names a framework: times come in as arguments,
//! and every value type that can be invalid is built through a `parse` that either returns a
//! valid value or says which field is wrong and why. Teams embed this crate on its own.

#[macro_use]
mod wire;

pub mod auth;
pub mod deployment;
pub mod environment;
pub mod error;
pub mod ids;
pub mod page;
pub mod time;

pub use auth::{Actor, Permission, Role};
pub use environment::{
    Environment, EnvironmentChanges, EnvironmentConfig, EnvironmentFilter, EnvironmentInput,
    EnvironmentName, EnvironmentSort, EnvironmentSortField, EnvironmentStatus, NewEnvironment,
    PromotionPolicy,
};
pub use error::{FieldError, ValidationErrors};
pub use ids::{EnvironmentId, TenantId, UserId};
pub use page::Page;
