//! Strategic merge patch (`application/strategic-merge-patch+json`) and JSON merge patch
//! (`application/merge-patch+json`) applied to stored objects.
//!
//! This module owns two things:
//!
//! - **The patch metadata of the built-in types**: which fields merge their lists by a key
//!   (`patchStrategy:"merge" patchMergeKey:"name"` in the Go struct tags of `k8s.io/api`), which
//!   replace a whole map (`patchStrategy:"replace"`) and which carry `retainKeys`. The table is a
//!   tree of `Field`s per kind; the pod template is one subtree reused under every workload
//!   (`spec.template`, `spec.jobTemplate.spec.template`, ...). Fields that are not in the table
//!   follow the default: maps merge, lists and scalars are replaced.
//! - **The merge itself**, with the semantics of kube-apiserver
//!   (`apimachinery/pkg/util/strategicpatch/patch.go`, `StrategicMergeMapPatch`): `null` deletes a
//!   key, the directives `$patch` (`replace`, `delete`, `merge`), `$retainKeys`,
//!   `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`, merge lists by key,
//!   primitive merge lists as ordered sets, and the ordering rules (the order of
//!   `$setElementOrder` first, then the order of the patch list, then the order of the live list;
//!   like upstream, a patch that only adds items to a merge list puts them first).
//!
//! Where upstream lets a directive through into the result (a directive inside a value that is new
//! to the object, which its typed decoding then drops), this module applies the directive instead,
//! so no directive key ever reaches a stored object. `$patch: merge` in a map is accepted as the
//! default merge (upstream rejects it although its documentation lists it).
//!
//! Custom resources have no patch metadata: upstream answers a strategic merge patch on them with
//! 415, which is the caller's decision; [`apply`] given an unknown kind merges only `metadata` by
//! its tags.
//!
//! Entry points: [`apply`] and [`merge_patch`].

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::error::{ApiError, Result};

/// The map directive key.
const DIRECTIVE: &str = "$patch";
/// `$patch` value: replace the map or list instead of merging.
const REPLACE: &str = "replace";
/// `$patch` value: delete the map, or the list element with this merge key.
const DELETE: &str = "delete";
/// `$patch` value: merge (the default).
const MERGE: &str = "merge";
/// Keep only the listed keys of the map after merging.
const RETAIN_KEYS: &str = "$retainKeys";
/// Prefix of the list giving the final order of a merged list.
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// Prefix of the list of scalars to remove from a list.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies the strategic merge patch `patch` to `original`, an object of kind `kind` in API group
/// `group` (`""` for core).
///
/// `original` is not changed; the patched object is returned. A `null` patch changes nothing.
///
/// # Errors
///
/// [`ApiError::BadRequest`] for a malformed patch: not an object, an unknown `$patch` value, a
/// merge-list element without its merge key, a `$setElementOrder` or `$retainKeys` that is not a
/// list or disagrees with the patch, lists whose elements differ in type. [`ApiError::Internal`]
/// when `original` is not an object.
pub fn apply(original: &Value, patch: &Value, group: &str, kind: &str) -> Result<Value> {
    let patch = match patch {
        Value::Object(patch) => patch.clone(),
        // What upstream's decoding of a `null` body into a map yields: nothing to do.
        Value::Null => Map::new(),
        other => {
            return Err(bad(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_type(other)
            )));
        }
    };
    let original = match original {
        Value::Object(original) => original.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(ApiError::Internal(format!(
                "cannot patch a stored {}: expected an object",
                json_type(other)
            )));
        }
    };
    merge_map(original, patch, schema_for(group, kind)).map(Value::Object)
}

/// Applies the JSON merge patch `patch` to `original` (RFC 7386): objects merge recursively,
/// `null` deletes a key, anything else (lists included) replaces.
pub fn merge_patch(original: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(_) => merge_patch_into(original.clone(), patch),
        _ => patch.clone(),
    }
}

/// [`merge_patch`] on an owned target.
fn merge_patch_into(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(target) => target,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else if let Some(slot) = target.get_mut(key) {
            *slot = merge_patch_into(std::mem::take(slot), value);
        } else {
            target.insert(key.clone(), merge_patch_into(Value::Null, value));
        }
    }
    Value::Object(target)
}

// ---------------------------------------------------------------------------------------------
// Patch metadata of the built-in types.
// ---------------------------------------------------------------------------------------------

/// How one field is patched: its `patchStrategy` (and `patchMergeKey`) struct tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    /// No tag: maps merge, lists and scalars are replaced.
    Default,
    /// `patchStrategy:"replace"`: the patch value replaces the field, even a map.
    Replace,
    /// `patchStrategy:"retainKeys"`: a map; clients send `$retainKeys` with the keys to keep.
    RetainKeys,
    /// `patchStrategy:"merge"`: a list merged by this key (empty for a list of scalars).
    Merge(&'static str),
    /// `patchStrategy:"merge,retainKeys"`: a merged list whose elements clients send with
    /// `$retainKeys`.
    MergeRetainKeys(&'static str),
}

impl Strategy {
    /// The merge key when the field is a merged list (`""` for a list of scalars).
    fn list_merge_key(self) -> Option<&'static str> {
        match self {
            Strategy::Merge(key) | Strategy::MergeRetainKeys(key) => Some(key),
            Strategy::Default | Strategy::Replace | Strategy::RetainKeys => None,
        }
    }
}

/// One field of a type, with the fields of its value (of each element, for a list).
#[derive(Debug)]
struct Field {
    name: &'static str,
    strategy: Strategy,
    fields: Schema,
}

/// The fields of a type that matter to patching; every other field has [`Strategy::Default`].
type Schema = &'static [Field];

/// A field without a tag, listed because fields below it have one.
const fn nested(name: &'static str, fields: Schema) -> Field {
    Field {
        name,
        strategy: Strategy::Default,
        fields,
    }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"`.
const fn merge(name: &'static str, key: &'static str, fields: Schema) -> Field {
    Field {
        name,
        strategy: Strategy::Merge(key),
        fields,
    }
}

/// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
const fn merge_retain(name: &'static str, key: &'static str, fields: Schema) -> Field {
    Field {
        name,
        strategy: Strategy::MergeRetainKeys(key),
        fields,
    }
}

/// `patchStrategy:"retainKeys"` on a map.
const fn retain_keys_map(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::RetainKeys,
        fields: &[],
    }
}

/// `patchStrategy:"replace"` on a map.
const fn replace_map(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Replace,
        fields: &[],
    }
}

/// `conditions` merged by `type`, as in every status that has them.
const CONDITIONS: Field = merge("conditions", "type", &[]);

/// `metav1.ObjectMeta`.
const OBJECT_META: Schema = &[
    merge("finalizers", "", &[]),
    merge("ownerReferences", "uid", &[]),
];

const METADATA: Field = nested("metadata", OBJECT_META);

/// Status types whose only tagged field is `conditions`.
const STATUS_WITH_CONDITIONS: Field = nested("status", &[CONDITIONS]);

/// `core/v1 Container`, and `EphemeralContainer` (whose common fields are inline).
const CONTAINER: Schema = &[
    merge("ports", "containerPort", &[]),
    merge("env", "name", &[]),
    merge("volumeMounts", "mountPath", &[]),
    merge("volumeDevices", "devicePath", &[]),
];

/// `core/v1 Volume`: only the ephemeral volume's claim template has tagged fields (its metadata).
const VOLUME: Schema = &[nested(
    "ephemeral",
    &[nested("volumeClaimTemplate", &[METADATA])],
)];

/// `core/v1 PodSpec`.
const POD_SPEC: Schema = &[
    merge_retain("volumes", "name", VOLUME),
    merge("initContainers", "name", CONTAINER),
    merge("containers", "name", CONTAINER),
    merge("ephemeralContainers", "name", CONTAINER),
    merge("imagePullSecrets", "name", &[]),
    merge("hostAliases", "ip", &[]),
    merge("topologySpreadConstraints", "topologyKey", &[]),
    merge("schedulingGates", "name", &[]),
    merge_retain("resourceClaims", "name", &[]),
    merge("evictionResponders", "name", &[]),
];

