//! End-to-end: the controller manager (`keelson_controllers`) against a real `keelson server`,
//! driven by the real `kubectl`. The garbage collector runs in the server's process (the
//! default wiring of `keelson server`); the HA test runs two and three `keelson
//! controller-manager` processes against one server and kills the one holding the Lease.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use common::kube::Api;
use common::{keelson_bin, poll};

/// How long the garbage collector may take to react to one change.
const WAIT: Duration = Duration::from_secs(20);

fn json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).context("kubectl printed JSON")
}

/// `kubectl get <what> -o json`, or None if it does not exist.
fn get(api: &Api, args: &[&str]) -> Result<Option<serde_json::Value>> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json", "--ignore-not-found"]);
    let out = api.ok(&all)?;
    if out.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(json(&out)?))
}

fn uid(api: &Api, args: &[&str]) -> Result<String> {
    let obj = get(api, args)?.context("object exists")?;
    obj["metadata"]["uid"]
        .as_str()
        .map(str::to_string)
        .context("object has a uid")
}

/// A ConfigMap `name` owned by the objects in `owners` (apiVersion, kind, name, uid, block).
fn dependent(
    api: &Api,
    name: &str,
    owners: &[(&str, &str, &str, &str, bool)],
    finalizers: &[&str],
) -> Result<()> {
    let refs: Vec<serde_json::Value> = owners
        .iter()
        .map(|(av, kind, n, uid, block)| {
            serde_json::json!({"apiVersion": av, "kind": kind, "name": n, "uid": uid,
                               "blockOwnerDeletion": block})
        })
        .collect();
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "ownerReferences": refs, "finalizers": finalizers},
        "data": {"role": "dependent"},
    });
    api.ok_stdin(&["create", "-f", "-"], &cm.to_string())?;
    Ok(())
}

fn gone(api: &Api, args: &[&str], what: &str) -> Result<()> {
    poll(WAIT, what, || {
        get(api, args).ok().and_then(|o| o.is_none().then_some(()))
    })
    .with_context(|| api.logs())
}

#[test]
fn t100_background_deletion_removes_dependents_of_gone_owners() -> Result<()> {
    let api = Api::server()?;
    api.ok(&["create", "configmap", "owner", "--from-literal=a=1"])?;
    let owner = uid(&api, &["configmap", "owner"])?;
    dependent(
        &api,
        "child",
        &[("v1", "ConfigMap", "owner", &owner, true)],
        &[],
    )?;
    // A grandchild: the cascade follows the chain.
    let child = uid(&api, &["configmap", "child"])?;
    dependent(
        &api,
        "grandchild",
        &[("v1", "ConfigMap", "child", &child, false)],
        &[],
    )?;
    // Two owners, one alive: only the dangling reference goes.
    api.ok(&["create", "configmap", "keeper", "--from-literal=a=1"])?;
    let keeper = uid(&api, &["configmap", "keeper"])?;
    dependent(
        &api,
        "shared",
        &[
            ("v1", "ConfigMap", "owner", &owner, false),
            ("v1", "ConfigMap", "keeper", &keeper, false),
        ],
        &[],
    )?;
    // The GC must not touch a dependent whose owner is alive.
    let live = get(&api, &["configmap", "child"])?.context("child exists")?;
    ensure!(live["metadata"]["deletionTimestamp"].is_null());

    // kubectl's default cascade is background.
    api.ok(&["delete", "configmap", "owner"])?;
    gone(
        &api,
        &["configmap", "child"],
        "the dependent to be collected",
    )?;
    gone(
        &api,
        &["configmap", "grandchild"],
        "the grandchild to be collected",
    )?;
    poll(WAIT, "the dangling reference to be dropped", || {
        let o = get(&api, &["configmap", "shared"]).ok()??;
        let refs = o["metadata"]["ownerReferences"].as_array()?.clone();
        (refs.len() == 1 && refs[0]["uid"] == keeper.as_str()).then_some(())
    })
    .with_context(|| api.logs())?;

    // A reference whose uid does not match the object of that name is dangling too.
    api.ok(&["create", "configmap", "renamed", "--from-literal=a=1"])?;
    dependent(
        &api,
        "stale",
        &[(
            "v1",
            "ConfigMap",
            "renamed",
            "00000000-0000-0000-0000-000000000000",
            false,
        )],
        &[],
    )?;
    gone(
        &api,
        &["configmap", "stale"],
        "a dependent of a namesake to be collected",
    )?;
    ensure!(get(&api, &["configmap", "renamed"])?.is_some());
    ensure!(get(&api, &["configmap", "keeper"])?.is_some());
    Ok(())
}

