//! The workload controllers: ReplicaSet, ReplicationController, Deployment, StatefulSet,
//! DaemonSet, Job and CronJob, as kube-controller-manager's.
//!
//! - [`podutil`], [`replicaset`], [`deployment`], [`statefulset`], [`daemonset`],
//!   [`history`] (ControllerRevisions), [`job`], [`cronjob`]: the pure plans (what to create, delete,
//!   scale and write as status for one object, given the caches' view and the time), unit
//!   tested without an API server.
//! - this module: the runtime. Informers for pods, ReplicaSets, ReplicationControllers and
//!   Deployments run on every replica (warm standbys). Each change becomes work-queue keys:
//!   a pod → its controller (or, for an orphan, every ReplicaSet/RC of its namespace whose
//!   selector matches, for adoption) and that controller's Deployment; a ReplicaSet → itself
//!   and its Deployment. Workers (only while this replica leads) plan and carry the plan out,
//!   checking [`Leadership`] before each write.
//!
//! # Never twice
//! After asking for `n` pod creations or deletions a ReplicaSet waits until its informer has
//! seen them ([`Expectations`]) before it counts pods again, so a lagging watch never makes it
//! create or delete twice. Deletions carry a uid precondition; ownerReference patches carry
//! the pod's uid (a recreated pod of the same name is not touched); ReplicaSet updates carry
//! their resourceVersion, so a stale plan fails with a conflict and is planned again.

mod batch;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
mod disruption_run;
pub mod history;
pub mod job;
pub mod podutil;
pub mod replicaset;
mod sets;
pub mod statefulset;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::watch;

use crate::expectations::Expectations;
use crate::informer::{Change, Informer};
use crate::recorder::Recorder;
use crate::workqueue::WorkQueue;
use crate::{Error, Leadership, Result};

/// Objects reconciled at once.
const WORKERS: usize = 5;
/// Bound on one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Every object is planned again this often even without a change (a lost event heals).
const RESYNC: Duration = Duration::from_secs(300);

/// A work-queue key: which object to plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A ReplicaSet (namespace, name).
    ReplicaSet(String, String),
    /// A ReplicationController (namespace, name).
    ReplicationController(String, String),
    /// A Deployment (namespace, name).
    Deployment(String, String),
    /// A Job (namespace, name).
    Job(String, String),
    /// A CronJob (namespace, name).
    CronJob(String, String),
    /// A StatefulSet (namespace, name).
    StatefulSet(String, String),
    /// A DaemonSet (namespace, name).
    DaemonSet(String, String),
    /// A PodDisruptionBudget (namespace, name): its status.
    Pdb(String, String),
}

/// The caches and the queue; [`Workloads::run_workers`] acts.
pub struct Workloads {
    client: Client,
    pods: Arc<Informer<Pod>>,
    rss: Arc<Informer<ReplicaSet>>,
    rcs: Arc<Informer<ReplicationController>>,
    deployments: Arc<Informer<Deployment>>,
    jobs: Arc<Informer<Job>>,
    cronjobs: Arc<Informer<CronJob>>,
    statefulsets: Arc<Informer<StatefulSet>>,
    daemonsets: Arc<Informer<DaemonSet>>,
    revisions: Arc<Informer<ControllerRevision>>,
    pvcs: Arc<Informer<PersistentVolumeClaim>>,
    nodes: Arc<Informer<Node>>,
    pdbs: Arc<Informer<PodDisruptionBudget>>,
    /// Failed-pod back-off of the DaemonSet controller (per node and DaemonSet).
    ds_backoff: std::sync::Mutex<daemonset::FailedPodBackoff>,
    queue: Arc<WorkQueue<Key>>,
    expectations: Arc<Expectations<Key>>,
}

