//! The Deployment controller's sync (`pkg/controller/deployment`: `deployment_controller.go`
//! `syncDeployment`, `sync.go`, `rolling.go`, `recreate.go`, `progress.go`,
//! `util/deployment_util.go`) as a pure plan over the Deployment, the ReplicaSets and the pods
//! of its namespace.
//!
//! One plan is one upstream sync: claim the ReplicaSets (adopt/release), find or create the
//! new ReplicaSet (the one whose template equals the Deployment's, ignoring
//! `pod-template-hash`), sync its revision annotations, then either
//! - only the status (Deployment being deleted),
//! - scale without rolling out (paused, or `spec.replicas` changed: proportional scaling),
//! - or roll out (RollingUpdate: surge the new ReplicaSet, scale old ones down within
//!   `maxUnavailable`; Recreate: scale old ones to 0, wait for their pods to go, then scale
//!   the new one up),
//!
//! clean up old ReplicaSets beyond `revisionHistoryLimit`, and compute the status with the
//! `Available` and `Progressing` conditions (progress deadline included).
//!
//! Writes that upstream makes one after the other within a sync are simulated in memory and
//! merged: each ReplicaSet appears at most once in [`DeploymentPlan::update_rs`], with its
//! final spec and annotations, and the status is written once.
//!
//! What the plan assumes of the runtime:
//! - It applies the plan in field order: `adopt_rs`, `release_rs`, `create_rs`, `update_rs`,
//!   `delete_rs`, `deployment_annotations`, `status`, then records `events`; on a failed write
//!   it stops and plans again (a failed `create_rs` other than AlreadyExists: write
//!   [`DeploymentPlan::create_failed`]'s status and event first).
//! - `deployment_annotations` (the `deployment.kubernetes.io/revision` that `kubectl rollout
//!   history|status --revision` read) goes through the main resource, e.g. a merge patch of
//!   `metadata.annotations`: upstream writes it through the status subresource, whose
//!   strategy keeps annotations; keelson's status endpoint keeps only `status`.
//! - Before adopting a ReplicaSet, a fresh read of the Deployment confirms its uid and that it
//!   is not being deleted. `update_rs` entries carry the cached `resourceVersion`; one that
//!   was adopted in the same plan is stale after the adoption patch (update it without the
//!   precondition, or take the conflict and plan again).
//! - Old ReplicaSets are cleaned up when a rollout is complete and, as upstream, also while
//!   the Deployment is paused.
//! - It plans again on any change of the Deployment, of a ReplicaSet it owns or could adopt,
//!   of a pod of those (for Recreate), and after `requeue_after`.
//!
//! Left out of upstream: the `deprecated.deployment.rollback.to` annotation (the
//! `extensions/v1beta1` rollback subresource; `kubectl rollout undo` patches the template
//! instead, which works here) and the `PodReplacementPolicy` of 1.34 (not in v1.33 types).
//! The `pod-template-hash` is fnv32a over a canonical JSON form of the template (not Go's
//! `DeepHashObject` dump), so it differs from upstream's value for the same template; it is
//! stable and a valid label value.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::podutil::{self, Selector};
use super::replicaset::nz;
use super::{Error, Result};