#[test]
fn t101_foreground_deletion_waits_for_blocking_dependents() -> Result<()> {
    let api = Api::server()?;
    api.ok(&["create", "configmap", "owner", "--from-literal=a=1"])?;
    let owner = uid(&api, &["configmap", "owner"])?;
    // The blocking dependent holds on with a finalizer of its own, so the wait is visible.
    dependent(
        &api,
        "blocker",
        &[("v1", "ConfigMap", "owner", &owner, true)],
        &["example.com/hold"],
    )?;
    dependent(
        &api,
        "bystander",
        &[("v1", "ConfigMap", "owner", &owner, false)],
        &[],
    )?;

    // `kubectl delete --cascade=foreground` waits until the owner is gone.
    let started = Instant::now();
    let mut kubectl = Command::new(common::kube::kubectl_dir().join("kubectl.1.32"))
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args([
            "delete",
            "configmap",
            "owner",
            "--cascade=foreground",
            "--timeout=60s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut delete = KillOnDrop(Some(&mut kubectl));

    // The owner stays, marked, while the blocker exists; the blocker is being deleted.
    poll(
        WAIT,
        "the blocking dependent to be deleted by the GC",
        || {
            let b = get(&api, &["configmap", "blocker"]).ok()??;
            (!b["metadata"]["deletionTimestamp"].is_null()).then_some(())
        },
    )
    .with_context(|| api.logs())?;
    let o = get(&api, &["configmap", "owner"])?.context("owner still exists")?;
    ensure!(!o["metadata"]["deletionTimestamp"].is_null(), "{o}");
    ensure!(
        o["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion")),
        "{o}"
    );
    ensure!(
        delete.running()?,
        "kubectl delete returned before the dependent was gone"
    );

    // Release the blocker: it goes, then the owner, then kubectl returns.
    api.ok(&[
        "patch",
        "configmap",
        "blocker",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])?;
    let out = delete.wait(WAIT)?;
    ensure!(
        out.status.success(),
        "kubectl delete failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("foreground delete returned after {:?}", started.elapsed());
    ensure!(get(&api, &["configmap", "owner"])?.is_none());
    ensure!(get(&api, &["configmap", "blocker"])?.is_none());
    // The non-blocking dependent is collected once the owner is gone.
    gone(
        &api,
        &["configmap", "bystander"],
        "the non-blocking dependent",
    )?;
    Ok(())
}

#[test]
fn t102_orphan_deletion_keeps_dependents_without_the_reference() -> Result<()> {
    let api = Api::server()?;
    api.ok(&["create", "configmap", "owner", "--from-literal=a=1"])?;
    let owner = uid(&api, &["configmap", "owner"])?;
    dependent(
        &api,
        "child",
        &[("v1", "ConfigMap", "owner", &owner, true)],
        &[],
    )?;
    api.ok(&[
        "delete",
        "configmap",
        "owner",
        "--cascade=orphan",
        "--timeout=60s",
    ])?;
    gone(&api, &["configmap", "owner"], "the owner to go")?;
    let c = get(&api, &["configmap", "child"])?.context("the dependent is kept")?;
    ensure!(c["metadata"]["ownerReferences"].is_null(), "{c}");
    ensure!(c["metadata"]["deletionTimestamp"].is_null(), "{c}");
    Ok(())
}

#[test]
fn t103_custom_resources_are_owners_and_dependents() -> Result<()> {
    let api = Api::server()?;
    let crd = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced",
        "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
        "versions":[{"name":"v1","served":true,"storage":true,
          "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}"#;
    api.ok_stdin(&["create", "-f", "-"], crd)?;
    api.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ])?;
    // A custom resource owning a ConfigMap.
    api.ok_stdin(
        &["create", "-f", "-"],
        r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"}}"#,
    )?;
    let w1 = uid(&api, &["widget", "w1"])?;
    dependent(
        &api,
        "of-widget",
        &[("example.com/v1", "Widget", "w1", &w1, true)],
        &[],
    )?;
    // A ConfigMap owning a custom resource (the GC must watch widgets, found after start).
    api.ok(&["create", "configmap", "cm-owner", "--from-literal=a=1"])?;
    let cm = uid(&api, &["configmap", "cm-owner"])?;
    let w2 = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w2", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm-owner", "uid": cm}]}});
    api.ok_stdin(&["create", "-f", "-"], &w2.to_string())?;

    api.ok(&["delete", "widget", "w1"])?;
    gone(
        &api,
        &["configmap", "of-widget"],
        "the dependent of a custom resource",
    )?;
    api.ok(&["delete", "configmap", "cm-owner"])?;
    gone(
        &api,
        &["widget", "w2"],
        "a custom resource whose owner is gone",
    )?;
    Ok(())
}

/// A child process killed (SIGKILL) when dropped unless it was waited for.
struct KillOnDrop<'a>(Option<&'a mut Child>);

