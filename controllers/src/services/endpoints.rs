//! The Endpoints controller's sync (`pkg/controller/endpoint/endpoints_controller.go`
//! `syncService`, `pkg/api/v1/endpoints.RepackSubsets`) as a pure plan over a Service, the
//! pods of its namespace and its current Endpoints; plus the helpers it shares with the
//! EndpointSlice controller (`k8s.io/endpointslice/util`: which pods are endpoints, named
//! target ports, hostnames, the last-change trigger time).
//!
//! What the plan does, as upstream:
//! - Only Services with a selector get Endpoints (a selector-less Service's Endpoints are
//!   written by users); `type: ExternalName` gets none; the `kubernetes` Service of
//!   `default` is maintained by the API server and skipped.
//! - One address per selected pod that has an IP of the Service's family (`spec.ipFamilies[0]`,
//!   else the family of the cluster IP, else of the pod's IP), is not terminal and — unless
//!   `publishNotReadyAddresses` — not terminating. It is ready if the pod's `Ready` condition
//!   is true (or `publishNotReadyAddresses`), else listed in `notReadyAddresses`.
//! - Ports: each Service port whose target port resolves on the pod (a number, or a named
//!   container port of the same protocol, sidecars included); a headless Service without
//!   ports gets port-less addresses. Addresses are then grouped into subsets by the exact
//!   set of ports they serve, addresses sorted by IP and pod uid.
//! - At most 1000 addresses: beyond that the subsets are truncated proportionally (ready
//!   addresses first) and `endpoints.kubernetes.io/over-capacity: truncated` is set.
//! - Labels are the Service's plus `service.kubernetes.io/headless` for a headless Service;
//!   annotations of the current object are kept, with the last-change trigger time.
//! - Nothing is written when the subsets (compared as sets, ignoring the pods'
//!   `resourceVersion`), the labels and the over-capacity marker are unchanged.
//!
//! Differences from upstream:
//! - The `endpoints.kubernetes.io/last-change-trigger-time` tracker is stateful upstream
//!   (the pod and Service trigger times seen at the previous sync of this process). Here the
//!   "previous sync" is the trigger time recorded on the current object: the annotation is
//!   the earliest pod `Ready` transition (or Service creation) after it, and the Service's
//!   creation time when nothing is recorded.
//! - The unchanged check compares the truncated result with the stored one (upstream
//!   compares the untruncated subsets and so rewrites an over-capacity object every sync).
//! - A pod whose `status.podIPs` is empty but whose `status.podIP` is set uses the latter.
//!
//! What the plan assumes of the runtime: informers for Services, pods and Endpoints; a
//! Service is planned again when it changes, when a pod it selects (before or after the
//! change) changes readiness, IPs, labels, hostname/subdomain or deletion, and when its
//! Endpoints are deleted. `write` is a create when there is no current object, else an
//! update carrying the current `resourceVersion` (a conflict means: plan again). When the
//! Service is gone, use [`plan_endpoints_without_service`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::podutil::{self, Selector};

/// Annotation with the time of the earliest change that this write reflects.
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Annotation set (to [`TRUNCATED`]) when addresses were left out beyond [`MAX_CAPACITY`].
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Value of [`OVER_CAPACITY`].
pub const TRUNCATED: &str = "truncated";
/// Most addresses (ready and not ready) an Endpoints object holds.
pub const MAX_CAPACITY: usize = 1000;
/// Label on the Endpoints / EndpointSlices of a Service without a cluster IP.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Annotation of the Endpoints objects that old leader elections used; never deleted.
pub const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// What to do with a Service's Endpoints object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointsPlan {
    /// The object to create (when there was none) or to replace the current one with.
    pub write: Option<Endpoints>,
    /// Delete the Endpoints object (its Service is gone).
    pub delete: bool,
}

// ---------------------------------------------------------------------------------------
// Helpers shared with the EndpointSlice controller.

