//! NodePorts: the host ports a pod asks for, the set of host ports in use on a node, and the
//! conflict rule (`0.0.0.0` conflicts with every address on the same protocol and port).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;

use crate::resources::is_restartable_init_container;

/// Filter reason when a requested host port is taken.
pub const REASON_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";

/// The address that binds every address.
pub const BIND_ALL: &str = "0.0.0.0";

/// A host port: address (empty → `0.0.0.0`), protocol (empty → `TCP`) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host address.
    pub ip: String,
    /// Protocol (`TCP`, `UDP`, `SCTP`).
    pub protocol: String,
    /// Port number (always > 0).
    pub port: i32,
}

impl HostPort {
    /// A host port with upstream's defaults filled in.
    pub fn new(ip: Option<&str>, protocol: Option<&str>, port: i32) -> HostPort {
        let ip = ip.filter(|s| !s.is_empty()).unwrap_or(BIND_ALL).to_string();
        let protocol = protocol
            .filter(|s| !s.is_empty())
            .unwrap_or("TCP")
            .to_string();
        HostPort { ip, protocol, port }
    }
}

/// The host ports of a pod: those of its containers and sidecar init containers with
/// `hostPort > 0`.
pub fn pod_host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_restartable_init_container(c));
    sidecars
        .chain(spec.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.unwrap_or(0);
            (port > 0).then(|| HostPort::new(p.host_ip.as_deref(), p.protocol.as_deref(), port))
        })
        .collect()
}

/// Host ports in use on a node, counted so that removing a pod undoes exactly what adding
/// it did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPortSet {
    /// (protocol, port) → address → how many pods use it.
    by_port: HashMap<(String, i32), HashMap<String, u32>>,
}

impl HostPortSet {
    /// Records a use of the port.
    pub fn add(&mut self, hp: &HostPort) {
        let ips = self
            .by_port
            .entry((hp.protocol.clone(), hp.port))
            .or_default();
        *ips.entry(hp.ip.clone()).or_insert(0) += 1;
    }

    /// Forgets one use of the port.
    pub fn remove(&mut self, hp: &HostPort) {
        let key = (hp.protocol.clone(), hp.port);
        if let Some(ips) = self.by_port.get_mut(&key) {
            if let Some(n) = ips.get_mut(&hp.ip) {
                *n -= 1;
                if *n == 0 {
                    ips.remove(&hp.ip);
                }
            }
            if ips.is_empty() {
                self.by_port.remove(&key);
            }
        }
    }

    /// Whether using the port would conflict: `0.0.0.0` conflicts with any address on the
    /// same protocol and port, any other address with itself and `0.0.0.0`.
    pub fn conflicts(&self, hp: &HostPort) -> bool {
        let Some(ips) = self.by_port.get(&(hp.protocol.clone(), hp.port)) else {
            return false;
        };
        if hp.ip == BIND_ALL {
            !ips.is_empty()
        } else {
            ips.contains_key(BIND_ALL) || ips.contains_key(&hp.ip)
        }
    }

    /// Whether no port is in use.
    pub fn is_empty(&self) -> bool {
        self.by_port.is_empty()
    }
}

/// NodePorts filter.
pub fn filter_ports(wanted: &[HostPort], used: &HostPortSet) -> Result<(), &'static str> {
    if wanted.iter().any(|hp| used.conflicts(hp)) {
        Err(REASON_PORTS)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(ip: &str, proto: &str, port: i32) -> HostPort {
        HostPort::new(Some(ip), Some(proto), port)
    }

    #[test]
    fn conflict_rules() {
        let mut used = HostPortSet::default();
        used.add(&hp("127.0.0.1", "TCP", 8080));
        assert!(used.conflicts(&hp("127.0.0.1", "", 8080)));
        assert!(
            used.conflicts(&hp("", "TCP", 8080)),
            "0.0.0.0 conflicts with every address"
        );
        assert!(!used.conflicts(&hp("10.0.0.1", "TCP", 8080)));
        assert!(!used.conflicts(&hp("127.0.0.1", "UDP", 8080)));
        assert!(!used.conflicts(&hp("127.0.0.1", "TCP", 8081)));
        used.add(&hp("", "", 53));
        assert!(
            used.conflicts(&hp("10.0.0.1", "TCP", 53)),
            "every address conflicts with 0.0.0.0"
        );
        assert!(!used.conflicts(&hp("10.0.0.1", "UDP", 53)));
        assert_eq!(
            filter_ports(&[hp("1.2.3.4", "TCP", 53)], &used),
            Err(REASON_PORTS)
        );
        assert_eq!(filter_ports(&[hp("1.2.3.4", "TCP", 54)], &used), Ok(()));
    }

    #[test]
    fn remove_is_counted() {
        let mut used = HostPortSet::default();
        used.add(&hp("", "", 80));
        used.add(&hp("", "", 80));
        used.remove(&hp("", "", 80));
        assert!(used.conflicts(&hp("", "", 80)));
        used.remove(&hp("", "", 80));
        assert!(used.is_empty());
        used.remove(&hp("", "", 80));
        assert!(used.is_empty());
    }
}
