//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A field set is kept in the `FieldsV1` JSON form upstream uses: `{"f:spec":{"f:replicas":{}}}`,
//! list items of keyed lists as `k:{"name":"app"}` with a `"."` entry for the item itself,
//! set members as `v:"x"`. Every write records its manager: a create owns every field it set;
//! an update owns the fields it changed (taking them from other managers); an apply owns
//! exactly the fields of its configuration. Apply merges the configuration into the live
//! object, refuses to change a field another manager owns (409 with one
//! `FieldManagerConflict` cause per field) unless `force=true`, and removes fields the
//! applier stopped sending when no one else owns them.

use serde_json::{Map, Value, json};

use crate::error::{ApiError, Cause, Result, Subject};
use crate::meta;
use crate::resources::Resource;
use crate::rest::{Outcome, Rest, WriteOpts};

/// Keys of list items, by the field name of the list (the merge keys of built-in types).
fn list_keys(field: &str, item: &Map<String, Value>) -> Option<Vec<&'static str>> {
    let k: &[&'static str] = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => &["name"],
        "ports" if item.contains_key("containerPort") => &["containerPort", "protocol"],
        "ports" if item.contains_key("port") => &["port", "protocol"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "hostAliases" => &["ip"],
        "addresses" if item.contains_key("type") && item.contains_key("address") => &["type"],
        _ if item.contains_key("name")
            && !field.is_empty()
            && field != "args"
            && field != "command" =>
        {
            &["name"]
        }
        _ => return None,
    };
    let present: Vec<&'static str> = k
        .iter()
        .copied()
        .filter(|f| item.contains_key(*f) || *f == "protocol")
        .collect();
    if present
        .iter()
        .any(|f| *f != "protocol" && !item.contains_key(*f))
        || present.is_empty()
    {
        return None;
    }
    Some(present)
}

fn item_key(keys: &[&str], item: &Map<String, Value>) -> String {
    let mut m = Map::new();
    for k in keys {
        let v = match item.get(*k) {
            Some(v) => v.clone(),
            None if *k == "protocol" => json!("TCP"),
            None => Value::Null,
        };
        m.insert((*k).to_string(), v);
    }
    format!("k:{}", Value::Object(m))
}

/// Sets of primitive values merged as sets.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Top-level and metadata fields no manager owns.
fn skipped(path: &[String], key: &str) -> bool {
    match path.len() {
        0 => matches!(key, "apiVersion" | "kind" | "status"),
        1 if path[0] == "metadata" => matches!(
            key,
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "managedFields"
                | "selfLink"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
        ),
        _ => false,
    }
}

/// The field set of an object (status excluded).
pub fn field_set(obj: &Value) -> Value {
    fn walk(v: &Value, path: &mut Vec<String>, field: &str) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    if skipped(path, k) || x.is_null() {
                        continue;
                    }
                    path.push(k.clone());
                    let sub = walk(x, path, k);
                    path.pop();
                    // A map whose every field is system-owned (metadata with only a name)
                    // is not a field of its own.
                    let hollow = sub.as_object().is_some_and(Map::is_empty)
                        && x.as_object().is_some_and(|m| !m.is_empty());
                    if !hollow {
                        out.insert(format!("f:{k}"), sub);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Map::new();
                if is_set_list(field) {
                    for i in items {
                        out.insert(format!("v:{i}"), json!({}));
                    }
                    return Value::Object(out);
                }
                for i in items {
                    let Some(im) = i.as_object() else {
                        return json!({});
                    };
                    let Some(keys) = list_keys(field, im) else {
                        return json!({});
                    };
                    let mut inner = match walk(i, path, "") {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    inner.insert(".".into(), json!({}));
                    out.insert(item_key(&keys, im), Value::Object(inner));
                }
                Value::Object(out)
            }
            _ => json!({}),
        }
    }
    walk(obj, &mut vec![], "")
}

/// Leaf paths of a field set (each path a list of `f:`/`k:`/`v:` segments).
fn leaves(set: &Value) -> Vec<Vec<String>> {
    fn go(v: &Value, cur: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, x) in m {
                    if k == "." {
                        out.push(cur.clone());
                        continue;
                    }
                    cur.push(k.clone());
                    go(x, cur, out);
                    cur.pop();
                }
            }
            _ => out.push(cur.clone()),
        }
    }
    let mut out = vec![];
    go(set, &mut vec![], &mut out);
    out
}

