//! Server-side printing: the `meta.k8s.io/v1 Table` answer for built-in and custom resources,
//! and the metadata-only answers (`PartialObjectMetadata`, `PartialObjectMetadataList`) that
//! metadata informers ask for.

use std::time::SystemTime;

use serde_json::{Value, json};

/// Marks a request for metadata-only answers (in place of a Table's `includeObject`).
pub const METADATA: &str = "\u{0}metadata";

/// `PartialObjectMetadata` of an object.
pub fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

/// `PartialObjectMetadataList` of objects.
pub fn partial_list(objects: &[std::sync::Arc<Value>], list_metadata: Value) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "items": objects.iter().map(|o| partial(o)).collect::<Vec<_>>(),
    })
}

use crate::resources::Resource;

/// A Table of `objects` with the resource's columns.
pub fn table_for(res: &Resource, objects: &[Value], list_metadata: Value, include: &str) -> Value {
    let now = SystemTime::now();
    match &res.printer_columns {
        Some(cols) if res.custom => {
            crate::table::crd_table(cols, objects, list_metadata, include, now)
        }
        _ => crate::table::table(
            &res.group,
            &res.plural,
            objects,
            list_metadata,
            include,
            now,
        ),
    }
}
