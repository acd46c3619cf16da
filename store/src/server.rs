//! A running store member: identity and bootstrap (new cluster, joining an existing one,
//! restart from disk), the groups it hosts, its client and peer gRPC servers, and the
//! background work (lease expiry, quota, publishing its attributes).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keelson_proto::etcdserverpb::{
    cluster_server::ClusterServer, kv_server::KvServer, lease_server::LeaseServer,
    maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use keelson_proto::peer::ClusterInfoRequest;
use keelson_proto::peer::raft_peer_server::RaftPeerServer;
use openraft::SnapshotPolicy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::ValidConfig;
use crate::error::{Result, StoreError};
use crate::group::{Group, GroupOptions};
use crate::network::{ChannelPool, MAX_PEER_MESSAGE, Network, PeerIdentity};
use crate::peer::PeerService;
use crate::service::cluster::ClusterService;
use crate::service::kv::KvService;
use crate::service::lease::LeaseService;
use crate::service::maintenance::MaintenanceService;
use crate::service::watch::WatchService;
use crate::service::{Groups, Limits};
use crate::storage::{LogStore, SmShared, StateMachine, open_db};
use crate::types::{NodeId, PeerNode, Raft, Request};

const MEMBER_FILE: &str = "member.json";
const FORMAT: u32 = 1;

/// The first 8 bytes of a SHA-256 over `parts` and `token`, never 0.
fn hash_id<'a>(parts: impl Iterator<Item = &'a [u8]>, token: &str) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.update(token.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b).max(1)
}

/// A member id, derived like etcd's from its (sorted) peer URLs and the cluster token.
pub fn member_id(peer_urls: &[String], token: &str) -> NodeId {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    hash_id(urls.iter().map(|u| u.as_bytes()), token)
}

/// The cluster id: a hash of the (sorted) initial member ids and the token.
fn cluster_id(ids: &[NodeId], token: &str) -> u64 {
    let mut ids: Vec<[u8; 8]> = ids.iter().map(|id| id.to_be_bytes()).collect();
    ids.sort();
    hash_id(ids.iter().map(|b| b.as_slice()), token)
}

/// What a data directory says about its member; written once, before the member first serves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberFile {
    /// On-disk format version.
    pub format: u32,
    /// Member name at bootstrap.
    pub name: String,
    /// Member id.
    pub member_id: NodeId,
    /// Cluster id.
    pub cluster_id: u64,
    /// For a member that bootstraps a new cluster: the initial members, used to initialise
    /// Raft on first start. Empty for a member that joined an existing cluster.
    pub bootstrap: Vec<(NodeId, Vec<String>)>,
}

