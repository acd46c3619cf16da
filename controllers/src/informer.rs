//! Watch-fed caches of one resource, indexed by namespace, shared by the controllers.
//!
//! An [`Informer`] runs a kube-runtime watcher (relists and backs off on errors) on every
//! replica, leading or not, so a standby that takes over starts from a warm cache. Each
//! change is applied to the cache first and then handed to every subscriber as a [`Change`]
//! (old and new object), which is what the controllers turn into work-queue keys. Several
//! controllers share one informer (one watch) per resource: subscribe with
//! [`Informer::subscribe`] before [`Informer::run`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use tokio::sync::{mpsc, watch};

/// One change to a cached object: `(old, new)`; `new` is `None` for a deletion.
#[derive(Debug)]
pub struct Change<K> {
    /// The cached object before, if any.
    pub old: Option<Arc<K>>,
    /// The object now; `None` once deleted.
    pub new: Option<Arc<K>>,
}

type Objects<K> = HashMap<String, HashMap<String, Arc<K>>>;

/// A cache of one resource (see the module docs).
pub struct Informer<K> {
    objects: RwLock<Objects<K>>,
    synced: watch::Sender<bool>,
    subscribers: std::sync::Mutex<Vec<mpsc::UnboundedSender<Change<K>>>>,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        Change {
            old: self.old.clone(),
            new: self.new.clone(),
        }
    }
}

fn ns_name<K: Resource>(o: &K) -> (String, String) {
    let m = o.meta();
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

impl<K> Informer<K>
where
    K: Resource
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    /// A cache that is not watching yet: subscribe, then [`Informer::run`].
    pub fn new() -> Arc<Informer<K>> {
        let (synced, _) = watch::channel(false);
        Arc::new(Informer {
            objects: RwLock::default(),
            synced,
            subscribers: std::sync::Mutex::default(),
        })
    }

    /// Every change from now on (call before [`Informer::run`] to miss none).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Change<K>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    fn publish(&self, c: Change<K>) {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        for tx in subs.iter() {
            let _ = tx.send(c.clone());
        }
    }

    /// Start watching `api` until `stop` turns true.
    pub fn run(self: &Arc<Self>, api: Api<K>, mut stop: watch::Receiver<bool>) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(
                watcher::watcher(api, watcher::Config::default().page_size(1000)).default_backoff()
            );
            let mut relist: Option<Objects<K>> = None;
            loop {
                let next = tokio::select! {
                    () = async { let _ = stop.wait_for(|s| *s).await; } => return,
                    n = stream.next() => n,
                };
                match next {
                    None => return,
                    Some(Err(e)) => tracing::debug!(error = %e, "watch failed; retrying"),
                    Some(Ok(Event::Init)) => relist = Some(HashMap::new()),
                    Some(Ok(Event::InitApply(o))) => {
                        let (ns, name) = ns_name(&o);
                        if let Some(r) = relist.as_mut() {
                            r.entry(ns).or_default().insert(name, Arc::new(o));
                        }
                    }
                    Some(Ok(Event::InitDone)) => {
                        let fresh = relist.take().unwrap_or_default();
                        for c in this.replace(fresh) {
                            this.publish(c);
                        }
                        this.synced.send_replace(true);
                    }
                    Some(Ok(Event::Apply(o))) => {
                        let c = this.upsert(Arc::new(o));
                        this.publish(c);
                    }
                    Some(Ok(Event::Delete(o))) => {
                        let c = this.remove(&o);
                        this.publish(c);
                    }
                }
            }
        });
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Objects<K>> {
        self.objects.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Objects<K>> {
        self.objects.read().unwrap_or_else(|e| e.into_inner())
    }

    fn upsert(&self, o: Arc<K>) -> Change<K> {
        let (ns, name) = ns_name(o.as_ref());
        let old = self.write().entry(ns).or_default().insert(name, o.clone());
        Change { old, new: Some(o) }
    }

    fn remove(&self, o: &K) -> Change<K> {
        let (ns, name) = ns_name(o);
        let mut w = self.write();
        let old = w.get_mut(&ns).and_then(|m| m.remove(&name));
        if w.get(&ns).is_some_and(|m| m.is_empty()) {
            w.remove(&ns);
        }
        Change {
            old: old.or_else(|| Some(Arc::new(o.clone()))),
            new: None,
        }
    }

    /// Swap in a complete relist; the changes it amounts to.
    fn replace(&self, fresh: Objects<K>) -> Vec<Change<K>> {
        let mut w = self.write();
        let mut changes = Vec::new();
        for (ns, objs) in w.iter() {
            for (name, old) in objs {
                if !fresh.get(ns).is_some_and(|m| m.contains_key(name)) {
                    changes.push(Change {
                        old: Some(old.clone()),
                        new: None,
                    });
                }
            }
        }
        for (ns, objs) in &fresh {
            for (name, new) in objs {
                let old = w.get(ns).and_then(|m| m.get(name)).cloned();
                let same = old
                    .as_ref()
                    .is_some_and(|o| o.meta().resource_version == new.meta().resource_version);
                if !same {
                    changes.push(Change {
                        old,
                        new: Some(new.clone()),
                    });
                }
            }
        }
        *w = fresh;
        changes
    }

    /// The cached object, if any.
    pub fn get(&self, ns: &str, name: &str) -> Option<Arc<K>> {
        self.read().get(ns).and_then(|m| m.get(name)).cloned()
    }

    /// Every cached object of namespace `ns`.
    pub fn list(&self, ns: &str) -> Vec<Arc<K>> {
        self.read()
            .get(ns)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every cached object.
    pub fn all(&self) -> Vec<Arc<K>> {
        self.read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// Resolves once the first complete list is in the cache.
    pub async fn synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}
