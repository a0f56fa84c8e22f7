//! The embedded store behind `recon scan --state DIR`: a redb database file holding baselines,
//! findings, detector state and which objects were processed.
//!
//! Reads go to a write cache first and then to the database; every write of a run lands in one
//! redb write transaction at [`Store::flush`], so a crash leaves the previous state intact (redb
//! commits are atomic and durable). A held store ([`RedbStore::hold`]) keeps that transaction
//! back until [`RedbStore::persist`]: `recon scan` persists a run only once its findings are
//! written out.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use recon_core::finding::Finding;
use recon_core::store::{Store, StoreError};
use recon_core::time::Timestamp;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const PROCESSED: TableDefinition<&str, i64> = TableDefinition::new("processed");
const ACCOUNTS: TableDefinition<&str, i64> = TableDefinition::new("accounts");
const BASELINES: TableDefinition<&str, i64> = TableDefinition::new("baselines");
const FINDINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("findings");
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");

/// The file name of the database inside the state folder.
pub const DB_FILE: &str = "recon.redb";

/// A redb-backed [`Store`].
pub struct RedbStore {
    db: Database,
    processed: HashSet<String>,
    accounts: HashMap<String, i64>,
    baselines: HashMap<String, i64>,
    findings: HashMap<String, Finding>,
    state: HashMap<String, Option<Vec<u8>>>,
    /// While set, [`Store::flush`] leaves the writes in the cache.
    held: bool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The baseline item key of one principal's API.
fn baseline_key(principal: &str, api: &str) -> String {
    format!("{principal}\u{1f}{api}")
}

impl RedbStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let db = Database::create(&path).map_err(|e| {
            let hint = match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    " (is another recon scan using this state folder?)"
                }
                _ => "",
            };
            backend(format!("cannot open {}: {e}{hint}", path.display()))
        })?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(PROCESSED).map_err(backend)?;
            txn.open_table(ACCOUNTS).map_err(backend)?;
            txn.open_table(BASELINES).map_err(backend)?;
            txn.open_table(FINDINGS).map_err(backend)?;
            txn.open_table(STATE).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(RedbStore {
            db,
            processed: HashSet::new(),
            accounts: HashMap::new(),
            baselines: HashMap::new(),
            findings: HashMap::new(),
            state: HashMap::new(),
            held: false,
        })
    }

    /// Keeps what is flushed in memory until [`RedbStore::persist`]. Findings that could not
    /// be written out must not be stored as already reported: a failed write then leaves the
    /// run undone, and scanning again reports them again.
    pub fn hold(&mut self) {
        self.held = true;
    }

    /// Makes everything written durable, in one transaction, and stops holding.
    pub fn persist(&mut self) -> Result<(), StoreError> {
        self.held = false;
        self.write_all().map_err(backend)
    }

    fn read_i64(
        &self,
        table: TableDefinition<&str, i64>,
        key: &str,
    ) -> Result<Option<i64>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let t = txn.open_table(table).map_err(backend)?;
        let value = t.get(key).map_err(backend)?.map(|v| v.value());
        Ok(value)
    }

    fn read_bytes(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let t = txn.open_table(table).map_err(backend)?;
        let value = t.get(key).map_err(backend)?.map(|v| v.value().to_vec());
        Ok(value)
    }

    fn stored_finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        match self.read_bytes(FINDINGS, id)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| backend(format!("finding {id} is unreadable: {e}"))),
            None => Ok(None),
        }
    }

    fn write_all(&mut self) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(PROCESSED)?;
            for id in self.processed.drain() {
                t.insert(id.as_str(), Timestamp::now().0)?;
            }
            let mut t = txn.open_table(ACCOUNTS)?;
            for (k, v) in self.accounts.drain() {
                t.insert(k.as_str(), v)?;
            }
            let mut t = txn.open_table(BASELINES)?;
            for (k, v) in self.baselines.drain() {
                t.insert(k.as_str(), v)?;
            }
            let mut t = txn.open_table(FINDINGS)?;
            for (k, f) in self.findings.drain() {
                let bytes = serde_json::to_vec(&f)
                    .map_err(|e| redb::Error::Corrupted(format!("finding {k}: {e}")))?;
                t.insert(k.as_str(), bytes.as_slice())?;
            }
            let mut t = txn.open_table(STATE)?;
            for (k, v) in self.state.drain() {
                match v {
                    Some(v) => t.insert(k.as_str(), v.as_slice()).map(|_| ())?,
                    None => t.remove(k.as_str()).map(|_| ())?,
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}

impl Store for RedbStore {
    async fn is_processed(&self, object_id: &str) -> Result<bool, StoreError> {
        Ok(self.processed.contains(object_id) || self.read_i64(PROCESSED, object_id)?.is_some())
    }

    async fn mark_processed(&mut self, object_ids: &[String]) -> Result<(), StoreError> {
        self.processed.extend(object_ids.iter().cloned());
        Ok(())
    }

    async fn load_account(&self, account: &str) -> Result<Option<Timestamp>, StoreError> {
        let known = match self.accounts.get(account) {
            Some(v) => Some(*v),
            None => self.read_i64(ACCOUNTS, account)?,
        };
        Ok(known.map(Timestamp))
    }

    async fn observe_account(
        &mut self,
        account: &str,
        first: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        let known = self.load_account(account).await?.map(|t| t.0);
        let v = known.map_or(first.0, |k| k.min(first.0));
        self.accounts.insert(account.to_owned(), v);
        Ok(Timestamp(v))
    }

    async fn record_first_calls(
        &mut self,
        principal: &str,
        calls: &[(String, Timestamp)],
    ) -> Result<Vec<Option<Timestamp>>, StoreError> {
        let mut out = Vec::with_capacity(calls.len());
        for (api, t) in calls {
            let key = baseline_key(principal, api);
            let before = match self.baselines.get(&key) {
                Some(v) => Some(*v),
                None => self.read_i64(BASELINES, &key)?,
            };
            self.baselines
                .insert(key, before.map_or(t.0, |b| b.min(t.0)));
            out.push(before.map(Timestamp));
        }
        Ok(out)
    }

    async fn load_finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        match self.findings.get(id) {
            Some(f) => Ok(Some(f.clone())),
            None => self.stored_finding(id),
        }
    }

    async fn save_finding(
        &mut self,
        finding: &Finding,
        expected: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let current = match self.findings.get(&finding.id) {
            Some(f) => Some(f.updated_at),
            None => self.stored_finding(&finding.id)?.map(|f| f.updated_at),
        };
        if current != expected {
            return Err(StoreError::Conflict {
                id: finding.id.clone(),
            });
        }
        self.findings.insert(finding.id.clone(), finding.clone());
        Ok(())
    }

    async fn load_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.state.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.read_bytes(STATE, key),
        }
    }

    async fn save_state(&mut self, key: &str, value: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.state.insert(key.to_owned(), value);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.held {
            return Ok(());
        }
        self.write_all().map_err(backend)
    }
}
