//! One scheduling decision: kube-scheduler's `schedulePod` without extenders, nominated
//! nodes or preemption. Filter nodes round-robin from where the previous decision stopped
//! until enough feasible nodes are found (`numFeasibleNodesToFind`), score them, pick the
//! best (ties broken pseudo-randomly), or explain why no node fits ([`FitError`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::nodeinfo::{ClusterState, NodeInfo, pod_key};
use crate::plugins::{PreFilter, REASON_PREFILTER_NODE_AFFINITY, Volumes};

/// Below this many nodes every node is evaluated.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to find before scoring (upstream `numFeasibleNodesToFind`):
/// all nodes below 100; otherwise `percentage` of them (adaptive `50 - nodes/125`, at least
/// 5 %, when unset or 0), and never fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let percentage = match percentage {
        Some(p) if p > 0 => (p as usize).min(100),
        _ => 50usize
            .saturating_sub(num_all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
    };
    (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The outcome of a successful decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// Nodes the filters ran on.
    pub evaluated: usize,
    /// Nodes that passed them.
    pub feasible: usize,
}

/// Why no node fits. Its `Display` is kube-scheduler's `FitError` message
/// (`0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {...}.`)
/// without the ` preemption: ...` part, since this scheduler does not preempt; with no node
/// at all it is upstream's `no nodes available to schedule pods`.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct FitError {
    /// Nodes in the cluster.
    pub num_all_nodes: usize,
    /// Filter reasons and how many nodes gave each.
    pub reasons: BTreeMap<String, usize>,
    /// Set when a PreFilter rejected the pod for every node (then `reasons` is empty).
    pub pre_filter_msg: Option<String>,
}

impl FitError {
    /// The message (also what `Display` prints).
    pub fn message(&self) -> String {
        if self.num_all_nodes == 0 {
            return "no nodes available to schedule pods".to_string();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(pre) = &self.pre_filter_msg {
            msg.push_str(&format!(" {pre}."));
            return msg;
        }
        // Upstream sorts the formatted "count reason" strings, so "10 x" sorts before "2 y".
        let mut parts: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        parts.sort_unstable();
        if !parts.is_empty() {
            msg.push_str(&format!(" {}.", parts.join(", ")));
        }
        msg
    }
}

/// The scheduling algorithm's state between decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Algorithm {
    /// Where the next decision starts filtering (round-robin over the cluster's node order).
    pub next_start: usize,
    /// `percentageOfNodesToScore` (1..100); `None` or 0 for the adaptive default.
    pub percentage_of_nodes_to_score: Option<u32>,
}

impl Algorithm {
    /// An algorithm starting at the first node.
    pub fn new(percentage_of_nodes_to_score: Option<u32>) -> Algorithm {
        Algorithm {
            next_start: 0,
            percentage_of_nodes_to_score,
        }
    }

    /// Picks a node for `pod`. A pod that already has `spec.nodeName` is not this
    /// function's business (the caller binds or skips it); it would be scheduled like any
    /// other. The caller records the chosen node in `cluster` (assume) before the next
    /// decision.
    pub fn schedule(
        &mut self,
        pod: &Pod,
        cluster: &ClusterState,
        volumes: &dyn Volumes,
    ) -> Result<ScheduleResult, FitError> {
        let num_all = cluster.len();
        if num_all == 0 {
            return Err(FitError::default());
        }
        let pf = match PreFilter::new(pod, cluster, volumes) {
            Ok(pf) => pf,
            Err(msg) => {
                return Err(FitError {
                    num_all_nodes: num_all,
                    reasons: BTreeMap::new(),
                    pre_filter_msg: Some(msg),
                });
            }
        };
        let all = cluster.nodes();
        let restricted: Option<Vec<usize>> = pf.node_names().map(|names| {
            let mut v: Vec<usize> = names.iter().filter_map(|n| cluster.position(n)).collect();
            v.sort_unstable();
            v
        });
        let candidates = restricted.as_ref().map_or(num_all, Vec::len);
        let to_find = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, candidates);
        let start = self.next_start % num_all;
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(to_find.min(candidates));
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut failed = 0usize;
        for i in 0..candidates {
            if feasible.len() >= to_find {
                break;
            }
            let pos = (start % candidates + i) % candidates;
            let ni = match &restricted {
                Some(v) => &all[v[pos]],
                None => &all[pos],
            };
            match pf.filter(ni) {
                Ok(()) => feasible.push(ni),
                Err(rs) => {
                    failed += 1;
                    for r in rs {
                        *reasons.entry(r).or_insert(0) += 1;
                    }
                }
            }
        }
        self.next_start = (start + feasible.len() + failed) % num_all;

        if feasible.is_empty() {
            if restricted.is_some() && failed < num_all {
                *reasons
                    .entry(REASON_PREFILTER_NODE_AFFINITY.to_string())
                    .or_insert(0) += num_all - failed;
            }
            let err = FitError {
                num_all_nodes: num_all,
                reasons,
                pre_filter_msg: None,
            };
            tracing::trace!(pod = %pod_key(pod), error = %err, "no node fits");
            return Err(err);
        }
        let evaluated = feasible.len() + failed;
        let chosen = if feasible.len() == 1 {
            feasible[0]
        } else {
            let scores = pf.score(cluster, &feasible);
            let mut rng = SplitMix64::new(seed(pod, start));
            let mut best = 0usize;
            let mut ties = 1u64;
            for i in 1..scores.len() {
                if scores[i].total > scores[best].total {
                    best = i;
                    ties = 1;
                } else if scores[i].total == scores[best].total {
                    // reservoir sampling: each tied node is chosen with probability 1/ties
                    ties += 1;
                    if rng.next().is_multiple_of(ties) {
                        best = i;
                    }
                }
            }
            feasible[best]
        };
        let result = ScheduleResult {
            node: chosen.name().to_string(),
            evaluated,
            feasible: feasible.len(),
        };
        tracing::trace!(pod = %pod_key(pod), node = %result.node, evaluated, feasible = result.feasible, "scheduled");
        Ok(result)
    }
}

/// A per-decision seed: the pod's identity mixed with where the decision started.
fn seed(pod: &Pod, start: usize) -> u64 {
    // FNV-1a over the uid (or namespace/name)
    let id = pod.metadata.uid.clone().unwrap_or_else(|| pod_key(pod));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (start as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A tiny deterministic PRNG (SplitMix64) for tie-breaking.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
