//! Listing reservable slots: lead time, order, pages, cursors and ranges.

use crate::Precondition;
use chrono::{DateTime, TimeDelta, Utc};

use crate::error::Error;
use crate::grid::{TimeRange, Window};
use crate::ids::ProviderId;
use crate::model::Actor;
use crate::scheduler::ListQuery;
use crate::store::Store;
use crate::testkit::Harness;

/// Starts of the first page of `provider`'s slots in `[from, to)`.
async fn starts_in<S: Store>(
    h: &Harness<S>,
    provider: &ProviderId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let query = ListQuery::new(Harness::<S>::range(from, to));
    let page = h.scheduler.list_slots(provider, query).await;
    let page = page.unwrap_or_else(|err| panic!("listing [{from}, {to}): {err:?}"));
    page.items.into_iter().map(|s| s.start).collect()
}

/// Every slot start of `count` consecutive 15-minute slots from `first`.
fn grid_from(first: DateTime<Utc>, count: i64) -> Vec<DateTime<Utc>> {
    (0..count)
        .map(|i| first + TimeDelta::minutes(15 * i))
        .collect()
}

pub async fn slot_at_exactly_min_lead_is_listed_until_a_second_later<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let at_lead = h.now() + h.scheduler.policy().min_lead();
    h.open(&p, at_lead, at_lead + TimeDelta::hours(1)).await;
    let starts = h.reservable_starts(&p).await;
    assert_eq!(
        starts.first(),
        Some(&at_lead),
        "the slot at now + 24h is listed: {starts:?}"
    );
    h.advance(TimeDelta::seconds(1));
    let starts = h.reservable_starts(&p).await;
    assert_eq!(
        starts,
        grid_from(at_lead + TimeDelta::minutes(15), 3),
        "1s later the slot at {at_lead} is inside the lead time"
    );
}

pub async fn slots_are_ordered_by_start<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let windows = [
        Window::new(h.day_at(3, 9, 0, 0), h.day_at(3, 10, 0, 0)).expect("window"),
        Window::new(h.day_at(2, 14, 0, 0), h.day_at(2, 15, 0, 0)).expect("window"),
    ];
    h.scheduler
        .add_availability(&p, &windows, Precondition::Any)
        .await
        .expect("windows accepted");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let mut expected = grid_from(h.day_at(2, 9, 0, 0), 4);
    expected.extend(grid_from(h.day_at(2, 14, 0, 0), 4));
    expected.extend(grid_from(h.day_at(3, 9, 0, 0), 4));
    assert_eq!(h.reservable_starts(&p).await, expected);
}

pub async fn default_page_is_fifty<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.open(&p, h.day_at(2, 0, 0, 0), h.day_at(2, 15, 0, 0))
        .await;
    let page = h.scheduler.list_slots(&p, ListQuery::all()).await;
    let page = page.expect("listing works");
    assert_eq!(page.items.len(), 50, "default page of 60 slots");
    let cursor = page.next_cursor.expect("a cursor after a full page");
    let rest = h
        .scheduler
        .list_slots(&p, ListQuery::all().cursor(cursor))
        .await
        .expect("second page");
    assert_eq!(rest.items.len(), 10);
    assert_eq!(rest.next_cursor, None, "the last page has no cursor");
}

pub async fn page_limit_is_between_one_and_five_hundred<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    // 600 slots: more than the largest page.
    h.open(&p, h.day_at(2, 0, 0, 0), h.day_at(8, 6, 0, 0)).await;
    for (limit, len) in [(500, 500), (1, 1)] {
        let page = h
            .scheduler
            .list_slots(&p, ListQuery::all().limit(limit))
            .await;
        let page = page.unwrap_or_else(|err| panic!("limit {limit}: {err:?}"));
        assert_eq!(page.items.len(), len, "limit {limit}");
        assert!(page.next_cursor.is_some(), "limit {limit} leaves more");
    }
    for limit in [501, 0] {
        let result = h
            .scheduler
            .list_slots(&p, ListQuery::all().limit(limit))
            .await;
        let err = expect_err!(result, Error::InvalidLimit { .. }, "limit {limit}");
        if let Error::InvalidLimit { limit: l, max } = err {
            assert_eq!((l, max), (limit, 500));
        }
    }
}

pub async fn cursor_pages_miss_and_repeat_nothing<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let all = h
        .open(&p, h.day_at(2, 0, 0, 0), h.day_at(3, 8, 30, 0))
        .await;
    assert_eq!(all.len(), 130);
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = ListQuery::all().limit(50);
    loop {
        let page = h.scheduler.list_slots(&p, query.clone()).await;
        let page = page.expect("page");
        sizes.push(page.items.len());
        seen.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query = query.cursor(cursor),
            None => break,
        }
    }
    assert_eq!(sizes, vec![50, 50, 30]);
    assert_eq!(seen, all, "pages concatenate to every slot once, in order");
}

pub async fn paging_survives_reservations_between_pages<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let all = h
        .open(&p, h.day_at(2, 0, 0, 0), h.day_at(3, 8, 30, 0))
        .await;
    let query = ListQuery::all().limit(50);
    let first = h.scheduler.list_slots(&p, query.clone()).await;
    let first = first.expect("first page");
    // Take one slot already seen, the next page's first, and one further on.
    for i in [10, 50, 75] {
        h.hold(&all[i].id, &c).await;
    }
    let mut seen = first.items;
    let mut cursor = first.next_cursor;
    while let Some(next) = cursor {
        let page = h.scheduler.list_slots(&p, query.clone().cursor(next)).await;
        let page = page.expect("later page");
        seen.extend(page.items);
        cursor = page.next_cursor;
    }
    let expected: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != 50 && i != 75)
        .map(|(_, s)| s.clone())
        .collect();
    assert_eq!(
        seen, expected,
        "every slot free when its page was read, once, in order"
    );
}

