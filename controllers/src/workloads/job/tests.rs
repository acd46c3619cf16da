use super::super::podutil::testutil::at;
use super::*;
use k8s_openapi::api::batch::v1::{
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule,
};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const UID: &str = "job-uid";

fn labels() -> BTreeMap<String, String> {
    [
        (CONTROLLER_UID_LABEL, UID),
        (JOB_NAME_LABEL, "pi"),
        (LEGACY_CONTROLLER_UID_LABEL, UID),
        (LEGACY_JOB_NAME_LABEL, "pi"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A Job as the API server stores it (defaults applied).
fn job(parallelism: i32, completions: Option<i32>) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("default".into()),
            uid: Some(UID.into()),
            creation_timestamp: Some(Time(at(0))),
            ..Default::default()
        },
        spec: Some(JobSpec {
            parallelism: Some(parallelism),
            completions,
            backoff_limit: Some(6),
            completion_mode: Some("NonIndexed".into()),
            manual_selector: Some(false),
            pod_replacement_policy: Some("TerminatingOrFailed".into()),
            suspend: Some(false),
            selector: Some(LabelSelector {
                match_labels: Some([(CONTROLLER_UID_LABEL.to_string(), UID.to_string())].into()),
                match_expressions: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("perl".into()),
                        ..Default::default()
                    }],
                    restart_policy: Some("Never".into()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn spec_mut(j: &mut Job) -> &mut JobSpec {
    j.spec.as_mut().unwrap()
}

fn indexed(parallelism: i32, completions: i32) -> Job {
    let mut j = job(parallelism, Some(completions));
    spec_mut(&mut j).completion_mode = Some("Indexed".into());
    j
}

fn cond<'a>(s: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == type_)
}

fn reasons(p: &JobPlan) -> Vec<&'static str> {
    p.events.iter().map(|e| e.reason).collect()
}

/// A small in-memory API server + kubelet: applies plans as the runtime would.
struct Sim {
    job: Job,
    pods: Vec<Pod>,
    created: usize,
    now: i64,
}

impl Sim {
    fn new(job: Job) -> Sim {
        Sim {
            job,
            pods: Vec::new(),
            created: 0,
            now: 0,
        }
    }

    fn plan(&self) -> JobPlan {
        plan_job(&self.job, &self.pods, at(self.now)).unwrap()
    }

    fn pod_mut(&mut self, name: &str) -> &mut Pod {
        self.pods
            .iter_mut()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    fn drop_finalizer(&mut self, name: &str) {
        if let Some(p) = self
            .pods
            .iter_mut()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            && let Some(f) = p.metadata.finalizers.as_mut()
        {
            f.retain(|f| f != JOB_TRACKING_FINALIZER);
        }
        self.gc();
    }

    /// Pods being deleted go once they have no finalizer left.
    fn gc(&mut self) {
        self.pods.retain(|p| {
            p.metadata.deletion_timestamp.is_none()
                || p.metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
        });
    }

    fn apply(&mut self, plan: &JobPlan) {
        for name in &plan.adopt {
            let r = job_controller_ref(&self.job);
            let p = self.pod_mut(name);
            p.metadata.owner_references = Some(vec![r]);
            p.metadata
                .finalizers
                .get_or_insert_with(Vec::new)
                .push(JOB_TRACKING_FINALIZER.into());
        }
        for name in &plan.delete {
            if !plan.delete_keeps_finalizer {
                self.drop_finalizer(name);
            }
            let now = at(self.now);
            if let Some(p) = self
                .pods
                .iter_mut()
                .find(|p| p.metadata.name.as_deref() == Some(name.as_str()))
            {
                p.metadata.deletion_timestamp = Some(Time(now));
            }
            self.gc();
        }
        for p in &plan.create {
            let mut p = p.clone();
            self.created += 1;
            let name = format!(
                "{}{}",
                p.metadata.generate_name.clone().unwrap(),
                self.created
            );
            p.metadata.uid = Some(format!("uid-{name}"));
            p.metadata.name = Some(name);
            p.metadata.creation_timestamp = Some(Time(at(self.now)));
            p.status = Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
            self.pods.push(p);
        }
        if plan.status_changed {
            self.job.status = Some(plan.status.clone());
        }
        for name in &plan.remove_finalizer {
            self.drop_finalizer(name);
        }
    }

    fn step(&mut self) -> JobPlan {
        let p = self.plan();
        self.apply(&p);
        p
    }

    /// Plans until nothing changes any more (at most 10 rounds).
    fn settle(&mut self) -> JobPlan {
        let mut last = self.step();
        for _ in 0..10 {
            if !last.status_changed
                && last.create.is_empty()
                && last.delete.is_empty()
                && last.remove_finalizer.is_empty()
            {
                break;
            }
            last = self.step();
        }
        last
    }

    fn finish_pod(&mut self, name: &str, phase: &str, exit_code: i32) {
        let now = at(self.now);
        let p = self.pod_mut(name);
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "c".into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code,
                        finished_at: Some(Time(now)),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        });
    }

    fn names(&self, filter: impl Fn(&Pod) -> bool) -> Vec<String> {
        self.pods
            .iter()
            .filter(|p| filter(p))
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    fn active(&self) -> Vec<String> {
        self.names(podutil::is_pod_active)
    }

    fn status(&self) -> JobStatus {
        self.job.status.clone().unwrap_or_default()
    }
}

#[test]
fn parallelism_two_completions_five_runs_to_completion() {
    let mut sim = Sim::new(job(2, Some(5)));
    let p = sim.step();
    assert_eq!(p.create.len(), 2);
    let pod = &p.create[0];
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-"));
    assert!(has_tracking_finalizer(pod));
    assert_eq!(
        podutil::controller_ref(&pod.metadata).map(|r| (r.kind.as_str(), r.uid.as_str())),
        Some(("Job", UID))
    );
    assert_eq!(pod.metadata.labels.as_ref().unwrap()[JOB_NAME_LABEL], "pi");
    let s = sim.status();
    assert_eq!(
        (s.active, s.ready, s.terminating),
        (Some(2), Some(0), Some(0))
    );
    assert_eq!(s.start_time, Some(Time(at(0))));
    assert_eq!(
        s.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );

    // Steady: nothing to do.
    let p = sim.plan();
    assert!(p.create.is_empty() && p.delete.is_empty() && !p.status_changed);

    let mut finished = 0;
    while finished < 5 {
        sim.now += 10;
        let running = sim.active();
        assert!(running.len() <= 2, "{running:?}");
        let name = running[0].clone();
        sim.finish_pod(&name, "Succeeded", 0);
        finished += 1;
        // First plan: uid in uncountedTerminatedPods, finalizer removal.
        let p = sim.step();
        assert_eq!(p.remove_finalizer, vec![name.clone()]);
        assert_eq!(
            p.status
                .uncounted_terminated_pods
                .as_ref()
                .unwrap()
                .succeeded,
            Some(vec![format!("uid-{name}")])
        );
        // Second plan: counted.
        sim.settle();
        assert_eq!(sim.status().succeeded, Some(finished));
        assert!(sim.active().len() <= 2);
    }
    let s = sim.status();
    assert_eq!(sim.created, 5);
    assert_eq!(s.succeeded, Some(5));
    assert_eq!(s.active, None);
    let scm = cond(&s, SUCCESS_CRITERIA_MET).unwrap();
    assert_eq!(scm.reason.as_deref(), Some(REASON_COMPLETIONS_REACHED));
    let c = cond(&s, COMPLETE).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref(), c.message.as_deref()),
        (
            "True",
            Some(REASON_COMPLETIONS_REACHED),
            Some("Reached expected number of succeeded pods")
        )
    );
    assert_eq!(s.completion_time, Some(Time(at(sim.now))));
    assert!(is_job_succeeded(&sim.job));
    // Finished: nothing more.
    let p = sim.plan();
    assert!(!p.status_changed && p.create.is_empty());
}

#[test]
fn completed_event_once() {
    let mut sim = Sim::new(job(1, Some(1)));
    sim.step();
    let name = sim.active()[0].clone();
    sim.finish_pod(&name, "Succeeded", 0);
    let p1 = sim.step();
    assert!(cond(&p1.status, SUCCESS_CRITERIA_MET).is_some());
    assert!(cond(&p1.status, COMPLETE).is_none());
    let p2 = sim.step();
    assert!(cond(&p2.status, COMPLETE).is_some());
    assert_eq!(reasons(&p2), ["Completed"]);
    assert_eq!(p2.status.succeeded, Some(1));
}

#[test]
fn work_queue_job_completes_when_one_succeeds_and_others_finish() {
    let mut sim = Sim::new(job(3, None));
    sim.step();
    assert_eq!(sim.active().len(), 3);
    let names = sim.active();
    sim.finish_pod(&names[0], "Succeeded", 0);
    sim.settle();
    // Others keep running, none is created.
    assert_eq!(sim.active().len(), 2);
    assert!(!is_job_finished(&sim.job));
    sim.finish_pod(&names[1], "Succeeded", 0);
    sim.finish_pod(&names[2], "Succeeded", 0);
    sim.settle();
    assert!(is_job_succeeded(&sim.job));
    assert_eq!(sim.status().succeeded, Some(3));
}

#[test]
fn failures_back_off_then_fail_at_backoff_limit() {
    let mut j = job(1, Some(1));
    spec_mut(&mut j).backoff_limit = Some(2);
    let mut sim = Sim::new(j);
    sim.step();
    // First failure: counted, a replacement only after 10 s.
    let first = sim.active()[0].clone();
    sim.now = 5;
    sim.finish_pod(&first, "Failed", 1);
    let p = sim.settle();
    assert_eq!(sim.status().failed, Some(1));
    assert!(sim.active().is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(10)));
    sim.now = 10;
    let p = sim.step();
    assert!(p.create.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(5)));
    sim.now = 15;
    assert_eq!(sim.step().create.len(), 1);
    // Second failure: 20 s.
    let second = sim.active()[0].clone();
    sim.now = 20;
    sim.finish_pod(&second, "Failed", 1);
    let p = sim.settle();
    assert_eq!(sim.status().failed, Some(2));
    assert_eq!(p.requeue_after, Some(Duration::from_secs(20)));
    sim.now = 40;
    assert_eq!(sim.step().create.len(), 1);
    // Third failure: 3 > backoffLimit 2.
    let third = sim.active()[0].clone();
    sim.now = 50;
    sim.finish_pod(&third, "Failed", 1);
    let p = sim.step();
    let t = cond(&p.status, FAILURE_TARGET).unwrap();
    assert_eq!(t.reason.as_deref(), Some(REASON_BACKOFF_LIMIT_EXCEEDED));
    assert!(cond(&p.status, FAILED).is_none());
    let p = sim.step();
    let f = cond(&p.status, FAILED).unwrap();
    assert_eq!(
        (f.reason.as_deref(), f.message.as_deref()),
        (
            Some(REASON_BACKOFF_LIMIT_EXCEEDED),
            Some("Job has reached the specified backoff limit")
        )
    );
    assert_eq!(p.status.failed, Some(3));
    assert_eq!(p.status.completion_time, None);
    assert_eq!(
        p.events,
        [PlanEvent::warning(
            REASON_BACKOFF_LIMIT_EXCEEDED,
            "Job has reached the specified backoff limit"
        )]
    );
    assert!(is_job_finished(&sim.job));
    assert_eq!(sim.created, 3);
}

