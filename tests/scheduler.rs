//! End-to-end: the scheduler (`keelson_scheduler`) against a real `keelson server`, driven by
//! the real `kubectl`. Nodes are fake (Node objects with a Ready status, no agent), as in
//! kube-scheduler's scheduler_perf. The scheduler runs in the server's process (the default
//! wiring of `keelson server`); the HA test runs `keelson scheduler` processes against a
//! server started with `--disable-scheduler` and kills the one holding the Lease.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use common::kube::Api;
use common::{keelson_bin, poll};

/// How long one scheduling decision may take to show.
const WAIT: Duration = Duration::from_secs(20);

/// A fake, Ready node with `cpu` (cores) and `mem` (GiB) allocatable.
fn node(api: &Api, name: &str, cpu: &str, mem: &str, labels: Value, taints: Value) -> Result<()> {
    let mut labels = labels;
    labels["kubernetes.io/hostname"] = json!(name);
    let n = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {
            "capacity": {"cpu": cpu, "memory": format!("{mem}Gi"), "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": format!("{mem}Gi"), "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "fake node"}],
        },
    });
    api.ok_stdin(&["create", "-f", "-"], &n.to_string())?;
    Ok(())
}

/// A pod requesting `cpu` with extra spec fields merged in.
fn pod(api: &Api, name: &str, cpu: &str, extra: Value) -> Result<()> {
    let mut spec = json!({
        "containers": [{"name": "c", "image": "busybox",
                        "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}],
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let p = json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "labels": {"app": name}}, "spec": spec});
    api.ok_stdin(&["create", "-f", "-"], &p.to_string())?;
    Ok(())
}

fn get_json(api: &Api, args: &[&str]) -> Result<Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&api.ok(&all)?).context("kubectl printed JSON")
}

/// Wait until pod `name` is bound; its node.
fn bound(api: &Api, name: &str) -> Result<String> {
    poll(WAIT, &format!("pod {name} to be bound"), || {
        let p = get_json(api, &["pod", name]).ok()?;
        p["spec"]["nodeName"].as_str().map(str::to_string)
    })
    .with_context(|| api.logs())
}

