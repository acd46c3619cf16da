//! The StatefulSet controller's sync (`pkg/controller/statefulset`: `stateful_set.go`,
//! `stateful_set_control.go`, `stateful_set_utils.go`, `stateful_pod_control.go`) as a pure
//! plan over the StatefulSet and the pods, PersistentVolumeClaims and ControllerRevisions of
//! its namespace.
//!
//! One plan is one upstream sync:
//! 1. claim: adopt orphan ControllerRevisions the selector selects; adopt orphan pods named
//!    `<set>-<n>` the selector selects, release owned pods that stopped matching;
//! 2. revisions: the *update revision* is the one recording `spec.template` (an existing one
//!    when the template returns to an earlier state — its `revision` is raised, as after
//!    `kubectl rollout undo` — else a new `<set>-<hash>`, with `collisionCount` raised on a
//!    name clash); the *current revision* is `status.currentRevision`'s, or the update one;
//! 3. pods, with their ordinal `<set>-<ordinal>` in `[start, start + replicas)`:
//!    - a Failed or Succeeded pod is deleted (recreated by a later plan once it is gone);
//!    - a missing pod is created after its claims `<template>-<set>-<ordinal>`, from the
//!      current revision's template below the partition and the update revision's from it;
//!    - `OrderedReady` (monotonic): stop at the first pod created, terminating, not Running
//!      and Ready, or not available (`minReadySeconds`); scale down deletes the highest
//!      ordinal only once every lower pod is healthy, one at a time; `Parallel`: everything
//!      at once;
//!    - `persistentVolumeClaimRetentionPolicy`: claims get the set (`whenDeleted: Delete`)
//!      and/or, once scaled down, the pod (`whenScaled: Delete`) as controller owner, so the
//!      garbage collector deletes them with it;
//! 4. `RollingUpdate`: delete the highest-ordinal pod at or above `partition` that is not at
//!    the update revision, one at a time and only while the others are available (or up to
//!    `maxUnavailable` at once when it is set); `OnDelete`: nothing, pods are replaced when
//!    deleted;
//! 5. the status, and the rolling update completed (`currentRevision = updateRevision`) once
//!    every replica is updated and ready;
//! 6. history: revisions that neither the current nor the update revision nor any pod uses
//!    are deleted, oldest first, down to `revisionHistoryLimit` (default 10).
//!
//! What the plan assumes of the runtime:
//! - It applies the plan in field order: `adopt_revisions`, `adopt_pods`, `release_pods`,
//!   `create_revisions`, `update_revisions`, `update_pvcs`, `create_pvcs`, `create_pods`,
//!   `update_pods`, `delete_pods`, `status`, `delete_revisions`, then records `events`; it
//!   stops at the first failed write and plans again (the next plan redoes what is missing).
//!   `AlreadyExists` on a claim means it is there: go on. A pod's claims are always listed
//!   before it, so creating claims before pods keeps upstream's order.
//! - Pods have fixed names, so no expectations are needed: a plan made on a stale cache asks
//!   again for what is already done and gets `AlreadyExists` / `NotFound` (ignore both).
//!   Deletions should carry the cached uid as a precondition.
//! - Adoption needs a fresh read of the set confirming its uid and that it is not being
//!   deleted, as for ReplicaSets.
//! - Informers: StatefulSets, Pods (to the controlling set; orphans to every set of the
//!   namespace whose selector selects them), ControllerRevisions (to their controller) and
//!   PersistentVolumeClaims (the set owning or named in the claim; upstream only lists them,
//!   an event merely plans sooner).
//! - `requeue_after`: plan again after that long without an event (a ready pod becoming
//!   available after `minReadySeconds`; a claim being deleted or owned by a previous pod of
//!   the same name blocks that pod's creation, retried every [`CLAIM_RETRY`]).
//! - The runtime records `SuccessfulCreate` / `FailedCreate` / `SuccessfulDelete` / … events
//!   per write, worded by [`pod_event`] and [`claim_event`] as upstream.
//!
//! Left out of upstream: pod storage repair (`updateStorage` on existing pods: pod volumes
//! are immutable, upstream's update fails too) and the `generateName` upstream also sets on
//! StatefulSet pods (they are created by name). `maxUnavailable` is honoured whenever it is
//! set (upstream: only with the `MaxUnavailableStatefulSet` gate, alpha in 1.33). Revision
//! hashes are not upstream's values (see [`history`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetStatus,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;

use super::deployment::{PlanEvent, scaled_value};
use super::history;
use super::podutil::{self, Selector};
use super::replicaset::nz;
use super::{Error, Result};

/// Pod label holding the pod's own name (for per-pod Services).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Pod label holding the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// `podManagementPolicy` creating and deleting pods without ordering.
pub const PARALLEL: &str = "Parallel";
/// `updateStrategy.type` replacing pods only when they are deleted.
pub const ON_DELETE: &str = "OnDelete";
/// `updateStrategy.type` replacing pods from the highest ordinal down (the default).
pub const ROLLING_UPDATE: &str = "RollingUpdate";
/// Retention policy value keeping claims.
pub const RETAIN: &str = "Retain";
/// Retention policy value deleting claims with their owner.
pub const DELETE: &str = "Delete";
/// How soon to plan again while a pod's creation waits for a claim to go away.
pub const CLAIM_RETRY: Duration = Duration::from_secs(5);

/// Bound on the `collisionCount` search for a free revision name.
const MAX_COLLISIONS: usize = 1000;

