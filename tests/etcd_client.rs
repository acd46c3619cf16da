//! The same store, driven through the `etcd-client` crate (tonic): KV and txn semantics,
//! watch guarantees (ordered, gap-free, resumable, compaction, progress), leases, and a watch
//! that survives a leader change.

mod common;

use std::time::Duration;

use anyhow::{Context, Result};
use common::Cluster;
use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};

async fn connect(urls: &[String]) -> Result<Client> {
    common::connect(urls, Duration::from_secs(5)).await
}

/// Reads watch responses until `n` events arrived (or the deadline passes); returns their
/// (key, mod_revision, type).
async fn collect_events(
    stream: &mut etcd_client::WatchStream,
    n: usize,
) -> Result<Vec<(String, i64, EventType)>> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while out.len() < n {
        let msg = tokio::time::timeout_at(deadline, stream.message())
            .await
            .context("watch timed out")??;
        let Some(resp) = msg else {
            anyhow::bail!("watch stream ended")
        };
        anyhow::ensure!(!resp.canceled(), "watch canceled: {}", resp.cancel_reason());
        for e in resp.events() {
            let kv = e.kv().context("event without kv")?;
            out.push((kv.key_str()?.to_string(), kv.mod_revision(), e.event_type()));
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t10_kv_txn_and_revisions() -> Result<()> {
    let c = Cluster::start(1)?;
    let mut cl = connect(&c.urls()).await?;
    let r1 = cl
        .put("a", "1", None)
        .await?
        .header()
        .context("header")?
        .revision();
    let r2 = cl
        .put("a", "2", Some(PutOptions::new().with_prev_key()))
        .await?;
    assert_eq!(
        r2.prev_key().map(|kv| kv.value().to_vec()),
        Some(b"1".to_vec())
    );
    let at_r1 = cl
        .get("a", Some(GetOptions::new().with_revision(r1)))
        .await?;
    assert_eq!(at_r1.kvs()[0].value(), b"1");
    // CAS on mod_revision: the stale one fails and changes nothing.
    let cur = cl.get("a", None).await?.kvs()[0].mod_revision();
    let ok = cl
        .txn(
            Txn::new()
                .when([Compare::mod_revision("a", CompareOp::Equal, cur)])
                .and_then([TxnOp::put("a", "3", None)])
                .or_else([TxnOp::get("a", None)]),
        )
        .await?;
    assert!(ok.succeeded());
    let stale = cl
        .txn(
            Txn::new()
                .when([Compare::mod_revision("a", CompareOp::Equal, cur)])
                .and_then([TxnOp::put("a", "4", None)])
                .or_else([TxnOp::get("a", None)]),
        )
        .await?;
    assert!(!stale.succeeded());
    assert_eq!(cl.get("a", None).await?.kvs()[0].value(), b"3");
    // A failed or read-only txn does not create a revision.
    let before = cl
        .get("a", None)
        .await?
        .header()
        .context("header")?
        .revision();
    cl.txn(
        Txn::new()
            .when([Compare::value("a", CompareOp::Equal, "nope")])
            .and_then([TxnOp::put("a", "x", None)]),
    )
    .await?;
    let after = cl
        .get("a", None)
        .await?
        .header()
        .context("header")?
        .revision();
    assert_eq!(before, after);
    // Compaction: old revisions are gone with etcd's error.
    cl.compact(after, None).await?;
    let err = cl
        .get("a", Some(GetOptions::new().with_revision(r1)))
        .await
        .expect_err("compacted read must fail");
    assert!(
        err.to_string()
            .contains("required revision has been compacted"),
        "{err}"
    );
    let err = cl
        .get("a", Some(GetOptions::new().with_revision(after + 100)))
        .await
        .expect_err("future read must fail");
    assert!(err.to_string().contains("future revision"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t11_watch_replays_history_in_order_and_resumes() -> Result<()> {
    let c = Cluster::start(1)?;
    let mut cl = connect(&c.urls()).await?;
    let first = cl
        .put("w/0", "v", None)
        .await?
        .header()
        .context("header")?
        .revision();
    for i in 1..50 {
        cl.put(format!("w/{i}"), "v", None).await?;
    }
    cl.delete("w/3", None).await?;
    let mut s = cl
        .watch(
            "w/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(first)
                    .with_prev_key(),
            ),
        )
        .await?;
    let evs = collect_events(&mut s, 51).await?;
    let revs: Vec<i64> = evs.iter().map(|e| e.1).collect();
    let expect: Vec<i64> = (first..first + 51).collect();
    assert_eq!(
        revs, expect,
        "events must be every revision, in order, once"
    );
    assert_eq!(evs[50].2, EventType::Delete);
    // Live events follow with no gap.
    cl.put("w/live", "v", None).await?;
    let live = collect_events(&mut s, 1).await?;
    assert_eq!(live[0].1, first + 51);
    // Resume from the middle: exactly the revisions after it.
    let mut s2 = cl
        .watch(
            "w/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(first + 40),
            ),
        )
        .await?;
    let evs2 = collect_events(&mut s2, 12).await?;
    assert_eq!(evs2.first().map(|e| e.1), Some(first + 40));
    assert_eq!(evs2.last().map(|e| e.1), Some(first + 51));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t12_watch_on_compacted_revision_is_canceled_and_progress_is_reported() -> Result<()> {
    let c = Cluster::start(1)?;
    let mut cl = connect(&c.urls()).await?;
    for i in 0..10 {
        cl.put(format!("c/{i}"), "v", None).await?;
    }
    let rev = cl
        .get("c/", None)
        .await?
        .header()
        .context("header")?
        .revision();
    cl.compact(rev, None).await?;
    let mut s = cl
        .watch(
            "c/",
            Some(WatchOptions::new().with_prefix().with_start_revision(2)),
        )
        .await?;
    let mut canceled = None;
    for _ in 0..3 {
        let resp = tokio::time::timeout(Duration::from_secs(5), s.message())
            .await??
            .context("stream ended")?;
        if resp.canceled() {
            canceled = Some(resp.compact_revision());
            break;
        }
    }
    assert_eq!(
        canceled,
        Some(rev),
        "a watch below the compaction point is canceled with compact_revision"
    );
    // Progress: an event-less response whose header revision is the current revision.
    let mut s = cl
        .watch("p/", Some(WatchOptions::new().with_prefix()))
        .await?;
    let created = tokio::time::timeout(Duration::from_secs(5), s.message())
        .await??
        .context("stream ended")?;
    assert!(created.created());
    s.request_progress().await?;
    let prog = tokio::time::timeout(Duration::from_secs(5), s.message())
        .await??
        .context("stream ended")?;
    assert!(prog.events().is_empty());
    assert_eq!(prog.header().map(|h| h.revision()), Some(rev));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t13_leases_expire_and_keep_alive() -> Result<()> {
    let c = Cluster::start(1)?;
    let mut cl = connect(&c.urls()).await?;
    let short = cl.lease_grant(2, None).await?.id();
    let long = cl.lease_grant(2, None).await?.id();
    cl.put("l/short", "v", Some(PutOptions::new().with_lease(short)))
        .await?;
    cl.put("l/long", "v", Some(PutOptions::new().with_lease(long)))
        .await?;
    let (mut keeper, mut responses) = cl.lease_keep_alive(long).await?;
    let mut kv = cl.kv_client();
    let start = tokio::time::Instant::now();
    // Keep `long` alive while `short` expires.
    loop {
        keeper.keep_alive().await?;
        let r = tokio::time::timeout(Duration::from_secs(3), responses.message())
            .await??
            .context("keep-alive ended")?;
        assert!(r.ttl() > 0);
        if kv.get("l/short", None).await?.kvs().is_empty() {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(10),
            "lease did not expire"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        kv.get("l/long", None).await?.kvs().len(),
        1,
        "a kept-alive lease must not expire"
    );
    let ttl = cl
        .lease_time_to_live(
            long,
            Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()),
        )
        .await?;
    assert_eq!(ttl.keys().len(), 1);
    let gone = cl.lease_time_to_live(short, None).await?;
    assert_eq!(gone.ttl(), -1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t20_watch_survives_leader_change_without_gaps() -> Result<()> {
    let mut c = Cluster::start(3)?;
    let leader = c.wait_leader(Duration::from_secs(5))?;
    let follower = (leader + 1) % 3;
    let writer_member = (leader + 2) % 3;
    let mut watch_client = connect(&[c.members[follower].url()]).await?;
    let start = watch_client
        .put("g/start", "v", None)
        .await?
        .header()
        .context("header")?
        .revision();
    let mut s = watch_client
        .watch(
            "g/",
            Some(WatchOptions::new().with_prefix().with_start_revision(start)),
        )
        .await?;
    let mut w = connect(&[c.members[writer_member].url()]).await?;
    for i in 0..50 {
        w.put(format!("g/{i:03}"), "v", None).await?;
    }
    c.kill(leader);
    // Writes resume under a new leader; the watcher on the follower keeps going.
    let mut i = 50;
    while i < 100 {
        if w.put(format!("g/{i:03}"), "v", None).await.is_ok() {
            i += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let evs = collect_events(&mut s, 101).await?;
    let revs: Vec<i64> = evs.iter().map(|e| e.1).collect();
    for pair in revs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "gap or duplicate in watch revisions: {revs:?}"
        );
    }
    let keys: Vec<&str> = evs.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(keys[0], "g/start");
    assert_eq!(keys[100], "g/099");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t21_concurrent_writes_get_distinct_contiguous_revisions() -> Result<()> {
    // Concurrent txns are batched into shared log entries on the leader; each must still get
    // its own revision, and a failing txn in a batch must not affect the others.
    let c = Cluster::start(3)?;
    let base = connect(&c.urls()).await?;
    let start = base
        .clone()
        .put("cw/start", "v", None)
        .await?
        .header()
        .context("header")?
        .revision();
    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let mut cl = base.clone();
        tasks.push(tokio::spawn(async move {
            if i % 10 == 9 {
                // A put on a lease that does not exist fails alone.
                let r = cl
                    .put(
                        format!("cw/bad{i}"),
                        "v",
                        Some(PutOptions::new().with_lease(777_000 + i as i64)),
                    )
                    .await;
                (i, r.map(|r| r.header().map(|h| h.revision()).unwrap_or(0)))
            } else {
                let r = cl.put(format!("cw/{i:03}"), "v", None).await;
                (i, r.map(|r| r.header().map(|h| h.revision()).unwrap_or(0)))
            }
        }));
    }
    let mut revs = Vec::new();
    for t in tasks {
        let (i, r) = t.await?;
        if i % 10 == 9 {
            let e = r.expect_err("put on a missing lease must fail");
            assert!(e.to_string().contains("lease not found"), "{e}");
        } else {
            revs.push(r?);
        }
    }
    revs.sort();
    let expect: Vec<i64> = (start + 1..=start + revs.len() as i64).collect();
    assert_eq!(
        revs, expect,
        "every successful write gets its own revision, with no gap"
    );
    let mut cl = base.clone();
    let bad = cl
        .get("cw/bad", Some(GetOptions::new().with_prefix()))
        .await?;
    assert!(bad.kvs().is_empty(), "failed txns must change nothing");
    Ok(())
}