pub async fn held_and_confirmed_slots_are_not_listed<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    h.hold(&slots[1].id, &c).await;
    let booked = h.hold(&slots[2].id, &c).await;
    h.scheduler
        .confirm(booked.id, &c)
        .await
        .expect("confirm within the hold");
    assert_eq!(
        h.reservable_starts(&p).await,
        vec![slots[0].start, slots[3].start]
    );
}

pub async fn held_slot_reappears_exactly_at_expiry<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.set(held.expires_at - TimeDelta::seconds(1));
    assert!(
        h.reservable_starts(&p).await.is_empty(),
        "held until {}, listed at {}",
        held.expires_at,
        h.now()
    );
    h.set(held.expires_at);
    assert_eq!(
        h.reservable_starts(&p).await,
        vec![h.day_at(2, 9, 0, 0)],
        "a hold is expired at expires_at, without any sweep"
    );
}

pub async fn cancelled_slot_reappears_at_once<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 9, 30, 0))
        .await;
    let held = h.hold(&slots[0].id, &c).await;
    let booked = h.hold(&slots[1].id, &c).await;
    h.scheduler
        .confirm(booked.id, &c)
        .await
        .expect("confirm within the hold");
    assert!(h.reservable_starts(&p).await.is_empty());
    h.scheduler
        .cancel(held.id, &Actor::Client(c.clone()))
        .await
        .expect("client cancels the hold");
    h.scheduler
        .cancel(booked.id, &Actor::Provider(p.clone()))
        .await
        .expect("provider cancels the booking");
    assert_eq!(h.reservable(&p).await, slots, "no clock move needed");
}

pub async fn range_includes_from_and_excludes_to<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 11, 0, 0))
        .await;
    let starts = starts_in(&h, &p, h.day_at(2, 9, 30, 0), h.day_at(2, 10, 30, 0)).await;
    assert_eq!(starts, grid_from(h.day_at(2, 9, 30, 0), 4));
}

pub async fn range_bounds_with_sub_seconds<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 11, 0, 0))
        .await;
    let ns = TimeDelta::nanoseconds(1);
    let (from, to) = (h.day_at(2, 9, 30, 0), h.day_at(2, 10, 30, 0));
    assert_eq!(
        starts_in(&h, &p, from + ns, to + ns).await,
        grid_from(h.day_at(2, 9, 45, 0), 4),
        "from just after 09:30 skips it; to just after 10:30 takes it"
    );
    assert_eq!(
        starts_in(&h, &p, from - ns, to - ns).await,
        grid_from(h.day_at(2, 9, 30, 0), 4),
        "from just before 09:30 takes it; to just before 10:30 leaves it"
    );
    assert!(
        starts_in(&h, &p, from + ns, h.day_at(2, 9, 45, 0))
            .await
            .is_empty()
    );
}

pub async fn range_end_not_after_start_is_invalid<S: Store>(h: Harness<S>) {
    let t = h.day_at(2, 9, 0, 0);
    for (from, to) in [(t, t), (t + TimeDelta::nanoseconds(1), t)] {
        expect_err!(
            TimeRange::new(from, to),
            Error::InvalidRange { .. },
            "range [{from}, {to})"
        );
    }
    assert!(TimeRange::new(t, t + TimeDelta::nanoseconds(1)).is_ok());
}

pub async fn garbage_cursor_is_invalid<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    // Not base64url, empty, too short, and (the last) a well-formed slot
    // cursor naming an off-grid instant (epoch + 1s).
    for garbage in ["garbage!", "", "AAAA", "S", "UwAAAAAAAAAB"] {
        let result = h
            .scheduler
            .list_slots(&p, ListQuery::all().cursor(garbage))
            .await;
        expect_err!(result, Error::InvalidCursor, "slot cursor {garbage:?}");
        let result = h
            .scheduler
            .provider_reservations(&p, ListQuery::all().cursor(garbage))
            .await;
        expect_err!(
            result,
            Error::InvalidCursor,
            "reservation cursor {garbage:?}"
        );
    }
}

pub async fn cursors_do_not_cross_listings<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    for slot in &slots[..2] {
        h.hold(&slot.id, &c).await;
    }
    let reservations = h
        .scheduler
        .provider_reservations(&p, ListQuery::all().limit(1))
        .await
        .expect("reservation page");
    let reservation_cursor = reservations.next_cursor.expect("more reservations");
    let result = h
        .scheduler
        .list_slots(&p, ListQuery::all().cursor(reservation_cursor))
        .await;
    expect_err!(
        result,
        Error::InvalidCursor,
        "a reservation cursor on slots"
    );

    let page = h
        .scheduler
        .list_slots(&p, ListQuery::all().limit(1))
        .await
        .expect("slot page");
    let slot_cursor = page.next_cursor.expect("more slots");
    let result = h
        .scheduler
        .client_reservations(&c, ListQuery::all().cursor(slot_cursor))
        .await;
    expect_err!(
        result,
        Error::InvalidCursor,
        "a slot cursor on reservations"
    );
}
