//! The end-to-end harness: the real `server` binary as a child process on a
//! free loopback port, over a fresh SQLite file or a fresh PostgreSQL
//! database, with tokens minted by the binary's own `token` subcommand.
//!
//! Every wait is bounded, every child is killed when its handle drops, and
//! nothing listens or connects beyond 127.0.0.1.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::DateTime;
use reqwest::Method;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::oneshot;

/// The fault suite's load, ledger and database checks.
#[allow(dead_code)] // Only the fault tests use them.
pub mod faults;

/// A private PostgreSQL cluster the outage test may stop.
#[allow(dead_code)] // Only the outage test uses it.
pub mod cluster;

/// The HS256 secret every test server verifies with and every token is signed with.
pub const SECRET: &str = "e2e-secret-that-is-only-for-tests";

/// The environment variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_URL_VAR: &str = "SCHEDULER_TEST_POSTGRES_URL";

/// How long a server may take from spawn to its `listening on` line
/// (PostgreSQL migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long any one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `server token` may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The `server` example binary, built (or found up to date) by cargo itself.
///
/// `cargo test` builds the example only as its own test harness, never as the
/// program these tests start, so the first call runs `cargo build --example
/// server` with the cargo and target directory of this very build; cargo then
/// rebuilds exactly what changed, and no test runs against a stale server.
pub fn server_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build_server).clone()
}

fn build_server() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/e2e-… -> target/<profile> -> target
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
    let release = profile_dir
        .file_name()
        .is_some_and(|name| name == "release");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "--example", "server", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if release {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("cargo runs");
    assert!(
        status.success(),
        "`cargo build --example server` failed: {status}"
    );
    let binary = profile_dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "cargo built no server at {}",
        binary.display()
    );
    binary
}

/// A name no other test, process or run is using at the same time.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{:x}_{:x}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes straight to the process's stderr: libtest captures `eprintln!` of
/// passing tests, and a skip or a dying server must not go unnoticed.
fn shout(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// A directory removed, with its contents, when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name("scheduler-e2e"));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh database on the server named by `SCHEDULER_TEST_POSTGRES_URL`.
    Postgres,
}

impl Backend {
    /// A fresh, empty database of this kind; `None` when PostgreSQL is not
    /// configured outside CI (the skip is announced on stderr).
    pub async fn database(self) -> Option<TestDatabase> {
        match self {
            Backend::Sqlite => {
                let dir = TempDir::new();
                let url = format!("sqlite://{}", dir.path().join("scheduler.db").display());
                Some(TestDatabase {
                    url,
                    workdir: dir,
                    _postgres: None,
                })
            }
            Backend::Postgres => {
                let postgres = PgDatabase::create().await?;
                Some(TestDatabase {
                    url: postgres.url.clone(),
                    workdir: TempDir::new(),
                    _postgres: Some(postgres),
                })
            }
        }
    }
}

/// A database for one scenario, and a scratch directory for its servers'
/// logs; all of it is removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    workdir: TempDir,
    _postgres: Option<PgDatabase>,
}

impl TestDatabase {
    /// The `--database-url` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops a PostgreSQL database now, from a separate admin connection,
    /// ending every connection to it (`WITH (FORCE)`): storage lost under a
    /// running server. Panics on SQLite.
    #[allow(dead_code)] // Used by e2e_statuses, not by every test binary.
    pub async fn drop_postgres_now(&self) {
        let postgres = self
            ._postgres
            .as_ref()
            .expect("only a PostgreSQL database can be dropped under a server");
        let work = async {
            let mut admin = PgConnection::connect(&postgres.admin_url).await?;
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE {} WITH (FORCE)",
                postgres.name
            )))
            .execute(&mut admin)
            .await?;
            admin.close().await
        };
        tokio::time::timeout(Duration::from_secs(30), work)
            .await
            .expect("DROP DATABASE answered within 30 s")
            .expect("drop the test database");
    }
}

/// A PostgreSQL database created for one scenario and dropped after it.
#[derive(Debug)]
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates a fresh database, or skips (`None`) or fails as the environment says.
    async fn create() -> Option<Self> {
        let admin_url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => return skip(&format!("{POSTGRES_URL_VAR} is not set")),
        };
        let mut admin =
            match tokio::time::timeout(Duration::from_secs(15), PgConnection::connect(&admin_url))
                .await
            {
                Ok(Ok(conn)) => conn,
                // The URL may hold a password: only the error is shown.
                Ok(Err(error)) => {
                    return skip(&format!(
                        "the server in {POSTGRES_URL_VAR} is unreachable: {error}"
                    ));
                }
                Err(_) => {
                    return skip(&format!(
                        "the server in {POSTGRES_URL_VAR} did not answer in 15 s"
                    ));
                }
            };
        // A database per scenario, not a schema: the server takes only a URL,
        // and a database name is the one part of it every client honours.
        let name = unique_name("sched_e2e");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a database for the test");
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgDatabase {
    /// Drops the database even after a panic. Drop cannot await, so a
    /// short-lived thread with its own runtime does it; `FORCE` ends the
    /// connections of servers that are still dying.
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let work = async {
                    let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(AssertSqlSafe(statement))
                        .execute(&mut conn)
                        .await
                        .ok()?;
                    conn.close().await.ok()
                };
                tokio::time::timeout(Duration::from_secs(30), work)
                    .await
                    .ok()
                    .flatten()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            shout(&format!(
                "warning: could not drop test database {}",
                self.name
            ));
        }
    }
}

