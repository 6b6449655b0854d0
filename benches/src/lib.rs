//! Benchmarks for the scheduler crates.
