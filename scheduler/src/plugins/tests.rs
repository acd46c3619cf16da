//! Tests of the plugins run through [`PreFilter`] on small clusters.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EphemeralVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, PodAffinityTerm, Volume, VolumeNodeAffinity,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};

use super::testutil::*;
use super::*;

fn cluster(nodes: Vec<k8s_openapi::api::core::v1::Node>, pods: Vec<(&str, Pod)>) -> ClusterState {
    let mut c = ClusterState::new();
    for n in nodes {
        c.upsert_node(Arc::new(n));
    }
    for (n, p) in pods {
        c.add_pod(n, Arc::new(p));
    }
    c
}

/// Filter outcome per node, in cluster order.
fn filter_all(p: &Pod, c: &ClusterState) -> Vec<Result<(), Vec<String>>> {
    filter_all_with(p, c, &NoVolumes)
}

fn filter_all_with(p: &Pod, c: &ClusterState, v: &dyn Volumes) -> Vec<Result<(), Vec<String>>> {
    let pf = PreFilter::new(p, c, v).expect("prefilter passes");
    c.iter().map(|ni| pf.filter(ni)).collect()
}

fn err(r: &str) -> Result<(), Vec<String>> {
    Err(vec![r.to_string()])
}

#[test]
fn filter_order_first_failing_plugin_wins() {
    let c = cluster(
        vec![
            node("cordoned").unschedulable().ready("False").build(),
            node("notready")
                .ready("False")
                .taint("x", "y", "NoSchedule")
                .build(),
            node("tainted")
                .taint("x", "y", "NoSchedule")
                .cpu("100m")
                .build(),
            node("small").cpu("100m").build(),
            node("ok").build(),
        ],
        vec![],
    );
    let p = pod("d", "p").cpu("1").build();
    assert_eq!(
        filter_all(&p, &c),
        vec![
            err(taints::REASON_UNSCHEDULABLE),
            err(taints::REASON_NOT_READY),
            err("node(s) had untolerated taint {x: y}"),
            err("Insufficient cpu"),
            Ok(()),
        ]
    );
}

#[test]
fn node_affinity_and_ports_filters() {
    let c = cluster(
        vec![node("a").label("disk", "ssd").build(), node("b").build()],
        vec![("a", pod("d", "web").host_port(80).build())],
    );
    let p = pod("d", "p").node_selector("disk", "ssd").build();
    assert_eq!(
        filter_all(&p, &c),
        vec![Ok(()), err(node_affinity::REASON_NODE_AFFINITY)]
    );
    let p = pod("d", "p").host_port(80).build();
    assert_eq!(filter_all(&p, &c), vec![err(ports::REASON_PORTS), Ok(())]);
    let p = pod("d", "p").host_port_ip("10.1.1.1", 80, "TCP").build();
    assert_eq!(filter_all(&p, &c), vec![err(ports::REASON_PORTS), Ok(())]);
    let p = pod("d", "p").host_port_ip("10.1.1.1", 80, "UDP").build();
    assert_eq!(filter_all(&p, &c), vec![Ok(()), Ok(())]);
}

fn zoned() -> Vec<k8s_openapi::api::core::v1::Node> {
    vec![
        node("a1").label("zone", "a").build(),
        node("a2").label("zone", "a").build(),
        node("b1").label("zone", "b").build(),
        node("nozone").build(),
    ]
}

#[test]
fn pod_affinity_requires_matching_pod_in_domain() {
    let c = cluster(
        zoned(),
        vec![("a2", pod("d", "db").label("app", "db").build())],
    );
    let p = pod("d", "p").affinity("app", "db", "zone").build();
    assert_eq!(
        filter_all(&p, &c),
        vec![
            Ok(()),
            Ok(()),
            err(interpod::REASON_AFFINITY),
            err(interpod::REASON_AFFINITY)
        ]
    );
    // pods in another namespace do not count
    let p = pod("other", "p").affinity("app", "db", "zone").build();
    assert!(
        filter_all(&p, &c)
            .iter()
            .all(|r| r == &err(interpod::REASON_AFFINITY))
    );
}

