//! What this process last wrote or read of a few kinds of rows: the deployments it moved,
//! which a transition is first decided on, and the environments it read their gate inputs
//! from. That saves a read when nothing else changed them since. Nothing here is ever
//! trusted: a write decided on a copy is a compare-and-set on the versions the decision was
//! taken on, and a copy that turns out stale is decided again on what the database holds
//! (see `DeploymentRepository::transition` in `deployments`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use terrane_domain::TenantId;
use uuid::Uuid;

/// Most copies kept of one kind. When full, the map starts over: the rows that matter are the
/// ones moving now, and they are written or read again soon.
const MOST: usize = 4096;

/// Copies of rows by tenant and id, as this process last wrote or read them.
#[derive(Debug)]
pub(crate) struct Recent<T> {
    copies: Mutex<HashMap<(TenantId, Uuid), T>>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            copies: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Recent<T> {
    /// The copy of the tenant's row `id`, if this process saw it lately.
    pub(crate) fn get(&self, tenant: TenantId, id: Uuid) -> Option<T> {
        self.lock().get(&(tenant, id)).cloned()
    }

    /// Keeps `row` as just written or read.
    pub(crate) fn put(&self, tenant: TenantId, id: Uuid, row: &T) {
        let key = (tenant, id);
        let mut copies = self.lock();
        if copies.len() >= MOST && !copies.contains_key(&key) {
            copies.clear();
        }
        copies.insert(key, row.clone());
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(TenantId, Uuid), T>> {
        // A panic while holding the lock leaves at worst a stale copy, which is never trusted.
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_kept_per_tenant_and_bounded() {
        let recent = Recent::<u32>::default();
        let (a, b) = (TenantId(Uuid::now_v7()), TenantId(Uuid::now_v7()));
        let mine = Uuid::now_v7();
        recent.put(a, mine, &1);
        recent.put(a, mine, &2);
        assert_eq!(
            recent.get(a, mine),
            Some(2),
            "the last copy put is the one kept"
        );
        assert_eq!(recent.get(b, mine), None, "another tenant never sees it");
        for n in 0..MOST {
            recent.put(a, Uuid::now_v7(), &(n as u32));
        }
        assert!(recent.lock().len() <= MOST);
        assert_eq!(recent.get(a, mine), None, "the full map started over");
    }
}