impl KillOnDrop<'_> {
    fn running(&mut self) -> Result<bool> {
        let c = self.0.as_mut().context("waited already")?;
        Ok(c.try_wait()?.is_none())
    }

    fn wait(&mut self, timeout: Duration) -> Result<std::process::Output> {
        let c = self.0.take().context("waited already")?;
        let deadline = Instant::now() + timeout;
        while c.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = c.kill();
                bail!("process did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut out = std::process::Output {
            status: c.wait()?,
            stdout: vec![],
            stderr: vec![],
        };
        use std::io::Read;
        if let Some(mut s) = c.stdout.take() {
            s.read_to_end(&mut out.stdout)?;
        }
        if let Some(mut s) = c.stderr.take() {
            s.read_to_end(&mut out.stderr)?;
        }
        Ok(out)
    }
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The Lease's holderIdentity (empty when released), via kubectl.
fn holder(api: &Api) -> Option<String> {
    let out = api
        .kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "keelson-controller-manager",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn lease(api: &Api) -> Result<serde_json::Value> {
    get(
        api,
        &["lease", "-n", "kube-system", "keelson-controller-manager"],
    )?
    .context("the lease exists")
}

#[test]
fn t104_controller_manager_failover_within_five_seconds() -> Result<()> {
    // No in-process controller manager: only the replicas started here compete.
    let mut api = Api::server_with(&["--disable-controllers"])?;
    let names = ["cm-a", "cm-b", "cm-c"];
    let mut pids = std::collections::HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let log = api.dir.path().join(format!("{name}.log"));
        let f = std::fs::File::create(&log)?;
        let child = Command::new(keelson_bin())
            .arg("controller-manager")
            .arg("--kubeconfig")
            .arg(&api.kubeconfig)
            .args(["--leader-elect-identity", name])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()?;
        pids.insert(name.to_string(), (i, child.id()));
        api.children.push(child);
        api.logs.push(log);
    }
    let leader = poll(WAIT, "a replica to hold the lease", || {
        holder(&api).filter(|h| names.contains(&h.as_str()))
    })
    .with_context(|| api.logs())?;
    let l = lease(&api)?;
    ensure!(l["spec"]["leaseDurationSeconds"] == 4, "{l}");
    ensure!(!l["spec"]["renewTime"].is_null(), "{l}");
    // Exactly one replica acts: only the holder logged that it acquired the lease.
    let acquired = |name: &str| -> usize {
        let log = api.dir.path().join(format!("{name}.log"));
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches("acquired the lease")
            .count()
    };
    // The holder renews (renewTime moves) and keeps the lease.
    let first_renew = l["spec"]["renewTime"].clone();
    poll(WAIT, "the holder to renew", || {
        let l = lease(&api).ok()?;
        (l["spec"]["renewTime"] != first_renew && l["spec"]["holderIdentity"] == leader.as_str())
            .then_some(())
    })?;
    for n in names {
        let want = usize::from(n == leader);
        ensure!(
            acquired(n) == want,
            "{n} acquired {} times\n{}",
            acquired(n),
            api.logs()
        );
    }
    let transitions = lease(&api)?["spec"]["leaseTransitions"]
        .as_i64()
        .unwrap_or(-1);

    // SIGKILL the holder; a standby takes over within the promised 5 s.
    let (idx, _) = pids[&leader];
    api.children[1 + idx].kill()?;
    let killed = Instant::now();
    let second = poll(Duration::from_secs(15), "a standby to take over", || {
        holder(&api).filter(|h| *h != leader && names.contains(&h.as_str()))
    })
    .with_context(|| api.logs())?;
    let failover = killed.elapsed();
    println!("failover after SIGKILL of {leader}: {second} holds the lease after {failover:?}");
    ensure!(
        failover < Duration::from_secs(8),
        "failover took {failover:?} (promise: < 5 s)"
    );
    let after = lease(&api)?;
    ensure!(
        after["spec"]["leaseTransitions"].as_i64() == Some(transitions + 1),
        "leaseTransitions {transitions} -> {after}"
    );

    // The new leader collects garbage.
    api.ok(&["create", "configmap", "owner", "--from-literal=a=1"])?;
    let owner = uid(&api, &["configmap", "owner"])?;
    dependent(
        &api,
        "child",
        &[("v1", "ConfigMap", "owner", &owner, false)],
        &[],
    )?;
    api.ok(&["delete", "configmap", "owner"])?;
    gone(
        &api,
        &["configmap", "child"],
        "the new leader to collect garbage",
    )?;

    // A graceful shutdown (SIGTERM) releases the lease: the last standby takes it at once.
    let (idx2, pid2) = pids[&second];
    let term = Command::new("kill")
        .args(["-TERM", &pid2.to_string()])
        .status()?;
    ensure!(term.success());
    let stopped = Instant::now();
    let third = poll(
        Duration::from_secs(15),
        "the last standby to take over",
        || holder(&api).filter(|h| *h != leader && *h != second && names.contains(&h.as_str())),
    )
    .with_context(|| api.logs())?;
    let handover = stopped.elapsed();
    println!("handover after SIGTERM of {second}: {third} holds the lease after {handover:?}");
    ensure!(
        handover < Duration::from_secs(3),
        "a released lease took {handover:?} to be taken over"
    );
    let exited = poll(WAIT, "the stopped replica to exit", || {
        api.children[1 + idx2].try_wait().ok().flatten()
    })?;
    ensure!(exited.success(), "SIGTERM exit status {exited}");
    Ok(())
}