/// Wait until pod `name` is reported unschedulable; the condition's message.
fn unschedulable(api: &Api, name: &str) -> Result<String> {
    poll(
        WAIT,
        &format!("pod {name} to be reported unschedulable"),
        || {
            let p = get_json(api, &["pod", name]).ok()?;
            let c = p["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "PodScheduled")?
                .clone();
            (c["status"] == "False" && c["reason"] == "Unschedulable")
                .then(|| c["message"].as_str().unwrap_or_default().to_string())
        },
    )
    .with_context(|| api.logs())
}

fn node_of(api: &Api, name: &str) -> Result<Option<String>> {
    Ok(get_json(api, &["pod", name])?["spec"]["nodeName"]
        .as_str()
        .map(str::to_string))
}

#[test]
fn t110_filters_events_and_retry_on_cluster_change() -> Result<()> {
    let api = Api::full()?;
    node(&api, "n1", "2", "4", json!({}), json!([]))?;
    node(&api, "n2", "2", "4", json!({"disk": "ssd"}), json!([]))?;
    node(
        &api,
        "cp",
        "8",
        "16",
        json!({"node-role.kubernetes.io/control-plane": ""}),
        json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
    )?;

    // A plain pod goes to an untainted node, with a Scheduled event.
    pod(&api, "plain", "100m", json!({}))?;
    let n = bound(&api, "plain")?;
    ensure!(n == "n1" || n == "n2", "plain went to {n}");
    poll(WAIT, "the Scheduled event", || {
        let out = api
            .ok(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=plain,reason=Scheduled",
            ])
            .ok()?;
        out.contains(&format!("Successfully assigned default/plain to {n}"))
            .then_some(())
    })
    .with_context(|| api.logs())?;

    // nodeSelector.
    pod(
        &api,
        "ssd",
        "100m",
        json!({"nodeSelector": {"disk": "ssd"}}),
    )?;
    ensure!(bound(&api, "ssd")? == "n2");
    // A toleration lets a pod onto the tainted node; node affinity sends it there.
    pod(
        &api,
        "tolerant",
        "100m",
        json!({
            "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                             "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{
                    "key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}]}}},
        }),
    )?;
    ensure!(bound(&api, "tolerant")? == "cp");

    // Too big for any node: Pending, with kube-scheduler's message on the condition, an event
    // and in `kubectl describe`.
    pod(&api, "big", "12", json!({}))?;
    let msg = unschedulable(&api, "big")?;
    ensure!(
        msg.starts_with("0/3 nodes are available:")
            && msg.contains("Insufficient cpu")
            && msg.contains("untolerated taint"),
        "message: {msg}"
    );
    poll(WAIT, "kubectl describe to show FailedScheduling", || {
        let out = api.ok(&["describe", "pod", "big"]).ok()?;
        (out.contains("FailedScheduling") && out.contains("0/3 nodes are available")).then_some(())
    })
    .with_context(|| api.logs())?;
    ensure!(node_of(&api, "big")?.is_none());

    // A node that fits appears: the parked pod is retried at once (not after 5 minutes).
    let added = Instant::now();
    node(&api, "huge", "16", "64", json!({}), json!([]))?;
    ensure!(bound(&api, "big")? == "huge");
    println!(
        "parked pod bound {:?} after the node appeared",
        added.elapsed()
    );

    // Cordon: new pods avoid the node.
    api.ok(&["cordon", "n1"])?;
    api.ok(&["cordon", "huge"])?;
    for i in 0..4 {
        pod(&api, &format!("after-cordon-{i}"), "100m", json!({}))?;
    }
    for i in 0..4 {
        ensure!(bound(&api, &format!("after-cordon-{i}"))? == "n2");
    }
    Ok(())
}

#[test]
fn t111_assumed_capacity_is_never_overcommitted() -> Result<()> {
    let api = Api::full()?;
    // 5 nodes of 1 CPU, 30 pods of 200m: exactly 25 fit, whatever the binding concurrency.
    for i in 0..5 {
        node(&api, &format!("n{i}"), "1", "8", json!({}), json!([]))?;
    }
    let mut manifest = String::new();
    for i in 0..30 {
        let p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("p{i}")},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": "200m"}}}]}});
        manifest.push_str(&p.to_string());
        manifest.push('\n');
    }
    api.ok_stdin(&["create", "-f", "-"], &manifest)?;
    let pods = poll(WAIT, "25 pods bound and 5 reported unschedulable", || {
        let l = get_json(&api, &["pods"]).ok()?;
        let items = l["items"].as_array()?.clone();
        let bound = items
            .iter()
            .filter(|p| p["spec"]["nodeName"].is_string())
            .count();
        let parked = items
            .iter()
            .filter(|p| {
                p["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["reason"] == "Unschedulable"))
            })
            .count();
        (bound == 25 && parked == 5).then_some(items)
    })
    .with_context(|| api.logs())?;
    let mut per_node = std::collections::BTreeMap::new();
    for p in &pods {
        if let Some(n) = p["spec"]["nodeName"].as_str() {
            *per_node.entry(n.to_string()).or_insert(0) += 1;
        }
    }
    ensure!(
        per_node.values().all(|&c| c == 5),
        "each node holds exactly 5 pods of 200m: {per_node:?}"
    );
    // Deleting a bound pod frees room: one parked pod takes it.
    let victim = pods
        .iter()
        .find(|p| p["spec"]["nodeName"].is_string())
        .and_then(|p| p["metadata"]["name"].as_str())
        .context("a bound pod")?
        .to_string();
    api.ok(&["delete", "pod", &victim, "--grace-period=0", "--force"])?;
    poll(WAIT, "a parked pod to take the freed room", || {
        let l = get_json(&api, &["pods"]).ok()?;
        let bound = l["items"]
            .as_array()?
            .iter()
            .filter(|p| p["spec"]["nodeName"].is_string())
            .count();
        (bound == 25).then_some(())
    })
    .with_context(|| api.logs())?;
    Ok(())
}

#[test]
fn t112_pod_anti_affinity_and_topology_spread() -> Result<()> {
    let api = Api::full()?;
    for (i, zone) in ["a", "a", "b"].iter().enumerate() {
        node(
            &api,
            &format!("n{i}"),
            "4",
            "8",
            json!({"topology.kubernetes.io/zone": zone}),
            json!([]),
        )?;
    }
    let anti = || {
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"role": "db"}},
            "topologyKey": "kubernetes.io/hostname"}]}}})
    };
    let mut nodes = std::collections::BTreeSet::new();
    for i in 0..3 {
        let extra = anti();
        let p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("db-{i}"), "labels": {"role": "db"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "affinity": extra["affinity"]}});
        api.ok_stdin(&["create", "-f", "-"], &p.to_string())?;
        nodes.insert(bound(&api, &format!("db-{i}"))?);
    }
    ensure!(nodes.len() == 3, "one db pod per node: {nodes:?}");
    let p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "db-3", "labels": {"role": "db"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "affinity": anti()["affinity"]}});
    api.ok_stdin(&["create", "-f", "-"], &p.to_string())?;
    let msg = unschedulable(&api, "db-3")?;
    ensure!(msg.contains("anti-affinity"), "message: {msg}");

    // Zone spread with maxSkew 1: four pods land 2 in zone a and 2 in zone b.
    let mut zones = std::collections::BTreeMap::new();
    for i in 0..4 {
        let p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{i}"), "labels": {"role": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "topologySpreadConstraints": [{"maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"role": "web"}}}]}});
        api.ok_stdin(&["create", "-f", "-"], &p.to_string())?;
        // One at a time, so each decision sees the previous ones.
        let n = bound(&api, &format!("web-{i}"))?;
        let zone = if n == "n2" { "b" } else { "a" };
        *zones.entry(zone).or_insert(0) += 1;
    }
    ensure!(
        zones.get("a") == Some(&2) && zones.get("b") == Some(&2),
        "spread: {zones:?}"
    );
    Ok(())
}

