//! keelson's scheduler: binds pending pods to nodes, run by several replicas of which exactly
//! one acts.
//!
//! **Architecture invariant:** like the controller manager, this crate reaches the cluster
//! only through the API server with the `kube` crate; it does not link the store or the API
//! server (a tidy test checks it).
//!
//! Where to start:
//! - [`run`]: the watchers (pods, nodes, PersistentVolumeClaims, PersistentVolumes), which
//!   run on every replica so a standby's cache is warm; the Lease-based leader election
//!   (`kube-system/keelson-scheduler`, see `keelson_controllers::leader` for the timing
//!   argument); and the scheduling loop, which acts only while this replica leads.
//! - [`queue`]: which pending pod to try next, back-off and parking of unschedulable pods.
//! - [`nodeinfo`], [`plugins`], [`schedule`]: the per-node aggregates, the filters and
//!   scores, and one scheduling decision (pure; unit-tested).
//! - [`events`]: the `Scheduled` / `FailedScheduling` Events and the `PodScheduled`
//!   condition.
//!
//! # The scheduling loop
//! One task owns the cluster view and the queue; watch events and binding results reach it
//! through channels, so deciding needs no locks. A decision is written into the view at once
//! (the pod is *assumed* on its node), so the next decision sees the capacity as used while
//! the binding (`POST pods/<name>/binding`) is still in flight; up to
//! `--parallel-binds` bindings run at once. The pod watch confirms an assumed pod; a failed
//! binding forgets it and backs the pod off. Losing the Lease stops the loop's decisions and
//! cancels the bindings not yet sent.

pub mod events;
pub mod nodeinfo;
pub mod plugins;
pub mod queue;
pub mod resources;
pub mod schedule;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use keelson_controllers::{ElectionConfig, Leadership, leader};
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use events::{Record, Recorder};
use nodeinfo::ClusterState;
use queue::Queue;
use schedule::Algorithm;

/// Namespace of the scheduler's Lease.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// Name of the scheduler's Lease.
pub const LEASE_NAME: &str = "keelson-scheduler";
/// The scheduler name pods get by default; always served.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// Errors of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or a combination of flags is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Building the client or electing the leader failed.
    #[error(transparent)]
    Controllers(#[from] keelson_controllers::Error),
    /// A request to the API server failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Configuration of `keelson scheduler`.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// kubeconfig of the API server; default: `$KUBECONFIG`, `~/.kube/config` or the
    /// in-cluster service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    pub scheduling: SchedulingConfig,
    #[command(flatten)]
    pub election: ElectionConfig,
}

/// Scheduling flags (shared by `keelson scheduler` and `keelson server`).
#[derive(clap::Args, Clone, Debug)]
pub struct SchedulingConfig {
    /// Pods whose `spec.schedulerName` is this (or `default-scheduler`) are ours.
    #[arg(long, default_value = DEFAULT_SCHEDULER)]
    pub scheduler_name: String,
    /// Share of the nodes to find feasible before scoring (1-100); default adaptive, as
    /// kube-scheduler's `percentageOfNodesToScore` (50 % at 100 nodes down to 5 %).
    #[arg(long)]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Bindings in flight at once.
    #[arg(long, default_value_t = 64)]
    pub parallel_binds: usize,
}

impl Default for SchedulingConfig {
    fn default() -> Self {
        SchedulingConfig {
            scheduler_name: DEFAULT_SCHEDULER.into(),
            percentage_of_nodes_to_score: None,
            parallel_binds: 64,
        }
    }
}

impl Config {
    /// The configuration `keelson server` uses for its in-process scheduler.
    pub fn in_process(
        kubeconfig: PathBuf,
        scheduling: SchedulingConfig,
        election: ElectionConfig,
    ) -> Config {
        Config {
            kubeconfig: Some(kubeconfig),
            scheduling,
            election,
        }
    }
}

/// What the watchers tell the loop.
enum Msg {
    Pod(Box<Event<Pod>>),
    Node(Box<Event<Node>>),
    Pvc(Box<Event<PersistentVolumeClaim>>),
    Pv(Box<Event<PersistentVolume>>),
}

