//! End-to-end: the real `kubectl` (1.32; 1.27 and 1.33 for a subset) against a real
//! `keelson server` (embedded store, HTTPS with its generated CA, admin kubeconfig).

mod common;

use std::time::Duration;

use anyhow::Result;
use common::kube::Api;
use common::poll;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels: {app: nginx}
spec:
  replicas: 2
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
"#;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

#[test]
fn t60_discovery_version_and_bootstrap_objects() -> Result<()> {
    let api = Api::server()?;
    let v = json(&api.ok(&["version", "-o", "json"])?);
    assert_eq!(v["serverVersion"]["major"], "1");
    assert_eq!(v["serverVersion"]["minor"], "32");
    let res = api.ok(&["api-resources", "--cached=false"])?;
    for line in [
        "deployments",
        "deploy",
        "apps/v1",
        "customresourcedefinitions",
        "leases",
        "horizontalpodautoscalers",
    ] {
        assert!(res.contains(line), "api-resources lacks {line}:\n{res}");
    }
    let vs = api.ok(&["api-versions"])?;
    for gv in [
        "apps/v1",
        "batch/v1",
        "autoscaling/v2",
        "autoscaling/v1",
        "v1",
        "rbac.authorization.k8s.io/v1",
    ] {
        assert!(
            vs.lines().any(|l| l == gv),
            "api-versions lacks {gv}:\n{vs}"
        );
    }
    let ns = api.ok(&["get", "ns", "-o", "name"])?;
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let svc = json(&api.ok(&["get", "svc", "kubernetes", "-o", "json"])?);
    assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443);
    // The legacy resource list that `auth can-i` and `drain` read.
    let v1 = json(&api.ok(&["get", "--raw", "/api/v1"])?);
    let ev = v1["resources"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "pods/eviction").cloned());
    assert_eq!(
        ev.map(|e| e["group"].clone()),
        Some(serde_json::json!("policy"))
    );
    assert_eq!(api.ok(&["get", "--raw", "/healthz"])?.trim(), "ok");
    assert_eq!(api.ok(&["get", "--raw", "/readyz"])?.trim(), "ok");
    assert!(
        api.ok(&["get", "--raw", "/metrics"])?
            .contains("apiserver_request_total")
    );
    Ok(())
}

#[test]
fn t61_apply_create_then_update_then_unchanged() -> Result<()> {
    t61_apply_create_then_update_then_unchanged_on(&Api::server()?)
}

/// The same as [`t61_apply_create_then_update_then_unchanged`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t61e_on_etcd() -> Result<()> {
    t61_apply_create_then_update_then_unchanged_on(&Api::on_etcd()?)
}

fn t61_apply_create_then_update_then_unchanged_on(api: &Api) -> Result<()> {
    let out = api.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
    assert!(
        out.contains("deployment.apps/nginx-deployment created"),
        "{out}"
    );
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    let rv1 = d["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let out = api.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
    assert!(out.contains("unchanged"), "{out}");
    let changed = DEPLOYMENT
        .replace("nginx:1.14.2", "nginx:1.16.1")
        .replace(r#"value: "1""#, r#"value: "2""#);
    let out = api.ok_stdin(&["apply", "-f", "-"], &changed)?;
    assert!(out.contains("configured"), "{out}");
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.16.1");
    assert_eq!(c["env"], serde_json::json!([{"name": "A", "value": "2"}]));
    assert_eq!(c["ports"][0]["containerPort"], 80);
    assert_eq!(d["metadata"]["generation"], 2);
    assert_ne!(d["metadata"]["resourceVersion"].as_str().unwrap_or(""), rv1);
    // A removed field goes away on the next apply (client-side apply three-way patch).
    let no_env = changed.replace("        env:\n        - {name: A, value: \"2\"}\n", "");
    api.ok_stdin(&["apply", "-f", "-"], &no_env)?;
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none(),
        "{d}"
    );
    // Human output is the server's Table.
    let table = api.ok(&["get", "deploy"])?;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(table.contains("0/2"), "{table}");
    Ok(())
}

#[test]
fn t62_run_get_output_formats_and_selectors() -> Result<()> {
    t62_run_get_output_formats_and_selectors_on(&Api::server()?)
}

/// The same as [`t62_run_get_output_formats_and_selectors`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t62e_on_etcd() -> Result<()> {
    t62_run_get_output_formats_and_selectors_on(&Api::on_etcd()?)
}

fn t62_run_get_output_formats_and_selectors_on(api: &Api) -> Result<()> {
    for (name, app, tier) in [
        ("web1", "web", "fe"),
        ("web2", "web", "be"),
        ("db1", "db", "be"),
    ] {
        api.ok(&[
            "run",
            name,
            "--image=nginx",
            "--labels",
            &format!("app={app},tier={tier}"),
        ])?;
    }
    let wide = api.ok(&["get", "pods", "-o", "wide"])?;
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    assert!(wide.contains("Pending"), "{wide}");
    let names = |sel: &str| -> Result<Vec<String>> {
        let out = api.ok(&["get", "pods", "-l", sel, "-o", "name"])?;
        let mut v: Vec<String> = out
            .lines()
            .map(|l| l.trim_start_matches("pod/").to_string())
            .collect();
        v.sort();
        Ok(v)
    };
    assert_eq!(names("app=web")?, ["web1", "web2"]);
    assert_eq!(names("app==web,tier!=be")?, ["web1"]);
    assert_eq!(names("tier in (fe,x)")?, ["web1"]);
    assert_eq!(names("app notin (web)")?, ["db1"]);
    assert_eq!(names("tier")?, ["db1", "web1", "web2"]);
    assert_eq!(names("!app")?, Vec::<String>::new());
    let bad = api.fails(&["get", "pods", "-l", "a in (b"])?;
    assert!(
        bad.contains("BadRequest") || bad.contains("unable to parse"),
        "{bad}"
    );
    let by_name = api.ok(&[
        "get",
        "pods",
        "--field-selector",
        "metadata.name=db1",
        "-o",
        "name",
    ])?;
    assert_eq!(by_name.trim(), "pod/db1");
    let bad = api.fails(&["get", "pods", "--field-selector", "spec.bogus=x"])?;
    assert!(bad.contains("field label not supported"), "{bad}");
    let jp = api.ok(&[
        "get",
        "pod",
        "web1",
        "-o",
        "jsonpath={.metadata.labels.tier}",
    ])?;
    assert_eq!(jp, "fe");
    let y = api.ok(&["get", "pod", "web1", "-o", "yaml"])?;
    assert!(
        y.contains("uid:") && y.contains("creationTimestamp:") && y.contains("resourceVersion:"),
        "{y}"
    );
    let all = api.ok(&["get", "pods", "-A", "--show-labels"])?;
    assert!(all.contains("app=db,tier=be"), "{all}");
    // Pagination: chunks of one still list everything.
    let chunked = api.ok(&["get", "pods", "--chunk-size=1", "-o", "name"])?;
    assert_eq!(chunked.lines().count(), 3, "{chunked}");
    Ok(())
}

