//! Lease-based leader election (`coordination.k8s.io/v1` Lease), as client-go's
//! `leaderelection` does it, with defaults fast enough for a failover within 5 s.
//!
//! [`Elector`] is the state machine: it is given the Lease it read (or wrote) and the instant
//! it did so, and says what to do next ([`Action`]: read, create, replace, or wait until an
//! instant). It never reads a clock itself, so the unit tests drive it with made-up instants.
//! [`spawn`] runs it against the API server and publishes the result as a [`Leadership`].
//!
//! # Writes
//! Every write is optimistic: a replace carries the `resourceVersion` of the Lease this
//! replica last saw, so it succeeds only if nobody wrote the Lease since. A replica acquires a
//! Lease that is free (no holder: released) or expired; it sets `holderIdentity`,
//! `leaseDurationSeconds`, `acquireTime`, `renewTime` (wall clock, informational) and bumps
//! `leaseTransitions` when the holder changes. The holder renews every `renew_interval`.
//!
//! # Timing argument: at most one replica acts
//! Clocks are never compared across machines; each replica measures intervals on its own
//! monotonic clock, and we assume those clocks run at the same rate up to a small drift.
//!
//! - The holder `A` sends a renew (or acquire) at its instant `s` and, when it succeeds,
//!   considers itself leader until `s + renew_deadline` ([`Leadership::is_leading`] is false
//!   from then on, and [`Leadership::lost`] fires exactly then, whatever the election task is
//!   doing). The deadline counts from when the request was *sent*, not when the answer
//!   arrived, so a slow answer cannot extend it.
//! - A candidate `B` counts a Lease record as expired only `lease_duration` after the moment
//!   it first *received* that record (a new `resourceVersion` restarts the count). `B`
//!   received the record after the API server stored it, which is after `A` sent the request
//!   that wrote it: so `B`'s count starts no earlier than `s`, and `B` can acquire no earlier
//!   than `s + lease_duration`.
//! - Hence `A` stops acting at least `lease_duration - renew_deadline` (the safety margin,
//!   1 s by default) before `B` may start. The margin absorbs clock-rate drift and the
//!   delivery of writes `A` sent just before its deadline. A controller checks
//!   [`Leadership::is_leading`] right before each write, and [`crate::run`] drops the
//!   controllers' futures when [`Leadership::lost`] fires, which cancels requests not yet
//!   sent. (No lease scheme can fence a write already on the wire that is delayed for longer
//!   than the margin; kube-controller-manager has the same limit.)
//! - If `A` renewed after `B` read the record, `B`'s acquire fails on the `resourceVersion`
//!   precondition; if `B` acquired first, `A`'s renew fails the same way and `A` never
//!   extends its deadline.
//!
//! # Failover time
//! With the defaults (lease 4 s, renew deadline 3 s, renew every 1 s, retry 500 ms): after
//! the holder dies, its last record was written at most 1 s before; a standby reads the
//! Lease every 500 ms, so it first sees that record at most 500 ms after it was written and
//! acquires when that record is 4 s old by its count (it sleeps until exactly then, not to the
//! next retry tick): at most about 4.5 s plus one round trip after the death. A graceful
//! shutdown releases the Lease (no holder, `leaseDurationSeconds: 1`), and a standby acquires
//! a released Lease at its next read: within 500 ms.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{Error, Result};

/// Leader election flags (shared by `keelson controller-manager` and `keelson server`).
#[derive(clap::Args, Clone, Debug)]
pub struct ElectionConfig {
    /// How long a standby waits, from when it first saw the current Lease record, before it
    /// takes the Lease over.
    #[arg(long = "leader-elect-lease-duration", default_value = "4s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,
    /// How long the leader keeps acting after sending its last successful renew; must be
    /// shorter than the lease duration (the difference is the safety margin).
    #[arg(long = "leader-elect-renew-deadline", default_value = "3s", value_parser = humantime::parse_duration)]
    pub renew_deadline: Duration,
    /// How often a standby reads the Lease, and how soon a failed attempt is retried.
    #[arg(long = "leader-elect-retry-period", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub retry_period: Duration,
    /// How often the leader renews; must be shorter than the renew deadline.
    #[arg(long = "leader-elect-renew-interval", default_value = "1s", value_parser = humantime::parse_duration)]
    pub renew_interval: Duration,
    /// This replica's holderIdentity; default `<hostname>_<pid>`.
    #[arg(long = "leader-elect-identity")]
    pub identity: Option<String>,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            lease_duration: Duration::from_secs(4),
            renew_deadline: Duration::from_secs(3),
            retry_period: Duration::from_millis(500),
            renew_interval: Duration::from_secs(1),
            identity: None,
        }
    }
}

