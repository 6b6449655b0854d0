//! Reading reservations: one by id, and the provider's and client's listings.

use chrono::TimeDelta;

use crate::error::Error;
use crate::ids::{ClientId, ProviderId, ReservationId};
use crate::model::{Actor, Reservation, ReservationStatus};
use crate::scheduler::ListQuery;
use crate::store::Store;
use crate::testkit::Harness;

pub async fn read_derives_expiry_without_sweep<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let actor = Actor::Client(c.clone());
    h.set(held.expires_at - TimeDelta::seconds(1));
    let read = h.scheduler.reservation(held.id, &actor).await;
    assert_eq!(read.expect("readable").status, ReservationStatus::Held);
    h.set(held.expires_at);
    let read = h.scheduler.reservation(held.id, &actor).await;
    let read = read.expect("readable");
    assert_eq!(
        read.status,
        ReservationStatus::Expired,
        "a hold reads expired at expires_at, with no sweep"
    );
    assert_eq!(read.expires_at, held.expires_at);
}

pub async fn reads_are_for_its_client_and_provider_only<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    for actor in [Actor::Client(c), Actor::Provider(p)] {
        let read = h.scheduler.reservation(held.id, &actor).await;
        let read = read.unwrap_or_else(|err| panic!("{actor:?} reading: {err:?}"));
        assert_eq!(read, held);
    }
    for actor in [Actor::Client(other), Actor::Provider(q)] {
        let result = h.scheduler.reservation(held.id, &actor).await;
        expect_err!(result, Error::Forbidden { .. }, "{actor:?} reading");
    }
    let unknown = ReservationId::generate();
    let result = h
        .scheduler
        .reservation(unknown, &Actor::Client(held.client_id))
        .await;
    expect_err!(
        result,
        Error::ReservationNotFound { .. },
        "unknown {unknown}"
    );
}

pub async fn provider_listing_has_every_status_in_order<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let c = h.client("c");
    let s = h
        .open(&p, h.day_at(2, 8, 45, 0), h.day_at(2, 10, 15, 0))
        .await;
    let theirs = h.open_slot(&q, h.day_at(2, 9, 0, 0)).await;
    // s[0] 08:45 and s[5] 10:00 fall outside the range [09:00, 10:00).
    let lapsed = h.hold(&s[3].id, &c).await;
    h.advance(TimeDelta::minutes(20));
    let booked = h.hold(&s[2].id, &c).await;
    let booked = h.scheduler.confirm(booked.id, &c).await.expect("confirm");
    let dropped = h.hold(&s[4].id, &c).await;
    let dropped = h
        .scheduler
        .cancel(dropped.id, &Actor::Provider(p.clone()))
        .await
        .expect("cancel");
    h.advance(TimeDelta::minutes(15));
    let live = h.hold(&s[1].id, &c).await;
    h.hold(&s[0].id, &c).await;
    h.hold(&s[5].id, &c).await;
    h.hold(&theirs, &c).await;

    let range = Harness::<S>::range(h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0));
    let page = h
        .scheduler
        .provider_reservations(&p, ListQuery::new(range))
        .await
        .expect("listing");
    assert_eq!(page.next_cursor, None);
    let mut expired = lapsed.clone();
    expired.status = ReservationStatus::Expired;
    assert_eq!(
        page.items,
        vec![live, booked, expired, dropped],
        "held, confirmed, expired (derived, unswept), cancelled; by start"
    );
}

pub async fn client_listing_has_only_their_own<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let (c, other) = (h.client("c"), h.client("other"));
    let ps = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let qs = h
        .open(&q, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let mut mine = vec![
        h.hold(&qs[2].id, &c).await,
        h.hold(&ps[0].id, &c).await,
        h.hold(&ps[3].id, &c).await,
    ];
    h.hold(&ps[1].id, &other).await;
    h.hold(&qs[0].id, &other).await;
    mine.sort_by_key(|r| r.start);
    let page = h
        .scheduler
        .client_reservations(&c, ListQuery::all())
        .await
        .expect("listing");
    assert_eq!(page.items, mine, "c's holds at both providers, by start");
    let theirs = h
        .scheduler
        .client_reservations(&other, ListQuery::all())
        .await
        .expect("listing");
    assert!(theirs.items.iter().all(|r| r.client_id == other));
    assert_eq!(theirs.items.len(), 2);
}

/// Whose reservations a listing shows.
enum Listing<'a> {
    Provider(&'a ProviderId),
    Client(&'a ClientId),
}

/// Every page of a reservation listing with pages of `limit`, and the page sizes.
async fn pages<S: Store>(
    h: &Harness<S>,
    listing: Listing<'_>,
    limit: u32,
) -> (Vec<Reservation>, Vec<usize>) {
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    let mut query = ListQuery::all().limit(limit);
    loop {
        let page = match listing {
            Listing::Provider(p) => h.scheduler.provider_reservations(p, query.clone()).await,
            Listing::Client(c) => h.scheduler.client_reservations(c, query.clone()).await,
        };
        let page = page.unwrap_or_else(|err| panic!("page after {:?}: {err:?}", query.cursor));
        sizes.push(page.items.len());
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query = query.cursor(cursor),
            None => return (all, sizes),
        }
    }
}

pub async fn reservation_pages_miss_and_repeat_nothing<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let s = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 15, 0))
        .await;
    // Two reservations on s[1]: with pages of 2 they straddle the first boundary.
    let mut made = Vec::new();
    for slot in &s {
        made.push(h.hold(&slot.id, &c).await);
    }
    let first = h
        .scheduler
        .cancel(made[1].id, &Actor::Client(c.clone()))
        .await
        .expect("cancel");
    made[1] = first;
    made.push(h.hold(&s[1].id, &c).await);
    made.sort_by_key(|r| (r.start, r.id));

    let (seen, sizes) = pages(&h, Listing::Provider(&p), 2).await;
    assert_eq!(sizes, vec![2, 2, 2], "six reservations, pages of two");
    assert_eq!(seen, made, "every reservation once, by (start, id)");
    let (seen, _) = pages(&h, Listing::Client(&c), 2).await;
    assert_eq!(seen, made, "the client's listing pages the same way");
    let (seen, _) = pages(&h, Listing::Client(&other), 2).await;
    assert!(seen.is_empty());
}

pub async fn reservation_listing_range_is_half_open<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let s = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 15, 0))
        .await;
    let at_from = h.hold(&s[0].id, &c).await;
    h.hold(&s[4].id, &c).await;
    let range = Harness::<S>::range(h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0));
    for page in [
        h.scheduler
            .provider_reservations(&p, ListQuery::new(range))
            .await,
        h.scheduler
            .client_reservations(&c, ListQuery::new(range))
            .await,
    ] {
        let page = page.expect("listing");
        assert_eq!(page.items, vec![at_from.clone()], "[09:00, 10:00)");
    }
    let result = h
        .scheduler
        .provider_reservations(&p, ListQuery::all().limit(0))
        .await;
    expect_err!(result, Error::InvalidLimit { .. }, "limit 0");
    let result = h
        .scheduler
        .client_reservations(&c, ListQuery::all().limit(501))
        .await;
    expect_err!(result, Error::InvalidLimit { .. }, "limit 501");
}