/// What to do for one StatefulSet, in field order (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatefulSetPlan {
    /// Orphan ControllerRevisions (names) selected by the selector: add the set's controller
    /// reference ([`statefulset_controller_ref`]).
    pub adopt_revisions: Vec<String>,
    /// Orphan pods (names) of this set selected by the selector: add the reference.
    pub adopt_pods: Vec<String>,
    /// Owned pods (names) no longer selected: remove the reference.
    pub release_pods: Vec<String>,
    /// The new update revision, if the template changed to a state not recorded yet.
    pub create_revisions: Vec<ControllerRevision>,
    /// Revisions to replace with a new `revision` number (the template went back to them).
    pub update_revisions: Vec<ControllerRevision>,
    /// Claims to replace (with their resourceVersion as given): owner references changed for
    /// the retention policy.
    pub update_pvcs: Vec<PersistentVolumeClaim>,
    /// Claims to create, each before the pod that mounts it.
    pub create_pvcs: Vec<PersistentVolumeClaim>,
    /// Pods to create, by name (no `generateName`).
    pub create_pods: Vec<Pod>,
    /// Pods whose identity labels (`statefulset.kubernetes.io/pod-name`,
    /// `apps.kubernetes.io/pod-index`) are restored: merge-patch their `metadata.labels`.
    pub update_pods: Vec<Pod>,
    /// Pods (names) to delete: failed, scaled down, or replaced by the rolling update.
    pub delete_pods: Vec<String>,
    /// The status to write.
    pub status: StatefulSetStatus,
    /// Whether `status` differs from the stored one (else skip the write).
    pub status_changed: bool,
    /// Old revisions (names) to delete, beyond `revisionHistoryLimit`.
    pub delete_revisions: Vec<String>,
    /// Events to record on the set after the writes.
    pub events: Vec<PlanEvent>,
    /// Plan again after this long even if nothing changes.
    pub requeue_after: Option<Duration>,
}

/// The controller reference a StatefulSet puts on its pods, claims and revisions.
pub fn statefulset_controller_ref(set: &StatefulSet) -> OwnerReference {
    podutil::new_controller_ref(&set.metadata, "apps/v1", "StatefulSet")
}

/// `<set>-<ordinal>` (`getPodName`).
pub fn pod_name(set_name: &str, ordinal: i32) -> String {
    format!("{set_name}-{ordinal}")
}

/// `<claim template>-<set>-<ordinal>` (`getPersistentVolumeClaimName`).
pub fn claim_name(template_name: &str, set_name: &str, ordinal: i32) -> String {
    format!("{template_name}-{set_name}-{ordinal}")
}

/// The parent set name and ordinal of a pod name `<parent>-<digits>`
/// (`getParentNameAndOrdinal`), None when the name has no such suffix or the ordinal does not
/// fit an i32.
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = pod_name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i32>().ok().map(|o| (parent, o))
}

/// A write the runtime reports as an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// A creation.
    Create,
    /// An update.
    Update,
    /// A deletion.
    Delete,
}

impl Verb {
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Verb::Create => ("create", "SuccessfulCreate", "FailedCreate"),
            Verb::Update => ("update", "SuccessfulUpdate", "FailedUpdate"),
            Verb::Delete => ("delete", "SuccessfulDelete", "FailedDelete"),
        }
    }
}

/// The event upstream records after a pod write (`recordPodEvent`), `error` if it failed.
pub fn pod_event(verb: Verb, set_name: &str, pod: &str, error: Option<&str>) -> PlanEvent {
    let (v, ok, failed) = verb.words();
    match error {
        None => PlanEvent {
            type_: "Normal",
            reason: ok,
            message: format!("{v} Pod {pod} in StatefulSet {set_name} successful"),
        },
        Some(e) => PlanEvent {
            type_: "Warning",
            reason: failed,
            message: format!("{v} Pod {pod} in StatefulSet {set_name} failed error: {e}"),
        },
    }
}

