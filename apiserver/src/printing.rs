//! Server-side printing: the `meta.k8s.io/v1 Table` answer for built-in and custom resources.

use std::time::SystemTime;

use serde_json::Value;

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
