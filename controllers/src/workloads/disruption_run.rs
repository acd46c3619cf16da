//! The runtime of the PodDisruptionBudget status controller (the plan is
//! [`crate::services::disruption`]): it lives with the workload controllers because it reads
//! their caches (a budget in percent, or with `maxUnavailable`, counts the replicas the pods'
//! controllers want). The API server's eviction admission reads `disruptionsAllowed` from
//! the status written here.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::ReplicationController;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use super::{Workloads, is_status, timeout};
use crate::recorder::Recorder;
use crate::services::disruption;
use crate::{Leadership, Result};

impl Workloads {
    pub(super) async fn sync_pdb(
        &self,
        ns: &str,
        name: &str,
        leadership: &Leadership,
        recorder: &Recorder,
    ) -> Result<Option<Duration>> {
        let Some(pdb) = self.pdbs.get(ns, name) else {
            return Ok(None);
        };
        let rss: Vec<ReplicaSet> = self.rss.list(ns).iter().map(|o| (**o).clone()).collect();
        let ds: Vec<Deployment> = self
            .deployments
            .list(ns)
            .iter()
            .map(|o| (**o).clone())
            .collect();
        let ss: Vec<StatefulSet> = self
            .statefulsets
            .list(ns)
            .iter()
            .map(|o| (**o).clone())
            .collect();
        let rcs: Vec<ReplicationController> =
            self.rcs.list(ns).iter().map(|o| (**o).clone()).collect();
        let scales = disruption::WorkloadScales {
            replica_sets: &rss,
            deployments: &ds,
            stateful_sets: &ss,
            replication_controllers: &rcs,
        };
        let plan = disruption::plan_pdb(&pdb, &self.pods_of(ns), &scales, Timestamp::now());
        if plan.status_changed {
            leadership.check()?;
            // A full status write with the cached resourceVersion: a budget the API server's
            // eviction has just decremented is planned again, not overwritten.
            let mut body = (*pdb).clone();
            body.status = Some(plan.status.clone());
            let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), ns);
            match timeout(
                "pdb status",
                api.replace_status(name, &PostParams::default(), &body),
            )
            .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(e),
            }
        }
        for ev in &plan.events {
            recorder.record(pdb.as_ref(), ev.type_, ev.reason, ev.message.clone());
        }
        Ok(plan.requeue_after)
    }
}
