//! The Deployment plan's specification, mostly by simulation: a small in-memory cluster
//! (Deployment, ReplicaSets, pods) where the plan is applied, the ReplicaSet plan runs for
//! every ReplicaSet, a fake kubelet makes pods ready and finishes deletions, and the
//! Deployment is planned again, until `kubectl rollout status` would report success.

use super::super::podutil::testutil::at;
use super::super::replicaset::{new_pod_for_replicaset, plan_replicaset};
use super::*;
use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus};

const D_UID: &str = "d-uid";

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

fn rolling(surge: IntOrString, unavailable: IntOrString) -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
        }),
    }
}

fn recreate() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    }
}

fn deployment(replicas: i32, strategy: DeploymentStrategy) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some(D_UID.into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "web")])),
                match_expressions: None,
            },
            template: template("nginx:1"),
            strategy: Some(strategy),
            ..Default::default()
        }),
        status: None,
    }
}

/// `kubectl rollout status` (`DeploymentStatusViewer`): Ok(true) when rolled out.
fn kubectl_rollout_status(d: &Deployment) -> Result<bool, String> {
    let st = d.status.clone().unwrap_or_default();
    let g = |v: Option<i32>| v.unwrap_or(0);
    if d.metadata.generation.unwrap_or(0) > st.observed_generation.unwrap_or(0) {
        return Ok(false);
    }
    if let Some(c) = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Err(format!(
            "deployment {:?} exceeded its progress deadline",
            "web"
        ));
    }
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    Ok(!(g(st.updated_replicas) < replicas
        || g(st.replicas) > g(st.updated_replicas)
        || g(st.available_replicas) < g(st.updated_replicas)))
}

struct World {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    pods: Vec<Pod>,
    now: i64,
    next: u32,
    /// Steps a deleted pod lingers (terminating) before it is gone.
    grace: i64,
    plans: Vec<DeploymentPlan>,
}

impl World {
    fn new(d: Deployment) -> World {
        World {
            d,
            rss: Vec::new(),
            pods: Vec::new(),
            now: 0,
            next: 0,
            grace: 0,
            plans: Vec::new(),
        }
    }

    fn spec_mut(&mut self) -> &mut DeploymentSpec {
        self.d.metadata.generation = Some(self.d.metadata.generation.unwrap_or(0) + 1);
        self.d.spec.as_mut().unwrap()
    }

    fn plan(&self) -> DeploymentPlan {
        plan_deployment(&self.d, &self.rss, &self.pods, at(self.now)).unwrap()
    }

    fn apply(&mut self, plan: &DeploymentPlan) {
        for name in &plan.adopt_rs {
            let d = deployment_controller_ref(&self.d);
            let rs = self.rss.iter_mut().find(|r| rs_name(r) == name).unwrap();
            rs.metadata.owner_references = Some(vec![d]);
        }
        for name in &plan.release_rs {
            let rs = self.rss.iter_mut().find(|r| rs_name(r) == name).unwrap();
            rs.metadata.owner_references = None;
        }
        if let Some(rs) = &plan.create_rs {
            assert!(
                self.rss.iter().all(|r| rs_name(r) != rs_name(rs)),
                "AlreadyExists"
            );
            let mut rs = rs.clone();
            self.next += 1;
            rs.metadata.uid = Some(format!("rs-uid-{}", self.next));
            rs.metadata.creation_timestamp = Some(Time(at(self.now)));
            rs.metadata.generation = Some(1);
            self.rss.push(rs);
        }
        for u in &plan.update_rs {
            let cur = self
                .rss
                .iter_mut()
                .find(|r| rs_name(r) == rs_name(u))
                .unwrap();
            let generation = cur.metadata.generation.unwrap_or(1) + i64::from(cur.spec != u.spec);
            *cur = u.clone();
            cur.metadata.generation = Some(generation);
        }
        self.rss
            .retain(|r| !plan.delete_rs.contains(&rs_name(r).to_string()));
        if let Some(a) = &plan.deployment_annotations {
            self.d.metadata.annotations = Some(a.clone());
        }
        self.d.status = Some(plan.status.clone());
    }

    /// The ReplicaSet controller, once over every ReplicaSet.
    fn sync_replicasets(&mut self) {
        for i in 0..self.rss.len() {
            let plan = plan_replicaset(&self.rss[i], &self.pods, at(self.now)).unwrap();
            assert!(plan.adopt.is_empty() && plan.release.is_empty());
            for _ in 0..plan.create {
                let mut p = new_pod_for_replicaset(&self.rss[i]).unwrap();
                self.next += 1;
                p.metadata.name = Some(format!("{}-{}", rs_name(&self.rss[i]), self.next));
                p.metadata.uid = Some(format!("pod-uid-{}", self.next));
                p.metadata.creation_timestamp = Some(Time(at(self.now)));
                p.status = Some(PodStatus {
                    phase: Some("Pending".into()),
                    ..Default::default()
                });
                self.pods.push(p);
            }
            for name in &plan.delete {
                let p = self
                    .pods
                    .iter_mut()
                    .find(|p| p.metadata.name.as_deref() == Some(name))
                    .unwrap();
                p.metadata.deletion_timestamp = Some(Time(at(self.now)));
            }
            self.rss[i].status = Some(plan.status);
        }
    }

