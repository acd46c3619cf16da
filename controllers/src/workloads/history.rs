//! ControllerRevisions, the history of a StatefulSet's or DaemonSet's pod templates
//! (`pkg/controller/history/controller_history.go`, the StatefulSet's `newRevision` /
//! `ApplyRevision` and the DaemonSet's `getPatch` / `Match`).
//!
//! A revision's `data` is what upstream stores and what `kubectl rollout undo` sends back as a
//! strategic merge patch: `{"spec":{"template":{…the pod template…,"$patch":"replace"}}}`.
//! `kubectl rollout history` lists the revisions that match the owner's selector and are
//! controlled by it, by `revision` number, and shows `kubernetes.io/change-cause` from their
//! annotations (copied from the owner's).
//!
//! Data is compared and hashed in a canonical JSON form (object keys sorted, nulls and empty
//! lists and objects dropped), so a revision read back from the API server equals the one
//! written whatever the key order. The hash is fnv32 (not fnv32a, as upstream's
//! `HashControllerRevision`) over those bytes and the collision count, so it differs from
//! upstream's value for the same template (which hashes Go's serialisation).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::deployment::safe_encode;
use super::podutil::{self, Selector};
use super::{Error, Result};

/// Pod label naming the revision a pod was made from (a StatefulSet's revision name, a
/// DaemonSet's template hash); also a DaemonSet revision's hash label
/// (`apps.ControllerRevisionHashLabelKey`).
pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
/// The hash label of a StatefulSet's revisions (`history.ControllerRevisionHashLabel`).
pub const REVISION_HASH: &str = "controller.kubernetes.io/hash";
/// The annotation `kubectl rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
/// `revisionHistoryLimit` when unset (the API server's default).
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

