//! The runtime of the Job and CronJob controllers: carries out [`super::job`] and
//! [`super::cronjob`] plans (see those modules for the semantics and the write order).
//!
//! Job writes: adopt and release (controller reference and the
//! `batch.kubernetes.io/job-tracking` finalizer, by strategic merge patch with the pod's uid),
//! deletions (removing the finalizer first when the pod is not to be counted), creations
//! under expectations with slow start, then the status as a full `PUT /status` with the cached
//! resourceVersion (a stale plan can never count a pod twice), then the finalizers of counted
//! pods, then events, then the TTL deletion.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use serde_json::json;

use super::{Key, Workloads, cronjob, is_status, job, podutil, timeout};
use crate::recorder::Recorder;
use crate::{Leadership, Result};

fn drop_finalizer_patch(uid: Option<String>) -> Patch<serde_json::Value> {
    Patch::Strategic(json!({"metadata": {
        "$deleteFromPrimitiveList/finalizers": [job::JOB_TRACKING_FINALIZER],
        "uid": uid,
    }}))
}

impl Workloads {
    async fn drop_finalizer(&self, pods: &Api<Pod>, ns: &str, name: &str) -> Result<()> {
        let uid = self.pods.get(ns, name).and_then(|p| p.metadata.uid.clone());
        match timeout(
            "finalizer removal",
            pods.patch(name, &PatchParams::default(), &drop_finalizer_patch(uid)),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn sync_job(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let key = Key::Job(ns.into(), name.into());
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let Some(j) = self.jobs.get(ns, name) else {
            self.expectations.remove(&key);
            // The Job is gone: its pods must not keep the tracking finalizer.
            for p in self.pods.list(ns) {
                let owned = podutil::controller_ref(&p.metadata)
                    .is_some_and(|r| r.kind == "Job" && r.name == name);
                if owned && job::orphan_needs_finalizer_removal(&p, None) {
                    leadership.check()?;
                    self.drop_finalizer(&pods_api, ns, &p.name_any()).await?;
                }
            }
            return Ok(None);
        };
        if !self.expectations.satisfied(&key) {
            return Ok(Some(Duration::from_millis(500)));
        }
        let now = Timestamp::now();
        let plan = job::plan_job(&j, &self.pods_of(ns), now)?;
        let owner = job::job_controller_ref(&j);
        for n in &plan.adopt {
            leadership.check()?;
            let uid = self.pods.get(ns, n).and_then(|p| p.metadata.uid.clone());
            let patch = json!({"metadata": {
                "ownerReferences": [owner],
                "finalizers": [job::JOB_TRACKING_FINALIZER],
                "uid": uid,
            }});
            match timeout(
                "adopt",
                pods_api.patch(n, &PatchParams::default(), &Patch::Strategic(patch)),
            )
            .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        for n in &plan.release {
            leadership.check()?;
            let uid = self.pods.get(ns, n).and_then(|p| p.metadata.uid.clone());
            let patch = json!({"metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": owner.uid}],
                "$deleteFromPrimitiveList/finalizers": [job::JOB_TRACKING_FINALIZER],
                "uid": uid,
            }});
            match timeout(
                "release",
                pods_api.patch(n, &PatchParams::default(), &Patch::Strategic(patch)),
            )
            .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        if !plan.delete.is_empty() {
            self.expectations.expect(&key, 0, plan.delete.len() as i64);
            for n in &plan.delete {
                leadership.check()?;
                if !plan.delete_keeps_finalizer {
                    self.drop_finalizer(&pods_api, ns, n).await?;
                }
                let uid = self.pods.get(ns, n).and_then(|p| p.metadata.uid.clone());
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid,
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match timeout("pod delete", pods_api.delete(n, &dp)).await {
                    Ok(_) => recorder.record(
                        j.as_ref(),
                        "Normal",
                        "SuccessfulDelete",
                        format!("Deleted pod: {n}"),
                    ),
                    Err(e) if is_status(&e, 404) || is_status(&e, 409) => {
                        self.expectations.deleted(&key)
                    }
                    Err(e) => {
                        self.expectations.deleted(&key);
                        return Err(e);
                    }
                }
            }
        }
        let mut not_created = 0usize;
        if let Some((n, e)) = self
            .create_pods_slow_start(
                &pods_api,
                &plan.create,
                &key,
                j.as_ref(),
                leadership,
                recorder,
            )
            .await?
        {
            // Pods not created are not active: the status says so.
            tracing::debug!(job = %name, error = %e, "pod creation failed");
            not_created = n;
        }
        if plan.status_changed || not_created > 0 {
            leadership.check()?;
            let status = if not_created > 0 {
                plan.status_after_failed_creates(not_created)
            } else {
                plan.status.clone()
            };
            let mut body = (*j).clone();
            body.status = Some(status);
            let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
            timeout(
                "job status",
                api.replace_status(name, &PostParams::default(), &body),
            )
            .await?;
        }
        for n in &plan.remove_finalizer {
            leadership.check()?;
            self.drop_finalizer(&pods_api, ns, n).await?;
        }
        for ev in &plan.events {
            recorder.record(j.as_ref(), ev.type_, ev.reason, ev.message.clone());
        }
        if plan.delete_job {
            leadership.check()?;
            let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Foreground),
                preconditions: Some(Preconditions {
                    uid: None,
                    resource_version: j.metadata.resource_version.clone(),
                }),
                ..Default::default()
            };
            match timeout("job delete", api.delete(name, &dp)).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(plan.requeue_after)
    }