/// The event upstream records after a claim write (`recordClaimEvent`).
pub fn claim_event(
    verb: Verb,
    set_name: &str,
    pod: &str,
    claim: &str,
    error: Option<&str>,
) -> PlanEvent {
    let (v, ok, failed) = verb.words();
    match error {
        None => PlanEvent {
            type_: "Normal",
            reason: ok,
            message: format!("{v} Claim {claim} Pod {pod} in StatefulSet {set_name} success"),
        },
        Some(e) => PlanEvent {
            type_: "Warning",
            reason: failed,
            message: format!(
                "{v} Claim {claim} for Pod {pod} in StatefulSet {set_name} failed error: {e}"
            ),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The set, defaulted.

/// `persistentVolumeClaimRetentionPolicy` as (whenScaled, whenDeleted); unknown values act
/// as Retain/Retain, as upstream's `default` branches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    RetainRetain,
    /// whenScaled Retain, whenDeleted Delete.
    RetainDelete,
    /// whenScaled Delete, whenDeleted Retain.
    DeleteRetain,
    DeleteDelete,
}

struct Spec<'a> {
    name: &'a str,
    namespace: &'a str,
    uid: &'a str,
    replicas: i64,
    start: i64,
    min_ready: i32,
    monotonic: bool,
    on_delete: bool,
    rolling_type: bool,
    rolling: Option<RollingUpdateStatefulSetStrategy>,
    history_limit: i32,
    policy: Policy,
    scaled_retain: bool,
    claims: &'a [PersistentVolumeClaim],
    match_labels: BTreeMap<String, String>,
    service_name: Option<String>,
    status_current_replicas: i64,
    owner_ref: OwnerReference,
}

fn resolve<'a>(set: &'a StatefulSet) -> Spec<'a> {
    let spec = set.spec.as_ref();
    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    let type_ = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or(ROLLING_UPDATE);
    let policy = spec.and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let when_scaled = policy
        .and_then(|p| p.when_scaled.as_deref())
        .unwrap_or(RETAIN);
    let when_deleted = policy
        .and_then(|p| p.when_deleted.as_deref())
        .unwrap_or(RETAIN);
    Spec {
        name: set.metadata.name.as_deref().unwrap_or_default(),
        namespace: set.metadata.namespace.as_deref().unwrap_or_default(),
        uid: set.metadata.uid.as_deref().unwrap_or_default(),
        replicas: i64::from(spec.and_then(|s| s.replicas).unwrap_or(1).max(0)),
        start: i64::from(
            spec.and_then(|s| s.ordinals.as_ref())
                .and_then(|o| o.start)
                .unwrap_or(0)
                .max(0),
        ),
        min_ready: spec.and_then(|s| s.min_ready_seconds).unwrap_or(0),
        monotonic: spec.and_then(|s| s.pod_management_policy.as_deref()) != Some(PARALLEL),
        on_delete: type_ == ON_DELETE,
        rolling_type: type_ == ROLLING_UPDATE,
        rolling: strategy.and_then(|s| s.rolling_update.clone()),
        history_limit: spec
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(history::DEFAULT_REVISION_HISTORY_LIMIT),
        policy: match (when_scaled, when_deleted) {
            (RETAIN, DELETE) => Policy::RetainDelete,
            (DELETE, RETAIN) => Policy::DeleteRetain,
            (DELETE, DELETE) => Policy::DeleteDelete,
            _ => Policy::RetainRetain,
        },
        scaled_retain: when_scaled == RETAIN,
        claims: spec
            .and_then(|s| s.volume_claim_templates.as_deref())
            .unwrap_or_default(),
        match_labels: spec
            .and_then(|s| s.selector.match_labels.clone())
            .unwrap_or_default(),
        service_name: spec
            .and_then(|s| s.service_name.clone())
            .filter(|s| !s.is_empty()),
        status_current_replicas: i64::from(
            set.status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0),
        ),
        owner_ref: statefulset_controller_ref(set),
    }
}

// ---------------------------------------------------------------------------------------
// Revisions.

struct Revisions {
    current: ControllerRevision,
    update: ControllerRevision,
    collision_count: i32,
    create: Option<ControllerRevision>,
    bump: Option<ControllerRevision>,
}

/// `getStatefulSetRevisions` over the claimed revisions `revs` (sorted).
fn revisions(
    set: &StatefulSet,
    spec: &Spec<'_>,
    template: &PodTemplateSpec,
    revs: &[&ControllerRevision],
    all: &[ControllerRevision],
) -> Result<Revisions> {
    let status = set.status.clone().unwrap_or_default();
    let mut cc = status.collision_count.unwrap_or(0);
    let data = history::revision_data(template);
    let canonical = history::canonical_bytes(&data);
    let next = revs.last().map_or(1, |r| r.revision.saturating_add(1));
    let mut create = None;
    let mut bump = None;
    let update = if let Some(last) = revs.last().filter(|r| history::has_data(r, &canonical)) {
        // The latest revision is the template: no change.
        (*last).clone()
    } else if let Some(eq) = revs.iter().rev().find(|r| history::has_data(r, &canonical)) {
        // Back to an earlier template: it becomes the newest revision.
        let mut r = (*eq).clone();
        r.revision = next;
        bump = Some(r.clone());
        r
    } else {
        let mut found = None;
        for _ in 0..MAX_COLLISIONS {
            let hash = history::hash_data(&data, Some(cc));
            let name = history::revision_name(spec.name, &hash);
            let existing = all.iter().find(|r| {
                r.metadata.name.as_deref() == Some(name.as_str())
                    && r.metadata.namespace.as_deref().unwrap_or_default() == spec.namespace
            });
            match existing {
                None => {
                    let mut labels = template
                        .metadata
                        .as_ref()
                        .and_then(|m| m.labels.clone())
                        .unwrap_or_default();
                    labels.insert(history::REVISION_HASH.into(), hash);
                    let r = history::build_revision(
                        name,
                        &set.metadata,
                        spec.owner_ref.clone(),
                        labels,
                        data.clone(),
                        next,
                    );
                    create = Some(r.clone());
                    found = Some(r);
                    break;
                }
                Some(e) if history::has_data(e, &canonical) => {
                    found = Some(e.clone());
                    break;
                }
                Some(_) => {
                    tracing::info!(
                        statefulset = spec.name,
                        revision = name,
                        "revision name collision, bumping collisionCount"
                    );
                    cc = cc.saturating_add(1);
                }
            }
        }
        found.ok_or_else(|| {
            Error::InvalidRevision(format!(
                "{}: no free revision name after {MAX_COLLISIONS} collisions",
                spec.name
            ))
        })?
    };
    let current = status
        .current_revision
        .as_deref()
        .filter(|n| !n.is_empty())
        .and_then(|n| {
            revs.iter()
                .find(|r| r.metadata.name.as_deref() == Some(n))
                .map(|r| (*r).clone())
        })
        .unwrap_or_else(|| update.clone());
    Ok(Revisions {
        current,
        update,
        collision_count: cc,
        create,
        bump,
    })
}

// ---------------------------------------------------------------------------------------
// Pod state.

fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

fn revision_of(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(history::CONTROLLER_REVISION_HASH))
        .map(String::as_str)
        .unwrap_or_default()
}

fn ordinal_of(pod: &Pod) -> i64 {
    parent_and_ordinal(name_of(pod)).map_or(-1, |(_, o)| i64::from(o))
}

fn is_running_and_ready(pod: &Pod) -> bool {
    podutil::phase(pod) == podutil::PHASE_RUNNING && podutil::is_pod_ready(pod)
}

