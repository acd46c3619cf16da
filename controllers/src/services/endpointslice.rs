//! The EndpointSlice controller's sync (`pkg/controller/endpointslice`, the reconciler of
//! `k8s.io/endpointslice`: `reconciler.go`, `utils.go`) as a pure plan over a Service, the
//! pods of its namespace, the nodes and the Service's current slices.
//!
//! What the plan does, as upstream:
//! - Services without a selector, `type: ExternalName` and `default/kubernetes` are left
//!   alone (see [`endpoints_selector`]).
//! - One slice group per address type the Service serves (`spec.ipFamilies`, else the
//!   family of its cluster IP); slices of another address type are deleted.
//! - Every selected pod with an IP of that family that is not terminal is an endpoint,
//!   terminating ones included: conditions `ready` (serving and not terminating, or
//!   `publishNotReadyAddresses`), `serving` (the pod's `Ready` condition), `terminating`
//!   (being deleted); `nodeName`, `zone` (the node's `topology.kubernetes.io/zone`),
//!   `hostname` (headless Service named as the pod's subdomain), `targetRef`. A pod whose node
//!   is not cached is left out (unless `publishNotReadyAddresses`) and the plan asks for a
//!   retry.
//! - Endpoints are grouped by their resolved port set; each group fills slices of at most
//!   [`MAX_ENDPOINTS_PER_SLICE`]. Existing slices are kept stable: endpoints that are still
//!   wanted stay where they are (updated in place if their attributes changed), slices
//!   left empty are deleted, new endpoints first fill slices that are being updated anyway
//!   (fullest first), then the one existing slice they fit in best, then new slices. A
//!   slice that would be deleted while another is created is updated instead. With no
//!   endpoints at all the Service keeps one empty placeholder slice.
//! - Slices carry the Service's labels plus `kubernetes.io/service-name`,
//!   `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io` and, for a
//!   headless Service, `service.kubernetes.io/headless`; a controller reference to the
//!   Service; `generateName: <service>-`; and on every write the last-change trigger time.
//! - Slices not owned by the Service (same name, older Service) are deleted; nothing is
//!   created while the Service is being deleted. Nothing is written when nothing changed.
//!
//! Differences from upstream:
//! - Topology-aware hints and `trafficDistribution` are not computed (hints written by
//!   someone else are dropped from slices this plan rewrites, as upstream does when hints
//!   are disabled).
//! - A headless Service without `spec.ipFamilies` gets the address types of its pods' IPs
//!   (IPv4 when there are none) instead of upstream's "both" fallback for old API servers.
//! - The trigger time is derived as in [`endpoints`](super::endpoints) (stateless): the
//!   latest one recorded on the current slices stands for the previous sync.
//! - Which endpoint goes into which new slice is deterministic (ordered by address) rather
//!   than Go map order.
//!
//! What the plan assumes of the runtime: informers for Services, pods, nodes and
//! EndpointSlices (those labelled `kubernetes.io/service-name` and managed by
//! [`CONTROLLER_NAME`]); writes in order `create`, `update` (each carries the cached
//! `resourceVersion`: a conflict means plan again), `delete` (not-found is success); after
//! its own writes it should wait until the slice informer has seen them before planning the
//! Service again (upstream's `EndpointSliceTracker`), else it plans against stale slices
//! and creates duplicates. `retry`: plan again with back-off.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use super::endpoints::{
    HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME, endpoints_selector, find_port, format_rfc3339_nano,
    is_service_ip_set, normalize_ip, pod_reference, recorded_trigger_time, selected_pods,
    service_ip_families, should_pod_be_in_endpoints, should_set_hostname, trigger_time,
};
use super::podutil;

/// Most endpoints in one slice (`--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// Label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's [`LABEL_MANAGED_BY`] value.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Node label with the node's zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// What to write for one Service's EndpointSlices, in field order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlicePlan {
    /// Slices to create (named by `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Slices to replace, with their cached `resourceVersion`.
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
    /// Some pod's node is not cached yet: plan again with back-off (upstream returns an
    /// error after writing the rest).
    pub retry: bool,
}

