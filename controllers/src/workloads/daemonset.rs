//! The DaemonSet controller's sync (`pkg/controller/daemon`: `daemon_controller.go`
//! `syncDaemonSet` / `manage` / `podsShouldBeOnNode`, `update.go`, `util/daemonset_util.go`)
//! as a pure plan over the DaemonSet, the nodes, and the pods and ControllerRevisions of its
//! namespace.
//!
//! One plan is one upstream sync:
//! 1. history (`constructHistory`): claim the revisions (adopt selected orphans, release the
//!    unselected), label old ones lacking `controller-revision-hash` with their name, find
//!    the revision recording `spec.template` — keeping the newest of duplicates, relabelling
//!    pods onto it and raising its `revision` above the others (`rollout undo`) — or create
//!    `<ds>-<hash>` (`collisionCount` raised on a name clash);
//! 2. claim the pods (adopt selected orphans, release the unselected) and group them by node
//!    (`spec.nodeName`, or for unscheduled pods the node of their `matchFields`
//!    `metadata.name` affinity);
//! 3. per node ([`node_should_run`]: `spec.template.spec.nodeName`, `nodeSelector`, required
//!    node affinity, taints against the template's tolerations plus the standard daemon
//!    tolerations): create the missing pod (bound by node affinity, the scheduler binds it);
//!    delete pods where the node no longer fits (those tolerating its NoExecute taints stay),
//!    failed pods (with a per-node exponential back-off, [`FailedPodBackoff`]) and succeeded
//!    ones, and all but the oldest running pod (with `maxSurge`, an old and a new pod may
//!    coexist until the new one is available); delete unscheduled pods of vanished nodes;
//! 4. if step 3 had nothing to do, `RollingUpdate`: without surge delete old pods while at
//!    most `maxUnavailable` (default 1) nodes are unavailable; with `maxSurge` create new
//!    pods next to available old ones, up to `maxSurge`, and delete old pods whose new pod is
//!    available; `OnDelete`: nothing;
//! 5. delete old revisions beyond `revisionHistoryLimit` (default 10), oldest first, unless a
//!    pod still carries their hash;
//! 6. the status from the pods as listed (not as planned), as upstream.
//!
//! What the plan assumes of the runtime:
//! - It applies the plan in field order: `adopt_revisions`, `release_revisions`,
//!   `update_revisions`, `create_revisions`, `adopt_pods`, `release_pods`, `update_pods`
//!   (label merge patch), `create_pods` (slow-start batches, as for ReplicaSets),
//!   `delete_pods`, `delete_revisions`, `status`, then records `events`; it stops at the first
//!   failed write other than `AlreadyExists` / `NotFound` and plans again.
//! - **Expectations**, as for ReplicaSets (pods are `generateName`d): after creating or
//!   deleting pods it acts on no later plan's `create_pods` / `delete_pods` until the pod
//!   informer has seen them; meanwhile it still applies the revision and adoption writes,
//!   skips `delete_revisions`, and writes [`DaemonSetPlan::unsynced_status`] (upstream does not
//!   raise `observedGeneration` then).
//! - After acting on `delete_pods` it calls [`FailedPodBackoff::advance`] with the plan; it
//!   keeps one back-off per controller and [`FailedPodBackoff::gc`]s it now and then (upstream:
//!   every minute).
//! - Informers: DaemonSets, Pods (to their controller; orphans to every DaemonSet of the
//!   namespace whose selector selects them), ControllerRevisions (to their controller), and
//!   Nodes: on a node added, or whose labels or taints changed, plan every DaemonSet for which
//!   [`node_should_run`] changed.
//! - `requeue_after`: plan again after that long without an event (`minReadySeconds`, a
//!   failed pod's back-off).
//! - Events for each pod write (`SuccessfulCreate`, `FailedCreate`, `SuccessfulDelete`, …) are
//!   the runtime's, as for ReplicaSets.
//!
//! Left out of upstream: the `scheduler.alpha.kubernetes.io/critical-pod` era tolerations;
//! revision hashes are keelson's (see [`history`]), and a revision name clash
//! is resolved within one plan instead of one sync per `collisionCount` step.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::Result;
use super::deployment::{PlanEvent, pod_template_hash, scaled_value};
use super::history;
use super::podutil::{self, Selector};
use super::replicaset::nz;

/// Pods created or deleted by one sync at most (the DaemonSet controller's `BurstReplicas`).
pub const BURST_REPLICAS: usize = 250;
/// Legacy pod label: the DaemonSet's template generation when the pod was made.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// DaemonSet annotation the API server keeps the template generation in.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";
/// The node field a daemon pod's node affinity selects.
pub const NODE_NAME_FIELD: &str = "metadata.name";
/// Taint of a node whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint of a node whose Ready condition is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint of a node under disk pressure.
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// Taint of a node under memory pressure.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// Taint of a node running out of pids.
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// Taint of a cordoned node.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Taint of a node whose network is not configured.
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// Event reason: a failed daemon pod is deleted.
pub const REASON_FAILED_DAEMON_POD: &str = "FailedDaemonPod";
/// Event reason: a succeeded daemon pod is deleted.
pub const REASON_SUCCEEDED_DAEMON_POD: &str = "SucceededDaemonPod";
/// Event reason: the DaemonSet's selector is empty.
pub const REASON_SELECTING_ALL: &str = "SelectingAll";

