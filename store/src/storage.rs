//! RocksDB persistence for one Raft group: the Raft log (fsynced before it is acknowledged),
//! the vote, and the applied MVCC state, all in **one** RocksDB instance.
//!
//! Column families: `log` (index → entry), `raft` (vote, committed, last purged), `rev`
//! (revision → MVCC record: the event history), `lease` (lease id → TTL), `meta` (the applied
//! [`SmMeta`]). Because log and state share one write-ahead log, recovery always yields a
//! prefix of the writes: the applied index can never be ahead of the state it describes, and
//! an fsync of a log append also makes every earlier state-machine write durable.
//!
//! Log appends are written without waiting, then a dedicated flusher thread fsyncs the WAL
//! once for every append that arrived meanwhile (group commit) and only then tells openraft
//! the entries are durable; openraft acknowledges votes and appends only after that.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{self, Cursor};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, RaftSnapshotBuilder,
    SnapshotMeta, StorageError, StoredMembership, Vote,
};
use prost::Message;
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::{Result, StoreError};
use crate::mvcc::{Change, History, Mvcc, Record, Rev, RevBatch, txn_has_put};
use crate::types::{Applied, MemberAttr, NodeId, PeerNode, Request, Response, SmMeta, TypeConfig};
use keelson_proto::etcdserverpb as pb;

const CF_LOG: &str = "log";
const CF_RAFT: &str = "raft";
const CF_REV: &str = "rev";
const CF_LEASE: &str = "lease";
const CF_META: &str = "meta";
const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"last_purged";
const KEY_SM: &[u8] = b"sm";
const SNAPSHOT_FILE: &str = "snapshot.bin";
/// etcd's NOSPACE alarm type.
pub const ALARM_NOSPACE: i32 = 1;

type SErr = StorageError<NodeId>;

fn serr(verb: ErrorVerb, e: impl std::fmt::Display) -> SErr {
    StorageError::from_io_error(ErrorSubject::Store, verb, io::Error::other(e.to_string()))
}

/// Opens (or creates) the RocksDB instance of one group.
pub fn open_db(dir: &Path) -> Result<Arc<DB>> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_paranoid_checks(true);
    opts.set_max_background_jobs(2);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let cfs = [CF_LOG, CF_RAFT, CF_REV, CF_LEASE, CF_META]
        .into_iter()
        .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
    let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|e| StoreError::CorruptDataDir {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(db))
}

fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Storage(format!("column family {name} missing")))
}

fn sync_opts() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

/// Group-commit fsync of the write-ahead log, on its own thread.
struct Flusher {
    tx: std::sync::Mutex<Option<mpsc::Sender<LogFlushed<TypeConfig>>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Flusher {
    fn start(db: Arc<DB>) -> Flusher {
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let thread = std::thread::Builder::new()
            .name("wal-fsync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiting = vec![first];
                    waiting.extend(rx.try_iter());
                    let res = db.flush_wal(true);
                    for cb in waiting {
                        cb.log_io_completed(
                            res.clone().map_err(|e| io::Error::other(e.to_string())),
                        );
                    }
                }
            })
            .map_err(|e| tracing::error!(error = %e, "cannot start the WAL fsync thread"))
            .ok();
        Flusher {
            tx: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(thread),
        }
    }

    #[allow(clippy::result_large_err)] // openraft's StorageError is what the traits return
    fn submit(&self, cb: LogFlushed<TypeConfig>) -> std::result::Result<(), SErr> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        match tx.as_ref() {
            Some(tx) => tx
                .send(cb)
                .map_err(|_| serr(ErrorVerb::Write, "WAL fsync thread stopped")),
            None => Err(serr(ErrorVerb::Write, "WAL fsync thread stopped")),
        }
    }
}

impl Drop for Flusher {
    /// Stops the thread and waits for it, so that it never outlives the database it syncs
    /// (RocksDB aborts if a thread still uses it while the process tears down).
    fn drop(&mut self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// The Raft log of one group.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: Arc<Flusher>,
}

impl LogStore {
    /// A log store over an open group database.
    pub fn new(db: Arc<DB>) -> LogStore {
        let flusher = Arc::new(Flusher::start(db.clone()));
        LogStore { db, flusher }
    }

