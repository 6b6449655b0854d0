//! The command line: every flag, its `SCHEDULER_*` environment variable, and the
//! checks that stop start-up with a message naming the flag at fault.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use chrono::TimeDelta;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use scheduler_core::{ClientId, Grid, Policy};

use crate::auth::Role;
use crate::state::Limits;
use crate::telemetry::LogFormat;

/// The scheduler's HTTP API.
#[derive(Debug, Parser)]
#[command(name = "server", version, about, long_about = None)]
pub struct Cli {
    /// How to serve.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Something other than serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the server can do besides serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a bearer token signed with the configured --jwt-secret.
    Token(TokenArgs),
}

/// `server token --role client --sub alice --ttl 1h`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The role the token grants.
    #[arg(long, value_enum)]
    pub role: Role,
    /// The user id (1-128 of ASCII letters, digits and -_.@:).
    #[arg(long, value_parser = user_id)]
    pub sub: String,
    /// How long the token is valid (`30m`, `12h`, `7days`).
    #[arg(long, default_value = "1h", value_parser = duration)]
    pub ttl: Duration,
}

/// The serving flags; each also reads the `SCHEDULER_*` variable it names.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, env = "SCHEDULER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// `sqlite://FILE` (created if missing), `postgres://USER:PASSWORD@HOST/DB`, or `memory:`.
    #[arg(
        long,
        env = "SCHEDULER_DATABASE_URL",
        default_value = "sqlite://scheduler.db",
        value_parser = Database::parse,
        hide_env_values = true
    )]
    pub database_url: Database,
    /// Slot length: minutes (`15`) or a duration (`15m`, `1h`); must divide 24h.
    #[arg(long, env = "SCHEDULER_SLOT_MINUTES", default_value = "15", value_parser = slot_length)]
    pub slot_minutes: Duration,
    /// How long before a slot's start it may last be reserved.
    #[arg(long, env = "SCHEDULER_MIN_LEAD", default_value = "24h", value_parser = duration)]
    pub min_lead: Duration,
    /// How long a hold lasts unless confirmed.
    #[arg(long, env = "SCHEDULER_HOLD_TTL", default_value = "30m", value_parser = duration)]
    pub hold_ttl: Duration,
    /// How far after now availability may reach.
    #[arg(long, env = "SCHEDULER_MAX_HORIZON", default_value = "365days", value_parser = duration)]
    pub max_horizon: Duration,
    /// Time between sweeps that mark lapsed holds expired in storage.
    #[arg(long, env = "SCHEDULER_SWEEP_INTERVAL", default_value = "30s", value_parser = positive_duration)]
    pub sweep_interval: Duration,
    /// The HS256 secret that signs and verifies bearer tokens.
    #[arg(
        long,
        env = "SCHEDULER_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// Requests per second per authenticated user; 0 turns the limit off.
    #[arg(long, env = "SCHEDULER_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,
    /// Local demo: generate a secret, publish a week of availability for
    /// `demo-provider`, and print curl commands for the whole lifecycle.
    #[arg(long, env = "SCHEDULER_DEMO")]
    pub demo: bool,
    /// Log lines as `text` or `json` (filter with RUST_LOG).
    #[arg(long, env = "SCHEDULER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// How long one request may take before it is answered 503.
    #[arg(long, env = "SCHEDULER_REQUEST_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub request_timeout: Duration,
    /// The largest request body read, in bytes.
    #[arg(long, env = "SCHEDULER_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,
}

/// Where the scheduler keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// In process, lost on exit.
    Memory,
    /// A SQLite file, by its `sqlite:` URL.
    Sqlite(String),
    /// A PostgreSQL database, by its `postgres://` URL.
    Postgres(String),
}

