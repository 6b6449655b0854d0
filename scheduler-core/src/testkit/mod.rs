//! The backend conformance suite (feature `testkit`).
//!
//! A storage backend passes when its tests call [`run_conformance`] with a
//! factory of fresh stores and it returns. Every case drives a [`Scheduler`](crate::Scheduler)
//! with a [`ManualClock`](crate::ManualClock), so rules are checked at their exact boundaries
//! without sleeping.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use scheduler_memory::MemoryStore;
//! scheduler_core::testkit::run_conformance(|| async { MemoryStore::new() }).await;
//! # });
//! ```

mod cases;
mod harness;

use std::future::Future;
use std::pin::Pin;

pub use harness::Harness;

use crate::store::Store;

/// A boxed future of one conformance case.
pub type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One named conformance case.
pub struct Case<S: Store + 'static> {
    /// `group::case`, for reports.
    pub name: &'static str,
    /// Runs the case; it panics on a failed expectation.
    pub run: fn(Harness<S>) -> CaseFuture,
}

impl<S: Store + 'static> std::fmt::Debug for Case<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// Every case of the suite.
pub fn cases<S: Store + 'static>() -> Vec<Case<S>> {
    cases::all()
}

/// Runs every case, each against a fresh store from `factory`, and panics
/// with the list of failed cases if any failed.
///
/// Cases run one after another (a case may itself spawn many tasks); each runs
/// in its own task so that one failure does not hide the others. Call it from
/// a multi-threaded Tokio runtime so the concurrency cases are truly parallel.
pub async fn run_conformance<S, F, Fut>(factory: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let cases = cases::<S>();
    let total = cases.len();
    let mut failed = Vec::new();
    for case in cases {
        let harness = Harness::new(factory().await);
        match tokio::spawn((case.run)(harness)).await {
            Ok(()) => eprintln!("conformance {} ... ok", case.name),
            Err(error) => {
                eprintln!("conformance {} ... FAILED", case.name);
                failed.push(format!("{}: {}", case.name, panic_message(error)));
            }
        }
    }
    eprintln!(
        "conformance: {} of {total} cases passed",
        total - failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} conformance case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".to_owned()),
        Err(error) => error.to_string(),
    }
}