#[test]
fn t63_label_annotate_patch_scale_and_conflicts() -> Result<()> {
    // No controllers: the test writes a Deployment status by hand.
    t63_label_annotate_patch_scale_and_conflicts_on(&Api::server_with(&["--disable-controllers"])?)
}

/// The same as [`t63_label_annotate_patch_scale_and_conflicts`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t63e_on_etcd() -> Result<()> {
    t63_label_annotate_patch_scale_and_conflicts_on(&Api::on_etcd()?)
}

fn t63_label_annotate_patch_scale_and_conflicts_on(api: &Api) -> Result<()> {
    api.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
    api.ok(&["label", "deploy", "nginx-deployment", "tier=frontend"])?;
    api.ok(&["annotate", "deploy", "nginx-deployment", "note=hello"])?;
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert_eq!(d["metadata"]["labels"]["tier"], "frontend");
    assert_eq!(d["metadata"]["annotations"]["note"], "hello");
    api.ok(&["label", "deploy", "nginx-deployment", "tier-"])?;
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert!(d["metadata"]["labels"].get("tier").is_none());
    // A stale resourceVersion is a 409.
    let e = api.fails(&[
        "annotate",
        "deploy",
        "nginx-deployment",
        "x=y",
        "--resource-version=1",
    ])?;
    assert!(
        e.contains("Conflict") && e.contains("the object has been modified"),
        "{e}"
    );
    // Three patch types.
    api.ok(&[
        "patch",
        "deploy",
        "nginx-deployment",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReadySeconds":5}}"#,
    ])?;
    api.ok(&[
        "patch",
        "deploy",
        "nginx-deployment",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"#,
    ])?;
    api.ok(&[
        "patch",
        "deploy",
        "nginx-deployment",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}"#,
    ])?;
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert_eq!(d["spec"]["minReadySeconds"], 5);
    assert_eq!(d["spec"]["revisionHistoryLimit"], 3);
    let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names.len(),
        2,
        "strategic merge keeps nginx and adds sidecar: {names:?}"
    );
    assert!(names.contains(&"nginx") && names.contains(&"sidecar"));
    let e = api.fails(&[
        "patch",
        "deploy",
        "nginx-deployment",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":99}]"#,
    ])?;
    assert!(
        e.contains("is invalid") && e.contains("did not match"),
        "{e}"
    );
    // Scale through the scale subresource, with and without a precondition.
    api.ok(&["scale", "deploy", "nginx-deployment", "--replicas=3"])?;
    let scale = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/nginx-deployment/scale",
    ])?);
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=nginx");
    let e = api.fails(&[
        "scale",
        "deploy",
        "nginx-deployment",
        "--current-replicas=2",
        "--replicas=1",
    ])?;
    assert!(e.contains("Expected replicas to be 2, was 3"), "{e}");
    api.ok(&[
        "scale",
        "deploy",
        "nginx-deployment",
        "--current-replicas=3",
        "--replicas=1",
    ])?;
    assert_eq!(
        api.ok(&[
            "get",
            "deploy",
            "nginx-deployment",
            "-o",
            "jsonpath={.spec.replicas}"
        ])?,
        "1"
    );
    // Status is ignored on the main resource.
    api.ok(&[
        "patch",
        "deploy",
        "nginx-deployment",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":42}}"#,
    ])?;
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert_ne!(d["status"]["replicas"], 42);
    // ...and written through /status.
    api.ok(&[
        "patch",
        "deploy",
        "nginx-deployment",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":7}}"#,
    ])?;
    let d2 = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert_eq!(d2["status"]["replicas"], 7);
    assert_eq!(
        d2["metadata"]["generation"], d["metadata"]["generation"],
        "status writes do not bump generation"
    );
    Ok(())
}

#[test]
fn t64_errors_are_status_objects() -> Result<()> {
    t64_errors_are_status_objects_on(&Api::server()?)
}

/// The same as [`t64_errors_are_status_objects`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t64e_on_etcd() -> Result<()> {
    t64_errors_are_status_objects_on(&Api::on_etcd()?)
}