impl Database {
    fn parse(url: &str) -> Result<Self, String> {
        if url == "memory:" {
            Ok(Database::Memory)
        } else if url.starts_with("sqlite:") {
            Ok(Database::Sqlite(url.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(url.to_owned()))
        } else {
            Err("expected sqlite://FILE, postgres://USER:PASSWORD@HOST/DB or memory:".to_owned())
        }
    }

    /// The backend's name, for logs (a PostgreSQL URL may hold a password).
    pub fn describe(&self) -> String {
        match self {
            Database::Memory => "memory (lost on exit)".to_owned(),
            Database::Sqlite(url) => format!("SQLite at {url}"),
            Database::Postgres(_) => "PostgreSQL".to_owned(),
        }
    }
}

/// The checked configuration of a serving process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The backend.
    pub database: Database,
    /// The scheduling rules.
    pub policy: Policy,
    /// Time between expiry sweeps.
    pub sweep_interval: Duration,
    /// The token secret; `None` only in demo mode, which generates one.
    pub jwt_secret: Option<String>,
    /// Requests per second per user, if limited.
    pub rate_limit: Option<NonZeroU32>,
    /// Whether to seed and print the demo.
    pub demo: bool,
    /// Log line format.
    pub log_format: LogFormat,
    /// Request size and time limits.
    pub limits: Limits,
}

impl Cli {
    /// Parses the command line and environment, exiting with clap's usage
    /// message on any bad value.
    pub fn load() -> (Settings, Option<Command>) {
        let cli = Cli::parse();
        match cli.settings() {
            Ok(settings) => (settings, cli.command),
            Err(err) => err.exit(),
        }
    }

    /// The checked settings, or an error naming the flag at fault.
    pub fn settings(&self) -> Result<Settings, clap::Error> {
        let args = &self.serve;
        let secret = args.jwt_secret.clone().filter(|s| !s.is_empty());
        if secret.is_none() && (self.command.is_some() || !args.demo) {
            return Err(Cli::command().error(
                ErrorKind::MissingRequiredArgument,
                "--jwt-secret (or SCHEDULER_JWT_SECRET) is required: it signs and verifies \
                 the bearer tokens; for a local demo, --demo generates one",
            ));
        }
        Ok(Settings {
            bind: args.bind,
            database: args.database_url.clone(),
            policy: policy(args)?,
            sweep_interval: args.sweep_interval,
            jwt_secret: secret,
            rate_limit: NonZeroU32::new(args.rate_limit),
            demo: args.demo,
            log_format: args.log_format,
            limits: Limits {
                body_bytes: args.body_limit,
                request_timeout: args.request_timeout,
            },
        })
    }
}

/// The policy of the flags; a rule it breaks is reported against its flag.
fn policy(args: &ServeArgs) -> Result<Policy, clap::Error> {
    let delta = |flag: &str, value: Duration| {
        TimeDelta::from_std(value).map_err(|_| invalid(flag, "the duration is too long"))
    };
    Policy::builder()
        .slot_length(delta("--slot-minutes", args.slot_minutes)?)
        .min_lead(delta("--min-lead", args.min_lead)?)
        .hold_ttl(delta("--hold-ttl", args.hold_ttl)?)
        .max_horizon(delta("--max-horizon", args.max_horizon)?)
        .build()
        .map_err(|err| {
            let flag = match &err {
                scheduler_core::Error::InvalidPolicy { field, .. } => match *field {
                    "slot_length" => "--slot-minutes",
                    "min_lead" => "--min-lead",
                    "hold_ttl" => "--hold-ttl",
                    "max_horizon" => "--max-horizon",
                    _ => "the policy",
                },
                _ => "the policy",
            };
            invalid(flag, &err.to_string())
        })
}

fn invalid(flag: &str, message: &str) -> clap::Error {
    Cli::command().error(
        ErrorKind::ValueValidation,
        format!("invalid value for {flag}: {message}"),
    )
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("{err}; write a duration such as 30m, 2s, 24h or 3y"))
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        Duration::ZERO => Err("must be longer than zero".to_owned()),
        value => Ok(value),
    }
}

/// Minutes as a bare number (`15`), or any duration (`15m`, `1h`), on a valid grid.
fn slot_length(text: &str) -> Result<Duration, String> {
    let value = match text.parse::<u64>() {
        Ok(minutes) => Duration::from_secs(minutes.saturating_mul(60)),
        Err(_) => duration(text)?,
    };
    let valid = TimeDelta::from_std(value).is_ok_and(|delta| Grid::new(delta).is_ok());
    if valid {
        Ok(value)
    } else {
        Err(
            "must be a whole number of minutes that divides 24h (5, 10, 15, 20, 30, 60, ...)"
                .into(),
        )
    }
}

fn user_id(text: &str) -> Result<String, String> {
    ClientId::new(text)
        .map(String::from)
        .map_err(|_| "must be 1-128 ASCII letters, digits and -_.@:".to_owned())
}
