//! The scheduler's view of the cluster: [`NodeInfo`] aggregates one node and the pods bound
//! to it (requested resources, host ports, affinity counts, images), and [`ClusterState`]
//! holds every node in a stable order with a name index.
//!
//! Everything a pod contributes is computed once, when it is added ([`PodInfo`]), and
//! subtracted exactly when it is removed, so updates cost O(size of the pod) and lookups
//! O(1); a scheduling cycle never re-parses placed pods.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::plugins::interpod::PodAffinityInfo;
use crate::plugins::ports::{HostPort, HostPortSet, pod_host_ports};
use crate::resources::{Resources, node_allocatable, non_zero_requests, pod_requests};

/// The key of a pod: `"namespace/name"`.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

/// A placed pod with what it contributes to its node, computed once.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// `"namespace/name"`.
    pub key: String,
    /// What it requests ([`pod_requests`]).
    pub requests: Resources,
    /// `(milli_cpu, memory)` for scoring ([`non_zero_requests`]).
    pub non_zero: (i64, i64),
    /// Host ports it uses.
    pub host_ports: Vec<HostPort>,
    /// Its parsed pod (anti-)affinity, if it has any.
    pub affinity: Option<PodAffinityInfo>,
}

impl PodInfo {
    /// Computes a pod's contributions.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        PodInfo {
            key: pod_key(&pod),
            requests: pod_requests(&pod),
            non_zero: non_zero_requests(&pod),
            host_ports: pod_host_ports(&pod),
            affinity: PodAffinityInfo::of(&pod),
            pod,
        }
    }
}

/// One node and the pods bound to it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    node: Arc<Node>,
    allocatable: Resources,
    pods: HashMap<String, PodInfo>,
    requested: Resources,
    non_zero_requested: (i64, i64),
    used_ports: HostPortSet,
    pods_with_affinity: usize,
    pods_with_required_anti_affinity: usize,
    /// Image name → size in bytes, from `status.images`.
    images: HashMap<String, i64>,
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut ni = NodeInfo {
            node: node.clone(),
            allocatable: Resources::default(),
            pods: HashMap::new(),
            requested: Resources::default(),
            non_zero_requested: (0, 0),
            used_ports: HostPortSet::default(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
            images: HashMap::new(),
        };
        ni.set_node(node);
        ni
    }

    /// Replaces the node object (labels, taints, allocatable, images...); pods stay.
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = node_allocatable(&node);
        self.images.clear();
        for image in node.status.iter().flat_map(|s| s.images.iter().flatten()) {
            let size = image.size_bytes.unwrap_or(0);
            for name in image.names.iter().flatten() {
                self.images.insert(name.clone(), size);
            }
        }
        self.node = node;
    }

    /// Adds a pod (replacing one with the same key).
    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.add_pod_info(PodInfo::new(pod));
    }

    /// Adds a pod whose contributions are already computed (replacing one with the same
    /// key).
    pub fn add_pod_info(&mut self, info: PodInfo) {
        self.remove_pod(&info.key);
        self.requested.add(&info.requests);
        self.non_zero_requested.0 = self.non_zero_requested.0.saturating_add(info.non_zero.0);
        self.non_zero_requested.1 = self.non_zero_requested.1.saturating_add(info.non_zero.1);
        for hp in &info.host_ports {
            self.used_ports.add(hp);
        }
        if let Some(a) = &info.affinity {
            self.pods_with_affinity += 1;
            if a.has_required_anti_affinity() {
                self.pods_with_required_anti_affinity += 1;
            }
        }
        self.pods.insert(info.key.clone(), info);
    }

    /// Removes a pod by key, undoing exactly what adding it did; false if it was not here.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        self.take_pod(key).is_some()
    }

    fn take_pod(&mut self, key: &str) -> Option<PodInfo> {
        let info = self.pods.remove(key)?;
        self.requested.sub(&info.requests);
        self.non_zero_requested.0 = self.non_zero_requested.0.saturating_sub(info.non_zero.0);
        self.non_zero_requested.1 = self.non_zero_requested.1.saturating_sub(info.non_zero.1);
        for hp in &info.host_ports {
            self.used_ports.remove(hp);
        }
        if let Some(a) = &info.affinity {
            self.pods_with_affinity -= 1;
            if a.has_required_anti_affinity() {
                self.pods_with_required_anti_affinity -= 1;
            }
        }
        Some(info)
    }

    /// The node object.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or("")
    }

    /// The node's allocatable resources.
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// The pods on the node, in no particular order.
    pub fn pods(&self) -> impl Iterator<Item = &PodInfo> {
        self.pods.values()
    }

    /// A pod by key.
    pub fn pod(&self, key: &str) -> Option<&PodInfo> {
        self.pods.get(key)
    }

    /// How many pods are on the node.
    pub fn num_pods(&self) -> usize {
        self.pods.len()
    }

    /// The sum of the pods' requests (`pods` = number of pods).
    pub fn requested(&self) -> &Resources {
        &self.requested
    }

    /// The sum of the pods' `(milli_cpu, memory)` requests for scoring.
    pub fn non_zero_requested(&self) -> (i64, i64) {
        self.non_zero_requested
    }

    /// Host ports in use.
    pub fn used_ports(&self) -> &HostPortSet {
        &self.used_ports
    }

    /// How many pods have pod affinity or anti-affinity.
    pub fn pods_with_affinity(&self) -> usize {
        self.pods_with_affinity
    }

    /// How many pods have required pod anti-affinity.
    pub fn pods_with_required_anti_affinity(&self) -> usize {
        self.pods_with_required_anti_affinity
    }

    /// Size in bytes of an image present on the node, by any of its names.
    pub fn image_size(&self, name: &str) -> Option<i64> {
        self.images.get(name).copied()
    }

    /// Names of the images present on the node.
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.images.keys().map(String::as_str)
    }
}