const ROLLING_UPDATE: &str = "RollingUpdate";

// ---------------------------------------------------------------------------------------
// Failed-pod back-off.

/// The back-off between deletions of failed daemon pods on one node (upstream's
/// `failedPodsBackoff`, a `flowcontrol.Backoff` of 1s doubling to 15 minutes), keyed by
/// DaemonSet uid, observed generation and node. The runtime owns it; plans only read it.
#[derive(Clone, Debug)]
pub struct FailedPodBackoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, (Duration, Timestamp)>,
}

impl Default for FailedPodBackoff {
    fn default() -> Self {
        FailedPodBackoff::new(Duration::from_secs(1), Duration::from_secs(15 * 60))
    }
}

impl FailedPodBackoff {
    /// A back-off starting at `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        FailedPodBackoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    fn expired(&self, at: Timestamp, now: Timestamp) -> bool {
        podutil::duration_between(at, now) > self.max.saturating_mul(2)
    }

    /// How long `key` is still backing off at `now` (`IsInBackOffSinceUpdate`), None if not.
    pub fn remaining(&self, key: &str, now: Timestamp) -> Option<Duration> {
        let (delay, at) = self.entries.get(key)?;
        let elapsed = podutil::duration_between(*at, now);
        (elapsed < *delay).then(|| *delay - elapsed)
    }

    /// Records a deletion for `key` at `now`: the next one waits twice as long (`Next`).
    pub fn next(&mut self, key: &str, now: Timestamp) {
        let delay = match self.entries.get(key) {
            Some((d, at)) if !self.expired(*at, now) => d.saturating_mul(2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(key.to_string(), (delay, now));
    }

    /// [`next`](Self::next) for every failed pod `plan` deletes.
    pub fn advance(&mut self, plan: &DaemonSetPlan, now: Timestamp) {
        for k in &plan.backoff_advance {
            self.next(k, now);
        }
    }

    /// Forgets keys idle for more than twice the maximum delay (`GC`).
    pub fn gc(&mut self, now: Timestamp) {
        let max2 = self.max.saturating_mul(2);
        self.entries
            .retain(|_, (_, at)| podutil::duration_between(*at, now) <= max2);
    }
}

// ---------------------------------------------------------------------------------------
// The plan.

/// What to do for one DaemonSet, in field order (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DaemonSetPlan {
    /// Orphan ControllerRevisions (names) selected by the selector: add the DaemonSet's
    /// controller reference ([`daemonset_controller_ref`]).
    pub adopt_revisions: Vec<String>,
    /// Owned revisions (names) no longer selected: remove the reference.
    pub release_revisions: Vec<String>,
    /// Revisions to replace: the hash label added, or a new `revision` number.
    pub update_revisions: Vec<ControllerRevision>,
    /// The revision of the current template, if not recorded yet.
    pub create_revisions: Vec<ControllerRevision>,
    /// Orphan pods (names) selected by the selector: add the reference.
    pub adopt_pods: Vec<String>,
    /// Owned pods (names) no longer selected: remove the reference.
    pub release_pods: Vec<String>,
    /// Pods whose `controller-revision-hash` label moves to the kept revision (merge-patch
    /// the labels).
    pub update_pods: Vec<Pod>,
    /// Pods to create (`generateName` `<ds>-`), each bound to its node by node affinity.
    pub create_pods: Vec<Pod>,
    /// Pods (names) to delete.
    pub delete_pods: Vec<String>,
    /// Revisions (names) to delete: duplicates of the current one, history beyond the limit.
    pub delete_revisions: Vec<String>,
    /// The status to write.
    pub status: DaemonSetStatus,
    /// Whether `status` differs from the stored one (else skip the write).
    pub status_changed: bool,
    /// Events to record on the DaemonSet after the writes.
    pub events: Vec<PlanEvent>,
    /// Plan again after this long even if nothing changes.
    pub requeue_after: Option<Duration>,
    /// Back-off keys of the failed pods in `delete_pods` (see [`FailedPodBackoff::advance`]).
    pub backoff_advance: Vec<String>,
    /// The current revision's hash: the `controller-revision-hash` of up-to-date pods.
    pub hash: String,
}

impl DaemonSetPlan {
    /// The status to write while expectations are pending: `status` with the stored
    /// `observedGeneration` (upstream does not raise it for a sync that did not manage pods).
    pub fn unsynced_status(&self, stored: Option<&DaemonSetStatus>) -> DaemonSetStatus {
        let mut s = self.status.clone();
        s.observed_generation = stored.and_then(|s| s.observed_generation);
        s
    }

