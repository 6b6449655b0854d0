//! Publishing availability: normalization, refusals and set semantics.

use chrono::TimeDelta;

use crate::store::Store;
use crate::testkit::Harness;

pub(super) async fn exact_window_becomes_its_slots<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let added = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    assert_eq!(
        starts,
        vec![
            h.day_at(2, 9, 0, 0),
            h.day_at(2, 9, 15, 0),
            h.day_at(2, 9, 30, 0),
            h.day_at(2, 9, 45, 0)
        ]
    );
    assert!(
        added
            .iter()
            .all(|s| s.end - s.start == TimeDelta::minutes(15) && s.provider_id == p)
    );
    assert_eq!(h.reservable(&p).await, added);
}

pub(super) async fn window_snaps_inward_to_the_sub_second<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let start = h.day_at(2, 9, 0, 0) + TimeDelta::nanoseconds(1);
    let end = h.day_at(2, 10, 0, 0) - TimeDelta::nanoseconds(1);
    let added = h.open(&p, start, end).await;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![h.day_at(2, 9, 15, 0), h.day_at(2, 9, 30, 0)]);
}
