//! InterPodAffinity: required pod affinity and anti-affinity (filter), the required
//! anti-affinity of pods already placed (filter), and preferred terms of both sides (score).
//!
//! Counts are precomputed once per pod over the whole cluster, keyed by topology pair
//! (`topologyKey`, node label value), so the per-node filter is a few map lookups.
//!
//! Namespaces: a term applies to the namespaces it lists; with neither `namespaces` nor
//! `namespaceSelector`, to its own pod's namespace; a `namespaceSelector: {}` means every
//! namespace. A non-empty `namespaceSelector` needs namespace labels, which this crate does
//! not see: it selects no namespace (only the listed ones count).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::labels::{LabelSelector, Requirement};
use crate::nodeinfo::ClusterState;

/// Filter reason: the pod's required affinity is not satisfied on the node.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Filter reason: the pod's required anti-affinity is violated on the node.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Filter reason: a placed pod's required anti-affinity forbids the pod on the node.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Weight given to a placed pod's *required* affinity terms when scoring (upstream
/// `hardPodAffinityWeight` default).
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// A parsed pod (anti-)affinity term.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    namespaces: Vec<String>,
    all_namespaces: bool,
    selector: LabelSelector,
    /// The term's topology key.
    pub topology_key: String,
}

impl AffinityTerm {
    /// Parses a term of `owner`'s spec (its namespace is the default, its labels feed
    /// `matchLabelKeys`/`mismatchLabelKeys`).
    pub fn new(owner: &Pod, t: &PodAffinityTerm) -> AffinityTerm {
        let owner_ns = owner.metadata.namespace.as_deref().unwrap_or("");
        let listed = t.namespaces.as_deref().unwrap_or(&[]);
        let namespaces = if listed.is_empty() && t.namespace_selector.is_none() {
            vec![owner_ns.to_string()]
        } else {
            listed.to_vec()
        };
        let all_namespaces = t.namespace_selector.as_ref().is_some_and(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        });
        let mut selector = LabelSelector::from_api(t.label_selector.as_ref());
        let owner_labels = owner.metadata.labels.as_ref();
        for key in t.match_label_keys.iter().flatten() {
            if let Some(v) = owner_labels.and_then(|l| l.get(key)) {
                selector.push(Requirement::In(key.clone(), vec![v.clone()]));
            }
        }
        for key in t.mismatch_label_keys.iter().flatten() {
            if let Some(v) = owner_labels.and_then(|l| l.get(key)) {
                selector.push(Requirement::NotIn(key.clone(), vec![v.clone()]));
            }
        }
        AffinityTerm {
            namespaces,
            all_namespaces,
            selector,
            topology_key: t.topology_key.clone(),
        }
    }

    /// Whether `pod` is one of the pods the term refers to (namespace and labels).
    pub fn matches(&self, pod: &Pod) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        (self.all_namespaces || self.namespaces.iter().any(|n| n == ns))
            && self.selector.matches(pod.metadata.labels.as_ref())
    }
}

/// A preferred term with its weight.
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1..100).
    pub weight: i64,
}

/// A pod's parsed pod affinity and anti-affinity.
#[derive(Clone, Debug, Default)]
pub struct PodAffinityInfo {
    /// `podAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_affinity: Vec<AffinityTerm>,
    /// `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// `podAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
}

