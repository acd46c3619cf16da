//! Tests of the scheduling decision: FitError wording, node sampling, round-robin,
//! tie-breaking, and a throughput figure at 5,000 nodes.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
};

use super::*;
use crate::plugins::NoVolumes;
use crate::plugins::testutil::*;

fn fit_error(n: usize, reasons: &[(&str, usize)]) -> FitError {
    FitError {
        num_all_nodes: n,
        reasons: reasons.iter().map(|(r, c)| (r.to_string(), *c)).collect(),
        pre_filter_msg: None,
    }
}

#[test]
fn fit_error_messages() {
    assert_eq!(
        fit_error(
            3,
            &[
                (
                    "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
                    2
                ),
                ("Insufficient cpu", 1)
            ]
        )
        .to_string(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
    );
    // upstream sorts the "count reason" strings, not the reasons
    assert_eq!(
        fit_error(
            12,
            &[
                ("Insufficient cpu", 2),
                ("node(s) didn't match Pod's node affinity/selector", 10)
            ]
        )
        .to_string(),
        "0/12 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu."
    );
    assert_eq!(
        fit_error(2, &[("Insufficient cpu", 1), ("Insufficient memory", 2)]).to_string(),
        "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory."
    );
    assert_eq!(
        fit_error(0, &[]).to_string(),
        "no nodes available to schedule pods"
    );
    assert_eq!(fit_error(4, &[]).to_string(), "0/4 nodes are available:");
    let pre = FitError {
        num_all_nodes: 3,
        reasons: BTreeMap::new(),
        pre_filter_msg: Some("pod has unbound immediate PersistentVolumeClaims".into()),
    };
    assert_eq!(
        pre.to_string(),
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    );
}

#[test]
fn feasible_nodes_to_find() {
    assert_eq!(num_feasible_nodes_to_find(None, 0), 0);
    assert_eq!(num_feasible_nodes_to_find(None, 99), 99);
    assert_eq!(num_feasible_nodes_to_find(None, 100), 100);
    assert_eq!(num_feasible_nodes_to_find(None, 1000), 420);
    assert_eq!(num_feasible_nodes_to_find(None, 5000), 500);
    assert_eq!(num_feasible_nodes_to_find(None, 6000), 300);
    assert_eq!(num_feasible_nodes_to_find(None, 20000), 1000);
    assert_eq!(num_feasible_nodes_to_find(Some(0), 1000), 420);
    assert_eq!(num_feasible_nodes_to_find(Some(10), 500), 100);
    assert_eq!(num_feasible_nodes_to_find(Some(50), 1000), 500);
    assert_eq!(num_feasible_nodes_to_find(Some(100), 1000), 1000);
    assert_eq!(num_feasible_nodes_to_find(Some(250), 1000), 1000);
}

fn cluster_of(nodes: impl IntoIterator<Item = k8s_openapi::api::core::v1::Node>) -> ClusterState {
    let mut c = ClusterState::new();
    for n in nodes {
        c.upsert_node(Arc::new(n));
    }
    c
}

#[test]
fn empty_cluster() {
    let mut alg = Algorithm::default();
    let err = alg
        .schedule(&pod("d", "p").build(), &ClusterState::new(), &NoVolumes)
        .expect_err("no nodes");
    assert_eq!(err.to_string(), "no nodes available to schedule pods");
}

#[test]
fn fit_error_from_filters() {
    let c = cluster_of([
        node("cp")
            .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")
            .build(),
        node("w1").cpu("1").build(),
        node("w2").cpu("500m").build(),
    ]);
    let mut alg = Algorithm::default();
    let err = alg
        .schedule(&pod("d", "p").cpu("2").build(), &c, &NoVolumes)
        .expect_err("nothing fits");
    assert_eq!(
        err.to_string(),
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
    );
    assert_eq!(alg.next_start, 0, "all 3 processed: back to the start");
}

#[test]
fn a_node_counts_once_per_reason() {
    let c = cluster_of([
        node("n1").cpu("1").memory("1Gi").build(),
        node("n2").cpu("8").memory("1Gi").build(),
    ]);
    let err = Algorithm::default()
        .schedule(
            &pod("d", "p").cpu("2").memory("2Gi").build(),
            &c,
            &NoVolumes,
        )
        .expect_err("nothing fits");
    assert_eq!(
        err.to_string(),
        "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory."
    );
}

#[test]
fn absurd_quantities_do_not_panic() {
    let mut c = cluster_of([
        node("n1").cpu("8Ei").memory("8Ei").build(),
        node("n2").cpu("bogus").build(),
    ]);
    c.add_pod(
        "n1",
        Arc::new(pod("d", "huge").cpu("9Ei").memory("1Mi").build()),
    );
    for (i, (cpu, mem)) in [
        ("9Ei", "9Ei"),
        ("1e-999", "0.1"),
        ("-5", "-1Gi"),
        ("x", "y"),
    ]
    .iter()
    .enumerate()
    {
        let p = pod("d", &format!("p{i}")).cpu(cpu).memory(mem).build();
        let _ = Algorithm::default().schedule(&p, &c, &NoVolumes);
    }
    // no cpu request: scoring adds the 100m default to a node whose requests saturated
    let r = Algorithm::default().schedule(&pod("d", "q").memory("1").build(), &c, &NoVolumes);
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn prefilter_failure_message() {
    let c = cluster_of([node("a").build(), node("b").build()]);
    let err = Algorithm::default()
        .schedule(&pod("d", "p").pvc("data").build(), &c, &NoVolumes)
        .expect_err("missing claim");
    assert_eq!(
        err.to_string(),
        "0/2 nodes are available: persistentvolumeclaim \"data\" not found."
    );
}

fn pinned(name: &str, pod_name: &str) -> k8s_openapi::api::core::v1::Pod {
    let mut p = pod("kube-system", pod_name).cpu("100m").build();
    if let Some(spec) = p.spec.as_mut() {
        spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_fields: Some(vec![NodeSelectorRequirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: Some(vec![name.into()]),
                        }]),
                        match_expressions: None,
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    p
}

#[test]
fn daemonset_style_pinning_evaluates_one_node() {
    let c = cluster_of(
        (0..300)
            .map(|i| node(&format!("n{i}")).build())
            .chain([node("tiny").cpu("10m").build()]),
    );
    let mut alg = Algorithm::default();
    let r = alg
        .schedule(&pinned("n42", "ds-a"), &c, &NoVolumes)
        .expect("fits");
    assert_eq!(
        r,
        ScheduleResult {
            node: "n42".into(),
            evaluated: 1,
            feasible: 1
        }
    );
    assert_eq!(alg.next_start, 1);
    let err = alg
        .schedule(&pinned("tiny", "ds-b"), &c, &NoVolumes)
        .expect_err("too small");
    assert_eq!(
        err.to_string(),
        "0/301 nodes are available: 1 Insufficient cpu, 300 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    );
    let err = alg
        .schedule(&pinned("gone", "ds-c"), &c, &NoVolumes)
        .expect_err("no such node");
    assert_eq!(
        err.to_string(),
        "0/301 nodes are available: 301 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    );
}

#[test]
fn round_robin_start_advances() {
    let c = cluster_of((0..1000).map(|i| node(&format!("n{i:04}")).build()));
    let mut alg = Algorithm::default();
    let p = pod("d", "p").build();
    let r = alg.schedule(&p, &c, &NoVolumes).expect("fits");
    assert_eq!((r.evaluated, r.feasible), (420, 420));
    assert_eq!(alg.next_start, 420);
    alg.schedule(&p, &c, &NoVolumes).expect("fits");
    assert_eq!(alg.next_start, 840);
    let r = alg.schedule(&p, &c, &NoVolumes).expect("fits");
    assert_eq!(alg.next_start, 260, "wraps around");
    // the chosen node is among the nodes examined this time: 840..1000 and 0..260
    let pos = c.position(&r.node).expect("known node");
    assert!(!(260..840).contains(&pos), "chose {pos}");

    // failing nodes count as processed too
    let mut nodes: Vec<_> = (0..200)
        .map(|i| node(&format!("big{i:03}")).build())
        .collect();
    for i in 0..100 {
        nodes[i * 2 + 1] = node(&format!("small{i:03}")).cpu("100m").build();
    }
    let c = cluster_of(nodes);
    let mut alg = Algorithm::new(Some(25)); // 200 × 25 % = 50 → at least 100
    let r = alg
        .schedule(&pod("d", "p").cpu("1").build(), &c, &NoVolumes)
        .expect("fits");
    assert_eq!((r.evaluated, r.feasible), (199, 100));
    assert_eq!(alg.next_start, 199);

    // a start index beyond the cluster (it shrank) wraps instead of overflowing
    let mut alg = Algorithm {
        next_start: usize::MAX,
        percentage_of_nodes_to_score: None,
    };
    alg.schedule(&pod("d", "p").build(), &c, &NoVolumes)
        .expect("fits");
    assert!(alg.next_start < c.len());
}

#[test]
fn ties_are_broken_pseudo_randomly_and_deterministically() {
    let c = cluster_of((0..10).map(|i| node(&format!("n{i}")).build()));
    let mut chosen = HashSet::new();
    for i in 0..50 {
        let p = pod("d", &format!("p{i}")).build();
        let mut alg = Algorithm::default();
        let a = alg.schedule(&p, &c, &NoVolumes).expect("fits");
        let b = Algorithm::default()
            .schedule(&p, &c, &NoVolumes)
            .expect("fits");
        assert_eq!(a, b, "same pod, same state, same choice");
        chosen.insert(a.node);
    }
    assert!(
        chosen.len() > 5,
        "identical nodes should share the load: {chosen:?}"
    );
}

#[test]
fn best_score_wins() {
    let c = cluster_of([
        node("busy").cpu("4").build(),
        node("idle").cpu("16").memory("32Gi").build(),
        node("soft")
            .cpu("16")
            .memory("32Gi")
            .taint("x", "", "PreferNoSchedule")
            .build(),
    ]);
    let r = Algorithm::default().schedule(
        &pod("d", "p").cpu("1").memory("1Gi").build(),
        &c,
        &NoVolumes,
    );
    assert_eq!(r.map(|r| r.node), Ok("idle".to_string()));
}

/// Not a timing assertion: prints how fast the pure algorithm places plain pods on 5,000
/// nodes (run with `--nocapture`; build with `--release` for a meaningful figure).
#[test]
fn throughput_5000_nodes() {
    let mut c = ClusterState::new();
    for i in 0..5000 {
        let n = node(&format!("node-{i:05}"))
            .label("topology.kubernetes.io/zone", &format!("zone-{}", i % 3))
            .cpu("32")
            .memory("128Gi")
            .image("registry.local/app:1", 200 * 1024 * 1024)
            .build();
        c.upsert_node(Arc::new(n));
    }
    for i in 0..5000 {
        for j in 0..2 {
            let p = pod("default", &format!("existing-{i}-{j}"))
                .cpu("250m")
                .memory("512Mi")
                .label("app", "old")
                .build();
            c.add_pod(&format!("node-{i:05}"), Arc::new(p));
        }
    }
    let mut alg = Algorithm::default();
    let pods: Vec<_> = (0..1000)
        .map(|i| {
            pod("default", &format!("new-{i}"))
                .cpu("100m")
                .memory("128Mi")
                .image("registry.local/app:1")
                .build()
        })
        .collect();
    let start = Instant::now();
    let mut evaluated = 0;
    for p in &pods {
        let r = alg.schedule(p, &c, &NoVolumes).expect("fits");
        evaluated += r.evaluated;
        c.add_pod(&r.node, Arc::new(p.clone()));
    }
    let elapsed = start.elapsed();
    let rate = pods.len() as f64 / elapsed.as_secs_f64();
    println!(
        "scheduled {} pods on 5000 nodes (10000 placed pods) in {:.3} s: {:.0} pods/s, {} nodes evaluated per pod",
        pods.len(),
        elapsed.as_secs_f64(),
        rate,
        evaluated / pods.len()
    );
    assert_eq!(c.iter().map(NodeInfo::num_pods).sum::<usize>(), 11_000);
}
