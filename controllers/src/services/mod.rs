//! The service-side and housekeeping controllers: Endpoints, EndpointSlices, and each
//! namespace's `default` ServiceAccount and `kube-root-ca.crt` ConfigMap, as
//! kube-controller-manager's.
//!
//! - [`endpoints`], [`endpointslice`], [`serviceaccount`]: the pure plans, unit-tested.
//! - [`disruption`]: the PodDisruptionBudget status plan (run by the workload runtime, which
//!   has the controllers' caches it needs).
//! - [`nodelifecycle`]: the node lifecycle plan (heartbeat staleness → `Unknown` conditions,
//!   not-ready/unreachable taints, NoExecute evictions); unit-tested, not run yet (it needs
//!   the node agent's heartbeats; see ARCHITECTURE.md, known gaps).
//! - this module: the runtime. Informers (pods shared with the workload controllers) on every
//!   replica; changes become keys (a Service; a namespace); workers run only while this
//!   replica leads and check [`Leadership`] before each write.
//!
//! # Never twice
//! Endpoints are replaced with their resourceVersion (a stale plan fails with a conflict and
//! is planned again). EndpointSlices are created by `generateName`, so a Service is not
//! planned again until the slice informer has seen the slices it wrote (as upstream's slice
//! tracker), else a lagging cache would make it create them twice.

pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod nodelifecycle;
pub mod serviceaccount;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Namespace, Node, Pod, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, ResourceExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::informer::{Change, Informer};
use crate::workloads::{is_status, podutil, timeout};
use crate::workqueue::WorkQueue;
use crate::{Error, Leadership, Result};

/// Objects reconciled at once.
const WORKERS: usize = 4;
/// How long a Service waits for the slice informer to see its own writes before it plans
/// from the cache anyway.
const SLICE_SETTLE: Duration = Duration::from_secs(5);
/// Label of the slices of a Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Managed-by label value of the slices this controller owns.
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// A work-queue key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A Service (namespace, name): its Endpoints and EndpointSlices.
    Service(String, String),
    /// A namespace: its `default` ServiceAccount and root CA ConfigMap.
    Namespace(String),
}

/// Slices written for a Service that the informer has not shown yet: (name, resourceVersion).
type Pending = HashMap<(String, String), (Vec<(String, u64)>, Instant)>;

/// The caches and the queue; [`Services::run_workers`] acts.
pub struct Services {
    client: Client,
    pods: Arc<Informer<Pod>>,
    services: Arc<Informer<Service>>,
    endpoints: Arc<Informer<Endpoints>>,
    slices: Arc<Informer<EndpointSlice>>,
    nodes: Arc<Informer<Node>>,
    namespaces: Arc<Informer<Namespace>>,
    service_accounts: Arc<Informer<ServiceAccount>>,
    config_maps: Arc<Informer<ConfigMap>>,
    queue: Arc<WorkQueue<Key>>,
    pending: Mutex<Pending>,
    /// The cluster CA (PEM) published as `kube-root-ca.crt`, if known.
    ca_pem: Option<String>,
}

fn ns_of<K: kube::Resource>(o: &K) -> String {
    o.meta().namespace.clone().unwrap_or_default()
}