fn set_from(leaves: &[Vec<String>]) -> Value {
    let mut root = Map::new();
    for l in leaves {
        let mut cur = &mut root;
        for (i, seg) in l.iter().enumerate() {
            let e = cur.entry(seg.clone()).or_insert_with(|| json!({}));
            if i + 1 == l.len() {
                break;
            }
            let Value::Object(m) = e else { break };
            cur = m;
        }
    }
    Value::Object(root)
}

/// The value at a field-set path in an object (None: absent).
fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    let mut field = "";
    for seg in path {
        if let Some(f) = seg.strip_prefix("f:") {
            cur = cur.get(f)?;
            field = f;
        } else if let Some(k) = seg.strip_prefix("k:") {
            let want: Map<String, Value> = serde_json::from_str(k).ok()?;
            let items = cur.as_array()?;
            cur = items.iter().find(|i| {
                i.as_object().is_some_and(|im| {
                    list_keys(field, im).is_some_and(|keys| item_key(&keys, im) == *seg)
                        || want.iter().all(|(wk, wv)| im.get(wk) == Some(wv))
                })
            })?;
        } else if let Some(v) = seg.strip_prefix("v:") {
            let want: Value = serde_json::from_str(v).ok()?;
            return cur.as_array()?.iter().find(|i| **i == want);
        } else {
            return None;
        }
    }
    Some(cur)
}

fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    let mut field = String::new();
    for seg in parent_path {
        if let Some(f) = seg.strip_prefix("f:") {
            let Some(next) = cur.get_mut(f) else { return };
            cur = next;
            field = f.to_string();
        } else if seg.starts_with("k:") {
            let Some(items) = cur.as_array_mut() else {
                return;
            };
            let pos = items.iter().position(|i| {
                i.as_object().is_some_and(|im| {
                    list_keys(&field, im).is_some_and(|k| item_key(&k, im) == *seg)
                })
            });
            let Some(pos) = pos else { return };
            cur = &mut items[pos];
        } else {
            return;
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if last.starts_with("k:") {
        if let Some(items) = cur.as_array_mut() {
            items.retain(|i| {
                !i.as_object().is_some_and(|im| {
                    list_keys(&field, im).is_some_and(|k| item_key(&k, im) == *last)
                })
            });
        }
    } else if let Some(v) = last.strip_prefix("v:")
        && let (Ok(want), Some(items)) = (serde_json::from_str::<Value>(v), cur.as_array_mut())
    {
        items.retain(|i| *i != want);
    }
}

/// Merge an applied configuration into a live object: maps recursively, keyed lists by key,
/// set lists as sets, everything else replaced.
fn merge(live: &mut Value, applied: &Value, field: &str) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                if v.is_null() {
                    l.remove(k);
                    continue;
                }
                match l.get_mut(k) {
                    Some(x) => merge(x, v, k),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) if is_set_list(field) => {
            for v in a {
                if !l.contains(v) {
                    l.push(v.clone());
                }
            }
        }
        (Value::Array(l), Value::Array(a))
            if !a.is_empty()
                && a.iter()
                    .all(|i| i.as_object().is_some_and(|m| list_keys(field, m).is_some())) =>
        {
            for item in a {
                let Some(im) = item.as_object() else { continue };
                let Some(keys) = list_keys(field, im) else {
                    continue;
                };
                let key = item_key(&keys, im);
                let pos = l.iter().position(|x| {
                    x.as_object().is_some_and(|xm| {
                        list_keys(field, xm).is_some_and(|k| item_key(&k, xm) == key)
                    })
                });
                match pos {
                    Some(p) => merge(&mut l[p], item, ""),
                    None => l.push(item.clone()),
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn entries(obj: &Value) -> Vec<Value> {
    meta::metadata(obj)
        .get("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn manager_of(e: &Value) -> (&str, &str, &str) {
    (
        e.get("manager").and_then(Value::as_str).unwrap_or(""),
        e.get("operation").and_then(Value::as_str).unwrap_or(""),
        e.get("subresource").and_then(Value::as_str).unwrap_or(""),
    )
}

fn entry(manager: &str, operation: &str, res: &Resource, set: Value, sub: &str) -> Value {
    let mut e = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": res.api_version(),
        "time": meta::now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": set,
    });
    if !sub.is_empty() {
        e["subresource"] = json!(sub);
    }
    e
}

fn store_entries(obj: &mut Value, list: Vec<Value>) {
    let list: Vec<Value> = list
        .into_iter()
        .filter(|e| {
            e.get("fieldsV1")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
        })
        .collect();
    let m = meta::metadata_mut(obj);
    if list.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), Value::Array(list));
    }
}

