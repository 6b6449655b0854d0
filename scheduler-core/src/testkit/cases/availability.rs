//! Publishing availability: normalization, refusals and set semantics.

use crate::Precondition;
use chrono::TimeDelta;

use crate::error::Error;
use crate::grid::Window;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

pub async fn exact_window_becomes_its_slots<S: Store>(h: Harness<S>) {
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

pub async fn window_snaps_inward_to_the_sub_second<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let start = h.day_at(2, 9, 0, 0) + TimeDelta::nanoseconds(1);
    let end = h.day_at(2, 10, 0, 0) - TimeDelta::nanoseconds(1);
    let added = h.open(&p, start, end).await;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![h.day_at(2, 9, 15, 0), h.day_at(2, 9, 30, 0)]);
}

pub async fn start_a_nanosecond_before_the_grid_rounds_up<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let start = h.day_at(2, 9, 15, 0) - TimeDelta::nanoseconds(1);
    let added = h.open(&p, start, h.day_at(2, 9, 45, 0)).await;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    assert_eq!(
        starts,
        vec![h.day_at(2, 9, 15, 0), h.day_at(2, 9, 30, 0)],
        "a window starting at 09:14:59.999999999 starts at 09:15"
    );
}

pub async fn end_a_nanosecond_short_of_a_slot_is_empty<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let short = Window::new(
        h.day_at(2, 9, 0, 0),
        h.day_at(2, 9, 15, 0) - TimeDelta::nanoseconds(1),
    )
    .expect("start < end");
    let result = h
        .scheduler
        .add_availability(&p, &[short], Precondition::Any)
        .await;
    expect_err!(
        result,
        Error::EmptyWindow { index: 0, .. },
        "[09:00, 09:14:59.999999999) holds no whole slot"
    );
    // One nanosecond short of the second slot keeps only the first.
    let added = h
        .open(
            &p,
            h.day_at(2, 9, 0, 0),
            h.day_at(2, 9, 30, 0) - TimeDelta::nanoseconds(1),
        )
        .await;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![h.day_at(2, 9, 0, 0)]);
}

pub async fn window_end_not_after_start_is_invalid<S: Store>(h: Harness<S>) {
    let t = h.day_at(2, 9, 0, 0);
    expect_err!(
        Window::new(t, t),
        Error::InvalidWindow { .. },
        "a window with end == start"
    );
    expect_err!(
        Window::new(t + TimeDelta::nanoseconds(1), t),
        Error::InvalidWindow { .. },
        "a window ending a nanosecond before its start"
    );
    assert!(Window::new(t, t + TimeDelta::nanoseconds(1)).is_ok());
}

pub async fn window_without_a_whole_slot_is_empty<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    for (start, end) in [
        (h.day_at(2, 9, 1, 0), h.day_at(2, 9, 14, 0)),
        // 15 minutes long, but straddling the grid.
        (h.day_at(2, 9, 7, 0), h.day_at(2, 9, 22, 0)),
    ] {
        let window = Window::new(start, end).expect("start < end");
        let result = h
            .scheduler
            .add_availability(&p, &[window], Precondition::Any)
            .await;
        expect_err!(
            result,
            Error::EmptyWindow { index: 0, .. },
            "[{start}, {end}) holds no whole slot"
        );
    }
    assert!(h.reservable(&p).await.is_empty());
}

pub async fn window_of_max_window_is_accepted_a_second_more_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let max = h.scheduler.policy().max_window();
    assert_eq!(max, TimeDelta::days(31), "the default policy's max_window");
    let start = h.day_at(1, 0, 0, 0);
    let added = h.open(&p, start, start + max).await;
    assert_eq!(added.len(), 31 * 96, "31 days of 15-minute slots");

    let q = h.provider("q");
    let long = Window::new(start, start + max + TimeDelta::seconds(1)).expect("start < end");
    let result = h
        .scheduler
        .add_availability(&q, &[long], Precondition::Any)
        .await;
    let err = expect_err!(
        result,
        Error::WindowTooLong { index: 0, .. },
        "a window of max_window + 1s"
    );
    if let Error::WindowTooLong { length, max: m, .. } = err {
        assert_eq!((length, m), (max + TimeDelta::seconds(1), max));
    }
    assert!(h.reservable(&q).await.is_empty());
}

