//! Drift: what the ledger says runs on a target against what its agent found running.

use crate::agent::InventoryComponent;
use uuid::Uuid;

/// One component the ledger says runs: from the target's version sticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedComponent {
    /// The catalog id.
    pub component_id: Uuid,
    /// Its name.
    pub component_name: String,
    /// The digest of its latest succeeded deployment, when one was recorded.
    pub digest: Option<String>,
}

/// One way the running state differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The component's name (its id when the agent named it only by an unknown id).
    pub component: String,
    /// The digest expected; `None` for a component running that was never deployed.
    pub expected: Option<String>,
    /// The digest running; `None` for a component expected but absent.
    pub actual: Option<String>,
}

/// Compares what should run with what runs, component by component. An inventory entry
/// matches an expected component by id when it carries one, otherwise by name. Reported:
/// a different digest (when the ledger recorded one), an expected component not running,
/// and a running component never deployed there. Expected components come first in their
/// order, then the unexpected ones in the inventory's order.
pub fn differences(
    expected: &[ExpectedComponent],
    actual: &[InventoryComponent],
) -> Vec<Difference> {
    let matches = |e: &ExpectedComponent, a: &InventoryComponent| match a.component_id {
        Some(id) => id == e.component_id,
        None => a.component_name.as_deref() == Some(e.component_name.as_str()),
    };
    let mut found = Vec::new();
    for e in expected {
        match actual.iter().find(|a| matches(e, a)) {
            None => found.push(Difference {
                component: e.component_name.clone(),
                expected: e.digest.clone(),
                actual: None,
            }),
            Some(a) => {
                if e.digest.is_some() && a.digest != e.digest {
                    found.push(Difference {
                        component: e.component_name.clone(),
                        expected: e.digest.clone(),
                        actual: a.digest.clone(),
                    });
                }
            }
        }
    }
    for a in actual {
        if !expected.iter().any(|e| matches(e, a)) {
            let component = a
                .component_name
                .clone()
                .or_else(|| a.component_id.map(|id| id.to_string()))
                .unwrap_or_default();
            found.push(Difference {
                component,
                expected: None,
                actual: a.digest.clone(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(id: u128, name: &str, digest: Option<&str>) -> ExpectedComponent {
        ExpectedComponent {
            component_id: Uuid::from_u128(id),
            component_name: name.into(),
            digest: digest.map(str::to_owned),
        }
    }

    fn running(id: Option<u128>, name: Option<&str>, digest: Option<&str>) -> InventoryComponent {
        InventoryComponent {
            component_id: id.map(Uuid::from_u128),
            component_name: name.map(str::to_owned),
            version: "1".into(),
            digest: digest.map(str::to_owned),
        }
    }

    #[test]
    fn matching_digests_by_id_or_name_are_no_drift() {
        let expected = [
            expected(1, "api", Some("sha256:a")),
            expected(2, "web", Some("sha256:b")),
        ];
        let actual = [
            running(Some(1), None, Some("sha256:a")),
            running(None, Some("web"), Some("sha256:b")),
        ];
        assert!(differences(&expected, &actual).is_empty());
    }

    #[test]
    fn a_wrong_digest_an_absent_component_and_an_undeployed_one_are_each_reported() {
        let expected = [
            expected(1, "api", Some("sha256:abc")),
            expected(2, "web", Some("sha256:b")),
        ];
        let actual = [
            running(None, Some("api"), Some("sha256:def")),
            running(None, Some("redis"), Some("sha256:r")),
        ];
        assert_eq!(
            differences(&expected, &actual),
            [
                Difference {
                    component: "api".into(),
                    expected: Some("sha256:abc".into()),
                    actual: Some("sha256:def".into())
                },
                Difference {
                    component: "web".into(),
                    expected: Some("sha256:b".into()),
                    actual: None
                },
                Difference {
                    component: "redis".into(),
                    expected: None,
                    actual: Some("sha256:r".into())
                },
            ]
        );
    }

    #[test]
    fn without_a_recorded_digest_only_presence_counts() {
        let expected = [expected(1, "api", None)];
        assert!(differences(&expected, &[running(None, Some("api"), Some("sha256:x"))]).is_empty());
        assert_eq!(differences(&expected, &[]).len(), 1);
    }
}
