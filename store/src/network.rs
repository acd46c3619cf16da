//! The Raft transport between members: openraft's `RaftNetwork` over keelson's `RaftPeer`
//! gRPC service, and the connection pool both Raft and leader forwarding use.
//!
//! Every message carries the Raft group name, the sender's cluster id and member id; the
//! receiving side ([`crate::peer`]) refuses a message from another cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keelson_proto::peer::PeerMessage;
use keelson_proto::peer::raft_peer_client::RaftPeerClient;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, Endpoint};

use crate::error::StoreError;
use crate::types::{NodeId, PeerNode, TypeConfig};

/// Largest peer message (snapshot chunks, big append batches).
pub const MAX_PEER_MESSAGE: usize = 256 * 1024 * 1024;

/// Lazily connected gRPC channels to peers, by peer URL.
#[derive(Default)]
pub struct ChannelPool {
    channels: Mutex<HashMap<String, Channel>>,
}

impl ChannelPool {
    /// A client for the peer at `url` (connects on first use, reconnects by itself).
    pub fn client(&self, url: &str) -> Result<RaftPeerClient<Channel>, StoreError> {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let ch = match map.get(url) {
            Some(ch) => ch.clone(),
            None => {
                let ch = Endpoint::from_shared(url.to_string())
                    .map_err(|_| StoreError::MemberBadUrls)?
                    .connect_timeout(Duration::from_millis(500))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(1))
                    .keep_alive_timeout(Duration::from_secs(2))
                    .keep_alive_while_idle(true)
                    .connect_lazy();
                map.insert(url.to_string(), ch.clone());
                ch
            }
        };
        Ok(RaftPeerClient::new(ch)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE))
    }
}

/// Identity stamped on every outgoing peer message.
#[derive(Clone, Debug)]
pub struct PeerIdentity {
    /// Raft group name.
    pub group: String,
    /// This member's cluster id.
    pub cluster_id: u64,
    /// This member's id.
    pub from: NodeId,
}

impl PeerIdentity {
    /// Wraps an encoded payload.
    pub fn message<T: Serialize>(&self, v: &T) -> Result<PeerMessage, StoreError> {
        Ok(PeerMessage {
            group: self.group.clone(),
            cluster_id: self.cluster_id,
            from: self.from,
            data: bincode::serialize(v)?,
        })
    }
}

/// Decodes a peer payload.
pub fn decode<T: DeserializeOwned>(m: &PeerMessage) -> Result<T, StoreError> {
    Ok(bincode::deserialize(&m.data)?)
}

/// openraft's network factory for one group.
pub struct Network {
    /// Who we are.
    pub id: PeerIdentity,
    /// Shared connections.
    pub pool: Arc<ChannelPool>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConn;

    async fn new_client(&mut self, target: NodeId, node: &PeerNode) -> PeerConn {
        let url = node.peer_urls.first().cloned().unwrap_or_default();
        PeerConn {
            id: self.id.clone(),
            target,
            client: self.pool.client(&url).map_err(|e| e.to_string()),
        }
    }
}

/// A connection to one peer for one group.
pub struct PeerConn {
    id: PeerIdentity,
    target: NodeId,
    client: Result<RaftPeerClient<Channel>, String>,
}

type RpcErr<E> = RPCError<NodeId, PeerNode, RaftError<NodeId, E>>;

impl PeerConn {
    async fn call<Req, Resp, E>(
        &mut self,
        kind: Kind,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RpcErr<E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client = match &mut self.client {
            Ok(c) => c,
            Err(e) => {
                return Err(RPCError::Unreachable(Unreachable::new(
                    &StoreError::Unreachable(e.clone()),
                )));
            }
        };
        let msg = self
            .id
            .message(req)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let ttl = option.hard_ttl();
        let mut request = tonic::Request::new(msg);
        request.set_timeout(ttl);
        // The grpc-timeout header only bounds the server; a paused peer never answers, so the
        // client side needs its own deadline.
        let call = async {
            match kind {
                Kind::Append => client.append_entries(request).await,
                Kind::Vote => client.vote(request).await,
                Kind::Snapshot => client.install_snapshot(request).await,
            }
        };
        let res = match tokio::time::timeout(ttl, call).await {
            Ok(r) => r,
            Err(_) => Err(tonic::Status::deadline_exceeded(
                "peer did not answer in time",
            )),
        };
        let reply = match res {
            Ok(r) => r.into_inner(),
            Err(status) => {
                let err =
                    StoreError::Unreachable(format!("{}: {}", status.code(), status.message()));
                return Err(match status.code() {
                    tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Cancelled => RPCError::Unreachable(Unreachable::new(&err)),
                    _ => RPCError::Network(NetworkError::new(&err)),
                });
            }
        };
        let result: Result<Resp, RaftError<NodeId, E>> =
            decode(&reply).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

enum Kind {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for PeerConn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr<openraft::error::Infallible>> {
        self.call(Kind::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        self.call(Kind::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr<openraft::error::Infallible>> {
        self.call(Kind::Vote, &rpc, &option).await
    }
}