/// Run the scheduler until `shutdown` resolves (see the module docs).
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
    let timing = config.election.validate()?;
    if config.scheduling.parallel_binds == 0 {
        return Err(Error::Config("--parallel-binds must be at least 1".into()));
    }
    if let Some(p) = config.scheduling.percentage_of_nodes_to_score
        && !(1..=100).contains(&p)
    {
        return Err(Error::Config(
            "--percentage-of-nodes-to-score must be within 1-100".into(),
        ));
    }
    let identity = config.election.identity();
    let client = keelson_controllers::client(config.kubeconfig.as_deref()).await?;
    tracing::info!(%identity, lease = LEASE_NAME, "scheduler starting");

    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, rx) = mpsc::channel(8192);
    let mut watchers = JoinSet::new();
    watchers.spawn(forward(
        Api::<Pod>::all(client.clone()),
        tx.clone(),
        |e| Msg::Pod(Box::new(e)),
        stop_rx.clone(),
    ));
    watchers.spawn(forward(
        Api::<Node>::all(client.clone()),
        tx.clone(),
        |e| Msg::Node(Box::new(e)),
        stop_rx.clone(),
    ));
    watchers.spawn(forward(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        tx.clone(),
        |e| Msg::Pvc(Box::new(e)),
        stop_rx.clone(),
    ));
    watchers.spawn(forward(
        Api::<PersistentVolume>::all(client.clone()),
        tx,
        |e| Msg::Pv(Box::new(e)),
        stop_rx.clone(),
    ));
    let (leadership, elector) = leader::spawn(
        Api::namespaced(client.clone(), LEASE_NAMESPACE),
        LEASE_NAME.to_string(),
        identity.clone(),
        timing,
        stop_rx,
    );
    let (recorder, writer) = Recorder::start(
        client.clone(),
        config.scheduling.scheduler_name.clone(),
        identity,
        leadership.clone(),
    );
    let state = State::new(&config.scheduling, recorder);
    tokio::select! {
        _ = shutdown => {}
        () = state.run(client, rx, leadership, config.scheduling.parallel_binds) => {
            tracing::error!("scheduling loop ended");
        }
    }
    let _ = stop_tx.send(true);
    if let Err(e) = elector.await {
        tracing::warn!(error = %e, "leader election task failed");
    }
    watchers.shutdown().await;
    writer.abort();
    tracing::info!("scheduler stopped");
    Ok(())
}

/// Feed watch events of `api` to the loop until `stop` turns true (relists and backs off on
/// errors, as kube-runtime's watcher does).
async fn forward<K>(
    api: Api<K>,
    tx: mpsc::Sender<Msg>,
    wrap: fn(Event<K>) -> Msg,
    mut stop: watch::Receiver<bool>,
) where
    K: Resource
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let mut stream = std::pin::pin!(
        watcher::watcher(api, watcher::Config::default().page_size(1000)).default_backoff()
    );
    loop {
        tokio::select! {
            () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            next = stream.next() => match next {
                Some(Ok(ev)) => {
                    if tx.send(wrap(ev)).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => tracing::debug!(error = %e, "watch failed; retrying"),
                None => return,
            },
        }
    }
}

/// `namespace/name`.
fn key_of<K: Resource>(o: &K) -> String {
    let m = o.meta();
    format!(
        "{}/{}",
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default()
    )
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// The node-relevant part of a Node, to tell a heartbeat from a change that may make a
/// parked pod fit.
fn node_signature(n: &Node) -> serde_json::Value {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone());
    json!({
        "labels": n.metadata.labels,
        "spec": n.spec,
        "allocatable": n.status.as_ref().and_then(|s| s.allocatable.as_ref()),
        "ready": ready,
    })
}

/// The PVCs and PVs the volume filter reads.
#[derive(Default)]
struct VolumeCache {
    pvcs: HashMap<String, PersistentVolumeClaim>,
    pvs: HashMap<String, PersistentVolume>,
}

impl plugins::Volumes for VolumeCache {
    fn pvc(&self, ns: &str, name: &str) -> Option<&PersistentVolumeClaim> {
        self.pvcs.get(&format!("{ns}/{name}"))
    }
    fn pv(&self, name: &str) -> Option<&PersistentVolume> {
        self.pvs.get(name)
    }
}

/// A binding to send.
struct Bind {
    key: String,
    pod: Arc<Pod>,
    node: String,
}

