//! Services: keeping them, listing the starts where one fits, and booking
//! one with its buffers (design section 8).

use chrono::{DateTime, TimeDelta, Utc};

use super::minutes;
use crate::error::Error;
use crate::ids::ServiceId;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;
use crate::{Precondition, TimeRange};

pub async fn services_are_kept_per_provider_by_id<S: Store>(h: Harness<S>) {
    let (p, other) = (h.provider("p"), h.provider("other"));
    let s = &h.scheduler;
    let visit = h.put_service(&p, "visit", 30, 0, 0).await;
    let intake = h.put_service(&p, "intake", 45, 0, 15).await;
    let longer = visit.clone().buffer_before(minutes(15));
    assert!(
        !s.put_service(&longer).await.unwrap(),
        "a second put replaces"
    );
    assert_eq!(s.service(&p, &visit.id).await.unwrap(), longer);
    assert_eq!(s.services(&p).await.unwrap(), vec![intake.clone(), longer]);
    assert!(s.services(&other).await.unwrap().is_empty());
    expect_err!(
        s.service(&other, &visit.id).await,
        Error::ServiceNotFound { .. },
        "another provider's service"
    );
    s.delete_service(&p, &visit.id).await.unwrap();
    expect_err!(
        s.delete_service(&p, &visit.id).await,
        Error::ServiceNotFound { .. },
        "deleting twice"
    );
    expect_err!(
        s.service(&p, &visit.id).await,
        Error::ServiceNotFound { .. },
        "a deleted service"
    );
    assert_eq!(s.services(&p).await.unwrap(), vec![intake]);
}

pub async fn invalid_service_is_refused_naming_the_field<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let good = h.put_service(&p, "good", 30, 0, 0).await;
    for duration in [minutes(20), minutes(0), TimeDelta::hours(24) + minutes(15)] {
        let service = crate::Service {
            duration,
            ..good.clone()
        };
        expect_err!(
            h.scheduler.put_service(&service).await,
            Error::InvalidService {
                field: "duration",
                ..
            },
            "duration {duration}"
        );
    }
    let odd_buffer = good.clone().buffer_after(minutes(5));
    expect_err!(
        h.scheduler.put_service(&odd_buffer).await,
        Error::InvalidService {
            field: "bufferAfter",
            ..
        },
        "a buffer off the grid"
    );
    assert_eq!(
        h.scheduler.service(&p, &good.id).await.unwrap(),
        good,
        "a refused put changes nothing"
    );
}

pub async fn service_starts_need_every_slot_of_the_appointment<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    h.open(&p, h.day_at(2, 10, 15, 0), h.day_at(2, 11, 0, 0))
        .await;
    let visit = h.put_service(&p, "visit", 45, 0, 0).await;
    let listed = h.service_starts_paged(&visit, 50).await;
    let starts: Vec<_> = listed.iter().map(|slot| slot.start).collect();
    assert_eq!(
        starts,
        [
            h.day_at(2, 9, 0, 0),
            h.day_at(2, 9, 15, 0),
            h.day_at(2, 10, 15, 0)
        ],
        "09:30 would need the unpublished 10:00"
    );
    for slot in &listed {
        assert_eq!(slot.end, slot.start + minutes(45));
        assert_eq!(slot.id.service(), Some(&visit.id));
        assert_eq!(slot.id, h.service_slot(&visit, slot.start));
    }
    let c = h.client("c");
    let missing = h.service_slot(&visit, h.day_at(2, 9, 30, 0));
    expect_err!(
        h.scheduler.reserve(&missing, &c, None).await,
        Error::SlotNotFound { .. },
        "an appointment over an unpublished slot"
    );
    assert!(h.provider_bookings(&p).await.is_empty());
}