#[test]
fn backoff_delay_doubles_and_caps() {
    assert_eq!(backoff_delay(1), Duration::from_secs(10));
    assert_eq!(backoff_delay(2), Duration::from_secs(20));
    assert_eq!(backoff_delay(4), Duration::from_secs(80));
    assert_eq!(backoff_delay(7), Duration::from_secs(600));
    assert_eq!(backoff_delay(70), Duration::from_secs(600));
}

#[test]
fn restart_policy_on_failure_counts_restarts() {
    let mut j = job(1, Some(1));
    spec_mut(&mut j).backoff_limit = Some(2);
    spec_mut(&mut j)
        .template
        .spec
        .as_mut()
        .unwrap()
        .restart_policy = Some("OnFailure".into());
    let mut sim = Sim::new(j);
    sim.step();
    let name = sim.active()[0].clone();
    let p = sim.pod_mut(&name);
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "c".into(),
            restart_count: 2,
            ..Default::default()
        }]),
        ..Default::default()
    });
    let p = sim.step();
    assert!(cond(&p.status, FAILURE_TARGET).is_some());
    assert_eq!(p.delete, vec![name]);
    assert!(p.delete_keeps_finalizer);
    // The deleted pod is counted as failed.
    assert_eq!(
        p.status
            .uncounted_terminated_pods
            .unwrap()
            .failed
            .unwrap()
            .len(),
        1
    );
    sim.settle();
    assert!(is_job_finished(&sim.job));
    assert_eq!(sim.status().failed, Some(1));
}

