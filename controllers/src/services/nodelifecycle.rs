//! The node lifecycle controller (`pkg/controller/nodelifecycle/node_lifecycle_controller.go`:
//! `tryUpdateNodeHealth`, `doNoScheduleTaintingPass`, `processTaintBaseEviction`,
//! `reconcileNodeLabels`; `pkg/controller/util/node.MarkPodsNotReady`) and the taint
//! eviction controller (`pkg/controller/tainteviction`) as pure plans.
//!
//! Node health, as upstream: the controller remembers per node ([`NodeHealth`], kept by the
//! runtime) when *it* last saw a sign of life — the `Ready` condition's `lastHeartbeatTime`
//! changing, or the node's Lease (`kube-node-lease/<node>`) being renewed — on its own
//! clock, so clock skew between kubelet and controller does not matter. When nothing was
//! seen for the grace period ([`DEFAULT_NODE_MONITOR_GRACE_PERIOD`]; a node that never
//! posted a `Ready` condition gets [`DEFAULT_NODE_STARTUP_GRACE_PERIOD`] from its creation),
//! the `Ready`, `MemoryPressure`, `DiskPressure` and `PIDPressure` conditions become
//! `Unknown` (`NodeStatusUnknown`, "Kubelet stopped posting node status."; missing ones are
//! added as `NodeStatusNeverUpdated`), and the pods on the node are marked not ready.
//!
//! Taints, as upstream: `NoSchedule` taints mirror the conditions (`Ready=False` →
//! `node.kubernetes.io/not-ready`, `Ready=Unknown` → `node.kubernetes.io/unreachable`, the
//! pressure conditions and `NetworkUnavailable` → theirs) and `spec.unschedulable`
//! (`node.kubernetes.io/unschedulable`); the `NoExecute` not-ready / unreachable taints
//! (taint-based eviction) follow the `Ready` condition, mutually exclusive, and both go when
//! the node is ready again. Other taints are left as they are; added taints carry
//! `timeAdded`.
//!
//! Eviction ([`pods_to_evict`]): a pod on a node with `NoExecute` taints is deleted at once
//! if it does not tolerate them all, after the smallest `tolerationSeconds` of the
//! tolerations used if it does, never if they tolerate forever; before deleting, the pod gets
//! the `DisruptionTarget` condition ([`with_disruption_target`]).
//!
//! Left out of upstream:
//! - The zone states (`Normal`, `PartialDisruption`, `FullDisruption`) and the rate limiting
//!   of `NoExecute` tainting per zone (upstream: 0.1 node/s, slower in large partially
//!   disrupted zones, none when every zone is fully disrupted): `NoExecute` taints are
//!   planned at once. So is the "master disruption" safety: upstream removes all
//!   `NoExecute` taints and stops tainting when *every* node is not ready (a network
//!   partition of the control plane); here such a partition taints every node.
//! - Removing the `NoExecute` taints of every node the first time the controller sees it
//!   (upstream re-adds them through the rate-limited queue).
//! - Events (`RegisteredNode`, `RemovingNode`, `NodeNotReady`) other than what
//!   [`NodePlan::mark_pods_not_ready`] implies.
//!
//! What the plan assumes of the runtime: informers for nodes, leases in `kube-node-lease`
//! and pods (indexed by node); a [`NodeHealth`] per node, starting from the default and
//! replaced by [`NodePlan::health`] after each plan (forgotten when the node goes). Each
//! node is planned when it or its lease changes, and after `requeue_after`. Writes, in
//! order: `status_update` (the node's status subresource), `taints` (a patch of
//! `spec.taints` with the node's current `resourceVersion` — the one the status write
//! returned; conflict: plan again), `labels` (merge patch), then, when
//! `mark_pods_not_ready`, the pod status updates of [`pods_not_ready`] (and an event
//! `NodeNotReady` on the node: `Node <name> status is now: NodeNotReady`). A pod newly bound
//! to a node whose `Ready` is not `True` is also passed through [`pods_not_ready`]. Evictions:
//! the runtime keeps, per pod, the earliest deadline [`pods_to_evict`] gave (as upstream's
//! timed queue does), cancels it when the pod is no longer listed, and at the deadline
//! writes [`with_disruption_target`]'s status then deletes the pod.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Node, NodeCondition, NodeStatus, Pod, PodCondition, PodStatus, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::podutil;