/// Longest owner-name prefix of a revision name (`ControllerRevisionName`: 253 - 1 - hash).
const MAX_PREFIX: usize = 223;
const PATCH_DIRECTIVE: &str = "$patch";

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Drops nulls, empty lists and empty objects from object fields, recursively.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| {
                    let n = normalize(v);
                    (!is_empty_value(&n)).then(|| (k.clone(), n))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                if let Some(v) = m.get(k.as_str()) {
                    write_canonical(v, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        other => out.extend(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// The canonical bytes of a JSON value: object keys sorted, empty fields dropped.
pub fn canonical_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(&normalize(v), &mut out);
    out
}

/// The `data` of a revision of `template` (upstream's `getPatch`):
/// `{"spec":{"template":{…,"$patch":"replace"}}}`, a strategic merge patch that restores
/// the template when applied to the owner.
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or(Value::Null);
    if !t.is_object() {
        t = Value::Object(serde_json::Map::new());
    }
    if let Some(m) = t.as_object_mut() {
        m.insert(PATCH_DIRECTIVE.into(), Value::String("replace".into()));
    }
    serde_json::json!({ "spec": { "template": t } })
}

/// A revision's `data`, if any.
pub fn data_of(rev: &ControllerRevision) -> Option<&Value> {
    rev.data.as_ref().map(|d| &d.0)
}

/// Whether `rev` records exactly `data` (compared canonically; `EqualRevision` /
/// DaemonSet `Match`). `canonical` is [`canonical_bytes`] of the data to compare with.
pub fn has_data(rev: &ControllerRevision, canonical: &[u8]) -> bool {
    data_of(rev).is_some_and(|d| canonical_bytes(d) == canonical)
}

/// The pod template a revision records (upstream's `ApplyRevision` for a template-replacing
/// patch). Fails with [`Error::InvalidRevision`] when `data.spec.template` is missing or is
/// not a pod template.
pub fn revision_template(rev: &ControllerRevision) -> Result<PodTemplateSpec> {
    let name = rev.metadata.name.as_deref().unwrap_or_default();
    let mut t = data_of(rev)
        .and_then(|d| d.get("spec"))
        .and_then(|s| s.get("template"))
        .filter(|t| t.is_object())
        .cloned()
        .ok_or_else(|| Error::InvalidRevision(format!("{name}: no spec.template in data")))?;
    if let Some(m) = t.as_object_mut() {
        m.remove(PATCH_DIRECTIVE);
    }
    serde_json::from_value(t).map_err(|e| Error::InvalidRevision(format!("{name}: {e}")))
}

/// fnv32 (`hash/fnv.New32`, multiply then xor) of `data`'s canonical bytes, then, if given,
/// the collision count in decimal; [`safe_encode`]d (`HashControllerRevision`).
pub fn hash_data(data: &Value, collision_count: Option<i32>) -> String {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let mut h = OFFSET;
    let mut write = |bytes: &[u8]| {
        for b in bytes {
            h = h.wrapping_mul(PRIME);
            h ^= u32::from(*b);
        }
    };
    write(&canonical_bytes(data));
    if let Some(c) = collision_count {
        write(c.to_string().as_bytes());
    }
    safe_encode(&h.to_string())
}

/// `<prefix>-<hash>`, the prefix cut to 223 bytes (`ControllerRevisionName`).
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(MAX_PREFIX);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

fn creation(rev: &ControllerRevision) -> Option<k8s_openapi::jiff::Timestamp> {
    rev.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// Upstream's `byRevision`: by `revision`, then creation time (missing first), then name.
pub fn compare_revisions(a: &ControllerRevision, b: &ControllerRevision) -> Ordering {
    a.revision
        .cmp(&b.revision)
        .then_with(|| creation(a).cmp(&creation(b)))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Sorts oldest revision first (`SortControllerRevisions`).
pub fn sort_revisions(revs: &mut [&ControllerRevision]) {
    revs.sort_by(|a, b| compare_revisions(a, b));
}

/// The highest `revision` number, 0 for none (`maxRevision`).
pub fn max_revision(revs: &[&ControllerRevision]) -> i64 {
    revs.iter().map(|r| r.revision).max().unwrap_or(0).max(0)
}

/// A revision object: `owner_ref` as its controller, labels, annotations (upstream copies
/// the owner's, so `kubectl rollout history` shows their change-cause) and data.
pub fn build_revision(
    name: String,
    owner: &ObjectMeta,
    owner_ref: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    labels: BTreeMap<String, String>,
    data: Value,
    revision: i64,
) -> ControllerRevision {
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: owner.namespace.clone(),
            labels: Some(labels),
            annotations: owner.annotations.clone().filter(|a| !a.is_empty()),
            owner_references: Some(vec![owner_ref]),
            ..ObjectMeta::default()
        },
        data: Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(data)),
        revision,
    }
}

/// The revisions an owner controls, after claiming (`ClaimControllerRevisions`).
#[derive(Debug, Default)]
pub struct Claimed<'a> {
    /// Revisions controlled by the owner and selected by its selector, plus the orphans it
    /// adopts (as if already adopted).
    pub owned: Vec<&'a ControllerRevision>,
    /// Orphans (names) selected by the selector: add the owner's controller reference.
    pub adopt: Vec<String>,
    /// Controlled revisions (names) the selector no longer selects: remove the reference.
    pub release: Vec<String>,
}

