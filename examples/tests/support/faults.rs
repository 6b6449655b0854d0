//! The fault suite's machinery: client load that survives a dead server, a
//! ledger of every answer the clients saw, and the check of that ledger
//! against the rows the database really holds.
//!
//! The ledger writes an intent (a key about to be reserved, a confirm or a
//! cancel about to be sent) before the request leaves, and the answer after
//! it arrives. A check made while requests are in flight may then miss an
//! answer, but never sees a write in the database that the ledger cannot
//! explain: that keeps the checks made between crashes sound.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use reqwest::Method;
use scheduler_core::ReservationId;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};
use tokio::task::JoinSet;

use super::{Server, TempDir, TestDatabase, shout};

/// How long a load client's single request may take before it counts as lost.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the load may go without a single answer before it counts as
/// hung: a bound that does not depend on how fast (or how shared) the
/// machine is.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// A small, seedable generator: the load needs variety, not cryptography, and
/// a printed seed makes a failing run repeatable in its choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is mapped away).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// A seed that differs from run to run.
    pub fn seed() -> u64 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
    }

    /// The next value (xorshift64*).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The server a client talks to, which a restart replaces (with a new port).
#[derive(Debug, Clone)]
pub struct Target(Arc<RwLock<String>>);

impl Target {
    /// Points at `server`.
    pub fn new(server: &Server) -> Self {
        Self(Arc::new(RwLock::new(server.base.clone())))
    }

    /// Points every clone at `server` from now on.
    pub fn point_at(&self, server: &Server) {
        *self.0.write().expect("the target lock") = server.base.clone();
    }

    fn base(&self) -> String {
        self.0.read().expect("the target lock").clone()
    }
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl TestDatabase {
    /// A database the test manages itself (a private cluster), with a
    /// scratch directory for its servers' logs.
    pub fn external(url: String) -> Self {
        Self {
            url,
            workdir: TempDir::new(),
            _postgres: None,
        }
    }
}

/// One published slot.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Its id, as the API spells it.
    pub id: String,
    /// Its start, in epoch seconds, as the database stores it.
    pub start_s: i64,
}

/// Publishes `[start, end)` for `provider`; returns the slots added.
pub async fn publish(
    server: &Server,
    token: &str,
    provider: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Slot> {
    let body = json!({ "windows": [{ "start": at(start), "end": at(end) }] });
    let reply = server
        .post(
            &format!("/v1/providers/{provider}/availability"),
            token,
            Some(&body),
        )
        .await;
    reply.expect(201)["added"]
        .as_array()
        .unwrap_or_else(|| panic!("no `added` array: {reply:?}"))
        .iter()
        .map(|slot| Slot {
            id: slot["id"].as_str().expect("a slot id").to_owned(),
            start_s: instant(&slot["start"]).timestamp(),
        })
        .collect()
}

/// The whole hour `hours` from now.
pub fn hours_ahead(hours: i64) -> DateTime<Utc> {
    (Utc::now() + TimeDelta::hours(hours))
        .duration_trunc(TimeDelta::hours(1))
        .expect("an hour divides any instant")
}

/// RFC 3339 with `Z`, as the API writes instants.
pub fn at(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An instant the API wrote.
pub fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not an instant"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .to_utc()
}

/// The three operations of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `POST /v1/slots/{id}/reservations`.
    Reserve,
    /// `POST /v1/reservations/{id}/confirm`.
    Confirm,
    /// `DELETE /v1/reservations/{id}`.
    Cancel,
}

/// A reservation a client was answered 201 for.
#[derive(Debug, Clone)]
struct Won {
    client: String,
    start_s: i64,
    /// When the 201 arrived: the hold was live from then at the latest.
    won_at: Instant,
    /// When the first cancel left: the hold was live until then at least.
    cancel_sent_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Book {
    /// `client/key` of every reserve sent.
    keys: HashSet<String>,
    won: HashMap<String, Won>,
    confirm_sent: HashSet<String>,
    confirmed: HashSet<String>,
    cancel_sent: HashSet<String>,
    cancelled: HashSet<String>,
    /// Requests sent per operation, retries included.
    sent: BTreeMap<Op, u64>,
    /// Answers per operation and status.
    answers: BTreeMap<(Op, u16), u64>,
    /// Requests that got no HTTP answer (refused, reset, timed out).
    unanswered: BTreeMap<Op, u64>,
    /// Answers no rule of the API allows for this load.
    unexpected: Vec<String>,
}

/// Every answer the load's clients saw.
#[derive(Debug, Default)]
pub struct Ledger(Mutex<Book>);

impl Ledger {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().expect("the ledger lock")
    }

