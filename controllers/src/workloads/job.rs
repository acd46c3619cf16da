//! The Job controller's sync (`pkg/controller/job`: `job_controller.go` `syncJob`,
//! `manageJob`, `trackJobStatusAndRemoveFinalizers`; `indexed_job_utils.go`,
//! `backoff_utils.go`, `pod_failure_policy.go`, `success_policy.go`) as a pure plan over the
//! Job and the pods of its namespace, plus the TTL-after-finished check
//! (`pkg/controller/ttlafterfinished`).
//!
//! One plan is one upstream sync: claim the pods (adopt matching orphans, release owned pods
//! that stopped matching), count the finished ones, decide whether the Job failed
//! (`backoffLimit`, `activeDeadlineSeconds`, `podFailurePolicy`, `backoffLimitPerIndex` /
//! `maxFailedIndexes`) or succeeded (`completions`, `successPolicy`), then either delete the
//! remaining pods (finishing) or create / delete pods to reach the wanted parallelism (with the
//! pod-failure back-off), and compute the status, with the 1.33 condition protocol: the interim
//! `FailureTarget` / `SuccessCriteriaMet` first, the terminal `Failed` / `Complete` once every
//! finished pod is counted and no pod is terminating.
//!
//! # Finished-pod accounting (`batch.kubernetes.io/job-tracking`)
//! Every pod is created with the tracking finalizer, so it cannot disappear before it is
//! counted. A finished pod is counted in two steps, each written before the next:
//! 1. its uid goes into `status.uncountedTerminatedPods` (Indexed jobs: a succeeded pod's index
//!    goes straight into `completedIndexes`) — the plan's `status`;
//! 2. its finalizer is removed — the plan's `remove_finalizer`;
//! 3. a later plan sees the uid in `uncountedTerminatedPods` without a pod carrying the
//!    finalizer (removed, or the pod is gone) and moves it into `succeeded` / `failed`.
//!
//! Upstream does 3 within the same sync; here it happens in the next plan, which the pod
//! update (finalizer removed) or deletion triggers. A Job is declared `Complete` / `Failed`
//! only when `uncountedTerminatedPods` is empty.
//!
//! # What the plan assumes of the runtime
//! - It applies the plan in this order, stopping at the first failed write (then plans
//!   again): `adopt` (controller reference **and** the tracking finalizer, after a fresh read
//!   of the Job confirms its uid and that it is not being deleted), `release` (remove the
//!   reference **and** the finalizer), `delete` (unless `delete_keeps_finalizer`, first remove
//!   the finalizer of each), `create`, the `status` (if `status_changed`), `remove_finalizer`,
//!   then `events`; `delete_job` last.
//! - The status write is an update (`PUT .../status`, the whole status) carrying the cached
//!   Job's `resourceVersion`: a plan made from a stale Job must fail with a conflict, or a pod
//!   could be counted twice. (A JSON merge patch would also not empty the nested
//!   `uncountedTerminatedPods` lists.)
//! - If some `create` fail, it still writes [`JobPlan::status_after_failed_creates`] (and goes
//!   on with `remove_finalizer`), as upstream tracks finished pods even when creations fail.
//! - **Expectations** as for ReplicaSets: after creating or deleting pods it skips plans of
//!   the Job until its pod cache has seen them (or a timeout). It records `SuccessfulCreate`
//!   / `FailedCreate` / `SuccessfulDelete` events itself (the pod names come from the API
//!   server).
//! - Pods with the finalizer that no Job will count any more (orphans, pods of a deleted or
//!   finished Job) lose it through [`orphan_needs_finalizer_removal`].
//! - `requeue_after`: plan again after that long even without an event (deadline, back-off,
//!   TTL, finalizer counting).
//!
//! Left out of upstream: the in-memory pod-failure back-off record (the back-off is derived
//! from the visible pods' finish times instead), the 1-second batching of pod events, and
//! metrics.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::podutil::{self, Selector};
use super::{Error, Result};

/// The finalizer that keeps a Job's pod until the Job has counted it.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Annotation (and label) with a pod's completion index in an Indexed Job.
pub const JOB_COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Annotation with the failures of earlier pods of the same index (`backoffLimitPerIndex`).
pub const JOB_INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Annotation with the failures of earlier pods of the index that a pod failure policy
/// ignored.
pub const JOB_INDEX_IGNORED_FAILURE_COUNT: &str =
    "batch.kubernetes.io/job-index-ignored-failure-count";
/// The environment variable through which an Indexed Job's containers see their index.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// Label with the Job's uid, in the generated selector and on its pods.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// Legacy form of [`CONTROLLER_UID_LABEL`].
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// Label with the Job's name on its pods.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Legacy form of [`JOB_NAME_LABEL`].
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
/// `spec.managedBy` of Jobs this controller reconciles (absent means the same).
pub const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

/// `spec.backoffLimit` when unset.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;
/// Delay before re-creating a pod after the first failure; doubled per further failure.
pub const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Cap of the pod re-creation delay (`MaxJobPodFailureBackOff`).
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);
/// Most uids added to `uncountedTerminatedPods` (and finalizers removed) per plan.
pub const MAX_UNCOUNTED_PODS: usize = 500;
/// Most pods created or deleted per plan.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;

/// Condition type: the Job completed (terminal).
pub const COMPLETE: &str = "Complete";
/// Condition type: the Job failed (terminal).
pub const FAILED: &str = "Failed";
/// Condition type: the Job is suspended (`True`) or was resumed (`False`).
pub const SUSPENDED: &str = "Suspended";
/// Interim condition type: the Job will fail once its pods are gone and counted.
pub const FAILURE_TARGET: &str = "FailureTarget";
/// Interim condition type: the Job will complete once its pods are gone and counted.
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";

/// Failure reason: more failed pods than `backoffLimit`.
pub const REASON_BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
/// Failure reason: running longer than `activeDeadlineSeconds`.
pub const REASON_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
/// Failure reason: a pod matched a `FailJob` rule of the pod failure policy.
pub const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
/// Failure reason: more failed indexes than `maxFailedIndexes`.
pub const REASON_MAX_FAILED_INDEXES_EXCEEDED: &str = "MaxFailedIndexesExceeded";
/// Failure reason: every index finished and some failed.
pub const REASON_FAILED_INDEXES: &str = "FailedIndexes";
/// Success reason: a rule of the success policy matched.
pub const REASON_SUCCESS_POLICY: &str = "SuccessPolicy";
/// Success reason: `completions` pods succeeded.
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";

const NON_INDEXED: &str = "NonIndexed";
const INDEXED: &str = "Indexed";
/// Upstream `names.MaxGeneratedNameLength`: 63 minus the 5 random characters.
const MAX_GENERATED_NAME_LENGTH: usize = 58;

/// An event to record on the object once the plan's writes succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEvent {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// The event reason, e.g. `Completed`.
    pub reason: &'static str,
    /// The message, as upstream words it.
    pub message: String,
}