#[test]
fn active_deadline_fails_the_job() {
    let mut j = job(2, Some(4));
    spec_mut(&mut j).active_deadline_seconds = Some(30);
    let mut sim = Sim::new(j);
    let p = sim.step();
    assert_eq!(p.requeue_after, Some(Duration::from_secs(30)));
    sim.now = 10;
    assert_eq!(sim.step().requeue_after, Some(Duration::from_secs(20)));
    sim.now = 30;
    let running = sim.active();
    let p = sim.step();
    let t = cond(&p.status, FAILURE_TARGET).unwrap();
    assert_eq!(
        (t.reason.as_deref(), t.message.as_deref()),
        (
            Some(REASON_DEADLINE_EXCEEDED),
            Some("Job was active longer than specified deadline")
        )
    );
    let mut deleted = p.delete.clone();
    deleted.sort();
    assert_eq!(deleted, running);
    assert!(p.delete_keeps_finalizer);
    assert_eq!(p.status.active, None);
    assert_eq!(p.status.terminating, Some(2));
    assert_eq!(p.remove_finalizer.len(), 2);
    let p = sim.settle();
    let f = cond(&sim.status(), FAILED).cloned().unwrap();
    assert_eq!(f.reason.as_deref(), Some(REASON_DEADLINE_EXCEEDED));
    assert_eq!(sim.status().failed, Some(2));
    assert!(sim.pods.is_empty());
    assert!(!p.status_changed);
}