    /// Finishes deletions older than `grace` steps; starts healthy pending pods (images
    /// without "bad") as ready.
    fn kubelet(&mut self) {
        let now = self.now;
        let grace = self.grace;
        self.pods.retain(|p| {
            p.metadata
                .deletion_timestamp
                .as_ref()
                .is_none_or(|t| t.0 > at(now - grace - 1))
        });
        for p in &mut self.pods {
            let image = p.spec.as_ref().unwrap().containers[0]
                .image
                .clone()
                .unwrap_or_default();
            let st = p.status.as_mut().unwrap();
            if st.phase.as_deref() == Some("Pending") && !image.contains("bad") {
                p.spec.as_mut().unwrap().node_name = Some("n1".into());
                st.phase = Some("Running".into());
                st.conditions = Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at(now))),
                    ..Default::default()
                }]);
            }
        }
    }

    /// One round: kubelet, ReplicaSets, Deployment, ReplicaSets.
    fn step(&mut self) -> DeploymentPlan {
        self.kubelet();
        self.sync_replicasets();
        let plan = self.plan();
        self.apply(&plan);
        self.sync_replicasets();
        self.now += 1;
        self.plans.push(plan.clone());
        plan
    }

    /// Steps until rolled out; each step's world is checked by `check`.
    fn roll_out(&mut self, check: &mut dyn FnMut(&World)) -> usize {
        for n in 1..200 {
            self.step();
            check(self);
            if kubectl_rollout_status(&self.d) == Ok(true) {
                return n;
            }
        }
        panic!("no rollout: {:#?}", self.d.status);
    }

    fn live_pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
    }

    fn pods_of_template(&self, image: &str) -> usize {
        self.pods
            .iter()
            .filter(|p| p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some(image))
            .count()
    }

    fn condition(&self, type_: &str) -> DeploymentCondition {
        self.d
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| get_condition(c, type_))
            .cloned()
            .unwrap_or_else(|| panic!("no {type_} condition"))
    }

    fn revision_of(&self, image: &str) -> String {
        let rs = self
            .rss
            .iter()
            .find(|r| rs_template(r).spec.unwrap().containers[0].image.as_deref() == Some(image))
            .unwrap();
        annotation(&rs.metadata, REVISION).unwrap().to_string()
    }
}

fn set_image(w: &mut World, image: &str) {
    w.spec_mut().template = template(image);
}

fn int(i: i32) -> IntOrString {
    IntOrString::Int(i)
}

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

#[test]
fn first_rollout_creates_the_new_replicaset() {
    let mut w = World::new(deployment(3, rolling(pct("25%"), pct("25%"))));
    let plan = w.plan();
    let rs = plan.create_rs.clone().unwrap();
    let hash = pod_template_hash(&template("nginx:1"), None);
    assert_eq!(rs_name(&rs), format!("web-{hash}"));
    assert!(hash.len() <= 10 && hash.bytes().all(|b| SAFE_ALPHANUMS.contains(&b)));
    assert_eq!(
        rs.metadata.labels.as_ref().unwrap()[POD_TEMPLATE_HASH],
        hash
    );
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap()[POD_TEMPLATE_HASH],
        hash
    );
    assert_eq!(
        spec.template
            .as_ref()
            .unwrap()
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap()[POD_TEMPLATE_HASH],
        hash
    );
    assert_eq!(spec.replicas, Some(3));
    let ann = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann[REVISION], "1");
    assert_eq!(ann[DESIRED_REPLICAS], "3");
    assert_eq!(ann[MAX_REPLICAS], "4");
    let owner = podutil::controller_ref(&rs.metadata).unwrap();
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Deployment", D_UID)
    );
    assert_eq!(plan.deployment_annotations.as_ref().unwrap()[REVISION], "1");
    assert_eq!(
        plan.events[0].message,
        format!("Scaled up replica set web-{hash} from 0 to 3")
    );
    let c = get_condition(plan.status.conditions.as_ref().unwrap(), PROGRESSING).unwrap();
    assert_eq!(c.reason.as_deref(), Some(REASON_NEW_RS_CREATED));
    assert_eq!(
        c.message.as_deref(),
        Some(format!("Created new replica set \"web-{hash}\"").as_str())
    );
    assert_eq!(plan.status.observed_generation, Some(1));

    w.roll_out(&mut |_| {});
    let c = w.condition(PROGRESSING);
    assert_eq!(c.reason.as_deref(), Some(REASON_NEW_RS_AVAILABLE));
    assert_eq!(
        c.message.as_deref(),
        Some(format!("ReplicaSet \"web-{hash}\" has successfully progressed.").as_str())
    );
    let a = w.condition(AVAILABLE);
    assert_eq!(
        (a.status.as_str(), a.reason.as_deref()),
        ("True", Some(REASON_MIN_AVAILABLE))
    );
    // Steady state: nothing to do.
    w.step();
    let plan = w.step();
    assert!(plan.create_rs.is_none() && plan.update_rs.is_empty() && plan.delete_rs.is_empty());
    assert!(!plan.status_changed);
    assert_eq!(plan.requeue_after, None);
}

