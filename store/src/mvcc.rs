//! The MVCC keyspace: revisions, key history, compaction, leases' key sets, and the
//! application of writes (puts, deletes, txns) exactly as etcd defines them.
//!
//! Layout: every write gets a [`Rev`] (`main` = the store revision of the write, `sub` = its
//! position inside a txn). Each record is persisted in the `rev` column family under the
//! 16-byte big-endian encoding of its `Rev`, so the column family in key order *is* the event
//! history that watches replay. In memory, [`Mvcc`] keeps a key index (each key's revisions,
//! and its latest value) so that point reads and ranges at the current revision never touch
//! the disk, and reads at a past revision cost one index lookup plus one RocksDB get per key.
//!
//! **Invariant:** `current_rev` grows by exactly one per write request that changes something,
//! whatever the Raft index does (reads, lease grants, no-op entries do not move it).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use keelson_proto::etcdserverpb::{
    self as pb, Compare, RequestOp, ResponseOp, compare, request_op, response_op,
};
use keelson_proto::mvccpb::{self, event::EventType};
use prost::Message;

use crate::error::{Result, StoreError};

/// A revision: the store revision of a write (`main`) and the write's index inside it (`sub`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rev {
    /// The store revision.
    pub main: i64,
    /// The write's position inside its txn.
    pub sub: i64,
}

impl Rev {
    /// The 16-byte big-endian key of this revision in the `rev` column family.
    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        b[8..].copy_from_slice(&(self.sub as u64).to_be_bytes());
        b
    }

    /// Decodes a `rev` column family key.
    pub fn decode(b: &[u8]) -> Option<Rev> {
        if b.len() != 16 {
            return None;
        }
        let main = u64::from_be_bytes(b[..8].try_into().ok()?) as i64;
        let sub = u64::from_be_bytes(b[8..].try_into().ok()?) as i64;
        Some(Rev { main, sub })
    }
}

/// One record of the history: a put (with its key-value) or a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// True for a delete.
    pub tombstone: bool,
    /// The key-value as written (for a tombstone: the key and `mod_revision` only).
    pub kv: mvccpb::KeyValue,
}

impl Record {
    /// Encodes the record as stored in the `rev` column family.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.kv.encoded_len());
        out.push(u8::from(self.tombstone));
        // Encoding into a Vec cannot fail.
        let _ = self.kv.encode(&mut out);
        out
    }

    /// Decodes a stored record.
    pub fn decode(b: &[u8]) -> Result<Record> {
        let (flag, rest) = b
            .split_first()
            .ok_or_else(|| StoreError::Storage("empty mvcc record".into()))?;
        let kv = mvccpb::KeyValue::decode(rest)
            .map_err(|e| StoreError::Storage(format!("mvcc record: {e}")))?;
        Ok(Record {
            tombstone: *flag == 1,
            kv,
        })
    }
}

/// Reads historical records; implemented by the RocksDB store (and by a map in unit tests).
pub trait History {
    /// The record written at `rev`, if it still exists.
    fn get(&self, rev: Rev) -> Result<Option<Record>>;
}

/// A change the caller must persist: the record at a revision, or a revision to drop.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Store `record` at `rev`.
    Put(Rev, Record),
    /// Delete the record at `rev` (compaction).
    Delete(Rev),
    /// Store a lease's TTL.
    LeasePut(i64, i64),
    /// Drop a lease.
    LeaseDelete(i64),
}

#[derive(Debug, Clone, Copy)]
struct RevEntry {
    rev: Rev,
    tombstone: bool,
}

#[derive(Debug, Default, Clone)]
struct KeyIndex {
    /// Revisions of this key still held, oldest first.
    history: Vec<RevEntry>,
    /// The current value, `None` while the key is deleted.
    latest: Option<Arc<mvccpb::KeyValue>>,
}

/// A granted lease, as replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseState {
    /// The granted TTL in seconds.
    pub ttl: i64,
    /// Keys attached to the lease.
    pub keys: BTreeSet<Vec<u8>>,
}

