//! [`ScheduleStore`]: each provider's weekly schedule, kept as text beside
//! the calendar it publishes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CalendarWrite;
use crate::error::Result;
use crate::ids::ProviderId;

/// A provider's weekly schedule as a store keeps it: the schedule's JSON text,
/// and how far its slots have been published.
///
/// Stores keep the text exactly as given and never parse it, so they need no
/// time-zone support; the scheduler (feature `tz`) reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    /// The schedule as JSON, byte for byte as it was put.
    pub json: String,
    /// The schedule's slots are published for every slot ending by this instant.
    pub through: DateTime<Utc>,
}

/// Stored weekly schedules, tied to their provider's calendar version.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// In one atomic step: if `provider`'s calendar is not at `version` (the
    /// version the schedule's slots were published at), changes nothing and
    /// reports the current version; otherwise stores `json` as the provider's
    /// schedule with `through`, replacing any schedule stored before, and
    /// bumps the version if the text differs from the one stored (or none
    /// was). The outcome's version is the calendar's after the write.
    ///
    /// The version check ties the schedule to its slots: a schedule is never
    /// stored beside slots that another write published after them.
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>>;

    /// `provider`'s stored schedule, if any.
    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>>;

    /// Removes `provider`'s schedule, bumping the calendar version if there
    /// was one; returns whether there was. Slots stay as they are.
    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool>;

    /// Up to `limit` stored schedules whose `through` is strictly before
    /// `before`, ordered by `through` and then provider id (oldest first):
    /// those the rolling horizon has left behind.
    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>>;

    /// In one atomic step: if `provider`'s schedule is stored with `through`
    /// equal to `from`, sets it to `to` and returns `true`; otherwise (another
    /// process moved it, the schedule was replaced or deleted) changes nothing
    /// and returns `false`. The text and the calendar version are untouched.
    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool>;
}
