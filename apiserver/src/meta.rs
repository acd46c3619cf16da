//! Object metadata helpers: timestamps, uids, generated names, and reading/writing the
//! well-known `metadata` fields of objects held as JSON.

use std::time::SystemTime;

use rand::Rng;
use serde_json::{Map, Value};

/// Now, as Kubernetes writes timestamps (RFC 3339, second precision, UTC).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A fresh object uid.
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `prefix` plus five random characters from the alphabet kube-apiserver uses.
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let base: String = prefix.chars().take(58).collect();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{base}{suffix}")
}

/// `metadata` of an object (empty map when absent or not a map).
pub fn metadata(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    obj.get("metadata")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// `metadata`, created when absent.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(o) = obj else {
        unreachable!("made an object above")
    };
    let m = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    match m {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    metadata(obj)
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Name.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name")
}

/// Namespace.
pub fn namespace(obj: &Value) -> &str {
    meta_str(obj, "namespace")
}

/// resourceVersion as a revision (0 when absent or not a number).
pub fn resource_version(obj: &Value) -> i64 {
    meta_str(obj, "resourceVersion").parse().unwrap_or(0)
}

/// The finalizers.
pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn deleting(obj: &Value) -> bool {
    metadata(obj)
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Remove the fields that must not be stored (resourceVersion, selfLink).
pub fn strip_for_storage(obj: &mut Value) {
    let m = metadata_mut(obj);
    m.remove("resourceVersion");
    m.remove("selfLink");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_use_the_upstream_alphabet() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert!(
            n[4..]
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
    }

    #[test]
    fn timestamps_are_second_precision_utc() {
        let t = now();
        assert_eq!(t.len(), "2024-01-02T03:04:05Z".len());
        assert!(t.ends_with('Z'));
    }
}
