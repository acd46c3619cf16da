//! Serving Kubernetes watches: from the watch cache when it covers the asked revision, from a
//! store watch of its own otherwise; with selectors (an object leaving the selection is a
//! DELETED, entering it an ADDED), bookmarks, `sendInitialEvents`, Table rows and timeouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::backend::{EventKind, WatchItem, prefix_end};
use crate::cache::{CacheEvent, Change, Start, decode_object};
use crate::error::{ApiError, Result};
use crate::meta;
use crate::resources::Resource;
use crate::rest::Rest;
use crate::selector::{FieldSelector, LabelSelector, ObjectFilter};

/// Options of one watch request.
#[derive(Clone, Default)]
pub struct WatchOpts {
    /// `labelSelector`.
    pub label: Option<LabelSelector>,
    /// `fieldSelector`.
    pub field: Option<FieldSelector>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial: Option<bool>,
    /// When the watch ends.
    pub timeout: Duration,
    /// Answer each object as a one-row Table (`includeObject` value).
    pub table: Option<String>,
    /// Interval of bookmarks.
    pub bookmark_every: Duration,
    /// The version asked for, when it is not the storage version (objects are converted).
    pub view: Option<Arc<Resource>>,
}

/// Which events of the cache a watcher sees: its selection's view of each change.
trait Transitions {
    /// The event a watcher sees for `ev`, if any.
    fn apply(&self, ev: &CacheEvent) -> Option<Change>;
}

impl Transitions for ObjectFilter {
    fn apply(&self, ev: &CacheEvent) -> Option<Change> {
        let cur = self.matches(&ev.object);
        let prev = ev.prev.as_ref().map(|p| self.matches(p)).unwrap_or(false);
        match ev.change {
            Change::Added => cur.then_some(Change::Added),
            Change::Deleted => cur.then_some(Change::Deleted),
            Change::Modified => match (prev, cur) {
                (true, true) => Some(Change::Modified),
                (false, true) => Some(Change::Added),
                (true, false) => Some(Change::Deleted),
                (false, false) => None,
            },
        }
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn error_line(e: &ApiError) -> Bytes {
    line("ERROR", &e.status())
}

struct Encoder {
    res: Arc<Resource>,
    table: Option<String>,
    view: Option<Arc<Resource>>,
}

impl Encoder {
    fn encode(&self, change: Change, obj: &Value, cached: Option<&CacheEvent>) -> Bytes {
        if let Some(v) = &self.view {
            let converted = crate::convert::from_storage(v, obj.clone());
            return self.encode_plain(change, &converted, None);
        }
        self.encode_plain(change, obj, cached)
    }

    fn encode_plain(&self, change: Change, obj: &Value, cached: Option<&CacheEvent>) -> Bytes {
        match &self.table {
            None => match cached {
                Some(ev) if ev.change == change => ev.json_line(),
                _ => line(change.as_str(), obj),
            },
            Some(include) if include == crate::printing::METADATA => {
                line(change.as_str(), &crate::printing::partial(obj))
            }
            Some(include) => {
                let t = crate::printing::table_for(
                    &self.res,
                    std::slice::from_ref(obj),
                    json!({"resourceVersion": meta::meta_str(obj, "resourceVersion")}),
                    include,
                );
                line(change.as_str(), &t)
            }
        }
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": metadata}),
        )
    }
}

/// Start a watch; the stream yields the chunks of the HTTP answer.
pub async fn watch(
    rest: Arc<Rest>,
    res: Arc<Resource>,
    ns: Option<String>,
    opts: WatchOpts,
) -> Result<BoxStream<'static, Bytes>> {
    if let Some(f) = &opts.field {
        f.check_fields(&res.allowed_fields())?;
    }
    let rv = opts.resource_version.clone().filter(|s| !s.is_empty());
    let rv_num = match rv.as_deref() {
        None | Some("0") => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {s}")))?,
        ),
    };
    let ns = ns.filter(|_| res.namespaced);
    let prefix = res.prefix(ns.as_deref());
    let filter = Arc::new(ObjectFilter {
        ns: ns.clone(),
        label: opts.label.clone(),
        field: opts.field.clone(),
    });
    let enc = Arc::new(Encoder {
        res: res.clone(),
        table: opts.table.clone(),
        view: opts.view.clone(),
    });
    let cache = rest.cache(&res)?;
    let initial = opts.send_initial.unwrap_or(rv_num.is_none());
    cache
        .wait_for(rv_num.unwrap_or(0), Duration::from_secs(3))
        .await?;
    let start = match (initial, rv_num) {
        (true, _) => cache.start_watch(None, &prefix),
        (false, Some(n)) => cache.start_watch(Some(n), &prefix),
        (false, None) => cache.start_watch(Some(cache.revision()), &prefix),
    };
    let deadline = Instant::now() + opts.timeout;
    let mut head: Vec<Bytes> = Vec::new();
    let (mut rx, mut revision) = match start {
        Start::Snapshot {
            objects,
            revision,
            rx,
        } => {
            for o in objects.iter().filter(|o| filter.matches(o)) {
                head.push(enc.encode(Change::Added, o, None));
            }
            if opts.send_initial == Some(true) && opts.bookmarks {
                head.push(enc.bookmark(revision, true));
            }
            (rx, revision)
        }
        Start::Replay {
            events,
            revision,
            rx,
        } => {
            for ev in &events {
                if let Some(c) = filter.apply(ev) {
                    head.push(enc.encode(c, &ev.object, filter.is_trivial().then_some(&**ev)));
                }
            }
            (rx, revision)
        }
        Start::TooOld => {
            let from = rv_num.unwrap_or(0);
            return Ok(store_watch(
                rest,
                res,
                prefix,
                from,
                filter,
                enc,
                deadline,
                opts.bookmarks,
                opts.bookmark_every,
            )
            .await);
        }
    };
    let bookmarks = opts.bookmarks;
    let every = opts.bookmark_every;
    let s = async_stream::stream! {
        for b in head {
            yield b;
        }
        let mut next_bookmark = Instant::now() + every;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wake = if bookmarks { next_bookmark.min(deadline) } else { deadline };
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(ev) => {
                        if ev.revision <= revision || !ev.key.starts_with(&prefix) {
                            continue;
                        }
                        revision = ev.revision;
                        if let Some(c) = filter.apply(&ev) {
                            yield enc.encode(c, &ev.object, filter.is_trivial().then_some(&*ev));
                        }
                    }
                    // Too slow to keep up: end the watch; the client resumes from its last
                    // resourceVersion (served from the store if the cache moved on).
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break,
                },
                _ = tokio::time::sleep_until(wake.into()) => {
                    if bookmarks && Instant::now() >= next_bookmark {
                        let r = cache.revision().max(revision);
                        yield enc.bookmark(r, false);
                        next_bookmark = Instant::now() + every;
                    }
                }
            }
        }
    };
    Ok(s.boxed())
}

