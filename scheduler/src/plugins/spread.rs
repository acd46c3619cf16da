//! PodTopologySpread: `DoNotSchedule` constraints filter (skew against the emptiest
//! eligible domain, with `minDomains`), `ScheduleAnyway` constraints score.
//!
//! Eligible domains come from nodes that carry every constraint's topology key and pass the
//! node inclusion policies (`nodeAffinityPolicy` default Honor, `nodeTaintsPolicy` default
//! Ignore). Matching pods are counted in the incoming pod's namespace only, terminating pods
//! excluded; an empty selector counts nothing (upstream quirk). Cluster-level default
//! constraints are not applied.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Node, Pod, TopologySpreadConstraint};

use super::labels::{LabelSelector, Requirement};
use super::node_affinity::RequiredNodeAffinity;
use super::taints::find_untolerated_taint;
use crate::nodeinfo::{ClusterState, NodeInfo};

/// Filter reason when placing the pod on the node would exceed a constraint's skew.
pub const REASON_SPREAD: &str = "node(s) didn't match pod topology spread constraints";
/// Filter reason when the node lacks a constraint's topology key.
pub const REASON_SPREAD_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// The hostname label; constraints on it are counted per node.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// A parsed topology spread constraint.
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: LabelSelector,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_taints: bool,
}

