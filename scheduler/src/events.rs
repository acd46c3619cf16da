//! Kubernetes Events the scheduler writes (`Scheduled`, `FailedScheduling`), and the pods'
//! `PodScheduled` condition, written off the scheduling loop.
//!
//! Like client-go's event broadcaster, recording never blocks the scheduler: records go
//! through a bounded channel and are dropped (with a debug log) when it is full. Repeats of
//! the same reason and message for the same pod within ten minutes update the existing
//! Event's `count` and `lastTimestamp` instead of creating a new one, so `kubectl describe`
//! shows `(x5 over 2m)` as it does for kube-scheduler. Every write first checks that this
//! replica still leads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use keelson_controllers::Leadership;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

/// Events and status writes waiting to be sent; beyond this they are dropped.
const BUFFER: usize = 4096;
/// Writes in flight at once.
const CONCURRENCY: usize = 16;
/// A repeat within this window updates the existing Event.
const AGGREGATE_FOR: Duration = Duration::from_secs(600);
/// Bound on one write.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often expired aggregation entries are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// One thing to write.
#[derive(Debug)]
pub enum Record {
    /// An Event about a pod.
    Event {
        /// The pod.
        pod: Arc<Pod>,
        /// `Normal` or `Warning`.
        kind: &'static str,
        /// `Scheduled`, `FailedScheduling`.
        reason: &'static str,
        /// The message.
        message: String,
    },
    /// Set the pod's `PodScheduled` condition to False (reason `Unschedulable`).
    Unschedulable {
        /// The pod.
        pod: Arc<Pod>,
        /// The condition's message (the fit error).
        message: String,
    },
}

/// The sending side, held by the scheduling loop.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl Recorder {
    /// Start the writer task.
    pub fn start(
        client: Client,
        component: String,
        instance: String,
        leadership: Leadership,
    ) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(BUFFER);
        let writer = Writer {
            client,
            component,
            instance,
            leadership,
            seen: Default::default(),
            pruned: std::sync::Mutex::new(Timestamp::now()),
        };
        (Recorder { tx }, tokio::spawn(writer.run(rx)))
    }

    /// Queue `r`; dropped if the writer is behind.
    pub fn record(&self, r: Record) {
        if let Err(e) = self.tx.try_send(r) {
            tracing::debug!(error = %e, "event dropped");
        }
    }
}

fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// `(namespace, event name, count, first seen, last written)` of an Event already written.
type Seen = HashMap<(String, String, &'static str, String), (String, i32, Timestamp)>;

struct Writer {
    client: Client,
    component: String,
    instance: String,
    leadership: Leadership,
    seen: std::sync::Mutex<Seen>,
    pruned: std::sync::Mutex<Timestamp>,
}

impl Writer {
    async fn run(self, rx: mpsc::Receiver<Record>) {
        let this = Arc::new(self);
        tokio_stream_like(rx)
            .for_each_concurrent(CONCURRENCY, |r| {
                let this = this.clone();
                async move {
                    if this.leadership.check().is_err() {
                        return;
                    }
                    let res = tokio::time::timeout(TIMEOUT, this.write(r)).await;
                    match res {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(error = %e, "event write failed"),
                        Err(_) => tracing::debug!("event write timed out"),
                    }
                }
            })
            .await;
    }

    async fn write(&self, r: Record) -> Result<(), kube::Error> {
        match r {
            Record::Event {
                pod,
                kind,
                reason,
                message,
            } => self.event(&pod, kind, reason, message).await,
            Record::Unschedulable { pod, message } => {
                let ns = pod.namespace().unwrap_or_default();
                let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
                let now = Time(Timestamp::now());
                let patch = json!({"status": {"conditions": [{
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": null,
                    "lastTransitionTime": now,
                }]}});
                api.patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(patch),
                )
                .await
                .map(|_| ())
            }
        }
    }

    async fn event(
        &self,
        pod: &Pod,
        kind: &'static str,
        reason: &'static str,
        message: String,
    ) -> Result<(), kube::Error> {
        let ns = pod.namespace().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let now = Timestamp::now();
        let key = (ns.clone(), pod.name_any(), reason, message.clone());
        let repeat = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            // Prune old entries at most every minute, not on every Event (10,000 pods
            // scheduled in a burst are 10,000 entries).
            let mut pruned = self.pruned.lock().unwrap_or_else(|e| e.into_inner());
            if now.duration_since(*pruned).unsigned_abs() > PRUNE_EVERY {
                seen.retain(|_, (_, _, at)| now.duration_since(*at).unsigned_abs() < AGGREGATE_FOR);
                *pruned = now;
            }
            drop(pruned);
            seen.get_mut(&key)
                .filter(|e| now.duration_since(e.2).unsigned_abs() < AGGREGATE_FOR)
                .map(|e| {
                    e.1 += 1;
                    e.2 = now;
                    (e.0.clone(), e.1)
                })
        };
        if let Some((name, count)) = repeat {
            let patch = json!({"count": count, "lastTimestamp": Time(now)});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            pod.name_any(),
            now.as_nanosecond().unsigned_abs() as u64
        );
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: pod_ref(pod),
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(kind.into()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            count: Some(1),
            action: Some(
                if reason == "Scheduled" {
                    "Binding"
                } else {
                    "Scheduling"
                }
                .into(),
            ),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        api.create(&PostParams::default(), &ev).await?;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (name, 1, now));
        Ok(())
    }
}

/// An mpsc receiver as a stream.
fn tokio_stream_like<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