    fn requeue(&mut self, after: Duration) {
        let r = &mut self.requeue_after;
        *r = Some(r.map_or(after, |x| x.min(after)));
    }
}

/// The controller reference a DaemonSet puts on its pods and revisions.
pub fn daemonset_controller_ref(ds: &DaemonSet) -> OwnerReference {
    podutil::new_controller_ref(&ds.metadata, "apps/v1", "DaemonSet")
}

// ---------------------------------------------------------------------------------------
// Tolerations, taints, node affinity.

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    }
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

/// `AddOrUpdateTolerationInPodSpec`: a toleration of the same key, operator, value and
/// effect is replaced by `t` (dropping its `tolerationSeconds`), else `t` is appended.
fn add_or_update_toleration(list: &mut Vec<Toleration>, t: Toleration) {
    let mut updated = false;
    for existing in list.iter_mut() {
        let same = s(&existing.key) == s(&t.key)
            && s(&existing.effect) == s(&t.effect)
            && s(&existing.operator) == s(&t.operator)
            && s(&existing.value) == s(&t.value);
        if same {
            *existing = t.clone();
            updated = true;
        }
    }
    if !updated {
        list.push(t);
    }
}

/// `AddOrUpdateDaemonPodTolerations`: daemon pods tolerate not-ready and unreachable nodes
/// (NoExecute), disk, memory and pid pressure and cordoned nodes (NoSchedule), and with host
/// networking an unconfigured network (NoSchedule).
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut list = spec.tolerations.take().unwrap_or_default();
    for (key, effect) in [
        (TAINT_NOT_READY, "NoExecute"),
        (TAINT_UNREACHABLE, "NoExecute"),
        (TAINT_DISK_PRESSURE, "NoSchedule"),
        (TAINT_MEMORY_PRESSURE, "NoSchedule"),
        (TAINT_PID_PRESSURE, "NoSchedule"),
        (TAINT_UNSCHEDULABLE, "NoSchedule"),
    ] {
        add_or_update_toleration(&mut list, toleration(key, effect));
    }
    if spec.host_network == Some(true) {
        add_or_update_toleration(
            &mut list,
            toleration(TAINT_NETWORK_UNAVAILABLE, "NoSchedule"),
        );
    }
    spec.tolerations = Some(list);
}

/// `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if !s(&t.effect).is_empty() && s(&t.effect) != taint.effect {
        return false;
    }
    if !s(&t.key).is_empty() && s(&t.key) != taint.key {
        return false;
    }
    match s(&t.operator) {
        "" | "Equal" => s(&t.value) == s(&taint.value),
        "Exists" => true,
        _ => false,
    }
}

/// Whether some taint with an effect `effects` accepts is tolerated by none of
/// `tolerations` (`FindMatchingUntoleratedTaint`).
fn has_untolerated(taints: &[Taint], tolerations: &[Toleration], effects: &[&str]) -> bool {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

/// A label requirement of a node selector term; None when malformed (the term then matches
/// nothing, as upstream's lazy parse error).
fn label_requirement(
    req: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> Option<bool> {
    let values = req.values.as_deref().unwrap_or_default();
    let v = labels.get(&req.key);
    match req.operator.as_str() {
        "In" if !values.is_empty() => Some(v.is_some_and(|v| values.contains(v))),
        "NotIn" if !values.is_empty() => Some(v.is_none_or(|v| !values.contains(v))),
        "Exists" if values.is_empty() => Some(v.is_some()),
        "DoesNotExist" if values.is_empty() => Some(v.is_none()),
        op @ ("Gt" | "Lt") if values.len() == 1 => {
            let want: i64 = values[0].parse().ok()?;
            Some(
                v.and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|have| if op == "Gt" { have > want } else { have < want }),
            )
        }
        _ => None,
    }
}

/// A field requirement (only `metadata.name` is a node field); exactly one value, In or NotIn.
fn field_requirement(req: &NodeSelectorRequirement, node_name: &str) -> Option<bool> {
    let values = req.values.as_deref().unwrap_or_default();
    let [want] = values else {
        return None;
    };
    let have = if req.key == NODE_NAME_FIELD {
        node_name
    } else {
        ""
    };
    match req.operator.as_str() {
        "In" => Some(have == want),
        "NotIn" => Some(have != want),
        _ => None,
    }
}

fn term_matches(
    term: &NodeSelectorTerm,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| label_requirement(r, labels) == Some(true))
        && fields
            .iter()
            .all(|r| field_requirement(r, node_name) == Some(true))
}

/// `GetRequiredNodeAffinity(pod).Match(node)`: `nodeSelector` and the required node affinity
/// (terms ORed; an empty or malformed term matches nothing).
pub fn fits_node_affinity(spec: &PodSpec, node: &Node) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    if let Some(sel) = spec.node_selector.as_ref()
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    match spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        }) {
        Some(required) => required
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, labels, node_name)),
        None => true,
    }
}