/// The Service has a cluster IP (`helper.IsServiceIPSet`): not headless.
pub fn is_service_ip_set(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// The selector whose pods get endpoints, or None when the controllers leave the Service
/// alone: no (or an empty) selector (endpoints written by users), `type: ExternalName`, or
/// the API server's own `default/kubernetes`.
pub fn endpoints_selector(svc: &Service) -> Option<Selector> {
    if svc.metadata.name.as_deref() == Some("kubernetes")
        && svc.metadata.namespace.as_deref() == Some("default")
    {
        return None;
    }
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    // An empty selector is dropped by the API server's serialization (`omitempty`):
    // upstream never sees one, so it means "no selector" here too.
    spec.selector
        .as_ref()
        .filter(|s| !s.is_empty())
        .map(Selector::from_set)
}

/// The pods of `pods` in the Service's namespace that `selector` selects.
pub fn selected_pods<'a>(svc: &Service, selector: &Selector, pods: &'a [Pod]) -> Vec<&'a Pod> {
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    pods.iter()
        .filter(|p| p.metadata.namespace.as_deref().unwrap_or_default() == ns)
        .filter(|p| selector.matches(p.metadata.labels.as_ref()))
        .collect()
}

fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(st) = pod.status.as_ref() else {
        return Vec::new();
    };
    let ips: Vec<&str> = st
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !ips.is_empty() {
        return ips;
    }
    st.pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .into_iter()
        .collect()
}

/// Whether a pod gets an endpoint (`ShouldPodBeInEndpoints`): not terminal, has an IP, and
/// unless `include_terminating` is not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if podutil::is_pod_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// Whether the endpoint carries the pod's hostname (`ShouldSetHostname`): the pod has a
/// hostname and its subdomain is this Service, in the same namespace.
pub fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.hostname.as_deref().is_some_and(|h| !h.is_empty())
        && spec.subdomain.as_deref().unwrap_or_default()
            == svc.metadata.name.as_deref().unwrap_or_default()
        && svc.metadata.namespace == pod.metadata.namespace
}

fn protocol_or_tcp(p: Option<&str>) -> &str {
    p.filter(|p| !p.is_empty()).unwrap_or("TCP")
}

/// The pod's port for a Service port (`FindPort`): a numeric target port as is (the
/// Service port when unset, as the API server defaults it); a named one is looked up in the
/// containers' ports, then in the sidecars' (init containers with `restartPolicy: Always`),
/// matching name and protocol. None when it does not resolve.
pub fn find_port(pod: &Pod, svc_port: &ServicePort) -> Option<i32> {
    match svc_port.target_port.as_ref() {
        None => Some(svc_port.port),
        Some(IntOrString::Int(0)) => Some(svc_port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let proto = protocol_or_tcp(svc_port.protocol.as_deref());
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && protocol_or_tcp(p.protocol.as_deref()) == proto
                })
                .map(|p| p.container_port)
        }
    }
}

/// `ip` in canonical text form and whether it is IPv6; an unparsable address is kept as is
/// (IPv6 if it has a colon).
pub fn normalize_ip(ip: &str) -> (String, bool) {
    match ip.parse::<IpAddr>() {
        Ok(a) => (a.to_string(), a.is_ipv6()),
        Err(_) => (ip.to_string(), ip.contains(':')),
    }
}

/// The IP families (`"IPv4"`, `"IPv6"`) the Service's endpoints are of: `spec.ipFamilies`,
/// else the family of the cluster IP; None for a headless Service without families.
pub fn service_ip_families(svc: &Service) -> Option<Vec<&'static str>> {
    let spec = svc.spec.as_ref()?;
    let mut out = Vec::new();
    for f in spec.ip_families.iter().flatten() {
        let f = match f.as_str() {
            "IPv4" => "IPv4",
            "IPv6" => "IPv6",
            _ => continue,
        };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    if !out.is_empty() {
        return Some(out);
    }
    if is_service_ip_set(svc) {
        let ip = spec.cluster_ip.as_deref().unwrap_or_default();
        return Some(vec![if normalize_ip(ip).1 { "IPv6" } else { "IPv4" }]);
    }
    None
}

