//! Test fixtures: small builders for nodes and pods, and an in-memory [`Volumes`].

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerImage, ContainerPort, Node, NodeCondition, NodeSpec, NodeStatus,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodAffinity,
    PodAffinityTerm, PodAntiAffinity, PodSpec, ResourceRequirements, Taint, Toleration,
    TopologySpreadConstraint, Volume, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::Volumes;

pub(crate) struct NodeBuilder {
    node: Node,
}

pub(crate) fn node(name: &str) -> NodeBuilder {
    let alloc: BTreeMap<String, Quantity> = [("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect();
    NodeBuilder {
        node: Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus {
                allocatable: Some(alloc),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        },
    }
}

impl NodeBuilder {
    pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
        self.node
            .metadata
            .labels
            .get_or_insert_default()
            .insert(k.into(), v.into());
        self
    }
    fn alloc(mut self, k: &str, v: &str) -> Self {
        if let Some(s) = self.node.status.as_mut() {
            s.allocatable
                .get_or_insert_default()
                .insert(k.into(), Quantity(v.into()));
        }
        self
    }
    pub(crate) fn cpu(self, v: &str) -> Self {
        self.alloc("cpu", v)
    }
    pub(crate) fn memory(self, v: &str) -> Self {
        self.alloc("memory", v)
    }
    pub(crate) fn ephemeral(self, v: &str) -> Self {
        self.alloc("ephemeral-storage", v)
    }
    pub(crate) fn pods(self, n: i64) -> Self {
        self.alloc("pods", &n.to_string())
    }
    pub(crate) fn scalar(self, k: &str, v: &str) -> Self {
        self.alloc(k, v)
    }
    pub(crate) fn taint(mut self, k: &str, v: &str, effect: &str) -> Self {
        if let Some(s) = self.node.spec.as_mut() {
            s.taints.get_or_insert_default().push(Taint {
                key: k.into(),
                value: (!v.is_empty()).then(|| v.to_string()),
                effect: effect.into(),
                ..Default::default()
            });
        }
        self
    }
    pub(crate) fn unschedulable(mut self) -> Self {
        if let Some(s) = self.node.spec.as_mut() {
            s.unschedulable = Some(true);
        }
        self
    }
    pub(crate) fn ready(mut self, status: &str) -> Self {
        if let Some(s) = self.node.status.as_mut() {
            s.conditions = Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                ..Default::default()
            }]);
        }
        self
    }
    pub(crate) fn no_conditions(mut self) -> Self {
        if let Some(s) = self.node.status.as_mut() {
            s.conditions = None;
        }
        self
    }
    pub(crate) fn image(mut self, name: &str, size: i64) -> Self {
        if let Some(s) = self.node.status.as_mut() {
            s.images.get_or_insert_default().push(ContainerImage {
                names: Some(vec![name.to_string()]),
                size_bytes: Some(size),
            });
        }
        self
    }
    pub(crate) fn build(self) -> Node {
        self.node
    }
}

pub(crate) struct PodBuilder {
    pod: Pod,
}

