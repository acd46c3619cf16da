//! `keelson bench api`: the Kubernetes API server under load, through its HTTP API.
//!
//! One run, against one API server (and, for the baseline, the store under it):
//!
//! - `create`: N clients (default 50) create pods in a namespace of their own, closed loop;
//! - `get`: N clients read those pods back one by one;
//! - `store-put`: the same concurrency of raw etcd puts (the `etcd-client` crate) of values the
//!   size of a stored pod, against the store's client URL: the anchor of the API create rate,
//!   so `create / store-put` is what the API server itself costs;
//! - `list`, `list-rv0`, `list-paged`: the whole namespace (10,000 pods in a full run), as a
//!   consistent read from the store, from the watch cache (`resourceVersion=0`), and in pages
//!   of 500 (`limit`/`continue`);
//! - `watch-open`, `watch-fanout`: 1,000 concurrent HTTP watches from the last list's
//!   resourceVersion, then new pods created; for each, the time from the create's
//!   acknowledgement until every watcher has seen it, and a check that every event reached
//!   every watcher exactly once;
//! - `watch-fresh-rv`: a write outside pods, a consistent list, and a watch from that list's
//!   resourceVersion, as a client-go reflector does: how long the watch takes to start;
//! - `delete`: N clients delete every pod.
//!
//! Each row is printed next to its anchor (the Kubernetes API call latency SLOs, the issue's
//! targets, or the raw store rate). The HTTP client is hyper's HTTP/1.1 connection (one TCP
//! connection per client or watcher, like separate kubelets or controllers), over rustls for
//! an `https://` server. Only loopback servers are accepted; every request has a timeout and
//! every phase a time cap, so a misbehaving server fails the run, never hangs it. Start at
//! [`run`]; `scripts/bench-api.sh` starts a server and runs this.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

use super::{
    Cpu, ERROR_BUDGET, Limits, LoopOutcome, OP_TIMEOUT, PhaseResult, PutWorker, Worker,
    check_loopback, clk_tck, closed_loop, connect_one, fill, loop_phase, micros, ms, new_hist,
    proc_ticks, run_prefix,
};

/// Arguments of `keelson bench api`.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiBenchArgs {
    /// Base URL of the API server, loopback only: `http://127.0.0.1:PORT` (a server run with
    /// `--insecure-http`) or `https://127.0.0.1:PORT` (with `--ca-file`).
    #[arg(long)]
    pub server: String,
    /// CA certificate (PEM) that signed an https server's certificate
    /// (`keelson server` writes it to `<data-dir>/pki/ca.crt`).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Bearer token sent with every request.
    #[arg(long)]
    pub token: Option<String>,
    /// Client URL of the store under the API server (loopback, `http://`), for the raw put
    /// baseline; without it the `store-put` row and the overhead ratio are left out.
    #[arg(long)]
    pub store_endpoint: Option<String>,
    /// Comma-separated pids of the server processes, for server CPU per operation.
    #[arg(long, value_delimiter = ',')]
    pub server_pids: Vec<u32>,
    /// Concurrent clients of the create, get, store-put and delete phases.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Pods to create (and then get, list and delete); default 10,000, or 2,000 with --quick.
    #[arg(long)]
    pub pods: Option<u64>,
    /// Concurrent watches in the fan-out phase.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Pods created while the watches are open; default 300, or 30 with --quick.
    #[arg(long)]
    pub watch_pods: Option<u64>,
    /// Concurrent creators in the fan-out phase.
    #[arg(long, default_value_t = 10)]
    pub watch_writers: usize,
    /// Pods per second created in the fan-out phase (0: as fast as the writers go). The
    /// default keeps deliveries (rate x watchers) under what a 2-core host sustains, so the
    /// latency is delivery, not a growing backlog.
    #[arg(long, default_value_t = 20.0)]
    pub watch_rate: f64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Fewer objects and short time caps (about 30 s): a smoke run.
    #[arg(long)]
    pub quick: bool,
}

/// Largest response body read (a 10,000-pod list is ~15 MB).
const MAX_BODY: usize = 512 << 20;
/// Page size of the paged list.
const PAGE: u32 = 500;
/// Watches being opened at the same time.
const OPEN_CONCURRENCY: usize = 32;
/// How long opening one watch may keep being retried (on 504 and connection errors).
const OPEN_RETRY_FOR: Duration = Duration::from_secs(15);
/// Upper bound on any single phase.
const PHASE_TIMEOUT: Duration = Duration::from_secs(240);
/// Kubernetes SLO: p99 of mutating and single-object read calls.
const SLO_SINGLE: Duration = Duration::from_secs(1);
/// Kubernetes SLO for namespace- or cluster-scoped lists, at the 150,000-pod scale limit.
const SLO_LIST_SECS: f64 = 30.0;
const SLO_LIST_PODS: f64 = 150_000.0;
/// The issue's target for a list of 10,000 pods.
const TARGET_LIST: Duration = Duration::from_secs(1);

/// Sizes and time caps of every phase.
struct Plan {
    pods: u64,
    create_time: Duration,
    get: Limits,
    put_time: Duration,
    lists: Limits,
    paged: Limits,
    watch_pods: u64,
    watch_time: Duration,
    watch_grace: Duration,
    fresh_trials: u64,
    delete_time: Duration,
}