/// A pod slot of the ordinal range: an existing pod, or the one to create.
struct Slot {
    pod: Pod,
    exists: bool,
}

/// `isCreated`: the API server has it (its phase is set).
fn is_created(slot: &Slot) -> bool {
    slot.exists && !podutil::phase(&slot.pod).is_empty()
}

#[derive(Default)]
struct Counts {
    replicas: i32,
    ready: i32,
    available: i32,
    current: i32,
    updated: i32,
}

/// `computeReplicaStatus` over `slots`.
fn count<'a>(
    slots: impl Iterator<Item = &'a Slot>,
    min_ready: i32,
    current: &str,
    update: &str,
    now: Timestamp,
) -> Counts {
    let mut c = Counts::default();
    for s in slots {
        let created = is_created(s);
        if created {
            c.replicas += 1;
        }
        if is_running_and_ready(&s.pod) {
            c.ready += 1;
            if podutil::is_pod_available(&s.pod, min_ready, now) {
                c.available += 1;
            }
        }
        if created && s.pod.metadata.deletion_timestamp.is_none() {
            let rev = revision_of(&s.pod);
            if rev == current {
                c.current += 1;
            }
            if rev == update {
                c.updated += 1;
            }
        }
    }
    c
}

// ---------------------------------------------------------------------------------------
// Claims and their owner references.

fn matches_ref(r: &OwnerReference, api_version: &str, kind: &str, name: &str) -> bool {
    r.api_version == api_version && r.kind == kind && r.name == name
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
}

/// `hasOwnerRef`: a reference (controller or not) to `uid`.
fn has_ref(claim: &PersistentVolumeClaim, uid: &str) -> bool {
    !uid.is_empty() && refs(claim).iter().any(|r| r.uid == uid)
}

/// `hasStaleOwnerRef`: the first reference to (`api_version`, `kind`, `name`) has another
/// uid.
fn has_stale_ref(
    claim: &PersistentVolumeClaim,
    api_version: &str,
    kind: &str,
    name: &str,
    uid: &str,
) -> bool {
    refs(claim)
        .iter()
        .find(|r| matches_ref(r, api_version, kind, name))
        .is_some_and(|r| r.uid != uid)
}

/// The pod a claim belongs to, as far as owner references go.
struct ClaimPod<'a> {
    name: &'a str,
    uid: &'a str,
    in_range: bool,
}

