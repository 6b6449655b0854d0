//! `PostgresStore` under contention: many tasks on one pool, two pools acting
//! as two server processes, and withdrawals racing reservations. The database
//! is the judge: its rows are counted after every race.
#![cfg(feature = "postgres")]

mod pg_support;

use scheduler_core::Precondition;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use pg_support::{TestDb, bookable, count, epoch, open, scheduler};
use scheduler_core::{
    Actor, ClientId, Error, ManualClock, Policy, ProviderId, ReservationId, TimeRange,
};
use scheduler_sqlx::PostgresStore;
use tokio::sync::Barrier;

/// Slots with more than one held or confirmed row: always zero.
fn doubly_booked(schema: &str) -> String {
    format!(
        "SELECT count(*) FROM (
            SELECT 1 FROM {schema}.reservations
            WHERE status IN ('held', 'confirmed')
            GROUP BY provider_id, start_s HAVING count(*) > 1
        ) doubles"
    )
}

fn live(schema: &str) -> String {
    format!("SELECT count(*) FROM {schema}.reservations WHERE status IN ('held', 'confirmed')")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_on_one_slot_make_one_hold() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(16).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-busy").unwrap();
    let slot = open(&scheduler, &provider, bookable(), 1).await[0]
        .id
        .clone();

    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (scheduler, slot) = (scheduler.clone(), slot.clone());
            let client = ClientId::new(format!("client-{i}")).unwrap();
            tokio::spawn(async move { scheduler.reserve(&slot, &client, None).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(Error::SlotUnavailable { .. }) => {}
            Err(other) => panic!("a loser must see slot_unavailable, got {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(count(&db, live(&schema)).await, 1);
}

/// Two pools on one schema stand for two server processes: neither knows the
/// other's tasks, only the database serializes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_racing_for_fifty_slots_book_each_once() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    const SLOTS: i64 = 50;
    const TASKS_PER_SLOT_PER_POOL: usize = 4;
    let schema = db.schema().await;
    let clock = ManualClock::new(epoch());
    let first = scheduler(PostgresStore::from_pool(db.pool(&schema, 16).await), &clock);
    let second = scheduler(PostgresStore::from_pool(db.pool(&schema, 16).await), &clock);
    let provider = ProviderId::new("dr-popular").unwrap();
    let slots = open(&first, &provider, bookable(), SLOTS).await;

    let mut tasks = Vec::new();
    for round in 0..TASKS_PER_SLOT_PER_POOL {
        for (side, scheduler) in [&first, &second].into_iter().enumerate() {
            for slot in &slots {
                let (scheduler, slot) = (scheduler.clone(), slot.id.clone());
                let client =
                    ClientId::new(format!("c-{side}-{round}-{}", slot.start().timestamp()))
                        .unwrap();
                tasks.push(tokio::spawn(async move {
                    scheduler.reserve(&slot, &client, None).await
                }));
            }
        }
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(Error::SlotUnavailable { .. }) => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(winners, SLOTS);
    assert_eq!(count(&db, doubly_booked(&schema)).await, 0);
    assert_eq!(count(&db, live(&schema)).await, SLOTS);
    let slots_with_a_winner = count(
        &db,
        format!(
            "SELECT count(DISTINCT start_s) FROM {schema}.reservations
             WHERE status IN ('held', 'confirmed')"
        ),
    )
    .await;
    assert_eq!(slots_with_a_winner, SLOTS);
}

/// Withdrawing a range while clients reserve in it: a slot is either deleted
/// free or kept with its reservation, never deleted under a live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn withdraw_racing_reserve_never_orphans_a_reservation() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    const SLOTS: i64 = 50;
    let schema = db.schema().await;
    let clock = ManualClock::new(epoch());
    let booking = scheduler(PostgresStore::from_pool(db.pool(&schema, 12).await), &clock);
    let withdrawing = scheduler(PostgresStore::from_pool(db.pool(&schema, 4).await), &clock);
    let provider = ProviderId::new("dr-fickle").unwrap();
    let slots = open(&booking, &provider, bookable(), SLOTS).await;
    let range = TimeRange::new(
        bookable(),
        bookable() + TimeDelta::minutes(15) * SLOTS as i32,
    )
    .unwrap();

    // Everyone waits at the barrier, so reserving and withdrawing overlap.
    const WITHDRAWALS: usize = 5;
    let start = Arc::new(Barrier::new(slots.len() * 2 + WITHDRAWALS));
    let mut reserves = Vec::new();
    let mut withdrawals = Vec::new();
    for slot in &slots {
        for client in ["amy", "rory"] {
            let (scheduler, slot, start) = (booking.clone(), slot.id.clone(), start.clone());
            let client = ClientId::new(client).unwrap();
            reserves.push(tokio::spawn(async move {
                start.wait().await;
                scheduler.reserve(&slot, &client, None).await
            }));
        }
    }
    // Each withdrawer sweeps the range in chunks of five slots, from its own
    // starting chunk, so withdrawals keep landing while holds are taken.
    const CHUNK: i64 = 5;
    for w in 0..WITHDRAWALS as i64 {
        let (scheduler, provider, start) = (withdrawing.clone(), provider.clone(), start.clone());
        withdrawals.push(tokio::spawn(async move {
            start.wait().await;
            let mut withdrawals = Vec::new();
            for k in 0..SLOTS / CHUNK {
                let chunk = (w * 2 + k) % (SLOTS / CHUNK);
                let from = bookable() + TimeDelta::minutes(15 * CHUNK * chunk);
                let range = TimeRange::new(from, from + TimeDelta::minutes(15 * CHUNK)).unwrap();
                withdrawals.push(
                    scheduler
                        .withdraw_availability(&provider, range, Precondition::Any)
                        .await?,
                );
            }
            Ok::<_, Error>(withdrawals)
        }));
    }
    let mut held = 0i64;
    for task in reserves {
        match task.await.unwrap() {
            Ok(_) => held += 1,
            Err(Error::SlotUnavailable { .. } | Error::SlotNotFound { .. }) => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    let mut removed = 0;
    for task in withdrawals {
        for withdrawal in task.await.unwrap().expect("withdrawals succeed") {
            removed += withdrawal.removed.len();
            assert!(
                withdrawal
                    .conflicts
                    .iter()
                    .all(|r| r.is_live_at(clock_now(&clock))),
                "conflicts are live reservations"
            );
        }
    }
    eprintln!("race outcome: {held} holds taken, {removed} slots withdrawn");
    let orphans = format!(
        "SELECT count(*) FROM {schema}.reservations r
         WHERE r.status IN ('held', 'confirmed')
           AND NOT EXISTS (
             SELECT 1 FROM {schema}.slots s
             WHERE s.provider_id = r.provider_id AND s.start_s = r.start_s)"
    );
    assert_eq!(
        count(&db, orphans).await,
        0,
        "a live reservation lost its slot"
    );
    assert_eq!(count(&db, live(&schema)).await, held);
    assert_eq!(count(&db, doubly_booked(&schema)).await, 0);
    // The last withdrawal removed every slot free at its commit, and no hold
    // can start on a slot once it is deleted: what remains is booked.
    let last = withdrawing
        .withdraw_availability(&provider, range, Precondition::Any)
        .await
        .unwrap();
    assert!(last.removed.is_empty(), "{:?}", last.removed);
    assert_eq!(last.conflicts.len() as i64, held);
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<chrono::Utc> {
    use scheduler_core::Clock;
    clock.now()
}

/// Another session that moves reservations as a reschedule does (lock the
/// reservation, drop its claims, claim the new cell, move the row), and
/// commits only once the statement under test waits for it.
struct Mover<'a> {
    db: &'a TestDb,
    schema: &'a str,
    conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
    provider: ProviderId,
}

impl<'a> Mover<'a> {
    async fn new(db: &'a TestDb, schema: &'a str, provider: &ProviderId) -> Self {
        let conn = db.pool(schema, 1).await.acquire().await.unwrap();
        let provider = provider.clone();
        Self {
            db,
            schema,
            conn,
            provider,
        }
    }

    /// Moves reservation `id` to the slot at `to`, runs `task` while the
    /// move is open, commits once `task` waits for the move's lock, and
    /// returns what `task` returned.
    async fn across<T: Send + 'static>(
        &mut self,
        id: ReservationId,
        to: DateTime<Utc>,
        task: impl Future<Output = T> + Send + 'static,
    ) -> T {
        let (id, to) = (id.to_u128().to_be_bytes(), to.timestamp());
        for statement in [
            "BEGIN",
            "SELECT 1 FROM reservations WHERE id = $1 FOR UPDATE",
            "DELETE FROM claims WHERE reservation_id = $1",
        ] {
            sqlx::query(statement)
                .bind(&id[..])
                .execute(&mut *self.conn)
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
             SELECT $1, $2, $3, CASE status WHEN 'held' THEN expires_us END
             FROM reservations WHERE id = $3",
        )
        .bind(self.provider.as_str())
        .bind(to)
        .bind(&id[..])
        .execute(&mut *self.conn)
        .await
        .unwrap();
        sqlx::query("UPDATE reservations SET start_s = $1, end_s = $1 + 900 WHERE id = $2")
            .bind(to)
            .bind(&id[..])
            .execute(&mut *self.conn)
            .await
            .unwrap();
        let task = tokio::spawn(task);
        self.until_waited_on().await;
        sqlx::query("COMMIT")
            .execute(&mut *self.conn)
            .await
            .unwrap();
        task.await.unwrap()
    }

    /// Waits until a session of the schema waits for a lock: the statement
    /// under test has met the open move.
    async fn until_waited_on(&self) {
        for _ in 0..1000 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
            )
            .bind(self.schema)
            .fetch_one(self.db.admin())
            .await
            .unwrap();
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "no session of {} came to wait for the move's lock",
            self.schema
        );
    }

    /// The claims of reservation `id` in the database, and how many of them
    /// lapse.
    async fn claims(&self, id: ReservationId) -> (i64, i64) {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), count(expires_us) FROM {}.claims WHERE reservation_id = $1",
            self.schema
        )))
        .bind(&id.to_u128().to_be_bytes()[..])
        .fetch_one(self.db.admin())
        .await
        .unwrap()
    }
}