fn rv_of<K: kube::Resource>(o: &K) -> u64 {
    o.meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Services {
    /// Start the informers it owns and the routing of changes; `pods` and `nodes` are
    /// shared and run by the caller.
    pub fn start(
        client: Client,
        pods: &Arc<Informer<Pod>>,
        nodes: &Arc<Informer<Node>>,
        ca_pem: Option<String>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Services> {
        let mut prx = pods.subscribe();
        let services = Informer::new();
        let mut svc_rx = services.subscribe();
        let endpoints = Informer::new();
        let mut ep_rx = endpoints.subscribe();
        let slices = Informer::new();
        let mut sl_rx = slices.subscribe();
        let namespaces = Informer::new();
        let mut ns_rx = namespaces.subscribe();
        let service_accounts = Informer::new();
        let mut sa_rx = service_accounts.subscribe();
        let config_maps = Informer::new();
        let mut cm_rx = config_maps.subscribe();
        services.run(Api::all(client.clone()), stop.clone());
        endpoints.run(Api::all(client.clone()), stop.clone());
        slices.run(Api::all(client.clone()), stop.clone());
        namespaces.run(Api::all(client.clone()), stop.clone());
        service_accounts.run(Api::all(client.clone()), stop.clone());
        config_maps.run(Api::all(client.clone()), stop.clone());
        let s = Arc::new(Services {
            client,
            pods: pods.clone(),
            services,
            endpoints,
            slices,
            nodes: nodes.clone(),
            namespaces,
            service_accounts,
            config_maps,
            queue: WorkQueue::new(),
            pending: Mutex::default(),
            ca_pem,
        });
        let this = s.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(c) = prx.recv() => this.pod_changed(c),
                    Some(c) = svc_rx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::Service(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = ep_rx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            this.queue.add(Key::Service(ns_of(o.as_ref()), o.name_any()));
                        }
                    }
                    Some(c) = sl_rx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            if let Some(svc) = o.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                                this.queue.add(Key::Service(ns_of(o.as_ref()), svc.clone()));
                            }
                        }
                    }
                    Some(c) = ns_rx.recv() => {
                        if let Some(n) = &c.new {
                            this.queue.add(Key::Namespace(n.name_any()));
                        }
                    }
                    Some(c) = sa_rx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            if o.name_any() == "default" {
                                this.queue.add(Key::Namespace(ns_of(o.as_ref())));
                            }
                        }
                    }
                    Some(c) = cm_rx.recv() => {
                        for o in [&c.old, &c.new].into_iter().flatten() {
                            if o.name_any() == serviceaccount::ROOT_CA_CONFIG_MAP {
                                this.queue.add(Key::Namespace(ns_of(o.as_ref())));
                            }
                        }
                    }
                    else => return,
                }
            }
        });
        s
    }

    /// A pod change: every Service of its namespace that selected it before or after.
    fn pod_changed(&self, c: Change<Pod>) {
        let Some(ns) = c.new.as_ref().or(c.old.as_ref()).map(|p| ns_of(p.as_ref())) else {
            return;
        };
        for svc in self.services.list(&ns) {
            let Some(sel) = endpoints::endpoints_selector(&svc) else {
                continue;
            };
            let hit = [&c.old, &c.new]
                .into_iter()
                .flatten()
                .any(|p| sel.matches(p.metadata.labels.as_ref()));
            if hit {
                self.queue.add(Key::Service(ns.clone(), svc.name_any()));
            }
        }
    }

    /// Reconcile until the future is dropped (waits for the first lists, then queues every
    /// Service and namespace).
    pub async fn run_workers(self: &Arc<Self>, leadership: Leadership) {
        self.pods.synced().await;
        self.services.synced().await;
        self.endpoints.synced().await;
        self.slices.synced().await;
        self.nodes.synced().await;
        self.namespaces.synced().await;
        self.service_accounts.synced().await;
        self.config_maps.synced().await;
        for svc in self.services.all() {
            self.queue
                .add(Key::Service(ns_of(svc.as_ref()), svc.name_any()));
        }
        for ep in self.endpoints.all() {
            self.queue
                .add(Key::Service(ns_of(ep.as_ref()), ep.name_any()));
        }
        for ns in self.namespaces.all() {
            self.queue.add(Key::Namespace(ns.name_any()));
        }
        let this = self.clone();
        futures::stream::unfold(this.clone(), |s| async move {
            let k = s.queue.get().await;
            Some((k, s))
        })
        .for_each_concurrent(WORKERS, |key| {
            let this = this.clone();
            let l = leadership.clone();
            async move {
                let res = match &key {
                    Key::Service(ns, n) => this.sync_service(ns, n, &l).await,
                    Key::Namespace(n) => this.sync_namespace(n, &l).await,
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
    }

    async fn sync_service(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
    ) -> Result<Option<Duration>> {
        let ep_api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let current = self.endpoints.get(ns, name);
        let Some(svc) = self.services.get(ns, name) else {
            // The Service is gone: its Endpoints go too (slices go with their owner, by GC).
            if let Some(cur) = &current
                && endpoints::plan_endpoints_without_service(cur).delete
            {
                leadership.check()?;
                match timeout(
                    "endpoints delete",
                    ep_api.delete(name, &DeleteParams::default()),
                )
                .await
                {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 404) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(None);
        };
        // The API server keeps the `kubernetes` Service's Endpoints itself.
        if ns == "default" && name == "kubernetes" {
            return Ok(None);
        }
        let pods: Vec<Pod> = self.pods.list(ns).iter().map(|p| (**p).clone()).collect();
        let now = Timestamp::now();
        let plan = endpoints::plan_endpoints(&svc, &pods, current.as_deref(), now);
        if let Some(ep) = plan.write {
            leadership.check()?;
            let r = match &current {
                None => {
                    timeout(
                        "endpoints create",
                        ep_api.create(&PostParams::default(), &ep),
                    )
                    .await
                }
                Some(_) => {
                    timeout(
                        "endpoints update",
                        ep_api.replace(name, &PostParams::default(), &ep),
                    )
                    .await
                }
            };
            match r {
                Ok(_) => {}
                // Created meanwhile by someone else (or our cache lags): plan again.
                Err(e) if is_status(&e, 409) => return Err(e),
                Err(e) => return Err(e),
            }
        }
        self.sync_slices(ns, name, &svc, &pods, now, leadership)
            .await
    }

    async fn sync_slices(
        &self,
        ns: &str,
        name: &str,
        svc: &Service,
        pods: &[Pod],
        now: Timestamp,
        leadership: &Leadership,
    ) -> Result<Option<Duration>> {
        let key = (ns.to_string(), name.to_string());
        let current: Vec<EndpointSlice> = self
            .slices
            .list(ns)
            .into_iter()
            .filter(|s| {
                let l = s.metadata.labels.as_ref();
                l.and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .map(String::as_str)
                    == Some(name)
                    && l.and_then(|l| l.get("endpointslice.kubernetes.io/managed-by"))
                        .map(String::as_str)
                        == Some(MANAGED_BY)
            })
            .map(|s| (*s).clone())
            .collect();
        // Wait for our own writes to show in the cache.
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((written, at)) = pending.get(&key) {
                let seen = written.iter().all(|(n, rv)| {
                    current
                        .iter()
                        .any(|s| s.name_any() == *n && rv_of(s) >= *rv)
                        || (*rv == 0 && !current.iter().any(|s| s.name_any() == *n))
                });
                if !seen && at.elapsed() < SLICE_SETTLE {
                    return Ok(Some(Duration::from_millis(100)));
                }
                pending.remove(&key);
            }
        }
        let nodes: Vec<Node> = self.nodes.all().iter().map(|n| (**n).clone()).collect();
        let plan = endpointslice::plan_endpointslices(svc, pods, &nodes, &current, now);
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let mut written = Vec::new();
        for s in &plan.create {
            leadership.check()?;
            let out = timeout(
                "endpointslice create",
                api.create(&PostParams::default(), s),
            )
            .await?;
            written.push((out.name_any(), rv_of(&out)));
        }
        for s in &plan.update {
            leadership.check()?;
            let out = timeout(
                "endpointslice update",
                api.replace(&s.name_any(), &PostParams::default(), s),
            )
            .await?;
            written.push((out.name_any(), rv_of(&out)));
        }
        for n in &plan.delete {
            leadership.check()?;
            match timeout(
                "endpointslice delete",
                api.delete(n, &DeleteParams::default()),
            )
            .await
            {
                Ok(_) => written.push((n.clone(), 0)),
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(e),
            }
        }
        if !written.is_empty() {
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (written, Instant::now()));
        }
        Ok(plan.retry.then_some(Duration::from_secs(1)))
    }

    async fn sync_namespace(
        &self,
        name: &str,
        leadership: &Leadership,
    ) -> Result<Option<Duration>> {
        let Some(ns) = self.namespaces.get("", name) else {
            return Ok(None);
        };
        let sas: Vec<ServiceAccount> = self
            .service_accounts
            .list(name)
            .iter()
            .map(|s| (**s).clone())
            .collect();
        if let Some(sa) = serviceaccount::plan_namespace_service_accounts(&ns, &sas) {
            leadership.check()?;
            let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), name);
            match timeout(
                "serviceaccount create",
                api.create(&PostParams::default(), &sa),
            )
            .await
            {
                Ok(_) => {}
                // Exists already, the namespace went away, or it is terminating.
                Err(e) if is_status(&e, 409) || is_status(&e, 404) || is_status(&e, 403) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(pem) = &self.ca_pem {
            let existing = self
                .config_maps
                .get(name, serviceaccount::ROOT_CA_CONFIG_MAP);
            if let Some(cm) = serviceaccount::plan_root_ca(&ns, existing.as_deref(), pem) {
                leadership.check()?;
                let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), name);
                let r = match existing {
                    None => {
                        timeout("configmap create", api.create(&PostParams::default(), &cm)).await
                    }
                    Some(_) => {
                        timeout(
                            "configmap update",
                            api.replace(
                                serviceaccount::ROOT_CA_CONFIG_MAP,
                                &PostParams::default(),
                                &cm,
                            ),
                        )
                        .await
                    }
                };
                match r {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 404) || is_status(&e, 403) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }
}

/// The cluster CA (PEM) from a kubeconfig's current cluster, if it carries one.
pub fn ca_pem_of(kubeconfig: &kube::config::Kubeconfig) -> Option<String> {
    use base64::Engine;
    let ctx_name = kubeconfig.current_context.as_ref()?;
    let ctx = kubeconfig
        .contexts
        .iter()
        .find(|c| &c.name == ctx_name)?
        .context
        .as_ref()?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)?
        .cluster
        .as_ref()?;
    if let Some(data) = &cluster.certificate_authority_data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .ok()?;
        return String::from_utf8(bytes).ok();
    }
    let path = cluster.certificate_authority.as_ref()?;
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selector_helpers_come_from_podutil() {
        // The services module reuses the workload controllers' selector code.
        let sel = podutil::Selector::everything();
        assert!(sel.is_everything());
    }
}