/// The events of one store revision, published to watchers after it is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RevBatch {
    /// The store revision.
    pub revision: i64,
    /// Its events, in sub-revision order (each with `prev_kv` filled when there was one).
    pub events: Vec<mvccpb::Event>,
}

/// The outcome of a txn: its response and the events it produced.
#[derive(Debug)]
pub struct TxnOutcome {
    /// The etcd response (header revision set; other header fields are the server's).
    pub response: pb::TxnResponse,
    /// The events of the new revision, empty for a read-only or failed txn.
    pub batch: Option<RevBatch>,
}

/// The in-memory MVCC state of one Raft group.
#[derive(Debug, Default)]
pub struct Mvcc {
    index: BTreeMap<Vec<u8>, KeyIndex>,
    current_rev: i64,
    compact_rev: i64,
    leases: BTreeMap<i64, LeaseState>,
}

/// The interval `[key, range_end)` in etcd's encoding, as BTreeMap bounds.
pub fn key_bounds(key: &[u8], range_end: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    if range_end.is_empty() {
        (Bound::Included(key.to_vec()), Bound::Included(key.to_vec()))
    } else if range_end == [0] {
        (Bound::Included(key.to_vec()), Bound::Unbounded)
    } else if key >= range_end {
        // Empty interval; BTreeMap::range panics on start > end, so give an empty one.
        (Bound::Included(key.to_vec()), Bound::Excluded(key.to_vec()))
    } else {
        (
            Bound::Included(key.to_vec()),
            Bound::Excluded(range_end.to_vec()),
        )
    }
}

/// True if `k` lies in etcd's interval `[key, range_end)`.
pub fn in_range(k: &[u8], key: &[u8], range_end: &[u8]) -> bool {
    if range_end.is_empty() {
        k == key
    } else if range_end == [0] {
        k >= key
    } else {
        k >= key && k < range_end
    }
}

impl Mvcc {
    /// An empty store at revision 1 (etcd's initial revision).
    pub fn new() -> Mvcc {
        Mvcc {
            current_rev: 1,
            ..Default::default()
        }
    }

    /// The current store revision.
    pub fn current_rev(&self) -> i64 {
        self.current_rev
    }

    /// The compaction revision (0 when never compacted).
    pub fn compact_rev(&self) -> i64 {
        self.compact_rev
    }

    /// Number of live keys.
    pub fn key_count(&self) -> usize {
        self.index.values().filter(|k| k.latest.is_some()).count()
    }

    /// The leases, by id.
    pub fn leases(&self) -> &BTreeMap<i64, LeaseState> {
        &self.leases
    }

    /// Rebuilds the index from stored records, in revision order (start-up, snapshot install).
    pub fn restore(
        records: impl Iterator<Item = Result<(Rev, Record)>>,
        leases: impl Iterator<Item = (i64, i64)>,
        current_rev: i64,
        compact_rev: i64,
    ) -> Result<Mvcc> {
        let mut m = Mvcc {
            current_rev: current_rev.max(1),
            compact_rev,
            ..Default::default()
        };
        for (id, ttl) in leases {
            m.leases.insert(
                id,
                LeaseState {
                    ttl,
                    keys: BTreeSet::new(),
                },
            );
        }
        for item in records {
            let (rev, rec) = item?;
            let ki = m.index.entry(rec.kv.key.clone()).or_default();
            ki.history.push(RevEntry {
                rev,
                tombstone: rec.tombstone,
            });
            ki.latest = if rec.tombstone {
                None
            } else {
                Some(Arc::new(rec.kv))
            };
        }
        for (key, ki) in &m.index {
            if let Some(kv) = &ki.latest
                && kv.lease != 0
                && let Some(l) = m.leases.get_mut(&kv.lease)
            {
                l.keys.insert(key.clone());
            }
        }
        m.index.retain(|_, ki| !ki.history.is_empty());
        Ok(m)
    }

    fn check_read_rev(&self, rev: i64) -> Result<i64> {
        if rev <= 0 {
            return Ok(self.current_rev);
        }
        if rev > self.current_rev {
            return Err(StoreError::FutureRevision {
                requested: rev,
                current: self.current_rev,
            });
        }
        if rev < self.compact_rev {
            return Err(StoreError::Compacted {
                requested: rev,
                compacted: self.compact_rev,
            });
        }
        Ok(rev)
    }

