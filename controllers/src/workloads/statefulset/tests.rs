//! The StatefulSet plan's specification, mostly by simulation: a small in-memory namespace
//! (the set, pods, claims, revisions) where each plan is applied as the runtime would, a fake
//! kubelet makes pods Running and Ready and finishes deletions, and the set is planned again.

use super::super::podutil::testutil::at;
use super::*;
use k8s_openapi::api::apps::v1::{
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const UID: &str = "set-uid";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&[("app", "web")])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn claim_template(name: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(&[("tier", "storage")])),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn set(replicas: i32) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some(UID.into()),
            generation: Some(1),
            annotations: Some(labels(&[(history::CHANGE_CAUSE, "first")])),
            ..Default::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "web")])),
                match_expressions: None,
            },
            service_name: Some("web-svc".into()),
            template: template("nginx:1"),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some(ROLLING_UPDATE.into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            ..Default::default()
        }),
        status: None,
    }
}

fn parallel(mut s: StatefulSet) -> StatefulSet {
    s.spec.as_mut().unwrap().pod_management_policy = Some(PARALLEL.into());
    s
}

fn with_claims(mut s: StatefulSet, when_deleted: &str, when_scaled: &str) -> StatefulSet {
    let spec = s.spec.as_mut().unwrap();
    spec.volume_claim_templates = Some(vec![claim_template("data")]);
    spec.persistent_volume_claim_retention_policy =
        Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
            when_deleted: Some(when_deleted.into()),
            when_scaled: Some(when_scaled.into()),
        });
    s
}

fn set_image(s: &mut StatefulSet, image: &str) {
    let spec = s.spec.as_mut().unwrap();
    spec.template = template(image);
    s.metadata.generation = Some(s.metadata.generation.unwrap_or(1) + 1);
}

fn image_of(p: &Pod) -> &str {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .as_deref()
        .unwrap()
}

/// The namespace as the caches would show it.
#[derive(Default)]
struct Cluster {
    set: Option<StatefulSet>,
    pods: Vec<Pod>,
    pvcs: Vec<PersistentVolumeClaim>,
    revisions: Vec<ControllerRevision>,
    clock: i64,
    uid: u64,
    created: Vec<String>,
    deleted: Vec<String>,
}

impl Cluster {
    fn new(s: StatefulSet) -> Cluster {
        Cluster {
            set: Some(s),
            clock: 1000,
            ..Default::default()
        }
    }

    fn set(&self) -> &StatefulSet {
        self.set.as_ref().unwrap()
    }

    fn set_mut(&mut self) -> &mut StatefulSet {
        self.set.as_mut().unwrap()
    }

    fn plan(&self) -> StatefulSetPlan {
        plan_statefulset(
            self.set(),
            &self.pods,
            &self.pvcs,
            &self.revisions,
            at(self.clock),
        )
        .unwrap()
    }

    fn next_uid(&mut self, prefix: &str) -> String {
        self.uid += 1;
        format!("{prefix}-{}", self.uid)
    }

    fn pod(&self, name: &str) -> Option<&Pod> {
        self.pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
    }

    fn pod_mut(&mut self, name: &str) -> Option<&mut Pod> {
        self.pods
            .iter_mut()
            .find(|p| p.metadata.name.as_deref() == Some(name))
    }

    fn pvc(&self, name: &str) -> Option<&PersistentVolumeClaim> {
        self.pvcs
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
    }