/// Rolls out a new template step by step and checks, at every step, that no more than
/// `replicas + maxSurge` pods exist and no fewer than `replicas - maxUnavailable` are
/// available.
fn rolling_update_respects_bounds(
    replicas: i32,
    surge: IntOrString,
    unavailable: IntOrString,
) -> World {
    let mut w = World::new(deployment(
        replicas,
        rolling(surge.clone(), unavailable.clone()),
    ));
    w.roll_out(&mut |_| {});
    let (max_surge, max_unavailable) = {
        let (s, u) = resolve_fenceposts(&surge, &unavailable, replicas).unwrap();
        (s, u.min(replicas))
    };
    set_image(&mut w, "nginx:2");
    let mut saw_both = false;
    let steps = w.roll_out(&mut |w| {
        let live = w.live_pods().count();
        let available = w.live_pods().filter(|p| podutil::is_pod_ready(p)).count();
        let (lo, hi) = (replicas - max_unavailable, replicas + max_surge);
        assert!(
            i32::try_from(live).unwrap() <= hi,
            "{live} pods > {hi} at t={}",
            w.now
        );
        assert!(
            i32::try_from(available).unwrap() >= lo,
            "{available} available < {lo} at t={}",
            w.now
        );
        saw_both |= w.pods_of_template("nginx:1") > 0 && w.pods_of_template("nginx:2") > 0;
    });
    assert!(saw_both || replicas == 1, "the update was not rolling");
    assert!(steps > 1);
    assert_eq!(w.pods_of_template("nginx:1"), 0);
    assert_eq!(w.live_pods().count(), usize::try_from(replicas).unwrap());
    assert_eq!(w.revision_of("nginx:1"), "1");
    assert_eq!(w.revision_of("nginx:2"), "2");
    assert_eq!(w.d.metadata.annotations.as_ref().unwrap()[REVISION], "2");
    w
}

#[test]
fn rolling_update_absolute_bounds() {
    let w = rolling_update_respects_bounds(10, int(3), int(2));
    let st = w.d.status.clone().unwrap();
    assert_eq!(
        (
            st.replicas,
            st.updated_replicas,
            st.ready_replicas,
            st.available_replicas
        ),
        (Some(10), Some(10), Some(10), Some(10))
    );
    assert_eq!(st.unavailable_replicas, None);
    // The old ReplicaSet is kept (history limit 10) at 0 replicas.
    assert_eq!(w.rss.len(), 2);
}

#[test]
fn rolling_update_percentages_and_edges() {
    rolling_update_respects_bounds(4, pct("25%"), pct("25%"));
    rolling_update_respects_bounds(10, pct("30%"), pct("0%"));
    // Surge only / unavailability only.
    rolling_update_respects_bounds(3, int(1), int(0));
    rolling_update_respects_bounds(3, int(0), int(1));
    // Both round to 0: maxUnavailable becomes 1.
    rolling_update_respects_bounds(2, pct("10%"), pct("10%"));
    rolling_update_respects_bounds(1, int(0), int(1));
}

#[test]
fn fenceposts_round_as_upstream() {
    assert_eq!(
        resolve_fenceposts(&pct("25%"), &pct("25%"), 10).unwrap(),
        (3, 2)
    );
    assert_eq!(
        resolve_fenceposts(&pct("1%"), &pct("1%"), 2).unwrap(),
        (1, 0)
    );
    assert_eq!(
        resolve_fenceposts(&pct("0%"), &pct("1%"), 2).unwrap(),
        (0, 1)
    );
    assert_eq!(resolve_fenceposts(&int(0), &int(0), 5).unwrap(), (0, 1));
    assert!(resolve_fenceposts(&pct("x%"), &int(0), 5).is_err());
    assert!(resolve_fenceposts(&pct("5"), &int(0), 5).is_err());
    let mut d = deployment(3, rolling(pct("abc"), int(1)));
    assert!(matches!(
        plan_deployment(&d, &[], &[], at(0)),
        Err(Error::InvalidIntOrPercent(_))
    ));
    d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
        type_: Some("BlueGreen".into()),
        rolling_update: None,
    });
    assert!(matches!(
        plan_deployment(&d, &[], &[], at(0)),
        Err(Error::UnsupportedStrategy(_))
    ));
}