pub async fn buffers_need_no_availability_but_block_other_bookings<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 30, 15, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 9, 30, 0))
        .await;
    assert_eq!(h.service_starts(&visit).await, [h.day_at(2, 9, 0, 0)]);
    let held = h
        .hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &c)
        .await;
    assert_eq!(held.service_id, Some(visit.id.clone()));
    assert_eq!(
        (held.start, held.end, held.blocked_start, held.blocked_end),
        (
            h.day_at(2, 9, 0, 0),
            h.day_at(2, 9, 30, 0),
            h.day_at(2, 8, 45, 0),
            h.day_at(2, 9, 45, 0)
        )
    );
    // The buffers' cells published afterwards are blocked all the same.
    h.open(&p, h.day_at(2, 8, 30, 0), h.day_at(2, 10, 0, 0))
        .await;
    assert_eq!(
        h.reservable_starts(&p).await,
        [h.day_at(2, 8, 30, 0), h.day_at(2, 9, 45, 0)],
        "08:45 and 09:30 lie in the buffers"
    );
    for start in [h.day_at(2, 8, 45, 0), h.day_at(2, 9, 30, 0)] {
        expect_err!(
            h.scheduler.reserve(&h.slot_id(&p, start), &c, None).await,
            Error::SlotUnavailable { .. },
            "a plain slot in a buffer at {start}"
        );
    }
    h.hold(&h.slot_id(&p, h.day_at(2, 9, 45, 0)), &c).await;
}

pub async fn buffers_of_two_bookings_never_overlap<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 15, 15, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 11, 0, 0))
        .await;
    h.hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &c)
        .await;
    // Blocked: 08:45-09:30. A start at 09:30 would block 09:15-10:00.
    let starts = h.service_starts(&visit).await;
    assert_eq!(starts.first(), Some(&h.day_at(2, 9, 45, 0)), "{starts:?}");
    expect_err!(
        h.scheduler
            .reserve(&h.service_slot(&visit, h.day_at(2, 9, 30, 0)), &c, None)
            .await,
        Error::SlotUnavailable { .. },
        "buffer against buffer"
    );
    h.hold(&h.service_slot(&visit, h.day_at(2, 9, 45, 0)), &c)
        .await;
}

pub async fn service_notice_is_the_stricter_of_policy_and_service<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let strict = h.put_service(&p, "strict", 15, 0, 0).await;
    let strict = strict.min_notice(TimeDelta::hours(48));
    h.scheduler.put_service(&strict).await.unwrap();
    let lax = h
        .put_service(&p, "lax", 15, 0, 0)
        .await
        .min_notice(TimeDelta::hours(1));
    h.scheduler.put_service(&lax).await.unwrap();
    let (nine, ten) = (h.day_at(3, 9, 0, 0), h.day_at(3, 10, 0, 0));
    h.open(&p, nine, nine + minutes(15)).await;
    h.open(&p, ten, ten + minutes(15)).await;

    h.set(nine - TimeDelta::hours(48) + TimeDelta::seconds(1));
    assert_eq!(h.service_starts(&strict).await, [ten]);
    let err = expect_err!(
        h.scheduler
            .reserve(&h.service_slot(&strict, nine), &c, None)
            .await,
        Error::LeadTime { .. },
        "48 h notice less a second"
    );
    assert!(matches!(err, Error::LeadTime { min_lead, .. } if min_lead == TimeDelta::hours(48)));
    h.set(nine - TimeDelta::hours(48));
    assert_eq!(h.service_starts(&strict).await, [nine, ten]);
    h.hold(&h.service_slot(&strict, nine), &c).await;

    // A service cannot be laxer than the policy's 24 h.
    h.set(ten - TimeDelta::hours(24) + TimeDelta::seconds(1));
    assert!(h.service_starts(&lax).await.is_empty());
    expect_err!(
        h.scheduler
            .reserve(&h.service_slot(&lax, ten), &c, None)
            .await,
        Error::LeadTime { .. },
        "24 h less a second, for a service asking 1 h"
    );
    h.set(ten - TimeDelta::hours(24));
    h.hold(&h.service_slot(&lax, ten), &c).await;
}

