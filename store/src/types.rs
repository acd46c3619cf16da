//! The Raft type configuration: what goes into the replicated log and what applying it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Cursor;

use openraft::{LogId, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// A member's id (etcd's member id; also the openraft node id).
pub type NodeId = u64;

/// What openraft knows of a member: where its peers reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The member's advertised peer URLs (the first one is dialled).
    pub peer_urls: Vec<String>,
}

impl fmt::Display for PeerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.peer_urls.join(","))
    }
}

/// A command in the replicated log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// An etcd `TxnRequest`, protobuf-encoded. Put and DeleteRange travel as one-op txns.
    Txn(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Compact history up to `revision`.
    Compact {
        /// The compaction revision.
        revision: i64,
    },
    /// Grant a lease (id chosen by the proposer, never 0).
    LeaseGrant {
        /// Lease id.
        id: i64,
        /// Granted TTL in seconds.
        ttl: i64,
    },
    /// Revoke a lease and delete its keys.
    LeaseRevoke {
        /// Lease id.
        id: i64,
    },
    /// Raise or clear an alarm for a member.
    Alarm {
        /// The member the alarm is about.
        member: NodeId,
        /// etcd `AlarmType` value.
        alarm: i32,
        /// Raise (true) or clear (false).
        activate: bool,
    },
    /// Several txns proposed together as one log entry (the leader batches concurrent
    /// proposals); each still gets its own revision, in order.
    Batch(Vec<serde_bytes::ByteBuf>),
    /// A member publishes its name and client URLs (etcd does the same on start).
    PublishMember {
        /// The member.
        id: NodeId,
        /// Its name.
        name: String,
        /// Its client URLs.
        client_urls: Vec<String>,
    },
}

/// What applying a command returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Applied {
    /// A `TxnResponse`, protobuf-encoded (header revision set).
    Txn(#[serde(with = "serde_bytes")] Vec<u8>),
    /// One result per txn of a [`Request::Batch`], in order.
    Batch(Vec<Result<Applied, StoreError>>),
    /// Done; the store revision after the command.
    Done {
        /// Store revision after applying.
        revision: i64,
    },
}

/// The result of applying one log entry (errors are deterministic, same on every member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response(pub Result<Applied, StoreError>);

impl Default for Response {
    fn default() -> Self {
        Response(Ok(Applied::Done { revision: 0 }))
    }
}

openraft::declare_raft_types!(
    /// keelson's openraft type configuration.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = PeerNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A member's published attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAttr {
    /// Human-readable name (`--name`).
    pub name: String,
    /// Client URLs.
    pub client_urls: Vec<String>,
}

/// The replicated metadata written with every applied batch (same RocksDB batch as the
/// state it describes, so a crash never separates them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmMeta {
    /// The last log entry applied.
    pub last_applied: Option<LogId<NodeId>>,
    /// The last membership applied.
    pub membership: StoredMembership<NodeId, PeerNode>,
    /// The store revision.
    pub current_rev: i64,
    /// The compaction revision.
    pub compact_rev: i64,
    /// Members' published attributes.
    pub members: BTreeMap<NodeId, MemberAttr>,
    /// Active alarms as (member, alarm type).
    pub alarms: BTreeSet<(NodeId, i32)>,
}

/// openraft's Raft handle for this type configuration.
pub type Raft = openraft::Raft<TypeConfig>;