/// A ReplicaSet's revision in its Deployment's rollout history (also set on the Deployment).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The earlier revisions a ReplicaSet served (set when `rollout undo` makes it new again).
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `spec.replicas` when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` when the ReplicaSet was last scaled (proportional scaling).
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label that tells the ReplicaSets (and pods) of different templates apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The annotation `kubectl rollout history` shows as CHANGE-CAUSE (copied to ReplicaSets).
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// Upstream's cap on the `revision-history` annotation.
const MAX_REV_HISTORY_CHARS: usize = 2000;

/// `Progressing` reason: a ReplicaSet was scaled as part of the rollout.
pub const REASON_RS_UPDATED: &str = "ReplicaSetUpdated";
/// `Progressing` reason: the new ReplicaSet could not be created.
pub const REASON_RS_CREATE_ERROR: &str = "ReplicaSetCreateError";
/// `Progressing` reason: the new ReplicaSet was created.
pub const REASON_NEW_RS_CREATED: &str = "NewReplicaSetCreated";
/// `Progressing` reason: an existing ReplicaSet was found to be the new one.
pub const REASON_FOUND_NEW_RS: &str = "FoundNewReplicaSet";
/// `Progressing` reason: the rollout completed.
pub const REASON_NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
/// `Progressing` reason: no progress within `progressDeadlineSeconds`.
pub const REASON_TIMED_OUT: &str = "ProgressDeadlineExceeded";
/// `Progressing` reason: the Deployment is paused.
pub const REASON_PAUSED: &str = "DeploymentPaused";
/// `Progressing` reason: the Deployment was resumed.
pub const REASON_RESUMED: &str = "DeploymentResumed";
/// `Available` reason: at least `replicas - maxUnavailable` pods are available.
pub const REASON_MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
/// `Available` reason: fewer than `replicas - maxUnavailable` pods are available.
pub const REASON_MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

const AVAILABLE: &str = "Available";
const PROGRESSING: &str = "Progressing";
const REPLICA_FAILURE: &str = "ReplicaFailure";

/// An event to record on the Deployment once the plan's writes succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEvent {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// The event reason, e.g. `ScalingReplicaSet`.
    pub reason: &'static str,
    /// The message, as upstream words it.
    pub message: String,
}

/// What to do for one Deployment, in field order (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentPlan {
    /// Orphan ReplicaSets (names) matching the selector: add the Deployment's controller
    /// reference ([`deployment_controller_ref`]).
    pub adopt_rs: Vec<String>,
    /// Owned ReplicaSets (names) that stopped matching the selector: remove the reference.
    pub release_rs: Vec<String>,
    /// The new ReplicaSet to create (name `<deployment>-<pod-template-hash>`).
    pub create_rs: Option<ReplicaSet>,
    /// ReplicaSets to update (replace, with their resourceVersion as given): new scale,
    /// annotations, `minReadySeconds`. Each at most once.
    pub update_rs: Vec<ReplicaSet>,
    /// Old ReplicaSets (names) to delete: beyond `revisionHistoryLimit`, scaled to 0.
    pub delete_rs: Vec<String>,
    /// The Deployment's new `metadata.annotations` (revision changed), or None.
    pub deployment_annotations: Option<BTreeMap<String, String>>,
    /// The status to write.
    pub status: DeploymentStatus,
    /// Whether `status` differs from the stored one (else skip the write).
    pub status_changed: bool,
    /// Events to record on the Deployment after the writes.
    pub events: Vec<PlanEvent>,
    /// Plan again after this long even if nothing changes (progress deadline check).
    pub requeue_after: Option<Duration>,
    /// The status to write if `create_rs` fails (the status as it was before the attempt).
    base_status: DeploymentStatus,
    has_progress_deadline: bool,
}

impl DeploymentPlan {
    /// The status and the warning event to write when creating `create_rs` failed with
    /// `error` (other than AlreadyExists, after which the runtime just plans again):
    /// `Progressing=False` `ReplicaSetCreateError` if the Deployment has a progress deadline.
    pub fn create_failed(&self, error: &str, now: Timestamp) -> (DeploymentStatus, PlanEvent) {
        let name = self
            .create_rs
            .as_ref()
            .and_then(|rs| rs.metadata.name.clone())
            .unwrap_or_default();
        let msg = format!("Failed to create new replica set {name:?}: {error}");
        let mut status = self.base_status.clone();
        if self.has_progress_deadline {
            let mut conds = status.conditions.take().unwrap_or_default();
            set_condition(
                &mut conds,
                new_condition(PROGRESSING, "False", REASON_RS_CREATE_ERROR, &msg, now),
            );
            status.conditions = Some(conds);
        }
        let event = PlanEvent {
            type_: "Warning",
            reason: REASON_RS_CREATE_ERROR,
            message: msg,
        };
        (status, event)
    }
}

/// The controller reference a Deployment puts on its ReplicaSets.
pub fn deployment_controller_ref(
    d: &Deployment,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    podutil::new_controller_ref(&d.metadata, "apps/v1", "Deployment")
}

// ---------------------------------------------------------------------------------------
// IntOrString, hashing, template equality.

/// `intstr.GetScaledValueFromIntOrPercent`: an integer as is, `"N%"` of `total` rounded up
/// or down. Anything else is an error.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let Some(p) = s.strip_suffix('%') else {
                return Err(Error::InvalidIntOrPercent(format!(
                    "{s:?}: string is not a percentage"
                )));
            };
            let n: i64 = p
                .parse()
                .map_err(|e| Error::InvalidIntOrPercent(format!("{s:?}: {e}")))?;
            #[allow(clippy::cast_precision_loss)]
            let f = n as f64 * f64::from(total) / 100.0;
            let r = if round_up { f.ceil() } else { f.floor() };
            #[allow(clippy::cast_possible_truncation)]
            let r = r.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
            Ok(r)
        }
    }
}

/// `(maxSurge, maxUnavailable)` for `desired` replicas (`ResolveFenceposts`): surge rounds
/// up, unavailability down, and if both come out 0 unavailability is 1.
pub fn resolve_fenceposts(
    max_surge: &IntOrString,
    max_unavailable: &IntOrString,
    desired: i32,
) -> Result<(i32, i32)> {
    let surge = scaled_value(max_surge, desired, true)?;
    let mut unavailable = scaled_value(max_unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Drops nulls, empty lists and empty objects from object fields, recursively: Go's
/// semantic equality treats nil and empty maps and slices alike.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| {
                    let n = normalize(v);
                    (!is_empty_value(&n)).then(|| (k.clone(), n))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fn canonical_template(t: &PodTemplateSpec, drop_hash: bool) -> Value {
    let mut v = normalize(&serde_json::to_value(t).unwrap_or(Value::Null));
    if drop_hash {
        if let Some(labels) = v
            .get_mut("metadata")
            .and_then(|m| m.get_mut("labels"))
            .and_then(Value::as_object_mut)
        {
            labels.remove(POD_TEMPLATE_HASH);
        }
        v = normalize(&v);
    }
    v
}

/// Whether two pod templates are equal ignoring the `pod-template-hash` label
/// (`EqualIgnoreHash`). Compared on their JSON form with empty fields dropped; quantities
/// are compared as written (`"1"` and `"1000m"` differ, unlike upstream).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    canonical_template(a, true) == canonical_template(b, true)
}

const SAFE_ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `rand.SafeEncodeString`: maps every byte onto letters and digits that cannot spell words.
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(SAFE_ALPHANUMS[usize::from(b) % SAFE_ALPHANUMS.len()]))
        .collect()
}

/// The `pod-template-hash` of a template (`controller.ComputeHash`): fnv32a over the
/// template's canonical JSON, then the collision count (8 bytes, little-endian), printed
/// in decimal and [`safe_encode`]d. Not bit-for-bit upstream's value (see the module doc).
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let bytes = serde_json::to_vec(&canonical_template(template, false)).unwrap_or_default();
    let mut h = OFFSET;
    let mut write = |data: &[u8]| {
        for b in data {
            h ^= u32::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    write(&bytes);
    if let Some(c) = collision_count {
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&c.to_le_bytes());
        write(&buf);
    }
    safe_encode(&h.to_string())
}

// ---------------------------------------------------------------------------------------
// Conditions.

fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

fn get_condition<'a>(
    conds: &'a [DeploymentCondition],
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    conds.iter().find(|c| c.type_ == type_)
}

/// `SetDeploymentCondition`: no change if the same status and reason are there; keeps the
/// transition time if only the reason changes.
fn set_condition(conds: &mut Vec<DeploymentCondition>, mut cond: DeploymentCondition) {
    if let Some(cur) = get_condition(conds, &cond.type_) {
        if cur.status == cond.status && cur.reason == cond.reason {
            return;
        }
        if cur.status == cond.status {
            cond.last_transition_time = cur.last_transition_time.clone();
        }
    }
    conds.retain(|c| c.type_ != cond.type_);
    conds.push(cond);
}

fn remove_condition(conds: &mut Vec<DeploymentCondition>, type_: &str) {
    conds.retain(|c| c.type_ != type_);
}

// ---------------------------------------------------------------------------------------
// ReplicaSet accessors.

// Counts are i64 inside the planner, so that no sum or difference of values taken from
// objects can overflow; they are clamped back to i32 where written.

/// An i64 count as the i32 the API carries, clamped.
fn to_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

fn rs_replicas(rs: &ReplicaSet) -> i64 {
    i64::from(rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))
}

fn set_rs_replicas(rs: &mut ReplicaSet, n: i64) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(to_i32(n));
}

fn rs_status_replicas(rs: &ReplicaSet) -> i64 {
    i64::from(rs.status.as_ref().map_or(0, |s| s.replicas))
}

fn rs_ready(rs: &ReplicaSet) -> i64 {
    i64::from(
        rs.status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
    )
}

fn rs_available(rs: &ReplicaSet) -> i64 {
    i64::from(
        rs.status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
    )
}

fn rs_name(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or_default()
}

fn rs_template(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default()
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// `deploymentutil.Revision`: the revision annotation, 0 when absent, an error when not a
/// number.
fn revision(rs: &ReplicaSet) -> Option<i64> {
    match annotation(&rs.metadata, REVISION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// `getIntFromAnnotation`.
fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i64> {
    annotation(&rs.metadata, key)?
        .parse::<i32>()
        .ok()
        .map(i64::from)
}

fn creation_key(rs: &ReplicaSet) -> (Option<Timestamp>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs_name(rs).to_string(),
    )
}

/// `SetReplicasAnnotations`: true if changed.
fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i64, max: i64) -> bool {
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut updated = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = to_i32(v).to_string();
        if ann.get(k) != Some(&v) {
            ann.insert(k.to_string(), v);
            updated = true;
        }
    }
    updated
}

fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i64, max: i64) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS) != Some(to_i32(desired).to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS) != Some(to_i32(max).to_string().as_str())
}

// ---------------------------------------------------------------------------------------
// The Deployment, defaulted.

/// `spec` with the API server's apps/v1 defaults applied and the fenceposts resolved.
struct Spec {
    replicas: i64,
    min_ready_seconds: i32,
    paused: bool,
    /// None when there is no deadline (`MaxInt32`).
    progress_deadline: Option<i32>,
    /// None when every revision is kept (`MaxInt32`).
    history_limit: Option<i32>,
    rolling: bool,
    max_surge: i64,
    max_unavailable: i64,
    selector: LabelSelector,
    template: PodTemplateSpec,
}

fn resolve_spec(d: &Deployment) -> Result<Spec> {
    let spec = d.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    let strategy = spec.strategy.unwrap_or_default();
    let (rolling, max_surge, max_unavailable) =
        match strategy.type_.as_deref().unwrap_or("RollingUpdate") {
            "RollingUpdate" => {
                let ru = strategy.rolling_update.unwrap_or_default();
                let quarter = IntOrString::String("25%".into());
                let (surge, unavailable) = resolve_fenceposts(
                    ru.max_surge.as_ref().unwrap_or(&quarter),
                    ru.max_unavailable.as_ref().unwrap_or(&quarter),
                    replicas,
                )?;
                let unavailable = if replicas == 0 {
                    0
                } else {
                    unavailable.min(replicas)
                };
                (true, surge, unavailable)
            }
            "Recreate" => (false, 0, 0),
            other => return Err(Error::UnsupportedStrategy(other.to_string())),
        };
    let deadline = spec.progress_deadline_seconds.unwrap_or(600);
    let limit = spec.revision_history_limit.unwrap_or(10);
    Ok(Spec {
        replicas: i64::from(replicas),
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        paused: spec.paused.unwrap_or(false),
        progress_deadline: (deadline != i32::MAX).then_some(deadline),
        history_limit: (limit != i32::MAX).then_some(limit),
        rolling,
        max_surge: i64::from(max_surge),
        max_unavailable: i64::from(max_unavailable),
        selector: spec.selector,
        template: spec.template,
    })
}

fn normalize_status(mut s: DeploymentStatus) -> DeploymentStatus {
    s.observed_generation = s.observed_generation.and_then(nz);
    s.replicas = s.replicas.and_then(nz);
    s.updated_replicas = s.updated_replicas.and_then(nz);
    s.ready_replicas = s.ready_replicas.and_then(nz);
    s.available_replicas = s.available_replicas.and_then(nz);
    s.unavailable_replicas = s.unavailable_replicas.and_then(nz);
    s.conditions = s.conditions.filter(|c| !c.is_empty());
    s
}

// ---------------------------------------------------------------------------------------
// The planner.

struct Entry {
    rs: ReplicaSet,
    created: bool,
    dirty: Option<usize>,
    deleted: bool,
}

/// A sync stopped early (hash collision): write the status as it is and plan again.
struct Stop;

struct Planner<'a> {
    d: &'a Deployment,
    name: String,
    uid: String,
    spec: Spec,
    now: Timestamp,
    /// The stored status: the counts progress is measured against.
    old: DeploymentStatus,
    /// The Deployment's conditions as mutated during the sync (upstream's in-memory
    /// `d.Status.Conditions`).
    conds: Vec<DeploymentCondition>,
    collision_count: Option<i32>,
    annotations: BTreeMap<String, String>,
    rss: Vec<Entry>,
    namespace_rss: &'a [ReplicaSet],
    pods: Vec<&'a Pod>,
    next_dirty: usize,
    events: Vec<PlanEvent>,
    requeue_after: Option<Duration>,
    base_status: Option<DeploymentStatus>,
}

impl Planner<'_> {
    fn has_deadline(&self) -> bool {
        self.spec.progress_deadline.is_some()
    }

    fn mark_dirty(&mut self, i: usize) {
        if !self.rss[i].created && self.rss[i].dirty.is_none() {
            self.rss[i].dirty = Some(self.next_dirty);
            self.next_dirty += 1;
        }
    }

    fn event(&mut self, reason: &'static str, message: String) {
        self.events.push(PlanEvent {
            type_: "Normal",
            reason,
            message,
        });
    }

    fn replicas(&self, i: usize) -> i64 {
        rs_replicas(&self.rss[i].rs)
    }

    fn sort_by_creation(&self, v: &mut [usize]) {
        v.sort_by_key(|&i| creation_key(&self.rss[i].rs));
    }

    fn active(&self, v: &[usize]) -> Vec<usize> {
        v.iter()
            .copied()
            .filter(|&i| self.replicas(i) > 0)
            .collect()
    }

    fn sum(&self, v: &[usize], f: fn(&ReplicaSet) -> i64) -> i64 {
        v.iter().map(|&i| f(&self.rss[i].rs)).sum()
    }

    /// `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's.
    fn find_new(&self) -> Option<usize> {
        let mut all: Vec<usize> = (0..self.rss.len()).collect();
        self.sort_by_creation(&mut all);
        all.into_iter()
            .find(|&i| equal_ignore_hash(&rs_template(&self.rss[i].rs), &self.spec.template))
    }

    /// `SetDeploymentRevision`.
    fn set_deployment_revision(&mut self, rev: &str) {
        if self.annotations.get(REVISION).map(String::as_str) != Some(rev) {
            self.annotations.insert(REVISION.into(), rev.into());
        }
    }

    /// `copyDeploymentAnnotationsToReplicaSet`.
    fn copy_annotations(&self, rs: &mut ReplicaSet) -> bool {
        let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        let mut changed = false;
        for (k, v) in &self.annotations {
            let skip = matches!(
                k.as_str(),
                LAST_APPLIED
                    | REVISION
                    | REVISION_HISTORY
                    | DESIRED_REPLICAS
                    | MAX_REPLICAS
                    | ROLLBACK_TO
            );
            if skip || ann.get(k) == Some(v) {
                continue;
            }
            ann.insert(k.clone(), v.clone());
            changed = true;
        }
        changed
    }

    /// `SetNewReplicaSetAnnotations`: true if `rs`'s annotations changed.
    fn set_new_rs_annotations(&self, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
        let mut changed = self.copy_annotations(rs);
        let name = rs_name(rs).to_string();
        let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        let old_str = ann.get(REVISION).cloned();
        let old_rev = match old_str.as_deref().unwrap_or("").parse::<i64>() {
            Ok(v) => v,
            Err(_) if old_str.as_deref().is_some_and(|s| !s.is_empty()) => {
                tracing::warn!(rs = name, "revision annotation is not a number");
                return false;
            }
            Err(_) => 0,
        };
        if old_rev < new_revision {
            ann.insert(REVISION.into(), new_revision.to_string());
            changed = true;
            // A ReplicaSet that had a revision becomes new again (`rollout undo`): keep its
            // earlier revisions.
            if let Some(old) = old_str {
                let history = ann.get(REVISION_HISTORY).cloned().unwrap_or_default();
                let parts: Vec<&str> = history.split(',').collect();
                if parts.first().is_none_or(|p| p.is_empty()) {
                    ann.insert(REVISION_HISTORY.into(), old);
                } else {
                    let mut total = history.len() + old.len() + 1;
                    let mut start = 0;
                    while total > MAX_REV_HISTORY_CHARS && start < parts.len() {
                        total = total.saturating_sub(parts[start].len() + 1);
                        start += 1;
                    }
                    if total <= MAX_REV_HISTORY_CHARS {
                        let mut kept: Vec<&str> = parts[start..].to_vec();
                        kept.push(&old);
                        let joined = kept.join(",");
                        ann.insert(REVISION_HISTORY.into(), joined);
                    }
                }
            }
        }
        if !exists
            && set_replicas_annotations(
                rs,
                self.spec.replicas,
                self.spec.replicas + self.spec.max_surge,
            )
        {
            changed = true;
        }
        changed
    }

    /// `NewRSNewReplicas` for a new ReplicaSet of `new_replicas` among ReplicaSets totalling
    /// `total` replicas.
    fn new_rs_new_replicas(&self, total: i64, new_replicas: i64) -> i64 {
        if !self.spec.rolling {
            return self.spec.replicas;
        }
        let max_total = self.spec.replicas + self.spec.max_surge;
        if total >= max_total {
            return new_replicas;
        }
        let up = (max_total - total).min(self.spec.replicas - new_replicas);
        new_replicas + up
    }

    /// `getAllReplicaSetsAndSyncRevision`: (new, old) where old is every other claimed
    /// ReplicaSet, oldest first.
    fn get_all(&mut self, create: bool) -> Result<(Option<usize>, Vec<usize>), Stop> {
        let new = self.find_new();
        let mut old: Vec<usize> = (0..self.rss.len())
            .filter(|&i| Some(i) != new && !self.rss[i].created)
            .collect();
        self.sort_by_creation(&mut old);
        let new = self.get_new(new, &old, create)?;
        Ok((new, old))
    }

    /// `getNewReplicaSet`.
    fn get_new(
        &mut self,
        existing: Option<usize>,
        old: &[usize],
        create: bool,
    ) -> Result<Option<usize>, Stop> {
        let max_old = old
            .iter()
            .filter_map(|&i| revision(&self.rss[i].rs))
            .max()
            .unwrap_or(0)
            .max(0);
        let new_revision = max_old.saturating_add(1);

        if let Some(i) = existing {
            let mut copy = self.rss[i].rs.clone();
            let annotations_updated = self.set_new_rs_annotations(&mut copy, new_revision, true);
            let mrs = copy
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0);
            if annotations_updated || mrs != self.spec.min_ready_seconds {
                copy.spec
                    .get_or_insert_with(Default::default)
                    .min_ready_seconds = nz(self.spec.min_ready_seconds);
                self.rss[i].rs = copy;
                self.mark_dirty(i);
                return Ok(Some(i));
            }
            let rev = annotation(&copy.metadata, REVISION)
                .unwrap_or("")
                .to_string();
            self.set_deployment_revision(&rev);
            if self.has_deadline() && get_condition(&self.conds, PROGRESSING).is_none() {
                let msg = format!("Found new replica set {:?}", rs_name(&copy));
                set_condition(
                    &mut self.conds,
                    new_condition(PROGRESSING, "True", REASON_FOUND_NEW_RS, &msg, self.now),
                );
            }
            return Ok(Some(i));
        }
        if !create {
            return Ok(None);
        }

        let hash = pod_template_hash(&self.spec.template, self.collision_count);
        let mut template = self.spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = self.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{}", self.name, hash);
        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![deployment_controller_ref(self.d)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: nz(self.spec.min_ready_seconds),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let total = self.sum(old, rs_replicas);
        let replicas = self.new_rs_new_replicas(total, 0);
        set_rs_replicas(&mut rs, replicas);
        self.set_new_rs_annotations(&mut rs, new_revision, false);

        // Creating it would fail with AlreadyExists: the same ReplicaSet not claimed yet
        // (wait for the caches), or a hash collision (bump collisionCount, hash again).
        if let Some(other) = self
            .namespace_rss
            .iter()
            .find(|o| o.metadata.name.as_deref() == Some(name.as_str()))
        {
            if podutil::is_controlled_by(&other.metadata, &self.uid)
                && equal_ignore_hash(&self.spec.template, &rs_template(other))
            {
                self.requeue_after = Some(Duration::from_secs(1));
                return Err(Stop);
            }
            let cc = self.collision_count.unwrap_or(0);
            self.collision_count = Some(cc.saturating_add(1));
            tracing::info!(
                deployment = self.name,
                old = cc,
                new = cc.saturating_add(1),
                "hash collision, bumping collisionCount"
            );
            self.requeue_after = Some(Duration::from_secs(1));
            return Err(Stop);
        }

        self.base_status = Some(self.stop_status());
        if replicas > 0 {
            self.event(
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {replicas}"),
            );
        }
        // In memory it is the newest ReplicaSet; the API server sets the real time.
        rs.metadata.creation_timestamp = Some(Time(self.now));
        self.rss.push(Entry {
            rs,
            created: true,
            dirty: None,
            deleted: false,
        });
        self.set_deployment_revision(&new_revision.to_string());
        if self.has_deadline() {
            let msg = format!("Created new replica set {name:?}");
            set_condition(
                &mut self.conds,
                new_condition(PROGRESSING, "True", REASON_NEW_RS_CREATED, &msg, self.now),
            );
        }
        Ok(Some(self.rss.len() - 1))
    }

    /// `scaleReplicaSet`: new size and replicas annotations; true if the size changed.
    fn scale_rs(&mut self, i: usize, new_scale: i64, operation: &str) -> bool {
        let desired = self.spec.replicas;
        let max = desired + self.spec.max_surge;
        let old_scale = self.replicas(i);
        let size_changed = old_scale != new_scale;
        if size_changed || replicas_annotations_need_update(&self.rss[i].rs, desired, max) {
            let rs = &mut self.rss[i].rs;
            set_rs_replicas(rs, new_scale);
            set_replicas_annotations(rs, desired, max);
            self.mark_dirty(i);
            if size_changed {
                let name = rs_name(&self.rss[i].rs).to_string();
                self.event(
                    "ScalingReplicaSet",
                    format!(
                        "Scaled {operation} replica set {name} from {old_scale} to {new_scale}"
                    ),
                );
            }
        }
        size_changed
    }

    /// `scaleReplicaSetAndRecordEvent`.
    fn scale_and_record(&mut self, i: usize, new_scale: i64) -> bool {
        let cur = self.replicas(i);
        if cur == new_scale {
            return false;
        }
        let op = if cur < new_scale { "up" } else { "down" };
        self.scale_rs(i, new_scale, op)
    }

    // -- status --------------------------------------------------------------------------

    fn calculate_status(&self, all: &[usize], new: Option<usize>) -> DeploymentStatus {
        let available = self.sum(all, rs_available);
        let total = self.sum(all, rs_replicas);
        let unavailable = (total - available).max(0);
        let mut terminating = Some(0i64);
        for &i in all {
            terminating = match (terminating, self.rss[i].rs.status.as_ref()) {
                (Some(t), Some(s)) => s.terminating_replicas.map(|x| t + i64::from(x)),
                _ => None,
            };
        }
        let mut conds = self.conds.clone();
        if available >= self.spec.replicas - self.spec.max_unavailable {
            set_condition(
                &mut conds,
                new_condition(
                    AVAILABLE,
                    "True",
                    REASON_MIN_AVAILABLE,
                    "Deployment has minimum availability.",
                    self.now,
                ),
            );
        } else {
            set_condition(
                &mut conds,
                new_condition(
                    AVAILABLE,
                    "False",
                    REASON_MIN_UNAVAILABLE,
                    "Deployment does not have minimum availability.",
                    self.now,
                ),
            );
        }
        DeploymentStatus {
            observed_generation: self.d.metadata.generation.and_then(nz),
            replicas: nz(to_i32(self.sum(all, rs_status_replicas))),
            updated_replicas: nz(to_i32(
                new.map_or(0, |i| rs_status_replicas(&self.rss[i].rs)),
            )),
            ready_replicas: nz(to_i32(self.sum(all, rs_ready))),
            available_replicas: nz(to_i32(available)),
            unavailable_replicas: nz(to_i32(unavailable)),
            terminating_replicas: terminating.map(to_i32),
            collision_count: self.collision_count,
            conditions: Some(conds),
        }
    }

    /// `DeploymentComplete`.
    fn complete(&self, s: &DeploymentStatus) -> bool {
        let r = self.spec.replicas;
        let g = |v: Option<i32>| i64::from(v.unwrap_or(0));
        g(s.updated_replicas) == r
            && g(s.replicas) == r
            && g(s.available_replicas) == r
            && s.observed_generation.unwrap_or(0) >= self.d.metadata.generation.unwrap_or(0)
    }

    /// `DeploymentProgressing`: more updated, ready or available replicas, or fewer old ones,
    /// than in the stored status.
    fn progressing(&self, s: &DeploymentStatus) -> bool {
        let o = &self.old;
        let g = |v: Option<i32>| i64::from(v.unwrap_or(0));
        let old_old = g(o.replicas) - g(o.updated_replicas);
        let new_old = g(s.replicas) - g(s.updated_replicas);
        g(s.updated_replicas) > g(o.updated_replicas)
            || new_old < old_old
            || g(s.ready_replicas) > g(o.ready_replicas)
            || g(s.available_replicas) > g(o.available_replicas)
    }

    /// `DeploymentTimedOut`.
    fn timed_out(&self, s: &DeploymentStatus) -> bool {
        let Some(deadline) = self.spec.progress_deadline else {
            return false;
        };
        let Some(cond) = s
            .conditions
            .as_deref()
            .and_then(|c| get_condition(c, PROGRESSING))
        else {
            return false;
        };
        match cond.reason.as_deref() {
            Some(REASON_NEW_RS_AVAILABLE) => false,
            Some(REASON_TIMED_OUT) => true,
            _ => match cond.last_update_time.as_ref() {
                None => true,
                Some(t) => podutil::add_seconds(t.0, deadline) < self.now,
            },
        }
    }

    /// `syncDeploymentStatus`.
    fn sync_status(&self, all: &[usize], new: Option<usize>) -> DeploymentStatus {
        self.calculate_status(all, new)
    }

    /// `syncRolloutStatus`: the status with progress estimated.
    fn sync_rollout_status(&mut self, all: &[usize], new: Option<usize>) -> DeploymentStatus {
        let mut st = self.calculate_status(all, new);
        let mut conds = st.conditions.take().unwrap_or_default();
        if !self.has_deadline() {
            remove_condition(&mut conds, PROGRESSING);
        }
        st.conditions = Some(conds);
        let current = get_condition(&self.conds, PROGRESSING).cloned();
        let is_complete = st.replicas == st.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(REASON_NEW_RS_AVAILABLE);
        let subject = match new {
            Some(i) => format!("ReplicaSet {:?}", rs_name(&self.rss[i].rs)),
            None => format!("Deployment {:?}", self.name),
        };
        if self.has_deadline() && !is_complete {
            let cond = if self.complete(&st) {
                Some(new_condition(
                    PROGRESSING,
                    "True",
                    REASON_NEW_RS_AVAILABLE,
                    &format!("{subject} has successfully progressed."),
                    self.now,
                ))
            } else if self.progressing(&st) {
                let mut c = new_condition(
                    PROGRESSING,
                    "True",
                    REASON_RS_UPDATED,
                    &format!("{subject} is progressing."),
                    self.now,
                );
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    if let Some(cs) = st.conditions.as_mut() {
                        remove_condition(cs, PROGRESSING);
                    }
                }
                Some(c)
            } else if self.timed_out(&st) {
                Some(new_condition(
                    PROGRESSING,
                    "False",
                    REASON_TIMED_OUT,
                    &format!("{subject} has timed out progressing."),
                    self.now,
                ))
            } else {
                None
            };
            if let (Some(c), Some(cs)) = (cond, st.conditions.as_mut()) {
                set_condition(cs, c);
            }
        }

        // The new ReplicaSet's failure first, else any other's.
        let failure = new.into_iter().chain(all.iter().copied()).find_map(|i| {
            self.rss[i]
                .rs
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == REPLICA_FAILURE)
                .cloned()
        });
        if let Some(cs) = st.conditions.as_mut() {
            match failure {
                Some(f) => set_condition(
                    cs,
                    DeploymentCondition {
                        type_: f.type_,
                        status: f.status,
                        last_update_time: f.last_transition_time.clone(),
                        last_transition_time: f.last_transition_time,
                        reason: f.reason,
                        message: f.message,
                    },
                ),
                None => remove_condition(cs, REPLICA_FAILURE),
            }
        }

        self.requeue_stuck(&st);
        st
    }

    /// `requeueStuckDeployment`: when to check the progress deadline again.
    fn requeue_stuck(&mut self, st: &DeploymentStatus) {
        let Some(deadline) = self.spec.progress_deadline else {
            return;
        };
        let Some(cur) = st
            .conditions
            .as_deref()
            .and_then(|c| get_condition(c, PROGRESSING))
        else {
            return;
        };
        if self.complete(st) || cur.reason.as_deref() == Some(REASON_TIMED_OUT) {
            return;
        }
        let after = match cur.last_update_time.as_ref() {
            Some(t) => podutil::duration_between(self.now, podutil::add_seconds(t.0, deadline)),
            None => Duration::ZERO,
        } + Duration::from_secs(1);
        self.requeue_after = Some(self.requeue_after.map_or(after, |r| r.min(after)));
    }

    /// The stored status with the conditions and collision count as mutated so far (what
    /// upstream writes when a sync stops early).
    fn stop_status(&self) -> DeploymentStatus {
        let mut s = self.old.clone();
        s.conditions = Some(self.conds.clone());
        s.collision_count = self.collision_count;
        s
    }

    // -- paths ---------------------------------------------------------------------------

    /// `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if !self.has_deadline() {
            return;
        }
        let reason = get_condition(&self.conds, PROGRESSING).and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(REASON_TIMED_OUT) {
            return;
        }
        let paused_exists = reason.as_deref() == Some(REASON_PAUSED);
        if self.spec.paused && !paused_exists {
            set_condition(
                &mut self.conds,
                new_condition(
                    PROGRESSING,
                    "Unknown",
                    REASON_PAUSED,
                    "Deployment is paused",
                    self.now,
                ),
            );
        } else if !self.spec.paused && paused_exists {
            set_condition(
                &mut self.conds,
                new_condition(
                    PROGRESSING,
                    "Unknown",
                    REASON_RESUMED,
                    "Deployment is resumed",
                    self.now,
                ),
            );
        }
    }

    fn all_of(new: Option<usize>, old: &[usize]) -> Vec<usize> {
        let mut all = old.to_vec();
        all.extend(new);
        all
    }

    /// `syncStatusOnly`.
    fn sync_status_only(&mut self) -> Result<DeploymentStatus, Stop> {
        let (new, old) = self.get_all(false)?;
        Ok(self.sync_status(&Self::all_of(new, &old), new))
    }

    /// `isScalingEvent`: an active ReplicaSet was scaled for another `spec.replicas`.
    fn is_scaling_event(&mut self) -> Result<bool, Stop> {
        let (new, old) = self.get_all(false)?;
        let all = self.active(&Self::all_of(new, &old));
        Ok(all.iter().any(|&i| {
            int_annotation(&self.rss[i].rs, DESIRED_REPLICAS)
                .is_some_and(|d| d != self.spec.replicas)
        }))
    }

    /// `sync`: scaling and status, no rollout (paused, or a scaling event).
    fn sync(&mut self) -> Result<DeploymentStatus, Stop> {
        let (new, old) = self.get_all(false)?;
        self.scale(new, &old);
        if self.spec.paused {
            self.cleanup(&old);
        }
        Ok(self.sync_status(&Self::all_of(new, &old), new))
    }

    /// `FindActiveOrLatest`.
    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let mut newest_first = old.to_vec();
        self.sort_by_creation(&mut newest_first);
        newest_first.reverse();
        let active = self.active(&Self::all_of(new, &newest_first));
        match active.len() {
            0 => new.or(newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// `IsSaturated`.
    fn saturated(&self, new: Option<usize>) -> bool {
        let Some(i) = new else {
            return false;
        };
        let rs = &self.rss[i].rs;
        let r = self.spec.replicas;
        int_annotation(rs, DESIRED_REPLICAS) == Some(r)
            && rs_replicas(rs) == r
            && rs_available(rs) == r
    }

    /// `getReplicaSetFraction`.
    fn fraction(&self, i: usize) -> i64 {
        let replicas = self.replicas(i);
        if self.spec.replicas == 0 {
            return -replicas;
        }
        let deployment_replicas = self.spec.replicas + self.spec.max_surge;
        let annotated = int_annotation(&self.rss[i].rs, MAX_REPLICAS)
            .unwrap_or_else(|| i64::from(self.old.replicas.unwrap_or(0)));
        if annotated == 0 {
            return 0;
        }
        #[allow(clippy::cast_precision_loss)]
        let size = (replicas * deployment_replicas) as f64 / annotated as f64;
        // integer.RoundToInt32: half away from zero.
        #[allow(clippy::cast_possible_truncation)]
        let rounded = size.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i64;
        rounded - replicas
    }

    /// `GetProportion`.
    fn proportion(&self, i: usize, to_add: i64, added: i64) -> i64 {
        if self.replicas(i) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(i);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// `scale`: proportional scaling of the active ReplicaSets on a `spec.replicas` change.
    fn scale(&mut self, new: Option<usize>, old: &[usize]) {
        if let Some(i) = self.active_or_latest(new, old) {
            if self.replicas(i) != self.spec.replicas {
                self.scale_and_record(i, self.spec.replicas);
            }
            return;
        }
        if self.saturated(new) {
            for i in self.active(old) {
                self.scale_and_record(i, 0);
            }
            return;
        }
        if !self.spec.rolling {
            return;
        }
        let mut all = self.active(&Self::all_of(new, old));
        let total = self.sum(&all, rs_replicas);
        let allowed = if self.spec.replicas > 0 {
            self.spec.replicas + self.spec.max_surge
        } else {
            0
        };
        let to_add = allowed - total;
        let operation = if to_add > 0 {
            // Largest first; newer first among equals.
            all.sort_by(|&a, &b| {
                self.replicas(b)
                    .cmp(&self.replicas(a))
                    .then_with(|| creation_key(&self.rss[b].rs).cmp(&creation_key(&self.rss[a].rs)))
            });
            "up"
        } else if to_add < 0 {
            // Largest first; older first among equals.
            all.sort_by(|&a, &b| {
                self.replicas(b)
                    .cmp(&self.replicas(a))
                    .then_with(|| creation_key(&self.rss[a].rs).cmp(&creation_key(&self.rss[b].rs)))
            });
            "down"
        } else {
            ""
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for &i in &all {
            if to_add != 0 {
                let p = self.proportion(i, to_add, added);
                sizes.push(self.replicas(i) + p);
                added += p;
            } else {
                sizes.push(self.replicas(i));
            }
        }
        for (k, &i) in all.iter().enumerate() {
            let mut size = sizes[k];
            if k == 0 && to_add != 0 {
                // Leftovers go to the largest ReplicaSet.
                size = (size + to_add - added).max(0);
            }
            self.scale_rs(i, size, operation);
        }
    }

    /// `cleanupDeployment`: delete the oldest old ReplicaSets beyond the history limit that
    /// have no pods, are fully observed and are not being deleted.
    fn cleanup(&mut self, old: &[usize]) {
        let Some(limit) = self.spec.history_limit else {
            return;
        };
        let mut cleanable: Vec<usize> = old
            .iter()
            .copied()
            .filter(|&i| self.rss[i].rs.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = i64::try_from(cleanable.len()).unwrap_or(i64::MAX) - i64::from(limit);
        if diff <= 0 {
            return;
        }
        cleanable.sort_by_key(|&i| {
            let rs = &self.rss[i].rs;
            (revision(rs).unwrap_or(0), creation_key(rs))
        });
        for &i in cleanable.iter().take(usize::try_from(diff).unwrap_or(0)) {
            let rs = &self.rss[i].rs;
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
                || rs.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            self.rss[i].deleted = true;
        }
    }

    /// `rolloutRolling`.
    fn rollout_rolling(&mut self) -> Result<DeploymentStatus, Stop> {
        let (new, old) = self.get_all(true)?;
        let Some(new) = new else {
            return Err(Stop);
        };
        let all = Self::all_of(Some(new), &old);

        if self.reconcile_new(&all, new) {
            return Ok(self.sync_rollout_status(&all, Some(new)));
        }
        let active_old = self.active(&old);
        if self.reconcile_old(&all, active_old, new) {
            return Ok(self.sync_rollout_status(&all, Some(new)));
        }
        if self.complete(&self.old) {
            self.cleanup(&old);
        }
        Ok(self.sync_rollout_status(&all, Some(new)))
    }

    /// `reconcileNewReplicaSet`: scale the new ReplicaSet up within `maxSurge`.
    fn reconcile_new(&mut self, all: &[usize], new: usize) -> bool {
        let cur = self.replicas(new);
        if cur == self.spec.replicas {
            return false;
        }
        if cur > self.spec.replicas {
            return self.scale_and_record(new, self.spec.replicas);
        }
        let count = self.new_rs_new_replicas(self.sum(all, rs_replicas), cur);
        self.scale_and_record(new, count)
    }

    /// `reconcileOldReplicaSets`: scale old ReplicaSets down within `maxUnavailable`,
    /// unhealthy replicas first.
    fn reconcile_old(&mut self, all: &[usize], old: Vec<usize>, new: usize) -> bool {
        if self.sum(&old, rs_replicas) == 0 {
            return false;
        }
        let all_pods = self.sum(all, rs_replicas);
        let min_available = self.spec.replicas - self.spec.max_unavailable;
        let new_unavailable = self.replicas(new) - rs_available(&self.rss[new].rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let Some(cleaned) = self.cleanup_unhealthy(old.clone(), max_scaled_down) else {
            return false;
        };
        let all = Self::all_of(Some(new), &old);
        let Some(scaled) = self.scale_down_old(&all, old) else {
            return false;
        };
        cleaned + scaled > 0
    }

    /// `cleanupUnhealthyReplicas`; None where upstream fails (an old ReplicaSet with more
    /// available replicas than its size).
    fn cleanup_unhealthy(&mut self, mut old: Vec<usize>, max_cleanup: i64) -> Option<i64> {
        self.sort_by_creation(&mut old);
        let mut total = 0;
        for i in old {
            if total >= max_cleanup {
                break;
            }
            let replicas = self.replicas(i);
            let available = rs_available(&self.rss[i].rs);
            if replicas == 0 || replicas == available {
                continue;
            }
            let down = (max_cleanup - total).min(replicas - available);
            let target = replicas - down;
            if target > replicas {
                return None;
            }
            self.scale_and_record(i, target);
            total += down;
        }
        Some(total)
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`.
    fn scale_down_old(&mut self, all: &[usize], mut old: Vec<usize>) -> Option<i64> {
        let min_available = self.spec.replicas - self.spec.max_unavailable;
        let available = self.sum(all, rs_available);
        if available <= min_available {
            return Some(0);
        }
        self.sort_by_creation(&mut old);
        let want = available - min_available;
        let mut total = 0;
        for i in old {
            if total >= want {
                break;
            }
            let replicas = self.replicas(i);
            if replicas == 0 {
                continue;
            }
            let down = replicas.min(want - total);
            let target = replicas - down;
            if target > replicas {
                return None;
            }
            self.scale_and_record(i, target);
            total += down;
        }
        Some(total)
    }

    /// `oldPodsRunning`: an old ReplicaSet reports pods, or a pod of one is not terminal.
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if self.sum(old, rs_status_replicas) > 0 {
            return true;
        }
        let new_uid = new.and_then(|i| self.rss[i].rs.metadata.uid.clone());
        let old_uids: Vec<&str> = old
            .iter()
            .filter_map(|&i| self.rss[i].rs.metadata.uid.as_deref())
            .collect();
        self.pods.iter().any(|p| {
            let Some(r) = podutil::controller_ref(&p.metadata) else {
                return false;
            };
            Some(&r.uid) != new_uid.as_ref()
                && old_uids.contains(&r.uid.as_str())
                && !podutil::is_pod_terminal(p)
        })
    }

    /// `rolloutRecreate`.
    fn rollout_recreate(&mut self) -> Result<DeploymentStatus, Stop> {
        let (mut new, mut old) = self.get_all(false)?;
        let mut all = Self::all_of(new, &old);
        let mut scaled_down = false;
        for i in self.active(&old) {
            scaled_down |= self.scale_and_record(i, 0);
        }
        if scaled_down || self.old_pods_running(new, &old) {
            return Ok(self.sync_rollout_status(&all, new));
        }
        if new.is_none() {
            (new, old) = self.get_all(true)?;
            all = Self::all_of(new, &old);
        }
        if let Some(i) = new {
            self.scale_and_record(i, self.spec.replicas);
        }
        if self.complete(&self.old) {
            self.cleanup(&old);
        }
        Ok(self.sync_rollout_status(&all, new))
    }
}

/// Plans one sync of Deployment `d`, given every ReplicaSet and pod of its namespace
/// (others are ignored) and the time. Fails only on a malformed spec (invalid selector,
/// `maxSurge`/`maxUnavailable`, strategy type). Missing spec fields take the API server's
/// apps/v1 defaults (`replicas` 1, RollingUpdate 25%/25%, `revisionHistoryLimit` 10,
/// `progressDeadlineSeconds` 600).
pub fn plan_deployment(
    d: &Deployment,
    rss: &[ReplicaSet],
    pods: &[Pod],
    now: Timestamp,
) -> Result<DeploymentPlan> {
    let spec = resolve_spec(d)?;
    let old = d.status.clone().unwrap_or_default();
    let name = d.metadata.name.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    let annotations = d.metadata.annotations.clone().unwrap_or_default();
    let has_progress_deadline = spec.progress_deadline.is_some();

    let in_namespace = |m: &ObjectMeta| m.namespace.as_deref().unwrap_or_default() == namespace;
    let mut plan = DeploymentPlan {
        adopt_rs: Vec::new(),
        release_rs: Vec::new(),
        create_rs: None,
        update_rs: Vec::new(),
        delete_rs: Vec::new(),
        deployment_annotations: None,
        status: old.clone(),
        status_changed: false,
        events: Vec::new(),
        requeue_after: None,
        base_status: old.clone(),
        has_progress_deadline,
    };

    let sel = &spec.selector;
    if sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
    {
        plan.events.push(PlanEvent {
            type_: "Warning",
            reason: "SelectingAll",
            message: "This deployment is selecting all pods. A non-empty selector is required."
                .into(),
        });
        let generation = d.metadata.generation.unwrap_or(0);
        if old.observed_generation.unwrap_or(0) < generation {
            plan.status.observed_generation = Some(generation);
            plan.status_changed = true;
        }
        return Ok(plan);
    }
    let selector = Selector::from_label_selector(Some(sel))?;
    let deleting = d.metadata.deletion_timestamp.is_some();

    // Claim the ReplicaSets.
    let mut entries = Vec::new();
    for rs in rss.iter().filter(|rs| in_namespace(&rs.metadata)) {
        let matches = selector.matches(rs.metadata.labels.as_ref());
        match podutil::controller_ref(&rs.metadata) {
            Some(r) if r.uid == uid => {
                if matches {
                    entries.push(rs.clone());
                } else if !deleting {
                    plan.release_rs.push(rs_name(rs).to_string());
                }
            }
            Some(_) => {}
            None => {
                if matches && !deleting && rs.metadata.deletion_timestamp.is_none() {
                    plan.adopt_rs.push(rs_name(rs).to_string());
                    let mut adopted = rs.clone();
                    adopted
                        .metadata
                        .owner_references
                        .get_or_insert_with(Vec::new)
                        .push(deployment_controller_ref(d));
                    entries.push(adopted);
                }
            }
        }
    }
    let claimed_uids: Vec<String> = entries
        .iter()
        .filter_map(|rs| rs.metadata.uid.clone())
        .collect();
    let pod_refs: Vec<&Pod> = pods
        .iter()
        .filter(|p| in_namespace(&p.metadata) && selector.matches(p.metadata.labels.as_ref()))
        .filter(|p| {
            podutil::controller_ref(&p.metadata).is_some_and(|r| claimed_uids.contains(&r.uid))
        })
        .collect();

    let mut p = Planner {
        d,
        name,
        uid,
        spec,
        now,
        conds: old.conditions.clone().unwrap_or_default(),
        collision_count: old.collision_count,
        old: old.clone(),
        annotations,
        rss: entries
            .into_iter()
            .map(|rs| Entry {
                rs,
                created: false,
                dirty: None,
                deleted: false,
            })
            .collect(),
        namespace_rss: rss,
        pods: pod_refs,
        next_dirty: 0,
        events: Vec::new(),
        requeue_after: None,
        base_status: None,
    };

    let result = if deleting {
        p.sync_status_only()
    } else {
        p.check_paused_conditions();
        if p.spec.paused {
            p.sync()
        } else {
            match p.is_scaling_event() {
                Err(Stop) => Err(Stop),
                Ok(true) => p.sync(),
                Ok(false) if p.spec.rolling => p.rollout_rolling(),
                Ok(false) => p.rollout_recreate(),
            }
        }
    };
    let status = match result {
        Ok(s) => s,
        Err(Stop) => p.stop_status(),
    };

    // Assemble.
    let mut dirty: Vec<(usize, ReplicaSet)> = Vec::new();
    for e in p.rss {
        if e.deleted {
            plan.delete_rs.push(rs_name(&e.rs).to_string());
        } else if e.created {
            let mut rs = e.rs;
            rs.metadata.creation_timestamp = None;
            plan.create_rs = Some(rs);
        } else if let Some(order) = e.dirty {
            dirty.push((order, e.rs));
        }
    }
    dirty.sort_by_key(|(o, _)| *o);
    plan.update_rs = dirty.into_iter().map(|(_, rs)| rs).collect();
    if d.metadata.annotations.clone().unwrap_or_default() != p.annotations {
        plan.deployment_annotations = Some(p.annotations);
    }
    plan.status_changed = normalize_status(old) != normalize_status(status.clone());
    plan.status = status;
    plan.events.extend(p.events);
    plan.requeue_after = p.requeue_after;
    if let Some(base) = p.base_status {
        plan.base_status = base;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