/// Every node, in a stable order, with a name index; plus pods bound to nodes not known
/// (yet), which are counted as soon as their node appears.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Node name → pods bound to it while it is unknown.
    pending: HashMap<String, HashMap<String, Arc<Pod>>>,
    /// Image name → how many nodes have it.
    image_nodes: HashMap<String, usize>,
    /// Pods with pod (anti-)affinity on known nodes.
    pods_with_affinity: usize,
    /// Pods with required pod anti-affinity on known nodes.
    pods_with_required_anti_affinity: usize,
}

impl ClusterState {
    /// An empty cluster.
    pub fn new() -> ClusterState {
        ClusterState::default()
    }

    /// Adds a node or replaces its object. A new node picks up the pods already bound to
    /// it.
    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&i) = self.index.get(&name) {
            let ni = &mut self.nodes[i];
            for img in ni.images.keys() {
                dec(&mut self.image_nodes, img);
            }
            ni.set_node(node);
            for img in ni.images.keys() {
                *self.image_nodes.entry(img.clone()).or_insert(0) += 1;
            }
            return;
        }
        let mut ni = NodeInfo::new(node);
        for img in ni.images.keys() {
            *self.image_nodes.entry(img.clone()).or_insert(0) += 1;
        }
        for (_, pod) in self.pending.remove(&name).into_iter().flatten() {
            ni.add_pod(pod);
        }
        self.pods_with_affinity += ni.pods_with_affinity;
        self.pods_with_required_anti_affinity += ni.pods_with_required_anti_affinity;
        self.index.insert(name, self.nodes.len());
        self.nodes.push(ni);
    }

    /// Removes a node; its pods are remembered as bound to an unknown node, so that they
    /// count again if it comes back and can still be removed. False if it was not known.
    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(i) = self.index.remove(name) else {
            return false;
        };
        let ni = self.nodes.swap_remove(i);
        if i < self.nodes.len() {
            let moved = self.nodes[i].name().to_string();
            self.index.insert(moved, i);
        }
        for img in ni.images.keys() {
            dec(&mut self.image_nodes, img);
        }
        self.pods_with_affinity -= ni.pods_with_affinity;
        self.pods_with_required_anti_affinity -= ni.pods_with_required_anti_affinity;
        if !ni.pods.is_empty() {
            let pending = self.pending.entry(name.to_string()).or_default();
            for (key, info) in ni.pods {
                pending.insert(key, info.pod);
            }
        }
        true
    }

    /// Records a pod bound to `node` (replacing one with the same key there). The caller
    /// removes it from a previous node first if it moved.
    pub fn add_pod(&mut self, node: &str, pod: Arc<Pod>) {
        match self.index.get(node) {
            Some(&i) => self.update_node(i, |ni| ni.add_pod(pod)),
            None => {
                self.pending
                    .entry(node.to_string())
                    .or_default()
                    .insert(pod_key(&pod), pod);
            }
        }
    }

    /// Forgets a pod bound to `node`; false if it was not there.
    pub fn remove_pod(&mut self, node: &str, key: &str) -> bool {
        match self.index.get(node) {
            Some(&i) => self.update_node(i, |ni| ni.remove_pod(key)),
            None => {
                let Some(pods) = self.pending.get_mut(node) else {
                    return false;
                };
                let removed = pods.remove(key).is_some();
                if pods.is_empty() {
                    self.pending.remove(node);
                }
                removed
            }
        }
    }

    /// Changes a node's pods, keeping the cluster-wide affinity counts in step.
    fn update_node<R>(&mut self, i: usize, f: impl FnOnce(&mut NodeInfo) -> R) -> R {
        let ni = &mut self.nodes[i];
        let (aff, anti) = (ni.pods_with_affinity, ni.pods_with_required_anti_affinity);
        let out = f(ni);
        self.pods_with_affinity = self.pods_with_affinity - aff + ni.pods_with_affinity;
        self.pods_with_required_anti_affinity =
            self.pods_with_required_anti_affinity - anti + ni.pods_with_required_anti_affinity;
        out
    }

    /// How many pods on known nodes have pod affinity or anti-affinity.
    pub fn pods_with_affinity(&self) -> usize {
        self.pods_with_affinity
    }

    /// How many pods on known nodes have required pod anti-affinity.
    pub fn pods_with_required_anti_affinity(&self) -> usize {
        self.pods_with_required_anti_affinity
    }

    /// A node by name.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Position of a node in [`ClusterState::nodes`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// How many nodes are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes, in the cluster's order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Iterates over the nodes.
    pub fn iter(&self) -> std::slice::Iter<'_, NodeInfo> {
        self.nodes.iter()
    }

    /// How many nodes have an image (by this name).
    pub fn image_node_count(&self, image: &str) -> usize {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }

    /// How many pods are bound to nodes not known.
    pub fn pending_pods(&self) -> usize {
        self.pending.values().map(HashMap::len).sum()
    }
}