impl Plan {
    fn new(args: &ApiBenchArgs) -> Self {
        let q = args.quick;
        let secs = Duration::from_secs;
        Plan {
            pods: args.pods.unwrap_or(if q { 2_000 } else { 10_000 }),
            create_time: secs(if q { 15 } else { 60 }),
            get: if q {
                Limits {
                    max_ops: 5_000,
                    max_time: secs(3),
                }
            } else {
                Limits {
                    max_ops: 30_000,
                    max_time: secs(10),
                }
            },
            put_time: secs(if q { 10 } else { 30 }),
            lists: if q {
                Limits {
                    max_ops: 3,
                    max_time: secs(5),
                }
            } else {
                Limits {
                    max_ops: 10,
                    max_time: secs(30),
                }
            },
            paged: if q {
                Limits {
                    max_ops: 2,
                    max_time: secs(5),
                }
            } else {
                Limits {
                    max_ops: 5,
                    max_time: secs(30),
                }
            },
            watch_pods: args.watch_pods.unwrap_or(if q { 30 } else { 300 }),
            watch_time: secs(if q { 10 } else { 30 }),
            watch_grace: secs(10),
            fresh_trials: if q { 4 } else { 8 },
            delete_time: secs(if q { 15 } else { 60 }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP client

/// A byte stream a connection runs over (TCP, or TLS over TCP).
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The API server: where it is and how requests to it look.
struct Target {
    /// `host:port` to connect to.
    addr: String,
    /// `Host` header.
    host: HeaderValue,
    /// `Authorization` header, when a token is given.
    auth: Option<HeaderValue>,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
}

impl Target {
    /// Parses and checks `--server` (loopback only) and loads the CA for https.
    fn new(server: &str, ca_file: Option<&Path>, token: Option<&str>) -> anyhow::Result<Self> {
        let uri: Uri = server
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("--server {server:?} is not a URL"))?;
        let authority = uri
            .authority()
            .with_context(|| format!("--server {server:?} has no host"))?;
        check_loopback(&format!("http://{authority}"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let tls = match uri.scheme_str() {
            Some("http") => None,
            Some("https") => {
                let ca = ca_file.context("an https --server needs --ca-file")?;
                Some((tls_connector(ca)?, server_name(host)?))
            }
            _ => bail!("--server {server:?}: the scheme must be http or https"),
        };
        let port = authority
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let auth = token
            .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
            .transpose()
            .context("--token is not a valid header value")?;
        Ok(Target {
            addr: if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            },
            host: HeaderValue::from_str(authority.as_str()).context("bad host")?,
            auth,
            tls,
        })
    }

    /// Opens one HTTP/1.1 connection; its driver task runs until the returned handle is
    /// aborted or the connection ends.
    async fn connect(&self) -> anyhow::Result<(SendRequest<Full<Bytes>>, JoinHandle<()>)> {
        let tcp = timeout(OP_TIMEOUT, TcpStream::connect(&self.addr))
            .await
            .with_context(|| format!("connecting to {} timed out", self.addr))?
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true).context("TCP_NODELAY")?;
        let io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => Box::new(
                timeout(OP_TIMEOUT, connector.connect(name.clone(), tcp))
                    .await
                    .context("TLS handshake timed out")?
                    .context("TLS handshake")?,
            ),
        };
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .context("HTTP/1.1 handshake")?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((sender, driver))
    }

    /// A request for `path_and_query`, with a JSON body when given.
    fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, self.host.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "keelson-bench-api");
        if let Some(a) = &self.auth {
            b = b.header(header::AUTHORIZATION, a.clone());
        }
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(v))
            }
            None => Full::new(Bytes::new()),
        };
        b.body(body).context("building a request")
    }
}

fn tls_connector(ca_file: &Path) -> anyhow::Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("reading {}", ca_file.display()))?
    {
        let cert = cert.with_context(|| format!("parsing {}", ca_file.display()))?;
        roots.add(cert).context("adding the CA certificate")?;
    }
    if roots.is_empty() {
        bail!("{}: no certificate found", ca_file.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

fn server_name(host: &str) -> anyhow::Result<rustls::pki_types::ServerName<'static>> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("{host:?} is not a valid TLS server name"))
}

/// One client's HTTP/1.1 connection, reopened when it breaks (or when a request on it was
/// abandoned half-way, e.g. by a timeout).
struct Conn {
    target: Arc<Target>,
    live: Option<(SendRequest<Full<Bytes>>, JoinHandle<()>)>,
    /// A request was started and has not been read to its end.
    busy: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close();
    }
}

impl Conn {
    fn new(target: Arc<Target>) -> Self {
        Conn {
            target,
            live: None,
            busy: false,
        }
    }

    fn close(&mut self) {
        if let Some((_, driver)) = self.live.take() {
            driver.abort();
        }
    }

    /// Sends a request and returns the response head; the body is still to be read.
    async fn send(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<Response<Incoming>> {
        if self.busy || self.live.as_ref().is_some_and(|(s, _)| s.is_closed()) {
            self.close();
        }
        self.busy = false;
        if self.live.is_none() {
            self.live = Some(self.target.connect().await?);
        }
        let Some((sender, _)) = self.live.as_mut() else {
            bail!("no connection");
        };
        self.busy = true;
        let sent = async {
            sender.ready().await?;
            sender.send_request(req).await
        }
        .await;
        match sent {
            Ok(r) => Ok(r),
            Err(e) => {
                self.close();
                Err(anyhow!("HTTP request failed: {e}"))
            }
        }
    }

    /// One request, body read to its end: (status, body, time to last byte).
    async fn call(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(StatusCode, Bytes, Duration)> {
        let req = self.target.request(method, path_and_query, body)?;
        let t0 = Instant::now();
        let resp = self.send(req).await?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                self.close();
                anyhow!("reading the response body: {e}")
            })?
            .to_bytes();
        let took = t0.elapsed();
        self.busy = false;
        Ok((status, body, took))
    }
}