/// How long without a sign of life before a node's conditions become `Unknown`
/// (`--node-monitor-grace-period`, 50 s since Kubernetes 1.32).
pub const DEFAULT_NODE_MONITOR_GRACE_PERIOD: Duration = Duration::from_secs(50);
/// The same for a node that never posted a `Ready` condition, from its creation
/// (`--node-startup-grace-period`).
pub const DEFAULT_NODE_STARTUP_GRACE_PERIOD: Duration = Duration::from_secs(60);

/// Taint of a node whose `Ready` condition is `False`.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint of a node whose `Ready` condition is `Unknown`.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint of a node with `spec.unschedulable`.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Taint of a node with `MemoryPressure=True`.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// Taint of a node with `DiskPressure=True`.
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// Taint of a node with `NetworkUnavailable=True`.
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// Taint of a node with `PIDPressure=True`.
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";

/// Taint effect: do not schedule new pods.
pub const NO_SCHEDULE: &str = "NoSchedule";
/// Taint effect: evict running pods that do not tolerate it.
pub const NO_EXECUTE: &str = "NoExecute";

/// The condition → `NoSchedule` taint mapping (`nodeConditionToTaintKeyStatusMap`).
const CONDITION_TAINTS: &[(&str, &str, &str)] = &[
    ("Ready", "False", TAINT_NOT_READY),
    ("Ready", "Unknown", TAINT_UNREACHABLE),
    ("MemoryPressure", "True", TAINT_MEMORY_PRESSURE),
    ("DiskPressure", "True", TAINT_DISK_PRESSURE),
    ("NetworkUnavailable", "True", TAINT_NETWORK_UNAVAILABLE),
    ("PIDPressure", "True", TAINT_PID_PRESSURE),
];

/// Conditions set to `Unknown` when the kubelet stops posting (not `NetworkUnavailable`,
/// which the network provider owns).
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// Beta labels kept equal to their stable counterpart (`labelReconcileInfo`).
const LABEL_RECONCILE: &[(&str, &str)] = &[
    ("kubernetes.io/os", "beta.kubernetes.io/os"),
    ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
];

/// The `Ready` condition as the controller last saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedReady {
    /// Its `lastHeartbeatTime`.
    pub heartbeat: Option<Timestamp>,
    /// Its `lastTransitionTime`.
    pub transition: Option<Timestamp>,
}

/// What the controller remembers of a node between plans (`nodeHealthData`). The default
/// is "never observed".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeHealth {
    /// When, on the controller's clock, it last saw a sign of life (None: never observed).
    pub probe_time: Option<Timestamp>,
    /// When, on the controller's clock, it last saw the `Ready` condition change.
    pub ready_transition_time: Option<Timestamp>,
    /// The `Ready` condition last seen (None: the node had none).
    pub ready: Option<SavedReady>,
    /// The Lease last seen: whether there was one and its `renewTime`.
    pub lease: Option<Option<Timestamp>>,
}

/// What to write for one node, in field order (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodePlan {
    /// The node status to write (the kubelet's conditions turned `Unknown`).
    pub status_update: Option<NodeStatus>,
    /// The complete `spec.taints` to write, when it changes.
    pub taints: Option<Vec<Taint>>,
    /// Labels to set (merge patch); empty when none.
    pub labels: BTreeMap<String, String>,
    /// The node just stopped being ready: mark its pods not ready ([`pods_not_ready`]).
    pub mark_pods_not_ready: bool,
    /// What to remember of the node until the next plan.
    pub health: NodeHealth,
    /// Plan again after this long (when the grace period would run out).
    pub requeue_after: Option<Duration>,
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}

fn condition<'a>(status: Option<&'a NodeStatus>, type_: &str) -> Option<&'a NodeCondition> {
    status?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn saved(c: &NodeCondition) -> SavedReady {
    SavedReady {
        heartbeat: c.last_heartbeat_time.as_ref().map(|t| t.0),
        transition: c.last_transition_time.as_ref().map(|t| t.0),
    }
}