fn holder(api: &Api) -> Option<String> {
    let out = api
        .kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "keelson-scheduler",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn t113_scheduler_failover_within_five_seconds() -> Result<()> {
    let mut api = Api::server()?;
    node(&api, "n1", "4", "8", json!({}), json!([]))?;
    // No scheduler yet: a pod stays unbound.
    pod(&api, "early", "100m", json!({}))?;
    let names = ["sched-a", "sched-b"];
    let mut index = std::collections::HashMap::new();
    for name in names {
        let log = api.dir.path().join(format!("{name}.log"));
        let f = std::fs::File::create(&log)?;
        let child = Command::new(keelson_bin())
            .arg("scheduler")
            .arg("--kubeconfig")
            .arg(&api.kubeconfig)
            .args(["--leader-elect-identity", name])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()?;
        index.insert(name, api.children.len());
        api.children.push(child);
        api.logs.push(log);
    }
    let leader = poll(WAIT, "a scheduler to hold the lease", || {
        holder(&api).filter(|h| names.contains(&h.as_str()))
    })
    .with_context(|| api.logs())?;
    ensure!(bound(&api, "early")? == "n1");

    api.children[index[leader.as_str()]].kill()?;
    let killed = Instant::now();
    let second = poll(Duration::from_secs(15), "the standby to take over", || {
        holder(&api).filter(|h| *h != leader && names.contains(&h.as_str()))
    })
    .with_context(|| api.logs())?;
    let failover = killed.elapsed();
    println!("scheduler failover: {second} holds the lease {failover:?} after SIGKILL of {leader}");
    ensure!(
        failover < Duration::from_secs(8),
        "failover took {failover:?}"
    );
    // The standby's cache is warm: it binds a new pod right away.
    let t = Instant::now();
    pod(&api, "late", "100m", json!({}))?;
    ensure!(bound(&api, "late")? == "n1");
    println!(
        "first binding by the new leader {:?} after create",
        t.elapsed()
    );
    Ok(())
}
