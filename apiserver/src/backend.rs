//! The API server's only way to the store: the [`Backend`] trait, and [`EtcdBackend`], its
//! implementation over the etcd v3 gRPC API.
//!
//! **Architecture invariant:** nothing else in this crate sees etcd or keelson-store types.
//! [`EtcdBackend`] speaks to any etcd v3 endpoint list (a keelson store or a real etcd, which
//! the differential tests use) with per-endpoint failover, or to an in-process store member
//! handed over as a gRPC service (no socket), which is what `keelson server` does.
//!
//! Failover: the etcd-client crate's balanced channel keeps sending to a paused member, so
//! each call here has a deadline, and a call that times out or finds its endpoint
//! unreachable moves to the next endpoint and is tried again there. A conditional write that
//! timed out may have been applied: the retry then fails its compare and the caller sees a
//! conflict, the same ambiguity every etcd client has.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use keelson_proto::etcdserverpb as pb;
use keelson_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use keelson_proto::etcdserverpb::kv_client::KvClient;
use keelson_proto::etcdserverpb::request_op::Request as Op;
use keelson_proto::etcdserverpb::response_op::Response as OpResp;
use keelson_proto::etcdserverpb::watch_client::WatchClient;
use keelson_proto::etcdserverpb::watch_request::RequestUnion;
use keelson_proto::mvccpb;
use tokio::sync::mpsc;
use tonic::Code;
use tower::util::BoxCloneSyncService;

use crate::error::{ApiError, Result};

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    /// Key.
    pub key: String,
    /// Value (JSON of the object).
    pub value: Bytes,
    /// Revision of the last write (the object's resourceVersion).
    pub mod_revision: i64,
    /// Revision of the creation.
    pub create_revision: i64,
}

/// One page of a range read.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Keys in order.
    pub kvs: Vec<Kv>,
    /// More keys follow in the range.
    pub more: bool,
    /// Store revision of the read.
    pub revision: i64,
    /// Keys in the whole range (at that revision).
    pub count: i64,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Written at this revision.
    Done(i64),
    /// The condition failed; the key's current state (None: absent).
    Failed(Option<Kv>),
}

/// A condition of [`Backend::commit`]: `key` has mod revision `mod_revision` (0: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// Key.
    pub key: String,
    /// Expected mod revision; 0 means the key must not exist.
    pub mod_revision: i64,
}

/// One write of [`Backend::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Put a value.
    Put(String, Vec<u8>),
    /// Delete a key.
    Delete(String),
}

/// What changed in one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Created or updated.
    Put,
    /// Deleted.
    Delete,
}

/// One store change.
#[derive(Debug, Clone)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// Put: the new value. Delete: the key, with the previous value and the delete revision
    /// as `mod_revision`.
    pub kv: Kv,
    /// Whether this put created the key.
    pub created: bool,
    /// For a put over an existing key: the previous value.
    pub prev: Option<Kv>,
}

/// What a store watch yields.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// Changes, all of one revision or several, in order.
    Events(Vec<Event>),
    /// Nothing happened up to this revision.
    Progress(i64),
}

/// A stream of watch items; ends or errors when the store watch breaks.
pub type WatchStream = BoxStream<'static, Result<WatchItem>>;

/// The store operations the API server needs: reads, compare-and-swap writes, and watches.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Linearizable read of one key; also returns the store revision.
    async fn get(&self, key: &str) -> Result<(Option<Kv>, i64)>;
    /// Read `[start, end)` at `revision` (0 = now, linearizable), at most `limit` keys (0 = all).
    async fn range(&self, start: &str, end: &str, limit: i64, revision: i64) -> Result<Page>;
    /// Create `key` if it does not exist.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Write>;
    /// Replace `key` if its mod revision is `expected`.
    async fn update(&self, key: &str, value: Vec<u8>, expected: i64) -> Result<Write>;
    /// Delete `key` if its mod revision is `expected`.
    async fn delete(&self, key: &str, expected: i64) -> Result<Write>;
    /// Apply `mutations` atomically if every condition holds; a failure reports the current
    /// state of the first condition's key.
    async fn commit(&self, conds: Vec<Cond>, mutations: Vec<Mutation>) -> Result<Write>;
    /// Watch `[start, end)` from `revision` with previous values and progress notifications.
    /// Each `progress.notify_one()` asks the store for a progress notification now (a
    /// reader waiting for a revision newer than this watch has seen needs to know whether
    /// anything in the range happened up to it).
    async fn watch(
        &self,
        start: &str,
        end: &str,
        revision: i64,
        progress: Option<Arc<tokio::sync::Notify>>,
    ) -> Result<WatchStream>;
    /// The same store's keyspace named `shard` (a keelson Raft group), when the store has
    /// shards; resources mapped to a shard live there, with revisions of their own.
    fn shard(&self, _shard: &str) -> Option<Arc<dyn Backend>> {
        None
    }
}

