//! The scheduler's HTTP API: `cargo run --release --example server -- --demo`.
//!
//! `main` only wires the parts together; each concern has its module:
//! configuration, storage, state, auth, the routes of each resource, errors,
//! limits, logs, the OpenAPI document, calendar feeds, the demo and shutdown.

mod app;
mod auth;
mod availability;
mod config;
mod demo;
mod error;
mod etag;
mod extract;
mod feeds;
mod health;
mod ics;
mod limits;
mod openapi;
mod reservations;
mod schedule;
mod services;
mod shutdown;
mod slots;
mod state;
mod store;
mod telemetry;
mod wire;

#[cfg(test)]
mod router_tests;

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;

use scheduler_core::{Clock, Scheduler, SweeperConfig, SystemClock, spawn_sweeper};
use tokio::net::TcpListener;

use crate::auth::JwtKeys;
use crate::config::{Cli, Command, Settings};
use crate::shutdown::Shutdown;
use crate::state::AppState;

#[tokio::main]
async fn main() -> ExitCode {
    let (settings, command) = Cli::load();
    let result = match command {
        Some(Command::Token(args)) => {
            let secret = settings.jwt_secret.unwrap_or_default();
            println!(
                "{}",
                JwtKeys::new(secret.as_bytes()).mint(args.role, &args.sub, args.ttl)
            );
            Ok(())
        }
        None => {
            // Held until `main` returns, so the last lines (a failure below
            // included) are written before the process exits.
            let _log = telemetry::init(settings.log_format);
            serve(settings).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "server stopped");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), Box<dyn Error>> {
    // `Cli::load` only lets a missing secret through in demo mode.
    let secret = settings.jwt_secret.clone().unwrap_or_else(demo::secret);
    if secret.len() < 32 {
        tracing::warn!("the JWT secret is shorter than 32 bytes: HS256 wants at least 256 bits");
    }

    tracing::info!(database = %settings.database.describe(), "opening storage");
    let (store, feed_tokens) = store::open(&settings.database)
        .await
        .map_err(|err| format!("cannot open {}: {err}", settings.database.describe()))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(
        Scheduler::new(store, clock, settings.policy.clone()),
        feed_tokens,
        secret.as_bytes(),
        settings.rate_limit,
        settings.limits,
    );
    let demo_starts = match settings.demo {
        true => demo::seed(&state.scheduler).await?,
        false => Vec::new(),
    };

    let listener = TcpListener::bind(settings.bind)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", settings.bind))?;
    let addr = listener.local_addr()?;
    // The one line scripts and tests wait for; with port 0 it has the real port.
    println!("listening on http://{addr}");
    if settings.demo {
        println!("{}", demo::instructions(addr, &state.keys, &demo_starts));
    }

    let shutdown = Shutdown::on_signals();
    let sweeper = spawn_sweeper(
        Arc::clone(&state.scheduler),
        SweeperConfig {
            interval: settings.sweep_interval,
            ..SweeperConfig::default()
        },
        shutdown.clone().wait(),
    );
    let idle_sweep = state
        .rate_limit
        .clone()
        .map(|limit| limits::spawn_idle_sweep(limit, shutdown.clone().wait()));

    axum::serve(listener, app::router(state))
        .with_graceful_shutdown(shutdown.wait())
        .await?;
    let report = sweeper.await?;
    if let Some(task) = idle_sweep {
        task.await?;
    }
    tracing::info!(?report, "stopped");
    Ok(())
}