#[allow(clippy::too_many_arguments)]
async fn store_watch(
    rest: Arc<Rest>,
    res: Arc<Resource>,
    prefix: String,
    from: i64,
    filter: Arc<ObjectFilter>,
    enc: Arc<Encoder>,
    deadline: Instant,
    bookmarks: bool,
    every: Duration,
) -> BoxStream<'static, Bytes> {
    let end = prefix_end(&prefix);
    let opened = rest
        .backend_for(&res)
        .watch(&prefix, &end, from + 1, None)
        .await;
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            let e = match e {
                ApiError::Expired { .. } => ApiError::Expired {
                    message: format!("too old resource version: {from}"),
                    continue_token: None,
                },
                other => other,
            };
            return futures::stream::once(async move { error_line(&e) }).boxed();
        }
    };
    let s = async_stream::stream! {
        let mut next_bookmark = Instant::now() + every;
        let mut revision = from;
        loop {
            let wake = if bookmarks { next_bookmark.min(deadline) } else { deadline };
            if Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(WatchItem::Events(events))) => {
                        for e in events {
                            revision = e.kv.mod_revision;
                            let obj = match decode_object(&e.kv.value, e.kv.mod_revision) { Ok(o) => Arc::new(o), Err(_) => continue };
                            let prev = e.prev.as_ref().and_then(|p| decode_object(&p.value, p.mod_revision).ok()).map(Arc::new);
                            let change = match e.kind {
                                EventKind::Delete => Change::Deleted,
                                EventKind::Put if e.created => Change::Added,
                                EventKind::Put => Change::Modified,
                            };
                            let ev = CacheEvent::new(change, e.kv.key.clone(), obj, prev, e.kv.mod_revision);
                            if let Some(c) = filter.apply(&ev) {
                                yield enc.encode(c, &ev.object, None);
                            }
                        }
                    }
                    Some(Ok(WatchItem::Progress(r))) => revision = revision.max(r),
                    Some(Err(e)) => { yield error_line(&e); break; }
                    None => break,
                },
                _ = tokio::time::sleep_until(wake.into()) => {
                    if bookmarks && Instant::now() >= next_bookmark {
                        yield enc.bookmark(revision, false);
                        next_bookmark = Instant::now() + every;
                    }
                }
            }
        }
    };
    s.boxed()
}
