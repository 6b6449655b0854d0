//! Group commit: holds that arrive together share one write transaction.
//!
//! A hold is one short statement; most of its cost is the transaction around
//! it: taking the writer connection, `BEGIN IMMEDIATE`, and the commit that
//! appends to the WAL. A writer task takes every hold waiting when it is free
//! and runs them in one transaction, in arrival order, each at its own `now`
//! and with its own statements, so they share one commit. The statements of
//! up to 32 holds go to the connection's worker thread as one query
//! ([`hold::hold_all`]), so the batch also shares the hand-overs to that
//! thread, which cost more than the statements themselves. SQLite runs write
//! transactions one at a time anyway, so this is the same as running them one
//! after another, and each caller is answered only after the commit: a hold
//! reported taken is stored.
//!
//! That equivalence needs every hold of the batch to succeed. When one fails,
//! or the commit does, the batch is rolled back whole and each of its holds
//! runs again alone, in its own transaction, exactly as it would have without
//! grouping: every caller gets its own outcome, or its own error. When the
//! transaction cannot even begin (the database is locked past the busy
//! timeout, the pool is closed), every caller of the batch gets that error
//! at once rather than one timeout after another.
//!
//! A caller that leaves (its request timed out, its client hung up) before
//! its hold runs gets no hold; once its hold has run inside a batch, the hold
//! commits with the batch, as a lone hold does once its statement has run.

use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest};
use scheduler_core::{Claim, Error, IdempotencyKey, Reservation, Result};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::hold;
use crate::row::storage;
use crate::sqlite::BEGIN_IMMEDIATE;

/// The most holds one transaction takes: enough to share a commit among many
/// callers, few enough that none waits long behind the rest.
pub(super) const MAX_BATCH: usize = 64;

/// The queue of holds waiting for the writer, and the task that runs them.
pub(crate) struct HoldQueue {
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
    claim: Claim,
    key: Option<IdempotencyKey>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<HoldOutcome>>,
}

impl Job {
    fn request(&self) -> HoldRequest<'_> {
        HoldRequest {
            reservation: &self.reservation,
            claim: self.claim,
            key: self.key.as_ref(),
        }
    }
}

impl HoldQueue {
    /// A queue whose holds write through `writer`.
    pub(crate) fn new(writer: SqlitePool) -> Self {
        Self {
            writer,
            jobs: OnceLock::new(),
        }
    }

    /// Takes the hold in the next batch and returns its outcome once that
    /// batch is committed.
    pub(crate) async fn hold(
        &self,
        request: HoldRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<HoldOutcome> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            reservation: request.reservation.clone(),
            claim: request.claim,
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

/// Runs `batch` in one transaction and answers each caller; when a hold or
/// the commit fails, runs each hold alone instead.
pub(super) async fn run_batch(writer: &SqlitePool, mut batch: Vec<Job>) {
    // A caller that is gone (its request timed out, its client hung up)
    // waits for no answer, so its hold is not taken.
    batch.retain(|job| !job.reply.is_closed());
    if let [job] = batch.as_slice() {
        let outcome = hold::hold(writer, job.request(), job.now).await;
        answer(batch, vec![Some(outcome)]);
        return;
    }
    if batch.is_empty() {
        return;
    }
    let outcomes = match together(writer, &batch).await {
        Ok(outcomes) => outcomes.into_iter().map(|o| o.map(Ok)).collect(),
        Err(Failure::Begin(err)) => {
            // Nothing ran: the writer could not even start. Alone, each hold
            // would meet the same wall, one busy timeout after another.
            tracing::warn!(error = %err, holds = batch.len(), "SQLite hold batch could not begin");
            let message = format!("cannot begin the write transaction: {err}");
            batch
                .iter()
                .map(|_| Some(Err(Error::storage(message.clone()))))
                .collect()
        }
        Err(Failure::Batch(err)) => {
            // Nothing of the batch is stored: its transaction rolled back.
            tracing::warn!(error = %err, holds = batch.len(), "SQLite hold batch rolled back; holding one at a time");
            let mut alone = Vec::with_capacity(batch.len());
            for job in &batch {
                // Checked again before each: a hold alone may wait its turn.
                alone.push(match job.reply.is_closed() {
                    true => None,
                    false => Some(hold::hold(writer, job.request(), job.now).await),
                });
            }
            alone
        }
    };
    answer(batch, outcomes);
}

/// Why a batch stored nothing.
enum Failure {
    /// `BEGIN IMMEDIATE` failed: no hold ran.
    Begin(Error),
    /// A hold or the commit failed: the transaction rolled back.
    Batch(Error),
}

/// Every hold of `batch` in one IMMEDIATE transaction, committed; on the
/// first error the transaction is dropped, which rolls it back. The holds go
/// to the connection many to a query ([`hold::hold_all`]); a hold whose
/// caller left while earlier queries ran is skipped (`None`).
async fn together(
    writer: &SqlitePool,
    batch: &[Job],
) -> std::result::Result<Vec<Option<HoldOutcome>>, Failure> {
    let mut tx = writer
        .begin_with(BEGIN_IMMEDIATE)
        .await
        .map_err(|err| Failure::Begin(storage(err)))?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for chunk in batch.chunks(hold::MAX_PER_QUERY) {
        let waiting: Vec<bool> = chunk.iter().map(|job| !job.reply.is_closed()).collect();
        let holds: Vec<_> = (chunk.iter().zip(&waiting))
            .filter(|&(_, &waiting)| waiting)
            .map(|(job, _)| (job.request(), job.now))
            .collect();
        let mut held = hold::hold_all(&mut tx, &holds)
            .await
            .map_err(Failure::Batch)?
            .into_iter();
        outcomes.extend((waiting.iter()).map(|&waiting| if waiting { held.next() } else { None }));
    }
    tx.commit()
        .await
        .map_err(|err| Failure::Batch(storage(err)))?;
    Ok(outcomes)
}

/// Answers each caller that has an outcome; `None` marks a caller that left
/// before its hold ran.
fn answer(batch: Vec<Job>, outcomes: Vec<Option<Result<HoldOutcome>>>) {
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        if let Some(outcome) = outcome {
            // A caller that left after its hold ran misses its answer; the hold stands.
            let _ = job.reply.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests;
