//! The DaemonSet plan's specification, mostly by simulation: nodes, pods and revisions in
//! memory; each plan is applied as the runtime would, a fake scheduler binds pods to the node
//! their affinity names, a fake kubelet makes them ready, and the set is planned again.

use super::super::podutil::testutil::at;
use super::*;
use k8s_openapi::api::apps::v1::{DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::api::core::v1::{Container, NodeSpec, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const UID: &str = "ds-uid";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&[("app", "agent")])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "agent".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn daemonset() -> DaemonSet {
    DaemonSet {
        metadata: ObjectMeta {
            name: Some("agent".into()),
            namespace: Some("kube-system".into()),
            uid: Some(UID.into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "agent")])),
                match_expressions: None,
            },
            template: template("agent:1"),
            ..Default::default()
        }),
        status: None,
    }
}

fn strategy(ds: &mut DaemonSet, unavailable: IntOrString, surge: IntOrString) {
    ds.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(unavailable),
            max_surge: Some(surge),
        }),
    });
}

fn node(name: &str, node_labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(node_labels)),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|(k, e)| Taint {
                        key: k.to_string(),
                        effect: e.to_string(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}

fn image_of(p: &Pod) -> &str {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .as_deref()
        .unwrap()
}

fn set_image(ds: &mut DaemonSet, image: &str) {
    ds.spec.as_mut().unwrap().template = template(image);
    ds.metadata.generation = Some(ds.metadata.generation.unwrap_or(1) + 1);
}

#[derive(Default)]
struct Cluster {
    ds: Option<DaemonSet>,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    revisions: Vec<ControllerRevision>,
    backoff: FailedPodBackoff,
    clock: i64,
    seq: u64,
}

impl Cluster {
    fn new(ds: DaemonSet, nodes: Vec<Node>) -> Cluster {
        Cluster {
            ds: Some(ds),
            nodes,
            clock: 1000,
            ..Default::default()
        }
    }

    fn ds(&self) -> &DaemonSet {
        self.ds.as_ref().unwrap()
    }

    fn ds_mut(&mut self) -> &mut DaemonSet {
        self.ds.as_mut().unwrap()
    }

    fn plan(&self) -> DaemonSetPlan {
        plan_daemonset(
            self.ds(),
            &self.nodes,
            &self.pods,
            &self.revisions,
            &self.backoff,
            at(self.clock),
        )
        .unwrap()
    }

    fn pod_mut(&mut self, name: &str) -> &mut Pod {
        self.pods
            .iter_mut()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    fn on(&self, node: &str) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|p| target_node(p) == Some(node))
            .collect()
    }

    fn apply(&mut self, plan: &DaemonSetPlan) {
        self.clock += 1;
        let owner = daemonset_controller_ref(self.ds());
        for n in &plan.adopt_pods {
            self.pod_mut(n).metadata.owner_references = Some(vec![owner.clone()]);
        }
        for n in &plan.release_pods {
            self.pod_mut(n).metadata.owner_references = None;
        }
        for r in &plan.update_revisions {
            let slot = self
                .revisions
                .iter_mut()
                .find(|x| x.metadata.name == r.metadata.name)
                .unwrap();
            *slot = r.clone();
        }
        for r in &plan.create_revisions {
            assert!(
                !self
                    .revisions
                    .iter()
                    .any(|x| x.metadata.name == r.metadata.name)
            );
            let mut r = r.clone();
            r.metadata.creation_timestamp = Some(Time(at(self.clock)));
            self.revisions.push(r);
        }
        for p in &plan.update_pods {
            let slot = self
                .pods
                .iter_mut()
                .find(|x| x.metadata.name == p.metadata.name)
                .unwrap();
            *slot = p.clone();
        }
        for p in &plan.create_pods {
            self.seq += 1;
            let mut p = p.clone();
            p.metadata.name = Some(format!(
                "{}{}",
                p.metadata.generate_name.as_deref().unwrap(),
                self.seq
            ));
            p.metadata.uid = Some(format!("pod-{}", self.seq));
            p.metadata.creation_timestamp = Some(Time(at(self.clock)));
            p.status = Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
            self.pods.push(p);
        }
        for n in &plan.delete_pods {
            let clock = self.clock;
            self.pod_mut(n).metadata.deletion_timestamp = Some(Time(at(clock)));
        }
        self.backoff.advance(plan, at(self.clock));
        for n in &plan.delete_revisions {
            self.revisions
                .retain(|r| r.metadata.name.as_deref() != Some(n.as_str()));
        }
        if plan.status_changed {
            self.ds_mut().status = Some(plan.status.clone());
        }
    }

    /// The scheduler binds pods to their node; the kubelet runs them; deletions finish.
    fn run_pods(&mut self) {
        self.pods
            .retain(|p| p.metadata.deletion_timestamp.is_none());
        let clock = self.clock;
        for p in &mut self.pods {
            let node = target_node(p).unwrap().to_string();
            let spec = p.spec.as_mut().unwrap();
            spec.node_name = Some(node);
            let st = p.status.get_or_insert_with(Default::default);
            if st.phase.as_deref() == Some("Pending") {
                st.phase = Some("Running".into());
                st.conditions = Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at(clock))),
                    ..Default::default()
                }]);
            }
        }
    }

    fn converge(&mut self) {
        for _ in 0..100 {
            let plan = self.plan();
            self.apply(&plan);
            self.run_pods();
            let again = self.plan();
            if again.create_pods.is_empty()
                && again.delete_pods.is_empty()
                && again.create_revisions.is_empty()
                && !again.status_changed
            {
                return;
            }
        }
        panic!("did not converge");
    }
}

