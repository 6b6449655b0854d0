//! The brute-force model of services (`testkit::model`) against SQLite and
//! PostgreSQL: random steps, listings and outcomes compared after every one.
//! Each case runs under its own provider and client ids on one store, so a
//! database is opened once per test, not once per case.

#[cfg(feature = "postgres")]
mod pg_support;
#[cfg(feature = "sqlite")]
mod sqlite_support;

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use scheduler_core::Store;
use scheduler_core::testkit::{Harness, model};

/// Steps per run: the clock moves at most 31 minutes a step, and the
/// morning the steps play on must stay more than the 24 h lead away.
const MAX_STEPS: usize = 48;

/// Runs `cases` random runs of the model against `store`.
fn against_the_model<S: Store + 'static>(
    runtime: &tokio::runtime::Runtime,
    store: Arc<S>,
    cases: u32,
) {
    let mut runner = TestRunner::new(ProptestConfig::with_cases(cases));
    let strategy = prop::collection::vec(any::<[u8; 3]>(), 1..MAX_STEPS);
    runner
        .run(&strategy, |steps| {
            let steps: Vec<_> = steps.into_iter().map(model::Step::from_bytes).collect();
            runtime.block_on(model::check(&Harness::new(Arc::clone(&store)), &steps));
            Ok(())
        })
        .unwrap();
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_matches_the_model() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(sqlite_support::memory_store());
    against_the_model(&runtime, Arc::new(store), 64);
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_matches_the_model() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(pg_support::TestDb::connect()) else {
        return;
    };
    let (store, _schema) = runtime.block_on(db.store(4));
    against_the_model(&runtime, Arc::new(store), 32);
}