    /// Carries the plan out as the runtime would.
    fn apply(&mut self, plan: &StatefulSetPlan) {
        self.clock += 1;
        let owner = statefulset_controller_ref(self.set());
        for n in &plan.adopt_pods {
            if let Some(p) = self.pod_mut(n) {
                p.metadata.owner_references = Some(vec![owner.clone()]);
            }
        }
        for n in &plan.release_pods {
            if let Some(p) = self.pod_mut(n) {
                p.metadata.owner_references = None;
            }
        }
        for r in &plan.create_revisions {
            assert!(
                !self
                    .revisions
                    .iter()
                    .any(|x| x.metadata.name == r.metadata.name),
                "revision created twice"
            );
            let mut r = r.clone();
            r.metadata.creation_timestamp = Some(Time(at(self.clock)));
            self.revisions.push(r);
        }
        for r in &plan.update_revisions {
            let slot = self
                .revisions
                .iter_mut()
                .find(|x| x.metadata.name == r.metadata.name)
                .unwrap();
            *slot = r.clone();
        }
        for c in &plan.update_pvcs {
            let slot = self
                .pvcs
                .iter_mut()
                .find(|x| x.metadata.name == c.metadata.name)
                .unwrap();
            *slot = c.clone();
        }
        for c in &plan.create_pvcs {
            assert!(self.pvc(c.metadata.name.as_deref().unwrap()).is_none());
            let mut c = c.clone();
            c.metadata.uid = Some(self.next_uid("pvc"));
            self.pvcs.push(c);
        }
        for p in &plan.create_pods {
            let name = p.metadata.name.clone().unwrap();
            assert!(self.pod(&name).is_none(), "{name} created while it exists");
            // Claims exist before the pod.
            for v in p.spec.as_ref().unwrap().volumes.iter().flatten() {
                if let Some(src) = &v.persistent_volume_claim {
                    assert!(
                        self.pvc(&src.claim_name).is_some(),
                        "{name} before its claim"
                    );
                }
            }
            let mut p = p.clone();
            p.metadata.uid = Some(self.next_uid("pod"));
            p.metadata.creation_timestamp = Some(Time(at(self.clock)));
            p.status = Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
            self.created.push(name);
            self.pods.push(p);
        }
        for p in &plan.update_pods {
            let slot = self
                .pods
                .iter_mut()
                .find(|x| x.metadata.name == p.metadata.name)
                .unwrap();
            *slot = p.clone();
        }
        for n in &plan.delete_pods {
            let clock = self.clock;
            if let Some(p) = self.pod_mut(n) {
                p.metadata.deletion_timestamp = Some(Time(at(clock)));
            }
            self.deleted.push(n.clone());
        }
        if plan.status_changed {
            self.set_mut().status = Some(plan.status.clone());
        }
        for n in &plan.delete_revisions {
            self.revisions
                .retain(|r| r.metadata.name.as_deref() != Some(n.as_str()));
        }
    }

    /// The kubelet: `name` runs and is ready.
    fn make_ready(&mut self, name: &str) {
        let clock = self.clock;
        let p = self.pod_mut(name).unwrap();
        let st = p.status.get_or_insert_with(Default::default);
        st.phase = Some("Running".into());
        st.conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(at(clock))),
            ..Default::default()
        }]);
    }

    /// Terminating pods go away; the garbage collector deletes claims whose controller (a pod)
    /// is gone.
    fn finish_deletions(&mut self) {
        let gone: Vec<String> = self
            .pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some())
            .map(|p| p.metadata.uid.clone().unwrap())
            .collect();
        self.pods
            .retain(|p| p.metadata.deletion_timestamp.is_none());
        self.pvcs.retain(|c| {
            !c.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && gone.contains(&r.uid))
        });
    }

    fn not_ready(&self) -> Vec<String> {
        self.pods
            .iter()
            .filter(|p| !is_running_and_ready(p))
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    /// Plan, apply, make every pod ready and finish deletions until nothing changes.
    fn converge(&mut self) {
        for _ in 0..100 {
            let plan = self.plan();
            self.apply(&plan);
            let names: Vec<String> = self
                .pods
                .iter()
                .map(|p| p.metadata.name.clone().unwrap())
                .collect();
            for n in names {
                self.make_ready(&n);
            }
            self.finish_deletions();
            let again = self.plan();
            if again.create_pods.is_empty()
                && again.delete_pods.is_empty()
                && again.create_revisions.is_empty()
                && again.update_revisions.is_empty()
                && !again.status_changed
            {
                return;
            }
        }
        panic!("did not converge");
    }
}