/// The end of the range of all keys starting with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    let mut b = prefix.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        if last < 0xff {
            b.push(last + 1);
            return String::from_utf8_lossy(&b).into_owned();
        }
    }
    "\0".to_string()
}

/// The transport error of a store endpoint, as text (a concrete type keeps the generated
/// clients' bounds simple).
#[derive(Debug)]
pub struct TransportError(String);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransportError {}

type Svc = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    TransportError,
>;

/// A store reached over the etcd v3 API: remote endpoints with failover, or an in-process
/// member's gRPC service.
pub struct EtcdBackend {
    endpoints: Vec<Svc>,
    names: Vec<String>,
    current: AtomicUsize,
    timeout: Duration,
    /// The keelson Raft group (gRPC metadata `keelson-group`); None = the default keyspace.
    group: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl EtcdBackend {
    /// Connect lazily to `endpoints` (`host:port` or `http://host:port`). Each call has
    /// `timeout`; a failed or slow endpoint makes the call move to the next.
    pub fn remote(endpoints: &[String], timeout: Duration) -> Result<Arc<Self>> {
        if endpoints.is_empty() {
            return Err(ApiError::Internal("no store endpoints given".into()));
        }
        let mut svcs = Vec::new();
        let mut names = Vec::new();
        for e in endpoints {
            let url = if e.contains("://") {
                e.clone()
            } else {
                format!("http://{e}")
            };
            let ch = tonic::transport::Endpoint::from_shared(url.clone())
                .map_err(|err| ApiError::Internal(format!("bad store endpoint {e}: {err}")))?
                .connect_timeout(timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(5))
                .keep_alive_timeout(timeout)
                .keep_alive_while_idle(true)
                .connect_lazy();
            let svc = tower::ServiceBuilder::new()
                .map_err(|e: tonic::transport::Error| TransportError(e.to_string()))
                .service(ch);
            svcs.push(BoxCloneSyncService::new(svc));
            names.push(url);
        }
        Ok(Arc::new(EtcdBackend {
            endpoints: svcs,
            names,
            current: AtomicUsize::new(0),
            timeout,
            group: None,
        }))
    }

    /// Use an in-process gRPC service (a member's KV and Watch services routed together).
    pub fn in_process<S>(svc: S, timeout: Duration) -> Arc<Self>
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let svc = tower::ServiceBuilder::new()
            .map_err(|e: std::convert::Infallible| -> TransportError { match e {} })
            .service(svc);
        Arc::new(EtcdBackend {
            endpoints: vec![BoxCloneSyncService::new(svc)],
            names: vec!["in-process".into()],
            current: AtomicUsize::new(0),
            timeout,
            group: None,
        })
    }