#[test]
fn recreate_waits_for_old_pods_to_go() {
    let mut w = World::new(deployment(3, recreate()));
    w.grace = 3;
    w.roll_out(&mut |_| {});
    w.plans.clear();
    set_image(&mut w, "nginx:2");
    let plan = w.step();
    // Old scaled to 0, the new ReplicaSet not created yet.
    assert!(plan.create_rs.is_none());
    assert_eq!(rs_replicas(&plan.update_rs[0]), 0);
    w.roll_out(&mut |w| {
        // Never old and new pods at once, terminating ones included.
        assert!(w.pods_of_template("nginx:1") == 0 || w.pods_of_template("nginx:2") == 0);
    });
    let created = w.plans.iter().position(|p| p.create_rs.is_some()).unwrap();
    assert!(
        created >= 4,
        "created the new ReplicaSet while old pods ran"
    );
    assert_eq!(rs_replicas(w.plans[created].create_rs.as_ref().unwrap()), 3);
    assert_eq!(
        annotation(
            &w.plans[created].create_rs.as_ref().unwrap().metadata,
            MAX_REPLICAS
        ),
        Some("3")
    );
}

#[test]
fn rollout_undo_bumps_the_old_revision() {
    let mut w = World::new(deployment(3, rolling(int(1), int(0))));
    w.roll_out(&mut |_| {});
    set_image(&mut w, "nginx:2");
    w.roll_out(&mut |_| {});
    assert_eq!(w.rss.len(), 2);

    // `kubectl rollout undo`: the template of revision 1, without its hash label.
    let mut t = rs_template(
        w.rss
            .iter()
            .find(|r| annotation(&r.metadata, REVISION) == Some("1"))
            .unwrap(),
    );
    t.metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .remove(POD_TEMPLATE_HASH);
    w.spec_mut().template = t;
    let plan = w.plan();
    assert!(plan.create_rs.is_none());
    let bumped = plan
        .update_rs
        .iter()
        .find(|r| annotation(&r.metadata, REVISION) == Some("3"))
        .unwrap();
    assert_eq!(annotation(&bumped.metadata, REVISION_HISTORY), Some("1"));
    w.roll_out(&mut |_| {});
    assert_eq!(w.rss.len(), 2);
    assert_eq!(w.revision_of("nginx:1"), "3");
    assert_eq!(w.d.metadata.annotations.as_ref().unwrap()[REVISION], "3");
    assert_eq!(w.pods_of_template("nginx:2"), 0);

    // And back again: revision 2 becomes 4, its history "2".
    set_image(&mut w, "nginx:2");
    w.roll_out(&mut |_| {});
    let rs2 = w
        .rss
        .iter()
        .find(|r| annotation(&r.metadata, REVISION) == Some("4"))
        .unwrap();
    assert_eq!(annotation(&rs2.metadata, REVISION_HISTORY), Some("2"));
}

#[test]
fn revision_history_is_capped() {
    let mut w = World::new(deployment(1, rolling(int(1), int(0))));
    let mut rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some("x".into()),
            annotations: Some(BTreeMap::from([
                (REVISION.to_string(), "99999".to_string()),
                (
                    REVISION_HISTORY.to_string(),
                    (0..800)
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ])),
            ..Default::default()
        },
        ..Default::default()
    };
    w.d.metadata.annotations = None;
    let p = Planner {
        d: &w.d,
        name: "web".into(),
        uid: D_UID.into(),
        spec: resolve_spec(&w.d).unwrap(),
        now: at(0),
        old: Default::default(),
        conds: vec![],
        collision_count: None,
        annotations: BTreeMap::new(),
        rss: vec![],
        namespace_rss: &[],
        pods: vec![],
        next_dirty: 0,
        events: vec![],
        requeue_after: None,
        base_status: None,
    };
    assert!(p.set_new_rs_annotations(&mut rs, 100_000, true));
    let h = annotation(&rs.metadata, REVISION_HISTORY).unwrap();
    assert!(h.len() <= MAX_REV_HISTORY_CHARS);
    assert!(h.ends_with(",99999"));
    assert!(!h.starts_with("0,"));
}

