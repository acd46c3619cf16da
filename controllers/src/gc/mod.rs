//! The garbage collector: deletes objects whose owners are gone, and carries out Foreground
//! and Orphan cascading deletion (`ownerReferences`, `blockOwnerDeletion`, the
//! `foregroundDeletion` and `orphan` finalizers), like kube-controller-manager's.
//!
//! - [`graph`]: the object graph, fed by one kube-runtime metadata watcher per resource the
//!   API server lists in discovery (built-in and CRDs; rediscovered when a CRD changes).
//!   It runs on every replica, leading or not, so a standby's cache is warm.
//! - [`decide`]: the pure decision for one object.
//! - this module: the work queue and the worker, which gathers the inputs of a decision
//!   (an owner missing from the graph is looked up live by name before it is called absent,
//!   since watches of different resources lag differently) and carries it out with
//!   preconditions (uid on deletes, resourceVersion on patches). The worker runs only while
//!   this replica leads, and checks [`Leadership`] before every write.

pub mod decide;
pub mod graph;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::core::PartialObjectMeta;
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::{Error, Leadership, Result};
use decide::{Action, Meta, ORPHAN, OwnerState, Policy};
use graph::{Graph, Kind, Node};

/// Bound on one request of the worker.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Objects the worker handles at once.
const WORKERS: usize = 8;
/// Discovery runs again this often even if no CRD changed (aggregated APIs).
const REDISCOVER_EVERY: Duration = Duration::from_secs(60);
/// The CRD kind: a change to one triggers a rediscovery.
const CRD_KEY: &str = "apiextensions.k8s.io/CustomResourceDefinition";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A deduplicating FIFO of uids.
#[derive(Default)]
struct Queue {
    inner: Mutex<(VecDeque<String>, HashSet<String>)>,
    notify: Notify,
}

impl Queue {
    fn push(&self, uid: String) {
        let mut q = lock(&self.inner);
        if q.1.insert(uid.clone()) {
            q.0.push_back(uid);
            drop(q);
            self.notify.notify_one();
        }
    }

    async fn pop(&self) -> String {
        loop {
            {
                let mut q = lock(&self.inner);
                if let Some(uid) = q.0.pop_front() {
                    q.1.remove(&uid);
                    return uid;
                }
            }
            self.notify.notified().await;
        }
    }
}

struct Shared {
    client: Client,
    graph: Mutex<Graph>,
    kinds: RwLock<HashMap<String, Arc<Kind>>>,
    queue: Queue,
    retries: Mutex<HashMap<String, u32>>,
    rediscover: Notify,
    /// Kinds of the first discovery whose initial list is not complete yet.
    initial: Mutex<Option<HashSet<String>>>,
    synced: watch::Sender<bool>,
}

/// The running garbage collector (caches); [`GarbageCollector::run_worker`] acts.
pub struct GarbageCollector {
    shared: Arc<Shared>,
    manager: tokio::task::JoinHandle<()>,
}

impl GarbageCollector {
    /// Start discovery and the watchers (they run until `stop` turns true).
    pub fn start(client: Client, stop: watch::Receiver<bool>) -> GarbageCollector {
        let (synced, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            client,
            graph: Mutex::default(),
            kinds: RwLock::default(),
            queue: Queue::default(),
            retries: Mutex::default(),
            rediscover: Notify::new(),
            initial: Mutex::new(None),
            synced,
        });
        let manager = tokio::spawn(manage(shared.clone(), stop));
        GarbageCollector { shared, manager }
    }

    /// Wait for the watchers to end (after `stop`).
    pub async fn stop(self) {
        let _ = self.manager.await;
    }

    /// Collect garbage until the future is dropped (it never ends on its own). Waits for the
    /// first complete list of every resource, then reconsiders every object with owners or a
    /// deletion in progress (a previous leader may have died half-way), then follows changes.
    pub async fn run_worker(&self, leadership: Leadership) {
        let mut synced = self.shared.synced.subscribe();
        if synced.wait_for(|s| *s).await.is_err() {
            return std::future::pending().await;
        }
        let all: Vec<String> = {
            let g = lock(&self.shared.graph);
            g.uids_to_check()
        };
        tracing::info!(
            objects = lock(&self.shared.graph).len(),
            to_check = all.len(),
            "garbage collector: caches synced, collecting"
        );
        for uid in all {
            self.shared.queue.push(uid);
        }
        let shared = self.shared.clone();
        futures::stream::unfold(shared.clone(), |s| async move {
            let uid = s.queue.pop().await;
            Some((uid, s))
        })
        .for_each_concurrent(WORKERS, |uid| {
            let s = shared.clone();
            let l = leadership.clone();
            async move { s.process(uid, &l).await }
        })
        .await;
    }
}