fn names(v: &[Pod]) -> Vec<&str> {
    v.iter()
        .map(|p| p.metadata.name.as_deref().unwrap())
        .collect()
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time() {
    let mut c = Cluster::new(set(3));
    loop {
        let plan = c.plan();
        assert!(plan.create_pods.len() <= 1);
        c.apply(&plan);
        // Never two pods not ready at once.
        let not_ready = c.not_ready();
        assert!(not_ready.len() <= 1, "{not_ready:?}");
        // A planned-again set does nothing while the new pod is not ready.
        if let Some(n) = not_ready.first() {
            let again = c.plan();
            assert!(again.create_pods.is_empty());
            c.clock += 1;
            c.make_ready(n);
        }
        if plan.create_pods.is_empty() {
            break;
        }
    }
    assert_eq!(c.created, ["web-0", "web-1", "web-2"]);
    let st = c.set().status.clone().unwrap();
    assert_eq!(st.replicas, 3);
    assert_eq!(st.ready_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(3));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.updated_replicas, Some(3));
    assert_eq!(st.current_revision, st.update_revision);
    assert_eq!(st.observed_generation, Some(1));

    let p = c.pod("web-1").unwrap();
    let l = p.metadata.labels.as_ref().unwrap();
    assert_eq!(l[POD_NAME_LABEL], "web-1");
    assert_eq!(l[POD_INDEX_LABEL], "1");
    assert_eq!(l["app"], "web");
    assert_eq!(
        l[history::CONTROLLER_REVISION_HASH],
        st.update_revision.clone().unwrap()
    );
    let ps = p.spec.as_ref().unwrap();
    assert_eq!(ps.hostname.as_deref(), Some("web-1"));
    assert_eq!(ps.subdomain.as_deref(), Some("web-svc"));
    assert!(p.metadata.generate_name.is_none());
    let r = podutil::controller_ref(&p.metadata).unwrap();
    assert_eq!((r.kind.as_str(), r.uid.as_str()), ("StatefulSet", UID));
}

#[test]
fn ordered_ready_waits_for_min_ready_seconds() {
    let mut s = set(2);
    s.spec.as_mut().unwrap().min_ready_seconds = Some(10);
    let mut c = Cluster::new(s);
    let plan = c.plan();
    c.apply(&plan);
    c.make_ready("web-0");
    let plan = c.plan();
    assert!(plan.create_pods.is_empty());
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(11)));
    c.clock += 11;
    let plan = c.plan();
    assert_eq!(names(&plan.create_pods), ["web-1"]);
}

#[test]
fn ordinals_start() {
    let mut s = set(2);
    s.spec.as_mut().unwrap().ordinals =
        Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(5) });
    let mut c = Cluster::new(parallel(s));
    c.converge();
    let mut n: Vec<&str> = c
        .pods
        .iter()
        .map(|p| p.metadata.name.as_deref().unwrap())
        .collect();
    n.sort();
    assert_eq!(n, ["web-5", "web-6"]);
}

#[test]
fn parallel_creates_all_at_once() {
    let mut c = Cluster::new(parallel(set(3)));
    let plan = c.plan();
    assert_eq!(names(&plan.create_pods), ["web-0", "web-1", "web-2"]);
    c.apply(&plan);
    // Nothing more while they start.
    assert!(c.plan().create_pods.is_empty());
}

fn ready_cluster(s: StatefulSet) -> Cluster {
    let mut c = Cluster::new(s);
    c.converge();
    c
}

#[test]
fn ordered_scale_down_deletes_highest_first_one_at_a_time() {
    let mut c = ready_cluster(set(4));
    c.set_mut().spec.as_mut().unwrap().replicas = Some(1);
    let mut order = Vec::new();
    for _ in 0..10 {
        let plan = c.plan();
        assert!(plan.delete_pods.len() <= 1);
        order.extend(plan.delete_pods.clone());
        c.apply(&plan);
        // While terminating, nothing else goes.
        if !plan.delete_pods.is_empty() {
            assert!(c.plan().delete_pods.is_empty());
        }
        c.finish_deletions();
    }
    assert_eq!(order, ["web-3", "web-2", "web-1"]);
    assert_eq!(c.pods.len(), 1);
    assert_eq!(c.set().status.as_ref().unwrap().replicas, 1);
}