#[test]
fn change_cause_reaches_the_history() {
    let mut w = World::new(deployment(2, rolling(int(1), int(0))));
    w.d.metadata.annotations = Some(BTreeMap::from([(
        CHANGE_CAUSE.to_string(),
        "kubectl create deployment web".to_string(),
    )]));
    w.roll_out(&mut |_| {});
    w.d.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(CHANGE_CAUSE.into(), "kubectl set image web=nginx:2".into());
    set_image(&mut w, "nginx:2");
    w.roll_out(&mut |_| {});
    // `kubectl rollout history`: revision → change-cause, from the owned ReplicaSets.
    let history: BTreeMap<i64, String> = w
        .rss
        .iter()
        .filter(|r| podutil::is_controlled_by(&r.metadata, D_UID))
        .map(|r| {
            (
                revision(r).unwrap(),
                annotation(&r.metadata, CHANGE_CAUSE)
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        history,
        BTreeMap::from([
            (1, "kubectl create deployment web".to_string()),
            (2, "kubectl set image web=nginx:2".to_string())
        ])
    );
    // Skipped annotations are not copied.
    let rs = w.rss.iter().find(|r| revision(r) == Some(1)).unwrap();
    assert_eq!(annotation(&rs.metadata, REVISION), Some("1"));
}

#[test]
fn pause_and_resume() {
    let mut w = World::new(deployment(3, rolling(int(1), int(0))));
    w.roll_out(&mut |_| {});
    w.spec_mut().paused = Some(true);
    set_image(&mut w, "nginx:2");
    for _ in 0..3 {
        let plan = w.step();
        assert!(plan.create_rs.is_none());
    }
    let c = w.condition(PROGRESSING);
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref(), c.message.as_deref()),
        ("Unknown", Some(REASON_PAUSED), Some("Deployment is paused"))
    );
    assert_eq!(
        w.d.status.as_ref().unwrap().observed_generation,
        w.d.metadata.generation
    );
    assert_eq!(w.pods_of_template("nginx:2"), 0);
    // `kubectl rollout status` waits: nothing updated.
    assert_eq!(kubectl_rollout_status(&w.d), Ok(false));

    // Scaling while paused still happens.
    w.spec_mut().replicas = Some(5);
    w.step();
    w.step();
    assert_eq!(w.live_pods().count(), 5);
    assert_eq!(w.pods_of_template("nginx:2"), 0);

    // Resume: the rollout proceeds; the paused condition does not time out.
    w.now += 10_000;
    w.spec_mut().paused = Some(false);
    let plan = w.step();
    assert!(plan.create_rs.is_some());
    w.roll_out(&mut |_| {});
    assert_eq!(w.pods_of_template("nginx:1"), 0);
    assert_eq!(w.live_pods().count(), 5);
    assert_eq!(
        w.condition(PROGRESSING).reason.as_deref(),
        Some(REASON_NEW_RS_AVAILABLE)
    );
}

#[test]
fn resume_restarts_the_progress_clock() {
    let mut d = deployment(2, rolling(int(1), int(0)));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(30);
    let mut w = World::new(d);
    w.roll_out(&mut |_| {});
    set_image(&mut w, "nginx:bad");
    for _ in 0..4 {
        w.step();
    }
    w.spec_mut().paused = Some(true);
    w.step();
    // Paused for longer than the deadline: no timeout.
    w.now += 1_000;
    w.step();
    assert_eq!(
        w.condition(PROGRESSING).reason.as_deref(),
        Some(REASON_PAUSED)
    );
    w.spec_mut().paused = Some(false);
    let plan = w.plan();
    let c = get_condition(plan.status.conditions.as_ref().unwrap(), PROGRESSING).unwrap();
    // Still stuck: the resumed condition stays, and the deadline counts from now.
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref(), c.message.as_deref()),
        (
            "Unknown",
            Some(REASON_RESUMED),
            Some("Deployment is resumed")
        )
    );
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(31)));

    // Paused with nothing to roll out, then resumed: back to complete.
    set_image(&mut w, "nginx:1");
    w.roll_out(&mut |_| {});
    w.spec_mut().paused = Some(true);
    w.step();
    w.spec_mut().paused = Some(false);
    w.step();
    assert_eq!(
        w.condition(PROGRESSING).reason.as_deref(),
        Some(REASON_NEW_RS_AVAILABLE)
    );
}

#[test]
fn history_limit_cleans_up_oldest_first() {
    let mut d = deployment(1, rolling(int(1), int(0)));
    d.spec.as_mut().unwrap().revision_history_limit = Some(2);
    let mut w = World::new(d);
    w.roll_out(&mut |_| {});
    for v in 2..=5 {
        set_image(&mut w, &format!("nginx:{v}"));
        w.roll_out(&mut |w| assert!(w.rss.len() <= 4));
        w.step();
        w.step();
    }
    let mut revs: Vec<i64> = w.rss.iter().map(|r| revision(r).unwrap()).collect();
    revs.sort();
    assert_eq!(revs, [3, 4, 5]);
    // A deleted ReplicaSet was deleted once, at 0 replicas.
    let deleted: Vec<&String> = w.plans.iter().flat_map(|p| &p.delete_rs).collect();
    assert_eq!(deleted.len(), 2);
}

#[test]
fn cleanup_skips_replicasets_with_pods_and_runs_while_paused() {
    let mut d = deployment(1, rolling(int(1), int(0)));
    d.spec.as_mut().unwrap().revision_history_limit = Some(0);
    let mut w = World::new(d);
    w.roll_out(&mut |_| {});
    set_image(&mut w, "nginx:2");
    // Mid-rollout: the old ReplicaSet still has pods, it is not deleted.
    let mut saw_old_with_pods = false;
    w.roll_out(&mut |w| {
        let old = w.rss.iter().find(|r| revision(r) == Some(1));
        if old.is_some_and(|r| rs_status_replicas(r) > 0) {
            saw_old_with_pods = true;
        }
    });
    assert!(saw_old_with_pods);
    w.step();
    w.step();
    assert_eq!(w.rss.len(), 1);

    // Paused (upstream cleans up in the paused sync too).
    set_image(&mut w, "nginx:3");
    w.roll_out(&mut |_| {});
    w.spec_mut().paused = Some(true);
    w.step();
    assert_eq!(w.rss.len(), 1);
}

