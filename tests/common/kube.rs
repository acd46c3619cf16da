//! Harness for API tests: a real `keelson server` (embedded store + API server) or a
//! `keelson apiserver` in front of a real etcd 3.4, and the real `kubectl` binaries.
//! Everything started is killed when the harness value is dropped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{free_port, keelson_bin, poll};

/// Where the versioned kubectl binaries live (`kubectl.1.27` … `kubectl.1.33`).
pub fn kubectl_dir() -> PathBuf {
    let which = Command::new("sh")
        .args(["-c", "readlink -f $(which kubectl)"])
        .output();
    match which {
        Ok(o) if o.status.success() => {
            let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string());
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        }
        _ => PathBuf::from("/usr/bin"),
    }
}

/// A running API server and what is needed to talk to it.
pub struct Api {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub port: u16,
    pub children: Vec<Child>,
    pub logs: Vec<PathBuf>,
    pub store_endpoint: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Result<Child> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    cmd.env("RUST_LOG", "info,openraft=error,openraft::replication=off")
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f);
    Ok(cmd.spawn()?)
}

impl Api {
    /// `keelson server` with its embedded store, on fresh ports, HTTPS with the generated CA,
    /// and its controller manager, but no scheduler: API tests see only their own writes to
    /// pods (a scheduler marks pending pods unschedulable, as kube-scheduler does).
    pub fn server() -> Result<Api> {
        Api::server_with(&[])
    }

    /// `keelson server` with every master role (store, API server, controller manager and
    /// scheduler), as the README starts it.
    pub fn full() -> Result<Api> {
        Api::start(&[])
    }

    /// Like [`Api::server`] (no scheduler) with extra flags.
    pub fn server_with(extra: &[&str]) -> Result<Api> {
        let mut flags = vec!["--disable-scheduler"];
        flags.extend_from_slice(extra);
        Api::start(&flags)
    }

    fn start(extra: &[&str]) -> Result<Api> {
        let dir = tempfile::tempdir()?;
        let (client, peer, port) = (free_port(), free_port(), free_port());
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let mut cmd = Command::new(keelson_bin());
        cmd.arg("server")
            .args(["--name", "k0"])
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-cluster", &format!("k0=http://127.0.0.1:{peer}")])
            .args(["--secure-port", &port.to_string()])
            .args(extra);
        let child = spawn(&mut cmd, &log)?;
        let mut api = Api {
            kubeconfig: data.join("admin.kubeconfig"),
            dir,
            port,
            children: vec![child],
            logs: vec![log],
            store_endpoint: format!("127.0.0.1:{client}"),
        };
        api.wait_ready()?;
        Ok(api)
    }

    /// A real etcd 3.4 (Debian's `etcd`) and `keelson apiserver` in front of it.
    pub fn on_etcd() -> Result<Api> {
        let dir = tempfile::tempdir()?;
        let (client, peer, port) = (free_port(), free_port(), free_port());
        let etcd_log = dir.path().join("etcd.log");
        let mut etcd = Command::new("etcd");
        etcd.args(["--name", "e0"])
            .arg("--data-dir")
            .arg(dir.path().join("etcd"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
            ])
            .args(["--initial-cluster", &format!("e0=http://127.0.0.1:{peer}")]);
        let etcd = spawn(&mut etcd, &etcd_log).context("start etcd")?;
        let mut api = Api {
            kubeconfig: dir.path().join("api/admin.kubeconfig"),
            dir,
            port,
            children: vec![etcd],
            logs: vec![etcd_log],
            store_endpoint: format!("127.0.0.1:{client}"),
        };
        let ep = api.store_endpoint.clone();
        api.add_apiserver(&ep, port, "api")?;
        api.wait_ready()?;
        Ok(api)
    }

