//! SQL storage for [`scheduler_core`]: `SqliteStore` (feature `sqlite`, the
//! default) and `PostgresStore` (feature `postgres`).
//!
//! Both keep the same schema shape, one migration folder per database
//! (`migrations/sqlite`, `migrations/postgres`):
//!
//! - `slots`: one row per provider and start, the start as epoch seconds;
//!   the primary key `(provider_id, start_s)` makes a slot unique by its start.
//! - `reservations`: one row per reservation, its instants as epoch
//!   microseconds, with its service and buffers. A unique index on
//!   `(client_id, idempotency_key)` binds each key to one reservation.
//! - `claims`: one row per grid cell a live reservation blocks (its
//!   appointment and buffers), keyed by `(provider_id, cell_s)`, so the
//!   database itself refuses two live reservations that would block a common
//!   cell, whatever the caller does.
//! - `services`: one row per provider and service.
//!
//! Every statement takes `now` as a bind parameter; no SQL reads the
//! database's clock. Confirmations and sweeps are single conditional
//! statements that change the claims with the status; a hold is one
//! conditional statement on PostgreSQL and a short `IMMEDIATE` transaction on
//! SQLite, and a reschedule a transaction on both. The claims' primary key
//! backs them all, so many processes can share one database. Each provider's calendar carries a
//! version (table `calendars`) that availability writes compare and bump, for
//! `If-Match` on those writes.
//!
//! # Layout
//!
//! Both databases have the same module map: `calendar`, `reservations`,
//! `schedules` and `services` each implement the store trait of that name
//! beside its statements (`reservations/hold`, `reservations/lifecycle` and
//! `reservations/reschedule` hold the hold, the moves after it and the
//! move to another start). What is the same on both is written once at
//! the crate's root, as `concat!` literals with `$n` parameters (SQLite reads
//! them as PostgreSQL does): `versions` (calendar versions), `schedules`
//! (the schedule statements and steps), `services` (the service statements
//! and the one `ServiceStore` implementation), `reservations` (reads by id
//! and key) and `row` (the reservation row and the conversions of stored
//! values).
//! What only one database has stays with it: PostgreSQL's connection cache
//! (`postgres/conns`), SQLite's pools (`sqlite/connect`), group commit
//! (`sqlite/reservations/group_commit`) and slot starts read from
//! `group_concat` (`sqlite/starts`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Every column of a reservation row, in the order [`row::ReservationRow`]
/// names them, as a literal: statements are built with `concat!`, so each is
/// one `&'static str` (sqlx takes no other SQL without an audit wrapper).
macro_rules! reservation_columns {
    () => {
        "id, provider_id, client_id, service_id, start_s, end_s, buffer_before_s, buffer_after_s, \
         status, created_us, expires_us, confirmed_us"
    };
}

#[cfg(feature = "postgres")]
mod postgres;
mod reservations;
mod row;
mod schedules;
mod services;
#[cfg(feature = "sqlite")]
mod sqlite;
mod versions;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

// Compiles the README's Rust snippets as doctests, so they cannot drift from the API.
#[cfg(all(doctest, feature = "sqlite", feature = "postgres"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