/// A fake, Ready node (no agent) for the scheduler to bind to.
fn fake_node(api: &Api, name: &str) -> Result<()> {
    let n = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    });
    api.ok_stdin(&["create", "-f", "-"], &n.to_string())?;
    Ok(())
}

/// Names of the live (not terminating) pods with label `sel`.
fn live_pods(api: &Api, sel: &str) -> Result<Vec<serde_json::Value>> {
    // An empty list prints nothing with --ignore-not-found.
    let l = get(api, &["pods", "-l", sel])?.unwrap_or_default();
    Ok(l["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect())
}

#[test]
fn t105_replicaset_keeps_replicas_adopts_and_replaces() -> Result<()> {
    let api = Api::full()?;
    // An orphan pod matching the selector is adopted, not duplicated.
    api.ok(&["run", "orphan", "--image=nginx", "--labels=app=web"])?;
    let rs = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    });
    api.ok_stdin(&["create", "-f", "-"], &rs.to_string())?;
    let rs_uid = uid(&api, &["rs", "web"])?;
    let pods = poll(WAIT, "3 pods owned by the ReplicaSet", || {
        let pods = live_pods(&api, "app=web").ok()?;
        let owned = pods
            .iter()
            .filter(|p| p["metadata"]["ownerReferences"][0]["uid"] == rs_uid.as_str())
            .count();
        (pods.len() == 3 && owned == 3).then_some(pods)
    })
    .with_context(|| api.logs())?;
    ensure!(
        pods.iter().any(|p| p["metadata"]["name"] == "orphan"),
        "the orphan was adopted: {pods:?}"
    );
    let o = &get(&api, &["pod", "orphan"])?.context("orphan")?["metadata"]["ownerReferences"][0];
    ensure!(
        o["controller"] == true && o["blockOwnerDeletion"] == true && o["kind"] == "ReplicaSet",
        "{o}"
    );
    // A deleted pod is replaced.
    api.ok(&["delete", "pod", "orphan", "--grace-period=0", "--force"])?;
    poll(WAIT, "the deleted pod to be replaced", || {
        let pods = live_pods(&api, "app=web").ok()?;
        (pods.len() == 3 && pods.iter().all(|p| p["metadata"]["name"] != "orphan")).then_some(())
    })
    .with_context(|| api.logs())?;
    // Status, and kubectl's view of it.
    poll(WAIT, "status.replicas = 3", || {
        let rs = get(&api, &["rs", "web"]).ok()??;
        (rs["status"]["replicas"] == 3 && rs["status"]["observedGeneration"] == 1).then_some(())
    })
    .with_context(|| api.logs())?;
    // Scale down: two go, and the events say so.
    api.ok(&["scale", "rs", "web", "--replicas=1"])?;
    poll(WAIT, "scale-down to 1", || {
        let pods = live_pods(&api, "app=web").ok()?;
        let rs = get(&api, &["rs", "web"]).ok()??;
        (pods.len() == 1
            && rs["status"]["replicas"] == 1
            && rs["status"]["observedGeneration"] == 2)
            .then_some(())
    })
    .with_context(|| api.logs())?;
    poll(WAIT, "SuccessfulCreate and SuccessfulDelete events", || {
        let out = api.ok(&["describe", "rs", "web"]).ok()?;
        (out.contains("SuccessfulCreate") && out.contains("SuccessfulDelete")).then_some(())
    })
    .with_context(|| api.logs())?;
    // A pod whose labels stop matching is released and replaced.
    let kept = live_pods(&api, "app=web")?[0]["metadata"]["name"]
        .as_str()
        .context("a pod name")?
        .to_string();
    api.ok(&["label", "pod", &kept, "app=other", "--overwrite"])?;
    poll(WAIT, "the relabelled pod released and replaced", || {
        let released = get(&api, &["pod", &kept]).ok()??;
        let pods = live_pods(&api, "app=web").ok()?;
        (released["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|a| a.is_empty())
            && pods.len() == 1)
            .then_some(())
    })
    .with_context(|| api.logs())?;
    // Deleting the ReplicaSet cascades (garbage collector).
    api.ok(&["delete", "rs", "web"])?;
    poll(WAIT, "the ReplicaSet's pods to be collected", || {
        live_pods(&api, "app=web").ok()?.is_empty().then_some(())
    })
    .with_context(|| {
        format!(
            "{}\n{}",
            api.ok(&["get", "pods", "-o", "yaml"]).unwrap_or_default(),
            api.logs()
        )
    })?;
    Ok(())
}

#[test]
fn t106_deployment_rollout_status_history_undo_pause() -> Result<()> {
    let api = Api::full()?;
    fake_node(&api, "n1")?;
    fake_node(&api, "n2")?;
    let _kubelet = common::kube::FakeKubelet::start(&api.kubeconfig, Duration::from_millis(200))?;
    api.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.0",
        "--replicas=4",
    ])?;
    let out = api.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])?;
    ensure!(out.contains("successfully rolled out"), "{out}");
    let d = get(&api, &["deployment", "web"])?.context("deployment")?;
    ensure!(
        d["status"]["readyReplicas"] == 4
            && d["status"]["availableReplicas"] == 4
            && d["status"]["updatedReplicas"] == 4
            && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1",
        "{d}"
    );
    let table = api.ok(&["get", "deployment", "web"])?;
    ensure!(table.contains("4/4"), "{table}");

    // A new image: a rolling update to a second ReplicaSet, never below 3 available
    // (maxUnavailable 25 % of 4 = 1) nor above 5 pods (maxSurge 25 % = 1).
    api.ok(&["set", "image", "deployment/web", "nginx=nginx:2.0"])?;
    let watch = std::thread::spawn({
        let api_kc = api.kubeconfig.clone();
        move || -> Result<usize> {
            // Count pods at every step until the rollout is done.
            let mut max = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                let out = common::kube::kubectl_at(
                    &api_kc,
                    &std::env::temp_dir(),
                    "1.32",
                    &["get", "pods", "-l", "app=web", "-o", "name"],
                )?;
                let n = String::from_utf8_lossy(&out.stdout).lines().count();
                max = max.max(n);
                let rs = common::kube::kubectl_at(
                    &api_kc,
                    &std::env::temp_dir(),
                    "1.32",
                    &["get", "rs", "-l", "app=web", "-o", "name"],
                )?;
                if String::from_utf8_lossy(&rs.stdout).lines().count() == 2 && n == 4 {
                    let d = common::kube::kubectl_at(
                        &api_kc,
                        &std::env::temp_dir(),
                        "1.32",
                        &[
                            "get",
                            "deployment",
                            "web",
                            "-o",
                            "jsonpath={.status.updatedReplicas}/{.status.replicas}",
                        ],
                    )?;
                    if String::from_utf8_lossy(&d.stdout) == "4/4" {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(max)
        }
    });
    let out = api.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])?;
    ensure!(out.contains("successfully rolled out"), "{out}");
    let max_pods = watch
        .join()
        .map_err(|_| anyhow::anyhow!("watcher thread panicked"))??;
    ensure!(
        max_pods <= 5 + 1,
        "at most replicas + maxSurge pods (+1 terminating seen): {max_pods}"
    );
    let rss = get(&api, &["rs", "-l", "app=web"])?.context("rs list")?;
    let items = rss["items"].as_array().context("items")?;
    ensure!(items.len() == 2, "two ReplicaSets: {rss}");
    let history = api.ok(&["rollout", "history", "deployment/web"])?;
    ensure!(history.contains('1') && history.contains('2'), "{history}");

    // Undo: back to nginx:1.0, the old ReplicaSet becomes revision 3.
    api.ok(&["rollout", "undo", "deployment/web"])?;
    let out = api.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])?;
    ensure!(out.contains("successfully rolled out"), "{out}");
    let d = get(&api, &["deployment", "web"])?.context("deployment")?;
    ensure!(
        d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.0"
            && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3",
        "{d}"
    );
    let rss = get(&api, &["rs", "-l", "app=web"])?.context("rs list")?;
    ensure!(
        rss["items"].as_array().map(Vec::len) == Some(2),
        "undo reuses the old ReplicaSet"
    );

    // Pause: a template change does not roll out until resumed; scaling still works.
    api.ok(&["rollout", "pause", "deployment/web"])?;
    api.ok(&["set", "image", "deployment/web", "nginx=nginx:3.0"])?;
    api.ok(&["scale", "deployment/web", "--replicas=2"])?;
    poll(WAIT, "the paused deployment to scale to 2", || {
        let pods = live_pods(&api, "app=web").ok()?;
        (pods.len() == 2).then_some(())
    })
    .with_context(|| api.logs())?;
    let rss = get(&api, &["rs", "-l", "app=web"])?.context("rs list")?;
    ensure!(
        rss["items"].as_array().map(Vec::len) == Some(2),
        "no new ReplicaSet while paused"
    );
    api.ok(&["rollout", "resume", "deployment/web"])?;
    let out = api.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])?;
    ensure!(out.contains("successfully rolled out"), "{out}");
    let pods = live_pods(&api, "app=web")?;
    ensure!(
        pods.len() == 2
            && pods
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:3.0"),
        "{pods:?}"
    );
    // restart: a new ReplicaSet with the restartedAt annotation.
    api.ok(&["rollout", "restart", "deployment/web"])?;
    let out = api.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])?;
    ensure!(out.contains("successfully rolled out"), "{out}");
    poll(WAIT, "describe to show the rollout complete", || {
        let describe = api.ok(&["describe", "deployment", "web"]).ok()?;
        (describe.contains("ScalingReplicaSet") && describe.contains("NewReplicaSetAvailable"))
            .then_some(())
    })
    .with_context(|| {
        format!(
            "{}\n{}\n{}",
            api.ok(&["describe", "deployment", "web"]).unwrap_or_default(),
            api.ok(&["get", "rs", "-o", "custom-columns=NAME:.metadata.name,SPEC:.spec.replicas,R:.status.replicas,READY:.status.readyReplicas,AV:.status.availableReplicas,OG:.status.observedGeneration,G:.metadata.generation"]).unwrap_or_default(),
            api.ok(&["get", "pods", "-o", "wide"]).unwrap_or_default()
        )
    })?;
    Ok(())
}