impl MemberFile {
    /// Reads the member file of a data directory, if there is one.
    pub fn load(dir: &Path) -> Result<Option<MemberFile>> {
        let path = dir.join(MEMBER_FILE);
        match std::fs::read(&path) {
            Ok(b) => {
                let f: MemberFile =
                    serde_json::from_slice(&b).map_err(|e| StoreError::CorruptDataDir {
                        dir: dir.display().to_string(),
                        reason: format!("{MEMBER_FILE} is unreadable: {e}"),
                    })?;
                if f.format != FORMAT {
                    return Err(StoreError::CorruptDataDir {
                        dir: dir.display().to_string(),
                        reason: format!("unknown data format {}", f.format),
                    });
                }
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let groups = dir.join("groups");
                if groups.exists()
                    && std::fs::read_dir(&groups)
                        .map(|mut d| d.next().is_some())
                        .unwrap_or(false)
                {
                    return Err(StoreError::CorruptDataDir {
                        dir: dir.display().to_string(),
                        reason: format!(
                            "Raft data present but no {MEMBER_FILE}: bootstrap was interrupted; remove the directory and start again"
                        ),
                    });
                }
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the member file durably (temp file, fsync, rename, fsync dir).
    pub fn save(&self, dir: &Path) -> Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{MEMBER_FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(
            &serde_json::to_vec_pretty(self).map_err(|e| StoreError::Storage(e.to_string()))?,
        )?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(MEMBER_FILE))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
}

/// Works out (or reads back) this member's identity.
async fn identity(cfg: &ValidConfig) -> Result<MemberFile> {
    if let Some(f) = MemberFile::load(&cfg.data_dir)? {
        tracing::info!(
            member = format!("{:x}", f.member_id),
            cluster = format!("{:x}", f.cluster_id),
            "restarting from data dir"
        );
        return Ok(f);
    }
    let ids: Vec<(String, NodeId, Vec<String>)> = cfg
        .initial_cluster
        .iter()
        .map(|(n, urls)| (n.clone(), member_id(urls, &cfg.token), urls.clone()))
        .collect();
    let f = if !cfg.join_existing {
        let me = ids
            .iter()
            .find(|(n, _, _)| *n == cfg.name)
            .map(|(_, id, _)| *id)
            .ok_or_else(|| StoreError::Config("no initial-cluster entry for this member".into()))?;
        let all: Vec<NodeId> = ids.iter().map(|(_, id, _)| *id).collect();
        MemberFile {
            format: FORMAT,
            name: cfg.name.clone(),
            member_id: me,
            cluster_id: cluster_id(&all, &cfg.token),
            bootstrap: ids
                .iter()
                .map(|(_, id, urls)| (*id, urls.clone()))
                .collect(),
        }
    } else {
        join_info(cfg).await?
    };
    f.save(&cfg.data_dir)?;
    Ok(f)
}

/// Asks the other members of `--initial-cluster` who we are (we must have been added first).
async fn join_info(cfg: &ValidConfig) -> Result<MemberFile> {
    let pool = ChannelPool::default();
    let mut last_err = String::from("no other member listed in --initial-cluster");
    for (name, urls) in &cfg.initial_cluster {
        if *name == cfg.name {
            continue;
        }
        for url in urls {
            let mut client = pool.client(url)?;
            let mut req = tonic::Request::new(ClusterInfoRequest {
                peer_urls: cfg.advertise_peer_urls.clone(),
            });
            req.set_timeout(Duration::from_secs(3));
            match client.cluster_info(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if r.member_id == 0 {
                        return Err(StoreError::Config(format!(
                            "this member's peer URLs {:?} are not in the cluster: run `member add` first",
                            cfg.advertise_peer_urls
                        )));
                    }
                    return Ok(MemberFile {
                        format: FORMAT,
                        name: cfg.name.clone(),
                        member_id: r.member_id,
                        cluster_id: r.cluster_id,
                        bootstrap: vec![],
                    });
                }
                Err(e) => last_err = format!("{url}: {}", e.message()),
            }
        }
    }
    Err(StoreError::Unreachable(format!(
        "cannot reach the existing cluster: {last_err}"
    )))
}

/// A running store member.
pub struct Store {
    /// The groups this member hosts.
    pub groups: Arc<Groups>,
    /// This member's id.
    pub member_id: NodeId,
    /// The cluster id.
    pub cluster_id: u64,
    /// Bound client addresses.
    pub client_addrs: Vec<SocketAddr>,
    /// Bound peer addresses.
    pub peer_addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Store {
    /// Opens the data directory, starts every group and the gRPC servers.
    pub async fn start(cfg: ValidConfig) -> Result<Store> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        // Bind first, so a port clash fails start-up before anything is written.
        let mut peer_listeners = Vec::new();
        for a in &cfg.listen_peer {
            peer_listeners.push(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| StoreError::Config(format!("listen on {a}: {e}")))?,
            );
        }
        let mut client_listeners = Vec::new();
        for a in &cfg.listen_client {
            client_listeners.push(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| StoreError::Config(format!("listen on {a}: {e}")))?,
            );
        }
        let ident = identity(&cfg).await?;
        let pool = Arc::new(ChannelPool::default());
        let raft_cfg = Arc::new(
            openraft::Config {
                cluster_name: cfg.token.clone(),
                heartbeat_interval: cfg.heartbeat.as_millis() as u64,
                // etcd's election timeout is the *upper* bound of silence before a member may win an
                // election: openraft's candidates fire between half and 3/5 of it, and its leader
                // lease (which makes followers refuse votes) is the 3/5 bound, so a dead leader is
                // replaced in about one election timeout.
                election_timeout_min: cfg.election_timeout.as_millis() as u64 / 2,
                election_timeout_max: cfg.election_timeout.as_millis() as u64 * 3 / 5,
                install_snapshot_timeout: 10_000,
                snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_count),
                max_in_snapshot_log_to_keep: 1000,
                ..Default::default()
            }
            .validate()
            .map_err(|e| StoreError::Config(e.to_string()))?,
        );
        let mut map = BTreeMap::new();
        for name in &cfg.groups {
            let dir = cfg.data_dir.join("groups").join(name);
            std::fs::create_dir_all(&dir)?;
            let db = open_db(&dir)?;
            let sm = SmShared::open(db.clone(), &dir)?;
            let log = LogStore::new(db);
            let net = Network {
                id: PeerIdentity {
                    group: name.clone(),
                    cluster_id: ident.cluster_id,
                    from: ident.member_id,
                },
                pool: pool.clone(),
            };
            let raft = Raft::new(
                ident.member_id,
                raft_cfg.clone(),
                net,
                log,
                StateMachine::new(sm.clone()),
            )
            .await
            .map_err(|e| StoreError::Storage(e.to_string()))?;
            let initialized = raft
                .is_initialized()
                .await
                .map_err(|e| StoreError::Storage(e.to_string()))?;
            if !initialized && !ident.bootstrap.is_empty() {
                let members: BTreeMap<NodeId, PeerNode> = ident
                    .bootstrap
                    .iter()
                    .map(|(id, urls)| {
                        (
                            *id,
                            PeerNode {
                                peer_urls: urls.clone(),
                            },
                        )
                    })
                    .collect();
                raft.initialize(members)
                    .await
                    .map_err(|e| StoreError::Storage(e.to_string()))?;
            }
            let opts = GroupOptions {
                request_timeout: Duration::from_secs(5),
                forward_attempt_timeout: cfg.election_timeout,
            };
            let g = Group::new(
                name.clone(),
                ident.member_id,
                ident.cluster_id,
                raft,
                sm,
                pool.clone(),
                opts,
            );
            map.insert(name.clone(), g);
        }
        let limits = Limits {
            max_request_bytes: cfg.max_request_bytes,
            max_txn_ops: cfg.max_txn_ops,
            quota_bytes: cfg.quota_bytes,
            version: cfg.version.clone(),
            progress_notify_interval: cfg.progress_notify_interval,
        };
        let groups = Arc::new(Groups {
            map,
            default: cfg.groups[0].clone(),
            limits,
        });
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut peer_addrs = Vec::new();
        for l in peer_listeners {
            peer_addrs.push(l.local_addr()?);
            let svc = RaftPeerServer::new(PeerService::new(
                groups.clone(),
                ident.cluster_id,
                ident.member_id,
            ))
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
            let router = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(svc);
            tasks.push(serve(router, l, stop_rx.clone(), "peer"));
        }
        // A lease must outlive an election: etcd's minimum TTL is 1.5 × election timeout.
        let min_ttl = ((cfg.election_timeout.as_millis() as i64 * 3 / 2) + 999) / 1000;
        let max_dec = cfg.max_request_bytes + 512 * 1024;
        let mut client_addrs = Vec::new();
        for l in client_listeners {
            client_addrs.push(l.local_addr()?);
            let router = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .http2_keepalive_interval(Some(Duration::from_secs(10)))
                .add_service(
                    KvServer::new(KvService::new(groups.clone()))
                        .max_decoding_message_size(max_dec)
                        .max_encoding_message_size(usize::MAX),
                )
                .add_service(
                    WatchServer::new(WatchService::new(groups.clone()))
                        .max_decoding_message_size(max_dec)
                        .max_encoding_message_size(usize::MAX),
                )
                .add_service(
                    LeaseServer::new(LeaseService::new(groups.clone(), min_ttl))
                        .max_decoding_message_size(max_dec),
                )
                .add_service(
                    ClusterServer::new(ClusterService::new(groups.clone(), cfg.token.clone()))
                        .max_decoding_message_size(max_dec),
                )
                .add_service(
                    MaintenanceServer::new(MaintenanceService::new(groups.clone()))
                        .max_decoding_message_size(max_dec),
                );
            tasks.push(serve(router, l, stop_rx.clone(), "client"));
        }
        for g in groups.map.values() {
            tasks.push(tokio::spawn(background(
                g.clone(),
                cfg.clone(),
                stop_rx.clone(),
            )));
        }
        tracing::info!(
            name = %cfg.name,
            member = format!("{:x}", ident.member_id),
            cluster = format!("{:x}", ident.cluster_id),
            client = ?client_addrs,
            peer = ?peer_addrs,
            groups = ?cfg.groups,
            "store member serving"
        );
        Ok(Store {
            groups,
            member_id: ident.member_id,
            cluster_id: ident.cluster_id,
            client_addrs,
            peer_addrs,
            stop,
            tasks,
        })
    }

    /// The KV and Watch services of this member as one in-process gRPC service (no socket):
    /// what an embedded API server uses as its store connection.
    pub fn client_service(&self) -> tonic::service::Routes {
        tonic::service::Routes::new(KvServer::new(KvService::new(self.groups.clone())))
            .add_service(WatchServer::new(WatchService::new(self.groups.clone())))
    }

    /// Stops the servers and every group's Raft.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for g in self.groups.map.values() {
            let _ = g.raft.shutdown().await;
        }
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Serves `router` on `l` until `stop` turns true.
fn serve(
    router: tonic::transport::server::Router,
    l: TcpListener,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let res = router
            .serve_with_incoming_shutdown(nodelay(l), async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!(error = %e, server = what, "gRPC server failed");
        }
    })
}