/// Validated leader-election timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// See [`ElectionConfig::lease_duration`].
    pub lease_duration: Duration,
    /// See [`ElectionConfig::renew_deadline`].
    pub renew_deadline: Duration,
    /// See [`ElectionConfig::retry_period`].
    pub retry_period: Duration,
    /// See [`ElectionConfig::renew_interval`].
    pub renew_interval: Duration,
}

impl Timing {
    /// Bound on one request to the API server: half the renew deadline, so a renew that
    /// hangs still leaves time for a second attempt.
    pub fn request_timeout(&self) -> Duration {
        self.renew_deadline / 2
    }
}

impl ElectionConfig {
    /// Check the timing relations the safety argument needs.
    pub fn validate(&self) -> Result<Timing> {
        let t = Timing {
            lease_duration: self.lease_duration,
            renew_deadline: self.renew_deadline,
            retry_period: self.retry_period,
            renew_interval: self.renew_interval,
        };
        if t.retry_period.is_zero() || t.renew_interval.is_zero() {
            return Err(Error::Config(
                "--leader-elect-retry-period and --leader-elect-renew-interval must be > 0".into(),
            ));
        }
        if t.renew_interval >= t.renew_deadline {
            return Err(Error::Config(format!(
                "--leader-elect-renew-interval ({:?}) must be shorter than --leader-elect-renew-deadline ({:?})",
                t.renew_interval, t.renew_deadline
            )));
        }
        if t.renew_deadline >= t.lease_duration {
            return Err(Error::Config(format!(
                "--leader-elect-renew-deadline ({:?}) must be shorter than --leader-elect-lease-duration ({:?})",
                t.renew_deadline, t.lease_duration
            )));
        }
        if t.lease_duration < Duration::from_secs(1) {
            return Err(Error::Config(
                "--leader-elect-lease-duration must be at least 1s (the Lease stores whole seconds)"
                    .into(),
            ));
        }
        Ok(t)
    }

    /// `--leader-elect-identity`, or `<hostname>_<pid>`.
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_else(|| "localhost".into());
            format!("{host}_{}", std::process::id())
        })
    }
}

/// What this replica knows of the Lease.
#[derive(Clone, Debug, PartialEq)]
enum View {
    /// Must read it (at start, after a failed or conflicting write).
    Unknown,
    /// Read, and it does not exist.
    Absent,
    /// The record with `rv`, first received at `seen`.
    Present {
        rv: String,
        spec: LeaseSpec,
        seen: Instant,
    },
}

/// What the election loop should do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// GET the Lease and report it with [`Elector::observe`].
    Read,
    /// Create the Lease with this spec.
    Create(LeaseSpec),
    /// Replace the Lease whose resourceVersion is `rv` with this spec.
    Replace {
        /// Precondition: the record this replica saw.
        rv: String,
        /// The new spec.
        spec: LeaseSpec,
    },
    /// Nothing to do before `until`; then ask again (a standby then reads).
    Wait {
        /// When to ask again.
        until: Instant,
    },
}

/// The leader-election state machine (no I/O, no clock).
#[derive(Debug)]
pub struct Elector {
    identity: String,
    timing: Timing,
    view: View,
    /// Send instant of the last successful write that made this replica the holder.
    last_write: Option<Instant>,
    /// After a failed request: no new attempt before this.
    backoff_until: Option<Instant>,
    /// When the view was last refreshed (read or written).
    last_read: Option<Instant>,
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(i32::MAX)
}

fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

impl Elector {
    /// A replica called `identity` that has not read the Lease yet.
    pub fn new(identity: String, timing: Timing) -> Elector {
        Elector {
            identity,
            timing,
            view: View::Unknown,
            last_write: None,
            backoff_until: None,
            last_read: None,
        }
    }

    /// Until when this replica may act: the send instant of its last successful write plus the
    /// renew deadline. `None` when it does not hold the Lease.
    pub fn leading_until(&self) -> Option<Instant> {
        match &self.view {
            View::Present { spec, .. } if holder(spec) == Some(self.identity.as_str()) => {
                self.last_write.map(|s| s + self.timing.renew_deadline)
            }
            // A failed renew makes the view Unknown but does not shorten the deadline already
            // earned.
            View::Unknown => self.last_write.map(|s| s + self.timing.renew_deadline),
            _ => None,
        }
    }

    /// Whether this replica may act at `now`.
    pub fn is_leading(&self, now: Instant) -> bool {
        self.leading_until().is_some_and(|u| now < u)
    }

    /// The current holder according to the last record seen.
    pub fn holder(&self) -> Option<&str> {
        match &self.view {
            View::Present { spec, .. } => holder(spec),
            _ => None,
        }
    }

    /// Report a read: the Lease (`resourceVersion`, spec) or None if absent, received at `now`.
    pub fn observe(&mut self, now: Instant, lease: Option<(String, LeaseSpec)>) {
        self.backoff_until = None;
        self.last_read = Some(now);
        self.view = match lease {
            None => View::Absent,
            Some((rv, spec)) => match &self.view {
                // Same record as before: its age counts from when it was first received.
                View::Present { rv: old, seen, .. } if *old == rv => View::Present {
                    rv,
                    spec,
                    seen: *seen,
                },
                _ => View::Present {
                    rv,
                    spec,
                    seen: now,
                },
            },
        };
        if self.holder() != Some(self.identity.as_str()) {
            self.last_write = None;
        }
    }

    /// Report a successful create/replace sent at `sent`, answered with `rv` and `spec`.
    pub fn written(&mut self, sent: Instant, rv: String, spec: LeaseSpec) {
        self.backoff_until = None;
        self.last_read = Some(sent);
        if holder(&spec) == Some(self.identity.as_str()) {
            self.last_write = Some(sent);
        } else {
            self.last_write = None;
        }
        self.view = View::Present {
            rv,
            spec,
            seen: sent,
        };
    }

    /// Report a failed request (conflict, timeout, error) at `now`: read again after the retry
    /// period. The deadline already earned is kept; it only ever runs out.
    pub fn failed(&mut self, now: Instant) {
        self.view = View::Unknown;
        self.backoff_until = Some(now + self.timing.retry_period);
    }

