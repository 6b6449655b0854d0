//! Calendar versions: the compare-and-set behind `If-Match` on availability writes.

use crate::Precondition;
use std::sync::Arc;

use chrono::TimeDelta;
use tokio::sync::Barrier;

use crate::error::Error;
use crate::grid::Window;
use crate::store::Store;
use crate::testkit::Harness;

pub async fn version_counts_only_writes_that_change_slots<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let s = &h.scheduler;
    assert_eq!(
        s.calendar_version(&p).await.unwrap(),
        0,
        "a new calendar is at version 0"
    );
    let window = Window::new(h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0)).unwrap();
    assert_eq!(
        s.add_availability(&p, &[window], Precondition::Any)
            .await
            .unwrap()
            .version,
        1
    );
    let repeat = s
        .add_availability(&p, &[window], Precondition::Any)
        .await
        .unwrap();
    assert_eq!(
        (repeat.added.len(), repeat.version),
        (0, 1),
        "a repeat changes nothing, version included"
    );
    let empty_range = Harness::<S>::range(h.day_at(5, 0, 0, 0), h.day_at(6, 0, 0, 0));
    assert_eq!(
        s.withdraw_availability(&p, empty_range, Precondition::Any)
            .await
            .unwrap()
            .version,
        1
    );
    let slot = h.slot_id(&p, h.day_at(2, 9, 0, 0));
    let c = h.client("c");
    let held = h.hold(&slot, &c).await;
    s.confirm(held.id, &c).await.unwrap();
    assert_eq!(
        s.calendar_version(&p).await.unwrap(),
        1,
        "reservations do not change the calendar version"
    );
    let range = Harness::<S>::range(h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0));
    let withdrawn = s
        .withdraw_availability(&p, range, Precondition::Any)
        .await
        .unwrap();
    assert_eq!((withdrawn.removed.len(), withdrawn.version), (3, 2));
    assert_eq!(
        s.calendar_version(&h.provider("other")).await.unwrap(),
        0,
        "versions are per provider"
    );
}

pub async fn stale_version_changes_nothing<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let s = &h.scheduler;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let window = Window::new(h.day_at(3, 9, 0, 0), h.day_at(3, 10, 0, 0)).unwrap();
    let err = expect_err!(
        s.add_availability(&p, &[window], Precondition::Version(0))
            .await,
        Error::CalendarChanged {
            expected: 0,
            current: 1,
            ..
        },
        "adding at version 0 after a write"
    );
    assert_eq!(err.code(), "calendar_changed");
    let range = Harness::<S>::range(h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0));
    expect_err!(
        s.withdraw_availability(&p, range, Precondition::Version(7))
            .await,
        Error::CalendarChanged {
            expected: 7,
            current: 1,
            ..
        },
        "withdrawing at a version that never was"
    );
    let empty = Harness::<S>::range(h.day_at(9, 0, 0, 0), h.day_at(9, 0, 1, 0));
    expect_err!(
        s.withdraw_availability(&p, empty, Precondition::Version(0))
            .await,
        Error::CalendarChanged {
            expected: 0,
            current: 1,
            ..
        },
        "a range without slots still answers the precondition"
    );
    assert_eq!(
        h.reservable_starts(&p).await.len(),
        4,
        "neither refused write changed the calendar"
    );
    assert_eq!(s.calendar_version(&p).await.unwrap(), 1);
}

pub async fn current_version_applies<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let s = &h.scheduler;
    let window = Window::new(h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0)).unwrap();
    let added = s
        .add_availability(&p, &[window], Precondition::Version(0))
        .await
        .unwrap();
    assert_eq!((added.added.len(), added.version), (4, 1));
    let range = Harness::<S>::range(h.day_at(2, 9, 0, 0), h.day_at(2, 9, 30, 0));
    let withdrawn = s
        .withdraw_availability(&p, range, Precondition::Version(1))
        .await
        .unwrap();
    assert_eq!((withdrawn.removed.len(), withdrawn.version), (2, 2));
    assert_eq!(
        h.reservable_starts(&p).await,
        vec![h.day_at(2, 9, 30, 0), h.day_at(2, 9, 45, 0)]
    );
}

pub async fn concurrent_writes_at_one_version_let_one_through<S: Store + 'static>(h: Harness<S>) {
    const WRITERS: usize = 16;
    let p = h.provider("p");
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (scheduler, barrier, p) = (h.scheduler.clone(), barrier.clone(), p.clone());
        let start = h.day_at(2, 0, 0, 0) + TimeDelta::hours(i as i64);
        tasks.push(tokio::spawn(async move {
            let window = Window::new(start, start + TimeDelta::minutes(15)).unwrap();
            barrier.wait().await;
            scheduler
                .add_availability(&p, &[window], Precondition::Version(0))
                .await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        match task.await.expect("writer task") {
            Ok(added) => {
                applied += 1;
                assert_eq!(added.version, 1);
            }
            Err(Error::CalendarChanged { current: 1, .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 1, "exactly one write at version 0 may pass");
    assert_eq!(h.reservable_starts(&p).await.len(), 1);
    assert_eq!(h.scheduler.calendar_version(&p).await.unwrap(), 1);
}

/// The version and page a listing returns together are what the version and
/// the page read one after the other return, with the store's own primitive.
pub async fn versioned_listing_matches_version_then_page<S: Store>(h: Harness<S>) {
    use crate::scheduler::ListQuery;

    let p = h.provider("p");
    let s = &h.scheduler;
    let (version, page) = s.list_slots_versioned(&p, ListQuery::all()).await.unwrap();
    assert_eq!((version, page.items.len()), (0, 0), "an unknown provider");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 11, 0, 0))
        .await;
    h.open(&p, h.day_at(3, 9, 0, 0), h.day_at(3, 10, 0, 0))
        .await;
    let c = h.client("c");
    let held = h.hold(&slots[1].id, &c).await;
    for query in [
        ListQuery::all(),
        ListQuery::all().limit(3),
        ListQuery::new(Harness::<S>::range(
            h.day_at(3, 0, 0, 0),
            h.day_at(4, 0, 0, 0),
        )),
    ] {
        let (version, page) = s.list_slots_versioned(&p, query.clone()).await.unwrap();
        assert_eq!(version, s.calendar_version(&p).await.unwrap());
        assert_eq!(page, s.list_slots(&p, query).await.unwrap());
    }
    let (version, page) = s
        .list_slots_versioned(&p, ListQuery::all().limit(3))
        .await
        .unwrap();
    assert_eq!(version, 2, "two windows published");
    let starts: Vec<_> = page.items.iter().map(|slot| slot.start).collect();
    assert_eq!(
        starts,
        vec![slots[0].start, slots[2].start, slots[3].start],
        "the held slot is left out"
    );
    // At the instant the hold lapses its slot is free again, in both reads.
    h.set(held.expires_at);
    let (_, page) = s.list_slots_versioned(&p, ListQuery::all()).await.unwrap();
    assert_eq!(page.items.len(), 12);
    assert_eq!(page, s.list_slots(&p, ListQuery::all()).await.unwrap());
    // A page past the last slot is empty and still carries the version.
    let after_last = s
        .list_slots_versioned(
            &p,
            ListQuery::new(Harness::<S>::range(
                h.day_at(9, 0, 0, 0),
                h.day_at(10, 0, 0, 0),
            )),
        )
        .await
        .unwrap();
    assert_eq!((after_last.0, after_last.1.items.len()), (2, 0));
}