#[test]
fn ordered_scale_down_waits_for_unhealthy_lower_pods() {
    let mut c = ready_cluster(set(3));
    c.set_mut().spec.as_mut().unwrap().replicas = Some(2);
    c.pod_mut("web-0")
        .unwrap()
        .status
        .as_mut()
        .unwrap()
        .conditions = None;
    assert!(c.plan().delete_pods.is_empty());
}

#[test]
fn parallel_scale_down_deletes_all_condemned() {
    let mut c = ready_cluster(parallel(set(4)));
    c.set_mut().spec.as_mut().unwrap().replicas = Some(1);
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["web-3", "web-2", "web-1"]);
}

#[test]
fn claims_are_created_before_pods_with_retention_owners() {
    let mut c = Cluster::new(with_claims(set(2), DELETE, RETAIN));
    let plan = c.plan();
    assert_eq!(plan.create_pvcs.len(), 1);
    let pvc = &plan.create_pvcs[0];
    assert_eq!(pvc.metadata.name.as_deref(), Some("data-web-0"));
    assert_eq!(pvc.metadata.namespace.as_deref(), Some("default"));
    let l = pvc.metadata.labels.as_ref().unwrap();
    assert_eq!((l["tier"].as_str(), l["app"].as_str()), ("storage", "web"));
    // whenDeleted: Delete — the set controls the claim.
    let refs = pvc.metadata.owner_references.as_ref().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].kind.as_str(), refs[0].uid.as_str()),
        ("StatefulSet", UID)
    );
    assert_eq!(refs[0].controller, Some(true));
    let vol = &plan.create_pods[0]
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap()[0];
    assert_eq!(vol.name, "data");
    assert_eq!(
        vol.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-web-0"
    );
    c.converge();
    assert!(c.pvc("data-web-1").is_some());

    // Retain/Retain: no owner.
    let plan = Cluster::new(with_claims(set(1), RETAIN, RETAIN)).plan();
    assert!(plan.create_pvcs[0].metadata.owner_references.is_none());
}

#[test]
fn when_scaled_delete_hands_claims_to_pods_before_scale_down() {
    let mut c = ready_cluster(with_claims(set(3), DELETE, DELETE));
    for n in ["data-web-0", "data-web-1", "data-web-2"] {
        let refs = c.pvc(n).unwrap().metadata.owner_references.clone().unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].uid, UID);
    }
    c.set_mut().spec.as_mut().unwrap().replicas = Some(2);
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["web-2"]);
    assert_eq!(plan.update_pvcs.len(), 1);
    let pvc = &plan.update_pvcs[0];
    assert_eq!(pvc.metadata.name.as_deref(), Some("data-web-2"));
    let refs = pvc.metadata.owner_references.as_ref().unwrap();
    let pod_uid = c.pod("web-2").unwrap().metadata.uid.clone().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].kind.as_str(), refs[0].uid.clone()),
        ("Pod", pod_uid)
    );
    c.apply(&plan);
    c.finish_deletions();
    // The garbage collector took the claim with the pod.
    assert!(c.pvc("data-web-2").is_none());
    assert!(c.pvc("data-web-1").is_some());

    // Scaling back up makes a fresh claim.
    c.set_mut().spec.as_mut().unwrap().replicas = Some(3);
    let plan = c.plan();
    assert_eq!(plan.create_pvcs.len(), 1);
    assert_eq!(names(&plan.create_pods), ["web-2"]);
}

#[test]
fn stale_claim_blocks_pod_creation() {
    let mut c = Cluster::new(with_claims(set(1), RETAIN, DELETE));
    let mut stale = claim_template("data");
    stale.metadata.name = Some("data-web-0".into());
    stale.metadata.namespace = Some("default".into());
    stale.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: "web-0".into(),
        uid: "old-pod".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    c.pvcs.push(stale);
    let plan = c.plan();
    assert!(plan.create_pods.is_empty());
    assert_eq!(plan.requeue_after, Some(CLAIM_RETRY));
    c.pvcs.clear();
    assert_eq!(names(&c.plan().create_pods), ["web-0"]);
}

