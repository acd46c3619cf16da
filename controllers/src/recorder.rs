//! Kubernetes Events the controllers write (`SuccessfulCreate`, `ScalingReplicaSet`, ...), as
//! core/v1 Events so `kubectl describe` and `kubectl get events` show them.
//!
//! Recording never blocks a controller: each Event is written by its own short task, at most
//! [`IN_FLIGHT`] at once; beyond that they are dropped with a debug log (client-go's
//! broadcaster drops too when it is behind). Every write first checks that this replica
//! still leads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, Resource};

use crate::Leadership;

/// Event writes in flight at once.
pub const IN_FLIGHT: usize = 64;
/// Bound on one write.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Writes Events for one component.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: &'static str,
    leadership: Leadership,
    in_flight: Arc<AtomicUsize>,
}

impl Recorder {
    /// A recorder for `component` (the Event's `source.component`).
    pub fn new(client: Client, component: &'static str, leadership: Leadership) -> Recorder {
        Recorder {
            client,
            component,
            leadership,
            in_flight: Arc::default(),
        }
    }

    /// Record an Event about `obj` (type `Normal` or `Warning`).
    pub fn record<K>(&self, obj: &K, type_: &str, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        if self.leadership.check().is_err() {
            return;
        }
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tracing::debug!(reason, "event dropped");
            return;
        }
        let m = obj.meta();
        let ns = m.namespace.clone().unwrap_or_else(|| "default".into());
        let name = m.name.clone().unwrap_or_default();
        let now = Timestamp::now();
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{name}.{:x}",
                    now.as_nanosecond().unsigned_abs() as u64
                )),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(name),
                namespace: m.namespace.clone(),
                uid: m.uid.clone(),
                resource_version: m.resource_version.clone(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(type_.into()),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            count: Some(1),
            reporting_component: Some(self.component.into()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let in_flight = self.in_flight.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(TIMEOUT, api.create(&PostParams::default(), &ev)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "event write failed"),
                Err(_) => tracing::debug!("event write timed out"),
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
