//! The deployments this process last wrote: what a transition is first decided on, which
//! saves reading the deployment when nothing else changed it since. Nothing here is ever
//! trusted: the write is a compare-and-set on the revision and status the decision was taken
//! on, and a copy that turns out stale is decided again on what the database holds (see
//! `DeploymentRepository::transition` in `deployments`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use terrane_domain::{Deployment, TenantId};
use uuid::Uuid;

/// Most deployments kept. When full, the map starts over: the deployments that matter are the
/// ones moving now, and they are written again soon.
const MOST: usize = 4096;

/// Deployments by tenant and id, as this process last wrote them.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    written: Mutex<HashMap<(TenantId, Uuid), Deployment>>,
}

impl Recent {
    /// The copy of the tenant's deployment `id`, if this process wrote it lately.
    pub(crate) fn get(&self, tenant: TenantId, id: Uuid) -> Option<Deployment> {
        self.lock().get(&(tenant, id)).cloned()
    }

    /// Keeps `deployment` as just written.
    pub(crate) fn put(&self, deployment: &Deployment) {
        let key = (deployment.tenant, deployment.id);
        let mut written = self.lock();
        if written.len() >= MOST && !written.contains_key(&key) {
            written.clear();
        }
        written.insert(key, deployment.clone());
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(TenantId, Uuid), Deployment>> {
        // A panic while holding the lock leaves at worst a stale copy, which is never trusted.
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use terrane_domain::{DeploymentInput, UserId};

    fn deployment(tenant: TenantId) -> Deployment {
        let author = UserId(Uuid::now_v7());
        DeploymentInput {
            component_id: Some(Uuid::now_v7()),
            environment_id: Some(Uuid::now_v7()),
            version: Some("1.0.0".into()),
            ..Default::default()
        }
        .into_new(author)
        .expect("a valid deployment")
        .into_deployment(Uuid::now_v7(), tenant, author, Utc::now())
    }

    #[test]
    fn copies_are_kept_per_tenant_and_bounded() {
        let recent = Recent::default();
        let (a, b) = (TenantId(Uuid::now_v7()), TenantId(Uuid::now_v7()));
        let mine = deployment(a);
        recent.put(&mine);
        assert_eq!(recent.get(a, mine.id), Some(mine.clone()));
        assert_eq!(recent.get(b, mine.id), None, "another tenant never sees it");
        for _ in 0..MOST {
            recent.put(&deployment(a));
        }
        assert!(recent.lock().len() <= MOST);
        assert_eq!(recent.get(a, mine.id), None, "the full map started over");
    }
}