/// Record an Update by `opts.field_manager` (no manager: nothing recorded): on create it
/// owns every field; on update the fields that changed move to it.
pub fn record_update(new: &mut Value, old: Option<&Value>, opts: &WriteOpts, res: &Resource) {
    // Ownership starts from what the request carries (a client may reset it, and server-side
    // apply computes it), else from the stored object.
    let sent = meta::metadata(new).contains_key("managedFields");
    let base = match old {
        Some(o) if !sent => entries(o),
        _ => entries(new),
    };
    let Some(manager) = opts.field_manager.clone().filter(|m| !m.is_empty()) else {
        store_entries(new, base);
        return;
    };
    let new_leaves = leaves(&field_set(new));
    let changed: Vec<Vec<String>> = match old {
        None => new_leaves.clone(),
        Some(o) => new_leaves
            .iter()
            .filter(|p| value_at(o, p) != value_at(new, p))
            .cloned()
            .collect(),
    };
    let mut list = base;
    let removed: Vec<Vec<String>> = match old {
        Some(o) => leaves(&field_set(o))
            .into_iter()
            .filter(|p| value_at(new, p).is_none())
            .collect(),
        None => vec![],
    };
    for e in list.iter_mut() {
        let (m, op, _) = manager_of(e);
        if m == manager && op == "Update" {
            continue;
        }
        let l: Vec<Vec<String>> = leaves(&e["fieldsV1"])
            .into_iter()
            .filter(|p| !changed.contains(p) && !removed.contains(p))
            .collect();
        e["fieldsV1"] = set_from(&l);
    }
    if changed.is_empty() && old.is_some() {
        store_entries(new, list);
        return;
    }
    match list
        .iter_mut()
        .find(|e| manager_of(e) == (manager.as_str(), "Update", ""))
    {
        Some(e) => {
            let mut l = leaves(&e["fieldsV1"]);
            l.retain(|p| value_at(new, p).is_some());
            for c in &changed {
                if !l.contains(c) {
                    l.push(c.clone());
                }
            }
            e["fieldsV1"] = set_from(&l);
            e["time"] = json!(meta::now());
            e["apiVersion"] = json!(res.api_version());
        }
        None => list.push(entry(&manager, "Update", res, set_from(&changed), "")),
    }
    store_entries(new, list);
}

