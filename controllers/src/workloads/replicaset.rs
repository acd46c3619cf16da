//! The ReplicaSet and ReplicationController controllers' sync (`pkg/controller/replicaset`,
//! which upstream also runs for ReplicationControllers through a conversion): claim the pods
//! (adopt matching orphans, release owned pods that stopped matching), create or delete pods
//! to reach `spec.replicas`, and compute the status.
//!
//! Both kinds go through one internal view (`Owner`), so they share every rule; only the
//! status types and the owner reference (`apps/v1 ReplicaSet` / `v1 ReplicationController`)
//! differ.
//!
//! What the plan assumes of the runtime:
//! - **Expectations**: after it creates or deletes pods, the runtime must not act on
//!   `create`/`delete` of a later plan until its pod cache has observed those creations and
//!   deletions (or a timeout, upstream 5 minutes, has passed); adoption, release and the status
//!   are always safe to apply.
//! - Creations are made in slow-start batches (1, 2, 4, …), stopping at the first failure;
//!   after a failure the status to write is [`with_failure`] / [`rc_with_failure`].
//! - Before adopting, a fresh (uncached) read of the owner confirms it exists with the same uid
//!   and is not being deleted.
//! - `requeue_after`: plan again after that long even without an event (a ready pod becomes
//!   available after `minReadySeconds`).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{
    Pod, PodTemplateSpec, ReplicationController, ReplicationControllerCondition,
    ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use super::podutil::{self, Selector};
use super::{Error, Result};

/// Pods created or deleted by one sync at most (`BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;

/// Condition type set when pods could not be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// What to do for one ReplicaSet or ReplicationController, in this order: adopt, release,
/// create, delete, write the status.
#[derive(Clone, Debug, PartialEq)]
pub struct PodPlan<S> {
    /// Orphan pods (names) to adopt: add the controller reference
    /// ([`replicaset_controller_ref`] / [`rc_controller_ref`]).
    pub adopt: Vec<String>,
    /// Owned pods (names) whose labels no longer match: remove the controller reference.
    pub release: Vec<String>,
    /// How many pods to create from the template (at most [`BURST_REPLICAS`]).
    pub create: i32,
    /// Pods (names) to delete, best candidates first (at most [`BURST_REPLICAS`]).
    pub delete: Vec<String>,
    /// The status to write, assuming the creations and deletions succeed.
    pub status: S,
    /// Whether `status` differs from the stored status (else skip the write).
    pub status_changed: bool,
    /// Plan again after this long even if nothing changes.
    pub requeue_after: Option<Duration>,
}

/// The plan of a ReplicaSet.
pub type ReplicaSetPlan = PodPlan<ReplicaSetStatus>;
/// The plan of a ReplicationController.
pub type ReplicationControllerPlan = PodPlan<ReplicationControllerStatus>;

/// Which operation failed, for the `ReplicaFailure` condition's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaFailureReason {
    /// A pod creation failed (`FailedCreate`).
    FailedCreate,
    /// A pod deletion failed (`FailedDelete`).
    FailedDelete,
}

impl ReplicaFailureReason {
    /// The condition reason.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaFailureReason::FailedCreate => "FailedCreate",
            ReplicaFailureReason::FailedDelete => "FailedDelete",
        }
    }
}

/// The common view of a ReplicaSet or ReplicationController.
struct Owner<'a> {
    meta: &'a ObjectMeta,
    replicas: i32,
    min_ready_seconds: i32,
    selector: Selector,
    template_labels: Option<&'a BTreeMap<String, String>>,
}