/// A service whose notice is longer than the policy's lists from its own
/// notice on, however many free slots lie between the two, on every page.
pub async fn a_long_notice_is_kept_across_pages<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let strict = h.put_service(&p, "strict", 30, 0, 0).await;
    let strict = strict.min_notice(TimeDelta::hours(48));
    h.scheduler.put_service(&strict).await.unwrap();
    // Free from 25 h to 50 h ahead: 92 slots before the service's notice.
    let now = h.now();
    h.open(&p, now + TimeDelta::hours(25), now + TimeDelta::hours(50))
        .await;
    let first = now + TimeDelta::hours(48);
    let expected: Vec<_> = (0..7).map(|i| first + minutes(15 * i)).collect();
    for limit in [1, 2, 3, 50] {
        let listed = h.service_start_times_paged(&strict, limit).await;
        assert_eq!(listed, expected, "pages of {limit}");
    }
}

pub async fn service_horizon_is_the_stricter_of_policy_and_service<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let soon = h
        .put_service(&p, "soon", 15, 0, 0)
        .await
        .max_advance(TimeDelta::days(3));
    h.scheduler.put_service(&soon).await.unwrap();
    let edge = h.now() + TimeDelta::days(3);
    h.open(&p, edge - minutes(15), edge + minutes(30)).await;
    assert_eq!(
        h.service_starts(&soon).await,
        [edge - minutes(15), edge],
        "a start exactly at now + 3 days is in; one slot later is out"
    );
    let err = expect_err!(
        h.scheduler
            .reserve(&h.service_slot(&soon, edge + minutes(15)), &c, None)
            .await,
        Error::TooFarAhead { .. },
        "one slot past the horizon"
    );
    assert_eq!(err.code(), "too_far_ahead");
    h.hold(&h.service_slot(&soon, edge), &c).await;
    // The policy's horizon caps a laxer service.
    let far = h
        .put_service(&p, "far", 15, 0, 0)
        .await
        .max_advance(TimeDelta::days(3650));
    assert_eq!(
        far.horizon(h.scheduler.policy()),
        h.scheduler.policy().max_horizon()
    );
}

pub async fn bookings_keep_their_spans_when_the_service_changes<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 45, 0, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 11, 0, 0))
        .await;
    let held = h
        .hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &c)
        .await;
    let shorter = h.put_service(&p, "visit", 15, 0, 0).await;
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await
        .unwrap();
    assert_eq!(
        read, held,
        "the booking keeps the 45 minutes it was made with"
    );
    let starts = h.service_starts(&shorter).await;
    assert_eq!(starts.first(), Some(&h.day_at(2, 10, 0, 0)), "{starts:?}");
    h.scheduler.delete_service(&p, &shorter.id).await.unwrap();
    assert_eq!(h.provider_bookings(&p).await, [held]);
    expect_err!(
        h.scheduler
            .reserve(&h.service_slot(&shorter, h.day_at(2, 10, 0, 0)), &c, None)
            .await,
        Error::ServiceNotFound { .. },
        "a deleted service's slot id"
    );
    expect_err!(
        h.scheduler
            .list_service_starts(&p, &shorter.id, crate::ListQuery::all())
            .await,
        Error::ServiceNotFound { .. },
        "a deleted service's listing"
    );
}

pub async fn a_lapsed_hold_in_the_way_is_retired_exactly_at_expiry<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (first, second) = (h.client("first"), h.client("second"));
    let visit = h.put_service(&p, "visit", 30, 0, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let plain = h.hold(&h.slot_id(&p, h.day_at(2, 9, 30, 0)), &first).await;
    let slot = h.service_slot(&visit, h.day_at(2, 9, 0, 0));
    h.set(plain.expires_at - TimeDelta::microseconds(1));
    expect_err!(
        h.scheduler.reserve(&slot, &second, None).await,
        Error::SlotUnavailable { .. },
        "the hold in the buffer is live for one more microsecond"
    );
    h.set(plain.expires_at);
    h.hold(&slot, &second).await;
    let stored = h.scheduler.store().reservation(plain.id).await.unwrap();
    assert_eq!(
        stored.map(|r| r.status),
        Some(ReservationStatus::Expired),
        "the displaced hold is stored expired in the same step"
    );
}

