//! How the store reaches the database, shared by every repository: the connection over both
//! backends and its URL (`connection`), units of work and the tenant setting (`tx`), the
//! SQLite writer thread (`writer`), the custom SQL types (`types`), the hand-written schema
//! (`schema`), the embedded migrations (`migrations`), the mapping of driver errors
//! (`error`), compare-and-set helpers for versioned rows (`versioned`), pages with their
//! totals in one statement (`paging`) and the server-wide numbers (`numbers`).

pub(crate) mod connection;
pub(crate) mod error;
pub(crate) mod fixed;
pub(crate) mod migrations;
pub(crate) mod numbers;
pub(crate) mod paging;
pub(crate) mod schema;
pub(crate) mod tx;
pub(crate) mod types;
pub(crate) mod versioned;
pub(crate) mod writer;