/// `core/v1 PodStatus`.
const POD_STATUS: Schema = &[
    CONDITIONS,
    merge("hostIPs", "ip", &[]),
    merge("podIPs", "ip", &[]),
    merge_retain("resourceClaimStatuses", "name", &[]),
    merge(
        "nodeAllocatableResourceClaimStatuses",
        "resourceClaimName",
        &[
            merge("mapping", "name", &[]),
            merge("overhead", "name", &[]),
        ],
    ),
];

/// `core/v1 PodTemplateSpec`.
const POD_TEMPLATE_SPEC: Schema = &[METADATA, nested("spec", POD_SPEC)];

const TEMPLATE: Field = nested("template", POD_TEMPLATE_SPEC);

/// `batch/v1 JobSpec`.
const JOB_SPEC: Schema = &[
    TEMPLATE,
    nested("scheduling", &[merge("resourceClaims", "name", &[])]),
];

/// Kinds with no tagged field outside `metadata` (and custom resources).
const OBJECT: Schema = &[METADATA];

const POD: Schema = &[
    METADATA,
    nested("spec", POD_SPEC),
    nested("status", POD_STATUS),
];
const POD_TEMPLATE: Schema = &[METADATA, TEMPLATE];
/// Deployment-like workloads without further tags: ReplicaSet, StatefulSet, DaemonSet and
/// ReplicationController.
const WORKLOAD: Schema = &[
    METADATA,
    nested("spec", &[TEMPLATE]),
    STATUS_WITH_CONDITIONS,
];
const DEPLOYMENT: Schema = &[
    METADATA,
    nested("spec", &[retain_keys_map("strategy"), TEMPLATE]),
    STATUS_WITH_CONDITIONS,
];
const JOB: Schema = &[METADATA, nested("spec", JOB_SPEC), STATUS_WITH_CONDITIONS];
const CRON_JOB: Schema = &[
    METADATA,
    nested(
        "spec",
        &[nested("jobTemplate", &[METADATA, nested("spec", JOB_SPEC)])],
    ),
];
const SERVICE: Schema = &[
    METADATA,
    nested("spec", &[merge("ports", "port", &[])]),
    STATUS_WITH_CONDITIONS,
];
const NODE: Schema = &[
    METADATA,
    nested("spec", &[merge("podCIDRs", "", &[])]),
    nested("status", &[CONDITIONS, merge("addresses", "type", &[])]),
];
const PERSISTENT_VOLUME_CLAIM: Schema = &[
    METADATA,
    nested(
        "status",
        &[
            CONDITIONS,
            nested("healthStatus", &[merge("healthConditions", "status", &[])]),
        ],
    ),
];
const SERVICE_ACCOUNT: Schema = &[METADATA, merge("secrets", "name", &[])];
const COMPONENT_STATUS: Schema = &[METADATA, CONDITIONS];
/// Kinds whose only tagged fields are `metadata` and `status.conditions`.
const WITH_CONDITIONS: Schema = &[METADATA, STATUS_WITH_CONDITIONS];
const POD_DISRUPTION_BUDGET: Schema = &[
    METADATA,
    nested("spec", &[replace_map("selector")]),
    STATUS_WITH_CONDITIONS,
];
const CSI_NODE: Schema = &[METADATA, nested("spec", &[merge("drivers", "name", &[])])];
const MATCH_CONDITIONS: Field = merge("matchConditions", "name", &[]);
const WEBHOOK_CONFIGURATION: Schema = &[METADATA, merge("webhooks", "name", &[MATCH_CONDITIONS])];
const VALIDATING_ADMISSION_POLICY: Schema = &[
    METADATA,
    nested("spec", &[MATCH_CONDITIONS, merge("variables", "name", &[])]),
];
const MUTATING_ADMISSION_POLICY: Schema = &[METADATA, nested("spec", &[MATCH_CONDITIONS])];
const RESOURCE_CLAIM: Schema = &[
    METADATA,
    nested("status", &[merge("reservedFor", "uid", &[])]),
];

/// The patch metadata of a kind; kinds without tagged fields (and unknown kinds) get `metadata`'s.
fn schema_for(group: &str, kind: &str) -> Schema {
    match (group, kind) {
        ("", "Pod") => POD,
        ("", "PodTemplate") => POD_TEMPLATE,
        ("", "ReplicationController") | ("apps", "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            WORKLOAD
        }
        ("", "Service") => SERVICE,
        ("", "Node") => NODE,
        ("", "PersistentVolumeClaim") => PERSISTENT_VOLUME_CLAIM,
        ("", "ServiceAccount") => SERVICE_ACCOUNT,
        ("", "ComponentStatus") => COMPONENT_STATUS,
        ("", "Namespace")
        | ("autoscaling", "HorizontalPodAutoscaler")
        | ("networking.k8s.io", "ServiceCIDR")
        | ("flowcontrol.apiserver.k8s.io", "FlowSchema" | "PriorityLevelConfiguration")
        | ("certificates.k8s.io", "PodCertificateRequest")
        | ("resource.k8s.io", "DeviceTaintRule") => WITH_CONDITIONS,
        ("apps", "Deployment") => DEPLOYMENT,
        ("batch", "Job") => JOB,
        ("batch", "CronJob") => CRON_JOB,
        ("policy", "PodDisruptionBudget") => POD_DISRUPTION_BUDGET,
        ("storage.k8s.io", "CSINode") => CSI_NODE,
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
        ) => WEBHOOK_CONFIGURATION,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            VALIDATING_ADMISSION_POLICY
        }
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy") => MUTATING_ADMISSION_POLICY,
        ("resource.k8s.io", "ResourceClaim") => RESOURCE_CLAIM,
        _ => OBJECT,
    }
}

/// The metadata of a field of `schema`, or the default for a field it does not list.
fn lookup(schema: Schema, name: &str) -> (Strategy, Schema) {
    schema
        .iter()
        .find(|field| field.name == name)
        .map_or((Strategy::Default, &[]), |field| {
            (field.strategy, field.fields)
        })
}

// ---------------------------------------------------------------------------------------------
// The merge.
// ---------------------------------------------------------------------------------------------

/// Merges `patch` into `original` (`mergeMap` upstream).
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        match directive.as_str() {
            // The rest of the patch is the new map; directives inside it still apply.
            Some(REPLACE) => return merge_map(Map::new(), patch, schema),
            Some(DELETE) => return Ok(Map::new()),
            Some(MERGE) => {}
            _ => return Err(unknown_patch_type(&directive, &patch)),
        }
    }
    retain_keys(&mut original, &mut patch)?;
    set_element_order(&mut original, &mut patch, schema)?;

    for (key, value) in patch {
        let (field, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (
                extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_string(),
                true,
            )
        } else {
            (key, false)
        };
        if value.is_null() {
            original.remove(&field);
            continue;
        }
        let (strategy, fields) = lookup(schema, &field);
        let current = original.get_mut(&field).map(std::mem::take);
        let merged =
            match (current, value) {
                (Some(Value::Array(current)), Value::Array(value)) => Some(Value::Array(
                    merge_list(current, value, &field, strategy, fields, delete_list)?,
                )),
                // A deletion list for a field that is not a list removes nothing.
                (current, _) if delete_list => current,
                (Some(Value::Object(current)), Value::Object(value)) => {
                    let base = if strategy == Strategy::Replace {
                        Map::new()
                    } else {
                        current
                    };
                    Some(Value::Object(merge_map(base, value, fields)?))
                }
                // Absent, or of another type: the patch value is taken, its directives applied.
                (_, value) => fresh(value, fields)?,
            };
        match merged {
            Some(merged) => {
                original.insert(field, merged);
            }
            None => {
                original.remove(&field);
            }
        }
    }
    Ok(original)
}

