//! The garbage collector's decision, as a pure function: given an object's metadata, the
//! state of each of its owners and its dependents, what to do. No I/O; the unit tests below
//! are the specification.
//!
//! The rules follow kube-controller-manager's garbage collector:
//! - An object being deleted with the `orphan` finalizer: remove the ownerReference to it from
//!   every dependent, then the finalizer.
//! - An object being deleted with the `foregroundDeletion` finalizer: wait while any
//!   dependent that references it with `blockOwnerDeletion: true` exists (those dependents
//!   are deleted by their own decision, below); then remove the finalizer.
//! - Any other object with ownerReferences: if some owner still exists and is not being
//!   deleted in the foreground (a *solid* owner), keep the object, and drop references to
//!   owners that are gone (and stop blocking owners deleted in the foreground). If no owner is
//!   solid and all are known: delete the object, in the foreground when an owner waits for it
//!   and it has dependents of its own (so the chain below it goes first), else with the
//!   policy its own finalizers ask for (Background by default).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// Finalizer of an object deleted with `propagationPolicy: Foreground`.
pub const FOREGROUND: &str = "foregroundDeletion";
/// Finalizer of an object deleted with `propagationPolicy: Orphan`.
pub const ORPHAN: &str = "orphan";

/// The metadata the garbage collector keeps of one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (None for cluster-scoped objects).
    pub namespace: Option<String>,
    /// `metadata.resourceVersion` (the precondition of every patch).
    pub resource_version: String,
    /// `metadata.ownerReferences`.
    pub owners: Vec<OwnerReference>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
}

impl Meta {
    /// From a watched or fetched object's metadata.
    pub fn from_object_meta(m: &kube::api::ObjectMeta) -> Meta {
        Meta {
            uid: m.uid.clone().unwrap_or_default(),
            name: m.name.clone().unwrap_or_default(),
            namespace: m.namespace.clone().filter(|n| !n.is_empty()),
            resource_version: m.resource_version.clone().unwrap_or_default(),
            owners: m.owner_references.clone().unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
            finalizers: m.finalizers.clone().unwrap_or_default(),
        }
    }

    /// Whether the object carries `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Being deleted in the foreground: its blocking dependents go first.
    pub fn waiting_for_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }

    /// Whether this object's reference to `owner_uid` has `blockOwnerDeletion: true`.
    pub fn blocks(&self, owner_uid: &str) -> bool {
        self.owners
            .iter()
            .any(|o| o.uid == owner_uid && o.block_owner_deletion == Some(true))
    }
}

/// What is known of one owner named by an ownerReference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// It exists (same uid) and is not being deleted in the foreground.
    Solid,
    /// It exists and is being deleted in the foreground: it waits for its dependents.
    WaitingForDependents,
    /// No object of that kind, name and uid exists (deleted, or replaced by a namesake).
    Absent,
    /// Not known (kind not served yet, lookup failed): decide later.
    Unknown,
}

/// A deletion's propagation policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Delete at once; the dependents are collected afterwards.
    Background,
    /// Dependents that block first, then the object.
    Foreground,
    /// Keep the dependents, without the reference.
    Orphan,
}

impl Policy {
    /// The `propagationPolicy` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Background => "Background",
            Policy::Foreground => "Foreground",
            Policy::Orphan => "Orphan",
        }
    }
}

/// What the garbage collector does with one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Not decidable yet (an owner's state is unknown): try again later.
    Retry,
    /// Delete the object (precondition: its uid) with this policy.
    Delete(Policy),
    /// Rewrite the object's ownerReferences: drop the ones to `remove` (owner uids, gone)
    /// and set `blockOwnerDeletion: false` on the ones to `unblock`.
    PatchOwners {
        /// Owner uids whose references are dropped.
        remove: Vec<String>,
        /// Owner uids whose references stop blocking.
        unblock: Vec<String>,
    },
    /// The object is deleted with `orphan`: remove the reference to it from these dependents
    /// (uids), then remove the finalizer.
    Orphan {
        /// Dependents to release.
        dependents: Vec<String>,
    },
    /// Remove this finalizer from the object (nothing left to wait for).
    RemoveFinalizer(&'static str),
    /// Deleted in the foreground; these blocking dependents (uids) still exist.
    WaitForDependents(Vec<String>),
}

