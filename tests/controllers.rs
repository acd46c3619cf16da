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