/// Skips the calling scenario, or fails it when `CI` is set.
fn skip<T>(reason: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so the PostgreSQL e2e tests must run, but {reason}");
    }
    shout(&format!(
        "SKIPPED: {reason}; PostgreSQL e2e tests did not run"
    ));
    None
}

/// `url` with its database (the path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (head, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let base = match head[authority_start..].find('/') {
        Some(i) => &head[..authority_start + i],
        None => head,
    };
    format!("{base}/{name}{query}")
}

/// The child's environment: the caller's, less every `SCHEDULER_*` variable,
/// so a developer's shell cannot change what a test configures by flags.
fn clean_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCHEDULER_") {
            command.env_remove(key);
        }
    }
    command
}

/// What a token lets its bearer be.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// Publishes availability.
    Provider,
    /// Reserves slots.
    Client,
}

/// A bearer token for `sub` as `role`, minted by `server token` with [`SECRET`].
pub async fn mint(role: Role, sub: &str) -> String {
    let role = match role {
        Role::Provider => "provider",
        Role::Client => "client",
    };
    let mut child = clean_command(&server_binary())
        .args(["token", "--role", role, "--sub", sub])
        .env("SCHEDULER_JWT_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`server token` runs");
    let status = wait_bounded(&mut child, TOKEN_TIMEOUT).await;
    // A token is far smaller than a pipe's buffer, so reading after the exit cannot block.
    let mut stdout = String::new();
    let mut stderr = String::new();
    let _ = child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout);
    let _ = child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr);
    assert!(
        status.success(),
        "`server token --role {role} --sub {sub}` failed: {stderr}"
    );
    // The token is the last non-empty line: anything before it is for people.
    let token = stdout
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        token.split('.').count(),
        3,
        "`server token` printed {stdout:?}, not a JWT"
    );
    token
}

/// Waits for `child` to exit, polling, for at most `limit`; kills it past that.
async fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll a child process") {
            return status;
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a child process ran longer than {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Tokens for many users at once: each mint is a process, so they run together.
pub async fn mint_many(role: Role, subs: &[String]) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, sub) in subs.iter().enumerate() {
        let sub = sub.clone();
        tasks.spawn(async move { (index, mint(role, &sub).await) });
    }
    let mut tokens = vec![String::new(); subs.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, token) = joined.expect("a mint task panicked");
        tokens[index] = token;
    }
    tokens
}

/// One running server process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
    log: PathBuf,
}

impl Server {
    /// Starts the server on `database` with `extra` flags after the harness's
    /// own (a free port, the test secret, no rate limit unless `extra` sets
    /// `--rate-limit`, which clap accepts only once).
    pub async fn start(database: &TestDatabase, extra: &[&str]) -> Self {
        let log = database
            .workdir
            .path()
            .join(format!("{}.log", unique_name("server")));
        let stderr = std::fs::File::create(&log).expect("create the server's log file");
        let mut child = clean_command(&server_binary())
            .args(["--bind", "127.0.0.1:0", "--database-url", database.url()])
            .args(["--jwt-secret", SECRET])
            // Off unless a test sets it: otherwise it would only make bursts
            // of one test user flaky.
            .args(if extra.contains(&"--rate-limit") {
                &[][..]
            } else {
                &["--rate-limit", "0"][..]
            })
            .args(extra)
            .current_dir(database.workdir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn the server binary");
        let stdout = child.stdout.take().expect("stdout is piped");
        let addr = match tokio::time::timeout(START_TIMEOUT, listening_addr(stdout)).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => panic!(
                "the server exited before printing `listening on http://…`; its log:\n{}",
                read_log(&log)
            ),
            Err(_) => panic!(
                "the server printed no `listening on http://…` within {START_TIMEOUT:?}; its log:\n{}",
                read_log(&log)
            ),
        };
        assert!(
            addr.starts_with("127.0.0.1:"),
            "the server must listen on loopback, it said {addr}"
        );
        let http = reqwest::Client::builder()
            // Loopback only: no proxy from the environment may relay it.
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("build an HTTP client");
        Self {
            child,
            base: format!("http://{addr}"),
            http,
            log,
        }
    }

    /// SIGKILLs the process and waits for it to be gone: no shutdown hook,
    /// no flush, as a crash or an OOM kill would leave it.
    pub async fn kill(&mut self) {
        // `Child::kill` is SIGKILL on Unix.
        self.child.kill().expect("signal the server");
        wait_bounded(&mut self.child, Duration::from_secs(10)).await;
    }