/// Accepted connections with Nagle's algorithm off. tonic applies `tcp_nodelay` only to
/// listeners it binds itself; without this, small responses wait for delayed ACKs (~40 ms).
fn nodelay(
    l: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(l).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    })
}

/// Per-group background work on every member.
async fn background(g: Arc<Group>, cfg: ValidConfig, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        n += 1;
        g.lease_tick().await;
        if n.is_multiple_of(10) && g.is_leader() {
            let _ = g.quota_check(cfg.quota_bytes).await;
        }
        let published =
            g.sm.read()
                .meta
                .members
                .get(&g.id)
                .map(|a| a.client_urls == cfg.advertise_client_urls && a.name == cfg.name)
                .unwrap_or(false);
        if !published && g.leader().is_some() {
            let req = Request::PublishMember {
                id: g.id,
                name: cfg.name.clone(),
                client_urls: cfg.advertise_client_urls.clone(),
            };
            if let Err(e) = g.propose(req).await {
                tracing::debug!(error = %e, "publishing member attributes failed; will retry");
            }
        }
    }
}

/// Runs a member until `shutdown` resolves.
pub async fn run(cfg: ValidConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let store = Store::start(cfg).await?;
    shutdown.await;
    store.stop().await;
    Ok(())
}

/// `keelson store restore`: builds a new member's data directory from a backup stream saved
/// by `etcdctl snapshot save`. The member then bootstraps a new cluster (`initial_cluster`).
pub fn restore(backup: &Path, cfg: &ValidConfig) -> Result<PathBuf> {
    let bytes = std::fs::read(backup)?;
    if bytes.len() < 32 {
        return Err(StoreError::InvalidArgument("backup is too short".into()));
    }
    let (data, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(data).as_slice() != sum {
        return Err(StoreError::InvalidArgument(
            "backup checksum mismatch: the file is damaged or truncated".into(),
        ));
    }
    if cfg.data_dir.exists()
        && std::fs::read_dir(&cfg.data_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(StoreError::Config(format!(
            "data dir {} exists and is not empty",
            cfg.data_dir.display()
        )));
    }
    for name in &cfg.groups[..1] {
        let dir = cfg.data_dir.join("groups").join(name);
        std::fs::create_dir_all(&dir)?;
        crate::storage::restore_backup(&dir, data)?;
    }
    let ids: Vec<(NodeId, Vec<String>)> = cfg
        .initial_cluster
        .iter()
        .map(|(_, urls)| (member_id(urls, &cfg.token), urls.clone()))
        .collect();
    let me = member_id(&cfg.advertise_peer_urls, &cfg.token);
    let all: Vec<NodeId> = ids.iter().map(|(id, _)| *id).collect();
    MemberFile {
        format: FORMAT,
        name: cfg.name.clone(),
        member_id: me,
        cluster_id: cluster_id(&all, &cfg.token),
        bootstrap: ids,
    }
    .save(&cfg.data_dir)?;
    Ok(cfg.data_dir.clone())
}