/// The pod-level outcome of a sync, before it is turned into a kind's status.
struct Managed {
    adopt: Vec<String>,
    release: Vec<String>,
    create: i32,
    delete: Vec<String>,
    replicas: i32,
    fully_labeled: i32,
    ready: i32,
    available: i32,
    terminating: i32,
    requeue_after: Option<Duration>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Go's `omitempty` for integers: zero is absent.
pub(crate) fn nz<T: Default + PartialEq>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn manage(owner: &Owner<'_>, pods: &[Pod], now: Timestamp) -> Managed {
    let uid = owner.meta.uid.as_deref().unwrap_or_default();
    let namespace = owner.meta.namespace.as_deref().unwrap_or_default();
    let deleting = owner.meta.deletion_timestamp.is_some();
    let mut adopt = Vec::new();
    let mut release = Vec::new();
    let mut active: Vec<&Pod> = Vec::new();
    let mut terminating = 0usize;

    for pod in pods {
        if pod.metadata.namespace.as_deref().unwrap_or_default() != namespace {
            continue;
        }
        let mine = match podutil::controller_ref(&pod.metadata) {
            Some(r) if r.uid == uid => true,
            Some(_) => continue, // another controller's
            None => false,
        };
        let matches = owner.selector.matches(pod.metadata.labels.as_ref());
        if podutil::is_pod_active(pod) {
            if mine {
                if matches {
                    active.push(pod);
                } else if !deleting {
                    release.push(name_of(pod));
                }
            } else if matches && !deleting {
                adopt.push(name_of(pod));
                active.push(pod);
            }
        } else if mine && matches && podutil::is_pod_terminating(pod) {
            terminating += 1;
        }
    }

    let mut create = 0;
    let mut delete = Vec::new();
    if !deleting {
        let diff = i64::try_from(active.len()).unwrap_or(i64::MAX) - i64::from(owner.replicas);
        if diff < 0 {
            create = count(
                usize::try_from(-diff)
                    .unwrap_or(usize::MAX)
                    .min(BURST_REPLICAS),
            );
        } else if diff > 0 {
            let n = usize::try_from(diff)
                .unwrap_or(usize::MAX)
                .min(BURST_REPLICAS);
            // Upstream ranks against the pods of every ReplicaSet of the same controller;
            // the owner's own pods are the ones known here.
            delete = podutil::pods_to_delete(&active, &active, n, now)
                .into_iter()
                .map(name_of)
                .collect();
        }
    }

    let template = Selector::from_set(owner.template_labels.unwrap_or(&BTreeMap::new()));
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    let mut requeue_after: Option<Duration> = None;
    for pod in &active {
        if template.matches(pod.metadata.labels.as_ref()) {
            fully_labeled += 1;
        }
        if podutil::is_pod_ready(pod) {
            ready += 1;
            if podutil::is_pod_available(pod, owner.min_ready_seconds, now) {
                available += 1;
            } else if let Some(d) = podutil::available_after(pod, owner.min_ready_seconds, now) {
                requeue_after = Some(requeue_after.map_or(d, |r| r.min(d)));
            }
        }
    }
    if !adopt.is_empty() || !release.is_empty() || create > 0 || !delete.is_empty() {
        tracing::debug!(
            owner = owner.meta.name.as_deref().unwrap_or_default(),
            adopt = adopt.len(),
            release = release.len(),
            create,
            delete = delete.len(),
            "replica plan"
        );
    }
    Managed {
        adopt,
        release,
        create,
        delete,
        replicas: count(active.len()),
        fully_labeled,
        ready,
        available,
        terminating: count(terminating),
        requeue_after,
    }
}

fn template_labels(t: Option<&PodTemplateSpec>) -> Option<&BTreeMap<String, String>> {
    t.and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
}

// ---------------------------------------------------------------------------------------
// ReplicaSet.

/// The controller reference a ReplicaSet puts on its pods.
pub fn replicaset_controller_ref(rs: &ReplicaSet) -> OwnerReference {
    podutil::new_controller_ref(&rs.metadata, "apps/v1", "ReplicaSet")
}

/// A pod to create for `rs` (the API server fills in its name from `generateName`).
pub fn new_pod_for_replicaset(rs: &ReplicaSet) -> Result<Pod> {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    podutil::pod_from_template(
        &template,
        replicaset_controller_ref(rs),
        rs.metadata.namespace.as_deref().unwrap_or_default(),
        &podutil::pod_name_prefix(rs.metadata.name.as_deref().unwrap_or_default()),
    )
}

fn normalize_rs_status(mut s: ReplicaSetStatus) -> ReplicaSetStatus {
    s.available_replicas = s.available_replicas.and_then(nz);
    s.ready_replicas = s.ready_replicas.and_then(nz);
    s.fully_labeled_replicas = s.fully_labeled_replicas.and_then(nz);
    s.observed_generation = s.observed_generation.and_then(nz);
    s.conditions = s.conditions.filter(|c| !c.is_empty());
    s
}

/// Plans one sync of `rs` against the pods of its namespace (`pods` may hold other
/// namespaces' pods; they are ignored). Owned pods are those whose controller reference has
/// `rs`'s uid; pods being deleted are not counted as replicas (they are reported as
/// `terminatingReplicas`) but stay owned. Nothing is created, deleted or adopted while `rs`
/// is being deleted.
pub fn plan_replicaset(rs: &ReplicaSet, pods: &[Pod], now: Timestamp) -> Result<ReplicaSetPlan> {
    let spec = rs.spec.clone().unwrap_or_default();
    let owner = Owner {
        meta: &rs.metadata,
        replicas: spec.replicas.unwrap_or(1),
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        selector: Selector::from_label_selector(Some(&spec.selector))?,
        template_labels: template_labels(rs.spec.as_ref().and_then(|s| s.template.as_ref())),
    };
    let m = manage(&owner, pods, now);
    let prev = rs.status.clone().unwrap_or_default();
    let conditions: Vec<ReplicaSetCondition> = prev
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.type_ != REPLICA_FAILURE)
        .cloned()
        .collect();
    let status = ReplicaSetStatus {
        replicas: m.replicas,
        fully_labeled_replicas: nz(m.fully_labeled),
        ready_replicas: nz(m.ready),
        available_replicas: nz(m.available),
        terminating_replicas: Some(m.terminating),
        observed_generation: rs
            .metadata
            .generation
            .or(prev.observed_generation)
            .and_then(nz),
        conditions: nz(conditions),
    };
    let status_changed = normalize_rs_status(prev) != status;
    Ok(PodPlan {
        adopt: m.adopt,
        release: m.release,
        create: m.create,
        delete: m.delete,
        status,
        status_changed,
        requeue_after: m.requeue_after,
    })
}