impl Spec<'_> {
    fn pod_ref(&self, pod: &ClaimPod<'_>) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.name.to_string(),
            uid: pod.uid.to_string(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    /// `hasUnexpectedController`.
    fn has_unexpected_controller(&self, claim: &PersistentVolumeClaim, pod: &ClaimPod<'_>) -> bool {
        if self.policy == Policy::RetainRetain {
            return false;
        }
        for r in refs(claim) {
            if matches_ref(r, "apps/v1", "StatefulSet", self.name) {
                if r.uid != self.uid {
                    return true;
                }
                continue;
            }
            if matches_ref(r, "v1", "Pod", pod.name) {
                if r.uid != pod.uid {
                    return true;
                }
                continue;
            }
            if r.controller == Some(true) {
                return true;
            }
        }
        false
    }

    /// `isClaimOwnerUpToDate`.
    fn claim_up_to_date(&self, claim: &PersistentVolumeClaim, pod: &ClaimPod<'_>) -> bool {
        if has_stale_ref(claim, "apps/v1", "StatefulSet", self.name, self.uid)
            || has_stale_ref(claim, "v1", "Pod", pod.name, pod.uid)
        {
            // Managed by a previous set or pod of the same name: leave it alone.
            return true;
        }
        let set_ref = has_ref(claim, self.uid);
        let pod_ref = has_ref(claim, pod.uid);
        if self.has_unexpected_controller(claim, pod) {
            return !(set_ref || pod_ref);
        }
        let non_controller = refs(claim).iter().any(|r| {
            (r.uid == self.uid || (!pod.uid.is_empty() && r.uid == pod.uid))
                && r.controller != Some(true)
        });
        if non_controller {
            return false;
        }
        let scaled_down = !pod.in_range;
        match self.policy {
            Policy::RetainRetain => !set_ref && !pod_ref,
            Policy::RetainDelete => set_ref && !pod_ref,
            Policy::DeleteRetain => !set_ref && scaled_down == pod_ref,
            Policy::DeleteDelete => scaled_down != set_ref && scaled_down == pod_ref,
        }
    }

    /// `updateClaimOwnerRefForSetAndPod`: the claim's new owner references.
    fn claim_refs(
        &self,
        current: &[OwnerReference],
        unexpected: bool,
        pod: &ClaimPod<'_>,
    ) -> Vec<OwnerReference> {
        let mut out: Vec<OwnerReference> = current
            .iter()
            .filter(|r| {
                !matches_ref(r, "apps/v1", "StatefulSet", self.name)
                    && !matches_ref(r, "v1", "Pod", pod.name)
            })
            .cloned()
            .collect();
        if unexpected {
            return out;
        }
        let scaled_down = !pod.in_range;
        let (set, pod_owner) = match self.policy {
            Policy::RetainRetain => (false, false),
            Policy::RetainDelete => (true, false),
            Policy::DeleteRetain => (false, scaled_down),
            Policy::DeleteDelete => (!scaled_down, scaled_down),
        };
        if set && !out.iter().any(|r| r.uid == self.uid) {
            out.push(self.owner_ref.clone());
        }
        if pod_owner && !pod.uid.is_empty() && !out.iter().any(|r| r.uid == pod.uid) {
            out.push(self.pod_ref(pod));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// The planner.

/// Whether processing goes on after a pod (`runForAll`'s `shouldExit`, which only stops a
/// monotonic set).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit,
}

struct Planner<'a> {
    spec: Spec<'a>,
    now: Timestamp,
    pvcs: HashMap<&'a str, &'a PersistentVolumeClaim>,
    current_name: String,
    current_template: PodTemplateSpec,
    update_name: String,
    update_template: PodTemplateSpec,
    deleted: HashSet<String>,
    planned_pvcs: HashSet<String>,
    update_pvc_at: HashMap<String, usize>,
    plan: StatefulSetPlan,
}

impl Planner<'_> {
    fn requeue(&mut self, after: Duration) {
        let r = &mut self.plan.requeue_after;
        *r = Some(r.map_or(after, |x| x.min(after)));
    }

    fn terminating(&self, pod: &Pod) -> bool {
        pod.metadata.deletion_timestamp.is_some() || self.deleted.contains(name_of(pod))
    }

    fn available(&self, pod: &Pod) -> bool {
        podutil::is_pod_available(pod, self.spec.min_ready, self.now)
    }

    /// `isUnavailable`.
    fn unavailable(&self, pod: &Pod) -> bool {
        !self.available(pod) || self.terminating(pod)
    }

    /// Waits for `pod` to become available: plan again when it should be.
    fn wait_available(&mut self, pod: &Pod) {
        if let Some(d) = podutil::available_after(pod, self.spec.min_ready, self.now) {
            self.requeue(d);
        }
    }

    fn delete(&mut self, pod: &Pod) {
        let name = name_of(pod).to_string();
        if self.deleted.insert(name.clone()) {
            self.plan.delete_pods.push(name);
        }
    }

    /// The pod for `ordinal` (`newVersionedStatefulSetPod`): the current revision below the
    /// partition (or, without `rollingUpdate`, below `status.currentReplicas`), else the
    /// update revision.
    fn new_pod(&self, ordinal: i64) -> Result<Pod> {
        let s = &self.spec;
        let use_current = match &s.rolling {
            None => s.rolling_type && ordinal < s.start + s.status_current_replicas,
            Some(ru) => ordinal < s.start + i64::from(ru.partition.unwrap_or(0)),
        };
        let (template, revision) = if use_current {
            (&self.current_template, &self.current_name)
        } else {
            (&self.update_template, &self.update_name)
        };
        let ordinal = i32::try_from(ordinal).unwrap_or(i32::MAX);
        let name = pod_name(s.name, ordinal);
        let mut t = template.clone();
        let labels = t
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new);
        labels.insert(POD_NAME_LABEL.into(), name.clone());
        labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
        labels.insert(history::CONTROLLER_REVISION_HASH.into(), revision.clone());
        let mut pod = podutil::pod_from_template(&t, s.owner_ref.clone(), s.namespace, "")?;
        pod.metadata.generate_name = None;
        pod.metadata.name = Some(name.clone());
        let ps = pod.spec.get_or_insert_with(Default::default);
        ps.hostname = Some(name);
        ps.subdomain = s.service_name.clone();
        // `updateStorage`: one volume per claim template, then the template's others.
        let claim_names: HashSet<&str> = s
            .claims
            .iter()
            .filter_map(|c| c.metadata.name.as_deref())
            .collect();
        let mut volumes: Vec<Volume> = s
            .claims
            .iter()
            .map(|c| {
                let tname = c.metadata.name.clone().unwrap_or_default();
                Volume {
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim_name(&tname, s.name, ordinal),
                        read_only: None,
                    }),
                    name: tname,
                    ..Default::default()
                }
            })
            .collect();
        volumes.extend(
            ps.volumes
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|v| !claim_names.contains(v.name.as_str())),
        );
        ps.volumes = (!volumes.is_empty()).then_some(volumes);
        Ok(pod)
    }

    fn claim_names(&self, ordinal: i32) -> Vec<(usize, String)> {
        self.spec
            .claims
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    i,
                    claim_name(
                        c.metadata.name.as_deref().unwrap_or_default(),
                        self.spec.name,
                        ordinal,
                    ),
                )
            })
            .collect()
    }

    /// `PodClaimIsStale`: with `whenScaled: Delete`, an existing claim still owned by an
    /// earlier pod of the same name blocks the pod's creation (the garbage collector is
    /// about to delete it).
    fn claim_is_stale(&self, pod_name: &str, ordinal: i32) -> bool {
        if self.spec.scaled_retain {
            return false;
        }
        self.claim_names(ordinal).iter().any(|(_, n)| {
            self.pvcs
                .get(n.as_str())
                .is_some_and(|c| has_stale_ref(c, "v1", "Pod", pod_name, ""))
        })
    }

    /// A claim of the pod that exists but is being deleted (`createPersistentVolumeClaims`
    /// fails on it).
    fn claim_being_deleted(&self, ordinal: i32) -> Option<String> {
        self.claim_names(ordinal).into_iter().find_map(|(_, n)| {
            self.pvcs
                .get(n.as_str())
                .filter(|c| c.metadata.deletion_timestamp.is_some())
                .map(|_| n)
        })
    }

    /// `createPersistentVolumeClaims`: the pod's missing claims, from the templates, labelled
    /// with the selector's `matchLabels`, owned as the retention policy wants for a pod in
    /// range.
    fn create_claims(&mut self, ordinal: i32) {
        for (i, name) in self.claim_names(ordinal) {
            if self.pvcs.contains_key(name.as_str()) || !self.planned_pvcs.insert(name.clone()) {
                continue;
            }
            let Some(t) = self.spec.claims.get(i) else {
                continue;
            };
            let mut c = t.clone();
            c.status = None;
            let meta = &mut c.metadata;
            meta.name = Some(name.clone());
            meta.namespace = Some(self.spec.namespace.to_string());
            meta.uid = None;
            meta.resource_version = None;
            meta.creation_timestamp = None;
            let mut labels = meta.labels.take().unwrap_or_default();
            labels.extend(self.spec.match_labels.clone());
            meta.labels = (!labels.is_empty()).then_some(labels);
            let pod = ClaimPod {
                name: "",
                uid: "",
                in_range: true,
            };
            let current = meta.owner_references.take().unwrap_or_default();
            let owners = self.spec.claim_refs(&current, false, &pod);
            c.metadata.owner_references = (!owners.is_empty()).then_some(owners);
            self.plan.create_pvcs.push(c);
        }
    }

    /// `UpdatePodClaimForRetentionPolicy`: fix the owner references of the pod's existing
    /// claims.
    fn fix_claims(&mut self, pod: &Pod, in_range: bool) {
        let pod_name = name_of(pod);
        let Some((_, ordinal)) = parent_and_ordinal(pod_name) else {
            return;
        };
        let cp = ClaimPod {
            name: pod_name,
            uid: pod.metadata.uid.as_deref().unwrap_or_default(),
            in_range,
        };
        for (_, name) in self.claim_names(ordinal) {
            let Some(claim) = self.pvcs.get(name.as_str()).copied() else {
                continue;
            };
            let unexpected = self.spec.has_unexpected_controller(claim, &cp);
            if unexpected {
                let message = format!(
                    "PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as \
                     a manging controller, the retention policy is ignored for this claim"
                );
                if !self.plan.events.iter().any(|e| e.message == message) {
                    self.plan.events.push(PlanEvent {
                        type_: "Warning",
                        reason: "ConflictingController",
                        message,
                    });
                }
            }
            if self.spec.claim_up_to_date(claim, &cp) {
                continue;
            }
            let owners = self.spec.claim_refs(refs(claim), unexpected, &cp);
            let mut updated = claim.clone();
            updated.metadata.owner_references = (!owners.is_empty()).then_some(owners);
            match self.update_pvc_at.get(&name) {
                Some(&i) => self.plan.update_pvcs[i] = updated,
                None => {
                    self.update_pvc_at
                        .insert(name.clone(), self.plan.update_pvcs.len());
                    self.plan.update_pvcs.push(updated);
                }
            }
        }
    }

    /// `identityMatches`.
    fn identity_matches(&self, pod: &Pod) -> bool {
        let name = name_of(pod);
        parent_and_ordinal(name).is_some_and(|(parent, ord)| {
            parent == self.spec.name
                && name == pod_name(self.spec.name, ord)
                && pod.metadata.namespace.as_deref().unwrap_or_default() == self.spec.namespace
                && pod
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(POD_NAME_LABEL))
                    .map(String::as_str)
                    == Some(name)
        })
    }

    /// `processReplica`.
    fn process_replica(&mut self, slot: &Slot) -> Result<Flow> {
        let pod = &slot.pod;
        let monotonic = self.spec.monotonic;
        let name = name_of(pod).to_string();
        let ordinal = i32::try_from(ordinal_of(pod)).unwrap_or(-1);
        let phase = podutil::phase(pod);
        if slot.exists && (phase == podutil::PHASE_FAILED || phase == podutil::PHASE_SUCCEEDED) {
            // Recreated by a later plan, once this one is gone.
            if !self.terminating(pod) {
                self.delete(pod);
            }
            return Ok(Flow::Exit);
        }
        if !slot.exists {
            if self.claim_is_stale(&name, ordinal) {
                tracing::debug!(pod = name, "claim of a previous pod still there; waiting");
                self.requeue(CLAIM_RETRY);
                return Ok(Flow::Exit);
            }
            if let Some(claim) = self.claim_being_deleted(ordinal) {
                tracing::debug!(pod = name, claim, "claim is being deleted; waiting");
                self.requeue(CLAIM_RETRY);
                return Ok(Flow::Exit);
            }
            self.create_claims(ordinal);
            self.plan.create_pods.push(pod.clone());
            self.fix_claims(pod, true);
            return Ok(if monotonic {
                Flow::Exit
            } else {
                Flow::Continue
            });
        }
        if phase == podutil::PHASE_PENDING {
            if self.claim_being_deleted(ordinal).is_some() {
                self.requeue(CLAIM_RETRY);
                return Ok(Flow::Exit);
            }
            self.create_claims(ordinal);
            self.fix_claims(pod, true);
        }
        if monotonic {
            if self.terminating(pod) || !is_running_and_ready(pod) {
                return Ok(Flow::Exit);
            }
            if !self.available(pod) {
                self.wait_available(pod);
                return Ok(Flow::Exit);
            }
        }
        self.fix_claims(pod, true);
        if !self.identity_matches(pod)
            && parent_and_ordinal(&name).is_some_and(|(_, o)| name == pod_name(self.spec.name, o))
        {
            let mut fixed = pod.clone();
            let labels = fixed.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(POD_NAME_LABEL.into(), name.clone());
            labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
            self.plan.update_pods.push(fixed);
        }
        Ok(Flow::Continue)
    }

    /// `processCondemned`.
    fn process_condemned(&mut self, pod: &Pod, first_unavailable: Option<&str>) -> Flow {
        let monotonic = self.spec.monotonic;
        if self.terminating(pod) {
            return if monotonic {
                Flow::Exit
            } else {
                Flow::Continue
            };
        }
        let first = first_unavailable == Some(name_of(pod));
        if monotonic && !first {
            if !is_running_and_ready(pod) {
                return Flow::Exit;
            }
            if !self.available(pod) {
                self.wait_available(pod);
                return Flow::Exit;
            }
        }
        self.delete(pod);
        if monotonic {
            Flow::Exit
        } else {
            Flow::Continue
        }
    }

    /// The rolling update's deletions; returns how many pods at the current revision go.
    fn rolling_update(&mut self, slots: &[Slot]) -> Result<i32> {
        let update_min = self
            .spec
            .rolling
            .as_ref()
            .map_or(0, |r| r.partition.unwrap_or(0).max(0));
        let update_min = usize::try_from(update_min).unwrap_or(usize::MAX);
        let max_unavailable = self
            .spec
            .rolling
            .as_ref()
            .and_then(|r| r.max_unavailable.as_ref());
        let mut deleted = 0;
        if let Some(mu) = max_unavailable {
            // `updateStatefulSetAfterInvariantEstablished`.
            let total = i32::try_from(self.spec.replicas).unwrap_or(i32::MAX);
            let max = scaled_value(mu, total, false)?.max(1);
            let unavailable = slots.iter().filter(|s| self.unavailable(&s.pod)).count();
            let unavailable = i32::try_from(unavailable).unwrap_or(i32::MAX);
            if unavailable >= max {
                for s in slots {
                    self.wait_available(&s.pod);
                }
                return Ok(0);
            }
            let mut budget = max - unavailable;
            for s in slots.iter().skip(update_min).rev() {
                if budget == 0 {
                    break;
                }
                if s.exists && revision_of(&s.pod) != self.update_name && !self.terminating(&s.pod)
                {
                    self.delete(&s.pod);
                    deleted += 1;
                    budget -= 1;
                }
            }
            return Ok(deleted);
        }
        for s in slots.iter().skip(update_min).rev() {
            if s.exists && revision_of(&s.pod) != self.update_name && !self.terminating(&s.pod) {
                self.delete(&s.pod);
                return Ok(1);
            }
            if self.unavailable(&s.pod) {
                self.wait_available(&s.pod);
                return Ok(0);
            }
        }
        Ok(deleted)
    }
}

