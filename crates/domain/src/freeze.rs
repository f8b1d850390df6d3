//! Freeze windows: periods in which an environment takes no deployments, except from the
//! users a window names, and the policy that decides whether someone may deploy now.

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{EnvironmentId, FreezeWindowId, TenantId, UserId};
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// A stored freeze window of one environment. It is active from `start` (inclusive) to `end`
/// (exclusive); windows may overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeWindow {
    /// Its id.
    pub id: FreezeWindowId,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// The environment it freezes.
    pub environment_id: EnvironmentId,
    /// First instant of the freeze.
    pub start: DateTime<Utc>,
    /// First instant after the freeze; always after `start`.
    pub end: DateTime<Utc>,
    /// Why, for the people who are refused.
    pub reason: String,
    /// Users who may still deploy while it is active.
    pub exceptions: Vec<UserId>,
    /// Who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl FreezeWindow {
    /// Whether the window freezes its environment at `now`: `start <= now < end`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.end
    }

    /// Whether `user` is one of the window's exceptions.
    pub fn exempts(&self, user: UserId) -> bool {
        self.exceptions.contains(&user)
    }
}

/// Raw, unvalidated freeze window fields as a client sends them; `None` means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreezeWindowInput {
    /// RFC 3339 time; required.
    pub start: Option<String>,
    /// RFC 3339 time after `start`; required.
    pub end: Option<String>,
    /// Why; required.
    pub reason: Option<String>,
    /// User ids (UUIDs) who may still deploy; defaults to none.
    pub exceptions: Option<Vec<String>>,
}

/// A validated freeze window to create: `start` is before `end`, the reason is not blank and
/// the exceptions are distinct user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFreezeWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
    exceptions: Vec<UserId>,
}

/// Longest reason.
pub const MAX_REASON_LEN: usize = 500;
/// Most exceptions one window may list.
pub const MAX_EXCEPTIONS: usize = 100;

fn parse_time(value: &str, field: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| crate::time::truncate(at.with_timezone(&Utc)))
        .map_err(|_| {
            FieldError::new(
                field,
                format!("must be an RFC 3339 time such as 2026-01-15T00:00:00Z, not `{value}`"),
            )
        })
}

fn parse_reason(value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(FieldError::new("reason", "must not be blank"))
    } else if trimmed.chars().count() > MAX_REASON_LEN {
        Err(FieldError::new("reason", "must be at most 500 characters"))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// A field that must be present, parsed by `parse`; either failure is recorded in `errors`.
fn required<T>(
    errors: &mut ValidationErrors,
    value: Option<String>,
    field: &str,
    parse: impl FnOnce(&str) -> Result<T, FieldError>,
) -> Option<T> {
    match value {
        Some(value) => errors.take(parse(&value)),
        None => {
            errors.add(field, "is required");
            None
        }
    }
}

/// Each bad id is named by its position; duplicates are dropped, keeping the first.
fn parse_exceptions(values: &[String], errors: &mut ValidationErrors) -> Vec<UserId> {
    if values.len() > MAX_EXCEPTIONS {
        errors.add("exceptions", "must list at most 100 users");
        return Vec::new();
    }
    let mut users: Vec<UserId> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        match Uuid::parse_str(value) {
            Ok(id) if !users.contains(&UserId(id)) => users.push(UserId(id)),
            Ok(_) => {}
            Err(_) => errors.add(
                format!("exceptions[{i}]"),
                format!("must be a user id (a UUID), not `{value}`"),
            ),
        }
    }
    users
}

impl FreezeWindowInput {
    /// Validates a new window, every bad or missing field reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field; `end` when it is not after `start`.
    pub fn into_new(self) -> Result<NewFreezeWindow, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let start = required(&mut errors, self.start, "start", |v| parse_time(v, "start"));
        let end = required(&mut errors, self.end, "end", |v| parse_time(v, "end"));
        let reason = required(&mut errors, self.reason, "reason", parse_reason);
        let exceptions = parse_exceptions(&self.exceptions.unwrap_or_default(), &mut errors);
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                errors.add("end", "must be after start");
            }
        }
        match (start, end, reason) {
            (Some(start), Some(end), Some(reason)) if errors.is_empty() => Ok(NewFreezeWindow {
                start,
                end,
                reason,
                exceptions,
            }),
            _ => Err(errors),
        }
    }
}