#[test]
fn first_pod_of_self_affine_group_goes_anywhere_with_the_key() {
    let c = cluster(
        zoned(),
        vec![("a1", pod("d", "other").label("app", "x").build())],
    );
    let p = pod("d", "p")
        .label("app", "web")
        .affinity("app", "web", "zone")
        .build();
    assert_eq!(
        filter_all(&p, &c),
        vec![Ok(()), Ok(()), Ok(()), err(interpod::REASON_AFFINITY)]
    );
    // not matching its own term: no exception
    let p = pod("d", "p")
        .label("app", "api")
        .affinity("app", "web", "zone")
        .build();
    assert!(
        filter_all(&p, &c)
            .iter()
            .all(|r| r == &err(interpod::REASON_AFFINITY))
    );
}

#[test]
fn pod_anti_affinity() {
    let c = cluster(
        zoned(),
        vec![("a1", pod("d", "w1").label("app", "web").build())],
    );
    let p = pod("d", "p")
        .label("app", "web")
        .anti_affinity("app", "web", "kubernetes.io/hostname")
        .build();
    assert_eq!(
        filter_all(&p, &c),
        vec![err(interpod::REASON_ANTI_AFFINITY), Ok(()), Ok(()), Ok(())]
    );
    let p = pod("d", "p").anti_affinity("app", "web", "zone").build();
    // the node without the key cannot violate anti-affinity
    assert_eq!(
        filter_all(&p, &c),
        vec![
            err(interpod::REASON_ANTI_AFFINITY),
            err(interpod::REASON_ANTI_AFFINITY),
            Ok(()),
            Ok(())
        ]
    );
}

#[test]
fn existing_pods_anti_affinity() {
    let c = cluster(
        zoned(),
        vec![(
            "a1",
            pod("d", "lonely")
                .label("app", "db")
                .anti_affinity("app", "web", "zone")
                .build(),
        )],
    );
    let p = pod("d", "p").label("app", "web").build();
    assert_eq!(
        filter_all(&p, &c),
        vec![
            err(interpod::REASON_EXISTING_ANTI_AFFINITY),
            err(interpod::REASON_EXISTING_ANTI_AFFINITY),
            Ok(()),
            Ok(())
        ]
    );
    // a pod the term does not select is unaffected
    let p = pod("d", "p").label("app", "api").build();
    assert!(filter_all(&p, &c).iter().all(Result::is_ok));
    // the term only looks at its own namespace by default
    let p = pod("other", "p").label("app", "web").build();
    assert!(filter_all(&p, &c).iter().all(Result::is_ok));
}

#[test]
fn namespace_selector_everything() {
    let t = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        }),
        namespace_selector: Some(LabelSelector::default()),
        topology_key: "zone".into(),
        ..Default::default()
    };
    let c = cluster(
        zoned(),
        vec![("b1", pod("d", "lonely").anti_affinity_term(t).build())],
    );
    let p = pod("elsewhere", "p").label("app", "web").build();
    assert_eq!(
        filter_all(&p, &c),
        vec![
            Ok(()),
            Ok(()),
            err(interpod::REASON_EXISTING_ANTI_AFFINITY),
            Ok(())
        ]
    );
}

#[test]
fn interpod_work_is_skipped_for_plain_pods() {
    let c = cluster(
        zoned(),
        vec![("a1", pod("d", "w").label("app", "web").build())],
    );
    let p = pod("d", "p").build();
    assert!(interpod::InterPodFilter::new(&p, None, &c).is_none());
    let pf = PreFilter::new(&p, &c, &NoVolumes).expect("ok");
    assert!(pf.interpod.is_none() && pf.spread.is_none() && pf.volumes.is_none());
}

#[test]
fn topology_spread_do_not_schedule() {
    let web = |n: &str| pod("d", n).label("app", "web").build();
    let c = cluster(
        zoned(),
        vec![
            ("a1", web("w1")),
            ("a2", web("w2")),
            ("b1", pod("other", "w3").label("app", "web").build()),
        ],
    );
    let p = pod("d", "p")
        .label("app", "web")
        .spread("zone", 1, "DoNotSchedule", "app", "web")
        .build();
    // zone a: 2, zone b: 0 (the pod in "other" does not count) → a: 2+1-0 > 1
    assert_eq!(
        filter_all(&p, &c),
        vec![
            err(spread::REASON_SPREAD),
            err(spread::REASON_SPREAD),
            Ok(()),
            err(spread::REASON_SPREAD_MISSING_LABEL)
        ]
    );
    // the incoming pod not matching its selector does not count itself
    let p = pod("d", "p")
        .spread("zone", 2, "DoNotSchedule", "app", "web")
        .build();
    assert_eq!(filter_all(&p, &c)[0], Ok(()));
    // ScheduleAnyway constraints do not filter
    let p = pod("d", "p")
        .label("app", "web")
        .spread("zone", 1, "ScheduleAnyway", "app", "web")
        .build();
    assert!(filter_all(&p, &c)[..3].iter().all(Result::is_ok));
}

