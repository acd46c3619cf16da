//! `keelson bench`: benchmark drivers.
//!
//! `keelson bench store` drives any etcd v3 endpoint list (keelson's store or a real etcd)
//! through the `etcd-client` crate and prints one row per phase, so that the same harness
//! gives comparable numbers for both (see `docs/benchmarks.md` and `scripts/bench-store.sh`).
//! `keelson bench api` drives the Kubernetes API server over HTTP (module [`api`], in
//! `bench_api.rs`, which reuses the closed-loop driver and CPU accounting below).
//!
//! Every phase is closed-loop (each client issues its next request when the previous one
//! returns), bounded both in operation count and in time, and every request has its own
//! timeout, so a misbehaving server makes the run fail, never hang. Only loopback endpoints
//! are accepted.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KvClient, Txn, TxnOp,
    WatchOptions, WatchStream,
};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::timeout;

#[path = "bench_api.rs"]
mod api;
#[path = "bench_sched.rs"]
mod sched;

/// What to benchmark.
#[derive(clap::Subcommand)]
pub enum BenchCmd {
    /// The etcd v3 API of any endpoint list (keelson or etcd).
    Store(StoreBenchArgs),
    /// The Kubernetes API server over HTTP: create, get, list, watch fan-out, delete.
    Api(Box<api::ApiBenchArgs>),
    /// The scheduler, end to end through the API server: fake nodes, pods/s bound.
    Scheduler(Box<sched::SchedBenchArgs>),
}

/// Arguments of `keelson bench store`.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreBenchArgs {
    /// Comma-separated client URLs, loopback only
    /// (e.g. `http://127.0.0.1:2379,http://127.0.0.1:22379`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub endpoints: Vec<String>,
    /// Name of the system under test, printed and stored in the JSON output.
    #[arg(long, default_value = "store")]
    pub label: String,
    /// Comma-separated pids of the server processes, for server CPU per operation.
    #[arg(long, value_delimiter = ',')]
    pub server_pids: Vec<u32>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Small operation counts and short time caps: a smoke run.
    #[arg(long)]
    pub quick: bool,
    /// Number of gRPC connections, round-robined over the endpoints.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
}

/// Runs a benchmark.
pub async fn run(what: BenchCmd) -> anyhow::Result<()> {
    match what {
        BenchCmd::Store(args) => store_bench(args).await,
        BenchCmd::Api(args) => api::run(*args).await,
        BenchCmd::Scheduler(args) => sched::run(*args).await,
    }
}

/// Each request's own timeout.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Value size of every put.
const VALUE_SIZE: usize = 256;
/// Client-side gRPC decoding limit (a 10k-key list is ~2.8 MB; the default is 4 MiB).
const MAX_DECODE: usize = 256 << 20;
/// Concurrent watch streams in the fan-out phase.
const FANOUT_WATCHERS: usize = 100;
/// Concurrent writers in the fan-out phase.
const FANOUT_WRITERS: usize = 16;
/// A closed loop stops early once this many of its requests have failed.
const ERROR_BUDGET: u64 = 100;
/// Upper bound on any single phase, setup included.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);

/// A phase's bounds: whichever of the two is reached first ends it.
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_ops: u64,
    max_time: Duration,
}

const fn lim(max_ops: u64, secs: u64) -> Limits {
    Limits {
        max_ops,
        max_time: Duration::from_secs(secs),
    }
}

/// Sizes of every phase.
struct Plan {
    seq_put: Limits,
    put16: Limits,
    put64: Limits,
    range: Limits,
    cas: Limits,
    watch_lat: Limits,
    fanout_keys: u64,
    fanout_time: Duration,
    fanout_grace: Duration,
    list_keys: u64,
    list_load_time: Duration,
    list: Limits,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                seq_put: lim(200, 3),
                put16: lim(2_000, 3),
                put64: lim(4_000, 3),
                range: lim(5_000, 3),
                cas: lim(3_000, 3),
                watch_lat: lim(100, 3),
                fanout_keys: 200,
                fanout_time: Duration::from_secs(10),
                fanout_grace: Duration::from_secs(5),
                list_keys: 10_000,
                list_load_time: Duration::from_secs(60),
                list: lim(5, 5),
            }
        } else {
            Plan {
                seq_put: lim(2_000, 10),
                put16: lim(30_000, 10),
                put64: lim(60_000, 15),
                range: lim(100_000, 10),
                cas: lim(60_000, 10),
                watch_lat: lim(1_000, 10),
                fanout_keys: 2_000,
                fanout_time: Duration::from_secs(30),
                fanout_grace: Duration::from_secs(10),
                list_keys: 10_000,
                list_load_time: Duration::from_secs(120),
                list: lim(50, 20),
            }
        }
    }
}

