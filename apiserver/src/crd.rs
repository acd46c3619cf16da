//! Custom resources: turning CustomResourceDefinitions into served resources, keeping the
//! registry in step with the stored CRDs, and pruning/validating custom objects against the
//! version's `openAPIV3Schema`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::Cause;
use crate::http::Server;
use crate::meta;
use crate::registry::Registry;
use crate::resources::{Resource, Subresource};
use crate::rest::WriteOpts;

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The resources a CRD defines (one per served version, storage version first).
pub fn resources_of(crd: &Value) -> Vec<Resource> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or("").to_string();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or("").to_string();
    let kind = names["kind"].as_str().unwrap_or("").to_string();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return vec![];
    }
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    versions.retain(|v| v["served"].as_bool().unwrap_or(false));
    versions.sort_by_key(|v| !v["storage"].as_bool().unwrap_or(false));
    versions
        .into_iter()
        .map(|v| {
            let version = v["name"].as_str().unwrap_or("").to_string();
            let mut subresources = vec![];
            let has_status = v.pointer("/subresources/status").is_some();
            if has_status {
                subresources.push(Subresource {
                    name: "status".into(),
                    group: group.clone(),
                    version: version.clone(),
                    kind: kind.clone(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            let scale = v.pointer("/subresources/scale").cloned();
            if scale.is_some() {
                subresources.push(Subresource {
                    name: "scale".into(),
                    group: "autoscaling".into(),
                    version: "v1".into(),
                    kind: "Scale".into(),
                    verbs: vec!["get".into(), "patch".into(), "update".into()],
                });
            }
            Resource {
                group: group.clone(),
                version,
                plural: plural.clone(),
                singular: names["singular"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| kind.to_ascii_lowercase()),
                kind: kind.clone(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: strs(&names["shortNames"]),
                categories: strs(&names["categories"]),
                verbs: RW.iter().map(|s| s.to_string()).collect(),
                subresources,
                fields: vec![],
                storage: format!("/registry/{group}/{plural}"),
                has_status,
                virtual_only: false,
                scale_path: scale.map(|s| {
                    let p = |k: &str| {
                        s[k].as_str()
                            .unwrap_or("")
                            .trim_start_matches('.')
                            .to_string()
                    };
                    (p("specReplicasPath"), p("statusReplicasPath"))
                }),
                custom: true,
                printer_columns: v
                    .get("additionalPrinterColumns")
                    .cloned()
                    .filter(|c| c.as_array().is_some_and(|a| !a.is_empty())),
                schema: v.pointer("/schema/openAPIV3Schema").cloned(),
            }
        })
        .collect()
}

/// Keep the registry and OpenAPI in step with the stored CRDs, and mark new CRDs
/// Established. Runs until the process ends.
pub async fn sync(server: Arc<Server>) {
    let mut last: Option<Vec<Value>> = None;
    loop {
        let reg = server.rest.registry();
        if let Some(crd_res) = reg.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            && let Ok(cache) = server.rest.cache(&crd_res)
            && cache.wait_for(0, Duration::from_secs(1)).await.is_ok()
        {
            let (crds, _) = cache.list(&crd_res.prefix(None));
            let specs: Vec<Value> = crds
                .iter()
                .map(|c| json!([c["metadata"]["name"], c["spec"]]))
                .collect();
            if last.as_ref() != Some(&specs) {
                let mut custom = vec![];
                for c in crds.iter().filter(|c| !meta::deleting(c)) {
                    custom.extend(resources_of(c));
                }
                server
                    .rest
                    .set_registry(Registry::with_custom(custom.clone()));
                let openapi = crate::openapi::OpenApi::new(server.rest.registry().all());
                if let Ok(mut o) = server.openapi.write() {
                    *o = Arc::new(openapi);
                }
                last = Some(specs);
            }
            for c in crds.iter() {
                establish(&server, &crd_res, c).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn establish(server: &Server, crd_res: &Resource, crd: &Value) {
    let established = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
        && crd.pointer("/status/acceptedNames") == crd.pointer("/spec/names");
    if established || meta::deleting(crd) {
        return;
    }
    let name = meta::name(crd).to_string();
    let r = server
        .rest
        .modify(crd_res, "", &name, &WriteOpts::default(), |cur| {
            let mut c = cur.clone();
            let now = meta::now();
            c["status"] = json!({
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                ],
                "acceptedNames": cur["spec"]["names"].clone(),
                "storedVersions": cur["spec"]["versions"].as_array().map(|vs| vs.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
            });
            Ok((c, false))
        })
        .await;
    if let Err(e) = r {
        tracing::debug!(crd = %name, error = %e, "could not mark the CRD established yet");
    }
}

/// Prune unknown fields and check types of a custom object against its schema.
pub fn admit_custom(res: &Resource, obj: &mut Value) -> Vec<Cause> {
    let mut causes = vec![];
    let Some(schema) = &res.schema else {
        return causes;
    };
    if let Some(o) = obj.as_object_mut() {
        let props = schema.get("properties").and_then(Value::as_object);
        let preserve = schema
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let keys: Vec<String> = o.keys().cloned().collect();
        for k in keys {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match props.and_then(|p| p.get(&k)) {
                Some(s) => {
                    if let Some(v) = o.get_mut(&k) {
                        check(v, s, &k, &mut causes);
                    }
                }
                None if !preserve => {
                    o.remove(&k);
                }
                None => {}
            }
        }
        required(o, schema, "", &mut causes);
    }
    causes
}

fn required(o: &Map<String, Value>, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = r.as_str()
            && o.get(r).is_none_or(Value::is_null)
        {
            let f = if path.is_empty() {
                r.to_string()
            } else {
                format!("{path}.{r}")
            };
            causes.push(Cause::new("FieldValueRequired", f, "Required value"));
        }
    }
}

fn check(v: &mut Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if v.is_null()
        && schema
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    {
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let ok = match ty {
        "" => true,
        _ if int_or_string => v.is_i64() || v.is_u64() || v.is_string(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => true,
    };
    if !ok {
        causes.push(Cause::new(
            "FieldValueTypeInvalid",
            path,
            format!(
                "Invalid value: \"{}\": {path} in body must be of type {ty}: \"{}\"",
                short(v),
                json_type(v)
            ),
        ));
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        let allowed: Vec<String> = e.iter().map(|x| x.to_string()).collect();
        causes.push(Cause::new(
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {}: supported values: {}",
                v,
                allowed.join(", ")
            ),
        ));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            path,
            format!("Invalid value: {v}: {path} in body should be greater than or equal to {min}"),
        ));
    }
    if let (Some(max), Some(n)) = (schema.get("maximum").and_then(Value::as_f64), v.as_f64())
        && n > max
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            path,
            format!("Invalid value: {v}: {path} in body should be less than or equal to {max}"),
        ));
    }
    match v {
        Value::Object(o) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                let sub = format!("{path}.{k}");
                match (props.and_then(|p| p.get(&k)), additional) {
                    (Some(s), _) | (None, Some(s)) => {
                        if let Some(x) = o.get_mut(&k) {
                            check(x, s, &sub, causes);
                        }
                    }
                    (None, None) if props.is_some() && !preserve => {
                        o.remove(&k);
                    }
                    _ => {}
                }
            }
            required(o, schema, path, causes);
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, x) in items.iter_mut().enumerate() {
                    check(x, s, &format!("{path}[{i}]"), causes);
                }
            }
        }
        _ => {}
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer", "minimum": 1}, "color": {"type": "string", "enum": ["red", "blue"]}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }}}}]
            }
        })
    }

    #[test]
    fn crd_becomes_a_resource() {
        let r = resources_of(&crd());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].storage, "/registry/example.com/widgets");
        assert!(r[0].namespaced && r[0].has_status && r[0].custom);
        assert_eq!(r[0].short_names, vec!["wd".to_string()]);
    }

    #[test]
    fn pruning_and_validation() {
        let r = resources_of(&crd()).remove(0);
        let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 2, "extra": 1}, "junk": true, "status": {"any": 1}});
        assert!(admit_custom(&r, &mut obj).is_empty());
        assert!(obj.get("junk").is_none());
        assert!(obj["spec"].get("extra").is_none());
        assert_eq!(obj["status"]["any"], 1);
        let mut bad = json!({"spec": {"size": "big", "color": "green"}});
        let causes = admit_custom(&r, &mut bad);
        assert_eq!(causes.len(), 2, "{causes:?}");
        let mut missing = json!({"spec": {}});
        assert_eq!(admit_custom(&r, &mut missing)[0].field, "spec.size");
    }
}
