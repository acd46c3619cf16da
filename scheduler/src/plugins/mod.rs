//! The scheduling plugins, run the way kube-scheduler's default profile runs them:
//! [`PreFilter::new`] precomputes everything that depends on the pod alone (or on the pod and
//! the whole cluster), [`PreFilter::filter`] checks one node cheaply, and
//! [`PreFilter::score`] scores the feasible nodes, normalising across them and weighting
//! each plugin with upstream's default weight.
//!
//! Filter order (the first failing plugin gives the node's reasons): NodeUnschedulable,
//! node Ready, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding,
//! PodTopologySpread, InterPodAffinity.

pub mod fit;
pub mod image;
pub mod interpod;
pub mod labels;
pub mod node_affinity;
pub mod ports;
pub mod spread;
pub mod taints;
pub mod volume;

#[cfg(test)]
pub(crate) mod testutil;

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Pod, Toleration};

use crate::nodeinfo::{ClusterState, NodeInfo};
use crate::resources::{Resources, non_zero_requests, pod_requests};
use interpod::{InterPodFilter, PodAffinityInfo};
use node_affinity::{PreferredNodeAffinity, RequiredNodeAffinity};
use ports::HostPort;
use spread::{SpreadFilter, SpreadScore};
use volume::VolumeFilter;
pub use volume::{NoVolumes, Volumes};

/// Reason given to nodes left out by the NodeAffinity PreFilter (the pod is pinned to other
/// node names with `matchFields`).
pub const REASON_PREFILTER_NODE_AFFINITY: &str = "node(s) didn't satisfy plugin(s) [NodeAffinity]";

/// Default score weight of TaintToleration.
pub const WEIGHT_TAINT_TOLERATION: i64 = 3;
/// Default score weight of NodeAffinity.
pub const WEIGHT_NODE_AFFINITY: i64 = 2;
/// Default score weight of NodeResourcesFit.
pub const WEIGHT_RESOURCES_FIT: i64 = 1;
/// Default score weight of NodeResourcesBalancedAllocation.
pub const WEIGHT_BALANCED_ALLOCATION: i64 = 1;
/// Default score weight of InterPodAffinity.
pub const WEIGHT_INTER_POD_AFFINITY: i64 = 2;
/// Default score weight of PodTopologySpread.
pub const WEIGHT_TOPOLOGY_SPREAD: i64 = 2;
/// Default score weight of ImageLocality.
pub const WEIGHT_IMAGE_LOCALITY: i64 = 1;

/// Highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;

/// A node's scores: each plugin's normalised score (0..100) and the weighted total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeScore {
    /// TaintToleration (fewer untolerated `PreferNoSchedule` taints is better).
    pub taint_toleration: i64,
    /// NodeAffinity (preferred terms).
    pub node_affinity: i64,
    /// NodeResourcesFit (LeastAllocated).
    pub resources_fit: i64,
    /// NodeResourcesBalancedAllocation.
    pub balanced_allocation: i64,
    /// InterPodAffinity (preferred terms).
    pub inter_pod_affinity: i64,
    /// PodTopologySpread (`ScheduleAnyway` constraints).
    pub topology_spread: i64,
    /// ImageLocality.
    pub image_locality: i64,
    /// The weighted sum.
    pub total: i64,
}

/// Everything precomputed for one pod in one scheduling cycle.
#[derive(Debug)]
pub struct PreFilter<'a> {
    pod: &'a Pod,
    tolerations: &'a [Toleration],
    requests: Resources,
    non_zero: (i64, i64),
    node_affinity: RequiredNodeAffinity,
    node_names: Option<HashSet<String>>,
    host_ports: Vec<HostPort>,
    volumes: Option<VolumeFilter>,
    spread: Option<SpreadFilter>,
    affinity: Option<PodAffinityInfo>,
    interpod: Option<InterPodFilter>,
}