/// The taints `node` should have given its (possibly just updated) status: `NoSchedule`
/// condition taints and the unschedulable taint replaced by the wanted ones, `NoExecute`
/// not-ready / unreachable set from `Ready`; everything else kept. None when unchanged.
fn plan_taints(node: &Node, status: Option<&NodeStatus>, now: Timestamp) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let mut want: Vec<(&str, &str)> = Vec::new();
    for c in status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        for (t, s, key) in CONDITION_TAINTS {
            if c.type_ == *t && c.status == *s {
                want.push((key, NO_SCHEDULE));
            }
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        want.push((TAINT_UNSCHEDULABLE, NO_SCHEDULE));
    }
    // Taints this controller owns, by (key, effect).
    let mut owned: Vec<(&str, &str)> = CONDITION_TAINTS
        .iter()
        .map(|(_, _, k)| (*k, NO_SCHEDULE))
        .chain([(TAINT_UNSCHEDULABLE, NO_SCHEDULE)])
        .collect();
    // NoExecute follows Ready when there is a Ready condition.
    if let Some(ready) = condition(status, "Ready") {
        owned.push((TAINT_NOT_READY, NO_EXECUTE));
        owned.push((TAINT_UNREACHABLE, NO_EXECUTE));
        match ready.status.as_str() {
            "False" => want.push((TAINT_NOT_READY, NO_EXECUTE)),
            "Unknown" => want.push((TAINT_UNREACHABLE, NO_EXECUTE)),
            _ => {}
        }
    }
    let is = |t: &Taint, (k, e): (&str, &str)| t.key == k && t.effect == e;
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| !owned.iter().any(|o| is(t, *o)) || want.iter().any(|w| is(t, *w)))
        .cloned()
        .collect();
    let mut changed = out.len() != current.len();
    for w in &want {
        if !out.iter().any(|t| is(t, *w)) {
            out.push(Taint {
                key: w.0.to_string(),
                effect: w.1.to_string(),
                value: None,
                time_added: Some(Time(now)),
            });
            changed = true;
        }
    }
    changed.then_some(out)
}

/// `reconcileNodeLabels`: the beta OS/arch labels set from the stable ones.
fn plan_labels(node: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(labels) = node.metadata.labels.as_ref() else {
        return out;
    };
    for (primary, secondary) in LABEL_RECONCILE {
        if let Some(v) = labels.get(*primary)
            && labels.get(*secondary) != Some(v)
        {
            out.insert(secondary.to_string(), v.clone());
        }
    }
    out
}