fn t64_errors_are_status_objects_on(api: &Api) -> Result<()> {
    let e = api.fails(&["get", "pod", "nope"])?;
    assert!(
        e.contains(r#"Error from server (NotFound): pods "nope" not found"#),
        "{e}"
    );
    let e = api.fails(&["get", "deploy", "nope"])?;
    assert!(e.contains(r#"deployments.apps "nope" not found"#), "{e}");
    api.ok(&["run", "p1", "--image=nginx"])?;
    let e = api.fails(&["run", "p1", "--image=nginx"])?;
    assert!(e.contains("AlreadyExists"), "{e}");
    let e = api.fails(&["run", "p2", "--image=nginx", "-n", "missing-ns"])?;
    assert!(e.contains(r#"namespaces "missing-ns" not found"#), "{e}");
    let raw = api.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods/nope"])?;
    assert!(!raw.status.success());
    let e = String::from_utf8_lossy(&raw.stderr);
    assert!(e.contains("NotFound"), "{e}");
    // Validation: 422 with field causes, strict unknown fields: 400; nothing is written.
    let e = api.fails(&["create", "configmap", "Bad_Name"])?;
    assert!(
        e.contains("is invalid") && e.contains("metadata.name"),
        "{e}"
    );
    let mismatch = DEPLOYMENT.replace(
        "labels: {app: nginx}\n    spec:",
        "labels: {app: other}\n    spec:",
    );
    let o = api.apply_stdin(&["apply", "-f", "-"], &mismatch)?;
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("`selector` does not match template `labels`"),
        "{e}"
    );
    let unknown = DEPLOYMENT.replace("  replicas: 2", "  replicas: 2\n  bogus: 1");
    let o = api.apply_stdin(&["apply", "-f", "-"], &unknown)?;
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(r#"unknown field "spec.bogus""#), "{e}");
    assert!(
        api.fails(&["get", "deploy", "nginx-deployment"])?
            .contains("NotFound")
    );
    // With validation off the unknown field is dropped, not stored.
    api.ok_stdin(&["apply", "--validate=false", "-f", "-"], &unknown)?;
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert!(d["spec"].get("bogus").is_none(), "{d}");
    assert_eq!(
        d["spec"]["revisionHistoryLimit"], 10,
        "defaults are applied"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let e = api.fails(&["get", "--raw", "/apis/nope.example.com/v1"])?;
    assert!(
        e.contains("NotFound") || e.contains("could not find"),
        "{e}"
    );
    Ok(())
}

#[test]
fn t65_delete_waits_and_namespace_lifecycle() -> Result<()> {
    t65_delete_waits_and_namespace_lifecycle_on(&Api::server()?)
}

/// The same as [`t65_delete_waits_and_namespace_lifecycle`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t65e_on_etcd() -> Result<()> {
    t65_delete_waits_and_namespace_lifecycle_on(&Api::on_etcd()?)
}

fn t65_delete_waits_and_namespace_lifecycle_on(api: &Api) -> Result<()> {
    api.ok(&["create", "namespace", "scratch"])?;
    api.ok(&["run", "p1", "--image=nginx", "-n", "scratch"])?;
    api.ok(&[
        "create",
        "configmap",
        "c1",
        "-n",
        "scratch",
        "--from-literal=a=b",
    ])?;
    let out = api.ok(&["delete", "pod", "p1", "-n", "scratch"])?;
    assert!(out.contains(r#"pod "p1" deleted"#), "{out}");
    assert!(
        api.fails(&["get", "pod", "p1", "-n", "scratch"])?
            .contains("NotFound")
    );
    api.ok(&["run", "p2", "--image=nginx", "-n", "scratch"])?;
    api.ok(&["delete", "namespace", "scratch", "--wait=false"])?;
    // Terminating: no new content.
    let e = api.fails(&["run", "p3", "--image=nginx", "-n", "scratch"])?;
    assert!(e.contains("Forbidden") || e.contains("NotFound"), "{e}");
    api.ok(&["wait", "--for=delete", "namespace/scratch", "--timeout=30s"])?;
    assert!(api.fails(&["get", "ns", "scratch"])?.contains("NotFound"));
    // Finalizers hold an object until cleared.
    api.ok(&["create", "configmap", "held"])?;
    api.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ])?;
    api.ok(&["delete", "configmap", "held", "--wait=false"])?;
    let cm = json(&api.ok(&["get", "configmap", "held", "-o", "json"])?);
    assert!(cm["metadata"]["deletionTimestamp"].is_string(), "{cm}");
    api.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])?;
    poll(
        Duration::from_secs(10),
        "the finalized configmap to go",
        || {
            api.fails(&["get", "configmap", "held"])
                .ok()
                .filter(|e| e.contains("NotFound"))
        },
    )?;
    Ok(())
}

#[test]
fn t66_watch_sees_changes_from_get_w() -> Result<()> {
    // A tiny watch cache window, so old revisions are served by the store fallback.
    let api = Api::server_with(&["--watch-cache-size", "2"])?;
    // kubectl watches from its list's resourceVersion, so once the sentinel is listed no
    // later write can be missed.
    api.ok(&["run", "sentinel", "--image=nginx"])?;
    let mut w = common::kube::Lines::spawn(&api.kubeconfig, &["get", "pods", "-w", "-o", "name"])?;
    w.wait_for("pod/sentinel", Duration::from_secs(15))?;
    api.ok(&["run", "watched", "--image=nginx"])?;
    api.ok(&["label", "pod", "watched", "x=y"])?;
    api.ok(&["delete", "pod", "watched"])?;
    w.wait_count("pod/watched", 3, Duration::from_secs(15))?;
    api.ok(&["delete", "pod", "sentinel"])?;
    // From an old but uncompacted revision the history is replayed (from the store: the
    // cache window holds two events)...
    let raw = api.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/pods?watch=true&resourceVersion=1&timeoutSeconds=1",
    ])?;
    let types: Vec<String> = raw
        .lines()
        .map(|l| json(l)["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        types,
        ["ADDED", "ADDED", "MODIFIED", "DELETED", "DELETED"],
        "{raw}"
    );
    // ...and once compacted, it is 200 with one ERROR event carrying a 410 Status.
    let rev = json(&api.ok(&["get", "--raw", "/api/v1/namespaces/default/pods"])?)["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    common::etcdctl_ok(
        std::slice::from_ref(&api.store_endpoint),
        &["compact", &rev],
    )?;
    let raw = api.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/pods?watch=true&resourceVersion=2&timeoutSeconds=2",
    ])?;
    let ev = json(raw.lines().next().unwrap_or(""));
    assert_eq!(ev["type"], "ERROR", "{raw}");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    // An expired continue token is an HTTP 410.
    let e = api.fails(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/default/pods?limit=1&continue={}",
            continue_token(2)
        ),
    ])?;
    assert!(
        e.contains("Expired") || e.contains("410") || e.contains("too old"),
        "{e}"
    );
    Ok(())
}

