//! A private PostgreSQL cluster for tests that stop the database: its own
//! data directory and socket directory under a temporary directory, on a
//! free loopback port, so stopping it disturbs no one else's server.
//!
//! The binaries come from `/usr/lib/postgresql/*/bin` (the newest version)
//! or `PATH`. `initdb` refuses to run as root, so as root every command runs
//! as the `postgres` OS user through `runuser`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{TempDir, shout};

/// How long `pg_ctl` may wait for a start or stop.
const PG_CTL_WAIT_SECS: &str = "60";

/// A running (or stopped) private cluster; stopped and deleted when dropped.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    run_as: Option<&'static str>,
    data: PathBuf,
    sockets: PathBuf,
    log: PathBuf,
    port: u16,
    // Last: the directory outlives the stop in `drop`.
    _dir: TempDir,
}

impl Cluster {
    /// Creates and starts a cluster; `None` (announced) when PostgreSQL's
    /// server binaries are not installed, a failure when `CI` is set.
    pub async fn start() -> Option<Self> {
        let Some(bin) = pg_bin_dir() else {
            if std::env::var_os("CI").is_some() {
                panic!("CI is set, so the outage test must run, but no initdb/pg_ctl was found");
            }
            shout(
                "SKIPPED: PostgreSQL's initdb and pg_ctl are not installed; the outage test did not run",
            );
            return None;
        };
        let cluster = tokio::task::spawn_blocking(move || Self::create(bin))
            .await
            .expect("the cluster set-up panicked");
        cluster.pg_ctl_start().await;
        Some(cluster)
    }

    fn create(bin: PathBuf) -> Self {
        let dir = TempDir::new();
        let home = dir.path().join("pg");
        std::fs::create_dir_all(&home).expect("create the cluster's directory");
        let sockets = home.join("sockets");
        std::fs::create_dir_all(&sockets).expect("create the socket directory");
        let run_as = is_root().then_some("postgres");
        if let Some(user) = run_as {
            let chown = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(&home)
                .output()
                .expect("chown runs");
            assert!(chown.status.success(), "chown: {}", text(&chown));
        }
        let data = home.join("data");
        let mut cluster = Self {
            bin,
            run_as,
            data,
            sockets,
            log: home.join("postgres.log"),
            port: 0,
            _dir: dir,
        };
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                path(&cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        assert!(initdb.status.success(), "initdb failed: {}", text(&initdb));
        cluster.port = free_port();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server: `fast` (clients are disconnected, a clean shutdown)
    /// or `immediate` (processes killed, crash recovery on the next start).
    pub async fn stop(&self, mode: &'static str) {
        let args = self.ctl_args(&["stop", "-m", mode]);
        let output = self.run_blocking("pg_ctl", args).await;
        assert!(
            output.status.success(),
            "pg_ctl stop failed: {}",
            text(&output)
        );
    }

    /// Starts the server again on the same port.
    pub async fn pg_ctl_start(&self) {
        // Loopback TCP only; the socket lives in the cluster's own directory.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.sockets.display()
        );
        let args = self.ctl_args(&["start", "-l", path(&self.log), "-o", &options]);
        let output = self.run_blocking("pg_ctl", args).await;
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}\nlog:\n{}",
            text(&output),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    fn ctl_args(&self, action: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-D".into(),
            path(&self.data).into(),
            "-w".into(),
            "-t".into(),
            PG_CTL_WAIT_SECS.into(),
        ];
        args.extend(action.iter().map(|a| (*a).to_owned()));
        args
    }

    async fn run_blocking(&self, program: &'static str, args: Vec<String>) -> Output {
        let command = self.command(
            program,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        tokio::task::spawn_blocking(move || {
            let mut command = command;
            command.output().expect("a PostgreSQL tool runs")
        })
        .await
        .expect("the PostgreSQL tool's thread panicked")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args)
            .output()
            .expect("a PostgreSQL tool runs")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let tool = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(tool);
                command
            }
            None => Command::new(tool),
        };
        // PG* variables of the caller's shell must not point the tools elsewhere.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                command.env_remove(key);
            }
        }
        command.args(args).current_dir(&self.sockets);
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let args = self.ctl_args(&["stop", "-m", "immediate"]);
        let _ = self
            .command(
                "pg_ctl",
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            )
            .output();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and
/// `pg_ctl`, else the directory of an `initdb` on `PATH`.
fn pg_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A port the kernel just handed out, free again once the probe closes.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|probe| probe.local_addr())
        .expect("bind a loopback probe")
        .port()
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