/// Fails unless `status` is one of `want`, with the server's `Status` message.
fn expect_status(status: StatusCode, body: &[u8], want: &[u16], what: &str) -> anyhow::Result<()> {
    if want.contains(&status.as_u16()) {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct ApiStatus {
        #[serde(default)]
        message: String,
    }
    let msg = serde_json::from_slice::<ApiStatus>(body)
        .map(|s| s.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    bail!("{what}: HTTP {status}: {msg}")
}

/// Percent-encodes a query parameter value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Nanoseconds since `epoch` (saturating).
fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------
// Workers

/// The pod every create sends: one container with requests and a port, like the pods of
/// Kubernetes' density tests.
fn pod_body(name: &str, client: usize) -> Vec<u8> {
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "keelson-bench", "client": format!("c{client}")},
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.k8s.io/pause:3.10",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    });
    serde_json::to_vec(&pod).unwrap_or_default()
}

/// When the creates of the fan-out phase were acknowledged, and when watchers saw them.
struct Stamps {
    epoch: Instant,
    /// Ack time (ns since `epoch`, 0 = not acknowledged) of pod `seq`.
    ack: Vec<AtomicU64>,
    /// Issue time of pod `seq`.
    issued: Vec<AtomicU64>,
    /// Watchers that have seen pod `seq`.
    seen: Vec<AtomicU32>,
    /// First and last arrival of pod `seq` at a watcher.
    first: Vec<AtomicU64>,
    last: Vec<AtomicU64>,
}

impl Stamps {
    fn new(n: usize, epoch: Instant) -> Self {
        let zeros = |v: u64| (0..n).map(|_| AtomicU64::new(v)).collect::<Vec<_>>();
        Stamps {
            epoch,
            ack: zeros(0),
            issued: zeros(0),
            seen: (0..n).map(|_| AtomicU32::new(0)).collect(),
            first: zeros(u64::MAX),
            last: zeros(0),
        }
    }
}

struct CreateWorker {
    conn: Conn,
    /// `/api/v1/namespaces/<ns>/pods`.
    path: String,
    name_prefix: &'static str,
    client: usize,
    created: Vec<u64>,
    stamps: Option<Arc<Stamps>>,
}

impl Worker for CreateWorker {
    async fn op(&mut self, seq: u64) -> anyhow::Result<()> {
        let name = format!("{}{seq:06}", self.name_prefix);
        let body = pod_body(&name, self.client);
        let slot = self
            .stamps
            .as_ref()
            .and_then(|s| Some((s, usize::try_from(seq).ok()?)));
        if let Some((s, i)) = slot
            && let Some(t) = s.issued.get(i)
        {
            t.store(nanos_since(s.epoch), Ordering::Relaxed);
        }
        let (status, resp, _) = self.conn.call(Method::POST, &self.path, Some(body)).await?;
        let acked = slot.map(|(s, _)| nanos_since(s.epoch).max(1));
        expect_status(status, &resp, &[201], &format!("create pod {name}"))?;
        if let (Some((s, i)), Some(at)) = (slot, acked)
            && let Some(t) = s.ack.get(i)
        {
            t.store(at, Ordering::Relaxed);
        }
        self.created.push(seq);
        Ok(())
    }
}

/// Reads (or deletes) pods by name.
struct NamedWorker {
    conn: Conn,
    path: String,
    names: Arc<Vec<String>>,
    delete: bool,
}

impl Worker for NamedWorker {
    async fn op(&mut self, seq: u64) -> anyhow::Result<()> {
        let n = self.names.len() as u64;
        if n == 0 {
            bail!("no pods to address");
        }
        // Deletes take every pod once; reads stride through them in a scattered order.
        let i = if self.delete {
            seq % n
        } else {
            seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n
        };
        let name = &self.names[usize::try_from(i)?];
        let path = format!("{}/{name}", self.path);
        let (method, want, what): (Method, &[u16], _) = if self.delete {
            (Method::DELETE, &[200, 202], "delete")
        } else {
            (Method::GET, &[200], "get")
        };
        let (status, body, _) = self.conn.call(method, &path, None).await?;
        expect_status(status, &body, want, &format!("{what} pod {name}"))
    }
}

// ---------------------------------------------------------------------------------------
// The run

/// One printed row: a phase and what it is measured against.
#[derive(Serialize, Debug)]
struct Row {
    #[serde(flatten)]
    phase: PhaseResult,
    anchor: String,
}

/// The whole run, as written by `--json`.
#[derive(Serialize, Debug)]
struct Report {
    server: String,
    store_endpoint: Option<String>,
    server_pids: Vec<u32>,
    clients: usize,
    pods: u64,
    watchers: usize,
    watch_pods: u64,
    quick: bool,
    namespace: String,
    started_unix: u64,
    pod_value_bytes: usize,
    create_to_store_put_ratio: Option<f64>,
    rows: Vec<Row>,
    failures: Vec<String>,
}

/// Shared state of a run.
struct Ctx {
    target: Arc<Target>,
    cpu: Cpu,
    plan: Plan,
    args: ApiBenchArgs,
    ns: String,
    /// `/api/v1/namespaces/<ns>/pods`.
    pods_path: String,
    /// Key prefix of the raw store puts.
    store_prefix: String,
}

fn slo_anchor(r: &PhaseResult, slo: Duration, what: &str) -> String {
    let ok = r.p99_ms <= slo.as_secs_f64() * 1000.0;
    format!(
        "{what} p99 <= {} ms: {}",
        slo.as_millis(),
        if ok { "met" } else { "MISSED" }
    )
}

/// Creates the run's namespace, retrying while the server is still bootstrapping.
async fn create_namespace(ctx: &Ctx) -> anyhow::Result<()> {
    let mut conn = Conn::new(ctx.target.clone());
    let body = serde_json::to_vec(&json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ctx.ns, "labels": {"app": "keelson-bench"}},
    }))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let err = match timeout(
            OP_TIMEOUT,
            conn.call(Method::POST, "/api/v1/namespaces", Some(body.clone())),
        )
        .await
        {
            Ok(Ok((status, resp, _))) => {
                match expect_status(status, &resp, &[201], "create namespace") {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                }
            }
            Ok(Err(e)) => e,
            Err(_) => anyhow!("create namespace timed out"),
        };
        if Instant::now() >= deadline {
            return Err(err.context("the API server did not accept a namespace within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Phase `create`: returns the row and the names of the created pods.
async fn phase_create(ctx: &Ctx) -> anyhow::Result<(PhaseResult, Vec<String>)> {
    let workers = (0..ctx.args.clients)
        .map(|i| CreateWorker {
            conn: Conn::new(ctx.target.clone()),
            path: ctx.pods_path.clone(),
            name_prefix: "p-",
            client: i,
            created: Vec::new(),
            stamps: None,
        })
        .collect();
    let lim = Limits {
        max_ops: ctx.plan.pods,
        max_time: ctx.plan.create_time,
    };
    let (mut r, workers) = loop_phase(&ctx.cpu, "create", workers, lim).await?;
    let mut seqs: Vec<u64> = workers.iter().flat_map(|w| w.created.clone()).collect();
    seqs.sort_unstable();
    if (seqs.len() as u64) < ctx.plan.pods {
        r.failed_check = Some(format!(
            "{} of {} pods created within {:?}",
            seqs.len(),
            ctx.plan.pods,
            ctx.plan.create_time
        ));
    }
    Ok((r, seqs.iter().map(|s| format!("p-{s:06}")).collect()))
}

async fn phase_named(
    ctx: &Ctx,
    name: &str,
    names: &Arc<Vec<String>>,
    delete: bool,
    lim: Limits,
) -> anyhow::Result<PhaseResult> {
    let workers = (0..ctx.args.clients)
        .map(|_| NamedWorker {
            conn: Conn::new(ctx.target.clone()),
            path: ctx.pods_path.clone(),
            names: names.clone(),
            delete,
        })
        .collect();
    let (r, _) = loop_phase(&ctx.cpu, name, workers, lim).await?;
    Ok(r)
}

/// Size of one pod as the server stores and returns it.
async fn pod_size(ctx: &Ctx, name: &str) -> anyhow::Result<usize> {
    let mut conn = Conn::new(ctx.target.clone());
    let path = format!("{}/{name}", ctx.pods_path);
    let (status, body, _) = timeout(OP_TIMEOUT, conn.call(Method::GET, &path, None))
        .await
        .context("get timed out")??;
    expect_status(status, &body, &[200], "get one pod")?;
    Ok(body.len())
}

/// Phase `store-put`: raw puts of pod-sized values at the same concurrency.
async fn phase_store_put(
    ctx: &Ctx,
    endpoint: &str,
    value_size: usize,
) -> anyhow::Result<PhaseResult> {
    let mut workers = Vec::with_capacity(ctx.args.clients);
    for _ in 0..ctx.args.clients {
        let client = connect_one(endpoint).await?;
        workers.push(PutWorker {
            kv: client.kv_client(),
            prefix: ctx.store_prefix.clone(),
            value: vec![b'v'; value_size.max(8)],
            stamp: None,
        });
    }
    let lim = Limits {
        max_ops: ctx.plan.pods,
        max_time: ctx.plan.put_time,
    };
    let (r, _) = loop_phase(&ctx.cpu, "store-put", workers, lim).await?;
    Ok(r)
}

/// Just what the benchmark reads of a list.
#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(default, rename = "resourceVersion")]
    resource_version: String,
    #[serde(default, rename = "continue")]
    cont: Option<String>,
}

/// One list request: (page, time to last byte).
async fn list_once(conn: &mut Conn, path: &str) -> anyhow::Result<(ListPage, Duration)> {
    let (status, body, took) = timeout(OP_TIMEOUT, conn.call(Method::GET, path, None))
        .await
        .map_err(|_| anyhow!("list timed out after {OP_TIMEOUT:?}"))??;
    expect_status(status, &body, &[200], "list pods")?;
    let page: ListPage = serde_json::from_slice(&body).context("decoding the list")?;
    Ok((page, took))
}

/// Phases `list` (consistent, from the store) and `list-rv0` (from the watch cache): one
/// client, sequential, each list checked to hold `expect` pods. Returns the row and the
/// last list's resourceVersion.
async fn phase_list(
    ctx: &Ctx,
    name: &str,
    query: &str,
    expect: usize,
) -> anyhow::Result<(PhaseResult, String)> {
    let mut conn = Conn::new(ctx.target.clone());
    let path = format!("{}{query}", ctx.pods_path);
    let mut hist = new_hist()?;
    let (mut ok, mut errors, mut first_error, mut rv, mut wrong) = (0u64, 0u64, None, None, None);
    let a = ctx.cpu.snap();
    let start = Instant::now();
    for _ in 0..ctx.plan.lists.max_ops {
        if start.elapsed() >= ctx.plan.lists.max_time {
            break;
        }
        match list_once(&mut conn, &path).await {
            Ok((page, took)) => {
                hist.saturating_record(micros(took));
                ok += 1;
                if page.items.len() != expect {
                    wrong.get_or_insert(format!(
                        "a list returned {} pods, {expect} expected",
                        page.items.len()
                    ));
                }
                rv = Some(page.metadata.resource_version);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());
    let mut r = PhaseResult {
        name: name.into(),
        clients: 1,
        errors,
        first_error,
        failed_check: wrong,
        ..Default::default()
    };
    fill(&mut r, ok, secs, &hist, &cpu);
    r.extra.insert("pods".into(), expect as f64);
    let rv = rv.filter(|v| !v.is_empty()).context("no list succeeded")?;
    Ok((r, rv))
}

/// Phase `list-paged`: whole traversals in pages of [`PAGE`]; the row's latencies are of
/// whole traversals (sum of the pages' times to last byte), per-page figures go to `extra`.
async fn phase_list_paged(ctx: &Ctx, expect: usize) -> anyhow::Result<PhaseResult> {
    let mut conn = Conn::new(ctx.target.clone());
    let (mut whole, mut pages) = (new_hist()?, new_hist()?);
    let (mut ok, mut errors, mut first_error, mut wrong) = (0u64, 0u64, None, None);
    let a = ctx.cpu.snap();
    let start = Instant::now();
    'outer: for _ in 0..ctx.plan.paged.max_ops {
        if start.elapsed() >= ctx.plan.paged.max_time {
            break;
        }
        let (mut total, mut items, mut cont) = (Duration::ZERO, 0usize, None::<String>);
        loop {
            let path = match &cont {
                None => format!("{}?limit={PAGE}", ctx.pods_path),
                Some(c) => format!(
                    "{}?limit={PAGE}&continue={}",
                    ctx.pods_path,
                    query_escape(c)
                ),
            };
            match list_once(&mut conn, &path).await {
                Ok((page, took)) => {
                    pages.saturating_record(micros(took));
                    total += took;
                    items += page.items.len();
                    match page.metadata.cont.filter(|c| !c.is_empty()) {
                        Some(c) => cont = Some(c),
                        None => break,
                    }
                    if items > expect + PAGE as usize {
                        wrong.get_or_insert(format!("paging ran past {items} pods"));
                        break;
                    }
                }
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(format!("{e:#}"));
                    continue 'outer;
                }
            }
        }
        if items != expect {
            wrong.get_or_insert(format!(
                "a paged list returned {items} pods, {expect} expected"
            ));
        }
        whole.saturating_record(micros(total));
        ok += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());
    let mut r = PhaseResult {
        name: "list-paged".into(),
        clients: 1,
        errors,
        first_error,
        failed_check: wrong,
        ..Default::default()
    };
    fill(&mut r, ok, secs, &whole, &cpu);
    r.extra.insert("pods".into(), expect as f64);
    r.extra.insert("pages".into(), pages.len() as f64);
    r.extra.insert("page_p50_ms".into(), ms(&pages, 0.5));
    r.extra.insert("page_p99_ms".into(), ms(&pages, 0.99));
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// Watch fan-out

/// Just what the benchmark reads of a watch event.
#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: WatchObject,
}

#[derive(Deserialize, Default)]
struct WatchObject {
    #[serde(default)]
    metadata: WatchMeta,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize, Default)]
struct WatchMeta {
    #[serde(default)]
    name: String,
}

/// What one watcher saw.
#[derive(Default)]
struct WatcherOutcome {
    unique: u64,
    dupes: u64,
    foreign: u64,
    error: Option<String>,
}

/// Opens one watch: retried on 504 (the watch cache has not reached the asked revision yet)
/// and on connection errors, for up to [`OPEN_RETRY_FOR`]. Returns the connection (which must
/// outlive the body), the body, and the number of retries.
async fn open_watch(
    target: Arc<Target>,
    path: String,
) -> anyhow::Result<(Conn, Incoming, u64, Duration)> {
    let t0 = Instant::now();
    let mut retries = 0u64;
    loop {
        let mut conn = Conn::new(target.clone());
        let req = target.request(Method::GET, &path, None)?;
        let err = match timeout(OP_TIMEOUT, conn.send(req)).await {
            Ok(Ok(resp)) if resp.status() == StatusCode::OK => {
                return Ok((conn, resp.into_body(), retries, t0.elapsed()));
            }
            Ok(Ok(resp)) => {
                let status = resp.status();
                let body = timeout(
                    OP_TIMEOUT,
                    Limited::new(resp.into_body(), 1 << 20).collect(),
                )
                .await
                .ok()
                .and_then(Result::ok)
                .map(|b| b.to_bytes())
                .unwrap_or_default();
                let e = expect_status(status, &body, &[200], "open watch")
                    .err()
                    .unwrap_or_else(|| anyhow!("open watch: HTTP {status}"));
                if status != StatusCode::GATEWAY_TIMEOUT {
                    return Err(e);
                }
                e
            }
            Ok(Err(e)) => e,
            Err(_) => anyhow!("opening a watch timed out"),
        };
        if t0.elapsed() >= OPEN_RETRY_FOR {
            return Err(err.context(format!("still failing after {retries} retries")));
        }
        retries += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads one watch until it has seen `done`'s target of new pods, or `grace` after the
/// writers are done.
async fn fanout_watcher(
    _conn: Conn,
    mut body: Incoming,
    stamps: Arc<Stamps>,
    mut done: tokio::sync::watch::Receiver<Option<u64>>,
    grace: Duration,
) -> WatcherOutcome {
    let mut seen = vec![false; stamps.ack.len()];
    let mut w = WatcherOutcome::default();
    let mut buf: Vec<u8> = Vec::new();
    let far = tokio::time::Instant::now() + Duration::from_secs(3600);
    let mut give_up: Option<tokio::time::Instant> = None;
    loop {
        if done.borrow().is_some_and(|t| w.unique >= t) {
            break;
        }
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else { continue };
                    let now = nanos_since(stamps.epoch);
                    buf.extend_from_slice(&data);
                    let mut from = 0;
                    while let Some(nl) = buf[from..].iter().position(|&b| b == b'\n') {
                        let line = &buf[from..from + nl];
                        from += nl + 1;
                        if line.is_empty() {
                            continue;
                        }
                        match serde_json::from_slice::<WatchLine>(line) {
                            Ok(ev) => {
                                if let Some(e) = record_event(&ev, now, &stamps, &mut seen, &mut w) {
                                    w.error = Some(e);
                                }
                            }
                            Err(e) => {
                                w.error.get_or_insert(format!("undecodable watch event: {e}"));
                                w.foreign += 1;
                            }
                        }
                    }
                    buf.drain(..from);
                    if w.error.is_some() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    w.error = Some(format!("watch stream failed: {e}"));
                    break;
                }
                None => {
                    w.error = Some("watch stream ended".into());
                    break;
                }
            },
            _ = done.changed(), if give_up.is_none() => {
                give_up = Some(tokio::time::Instant::now() + grace);
            }
            _ = tokio::time::sleep_until(give_up.unwrap_or(far)), if give_up.is_some() => break,
        }
    }
    w
}

