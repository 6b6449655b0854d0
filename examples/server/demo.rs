//! `--demo`: a throwaway secret, a demo provider with weekday opening hours in
//! London and two services, and ready-to-paste curl commands for every step
//! of a booking's life.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{TimeDelta, Weekday};
use scheduler_core::{
    ListQuery, Precondition, ProviderId, Result, Service, ServiceId, SlotId, WeeklySchedule,
};

use crate::auth::{JwtKeys, Role};
use crate::state::AppScheduler;

/// The demo provider's id.
pub const PROVIDER: &str = "demo-provider";
/// The demo client's id.
pub const CLIENT: &str = "demo-client";
/// The demo provider's time zone.
pub const TIME_ZONE: &str = "Europe/London";
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

/// The demo provider's opening hours: every weekday 09:00-12:00 and
/// 13:00-17:00 in London. Whatever day the demo starts, a weekday with
/// reservable slots comes within the next three days.
pub fn schedule() -> Result<WeeklySchedule> {
    let hours = [("09:00", "12:00"), ("13:00", "17:00")];
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
    .into_iter()
    .fold(WeeklySchedule::builder(TIME_ZONE), |builder, day| {
        builder.weekday(day, hours)
    })
    .build()
}

/// The demo provider's services: a 30-minute consultation, and a 45-minute
/// intake with 15 minutes of notes after it.
pub fn services() -> Result<[Service; 2]> {
    let provider = ProviderId::new(PROVIDER)?;
    Ok([
        Service::new(
            provider.clone(),
            ServiceId::new("consultation")?,
            "Consultation",
            TimeDelta::minutes(30),
        ),
        Service::new(
            provider,
            ServiceId::new(INTAKE)?,
            "Intake",
            TimeDelta::minutes(45),
        )
        .buffer_after(TimeDelta::minutes(15)),
    ])
}

/// The service the printed steps book.
pub const INTAKE: &str = "intake";

/// Sets the demo provider's [`schedule`], which publishes its slots up to
/// the horizon, and its [`services`] (doing it again on a restart changes
/// nothing), and returns the first two starts of an intake.
pub async fn seed(scheduler: &AppScheduler) -> Result<Vec<SlotId>> {
    let provider = ProviderId::new(PROVIDER)?;
    scheduler
        .set_schedule(&provider, &schedule()?, Precondition::Any)
        .await?;
    for service in services()? {
        scheduler.put_service(&service).await?;
    }
    let intake = ServiceId::new(INTAKE)?;
    let first = scheduler
        .list_service_starts(&provider, &intake, ListQuery::all().limit(2))
        .await?;
    Ok(first.items.into_iter().map(|slot| slot.id).collect())
}

/// The commands to paste, against the server at `addr`; `starts` are the
/// intake starts to book and to move the booking to.
pub fn instructions(addr: SocketAddr, keys: &JwtKeys, starts: &[SlotId]) -> String {
    let provider = keys.mint(Role::Provider, PROVIDER, TOKEN_TTL);
    let client = keys.mint(Role::Client, CLIENT, TOKEN_TTL);
    let start = |n: usize, placeholder: &str| {
        starts
            .get(n)
            .map_or_else(|| placeholder.to_owned(), ToString::to_string)
    };
    let (slot, later) = (start(0, "SLOT_ID"), start(1, "LATER_SLOT_ID"));
    // A key per run: a replay within this run returns the same hold, and the
    // next demo run on the same database is not answered with this one.
    let key = format!("demo-{}", &secret()[..8]);
    format!(
        r#"
Demo mode: `{PROVIDER}` is open every weekday 09:00-12:00 and 13:00-17:00 in {TIME_ZONE},
as a weekly schedule kept as slots a year ahead, and offers two services: a 30-minute
consultation and a 45-minute intake with 15 minutes of notes after it. A booking can be
made from 24h before it.
Tokens last 12h and die with this process (the secret is generated per run).
Paste into a shell:

export BASE=http://{addr}
export PROVIDER_TOKEN={provider}
export CLIENT_TOKEN={client}

# 0. The opening hours (PUT the same JSON, changed, as the provider to change them)
curl -s "$BASE/v1/providers/{PROVIDER}/schedule" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

# 1. The services, and the 15-minute slots, each also read on London's clocks
curl -s "$BASE/v1/providers/{PROVIDER}/services" -H "Authorization: Bearer $CLIENT_TOKEN"; echo
curl -s "$BASE/v1/providers/{PROVIDER}/slots?limit=3&tz={TIME_ZONE}" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

# 2. Where an intake fits (each start's end is the appointment's end)
curl -s "$BASE/v1/providers/{PROVIDER}/slots?service={INTAKE}&limit=3&tz={TIME_ZONE}" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

# 3. Book the first intake (a 30-minute hold; the Idempotency-Key makes a retry safe)
RESERVATION=$(curl -s -X POST "$BASE/v1/slots/{slot}/reservations" -H "Authorization: Bearer $CLIENT_TOKEN" -H "Idempotency-Key: {key}" | grep -o '"id":"[^"]*"' | cut -d'"' -f4); echo "$RESERVATION"

# 4. Confirm it
curl -s -X POST "$BASE/v1/reservations/$RESERVATION/confirm" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

# 5. Move it to the next intake start
curl -s -X POST "$BASE/v1/reservations/$RESERVATION/reschedule" -H "Authorization: Bearer $CLIENT_TOKEN" -H "Content-Type: application/json" -d '{{"slotId":"{later}"}}'; echo

# 6. Read it, as the provider
curl -s "$BASE/v1/reservations/$RESERVATION" -H "Authorization: Bearer $PROVIDER_TOKEN"; echo

# 7. The provider's appointments
curl -s "$BASE/v1/providers/{PROVIDER}/reservations" -H "Authorization: Bearer $PROVIDER_TOKEN"; echo

# 8. Cancel it, as the client
curl -s -X DELETE "$BASE/v1/reservations/$RESERVATION" -H "Authorization: Bearer $CLIENT_TOKEN"; echo

API docs: http://{addr}/docs
"#
    )
}
