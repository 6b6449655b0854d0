//! Calendar versions, the same on every database: the statements that read
//! one, take one at the start of a write transaction, and bump it when the
//! write changed the calendar. SQLite reads `$n` as PostgreSQL does, so the
//! text is shared; only the locking it leans on differs, as noted.

/// Creates the row at version 0 if missing and returns the version. On
/// PostgreSQL the no-op update takes the row lock until the transaction
/// ends, so two writes to one calendar run one after the other; on SQLite
/// the write transaction already holds the database's lock (`BEGIN
/// IMMEDIATE`), and the upsert makes it the transaction's first write.
pub(crate) const LOCK: &str = "
    INSERT INTO calendars (provider_id, version) VALUES ($1, 0)
    ON CONFLICT (provider_id) DO UPDATE SET version = calendars.version
    RETURNING version";

/// Counts a write that changed the calendar; returns the new version. Runs
/// after [`LOCK`] in the same transaction, so the row exists.
pub(crate) const BUMP: &str =
    "UPDATE calendars SET version = version + 1 WHERE provider_id = $1 RETURNING version";

/// The version, no row before the calendar's first write.
pub(crate) const CURRENT: &str = "SELECT version FROM calendars WHERE provider_id = $1";

/// Defines, for the connection type `$conn`, `read_version(conn, statement,
/// provider)`, which runs one of the statements above for `provider` (0 when
/// it returns no row, as [`CURRENT`] does for a calendar never written), and
/// `version_after`, which bumps the version when a write changed the calendar. A
/// macro, not a generic function: a future generic over the database's
/// executor cannot be shown `Send` for every lifetime, as the store traits
/// need.
macro_rules! version_reads {
    ($conn:ty) => {
        /// Runs `statement`, one of [`crate::versions`]'s, for `provider`.
        async fn read_version(
            conn: &mut $conn,
            statement: &'static str,
            provider: &scheduler_core::ProviderId,
        ) -> scheduler_core::Result<u64> {
            let stored: Option<i64> = sqlx::query_scalar(statement)
                .bind(provider.as_str())
                .fetch_optional(conn)
                .await
                .map_err($crate::row::storage)?;
            $crate::row::version(stored.unwrap_or(0))
        }

        /// The calendar's version after a write in the transaction on
        /// `conn` that found it at `current`: bumped if the write `changed`
        /// the calendar, else as it was.
        async fn version_after(
            conn: &mut $conn,
            provider: &scheduler_core::ProviderId,
            current: u64,
            changed: bool,
        ) -> scheduler_core::Result<u64> {
            if changed {
                read_version(conn, $crate::versions::BUMP, provider).await
            } else {
                Ok(current)
            }
        }
    };
}
pub(crate) use version_reads;
