//! The runtime of the StatefulSet and DaemonSet controllers: carries out
//! [`super::statefulset`] and [`super::daemonset`] plans in the write order those modules
//! give, stopping at the first failed write (the next sync plans again).
//!
//! StatefulSet pods and claims have fixed names, so a duplicate create fails with
//! AlreadyExists and no expectations are needed; DaemonSet pods are `generateName`d and use
//! expectations like ReplicaSets. Deletions carry the pod's uid; revision and claim updates
//! carry their resourceVersion.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

use super::{Key, Workloads, daemonset, is_status, statefulset, timeout};
use crate::recorder::Recorder;
use crate::{Leadership, Result};

fn ok_or_gone<T>(r: Result<T>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
        Err(e) => Err(e),
    }
}

impl Workloads {
    /// Add (or remove) `owner` as controller of `names` through `api`.
    async fn own<K>(
        &self,
        api: &Api<K>,
        names: &[String],
        uid_of: impl Fn(&str) -> Option<String>,
        owner: &OwnerReference,
        release: bool,
        leadership: &Leadership,
    ) -> Result<()>
    where
        K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
    {
        for n in names {
            leadership.check()?;
            self.set_controller(api, n, uid_of(n), owner, release)
                .await?;
        }
        Ok(())
    }

    async fn delete_pods(
        &self,
        api: &Api<Pod>,
        ns: &str,
        names: &[String],
        leadership: &Leadership,
    ) -> Result<usize> {
        let mut done = 0;
        for n in names {
            leadership.check()?;
            let uid = self.pods.get(ns, n).and_then(|p| p.metadata.uid.clone());
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..Default::default()
            };
            ok_or_gone(timeout("pod delete", api.delete(n, &dp)).await)?;
            done += 1;
        }
        Ok(done)
    }

    pub(super) async fn sync_statefulset(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let Some(set) = self.statefulsets.get(ns, name) else {
            return Ok(None);
        };
        let pvcs: Vec<PersistentVolumeClaim> =
            self.pvcs.list(ns).iter().map(|p| (**p).clone()).collect();
        let revs: Vec<ControllerRevision> = self
            .revisions
            .list(ns)
            .iter()
            .map(|r| (**r).clone())
            .collect();
        let plan =
            statefulset::plan_statefulset(&set, &self.pods_of(ns), &pvcs, &revs, Timestamp::now())?;
        let owner = statefulset::statefulset_controller_ref(&set);
        let rev_api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        let rev_uid = |n: &str| {
            self.revisions
                .get(ns, n)
                .and_then(|r| r.metadata.uid.clone())
        };
        let pod_uid = |n: &str| self.pods.get(ns, n).and_then(|p| p.metadata.uid.clone());
        self.own(
            &rev_api,
            &plan.adopt_revisions,
            rev_uid,
            &owner,
            false,
            leadership,
        )
        .await?;
        self.own(
            &pod_api,
            &plan.adopt_pods,
            pod_uid,
            &owner,
            false,
            leadership,
        )
        .await?;
        self.own(
            &pod_api,
            &plan.release_pods,
            pod_uid,
            &owner,
            true,
            leadership,
        )
        .await?;
        let pp = PostParams::default();
        for r in &plan.create_revisions {
            leadership.check()?;
            match timeout("revision create", rev_api.create(&pp, r)).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        for r in &plan.update_revisions {
            leadership.check()?;
            timeout("revision update", rev_api.replace(&r.name_any(), &pp, r)).await?;
        }
        for c in &plan.update_pvcs {
            leadership.check()?;
            timeout("claim update", pvc_api.replace(&c.name_any(), &pp, c)).await?;
        }
        for c in &plan.create_pvcs {
            leadership.check()?;
            match timeout("claim create", pvc_api.create(&pp, c)).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        for p in &plan.create_pods {
            leadership.check()?;
            match timeout("pod create", pod_api.create(&pp, p)).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {}
                Err(e) => {
                    recorder.record(
                        set.as_ref(),
                        "Warning",
                        "FailedCreate",
                        format!(
                            "create Pod {} in StatefulSet {name} failed error: {e}",
                            p.name_any()
                        ),
                    );
                    return Err(e);
                }
            }
        }
        for p in &plan.update_pods {
            leadership.check()?;
            let patch = json!({"metadata": {"labels": p.metadata.labels, "uid": p.metadata.uid}});
            ok_or_gone(
                timeout(
                    "pod update",
                    pod_api.patch(
                        &p.name_any(),
                        &PatchParams::default(),
                        &Patch::Strategic(patch),
                    ),
                )
                .await,
            )?;
        }
        self.delete_pods(&pod_api, ns, &plan.delete_pods, leadership)
            .await?;
        if plan.status_changed {
            leadership.check()?;
            self.write_status::<StatefulSet, _>(ns, name, set.status.as_ref(), &plan.status)
                .await?;
        }
        for n in &plan.delete_revisions {
            leadership.check()?;
            ok_or_gone(
                timeout(
                    "revision delete",
                    rev_api.delete(n, &DeleteParams::default()),
                )
                .await,
            )?;
        }
        for ev in &plan.events {
            recorder.record(set.as_ref(), ev.type_, ev.reason, ev.message.clone());
        }
        Ok(plan.requeue_after)
    }

    pub(super) async fn sync_daemonset(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let key = Key::DaemonSet(ns.into(), name.into());
        let Some(ds) = self.daemonsets.get(ns, name) else {
            self.expectations.remove(&key);
            return Ok(None);
        };
        let now = Timestamp::now();
        let nodes: Vec<Node> = self.nodes.all().iter().map(|n| (**n).clone()).collect();
        let revs: Vec<ControllerRevision> = self
            .revisions
            .list(ns)
            .iter()
            .map(|r| (**r).clone())
            .collect();
        let plan = {
            let backoff = self.ds_backoff.lock().unwrap_or_else(|e| e.into_inner());
            daemonset::plan_daemonset(&ds, &nodes, &self.pods_of(ns), &revs, &backoff, now)?
        };
        let satisfied = self.expectations.satisfied(&key);
        let owner = daemonset::daemonset_controller_ref(&ds);
        let rev_api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let rev_uid = |n: &str| {
            self.revisions
                .get(ns, n)
                .and_then(|r| r.metadata.uid.clone())
        };
        let pod_uid = |n: &str| self.pods.get(ns, n).and_then(|p| p.metadata.uid.clone());
        self.own(
            &rev_api,
            &plan.adopt_revisions,
            rev_uid,
            &owner,
            false,
            leadership,
        )
        .await?;
        self.own(
            &rev_api,
            &plan.release_revisions,
            rev_uid,
            &owner,
            true,
            leadership,
        )
        .await?;
        let pp = PostParams::default();
        for r in &plan.update_revisions {
            leadership.check()?;
            timeout("revision update", rev_api.replace(&r.name_any(), &pp, r)).await?;
        }
        for r in &plan.create_revisions {
            leadership.check()?;
            match timeout("revision create", rev_api.create(&pp, r)).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(e),
            }
        }
        self.own(
            &pod_api,
            &plan.adopt_pods,
            pod_uid,
            &owner,
            false,
            leadership,
        )
        .await?;
        self.own(
            &pod_api,
            &plan.release_pods,
            pod_uid,
            &owner,
            true,
            leadership,
        )
        .await?;
        for p in &plan.update_pods {
            leadership.check()?;
            let patch = json!({"metadata": {"labels": p.metadata.labels, "uid": p.metadata.uid}});
            ok_or_gone(
                timeout(
                    "pod update",
                    pod_api.patch(&p.name_any(), &PatchParams::default(), &Patch::Merge(patch)),
                )
                .await,
            )?;
        }
        if satisfied {
            if let Some((_, e)) = self
                .create_pods_slow_start(
                    &pod_api,
                    &plan.create_pods,
                    &key,
                    ds.as_ref(),
                    leadership,
                    recorder,
                )
                .await?
            {
                return Err(e);
            }
            if !plan.delete_pods.is_empty() {
                self.expectations
                    .expect(&key, 0, plan.delete_pods.len() as i64);
                let done = self
                    .delete_pods(&pod_api, ns, &plan.delete_pods, leadership)
                    .await;
                if done.is_err() {
                    for _ in 0..plan.delete_pods.len() {
                        self.expectations.deleted(&key);
                    }
                }
                done?;
                for n in &plan.delete_pods {
                    recorder.record(
                        ds.as_ref(),
                        "Normal",
                        "SuccessfulDelete",
                        format!("Deleted pod: {n}"),
                    );
                }
                let mut backoff = self.ds_backoff.lock().unwrap_or_else(|e| e.into_inner());
                backoff.advance(&plan, now);
                backoff.gc(now);
            }
            for n in &plan.delete_revisions {
                leadership.check()?;
                ok_or_gone(
                    timeout(
                        "revision delete",
                        rev_api.delete(n, &DeleteParams::default()),
                    )
                    .await,
                )?;
            }
        }
        let status = if satisfied {
            plan.status.clone()
        } else {
            plan.unsynced_status(ds.status.as_ref())
        };
        if plan.status_changed || !satisfied {
            leadership.check()?;
            self.write_status::<DaemonSet, _>(ns, name, ds.status.as_ref(), &status)
                .await?;
        }
        for ev in &plan.events {
            recorder.record(ds.as_ref(), ev.type_, ev.reason, ev.message.clone());
        }
        Ok(if satisfied {
            plan.requeue_after
        } else {
            Some(Duration::from_millis(500))
        })
    }
}