/// Discovery, one watcher task per resource, rediscovery on CRD changes.
async fn manage(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut watchers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut failures = 0u32;
    while !*stop.borrow() {
        match discover(&shared.client).await {
            Ok(found) => {
                failures = 0;
                let keys: HashSet<String> = found.iter().map(|k| k.key.clone()).collect();
                {
                    let mut initial = lock(&shared.initial);
                    if initial.is_none() {
                        tracing::info!(resources = keys.len(), "garbage collector: watching");
                        *initial = Some(keys.clone());
                    }
                }
                for kind in found {
                    if watchers.contains_key(&kind.key) {
                        continue;
                    }
                    let kind = Arc::new(kind);
                    shared
                        .kinds
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(kind.key.clone(), kind.clone());
                    let task = tokio::spawn(watch_kind(shared.clone(), kind.clone()));
                    watchers.insert(kind.key.clone(), task);
                }
                let gone: Vec<String> = watchers
                    .keys()
                    .filter(|k| !keys.contains(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    if let Some(t) = watchers.remove(&key) {
                        t.abort();
                    }
                    shared
                        .kinds
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key);
                    let requeue = lock(&shared.graph).remove_kind(&key);
                    tracing::info!(kind = %key, "garbage collector: resource no longer served");
                    for uid in requeue {
                        shared.queue.push(uid);
                    }
                }
                shared.check_initial_sync(None);
                tokio::select! {
                    _ = shared.rediscover.notified() => {}
                    _ = tokio::time::sleep(REDISCOVER_EVERY) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %e, failures, "garbage collector: discovery failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    for (_, t) in watchers {
        t.abort();
    }
}

/// Every listable, watchable, deletable resource (preferred version), except events (as
/// upstream: they are never owners and there are many).
async fn discover(client: &Client) -> Result<Vec<Kind>> {
    let discovery = tokio::time::timeout(REQUEST_TIMEOUT, Discovery::new(client.clone()).run())
        .await
        .map_err(|_| Error::Timeout {
            what: "discovery",
            after: REQUEST_TIMEOUT,
        })??;
    let mut out = vec![];
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let ok = [verbs::LIST, verbs::WATCH, verbs::DELETE]
                .iter()
                .all(|v| caps.supports_operation(v));
            if !ok || ar.plural == "events" {
                continue;
            }
            out.push(Kind {
                key: Kind::key_of(&ar.api_version, &ar.kind),
                namespaced: caps.scope == Scope::Namespaced,
                resource: ar,
            });
        }
    }
    Ok(out)
}

/// Feed the graph from a metadata watcher of `kind` (relists and backs off on errors).
async fn watch_kind(shared: Arc<Shared>, kind: Arc<Kind>) {
    // `Api<PartialObjectMeta<_>>` asks for metadata only (`as=PartialObjectMetadata`).
    let api: Api<PartialObjectMeta<DynamicObject>> =
        Api::all_with(shared.client.clone(), &kind.resource);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut failures = 0u32;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                failures = 0;
                shared.apply(&kind, ev);
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(50) {
                    tracing::warn!(kind = %kind.key, error = %e, failures, "garbage collector: watch failed");
                }
            }
        }
    }
}

impl Shared {
    fn apply(&self, kind: &Arc<Kind>, ev: Event<kube::core::PartialObjectMeta<DynamicObject>>) {
        let mut changed_crd = false;
        let requeue = {
            let mut g = lock(&self.graph);
            match ev {
                Event::Init => {
                    g.begin_relist(kind);
                    vec![]
                }
                Event::InitApply(o) => g.upsert(kind.clone(), Meta::from_object_meta(&o.metadata)),
                Event::Apply(o) => {
                    changed_crd = true;
                    g.upsert(kind.clone(), Meta::from_object_meta(&o.metadata))
                }
                Event::Delete(o) => {
                    changed_crd = true;
                    g.remove(&o.uid().unwrap_or_default())
                }
                Event::InitDone => {
                    let r = g.end_relist(kind);
                    drop(g);
                    self.check_initial_sync(Some(&kind.key));
                    r
                }
            }
        };
        for uid in requeue {
            self.queue.push(uid);
        }
        if changed_crd && kind.key == CRD_KEY {
            self.rediscover.notify_one();
        }
    }