pub async fn window_ending_at_now_is_in_the_past<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.set(h.day_at(3, 10, 0, 0));
    let now = h.now();
    let past = Window::new(now - TimeDelta::hours(1), now).expect("start < end");
    let result = h
        .scheduler
        .add_availability(&p, &[past], Precondition::Any)
        .await;
    let err = expect_err!(
        result,
        Error::WindowInPast { index: 0, .. },
        "a window ending exactly at now ({now})"
    );
    if let Error::WindowInPast { end, now: seen, .. } = err {
        assert_eq!((end, seen), (now, now));
    }
    // A nanosecond later it is no longer in the past, merely empty.
    let almost = Window::new(now - TimeDelta::hours(1), now + TimeDelta::nanoseconds(1))
        .expect("start < end");
    let result = h
        .scheduler
        .add_availability(&p, &[almost], Precondition::Any)
        .await;
    expect_err!(
        result,
        Error::EmptyWindow { index: 0, .. },
        "a window ending a nanosecond after now"
    );
}

pub async fn slots_before_now_are_dropped_and_the_slot_at_now_kept<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.set(h.day_at(3, 10, 0, 0));
    let added = h
        .open(&p, h.day_at(3, 9, 0, 0), h.day_at(3, 11, 0, 0))
        .await;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    assert_eq!(
        starts,
        vec![
            h.day_at(3, 10, 0, 0),
            h.day_at(3, 10, 15, 0),
            h.day_at(3, 10, 30, 0),
            h.day_at(3, 10, 45, 0)
        ],
        "now is 10:00: the 10:00 slot stays, earlier ones go"
    );
    // One microsecond (the scheduler's resolution) past 10:00, the 10:00 slot
    // has started and is dropped.
    let q = h.provider("q");
    h.advance(TimeDelta::microseconds(1));
    let added = h
        .open(&q, h.day_at(3, 9, 0, 0), h.day_at(3, 11, 0, 0))
        .await;
    assert_eq!(added.first().map(|s| s.start), Some(h.day_at(3, 10, 15, 0)));
    assert_eq!(added.len(), 3);
}

pub async fn window_ending_at_the_horizon_is_accepted_a_second_later_refused<S: Store>(
    h: Harness<S>,
) {
    let p = h.provider("p");
    let horizon = h.now() + h.scheduler.policy().max_horizon();
    assert_eq!(horizon, h.now() + TimeDelta::days(365));
    let added = h.open(&p, horizon - TimeDelta::hours(1), horizon).await;
    assert_eq!(
        added.len(),
        4,
        "a window ending exactly at now + max_horizon"
    );
    assert_eq!(added.last().map(|s| s.end), Some(horizon));

    let q = h.provider("q");
    let beyond = Window::new(
        horizon - TimeDelta::hours(1),
        horizon + TimeDelta::seconds(1),
    )
    .expect("start < end");
    let result = h
        .scheduler
        .add_availability(&q, &[beyond], Precondition::Any)
        .await;
    let err = expect_err!(
        result,
        Error::BeyondHorizon { index: 0, .. },
        "a window ending 1s after now + max_horizon"
    );
    if let Error::BeyondHorizon { horizon: seen, .. } = err {
        assert_eq!(seen, horizon);
    }
    assert!(h.reservable(&q).await.is_empty());
}

pub async fn repeated_submission_adds_nothing<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let first = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let before = h.reservable(&p).await;
    assert_eq!(before, first);
    let again = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    assert!(again.is_empty(), "repeat added {again:?}");
    assert_eq!(h.reservable(&p).await, before);
}

pub async fn overlapping_windows_merge<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let windows = [
        Window::new(h.day_at(2, 9, 0, 0), h.day_at(2, 11, 0, 0)).expect("window"),
        Window::new(h.day_at(2, 10, 0, 0), h.day_at(2, 12, 0, 0)).expect("window"),
        Window::new(h.day_at(2, 9, 30, 0), h.day_at(2, 9, 45, 0)).expect("window"),
    ];
    let added = h
        .scheduler
        .add_availability(&p, &windows, Precondition::Any)
        .await
        .expect("overlapping windows accepted")
        .added;
    let starts: Vec<_> = added.iter().map(|s| s.start).collect();
    let expected: Vec<_> = (0..12)
        .map(|i| h.day_at(2, 9, 0, 0) + TimeDelta::minutes(15 * i))
        .collect();
    assert_eq!(starts, expected, "09:00-12:00 once each, in order");
    // A later overlapping window adds only what is new.
    let more = h
        .open(&p, h.day_at(2, 11, 0, 0), h.day_at(2, 13, 0, 0))
        .await;
    let starts: Vec<_> = more.iter().map(|s| s.start).collect();
    assert_eq!(starts.first(), Some(&h.day_at(2, 12, 0, 0)));
    assert_eq!(starts.len(), 4);
    assert_eq!(h.reservable(&p).await.len(), 16);
}