impl PodAffinityInfo {
    /// Parses the pod's affinity; `None` when it has neither `podAffinity` nor
    /// `podAntiAffinity`.
    pub fn of(pod: &Pod) -> Option<PodAffinityInfo> {
        let affinity = pod.spec.as_ref()?.affinity.as_ref()?;
        if affinity.pod_affinity.is_none() && affinity.pod_anti_affinity.is_none() {
            return None;
        }
        let req = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::new(pod, t))
                .collect()
        };
        let pref = |terms: Option<&Vec<WeightedPodAffinityTerm>>| -> Vec<WeightedAffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| WeightedAffinityTerm {
                    term: AffinityTerm::new(pod, &t.pod_affinity_term),
                    weight: i64::from(t.weight),
                })
                .collect()
        };
        let pa = affinity.pod_affinity.as_ref();
        let paa = affinity.pod_anti_affinity.as_ref();
        Some(PodAffinityInfo {
            required_affinity: req(pa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti_affinity: req(paa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_affinity: pref(pa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_anti_affinity: pref(paa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
        })
    }

    /// Whether the pod has required anti-affinity terms.
    pub fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity.is_empty()
    }

    /// Whether the pod has preferred (anti-)affinity terms.
    pub fn has_preferred(&self) -> bool {
        !self.preferred_affinity.is_empty() || !self.preferred_anti_affinity.is_empty()
    }
}

/// Counts or scores keyed by topology key, then topology value.
pub type TopologyMap = HashMap<String, HashMap<String, i64>>;

fn bump(m: &mut TopologyMap, labels: Option<&BTreeMap<String, String>>, key: &str, delta: i64) {
    if let Some(v) = labels.and_then(|l| l.get(key)) {
        let inner = m.entry(key.to_string()).or_default();
        let e = inner.entry(v.clone()).or_insert(0);
        *e += delta;
        if *e == 0 {
            inner.remove(v);
            if inner.is_empty() {
                m.remove(key);
            }
        }
    }
}

fn lookup(m: &TopologyMap, key: &str, labels: Option<&BTreeMap<String, String>>) -> i64 {
    labels
        .and_then(|l| l.get(key))
        .and_then(|v| m.get(key).and_then(|inner| inner.get(v)))
        .copied()
        .unwrap_or(0)
}

/// InterPodAffinity PreFilter state.
#[derive(Debug)]
pub struct InterPodFilter {
    affinity: Vec<AffinityTerm>,
    anti_affinity: Vec<AffinityTerm>,
    /// Pods matching all of the incoming pod's required affinity terms, per topology pair.
    affinity_counts: TopologyMap,
    /// Pods matching each required anti-affinity term of the incoming pod.
    anti_affinity_counts: TopologyMap,
    /// Placed pods' required anti-affinity terms matching the incoming pod.
    existing_anti_affinity: TopologyMap,
    /// The incoming pod matches all its own required affinity terms.
    self_affine: bool,
}

impl InterPodFilter {
    /// Precomputes the counts; `None` when there is nothing to check (the pod has no
    /// required terms and no placed pod's required anti-affinity matches it).
    pub fn new(
        pod: &Pod,
        info: Option<&PodAffinityInfo>,
        cluster: &ClusterState,
    ) -> Option<InterPodFilter> {
        let affinity = info
            .map(|i| i.required_affinity.clone())
            .unwrap_or_default();
        let anti_affinity = info
            .map(|i| i.required_anti_affinity.clone())
            .unwrap_or_default();
        let mut existing_anti_affinity = TopologyMap::new();
        let mut affinity_counts = TopologyMap::new();
        let mut anti_affinity_counts = TopologyMap::new();
        let has_own = !affinity.is_empty() || !anti_affinity.is_empty();
        if !has_own && cluster.pods_with_required_anti_affinity() == 0 {
            return None;
        }
        for ni in cluster.iter() {
            let check_existing = ni.pods_with_required_anti_affinity() > 0;
            if !check_existing && !has_own {
                continue;
            }
            let labels = ni.node().metadata.labels.as_ref();
            for existing in ni.pods() {
                if check_existing && let Some(ea) = existing.affinity.as_ref() {
                    for t in &ea.required_anti_affinity {
                        if t.matches(pod) {
                            bump(&mut existing_anti_affinity, labels, &t.topology_key, 1);
                        }
                    }
                }
                if !affinity.is_empty() && affinity.iter().all(|t| t.matches(&existing.pod)) {
                    for t in &affinity {
                        bump(&mut affinity_counts, labels, &t.topology_key, 1);
                    }
                }
                for t in &anti_affinity {
                    if t.matches(&existing.pod) {
                        bump(&mut anti_affinity_counts, labels, &t.topology_key, 1);
                    }
                }
            }
        }
        if existing_anti_affinity.is_empty() && !has_own {
            return None;
        }
        let self_affine = !affinity.is_empty() && affinity.iter().all(|t| t.matches(pod));
        Some(InterPodFilter {
            affinity,
            anti_affinity,
            affinity_counts,
            anti_affinity_counts,
            existing_anti_affinity,
            self_affine,
        })
    }

    /// The InterPodAffinity filter: affinity, then anti-affinity, then placed pods'
    /// anti-affinity.
    pub fn filter(&self, node: &Node) -> Result<(), &'static str> {
        let labels = node.metadata.labels.as_ref();
        // Affinity: every topology key must exist on the node, and each term must have
        // matching pods in the node's domain — unless no pod anywhere matches and the pod
        // matches its own terms (the first pod of a self-affine group).
        let mut pods_exist = true;
        for t in &self.affinity {
            if labels.and_then(|l| l.get(&t.topology_key)).is_none() {
                return Err(REASON_AFFINITY);
            }
            if lookup(&self.affinity_counts, &t.topology_key, labels) <= 0 {
                pods_exist = false;
            }
        }
        let first_of_group = self.affinity_counts.is_empty() && self.self_affine;
        if !(pods_exist || first_of_group) {
            return Err(REASON_AFFINITY);
        }
        if !self.anti_affinity_counts.is_empty()
            && self
                .anti_affinity
                .iter()
                .any(|t| lookup(&self.anti_affinity_counts, &t.topology_key, labels) > 0)
        {
            return Err(REASON_ANTI_AFFINITY);
        }
        if !self.existing_anti_affinity.is_empty()
            && let Some(labels) = labels
            && labels.iter().any(|(k, v)| {
                self.existing_anti_affinity
                    .get(k)
                    .and_then(|inner| inner.get(v))
                    .is_some_and(|n| *n > 0)
            })
        {
            return Err(REASON_EXISTING_ANTI_AFFINITY);
        }
        Ok(())
    }
}