#[test]
fn t107_endpoints_slices_and_default_service_accounts() -> Result<()> {
    let api = Api::full()?;
    fake_node(&api, "n1")?;
    let _kubelet = common::kube::FakeKubelet::start(&api.kubeconfig, Duration::from_millis(100))?;
    // Every namespace gets its default ServiceAccount and the cluster CA.
    api.ok(&["create", "namespace", "svc-test"])?;
    poll(
        WAIT,
        "the default ServiceAccount and kube-root-ca.crt",
        || {
            let sa = get(&api, &["serviceaccount", "default", "-n", "svc-test"]).ok()??;
            let cm = get(&api, &["configmap", "kube-root-ca.crt", "-n", "svc-test"]).ok()??;
            (sa["metadata"]["name"] == "default"
                && cm["data"]["ca.crt"]
                    .as_str()
                    .is_some_and(|c| c.contains("BEGIN CERTIFICATE")))
            .then_some(())
        },
    )
    .with_context(|| api.logs())?;
    // Three labelled pods behind pulse-service (port 80 to 8080), as in the brief.
    for i in 0..3 {
        api.ok(&[
            "run",
            &format!("pulse-{i}"),
            "--image=nginx",
            "--labels=app=pulse",
            "--port=8080",
        ])?;
    }
    api.ok(&[
        "expose",
        "pod",
        "pulse-0",
        "--name=pulse-service",
        "--port=80",
        "--target-port=8080",
        "--selector=app=pulse",
    ])?;
    let ep = poll(WAIT, "Endpoints with the three ready pods", || {
        let ep = get(&api, &["endpoints", "pulse-service"]).ok()??;
        let addrs = ep["subsets"][0]["addresses"].as_array()?.len();
        (addrs == 3 && ep["subsets"][0]["ports"][0]["port"] == 8080).then_some(ep)
    })
    .with_context(|| api.logs())?;
    ensure!(
        ep["subsets"][0]["addresses"][0]["targetRef"]["kind"] == "Pod",
        "{ep}"
    );
    let slices = poll(WAIT, "an EndpointSlice with three ready endpoints", || {
        let l = get(
            &api,
            &[
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=pulse-service",
            ],
        )
        .ok()??;
        let items = l["items"].as_array()?.clone();
        let ready = items
            .iter()
            .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["conditions"]["ready"] == true)
            .count();
        (items.len() == 1 && ready == 3).then_some(items)
    })
    .with_context(|| api.logs())?;
    ensure!(
        slices[0]["ports"][0]["port"] == 8080 && slices[0]["addressType"] == "IPv4",
        "{slices:?}"
    );
    let describe = api.ok(&["describe", "service", "pulse-service"])?;
    ensure!(describe.contains(":8080"), "{describe}");
    // A pod going away leaves the Endpoints.
    api.ok(&["delete", "pod", "pulse-2", "--grace-period=0", "--force"])?;
    poll(WAIT, "two addresses left", || {
        let ep = get(&api, &["endpoints", "pulse-service"]).ok()??;
        (ep["subsets"][0]["addresses"].as_array()?.len() == 2).then_some(())
    })
    .with_context(|| api.logs())?;
    // The Service goes, and its Endpoints with it.
    api.ok(&["delete", "service", "pulse-service"])?;
    poll(WAIT, "the Endpoints to be deleted", || {
        get(&api, &["endpoints", "pulse-service"])
            .ok()?
            .is_none()
            .then_some(())
    })
    .with_context(|| api.logs())?;
    Ok(())
}