    /// Requests of `op` sent so far.
    pub fn sent(&self, op: Op) -> u64 {
        self.book().sent.get(&op).copied().unwrap_or(0)
    }

    /// Answers of `op` with `status` so far.
    pub fn answers(&self, op: Op, status: u16) -> u64 {
        self.book().answers.get(&(op, status)).copied().unwrap_or(0)
    }

    /// Answers with `status`, whatever the operation.
    pub fn answers_with(&self, status: u16) -> u64 {
        self.book()
            .answers
            .iter()
            .filter(|((_, s), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that got no HTTP answer.
    pub fn unanswered(&self) -> u64 {
        self.book().unanswered.values().sum()
    }

    /// Every answer so far: 2xx plus the rest.
    pub fn answered(&self) -> u64 {
        self.book().answers.values().sum()
    }

    /// Answers the rules do not allow, for the failure message.
    pub fn unexpected(&self) -> Vec<String> {
        self.book().unexpected.clone()
    }

    /// One line of figures for the test's output.
    pub fn summary(&self) -> String {
        let book = self.book();
        let answers: Vec<String> = book
            .answers
            .iter()
            .map(|((op, status), n)| format!("{op:?} {status}: {n}"))
            .collect();
        format!(
            "sent {:?}; answers {}; unanswered {:?}",
            book.sent,
            answers.join(", "),
            book.unanswered
        )
    }
}

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A mix that keeps bookings around: reserve a random slot (60%), confirm
    /// one of the client's holds (20%), cancel one of its live reservations
    /// (20%). Confirmed bookings live through many crashes.
    Churn,
    /// Many clients racing for few slots: reserve; on a win confirm half the
    /// time, then cancel, so the slot is raced for again.
    Race,
    /// Each client reserves every slot once, in its own random order, and
    /// keeps what it wins: on free slots, exactly one 201 each.
    Sweep,
}

/// A load run's settings.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The slots clients reserve.
    pub slots: Vec<Slot>,
    /// What the clients do.
    pub style: Style,
    /// Retry a request that got no answer or a 503 until it gets another
    /// answer (fault tests), instead of counting it as unexpected.
    pub retry: bool,
    /// Stop once this many reserve requests were sent in total.
    pub reserve_budget: Option<u64>,
    /// Send every reserve with an idempotency key, so a retry is safe and
    /// every row can be traced to the request that made it. Without one a
    /// reserve costs the server a query less.
    pub keys: bool,
}

/// One load client: a user and the server it talks to.
#[derive(Debug, Clone)]
pub struct Client {
    /// The user id (the token's `sub`).
    pub name: String,
    /// Its bearer token.
    pub token: String,
    /// Where it sends its requests.
    pub target: Target,
}

/// Clients running a [`Plan`] until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    ledger: Arc<Ledger>,
}

impl Load {
    /// Starts one task per client.
    pub fn start(plan: Plan, clients: Vec<Client>, seed: u64) -> Self {
        Self::start_with(plan, clients, seed, Arc::new(Ledger::default()))
    }

    /// Starts one task per client, recording in `ledger` (to go on from an
    /// earlier load's answers).
    pub fn start_with(plan: Plan, clients: Vec<Client>, seed: u64, ledger: Arc<Ledger>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let reserves = Arc::new(AtomicU64::new(0));
        let plan = Arc::new(plan);
        let mut tasks = JoinSet::new();
        for (index, client) in clients.into_iter().enumerate() {
            let worker = Worker {
                http: reqwest::Client::builder()
                    .no_proxy()
                    .timeout(CLIENT_TIMEOUT)
                    .build()
                    .expect("build an HTTP client"),
                client,
                plan: Arc::clone(&plan),
                ledger: Arc::clone(&ledger),
                stop: Arc::clone(&stop),
                reserves: Arc::clone(&reserves),
                rng: Rng::new(seed.wrapping_add(index as u64)),
                // Keys are per client: a later load of the same client must
                // not reuse an earlier load's keys for other slots.
                key_prefix: format!("{seed:x}"),
                keys: 0,
            };
            tasks.spawn(worker.run());
        }
        Self {
            stop,
            tasks,
            ledger,
        }
    }