/// `NodeShouldRunDaemonPod`: (shouldRun, shouldContinueRunning). A pod should run where
/// `spec.template.spec.nodeName` (if set), `nodeSelector` and required node affinity fit and
/// every NoSchedule and NoExecute taint is tolerated (with the daemon tolerations); a running
/// pod may stay where only NoSchedule taints are not tolerated.
pub fn node_should_run(ds: &DaemonSet, node: &Node) -> (bool, bool) {
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let mut spec = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != node_name)
    {
        return (false, false);
    }
    add_daemon_tolerations(&mut spec);
    if !fits_node_affinity(&spec, node) {
        return (false, false);
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    if !has_untolerated(taints, tolerations, &["NoExecute", "NoSchedule"]) {
        return (true, true);
    }
    (false, !has_untolerated(taints, tolerations, &["NoExecute"]))
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes the single
/// term `matchFields: metadata.name In [node]` (other affinity kept).
pub fn node_name_affinity(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![NodeSelectorRequirement {
                key: NODE_NAME_FIELD.into(),
                operator: "In".into(),
                values: Some(vec![node.to_string()]),
            }]),
        }],
    };
    let mut a = affinity.unwrap_or_default();
    let na = a.node_affinity.get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(selector);
    a
}

/// The node a daemon pod is for (`GetTargetNodeName`): `spec.nodeName`, or for an
/// unscheduled pod the single `metadata.name In` value of its required node affinity.
pub fn target_node(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    for term in terms {
        for r in term.match_fields.iter().flatten() {
            if r.key == NODE_NAME_FIELD && r.operator == "In" {
                return match r.values.as_deref() {
                    Some([v]) => Some(v.as_str()),
                    _ => None,
                };
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Pods.

fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// `GetTemplateGeneration`: the annotation, None when absent or not a number.
fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata
        .annotations
        .as_ref()?
        .get(TEMPLATE_GENERATION_ANNOTATION)?
        .parse()
        .ok()
}

/// `IsPodUpdated`: the pod carries the current hash (or the legacy template generation).
fn is_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    (!hash.is_empty() && label(pod, history::CONTROLLER_REVISION_HASH) == Some(hash))
        || generation.is_some_and(|g| label(pod, TEMPLATE_GENERATION_LABEL) == Some(&g.to_string()))
}

/// `podByCreationTimestampAndPhase`: scheduled first, then oldest, then by name.
fn by_age(a: &&Pod, b: &&Pod) -> Ordering {
    let unscheduled = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty)
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    unscheduled(a)
        .cmp(&unscheduled(b))
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| name_of(a).cmp(name_of(b)))
}

/// The pod template of daemon pods (`CreatePodTemplate`): daemon tolerations, the hash and
/// (if any) template generation labels.
fn pod_template(ds: &DaemonSet, hash: &str) -> PodTemplateSpec {
    let mut t = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    add_daemon_tolerations(t.spec.get_or_insert_with(Default::default));
    let labels = t
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    if let Some(g) = template_generation(ds) {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(history::CONTROLLER_REVISION_HASH.into(), hash.into());
    }
    t
}

/// The pod to create for `ds` on `node`, at revision `hash`.
pub fn new_daemon_pod(ds: &DaemonSet, hash: &str, node: &str) -> Result<Pod> {
    let mut t = pod_template(ds, hash);
    let spec = t.spec.get_or_insert_with(Default::default);
    spec.affinity = Some(node_name_affinity(spec.affinity.take(), node));
    podutil::pod_from_template(
        &t,
        daemonset_controller_ref(ds),
        ds.metadata.namespace.as_deref().unwrap_or_default(),
        &podutil::pod_name_prefix(ds.metadata.name.as_deref().unwrap_or_default()),
    )
}

// ---------------------------------------------------------------------------------------
// The planner.

struct Planner<'a> {
    ds: &'a DaemonSet,
    /// `node_should_run` of every node.
    fit: HashMap<&'a str, (bool, bool)>,
    min_ready: i32,
    hash: String,
    generation: Option<i64>,
    now: Timestamp,
    /// Back-off keys and names of the failed pods chosen for deletion.
    failed: Vec<(String, String)>,
    plan: DaemonSetPlan,
}