#[test]
fn suspend_deletes_pods_and_resume_restarts_the_clock() {
    // Created suspended: nothing runs, no start time.
    let mut j = job(2, Some(2));
    spec_mut(&mut j).suspend = Some(true);
    let mut sim = Sim::new(j);
    let p = sim.step();
    assert!(p.create.is_empty());
    assert_eq!(p.status.start_time, None);
    let c = cond(&p.status, SUSPENDED).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("True", Some("JobSuspended"))
    );
    assert_eq!(reasons(&p), ["Suspended"]);
    assert!(!sim.plan().status_changed);

    // Resumed.
    spec_mut(&mut sim.job).suspend = Some(false);
    sim.now = 100;
    let p = sim.step();
    assert_eq!(p.create.len(), 2);
    let c = cond(&p.status, SUSPENDED).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
    assert_eq!(reasons(&p), ["Resumed"]);
    assert_eq!(p.status.start_time, Some(Time(at(100))));

    // Suspended while running: pods deleted without being counted.
    spec_mut(&mut sim.job).suspend = Some(true);
    sim.now = 150;
    let p = sim.step();
    assert_eq!(p.delete.len(), 2);
    assert!(!p.delete_keeps_finalizer);
    assert_eq!(p.status.active, None);
    assert_eq!(p.status.terminating, Some(2));
    assert_eq!(reasons(&p), ["Suspended"]);
    sim.settle();
    assert!(sim.pods.is_empty());
    assert_eq!((sim.status().failed, sim.status().succeeded), (None, None));
    assert!(!is_job_finished(&sim.job));
    // No deadline while suspended.
    spec_mut(&mut sim.job).active_deadline_seconds = Some(10);
    sim.now = 1000;
    assert!(cond(&sim.step().status, FAILURE_TARGET).is_none());
}