/// A patch value for a field the original does not have (`removeDirectives` upstream): a map
/// with `$patch: delete` is no value at all, list elements with a `$patch` are dropped, and the
/// directives of nested maps are applied against nothing.
fn fresh(value: Value, schema: Schema) -> Result<Option<Value>> {
    match value {
        Value::Object(map) => {
            if map.get(DIRECTIVE).and_then(Value::as_str) == Some(DELETE) {
                return Ok(None);
            }
            Ok(Some(Value::Object(merge_map(Map::new(), map, schema)?)))
        }
        Value::Array(list) => Ok(Some(Value::Array(fresh_list(list, schema)?))),
        other => Ok(Some(other)),
    }
}

/// A patch list taken as a whole (a list new to the object, or one replaced by its strategy).
fn fresh_list(list: Vec<Value>, schema: Schema) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        match item {
            Value::Object(map) if map.contains_key(DIRECTIVE) => {}
            Value::Object(map) => out.push(Value::Object(merge_map(Map::new(), map, schema)?)),
            Value::Array(list) => out.push(Value::Array(fresh_list(list, schema)?)),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Applies `$retainKeys`: the keys of `original` not listed are dropped, and every key the patch
/// sets must be listed (`applyRetainKeysDirective` upstream).
fn retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<()> {
    let Some(keys) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(keys) = keys else {
        return Err(bad("invalid patch format of retainKeys"));
    };
    let keys: HashSet<&str> = keys.iter().filter_map(Value::as_str).collect();
    let unlisted = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !keys.contains(key.as_str())
    });
    if unlisted {
        return Err(bad("invalid patch format of retainKeys"));
    }
    original.retain(|key, _| keys.contains(key.as_str()));
    Ok(())
}

/// Processes every `$setElementOrder/<field>` of `patch` together with the patch list of that
/// field, which is merged here and removed from `patch` (`mergePatchIntoOriginal` upstream).
/// The final order: the items named by the directive in its order, interleaved with the items
/// only the server has, in their live order.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema,
) -> Result<()> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in directives {
        let Some(order) = patch.remove(&directive) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad(format!(
                "{directive}: expected a list, but received {}",
                json_type(&order)
            )));
        };
        let field = extract_key(&directive, SET_ELEMENT_ORDER)?.to_string();
        let (strategy, fields) = lookup(schema, &field);
        let merge_key = strategy.list_merge_key().unwrap_or("");

        let current = match original.get_mut(&field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => Some(std::mem::take(list)),
            Some(other) => {
                return Err(bad(format!(
                    "{field}: expected a list, but the object has {}",
                    json_type(other)
                )));
            }
        };
        let patched = match patch.remove(&field) {
            None => None,
            Some(Value::Array(list)) => Some(list),
            Some(other) => {
                return Err(bad(format!(
                    "{field}: expected a list, but received {}",
                    json_type(&other)
                )));
            }
        };
        validate_order(patched.as_deref().unwrap_or(&[]), &order, merge_key)?;

        let live = current.as_deref().unwrap_or(&[]);
        let ordering = match element_kind(live, patched.as_deref().unwrap_or(&[]))? {
            None => None,
            Some(Kind::Object) if merge_key.is_empty() => {
                return Err(bad(format!(
                    "cannot order the list {field}: it has no merge key"
                )));
            }
            Some(_) => {
                require_merge_key(&order, merge_key)?;
                require_merge_key(live, merge_key)?;
                Some((
                    Positions::of(&order, merge_key),
                    Positions::of(live, merge_key),
                ))
            }
        };
        let merged = match (current, patched) {
            (Some(current), None) => current,
            (None, Some(patched)) => fresh_list(patched, fields)?,
            (Some(current), Some(patched)) => {
                merge_list(current, patched, &field, strategy, fields, false)?
            }
            (None, None) => continue,
        };
        let merged = match ordering {
            None => merged,
            Some((named, was)) => arrange(merged, &named, &was, merge_key)?,
        };
        original.insert(field, Value::Array(merged));
    }
    Ok(())
}

/// Checks that the patch list names its items in the order of the `$setElementOrder` list
/// (`validatePatchWithSetOrderList` upstream).
fn validate_order(patched: &[Value], order: &[Value], merge_key: &str) -> Result<()> {
    if order.is_empty() || patched.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(patched.len());
    for item in patched {
        if merge_key.is_empty() {
            items.push(item);
            continue;
        }
        let Value::Object(map) = item else {
            return Err(bad(format!(
                "expected an object in the list, but received {}",
                json_type(item)
            )));
        };
        if map.get(DIRECTIVE).and_then(Value::as_str) != Some(DELETE) {
            items.push(item);
        }
    }
    let has_directive = |item: &Value| item.get(DIRECTIVE).is_some();
    let (mut p, mut o) = (0, 0);
    while let (Some(item), Some(ordered)) = (items.get(p), order.get(o)) {
        if has_directive(item) {
            p += 1;
            continue;
        }
        if identity(item, merge_key)? == identity(ordered, merge_key)? {
            p += 1;
        }
        o += 1;
    }
    while items.get(p).is_some_and(|item| has_directive(item)) {
        p += 1;
    }
    if p < items.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(patched.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Merges two lists by the field's strategy (`mergeSliceHandler` upstream): a merged list by its
/// key, a deletion list by value, anything else replaced by the patch.
fn merge_list(
    current: Vec<Value>,
    patch: Vec<Value>,
    field: &str,
    strategy: Strategy,
    fields: Schema,
    delete_list: bool,
) -> Result<Vec<Value>> {
    match strategy.list_merge_key() {
        Some(merge_key) => merge_slice(current, patch, field, merge_key, fields, delete_list),
        None if delete_list => merge_slice(current, patch, field, "", fields, true),
        None => fresh_list(patch, fields),
    }
}

/// The type of a list's elements, as far as merging cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Object,
}

/// The common element type of two lists, `None` when both are empty (`sliceElementType`).
fn element_kind(a: &[Value], b: &[Value]) -> Result<Option<Kind>> {
    let mut kind = None;
    for item in a.iter().chain(b) {
        let this = match item {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Object(_) => Kind::Object,
            Value::Array(_) => return Err(bad("lists of lists are not supported")),
        };
        match kind {
            None => kind = Some(this),
            Some(kind) if kind != this => {
                return Err(bad(format!(
                    "list element types are not identical: {} and {}",
                    Value::Array(a.to_vec()),
                    Value::Array(b.to_vec())
                )));
            }
            Some(_) => {}
        }
    }
    Ok(kind)
}

/// Merges a patch list into a merge list (`mergeSlice` upstream).
fn merge_slice(
    current: Vec<Value>,
    patch: Vec<Value>,
    field: &str,
    merge_key: &str,
    fields: Schema,
    delete_list: bool,
) -> Result<Vec<Value>> {
    let Some(kind) = element_kind(&current, &patch)? else {
        return Ok(current);
    };
    if kind != Kind::Object {
        if delete_list {
            let remove: HashSet<String> = patch.iter().map(Value::to_string).collect();
            return Ok(current
                .into_iter()
                .filter(|item| !remove.contains(&item.to_string()))
                .collect());
        }
        return merge_scalars(current, patch);
    }
    if delete_list {
        return Err(bad("invalid patch format of primitive list"));
    }
    if merge_key.is_empty() {
        return Err(bad(format!(
            "cannot merge lists without merge key for {field}"
        )));
    }

    // Elements carrying `$patch`: deletions by key, or a replacement of the whole list.
    let mut deleted = HashSet::new();
    let mut replace = false;
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        let Value::Object(map) = item else {
            return Err(bad(format!(
                "expected an object in {field}, but received {}",
                json_type(&item)
            )));
        };
        let Some(directive) = map.get(DIRECTIVE) else {
            items.push(map);
            continue;
        };
        match directive.as_str() {
            Some(DELETE) => match map.get(merge_key) {
                Some(id) => {
                    deleted.insert(id.to_string());
                }
                None => return Err(no_merge_key(&map, merge_key)),
            },
            Some(REPLACE) => replace = true,
            Some(MERGE) => return Err(bad("merging lists cannot yet be specified in the patch")),
            _ => return Err(unknown_patch_type(directive, &map)),
        }
    }
    let (base, items) = if replace {
        let mut base = Vec::with_capacity(items.len());
        for item in items {
            base.push(Value::Object(merge_map(Map::new(), item, fields)?));
        }
        (base, Vec::new())
    } else if deleted.is_empty() {
        (current, items)
    } else {
        let kept = current
            .into_iter()
            .filter(|item| {
                item.get(merge_key)
                    .is_none_or(|id| !deleted.contains(&id.to_string()))
            })
            .collect();
        (kept, items)
    };

    // Merge each patch item into the live item with the same key, or append it.
    let was = Positions::of(&base, merge_key);
    let named = Positions::of_ids(items.iter().filter_map(|item| item.get(merge_key)));
    let mut position = was.0.clone();
    let mut merged = base;
    for item in items {
        let Some(id) = item.get(merge_key) else {
            return Err(no_merge_key(&item, merge_key));
        };
        let id = id.to_string();
        match position.get(&id).and_then(|&index| merged.get_mut(index)) {
            Some(slot) => {
                let Value::Object(live) = std::mem::take(slot) else {
                    return Err(bad(format!("{field}: a live element is not an object")));
                };
                *slot = Value::Object(merge_map(live, item, fields)?);
            }
            None => {
                position.insert(id, merged.len());
                merged.push(Value::Object(merge_map(Map::new(), item, fields)?));
            }
        }
    }
    arrange(merged, &named, &was, merge_key)
}