    /// Wrap a message, naming this backend's group.
    fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        if let Some(g) = &self.group {
            r.metadata_mut().insert("keelson-group", g.clone());
        }
        r
    }

    fn kv(&self, idx: usize) -> KvClient<Svc> {
        KvClient::new(self.endpoints[idx % self.endpoints.len()].clone())
            .max_decoding_message_size(64 << 20)
    }

    /// Run `f` against the current endpoint, failing over to the others on transport errors,
    /// timeouts and "no leader" answers, for up to two rounds.
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn(KvClient<Svc>) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let n = self.endpoints.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = String::new();
        let rounds = if n == 1 { 3 } else { 2 * n };
        // The whole call, failovers included, is bounded: a store without quorum answers 503
        // within about twice the per-call deadline.
        let deadline = tokio::time::Instant::now() + self.timeout * 2;
        for attempt in 0..rounds {
            if attempt > 0 && tokio::time::Instant::now() >= deadline {
                break;
            }
            let idx = (start + attempt) % n;
            match tokio::time::timeout(self.timeout, f(self.kv(idx))).await {
                Ok(Ok(r)) => {
                    if idx != start {
                        self.current.store(idx, Ordering::Relaxed);
                        tracing::info!(endpoint = %self.names[idx], "store client moved to another endpoint");
                    }
                    return Ok(r.into_inner());
                }
                Ok(Err(status)) => {
                    if !retryable(&status) {
                        return Err(map_status(&status));
                    }
                    last = format!("{}: {}", self.names[idx], status.message());
                }
                Err(_) => {
                    last = format!("{}: no answer within {:?}", self.names[idx], self.timeout)
                }
            }
            tracing::debug!(what, error = %last, "store call failed, trying the next endpoint");
            if n == 1 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Err(ApiError::Unavailable(format!(
            "the store is unavailable ({what}): {last}"
        )))
    }

    async fn txn(&self, req: pb::TxnRequest) -> Result<Write> {
        let r = self
            .call("txn", |mut c| {
                let req = self.req(req.clone());
                async move { c.txn(req).await }
            })
            .await?;
        let rev = r.header.map(|h| h.revision).unwrap_or(0);
        if r.succeeded {
            return Ok(Write::Done(rev));
        }
        let current = r.responses.into_iter().find_map(|op| match op.response {
            Some(OpResp::ResponseRange(rr)) => rr.kvs.into_iter().next().map(to_kv),
            _ => None,
        });
        Ok(Write::Failed(current))
    }
}

fn retryable(s: &tonic::Status) -> bool {
    match s.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => true,
        Code::Unknown => {
            let m = s.message();
            m.contains("transport")
                || m.contains("leader")
                || m.contains("connection")
                || m.contains("h2")
        }
        _ => false,
    }
}

fn map_status(s: &tonic::Status) -> ApiError {
    let m = s.message();
    if m.contains("compacted") {
        ApiError::Expired {
            message: format!("The resourceVersion for the provided list is too old: {m}"),
            continue_token: None,
        }
    } else if m.contains("future revision") {
        ApiError::Timeout(format!("Too large resource version: {m}"))
    } else if m.contains("too large") {
        ApiError::TooLarge(m.to_string())
    } else if m.contains("space exceeded") {
        ApiError::Internal(format!("etcdserver: {m}"))
    } else if matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded) {
        ApiError::Unavailable(format!("the store is unavailable: {m}"))
    } else {
        ApiError::Internal(format!("store: {m}"))
    }
}

fn to_kv(kv: mvccpb::KeyValue) -> Kv {
    Kv {
        key: String::from_utf8_lossy(&kv.key).into_owned(),
        value: Bytes::from(kv.value),
        mod_revision: kv.mod_revision,
        create_revision: kv.create_revision,
    }
}

fn cmp_mod(key: &str, rev: i64) -> pb::Compare {
    pb::Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Mod as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(TargetUnion::ModRevision(rev)),
        range_end: vec![],
    }
}

fn get_op(key: &str) -> pb::RequestOp {
    pb::RequestOp {
        request: Some(Op::RequestRange(pb::RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        })),
    }
}

#[async_trait::async_trait]
impl Backend for EtcdBackend {
    async fn get(&self, key: &str) -> Result<(Option<Kv>, i64)> {
        let r = self
            .call("get", |mut c| {
                let req = self.req(pb::RangeRequest {
                    key: key.as_bytes().to_vec(),
                    ..Default::default()
                });
                async move { c.range(req).await }
            })
            .await?;
        let rev = r.header.map(|h| h.revision).unwrap_or(0);
        Ok((r.kvs.into_iter().next().map(to_kv), rev))
    }