#[test]
fn indexed_job_tracks_completed_indexes() {
    let mut sim = Sim::new(indexed(6, 6));
    let p = sim.step();
    assert_eq!(p.create.len(), 6);
    for (i, pod) in p.create.iter().enumerate() {
        let ix = i.to_string();
        assert_eq!(completion_index(pod), Some(i32::try_from(i).unwrap()));
        assert_eq!(
            pod.metadata.labels.as_ref().unwrap()[JOB_COMPLETION_INDEX],
            ix
        );
        assert_eq!(
            pod.metadata.generate_name.as_deref(),
            Some(format!("pi-{i}-").as_str())
        );
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("pi-{i}").as_str()));
        let env = &spec.containers[0].env.as_ref().unwrap()[0];
        assert_eq!(env.name, COMPLETION_INDEX_ENV);
        assert_eq!(
            env.value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        );
    }
    let by_index = |sim: &Sim, ix: i32| {
        sim.pods
            .iter()
            .find(|p| completion_index(p) == Some(ix) && podutil::is_pod_active(p))
            .map(|p| p.metadata.name.clone().unwrap())
            .unwrap()
    };
    for ix in [0, 1, 2, 4] {
        let n = by_index(&sim, ix);
        sim.finish_pod(&n, "Succeeded", 0);
    }
    let p = sim.step();
    // Indexed: succeeded pods go straight to completedIndexes.
    assert_eq!(p.status.completed_indexes.as_deref(), Some("0-2,4"));
    assert_eq!(p.status.succeeded, Some(4));
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    assert_eq!(p.remove_finalizer.len(), 4);
    sim.settle();
    assert_eq!(sim.status().completed_indexes.as_deref(), Some("0-2,4"));

    // Index 5 fails: replaced by a pod of the same index after the back-off.
    sim.now = 5;
    let n = by_index(&sim, 5);
    sim.finish_pod(&n, "Failed", 1);
    let p = sim.settle();
    assert_eq!(sim.status().failed, Some(1));
    assert_eq!(p.requeue_after, Some(Duration::from_secs(10)));
    sim.now += 10;
    let p = sim.step();
    assert_eq!(p.create.len(), 1);
    assert_eq!(completion_index(&p.create[0]), Some(5));
    let n = by_index(&sim, 3);
    sim.finish_pod(&n, "Succeeded", 0);
    let n = by_index(&sim, 5);
    sim.finish_pod(&n, "Succeeded", 0);
    sim.settle();
    assert_eq!(sim.status().completed_indexes.as_deref(), Some("0-5"));
    assert!(is_job_succeeded(&sim.job));
}

#[test]
fn indexed_job_removes_duplicates_and_bad_indexes() {
    let mut sim = Sim::new(indexed(2, 2));
    sim.step();
    // A stray duplicate of index 0 and a pod without an index.
    let mut dup = sim.pods[0].clone();
    dup.metadata.name = Some("dup".into());
    dup.metadata.uid = Some("uid-dup".into());
    let mut bare = sim.pods[0].clone();
    bare.metadata.name = Some("bare".into());
    bare.metadata.uid = Some("uid-bare".into());
    bare.metadata.annotations = None;
    sim.pods.push(dup);
    sim.pods.push(bare);
    let p = sim.step();
    assert_eq!(p.delete.len(), 2);
    assert!(p.delete.contains(&"bare".to_string()));
    assert!(p.create.is_empty());
    assert_eq!(p.status.active, Some(2));
}

#[test]
fn finalizer_protocol_counts_deleted_pods_once() {
    let mut sim = Sim::new(job(1, Some(2)));
    sim.step();
    let name = sim.active()[0].clone();
    sim.finish_pod(&name, "Succeeded", 0);
    let p = sim.plan();
    let uid = format!("uid-{name}");
    assert_eq!(
        p.status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded,
        Some(vec![uid.clone()])
    );
    assert_eq!(p.status.succeeded, None);
    assert_eq!(p.remove_finalizer, vec![name.clone()]);
    // Status written, finalizer removal not seen yet: no double counting.
    sim.job.status = Some(p.status.clone());
    let again = sim.plan();
    assert_eq!(
        again
            .status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded,
        Some(vec![uid.clone()])
    );
    assert_eq!(again.status.succeeded, None);
    assert!(!again.status_changed);
    // The finalizer goes and the pod is deleted: it still counts, once.
    sim.drop_finalizer(&name);
    sim.pods
        .retain(|p| p.metadata.name.as_deref() != Some(name.as_str()));
    let p = sim.step();
    assert_eq!(p.status.succeeded, Some(1));
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    let p = sim.plan();
    assert_eq!(p.status.succeeded, Some(1));
    // The replacement for the second completion.
    assert_eq!(sim.active().len(), 1);
}

#[test]
fn pod_deleted_by_someone_else_counts_as_failure() {
    let mut sim = Sim::new(job(1, Some(1)));
    sim.step();
    let name = sim.active()[0].clone();
    sim.pod_mut(&name).metadata.deletion_timestamp = Some(Time(at(0)));
    let p = sim.step();
    assert_eq!(
        p.status
            .uncounted_terminated_pods
            .unwrap()
            .failed
            .unwrap()
            .len(),
        1
    );
    assert_eq!(p.remove_finalizer, vec![name]);
    sim.settle();
    assert_eq!(sim.status().failed, Some(1));
}