/// One phase's results (a row of the table and an element of the JSON `phases`).
#[derive(Serialize, Debug, Default)]
struct PhaseResult {
    name: String,
    clients: usize,
    ops: u64,
    errors: u64,
    secs: f64,
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Server CPU (all `--server-pids`) per completed operation.
    server_cpu_us_per_op: Option<f64>,
    server_cores: Option<f64>,
    harness_cores: f64,
    /// CPU of everything else on the host (from /proc/stat), in cores.
    other_cores: f64,
    extra: BTreeMap<String, f64>,
    first_error: Option<String>,
    failed_check: Option<String>,
}

/// The whole run, as written by `--json`.
#[derive(Serialize, Debug)]
struct Report {
    label: String,
    endpoints: Vec<String>,
    server_pids: Vec<u32>,
    connections: usize,
    quick: bool,
    prefix: String,
    clk_tck: u64,
    started_unix: u64,
    server_versions: Vec<String>,
    phases: Vec<PhaseResult>,
    failures: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Endpoints and connections

/// Refuses anything but a plain-HTTP loopback endpoint.
fn check_loopback(ep: &str) -> anyhow::Result<()> {
    let rest = if let Some(r) = ep.strip_prefix("http://") {
        r
    } else if ep.contains("://") {
        bail!("endpoint {ep:?}: only http:// is supported");
    } else {
        ep
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        bail!("endpoint {ep:?}: user info is not supported");
    }
    let host = if let Some(r) = authority.strip_prefix('[') {
        r.split(']').next().unwrap_or_default()
    } else if authority.parse::<IpAddr>().is_ok() {
        authority
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let ok = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!(
            "endpoint {ep:?}: host {host:?} is not loopback (127.x.x.x, localhost, ::1); refused"
        );
    }
    Ok(())
}

/// One gRPC connection (a client with a single endpoint).
async fn connect_one(ep: &str) -> anyhow::Result<Client> {
    let opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
    Client::connect([ep], Some(opts))
        .await
        .with_context(|| format!("connecting to {ep}"))
}

/// Shared state of a run.
struct Ctx {
    endpoints: Vec<String>,
    pool: Vec<Client>,
    prefix: String,
    value: Vec<u8>,
    plan: Plan,
    cpu: Cpu,
}

impl Ctx {
    /// A KV client on connection `i` of the pool (round-robin).
    fn kv(&self, i: usize) -> KvClient {
        self.pool[i % self.pool.len()]
            .kv_client()
            .max_decoding_message_size(MAX_DECODE)
    }
}

/// A per-run prefix so that reruns against the same store never collide.
fn run_prefix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("/keelson-bench/{:016x}/", h.finish())
}

// ---------------------------------------------------------------------------------------
// CPU accounting from /proc

/// `getconf CLK_TCK`, 100 if it cannot be run.
fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// utime + stime of a process (`pid` is a number or `self`), in clock ticks.
fn proc_ticks(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may contain spaces; fields after it start at `state` (3).
    let after = stat
        .rsplit_once(')')
        .map(|(_, a)| a)
        .context("malformed stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .context("short stat")?
            .parse::<u64>()
            .context("bad stat field")
    };
    Ok(field(14)? + field(15)?)
}

/// Busy ticks of the whole host (all CPUs) from the first line of /proc/stat.
fn host_busy_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    if v.len() < 8 {
        bail!("unexpected /proc/stat line: {line}");
    }
    Ok(v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
}

/// Reads CPU counters of the servers, this process and the host.
struct Cpu {
    pids: Vec<u32>,
    tck: u64,
}

#[derive(Clone, Copy)]
struct CpuSnap {
    at: Instant,
    server: Option<u64>,
    harness: u64,
    host: u64,
}

/// CPU seconds used between two snapshots.
struct CpuUse {
    secs: f64,
    server_s: Option<f64>,
    harness_s: f64,
    other_s: f64,
}

impl Cpu {
    fn snap(&self) -> CpuSnap {
        let server = if self.pids.is_empty() {
            None
        } else {
            self.pids
                .iter()
                .map(|p| proc_ticks(&p.to_string()))
                .sum::<anyhow::Result<u64>>()
                .map_err(|e| eprintln!("warning: server CPU unavailable: {e:#}"))
                .ok()
        };
        CpuSnap {
            at: Instant::now(),
            server,
            harness: proc_ticks("self").unwrap_or(0),
            host: host_busy_ticks().unwrap_or(0),
        }
    }