/// A change of a booking's state that waits for a reschedule of that
/// booking to commit acts on the claims the booking moved to, not on those
/// its statement saw before it waited: a confirm makes them never lapse,
/// and a cancel frees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_change_waiting_on_a_move_acts_on_the_moved_claims() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(4).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-move").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 8).await;
    let (amy, bob) = (ClientId::new("amy").unwrap(), ClientId::new("bob").unwrap());
    let mut mover = Mover::new(&db, &schema, &provider).await;

    let held = scheduler.reserve(&slots[0].id, &amy, None).await.unwrap();
    let confirm = {
        let (scheduler, amy) = (scheduler.clone(), amy.clone());
        async move { scheduler.confirm(held.id, &amy).await }
    };
    mover
        .across(held.id, slots[4].start, confirm)
        .await
        .unwrap();
    assert_eq!(
        mover.claims(held.id).await,
        (1, 0),
        "the moved claim never lapses"
    );

    let cancel = {
        let scheduler = scheduler.clone();
        async move { scheduler.cancel(held.id, &Actor::Client(amy)).await }
    };
    mover.across(held.id, slots[6].start, cancel).await.unwrap();
    assert_eq!(
        mover.claims(held.id).await,
        (0, 0),
        "the moved claim is freed"
    );
    scheduler
        .reserve(&slots[6].id, &bob, None)
        .await
        .expect("the cell the booking moved to is free again");
}

