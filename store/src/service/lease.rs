//! etcd's Lease service. Grants and revokes are replicated; keep-alives and TTL queries are
//! served by the leader (followers forward them), which alone decides expiry.

use std::sync::Arc;

use keelson_proto::etcdserverpb::{self as pb, lease_server::Lease};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::Groups;
use crate::error::StoreError;
use crate::group::{Forward, ForwardReply};
use crate::storage::lease_keys;
use crate::types::Request as Cmd;

/// etcd's largest lease TTL.
const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// The Lease service.
pub struct LeaseService {
    groups: Arc<Groups>,
    min_ttl: i64,
}

impl LeaseService {
    /// A Lease service; TTLs below `min_ttl` seconds are raised to it.
    pub fn new(groups: Arc<Groups>, min_ttl: i64) -> LeaseService {
        LeaseService { groups, min_ttl }
    }
}

fn ttl_of(r: ForwardReply) -> i64 {
    match r {
        ForwardReply::Ttl(t) => t,
        _ => 0,
    }
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<pb::LeaseGrantRequest>,
    ) -> Result<Response<pb::LeaseGrantResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let r = req.into_inner();
        if r.ttl > MAX_LEASE_TTL {
            return Err(StoreError::LeaseTtlTooLarge.into());
        }
        let ttl = r.ttl.max(self.min_ttl);
        let id = if r.id != 0 {
            r.id
        } else {
            // Positive, non-zero, and not in use locally (the apply re-checks).
            loop {
                let id = (rand::random::<u64>() >> 1) as i64;
                if id != 0 && !g.sm.read().mvcc.leases().contains_key(&id) {
                    break id;
                }
            }
        };
        let applied = g.propose(Cmd::LeaseGrant { id, ttl }).await?;
        let rev = match applied {
            crate::types::Applied::Done { revision } => revision,
            _ => 0,
        };
        Ok(Response::new(pb::LeaseGrantResponse {
            header: Some(g.header(rev)),
            id,
            ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        req: Request<pb::LeaseRevokeRequest>,
    ) -> Result<Response<pb::LeaseRevokeResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let id = req.into_inner().id;
        let applied = g.propose(Cmd::LeaseRevoke { id }).await?;
        let rev = match applied {
            crate::types::Applied::Done { revision } => revision,
            _ => 0,
        };
        Ok(Response::new(pb::LeaseRevokeResponse {
            header: Some(g.header(rev)),
        }))
    }

    type LeaseKeepAliveStream = ReceiverStream<Result<pb::LeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let g = self.groups.pick(&req)?;
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok(Some(ka)) = inbound.message().await {
                let resp = match g.call(Forward::KeepAlive(ka.id)).await {
                    Ok(r) => Ok(pb::LeaseKeepAliveResponse {
                        header: Some(g.header(g.current_rev())),
                        id: ka.id,
                        ttl: ttl_of(r),
                    }),
                    Err(e) => Err(e.to_status()),
                };
                let stop = resp.is_err();
                if tx.send(resp).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let r = req.into_inner();
        let left = ttl_of(g.call(Forward::TimeToLive(r.id)).await?);
        let header = Some(g.header(g.current_rev()));
        if left < 0 {
            return Ok(Response::new(pb::LeaseTimeToLiveResponse {
                header,
                id: r.id,
                ttl: -1,
                granted_ttl: 0,
                keys: vec![],
            }));
        }
        let (granted, keys) = lease_keys(&g.sm.read(), r.id).unwrap_or((0, vec![]));
        Ok(Response::new(pb::LeaseTimeToLiveResponse {
            header,
            id: r.id,
            ttl: left,
            granted_ttl: granted,
            keys: if r.keys { keys } else { vec![] },
        }))
    }

    async fn lease_leases(
        &self,
        req: Request<pb::LeaseLeasesRequest>,
    ) -> Result<Response<pb::LeaseLeasesResponse>, Status> {
        let g = self.groups.pick(&req)?;
        g.read_barrier().await?;
        let leases =
            g.sm.read()
                .mvcc
                .leases()
                .keys()
                .map(|id| pb::LeaseStatus { id: *id })
                .collect();
        Ok(Response::new(pb::LeaseLeasesResponse {
            header: Some(g.header(g.current_rev())),
            leases,
        }))
    }
}
