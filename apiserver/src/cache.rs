//! The watch cache: one per resource (storage prefix) in each API server replica.
//!
//! A cache lists its prefix once, then follows one store watch, keeping every object (parsed,
//! with its resourceVersion) and a window of recent events. Watches and `resourceVersion=0`
//! lists are served from here, so a thousand kubectl or controller watches cost one store
//! watch. A watch from a revision older than the window falls back to a store watch of its
//! own (exact, or 410 if the store compacted it), so correctness never depends on the window
//! size.
//!
//! Ordering: events are applied and broadcast under the state's write lock, and a watcher
//! takes its snapshot and subscribes under the read lock, so it sees each event exactly once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::backend::{Backend, EventKind, WatchItem, prefix_end};
use crate::error::{ApiError, Result};

/// Kind of a Kubernetes watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl Change {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One change of one object, as the cache saw it.
#[derive(Debug)]
pub struct CacheEvent {
    /// What happened.
    pub change: Change,
    /// Storage key.
    pub key: String,
    /// The object after the change (for a delete: its last state, at the delete revision).
    pub object: Arc<Value>,
    /// The object before the change, when there was one.
    pub prev: Option<Arc<Value>>,
    /// Store revision of the change.
    pub revision: i64,
    line: OnceLock<Bytes>,
}

impl CacheEvent {
    /// Build an event.
    pub fn new(
        change: Change,
        key: String,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
        revision: i64,
    ) -> Self {
        CacheEvent {
            change,
            key,
            object,
            prev,
            revision,
            line: OnceLock::new(),
        }
    }

    /// The JSON watch line `{"type":…,"object":…}\n`, serialised once for every watcher.
    pub fn json_line(&self) -> Bytes {
        self.line
            .get_or_init(|| {
                let mut v = serde_json::to_vec(
                    &serde_json::json!({"type": self.change.as_str(), "object": &*self.object}),
                )
                .unwrap_or_default();
                v.push(b'\n');
                Bytes::from(v)
            })
            .clone()
    }
}

/// Parse a stored value into an object carrying its resourceVersion.
pub fn decode_object(value: &[u8], revision: i64) -> Result<Value> {
    let mut v: Value = serde_json::from_slice(value)
        .map_err(|e| ApiError::Internal(format!("stored object is not JSON: {e}")))?;
    set_resource_version(&mut v, revision);
    Ok(v)
}

/// Set `metadata.resourceVersion`.
pub fn set_resource_version(v: &mut Value, revision: i64) {
    if let Some(obj) = v.as_object_mut() {
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            m.insert(
                "resourceVersion".into(),
                Value::String(revision.to_string()),
            );
        }
    }
}

#[derive(Default)]
struct State {
    ready: bool,
    revision: i64,
    objects: BTreeMap<String, Arc<Value>>,
    events: VecDeque<Arc<CacheEvent>>,
    /// The window holds every event with revision > `oldest`.
    oldest: i64,
}

/// Where a watch starts, as the cache can serve it.
pub enum Start {
    /// Snapshot of the objects (sorted by key) at `revision`, then live events.
    Snapshot {
        /// Objects.
        objects: Vec<Arc<Value>>,
        /// Revision of the snapshot.
        revision: i64,
        /// Live events after it.
        rx: broadcast::Receiver<Arc<CacheEvent>>,
    },
    /// Buffered events after the asked revision, then live events.
    Replay {
        /// Events, in order.
        events: Vec<Arc<CacheEvent>>,
        /// The cache revision at subscription.
        revision: i64,
        /// Live events after them.
        rx: broadcast::Receiver<Arc<CacheEvent>>,
    },
    /// The revision is older than the window; serve from the store.
    TooOld,
}

/// The cache of one storage prefix.
pub struct Cache {
    prefix: String,
    state: RwLock<State>,
    tx: broadcast::Sender<Arc<CacheEvent>>,
    rev_tx: watch::Sender<i64>,
    window: usize,
    /// Asks the store watch for a progress notification now.
    progress: Arc<tokio::sync::Notify>,
}