    fn spec(&self, wall: Timestamp, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let mine = previous.and_then(holder) == Some(self.identity.as_str());
        let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(secs(self.timing.lease_duration)),
            acquire_time: if mine {
                previous.and_then(|p| p.acquire_time.clone())
            } else {
                Some(MicroTime(wall))
            },
            renew_time: Some(MicroTime(wall)),
            lease_transitions: Some(match previous {
                Some(_) if !mine => transitions.saturating_add(1),
                _ => transitions,
            }),
            ..LeaseSpec::default()
        }
    }

    /// What to do at monotonic instant `now` (wall-clock `wall` goes into the record).
    pub fn decide(&self, now: Instant, wall: Timestamp) -> Action {
        if let Some(b) = self.backoff_until
            && now < b
        {
            return Action::Wait { until: b };
        }
        match &self.view {
            View::Unknown => Action::Read,
            View::Absent => Action::Create(self.spec(wall, None)),
            View::Present { rv, spec, seen } => match holder(spec) {
                Some(h) if h == self.identity => {
                    let due = self
                        .last_write
                        .map(|s| s + self.timing.renew_interval)
                        .unwrap_or(now);
                    if now >= due {
                        Action::Replace {
                            rv: rv.clone(),
                            spec: self.spec(wall, Some(spec)),
                        }
                    } else {
                        Action::Wait { until: due }
                    }
                }
                None => Action::Replace {
                    rv: rv.clone(),
                    spec: self.spec(wall, Some(spec)),
                },
                Some(_) => {
                    let duration = spec
                        .lease_duration_seconds
                        .filter(|s| *s > 0)
                        .map(|s| Duration::from_secs(s as u64))
                        .unwrap_or(self.timing.lease_duration);
                    let expiry = *seen + duration;
                    let reread = self.last_read.unwrap_or(*seen) + self.timing.retry_period;
                    if now >= expiry {
                        // Expired by this replica's own count: take it over (the
                        // resourceVersion precondition fails if it was renewed meanwhile).
                        Action::Replace {
                            rv: rv.clone(),
                            spec: self.spec(wall, Some(spec)),
                        }
                    } else if now >= reread {
                        Action::Read
                    } else {
                        Action::Wait {
                            until: expiry.min(reread),
                        }
                    }
                }
            },
        }
    }

    /// The replace that releases the Lease (graceful shutdown), if this replica holds it.
    pub fn release(&self, now: Instant, wall: Timestamp) -> Option<Action> {
        if !self.is_leading(now) {
            return None;
        }
        let View::Present { rv, spec, .. } = &self.view else {
            return None;
        };
        Some(Action::Replace {
            rv: rv.clone(),
            spec: LeaseSpec {
                holder_identity: None,
                lease_duration_seconds: Some(1),
                renew_time: Some(MicroTime(wall)),
                ..spec.clone()
            },
        })
    }
}

/// Whether this replica may act, shared with the controllers: `Some(until)` while it holds
/// the Lease (see the timing argument in the module docs).
#[derive(Clone, Debug)]
pub struct Leadership {
    rx: watch::Receiver<Option<Instant>>,
}

impl Leadership {
    /// A handle and its sender (for tests and for [`spawn`]).
    pub fn channel() -> (watch::Sender<Option<Instant>>, Leadership) {
        let (tx, rx) = watch::channel(None);
        (tx, Leadership { rx })
    }

    /// True while this replica holds the Lease; check it right before every write.
    pub fn is_leading(&self) -> bool {
        matches!(*self.rx.borrow(), Some(u) if Instant::now() < u)
    }

    /// `Ok` while leading, else [`Error::NotLeading`].
    pub fn check(&self) -> Result<()> {
        if self.is_leading() {
            Ok(())
        } else {
            Err(Error::NotLeading)
        }
    }

    /// Resolves once this replica holds the Lease (never, if the election task is gone).
    pub async fn acquired(&mut self) {
        loop {
            if self.is_leading() {
                return;
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves as soon as this replica may no longer act: at its deadline even if the
    /// election task is stuck in a request, or when the task reports the Lease lost.
    pub async fn lost(&mut self) {
        loop {
            let until = *self.rx.borrow_and_update();
            match until {
                Some(u) if Instant::now() < u => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(u) => {}
                        r = self.rx.changed() => if r.is_err() { return },
                    }
                }
                _ => return,
            }
        }
    }
}

fn record(lease: &Lease) -> (String, LeaseSpec) {
    (
        lease.metadata.resource_version.clone().unwrap_or_default(),
        lease.spec.clone().unwrap_or_default(),
    )
}

async fn bounded<T>(
    what: &'static str,
    after: Duration,
    f: impl std::future::Future<Output = kube::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(after, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Timeout { what, after }),
    }
}

struct Runner {
    api: Api<Lease>,
    name: String,
    elector: Elector,
    tx: watch::Sender<Option<Instant>>,
    timeout: Duration,
}

impl Runner {
    fn publish(&mut self) {
        let until = self.elector.leading_until();
        let was = *self.tx.borrow();
        if was != until {
            let now = Instant::now();
            let (before, after) = (was.is_some_and(|u| now < u), until.is_some_and(|u| now < u));
            if !before && after {
                tracing::info!(identity = %self.elector.identity, lease = %self.name, "acquired the lease");
            }
            self.tx.send_replace(until);
        }
    }

