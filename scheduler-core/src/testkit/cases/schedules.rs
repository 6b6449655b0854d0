//! Stored weekly schedules: the version guard that ties a schedule to its
//! slots, the due order the sweeper walks, the compare-and-set that rolls a
//! schedule forward, deletion, and the JSON text kept byte for byte.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Barrier;

use crate::ids::ProviderId;
use crate::store::{CalendarWrite, Store, StoredSchedule};
use crate::testkit::Harness;

const BERLIN: &str =
    r#"{"timeZone":"Europe/Berlin","weekly":{"mon":[{"start":"09:00","end":"12:00"}]}}"#;
const PARIS: &str =
    r#"{"timeZone":"Europe/Paris","weekly":{"tue":[{"start":"13:00","end":"17:00"}]}}"#;

/// Stores `json` for `provider` at its current version, panicking on refusal;
/// returns the version after.
async fn put<S: Store>(
    h: &Harness<S>,
    provider: &ProviderId,
    json: &str,
    through: DateTime<Utc>,
) -> u64 {
    let store = h.scheduler.store();
    let version = store.calendar_version(provider).await.expect("version");
    match store.put_schedule(provider, json, through, version).await {
        Ok(CalendarWrite::Applied { version, .. }) => version,
        other => panic!("storing a schedule at the current version {version}: {other:?}"),
    }
}

pub(super) async fn stored<S: Store>(
    h: &Harness<S>,
    provider: &ProviderId,
) -> Option<StoredSchedule> {
    h.scheduler.store().schedule(provider).await.expect("read")
}

fn schedule(json: &str, through: DateTime<Utc>) -> StoredSchedule {
    StoredSchedule {
        json: json.to_owned(),
        through,
    }
}

pub async fn put_at_a_stale_version_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let store = h.scheduler.store();
    let through = h.day_at(365, 0, 0, 0);
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    assert_eq!(
        store.put_schedule(&p, BERLIN, through, 0).await.unwrap(),
        CalendarWrite::VersionMismatch { current: 1 },
        "slots were published after version 0"
    );
    assert_eq!(stored(&h, &p).await, None, "a refused put stores nothing");
    assert_eq!(
        store.put_schedule(&p, BERLIN, through, 1).await.unwrap(),
        CalendarWrite::Applied {
            outcome: (),
            version: 2
        },
        "a new schedule counts as a calendar write"
    );
    assert_eq!(stored(&h, &p).await, Some(schedule(BERLIN, through)));

    let later = through + TimeDelta::days(1);
    assert_eq!(
        store.put_schedule(&p, BERLIN, later, 2).await.unwrap(),
        CalendarWrite::Applied {
            outcome: (),
            version: 2
        },
        "the same text again moves `through` but not the version"
    );
    assert_eq!(stored(&h, &p).await, Some(schedule(BERLIN, later)));
    assert_eq!(
        store.put_schedule(&p, PARIS, through, 1).await.unwrap(),
        CalendarWrite::VersionMismatch { current: 2 }
    );
    assert_eq!(
        stored(&h, &p).await,
        Some(schedule(BERLIN, later)),
        "the refused schedule did not replace the stored one"
    );
    assert_eq!(
        store.put_schedule(&p, PARIS, through, 2).await.unwrap(),
        CalendarWrite::Applied {
            outcome: (),
            version: 3
        }
    );
    assert_eq!(stored(&h, &p).await, Some(schedule(PARIS, through)));
    assert_eq!(
        h.reservable_starts(&p).await.len(),
        4,
        "storing schedules leaves the slots alone"
    );
    assert_eq!(stored(&h, &h.provider("other")).await, None);
}