#[test]
fn progress_deadline_exceeded() {
    let mut d = deployment(2, rolling(int(1), int(0)));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(30);
    let mut w = World::new(d);
    w.roll_out(&mut |_| {});
    set_image(&mut w, "nginx:bad");
    for _ in 0..5 {
        w.step();
    }
    let c = w.condition(PROGRESSING);
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("True", Some(REASON_RS_UPDATED))
    );
    let last = c.last_update_time.clone().unwrap().0;
    let plan = w.plan();
    let expected = podutil::duration_between(at(w.now), podutil::add_seconds(last, 30))
        + Duration::from_secs(1);
    assert_eq!(plan.requeue_after, Some(expected));
    assert_eq!(kubectl_rollout_status(&w.d), Ok(false));

    w.now += 60;
    w.step();
    let c = w.condition(PROGRESSING);
    let new_rs = w
        .rss
        .iter()
        .find(|r| revision(r) == Some(2))
        .map(|r| rs_name(r).to_string())
        .unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref(), c.message.clone()),
        (
            "False",
            Some(REASON_TIMED_OUT),
            Some(format!("ReplicaSet {new_rs:?} has timed out progressing."))
        )
    );
    assert!(
        kubectl_rollout_status(&w.d)
            .unwrap_err()
            .contains("exceeded its progress deadline")
    );
    assert_eq!(w.plan().requeue_after, None);
    // The old pods still serve (maxUnavailable 0).
    assert_eq!(w.pods_of_template("nginx:1"), 2);

    // A fix rolls out again.
    set_image(&mut w, "nginx:3");
    w.roll_out(&mut |_| {});
    assert_eq!(
        w.condition(PROGRESSING).reason.as_deref(),
        Some(REASON_NEW_RS_AVAILABLE)
    );
}

#[test]
fn proportional_scaling_mid_rollout() {
    let mut w = World::new(deployment(10, rolling(int(3), int(2))));
    w.roll_out(&mut |_| {});
    set_image(&mut w, "nginx:bad");
    for _ in 0..6 {
        w.step();
    }
    let size =
        |w: &World, rev: i64| rs_replicas(w.rss.iter().find(|r| revision(r) == Some(rev)).unwrap());
    // Upstream's example: 8 old + 5 new (maxSurge 3), stuck on the new pods.
    assert_eq!((size(&w, 1), size(&w, 2)), (8, 5));

    w.spec_mut().replicas = Some(15);
    let plan = w.plan();
    let sizes: BTreeMap<i64, i64> = plan
        .update_rs
        .iter()
        .map(|r| (revision(r).unwrap(), rs_replicas(r)))
        .collect();
    assert_eq!(sizes, BTreeMap::from([(1, 11), (2, 7)]));
    for r in &plan.update_rs {
        assert_eq!(annotation(&r.metadata, DESIRED_REPLICAS), Some("15"));
        assert_eq!(annotation(&r.metadata, MAX_REPLICAS), Some("18"));
    }
    assert!(
        plan.events
            .iter()
            .any(|e| e.message.contains("from 8 to 11"))
    );
    w.apply(&plan);
    // No longer a scaling event: the rollout goes on from there.
    assert!(
        w.plan()
            .update_rs
            .iter()
            .all(|r| annotation(&r.metadata, DESIRED_REPLICAS) == Some("15"))
    );

    // Scaling down splits the other way.
    w.spec_mut().replicas = Some(5);
    let plan = w.plan();
    let sizes: BTreeMap<i64, i64> = plan
        .update_rs
        .iter()
        .map(|r| (revision(r).unwrap(), rs_replicas(r)))
        .collect();
    // 5 + maxSurge 3, split 11:7 → 5:3.
    assert_eq!(sizes, BTreeMap::from([(1, 5), (2, 3)]));
}

#[test]
fn scaling_event_with_a_single_replicaset() {
    let mut w = World::new(deployment(2, rolling(pct("25%"), pct("25%"))));
    w.roll_out(&mut |_| {});
    w.spec_mut().replicas = Some(6);
    let plan = w.plan();
    assert_eq!(plan.update_rs.len(), 1);
    assert_eq!(rs_replicas(&plan.update_rs[0]), 6);
    assert_eq!(
        annotation(&plan.update_rs[0].metadata, DESIRED_REPLICAS),
        Some("6")
    );
    assert_eq!(
        annotation(&plan.update_rs[0].metadata, MAX_REPLICAS),
        Some("8")
    );
    w.roll_out(&mut |_| {});
    assert_eq!(w.live_pods().count(), 6);
    w.spec_mut().replicas = Some(0);
    w.roll_out(&mut |_| {});
    assert_eq!(w.live_pods().count(), 0);
}