fn nodes_of(pods: &[Pod]) -> Vec<&str> {
    let mut v: Vec<&str> = pods.iter().map(|p| target_node(p).unwrap()).collect();
    v.sort();
    v
}

#[test]
fn one_pod_per_eligible_node() {
    let mut ds = daemonset();
    ds.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .node_selector = Some(labels(&[("role", "worker")]));
    let nodes = vec![
        node("n1", &[("role", "worker")], &[]),
        node("n2", &[("role", "db")], &[]),
        node("n3", &[("role", "worker")], &[("dedicated", "NoSchedule")]),
        node(
            "n4",
            &[("role", "worker")],
            &[(TAINT_NOT_READY, "NoExecute")],
        ),
        node(
            "n5",
            &[("role", "worker")],
            &[(TAINT_UNSCHEDULABLE, "NoSchedule")],
        ),
        node("n6", &[("role", "worker")], &[("gpu", "NoExecute")]),
    ];
    let c = Cluster::new(ds, nodes);
    let plan = c.plan();
    assert_eq!(nodes_of(&plan.create_pods), ["n1", "n4", "n5"]);
    assert_eq!(plan.status.desired_number_scheduled, 3);
    assert_eq!(plan.create_revisions.len(), 1);

    let p = &plan.create_pods[0];
    assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
    let l = p.metadata.labels.as_ref().unwrap();
    assert_eq!(l[history::CONTROLLER_REVISION_HASH], plan.hash);
    let r = podutil::controller_ref(&p.metadata).unwrap();
    assert_eq!((r.kind.as_str(), r.uid.as_str()), ("DaemonSet", UID));
    let spec = p.spec.as_ref().unwrap();
    assert!(spec.node_name.is_none());
    let term = &spec
        .affinity
        .as_ref()
        .unwrap()
        .node_affinity
        .as_ref()
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap()
        .node_selector_terms[0];
    let f = &term.match_fields.as_ref().unwrap()[0];
    assert_eq!(
        (f.key.as_str(), f.operator.as_str()),
        ("metadata.name", "In")
    );
    assert_eq!(f.values.as_deref(), Some(&["n1".to_string()][..]));
    let tol: Vec<(&str, &str)> = spec
        .tolerations
        .iter()
        .flatten()
        .map(|t| (t.key.as_deref().unwrap(), t.effect.as_deref().unwrap()))
        .collect();
    assert_eq!(
        tol,
        [
            (TAINT_NOT_READY, "NoExecute"),
            (TAINT_UNREACHABLE, "NoExecute"),
            (TAINT_DISK_PRESSURE, "NoSchedule"),
            (TAINT_MEMORY_PRESSURE, "NoSchedule"),
            (TAINT_PID_PRESSURE, "NoSchedule"),
            (TAINT_UNSCHEDULABLE, "NoSchedule"),
        ]
    );
}