/// Go's `time.RFC3339Nano` in UTC, as upstream writes the trigger-time annotation.
pub fn format_rfc3339_nano(t: Timestamp) -> String {
    let secs = t.as_second();
    let nanos = t.subsec_nanosecond();
    let whole = Timestamp::from_second(secs).unwrap_or(t);
    let base = whole.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// The time to record as [`LAST_CHANGE_TRIGGER_TIME`] (`TriggerTimeTracker`), given the one
/// recorded on the current object(s): the earliest `Ready` transition of a selected pod, or
/// the Service's creation, that is after `recorded`; the Service's creation time when
/// nothing is recorded. None when no trigger is newer (the annotation is then removed).
pub fn trigger_time(
    svc: &Service,
    pods: &[&Pod],
    recorded: Option<Timestamp>,
) -> Option<Timestamp> {
    let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let Some(recorded) = recorded else {
        return created;
    };
    pods.iter()
        .filter_map(|p| podutil::pod_ready_condition(p))
        .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .chain(created)
        .filter(|t| *t > recorded)
        .min()
}

/// The trigger time recorded in `annotations`, if any and well-formed.
pub fn recorded_trigger_time(annotations: Option<&BTreeMap<String, String>>) -> Option<Timestamp> {
    annotations?.get(LAST_CHANGE_TRIGGER_TIME)?.parse().ok()
}

/// A pod reference as endpoints carry it (kind, namespace, name, uid; no resourceVersion).
pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

fn node_name(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

// ---------------------------------------------------------------------------------------
// Subsets.

/// An address's identity when repacking: IP and pod uid.
type AddrKey = (String, String);
/// A port's identity; None is the "no ports" sentinel of a headless Service.
type PortKey = Option<(String, i32, String, Option<String>)>;

fn port_key(p: &EndpointPort) -> PortKey {
    Some((
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone(),
    ))
}

fn port_from_key(k: &(String, i32, String, Option<String>)) -> EndpointPort {
    EndpointPort {
        name: Some(k.0.clone()).filter(|n| !n.is_empty()),
        port: k.1,
        protocol: Some(k.2.clone()).filter(|p| !p.is_empty()),
        app_protocol: k.3.clone(),
    }
}

fn addr_key(a: &EndpointAddress) -> AddrKey {
    (
        a.ip.clone(),
        a.target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

/// Accumulates (address, port, ready) triples and packs them into subsets.
#[derive(Default)]
struct Packer {
    addrs: BTreeMap<AddrKey, EndpointAddress>,
    by_port: BTreeMap<PortKey, BTreeMap<AddrKey, bool>>,
}

impl Packer {
    fn add(&mut self, addr: &EndpointAddress, port: PortKey, ready: bool) {
        let key = addr_key(addr);
        self.addrs.entry(key.clone()).or_insert_with(|| {
            let mut a = addr.clone();
            // Compared without the pod's resourceVersion (`semanticIgnoreResourceVersion`).
            if let Some(r) = a.target_ref.as_mut() {
                r.resource_version = None;
            }
            a
        });
        let set = self.by_port.entry(port).or_default();
        // Not ready wins over ready.
        let e = set.entry(key).or_insert(ready);
        *e = *e && ready;
    }

    fn add_subset(&mut self, s: &EndpointSubset) {
        let ports: Vec<PortKey> = match s.ports.as_deref() {
            Some(p) if !p.is_empty() => p.iter().map(port_key).collect(),
            _ => vec![None],
        };
        for p in ports {
            for a in s.addresses.iter().flatten() {
                self.add(a, p.clone(), true);
            }
            for a in s.not_ready_addresses.iter().flatten() {
                self.add(a, p.clone(), false);
            }
        }
    }

    /// `RepackSubsets`: one subset per distinct set of (address, readiness), with every port
    /// that set serves; addresses sorted by IP then uid, ports and subsets in a fixed order.
    fn pack(self) -> Vec<EndpointSubset> {
        let mut groups: BTreeMap<Vec<(AddrKey, bool)>, Vec<PortKey>> = BTreeMap::new();
        for (port, set) in self.by_port {
            if set.is_empty() {
                continue;
            }
            let key: Vec<(AddrKey, bool)> = set.into_iter().collect();
            groups.entry(key).or_default().push(port);
        }
        groups
            .into_iter()
            .map(|(set, ports)| {
                let mut ready = Vec::new();
                let mut not_ready = Vec::new();
                for (k, r) in set {
                    if let Some(a) = self.addrs.get(&k) {
                        if r {
                            ready.push(a.clone());
                        } else {
                            not_ready.push(a.clone());
                        }
                    }
                }
                let ports: Vec<EndpointPort> = ports.iter().flatten().map(port_from_key).collect();
                EndpointSubset {
                    addresses: Some(ready).filter(|v| !v.is_empty()),
                    not_ready_addresses: Some(not_ready).filter(|v| !v.is_empty()),
                    ports: Some(ports).filter(|v| !v.is_empty()),
                }
            })
            .collect()
    }
}

fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut p = Packer::default();
    for s in subsets {
        p.add_subset(s);
    }
    p.pack()
}

fn count_addresses(subsets: &[EndpointSubset]) -> (usize, usize) {
    subsets.iter().fold((0, 0), |(r, n), s| {
        (
            r + s.addresses.as_ref().map_or(0, Vec::len),
            n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
        )
    })
}

/// `truncateEndpoints`: keep at most [`MAX_CAPACITY`] addresses, ready ones first, each
/// subset keeping its proportional share (rounded up, the last ones getting what is left).
/// Returns whether anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let (ready, not_ready) = count_addresses(subsets);
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, ready)
    } else {
        (MAX_CAPACITY - ready, not_ready)
    };
    let mut left = max;
    for s in subsets.iter_mut() {
        let n = if truncate_ready {
            s.addresses.as_ref().map_or(0, Vec::len)
        } else {
            s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        };
        // ceil(n / total * max) in integers.
        let share = (n * max).div_ceil(total.max(1)).min(left);
        if truncate_ready {
            if let Some(a) = s.addresses.as_mut() {
                a.truncate(share);
            }
            s.not_ready_addresses = None;
            left -= s.addresses.as_ref().map_or(0, Vec::len);
        } else {
            if let Some(a) = s.not_ready_addresses.as_mut() {
                a.truncate(share);
            }
            left -= s.not_ready_addresses.as_ref().map_or(0, Vec::len);
        }
    }
    true
}