    /// Start one more `keelson apiserver` against `store` on `port`, data in `sub`.
    pub fn add_apiserver(&mut self, store: &str, port: u16, sub: &str) -> Result<PathBuf> {
        let log = self.dir.path().join(format!("{sub}.log"));
        let data = self.dir.path().join(sub);
        let mut cmd = Command::new(keelson_bin());
        cmd.arg("apiserver")
            .args(["--etcd-servers", store])
            .args(["--secure-port", &port.to_string()])
            .arg("--data-dir")
            .arg(&data);
        self.children.push(spawn(&mut cmd, &log)?);
        self.logs.push(log);
        let kc = data.join("admin.kubeconfig");
        poll(
            Duration::from_secs(30),
            "the added API server to answer",
            || {
                kc.exists().then_some(())?;
                let o = kubectl_at(&kc, &self.cache_dir(), "1.32", &["get", "--raw", "/readyz"])
                    .ok()?;
                o.status.success().then_some(())
            },
        )?;
        Ok(kc)
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("kubectl-cache")
    }

    /// Wait until the kubeconfig exists and `default` namespace is served; fails at once,
    /// with the logs, if a process this harness started has exited.
    pub fn wait_ready(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if self.kubeconfig.exists()
                && self
                    .kubectl(&["get", "namespace", "default", "-o", "name"])
                    .is_ok_and(|o| o.status.success())
            {
                return Ok(());
            }
            for c in &mut self.children {
                if let Ok(Some(status)) = c.try_wait() {
                    anyhow::bail!(
                        "a process exited ({status}) before serving:\n{}",
                        self.logs()
                    );
                }
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!(
                    "timed out after 60s waiting for the API server to serve the default namespace:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The logs of every process started.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for l in &self.logs {
            let text = std::fs::read_to_string(l).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            s.push_str(&format!("--- {}\n", l.display()));
            for line in tail.into_iter().rev() {
                s.push_str(line);
                s.push('\n');
            }
        }
        s
    }

    /// Run kubectl 1.32 with this server's kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Result<Output> {
        kubectl_at(&self.kubeconfig, &self.cache_dir(), "1.32", args)
    }

    /// Run a given kubectl minor (`"1.27"`).
    pub fn kubectl_v(&self, version: &str, args: &[&str]) -> Result<Output> {
        kubectl_at(
            &self.kubeconfig,
            &self.dir.path().join(format!("cache-{version}")),
            version,
            args,
        )
    }