pub async fn bad_window_rejects_the_whole_batch_naming_its_index<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let good = Window::new(h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0)).expect("window");
    let also_good = Window::new(h.day_at(3, 9, 0, 0), h.day_at(3, 10, 0, 0)).expect("window");
    let past =
        Window::new(h.now() - TimeDelta::hours(2), h.now() - TimeDelta::hours(1)).expect("window");
    let result = h
        .scheduler
        .add_availability(&p, &[good, also_good, past], Precondition::Any)
        .await;
    let err = expect_err!(
        result,
        Error::WindowInPast { index: 2, .. },
        "a batch whose third window is in the past"
    );
    assert!(
        err.to_string().contains("window 2"),
        "the message names the window: {err}"
    );
    let long = Window::new(h.day_at(1, 0, 0, 0), h.day_at(40, 0, 0, 0)).expect("window");
    let result = h
        .scheduler
        .add_availability(&p, &[good, long], Precondition::Any)
        .await;
    expect_err!(
        result,
        Error::WindowTooLong { index: 1, .. },
        "a batch whose second window is too long"
    );
    let slots = h.reservable(&p).await;
    assert!(slots.is_empty(), "a refused batch added {slots:?}");
}

pub async fn providers_are_isolated<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    h.open(&q, h.day_at(2, 9, 30, 0), h.day_at(2, 10, 30, 0))
        .await;
    let p_starts = h.reservable_starts(&p).await;
    let q_starts = h.reservable_starts(&q).await;
    assert_eq!(p_starts.first(), Some(&h.day_at(2, 9, 0, 0)));
    assert_eq!(q_starts.first(), Some(&h.day_at(2, 9, 30, 0)));
    assert_eq!((p_starts.len(), q_starts.len()), (4, 4));

    // Holding p's 09:30 leaves q's 09:30 alone.
    let c = h.client("c");
    h.hold(&h.slot_id(&p, h.day_at(2, 9, 30, 0)), &c).await;
    assert_eq!(h.reservable_starts(&q).await, q_starts);
    // q has no 09:00 slot, whatever p has.
    let result = h
        .scheduler
        .reserve(&h.slot_id(&q, h.day_at(2, 9, 0, 0)), &c, None)
        .await;
    expect_err!(
        result,
        Error::SlotNotFound { .. },
        "q's 09:00, which only p offers"
    );
}

pub async fn re_adding_a_booked_slot_keeps_the_booking<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let booked_slot = h.slot_id(&p, h.day_at(2, 9, 15, 0));
    let held_slot = h.slot_id(&p, h.day_at(2, 9, 30, 0));
    let booked = h.hold(&booked_slot, &c).await;
    let booked = h
        .scheduler
        .confirm(booked.id, &c)
        .await
        .expect("confirm within the hold");
    let held = h.hold(&held_slot, &c).await;

    let again = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    assert!(again.is_empty(), "re-adding added {again:?}");
    let actor = Actor::Client(c.clone());
    let read = h.scheduler.reservation(booked.id, &actor).await;
    assert_eq!(read.expect("booking readable"), booked);
    let read = h.scheduler.reservation(held.id, &actor).await;
    assert_eq!(read.expect("hold readable").status, ReservationStatus::Held);
    assert_eq!(
        h.reservable_starts(&p).await,
        vec![h.day_at(2, 9, 0, 0), h.day_at(2, 9, 45, 0)]
    );
    for slot in [&booked_slot, &held_slot] {
        let result = h.scheduler.reserve(slot, &other, None).await;
        expect_err!(
            result,
            Error::SlotUnavailable { .. },
            "re-added slot {slot:?} is still taken"
        );
    }
}
