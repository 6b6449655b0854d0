//! `MemoryStore` against the backend conformance suite.

use scheduler_memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_suite() {
    scheduler_core::testkit::run_conformance(|| async { MemoryStore::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_boxed_store_chosen_at_run_time_passes_too() {
    use scheduler_core::Store;
    scheduler_core::testkit::run_conformance(|| async {
        Box::new(MemoryStore::new()) as Box<dyn Store>
    })
    .await;
}
