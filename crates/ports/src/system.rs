//! Time and identity, as ports so tests can pin them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The current time.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// New identifiers.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait IdSource: Send + Sync {
    /// A fresh id, unique and time-ordered.
    fn new_id(&self) -> Uuid;
}

/// The machine's clock, truncated to microseconds so stored times read back unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        terrane_domain::time::truncate(Utc::now())
    }
}

/// UUID v7 ids: unique and ordered by creation time, so indexes stay compact.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Source;

impl IdSource for UuidV7Source {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
