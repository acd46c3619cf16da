//! The etcd v3 gRPC services (KV, Watch, Lease, Cluster, Maintenance; Auth is not served, so clients get Unimplemented),
//! plus the registry that maps a request to the Raft group it is for.
//!
//! The default group serves plain etcd clients; a request carrying the gRPC metadata key
//! [`GROUP_METADATA`] (`keelson-group: <name>`) is served by that group instead.

pub mod cluster;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::StoreError;
use crate::group::Group;

/// gRPC metadata key that selects a Raft group.
pub const GROUP_METADATA: &str = "keelson-group";

/// Limits every service enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request in bytes (etcd's `--max-request-bytes`).
    pub max_request_bytes: usize,
    /// Most operations in one txn branch (etcd's `--max-txn-ops`).
    pub max_txn_ops: usize,
    /// Backend quota in bytes; 0 disables the check.
    pub quota_bytes: u64,
    /// Version string reported by Status.
    pub version: String,
    /// How often watches that asked for progress notifications get one.
    pub progress_notify_interval: std::time::Duration,
}

/// The groups this member hosts.
pub struct Groups {
    /// By name.
    pub map: BTreeMap<String, Arc<Group>>,
    /// The group plain etcd clients reach.
    pub default: String,
    /// Limits.
    pub limits: Limits,
}

impl Groups {
    /// The group a request is for.
    pub fn pick<T>(&self, req: &tonic::Request<T>) -> Result<Arc<Group>, tonic::Status> {
        let name = match req.metadata().get(GROUP_METADATA) {
            Some(v) => v
                .to_str()
                .map_err(|_| StoreError::InvalidArgument("bad keelson-group metadata".into()))?,
            None => self.default.as_str(),
        };
        self.map
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::UnknownGroup(name.to_string()).to_status())
    }

    /// The default group.
    pub fn default_group(&self) -> Option<Arc<Group>> {
        self.map.get(&self.default).cloned()
    }

    /// Refuses a request whose encoded size is over the limit.
    pub fn check_size(&self, len: usize) -> Result<(), tonic::Status> {
        if len > self.limits.max_request_bytes {
            return Err(StoreError::RequestTooLarge.to_status());
        }
        Ok(())
    }
}