#[test]
fn retention_policy_change_updates_claims() {
    let mut c = ready_cluster(with_claims(set(2), RETAIN, RETAIN));
    assert!(
        c.pvc("data-web-0")
            .unwrap()
            .metadata
            .owner_references
            .is_none()
    );
    c.set_mut()
        .spec
        .as_mut()
        .unwrap()
        .persistent_volume_claim_retention_policy =
        Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
            when_deleted: Some(DELETE.into()),
            when_scaled: Some(RETAIN.into()),
        });
    let plan = c.plan();
    assert_eq!(plan.update_pvcs.len(), 2);
    for pvc in &plan.update_pvcs {
        assert_eq!(pvc.metadata.owner_references.as_ref().unwrap()[0].uid, UID);
    }
    c.apply(&plan);
    assert!(c.plan().update_pvcs.is_empty());
}

#[test]
fn rolling_update_goes_from_the_highest_ordinal_down() {
    let mut c = ready_cluster(set(3));
    let rev1 = c.set().status.clone().unwrap().update_revision.unwrap();
    set_image(c.set_mut(), "nginx:2");
    let mut deleted_order = Vec::new();
    for _ in 0..30 {
        let plan = c.plan();
        assert!(plan.delete_pods.len() <= 1);
        deleted_order.extend(plan.delete_pods.clone());
        c.apply(&plan);
        c.finish_deletions();
        let names: Vec<String> = c.not_ready();
        for n in names {
            c.make_ready(&n);
        }
    }
    assert_eq!(deleted_order, ["web-2", "web-1", "web-0"]);
    for p in &c.pods {
        assert_eq!(image_of(p), "nginx:2");
    }
    let st = c.set().status.clone().unwrap();
    assert_ne!(st.update_revision.as_deref(), Some(rev1.as_str()));
    assert_eq!(st.current_revision, st.update_revision);
    assert_eq!(st.updated_replicas, Some(3));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.observed_generation, Some(2));
}

#[test]
fn rolling_update_waits_for_the_replaced_pod() {
    let mut c = ready_cluster(set(3));
    set_image(c.set_mut(), "nginx:2");
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["web-2"]);
    assert_eq!(plan.status.current_replicas, Some(2));
    c.apply(&plan);
    c.finish_deletions();
    let plan = c.plan();
    assert_eq!(names(&plan.create_pods), ["web-2"]);
    assert_eq!(image_of(&plan.create_pods[0]), "nginx:2");
    c.apply(&plan);
    // web-2 is not ready yet: web-1 stays.
    assert!(c.plan().delete_pods.is_empty());
}

#[test]
fn partition_keeps_lower_ordinals() {
    let mut s = set(3);
    s.spec
        .as_mut()
        .unwrap()
        .update_strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap()
        .partition = Some(2);
    let mut c = ready_cluster(s);
    set_image(c.set_mut(), "nginx:2");
    c.converge();
    let images: Vec<(&str, &str)> = ["web-0", "web-1", "web-2"]
        .iter()
        .map(|n| (*n, image_of(c.pod(n).unwrap())))
        .collect();
    assert_eq!(
        images,
        [
            ("web-0", "nginx:1"),
            ("web-1", "nginx:1"),
            ("web-2", "nginx:2")
        ]
    );
    let st = c.set().status.clone().unwrap();
    assert_eq!(st.updated_replicas, Some(1));
    assert_eq!(st.current_replicas, Some(2));
    assert_ne!(st.current_revision, st.update_revision);
    // A pod below the partition that is recreated keeps the current revision.
    c.pod_mut("web-0").unwrap().metadata.deletion_timestamp = Some(Time(at(1)));
    c.finish_deletions();
    let plan = c.plan();
    assert_eq!(image_of(&plan.create_pods[0]), "nginx:1");
}

#[test]
fn max_unavailable_replaces_several_at_once() {
    let mut s = set(4);
    s.spec
        .as_mut()
        .unwrap()
        .update_strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap()
        .max_unavailable = Some(IntOrString::Int(2));
    let mut c = ready_cluster(parallel(s));
    set_image(c.set_mut(), "nginx:2");
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["web-3", "web-2"]);
    c.apply(&plan);
    // Two unavailable: nothing more.
    assert!(c.plan().delete_pods.is_empty());
    c.converge();
    assert!(c.pods.iter().all(|p| image_of(p) == "nginx:2"));
}

