//! `MemoryStore` against the backend conformance suite, one test per case,
//! as it is and boxed as a store chosen at run time.

use scheduler_core::Store;
use scheduler_memory::MemoryStore;

mod memory {
    use super::*;
    scheduler_core::conformance_tests!(async { Some(MemoryStore::new()) });
}

mod boxed {
    use super::*;
    scheduler_core::conformance_tests!(async {
        Some(Box::new(MemoryStore::new()) as Box<dyn Store>)
    });
}
