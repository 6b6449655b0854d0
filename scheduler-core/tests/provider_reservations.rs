//! `Scheduler::all_provider_reservations`: every reservation of a span, read
//! across as many store pages as it takes; and the precondition an HTTP
//! `If-Match` becomes.

use chrono::{TimeDelta, TimeZone, Utc};
use scheduler_core::{
    ClientId, ManualClock, Policy, Precondition, ProviderId, ReservationStatus, Scheduler,
    TimeRange, Window,
};
use scheduler_memory::MemoryStore;

#[tokio::test]
async fn every_reservation_of_a_span_comes_back_across_store_pages() {
    let start = Utc.with_ymd_and_hms(2030, 1, 7, 0, 0, 0).unwrap();
    let clock = ManualClock::new(start);
    let scheduler = Scheduler::new(MemoryStore::new(), clock.clone(), Policy::default());
    let provider = ProviderId::new("dr-pages").unwrap();
    let client = ClientId::new("keen").unwrap();
    // 1,010 slots over eleven days: more than one page of the store reads.
    let first = start + TimeDelta::days(2);
    let mut slots = Vec::new();
    for day in 0..11 {
        let from = first + TimeDelta::days(day);
        let window = Window::new(from, from + TimeDelta::hours(24)).unwrap();
        let added = scheduler
            .add_availability(&provider, &[window], Precondition::Any)
            .await
            .unwrap();
        slots.extend(added.added);
    }
    slots.truncate(1_010);
    for slot in &slots {
        scheduler.reserve(&slot.id, &client, None).await.unwrap();
    }

    let all = scheduler
        .all_provider_reservations(&provider, TimeRange::all())
        .await
        .unwrap();
    assert_eq!(all.len(), 1_010);
    let starts: Vec<_> = all.iter().map(|r| r.start).collect();
    let expected: Vec<_> = slots.iter().map(|s| s.start).collect();
    assert_eq!(starts, expected, "every one, in order of start");

    // The range is half open, and each reservation reads as it stands now.
    let to = slots[1_000].start;
    clock.advance(scheduler.policy().hold_ttl());
    assert_eq!(
        scheduler_core::Clock::now(scheduler.clock()),
        start + scheduler.policy().hold_ttl(),
        "the scheduler reads the clock it was given"
    );
    let some = scheduler
        .all_provider_reservations(&provider, TimeRange::new(first, to).unwrap())
        .await
        .unwrap();
    assert_eq!(some.len(), 1_000);
    assert!(some.iter().all(|r| r.status == ReservationStatus::Expired));

    // A range that holds no slot start, and another provider's calendar.
    let instant = first + TimeDelta::seconds(1);
    let none = TimeRange::new(instant, instant + TimeDelta::seconds(1)).unwrap();
    assert!(
        scheduler
            .all_provider_reservations(&provider, none)
            .await
            .unwrap()
            .is_empty()
    );
    let stranger = ProviderId::new("dr-nobody").unwrap();
    assert!(
        scheduler
            .all_provider_reservations(&stranger, TimeRange::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_if_match_is_a_version_precondition_and_its_absence_none() {
    assert_eq!(Precondition::from(Some(7)), Precondition::Version(7));
    assert_eq!(Precondition::from(None), Precondition::Any);
    assert_eq!(Precondition::Version(7).expected(), Some(7));
    assert_eq!(Precondition::Any.expected(), None);
    assert_eq!(Precondition::default(), Precondition::Any);
}
