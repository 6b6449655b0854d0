//! `--demo`: the seeded weekly schedule and services, and the printed commands.

use std::sync::Arc;

use chrono::{Datelike, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use scheduler_core::{
    Clock, ListQuery, ManualClock, Policy, ProviderId, Scheduler, Store, TimeRange,
};
use scheduler_memory::MemoryStore;

use crate::auth::{JwtKeys, Role};
use crate::demo;

fn demo_scheduler(clock: &ManualClock) -> Scheduler<Box<dyn Store>, Arc<dyn Clock>> {
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let store: Box<dyn Store> = Box::new(MemoryStore::new());
    Scheduler::new(store, shared, Policy::default())
}

#[tokio::test]
async fn the_demo_sets_london_weekday_hours_and_prints_every_step() {
    // Tuesday afternoon, London on GMT: the first slot at least 24 h ahead
    // (the default lead) is Wednesday 15:30.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 3, 5, 15, 20, 0).unwrap());
    let scheduler = demo_scheduler(&clock);
    let intakes = demo::seed(&scheduler).await.unwrap();
    let [first, later] = &intakes[..] else {
        panic!("two intake starts: {intakes:?}");
    };
    // Its notes run to 16:30; the next intake can start at 15:45 in place of it.
    assert_eq!(
        (first.start(), later.start()),
        (
            Utc.with_ymd_and_hms(2030, 3, 6, 15, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2030, 3, 6, 15, 45, 0).unwrap()
        )
    );
    assert_eq!(first.service().map(|s| s.as_str()), Some(demo::INTAKE));
    let provider = ProviderId::new(demo::PROVIDER).unwrap();
    assert_eq!(
        scheduler.services(&provider).await.unwrap(),
        demo::services().unwrap().to_vec()
    );
    let held = scheduler
        .reserve(
            first,
            &scheduler_core::ClientId::new(demo::CLIENT).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(held.end, first.start() + TimeDelta::minutes(45));
    let moved = scheduler
        .reschedule(
            held.id,
            later,
            &scheduler_core::Actor::Provider(provider.clone()),
        )
        .await
        .unwrap();
    assert_eq!(moved.start, later.start());

    let stored = scheduler.schedule(&provider).await.unwrap().unwrap();
    assert_eq!(stored.schedule, demo::schedule().unwrap());
    assert_eq!(stored.schedule.time_zone().name(), "Europe/London");
    let day = |y, m, d| {
        let start = Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        TimeRange::new(start, start + TimeDelta::days(1)).unwrap()
    };
    let starts = |page: scheduler_core::Page<scheduler_core::Slot>| -> Vec<(u32, u32)> {
        page.items
            .iter()
            .map(|slot| (slot.start.hour(), slot.start.minute()))
            .collect()
    };
    // Monday 11 March, GMT: 09:00-12:00 and 13:00-17:00 UTC, 28 slots.
    let monday = scheduler
        .list_slots(&provider, ListQuery::new(day(2030, 3, 11)).limit(500))
        .await
        .unwrap();
    let monday = starts(monday);
    assert_eq!(monday.len(), 28);
    assert_eq!(monday[0], (9, 0));
    assert_eq!(monday[11], (11, 45));
    assert_eq!(monday[12], (13, 0));
    assert_eq!(monday[27], (16, 45));
    // Saturday and Sunday are closed.
    for sunday in [day(2030, 3, 9), day(2030, 3, 10)] {
        let closed = scheduler
            .list_slots(&provider, ListQuery::new(sunday))
            .await
            .unwrap();
        assert!(closed.items.is_empty());
    }
    // Monday 1 April, after the clocks went forward: 09:00 BST is 08:00 UTC.
    let summer = scheduler
        .list_slots(&provider, ListQuery::new(day(2030, 4, 1)).limit(500))
        .await
        .unwrap();
    let summer = starts(summer);
    assert_eq!(
        (summer.len(), summer[0], summer[27]),
        (28, (8, 0), (15, 45))
    );

    // Seeding again (a restart on the same database) changes nothing.
    let version = stored.version;
    demo::seed(&scheduler).await.unwrap();
    let again = scheduler.schedule(&provider).await.unwrap().unwrap();
    assert_eq!(again.version, version);

    let secret = demo::secret();
    assert_eq!(secret.len(), 64);
    assert_ne!(secret, demo::secret());
    let keys = JwtKeys::new(secret.as_bytes());
    let text = demo::instructions("127.0.0.1:8080".parse().unwrap(), &keys, &intakes);
    assert!(text.contains("export BASE=http://127.0.0.1:8080"));
    for step in [
        "curl -s \"$BASE/v1/providers/demo-provider/schedule\"",
        "/v1/providers/demo-provider/slots?limit=3&tz=Europe/London",
        "/v1/providers/demo-provider/services\"",
        "/v1/providers/demo-provider/slots?service=intake&limit=3",
        &format!("/v1/slots/{first}/reservations"),
        "/v1/reservations/$RESERVATION/confirm",
        &format!("-d '{{\"slotId\":\"{later}\"}}'"),
        "curl -s \"$BASE/v1/reservations/$RESERVATION\"",
        "-X DELETE \"$BASE/v1/reservations/$RESERVATION\"",
    ] {
        assert!(text.contains(step), "missing {step} in\n{text}");
    }
    let token = |name: &str| {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("export {name}=")))
            .unwrap();
        keys.verify(line.split_once('=').unwrap().1).unwrap()
    };
    let provider = token("PROVIDER_TOKEN");
    assert_eq!(
        (provider.sub.as_str(), provider.role),
        (demo::PROVIDER, Role::Provider)
    );
    let client = token("CLIENT_TOKEN");
    assert_eq!(
        (client.sub.as_str(), client.role),
        (demo::CLIENT, Role::Client)
    );
}

#[tokio::test]
async fn whatever_the_day_the_demo_starts_slots_can_be_reserved() {
    // Each day of a week, at a minute before midnight: the first reservable
    // slot is on a weekday, at least the lead ahead, and at most four days out.
    for offset in 0..7 {
        let now = Utc.with_ymd_and_hms(2030, 3, 4, 23, 59, 0).unwrap() + TimeDelta::days(offset);
        let clock = ManualClock::new(now);
        let scheduler = demo_scheduler(&clock);
        let starts = demo::seed(&scheduler).await.unwrap();
        let first = starts
            .first()
            .unwrap_or_else(|| panic!("no reservable intake when starting {now}"));
        let start = first.start();
        assert!(start - now >= TimeDelta::hours(24), "{now}: {start}");
        assert!(start - now <= TimeDelta::days(4), "{now}: {start}");
        assert!(
            !matches!(start.weekday(), Weekday::Sat | Weekday::Sun),
            "{now}: {start}"
        );
    }
}