fn owner_key(ns: &str, r: &OwnerReference) -> Option<Key> {
    let (ns, name) = (ns.to_string(), r.name.clone());
    match (r.api_version.as_str(), r.kind.as_str()) {
        ("apps/v1", "ReplicaSet") => Some(Key::ReplicaSet(ns, name)),
        ("v1", "ReplicationController") => Some(Key::ReplicationController(ns, name)),
        ("apps/v1", "Deployment") => Some(Key::Deployment(ns, name)),
        ("batch/v1", "Job") => Some(Key::Job(ns, name)),
        ("batch/v1", "CronJob") => Some(Key::CronJob(ns, name)),
        ("apps/v1", "StatefulSet") => Some(Key::StatefulSet(ns, name)),
        ("apps/v1", "DaemonSet") => Some(Key::DaemonSet(ns, name)),
        _ => None,
    }
}

fn controller_of<K: Resource>(o: &K) -> Option<&OwnerReference> {
    podutil::controller_ref(o.meta())
}

fn ns_of<K: Resource>(o: &K) -> String {
    o.meta().namespace.clone().unwrap_or_default()
}

pub(crate) async fn timeout<T>(
    what: &'static str,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Timeout {
            what,
            after: REQUEST_TIMEOUT,
        }),
    }
}

/// A JSON merge patch that makes `status` exactly `new`: fields set in `old` but absent
/// from `new` (zero counts are left out, as Go's `omitempty`) are set to null, else the
/// merge would keep their old values.
fn status_patch<S: k8s_openapi::serde::Serialize>(old: Option<&S>, new: &S) -> serde_json::Value {
    let mut new = serde_json::to_value(new).unwrap_or_default();
    if let (Some(old), Some(n)) = (
        old.and_then(|o| serde_json::to_value(o).ok()),
        new.as_object_mut(),
    ) && let Some(o) = old.as_object()
    {
        for k in o.keys() {
            n.entry(k.clone()).or_insert(serde_json::Value::Null);
        }
    }
    json!({ "status": new })
}

pub(crate) fn is_status(e: &Error, code: u16) -> bool {
    matches!(e, Error::Kube(kube::Error::Api(s)) if s.code == code)
}

