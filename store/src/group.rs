//! One Raft group hosted by this member: its openraft instance, its applied state, and the
//! operations the services need (propose a write, wait for a linearizable read point, lease
//! keep-alives, membership changes), forwarding to the leader when this member is not it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{ChangeMembers, ServerState};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::network::{ChannelPool, PeerIdentity, decode};
use crate::storage::{ALARM_NOSPACE, SmShared};
use crate::types::{Applied, MemberAttr, NodeId, PeerNode, Raft, Request};
use keelson_proto::etcdserverpb as pb;

/// A request a follower forwards to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Forward {
    /// Replicate a command.
    Propose(Request),
    /// Confirm leadership and return the index a linearizable read must wait for.
    ReadIndex,
    /// Renew a lease; returns its TTL (0 when it does not exist).
    KeepAlive(i64),
    /// A lease's remaining TTL (-1 when it does not exist).
    TimeToLive(i64),
    /// A membership change.
    Membership(MemberChange),
    /// Hand leadership to a voter (etcd's MoveLeader).
    MoveLeader(NodeId),
    /// Sent by the leader to every other voter during a transfer: stop (false) or resume
    /// (true) starting elections. Stopping lapses by itself after a few seconds, so a
    /// transfer that dies half-way never leaves a member unable to campaign.
    SetElect(bool),
    /// Sent by the leader to the transferee: start an election now.
    Campaign,
}

/// A membership change, as etcd's Cluster service asks for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MemberChange {
    /// Add a member (as a learner or a voter).
    Add {
        /// New member id.
        id: NodeId,
        /// Its peer URLs.
        peer_urls: Vec<String>,
        /// Add as a non-voting learner.
        learner: bool,
    },
    /// Promote a learner to voter.
    Promote(NodeId),
    /// Remove a member.
    Remove(NodeId),
    /// Change a member's peer URLs.
    Update(NodeId, Vec<String>),
}

/// The leader's answer to a forwarded request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardReply {
    /// A command was applied.
    Applied(Applied),
    /// The read index.
    ReadIndex(u64),
    /// A TTL in seconds.
    Ttl(i64),
    /// Done.
    Done,
}

/// Tunables of a group.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    /// How long a client request may wait for a leader and a commit.
    pub request_timeout: Duration,
    /// How long one forwarded attempt may wait for the leader before the caller looks for a
    /// new one (about one election timeout).
    pub forward_attempt_timeout: Duration,
}