/// Merges two lists of scalars as ordered sets.
fn merge_scalars(current: Vec<Value>, patch: Vec<Value>) -> Result<Vec<Value>> {
    let mut seen = HashSet::new();
    let mut all = Vec::with_capacity(current.len() + patch.len());
    for item in current.iter().chain(&patch) {
        if seen.insert(item.to_string()) {
            all.push(item.clone());
        }
    }
    arrange(
        all,
        &Positions::of(&patch, ""),
        &Positions::of(&current, ""),
        "",
    )
}

/// The identity of a list element for ordering: its merge key's value, or itself.
fn identity<'a>(item: &'a Value, merge_key: &str) -> Result<&'a Value> {
    if merge_key.is_empty() {
        return Ok(item);
    }
    match item {
        Value::Object(map) => map
            .get(merge_key)
            .ok_or_else(|| no_merge_key(map, merge_key)),
        other => Err(bad(format!(
            "expected an object in the list, but received {}",
            json_type(other)
        ))),
    }
}

/// Every element of `list` has the merge key.
fn require_merge_key(list: &[Value], merge_key: &str) -> Result<()> {
    list.iter()
        .try_for_each(|item| identity(item, merge_key).map(drop))
}

/// Positions of identities in a list (the first occurrence of each).
struct Positions(HashMap<String, usize>);

impl Positions {
    /// Positions of the identities of the elements of `list`.
    fn of(list: &[Value], merge_key: &str) -> Self {
        Self::of_ids(
            list.iter()
                .filter_map(|item| identity(item, merge_key).ok()),
        )
    }

    /// Positions of the identities in `ids`.
    fn of_ids<'a>(ids: impl Iterator<Item = &'a Value>) -> Self {
        let mut positions = HashMap::new();
        for (index, id) in ids.enumerate() {
            positions.entry(id.to_string()).or_insert(index);
        }
        Positions(positions)
    }

    /// The position of `item`'s identity.
    fn get(&self, item: &Value, merge_key: &str) -> Option<usize> {
        let id = identity(item, merge_key).ok()?;
        self.0.get(&id.to_string()).copied()
    }
}

/// Orders a merged list (`normalizeElementOrder` upstream): the items `named` by the patch sorted
/// by it, the others sorted by where they `was` in the live list, and the two interleaved so that
/// an untouched item comes before a named item only when both were in the live list and it came
/// first there. An item new to the list thus goes before the untouched items not yet placed.
fn arrange(
    merged: Vec<Value>,
    named: &Positions,
    was: &Positions,
    merge_key: &str,
) -> Result<Vec<Value>> {
    let (mut patched, mut server_only) = (Vec::new(), Vec::new());
    for item in merged {
        let id = identity(&item, merge_key)?;
        if named.0.contains_key(&id.to_string()) {
            patched.push(item);
        } else {
            server_only.push(item);
        }
    }
    patched.sort_by_cached_key(|item| named.get(item, merge_key).unwrap_or(usize::MAX));
    server_only.sort_by_cached_key(|item| was.get(item, merge_key).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(patched.len() + server_only.len());
    let mut patched = patched.into_iter().peekable();
    let mut server_only = server_only.into_iter().peekable();
    loop {
        let take_server = match (server_only.peek(), patched.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(left), Some(right)) => {
                match (was.get(left, merge_key), was.get(right, merge_key)) {
                    (Some(l), Some(r)) => l < r,
                    _ => false,
                }
            }
        };
        let next = if take_server {
            server_only.next()
        } else {
            patched.next()
        };
        out.extend(next);
    }
    Ok(out)
}

/// The field named by a `<prefix>/<field>` directive key.
fn extract_key<'a>(key: &'a str, prefix: &str) -> Result<&'a str> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ if prefix == SET_ELEMENT_ORDER => {
            Err(bad("invalid patch format of setElementOrder list"))
        }
        _ => Err(bad("invalid patch format of primitive list")),
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

fn unknown_patch_type(directive: &Value, map: &Map<String, Value>) -> ApiError {
    let directive = directive
        .as_str()
        .map_or_else(|| directive.to_string(), str::to_string);
    bad(format!(
        "unknown patch type: {directive} in map: {}",
        Value::Object(map.clone())
    ))
}

