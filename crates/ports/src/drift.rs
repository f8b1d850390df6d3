//! Drift: the version sticker of a target against the latest inventory of its agent.

use crate::error::ServiceError;
use crate::views::Sticker;
use async_trait::async_trait;
use terrane_domain::{Actor, Difference, EnvironmentId, Inventory, Target, TargetId};

/// The drift of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDrift {
    /// The target.
    pub target: Target,
    /// What should run: its environment's sticker, `None` when nothing was ever deployed.
    pub expected: Option<Sticker>,
    /// What runs: the latest inventory, `None` when no agent reported one yet.
    pub actual: Option<Inventory>,
    /// Every difference; empty without an inventory.
    pub differences: Vec<Difference>,
}

impl TargetDrift {
    /// Whether what runs differs from what should; `None` without an inventory to compare.
    pub fn has_drift(&self) -> Option<bool> {
        self.actual.as_ref().map(|_| !self.differences.is_empty())
    }
}

/// Comparing what the ledger says with what runs.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DriftService: Send + Sync {
    /// The drift of one target (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such target.
    async fn target(&self, actor: &Actor, id: TargetId) -> Result<TargetDrift, ServiceError>;

    /// The drift of every target of an environment, by target name (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such environment.
    async fn environment(
        &self,
        actor: &Actor,
        id: EnvironmentId,
    ) -> Result<Vec<TargetDrift>, ServiceError>;
}
