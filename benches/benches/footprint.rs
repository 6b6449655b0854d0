//! Heap bytes per stored slot in `MemoryStore`, measured by counting every
//! allocation the process makes (a counting global allocator), for the
//! shapes the targets name: one provider with 100,800 slots, ten such
//! providers (1,008,000 slots), and 4,500 providers with a week of 8-hour
//! days each (1,008,000 slots).
//!
//! Prints one line per shape: the live heap bytes the store grew by (as
//! requested from the allocator, whose own bookkeeping adds some 8-16 bytes
//! per block), the live blocks, and the bytes per slot. Not a criterion
//! bench: run it with `cargo bench -p scheduler-benches --bench footprint`.

use scheduler_core::Precondition;
use std::alloc::System;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use scheduler_core::{ManualClock, Policy, ProviderId, Scheduler, Window};
use scheduler_memory::MemoryStore;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, Stats, StatsAlloc};
use tokio::runtime::Runtime;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The target: at most this many heap bytes per stored slot.
const TARGET_BYTES_PER_SLOT: f64 = 100.0;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

/// A calendar shape: `providers` providers, each with the same windows.
struct Shape {
    name: &'static str,
    providers: usize,
    windows: Vec<Window>,
}

/// Round-the-clock availability for `days` from tomorrow, in 31-day windows.
fn round_the_clock(days: i64) -> Vec<Window> {
    (0..days)
        .step_by(31)
        .map(|d| {
            let from = start() + TimeDelta::days(1 + d);
            let to = (from + TimeDelta::days(31)).min(start() + TimeDelta::days(1 + days));
            Window::new(from, to).unwrap()
        })
        .collect()
}

/// 09:00-17:00 on each of the 7 days from tomorrow: 224 slots.
fn working_week() -> Vec<Window> {
    (1..=7)
        .map(|d| {
            let day = start() + TimeDelta::days(d);
            Window::new(day + TimeDelta::hours(9), day + TimeDelta::hours(17)).unwrap()
        })
        .collect()
}

/// Live heap bytes and blocks gained over the region. (`stats_alloc` counts
/// a reallocation's growth or shrinkage in the allocated and freed bytes.)
fn live(change: Stats) -> (i64, i64) {
    let bytes = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
    let blocks = change.allocations as i64 - change.deallocations as i64;
    (bytes, blocks)
}

fn measure(rt: &Runtime, shape: &Shape) -> bool {
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(1100))
        .build()
        .unwrap();
    let clock = ManualClock::new(start());
    let providers: Vec<ProviderId> = (0..shape.providers)
        .map(|i| ProviderId::new(format!("provider-{i:05}")).unwrap())
        .collect();
    let region = Region::new(GLOBAL);
    let store = Arc::new(MemoryStore::new());
    {
        let scheduler = Scheduler::new(Arc::clone(&store), clock, policy);
        for provider in &providers {
            rt.block_on(scheduler.add_availability(provider, &shape.windows, Precondition::Any))
                .unwrap();
        }
    }
    let (bytes, blocks) = live(region.change());
    let slots = store.slot_count();
    let per_slot = bytes as f64 / slots as f64;
    let met = per_slot <= TARGET_BYTES_PER_SLOT;
    println!(
        "{:<28} {:>9} slots {:>10} heap bytes in {:>7} blocks: {:>5.1} B/slot, target <= {} B: {}",
        shape.name,
        slots,
        bytes,
        blocks,
        per_slot,
        TARGET_BYTES_PER_SLOT,
        if met { "met" } else { "MISSED" }
    );
    drop(store);
    met
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let shapes = [
        Shape {
            name: "memory/footprint/1x100800",
            providers: 1,
            windows: round_the_clock(1050),
        },
        Shape {
            name: "memory/footprint/10x100800",
            providers: 10,
            windows: round_the_clock(1050),
        },
        Shape {
            name: "memory/footprint/4500x224",
            providers: 4500,
            windows: working_week(),
        },
    ];
    let mut met = true;
    for shape in &shapes {
        met &= measure(&rt, shape);
    }
    if !met {
        println!("at least one shape is over {TARGET_BYTES_PER_SLOT} heap bytes per slot");
    }
}
