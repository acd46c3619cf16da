//! Pod helpers shared by the workload plans: activity, readiness and availability
//! (`pkg/api/v1/pod`, `pkg/controller/controller_utils.go`), label selectors
//! (`metav1.LabelSelectorAsSelector`, `labels.SelectorFromSet`), controller references, the
//! ranking that picks which pods a scale-down deletes first (`ActivePodsWithRanks`), and the
//! pod a controller creates from its template (`GetPodFromTemplate`).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::{Error, Result};

/// Annotation with which a user ranks a pod's deletion cost (lower is deleted first).
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// `status.phase` of a pod that will not run again because all its containers succeeded.
pub const PHASE_SUCCEEDED: &str = "Succeeded";
/// `status.phase` of a pod that will not run again because a container failed.
pub const PHASE_FAILED: &str = "Failed";
/// `status.phase` of a pod accepted but not running yet.
pub const PHASE_PENDING: &str = "Pending";
/// `status.phase` of a pod whose state could not be obtained.
pub const PHASE_UNKNOWN: &str = "Unknown";
/// `status.phase` of a pod bound to a node with at least one container running.
pub const PHASE_RUNNING: &str = "Running";

/// `status.phase`, empty when unset.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed: the pod's containers will not run again.
pub fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), PHASE_SUCCEEDED | PHASE_FAILED)
}

/// Counts towards a controller's replicas: not terminal and not being deleted
/// (`controller.IsPodActive`).
pub fn is_pod_active(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// Being deleted but not terminal yet: its containers may still run
/// (`controller.IsPodTerminating`).
pub fn is_pod_terminating(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

/// The pod's `Ready` condition, if it has one.
pub fn pod_ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// The `Ready` condition is `True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod_ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod became ready: the `lastTransitionTime` of its `True` `Ready` condition.
pub fn pod_ready_time(pod: &Pod) -> Option<Timestamp> {
    pod_ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Ready, and ready for more than `min_ready_seconds` at `now` (`podutil.IsPodAvailable`).
/// With `min_ready_seconds` 0 every ready pod is available; otherwise a ready condition
/// without a transition time never is.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    match pod_ready_time(pod) {
        Some(t) => add_seconds(t, min_ready_seconds) < now,
        None => false,
    }
}

/// How long after `now` a ready but not yet available pod becomes available, plus a second
/// of margin (upstream requeues `minReadySeconds + 1s` after a pod turns ready). None when the
/// pod is not ready, already available, or never will be (no transition time).
pub fn available_after(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<Duration> {
    if min_ready_seconds <= 0 || !is_pod_ready(pod) || is_pod_available(pod, min_ready_seconds, now)
    {
        return None;
    }
    let at = add_seconds(pod_ready_time(pod)?, min_ready_seconds);
    Some(duration_between(now, at) + Duration::from_secs(1))
}

/// `t + secs`, saturating at the ends of the representable range.
pub(crate) fn add_seconds(t: Timestamp, secs: i32) -> Timestamp {
    t.saturating_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(
        secs,
    )))
    .unwrap_or(t)
}

/// `to - from` as a non-negative duration (zero if `to` is not after `from`).
pub(crate) fn duration_between(from: Timestamp, to: Timestamp) -> Duration {
    let nanos = to.as_nanosecond() - from.as_nanosecond();
    if nanos <= 0 {
        return Duration::ZERO;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, sub)
}

// ---------------------------------------------------------------------------------------
// Controller references.

/// The owner reference with `controller: true`, if any (`metav1.GetControllerOf`).
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Whether `meta`'s controller is the object with `uid`.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_ref(meta).is_some_and(|r| r.uid == uid)
}

/// The controller reference a controller puts on what it creates or adopts
/// (`metav1.NewControllerRef`): `controller` and `blockOwnerDeletion` true.
pub fn new_controller_ref(owner: &ObjectMeta, api_version: &str, kind: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

// ---------------------------------------------------------------------------------------
// Label selectors.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let value = labels.and_then(|l| l.get(&self.key));
        match self.op {
            Op::In => value.is_some_and(|v| self.values.contains(v)),
            Op::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
        }
    }
}

/// A compiled label selector. `None` requirements select nothing; an empty list selects
/// everything (as `labels.Nothing()` / `labels.Everything()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    requirements: Option<Vec<Requirement>>,
}

impl Selector {
    /// Selects every object.
    pub fn everything() -> Selector {
        Selector {
            requirements: Some(Vec::new()),
        }
    }

