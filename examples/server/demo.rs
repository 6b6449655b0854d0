//! `--demo`: a throwaway secret, a demo provider with a week of availability,
//! and ready-to-paste curl commands for every step of a reservation's life.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{Days, NaiveTime};
use scheduler_core::{ListQuery, ProviderId, Result, SlotId, Window};

use crate::auth::{JwtKeys, Role};
use crate::state::AppScheduler;

/// The demo provider's id.
pub const PROVIDER: &str = "demo-provider";
/// The demo client's id.
pub const CLIENT: &str = "demo-client";
/// How long the printed tokens last.
const TOKEN_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// A fresh 256-bit secret, hex-encoded: tokens from an earlier demo stop working.
pub fn secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Publishes 09:00-17:00 UTC for seven days, starting two days from now, and
/// returns the first reservable slot.
pub async fn seed(scheduler: &AppScheduler) -> Result<Option<SlotId>> {
    let provider = ProviderId::new(PROVIDER)?;
    let today = scheduler.clock().now().date_naive();
    let (open, close) = (
        NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time"),
        NaiveTime::from_hms_opt(17, 0, 0).expect("17:00 is a time"),
    );
    let windows = (2..9)
        .filter_map(|days| today.checked_add_days(Days::new(days)))
        .map(|day| Window::new(day.and_time(open).and_utc(), day.and_time(close).and_utc()))
        .collect::<Result<Vec<_>>>()?;
    scheduler.add_availability(&provider, &windows).await?;
    let first = scheduler
        .list_slots(&provider, ListQuery::all().limit(1))
        .await?;
    Ok(first.items.into_iter().next().map(|slot| slot.id))
}

/// The commands to paste, against the server at `addr`.
pub fn instructions(addr: SocketAddr, keys: &JwtKeys, slot: Option<&SlotId>) -> String {
    let provider = keys.mint(Role::Provider, PROVIDER, TOKEN_TTL);
    let client = keys.mint(Role::Client, CLIENT, TOKEN_TTL);
    let slot = slot.map_or_else(|| "SLOT_ID".to_owned(), ToString::to_string);
    // A key per run: a replay within this run returns the same hold, and the
    // next demo run on the same database is not answered with this one.
    let key = format!("demo-{}", &secret()[..8]);
    format!(
        r#"
Demo mode: `{PROVIDER}` has 09:00-17:00 UTC availability for a week, from two days out.
Tokens last 12h and die with this process (the secret is generated per run).
Paste into a shell:

export BASE=http://{addr}
export PROVIDER_TOKEN={provider}
export CLIENT_TOKEN={client}

# 1. List reservable slots
curl -s "$BASE/v1/providers/{PROVIDER}/slots?limit=3" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

# 2. Reserve the first one (a 30-minute hold; the Idempotency-Key makes a retry safe)
RESERVATION=$(curl -s -X POST "$BASE/v1/slots/{slot}/reservations" -H "Authorization: Bearer $CLIENT_TOKEN" -H "Idempotency-Key: {key}" | grep -o '"id":"[^"]*"' | cut -d'"' -f4); echo "$RESERVATION"

# 3. Confirm it
curl -s -X POST "$BASE/v1/reservations/$RESERVATION/confirm" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

# 4. Read it, as the provider
curl -s "$BASE/v1/reservations/$RESERVATION" -H "Authorization: Bearer $PROVIDER_TOKEN"; echo

# 5. The provider's appointments
curl -s "$BASE/v1/providers/{PROVIDER}/reservations" -H "Authorization: Bearer $PROVIDER_TOKEN"; echo

# 6. Cancel it, as the client
curl -s -X DELETE "$BASE/v1/reservations/$RESERVATION" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

API docs: http://{addr}/docs
"#
    )
}