/// InterPodAffinity PreScore: the score of each topology pair from preferred terms of the
/// incoming pod (against placed pods) and from placed pods' terms (against the incoming
/// pod; their required affinity counts [`HARD_POD_AFFINITY_WEIGHT`]). `None` when no term
/// applies anywhere (every node then scores 0).
pub fn prescore(
    pod: &Pod,
    info: Option<&PodAffinityInfo>,
    cluster: &ClusterState,
) -> Option<TopologyMap> {
    let has_constraints = info.is_some_and(|i| i.has_preferred());
    if !has_constraints && cluster.pods_with_affinity() == 0 {
        return None;
    }
    let mut scores = TopologyMap::new();
    for ni in cluster.iter() {
        if !has_constraints && ni.pods_with_affinity() == 0 {
            continue;
        }
        let Some(labels) = ni.node().metadata.labels.as_ref().filter(|l| !l.is_empty()) else {
            continue;
        };
        for existing in ni.pods() {
            if let Some(info) = info.filter(|_| has_constraints) {
                for w in &info.preferred_affinity {
                    if w.term.matches(&existing.pod) {
                        bump(&mut scores, Some(labels), &w.term.topology_key, w.weight);
                    }
                }
                for w in &info.preferred_anti_affinity {
                    if w.term.matches(&existing.pod) {
                        bump(&mut scores, Some(labels), &w.term.topology_key, -w.weight);
                    }
                }
            }
            let Some(ea) = existing.affinity.as_ref() else {
                continue;
            };
            for t in &ea.required_affinity {
                if t.matches(pod) {
                    bump(
                        &mut scores,
                        Some(labels),
                        &t.topology_key,
                        HARD_POD_AFFINITY_WEIGHT,
                    );
                }
            }
            for w in &ea.preferred_affinity {
                if w.term.matches(pod) {
                    bump(&mut scores, Some(labels), &w.term.topology_key, w.weight);
                }
            }
            for w in &ea.preferred_anti_affinity {
                if w.term.matches(pod) {
                    bump(&mut scores, Some(labels), &w.term.topology_key, -w.weight);
                }
            }
        }
    }
    (!scores.is_empty()).then_some(scores)
}

/// InterPodAffinity raw score of a node: the sum of its topology pairs' scores.
pub fn score(scores: &TopologyMap, node: &Node) -> i64 {
    let Some(labels) = node.metadata.labels.as_ref() else {
        return 0;
    };
    scores
        .iter()
        .filter_map(|(k, inner)| labels.get(k).and_then(|v| inner.get(v)))
        .sum()
}

/// InterPodAffinity NormalizeScore: min-max scaling to 0..100 (all 0 when every node has
/// the same score).
pub fn normalize(raw: &mut [i64]) {
    let (Some(min), Some(max)) = (raw.iter().min().copied(), raw.iter().max().copied()) else {
        return;
    };
    let diff = max - min;
    for s in raw.iter_mut() {
        *s = if diff > 0 {
            (100.0 * ((*s - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
}