/// The status to write after creations or deletions of a [`ReplicaSetPlan`] failed:
/// `planned` with a `ReplicaFailure` condition. As upstream, a failure condition already in
/// `previous` (the stored status) is kept as it was; otherwise a new one is added with
/// `reason` and the error `message`.
pub fn with_failure(
    planned: ReplicaSetStatus,
    previous: Option<&ReplicaSetStatus>,
    reason: ReplicaFailureReason,
    message: &str,
    now: Timestamp,
) -> ReplicaSetStatus {
    let mut status = planned;
    let kept = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == REPLICA_FAILURE))
        .cloned();
    let cond = kept.unwrap_or_else(|| ReplicaSetCondition {
        type_: REPLICA_FAILURE.into(),
        status: "True".into(),
        reason: Some(reason.as_str().into()),
        message: Some(message.into()),
        last_transition_time: Some(Time(now)),
    });
    let mut conds: Vec<ReplicaSetCondition> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != REPLICA_FAILURE)
        .collect();
    conds.push(cond);
    status.conditions = Some(conds);
    status
}

// ---------------------------------------------------------------------------------------
// ReplicationController.

/// The controller reference a ReplicationController puts on its pods.
pub fn rc_controller_ref(rc: &ReplicationController) -> OwnerReference {
    podutil::new_controller_ref(&rc.metadata, "v1", "ReplicationController")
}

/// A pod to create for `rc` (the API server fills in its name from `generateName`).
pub fn new_pod_for_replication_controller(rc: &ReplicationController) -> Result<Pod> {
    let template = rc
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    podutil::pod_from_template(
        &template,
        rc_controller_ref(rc),
        rc.metadata.namespace.as_deref().unwrap_or_default(),
        &podutil::pod_name_prefix(rc.metadata.name.as_deref().unwrap_or_default()),
    )
}