    fn used(&self, a: CpuSnap, b: CpuSnap) -> CpuUse {
        let t = self.tck as f64;
        let server = match (a.server, b.server) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x)),
            _ => None,
        };
        let harness = b.harness.saturating_sub(a.harness);
        let host = b.host.saturating_sub(a.host);
        let other = host.saturating_sub(harness + server.unwrap_or(0));
        CpuUse {
            secs: b.at.duration_since(a.at).as_secs_f64(),
            server_s: server.map(|s| s as f64 / t),
            harness_s: harness as f64 / t,
            other_s: other as f64 / t,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Closed-loop driver

/// One client of a closed loop.
trait Worker: Send + 'static {
    /// Issues one request; `seq` is unique within the phase.
    fn op(&mut self, seq: u64) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Latencies in µs, 1 µs to 1 h, 3 significant digits (anything longer is clamped).
fn new_hist() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).context("creating histogram")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

struct LoopOutcome<W> {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    secs: f64,
    workers: Vec<W>,
}

async fn closed_loop<W: Worker>(workers: Vec<W>, lim: Limits) -> anyhow::Result<LoopOutcome<W>> {
    let issued = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + lim.max_time;
    let mut set = JoinSet::new();
    for mut w in workers {
        let issued = issued.clone();
        let failed = failed.clone();
        let mut hist = new_hist()?;
        set.spawn(async move {
            let mut ok = 0u64;
            let mut errors = 0u64;
            let mut first_error: Option<String> = None;
            loop {
                if Instant::now() >= deadline || failed.load(Ordering::Relaxed) >= ERROR_BUDGET {
                    break;
                }
                let seq = issued.fetch_add(1, Ordering::Relaxed);
                if seq >= lim.max_ops {
                    break;
                }
                let t0 = Instant::now();
                let err = match timeout(OP_TIMEOUT, w.op(seq)).await {
                    Ok(Ok(())) => {
                        hist.saturating_record(micros(t0.elapsed()));
                        ok += 1;
                        continue;
                    }
                    Ok(Err(e)) => format!("{e:#}"),
                    Err(_) => format!("request timed out after {OP_TIMEOUT:?}"),
                };
                errors += 1;
                failed.fetch_add(1, Ordering::Relaxed);
                first_error.get_or_insert(err);
            }
            (w, hist, ok, errors, first_error, Instant::now())
        });
    }
    let mut out = LoopOutcome {
        hist: new_hist()?,
        ok: 0,
        errors: 0,
        first_error: None,
        secs: 0.0,
        workers: Vec::new(),
    };
    let mut end = start;
    while let Some(res) = set.join_next().await {
        match res {
            Ok((w, h, ok, errors, first_error, done)) => {
                out.hist.add(&h).context("merging histograms")?;
                out.ok += ok;
                out.errors += errors;
                if out.first_error.is_none() {
                    out.first_error = first_error;
                }
                out.workers.push(w);
                end = end.max(done);
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert(format!("worker task failed: {e}"));
            }
        }
    }
    out.secs = end.duration_since(start).as_secs_f64().max(1e-9);
    Ok(out)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Fills the latency, throughput and CPU columns of a row.
fn fill(r: &mut PhaseResult, ops: u64, secs: f64, h: &Histogram<u64>, cpu: &CpuUse) {
    r.ops = ops;
    r.secs = secs;
    r.ops_per_sec = ops as f64 / secs.max(1e-9);
    r.p50_ms = ms(h, 0.50);
    r.p99_ms = ms(h, 0.99);
    r.max_ms = if h.is_empty() {
        0.0
    } else {
        h.max() as f64 / 1000.0
    };
    let wall = cpu.secs.max(1e-9);
    r.server_cores = cpu.server_s.map(|s| s / wall);
    r.server_cpu_us_per_op = cpu
        .server_s
        .filter(|_| ops > 0)
        .map(|s| s * 1e6 / ops as f64);
    r.harness_cores = cpu.harness_s / wall;
    r.other_cores = cpu.other_s / wall;
}

/// Runs a closed loop and turns it into a row.
async fn loop_phase<W: Worker>(
    meter: &Cpu,
    name: &str,
    workers: Vec<W>,
    lim: Limits,
) -> anyhow::Result<(PhaseResult, Vec<W>)> {
    let clients = workers.len();
    let a = meter.snap();
    let out = closed_loop(workers, lim).await?;
    let cpu = meter.used(a, meter.snap());
    let mut r = PhaseResult {
        name: name.to_string(),
        clients,
        errors: out.errors,
        first_error: out.first_error,
        ..Default::default()
    };
    fill(&mut r, out.ok, out.secs, &out.hist, &cpu);
    Ok((r, out.workers))
}

// ---------------------------------------------------------------------------------------
// Workers

struct PutWorker {
    kv: KvClient,
    prefix: String,
    value: Vec<u8>,
    /// When set, the first 8 bytes of the value carry the issue time (ns since this instant).
    stamp: Option<Instant>,
}

impl Worker for PutWorker {
    async fn op(&mut self, seq: u64) -> anyhow::Result<()> {
        let key = format!("{}{seq:08}", self.prefix);
        let mut value = self.value.clone();
        if let Some(epoch) = self.stamp {
            let ns = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            value[..8].copy_from_slice(&ns.to_le_bytes());
        }
        self.kv.put(key, value, None).await?;
        Ok(())
    }
}

struct GetWorker {
    kv: KvClient,
    key: String,
    opts: GetOptions,
    expect: usize,
}

impl Worker for GetWorker {
    async fn op(&mut self, _seq: u64) -> anyhow::Result<()> {
        let resp = self
            .kv
            .get(self.key.as_str(), Some(self.opts.clone()))
            .await?;
        if resp.kvs().len() != self.expect {
            bail!(
                "range {:?} returned {} keys, expected {}",
                self.key,
                resp.kvs().len(),
                self.expect
            );
        }
        Ok(())
    }
}

struct CasWorker {
    kv: KvClient,
    key: String,
    value: Vec<u8>,
    rev: i64,
    succeeded: u64,
    conflicts: u64,
}

impl Worker for CasWorker {
    async fn op(&mut self, _seq: u64) -> anyhow::Result<()> {
        let txn = Txn::new()
            .when([Compare::mod_revision(
                self.key.as_str(),
                CompareOp::Equal,
                self.rev,
            )])
            .and_then([TxnOp::put(self.key.as_str(), self.value.clone(), None)])
            .or_else([TxnOp::get(self.key.as_str(), None)]);
        let resp = self.kv.txn(txn).await?;
        if resp.succeeded() {
            self.succeeded += 1;
            self.rev = resp
                .header()
                .context("txn response without header")?
                .revision();
        } else {
            // Nobody else writes this key: a failed compare is a server bug, but keep going.
            self.conflicts += 1;
            let got = self.kv.get(self.key.as_str(), None).await?;
            self.rev = got
                .kvs()
                .first()
                .context("CAS key vanished")?
                .mod_revision();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Phases

fn put_workers(ctx: &Ctx, n: usize, prefix: &str, stamp: Option<Instant>) -> Vec<PutWorker> {
    (0..n)
        .map(|i| PutWorker {
            kv: ctx.kv(i),
            prefix: prefix.to_string(),
            value: ctx.value.clone(),
            stamp,
        })
        .collect()
}

async fn phase_put(
    ctx: &Ctx,
    name: &str,
    clients: usize,
    lim: Limits,
) -> anyhow::Result<PhaseResult> {
    let prefix = format!("{}{name}/", ctx.prefix);
    let (r, _) = loop_phase(
        &ctx.cpu,
        name,
        put_workers(ctx, clients, &prefix, None),
        lim,
    )
    .await?;
    Ok(r)
}

async fn phase_range(ctx: &Ctx, name: &str, serializable: bool) -> anyhow::Result<PhaseResult> {
    let key = format!("{}range/key", ctx.prefix);
    timeout(
        OP_TIMEOUT,
        ctx.kv(0).put(key.as_str(), ctx.value.clone(), None),
    )
    .await
    .context("seeding the range key timed out")?
    .context("seeding the range key")?;
    let opts = if serializable {
        GetOptions::new().with_serializable()
    } else {
        GetOptions::new()
    };
    let workers = (0..64)
        .map(|i| GetWorker {
            kv: ctx.kv(i),
            key: key.clone(),
            opts: opts.clone(),
            expect: 1,
        })
        .collect();
    let (r, _) = loop_phase(&ctx.cpu, name, workers, ctx.plan.range).await?;
    Ok(r)
}

async fn phase_cas(ctx: &Ctx, name: &str, clients: usize) -> anyhow::Result<PhaseResult> {
    let mut workers = Vec::with_capacity(clients);
    for i in 0..clients {
        let key = format!("{}cas/{i:03}", ctx.prefix);
        let mut kv = ctx.kv(i);
        let resp = timeout(OP_TIMEOUT, kv.put(key.as_str(), ctx.value.clone(), None))
            .await
            .context("seeding a CAS key timed out")?
            .context("seeding a CAS key")?;
        let rev = resp
            .header()
            .context("put response without header")?
            .revision();
        workers.push(CasWorker {
            kv,
            key,
            value: ctx.value.clone(),
            rev,
            succeeded: 0,
            conflicts: 0,
        });
    }
    let (mut r, workers) = loop_phase(&ctx.cpu, name, workers, ctx.plan.cas).await?;
    let succeeded: u64 = workers.iter().map(|w| w.succeeded).sum();
    let conflicts: u64 = workers.iter().map(|w| w.conflicts).sum();
    r.extra.insert("succeeded".into(), succeeded as f64);
    r.extra.insert("conflicts".into(), conflicts as f64);
    if conflicts > 0 {
        r.failed_check = Some(format!(
            "{conflicts} CAS txns failed their compare although each client owns its key"
        ));
    }
    Ok(r)
}

/// Waits for the `created` response of a freshly opened watch.
async fn wait_created(ws: &mut WatchStream) -> anyhow::Result<()> {
    loop {
        let resp = timeout(OP_TIMEOUT, ws.message())
            .await
            .context("timed out waiting for the watch to be created")?
            .context("watch stream failed")?
            .context("watch stream ended before it was created")?;
        if resp.canceled() {
            bail!("watch canceled at creation: {:?}", resp.cancel_reason());
        }
        if resp.created() {
            return Ok(());
        }
    }
}

async fn open_watch(client: &Client, prefix: &str) -> anyhow::Result<WatchStream> {
    let mut wc = client.watch_client().max_decoding_message_size(MAX_DECODE);
    let mut ws = timeout(
        OP_TIMEOUT,
        wc.watch(prefix, Some(WatchOptions::new().with_prefix())),
    )
    .await
    .context("opening a watch timed out")?
    .context("opening a watch")?;
    wait_created(&mut ws).await?;
    Ok(ws)
}

/// Put→event latency: one writer, a prefix watch on a separate connection.
async fn phase_watch_latency(ctx: &Ctx) -> anyhow::Result<PhaseResult> {
    let prefix = format!("{}watch/", ctx.prefix);
    let lim = ctx.plan.watch_lat;
    let watch_conn = connect_one(&ctx.endpoints[0]).await?;
    let mut ws = open_watch(&watch_conn, &prefix).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Vec<u8>, Instant)>();
    let mut forwarder = JoinSet::new();
    forwarder.spawn(async move {
        while let Ok(Some(resp)) = ws.message().await {
            let now = Instant::now();
            for ev in resp.events() {
                if let Some(kv) = ev.kv()
                    && tx.send((kv.key().to_vec(), now)).is_err()
                {
                    return;
                }
            }
        }
    });

    let mut kv = ctx.kv(0);
    let (mut put_ev, mut ack_ev) = (new_hist()?, new_hist()?);
    let (mut ok, mut errors, mut missing, mut before_ack) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error = None;
    let a = ctx.cpu.snap();
    let start = Instant::now();
    for seq in 0..lim.max_ops {
        if start.elapsed() >= lim.max_time || errors >= ERROR_BUDGET {
            break;
        }
        let key = format!("{prefix}{seq:08}");
        let t0 = Instant::now();
        match timeout(OP_TIMEOUT, kv.put(key.as_str(), ctx.value.clone(), None)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                errors += 1;
                first_error.get_or_insert(format!("put: {e}"));
                continue;
            }
            Err(_) => {
                errors += 1;
                first_error.get_or_insert("put timed out".to_string());
                continue;
            }
        }
        let t1 = Instant::now();
        let arrival = timeout(Duration::from_secs(5), async {
            while let Some((k, at)) = rx.recv().await {
                if k == key.as_bytes() {
                    return Some(at);
                }
            }
            None
        })
        .await;
        match arrival {
            Ok(Some(at)) => {
                ok += 1;
                put_ev.saturating_record(micros(at.saturating_duration_since(t0)));
                ack_ev.saturating_record(micros(at.saturating_duration_since(t1)));
                if at < t1 {
                    before_ack += 1;
                }
            }
            Ok(None) => {
                errors += 1;
                missing += 1;
                first_error.get_or_insert("watch stream ended".to_string());
                break;
            }
            Err(_) => {
                errors += 1;
                missing += 1;
                first_error.get_or_insert(format!("no watch event for {key} within 5 s"));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());
    forwarder.abort_all();
    let mut r = PhaseResult {
        name: "watch-lat".into(),
        clients: 1,
        errors,
        first_error,
        ..Default::default()
    };
    fill(&mut r, ok, secs, &put_ev, &cpu);
    r.extra
        .insert("ack_to_event_p50_ms".into(), ms(&ack_ev, 0.5));
    r.extra
        .insert("ack_to_event_p99_ms".into(), ms(&ack_ev, 0.99));
    r.extra.insert(
        "events_before_ack_pct".into(),
        100.0 * before_ack as f64 / ok.max(1) as f64,
    );
    if missing > 0 {
        r.failed_check = Some(format!("{missing} watch events never arrived"));
    }
    Ok(r)
}

struct FanoutWatcher {
    unique: u64,
    dupes: u64,
    foreign: u64,
    hist: Histogram<u64>,
    last: Option<Instant>,
    error: Option<String>,
}

/// Counts the events of one fan-out watch stream until it has seen every written key, or
/// `grace` after the writers are done.
async fn fanout_watcher(
    mut ws: WatchStream,
    prefix: String,
    n_keys: u64,
    epoch: Instant,
    mut done: tokio::sync::watch::Receiver<Option<u64>>,
    grace: Duration,
) -> anyhow::Result<FanoutWatcher> {
    let mut seen = vec![false; usize::try_from(n_keys)?];
    let mut w = FanoutWatcher {
        unique: 0,
        dupes: 0,
        foreign: 0,
        hist: new_hist()?,
        last: None,
        error: None,
    };
    let far = Instant::now() + Duration::from_secs(3600);
    let mut give_up: Option<tokio::time::Instant> = None;
    loop {
        let target = *done.borrow();
        if target.is_some_and(|t| w.unique >= t) {
            break;
        }
        tokio::select! {
            m = ws.message() => match m {
                Ok(Some(resp)) => {
                    let now = Instant::now();
                    for ev in resp.events() {
                        let Some(kv) = ev.kv() else { continue };
                        let idx = kv
                            .key()
                            .strip_prefix(prefix.as_bytes())
                            .and_then(|s| std::str::from_utf8(s).ok())
                            .and_then(|s| s.parse::<usize>().ok())
                            .filter(|&i| i < seen.len());
                        let (Some(i), EventType::Put) = (idx, ev.event_type()) else {
                            w.foreign += 1;
                            continue;
                        };
                        if seen[i] {
                            w.dupes += 1;
                            continue;
                        }
                        seen[i] = true;
                        w.unique += 1;
                        w.last = Some(now);
                        if let Some(stamp) = kv.value().get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                            let issued = epoch + Duration::from_nanos(u64::from_le_bytes(stamp));
                            w.hist.saturating_record(micros(now.saturating_duration_since(issued)));
                        }
                    }
                    if resp.canceled() {
                        w.error = Some(format!("watch canceled: {:?}", resp.cancel_reason()));
                        break;
                    }
                }
                Ok(None) => {
                    w.error = Some("watch stream ended".into());
                    break;
                }
                Err(e) => {
                    w.error = Some(format!("watch stream failed: {e}"));
                    break;
                }
            },
            _ = done.changed(), if give_up.is_none() => {
                give_up = Some(tokio::time::Instant::now() + grace);
            }
            _ = tokio::time::sleep_until(give_up.unwrap_or_else(|| far.into())), if give_up.is_some() => {
                break;
            }
        }
    }
    Ok(w)
}

/// 100 watch streams on one prefix, 16 writers; every watcher must see every event.
async fn phase_fanout(ctx: &Ctx) -> anyhow::Result<PhaseResult> {
    let prefix = format!("{}fanout/", ctx.prefix);
    let n_keys = ctx.plan.fanout_keys;
    let epoch = Instant::now();
    let (done_tx, done_rx) = tokio::sync::watch::channel::<Option<u64>>(None);
    let mut watchers = JoinSet::new();
    for i in 0..FANOUT_WATCHERS {
        let ws = open_watch(&ctx.pool[i % ctx.pool.len()], &prefix)
            .await
            .with_context(|| format!("fan-out watcher {i}"))?;
        watchers.spawn(fanout_watcher(
            ws,
            prefix.clone(),
            n_keys,
            epoch,
            done_rx.clone(),
            ctx.plan.fanout_grace,
        ));
    }
    let a = ctx.cpu.snap();
    let start = Instant::now();
    let writers = put_workers(ctx, FANOUT_WRITERS, &prefix, Some(epoch));
    let out = closed_loop(
        writers,
        Limits {
            max_ops: n_keys,
            max_time: ctx.plan.fanout_time,
        },
    )
    .await?;
    done_tx.send_replace(Some(out.ok));

    let mut hist = new_hist()?;
    let (mut delivered, mut dupes, mut foreign, mut short, mut min_seen) =
        (0u64, 0u64, 0u64, 0u64, u64::MAX);
    let mut last = start;
    let mut watch_errors = Vec::new();
    let mut results = 0usize;
    while let Some(res) = watchers.join_next().await {
        let w = match res {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                watch_errors.push(format!("{e:#}"));
                short += 1;
                min_seen = 0;
                continue;
            }
            Err(e) => {
                watch_errors.push(format!("watcher task failed: {e}"));
                short += 1;
                min_seen = 0;
                continue;
            }
        };
        results += 1;
        hist.add(&w.hist).context("merging histograms")?;
        delivered += w.unique;
        dupes += w.dupes;
        foreign += w.foreign;
        min_seen = min_seen.min(w.unique);
        if w.unique < out.ok {
            short += 1;
        }
        if let Some(l) = w.last {
            last = last.max(l);
        }
        if let Some(e) = w.error {
            watch_errors.push(e);
        }
    }
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());
    let secs = last.duration_since(start).as_secs_f64().max(1e-9);
    let mut r = PhaseResult {
        name: "fanout-100".into(),
        clients: FANOUT_WATCHERS,
        errors: out.errors + watch_errors.len() as u64,
        first_error: out.first_error.or_else(|| watch_errors.first().cloned()),
        ..Default::default()
    };
    fill(&mut r, delivered, secs, &hist, &cpu);
    let expected = out.ok * FANOUT_WATCHERS as u64;
    r.extra.insert("keys_written".into(), out.ok as f64);
    r.extra.insert("put_errors".into(), out.errors as f64);
    r.extra.insert("events_expected".into(), expected as f64);
    r.extra.insert("events_delivered".into(), delivered as f64);
    r.extra.insert("duplicate_events".into(), dupes as f64);
    r.extra.insert("watchers_short".into(), short as f64);
    r.extra
        .insert("write_ops_per_sec".into(), out.ok as f64 / out.secs);
    if short > 0 || dupes > 0 || foreign > 0 || results < FANOUT_WATCHERS {
        let msg = format!(
            "fan-out MISMATCH: {short}/{FANOUT_WATCHERS} watchers missed events (fewest seen: \
             {min_seen} of {}), {delivered}/{expected} events delivered, {dupes} duplicates, \
             {foreign} unexpected events{}",
            out.ok,
            watch_errors
                .first()
                .map(|e| format!(", first watch error: {e}"))
                .unwrap_or_default()
        );
        eprintln!("!!!!!!!! {msg}");
        r.failed_check = Some(msg);
    }
    Ok(r)
}

/// Loads a 10k-key prefix (64 writers), then lists it (linearizable, one client).
async fn phase_list(ctx: &Ctx) -> anyhow::Result<Vec<PhaseResult>> {
    let prefix = format!("{}list/", ctx.prefix);
    let plan = &ctx.plan;
    let load_lim = Limits {
        max_ops: plan.list_keys,
        max_time: plan.list_load_time,
    };
    let (mut load, _) = loop_phase(
        &ctx.cpu,
        "list-load-64",
        put_workers(ctx, 64, &prefix, None),
        load_lim,
    )
    .await?;
    let count = timeout(
        OP_TIMEOUT,
        ctx.kv(0).get(
            prefix.as_str(),
            Some(GetOptions::new().with_prefix().with_count_only()),
        ),
    )
    .await
    .context("count of the list prefix timed out")?
    .context("count of the list prefix")?
    .count();
    let expect = usize::try_from(count)?;
    if count as u64 != plan.list_keys {
        load.failed_check = Some(format!(
            "the list prefix holds {count} keys, {} were meant to be written",
            plan.list_keys
        ));
    }
    let worker = GetWorker {
        kv: ctx.kv(0),
        key: prefix.clone(),
        opts: GetOptions::new().with_prefix(),
        expect,
    };
    let (mut list, _) = loop_phase(&ctx.cpu, "list-prefix", vec![worker], plan.list).await?;
    list.extra.insert("keys".into(), count as f64);
    Ok(vec![load, list])
}

// ---------------------------------------------------------------------------------------
// Output

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.prec$}"))
}

