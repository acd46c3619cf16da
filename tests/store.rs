//! Store behaviour that needs more than etcdctl can express: Raft groups (shards) reached by
//! gRPC metadata, refusal of peers from another cluster, detection of a damaged data dir, and
//! leases surviving a leader change.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::{Cluster, etcdctl_ok, poll};
use keelson_proto::etcdserverpb::{PutRequest, RangeRequest, kv_client::KvClient};
use keelson_proto::peer::{PeerMessage, raft_peer_client::RaftPeerClient};

fn with_group<T>(msg: T, group: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("keelson-group", group.parse().expect("ascii"));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t14_groups_are_separate_keyspaces_with_their_own_revisions() -> Result<()> {
    let c = Cluster::start_with(1, &["--groups", "default,events"])?;
    let mut kv = KvClient::connect(c.members[0].url()).await?;
    for i in 0..5 {
        kv.put(with_group(
            PutRequest {
                key: format!("e/{i}").into(),
                value: b"v".to_vec(),
                ..Default::default()
            },
            "events",
        ))
        .await?;
    }
    let put = kv
        .put(tonic::Request::new(PutRequest {
            key: b"d".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        }))
        .await?;
    // The default group has seen one write, whatever happened in the events group.
    assert_eq!(put.into_inner().header.map(|h| h.revision), Some(2));
    let events = kv
        .range(with_group(
            RangeRequest {
                key: b"e/".to_vec(),
                range_end: b"e0".to_vec(),
                ..Default::default()
            },
            "events",
        ))
        .await?
        .into_inner();
    assert_eq!(events.count, 5);
    assert_eq!(events.header.map(|h| h.revision), Some(6));
    let default = kv
        .range(tonic::Request::new(RangeRequest {
            key: b"e/".to_vec(),
            range_end: b"e0".to_vec(),
            ..Default::default()
        }))
        .await?;
    assert_eq!(
        default.into_inner().count,
        0,
        "a group's keys must not leak into another"
    );
    let err = kv
        .range(with_group(
            RangeRequest {
                key: b"x".to_vec(),
                ..Default::default()
            },
            "nope",
        ))
        .await
        .expect_err("unknown group");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // etcdctl (no metadata) reaches the default group.
    let out = etcdctl_ok(&c.endpoints(), &["get", "d", "--print-value-only"])?;
    assert_eq!(out.trim(), "v");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t15_peer_from_another_cluster_is_refused() -> Result<()> {
    let c = Cluster::start(1)?;
    let mut peer = RaftPeerClient::connect(c.members[0].peer_url()).await?;
    let msg = PeerMessage {
        group: "default".into(),
        cluster_id: 42,
        from: 7,
        data: vec![],
    };
    let err = peer
        .vote(msg)
        .await
        .expect_err("a foreign cluster id must be refused");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.message().contains("cluster ID mismatch"),
        "{}",
        err.message()
    );
    // A forwarded request from a member id that is not in the cluster is refused too.
    let info = peer
        .cluster_info(keelson_proto::peer::ClusterInfoRequest { peer_urls: vec![] })
        .await?
        .into_inner();
    let msg = PeerMessage {
        group: "default".into(),
        cluster_id: info.cluster_id,
        from: 7,
        data: vec![],
    };
    let err = peer
        .forward(msg)
        .await
        .expect_err("an unknown member must be refused");
    assert!(
        err.message().contains("unknown member"),
        "{}",
        err.message()
    );
    Ok(())
}

fn start_fails(c: &Cluster, i: usize) -> Result<String> {
    let m = &c.members[i];
    let out = Command::new(common::keelson_bin())
        .arg("store")
        .args(["--name", &m.name])
        .arg("--data-dir")
        .arg(&m.data_dir)
        .args([
            "--listen-client-urls",
            &m.url(),
            "--listen-peer-urls",
            &m.peer_url(),
        ])
        .args(["--initial-cluster", &c.initial_cluster()])
        .output()?;
    anyhow::ensure!(
        !out.status.success(),
        "a member with a damaged data dir started"
    );
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn t16_damaged_data_dir_is_reported_not_used() -> Result<()> {
    let mut c = Cluster::start(1)?;
    etcdctl_ok(&c.endpoints(), &["put", "k", "v"])?;
    c.kill(0);
    let dir = c.members[0].data_dir.clone();
    // Half-written: Raft data but no member file.
    let member = dir.join("member.json");
    let saved = std::fs::read(&member)?;
    std::fs::remove_file(&member)?;
    let err = start_fails(&c, 0)?;
    assert!(err.contains("bootstrap was interrupted"), "{err}");
    // Unreadable member file.
    std::fs::write(&member, b"{ not json")?;
    let err = start_fails(&c, 0)?;
    assert!(err.contains("member.json is unreadable"), "{err}");
    // Damaged RocksDB metadata.
    std::fs::write(&member, &saved)?;
    let current = dir.join("groups/default/CURRENT");
    std::fs::write(&current, b"MANIFEST-999999\n")?;
    let err = start_fails(&c, 0)?;
    assert!(err.contains("is unusable"), "{err}");
    Ok(())
}

#[test]
fn t22_leases_are_not_expired_early_by_a_leader_change() -> Result<()> {
    let mut c = Cluster::start(3)?;
    let eps = c.endpoints();
    let out = etcdctl_ok(&eps, &["lease", "grant", "6"])?;
    let id = out
        .split_whitespace()
        .nth(1)
        .context("lease id")?
        .to_string();
    let granted = Instant::now();
    etcdctl_ok(&eps, &["put", "--lease", &id, "leased", "v"])?;
    // Let most of the TTL pass, then take the leader (which tracks expiry) away.
    std::thread::sleep(Duration::from_secs(4));
    let leader = c.wait_leader(Duration::from_secs(5))?;
    c.kill(leader);
    let rest: Vec<String> = c.endpoints();
    c.wait_leader(Duration::from_secs(10))?;
    // The new leader gives the lease its full TTL again: the key outlives the original
    // deadline (6 s after the grant) by a margin.
    while granted.elapsed() < Duration::from_millis(7500) {
        let v = etcdctl_ok(&rest, &["get", "leased", "--print-value-only"])?;
        anyhow::ensure!(
            v.trim() == "v",
            "lease expired early, {:?} after the grant",
            granted.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And it does expire without keep-alives.
    poll(
        Duration::from_secs(15),
        "the lease to expire under the new leader",
        || {
            etcdctl_ok(&rest, &["get", "leased", "--print-value-only"])
                .ok()
                .filter(|v| v.trim().is_empty())
        },
    )?;
    Ok(())
}

#[test]
fn t17_quota_raises_nospace_and_refuses_puts_but_not_deletes() -> Result<()> {
    let c = Cluster::start_with(1, &["--quota-backend-bytes", "4000000"])?;
    let eps = c.endpoints();
    let value = "x".repeat(100 * 1024);
    let mut refused = None;
    for i in 0..150 {
        let out = common::etcdctl(&eps, &["put", &format!("big/{i}"), &value])?;
        if !out.status.success() {
            refused = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let err = refused.context("no put was refused past the quota")?;
    assert!(err.contains("database space exceeded"), "{err}");
    let alarms = etcdctl_ok(&eps, &["alarm", "list"])?;
    assert!(alarms.contains("NOSPACE"), "alarm list: {alarms}");
    // Reads and deletes still work while the alarm is raised.
    etcdctl_ok(&eps, &["get", "big/0", "--keys-only"])?;
    etcdctl_ok(&eps, &["del", "big/", "--prefix"])?;
    let out = common::etcdctl(&eps, &["put", "small", "v"])?;
    assert!(
        !out.status.success(),
        "puts stay refused until the alarm is disarmed"
    );
    etcdctl_ok(&eps, &["alarm", "disarm"])?;
    let alarms = etcdctl_ok(&eps, &["alarm", "list"])?;
    assert!(
        !alarms.contains("NOSPACE"),
        "alarm list after disarm: {alarms}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t18_large_watch_responses_are_fragmented_on_request() -> Result<()> {
    use keelson_proto::etcdserverpb::{
        RequestOp, TxnRequest, WatchCreateRequest, WatchRequest, request_op,
        watch_client::WatchClient, watch_request,
    };
    let c = Cluster::start_with(1, &["--max-request-bytes", "100000"])?;
    let mut kv = KvClient::connect(c.members[0].url()).await?;
    let value = vec![b'v'; 20_000];
    let puts = |v: &[u8]| TxnRequest {
        compare: vec![],
        success: (0..4)
            .map(|i| RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: format!("f/{i}").into(),
                    value: v.to_vec(),
                    ..Default::default()
                })),
            })
            .collect(),
        failure: vec![],
    };
    let first = kv
        .txn(puts(&value))
        .await?
        .into_inner()
        .header
        .map(|h| h.revision)
        .unwrap_or(0);
    // The second txn's events carry key, value and prev_kv: ~160 kB, over the 100 kB limit.
    kv.txn(puts(&vec![b'w'; 20_000])).await?;
    let mut watch = WatchClient::connect(c.members[0].url()).await?;
    let create = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: b"f/".to_vec(),
                range_end: b"f0".to_vec(),
                start_revision: first + 1,
                prev_kv: true,
                fragment: true,
                ..Default::default()
            },
        )),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(create).await?;
    let mut stream = watch
        .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut parts = Vec::new();
    let mut events = 0;
    while events < 4 {
        let resp = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await??
            .context("stream ended")?;
        if resp.created {
            continue;
        }
        events += resp.events.len();
        parts.push(resp.fragment);
    }
    assert!(
        parts.len() >= 2,
        "a 160 kB revision must come in fragments, got {parts:?}"
    );
    assert!(
        parts[..parts.len() - 1].iter().all(|f| *f) && !parts[parts.len() - 1],
        "fragment flags: {parts:?}"
    );
    drop(tx);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t19_progress_notifications_arrive_at_the_configured_interval() -> Result<()> {
    let c = Cluster::start_with(1, &["--watch-progress-notify-interval", "1s"])?;
    let mut cl = etcd_client::Client::connect(c.urls(), None).await?;
    let rev = cl
        .put("pn", "v", None)
        .await?
        .header()
        .context("header")?
        .revision();
    let mut s = cl
        .watch(
            "pn/",
            Some(
                etcd_client::WatchOptions::new()
                    .with_prefix()
                    .with_progress_notify(),
            ),
        )
        .await?;
    let started = Instant::now();
    let mut got = None;
    while got.is_none() && started.elapsed() < Duration::from_secs(5) {
        let resp = tokio::time::timeout(Duration::from_secs(5), s.message())
            .await??
            .context("stream ended")?;
        if !resp.created() && resp.events().is_empty() {
            got = resp.header().map(|h| h.revision());
        }
    }
    assert_eq!(
        got,
        Some(rev),
        "a progress notification carrying the current revision"
    );
    Ok(())
}

#[test]
fn t23_move_leader_hands_leadership_to_the_transferee() -> Result<()> {
    let c = Cluster::start(3)?;
    let eps = c.endpoints();
    for _ in 0..2 {
        let leader = c.wait_leader(Duration::from_secs(5))?;
        let target = (leader + 1) % 3;
        let target_id = common::status(&c.members[target].endpoint())?.member_id;
        let out = etcdctl_ok(&eps, &["move-leader", &format!("{target_id:x}")])?;
        assert!(out.contains("Leadership transferred"), "{out}");
        let now = poll(Duration::from_secs(5), "the transferee to lead", || {
            c.leader().filter(|l| *l == target)
        })?;
        assert_eq!(now, target);
        etcdctl_ok(&eps, &["put", "after-move", "v"])?;
    }
    // Not a member: etcd's "bad leader transferee".
    let out = common::etcdctl(&eps, &["move-leader", "12345"])?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad leader transferee"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