    #[allow(clippy::result_large_err)] // openraft's StorageError is what the traits return
    fn get_raft<T: for<'de> Deserialize<'de>>(
        &self,
        key: &[u8],
    ) -> std::result::Result<Option<T>, SErr> {
        let cf = cf(&self.db, CF_RAFT).map_err(|e| serr(ErrorVerb::Read, e))?;
        match self
            .db
            .get_cf(cf, key)
            .map_err(|e| serr(ErrorVerb::Read, e))?
        {
            Some(b) => Ok(Some(
                bincode::deserialize(&b).map_err(|e| serr(ErrorVerb::Read, e))?,
            )),
            None => Ok(None),
        }
    }

    #[allow(clippy::result_large_err)] // openraft's StorageError is what the traits return
    fn put_raft<T: Serialize>(
        &self,
        key: &[u8],
        v: &T,
        sync: bool,
    ) -> std::result::Result<(), SErr> {
        let cf = cf(&self.db, CF_RAFT).map_err(|e| serr(ErrorVerb::Write, e))?;
        let b = bincode::serialize(v).map_err(|e| serr(ErrorVerb::Write, e))?;
        let opts = if sync {
            sync_opts()
        } else {
            WriteOptions::default()
        };
        self.db
            .put_cf_opt(cf, key, b, &opts)
            .map_err(|e| serr(ErrorVerb::Write, e))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> std::result::Result<Vec<openraft::Entry<TypeConfig>>, SErr> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => *x + 1,
            Bound::Unbounded => 0,
        };
        let cf = cf(&self.db, CF_LOG).map_err(|e| serr(ErrorVerb::Read, e))?;
        let mut out = Vec::new();
        let it = self.db.iterator_cf(
            cf,
            IteratorMode::From(&start.to_be_bytes(), Direction::Forward),
        );
        for item in it {
            let (k, v) = item.map_err(|e| serr(ErrorVerb::Read, e))?;
            let idx = u64::from_be_bytes(
                k.as_ref()
                    .try_into()
                    .map_err(|e| serr(ErrorVerb::Read, e))?,
            );
            if !range.contains(&idx) {
                break;
            }
            out.push(bincode::deserialize(&v).map_err(|e| serr(ErrorVerb::Read, e))?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> std::result::Result<LogState<TypeConfig>, SErr> {
        let last_purged: Option<LogId<NodeId>> = self
            .get_raft::<Option<LogId<NodeId>>>(KEY_PURGED)?
            .flatten();
        let cf = cf(&self.db, CF_LOG).map_err(|e| serr(ErrorVerb::Read, e))?;
        let last = match self.db.iterator_cf(cf, IteratorMode::End).next() {
            Some(item) => {
                let (_, v) = item.map_err(|e| serr(ErrorVerb::Read, e))?;
                let e: openraft::Entry<TypeConfig> =
                    bincode::deserialize(&v).map_err(|e| serr(ErrorVerb::Read, e))?;
                Some(e.log_id)
            }
            None => last_purged,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> std::result::Result<(), SErr> {
        self.put_raft(KEY_VOTE, vote, true)
    }

    async fn read_vote(&mut self) -> std::result::Result<Option<Vote<NodeId>>, SErr> {
        self.get_raft(KEY_VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> std::result::Result<(), SErr> {
        self.put_raft(KEY_COMMITTED, &committed, false)
    }

    async fn read_committed(&mut self) -> std::result::Result<Option<LogId<NodeId>>, SErr> {
        Ok(self
            .get_raft::<Option<LogId<NodeId>>>(KEY_COMMITTED)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> std::result::Result<(), SErr>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let cf = cf(&self.db, CF_LOG).map_err(|e| serr(ErrorVerb::Write, e))?;
        let mut batch = WriteBatch::default();
        for e in entries {
            let b = bincode::serialize(&e).map_err(|e| serr(ErrorVerb::Write, e))?;
            batch.put_cf(cf, e.log_id.index.to_be_bytes(), b);
        }
        self.db
            .write(batch)
            .map_err(|e| serr(ErrorVerb::Write, e))?;
        // Durable only once the flusher's fsync covers it; openraft waits for the callback.
        self.flusher.submit(callback)
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> std::result::Result<(), SErr> {
        let cf = cf(&self.db, CF_LOG).map_err(|e| serr(ErrorVerb::Write, e))?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, log_id.index.to_be_bytes(), u64::MAX.to_be_bytes());
        batch.delete_cf(cf, u64::MAX.to_be_bytes());
        self.db
            .write_opt(batch, &sync_opts())
            .map_err(|e| serr(ErrorVerb::Write, e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> std::result::Result<(), SErr> {
        self.put_raft(KEY_PURGED, &Some(log_id), true)?;
        let cf = cf(&self.db, CF_LOG).map_err(|e| serr(ErrorVerb::Write, e))?;
        self.db
            .delete_range_cf(cf, 0u64.to_be_bytes(), (log_id.index + 1).to_be_bytes())
            .map_err(|e| serr(ErrorVerb::Write, e))
    }
}

/// What watchers hear from the state machine.
#[derive(Debug, Clone)]
pub enum HubMsg {
    /// The events of one new revision.
    Batch(Arc<RevBatch>),
    /// The state was replaced by a snapshot: re-read history from your last revision.
    Resync,
}

/// Reads MVCC records from the `rev` column family.
pub struct DbHistory<'a> {
    db: &'a DB,
}

impl History for DbHistory<'_> {
    fn get(&self, rev: Rev) -> Result<Option<Record>> {
        let cf = cf(self.db, CF_REV)?;
        match self.db.get_cf(cf, rev.encode())? {
            Some(b) => Ok(Some(Record::decode(&b)?)),
            None => Ok(None),
        }
    }
}

/// Applied state: the MVCC keyspace plus replicated metadata.
pub struct SmState {
    /// The keyspace.
    pub mvcc: Mvcc,
    /// Replicated metadata (applied index, membership, members, alarms).
    pub meta: SmMeta,
}

/// The state machine shared between openraft (which applies) and the services (which read).
pub struct SmShared {
    db: Arc<DB>,
    dir: PathBuf,
    state: RwLock<SmState>,
    hub: broadcast::Sender<HubMsg>,
    size_cache: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SmMeta,
    leases: Vec<(i64, i64)>,
    records: Vec<(serde_bytes::ByteBuf, serde_bytes::ByteBuf)>,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, PeerNode>,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

impl SmShared {
    /// Loads the applied state from the group database and rebuilds the key index.
    pub fn open(db: Arc<DB>, dir: &Path) -> Result<Arc<SmShared>> {
        let meta: SmMeta = match db.get_cf(cf(&db, CF_META)?, KEY_SM)? {
            Some(b) => bincode::deserialize(&b).map_err(|e| StoreError::CorruptDataDir {
                dir: dir.display().to_string(),
                reason: format!("state metadata unreadable: {e}"),
            })?,
            None => SmMeta {
                current_rev: 1,
                ..Default::default()
            },
        };
        let mvcc = load_mvcc(&db, &meta)?;
        if mvcc.current_rev() != meta.current_rev.max(1) {
            return Err(StoreError::CorruptDataDir {
                dir: dir.display().to_string(),
                reason: "history is ahead of the recorded revision".into(),
            });
        }
        let (hub, _) = broadcast::channel(4096);
        Ok(Arc::new(SmShared {
            db,
            dir: dir.to_path_buf(),
            state: RwLock::new(SmState { mvcc, meta }),
            hub,
            size_cache: std::sync::Mutex::new(None),
        }))
    }

    /// Read access to the applied state.
    pub fn read(&self) -> RwLockReadGuard<'_, SmState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, SmState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Historical records of this group.
    pub fn history(&self) -> DbHistory<'_> {
        DbHistory { db: &self.db }
    }

    /// Subscribes to applied revisions; returns the revision the subscription starts after.
    pub fn subscribe(&self) -> (broadcast::Receiver<HubMsg>, i64) {
        let st = self.read();
        (self.hub.subscribe(), st.mvcc.current_rev())
    }

    /// The events of revisions `from..=to` whose keys `filter` accepts, read from history,
    /// grouped by revision. `prev_kv` is filled from history when asked.
    pub fn events_between(
        &self,
        from: i64,
        to: i64,
        filter: &dyn Fn(&[u8]) -> bool,
        with_prev: bool,
    ) -> Result<Vec<RevBatch>> {
        use keelson_proto::mvccpb::{self, event::EventType};
        let mut out: Vec<RevBatch> = Vec::new();
        if from > to {
            return Ok(out);
        }
        let st = self.read();
        let snap = self.db.snapshot();
        drop(st);
        let cf = cf(&self.db, CF_REV)?;
        let start = Rev { main: from, sub: 0 }.encode();
        let hist = DbHistory { db: &self.db };
        for item in snap.iterator_cf(cf, IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item?;
            let rev =
                Rev::decode(&k).ok_or_else(|| StoreError::Storage("bad revision key".into()))?;
            if rev.main > to {
                break;
            }
            let rec = Record::decode(&v)?;
            if !filter(&rec.kv.key) {
                continue;
            }
            let prev_kv = if with_prev {
                let st = self.read();
                st.mvcc.value_before(&hist, &rec.kv.key, rev)?
            } else {
                None
            };
            let ev = mvccpb::Event {
                r#type: if rec.tombstone {
                    EventType::Delete as i32
                } else {
                    EventType::Put as i32
                },
                kv: Some(rec.kv),
                prev_kv,
            };
            match out.last_mut() {
                Some(b) if b.revision == rev.main => b.events.push(ev),
                _ => out.push(RevBatch {
                    revision: rev.main,
                    events: vec![ev],
                }),
            }
        }
        Ok(out)
    }

    /// Approximate on-disk size of the group database in bytes. Every put checks the quota,
    /// so the figure (ten RocksDB property reads) is cached for 200 ms.
    pub fn db_size(&self) -> u64 {
        let mut cache = self.size_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, size)) = *cache
            && at.elapsed() < std::time::Duration::from_millis(200)
        {
            return size;
        }
        let size = self.db_size_now();
        *cache = Some((std::time::Instant::now(), size));
        size
    }

    fn db_size_now(&self) -> u64 {
        let mut total = 0u64;
        for name in [CF_LOG, CF_RAFT, CF_REV, CF_LEASE, CF_META] {
            if let Ok(c) = cf(&self.db, name) {
                for prop in [
                    "rocksdb.total-sst-files-size",
                    "rocksdb.cur-size-all-mem-tables",
                ] {
                    if let Ok(Some(v)) = self.db.property_int_value_cf(c, prop) {
                        total += v;
                    }
                }
            }
        }
        total
    }

    /// Compacts RocksDB's files (etcd's Defragment).
    pub fn defragment(&self) {
        for name in [CF_LOG, CF_REV, CF_LEASE, CF_META, CF_RAFT] {
            if let Ok(c) = cf(&self.db, name) {
                self.db.compact_range_cf::<&[u8], &[u8]>(c, None, None);
            }
        }
    }

    /// etcd's HashKV: a CRC32 over every record up to `rev` (0 = current) that compaction kept.
    pub fn hash_kv(&self, rev: i64) -> Result<(u32, i64, i64)> {
        let (cur, compact) = {
            let st = self.read();
            (st.mvcc.current_rev(), st.mvcc.compact_rev())
        };
        let upto = if rev <= 0 { cur } else { rev };
        if upto > cur {
            return Err(StoreError::FutureRevision {
                requested: upto,
                current: cur,
            });
        }
        if upto < compact {
            return Err(StoreError::Compacted {
                requested: upto,
                compacted: compact,
            });
        }
        let mut h = crc32fast::Hasher::new();
        let cf = cf(&self.db, CF_REV)?;
        for item in self.db.iterator_cf(cf, IteratorMode::Start) {
            let (k, v) = item?;
            let Some(r) = Rev::decode(&k) else { continue };
            if r.main > upto {
                break;
            }
            h.update(&k);
            h.update(&v);
        }
        Ok((h.finalize(), cur, compact))
    }

    /// A full backup of the applied state (what `etcdctl snapshot save` receives).
    ///
    /// Layout: the 8-byte big-endian length of the encoded state, the state, zero padding to a
    /// multiple of 512 bytes. etcdctl only accepts a stream whose length is a multiple of 512
    /// plus the 32-byte SHA-256 the service appends (what a bbolt file plus its hash looks like).
    pub fn backup(&self) -> Result<Vec<u8>> {
        let file = self.snapshot_file()?;
        let body = bincode::serialize(&file)?;
        let mut out = Vec::with_capacity(body.len() + 520);
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        out.extend_from_slice(&body);
        out.resize(out.len().div_ceil(512) * 512, 0);
        Ok(out)
    }

    fn snapshot_file(&self) -> Result<SnapshotFile> {
        let st = self.read();
        let meta = st.meta.clone();
        let snap = self.db.snapshot();
        drop(st);
        let mut records = Vec::new();
        for item in snap.iterator_cf(cf(&self.db, CF_REV)?, IteratorMode::Start) {
            let (k, v) = item?;
            records.push((
                serde_bytes::ByteBuf::from(k.to_vec()),
                serde_bytes::ByteBuf::from(v.to_vec()),
            ));
        }
        let mut leases = Vec::new();
        for item in snap.iterator_cf(cf(&self.db, CF_LEASE)?, IteratorMode::Start) {
            let (k, v) = item?;
            leases.push((decode_i64(&k)?, decode_i64(&v)?));
        }
        Ok(SnapshotFile {
            meta,
            leases,
            records,
        })
    }

    fn install(&self, file: SnapshotFile) -> Result<()> {
        let mut st = self.write();
        let mut batch = WriteBatch::default();
        let rev_cf = cf(&self.db, CF_REV)?;
        let lease_cf = cf(&self.db, CF_LEASE)?;
        batch.delete_range_cf(rev_cf, &[0u8; 16][..], &[0xffu8; 17][..]);
        batch.delete_range_cf(lease_cf, &[0u8; 8][..], &[0xffu8; 9][..]);
        for (k, v) in &file.records {
            batch.put_cf(rev_cf, k, v);
        }
        for (id, ttl) in &file.leases {
            batch.put_cf(lease_cf, id.to_be_bytes(), ttl.to_be_bytes());
        }
        batch.put_cf(
            cf(&self.db, CF_META)?,
            KEY_SM,
            bincode::serialize(&file.meta)?,
        );
        self.db.write_opt(batch, &sync_opts())?;
        let mvcc = load_mvcc(&self.db, &file.meta)?;
        *st = SmState {
            mvcc,
            meta: file.meta,
        };
        let _ = self.hub.send(HubMsg::Resync);
        Ok(())
    }

    fn apply_one(
        st: &mut SmState,
        hist: &dyn History,
        req: &Request,
        changes: &mut Vec<Change>,
    ) -> Result<(Applied, Option<RevBatch>)> {
        let nospace = st.meta.alarms.iter().any(|(_, a)| *a == ALARM_NOSPACE);
        match req {
            Request::Txn(bytes) => {
                let t = pb::TxnRequest::decode(bytes.as_slice())
                    .map_err(|e| StoreError::InvalidArgument(format!("txn: {e}")))?;
                if nospace && txn_has_put(&t) {
                    return Err(StoreError::NoSpace);
                }
                let out = st.mvcc.apply_txn(hist, &t, changes)?;
                Ok((Applied::Txn(out.response.encode_to_vec()), out.batch))
            }
            Request::Compact { revision } => {
                st.mvcc.compact(*revision, changes)?;
                Ok((
                    Applied::Done {
                        revision: st.mvcc.current_rev(),
                    },
                    None,
                ))
            }
            Request::LeaseGrant { id, ttl } => {
                if nospace {
                    return Err(StoreError::NoSpace);
                }
                st.mvcc.lease_grant(*id, *ttl, changes)?;
                Ok((
                    Applied::Done {
                        revision: st.mvcc.current_rev(),
                    },
                    None,
                ))
            }
            Request::LeaseRevoke { id } => {
                let batch = st.mvcc.lease_revoke(*id, changes)?;
                Ok((
                    Applied::Done {
                        revision: st.mvcc.current_rev(),
                    },
                    batch,
                ))
            }
            Request::Alarm {
                member,
                alarm,
                activate,
            } => {
                if *activate {
                    st.meta.alarms.insert((*member, *alarm));
                } else {
                    st.meta.alarms.remove(&(*member, *alarm));
                }
                Ok((
                    Applied::Done {
                        revision: st.mvcc.current_rev(),
                    },
                    None,
                ))
            }
            Request::Batch(_) => Err(StoreError::InvalidArgument("nested batch".into())),
            Request::PublishMember {
                id,
                name,
                client_urls,
            } => {
                st.meta.members.insert(
                    *id,
                    MemberAttr {
                        name: name.clone(),
                        client_urls: client_urls.clone(),
                    },
                );
                Ok((
                    Applied::Done {
                        revision: st.mvcc.current_rev(),
                    },
                    None,
                ))
            }
        }
    }
}

fn decode_i64(b: &[u8]) -> Result<i64> {
    Ok(i64::from_be_bytes(
        b.try_into()
            .map_err(|_| StoreError::Storage("bad i64".into()))?,
    ))
}

fn load_mvcc(db: &DB, meta: &SmMeta) -> Result<Mvcc> {
    let rev_cf = cf(db, CF_REV)?;
    let records = db.iterator_cf(rev_cf, IteratorMode::Start).map(|item| {
        let (k, v) = item?;
        let rev = Rev::decode(&k).ok_or_else(|| StoreError::Storage("bad revision key".into()))?;
        Ok((rev, Record::decode(&v)?))
    });
    let mut leases = Vec::new();
    for item in db.iterator_cf(cf(db, CF_LEASE)?, IteratorMode::Start) {
        let (k, v) = item?;
        leases.push((decode_i64(&k)?, decode_i64(&v)?));
    }
    let mut max_rev = 1;
    let records: Vec<Result<(Rev, Record)>> = records.collect();
    for (r, _) in records.iter().flatten() {
        max_rev = max_rev.max(r.main);
    }
    let cur = meta.current_rev.max(max_rev);
    Mvcc::restore(
        records.into_iter(),
        leases.into_iter(),
        cur,
        meta.compact_rev,
    )
}

/// The openraft state machine of one group.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<SmShared>,
}

impl StateMachine {
    /// A state machine over shared applied state.
    pub fn new(shared: Arc<SmShared>) -> StateMachine {
        StateMachine { shared }
    }

    fn persist(&self, batch: &mut WriteBatch, changes: Vec<Change>) -> Result<()> {
        let rev_cf = cf(&self.shared.db, CF_REV)?;
        let lease_cf = cf(&self.shared.db, CF_LEASE)?;
        for c in changes {
            match c {
                Change::Put(rev, rec) => batch.put_cf(rev_cf, rev.encode(), rec.encode()),
                Change::Delete(rev) => batch.delete_cf(rev_cf, rev.encode()),
                Change::LeasePut(id, ttl) => {
                    batch.put_cf(lease_cf, id.to_be_bytes(), ttl.to_be_bytes())
                }
                Change::LeaseDelete(id) => batch.delete_cf(lease_cf, id.to_be_bytes()),
            }
        }
        Ok(())
    }

    /// Applies one command; a deterministic failure is the command's result, a storage
    /// failure stops the state machine.
    #[allow(clippy::result_large_err)] // openraft's StorageError is what apply returns
    fn apply_request(
        &self,
        st: &mut SmState,
        hist: &dyn History,
        req: &Request,
        batch: &mut WriteBatch,
        published: &mut Vec<RevBatch>,
    ) -> std::result::Result<std::result::Result<Applied, StoreError>, SErr> {
        let mut changes = Vec::new();
        match SmShared::apply_one(st, hist, req, &mut changes) {
            Ok((applied, events)) => {
                self.persist(batch, changes)
                    .map_err(|e| serr(ErrorVerb::Write, e))?;
                published.extend(events);
                Ok(Ok(applied))
            }
            Err(e @ StoreError::Storage(_)) => Err(serr(ErrorVerb::Write, e)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn snapshot_path(&self) -> PathBuf {
        self.shared.dir.join(SNAPSHOT_FILE)
    }

    fn save_snapshot(&self, meta: &SnapshotMeta<NodeId, PeerNode>, data: &[u8]) -> Result<()> {
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.to_vec(),
        };
        let tmp = self.shared.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        let bytes = bincode::serialize(&stored)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.snapshot_path())?;
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> std::result::Result<Snapshot<TypeConfig>, SErr> {
        let file = self
            .shared
            .snapshot_file()
            .map_err(|e| serr(ErrorVerb::Read, e))?;
        let last = file.meta.last_applied;
        let membership = file.meta.membership.clone();
        let data = bincode::serialize(&file).map_err(|e| serr(ErrorVerb::Write, e))?;
        let snapshot_id = match last {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, rand::random::<u32>()),
            None => format!("0-0-{}", rand::random::<u32>()),
        };
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: membership,
            snapshot_id,
        };
        self.save_snapshot(&meta, &data)
            .map_err(|e| serr(ErrorVerb::Write, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> std::result::Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, PeerNode>), SErr>
    {
        let st = self.shared.read();
        Ok((st.meta.last_applied, st.meta.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> std::result::Result<Vec<Response>, SErr>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let shared = self.shared.clone();
        let mut st = shared.write();
        let mut batch = WriteBatch::default();
        let mut responses = Vec::new();
        let mut published = Vec::new();
        let hist = DbHistory { db: &shared.db };
        for entry in entries {
            st.meta.last_applied = Some(entry.log_id);
            let resp = match &entry.payload {
                EntryPayload::Blank => Response(Ok(Applied::Done {
                    revision: st.mvcc.current_rev(),
                })),
                EntryPayload::Normal(Request::Batch(items)) => {
                    let mut results = Vec::with_capacity(items.len());
                    for item in items {
                        // Each txn of a batch is applied on its own, exactly as if it had
                        // had its own entry: own revision, own error.
                        let req = Request::Txn(item.to_vec());
                        results.push(self.apply_request(
                            &mut st,
                            &hist,
                            &req,
                            &mut batch,
                            &mut published,
                        )?);
                    }
                    Response(Ok(Applied::Batch(results)))
                }
                EntryPayload::Normal(req) => {
                    Response(self.apply_request(&mut st, &hist, req, &mut batch, &mut published)?)
                }
                EntryPayload::Membership(m) => {
                    st.meta.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                    Response(Ok(Applied::Done {
                        revision: st.mvcc.current_rev(),
                    }))
                }
            };
            responses.push(resp);
        }
        st.meta.current_rev = st.mvcc.current_rev();
        st.meta.compact_rev = st.mvcc.compact_rev();
        let meta_cf = cf(&shared.db, CF_META).map_err(|e| serr(ErrorVerb::Write, e))?;
        batch.put_cf(
            meta_cf,
            KEY_SM,
            bincode::serialize(&st.meta).map_err(|e| serr(ErrorVerb::Write, e))?,
        );
        shared
            .db
            .write(batch)
            .map_err(|e| serr(ErrorVerb::Write, e))?;
        // Published under the write lock, so a subscriber that read the current revision
        // under the read lock sees exactly the batches after it.
        for b in published {
            let _ = shared.hub.send(HubMsg::Batch(Arc::new(b)));
        }
        drop(st);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> std::result::Result<Box<Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, PeerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> std::result::Result<(), SErr> {
        let data = snapshot.into_inner();
        let mut file: SnapshotFile =
            bincode::deserialize(&data).map_err(|e| serr(ErrorVerb::Read, e))?;
        file.meta.last_applied = meta.last_log_id;
        file.meta.membership = meta.last_membership.clone();
        self.shared
            .install(file)
            .map_err(|e| serr(ErrorVerb::Write, e))?;
        self.save_snapshot(meta, &data)
            .map_err(|e| serr(ErrorVerb::Write, e))?;
        tracing::info!(snapshot = %meta.snapshot_id, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> std::result::Result<Option<Snapshot<TypeConfig>>, SErr> {
        let path = self.snapshot_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(serr(ErrorVerb::Read, e)),
        };
        let stored: StoredSnapshot =
            bincode::deserialize(&bytes).map_err(|e| serr(ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

/// Restores a backup made by [`SmShared::backup`] into a fresh group database (offline).
pub fn restore_backup(dir: &Path, backup: &[u8]) -> Result<()> {
    let bad = |why: String| StoreError::InvalidArgument(format!("not a keelson backup: {why}"));
    let (len, rest) = backup
        .split_at_checked(8)
        .ok_or_else(|| bad("too short".into()))?;
    let len = u64::from_be_bytes(len.try_into().map_err(|_| bad("too short".into()))?) as usize;
    let body = rest
        .get(..len)
        .ok_or_else(|| bad(format!("truncated: {len} bytes announced")))?;
    let file: SnapshotFile = bincode::deserialize(body).map_err(|e| bad(e.to_string()))?;
    let db = open_db(dir)?;
    let mut batch = WriteBatch::default();
    for (k, v) in &file.records {
        batch.put_cf(cf(&db, CF_REV)?, k, v);
    }
    for (id, ttl) in &file.leases {
        batch.put_cf(cf(&db, CF_LEASE)?, id.to_be_bytes(), ttl.to_be_bytes());
    }
    // The restored member starts a new cluster: keep the keyspace, drop Raft history.
    let meta = SmMeta {
        current_rev: file.meta.current_rev,
        compact_rev: file.meta.compact_rev,
        ..Default::default()
    };
    batch.put_cf(cf(&db, CF_META)?, KEY_SM, bincode::serialize(&meta)?);
    db.write_opt(batch, &sync_opts())?;
    Ok(())
}

/// Leases' remaining keys, for TimeToLive.
pub fn lease_keys(st: &SmState, id: i64) -> Option<(i64, Vec<Vec<u8>>)> {
    st.mvcc
        .leases()
        .get(&id)
        .map(|l| (l.ttl, l.keys.iter().cloned().collect()))
}

/// All lease ids and TTLs.
pub fn lease_ttls(st: &SmState) -> BTreeMap<i64, i64> {
    st.mvcc
        .leases()
        .iter()
        .map(|(id, l)| (*id, l.ttl))
        .collect()
}

#[cfg(test)]
mod suite {
    //! openraft's storage conformance suite, run against the real RocksDB log store and state
    //! machine.

    use openraft::testing::{StoreBuilder, Suite};

    use super::*;

    struct Builder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
        async fn build(
            &self,
        ) -> std::result::Result<(tempfile::TempDir, LogStore, StateMachine), SErr> {
            let dir = tempfile::tempdir().map_err(|e| serr(ErrorVerb::Write, e))?;
            let db = open_db(dir.path()).map_err(|e| serr(ErrorVerb::Write, e))?;
            let sm =
                SmShared::open(db.clone(), dir.path()).map_err(|e| serr(ErrorVerb::Write, e))?;
            Ok((dir, LogStore::new(db), StateMachine::new(sm)))
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // the suite returns openraft's StorageError
    fn openraft_storage_suite() -> std::result::Result<(), SErr> {
        Suite::test_all(Builder)
    }
}