fn print_header() {
    println!(
        "{:<14} {:>7} {:>8} {:>5} {:>9} {:>8} {:>8} {:>10} {:>9} {:>11}",
        "phase",
        "clients",
        "ops",
        "errs",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "srv us/op",
        "srv cores",
        "other cores"
    );
}

fn print_row(r: &PhaseResult) {
    println!(
        "{:<14} {:>7} {:>8} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>10} {:>9} {:>11.2}",
        r.name,
        r.clients,
        r.ops,
        r.errors,
        r.ops_per_sec,
        r.p50_ms,
        r.p99_ms,
        opt(r.server_cpu_us_per_op, 0),
        opt(r.server_cores, 2),
        r.other_cores
    );
    if !r.extra.is_empty() {
        let extra: Vec<String> = r.extra.iter().map(|(k, v)| format!("{k}={v:.2}")).collect();
        println!("{:<14} {}", "", extra.join(" "));
    }
    if let Some(e) = &r.first_error {
        println!("{:<14} first error: {e}", "");
    }
    if let Some(c) = &r.failed_check {
        println!("{:<14} CHECK FAILED: {c}", "");
    }
}

// ---------------------------------------------------------------------------------------
// The run

async fn store_bench(args: StoreBenchArgs) -> anyhow::Result<()> {
    let endpoints: Vec<String> = args
        .endpoints
        .iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if endpoints.is_empty() {
        bail!("no endpoints given");
    }
    for ep in &endpoints {
        check_loopback(ep)?;
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    for pid in &args.server_pids {
        proc_ticks(&pid.to_string()).with_context(|| format!("server pid {pid}"))?;
    }
    let tck = clk_tck();
    let cpu = Cpu {
        pids: args.server_pids.clone(),
        tck,
    };
    let prefix = run_prefix();

    let mut pool = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        pool.push(connect_one(&endpoints[i % endpoints.len()]).await?);
    }
    // Every connection must answer before the clock starts.
    for (i, c) in pool.iter().enumerate() {
        let ep = &endpoints[i % endpoints.len()];
        timeout(
            OP_TIMEOUT,
            c.kv_client().get(format!("{prefix}warmup"), None),
        )
        .await
        .with_context(|| format!("{ep}: warm-up get timed out"))?
        .with_context(|| format!("{ep}: warm-up get failed"))?;
    }
    let mut server_versions = Vec::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let v = match timeout(
            OP_TIMEOUT,
            pool[i % pool.len()].maintenance_client().status(),
        )
        .await
        {
            Ok(Ok(s)) => s.version().to_string(),
            Ok(Err(e)) => format!("status failed: {e}"),
            Err(_) => "status timed out".to_string(),
        };
        server_versions.push(format!("{ep}={v}"));
    }

    println!(
        "keelson bench store: {} [{}] {} connections round-robin, {} mode, prefix {prefix}",
        args.label,
        server_versions.join(", "),
        args.connections,
        if args.quick { "quick" } else { "full" },
    );
    if args.server_pids.is_empty() {
        println!("(no --server-pids: server CPU unknown, 'other' includes the servers)");
    }
    print_header();

    let plan = Plan::new(args.quick);
    let mut value = vec![b'v'; VALUE_SIZE];
    value[..8].copy_from_slice(b"keelson.");
    let ctx = Ctx {
        endpoints: endpoints.clone(),
        pool,
        prefix: prefix.clone(),
        value,
        plan,
        cpu,
    };
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    let mut phases: Vec<PhaseResult> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    macro_rules! phase {
        ($name:expr, $fut:expr) => {{
            match timeout(PHASE_TIMEOUT, $fut).await {
                Ok(Ok(rows)) => {
                    for r in rows {
                        print_row(&r);
                        phases.push(r);
                    }
                }
                Ok(Err(e)) => {
                    let msg = format!("phase {}: {e:#}", $name);
                    println!("{:<14} FAILED: {e:#}", $name);
                    failures.push(msg);
                }
                Err(_) => {
                    let msg = format!("phase {}: exceeded {PHASE_TIMEOUT:?}", $name);
                    println!("{:<14} FAILED: exceeded {PHASE_TIMEOUT:?}", $name);
                    failures.push(msg);
                }
            }
        }};
    }
    let p = &ctx.plan;
    phase!("seq-put", async {
        phase_put(&ctx, "seq-put", 1, p.seq_put)
            .await
            .map(|r| vec![r])
    });
    phase!("put-16", async {
        phase_put(&ctx, "put-16", 16, p.put16)
            .await
            .map(|r| vec![r])
    });
    phase!("put-64", async {
        phase_put(&ctx, "put-64", 64, p.put64)
            .await
            .map(|r| vec![r])
    });
    phase!("range-64-lin", async {
        phase_range(&ctx, "range-64-lin", false)
            .await
            .map(|r| vec![r])
    });
    phase!("range-64-ser", async {
        phase_range(&ctx, "range-64-ser", true)
            .await
            .map(|r| vec![r])
    });
    phase!("cas-64", async {
        phase_cas(&ctx, "cas-64", 64).await.map(|r| vec![r])
    });
    phase!("watch-lat", async {
        phase_watch_latency(&ctx).await.map(|r| vec![r])
    });
    phase!("fanout-100", async {
        phase_fanout(&ctx).await.map(|r| vec![r])
    });
    phase!("list", phase_list(&ctx));

    for r in &phases {
        if r.errors > 0 {
            failures.push(format!(
                "phase {}: {} failed requests (first: {})",
                r.name,
                r.errors,
                r.first_error.as_deref().unwrap_or("?")
            ));
        }
        if let Some(c) = &r.failed_check {
            failures.push(format!("phase {}: {c}", r.name));
        }
    }
    let report = Report {
        label: args.label.clone(),
        endpoints,
        server_pids: args.server_pids.clone(),
        connections: args.connections,
        quick: args.quick,
        prefix,
        clk_tck: tck,
        started_unix,
        server_versions,
        phases,
        failures,
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding JSON")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if report.failures.is_empty() {
        println!("{}: all phases completed without errors", report.label);
        Ok(())
    } else {
        for f in &report.failures {
            eprintln!("FAILURE [{}] {f}", report.label);
        }
        bail!(
            "{}: {} failure(s), see above",
            report.label,
            report.failures.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn loopback_only() {
        for ok in [
            "http://127.0.0.1:2379",
            "127.0.0.1:2379",
            "http://127.3.4.5:1",
            "http://localhost:2379",
            "http://[::1]:2379",
            "::1",
        ] {
            assert!(check_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:2379",
            "http://192.168.1.1:2379",
            "https://127.0.0.1:2379",
            "http://example.com:2379",
            "http://[::2]:2379",
            "http://u@127.0.0.1:2379",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad}");
        }
    }
}