/// The IP a pod's endpoint uses for a Service (`podToEndpointAddressForService`).
fn endpoint_ip(svc: &Service, pod: &Pod) -> Option<String> {
    let ips = pod_ips(pod);
    let want_v6 = match service_ip_families(svc) {
        Some(f) => f.first() == Some(&"IPv6"),
        None => ips.first().is_some_and(|ip| normalize_ip(ip).1),
    };
    ips.into_iter()
        .map(normalize_ip)
        .find(|(_, v6)| *v6 == want_v6)
        .map(|(ip, _)| ip)
}

/// The labels the Endpoints of `svc` carry: the Service's, plus [`HEADLESS_LABEL`] for a
/// headless Service.
fn desired_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    if is_service_ip_set(svc) {
        labels.remove(HEADLESS_LABEL);
    } else {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

/// The subsets for `svc`, repacked (not truncated).
fn desired_subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let headless = spec.cluster_ip.as_deref() == Some("None");
    let svc_ports = spec.ports.unwrap_or_default();
    let mut packer = Packer::default();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(ip) = endpoint_ip(svc, pod) else {
            tracing::debug!(
                pod = pod.metadata.name.as_deref().unwrap_or_default(),
                "no pod IP of the service's family"
            );
            continue;
        };
        let addr = EndpointAddress {
            ip,
            hostname: should_set_hostname(pod, svc)
                .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
                .flatten(),
            node_name: node_name(pod),
            target_ref: Some(pod_reference(pod)),
        };
        let ready = publish_not_ready || podutil::is_pod_ready(pod);
        if svc_ports.is_empty() {
            if headless {
                packer.add(&addr, None, ready);
            }
            continue;
        }
        for sp in &svc_ports {
            let Some(port) = find_port(pod, sp) else {
                continue;
            };
            let ep = EndpointPort {
                name: sp.name.clone(),
                port,
                protocol: Some(protocol_or_tcp(sp.protocol.as_deref()).to_string()),
                app_protocol: sp.app_protocol.clone(),
            };
            packer.add(&addr, port_key(&ep), ready);
        }
    }
    packer.pack()
}

