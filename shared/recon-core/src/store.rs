//! The state the engine keeps between objects and invocations, behind one trait so that the
//! local scanner (an embedded database) and the Lambdas (DynamoDB) share the detection logic.
//!
//! Every operation is shaped for DynamoDB: keyed items, "keep the minimum" updates and
//! optimistic writes that a conditional expression can enforce. Baselines are monotone (a first
//! time only moves earlier), so applying the same object twice or two objects in either order
//! leaves the same baseline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use crate::finding::Finding;
use crate::time::Timestamp;

/// Errors from a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the finding since it was loaded; reload and merge again.
    #[error("finding {id} was changed by another writer")]
    Conflict {
        /// The finding id.
        id: String,
    },
    /// The backend failed.
    #[error("store backend: {0}")]
    Backend(String),
}

/// Persistent state for detection.
pub trait Store {
    /// True when the object (an S3 key and ETag, or a file digest) was already processed.
    fn is_processed(
        &self,
        object_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks objects processed. Called last, after everything they caused is stored.
    fn mark_processed(
        &mut self,
        object_ids: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The earliest event time stored for an account, if any.
    fn load_account(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send;

    /// Keeps the earliest event time observed for an account and returns it.
    fn observe_account(
        &mut self,
        account_id: &str,
        first_event: Timestamp,
    ) -> impl Future<Output = Result<Timestamp, StoreError>> + Send;

    /// For each `(api, first_call)` of `principal`: keeps the earliest call time and returns the
    /// one stored before (`None`: the principal had never called it).
    fn record_first_calls(
        &mut self,
        principal: &str,
        calls: &[(String, Timestamp)],
    ) -> impl Future<Output = Result<Vec<Option<Timestamp>>, StoreError>> + Send;

    /// The finding with this id, if any.
    fn load_finding(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Finding>, StoreError>> + Send;

    /// Stores a finding if the stored copy still has `expected_updated_at` (`None`: must not
    /// exist yet); otherwise fails with [`StoreError::Conflict`].
    fn save_finding(
        &mut self,
        finding: &Finding,
        expected_updated_at: Option<Timestamp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Loads opaque detector state (flow-log windows) by key.
    fn load_state(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Stores (or with `None` deletes) opaque detector state.
    fn save_state(
        &mut self,
        key: &str,
        value: Option<Vec<u8>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes everything written since the last flush durable (one transaction where the backend
    /// has them).
    fn flush(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An in-memory store: the reference implementation, used by tests and as the local scanner's
/// write cache.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    /// Processed object ids.
    pub processed: HashSet<String>,
    /// Earliest event time per account.
    pub accounts: HashMap<String, Timestamp>,
    /// First call time per principal and API.
    pub baselines: HashMap<String, HashMap<String, Timestamp>>,
    /// Findings by id.
    pub findings: BTreeMap<String, Finding>,
    /// Detector state by key.
    pub state: HashMap<String, Vec<u8>>,
}

impl Store for MemoryStore {
    async fn is_processed(&self, object_id: &str) -> Result<bool, StoreError> {
        Ok(self.processed.contains(object_id))
    }

    async fn mark_processed(&mut self, object_ids: &[String]) -> Result<(), StoreError> {
        self.processed.extend(object_ids.iter().cloned());
        Ok(())
    }

    async fn load_account(&self, account: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.accounts.get(account).copied())
    }

    async fn observe_account(
        &mut self,
        account: &str,
        t: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        let v = self.accounts.entry(account.to_owned()).or_insert(t);
        *v = (*v).min(t);
        Ok(*v)
    }

    async fn record_first_calls(
        &mut self,
        principal: &str,
        calls: &[(String, Timestamp)],
    ) -> Result<Vec<Option<Timestamp>>, StoreError> {
        let apis = self.baselines.entry(principal.to_owned()).or_default();
        Ok(calls
            .iter()
            .map(|(api, t)| {
                let before = apis.get(api).copied();
                apis.insert(api.clone(), before.map_or(*t, |b| b.min(*t)));
                before
            })
            .collect())
    }

    async fn load_finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        Ok(self.findings.get(id).cloned())
    }

    async fn save_finding(
        &mut self,
        finding: &Finding,
        expected: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let current = self.findings.get(&finding.id).map(|f| f.updated_at);
        if current != expected {
            return Err(StoreError::Conflict {
                id: finding.id.clone(),
            });
        }
        self.findings.insert(finding.id.clone(), finding.clone());
        Ok(())
    }

    async fn load_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state.get(key).cloned())
    }

    async fn save_state(&mut self, key: &str, value: Option<Vec<u8>>) -> Result<(), StoreError> {
        match value {
            Some(v) => self.state.insert(key.to_owned(), v),
            None => self.state.remove(key),
        };
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