/// A port set's identity: (name, port, protocol, appProtocol), sorted.
type PortsKey = Vec<(String, i32, String, Option<String>)>;
/// An endpoint's identity (`hashEndpoint`): addresses, hostname, pod namespace and name.
type EndpointKey = (Vec<String>, String, String, String);

fn ports_key(ports: &[EndpointPort]) -> PortsKey {
    let mut k: PortsKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone(),
            )
        })
        .collect();
    k.sort();
    k
}

fn endpoint_key(ep: &Endpoint) -> EndpointKey {
    let mut addresses = ep.addresses.clone();
    addresses.sort();
    let r = ep.target_ref.as_ref();
    (
        addresses,
        ep.hostname.clone().unwrap_or_default(),
        r.and_then(|r| r.namespace.clone()).unwrap_or_default(),
        r.and_then(|r| r.name.clone()).unwrap_or_default(),
    )
}

/// `EndpointsEqualBeyondHash`: node, zone, conditions and pod reference (ignoring its
/// `resourceVersion`).
fn equal_beyond_hash(a: &Endpoint, b: &Endpoint) -> bool {
    let conds = |e: &Endpoint| {
        let c = e.conditions.clone().unwrap_or_default();
        (c.ready, c.serving, c.terminating)
    };
    let target = |e: &Endpoint| {
        e.target_ref.clone().map(|mut r| {
            r.resource_version = None;
            r
        })
    };
    a.node_name == b.node_name && a.zone == b.zone && conds(a) == conds(b) && target(a) == target(b)
}

fn is_reserved_label(k: &str) -> bool {
    k == LABEL_SERVICE_NAME || k == LABEL_MANAGED_BY || k == HEADLESS_LABEL
}

