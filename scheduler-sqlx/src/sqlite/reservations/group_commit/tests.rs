//! Group commit keeps every hold's own outcome: batches driven directly, and
//! holds racing through the queue.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use scheduler_core::store::ReservationStore;
use scheduler_core::testkit::Harness;
use scheduler_core::{
    ClientId, Error, IdempotencyKey, Reservation, ReservationId, ReservationStatus, SlotId,
};
use tokio::sync::Barrier;

use super::*;
use crate::SqliteStore;

/// A database file in the temp directory, removed with its WAL files on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let file = format!("scheduler-group-{name}-{}-{n}.db", std::process::id());
        let db = Self(std::env::temp_dir().join(file));
        db.remove();
        db
    }

    async fn harness(&self) -> Harness<SqliteStore> {
        let url = format!("sqlite://{}", self.0.display());
        let store = SqliteStore::connect_with(SqliteStore::connect_options(&url).unwrap(), 4)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        Harness::new(store)
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

type Answer = oneshot::Receiver<Result<HoldOutcome>>;

/// The hold the scheduler would ask for: `client` on `slot` at the clock's now.
fn job(
    h: &Harness<SqliteStore>,
    slot: &SlotId,
    client: &ClientId,
    key: Option<&str>,
) -> (Job, Answer) {
    let grid = h.scheduler.policy().grid();
    let start = grid.slot_at(slot.start()).expect("on the grid");
    let now = h.now();
    let (reply, answer) = oneshot::channel();
    let reservation = Reservation {
        id: ReservationId::generate(),
        slot_id: slot.clone(),
        provider_id: slot.provider().clone(),
        client_id: client.clone(),
        service_id: None,
        start: start.instant(),
        end: grid.end_of(start),
        blocked_start: start.instant(),
        blocked_end: grid.end_of(start),
        status: ReservationStatus::Held,
        created_at: now,
        expires_at: now + h.scheduler.policy().hold_ttl(),
        confirmed_at: None,
    };
    let key = key.map(|key| IdempotencyKey::new(key).expect("key"));
    let job = Job {
        reservation,
        claim: Claim::slot(start, grid),
        key,
        now,
        reply,
    };
    (job, answer)
}

/// The outcomes of holds none of which may fail.
async fn held(answers: Vec<Answer>) -> Vec<HoldOutcome> {
    let outcomes = outcomes(answers).await.into_iter();
    outcomes
        .map(|outcome| outcome.expect("no hold failed"))
        .collect()
}

async fn outcomes(answers: Vec<Answer>) -> Vec<Result<HoldOutcome>> {
    let mut outcomes = Vec::new();
    for answer in answers {
        outcomes.push(answer.await.expect("every caller is answered"));
    }
    outcomes
}

async fn stored_status(store: &SqliteStore, id: ReservationId) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM reservations WHERE id = ?1")
        .bind(crate::row::id_bytes(id))
        .fetch_optional(store.writer())
        .await
        .expect("status")
}

