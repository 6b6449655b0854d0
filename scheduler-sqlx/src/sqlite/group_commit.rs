//! Group commit: holds that arrive together share one write transaction.
//!
//! A hold is one short statement; most of its cost is the transaction around
//! it: taking the writer connection, `BEGIN IMMEDIATE`, and the commit that
//! appends to the WAL. A writer task takes every hold waiting when it is free
//! and runs them in one transaction, in arrival order, each at its own `now`
//! and with its own statements, so they share one commit. SQLite runs write
//! transactions one at a time anyway, so this is the same as running them one
//! after another, and each caller is answered only after the commit: a hold
//! reported taken is stored.
//!
//! That equivalence needs every hold of the batch to succeed. When one fails,
//! or the commit does, the batch is rolled back whole and each of its holds
//! runs again alone, in its own transaction, exactly as it would have without
//! grouping: every caller gets its own outcome, or its own error.

use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest};
use scheduler_core::{Error, IdempotencyKey, Reservation, Result, SlotStart};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::{BEGIN_IMMEDIATE, hold};
use crate::row::storage;

/// The most holds one transaction takes: enough to share a commit among many
/// callers, few enough that none waits long behind the rest.
pub(super) const MAX_BATCH: usize = 64;

/// The queue of holds waiting for the writer, and the task that runs them.
pub(super) struct HoldQueue {
    writer: SqlitePool,
    /// Started by the first hold, on the runtime it runs on: building a store
    /// needs no runtime, and a task can only be spawned inside one.
    jobs: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl fmt::Debug for HoldQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoldQueue")
            .field("started", &self.jobs.get().is_some())
            .finish_non_exhaustive()
    }
}

/// One caller's hold, owned so that it can wait in the queue.
pub(super) struct Job {
    reservation: Reservation,
    slot: SlotStart,
    key: Option<IdempotencyKey>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<HoldOutcome>>,
}

impl Job {
    fn request(&self) -> HoldRequest<'_> {
        HoldRequest {
            reservation: &self.reservation,
            slot: self.slot,
            key: self.key.as_ref(),
        }
    }
}

impl HoldQueue {
    /// A queue whose holds write through `writer`.
    pub(super) fn new(writer: SqlitePool) -> Self {
        Self {
            writer,
            jobs: OnceLock::new(),
        }
    }

    /// Takes the hold in the next batch and returns its outcome once that
    /// batch is committed.
    pub(super) async fn hold(
        &self,
        request: HoldRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<HoldOutcome> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            reservation: request.reservation.clone(),
            slot: request.slot,
            key: request.key.cloned(),
            now,
            reply,
        };
        let jobs = self.jobs.get_or_init(|| spawn_writer(self.writer.clone()));
        if let Err(mpsc::error::SendError(job)) = jobs.send(job) {
            // The task is gone with the runtime it ran on: hold alone.
            return hold::hold(&self.writer, job.request(), job.now).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(Error::storage(
                "the SQLite writer task stopped before answering; the hold may not be stored",
            ))
        })
    }
}

/// Starts the task that runs queued holds in batches, until every sender is gone.
fn spawn_writer(writer: SqlitePool) -> mpsc::UnboundedSender<Job> {
    let (sender, mut jobs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // Waits for one hold, then takes every other one already waiting.
        while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
            run_batch(&writer, std::mem::take(&mut batch)).await;
            batch.reserve(MAX_BATCH);
        }
    });
    sender
}

/// Runs `batch` in one transaction and answers each caller; on any failure,
/// runs each hold alone instead.
pub(super) async fn run_batch(writer: &SqlitePool, mut batch: Vec<Job>) {
    // A caller that is gone (its request timed out, its client hung up)
    // waits for no answer, so its hold is not taken.
    batch.retain(|job| !job.reply.is_closed());
    if let [job] = batch.as_slice() {
        let outcome = hold::hold(writer, job.request(), job.now).await;
        answer(batch, vec![outcome]);
        return;
    }
    if batch.is_empty() {
        return;
    }
    let outcomes = match together(writer, &batch).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(_) => {
            // Nothing of the batch is stored: its transaction rolled back.
            let mut alone = Vec::with_capacity(batch.len());
            for job in &batch {
                alone.push(hold::hold(writer, job.request(), job.now).await);
            }
            alone
        }
    };
    answer(batch, outcomes);
}

/// Every hold of `batch` in one IMMEDIATE transaction, committed; on the
/// first error the transaction is dropped, which rolls it back.
async fn together(writer: &SqlitePool, batch: &[Job]) -> Result<Vec<HoldOutcome>> {
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        outcomes.push(hold::hold_in(&mut tx, job.request(), job.now).await?);
    }
    tx.commit().await.map_err(storage)?;
    Ok(outcomes)
}

fn answer(batch: Vec<Job>, outcomes: Vec<Result<HoldOutcome>>) {
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        // A caller that left meanwhile misses its answer; the hold stands.
        let _ = job.reply.send(outcome);
    }
}

#[cfg(test)]
mod tests;
