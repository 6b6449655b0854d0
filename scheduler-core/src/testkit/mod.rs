//! The backend conformance suite (feature `testkit`).
//!
//! A storage backend passes when every case passes against it. The suite is
//! one test per case: a backend's test file calls [`conformance_tests!`]
//! with an `async` block that opens a fresh store, and `cargo test` then
//! names, filters and reports each case by its rule, as
//! `availability::exact_window_becomes_its_slots`. Every case drives a
//! [`Scheduler`](crate::Scheduler) with a [`ManualClock`](crate::ManualClock),
//! so rules are checked at their exact boundaries without sleeping.
//!
//! ```
//! // tests/conformance.rs of a backend
//! use scheduler_memory::MemoryStore;
//!
//! scheduler_core::conformance_tests!(async { Some(MemoryStore::new()) });
//! # fn main() {}
//! ```
//!
//! The block answers `None` when the store cannot be had (a database that
//! is not configured, say), and the case passes without running: the
//! block is the place to say so loudly, or to fail when that must not
//! happen.
//!
//! [`conformance_tests!`]: crate::conformance_tests

#[doc(hidden)]
pub mod cases;
mod harness;
pub mod model;

use std::future::Future;

pub use harness::Harness;

use crate::store::Store;

/// Defines one `#[test]` per conformance case, in a module per group of
/// rules, each against a fresh store from `$store`: an `async` block that
/// answers `Option<S>` for a [`Store`](crate::Store) `S`, `None` to skip.
///
/// The tests need no async runtime of their own: each runs its case on a
/// multi-threaded Tokio runtime, so the concurrency cases race for real.
/// See the [`testkit`](crate::testkit) module.
///
/// A store that needs something kept alive while it is used (a temporary
/// database file, say) comes as `Some((store, guard))` after `with_guard`;
/// the guard is dropped when the case ends:
///
/// ```ignore
/// scheduler_core::conformance_tests!(with_guard async {
///     let file = TempFile::new();
///     let store = open(&file).await;
///     Some((store, file))
/// });
/// ```
#[macro_export]
macro_rules! conformance_tests {
    (with_guard $store:expr $(,)?) => {
        $crate::__conformance_cases!(__conformance_test_group; run_case_with_guard, $store);
    };
    ($store:expr $(,)?) => {
        $crate::__conformance_cases!(__conformance_test_group; run_case, $store);
    };
}

/// One group of the list as a module of tests.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test_group {
    (($runner:ident, $store:expr) $($group:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $group {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $case() {
                        $crate::testkit::$runner(
                            $store,
                            $crate::testkit::cases::$group::$case,
                        );
                    }
                )*
            }
        )*
    };
}

/// Runs one case against the store `store` opens, on a multi-threaded
/// runtime of its own; does nothing when `store` answers `None`.
#[doc(hidden)]
pub fn run_case<S, Open, Case, Run>(store: Open, case: Case)
where
    S: Store + 'static,
    Open: Future<Output = Option<S>>,
    Case: FnOnce(Harness<S>) -> Run,
    Run: Future<Output = ()>,
{
    run_case_with_guard(async move { store.await.map(|store| (store, ())) }, case);
}

/// [`run_case`] for a store that comes with a guard, dropped after the case.
#[doc(hidden)]
pub fn run_case_with_guard<S, G, Open, Case, Run>(store: Open, case: Case)
where
    S: Store + 'static,
    Open: Future<Output = Option<(S, G)>>,
    Case: FnOnce(Harness<S>) -> Run,
    Run: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a Tokio runtime for the case");
    runtime.block_on(async move {
        if let Some((store, guard)) = store.await {
            case(Harness::new(store)).await;
            drop(guard);
        }
    });
}