#[test]
fn adopts_and_releases_replicasets() {
    let mut w = World::new(deployment(1, rolling(int(1), int(0))));
    w.roll_out(&mut |_| {});
    let owned_name = rs_name(&w.rss[0]).to_string();
    // An orphan matching the selector, one owned that no longer matches, one of another
    // controller.
    let mut orphan = w.rss[0].clone();
    orphan.metadata.name = Some("orphan".into());
    orphan.metadata.uid = Some("orphan-uid".into());
    orphan.metadata.owner_references = None;
    orphan.spec.as_mut().unwrap().replicas = Some(0);
    orphan.status = None;
    let mut foreign = orphan.clone();
    foreign.metadata.name = Some("foreign".into());
    foreign.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "other".into(),
            uid: "other".into(),
            controller: Some(true),
            block_owner_deletion: None,
        },
    ]);
    w.rss.push(orphan);
    w.rss.push(foreign);
    w.rss[0].metadata.labels = Some(labels(&[("app", "other")]));
    let plan = w.plan();
    assert_eq!(plan.adopt_rs, ["orphan"]);
    assert_eq!(plan.release_rs, [owned_name]);

    // Being deleted: neither, and only the status.
    w.d.metadata.deletion_timestamp = Some(Time(at(0)));
    let plan = w.plan();
    assert!(plan.adopt_rs.is_empty() && plan.release_rs.is_empty());
    assert!(plan.create_rs.is_none() && plan.update_rs.is_empty());
}

#[test]
fn hash_collision_bumps_collision_count() {
    let d = deployment(1, rolling(int(1), int(0)));
    let hash = pod_template_hash(&template("nginx:1"), None);
    let squatter = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("web-{hash}")),
            namespace: Some("default".into()),
            uid: Some("squat".into()),
            labels: Some(labels(&[("app", "db")])),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            template: Some(template("redis")),
            ..Default::default()
        }),
        status: None,
    };
    let mut w = World::new(d);
    w.rss.push(squatter);
    let plan = w.plan();
    assert!(plan.create_rs.is_none());
    assert_eq!(plan.status.collision_count, Some(1));
    assert!(plan.status_changed);
    w.apply(&plan);
    let plan = w.plan();
    let rs = plan.create_rs.unwrap();
    assert_ne!(rs_name(&rs), format!("web-{hash}"));
    assert_eq!(
        rs_name(&rs),
        format!("web-{}", pod_template_hash(&template("nginx:1"), Some(1)))
    );
}

#[test]
fn template_equality_and_hash_ignore_empty_fields() {
    let a = template("nginx:1");
    let mut b = a.clone();
    b.metadata.as_mut().unwrap().annotations = Some(BTreeMap::new());
    b.spec.as_mut().unwrap().volumes = Some(vec![]);
    b.metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(POD_TEMPLATE_HASH.into(), "abc".into());
    assert!(equal_ignore_hash(&a, &b));
    assert!(!equal_ignore_hash(&a, &template("nginx:2")));
    assert_eq!(
        pod_template_hash(&a, None),
        pod_template_hash(&a.clone(), None)
    );
    assert_ne!(pod_template_hash(&a, None), pod_template_hash(&a, Some(1)));
    assert_ne!(
        pod_template_hash(&a, None),
        pod_template_hash(&template("nginx:2"), None)
    );
    assert_eq!(safe_encode("0123456789"), "456789bcdf");
}

#[test]
fn status_counts() {
    let mut w = World::new(deployment(4, rolling(int(1), int(1))));
    w.roll_out(&mut |_| {});
    set_image(&mut w, "nginx:bad");
    w.step();
    w.step();
    w.step();
    let st = w.d.status.clone().unwrap();
    // Old: 3 ready (one scaled down), new: 2 pods never ready.
    let g = |v: Option<i32>| v.unwrap_or(0);
    assert_eq!(g(st.replicas), 5);
    assert_eq!(g(st.updated_replicas), 2);
    assert_eq!(g(st.ready_replicas), 3);
    assert_eq!(g(st.available_replicas), 3);
    assert_eq!(g(st.unavailable_replicas), 2);
    assert_eq!(st.observed_generation, Some(2));
    let a = w.condition(AVAILABLE);
    assert_eq!(a.status, "True"); // 3 >= 4 - 1
    assert_eq!(
        a.message.as_deref(),
        Some("Deployment has minimum availability.")
    );
}

#[test]
fn availability_condition_flips_when_pods_fail() {
    let mut w = World::new(deployment(2, rolling(int(0), int(1))));
    w.roll_out(&mut |_| {});
    for p in &mut w.pods {
        p.status.as_mut().unwrap().phase = Some("Failed".into());
        p.status.as_mut().unwrap().conditions = None;
    }
    w.sync_replicasets();
    // Replacements are pending: the RS reports 0 available.
    let plan = w.plan();
    let a = get_condition(plan.status.conditions.as_ref().unwrap(), AVAILABLE).unwrap();
    assert_eq!(
        (a.status.as_str(), a.reason.as_deref(), a.message.as_deref()),
        (
            "False",
            Some(REASON_MIN_UNAVAILABLE),
            Some("Deployment does not have minimum availability.")
        )
    );
}