fn normalize_status(mut s: StatefulSetStatus) -> StatefulSetStatus {
    s.ready_replicas = s.ready_replicas.and_then(nz);
    s.current_replicas = s.current_replicas.and_then(nz);
    s.updated_replicas = s.updated_replicas.and_then(nz);
    s.available_replicas = s.available_replicas.and_then(nz);
    s.observed_generation = s.observed_generation.and_then(nz);
    s.collision_count = Some(s.collision_count.unwrap_or(0));
    s.current_revision = s.current_revision.filter(|r| !r.is_empty());
    s.update_revision = s.update_revision.filter(|r| !r.is_empty());
    s.conditions = s.conditions.filter(|c| !c.is_empty());
    s
}

/// Plans one sync of `set` against the pods, claims and revisions of its namespace (the
/// slices may hold other namespaces' objects; they are ignored). Pods are the set's when
/// named `<set>-<n>`, selected by its selector and controlled by it (or adopted). While the
/// set is being deleted only revisions, the status and history cleanup are planned.
pub fn plan_statefulset(
    set: &StatefulSet,
    pods_in_ns: &[Pod],
    pvcs_in_ns: &[PersistentVolumeClaim],
    revisions_in_ns: &[ControllerRevision],
    now: Timestamp,
) -> Result<StatefulSetPlan> {
    let spec = resolve(set);
    let selector = Selector::from_label_selector(set.spec.as_ref().map(|s| &s.selector))?;
    let deleting = set.metadata.deletion_timestamp.is_some();
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();

    // Revisions.
    let claimed = history::claim_revisions(&set.metadata, &selector, revisions_in_ns, false);
    let mut revs = claimed.owned.clone();
    history::sort_revisions(&mut revs);
    let r = revisions(set, &spec, &template, &revs, revisions_in_ns)?;
    let current_template = history::revision_template(&r.current)?;
    let update_template = match &r.create {
        Some(_) => template.clone(),
        None => history::revision_template(&r.update)?,
    };
    let current_name = r.current.metadata.name.clone().unwrap_or_default();
    let update_name = r.update.metadata.name.clone().unwrap_or_default();

    // Pods.
    let mut adopt_pods = Vec::new();
    let mut release_pods = Vec::new();
    let mut pods: Vec<&Pod> = Vec::new();
    for pod in pods_in_ns {
        if pod.metadata.namespace.as_deref().unwrap_or_default() != spec.namespace {
            continue;
        }
        let member = parent_and_ordinal(name_of(pod)).is_some_and(|(p, _)| p == spec.name);
        let matches = member && selector.matches(pod.metadata.labels.as_ref());
        match podutil::controller_ref(&pod.metadata) {
            Some(c) if c.uid == spec.uid => {
                if matches {
                    pods.push(pod);
                } else if !deleting {
                    release_pods.push(name_of(pod).to_string());
                }
            }
            Some(_) => {}
            None => {
                if matches && !deleting && pod.metadata.deletion_timestamp.is_none() {
                    adopt_pods.push(name_of(pod).to_string());
                    pods.push(pod);
                }
            }
        }
    }

    let pvcs: HashMap<&str, &PersistentVolumeClaim> = pvcs_in_ns
        .iter()
        .filter(|c| c.metadata.namespace.as_deref().unwrap_or_default() == spec.namespace)
        .filter_map(|c| c.metadata.name.as_deref().map(|n| (n, c)))
        .collect();

    let mut p = Planner {
        now,
        pvcs,
        current_name,
        current_template,
        update_name,
        update_template,
        deleted: HashSet::new(),
        planned_pvcs: HashSet::new(),
        update_pvc_at: HashMap::new(),
        plan: StatefulSetPlan {
            adopt_revisions: claimed.adopt.clone(),
            adopt_pods,
            release_pods,
            create_revisions: r.create.iter().cloned().collect(),
            update_revisions: r.bump.iter().cloned().collect(),
            ..Default::default()
        },
        spec,
    };

    let counts;
    let mut current_deleted = 0;
    if deleting {
        let slots: Vec<Slot> = pods
            .iter()
            .map(|pod| Slot {
                pod: (*pod).clone(),
                exists: true,
            })
            .collect();
        counts = count(
            slots.iter(),
            p.spec.min_ready,
            &p.current_name,
            &p.update_name,
            now,
        );
    } else {
        // Partition into the ordinal range and the condemned.
        let (start, end) = (p.spec.start, p.spec.start + p.spec.replicas - 1);
        let n = usize::try_from(p.spec.replicas).unwrap_or(0);
        let mut slots: Vec<Option<Slot>> = (0..n).map(|_| None).collect();
        let mut condemned: Vec<&Pod> = Vec::new();
        for pod in &pods {
            let ord = ordinal_of(pod);
            if ord >= start && ord <= end {
                let i = usize::try_from(ord - start).unwrap_or(usize::MAX);
                let canonical =
                    name_of(pod) == pod_name(p.spec.name, i32::try_from(ord).unwrap_or(i32::MAX));
                if let Some(slot) = slots.get_mut(i)
                    && (slot.is_none() || canonical)
                {
                    *slot = Some(Slot {
                        pod: (*pod).clone(),
                        exists: true,
                    });
                }
            } else if ord >= 0 {
                condemned.push(pod);
            }
        }
        let mut replicas = Vec::with_capacity(n);
        for (i, slot) in slots.into_iter().enumerate() {
            replicas.push(match slot {
                Some(s) => s,
                None => Slot {
                    pod: p.new_pod(start + i64::try_from(i).unwrap_or(i64::MAX))?,
                    exists: false,
                },
            });
        }
        condemned.sort_by_key(|pod| std::cmp::Reverse(ordinal_of(pod)));

        let first_unavailable: Option<String> = replicas
            .iter()
            .map(|s| &s.pod)
            .chain(condemned.iter().rev().copied())
            .find(|pod| p.unavailable(pod))
            .map(|pod| name_of(pod).to_string());

        let mut exited = false;
        for slot in &replicas {
            if p.process_replica(slot)? == Flow::Exit && p.spec.monotonic {
                exited = true;
                break;
            }
        }
        if !exited {
            for pod in &condemned {
                p.fix_claims(pod, false);
            }
            for pod in &condemned {
                if p.process_condemned(pod, first_unavailable.as_deref()) == Flow::Exit {
                    exited = true;
                    break;
                }
            }
        }
        if !exited && !p.spec.on_delete {
            current_deleted = p.rolling_update(&replicas)?;
        }
        let condemned_slots: Vec<Slot> = condemned
            .iter()
            .map(|pod| Slot {
                pod: (*pod).clone(),
                exists: true,
            })
            .collect();
        counts = count(
            replicas.iter().chain(condemned_slots.iter()),
            p.spec.min_ready,
            &p.current_name,
            &p.update_name,
            now,
        );
    }

    // Status.
    let prev = set.status.clone().unwrap_or_default();
    let mut current_replicas = counts.current - current_deleted;
    let mut current_revision = p.current_name.clone();
    let spec_replicas = p.spec.replicas;
    if p.spec.rolling_type
        && i64::from(counts.updated) == spec_replicas
        && i64::from(counts.ready) == spec_replicas
        && i64::from(counts.replicas) == spec_replicas
    {
        // `completeRollingUpdate`.
        current_replicas = counts.updated;
        current_revision = p.update_name.clone();
    }
    let status = StatefulSetStatus {
        replicas: counts.replicas,
        ready_replicas: nz(counts.ready),
        current_replicas: nz(current_replicas),
        updated_replicas: nz(counts.updated),
        available_replicas: nz(counts.available),
        current_revision: Some(current_revision),
        update_revision: Some(p.update_name.clone()),
        observed_generation: set.metadata.generation.and_then(nz),
        collision_count: Some(r.collision_count),
        conditions: prev.conditions.clone().filter(|c| !c.is_empty()),
    };
    p.plan.status_changed = normalize_status(prev) != normalize_status(status.clone());
    p.plan.status = status;

    // Ready pods that become available later.
    for pod in &pods {
        if let Some(d) = podutil::available_after(pod, p.spec.min_ready, now) {
            p.requeue(d);
        }
    }

    // History (`truncateHistory`).
    let mut live: HashSet<&str> = HashSet::new();
    live.insert(&p.current_name);
    live.insert(&p.update_name);
    for pod in &pods {
        live.insert(revision_of(pod));
    }
    let old: Vec<&ControllerRevision> = revs
        .iter()
        .copied()
        .filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    if let Ok(limit) = usize::try_from(p.spec.history_limit)
        && old.len() > limit
    {
        p.plan.delete_revisions = old[..old.len() - limit]
            .iter()
            .filter_map(|r| r.metadata.name.clone())
            .collect();
    }

    let plan = p.plan;
    if !plan.create_pods.is_empty() || !plan.delete_pods.is_empty() {
        tracing::debug!(
            statefulset = set.metadata.name.as_deref().unwrap_or_default(),
            create = plan.create_pods.len(),
            delete = plan.delete_pods.len(),
            update_revision = plan.status.update_revision.as_deref().unwrap_or_default(),
            "statefulset plan"
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
