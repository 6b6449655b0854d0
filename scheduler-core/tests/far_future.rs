//! At the far end of `DateTime`'s range the scheduler saturates instead of
//! panicking: a clock set absurdly far ahead gets answers, not a crash.

use chrono::{DateTime, TimeDelta, Utc};
use scheduler_core::Precondition;
use scheduler_core::{ClientId, ListQuery, ManualClock, Policy, ProviderId, Scheduler, Window};
use scheduler_memory::MemoryStore;

#[tokio::test]
async fn a_clock_near_the_end_of_time_still_answers() {
    let end_of_time = DateTime::<Utc>::MAX_UTC;
    let now = end_of_time - TimeDelta::hours(2);
    let policy = Policy::builder()
        .min_lead(TimeDelta::zero())
        .hold_ttl(TimeDelta::days(36_500))
        .build()
        .unwrap();
    let scheduler = Scheduler::new(MemoryStore::new(), ManualClock::new(now), policy);
    let provider = ProviderId::new("p").unwrap();
    let window = Window::new(end_of_time - TimeDelta::hours(1), end_of_time).unwrap();

    let added = scheduler
        .add_availability(&provider, &[window], Precondition::Any)
        .await
        .unwrap();
    // 23:00, 23:15, 23:30 of the last day; 23:45 would end past the range.
    assert_eq!(added.added.len(), 3);
    let page = scheduler
        .list_slots(&provider, ListQuery::all())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);

    let client = ClientId::new("c").unwrap();
    let held = scheduler
        .reserve(&page.items[2].id, &client, None)
        .await
        .unwrap();
    assert_eq!(
        held.expires_at, end_of_time,
        "a hold that would outlast time ends with it"
    );
    let confirmed = scheduler.confirm(held.id, &client).await.unwrap();
    assert!(confirmed.confirmed_at.is_some());
}
