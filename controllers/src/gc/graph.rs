//! The garbage collector's view of the cluster: every watched object's GC-relevant metadata
//! by uid, and the reverse index from an owner uid to the uids of the objects that name it
//! (whether or not that owner exists). Fed by the watchers; each change returns the uids
//! whose decision may have changed, for the work queue.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use kube::discovery::ApiResource;

use super::decide::{FOREGROUND, Meta};

/// One watched resource.
#[derive(Debug)]
pub struct Kind {
    /// `<group>/<Kind>`: the key ownerReferences resolve to (any version).
    pub key: String,
    /// The version watched (the preferred one).
    pub resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

impl Kind {
    /// The key of `kind` in `api_version` (`v1`, `apps/v1`).
    pub fn key_of(api_version: &str, kind: &str) -> String {
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default();
        format!("{group}/{kind}")
    }
}

/// One object.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its resource.
    pub kind: Arc<Kind>,
    /// Its metadata.
    pub meta: Meta,
}

/// Objects by uid, with the owner → dependents index.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, BTreeSet<String>>,
    relisting: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// The object with `uid`.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The objects whose ownerReferences name `uid`.
    pub fn dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// Every object whose decision may call for work: with owners or being deleted.
    pub fn uids_to_check(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| !n.meta.owners.is_empty() || n.meta.deleting)
            .map(|n| n.meta.uid.clone())
            .collect()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No objects.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn unlink(&mut self, dependent: &Meta) {
        for o in &dependent.owners {
            if let Some(set) = self.dependents.get_mut(&o.uid) {
                set.remove(&dependent.uid);
                if set.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
    }

    /// Owners (present in the graph) being deleted: their wait may be over.
    fn deleting_owners(&self, m: &Meta, out: &mut Vec<String>) {
        for o in &m.owners {
            if self.nodes.get(&o.uid).is_some_and(|n| n.meta.deleting) {
                out.push(o.uid.clone());
            }
        }
    }

    /// An object was added or changed; returns the uids to reconsider.
    pub fn upsert(&mut self, kind: Arc<Kind>, meta: Meta) -> Vec<String> {
        if meta.uid.is_empty() {
            return vec![];
        }
        if let Some(set) = self.relisting.get_mut(&kind.key) {
            set.insert(meta.uid.clone());
        }
        let mut out = vec![];
        let old = self.nodes.remove(&meta.uid);
        if let Some(old) = &old {
            self.unlink(&old.meta);
            self.deleting_owners(&old.meta, &mut out);
        }
        for o in &meta.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(meta.uid.clone());
        }
        self.deleting_owners(&meta, &mut out);
        let was_waiting = old
            .as_ref()
            .is_some_and(|o| o.meta.waiting_for_dependents());
        if meta.waiting_for_dependents() && !was_waiting {
            // Deleted in the foreground: its dependents must go (or stop blocking).
            out.extend(
                self.dependents
                    .get(&meta.uid)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        if !meta.owners.is_empty() || meta.deleting {
            out.push(meta.uid.clone());
        }
        self.nodes.insert(meta.uid.clone(), Node { kind, meta });
        out
    }

    /// The object with `uid` is gone; returns the uids to reconsider.
    pub fn remove(&mut self, uid: &str) -> Vec<String> {
        let mut out = vec![];
        if let Some(old) = self.nodes.remove(uid) {
            self.unlink(&old.meta);
            self.deleting_owners(&old.meta, &mut out);
            // Its dependents may have lost their last owner.
            out.extend(self.dependents.get(uid).into_iter().flatten().cloned());
        }
        out
    }

    /// A watcher of `kind` (re)lists: objects not listed again are gone at [`end_relist`].
    ///
    /// [`end_relist`]: Graph::end_relist
    pub fn begin_relist(&mut self, kind: &Kind) {
        self.relisting.insert(kind.key.clone(), HashSet::new());
    }

    /// The (re)list of `kind` is complete; returns the uids to reconsider.
    pub fn end_relist(&mut self, kind: &Kind) -> Vec<String> {
        let Some(seen) = self.relisting.remove(&kind.key) else {
            return vec![];
        };
        self.remove_where(|n| n.kind.key == kind.key && !seen.contains(&n.meta.uid))
    }

    /// `kind` is no longer served: forget its objects.
    pub fn remove_kind(&mut self, key: &str) -> Vec<String> {
        self.relisting.remove(key);
        self.remove_where(|n| n.kind.key == key)
    }

    fn remove_where(&mut self, pred: impl Fn(&Node) -> bool) -> Vec<String> {
        let gone: Vec<String> = self
            .nodes
            .values()
            .filter(|n| pred(n))
            .map(|n| n.meta.uid.clone())
            .collect();
        let mut out = vec![];
        for uid in gone {
            out.extend(self.remove(&uid));
        }
        out
    }

    /// Whether `uid` is in the graph and waits for its dependents.
    pub fn waiting_for_dependents(&self, uid: &str) -> Option<bool> {
        self.nodes
            .get(uid)
            .map(|n| n.meta.deleting && n.meta.has_finalizer(FOREGROUND))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn kind() -> Arc<Kind> {
        Arc::new(Kind {
            key: "/ConfigMap".into(),
            resource: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                plural: "configmaps".into(),
            },
            namespaced: true,
        })
    }

    fn meta(uid: &str, owner: Option<&str>) -> Meta {
        Meta {
            uid: uid.into(),
            name: uid.into(),
            namespace: Some("default".into()),
            resource_version: "1".into(),
            owners: owner
                .map(|o| OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: o.into(),
                    uid: o.into(),
                    block_owner_deletion: Some(true),
                    controller: None,
                })
                .into_iter()
                .collect(),
            ..Meta::default()
        }
    }

    #[test]
    fn key_ignores_the_version() {
        assert_eq!(Kind::key_of("apps/v1", "ReplicaSet"), "apps/ReplicaSet");
        assert_eq!(Kind::key_of("v1", "ConfigMap"), "/ConfigMap");
    }

    #[test]
    fn removal_of_an_owner_requeues_its_dependents() {
        let mut g = Graph::default();
        assert!(g.upsert(kind(), meta("o", None)).is_empty());
        assert_eq!(
            g.upsert(kind(), meta("d", Some("o"))),
            vec!["d".to_string()]
        );
        assert_eq!(g.dependents_of("o").len(), 1);
        assert_eq!(g.remove("o"), vec!["d".to_string()]);
        // The index outlives the owner: the dependent still names it.
        assert_eq!(g.dependents_of("o").len(), 1);
    }

    #[test]
    fn foreground_deletion_requeues_dependents_and_their_removal_the_owner() {
        let mut g = Graph::default();
        g.upsert(kind(), meta("o", None));
        g.upsert(kind(), meta("d", Some("o")));
        let mut o = meta("o", None);
        o.deleting = true;
        o.finalizers = vec![FOREGROUND.into()];
        let out = g.upsert(kind(), o);
        assert!(out.contains(&"d".to_string()) && out.contains(&"o".to_string()));
        assert_eq!(g.remove("d"), vec!["o".to_string()]);
        assert!(g.dependents_of("o").is_empty());
    }

    #[test]
    fn relist_forgets_objects_not_listed_again() {
        let mut g = Graph::default();
        let k = kind();
        g.upsert(k.clone(), meta("o", None));
        g.upsert(k.clone(), meta("d", Some("o")));
        g.begin_relist(&k);
        g.upsert(k.clone(), meta("d", Some("o")));
        assert_eq!(g.end_relist(&k), vec!["d".to_string()]);
        assert!(g.get("o").is_none() && g.get("d").is_some());
    }
}