#[test]
fn on_delete_replaces_only_deleted_pods() {
    let mut s = set(2);
    s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
        type_: Some(ON_DELETE.into()),
        rolling_update: None,
    });
    let mut c = ready_cluster(s);
    set_image(c.set_mut(), "nginx:2");
    let plan = c.plan();
    assert_eq!(plan.create_revisions.len(), 1);
    assert!(plan.delete_pods.is_empty());
    c.apply(&plan);
    assert!(c.plan().delete_pods.is_empty());
    // The user deletes web-1: it comes back at the update revision.
    c.pod_mut("web-1").unwrap().metadata.deletion_timestamp = Some(Time(at(1)));
    c.finish_deletions();
    c.converge();
    assert_eq!(image_of(c.pod("web-0").unwrap()), "nginx:1");
    assert_eq!(image_of(c.pod("web-1").unwrap()), "nginx:2");
    let st = c.set().status.clone().unwrap();
    assert_eq!(st.updated_replicas, Some(1));
    assert_eq!(st.current_replicas, Some(1));
}

#[test]
fn failed_pods_are_recreated() {
    let mut c = ready_cluster(set(2));
    c.pod_mut("web-0").unwrap().status.as_mut().unwrap().phase = Some("Failed".into());
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["web-0"]);
    assert!(plan.create_pods.is_empty());
    c.apply(&plan);
    c.finish_deletions();
    let plan = c.plan();
    assert_eq!(names(&plan.create_pods), ["web-0"]);
}

#[test]
fn revisions_history_and_rollback() {
    let mut c = ready_cluster(set(1));
    assert_eq!(c.revisions.len(), 1);
    let r1 = c.revisions[0].clone();
    let name1 = r1.metadata.name.clone().unwrap();
    assert_eq!(r1.revision, 1);
    assert!(name1.starts_with("web-"));
    let l = r1.metadata.labels.as_ref().unwrap();
    assert_eq!(l["app"], "web");
    assert_eq!(format!("web-{}", l[history::REVISION_HASH]), name1);
    assert_eq!(
        r1.metadata.annotations.as_ref().unwrap()[history::CHANGE_CAUSE],
        "first"
    );
    assert_eq!(
        history::revision_template(&r1).unwrap(),
        template("nginx:1")
    );
    let data = history::data_of(&r1).unwrap();
    assert_eq!(data["spec"]["template"]["$patch"], "replace");
    let owner = podutil::controller_ref(&r1.metadata).unwrap();
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("StatefulSet", UID)
    );
    assert_eq!(c.set().status.as_ref().unwrap().collision_count, Some(0));

    set_image(c.set_mut(), "nginx:2");
    c.converge();
    assert_eq!(c.revisions.len(), 2);
    let r2 = c
        .revisions
        .iter()
        .find(|r| r.metadata.name.as_deref() != Some(name1.as_str()))
        .unwrap()
        .clone();
    assert_eq!(r2.revision, 2);

    // `kubectl rollout undo`: the template goes back to revision 1's, which becomes 3.
    set_image(c.set_mut(), "nginx:1");
    let plan = c.plan();
    assert!(plan.create_revisions.is_empty());
    assert_eq!(plan.update_revisions.len(), 1);
    assert_eq!(plan.update_revisions[0].metadata.name, Some(name1.clone()));
    assert_eq!(plan.update_revisions[0].revision, 3);
    assert_eq!(plan.status.update_revision, Some(name1.clone()));
    c.converge();
    assert_eq!(
        c.set().status.as_ref().unwrap().current_revision,
        Some(name1.clone())
    );

    // History limit: revision 2 is no longer live; with a limit of 0 it goes.
    c.set_mut().spec.as_mut().unwrap().revision_history_limit = Some(0);
    let plan = c.plan();
    assert_eq!(plan.delete_revisions, [r2.metadata.name.clone().unwrap()]);
}

