//! Controller expectations, as kube-controller-manager's: after a controller asks for `n`
//! creations or deletions it waits until its cache has seen them before it counts again, so
//! a watch that lags behind its own writes never makes it create (or delete) twice. An
//! expectation that is not met within five minutes expires (an event was lost), and the
//! controller counts from its cache again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// After this an unmet expectation is ignored.
pub const TTL: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Pending {
    adds: i64,
    dels: i64,
    at: Instant,
}

/// Expectations per controller key.
pub struct Expectations<T> {
    m: Mutex<HashMap<T, Pending>>,
}

impl<T: Clone + Eq + Hash> Default for Expectations<T> {
    fn default() -> Self {
        Expectations {
            m: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone + Eq + Hash> Expectations<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<T, Pending>> {
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` may count from the cache again.
    pub fn satisfied(&self, key: &T) -> bool {
        match self.lock().get(key) {
            None => true,
            Some(p) => (p.adds <= 0 && p.dels <= 0) || p.at.elapsed() > TTL,
        }
    }

    /// `key` is about to create `adds` and delete `dels` objects.
    pub fn expect(&self, key: &T, adds: i64, dels: i64) {
        self.lock().insert(
            key.clone(),
            Pending {
                adds,
                dels,
                at: Instant::now(),
            },
        );
    }

    /// The cache saw one creation for `key` (or a create failed and will not be seen).
    pub fn created(&self, key: &T) {
        if let Some(p) = self.lock().get_mut(key) {
            p.adds -= 1;
        }
    }

    /// The cache saw one deletion for `key` (or a delete failed).
    pub fn deleted(&self, key: &T) {
        if let Some(p) = self.lock().get_mut(key) {
            p.dels -= 1;
        }
    }

    /// Forget `key` (its object is gone).
    pub fn remove(&self, key: &T) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn met_by_observations() {
        let e = Expectations::default();
        assert!(e.satisfied(&"rs"));
        e.expect(&"rs", 2, 1);
        assert!(!e.satisfied(&"rs"));
        e.created(&"rs");
        e.deleted(&"rs");
        assert!(!e.satisfied(&"rs"));
        e.created(&"rs");
        assert!(e.satisfied(&"rs"));
        e.remove(&"rs");
        assert!(e.satisfied(&"rs"));
    }
}