    pub(super) async fn sync_cronjob(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let Some(cj) = self.cronjobs.get(ns, name) else {
            return Ok(None);
        };
        let jobs: Vec<Job> = self.jobs.list(ns).iter().map(|j| (**j).clone()).collect();
        let plan = cronjob::plan_cronjob(&cj, &jobs, Timestamp::now())?;
        let jobs_api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        for n in &plan.missing_jobs {
            if timeout("job get", jobs_api.get_opt(n)).await?.is_some() {
                // Our cache is behind: plan again shortly.
                return Ok(Some(Duration::from_millis(200)));
            }
        }
        for n in &plan.delete_jobs {
            leadership.check()?;
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            };
            match timeout("job delete", jobs_api.delete(n, &dp)).await {
                Ok(_) => recorder.record(
                    cj.as_ref(),
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted job {n}"),
                ),
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(e),
            }
        }
        let cj_api: Api<CronJob> = Api::namespaced(self.client.clone(), ns);
        let mut status = plan.status.clone();
        let mut changed = plan.status_changed;
        let mut created_event = None;
        if let Some(new_job) = &plan.create_job {
            leadership.check()?;
            match timeout(
                "job create",
                jobs_api.create(&PostParams::default(), new_job),
            )
            .await
            {
                Ok(created) => {
                    let (s, ev) = plan.job_created(&created, false);
                    status = s;
                    changed = true;
                    created_event = ev;
                }
                Err(e) if is_status(&e, 409) => {
                    if let Some(existing) =
                        timeout("job get", jobs_api.get_opt(&new_job.name_any())).await?
                    {
                        let (s, _) = plan.job_created(&existing, true);
                        status = s;
                        changed = true;
                    }
                }
                Err(e) => {
                    if changed {
                        let mut body = (*cj).clone();
                        body.status = Some(status);
                        let _ = timeout(
                            "cronjob status",
                            cj_api.replace_status(name, &PostParams::default(), &body),
                        )
                        .await;
                    }
                    recorder.record(
                        cj.as_ref(),
                        "Warning",
                        "FailedCreate",
                        format!("Error creating job: {e}"),
                    );
                    return Err(e);
                }
            }
        }
        if changed {
            leadership.check()?;
            let mut body = (*cj).clone();
            body.status = Some(status);
            timeout(
                "cronjob status",
                cj_api.replace_status(name, &PostParams::default(), &body),
            )
            .await?;
        }
        for ev in plan.events.iter().chain(created_event.as_ref()) {
            recorder.record(cj.as_ref(), ev.type_, ev.reason, ev.message.clone());
        }
        Ok(plan.requeue_after)
    }
}