#[test]
fn replica_failure_surfaces_on_the_deployment() {
    let mut w = World::new(deployment(2, rolling(int(1), int(0))));
    w.roll_out(&mut |_| {});
    let rs = &mut w.rss[0];
    let st = rs.status.clone().unwrap();
    rs.status = Some(super::super::replicaset::with_failure(
        st,
        None,
        super::super::replicaset::ReplicaFailureReason::FailedCreate,
        "exceeded quota",
        at(1),
    ));
    let plan = w.plan();
    let f = get_condition(plan.status.conditions.as_ref().unwrap(), REPLICA_FAILURE).unwrap();
    assert_eq!(
        (f.reason.as_deref(), f.message.as_deref()),
        (Some("FailedCreate"), Some("exceeded quota"))
    );
}

#[test]
fn create_failure_status() {
    let w = World::new(deployment(2, rolling(int(1), int(0))));
    let plan = w.plan();
    let (st, ev) = plan.create_failed("quota exceeded", at(1));
    let c = get_condition(st.conditions.as_ref().unwrap(), PROGRESSING).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some(REASON_RS_CREATE_ERROR))
    );
    assert!(
        c.message
            .as_deref()
            .unwrap()
            .starts_with("Failed to create new replica set \"web-")
    );
    assert_eq!((ev.type_, ev.reason), ("Warning", REASON_RS_CREATE_ERROR));
}

#[test]
fn selecting_everything_only_observes() {
    let mut d = deployment(2, rolling(int(1), int(0)));
    d.spec.as_mut().unwrap().selector = LabelSelector::default();
    d.metadata.generation = Some(4);
    let plan = plan_deployment(&d, &[], &[], at(0)).unwrap();
    assert!(plan.create_rs.is_none());
    assert_eq!(plan.status.observed_generation, Some(4));
    assert_eq!(plan.events[0].reason, "SelectingAll");
}

#[test]
fn no_progress_deadline_means_no_progressing_condition() {
    let mut d = deployment(1, rolling(int(1), int(0)));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
    let mut w = World::new(d);
    w.roll_out(&mut |_| {});
    let conds = w.d.status.clone().unwrap().conditions.unwrap();
    assert!(get_condition(&conds, PROGRESSING).is_none());
    assert!(get_condition(&conds, AVAILABLE).is_some());
}

#[test]
fn min_ready_seconds_is_synced_to_the_new_replicaset() {
    let mut w = World::new(deployment(1, rolling(int(1), int(0))));
    w.roll_out(&mut |_| {});
    w.spec_mut().min_ready_seconds = Some(5);
    let plan = w.plan();
    assert_eq!(plan.update_rs.len(), 1);
    assert_eq!(
        plan.update_rs[0].spec.as_ref().unwrap().min_ready_seconds,
        Some(5)
    );
    assert!(plan.create_rs.is_none());
}

#[test]
fn extreme_values_do_not_panic() {
    for (replicas, surge, unavailable) in [
        (i32::MAX, pct("1000%"), pct("100%")),
        (i32::MAX, int(i32::MAX), int(i32::MAX)),
        (-5, int(-3), pct("-50%")),
        (0, int(0), int(0)),
    ] {
        let mut d = deployment(replicas, rolling(surge, unavailable));
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX - 1);
        d.spec.as_mut().unwrap().revision_history_limit = Some(i32::MIN);
        let mut w = World::new(d);
        let plan = w.plan();
        w.apply(&plan);
        for r in &mut w.rss {
            r.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .extend([
                    (REVISION.to_string(), i64::MAX.to_string()),
                    (MAX_REPLICAS.to_string(), "0".to_string()),
                    (DESIRED_REPLICAS.to_string(), "-1".to_string()),
                ]);
            r.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus {
                replicas: i32::MAX,
                available_replicas: Some(i32::MAX),
                ready_replicas: Some(i32::MIN),
                terminating_replicas: Some(i32::MAX),
                ..Default::default()
            });
        }
        let mut old = w.rss[0].clone();
        old.metadata.name = Some("old".into());
        old.metadata.uid = Some("old-uid".into());
        old.spec.as_mut().unwrap().replicas = Some(i32::MIN);
        old.spec.as_mut().unwrap().template = Some(template("x"));
        w.rss.push(old);
        set_image(&mut w, "nginx:2");
        w.now = i64::from(i32::MAX);
        let plan = w.plan();
        w.apply(&plan);
        w.spec_mut().replicas = Some(3);
        let _ = w.plan();
        let _ = plan_replicaset(&w.rss[0], &w.pods, at(0)).unwrap();
    }
}
