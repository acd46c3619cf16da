//! keelson's store: a Raft-replicated MVCC key-value store (openraft 0.9 + RocksDB) that
//! speaks the etcd v3 gRPC API, so `etcdctl` and every etcd client work against it.
//!
//! **Architecture invariant:** this crate knows nothing about Kubernetes. Keys and values are
//! bytes, revisions are `i64`, watch events are per key with the previous value: etcd's
//! contract and nothing more.
//!
//! Where to start reading:
//! - [`server::Store`]: a running member (bootstrap, groups, gRPC servers);
//! - [`group::Group`]: one Raft group (propose, linearizable reads, leases, membership);
//! - [`storage`]: the RocksDB log store and state machine (durability lives here);
//! - [`mvcc`]: revisions, txns and compaction, as etcd defines them;
//! - [`service`]: the etcd v3 services; [`peer`] and [`network`]: the Raft transport.

pub mod config;
pub mod error;
pub mod group;
pub mod mvcc;
pub mod network;
pub mod peer;
pub mod server;
pub mod service;
pub mod storage;
pub mod types;

pub use config::{StoreConfig, ValidConfig};
pub use error::{Result, StoreError};
pub use server::{Store, restore, run};