impl PlanEvent {
    pub(crate) fn normal(reason: &'static str, message: impl Into<String>) -> PlanEvent {
        PlanEvent {
            type_: "Normal",
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn warning(reason: &'static str, message: impl Into<String>) -> PlanEvent {
        PlanEvent {
            type_: "Warning",
            reason,
            message: message.into(),
        }
    }
}

/// What to do for one Job, in the order given in the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// Orphan pods (names) to adopt: add the controller reference ([`job_controller_ref`])
    /// and the [`JOB_TRACKING_FINALIZER`].
    pub adopt: Vec<String>,
    /// Owned pods (names) that no longer match the selector: remove the controller reference
    /// and the finalizer.
    pub release: Vec<String>,
    /// Pods to create, complete but for their name (`generateName` is set); Indexed Jobs'
    /// carry their index.
    pub create: Vec<Pod>,
    /// Pods (names) to delete.
    pub delete: Vec<String>,
    /// Whether the `delete`d pods keep their tracking finalizer (the Job is finishing: they
    /// are counted, and their finalizers removed, through `status` and `remove_finalizer`).
    /// When false (suspend, too many pods) the runtime removes each pod's finalizer before
    /// deleting it, and the pod is never counted.
    pub delete_keeps_finalizer: bool,
    /// The status to write, assuming the creations and deletions succeed.
    pub status: JobStatus,
    /// Whether `status` differs from the stored status (else skip the write).
    pub status_changed: bool,
    /// Pods (names) whose tracking finalizer to remove once `status` is written.
    pub remove_finalizer: Vec<String>,
    /// Events to record once the writes succeeded.
    pub events: Vec<PlanEvent>,
    /// Plan again after this long even if nothing changes.
    pub requeue_after: Option<Duration>,
    /// The Job finished longer than `ttlSecondsAfterFinished` ago: delete it (propagation
    /// `Foreground`, with the cached `resourceVersion` as precondition).
    pub delete_job: bool,
}

impl JobPlan {
    fn unchanged(job: &Job) -> JobPlan {
        JobPlan {
            adopt: Vec::new(),
            release: Vec::new(),
            create: Vec::new(),
            delete: Vec::new(),
            delete_keeps_finalizer: false,
            status: job.status.clone().unwrap_or_default(),
            status_changed: false,
            remove_finalizer: Vec::new(),
            events: Vec::new(),
            requeue_after: None,
            delete_job: false,
        }
    }

    /// The status to write when `not_created` of the `create` pods could not be created:
    /// `status` with that many fewer active pods.
    pub fn status_after_failed_creates(&self, not_created: usize) -> JobStatus {
        let mut status = self.status.clone();
        let active = i64::from(status.active.unwrap_or(0)) - to_i64(not_created);
        status.active = nz(clamp_i32(active.max(0)));
        status
    }

    fn requeue(&mut self, d: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(d, |r| r.min(d)));
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers.

/// Go's `omitempty` for integers and strings: the zero value is absent.
fn nz<T: Default + PartialEq>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn uid_of(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn add_secs(t: Timestamp, secs: i64) -> Timestamp {
    t.saturating_add(SignedDuration::from_secs(secs))
        .unwrap_or(t)
}

fn time_of(t: Option<&Time>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// Whether the pod still carries the [`JOB_TRACKING_FINALIZER`].
pub fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == JOB_TRACKING_FINALIZER)
}

/// The pod's completion index (annotation [`JOB_COMPLETION_INDEX`]); None when absent,
/// malformed or negative.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    annotation(pod, JOB_COMPLETION_INDEX)?
        .parse::<i32>()
        .ok()
        .filter(|i| *i >= 0)
}

/// A non-negative i32 annotation value, 0 when absent or malformed (`parseInt32`).
fn annotation_count(pod: &Pod, key: &str) -> i64 {
    annotation(pod, key)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| (0..=i64::from(i32::MAX)).contains(v))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Job accessors.

/// The controller reference a Job puts on its pods.
pub fn job_controller_ref(job: &Job) -> OwnerReference {
    podutil::new_controller_ref(&job.metadata, "batch/v1", "Job")
}

/// The Job's pod selector: `spec.selector`, or (when the API server did not default it and
/// `manualSelector` is not true) `batch.kubernetes.io/controller-uid=<uid>`.
pub fn job_selector(job: &Job) -> Result<Selector> {
    let spec = job.spec.as_ref();
    match spec.and_then(|s| s.selector.as_ref()) {
        Some(sel) => Selector::from_label_selector(Some(sel)),
        None if spec.and_then(|s| s.manual_selector) != Some(true) => {
            let uid = job.metadata.uid.clone().unwrap_or_default();
            Selector::from_label_selector(Some(&LabelSelector {
                match_labels: Some([(CONTROLLER_UID_LABEL.to_string(), uid)].into()),
                match_expressions: None,
            }))
        }
        None => Ok(Selector::nothing()),
    }
}

fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
}

/// The `Complete` or `Failed` condition with status `True`, if the Job finished.
pub fn finished_condition(job: &Job) -> Option<&JobCondition> {
    conditions(job)
        .iter()
        .find(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")
}

/// Whether the Job has a `True` `Complete` or `Failed` condition.
pub fn is_job_finished(job: &Job) -> bool {
    finished_condition(job).is_some()
}

/// Whether the Job finished with `Complete`.
pub fn is_job_succeeded(job: &Job) -> bool {
    finished_condition(job).is_some_and(|c| c.type_ == COMPLETE)
}

/// Whether the Job is reconciled by another controller (`spec.managedBy`).
pub fn is_managed_externally(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.managed_by.as_deref())
        .is_some_and(|m| m != JOB_CONTROLLER_NAME)
}

/// The TTL-after-finished check (`pkg/controller/ttlafterfinished`): None when the Job has
/// no `ttlSecondsAfterFinished`, is not finished (or its finish time is unknown) or is
/// already being deleted; otherwise how long until it expires, `Duration::ZERO` once it has:
/// then delete it (propagation `Foreground`, precondition on the cached `resourceVersion`
/// after a fresh read confirms it is still expired).
pub fn ttl_expired(job: &Job, now: Timestamp) -> Option<Duration> {
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = time_of(finished_condition(job)?.last_transition_time.as_ref())?;
    let expire_at = add_secs(finished, i64::from(ttl));
    Some(podutil::duration_between(now, expire_at))
}

/// Whether the runtime should remove the tracking finalizer from `pod` outside any Job plan
/// (upstream's orphan-pod worker): the pod has the finalizer and its controller is no
/// `batch/v1` Job that will count it — it has no controller, or its Job (`job`, the Job of
/// the controller reference's name in the pod's namespace, if cached) is gone, has another
/// uid, or is finished. Pods of Jobs managed by another controller are left alone.
pub fn orphan_needs_finalizer_removal(pod: &Pod, job: Option<&Job>) -> bool {
    if !has_tracking_finalizer(pod) {
        return false;
    }
    let Some(r) = podutil::controller_ref(&pod.metadata) else {
        return true;
    };
    if r.kind != "Job" || r.api_version != "batch/v1" {
        return false;
    }
    match job {
        Some(j) if j.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
            !is_managed_externally(j) && is_job_finished(j)
        }
        _ => true,
    }
}

fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.to_string()).filter(|r| !r.is_empty()),
        message: Some(message.to_string()).filter(|m| !m.is_empty()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// `ensureJobConditionStatus`: sets the condition of `type_`, replacing one that differs in
/// status, reason or message; never adds a `False` condition. Whether the list changed.
fn ensure_condition(
    conds: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status
            || c.reason.as_deref().unwrap_or_default() != reason
            || c.message.as_deref().unwrap_or_default() != message
        {
            *c = new_condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != "False" {
        conds.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

fn true_condition<'a>(conds: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    conds
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// The event reasons a failed Job is reported with (the condition's reason).
fn failure_event_reason(reason: &str) -> &'static str {
    match reason {
        REASON_BACKOFF_LIMIT_EXCEEDED => REASON_BACKOFF_LIMIT_EXCEEDED,
        REASON_DEADLINE_EXCEEDED => REASON_DEADLINE_EXCEEDED,
        REASON_POD_FAILURE_POLICY => REASON_POD_FAILURE_POLICY,
        REASON_MAX_FAILED_INDEXES_EXCEEDED => REASON_MAX_FAILED_INDEXES_EXCEEDED,
        REASON_FAILED_INDEXES => REASON_FAILED_INDEXES,
        _ => FAILED,
    }
}

// ---------------------------------------------------------------------------------------
// Ordered intervals of completion indexes (`completedIndexes`, `failedIndexes`).

/// Sorted, non-adjacent closed intervals of indexes, as `"1,3-5,7"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Intervals(Vec<(i32, i32)>);

impl Intervals {
    /// `parseIndexesFromString`: malformed intervals are skipped, indexes at or above
    /// `completions` dropped.
    fn parse(s: &str, completions: i32) -> Intervals {
        let mut out: Vec<(i32, i32)> = Vec::new();
        if s.is_empty() {
            return Intervals(out);
        }
        for part in s.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i32>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                Some(l) => match l.parse::<i32>() {
                    Ok(l) => l.min(completions - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            match out.last_mut() {
                Some(prev) if i64::from(prev.1) == i64::from(first) - 1 => prev.1 = last,
                _ => out.push((first, last)),
            }
        }
        Intervals(out)
    }

    /// The union with `other` (both sorted).
    fn merge(&self, other: &Intervals) -> Intervals {
        let mut all: Vec<(i32, i32)> = self.0.iter().chain(other.0.iter()).copied().collect();
        all.sort_by_key(|iv| iv.0);
        let mut out: Vec<(i32, i32)> = Vec::with_capacity(all.len());
        for iv in all {
            match out.last_mut() {
                Some(last) if i64::from(iv.0) <= i64::from(last.1) + 1 => {
                    last.1 = last.1.max(iv.1);
                }
                _ => out.push(iv),
            }
        }
        Intervals(out)
    }

    fn with_indexes(&self, indexes: &[i32]) -> Intervals {
        self.merge(&Intervals(indexes.iter().map(|i| (*i, *i)).collect()))
    }

    fn total(&self) -> i64 {
        self.0
            .iter()
            .map(|(a, b)| i64::from(*b) - i64::from(*a) + 1)
            .sum()
    }

    fn has(&self, ix: i32) -> bool {
        let pos = self.0.partition_point(|iv| iv.1 < ix);
        self.0.get(pos).is_some_and(|iv| iv.0 <= ix)
    }
}

impl fmt::Display for Intervals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
            if b > a {
                let sep = if i64::from(*b) == i64::from(*a) + 1 {
                    ","
                } else {
                    "-"
                };
                write!(f, "{sep}{b}")?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The Job as the plan sees it, with the API server's defaults applied.

struct JobView<'a> {
    job: &'a Job,
    spec: Cow<'a, JobSpec>,
    name: &'a str,
    namespace: &'a str,
    parallelism: i64,
    completions: Option<i64>,
    indexed: bool,
    backoff_limit: i64,
    backoff_limit_per_index: Option<i64>,
    suspended: bool,
    deleting: bool,
    only_replace_failed: bool,
}

impl<'a> JobView<'a> {
    fn new(job: &'a Job) -> JobView<'a> {
        let spec = match job.spec.as_ref() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(JobSpec::default()),
        };
        let (parallelism, mut completions) = match (spec.parallelism, spec.completions) {
            (None, None) => (1, Some(1)),
            (p, c) => (i64::from(p.unwrap_or(1)), c.map(i64::from)),
        };
        completions = completions.map(|c| c.max(0));
        let backoff_limit_per_index = spec.backoff_limit_per_index.map(i64::from);
        // Validation requires completions for Indexed Jobs; without them the Job is run as a
        // work queue.
        let indexed = spec.completion_mode.as_deref() == Some(INDEXED) && completions.is_some();
        let backoff_limit =
            spec.backoff_limit
                .map(i64::from)
                .unwrap_or(if backoff_limit_per_index.is_some() {
                    i64::from(i32::MAX)
                } else {
                    i64::from(DEFAULT_BACKOFF_LIMIT)
                });
        let only_replace_failed = spec.pod_replacement_policy.as_deref() == Some("Failed")
            || spec.pod_failure_policy.is_some();
        JobView {
            job,
            name: job.metadata.name.as_deref().unwrap_or_default(),
            namespace: job.metadata.namespace.as_deref().unwrap_or_default(),
            parallelism: parallelism.max(0),
            completions,
            indexed,
            backoff_limit,
            backoff_limit_per_index: backoff_limit_per_index.filter(|_| indexed),
            suspended: spec.suspend == Some(true),
            deleting: job.metadata.deletion_timestamp.is_some(),
            only_replace_failed,
            spec,
        }
    }

    fn pfp(&self) -> Option<&PodFailurePolicy> {
        self.spec.pod_failure_policy.as_ref()
    }

    fn completions_i32(&self) -> i32 {
        clamp_i32(self.completions.unwrap_or(0))
    }

    /// A usable completion index of the pod (below `completions`).
    fn valid_index(&self, pod: &Pod) -> Option<i32> {
        completion_index(pod).filter(|ix| i64::from(*ix) < self.completions.unwrap_or(0))
    }

    /// `isPodFailed`: phase Failed, or (unless only failed pods are replaced) being deleted
    /// without having succeeded.
    fn is_pod_failed(&self, pod: &Pod) -> bool {
        let phase = podutil::phase(pod);
        if phase == podutil::PHASE_FAILED {
            return true;
        }
        if self.only_replace_failed {
            return false;
        }
        pod.metadata.deletion_timestamp.is_some() && phase != podutil::PHASE_SUCCEEDED
    }
}

// ---------------------------------------------------------------------------------------
// Pod failure policy.

const ACTION_FAIL_JOB: &str = "FailJob";
const ACTION_FAIL_INDEX: &str = "FailIndex";
const ACTION_IGNORE: &str = "Ignore";
const ACTION_COUNT: &str = "Count";

/// The outcome of matching a failed pod against the pod failure policy.
struct PolicyMatch {
    /// Set when a `FailJob` rule matched: the Job's failure message.
    fail_job: Option<String>,
    /// Whether the failure counts towards `backoffLimit` (false for `Ignore`).
    counts: bool,
    /// The action of the matching rule.
    action: Option<&'static str>,
}

fn match_pod_failure_policy(pfp: Option<&PodFailurePolicy>, pod: &Pod) -> PolicyMatch {
    let no_match = PolicyMatch {
        fail_job: None,
        counts: true,
        action: None,
    };
    let Some(pfp) = pfp else {
        return no_match;
    };
    let status = pod.status.as_ref();
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in pfp.rules.iter().enumerate() {
        let action = match rule.action.as_str() {
            ACTION_FAIL_JOB => ACTION_FAIL_JOB,
            ACTION_FAIL_INDEX => ACTION_FAIL_INDEX,
            ACTION_IGNORE => ACTION_IGNORE,
            ACTION_COUNT => ACTION_COUNT,
            _ => continue,
        };
        let matched: Option<String> = if let Some(req) = &rule.on_exit_codes {
            let statuses = status
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten()
                .chain(
                    status
                        .and_then(|s| s.init_container_statuses.as_ref())
                        .into_iter()
                        .flatten(),
                );
            statuses
                .filter_map(|cs| {
                    let t = cs.state.as_ref()?.terminated.as_ref()?;
                    let name_ok = req.container_name.as_ref().is_none_or(|n| *n == cs.name);
                    let code_ok = t.exit_code != 0
                        && match req.operator.as_str() {
                            "In" => req.values.contains(&t.exit_code),
                            "NotIn" => !req.values.contains(&t.exit_code),
                            _ => false,
                        };
                    (name_ok && code_ok).then(|| {
                        format!(
                            "Container {} for pod {ns}/{name} failed with exit code {} matching {action} rule at index {index}",
                            cs.name, t.exit_code
                        )
                    })
                })
                .next()
        } else if let Some(patterns) = &rule.on_pod_conditions {
            status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .find(|c| {
                    patterns
                        .iter()
                        .any(|p| p.type_ == c.type_ && p.status == c.status)
                })
                .map(|c| {
                    format!(
                        "Pod {ns}/{name} has condition {} matching {action} rule at index {index}",
                        c.type_
                    )
                })
        } else {
            None
        };
        if let Some(message) = matched {
            return PolicyMatch {
                fail_job: (action == ACTION_FAIL_JOB).then_some(message),
                counts: action != ACTION_IGNORE,
                action: Some(action),
            };
        }
    }
    no_match
}

// ---------------------------------------------------------------------------------------
// Pod-failure back-off (`backoff_utils.go`).

/// When a pod finished: its containers' latest `finishedAt` (if all terminated), else the
/// time its `Ready` condition turned `False`, else its deletion time minus the grace period,
/// else its creation time (`getFinishedTime`).
fn finished_time(pod: &Pod) -> Timestamp {
    let status = pod.status.as_ref();
    let sidecars: HashSet<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let regular = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten();
    let sidecar = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| sidecars.contains(c.name.as_str()));
    let mut latest: Option<Timestamp> = None;
    let mut all_terminated = true;
    let mut any = false;
    for cs in regular.chain(sidecar) {
        any = true;
        match cs
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
        {
            Some(t) => latest = Some(latest.map_or(t.0, |l| l.max(t.0))),
            None => all_terminated = false,
        }
    }
    if any
        && all_terminated
        && let Some(t) = latest
    {
        return t;
    }
    if let Some(c) = podutil::pod_ready_condition(pod)
        && c.status == "False"
        && let Some(t) = c.last_transition_time.as_ref()
    {
        return t.0;
    }
    if let Some(d) = pod.metadata.deletion_timestamp.as_ref() {
        return add_secs(
            d.0,
            -pod.metadata.deletion_grace_period_seconds.unwrap_or(0),
        );
    }
    time_of(pod.metadata.creation_timestamp.as_ref()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `10s * 2^(failures-1)`, capped.
fn backoff_delay(failures: i64) -> Duration {
    let mut d = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        d = d.saturating_mul(2);
        if d >= MAX_POD_FAILURE_BACKOFF {
            return MAX_POD_FAILURE_BACKOFF;
        }
    }
    d
}

fn remaining_backoff(failures: i64, last_failure: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(last) = last_failure.filter(|_| failures > 0) else {
        return Duration::ZERO;
    };
    let delay = backoff_delay(failures);
    let elapsed = podutil::duration_between(last, now);
    delay.saturating_sub(elapsed)
}

/// The back-off before creating pods again: the failures since the last success and when
/// the last one happened. Upstream keeps this record in memory, fed with newly finished
/// pods; here it is derived from the pods still visible. Failed pods count (terminal, or
/// being deleted while still tracked); pods deleted by the controller itself lost their
/// finalizer first and do not.
fn pod_backoff(v: &JobView<'_>, pods: &[&Pod], now: Timestamp) -> Duration {
    let last_success = pods
        .iter()
        .filter(|p| podutil::phase(p) == podutil::PHASE_SUCCEEDED)
        .map(|p| finished_time(p))
        .max();
    let mut failures = 0i64;
    let mut last_failure: Option<Timestamp> = None;
    for p in pods {
        let failed = podutil::phase(p) == podutil::PHASE_FAILED
            || (has_tracking_finalizer(p) && v.is_pod_failed(p));
        if !failed {
            continue;
        }
        let t = finished_time(p);
        if last_success.is_some_and(|s| t <= s) {
            continue;
        }
        failures += 1;
        last_failure = Some(last_failure.map_or(t, |l| l.max(t)));
    }
    remaining_backoff(failures, last_failure, now)
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure` the container restarts of
/// running and pending pods count as failures.
fn past_backoff_limit_on_failure(v: &JobView<'_>, pods: &[&Pod]) -> bool {
    let on_failure = v
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");
    if !on_failure {
        return false;
    }
    let mut restarts = 0i64;
    for p in pods {
        if !matches!(
            podutil::phase(p),
            podutil::PHASE_RUNNING | podutil::PHASE_PENDING
        ) {
            continue;
        }
        let status = p.status.as_ref();
        for cs in status
            .and_then(|s| s.init_container_statuses.as_ref())
            .into_iter()
            .flatten()
            .chain(
                status
                    .and_then(|s| s.container_statuses.as_ref())
                    .into_iter()
                    .flatten(),
            )
        {
            restarts += i64::from(cs.restart_count);
        }
    }
    if v.backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= v.backoff_limit
    }
}

// ---------------------------------------------------------------------------------------
// Success policy.

/// `matchSuccessPolicy`: the message of the first rule the succeeded indexes satisfy.
fn match_success_policy(v: &JobView<'_>, succeeded: &Intervals) -> Option<String> {
    let policy = v.spec.success_policy.as_ref()?;
    if succeeded.0.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(required) = &rule.succeeded_indexes {
            let required = Intervals::parse(required, v.completions_i32());
            if required.0.is_empty() {
                continue;
            }
            let mut contained = 0i64;
            for (a, b) in &required.0 {
                for (c, d) in &succeeded.0 {
                    let overlap = i64::from((*b).min(*d)) - i64::from((*a).max(*c)) + 1;
                    contained += overlap.max(0);
                }
            }
            contained == required.total()
                || rule
                    .succeeded_count
                    .is_some_and(|n| contained >= i64::from(n))
        } else {
            rule.succeeded_count
                .is_some_and(|n| succeeded.total() >= i64::from(n))
        };
        if matched {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Pod creation.

fn with_index_env(containers: &mut [Container]) {
    for c in containers {
        let env = c.env.get_or_insert_with(Vec::new);
        if env.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
            continue;
        }
        env.push(EnvVar {
            name: COMPLETION_INDEX_ENV.into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: format!("metadata.labels['{JOB_COMPLETION_INDEX}']"),
                }),
                ..Default::default()
            }),
        });
    }
}

/// `<job>-<index>-`, the job name shortened so that the whole stays within 58 characters.
fn generate_name_with_index(job: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let mut prefix = job.to_string();
    if prefix.len() + suffix.len() > MAX_GENERATED_NAME_LENGTH {
        let mut cut = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    prefix + &suffix
}

/// The template every pod of the Job is made from: the Job's, with the tracking finalizer
/// and, for Indexed Jobs, `JOB_COMPLETION_INDEX` in every container.
fn base_template(v: &JobView<'_>) -> PodTemplateSpec {
    let mut template = v.spec.template.clone();
    if v.indexed
        && let Some(spec) = template.spec.as_mut()
    {
        with_index_env(&mut spec.containers);
        if let Some(init) = spec.init_containers.as_mut() {
            with_index_env(init);
        }
    }
    let meta = template.metadata.get_or_insert_with(Default::default);
    let finalizers = meta.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        finalizers.push(JOB_TRACKING_FINALIZER.into());
    }
    template
}

/// One pod of the Job; with `index`, the pod of that completion index (annotation, label,
/// hostname `<job>-<index>`, `generateName` `<job>-<index>-`), carrying the failure counts
/// of `replaced` (the last failed pod of the index) with `backoffLimitPerIndex`.
fn new_pod(
    v: &JobView<'_>,
    base: &PodTemplateSpec,
    index: Option<i32>,
    replaced: Option<&Pod>,
) -> Result<Pod> {
    let Some(ix) = index else {
        return podutil::pod_from_template(
            base,
            job_controller_ref(v.job),
            v.namespace,
            &podutil::pod_name_prefix(v.name),
        );
    };
    let mut template = base.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    let annotations = meta.annotations.get_or_insert_with(Default::default);
    annotations.insert(JOB_COMPLETION_INDEX.into(), ix.to_string());
    if v.backoff_limit_per_index.is_some() {
        let (failures, ignored) = match replaced {
            Some(p) => {
                let mut failures = annotation_count(p, JOB_INDEX_FAILURE_COUNT);
                let mut ignored = annotation_count(p, JOB_INDEX_IGNORED_FAILURE_COUNT);
                if match_pod_failure_policy(v.pfp(), p).counts {
                    failures += 1;
                } else {
                    ignored += 1;
                }
                (failures, ignored)
            }
            None => (0, 0),
        };
        annotations.insert(JOB_INDEX_FAILURE_COUNT.into(), failures.to_string());
        if ignored > 0 {
            annotations.insert(JOB_INDEX_IGNORED_FAILURE_COUNT.into(), ignored.to_string());
        }
    }
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(JOB_COMPLETION_INDEX.into(), ix.to_string());
    template.spec.get_or_insert_with(Default::default).hostname = Some(format!("{}-{ix}", v.name));
    podutil::pod_from_template(
        &template,
        job_controller_ref(v.job),
        v.namespace,
        &generate_name_with_index(v.name, ix),
    )
}

// ---------------------------------------------------------------------------------------
// The sync.

/// What one sync sees of the Job's pods.
struct Ctx<'p> {
    /// Claimed pods (owned and matching, or adopted).
    pods: Vec<&'p Pod>,
    /// Of `pods`, the active ones.
    active: Vec<&'p Pod>,
    succeeded: i64,
    succeeded_indexes: Intervals,
    failed_indexes: Option<Intervals>,
    /// Per index, the last failed pod kept (with its finalizer) until its replacement exists.
    delayed: BTreeMap<i32, &'p Pod>,
    terminating: i64,
}

/// The pods to delete to bring the active pods down by at least `rm_at_least`: for Indexed
/// Jobs first those without a valid index and the extra pods of repeated indexes, then the
/// least advanced pods (`activePodsForRemoval`).
fn active_pods_for_removal<'p>(
    v: &JobView<'_>,
    active: &[&'p Pod],
    rm_at_least: usize,
    now: Timestamp,
) -> Vec<&'p Pod> {
    let mut rm: Vec<&Pod> = Vec::new();
    let mut left: Vec<&Pod> = Vec::new();
    if v.indexed {
        let mut by_index: BTreeMap<i32, Vec<&Pod>> = BTreeMap::new();
        for p in active {
            match v.valid_index(p) {
                Some(ix) => by_index.entry(ix).or_default().push(p),
                None => rm.push(p),
            }
        }
        for (_, mut same) in by_index {
            if same.len() > 1 {
                podutil::sort_for_deletion(&mut same, &[], now);
            }
            if let Some(keep) = same.pop() {
                left.push(keep);
            }
            rm.extend(same);
        }
    } else {
        left = active.to_vec();
    }
    if rm.len() < rm_at_least {
        podutil::sort_for_deletion(&mut left, &[], now);
        rm.extend(left.into_iter().take(rm_at_least - rm.len()));
    }
    rm
}

/// The `count` lowest indexes below `completions` with no active pod (nor terminating one,
/// when only failed pods are replaced) that neither succeeded nor failed.
fn first_pending_indexes(v: &JobView<'_>, ctx: &Ctx<'_>, count: usize) -> Vec<i32> {
    let mut busy: HashSet<i32> = ctx
        .active
        .iter()
        .filter_map(|p| completion_index(p))
        .collect();
    if v.only_replace_failed {
        busy.extend(
            ctx.pods
                .iter()
                .filter(|p| podutil::is_pod_terminating(p))
                .filter_map(|p| completion_index(p)),
        );
    }
    let mut out = Vec::new();
    let mut ix = 0;
    while out.len() < count && ix < v.completions_i32() {
        let done =
            ctx.succeeded_indexes.has(ix) || ctx.failed_indexes.as_ref().is_some_and(|f| f.has(ix));
        if !done && !busy.contains(&ix) {
            out.push(ix);
        }
        ix += 1;
    }
    out
}

/// The outcome of `manageJob`.
struct Managed<'p> {
    create: Vec<Pod>,
    delete: Vec<&'p Pod>,
    /// Active pods once the creations and deletions are done.
    active: i64,
    requeue_after: Option<Duration>,
}

fn manage_job<'p>(v: &JobView<'_>, ctx: &Ctx<'p>, now: Timestamp) -> Result<Managed<'p>> {
    let active = to_i64(ctx.active.len());
    let mut out = Managed {
        create: Vec::new(),
        delete: Vec::new(),
        active,
        requeue_after: None,
    };
    if v.suspended {
        out.delete = active_pods_for_removal(v, &ctx.active, ctx.active.len(), now);
        out.active -= to_i64(out.delete.len());
        return Ok(out);
    }
    let want = match v.completions {
        None if ctx.succeeded > 0 => active,
        None => v.parallelism,
        Some(c) => (c - ctx.succeeded).clamp(0, v.parallelism),
    };
    let rm_at_least = usize::try_from(active - want).unwrap_or(0);
    let mut delete = active_pods_for_removal(v, &ctx.active, rm_at_least, now);
    if !delete.is_empty() {
        // Deletions take precedence: no creation in the same sync.
        delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        out.active -= to_i64(delete.len());
        out.delete = delete;
        return Ok(out);
    }
    let terminating = if v.only_replace_failed {
        ctx.terminating
    } else {
        0
    };
    let diff = want - terminating - active;
    if diff <= 0 {
        return Ok(out);
    }
    if v.backoff_limit_per_index.is_none() {
        let remaining = pod_backoff(v, &ctx.pods, now);
        if !remaining.is_zero() {
            out.requeue_after = Some(remaining.max(Duration::from_secs(1)));
            return Ok(out);
        }
    }
    let diff = usize::try_from(diff)
        .unwrap_or(usize::MAX)
        .min(MAX_POD_CREATE_DELETE_PER_SYNC);
    let base = base_template(v);
    if !v.indexed {
        for _ in 0..diff {
            out.create.push(new_pod(v, &base, None, None)?);
        }
        out.active += to_i64(diff);
        return Ok(out);
    }
    let mut indexes = first_pending_indexes(v, ctx, diff);
    if v.backoff_limit_per_index.is_some() {
        let mut ready_now = Vec::new();
        let mut min_wait: Option<Duration> = None;
        for ix in indexes {
            let wait = match ctx.delayed.get(&ix) {
                Some(last) => {
                    let failures = annotation_count(last, JOB_INDEX_FAILURE_COUNT)
                        + annotation_count(last, JOB_INDEX_IGNORED_FAILURE_COUNT)
                        + 1;
                    remaining_backoff(failures, Some(finished_time(last)), now)
                }
                None => Duration::ZERO,
            };
            if wait.is_zero() {
                ready_now.push(ix);
            } else {
                min_wait = Some(min_wait.map_or(wait, |m| m.min(wait)));
            }
        }
        if ready_now.is_empty()
            && let Some(wait) = min_wait
        {
            out.requeue_after = Some(wait.max(Duration::from_secs(1)));
            return Ok(out);
        }
        indexes = ready_now;
    }
    for ix in &indexes {
        out.create
            .push(new_pod(v, &base, Some(*ix), ctx.delayed.get(ix).copied())?);
    }
    out.active += to_i64(indexes.len());
    Ok(out)
}

/// `getPodsWithDelayedDeletionPerIndex`: per index with neither an active pod nor a final
/// outcome, its latest failed pod still carrying the finalizer.
fn pods_with_delayed_deletion<'p>(
    v: &JobView<'_>,
    pods: &[&'p Pod],
    active: &[&Pod],
    succeeded: &Intervals,
    failed: &Intervals,
) -> BTreeMap<i32, &'p Pod> {
    let active_ix: HashSet<i32> = active.iter().filter_map(|p| completion_index(p)).collect();
    let absolute = |p: &Pod| {
        annotation_count(p, JOB_INDEX_FAILURE_COUNT)
            + annotation_count(p, JOB_INDEX_IGNORED_FAILURE_COUNT)
    };
    let mut out: BTreeMap<i32, &Pod> = BTreeMap::new();
    for p in pods {
        if !has_tracking_finalizer(p) || !v.is_pod_failed(p) {
            continue;
        }
        let Some(ix) = v.valid_index(p) else {
            continue;
        };
        if succeeded.has(ix) || failed.has(ix) || active_ix.contains(&ix) {
            continue;
        }
        match out.get(&ix) {
            Some(prev)
                if !(absolute(prev) <= absolute(p) && finished_time(p) >= finished_time(prev)) => {}
            _ => {
                out.insert(ix, p);
            }
        }
    }
    out
}

/// `calculateFailedIndexes`: `status.failedIndexes` plus the indexes whose latest pod failed
/// past `backoffLimitPerIndex` (or matched a `FailIndex` rule).
fn failed_indexes(v: &JobView<'_>, pods: &[&Pod], limit: i64) -> Intervals {
    let prev = Intervals::parse(
        v.job
            .status
            .as_ref()
            .and_then(|s| s.failed_indexes.as_deref())
            .unwrap_or_default(),
        v.completions_i32(),
    );
    let mut new: Vec<i32> = pods
        .iter()
        .filter(|p| has_tracking_finalizer(p) && v.is_pod_failed(p))
        .filter_map(|p| {
            let ix = v.valid_index(p)?;
            let m = match_pod_failure_policy(v.pfp(), p);
            let failed = m.action == Some(ACTION_FAIL_INDEX)
                || (m.counts && annotation_count(p, JOB_INDEX_FAILURE_COUNT) >= limit);
            failed.then_some(ix)
        })
        .collect();
    new.sort_unstable();
    new.dedup();
    prev.with_indexes(&new)
}

/// A finished Job: remove the finalizers a crash left on its pods (upstream's orphan-pod
/// worker), and apply `ttlSecondsAfterFinished`.
fn finished_job_plan(mut plan: JobPlan, job: &Job, pods: &[Pod], now: Timestamp) -> JobPlan {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let namespace = job.metadata.namespace.as_deref().unwrap_or_default();
    plan.remove_finalizer = pods
        .iter()
        .filter(|p| {
            p.metadata.namespace.as_deref().unwrap_or_default() == namespace
                && podutil::is_controlled_by(&p.metadata, uid)
                && has_tracking_finalizer(p)
        })
        .map(name_of)
        .collect();
    match ttl_expired(job, now) {
        Some(d) if d.is_zero() => plan.delete_job = true,
        Some(d) => plan.requeue_after = Some(d),
        None => {}
    }
    plan
}

/// `ClaimPods`: the Job's pods (owned and matching, or orphans matching and not being
/// deleted, which the plan adopts — with the finalizer added here, as adoption adds it);
/// owned pods that stopped matching are released. Nothing is adopted or released while the
/// Job is being deleted.
fn claim_pods<'p>(
    v: &JobView<'_>,
    selector: &Selector,
    pods: &'p [Pod],
    plan: &mut JobPlan,
) -> Vec<Cow<'p, Pod>> {
    let uid = v.job.metadata.uid.as_deref().unwrap_or_default();
    let mut claimed: Vec<Cow<'p, Pod>> = Vec::new();
    for pod in pods {
        if pod.metadata.namespace.as_deref().unwrap_or_default() != v.namespace {
            continue;
        }
        let matches = selector.matches(pod.metadata.labels.as_ref());
        match podutil::controller_ref(&pod.metadata) {
            Some(r) if r.uid == uid => {
                if matches {
                    claimed.push(Cow::Borrowed(pod));
                } else if !v.deleting {
                    plan.release.push(name_of(pod));
                }
            }
            Some(_) => {}
            None => {
                if matches && !v.deleting && pod.metadata.deletion_timestamp.is_none() {
                    plan.adopt.push(name_of(pod));
                    let mut p = pod.clone();
                    if !has_tracking_finalizer(&p) {
                        p.metadata
                            .finalizers
                            .get_or_insert_with(Vec::new)
                            .push(JOB_TRACKING_FINALIZER.into());
                    }
                    claimed.push(Cow::Owned(p));
                }
            }
        }
    }
    claimed
}

/// The outcome of counting the finished pods (`trackJobStatusAndRemoveFinalizers`).
struct Tracked {
    /// Pods (names) whose finalizer to remove after the status write.
    remove_finalizer: Vec<String>,
    /// `uncountedTerminatedPods.succeeded` to write.
    uncounted_succeeded: Vec<String>,
    /// `uncountedTerminatedPods.failed` to write.
    uncounted_failed: Vec<String>,
    /// `succeeded`, with the uncounted pods that lost their finalizer.
    counted_succeeded: i64,
    /// `failed`, with the uncounted pods that lost their finalizer.
    counted_failed: i64,
    /// Indexed Jobs: indexes newly succeeded (in index order).
    new_succeeded_indexes: Vec<i32>,
    /// [`MAX_UNCOUNTED_PODS`] reached: some pods are left for the next plan.
    reached_max: bool,
}

/// Counts the uncounted uids whose pods no longer carry the finalizer (removed, or the pod is
/// gone), then picks the finished pods (or, when the Job is finishing, every pod) whose
/// finalizer can go, adding them to the uncounted lists first.
fn track_finished_pods(
    v: &JobView<'_>,
    all: &[&Pod],
    prev: &JobStatus,
    finished: Option<&JobCondition>,
    delayed: &BTreeMap<i32, &Pod>,
    prev_succeeded_indexes: &Intervals,
) -> Tracked {
    let prev_uncounted = prev.uncounted_terminated_pods.clone().unwrap_or_default();
    let uncounted_succeeded = uid_set(prev_uncounted.succeeded.as_ref());
    let uncounted_failed = uid_set(prev_uncounted.failed.as_ref());
    let mut ordered = all.to_vec();
    if v.indexed {
        ordered.sort_by_key(|p| completion_index(p).map_or(-1, i64::from));
    }
    let with_finalizer: HashSet<&str> = all
        .iter()
        .filter(|p| has_tracking_finalizer(p))
        .map(|p| uid_of(p))
        .collect();
    let mut unc_succeeded: Vec<String> = prev_uncounted.succeeded.clone().unwrap_or_default();
    let mut unc_failed: Vec<String> = prev_uncounted.failed.clone().unwrap_or_default();
    let mut counted_succeeded = i64::from(prev.succeeded.unwrap_or(0));
    let mut counted_failed = i64::from(prev.failed.unwrap_or(0));
    let before = unc_succeeded.len();
    unc_succeeded.retain(|u| with_finalizer.contains(u.as_str()));
    counted_succeeded += to_i64(before - unc_succeeded.len());
    let before = unc_failed.len();
    unc_failed.retain(|u| with_finalizer.contains(u.as_str()));
    counted_failed += to_i64(before - unc_failed.len());

    // When the Job is failing, every pod not succeeded counts as failed.
    let failing = finished.is_some_and(|c| c.type_ != SUCCESS_CRITERIA_MET);
    let mut remove_finalizer = Vec::new();
    let mut new_succeeded_indexes: Vec<i32> = Vec::new();
    let mut reached_max = false;
    for pod in &ordered {
        if !has_tracking_finalizer(pod) {
            continue;
        }
        let considered_failed = v.is_pod_failed(pod);
        // With backoffLimitPerIndex, an index's last failed pod waits for its replacement.
        let awaits_replacement = completion_index(pod)
            .and_then(|ix| delayed.get(&ix))
            .is_some_and(|d| uid_of(d) == uid_of(pod));
        let removable = v.deleting
            || finished.is_some()
            || podutil::phase(pod) == podutil::PHASE_SUCCEEDED
            || (considered_failed && !awaits_replacement);
        if !removable {
            continue;
        }
        remove_finalizer.push(name_of(pod));
        let uid = uid_of(pod);
        if podutil::phase(pod) == podutil::PHASE_SUCCEEDED && !uncounted_failed.contains(uid) {
            if v.indexed {
                // The index is enough to never count it twice.
                if let Some(ix) = v.valid_index(pod)
                    && !prev_succeeded_indexes.has(ix)
                {
                    new_succeeded_indexes.push(ix);
                }
            } else if !uncounted_succeeded.contains(uid) {
                unc_succeeded.push(uid.to_string());
            }
        } else if (considered_failed || failing)
            && !uncounted_failed.contains(uid)
            && (!v.indexed || v.valid_index(pod).is_some())
            && match_pod_failure_policy(v.pfp(), pod).counts
        {
            unc_failed.push(uid.to_string());
        }
        if new_succeeded_indexes.len() + unc_succeeded.len() + unc_failed.len()
            >= MAX_UNCOUNTED_PODS
        {
            reached_max = true;
            break;
        }
    }
    Tracked {
        remove_finalizer,
        uncounted_succeeded: unc_succeeded,
        uncounted_failed: unc_failed,
        counted_succeeded,
        counted_failed,
        new_succeeded_indexes,
        reached_max,
    }
}

/// The set of uids in a list of `uncountedTerminatedPods`.
fn uid_set(list: Option<&Vec<String>>) -> HashSet<String> {
    list.into_iter().flatten().cloned().collect()
}

/// The stored status as the plan writes it, for change detection: zero counts absent, an
/// empty `uncountedTerminatedPods` present (upstream always writes it), empty lists absent.
fn normalize_status(mut s: JobStatus) -> JobStatus {
    s.active = s.active.and_then(nz);
    s.succeeded = s.succeeded.and_then(nz);
    s.failed = s.failed.and_then(nz);
    s.completed_indexes = s.completed_indexes.and_then(nz);
    s.conditions = s.conditions.filter(|c| !c.is_empty());
    let u = s.uncounted_terminated_pods.take().unwrap_or_default();
    s.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: u.succeeded.filter(|v| !v.is_empty()),
        failed: u.failed.filter(|v| !v.is_empty()),
    });
    s
}

/// Plans one sync of `job` against the pods of its namespace (`pods` may hold other
/// namespaces' pods; they are ignored), at `now`.
///
/// A Job that already finished only gets its pods' leftover finalizers removed and, with
/// `ttlSecondsAfterFinished`, deleted when that expired; a Job managed by another controller
/// (`spec.managedBy`) or of an unknown `completionMode` is left alone. Fails only on a
/// selector that cannot be evaluated or a pod template without labels.
pub fn plan_job(job: &Job, pods: &[Pod], now: Timestamp) -> Result<JobPlan> {
    let mut plan = JobPlan::unchanged(job);
    if is_managed_externally(job) {
        return Ok(plan);
    }
    if is_job_finished(job) {
        return Ok(finished_job_plan(plan, job, pods, now));
    }
    if let Some(mode) = job.spec.as_ref().and_then(|s| s.completion_mode.as_deref())
        && mode != NON_INDEXED
        && mode != INDEXED
    {
        plan.events.push(PlanEvent::warning(
            "UnknownCompletionMode",
            "Skipped Job sync because completion mode is unknown",
        ));
        return Ok(plan);
    }
    let v = JobView::new(job);
    let selector = job_selector(job)?;
    let prev = job.status.clone().unwrap_or_default();

    let claimed = claim_pods(&v, &selector, pods, &mut plan);
    let all: Vec<&Pod> = claimed.iter().map(AsRef::as_ref).collect();
    let active_pods: Vec<&Pod> = all
        .iter()
        .copied()
        .filter(|p| podutil::is_pod_active(p))
        .collect();
    let mut ready = to_i64(
        active_pods
            .iter()
            .filter(|p| podutil::is_pod_ready(p))
            .count(),
    );
    let mut terminating = to_i64(
        all.iter()
            .filter(|p| podutil::is_pod_terminating(p))
            .count(),
    );
    let prev_uncounted = prev.uncounted_terminated_pods.clone().unwrap_or_default();
    let uncounted_succeeded = uid_set(prev_uncounted.succeeded.as_ref());
    let uncounted_failed = uid_set(prev_uncounted.failed.as_ref());

    // Newly finished pods: still tracked, not yet in the uncounted lists.
    let new_finished = |p: &&Pod, uncounted: &HashSet<String>| {
        has_tracking_finalizer(p)
            && !uncounted.contains(uid_of(p))
            && (!v.indexed || v.valid_index(p).is_some())
    };
    let new_succeeded = all
        .iter()
        .filter(|p| new_finished(p, &uncounted_succeeded))
        .filter(|p| podutil::phase(p) == podutil::PHASE_SUCCEEDED)
        .count();
    let new_failed_counted = all
        .iter()
        .filter(|p| new_finished(p, &uncounted_failed))
        .filter(|p| v.is_pod_failed(p))
        .filter(|p| match_pod_failure_policy(v.pfp(), p).counts)
        .count();
    let mut succeeded = i64::from(prev.succeeded.unwrap_or(0))
        + to_i64(new_succeeded)
        + to_i64(uncounted_succeeded.len());
    let failed = i64::from(prev.failed.unwrap_or(0))
        + to_i64(new_failed_counted)
        + to_i64(uncounted_failed.len());

    let mut status = prev.clone();
    if status.start_time.is_none() && !v.suspended {
        status.start_time = Some(Time(now));
    }
    let start_time = time_of(status.start_time.as_ref());
    let prev_conds = prev.conditions.as_deref().unwrap_or(&[]);

    // Has the Job failed, or met its success criteria, already?
    let mut finished: Option<JobCondition> =
        true_condition(prev_conds, SUCCESS_CRITERIA_MET).cloned();
    if finished.is_none() {
        if let Some(target) = true_condition(prev_conds, FAILURE_TARGET) {
            finished = Some(new_condition(
                FAILED,
                "True",
                target.reason.as_deref().unwrap_or_default(),
                target.message.as_deref().unwrap_or_default(),
                now,
            ));
        } else if let Some(msg) = all
            .iter()
            .filter(|p| v.is_pod_failed(p))
            .find_map(|p| match_pod_failure_policy(v.pfp(), p).fail_job)
        {
            finished = Some(new_condition(
                FAILURE_TARGET,
                "True",
                REASON_POD_FAILURE_POLICY,
                &msg,
                now,
            ));
        }
    }
    if finished.is_none() {
        let deadline = job.spec.as_ref().and_then(|s| s.active_deadline_seconds);
        if failed > v.backoff_limit || past_backoff_limit_on_failure(&v, &all) {
            finished = Some(new_condition(
                FAILURE_TARGET,
                "True",
                REASON_BACKOFF_LIMIT_EXCEEDED,
                "Job has reached the specified backoff limit",
                now,
            ));
        } else if let (Some(ads), Some(start), false) = (deadline, start_time, v.suspended) {
            let at = add_secs(start, ads);
            if now >= at {
                finished = Some(new_condition(
                    FAILURE_TARGET,
                    "True",
                    REASON_DEADLINE_EXCEEDED,
                    "Job was active longer than specified deadline",
                    now,
                ));
            } else {
                plan.requeue(podutil::duration_between(now, at));
            }
        }
    }

    // Indexed Jobs: the succeeded (and failed) indexes.
    let mut prev_succeeded_indexes = Intervals::default();
    let mut succeeded_indexes = Intervals::default();
    let mut failed_idx: Option<Intervals> = None;
    let mut delayed: BTreeMap<i32, &Pod> = BTreeMap::new();
    if v.indexed {
        let completions = v.completions_i32();
        prev_succeeded_indexes = Intervals::parse(
            prev.completed_indexes.as_deref().unwrap_or_default(),
            completions,
        );
        let mut new: Vec<i32> = all
            .iter()
            .filter(|p| podutil::phase(p) == podutil::PHASE_SUCCEEDED && has_tracking_finalizer(p))
            .filter_map(|p| v.valid_index(p))
            .collect();
        new.sort_unstable();
        new.dedup();
        succeeded_indexes = prev_succeeded_indexes.with_indexes(&new);
        succeeded = succeeded_indexes.total();
        if let Some(limit) = v.backoff_limit_per_index {
            let failed_set = failed_indexes(&v, &all, limit);
            if finished.is_none() {
                let max_failed = job.spec.as_ref().and_then(|s| s.max_failed_indexes);
                if max_failed.is_some_and(|m| failed_set.total() > i64::from(m)) {
                    finished = Some(new_condition(
                        FAILURE_TARGET,
                        "True",
                        REASON_MAX_FAILED_INDEXES_EXCEEDED,
                        "Job has exceeded the specified maximal number of failed indexes",
                        now,
                    ));
                } else if failed_set.total() > 0
                    && failed_set.total() + succeeded_indexes.total() >= v.completions.unwrap_or(0)
                {
                    finished = Some(new_condition(
                        FAILURE_TARGET,
                        "True",
                        REASON_FAILED_INDEXES,
                        "Job has failed indexes",
                        now,
                    ));
                }
            }
            delayed =
                pods_with_delayed_deletion(&v, &all, &active_pods, &succeeded_indexes, &failed_set);
            failed_idx = Some(failed_set);
        }
        if finished.is_none()
            && let Some(msg) = match_success_policy(&v, &succeeded_indexes)
        {
            finished = Some(new_condition(
                SUCCESS_CRITERIA_MET,
                "True",
                REASON_SUCCESS_POLICY,
                &msg,
                now,
            ));
        }
    }

    let mut conds: Vec<JobCondition> = prev_conds.to_vec();
    let mut active = to_i64(active_pods.len());
    if finished.is_some() {
        // Finishing: delete what still runs, keeping the finalizers so the pods get counted.
        plan.delete = active_pods.iter().map(|p| name_of(p)).collect();
        plan.delete_keeps_finalizer = true;
        ready -= to_i64(
            active_pods
                .iter()
                .filter(|p| podutil::is_pod_ready(p))
                .count(),
        );
        terminating += active;
        active = 0;
    } else {
        let mut manage_called = false;
        if !v.deleting {
            let ctx = Ctx {
                pods: all.clone(),
                active: active_pods.clone(),
                succeeded,
                succeeded_indexes: succeeded_indexes.clone(),
                failed_indexes: failed_idx.clone(),
                delayed: delayed.clone(),
                terminating,
            };
            let m = manage_job(&v, &ctx, now)?;
            ready -= to_i64(m.delete.iter().filter(|p| podutil::is_pod_ready(p)).count());
            terminating += to_i64(m.delete.len());
            active = m.active;
            plan.delete = m.delete.iter().map(|p| name_of(p)).collect();
            plan.create = m.create;
            if let Some(d) = m.requeue_after {
                plan.requeue(d);
            }
            manage_called = true;
        }
        let complete = match v.completions {
            None => succeeded > 0 && active == 0,
            Some(c) => succeeded >= c && active == 0,
        };
        if complete {
            finished = Some(new_condition(
                SUCCESS_CRITERIA_MET,
                "True",
                REASON_COMPLETIONS_REACHED,
                "Reached expected number of succeeded pods",
                now,
            ));
        } else if manage_called {
            if v.suspended {
                if ensure_condition(
                    &mut conds,
                    SUSPENDED,
                    "True",
                    "JobSuspended",
                    "Job suspended",
                    now,
                ) {
                    plan.events
                        .push(PlanEvent::normal("Suspended", "Job suspended"));
                }
            } else if ensure_condition(
                &mut conds,
                SUSPENDED,
                "False",
                "JobResumed",
                "Job resumed",
                now,
            ) {
                plan.events
                    .push(PlanEvent::normal("Resumed", "Job resumed"));
                // activeDeadlineSeconds counts the time the Job is continuously active.
                status.start_time = Some(Time(now));
            }
        }
    }

    // Track finished pods: uncounted uids whose pods lost the finalizer are counted now; newly
    // finished pods go into the uncounted lists and lose their finalizer after the write.
    let Tracked {
        remove_finalizer,
        uncounted_succeeded: unc_succeeded,
        uncounted_failed: unc_failed,
        mut counted_succeeded,
        counted_failed,
        new_succeeded_indexes,
        reached_max,
    } = track_finished_pods(
        &v,
        &all,
        &prev,
        finished.as_ref(),
        &delayed,
        &prev_succeeded_indexes,
    );
    plan.remove_finalizer = remove_finalizer;
    if v.indexed {
        succeeded_indexes = succeeded_indexes.with_indexes(&new_succeeded_indexes);
        counted_succeeded = succeeded_indexes.total();
        status.completed_indexes = nz(succeeded_indexes.to_string());
        status.failed_indexes = failed_idx.as_ref().map(ToString::to_string);
    }

    // The interim conditions are written before the pods' finalizers are removed.
    if let Some(fc) = finished.take() {
        finished = Some(if fc.type_ == FAILURE_TARGET {
            conds.push(fc.clone());
            new_condition(
                FAILED,
                "True",
                fc.reason.as_deref().unwrap_or_default(),
                fc.message.as_deref().unwrap_or_default(),
                now,
            )
        } else if fc.type_ == SUCCESS_CRITERIA_MET {
            if true_condition(&conds, SUCCESS_CRITERIA_MET).is_none() {
                conds.push(fc.clone());
            }
            new_condition(
                COMPLETE,
                "True",
                fc.reason.as_deref().unwrap_or_default(),
                fc.message.as_deref().unwrap_or_default(),
                now,
            )
        } else {
            fc
        });
    }

    // The terminal condition, once every finished pod is counted and none is terminating.
    if !reached_max
        && let Some(fc) = &finished
        && unc_succeeded.is_empty()
        && unc_failed.is_empty()
        && terminating <= 0
    {
        let reason = fc.reason.as_deref().unwrap_or_default();
        let message = fc.message.as_deref().unwrap_or_default();
        ensure_condition(&mut conds, &fc.type_, "True", reason, message, now);
        if fc.type_ == COMPLETE {
            status.completion_time = Some(Time(now));
            if v.completions.is_some_and(|c| counted_succeeded > c) {
                plan.events.push(PlanEvent::warning(
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                ));
            }
            plan.events
                .push(PlanEvent::normal("Completed", "Job completed"));
        } else {
            plan.events
                .push(PlanEvent::warning(failure_event_reason(reason), message));
        }
        // Come back when the TTL expires (the plan of a finished Job deletes it).
        if let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) {
            plan.requeue(Duration::from_secs(u64::try_from(ttl).unwrap_or(0)));
        }
    }

    status.active = nz(clamp_i32(active.max(0)));
    status.ready = Some(clamp_i32(ready.max(0)));
    status.terminating = Some(clamp_i32(terminating.max(0)));
    status.succeeded = nz(clamp_i32(counted_succeeded));
    status.failed = nz(clamp_i32(counted_failed));
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: nz(unc_succeeded),
        failed: nz(unc_failed),
    });
    status.conditions = nz(conds);
    plan.status_changed = normalize_status(prev) != status;
    plan.status = status;
    if !plan.remove_finalizer.is_empty() {
        // The counting step happens in the next plan; the pod updates trigger it, this is a
        // safety net.
        plan.requeue(Duration::from_secs(1));
    }
    if !plan.adopt.is_empty() || !plan.create.is_empty() || !plan.delete.is_empty() {
        tracing::debug!(
            job = v.name,
            adopt = plan.adopt.len(),
            create = plan.create.len(),
            delete = plan.delete.len(),
            "job plan"
        );
    }
    Ok(plan)
}

/// Fails with [`Error::InvalidSelector`] if the Job's selector cannot be evaluated; a cheap
/// check for the runtime's event handlers.
pub fn check_selector(job: &Job) -> Result<(), Error> {
    job_selector(job).map(|_| ())
}

#[cfg(test)]
mod tests;
