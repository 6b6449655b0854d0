//! The background sweeper (feature `tokio`): it expires due holds and, with
//! the `tz` feature, rolls stored weekly schedules forward.
//!
//! Correctness never depends on the expiry part: a due hold already reads as
//! expired. It only keeps storage tidy, so a failed sweep is logged and the
//! next tick tries again. The rolling part keeps scheduled providers' slots
//! reaching the horizon; without `tz` the sweeper cannot read a schedule and
//! leaves them alone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::clock::Clock;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// How often and how much the sweeper tidies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweeperConfig {
    /// Time between sweeps.
    pub interval: Duration,
    /// Holds expired per store call; a sweep repeats calls until one comes
    /// back short. Also the most schedules one sweep rolls forward.
    pub batch: usize,
    /// How far a stored schedule's slots may fall short of the horizon before
    /// a sweep rolls it forward (feature `tz`): smaller keeps the calendar
    /// closer to the horizon, larger writes less often.
    pub schedule_margin: Duration,
}

impl Default for SweeperConfig {
    /// A sweep every 30 seconds, 1,000 holds per call; schedules rolled
    /// forward once they fall an hour short of the horizon.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            batch: 1000,
            schedule_margin: Duration::from_secs(60 * 60),
        }
    }
}

/// What a sweeper did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Sweeps run, failed ones included.
    pub sweeps: u64,
    /// Sweeps that failed.
    pub failures: u64,
    /// Holds marked expired.
    pub expired: u64,
    /// Stored schedules rolled forward to the horizon (feature `tz`; always
    /// 0 without it).
    pub extended: u64,
}

/// Spawns a task that sweeps every `config.interval` until `shutdown`
/// completes, then returns what it did. The first sweep runs at once.
///
/// Each sweep marks due holds expired and, with the `tz` feature, runs
/// [`Scheduler::extend_due_schedules`] with `config.schedule_margin`. A sweep
/// with any failure counts once in [`SweepReport::failures`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use scheduler_core::{spawn_sweeper, Policy, Scheduler, SweeperConfig, SystemClock};
/// use scheduler_memory::MemoryStore;
///
/// let scheduler = Arc::new(Scheduler::new(MemoryStore::default(), SystemClock, Policy::default()));
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let sweeper = spawn_sweeper(scheduler, SweeperConfig::default(), async { stopped.await.ok(); });
/// stop.send(()).unwrap();
/// let report = sweeper.await.unwrap();
/// assert!(report.sweeps <= 1);
/// # });
/// ```
pub fn spawn_sweeper<S, C, F>(
    scheduler: Arc<Scheduler<S, C>>,
    config: SweeperConfig,
    shutdown: F,
) -> JoinHandle<SweepReport>
where
    S: Store + 'static,
    C: Clock + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut report = SweepReport::default();
        let mut ticks = tokio::time::interval(config.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = ticks.tick() => sweep_once(&scheduler, &config, &mut report).await,
            }
        }
        tracing::debug!(?report, "expiry sweeper stopped");
        report
    })
}

async fn sweep_once<S: Store, C: Clock>(
    scheduler: &Scheduler<S, C>,
    config: &SweeperConfig,
    report: &mut SweepReport,
) {
    report.sweeps += 1;
    let expired = expire(scheduler, config.batch.max(1), report).await;
    let extended = extend(scheduler, config, report).await;
    if !(expired && extended) {
        report.failures += 1;
    }
}

/// Expires due holds, batch after batch; `false` if a store call failed.
async fn expire<S: Store, C: Clock>(
    scheduler: &Scheduler<S, C>,
    batch: usize,
    report: &mut SweepReport,
) -> bool {
    loop {
        match scheduler.expire_due(batch).await {
            Ok(expired) => {
                report.expired += expired;
                if expired < batch as u64 {
                    return true;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "expiry sweep failed; retrying at the next tick");
                return false;
            }
        }
    }
}

/// Rolls due schedules forward, one batch per sweep (a schedule another
/// process is rolling would otherwise be met again and again); `false` if
/// anything failed.
#[cfg(feature = "tz")]
async fn extend<S: Store, C: Clock>(
    scheduler: &Scheduler<S, C>,
    config: &SweeperConfig,
    report: &mut SweepReport,
) -> bool {
    let margin =
        chrono::TimeDelta::from_std(config.schedule_margin).unwrap_or(chrono::TimeDelta::MAX);
    match scheduler
        .extend_due_schedules(margin, config.batch.max(1))
        .await
    {
        Ok(done) => {
            report.extended += done.extended;
            for (provider, error) in &done.failures {
                tracing::warn!(%provider, %error, "rolling a schedule forward failed; retrying at the next tick");
            }
            done.failures.is_empty()
        }
        Err(error) => {
            tracing::warn!(%error, "listing the schedules due failed; retrying at the next tick");
            false
        }
    }
}

/// Without `tz` a stored schedule cannot be read, so there is nothing to roll.
#[cfg(not(feature = "tz"))]
async fn extend<S: Store, C: Clock>(
    _: &Scheduler<S, C>,
    _: &SweeperConfig,
    _: &mut SweepReport,
) -> bool {
    true
}
