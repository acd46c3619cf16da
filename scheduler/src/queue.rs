//! The scheduling queue: which pending pod to try next, and when to try a pod again.
//!
//! Like kube-scheduler's `PriorityQueue`, a pod is in exactly one of three places:
//! - **active**: ready to be tried, ordered by priority (highest first), then by creation
//!   time (oldest first);
//! - **backoff**: failed recently; waits `1 s × 2^(attempts-1)`, at most 10 s, then becomes
//!   active;
//! - **unschedulable**: no node fits; waits for a cluster change that could make it fit
//!   ([`Queue::move_all`], called on node and pod changes), and is retried anyway after
//!   five minutes ([`Queue::flush`]).
//!
//! A pod being tried is *in flight*. If the cluster changed while it was in flight (its
//! verdict may be stale) a failure sends it to backoff instead of unschedulable, so it is not
//! parked waiting for an event that has already happened.
//!
//! The queue holds only pods this scheduler is responsible for that have no node yet; the
//! runtime removes a pod as soon as it sees it bound or deleted.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

/// First back-off after a failed attempt.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An unschedulable pod is retried after this long even if nothing changed.
pub const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a queued pod is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff(Instant),
    Unschedulable(Instant),
    /// Popped; `cycle` is the move counter when it was popped.
    InFlight {
        cycle: u64,
    },
}

struct Info {
    pod: Arc<Pod>,
    attempts: u32,
    place: Place,
    /// Bumped when the pod enters a heap, so stale heap entries are recognised.
    seq: u64,
}

/// Heap entry of the active queue.
#[derive(PartialEq, Eq)]
struct Ready {
    priority: i32,
    created: i64,
    seq: u64,
    key: String,
}