/// Plans one health check of `node` (`tryUpdateNodeHealth` and the tainting passes):
/// `lease` is its Lease in `kube-node-lease`, `observed` what the controller remembered,
/// `grace` the monitor grace period ([`DEFAULT_NODE_MONITOR_GRACE_PERIOD`]).
pub fn plan_node(
    node: &Node,
    lease: Option<&Lease>,
    observed: &NodeHealth,
    now: Timestamp,
    grace: Duration,
) -> NodePlan {
    let status = node.status.as_ref();
    let created = node
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    let current_ready = condition(status, "Ready");
    let mut health = observed.clone();
    let known = observed.probe_time.is_some();

    // The Ready condition the rest compares against, and the grace period that applies.
    let (grace_period, observed_ready) = match current_ready {
        Some(c) => (grace, c.clone()),
        None => {
            if known {
                health.ready = None;
            } else {
                health = NodeHealth {
                    probe_time: Some(created),
                    ready_transition_time: Some(created),
                    ready: None,
                    lease: None,
                };
            }
            (
                DEFAULT_NODE_STARTUP_GRACE_PERIOD,
                NodeCondition {
                    type_: "Ready".into(),
                    status: "Unknown".into(),
                    last_heartbeat_time: Some(Time(created)),
                    last_transition_time: Some(Time(created)),
                    ..NodeCondition::default()
                },
            )
        }
    };

    if let Some(cur) = current_ready {
        let cur_saved = saved(cur);
        match (&observed.ready, known) {
            (_, false) | (None, true) => {
                health.probe_time = Some(now);
                health.ready_transition_time = Some(now);
                health.ready = Some(cur_saved);
            }
            (Some(prev), true) if prev.heartbeat != cur_saved.heartbeat => {
                health.probe_time = Some(now);
                if prev.transition != cur_saved.transition {
                    health.ready_transition_time = Some(now);
                }
                health.ready = Some(cur_saved);
            }
            _ => {}
        }
    }

    // A renewed lease is a sign of life too.
    if let Some(l) = lease {
        let renew = l
            .spec
            .as_ref()
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0);
        let renewed = match &observed.lease {
            None => true,
            Some(prev) => matches!((prev, renew), (Some(p), Some(r)) if *p < r),
        };
        if renewed {
            health.lease = Some(renew);
            health.probe_time = Some(now);
        }
    }

    let probe = health.probe_time.unwrap_or(now);
    let deadline = plus(probe, grace_period);
    let mut plan = NodePlan::default();
    let mut effective: Option<NodeStatus> = status.cloned();
    if now > deadline {
        let mut st = status.cloned().unwrap_or_default();
        let conds = st.conditions.get_or_insert_with(Vec::new);
        for t in KUBELET_CONDITIONS {
            match conds.iter_mut().find(|c| c.type_ == *t) {
                None => conds.push(NodeCondition {
                    type_: (*t).into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: Some(Time(created)),
                    last_transition_time: Some(Time(now)),
                }),
                Some(c) if c.status != "Unknown" => {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(Time(now));
                }
                Some(_) => {}
            }
        }
        let new_ready = condition(Some(&st), "Ready").cloned();
        if new_ready.as_ref() != Some(&observed_ready) {
            tracing::info!(
                node = node.metadata.name.as_deref().unwrap_or_default(),
                "node stopped posting status; conditions set to Unknown"
            );
            plan.mark_pods_not_ready = observed_ready.status == "True";
            health.ready = new_ready.as_ref().map(saved);
            health.ready_transition_time = Some(now);
            if let Some(l) = lease {
                health.lease = Some(
                    l.spec
                        .as_ref()
                        .and_then(|s| s.renew_time.as_ref())
                        .map(|t| t.0),
                );
            }
            effective = Some(st.clone());
            plan.status_update = Some(st);
        }
    } else {
        plan.requeue_after =
            Some(podutil::duration_between(now, deadline) + Duration::from_secs(1));
    }

    plan.taints = plan_taints(node, effective.as_ref(), now);
    plan.labels = plan_labels(node);
    plan.health = health;
    plan
}

/// The pods of `pods` bound to `node_name` whose `Ready` condition must turn `False`
/// (`MarkPodsNotReady`), each with its new status (write it through the status subresource,
/// then record a `Warning` `NodeNotReady` "Node is not ready" event on the pod). Pods whose
/// `Ready` is already `False`, or that have no `Ready` condition, are not listed.
pub fn pods_not_ready(node_name: &str, pods: &[Pod], now: Timestamp) -> Vec<(String, PodStatus)> {
    let mut out = Vec::new();
    for pod in pods {
        let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name);
        if !on_node {
            continue;
        }
        let Some(mut status) = pod.status.clone() else {
            continue;
        };
        let Some(c) = status
            .conditions
            .iter_mut()
            .flatten()
            .find(|c| c.type_ == "Ready")
        else {
            continue;
        };
        if c.status == "False" {
            continue;
        }
        c.status = "False".into();
        c.last_transition_time = Some(Time(now));
        out.push((pod.metadata.name.clone().unwrap_or_default(), status));
    }
    out
}

/// `Toleration.ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty())
        && k != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// The pods of `pods_on_node` that `taints` (the node's taints, as planned) evict, each with
