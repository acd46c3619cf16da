//! The PodDisruptionBudget controller's sync (`pkg/controller/disruption/disruption.go`,
//! `k8s.io/component-helpers/apps/poddisruptionbudget`) as a pure plan over a PDB, the pods
//! of its namespace and the scale of their controllers.
//!
//! What the plan computes, as upstream:
//! - `expectedPods` and `desiredHealthy`: with `maxUnavailable` (int or percent) or a
//!   percentage `minAvailable`, the expected count is the sum of `spec.replicas` of the
//!   distinct controllers of the selected pods ([`ScaleLookup`]: ReplicationController,
//!   Deployment through its ReplicaSet, ReplicaSet, StatefulSet); pods without a controller
//!   are ignored (with an `UnmanagedPods` warning event) and a pod whose controller cannot be
//!   found fails the sync. Percentages round up. With an integer `minAvailable` the expected
//!   count is the number of selected pods.
//! - `currentHealthy`: selected pods not being deleted, not recently disrupted, and `Ready`.
//! - `disruptedPods`: the eviction API's entries are kept for 2 minutes
//!   ([`DELETION_TIMEOUT`]) while the pod exists and is not being deleted; the plan asks to
//!   be run again when the next one expires.
//! - `disruptionsAllowed = currentHealthy - desiredHealthy` (0 when negative or when no pod
//!   is expected), `observedGeneration`, and the `DisruptionAllowed` condition (`True`
//!   `SufficientPods`, or `False` `InsufficientPods`).
//! - When the sync fails (malformed selector or IntOrString, a pod's controller not found),
//!   the status keeps its counts but `disruptionsAllowed` becomes 0 and the condition
//!   `False` `SyncFailed` with the error (`failSafe`), so evictions stop.
//!
//! Also here: the reset of a stale `DisruptionTarget` pod condition that this controller
//! does upstream ([`plan_stale_disruption`]).
//!
//! What the plan assumes of the runtime: informers for PDBs, pods, ReplicaSets,
//! Deployments, StatefulSets and ReplicationControllers (to implement [`ScaleLookup`], see
//! [`WorkloadScales`]). A PDB is planned again when it changes, when a pod it selects changes
//! or goes, and after `requeue_after`. The status goes through the status subresource with
//! the cached `resourceVersion` (a conflict means plan again); `events` are recorded on the
//! PDB. `unhealthyPodEvictionPolicy` is the eviction API's business, not this controller's.
//! Left out: the scale subresource of custom workload kinds (a [`ScaleLookup`] may add it)
//! and the `NotDeleted` event on pods whose disruption entry expired.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodStatus, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::podutil::{self, Selector};
use super::{Error, Result};

/// How long an entry of `status.disruptedPods` waits for its pod to be deleted.
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a `DisruptionTarget=True` condition may stay on a pod that is not being deleted.
pub const STALE_POD_DISRUPTION_TIMEOUT: Duration = Duration::from_secs(120);
/// The PDB condition type.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
/// Reason of `DisruptionAllowed=True`.
pub const SUFFICIENT_PODS: &str = "SufficientPods";
/// Reason of `DisruptionAllowed=False` for lack of healthy pods.
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
/// Reason of `DisruptionAllowed=False` when the status could not be computed.
pub const SYNC_FAILED: &str = "SyncFailed";

/// The scale of a workload controlling pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerScale {
    /// The uid of the workload whose scale counts (a Deployment for its ReplicaSets' pods).
    pub uid: String,
    /// Its `spec.replicas`.
    pub replicas: i32,
}

/// Finds the scale behind a pod's controller reference, from the runtime's caches.
pub trait ScaleLookup {
    /// The workload that `controller` (a pod's controller reference in `namespace`) counts
    /// towards, and its desired replicas: the ReplicationController, the Deployment of a
    /// ReplicaSet (or the ReplicaSet itself when no Deployment controls it), the
    /// StatefulSet; only when the uid matches the reference. None when none is found.
    fn controller_scale(
        &self,
        namespace: &str,
        controller: &OwnerReference,
    ) -> Option<ControllerScale>;
}

