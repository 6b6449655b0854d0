//! `--demo`: the seeded week and the printed commands.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use scheduler_core::{Clock, ListQuery, ManualClock, Policy, ProviderId, Scheduler, Store};
use scheduler_memory::MemoryStore;

use crate::auth::{JwtKeys, Role};
use crate::demo;

#[tokio::test]
async fn the_demo_publishes_a_week_from_two_days_out_and_prints_every_step() {
    // Tuesday afternoon: the week runs Thursday to the next Wednesday.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 3, 5, 15, 20, 0).unwrap());
    let shared: Arc<dyn Clock> = Arc::new(clock);
    let store: Box<dyn Store> = Box::new(MemoryStore::new());
    let scheduler = Scheduler::new(store, shared, Policy::default());
    let first = demo::seed(&scheduler)
        .await
        .unwrap()
        .expect("a reservable slot");
    assert_eq!(
        first.start(),
        Utc.with_ymd_and_hms(2030, 3, 7, 9, 0, 0).unwrap()
    );

    let provider = ProviderId::new(demo::PROVIDER).unwrap();
    let all = scheduler
        .list_slots(&provider, ListQuery::all().limit(500))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 7 * 32, "seven days of 09:00-17:00");
    let last = all.items.last().unwrap();
    assert_eq!(
        last.end,
        Utc.with_ymd_and_hms(2030, 3, 13, 17, 0, 0).unwrap()
    );
    // Seeding again (a restart on the same database) changes nothing.
    assert_eq!(demo::seed(&scheduler).await.unwrap(), Some(first.clone()));

    let secret = demo::secret();
    assert_eq!(secret.len(), 64);
    assert_ne!(secret, demo::secret());
    let keys = JwtKeys::new(secret.as_bytes());
    let text = demo::instructions("127.0.0.1:8080".parse().unwrap(), &keys, Some(&first));
    assert!(text.contains("export BASE=http://127.0.0.1:8080"));
    for step in [
        "/v1/providers/demo-provider/slots",
        &format!("/v1/slots/{first}/reservations"),
        "/v1/reservations/$RESERVATION/confirm",
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
