//! VolumeBinding, the part that needs no binder: the pod's PersistentVolumeClaims must exist
//! and be bound, and a bound PersistentVolume's `nodeAffinity.required` must match the node
//! (local volumes).
//!
//! Claims are reached through the [`Volumes`] trait so the scheduler's informer caches (or a
//! test fixture) can serve them.

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};

use super::node_affinity::ParsedNodeSelector;

/// PreFilter message when a claim is not bound (delayed binding is not supported, so every
/// unbound claim is treated as an immediate one).
pub const REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// Filter reason when a bound volume's node affinity excludes the node (kube-scheduler
/// 1.32's wording, the version keelson's API server reports by default; 1.33 says "node(s)
/// didn't match PersistentVolume's node affinity").
pub const REASON_VOLUME_NODE_AFFINITY: &str = "node(s) had volume node affinity conflict";
/// Filter reason when a claim is bound to a volume that does not exist.
pub const REASON_PV_NOT_FOUND: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/// Read access to claims and volumes.
pub trait Volumes {
    /// A PersistentVolumeClaim by namespace and name.
    fn pvc(&self, ns: &str, name: &str) -> Option<&PersistentVolumeClaim>;
    /// A PersistentVolume by name.
    fn pv(&self, name: &str) -> Option<&PersistentVolume>;
}

/// A [`Volumes`] with nothing in it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoVolumes;

impl Volumes for NoVolumes {
    fn pvc(&self, _ns: &str, _name: &str) -> Option<&PersistentVolumeClaim> {
        None
    }
    fn pv(&self, _name: &str) -> Option<&PersistentVolume> {
        None
    }
}

/// What a bound claim requires of the node.
#[derive(Debug)]
enum Bound {
    /// The volume does not exist.
    Missing,
    /// The volume's required node affinity.
    Affinity(ParsedNodeSelector),
}

/// VolumeBinding PreFilter state: the constraints of the pod's bound volumes.
#[derive(Debug)]
pub struct VolumeFilter {
    bound: Vec<Bound>,
}

impl VolumeFilter {
    /// Checks the pod's claims. `Ok(None)` when the pod uses no claim or its volumes
    /// constrain no node; `Err` carries the PreFilter failure message.
    pub fn new(pod: &Pod, volumes: &dyn Volumes) -> Result<Option<VolumeFilter>, String> {
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(None);
        };
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let pod_name = pod.metadata.name.as_deref().unwrap_or("");
        let mut claims = Vec::new();
        for vol in spec.volumes.iter().flatten() {
            let (name, ephemeral) = if let Some(src) = &vol.persistent_volume_claim {
                (src.claim_name.clone(), false)
            } else if vol.ephemeral.is_some() {
                (format!("{pod_name}-{}", vol.name), true)
            } else {
                continue;
            };
            let Some(pvc) = volumes.pvc(ns, &name) else {
                return Err(if ephemeral {
                    format!(
                        "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\""
                    )
                } else {
                    format!("persistentvolumeclaim \"{name}\" not found")
                });
            };
            let volume_name = pvc
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .unwrap_or("");
            if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
                return Err(format!(
                    "persistentvolumeclaim \"{name}\" bound to non-existent persistentvolume \"{volume_name}\""
                ));
            }
            if pvc.metadata.deletion_timestamp.is_some() {
                return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            if ephemeral && !controlled_by(pvc, pod) {
                return Err(format!(
                    "PVC {ns}/{name} was not created for pod {ns}/{pod_name} (pod is not owner)"
                ));
            }
            claims.push(volume_name.to_string());
        }
        if claims.is_empty() {
            return Ok(None);
        }
        if claims.iter().any(String::is_empty) {
            return Err(REASON_UNBOUND_IMMEDIATE.to_string());
        }
        let mut bound = Vec::new();
        for pv_name in &claims {
            match volumes.pv(pv_name) {
                None => bound.push(Bound::Missing),
                Some(pv) => {
                    if let Some(req) = pv
                        .spec
                        .as_ref()
                        .and_then(|s| s.node_affinity.as_ref())
                        .and_then(|a| a.required.as_ref())
                    {
                        bound.push(Bound::Affinity(ParsedNodeSelector::new(req)));
                    }
                }
            }
        }
        Ok((!bound.is_empty()).then_some(VolumeFilter { bound }))
    }

    /// The VolumeBinding filter for bound claims. The node is matched by labels only, as
    /// upstream's `CheckNodeAffinity` does (`matchFields` are ignored).
    pub fn filter(&self, node: &Node) -> Result<(), &'static str> {
        let labels = node.metadata.labels.as_ref();
        for b in &self.bound {
            match b {
                Bound::Missing => return Err(REASON_PV_NOT_FOUND),
                Bound::Affinity(sel) if !sel.matches(labels, "") => {
                    return Err(REASON_VOLUME_NODE_AFFINITY);
                }
                Bound::Affinity(_) => {}
            }
        }
        Ok(())
    }
}

fn controlled_by(pvc: &PersistentVolumeClaim, pod: &Pod) -> bool {
    let Some(uid) = pod.metadata.uid.as_deref() else {
        return false;
    };
    pvc.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}