impl<'a> PreFilter<'a> {
    /// Runs the PreFilter step. `Err` carries the message of a PreFilter rejection (the pod
    /// fits no node, e.g. `persistentvolumeclaim "data" not found`).
    pub fn new(
        pod: &'a Pod,
        cluster: &ClusterState,
        volumes: &dyn Volumes,
    ) -> Result<PreFilter<'a>, String> {
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[]);
        let node_names = node_affinity::prefilter_node_names(pod).map_err(str::to_string)?;
        let node_affinity = RequiredNodeAffinity::of(pod);
        let host_ports = ports::pod_host_ports(pod);
        let requests = pod_requests(pod);
        let non_zero = non_zero_requests(pod);
        let volumes = VolumeFilter::new(pod, volumes)?;
        let spread = SpreadFilter::new(pod, &node_affinity, cluster);
        let affinity = PodAffinityInfo::of(pod);
        let interpod = InterPodFilter::new(pod, affinity.as_ref(), cluster);
        Ok(PreFilter {
            pod,
            tolerations,
            requests,
            non_zero,
            node_affinity,
            node_names,
            host_ports,
            volumes,
            spread,
            affinity,
            interpod,
        })
    }

    /// The node names the pod is restricted to by the NodeAffinity PreFilter, if any.
    pub fn node_names(&self) -> Option<&HashSet<String>> {
        self.node_names.as_ref()
    }

    /// The pod's requests.
    pub fn requests(&self) -> &Resources {
        &self.requests
    }

    /// Runs the filters on a node; `Err` carries the failing plugin's reasons.
    pub fn filter(&self, ni: &NodeInfo) -> Result<(), Vec<String>> {
        let one = |r: &str| vec![r.to_string()];
        let node = ni.node();
        taints::filter_unschedulable(node, self.tolerations).map_err(one)?;
        taints::filter_ready(node, self.tolerations).map_err(one)?;
        taints::filter_taints(node, self.tolerations).map_err(|r| vec![r])?;
        if !self.node_affinity.is_empty() && !self.node_affinity.matches(node) {
            return Err(one(node_affinity::REASON_NODE_AFFINITY));
        }
        if !self.host_ports.is_empty() {
            ports::filter_ports(&self.host_ports, ni.used_ports()).map_err(one)?;
        }
        fit::filter_fit(&self.requests, ni)?;
        if let Some(v) = &self.volumes {
            v.filter(node).map_err(one)?;
        }
        if let Some(s) = &self.spread {
            s.filter(node).map_err(one)?;
        }
        if let Some(ipa) = &self.interpod {
            ipa.filter(node).map_err(one)?;
        }
        Ok(())
    }

    /// Scores the feasible nodes (in the given order).
    pub fn score(&self, cluster: &ClusterState, feasible: &[&NodeInfo]) -> Vec<NodeScore> {
        let n = feasible.len();
        let mut out = vec![NodeScore::default(); n];

        // TaintToleration
        let prefer = taints::prefer_no_schedule_tolerations(self.tolerations);
        let mut raw: Vec<i64> = feasible
            .iter()
            .map(|ni| taints::count_intolerable_prefer_no_schedule(ni.node(), &prefer))
            .collect();
        default_normalize(&mut raw, true);
        for (o, s) in out.iter_mut().zip(&raw) {
            o.taint_toleration = *s;
        }

        // NodeAffinity (skipped without preferred terms)
        if let Some(pref) = PreferredNodeAffinity::of(self.pod) {
            let mut raw: Vec<i64> = feasible.iter().map(|ni| pref.score(ni.node())).collect();
            default_normalize(&mut raw, false);
            for (o, s) in out.iter_mut().zip(&raw) {
                o.node_affinity = *s;
            }
        }

        // NodeResourcesFit and BalancedAllocation (the latter skipped for best-effort pods)
        let actual = (self.requests.milli_cpu, self.requests.memory);
        let best_effort = actual == (0, 0);
        for (o, ni) in out.iter_mut().zip(feasible) {
            o.resources_fit = fit::least_allocated_score(self.non_zero, ni);
            if !best_effort {
                o.balanced_allocation = fit::balanced_allocation_score(actual, ni);
            }
        }

        // InterPodAffinity
        if let Some(tm) = interpod::prescore(self.pod, self.affinity.as_ref(), cluster) {
            let mut raw: Vec<i64> = feasible
                .iter()
                .map(|ni| interpod::score(&tm, ni.node()))
                .collect();
            interpod::normalize(&mut raw);
            for (o, s) in out.iter_mut().zip(&raw) {
                o.inter_pod_affinity = *s;
            }
        }

        // PodTopologySpread
        if let Some(ss) = SpreadScore::new(self.pod, &self.node_affinity, cluster, feasible) {
            let raw: Vec<Option<i64>> = feasible.iter().map(|ni| ss.score(ni)).collect();
            for (o, s) in out.iter_mut().zip(SpreadScore::normalize(&raw)) {
                o.topology_spread = s;
            }
        }

        // ImageLocality
        let images = image::pod_images(self.pod);
        for (o, ni) in out.iter_mut().zip(feasible) {
            o.image_locality = image::score(&images, ni, cluster);
        }

        for o in &mut out {
            o.total = WEIGHT_TAINT_TOLERATION * o.taint_toleration
                + WEIGHT_NODE_AFFINITY * o.node_affinity
                + WEIGHT_RESOURCES_FIT * o.resources_fit
                + WEIGHT_BALANCED_ALLOCATION * o.balanced_allocation
                + WEIGHT_INTER_POD_AFFINITY * o.inter_pod_affinity
                + WEIGHT_TOPOLOGY_SPREAD * o.topology_spread
                + WEIGHT_IMAGE_LOCALITY * o.image_locality;
        }
        out
    }
}

/// Upstream's `DefaultNormalizeScore`: scale to 0..100 by the maximum; `reverse` flips
/// (all 100 when every raw score is 0).
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}

#[cfg(test)]
mod tests;