#[test]
fn t108_jobs_run_to_completion_and_cronjobs_create_jobs() -> Result<()> {
    let api = Api::full()?;
    fake_node(&api, "n1")?;
    let _kubelet = common::kube::FakeKubelet::start(&api.kubeconfig, Duration::from_millis(100))?;
    // A CronJob every minute: its first Job comes at the next minute boundary.
    api.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=* * * * *",
        "--",
        "date",
    ])?;
    // A Job of 3 completions, 2 at a time.
    let job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
        "spec": {"completions": 3, "parallelism": 2,
                 "template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}},
    });
    api.ok_stdin(&["create", "-f", "-"], &job.to_string())?;
    let out = api.ok(&[
        "wait",
        "--for=condition=complete",
        "job/batch",
        "--timeout=60s",
    ])?;
    ensure!(out.contains("condition met"), "{out}");
    let j = get(&api, &["job", "batch"])?.context("job")?;
    ensure!(
        j["status"]["succeeded"] == 3
            && j["status"]["startTime"].is_string()
            && j["status"]["completionTime"].is_string(),
        "{j}"
    );
    let table = api.ok(&["get", "job", "batch"])?;
    ensure!(table.contains("3/3"), "{table}");
    // Counted pods lose the tracking finalizer.
    poll(
        WAIT,
        "the job's pods to lose their tracking finalizer",
        || {
            let l = get(&api, &["pods", "-l", "job-name=batch"]).ok()??;
            let items = l["items"].as_array()?.clone();
            (items.len() == 3
                && items.iter().all(|p| {
                    p["metadata"]["finalizers"]
                        .as_array()
                        .is_none_or(|f| f.iter().all(|f| f != "batch.kubernetes.io/job-tracking"))
                }))
            .then_some(())
        },
    )
    .with_context(|| api.logs())?;
    // The CronJob's first Job, owned by it and listed as active or last scheduled.
    let cj_job = poll(
        Duration::from_secs(90),
        "the CronJob to create a Job",
        || {
            let l = get(&api, &["jobs"]).ok()??;
            l["items"].as_array()?.iter().find_map(|j| {
                let owner = &j["metadata"]["ownerReferences"][0];
                (owner["kind"] == "CronJob" && owner["name"] == "tick").then(|| {
                    j["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
            })
        },
    )
    .with_context(|| api.logs())?;
    ensure!(cj_job.starts_with("tick-"), "{cj_job}");
    poll(WAIT, "the CronJob's lastScheduleTime", || {
        let cj = get(&api, &["cronjob", "tick"]).ok()??;
        cj["status"]["lastScheduleTime"].is_string().then_some(())
    })
    .with_context(|| api.logs())?;
    Ok(())
}

#[test]
fn t109_statefulsets_and_daemonsets() -> Result<()> {
    let api = Api::full()?;
    fake_node(&api, "n1")?;
    fake_node(&api, "n2")?;
    let _kubelet = common::kube::FakeKubelet::start(&api.kubeconfig, Duration::from_millis(100))?;
    // With a claim template: db-0's claim is created before it; with no volume provisioner
    // here the claim stays unbound, so db-0 cannot be scheduled and, OrderedReady, db-1 is
    // not created.
    let db = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db",
                 "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "c", "image": "postgres:16"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"],
                              "resources": {"requests": {"storage": "1Gi"}}}}]},
    });
    api.ok_stdin(&["create", "-f", "-"], &db.to_string())?;
    poll(WAIT, "db-0 and its claim", || {
        let pvc = get(&api, &["pvc", "data-db-0"]).ok()??;
        let pod = get(&api, &["pod", "db-0"]).ok()??;
        (pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
            && pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-db-0")
            .then_some(())
    })
    .with_context(|| api.logs())?;
    let msg = poll(WAIT, "db-0 reported unschedulable", || {
        let pod = get(&api, &["pod", "db-0"]).ok()??;
        let c = pod["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "PodScheduled")?
            .clone();
        c["message"].as_str().map(str::to_string)
    })
    .with_context(|| api.logs())?;
    ensure!(
        msg.contains("unbound immediate PersistentVolumeClaims"),
        "{msg}"
    );
    ensure!(
        get(&api, &["pod", "db-1"])?.is_none(),
        "OrderedReady: db-1 waits for db-0"
    );

    // Without claims: three pods in order, then a scale-down from the highest ordinal.
    let web = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "serviceName": "web",
                 "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    });
    api.ok_stdin(&["create", "-f", "-"], &web.to_string())?;
    let out = api.ok(&["rollout", "status", "statefulset/web", "--timeout=60s"])?;
    ensure!(
        out.contains("roll out complete") || out.contains("rolling update complete"),
        "{out}"
    );
    let pods = live_pods(&api, "app=web")?;
    let mut names: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    names.sort();
    ensure!(names == ["web-0", "web-1", "web-2"], "{names:?}");
    ensure!(
        pods.iter().all(
            |p| p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"]
                == p["metadata"]["name"]
        ),
        "{pods:?}"
    );
    api.ok(&["scale", "statefulset", "web", "--replicas=1"])?;
    poll(WAIT, "web-1 and web-2 to go", || {
        let pods = live_pods(&api, "app=web").ok()?;
        (pods.len() == 1 && pods[0]["metadata"]["name"] == "web-0").then_some(())
    })
    .with_context(|| api.logs())?;

    // A DaemonSet: one pod per schedulable node, and one more when a node joins.
    let ds = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    });
    api.ok_stdin(&["create", "-f", "-"], &ds.to_string())?;
    let out = api.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"])?;
    ensure!(out.contains("successfully rolled out"), "{out}");
    let on_nodes = |n: usize| -> Option<()> {
        let pods = live_pods(&api, "app=agent").ok()?;
        let mut nodes: Vec<String> = pods
            .iter()
            .filter_map(|p| p["spec"]["nodeName"].as_str().map(str::to_string))
            .collect();
        nodes.sort();
        nodes.dedup();
        (pods.len() == n && nodes.len() == n).then_some(())
    };
    poll(WAIT, "one agent pod on each of 2 nodes", || on_nodes(2)).with_context(|| api.logs())?;
    fake_node(&api, "n3")?;
    poll(WAIT, "an agent pod on the new node", || on_nodes(3)).with_context(|| api.logs())?;
    let d = get(&api, &["daemonset", "agent"])?.context("ds")?;
    ensure!(
        d["status"]["desiredNumberScheduled"].as_i64() >= Some(2),
        "{d}"
    );
    Ok(())
}

