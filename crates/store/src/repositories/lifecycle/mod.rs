//! The environment lifecycle: templates, environments born from them, runs of their
//! workflows with their steps, and their history.

mod rows;
mod runs;
pub(crate) mod tables;
mod templates;
mod writes;