#[test]
fn adopt_and_release() {
    let mut sim = Sim::new(job(2, Some(2)));
    let mut orphan = Pod {
        metadata: ObjectMeta {
            name: Some("orphan".into()),
            namespace: Some("default".into()),
            uid: Some("uid-orphan".into()),
            labels: Some(labels()),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    };
    let mut stray = orphan.clone();
    stray.metadata.name = Some("stray".into());
    stray.metadata.uid = Some("uid-stray".into());
    stray.metadata.labels = Some([("app".to_string(), "x".to_string())].into());
    stray.metadata.owner_references = Some(vec![job_controller_ref(&sim.job)]);
    let mut elsewhere = orphan.clone();
    elsewhere.metadata.namespace = Some("other".into());
    sim.pods = vec![orphan.clone(), stray, elsewhere];
    let p = sim.plan();
    assert_eq!(p.adopt, ["orphan"]);
    assert_eq!(p.release, ["stray"]);
    assert_eq!(p.create.len(), 1);
    assert_eq!(p.status.active, Some(2));
    // Being deleted: no adoption, release or creation.
    sim.job.metadata.deletion_timestamp = Some(Time(at(1)));
    orphan.metadata.name = Some("orphan2".into());
    let p = sim.plan();
    assert!(p.adopt.is_empty() && p.release.is_empty() && p.create.is_empty());
}

#[test]
fn parallelism_decrease_deletes_extra_pods_uncounted() {
    let mut sim = Sim::new(job(3, Some(10)));
    sim.step();
    spec_mut(&mut sim.job).parallelism = Some(1);
    let p = sim.step();
    assert_eq!(p.delete.len(), 2);
    assert!(!p.delete_keeps_finalizer);
    sim.settle();
    assert_eq!(sim.active().len(), 1);
    assert_eq!(sim.status().failed, None);
}

#[test]
fn pod_failure_policy_fail_job_and_ignore() {
    let mut j = job(2, Some(2));
    spec_mut(&mut j).pod_failure_policy = Some(PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: None,
                    operator: "In".into(),
                    values: vec![3],
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: Some("c".into()),
                    operator: "In".into(),
                    values: vec![42],
                }),
                on_pod_conditions: None,
            },
        ],
    });
    spec_mut(&mut j).pod_replacement_policy = Some("Failed".into());
    let mut sim = Sim::new(j);
    sim.step();
    let names = sim.active();
    // Ignored: not counted (the re-creation back-off still applies, as upstream).
    sim.finish_pod(&names[0], "Failed", 3);
    let p = sim.step();
    assert_eq!(
        p.status.uncounted_terminated_pods.as_ref().unwrap().failed,
        None
    );
    assert_eq!(p.remove_finalizer, vec![names[0].clone()]);
    sim.settle();
    assert_eq!(sim.status().failed, None);
    sim.now += 10;
    sim.settle();
    assert_eq!(sim.active().len(), 2);
    // FailJob.
    sim.finish_pod(&names[1], "Failed", 42);
    let p = sim.step();
    let t = cond(&p.status, FAILURE_TARGET).unwrap();
    assert_eq!(t.reason.as_deref(), Some(REASON_POD_FAILURE_POLICY));
    assert_eq!(
        t.message.as_deref(),
        Some(format!(
            "Container c for pod default/{} failed with exit code 42 matching FailJob rule at index 1",
            names[1]
        )
        .as_str())
    );
    sim.settle();
    let f = cond(&sim.status(), FAILED).cloned().unwrap();
    assert_eq!(f.reason.as_deref(), Some(REASON_POD_FAILURE_POLICY));
}