#[test]
fn topology_spread_min_domains_and_node_affinity_policy() {
    let web = |n: &str| pod("d", n).label("app", "web").build();
    let c = cluster(zoned(), vec![("a1", web("w1")), ("b1", web("w2"))]);
    // two domains (a: 1, b: 1): the global minimum is 1
    let p = pod("d", "p")
        .label("app", "web")
        .spread("zone", 1, "DoNotSchedule", "app", "web")
        .build();
    assert_eq!(filter_all(&p, &c)[..3], [Ok(()), Ok(()), Ok(())]);
    // minDomains 3 > 2 domains: the global minimum is taken as 0
    let p = pod("d", "p")
        .label("app", "web")
        .spread("zone", 1, "DoNotSchedule", "app", "web")
        .min_domains(3)
        .build();
    assert_eq!(
        filter_all(&p, &c)[..3],
        [
            err(spread::REASON_SPREAD),
            err(spread::REASON_SPREAD),
            err(spread::REASON_SPREAD)
        ]
    );
    // nodes the pod's node selector excludes form no domain: only zone a counts (min 1)
    let c = cluster(
        vec![
            node("a1").label("zone", "a").label("pool", "x").build(),
            node("a2").label("zone", "a").label("pool", "x").build(),
            node("b1").label("zone", "b").build(),
        ],
        vec![("a1", web("w1"))],
    );
    let p = pod("d", "p")
        .label("app", "web")
        .node_selector("pool", "x")
        .spread("zone", 1, "DoNotSchedule", "app", "web")
        .build();
    let pf = PreFilter::new(&p, &c, &NoVolumes).expect("ok");
    let s = pf.spread.as_ref().expect("has constraints");
    assert_eq!(s.filter(c.get("a2").expect("node").node()), Ok(()));
}

fn claim(name: &str, volume: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            namespace: Some("d".into()),
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            volume_name: (!volume.is_empty()).then(|| volume.to_string()),
            ..Default::default()
        }),
        status: None,
    }
}

fn local_pv(name: &str, hostname: &str) -> PersistentVolume {
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![hostname.into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            ..Default::default()
        }),
        status: None,
    }
}

#[test]
fn volume_binding() {
    let c = cluster(vec![node("n1").build(), node("n2").build()], vec![]);
    let mut v = FakeVolumes::default();
    let pre = |p: &Pod, v: &FakeVolumes| PreFilter::new(p, &c, v).err();

    let p = pod("d", "p").pvc("data").build();
    assert_eq!(
        pre(&p, &v),
        Some("persistentvolumeclaim \"data\" not found".to_string())
    );

    v.pvcs
        .insert(("d".into(), "data".into()), claim("data", ""));
    assert_eq!(
        pre(&p, &v),
        Some(volume::REASON_UNBOUND_IMMEDIATE.to_string())
    );

    let mut lost = claim("data", "pv1");
    lost.status = Some(PersistentVolumeClaimStatus {
        phase: Some("Lost".into()),
        ..Default::default()
    });
    v.pvcs.insert(("d".into(), "data".into()), lost);
    assert_eq!(
        pre(&p, &v),
        Some(
            "persistentvolumeclaim \"data\" bound to non-existent persistentvolume \"pv1\""
                .to_string()
        )
    );

    let mut deleting = claim("data", "pv1");
    deleting.metadata.deletion_timestamp = Some(Time(Default::default()));
    v.pvcs.insert(("d".into(), "data".into()), deleting);
    assert_eq!(
        pre(&p, &v),
        Some("persistentvolumeclaim \"data\" is being deleted".to_string())
    );

    v.pvcs
        .insert(("d".into(), "data".into()), claim("data", "pv1"));
    assert_eq!(
        filter_all_with(&p, &c, &v),
        vec![
            err(volume::REASON_PV_NOT_FOUND),
            err(volume::REASON_PV_NOT_FOUND)
        ]
    );

    v.pvs.insert("pv1".into(), local_pv("pv1", "n2"));
    assert_eq!(
        filter_all_with(&p, &c, &v),
        vec![err(volume::REASON_VOLUME_NODE_AFFINITY), Ok(())]
    );

    // a volume without node affinity constrains nothing
    v.pvs.insert("pv1".into(), PersistentVolume::default());
    assert_eq!(filter_all_with(&p, &c, &v), vec![Ok(()), Ok(())]);
}

