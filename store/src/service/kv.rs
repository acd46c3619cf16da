//! etcd's KV service: Range, Put, DeleteRange, Txn, Compact.

use std::sync::Arc;

use keelson_proto::etcdserverpb::{self as pb, kv_server::Kv, response_op};
use prost::Message;
use tonic::{Request, Response, Status};

use super::Groups;
use crate::error::StoreError;
use crate::group::Group;
use crate::mvcc::{check_put, check_txn, delete_as_txn, put_as_txn, txn_has_put};
use crate::types::{Applied, Request as Cmd};

/// The KV service.
pub struct KvService {
    groups: Arc<Groups>,
}

impl KvService {
    /// A KV service over the member's groups.
    pub fn new(groups: Arc<Groups>) -> KvService {
        KvService { groups }
    }

    async fn txn_inner(
        &self,
        g: &Arc<Group>,
        t: pb::TxnRequest,
    ) -> Result<pb::TxnResponse, Status> {
        check_txn(&t, self.groups.limits.max_txn_ops)?;
        let writes = txn_writes(&t);
        if !writes {
            // A read-only txn needs no log entry: serve it at a linearizable read point.
            if !txn_serializable(&t) {
                g.read_barrier().await?;
            }
            let mut resp = {
                let st = g.sm.read();
                st.mvcc.read_txn(&g.sm.history(), &t)?
            };
            fill_header(g, &mut resp);
            return Ok(resp);
        }
        if txn_has_put(&t) {
            g.quota_check(self.groups.limits.quota_bytes).await?;
        }
        let applied = g.propose(Cmd::Txn(t.encode_to_vec())).await?;
        let Applied::Txn(bytes) = applied else {
            return Err(StoreError::Storage("txn applied without a txn response".into()).into());
        };
        let mut resp = pb::TxnResponse::decode(bytes.as_slice())
            .map_err(|e| StoreError::Storage(format!("txn response: {e}")))?;
        fill_header(g, &mut resp);
        Ok(resp)
    }
}

fn txn_writes(t: &pb::TxnRequest) -> bool {
    use pb::request_op::Request as R;
    t.success
        .iter()
        .chain(t.failure.iter())
        .any(|op| match &op.request {
            Some(R::RequestPut(_)) | Some(R::RequestDeleteRange(_)) => true,
            Some(R::RequestTxn(inner)) => txn_writes(inner),
            _ => false,
        })
}

fn txn_serializable(t: &pb::TxnRequest) -> bool {
    use pb::request_op::Request as R;
    let all = t
        .success
        .iter()
        .chain(t.failure.iter())
        .all(|op| match &op.request {
            Some(R::RequestRange(r)) => r.serializable,
            Some(R::RequestTxn(inner)) => txn_serializable(inner),
            _ => true,
        });
    all && !(t.success.is_empty() && t.failure.is_empty())
}

fn fill_header(g: &Group, t: &mut pb::TxnResponse) {
    let rev = t.header.as_ref().map(|h| h.revision).unwrap_or(0);
    t.header = Some(g.header(rev));
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        req: Request<pb::RangeRequest>,
    ) -> Result<Response<pb::RangeResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let r = req.into_inner();
        if !r.serializable {
            g.read_barrier().await?;
        }
        let mut resp = {
            let st = g.sm.read();
            st.mvcc.range(&g.sm.history(), &r)?
        };
        let rev = resp.header.as_ref().map(|h| h.revision).unwrap_or(0);
        resp.header = Some(g.header(rev));
        Ok(Response::new(resp))
    }

    async fn put(&self, req: Request<pb::PutRequest>) -> Result<Response<pb::PutResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let p = req.into_inner();
        self.groups.check_size(p.encoded_len())?;
        check_put(&p)?;
        let t = self.txn_inner(&g, put_as_txn(p)).await?;
        match t.responses.into_iter().next().and_then(|r| r.response) {
            Some(response_op::Response::ResponsePut(mut p)) => {
                p.header = t.header;
                Ok(Response::new(p))
            }
            _ => Err(StoreError::Storage("put without a put response".into()).into()),
        }
    }

    async fn delete_range(
        &self,
        req: Request<pb::DeleteRangeRequest>,
    ) -> Result<Response<pb::DeleteRangeResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let d = req.into_inner();
        if d.key.is_empty() {
            return Err(StoreError::EmptyKey.into());
        }
        let t = self.txn_inner(&g, delete_as_txn(d)).await?;
        match t.responses.into_iter().next().and_then(|r| r.response) {
            Some(response_op::Response::ResponseDeleteRange(mut d)) => {
                d.header = t.header;
                Ok(Response::new(d))
            }
            _ => Err(StoreError::Storage("delete without a delete response".into()).into()),
        }
    }

    async fn txn(&self, req: Request<pb::TxnRequest>) -> Result<Response<pb::TxnResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let t = req.into_inner();
        self.groups.check_size(t.encoded_len())?;
        Ok(Response::new(self.txn_inner(&g, t).await?))
    }

    async fn compact(
        &self,
        req: Request<pb::CompactionRequest>,
    ) -> Result<Response<pb::CompactionResponse>, Status> {
        let g = self.groups.pick(&req)?;
        let c = req.into_inner();
        {
            let st = g.sm.read();
            if c.revision <= st.mvcc.compact_rev() {
                return Err(StoreError::Compacted {
                    requested: c.revision,
                    compacted: st.mvcc.compact_rev(),
                }
                .into());
            }
            if c.revision > st.mvcc.current_rev() {
                return Err(StoreError::FutureRevision {
                    requested: c.revision,
                    current: st.mvcc.current_rev(),
                }
                .into());
            }
        }
        let applied = g
            .propose(Cmd::Compact {
                revision: c.revision,
            })
            .await?;
        let rev = match applied {
            Applied::Done { revision } => revision,
            _ => 0,
        };
        if c.physical {
            g.read_barrier().await?;
        }
        Ok(Response::new(pb::CompactionResponse {
            header: Some(g.header(rev)),
        }))
    }
}