/// A member's view of one Raft group.
pub struct Group {
    /// The group's name (`default` for the etcd API's keyspace).
    pub name: String,
    /// This member's id.
    pub id: NodeId,
    /// The cluster id.
    pub cluster_id: u64,
    /// openraft.
    pub raft: Raft,
    /// Applied state.
    pub sm: Arc<SmShared>,
    pool: Arc<ChannelPool>,
    opts: GroupOptions,
    /// Lease deadlines, kept by the leader only.
    deadlines: Mutex<HashMap<i64, Instant>>,
    /// The term in which `deadlines` were last refreshed.
    lease_term: Mutex<u64>,
    /// Linearizable reads waiting for the next read-index round.
    read_waiters: Mutex<Vec<tokio::sync::oneshot::Sender<Result<u64>>>>,
    /// True while a task is running read-index rounds.
    read_round_running: std::sync::atomic::AtomicBool,
    /// Txns waiting to be proposed (leader only), with where to send each result.
    proposals: Mutex<Vec<Proposal>>,
    /// True while a task is turning queued txns into log entries.
    proposer_running: std::sync::atomic::AtomicBool,
    /// Bounds the batches in flight, so that txns arriving meanwhile queue up and share the
    /// next entry.
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// A queued txn and where its result goes.
type Proposal = (Vec<u8>, tokio::sync::oneshot::Sender<Result<Applied>>);

/// Batches in flight at once; more concurrent txns share entries.
const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// Most txns in one log entry.
const MAX_BATCH: usize = 256;
/// Most bytes of txns in one log entry (past one, the batch is cut).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

impl Group {
    /// Wraps a started Raft instance.
    pub fn new(
        name: String,
        id: NodeId,
        cluster_id: u64,
        raft: Raft,
        sm: Arc<SmShared>,
        pool: Arc<ChannelPool>,
        opts: GroupOptions,
    ) -> Arc<Group> {
        Arc::new(Group {
            name,
            id,
            cluster_id,
            raft,
            sm,
            pool,
            opts,
            deadlines: Mutex::new(HashMap::new()),
            lease_term: Mutex::new(0),
            read_waiters: Mutex::new(Vec::new()),
            read_round_running: std::sync::atomic::AtomicBool::new(false),
            proposals: Mutex::new(Vec::new()),
            proposer_running: std::sync::atomic::AtomicBool::new(false),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_BATCHES_IN_FLIGHT)),
        })
    }

    /// The current leader, if known.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// True while this member leads the group.
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    /// An etcd response header at `revision`.
    pub fn header(&self, revision: i64) -> pb::ResponseHeader {
        pb::ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.id,
            revision,
            raft_term: self.term(),
        }
    }

    /// Current store revision of this member's applied state.
    pub fn current_rev(&self) -> i64 {
        self.sm.read().mvcc.current_rev()
    }

    fn identity(&self) -> PeerIdentity {
        PeerIdentity {
            group: self.name.clone(),
            cluster_id: self.cluster_id,
            from: self.id,
        }
    }

    fn peer_url(&self, id: NodeId) -> Option<String> {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.membership_config
            .membership()
            .get_node(&id)
            .and_then(|n| n.peer_urls.first().cloned())
    }

    /// Waits (up to the request timeout) for a known leader.
    async fn wait_leader(&self, deadline: Instant) -> Result<NodeId> {
        let mut rx = self.raft.metrics();
        loop {
            if let Some(l) = rx.borrow().current_leader {
                return Ok(l);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::NoLeader);
            }
            if tokio::time::timeout(left, rx.changed()).await.is_err() {
                return Err(StoreError::NoLeader);
            }
        }
    }

    /// Sends `req` to the leader over the peer transport.
    async fn forward(
        &self,
        leader: NodeId,
        req: &Forward,
        deadline: Instant,
    ) -> Result<ForwardReply> {
        let url = self.peer_url(leader).ok_or(StoreError::NoLeader)?;
        let mut client = self.pool.client(&url)?;
        let mut request = tonic::Request::new(self.identity().message(req)?);
        request.set_timeout(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        );
        let reply = client.forward(request).await.map_err(|s| match s.code() {
            tonic::Code::DeadlineExceeded => StoreError::Timeout,
            _ => StoreError::Unreachable(s.message().to_string()),
        })?;
        let r: Result<ForwardReply> = decode(&reply.into_inner())?;
        r
    }

    /// Runs `req`: here if this member leads, otherwise at the leader. Retries across leader
    /// changes until the request timeout.
    pub async fn call(self: &Arc<Self>, req: Forward) -> Result<ForwardReply> {
        let deadline = Instant::now() + self.opts.request_timeout;
        loop {
            let leader = self.wait_leader(deadline).await?;
            let res = if leader == self.id {
                self.serve_forward(req.clone()).await
            } else {
                self.forward(leader, &req, deadline).await
            };
            match res {
                Err(StoreError::NoLeader) | Err(StoreError::Unreachable(_))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(StoreError::Unreachable(_)) | Err(StoreError::NoLeader) => {
                    return Err(StoreError::Timeout);
                }
                other => return other,
            }
        }
    }

    /// Replicates a command and returns what applying it produced.
    pub async fn propose(self: &Arc<Self>, req: Request) -> Result<Applied> {
        match self.call(Forward::Propose(req)).await? {
            ForwardReply::Applied(a) => Ok(a),
            other => Err(StoreError::Storage(format!("unexpected reply {other:?}"))),
        }
    }

    /// Returns once this member's state reflects every write acknowledged before the call
    /// (etcd's ReadIndex): the leader confirms its leadership with a quorum, then this member
    /// waits until it has applied up to the leader's commit index.
    ///
    /// Concurrent reads share rounds: a read joins the *next* round to start (never one
    /// already in flight, whose leadership check may predate the read), so one quorum
    /// round-trip serves every read that arrived while the previous one was running.
    pub async fn read_barrier(self: &Arc<Self>) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.read_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        if !self
            .read_round_running
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let g = self.clone();
            tokio::spawn(async move { g.read_rounds().await });
        }
        let index = rx.await.map_err(|_| StoreError::Stopped)??;
        self.raft
            .wait(Some(self.opts.request_timeout))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map_err(|_| StoreError::Timeout)?;
        Ok(())
    }

    async fn read_rounds(self: Arc<Self>) {
        loop {
            let batch: Vec<_> =
                std::mem::take(&mut *self.read_waiters.lock().unwrap_or_else(|e| e.into_inner()));
            if batch.is_empty() {
                let queued = || {
                    !self
                        .read_waiters
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_empty()
                };
                if finish_loop(&self.read_round_running, queued) {
                    return;
                }
                continue;
            }
            let res = match self.call(Forward::ReadIndex).await {
                Ok(ForwardReply::ReadIndex(i)) => Ok(i),
                Ok(other) => Err(StoreError::Storage(format!("unexpected reply {other:?}"))),
                Err(e) => Err(e),
            };
            for w in batch {
                let _ = w.send(res.clone());
            }
        }
    }

    /// Serves a request on the leader (from a local caller or a follower).
    pub async fn serve_forward(self: &Arc<Self>, req: Forward) -> Result<ForwardReply> {
        match req {
            Forward::Propose(Request::Txn(t)) => {
                self.propose_batched(t).await.map(ForwardReply::Applied)
            }
            Forward::Propose(r) => match self.raft.client_write(r).await {
                Ok(resp) => resp.data.0.map(ForwardReply::Applied),
                Err(e) => Err(map_write_err(e)),
            },
            Forward::ReadIndex => match self.raft.get_read_log_id().await {
                Ok((read, _)) => Ok(ForwardReply::ReadIndex(read.map(|l| l.index).unwrap_or(0))),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
                    Err(StoreError::NoLeader)
                }
                Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                    Err(StoreError::Timeout)
                }
                Err(RaftError::Fatal(_)) => Err(StoreError::Stopped),
            },
            Forward::KeepAlive(id) => {
                self.ensure_leader()?;
                let ttl = self.sm.read().mvcc.leases().get(&id).map(|l| l.ttl);
                match ttl {
                    Some(ttl) => {
                        self.deadlines_lock()
                            .insert(id, Instant::now() + Duration::from_secs(ttl as u64));
                        Ok(ForwardReply::Ttl(ttl))
                    }
                    None => Ok(ForwardReply::Ttl(0)),
                }
            }
            Forward::TimeToLive(id) => {
                self.ensure_leader()?;
                let ttl = self.sm.read().mvcc.leases().get(&id).map(|l| l.ttl);
                match ttl {
                    None => Ok(ForwardReply::Ttl(-1)),
                    Some(ttl) => {
                        let left = self
                            .deadlines_lock()
                            .get(&id)
                            .map(|d| {
                                d.saturating_duration_since(Instant::now())
                                    .as_secs_f64()
                                    .ceil() as i64
                            })
                            .unwrap_or(ttl);
                        Ok(ForwardReply::Ttl(left))
                    }
                }
            }
            Forward::Membership(change) => self
                .change_membership(change)
                .await
                .map(|_| ForwardReply::Done),
            Forward::MoveLeader(target) => {
                self.move_leader(target).await.map(|_| ForwardReply::Done)
            }
            Forward::SetElect(on) => {
                self.raft.runtime_config().elect(on);
                if !on {
                    let raft = self.raft.clone();
                    let lapse = self.opts.forward_attempt_timeout * 5;
                    tokio::spawn(async move {
                        tokio::time::sleep(lapse).await;
                        raft.runtime_config().elect(true);
                    });
                }
                Ok(ForwardReply::Done)
            }
            Forward::Campaign => {
                self.raft
                    .trigger()
                    .elect()
                    .await
                    .map_err(|_| StoreError::Stopped)?;
                Ok(ForwardReply::Done)
            }
        }
    }

    /// Hands leadership to `target`, on the leader. openraft 0.9 has no leadership transfer,
    /// so keelson does what a transfer does by hand: wait until the target has the whole log,
    /// stop every other voter from campaigning, stop heartbeats so the followers' leader
    /// leases lapse, and make the target campaign until it wins (or two election timeouts
    /// pass). Everything is switched back on afterwards, whatever happened.
    async fn move_leader(self: &Arc<Self>, target: NodeId) -> Result<()> {
        self.ensure_leader()?;
        let (voters, _, _) = self.membership();
        if !voters.contains(&target) {
            return Err(StoreError::BadLeaderTransferee);
        }
        if target == self.id {
            return Ok(());
        }
        let deadline = Instant::now() + self.opts.request_timeout;
        // The target must have the whole log, or it cannot win.
        loop {
            let m = self.raft.metrics().borrow().clone();
            let last = m.last_log_index.unwrap_or(0);
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&target).cloned().flatten())
                .map(|l| l.index)
                .unwrap_or(0);
            if matched >= last {
                break;
            }
            if Instant::now() > deadline {
                return Err(StoreError::LearnerNotReady);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let others: Vec<NodeId> = voters
            .iter()
            .copied()
            .filter(|v| *v != target && *v != self.id)
            .collect();
        for v in &others {
            let _ = self.forward(*v, &Forward::SetElect(false), deadline).await;
        }
        self.raft.runtime_config().elect(false);
        self.raft.runtime_config().heartbeat(false);
        let give_up = Instant::now() + self.opts.forward_attempt_timeout * 2;
        let mut moved = false;
        while Instant::now() < give_up {
            let _ = self.forward(target, &Forward::Campaign, give_up).await;
            let waited = tokio::time::timeout(Duration::from_millis(200), async {
                let mut rx = self.raft.metrics();
                loop {
                    if rx.borrow().current_leader == Some(target) {
                        return;
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            })
            .await;
            if waited.is_ok() && self.leader() == Some(target) {
                moved = true;
                break;
            }
        }
        self.raft.runtime_config().heartbeat(true);
        self.raft.runtime_config().elect(true);
        for v in &others {
            let _ = self
                .forward(
                    *v,
                    &Forward::SetElect(true),
                    Instant::now() + Duration::from_secs(1),
                )
                .await;
        }
        if moved {
            tracing::info!(group = %self.name, to = format!("{target:x}"), "leadership moved");
            Ok(())
        } else {
            Err(StoreError::Timeout)
        }
    }

    /// Queues a txn for the next log entry. Concurrent txns share one entry (and so one
    /// append, one fsync per member, one replication round); each keeps its own revision.
    async fn propose_batched(self: &Arc<Self>, txn: Vec<u8>) -> Result<Applied> {
        use std::sync::atomic::Ordering;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.proposals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((txn, tx));
        if !self.proposer_running.swap(true, Ordering::AcqRel) {
            let g = self.clone();
            tokio::spawn(async move { g.run_proposer().await });
        }
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    async fn run_proposer(self: Arc<Self>) {
        loop {
            let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                return;
            };
            let batch = {
                let mut q = self.proposals.lock().unwrap_or_else(|e| e.into_inner());
                let mut n = 0;
                let mut bytes = 0;
                while n < q.len()
                    && n < MAX_BATCH
                    && (n == 0 || bytes + q[n].0.len() <= MAX_BATCH_BYTES)
                {
                    bytes += q[n].0.len();
                    n += 1;
                }
                q.drain(..n).collect::<Vec<_>>()
            };
            if batch.is_empty() {
                drop(permit);
                let queued = || {
                    !self
                        .proposals
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_empty()
                };
                if finish_loop(&self.proposer_running, queued) {
                    return;
                }
                continue;
            }
            let g = self.clone();
            tokio::spawn(async move {
                g.write_batch(batch).await;
                drop(permit);
            });
        }
    }

    async fn write_batch(
        &self,
        batch: Vec<(Vec<u8>, tokio::sync::oneshot::Sender<Result<Applied>>)>,
    ) {
        if batch.len() == 1 {
            let Some((txn, tx)) = batch.into_iter().next() else {
                return;
            };
            let res = match self.raft.client_write(Request::Txn(txn)).await {
                Ok(resp) => resp.data.0,
                Err(e) => Err(map_write_err(e)),
            };
            let _ = tx.send(res);
            return;
        }
        let (txns, senders): (Vec<Vec<u8>>, Vec<_>) = batch.into_iter().unzip();
        let txns = txns.into_iter().map(serde_bytes::ByteBuf::from).collect();
        match self.raft.client_write(Request::Batch(txns)).await {
            Ok(resp) => match resp.data.0 {
                Ok(Applied::Batch(results)) if results.len() == senders.len() => {
                    for (tx, r) in senders.into_iter().zip(results) {
                        let _ = tx.send(r);
                    }
                }
                Ok(other) => {
                    let e = StoreError::Storage(format!("batch applied as {other:?}"));
                    for tx in senders {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
                Err(e) => {
                    for tx in senders {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            },
            Err(e) => {
                let e = map_write_err(e);
                for tx in senders {
                    let _ = tx.send(Err(e.clone()));
                }
            }
        }
    }

    fn ensure_leader(&self) -> Result<()> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(StoreError::NoLeader)
        }
    }

    fn deadlines_lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Instant>> {
        self.deadlines.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn change_membership(self: &Arc<Self>, change: MemberChange) -> Result<()> {
        self.ensure_leader()?;
        let (voters, learners, nodes) = self.membership();
        let res = match change {
            MemberChange::Add {
                id,
                peer_urls,
                learner,
            } => {
                if nodes
                    .values()
                    .any(|n| n.peer_urls.iter().any(|u| peer_urls.contains(u)))
                {
                    return Err(StoreError::PeerUrlExists);
                }
                self.raft
                    .add_learner(id, PeerNode { peer_urls }, false)
                    .await
                    .map_err(map_write_err)?;
                if learner {
                    return Ok(());
                }
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                    .await
            }
            MemberChange::Promote(id) => {
                if voters.contains(&id) {
                    return Err(StoreError::MemberNotLearner);
                }
                if !learners.contains(&id) {
                    return Err(StoreError::MemberNotFound(id));
                }
                let m = self.raft.metrics().borrow().clone();
                let last = m.last_log_index.unwrap_or(0);
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id).cloned().flatten())
                    .map(|l| l.index)
                    .unwrap_or(0);
                // etcd's rule: a learner may be promoted once it has 90% of the leader's log.
                if (matched as f64) < (last as f64) * 0.9 {
                    return Err(StoreError::LearnerNotReady);
                }
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                    .await
            }
            MemberChange::Remove(id) => {
                if voters.contains(&id) {
                    if voters.len() == 1 {
                        return Err(StoreError::NotEnoughStartedMembers);
                    }
                    self.raft
                        .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                        .await
                } else if learners.contains(&id) {
                    self.raft
                        .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                        .await
                } else {
                    return Err(StoreError::MemberNotFound(id));
                }
            }
            MemberChange::Update(id, peer_urls) => {
                if !nodes.contains_key(&id) {
                    return Err(StoreError::MemberNotFound(id));
                }
                self.raft
                    .change_membership(
                        ChangeMembers::SetNodes(BTreeMap::from([(id, PeerNode { peer_urls })])),
                        true,
                    )
                    .await
            }
        };
        res.map(|_| ()).map_err(map_write_err)
    }

    /// Voters, learners and every member's peer node, from the latest membership.
    pub fn membership(
        &self,
    ) -> (
        BTreeSet<NodeId>,
        BTreeSet<NodeId>,
        BTreeMap<NodeId, PeerNode>,
    ) {
        let m = self.raft.metrics();
        let m = m.borrow();
        let mem = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = mem.voter_ids().collect();
        let learners: BTreeSet<NodeId> = mem.learner_ids().collect();
        let nodes = mem.nodes().map(|(id, n)| (*id, n.clone())).collect();
        (voters, learners, nodes)
    }

    /// etcd `Member` records for MemberList.
    pub fn members(&self) -> Vec<pb::Member> {
        let (voters, learners, nodes) = self.membership();
        let attrs: BTreeMap<NodeId, MemberAttr> = self.sm.read().meta.members.clone();
        nodes
            .into_iter()
            .map(|(id, node)| {
                let a = attrs.get(&id).cloned().unwrap_or_default();
                pb::Member {
                    id,
                    name: a.name,
                    peer_ur_ls: node.peer_urls,
                    client_ur_ls: a.client_urls,
                    is_learner: learners.contains(&id) && !voters.contains(&id),
                }
            })
            .collect()
    }

    /// Lease expiry, run periodically on every member: only the leader acts. A new leader
    /// first gives every lease its full TTL again (as etcd does), so leases never expire
    /// early because leadership moved.
    pub async fn lease_tick(self: &Arc<Self>) {
        if !self.is_leader() {
            self.deadlines_lock().clear();
            *self.lease_term.lock().unwrap_or_else(|e| e.into_inner()) = 0;
            return;
        }
        let term = self.term();
        let leases: Vec<(i64, i64)> = self
            .sm
            .read()
            .mvcc
            .leases()
            .iter()
            .map(|(id, l)| (*id, l.ttl))
            .collect();
        let now = Instant::now();
        let expired: Vec<i64> = {
            let mut lt = self.lease_term.lock().unwrap_or_else(|e| e.into_inner());
            let mut d = self.deadlines_lock();
            if *lt != term {
                d.clear();
                *lt = term;
            }
            let live: BTreeSet<i64> = leases.iter().map(|(id, _)| *id).collect();
            d.retain(|id, _| live.contains(id));
            for (id, ttl) in &leases {
                d.entry(*id)
                    .or_insert(now + Duration::from_secs(*ttl as u64));
            }
            d.iter()
                .filter(|(_, dl)| **dl <= now)
                .map(|(id, _)| *id)
                .collect()
        };
        for id in expired {
            match self.propose(Request::LeaseRevoke { id }).await {
                Ok(_) | Err(StoreError::LeaseNotFound(_)) => {
                    self.deadlines_lock().remove(&id);
                    tracing::debug!(group = %self.name, lease = id, "lease expired");
                }
                Err(e) => {
                    tracing::warn!(group = %self.name, lease = id, error = %e, "lease revoke failed")
                }
            }
        }
    }

    /// Raises the NOSPACE alarm when the database is over `quota` bytes.
    pub async fn quota_check(self: &Arc<Self>, quota: u64) -> Result<()> {
        if quota == 0 || self.sm.db_size() <= quota {
            return Ok(());
        }
        let raised = self
            .sm
            .read()
            .meta
            .alarms
            .contains(&(self.id, ALARM_NOSPACE));
        if !raised {
            tracing::warn!(group = %self.name, quota, "database over quota: raising NOSPACE alarm");
            self.propose(Request::Alarm {
                member: self.id,
                alarm: ALARM_NOSPACE,
                activate: true,
            })
            .await?;
        }
        Err(StoreError::NoSpace)
    }
}

/// Ends a batching loop that found its queue empty: clears `running`, unless work was queued
/// in between and this loop took the flag back (then it must go on). True means stop.
fn finish_loop(running: &std::sync::atomic::AtomicBool, queued: impl Fn() -> bool) -> bool {
    use std::sync::atomic::Ordering;
    running.store(false, Ordering::Release);
    !queued() || running.swap(true, Ordering::AcqRel)
}

fn map_write_err(e: RaftError<NodeId, ClientWriteError<NodeId, PeerNode>>) -> StoreError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => StoreError::NoLeader,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
            StoreError::InvalidArgument(format!("membership change refused: {c}"))
        }
        RaftError::Fatal(_) => StoreError::Stopped,
    }
}