#[test]
fn ephemeral_volume_claims() {
    let c = cluster(vec![node("n1").build()], vec![]);
    let mut p = pod("d", "p").build();
    if let Some(spec) = p.spec.as_mut() {
        spec.volumes = Some(vec![Volume {
            name: "scratch".into(),
            ephemeral: Some(EphemeralVolumeSource::default()),
            ..Default::default()
        }]);
    }
    let mut v = FakeVolumes::default();
    assert_eq!(
        PreFilter::new(&p, &c, &v).err(),
        Some("waiting for ephemeral volume controller to create the persistentvolumeclaim \"p-scratch\"".to_string())
    );
    v.pvcs
        .insert(("d".into(), "p-scratch".into()), claim("p-scratch", "pv1"));
    assert_eq!(
        PreFilter::new(&p, &c, &v).err(),
        Some("PVC d/p-scratch was not created for pod d/p (pod is not owner)".to_string())
    );
    let mut owned = claim("p-scratch", "pv1");
    owned.metadata.owner_references = Some(vec![OwnerReference {
        controller: Some(true),
        uid: "uid-d-p".into(),
        ..Default::default()
    }]);
    v.pvcs.insert(("d".into(), "p-scratch".into()), owned);
    v.pvs.insert("pv1".into(), PersistentVolume::default());
    assert!(PreFilter::new(&p, &c, &v).is_ok());
}

fn scores(p: &Pod, c: &ClusterState) -> Vec<NodeScore> {
    let pf = PreFilter::new(p, c, &NoVolumes).expect("ok");
    let feasible: Vec<&NodeInfo> = c.iter().collect();
    pf.score(c, &feasible)
}

#[test]
fn default_normalize_matches_upstream() {
    let mut s = vec![0, 1, 2];
    default_normalize(&mut s, true);
    assert_eq!(s, vec![100, 50, 0]);
    let mut s = vec![0, 0];
    default_normalize(&mut s, true);
    assert_eq!(s, vec![100, 100]);
    let mut s = vec![0, 0];
    default_normalize(&mut s, false);
    assert_eq!(s, vec![0, 0]);
    let mut s = vec![3, 8, 5];
    default_normalize(&mut s, false);
    assert_eq!(s, vec![37, 100, 62]);
}

#[test]
fn taint_toleration_score() {
    let c = cluster(
        vec![
            node("clean").build(),
            node("one").taint("a", "", "PreferNoSchedule").build(),
            node("two")
                .taint("a", "", "PreferNoSchedule")
                .taint("b", "", "PreferNoSchedule")
                .build(),
        ],
        vec![],
    );
    let s = scores(&pod("d", "p").build(), &c);
    assert_eq!(
        s.iter().map(|s| s.taint_toleration).collect::<Vec<_>>(),
        vec![100, 50, 0]
    );
    let s = scores(
        &pod("d", "p")
            .toleration("a", "Exists", "", "PreferNoSchedule")
            .build(),
        &c,
    );
    assert_eq!(
        s.iter().map(|s| s.taint_toleration).collect::<Vec<_>>(),
        vec![100, 100, 0]
    );
}

#[test]
fn node_affinity_score() {
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, PreferredSchedulingTerm};
    let c = cluster(
        vec![
            node("a").label("zone", "a").build(),
            node("b").label("zone", "b").build(),
            node("c").build(),
        ],
        vec![],
    );
    let pref = |zone: &str, w: i32| PreferredSchedulingTerm {
        weight: w,
        preference: NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: "zone".into(),
                operator: "In".into(),
                values: Some(vec![zone.into()]),
            }]),
            match_fields: None,
        },
    };
    let mut p = pod("d", "p").build();
    if let Some(spec) = p.spec.as_mut() {
        spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    pref("a", 80),
                    pref("b", 20),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let s = scores(&p, &c);
    assert_eq!(
        s.iter().map(|s| s.node_affinity).collect::<Vec<_>>(),
        vec![100, 25, 0]
    );
    assert!(
        scores(&pod("d", "p").build(), &c)
            .iter()
            .all(|s| s.node_affinity == 0)
    );
}