impl Ord for Ready {
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority
            .cmp(&o.priority)
            .then_with(|| o.created.cmp(&self.created))
            .then_with(|| o.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Ready {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// A pod handed out by [`Queue::pop`].
#[derive(Clone, Debug)]
pub struct Popped {
    /// `namespace/name`.
    pub key: String,
    /// The newest version of the pod the queue has seen.
    pub pod: Arc<Pod>,
    /// Attempts before this one.
    pub attempts: u32,
}

/// The scheduling queue (see the module docs).
#[derive(Default)]
pub struct Queue {
    pods: HashMap<String, Info>,
    active: BinaryHeap<Ready>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    /// Parked pods by when they were parked, so neither [`Queue::flush`] nor
    /// [`Queue::move_all`] scans every queued pod (10,000 pending pods are normal).
    parked: BTreeMap<(Instant, u64), String>,
    /// Bumped by every [`Queue::move_all`].
    moves: u64,
    seq: u64,
}

/// Back-off after `attempts` failed attempts.
pub fn backoff(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(16);
    INITIAL_BACKOFF.saturating_mul(1 << shift).min(MAX_BACKOFF)
}

fn created(pod: &Pod) -> i64 {
    pod.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .unwrap_or(0)
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Queue {
        Queue::default()
    }

    /// Pods in the queue, in any place.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// True when no pod is queued.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Whether `key` is queued (in any place, in flight included).
    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Pods parked as unschedulable.
    pub fn unschedulable(&self) -> usize {
        self.parked.len()
    }

    /// Take `key` out of the parked set if it is there (before it moves anywhere else).
    fn unpark(&mut self, key: &str) {
        if let Some(info) = self.pods.get(key)
            && let Place::Unschedulable(since) = info.place
        {
            self.parked.remove(&(since, info.seq));
        }
    }

    fn park(&mut self, key: &str, now: Instant) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(info) = self.pods.get_mut(key) {
            info.place = Place::Unschedulable(now);
            info.seq = seq;
            self.parked.insert((now, seq), key.to_string());
        }
    }

    fn push_active(&mut self, key: &str) {
        self.unpark(key);
        self.seq += 1;
        let seq = self.seq;
        if let Some(info) = self.pods.get_mut(key) {
            info.place = Place::Active;
            info.seq = seq;
            self.active.push(Ready {
                priority: info.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
                created: created(&info.pod),
                seq,
                key: key.to_string(),
            });
        }
    }

    fn push_backoff(&mut self, key: &str, until: Instant) {
        self.unpark(key);
        self.seq += 1;
        let seq = self.seq;
        if let Some(info) = self.pods.get_mut(key) {
            info.place = Place::Backoff(until);
            info.seq = seq;
            self.backoff.push(Reverse((until, seq, key.to_string())));
        }
    }

    /// A new pending pod, or a newer version of one already queued. A new pod becomes
    /// active; an unschedulable one whose spec changed is tried again (after its back-off).
    pub fn upsert(&mut self, key: &str, pod: Arc<Pod>, now: Instant) {
        match self.pods.get_mut(key) {
            None => {
                self.pods.insert(
                    key.to_string(),
                    Info {
                        pod,
                        attempts: 0,
                        place: Place::Active,
                        seq: 0,
                    },
                );
                self.push_active(key);
            }
            Some(info) => {
                let spec_changed = info.pod.spec != pod.spec;
                info.pod = pod;
                if let Place::Unschedulable(since) = info.place
                    && spec_changed
                {
                    self.requeue(key, since, now);
                }
            }
        }
    }

    /// Take `key` out of the queue (bound by someone, or deleted).
    pub fn remove(&mut self, key: &str) -> Option<Arc<Pod>> {
        // Heap entries of a removed pod are skipped when they surface.
        self.unpark(key);
        self.pods.remove(key).map(|i| i.pod)
    }

    /// Move back-offs that have expired into active, and unschedulable pods parked longer
    /// than [`UNSCHEDULABLE_TIMEOUT`] into active or backoff.
    pub fn flush(&mut self, now: Instant) {
        while let Some(Reverse((until, seq, _))) = self.backoff.peek() {
            if *until > now {
                break;
            }
            let seq = *seq;
            let Some(Reverse((_, _, key))) = self.backoff.pop() else {
                break;
            };
            if self.pods.get(&key).is_some_and(|i| i.seq == seq) {
                self.push_active(&key);
            }
        }
        while let Some((&(since, seq), _)) = self.parked.first_key_value() {
            if now.duration_since(since) < UNSCHEDULABLE_TIMEOUT {
                break;
            }
            let Some(key) = self.parked.remove(&(since, seq)) else {
                break;
            };
            self.requeue(&key, since, now);
        }
    }

    /// Retry an unschedulable pod: active if its back-off (counted from when it failed) is
    /// over, else backoff until then.
    fn requeue(&mut self, key: &str, failed_at: Instant, now: Instant) {
        let Some(info) = self.pods.get(key) else {
            return;
        };
        let until = failed_at + backoff(info.attempts);
        if until <= now {
            self.push_active(key);
        } else {
            self.push_backoff(key, until);
        }
    }

    /// The cluster changed in a way that may make parked pods fit: retry every
    /// unschedulable pod, and remember the change for pods in flight.
    pub fn move_all(&mut self, now: Instant) {
        self.moves += 1;
        let parked = std::mem::take(&mut self.parked);
        for ((since, _), key) in parked {
            self.requeue(&key, since, now);
        }
    }

    /// The next pod to try, now in flight.
    pub fn pop(&mut self) -> Option<Popped> {
        while let Some(top) = self.active.pop() {
            let cycle = self.moves;
            if let Some(info) = self.pods.get_mut(&top.key)
                && info.seq == top.seq
                && info.place == Place::Active
            {
                info.place = Place::InFlight { cycle };
                return Some(Popped {
                    key: top.key,
                    pod: info.pod.clone(),
                    attempts: info.attempts,
                });
            }
        }
        None
    }

    /// The pod in flight fits no node: park it as unschedulable, or back it off if the
    /// cluster changed since it was popped.
    pub fn unschedulable_now(&mut self, key: &str, now: Instant) {
        let moves = self.moves;
        let Some(info) = self.pods.get_mut(key) else {
            return;
        };
        info.attempts = info.attempts.saturating_add(1);
        match info.place {
            Place::InFlight { cycle } if cycle != moves => {
                let until = now + backoff(info.attempts);
                self.push_backoff(key, until);
            }
            _ => self.park(key, now),
        }
    }

    /// The pod in flight failed for another reason (its binding failed): back it off.
    pub fn failed(&mut self, key: &str, now: Instant) {
        let Some(info) = self.pods.get_mut(key) else {
            return;
        };
        info.attempts = info.attempts.saturating_add(1);
        let until = now + backoff(info.attempts);
        self.push_backoff(key, until);
    }

    /// A pod that was handed out and assumed onto a node is back in the queue after its
    /// binding failed: put it in backoff.
    pub fn retry(&mut self, key: &str, pod: Arc<Pod>, now: Instant) {
        if !self.pods.contains_key(key) {
            self.pods.insert(
                key.to_string(),
                Info {
                    pod,
                    attempts: 0,
                    place: Place::Active,
                    seq: 0,
                },
            );
        }
        self.failed(key, now);
    }

    /// When the queue next needs [`Queue::flush`]: the earliest back-off expiry.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Whether a pod can be popped right now.
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(name: &str, priority: i32, created: i64) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                creation_timestamp: Some(Time(
                    k8s_openapi::jiff::Timestamp::from_second(created).expect("valid time"),
                )),
                ..Default::default()
            },
            spec: Some(PodSpec {
                priority: Some(priority),
                ..Default::default()
            }),
            status: None,
        })
    }

    #[test]
    fn priority_then_age() {
        let now = Instant::now();
        let mut q = Queue::new();
        q.upsert("a", pod("a", 0, 20), now);
        q.upsert("b", pod("b", 0, 10), now);
        q.upsert("c", pod("c", 5, 30), now);
        let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|p| p.key)).collect();
        assert_eq!(order, ["c", "b", "a"]);
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(5), Duration::from_secs(10));
        assert_eq!(backoff(100), Duration::from_secs(10));
    }

    #[test]
    fn unschedulable_waits_for_a_move_then_its_backoff() {
        let t0 = Instant::now();
        let mut q = Queue::new();
        q.upsert("a", pod("a", 0, 1), t0);
        assert_eq!(q.pop().map(|p| p.key).as_deref(), Some("a"));
        q.unschedulable_now("a", t0);
        q.flush(t0 + Duration::from_secs(60));
        assert!(q.pop().is_none(), "parked until something changes");
        assert_eq!(q.unschedulable(), 1);
        // A change 500 ms later: the 1 s back-off is not over yet.
        q.move_all(t0 + Duration::from_millis(500));
        assert!(q.pop().is_none());
        assert_eq!(q.next_wakeup(), Some(t0 + Duration::from_secs(1)));
        q.flush(t0 + Duration::from_secs(1));
        let p = q.pop().expect("retried after its back-off");
        assert_eq!(p.attempts, 1);
    }

    #[test]
    fn a_change_during_the_attempt_means_backoff_not_parking() {
        let t0 = Instant::now();
        let mut q = Queue::new();
        q.upsert("a", pod("a", 0, 1), t0);
        q.pop().expect("active");
        q.move_all(t0);
        q.unschedulable_now("a", t0);
        assert_eq!(q.unschedulable(), 0);
        q.flush(t0 + Duration::from_secs(1));
        assert!(q.pop().is_some());
    }

    #[test]
    fn parked_pods_are_retried_after_five_minutes() {
        let t0 = Instant::now();
        let mut q = Queue::new();
        q.upsert("a", pod("a", 0, 1), t0);
        q.pop().expect("active");
        q.unschedulable_now("a", t0);
        q.flush(t0 + UNSCHEDULABLE_TIMEOUT - Duration::from_secs(1));
        assert!(q.pop().is_none());
        q.flush(t0 + UNSCHEDULABLE_TIMEOUT);
        assert!(q.pop().is_some());
    }

    #[test]
    fn removed_and_updated_pods() {
        let t0 = Instant::now();
        let mut q = Queue::new();
        q.upsert("a", pod("a", 0, 1), t0);
        q.upsert("b", pod("b", 0, 2), t0);
        q.remove("a");
        assert_eq!(q.pop().map(|p| p.key).as_deref(), Some("b"));
        assert!(q.pop().is_none());
        // A spec change of a parked pod retries it.
        q.unschedulable_now("b", t0);
        q.upsert("b", pod("b", 7, 2), t0 + Duration::from_secs(2));
        let p = q.pop().expect("retried on spec change");
        assert_eq!(p.pod.spec.as_ref().and_then(|s| s.priority), Some(7));
        // A failed binding backs off.
        q.failed("b", t0);
        assert!(q.pop().is_none());
        q.flush(t0 + Duration::from_secs(2));
        assert_eq!(q.pop().map(|p| p.attempts), Some(2));
    }
}
