//! Unit tests of the MVCC rules against etcd's semantics (revisions, versions, txns,
//! compaction, leases), with an in-memory history.

use std::cell::RefCell;
use std::collections::HashMap;

use super::*;
use pb::compare::{CompareResult, CompareTarget};

#[derive(Default)]
struct MapHistory(RefCell<HashMap<Rev, Record>>);

impl History for MapHistory {
    fn get(&self, rev: Rev) -> Result<Option<Record>> {
        Ok(self.0.borrow().get(&rev).cloned())
    }
}

struct Fixture {
    m: Mvcc,
    h: MapHistory,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            m: Mvcc::new(),
            h: MapHistory::default(),
        }
    }

    fn txn(&mut self, t: pb::TxnRequest) -> Result<TxnOutcome> {
        let mut changes = Vec::new();
        let out = self.m.apply_txn(&self.h, &t, &mut changes)?;
        self.persist(changes);
        Ok(out)
    }

    fn persist(&mut self, changes: Vec<Change>) {
        for c in changes {
            match c {
                Change::Put(rev, rec) => {
                    self.h.0.borrow_mut().insert(rev, rec);
                }
                Change::Delete(rev) => {
                    self.h.0.borrow_mut().remove(&rev);
                }
                _ => {}
            }
        }
    }

    fn put(&mut self, k: &str, v: &str) -> i64 {
        let out = self
            .txn(put_as_txn(pb::PutRequest {
                key: k.into(),
                value: v.into(),
                ..Default::default()
            }))
            .expect("put");
        out.response.header.expect("header").revision
    }

    fn del(&mut self, k: &str, end: &str) -> i64 {
        let out = self
            .txn(delete_as_txn(pb::DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            }))
            .expect("delete");
        match &out.response.responses[0].response {
            Some(response_op::Response::ResponseDeleteRange(d)) => d.deleted,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn get(&self, k: &str, rev: i64) -> Result<pb::RangeResponse> {
        self.m.range(
            &self.h,
            &pb::RangeRequest {
                key: k.into(),
                revision: rev,
                ..Default::default()
            },
        )
    }
}

fn cmp(
    key: &str,
    target: CompareTarget,
    result: CompareResult,
    u: compare::TargetUnion,
) -> Compare {
    Compare {
        key: key.into(),
        target: target as i32,
        result: result as i32,
        target_union: Some(u),
        range_end: vec![],
    }
}

#[test]
fn revisions_start_at_one_and_count_writes() {
    let mut f = Fixture::new();
    assert_eq!(f.m.current_rev(), 1);
    assert_eq!(f.put("a", "1"), 2);
    assert_eq!(f.put("a", "2"), 3);
    assert_eq!(f.put("b", "1"), 4);
    let a = f.get("a", 0).unwrap();
    let kv = &a.kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    assert_eq!(a.header.unwrap().revision, 4);
}

#[test]
fn delete_resets_version_and_create_revision() {
    let mut f = Fixture::new();
    f.put("a", "1");
    f.put("a", "2");
    assert_eq!(f.del("a", ""), 1);
    assert!(f.get("a", 0).unwrap().kvs.is_empty());
    let r = f.put("a", "3");
    let kv = f.get("a", 0).unwrap().kvs[0].clone();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (r, r, 1));
}

#[test]
fn delete_of_absent_key_does_not_bump_revision() {
    let mut f = Fixture::new();
    f.put("a", "1");
    let before = f.m.current_rev();
    assert_eq!(f.del("zzz", ""), 0);
    assert_eq!(f.m.current_rev(), before);
}

#[test]
fn read_at_past_revision_sees_old_value() {
    let mut f = Fixture::new();
    let r1 = f.put("a", "1");
    f.put("a", "2");
    f.del("a", "");
    let old = f.get("a", r1).unwrap();
    assert_eq!(old.kvs[0].value, b"1");
    assert_eq!(old.header.unwrap().revision, f.m.current_rev());
    assert!(matches!(
        f.get("a", 99),
        Err(StoreError::FutureRevision { .. })
    ));
}

#[test]
fn compaction_drops_superseded_versions_and_rejects_old_reads() {
    let mut f = Fixture::new();
    let r1 = f.put("a", "1");
    let r2 = f.put("a", "2");
    f.put("b", "1");
    f.del("b", "");
    let mut ch = Vec::new();
    f.m.compact(r2, &mut ch).unwrap();
    f.persist(ch);
    assert!(matches!(f.get("a", r1), Err(StoreError::Compacted { .. })));
    assert_eq!(f.get("a", r2).unwrap().kvs[0].value, b"2");
    // Compacting again at or below the compaction revision fails like etcd.
    let mut ch = Vec::new();
    assert!(matches!(
        f.m.compact(r2, &mut ch),
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        f.m.compact(100, &mut ch),
        Err(StoreError::FutureRevision { .. })
    ));
    // Only the live version of a is left in history; b's tombstone is still above r2.
    assert_eq!(f.h.0.borrow().len(), 3);
}

