//! How long an ephemeral environment lives: the default and the most a request may ask for.

use super::EnvironmentType;
use crate::error::FieldError;

/// The time-to-live rules of an installation: what an ephemeral request gets when it names
/// no time to live, and the most it may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    default_hours: u32,
    max_hours: u32,
}

impl TtlPolicy {
    /// The default time to live when the installation does not configure one: a day.
    pub const DEFAULT_HOURS: u32 = 24;
    /// The default maximum when the installation does not configure one: thirty days.
    pub const MAX_HOURS: u32 = 720;

    /// A policy granting `default_hours` unless asked otherwise, and at most `max_hours`.
    ///
    /// # Errors
    /// A message when the default is 0 or over the maximum.
    pub fn new(default_hours: u32, max_hours: u32) -> Result<Self, String> {
        if default_hours == 0 {
            return Err("the default time to live must be at least 1 hour".into());
        }
        if default_hours > max_hours {
            return Err(format!(
                "the default time to live ({default_hours} h) exceeds the maximum ({max_hours} h)"
            ));
        }
        Ok(Self {
            default_hours,
            max_hours,
        })
    }

    /// Hours an ephemeral request gets when it names none.
    pub fn default_hours(&self) -> u32 {
        self.default_hours
    }

    /// Most hours a request may ask for.
    pub fn max_hours(&self) -> u32 {
        self.max_hours
    }

    /// The time to live of a request of type `kind` asking for `hours`: the default for an
    /// ephemeral request that asks for none, nothing for a persistent one.
    ///
    /// # Errors
    /// A [`FieldError`] on `ttlHours` when an ephemeral request asks for less than 1 or more
    /// than the maximum, or a persistent one asks for any.
    pub fn ttl_hours(
        &self,
        kind: EnvironmentType,
        hours: Option<i64>,
    ) -> Result<Option<u32>, FieldError> {
        match (kind, hours) {
            (EnvironmentType::Persistent, None) => Ok(None),
            (EnvironmentType::Persistent, Some(_)) => Err(FieldError::new(
                "ttlHours",
                "persistent environments do not expire: omit ttlHours or request an ephemeral environment",
            )),
            (EnvironmentType::Ephemeral, None) => Ok(Some(self.default_hours)),
            (EnvironmentType::Ephemeral, Some(h)) if (1..=i64::from(self.max_hours)).contains(&h) => {
                Ok(Some(h as u32))
            }
            (EnvironmentType::Ephemeral, Some(_)) => Err(FieldError::new(
                "ttlHours",
                format!("must be between 1 and {} hours", self.max_hours),
            )),
        }
    }

    /// A time to live set on an environment directly, in minutes: at least 1, at most the
    /// maximum.
    ///
    /// # Errors
    /// A [`FieldError`] on `minutes`.
    pub fn minutes(&self, minutes: i64) -> Result<u32, FieldError> {
        let max = i64::from(self.max_hours) * 60;
        if (1..=max).contains(&minutes) {
            Ok(minutes as u32)
        } else {
            Err(FieldError::new(
                "minutes",
                format!("must be between 1 and {max} minutes"),
            ))
        }
    }
}

impl Default for TtlPolicy {
    fn default() -> Self {
        Self {
            default_hours: Self::DEFAULT_HOURS,
            max_hours: Self::MAX_HOURS,
        }
    }
}
