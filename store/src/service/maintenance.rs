//! etcd's Maintenance service: Status, Alarm, Defragment, Hash/HashKV, Snapshot (backup
//! stream), MoveLeader and Downgrade.

use std::sync::Arc;

use keelson_proto::etcdserverpb::{
    self as pb, alarm_request::AlarmAction, maintenance_server::Maintenance,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::Groups;
use crate::error::StoreError;
use crate::types::Request as Cmd;

/// Backup stream chunk size.
const SNAPSHOT_CHUNK: usize = 32 * 1024;

/// The Maintenance service.
pub struct MaintenanceService {
    groups: Arc<Groups>,
}

impl MaintenanceService {
    /// A Maintenance service over the member's groups.
    pub fn new(groups: Arc<Groups>) -> MaintenanceService {
        MaintenanceService { groups }
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(
        &self,
        req: Request<pb::AlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let r = req.into_inner();
        let action = AlarmAction::try_from(r.action).unwrap_or(AlarmAction::Get);
        match action {
            AlarmAction::Get => {}
            AlarmAction::Activate | AlarmAction::Deactivate => {
                if r.alarm == pb::AlarmType::None as i32 {
                    return Err(StoreError::InvalidArgument("alarm type NONE".into()).into());
                }
                let activate = action == AlarmAction::Activate;
                let members: Vec<u64> = if r.member_id != 0 {
                    vec![r.member_id]
                } else {
                    g.sm.read()
                        .meta
                        .alarms
                        .iter()
                        .filter(|(_, a)| *a == r.alarm)
                        .map(|(m, _)| *m)
                        .collect()
                };
                for m in members {
                    g.propose(Cmd::Alarm {
                        member: m,
                        alarm: r.alarm,
                        activate,
                    })
                    .await?;
                }
            }
        }
        let alarms =
            g.sm.read()
                .meta
                .alarms
                .iter()
                .filter(|(m, a)| {
                    action == AlarmAction::Get
                        || (r.member_id == 0 || *m == r.member_id) && *a == r.alarm
                        || action == AlarmAction::Get
                })
                .map(|(m, a)| pb::AlarmMember {
                    member_id: *m,
                    alarm: *a,
                })
                .collect();
        Ok(Response::new(pb::AlarmResponse {
            header: Some(g.header(g.current_rev())),
            alarms,
        }))
    }

    async fn status(
        &self,
        req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let m = g.raft.metrics().borrow().clone();
        let (voters, _, _) = g.membership();
        let size = g.sm.db_size() as i64;
        let errors =
            g.sm.read()
                .meta
                .alarms
                .iter()
                .map(|(mem, a)| {
                    format!(
                        "memberID:{mem} alarm:{} ",
                        pb::AlarmType::try_from(*a)
                            .map(|t| t.as_str_name())
                            .unwrap_or("UNKNOWN")
                    )
                })
                .collect();
        Ok(Response::new(pb::StatusResponse {
            header: Some(g.header(g.current_rev())),
            version: self.groups.limits.version.clone(),
            db_size: size,
            leader: m.current_leader.unwrap_or(0),
            raft_index: m.last_log_index.unwrap_or(0),
            raft_term: m.current_term,
            raft_applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            errors,
            db_size_in_use: size,
            is_learner: !voters.contains(&g.id),
            storage_version: String::new(),
            db_size_quota: self.groups.limits.quota_bytes as i64,
            downgrade_info: None,
        }))
    }

    async fn defragment(
        &self,
        req: Request<pb::DefragmentRequest>,
    ) -> Result<Response<pb::DefragmentResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let sm = g.sm.clone();
        tokio::task::spawn_blocking(move || sm.defragment())
            .await
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        Ok(Response::new(pb::DefragmentResponse {
            header: Some(g.header(g.current_rev())),
        }))
    }

    async fn hash(
        &self,
        req: Request<pb::HashRequest>,
    ) -> Result<Response<pb::HashResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let (hash, rev, _) = g.sm.hash_kv(0)?;
        Ok(Response::new(pb::HashResponse {
            header: Some(g.header(rev)),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<pb::HashKvRequest>,
    ) -> Result<Response<pb::HashKvResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let rev = req.get_ref().revision;
        let (hash, cur, compact) = g.sm.hash_kv(rev)?;
        Ok(Response::new(pb::HashKvResponse {
            header: Some(g.header(cur)),
            hash,
            compact_revision: compact,
            hash_revision: if rev <= 0 { cur } else { rev },
        }))
    }

    type SnapshotStream = ReceiverStream<Result<pb::SnapshotResponse, Status>>;

    async fn snapshot(
        &self,
        req: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let g = self.groups.pick(&req)?;
        let sm = g.sm.clone();
        let mut data = tokio::task::spawn_blocking(move || sm.backup())
            .await
            .map_err(|e| StoreError::Storage(e.to_string()))??;
        // Like etcd, the stream ends with the SHA-256 of what came before it.
        let digest = Sha256::digest(&data);
        data.extend_from_slice(&digest);
        let header = g.header(g.current_rev());
        let version = self.groups.limits.version.clone();
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let total = data.len();
            let mut sent = 0;
            for chunk in data.chunks(SNAPSHOT_CHUNK) {
                sent += chunk.len();
                let resp = pb::SnapshotResponse {
                    header: Some(header),
                    remaining_bytes: (total - sent) as u64,
                    blob: chunk.to_vec(),
                    version: version.clone(),
                };
                if tx.send(Ok(resp)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn move_leader(
        &self,
        req: Request<pb::MoveLeaderRequest>,
    ) -> Result<Response<pb::MoveLeaderResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let target = req.into_inner().target_id;
        let (voters, _, _) = g.membership();
        if !voters.contains(&target) {
            return Err(StoreError::BadLeaderTransferee.into());
        }
        g.call(crate::group::Forward::MoveLeader(target)).await?;
        Ok(Response::new(pb::MoveLeaderResponse {
            header: Some(g.header(g.current_rev())),
        }))
    }

    async fn downgrade(
        &self,
        _req: Request<pb::DowngradeRequest>,
    ) -> Result<Response<pb::DowngradeResponse>, Status> {
        Err(StoreError::NotCapable("downgrade".into()).into())
    }
}
