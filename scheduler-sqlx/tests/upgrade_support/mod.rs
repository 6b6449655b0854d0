//! What both databases must show after the services migration, over rows
//! written by the migrations before it: provider `p-old`, four slots from
//! `s`, 15 minutes apart, with a live hold (id bytes 1, client `amy`), a
//! booking (2), an expired hold (3) and a lapsed, unswept hold (4) on them
//! in that order.

use chrono::{DateTime, TimeDelta, Utc};
use scheduler_core::{
    Actor, ClientId, Clock, Error, ListQuery, ProviderId, ReservationId, ReservationStatus,
    Scheduler, SlotId, Store,
};

/// The live reservations keep their slots, the dead ones free theirs, the
/// lapsed hold gives way to the next and is stored expired, and a cancelled
/// hold frees its slot.
pub async fn upgraded_calendar_behaves<S: Store, C: Clock>(
    scheduler: &Scheduler<S, C>,
    s: DateTime<Utc>,
) {
    let p = ProviderId::new("p-old").unwrap();
    let at = |n: i64| s + TimeDelta::minutes(15 * n);
    let free: Vec<_> = scheduler
        .list_slots(&p, ListQuery::all())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|slot| slot.start)
        .collect();
    assert_eq!(free, [at(2), at(3)], "the held and booked slots stay taken");
    let eve = ClientId::new("eve").unwrap();
    for n in [0, 1] {
        let taken = scheduler
            .reserve(&SlotId::new(p.clone(), at(n)), &eve, None)
            .await;
        assert!(
            matches!(taken, Err(Error::SlotUnavailable { .. })),
            "{taken:?}"
        );
    }
    scheduler
        .reserve(&SlotId::new(p.clone(), at(3)), &eve, None)
        .await
        .expect("the lapsed hold gives way");
    let lapsed = ReservationId::from_u128(u128::from_be_bytes([4; 16]));
    let stored = scheduler
        .store()
        .reservation(lapsed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.status,
        ReservationStatus::Expired,
        "the lapsed hold was retired"
    );
    let amy = Actor::Client(ClientId::new("amy").unwrap());
    let held = ReservationId::from_u128(u128::from_be_bytes([1; 16]));
    scheduler.cancel(held, &amy).await.unwrap();
    scheduler
        .reserve(&SlotId::new(p.clone(), at(0)), &eve, None)
        .await
        .expect("a cancelled hold frees its slot");
}