fn normalize_rc_status(mut s: ReplicationControllerStatus) -> ReplicationControllerStatus {
    s.available_replicas = s.available_replicas.and_then(nz);
    s.ready_replicas = s.ready_replicas.and_then(nz);
    s.fully_labeled_replicas = s.fully_labeled_replicas.and_then(nz);
    s.observed_generation = s.observed_generation.and_then(nz);
    s.conditions = s.conditions.filter(|c| !c.is_empty());
    s
}

/// [`plan_replicaset`] for a ReplicationController. Its map selector defaults to the
/// template's labels when empty (as the API server defaults it); `spec.replicas` to 1.
pub fn plan_replication_controller(
    rc: &ReplicationController,
    pods: &[Pod],
    now: Timestamp,
) -> Result<ReplicationControllerPlan> {
    let spec = rc.spec.clone().unwrap_or_default();
    let tlabels = template_labels(rc.spec.as_ref().and_then(|s| s.template.as_ref()));
    let selector = match spec.selector.as_ref().filter(|s| !s.is_empty()) {
        Some(s) => Selector::from_set(s),
        None => match tlabels.filter(|l| !l.is_empty()) {
            Some(l) => Selector::from_set(l),
            None => Selector::nothing(),
        },
    };
    let owner = Owner {
        meta: &rc.metadata,
        replicas: spec.replicas.unwrap_or(1),
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        selector,
        template_labels: tlabels,
    };
    let m = manage(&owner, pods, now);
    let prev = rc.status.clone().unwrap_or_default();
    let conditions: Vec<ReplicationControllerCondition> = prev
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.type_ != REPLICA_FAILURE)
        .cloned()
        .collect();
    let status = ReplicationControllerStatus {
        replicas: m.replicas,
        fully_labeled_replicas: nz(m.fully_labeled),
        ready_replicas: nz(m.ready),
        available_replicas: nz(m.available),
        observed_generation: rc
            .metadata
            .generation
            .or(prev.observed_generation)
            .and_then(nz),
        conditions: nz(conditions),
    };
    let status_changed = normalize_rc_status(prev) != status;
    Ok(PodPlan {
        adopt: m.adopt,
        release: m.release,
        create: m.create,
        delete: m.delete,
        status,
        status_changed,
        requeue_after: m.requeue_after,
    })
}

/// [`with_failure`] for a ReplicationController.
pub fn rc_with_failure(
    planned: ReplicationControllerStatus,
    previous: Option<&ReplicationControllerStatus>,
    reason: ReplicaFailureReason,
    message: &str,
    now: Timestamp,
) -> ReplicationControllerStatus {
    let mut status = planned;
    let kept = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == REPLICA_FAILURE))
        .cloned();
    let cond = kept.unwrap_or_else(|| ReplicationControllerCondition {
        type_: REPLICA_FAILURE.into(),
        status: "True".into(),
        reason: Some(reason.as_str().into()),
        message: Some(message.into()),
        last_transition_time: Some(Time(now)),
    });
    let mut conds: Vec<ReplicationControllerCondition> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != REPLICA_FAILURE)
        .collect();
    conds.push(cond);
    status.conditions = Some(conds);
    status
}

/// Fails with [`Error::InvalidSelector`] if `rs`'s selector cannot be evaluated; a cheap
/// check for the runtime's event handlers.
pub fn replicaset_selector(rs: &ReplicaSet) -> Result<Selector, Error> {
    Selector::from_label_selector(rs.spec.as_ref().map(|s| &s.selector))
}