/// A [`ScaleLookup`] over lists of workloads (as listed from the caches), following
/// upstream's finders (`getPodReplicationController`, `getPodDeployment`,
/// `getPodReplicaSet`, `getPodStatefulSet`, then the scale of the ReplicaSet itself when its
/// Deployment is gone). Unset `spec.replicas` count as 1, the API default.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkloadScales<'a> {
    /// ReplicaSets.
    pub replica_sets: &'a [ReplicaSet],
    /// Deployments.
    pub deployments: &'a [Deployment],
    /// StatefulSets.
    pub stateful_sets: &'a [StatefulSet],
    /// ReplicationControllers.
    pub replication_controllers: &'a [ReplicationController],
}

fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

fn find<'a, T>(
    items: &'a [T],
    meta: impl Fn(&T) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    namespace: &str,
    r: &OwnerReference,
) -> Option<&'a T> {
    items.iter().find(|o| {
        let m = meta(o);
        m.namespace.as_deref().unwrap_or_default() == namespace
            && m.name.as_deref() == Some(r.name.as_str())
            && m.uid.as_deref() == Some(r.uid.as_str())
    })
}

impl ScaleLookup for WorkloadScales<'_> {
    fn controller_scale(&self, namespace: &str, r: &OwnerReference) -> Option<ControllerScale> {
        let group = group_of(&r.api_version);
        match (r.kind.as_str(), group) {
            ("ReplicationController", "") => {
                let rc = find(self.replication_controllers, |o| &o.metadata, namespace, r)?;
                Some(ControllerScale {
                    uid: r.uid.clone(),
                    replicas: rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                })
            }
            ("ReplicaSet", "apps" | "extensions") => {
                let rs = find(self.replica_sets, |o| &o.metadata, namespace, r)?;
                if let Some(d) = podutil::controller_ref(&rs.metadata)
                    && d.kind == "Deployment"
                    && matches!(group_of(&d.api_version), "apps" | "extensions")
                    && let Some(dep) = find(self.deployments, |o| &o.metadata, namespace, d)
                {
                    return Some(ControllerScale {
                        uid: d.uid.clone(),
                        replicas: dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    });
                }
                Some(ControllerScale {
                    uid: r.uid.clone(),
                    replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                })
            }
            ("StatefulSet", "apps") => {
                let ss = find(self.stateful_sets, |o| &o.metadata, namespace, r)?;
                Some(ControllerScale {
                    uid: r.uid.clone(),
                    replicas: ss.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                })
            }
            _ => None,
        }
    }
}

/// An event to record on the PDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEvent {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// The event reason.
    pub reason: &'static str,
    /// The message, as upstream words it.
    pub message: String,
}

/// What to write for one PDB.
#[derive(Clone, Debug, PartialEq)]
pub struct PdbPlan {
    /// The status to write.
    pub status: PodDisruptionBudgetStatus,
    /// Whether `status` differs from the stored one (else skip the write).
    pub status_changed: bool,
    /// Plan again after this long (the next `disruptedPods` entry expires).
    pub requeue_after: Option<Duration>,
    /// Events to record on the PDB.
    pub events: Vec<PlanEvent>,
}

/// `intstr.GetScaledValueFromIntOrPercent`: an integer as is, `"N%"` of `total`.
fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let Some(p) = s.strip_suffix('%') else {
                return Err(Error::InvalidIntOrPercent(format!(
                    "invalid type: string is not a percentage: {s:?}"
                )));
            };
            let n: i64 = p
                .parse()
                .map_err(|e| Error::InvalidIntOrPercent(format!("{s:?}: {e}")))?;
            let num = n.saturating_mul(i64::from(total));
            let r = if round_up {
                num.div_euclid(100) + i64::from(num.rem_euclid(100) != 0)
            } else {
                num.div_euclid(100)
            };
            Ok(i32::try_from(r).unwrap_or(if r < 0 { i32::MIN } else { i32::MAX }))
        }
    }
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// `getExpectedScale`: the sum of the distinct controllers' replicas, and the unmanaged
/// pods.
fn expected_scale(
    namespace: &str,
    pods: &[&Pod],
    lookup: &dyn ScaleLookup,
) -> std::result::Result<(i32, Vec<String>), String> {
    let mut scales: BTreeMap<String, i32> = BTreeMap::new();
    let mut seen_refs: Vec<String> = Vec::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(r) = podutil::controller_ref(&pod.metadata) else {
            unmanaged.push(name_of(pod));
            continue;
        };
        if seen_refs.contains(&r.uid) {
            continue;
        }
        match lookup.controller_scale(namespace, r) {
            Some(s) => {
                seen_refs.push(r.uid.clone());
                scales.insert(s.uid, s.replicas);
            }
            None => return Err(format!("found no controllers for pod {:?}", name_of(pod))),
        }
    }
    let total = scales.values().fold(0i32, |acc, r| acc.saturating_add(*r));
    Ok((total, unmanaged))
}