/// how long from `now` until it is deleted: None for at once (a `NoExecute` taint it does
/// not tolerate, or a `tolerationSeconds` of 0 or less), else what is left of the smallest
/// `tolerationSeconds` among the tolerations used, counted from the earliest `timeAdded` of
/// the `NoExecute` taints (from `now` when they have none). Pods that tolerate the taints
/// forever, pods already being deleted, and every pod of a node without `NoExecute` taints
/// are not listed: any deletion scheduled for them is cancelled.
pub fn pods_to_evict(
    node: &Node,
    taints: &[Taint],
    pods_on_node: &[Pod],
    now: Timestamp,
) -> Vec<(String, Option<Duration>)> {
    let no_execute: Vec<&Taint> = taints.iter().filter(|t| t.effect == NO_EXECUTE).collect();
    if no_execute.is_empty() {
        return Vec::new();
    }
    let since = no_execute
        .iter()
        .filter_map(|t| t.time_added.as_ref().map(|t| t.0))
        .min()
        .unwrap_or(now)
        .min(now);
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for pod in pods_on_node {
        let spec = pod.spec.clone().unwrap_or_default();
        if spec.node_name.as_deref() != Some(node_name) || pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let tolerations = spec.tolerations.unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        // `GetMatchingTolerations`: the first toleration of each taint.
        let mut used: Vec<&Toleration> = Vec::new();
        let mut all = true;
        for taint in &no_execute {
            match tolerations.iter().find(|t| tolerates(t, taint)) {
                Some(t) => used.push(t),
                None => {
                    all = false;
                    break;
                }
            }
        }
        if !all {
            out.push((name, None));
            continue;
        }
        // `getMinTolerationTime`: a non-positive one means now; none means forever.
        let mut min: Option<i64> = None;
        let mut at_once = false;
        for t in &used {
            if let Some(s) = t.toleration_seconds {
                if s <= 0 {
                    at_once = true;
                    break;
                }
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
        if at_once {
            out.push((name, None));
            continue;
        }
        let Some(secs) = min else {
            continue;
        };
        let due = plus(since, Duration::from_secs(u64::try_from(secs).unwrap_or(0)));
        if due <= now {
            out.push((name, None));
        } else {
            out.push((name, Some(podutil::duration_between(now, due))));
        }
    }
    out
}

/// The status to write before the taint eviction controller deletes `pod`: the
/// `DisruptionTarget=True` condition, reason `DeletionByTaintManager`, message "Taint
/// manager: deleting due to NoExecute taint". None when the pod already has it.
pub fn with_disruption_target(pod: &Pod, now: Timestamp) -> Option<PodStatus> {
    let mut status = pod.status.clone().unwrap_or_default();
    let new = PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("DeletionByTaintManager".into()),
        message: Some("Taint manager: deleting due to NoExecute taint".into()),
        last_transition_time: Some(Time(now)),
        ..PodCondition::default()
    };
    let conds = status.conditions.get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|c| c.type_ == "DisruptionTarget") {
        Some(c) => {
            if c.status == new.status && c.reason == new.reason && c.message == new.message {
                return None;
            }
            let keep_time = c.status == new.status;
            let ltt = c.last_transition_time.clone();
            *c = new;
            if keep_time {
                c.last_transition_time = ltt;
            }
        }
        None => conds.push(new),
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
    use podutil::testutil::{at, on_node, pod, ready};

    const GRACE: Duration = DEFAULT_NODE_MONITOR_GRACE_PERIOD;

    fn node(ready_status: &str, heartbeat: i64) -> Node {
        let cond = |t: &str, s: &str| NodeCondition {
            type_: t.into(),
            status: s.into(),
            reason: Some("KubeletReady".into()),
            message: None,
            last_heartbeat_time: Some(Time(at(heartbeat))),
            last_transition_time: Some(Time(at(0))),
        };
        Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                creation_timestamp: Some(Time(at(0))),
                labels: Some([("kubernetes.io/os".to_string(), "linux".to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus {
                conditions: Some(vec![
                    cond("Ready", ready_status),
                    cond("MemoryPressure", "False"),
                    cond("DiskPressure", "False"),
                    cond("PIDPressure", "False"),
                ]),
                ..NodeStatus::default()
            }),
        }
    }

    fn lease(renew: i64) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(at(renew))),
                ..LeaseSpec::default()
            }),
        }
    }

    fn keys(taints: &[Taint]) -> Vec<(String, String)> {
        let mut k: Vec<(String, String)> = taints
            .iter()
            .map(|t| (t.key.clone(), t.effect.clone()))
            .collect();
        k.sort();
        k
    }

    fn apply(n: &Node, plan: &NodePlan) -> Node {
        let mut n = n.clone();
        if let Some(s) = &plan.status_update {
            n.status = Some(s.clone());
        }
        if let Some(t) = &plan.taints {
            n.spec.get_or_insert_with(Default::default).taints = Some(t.clone());
        }
        n
    }

    #[test]
    fn stale_heartbeat_goes_unknown_and_tainted_then_recovers() {
        let n = node("True", 100);
        // First sight: remembered, nothing to write but the beta label.
        let plan = plan_node(&n, None, &NodeHealth::default(), at(100), GRACE);
        assert_eq!(plan.status_update, None);
        assert_eq!(plan.taints, None);
        assert_eq!(plan.labels["beta.kubernetes.io/os"], "linux");
        assert_eq!(plan.health.probe_time, Some(at(100)));
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(51)));

        // Lease renewals keep it healthy even though the status heartbeat does not move.
        let plan = plan_node(&n, Some(&lease(120)), &plan.health, at(140), GRACE);
        assert_eq!(plan.status_update, None);
        assert_eq!(plan.health.probe_time, Some(at(140)));
        let health = plan.health;

        // Nothing renewed for longer than the grace period: Unknown, tainted.
        let plan = plan_node(&n, Some(&lease(120)), &health, at(191), GRACE);
        let st = plan.status_update.clone().expect("status update");
        for c in st.conditions.as_ref().unwrap() {
            assert_eq!(c.status, "Unknown", "{}", c.type_);
            assert_eq!(c.reason.as_deref(), Some("NodeStatusUnknown"));
            assert_eq!(
                c.message.as_deref(),
                Some("Kubelet stopped posting node status.")
            );
            assert_eq!(c.last_transition_time, Some(Time(at(191))));
            assert_eq!(c.last_heartbeat_time, Some(Time(at(100))));
        }
        assert!(plan.mark_pods_not_ready);
        let taints = plan.taints.clone().unwrap();
        assert_eq!(
            keys(&taints),
            [
                (TAINT_UNREACHABLE.to_string(), NO_EXECUTE.to_string()),
                (TAINT_UNREACHABLE.to_string(), NO_SCHEDULE.to_string())
            ]
        );
        assert!(taints.iter().all(|t| t.time_added == Some(Time(at(191)))));
        assert_eq!(plan.requeue_after, None);

        // Planned again against what was written: no churn.
        let unknown = apply(&n, &plan);
        let again = plan_node(&unknown, Some(&lease(120)), &plan.health, at(200), GRACE);
        assert_eq!(again.status_update, None);
        assert_eq!(again.taints, None);
        assert!(!again.mark_pods_not_ready);

        // The kubelet comes back: Ready=True with a new heartbeat, taints removed.
        let mut back = node("True", 300);
        back.spec = unknown.spec.clone();
        let plan = plan_node(&back, Some(&lease(300)), &again.health, at(301), GRACE);
        assert_eq!(plan.status_update, None);
        assert_eq!(plan.taints, Some(vec![]));
        assert_eq!(plan.health.probe_time, Some(at(301)));
    }

    #[test]
    fn not_ready_and_unschedulable_taints() {
        let mut n = node("False", 100);
        n.spec.as_mut().unwrap().unschedulable = Some(true);
        n.spec.as_mut().unwrap().taints = Some(vec![
            Taint {
                key: "dedicated".into(),
                value: Some("db".into()),
                effect: NO_SCHEDULE.into(),
                time_added: None,
            },
            Taint {
                key: TAINT_UNREACHABLE.into(),
                effect: NO_EXECUTE.into(),
                value: None,
                time_added: Some(Time(at(5))),
            },
        ]);
        let plan = plan_node(&n, None, &NodeHealth::default(), at(100), GRACE);
        assert_eq!(plan.status_update, None);
        assert_eq!(
            keys(plan.taints.as_ref().unwrap()),
            [
                ("dedicated".to_string(), NO_SCHEDULE.to_string()),
                (TAINT_NOT_READY.to_string(), NO_EXECUTE.to_string()),
                (TAINT_NOT_READY.to_string(), NO_SCHEDULE.to_string()),
                (TAINT_UNSCHEDULABLE.to_string(), NO_SCHEDULE.to_string()),
            ]
        );
    }

    #[test]
    fn never_posted_status_gets_startup_grace() {
        let mut n = node("True", 0);
        n.status = None;
        let plan = plan_node(&n, None, &NodeHealth::default(), at(30), GRACE);
        assert_eq!(plan.status_update, None);
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(31)));
        let plan = plan_node(&n, None, &plan.health, at(61), GRACE);
        let st = plan.status_update.expect("status");
        let conds = st.conditions.unwrap();
        assert_eq!(conds.len(), 4);
        assert!(conds.iter().all(
            |c| c.status == "Unknown" && c.reason.as_deref() == Some("NodeStatusNeverUpdated")
        ));
        assert!(!plan.mark_pods_not_ready);
    }

    #[test]
    fn marking_pods_not_ready() {
        let a = ready(on_node(pod("a", &[], 0), "n1"), 5);
        let b = on_node(pod("b", &[], 0), "n2");
        let out = pods_not_ready("n1", &[a, b], at(50));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "a");
        let c = &out[0].1.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.status.as_str(), c.last_transition_time.clone()),
            ("False", Some(Time(at(50))))
        );
    }

    fn toleration(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(NO_EXECUTE.into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn eviction_times_follow_tolerations() {
        let n = node("Unknown", 0);
        let taints = vec![
            Taint {
                key: TAINT_UNREACHABLE.into(),
                effect: NO_EXECUTE.into(),
                value: None,
                time_added: Some(Time(at(100))),
            },
            Taint {
                key: TAINT_UNREACHABLE.into(),
                effect: NO_SCHEDULE.into(),
                value: None,
                time_added: Some(Time(at(100))),
            },
        ];
        let mk = |name: &str, tol: Vec<Toleration>| {
            let mut p = on_node(pod(name, &[], 0), "n1");
            p.spec.as_mut().unwrap().tolerations = Some(tol);
            p
        };
        let pods = vec![
            mk("none", vec![]),
            mk("default", vec![toleration(TAINT_UNREACHABLE, Some(300))]),
            mk("forever", vec![toleration(TAINT_UNREACHABLE, None)]),
            mk("zero", vec![toleration(TAINT_UNREACHABLE, Some(0))]),
            mk("other", vec![toleration("something-else", Some(300))]),
            mk("short", vec![toleration("", Some(30))]),
            on_node(pod("elsewhere", &[], 0), "n2"),
        ];
        let out: BTreeMap<String, Option<Duration>> = pods_to_evict(&n, &taints, &pods, at(160))
            .into_iter()
            .collect();
        assert_eq!(out["none"], None);
        assert_eq!(out["default"], Some(Duration::from_secs(240)));
        assert!(!out.contains_key("forever"));
        assert_eq!(out["zero"], None);
        assert_eq!(out["other"], None);
        assert_eq!(out["short"], None); // 100 + 30 is past
        assert!(!out.contains_key("elsewhere"));
        // No NoExecute taint: nothing evicted.
        assert!(pods_to_evict(&n, &taints[1..], &pods, at(160)).is_empty());

        let st = with_disruption_target(&pods[0], at(170)).unwrap();
        let c = &st
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "DisruptionTarget")
            .unwrap()
            .clone();
        assert_eq!(c.reason.as_deref(), Some("DeletionByTaintManager"));
        assert_eq!(
            c.message.as_deref(),
            Some("Taint manager: deleting due to NoExecute taint")
        );
        let mut marked = pods[0].clone();
        marked.status = Some(st);
        assert_eq!(with_disruption_target(&marked, at(180)), None);
    }
}