impl NewFreezeWindow {
    /// First instant of the freeze.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// First instant after the freeze.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Users who may still deploy.
    pub fn exceptions(&self) -> &[UserId] {
        &self.exceptions
    }

    /// The stored window this becomes, given what only the caller knows.
    pub fn into_window(
        self,
        id: FreezeWindowId,
        tenant: TenantId,
        environment_id: EnvironmentId,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> FreezeWindow {
        FreezeWindow {
            id,
            tenant,
            environment_id,
            start: self.start,
            end: self.end,
            reason: self.reason,
            exceptions: self.exceptions,
            created_by,
            created_at: crate::time::truncate(now),
        }
    }
}

/// A window that keeps someone from deploying, as [`Frozen`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingWindow {
    /// The window.
    pub id: FreezeWindowId,
    /// Its reason.
    pub reason: String,
    /// When it ends.
    pub end: DateTime<Utc>,
}

/// Why a deployment may not start: the active windows that do not except the actor, ordered
/// by start (then id). Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// The blocking windows.
    pub windows: Vec<BlockingWindow>,
}

impl Frozen {
    /// When the last of the blocking windows ends. Another window may begin by then.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        self.windows.iter().map(|w| w.end).max()
    }
}

impl fmt::Display for Frozen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the environment is frozen: ")?;
        for (i, window) in self.windows.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "`{}` until {} (freeze window {})",
                window.reason,
                window
                    .end
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                window.id
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Frozen {}

/// Whether an environment may take a deployment, given all of its freeze windows.
#[derive(Debug, Clone, Copy)]
pub struct FreezePolicy<'a> {
    windows: &'a [FreezeWindow],
}

impl<'a> FreezePolicy<'a> {
    /// The policy of one environment's windows (past, present and future alike).
    pub fn new(windows: &'a [FreezeWindow]) -> Self {
        Self { windows }
    }