/// The loop's state: the cluster view, the queue and what is in flight.
struct State {
    names: HashSet<String>,
    cluster: ClusterState,
    queue: Queue,
    algo: Algorithm,
    volumes: VolumeCache,
    /// Every pod seen, newest version.
    pods: HashMap<String, Arc<Pod>>,
    /// Pods counted on a node of `cluster`: key → node.
    placed: HashMap<String, String>,
    /// Pods assumed on a node whose binding is not confirmed by the watch yet.
    assumed: HashMap<String, String>,
    /// Last `PodScheduled=False` message written per pod, to write only changes.
    conditions: HashMap<String, String>,
    /// Objects of an ongoing relist, per kind.
    relist: HashMap<&'static str, HashSet<String>>,
    recorder: Recorder,
}

impl State {
    fn new(cfg: &SchedulingConfig, recorder: Recorder) -> State {
        let names = [cfg.scheduler_name.clone(), DEFAULT_SCHEDULER.to_string()]
            .into_iter()
            .collect();
        State {
            names,
            cluster: ClusterState::new(),
            queue: Queue::new(),
            algo: Algorithm::new(cfg.percentage_of_nodes_to_score),
            volumes: VolumeCache::default(),
            pods: HashMap::new(),
            placed: HashMap::new(),
            assumed: HashMap::new(),
            conditions: HashMap::new(),
            relist: HashMap::new(),
            recorder,
        }
    }