#[test]
fn pod_failure_policy_on_conditions() {
    let pfp = PodFailurePolicy {
        rules: vec![PodFailurePolicyRule {
            action: "Ignore".into(),
            on_exit_codes: None,
            on_pod_conditions: Some(vec![
                k8s_openapi::api::batch::v1::PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                },
            ]),
        }],
    };
    let pod = Pod {
        status: Some(PodStatus {
            phase: Some("Failed".into()),
            conditions: Some(vec![PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = match_pod_failure_policy(Some(&pfp), &pod);
    assert!(!m.counts);
    assert_eq!(m.action, Some(ACTION_IGNORE));
    assert!(match_pod_failure_policy(None, &pod).counts);
}

#[test]
fn backoff_limit_per_index_fails_indexes() {
    let mut j = indexed(3, 3);
    spec_mut(&mut j).backoff_limit_per_index = Some(1);
    spec_mut(&mut j).backoff_limit = Some(i32::MAX);
    let mut sim = Sim::new(j);
    let p = sim.step();
    assert_eq!(
        p.create[0].metadata.annotations.as_ref().unwrap()[JOB_INDEX_FAILURE_COUNT],
        "0"
    );
    let of = |sim: &Sim, ix: i32| {
        sim.pods
            .iter()
            .find(|p| completion_index(p) == Some(ix) && podutil::is_pod_active(p))
            .map(|p| p.metadata.name.clone().unwrap())
            .unwrap()
    };
    // Index 1 fails once: its pod keeps the finalizer until the replacement exists.
    let first = of(&sim, 1);
    sim.finish_pod(&first, "Failed", 1);
    let p = sim.step();
    assert!(p.remove_finalizer.is_empty());
    assert_eq!(p.status.failed_indexes.as_deref(), Some(""));
    sim.now += 10;
    let p = sim.step();
    assert_eq!(p.create.len(), 1);
    assert_eq!(
        p.create[0].metadata.annotations.as_ref().unwrap()[JOB_INDEX_FAILURE_COUNT],
        "1"
    );
    let p = sim.step();
    assert_eq!(p.remove_finalizer, vec![first]);
    sim.settle();
    // The replacement fails too: index 1 failed for good.
    let second = of(&sim, 1);
    sim.finish_pod(&second, "Failed", 1);
    sim.settle();
    assert_eq!(sim.status().failed_indexes.as_deref(), Some("1"));
    assert_eq!(sim.status().failed, Some(2));
    sim.now += 100;
    assert!(sim.step().create.is_empty());
    for ix in [0, 2] {
        let n = of(&sim, ix);
        sim.finish_pod(&n, "Succeeded", 0);
    }
    sim.settle();
    let f = cond(&sim.status(), FAILED).cloned().unwrap();
    assert_eq!(f.reason.as_deref(), Some(REASON_FAILED_INDEXES));
    assert_eq!(sim.status().completed_indexes.as_deref(), Some("0,2"));
}

#[test]
fn success_policy_completes_early() {
    let mut j = indexed(3, 3);
    spec_mut(&mut j).success_policy = Some(SuccessPolicy {
        rules: vec![SuccessPolicyRule {
            succeeded_indexes: Some("0".into()),
            succeeded_count: None,
        }],
    });
    let mut sim = Sim::new(j);
    sim.step();
    let leader = sim
        .pods
        .iter()
        .find(|p| completion_index(p) == Some(0))
        .map(|p| p.metadata.name.clone().unwrap())
        .unwrap();
    sim.finish_pod(&leader, "Succeeded", 0);
    let p = sim.step();
    let c = cond(&p.status, SUCCESS_CRITERIA_MET).unwrap();
    assert_eq!(
        (c.reason.as_deref(), c.message.as_deref()),
        (
            Some(REASON_SUCCESS_POLICY),
            Some("Matched rules at index 0")
        )
    );
    // The other pods are deleted, not counted as failures.
    assert_eq!(p.delete.len(), 2);
    sim.settle();
    let c = cond(&sim.status(), COMPLETE).cloned().unwrap();
    assert_eq!(c.reason.as_deref(), Some(REASON_SUCCESS_POLICY));
    assert_eq!(sim.status().failed, None);
}

#[test]
fn ttl_after_finished() {
    let mut j = job(1, Some(1));
    spec_mut(&mut j).ttl_seconds_after_finished = Some(100);
    assert_eq!(ttl_expired(&j, at(0)), None);
    j.status = Some(JobStatus {
        conditions: Some(vec![new_condition(COMPLETE, "True", "", "", at(1000))]),
        ..Default::default()
    });
    assert_eq!(ttl_expired(&j, at(1050)), Some(Duration::from_secs(50)));
    let p = plan_job(&j, &[], at(1050)).unwrap();
    assert!(!p.delete_job);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(50)));
    assert_eq!(ttl_expired(&j, at(1100)), Some(Duration::ZERO));
    assert!(plan_job(&j, &[], at(1100)).unwrap().delete_job);
    j.metadata.deletion_timestamp = Some(Time(at(1101)));
    assert_eq!(ttl_expired(&j, at(1200)), None);
}

#[test]
fn finished_job_cleans_leftover_finalizers_and_orphans() {
    let mut sim = Sim::new(job(1, Some(1)));
    sim.step();
    let name = sim.active()[0].clone();
    let mut done = sim.job.clone();
    done.status = Some(JobStatus {
        conditions: Some(vec![new_condition(FAILED, "True", "X", "", at(1))]),
        ..Default::default()
    });
    let p = plan_job(&done, &sim.pods, at(2)).unwrap();
    assert_eq!(p.remove_finalizer, vec![name]);
    let pod = &sim.pods[0];
    assert!(orphan_needs_finalizer_removal(pod, Some(&done)));
    assert!(!orphan_needs_finalizer_removal(pod, Some(&sim.job)));
    assert!(orphan_needs_finalizer_removal(pod, None));
    let mut other = sim.job.clone();
    other.metadata.uid = Some("new".into());
    assert!(orphan_needs_finalizer_removal(pod, Some(&other)));
}

#[test]
fn managed_by_other_controller_is_skipped() {
    let mut j = job(1, Some(1));
    spec_mut(&mut j).managed_by = Some("example.com/mine".into());
    let p = plan_job(&j, &[], at(0)).unwrap();
    assert!(p.create.is_empty() && !p.status_changed);
    spec_mut(&mut j).managed_by = Some(JOB_CONTROLLER_NAME.into());
    assert_eq!(plan_job(&j, &[], at(0)).unwrap().create.len(), 1);
}

#[test]
fn unknown_completion_mode_and_bad_selector() {
    let mut j = job(1, Some(1));
    spec_mut(&mut j).completion_mode = Some("Sometimes".into());
    let p = plan_job(&j, &[], at(0)).unwrap();
    assert_eq!(reasons(&p), ["UnknownCompletionMode"]);
    let mut j = job(1, Some(1));
    spec_mut(&mut j)
        .selector
        .as_mut()
        .unwrap()
        .match_expressions = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
            key: "a".into(),
            operator: "Near".into(),
            values: None,
        },
    ]);
    assert!(matches!(
        plan_job(&j, &[], at(0)),
        Err(Error::InvalidSelector(_))
    ));
}