/// A continue token in kube-apiserver's layout for revision `rv`.
fn continue_token(rv: i64) -> String {
    use std::io::Write;
    let raw = format!(r#"{{"v":"meta.k8s.io/v1","rv":{rv},"start":"a"}}"#);
    let mut out = Vec::new();
    let _ = write!(out, "{}", base64_encode(raw.as_bytes()));
    String::from_utf8(out)
        .unwrap_or_default()
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

fn base64_encode(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn t67_services_get_cluster_ips_and_node_ports() -> Result<()> {
    t67_services_get_cluster_ips_and_node_ports_on(&Api::server()?)
}

/// The same as [`t67_services_get_cluster_ips_and_node_ports`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t67e_on_etcd() -> Result<()> {
    t67_services_get_cluster_ips_and_node_ports_on(&Api::on_etcd()?)
}

fn t67_services_get_cluster_ips_and_node_ports_on(api: &Api) -> Result<()> {
    api.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
    api.ok(&[
        "expose",
        "deployment",
        "nginx-deployment",
        "--port=80",
        "--target-port=8080",
        "--name=pulse-service",
    ])?;
    let s = json(&api.ok(&["get", "svc", "pulse-service", "-o", "json"])?);
    let ip = s["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
    assert!(ip.starts_with("10.") && ip != "10.96.0.1", "{s}");
    assert_eq!(s["spec"]["selector"]["app"], "nginx");
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 8080);
    api.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"])?;
    let np = json(&api.ok(&["get", "svc", "np", "-o", "json"])?);
    let port = np["spec"]["ports"][0]["nodePort"].as_i64().unwrap_or(0);
    assert!((30000..=32767).contains(&port), "{np}");
    // A taken node port is refused; after delete it can be used again.
    let clash = format!(
        r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"np2"}},"spec":{{"type":"NodePort","ports":[{{"port":80,"nodePort":{port}}}]}}}}"#
    );
    let o = api.apply_stdin(&["create", "-f", "-"], &clash)?;
    assert!(!o.status.success(), "a second service got node port {port}");
    api.ok(&["delete", "svc", "np"])?;
    api.ok_stdin(&["create", "-f", "-"], &clash)?;
    let table = api.ok(&["get", "svc", "np2"])?;
    assert!(table.contains(&format!("80:{port}/TCP")), "{table}");
    Ok(())
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string}
          status:
            type: object
            properties:
              ready: {type: boolean}
"#;

#[test]
fn t68_custom_resources() -> Result<()> {
    t68_custom_resources_on(&Api::server()?)
}

/// The same as [`t68_custom_resources`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t68e_on_etcd() -> Result<()> {
    t68_custom_resources_on(&Api::on_etcd()?)
}

fn t68_custom_resources_on(api: &Api) -> Result<()> {
    api.ok_stdin(&["apply", "-f", "-"], CRD)?;
    api.ok(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ])?;
    let w = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, color: red, junk: 1}\n";
    poll(
        Duration::from_secs(20),
        "the Widget kind to be served",
        || api.ok_stdin(&["apply", "-f", "-"], w).ok(),
    )?;
    let obj = json(&api.ok(&["get", "widget", "w1", "-o", "json"])?);
    assert_eq!(obj["spec"]["size"], 3);
    assert!(
        obj["spec"].get("junk").is_none(),
        "unknown fields are pruned: {obj}"
    );
    let table = api.ok(&["get", "wd"])?;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "AGE"], "{table}");
    assert!(table.contains("w1") && table.contains(" 3 "), "{table}");
    let bad = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 0}\n";
    let o = api.apply_stdin(&["apply", "-f", "-"], bad)?;
    assert!(!o.status.success(), "size 0 is below the schema minimum");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Invalid"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    api.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true}}"#,
    ])?;
    api.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":5},"status":{"ready":false}}"#,
    ])?;
    let obj = json(&api.ok(&["get", "widget", "w1", "-o", "json"])?);
    assert_eq!(
        obj["status"]["ready"], true,
        "the main resource ignores status"
    );
    assert_eq!(obj["spec"]["size"], 5);
    let e = api.fails(&[
        "patch",
        "widget",
        "w1",
        "--type=strategic",
        "-p",
        r#"{"spec":{"size":6}}"#,
    ])?;
    assert!(
        e.contains("UnsupportedMediaType") || e.contains("unknown format") || e.contains("415"),
        "{e}"
    );
    api.ok(&["delete", "widget", "w1"])?;
    api.ok(&["delete", "crd", "widgets.example.com"])?;
    poll(
        Duration::from_secs(20),
        "the Widget kind to go away",
        || {
            let o = api
                .kubectl(&["get", "--raw", "/apis/example.com/v1"])
                .ok()?;
            (!o.status.success()).then_some(())
        },
    )?;
    Ok(())
}

#[test]
fn t69_server_side_apply_owns_fields_and_reports_conflicts() -> Result<()> {
    t69_server_side_apply_owns_fields_and_reports_conflicts_on(&Api::server()?)
}