    /// Perform one action; `Err` only for logging (the state machine already knows).
    async fn step(&mut self, action: Action, stop: &mut watch::Receiver<bool>) -> Result<()> {
        match action {
            Action::Wait { until } => {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = stop.changed() => {}
                }
                Ok(())
            }
            Action::Read => {
                match bounded("lease read", self.timeout, self.api.get_opt(&self.name)).await {
                    Ok(lease) => {
                        let before = self.elector.holder().map(str::to_string);
                        self.elector
                            .observe(Instant::now(), lease.as_ref().map(record));
                        let after = self.elector.holder();
                        if before.as_deref() != after {
                            tracing::info!(holder = ?after, lease = %self.name, "lease holder observed");
                        }
                        Ok(())
                    }
                    Err(e) => {
                        self.elector.failed(Instant::now());
                        Err(e)
                    }
                }
            }
            Action::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                let sent = Instant::now();
                let r = bounded(
                    "lease create",
                    self.timeout,
                    self.api.create(&PostParams::default(), &lease),
                )
                .await;
                self.wrote(sent, r)
            }
            Action::Replace { rv, spec } => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        resource_version: Some(rv),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                let sent = Instant::now();
                let r = bounded(
                    "lease replace",
                    self.timeout,
                    self.api.replace(&self.name, &PostParams::default(), &lease),
                )
                .await;
                self.wrote(sent, r)
            }
        }
    }

    fn wrote(&mut self, sent: Instant, r: Result<Lease>) -> Result<()> {
        match r {
            Ok(lease) => {
                let (rv, spec) = record(&lease);
                self.elector.written(sent, rv, spec);
                Ok(())
            }
            Err(e) => {
                self.elector.failed(Instant::now());
                Err(e)
            }
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        while !*stop.borrow() {
            let action = self.elector.decide(Instant::now(), Timestamp::now());
            let write = matches!(action, Action::Create(_) | Action::Replace { .. });
            match self.step(action, &mut stop).await {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    // Conflicts are the normal race between candidates; say little of them.
                    let conflict = matches!(&e, Error::Kube(kube::Error::Api(s)) if s.code == 409);
                    if conflict {
                        tracing::debug!(error = %e, "lease write conflict");
                    } else if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %e, failures, write, "leader election request failed");
                    }
                }
            }
            let leading_before = self.tx.borrow().is_some_and(|u| Instant::now() < u);
            self.publish();
            if leading_before && !self.elector.is_leading(Instant::now()) {
                tracing::warn!(identity = %self.elector.identity, "lease lost");
            }
        }
        // Shutting down: the controllers have stopped; give the Lease away so a standby takes
        // over at its next read instead of waiting for the lease to expire.
        let release = self.elector.release(Instant::now(), Timestamp::now());
        self.tx.send_replace(None);
        if let Some(action) = release {
            let (_, mut never) = watch::channel(false);
            match self.step(action, &mut never).await {
                Ok(()) => tracing::info!(lease = %self.name, "lease released"),
                Err(e) => tracing::warn!(error = %e, "could not release the lease"),
            }
        }
    }
}