/// `PATCH` with `application/apply-patch+yaml`: server-side apply.
pub async fn server_side_apply(
    rest: &Rest,
    res: &Resource,
    ns: &str,
    name: &str,
    applied: Value,
    sub: Option<&str>,
    opts: &WriteOpts,
) -> Result<Outcome> {
    let manager = opts
        .field_manager
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                Subject {
                    group: res.group.clone(),
                    kind: res.plural.clone(),
                    name: name.to_string(),
                },
                res.qualified_kind(),
                vec![Cause::new(
                    "FieldValueRequired",
                    "fieldManager",
                    "Required value: is required for apply patch",
                )],
            )
        })?;
    if !applied.is_object() {
        return Err(ApiError::BadRequest("apply patch must be an object".into()));
    }
    if meta::name(&applied) != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta::name(&applied)
        )));
    }
    let sub = sub.unwrap_or("").to_string();
    let applied_set = if sub == "status" {
        json!({"f:status": field_set(&json!({"x": applied.get("status").cloned().unwrap_or(json!({}))}))["f:x"].clone()})
    } else {
        field_set(&applied)
    };
    let applied_leaves = leaves(&applied_set);
    let mut no_opts = opts.clone();
    no_opts.field_manager = None;
    // Create when absent.
    match rest.get(res, ns, name).await {
        Err(ApiError::NotFound(_)) if sub.is_empty() => {
            let mut obj = applied.clone();
            let mut list = vec![entry(&manager, "Apply", res, applied_set.clone(), "")];
            list.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
            meta::metadata_mut(&mut obj).insert("managedFields".into(), Value::Array(list));
            return rest.create(res, ns, obj, &no_opts).await;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    rest.modify(res, ns, name, &no_opts, |live| {
        let mut list = entries(live);
        let mut conflicts = vec![];
        for e in list.iter_mut() {
            let (m, op, esub) = manager_of(e);
            if (m == manager && op == "Apply") || esub != sub {
                continue;
            }
            let owned = leaves(&e["fieldsV1"]);
            let mut lost = vec![];
            for p in &owned {
                let overlap = applied_leaves.iter().any(|a| a == p);
                if overlap && value_at(live, p) != value_at(&applied, p) {
                    if opts.force {
                        lost.push(p.clone());
                    } else {
                        let field = p
                            .iter()
                            .map(|s| {
                                s.strip_prefix("f:")
                                    .map(|f| format!(".{f}"))
                                    .unwrap_or_else(|| format!("[{}]", &s[2..]))
                            })
                            .collect::<String>();
                        conflicts.push(Cause::new(
                            "FieldManagerConflict",
                            field.clone(),
                            format!(
                                "conflict with \"{m}\"{}: {field}",
                                if op == "Update" {
                                    " using ".to_string() + &res.api_version()
                                } else {
                                    String::new()
                                }
                            ),
                        ));
                    }
                }
            }
            if !lost.is_empty() {
                let keep: Vec<Vec<String>> =
                    owned.into_iter().filter(|p| !lost.contains(p)).collect();
                e["fieldsV1"] = set_from(&keep);
            }
        }
        if !conflicts.is_empty() {
            return Err(ApiError::ApplyConflict {
                subject: Subject {
                    group: res.group.clone(),
                    kind: res.plural.clone(),
                    name: name.to_string(),
                },
                causes: conflicts,
            });
        }
        let mut out = live.clone();
        meta::metadata_mut(&mut out).remove("resourceVersion");
        let mut cfg = applied.clone();
        if let Some(m) = cfg.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "resourceVersion",
                "managedFields",
                "uid",
                "creationTimestamp",
                "generation",
            ] {
                m.remove(k);
            }
        }
        if sub == "status" {
            if let Some(s) = cfg.get("status") {
                merge(&mut out["status"], s, "status");
            }
        } else {
            if let Some(o) = cfg.as_object_mut() {
                o.remove("status");
            }
            merge(&mut out, &cfg, "");
        }
        // Fields this manager applied before and dropped now go, unless someone else owns them.
        let previous = list
            .iter()
            .find(|e| manager_of(e) == (manager.as_str(), "Apply", sub.as_str()))
            .map(|e| leaves(&e["fieldsV1"]))
            .unwrap_or_default();
        for p in previous {
            if applied_leaves.contains(&p) {
                continue;
            }
            let others = list.iter().any(|e| {
                manager_of(e) != (manager.as_str(), "Apply", sub.as_str())
                    && leaves(&e["fieldsV1"]).contains(&p)
            });
            if !others {
                remove_at(&mut out, &p);
            }
        }
        list.retain(|e| manager_of(e) != (manager.as_str(), "Apply", sub.as_str()));
        list.push(entry(&manager, "Apply", res, applied_set.clone(), &sub));
        store_entries(&mut out, list);
        Ok((out, false))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets_use_upstream_keys() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}, "finalizers": ["x"]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]}}},
            "status": {"replicas": 1}
        });
        let s = field_set(&obj);
        assert_eq!(s["f:spec"]["f:replicas"], json!({}));
        let c = &s["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert_eq!(c["f:image"], json!({}));
        assert_eq!(c["."], json!({}));
        assert!(c["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"].is_object());
        assert!(s["f:metadata"]["f:finalizers"]["v:\"x\""].is_object());
        assert!(s.get("f:status").is_none());
        assert!(s["f:metadata"].get("f:name").is_none());
    }

    #[test]
    fn merge_keeps_other_list_items_and_replaces_scalars() {
        let mut live = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}], "replicas": 1}});
        merge(
            &mut live,
            &json!({"spec": {"containers": [{"name": "b", "image": "2"}], "replicas": 3}}),
            "",
        );
        assert_eq!(live["spec"]["containers"][0]["image"], "1");
        assert_eq!(live["spec"]["containers"][1]["image"], "2");
        assert_eq!(live["spec"]["replicas"], 3);
    }

    #[test]
    fn remove_at_drops_a_keyed_item_field() {
        let mut obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        remove_at(
            &mut obj,
            &["f:metadata".into(), "f:labels".into(), "f:a".into()],
        );
        assert_eq!(obj, json!({"metadata": {"labels": {"b": "2"}}}));
    }
}
