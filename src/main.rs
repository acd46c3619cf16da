//! `keelson`: one binary for every role of a keelson cluster.
//!
//! This file only parses arguments, sets up logging and wires components together; each
//! component crate owns its configuration and its `run`.

mod bench;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// Run every master role in one process (today: the embedded store member).
    Server(Box<StoreArgs>),
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
        Cmd::Server(args) => run_store(&args).await,
        Cmd::Bench { what } => bench::run(what).await,
    }
}