/// The same as [`t69_server_side_apply_owns_fields_and_reports_conflicts`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t69e_on_etcd() -> Result<()> {
    t69_server_side_apply_owns_fields_and_reports_conflicts_on(&Api::on_etcd()?)
}

fn t69_server_side_apply_owns_fields_and_reports_conflicts_on(api: &Api) -> Result<()> {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1', b: '2'}\n";
    let out = api.ok_stdin(&["apply", "--server-side", "-f", "-"], cm)?;
    assert!(out.contains("serverside-applied"), "{out}");
    let obj = json(&api.ok(&["get", "cm", "ssa", "-o", "json", "--show-managed-fields"])?);
    let mf = &obj["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "kubectl");
    assert_eq!(mf["operation"], "Apply");
    assert!(mf["fieldsV1"]["f:data"]["f:a"].is_object(), "{mf}");
    // Another manager changes a field kubectl owns: conflict unless forced.
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: 'X'}\n";
    let o = api.apply_stdin(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        other,
    )?;
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("conflict") && e.contains("kubectl"), "{e}");
    api.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        other,
    )?;
    let obj = json(&api.ok(&["get", "cm", "ssa", "-o", "json"])?);
    assert_eq!(obj["data"]["a"], "X");
    // kubectl stops applying b: it is removed, since no one else owns it.
    let fewer = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {}\n";
    api.ok_stdin(&["apply", "--server-side", "-f", "-"], fewer)?;
    let obj = json(&api.ok(&["get", "cm", "ssa", "-o", "json"])?);
    assert!(obj["data"].get("b").is_none(), "{obj}");
    assert_eq!(obj["data"]["a"], "X", "a is owned by `other` now");
    // Create through apply, and dry runs that change nothing.
    api.ok(&[
        "create",
        "deployment",
        "d1",
        "--image=nginx",
        "--dry-run=server",
    ])?;
    assert!(api.fails(&["get", "deploy", "d1"])?.contains("NotFound"));
    Ok(())
}

