//! What the SQLite tests share: throwaway database files and stores on them.
#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use scheduler_sqlx::SqliteStore;

/// A database file in the temp directory, unique to this process and call,
/// removed with its WAL files on drop.
#[derive(Debug)]
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    /// A fresh path; the file is created by whoever connects first.
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let file = format!("scheduler-sqlx-{name}-{}-{n}.db", std::process::id());
        let path = std::env::temp_dir().join(file);
        let db = Self { path };
        db.remove();
        db
    }

    /// The `sqlite://` URL of the file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// A migrated store on the file, with up to `readers` reader connections.
    pub async fn store(&self, readers: u32) -> SqliteStore {
        let options = SqliteStore::connect_options(&self.url()).expect("options");
        let store = SqliteStore::connect_with(options, readers)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.path.clone().into_os_string();
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

/// A migrated store on a fresh in-memory database.
pub async fn memory_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// How many rows `table` holds, read through the store's writer.
pub async fn count(store: &SqliteStore, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(store.writer())
        .await
        .expect("count")
}
