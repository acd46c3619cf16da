//! The `RaftPeer` gRPC service: receives Raft messages and forwarded client requests from
//! other members, checks they come from this cluster, and hands them to the right group.

use std::sync::Arc;

use keelson_proto::peer::raft_peer_server::RaftPeer;
use keelson_proto::peer::{ClusterInfoRequest, ClusterInfoResponse, PeerMessage};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use tonic::{Request, Response, Status};

use crate::error::StoreError;
use crate::group::{Forward, Group};
use crate::network::decode;
use crate::service::Groups;
use crate::types::{NodeId, PeerNode, TypeConfig};

/// The peer service of a member.
pub struct PeerService {
    groups: Arc<Groups>,
    cluster_id: u64,
    member_id: NodeId,
}

impl PeerService {
    /// A peer service for this member's groups.
    pub fn new(groups: Arc<Groups>, cluster_id: u64, member_id: NodeId) -> PeerService {
        PeerService {
            groups,
            cluster_id,
            member_id,
        }
    }

    fn group(&self, m: &PeerMessage) -> Result<Arc<Group>, Status> {
        if m.cluster_id != self.cluster_id {
            tracing::warn!(
                remote = m.cluster_id,
                local = self.cluster_id,
                from = m.from,
                "refused peer from another cluster"
            );
            return Err(StoreError::ClusterIdMismatch {
                local: self.cluster_id,
                remote: m.cluster_id,
            }
            .into());
        }
        self.groups
            .map
            .get(&m.group)
            .cloned()
            .ok_or_else(|| StoreError::UnknownGroup(m.group.clone()).into())
    }

    fn reply<T: Serialize>(&self, m: &PeerMessage, v: &T) -> Result<Response<PeerMessage>, Status> {
        Ok(Response::new(PeerMessage {
            group: m.group.clone(),
            cluster_id: self.cluster_id,
            from: self.member_id,
            data: bincode::serialize(v).map_err(StoreError::from)?,
        }))
    }
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn append_entries(
        &self,
        req: Request<PeerMessage>,
    ) -> Result<Response<PeerMessage>, Status> {
        let m = req.into_inner();
        let g = self.group(&m)?;
        let rpc: AppendEntriesRequest<TypeConfig> = decode(&m)?;
        let res = g.raft.append_entries(rpc).await;
        self.reply(&m, &res)
    }

    async fn vote(&self, req: Request<PeerMessage>) -> Result<Response<PeerMessage>, Status> {
        let m = req.into_inner();
        let g = self.group(&m)?;
        let rpc: VoteRequest<NodeId> = decode(&m)?;
        let res = g.raft.vote(rpc).await;
        self.reply(&m, &res)
    }

    async fn install_snapshot(
        &self,
        req: Request<PeerMessage>,
    ) -> Result<Response<PeerMessage>, Status> {
        let m = req.into_inner();
        let g = self.group(&m)?;
        let rpc: InstallSnapshotRequest<TypeConfig> = decode(&m)?;
        let res = g.raft.install_snapshot(rpc).await;
        self.reply(&m, &res)
    }

    async fn forward(&self, req: Request<PeerMessage>) -> Result<Response<PeerMessage>, Status> {
        let m = req.into_inner();
        let g = self.group(&m)?;
        let (_, _, nodes) = g.membership();
        if !nodes.contains_key(&m.from) {
            return Err(StoreError::InvalidArgument(format!(
                "request from unknown member {:x}",
                m.from
            ))
            .into());
        }
        let f: Forward = decode(&m)?;
        let res = g.serve_forward(f).await;
        self.reply(&m, &res)
    }

    async fn cluster_info(
        &self,
        req: Request<ClusterInfoRequest>,
    ) -> Result<Response<ClusterInfoResponse>, Status> {
        let r = req.into_inner();
        let g = self.groups.default_group().ok_or(StoreError::NoLeader)?;
        let (_, _, nodes) = g.membership();
        let member_id = nodes
            .iter()
            .find(|(_, n)| n.peer_urls.iter().any(|u| r.peer_urls.contains(u)))
            .map(|(id, _)| *id)
            .unwrap_or(0);
        let members: Vec<(NodeId, PeerNode)> = nodes.into_iter().collect();
        Ok(Response::new(ClusterInfoResponse {
            cluster_id: self.cluster_id,
            member_id,
            members: bincode::serialize(&members).map_err(StoreError::from)?,
        }))
    }
}