#[test]
fn tolerations_affinity_and_host_network() {
    let mut ds = daemonset();
    let spec = ds.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    spec.host_network = Some(true);
    spec.tolerations = Some(vec![Toleration {
        key: Some("dedicated".into()),
        operator: Some("Equal".into()),
        value: Some("infra".into()),
        effect: Some("NoSchedule".into()),
        ..Default::default()
    }]);
    spec.affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "cores".into(),
                        operator: "Gt".into(),
                        values: Some(vec!["4".into()]),
                    }]),
                    match_fields: None,
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut infra = node("n1", &[("cores", "8")], &[]);
    infra.spec.as_mut().unwrap().taints = Some(vec![
        Taint {
            key: "dedicated".into(),
            value: Some("infra".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        },
        Taint {
            key: TAINT_NETWORK_UNAVAILABLE.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        },
    ]);
    let mut other = node("n2", &[("cores", "8")], &[]);
    other.spec.as_mut().unwrap().taints = Some(vec![Taint {
        key: "dedicated".into(),
        value: Some("db".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    }]);
    let small = node("n3", &[("cores", "2")], &[]);
    let c = Cluster::new(ds, vec![infra, other, small]);
    let plan = c.plan();
    assert_eq!(nodes_of(&plan.create_pods), ["n1"]);
}

#[test]
fn nodes_added_and_removed() {
    let nodes = vec![node("n1", &[], &[]), node("n2", &[], &[])];
    let mut c = Cluster::new(daemonset(), nodes);
    c.converge();
    assert_eq!(c.pods.len(), 2);
    let st = c.ds().status.clone().unwrap();
    assert_eq!(
        (
            st.desired_number_scheduled,
            st.current_number_scheduled,
            st.number_ready,
            st.number_available,
            st.updated_number_scheduled,
            st.number_unavailable
        ),
        (2, 2, 2, Some(2), Some(2), None)
    );

    // A node joins.
    c.nodes.push(node("n3", &[], &[]));
    let plan = c.plan();
    assert_eq!(nodes_of(&plan.create_pods), ["n3"]);
    assert_eq!(plan.status.desired_number_scheduled, 3);
    assert_eq!(plan.status.number_unavailable, Some(1));
    c.converge();

    // n2 gets a taint the pods do not tolerate at all (NoExecute): its pod goes.
    c.nodes[1].spec.as_mut().unwrap().taints = Some(vec![Taint {
        key: "maintenance".into(),
        effect: "NoExecute".into(),
        ..Default::default()
    }]);
    let plan = c.plan();
    assert_eq!(plan.delete_pods.len(), 1);
    assert_eq!(
        c.on("n2")[0].metadata.name,
        Some(plan.delete_pods[0].clone())
    );
    assert_eq!(plan.status.number_misscheduled, 1);
    c.converge();
    assert!(c.on("n2").is_empty());

    // A NoSchedule taint only stops new pods: n3's stays, counted misscheduled.
    c.nodes[2].spec.as_mut().unwrap().taints = Some(vec![Taint {
        key: "maintenance".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    }]);
    let plan = c.plan();
    assert!(plan.delete_pods.is_empty());
    assert_eq!(plan.status.number_misscheduled, 1);
    assert_eq!(plan.status.desired_number_scheduled, 1);

    // n1 disappears with its pod still unscheduled: the controller deletes it.
    c.converge();
    c.pods.retain(|p| target_node(p) != Some("n1"));
    c.nodes.remove(0);
    let mut ghost = new_daemon_pod(c.ds(), &c.plan().hash, "n1").unwrap();
    ghost.metadata.name = Some("agent-ghost".into());
    ghost.metadata.namespace = Some("kube-system".into());
    ghost.status = Some(PodStatus {
        phase: Some("Pending".into()),
        ..Default::default()
    });
    c.pods.push(ghost);
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["agent-ghost"]);
}

#[test]
fn extra_pods_on_a_node_keep_the_oldest() {
    let mut c = Cluster::new(daemonset(), vec![node("n1", &[], &[])]);
    c.converge();
    let hash = c.plan().hash;
    let mut extra = new_daemon_pod(c.ds(), &hash, "n1").unwrap();
    extra.metadata.name = Some("agent-extra".into());
    extra.metadata.creation_timestamp = Some(Time(at(5000)));
    c.pods.push(extra);
    c.run_pods();
    let plan = c.plan();
    assert_eq!(plan.delete_pods, ["agent-extra"]);
}