/// Claims the revisions of `owner`'s namespace in `revisions` (others are ignored): keeps
/// the controlled ones its selector selects, adopts selected orphans that are not being
/// deleted, and, when `release` is set (DaemonSet; a StatefulSet only lists them), releases
/// controlled ones that are no longer selected. No adoption or release while the owner is
/// being deleted.
pub fn claim_revisions<'a>(
    owner: &ObjectMeta,
    selector: &Selector,
    revisions: &'a [ControllerRevision],
    release: bool,
) -> Claimed<'a> {
    let uid = owner.uid.as_deref().unwrap_or_default();
    let namespace = owner.namespace.as_deref().unwrap_or_default();
    let deleting = owner.deletion_timestamp.is_some();
    let mut out = Claimed::default();
    for r in revisions {
        if r.metadata.namespace.as_deref().unwrap_or_default() != namespace {
            continue;
        }
        let name = r.metadata.name.clone().unwrap_or_default();
        let selected = selector.matches(r.metadata.labels.as_ref());
        match podutil::controller_ref(&r.metadata) {
            Some(c) if c.uid == uid => {
                if selected {
                    out.owned.push(r);
                } else if release && !deleting {
                    out.release.push(name);
                }
            }
            Some(_) => {}
            None => {
                if selected && !deleting && r.metadata.deletion_timestamp.is_none() {
                    out.adopt.push(name);
                    out.owned.push(r);
                }
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builders for tests.
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

    /// A revision of `template` controlled by (`kind`, `uid`).
    pub fn revision(
        name: &str,
        template: &PodTemplateSpec,
        revision: i64,
        kind: &str,
        uid: &str,
        labels: &[(&str, &str)],
    ) -> ControllerRevision {
        let owner = ObjectMeta {
            name: Some("owner".into()),
            namespace: Some("default".into()),
            ..Default::default()
        };
        let mut r = build_revision(
            name.into(),
            &owner,
            OwnerReference {
                api_version: "apps/v1".into(),
                kind: kind.into(),
                name: "owner".into(),
                uid: uid.into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            revision_data(template),
            revision,
        );
        r.metadata.creation_timestamp = Some(Time(super::super::podutil::testutil::at(revision)));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn data_round_trips_and_is_a_replace_patch() {
        let t = template("nginx:1");
        let data = revision_data(&t);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        assert_eq!(
            data["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1"
        );
        let rev = testutil::revision("web-1", &t, 1, "StatefulSet", "u", &[]);
        assert_eq!(revision_template(&rev).unwrap(), t);
        let mut broken = rev.clone();
        broken.data = None;
        assert!(matches!(
            revision_template(&broken),
            Err(Error::InvalidRevision(_))
        ));
    }

    #[test]
    fn canonical_form_ignores_key_order_and_empties() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"x":[],"y":null,"z":"q"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"z":"q"},"b":1}"#).unwrap();
        assert_eq!(canonical_bytes(&a), canonical_bytes(&b));
        assert_eq!(canonical_bytes(&b), br#"{"a":{"z":"q"},"b":1}"#);
        let t = template("nginx:1");
        let rev = testutil::revision("web-1", &t, 1, "StatefulSet", "u", &[]);
        assert!(has_data(&rev, &canonical_bytes(&revision_data(&t))));
        assert!(!has_data(
            &rev,
            &canonical_bytes(&revision_data(&template("nginx:2")))
        ));
    }

    #[test]
    fn hashes_and_names() {
        let d1 = revision_data(&template("nginx:1"));
        let d2 = revision_data(&template("nginx:2"));
        let h = hash_data(&d1, Some(0));
        assert_eq!(h, hash_data(&d1, Some(0)));
        assert_ne!(h, hash_data(&d1, Some(1)));
        assert_ne!(h, hash_data(&d2, Some(0)));
        assert!(h.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(revision_name("web", &h), format!("web-{h}"));
        assert_eq!(revision_name(&"a".repeat(300), "h").len(), 225);
    }

    #[test]
    fn ordering_and_claiming() {
        let t = template("nginx:1");
        let a = testutil::revision("a", &t, 2, "StatefulSet", "u", &[("app", "web")]);
        let b = testutil::revision("b", &t, 1, "StatefulSet", "u", &[("app", "web")]);
        let mut orphan = testutil::revision("c", &t, 3, "StatefulSet", "u", &[("app", "web")]);
        orphan.metadata.owner_references = None;
        let other = testutil::revision("d", &t, 4, "StatefulSet", "x", &[("app", "web")]);
        let stray = testutil::revision("e", &t, 5, "StatefulSet", "u", &[("app", "db")]);
        let all = vec![a, b, orphan, other, stray];
        let owner = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("u".into()),
            ..Default::default()
        };
        let sel = Selector::from_set(&[("app".to_string(), "web".to_string())].into());
        let c = claim_revisions(&owner, &sel, &all, true);
        let mut owned = c.owned.clone();
        sort_revisions(&mut owned);
        let names: Vec<&str> = owned
            .iter()
            .map(|r| r.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(c.adopt, ["c"]);
        assert_eq!(c.release, ["e"]);
        assert_eq!(max_revision(&owned), 3);
        let c = claim_revisions(&owner, &sel, &all, false);
        assert!(c.release.is_empty());
    }
}
