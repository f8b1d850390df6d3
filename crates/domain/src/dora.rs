//! The four DORA measures of an environment over a window of time, from its ledger:
//! deployment frequency, lead time for changes, change failure rate and time to restore.
//!
//! The deployments measured are those recorded in the window; their status changes count
//! up to the window's end.

use crate::deployment::DeploymentStatus;
use crate::error::ValidationErrors;
use crate::ids::ComponentId;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The longest window measured at once.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// The window when none is given: the 30 days up to now.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// A window of time `[from, to)`, at most [`MAX_WINDOW_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoraWindow {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl DoraWindow {
    /// The window from `from` to `to`; `to` defaults to `now` and `from` to
    /// [`DEFAULT_WINDOW_DAYS`] before `to`.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `from` when it is not before `to`, or the window is longer
    /// than [`MAX_WINDOW_DAYS`].
    pub fn parse(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let to = crate::time::truncate(to.unwrap_or(now));
        let from = crate::time::truncate(from.unwrap_or(to - Duration::days(DEFAULT_WINDOW_DAYS)));
        if from >= to {
            return Err(ValidationErrors::single("from", "must be before `to`"));
        }
        if to - from > Duration::days(MAX_WINDOW_DAYS) {
            return Err(ValidationErrors::single(
                "from",
                format!("must be at most {MAX_WINDOW_DAYS} days before `to`"),
            ));
        }
        Ok(DoraWindow { from, to })
    }

    /// Its start (included).
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// Its end (excluded).
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// Its length in days, with fractions.
    pub fn days(&self) -> f64 {
        (self.to - self.from).num_microseconds().unwrap_or(i64::MAX) as f64 / 86_400e6
    }
}

/// A deployment as the measures see it: what it deployed, when its change was committed and
/// the status changes it went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerDeployment {
    /// The deployment.
    pub id: Uuid,
    /// The component deployed.
    pub component_id: ComponentId,
    /// When its change was committed, if the client said.
    pub committed_at: Option<DateTime<Utc>>,
    /// Its status changes, each with its time, in any order.
    pub transitions: Vec<(DeploymentStatus, DateTime<Utc>)>,
}

/// The four measures of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct DoraMeasures {
    /// The window measured.
    pub window: DoraWindow,
    /// Deployments that succeeded (at least once) in the window.
    pub succeeded: u64,
    /// `succeeded` per day of the window.
    pub deployments_per_day: f64,
    /// Succeeded deployments with a commit time: the lead times measured.
    pub lead_times: u64,
    /// Median lead time (commit to first success), nearest rank.
    pub lead_time_median: Option<Duration>,
    /// 90th percentile lead time, nearest rank.
    pub lead_time_p90: Option<Duration>,
    /// Deployments that finished (succeeded or failed at least once).
    pub finished: u64,
    /// Of those, the ones that failed or were rolled back (at least once).
    pub failed_changes: u64,
    /// `failed_changes / finished`; `None` when nothing finished.
    pub change_failure_rate: Option<f64>,
    /// Incidents: a failure or rollback of a component while it was not already broken.
    pub incidents: u64,
    /// Incidents ended by a later success of that component.
    pub restored: u64,
    /// Median time from an incident to the success that ended it, nearest rank.
    pub time_to_restore_median: Option<Duration>,
}

/// The `p`th percentile (0 < p <= 100) of sorted `values`, by nearest rank.
fn nearest_rank(sorted: &[Duration], p: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank).ok()? - 1).copied()
}