/// Plans the Endpoints of `svc` against the pods of its namespace (`pods_in_ns` may hold
/// other namespaces' pods; they are ignored) and the current Endpoints object of the same
/// name, if any. See the module documentation for the rules.
pub fn plan_endpoints(
    svc: &Service,
    pods_in_ns: &[Pod],
    current: Option<&Endpoints>,
    now: Timestamp,
) -> EndpointsPlan {
    let Some(selector) = endpoints_selector(svc) else {
        return EndpointsPlan::default();
    };
    let pods = selected_pods(svc, &selector, pods_in_ns);
    let mut subsets = desired_subsets(svc, &pods);
    let truncated = truncate(&mut subsets);
    if truncated {
        // Cutting may make two subsets serve the same addresses: pack again.
        subsets = repack(&subsets);
    }
    let labels = desired_labels(svc);

    if let Some(cur) = current {
        let cur_subsets = repack(cur.subsets.as_deref().unwrap_or_default());
        let cur_labels = cur.metadata.labels.clone().unwrap_or_default();
        let cur_truncated = cur
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(OVER_CAPACITY));
        if cur_subsets == subsets && cur_labels == labels && cur_truncated == truncated {
            return EndpointsPlan::default();
        }
    }

    let recorded = current.and_then(|c| recorded_trigger_time(c.metadata.annotations.as_ref()));
    let trigger = trigger_time(svc, &pods, recorded).map(|t| t.min(now));
    let mut ep = match current {
        Some(c) => c.clone(),
        None => Endpoints {
            metadata: ObjectMeta {
                name: svc.metadata.name.clone(),
                namespace: svc.metadata.namespace.clone(),
                ..ObjectMeta::default()
            },
            subsets: None,
        },
    };
    let mut annotations = ep.metadata.annotations.take().unwrap_or_default();
    match trigger {
        Some(t) => {
            annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), format_rfc3339_nano(t));
        }
        None => {
            annotations.remove(LAST_CHANGE_TRIGGER_TIME);
        }
    }
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), TRUNCATED.into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    ep.metadata.annotations = Some(annotations).filter(|a| !a.is_empty());
    ep.metadata.labels = Some(labels).filter(|l| !l.is_empty());
    ep.subsets = Some(subsets).filter(|s| !s.is_empty());
    tracing::debug!(
        service = svc.metadata.name.as_deref().unwrap_or_default(),
        create = current.is_none(),
        truncated,
        "endpoints plan"
    );
    EndpointsPlan {
        write: Some(ep),
        delete: false,
    }
}

