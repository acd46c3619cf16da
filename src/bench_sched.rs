//! `keelson bench scheduler`: scheduling throughput end to end through the API server, as
//! kube-scheduler's scheduler_perf `SchedulingBasic` measures it.
//!
//! For each node count (default 500 and 5,000): fake Nodes (Node objects with a Ready status
//! and scheduler_perf's `node-default` capacity: 4 CPU, 32 GiB, 110 pods; no agents) are
//! created through the API server; `--init-pods` pods (scheduler_perf's 1,000) are created
//! and scheduled first, unmeasured; then `--pods` pods (10,000) with scheduler_perf's
//! `pod-default` requests (100m CPU, 500 MiB) are created by `--creators` concurrent clients
//! while a watch counts the pods that get a node. Reported per case:
//!
//! - `throughput`: measured pods / (last binding seen − first create sent), end to end;
//! - `avg of 1 s samples`: scheduler_perf's `SchedulingThroughput` `Average`: pods bound in
//!   each whole second from the first binding to the last, averaged;
//! - `create rate`: how fast the API server took the pods (an upper bound for the above).
//!
//! next to the anchor: scheduler_perf's threshold for `SchedulingBasic 5000Nodes_10000Pods`
//! (680 pods/s, the floor upstream CI reaches in every run) and the target
//! (2,000 pods/s at 5,000 nodes). Everything the run created is deleted afterwards. The
//! scheduler under test is whatever serves the cluster (`scripts/bench-scheduler.sh` starts
//! a `keelson server` with its in-process scheduler). Every request has a timeout and every
//! phase a time cap.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

/// Arguments of `keelson bench scheduler`.
#[derive(clap::Args, Debug, Clone)]
pub struct SchedBenchArgs {
    /// kubeconfig of the (loopback) API server whose scheduler is measured.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Node counts, one case each.
    #[arg(long, value_delimiter = ',', default_value = "500,5000")]
    pub nodes: Vec<usize>,
    /// Pods measured per case (default 10,000; 1,000 with --quick).
    #[arg(long)]
    pub pods: Option<usize>,
    /// Pods scheduled before measuring (default 1,000; 100 with --quick).
    #[arg(long)]
    pub init_pods: Option<usize>,
    /// Concurrent pod creators.
    #[arg(long, default_value_t = 100)]
    pub creators: usize,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Small sizes (100 and 500 nodes, 1,000 pods): a smoke run.
    #[arg(long)]
    pub quick: bool,
}

/// scheduler_perf's SchedulingBasic 5000Nodes_10000Pods threshold (pods/s).
const ANCHOR: f64 = 680.0;
/// The target at 5,000 nodes (pods/s).
const TARGET: f64 = 2000.0;
/// Bound on one request.
const REQ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on each phase.
const PHASE: Duration = Duration::from_secs(300);
/// Label on everything this benchmark creates.
const LABEL: &str = "keelson.io/bench-scheduler";

/// One case's figures.
#[derive(serde::Serialize, Debug)]
struct CaseResult {
    nodes: usize,
    pods: usize,
    init_pods: usize,
    throughput: f64,
    sampled_average: f64,
    create_rate: f64,
    seconds: f64,
}