/// `getExpectedPodCount`: (expectedCount, desiredHealthy, unmanaged pods).
fn expected_pod_count(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    lookup: &dyn ScaleLookup,
) -> std::result::Result<(i32, i32, Vec<String>), String> {
    let ns = pdb.metadata.namespace.as_deref().unwrap_or_default();
    let spec = pdb.spec.clone().unwrap_or_default();
    if let Some(max_unavailable) = spec.max_unavailable.as_ref() {
        let (expected, unmanaged) = expected_scale(ns, pods, lookup)?;
        let max = scaled_value(max_unavailable, expected, true).map_err(|e| e.to_string())?;
        return Ok((expected, expected.saturating_sub(max).max(0), unmanaged));
    }
    match spec.min_available.as_ref() {
        Some(IntOrString::Int(n)) => Ok((
            i32::try_from(pods.len()).unwrap_or(i32::MAX),
            *n,
            Vec::new(),
        )),
        Some(v @ IntOrString::String(_)) => {
            let (expected, unmanaged) = expected_scale(ns, pods, lookup)?;
            let min = scaled_value(v, expected, true).map_err(|e| e.to_string())?;
            Ok((expected, min, unmanaged))
        }
        None => Ok((0, 0, Vec::new())),
    }
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}

/// `apimeta.SetStatusCondition`: add or update the condition of this type; the transition
/// time changes only with the status.
fn set_condition(
    conds: &mut Vec<Condition>,
    status: &str,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Timestamp,
) {
    match conds.iter_mut().find(|c| c.type_ == DISRUPTION_ALLOWED) {
        Some(c) => {
            if c.status != status {
                c.status = status.into();
                c.last_transition_time = Time(now);
            }
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = observed_generation;
        }
        None => conds.push(Condition {
            type_: DISRUPTION_ALLOWED.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation,
            last_transition_time: Time(now),
        }),
    }
}

/// `ConditionsAreUpToDate`.
fn conditions_up_to_date(pdb: &PodDisruptionBudget, status: &PodDisruptionBudgetStatus) -> bool {
    let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == DISRUPTION_ALLOWED)
    else {
        return false;
    };
    if status.observed_generation != pdb.metadata.generation {
        return false;
    }
    if status.disruptions_allowed > 0 {
        c.status == "True" && c.reason == SUFFICIENT_PODS
    } else {
        c.status == "False" && c.reason == INSUFFICIENT_PODS
    }
}

/// `failSafe`: keep the stored status but allow no disruption, with a `SyncFailed`
/// condition carrying the error.
fn fail_safe(
    pdb: &PodDisruptionBudget,
    message: &str,
    now: Timestamp,
    events: Vec<PlanEvent>,
) -> PdbPlan {
    let prev = pdb.status.clone().unwrap_or_default();
    let mut status = prev.clone();
    status.disruptions_allowed = 0;
    let mut conds = status.conditions.take().unwrap_or_default();
    let gen_ = status.observed_generation;
    set_condition(&mut conds, "False", SYNC_FAILED, message, gen_, now);
    status.conditions = Some(conds);
    tracing::info!(
        pdb = pdb.metadata.name.as_deref().unwrap_or_default(),
        error = message,
        "PDB sync failed; no disruptions allowed"
    );
    PdbPlan {
        status_changed: status != prev,
        status,
        requeue_after: None,
        events,
    }
}