fn constraints(pod: &Pod, when: &str) -> Vec<Constraint> {
    let labels = pod.metadata.labels.as_ref();
    pod.spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c: &TopologySpreadConstraint| {
            let mut selector = LabelSelector::from_api(c.label_selector.as_ref());
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = labels.and_then(|l| l.get(key)) {
                    selector.push(Requirement::In(key.clone(), vec![v.clone()]));
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

fn has_all_keys(node: &Node, cs: &[Constraint]) -> bool {
    let labels = node.metadata.labels.as_ref();
    cs.iter()
        .all(|c| labels.is_some_and(|l| l.contains_key(&c.topology_key)))
}

fn included(c: &Constraint, pod: &Pod, node: &Node, req: &RequiredNodeAffinity) -> bool {
    if c.honor_node_affinity && !req.matches(node) {
        return false;
    }
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[]);
    !(c.honor_taints && find_untolerated_taint(node, tolerations).is_some())
}

fn count_matching(ni: &NodeInfo, selector: &LabelSelector, ns: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    ni.pods()
        .filter(|p| {
            p.pod.metadata.deletion_timestamp.is_none()
                && p.pod.metadata.namespace.as_deref().unwrap_or("") == ns
                && selector.matches(p.pod.metadata.labels.as_ref())
        })
        .count() as i64
}

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a String> {
    node.metadata.labels.as_ref().and_then(|l| l.get(key))
}

/// PodTopologySpread PreFilter state for the `DoNotSchedule` constraints.
#[derive(Debug)]
pub struct SpreadFilter {
    constraints: Vec<Constraint>,
    /// Per constraint: matching pods per eligible domain.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: whether the incoming pod matches its own selector.
    self_match: Vec<bool>,
    /// Per constraint: the global minimum (`i32::MAX` with no domain, as upstream).
    min: Vec<i64>,
}

impl SpreadFilter {
    /// Counts matching pods per domain over the whole cluster; `None` when the pod has no
    /// `DoNotSchedule` constraint.
    pub fn new(
        pod: &Pod,
        req: &RequiredNodeAffinity,
        cluster: &ClusterState,
    ) -> Option<SpreadFilter> {
        let cs = constraints(pod, "DoNotSchedule");
        if cs.is_empty() {
            return None;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let mut counts = vec![HashMap::<String, i64>::new(); cs.len()];
        for ni in cluster {
            let node = ni.node();
            if !has_all_keys(node, &cs) {
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if !included(c, pod, node, req) {
                    continue;
                }
                let Some(v) = label(node, &c.topology_key) else {
                    continue;
                };
                let n = count_matching(ni, &c.selector, ns);
                *counts[i].entry(v.clone()).or_insert(0) += n;
            }
        }
        let min = counts
            .iter()
            .map(|m| m.values().copied().min().unwrap_or(i64::from(i32::MAX)))
            .collect();
        let self_match = cs
            .iter()
            .map(|c| c.selector.matches(pod.metadata.labels.as_ref()))
            .collect();
        Some(SpreadFilter {
            constraints: cs,
            counts,
            self_match,
            min,
        })
    }

    /// The PodTopologySpread filter.
    pub fn filter(&self, node: &Node) -> Result<(), &'static str> {
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(v) = label(node, &c.topology_key) else {
                return Err(REASON_SPREAD_MISSING_LABEL);
            };
            let min = if (self.counts[i].len() as i64) < c.min_domains {
                0
            } else {
                self.min[i]
            };
            let matching = self.counts[i].get(v).copied().unwrap_or(0);
            let skew = matching + i64::from(self.self_match[i]) - min;
            if skew > c.max_skew {
                return Err(REASON_SPREAD);
            }
        }
        Ok(())
    }
}

/// PodTopologySpread PreScore state for the `ScheduleAnyway` constraints.
#[derive(Debug)]
pub struct SpreadScore {
    constraints: Vec<Constraint>,
    namespace: String,
    /// Per constraint (not hostname): matching pods per domain present among the feasible
    /// nodes.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: `ln(number of domains + 2)`.
    weights: Vec<f64>,
}

impl SpreadScore {
    /// Builds the scoring state over the feasible nodes; `None` when the pod has no
    /// `ScheduleAnyway` constraint.
    pub fn new(
        pod: &Pod,
        req: &RequiredNodeAffinity,
        cluster: &ClusterState,
        feasible: &[&NodeInfo],
    ) -> Option<SpreadScore> {
        let cs = constraints(pod, "ScheduleAnyway");
        if cs.is_empty() {
            return None;
        }
        let mut counts = vec![HashMap::<String, i64>::new(); cs.len()];
        let mut ignored = 0usize;
        for ni in feasible {
            let node = ni.node();
            if !has_all_keys(node, &cs) {
                ignored += 1;
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if c.topology_key != LABEL_HOSTNAME
                    && let Some(v) = label(node, &c.topology_key)
                {
                    counts[i].entry(v.clone()).or_insert(0);
                }
            }
        }
        let weights = cs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    feasible.len() - ignored
                } else {
                    counts[i].len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        for ni in cluster {
            let node = ni.node();
            if !has_all_keys(node, &cs) {
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if !included(c, pod, node, req) {
                    continue;
                }
                let Some(v) = label(node, &c.topology_key) else {
                    continue;
                };
                if counts[i].contains_key(v) {
                    let n = count_matching(ni, &c.selector, ns);
                    if let Some(e) = counts[i].get_mut(v) {
                        *e += n;
                    }
                }
            }
        }
        Some(SpreadScore {
            constraints: cs,
            namespace: ns.to_string(),
            counts,
            weights,
        })
    }

    /// Raw score of a feasible node (lower is better); `None` for a node lacking a topology
    /// key (it gets 0 after normalisation).
    pub fn score(&self, ni: &NodeInfo) -> Option<i64> {
        let node = ni.node();
        if !has_all_keys(node, &self.constraints) {
            return None;
        }
        let mut score = 0.0;
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(v) = label(node, &c.topology_key) else {
                continue;
            };
            let cnt = if c.topology_key == LABEL_HOSTNAME {
                count_matching(ni, &c.selector, &self.namespace)
            } else {
                self.counts[i].get(v).copied().unwrap_or(0)
            };
            score += cnt as f64 * self.weights[i] + (c.max_skew - 1) as f64;
        }
        Some(score.round() as i64)
    }

    /// NormalizeScore: `100 × (max + min - score) / max`, 100 for all when max is 0,
    /// 0 for ignored nodes.
    pub fn normalize(raw: &[Option<i64>]) -> Vec<i64> {
        let valid = raw.iter().flatten();
        let min = valid.clone().copied().min().unwrap_or(i64::MAX);
        let max = valid.copied().max().unwrap_or(0).max(0);
        raw.iter()
            .map(|s| match s {
                None => 0,
                Some(_) if max == 0 => 100,
                Some(s) => 100 * (max + min - s) / max,
            })
            .collect()
    }
}
