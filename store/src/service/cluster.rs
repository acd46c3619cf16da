//! etcd's Cluster service, mapped onto openraft membership changes. A member change applies
//! to every Raft group the member hosts, so all groups keep the same members.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use keelson_proto::etcdserverpb::{self as pb, cluster_server::Cluster};
use tonic::{Request, Response, Status};

use super::Groups;
use crate::error::StoreError;
use crate::group::{Forward, MemberChange};
use crate::server::member_id;

/// The Cluster service.
pub struct ClusterService {
    groups: Arc<Groups>,
    token: String,
}

impl ClusterService {
    /// A Cluster service; `token` is the cluster token member ids are derived with.
    pub fn new(groups: Arc<Groups>, token: String) -> ClusterService {
        ClusterService { groups, token }
    }

    async fn change(&self, change: MemberChange) -> Result<(), Status> {
        for g in self.groups.map.values() {
            g.call(Forward::Membership(change.clone())).await?;
        }
        Ok(())
    }

    /// The member list, read at a linearizable read point when one can be had within a
    /// second, so that a member change acknowledged through any member is visible through
    /// every member (etcd 3.4 clients send no `linearizable` flag). Without quorum the local
    /// view is served, as etcd does, unless the client asked for `linearizable`.
    async fn list(
        &self,
        linearizable: bool,
    ) -> Result<(pb::ResponseHeader, Vec<pb::Member>), Status> {
        let g = self.groups.default_group().ok_or(StoreError::NoLeader)?;
        match tokio::time::timeout(std::time::Duration::from_secs(1), g.read_barrier()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if linearizable => return Err(e.into()),
            Err(_) if linearizable => return Err(StoreError::Timeout.into()),
            _ => {}
        }
        Ok((g.header(0), g.members()))
    }
}

fn check_urls(urls: &[String]) -> Result<(), Status> {
    if urls.is_empty()
        || urls
            .iter()
            .any(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        return Err(StoreError::MemberBadUrls.into());
    }
    Ok(())
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<pb::MemberAddRequest>,
    ) -> Result<Response<pb::MemberAddResponse>, Status> {
        let r = req.into_inner();
        check_urls(&r.peer_ur_ls)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = member_id(&r.peer_ur_ls, &format!("{}-{now}", self.token));
        self.change(MemberChange::Add {
            id,
            peer_urls: r.peer_ur_ls.clone(),
            learner: r.is_learner,
        })
        .await?;
        let (header, members) = self.list(false).await?;
        let member = pb::Member {
            id,
            name: String::new(),
            peer_ur_ls: r.peer_ur_ls,
            client_ur_ls: vec![],
            is_learner: r.is_learner,
        };
        Ok(Response::new(pb::MemberAddResponse {
            header: Some(header),
            member: Some(member),
            members,
        }))
    }

    async fn member_remove(
        &self,
        req: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        let id = req.into_inner().id;
        self.change(MemberChange::Remove(id)).await?;
        let (header, members) = self.list(false).await?;
        Ok(Response::new(pb::MemberRemoveResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_update(
        &self,
        req: Request<pb::MemberUpdateRequest>,
    ) -> Result<Response<pb::MemberUpdateResponse>, Status> {
        let r = req.into_inner();
        check_urls(&r.peer_ur_ls)?;
        self.change(MemberChange::Update(r.id, r.peer_ur_ls))
            .await?;
        let (header, members) = self.list(false).await?;
        Ok(Response::new(pb::MemberUpdateResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_list(
        &self,
        req: Request<pb::MemberListRequest>,
    ) -> Result<Response<pb::MemberListResponse>, Status> {
        let (header, members) = self.list(req.get_ref().linearizable).await?;
        Ok(Response::new(pb::MemberListResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_promote(
        &self,
        req: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        let id = req.into_inner().id;
        self.change(MemberChange::Promote(id)).await?;
        let (header, members) = self.list(false).await?;
        Ok(Response::new(pb::MemberPromoteResponse {
            header: Some(header),
            members,
        }))
    }
}