    /// Mark `done` listed; once every kind of the first discovery is, caches are synced.
    fn check_initial_sync(&self, done: Option<&str>) {
        let mut initial = lock(&self.initial);
        if let Some(set) = initial.as_mut() {
            if let Some(k) = done {
                set.remove(k);
            }
            if set.is_empty() && !*self.synced.borrow() {
                self.synced.send_replace(true);
            }
        }
    }

    fn kind(&self, key: &str) -> Option<Arc<Kind>> {
        self.kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn api_for(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            _ => Api::all_with(self.client.clone(), &kind.resource),
        }
    }

    async fn process(self: &Arc<Self>, uid: String, leadership: &Leadership) {
        match self.attempt(&uid, leadership).await {
            Ok(true) => {
                lock(&self.retries).remove(&uid);
            }
            Ok(false) => self.retry(uid),
            Err(Error::NotLeading) => {
                // The worker is being stopped; whoever leads next reconsiders everything.
            }
            Err(e) => {
                let n = lock(&self.retries).get(&uid).copied().unwrap_or(0);
                if n == 0 || n.is_multiple_of(10) {
                    tracing::warn!(%uid, error = %e, attempts = n + 1, "garbage collector: retrying");
                }
                self.retry(uid);
            }
        }
    }

    /// Reconsider `uid` later, with exponential backoff (50 ms to 30 s).
    fn retry(self: &Arc<Self>, uid: String) {
        let n = {
            let mut r = lock(&self.retries);
            let n = r.entry(uid.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let delay = Duration::from_millis(50u64 << n.min(10)).min(Duration::from_secs(30));
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(s) = me.upgrade() {
                s.queue.push(uid);
            }
        });
    }

    /// Decide and act on `uid`; `Ok(false)` asks for a retry.
    async fn attempt(&self, uid: &str, leadership: &Leadership) -> Result<bool> {
        let (node, dependents) = {
            let g = lock(&self.graph);
            let Some(node) = g.get(uid).cloned() else {
                return Ok(true);
            };
            let deps: Vec<Node> = g.dependents_of(uid).into_iter().cloned().collect();
            (node, deps)
        };
        let dep_meta: Vec<&Meta> = dependents.iter().map(|d| &d.meta).collect();
        let action = match decide::decide_owner(&node.meta, &dep_meta) {
            Some(a) => a,
            None => {
                if node.meta.owners.is_empty() || node.meta.deleting {
                    return Ok(true);
                }
                let mut states = Vec::with_capacity(node.meta.owners.len());
                for r in &node.meta.owners {
                    states.push(self.owner_state(&node, r).await);
                }
                decide::decide_dependent(&node.meta, &states, !dep_meta.is_empty())
            }
        };
        if action != Action::None {
            tracing::debug!(kind = %node.kind.key, name = %node.meta.name, ?action, "garbage collector decision");
        }
        self.execute(&node, &dependents, action, leadership).await
    }

