//! Comparing what two environments run: per component, the version in each and whether they
//! differ, ordered so that what this environment has and the other lacks reads first.

use crate::ids::ComponentId;
use std::collections::BTreeMap;

/// What runs of one component in an environment (its latest succeeded deployment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningVersion {
    /// The component.
    pub component_id: ComponentId,
    /// Its name.
    pub component_name: String,
    /// The version that runs.
    pub version: String,
}

/// How a component compares between this environment and the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Comparison {
    /// It runs here and not there.
    OnlyHere,
    /// It runs in both, in different versions.
    Differs,
    /// It runs there and not here.
    OnlyThere,
    /// It runs in both, in the same version.
    Same,
}

impl Comparison {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::OnlyHere => "onlyHere",
            Comparison::Differs => "differs",
            Comparison::OnlyThere => "onlyThere",
            Comparison::Same => "same",
        }
    }

    /// Every comparison, in the order the lines are listed.
    pub const ALL: [Comparison; 4] = [
        Comparison::OnlyHere,
        Comparison::Differs,
        Comparison::OnlyThere,
        Comparison::Same,
    ];
}

/// One component of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// The component.
    pub component_id: ComponentId,
    /// Its name.
    pub component_name: String,
    /// The version here, if it runs here.
    pub here: Option<String>,
    /// The version in the other environment, if it runs there.
    pub there: Option<String>,
    /// How the two compare.
    pub comparison: Comparison,
}

/// Compares what runs `here` with what runs `there`: one line per component running in
/// either, components only here first, then those in both with different versions, then
/// those only there, then those in the same version; by name (byte-wise) and id within each.
pub fn diff_versions(here: Vec<RunningVersion>, there: Vec<RunningVersion>) -> Vec<DiffLine> {
    let mut lines: BTreeMap<ComponentId, DiffLine> = BTreeMap::new();
    for running in here {
        lines.insert(
            running.component_id,
            DiffLine {
                component_id: running.component_id,
                component_name: running.component_name,
                here: Some(running.version),
                there: None,
                comparison: Comparison::OnlyHere,
            },
        );
    }
    for running in there {
        lines
            .entry(running.component_id)
            .or_insert_with(|| DiffLine {
                component_id: running.component_id,
                component_name: running.component_name,
                here: None,
                there: None,
                comparison: Comparison::OnlyThere,
            })
            .there = Some(running.version);
    }
    let mut lines: Vec<DiffLine> = lines
        .into_values()
        .map(|mut line| {
            line.comparison = match (&line.here, &line.there) {
                (Some(a), Some(b)) if a == b => Comparison::Same,
                (Some(_), Some(_)) => Comparison::Differs,
                (Some(_), None) => Comparison::OnlyHere,
                (None, _) => Comparison::OnlyThere,
            };
            line
        })
        .collect();
    lines.sort_by(|a, b| {
        (a.comparison, &a.component_name, a.component_id).cmp(&(
            b.comparison,
            &b.component_name,
            b.component_id,
        ))
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn running(n: u128, name: &str, version: &str) -> RunningVersion {
        RunningVersion {
            component_id: ComponentId(Uuid::from_u128(n)),
            component_name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn what_only_this_environment_has_reads_first_then_differences_then_what_it_lacks() {
        let staging = vec![
            running(1, "web", "v2"),
            running(2, "api", "v5"),
            running(3, "worker", "v1"),
            running(4, "search", "v9"),
        ];
        let production = vec![
            running(1, "web", "v1"),
            running(3, "worker", "v1"),
            running(5, "billing", "v3"),
        ];
        let lines = diff_versions(staging, production);
        let read: Vec<(&str, Option<&str>, Option<&str>, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l.component_name.as_str(),
                    l.here.as_deref(),
                    l.there.as_deref(),
                    l.comparison.as_str(),
                )
            })
            .collect();
        assert_eq!(
            read,
            vec![
                ("api", Some("v5"), None, "onlyHere"),
                ("search", Some("v9"), None, "onlyHere"),
                ("web", Some("v2"), Some("v1"), "differs"),
                ("billing", None, Some("v3"), "onlyThere"),
                ("worker", Some("v1"), Some("v1"), "same"),
            ]
        );
    }

    #[test]
    fn two_environments_running_nothing_have_no_lines() {
        assert!(diff_versions(Vec::new(), Vec::new()).is_empty());
    }
}
