//! A work queue of object keys, as client-go's: a key is queued at most once, never handed to
//! two workers at once (a key added while it is being processed is queued again when the
//! worker is done), and a key that failed comes back after a per-key exponential back-off
//! (5 ms doubling to 60 s; [`WorkQueue::forget`] resets it after a success).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

/// First retry delay of a failing key.
pub const BASE_DELAY: Duration = Duration::from_millis(5);
/// Longest retry delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

struct Inner<T> {
    queue: VecDeque<T>,
    queued: HashSet<T>,
    processing: HashSet<T>,
    /// Added while processing: queue again on [`WorkQueue::done`].
    dirty: HashSet<T>,
    failures: HashMap<T, u32>,
}

/// The queue (see the module docs).
pub struct WorkQueue<T> {
    inner: Mutex<Inner<T>>,
    notify: Notify,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Arc<WorkQueue<T>> {
        Arc::new(WorkQueue {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                queued: HashSet::new(),
                processing: HashSet::new(),
                dirty: HashSet::new(),
                failures: HashMap::new(),
            }),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `key` (no-op if already queued).
    pub fn add(&self, key: T) {
        let mut q = self.lock();
        if q.processing.contains(&key) {
            q.dirty.insert(key);
            return;
        }
        if q.queued.insert(key.clone()) {
            q.queue.push_back(key);
            drop(q);
            self.notify.notify_one();
        }
    }

    /// Queue `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            this.add(key);
        });
    }

    /// Queue `key` again after its back-off, which doubles with each call until
    /// [`WorkQueue::forget`].
    pub fn add_rate_limited(self: &Arc<Self>, key: T) {
        let n = {
            let mut q = self.lock();
            let n = q.failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let delay = BASE_DELAY
            .saturating_mul(1u32 << (n - 1).min(20))
            .min(MAX_DELAY);
        self.add_after(key, delay);
    }

    /// Reset `key`'s back-off.
    pub fn forget(&self, key: &T) {
        self.lock().failures.remove(key);
    }

    /// The next key; the caller must call [`WorkQueue::done`] with it.
    pub async fn get(&self) -> T {
        loop {
            {
                let mut q = self.lock();
                if let Some(k) = q.queue.pop_front() {
                    q.queued.remove(&k);
                    q.processing.insert(k.clone());
                    return k;
                }
            }
            self.notify.notified().await;
        }
    }

    /// The worker is done with `key`.
    pub fn done(&self, key: &T) {
        let mut q = self.lock();
        q.processing.remove(key);
        if q.dirty.remove(key) && q.queued.insert(key.clone()) {
            q.queue.push_back(key.clone());
            drop(q);
            self.notify.notify_one();
        }
    }

    /// Keys waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// True when no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dedupes_and_requeues_keys_added_while_processing() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let k = q.get().await;
        assert_eq!(k, "a");
        q.add("a"); // while processing: not handed out twice
        assert_eq!(q.get().await, "b");
        assert!(q.is_empty());
        q.done(&"a");
        assert_eq!(q.get().await, "a");
    }

    #[tokio::test]
    async fn rate_limited_keys_back_off() {
        let q = WorkQueue::new();
        q.add_rate_limited("a");
        q.add_rate_limited("a");
        // The second failure waits 10 ms; the first (5 ms) delivers the key earlier.
        assert!(q.is_empty(), "not before its back-off");
        let t = std::time::Instant::now();
        assert_eq!(q.get().await, "a");
        assert!(t.elapsed() >= Duration::from_millis(4));
        assert_eq!(q.lock().failures.get("a"), Some(&2));
        q.forget(&"a");
        assert!(q.lock().failures.is_empty());
    }
}