#[cfg(test)]
mod tests {
    use super::super::podutil::testutil::*;
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::ReplicationControllerSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    const UID: &str = "rs-uid";

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rs(replicas: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some(UID.into()),
                generation: Some(3),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    match_expressions: None,
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "web"), ("tier", "fe")])),
                        ..Default::default()
                    }),
                    spec: Some(Default::default()),
                }),
                min_ready_seconds: None,
            }),
            status: None,
        }
    }

    fn mine(name: &str, created: i64) -> Pod {
        owned(
            pod(name, &[("app", "web"), ("tier", "fe")], created),
            "ReplicaSet",
            "web",
            UID,
        )
    }

    #[test]
    fn scale_up_from_nothing() {
        let plan = plan_replicaset(&rs(3), &[], at(0)).unwrap();
        assert_eq!(plan.create, 3);
        assert!(plan.delete.is_empty());
        assert_eq!(plan.status.replicas, 0);
        assert_eq!(plan.status.observed_generation, Some(3));
        assert!(plan.status_changed);
        let p = new_pod_for_replicaset(&rs(3)).unwrap();
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        let r = podutil::controller_ref(&p.metadata).unwrap();
        assert_eq!((r.kind.as_str(), r.uid.as_str()), ("ReplicaSet", UID));
    }

    #[test]
    fn burst_caps_creations() {
        let plan = plan_replicaset(&rs(2000), &[], at(0)).unwrap();
        assert_eq!(plan.create, 500);
    }

    #[test]
    fn scale_down_deletes_by_rank() {
        let now = at(10_000);
        let pods = vec![
            ready(mine("old-ready", 0), 10),
            ready(mine("young-ready", 9_000), 9_990),
            on_node(mine("pending", 9_000), "n1"),
            mine("unscheduled", 9_500),
            restarts(ready(mine("crashy", 0), 10), 7),
        ];
        let plan = plan_replicaset(&rs(2), &pods, now).unwrap();
        assert_eq!(plan.create, 0);
        assert_eq!(plan.delete, ["unscheduled", "pending", "young-ready"]);
        assert_eq!(plan.status.replicas, 5);
        assert_eq!(plan.status.ready_replicas, Some(3));
        assert_eq!(plan.status.available_replicas, Some(3));
        // Same ready time: more restarts go first.
        let plan = plan_replicaset(&rs(1), &pods, now).unwrap();
        assert_eq!(plan.delete[3], "crashy");
    }

    #[test]
    fn adopts_orphans_and_releases_mismatches() {
        let orphan = pod("orphan", &[("app", "web")], 0);
        let stray = owned(pod("stray", &[("app", "db")], 0), "ReplicaSet", "web", UID);
        let foreign = owned(
            pod("foreign", &[("app", "web")], 0),
            "ReplicaSet",
            "x",
            "other",
        );
        let mut elsewhere = pod("elsewhere", &[("app", "web")], 0);
        elsewhere.metadata.namespace = Some("other".into());
        let dying_orphan = deleting(pod("dying-orphan", &[("app", "web")], 0), 1);
        let pods = vec![
            orphan,
            stray,
            foreign,
            elsewhere,
            dying_orphan,
            mine("a", 0),
        ];
        let plan = plan_replicaset(&rs(2), &pods, at(5)).unwrap();
        assert_eq!(plan.adopt, ["orphan"]);
        assert_eq!(plan.release, ["stray"]);
        assert_eq!(plan.create, 0);
        assert_eq!(plan.status.replicas, 2);
        // The orphan lacks the template's `tier` label.
        assert_eq!(plan.status.fully_labeled_replicas, Some(1));

        // Being deleted: no adoption, release, creation or deletion; status still computed.
        let mut gone = rs(5);
        gone.metadata.deletion_timestamp = Some(Time(at(1)));
        let plan = plan_replicaset(&gone, &pods, at(5)).unwrap();
        assert!(plan.adopt.is_empty() && plan.release.is_empty());
        assert_eq!((plan.create, plan.delete.len()), (0, 0));
        assert_eq!(plan.status.replicas, 1);
    }

    #[test]
    fn failed_and_terminating_pods_are_replaced() {
        let pods = vec![
            ready(mine("ok", 0), 1),
            with_phase(mine("failed", 0), "Failed"),
            deleting(ready(mine("leaving", 0), 1), 5),
        ];
        let plan = plan_replicaset(&rs(3), &pods, at(10)).unwrap();
        assert_eq!(plan.create, 2);
        assert_eq!(plan.status.replicas, 1);
        assert_eq!(plan.status.terminating_replicas, Some(1));
        assert_eq!(plan.status.available_replicas, Some(1));
    }

    #[test]
    fn min_ready_seconds_requeues_until_available() {
        let mut r = rs(2);
        r.spec.as_mut().unwrap().min_ready_seconds = Some(30);
        let pods = vec![ready(mine("a", 0), 0), ready(mine("b", 0), 20)];
        let plan = plan_replicaset(&r, &pods, at(25)).unwrap();
        assert_eq!(plan.status.ready_replicas, Some(2));
        assert_eq!(plan.status.available_replicas, None);
        // `a` is available at 30 (+1s margin).
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(6)));
        let plan = plan_replicaset(&r, &pods, at(40)).unwrap();
        assert_eq!(plan.status.available_replicas, Some(1));
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(11)));
        let plan = plan_replicaset(&r, &pods, at(60)).unwrap();
        assert_eq!(plan.status.available_replicas, Some(2));
        assert_eq!(plan.requeue_after, None);
    }

    #[test]
    fn failure_condition() {
        let r = rs(2);
        let plan = plan_replicaset(&r, &[], at(0)).unwrap();
        let failed = with_failure(
            plan.status.clone(),
            r.status.as_ref(),
            ReplicaFailureReason::FailedCreate,
            "pods \"web-x\" is forbidden: exceeded quota",
            at(1),
        );
        let c = &failed.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_deref()),
            ("ReplicaFailure", "True", Some("FailedCreate"))
        );
        // Stored with the failure: a failing sync keeps it, a successful one removes it.
        let mut stored = r.clone();
        stored.status = Some(failed.clone());
        let plan = plan_replicaset(&stored, &[], at(2)).unwrap();
        assert!(plan.status.conditions.is_none());
        assert!(plan.status_changed);
        let again = with_failure(
            plan.status,
            stored.status.as_ref(),
            ReplicaFailureReason::FailedDelete,
            "other",
            at(3),
        );
        assert_eq!(again.conditions, failed.conditions);
    }

    #[test]
    fn steady_state_is_unchanged() {
        let mut r = rs(1);
        let pods = vec![ready(mine("a", 0), 1)];
        let plan = plan_replicaset(&r, &pods, at(10)).unwrap();
        r.status = Some(plan.status);
        let plan = plan_replicaset(&r, &pods, at(11)).unwrap();
        assert!(!plan.status_changed);
        assert_eq!(plan.create, 0);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn replication_controller_uses_map_selector() {
        let rc = ReplicationController {
            metadata: ObjectMeta {
                name: Some("legacy".into()),
                namespace: Some("default".into()),
                uid: Some("rc-uid".into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(ReplicationControllerSpec {
                replicas: Some(2),
                selector: None, // defaults to the template's labels
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "legacy")])),
                        ..Default::default()
                    }),
                    spec: Some(Default::default()),
                }),
                min_ready_seconds: None,
            }),
            status: None,
        };
        let pods = vec![
            pod("orphan", &[("app", "legacy")], 0),
            pod("other", &[("app", "web")], 0),
            owned(
                pod("a", &[("app", "legacy")], 0),
                "ReplicationController",
                "legacy",
                "rc-uid",
            ),
            owned(
                pod("b", &[("app", "legacy")], 0),
                "ReplicationController",
                "legacy",
                "rc-uid",
            ),
        ];
        let plan = plan_replication_controller(&rc, &pods, at(1)).unwrap();
        assert_eq!(plan.adopt, ["orphan"]);
        assert_eq!(plan.delete.len(), 1);
        assert_eq!(plan.status.replicas, 3);
        let p = new_pod_for_replication_controller(&rc).unwrap();
        let r = podutil::controller_ref(&p.metadata).unwrap();
        assert_eq!(
            (r.api_version.as_str(), r.kind.as_str()),
            ("v1", "ReplicationController")
        );
        let failed = rc_with_failure(
            plan.status,
            None,
            ReplicaFailureReason::FailedDelete,
            "x",
            at(2),
        );
        assert_eq!(
            failed.conditions.unwrap()[0].reason.as_deref(),
            Some("FailedDelete")
        );
    }

    #[test]
    fn invalid_selector_is_an_error() {
        let mut r = rs(1);
        r.spec.as_mut().unwrap().selector.match_expressions = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "a".into(),
                operator: "Between".into(),
                values: None,
            },
        ]);
        assert!(matches!(
            plan_replicaset(&r, &[], at(0)),
            Err(Error::InvalidSelector(_))
        ));
    }
}
