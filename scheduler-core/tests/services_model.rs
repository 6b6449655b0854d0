//! The brute-force model of services (`testkit::model`) against the memory
//! store: random steps, listings and outcomes compared after every one.

use proptest::prelude::*;
use scheduler_core::testkit::{Harness, model};
use scheduler_memory::MemoryStore;

/// Steps per run: the clock moves at most 31 minutes a step, and the
/// morning the steps play on must stay more than the 24 h lead away.
const MAX_STEPS: usize = 48;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_memory_store_matches_the_model(steps in prop::collection::vec(any::<[u8; 3]>(), 1..MAX_STEPS)) {
        let steps: Vec<_> = steps.into_iter().map(model::Step::from_bytes).collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(model::check(&Harness::new(MemoryStore::new()), &steps));
    }
}