impl Cache {
    /// Make a cache for `prefix` (with trailing slash) and start following the store.
    pub fn start(backend: Arc<dyn Backend>, prefix: String, window: usize) -> Arc<Cache> {
        let (tx, _) = broadcast::channel(window.max(1024));
        let (rev_tx, _) = watch::channel(0);
        let cache = Arc::new(Cache {
            prefix,
            state: RwLock::new(State::default()),
            tx,
            rev_tx,
            window,
            progress: Arc::new(tokio::sync::Notify::new()),
        });
        let c = Arc::downgrade(&cache);
        tokio::spawn(async move {
            let mut need_list = true;
            loop {
                let Some(cache) = c.upgrade() else { return };
                match cache.follow(&*backend, need_list).await {
                    Ok(()) => need_list = false,
                    Err(ApiError::Expired { .. }) => need_list = true,
                    Err(e) => {
                        tracing::debug!(prefix = %cache.prefix, error = %e, "watch cache lost its store watch");
                        need_list = !cache.state.read().map(|s| s.ready).unwrap_or(false);
                    }
                }
                drop(cache);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        cache
    }

    /// The storage prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn follow(&self, backend: &dyn Backend, relist: bool) -> Result<()> {
        let end = prefix_end(&self.prefix);
        if relist {
            let mut objects = BTreeMap::new();
            let mut from = self.prefix.clone();
            let mut revision = 0;
            loop {
                let page = backend.range(&from, &end, 5000, revision).await?;
                revision = page.revision;
                for kv in &page.kvs {
                    objects.insert(
                        kv.key.clone(),
                        Arc::new(decode_object(&kv.value, kv.mod_revision)?),
                    );
                }
                match (page.more, page.kvs.last()) {
                    (true, Some(last)) => from = format!("{}\0", last.key),
                    _ => break,
                }
            }
            let mut st = self
                .state
                .write()
                .map_err(|_| ApiError::Internal("cache lock poisoned".into()))?;
            let was_ready = st.ready;
            st.objects = objects;
            st.revision = revision;
            st.oldest = revision;
            st.events.clear();
            st.ready = true;
            drop(st);
            if was_ready {
                tracing::info!(prefix = %self.prefix, revision, "watch cache relisted");
            }
            self.rev_tx.send_replace(revision);
        }
        let from = self.revision() + 1;
        let mut stream = backend
            .watch(&self.prefix, &end, from, Some(self.progress.clone()))
            .await?;
        while let Some(item) = stream.next().await {
            match item? {
                WatchItem::Progress(rev) => {
                    let mut st = self
                        .state
                        .write()
                        .map_err(|_| ApiError::Internal("cache lock poisoned".into()))?;
                    if rev > st.revision {
                        st.revision = rev;
                        drop(st);
                        self.rev_tx.send_replace(rev);
                    }
                }
                WatchItem::Events(events) => {
                    let mut st = self
                        .state
                        .write()
                        .map_err(|_| ApiError::Internal("cache lock poisoned".into()))?;
                    let mut last = st.revision;
                    for e in events {
                        if e.kv.mod_revision <= st.revision {
                            continue;
                        }
                        let obj = match decode_object(&e.kv.value, e.kv.mod_revision) {
                            Ok(o) => Arc::new(o),
                            Err(err) => {
                                tracing::warn!(key = %e.kv.key, error = %err, "skipping an undecodable object");
                                continue;
                            }
                        };
                        let (change, prev) = match e.kind {
                            EventKind::Put => {
                                let prev = st.objects.insert(e.kv.key.clone(), obj.clone());
                                (
                                    if prev.is_some() {
                                        Change::Modified
                                    } else {
                                        Change::Added
                                    },
                                    prev,
                                )
                            }
                            EventKind::Delete => {
                                let prev = st.objects.remove(&e.kv.key);
                                (Change::Deleted, prev)
                            }
                        };
                        let ev = Arc::new(CacheEvent::new(
                            change,
                            e.kv.key,
                            obj,
                            prev,
                            e.kv.mod_revision,
                        ));
                        st.events.push_back(ev.clone());
                        while st.events.len() > self.window {
                            if let Some(old) = st.events.pop_front() {
                                st.oldest = old.revision;
                            }
                        }
                        last = last.max(e.kv.mod_revision);
                        let _ = self.tx.send(ev);
                    }
                    st.revision = last;
                    drop(st);
                    self.rev_tx.send_replace(last);
                }
            }
        }
        Err(ApiError::Unavailable("store watch ended".into()))
    }

    /// The cache's revision (0 until the first list).
    pub fn revision(&self) -> i64 {
        self.state.read().map(|s| s.revision).unwrap_or(0)
    }

    /// Wait until the cache has seen `revision` (and is ready), up to `timeout`.
    pub async fn wait_for(&self, revision: i64, timeout: Duration) -> Result<()> {
        let mut rx = self.rev_tx.subscribe();
        let ok = tokio::time::timeout(timeout, async {
            loop {
                let ready = self.state.read().map(|s| s.ready).unwrap_or(false);
                if ready && *rx.borrow_and_update() >= revision {
                    return;
                }
                if ready {
                    // Behind: nothing in this range may have changed since, which only the
                    // store can tell; ask it for a progress notification.
                    self.progress.notify_one();
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        match ok {
            Ok(()) => Ok(()),
            Err(_) => Err(ApiError::Timeout(format!(
                "Too large resource version: {revision}, current: {}",
                self.revision()
            ))),
        }
    }

    /// All objects under `prefix` (a namespace prefix or the cache's own), in key order,
    /// with the cache revision.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<Value>>, i64) {
        let Ok(st) = self.state.read() else {
            return (vec![], 0);
        };
        let objs = st
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (objs, st.revision)
    }

    /// Where a watch from `revision` (None: from now, with the current objects) starts.
    pub fn start_watch(&self, revision: Option<i64>, prefix: &str) -> Start {
        let Ok(st) = self.state.read() else {
            return Start::TooOld;
        };
        match revision {
            None => Start::Snapshot {
                objects: st
                    .objects
                    .range(prefix.to_string()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| v.clone())
                    .collect(),
                revision: st.revision,
                rx: self.tx.subscribe(),
            },
            Some(rev) if rev < st.oldest => Start::TooOld,
            Some(rev) => Start::Replay {
                events: st
                    .events
                    .iter()
                    .filter(|e| e.revision > rev && e.key.starts_with(prefix))
                    .cloned()
                    .collect(),
                revision: st.revision,
                rx: self.tx.subscribe(),
            },
        }
    }
}