pub(crate) fn pod(ns: &str, name: &str) -> PodBuilder {
    PodBuilder {
        pod: Pod {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                uid: Some(format!("uid-{ns}-{name}")),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("app:1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        },
    }
}

fn term(key: &str, value: &str, topology: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some([(key.to_string(), value.to_string())].into()),
            ..Default::default()
        }),
        topology_key: topology.into(),
        ..Default::default()
    }
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_default()
    }
    fn container(&mut self) -> &mut Container {
        let spec = self.spec();
        if spec.containers.is_empty() {
            spec.containers.push(Container {
                name: "c".into(),
                ..Default::default()
            });
        }
        &mut spec.containers[0]
    }
    fn request(mut self, k: &str, v: &str) -> Self {
        self.container()
            .resources
            .get_or_insert_with(ResourceRequirements::default)
            .requests
            .get_or_insert_default()
            .insert(k.into(), Quantity(v.into()));
        self
    }
    pub(crate) fn cpu(self, v: &str) -> Self {
        self.request("cpu", v)
    }
    pub(crate) fn memory(self, v: &str) -> Self {
        self.request("memory", v)
    }
    pub(crate) fn ephemeral(self, v: &str) -> Self {
        self.request("ephemeral-storage", v)
    }
    pub(crate) fn scalar(self, k: &str, v: &str) -> Self {
        self.request(k, v)
    }
    pub(crate) fn image(mut self, image: &str) -> Self {
        self.container().image = Some(image.into());
        self
    }
    pub(crate) fn host_port(self, port: i32) -> Self {
        self.host_port_ip("", port, "")
    }
    pub(crate) fn host_port_ip(mut self, ip: &str, port: i32, proto: &str) -> Self {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        self.container()
            .ports
            .get_or_insert_default()
            .push(ContainerPort {
                container_port: port,
                host_port: Some(port),
                host_ip: opt(ip),
                protocol: opt(proto),
                ..Default::default()
            });
        self
    }
    pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
        self.pod
            .metadata
            .labels
            .get_or_insert_default()
            .insert(k.into(), v.into());
        self
    }
    pub(crate) fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_default()
            .insert(k.into(), v.into());
        self
    }
    pub(crate) fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        self.spec()
            .tolerations
            .get_or_insert_default()
            .push(Toleration {
                key: opt(key),
                operator: opt(op),
                value: opt(value),
                effect: opt(effect),
                ..Default::default()
            });
        self
    }
    fn affinity_mut(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_default()
    }
    /// Required pod affinity to pods labelled `key=value`, per `topology`.
    pub(crate) fn affinity(mut self, key: &str, value: &str, topology: &str) -> Self {
        self.affinity_mut()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_default()
            .push(term(key, value, topology));
        self
    }
    /// Required pod anti-affinity to pods labelled `key=value`, per `topology`.
    pub(crate) fn anti_affinity(mut self, key: &str, value: &str, topology: &str) -> Self {
        self.affinity_mut()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_default()
            .push(term(key, value, topology));
        self
    }
    /// Required anti-affinity with an arbitrary term.
    pub(crate) fn anti_affinity_term(mut self, t: PodAffinityTerm) -> Self {
        self.affinity_mut()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_default()
            .push(t);
        self
    }
    pub(crate) fn preferred_affinity(
        mut self,
        key: &str,
        value: &str,
        topology: &str,
        weight: i32,
    ) -> Self {
        self.affinity_mut()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_default()
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: term(key, value, topology),
            });
        self
    }
    pub(crate) fn preferred_anti_affinity(
        mut self,
        key: &str,
        value: &str,
        topology: &str,
        weight: i32,
    ) -> Self {
        self.affinity_mut()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_default()
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: term(key, value, topology),
            });
        self
    }
    /// A topology spread constraint over pods labelled `key=value`.
    pub(crate) fn spread(
        mut self,
        topology: &str,
        max_skew: i32,
        when: &str,
        key: &str,
        value: &str,
    ) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_default()
            .push(TopologySpreadConstraint {
                max_skew,
                topology_key: topology.into(),
                when_unsatisfiable: when.into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some([(key.to_string(), value.to_string())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        self
    }
    /// Sets `minDomains` on the last spread constraint.
    pub(crate) fn min_domains(mut self, n: i32) -> Self {
        if let Some(c) = self
            .spec()
            .topology_spread_constraints
            .as_mut()
            .and_then(|v| v.last_mut())
        {
            c.min_domains = Some(n);
        }
        self
    }
    pub(crate) fn pvc(mut self, claim: &str) -> Self {
        self.spec().volumes.get_or_insert_default().push(Volume {
            name: claim.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }
    pub(crate) fn build(self) -> Pod {
        self.pod
    }
}

/// In-memory claims and volumes.
#[derive(Default)]
pub(crate) struct FakeVolumes {
    pub(crate) pvcs: HashMap<(String, String), PersistentVolumeClaim>,
    pub(crate) pvs: HashMap<String, PersistentVolume>,
}

impl Volumes for FakeVolumes {
    fn pvc(&self, ns: &str, name: &str) -> Option<&PersistentVolumeClaim> {
        self.pvcs.get(&(ns.to_string(), name.to_string()))
    }
    fn pv(&self, name: &str) -> Option<&PersistentVolume> {
        self.pvs.get(name)
    }
}