    /// The ledger, to read while the load runs.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Tells the clients to stop after their current operation (retried
    /// until answered) and waits for them; a client that panicked fails here.
    pub async fn stop(self) -> Arc<Ledger> {
        self.stop.store(true, Ordering::SeqCst);
        self.finish().await
    }

    /// Waits for the clients to finish (spend the budget, end a sweep, or
    /// stop); fails if one panics, or all go [`STALL_LIMIT`] without an answer.
    pub async fn finish(mut self) -> Arc<Ledger> {
        let mut seen = self.ledger.answered();
        let mut last_progress = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_secs(1), self.tasks.join_next()).await {
                Ok(Some(joined)) => joined.expect("a load client panicked"),
                Ok(None) => return self.ledger,
                Err(_) => {}
            }
            let now = self.ledger.answered();
            if now != seen {
                seen = now;
                last_progress = Instant::now();
            }
            assert!(
                last_progress.elapsed() < STALL_LIMIT,
                "the load got no answer for {STALL_LIMIT:?}: {}",
                self.ledger.summary()
            );
        }
    }
}

/// An answer: status and JSON body.
struct Answer {
    status: u16,
    body: Value,
    problem: bool,
}

struct Worker {
    http: reqwest::Client,
    client: Client,
    plan: Arc<Plan>,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
    reserves: Arc<AtomicU64>,
    rng: Rng,
    key_prefix: String,
    keys: u64,
}

impl Worker {
    async fn run(mut self) {
        // The client's live reservations: id and whether it confirmed it.
        let mut live: Vec<(String, bool)> = Vec::new();
        if self.plan.style == Style::Sweep {
            let mut slots = self.plan.slots.clone();
            // Fisher-Yates: every client walks the slots in its own order.
            for i in (1..slots.len()).rev() {
                slots.swap(i, self.rng.below(i + 1));
            }
            for slot in &slots {
                self.reserve_slot(slot).await;
            }
            return;
        }
        while !self.stop.load(Ordering::SeqCst) {
            if let Some(budget) = self.plan.reserve_budget
                && self.reserves.fetch_add(1, Ordering::SeqCst) >= budget
            {
                break;
            }
            match self.plan.style {
                Style::Churn => self.churn(&mut live).await,
                Style::Race => self.race().await,
                Style::Sweep => unreachable!("a sweep is one pass"),
            }
        }
    }

    async fn churn(&mut self, live: &mut Vec<(String, bool)>) {
        let roll = self.rng.below(100);
        if roll < 60 || live.is_empty() {
            if let Some(id) = self.reserve().await {
                live.push((id, false));
            }
        } else if roll < 80 {
            let held: Vec<usize> = (0..live.len()).filter(|&i| !live[i].1).collect();
            if held.is_empty() {
                return;
            }
            let index = held[self.rng.below(held.len())];
            if self.confirm(&live[index].0).await {
                live[index].1 = true;
            }
        } else {
            let index = self.rng.below(live.len());
            let (id, _) = live.swap_remove(index);
            self.cancel(&id).await;
        }
    }

    async fn race(&mut self) {
        let Some(id) = self.reserve().await else {
            return;
        };
        if self.rng.below(2) == 0 {
            self.confirm(&id).await;
        }
        self.cancel(&id).await;
    }

    /// Reserves a random slot under a fresh idempotency key; the id on a 201.
    async fn reserve(&mut self) -> Option<String> {
        let slot = self.plan.slots[self.rng.below(self.plan.slots.len())].clone();
        self.reserve_slot(&slot).await
    }