    /// The windows active at `now`, ordered by start, then id.
    pub fn active(&self, now: DateTime<Utc>) -> Vec<&'a FreezeWindow> {
        let mut active: Vec<&FreezeWindow> =
            self.windows.iter().filter(|w| w.is_active(now)).collect();
        active.sort_by_key(|w| (w.start, w.id));
        active
    }

    /// Whether any window is active at `now`.
    pub fn is_frozen(&self, now: DateTime<Utc>) -> bool {
        self.windows.iter().any(|w| w.is_active(now))
    }

    /// Succeeds when `actor` may deploy at `now`: every active window lists them as an
    /// exception (trivially so when none is active).
    ///
    /// # Errors
    /// [`Frozen`] naming each active window that does not except `actor`.
    pub fn may_deploy(&self, now: DateTime<Utc>, actor: UserId) -> Result<(), Frozen> {
        let windows: Vec<BlockingWindow> = self
            .active(now)
            .into_iter()
            .filter(|w| !w.exempts(actor))
            .map(|w| BlockingWindow {
                id: w.id,
                reason: w.reason.clone(),
                end: w.end,
            })
            .collect();
        if windows.is_empty() {
            Ok(())
        } else {
            Err(Frozen { windows })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 15, hour, 0, 0).unwrap()
    }

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn window(n: u128, start: u32, end: u32, exceptions: &[UserId]) -> FreezeWindow {
        FreezeWindow {
            id: FreezeWindowId(Uuid::from_u128(n)),
            tenant: TenantId(Uuid::nil()),
            environment_id: EnvironmentId(Uuid::nil()),
            start: at(start),
            end: at(end),
            reason: format!("freeze {n}"),
            exceptions: exceptions.to_vec(),
            created_by: user(99),
            created_at: at(0),
        }
    }

    fn input(start: &str, end: &str) -> FreezeWindowInput {
        FreezeWindowInput {
            start: Some(start.into()),
            end: Some(end.into()),
            reason: Some("Holiday freeze".into()),
            exceptions: None,
        }
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.field.as_str()).collect()
    }

    fn blocking_ids(result: Result<(), Frozen>) -> Vec<u128> {
        result
            .unwrap_err()
            .windows
            .iter()
            .map(|w| w.id.as_uuid().as_u128())
            .collect()
    }

    #[test]
    fn a_window_is_active_from_its_start_inclusive_to_its_end_exclusive() {
        let w = window(1, 10, 12, &[]);
        let tick = Duration::microseconds(1);
        assert!(!w.is_active(at(10) - tick), "just before the start");
        assert!(w.is_active(at(10)), "at the start");
        assert!(w.is_active(at(11)), "inside");
        assert!(w.is_active(at(12) - tick), "just before the end");
        assert!(!w.is_active(at(12)), "at the end");
        assert!(!w.is_active(at(13)), "after");
    }

    #[test]
    fn without_windows_anyone_may_deploy_at_any_time() {
        let policy = FreezePolicy::new(&[]);
        assert_eq!(policy.may_deploy(at(11), user(1)), Ok(()));
        assert!(!policy.is_frozen(at(11)));
    }

    #[test]
    fn an_active_window_blocks_and_names_its_id_reason_and_end() {
        let windows = [window(1, 10, 12, &[])];
        let frozen = FreezePolicy::new(&windows)
            .may_deploy(at(10), user(1))
            .unwrap_err();
        assert_eq!(
            frozen.windows,
            [BlockingWindow {
                id: FreezeWindowId(Uuid::from_u128(1)),
                reason: "freeze 1".into(),
                end: at(12),
            }]
        );
        assert_eq!(frozen.until(), Some(at(12)));
        let message = frozen.to_string();
        assert!(
            message.contains("`freeze 1` until 2026-01-15T12:00:00Z"),
            "{message}"
        );
    }

    #[test]
    fn past_and_future_windows_do_not_block() {
        let windows = [window(1, 1, 2, &[]), window(2, 20, 22, &[])];
        let policy = FreezePolicy::new(&windows);
        for hour in [0, 2, 10, 19, 22, 23] {
            assert_eq!(policy.may_deploy(at(hour), user(1)), Ok(()), "{hour}:00");
        }
        assert_eq!(blocking_ids(policy.may_deploy(at(1), user(1))), [1]);
        assert_eq!(blocking_ids(policy.may_deploy(at(21), user(1))), [2]);
    }

    #[test]
    fn an_exception_lets_its_user_through_and_nobody_else() {
        let windows = [window(1, 10, 12, &[user(7), user(8)])];
        let policy = FreezePolicy::new(&windows);
        assert_eq!(policy.may_deploy(at(11), user(7)), Ok(()));
        assert_eq!(policy.may_deploy(at(11), user(8)), Ok(()));
        assert_eq!(blocking_ids(policy.may_deploy(at(11), user(9))), [1]);
        assert!(
            policy.is_frozen(at(11)),
            "frozen even for those let through"
        );
    }

    #[test]
    fn overlapping_windows_each_need_their_own_exception() {
        let windows = [
            window(2, 11, 14, &[user(8)]),
            window(1, 10, 12, &[user(7)]),
            window(3, 9, 13, &[user(7), user(8)]),
        ];
        let policy = FreezePolicy::new(&windows);
        // At 11:00 all three are active.
        assert_eq!(blocking_ids(policy.may_deploy(at(11), user(7))), [2]);
        assert_eq!(blocking_ids(policy.may_deploy(at(11), user(8))), [1]);
        assert_eq!(
            blocking_ids(policy.may_deploy(at(11), user(9))),
            [3, 1, 2],
            "ordered by start"
        );
        // At 12:00 window 1 has ended; at 13:00 window 3 too.
        assert_eq!(policy.may_deploy(at(12), user(8)), Ok(()));
        assert_eq!(blocking_ids(policy.may_deploy(at(12), user(7))), [2]);
        assert_eq!(blocking_ids(policy.may_deploy(at(13), user(7))), [2]);
        assert_eq!(policy.may_deploy(at(14), user(7)), Ok(()));
        let frozen = policy.may_deploy(at(11), user(9)).unwrap_err();
        assert_eq!(frozen.until(), Some(at(14)));
    }

    #[test]
    fn windows_starting_together_are_ordered_by_id() {
        let windows = [window(5, 10, 12, &[]), window(4, 10, 11, &[])];
        let policy = FreezePolicy::new(&windows);
        let active: Vec<u128> = policy
            .active(at(10))
            .iter()
            .map(|w| w.id.as_uuid().as_u128())
            .collect();
        assert_eq!(active, [4, 5]);
        assert_eq!(blocking_ids(policy.may_deploy(at(10), user(1))), [4, 5]);
    }

    #[test]
    fn a_valid_input_becomes_a_window_in_utc() {
        let new = FreezeWindowInput {
            exceptions: Some(vec![
                "00000000-0000-0000-0000-000000000007".into(),
                "00000000-0000-0000-0000-000000000008".into(),
            ]),
            reason: Some("  Holiday freeze  ".into()),
            ..input("2026-01-15T01:00:00+01:00", "2026-01-20T00:00:00Z")
        }
        .into_new()
        .unwrap();
        assert_eq!(new.start(), at(0), "converted to UTC");
        assert_eq!(
            new.end(),
            Utc.with_ymd_and_hms(2026, 1, 20, 0, 0, 0).unwrap()
        );
        assert_eq!(new.reason(), "Holiday freeze");
        assert_eq!(new.exceptions(), [user(7), user(8)]);
        let window = new.into_window(
            FreezeWindowId(Uuid::from_u128(1)),
            TenantId(Uuid::from_u128(2)),
            EnvironmentId(Uuid::from_u128(3)),
            user(4),
            at(5),
        );
        assert_eq!(window.created_by, user(4));
        assert_eq!(window.environment_id, EnvironmentId(Uuid::from_u128(3)));
        assert_eq!(window.created_at, at(5));
    }

    #[test]
    fn the_end_must_be_after_the_start() {
        let same = input("2026-01-15T00:00:00Z", "2026-01-15T00:00:00Z");
        assert_eq!(fields(&same.into_new().unwrap_err()), ["end"]);
        let before = input("2026-01-15T00:00:00Z", "2026-01-14T23:59:59Z");
        let errors = before.into_new().unwrap_err();
        assert_eq!(fields(&errors), ["end"]);
        assert_eq!(errors.errors()[0].message, "must be after start");
        let just_after = input("2026-01-15T00:00:00Z", "2026-01-15T00:00:00.000001Z");
        assert!(just_after.into_new().is_ok());
    }

    #[test]
    fn times_are_cut_to_microseconds_before_they_are_compared() {
        let input = input(
            "2026-01-15T00:00:00.0000001Z",
            "2026-01-15T00:00:00.0000009Z",
        );
        assert_eq!(fields(&input.into_new().unwrap_err()), ["end"]);
    }

    #[test]
    fn every_bad_or_missing_field_is_named_at_once() {
        let errors = FreezeWindowInput {
            start: Some("tomorrow".into()),
            end: None,
            reason: Some("   ".into()),
            exceptions: Some(vec![
                "00000000-0000-0000-0000-000000000007".into(),
                "bob".into(),
            ]),
        }
        .into_new()
        .unwrap_err();
        assert_eq!(fields(&errors), ["start", "end", "reason", "exceptions[1]"]);
        let nothing = FreezeWindowInput::default().into_new().unwrap_err();
        assert_eq!(fields(&nothing), ["start", "end", "reason"]);
    }

    #[test]
    fn times_without_an_offset_are_refused() {
        let errors = input("2026-01-15T00:00:00", "2026-01-16")
            .into_new()
            .unwrap_err();
        assert_eq!(fields(&errors), ["start", "end"]);
        assert!(errors.errors()[0].message.contains("RFC 3339"));
    }

    #[test]
    fn the_reason_is_bounded_and_exceptions_are_distinct_and_bounded() {
        let long = FreezeWindowInput {
            reason: Some("r".repeat(501)),
            ..input("2026-01-15T00:00:00Z", "2026-01-16T00:00:00Z")
        };
        assert_eq!(fields(&long.into_new().unwrap_err()), ["reason"]);
        let id = "00000000-0000-0000-0000-000000000007".to_owned();
        let repeated = FreezeWindowInput {
            exceptions: Some(vec![id.clone(), id.clone()]),
            ..input("2026-01-15T00:00:00Z", "2026-01-16T00:00:00Z")
        };
        assert_eq!(repeated.into_new().unwrap().exceptions(), [user(7)]);
        let too_many = FreezeWindowInput {
            exceptions: Some(
                (0..101u128)
                    .map(|n| Uuid::from_u128(n).to_string())
                    .collect(),
            ),
            ..input("2026-01-15T00:00:00Z", "2026-01-16T00:00:00Z")
        };
        assert_eq!(fields(&too_many.into_new().unwrap_err()), ["exceptions"]);
        let hundred = FreezeWindowInput {
            exceptions: Some(
                (0..100u128)
                    .map(|n| Uuid::from_u128(n).to_string())
                    .collect(),
            ),
            ..input("2026-01-15T00:00:00Z", "2026-01-16T00:00:00Z")
        };
        assert_eq!(hundred.into_new().unwrap().exceptions().len(), 100);
    }
}
