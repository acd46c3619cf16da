//! keelson's controller manager: the controllers that turn declared state into running state,
//! run by several replicas of which exactly one acts.
//!
//! **Architecture invariant:** this crate reaches the cluster only through the API server, over
//! HTTP(S) with the `kube` crate; it does not link `keelson-store` or `keelson-apiserver`
//! (a tidy test checks it). So it runs the same against keelson and against a real
//! kube-apiserver.
//!
//! Where to start:
//! - [`run`]: builds a client from [`Config`], starts the caches (always, so a standby is warm),
//!   the leader election, and the controllers while this replica leads.
//! - [`leader`]: Lease-based leader election and the timing argument that keeps two replicas
//!   from acting at once.
//! - [`gc`]: the garbage collector (ownerReferences; Background, Foreground and Orphan
//!   cascading deletion).
//! - [`workloads`]: the ReplicaSet, ReplicationController and Deployment controllers.
//! - [`services`]: the Endpoints and EndpointSlice controllers, and each namespace's
//!   `default` ServiceAccount and `kube-root-ca.crt`.
//! - [`informer`], [`workqueue`], [`expectations`], [`recorder`]: what the controllers are
//!   built from (warm watch caches, a deduplicating queue with back-off, creation/deletion
//!   expectations, Events).

pub mod expectations;
pub mod gc;
pub mod informer;
pub mod leader;
pub mod recorder;
pub mod services;
pub mod workloads;
pub mod workqueue;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::watch;

pub use leader::{ElectionConfig, Leadership, Timing};

/// Namespace of the controller manager's Lease.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// Name of the controller manager's Lease.
pub const LEASE_NAME: &str = "keelson-controller-manager";

/// Errors of the controller manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or a combination of flags is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No kubeconfig given and none could be inferred (`$KUBECONFIG`, `~/.kube/config`,
    /// in-cluster).
    #[error("no kubeconfig: {0}")]
    InferConfig(String),
    /// A request to the API server failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// A request to the API server did not answer in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// The request.
        what: &'static str,
        /// The bound.
        after: Duration,
    },
    /// A write was refused locally because this replica does not hold the lease.
    #[error("not leading: write suppressed")]
    NotLeading,
    /// A label selector that cannot be evaluated (unknown operator, wrong number of values);
    /// the API server's validation should have refused it.
    #[error("invalid label selector: {0}")]
    InvalidSelector(String),
    /// `maxSurge` / `maxUnavailable` is neither an integer nor a percentage.
    #[error("invalid value for IntOrString: {0}")]
    InvalidIntOrPercent(String),
    /// `spec.strategy.type` is neither `RollingUpdate` nor `Recreate`.
    #[error("unexpected deployment strategy type: {0}")]
    UnsupportedStrategy(String),
    /// The pod template has no labels: the pod could never be matched by its controller.
    #[error("unable to create pods, no labels")]
    NoLabels,
    /// A CronJob schedule that cannot be parsed.
    #[error("unparseable schedule: {0}")]
    InvalidSchedule(String),
    /// A CronJob `timeZone` that is not in the time zone database.
    #[error("unknown time zone {0}")]
    UnknownTimeZone(String),
    /// A ControllerRevision whose data holds no readable `spec.template`.
    #[error("invalid controller revision: {0}")]
    InvalidRevision(String),
    /// An ownerReference names a kind the API server does not serve (yet).
    #[error("unknown owner kind {kind} in {api_version}")]
    UnknownKind {
        /// ownerReference apiVersion.
        api_version: String,
        /// ownerReference kind.
        kind: String,
    },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Configuration of `keelson controller-manager`.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// kubeconfig of the API server to manage; default: `$KUBECONFIG`, `~/.kube/config` or
    /// the in-cluster service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    pub election: ElectionConfig,
}

impl Config {
    /// The configuration `keelson server` uses for its in-process controller manager.
    pub fn in_process(kubeconfig: PathBuf, election: ElectionConfig) -> Config {
        Config {
            kubeconfig: Some(kubeconfig),
            election,
        }
    }
}

/// A kube client from `--kubeconfig` (or the inferred configuration).
pub async fn client(kubeconfig: Option<&std::path::Path>) -> Result<Client> {
    let mut config = match kubeconfig {
        Some(path) => {
            let err = |e: &dyn std::fmt::Display| Error::Kubeconfig {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            let kc = Kubeconfig::read_from(path).map_err(|e| err(&e))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| err(&e))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| Error::InferConfig(e.to_string()))?,
    };
    // A dead API server must not stall a role for a TCP timeout.
    config.connect_timeout = Some(Duration::from_secs(2));
    Ok(Client::try_from(config)?)
}

/// Run the controller manager until `shutdown` resolves.
///
/// The caches (the garbage collector's object graph) run from the start, leading or not, so a
/// standby that takes over does not re-list the world. The controllers act only while
/// [`Leadership`] says this replica holds the lease; when it stops holding it they are
/// stopped at once and the loop waits to lead again (losing the lease never ends the
/// process). On shutdown the controllers stop first, then the lease is released so a standby
/// takes over immediately.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
    let timing = config.election.validate()?;
    let identity = config.election.identity();
    let client = client(config.kubeconfig.as_deref()).await?;
    tracing::info!(%identity, lease = LEASE_NAME, "controller manager starting");

    let (stop_tx, stop_rx) = watch::channel(false);
    let gc = gc::GarbageCollector::start(client.clone(), stop_rx.clone());
    // One watch per resource, shared by the controllers that need it.
    let pods = informer::Informer::new();
    let nodes = informer::Informer::new();
    let workloads = workloads::Workloads::start(client.clone(), &pods, &nodes, stop_rx.clone());
    let ca_pem = config
        .kubeconfig
        .as_deref()
        .and_then(|p| Kubeconfig::read_from(p).ok())
        .and_then(|kc| services::ca_pem_of(&kc));
    let services =
        services::Services::start(client.clone(), &pods, &nodes, ca_pem, stop_rx.clone());
    pods.run(kube::Api::all(client.clone()), stop_rx.clone());
    nodes.run(kube::Api::all(client.clone()), stop_rx.clone());
    let (mut leadership, elector) = leader::spawn(
        kube::Api::namespaced(client.clone(), LEASE_NAMESPACE),
        LEASE_NAME.to_string(),
        identity,
        timing,
        stop_rx,
    );

    tokio::pin!(shutdown);
    'outer: loop {
        tokio::select! {
            _ = &mut shutdown => break 'outer,
            _ = leadership.acquired() => {}
        }
        tracing::info!("leading: controllers started");
        let mut lost = leadership.clone();
        tokio::select! {
            _ = &mut shutdown => break 'outer,
            _ = lost.lost() => {
                tracing::warn!("lease no longer held: controllers stopped");
            }
            () = gc.run_worker(leadership.clone()) => {
                tracing::error!("garbage collector worker ended");
            }
            () = workloads.run_workers(leadership.clone()) => {
                tracing::error!("workload controllers ended");
            }
            () = services.run_workers(leadership.clone()) => {
                tracing::error!("service controllers ended");
            }
        }
    }
    // The controllers' futures are dropped by now; only then give the lease away.
    let _ = stop_tx.send(true);
    if let Err(e) = elector.await {
        tracing::warn!(error = %e, "leader election task failed");
    }
    gc.stop().await;
    tracing::info!("controller manager stopped");
    Ok(())
}
