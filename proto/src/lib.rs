//! gRPC definitions for keelson.
//!
//! This crate owns the wire formats and nothing else:
//! - [`etcdserverpb`], [`mvccpb`], [`authpb`]: the etcd v3 API, field for field, so that
//!   `etcdctl` and every etcd client talk to a keelson store unchanged.
//! - [`peer`]: the member-to-member transport (Raft messages and leader forwarding).
//!
//! **Architecture invariant:** the generated types do not leak past the crates that convert
//! them (`keelson-store` today); the apiserver and the other components never see them.

#![allow(missing_docs, clippy::all, unreachable_pub, rust_2018_idioms)]

/// etcd's MVCC types (`KeyValue`, `Event`).
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// etcd's auth types (users, roles, permissions).
pub mod authpb {
    tonic::include_proto!("authpb");
}

/// etcd's v3 services: KV, Watch, Lease, Cluster, Maintenance, Auth.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// keelson's Raft transport between members.
pub mod peer {
    tonic::include_proto!("keelson.peer");
}