impl Planner<'_> {
    fn available(&self, pod: &Pod) -> bool {
        podutil::is_pod_available(pod, self.min_ready, self.now)
    }

    fn updated(&self, pod: &Pod) -> bool {
        is_updated(pod, &self.hash, self.generation)
    }

    /// Whether a pod should run on the node (false for an unknown node).
    fn runs(&self, node: &str) -> bool {
        self.fit.get(node).is_some_and(|f| f.0)
    }

    /// `podsShouldBeOnNode`: (create a pod on the node?, pods to delete).
    fn pods_should_be_on_node(
        &mut self,
        node_name: &str,
        pods: Option<&Vec<&Pod>>,
        surge: bool,
        backoff: &FailedPodBackoff,
    ) -> (bool, Vec<String>) {
        let (should_run, should_continue) =
            self.fit.get(node_name).copied().unwrap_or((false, false));
        let mut delete = Vec::new();
        let Some(pods) = pods else {
            return (should_run, delete);
        };
        if !should_continue {
            delete.extend(
                pods.iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .map(|p| name_of(p).to_string()),
            );
            return (false, delete);
        }
        let mut running: Vec<&Pod> = Vec::new();
        for pod in pods {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            match podutil::phase(pod) {
                podutil::PHASE_FAILED => {
                    let key = format!(
                        "{}/{}/{}",
                        self.ds.metadata.uid.as_deref().unwrap_or_default(),
                        self.ds
                            .status
                            .as_ref()
                            .and_then(|s| s.observed_generation)
                            .unwrap_or(0),
                        node_name
                    );
                    if let Some(d) = backoff.remaining(&key, self.now) {
                        tracing::debug!(
                            pod = name_of(pod),
                            node = node_name,
                            ?d,
                            "failed pod in back-off"
                        );
                        self.plan.requeue(d);
                        continue;
                    }
                    self.failed.push((key, name_of(pod).to_string()));
                    self.plan.events.push(PlanEvent {
                        type_: "Warning",
                        reason: REASON_FAILED_DAEMON_POD,
                        message: format!(
                            "Found failed daemon pod {ns}/{} on node {node_name}, will try to kill it",
                            name_of(pod)
                        ),
                    });
                    delete.push(name_of(pod).to_string());
                }
                podutil::PHASE_SUCCEEDED => {
                    self.plan.events.push(PlanEvent {
                        type_: "Normal",
                        reason: REASON_SUCCEEDED_DAEMON_POD,
                        message: format!(
                            "Found succeeded daemon pod {ns}/{} on node {node_name}, will try to delete it",
                            name_of(pod)
                        ),
                    });
                    delete.push(name_of(pod).to_string());
                }
                _ => running.push(pod),
            }
        }
        running.sort_by(by_age);
        if !surge {
            // Keep the oldest.
            delete.extend(running.iter().skip(1).map(|p| name_of(p).to_string()));
            return (false, delete);
        }
        if running.len() <= 1 {
            return (running.is_empty() && should_run, delete);
        }
        // Surging: keep the oldest new pod and the oldest old one, and the old one only
        // while it is ready and the new one is not available yet.
        let mut oldest_new: Option<&Pod> = None;
        let mut oldest_old: Option<&Pod> = None;
        for pod in running {
            let slot = if self.updated(pod) {
                &mut oldest_new
            } else {
                &mut oldest_old
            };
            if slot.is_none() {
                *slot = Some(pod);
            } else {
                delete.push(name_of(pod).to_string());
            }
        }
        if let (Some(new), Some(old)) = (oldest_new, oldest_old)
            && (!podutil::is_pod_ready(old) || self.available(new))
        {
            delete.push(name_of(old).to_string());
        }
        (false, delete)
    }

    /// `findUpdatedPodsOnNode`: (new, old) among the pods not being deleted, None when there
    /// are several of either.
    fn updated_pods_on_node<'p>(
        &self,
        pods: &[&'p Pod],
    ) -> Option<(Option<&'p Pod>, Option<&'p Pod>)> {
        let mut new = None;
        let mut old = None;
        for pod in pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            let slot = if self.updated(pod) {
                &mut new
            } else {
                &mut old
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(*pod);
        }
        Some((new, old))
    }

    /// `rollingUpdate`: (nodes to create a new pod on, pods to delete).
    fn rolling_update(
        &mut self,
        by_node: &BTreeMap<String, Vec<&Pod>>,
        max_surge: i32,
        max_unavailable: i32,
        desired: i32,
    ) -> (Vec<String>, Vec<String>) {
        if max_surge == 0 {
            let mut unavailable = 0;
            let mut replacements = Vec::new();
            let mut candidates = Vec::new();
            for pods in by_node.values() {
                let Some((new, old)) = self.updated_pods_on_node(pods) else {
                    unavailable += 1;
                    continue;
                };
                match (new, old) {
                    (None, None) | (Some(_), Some(_)) => unavailable += 1,
                    (Some(new), None) => {
                        if !self.available(new) {
                            unavailable += 1;
                        }
                    }
                    (None, Some(old)) => {
                        if !self.available(old) {
                            replacements.push(name_of(old).to_string());
                            unavailable += 1;
                        } else if unavailable < max_unavailable {
                            candidates.push(name_of(old).to_string());
                        }
                    }
                }
            }
            let room = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
            candidates.truncate(room);
            replacements.extend(candidates);
            return (Vec::new(), replacements);
        }

        let mut delete = Vec::new();
        let mut should_not_run = Vec::new();
        let mut candidates = Vec::new();
        let mut allowed = Vec::new();
        let mut surging = 0;
        let mut available = 0;
        for (node_name, pods) in by_node {
            let Some((new, old)) = self.updated_pods_on_node(pods) else {
                surging += 1;
                continue;
            };
            if let Some(p) = old.or(new)
                && self.available(p)
            {
                available += 1;
            }
            let runs = || self.runs(node_name);
            match (new, old) {
                (_, None) => {}
                (None, Some(old)) => {
                    if !self.available(old) {
                        if runs() {
                            allowed.push(node_name.clone());
                        } else {
                            delete.push(name_of(old).to_string());
                        }
                    } else if !runs() {
                        should_not_run.push(name_of(old).to_string());
                    } else if surging < max_surge {
                        candidates.push(node_name.clone());
                    }
                }
                (Some(new), Some(old)) => {
                    if self.available(new) {
                        delete.push(name_of(old).to_string());
                    } else {
                        surging += 1;
                    }
                }
            }
        }
        // Only delete pods of nodes that no longer fit while as many pods as desired stay
        // available.
        let deletable = usize::try_from((available - desired).max(0)).unwrap_or(0);
        delete.extend(should_not_run.into_iter().take(deletable));
        let room = usize::try_from((max_surge - surging).max(0)).unwrap_or(0);
        candidates.truncate(room);
        allowed.extend(candidates);
        (allowed, delete)
    }
}