/// The decision for `item`, given its `dependents` (objects whose ownerReferences name its
/// uid) and the state of each of its owners, in the order of `item.owners`.
pub fn decide(item: &Meta, dependents: &[&Meta], owners: &[OwnerState]) -> Action {
    if let Some(a) = decide_owner(item, dependents) {
        return a;
    }
    decide_dependent(item, owners, !dependents.is_empty())
}

/// The decision for an object being deleted with a garbage-collector finalizer; None for any
/// other object.
pub fn decide_owner(item: &Meta, dependents: &[&Meta]) -> Option<Action> {
    if !item.deleting {
        return None;
    }
    if item.has_finalizer(ORPHAN) {
        let mut uids: Vec<String> = dependents.iter().map(|d| d.uid.clone()).collect();
        uids.sort();
        return Some(Action::Orphan { dependents: uids });
    }
    if item.has_finalizer(FOREGROUND) {
        let mut blocking: Vec<String> = dependents
            .iter()
            .filter(|d| d.blocks(&item.uid))
            .map(|d| d.uid.clone())
            .collect();
        blocking.sort();
        return Some(if blocking.is_empty() {
            Action::RemoveFinalizer(FOREGROUND)
        } else {
            Action::WaitForDependents(blocking)
        });
    }
    None
}