    /// Run kubectl 1.32 and demand success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        let o = self.kubectl(args)?;
        if !o.status.success() {
            bail!(
                "kubectl {args:?} failed: {}{}",
                String::from_utf8_lossy(&o.stderr),
                String::from_utf8_lossy(&o.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Run kubectl 1.32, demand failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> Result<String> {
        let o = self.kubectl(args)?;
        if o.status.success() {
            bail!(
                "kubectl {args:?} succeeded but should fail: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&o.stderr).into_owned())
    }

    /// kubectl with a manifest on stdin (`-f -`).
    pub fn apply_stdin(&self, args: &[&str], manifest: &str) -> Result<Output> {
        use std::io::Write;
        let mut child = kubectl_cmd(&self.kubeconfig, &self.cache_dir(), "1.32")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut i) = child.stdin.take() {
            i.write_all(manifest.as_bytes())?;
        }
        Ok(child.wait_with_output()?)
    }

    /// `apply_stdin` that must succeed; returns stdout.
    pub fn ok_stdin(&self, args: &[&str], manifest: &str) -> Result<String> {
        let o = self.apply_stdin(args, manifest)?;
        if !o.status.success() {
            bail!(
                "kubectl {args:?} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// The server URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

fn kubectl_cmd(kubeconfig: &Path, cache: &Path, version: &str) -> Command {
    let mut c = Command::new(kubectl_dir().join(format!("kubectl.{version}")));
    c.arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--request-timeout=20s");
    c
}

/// Run `kubectl.<version>` with a kubeconfig; bounded by kubectl's request timeout.
pub fn kubectl_at(kubeconfig: &Path, cache: &Path, version: &str, args: &[&str]) -> Result<Output> {
    Ok(kubectl_cmd(kubeconfig, cache, version)
        .args(args)
        .stdin(Stdio::null())
        .output()?)
}

/// A kubectl process whose stdout lines arrive on a channel (for `get -w`).
pub struct Lines {
    pub child: Child,
    rx: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lines {
    /// Start `kubectl.1.32 --kubeconfig <kc> <args>` with its output streamed.
    pub fn spawn(kubeconfig: &Path, args: &[&str]) -> Result<Lines> {
        use std::io::BufRead;
        let mut child = Command::new(kubectl_dir().join("kubectl.1.32"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Lines {
            child,
            rx,
            seen: vec![],
        })
    }

    /// Wait for a line containing `needle`; returns every line seen so far.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<&[String]> {
        let deadline = std::time::Instant::now() + timeout;
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => bail!(
                    "no line containing {needle:?} within {timeout:?}; saw {:?}",
                    self.seen
                ),
            }
        }
        Ok(&self.seen)
    }

    /// Count the lines containing `needle`, waiting until there are `n` of them.
    pub fn wait_count(&mut self, needle: &str, n: usize, timeout: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        while self.seen.iter().filter(|l| l.contains(needle)).count() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => bail!(
                    "fewer than {n} lines containing {needle:?} within {timeout:?}; saw {:?}",
                    self.seen
                ),
            }
        }
        Ok(())
    }
}

/// A stand-in for the node agents of fake nodes, for controller tests: every pod bound to a
/// node is reported Running and Ready (after `ready_after`) — or, for a pod a Job owns,
/// Succeeded with exit code 0 — and a pod in graceful deletion is removed (grace 0) as a
/// kubelet confirms it. Runs on its own thread with a kube-rs
/// watch until dropped.
pub struct FakeKubelet {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeKubelet {
    /// Start it against the server behind `kubeconfig`.
    pub fn start(kubeconfig: &Path, ready_after: Duration) -> Result<FakeKubelet> {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("fake kubelet: no runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                tokio::select! {
                    _ = rx => {}
                    r = fake_kubelet(kc, ready_after) => {
                        if let Err(e) = r {
                            eprintln!("fake kubelet failed: {e:#}");
                        }
                    }
                }
            });
        });
        Ok(FakeKubelet {
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn fake_kubelet(kc: kube::config::Kubeconfig, ready_after: Duration) -> Result<()> {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{DeleteParams, Patch, PatchParams};
    use kube::runtime::watcher::{Event, watcher};

    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    let client = kube::Client::try_from(config)?;
    let all: kube::Api<Pod> = kube::Api::all(client.clone());
    let mut stream = std::pin::pin!(watcher(all, Default::default()));
    while let Some(ev) = stream.next().await {
        let pod = match ev {
            Ok(Event::Apply(p) | Event::InitApply(p)) => p,
            Ok(_) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &ns);
        if pod.metadata.deletion_timestamp.is_some() {
            let _ = api
                .delete(&name, &DeleteParams::default().grace_period(0))
                .await;
            continue;
        }
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let job_pod = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.kind == "Job");
        if (ready && !job_pod) || phase == "Succeeded" {
            continue;
        }
        let client_api = api.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ready_after).await;
            let now = k8s_openapi::jiff::Timestamp::now();
            let containers: Vec<serde_json::Value> = pod
                .spec
                .as_ref()
                .map(|s| s.containers.iter())
                .into_iter()
                .flatten()
                .map(|c| {
                    serde_json::json!({"name": c.name, "image": c.image, "imageID": "",
                        "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": now.to_string()}}})
                })
                .collect();
            let status = if job_pod {
                let done: Vec<serde_json::Value> = pod
                    .spec
                    .as_ref()
                    .map(|s| s.containers.iter())
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        serde_json::json!({"name": c.name, "image": c.image, "imageID": "",
                            "ready": false, "started": false, "restartCount": 0,
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                "startedAt": now.to_string(), "finishedAt": now.to_string()}}})
                    })
                    .collect();
                serde_json::json!({"status": {
                    "phase": "Succeeded",
                    "hostIP": "10.0.0.1",
                    "podIP": "10.1.0.1",
                    "startTime": now.to_string(),
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now.to_string()},
                        {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now.to_string()},
                    ],
                    "containerStatuses": done,
                }})
            } else {
                serde_json::json!({"status": {
                    "phase": "Running",
                    "hostIP": "10.0.0.1",
                    "podIP": "10.1.0.1",
                    "startTime": now.to_string(),
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now.to_string()},
                        {"type": "Initialized", "status": "True", "lastTransitionTime": now.to_string()},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now.to_string()},
                        {"type": "Ready", "status": "True", "lastTransitionTime": now.to_string()},
                    ],
                    "containerStatuses": containers,
                }})
            };
            let _ = client_api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(status))
                .await;
            let _ = node;
        });
    }
    Ok(())
}
