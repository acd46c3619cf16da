//! The store's error type and its one mapping to etcd's gRPC errors.
//!
//! Every failure a client can see is a [`StoreError`]; [`StoreError::to_status`] turns it into
//! the `tonic::Status` (code and message) that etcd itself returns, because etcd clients
//! match on those strings (`clientv3`'s `rpctypes`, the `etcd-client` crate).

use tonic::Code;

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store, as a client or an operator sees it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StoreError {
    /// A read or watch asked for a revision that compaction has removed.
    #[error("mvcc: required revision has been compacted")]
    Compacted {
        /// The revision asked for.
        requested: i64,
        /// The store's compaction revision.
        compacted: i64,
    },
    /// A read or compaction asked for a revision beyond the current one.
    #[error("mvcc: required revision is a future revision")]
    FutureRevision {
        /// The revision asked for.
        requested: i64,
        /// The store's current revision.
        current: i64,
    },
    /// An empty key.
    #[error("key is not provided")]
    EmptyKey,
    /// `ignore_value`/`ignore_lease` on a key that does not exist.
    #[error("key not found")]
    KeyNotFound,
    /// `ignore_value` with a value.
    #[error("value is provided")]
    ValueProvided,
    /// `ignore_lease` with a lease.
    #[error("lease is provided")]
    LeaseProvided,
    /// More operations in one txn branch than allowed.
    #[error("too many operations in txn request")]
    TooManyOps,
    /// The same key written twice in one txn.
    #[error("duplicate key given in txn request")]
    DuplicateKey,
    /// A request over the configured size limit.
    #[error("request is too large")]
    RequestTooLarge,
    /// The lease does not exist.
    #[error("requested lease not found")]
    LeaseNotFound(i64),
    /// A lease with that id exists already.
    #[error("lease already exists")]
    LeaseExists(i64),
    /// A lease TTL over the maximum.
    #[error("too large lease TTL")]
    LeaseTtlTooLarge,
    /// The NOSPACE alarm is raised: writes other than deletes are refused.
    #[error("mvcc: database space exceeded")]
    NoSpace,
    /// The member is not found.
    #[error("member not found")]
    MemberNotFound(u64),
    /// A member with those peer URLs exists already.
    #[error("Peer URLs already exists")]
    PeerUrlExists,
    /// Malformed member URLs.
    #[error("given member URLs are invalid")]
    MemberBadUrls,
    /// Promote of a member that is not a learner.
    #[error("can only promote a learner member")]
    MemberNotLearner,
    /// Promote of a learner that has not caught up.
    #[error("can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// Removing this member would leave too few started members.
    #[error("re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    /// No leader is known (election in progress or no quorum).
    #[error("no leader")]
    NoLeader,
    /// The request timed out (no quorum, or a slow leader).
    #[error("request timed out")]
    Timeout,
    /// The member is shutting down.
    #[error("server stopped")]
    Stopped,
    /// The target of MoveLeader is not a voting member.
    #[error("bad leader transferee")]
    BadLeaderTransferee,
    /// A peer from another cluster.
    #[error("cluster ID mismatch")]
    ClusterIdMismatch {
        /// This member's cluster id.
        local: u64,
        /// The peer's cluster id.
        remote: u64,
    },
    /// The request names a Raft group this member does not host.
    #[error("unknown raft group {0:?}")]
    UnknownGroup(String),
    /// A request that cannot be understood.
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// The operation is not supported by keelson.
    #[error("not capable: {0}")]
    NotCapable(String),
    /// Disk or encoding failure; the member cannot go on safely.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The data directory is corrupt or half-written.
    #[error("data directory {dir} is unusable: {reason}")]
    CorruptDataDir {
        /// The data directory.
        dir: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A peer could not be reached.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// A configuration error.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// The gRPC status etcd returns for this error (same code, same message).
    pub fn to_status(&self) -> tonic::Status {
        let (code, msg): (Code, String) = match self {
            StoreError::Compacted { .. } => (Code::OutOfRange, self.etcd_msg()),
            StoreError::FutureRevision { .. } => (Code::OutOfRange, self.etcd_msg()),
            StoreError::EmptyKey
            | StoreError::KeyNotFound
            | StoreError::ValueProvided
            | StoreError::LeaseProvided
            | StoreError::TooManyOps
            | StoreError::DuplicateKey
            | StoreError::RequestTooLarge
            | StoreError::MemberBadUrls => (Code::InvalidArgument, self.etcd_msg()),
            StoreError::LeaseNotFound(_) | StoreError::MemberNotFound(_) => {
                (Code::NotFound, self.etcd_msg())
            }
            StoreError::LeaseExists(_)
            | StoreError::PeerUrlExists
            | StoreError::MemberNotLearner
            | StoreError::LearnerNotReady
            | StoreError::NotEnoughStartedMembers
            | StoreError::BadLeaderTransferee
            | StoreError::ClusterIdMismatch { .. } => (Code::FailedPrecondition, self.etcd_msg()),
            StoreError::LeaseTtlTooLarge => (Code::OutOfRange, self.etcd_msg()),
            StoreError::NoSpace => (Code::ResourceExhausted, self.etcd_msg()),
            StoreError::NoLeader | StoreError::Timeout | StoreError::Stopped => {
                (Code::Unavailable, self.etcd_msg())
            }
            StoreError::Unreachable(_) => (Code::Unavailable, self.etcd_msg()),
            StoreError::NotCapable(_) => (Code::Unimplemented, self.etcd_msg()),
            StoreError::UnknownGroup(_) | StoreError::InvalidArgument(_) => {
                (Code::InvalidArgument, self.etcd_msg())
            }
            StoreError::Storage(_) | StoreError::CorruptDataDir { .. } => {
                (Code::DataLoss, self.etcd_msg())
            }
            StoreError::Config(_) => (Code::InvalidArgument, self.etcd_msg()),
        };
        tonic::Status::new(code, msg)
    }

    /// The message with etcd's `etcdserver: ` prefix, as clients expect it.
    fn etcd_msg(&self) -> String {
        format!("etcdserver: {self}")
    }

    /// A stable short code for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            StoreError::Compacted { .. } => "compacted",
            StoreError::FutureRevision { .. } => "future_revision",
            StoreError::NoLeader => "no_leader",
            StoreError::Timeout => "timeout",
            StoreError::Storage(_) => "storage",
            _ => "request",
        }
    }
}

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::Storage(e.to_string())
    }
}

impl From<bincode::Error> for StoreError {
    fn from(e: bincode::Error) -> Self {
        StoreError::Storage(format!("encoding: {e}"))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Storage(e.to_string())
    }
}

impl From<StoreError> for tonic::Status {
    fn from(e: StoreError) -> Self {
        e.to_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_maps_to_etcd_message_and_code() {
        let s = StoreError::Compacted {
            requested: 1,
            compacted: 5,
        }
        .to_status();
        assert_eq!(s.code(), Code::OutOfRange);
        assert_eq!(
            s.message(),
            "etcdserver: mvcc: required revision has been compacted"
        );
    }

    #[test]
    fn lease_not_found_is_not_found() {
        let s = StoreError::LeaseNotFound(7).to_status();
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "etcdserver: requested lease not found");
    }

    #[test]
    fn too_large_is_invalid_argument() {
        let s = StoreError::RequestTooLarge.to_status();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "etcdserver: request is too large");
    }
}