/// Run leader election for `identity` on the Lease `name` until `stop` turns true; then
/// release the Lease if held. Returns the [`Leadership`] the controllers follow.
pub fn spawn(
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: Timing,
    stop: watch::Receiver<bool>,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    let (tx, leadership) = Leadership::channel();
    let runner = Runner {
        api,
        name,
        elector: Elector::new(identity, timing),
        tx,
        timeout: timing.request_timeout(),
    };
    (leadership, tokio::spawn(runner.run(stop)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn timing() -> Timing {
        ElectionConfig::default()
            .validate()
            .expect("defaults are valid")
    }

    fn wall() -> Timestamp {
        Timestamp::UNIX_EPOCH
    }

    fn held_by(who: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(who.into()),
            lease_duration_seconds: Some(4),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    /// Perform `action` as the API server would on a Lease with version `rv`.
    fn accept(e: &mut Elector, sent: Instant, rv: &str) -> LeaseSpec {
        let spec = match e.decide(sent, wall()) {
            Action::Create(s) | Action::Replace { spec: s, .. } => s,
            other => panic!("expected a write, got {other:?}"),
        };
        e.written(sent, rv.into(), spec.clone());
        spec
    }

    #[test]
    fn defaults_fail_over_within_five_seconds_and_bad_timing_is_refused() {
        let t = timing();
        // Worst case: the last record is one retry period old when first seen.
        assert!(t.retry_period + t.lease_duration <= Duration::from_secs(5));
        let bad = ElectionConfig {
            renew_deadline: Duration::from_secs(4),
            ..ElectionConfig::default()
        };
        assert!(matches!(bad.validate(), Err(Error::Config(_))));
        let bad = ElectionConfig {
            renew_interval: Duration::from_secs(3),
            ..ElectionConfig::default()
        };
        assert!(matches!(bad.validate(), Err(Error::Config(_))));
    }

    #[test]
    fn first_replica_creates_the_lease_and_renews_it() {
        let t0 = Instant::now();
        let mut e = Elector::new("a".into(), timing());
        assert_eq!(e.decide(t0, wall()), Action::Read);
        e.observe(t0, None);
        let spec = accept(&mut e, t0, "1");
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_duration_seconds, Some(4));
        assert_eq!(spec.lease_transitions, Some(0));
        assert!(spec.renew_time.is_some() && spec.acquire_time.is_some());
        // Leading until the send instant plus the renew deadline, not a moment longer.
        assert_eq!(e.leading_until(), Some(t0 + 3000 * MS));
        assert!(e.is_leading(t0 + 2999 * MS));
        assert!(!e.is_leading(t0 + 3000 * MS));
        // Renews every second, with the resourceVersion it wrote.
        assert_eq!(
            e.decide(t0 + 500 * MS, wall()),
            Action::Wait {
                until: t0 + 1000 * MS
            }
        );
        let Action::Replace { rv, spec } = e.decide(t0 + 1000 * MS, wall()) else {
            panic!("expected a renew");
        };
        assert_eq!(rv, "1");
        assert_eq!(spec.lease_transitions, Some(0), "a renew is no transition");
        e.written(t0 + 1000 * MS, "2".into(), spec);
        assert_eq!(e.leading_until(), Some(t0 + 4000 * MS));
    }

    #[test]
    fn failed_renews_never_extend_the_deadline() {
        let t0 = Instant::now();
        let mut e = Elector::new("a".into(), timing());
        e.observe(t0, None);
        accept(&mut e, t0, "1");
        e.failed(t0 + 1200 * MS);
        assert_eq!(e.leading_until(), Some(t0 + 3000 * MS));
        assert_eq!(
            e.decide(t0 + 1300 * MS, wall()),
            Action::Wait {
                until: t0 + 1700 * MS
            }
        );
        assert_eq!(e.decide(t0 + 1700 * MS, wall()), Action::Read);
        assert!(!e.is_leading(t0 + 3000 * MS));
        // Someone else took it: no longer leading at all.
        e.observe(t0 + 3100 * MS, Some(("9".into(), held_by("b"))));
        assert_eq!(e.leading_until(), None);
    }

    #[test]
    fn standby_takes_over_a_lease_not_renewed_for_its_duration() {
        let t0 = Instant::now();
        let mut b = Elector::new("b".into(), timing());
        b.observe(t0, Some(("5".into(), held_by("a"))));
        assert_eq!(
            b.decide(t0, wall()),
            Action::Wait {
                until: t0 + 500 * MS
            }
        );
        assert_eq!(b.decide(t0 + 500 * MS, wall()), Action::Read);
        // Renewed: the count starts again from when the new record was seen.
        b.observe(t0 + 500 * MS, Some(("6".into(), held_by("a"))));
        // Not renewed any more: the same record keeps its first-seen instant.
        for i in 2..9 {
            b.observe(t0 + ms(i * 500), Some(("6".into(), held_by("a"))));
        }
        assert_eq!(
            b.decide(t0 + 4400 * MS, wall()),
            Action::Wait {
                until: t0 + 4500 * MS
            },
            "sleeps to the expiry, not a whole retry period"
        );
        let Action::Replace { rv, spec } = b.decide(t0 + 4500 * MS, wall()) else {
            panic!("expected a takeover");
        };
        assert_eq!(rv, "6");
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.acquire_time, Some(MicroTime(wall())));
    }

    #[test]
    fn released_lease_is_taken_at_once() {
        let t0 = Instant::now();
        let mut a = Elector::new("a".into(), timing());
        a.observe(t0, None);
        accept(&mut a, t0, "1");
        let release = a.release(t0 + 100 * MS, wall()).expect("holder releases");
        let Action::Replace { rv, spec } = release else {
            panic!("expected a replace");
        };
        assert_eq!(rv, "1");
        assert_eq!(spec.holder_identity, None);
        let mut b = Elector::new("b".into(), timing());
        b.observe(t0 + 200 * MS, Some(("2".into(), spec)));
        let Action::Replace { rv, spec } = b.decide(t0 + 200 * MS, wall()) else {
            panic!("expected an immediate acquire");
        };
        assert_eq!((rv.as_str(), spec.lease_transitions), ("2", Some(1)));
        // A standby has nothing to release.
        assert_eq!(b.release(t0, wall()), None);
    }

    /// The timing argument, exhaustively over when the standby's reads happen: the holder's
    /// last renew is sent at `s`, stored `store` later, and the standby's reads land every
    /// retry period from `phase`. The standby never acquires before the holder stopped
    /// acting, with at least the safety margin between them.
    #[test]
    fn standby_never_acts_while_the_holder_may() {
        let t = timing();
        let base = Instant::now();
        for store_ms in [0u64, 1, 50, 400, 1500] {
            for phase_ms in (0..500).step_by(25) {
                let s = base + 1000 * MS;
                let mut a = Elector::new("a".into(), t);
                a.observe(base, None);
                accept(&mut a, s, "7");
                let a_stops = a.leading_until().expect("leading");
                let stored = s + ms(store_ms);
                let mut b = Elector::new("b".into(), t);
                let mut now = base + ms(phase_ms);
                let acquired = loop {
                    match b.decide(now, wall()) {
                        Action::Read => {
                            let rec = (now >= stored).then(|| ("7".to_string(), held_by("a")));
                            let rec = rec.unwrap_or_else(|| ("6".into(), held_by("a")));
                            b.observe(now, Some(rec));
                        }
                        Action::Wait { until } => now = until,
                        Action::Replace { .. } => break now,
                        Action::Create(_) => panic!("the lease exists"),
                    }
                };
                assert!(
                    acquired >= a_stops + (t.lease_duration - t.renew_deadline),
                    "store {store_ms} ms, phase {phase_ms} ms: b acquires at {:?}, a stops at {:?}",
                    acquired - base,
                    a_stops - base
                );
                // And the failover stays within the 5 s promise (measured from a's last
                // renew, the worst case for a death right after it).
                assert!(acquired - stored <= t.lease_duration + t.retry_period);
            }
        }
    }

    #[tokio::test]
    async fn leadership_is_lost_at_the_deadline_without_any_news() {
        let (tx, mut l) = Leadership::channel();
        assert!(!l.is_leading());
        let until = Instant::now() + 100 * MS;
        tx.send_replace(Some(until));
        tokio::time::timeout(Duration::from_secs(5), l.acquired())
            .await
            .expect("acquired");
        assert!(l.check().is_ok());
        tokio::time::timeout(Duration::from_secs(5), l.lost())
            .await
            .expect("lost at the deadline");
        assert!(Instant::now() >= until);
        assert!(matches!(l.check(), Err(Error::NotLeading)));
        drop(tx);
    }
}