/// As above, for a hold that lapses while a reschedule of it is under way:
/// the sweeper, and a new hold that retires it from the cells it held, each
/// wait for the move and then free the cells the hold moved to.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lapse_waiting_on_a_move_frees_the_moved_claims() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(4).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-lapse").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 8).await;
    let (amy, bob, cy) = (
        ClientId::new("amy").unwrap(),
        ClientId::new("bob").unwrap(),
        ClientId::new("cy").unwrap(),
    );
    let mut mover = Mover::new(&db, &schema, &provider).await;
    let past_expiry = Policy::default().hold_ttl() + TimeDelta::seconds(1);

    // The sweeper.
    let swept = scheduler.reserve(&slots[0].id, &amy, None).await.unwrap();
    clock.advance(past_expiry);
    let sweep = {
        let scheduler = scheduler.clone();
        async move { scheduler.expire_due(100).await }
    };
    assert_eq!(
        mover.across(swept.id, slots[2].start, sweep).await.unwrap(),
        1
    );
    assert_eq!(
        mover.claims(swept.id).await,
        (0, 0),
        "the swept hold's moved claim is freed"
    );
    scheduler
        .reserve(&slots[2].id, &bob, None)
        .await
        .expect("the cell the swept hold moved to is free again");

    // A new hold on the cells the lapsed hold left.
    let retired = scheduler.reserve(&slots[4].id, &amy, None).await.unwrap();
    clock.advance(past_expiry);
    let hold = {
        let (scheduler, slot) = (scheduler.clone(), slots[4].id.clone());
        async move { scheduler.reserve(&slot, &bob, None).await }
    };
    (mover.across(retired.id, slots[6].start, hold).await)
        .expect("the cells the lapsed hold left are free");
    assert_eq!(
        mover.claims(retired.id).await,
        (0, 0),
        "the retired hold's moved claim is freed"
    );
    scheduler
        .reserve(&slots[6].id, &cy, None)
        .await
        .expect("the cell the retired hold moved to is free again");
}