#[test]
fn failed_pods_are_replaced_with_back_off() {
    let mut c = Cluster::new(daemonset(), vec![node("n1", &[], &[])]);
    c.backoff = FailedPodBackoff::new(Duration::from_secs(10), Duration::from_secs(900));
    c.converge();
    let mut delays = Vec::new();
    for _ in 0..3 {
        let name = c.pods[0].metadata.name.clone().unwrap();
        c.pod_mut(&name).status.as_mut().unwrap().phase = Some("Failed".into());
        let plan = c.plan();
        assert_eq!(plan.delete_pods, [name]);
        assert_eq!(plan.events[0].reason, REASON_FAILED_DAEMON_POD);
        c.apply(&plan);
        c.run_pods();
        // The replacement comes on the next plan.
        let plan = c.plan();
        assert_eq!(plan.create_pods.len(), 1);
        c.apply(&plan);
        c.run_pods();
        // It fails right away: the back-off holds its deletion.
        let name = c.pods[0].metadata.name.clone().unwrap();
        c.pod_mut(&name).status.as_mut().unwrap().phase = Some("Failed".into());
        let plan = c.plan();
        assert!(plan.delete_pods.is_empty());
        let d = plan.requeue_after.unwrap();
        delays.push(d);
        c.clock += i64::try_from(d.as_secs()).unwrap() + 1;
        c.pod_mut(&name).status.as_mut().unwrap().phase = Some("Running".into());
    }
    // 10s, 20s, 40s, less the seconds the simulation spent.
    assert_eq!(delays, [9, 19, 39].map(Duration::from_secs), "{delays:?}");
}

#[test]
fn rolling_update_respects_max_unavailable() {
    let nodes: Vec<Node> = (1..=5).map(|i| node(&format!("n{i}"), &[], &[])).collect();
    let mut ds = daemonset();
    strategy(&mut ds, IntOrString::Int(2), IntOrString::Int(0));
    let mut c = Cluster::new(ds, nodes);
    c.converge();
    let old_hash = c.plan().hash;
    set_image(c.ds_mut(), "agent:2");
    let plan = c.plan();
    assert_eq!(plan.create_revisions.len(), 1);
    assert_ne!(plan.hash, old_hash);
    // Revision 2's template is the new one.
    assert_eq!(plan.create_revisions[0].revision, 2);
    assert_eq!(plan.delete_pods.len(), 2);
    assert_eq!(plan.status.updated_number_scheduled, None);
    c.apply(&plan);
    // Two unavailable (terminating pods do not count, but their nodes have no pod): wait.
    let plan = c.plan();
    assert!(plan.delete_pods.is_empty());
    let mut rounds = 0;
    while c.pods.iter().any(|p| image_of(p) != "agent:2") {
        rounds += 1;
        assert!(rounds < 20);
        c.run_pods();
        let plan = c.plan();
        // Never more than two nodes without an available pod.
        let available = c
            .pods
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && podutil::is_pod_available(p, 0, at(c.clock))
            })
            .count();
        assert!(available + plan.delete_pods.len() >= 3 || !plan.create_pods.is_empty());
        c.apply(&plan);
    }
    c.converge();
    let st = c.ds().status.clone().unwrap();
    assert_eq!(st.updated_number_scheduled, Some(5));
    assert_eq!(st.number_available, Some(5));
    assert_eq!(st.observed_generation, Some(2));
}

#[test]
fn default_strategy_replaces_one_node_at_a_time() {
    let nodes: Vec<Node> = (1..=3).map(|i| node(&format!("n{i}"), &[], &[])).collect();
    let mut c = Cluster::new(daemonset(), nodes);
    c.converge();
    set_image(c.ds_mut(), "agent:2");
    let plan = c.plan();
    assert_eq!(plan.delete_pods.len(), 1);
}

#[test]
fn surge_creates_before_deleting() {
    let nodes: Vec<Node> = (1..=2).map(|i| node(&format!("n{i}"), &[], &[])).collect();
    let mut ds = daemonset();
    strategy(&mut ds, IntOrString::Int(0), IntOrString::Int(1));
    let mut c = Cluster::new(ds, nodes);
    c.converge();
    set_image(c.ds_mut(), "agent:2");
    let plan = c.plan();
    assert!(plan.delete_pods.is_empty());
    assert_eq!(nodes_of(&plan.create_pods), ["n1"]);
    c.apply(&plan);
    // Old and new coexist on n1 until the new one is available.
    assert_eq!(c.on("n1").len(), 2);
    let plan = c.plan();
    assert!(plan.delete_pods.is_empty() && plan.create_pods.is_empty());
    c.run_pods();
    let plan = c.plan();
    let old_n1 = c
        .on("n1")
        .into_iter()
        .find(|p| image_of(p) == "agent:1")
        .unwrap()
        .metadata
        .name
        .clone()
        .unwrap();
    assert_eq!(plan.delete_pods, [old_n1]);
    c.converge();
    assert!(c.pods.iter().all(|p| image_of(p) == "agent:2"));
    assert_eq!(c.pods.len(), 2);
}