fn no_merge_key(map: &Map<String, Value>, merge_key: &str) -> ApiError {
    bad(format!(
        "map: {} does not contain declared merge key: {merge_key}",
        Value::Object(map.clone())
    ))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The strategy of the field at a dotted path (list elements elided), as the table says.
    fn strategy_at(group: &str, kind: &str, path: &str) -> Strategy {
        let mut schema = schema_for(group, kind);
        let mut strategy = Strategy::Default;
        for name in path.split('.') {
            (strategy, schema) = lookup(schema, name);
        }
        strategy
    }

    fn parse(what: &str, name: &str, text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: bad {what} JSON: {e}"))
    }

    /// Directive keys left anywhere in `value`.
    fn directives(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    if key == DIRECTIVE
                        || key == RETAIN_KEYS
                        || key.starts_with(SET_ELEMENT_ORDER)
                        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                    {
                        found.push(format!("{path}.{key}"));
                    }
                    directives(value, &format!("{path}.{key}"), found);
                }
            }
            Value::Array(list) => {
                for (index, value) in list.iter().enumerate() {
                    directives(value, &format!("{path}[{index}]"), found);
                }
            }
            _ => {}
        }
    }

    /// `(name, group, kind, original, patch, expected)`; list order is compared.
    const CASES: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "null deletes a key, other keys stay",
            "",
            "ConfigMap",
            r#"{"data":{"a":"1","b":"2"}}"#,
            r#"{"data":{"a":null,"c":"3"}}"#,
            r#"{"data":{"b":"2","c":"3"}}"#,
        ),
        (
            "null for a missing key is ignored, nested maps merge",
            "",
            "ConfigMap",
            r#"{"metadata":{"name":"x","labels":{"a":"1"}}}"#,
            r#"{"metadata":{"labels":{"b":"2","zz":null},"annotations":{"n":null,"k":"v"}}}"#,
            r#"{"metadata":{"name":"x","labels":{"a":"1","b":"2"},"annotations":{"k":"v"}}}"#,
        ),
        (
            "a null patch changes nothing",
            "",
            "ConfigMap",
            r#"{"data":{"a":"1"}}"#,
            r#"null"#,
            r#"{"data":{"a":"1"}}"#,
        ),
        (
            "$patch: replace replaces a map",
            "",
            "ConfigMap",
            r#"{"metadata":{"labels":{"a":"1","b":"2"}}}"#,
            r#"{"metadata":{"labels":{"$patch":"replace","c":"3"}}}"#,
            r#"{"metadata":{"labels":{"c":"3"}}}"#,
        ),
        (
            "$patch: delete empties a present map",
            "",
            "ConfigMap",
            r#"{"metadata":{"labels":{"a":"1"}},"data":{"k":"v"}}"#,
            r#"{"metadata":{"labels":{"$patch":"delete"}}}"#,
            r#"{"metadata":{"labels":{}},"data":{"k":"v"}}"#,
        ),
        (
            "$patch: delete of a missing map adds nothing",
            "",
            "ConfigMap",
            r#"{"metadata":{"name":"x"}}"#,
            r#"{"metadata":{"labels":{"$patch":"delete"}}}"#,
            r#"{"metadata":{"name":"x"}}"#,
        ),
        (
            "$patch: merge is the default merge",
            "",
            "ConfigMap",
            r#"{"data":{"a":"1"}}"#,
            r#"{"data":{"$patch":"merge","b":"2"}}"#,
            r#"{"data":{"a":"1","b":"2"}}"#,
        ),
        (
            "containers merge by name",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a","image":"a:1","args":["x"]},{"name":"b","image":"b:1"}]}}"#,
            r#"{"spec":{"containers":[{"name":"b","image":"b:2"}]}}"#,
            r#"{"spec":{"containers":[{"name":"a","image":"a:1","args":["x"]},{"name":"b","image":"b:2"}]}}"#,
        ),
        (
            "a container new to the list comes first, as upstream puts it",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","image":"c"}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","image":"c"},{"name":"a"},{"name":"b"}]}}"#,
        ),
        (
            "a new item goes before the untouched items not yet placed",
            "",
            "Service",
            r#"{"spec":{"ports":[{"port":1},{"port":2},{"port":3}]}}"#,
            r#"{"spec":{"ports":[{"port":2,"name":"b"},{"port":9}]}}"#,
            r#"{"spec":{"ports":[{"port":1},{"port":2,"name":"b"},{"port":9},{"port":3}]}}"#,
        ),
        (
            "the order of the patch list wins over the live order",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"1"},{"name":"2","image":"b"},{"name":"3"}]}}"#,
            r#"{"spec":{"containers":[{"name":"3","image":"c"},{"name":"1","image":"a"}]}}"#,
            r#"{"spec":{"containers":[{"name":"2","image":"b"},{"name":"3","image":"c"},{"name":"1","image":"a"}]}}"#,
        ),
        (
            "env, ports, volumeMounts and volumeDevices merge by their keys",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"app",
                "env":[{"name":"A","value":"1"},{"name":"B","value":"1"}],
                "ports":[{"containerPort":80,"name":"http"},{"containerPort":443}],
                "volumeMounts":[{"mountPath":"/a","name":"va"},{"mountPath":"/b","name":"vb"}],
                "volumeDevices":[{"devicePath":"/dev/x","name":"x"}]}]}}"#,
            r#"{"spec":{"containers":[{"name":"app",
                "env":[{"name":"B","value":"2"}],
                "ports":[{"containerPort":80,"protocol":"TCP"}],
                "volumeMounts":[{"mountPath":"/b","readOnly":true}],
                "volumeDevices":[{"devicePath":"/dev/x","name":"y"}]}]}}"#,
            r#"{"spec":{"containers":[{"name":"app",
                "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
                "ports":[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":443}],
                "volumeMounts":[{"mountPath":"/a","name":"va"},{"mountPath":"/b","name":"vb","readOnly":true}],
                "volumeDevices":[{"devicePath":"/dev/x","name":"y"}]}]}}"#,
        ),
        (
            "initContainers, imagePullSecrets and hostAliases merge",
            "",
            "Pod",
            r#"{"spec":{"initContainers":[{"name":"i","env":[{"name":"A","value":"1"}]}],
                "imagePullSecrets":[{"name":"s1"}],
                "hostAliases":[{"ip":"10.0.0.1","hostnames":["a"]}]}}"#,
            r#"{"spec":{"initContainers":[{"name":"i","env":[{"name":"B","value":"2"}]}],
                "imagePullSecrets":[{"name":"s2"}],
                "hostAliases":[{"ip":"10.0.0.1","hostnames":["b"]}]}}"#,
            r#"{"spec":{"initContainers":[{"name":"i","env":[{"name":"B","value":"2"},{"name":"A","value":"1"}]}],
                "imagePullSecrets":[{"name":"s2"},{"name":"s1"}],
                "hostAliases":[{"ip":"10.0.0.1","hostnames":["b"]}]}}"#,
        ),
        (
            "tolerations, args, command and envFrom are replaced",
            "",
            "Pod",
            r#"{"spec":{"tolerations":[{"key":"a","operator":"Exists"}],
                "containers":[{"name":"c","args":["1","2"],"command":["sh"],"envFrom":[{"prefix":"A"}]}]}}"#,
            r#"{"spec":{"tolerations":[{"key":"b","operator":"Exists"}],
                "containers":[{"name":"c","args":["3"],"command":["bash"],"envFrom":[{"prefix":"B"}]}]}}"#,
            r#"{"spec":{"tolerations":[{"key":"b","operator":"Exists"}],
                "containers":[{"name":"c","args":["3"],"command":["bash"],"envFrom":[{"prefix":"B"}]}]}}"#,
        ),
        (
            "pod status conditions merge by type",
            "",
            "Pod",
            r#"{"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"False"}]}}"#,
            r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
            r#"{"status":{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}]}}"#,
        ),
        (
            "service ports merge by port",
            "",
            "Service",
            r#"{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443,"targetPort":8443}]}}"#,
            r#"{"spec":{"ports":[{"port":443,"targetPort":9443}]}}"#,
            r#"{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443,"targetPort":9443}]}}"#,
        ),
        (
            "node addresses and conditions merge by type",
            "",
            "Node",
            r#"{"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"Hostname","address":"n1"}],
                "conditions":[{"type":"Ready","status":"False"},{"type":"DiskPressure","status":"False"}]}}"#,
            r#"{"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"}],
                "conditions":[{"type":"Ready","status":"True"}]}}"#,
            r#"{"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"},{"type":"Hostname","address":"n1"}],
                "conditions":[{"type":"Ready","status":"True"},{"type":"DiskPressure","status":"False"}]}}"#,
        ),
        (
            "ownerReferences merge by uid",
            "apps",
            "ReplicaSet",
            r#"{"metadata":{"ownerReferences":[{"uid":"u1","name":"d1","controller":true},{"uid":"u2","name":"d2"}]}}"#,
            r#"{"metadata":{"ownerReferences":[{"uid":"u1","controller":false}]}}"#,
            r#"{"metadata":{"ownerReferences":[{"uid":"u1","name":"d1","controller":false},{"uid":"u2","name":"d2"}]}}"#,
        ),
        (
            "finalizers merge as an ordered set",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":["a","b"]}}"#,
            r#"{"metadata":{"finalizers":["b","c"]}}"#,
            r#"{"metadata":{"finalizers":["a","b","c"]}}"#,
        ),
        (
            "a finalizer new to the set comes first, as upstream puts it",
            "",
            "Secret",
            r#"{"metadata":{"finalizers":["a","b"]}}"#,
            r#"{"metadata":{"finalizers":["c","c"]}}"#,
            r#"{"metadata":{"finalizers":["c","a","b"]}}"#,
        ),
        (
            "the order of a patched primitive list wins",
            "",
            "Node",
            r#"{"spec":{"podCIDRs":["1","2","3"]}}"#,
            r#"{"spec":{"podCIDRs":["3","1"]}}"#,
            r#"{"spec":{"podCIDRs":["2","3","1"]}}"#,
        ),
        (
            "$deleteFromPrimitiveList removes finalizers",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":["a","b","a","c"]}}"#,
            r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a","zz"]}}"#,
            r#"{"metadata":{"finalizers":["b","c"]}}"#,
        ),
        (
            "$deleteFromPrimitiveList works on a replaced list too",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"c","args":["1","2","3"]}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","$deleteFromPrimitiveList/args":["2"]}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","args":["1","3"]}]}}"#,
        ),
        (
            "$deleteFromPrimitiveList of a missing list adds nothing",
            "",
            "ConfigMap",
            r#"{"metadata":{"name":"x"}}"#,
            r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#,
            r#"{"metadata":{"name":"x"}}"#,
        ),
        (
            "additions and deletions of finalizers together",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":["a","b"]}}"#,
            r#"{"metadata":{"$setElementOrder/finalizers":["b","c"],"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]}}"#,
            r#"{"metadata":{"finalizers":["b","c"]}}"#,
        ),
        (
            "kubectl apply: $setElementOrder on containers and env",
            "apps",
            "Deployment",
            r#"{"spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[
                {"name":"app","image":"nginx:1.25","env":[{"name":"A","value":"1"},{"name":"B","value":"1"}]},
                {"name":"sidecar","image":"busybox"}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"app"}],"containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"name":"A","value":"2"}],"image":"nginx:1.27","name":"app"}]}}}}"#,
            r#"{"spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[
                {"name":"app","image":"nginx:1.27","env":[{"name":"A","value":"2"},{"name":"B","value":"1"}]},
                {"name":"sidecar","image":"busybox"}]}}}}"#,
        ),
        (
            "kubectl apply: deleted env entry and new container in $setElementOrder order",
            "apps",
            "Deployment",
            r#"{"spec":{"template":{"spec":{"containers":[
                {"name":"app","env":[{"name":"A","value":"1"},{"name":"B","value":"1"}]}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"app"},{"name":"new"}],
                "containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],"name":"app"},
                {"name":"new","image":"busybox"}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[
                {"name":"app","env":[{"name":"A","value":"1"}]},{"name":"new","image":"busybox"}]}}}}"#,
        ),
        (
            "$setElementOrder alone reorders the live list",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}}"#,
            r#"{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"}]}}"#,
            // Upstream's interleaving: `b` was before `c` in the live list, so it stays before it.
            r#"{"spec":{"containers":[{"name":"b"},{"name":"c"},{"name":"a"}]}}"#,
        ),
        (
            "$setElementOrder may name items the list does not have",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":["1","3"]}}"#,
            r#"{"metadata":{"$setElementOrder/finalizers":["3","2","1"]}}"#,
            r#"{"metadata":{"finalizers":["3","1"]}}"#,
        ),
        (
            "$setElementOrder orders a list new to the object and its directives apply",
            "",
            "Pod",
            r#"{"spec":{}}"#,
            r#"{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
                "containers":[{"name":"b","$setElementOrder/env":[{"name":"X"}],"env":[{"name":"X","value":"1"}]},{"name":"a"}]}}"#,
            r#"{"spec":{"containers":[{"name":"b","env":[{"name":"X","value":"1"}]},{"name":"a"}]}}"#,
        ),
        (
            "$patch: delete removes a list element by its merge key",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"a","image":"dup"}]}}"#,
            r#"{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}"#,
            r#"{"spec":{"containers":[{"name":"b"}]}}"#,
        ),
        (
            "$patch: replace in a list replaces the whole list",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a","image":"a"},{"name":"b"}]}}"#,
            r#"{"spec":{"containers":[{"$patch":"replace"},{"name":"x","image":"x","env":[{"name":"E","value":"1"}]}]}}"#,
            r#"{"spec":{"containers":[{"name":"x","image":"x","env":[{"name":"E","value":"1"}]}]}}"#,
        ),
        (
            "$patch: replace alone empties a list",
            "",
            "Service",
            r#"{"spec":{"ports":[{"port":80},{"port":81}]}}"#,
            r#"{"spec":{"ports":[{"$patch":"replace"}]}}"#,
            r#"{"spec":{"ports":[]}}"#,
        ),
        (
            "retainKeys drops rollingUpdate when the strategy becomes Recreate",
            "apps",
            "Deployment",
            r#"{"spec":{"replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}}}}"#,
            r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#,
            r#"{"spec":{"replicas":2,"strategy":{"type":"Recreate"}}}"#,
        ),
        (
            "retainKeys as kubectl sends it, with the null for the removed key",
            "apps",
            "Deployment",
            r#"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}"#,
            r#"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}"#,
            r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
        ),
        (
            "retainKeys keeps listed keys and merges them",
            "apps",
            "Deployment",
            r#"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}"#,
            r#"{"spec":{"strategy":{"$retainKeys":["type","rollingUpdate"],"rollingUpdate":{"maxSurge":2}}}}"#,
            r#"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":2,"maxUnavailable":0}}}}"#,
        ),
        (
            "retainKeys in a volume changes its source",
            "apps",
            "StatefulSet",
            r#"{"spec":{"template":{"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"w","secret":{"secretName":"s"}}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"volumes":[{"name":"v","$retainKeys":["configMap","name"],"configMap":{"name":"c"}}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"volumes":[{"name":"v","configMap":{"name":"c"}},{"name":"w","secret":{"secretName":"s"}}]}}}}"#,
        ),
        (
            "directives in a map new to the object are applied, not stored",
            "apps",
            "Deployment",
            r#"{"spec":{"replicas":1}}"#,
            r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}}"#,
            r#"{"spec":{"replicas":1,"strategy":{"type":"Recreate"}}}"#,
        ),
        (
            "directive elements of a list new to the object are dropped",
            "",
            "Pod",
            r#"{"spec":{}}"#,
            r#"{"spec":{"containers":[{"name":"gone","$patch":"delete"},{"name":"a","env":[{"name":"X","$patch":"delete"}]}]}}"#,
            r#"{"spec":{"containers":[{"name":"a","env":[]}]}}"#,
        ),
        (
            "pod template of a DaemonSet",
            "apps",
            "DaemonSet",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b"}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"},{"name":"b"}]}}}}"#,
        ),
        (
            "pod template of a ReplicationController",
            "",
            "ReplicationController",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b"}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"},{"name":"b"}]}}}}"#,
        ),
        (
            "pod template of a Job",
            "batch",
            "Job",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"1"}]}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"2"}]}]}}}}"#,
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"2"}]}]}}}}"#,
        ),
        (
            "pod template of a CronJob's job template",
            "batch",
            "CronJob",
            r#"{"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b"}]}}}}}}"#,
            r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"}]}}}}}}"#,
            r#"{"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"},{"name":"b"}]}}}}}}"#,
        ),
        (
            "a PodDisruptionBudget selector is replaced",
            "policy",
            "PodDisruptionBudget",
            r#"{"spec":{"minAvailable":1,"selector":{"matchLabels":{"a":"1"}}}}"#,
            r#"{"spec":{"selector":{"matchLabels":{"b":"2"}}}}"#,
            r#"{"spec":{"minAvailable":1,"selector":{"matchLabels":{"b":"2"}}}}"#,
        ),
        (
            "a Deployment selector merges",
            "apps",
            "Deployment",
            r#"{"spec":{"selector":{"matchLabels":{"a":"1"}}}}"#,
            r#"{"spec":{"selector":{"matchLabels":{"b":"2"}}}}"#,
            r#"{"spec":{"selector":{"matchLabels":{"a":"1","b":"2"}}}}"#,
        ),
        (
            "Deployment status conditions merge by type",
            "apps",
            "Deployment",
            r#"{"status":{"conditions":[{"type":"Available","status":"False"},{"type":"Progressing","status":"True"}]}}"#,
            r#"{"status":{"conditions":[{"type":"Available","status":"True"}]}}"#,
            r#"{"status":{"conditions":[{"type":"Available","status":"True"},{"type":"Progressing","status":"True"}]}}"#,
        ),
        (
            "a kind without tags replaces lists but merges finalizers",
            "example.com",
            "Widget",
            r#"{"metadata":{"finalizers":["a"]},"spec":{"items":[{"name":"a"},{"name":"b"}]}}"#,
            r#"{"metadata":{"finalizers":["b"]},"spec":{"items":[{"name":"c"}]}}"#,
            r#"{"metadata":{"finalizers":["b","a"]},"spec":{"items":[{"name":"c"}]}}"#,
        ),
        (
            "a value of another type replaces",
            "",
            "ConfigMap",
            r#"{"data":{"a":"1"},"x":[1,2]}"#,
            r#"{"data":"flat","x":{"y":1}}"#,
            r#"{"data":"flat","x":{"y":1}}"#,
        ),
        (
            "webhooks and their matchConditions merge by name",
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            r#"{"webhooks":[{"name":"w","matchConditions":[{"name":"m1","expression":"true"},{"name":"m2","expression":"true"}]}]}"#,
            r#"{"webhooks":[{"name":"w","matchConditions":[{"name":"m2","expression":"false"}]}]}"#,
            r#"{"webhooks":[{"name":"w","matchConditions":[{"name":"m1","expression":"true"},{"name":"m2","expression":"false"}]}]}"#,
        ),
    ];

    #[test]
    fn cases() {
        for &(name, group, kind, original, patch, expected) in CASES {
            let original = parse("original", name, original);
            let patch = parse("patch", name, patch);
            let expected = parse("expected", name, expected);
            let got =
                apply(&original, &patch, group, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, expected, "{name}");
            let mut found = Vec::new();
            directives(&got, "", &mut found);
            assert!(found.is_empty(), "{name}: directives left: {found:?}");
        }
    }

    /// `(name, group, kind, original, patch, part of the error message)`.
    const ERRORS: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "patch is a list",
            "",
            "Pod",
            "{}",
            "[]",
            "cannot unmarshal array",
        ),
        (
            "patch is a string",
            "",
            "Pod",
            "{}",
            r#""x""#,
            "cannot unmarshal string",
        ),
        (
            "unknown $patch in a map",
            "",
            "ConfigMap",
            r#"{"data":{"a":"1"}}"#,
            r#"{"data":{"$patch":"bogus"}}"#,
            "unknown patch type: bogus",
        ),
        (
            "$patch that is not a string",
            "",
            "ConfigMap",
            r#"{"data":{"a":"1"}}"#,
            r#"{"data":{"$patch":1}}"#,
            "unknown patch type: 1",
        ),
        (
            "unknown $patch in a list element",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"}]}}"#,
            r#"{"spec":{"containers":[{"name":"a","$patch":"bogus"}]}}"#,
            "unknown patch type: bogus",
        ),
        (
            "$patch: merge in a list element",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"}]}}"#,
            r#"{"spec":{"containers":[{"$patch":"merge"}]}}"#,
            "merging lists cannot yet be specified",
        ),
        (
            "merge-list element without its merge key",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"}]}}"#,
            r#"{"spec":{"containers":[{"image":"x"}]}}"#,
            "does not contain declared merge key: name",
        ),
        (
            "$patch: delete without the merge key",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a","env":[{"name":"A"}]}]}}"#,
            r#"{"spec":{"containers":[{"name":"a","env":[{"$patch":"delete","value":"x"}]}]}}"#,
            "does not contain declared merge key: name",
        ),
        (
            "$setElementOrder that is not a list",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"}]}}"#,
            r#"{"spec":{"$setElementOrder/containers":{"name":"a"}}}"#,
            "expected a list",
        ),
        (
            "$setElementOrder without a field",
            "",
            "Pod",
            r#"{"spec":{}}"#,
            r#"{"spec":{"$setElementOrder":[]}}"#,
            "invalid patch format of setElementOrder list",
        ),
        (
            "$setElementOrder disagreeing with the patch list",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"1"},{"name":"3"},{"name":"2"}]}}"#,
            r#"{"spec":{"$setElementOrder/containers":[{"name":"1"},{"name":"2"},{"name":"3"}],"containers":[{"name":"3"},{"name":"1"}]}}"#,
            "doesn't match",
        ),
        (
            "$setElementOrder entry without the merge key",
            "",
            "Pod",
            r#"{"spec":{"containers":[{"name":"a"}]}}"#,
            r#"{"spec":{"$setElementOrder/containers":[{"image":"a"}],"containers":[{"name":"a"}]}}"#,
            "does not contain declared merge key: name",
        ),
        (
            "$deleteFromPrimitiveList without a field",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":["a"]}}"#,
            r#"{"metadata":{"$deleteFromPrimitiveList":["a"]}}"#,
            "invalid patch format of primitive list",
        ),
        (
            "$retainKeys that is not a list",
            "apps",
            "Deployment",
            r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
            r#"{"spec":{"strategy":{"$retainKeys":"type"}}}"#,
            "invalid patch format of retainKeys",
        ),
        (
            "$retainKeys that does not list a key the patch sets",
            "apps",
            "Deployment",
            r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
            r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}"#,
            "invalid patch format of retainKeys",
        ),
        (
            "list elements of different types",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":["a"]}}"#,
            r#"{"metadata":{"finalizers":[1]}}"#,
            "list element types are not identical",
        ),
        (
            "list of lists",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":[]}}"#,
            r#"{"metadata":{"finalizers":[["a"]]}}"#,
            "lists of lists are not supported",
        ),
        (
            "objects in a merged list of scalars",
            "",
            "ConfigMap",
            r#"{"metadata":{"finalizers":[]}}"#,
            r#"{"metadata":{"finalizers":[{"a":"b"}]}}"#,
            "cannot merge lists without merge key for finalizers",
        ),
    ];

    #[test]
    fn errors() {
        for &(name, group, kind, original, patch, message) in ERRORS {
            let original = parse("original", name, original);
            let patch = parse("patch", name, patch);
            match apply(&original, &patch, group, kind) {
                Err(ApiError::BadRequest(got)) => {
                    assert!(
                        got.contains(message),
                        "{name}: {got:?} does not contain {message:?}"
                    )
                }
                other => panic!("{name}: expected a BadRequest, got {other:?}"),
            }
        }
    }

    #[test]
    fn original_that_is_not_an_object_is_an_internal_error() {
        let got = apply(&json!([1]), &json!({}), "", "Pod");
        assert!(matches!(got, Err(ApiError::Internal(_))), "{got:?}");
    }

    /// `(group, kind, path, strategy)`: the table against the struct tags of `k8s.io/api`.
    const TABLE: &[(&str, &str, &str, Strategy)] = &[
        ("", "Pod", "metadata.finalizers", Strategy::Merge("")),
        (
            "",
            "Pod",
            "metadata.ownerReferences",
            Strategy::Merge("uid"),
        ),
        ("", "Pod", "metadata.managedFields", Strategy::Default),
        ("", "Pod", "spec.containers", Strategy::Merge("name")),
        ("", "Pod", "spec.initContainers", Strategy::Merge("name")),
        (
            "",
            "Pod",
            "spec.ephemeralContainers",
            Strategy::Merge("name"),
        ),
        (
            "",
            "Pod",
            "spec.ephemeralContainers.env",
            Strategy::Merge("name"),
        ),
        ("", "Pod", "spec.volumes", Strategy::MergeRetainKeys("name")),
        ("", "Pod", "spec.imagePullSecrets", Strategy::Merge("name")),
        ("", "Pod", "spec.hostAliases", Strategy::Merge("ip")),
        ("", "Pod", "spec.tolerations", Strategy::Default),
        (
            "",
            "Pod",
            "spec.topologySpreadConstraints",
            Strategy::Merge("topologyKey"),
        ),
        ("", "Pod", "spec.schedulingGates", Strategy::Merge("name")),
        (
            "",
            "Pod",
            "spec.resourceClaims",
            Strategy::MergeRetainKeys("name"),
        ),
        ("", "Pod", "spec.containers.env", Strategy::Merge("name")),
        ("", "Pod", "spec.containers.envFrom", Strategy::Default),
        (
            "",
            "Pod",
            "spec.containers.ports",
            Strategy::Merge("containerPort"),
        ),
        (
            "",
            "Pod",
            "spec.containers.volumeMounts",
            Strategy::Merge("mountPath"),
        ),
        (
            "",
            "Pod",
            "spec.containers.volumeDevices",
            Strategy::Merge("devicePath"),
        ),
        ("", "Pod", "spec.containers.resizePolicy", Strategy::Default),
        ("", "Pod", "spec.containers.args", Strategy::Default),
        ("", "Pod", "status.conditions", Strategy::Merge("type")),
        ("", "Pod", "status.podIPs", Strategy::Merge("ip")),
        ("", "Pod", "status.hostIPs", Strategy::Merge("ip")),
        ("", "Pod", "status.containerStatuses", Strategy::Default),
        (
            "",
            "PodTemplate",
            "template.spec.containers",
            Strategy::Merge("name"),
        ),
        (
            "",
            "ReplicationController",
            "spec.template.spec.volumes",
            Strategy::MergeRetainKeys("name"),
        ),
        (
            "",
            "ReplicationController",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        ("apps", "Deployment", "spec.strategy", Strategy::RetainKeys),
        (
            "apps",
            "Deployment",
            "spec.template.metadata.finalizers",
            Strategy::Merge(""),
        ),
        (
            "apps",
            "Deployment",
            "spec.template.spec.containers.env",
            Strategy::Merge("name"),
        ),
        (
            "apps",
            "Deployment",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        (
            "apps",
            "ReplicaSet",
            "spec.template.spec.containers",
            Strategy::Merge("name"),
        ),
        (
            "apps",
            "StatefulSet",
            "spec.template.spec.containers",
            Strategy::Merge("name"),
        ),
        (
            "apps",
            "StatefulSet",
            "spec.updateStrategy",
            Strategy::Default,
        ),
        (
            "apps",
            "StatefulSet",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        (
            "apps",
            "DaemonSet",
            "spec.template.spec.initContainers",
            Strategy::Merge("name"),
        ),
        (
            "apps",
            "DaemonSet",
            "spec.updateStrategy",
            Strategy::Default,
        ),
        (
            "batch",
            "Job",
            "spec.template.spec.containers",
            Strategy::Merge("name"),
        ),
        ("batch", "Job", "status.conditions", Strategy::Merge("type")),
        (
            "batch",
            "CronJob",
            "spec.jobTemplate.spec.template.spec.containers",
            Strategy::Merge("name"),
        ),
        (
            "batch",
            "CronJob",
            "spec.jobTemplate.metadata.ownerReferences",
            Strategy::Merge("uid"),
        ),
        ("", "Service", "spec.ports", Strategy::Merge("port")),
        ("", "Service", "status.conditions", Strategy::Merge("type")),
        ("", "Node", "spec.podCIDRs", Strategy::Merge("")),
        ("", "Node", "spec.taints", Strategy::Default),
        ("", "Node", "status.addresses", Strategy::Merge("type")),
        ("", "Node", "status.conditions", Strategy::Merge("type")),
        (
            "",
            "Namespace",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        (
            "",
            "PersistentVolumeClaim",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        ("", "ServiceAccount", "secrets", Strategy::Merge("name")),
        ("", "ServiceAccount", "imagePullSecrets", Strategy::Default),
        ("", "ComponentStatus", "conditions", Strategy::Merge("type")),
        ("", "ConfigMap", "metadata.finalizers", Strategy::Merge("")),
        (
            "autoscaling",
            "HorizontalPodAutoscaler",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        (
            "policy",
            "PodDisruptionBudget",
            "spec.selector",
            Strategy::Replace,
        ),
        (
            "policy",
            "PodDisruptionBudget",
            "status.conditions",
            Strategy::Merge("type"),
        ),
        (
            "networking.k8s.io",
            "Ingress",
            "spec.rules",
            Strategy::Default,
        ),
        (
            "networking.k8s.io",
            "NetworkPolicy",
            "spec.ingress",
            Strategy::Default,
        ),
        (
            "rbac.authorization.k8s.io",
            "Role",
            "rules",
            Strategy::Default,
        ),
        (
            "storage.k8s.io",
            "CSINode",
            "spec.drivers",
            Strategy::Merge("name"),
        ),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
            "webhooks",
            Strategy::Merge("name"),
        ),
        (
            "resource.k8s.io",
            "ResourceClaim",
            "status.reservedFor",
            Strategy::Merge("uid"),
        ),
        (
            "example.com",
            "Widget",
            "metadata.finalizers",
            Strategy::Merge(""),
        ),
        (
            "example.com",
            "Widget",
            "spec.containers",
            Strategy::Default,
        ),
    ];

    #[test]
    fn table() {
        for &(group, kind, path, want) in TABLE {
            assert_eq!(
                strategy_at(group, kind, path),
                want,
                "{group}/{kind} {path}"
            );
        }
    }

    /// `(original, patch, expected)` for RFC 7386.
    const MERGE_PATCH: &[(&str, &str, &str)] = &[
        (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
        (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
        (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
        (
            r#"{"a":{"b":"c"}}"#,
            r#"{"a":{"b":"d","c":null}}"#,
            r#"{"a":{"b":"d"}}"#,
        ),
        (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
        (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
        (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
        (r#"{"a":"foo"}"#, r#"null"#, r#"null"#),
        (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
        (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
        (
            r#"{}"#,
            r#"{"a":{"bb":{"ccc":null}}}"#,
            r#"{"a":{"bb":{}}}"#,
        ),
    ];

    #[test]
    fn json_merge_patch() {
        for &(original, patch, expected) in MERGE_PATCH {
            let got = merge_patch(
                &parse("original", patch, original),
                &parse("patch", patch, patch),
            );
            assert_eq!(
                got,
                parse("expected", patch, expected),
                "{original} + {patch}"
            );
        }
    }

    /// A small deterministic generator of awkward JSON, to check that nothing panics.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }

        fn key(&mut self, directives: bool) -> String {
            const KEYS: &[&str] = &[
                "spec",
                "template",
                "containers",
                "env",
                "name",
                "ports",
                "containerPort",
                "finalizers",
                "metadata",
                "strategy",
                "type",
                "volumes",
                "conditions",
                "args",
                "value",
                "uid",
            ];
            const DIRECTIVE_KEYS: &[&str] = &[
                "$patch",
                "$retainKeys",
                "$setElementOrder/containers",
                "$setElementOrder/env",
                "$setElementOrder/finalizers",
                "$setElementOrder",
                "$deleteFromPrimitiveList/finalizers",
                "$deleteFromPrimitiveList/args",
                "$deleteFromPrimitiveList",
            ];
            if directives && self.next(3) == 0 {
                DIRECTIVE_KEYS[self.next(DIRECTIVE_KEYS.len() as u64) as usize].to_string()
            } else {
                KEYS[self.next(KEYS.len() as u64) as usize].to_string()
            }
        }

        fn value(&mut self, depth: u32, directives: bool) -> Value {
            let pick = if depth == 0 {
                self.next(5)
            } else {
                self.next(8)
            };
            match pick {
                0 => Value::Null,
                1 => json!(self.next(3)),
                2 => json!(["replace", "delete", "merge", "a", "name"][self.next(5) as usize]),
                3 => json!(self.next(2) == 0),
                4 => json!(["a", "b"][self.next(2) as usize]),
                5 | 6 => {
                    let mut map = Map::new();
                    for _ in 0..self.next(5) {
                        let key = self.key(directives);
                        map.insert(key, self.value(depth - 1, directives));
                    }
                    Value::Object(map)
                }
                _ => Value::Array(
                    (0..self.next(4))
                        .map(|_| self.value(depth - 1, directives))
                        .collect(),
                ),
            }
        }
    }

    #[test]
    fn never_panics_and_never_stores_directives() {
        let mut generator = Gen(7);
        let kinds = [
            ("", "Pod"),
            ("apps", "Deployment"),
            ("", "ConfigMap"),
            ("batch", "CronJob"),
        ];
        let mut applied = 0;
        for round in 0..20_000 {
            let original = generator.value(5, false);
            let patch = generator.value(5, true);
            let (group, kind) = kinds[round % kinds.len()];
            let _ = merge_patch(&original, &patch);
            if let Ok(got) = apply(&original, &patch, group, kind) {
                applied += 1;
                let mut found = Vec::new();
                directives(&got, "", &mut found);
                assert!(
                    found.is_empty(),
                    "{original} + {patch} = {got}: directives left: {found:?}"
                );
            }
        }
        // The generator must exercise successful patches, not only errors.
        assert!(applied > 1_000, "only {applied} patches applied");
    }
}
