//! End-to-end: the official Python client (`kubernetes` from PyPI, installed by
//! `scripts/setup.sh`) against a real `keelson server`, loading the admin kubeconfig the
//! server wrote. Its generated models deserialize every answer, so a field of the wrong
//! shape fails here even where kubectl and kube-rs are lenient.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use common::kube::Api;
use common::poll;

/// Creates a pod, lists pods, then watches from the version before the create: the pod it
/// made arrives as ADDED, and a second pod made while the watch is open arrives live. One
/// line of output per step.
const WATCH_SCRIPT: &str = r#"
from kubernetes import client, config, watch

config.load_kube_config()
v1 = client.CoreV1Api()
ns = "default"

def pod(name):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"from": "python"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }

before = v1.list_namespaced_pod(ns).metadata.resource_version
created = v1.create_namespaced_pod(ns, pod("py-1"))
print("CREATED", created.metadata.name, bool(created.metadata.uid), flush=True)

listed = v1.list_namespaced_pod(ns, label_selector="from=python")
print("LISTED", ",".join(p.metadata.name for p in listed.items), flush=True)

w = watch.Watch()
for ev in w.stream(v1.list_namespaced_pod, ns, resource_version=before, timeout_seconds=15):
    name = ev["object"].metadata.name
    print("EVENT", ev["type"], name, flush=True)
    if ev["type"] == "ADDED" and name == "py-1":
        v1.create_namespaced_pod(ns, pod("py-2"))
    if ev["type"] == "ADDED" and name == "py-2":
        w.stop()
print("DONE", flush=True)
"#;

/// Deletes a pod through the typed API (which parses the answer as a `V1Pod`, as
/// kube-apiserver answers for pods), then reads it back as a 404.
const DELETE_SCRIPT: &str = r#"
from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_kube_config()
v1 = client.CoreV1Api()
ns = "default"
v1.create_namespaced_pod(ns, {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "py-del"},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
})
deleted = v1.delete_namespaced_pod("py-del", ns)
print("DELETED", type(deleted).__name__, deleted.metadata.name, flush=True)
try:
    v1.read_namespaced_pod("py-del", ns)
    print("READ-AFTER-DELETE found", flush=True)
except ApiException as e:
    print("READ-AFTER-DELETE", e.status, flush=True)
"#;

/// Fails, saying how to fix it, unless `python3` can import `kubernetes`.
fn check_python() -> Result<()> {
    let out = Command::new("python3")
        .args(["-c", "import kubernetes; print(kubernetes.__version__)"])
        .stdin(Stdio::null())
        .output()
        .context("python3 is not installed: run scripts/setup.sh")?;
    if !out.status.success() {
        bail!(
            "python3 cannot import the kubernetes client ({}): run scripts/setup.sh",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `script` with `KUBECONFIG` set to `api`'s kubeconfig; its stdout lines once it
/// exits 0 within 30 s, else a failure with its output.
fn run_python(api: &Api, script: &str) -> Result<Vec<String>> {
    let path = api.dir.path().join("client.py");
    std::fs::write(&path, script)?;
    let stdout = api.dir.path().join("client.out");
    let stderr = api.dir.path().join("client.err");
    let mut child = Command::new("python3")
        .arg(&path)
        .env("KUBECONFIG", &api.kubeconfig)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout)?)
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    let waited = poll(
        Duration::from_secs(30),
        "the Python client to finish",
        || child.try_wait().ok().flatten(),
    );
    if waited.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = std::fs::read_to_string(&stdout).unwrap_or_default();
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    let status = waited.with_context(|| format!("stdout:\n{out}\nstderr:\n{err}"))?;
    if !status.success() {
        bail!("the Python client failed ({status})\nstdout:\n{out}\nstderr:\n{err}");
    }
    Ok(out.lines().map(str::to_string).collect())
}

#[test]
fn t90_python_client_creates_lists_and_watches_pods() -> Result<()> {
    check_python()?;
    let api = Api::server()?;
    let lines = run_python(&api, WATCH_SCRIPT)?;
    assert_eq!(
        lines,
        vec![
            "CREATED py-1 True",
            "LISTED py-1",
            "EVENT ADDED py-1",
            "EVENT ADDED py-2",
            "DONE",
        ]
    );
    Ok(())
}

#[test]
fn t91_python_client_deletes_a_pod() -> Result<()> {
    check_python()?;
    let api = Api::server()?;
    let lines = run_python(&api, DELETE_SCRIPT)?;
    assert_eq!(lines, vec!["DELETED V1Pod py-del", "READ-AFTER-DELETE 404"]);
    Ok(())
}