#[test]
fn t70_two_apiservers_on_one_store_behave_as_one() -> Result<()> {
    let mut api = Api::server()?;
    let store = api.store_endpoint.clone();
    let port = common::free_port();
    let kc2 = api.add_apiserver(&store, port, "second")?;
    let second = |args: &[&str]| -> Result<std::process::Output> {
        common::kube::kubectl_at(&kc2, &api.dir.path().join("cache2"), "1.32", args)
    };
    api.ok(&["create", "configmap", "sentinel"])?;
    let mut w = common::kube::Lines::spawn(&kc2, &["get", "configmaps", "-w", "-o", "name"])?;
    w.wait_for("configmap/sentinel", Duration::from_secs(15))?;
    api.ok(&["create", "configmap", "from-first", "--from-literal=a=b"])?;
    w.wait_for("configmap/from-first", Duration::from_secs(15))
        .map_err(|e| {
            anyhow::anyhow!("the second server's watch missed a write made through the first: {e}")
        })?;
    let o = second(&["get", "configmap", "from-first", "-o", "json"])?;
    assert!(o.status.success());
    // Optimistic concurrency holds across servers.
    let rv = json(&String::from_utf8_lossy(&o.stdout))["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    api.ok(&["annotate", "configmap", "from-first", "x=1"])?;
    let o = second(&[
        "annotate",
        "configmap",
        "from-first",
        "y=1",
        &format!("--resource-version={rv}"),
    ])?;
    assert!(
        !o.status.success(),
        "a stale write through the second server must conflict"
    );
    Ok(())
}

#[test]
fn t71_same_results_on_keelson_store_and_on_etcd() -> Result<()> {
    let script: &[&[&str]] = &[
        &["create", "namespace", "diff"],
        &["run", "p1", "--image=nginx", "-n", "diff", "--labels=app=a"],
        &["run", "p2", "--image=nginx", "-n", "diff", "--labels=app=b"],
        &["label", "pod", "p1", "-n", "diff", "tier=x"],
        &[
            "get",
            "pods",
            "-n",
            "diff",
            "-l",
            "app in (a,b),tier",
            "-o",
            "name",
        ],
        &["get", "pods", "-n", "diff", "--chunk-size=1", "-o", "name"],
        &["delete", "pod", "p2", "-n", "diff"],
        &["get", "pods", "-n", "diff", "-o", "name"],
        &["get", "pod", "p2", "-n", "diff"],
        &["run", "p1", "--image=nginx", "-n", "diff"],
    ];
    let run = |api: &Api| -> Result<Vec<(bool, String)>> {
        let mut out = vec![];
        for args in script {
            let o = api.kubectl(args)?;
            let text = if o.status.success() {
                String::from_utf8_lossy(&o.stdout)
            } else {
                String::from_utf8_lossy(&o.stderr)
            };
            out.push((o.status.success(), text.trim().to_string()));
        }
        Ok(out)
    };
    let ours = run(&Api::server()?)?;
    let theirs = run(&Api::on_etcd()?)?;
    assert_eq!(ours, theirs);
    assert!(
        ours[4].1.contains("pod/p1") && !ours[4].1.contains("pod/p2"),
        "{ours:?}"
    );
    Ok(())
}

#[test]
fn t72_kubectl_127_and_133_subset() -> Result<()> {
    let api = Api::server()?;
    for v in ["1.27", "1.33"] {
        let name = format!("p{}", v.replace('.', ""));
        let o = api.kubectl_v(v, &["run", &name, "--image=nginx"])?;
        assert!(
            o.status.success(),
            "kubectl {v} run: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = api.kubectl_v(v, &["get", "pods", "-o", "wide"])?;
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains(&name) && text.contains("NOMINATED NODE"),
            "kubectl {v} get: {text}"
        );
        let o = api.kubectl_v(v, &["delete", "pod", &name])?;
        assert!(
            o.status.success(),
            "kubectl {v} delete: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = api.kubectl_v(v, &["api-resources"])?;
        assert!(String::from_utf8_lossy(&o.stdout).contains("deployments"));
    }
    Ok(())
}

#[test]
fn t73_protobuf_creates_from_kubectl_132() -> Result<()> {
    t73_protobuf_creates_from_kubectl_132_on(&Api::server()?)
}

/// The same as [`t73_protobuf_creates_from_kubectl_132`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t73e_on_etcd() -> Result<()> {
    t73_protobuf_creates_from_kubectl_132_on(&Api::on_etcd()?)
}

fn t73_protobuf_creates_from_kubectl_132_on(api: &Api) -> Result<()> {
    // kubectl 1.32's typed clients send these bodies as Kubernetes protobuf.
    api.ok(&["create", "namespace", "pb"])?;
    api.ok(&[
        "create",
        "deployment",
        "d1",
        "--image=nginx:1.27",
        "--replicas=2",
        "-n",
        "pb",
    ])?;
    api.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=password=hunter2",
        "-n",
        "pb",
    ])?;
    api.ok(&[
        "create",
        "configmap",
        "c1",
        "--from-literal=k=v",
        "-n",
        "pb",
    ])?;
    api.ok(&[
        "create",
        "job",
        "j1",
        "--image=busybox",
        "-n",
        "pb",
        "--",
        "echo",
        "hi",
    ])?;
    api.ok(&[
        "create",
        "service",
        "clusterip",
        "s1",
        "--tcp=80:8080",
        "-n",
        "pb",
    ])?;
    let d = json(&api.ok(&["get", "deploy", "d1", "-n", "pb", "-o", "json"])?);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "d1");
    let s = json(&api.ok(&["get", "secret", "s1", "-n", "pb", "-o", "json"])?);
    assert_eq!(s["data"]["password"], "aHVudGVyMg==");
    assert_eq!(s["type"], "Opaque");
    let j = json(&api.ok(&["get", "job", "j1", "-n", "pb", "-o", "json"])?);
    assert_eq!(
        j["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["echo", "hi"])
    );
    let e = api.fails(&["create", "deployment", "d1", "--image=nginx", "-n", "pb"])?;
    assert!(e.contains(r#"deployments.apps "d1" already exists"#), "{e}");
    // auth can-i sends a protobuf SelfSubjectAccessReview.
    assert_eq!(api.ok(&["auth", "can-i", "create", "pods"])?.trim(), "yes");
    let list = api.ok(&["auth", "can-i", "--list"])?;
    assert!(list.contains('*'), "{list}");
    Ok(())
}

#[test]
fn t74_describe_explain_diff_wait_and_kustomize() -> Result<()> {
    let api = Api::server()?;
    api.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
    let d = api.ok(&["describe", "deployment", "nginx-deployment"])?;
    assert!(
        d.contains("Name:") && d.contains("nginx-deployment") && d.contains("nginx:1.14.2"),
        "{d}"
    );
    api.ok(&["run", "p1", "--image=nginx"])?;
    let d = api.ok(&["describe", "pod", "p1"])?;
    assert!(d.contains("Status:") && d.contains("Pending"), "{d}");
    let ex = api.ok(&["explain", "deployment.spec.strategy"])?;
    assert!(
        ex.contains("rollingUpdate") && ex.contains("DeploymentStrategy"),
        "{ex}"
    );
    // diff: exit 1 and a unified diff when the live object differs; 0 when the same.
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 4");
    let o = api.apply_stdin(&["diff", "-f", "-"], &changed)?;
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("-  replicas: 2") && text.contains("+  replicas: 4"),
        "{text}"
    );
    assert_eq!(
        api.ok(&[
            "get",
            "deploy",
            "nginx-deployment",
            "-o",
            "jsonpath={.spec.replicas}"
        ])?,
        "2",
        "diff must not write"
    );
    let o = api.apply_stdin(&["diff", "-f", "-"], DEPLOYMENT)?;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // wait for a jsonpath condition set by someone else (kubectl lists, then watches from the
    // list's resourceVersion, so the order of the two commands does not matter).
    let waiter = std::process::Command::new(common::kube::kubectl_dir().join("kubectl.1.32"))
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args([
            "wait",
            "--for=jsonpath={.metadata.labels.ready}=yes",
            "pod/p1",
            "--timeout=20s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    api.ok(&["label", "pod", "p1", "ready=yes"])?;
    let o = waiter.wait_with_output()?;
    assert!(
        o.status.success(),
        "wait: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // kustomize
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kcm}\ndata: {a: b}\n",
    )?;
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [cm.yaml]\nnamePrefix: pre-\ncommonLabels: {via: kustomize}\n",
    )?;
    api.ok(&["apply", "-k", &dir.path().to_string_lossy()])?;
    let cm = json(&api.ok(&["get", "cm", "pre-kcm", "-o", "json"])?);
    assert_eq!(cm["metadata"]["labels"]["via"], "kustomize");
    Ok(())
}

#[test]
fn t75_edit_ignores_status_and_replace_checks_versions() -> Result<()> {
    t75_edit_ignores_status_and_replace_checks_versions_on(&Api::server()?)
}

/// The same as [`t75_edit_ignores_status_and_replace_checks_versions`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t75e_on_etcd() -> Result<()> {
    t75_edit_ignores_status_and_replace_checks_versions_on(&Api::on_etcd()?)
}