impl Workloads {
    /// Start the informers it does not share (ReplicaSets, RCs, Deployments) and the routing
    /// of changes (until `stop` turns true); `pods` is shared and run by the caller.
    pub fn start(
        client: Client,
        pods: &Arc<Informer<Pod>>,
        nodes: &Arc<Informer<Node>>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Workloads> {
        let mut prx = pods.subscribe();
        let mut nrx = nodes.subscribe();
        let statefulsets = Informer::new();
        let mut ssrx = statefulsets.subscribe();
        statefulsets.run(Api::all(client.clone()), stop.clone());
        let daemonsets = Informer::new();
        let mut dsrx = daemonsets.subscribe();
        daemonsets.run(Api::all(client.clone()), stop.clone());
        let revisions = Informer::new();
        let mut revrx = revisions.subscribe();
        revisions.run(Api::all(client.clone()), stop.clone());
        let pvcs = Informer::new();
        let mut pvcrx = pvcs.subscribe();
        pvcs.run(Api::all(client.clone()), stop.clone());
        let pdbs = Informer::new();
        let mut pdbrx = pdbs.subscribe();
        pdbs.run(Api::all(client.clone()), stop.clone());
        let rss = Informer::new();
        let mut rrx = rss.subscribe();
        rss.run(Api::all(client.clone()), stop.clone());
        let rcs = Informer::new();
        let mut crx = rcs.subscribe();
        rcs.run(Api::all(client.clone()), stop.clone());
        let deployments = Informer::new();
        let mut drx = deployments.subscribe();
        deployments.run(Api::all(client.clone()), stop.clone());
        let jobs = Informer::new();
        let mut jrx = jobs.subscribe();
        jobs.run(Api::all(client.clone()), stop.clone());
        let cronjobs = Informer::new();
        let mut cjrx = cronjobs.subscribe();
        cronjobs.run(Api::all(client.clone()), stop.clone());
        let w = Arc::new(Workloads {
            pods: pods.clone(),
            rss,
            rcs,
            deployments,
            jobs,
            cronjobs,
            statefulsets,
            daemonsets,
            revisions,
            pvcs,
            nodes: nodes.clone(),
            pdbs,
            ds_backoff: std::sync::Mutex::default(),
            client,
            queue: WorkQueue::new(),
            expectations: Arc::default(),
        });
        let this = w.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(c) = prx.recv() => this.pod_changed(c),
                    Some(c) = rrx.recv() => this.rs_changed(c),
                    Some(c) = crx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::ReplicationController(ns_of(o.as_ref()), o.name_any()));
                        }
                        if c.new.is_none() && let Some(o) = &c.old {
                            this.expectations.remove(&Key::ReplicationController(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = drx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::Deployment(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = jrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            let ns = ns_of(o.as_ref());
                            this.queue.add(Key::Job(ns.clone(), o.name_any()));
                            if let Some(k) = controller_of(o.as_ref()).and_then(|r| owner_key(&ns, r)) {
                                this.queue.add(k);
                            }
                        }
                        if c.new.is_none() && let Some(o) = &c.old {
                            this.expectations.remove(&Key::Job(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = cjrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::CronJob(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = ssrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::StatefulSet(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = dsrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::DaemonSet(ns_of(o.as_ref()), o.name_any()));
                        }
                        if c.new.is_none() && let Some(o) = &c.old {
                            this.expectations.remove(&Key::DaemonSet(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = revrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            let ns = ns_of(o.as_ref());
                            if let Some(k) = controller_of(o.as_ref()).and_then(|r| owner_key(&ns, r)) {
                                this.queue.add(k);
                            }
                        }
                    }
                    Some(c) = pvcrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            let ns = ns_of(o.as_ref());
                            for r in o.metadata.owner_references.iter().flatten() {
                                if let Some(k) = owner_key(&ns, r) {
                                    this.queue.add(k);
                                }
                            }
                        }
                    }
                    Some(c) = pdbrx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::Pdb(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = nrx.recv() => {
                        // A node added, gone, or whose labels, taints or schedulability
                        // changed: every DaemonSet looks again (heartbeats do not count).
                        let relevant = match (&c.old, &c.new) {
                            (Some(o), Some(n)) => {
                                o.metadata.labels != n.metadata.labels || o.spec != n.spec
                            }
                            _ => true,
                        };
                        if relevant {
                            for ds in this.daemonsets.all() {
                                this.queue.add(Key::DaemonSet(ns_of(ds.as_ref()), ds.name_any()));
                            }
                        }
                    }
                    else => return,
                }
            }
        });
        w
    }

    /// The Deployment that controls ReplicaSet `ns/name`, if cached.
    fn deployment_of_rs(&self, ns: &str, name: &str) -> Option<Key> {
        let rs = self.rss.get(ns, name)?;
        controller_of(rs.as_ref()).and_then(|r| owner_key(ns, r))
    }

    fn pod_changed(&self, c: Change<Pod>) {
        let ns = c
            .new
            .as_ref()
            .or(c.old.as_ref())
            .map(|p| ns_of(p.as_ref()))
            .unwrap_or_default();
        // Expectations: a creation seen, or a deletion (or the start of one) seen.
        let new_ctrl = c
            .new
            .as_ref()
            .and_then(|p| controller_of(p.as_ref()).cloned());
        let old_ctrl = c
            .old
            .as_ref()
            .and_then(|p| controller_of(p.as_ref()).cloned());
        if c.old.is_none()
            && let Some(k) = new_ctrl.as_ref().and_then(|r| owner_key(&ns, r))
        {
            self.expectations.created(&k);
        }
        let deleting = match (&c.old, &c.new) {
            (Some(_), None) => true,
            (Some(o), Some(n)) => {
                o.metadata.deletion_timestamp.is_none() && n.metadata.deletion_timestamp.is_some()
            }
            _ => false,
        };
        if deleting && let Some(k) = old_ctrl.as_ref().and_then(|r| owner_key(&ns, r)) {
            self.expectations.deleted(&k);
        }
        let mut keys = Vec::new();
        for r in [&old_ctrl, &new_ctrl].into_iter().flatten() {
            if let Some(k) = owner_key(&ns, r) {
                if let Key::ReplicaSet(_, n) = &k
                    && let Some(d) = self.deployment_of_rs(&ns, n)
                {
                    keys.push(d);
                }
                keys.push(k);
            }
        }
        // Budgets selecting the pod before or after the change count it.
        for pdb in self.pdbs.list(&ns) {
            let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
            let hit = sel.is_some_and(|s| {
                [&c.old, &c.new].into_iter().flatten().any(|p| {
                    podutil::label_selector_matches(s, p.metadata.labels.as_ref()).unwrap_or(false)
                })
            });
            if hit {
                keys.push(Key::Pdb(ns.clone(), pdb.name_any()));
            }
        }
        // An orphan may be adopted by any matching controller of its namespace.
        if new_ctrl.is_none()
            && let Some(p) = &c.new
            && p.metadata.deletion_timestamp.is_none()
        {
            let labels = p.metadata.labels.as_ref();
            for rs in self.rss.list(&ns) {
                let sel = rs.spec.as_ref().map(|s| &s.selector);
                if sel.is_some_and(|s| podutil::label_selector_matches(s, labels).unwrap_or(false))
                {
                    keys.push(Key::ReplicaSet(ns.clone(), rs.name_any()));
                }
            }
            for set in self.statefulsets.list(&ns) {
                let sel = set.spec.as_ref().map(|s| &s.selector);
                if sel.is_some_and(|s| podutil::label_selector_matches(s, labels).unwrap_or(false))
                {
                    keys.push(Key::StatefulSet(ns.clone(), set.name_any()));
                }
            }
            for ds in self.daemonsets.list(&ns) {
                let sel = ds.spec.as_ref().map(|s| &s.selector);
                if sel.is_some_and(|s| podutil::label_selector_matches(s, labels).unwrap_or(false))
                {
                    keys.push(Key::DaemonSet(ns.clone(), ds.name_any()));
                }
            }
            for rc in self.rcs.list(&ns) {
                let sel = rc.spec.as_ref().and_then(|s| s.selector.as_ref());
                if sel.is_some_and(|s| !s.is_empty() && podutil::map_selector_matches(s, labels)) {
                    keys.push(Key::ReplicationController(ns.clone(), rc.name_any()));
                }
            }
        }
        for k in keys {
            self.queue.add(k);
        }
    }

    fn rs_changed(&self, c: Change<ReplicaSet>) {
        for rs in [&c.old, &c.new].into_iter().flatten() {
            let ns = ns_of(rs.as_ref());
            self.queue.add(Key::ReplicaSet(ns.clone(), rs.name_any()));
            match controller_of(rs.as_ref()).and_then(|r| owner_key(&ns, r)) {
                Some(k) => self.queue.add(k),
                None => {
                    let labels = rs.metadata.labels.as_ref();
                    for d in self.deployments.list(&ns) {
                        let sel = d.spec.as_ref().map(|s| &s.selector);
                        if sel.is_some_and(|s| {
                            podutil::label_selector_matches(s, labels).unwrap_or(false)
                        }) {
                            self.queue.add(Key::Deployment(ns.clone(), d.name_any()));
                        }
                    }
                }
            }
        }
        if c.new.is_none()
            && let Some(o) = &c.old
        {
            self.expectations
                .remove(&Key::ReplicaSet(ns_of(o.as_ref()), o.name_any()));
        }
    }

    /// Reconcile until the future is dropped. Waits for the informers' first lists, queues
    /// every object (a previous leader may have stopped half-way), then follows changes.
    pub async fn run_workers(self: &Arc<Self>, leadership: Leadership) {
        self.pods.synced().await;
        self.rss.synced().await;
        self.rcs.synced().await;
        self.deployments.synced().await;
        self.jobs.synced().await;
        self.cronjobs.synced().await;
        self.statefulsets.synced().await;
        self.daemonsets.synced().await;
        self.revisions.synced().await;
        self.pvcs.synced().await;
        self.nodes.synced().await;
        self.pdbs.synced().await;
        let resync = {
            let this = self.clone();
            tokio::spawn(async move {
                loop {
                    this.queue_everything();
                    tokio::time::sleep(RESYNC).await;
                }
            })
        };
        let recorders = (
            Recorder::new(
                self.client.clone(),
                "replicaset-controller",
                leadership.clone(),
            ),
            Recorder::new(
                self.client.clone(),
                "replication-controller",
                leadership.clone(),
            ),
            Recorder::new(
                self.client.clone(),
                "deployment-controller",
                leadership.clone(),
            ),
            Recorder::new(self.client.clone(), "job-controller", leadership.clone()),
            Recorder::new(
                self.client.clone(),
                "cronjob-controller",
                leadership.clone(),
            ),
            Recorder::new(
                self.client.clone(),
                "statefulset-controller",
                leadership.clone(),
            ),
            Recorder::new(
                self.client.clone(),
                "daemonset-controller",
                leadership.clone(),
            ),
            Recorder::new(
                self.client.clone(),
                "disruption-controller",
                leadership.clone(),
            ),
        );
        let this = self.clone();
        futures::stream::unfold(this.clone(), |s| async move {
            let k = s.queue.get().await;
            Some((k, s))
        })
        .for_each_concurrent(WORKERS, |key| {
            let this = this.clone();
            let l = leadership.clone();
            let rec = recorders.clone();
            async move {
                let res = match &key {
                    Key::ReplicaSet(ns, n) => this.sync_rs(ns, n, &l, &rec.0).await,
                    Key::ReplicationController(ns, n) => this.sync_rc(ns, n, &l, &rec.1).await,
                    Key::Deployment(ns, n) => this.sync_deployment(ns, n, &l, &rec.2).await,
                    Key::Job(ns, n) => this.sync_job(ns, n, &l, &rec.3).await,
                    Key::CronJob(ns, n) => this.sync_cronjob(ns, n, &l, &rec.4).await,
                    Key::StatefulSet(ns, n) => this.sync_statefulset(ns, n, &l, &rec.5).await,
                    Key::DaemonSet(ns, n) => this.sync_daemonset(ns, n, &l, &rec.6).await,
                    Key::Pdb(ns, n) => this.sync_pdb(ns, n, &l, &rec.7).await,
                };
                match res {
                    Ok(requeue) => {
                        this.queue.forget(&key);
                        if let Some(after) = requeue {
                            this.queue.add_after(key.clone(), after);
                        }
                    }
                    Err(Error::NotLeading) => {}
                    Err(e) => {
                        if is_status(&e, 409) {
                            tracing::debug!(?key, error = %e, "conflict; planning again");
                        } else {
                            tracing::info!(?key, error = %e, "sync failed; retrying");
                        }
                        this.queue.add_rate_limited(key.clone());
                    }
                }
                this.queue.done(&key);
            }
        })
        .await;
        resync.abort();
    }

    fn queue_everything(&self) {
        for rs in self.rss.all() {
            self.queue
                .add(Key::ReplicaSet(ns_of(rs.as_ref()), rs.name_any()));
        }
        for rc in self.rcs.all() {
            self.queue.add(Key::ReplicationController(
                ns_of(rc.as_ref()),
                rc.name_any(),
            ));
        }
        for d in self.deployments.all() {
            self.queue
                .add(Key::Deployment(ns_of(d.as_ref()), d.name_any()));
        }
        for j in self.jobs.all() {
            self.queue.add(Key::Job(ns_of(j.as_ref()), j.name_any()));
        }
        for c in self.cronjobs.all() {
            self.queue
                .add(Key::CronJob(ns_of(c.as_ref()), c.name_any()));
        }
        for s in self.statefulsets.all() {
            self.queue
                .add(Key::StatefulSet(ns_of(s.as_ref()), s.name_any()));
        }
        for d in self.daemonsets.all() {
            self.queue
                .add(Key::DaemonSet(ns_of(d.as_ref()), d.name_any()));
        }
        for p in self.pdbs.all() {
            self.queue.add(Key::Pdb(ns_of(p.as_ref()), p.name_any()));
        }
    }

    fn pods_of(&self, ns: &str) -> Vec<Pod> {
        self.pods.list(ns).iter().map(|p| (**p).clone()).collect()
    }

    /// Add (or with `release`, remove) `owner` as the controller of `kind` object `name`,
    /// which must still have `uid`.
    async fn set_controller<K>(
        &self,
        api: &Api<K>,
        name: &str,
        uid: Option<String>,
        owner: &OwnerReference,
        release: bool,
    ) -> Result<()>
    where
        K: Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let reference = if release {
            json!({"$patch": "delete", "uid": owner.uid})
        } else {
            serde_json::to_value(owner).unwrap_or_default()
        };
        let patch = json!({"metadata": {"ownerReferences": [reference], "uid": uid}});
        match timeout(
            "ownerReference patch",
            api.patch(name, &PatchParams::default(), &Patch::Strategic(patch)),
        )
        .await
        {
            Ok(_) => Ok(()),
            // Gone, or a different object now: nothing to adopt or release.
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Write `new` as the status of `name` through `/status` (a merge patch with explicit
    /// nulls, see [`status_patch`]); an object deleted meanwhile is not an error.
    pub(super) async fn write_status<K, S>(
        &self,
        ns: &str,
        name: &str,
        old: Option<&S>,
        new: &S,
    ) -> Result<()>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + k8s_openapi::serde::de::DeserializeOwned
            + std::fmt::Debug,
        S: k8s_openapi::serde::Serialize,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        let patch = Patch::Merge(status_patch(old, new));
        match timeout(
            "status update",
            api.patch_status(name, &PatchParams::default(), &patch),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Create `pods` under expectations for `key`, in slow-start batches (1, 2, 4, ...) as
    /// upstream, so a create that keeps failing fails once, not hundreds of times. Records
    /// `SuccessfulCreate` / `FailedCreate` on `owner`; the first failure ends the run and is
    /// returned with how many pods were not created (those are taken off the expectations:
    /// the informer will never see them).
    pub(super) async fn create_pods_slow_start<O>(
        &self,
        api: &Api<Pod>,
        pods: &[Pod],
        key: &Key,
        owner: &O,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<(usize, Error)>>
    where
        O: Resource<DynamicType = ()>,
    {
        if pods.is_empty() {
            return Ok(None);
        }
        self.expectations.expect(key, pods.len() as i64, 0);
        let pp = PostParams::default();
        let mut batch = 1usize;
        let mut i = 0usize;
        while i < pods.len() {
            let end = (i + batch).min(pods.len());
            leadership.check()?;
            let results = futures::future::join_all(
                pods[i..end]
                    .iter()
                    .map(|p| timeout("pod create", api.create(&pp, p))),
            )
            .await;
            let mut failed = None;
            let mut not_created = 0usize;
            for r in results {
                match r {
                    Ok(p) => recorder.record(
                        owner,
                        "Normal",
                        "SuccessfulCreate",
                        format!("Created pod: {}", p.name_any()),
                    ),
                    Err(e) => {
                        self.expectations.created(key);
                        not_created += 1;
                        failed = Some(e);
                    }
                }
            }
            i = end;
            if let Some(e) = failed {
                for _ in i..pods.len() {
                    self.expectations.created(key);
                    not_created += 1;
                }
                recorder.record(
                    owner,
                    "Warning",
                    "FailedCreate",
                    format!("Error creating: {e}"),
                );
                return Ok(Some((not_created, e)));
            }
            batch *= 2;
        }
        Ok(None)
    }

    /// Adopt, release, create, delete for one ReplicaSet or RC; the error message of a failed
    /// create or delete, if any.
    #[allow(clippy::too_many_arguments)]
    async fn manage_pods<O>(
        &self,
        owner: &O,
        key: &Key,
        owner_ref: &OwnerReference,
        adopt: &[String],
        release: &[String],
        create: i32,
        delete: &[String],
        new_pod: impl Fn() -> Result<Pod>,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<(bool, String)>>
    where
        O: Resource<DynamicType = ()>,
    {
        let ns = ns_of(owner);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        for (names, release) in [(adopt, false), (release, true)] {
            for name in names {
                leadership.check()?;
                let uid = self
                    .pods
                    .get(&ns, name)
                    .and_then(|p| p.metadata.uid.clone());
                self.set_controller(&pods, name, uid, owner_ref, release)
                    .await?;
            }
        }
        if !self.expectations.satisfied(key) {
            return Ok(None);
        }
        if create > 0 {
            let pod = new_pod()?;
            let pods_to_create = vec![pod; usize::try_from(create).unwrap_or(0)];
            if let Some(e) = self
                .create_pods_slow_start(&pods, &pods_to_create, key, owner, leadership, recorder)
                .await?
            {
                return Ok(Some((true, e.1.to_string())));
            }
        }
        if !delete.is_empty() {
            self.expectations.expect(key, 0, delete.len() as i64);
            for name in delete {
                leadership.check()?;
                let uid = self
                    .pods
                    .get(&ns, name)
                    .and_then(|p| p.metadata.uid.clone());
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid,
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match timeout("pod delete", pods.delete(name, &dp)).await {
                    Ok(_) => recorder.record(
                        owner,
                        "Normal",
                        "SuccessfulDelete",
                        format!("Deleted pod: {name}"),
                    ),
                    Err(e) if is_status(&e, 404) || is_status(&e, 409) => {
                        self.expectations.deleted(key);
                    }
                    Err(e) => {
                        self.expectations.deleted(key);
                        let msg = e.to_string();
                        recorder.record(
                            owner,
                            "Warning",
                            "FailedDelete",
                            format!("Error deleting: {msg}"),
                        );
                        return Ok(Some((false, msg)));
                    }
                }
            }
        }
        Ok(None)
    }

    async fn sync_rs(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let key = Key::ReplicaSet(ns.into(), name.into());
        let Some(rs) = self.rss.get(ns, name) else {
            self.expectations.remove(&key);
            return Ok(None);
        };
        let was_satisfied = self.expectations.satisfied(&key);
        let plan = replicaset::plan_replicaset(&rs, &self.pods_of(ns), Timestamp::now())?;
        let owner_ref = replicaset::replicaset_controller_ref(&rs);
        let failure = self
            .manage_pods(
                rs.as_ref(),
                &key,
                &owner_ref,
                &plan.adopt,
                &plan.release,
                plan.create,
                &plan.delete,
                || replicaset::new_pod_for_replicaset(&rs),
                leadership,
                recorder,
            )
            .await?;
        let (status, changed) = match failure {
            Some((create, msg)) => (
                replicaset::with_failure(
                    plan.status.clone(),
                    rs.status.as_ref(),
                    if create {
                        replicaset::ReplicaFailureReason::FailedCreate
                    } else {
                        replicaset::ReplicaFailureReason::FailedDelete
                    },
                    &msg,
                    Timestamp::now(),
                ),
                true,
            ),
            None => (plan.status.clone(), plan.status_changed),
        };
        if changed && was_satisfied {
            leadership.check()?;
            self.write_status::<ReplicaSet, _>(ns, name, rs.status.as_ref(), &status)
                .await?;
        }
        Ok(plan.requeue_after)
    }

    async fn sync_rc(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let key = Key::ReplicationController(ns.into(), name.into());
        let Some(rc) = self.rcs.get(ns, name) else {
            self.expectations.remove(&key);
            return Ok(None);
        };
        let was_satisfied = self.expectations.satisfied(&key);
        let plan =
            replicaset::plan_replication_controller(&rc, &self.pods_of(ns), Timestamp::now())?;
        let owner_ref = replicaset::rc_controller_ref(&rc);
        let failure = self
            .manage_pods(
                rc.as_ref(),
                &key,
                &owner_ref,
                &plan.adopt,
                &plan.release,
                plan.create,
                &plan.delete,
                || replicaset::new_pod_for_replication_controller(&rc),
                leadership,
                recorder,
            )
            .await?;
        let (status, changed) = match failure {
            Some((create, msg)) => (
                replicaset::rc_with_failure(
                    plan.status.clone(),
                    rc.status.as_ref(),
                    if create {
                        replicaset::ReplicaFailureReason::FailedCreate
                    } else {
                        replicaset::ReplicaFailureReason::FailedDelete
                    },
                    &msg,
                    Timestamp::now(),
                ),
                true,
            ),
            None => (plan.status.clone(), plan.status_changed),
        };
        if changed && was_satisfied {
            leadership.check()?;
            self.write_status::<ReplicationController, _>(ns, name, rc.status.as_ref(), &status)
                .await?;
        }
        Ok(plan.requeue_after)
    }

    async fn sync_deployment(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let Some(d) = self.deployments.get(ns, name) else {
            return Ok(None);
        };
        let rss: Vec<ReplicaSet> = self.rss.list(ns).iter().map(|r| (**r).clone()).collect();
        let now = Timestamp::now();
        let plan = deployment::plan_deployment(&d, &rss, &self.pods_of(ns), now)?;
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), ns);
        let d_api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        let owner_ref = deployment::deployment_controller_ref(&d);
        for (names, release) in [(&plan.adopt_rs, false), (&plan.release_rs, true)] {
            for n in names {
                leadership.check()?;
                let uid = self.rss.get(ns, n).and_then(|r| r.metadata.uid.clone());
                self.set_controller(&rs_api, n, uid, &owner_ref, release)
                    .await?;
            }
        }
        if let Some(new_rs) = &plan.create_rs {
            leadership.check()?;
            match timeout(
                "replicaset create",
                rs_api.create(&PostParams::default(), new_rs),
            )
            .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {
                    // Our cache is behind, or a hash collision: look at what is there.
                    let rs_name = new_rs.name_any();
                    let existing = timeout("replicaset get", rs_api.get_opt(&rs_name)).await?;
                    let ours = existing.as_ref().is_some_and(|rs| {
                        controller_of(rs).is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref())
                            && match (
                                rs.spec.as_ref().and_then(|s| s.template.as_ref()),
                                d.spec.as_ref().map(|s| &s.template),
                            ) {
                                (Some(a), Some(b)) => deployment::equal_ignore_hash(a, b),
                                _ => false,
                            }
                    });
                    if !ours {
                        let count = d
                            .status
                            .as_ref()
                            .and_then(|s| s.collision_count)
                            .unwrap_or(0)
                            .saturating_add(1);
                        leadership.check()?;
                        timeout(
                            "status update",
                            d_api.patch_status(
                                name,
                                &PatchParams::default(),
                                &Patch::Merge(json!({"status": {"collisionCount": count}})),
                            ),
                        )
                        .await?;
                    }
                    return Ok(Some(Duration::from_millis(100)));
                }
                Err(e) => {
                    let (status, event) = plan.create_failed(&e.to_string(), now);
                    recorder.record(d.as_ref(), event.type_, event.reason, event.message);
                    leadership.check()?;
                    timeout(
                        "status update",
                        d_api.patch_status(
                            name,
                            &PatchParams::default(),
                            &Patch::Merge(status_patch(d.status.as_ref(), &status)),
                        ),
                    )
                    .await?;
                    return Err(e);
                }
            }
        }
        for rs in &plan.update_rs {
            leadership.check()?;
            timeout(
                "replicaset update",
                rs_api.replace(&rs.name_any(), &PostParams::default(), rs),
            )
            .await?;
        }
        for n in &plan.delete_rs {
            leadership.check()?;
            let uid = self.rss.get(ns, n).and_then(|r| r.metadata.uid.clone());
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..Default::default()
            };
            match timeout("replicaset delete", rs_api.delete(n, &dp)).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(annotations) = &plan.deployment_annotations {
            // Through /status, as upstream: annotations written there do not bump the
            // Deployment's generation (a spec or annotation change through the main resource
            // would).
            leadership.check()?;
            let mut patch: BTreeMap<String, serde_json::Value> = annotations
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            for k in d.metadata.annotations.iter().flatten().map(|(k, _)| k) {
                patch.entry(k.clone()).or_insert(serde_json::Value::Null);
            }
            timeout(
                "deployment annotations",
                d_api.patch_status(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": patch,
                                                      "resourceVersion": d.metadata.resource_version}})),
                ),
            )
            .await?;
        }
        if plan.status_changed {
            leadership.check()?;
            self.write_status::<Deployment, _>(ns, name, d.status.as_ref(), &plan.status)
                .await?;
        }
        for ev in &plan.events {
            recorder.record(d.as_ref(), ev.type_, ev.reason, ev.message.clone());
        }
        Ok(plan.requeue_after)
    }
}