/// `setEndpointSliceLabels`: the labels a slice of `svc` carries, and whether its
/// non-reserved labels differ from the Service's (only those trigger an update).
fn slice_labels(slice: Option<&EndpointSlice>, svc: &Service) -> (BTreeMap<String, String>, bool) {
    let strip = |m: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        m.into_iter()
            .flatten()
            .filter(|(k, _)| !is_reserved_label(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let current = strip(slice.and_then(|s| s.metadata.labels.as_ref()));
    let mut labels = strip(svc.metadata.labels.as_ref());
    let changed = current != labels;
    if !is_service_ip_set(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(
        LABEL_SERVICE_NAME.into(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    (labels, changed)
}

/// `ownedBy`: the slice has an owner reference to this Service (`v1`, `Service`, its uid).
fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.metadata.uid.as_deref().unwrap_or_default();
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// A new, empty slice of `svc` for these ports (`newEndpointSlice`).
fn new_slice(svc: &Service, ports: &[EndpointPort], address_type: &str) -> EndpointSlice {
    let (labels, _) = slice_labels(None, svc);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(podutil::pod_name_prefix(
                svc.metadata.name.as_deref().unwrap_or_default(),
            )),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![podutil::new_controller_ref(
                &svc.metadata,
                "v1",
                "Service",
            )]),
            ..ObjectMeta::default()
        },
        address_type: address_type.to_string(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    }
}

/// `getEndpointPorts`: the Service's ports resolved on the pod; none for a headless
/// Service without ports.
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    spec.ports
        .iter()
        .flatten()
        .filter_map(|sp| {
            let port = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(
                    sp.protocol
                        .clone()
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| "TCP".into()),
                ),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

fn pod_addresses(pod: &Pod, v6: bool) -> Vec<String> {
    let Some(st) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<&str> = st.pod_ips.iter().flatten().map(|p| p.ip.as_str()).collect();
    if ips.is_empty() {
        ips.extend(st.pod_ip.as_deref());
    }
    ips.into_iter()
        .filter(|ip| !ip.is_empty())
        .map(normalize_ip)
        .filter(|(_, is_v6)| *is_v6 == v6)
        .map(|(ip, _)| ip)
        .collect()
}

/// `podToEndpoint`.
fn pod_to_endpoint(pod: &Pod, node: Option<&Node>, svc: &Service, address_type: &str) -> Endpoint {
    let serving = podutil::is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let zone = node
        .and_then(|n| n.metadata.labels.as_ref())
        .and_then(|l| l.get(ZONE_LABEL))
        .filter(|z| !z.is_empty())
        .cloned();
    Endpoint {
        addresses: pod_addresses(pod, address_type == "IPv6"),
        conditions: Some(EndpointConditions {
            ready: Some(publish || (serving && !terminating)),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: should_set_hostname(pod, svc)
            .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
            .flatten(),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        target_ref: Some(pod_reference(pod)),
        zone,
        ..Endpoint::default()
    }
}

/// The address types to keep slices of.
fn address_types(svc: &Service, pods: &[&Pod]) -> BTreeSet<&'static str> {
    if let Some(f) = service_ip_families(svc) {
        return f.into_iter().collect();
    }
    let mut out = BTreeSet::new();
    for p in pods {
        if !pod_addresses(p, false).is_empty() {
            out.insert("IPv4");
        }
        if !pod_addresses(p, true).is_empty() {
            out.insert("IPv6");
        }
    }
    if out.is_empty() {
        out.insert("IPv4");
    }
    out
}

/// The changes for one address type.
#[derive(Default)]
struct Changes {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<EndpointSlice>,
}

/// `reconcileByPortMapping`: the slices of one port set.
fn reconcile_port_set(
    svc: &Service,
    existing: &[&EndpointSlice],
    mut desired: BTreeMap<EndpointKey, Endpoint>,
    ports: &[EndpointPort],
    address_type: &str,
    max: usize,
) -> Changes {
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();

    // 1. Keep the wanted endpoints where they are, refreshing changed ones.
    for slice in existing {
        let name = slice.metadata.name.clone().unwrap_or_default();
        let mut kept = Vec::new();
        let mut updated = false;
        for ep in &slice.endpoints {
            if let Some(got) = desired.remove(&endpoint_key(ep)) {
                if !equal_beyond_hash(&got, ep) {
                    updated = true;
                }
                kept.push(got);
            }
        }
        let (labels, labels_changed) = slice_labels(Some(slice), svc);
        if updated || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
                by_name.insert(name, (*slice).clone());
            } else {
                let mut s = (*slice).clone();
                s.endpoints = kept;
                s.metadata.labels = Some(labels);
                to_update.insert(name.clone());
                by_name.insert(name, s);
            }
        } else if labels_changed {
            let mut s = (*slice).clone();
            s.metadata.labels = Some(labels);
            to_update.insert(name.clone());
            by_name.insert(name, s);
        } else {
            unchanged.insert(name.clone());
            by_name.insert(name, (*slice).clone());
        }
    }

    // 2. Fill the slices being updated anyway, fullest first.
    if !desired.is_empty() && !to_update.is_empty() {
        let mut names: Vec<&String> = to_update.iter().collect();
        names.sort_by_key(|n| std::cmp::Reverse(by_name.get(*n).map_or(0, |s| s.endpoints.len())));
        for n in names {
            let Some(s) = by_name.get_mut(n) else {
                continue;
            };
            while s.endpoints.len() < max {
                let Some((_, ep)) = desired.pop_first() else {
                    break;
                };
                s.endpoints.push(ep);
            }
        }
    }

    // 3. The rest: into the unchanged slice it fits best, else into new slices.
    let mut create = Vec::new();
    while !desired.is_empty() {
        let mut fill: Option<String> = None;
        if desired.len() < max {
            let mut closest = max;
            for n in &unchanged {
                let len = by_name.get(n).map_or(max, |s| s.endpoints.len());
                if len + desired.len() <= max {
                    let diff = max - (len + desired.len());
                    if diff < closest {
                        closest = diff;
                        fill = Some(n.clone());
                    }
                }
            }
        }
        let mut slice = match &fill {
            Some(n) => by_name
                .remove(n)
                .unwrap_or_else(|| new_slice(svc, ports, address_type)),
            None => new_slice(svc, ports, address_type),
        };
        while slice.endpoints.len() < max {
            let Some((_, ep)) = desired.pop_first() else {
                break;
            };
            slice.endpoints.push(ep);
        }
        match fill {
            Some(n) => {
                unchanged.remove(&n);
                to_update.insert(n.clone());
                by_name.insert(n, slice);
            }
            None => create.push(slice),
        }
    }

    Changes {
        create,
        update: to_update
            .iter()
            .filter_map(|n| by_name.get(n).cloned())
            .collect(),
        delete: to_delete
            .iter()
            .filter_map(|n| by_name.get(n).cloned())
            .collect(),
    }
}

/// `placeholderSliceCompare`: same namespace, labels, address type, no endpoints, no ports.
fn is_same_placeholder(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    a.metadata.namespace == b.metadata.namespace
        && a.metadata.labels.clone().unwrap_or_default()
            == b.metadata.labels.clone().unwrap_or_default()
        && a.address_type == b.address_type
        && a.endpoints.is_empty()
        && b.endpoints.is_empty()
        && a.ports.as_ref().is_none_or(Vec::is_empty)
        && b.ports.as_ref().is_none_or(Vec::is_empty)
}

/// `reconcileByAddressType` and `finalize`'s create-to-update conversion.
fn reconcile_address_type(
    svc: &Service,
    pods: &[&Pod],
    nodes: &BTreeMap<&str, &Node>,
    existing: &[&EndpointSlice],
    address_type: &str,
    retry: &mut bool,
) -> Changes {
    let mut changes = Changes::default();
    let mut existing_by_ports: BTreeMap<PortsKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in existing {
        if owned_by(s, svc) {
            existing_by_ports
                .entry(ports_key(s.ports.as_deref().unwrap_or_default()))
                .or_default()
                .push(s);
        } else {
            changes.delete.push((*s).clone());
        }
    }

    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut desired: BTreeMap<PortsKey, (Vec<EndpointPort>, BTreeMap<EndpointKey, Endpoint>)> =
        BTreeMap::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        let key = ports_key(&ports);
        let group = desired
            .entry(key)
            .or_insert_with(|| (ports, BTreeMap::new()));
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let node = nodes.get(node_name).copied();
        if node.is_none() && !publish {
            tracing::info!(
                pod = pod.metadata.name.as_deref().unwrap_or_default(),
                node = node_name,
                "skipping pod for service: node not found"
            );
            *retry = true;
            continue;
        }
        let ep = pod_to_endpoint(pod, node, svc, address_type);
        if !ep.addresses.is_empty() {
            group.1.insert(endpoint_key(&ep), ep);
        }
    }

    for (key, (ports, eps)) in desired.iter_mut() {
        let slices = existing_by_ports.get(key).cloned().unwrap_or_default();
        let c = reconcile_port_set(
            svc,
            &slices,
            std::mem::take(eps),
            ports,
            address_type,
            MAX_ENDPOINTS_PER_SLICE,
        );
        changes.create.extend(c.create);
        changes.update.extend(c.update);
        changes.delete.extend(c.delete);
    }
    for (key, slices) in &existing_by_ports {
        if !desired.contains_key(key) {
            changes.delete.extend(slices.iter().map(|s| (*s).clone()));
        }
    }

    // No endpoints at all: keep (or create) one empty placeholder.
    if existing.len() == changes.delete.len() && changes.create.is_empty() {
        let placeholder = new_slice(svc, &[], address_type);
        if changes.delete.len() == 1 && is_same_placeholder(&changes.delete[0], &placeholder) {
            changes.delete.clear();
        } else {
            changes.create.push(placeholder);
        }
    }

    // Rather than delete one slice and create another, update the one being deleted.
    let mut i = 0;
    while i < changes.delete.len() && !changes.create.is_empty() {
        let del = &changes.delete[i];
        if del.address_type == address_type && owned_by(del, svc) {
            let del = changes.delete.remove(i);
            if let Some(mut slice) = changes.create.pop() {
                let labels = slice.metadata.labels.take();
                slice.metadata = ObjectMeta {
                    labels,
                    ..del.metadata
                };
                changes.update.push(slice);
            }
        } else {
            i += 1;
        }
    }
    changes
}

fn set_trigger_time(slice: &mut EndpointSlice, trigger: Option<Timestamp>) {
    let mut a = slice.metadata.annotations.take().unwrap_or_default();
    match trigger {
        Some(t) => {
            a.insert(LAST_CHANGE_TRIGGER_TIME.into(), format_rfc3339_nano(t));
        }
        None => {
            a.remove(LAST_CHANGE_TRIGGER_TIME);
        }
    }
    slice.metadata.annotations = Some(a).filter(|a| !a.is_empty());
}

/// Plans the EndpointSlices of `svc` against the pods of its namespace (others are
/// ignored), the cached nodes and `current_slices` (the slices labelled
/// `kubernetes.io/service-name=<svc>` and managed by [`CONTROLLER_NAME`]; ones being
/// deleted are ignored). See the module documentation for the rules.
pub fn plan_endpointslices(
    svc: &Service,
    pods_in_ns: &[Pod],
    nodes: &[Node],
    current_slices: &[EndpointSlice],
    now: Timestamp,
) -> SlicePlan {
    let Some(selector) = endpoints_selector(svc) else {
        return SlicePlan::default();
    };
    let pods = selected_pods(svc, &selector, pods_in_ns);
    let mut existing: Vec<&EndpointSlice> = current_slices
        .iter()
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .filter(|s| s.metadata.namespace == svc.metadata.namespace)
        .collect();
    existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let nodes: BTreeMap<&str, &Node> = nodes
        .iter()
        .map(|n| (n.metadata.name.as_deref().unwrap_or_default(), n))
        .collect();

    let types = address_types(svc, &pods);
    let mut plan = SlicePlan::default();
    let mut delete: Vec<EndpointSlice> = Vec::new();
    let mut by_type: BTreeMap<&str, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in &existing {
        if types.contains(s.address_type.as_str()) {
            by_type.entry(s.address_type.as_str()).or_default().push(s);
        } else {
            delete.push((*s).clone());
        }
    }
    for t in &types {
        let slices = by_type.get(t).cloned().unwrap_or_default();
        let c = reconcile_address_type(svc, &pods, &nodes, &slices, t, &mut plan.retry);
        plan.create.extend(c.create);
        plan.update.extend(c.update);
        delete.extend(c.delete);
    }

    if svc.metadata.deletion_timestamp.is_some() {
        plan.create.clear();
    }
    if !plan.create.is_empty() || !plan.update.is_empty() {
        let recorded = existing
            .iter()
            .filter_map(|s| recorded_trigger_time(s.metadata.annotations.as_ref()))
            .max();
        let trigger = trigger_time(svc, &pods, recorded).map(|t| t.min(now));
        for s in plan.create.iter_mut().chain(plan.update.iter_mut()) {
            set_trigger_time(s, trigger);
        }
    }
    plan.delete = delete.into_iter().filter_map(|s| s.metadata.name).collect();
    if !plan.create.is_empty() || !plan.update.is_empty() || !plan.delete.is_empty() {
        tracing::debug!(
            service = svc.metadata.name.as_deref().unwrap_or_default(),
            create = plan.create.len(),
            update = plan.update.len(),
            delete = plan.delete.len(),
            "endpointslice plan"
        );
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::endpoints::testutil::{service, web_pod, with_ports};
    use super::*;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use podutil::testutil::{at, deleting};

    fn node(name: &str, zone: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: zone.map(|z| [(ZONE_LABEL.to_string(), z.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Node::default()
        }
    }

    fn nodes() -> Vec<Node> {
        vec![
            node("n1", Some("zone-a")),
            node("n2", Some("zone-b")),
            node("n3", None),
        ]
    }

    fn pods(n: usize) -> Vec<Pod> {
        (0..n)
            .map(|i| {
                web_pod(
                    &format!("p{i:03}"),
                    &format!("10.0.{}.{}", i / 200, i % 200 + 1),
                    ["n1", "n2", "n3"][i % 3],
                    true,
                )
            })
            .collect()
    }

    /// What the API server would store: names given, a resourceVersion.
    fn stored(plan: &SlicePlan, existing: &[EndpointSlice]) -> Vec<EndpointSlice> {
        let mut out: Vec<EndpointSlice> = existing
            .iter()
            .filter(|s| !plan.delete.contains(s.metadata.name.as_ref().unwrap()))
            .filter(|s| {
                !plan
                    .update
                    .iter()
                    .any(|u| u.metadata.name == s.metadata.name)
            })
            .cloned()
            .collect();
        out.extend(plan.update.iter().cloned());
        for (i, s) in plan.create.iter().enumerate() {
            let mut s = s.clone();
            s.metadata.name = Some(format!("web-gen{i}-{}", out.len()));
            s.metadata.resource_version = Some("1".into());
            out.push(s);
        }
        out
    }

    fn total(slices: &[EndpointSlice]) -> usize {
        slices.iter().map(|s| s.endpoints.len()).sum()
    }

    #[test]
    fn many_pods_fill_slices_of_100() {
        let svc = service("web", IntOrString::Int(8080));
        let plan = plan_endpointslices(&svc, &pods(250), &nodes(), &[], at(100));
        assert_eq!(plan.create.len(), 3);
        assert!(plan.update.is_empty() && plan.delete.is_empty() && !plan.retry);
        let mut sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [50, 100, 100]);
        let s = &plan.create[0];
        assert_eq!(s.address_type, "IPv4");
        assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
        let labels = s.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_SERVICE_NAME], "web");
        assert_eq!(labels[LABEL_MANAGED_BY], CONTROLLER_NAME);
        assert_eq!(labels["team"], "a");
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Service", "svc-uid-web", Some(true))
        );
        let ports = s.ports.as_ref().unwrap();
        assert_eq!(ports[0].port, Some(8080));
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        assert!(
            s.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(LAST_CHANGE_TRIGGER_TIME)
        );
    }

    #[test]
    fn endpoint_attributes_and_zones() {
        let svc = service("web", IntOrString::Int(8080));
        let ps = vec![
            web_pod("a", "10.0.0.1", "n1", true),
            web_pod("b", "10.0.0.2", "n2", false),
            deleting(web_pod("c", "10.0.0.3", "n3", true), 50),
        ];
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &[], at(100));
        let eps = &plan.create[0].endpoints;
        let by_name = |n: &str| {
            eps.iter()
                .find(|e| e.target_ref.as_ref().unwrap().name.as_deref() == Some(n))
                .unwrap()
        };
        let a = by_name("a");
        assert_eq!(a.addresses, ["10.0.0.1"]);
        assert_eq!(a.zone.as_deref(), Some("zone-a"));
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        let c = |e: &Endpoint| {
            let c = e.conditions.clone().unwrap();
            (c.ready, c.serving, c.terminating)
        };
        assert_eq!(c(a), (Some(true), Some(true), Some(false)));
        assert_eq!(by_name("b").zone.as_deref(), Some("zone-b"));
        assert_eq!(c(by_name("b")), (Some(false), Some(false), Some(false)));
        let cc = by_name("c");
        assert_eq!(cc.zone, None);
        assert_eq!(c(cc), (Some(false), Some(true), Some(true)));

        // A pod on an unknown node is left out and the plan asks for a retry.
        let lost = web_pod("d", "10.0.0.4", "gone", true);
        let plan = plan_endpointslices(&svc, &[lost], &nodes(), &[], at(100));
        assert!(plan.retry);
        assert!(plan.create[0].endpoints.is_empty());
    }

    #[test]
    fn stable_when_nothing_changed_and_updates_in_place() {
        let svc = service("web", IntOrString::Int(8080));
        let mut ps = pods(250);
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &[], at(100));
        let current = stored(&plan, &[]);
        assert_eq!(current.len(), 3);
        // Nothing changed: nothing to do.
        assert_eq!(
            plan_endpointslices(&svc, &ps, &nodes(), &current, at(200)),
            SlicePlan::default()
        );

        // One pod turns unready: the one slice holding it is updated in place.
        ps[7] = web_pod("p007", "10.0.0.8", "n2", false);
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &current, at(300));
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        let holder = current
            .iter()
            .find(|s| {
                s.endpoints
                    .iter()
                    .any(|e| e.target_ref.as_ref().unwrap().name.as_deref() == Some("p007"))
            })
            .unwrap();
        assert_eq!(plan.update[0].metadata.name, holder.metadata.name);
        assert_eq!(
            plan.update[0].metadata.resource_version.as_deref(),
            Some("1")
        );
        assert_eq!(plan.update[0].endpoints.len(), holder.endpoints.len());
        let current = stored(&plan, &current);

        // Ten pods go and five come: the new ones fill the slice that lost endpoints.
        let mut fewer: Vec<Pod> = ps
            .iter()
            .filter(|p| {
                let n: usize = p.metadata.name.as_ref().unwrap()[1..].parse().unwrap();
                !(100..110).contains(&n)
            })
            .cloned()
            .collect();
        for i in 0..5 {
            fewer.push(web_pod(
                &format!("q{i}"),
                &format!("10.9.0.{}", i + 1),
                "n1",
                true,
            ));
        }
        let plan = plan_endpointslices(&svc, &fewer, &nodes(), &current, at(400));
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        let after = stored(&plan, &current);
        assert_eq!(after.len(), 3);
        assert_eq!(total(&after), 245);
        assert!(
            after
                .iter()
                .all(|s| s.endpoints.len() <= MAX_ENDPOINTS_PER_SLICE)
        );
        assert_eq!(
            plan_endpointslices(&svc, &fewer, &nodes(), &after, at(500)),
            SlicePlan::default()
        );

        // Everything goes: the last slice becomes the empty placeholder, the others go.
        let plan = plan_endpointslices(&svc, &[], &nodes(), &after, at(600));
        assert!(plan.create.is_empty());
        assert_eq!(plan.delete.len(), 2);
        assert_eq!(plan.update.len(), 1);
        assert!(plan.update[0].endpoints.is_empty());
        assert_eq!(plan.update[0].ports, Some(vec![]));
        let empty = stored(&plan, &after);
        assert_eq!(
            plan_endpointslices(&svc, &[], &nodes(), &empty, at(700)),
            SlicePlan::default()
        );
    }

    #[test]
    fn placeholder_and_port_changes() {
        let svc = service("web", IntOrString::String("http".into()));
        // No pods: one placeholder, created once.
        let plan = plan_endpointslices(&svc, &[], &nodes(), &[], at(1));
        assert_eq!(plan.create.len(), 1);
        assert!(plan.create[0].endpoints.is_empty());
        let current = stored(&plan, &[]);
        assert_eq!(
            plan_endpointslices(&svc, &[], &nodes(), &current, at(2)),
            SlicePlan::default()
        );
        // Pods appear: the placeholder is reused rather than deleted and recreated.
        let ps = vec![with_ports(
            web_pod("a", "10.0.0.1", "n1", true),
            &[("http", 8080)],
        )];
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &current, at(3));
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].metadata.name, current[0].metadata.name);
        assert_eq!(plan.update[0].ports.as_ref().unwrap()[0].port, Some(8080));
        let current = stored(&plan, &current);
        // The named port moves: the slice is rewritten (same name), not duplicated.
        let ps = vec![with_ports(
            web_pod("a", "10.0.0.1", "n1", true),
            &[("http", 9090)],
        )];
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &current, at(4));
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update[0].ports.as_ref().unwrap()[0].port, Some(9090));
    }

    #[test]
    fn foreign_and_wrong_family_slices_are_deleted() {
        let svc = service("web", IntOrString::Int(8080));
        let ps = pods(3);
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &[], at(1));
        let mut current = stored(&plan, &[]);
        let mut foreign = current[0].clone();
        foreign.metadata.name = Some("web-old".into());
        foreign.metadata.owner_references.as_mut().unwrap()[0].uid = "other".into();
        let mut v6 = current[0].clone();
        v6.metadata.name = Some("web-v6".into());
        v6.address_type = "IPv6".into();
        current.push(foreign);
        current.push(v6);
        let plan = plan_endpointslices(&svc, &ps, &nodes(), &current, at(2));
        let mut del = plan.delete.clone();
        del.sort();
        assert_eq!(del, ["web-old", "web-v6"]);
        assert!(plan.create.is_empty() && plan.update.is_empty());
        // A Service being deleted gets no new slices.
        let mut gone = svc.clone();
        gone.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(5)));
        assert!(
            plan_endpointslices(&gone, &ps, &nodes(), &[], at(6))
                .create
                .is_empty()
        );
    }
}