    async fn run(
        mut self,
        client: Client,
        mut rx: mpsc::Receiver<Msg>,
        mut leadership: Leadership,
        parallel: usize,
    ) {
        let mut binds: JoinSet<(Bind, Result<(), kube::Error>)> = JoinSet::new();
        let mut was_leading = false;
        loop {
            // Everything the watchers have delivered comes first: decisions are made on the
            // newest view.
            while let Ok(msg) = rx.try_recv() {
                self.apply(msg);
            }
            while let Some(done) = binds.try_join_next() {
                if let Ok((bind, res)) = done {
                    self.bound(bind, res);
                }
            }
            let now = Instant::now();
            self.queue.flush(now);
            let leading = leadership.is_leading();
            if leading != was_leading {
                tracing::info!(leading, "scheduler leadership changed");
                was_leading = leading;
            }
            if leading && binds.len() < parallel && self.queue.has_active() {
                if let Some(bind) = self.schedule_one(now) {
                    let client = client.clone();
                    let lead = leadership.clone();
                    binds.spawn(async move {
                        let res = send_binding(&client, &lead, &bind).await;
                        (bind, res)
                    });
                }
                tokio::task::yield_now().await;
                continue;
            }
            let wake = self.queue.next_wakeup();
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => self.apply(m),
                    None => return,
                },
                Some(done) = binds.join_next(), if !binds.is_empty() => match done {
                    Ok((bind, res)) => self.bound(bind, res),
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => tracing::error!(error = %e, "binding task failed"),
                },
                _ = sleep_until(wake) => {}
                () = flip(&mut leadership, leading) => {}
            }
            if !leadership.is_leading() && !binds.is_empty() {
                binds.abort_all();
                // Aborted bindings never reach `bound`: forget their assumptions now.
                while let Some(done) = binds.join_next().await {
                    if let Ok((bind, res)) = done {
                        self.bound(bind, res);
                    }
                }
                let lost: Vec<String> = self.assumed.keys().cloned().collect();
                for key in lost {
                    self.forget(&key);
                    if let Some(pod) = self.pods.get(&key).cloned()
                        && pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.node_name.as_ref())
                            .is_none()
                    {
                        self.queue.upsert(&key, pod, Instant::now());
                    }
                }
            }
        }
    }

    fn responsible(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(DEFAULT_SCHEDULER);
        self.names.contains(name)
    }

    fn apply(&mut self, msg: Msg) {
        let now = Instant::now();
        match msg {
            Msg::Pod(ev) => match *ev {
                Event::Init => {
                    self.relist.insert("pod", HashSet::new());
                }
                Event::InitApply(p) => {
                    if let Some(seen) = self.relist.get_mut("pod") {
                        seen.insert(key_of(&p));
                    }
                    self.pod_changed(Arc::new(p), now);
                }
                Event::InitDone => {
                    let seen = self.relist.remove("pod").unwrap_or_default();
                    let gone: Vec<String> = self
                        .pods
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for k in gone {
                        self.pod_deleted(&k, now);
                    }
                }
                Event::Apply(p) => self.pod_changed(Arc::new(p), now),
                Event::Delete(p) => self.pod_deleted(&key_of(&p), now),
            },
            Msg::Node(ev) => match *ev {
                Event::Init => {
                    self.relist.insert("node", HashSet::new());
                }
                Event::InitApply(n) => {
                    if let Some(seen) = self.relist.get_mut("node") {
                        seen.insert(n.name_any());
                    }
                    self.node_changed(n, now);
                }
                Event::InitDone => {
                    let seen = self.relist.remove("node").unwrap_or_default();
                    let gone: Vec<String> = self
                        .cluster
                        .iter()
                        .map(|n| n.name())
                        .filter(|n| !seen.contains(*n))
                        .map(str::to_string)
                        .collect();
                    for n in gone {
                        self.cluster.remove_node(&n);
                    }
                }
                Event::Apply(n) => self.node_changed(n, now),
                Event::Delete(n) => {
                    self.cluster.remove_node(&n.name_any());
                }
            },
            Msg::Pvc(ev) => {
                let changed =
                    apply_simple(&mut self.volumes.pvcs, "pvc", &mut self.relist, *ev, key_of);
                if changed {
                    self.queue.move_all(now);
                }
            }
            Msg::Pv(ev) => {
                let changed = apply_simple(
                    &mut self.volumes.pvs,
                    "pv",
                    &mut self.relist,
                    *ev,
                    |p: &PersistentVolume| p.name_any(),
                );
                if changed {
                    self.queue.move_all(now);
                }
            }
        }
    }

    fn node_changed(&mut self, node: Node, now: Instant) {
        let name = node.name_any();
        let changed = self
            .cluster
            .get(&name)
            .is_none_or(|old| node_signature(old.node()) != node_signature(&node));
        self.cluster.upsert_node(Arc::new(node));
        if changed {
            self.queue.move_all(now);
        }
    }

    fn place(&mut self, key: &str, node: &str, pod: Arc<Pod>) {
        if let Some(old) = self.placed.get(key) {
            let old = old.clone();
            self.cluster.remove_pod(&old, key);
        }
        self.cluster.add_pod(node, pod);
        self.placed.insert(key.to_string(), node.to_string());
    }

    /// Take `key` off its node; true if it was counted somewhere.
    fn unplace(&mut self, key: &str) -> bool {
        match self.placed.remove(key) {
            Some(node) => {
                self.cluster.remove_pod(&node, key);
                true
            }
            None => false,
        }
    }

    fn forget(&mut self, key: &str) {
        if self.assumed.remove(key).is_some() {
            self.unplace(key);
        }
    }

    fn pod_changed(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = key_of(pod.as_ref());
        self.pods.insert(key.clone(), pod.clone());
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        match node {
            Some(node) => {
                self.queue.remove(&key);
                self.conditions.remove(&key);
                self.assumed.remove(&key);
                if is_terminal(&pod) {
                    if self.unplace(&key) {
                        self.queue.move_all(now);
                    }
                } else {
                    self.place(&key, &node, pod);
                }
            }
            None => {
                if self.assumed.contains_key(&key) {
                    // A version from before our binding; the binding's answer decides.
                    return;
                }
                if is_terminal(&pod)
                    || pod.metadata.deletion_timestamp.is_some()
                    || !self.responsible(&pod)
                {
                    self.queue.remove(&key);
                } else {
                    self.queue.upsert(&key, pod, now);
                }
            }
        }
    }

    fn pod_deleted(&mut self, key: &str, now: Instant) {
        self.pods.remove(key);
        self.queue.remove(key);
        self.conditions.remove(key);
        self.assumed.remove(key);
        if self.unplace(key) {
            self.queue.move_all(now);
        }
    }

    /// Decide for the next pod of the queue; a binding to send if a node fits.
    fn schedule_one(&mut self, now: Instant) -> Option<Bind> {
        let popped = self.queue.pop()?;
        match self
            .algo
            .schedule(&popped.pod, &self.cluster, &self.volumes)
        {
            Ok(result) => {
                let mut assumed = (*popped.pod).clone();
                if let Some(spec) = assumed.spec.as_mut() {
                    spec.node_name = Some(result.node.clone());
                }
                self.queue.remove(&popped.key);
                self.place(&popped.key, &result.node, Arc::new(assumed));
                self.assumed.insert(popped.key.clone(), result.node.clone());
                Some(Bind {
                    key: popped.key,
                    pod: popped.pod,
                    node: result.node,
                })
            }
            Err(fit) => {
                let message = fit.to_string();
                tracing::debug!(pod = %popped.key, %message, "unschedulable");
                self.queue.unschedulable_now(&popped.key, now);
                self.recorder.record(Record::Event {
                    pod: popped.pod.clone(),
                    kind: "Warning",
                    reason: "FailedScheduling",
                    message: message.clone(),
                });
                if self.conditions.get(&popped.key) != Some(&message) {
                    self.conditions.insert(popped.key.clone(), message.clone());
                    self.recorder.record(Record::Unschedulable {
                        pod: popped.pod,
                        message,
                    });
                }
                None
            }
        }
    }

    /// A binding's answer.
    fn bound(&mut self, bind: Bind, res: Result<(), kube::Error>) {
        match res {
            Ok(()) => {
                let ns = bind.pod.namespace().unwrap_or_default();
                self.recorder.record(Record::Event {
                    message: format!(
                        "Successfully assigned {ns}/{} to {}",
                        bind.pod.name_any(),
                        bind.node
                    ),
                    pod: bind.pod,
                    kind: "Normal",
                    reason: "Scheduled",
                });
            }
            Err(e) => {
                tracing::info!(pod = %bind.key, node = %bind.node, error = %e, "binding failed");
                if self.assumed.get(&bind.key) == Some(&bind.node) {
                    self.forget(&bind.key);
                }
                let gone = matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409);
                if let Some(pod) = self.pods.get(&bind.key).cloned()
                    && pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.node_name.as_ref())
                        .is_none()
                    && !gone
                    && pod.metadata.deletion_timestamp.is_none()
                {
                    self.queue.retry(&bind.key, pod, Instant::now());
                    self.recorder.record(Record::Event {
                        pod: bind.pod,
                        kind: "Warning",
                        reason: "FailedScheduling",
                        message: format!("Binding rejected: {e}"),
                    });
                }
            }
        }
    }
}