#[test]
fn on_delete_waits_for_deletions() {
    let mut ds = daemonset();
    ds.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("OnDelete".into()),
        rolling_update: None,
    });
    let mut c = Cluster::new(ds, vec![node("n1", &[], &[]), node("n2", &[], &[])]);
    c.converge();
    set_image(c.ds_mut(), "agent:2");
    c.converge();
    assert!(c.pods.iter().all(|p| image_of(p) == "agent:1"));
    assert_eq!(
        c.ds().status.as_ref().unwrap().updated_number_scheduled,
        None
    );
    let name = c.on("n1")[0].metadata.name.clone().unwrap();
    c.pod_mut(&name).metadata.deletion_timestamp = Some(Time(at(1)));
    c.run_pods();
    c.converge();
    assert_eq!(image_of(c.on("n1")[0]), "agent:2");
    assert_eq!(
        c.ds().status.as_ref().unwrap().updated_number_scheduled,
        Some(1)
    );
}

#[test]
fn revisions_rollback_cleanup_and_dedup() {
    let mut ds = daemonset();
    ds.spec.as_mut().unwrap().revision_history_limit = Some(1);
    ds.metadata.annotations = Some(labels(&[(history::CHANGE_CAUSE, "v1")]));
    let mut c = Cluster::new(ds, vec![node("n1", &[], &[])]);
    c.converge();
    let r1 = c.revisions[0].clone();
    assert_eq!(r1.revision, 1);
    assert_eq!(
        r1.metadata.name.clone().unwrap(),
        format!(
            "agent-{}",
            r1.metadata.labels.as_ref().unwrap()[history::CONTROLLER_REVISION_HASH]
        )
    );
    assert_eq!(
        r1.metadata.annotations.as_ref().unwrap()[history::CHANGE_CAUSE],
        "v1"
    );
    assert_eq!(
        history::revision_template(&r1).unwrap(),
        template("agent:1")
    );

    set_image(c.ds_mut(), "agent:2");
    c.converge();
    set_image(c.ds_mut(), "agent:3");
    c.converge();
    // Limit 1: revision 1 went, 2 is kept as history, 3 is current.
    let mut revs: Vec<i64> = c.revisions.iter().map(|r| r.revision).collect();
    revs.sort();
    assert_eq!(revs, [2, 3]);

    // `kubectl rollout undo`: back to agent:2, whose revision becomes 4.
    set_image(c.ds_mut(), "agent:2");
    let plan = c.plan();
    assert!(plan.create_revisions.is_empty());
    assert_eq!(plan.update_revisions.len(), 1);
    assert_eq!(plan.update_revisions[0].revision, 4);
    c.converge();
    assert!(c.pods.iter().all(|p| image_of(p) == "agent:2"));

    // A duplicate of the current revision (e.g. from a collision count change) is removed
    // and pods are moved onto the kept one.
    let mut dup = c
        .revisions
        .iter()
        .find(|r| r.revision == 4)
        .unwrap()
        .clone();
    dup.metadata.name = Some("agent-dup".into());
    dup.revision = 1;
    dup.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert(history::CONTROLLER_REVISION_HASH.into(), "dup".into());
    c.revisions.push(dup);
    let plan = c.plan();
    assert!(plan.delete_revisions.contains(&"agent-dup".to_string()));
    assert!(plan.update_pods.is_empty());

    // A legacy revision without the hash label gets its name as label.
    let mut legacy = c.revisions[0].clone();
    legacy.metadata.name = Some("agent-legacy".into());
    legacy
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .remove(history::CONTROLLER_REVISION_HASH);
    legacy.data = Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(
        history::revision_data(&template("agent:0")),
    ));
    c.revisions.push(legacy);
    let plan = c.plan();
    let fixed = plan
        .update_revisions
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some("agent-legacy"))
        .unwrap();
    assert_eq!(
        fixed.metadata.labels.as_ref().unwrap()[history::CONTROLLER_REVISION_HASH],
        "agent-legacy"
    );
}

