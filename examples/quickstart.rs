//! The whole reservation lifecycle, embedded in process with `MemoryStore`.
//!
//! Run it with `cargo run --example quickstart`.

use chrono::{TimeDelta, TimeZone, Utc};
use scheduler_core::Precondition;
use scheduler_core::{
    Actor, ClientId, Error, ListQuery, ManualClock, Policy, ProviderId, Scheduler, Window,
};
use scheduler_memory::MemoryStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // A manual clock makes the walk-through reproducible; use `SystemClock` in production.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 3, 4, 8, 0, 0).unwrap());
    let scheduler = Scheduler::new(MemoryStore::new(), clock.clone(), Policy::default());
    let dr_grey = ProviderId::new("dr-grey")?;
    let alice = ClientId::new("alice")?;
    let bob = ClientId::new("bob")?;

    // The provider publishes Wednesday 09:00-12:00; it becomes twelve 15-minute slots.
    let wednesday = Window::new(
        Utc.with_ymd_and_hms(2030, 3, 6, 9, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2030, 3, 6, 12, 0, 0).unwrap(),
    )?;
    let added = scheduler
        .add_availability(&dr_grey, &[wednesday], Precondition::Any)
        .await?;
    println!("published {} slots", added.added.len());

    // Alice lists the first page of reservable slots and holds the first one.
    let page = scheduler
        .list_slots(&dr_grey, ListQuery::all().limit(5))
        .await?;
    let slot = &page.items[0];
    let hold = scheduler.reserve(&slot.id, &alice, None).await?;
    println!(
        "alice holds {} until {} ({:?})",
        slot.start, hold.expires_at, hold.status
    );

    // Bob cannot take the same slot while the hold lasts.
    let refused = scheduler.reserve(&slot.id, &bob, None).await.unwrap_err();
    println!("bob is refused: {} [{}]", refused, refused.code());

    // Alice confirms 29 minutes later, inside the 30-minute hold.
    clock.advance(TimeDelta::minutes(29));
    let booking = scheduler.confirm(hold.id, &alice).await?;
    println!(
        "alice's booking is {:?} at {}",
        booking.status,
        booking.confirmed_at.unwrap()
    );

    // Bob holds the next slot but never confirms: at expiry it frees itself.
    let bobs = scheduler.reserve(&page.items[1].id, &bob, None).await?;
    clock.advance(TimeDelta::minutes(30));
    let lapsed = scheduler
        .reservation(bobs.id, &Actor::Client(bob.clone()))
        .await?;
    println!(
        "bob's hold is now {:?}; swept {} hold(s)",
        lapsed.status,
        scheduler.expire_due(100).await?
    );

    // The provider cancels Alice's booking; the slot is reservable again at once.
    scheduler
        .cancel(booking.id, &Actor::Provider(dr_grey.clone()))
        .await?;
    let free = scheduler.list_slots(&dr_grey, ListQuery::all()).await?;
    println!(
        "{} slots reservable after the cancellation",
        free.items.len()
    );
    Ok(())
}