pub async fn withdrawal_keeps_the_appointment_and_drops_its_buffers<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 30, 15, 0).await;
    h.open(&p, h.day_at(2, 8, 45, 0), h.day_at(2, 10, 0, 0))
        .await;
    let held = h
        .hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &c)
        .await;
    let all = Harness::<S>::range(h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0));
    let withdrawal = h
        .scheduler
        .withdraw_availability(&p, all, Precondition::Any)
        .await
        .unwrap();
    let removed: Vec<DateTime<Utc>> = withdrawal.removed.iter().map(|s| s.start).collect();
    assert_eq!(
        removed,
        [
            h.day_at(2, 8, 45, 0),
            h.day_at(2, 9, 30, 0),
            h.day_at(2, 9, 45, 0)
        ],
        "the buffer's slot goes, the appointment's two stay"
    );
    assert_eq!(
        withdrawal.conflicts,
        std::slice::from_ref(&held),
        "one conflict per booking"
    );
    h.scheduler
        .cancel(held.id, &Actor::Client(c))
        .await
        .unwrap();
    assert_eq!(
        h.reservable_starts(&p).await,
        [h.day_at(2, 9, 0, 0), h.day_at(2, 9, 15, 0)]
    );
}

pub async fn service_listing_matches_a_slot_by_slot_check<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 45, 15, 15).await;
    // Runs of 2, 3, 4, ... slots with one-slot gaps, and a few bookings.
    let mut at = h.day_at(2, 6, 0, 0);
    for run in 2..12 {
        h.open(&p, at, at + minutes(15 * run)).await;
        at += minutes(15 * (run + 1));
    }
    for start in [h.day_at(2, 8, 0, 0), h.day_at(2, 12, 30, 0)] {
        let slot = h.slot_id(&p, start);
        if h.scheduler.reserve(&slot, &c, None).await.is_err() {
            panic!("{start} should be reservable");
        }
    }
    let published = h.reservable_starts(&p).await;
    let blocked: Vec<_> = h
        .provider_bookings(&p)
        .await
        .into_iter()
        .map(|r| (r.blocked_start, r.blocked_end))
        .collect();
    let published_slots = {
        let mut all = published.clone();
        all.extend(blocked.iter().map(|(start, _)| *start));
        all
    };
    let expected: Vec<_> = published
        .iter()
        .copied()
        .filter(|&t| {
            (0..3).all(|i| published_slots.contains(&(t + minutes(15 * i))))
                && blocked
                    .iter()
                    .all(|&(from, to)| t + minutes(60) <= from || to <= t - minutes(15))
        })
        .collect();
    assert!(
        expected.len() > 10,
        "the calendar offers a fair number: {expected:?}"
    );
    for limit in [1, 2, 3, 7, 500] {
        let listed = h.service_start_times_paged(&visit, limit).await;
        assert_eq!(listed, expected, "pages of {limit}");
    }
    let range = TimeRange::new(h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0)).unwrap();
    let page = h
        .scheduler
        .list_service_starts(&p, &visit.id, crate::ListQuery::new(range))
        .await
        .unwrap();
    let inside: Vec<_> = expected
        .iter()
        .copied()
        .filter(|&t| range.from() <= t && t < range.to())
        .collect();
    assert_eq!(
        page.items.iter().map(|s| s.start).collect::<Vec<_>>(),
        inside,
        "the range bounds the start, not the appointment"
    );
    let unknown = ServiceId::new("unknown").unwrap();
    expect_err!(
        h.scheduler
            .list_service_starts(&p, &unknown, crate::ListQuery::all())
            .await,
        Error::ServiceNotFound { .. },
        "listing an unknown service"
    );
}