/// POST an Eviction for `pod` (what `kubectl drain` sends).
fn evict(api: &Api, pod: &str) -> Result<std::process::Output> {
    let body = serde_json::json!({"apiVersion": "policy/v1", "kind": "Eviction",
                                  "metadata": {"name": pod, "namespace": "default"}});
    let path = format!("/api/v1/namespaces/default/pods/{pod}/eviction");
    let f = api.dir.path().join("eviction.json");
    std::fs::write(&f, body.to_string())?;
    api.kubectl(&["create", "--raw", &path, "-f", &f.to_string_lossy()])
}

#[test]
fn t115_disruption_budget_status_gates_evictions() -> Result<()> {
    let api = Api::full()?;
    fake_node(&api, "n1")?;
    let _kubelet = common::kube::FakeKubelet::start(&api.kubeconfig, Duration::from_millis(100))?;
    api.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=3",
    ])?;
    api.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])?;
    api.ok(&[
        "create",
        "pdb",
        "web",
        "--selector=app=web",
        "--min-available=2",
    ])?;
    poll(WAIT, "the budget to allow one disruption", || {
        let p = get(&api, &["pdb", "web"]).ok()??;
        let s = &p["status"];
        (s["disruptionsAllowed"] == 1
            && s["currentHealthy"] == 3
            && s["desiredHealthy"] == 2
            && s["expectedPods"] == 3)
            .then_some(())
    })
    .with_context(|| api.logs())?;
    let table = api.ok(&["get", "pdb", "web"])?;
    ensure!(
        table.contains("web")
            && table
                .lines()
                .nth(1)
                .is_some_and(|l| l.split_whitespace().nth(3) == Some("1")),
        "{table}"
    );
    // One eviction is allowed.
    let victim = live_pods(&api, "app=web")?[0]["metadata"]["name"]
        .as_str()
        .context("a pod")?
        .to_string();
    let out = evict(&api, &victim)?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A budget that allows none refuses with 429.
    api.ok(&[
        "patch",
        "pdb",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":3}}"#,
    ])?;
    poll(WAIT, "the budget to allow no disruption", || {
        let p = get(&api, &["pdb", "web"]).ok()??;
        (p["status"]["disruptionsAllowed"] == 0 && p["status"]["desiredHealthy"] == 3).then_some(())
    })
    .with_context(|| api.logs())?;
    let pod = live_pods(&api, "app=web")?[0]["metadata"]["name"]
        .as_str()
        .context("a pod")?
        .to_string();
    let out = evict(&api, &pod)?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && err.contains("disruption budget"),
        "{err}"
    );
    Ok(())
}