/// Plans the status of `pdb` against the pods of its namespace (others are ignored) and the
/// scale of their controllers. See the module documentation for the rules.
pub fn plan_pdb(
    pdb: &PodDisruptionBudget,
    pods_in_ns: &[Pod],
    controllers: &dyn ScaleLookup,
    now: Timestamp,
) -> PdbPlan {
    let mut events = Vec::new();
    let ns = pdb.metadata.namespace.as_deref().unwrap_or_default();
    let selector =
        match Selector::from_label_selector(pdb.spec.as_ref().and_then(|s| s.selector.as_ref())) {
            Ok(s) => s,
            Err(e) => {
                events.push(PlanEvent {
                    type_: "Warning",
                    reason: "NoPods",
                    message: format!("Failed to get pods: {e}"),
                });
                return fail_safe(pdb, &e.to_string(), now, events);
            }
        };
    let pods: Vec<&Pod> = pods_in_ns
        .iter()
        .filter(|p| p.metadata.namespace.as_deref().unwrap_or_default() == ns)
        .filter(|p| selector.matches(p.metadata.labels.as_ref()))
        .collect();
    if pods.is_empty() {
        events.push(PlanEvent {
            type_: "Normal",
            reason: "NoPods",
            message: "No matching pods found".into(),
        });
    }
    let (expected, desired_healthy, unmanaged) = match expected_pod_count(pdb, &pods, controllers) {
        Ok(v) => v,
        Err(e) => {
            events.push(PlanEvent {
                type_: "Warning",
                reason: "CalculateExpectedPodCountFailed",
                message: format!("Failed to calculate the number of expected pods: {e}"),
            });
            return fail_safe(pdb, &e, now, events);
        }
    };
    if !unmanaged.is_empty() {
        events.push(PlanEvent {
            type_: "Warning",
            reason: "UnmanagedPods",
            message: "Pods selected by this PodDisruptionBudget were found to be unmanaged. \
                      As a result, the status of the PDB cannot be calculated correctly, which \
                      may result in undefined behavior. To account for these pods please set \
                      \".spec.minAvailable\" field of the PDB to an integer value."
                .into(),
        });
    }

    // `buildDisruptedPodMap`.
    let prev = pdb.status.clone().unwrap_or_default();
    let mut disrupted: BTreeMap<String, Time> = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    if let Some(entries) = prev.disrupted_pods.as_ref() {
        for pod in &pods {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(t) = entries.get(&name_of(pod)) else {
                continue;
            };
            let expires = plus(t.0, DELETION_TIMEOUT);
            if expires < now {
                tracing::info!(
                    pod = name_of(pod),
                    "pod was expected to be deleted but it wasn't; updating PDB"
                );
                continue;
            }
            recheck = Some(recheck.map_or(expires, |r| r.min(expires)));
            disrupted.insert(name_of(pod), t.clone());
        }
    }

    // `countHealthyPods`.
    let current_healthy = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            disrupted
                .get(&name_of(p))
                .is_none_or(|t| plus(t.0, DELETION_TIMEOUT) <= now)
        })
        .filter(|p| podutil::is_pod_ready(p))
        .count();
    let current_healthy = i32::try_from(current_healthy).unwrap_or(i32::MAX);

    let mut allowed = current_healthy.saturating_sub(desired_healthy);
    if expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let requeue_after = recheck.map(|t| podutil::duration_between(now, t));

    let up_to_date = prev.current_healthy == current_healthy
        && prev.desired_healthy == desired_healthy
        && prev.expected_pods == expected
        && prev.disruptions_allowed == allowed
        && prev.disrupted_pods.clone().unwrap_or_default() == disrupted
        && prev.observed_generation == pdb.metadata.generation
        && conditions_up_to_date(pdb, &prev);
    if up_to_date {
        return PdbPlan {
            status: prev,
            status_changed: false,
            requeue_after,
            events,
        };
    }

    let mut conds = prev.conditions.clone().unwrap_or_default();
    let (st, reason) = if allowed > 0 {
        ("True", SUFFICIENT_PODS)
    } else {
        ("False", INSUFFICIENT_PODS)
    };
    set_condition(&mut conds, st, reason, "", pdb.metadata.generation, now);
    let status = PodDisruptionBudgetStatus {
        current_healthy,
        desired_healthy,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: Some(disrupted).filter(|d| !d.is_empty()),
        observed_generation: pdb.metadata.generation,
        conditions: Some(conds),
    };
    PdbPlan {
        status_changed: status != prev,
        status,
        requeue_after,
        events,
    }
}