    /// Reserves `slot` under a fresh idempotency key, so a retry after a
    /// crash returns the reservation the first attempt made, if it made one.
    async fn reserve_slot(&mut self, slot: &Slot) -> Option<String> {
        let key = self.plan.keys.then(|| {
            self.keys += 1;
            format!("{}-{}", self.key_prefix, self.keys)
        });
        if let Some(key) = &key {
            self.ledger
                .book()
                .keys
                .insert(format!("{}/{key}", self.client.name));
        }
        let path = format!("/v1/slots/{}/reservations", slot.id);
        let answer = self
            .call(Op::Reserve, Method::POST, &path, key.as_deref())
            .await?;
        match answer.status {
            201 => {
                let id = answer.body["id"].as_str().map(str::to_owned);
                let good = answer.body["slotId"] == slot.id.as_str()
                    && answer.body["clientId"] == self.client.name.as_str()
                    && answer.body["status"] == "held";
                match id {
                    Some(id) if good => {
                        self.ledger.book().won.insert(
                            id.clone(),
                            Won {
                                client: self.client.name.clone(),
                                start_s: slot.start_s,
                                won_at: Instant::now(),
                                cancel_sent_at: None,
                            },
                        );
                        Some(id)
                    }
                    _ => {
                        self.unexpected(Op::Reserve, &answer);
                        None
                    }
                }
            }
            409 if answer.problem && answer.body["code"] == "slot_unavailable" => None,
            _ => {
                self.unexpected(Op::Reserve, &answer);
                None
            }
        }
    }

    /// Confirms `id`; whether a 200 said so.
    async fn confirm(&mut self, id: &str) -> bool {
        self.ledger.book().confirm_sent.insert(id.to_owned());
        let path = format!("/v1/reservations/{id}/confirm");
        let Some(answer) = self.call(Op::Confirm, Method::POST, &path, None).await else {
            return false;
        };
        if answer.status == 200 && answer.body["status"] == "confirmed" && answer.body["id"] == id {
            self.ledger.book().confirmed.insert(id.to_owned());
            true
        } else {
            self.unexpected(Op::Confirm, &answer);
            false
        }
    }

    /// Cancels `id`.
    async fn cancel(&mut self, id: &str) {
        {
            let mut book = self.ledger.book();
            book.cancel_sent.insert(id.to_owned());
            if let Some(won) = book.won.get_mut(id) {
                won.cancel_sent_at.get_or_insert_with(Instant::now);
            }
        }
        let path = format!("/v1/reservations/{id}");
        let Some(answer) = self.call(Op::Cancel, Method::DELETE, &path, None).await else {
            return;
        };
        if answer.status == 200 && answer.body["status"] == "cancelled" {
            self.ledger.book().cancelled.insert(id.to_owned());
        } else {
            self.unexpected(Op::Cancel, &answer);
        }
    }

    fn unexpected(&self, op: Op, answer: &Answer) {
        let line = format!(
            "{op:?} by {} -> {} {}",
            self.client.name, answer.status, answer.body
        );
        let mut book = self.ledger.book();
        if book.unexpected.len() < 50 {
            book.unexpected.push(line);
        }
    }

    /// Sends a request until it gets an answer the load can act on: with
    /// `retry`, no answer and 503 are retried (every operation of the load is
    /// safe to repeat); without it they are unexpected. `None` if no answer.
    async fn call(
        &mut self,
        op: Op,
        method: Method,
        path: &str,
        key: Option<&str>,
    ) -> Option<Answer> {
        let mut backoff = Duration::from_millis(10);
        loop {
            *self.ledger.book().sent.entry(op).or_default() += 1;
            let mut request = self
                .http
                .request(
                    method.clone(),
                    format!("{}{path}", self.client.target.base()),
                )
                .bearer_auth(&self.client.token);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let problem = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("application/problem+json"));
                    match response.bytes().await {
                        Ok(bytes) => Some(Answer {
                            status,
                            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                            problem,
                        }),
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            };
            match outcome {
                Some(answer) => {
                    *self
                        .ledger
                        .book()
                        .answers
                        .entry((op, answer.status))
                        .or_default() += 1;
                    if answer.status == 503 && self.plan.retry {
                        if !answer.problem {
                            self.unexpected(op, &answer);
                        }
                    } else {
                        return Some(answer);
                    }
                }
                None => {
                    *self.ledger.book().unanswered.entry(op).or_default() += 1;
                    if !self.plan.retry {
                        let mut book = self.ledger.book();
                        book.unexpected
                            .push(format!("{op:?} {path}: no answer from the server"));
                        return None;
                    }
                }
            }
            tokio::time::sleep(backoff + Duration::from_millis(self.rng.below(10) as u64)).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }
}

