//! Skip/take paging shared by every list.

use crate::error::FieldError;

/// A validated window into a list: `skip` rows skipped, at most `take` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    skip: u32,
    take: u32,
}

impl Page {
    /// Rows returned when the client does not say.
    pub const DEFAULT_TAKE: u32 = 20;
    /// The most rows one page may hold.
    pub const MAX_TAKE: u32 = 100;

    /// Parses client-supplied values, applying the defaults (0 and 20).
    ///
    /// # Errors
    /// `take` of 0 or over [`Page::MAX_TAKE`], or a negative value.
    pub fn parse(skip: Option<i64>, take: Option<i64>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let skip = match skip {
            None => 0,
            Some(s) if (0..=i64::from(u32::MAX)).contains(&s) => s as u32,
            Some(_) => {
                errors.push(FieldError::new(
                    "skip",
                    "must be a whole number of 0 or more",
                ));
                0
            }
        };
        let take = match take {
            None => Self::DEFAULT_TAKE,
            Some(t) if (1..=i64::from(Self::MAX_TAKE)).contains(&t) => t as u32,
            Some(_) => {
                errors.push(FieldError::new(
                    "take",
                    format!("must be between 1 and {}", Self::MAX_TAKE),
                ));
                Self::DEFAULT_TAKE
            }
        };
        if errors.is_empty() {
            Ok(Self { skip, take })
        } else {
            Err(errors)
        }
    }

    /// Rows to skip.
    pub fn skip(&self) -> u32 {
        self.skip
    }

    /// Most rows to return.
    pub fn take(&self) -> u32 {
        self.take
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            skip: 0,
            take: Self::DEFAULT_TAKE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_skip_zero_take_twenty() {
        let page = Page::parse(None, None).unwrap();
        assert_eq!((page.skip(), page.take()), (0, 20));
    }

    #[test]
    fn take_over_one_hundred_is_refused_naming_take() {
        let errors = Page::parse(None, Some(101)).unwrap_err();
        assert_eq!(errors[0].field, "take");
        assert!(Page::parse(None, Some(100)).is_ok());
    }

    #[test]
    fn negative_skip_and_zero_take_are_both_named() {
        let errors = Page::parse(Some(-1), Some(0)).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["skip", "take"]);
    }
}