/// Run every case.
pub async fn run(args: SchedBenchArgs) -> anyhow::Result<()> {
    let kc = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .context("kubeconfig")?;
    let host = config.cluster_url.host().unwrap_or_default().to_string();
    if !(host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1") {
        bail!("only loopback API servers are benchmarked, not {host}");
    }
    config.read_timeout = Some(REQ_TIMEOUT);
    config.write_timeout = Some(REQ_TIMEOUT);
    let client = kube::Client::try_from(config).context("client")?;
    let (nodes, pods, init) = if args.quick {
        (
            vec![100, 500],
            args.pods.unwrap_or(1000),
            args.init_pods.unwrap_or(100),
        )
    } else {
        (
            args.nodes.clone(),
            args.pods.unwrap_or(10_000),
            args.init_pods.unwrap_or(1000),
        )
    };
    let mut results = Vec::new();
    for n in nodes {
        let r = case(&client, n, pods, init, args.creators.max(1)).await;
        cleanup(&client).await;
        let r = r.with_context(|| format!("case {n} nodes"))?;
        eprintln!("== {n} nodes: {:.0} pods/s", r.throughput);
        results.push(r);
    }
    println!();
    println!(
        "{:<32} {:>12} {:>12} {:>12}   anchor",
        "case", "pods/s", "1s-samples", "create/s"
    );
    for r in &results {
        let anchor = if r.nodes >= 5000 {
            format!(
                "kube-scheduler SchedulingBasic 5000Nodes_10000Pods >= {ANCHOR:.0} pods/s; target {TARGET:.0}"
            )
        } else {
            format!("(anchor is at 5,000 nodes: {ANCHOR:.0} pods/s)")
        };
        println!(
            "{:<32} {:>12.0} {:>12.0} {:>12.0}   {anchor}",
            format!("{} nodes, {} pods (+{} init)", r.nodes, r.pods, r.init_pods),
            r.throughput,
            r.sampled_average,
            r.create_rate
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn namespace(nodes: usize) -> String {
    format!("bench-sched-{nodes}")
}

async fn case(
    client: &kube::Client,
    nodes: usize,
    pods: usize,
    init: usize,
    creators: usize,
) -> anyhow::Result<CaseResult> {
    let ns = namespace(nodes);
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": ns, "labels": {LABEL: "true"}}}))?,
    )
    .await
    .context("create the namespace")?;
    let node_api: Api<Node> = Api::all(client.clone());
    let t = Instant::now();
    concurrently(nodes, 50, |i| {
        let api = node_api.clone();
        async move {
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": format!("bench-node-{i}"),
                             "labels": {LABEL: "true", "kubernetes.io/hostname": format!("bench-node-{i}")}},
                "status": {
                    "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "phase": "Running",
                },
            }))?;
            api.create(&PostParams::default(), &node).await?;
            Ok(())
        }
    })
    .await
    .context("create the nodes")?;
    eprintln!("== {nodes} nodes created in {:.1?}", t.elapsed());

    // Count bindings as the watch reports them.
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let bound = Arc::new(std::sync::Mutex::new(BoundLog::default()));
    let ready = Arc::new(tokio::sync::Notify::new());
    let watch = {
        let (api, bound, ready) = (pod_api.clone(), bound.clone(), ready.clone());
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(watcher::watcher(api, watcher::Config::default()));
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(Event::InitDone) => ready.notify_one(),
                    Ok(Event::Apply(p) | Event::InitApply(p)) => {
                        if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
                            && let Some(name) = p.metadata.name
                        {
                            bound
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .seen(name, Instant::now());
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    tokio::time::timeout(PHASE, ready.notified())
        .await
        .context("the pod watch did not start")?;

    // Initial pods, unmeasured.
    create_pods(&pod_api, "init", init, creators).await?;
    wait_bound(&bound, init, "the initial pods").await?;

    let first = Instant::now();
    let created = create_pods(&pod_api, "pod", pods, creators).await?;
    let create_rate = pods as f64 / created.as_secs_f64();
    wait_bound(&bound, init + pods, "the measured pods").await?;
    watch.abort();
    let log = bound.lock().unwrap_or_else(|e| e.into_inner());
    let times: Vec<Instant> = log
        .times
        .iter()
        .filter(|(n, _)| n.starts_with("pod-"))
        .map(|(_, t)| *t)
        .collect();
    let last = times.iter().max().copied().unwrap_or(first);
    let span = last.duration_since(first).as_secs_f64().max(1e-3);
    // scheduler_perf: pods bound in each whole second, averaged.
    let start = times.iter().min().copied().unwrap_or(first);
    let secs = last.duration_since(start).as_secs() as usize;
    let mut buckets = vec![0u64; secs.max(1)];
    for t in &times {
        let i = t.duration_since(start).as_secs() as usize;
        if i < buckets.len() {
            buckets[i] += 1;
        }
    }
    let sampled = buckets.iter().sum::<u64>() as f64 / buckets.len() as f64;
    Ok(CaseResult {
        nodes,
        pods,
        init_pods: init,
        throughput: pods as f64 / span,
        sampled_average: sampled,
        create_rate,
        seconds: span,
    })
}

#[derive(Default)]
struct BoundLog {
    names: HashSet<String>,
    times: Vec<(String, Instant)>,
}

impl BoundLog {
    fn seen(&mut self, name: String, at: Instant) {
        if self.names.insert(name.clone()) {
            self.times.push((name, at));
        }
    }
}

async fn wait_bound(
    log: &std::sync::Mutex<BoundLog>,
    want: usize,
    what: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + PHASE;
    loop {
        let n = log.lock().unwrap_or_else(|e| e.into_inner()).names.len();
        if n >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what}: only {n} of {want} pods bound after {PHASE:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create_pods(
    api: &Api<Pod>,
    prefix: &str,
    count: usize,
    creators: usize,
) -> anyhow::Result<Duration> {
    let t = Instant::now();
    concurrently(count, creators, |i| {
        let api = api.clone();
        let name = format!("{prefix}-{i}");
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"containers": [{
                    "name": "pause", "image": "registry.k8s.io/pause:3.10",
                    "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"cpu": "100m", "memory": "500Mi"},
                                  "requests": {"cpu": "100m", "memory": "500Mi"}},
                }]},
            }))?;
            api.create(&PostParams::default(), &pod).await?;
            Ok(())
        }
    })
    .await
    .with_context(|| format!("create {count} pods"))?;
    Ok(t.elapsed())
}

/// Run `f(0..n)` with at most `width` in flight; fails on the first error, or after
/// [`PHASE`].
async fn concurrently<F, Fut>(n: usize, width: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let done = AtomicU64::new(0);
    let work = futures::stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            let done = &done;
            async move {
                let r = fut.await;
                done.fetch_add(1, Ordering::Relaxed);
                r
            }
        })
        .buffer_unordered(width)
        .collect::<Vec<_>>();
    let results = tokio::time::timeout(PHASE, work).await.with_context(|| {
        format!(
            "{} of {n} done after {PHASE:?}",
            done.load(Ordering::Relaxed)
        )
    })?;
    results.into_iter().collect()
}

/// Delete what the run created (best effort; pods with grace 0, since no agent will confirm).
async fn cleanup(client: &kube::Client) {
    let nss: Api<Namespace> = Api::all(client.clone());
    let sel = ListParams::default().labels(&format!("{LABEL}=true"));
    if let Ok(list) = nss.list(&sel).await {
        for ns in list {
            let Some(name) = ns.metadata.name else {
                continue;
            };
            let pods: Api<Pod> = Api::namespaced(client.clone(), &name);
            let _ = pods
                .delete_collection(
                    &DeleteParams::default().grace_period(0),
                    &ListParams::default(),
                )
                .await;
            let _ = nss.delete(&name, &DeleteParams::default()).await;
        }
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let _ = nodes
        .delete_collection(&DeleteParams::default(), &sel)
        .await;
}
