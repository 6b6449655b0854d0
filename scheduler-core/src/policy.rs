//! The tunable rules: slot length, lead time, hold time, window and page limits.

use chrono::TimeDelta;

use crate::error::{Error, Result};
use crate::grid::Grid;

/// The scheduler's rules, validated when built.
///
/// ```
/// use chrono::TimeDelta;
/// use scheduler_core::Policy;
///
/// let policy = Policy::builder().slot_length(TimeDelta::minutes(30)).build().unwrap();
/// assert_eq!(policy.min_lead(), TimeDelta::hours(24));
///
/// let err = Policy::builder().slot_length(TimeDelta::minutes(7)).build().unwrap_err();
/// assert_eq!(err.code(), "invalid_policy");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    grid: Grid,
    min_lead: TimeDelta,
    hold_ttl: TimeDelta,
    max_window: TimeDelta,
    max_horizon: TimeDelta,
    default_page: u32,
    max_page: u32,
}

impl Default for Policy {
    /// 15-minute slots, 24 h lead, 30 min holds, 31-day windows, a 365-day
    /// horizon, pages of 50 and at most 500.
    fn default() -> Self {
        PolicyBuilder::default()
            .build()
            .expect("the default policy is valid")
    }
}

impl Policy {
    /// A builder starting from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The slot grid.
    pub fn grid(&self) -> Grid {
        self.grid
    }

    /// The length of every slot.
    pub fn slot_length(&self) -> TimeDelta {
        self.grid.slot_length()
    }

    /// How long before a slot's start it may last be reserved.
    pub fn min_lead(&self) -> TimeDelta {
        self.min_lead
    }

    /// How long a hold lasts unless confirmed.
    pub fn hold_ttl(&self) -> TimeDelta {
        self.hold_ttl
    }

    /// The longest availability window accepted in one piece.
    pub fn max_window(&self) -> TimeDelta {
        self.max_window
    }

    /// How far after now an availability window may end.
    pub fn max_horizon(&self) -> TimeDelta {
        self.max_horizon
    }

    /// The page size of a listing that names none.
    pub fn default_page(&self) -> u32 {
        self.default_page
    }

    /// The largest page size a listing may ask for.
    pub fn max_page(&self) -> u32 {
        self.max_page
    }

    /// The page size for a request: the default when `None`, else `limit` if allowed.
    pub fn page_size(&self, limit: Option<u32>) -> Result<u32> {
        match limit {
            None => Ok(self.default_page),
            Some(limit) if (1..=self.max_page).contains(&limit) => Ok(limit),
            Some(limit) => Err(Error::InvalidLimit {
                limit,
                max: self.max_page,
            }),
        }
    }
}

/// Builds a [`Policy`]; every setting starts at its default.
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    slot_length: TimeDelta,
    min_lead: TimeDelta,
    hold_ttl: TimeDelta,
    max_window: TimeDelta,
    max_horizon: TimeDelta,
    default_page: u32,
    max_page: u32,
}

impl Default for PolicyBuilder {
    fn default() -> Self {
        Self {
            slot_length: TimeDelta::minutes(15),
            min_lead: TimeDelta::hours(24),
            hold_ttl: TimeDelta::minutes(30),
            max_window: TimeDelta::days(31),
            max_horizon: TimeDelta::days(365),
            default_page: 50,
            max_page: 500,
        }
    }
}

/// Longest duration any setting may take, so that instant arithmetic stays in range.
const LONGEST_SETTING: TimeDelta = TimeDelta::days(100 * 366);

fn check_duration(field: &'static str, value: TimeDelta, min: TimeDelta) -> Result<()> {
    if value < min || value > LONGEST_SETTING {
        return Err(Error::InvalidPolicy {
            field,
            rule: format!("must be between {min} and {LONGEST_SETTING}, got {value}"),
        });
    }
    Ok(())
}

impl PolicyBuilder {
    /// Slot length: a whole number of minutes that divides 24 hours.
    pub fn slot_length(mut self, value: TimeDelta) -> Self {
        self.slot_length = value;
        self
    }

    /// Minimum lead between reserving and the slot's start (zero or more).
    pub fn min_lead(mut self, value: TimeDelta) -> Self {
        self.min_lead = value;
        self
    }

    /// How long a hold lasts (at least one second).
    pub fn hold_ttl(mut self, value: TimeDelta) -> Self {
        self.hold_ttl = value;
        self
    }

    /// Longest availability window (at least one slot).
    pub fn max_window(mut self, value: TimeDelta) -> Self {
        self.max_window = value;
        self
    }

    /// How far ahead availability may reach (at least one slot).
    pub fn max_horizon(mut self, value: TimeDelta) -> Self {
        self.max_horizon = value;
        self
    }