/// A reservation row as the database holds it.
#[derive(Debug, Clone)]
pub struct StoredRow {
    /// The id, as the API spells it.
    pub id: String,
    /// Its client.
    pub client: String,
    /// Its slot's start, epoch seconds.
    pub start_s: i64,
    /// `held`, `confirmed`, `expired` or `cancelled`.
    pub status: String,
    /// Its idempotency key.
    pub key: Option<String>,
}

/// What the database holds: every reservation row, and how many slots the
/// database itself counts with more than one live reservation.
#[derive(Debug)]
pub struct Stored {
    /// Every reservation row.
    pub rows: Vec<StoredRow>,
    /// `GROUP BY` slot `HAVING COUNT(*) > 1` over held and confirmed rows.
    pub doubled_slots: i64,
}

const ROWS: &str =
    "SELECT id, client_id, start_s, status, idempotency_key FROM reservations ORDER BY id";
const DOUBLED: &str = "SELECT COUNT(*) FROM (
    SELECT provider_id, start_s FROM reservations
    WHERE status IN ('held', 'confirmed')
    GROUP BY provider_id, start_s HAVING COUNT(*) > 1) AS doubled";

fn id_text(bytes: &[u8]) -> String {
    let bytes: [u8; 16] = bytes.try_into().expect("a 16-byte reservation id");
    ReservationId::from_u128(u128::from_be_bytes(bytes)).to_string()
}

/// Reads every reservation straight from the database at `url`.
pub async fn read_stored(url: &str) -> Stored {
    let work = async {
        if url.starts_with("sqlite:") {
            let mut conn = SqliteConnection::connect(url).await?;
            let rows = sqlx::query(ROWS).fetch_all(&mut conn).await?;
            let rows = rows
                .iter()
                .map(|row| StoredRow {
                    id: id_text(row.get::<&[u8], _>(0)),
                    client: row.get(1),
                    start_s: row.get(2),
                    status: row.get(3),
                    key: row.get(4),
                })
                .collect();
            let doubled_slots: i64 = sqlx::query_scalar(DOUBLED).fetch_one(&mut conn).await?;
            conn.close().await?;
            Ok::<_, sqlx::Error>(Stored {
                rows,
                doubled_slots,
            })
        } else {
            let mut conn = PgConnection::connect(url).await?;
            let rows = sqlx::query(ROWS).fetch_all(&mut conn).await?;
            let rows = rows
                .iter()
                .map(|row| StoredRow {
                    id: id_text(row.get::<&[u8], _>(0)),
                    client: row.get(1),
                    start_s: row.get(2),
                    status: row.get(3),
                    key: row.get(4),
                })
                .collect();
            let doubled_slots: i64 = sqlx::query_scalar(DOUBLED).fetch_one(&mut conn).await?;
            conn.close().await?;
            Ok(Stored {
                rows,
                doubled_slots,
            })
        }
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("the database answered within 60 s")
        .expect("read the reservations")
}

/// How much the check may leave unexplained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Requests may be in flight or cut off: a row may exist that no 201
    /// reported yet, and a confirm or cancel sent may or may not have landed.
    InFlight,
    /// Every request was answered: the database holds exactly what the
    /// clients were told.
    All,
}

/// The figures of one check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checked {
    /// Reservations clients were answered 201 for, each found in the database.
    pub won: usize,
    /// Confirmations answered 200, each still confirmed (or cancelled by its client).
    pub confirmed: usize,
    /// Cancellations answered 200, each cancelled in the database.
    pub cancelled: usize,
    /// Rows live (held or confirmed) in the database.
    pub live: usize,
}

/// A 201's certain live interval, from its arrival to its first cancel sent
/// (`None`: never), and its reservation id.
type Interval<'a> = (Instant, Option<Instant>, &'a str);

