//! A linearizability checker for single-register histories recorded by clients (Wing & Gong's
//! search with Lowe's memoisation, as Porcupine and Knossos do), used per key: a history is
//! linearizable if some order of its operations, consistent with real time, explains every
//! read. A write whose outcome is unknown (timeout, connection lost) may take effect at any
//! point after it was issued, or never.

#![allow(dead_code)]

use std::collections::HashSet;

/// What a client did to the register.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Wrote this value.
    Write(u64),
    /// Read this value (`None`: the key did not exist).
    Read(Option<u64>),
}

/// One operation of a history; times in nanoseconds from any common origin.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When the client issued it.
    pub call: u128,
    /// When the client got the answer; `None` when the outcome is unknown.
    pub ret: Option<u128>,
    /// The operation and its result.
    pub op: Op,
}

/// True if the history (of one key, initially absent) is linearizable.
pub fn check_register(history: &[Entry]) -> bool {
    let mut ops: Vec<Entry> = history
        .iter()
        // A read whose answer never came says nothing.
        .filter(|e| !(e.ret.is_none() && matches!(e.op, Op::Read(_))))
        .cloned()
        .collect();
    ops.sort_by_key(|e| e.call);
    let n = ops.len();
    let required: Vec<usize> = (0..n).filter(|i| ops[*i].ret.is_some()).collect();
    let mut done = vec![false; n];
    let mut seen: HashSet<(Vec<bool>, Option<u64>)> = HashSet::new();
    search(&ops, &required, &mut done, None, &mut seen)
}

fn search(
    ops: &[Entry],
    required: &[usize],
    done: &mut Vec<bool>,
    state: Option<u64>,
    seen: &mut HashSet<(Vec<bool>, Option<u64>)>,
) -> bool {
    if required.iter().all(|i| done[*i]) {
        return true;
    }
    if !seen.insert((done.clone(), state)) {
        return false;
    }
    // An operation may go next only if it was called before every pending one returned.
    let horizon = ops
        .iter()
        .enumerate()
        .filter(|(i, _)| !done[*i])
        .filter_map(|(_, e)| e.ret)
        .min()
        .unwrap_or(u128::MAX);
    for i in 0..ops.len() {
        if done[i] || ops[i].call > horizon {
            continue;
        }
        let next = match &ops[i].op {
            Op::Write(v) => Some(*v),
            Op::Read(r) => {
                if *r != state {
                    continue;
                }
                state
            }
        };
        done[i] = true;
        if search(ops, required, done, next, seen) {
            return true;
        }
        done[i] = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(call: u128, ret: Option<u128>, op: Op) -> Entry {
        Entry { call, ret, op }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = [
            e(0, Some(1), Op::Write(1)),
            e(2, Some(3), Op::Read(Some(1))),
            e(4, Some(5), Op::Write(2)),
            e(6, Some(7), Op::Read(Some(2))),
        ];
        assert!(check_register(&h));
    }

    #[test]
    fn stale_read_is_caught() {
        let h = [
            e(0, Some(1), Op::Write(1)),
            e(2, Some(3), Op::Write(2)),
            e(4, Some(5), Op::Read(Some(1))),
        ];
        assert!(!check_register(&h));
    }

    #[test]
    fn concurrent_ops_may_order_either_way_and_unknown_writes_may_or_may_not_apply() {
        let h = [
            e(0, Some(10), Op::Write(1)),
            e(1, Some(9), Op::Read(Some(1))),
            e(2, Some(8), Op::Read(None)),
        ];
        assert!(check_register(&h));
        let h = [
            e(0, None, Op::Write(7)),
            e(5, Some(6), Op::Read(None)),
            e(7, Some(8), Op::Read(Some(7))),
        ];
        assert!(check_register(&h));
        // ...but a value can't come back after a later, completed write replaced it.
        let h = [
            e(0, None, Op::Write(7)),
            e(5, Some(6), Op::Read(Some(7))),
            e(7, Some(8), Op::Write(8)),
            e(9, Some(10), Op::Read(Some(7))),
        ];
        assert!(!check_register(&h));
    }
}