impl<'a> IntoIterator for &'a ClusterState {
    type Item = &'a NodeInfo;
    type IntoIter = std::slice::Iter<'a, NodeInfo>;
    fn into_iter(self) -> Self::IntoIter {
        self.nodes.iter()
    }
}

fn dec(m: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = m.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            m.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;

    fn snapshot(ni: &NodeInfo) -> (Resources, (i64, i64), HostPortSet, usize, usize, usize) {
        (
            ni.requested().clone(),
            ni.non_zero_requested(),
            ni.used_ports().clone(),
            ni.pods_with_affinity(),
            ni.pods_with_required_anti_affinity(),
            ni.num_pods(),
        )
    }

    #[test]
    fn add_remove_symmetry() {
        let mut ni = NodeInfo::new(Arc::new(node("n1").build()));
        let base = pod("default", "base").cpu("100m").build();
        ni.add_pod(Arc::new(base));
        let before = snapshot(&ni);
        let pods = vec![
            pod("default", "a")
                .cpu("250m")
                .memory("1Gi")
                .host_port(80)
                .build(),
            pod("default", "b")
                .host_port(80)
                .host_port_ip("10.0.0.1", 53, "UDP")
                .build(),
            pod("ns2", "c")
                .anti_affinity("app", "x", "kubernetes.io/hostname")
                .scalar("example.com/gpu", "2")
                .build(),
            pod("ns2", "d").affinity("app", "x", "zone").build(),
        ];
        for p in &pods {
            ni.add_pod(Arc::new(p.clone()));
        }
        assert_eq!(ni.num_pods(), 5);
        assert_eq!(ni.requested().pods, 5);
        assert_eq!(ni.requested().milli_cpu, 350);
        assert_eq!(ni.requested().scalar("example.com/gpu"), 2);
        assert_eq!(ni.pods_with_affinity(), 2);
        assert_eq!(ni.pods_with_required_anti_affinity(), 1);
        assert!(ni.used_ports().conflicts(&HostPort::new(None, None, 80)));
        for p in pods.iter().rev() {
            assert!(ni.remove_pod(&pod_key(p)));
        }
        assert_eq!(snapshot(&ni), before);
        assert!(!ni.remove_pod("default/a"));
        assert!(ni.remove_pod("default/base"));
        assert_eq!(ni.requested(), &Resources::default());
        assert!(ni.used_ports().is_empty());
    }

    #[test]
    fn re_adding_a_pod_replaces_it() {
        let mut ni = NodeInfo::new(Arc::new(node("n1").build()));
        ni.add_pod(Arc::new(pod("d", "a").cpu("100m").build()));
        ni.add_pod(Arc::new(pod("d", "a").cpu("300m").build()));
        assert_eq!(ni.num_pods(), 1);
        assert_eq!(ni.requested().milli_cpu, 300);
    }

    #[test]
    fn cluster_pending_pods_and_index() {
        let mut c = ClusterState::new();
        c.add_pod("n2", Arc::new(pod("d", "early").cpu("1").build()));
        assert_eq!(c.pending_pods(), 1);
        c.upsert_node(Arc::new(node("n1").image("nginx:1", 100).build()));
        c.upsert_node(Arc::new(node("n2").image("nginx:1", 100).build()));
        c.upsert_node(Arc::new(node("n3").build()));
        assert_eq!(c.pending_pods(), 0);
        assert_eq!(c.get("n2").map(|n| n.requested().milli_cpu), Some(1000));
        assert_eq!(c.image_node_count("nginx:1"), 2);

        // update keeps pods, refreshes images
        c.upsert_node(Arc::new(node("n2").build()));
        assert_eq!(c.get("n2").map(|n| n.num_pods()), Some(1));
        assert_eq!(c.image_node_count("nginx:1"), 1);

        // removal keeps the index consistent and parks the pods
        assert!(c.remove_node("n1"));
        assert!(!c.remove_node("n1"));
        assert_eq!(c.len(), 2);
        for (i, n) in c.nodes().iter().enumerate() {
            assert_eq!(c.position(n.name()), Some(i));
        }
        assert!(c.remove_node("n2"));
        assert_eq!(c.pending_pods(), 1);
        assert!(c.remove_pod("n2", "d/early"));
        assert_eq!(c.pending_pods(), 0);
        assert!(!c.remove_pod("n2", "d/early"));
        assert_eq!(c.image_node_count("nginx:1"), 0);

        c.add_pod("n3", Arc::new(pod("d", "x").build()));
        assert!(c.remove_pod("n3", "d/x"));

        // cluster-wide affinity counts follow every path
        c.add_pod(
            "n3",
            Arc::new(pod("d", "anti").anti_affinity("a", "b", "zone").build()),
        );
        c.add_pod(
            "n9",
            Arc::new(pod("d", "aff").affinity("a", "b", "zone").build()),
        );
        assert_eq!(
            (c.pods_with_affinity(), c.pods_with_required_anti_affinity()),
            (1, 1)
        );
        c.upsert_node(Arc::new(node("n9").build()));
        assert_eq!(
            (c.pods_with_affinity(), c.pods_with_required_anti_affinity()),
            (2, 1)
        );
        assert!(c.remove_node("n3"));
        assert_eq!(
            (c.pods_with_affinity(), c.pods_with_required_anti_affinity()),
            (1, 0)
        );
        assert!(c.remove_pod("n9", "d/aff"));
        assert_eq!(
            (c.pods_with_affinity(), c.pods_with_required_anti_affinity()),
            (0, 0)
        );
        assert!(c.remove_pod("n3", "d/anti"));
        c.upsert_node(Arc::new(node("n3").build()));
        assert_eq!((&c).into_iter().count(), 2);
    }
}