pub async fn schedule_text_round_trips_exactly<S: Store>(h: Harness<S>) {
    let through = h.day_at(365, 0, 0, 0) + TimeDelta::microseconds(123_457);
    // Spacing, key order, escapes and non-ASCII text are the caller's
    // business: a store neither parses nor normalizes (no JSONB here).
    let texts = [
        "{ \"weekly\" : {},\n\t\"timeZone\":\"America/Sao_Paulo\" }\n".to_owned(),
        r#"{"timeZone":"Asia/Kathmandu","weekly":{},"note":"Zürich – 東京 \u00e9 \"quoted\" \\"}"#
            .to_owned(),
        format!(
            r#"{{"timeZone":"Europe/London","weekly":{{}},"exceptions":[{}]}}"#,
            (0..400)
                .map(|day| format!(r#"{{"date":"2031-01-{:02}","ranges":[]}}"#, day % 28 + 1))
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    for (i, text) in texts.iter().enumerate() {
        let p = h.provider(&format!("p{i}"));
        put(&h, &p, text, through).await;
        let back = stored(&h, &p).await.expect("stored");
        assert_eq!(back.json, *text, "text {i} came back changed");
        assert_eq!(back.through, through, "through is kept to the microsecond");
    }
}

pub async fn due_is_strictly_before_and_oldest_first<S: Store>(h: Harness<S>) {
    let store = h.scheduler.store();
    let base = h.day_at(365, 0, 0, 0) + TimeDelta::microseconds(1);
    let (a, b, c, d) = (
        h.provider("a"),
        h.provider("b"),
        h.provider("c"),
        h.provider("d"),
    );
    // Put out of order; `b` and `c` share an instant, so the id decides.
    put(&h, &d, PARIS, base + TimeDelta::hours(2)).await;
    put(&h, &c, BERLIN, base + TimeDelta::hours(1)).await;
    put(&h, &a, BERLIN, base).await;
    put(&h, &b, PARIS, base + TimeDelta::hours(1)).await;
    let due = |before: DateTime<Utc>, limit: usize| async move {
        store
            .schedules_due(before, limit)
            .await
            .expect("due")
            .into_iter()
            .map(|(provider, _)| provider)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        due(base, 10).await,
        Vec::<ProviderId>::new(),
        "through == before is not due"
    );
    assert_eq!(
        due(base + TimeDelta::microseconds(1), 10).await,
        std::slice::from_ref(&a)
    );
    assert_eq!(
        due(base + TimeDelta::hours(1), 10).await,
        std::slice::from_ref(&a)
    );
    assert_eq!(
        due(base + TimeDelta::hours(1) + TimeDelta::microseconds(1), 10).await,
        [a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(
        due(base + TimeDelta::days(1), 10).await,
        [a.clone(), b.clone(), c.clone(), d.clone()]
    );
    assert_eq!(
        due(base + TimeDelta::days(1), 2).await,
        [a.clone(), b.clone()],
        "the limit keeps the oldest"
    );
    let full = store
        .schedules_due(base + TimeDelta::days(1), 1)
        .await
        .unwrap();
    assert_eq!(
        full,
        [(a.clone(), schedule(BERLIN, base))],
        "rows come whole"
    );
}

pub async fn advance_from_a_stale_through_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let store = h.scheduler.store();
    let first = h.day_at(365, 0, 0, 0);
    let second = first + TimeDelta::hours(1);
    let version = put(&h, &p, BERLIN, first).await;
    assert!(
        !store
            .advance_schedule(&p, first - TimeDelta::microseconds(1), second)
            .await
            .unwrap(),
        "a `from` a microsecond off is stale"
    );
    assert_eq!(stored(&h, &p).await, Some(schedule(BERLIN, first)));
    assert!(store.advance_schedule(&p, first, second).await.unwrap());
    assert_eq!(stored(&h, &p).await, Some(schedule(BERLIN, second)));
    assert!(
        !store
            .advance_schedule(&p, first, second + TimeDelta::hours(1))
            .await
            .unwrap(),
        "a second advance from the same `through` loses"
    );
    assert_eq!(stored(&h, &p).await, Some(schedule(BERLIN, second)));
    assert_eq!(
        store.calendar_version(&p).await.unwrap(),
        version,
        "advancing changes no version"
    );
    assert!(
        !store
            .advance_schedule(&h.provider("none"), first, second)
            .await
            .unwrap(),
        "nothing to advance without a schedule"
    );
    assert!(
        store.schedules_due(second, 10).await.unwrap().is_empty(),
        "the due index follows the advance"
    );
    assert_eq!(
        store
            .schedules_due(second + TimeDelta::microseconds(1), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn concurrent_advances_from_one_through_let_one_through<S: Store + 'static>(
    h: Harness<S>,
) {
    const SWEEPERS: usize = 16;
    let p = h.provider("p");
    let first = h.day_at(365, 0, 0, 0);
    put(&h, &p, BERLIN, first).await;
    let barrier = Arc::new(Barrier::new(SWEEPERS));
    let mut tasks = Vec::new();
    for i in 0..SWEEPERS {
        let (scheduler, barrier, p) = (h.scheduler.clone(), barrier.clone(), p.clone());
        let to = first + TimeDelta::minutes(i as i64 + 1);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let moved = scheduler.store().advance_schedule(&p, first, to).await;
            (moved.expect("advance"), to)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (moved, to) = task.await.expect("sweeper task");
        if moved {
            winners.push(to);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one advance from one `through` wins"
    );
    assert_eq!(stored(&h, &p).await, Some(schedule(BERLIN, winners[0])));
}

pub async fn delete_forgets_the_schedule_and_keeps_the_slots<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let store = h.scheduler.store();
    let through = h.day_at(365, 0, 0, 0);
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let version = put(&h, &p, BERLIN, through).await;
    assert!(store.delete_schedule(&p).await.unwrap());
    assert_eq!(stored(&h, &p).await, None);
    assert_eq!(
        store.calendar_version(&p).await.unwrap(),
        version + 1,
        "a deleted schedule counts as a calendar write"
    );
    assert!(
        store
            .schedules_due(through + TimeDelta::days(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "a deleted schedule is never due"
    );
    assert!(
        !store
            .advance_schedule(&p, through, through + TimeDelta::days(1))
            .await
            .unwrap()
    );
    assert!(
        !store.delete_schedule(&p).await.unwrap(),
        "nothing left to delete"
    );
    assert_eq!(
        store.calendar_version(&p).await.unwrap(),
        version + 1,
        "deleting nothing changes nothing"
    );
    assert_eq!(h.reservable_starts(&p).await.len(), 4, "the slots stay");
    // A schedule can be stored again afterwards.
    put(&h, &p, PARIS, through).await;
    assert_eq!(stored(&h, &p).await, Some(schedule(PARIS, through)));
}
