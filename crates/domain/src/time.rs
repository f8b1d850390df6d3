//! Time helpers shared by the model.

use chrono::{DateTime, SubsecRound, Utc};

/// Truncates a time to whole microseconds, the finest precision both PostgreSQL and SQLite
/// keep, so a value reads back exactly as it was written.
pub fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}