/// Apply a watch event to a plain map; true if something changed.
fn apply_simple<K: Clone>(
    map: &mut HashMap<String, K>,
    kind: &'static str,
    relist: &mut HashMap<&'static str, HashSet<String>>,
    ev: Event<K>,
    key: impl Fn(&K) -> String,
) -> bool {
    match ev {
        Event::Init => {
            relist.insert(kind, HashSet::new());
            false
        }
        Event::InitApply(o) => {
            let k = key(&o);
            if let Some(seen) = relist.get_mut(kind) {
                seen.insert(k.clone());
            }
            map.insert(k, o);
            true
        }
        Event::InitDone => {
            let seen = relist.remove(kind).unwrap_or_default();
            let before = map.len();
            map.retain(|k, _| seen.contains(k));
            before != map.len()
        }
        Event::Apply(o) => {
            map.insert(key(&o), o);
            true
        }
        Event::Delete(o) => map.remove(&key(&o)).is_some(),
    }
}

/// Resolves when leadership changes from `leading`.
async fn flip(leadership: &mut Leadership, leading: bool) {
    if leading {
        leadership.lost().await
    } else {
        leadership.acquired().await
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// `POST pods/<name>/binding`, if this replica still leads.
async fn send_binding(
    client: &Client,
    leadership: &Leadership,
    bind: &Bind,
) -> Result<(), kube::Error> {
    if leadership.check().is_err() {
        return Err(kube::Error::Service(
            "not leading: binding suppressed".into(),
        ));
    }
    let ns = bind.pod.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let body = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {
            "name": bind.pod.name_any(),
            "namespace": ns,
            "uid": bind.pod.metadata.uid,
        },
        "target": {"apiVersion": "v1", "kind": "Node", "name": bind.node},
    });
    let (name, pp) = (bind.pod.name_any(), PostParams::default());
    let fut = api.create_subresource::<_, serde_json::Value>("binding", &name, &pp, &body);
    match tokio::time::timeout(Duration::from_secs(10), fut).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(kube::Error::Service("binding timed out after 10s".into())),
    }
}