fn normalize_status(mut s: DaemonSetStatus) -> DaemonSetStatus {
    s.number_available = s.number_available.and_then(nz);
    s.number_unavailable = s.number_unavailable.and_then(nz);
    s.updated_number_scheduled = s.updated_number_scheduled.and_then(nz);
    s.observed_generation = s.observed_generation.and_then(nz);
    s.collision_count = s.collision_count.and_then(nz);
    s.conditions = s.conditions.filter(|c| !c.is_empty());
    s
}

/// Plans one sync of `ds` against the cluster's nodes and the pods and revisions of its
/// namespace (other namespaces' objects are ignored). Failed pods are deleted only when
/// `backoff` allows. Nothing is planned while the DaemonSet is being deleted, nor for an
/// empty selector (an event says why).
pub fn plan_daemonset(
    ds: &DaemonSet,
    nodes: &[Node],
    pods_in_ns: &[Pod],
    revisions_in_ns: &[ControllerRevision],
    backoff: &FailedPodBackoff,
    now: Timestamp,
) -> Result<DaemonSetPlan> {
    let prev = ds.status.clone().unwrap_or_default();
    let mut plan = DaemonSetPlan {
        status: prev.clone(),
        ..Default::default()
    };
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(plan);
    }
    let spec = ds.spec.clone().unwrap_or_default();
    let everything = LabelSelector::default();
    if spec.selector == everything {
        plan.events.push(PlanEvent {
            type_: "Warning",
            reason: REASON_SELECTING_ALL,
            message: "This daemon set is selecting all pods. A non-empty selector is required."
                .into(),
        });
        return Ok(plan);
    }
    let selector = Selector::from_label_selector(Some(&spec.selector))?;
    let namespace = ds.metadata.namespace.as_deref().unwrap_or_default();
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let name = ds.metadata.name.as_deref().unwrap_or_default();

    // Pods (`getDaemonPods`).
    let mut pods: Vec<&Pod> = Vec::new();
    for pod in pods_in_ns {
        if pod.metadata.namespace.as_deref().unwrap_or_default() != namespace {
            continue;
        }
        let matches = selector.matches(pod.metadata.labels.as_ref());
        match podutil::controller_ref(&pod.metadata) {
            Some(c) if c.uid == uid => {
                if matches {
                    pods.push(pod);
                } else {
                    plan.release_pods.push(name_of(pod).to_string());
                }
            }
            Some(_) => {}
            None => {
                if matches && pod.metadata.deletion_timestamp.is_none() {
                    plan.adopt_pods.push(name_of(pod).to_string());
                    pods.push(pod);
                }
            }
        }
    }

    // History (`constructHistory`).
    let claimed = history::claim_revisions(&ds.metadata, &selector, revisions_in_ns, true);
    plan.adopt_revisions = claimed.adopt.clone();
    plan.release_revisions = claimed.release.clone();
    let data = history::revision_data(&spec.template);
    let canonical = history::canonical_bytes(&data);
    let mut current: Vec<ControllerRevision> = Vec::new();
    let mut old: Vec<ControllerRevision> = Vec::new();
    let mut relabelled: HashMap<String, usize> = HashMap::new();
    for r in &claimed.owned {
        let mut r = (*r).clone();
        let labels = r.metadata.labels.get_or_insert_with(BTreeMap::new);
        if !labels.contains_key(history::CONTROLLER_REVISION_HASH) {
            let n = r.metadata.name.clone().unwrap_or_default();
            labels.insert(history::CONTROLLER_REVISION_HASH.into(), n.clone());
            relabelled.insert(n, plan.update_revisions.len());
            plan.update_revisions.push(r.clone());
        }
        if history::has_data(&r, &canonical) {
            current.push(r);
        } else {
            old.push(r);
        }
    }
    let old_refs: Vec<&ControllerRevision> = old.iter().collect();
    let next_revision = history::max_revision(&old_refs).saturating_add(1);
    let mut collision_count = prev.collision_count;
    let cur = if current.is_empty() {
        // `snapshot`.
        let mut found = None;
        for _ in 0..1000 {
            let hash = pod_template_hash(&spec.template, collision_count);
            let rev_name = format!("{name}-{hash}");
            let existing = revisions_in_ns.iter().find(|r| {
                r.metadata.name.as_deref() == Some(rev_name.as_str())
                    && r.metadata.namespace.as_deref().unwrap_or_default() == namespace
            });
            match existing {
                None => {
                    let mut labels = spec
                        .template
                        .metadata
                        .as_ref()
                        .and_then(|m| m.labels.clone())
                        .unwrap_or_default();
                    labels.insert(history::CONTROLLER_REVISION_HASH.into(), hash);
                    let r = history::build_revision(
                        rev_name,
                        &ds.metadata,
                        daemonset_controller_ref(ds),
                        labels,
                        data.clone(),
                        next_revision,
                    );
                    plan.create_revisions.push(r.clone());
                    found = Some(r);
                    break;
                }
                Some(e) if history::has_data(e, &canonical) => {
                    found = Some(e.clone());
                    break;
                }
                Some(_) => {
                    tracing::info!(
                        daemonset = name,
                        revision = rev_name,
                        "hash collision, bumping collisionCount"
                    );
                    collision_count = Some(collision_count.unwrap_or(0).saturating_add(1));
                }
            }
        }
        found.ok_or_else(|| {
            super::Error::InvalidRevision(format!("{name}: no free revision name"))
        })?
    } else {
        // `dedupCurHistories`: keep the newest, move pods onto it, delete the others.
        let mut keep_at = 0;
        let mut max = 0;
        for (i, r) in current.iter().enumerate() {
            if r.revision >= max {
                keep_at = i;
                max = r.revision;
            }
        }
        let mut keep = current.swap_remove(keep_at);
        let keep_hash = keep
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(history::CONTROLLER_REVISION_HASH))
            .cloned()
            .unwrap_or_default();
        if !current.is_empty() {
            for pod in &pods {
                if label(pod, history::CONTROLLER_REVISION_HASH) != Some(keep_hash.as_str()) {
                    let mut p = (*pod).clone();
                    p.metadata
                        .labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert(history::CONTROLLER_REVISION_HASH.into(), keep_hash.clone());
                    plan.update_pods.push(p);
                }
            }
            plan.delete_revisions
                .extend(current.iter().filter_map(|r| r.metadata.name.clone()));
        }
        if keep.revision < next_revision {
            keep.revision = next_revision;
            let n = keep.metadata.name.clone().unwrap_or_default();
            match relabelled.get(&n) {
                Some(&i) => plan.update_revisions[i] = keep.clone(),
                None => plan.update_revisions.push(keep.clone()),
            }
        }
        keep
    };
    let hash = cur
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(history::CONTROLLER_REVISION_HASH))
        .cloned()
        .unwrap_or_default();

    let fit: HashMap<&str, (bool, bool)> = nodes
        .iter()
        .map(|n| {
            (
                n.metadata.name.as_deref().unwrap_or_default(),
                node_should_run(ds, n),
            )
        })
        .collect();
    let mut p = Planner {
        ds,
        fit,
        min_ready: spec.min_ready_seconds.unwrap_or(0),
        generation: template_generation(ds),
        hash: hash.clone(),
        now,
        failed: Vec::new(),
        plan,
    };

    // Pods by node (`getNodesToDaemonPods`), without deleted terminal pods.
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in &pods {
        if podutil::is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(n) = target_node(pod) {
            by_node.entry(n.to_string()).or_default().push(pod);
        }
    }

    // Strategy.
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let rolling = strategy.type_.as_deref().unwrap_or(ROLLING_UPDATE) == ROLLING_UPDATE;
    let ru = strategy.rolling_update.clone().unwrap_or_default();
    let one = k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1);
    let surge_of = |n: i32| -> Result<i32> {
        match (&ru.max_surge, rolling) {
            (Some(v), true) => scaled_value(v, n, true),
            _ => Ok(0),
        }
    };
    let allows_surge = surge_of(1).is_ok_and(|s| s != 0);

    // `manage`.
    let mut create_on: Vec<String> = Vec::new();
    let mut delete: Vec<String> = Vec::new();
    for node in nodes {
        let node_name = node.metadata.name.as_deref().unwrap_or_default();
        let (create, del) =
            p.pods_should_be_on_node(node_name, by_node.get(node_name), allows_surge, backoff);
        if create {
            create_on.push(node_name.to_string());
        }
        delete.extend(del);
    }
    // Unscheduled pods of nodes that do not exist (never scheduled, so PodGC won't).
    let node_names: HashSet<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    for (n, node_pods) in &by_node {
        if node_names.contains(n.as_str()) {
            continue;
        }
        for pod in node_pods {
            if pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_none_or(str::is_empty)
            {
                delete.push(name_of(pod).to_string());
            }
        }
    }

    // Desired nodes (`updatedDesiredNodeCounts`), needed by the rolling update and status.
    let mut desired = 0;
    let mut with_desired = by_node.clone();
    for node in nodes {
        let node_name = node.metadata.name.as_deref().unwrap_or_default();
        if p.runs(node_name) {
            desired += 1;
            with_desired.entry(node_name.to_string()).or_default();
        }
    }

    if create_on.is_empty() && delete.is_empty() && rolling {
        let max_unavailable =
            scaled_value(ru.max_unavailable.as_ref().unwrap_or(&one), desired, true)?;
        let max_surge = surge_of(desired)?;
        let max_unavailable = if desired > 0 && max_unavailable == 0 && max_surge == 0 {
            1
        } else {
            max_unavailable
        };
        let (c, d) = p.rolling_update(&with_desired, max_surge, max_unavailable, desired);
        create_on = c;
        delete = d;
    }

    create_on.truncate(BURST_REPLICAS);
    let mut seen = HashSet::new();
    delete.retain(|n| seen.insert(n.clone()));
    delete.truncate(BURST_REPLICAS);
    let kept: HashSet<&str> = delete.iter().map(String::as_str).collect();
    p.plan.backoff_advance = p
        .failed
        .iter()
        .filter(|(_, pod)| kept.contains(pod.as_str()))
        .map(|(key, _)| key.clone())
        .collect();
    for node in &create_on {
        p.plan.create_pods.push(new_daemon_pod(ds, &hash, node)?);
    }
    p.plan.delete_pods = delete;

    // History cleanup (`cleanupHistory`): pods of every state keep their revision.
    let limit = spec
        .revision_history_limit
        .unwrap_or(history::DEFAULT_REVISION_HISTORY_LIMIT);
    let to_kill = i64::try_from(old.len()).unwrap_or(i64::MAX) - i64::from(limit);
    if to_kill > 0 {
        let live: HashSet<&str> = pods
            .iter()
            .filter(|pod| target_node(pod).is_some())
            .filter_map(|pod| label(pod, history::CONTROLLER_REVISION_HASH))
            .collect();
        let mut sorted: Vec<&ControllerRevision> = old.iter().collect();
        sorted.sort_by_key(|r| r.revision);
        let mut left = to_kill;
        for r in sorted {
            if left <= 0 {
                break;
            }
            let h = r
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(history::CONTROLLER_REVISION_HASH))
                .map(String::as_str)
                .unwrap_or_default();
            if live.contains(h) {
                continue;
            }
            if let Some(n) = &r.metadata.name {
                p.plan.delete_revisions.push(n.clone());
            }
            left -= 1;
        }
    }

    // Status (`updateDaemonSetStatus`).
    let (mut current_scheduled, mut misscheduled, mut ready, mut updated, mut available) =
        (0, 0, 0, 0, 0);
    for node in nodes {
        let node_name = node.metadata.name.as_deref().unwrap_or_default();
        let on_node = by_node.get(node_name).filter(|v| !v.is_empty());
        if p.runs(node_name) {
            let Some(on_node) = on_node else {
                continue;
            };
            current_scheduled += 1;
            let mut sorted = on_node.clone();
            sorted.sort_by(by_age);
            let Some(pod) = sorted.first() else {
                continue;
            };
            if podutil::is_pod_ready(pod) {
                ready += 1;
                if p.available(pod) {
                    available += 1;
                } else if let Some(d) = podutil::available_after(pod, p.min_ready, now) {
                    p.plan.requeue(d);
                }
            }
            if p.updated(pod) {
                updated += 1;
            }
        } else if on_node.is_some() {
            misscheduled += 1;
        }
    }
    let status = DaemonSetStatus {
        current_number_scheduled: current_scheduled,
        desired_number_scheduled: desired,
        number_misscheduled: misscheduled,
        number_ready: ready,
        number_available: nz(available),
        number_unavailable: nz(desired - available),
        updated_number_scheduled: nz(updated),
        observed_generation: ds.metadata.generation.and_then(nz),
        collision_count,
        conditions: prev.conditions.clone().filter(|c| !c.is_empty()),
    };
    p.plan.status_changed = normalize_status(prev) != normalize_status(status.clone());
    p.plan.status = status;
    p.plan.hash = hash;

    let plan = p.plan;
    if !plan.create_pods.is_empty() || !plan.delete_pods.is_empty() {
        tracing::debug!(
            daemonset = name,
            create = plan.create_pods.len(),
            delete = plan.delete_pods.len(),
            hash = plan.hash,
            "daemonset plan"
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