    /// Default page size (1 to `max_page`).
    pub fn default_page(mut self, value: u32) -> Self {
        self.default_page = value;
        self
    }

    /// Largest page size (at least 1).
    pub fn max_page(mut self, value: u32) -> Self {
        self.max_page = value;
        self
    }

    /// Checks every setting and returns the policy, or the first setting at fault.
    pub fn build(self) -> Result<Policy> {
        let grid = Grid::new(self.slot_length)?;
        let slot = grid.slot_length();
        check_duration("min_lead", self.min_lead, TimeDelta::zero())?;
        check_duration("hold_ttl", self.hold_ttl, TimeDelta::seconds(1))?;
        check_duration("max_window", self.max_window, slot)?;
        check_duration("max_horizon", self.max_horizon, slot)?;
        if self.max_page == 0 {
            return Err(Error::InvalidPolicy {
                field: "max_page",
                rule: "must be at least 1".into(),
            });
        }
        if !(1..=self.max_page).contains(&self.default_page) {
            return Err(Error::InvalidPolicy {
                field: "default_page",
                rule: format!(
                    "must be between 1 and max_page ({}), got {}",
                    self.max_page, self.default_page
                ),
            });
        }
        Ok(Policy {
            grid,
            min_lead: self.min_lead,
            hold_ttl: self.hold_ttl,
            max_window: self.max_window,
            max_horizon: self.max_horizon,
            default_page: self.default_page,
            max_page: self.max_page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: Error) -> &'static str {
        match err {
            Error::InvalidPolicy { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_design() {
        let p = Policy::default();
        assert_eq!(p.slot_length(), TimeDelta::minutes(15));
        assert_eq!(p.min_lead(), TimeDelta::hours(24));
        assert_eq!(p.hold_ttl(), TimeDelta::minutes(30));
        assert_eq!(p.max_window(), TimeDelta::days(31));
        assert_eq!(p.max_horizon(), TimeDelta::days(365));
        assert_eq!((p.default_page(), p.max_page()), (50, 500));
    }

    #[test]
    fn every_invalid_setting_is_an_error_naming_it() {
        let b = Policy::builder;
        assert_eq!(
            field_of(b().slot_length(TimeDelta::minutes(7)).build().unwrap_err()),
            "slot_length"
        );
        assert_eq!(
            field_of(b().slot_length(TimeDelta::seconds(90)).build().unwrap_err()),
            "slot_length"
        );
        assert_eq!(
            field_of(b().slot_length(TimeDelta::zero()).build().unwrap_err()),
            "slot_length"
        );
        assert_eq!(
            field_of(b().min_lead(TimeDelta::seconds(-1)).build().unwrap_err()),
            "min_lead"
        );
        assert_eq!(
            field_of(b().hold_ttl(TimeDelta::zero()).build().unwrap_err()),
            "hold_ttl"
        );
        assert_eq!(
            field_of(b().max_window(TimeDelta::minutes(14)).build().unwrap_err()),
            "max_window"
        );
        assert_eq!(
            field_of(
                b().max_horizon(TimeDelta::days(40_000))
                    .build()
                    .unwrap_err()
            ),
            "max_horizon"
        );
        assert_eq!(field_of(b().max_page(0).build().unwrap_err()), "max_page");
        assert_eq!(
            field_of(b().default_page(501).build().unwrap_err()),
            "default_page"
        );
        assert_eq!(
            field_of(b().default_page(0).build().unwrap_err()),
            "default_page"
        );
    }

    #[test]
    fn accepts_the_edges() {
        assert!(
            Policy::builder()
                .slot_length(TimeDelta::hours(24))
                .max_window(TimeDelta::hours(24))
                .build()
                .is_ok()
        );
        assert!(
            Policy::builder()
                .slot_length(TimeDelta::minutes(1))
                .build()
                .is_ok()
        );
        assert!(
            Policy::builder()
                .min_lead(TimeDelta::zero())
                .build()
                .is_ok()
        );
        assert!(Policy::builder().default_page(500).build().is_ok());
    }

    #[test]
    fn page_size_boundaries() {
        let p = Policy::default();
        assert_eq!(p.page_size(None).unwrap(), 50);
        assert_eq!(p.page_size(Some(500)).unwrap(), 500);
        assert_eq!(p.page_size(Some(1)).unwrap(), 1);
        assert!(matches!(
            p.page_size(Some(501)),
            Err(Error::InvalidLimit {
                limit: 501,
                max: 500
            })
        ));
        assert!(matches!(
            p.page_size(Some(0)),
            Err(Error::InvalidLimit { limit: 0, .. })
        ));
    }
}