    async fn range(&self, start: &str, end: &str, limit: i64, revision: i64) -> Result<Page> {
        let r = self
            .call("range", |mut c| {
                let req = self.req(pb::RangeRequest {
                    key: start.as_bytes().to_vec(),
                    range_end: end.as_bytes().to_vec(),
                    limit,
                    revision,
                    ..Default::default()
                });
                async move { c.range(req).await }
            })
            .await?;
        Ok(Page {
            revision: r.header.map(|h| h.revision).unwrap_or(0),
            more: r.more,
            count: r.count,
            kvs: r.kvs.into_iter().map(to_kv).collect(),
        })
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Write> {
        self.txn(pb::TxnRequest {
            compare: vec![cmp_mod(key, 0)],
            success: vec![pb::RequestOp {
                request: Some(Op::RequestPut(pb::PutRequest {
                    key: key.as_bytes().to_vec(),
                    value,
                    ..Default::default()
                })),
            }],
            failure: vec![get_op(key)],
        })
        .await
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: i64) -> Result<Write> {
        self.txn(pb::TxnRequest {
            compare: vec![cmp_mod(key, expected)],
            success: vec![pb::RequestOp {
                request: Some(Op::RequestPut(pb::PutRequest {
                    key: key.as_bytes().to_vec(),
                    value,
                    ..Default::default()
                })),
            }],
            failure: vec![get_op(key)],
        })
        .await
    }

    async fn delete(&self, key: &str, expected: i64) -> Result<Write> {
        self.txn(pb::TxnRequest {
            compare: vec![cmp_mod(key, expected)],
            success: vec![pb::RequestOp {
                request: Some(Op::RequestDeleteRange(pb::DeleteRangeRequest {
                    key: key.as_bytes().to_vec(),
                    ..Default::default()
                })),
            }],
            failure: vec![get_op(key)],
        })
        .await
    }

    async fn commit(&self, conds: Vec<Cond>, mutations: Vec<Mutation>) -> Result<Write> {
        let failure = conds
            .first()
            .map(|c| vec![get_op(&c.key)])
            .unwrap_or_default();
        self.txn(pb::TxnRequest {
            compare: conds
                .iter()
                .map(|c| cmp_mod(&c.key, c.mod_revision))
                .collect(),
            success: mutations
                .into_iter()
                .map(|m| match m {
                    Mutation::Put(key, value) => pb::RequestOp {
                        request: Some(Op::RequestPut(pb::PutRequest {
                            key: key.into_bytes(),
                            value,
                            ..Default::default()
                        })),
                    },
                    Mutation::Delete(key) => pb::RequestOp {
                        request: Some(Op::RequestDeleteRange(pb::DeleteRangeRequest {
                            key: key.into_bytes(),
                            ..Default::default()
                        })),
                    },
                })
                .collect(),
            failure,
        })
        .await
    }

    fn shard(&self, shard: &str) -> Option<Arc<dyn Backend>> {
        let group = shard.parse().ok()?;
        Some(Arc::new(EtcdBackend {
            endpoints: self.endpoints.clone(),
            names: self.names.clone(),
            current: AtomicUsize::new(self.current.load(Ordering::Relaxed)),
            timeout: self.timeout,
            group: Some(group),
        }))
    }

    async fn watch(
        &self,
        start: &str,
        end: &str,
        revision: i64,
        progress: Option<Arc<tokio::sync::Notify>>,
    ) -> Result<WatchStream> {
        let n = self.endpoints.len();
        let first = self.current.load(Ordering::Relaxed);
        let mut last = String::new();
        for attempt in 0..n.max(2) {
            let idx = (first + attempt) % n;
            let mut client =
                WatchClient::new(self.endpoints[idx].clone()).max_decoding_message_size(64 << 20);
            let (tx, rx) = mpsc::channel::<pb::WatchRequest>(4);
            let create = pb::WatchRequest {
                request_union: Some(RequestUnion::CreateRequest(pb::WatchCreateRequest {
                    key: start.as_bytes().to_vec(),
                    range_end: end.as_bytes().to_vec(),
                    start_revision: revision,
                    progress_notify: true,
                    prev_kv: true,
                    ..Default::default()
                })),
            };
            if tx.send(create).await.is_err() {
                continue;
            }
            let opened = tokio::time::timeout(
                self.timeout,
                client.watch(self.req(tokio_stream::wrappers::ReceiverStream::new(rx))),
            )
            .await;
            let mut inbound = match opened {
                Ok(Ok(r)) => r.into_inner(),
                Ok(Err(s)) => {
                    last = s.message().to_string();
                    continue;
                }
                Err(_) => {
                    last = "no answer".into();
                    continue;
                }
            };
            // The first answer is the creation (or its refusal: a compacted revision).
            match tokio::time::timeout(self.timeout, inbound.message()).await {
                Ok(Ok(Some(r))) if r.created && !r.canceled => {}
                Ok(Ok(Some(r))) if r.compact_revision > 0 => {
                    return Err(ApiError::Expired {
                        message: format!(
                            "too old resource version: {} ({})",
                            revision.saturating_sub(1),
                            r.compact_revision
                        ),
                        continue_token: None,
                    });
                }
                Ok(Ok(Some(r))) => {
                    last = format!("watch not created: {}", r.cancel_reason);
                    continue;
                }
                Ok(Ok(None)) => {
                    last = "watch stream closed".into();
                    continue;
                }
                Ok(Err(s)) => {
                    last = s.message().to_string();
                    continue;
                }
                Err(_) => {
                    last = "no answer to watch create".into();
                    continue;
                }
            }
            self.current.store(idx, Ordering::Relaxed);
            return Ok(watch_stream(inbound, tx, progress).boxed());
        }
        Err(ApiError::Unavailable(format!(
            "the store is unavailable (watch): {last}"
        )))
    }
}

/// Turn the etcd watch responses into [`WatchItem`]s. Keeps the request sender alive (and
/// asks for progress every few seconds, so idle resources still advance their revision).
fn watch_stream(
    inbound: tonic::Streaming<pb::WatchResponse>,
    tx: mpsc::Sender<pb::WatchRequest>,
    progress: Option<Arc<tokio::sync::Notify>>,
) -> impl Stream<Item = Result<WatchItem>> + Send + 'static {
    let ticker = {
        let tx = tx.clone();
        let asked = progress.unwrap_or_default();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = asked.notified() => {}
                }
                let req = pb::WatchRequest {
                    request_union: Some(RequestUnion::ProgressRequest(pb::WatchProgressRequest {})),
                };
                if tx.send(req).await.is_err() {
                    break;
                }
            }
        })
    };
    let guard = AbortOnDrop(ticker);
    futures::stream::unfold(
        (inbound, tx, guard),
        |(mut inbound, tx, guard)| async move {
            let item = match inbound.message().await {
                Ok(Some(r)) => {
                    if r.canceled {
                        if r.compact_revision > 0 {
                            Err(ApiError::Expired {
                                message: format!("store watch compacted at {}", r.compact_revision),
                                continue_token: None,
                            })
                        } else {
                            Err(ApiError::Unavailable(format!(
                                "store watch canceled: {}",
                                r.cancel_reason
                            )))
                        }
                    } else if r.events.is_empty() {
                        Ok(WatchItem::Progress(
                            r.header.map(|h| h.revision).unwrap_or(0),
                        ))
                    } else {
                        Ok(WatchItem::Events(
                            r.events
                                .into_iter()
                                .filter_map(|e| {
                                    let delete =
                                        e.r#type == mvccpb::event::EventType::Delete as i32;
                                    let kv = e.kv?;
                                    if delete {
                                        let prev = e.prev_kv.map(to_kv);
                                        let mut k = prev.unwrap_or_else(|| to_kv(kv.clone()));
                                        k.mod_revision = kv.mod_revision;
                                        Some(Event {
                                            kind: EventKind::Delete,
                                            kv: k,
                                            created: false,
                                            prev: None,
                                        })
                                    } else {
                                        let created = kv.create_revision == kv.mod_revision;
                                        let prev = e.prev_kv.map(to_kv);
                                        Some(Event {
                                            kind: EventKind::Put,
                                            kv: to_kv(kv),
                                            created,
                                            prev,
                                        })
                                    }
                                })
                                .collect(),
                        ))
                    }
                }
                Ok(None) => return None,
                Err(s) => Err(map_status(&s)),
            };
            Some((item, (inbound, tx, guard)))
        },
    )
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end("/registry/pods/"), "/registry/pods0");
        assert_eq!(prefix_end("a"), "b");
    }
}