#[test]
fn defaults_when_fields_are_missing() {
    let mut j = job(1, Some(1));
    let s = spec_mut(&mut j);
    s.parallelism = None;
    s.completions = None;
    s.backoff_limit = None;
    s.selector = None;
    let v = JobView::new(&j);
    assert_eq!(
        (v.parallelism, v.completions, v.backoff_limit),
        (1, Some(1), 6)
    );
    assert_eq!(plan_job(&j, &[], at(0)).unwrap().create.len(), 1);
}

#[test]
fn intervals_parse_merge_format() {
    let i = Intervals::parse("0-2,4,6-9", 8);
    assert_eq!(i.0, vec![(0, 2), (4, 4), (6, 7)]);
    assert_eq!(i.to_string(), "0-2,4,6,7");
    assert_eq!(i.total(), 6);
    assert!(i.has(1) && i.has(4) && !i.has(3) && !i.has(8));
    assert_eq!(i.with_indexes(&[3, 5]).to_string(), "0-7");
    assert_eq!(Intervals::parse("x,1,2", 5).to_string(), "1,2");
    assert_eq!(Intervals::parse("", 5).total(), 0);
    assert_eq!(generate_name_with_index("pi", 3), "pi-3-");
    let long = "a".repeat(60);
    let g = generate_name_with_index(&long, 12);
    assert_eq!(g.len(), 58);
    assert!(g.ends_with("-12-"));
}

#[test]
fn status_after_failed_creates_lowers_active() {
    let sim = Sim::new(job(3, Some(3)));
    let p = sim.plan();
    assert_eq!(p.status.active, Some(3));
    assert_eq!(p.status_after_failed_creates(2).active, Some(1));
    assert_eq!(p.status_after_failed_creates(3).active, None);
}
