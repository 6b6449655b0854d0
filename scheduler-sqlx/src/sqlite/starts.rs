//! Slot starts as SQLite hands them back: epoch seconds in rows, or joined
//! into one text by `group_concat`.

use chrono::{DateTime, Utc};
use scheduler_core::{Error, Result};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::row::{from_seconds, storage};

/// The slot starts in `rows`' first column, ascending whatever order SQLite
/// returned them in (`RETURNING` promises none).
pub(super) fn of_rows(rows: &[SqliteRow]) -> Result<Vec<DateTime<Utc>>> {
    let mut seconds = rows
        .iter()
        .map(|row| row.try_get::<i64, _>(0).map_err(storage))
        .collect::<Result<Vec<_>>>()?;
    seconds.sort_unstable();
    seconds.into_iter().map(from_seconds).collect()
}

/// The slot starts in `joined`, epoch seconds separated by commas (SQLite's
/// `group_concat`), ascending whatever order they were joined in.
pub(super) fn joined(joined: &str) -> Result<Vec<DateTime<Utc>>> {
    let mut seconds = joined
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<i64>()
                .map_err(|_| Error::storage(format!("corrupt slot start {part:?} in a listing")))
        })
        .collect::<Result<Vec<_>>>()?;
    seconds.sort_unstable();
    seconds.into_iter().map(from_seconds).collect()
}
