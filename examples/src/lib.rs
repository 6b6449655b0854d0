//! Examples for the scheduler crates.