    /// Sends one request; `body` goes as JSON, instants in the answer are checked.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.finish(method, path, request, headers).await
    }

    /// Sends one request with a raw body of `content_type`, such as malformed
    /// JSON or more bytes than the server accepts.
    #[allow(dead_code)] // Used by e2e_statuses, not by every test binary.
    pub async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.finish(method, path, request, headers).await
    }

    /// Like [`Server::send_bytes`], but a transport failure (no answer, or
    /// the connection reset while the body was still going out) is returned
    /// instead of failing the test.
    #[allow(dead_code)] // Used by e2e_statuses, not by every test binary.
    pub async fn try_send_bytes(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.try_finish(method, path, request, &[]).await
    }

    async fn finish(
        &self,
        method: Method,
        path: &str,
        request: reqwest::RequestBuilder,
        headers: &[(&str, &str)],
    ) -> Reply {
        let request_line = format!("{method} {path}");
        self.try_finish(method, path, request, headers)
            .await
            .unwrap_or_else(|err| panic!("{request_line} got no answer: {err}"))
    }

    async fn try_finish(
        &self,
        method: Method,
        path: &str,
        mut request: reqwest::RequestBuilder,
        headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let header_map = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reply = Reply {
            request: format!("{method} {path}"),
            status,
            content_type,
            headers: header_map,
            text,
            body,
        };
        reply.assert_instants_are_utc();
        Ok(reply)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    /// `POST path` with an optional JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Option<&Value>) -> Reply {
        self.send(Method::POST, path, Some(token), body, &[]).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(Method::DELETE, path, Some(token), None, &[])
            .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL, then reap, so no test leaves a server or a zombie behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test is easier to read with the server's side of it.
        if std::thread::panicking() {
            let log = read_log(&self.log);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            shout(&format!(
                "--- last lines of the server log ({}):\n{}",
                self.base,
                tail.join("\n")
            ));
        }
    }
}

/// Reads stdout until the `listening on http://ADDR` line and answers ADDR;
/// an error if stdout closes first. A thread reads, and goes on draining stdout
/// after the line, so the child never blocks on a full pipe.
fn listening_addr(stdout: ChildStdout) -> oneshot::Receiver<String> {
    let (found, addr) = oneshot::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.trim().strip_prefix("listening on http://") {
                let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                if let Some(found) = found.take() {
                    let _ = found.send(addr);
                }
            }
        }
    });
    addr
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| format!("(no log: {err})"))
}

/// An answer, kept whole for assertions and for failure messages.
pub struct Reply {
    /// `METHOD path`, for messages.
    pub request: String,
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, or empty.
    pub content_type: String,
    /// Every response header.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`null` if it is not JSON).
    pub body: Value,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} ({}) {}",
            self.request, self.status, self.content_type, self.text
        )
    }
}

/// The keys whose values are instants in every body the API sends.
const INSTANT_KEYS: &[&str] = &[
    "start",
    "end",
    "createdAt",
    "expiresAt",
    "confirmedAt",
    "through",
];

/// The member holding a weekly schedule, whose `start` and `end` are
/// wall-clock times of day (`09:00`), not instants.
const SCHEDULE_KEY: &str = "schedule";

impl Reply {
    /// The value of header `name`, if present and text.
    #[allow(dead_code)] // Used by e2e_statuses, not by every test binary.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts the status, and that a success is JSON; returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {self:?}");
        if (200..300).contains(&status) {
            assert!(
                self.content_type.starts_with("application/json"),
                "a success must be application/json: {self:?}"
            );
        }
        &self.body
    }

    /// Asserts an RFC 9457 problem with `status` and stable `code`.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected answer: {self:?}");
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "an error must be application/problem+json: {self:?}"
        );
        assert_eq!(self.body["code"], code, "unexpected problem code: {self:?}");
        assert_eq!(
            self.body["status"], status,
            "the problem's status: {self:?}"
        );
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "a problem has a title and a detail: {self:?}"
        );
    }

    /// Every instant in the body is RFC 3339 in UTC, written with `Z`.
    #[track_caller]
    fn assert_instants_are_utc(&self) {
        fn walk(value: &Value, reply: &Reply) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        // A schedule's times are wall-clock `HH:MM`, and the
                        // OpenAPI document's examples are documentation, not
                        // answers: neither holds instants of this API.
                        if key == SCHEDULE_KEY || key == "example" {
                            continue;
                        }
                        if let (true, Value::String(text)) =
                            (INSTANT_KEYS.contains(&key.as_str()), value)
                        {
                            assert!(
                                text.ends_with('Z') && DateTime::parse_from_rfc3339(text).is_ok(),
                                "{key} = {text:?} is not an RFC 3339 instant with Z: {reply:?}"
                            );
                        }
                        walk(value, reply);
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| walk(item, reply)),
                _ => {}
            }
        }
        walk(&self.body, self);
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_urls_keep_their_server_and_options() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/scheduler_dev", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