/// The decision for an object with ownerReferences; `owners[i]` is the state of
/// `item.owners[i]`.
pub fn decide_dependent(item: &Meta, owners: &[OwnerState], has_dependents: bool) -> Action {
    if item.owners.is_empty() || item.deleting {
        return Action::None;
    }
    if owners.len() != item.owners.len() || owners.contains(&OwnerState::Unknown) {
        return Action::Retry;
    }
    let refs = || item.owners.iter().zip(owners);
    let solid = owners.contains(&OwnerState::Solid);
    if solid {
        let remove: Vec<String> = refs()
            .filter(|(_, s)| **s == OwnerState::Absent)
            .map(|(r, _)| r.uid.clone())
            .collect();
        let unblock: Vec<String> = refs()
            .filter(|(r, s)| {
                **s == OwnerState::WaitingForDependents && r.block_owner_deletion == Some(true)
            })
            .map(|(r, _)| r.uid.clone())
            .collect();
        return if remove.is_empty() && unblock.is_empty() {
            Action::None
        } else {
            Action::PatchOwners { remove, unblock }
        };
    }
    let waited_for = owners.contains(&OwnerState::WaitingForDependents);
    if waited_for && has_dependents {
        return Action::Delete(Policy::Foreground);
    }
    Action::Delete(if item.has_finalizer(ORPHAN) {
        Policy::Orphan
    } else if item.has_finalizer(FOREGROUND) {
        Policy::Foreground
    } else {
        Policy::Background
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner_ref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: format!("owner-{uid}"),
            uid: uid.into(),
            block_owner_deletion: block.then_some(true),
            controller: None,
        }
    }

    fn obj(uid: &str, owners: &[(&str, bool)]) -> Meta {
        Meta {
            uid: uid.into(),
            name: uid.into(),
            namespace: Some("default".into()),
            resource_version: "1".into(),
            owners: owners.iter().map(|(u, b)| owner_ref(u, *b)).collect(),
            deleting: false,
            finalizers: vec![],
        }
    }

    fn deleting(mut m: Meta, finalizers: &[&str]) -> Meta {
        m.deleting = true;
        m.finalizers = finalizers.iter().map(|f| f.to_string()).collect();
        m
    }

    use OwnerState::*;

    #[test]
    fn object_without_owners_is_left_alone() {
        assert_eq!(decide(&obj("a", &[]), &[], &[]), Action::None);
    }

    #[test]
    fn dependent_of_a_live_owner_stays() {
        assert_eq!(
            decide(&obj("d", &[("o", false)]), &[], &[Solid]),
            Action::None
        );
    }

    #[test]
    fn dependent_of_a_gone_owner_is_deleted_in_the_background() {
        assert_eq!(
            decide(&obj("d", &[("o", true)]), &[], &[Absent]),
            Action::Delete(Policy::Background)
        );
    }

    #[test]
    fn dependent_with_an_unknown_owner_waits() {
        assert_eq!(
            decide(
                &obj("d", &[("o", false), ("p", false)]),
                &[],
                &[Absent, Unknown]
            ),
            Action::Retry
        );
    }

    #[test]
    fn dependent_with_one_owner_left_drops_the_dangling_reference() {
        assert_eq!(
            decide(
                &obj("d", &[("o", false), ("p", false)]),
                &[],
                &[Absent, Solid]
            ),
            Action::PatchOwners {
                remove: vec!["o".into()],
                unblock: vec![]
            }
        );
    }

    #[test]
    fn dependent_kept_by_another_owner_stops_blocking_a_foreground_deletion() {
        assert_eq!(
            decide(
                &obj("d", &[("o", true), ("p", false)]),
                &[],
                &[WaitingForDependents, Solid]
            ),
            Action::PatchOwners {
                remove: vec![],
                unblock: vec!["o".into()]
            }
        );
    }

    #[test]
    fn dependent_being_deleted_is_left_to_finish() {
        let d = deleting(obj("d", &[("o", true)]), &["example.com/hold"]);
        assert_eq!(decide(&d, &[], &[Absent]), Action::None);
    }

    #[test]
    fn dependent_of_a_foreground_owner_is_deleted() {
        let d = obj("d", &[("o", true)]);
        assert_eq!(
            decide(&d, &[], &[WaitingForDependents]),
            Action::Delete(Policy::Background)
        );
        // With dependents of its own, it is deleted in the foreground too, so the owner
        // waits for the whole chain.
        let g = obj("g", &[("d", true)]);
        assert_eq!(
            decide(&d, &[&g], &[WaitingForDependents]),
            Action::Delete(Policy::Foreground)
        );
    }

    #[test]
    fn dependent_asking_for_orphan_is_deleted_with_orphan() {
        let mut d = obj("d", &[("o", false)]);
        d.finalizers = vec![ORPHAN.into()];
        assert_eq!(decide(&d, &[], &[Absent]), Action::Delete(Policy::Orphan));
    }

    #[test]
    fn foreground_owner_waits_for_blocking_dependents_only() {
        let o = deleting(obj("o", &[]), &[FOREGROUND]);
        let blocking = obj("d1", &[("o", true)]);
        let other = obj("d2", &[("o", false)]);
        assert_eq!(
            decide(&o, &[&blocking, &other], &[]),
            Action::WaitForDependents(vec!["d1".into()])
        );
        // A blocking dependent that is itself being deleted still blocks.
        let going = deleting(obj("d1", &[("o", true)]), &[FOREGROUND]);
        assert_eq!(
            decide(&o, &[&going], &[]),
            Action::WaitForDependents(vec!["d1".into()])
        );
        assert_eq!(
            decide(&o, &[&other], &[]),
            Action::RemoveFinalizer(FOREGROUND)
        );
        assert_eq!(decide(&o, &[], &[]), Action::RemoveFinalizer(FOREGROUND));
    }

    #[test]
    fn orphan_owner_releases_every_dependent_then_its_finalizer() {
        let o = deleting(obj("o", &[]), &[ORPHAN]);
        let d1 = obj("d1", &[("o", true)]);
        let d2 = obj("d2", &[("o", false)]);
        assert_eq!(
            decide(&o, &[&d2, &d1], &[]),
            Action::Orphan {
                dependents: vec!["d1".into(), "d2".into()]
            }
        );
        assert_eq!(decide(&o, &[], &[]), Action::Orphan { dependents: vec![] });
    }

    #[test]
    fn orphan_wins_over_foreground_and_own_owners() {
        // The API server refuses both finalizers at once; if both appear, orphaning is the
        // one that cannot lose data.
        let o = deleting(obj("o", &[("p", false)]), &[FOREGROUND, ORPHAN]);
        assert_eq!(
            decide(&o, &[], &[Absent]),
            Action::Orphan { dependents: vec![] }
        );
    }

    #[test]
    fn owner_deleted_without_gc_finalizers_is_treated_as_a_dependent() {
        let o = deleting(obj("o", &[("p", false)]), &["example.com/hold"]);
        assert_eq!(decide(&o, &[], &[Absent]), Action::None);
        let live = obj("o", &[("p", false)]);
        assert_eq!(
            decide(&live, &[], &[Absent]),
            Action::Delete(Policy::Background)
        );
    }
}