fn t75_edit_ignores_status_and_replace_checks_versions_on(api: &Api) -> Result<()> {
    api.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
    // A non-interactive EDITOR that changes the image and the status.
    let dir = tempfile::tempdir()?;
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i -e 's/nginx:1.14.2/nginx:1.25/' -e 's/^status: {}/status: {replicas: 9}/' \"$1\"\n",
    )?;
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()?;
    let o = std::process::Command::new(common::kube::kubectl_dir().join("kubectl.1.32"))
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args(["edit", "deployment", "nginx-deployment"])
        .env("KUBE_EDITOR", &editor)
        .output()?;
    assert!(
        o.status.success(),
        "edit: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let d = json(&api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_ne!(d["status"]["replicas"], 9);
    // replace with the current object works; with a stale resourceVersion it conflicts.
    let cur = api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?;
    api.ok(&["annotate", "deploy", "nginx-deployment", "bump=1"])?;
    let o = api.apply_stdin(&["replace", "-f", "-"], &cur)?;
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Conflict"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let fresh = api.ok(&["get", "deploy", "nginx-deployment", "-o", "json"])?;
    api.ok_stdin(&["replace", "-f", "-"], &fresh)?;
    Ok(())
}

#[test]
fn t76_raw_protocol_edges() -> Result<()> {
    // No controllers: the test counts the ConfigMaps of `default` (kube-root-ca.crt would be one).
    t76_raw_protocol_edges_on(&Api::server_with(&["--disable-controllers"])?)
}

/// The same as [`t76_raw_protocol_edges`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t76e_on_etcd() -> Result<()> {
    t76_raw_protocol_edges_on(&Api::on_etcd()?)
}

fn t76_raw_protocol_edges_on(api: &Api) -> Result<()> {
    for i in 0..5 {
        api.ok(&["create", "configmap", &format!("c{i}")])?;
    }
    // Paging with remainingItemCount, all pages from one snapshot.
    let p1 = json(&api.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?limit=2",
    ])?);
    assert_eq!(p1["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(p1["metadata"]["remainingItemCount"], 3);
    let token = p1["metadata"]["continue"]
        .as_str()
        .unwrap_or("")
        .to_string();
    api.ok(&["create", "configmap", "c9"])?;
    let p2 = json(&api.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/default/configmaps?limit=10&continue={token}"),
    ])?);
    let names: Vec<&str> = p2["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        names,
        ["c2", "c3", "c4"],
        "a later page sees the first page's snapshot"
    );
    assert_eq!(
        p2["metadata"]["resourceVersion"],
        p1["metadata"]["resourceVersion"]
    );
    // resourceVersionMatch rules.
    let e = api.fails(&[
        "get",
        "--raw",
        "/api/v1/configmaps?resourceVersionMatch=Exact",
    ])?;
    assert!(e.contains("BadRequest") || e.contains("forbidden"), "{e}");
    let rv = p1["metadata"]["resourceVersion"].as_str().unwrap_or("");
    let exact = json(&api.ok(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/default/configmaps?resourceVersion={rv}&resourceVersionMatch=Exact"
        ),
    ])?);
    assert_eq!(
        exact["items"].as_array().map(Vec::len),
        Some(5),
        "Exact reads the old revision"
    );
    // sendInitialEvents: synthetic ADDEDs, then a bookmark that marks their end.
    let raw = api.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
    ])?;
    let events: Vec<serde_json::Value> = raw.lines().map(json).collect();
    assert_eq!(
        events.iter().filter(|e| e["type"] == "ADDED").count(),
        6,
        "{raw}"
    );
    let bm = events
        .iter()
        .find(|e| e["type"] == "BOOKMARK")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        bm["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true",
        "{raw}"
    );
    // Field selectors filter watches too.
    let raw = api.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dc3&timeoutSeconds=1"])?;
    assert_eq!(raw.lines().count(), 1, "{raw}");
    // A Table for a single object, as kubectl asks for it.
    let t = api.ok(&["get", "configmap", "c1"])?;
    assert!(t.starts_with("NAME") && t.contains("DATA"), "{t}");
    // Bodies over 3 MiB are refused with 413, and nothing is written.
    let dir = tempfile::tempdir()?;
    let big = dir.path().join("big.json");
    let blob = "x".repeat(3 * 1024 * 1024 + 10);
    std::fs::write(
        &big,
        format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{blob}"}}}}"#
        ),
    )?;
    let e = api.fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        &big.to_string_lossy(),
    ])?;
    assert!(
        e.contains("too large") || e.contains("413") || e.contains("RequestEntityTooLarge"),
        "{e}"
    );
    assert!(
        api.fails(&["get", "configmap", "big"])?
            .contains("NotFound")
    );
    // A verb the resource does not have: 405; a malformed body: 400; neither writes.
    let small = dir.path().join("small.json");
    std::fs::write(
        &small,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"}}"#,
    )?;
    let e = api.fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps/c1",
        "-f",
        &small.to_string_lossy(),
    ])?;
    assert!(
        e.contains("MethodNotAllowed") || e.contains("not allow"),
        "{e}"
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"broken""#,
    )?;
    let e = api.fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        &broken.to_string_lossy(),
    ])?;
    assert!(e.contains("BadRequest") || e.contains("decoding"), "{e}");
    assert!(
        api.fails(&["get", "configmap", "broken"])?
            .contains("NotFound")
    );
    Ok(())
}