/// The plan for an Endpoints object whose Service no longer exists: delete it, unless it is
/// an old leader-election record ([`LEADER_ANNOTATION`]), as upstream's leftover check.
pub fn plan_endpoints_without_service(current: &Endpoints) -> EndpointsPlan {
    let leader = current
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(LEADER_ANNOTATION));
    EndpointsPlan {
        write: None,
        delete: !leader,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builders for Service tests.
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodIP, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A ClusterIP Service `web` selecting `app=web`, port 80 → `target`.
    pub fn service(name: &str, target: IntOrString) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("svc-uid-{name}")),
                labels: Some([("team".to_string(), "a".to_string())].into()),
                creation_timestamp: Some(Time(podutil::testutil::at(0))),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.96.0.10".into()),
                ip_families: Some(vec!["IPv4".into()]),
                selector: Some([("app".to_string(), "web".to_string())].into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: Some("TCP".into()),
                    target_port: Some(target),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    /// A running pod `app=web` with IP `ip` on `node`, ready since 10 when `ready`.
    pub fn web_pod(name: &str, ip: &str, node: &str, is_ready: bool) -> Pod {
        use podutil::testutil::*;
        let mut p = on_node(pod(name, &[("app", "web")], 0), node);
        p = if is_ready {
            ready(p, 10)
        } else {
            with_phase(p, "Running")
        };
        let st = p.status.get_or_insert_with(Default::default);
        st.pod_ip = Some(ip.into());
        st.pod_ips = Some(vec![PodIP { ip: ip.into() }]);
        p
    }

    /// Gives the pod one container exposing `(name, port)`.
    pub fn with_ports(mut p: Pod, ports: &[(&str, i32)]) -> Pod {
        p.spec.get_or_insert_with(Default::default).containers = vec![Container {
            name: "c".into(),
            ports: Some(
                ports
                    .iter()
                    .map(|(n, port)| ContainerPort {
                        name: Some(n.to_string()),
                        container_port: *port,
                        ..ContainerPort::default()
                    })
                    .collect(),
            ),
            ..Container::default()
        }];
        p
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use podutil::testutil::{at, deleting};

    fn ips(addrs: Option<&Vec<EndpointAddress>>) -> Vec<String> {
        addrs
            .iter()
            .flat_map(|v| v.iter())
            .map(|a| a.ip.clone())
            .collect()
    }

    fn written(plan: &EndpointsPlan) -> &Endpoints {
        plan.write.as_ref().expect("a write")
    }

    #[test]
    fn ready_and_not_ready_addresses() {
        let svc = service("web", IntOrString::Int(8080));
        let pods = vec![
            web_pod("b", "10.0.0.2", "n1", true),
            web_pod("a", "10.0.0.1", "n1", true),
            web_pod("c", "10.0.0.3", "n2", false),
            deleting(web_pod("d", "10.0.0.4", "n2", true), 50),
            // Not selected.
            {
                let mut p = web_pod("x", "10.0.0.9", "n1", true);
                p.metadata.labels = None;
                p
            },
        ];
        let plan = plan_endpoints(&svc, &pods, None, at(100));
        assert!(!plan.delete);
        let ep = written(&plan);
        assert_eq!(ep.metadata.name.as_deref(), Some("web"));
        assert_eq!(ep.metadata.namespace.as_deref(), Some("default"));
        let subsets = ep.subsets.as_ref().unwrap();
        assert_eq!(subsets.len(), 1);
        let s = &subsets[0];
        assert_eq!(ips(s.addresses.as_ref()), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(ips(s.not_ready_addresses.as_ref()), ["10.0.0.3"]);
        let ports = s.ports.as_ref().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(
            (
                ports[0].name.as_deref(),
                ports[0].port,
                ports[0].protocol.as_deref()
            ),
            (Some("http"), 8080, Some("TCP"))
        );
        let a = &s.addresses.as_ref().unwrap()[0];
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        let r = a.target_ref.as_ref().unwrap();
        assert_eq!(
            (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("Pod"), Some("a"), Some("uid-a"))
        );
        assert_eq!(r.resource_version, None);
        assert_eq!(ep.metadata.labels.as_ref().unwrap()["team"], "a");
        assert!(
            !ep.metadata
                .labels
                .as_ref()
                .unwrap()
                .contains_key(HEADLESS_LABEL)
        );
        // New service: the trigger time is its creation.
        assert_eq!(
            ep.metadata.annotations.as_ref().unwrap()[LAST_CHANGE_TRIGGER_TIME],
            "2023-11-14T22:13:20Z"
        );

        // publishNotReadyAddresses: every pod ready, terminating ones included.
        let mut svc2 = svc.clone();
        svc2.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let plan = plan_endpoints(&svc2, &pods, None, at(100));
        let s = &written(&plan).subsets.as_ref().unwrap()[0];
        assert_eq!(
            ips(s.addresses.as_ref()),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        );
        assert!(s.not_ready_addresses.is_none());
    }

    #[test]
    fn subsets_grouped_by_port_set_and_named_ports() {
        let mut svc = service("web", IntOrString::String("http".into()));
        svc.spec
            .as_mut()
            .unwrap()
            .ports
            .as_mut()
            .unwrap()
            .push(ServicePort {
                name: Some("metrics".into()),
                port: 9090,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::String("metrics".into())),
                ..ServicePort::default()
            });
        let pods = vec![
            with_ports(
                web_pod("a", "10.0.0.1", "n1", true),
                &[("http", 8080), ("metrics", 9100)],
            ),
            with_ports(web_pod("b", "10.0.0.2", "n1", true), &[("http", 8081)]),
            // No named port at all: no address.
            web_pod("c", "10.0.0.3", "n1", true),
        ];
        let plan = plan_endpoints(&svc, &pods, None, at(100));
        let subsets = written(&plan).subsets.clone().unwrap();
        type Row = (Vec<String>, Vec<(String, i32)>);
        let mut got: Vec<Row> = subsets
            .iter()
            .map(|s| {
                (
                    ips(s.addresses.as_ref()),
                    s.ports
                        .iter()
                        .flatten()
                        .map(|p| (p.name.clone().unwrap_or_default(), p.port))
                        .collect(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (
                    vec!["10.0.0.1".to_string()],
                    vec![("http".to_string(), 8080), ("metrics".to_string(), 9100)]
                ),
                (
                    vec!["10.0.0.2".to_string()],
                    vec![("http".to_string(), 8081)]
                ),
            ]
        );
        // Same port set on two pods: one subset.
        let pods = vec![
            with_ports(web_pod("a", "10.0.0.1", "n1", true), &[("http", 8080)]),
            with_ports(web_pod("b", "10.0.0.2", "n1", true), &[("http", 8080)]),
        ];
        let plan = plan_endpoints(
            &service("web", IntOrString::String("http".into())),
            &pods,
            None,
            at(1),
        );
        let subsets = written(&plan).subsets.clone().unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn named_ports_of_sidecars_and_protocols() {
        use k8s_openapi::api::core::v1::{Container, ContainerPort};
        let sp = |proto: &str| ServicePort {
            port: 80,
            protocol: Some(proto.into()),
            target_port: Some(IntOrString::String("dns".into())),
            ..ServicePort::default()
        };
        let mut p = web_pod("a", "10.0.0.1", "n1", true);
        let port = |proto: &str, n: i32| ContainerPort {
            name: Some("dns".into()),
            container_port: n,
            protocol: Some(proto.into()),
            ..ContainerPort::default()
        };
        let spec = p.spec.as_mut().unwrap();
        spec.containers = vec![Container {
            name: "main".into(),
            ports: Some(vec![port("UDP", 53)]),
            ..Container::default()
        }];
        spec.init_containers = Some(vec![Container {
            name: "proxy".into(),
            restart_policy: Some("Always".into()),
            ports: Some(vec![port("TCP", 5353)]),
            ..Container::default()
        }]);
        assert_eq!(find_port(&p, &sp("UDP")), Some(53));
        assert_eq!(find_port(&p, &sp("TCP")), Some(5353));
        assert_eq!(find_port(&p, &sp("SCTP")), None);
        p.spec.as_mut().unwrap().init_containers.as_mut().unwrap()[0].restart_policy = None;
        assert_eq!(find_port(&p, &sp("TCP")), None);
    }

    #[test]
    fn headless_hostname_and_label() {
        let mut svc = service("db", IntOrString::Int(5432));
        {
            let spec = svc.spec.as_mut().unwrap();
            spec.cluster_ip = Some("None".into());
            spec.ports = None;
        }
        let mut p = web_pod("db-0", "10.0.0.5", "n1", true);
        {
            let spec = p.spec.as_mut().unwrap();
            spec.hostname = Some("db-0".into());
            spec.subdomain = Some("db".into());
        }
        let mut other = web_pod("db-1", "10.0.0.6", "n1", true);
        other.spec.as_mut().unwrap().hostname = Some("db-1".into());
        other.spec.as_mut().unwrap().subdomain = Some("elsewhere".into());
        let plan = plan_endpoints(&svc, &[p, other], None, at(100));
        let ep = written(&plan);
        assert_eq!(ep.metadata.labels.as_ref().unwrap()[HEADLESS_LABEL], "");
        let s = &ep.subsets.as_ref().unwrap()[0];
        assert!(s.ports.is_none());
        let addrs = s.addresses.as_ref().unwrap();
        assert_eq!(addrs[0].hostname.as_deref(), Some("db-0"));
        assert_eq!(addrs[1].hostname, None);
    }

    #[test]
    fn no_write_when_nothing_changed() {
        let mut svc = service("web", IntOrString::Int(8080));
        // Created after its pods became ready.
        svc.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(50)));
        let pods = vec![
            web_pod("a", "10.0.0.1", "n1", true),
            web_pod("b", "10.0.0.2", "n1", false),
        ];
        let plan = plan_endpoints(&svc, &pods, None, at(100));
        let mut stored = written(&plan).clone();
        stored.metadata.resource_version = Some("7".into());
        // As read back: reversed order, a pod resourceVersion in the reference.
        for s in stored.subsets.as_mut().unwrap() {
            if let Some(a) = s.addresses.as_mut() {
                a.reverse();
                a[0].target_ref.as_mut().unwrap().resource_version = Some("42".into());
            }
        }
        assert_eq!(
            plan_endpoints(&svc, &pods, Some(&stored), at(200)),
            EndpointsPlan::default()
        );

        // A readiness change is written, keeping the metadata of the stored object.
        let pods2 = vec![
            web_pod("a", "10.0.0.1", "n1", true),
            podutil::testutil::ready(web_pod("b", "10.0.0.2", "n1", false), 150),
        ];
        let plan = plan_endpoints(&svc, &pods2, Some(&stored), at(200));
        let ep = written(&plan);
        assert_eq!(ep.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(
            ips(ep.subsets.as_ref().unwrap()[0].addresses.as_ref()),
            ["10.0.0.1", "10.0.0.2"]
        );
        // Trigger time: the readiness change after the recorded one.
        assert_eq!(
            ep.metadata.annotations.as_ref().unwrap()[LAST_CHANGE_TRIGGER_TIME],
            format_rfc3339_nano(at(150))
        );

        // A label change on the Service is written.
        let mut svc2 = svc.clone();
        svc2.metadata.labels = None;
        assert!(
            plan_endpoints(&svc2, &pods, Some(&stored), at(200))
                .write
                .is_some()
        );
    }

    #[test]
    fn skipped_services() {
        let pods = vec![web_pod("a", "10.0.0.1", "n1", true)];
        let mut no_sel = service("web", IntOrString::Int(80));
        no_sel.spec.as_mut().unwrap().selector = None;
        assert_eq!(
            plan_endpoints(&no_sel, &pods, None, at(1)),
            EndpointsPlan::default()
        );
        let mut ext = service("web", IntOrString::Int(80));
        ext.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        assert_eq!(
            plan_endpoints(&ext, &pods, None, at(1)),
            EndpointsPlan::default()
        );
        let mut empty_sel = service("web", IntOrString::Int(80));
        empty_sel.spec.as_mut().unwrap().selector = Some(BTreeMap::new());
        assert_eq!(
            plan_endpoints(&empty_sel, &pods, None, at(1)),
            EndpointsPlan::default()
        );
        let kubernetes = service("kubernetes", IntOrString::Int(6443));
        assert_eq!(
            plan_endpoints(&kubernetes, &pods, None, at(1)),
            EndpointsPlan::default()
        );

        let orphan = Endpoints::default();
        assert!(plan_endpoints_without_service(&orphan).delete);
        let mut leader = Endpoints::default();
        leader.metadata.annotations =
            Some([(LEADER_ANNOTATION.to_string(), "{}".to_string())].into());
        assert!(!plan_endpoints_without_service(&leader).delete);
    }

    #[test]
    fn truncation_at_capacity() {
        let svc = service("web", IntOrString::Int(8080));
        let mut pods = Vec::new();
        for i in 0..1100u32 {
            let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
            pods.push(web_pod(&format!("p{i}"), &ip, "n1", i % 2 == 0));
        }
        let plan = plan_endpoints(&svc, &pods, None, at(100));
        let ep = written(&plan);
        assert_eq!(
            ep.metadata.annotations.as_ref().unwrap()[OVER_CAPACITY],
            TRUNCATED
        );
        let (ready, not_ready) = count_addresses(ep.subsets.as_ref().unwrap());
        assert_eq!((ready, not_ready), (550, 450));
        // Stable: planning again against what was written writes nothing.
        let mut stored = ep.clone();
        stored.metadata.resource_version = Some("1".into());
        assert_eq!(
            plan_endpoints(&svc, &pods, Some(&stored), at(200)),
            EndpointsPlan::default()
        );
        // Back under capacity: the annotation goes.
        let plan = plan_endpoints(&svc, &pods[..10], Some(&stored), at(300));
        assert!(
            !written(&plan)
                .metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(OVER_CAPACITY)
        );
    }

    #[test]
    fn ip_families_and_formatting() {
        let mut svc = service("web", IntOrString::Int(80));
        svc.spec.as_mut().unwrap().ip_families = Some(vec!["IPv6".into()]);
        let mut p = web_pod("a", "10.0.0.1", "n1", true);
        p.status.as_mut().unwrap().pod_ips = Some(vec![
            k8s_openapi::api::core::v1::PodIP {
                ip: "10.0.0.1".into(),
            },
            k8s_openapi::api::core::v1::PodIP {
                ip: "fd00:0:0::1".into(),
            },
        ]);
        let plan = plan_endpoints(&svc, &[p], None, at(1));
        let s = &written(&plan).subsets.as_ref().unwrap()[0];
        assert_eq!(ips(s.addresses.as_ref()), ["fd00::1"]);

        let t = Timestamp::new(1_700_000_000, 120_000_000).unwrap();
        assert_eq!(format_rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(format_rfc3339_nano(t).parse::<Timestamp>().unwrap(), t);
    }
}