/// Counts one watch event; returns an error message for an `ERROR` event.
fn record_event(
    ev: &WatchLine,
    now: u64,
    stamps: &Stamps,
    seen: &mut [bool],
    w: &mut WatcherOutcome,
) -> Option<String> {
    match ev.kind.as_str() {
        "BOOKMARK" => return None,
        "ERROR" => return Some(format!("watch ERROR event: {}", ev.object.message)),
        _ => {}
    }
    let idx = ev
        .object
        .metadata
        .name
        .strip_prefix("w-")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&i| i < seen.len());
    let (Some(i), "ADDED") = (idx, ev.kind.as_str()) else {
        w.foreign += 1;
        return None;
    };
    if seen[i] {
        w.dupes += 1;
        return None;
    }
    seen[i] = true;
    w.unique += 1;
    stamps.seen[i].fetch_add(1, Ordering::Relaxed);
    stamps.first[i].fetch_min(now, Ordering::Relaxed);
    stamps.last[i].fetch_max(now, Ordering::Relaxed);
    None
}

/// Creates pods `0..n` with `workers`, pod `seq` not before `start + seq / rate` (an open
/// loop while the server keeps up; a writer that falls behind issues its next create at
/// once). `rate` 0 is a closed loop. Latencies exclude the wait for the slot.
async fn paced_creates(
    workers: Vec<CreateWorker>,
    n: u64,
    rate: f64,
    max_time: Duration,
) -> anyhow::Result<LoopOutcome<CreateWorker>> {
    if rate <= 0.0 {
        return closed_loop(
            workers,
            Limits {
                max_ops: n,
                max_time,
            },
        )
        .await;
    }
    let k = workers.len() as u64;
    let start = Instant::now();
    let deadline = start + max_time;
    let mut set = JoinSet::new();
    for (i, mut w) in workers.into_iter().enumerate() {
        let mut hist = new_hist()?;
        set.spawn(async move {
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut seq = i as u64;
            while seq < n && Instant::now() < deadline && errors < ERROR_BUDGET {
                let slot = start + Duration::from_secs_f64(seq as f64 / rate);
                tokio::time::sleep_until(slot.into()).await;
                let t0 = Instant::now();
                match timeout(OP_TIMEOUT, w.op(seq)).await {
                    Ok(Ok(())) => {
                        hist.saturating_record(micros(t0.elapsed()));
                        ok += 1;
                    }
                    Ok(Err(e)) => {
                        errors += 1;
                        first_error.get_or_insert(format!("{e:#}"));
                    }
                    Err(_) => {
                        errors += 1;
                        first_error
                            .get_or_insert(format!("request timed out after {OP_TIMEOUT:?}"));
                    }
                }
                seq += k;
            }
            (w, hist, ok, errors, first_error)
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
    while let Some(res) = set.join_next().await {
        match res {
            Ok((w, h, ok, errors, first_error)) => {
                out.hist.add(&h).context("merging histograms")?;
                out.ok += ok;
                out.errors += errors;
                if out.first_error.is_none() {
                    out.first_error = first_error;
                }
                out.workers.push(w);
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert(format!("writer task failed: {e}"));
            }
        }
    }
    out.secs = start.elapsed().as_secs_f64().max(1e-9);
    Ok(out)
}

/// Phases `watch-open` and `watch-fanout`.
async fn phase_fanout(ctx: &Ctx, list_rv: &str) -> anyhow::Result<Vec<PhaseResult>> {
    let n_watchers = ctx.args.watchers;
    let n_pods = ctx.plan.watch_pods;
    let path = format!(
        "{}?watch=true&resourceVersion={}&timeoutSeconds=900",
        ctx.pods_path,
        query_escape(list_rv)
    );

    // Open every watch (a bounded number at a time) before any write.
    let a = ctx.cpu.snap();
    let start = Instant::now();
    let mut opened = Vec::with_capacity(n_watchers);
    let mut open_hist = new_hist()?;
    let (mut retries, mut open_errors, mut open_first_error) = (0u64, 0u64, None);
    let mut opens = futures::stream::iter(
        (0..n_watchers).map(|_| open_watch(ctx.target.clone(), path.clone())),
    )
    .buffer_unordered(OPEN_CONCURRENCY);
    while let Some(res) = opens.next().await {
        match res {
            Ok((conn, body, r, took)) => {
                retries += r;
                open_hist.saturating_record(micros(took));
                opened.push((conn, body));
            }
            Err(e) => {
                open_errors += 1;
                open_first_error.get_or_insert(format!("{e:#}"));
                if open_errors >= ERROR_BUDGET {
                    break;
                }
            }
        }
    }
    drop(opens);
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());
    let mut open_row = PhaseResult {
        name: "watch-open".into(),
        clients: OPEN_CONCURRENCY,
        errors: open_errors,
        first_error: open_first_error,
        ..Default::default()
    };
    fill(
        &mut open_row,
        opened.len() as u64,
        start.elapsed().as_secs_f64(),
        &open_hist,
        &cpu,
    );
    open_row.extra.insert("retries_504".into(), retries as f64);
    open_row.extra.insert("max_ms".into(), open_row.max_ms);
    if opened.len() < n_watchers {
        bail!(
            "only {} of {n_watchers} watches opened (first error: {})",
            opened.len(),
            open_row.first_error.as_deref().unwrap_or("?")
        );
    }

    // Readers, then the writers.
    let epoch = Instant::now();
    let stamps = Arc::new(Stamps::new(usize::try_from(n_pods)?, epoch));
    let (done_tx, done_rx) = tokio::sync::watch::channel::<Option<u64>>(None);
    let mut readers = JoinSet::new();
    for (conn, body) in opened {
        readers.spawn(fanout_watcher(
            conn,
            body,
            stamps.clone(),
            done_rx.clone(),
            ctx.plan.watch_grace,
        ));
    }
    let writers = (0..ctx.args.watch_writers.max(1))
        .map(|i| CreateWorker {
            conn: Conn::new(ctx.target.clone()),
            path: ctx.pods_path.clone(),
            name_prefix: "w-",
            client: i,
            created: Vec::new(),
            stamps: Some(stamps.clone()),
        })
        .collect();
    let rate = ctx.args.watch_rate.max(0.0);
    let max_time = if rate > 0.0 {
        ctx.plan
            .watch_time
            .max(Duration::from_secs_f64(n_pods as f64 / rate) + Duration::from_secs(10))
    } else {
        ctx.plan.watch_time
    };
    let a = ctx.cpu.snap();
    let write_start = Instant::now();
    let out = paced_creates(writers, n_pods, rate, max_time).await?;
    done_tx.send_replace(Some(out.ok));
    let (mut delivered, mut dupes, mut foreign, mut short) = (0u64, 0u64, 0u64, 0u64);
    let mut watch_errors: Vec<String> = Vec::new();
    let mut results = 0usize;
    while let Some(res) = readers.join_next().await {
        match res {
            Ok(w) => {
                results += 1;
                delivered += w.unique;
                dupes += w.dupes;
                foreign += w.foreign;
                if w.unique < out.ok {
                    short += 1;
                }
                if let Some(e) = w.error {
                    watch_errors.push(e);
                }
            }
            Err(e) => {
                short += 1;
                watch_errors.push(format!("watcher task failed: {e}"));
            }
        }
    }
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());

    // Per pod: ack → every watcher, issue → every watcher, ack → first watcher.
    let (mut ack_all, mut issue_all, mut ack_first) = (new_hist()?, new_hist()?, new_hist()?);
    let (mut complete, mut last_delivery, mut before_ack) = (0u64, 0u64, 0u64);
    let full = u32::try_from(n_watchers).unwrap_or(u32::MAX);
    for i in 0..stamps.ack.len() {
        let ack = stamps.ack[i].load(Ordering::Relaxed);
        if ack == 0 {
            continue;
        }
        let last = stamps.last[i].load(Ordering::Relaxed);
        let first = stamps.first[i].load(Ordering::Relaxed);
        last_delivery = last_delivery.max(last);
        if stamps.seen[i].load(Ordering::Relaxed) < full {
            continue;
        }
        complete += 1;
        let issued = stamps.issued[i].load(Ordering::Relaxed);
        let us = |from: u64, to: u64| micros(Duration::from_nanos(to.saturating_sub(from)));
        ack_all.saturating_record(us(ack, last));
        issue_all.saturating_record(us(issued, last));
        ack_first.saturating_record(us(ack, first));
        if last < ack {
            before_ack += 1;
        }
    }
    // Throughput window: from the first write to the last delivery.
    let offset = u64::try_from(write_start.duration_since(epoch).as_nanos()).unwrap_or(0);
    let secs = Duration::from_nanos(last_delivery.saturating_sub(offset))
        .as_secs_f64()
        .max(1e-9);
    let mut r = PhaseResult {
        name: "watch-fanout".into(),
        clients: n_watchers,
        errors: out.errors + watch_errors.len() as u64,
        first_error: out.first_error.or_else(|| watch_errors.first().cloned()),
        ..Default::default()
    };
    fill(&mut r, delivered, secs, &ack_all, &cpu);
    let expected = out.ok * n_watchers as u64;
    let extra = &mut r.extra;
    extra.insert("pods_created".into(), out.ok as f64);
    extra.insert("create_errors".into(), out.errors as f64);
    extra.insert("create_ops_per_sec".into(), out.ok as f64 / out.secs);
    extra.insert("create_rate_asked".into(), rate);
    extra.insert("create_p99_ms".into(), ms(&out.hist, 0.99));
    extra.insert("events_expected".into(), expected as f64);
    extra.insert("events_delivered".into(), delivered as f64);
    extra.insert("pods_seen_by_all".into(), complete as f64);
    extra.insert("issue_to_all_p99_ms".into(), ms(&issue_all, 0.99));
    extra.insert("ack_to_first_p50_ms".into(), ms(&ack_first, 0.5));
    extra.insert("all_seen_before_ack".into(), before_ack as f64);
    if short > 0 || dupes > 0 || foreign > 0 || results < n_watchers || complete < out.ok {
        let msg = format!(
            "fan-out MISMATCH: {short}/{n_watchers} watchers missed events, \
             {delivered}/{expected} events delivered, {complete}/{} pods seen by every \
             watcher, {dupes} duplicates, {foreign} unexpected events{}",
            out.ok,
            watch_errors
                .first()
                .map(|e| format!(", first watch error: {e}"))
                .unwrap_or_default()
        );
        eprintln!("!!!!!!!! {msg}");
        r.failed_check = Some(msg);
    }
    Ok(vec![open_row, r])
}

/// Phase `watch-fresh-rv`: a store write outside pods, a consistent one-item list, then a
/// watch from the list's resourceVersion (what a reflector does after every list). The row's
/// latency is the time to the watch's response head; `answered_504` counts watches refused
/// with 504 (the watch cache had not reached the revision in time). Trials are spread out so
/// they sample different moments of the server's progress-notification period.
async fn phase_watch_fresh(ctx: &Ctx, endpoint: &str) -> anyhow::Result<PhaseResult> {
    let store = connect_one(endpoint).await?;
    let mut kv = store.kv_client();
    let mut conn = Conn::new(ctx.target.clone());
    let mut hist = new_hist()?;
    let (mut ok, mut refused, mut errors, mut first_error) = (0u64, 0u64, 0u64, None);
    let a = ctx.cpu.snap();
    let start = Instant::now();
    for i in 0..ctx.plan.fresh_trials {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(700 + 300 * (i % 3))).await;
        }
        let key = format!("{}fresh/{i}", ctx.store_prefix);
        timeout(OP_TIMEOUT, kv.put(key, "x", None))
            .await
            .context("store put timed out")?
            .context("store put")?;
        let (page, _) = list_once(&mut conn, &format!("{}?limit=1", ctx.pods_path)).await?;
        let path = format!(
            "{}?watch=true&resourceVersion={}&timeoutSeconds=1",
            ctx.pods_path,
            query_escape(&page.metadata.resource_version)
        );
        let mut wconn = Conn::new(ctx.target.clone());
        let req = ctx.target.request(Method::GET, &path, None)?;
        let t0 = Instant::now();
        match timeout(OP_TIMEOUT, wconn.send(req)).await {
            Ok(Ok(resp)) => {
                hist.saturating_record(micros(t0.elapsed()));
                match resp.status() {
                    StatusCode::OK => ok += 1,
                    StatusCode::GATEWAY_TIMEOUT => refused += 1,
                    s => {
                        errors += 1;
                        first_error.get_or_insert(format!("watch answered HTTP {s}"));
                    }
                }
            }
            Ok(Err(e)) => {
                errors += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
            Err(_) => {
                errors += 1;
                first_error.get_or_insert("watch open timed out".to_string());
            }
        }
    }
    let cpu = ctx.cpu.used(a, ctx.cpu.snap());
    let mut r = PhaseResult {
        name: "watch-fresh-rv".into(),
        clients: 1,
        errors,
        first_error,
        ..Default::default()
    };
    fill(
        &mut r,
        ok + refused,
        start.elapsed().as_secs_f64(),
        &hist,
        &cpu,
    );
    r.extra.insert("answered_200".into(), ok as f64);
    r.extra.insert("answered_504".into(), refused as f64);
    r.extra.insert("max_ms".into(), r.max_ms);
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// Output

fn print_header() {
    println!(
        "{:<14} {:>7} {:>7} {:>5} {:>9} {:>8} {:>8} {:>9} {:>11}  anchor",
        "verb", "clients", "ops", "errs", "ops/s", "p50 ms", "p99 ms", "srv us/op", "cores s/b/o",
    );
}

fn print_row(row: &Row) {
    let r = &row.phase;
    println!(
        "{:<14} {:>7} {:>7} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>9} {:>11}  {}",
        r.name,
        r.clients,
        r.ops,
        r.errors,
        r.ops_per_sec,
        r.p50_ms,
        r.p99_ms,
        r.server_cpu_us_per_op
            .map_or_else(|| "-".to_string(), |v| format!("{v:.0}")),
        format!(
            "{}/{:.1}/{:.1}",
            r.server_cores
                .map_or_else(|| "-".to_string(), |v| format!("{v:.1}")),
            r.harness_cores,
            r.other_cores
        ),
        row.anchor
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

/// The list anchor: the issue's 1 s target and the SLO scaled to `pods`.
fn list_anchor(r: &PhaseResult, pods: usize) -> String {
    let scaled = SLO_LIST_SECS * pods as f64 / SLO_LIST_PODS * 1000.0;
    let p99 = r.p99_ms;
    format!(
        "target < {} ms: {}; SLO 30 s@150k pods = {scaled:.0} ms@{pods}: {}",
        TARGET_LIST.as_millis(),
        if p99 < TARGET_LIST.as_secs_f64() * 1000.0 {
            "met"
        } else {
            "MISSED"
        },
        if p99 <= scaled { "met" } else { "MISSED" }
    )
}

// ---------------------------------------------------------------------------------------
// Entry point

/// Runs `keelson bench api`.
pub async fn run(args: ApiBenchArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.watchers == 0 {
        bail!("--clients and --watchers must be at least 1");
    }
    let target = Arc::new(Target::new(
        &args.server,
        args.ca_file.as_deref(),
        args.token.as_deref(),
    )?);
    if let Some(ep) = &args.store_endpoint {
        check_loopback(ep)?;
    }
    for pid in &args.server_pids {
        proc_ticks(&pid.to_string()).with_context(|| format!("server pid {pid}"))?;
    }
    let suffix = run_prefix();
    let tag = suffix
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("run")
        .chars()
        .take(10)
        .collect::<String>();
    let ns = format!("bench-{tag}");
    let ctx = Ctx {
        target,
        cpu: Cpu {
            pids: args.server_pids.clone(),
            tck: clk_tck(),
        },
        plan: Plan::new(&args),
        pods_path: format!("/api/v1/namespaces/{ns}/pods"),
        ns,
        store_prefix: format!("{suffix}put/"),
        args,
    };
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    create_namespace(&ctx).await?;
    println!(
        "keelson bench api: {} ({} mode), namespace {}, {} clients, {} pods, {} watchers x {} pods{}",
        ctx.args.server,
        if ctx.args.quick { "quick" } else { "full" },
        ctx.ns,
        ctx.args.clients,
        ctx.plan.pods,
        ctx.args.watchers,
        ctx.plan.watch_pods,
        match &ctx.args.store_endpoint {
            Some(ep) => format!(", store {ep}"),
            None => ", no --store-endpoint: no store baseline".into(),
        }
    );
    print_header();

    let mut rows: Vec<Row> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut value_size = 0usize;
    let outcome = timeout(
        PHASE_TIMEOUT * 3,
        run_phases(&ctx, &mut rows, &mut failures, &mut value_size),
    )
    .await;
    if outcome.is_err() {
        failures.push(format!("the run exceeded {:?}", PHASE_TIMEOUT * 3));
    }
    cleanup(&ctx).await;

    let create = rows.iter().find(|r| r.phase.name == "create");
    let put = rows.iter().find(|r| r.phase.name == "store-put");
    let ratio = match (create, put) {
        (Some(c), Some(p)) if p.phase.ops_per_sec > 0.0 => {
            Some(c.phase.ops_per_sec / p.phase.ops_per_sec)
        }
        _ => None,
    };
    println!();
    if let (Some(c), Some(p), Some(x)) = (create, put, ratio) {
        println!(
            "API create / store put: {:.0} / {:.0} ops/s = {x:.2} at {} clients, pod value {value_size} B \
             (server CPU per op {} vs {} us)",
            c.phase.ops_per_sec,
            p.phase.ops_per_sec,
            ctx.args.clients,
            c.phase
                .server_cpu_us_per_op
                .map_or_else(|| "-".into(), |v| format!("{v:.0}")),
            p.phase
                .server_cpu_us_per_op
                .map_or_else(|| "-".into(), |v| format!("{v:.0}")),
        );
    }
    for r in &rows {
        let p = &r.phase;
        if p.errors > 0 {
            failures.push(format!(
                "phase {}: {} failed requests (first: {})",
                p.name,
                p.errors,
                p.first_error.as_deref().unwrap_or("?")
            ));
        }
        if let Some(c) = &p.failed_check {
            failures.push(format!("phase {}: {c}", p.name));
        }
    }
    let report = Report {
        server: ctx.args.server.clone(),
        store_endpoint: ctx.args.store_endpoint.clone(),
        server_pids: ctx.args.server_pids.clone(),
        clients: ctx.args.clients,
        pods: ctx.plan.pods,
        watchers: ctx.args.watchers,
        watch_pods: ctx.plan.watch_pods,
        quick: ctx.args.quick,
        namespace: ctx.ns.clone(),
        started_unix,
        pod_value_bytes: value_size,
        create_to_store_put_ratio: ratio,
        rows,
        failures,
    };
    if let Some(path) = &ctx.args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding JSON")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if report.failures.is_empty() {
        println!("all phases completed without errors");
        Ok(())
    } else {
        for f in &report.failures {
            eprintln!("FAILURE {f}");
        }
        bail!("{} failure(s), see above", report.failures.len())
    }
}

/// Every phase in order; a failed phase is recorded and the ones that do not depend on it
/// still run.
async fn run_phases(
    ctx: &Ctx,
    rows: &mut Vec<Row>,
    failures: &mut Vec<String>,
    value_size: &mut usize,
) {
    fn push(rows: &mut Vec<Row>, phase: PhaseResult, anchor: String) {
        let row = Row { phase, anchor };
        print_row(&row);
        rows.push(row);
    }
    macro_rules! phase {
        ($name:expr, $fut:expr) => {
            match timeout(PHASE_TIMEOUT, $fut).await {
                Ok(Ok(v)) => Some(v),
                Ok(Err(e)) => {
                    println!("{:<14} FAILED: {e:#}", $name);
                    failures.push(format!("phase {}: {e:#}", $name));
                    None
                }
                Err(_) => {
                    println!("{:<14} FAILED: exceeded {PHASE_TIMEOUT:?}", $name);
                    failures.push(format!("phase {}: exceeded {PHASE_TIMEOUT:?}", $name));
                    None
                }
            }
        };
    }

    let Some((r, names)) = phase!("create", phase_create(ctx)) else {
        return;
    };
    let anchor = slo_anchor(&r, SLO_SINGLE, "SLO mutating");
    push(rows, r, anchor);
    let names = Arc::new(names);
    let Some(first) = names.first() else {
        failures.push("no pod was created".into());
        return;
    };
    if let Some(size) = phase!("pod size", pod_size(ctx, first)) {
        *value_size = size;
    }

    if let Some(r) = phase!("get", phase_named(ctx, "get", &names, false, ctx.plan.get)) {
        let anchor = slo_anchor(&r, SLO_SINGLE, "SLO single-object read");
        push(rows, r, anchor);
    }

    let create_rate = rows
        .iter()
        .find(|r| r.phase.name == "create")
        .map_or(0.0, |r| r.phase.ops_per_sec);
    if let Some(ep) = &ctx.args.store_endpoint
        && let Some(r) = phase!(
            "store-put",
            phase_store_put(ctx, ep, (*value_size).max(256))
        )
    {
        let anchor = format!(
            "raw store, {} B values: API create = {:.2}x",
            (*value_size).max(256),
            create_rate / r.ops_per_sec.max(1e-9)
        );
        push(rows, r, anchor);
    }

    let n = names.len();
    let mut list_rv = None;
    if let Some((r, rv)) = phase!("list", phase_list(ctx, "list", "", n)) {
        let anchor = list_anchor(&r, n);
        push(rows, r, anchor);
        list_rv = Some(rv);
    }
    if let Some((r, _)) = phase!(
        "list-rv0",
        phase_list(ctx, "list-rv0", "?resourceVersion=0", n)
    ) {
        let anchor = list_anchor(&r, n);
        push(rows, r, anchor);
    }
    if let Some(r) = phase!("list-paged", phase_list_paged(ctx, n)) {
        let anchor = list_anchor(&r, n);
        push(rows, r, anchor);
    }

    let mut all = (*names).clone();
    match &list_rv {
        Some(rv) => {
            if let Some(rs) = phase!("watch", phase_fanout(ctx, rv)) {
                for r in rs {
                    let anchor = if r.name == "watch-open" {
                        format!("{} watches from list RV {rv}", ctx.args.watchers)
                    } else {
                        let all_in = r.failed_check.is_none() && r.errors == 0;
                        format!(
                            "{} watchers, every event to every watcher: {}",
                            r.clients,
                            if all_in { "yes" } else { "NO" }
                        )
                    };
                    if r.name == "watch-fanout" {
                        let created = r.extra.get("pods_created").copied().unwrap_or(0.0);
                        all.extend((0..created as u64).map(|s| format!("w-{s:06}")));
                    }
                    push(rows, r, anchor);
                }
            } else {
                // Some fan-out pods may exist; try to delete every one that might.
                all.extend((0..ctx.plan.watch_pods).map(|s| format!("w-{s:06}")));
            }
        }
        None => failures.push("phase watch: skipped (no list resourceVersion)".into()),
    }

    if let Some(ep) = &ctx.args.store_endpoint
        && let Some(r) = phase!("watch-fresh-rv", phase_watch_fresh(ctx, ep))
    {
        let refused = r.extra.get("answered_504").copied().unwrap_or(0.0);
        let anchor = if refused > 0.0 || r.p99_ms > 100.0 {
            format!(
                "starts at once: NO ({refused:.0} of {} refused with 504, max {:.0} ms)",
                r.ops, r.max_ms
            )
        } else {
            "starts at once: yes".to_string()
        };
        push(rows, r, anchor);
    }

    let all = Arc::new(all);
    let lim = Limits {
        max_ops: all.len() as u64,
        max_time: ctx.plan.delete_time,
    };
    if let Some(r) = phase!("delete", phase_named(ctx, "delete", &all, true, lim)) {
        let anchor = slo_anchor(&r, SLO_SINGLE, "SLO mutating");
        push(rows, r, anchor);
    }
}

/// Best effort: deletes the namespace (and whatever is left in it) and the raw store keys.
async fn cleanup(ctx: &Ctx) {
    let mut conn = Conn::new(ctx.target.clone());
    let path = format!("/api/v1/namespaces/{}", ctx.ns);
    match timeout(OP_TIMEOUT, conn.call(Method::DELETE, &path, None)).await {
        Ok(Ok((status, body, _))) => {
            if let Err(e) = expect_status(status, &body, &[200, 202], "delete namespace") {
                eprintln!("cleanup: {e:#}");
            }
        }
        Ok(Err(e)) => eprintln!("cleanup: delete namespace: {e:#}"),
        Err(_) => eprintln!("cleanup: delete namespace timed out"),
    }
    if let Some(ep) = &ctx.args.store_endpoint {
        let done = async {
            let client = connect_one(ep).await?;
            client
                .kv_client()
                .delete(
                    ctx.store_prefix.as_str(),
                    Some(etcd_client::DeleteOptions::new().with_prefix()),
                )
                .await?;
            anyhow::Ok(())
        };
        match timeout(OP_TIMEOUT, done).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cleanup: deleting {}: {e:#}", ctx.store_prefix),
            Err(_) => eprintln!("cleanup: deleting {} timed out", ctx.store_prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Target, query_escape};

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(query_escape("a+b/c="), "a%2Bb%2Fc%3D");
    }

    #[test]
    fn only_loopback_servers() {
        assert!(Target::new("http://127.0.0.1:8080", None, None).is_ok());
        assert!(Target::new("http://localhost:8080/", None, Some("t")).is_ok());
        assert!(Target::new("http://10.0.0.1:8080", None, None).is_err());
        assert!(Target::new("https://127.0.0.1:6443", None, None).is_err());
        assert!(Target::new("ftp://127.0.0.1:21", None, None).is_err());
    }
}