#[test]
fn history_keeps_revisions_pods_still_use() {
    let mut s = set(2);
    s.spec.as_mut().unwrap().revision_history_limit = Some(0);
    s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
        type_: Some(ON_DELETE.into()),
        rolling_update: None,
    });
    let mut c = ready_cluster(s);
    for image in ["nginx:2", "nginx:3"] {
        set_image(c.set_mut(), image);
        c.converge();
    }
    // Pods still at revision 1 (the current one) keep it; revision 2 is gone.
    assert_eq!(c.revisions.len(), 2);
    let revs: Vec<i64> = c.revisions.iter().map(|r| r.revision).collect();
    assert!(revs.contains(&1) && revs.contains(&3));
}

#[test]
fn revision_name_collision_bumps_collision_count() {
    let s = set(1);
    let data = history::revision_data(&s.spec.as_ref().unwrap().template);
    let taken = history::revision_name("web", &history::hash_data(&data, Some(0)));
    let mut c = Cluster::new(s);
    let mut other =
        history::testutil::revision(&taken, &template("other"), 1, "StatefulSet", "x", &[]);
    other.metadata.name = Some(taken.clone());
    c.revisions.push(other);
    let plan = c.plan();
    assert_eq!(plan.create_revisions.len(), 1);
    assert_ne!(plan.create_revisions[0].metadata.name, Some(taken));
    assert_eq!(plan.status.collision_count, Some(1));
}

#[test]
fn adopts_and_releases_pods() {
    let mut c = ready_cluster(set(2));
    // An orphan web-1 (e.g. after `kubectl delete sts --cascade=orphan` and re-create).
    c.pod_mut("web-1").unwrap().metadata.owner_references = None;
    // An owned pod whose labels changed.
    c.pod_mut("web-0")
        .unwrap()
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("app".into(), "other".into());
    // Not ours: another name.
    let mut foreign = c.pod("web-1").unwrap().clone();
    foreign.metadata.name = Some("db-0".into());
    c.pods.push(foreign);
    let plan = c.plan();
    assert_eq!(plan.adopt_pods, ["web-1"]);
    assert_eq!(plan.release_pods, ["web-0"]);
    // web-0 is not the set's any more: a new one is made (its name is still taken, so the
    // create fails until the user renames or deletes the released pod).
    assert_eq!(names(&plan.create_pods), ["web-0"]);
}

#[test]
fn identity_labels_are_restored() {
    let mut c = ready_cluster(set(1));
    c.pod_mut("web-0")
        .unwrap()
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .remove(POD_NAME_LABEL);
    let plan = c.plan();
    assert_eq!(plan.update_pods.len(), 1);
    assert_eq!(
        plan.update_pods[0].metadata.labels.as_ref().unwrap()[POD_NAME_LABEL],
        "web-0"
    );
}

#[test]
fn deleting_set_only_updates_status() {
    let mut c = ready_cluster(set(2));
    c.set_mut().metadata.deletion_timestamp = Some(Time(at(1)));
    c.set_mut().spec.as_mut().unwrap().replicas = Some(5);
    let plan = c.plan();
    assert!(plan.create_pods.is_empty() && plan.delete_pods.is_empty());
    assert_eq!(plan.status.replicas, 2);
    assert!(!plan.status_changed);
}

#[test]
fn steady_state_is_quiet() {
    let c = ready_cluster(parallel(with_claims(set(3), DELETE, DELETE)));
    let plan = c.plan();
    assert_eq!(
        plan,
        StatefulSetPlan {
            status: c.set().status.clone().unwrap(),
            ..Default::default()
        }
    );
}

#[test]
fn events_are_worded_as_upstream() {
    let e = pod_event(Verb::Create, "web", "web-0", None);
    assert_eq!(
        (e.type_, e.reason, e.message.as_str()),
        (
            "Normal",
            "SuccessfulCreate",
            "create Pod web-0 in StatefulSet web successful"
        )
    );
    let e = claim_event(Verb::Create, "web", "web-0", "data-web-0", Some("boom"));
    assert_eq!(e.reason, "FailedCreate");
    assert_eq!(
        e.message,
        "create Claim data-web-0 for Pod web-0 in StatefulSet web failed error: boom"
    );
    assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
    assert_eq!(parent_and_ordinal("web-x"), None);
    assert_eq!(parent_and_ordinal("web-99999999999"), None);
}