#[test]
fn range_prefix_limit_count_and_sort() {
    let mut f = Fixture::new();
    for (k, v) in [("p/a", "3"), ("p/b", "1"), ("p/c", "2"), ("q", "x")] {
        f.put(k, v);
    }
    let r =
        f.m.range(
            &f.h,
            &pb::RangeRequest {
                key: "p/".into(),
                range_end: "p0".into(),
                limit: 2,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.kvs.len(), 2);
    assert!(r.more);
    assert_eq!(r.count, 3);
    let r =
        f.m.range(
            &f.h,
            &pb::RangeRequest {
                key: "p/".into(),
                range_end: "p0".into(),
                sort_target: pb::range_request::SortTarget::Value as i32,
                sort_order: pb::range_request::SortOrder::Descend as i32,
                ..Default::default()
            },
        )
        .unwrap();
    let vals: Vec<_> = r.kvs.iter().map(|kv| kv.value.clone()).collect();
    assert_eq!(vals, vec![b"3".to_vec(), b"2".to_vec(), b"1".to_vec()]);
    let all =
        f.m.range(
            &f.h,
            &pb::RangeRequest {
                key: vec![0],
                range_end: vec![0],
                count_only: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(all.count, 4);
    assert!(all.kvs.is_empty());
    let keys =
        f.m.range(
            &f.h,
            &pb::RangeRequest {
                key: "q".into(),
                keys_only: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(keys.kvs[0].value.is_empty());
}

#[test]
fn txn_compare_and_swap() {
    let mut f = Fixture::new();
    let r = f.put("k", "v1");
    let cas = |rev: i64, val: &str| pb::TxnRequest {
        compare: vec![cmp(
            "k",
            CompareTarget::Mod,
            CompareResult::Equal,
            compare::TargetUnion::ModRevision(rev),
        )],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(pb::PutRequest {
                key: "k".into(),
                value: val.into(),
                ..Default::default()
            })),
        }],
        failure: vec![RequestOp {
            request: Some(request_op::Request::RequestRange(pb::RangeRequest {
                key: "k".into(),
                ..Default::default()
            })),
        }],
    };
    let ok = f.txn(cas(r, "v2")).unwrap();
    assert!(ok.response.succeeded);
    assert!(ok.batch.is_some());
    let stale = f.txn(cas(r, "v3")).unwrap();
    assert!(!stale.response.succeeded);
    assert!(
        stale.batch.is_none(),
        "a failed txn must not create a revision"
    );
    assert_eq!(f.get("k", 0).unwrap().kvs[0].value, b"v2");
    // Creating only if absent: mod_revision == 0.
    let create = pb::TxnRequest {
        compare: vec![cmp(
            "new",
            CompareTarget::Mod,
            CompareResult::Equal,
            compare::TargetUnion::ModRevision(0),
        )],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(pb::PutRequest {
                key: "new".into(),
                value: "x".into(),
                ..Default::default()
            })),
        }],
        failure: vec![],
    };
    assert!(f.txn(create.clone()).unwrap().response.succeeded);
    assert!(!f.txn(create).unwrap().response.succeeded);
}

#[test]
fn txn_writes_share_one_revision_with_sub_revisions() {
    let mut f = Fixture::new();
    let t = pb::TxnRequest {
        compare: vec![],
        success: vec![
            RequestOp {
                request: Some(request_op::Request::RequestPut(pb::PutRequest {
                    key: "a".into(),
                    value: "1".into(),
                    ..Default::default()
                })),
            },
            RequestOp {
                request: Some(request_op::Request::RequestPut(pb::PutRequest {
                    key: "b".into(),
                    value: "1".into(),
                    ..Default::default()
                })),
            },
            RequestOp {
                request: Some(request_op::Request::RequestRange(pb::RangeRequest {
                    key: "a".into(),
                    ..Default::default()
                })),
            },
        ],
        failure: vec![],
    };
    let out = f.txn(t).unwrap();
    let batch = out.batch.unwrap();
    assert_eq!(batch.revision, 2);
    assert_eq!(batch.events.len(), 2);
    assert_eq!(f.m.current_rev(), 2);
    // The range inside the txn saw the txn's own put.
    match &out.response.responses[2].response {
        Some(response_op::Response::ResponseRange(r)) => assert_eq!(r.kvs[0].mod_revision, 2),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn value_compare_on_absent_key_is_false() {
    let mut f = Fixture::new();
    let t = pb::TxnRequest {
        compare: vec![cmp(
            "nope",
            CompareTarget::Value,
            CompareResult::NotEqual,
            compare::TargetUnion::Value(b"x".to_vec()),
        )],
        success: vec![],
        failure: vec![],
    };
    assert!(!f.txn(t).unwrap().response.succeeded);
}

#[test]
fn duplicate_keys_are_rejected() {
    let put = |k: &str| RequestOp {
        request: Some(request_op::Request::RequestPut(pb::PutRequest {
            key: k.into(),
            value: "v".into(),
            ..Default::default()
        })),
    };
    let del = |k: &str, e: &str| RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            pb::DeleteRangeRequest {
                key: k.into(),
                range_end: e.into(),
                ..Default::default()
            },
        )),
    };
    let t = |ops: Vec<RequestOp>| pb::TxnRequest {
        compare: vec![],
        success: ops,
        failure: vec![],
    };
    assert_eq!(
        check_txn(&t(vec![put("a"), put("a")]), 128),
        Err(StoreError::DuplicateKey)
    );
    assert_eq!(
        check_txn(&t(vec![put("a/1"), del("a/", "a0")]), 128),
        Err(StoreError::DuplicateKey)
    );
    assert_eq!(
        check_txn(&t(vec![put("a"), put("b"), del("c", "")]), 128),
        Ok(())
    );
    let many: Vec<_> = (0..129).map(|i| put(&format!("k{i}"))).collect();
    assert_eq!(check_txn(&t(many), 128), Err(StoreError::TooManyOps));
}