#[test]
fn hash_collision_bumps_collision_count() {
    let ds = daemonset();
    let hash = pod_template_hash(&ds.spec.as_ref().unwrap().template, None);
    let mut c = Cluster::new(ds, vec![node("n1", &[], &[])]);
    let mut taken = history::testutil::revision(
        &format!("agent-{hash}"),
        &template("x"),
        1,
        "DaemonSet",
        "other",
        &[],
    );
    taken.metadata.namespace = Some("kube-system".into());
    c.revisions.push(taken);
    let plan = c.plan();
    assert_eq!(plan.status.collision_count, Some(1));
    assert_ne!(plan.hash, hash);
    assert_eq!(
        plan.create_revisions[0].metadata.name,
        Some(format!("agent-{}", plan.hash))
    );
}

#[test]
fn adopts_releases_and_ignores_deletion_and_empty_selectors() {
    let mut c = Cluster::new(daemonset(), vec![node("n1", &[], &[])]);
    c.converge();
    let name = c.pods[0].metadata.name.clone().unwrap();
    c.pod_mut(&name).metadata.owner_references = None;
    let plan = c.plan();
    assert_eq!(plan.adopt_pods, std::slice::from_ref(&name));
    assert!(plan.create_pods.is_empty());
    c.apply(&plan);
    c.pod_mut(&name)
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("app".into(), "other".into());
    let plan = c.plan();
    assert_eq!(plan.release_pods, [name]);
    assert_eq!(plan.create_pods.len(), 1);

    let mut gone = c.ds().clone();
    gone.metadata.deletion_timestamp = Some(Time(at(1)));
    let plan = plan_daemonset(&gone, &c.nodes, &c.pods, &c.revisions, &c.backoff, at(9)).unwrap();
    assert!(plan.create_pods.is_empty() && !plan.status_changed);

    let mut all = c.ds().clone();
    all.spec.as_mut().unwrap().selector = LabelSelector::default();
    let plan = plan_daemonset(&all, &c.nodes, &c.pods, &c.revisions, &c.backoff, at(9)).unwrap();
    assert_eq!(plan.events[0].reason, REASON_SELECTING_ALL);
    assert!(plan.create_pods.is_empty());
}

#[test]
fn min_ready_seconds_requeues_and_steady_state_is_quiet() {
    let mut ds = daemonset();
    ds.spec.as_mut().unwrap().min_ready_seconds = Some(30);
    let mut c = Cluster::new(ds, vec![node("n1", &[], &[])]);
    let plan = c.plan();
    c.apply(&plan);
    c.run_pods();
    let plan = c.plan();
    assert_eq!(plan.status.number_ready, 1);
    assert_eq!(plan.status.number_available, None);
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(31)));
    c.apply(&plan);
    c.clock += 40;
    let plan = c.plan();
    assert_eq!(plan.status.number_available, Some(1));
    c.apply(&plan);
    let plan = c.plan();
    assert_eq!(
        plan,
        DaemonSetPlan {
            status: c.ds().status.clone().unwrap(),
            hash: plan.hash.clone(),
            ..Default::default()
        }
    );
    let unsynced = plan.unsynced_status(Some(&DaemonSetStatus::default()));
    assert_eq!(unsynced.observed_generation, None);
}

#[test]
fn backoff_doubles_and_expires() {
    let mut b = FailedPodBackoff::default();
    assert_eq!(b.remaining("k", at(0)), None);
    b.next("k", at(0));
    assert_eq!(b.remaining("k", at(0)), Some(Duration::from_secs(1)));
    b.next("k", at(1));
    assert_eq!(b.remaining("k", at(1)), Some(Duration::from_secs(2)));
    b.next("k", at(3));
    assert_eq!(b.remaining("k", at(4)), Some(Duration::from_secs(3)));
    // Idle for over 30 minutes: starts again.
    b.next("k", at(3 + 1801));
    assert_eq!(b.remaining("k", at(3 + 1801)), Some(Duration::from_secs(1)));
    b.gc(at(10_000));
    assert_eq!(b.remaining("k", at(10_000)), None);
}