    /// Selects no object.
    pub fn nothing() -> Selector {
        Selector { requirements: None }
    }

    /// `metav1.LabelSelectorAsSelector`: `None` selects nothing, an empty selector
    /// everything; `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist) are
    /// ANDed. Label keys and values are not re-validated (the API server did).
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Result<Selector> {
        let Some(sel) = sel else {
            return Ok(Selector::nothing());
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            if k.is_empty() {
                return Err(Error::InvalidSelector("empty label key".into()));
            }
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            });
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    return Err(Error::InvalidSelector(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            };
            if expr.key.is_empty() {
                return Err(Error::InvalidSelector("empty label key".into()));
            }
            let values = expr.values.clone().unwrap_or_default();
            match op {
                Op::In | Op::NotIn if values.is_empty() => {
                    return Err(Error::InvalidSelector(format!(
                        "{}: for 'in', 'notin' operators, values set can't be empty",
                        expr.key
                    )));
                }
                Op::Exists | Op::DoesNotExist if !values.is_empty() => {
                    return Err(Error::InvalidSelector(format!(
                        "{}: values set must be empty for exists and does not exist",
                        expr.key
                    )));
                }
                _ => {}
            }
            reqs.push(Requirement {
                key: expr.key.clone(),
                op,
                values,
            });
        }
        Ok(Selector {
            requirements: Some(reqs),
        })
    }

    /// `labels.SelectorFromSet`: every pair must be present; an empty set selects everything.
    pub fn from_set(set: &BTreeMap<String, String>) -> Selector {
        Selector {
            requirements: Some(
                set.iter()
                    .map(|(k, v)| Requirement {
                        key: k.clone(),
                        op: Op::In,
                        values: vec![v.clone()],
                    })
                    .collect(),
            ),
        }
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match &self.requirements {
            None => false,
            Some(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// Selects everything (no requirement).
    pub fn is_everything(&self) -> bool {
        self.requirements.as_ref().is_some_and(|r| r.is_empty())
    }
}

/// Whether `labels` satisfy `sel` (see [`Selector::from_label_selector`]).
pub fn label_selector_matches(
    sel: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<bool> {
    Ok(Selector::from_label_selector(Some(sel))?.matches(labels))
}

/// Whether `labels` contain every pair of the map selector of a ReplicationController.
pub fn map_selector_matches(
    sel: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    Selector::from_set(sel).matches(labels)
}

// ---------------------------------------------------------------------------------------
// Deletion ranking.

/// `controller.kubernetes.io/pod-deletion-cost`, 0 when absent or malformed (a leading `+`
/// or leading zeros are malformed, as upstream).
pub fn deletion_cost(pod: &Pod) -> i32 {
    let Some(v) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
    else {
        return 0;
    };
    let first_ok = match v.as_bytes().first() {
        Some(b'-') => true,
        Some(b'0') => v == "0",
        Some(b'1'..=b'9') => true,
        _ => false,
    };
    if !first_ok {
        return 0;
    }
    v.parse::<i32>().unwrap_or(0)
}

/// The highest restart count of the regular containers, then of the restartable init
/// containers (sidecars).
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else {
        return (0, 0);
    };
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: HashSet<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// `floor(log2(now - t))` in nanoseconds, -1 when `t` is not before `now`
/// (upstream's LogarithmicScaleDown buckets).
fn log_bucket(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.as_nanosecond() - t.as_nanosecond();
    if d <= 0 {
        return -1;
    }
    // Precision loss is what upstream does too (float64(duration)).
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let r = (d as f64).log2() as i64;
    r
}

/// A time criterion: missing times first, then by logarithmic age (younger first).
fn time_key(t: Option<Timestamp>, now: Timestamp) -> (bool, i64) {
    match t {
        None => (false, 0),
        Some(t) => (true, log_bucket(t, now)),
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct DeletionKey {
    assigned: bool,
    phase: u8,
    ready: bool,
    cost: i32,
    colocated: Reverse<usize>,
    ready_age: (bool, i64),
    restarts: (Reverse<i32>, Reverse<i32>),
    created: (bool, i64),
    uid: String,
}

fn deletion_key(pod: &Pod, colocated: usize, now: Timestamp) -> DeletionKey {
    let ready = is_pod_ready(pod);
    let (regular, sidecar) = max_restarts(pod);
    DeletionKey {
        assigned: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty()),
        phase: match phase(pod) {
            PHASE_UNKNOWN => 1,
            PHASE_RUNNING => 2,
            _ => 0,
        },
        ready,
        cost: deletion_cost(pod),
        colocated: Reverse(colocated),
        ready_age: if ready {
            time_key(pod_ready_time(pod), now)
        } else {
            (false, 0)
        },
        restarts: (Reverse(regular), Reverse(sidecar)),
        created: time_key(pod.metadata.creation_timestamp.as_ref().map(|t| t.0), now),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    }
}

fn node_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Sorts `pods` so that the ones a scale-down should delete first come first
/// (`controller.ActivePodsWithRanks` with PodDeletionCost and LogarithmicScaleDown, as
/// enabled by default upstream):
///
/// 1. unassigned before assigned; 2. Pending before Unknown before Running; 3. not ready
///    before ready; 4. lower `pod-deletion-cost` first; 5. more active `related` pods on the
///    same node first (doubled-up); 6. ready for a shorter time first; 7. more container
///    restarts first; 8. created more recently first.
///
/// Times in 6 and 8 are compared by `floor(log2(age))` as upstream, a missing time first.
/// Upstream breaks a tie inside one logarithmic bucket by uid directly; here the later
/// criteria are tried first and the uid last, which makes the order total (and the sort
/// deterministic).
pub fn sort_for_deletion(pods: &mut Vec<&Pod>, related: &[&Pod], now: Timestamp) {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_pod_active(p)) {
        *on_node.entry(node_of(p)).or_default() += 1;
    }
    pods.sort_by_cached_key(|p| {
        deletion_key(p, on_node.get(node_of(p)).copied().unwrap_or(0), now)
    });
}

/// The `count` pods of `pods` to delete first (see [`sort_for_deletion`]); all of them if
/// `count` is not smaller.
pub fn pods_to_delete<'a>(
    pods: &[&'a Pod],
    related: &[&Pod],
    count: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    let mut sorted = pods.to_vec();
    if count < sorted.len() {
        sort_for_deletion(&mut sorted, related, now);
    }
    sorted.truncate(count);
    sorted
}

// ---------------------------------------------------------------------------------------
// Pod creation.

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// The `generateName` of the pods a controller named `controller_name` creates:
/// `<name>-`, or the bare name when that would not be a valid name prefix
/// (`getPodsPrefix`).
pub fn pod_name_prefix(controller_name: &str) -> String {
    let prefix = format!("{controller_name}-");
    // ValidatePodName(prefix, true) masks the trailing dash before validating.
    let masked = format!("{controller_name}a");
    if is_dns1123_subdomain(&masked) {
        prefix
    } else {
        controller_name.to_string()
    }
}

/// The pod a controller creates from its template (`GetPodFromTemplate`): the template's
/// labels, annotations, finalizers and spec; `generateName` = `generate_name_prefix`
/// (see [`pod_name_prefix`]); `owner` as the only owner reference (build it with
/// [`new_controller_ref`]). Refused when the template has no labels, as upstream refuses
/// to create such a pod.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    owner: OwnerReference,
    namespace: &str,
    generate_name_prefix: &str,
) -> Result<Pod> {
    let meta = template.metadata.as_ref();
    let labels = meta
        .and_then(|m| m.labels.clone())
        .filter(|l| !l.is_empty());
    if labels.is_none() {
        return Err(Error::NoLabels);
    }
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name_prefix.to_string()),
            namespace: Some(namespace.to_string()).filter(|n| !n.is_empty()),
            labels,
            annotations: meta
                .and_then(|m| m.annotations.clone())
                .filter(|a| !a.is_empty()),
            finalizers: meta
                .and_then(|m| m.finalizers.clone())
                .filter(|f| !f.is_empty()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(template.spec.clone().unwrap_or_default()),
        status: None,
    })
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builders for tests.
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// `base + secs`.
    pub fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    /// A pod with labels, created at `created`.
    pub fn pod(name: &str, labels: &[(&str, &str)], created: i64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                creation_timestamp: Some(Time(at(created))),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            }),
        }
    }

    /// Sets the phase.
    pub fn with_phase(mut p: Pod, phase: &str) -> Pod {
        p.status.get_or_insert_with(Default::default).phase = Some(phase.into());
        p
    }

    /// Binds to a node.
    pub fn on_node(mut p: Pod, node: &str) -> Pod {
        p.spec.get_or_insert_with(Default::default).node_name = Some(node.into());
        p
    }

    /// Running and ready since `since`, on node `n1` unless bound already.
    pub fn ready(mut p: Pod, since: i64) -> Pod {
        if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
            p = on_node(p, "n1");
        }
        let st = p.status.get_or_insert_with(Default::default);
        st.phase = Some("Running".into());
        st.conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(at(since))),
            ..Default::default()
        }]);
        p
    }

    /// Container restarts.
    pub fn restarts(mut p: Pod, n: i32) -> Pod {
        p.status
            .get_or_insert_with(Default::default)
            .container_statuses = Some(vec![ContainerStatus {
            name: "c".into(),
            restart_count: n,
            ..Default::default()
        }]);
        p
    }

    /// Controlled by `uid`.
    pub fn owned(mut p: Pod, kind: &str, owner: &str, uid: &str) -> Pod {
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: owner.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        p
    }

    /// Being deleted.
    pub fn deleting(mut p: Pod, since: i64) -> Pod {
        p.metadata.deletion_timestamp = Some(Time(at(since)));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn activity_readiness_availability() {
        let now = at(100);
        let p = pod("a", &[], 0);
        assert!(is_pod_active(&p));
        assert!(!is_pod_ready(&p));
        assert!(!is_pod_active(&with_phase(p.clone(), "Failed")));
        assert!(!is_pod_active(&with_phase(p.clone(), "Succeeded")));
        let d = deleting(p.clone(), 50);
        assert!(!is_pod_active(&d));
        assert!(is_pod_terminating(&d));
        assert!(!is_pod_terminating(&with_phase(d, "Failed")));

        let r = ready(p, 90);
        assert!(is_pod_ready(&r));
        assert!(is_pod_available(&r, 0, now));
        assert!(is_pod_available(&r, 9, now));
        // Strictly after: ready at 90 + 10 is not before 100.
        assert!(!is_pod_available(&r, 10, now));
        assert_eq!(available_after(&r, 10, now), Some(Duration::from_secs(1)));
        assert_eq!(available_after(&r, 30, now), Some(Duration::from_secs(21)));
        assert_eq!(available_after(&r, 5, now), None);
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "fe")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let expr = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        };
        let sel = |ml: &[(&str, &str)], me: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: Some(
                ml.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: Some(me),
        };
        let m = |s: LabelSelector| label_selector_matches(&s, Some(&labels)).unwrap();
        assert!(m(sel(&[("app", "web")], vec![])));
        assert!(!m(sel(&[("app", "db")], vec![])));
        assert!(m(sel(&[], vec![expr("tier", "In", &["fe", "be"])])));
        assert!(!m(sel(&[], vec![expr("tier", "NotIn", &["fe"])])));
        assert!(m(sel(&[], vec![expr("zone", "NotIn", &["a"])])));
        assert!(m(sel(&[], vec![expr("app", "Exists", &[])])));
        assert!(!m(sel(&[], vec![expr("app", "DoesNotExist", &[])])));
        assert!(m(sel(&[], vec![expr("zone", "DoesNotExist", &[])])));
        // Empty selects everything, none selects nothing.
        assert!(m(LabelSelector::default()));
        assert!(
            !Selector::from_label_selector(None)
                .unwrap()
                .matches(Some(&labels))
        );
        // Malformed.
        assert!(
            Selector::from_label_selector(Some(&sel(&[], vec![expr("a", "Near", &["x"])])))
                .is_err()
        );
        assert!(
            Selector::from_label_selector(Some(&sel(&[], vec![expr("a", "In", &[])]))).is_err()
        );
        assert!(
            Selector::from_label_selector(Some(&sel(&[], vec![expr("a", "Exists", &["x"])])))
                .is_err()
        );
        // Map selectors.
        let mut set = BTreeMap::new();
        set.insert("app".to_string(), "web".to_string());
        assert!(map_selector_matches(&set, Some(&labels)));
        set.insert("x".to_string(), "y".to_string());
        assert!(!map_selector_matches(&set, Some(&labels)));
        assert!(!map_selector_matches(&set, None));
    }

    #[test]
    fn controller_refs() {
        let p = owned(pod("a", &[], 0), "ReplicaSet", "rs", "u1");
        assert_eq!(
            controller_ref(&p.metadata).map(|r| r.uid.as_str()),
            Some("u1")
        );
        assert!(is_controlled_by(&p.metadata, "u1"));
        assert!(!is_controlled_by(&p.metadata, "u2"));
        let mut q = p.clone();
        q.metadata.owner_references.as_mut().unwrap()[0].controller = None;
        assert!(controller_ref(&q.metadata).is_none());
        let r = new_controller_ref(&p.metadata, "v1", "Pod");
        assert_eq!(
            (r.controller, r.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(r.name, "a");
    }

    #[test]
    fn deletion_ranking_follows_upstream_order() {
        let now = at(100_000);
        let unassigned = pod("unassigned", &[], 10);
        let pending = on_node(pod("pending", &[], 10), "n1");
        let unknown = with_phase(on_node(pod("unknown", &[], 10), "n1"), "Unknown");
        let running = with_phase(on_node(pod("running", &[], 10), "n1"), "Running");
        let young_ready = ready(pod("young-ready", &[], 10), 99_990);
        let old_ready = ready(pod("old-ready", &[], 10), 10);
        let all = [
            &old_ready,
            &running,
            &young_ready,
            &unknown,
            &pending,
            &unassigned,
        ];
        let mut v = all.to_vec();
        sort_for_deletion(&mut v, &[], now);
        assert_eq!(
            names(&v),
            [
                "unassigned",
                "pending",
                "unknown",
                "running",
                "young-ready",
                "old-ready"
            ]
        );
        assert_eq!(
            names(&pods_to_delete(&all, &[], 2, now)),
            ["unassigned", "pending"]
        );
        assert_eq!(pods_to_delete(&all, &[], 10, now).len(), 6);
    }

    #[test]
    fn deletion_ranking_restarts_creation_cost_and_colocation() {
        let now = at(100_000);
        // Same readiness time: restarts decide, then creation (newer first).
        let a = ready(pod("a", &[], 10), 50);
        let b = restarts(ready(pod("b", &[], 10), 50), 3);
        let c = ready(pod("c", &[], 90_000), 50);
        let mut v = vec![&a, &b, &c];
        sort_for_deletion(&mut v, &[], now);
        assert_eq!(names(&v), ["b", "c", "a"]);

        // A lower deletion cost goes first, before anything but phase and readiness.
        let mut cheap = restarts(ready(pod("cheap", &[], 10), 50), 0);
        cheap.metadata.annotations = Some(
            [(POD_DELETION_COST.to_string(), "-5".to_string())]
                .into_iter()
                .collect(),
        );
        let mut v = vec![&a, &b, &cheap];
        sort_for_deletion(&mut v, &[], now);
        assert_eq!(names(&v)[0], "cheap");
        let mut bad = cheap.clone();
        bad.metadata.annotations = Some(
            [(POD_DELETION_COST.to_string(), "+5".to_string())]
                .into_iter()
                .collect(),
        );
        assert_eq!(deletion_cost(&bad), 0);

        // Doubled-up pods go first.
        let x = on_node(ready(pod("x", &[], 10), 50), "n1");
        let y = on_node(ready(pod("y", &[], 10), 50), "n2");
        let z = on_node(ready(pod("z", &[], 10), 50), "n2");
        let mut v = vec![&x, &y, &z];
        sort_for_deletion(&mut v, &[&x, &y, &z], now);
        assert_eq!(names(&v)[2], "x");
    }

    #[test]
    fn pod_from_template_copies_metadata_and_spec() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(
                    [("app".to_string(), "web".to_string())]
                        .into_iter()
                        .collect(),
                ),
                annotations: Some([("a".to_string(), "b".to_string())].into_iter().collect()),
                finalizers: Some(vec!["f".into()]),
                ..Default::default()
            }),
            spec: Some(Default::default()),
        };
        let owner_meta = ObjectMeta {
            name: Some("web-5d59d67564".into()),
            uid: Some("u".into()),
            ..Default::default()
        };
        let owner = new_controller_ref(&owner_meta, "apps/v1", "ReplicaSet");
        let prefix = pod_name_prefix("web-5d59d67564");
        assert_eq!(prefix, "web-5d59d67564-");
        let p = pod_from_template(&template, owner.clone(), "default", &prefix).unwrap();
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-5d59d67564-"));
        assert_eq!(p.metadata.labels.as_ref().unwrap()["app"], "web");
        assert_eq!(p.metadata.annotations.as_ref().unwrap()["a"], "b");
        assert_eq!(
            p.metadata.finalizers.as_deref(),
            Some(&["f".to_string()][..])
        );
        assert_eq!(p.metadata.owner_references, Some(vec![owner.clone()]));
        let bare = PodTemplateSpec::default();
        assert!(matches!(
            pod_from_template(&bare, owner, "default", "x-"),
            Err(Error::NoLabels)
        ));
        assert_eq!(pod_name_prefix(&"a".repeat(253)), "a".repeat(253));
    }
}