/// Checks the database against the ledger: every 201 and 200 a client saw is
/// stored as it was answered, no row is one nobody asked for, no slot has two
/// live reservations (by the rows, by the database's own `GROUP BY`, and by
/// the clients' answers). Panics listing every violation.
pub fn check(ledger: &Ledger, stored: &Stored, settled: Settled) -> Checked {
    let book = ledger.book();
    let mut faults: Vec<String> = Vec::new();
    let rows: HashMap<&str, &StoredRow> = stored.rows.iter().map(|r| (r.id.as_str(), r)).collect();

    // Every 201, 200 confirm and 200 cancel is in the database as answered.
    for (id, won) in &book.won {
        let Some(row) = rows.get(id.as_str()) else {
            faults.push(format!(
                "lost: reservation {id} (201 to {}) is not stored",
                won.client
            ));
            continue;
        };
        if row.client != won.client || row.start_s != won.start_s {
            faults.push(format!(
                "reservation {id} is stored for another client or slot: {row:?}"
            ));
        }
        let status = row.status.as_str();
        let allowed: &[&str] = if book.cancelled.contains(id) {
            &["cancelled"]
        } else if book.cancel_sent.contains(id) && settled == Settled::InFlight {
            if book.confirmed.contains(id) {
                &["confirmed", "cancelled"]
            } else {
                &["held", "confirmed", "cancelled"]
            }
        } else if book.confirmed.contains(id) {
            &["confirmed"]
        } else if book.confirm_sent.contains(id) && settled == Settled::InFlight {
            &["held", "confirmed"]
        } else {
            &["held"]
        };
        if !allowed.contains(&status) {
            let what = if book.confirmed.contains(id) && status != "cancelled" {
                "lost confirmation"
            } else {
                "wrong status"
            };
            faults.push(format!(
                "{what}: reservation {id} is {status}, the clients' answers allow only {allowed:?}"
            ));
        }
    }

    // No row nobody asked for, and after a settled run, none nobody was told of.
    for row in &stored.rows {
        if book.won.contains_key(&row.id) {
            continue;
        }
        let asked = row
            .key
            .as_ref()
            .is_some_and(|key| book.keys.contains(&format!("{}/{key}", row.client)));
        if !asked {
            faults.push(format!(
                "phantom: row {row:?} answers no reserve a client sent"
            ));
        } else if settled == Settled::All {
            faults.push(format!("row {row:?} was never reported to its client"));
        } else if row.status != "held" {
            faults.push(format!("row {row:?} changed though no client knew its id"));
        }
    }

    // At most one live reservation per slot, by the rows and by SQL.
    let mut live_per_slot: HashMap<i64, usize> = HashMap::new();
    for row in &stored.rows {
        if row.status == "held" || row.status == "confirmed" {
            *live_per_slot.entry(row.start_s).or_default() += 1;
        }
    }
    for (start, count) in &live_per_slot {
        if *count > 1 {
            faults.push(format!(
                "double booking: slot at {start} has {count} live rows"
            ));
        }
    }
    if stored.doubled_slots != 0 {
        faults.push(format!(
            "double booking: the database counts {} slots with two live rows",
            stored.doubled_slots
        ));
    }

    // And by the clients: two 201s for one slot whose holds were certainly
    // live at the same moment. A hold is live from its 201 at the latest
    // until its cancel was sent at the earliest.
    let mut per_slot: HashMap<i64, Vec<Interval<'_>>> = HashMap::new();
    for (id, won) in &book.won {
        per_slot
            .entry(won.start_s)
            .or_default()
            .push((won.won_at, won.cancel_sent_at, id));
    }
    for (start, mut wins) in per_slot {
        wins.sort_by_key(|(won_at, _, _)| *won_at);
        let mut live_until: Option<(Option<Instant>, &str)> = None;
        for (won_at, cancel_sent_at, id) in wins {
            if let Some((until, other)) = live_until
                && until.is_none_or(|until| won_at < until)
            {
                faults.push(format!(
                    "double booking: {other} and {id} were both answered 201 for the slot at \
                     {start} and live at the same time"
                ));
            }
            let later = match (live_until, cancel_sent_at) {
                (Some((None, _)), _) => live_until,
                (_, None) => Some((None, id)),
                (Some((Some(a), other)), Some(b)) if a > b => Some((Some(a), other)),
                (_, Some(b)) => Some((Some(b), id)),
            };
            live_until = later;
        }
    }

    let checked = Checked {
        won: book.won.len(),
        confirmed: book.confirmed.len(),
        cancelled: book.cancelled.len(),
        live: live_per_slot.values().sum(),
    };
    drop(book);
    assert!(
        faults.is_empty(),
        "{} violations (first 20):\n{}\nledger: {}",
        faults.len(),
        faults
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        ledger.summary()
    );
    checked
}

/// Prints a line of figures where CI logs show it.
pub fn figures(line: &str) {
    shout(&format!("FIGURES {line}"));
}