/// What to do about a pod's `DisruptionTarget` condition (`syncStalePodDisruption`).
#[derive(Clone, Debug, PartialEq)]
pub enum StaleDisruption {
    /// Nothing: no `DisruptionTarget=True` set by an evicting controller, or the pod is
    /// being deleted or terminal.
    None,
    /// The condition may still be followed by a deletion: look again after this long.
    RecheckAfter(Duration),
    /// Stale for [`STALE_POD_DISRUPTION_TIMEOUT`]: write this status (the condition set to
    /// `False`) through the pod's status subresource.
    Reset(Box<PodStatus>),
}

/// Whether a pod carries a stale `DisruptionTarget=True` condition (an eviction that never
/// led to a deletion), as upstream checks on every pod change. Conditions set by the kubelet
/// (`TerminationByKubelet`) are never stale.
pub fn plan_stale_disruption(pod: &Pod, now: Timestamp) -> StaleDisruption {
    if pod.metadata.deletion_timestamp.is_some() || podutil::is_pod_terminal(pod) {
        return StaleDisruption::None;
    }
    let Some(status) = pod.status.as_ref() else {
        return StaleDisruption::None;
    };
    let Some(cond) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
    else {
        return StaleDisruption::None;
    };
    if cond.status != "True" || cond.reason.as_deref() == Some("TerminationByKubelet") {
        return StaleDisruption::None;
    }
    let since = cond.last_transition_time.as_ref().map_or(now, |t| t.0);
    let due = plus(since, STALE_POD_DISRUPTION_TIMEOUT);
    if due > now {
        return StaleDisruption::RecheckAfter(podutil::duration_between(now, due));
    }
    let mut status = status.clone();
    for c in status.conditions.iter_mut().flatten() {
        if c.type_ == "DisruptionTarget" {
            *c = k8s_openapi::api::core::v1::PodCondition {
                type_: "DisruptionTarget".into(),
                status: "False".into(),
                last_transition_time: Some(Time(now)),
                ..Default::default()
            };
        }
    }
    StaleDisruption::Reset(Box::new(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetSpec, StatefulSetSpec};
    use k8s_openapi::api::core::v1::PodCondition;
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
    use podutil::testutil::*;

    fn pdb(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("web-pdb".into()),
                namespace: Some("default".into()),
                generation: Some(3),
                ..ObjectMeta::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                min_available: min,
                max_unavailable: max,
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..LabelSelector::default()
                }),
                ..PodDisruptionBudgetSpec::default()
            }),
            status: None,
        }
    }

    fn meta(name: &str, uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            ..ObjectMeta::default()
        }
    }

    /// `n` pods of ReplicaSet `rs` (owned by Deployment `web` with `replicas`), `ready` of
    /// them ready.
    fn fixture(n: usize, ready_n: usize) -> (Vec<Pod>, Vec<ReplicaSet>, Vec<Deployment>) {
        let pods = (0..n)
            .map(|i| {
                let p = owned(
                    pod(&format!("p{i}"), &[("app", "web")], 0),
                    "ReplicaSet",
                    "web-1",
                    "rs-uid",
                );
                if i < ready_n { ready(p, 10) } else { p }
            })
            .collect();
        let mut rs_meta = meta("web-1", "rs-uid");
        rs_meta.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            uid: "dep-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        let rss = vec![ReplicaSet {
            metadata: rs_meta,
            spec: Some(ReplicaSetSpec {
                replicas: Some(4),
                ..ReplicaSetSpec::default()
            }),
            status: None,
        }];
        let deps = vec![Deployment {
            metadata: meta("web", "dep-uid"),
            spec: Some(DeploymentSpec {
                replicas: Some(5),
                ..DeploymentSpec::default()
            }),
            status: None,
        }];
        (pods, rss, deps)
    }

    fn cond(s: &PodDisruptionBudgetStatus) -> (String, String) {
        let c = &s.conditions.as_ref().unwrap()[0];
        (c.status.clone(), c.reason.clone())
    }

    #[test]
    fn int_min_available_counts_pods() {
        let (pods, rss, deps) = fixture(4, 3);
        let scales = WorkloadScales {
            replica_sets: &rss,
            deployments: &deps,
            ..WorkloadScales::default()
        };
        let p = pdb(Some(IntOrString::Int(2)), None);
        let plan = plan_pdb(&p, &pods, &scales, at(100));
        let s = &plan.status;
        assert_eq!(
            (
                s.expected_pods,
                s.desired_healthy,
                s.current_healthy,
                s.disruptions_allowed
            ),
            (4, 2, 3, 1)
        );
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(cond(s), ("True".into(), SUFFICIENT_PODS.into()));
        assert!(plan.status_changed);
        // Stored as planned: no write.
        let mut stored = p.clone();
        stored.status = Some(plan.status.clone());
        let again = plan_pdb(&stored, &pods, &scales, at(200));
        assert!(!again.status_changed);

        // minAvailable 3 with 3 healthy: nothing allowed.
        let plan = plan_pdb(
            &pdb(Some(IntOrString::Int(3)), None),
            &pods,
            &scales,
            at(100),
        );
        assert_eq!(plan.status.disruptions_allowed, 0);
        assert_eq!(
            cond(&plan.status),
            ("False".into(), INSUFFICIENT_PODS.into())
        );
    }

    #[test]
    fn percentages_and_max_unavailable_use_the_controller_scale() {
        let (pods, rss, deps) = fixture(4, 4);
        let scales = WorkloadScales {
            replica_sets: &rss,
            deployments: &deps,
            ..WorkloadScales::default()
        };
        // 50% of the Deployment's 5, rounded up: 3.
        let plan = plan_pdb(
            &pdb(Some(IntOrString::String("50%".into())), None),
            &pods,
            &scales,
            at(1),
        );
        let s = &plan.status;
        assert_eq!(
            (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
            (5, 3, 1)
        );
        // maxUnavailable 1 of 5: desired 4, 4 healthy: none allowed.
        let plan = plan_pdb(&pdb(None, Some(IntOrString::Int(1))), &pods, &scales, at(1));
        let s = &plan.status;
        assert_eq!(
            (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
            (5, 4, 0)
        );
        // maxUnavailable 40% of 5 = 2 (rounded up): desired 3, 1 allowed.
        let plan = plan_pdb(
            &pdb(None, Some(IntOrString::String("40%".into()))),
            &pods,
            &scales,
            at(1),
        );
        let s = &plan.status;
        assert_eq!(
            (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
            (5, 3, 1)
        );
        // Without the Deployment, the ReplicaSet's own scale counts.
        let scales = WorkloadScales {
            replica_sets: &rss,
            ..WorkloadScales::default()
        };
        let plan = plan_pdb(&pdb(None, Some(IntOrString::Int(1))), &pods, &scales, at(1));
        assert_eq!(plan.status.expected_pods, 4);
        // StatefulSet pods.
        let ss = vec![StatefulSet {
            metadata: meta("db", "ss-uid"),
            spec: Some(StatefulSetSpec {
                replicas: Some(3),
                ..StatefulSetSpec::default()
            }),
            status: None,
        }];
        let ss_pods: Vec<Pod> = (0..3)
            .map(|i| {
                let mut p = ready(pod(&format!("db-{i}"), &[("app", "web")], 0), 1);
                p.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "StatefulSet".into(),
                    name: "db".into(),
                    uid: "ss-uid".into(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]);
                p
            })
            .collect();
        let scales = WorkloadScales {
            stateful_sets: &ss,
            ..WorkloadScales::default()
        };
        let plan = plan_pdb(
            &pdb(None, Some(IntOrString::Int(1))),
            &ss_pods,
            &scales,
            at(1),
        );
        assert_eq!(
            (plan.status.expected_pods, plan.status.disruptions_allowed),
            (3, 1)
        );
    }

    #[test]
    fn sync_failures_allow_nothing() {
        let (pods, _, _) = fixture(3, 3);
        // The ReplicaSet is not known: no controller for the pods.
        let plan = plan_pdb(
            &pdb(None, Some(IntOrString::Int(1))),
            &pods,
            &WorkloadScales::default(),
            at(1),
        );
        assert_eq!(plan.status.disruptions_allowed, 0);
        let c = &plan.status.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", SYNC_FAILED)
        );
        assert!(c.message.contains("found no controllers for pod"));
        assert!(
            plan.events
                .iter()
                .any(|e| e.reason == "CalculateExpectedPodCountFailed")
        );
        // A malformed percentage.
        let (pods, rss, deps) = fixture(3, 3);
        let scales = WorkloadScales {
            replica_sets: &rss,
            deployments: &deps,
            ..WorkloadScales::default()
        };
        let plan = plan_pdb(
            &pdb(None, Some(IntOrString::String("x".into()))),
            &pods,
            &scales,
            at(1),
        );
        assert_eq!(cond(&plan.status).1, SYNC_FAILED);
        // Unmanaged pods with a percentage: ignored, with a warning.
        let loose: Vec<Pod> = (0..2)
            .map(|i| ready(pod(&format!("l{i}"), &[("app", "web")], 0), 1))
            .collect();
        let plan = plan_pdb(
            &pdb(None, Some(IntOrString::Int(1))),
            &loose,
            &scales,
            at(1),
        );
        assert_eq!(plan.status.expected_pods, 0);
        assert_eq!(plan.status.disruptions_allowed, 0);
        assert!(plan.events.iter().any(|e| e.reason == "UnmanagedPods"));
        // No pods.
        let plan = plan_pdb(&pdb(Some(IntOrString::Int(1)), None), &[], &scales, at(1));
        assert!(plan.events.iter().any(|e| e.reason == "NoPods"));
    }

    #[test]
    fn disrupted_pods_expire_after_two_minutes() {
        let (pods, rss, deps) = fixture(4, 4);
        let scales = WorkloadScales {
            replica_sets: &rss,
            deployments: &deps,
            ..WorkloadScales::default()
        };
        let mut p = pdb(Some(IntOrString::Int(2)), None);
        p.status = Some(PodDisruptionBudgetStatus {
            disrupted_pods: Some(
                [
                    ("p0".to_string(), Time(at(100))),
                    ("p1".to_string(), Time(at(10))),
                    ("gone".to_string(), Time(at(100))),
                ]
                .into(),
            ),
            ..PodDisruptionBudgetStatus::default()
        });
        let plan = plan_pdb(&p, &pods, &scales, at(150));
        let d = plan.status.disrupted_pods.as_ref().unwrap();
        // p1 expired (10 + 120 < 150), "gone" has no pod; p0 stays and is not healthy.
        assert_eq!(d.keys().collect::<Vec<_>>(), ["p0"]);
        assert_eq!(plan.status.current_healthy, 3);
        assert_eq!(plan.status.disruptions_allowed, 1);
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(70)));
        // After the timeout p0 counts again and the entry goes.
        let plan = plan_pdb(&p, &pods, &scales, at(221));
        assert!(plan.status.disrupted_pods.is_none());
        assert_eq!(plan.status.current_healthy, 4);
        assert_eq!(plan.requeue_after, None);
    }

    #[test]
    fn stale_disruption_target() {
        let mut p = pod("a", &[], 0);
        assert_eq!(plan_stale_disruption(&p, at(10)), StaleDisruption::None);
        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("EvictionByEvictionAPI".into()),
            last_transition_time: Some(Time(at(100))),
            ..PodCondition::default()
        }]);
        assert_eq!(
            plan_stale_disruption(&p, at(150)),
            StaleDisruption::RecheckAfter(Duration::from_secs(70))
        );
        let StaleDisruption::Reset(st) = plan_stale_disruption(&p, at(300)) else {
            panic!("expected a reset");
        };
        assert_eq!(st.conditions.unwrap()[0].status, "False");
        assert_eq!(
            plan_stale_disruption(&deleting(p, 200), at(300)),
            StaleDisruption::None
        );
    }
}