#[test]
fn inter_pod_affinity_score() {
    let c = cluster(
        zoned(),
        vec![("a1", pod("d", "cache").label("app", "cache").build())],
    );
    let p = pod("d", "p")
        .preferred_affinity("app", "cache", "zone", 10)
        .build();
    let s = scores(&p, &c);
    assert_eq!(
        s.iter().map(|s| s.inter_pod_affinity).collect::<Vec<_>>(),
        vec![100, 100, 0, 0]
    );
    let p = pod("d", "p")
        .preferred_anti_affinity("app", "cache", "zone", 10)
        .build();
    let s = scores(&p, &c);
    assert_eq!(
        s.iter().map(|s| s.inter_pod_affinity).collect::<Vec<_>>(),
        vec![0, 0, 100, 100]
    );
    // a placed pod's preferred affinity for the incoming pod attracts it too
    let c = cluster(
        zoned(),
        vec![(
            "b1",
            pod("d", "fan")
                .preferred_affinity("app", "star", "kubernetes.io/hostname", 5)
                .build(),
        )],
    );
    let s = scores(&pod("d", "p").label("app", "star").build(), &c);
    assert_eq!(
        s.iter().map(|s| s.inter_pod_affinity).collect::<Vec<_>>(),
        vec![0, 0, 100, 0]
    );
    // and a placed pod's required affinity counts with weight 1
    let c = cluster(
        zoned(),
        vec![(
            "a2",
            pod("d", "fan").affinity("app", "star", "zone").build(),
        )],
    );
    let s = scores(&pod("d", "p").label("app", "star").build(), &c);
    assert_eq!(
        s.iter().map(|s| s.inter_pod_affinity).collect::<Vec<_>>(),
        vec![100, 100, 0, 0]
    );
    // nothing applies: all zero
    assert!(
        scores(&pod("d", "p").build(), &c)
            .iter()
            .all(|s| s.inter_pod_affinity == 0)
    );
}

#[test]
fn topology_spread_score() {
    let web = |n: &str| pod("d", n).label("app", "web").build();
    let c = cluster(
        vec![node("h1").build(), node("h2").build(), node("h3").build()],
        vec![("h1", web("w1")), ("h1", web("w2")), ("h2", web("w3"))],
    );
    let p = pod("d", "p")
        .label("app", "web")
        .spread("kubernetes.io/hostname", 1, "ScheduleAnyway", "app", "web")
        .build();
    let s = scores(&p, &c);
    // weight ln(3+2)≈1.609: raw 3, 2, 0 → 100*(3+0-raw)/3 = 0, 33, 100
    assert_eq!(
        s.iter().map(|s| s.topology_spread).collect::<Vec<_>>(),
        vec![0, 33, 100]
    );
    // nodes without the key score 0
    let c = cluster(zoned(), vec![("a1", web("w1"))]);
    let p = pod("d", "p")
        .label("app", "web")
        .spread("zone", 1, "ScheduleAnyway", "app", "web")
        .build();
    let s = scores(&p, &c);
    assert_eq!(
        s.iter().map(|s| s.topology_spread).collect::<Vec<_>>(),
        vec![0, 0, 100, 0]
    );
}

#[test]
fn resource_scores_and_total() {
    let c = cluster(
        vec![
            node("big").cpu("8").memory("16Gi").build(),
            node("small").cpu("2").memory("4Gi").build(),
        ],
        vec![],
    );
    let p = pod("d", "p").cpu("1").memory("2Gi").build();
    let s = scores(&p, &c);
    assert!(s[0].resources_fit > s[1].resources_fit);
    assert_eq!(s[0].balanced_allocation, 100);
    for n in &s {
        assert_eq!(
            n.total,
            3 * n.taint_toleration
                + 2 * n.node_affinity
                + n.resources_fit
                + n.balanced_allocation
                + 2 * n.inter_pod_affinity
                + 2 * n.topology_spread
                + n.image_locality
        );
    }
    // best-effort pods skip BalancedAllocation
    assert!(
        scores(&pod("d", "p").build(), &c)
            .iter()
            .all(|s| s.balanced_allocation == 0)
    );
}

#[test]
fn image_locality_score_through_prefilter() {
    let c = cluster(
        vec![
            node("warm").image("app:1", 800 * 1024 * 1024).build(),
            node("cold").build(),
        ],
        vec![],
    );
    let s = scores(&pod("d", "p").image("app:1").build(), &c);
    // 800MiB × 1/2 = 400MiB → (400-23)/(1000-23) → 38
    assert_eq!(
        s.iter().map(|s| s.image_locality).collect::<Vec<_>>(),
        vec![38, 0]
    );
}