async fn count(store: &SqliteStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(store.writer())
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_every_hold_as_if_taken_one_after_another() {
    let db = TempDb::new("sequential");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let (amy, bob) = (h.client("amy"), h.client("bob"));
    let missing = h.slot_id(&p, h.day_at(3, 9, 0, 0));
    let (jobs, answers): (Vec<_>, Vec<_>) = [
        job(&h, &slots[0].id, &amy, None),
        // Taken by the hold just before it in the same batch.
        job(&h, &slots[0].id, &bob, None),
        job(&h, &slots[1].id, &amy, Some("k")),
        // Its key was used just before it in the same batch.
        job(&h, &slots[2].id, &amy, Some("k")),
        job(&h, &missing, &bob, None),
    ]
    .into_iter()
    .unzip();
    let (first, keyed) = (jobs[0].reservation.clone(), jobs[2].reservation.clone());

    run_batch(store.writer(), jobs).await;

    let got = held(answers).await;
    assert_eq!(
        got,
        vec![
            HoldOutcome::Held(first.clone()),
            HoldOutcome::SlotTaken,
            HoldOutcome::Held(keyed.clone()),
            HoldOutcome::KeyUsed(keyed.clone()),
            HoldOutcome::NoSuchSlot,
        ]
    );
    // Committed before anyone was answered: the readers see both holds.
    assert_eq!(
        store.reservation(first.id).await.expect("read"),
        Some(first)
    );
    assert_eq!(
        store.reservation(keyed.id).await.expect("read"),
        Some(keyed)
    );
    assert_eq!(count(&store).await, 2);
}

/// 71 holds go to the connection as queries of 32, 32, 4, 2 and 1; a hold
/// in the middle of a query is still judged when it runs: refused for a
/// taken slot while its key is unused, though a later hold of the same
/// query uses that key.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_of_many_holds_judges_each_when_it_runs() {
    let db = TempDb::new("many");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 0, 0, 0), h.day_at(2, 18, 0, 0))
        .await;
    let (amy, bob) = (h.client("amy"), h.client("bob"));
    let mut jobs: Vec<_> = (0..40).map(|i| job(&h, &slots[i].id, &amy, None)).collect();
    jobs.push(job(&h, &slots[0].id, &bob, Some("late")));
    jobs.push(job(&h, &slots[40].id, &bob, Some("late")));
    jobs.push(job(&h, &slots[41].id, &bob, Some("late")));
    jobs.extend((42..70).map(|i| job(&h, &slots[i].id, &amy, None)));
    let (jobs, answers): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
    let reservations: Vec<_> = jobs.iter().map(|job| job.reservation.clone()).collect();

    run_batch(store.writer(), jobs).await;

    let got = held(answers).await;
    let late = reservations[41].clone();
    for (i, (outcome, reservation)) in got.iter().zip(&reservations).enumerate() {
        let expected = match i {
            40 => HoldOutcome::SlotTaken,
            42 => HoldOutcome::KeyUsed(late.clone()),
            _ => HoldOutcome::Held(reservation.clone()),
        };
        assert_eq!(*outcome, expected, "hold {i}");
    }
    assert_eq!(count(&store).await, 69);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_hold_is_retried_alone_and_the_rest_of_its_batch_stands() {
    let db = TempDb::new("failing");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let (amy, bad, bob, old) = (
        h.client("amy"),
        h.client("bad"),
        h.client("bob"),
        h.client("old"),
    );
    let lapsed = h.hold(&slots[1].id, &old).await;
    h.set(lapsed.expires_at);
    // The database refuses this one client's rows, mid-statement.
    let trigger = format!(
        "CREATE TRIGGER refuse_bad BEFORE INSERT ON reservations WHEN NEW.client_id = '{bad}'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    );
    sqlx::query(sqlx::AssertSqlSafe(trigger))
        .execute(store.writer())
        .await
        .expect("trigger");
    let (jobs, answers): (Vec<_>, Vec<_>) = [
        job(&h, &slots[0].id, &amy, None),
        // Would retire the lapsed hold on slot 1, then fails.
        job(&h, &slots[1].id, &bad, None),
        job(&h, &slots[2].id, &bob, None),
    ]
    .into_iter()
    .unzip();
    let (amys, bobs) = (jobs[0].reservation.clone(), jobs[2].reservation.clone());

    run_batch(store.writer(), jobs).await;

    let mut got = outcomes(answers).await.into_iter();
    assert_eq!(
        got.next().unwrap().expect("amy's hold"),
        HoldOutcome::Held(amys.clone())
    );
    match got.next().unwrap() {
        Err(err @ Error::Storage(_)) => assert!(
            std::error::Error::source(&err).is_some(),
            "the failed hold's error keeps its cause: {err:?}"
        ),
        other => panic!("expected the database's refusal, got {other:?}"),
    }
    assert_eq!(
        got.next().unwrap().expect("bob's hold"),
        HoldOutcome::Held(bobs.clone())
    );
    assert_eq!(
        stored_status(&store, lapsed.id).await.as_deref(),
        Some("held"),
        "the failed hold's retirement of the lapsed one rolled back with it"
    );
    assert_eq!(store.reservation(amys.id).await.expect("read"), Some(amys));
    assert_eq!(store.reservation(bobs.id).await.expect("read"), Some(bobs));
    assert_eq!(count(&store).await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_that_left_before_its_batch_gets_no_hold() {
    let db = TempDb::new("left");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let (gone, gone_answer) = job(&h, &slots[0].id, &h.client("gone"), None);
    let (stays, stays_answer) = job(&h, &slots[1].id, &h.client("stays"), None);
    let (gone_id, kept) = (gone.reservation.id, stays.reservation.clone());
    drop(gone_answer);

    run_batch(store.writer(), vec![gone, stays]).await;

    assert_eq!(
        stays_answer.await.expect("answered").expect("held"),
        HoldOutcome::Held(kept)
    );
    assert_eq!(stored_status(&store, gone_id).await, None);
    assert_eq!(h.reservable_starts(&p).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_hold_of_a_batch_is_judged_at_its_own_now() {
    let db = TempDb::new("own-now");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let old = h.client("old");
    let first = h.hold(&slots[0].id, &old).await;
    let second = h.hold(&slots[1].id, &old).await;
    let expiry = first.expires_at;
    assert_eq!(second.expires_at, expiry);
    let (mut at_expiry, at_answer) = job(&h, &slots[0].id, &h.client("amy"), None);
    let (mut before, before_answer) = job(&h, &slots[1].id, &h.client("bob"), None);
    // One microsecond before the other hold lapses, though it runs after.
    at_expiry.now = expiry;
    before.now = expiry - chrono::TimeDelta::microseconds(1);
    let taken = at_expiry.reservation.clone();

    run_batch(store.writer(), vec![at_expiry, before]).await;

    let got = outcomes(vec![at_answer, before_answer]).await;
    assert_eq!(got[0].as_ref().expect("held"), &HoldOutcome::Held(taken));
    assert_eq!(got[1].as_ref().expect("refused"), &HoldOutcome::SlotTaken);
    assert_eq!(
        stored_status(&store, first.id).await.as_deref(),
        Some("expired")
    );
    assert_eq!(
        stored_status(&store, second.id).await.as_deref(),
        Some("held")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_cannot_begin_answers_every_caller_and_stores_nothing() {
    let db = TempDb::new("locked");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let url = format!("sqlite://{}", db.0.display());
    // A writer that gives up at once on a locked database, and a second
    // connection that holds the write lock.
    let impatient = SqliteStore::connect_options(&url)
        .unwrap()
        .busy_timeout(std::time::Duration::ZERO);
    let writer = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(impatient.clone())
        .await
        .expect("writer");
    let mut locker = sqlx::ConnectOptions::connect(&impatient)
        .await
        .expect("locker");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut locker)
        .await
        .expect("lock");
    let (jobs, answers): (Vec<_>, Vec<_>) = slots
        .iter()
        .map(|slot| job(&h, &slot.id, &h.client("amy"), None))
        .unzip();

    run_batch(&writer, jobs).await;

    for outcome in outcomes(answers).await {
        match outcome {
            Err(Error::Storage(_)) => {}
            other => panic!("expected a storage error, got {other:?}"),
        }
    }
    sqlx::query("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("unlock");
    assert_eq!(count(&store).await, 0);
    assert_eq!(h.reservable_starts(&p).await.len(), slots.len());
}

/// Runs every future at once, released together, and returns their results in order.
async fn race<T: Send + 'static>(tasks: Vec<impl Future<Output = T> + Send + 'static>) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(tasks.len()));
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                task.await
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task ran"));
    }
    results
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_retries_of_one_keyed_request_all_get_the_one_reservation() {
    let db = TempDb::new("same-key");
    let h = db.harness().await;
    let p = h.provider("p");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let amy = h.client("amy");
    let key = IdempotencyKey::new("retry").expect("key");
    let tasks = (0..48)
        .map(|_| {
            let (scheduler, slot, amy, key) =
                (h.scheduler.clone(), slot.clone(), amy.clone(), key.clone());
            async move { scheduler.reserve(&slot, &amy, Some(&key)).await }
        })
        .collect();
    let results = race(tasks).await;
    let ids: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().expect("every retry gets the reservation").id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(count(h.scheduler.store()).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_key_racing_for_many_slots_holds_exactly_one() {
    let db = TempDb::new("key-conflict");
    let h = db.harness().await;
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 0, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    let amy = h.client("amy");
    let key = IdempotencyKey::new("once").expect("key");
    let tasks = slots
        .iter()
        .map(|slot| {
            let (scheduler, slot, amy, key) = (
                h.scheduler.clone(),
                slot.id.clone(),
                amy.clone(),
                key.clone(),
            );
            async move { scheduler.reserve(&slot, &amy, Some(&key)).await }
        })
        .collect();
    let results = race(tasks).await;
    let held: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(held.len(), 1, "{results:?}");
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(Error::IdempotencyConflict { .. })))
        .count();
    assert_eq!(conflicts, slots.len() - 1, "{results:?}");
    assert_eq!(count(h.scheduler.store()).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_racing_hold_answered_taken_is_stored_and_unique() {
    let db = TempDb::new("distinct");
    let h = db.harness().await;
    let store = h.scheduler.store().clone();
    let p = h.provider("p");
    // 96 slots, each wanted by two clients at once.
    let slots = h.open(&p, h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0)).await;
    let mut tasks = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        for who in ["a", "b"] {
            let (scheduler, store, slot, client) = (
                h.scheduler.clone(),
                store.clone(),
                slot.id.clone(),
                h.client(&format!("{who}{i}")),
            );
            tasks.push(async move {
                let result = scheduler.reserve(&slot, &client, None).await;
                // Read back at once, through a reader connection: a hold
                // answered taken is already committed.
                let seen = match &result {
                    Ok(held) => store.reservation(held.id).await.expect("read"),
                    Err(_) => None,
                };
                (slot, result, seen)
            });
        }
    }
    let results = race(tasks).await;
    for slot in &slots {
        let mine: Vec<_> = results.iter().filter(|(s, ..)| *s == slot.id).collect();
        let won: Vec<_> = mine.iter().filter(|(_, r, _)| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "{mine:?}");
        let (_, held, seen) = won[0];
        assert_eq!(
            seen.as_ref(),
            held.as_ref().ok(),
            "read back after the answer"
        );
        assert!(
            mine.iter()
                .any(|(_, r, _)| matches!(r, Err(Error::SlotUnavailable { .. }))),
            "{mine:?}"
        );
    }
    assert_eq!(count(&store).await, 96);
}
