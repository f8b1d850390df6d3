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

    /// The first page of this size.
    pub fn first(&self) -> Page {
        Page {
            skip: 0,
            take: self.take,
        }
    }

    /// The page of this size before this one, `None` on the first page. A page past the
    /// end of `total` rows has the last page before it, not another empty one.
    pub fn previous(&self, total: u64) -> Option<Page> {
        if self.skip == 0 {
            return None;
        }
        let last = self.last(total);
        if self.skip > last.skip {
            return Some(last);
        }
        Some(Page {
            skip: self.skip.saturating_sub(self.take),
            take: self.take,
        })
    }

    /// The page of this size after this one, when some of `total` rows come after it.
    pub fn next(&self, total: u64) -> Option<Page> {
        let end = u64::from(self.skip) + u64::from(self.take);
        if end >= total {
            return None;
        }
        Some(Page {
            skip: u32::try_from(end).ok()?,
            take: self.take,
        })
    }

    /// The last page of this size over `total` rows: the one walking [`Page::next`] from
    /// [`Page::first`] ends on (the first page when there are no rows).
    pub fn last(&self, total: u64) -> Page {
        let take = u64::from(self.take);
        let skip = total.saturating_sub(1) / take * take;
        Page {
            skip: u32::try_from(skip).unwrap_or(u32::MAX / self.take * self.take),
            take: self.take,
        }
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

    fn page(skip: i64, take: i64) -> Page {
        Page::parse(Some(skip), Some(take)).unwrap()
    }

    fn at(page: Option<Page>) -> Option<u32> {
        page.map(|p| p.skip())
    }

    #[test]
    fn walking_next_from_the_first_page_ends_on_the_last() {
        for total in 0..50u64 {
            for take in 1..7 {
                let mut current = page(17, take).first();
                let mut seen = 0;
                while let Some(next) = current.next(total) {
                    assert_eq!(next.previous(total), Some(current), "{total}/{take}");
                    current = next;
                    seen += 1;
                    assert!(seen <= total, "{total}/{take}: next never ends");
                }
                assert_eq!(current, current.last(total), "{total}/{take}");
                assert_eq!(current.take(), take as u32);
            }
        }
    }

    #[test]
    fn neighbours_of_a_page() {
        let third = page(40, 20);
        assert_eq!(third.first(), page(0, 20));
        assert_eq!(at(third.previous(45)), Some(20));
        assert_eq!(at(third.next(45)), None);
        assert_eq!(at(third.next(61)), Some(60));
        assert_eq!(third.last(45).skip(), 40);
        assert_eq!(third.last(0).skip(), 0);
        assert_eq!(third.last(40).skip(), 20);
        assert_eq!(at(page(0, 20).previous(45)), None);
        // Off the grid of `take`: the page before never starts before the first row.
        assert_eq!(at(page(5, 20).previous(45)), Some(0));
        assert_eq!(at(page(5, 20).next(45)), Some(25));
        // Past the end: the page before is the last one.
        assert_eq!(at(page(500, 20).previous(45)), Some(40));
        assert_eq!(at(page(500, 20).next(45)), None);
    }

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
