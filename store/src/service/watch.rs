//! etcd's Watch service. One task per stream multiplexes all of the stream's watchers over a
//! single subscription to the group's applied revisions, so events reach every watcher in
//! revision order with no gap and no duplicate:
//!
//! - the task tracks `synced`, the revision through which it has dispatched everything;
//! - a new watcher starting at or below `synced` first replays history `start..=synced`
//!   from RocksDB, then receives live batches (all > `synced`);
//! - if the subscription lags (a slow client) or the state is replaced by a snapshot, the
//!   task re-subscribes and replays `synced+1..=now` from history before going on;
//! - a progress notification carries `synced`, which is exactly "everything up to here has
//!   been sent" for every watcher of the stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use keelson_proto::etcdserverpb::{
    self as pb, watch_create_request::FilterType, watch_server::Watch,
};
use keelson_proto::mvccpb::{self, event::EventType};
use prost::Message;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::Groups;
use crate::group::Group;
use crate::mvcc::{RevBatch, in_range};
use crate::storage::HubMsg;

/// Most events in one replay response (a revision is never split).
const REPLAY_CHUNK_EVENTS: usize = 1000;

/// The Watch service.
pub struct WatchService {
    groups: Arc<Groups>,
}

impl WatchService {
    /// A Watch service over the member's groups.
    pub fn new(groups: Arc<Groups>) -> WatchService {
        WatchService { groups }
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = ReceiverStream<Result<pb::WatchResponse, Status>>;

    async fn watch(
        &self,
        req: Request<Streaming<pb::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let g = self.groups.pick(&req)?;
        let (tx, rx) = mpsc::channel(256);
        let limits = self.groups.limits.clone();
        let inbound = req.into_inner();
        tokio::spawn(async move {
            let mut s = WatchStream::new(g, tx, limits.max_request_bytes);
            s.run(inbound, limits.progress_notify_interval).await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

struct Watcher {
    key: Vec<u8>,
    range_end: Vec<u8>,
    /// The next revision this watcher wants.
    next_rev: i64,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    fragment: bool,
}

impl Watcher {
    fn filter(&self, b: &RevBatch) -> Vec<mvccpb::Event> {
        b.events
            .iter()
            .filter(|e| {
                let key =
                    e.kv.as_ref()
                        .map(|kv| kv.key.as_slice())
                        .unwrap_or_default();
                let is_put = e.r#type == EventType::Put as i32;
                in_range(key, &self.key, &self.range_end)
                    && !(is_put && self.no_put)
                    && (is_put || !self.no_delete)
            })
            .map(|e| {
                let mut e = e.clone();
                if !self.prev_kv {
                    e.prev_kv = None;
                }
                e
            })
            .collect()
    }
}

struct WatchStream {
    g: Arc<Group>,
    tx: mpsc::Sender<Result<pb::WatchResponse, Status>>,
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
    synced: i64,
    max_bytes: usize,
}

enum Flow {
    Continue,
    Stop,
}

impl WatchStream {
    fn new(
        g: Arc<Group>,
        tx: mpsc::Sender<Result<pb::WatchResponse, Status>>,
        max_bytes: usize,
    ) -> WatchStream {
        WatchStream {
            g,
            tx,
            watchers: BTreeMap::new(),
            next_id: 0,
            synced: 0,
            max_bytes,
        }
    }

    async fn run(
        &mut self,
        mut inbound: Streaming<pb::WatchRequest>,
        progress: std::time::Duration,
    ) {
        let (mut hub, synced) = self.g.sm.subscribe();
        self.synced = synced;
        let mut tick = tokio::time::interval(progress);
        tick.tick().await;
        loop {
            let flow = tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(req)) => self.on_request(req).await,
                    Ok(None) | Err(_) => Flow::Stop,
                },
                m = hub.recv() => match m {
                    Ok(HubMsg::Batch(b)) => {
                        if b.revision > self.synced {
                            let f = self.dispatch(&b).await;
                            self.synced = b.revision;
                            f
                        } else {
                            Flow::Continue
                        }
                    }
                    Ok(HubMsg::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let (h, now) = self.g.sm.subscribe();
                        hub = h;
                        self.catch_up(now).await
                    }
                    Err(broadcast::error::RecvError::Closed) => Flow::Stop,
                },
                _ = tick.tick() => self.progress_notify().await,
            };
            if let Flow::Stop = flow {
                break;
            }
        }
    }

    async fn send(&self, resp: pb::WatchResponse) -> Flow {
        if self.tx.send(Ok(resp)).await.is_err() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn header(&self, rev: i64) -> Option<pb::ResponseHeader> {
        Some(self.g.header(rev))
    }

    async fn on_request(&mut self, req: pb::WatchRequest) -> Flow {
        use pb::watch_request::RequestUnion;
        match req.request_union {
            Some(RequestUnion::CreateRequest(c)) => self.create(c).await,
            Some(RequestUnion::CancelRequest(c)) => {
                if self.watchers.remove(&c.watch_id).is_some() {
                    let resp = pb::WatchResponse {
                        header: self.header(self.g.current_rev()),
                        watch_id: c.watch_id,
                        canceled: true,
                        ..Default::default()
                    };
                    return self.send(resp).await;
                }
                Flow::Continue
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                let resp = pb::WatchResponse {
                    header: self.header(self.synced),
                    watch_id: -1,
                    ..Default::default()
                };
                self.send(resp).await
            }
            None => Flow::Continue,
        }
    }

    async fn create(&mut self, c: pb::WatchCreateRequest) -> Flow {
        let (current, compact) = {
            let st = self.g.sm.read();
            (st.mvcc.current_rev(), st.mvcc.compact_rev())
        };
        let id = if c.watch_id != 0 {
            if self.watchers.contains_key(&c.watch_id) {
                let resp = pb::WatchResponse {
                    header: self.header(current),
                    watch_id: c.watch_id,
                    created: true,
                    canceled: true,
                    cancel_reason: "etcdserver: duplicate watch ID".into(),
                    ..Default::default()
                };
                return self.send(resp).await;
            }
            c.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id
        };
        let mut range_end = c.range_end.clone();
        if c.key.is_empty() && range_end.is_empty() {
            range_end = vec![0];
        }
        let mut key = c.key.clone();
        if key.is_empty() {
            key = vec![0];
        }
        let start = if c.start_revision <= 0 {
            current + 1
        } else {
            c.start_revision
        };
        let w = Watcher {
            key,
            range_end,
            next_rev: start,
            prev_kv: c.prev_kv,
            no_put: c.filters.contains(&(FilterType::Noput as i32)),
            no_delete: c.filters.contains(&(FilterType::Nodelete as i32)),
            progress_notify: c.progress_notify,
            fragment: c.fragment,
        };
        let created = pb::WatchResponse {
            header: self.header(current),
            watch_id: id,
            created: true,
            ..Default::default()
        };
        if let Flow::Stop = self.send(created).await {
            return Flow::Stop;
        }
        if c.start_revision > 0 && c.start_revision < compact {
            let resp = pb::WatchResponse {
                header: self.header(current),
                watch_id: id,
                canceled: true,
                compact_revision: compact,
                cancel_reason: "etcdserver: mvcc: required revision has been compacted".into(),
                ..Default::default()
            };
            return self.send(resp).await;
        }
        let replay_from = w.next_rev;
        self.watchers.insert(id, w);
        if replay_from <= self.synced {
            return self.replay(Some(id), replay_from, self.synced).await;
        }
        Flow::Continue
    }

    /// Sends history `from..=to` to one watcher (`Some`) or to every watcher that wants it.
    async fn replay(&mut self, only: Option<i64>, from: i64, to: i64) -> Flow {
        let batches = match self.g.sm.events_between(from, to, &|_| true, true) {
            Ok(b) => b,
            Err(e) => {
                let _ = self.tx.send(Err(e.to_status())).await;
                return Flow::Stop;
            }
        };
        let ids: Vec<i64> = match only {
            Some(id) => vec![id],
            None => self.watchers.keys().copied().collect(),
        };
        for id in ids {
            let mut pending: Vec<mvccpb::Event> = Vec::new();
            let mut last = 0;
            for b in &batches {
                let Some(w) = self.watchers.get(&id) else {
                    break;
                };
                if b.revision < w.next_rev {
                    continue;
                }
                let evs = w.filter(b);
                if !evs.is_empty() {
                    if pending.len() + evs.len() > REPLAY_CHUNK_EVENTS && !pending.is_empty() {
                        let chunk = std::mem::take(&mut pending);
                        if let Flow::Stop = self.send_events(id, last, chunk).await {
                            return Flow::Stop;
                        }
                    }
                    pending.extend(evs);
                    last = b.revision;
                }
            }
            if !pending.is_empty()
                && let Flow::Stop = self.send_events(id, last, pending).await
            {
                return Flow::Stop;
            }
            if let Some(w) = self.watchers.get_mut(&id) {
                w.next_rev = w.next_rev.max(to + 1);
            }
        }
        Flow::Continue
    }

    async fn catch_up(&mut self, now: i64) -> Flow {
        let compact = self.g.sm.read().mvcc.compact_rev();
        if self.synced + 1 < compact {
            // History we have not sent is gone (a snapshot replaced it): cancel like etcd.
            let ids: Vec<i64> = self
                .watchers
                .iter()
                .filter(|(_, w)| w.next_rev < compact)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.watchers.remove(&id);
                let resp = pb::WatchResponse {
                    header: self.header(now),
                    watch_id: id,
                    canceled: true,
                    compact_revision: compact,
                    cancel_reason: "etcdserver: mvcc: required revision has been compacted".into(),
                    ..Default::default()
                };
                if let Flow::Stop = self.send(resp).await {
                    return Flow::Stop;
                }
            }
        }
        let from = self.synced + 1;
        let f = self.replay(None, from, now).await;
        self.synced = self.synced.max(now);
        f
    }

    async fn dispatch(&mut self, b: &RevBatch) -> Flow {
        let mut sends = Vec::new();
        for (id, w) in self.watchers.iter_mut() {
            if b.revision < w.next_rev {
                continue;
            }
            let evs = w.filter(b);
            w.next_rev = b.revision + 1;
            if !evs.is_empty() {
                sends.push((*id, evs));
            }
        }
        for (id, evs) in sends {
            if let Flow::Stop = self.send_events(id, b.revision, evs).await {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    async fn send_events(&self, id: i64, rev: i64, events: Vec<mvccpb::Event>) -> Flow {
        let fragment = self.watchers.get(&id).map(|w| w.fragment).unwrap_or(false);
        let resp = pb::WatchResponse {
            header: self.header(rev),
            watch_id: id,
            events,
            ..Default::default()
        };
        if !fragment || resp.encoded_len() <= self.max_bytes {
            return self.send(resp).await;
        }
        // Split into fragments under the size limit; all but the last say `fragment`.
        let mut chunks: Vec<Vec<mvccpb::Event>> = vec![Vec::new()];
        let mut size = 0;
        for e in resp.events {
            let len = e.encoded_len();
            if size + len > self.max_bytes && !chunks.last().map(|c| c.is_empty()).unwrap_or(true) {
                chunks.push(Vec::new());
                size = 0;
            }
            size += len;
            if let Some(c) = chunks.last_mut() {
                c.push(e);
            }
        }
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let r = pb::WatchResponse {
                header: self.header(rev),
                watch_id: id,
                events: c,
                fragment: i + 1 < n,
                ..Default::default()
            };
            if let Flow::Stop = self.send(r).await {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    async fn progress_notify(&self) -> Flow {
        for (id, w) in &self.watchers {
            if w.progress_notify {
                let resp = pb::WatchResponse {
                    header: self.header(self.synced),
                    watch_id: *id,
                    ..Default::default()
                };
                if let Flow::Stop = self.send(resp).await {
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }
}
