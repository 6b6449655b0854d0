//! Flags: defaults, human durations, and bad values that name their flag.

use std::time::Duration;

use chrono::TimeDelta;
use clap::Parser;

use crate::config::{Cli, Command, Database, Settings};

fn settings(args: &[&str]) -> Result<Settings, String> {
    let cli = Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
        .map_err(|err| err.to_string())?;
    cli.settings().map_err(|err| err.to_string())
}

#[test]
fn the_defaults_are_the_designs() {
    let s = settings(&["--jwt-secret", "s3cret"]).unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(s.database, Database::Sqlite("sqlite://scheduler.db".into()));
    assert_eq!(s.policy.slot_length(), TimeDelta::minutes(15));
    assert_eq!(s.policy.min_lead(), TimeDelta::hours(24));
    assert_eq!(s.policy.hold_ttl(), TimeDelta::minutes(30));
    assert_eq!(s.policy.max_horizon(), TimeDelta::days(365));
    assert_eq!(s.sweep_interval, Duration::from_secs(30));
    assert_eq!(s.rate_limit.map(|n| n.get()), Some(20));
    assert!(!s.demo);
}

#[test]
fn durations_are_human_and_the_backend_follows_the_url() {
    let s = settings(&[
        "--jwt-secret=s",
        "--bind=127.0.0.1:0",
        "--database-url=memory:",
        "--slot-minutes=30",
        "--min-lead=2s",
        "--hold-ttl=1m 30s",
        "--max-horizon=3y",
        "--sweep-interval=250ms",
        "--rate-limit=0",
    ])
    .unwrap();
    assert_eq!(s.bind.port(), 0);
    assert_eq!(s.database, Database::Memory);
    assert_eq!(s.policy.slot_length(), TimeDelta::minutes(30));
    assert_eq!(s.policy.min_lead(), TimeDelta::seconds(2));
    assert_eq!(s.policy.hold_ttl(), TimeDelta::seconds(90));
    assert!(s.policy.max_horizon() > TimeDelta::days(3 * 365));
    assert_eq!(s.sweep_interval, Duration::from_millis(250));
    assert_eq!(s.rate_limit, None);
    let pg = settings(&["--jwt-secret=s", "--database-url=postgres://u:p@db/app"]).unwrap();
    assert_eq!(
        pg.database,
        Database::Postgres("postgres://u:p@db/app".into())
    );
    assert_eq!(pg.database.describe(), "PostgreSQL");
    let slots = settings(&["--jwt-secret=s", "--slot-minutes=1h"]).unwrap();
    assert_eq!(slots.policy.slot_length(), TimeDelta::hours(1));
}

#[test]
fn a_bad_value_stops_start_up_naming_its_flag() {
    let cases: [(&[&str], &str); 9] = [
        (&["--min-lead=soon"], "--min-lead"),
        (&["--hold-ttl=0s"], "--hold-ttl"),
        (&["--slot-minutes=7"], "--slot-minutes"),
        (&["--max-horizon=1m"], "--max-horizon"),
        (&["--sweep-interval=0s"], "--sweep-interval"),
        (&["--database-url=mysql://db"], "--database-url"),
        (&["--bind=localhost"], "--bind"),
        (&["--rate-limit=-1"], "--rate-limit"),
        (&["--log-format=xml"], "--log-format"),
    ];
    for (args, flag) in cases {
        let mut args = args.to_vec();
        args.push("--jwt-secret=s");
        let err = settings(&args).unwrap_err();
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn without_a_secret_only_the_demo_starts() {
    let err = settings(&[]).unwrap_err();
    assert!(err.contains("--jwt-secret"), "{err}");
    let demo = settings(&["--demo"]).unwrap();
    assert!(demo.demo);
    assert_eq!(demo.jwt_secret, None);
    let err = settings(&["--demo", "token", "--role", "client", "--sub", "alice"]).unwrap_err();
    assert!(err.contains("--jwt-secret"), "{err}");
}

#[test]
fn the_token_subcommand_takes_a_role_a_user_and_a_lifetime() {
    let cli = Cli::try_parse_from([
        "server",
        "token",
        "--role",
        "client",
        "--sub",
        "alice",
        "--ttl",
        "2h",
        "--jwt-secret",
        "s",
    ])
    .unwrap();
    let Some(Command::Token(args)) = &cli.command else {
        panic!("a token command");
    };
    assert_eq!(args.sub, "alice");
    assert_eq!(args.ttl, Duration::from_secs(7200));
    assert!(cli.settings().is_ok());
    let err = Cli::try_parse_from(["server", "token", "--role", "admin", "--sub", "a"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--role"), "{err}");
    let err = Cli::try_parse_from(["server", "token", "--role", "client", "--sub", "a b"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--sub"), "{err}");
}