    /// The key-values in `[key, range_end)` as of `rev` (0 = current), in key order, plus the
    /// total number of keys in the interval. `limit` 0 means all.
    fn collect(
        &self,
        hist: &dyn History,
        key: &[u8],
        range_end: &[u8],
        rev: i64,
        limit: usize,
        count_only: bool,
    ) -> Result<(Vec<Arc<mvccpb::KeyValue>>, usize)> {
        let at = self.check_read_rev(rev)?;
        let mut out = Vec::new();
        let mut count = 0usize;
        for (_, ki) in self.index.range(key_bounds(key, range_end)) {
            // The revision of this key's version visible at `at`, if it is live there.
            let visible = if at == self.current_rev {
                ki.latest.as_ref().map(|l| Rev {
                    main: l.mod_revision,
                    sub: 0,
                })
            } else {
                let pos = ki.history.partition_point(|e| e.rev.main <= at);
                pos.checked_sub(1)
                    .map(|p| ki.history[p])
                    .filter(|e| !e.tombstone)
                    .map(|e| e.rev)
            };
            let Some(vrev) = visible else { continue };
            count += 1;
            if count_only || (limit > 0 && out.len() >= limit) {
                continue;
            }
            let kv = match &ki.latest {
                Some(l) if l.mod_revision == vrev.main => l.clone(),
                _ => match hist.get(vrev)? {
                    Some(r) => Arc::new(r.kv),
                    None => {
                        return Err(StoreError::Storage(format!(
                            "mvcc: record at {vrev:?} missing"
                        )));
                    }
                },
            };
            out.push(kv);
        }
        Ok((out, count))
    }

