//! The background expiry sweeper (feature `tokio`).
//!
//! Correctness never depends on it: a due hold already reads as expired. It
//! only keeps storage tidy, so a failed sweep is logged and the next tick tries again.

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
    /// Holds expired per store call; a sweep repeats calls until one comes back short.
    pub batch: usize,
}

impl Default for SweeperConfig {
    /// A sweep every 30 seconds, 1,000 holds per call.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            batch: 1000,
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
}

/// Spawns a task that sweeps due holds every `config.interval` until `shutdown`
/// completes, then returns what it did. The first sweep runs at once.
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
                _ = ticks.tick() => sweep_once(&scheduler, config.batch, &mut report).await,
            }
        }
        tracing::debug!(?report, "expiry sweeper stopped");
        report
    })
}

async fn sweep_once<S: Store, C: Clock>(
    scheduler: &Scheduler<S, C>,
    batch: usize,
    report: &mut SweepReport,
) {
    report.sweeps += 1;
    let batch = batch.max(1);
    loop {
        match scheduler.expire_due(batch).await {
            Ok(expired) => {
                report.expired += expired;
                if expired < batch as u64 {
                    return;
                }
            }
            Err(error) => {
                report.failures += 1;
                tracing::warn!(%error, "expiry sweep failed; retrying at the next tick");
                return;
            }
        }
    }
}
