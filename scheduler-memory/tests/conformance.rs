//! `MemoryStore` against the backend conformance suite.

use scheduler_memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_suite() {
    scheduler_core::testkit::run_conformance(|| async { MemoryStore::new() }).await;
}