    /// Serves an etcd Range request against this state.
    pub fn range(&self, hist: &dyn History, r: &pb::RangeRequest) -> Result<pb::RangeResponse> {
        use pb::range_request::{SortOrder, SortTarget};
        if r.key.is_empty() {
            return Err(StoreError::EmptyKey);
        }
        let mut order = SortOrder::try_from(r.sort_order).unwrap_or(SortOrder::None);
        let target = SortTarget::try_from(r.sort_target).unwrap_or(SortTarget::Key);
        if target != SortTarget::Key && order == SortOrder::None {
            order = SortOrder::Ascend;
        }
        let filtering = r.min_mod_revision != 0
            || r.max_mod_revision != 0
            || r.min_create_revision != 0
            || r.max_create_revision != 0;
        let needs_all = filtering
            || !(order == SortOrder::None
                || (target == SortTarget::Key && order == SortOrder::Ascend));
        let fetch_limit = if r.limit > 0 && !needs_all {
            r.limit as usize + 1
        } else {
            0
        };
        let (mut kvs, count) = self.collect(
            hist,
            &r.key,
            &r.range_end,
            r.revision,
            fetch_limit,
            r.count_only,
        )?;
        if filtering {
            kvs.retain(|kv| {
                (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
                    && (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
                    && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
                    && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
            });
        }
        match (order, target) {
            (SortOrder::None, _) | (SortOrder::Ascend, SortTarget::Key) => {}
            (SortOrder::Descend, SortTarget::Key) => kvs.reverse(),
            (o, t) => {
                kvs.sort_by(|a, b| {
                    let c = match t {
                        SortTarget::Key => a.key.cmp(&b.key),
                        SortTarget::Version => a.version.cmp(&b.version),
                        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
                        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
                        SortTarget::Value => a.value.cmp(&b.value),
                    };
                    if o == SortOrder::Descend {
                        c.reverse()
                    } else {
                        c
                    }
                });
            }
        }
        let mut more = false;
        if r.limit > 0 && kvs.len() > r.limit as usize {
            kvs.truncate(r.limit as usize);
            more = true;
        }
        let kvs = kvs
            .into_iter()
            .map(|kv| {
                let mut kv = (*kv).clone();
                if r.keys_only {
                    kv.value.clear();
                }
                kv
            })
            .collect();
        Ok(pb::RangeResponse {
            header: Some(pb::ResponseHeader {
                revision: self.current_rev,
                ..Default::default()
            }),
            kvs,
            more,
            count: count as i64,
        })
    }

    fn compare_kv(&self, c: &Compare, kv: Option<&mvccpb::KeyValue>) -> bool {
        use pb::compare::{CompareResult, CompareTarget};
        let target = CompareTarget::try_from(c.target).unwrap_or(CompareTarget::Version);
        let result = CompareResult::try_from(c.result).unwrap_or(CompareResult::Equal);
        let ord = match (target, &c.target_union) {
            (CompareTarget::Value, Some(compare::TargetUnion::Value(v))) => match kv {
                Some(kv) => kv.value.as_slice().cmp(v.as_slice()),
                None => return false,
            },
            (CompareTarget::Value, _) => return false,
            (t, u) => {
                let want = match u {
                    Some(compare::TargetUnion::Version(x))
                    | Some(compare::TargetUnion::CreateRevision(x))
                    | Some(compare::TargetUnion::ModRevision(x))
                    | Some(compare::TargetUnion::Lease(x)) => *x,
                    _ => 0,
                };
                let have = kv
                    .map(|kv| match t {
                        CompareTarget::Version => kv.version,
                        CompareTarget::Create => kv.create_revision,
                        CompareTarget::Mod => kv.mod_revision,
                        CompareTarget::Lease => kv.lease,
                        CompareTarget::Value => 0,
                    })
                    .unwrap_or(0);
                have.cmp(&want)
            }
        };
        match result {
            CompareResult::Equal => ord.is_eq(),
            CompareResult::NotEqual => ord.is_ne(),
            CompareResult::Greater => ord.is_gt(),
            CompareResult::Less => ord.is_lt(),
        }
    }

    fn compare(&self, c: &Compare) -> bool {
        if c.range_end.is_empty() {
            let kv = self.index.get(&c.key).and_then(|k| k.latest.as_deref());
            return self.compare_kv(c, kv);
        }
        let mut any = false;
        for (_, ki) in self.index.range(key_bounds(&c.key, &c.range_end)) {
            if let Some(kv) = &ki.latest {
                any = true;
                if !self.compare_kv(c, Some(kv)) {
                    return false;
                }
            }
        }
        // An empty range compares like an absent key.
        any || self.compare_kv(c, None)
    }

    /// Which branch each txn on the execution path takes, evaluated before any write (etcd's
    /// "txn path"), in depth-first order.
    fn txn_path(&self, t: &pb::TxnRequest, path: &mut Vec<bool>) {
        let ok = t.compare.iter().all(|c| self.compare(c));
        path.push(ok);
        let ops = if ok { &t.success } else { &t.failure };
        for op in ops {
            if let Some(request_op::Request::RequestTxn(inner)) = &op.request {
                self.txn_path(inner, path);
            }
        }
    }

    /// Checks every op on the path can be applied, so that a txn is all or nothing.
    fn validate_path(&self, t: &pb::TxnRequest, path: &[bool], at: &mut usize) -> Result<()> {
        let ok = path[*at];
        *at += 1;
        for op in if ok { &t.success } else { &t.failure } {
            match &op.request {
                Some(request_op::Request::RequestRange(r)) if r.revision > 0 => {
                    self.check_read_rev(r.revision)?;
                }
                Some(request_op::Request::RequestPut(p)) => {
                    if (p.ignore_value || p.ignore_lease)
                        && self
                            .index
                            .get(&p.key)
                            .and_then(|k| k.latest.as_ref())
                            .is_none()
                    {
                        return Err(StoreError::KeyNotFound);
                    }
                    if !p.ignore_lease && p.lease != 0 && !self.leases.contains_key(&p.lease) {
                        return Err(StoreError::LeaseNotFound(p.lease));
                    }
                }
                Some(request_op::Request::RequestTxn(inner)) => {
                    self.validate_path(inner, path, at)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Applies a txn (puts and deletes are txns with no compares): evaluates the compares,
    /// checks the chosen branch can be applied whole, then applies it at one new revision.
    /// `changes` receives what must be persisted, in order.
    pub fn apply_txn(
        &mut self,
        hist: &dyn History,
        t: &pb::TxnRequest,
        changes: &mut Vec<Change>,
    ) -> Result<TxnOutcome> {
        let mut path = Vec::new();
        self.txn_path(t, &mut path);
        self.validate_path(t, &path, &mut 0)?;
        let mut w = TxnWriter {
            rev: self.current_rev + 1,
            sub: 0,
            events: Vec::new(),
        };
        let mut at = 0;
        let mut response = self.exec_txn(hist, t, &path, &mut at, &mut w, changes)?;
        let batch = if w.sub > 0 {
            self.current_rev = w.rev;
            Some(RevBatch {
                revision: w.rev,
                events: w.events,
            })
        } else {
            None
        };
        set_revision(&mut response, self.current_rev);
        Ok(TxnOutcome { response, batch })
    }

    /// Evaluates a txn that has no writes (only ranges) without changing anything.
    pub fn read_txn(&self, hist: &dyn History, t: &pb::TxnRequest) -> Result<pb::TxnResponse> {
        let mut path = Vec::new();
        self.txn_path(t, &mut path);
        self.validate_path(t, &path, &mut 0)?;
        let mut resp = self.read_exec(hist, t, &path, &mut 0)?;
        set_revision(&mut resp, self.current_rev);
        Ok(resp)
    }

    fn read_exec(
        &self,
        hist: &dyn History,
        t: &pb::TxnRequest,
        path: &[bool],
        at: &mut usize,
    ) -> Result<pb::TxnResponse> {
        let ok = path[*at];
        *at += 1;
        let mut responses = Vec::new();
        for op in if ok { &t.success } else { &t.failure } {
            let resp = match &op.request {
                Some(request_op::Request::RequestRange(r)) => {
                    response_op::Response::ResponseRange(self.range(hist, r)?)
                }
                Some(request_op::Request::RequestTxn(inner)) => {
                    response_op::Response::ResponseTxn(self.read_exec(hist, inner, path, at)?)
                }
                _ => {
                    return Err(StoreError::InvalidArgument(
                        "write in a read-only txn".into(),
                    ));
                }
            };
            responses.push(ResponseOp {
                response: Some(resp),
            });
        }
        Ok(pb::TxnResponse {
            header: None,
            succeeded: ok,
            responses,
        })
    }

    fn exec_txn(
        &mut self,
        hist: &dyn History,
        t: &pb::TxnRequest,
        path: &[bool],
        at: &mut usize,
        w: &mut TxnWriter,
        changes: &mut Vec<Change>,
    ) -> Result<pb::TxnResponse> {
        let ok = path[*at];
        *at += 1;
        let mut responses = Vec::new();
        for op in if ok { &t.success } else { &t.failure } {
            let resp = match &op.request {
                Some(request_op::Request::RequestRange(r)) => {
                    // Reads inside a txn see the txn's own earlier writes.
                    let saved = self.current_rev;
                    if w.sub > 0 {
                        self.current_rev = w.rev;
                    }
                    let res = self.range(hist, r);
                    self.current_rev = saved;
                    response_op::Response::ResponseRange(res?)
                }
                Some(request_op::Request::RequestPut(p)) => {
                    response_op::Response::ResponsePut(self.put(p, w, changes))
                }
                Some(request_op::Request::RequestDeleteRange(d)) => {
                    response_op::Response::ResponseDeleteRange(self.delete_range(d, w, changes))
                }
                Some(request_op::Request::RequestTxn(inner)) => response_op::Response::ResponseTxn(
                    self.exec_txn(hist, inner, path, at, w, changes)?,
                ),
                None => continue,
            };
            responses.push(ResponseOp {
                response: Some(resp),
            });
        }
        Ok(pb::TxnResponse {
            header: None,
            succeeded: ok,
            responses,
        })
    }

    fn put(
        &mut self,
        p: &pb::PutRequest,
        w: &mut TxnWriter,
        changes: &mut Vec<Change>,
    ) -> pb::PutResponse {
        let rev = Rev {
            main: w.rev,
            sub: w.sub,
        };
        w.sub += 1;
        let ki = self.index.entry(p.key.clone()).or_default();
        let prev = ki.latest.clone();
        let value = match (&prev, p.ignore_value) {
            (Some(prev), true) => prev.value.clone(),
            _ => p.value.clone(),
        };
        let lease = match (&prev, p.ignore_lease) {
            (Some(prev), true) => prev.lease,
            _ => p.lease,
        };
        let (create_revision, version) = match &prev {
            Some(prev) => (prev.create_revision, prev.version + 1),
            None => (rev.main, 1),
        };
        let kv = mvccpb::KeyValue {
            key: p.key.clone(),
            create_revision,
            mod_revision: rev.main,
            version,
            value,
            lease,
        };
        ki.history.push(RevEntry {
            rev,
            tombstone: false,
        });
        ki.latest = Some(Arc::new(kv.clone()));
        let old_lease = prev.as_ref().map(|p| p.lease).unwrap_or(0);
        if old_lease != lease
            && let Some(l) = self.leases.get_mut(&old_lease)
        {
            l.keys.remove(&p.key);
        }
        if lease != 0
            && let Some(l) = self.leases.get_mut(&lease)
        {
            l.keys.insert(p.key.clone());
        }
        changes.push(Change::Put(
            rev,
            Record {
                tombstone: false,
                kv: kv.clone(),
            },
        ));
        let prev_kv = prev.map(|a| (*a).clone());
        w.events.push(mvccpb::Event {
            r#type: EventType::Put as i32,
            kv: Some(kv),
            prev_kv: prev_kv.clone(),
        });
        pb::PutResponse {
            header: None,
            prev_kv: if p.prev_kv { prev_kv } else { None },
        }
    }

    fn delete_key(
        &mut self,
        key: &[u8],
        w: &mut TxnWriter,
        changes: &mut Vec<Change>,
    ) -> Option<mvccpb::KeyValue> {
        let ki = self.index.get_mut(key)?;
        let prev = ki.latest.take()?;
        let rev = Rev {
            main: w.rev,
            sub: w.sub,
        };
        w.sub += 1;
        ki.history.push(RevEntry {
            rev,
            tombstone: true,
        });
        if prev.lease != 0
            && let Some(l) = self.leases.get_mut(&prev.lease)
        {
            l.keys.remove(key);
        }
        let tomb = mvccpb::KeyValue {
            key: key.to_vec(),
            mod_revision: rev.main,
            ..Default::default()
        };
        changes.push(Change::Put(
            rev,
            Record {
                tombstone: true,
                kv: tomb.clone(),
            },
        ));
        let prev = (*prev).clone();
        w.events.push(mvccpb::Event {
            r#type: EventType::Delete as i32,
            kv: Some(tomb),
            prev_kv: Some(prev.clone()),
        });
        Some(prev)
    }

    fn delete_range(
        &mut self,
        d: &pb::DeleteRangeRequest,
        w: &mut TxnWriter,
        changes: &mut Vec<Change>,
    ) -> pb::DeleteRangeResponse {
        let keys: Vec<Vec<u8>> = self
            .index
            .range(key_bounds(&d.key, &d.range_end))
            .filter(|(_, ki)| ki.latest.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        let mut prev_kvs = Vec::new();
        for k in &keys {
            if let Some(prev) = self.delete_key(k, w, changes)
                && d.prev_kv
            {
                prev_kvs.push(prev);
            }
        }
        pb::DeleteRangeResponse {
            header: None,
            deleted: keys.len() as i64,
            prev_kvs,
        }
    }

    /// Compacts history up to `rev`: every version superseded at or before `rev` is dropped.
    pub fn compact(&mut self, rev: i64, changes: &mut Vec<Change>) -> Result<()> {
        if rev <= self.compact_rev {
            return Err(StoreError::Compacted {
                requested: rev,
                compacted: self.compact_rev,
            });
        }
        if rev > self.current_rev {
            return Err(StoreError::FutureRevision {
                requested: rev,
                current: self.current_rev,
            });
        }
        self.index.retain(|_, ki| {
            let pos = ki.history.partition_point(|e| e.rev.main <= rev);
            if pos == 0 {
                return true;
            }
            let keep_last = !ki.history[pos - 1].tombstone;
            let drop_to = if keep_last { pos - 1 } else { pos };
            for e in ki.history.drain(..drop_to) {
                changes.push(Change::Delete(e.rev));
            }
            !ki.history.is_empty()
        });
        self.compact_rev = rev;
        Ok(())
    }

    /// Grants a lease (the id was chosen by the proposer).
    pub fn lease_grant(&mut self, id: i64, ttl: i64, changes: &mut Vec<Change>) -> Result<()> {
        if id == 0 {
            return Err(StoreError::InvalidArgument("lease id 0".into()));
        }
        if self.leases.contains_key(&id) {
            return Err(StoreError::LeaseExists(id));
        }
        self.leases.insert(
            id,
            LeaseState {
                ttl,
                keys: BTreeSet::new(),
            },
        );
        changes.push(Change::LeasePut(id, ttl));
        Ok(())
    }

    /// Revokes a lease, deleting its keys at one new revision.
    pub fn lease_revoke(&mut self, id: i64, changes: &mut Vec<Change>) -> Result<Option<RevBatch>> {
        let lease = self
            .leases
            .remove(&id)
            .ok_or(StoreError::LeaseNotFound(id))?;
        changes.push(Change::LeaseDelete(id));
        let mut w = TxnWriter {
            rev: self.current_rev + 1,
            sub: 0,
            events: Vec::new(),
        };
        for k in &lease.keys {
            self.delete_key(k, &mut w, changes);
        }
        if w.sub > 0 {
            self.current_rev = w.rev;
            return Ok(Some(RevBatch {
                revision: w.rev,
                events: w.events,
            }));
        }
        Ok(None)
    }

    /// The keys of a live key range, for lease TTL reports and tests.
    pub fn latest(&self, key: &[u8]) -> Option<Arc<mvccpb::KeyValue>> {
        self.index.get(key).and_then(|k| k.latest.clone())
    }

    /// The previous value of `key` before revision `rev` (for `prev_kv` on replayed events).
    pub fn value_before(
        &self,
        hist: &dyn History,
        key: &[u8],
        rev: Rev,
    ) -> Result<Option<mvccpb::KeyValue>> {
        let Some(ki) = self.index.get(key) else {
            return Ok(None);
        };
        let pos = ki.history.partition_point(|e| e.rev < rev);
        if pos == 0 {
            return Ok(None);
        }
        let e = ki.history[pos - 1];
        if e.tombstone {
            return Ok(None);
        }
        Ok(hist.get(e.rev)?.map(|r| r.kv))
    }
}

struct TxnWriter {
    rev: i64,
    sub: i64,
    events: Vec<mvccpb::Event>,
}

fn set_revision(t: &mut pb::TxnResponse, rev: i64) {
    t.header = Some(pb::ResponseHeader {
        revision: rev,
        ..Default::default()
    });
    for r in &mut t.responses {
        let h = Some(pb::ResponseHeader {
            revision: rev,
            ..Default::default()
        });
        match &mut r.response {
            Some(response_op::Response::ResponseRange(x)) => x.header = h,
            Some(response_op::Response::ResponsePut(x)) => x.header = h,
            Some(response_op::Response::ResponseDeleteRange(x)) => x.header = h,
            Some(response_op::Response::ResponseTxn(x)) => set_revision(x, rev),
            None => {}
        }
    }
}

/// Checks a txn's shape before it is proposed: op counts and etcd's duplicate-key rule (no
/// key written twice on one path, no put inside a range deleted on the same path).
pub fn check_txn(t: &pb::TxnRequest, max_ops: usize) -> Result<()> {
    fn count_ok(t: &pb::TxnRequest, max_ops: usize) -> bool {
        t.success.len() <= max_ops
            && t.failure.len() <= max_ops
            && t.compare.len() <= max_ops
            && t.success
                .iter()
                .chain(t.failure.iter())
                .all(|op| match &op.request {
                    Some(request_op::Request::RequestTxn(inner)) => count_ok(inner, max_ops),
                    _ => true,
                })
    }
    if !count_ok(t, max_ops) {
        return Err(StoreError::TooManyOps);
    }
    for op in t.success.iter().chain(t.failure.iter()) {
        match &op.request {
            Some(request_op::Request::RequestPut(p)) if p.key.is_empty() => {
                return Err(StoreError::EmptyKey);
            }
            Some(request_op::Request::RequestDeleteRange(d)) if d.key.is_empty() => {
                return Err(StoreError::EmptyKey);
            }
            Some(request_op::Request::RequestRange(r)) if r.key.is_empty() => {
                return Err(StoreError::EmptyKey);
            }
            Some(request_op::Request::RequestPut(p)) => check_put(p)?,
            _ => {}
        }
    }
    check_intervals(&t.success)?;
    check_intervals(&t.failure)?;
    Ok(())
}

/// True if a txn (on any branch, nested included) contains a put: what the NOSPACE alarm
/// and the quota refuse.
pub fn txn_has_put(t: &pb::TxnRequest) -> bool {
    t.success
        .iter()
        .chain(t.failure.iter())
        .any(|op| match &op.request {
            Some(request_op::Request::RequestPut(_)) => true,
            Some(request_op::Request::RequestTxn(inner)) => txn_has_put(inner),
            _ => false,
        })
}

/// The `ignore_value`/`ignore_lease` rules of a put.
pub fn check_put(p: &pb::PutRequest) -> Result<()> {
    if p.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    if p.ignore_value && !p.value.is_empty() {
        return Err(StoreError::ValueProvided);
    }
    if p.ignore_lease && p.lease != 0 {
        return Err(StoreError::LeaseProvided);
    }
    Ok(())
}

type Dels = Vec<(Vec<u8>, Vec<u8>)>;

fn dels_hit(dels: &Dels, k: &[u8]) -> bool {
    dels.iter().any(|(s, e)| in_range(k, s, e))
}

fn check_intervals(ops: &[RequestOp]) -> Result<(BTreeSet<Vec<u8>>, Dels)> {
    let mut dels: Dels = Vec::new();
    for op in ops {
        if let Some(request_op::Request::RequestDeleteRange(d)) = &op.request {
            dels.push((d.key.clone(), d.range_end.clone()));
        }
    }
    let mut puts = BTreeSet::new();
    for op in ops {
        let Some(request_op::Request::RequestTxn(t)) = &op.request else {
            continue;
        };
        let (puts_then, dels_then) = check_intervals(&t.success)?;
        let (puts_else, dels_else) = check_intervals(&t.failure)?;
        for k in &puts_then {
            if puts.contains(k) || dels_hit(&dels, k) {
                return Err(StoreError::DuplicateKey);
            }
            puts.insert(k.clone());
        }
        for k in puts_else {
            if (puts.contains(&k) && !puts_then.contains(&k)) || dels_hit(&dels, &k) {
                return Err(StoreError::DuplicateKey);
            }
            puts.insert(k);
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }
    for op in ops {
        let Some(request_op::Request::RequestPut(p)) = &op.request else {
            continue;
        };
        if puts.contains(&p.key) || dels_hit(&dels, &p.key) {
            return Err(StoreError::DuplicateKey);
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, dels))
}

/// Wraps a single put as a txn with no compares (how the store replicates it).
pub fn put_as_txn(p: pb::PutRequest) -> pb::TxnRequest {
    pb::TxnRequest {
        compare: vec![],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(p)),
        }],
        failure: vec![],
    }
}

/// Wraps a single delete as a txn with no compares.
pub fn delete_as_txn(d: pb::DeleteRangeRequest) -> pb::TxnRequest {
    pb::TxnRequest {
        compare: vec![],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(d)),
        }],
        failure: vec![],
    }
}

#[cfg(test)]
mod tests;