#[test]
fn t77_apiserver_rides_out_store_member_loss_and_reports_lost_quorum() -> Result<()> {
    let mut store = common::Cluster::start(3)?;
    let mut api = Api {
        dir: tempfile::tempdir()?,
        kubeconfig: std::path::PathBuf::new(),
        port: common::free_port(),
        children: vec![],
        logs: vec![],
        store_endpoint: store.endpoints().join(","),
    };
    let eps = api.store_endpoint.clone();
    let port = api.port;
    api.kubeconfig = api.add_apiserver(&eps, port, "api")?;
    api.wait_ready()?;
    api.ok(&["create", "configmap", "before"])?;
    // Kill the store leader: the API server moves to the survivors.
    let leader = store.wait_leader(Duration::from_secs(10))?;
    store.kill(leader);
    poll(
        Duration::from_secs(20),
        "writes to succeed after the leader died",
        || api.ok(&["create", "configmap", "after-kill"]).ok(),
    )?;
    assert!(
        api.ok(&["get", "configmap", "before", "-o", "name"])?
            .contains("before"),
        "an acknowledged write was lost"
    );
    // Pause a second member: no quorum, so a clear 503 rather than a hang or a wrong answer.
    let second = (0..3).find(|i| *i != leader).unwrap_or(0);
    store.pause(second);
    let started = std::time::Instant::now();
    let e = api.fails(&["create", "configmap", "no-quorum"])?;
    assert!(
        e.contains("ServiceUnavailable") || e.contains("unavailable"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    store.resume(second);
    poll(
        Duration::from_secs(30),
        "the API to serve again once a majority is back",
        || api.ok(&["create", "configmap", "recovered"]).ok(),
    )?;
    let names = api.ok(&["get", "configmaps", "-o", "name"])?;
    for n in ["before", "after-kill", "recovered"] {
        assert!(names.contains(&format!("configmap/{n}")), "{names}");
    }
    Ok(())
}

#[test]
fn t78_resources_mapped_to_their_own_store_shard() -> Result<()> {
    // Events and leases in Raft groups of their own, as `--etcd-servers-overrides` would.
    let api = Api::server_with(&[
        "--groups",
        "default,events,leases",
        "--store-shards",
        "events=events,leases=leases",
    ])?;
    let ev = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Tested","message":"hello","type":"Normal"}"#;
    api.ok_stdin(&["create", "-f", "-"], ev)?;
    api.ok(&["create", "configmap", "c1"])?;
    let got = json(&api.ok(&["get", "event", "e1", "-o", "json"])?);
    assert_eq!(got["reason"], "Tested");
    assert!(
        api.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=p",
            "-o",
            "name"
        ])?
        .contains("e1")
    );
    let ep = [api.store_endpoint.clone()];
    // The default keyspace (what plain etcd clients see) has the configmap but not the event.
    let default_keys = common::etcdctl_ok(&ep, &["get", "--prefix", "/registry/", "--keys-only"])?;
    assert!(
        default_keys.contains("/registry/configmaps/default/c1"),
        "{default_keys}"
    );
    assert!(
        !default_keys.contains("/registry/events/"),
        "events leaked into the default shard: {default_keys}"
    );
    // Watches on a sharded resource work (served from that shard's watch).
    let raw = api.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/events?watch=true&timeoutSeconds=1",
    ])?;
    assert!(raw.contains("\"e1\""), "{raw}");
    let bad = std::process::Command::new(common::keelson_bin())
        .args([
            "apiserver",
            "--etcd-servers",
            &api.store_endpoint,
            "--store-shards",
            "events",
        ])
        .output()?;
    assert!(
        !bad.status.success(),
        "a malformed --store-shards must be refused"
    );
    Ok(())
}

#[test]
fn t79_versions_that_share_storage_convert() -> Result<()> {
    t79_versions_that_share_storage_convert_on(&Api::server()?)
}

/// The same as [`t79_versions_that_share_storage_convert`], with a real etcd 3.4 as the store (differential check).
#[test]
fn t79e_on_etcd() -> Result<()> {
    t79_versions_that_share_storage_convert_on(&Api::on_etcd()?)
}

fn t79_versions_that_share_storage_convert_on(api: &Api) -> Result<()> {
    let hpa = "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}\n  minReplicas: 1\n  maxReplicas: 5\n  targetCPUUtilizationPercentage: 70\n";
    api.ok_stdin(&["create", "-f", "-"], hpa)?;
    let v2 = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/h",
    ])?);
    assert_eq!(v2["apiVersion"], "autoscaling/v2");
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70,
        "{v2}"
    );
    // An update written in v1 (kubectl itself prefers v2, so PUT the v1 object directly).
    let mut v1 = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/h",
    ])?);
    v1["spec"]["targetCPUUtilizationPercentage"] = serde_json::json!(50);
    let dir = tempfile::tempdir()?;
    let f = dir.path().join("h.json");
    std::fs::write(&f, v1.to_string())?;
    api.ok(&[
        "replace",
        "--raw",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/h",
        "-f",
        &f.to_string_lossy(),
    ])?;
    let v2 = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/h",
    ])?);
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 50,
        "{v2}"
    );
    let v1 = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/h",
    ])?);
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50, "{v1}");
    assert!(v1["spec"].get("metrics").is_none());
    let v1_list = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers",
    ])?);
    assert_eq!(
        v1_list["items"][0]["spec"]["targetCPUUtilizationPercentage"],
        50
    );
    // events.k8s.io/v1 and core v1 Events are one set of objects.
    let ev = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e1"},"eventTime":"2026-01-01T00:00:00.000000Z","regarding":{"kind":"Pod","name":"p","namespace":"default"},"note":"hello","reason":"Tested","type":"Normal","action":"Test","reportingController":"tests","reportingInstance":"t79"}"#;
    api.ok_stdin(&["create", "-f", "-"], ev)?;
    let core = json(&api.ok(&["get", "--raw", "/api/v1/namespaces/default/events/e1"])?);
    assert_eq!(core["involvedObject"]["name"], "p", "{core}");
    assert_eq!(core["message"], "hello");
    let new = json(&api.ok(&[
        "get",
        "--raw",
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
    ])?);
    assert_eq!(new["regarding"]["name"], "p", "{new}");
    assert_eq!(new["note"], "hello");
    let raw = api.ok(&[
        "get",
        "--raw",
        "/apis/events.k8s.io/v1/namespaces/default/events?watch=true&timeoutSeconds=1",
    ])?;
    assert!(raw.contains(r#""note":"hello""#), "{raw}");
    Ok(())
}