/// Measures `ledger` (the deployments of one environment recorded in `window`) over
/// `window`; status changes at or after the window's end are left out.
pub fn measure(window: DoraWindow, ledger: &[LedgerDeployment]) -> DoraMeasures {
    let seen = |at: &DateTime<Utc>| *at < window.to;
    let mut succeeded = 0;
    let mut lead_times = Vec::new();
    let mut finished = 0;
    let mut failed_changes = 0;
    // Per component, its successes and failures in time order.
    let mut events: BTreeMap<ComponentId, Vec<(DateTime<Utc>, bool)>> = BTreeMap::new();
    for d in ledger {
        let mut changes: Vec<_> = d.transitions.iter().filter(|(_, at)| seen(at)).collect();
        changes.sort_by_key(|(_, at)| *at);
        let first_success = changes
            .iter()
            .find(|(s, _)| *s == DeploymentStatus::Succeeded)
            .map(|(_, at)| *at);
        let failed = changes
            .iter()
            .any(|(s, _)| matches!(s, DeploymentStatus::Failed | DeploymentStatus::RolledBack));
        if let Some(at) = first_success {
            succeeded += 1;
            if let Some(committed) = d.committed_at {
                lead_times.push(at - committed);
            }
        }
        if first_success.is_some() || changes.iter().any(|(s, _)| *s == DeploymentStatus::Failed) {
            finished += 1;
        }
        if failed {
            failed_changes += 1;
        }
        let component = events.entry(d.component_id).or_default();
        for (status, at) in changes {
            match status {
                DeploymentStatus::Succeeded => component.push((*at, true)),
                DeploymentStatus::Failed | DeploymentStatus::RolledBack => {
                    component.push((*at, false))
                }
                DeploymentStatus::Pending | DeploymentStatus::InProgress => {}
            }
        }
    }
    let mut incidents = 0;
    let mut restores = Vec::new();
    for component in events.values_mut() {
        // At the same instant, a failure comes before a success: the success restores it.
        component.sort_by_key(|(at, good)| (*at, *good));
        let mut broken_since = None;
        for (at, good) in component.iter() {
            match (good, broken_since) {
                (false, None) => {
                    incidents += 1;
                    broken_since = Some(*at);
                }
                (true, Some(since)) => {
                    restores.push(*at - since);
                    broken_since = None;
                }
                _ => {}
            }
        }
    }
    lead_times.sort();
    restores.sort();
    DoraMeasures {
        window,
        succeeded,
        deployments_per_day: succeeded as f64 / window.days(),
        lead_times: lead_times.len() as u64,
        lead_time_median: nearest_rank(&lead_times, 50),
        lead_time_p90: nearest_rank(&lead_times, 90),
        finished,
        failed_changes,
        change_failure_rate: (finished > 0).then(|| failed_changes as f64 / finished as f64),
        incidents,
        restored: restores.len() as u64,
        time_to_restore_median: nearest_rank(&restores, 50),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use DeploymentStatus::*;

    fn t(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    fn window() -> DoraWindow {
        DoraWindow::parse(Some(t(1, 0)), Some(t(11, 0)), t(20, 0)).unwrap()
    }

    fn deployment(
        component: u128,
        committed: Option<DateTime<Utc>>,
        transitions: &[(DeploymentStatus, DateTime<Utc>)],
    ) -> LedgerDeployment {
        LedgerDeployment {
            id: Uuid::now_v7(),
            component_id: ComponentId(Uuid::from_u128(component)),
            committed_at: committed,
            transitions: transitions.to_vec(),
        }
    }

    #[test]
    fn a_hand_made_ledger_gives_the_figures_worked_out_by_hand() {
        let ledger = vec![
            // web: succeeds 2 h after its commit.
            deployment(
                1,
                Some(t(1, 8)),
                &[(Pending, t(1, 9)), (Succeeded, t(1, 10))],
            ),
            // web: fails at day 2 10:00 (incident 1 of web) ...
            deployment(1, Some(t(2, 6)), &[(Pending, t(2, 9)), (Failed, t(2, 10))]),
            // ... restored by this success 4 h later, 6 h after its commit.
            deployment(
                1,
                Some(t(2, 8)),
                &[(Pending, t(2, 12)), (Succeeded, t(2, 14))],
            ),
            // api: succeeds 10 h after its commit, then is rolled back a day later
            // (incident of api, never restored in the window).
            deployment(
                2,
                Some(t(3, 0)),
                &[(Succeeded, t(3, 10)), (RolledBack, t(4, 10))],
            ),
            // api: no commit time; succeeds after the window ends: not counted.
            deployment(2, None, &[(Pending, t(10, 0)), (Succeeded, t(12, 0))]),
            // web: still pending.
            deployment(1, Some(t(5, 0)), &[(Pending, t(5, 1))]),
            // web: fails (incident 2 of web), is retried and succeeds 1 h later, 30 h after
            // its commit.
            deployment(
                1,
                Some(t(5, 0)),
                &[(Failed, t(6, 5)), (Pending, t(6, 5)), (Succeeded, t(6, 6))],
            ),
        ];
        let m = measure(window(), &ledger);
        // Succeeded: the 1st, 3rd, 4th and 7th: 4 in 10 days.
        assert_eq!(m.succeeded, 4);
        assert!((m.deployments_per_day - 0.4).abs() < 1e-9);
        // Lead times: 2 h, 6 h, 10 h, 30 h: median (rank 2) 6 h, p90 (rank 4) 30 h.
        assert_eq!(m.lead_times, 4);
        assert_eq!(m.lead_time_median, Some(Duration::hours(6)));
        assert_eq!(m.lead_time_p90, Some(Duration::hours(30)));
        // Finished: 1st, 2nd, 3rd, 4th, 7th (the 5th finished after the window): 5, of
        // which the 2nd, 4th and 7th failed or were rolled back.
        assert_eq!((m.finished, m.failed_changes), (5, 3));
        assert!((m.change_failure_rate.unwrap() - 0.6).abs() < 1e-9);
        // Incidents: web on day 2 (restored in 4 h), api on day 4 (not restored), web on
        // day 6 (restored in 1 h). Median of [1 h, 4 h] by nearest rank: 1 h.
        assert_eq!((m.incidents, m.restored), (3, 2));
        assert_eq!(m.time_to_restore_median, Some(Duration::hours(1)));
    }

    #[test]
    fn an_empty_ledger_measures_zero_and_nothing() {
        let m = measure(window(), &[]);
        assert_eq!((m.succeeded, m.finished, m.incidents), (0, 0, 0));
        assert_eq!(m.deployments_per_day, 0.0);
        assert_eq!(m.change_failure_rate, None);
        assert_eq!(m.lead_time_median, None);
        assert_eq!(m.time_to_restore_median, None);
    }

    #[test]
    fn a_second_failure_while_broken_is_the_same_incident() {
        let ledger = vec![
            deployment(1, None, &[(Failed, t(2, 0))]),
            deployment(1, None, &[(Failed, t(2, 3))]),
            deployment(1, None, &[(Succeeded, t(2, 5))]),
        ];
        let m = measure(window(), &ledger);
        assert_eq!((m.incidents, m.restored), (1, 1));
        assert_eq!(m.time_to_restore_median, Some(Duration::hours(5)));
    }

    #[test]
    fn the_window_defaults_to_the_last_thirty_days_and_refuses_backwards_or_long_ones() {
        let w = DoraWindow::parse(None, None, t(31, 0)).unwrap();
        assert_eq!((w.from(), w.to()), (t(1, 0), t(31, 0)));
        assert!((w.days() - 30.0).abs() < 1e-9);
        let backwards = DoraWindow::parse(Some(t(5, 0)), Some(t(5, 0)), t(31, 0)).unwrap_err();
        assert_eq!(backwards.errors()[0].field, "from");
        let long = DoraWindow::parse(Some(t(1, 0) - Duration::days(400)), Some(t(1, 0)), t(31, 0))
            .unwrap_err();
        assert_eq!(long.errors()[0].field, "from");
    }

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let hours: Vec<Duration> = (1..=10).map(Duration::hours).collect();
        assert_eq!(nearest_rank(&hours, 50), Some(Duration::hours(5)));
        assert_eq!(nearest_rank(&hours, 90), Some(Duration::hours(9)));
        assert_eq!(nearest_rank(&hours[..1], 90), Some(Duration::hours(1)));
        assert_eq!(nearest_rank(&[], 50), None);
    }
}