    /// The state of the owner `r` of `node`: from the graph, else looked up live by name.
    async fn owner_state(
        &self,
        node: &Node,
        r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ) -> OwnerState {
        if let Some(waiting) = lock(&self.graph).waiting_for_dependents(&r.uid) {
            return if waiting {
                OwnerState::WaitingForDependents
            } else {
                OwnerState::Solid
            };
        }
        let Some(kind) = self.kind(&Kind::key_of(&r.api_version, &r.kind)) else {
            tracing::debug!(
                "{}",
                Error::UnknownKind {
                    api_version: r.api_version.clone(),
                    kind: r.kind.clone()
                }
            );
            self.rediscover.notify_one();
            return OwnerState::Unknown;
        };
        if kind.namespaced && node.meta.namespace.is_none() {
            // A cluster-scoped object cannot have a namespaced owner; leave it alone.
            return OwnerState::Unknown;
        }
        let api = self.api_for(&kind, node.meta.namespace.as_deref());
        match tokio::time::timeout(REQUEST_TIMEOUT, api.get_metadata_opt(&r.name)).await {
            Ok(Ok(None)) => OwnerState::Absent,
            Ok(Ok(Some(m))) if m.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                if Meta::from_object_meta(&m.metadata).waiting_for_dependents() {
                    OwnerState::WaitingForDependents
                } else {
                    OwnerState::Solid
                }
            }
            // A namesake with another uid: the owner itself is gone.
            Ok(Ok(Some(_))) => OwnerState::Absent,
            Ok(Err(e)) => {
                tracing::debug!(owner = %r.name, error = %e, "owner lookup failed");
                OwnerState::Unknown
            }
            Err(_) => OwnerState::Unknown,
        }
    }

    async fn execute(
        &self,
        node: &Node,
        dependents: &[Node],
        action: Action,
        leadership: &Leadership,
    ) -> Result<bool> {
        match action {
            Action::None | Action::WaitForDependents(_) => Ok(true),
            Action::Retry => Ok(false),
            Action::Delete(policy) => {
                leadership.check()?;
                let api = self.api_for(&node.kind, node.meta.namespace.as_deref());
                let dp = DeleteParams {
                    propagation_policy: Some(match policy {
                        Policy::Background => PropagationPolicy::Background,
                        Policy::Foreground => PropagationPolicy::Foreground,
                        Policy::Orphan => PropagationPolicy::Orphan,
                    }),
                    preconditions: Some(Preconditions {
                        uid: Some(node.meta.uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                let r = bounded(api.delete(&node.meta.name, &dp)).await.map(|_| ());
                let done = settled(r)?;
                if done {
                    tracing::info!(
                        kind = %node.kind.key,
                        namespace = node.meta.namespace.as_deref().unwrap_or(""),
                        name = %node.meta.name,
                        policy = policy.as_str(),
                        "garbage collector: deleted dependent"
                    );
                }
                Ok(done)
            }
            Action::PatchOwners { remove, unblock } => {
                let owners = node
                    .meta
                    .owners
                    .iter()
                    .filter(|o| !remove.contains(&o.uid))
                    .cloned()
                    .map(|mut o| {
                        if unblock.contains(&o.uid) {
                            o.block_owner_deletion = Some(false);
                        }
                        o
                    })
                    .collect();
                self.patch_owners(node, owners, leadership).await
            }
            Action::Orphan { dependents: uids } => {
                for uid in &uids {
                    let Some(d) = dependents.iter().find(|d| &d.meta.uid == uid) else {
                        continue;
                    };
                    let owners = d
                        .meta
                        .owners
                        .iter()
                        .filter(|o| o.uid != node.meta.uid)
                        .cloned()
                        .collect();
                    if !self.patch_owners(d, owners, leadership).await? {
                        return Ok(false);
                    }
                }
                self.remove_finalizer(node, ORPHAN, leadership).await
            }
            Action::RemoveFinalizer(f) => self.remove_finalizer(node, f, leadership).await,
        }
    }

    /// Replace `node`'s ownerReferences (merge patch, resourceVersion precondition).
    async fn patch_owners(
        &self,
        node: &Node,
        owners: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
        leadership: &Leadership,
    ) -> Result<bool> {
        let owners = if owners.is_empty() {
            serde_json::Value::Null
        } else {
            json!(owners)
        };
        let patch = json!({"metadata": {
            "resourceVersion": node.meta.resource_version,
            "ownerReferences": owners,
        }});
        self.patch(node, patch, leadership).await
    }

    /// Remove `finalizer` from `node` (merge patch, resourceVersion precondition).
    async fn remove_finalizer(
        &self,
        node: &Node,
        finalizer: &str,
        leadership: &Leadership,
    ) -> Result<bool> {
        let left: Vec<&String> = node
            .meta
            .finalizers
            .iter()
            .filter(|f| *f != finalizer)
            .collect();
        let patch = json!({"metadata": {
            "resourceVersion": node.meta.resource_version,
            "finalizers": if left.is_empty() { serde_json::Value::Null } else { json!(left) },
        }});
        let done = self.patch(node, patch, leadership).await?;
        if done {
            tracing::info!(
                kind = %node.kind.key,
                namespace = node.meta.namespace.as_deref().unwrap_or(""),
                name = %node.meta.name,
                finalizer,
                "garbage collector: finalizer removed"
            );
        }
        Ok(done)
    }

    async fn patch(
        &self,
        node: &Node,
        patch: serde_json::Value,
        leadership: &Leadership,
    ) -> Result<bool> {
        leadership.check()?;
        let api = self.api_for(&node.kind, node.meta.namespace.as_deref());
        let r = bounded(api.patch_metadata(
            &node.meta.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        ))
        .await
        .map(|_| ());
        settled(r)
    }
}

async fn bounded<T>(f: impl std::future::Future<Output = kube::Result<T>>) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Timeout {
            what: "garbage collector request",
            after: REQUEST_TIMEOUT,
        }),
    }
}

/// A write's outcome: done (`true`, also when the object is already gone), to retry
/// (`false`: a precondition failed, the graph will catch up), or an error.
fn settled(r: Result<()>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(Error::Kube(kube::Error::Api(s))) if s.code == 404 => Ok(true),
        Err(Error::Kube(kube::Error::Api(s))) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}
