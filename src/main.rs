//! `keelson`: one binary for every role of a keelson cluster.
//!
//! This file only parses arguments, sets up logging and wires components together; each
//! component crate owns its configuration and its `run`.

mod bench;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keelson_apiserver::ApiConfig;
use keelson_store::StoreConfig;

#[derive(Parser)]
#[command(
    name = "keelson",
    version,
    about = "A Kubernetes control plane with its own Raft-replicated, etcd-compatible store"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a store member alone: an etcd v3 replacement for anything.
    Store(Box<StoreCmd>),
    /// Run every master role in one process: a store member and the API server on it.
    Server(Box<ServerArgs>),
    /// Run the API server alone against store endpoints (`--etcd-servers`).
    Apiserver(Box<ApiserverArgs>),
    /// Run the controller manager alone against an API server (`--kubeconfig`).
    ControllerManager(Box<keelson_controllers::Config>),
    /// Run the scheduler alone against an API server (`--kubeconfig`).
    Scheduler(Box<keelson_scheduler::Config>),
    /// Benchmarks (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCmd,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct StoreCmd {
    #[command(subcommand)]
    action: Option<StoreAction>,
    #[command(flatten)]
    args: StoreArgs,
}

#[derive(Subcommand)]
enum StoreAction {
    /// Build a new member's data directory from a backup (`etcdctl snapshot save`).
    Restore {
        /// The backup file.
        backup: PathBuf,
        #[command(flatten)]
        args: Box<StoreArgs>,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    api: ApiConfig,
    /// Run only the store member (no API server).
    #[arg(long)]
    disable_apiserver: bool,
    /// Do not run the controller manager in this process.
    #[arg(long)]
    disable_controllers: bool,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    disable_scheduler: bool,
    #[command(flatten)]
    scheduling: keelson_scheduler::SchedulingConfig,
    #[command(flatten)]
    election: keelson_controllers::ElectionConfig,
}

#[derive(clap::Args)]
struct ApiserverArgs {
    #[command(flatten)]
    api: ApiConfig,
    /// Directory for the PKI and the admin kubeconfig.
    #[arg(long, default_value = "keelson-apiserver-data")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// YAML file whose keys are the flag names; like etcd, when it is given the other
    /// flags are ignored.
    #[arg(long)]
    config_file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreConfig,
}

impl StoreArgs {
    fn config(&self) -> anyhow::Result<keelson_store::ValidConfig> {
        let cfg = match &self.config_file {
            Some(p) => StoreConfig::from_file(p)?,
            None => self.store.clone(),
        };
        Ok(cfg.validate()?)
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "info,openraft=error,openraft::replication=off,h2=warn,tower=warn,hyper=warn",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

async fn run_store(args: &StoreArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    keelson_store::run(cfg, shutdown_signal())
        .await
        .context("store member failed")
}

async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let cfg = args.store.config()?;
    let data_dir = cfg.data_dir.clone();
    let store = keelson_store::Store::start(cfg)
        .await
        .context("store member failed to start")?;
    if !args.disable_apiserver {
        let backend: std::sync::Arc<dyn keelson_apiserver::Backend> =
            if args.api.etcd_servers.is_empty() {
                keelson_apiserver::EtcdBackend::in_process(
                    store.client_service(),
                    args.api.etcd_timeout,
                )
            } else {
                args.api.remote_backend()?
            };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let api = keelson_apiserver::start(args.api, backend, &data_dir, async move {
            let _ = rx.await;
        })
        .await
        .context("API server failed to start")?;
        // The controller manager and the scheduler talk to this API server over HTTPS with
        // the admin kubeconfig, as they would to any other; their failures never end the
        // process.
        let mut roles = Vec::new();
        if !args.disable_controllers {
            let cfg = keelson_controllers::Config::in_process(
                api.kubeconfig.clone(),
                args.election.clone(),
            );
            roles.push(spawn_role("controller manager", move |stop| {
                keelson_controllers::run(cfg, stop)
            }));
        }
        if !args.disable_scheduler {
            let cfg = keelson_scheduler::Config::in_process(
                api.kubeconfig.clone(),
                args.scheduling,
                args.election,
            );
            roles.push(spawn_role("scheduler", move |stop| {
                keelson_scheduler::run(cfg, stop)
            }));
        }
        shutdown_signal().await;
        // The roles first, while the API server still serves: they release their leases.
        for (_, stop, _) in &mut roles {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
        for (name, _, task) in roles {
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("{name} did not stop within 5s");
            }
        }
        let _ = tx.send(());
    } else {
        shutdown_signal().await;
    }
    store.stop().await;
    Ok(())
}

/// A role of `keelson server` (its name, its stop signal, its task).
type Role = (
    &'static str,
    Option<tokio::sync::oneshot::Sender<()>>,
    tokio::task::JoinHandle<()>,
);

/// Run one role in this process until its stop signal; its failure is logged, never fatal.
fn spawn_role<F, E>(
    name: &'static str,
    run: impl FnOnce(futures::future::BoxFuture<'static, ()>) -> F,
) -> Role
where
    F: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
        let _ = stop_rx.await;
    });
    let fut = run(stop);
    let task = tokio::spawn(async move {
        if let Err(e) = fut.await {
            tracing::error!(error = %e, "{name} failed");
        }
    });
    (name, Some(stop_tx), task)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    match cli.cmd {
        Cmd::Store(cmd) => match *cmd {
            StoreCmd {
                action: Some(StoreAction::Restore { backup, args }),
                ..
            } => {
                let cfg = args.config()?;
                let dir = keelson_store::restore(&backup, &cfg)?;
                println!("restored {} into {}", backup.display(), dir.display());
                Ok(())
            }
            StoreCmd { action: None, args } => run_store(&args).await,
        },
        Cmd::Server(args) => run_server(*args).await,
        Cmd::Apiserver(args) => {
            let backend = args.api.remote_backend()?;
            keelson_apiserver::start(args.api, backend, &args.data_dir, shutdown_signal())
                .await
                .context("API server failed to start")?;
            futures::future::pending::<()>().await;
            Ok(())
        }
        Cmd::Scheduler(cfg) => keelson_scheduler::run(*cfg, shutdown_signal())
            .await
            .context("scheduler failed"),
        Cmd::ControllerManager(cfg) => keelson_controllers::run(*cfg, shutdown_signal())
            .await
            .context("controller manager failed"),
        Cmd::Bench { what } => bench::run(what).await,
    }
}