#[test]
fn put_with_missing_lease_changes_nothing() {
    let mut f = Fixture::new();
    let t = put_as_txn(pb::PutRequest {
        key: "a".into(),
        value: "v".into(),
        lease: 42,
        ..Default::default()
    });
    assert_eq!(f.txn(t).err(), Some(StoreError::LeaseNotFound(42)));
    assert_eq!(f.m.current_rev(), 1);
    assert!(f.get("a", 0).unwrap().kvs.is_empty());
}

#[test]
fn lease_revoke_deletes_attached_keys_in_one_revision() {
    let mut f = Fixture::new();
    let mut ch = Vec::new();
    f.m.lease_grant(7, 10, &mut ch).unwrap();
    for k in ["x", "y"] {
        f.txn(put_as_txn(pb::PutRequest {
            key: k.into(),
            value: "v".into(),
            lease: 7,
            ..Default::default()
        }))
        .unwrap();
    }
    f.put("z", "no lease");
    let batch = f.m.lease_revoke(7, &mut ch).unwrap().unwrap();
    assert_eq!(batch.events.len(), 2);
    assert!(
        batch
            .events
            .iter()
            .all(|e| e.r#type == EventType::Delete as i32)
    );
    assert!(f.m.latest(b"x").is_none());
    assert!(f.m.latest(b"z").is_some());
    assert_eq!(
        f.m.lease_revoke(7, &mut ch).err(),
        Some(StoreError::LeaseNotFound(7))
    );
}

#[test]
fn ignore_value_keeps_value_and_needs_key() {
    let mut f = Fixture::new();
    let t = put_as_txn(pb::PutRequest {
        key: "a".into(),
        ignore_value: true,
        ..Default::default()
    });
    assert_eq!(f.txn(t.clone()).err(), Some(StoreError::KeyNotFound));
    f.put("a", "keep");
    f.txn(t).unwrap();
    let kv = f.get("a", 0).unwrap().kvs[0].clone();
    assert_eq!((kv.value.as_slice(), kv.version), (b"keep".as_slice(), 2));
}

#[test]
fn restore_rebuilds_the_same_index() {
    let mut f = Fixture::new();
    f.put("a", "1");
    f.put("a", "2");
    f.put("b", "1");
    f.del("b", "");
    let mut recs: Vec<_> =
        f.h.0
            .borrow()
            .iter()
            .map(|(r, rec)| (*r, rec.clone()))
            .collect();
    recs.sort_by_key(|(r, _)| *r);
    let m = Mvcc::restore(
        recs.into_iter().map(Ok),
        std::iter::empty(),
        f.m.current_rev(),
        0,
    )
    .unwrap();
    assert_eq!(m.current_rev(), 5);
    assert_eq!(m.latest(b"a").unwrap().version, 2);
    assert!(m.latest(b"b").is_none());
    assert_eq!(m.key_count(), 1);
}

#[test]
fn rev_and_record_encoding_round_trips() {
    let r = Rev {
        main: 12345,
        sub: 3,
    };
    assert_eq!(Rev::decode(&r.encode()), Some(r));
    assert!(Rev { main: 2, sub: 0 }.encode() > Rev { main: 1, sub: 9 }.encode());
    let rec = Record {
        tombstone: true,
        kv: mvccpb::KeyValue {
            key: b"k".to_vec(),
            mod_revision: 4,
            ..Default::default()
        },
    };
    assert_eq!(Record::decode(&rec.encode()).unwrap(), rec);
    assert!(Record::decode(&[]).is_err());
}
