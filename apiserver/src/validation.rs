//! Defaulting, validation and strict field checking of built-in Kubernetes objects.
//!
//! Objects travel through the API server as `serde_json::Value`; this module does to them what
//! kube-apiserver does to its typed objects between decoding and storage:
//!
//! - [`apply_defaults`] mirrors `pkg/apis/*/v1/defaults.go` (plus the few admission and
//!   strategy steps whose results every client sees, e.g. a Pod's `serviceAccountName`), and
//!   [`job_selector`] the Job strategy's generated selector, which needs the object's uid.
//! - [`validate`] mirrors `pkg/apis/*/validation/validation.go` and
//!   `apimachinery/pkg/api/validation`: it returns the field causes of a 422 `Invalid`, with the
//!   reasons, field paths and messages of upstream's `field.Error` (Kubernetes 1.33 rendering,
//!   e.g. `Invalid value: map[string]string{"app":"web"}: ...`).
//! - [`check_types`] and [`unknown_fields`] walk the object against the OpenAPI schema of its
//!   `k8s-openapi` type: a JSON value of the wrong type is a 400 with the Go decoder's message
//!   (`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
//!   int32`), and fields the type does not have are reported as `fieldValidation=Strict|Warn`
//!   wants them (`spec.template.spec.containers[0].imagePullPolicyy`).
//! - [`generation_changed`] says whether an update bumps `metadata.generation`.
//!
//! Code map: `fmtcheck` holds the name and value formats of `apimachinery/pkg/util/validation`;
//! the object metadata and label-selector rules follow it; `pod` validates pod specs and
//! templates; `kinds` has one function per kind, each checking in upstream's order so the causes
//! come out in the order kube-apiserver lists them; `cron`, `quantity` parse schedules and
//! resource quantities; `defaults` and `schema` back the functions of the same purpose above.
//! Kinds this module does not know get the generic metadata checks only. Nothing here panics on
//! any input: values of the wrong JSON type are treated as absent (type errors are
//! [`check_types`]'s job).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value, json};

use crate::error::{ApiError, Cause, Result};

type Obj = Map<String, Value>;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Applies upstream defaulting to a built-in object of `group`/`kind` (core group is `""`).
///
/// Covers the `SetDefaults_*` functions of the core, apps, batch, autoscaling, networking,
/// discovery, rbac and apiextensions groups, the pod template of every workload kind, and, for
/// Pods only, what the default admission plugins add (`serviceAccountName: default`,
/// `priority: 0`, the `not-ready`/`unreachable` tolerations) and the initial `status`
/// (`Pending`, QoS class). A Secret's `stringData` is folded into `data` as conversion does.
/// Idempotent; unknown kinds are left alone. The Job selector needs the uid: see
/// [`job_selector`].
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    defaults::apply(group, kind, obj);
}

/// Generates a Job's selector and pod template labels from its uid, as the Job strategy does on
/// create unless `spec.manualSelector` is true: template labels `batch.kubernetes.io/job-name`,
/// `job-name`, `batch.kubernetes.io/controller-uid`, `controller-uid` (kept when already set),
/// and `spec.selector.matchLabels["batch.kubernetes.io/controller-uid"]`. When the Job's own
/// labels were copied from the template by [`apply_defaults`] they receive the generated labels
/// too (upstream shares the map). Call it after `metadata.uid` is assigned and before
/// [`validate`].
pub fn job_selector(obj: &mut Value, uid: &str) {
    defaults::job_selector(obj, uid);
}

/// Validates a built-in object; `old` is the stored object on update, `None` on create.
///
/// Returns the causes of a 422 `Invalid` (empty when the object is valid). `obj` is expected to
/// be defaulted and, on create, to carry its final name and namespace; on update the server's
/// own fields (`resourceVersion`, `generation`) are not checked here.
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut e = Errs::default();
    kinds::validate(group, kind, obj, old, &mut e);
    e.finish()
}

/// Returns the paths of the fields of `obj` that its type does not have, for
/// `fieldValidation=Strict` (reject with [`strict_decoding_error`]) or `Warn` (one warning
/// `unknown field "<path>"` each). Paths use `.` for fields and map keys and `[i]` for list
/// items, as kube-apiserver prints them. Fails like [`check_types`] when a value has the wrong
/// JSON type. Kinds without a known type yield no paths.
pub fn unknown_fields(group: &str, version: &str, kind: &str, obj: &Value) -> Result<Vec<String>> {
    let Some(root) = schema::root(group, version, kind) else {
        return Ok(Vec::new());
    };
    let outcome = schema::walk(&root, obj);
    match outcome.error {
        Some(err) => Err(decode_error(kind, version, &err)),
        None => Ok(outcome.unknown),
    }
}

/// Checks that every value of `obj` has the JSON type its field wants, failing with the
/// `BadRequest` kube-apiserver sends, e.g. `Deployment in version "v1" cannot be handled as a
/// Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
/// of type int32`. Kinds without a known type pass.
pub fn check_types(group: &str, version: &str, kind: &str, obj: &Value) -> Result<()> {
    unknown_fields(group, version, kind, obj).map(|_| ())
}

/// The `BadRequest` of `fieldValidation=Strict` for the given unknown field paths:
/// `<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: unknown field
/// "spec.foo", unknown field "spec.bar"`.
pub fn strict_decoding_error(kind: &str, version: &str, unknown: &[String]) -> ApiError {
    let fields: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    decode_error(
        kind,
        version,
        &format!("strict decoding error: {}", fields.join(", ")),
    )
}

fn decode_error(kind: &str, version: &str, err: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {err}"
    ))
}

/// True when an update from `old` to `new` bumps `metadata.generation`.
///
/// Pods (1.33's pod generation), workloads, Ingress, NetworkPolicy, PodDisruptionBudget and
/// CustomResourceDefinition count `spec` changes (Deployments also annotation changes); kinds
/// without a generation (Service, ConfigMap, Secret, Namespace, Node, RBAC, HPA, ...) never
/// do. Any other kind is taken to be a custom resource with a status subresource: every change
/// outside `metadata` and `status` counts. Nulls, empty lists and empty maps equal absent
/// fields, as Go's semantic equality has it.
pub fn generation_changed(kind: &str, old: &Value, new: &Value) -> bool {
    match kind {
        "Deployment" => {
            differs(old.get("spec"), new.get("spec"))
                || differs(
                    old.get("metadata").and_then(|m| m.get("annotations")),
                    new.get("metadata").and_then(|m| m.get("annotations")),
                )
        }
        "Pod"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicationController"
        | "Job"
        | "CronJob"
        | "Ingress"
        | "NetworkPolicy"
        | "PodDisruptionBudget"
        | "CustomResourceDefinition"
        | "ValidatingAdmissionPolicy"
        | "ValidatingAdmissionPolicyBinding"
        | "MutatingAdmissionPolicy"
        | "MutatingAdmissionPolicyBinding"
        | "FlowSchema"
        | "PriorityLevelConfiguration" => differs(old.get("spec"), new.get("spec")),
        k if !uses_generation(k) => false,
        _ => {
            let strip = |v: &Value| -> Value {
                let mut v = v.clone();
                if let Some(m) = v.as_object_mut() {
                    m.remove("metadata");
                    m.remove("status");
                }
                v
            };
            differs(Some(&strip(old)), Some(&strip(new)))
        }
    }
}

/// True for kinds whose objects carry `metadata.generation` (set to 1 on create). Built-in
/// kinds not listed by [`generation_changed`] have none; unknown kinds are assumed to be
/// custom resources, which do.
pub fn uses_generation(kind: &str) -> bool {
    !matches!(
        kind,
        "Service"
            | "ConfigMap"
            | "Secret"
            | "Namespace"
            | "Node"
            | "ServiceAccount"
            | "Endpoints"
            | "EndpointSlice"
            | "Event"
            | "Lease"
            | "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
            | "PersistentVolume"
            | "PersistentVolumeClaim"
            | "PodTemplate"
            | "LimitRange"
            | "ResourceQuota"
            | "ControllerRevision"
            | "HorizontalPodAutoscaler"
            | "IngressClass"
            | "PriorityClass"
            | "StorageClass"
            | "ComponentStatus"
            | "Binding"
            | "Eviction"
            | "Scale"
            | "IPAddress"
            | "ServiceCIDR"
    )
}

fn differs(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| v.map(normalize).unwrap_or(Value::Null);
    norm(a) != norm(b)
}

/// Drops nulls, empty lists and empty maps, recursively: what Go's semantic equality ignores.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let n = normalize(v);
                let empty = match &n {
                    Value::Null => true,
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                if !empty {
                    out.insert(k.clone(), n);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Field errors: upstream's field.Error, rendered as its ErrorBody
// ---------------------------------------------------------------------------------------------

/// A bad value as `field.Error.ErrorBody` prints it.
#[derive(Debug, Clone)]
enum Bad {
    /// A string, printed as Go's `%q`.
    Str(String),
    /// An integer or bool, printed plainly.
    Plain(String),
    /// Already rendered (Go's `%#v` of a map, struct, slice...).
    Raw(String),
}

impl From<&str> for Bad {
    fn from(s: &str) -> Self {
        Bad::Str(s.to_string())
    }
}
impl From<&String> for Bad {
    fn from(s: &String) -> Self {
        Bad::Str(s.clone())
    }
}
impl From<String> for Bad {
    fn from(s: String) -> Self {
        Bad::Str(s)
    }
}
impl From<i64> for Bad {
    fn from(n: i64) -> Self {
        Bad::Plain(n.to_string())
    }
}
impl From<bool> for Bad {
    fn from(b: bool) -> Self {
        Bad::Plain(b.to_string())
    }
}

impl Bad {
    fn render(&self) -> String {
        match self {
            Bad::Str(s) => go_quote(s),
            Bad::Plain(s) | Bad::Raw(s) => s.clone(),
        }
    }
}

/// The causes collected while validating one object.
#[derive(Default)]
struct Errs(Vec<Cause>);

impl Errs {
    fn push(&mut self, reason: &str, path: &str, message: String) {
        self.0.push(Cause::new(reason, path, message));
    }

    fn with_detail(head: String, detail: &str) -> String {
        if detail.is_empty() {
            head
        } else {
            format!("{head}: {detail}")
        }
    }

    fn required(&mut self, path: &str, detail: &str) {
        self.push(
            "FieldValueRequired",
            path,
            Self::with_detail("Required value".into(), detail),
        );
    }

    fn invalid(&mut self, path: &str, value: impl Into<Bad>, detail: &str) {
        let head = format!("Invalid value: {}", value.into().render());
        self.push("FieldValueInvalid", path, Self::with_detail(head, detail));
    }

    fn not_supported(&mut self, path: &str, value: impl Into<Bad>, valid: &[&str]) {
        let head = format!("Unsupported value: {}", value.into().render());
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        self.push(
            "FieldValueNotSupported",
            path,
            Self::with_detail(head, &detail),
        );
    }

    fn duplicate(&mut self, path: &str, value: impl Into<Bad>) {
        self.push(
            "FieldValueDuplicate",
            path,
            format!("Duplicate value: {}", value.into().render()),
        );
    }

    fn duplicate_detail(&mut self, path: &str, value: impl Into<Bad>, detail: &str) {
        let head = format!("Duplicate value: {}", value.into().render());
        self.push("FieldValueDuplicate", path, Self::with_detail(head, detail));
    }

    fn not_found(&mut self, path: &str, value: impl Into<Bad>) {
        self.push(
            "FieldValueNotFound",
            path,
            format!("Not found: {}", value.into().render()),
        );
    }

    fn forbidden(&mut self, path: &str, detail: &str) {
        self.push(
            "FieldValueForbidden",
            path,
            Self::with_detail("Forbidden".into(), detail),
        );
    }

    fn too_long(&mut self, path: &str, max: usize) {
        let unit = if max == 1 { "byte" } else { "bytes" };
        self.push(
            "FieldValueTooLong",
            path,
            format!("Too long: may not be more than {max} {unit}"),
        );
    }

    fn too_many(&mut self, path: &str, actual: usize, max: usize) {
        self.push(
            "FieldValueTooMany",
            path,
            format!("Too many: {actual}: must have at most {max} items"),
        );
    }

    fn nonnegative(&mut self, path: &str, value: i64) {
        if value < 0 {
            self.invalid(path, value, IS_NEGATIVE);
        }
    }

    fn immutable(&mut self, path: &str, value: impl Into<Bad>) {
        self.invalid(path, value, FIELD_IMMUTABLE);
    }

    /// The causes, without repeats (upstream's update validators run some checks twice).
    fn finish(self) -> Vec<Cause> {
        let mut seen = BTreeSet::new();
        self.0
            .into_iter()
            .filter(|c| seen.insert((c.reason.clone(), c.field.clone(), c.message.clone())))
            .collect()
    }
}

const IS_NEGATIVE: &str = "must be greater than or equal to 0";
const FIELD_IMMUTABLE: &str = "field is immutable";

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `parent.child`, or `child` at the root.
fn ch(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// `parent[i]`.
fn ix(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]` (upstream's `Path.Key`).
fn key(parent: &str, k: &str) -> String {
    format!("{parent}[{k}]")
}

// ---------------------------------------------------------------------------------------------
// Lenient accessors: a value of the wrong JSON type reads as absent
// ---------------------------------------------------------------------------------------------

fn get<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.get(k).filter(|x| !x.is_null())
}

fn st<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn opt_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn map_at<'a>(v: &'a Value, k: &str) -> Option<&'a Obj> {
    v.get(k).and_then(Value::as_object)
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(as_int)
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
            .map(|f| f as i64)
    })
}

fn boolean(v: &Value, k: &str) -> Option<bool> {
    v.get(k).and_then(Value::as_bool)
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    arr(v, k)
        .iter()
        .map(|x| x.as_str().unwrap_or("").to_string())
        .collect()
}

/// A `map[string]string` field: `None` when absent (Go's nil map).
fn str_map(v: &Value, k: &str) -> Option<BTreeMap<String, String>> {
    map_at(v, k).map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect()
    })
}

const NULL: Value = Value::Null;

fn meta(v: &Value) -> &Value {
    v.get("metadata").unwrap_or(&NULL)
}

fn spec(v: &Value) -> &Value {
    v.get("spec").unwrap_or(&NULL)
}

fn sub<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&NULL)
}

// ---------------------------------------------------------------------------------------------
// Go %#v renderings used in messages
// ---------------------------------------------------------------------------------------------

/// `map[string]string{"a":"b", "c":"d"}`, or `map[string]string(nil)` when absent.
fn go_map(m: Option<&BTreeMap<String, String>>) -> Bad {
    match m {
        None => Bad::Raw("map[string]string(nil)".into()),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            Bad::Raw(format!("map[string]string{{{}}}", items.join(", ")))
        }
    }
}

/// `[]string{"a", "b"}`, or `[]string(nil)` when absent.
fn go_strings(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".into(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| go_quote(x.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// A `metav1.LabelSelector` as `%#v` prints it.
fn go_selector(sel: &Value) -> Bad {
    let labels = go_map(str_map(sel, "matchLabels").as_ref()).render();
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(st(r, "key")),
                        go_quote(st(r, "operator")),
                        go_strings(r.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    Bad::Raw(format!(
        "v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}"
    ))
}

/// An `intstr.IntOrString` as `%#v` prints it.
fn go_int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            as_int(other).unwrap_or(0)
        ),
    }
}

/// Structs whose `%#v` cannot be reproduced (pointers print addresses) are shown as JSON.
fn go_json(v: &Value) -> Bad {
    Bad::Raw(serde_json::to_string(v).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// apimachinery/pkg/util/validation: the string formats
// ---------------------------------------------------------------------------------------------

mod fmtcheck {
    //! The name and value formats of `apimachinery/pkg/util/validation` and
    //! `apimachinery/pkg/api/validation/path`, returning upstream's messages.

    const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
    const DNS1123_SUBDOMAIN_FMT: &str =
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
    const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
    const WILDCARD_FMT: &str =
        "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    const WILDCARD_MSG: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";
    const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
    const CONFIG_KEY_MSG: &str =
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
    const PERCENT_FMT: &str = "[0-9]+%";
    const PERCENT_MSG: &str =
        "a valid percent string must be a numeric string followed by an ending '%'";
    const HEADER_FMT: &str = "[-A-Za-z0-9]+";
    const HEADER_MSG: &str = "a valid HTTP header must consist of alphanumeric characters or '-'";

    /// `RegexError`.
    pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
        if examples.is_empty() {
            return format!("{msg} (regex used for validation is '{fmt}')");
        }
        let mut out = format!("{msg} (e.g. ");
        for (i, e) in examples.iter().enumerate() {
            if i > 0 {
                out.push_str(" or ");
            }
            out.push_str(&format!("'{e}', "));
        }
        out.push_str(&format!("regex used for validation is '{fmt}')"));
        out
    }

    /// `MaxLenError`.
    pub fn max_len(n: usize) -> String {
        format!("must be no more than {n} characters")
    }

    /// `InclusiveRangeError`.
    pub fn range_error(lo: i64, hi: i64) -> String {
        format!("must be between {lo} and {hi}, inclusive")
    }

    fn alnum(c: u8) -> bool {
        c.is_ascii_alphanumeric()
    }

    fn lower_alnum(c: u8) -> bool {
        c.is_ascii_lowercase() || c.is_ascii_digit()
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
    pub fn is_qualified_name_part(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && alnum(b[0])
            && alnum(b[b.len() - 1])
            && b.iter()
                .all(|&c| alnum(c) || c == b'-' || c == b'_' || c == b'.')
    }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
    fn is_dns_label_fmt(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && lower_alnum(b[0])
            && lower_alnum(b[b.len() - 1])
            && b.iter().all(|&c| lower_alnum(c) || c == b'-')
    }

    fn is_subdomain_fmt(s: &str) -> bool {
        s.split('.').all(is_dns_label_fmt)
    }

    /// `IsQualifiedName`.
    pub fn qualified_name(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        let parts: Vec<&str> = value.split('/').collect();
        let name = match parts.as_slice() {
            [name] => *name,
            [prefix, name] => {
                if prefix.is_empty() {
                    errs.push("prefix part must be non-empty".to_string());
                } else {
                    for m in dns1123_subdomain(prefix) {
                        errs.push(format!("prefix part {m}"));
                    }
                }
                *name
            }
            _ => {
                errs.push(format!(
                    "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                    regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
                ));
                return errs;
            }
        };
        if name.is_empty() {
            errs.push("name part must be non-empty".to_string());
        } else if name.len() > 63 {
            errs.push(format!("name part {}", max_len(63)));
        }
        if !is_qualified_name_part(name) {
            errs.push(format!(
                "name part {}",
                regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
        }
        errs
    }

    /// `IsValidLabelValue`.
    pub fn label_value(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if value.len() > 63 {
            errs.push(max_len(63));
        }
        if !value.is_empty() && !is_qualified_name_part(value) {
            errs.push(regex_error(
                LABEL_VALUE_MSG,
                LABEL_VALUE_FMT,
                &["MyValue", "my_value", "12345"],
            ));
        }
        errs
    }

    /// `IsDNS1123Label`.
    pub fn dns1123_label(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if value.len() > 63 {
            errs.push(max_len(63));
        }
        if !is_dns_label_fmt(value) {
            if is_subdomain_fmt(value) {
                errs.push("must not contain dots".to_string());
            } else {
                errs.push(regex_error(
                    DNS1123_LABEL_MSG,
                    DNS1123_LABEL_FMT,
                    &["my-name", "123-abc"],
                ));
            }
        }
        errs
    }

    /// `IsDNS1123Subdomain`.
    pub fn dns1123_subdomain(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if value.len() > 253 {
            errs.push(max_len(253));
        }
        if !is_subdomain_fmt(value) {
            errs.push(regex_error(
                DNS1123_SUBDOMAIN_MSG,
                DNS1123_SUBDOMAIN_FMT,
                &["example.com"],
            ));
        }
        errs
    }

    /// `IsWildcardDNS1123Subdomain`.
    pub fn wildcard_subdomain(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if value.len() > 253 {
            errs.push(max_len(253));
        }
        if !value.strip_prefix("*.").is_some_and(is_subdomain_fmt) {
            errs.push(regex_error(WILDCARD_MSG, WILDCARD_FMT, &["*.example.com"]));
        }
        errs
    }

    /// `IsDNS1035Label`.
    pub fn dns1035_label(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if value.len() > 63 {
            errs.push(max_len(63));
        }
        let b = value.as_bytes();
        let ok = !b.is_empty()
            && b[0].is_ascii_lowercase()
            && lower_alnum(b[b.len() - 1])
            && b.iter().all(|&c| lower_alnum(c) || c == b'-');
        if !ok {
            errs.push(regex_error(
                DNS1035_LABEL_MSG,
                DNS1035_LABEL_FMT,
                &["my-name", "abc-123"],
            ));
        }
        errs
    }

    /// `IsConfigMapKey`.
    pub fn config_map_key(value: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if value.len() > 253 {
            errs.push(max_len(253));
        }
        let ok = !value.is_empty()
            && value
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');
        if !ok {
            errs.push(regex_error(
                CONFIG_KEY_MSG,
                CONFIG_KEY_FMT,
                &["key.name", "KEY_NAME", "key-name"],
            ));
        }
        errs.extend(ch_dir_prefix(value));
        errs
    }

    fn ch_dir_prefix(value: &str) -> Vec<String> {
        if value == "." {
            vec!["must not be '.'".into()]
        } else if value == ".." {
            vec!["must not be '..'".into()]
        } else if value.starts_with("..") {
            vec!["must not start with '..'".into()]
        } else {
            Vec::new()
        }
    }

    /// `IsValidPortName`.
    pub fn port_name(port: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if port.len() > 15 {
            errs.push(max_len(15));
        }
        if port.is_empty()
            || !port
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            errs.push(
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into(),
            );
        }
        if !port.bytes().any(|c| c.is_ascii_lowercase()) {
            errs.push("must contain at least one letter (a-z)".into());
        }
        if port.contains("--") {
            errs.push("must not contain consecutive hyphens".into());
        }
        if port.starts_with('-') || port.ends_with('-') {
            errs.push("must not begin or end with a hyphen".into());
        }
        errs
    }

    /// `IsValidPortNum`.
    pub fn port_num(port: i64) -> Vec<String> {
        if (1..=65535).contains(&port) {
            Vec::new()
        } else {
            vec![range_error(1, 65535)]
        }
    }

    /// `IsValidPercent`.
    pub fn percent(s: &str) -> Vec<String> {
        let ok = s
            .strip_suffix('%')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
        if ok {
            Vec::new()
        } else {
            vec![regex_error(PERCENT_MSG, PERCENT_FMT, &["1%", "93%"])]
        }
    }

    /// `IsHTTPHeaderName`.
    pub fn http_header_name(s: &str) -> Vec<String> {
        let ok = !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
        if ok {
            Vec::new()
        } else {
            vec![regex_error(HEADER_MSG, HEADER_FMT, &["X-Header-Name"])]
        }
    }

    /// `IsRelaxedEnvVarName` (the `RelaxedEnvironmentVariableValidation` gate is on in 1.33).
    pub fn env_var_name(s: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if s.is_empty() {
            errs.push("environment variable name must be non-empty".into());
        }
        if s.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
            errs.push(
                "a valid environment variable name must consist only of printable ASCII characters other than '='"
                    .into(),
            );
        }
        errs
    }

    /// `path.IsValidPathSegmentName` / `IsValidPathSegmentPrefix`.
    pub fn path_segment(name: &str, prefix: bool) -> Vec<String> {
        if !prefix {
            for bad in [".", ".."] {
                if name == bad {
                    return vec![format!("may not be '{bad}'")];
                }
            }
        }
        ["/", "%"]
            .iter()
            .filter(|c| name.contains(*c))
            .map(|c| format!("may not contain '{c}'"))
            .collect()
    }

    /// `IsValidIP`'s first check (`netutils.ParseIPSloppy`).
    pub fn ip(value: &str) -> Vec<String> {
        if value.parse::<std::net::IpAddr>().is_ok() {
            Vec::new()
        } else {
            vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()]
        }
    }

    /// `IsValidCIDR`'s first check.
    pub fn cidr(value: &str) -> Vec<String> {
        let ok = value.split_once('/').is_some_and(|(ip, bits)| {
            let max = match ip.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(_)) => 32,
                Ok(std::net::IpAddr::V6(_)) => 128,
                Err(_) => return false,
            };
            bits.parse::<u32>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
        });
        if ok {
            Vec::new()
        } else {
            vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".into()]
        }
    }

    /// `maskTrailingDash`: a generateName may end in `-`.
    pub fn mask_trailing_dash(name: &str) -> String {
        if name.len() > 1 && name.ends_with('-') {
            let mut cut = name.len() - 2;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}a", &name[..cut])
        } else {
            name.to_string()
        }
    }
}

/// A resource's name rule (`ValidateNameFunc`): `(name, is_prefix) -> messages`.
type NameFn = fn(&str, bool) -> Vec<String>;

fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        fmtcheck::dns1123_subdomain(&fmtcheck::mask_trailing_dash(name))
    } else {
        fmtcheck::dns1123_subdomain(name)
    }
}

fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        fmtcheck::dns1123_label(&fmtcheck::mask_trailing_dash(name))
    } else {
        fmtcheck::dns1123_label(name)
    }
}

fn name_is_dns1035_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        fmtcheck::dns1035_label(&fmtcheck::mask_trailing_dash(name))
    } else {
        fmtcheck::dns1035_label(name)
    }
}

fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    fmtcheck::path_segment(name, prefix)
}

fn name_is_ip(name: &str, _prefix: bool) -> Vec<String> {
    fmtcheck::ip(name)
}

// ---------------------------------------------------------------------------------------------
// Object metadata (apimachinery/pkg/api/validation/objectmeta.go, core's finalizer rule)
// ---------------------------------------------------------------------------------------------

const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// `ValidateLabels`: every cause is on the map's own path.
fn validate_labels(labels: Option<&Obj>, path: &str, e: &mut Errs) {
    let Some(labels) = labels else { return };
    let sorted: BTreeMap<&String, &Value> = labels.iter().collect();
    for (k, v) in sorted {
        for msg in fmtcheck::qualified_name(k) {
            e.invalid(path, k, &msg);
        }
        let v = v.as_str().unwrap_or("");
        for msg in fmtcheck::label_value(v) {
            e.invalid(path, v, &msg);
        }
    }
}

/// `ValidateAnnotations`.
fn validate_annotations(annotations: Option<&Obj>, path: &str, e: &mut Errs) {
    let Some(annotations) = annotations else {
        return;
    };
    let sorted: BTreeMap<&String, &Value> = annotations.iter().collect();
    let mut total = 0usize;
    for (k, v) in sorted {
        for msg in fmtcheck::qualified_name(&k.to_lowercase()) {
            e.invalid(path, k, &msg);
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        e.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT);
    }
}

fn validate_owner_references(meta: &Value, e: &mut Errs) {
    let path = "metadata.ownerReferences";
    let mut first_controller: Option<String> = None;
    for r in arr(meta, "ownerReferences") {
        let api_version = st(r, "apiVersion");
        let version = match api_version.split('/').collect::<Vec<_>>().as_slice() {
            [v] => (*v).to_string(),
            [_, v] => (*v).to_string(),
            _ => String::new(),
        };
        if version.is_empty() {
            e.invalid(
                &ch(path, "apiVersion"),
                api_version,
                "version must not be empty",
            );
        }
        if st(r, "kind").is_empty() {
            e.invalid(&ch(path, "kind"), st(r, "kind"), "kind must not be empty");
        }
        if st(r, "name").is_empty() {
            e.invalid(&ch(path, "name"), st(r, "name"), "name must not be empty");
        }
        if st(r, "uid").is_empty() {
            e.invalid(&ch(path, "uid"), st(r, "uid"), "uid must not be empty");
        }
        if api_version == "v1" && st(r, "kind") == "Event" {
            e.invalid(
                path,
                go_json(r),
                "/v1, Kind=Event is disallowed from being an owner",
            );
        }
        if boolean(r, "controller") == Some(true) {
            let this = format!("{}/{}", st(r, "kind"), st(r, "name"));
            match &first_controller {
                Some(first) => e.invalid(
                    path,
                    go_json(sub(meta, "ownerReferences")),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    ),
                ),
                None => first_controller = Some(this),
            }
        }
    }
}

const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateFinalizers`, then core's `validateKubeFinalizerName` on each item.
fn validate_finalizers(finalizers: &[String], path: &str, indexed_kube_check: bool, e: &mut Errs) {
    for f in finalizers {
        for msg in fmtcheck::qualified_name(f) {
            e.invalid(path, f.as_str(), &msg);
        }
        if !indexed_kube_check {
            kube_finalizer_name(f, path, e);
        }
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        let list: Vec<Value> = finalizers
            .iter()
            .map(|f| Value::String(f.clone()))
            .collect();
        e.invalid(
            path,
            Bad::Raw(go_strings(Some(&Value::Array(list)))),
            "finalizer orphan and foregroundDeletion cannot be both set",
        );
    }
}

fn kube_finalizer_name(f: &str, path: &str, e: &mut Errs) {
    if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
        e.invalid(
            path,
            f,
            "name is neither a standard finalizer name nor is it fully qualified",
        );
    }
}

fn validate_managed_fields(meta: &Value, e: &mut Errs) {
    for (i, m) in arr(meta, "managedFields").iter().enumerate() {
        let p = ix("metadata.managedFields", i);
        let op = st(m, "operation");
        if op != "Apply" && op != "Update" {
            e.invalid(&ch(&p, "operation"), op, "must be `Apply` or `Update`");
        }
        let ft = st(m, "fieldsType");
        if ft != "FieldsV1" {
            e.invalid(&ch(&p, "fieldsType"), ft, "must be `FieldsV1`");
        }
    }
}

/// Scope and name rule of a kind's metadata.
#[derive(Clone, Copy)]
struct MetaRule {
    /// `Some(true)` namespaced, `Some(false)` cluster-scoped, `None` unknown (custom resources).
    namespaced: Option<bool>,
    name: NameFn,
}

/// `ValidateObjectMeta` (create).
fn validate_object_meta(obj: &Value, rule: MetaRule, e: &mut Errs) {
    validate_object_meta_with(obj, rule, &[], e);
}

/// `ValidateObjectMeta` whose name rule adds `name_extra` to the name's own messages.
fn validate_object_meta_with(obj: &Value, rule: MetaRule, name_extra: &[String], e: &mut Errs) {
    let m = meta(obj);
    let generate_name = st(m, "generateName");
    if !generate_name.is_empty() {
        for msg in (rule.name)(generate_name, true) {
            e.invalid("metadata.generateName", generate_name, &msg);
        }
    }
    let name = st(m, "name");
    if name.is_empty() {
        if generate_name.is_empty() {
            e.required("metadata.name", "name or generateName is required");
        }
    } else {
        for msg in (rule.name)(name, false).iter().chain(name_extra) {
            e.invalid("metadata.name", name, msg);
        }
    }
    if rule.namespaced == Some(true) {
        let ns = st(m, "namespace");
        if ns.is_empty() {
            e.required("metadata.namespace", "");
        } else {
            for msg in name_is_dns_label(ns, false) {
                e.invalid("metadata.namespace", ns, &msg);
            }
        }
    }
    if let Some(g) = int(m, "generation") {
        e.nonnegative("metadata.generation", g);
    }
    validate_labels(obj_at(m, "labels"), "metadata.labels", e);
    validate_annotations(obj_at(m, "annotations"), "metadata.annotations", e);
    validate_owner_references(m, e);
    let finalizers = strs(m, "finalizers");
    validate_finalizers(&finalizers, "metadata.finalizers", true, e);
    validate_managed_fields(m, e);
    for (i, f) in finalizers.iter().enumerate() {
        kube_finalizer_name(f, &ix("metadata.finalizers", i), e);
    }
}

fn obj_at<'a>(v: &'a Value, k: &str) -> Option<&'a Obj> {
    map_at(v, k)
}

/// Go's `time.Time.String()` of an RFC 3339 UTC timestamp, else the string quoted.
fn go_time(v: &Value) -> Bad {
    let s = v.as_str().unwrap_or("");
    if s.is_empty() {
        return Bad::Raw("0001-01-01 00:00:00 +0000 UTC".into());
    }
    match s.strip_suffix('Z').and_then(|t| t.split_once('T')) {
        Some((date, time)) => Bad::Raw(format!("{date} {time} +0000 UTC")),
        None => Bad::Str(s.to_string()),
    }
}

/// `ValidateObjectMetaUpdate`. The fields the server owns (`resourceVersion`, `generation`) and
/// the ones `BeforeUpdate` copies from the stored object when absent (`uid`,
/// `creationTimestamp`) are only checked when the request sets them to something else.
fn validate_object_meta_update(obj: &Value, old: &Value, e: &mut Errs) {
    let (m, o) = (meta(obj), meta(old));
    if get(o, "deletionTimestamp").is_some() {
        let old_f: BTreeSet<String> = strs(o, "finalizers").into_iter().collect();
        let extra: BTreeSet<String> = strs(m, "finalizers")
            .into_iter()
            .filter(|f| !old_f.contains(f))
            .collect();
        if !extra.is_empty() {
            let list = Value::Array(extra.into_iter().map(Value::String).collect());
            e.forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_strings(Some(&list))
                ),
            );
        }
    }
    if st(m, "name") != st(o, "name") {
        e.immutable("metadata.name", st(m, "name"));
    }
    if st(m, "namespace") != st(o, "namespace") {
        e.immutable("metadata.namespace", st(m, "namespace"));
    }
    if !st(m, "uid").is_empty() && st(m, "uid") != st(o, "uid") {
        e.immutable("metadata.uid", st(m, "uid"));
    }
    if get(m, "creationTimestamp").is_some()
        && m.get("creationTimestamp") != o.get("creationTimestamp")
    {
        e.immutable(
            "metadata.creationTimestamp",
            go_time(sub(m, "creationTimestamp")),
        );
    }
    if get(m, "deletionTimestamp").is_some()
        && m.get("deletionTimestamp") != o.get("deletionTimestamp")
    {
        e.immutable(
            "metadata.deletionTimestamp",
            go_time(sub(m, "deletionTimestamp")),
        );
    }
    if let Some(g) = int(m, "deletionGracePeriodSeconds")
        && int(o, "deletionGracePeriodSeconds").is_some_and(|og| og != g)
    {
        e.immutable("metadata.deletionGracePeriodSeconds", g);
    }
    validate_labels(obj_at(m, "labels"), "metadata.labels", e);
    validate_annotations(obj_at(m, "annotations"), "metadata.annotations", e);
    validate_owner_references(m, e);
    validate_managed_fields(m, e);
    for (i, f) in strs(m, "finalizers").iter().enumerate() {
        kube_finalizer_name(f, &ix("metadata.finalizers", i), e);
    }
}

// ---------------------------------------------------------------------------------------------
// Label selectors (apimachinery meta/v1/validation and labels)
// ---------------------------------------------------------------------------------------------

/// `ValidateLabelSelector` (strict: label values in selectors must be valid).
fn validate_label_selector(sel: Option<&Value>, path: &str, e: &mut Errs) {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return;
    };
    validate_labels(map_at(sel, "matchLabels"), &ch(path, "matchLabels"), e);
    for (i, r) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = ix(&ch(path, "matchExpressions"), i);
        let values = arr(r, "values");
        match st(r, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    e.required(
                        &ch(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    );
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    e.forbidden(
                        &ch(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                }
            }
            op => e.invalid(&ch(&p, "operator"), op, "not a valid selector operator"),
        }
        let k = st(r, "key");
        for msg in fmtcheck::qualified_name(k) {
            e.invalid(&ch(&p, "key"), k, &msg);
        }
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            for msg in fmtcheck::label_value(v) {
                e.invalid(&ix(&ch(&p, "values"), j), v, &msg);
            }
        }
    }
}

/// A label selector after `LabelSelectorAsSelector`.
enum Selector {
    /// A nil selector: matches nothing.
    Nothing,
    /// The conjunction of requirements; no requirement matches everything.
    Reqs(Vec<(String, String, Vec<String>)>),
}

impl Selector {
    /// `LabelSelectorAsSelector`; `None` when conversion fails (bad operator, key or value).
    fn from(sel: Option<&Value>) -> Option<Selector> {
        let Some(sel) = sel.filter(|s| !s.is_null()) else {
            return Some(Selector::Nothing);
        };
        let mut reqs = Vec::new();
        if let Some(labels) = str_map(sel, "matchLabels") {
            for (k, v) in labels {
                if !fmtcheck::qualified_name(&k).is_empty() || !fmtcheck::label_value(&v).is_empty()
                {
                    return None;
                }
                reqs.push((k, "=".to_string(), vec![v]));
            }
        }
        for r in arr(sel, "matchExpressions") {
            let op = st(r, "operator");
            let values = strs(r, "values");
            let ok = match op {
                "In" | "NotIn" => !values.is_empty(),
                "Exists" | "DoesNotExist" => values.is_empty(),
                _ => false,
            };
            let k = st(r, "key");
            if !ok
                || !fmtcheck::qualified_name(k).is_empty()
                || values.iter().any(|v| !fmtcheck::label_value(v).is_empty())
            {
                return None;
            }
            reqs.push((k.to_string(), op.to_string(), values));
        }
        Some(Selector::Reqs(reqs))
    }

    /// `labels.Selector.Empty()`.
    fn is_empty(&self) -> bool {
        matches!(self, Selector::Reqs(r) if r.is_empty())
    }

    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        match self {
            Selector::Nothing => false,
            Selector::Reqs(reqs) => reqs.iter().all(|(k, op, values)| {
                let v = labels.get(k);
                match op.as_str() {
                    "=" | "In" => v.is_some_and(|v| values.contains(v)),
                    "NotIn" => v.is_none_or(|v| !values.contains(v)),
                    "Exists" => v.is_some(),
                    _ => v.is_none(),
                }
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// resource.Quantity
// ---------------------------------------------------------------------------------------------

mod quantity {
    //! Parsing, comparison and canonical printing of `resource.Quantity`.

    use std::cmp::Ordering;

    /// `ErrFormatWrong`.
    pub const ERR_FORMAT: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    /// `ErrNumeric`.
    pub const ERR_NUMERIC: &str = "unable to parse numeric part of quantity";
    /// `ErrSuffix`.
    pub const ERR_SUFFIX: &str = "unable to parse quantity's suffix";

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Format {
        DecimalSI,
        BinarySI,
        DecimalExponent,
    }

    /// A quantity in nano-units (saturating), with the format its suffix asked for.
    #[derive(Debug, Clone, Copy)]
    pub struct Quantity {
        nanos: i128,
        format: Format,
    }

    const NANO: i128 = 1_000_000_000;
    const LIMIT: i128 = i128::MAX / 1_000_000;

    fn pow10(e: u32) -> i128 {
        10i128.saturating_pow(e)
    }

    fn mul(a: i128, b: i128) -> i128 {
        a.checked_mul(b).unwrap_or(LIMIT).min(LIMIT)
    }

    fn div_ceil(a: i128, b: i128) -> i128 {
        if b == 0 {
            a
        } else {
            a / b + i128::from(a % b != 0)
        }
    }

    /// `ParseQuantity`.
    pub fn parse(s: &str) -> Result<Quantity, &'static str> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ERR_FORMAT);
        }
        let b = s.as_bytes();
        let mut pos = 0;
        let mut positive = true;
        match b[0] {
            b'-' => {
                positive = false;
                pos = 1;
            }
            b'+' => pos = 1,
            _ => {}
        }
        while pos < b.len() && b[pos] == b'0' {
            pos += 1;
        }
        let num_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let num = &s[num_start..pos];
        let mut denom = "";
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let d = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            denom = &s[d..pos];
        }
        let suffix_start = pos;
        while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos < b.len() {
            return Err(ERR_FORMAT);
        }
        let suffix = &s[suffix_start..];
        if !s[..suffix_start].bytes().any(|c| c.is_ascii_digit()) {
            return Err(ERR_NUMERIC);
        }
        let (base, exp, format) = match suffix {
            "" => (10, 0, Format::DecimalSI),
            "n" => (10, -9, Format::DecimalSI),
            "u" => (10, -6, Format::DecimalSI),
            "m" => (10, -3, Format::DecimalSI),
            "k" => (10, 3, Format::DecimalSI),
            "M" => (10, 6, Format::DecimalSI),
            "G" => (10, 9, Format::DecimalSI),
            "T" => (10, 12, Format::DecimalSI),
            "P" => (10, 15, Format::DecimalSI),
            "E" => (10, 18, Format::DecimalSI),
            "Ki" => (2, 10, Format::BinarySI),
            "Mi" => (2, 20, Format::BinarySI),
            "Gi" => (2, 30, Format::BinarySI),
            "Ti" => (2, 40, Format::BinarySI),
            "Pi" => (2, 50, Format::BinarySI),
            "Ei" => (2, 60, Format::BinarySI),
            s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
                let e: i32 = s[1..].parse().map_err(|_| ERR_SUFFIX)?;
                (10, e, Format::DecimalExponent)
            }
            _ => return Err(ERR_SUFFIX),
        };
        let digits = format!("{num}{denom}");
        let mut mantissa: i128 = 0;
        for c in digits.bytes() {
            mantissa = mul(mantissa, 10)
                .saturating_add(i128::from(c - b'0'))
                .min(LIMIT);
        }
        let scale = i32::try_from(denom.len()).unwrap_or(i32::MAX);
        let nanos = if base == 2 {
            div_ceil(mul(mul(mantissa, 1i128 << exp), NANO), pow10(scale as u32))
        } else {
            let e = exp.saturating_add(9).saturating_sub(scale);
            if e >= 0 {
                mul(mantissa, pow10(e.unsigned_abs()))
            } else {
                div_ceil(mantissa, pow10(e.unsigned_abs()))
            }
        };
        Ok(Quantity {
            nanos: if positive { nanos } else { -nanos },
            format,
        })
    }

    impl Quantity {
        /// Compares two quantities by value.
        pub fn cmp(&self, other: &Quantity) -> Ordering {
            self.nanos.cmp(&other.nanos)
        }

        /// The value in nano-units (saturating).
        pub fn nanos(&self) -> i128 {
            self.nanos
        }

        /// Sign of the value.
        pub fn signum(&self) -> i128 {
            self.nanos.signum()
        }

        /// True when the value is a whole number.
        pub fn is_integer(&self) -> bool {
            self.nanos % NANO == 0
        }

        /// `Quantity.String()`: the canonical form.
        pub fn canonical(&self) -> String {
            if self.nanos == 0 {
                return "0".into();
            }
            let sign = if self.nanos < 0 { "-" } else { "" };
            let v = self.nanos.abs();
            let mut format = self.format;
            if format == Format::BinarySI && (v < 1024 * NANO || v % NANO != 0) {
                format = Format::DecimalSI;
            }
            if format == Format::BinarySI {
                let mut n = v / NANO;
                let mut k = 0;
                while n % 1024 == 0 && k < 6 {
                    n /= 1024;
                    k += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
                return format!("{sign}{n}{suffix}");
            }
            // Largest exponent (multiple of 3, from -9) that keeps the mantissa whole.
            let mut exp = -9i32;
            let mut n = v;
            while n % 1000 == 0 && exp < 18 {
                n /= 1000;
                exp += 3;
            }
            let suffix = match format {
                Format::DecimalExponent => {
                    if exp == 0 {
                        String::new()
                    } else {
                        format!("e{exp}")
                    }
                }
                _ => match exp {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    0 => "",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    _ => "E",
                }
                .to_string(),
            };
            format!("{sign}{n}{suffix}")
        }
    }

    /// The error of `Quantity.UnmarshalJSON` for a raw JSON value, if any.
    pub fn check_json(v: &serde_json::Value) -> Option<&'static str> {
        match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => parse(s).err(),
            serde_json::Value::Number(n) => parse(&n.to_string()).err(),
            _ => Some(ERR_FORMAT),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PodSpec (pkg/apis/core/validation: ValidatePodSpec and what it calls)
// ---------------------------------------------------------------------------------------------

mod pod {
    //! Validation of `PodSpec` and `PodTemplateSpec`.

    use super::*;

    /// Whether the spec belongs to a Pod or to a template inside another object.
    #[derive(Clone, Copy)]
    pub struct Opts {
        /// The top-level object is a Pod.
        pub is_pod: bool,
    }

    const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

    /// Volume sources in upstream's checking order, with the child name its "more than 1 volume
    /// type" error uses (upstream spells two of them differently from the JSON key).
    pub const VOLUME_SOURCES: [(&str, &str); 30] = [
        ("emptyDir", "emptyDir"),
        ("hostPath", "hostPath"),
        ("gitRepo", "gitRepo"),
        ("gcePersistentDisk", "gcePersistentDisk"),
        ("awsElasticBlockStore", "awsElasticBlockStore"),
        ("secret", "secret"),
        ("nfs", "nfs"),
        ("iscsi", "iscsi"),
        ("glusterfs", "glusterfs"),
        ("flocker", "flocker"),
        ("persistentVolumeClaim", "persistentVolumeClaim"),
        ("rbd", "rbd"),
        ("cinder", "cinder"),
        ("cephfs", "cephFS"),
        ("quobyte", "quobyte"),
        ("downwardAPI", "downwarAPI"),
        ("fc", "fc"),
        ("flexVolume", "flexVolume"),
        ("configMap", "configMap"),
        ("azureFile", "azureFile"),
        ("vsphereVolume", "vsphereVolume"),
        ("photonPersistentDisk", "photonPersistentDisk"),
        ("portworxVolume", "portworxVolume"),
        ("azureDisk", "azureDisk"),
        ("storageos", "storageos"),
        ("projected", "projected"),
        ("scaleIO", "scaleIO"),
        ("csi", "csi"),
        ("ephemeral", "ephemeral"),
        ("image", "image"),
    ];

    fn mode(v: &Value, k: &str, path: &str, e: &mut Errs) {
        if let Some(m) = int(v, k)
            && !(0..=0o777).contains(&m)
        {
            e.invalid(&ch(path, k), m, FILE_MODE_MSG);
        }
    }

    /// `validatePathNoBacksteps`.
    fn no_backsteps(target: &str, path: &str, e: &mut Errs) {
        if target.split('/').any(|p| p == "..") {
            e.invalid(path, target, "must not contain '..'");
        }
    }

    /// `validateLocalDescendingPath`.
    fn local_descending(target: &str, path: &str, e: &mut Errs) {
        if target.starts_with('/') {
            e.invalid(path, target, "must be a relative path");
        }
        no_backsteps(target, path, e);
    }

    /// `ValidateLocalNonReservedPath`.
    fn local_non_reserved(target: &str, path: &str, e: &mut Errs) {
        local_descending(target, path, e);
        if target.starts_with("..") && !target.starts_with("../") {
            e.invalid(path, target, "must not start with '..'");
        }
    }

    fn key_to_path(kp: &Value, path: &str, e: &mut Errs) {
        if st(kp, "key").is_empty() {
            e.required(&ch(path, "key"), "");
        }
        if st(kp, "path").is_empty() {
            e.required(&ch(path, "path"), "");
        }
        local_non_reserved(st(kp, "path"), &ch(path, "path"), e);
        mode(kp, "mode", path, e);
    }

    const VOLUME_FIELD_PATHS: [&str; 5] = [
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
    ];
    const ENV_FIELD_PATHS: [&str; 9] = [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    ];
    const CONVERTIBLE_FIELD_PATHS: [&str; 14] = [
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    ];
    const RESOURCE_FIELD_PATHS: [&str; 6] = [
        "limits.cpu",
        "limits.ephemeral-storage",
        "limits.memory",
        "requests.cpu",
        "requests.ephemeral-storage",
        "requests.memory",
    ];

    /// `validateObjectFieldSelector`.
    fn object_field_selector(fs: &Value, allowed: &[&str], path: &str, e: &mut Errs) {
        let api_version = st(fs, "apiVersion");
        if api_version.is_empty() {
            e.required(&ch(path, "apiVersion"), "");
            return;
        }
        let field_path = st(fs, "fieldPath");
        if field_path.is_empty() {
            e.required(&ch(path, "fieldPath"), "");
            return;
        }
        if api_version != "v1" {
            e.invalid(
                &ch(path, "fieldPath"),
                field_path,
                &format!("error converting fieldPath: unsupported pod version: {api_version}"),
            );
            return;
        }
        // metadata.labels['x'] / metadata.annotations['x']
        if let Some(open) = field_path.find('[')
            && field_path.ends_with("']")
            && field_path[open..].starts_with("['")
        {
            let base = &field_path[..open];
            let subscript = &field_path[open + 2..field_path.len() - 2];
            match base {
                "metadata.annotations" => {
                    for msg in fmtcheck::qualified_name(&subscript.to_lowercase()) {
                        e.invalid(path, subscript.to_lowercase(), &msg);
                    }
                }
                "metadata.labels" => {
                    for msg in fmtcheck::qualified_name(subscript) {
                        e.invalid(path, subscript, &msg);
                    }
                }
                _ => e.invalid(
                    &ch(path, "fieldPath"),
                    field_path,
                    &format!("error converting fieldPath: field label not supported: {field_path}"),
                ),
            }
            return;
        }
        if !CONVERTIBLE_FIELD_PATHS.contains(&field_path) {
            e.invalid(
                &ch(path, "fieldPath"),
                field_path,
                &format!("error converting fieldPath: field label not supported: {field_path}"),
            );
            return;
        }
        if !allowed.contains(&field_path) {
            let mut valid: Vec<&str> = allowed.to_vec();
            valid.sort_unstable();
            e.not_supported(&ch(path, "fieldPath"), field_path, &valid);
        }
    }

    /// `validateContainerResourceFieldSelector`.
    fn resource_field_selector(fs: &Value, path: &str, volume: bool, e: &mut Errs) {
        let resource = st(fs, "resource");
        if volume && st(fs, "containerName").is_empty() {
            e.required(&ch(path, "containerName"), "");
        } else if resource.is_empty() {
            e.required(&ch(path, "resource"), "");
        } else if !RESOURCE_FIELD_PATHS.contains(&resource)
            && !resource.starts_with("requests.hugepages-")
            && !resource.starts_with("limits.hugepages-")
        {
            e.not_supported(&ch(path, "resource"), resource, &RESOURCE_FIELD_PATHS);
        }
    }

    fn downward_api_file(file: &Value, path: &str, e: &mut Errs) {
        if st(file, "path").is_empty() {
            e.required(&ch(path, "path"), "");
        }
        local_non_reserved(st(file, "path"), &ch(path, "path"), e);
        if let Some(fr) = get(file, "fieldRef") {
            object_field_selector(fr, &VOLUME_FIELD_PATHS, &ch(path, "fieldRef"), e);
            if get(file, "resourceFieldRef").is_some() {
                e.invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                );
            }
        } else if let Some(rf) = get(file, "resourceFieldRef") {
            resource_field_selector(rf, &ch(path, "resourceFieldRef"), true, e);
        } else {
            e.required(path, "one of fieldRef and resourceFieldRef is required");
        }
        mode(file, "mode", path, e);
    }

    /// `validateVolumeSource`, for the sources whose rules matter to users.
    fn volume_source(vol: &Value, path: &str, e: &mut Errs) {
        let mut count = 0;
        for (k, child) in VOLUME_SOURCES {
            let Some(src) = get(vol, k) else { continue };
            if count > 0 {
                e.forbidden(&ch(path, child), "may not specify more than 1 volume type");
                continue;
            }
            count += 1;
            let p = ch(path, k);
            match k {
                "emptyDir" => {
                    if let Some(limit) = opt_str(src, "sizeLimit")
                        && quantity::parse(limit).is_ok_and(|q| q.signum() < 0)
                    {
                        e.forbidden(
                            &ch(&p, "sizeLimit"),
                            "SizeLimit field must be a valid resource quantity",
                        );
                    }
                }
                "hostPath" => {
                    let hp = st(src, "path");
                    if hp.is_empty() {
                        e.required(&ch(&p, "path"), "");
                    } else {
                        no_backsteps(hp, &ch(&p, "path"), e);
                        let t = st(src, "type");
                        const TYPES: [&str; 7] = [
                            "",
                            "BlockDevice",
                            "CharDevice",
                            "Directory",
                            "DirectoryOrCreate",
                            "File",
                            "FileOrCreate",
                        ];
                        if get(src, "type").is_some() && !TYPES.contains(&t) && t != "Socket" {
                            e.not_supported(
                                &ch(&p, "type"),
                                t,
                                &[
                                    "",
                                    "BlockDevice",
                                    "CharDevice",
                                    "Directory",
                                    "DirectoryOrCreate",
                                    "File",
                                    "FileOrCreate",
                                    "Socket",
                                ],
                            );
                        }
                    }
                }
                "gitRepo" => {
                    if st(src, "repository").is_empty() {
                        e.required(&ch(&p, "repository"), "");
                    }
                    local_descending(st(src, "directory"), &ch(&p, "directory"), e);
                }
                "secret" => {
                    if st(src, "secretName").is_empty() {
                        e.required(&ch(&p, "secretName"), "");
                    }
                    if let Some(m) = int(src, "defaultMode")
                        && !(0..=0o777).contains(&m)
                    {
                        e.invalid(&ch(&p, "defaultMode"), m, FILE_MODE_MSG);
                    }
                    for (i, kp) in arr(src, "items").iter().enumerate() {
                        key_to_path(kp, &ix(&ch(&p, "items"), i), e);
                    }
                }
                "configMap" => {
                    if st(src, "name").is_empty() {
                        e.required(&ch(&p, "name"), "");
                    }
                    if let Some(m) = int(src, "defaultMode")
                        && !(0..=0o777).contains(&m)
                    {
                        e.invalid(&ch(&p, "defaultMode"), m, FILE_MODE_MSG);
                    }
                    for (i, kp) in arr(src, "items").iter().enumerate() {
                        key_to_path(kp, &ix(&ch(&p, "items"), i), e);
                    }
                }
                "nfs" => {
                    if st(src, "server").is_empty() {
                        e.required(&ch(&p, "server"), "");
                    }
                    let np = st(src, "path");
                    if np.is_empty() {
                        e.required(&ch(&p, "path"), "");
                    }
                    if !np.starts_with('/') {
                        e.invalid(&ch(&p, "path"), np, "must be an absolute path");
                    }
                }
                "persistentVolumeClaim" if st(src, "claimName").is_empty() => {
                    e.required(&ch(&p, "claimName"), "");
                }
                "downwardAPI" => {
                    if let Some(m) = int(src, "defaultMode")
                        && !(0..=0o777).contains(&m)
                    {
                        e.invalid(&ch(&p, "defaultMode"), m, FILE_MODE_MSG);
                    }
                    for file in arr(src, "items") {
                        downward_api_file(file, &p, e);
                    }
                }
                "projected" => projected(src, &p, e),
                "csi" => {
                    let driver = st(src, "driver");
                    if driver.is_empty() {
                        e.required(&ch(&p, "driver"), "");
                    }
                }
                "image" if st(src, "reference").is_empty() => {
                    e.required(&ch(&p, "reference"), "");
                }
                _ => {}
            }
        }
        if count == 0 {
            e.required(path, "must specify a volume type");
        }
    }

    fn projected(src: &Value, path: &str, e: &mut Errs) {
        let mut paths = BTreeSet::new();
        for (i, source) in arr(src, "sources").iter().enumerate() {
            let sp = ix(&ch(path, "sources"), i);
            let mut n = 0;
            for k in ["secret", "configMap"] {
                let Some(s) = get(source, k) else { continue };
                n += 1;
                let pp = ch(&sp, k);
                if st(s, "name").is_empty() {
                    e.required(&ch(&pp, "name"), "");
                }
                for (j, kp) in arr(s, "items").iter().enumerate() {
                    key_to_path(kp, &ix(&ch(&pp, "items"), j), e);
                    let kpath = st(kp, "path");
                    if !kpath.is_empty() && !paths.insert(kpath.to_string()) {
                        e.invalid(path, st(s, "name"), "conflicting duplicate paths");
                    }
                }
            }
            if let Some(d) = get(source, "downwardAPI") {
                n += 1;
                for file in arr(d, "items") {
                    downward_api_file(file, &ch(&sp, "downwardAPI"), e);
                    let fpath = st(file, "path");
                    if !fpath.is_empty() && !paths.insert(fpath.to_string()) {
                        e.invalid(path, fpath, "conflicting duplicate paths");
                    }
                }
            }
            if let Some(t) = get(source, "serviceAccountToken") {
                n += 1;
                let tp = ch(&sp, "serviceAccountToken");
                if let Some(exp) = int(t, "expirationSeconds") {
                    if exp < 10 * 60 {
                        e.invalid(
                            &ch(&tp, "expirationSeconds"),
                            exp,
                            "may not specify a duration less than 10 minutes",
                        );
                    }
                    if exp > 1 << 32 {
                        e.invalid(
                            &ch(&tp, "expirationSeconds"),
                            exp,
                            "may not specify a duration larger than 2^32 seconds",
                        );
                    }
                }
                let tpath = st(t, "path");
                if tpath.is_empty() {
                    e.required(&ch(&tp, "path"), "");
                } else if !paths.insert(tpath.to_string()) {
                    e.invalid(path, tpath, "conflicting duplicate paths");
                }
            }
            if get(source, "clusterTrustBundle").is_some() {
                n += 1;
            }
            if n > 1 {
                e.forbidden(&sp, "may not specify more than 1 volume type per source");
            }
        }
        if let Some(m) = int(src, "defaultMode")
            && !(0..=0o777).contains(&m)
        {
            e.invalid(&ch(path, "defaultMode"), m, FILE_MODE_MSG);
        }
    }

    /// `ValidateVolumes`: the volumes that validated, by name.
    fn volumes(spec: &Value, path: &str, e: &mut Errs) -> BTreeMap<String, Value> {
        let mut names = BTreeSet::new();
        let mut vols = BTreeMap::new();
        for (i, vol) in arr(spec, "volumes").iter().enumerate() {
            let p = ix(path, i);
            let name_path = ch(&p, "name");
            let mut el = Errs::default();
            volume_source(vol, &p, &mut el);
            let name = st(vol, "name");
            if name.is_empty() {
                el.required(&name_path, "");
            } else {
                for msg in fmtcheck::dns1123_label(name) {
                    el.invalid(&name_path, name, &msg);
                }
            }
            if names.contains(name) {
                el.duplicate(&name_path, name);
            }
            if el.0.is_empty() {
                names.insert(name.to_string());
                vols.insert(name.to_string(), vol.clone());
            } else {
                e.0.extend(el.0);
            }
        }
        vols
    }

    /// `validateContainerPorts`.
    fn container_ports(ports: &[Value], path: &str, e: &mut Errs) {
        let mut names = BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = ix(path, i);
            let name = st(port, "name");
            if !name.is_empty() {
                let msgs = fmtcheck::port_name(name);
                if !msgs.is_empty() {
                    for msg in msgs {
                        e.invalid(&ch(&p, "name"), name, &msg);
                    }
                } else if !names.insert(name.to_string()) {
                    e.duplicate(&ch(&p, "name"), name);
                }
            }
            let cp = int(port, "containerPort").unwrap_or(0);
            if cp == 0 {
                e.required(&ch(&p, "containerPort"), "");
            } else {
                for msg in fmtcheck::port_num(cp) {
                    e.invalid(&ch(&p, "containerPort"), cp, &msg);
                }
            }
            let hp = int(port, "hostPort").unwrap_or(0);
            if hp != 0 {
                for msg in fmtcheck::port_num(hp) {
                    e.invalid(&ch(&p, "hostPort"), hp, &msg);
                }
            }
            protocol(port, &p, e);
        }
    }

    /// `protocol` of a port: required, one of SCTP/TCP/UDP.
    pub fn protocol(port: &Value, path: &str, e: &mut Errs) {
        let proto = st(port, "protocol");
        if proto.is_empty() {
            e.required(&ch(path, "protocol"), "");
        } else if !["SCTP", "TCP", "UDP"].contains(&proto) {
            e.not_supported(&ch(path, "protocol"), proto, &["SCTP", "TCP", "UDP"]);
        }
    }

    fn env(vars: &[Value], path: &str, e: &mut Errs) {
        for (i, ev) in vars.iter().enumerate() {
            let p = ix(path, i);
            let name = st(ev, "name");
            if name.is_empty() {
                e.required(&ch(&p, "name"), "");
            } else {
                for msg in fmtcheck::env_var_name(name) {
                    e.invalid(&ch(&p, "name"), name, &msg);
                }
            }
            let Some(from) = get(ev, "valueFrom") else {
                continue;
            };
            let fp = ch(&p, "valueFrom");
            let mut n = 0;
            if let Some(fr) = get(from, "fieldRef") {
                n += 1;
                object_field_selector(fr, &ENV_FIELD_PATHS, &ch(&fp, "fieldRef"), e);
            }
            if let Some(rf) = get(from, "resourceFieldRef") {
                n += 1;
                resource_field_selector(rf, &ch(&fp, "resourceFieldRef"), false, e);
            }
            for k in ["configMapKeyRef", "secretKeyRef"] {
                let Some(sel) = get(from, k) else { continue };
                n += 1;
                let sp = ch(&fp, k);
                let name = st(sel, "name");
                for msg in fmtcheck::dns1123_subdomain(name) {
                    e.invalid(&ch(&sp, "name"), name, &msg);
                }
                let key = st(sel, "key");
                if key.is_empty() {
                    e.required(&ch(&sp, "key"), "");
                } else {
                    for msg in fmtcheck::config_map_key(key) {
                        e.invalid(&ch(&sp, "key"), key, &msg);
                    }
                }
            }
            if n == 0 {
                e.invalid(&fp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
            } else if !st(ev, "value").is_empty() {
                e.invalid(&fp, "", "may not be specified when `value` is not empty");
            } else if n > 1 {
                e.invalid(
                    &fp,
                    "",
                    "may not have more than one field specified at a time",
                );
            }
        }
    }

    fn env_from(list: &[Value], path: &str, e: &mut Errs) {
        for (i, ev) in list.iter().enumerate() {
            let p = ix(path, i);
            let prefix = st(ev, "prefix");
            if !prefix.is_empty() {
                for msg in fmtcheck::env_var_name(prefix) {
                    e.invalid(&ch(&p, "prefix"), prefix, &msg);
                }
            }
            let mut n = 0;
            for k in ["configMapRef", "secretRef"] {
                let Some(r) = get(ev, k) else { continue };
                n += 1;
                let name = st(r, "name");
                if name.is_empty() {
                    e.required(&ch(&ch(&p, k), "name"), "");
                } else {
                    for msg in name_is_dns_subdomain(name, true) {
                        e.invalid(&ch(&ch(&p, k), "name"), name, &msg);
                    }
                }
            }
            if n == 0 {
                e.invalid(
                    path,
                    "",
                    "must specify one of: `configMapRef` or `secretRef`",
                );
            } else if n > 1 {
                e.invalid(
                    path,
                    "",
                    "may not have more than one field specified at a time",
                );
            }
        }
    }

    fn volume_mounts(ctr: &Value, vols: &BTreeMap<String, Value>, path: &str, e: &mut Errs) {
        let devices: BTreeMap<&str, &str> = arr(ctr, "volumeDevices")
            .iter()
            .map(|d| (st(d, "name"), st(d, "devicePath")))
            .collect();
        let mut mount_points = BTreeSet::new();
        for (i, m) in arr(ctr, "volumeMounts").iter().enumerate() {
            let p = ix(path, i);
            let name = st(m, "name");
            if name.is_empty() {
                e.required(&ch(&p, "name"), "");
            }
            if !vols.contains_key(name) {
                e.not_found(&ch(&p, "name"), name);
            }
            let mount_path = st(m, "mountPath");
            if mount_path.is_empty() {
                e.required(&ch(&p, "mountPath"), "");
            }
            if !mount_points.insert(mount_path.to_string()) {
                e.invalid(&ch(&p, "mountPath"), mount_path, "must be unique");
            }
            if devices.contains_key(name) {
                e.invalid(
                    &ch(&p, "name"),
                    name,
                    "must not already exist in volumeDevices",
                );
            }
            if devices.values().any(|d| *d == mount_path) {
                e.invalid(
                    &ch(&p, "mountPath"),
                    mount_path,
                    "must not already exist as a path in volumeDevices",
                );
            }
            let sub_path = st(m, "subPath");
            let sub_path_expr = st(m, "subPathExpr");
            if vols.get(name).is_some_and(|v| get(v, "image").is_some()) {
                if !sub_path.is_empty() {
                    e.invalid(
                        &ch(&p, "subPath"),
                        sub_path,
                        "not allowed in image volume sources",
                    );
                }
                if !sub_path_expr.is_empty() {
                    e.invalid(
                        &ch(&p, "subPathExpr"),
                        sub_path_expr,
                        "not allowed in image volume sources",
                    );
                }
            }
            if !sub_path.is_empty() {
                local_descending(sub_path, &ch(path, "subPath"), e);
            }
            if !sub_path_expr.is_empty() {
                if !sub_path.is_empty() {
                    e.invalid(
                        &ch(&p, "subPathExpr"),
                        sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    );
                }
                local_descending(sub_path_expr, &ch(path, "subPathExpr"), e);
            }
            if let Some(prop) = opt_str(m, "mountPropagation")
                && !["Bidirectional", "HostToContainer", "None"].contains(&prop)
            {
                e.not_supported(
                    &ch(path, "mountPropagation"),
                    prop,
                    &["Bidirectional", "HostToContainer", "None"],
                );
            }
        }
    }

    fn volume_devices(ctr: &Value, vols: &BTreeMap<String, Value>, path: &str, e: &mut Errs) {
        let mounts: BTreeMap<&str, &str> = arr(ctr, "volumeMounts")
            .iter()
            .map(|m| (st(m, "name"), st(m, "mountPath")))
            .collect();
        let mut paths = BTreeSet::new();
        let mut names = BTreeSet::new();
        for (i, d) in arr(ctr, "volumeDevices").iter().enumerate() {
            let p = ix(path, i);
            let name = st(d, "name");
            let dev_path = st(d, "devicePath");
            let source = vols.get(name);
            let is_pvc = source.is_some_and(|v| {
                get(v, "persistentVolumeClaim").is_some() || get(v, "ephemeral").is_some()
            });
            if name.is_empty() {
                e.required(&ch(&p, "name"), "");
            }
            if names.contains(name) {
                e.invalid(&ch(&p, "name"), name, "must be unique");
            }
            if source.is_some() && !is_pvc {
                e.invalid(
                    &ch(&p, "name"),
                    name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                );
            }
            if source.is_none() {
                e.not_found(&ch(&p, "name"), name);
            }
            if dev_path.is_empty() {
                e.required(&ch(&p, "devicePath"), "");
            }
            if paths.contains(dev_path) {
                e.invalid(&ch(&p, "devicePath"), dev_path, "must be unique");
            }
            if !dev_path.is_empty() && dev_path.split('/').any(|s| s == "..") {
                e.invalid(
                    &ch(&p, "devicePath"),
                    dev_path,
                    "can not contain backsteps ('..')",
                );
            } else {
                paths.insert(dev_path.to_string());
            }
            if mounts.contains_key(name) {
                e.invalid(
                    &ch(&p, "name"),
                    name,
                    "must not already exist in volumeMounts",
                );
            }
            if mounts.values().any(|m| *m == dev_path) {
                e.invalid(
                    &ch(&p, "devicePath"),
                    dev_path,
                    "must not already exist as a path in volumeMounts",
                );
            }
            if !name.is_empty() {
                names.insert(name.to_string());
            }
        }
    }

    /// `validateResourceRequirements` for a container.
    fn resources(res: &Value, path: &str, e: &mut Errs) {
        let lim_path = ch(path, "limits");
        let req_path = ch(path, "requests");
        let limits = map_at(res, "limits");
        let mut limits_q: BTreeMap<String, quantity::Quantity> = BTreeMap::new();
        let mut has_compute = false;
        let mut has_huge = false;
        if let Some(limits) = limits {
            for (name, q) in limits {
                let p = key(&lim_path, name);
                resource_name(name, &p, e);
                if let Some(q) = quantity_value(q, &p, name, e) {
                    limits_q.insert(name.clone(), q);
                }
                has_compute |= name == "cpu" || name == "memory";
                has_huge |= name.starts_with("hugepages-");
            }
        }
        if let Some(requests) = map_at(res, "requests") {
            for (name, q) in requests {
                let p = key(&req_path, name);
                resource_name(name, &p, e);
                let parsed = quantity_value(q, &p, name, e);
                let overcommit =
                    !(name.starts_with("hugepages-") || name.contains('/') && !is_native(name));
                match (parsed, limits_q.get(name)) {
                    (Some(rq), Some(lq)) => {
                        if rq.cmp(lq) != std::cmp::Ordering::Equal && !overcommit {
                            e.invalid(
                                &req_path,
                                rq.canonical(),
                                &format!("must be equal to {name} limit of {}", lq.canonical()),
                            );
                        } else if rq.cmp(lq) == std::cmp::Ordering::Greater {
                            e.invalid(
                                &req_path,
                                rq.canonical(),
                                &format!(
                                    "must be less than or equal to {name} limit of {}",
                                    lq.canonical()
                                ),
                            );
                        }
                    }
                    (_, None) if !overcommit => {
                        e.required(
                            &lim_path,
                            "Limit must be set for non overcommitable resources",
                        );
                    }
                    _ => {}
                }
                has_compute |= name == "cpu" || name == "memory";
                has_huge |= name.starts_with("hugepages-");
            }
        }
        if has_huge && !has_compute {
            e.forbidden(path, "HugePages require cpu or memory");
        }
    }

    fn is_native(name: &str) -> bool {
        !name.contains('/') || name.contains("kubernetes.io/")
    }

    fn resource_name(name: &str, path: &str, e: &mut Errs) {
        for msg in fmtcheck::qualified_name(name) {
            e.invalid(path, name, &msg);
        }
        if !name.contains('/') {
            if !["cpu", "memory", "ephemeral-storage"].contains(&name)
                && !name.starts_with("hugepages-")
            {
                e.invalid(path, name, "must be a standard resource for containers");
            }
        } else if !is_native(name) && (name.starts_with("requests.") || name.contains("/requests."))
        {
            e.invalid(path, name, "doesn't follow extended resource name standard");
        }
    }

    /// `ValidateResourceQuantityValue`; the parsed quantity when it is well formed.
    pub fn quantity_value(
        v: &Value,
        path: &str,
        name: &str,
        e: &mut Errs,
    ) -> Option<quantity::Quantity> {
        let q = match v {
            Value::String(s) => quantity::parse(s).ok()?,
            Value::Number(n) => quantity::parse(&n.to_string()).ok()?,
            _ => return None,
        };
        if q.signum() < 0 {
            e.invalid(path, q.canonical(), IS_NEGATIVE);
        }
        let integer_resource = name.contains('/') && !is_native(name);
        if integer_resource && !q.is_integer() {
            e.invalid(path, q.canonical(), "must be an integer");
        }
        Some(q)
    }

    /// A probe's or lifecycle hook's handler (`validateHandler`).
    fn handler(h: &Value, kinds: &[&str], grace: Option<i64>, path: &str, e: &mut Errs) {
        let mut n = 0;
        for k in kinds {
            let Some(v) = get(h, k) else { continue };
            let p = ch(path, k);
            if n > 0 {
                e.forbidden(&p, "may not specify more than 1 handler type");
                continue;
            }
            n += 1;
            match *k {
                "exec" if arr(v, "command").is_empty() => {
                    e.required(&ch(&p, "command"), "");
                }
                "httpGet" => {
                    if st(v, "path").is_empty() {
                        e.required(&ch(&p, "path"), "");
                    }
                    port_num_or_name(v.get("port").unwrap_or(&NULL), &ch(&p, "port"), e);
                    let scheme = st(v, "scheme");
                    if !["HTTP", "HTTPS"].contains(&scheme) {
                        e.not_supported(&ch(&p, "scheme"), scheme, &["HTTP", "HTTPS"]);
                    }
                    for hdr in arr(v, "httpHeaders") {
                        let hn = st(hdr, "name");
                        for msg in fmtcheck::http_header_name(hn) {
                            e.invalid(&ch(&p, "httpHeaders"), hn, &msg);
                        }
                    }
                }
                "tcpSocket" => port_num_or_name(v.get("port").unwrap_or(&NULL), &ch(&p, "port"), e),
                "grpc" => {
                    let port = int(v, "port").unwrap_or(0);
                    for msg in fmtcheck::port_num(port) {
                        e.invalid(&ch(&p, "port"), port, &msg);
                    }
                }
                "sleep" => {
                    let secs = int(v, "seconds").unwrap_or(0);
                    if let Some(g) = grace
                        && (secs < 0 || secs > g)
                    {
                        e.invalid(
                            &p,
                            secs,
                            &format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                        );
                    }
                }
                _ => {}
            }
        }
        if n == 0 {
            e.required(path, "must specify a handler type");
        }
    }

    /// `ValidatePortNumOrName` of an `IntOrString`.
    pub fn port_num_or_name(port: &Value, path: &str, e: &mut Errs) {
        match port {
            Value::String(s) => {
                for msg in fmtcheck::port_name(s) {
                    e.invalid(path, s.as_str(), &msg);
                }
            }
            other => {
                let n = as_int(other).unwrap_or(0);
                for msg in fmtcheck::port_num(n) {
                    e.invalid(path, n, &msg);
                }
            }
        }
    }

    fn probe(probe: &Value, grace: Option<i64>, path: &str, e: &mut Errs) {
        handler(
            probe,
            &["exec", "httpGet", "tcpSocket", "grpc"],
            grace,
            path,
            e,
        );
        for k in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            e.nonnegative(&ch(path, k), int(probe, k).unwrap_or(0));
        }
        if let Some(t) = int(probe, "terminationGracePeriodSeconds")
            && t <= 0
        {
            e.invalid(
                &ch(path, "terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            );
        }
    }

    fn probes_and_lifecycle(ctr: &Value, grace: Option<i64>, path: &str, e: &mut Errs) {
        if let Some(l) = get(ctr, "lifecycle") {
            for hook in ["postStart", "preStop"] {
                if let Some(h) = get(l, hook) {
                    handler(
                        h,
                        &["exec", "httpGet", "tcpSocket", "sleep"],
                        grace,
                        &ch(&ch(path, "lifecycle"), hook),
                        e,
                    );
                }
            }
        }
        if let Some(p) = get(ctr, "livenessProbe") {
            let pp = ch(path, "livenessProbe");
            probe(p, grace, &pp, e);
            let s = int(p, "successThreshold").unwrap_or(0);
            if s != 1 {
                e.invalid(&ch(&pp, "successThreshold"), s, "must be 1");
            }
        }
        if let Some(p) = get(ctr, "readinessProbe") {
            let pp = ch(path, "readinessProbe");
            probe(p, grace, &pp, e);
            if let Some(t) = int(p, "terminationGracePeriodSeconds") {
                e.invalid(
                    &ch(&pp, "terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                );
            }
        }
        if let Some(p) = get(ctr, "startupProbe") {
            let pp = ch(path, "startupProbe");
            probe(p, grace, &pp, e);
            let s = int(p, "successThreshold").unwrap_or(0);
            if s != 1 {
                e.invalid(&ch(&pp, "successThreshold"), s, "must be 1");
            }
        }
    }

    fn security_context(sc: Option<&Value>, path: &str, e: &mut Errs) {
        let Some(sc) = sc.filter(|v| !v.is_null()) else {
            return;
        };
        for k in ["runAsUser", "runAsGroup"] {
            if let Some(id) = int(sc, k)
                && !(0..=i64::from(i32::MAX)).contains(&id)
            {
                e.invalid(
                    &ch(path, k),
                    id,
                    &fmtcheck::range_error(0, i64::from(i32::MAX)),
                );
            }
        }
        if let Some(pm) = opt_str(sc, "procMount")
            && !["Default", "Unmasked"].contains(&pm)
        {
            e.not_supported(&ch(path, "procMount"), pm, &["Default", "Unmasked"]);
        }
        seccomp(sc, path, e);
        if boolean(sc, "allowPrivilegeEscalation") == Some(false)
            && boolean(sc, "privileged") == Some(true)
        {
            e.invalid(
                path,
                go_json(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            );
        }
    }

    fn seccomp(sc: &Value, path: &str, e: &mut Errs) {
        let Some(p) = get(sc, "seccompProfile") else {
            return;
        };
        let pp = ch(path, "seccompProfile");
        let t = st(p, "type");
        let localhost = opt_str(p, "localhostProfile");
        match t {
            "" => e.required(&ch(&pp, "type"), ""),
            "Localhost" => match localhost {
                None => e.required(
                    &ch(&pp, "localhostProfile"),
                    "must be set when seccomp type is Localhost",
                ),
                Some(l) => local_descending(l, &ch(&pp, "localhostProfile"), e),
            },
            "RuntimeDefault" | "Unconfined" => {
                if localhost.is_some() {
                    e.invalid(
                        &pp,
                        go_json(p),
                        "localhostProfile must only be set if type is Localhost",
                    );
                }
            }
            other => e.not_supported(
                &ch(&pp, "type"),
                other,
                &["Localhost", "RuntimeDefault", "Unconfined"],
            ),
        }
    }

    /// `validateContainerCommon`.
    fn container_common(ctr: &Value, vols: &BTreeMap<String, Value>, path: &str, e: &mut Errs) {
        let name = st(ctr, "name");
        if name.is_empty() {
            e.required(&ch(path, "name"), "");
        } else {
            for msg in fmtcheck::dns1123_label(name) {
                e.invalid(&ch(path, "name"), name, &msg);
            }
        }
        if st(ctr, "image").is_empty() {
            e.required(&ch(path, "image"), "");
        }
        match st(ctr, "terminationMessagePolicy") {
            "File" | "FallbackToLogsOnError" => {}
            "" => e.required(&ch(path, "terminationMessagePolicy"), ""),
            other => e.not_supported(
                &ch(path, "terminationMessagePolicy"),
                other,
                &["File", "FallbackToLogsOnError"],
            ),
        }
        container_ports(arr(ctr, "ports"), &ch(path, "ports"), e);
        env(arr(ctr, "env"), &ch(path, "env"), e);
        env_from(arr(ctr, "envFrom"), &ch(path, "envFrom"), e);
        volume_mounts(ctr, vols, &ch(path, "volumeMounts"), e);
        volume_devices(ctr, vols, &ch(path, "volumeDevices"), e);
        match st(ctr, "imagePullPolicy") {
            "Always" | "IfNotPresent" | "Never" => {}
            "" => e.required(&ch(path, "imagePullPolicy"), ""),
            other => e.not_supported(
                &ch(path, "imagePullPolicy"),
                other,
                &["Always", "IfNotPresent", "Never"],
            ),
        }
        resources(sub(ctr, "resources"), &ch(path, "resources"), e);
        for (i, p) in arr(ctr, "resizePolicy").iter().enumerate() {
            let rp = ch(path, "resizePolicy");
            match st(p, "resourceName") {
                "cpu" | "memory" => {}
                "" => e.required(&rp, ""),
                other => e.not_supported(&rp, other, &["cpu", "memory"]),
            }
            match st(p, "restartPolicy") {
                "NotRequired" | "RestartContainer" => {}
                "" => e.required(&rp, ""),
                other => e.not_supported(&rp, other, &["NotRequired", "RestartContainer"]),
            }
            let _ = i;
        }
        security_context(ctr.get("securityContext"), &ch(path, "securityContext"), e);
    }

    /// `AccumulateUniqueHostPorts`.
    fn host_port_conflicts(ctrs: &[&Value], path: &str, offset: usize, e: &mut Errs) {
        let mut seen = BTreeSet::new();
        for (ci, ctr) in ctrs.iter().enumerate() {
            for (pi, port) in arr(ctr, "ports").iter().enumerate() {
                let hp = int(port, "hostPort").unwrap_or(0);
                if hp == 0 {
                    continue;
                }
                let k = format!("{}/{}/{}", st(port, "protocol"), st(port, "hostIP"), hp);
                if !seen.insert(k.clone()) {
                    e.duplicate(
                        &ch(&ix(&ch(&ix(path, ci + offset), "ports"), pi), "hostPort"),
                        k,
                    );
                }
            }
        }
    }

    fn containers(
        spec: &Value,
        vols: &BTreeMap<String, Value>,
        grace: Option<i64>,
        path: &str,
        e: &mut Errs,
    ) {
        let list = arr(spec, "containers");
        if list.is_empty() {
            e.required(path, "");
            return;
        }
        let mut names = BTreeSet::new();
        for (i, ctr) in list.iter().enumerate() {
            let p = ix(path, i);
            container_common(ctr, vols, &p, e);
            let name = st(ctr, "name");
            if !names.insert(name.to_string()) {
                e.duplicate(&ch(&p, "name"), name);
            }
            probes_and_lifecycle(ctr, grace, &p, e);
            if get(ctr, "restartPolicy").is_some() {
                e.forbidden(
                    &ch(&p, "restartPolicy"),
                    "may not be set for non-init containers",
                );
            }
        }
        let refs: Vec<&Value> = list.iter().collect();
        host_port_conflicts(&refs, path, 0, e);
    }

    fn init_containers(
        spec: &Value,
        vols: &BTreeMap<String, Value>,
        grace: Option<i64>,
        path: &str,
        e: &mut Errs,
    ) {
        let mut names: BTreeSet<String> = arr(spec, "containers")
            .iter()
            .map(|c| st(c, "name").to_string())
            .collect();
        for (i, ctr) in arr(spec, "initContainers").iter().enumerate() {
            let p = ix(path, i);
            container_common(ctr, vols, &p, e);
            let mut restart_always = false;
            if let Some(rp) = opt_str(ctr, "restartPolicy") {
                if rp != "Always" {
                    e.not_supported(&ch(&p, "restartPolicy"), rp, &["Always"]);
                }
                restart_always = rp == "Always";
            }
            let name = st(ctr, "name");
            if names.contains(name) {
                e.duplicate(&ch(&p, "name"), name);
            } else if !name.is_empty() {
                names.insert(name.to_string());
            }
            host_port_conflicts(&[ctr], path, i, e);
            if restart_always {
                probes_and_lifecycle(ctr, grace, &p, e);
            } else {
                for k in [
                    "lifecycle",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                ] {
                    if get(ctr, k).is_some() {
                        e.forbidden(
                            &ch(&p, k),
                            "may not be set for init containers without restartPolicy=Always",
                        );
                    }
                }
            }
        }
    }

    fn tolerations(list: &[Value], path: &str, e: &mut Errs) {
        for (i, t) in list.iter().enumerate() {
            let p = ix(path, i);
            let k = st(t, "key");
            if !k.is_empty() {
                for msg in fmtcheck::qualified_name(k) {
                    e.invalid(&ch(&p, "key"), k, &msg);
                }
            }
            let op = st(t, "operator");
            if k.is_empty() && op != "Exists" {
                e.invalid(
                    &ch(&p, "operator"),
                    op,
                    "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                );
            }
            let effect = st(t, "effect");
            if get(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
                e.invalid(
                    &ch(&p, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                );
            }
            let value = st(t, "value");
            match op {
                "Equal" | "" => {
                    let errs = fmtcheck::label_value(value);
                    if !errs.is_empty() {
                        e.invalid(&ch(&p, "operator"), value, &errs.join(";"));
                    }
                }
                "Exists" => {
                    if !value.is_empty() {
                        e.invalid(
                            &ch(&p, "operator"),
                            value,
                            "value must be empty when `operator` is 'Exists'",
                        );
                    }
                }
                other => e.not_supported(&ch(&p, "operator"), other, &["Equal", "Exists"]),
            }
            if !effect.is_empty() {
                taint_effect(effect, &ch(&p, "effect"), e);
            }
        }
    }

    /// `validateTaintEffect` (effect known to be non-empty or required by the caller).
    pub fn taint_effect(effect: &str, path: &str, e: &mut Errs) {
        if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
            e.not_supported(
                path,
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            );
        }
    }

    fn dns_config(spec: &Value, path: &str, e: &mut Errs) {
        let cfg = get(spec, "dnsConfig");
        if st(spec, "dnsPolicy") == "None" {
            match cfg {
                None => {
                    e.required(path, "must provide `dnsConfig` when `dnsPolicy` is None");
                    return;
                }
                Some(c) if arr(c, "nameservers").is_empty() => {
                    e.required(
                        &ch(path, "nameservers"),
                        "must provide at least one DNS nameserver when `dnsPolicy` is None",
                    );
                    return;
                }
                _ => {}
            }
        }
        let Some(cfg) = cfg else { return };
        let ns = arr(cfg, "nameservers");
        if ns.len() > 3 {
            e.invalid(
                &ch(path, "nameservers"),
                Bad::Raw(go_strings(cfg.get("nameservers"))),
                "must not have more than 3 nameservers",
            );
        }
        for (i, n) in ns.iter().enumerate() {
            let n = n.as_str().unwrap_or("");
            for msg in fmtcheck::ip(n) {
                e.invalid(&ix(&ch(path, "nameservers"), i), n, &msg);
            }
        }
        let searches = strs(cfg, "searches");
        if searches.len() > 32 {
            e.invalid(
                &ch(path, "searches"),
                Bad::Raw(go_strings(cfg.get("searches"))),
                "must not have more than 32 search paths",
            );
        }
        if searches.join(" ").len() > 2048 {
            e.invalid(
                &ch(path, "searches"),
                Bad::Raw(go_strings(cfg.get("searches"))),
                "must not have more than 2048 characters (including spaces) in the search list",
            );
        }
        for (i, s) in searches.iter().enumerate() {
            if s == "." {
                continue;
            }
            let s = s.strip_suffix('.').unwrap_or(s);
            let underscore_ok = s.split('.').all(|l| {
                let l = l.strip_prefix('_').unwrap_or(l);
                let b = l.as_bytes();
                !b.is_empty()
                    && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                    && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                    && b.iter().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_'
                    })
            });
            if !underscore_ok || s.len() > 253 {
                for msg in fmtcheck::dns1123_subdomain(s) {
                    e.invalid(
                        &ix(&ch(path, "searches"), i),
                        s,
                        &msg.replace("characters, '-' or '.'", "characters, '_', '-' or '.'"),
                    );
                }
            }
        }
        for (i, o) in arr(cfg, "options").iter().enumerate() {
            if st(o, "name").is_empty() {
                e.required(&ix(&ch(path, "options"), i), "must not be empty");
            }
        }
    }

    fn pod_security_context(spec: &Value, path: &str, e: &mut Errs) {
        let Some(sc) = get(spec, "securityContext") else {
            return;
        };
        let p = ch(path, "securityContext");
        for k in ["fsGroup", "runAsUser", "runAsGroup"] {
            if let Some(id) = int(sc, k)
                && !(0..=i64::from(i32::MAX)).contains(&id)
            {
                e.invalid(
                    &ch(&p, k),
                    id,
                    &fmtcheck::range_error(0, i64::from(i32::MAX)),
                );
            }
        }
        for (i, g) in arr(sc, "supplementalGroups").iter().enumerate() {
            let g = as_int(g).unwrap_or(0);
            if !(0..=i64::from(i32::MAX)).contains(&g) {
                e.invalid(
                    &ix(&ch(&p, "supplementalGroups"), i),
                    g,
                    &fmtcheck::range_error(0, i64::from(i32::MAX)),
                );
            }
        }
        if boolean(sc, "shareProcessNamespace") == Some(true)
            && boolean(spec, "hostPID") == Some(true)
        {
            e.invalid(
                &ch(&p, "shareProcessNamespace"),
                true,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            );
        }
        if let Some(policy) = opt_str(sc, "fsGroupChangePolicy")
            && !["Always", "OnRootMismatch"].contains(&policy)
        {
            e.not_supported(
                &ch(&p, "fsGroupChangePolicy"),
                policy,
                &["Always", "OnRootMismatch"],
            );
        }
        seccomp(sc, &p, e);
    }

    fn topology_spread(spec: &Value, path: &str, e: &mut Errs) {
        for (i, c) in arr(spec, "topologySpreadConstraints").iter().enumerate() {
            let p = ix(path, i);
            let skew = int(c, "maxSkew").unwrap_or(0);
            if skew <= 0 {
                e.invalid(&ch(&p, "maxSkew"), skew, "must be greater than zero");
            }
            if st(c, "topologyKey").is_empty() {
                e.required(&ch(&p, "topologyKey"), "can not be empty");
            } else {
                for msg in fmtcheck::qualified_name(st(c, "topologyKey")) {
                    e.invalid(&ch(&p, "topologyKey"), st(c, "topologyKey"), &msg);
                }
            }
            match st(c, "whenUnsatisfiable") {
                "DoNotSchedule" | "ScheduleAnyway" => {}
                "" => e.required(&ch(&p, "whenUnsatisfiable"), "can not be empty"),
                other => e.not_supported(
                    &ch(&p, "whenUnsatisfiable"),
                    other,
                    &["DoNotSchedule", "ScheduleAnyway"],
                ),
            }
        }
    }

    /// `ValidatePodSpec`.
    pub fn validate_spec(spec: &Value, path: &str, opts: Opts, e: &mut Errs) {
        let grace = int(spec, "terminationGracePeriodSeconds");
        if get(spec, "terminationGracePeriodSeconds").is_none() {
            e.required(&ch(path, "terminationGracePeriodSeconds"), "");
        }
        let vols = volumes(spec, &ch(path, "volumes"), e);
        let mut claim_names = BTreeSet::new();
        for (i, c) in arr(spec, "resourceClaims").iter().enumerate() {
            let np = ch(&ix(&ch(path, "resourceClaims"), i), "name");
            let name = st(c, "name");
            if name.is_empty() {
                e.required(&np, "");
            } else if !claim_names.insert(name.to_string()) {
                e.duplicate(&np, name);
            } else {
                for msg in fmtcheck::dns1123_label(name) {
                    e.invalid(&np, name, &msg);
                }
            }
        }
        containers(spec, &vols, grace, &ch(path, "containers"), e);
        init_containers(spec, &vols, grace, &ch(path, "initContainers"), e);
        if boolean(spec, "hostNetwork") == Some(true) {
            for (i, ctr) in arr(spec, "containers").iter().enumerate() {
                for (j, port) in arr(ctr, "ports").iter().enumerate() {
                    let hp = int(port, "hostPort").unwrap_or(0);
                    let cp = int(port, "containerPort").unwrap_or(0);
                    if (opts.is_pod || hp != 0) && hp != cp {
                        let pp = ix(&ch(&ix(&ch(path, "containers"), i), "ports"), j);
                        e.invalid(
                            &ch(&pp, "hostPort"),
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        );
                    }
                }
            }
        }
        match st(spec, "restartPolicy") {
            "Always" | "OnFailure" | "Never" => {}
            "" => e.required(&ch(path, "restartPolicy"), ""),
            other => e.not_supported(
                &ch(path, "restartPolicy"),
                other,
                &["Always", "OnFailure", "Never"],
            ),
        }
        match st(spec, "dnsPolicy") {
            "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
            "" => e.required(&ch(path, "dnsPolicy"), ""),
            other => e.not_supported(
                &ch(path, "dnsPolicy"),
                other,
                &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
            ),
        }
        validate_labels(map_at(spec, "nodeSelector"), &ch(path, "nodeSelector"), e);
        pod_security_context(spec, path, e);
        dns_config(spec, &ch(path, "dnsConfig"), e);
        for (i, g) in arr(spec, "readinessGates").iter().enumerate() {
            let t = st(g, "conditionType");
            for msg in fmtcheck::qualified_name(t) {
                e.invalid(
                    &ch(&ix(&ch(path, "readinessGates"), i), "conditionType"),
                    t,
                    &msg,
                );
            }
        }
        let mut gates = BTreeSet::new();
        for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
            let n = st(g, "name");
            let gp = ix(&ch(path, "schedulingGates"), i);
            for msg in fmtcheck::qualified_name(n) {
                e.invalid(&gp, n, &msg);
            }
            if !gates.insert(n.to_string()) {
                e.duplicate(&gp, n);
            }
        }
        topology_spread(spec, &ch(path, "topologySpreadConstraints"), e);
        for k in ["serviceAccountName", "nodeName"] {
            let v = st(spec, k);
            if !v.is_empty() {
                for msg in fmtcheck::dns1123_subdomain(v) {
                    e.invalid(&ch(path, k), v, &msg);
                }
            }
        }
        if let Some(ads) = int(spec, "activeDeadlineSeconds")
            && !(1..=i64::from(i32::MAX)).contains(&ads)
        {
            e.invalid(
                &ch(path, "activeDeadlineSeconds"),
                ads,
                &fmtcheck::range_error(1, i64::from(i32::MAX)),
            );
        }
        for k in ["hostname", "subdomain"] {
            let v = st(spec, k);
            if !v.is_empty() {
                for msg in fmtcheck::dns1123_label(v) {
                    e.invalid(&ch(path, k), v, &msg);
                }
            }
        }
        tolerations(arr(spec, "tolerations"), &ch(path, "tolerations"), e);
        for (i, ha) in arr(spec, "hostAliases").iter().enumerate() {
            let hp = ix(&ch(path, "hostAliases"), i);
            let ip = st(ha, "ip");
            for msg in fmtcheck::ip(ip) {
                e.invalid(&ch(&hp, "ip"), ip, &msg);
            }
            for (j, h) in arr(ha, "hostnames").iter().enumerate() {
                let h = h.as_str().unwrap_or("");
                for msg in fmtcheck::dns1123_subdomain(h) {
                    e.invalid(&ix(&ch(&hp, "hostnames"), j), h, &msg);
                }
            }
        }
        let pcn = st(spec, "priorityClassName");
        if !pcn.is_empty() {
            for msg in fmtcheck::dns1123_subdomain(pcn) {
                e.invalid(&ch(path, "priorityClassName"), pcn, &msg);
            }
        }
        if let Some(rc) = opt_str(spec, "runtimeClassName") {
            for msg in fmtcheck::dns1123_subdomain(rc) {
                e.invalid(&ch(path, "runtimeClassName"), rc, &msg);
            }
        }
        if let Some(pp) = opt_str(spec, "preemptionPolicy") {
            match pp {
                "PreemptLowerPriority" | "Never" => {}
                "" => e.required(&ch(path, "preemptionPolicy"), ""),
                other => e.not_supported(
                    &ch(path, "preemptionPolicy"),
                    other,
                    &["PreemptLowerPriority", "Never"],
                ),
            }
        }
        if let Some(os) = get(spec, "os") {
            let name = st(os, "name");
            if name.is_empty() {
                e.required(&ch(&ch(path, "os"), "name"), "");
            } else if name != "linux" && name != "windows" {
                e.not_supported(&ch(&ch(path, "os"), "name"), name, &["linux", "windows"]);
            }
        }
    }

    /// `ValidatePodTemplateSpec` (labels are checked on `<path>.labels`, as upstream does).
    pub fn validate_template(template: &Value, path: &str, e: &mut Errs) {
        let m = meta(template);
        validate_labels(map_at(m, "labels"), &ch(path, "labels"), e);
        validate_annotations(map_at(m, "annotations"), &ch(path, "annotations"), e);
        validate_spec(
            sub(template, "spec"),
            &ch(path, "spec"),
            Opts { is_pod: false },
            e,
        );
        if !arr(sub(template, "spec"), "ephemeralContainers").is_empty() {
            e.forbidden(
                &ch(&ch(path, "spec"), "ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            );
        }
    }

    /// `validatePodMetadataAndSpec`'s pod-only checks after `ValidatePodSpec`.
    pub fn pod_only(spec: &Value, e: &mut Errs) {
        if st(spec, "serviceAccountName").is_empty() {
            for (vi, vol) in arr(spec, "volumes").iter().enumerate() {
                let Some(proj) = get(vol, "projected") else {
                    continue;
                };
                for (si, source) in arr(proj, "sources").iter().enumerate() {
                    if get(source, "serviceAccountToken").is_some() {
                        e.forbidden(
                            &format!(
                                "spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                            ),
                            "must not be specified when serviceAccountName is not set",
                        );
                    }
                }
            }
        }
        for list in ["containers", "initContainers"] {
            for (i, c) in arr(spec, list).iter().enumerate() {
                let image = st(c, "image");
                if image.len() != image.trim().len() {
                    e.invalid(
                        &format!("spec.{list}[{i}].image"),
                        image,
                        "must not have leading or trailing whitespace",
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-kind validation
// ---------------------------------------------------------------------------------------------

mod kinds {
    //! One validator per kind, in upstream's order of checks.

    use super::pod::{self, Opts};
    use super::*;

    const RBAC: &str = "rbac.authorization.k8s.io";
    const MAX_INT32: i64 = i32::MAX as i64;

    /// Scope and name rule of every kind this module knows.
    pub fn meta_rule(group: &str, kind: &str) -> MetaRule {
        let ns = |name: NameFn| MetaRule {
            namespaced: Some(true),
            name,
        };
        let cluster = |name: NameFn| MetaRule {
            namespaced: Some(false),
            name,
        };
        match (group, kind) {
            ("", "Service") => ns(name_is_dns1035_label),
            ("", "Namespace") => cluster(name_is_dns_label),
            ("", "Node" | "PersistentVolume" | "ComponentStatus") => cluster(name_is_dns_subdomain),
            (
                "",
                "Pod"
                | "PodTemplate"
                | "ReplicationController"
                | "Endpoints"
                | "ConfigMap"
                | "Secret"
                | "ServiceAccount"
                | "Event"
                | "LimitRange"
                | "ResourceQuota"
                | "PersistentVolumeClaim"
                | "Binding",
            ) => ns(name_is_dns_subdomain),
            ("apps", "StatefulSet") => ns(name_is_dns_label),
            ("apps", _)
            | ("batch", _)
            | ("autoscaling", _)
            | ("coordination.k8s.io", _)
            | ("discovery.k8s.io", _)
            | ("events.k8s.io", _)
            | ("policy", _) => ns(name_is_dns_subdomain),
            ("networking.k8s.io", "Ingress" | "NetworkPolicy") => ns(name_is_dns_subdomain),
            ("networking.k8s.io", "IPAddress") => cluster(name_is_ip),
            ("networking.k8s.io", _) => cluster(name_is_dns_subdomain),
            (RBAC, "Role" | "RoleBinding") => ns(name_is_path_segment),
            (RBAC, _) => cluster(name_is_path_segment),
            ("apiextensions.k8s.io", _)
            | ("scheduling.k8s.io", _)
            | ("node.k8s.io", _)
            | ("admissionregistration.k8s.io", _)
            | ("certificates.k8s.io", _)
            | ("flowcontrol.apiserver.k8s.io", _) => cluster(name_is_dns_subdomain),
            ("apiregistration.k8s.io", _) => cluster(name_is_path_segment),
            ("storage.k8s.io", "CSIStorageCapacity") => ns(name_is_dns_subdomain),
            ("storage.k8s.io", _) => cluster(name_is_dns_subdomain),
            _ => MetaRule {
                namespaced: None,
                name: name_is_dns_subdomain,
            },
        }
    }

    pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let rule = meta_rule(group, kind);
        let is_crd = group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition";
        match old {
            None if is_crd => {}
            None => validate_object_meta(obj, rule, e),
            Some(o) => validate_object_meta_update(obj, o, e),
        }
        match (group, kind) {
            ("", "Pod") => pod_kind(obj, old, e),
            ("", "PodTemplate") => pod::validate_template(sub(obj, "template"), "template", e),
            ("", "ReplicationController") => replication_controller(obj, e),
            ("", "Service") => service(obj, old, e),
            ("", "ConfigMap") => config_map(obj, old, e),
            ("", "Secret") => secret(obj, old, e),
            ("", "Namespace") => {
                let f = strs(spec(obj), "finalizers");
                validate_finalizers(&f, "spec.finalizers", false, e);
            }
            ("", "Node") => node(obj, e),
            ("", "PersistentVolumeClaim") => pvc(obj, old, e),
            ("apps", "Deployment") => deployment(obj, old, e),
            ("apps", "ReplicaSet") => replica_set(obj, old, e),
            ("apps", "StatefulSet") => stateful_set(obj, old, e),
            ("apps", "DaemonSet") => daemon_set(obj, old, e),
            ("batch", "Job") => job(obj, old, e),
            ("batch", "CronJob") => cron_job(obj, old, e),
            ("coordination.k8s.io", "Lease") => lease(obj, e),
            ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(obj, old, e),
            ("networking.k8s.io", "Ingress") => ingress(obj, e),
            (RBAC, "Role") => policy_rules(obj, true, e),
            (RBAC, "ClusterRole") => policy_rules(obj, false, e),
            (RBAC, "RoleBinding") => role_binding(obj, old, true, e),
            (RBAC, "ClusterRoleBinding") => role_binding(obj, old, false, e),
            ("policy", "PodDisruptionBudget") => pdb(obj, e),
            ("autoscaling", "HorizontalPodAutoscaler") => hpa(obj, e),
            ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj, old, rule, e),
            _ => {}
        }
    }

    // --- core ---------------------------------------------------------------------------------

    fn pod_kind(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        pod::validate_spec(s, "spec", Opts { is_pod: true }, e);
        pod::pod_only(s, e);
        match old {
            None => {
                if !arr(s, "ephemeralContainers").is_empty() {
                    e.forbidden("spec.ephemeralContainers", "cannot be set on create");
                }
                if !st(s, "nodeName").is_empty() && !arr(s, "schedulingGates").is_empty() {
                    e.forbidden(
                        "spec.nodeName",
                        "cannot be set until all schedulingGates have been cleared",
                    );
                }
            }
            Some(old) => pod_update(s, spec(old), e),
        }
    }

    const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

    /// `ValidatePodUpdate` after the shared checks.
    fn pod_update(new: &Value, old: &Value, e: &mut Errs) {
        for list in ["containers", "initContainers"] {
            let path = format!("spec.{list}");
            let (n, o) = (arr(new, list), arr(old, list));
            if n.len() != o.len() {
                e.forbidden(&path, "pod updates may not add or remove containers");
                return;
            }
            for (i, c) in n.iter().enumerate() {
                let image = st(c, "image");
                if image.is_empty() {
                    e.required(&ch(&ix(&path, i), "image"), "");
                }
                if image.trim().len() != image.len() {
                    e.invalid(
                        &ch(&ix(&path, i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    );
                }
            }
        }
        match (
            int(new, "activeDeadlineSeconds"),
            int(old, "activeDeadlineSeconds"),
        ) {
            (Some(n), o) => {
                if !(0..=MAX_INT32).contains(&n) {
                    e.invalid(
                        "spec.activeDeadlineSeconds",
                        n,
                        &fmtcheck::range_error(0, MAX_INT32),
                    );
                    return;
                }
                if o.is_some_and(|o| o < n) {
                    e.invalid(
                        "spec.activeDeadlineSeconds",
                        n,
                        "must be less than or equal to previous value",
                    );
                    return;
                }
            }
            (None, Some(_)) => {
                e.invalid(
                    "spec.activeDeadlineSeconds",
                    "null",
                    "must not update from a positive integer to nil value",
                );
            }
            (None, None) => {}
        }
        let new_tol = arr(new, "tolerations");
        for o in arr(old, "tolerations") {
            let found = new_tol.iter().any(|n| {
                let mut a = normalize(o);
                let mut b = normalize(n);
                for v in [&mut a, &mut b] {
                    if let Some(m) = v.as_object_mut() {
                        m.remove("tolerationSeconds");
                    }
                }
                a == b
            });
            if !found {
                e.forbidden(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                );
                break;
            }
        }
        let old_gates: BTreeSet<&str> = arr(old, "schedulingGates")
            .iter()
            .map(|g| st(g, "name"))
            .collect();
        let mut added: BTreeMap<&str, usize> = BTreeMap::new();
        if !arr(new, "schedulingGates").is_empty() {
            for (i, g) in arr(new, "schedulingGates").iter().enumerate() {
                if !old_gates.contains(st(g, "name")) {
                    added.insert(st(g, "name"), i);
                }
            }
        }
        for (gate, i) in added {
            e.forbidden(
                &format!("spec.schedulingGates[{i}].name"),
                &format!("only deletion is allowed, but found new scheduling gate '{gate}'"),
            );
        }
        if normalize(new) == normalize(old) {
            return;
        }
        let mut munged = new.clone();
        if let Some(m) = munged.as_object_mut() {
            for list in ["containers", "initContainers"] {
                if let Some(Value::Array(ctrs)) = m.get_mut(list) {
                    for (i, c) in ctrs.iter_mut().enumerate() {
                        let old_image = arr(old, list).get(i).and_then(|o| o.get("image")).cloned();
                        if let Some(cm) = c.as_object_mut() {
                            match old_image {
                                Some(img) => cm.insert("image".into(), img),
                                None => cm.remove("image"),
                            };
                        }
                    }
                }
            }
            for k in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
                match old.get(k) {
                    Some(v) => m.insert(k.into(), v.clone()),
                    None => m.remove(k),
                };
            }
            let old_grace = int(old, "terminationGracePeriodSeconds");
            if old_grace.is_some_and(|g| g < 0)
                && int(new, "terminationGracePeriodSeconds") == Some(1)
            {
                m.insert("terminationGracePeriodSeconds".into(), json!(old_grace));
            }
        }
        if normalize(&munged) != normalize(old) {
            let diff = json_diff(&normalize(old), &normalize(&munged));
            e.forbidden(
                "spec",
                &format!(
                    "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{diff}"
                ),
            );
        }
    }

    /// A short `-`/`+` listing of the leaves that differ (upstream prints a Go `cmp.Diff`).
    fn json_diff(old: &Value, new: &Value) -> String {
        fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
            match (a, b) {
                (Some(Value::Object(x)), Some(Value::Object(y))) => {
                    let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                    for k in keys {
                        walk(&ch(path, k), x.get(k), y.get(k), out);
                    }
                }
                (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
                    for (i, (p, q)) in x.iter().zip(y).enumerate() {
                        walk(&ix(path, i), Some(p), Some(q), out);
                    }
                }
                (a, b) if a != b => {
                    if let Some(a) = a {
                        out.push(format!("-\t{path}: {a}"));
                    }
                    if let Some(b) = b {
                        out.push(format!("+\t{path}: {b}"));
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk("spec", Some(old), Some(new), &mut out);
        out.join("\n")
    }

    fn replication_controller(obj: &Value, e: &mut Errs) {
        let s = spec(obj);
        e.nonnegative(
            "spec.minReadySeconds",
            int(s, "minReadySeconds").unwrap_or(0),
        );
        let selector = str_map(s, "selector");
        if selector.as_ref().is_none_or(BTreeMap::is_empty) {
            e.required("spec.selector", "");
        }
        e.nonnegative("spec.replicas", int(s, "replicas").unwrap_or(0));
        let Some(template) = get(s, "template") else {
            e.required("spec.template", "");
            return;
        };
        let labels = str_map(meta(template), "labels");
        if let Some(sel) = selector.as_ref().filter(|m| !m.is_empty())
            && !sel
                .iter()
                .all(|(k, v)| labels.as_ref().and_then(|l| l.get(k)) == Some(v))
        {
            e.invalid(
                "spec.template.metadata.labels",
                go_map(labels.as_ref()),
                "`selector` does not match template `labels`",
            );
        }
        pod::validate_template(template, "spec.template", e);
        restart_always_and_no_deadline(template, "spec.template", "ReplicationController", e);
    }

    fn restart_always_and_no_deadline(template: &Value, path: &str, what: &str, e: &mut Errs) {
        let ts = sub(template, "spec");
        let rp = st(ts, "restartPolicy");
        if rp != "Always" {
            e.not_supported(&format!("{path}.spec.restartPolicy"), rp, &["Always"]);
        }
        if get(ts, "activeDeadlineSeconds").is_some() {
            e.forbidden(
                &format!("{path}.spec.activeDeadlineSeconds"),
                &format!("activeDeadlineSeconds in {what} is not Supported"),
            );
        }
    }

    /// The cluster IPs as the strategy normalises them (`clusterIPs`, else `[clusterIP]`).
    fn cluster_ips(s: &Value) -> Vec<String> {
        let ips = strs(s, "clusterIPs");
        if !ips.is_empty() {
            return ips;
        }
        let ip = st(s, "clusterIP");
        if ip.is_empty() {
            Vec::new()
        } else {
            vec![ip.to_string()]
        }
    }

    fn is_headless(s: &Value) -> bool {
        cluster_ips(s).first().is_some_and(|ip| ip == "None")
    }

    /// `%#v` of the `core.ServicePort` key of the duplicate-port check.
    fn go_service_port_key(protocol: &str, port: i64) -> Bad {
        Bad::Raw(format!(
            "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
            go_quote(protocol)
        ))
    }

    fn service(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        let t = st(s, "type");
        let ports = arr(s, "ports");
        let headless = is_headless(s);
        if let Some(old) = old {
            service_update(s, spec(old), e);
        }
        if ports.is_empty() && !headless && t != "ExternalName" {
            e.required("spec.ports", "");
        }
        match t {
            "LoadBalancer" | "NodePort" if headless => {
                e.invalid(
                    "spec.clusterIPs[0]",
                    "None",
                    &format!("may not be set to 'None' for {t} services"),
                );
            }
            "ExternalName" => {
                if !cluster_ips(s).is_empty() {
                    e.forbidden(
                        "spec.clusterIPs",
                        "may not be set for ExternalName services",
                    );
                }
                if !arr(s, "ipFamilies").is_empty() {
                    e.forbidden(
                        "spec.ipFamilies",
                        "may not be set for ExternalName services",
                    );
                }
                if get(s, "ipFamilyPolicy").is_some() {
                    e.forbidden(
                        "spec.ipFamilyPolicy",
                        "may not be set for ExternalName services",
                    );
                }
                let cname = st(s, "externalName");
                let cname = cname.strip_suffix('.').unwrap_or(cname);
                if cname.is_empty() {
                    e.required("spec.externalName", "");
                } else {
                    for msg in fmtcheck::dns1123_subdomain(cname) {
                        e.invalid("spec.externalName", cname, &msg);
                    }
                }
            }
            _ => {}
        }
        let mut names = BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = ix("spec.ports", i);
            let name = st(port, "name");
            if ports.len() > 1 && name.is_empty() {
                e.required(&ch(&p, "name"), "");
            } else if !name.is_empty() {
                for msg in fmtcheck::dns1123_label(name) {
                    e.invalid(&ch(&p, "name"), name, &msg);
                }
                if !names.insert(name.to_string()) {
                    e.duplicate(&ch(&p, "name"), name);
                }
            }
            let num = int(port, "port").unwrap_or(0);
            for msg in fmtcheck::port_num(num) {
                e.invalid(&ch(&p, "port"), num, &msg);
            }
            pod::protocol(port, &p, e);
            pod::port_num_or_name(
                port.get("targetPort").unwrap_or(&NULL),
                &ch(&p, "targetPort"),
                e,
            );
            if let Some(ap) = opt_str(port, "appProtocol") {
                for msg in fmtcheck::qualified_name(ap) {
                    e.invalid(&ch(&p, "appProtocol"), ap, &msg);
                }
            }
        }
        validate_labels(map_at(s, "selector"), "spec.selector", e);
        match st(s, "sessionAffinity") {
            "" => e.required("spec.sessionAffinity", ""),
            "ClientIP" => {
                let cfg = "spec.sessionAffinityConfig";
                match get(s, "sessionAffinityConfig") {
                    None => e.required(cfg, "when session affinity type is ClientIP"),
                    Some(c) => match get(c, "clientIP") {
                        None => e.required(
                            &ch(cfg, "clientIP"),
                            "when session affinity type is ClientIP",
                        ),
                        Some(ci) => match int(ci, "timeoutSeconds") {
                            None => e.required(
                                &ch(cfg, "clientIP.timeoutSeconds"),
                                "when session affinity type is ClientIP",
                            ),
                            Some(t) if t <= 0 || t > 86400 => e.invalid(
                                &ch(cfg, "clientIP.timeoutSeconds"),
                                t,
                                "must be greater than 0 and less than 86400",
                            ),
                            Some(_) => {}
                        },
                    },
                }
            }
            "None" => {
                if get(s, "sessionAffinityConfig").is_some() {
                    e.forbidden(
                        "spec.sessionAffinityConfig",
                        "must not be set when session affinity is None",
                    );
                }
            }
            other => e.not_supported("spec.sessionAffinity", other, &["ClientIP", "None"]),
        }
        if t != "ExternalName" {
            cluster_ip_fields(s, e);
        }
        for (i, ip) in arr(s, "externalIPs").iter().enumerate() {
            let ip = ip.as_str().unwrap_or("");
            for msg in fmtcheck::ip(ip) {
                e.invalid(&ix("spec.externalIPs", i), ip, &msg);
            }
        }
        match t {
            "" => e.required("spec.type", ""),
            "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort" => {}
            other => e.not_supported(
                "spec.type",
                other,
                &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
            ),
        }
        let mut node_ports = BTreeSet::new();
        let mut seen_ports = BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = ix("spec.ports", i);
            let np = int(port, "nodePort").unwrap_or(0);
            if t == "ClusterIP" && np != 0 {
                e.forbidden(
                    &ch(&p, "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                );
            }
            if np != 0 && (t == "NodePort" || t == "LoadBalancer") && !(30000..=32767).contains(&np)
            {
                e.invalid(
                    &ch(&p, "nodePort"),
                    np,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                );
            }
            if np != 0 && !node_ports.insert((st(port, "protocol").to_string(), np)) {
                e.duplicate(&ch(&p, "nodePort"), np);
            }
        }
        for (i, port) in ports.iter().enumerate() {
            let k = (
                st(port, "protocol").to_string(),
                int(port, "port").unwrap_or(0),
            );
            if !seen_ports.insert(k.clone()) {
                e.duplicate(&ix("spec.ports", i), go_service_port_key(&k.0, k.1));
            }
        }
        let ranges = strs(s, "loadBalancerSourceRanges");
        if !ranges.is_empty() {
            if t != "LoadBalancer" {
                e.forbidden(
                    "spec.LoadBalancerSourceRanges",
                    "may only be used when `type` is 'LoadBalancer'",
                );
            }
            for (i, r) in ranges.iter().enumerate() {
                for msg in fmtcheck::cidr(r.trim()) {
                    e.invalid(&ix("spec.LoadBalancerSourceRanges", i), r.trim(), &msg);
                }
            }
        }
        if get(s, "allocateLoadBalancerNodePorts").is_some() && t != "LoadBalancer" {
            e.forbidden(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            );
        }
        if t == "LoadBalancer" && get(s, "allocateLoadBalancerNodePorts").is_none() {
            e.required("allocateLoadBalancerNodePorts", "");
        }
        let externally = t == "LoadBalancer"
            || t == "NodePort"
            || (t == "ClusterIP" && !arr(s, "externalIPs").is_empty());
        let etp = st(s, "externalTrafficPolicy");
        if !externally {
            if !etp.is_empty() {
                e.invalid(
                    "spec.externalTrafficPolicy",
                    etp,
                    "may only be set for externally-accessible services",
                );
            }
        } else if etp.is_empty() {
            e.required("spec.externalTrafficPolicy", "");
        } else if etp != "Cluster" && etp != "Local" {
            e.not_supported("spec.externalTrafficPolicy", etp, &["Cluster", "Local"]);
        }
        let hc = int(s, "healthCheckNodePort").unwrap_or(0);
        if !(t == "LoadBalancer" && etp == "Local") {
            if hc != 0 {
                e.invalid(
                    "spec.healthCheckNodePort",
                    hc,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                );
            }
        } else if hc != 0 {
            for msg in fmtcheck::port_num(hc) {
                e.invalid("spec.healthCheckNodePort", hc, &msg);
            }
        }
        match opt_str(s, "internalTrafficPolicy") {
            None => {
                if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&t) {
                    e.required("spec.internalTrafficPolicy", "");
                }
            }
            Some("Cluster" | "Local") => {}
            Some(other) => {
                e.not_supported("spec.internalTrafficPolicy", other, &["Cluster", "Local"])
            }
        }
        if let Some(td) = opt_str(s, "trafficDistribution")
            && td != "PreferClose"
        {
            e.not_supported("spec.trafficDistribution", td, &["PreferClose"]);
        }
    }

    /// The stand-alone checks of `ValidateServiceClusterIPsRelatedFields`.
    fn cluster_ip_fields(s: &Value, e: &mut Errs) {
        let ips = strs(s, "clusterIPs");
        let ip = st(s, "clusterIP");
        if !ips.is_empty() && !ip.is_empty() && ips[0] != ip {
            e.invalid(
                "spec.clusterIPs",
                Bad::Raw(go_strings(s.get("clusterIPs"))),
                "first value must match `clusterIP`",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, fam) in strs(s, "ipFamilies").iter().enumerate() {
            if fam != "IPv4" && fam != "IPv6" {
                e.not_supported(&ix("spec.ipFamilies", i), fam.as_str(), &["IPv4", "IPv6"]);
            }
            if !seen.insert(fam.clone()) {
                e.duplicate(&ix("spec.ipFamilies", i), fam.as_str());
            }
        }
        if let Some(p) = opt_str(s, "ipFamilyPolicy")
            && !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&p)
        {
            e.not_supported(
                "spec.ipFamilyPolicy",
                p,
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            );
        }
        let all = cluster_ips(s);
        for (i, ip) in all.iter().enumerate() {
            if i == 0 && ip == "None" {
                if all.len() > 1 {
                    e.invalid(
                        "spec.clusterIPs",
                        Bad::Raw(go_strings(s.get("clusterIPs"))),
                        "'None' must be the first and only value",
                    );
                }
                continue;
            }
            for msg in fmtcheck::ip(ip) {
                e.invalid(&ix("spec.clusterIPs", i), ip.as_str(), &msg);
            }
        }
    }

    /// `validateUpgradeDowngradeClusterIPs`, where an absent cluster IP keeps the stored one (the
    /// registry copies it before validation).
    fn service_update(new: &Value, old: &Value, e: &mut Errs) {
        if st(new, "type") == "ExternalName" || st(old, "type") == "ExternalName" {
            return;
        }
        let (n, o) = (cluster_ips(new), cluster_ips(old));
        if n.is_empty() || (is_headless(new) && is_headless(old)) {
            return;
        }
        let shown = Bad::Raw(go_strings(Some(&Value::Array(
            n.iter().cloned().map(Value::String).collect(),
        ))));
        for (i, ip) in o.iter().enumerate() {
            if n.get(i).is_some_and(|x| x != ip) {
                e.invalid(
                    &ix("spec.clusterIPs", i),
                    shown.clone(),
                    "may not change once set",
                );
            }
        }
        if st(new, "type") == "LoadBalancer"
            && st(old, "type") == "LoadBalancer"
            && st(new, "externalTrafficPolicy") == "Local"
            && st(old, "externalTrafficPolicy") == "Local"
            && int(new, "healthCheckNodePort").unwrap_or(0) != 0
            && int(new, "healthCheckNodePort") != int(old, "healthCheckNodePort")
        {
            e.forbidden("spec.healthCheckNodePort", FIELD_IMMUTABLE);
        }
    }

    const MAX_SECRET_SIZE: usize = 1024 * 1024;

    fn config_map(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        if let Some(old) = old
            && boolean(old, "immutable") == Some(true)
        {
            if boolean(obj, "immutable") != Some(true) {
                e.forbidden("immutable", "field is immutable when `immutable` is set");
            }
            for k in ["data", "binaryData"] {
                if normalize(sub(obj, k)) != normalize(sub(old, k)) {
                    e.forbidden(k, "field is immutable when `immutable` is set");
                }
            }
        }
        let mut total = 0usize;
        let binary = map_at(obj, "binaryData");
        if let Some(data) = map_at(obj, "data") {
            for (k, v) in data {
                for msg in fmtcheck::config_map_key(k) {
                    e.invalid(&key("data", k), k, &msg);
                }
                if binary.is_some_and(|b| b.contains_key(k)) {
                    e.invalid(&key("data", k), k, "duplicate of key present in binaryData");
                }
                total += v.as_str().map_or(0, str::len);
            }
        }
        if let Some(binary) = binary {
            for (k, v) in binary {
                for msg in fmtcheck::config_map_key(k) {
                    e.invalid(&key("binaryData", k), k, &msg);
                }
                total += base64_decoded_len(v.as_str().unwrap_or(""));
            }
        }
        if total > MAX_SECRET_SIZE {
            e.too_long("[]", MAX_SECRET_SIZE);
        }
    }

    fn secret(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        if let Some(old) = old {
            if st(obj, "type") != st(old, "type") {
                e.immutable("type", st(obj, "type"));
            }
            if boolean(old, "immutable") == Some(true) {
                if boolean(obj, "immutable") != Some(true) {
                    e.forbidden("immutable", "field is immutable when `immutable` is set");
                }
                if normalize(sub(obj, "data")) != normalize(sub(old, "data")) {
                    e.forbidden("data", "field is immutable when `immutable` is set");
                }
            }
        }
        let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        if let Some(d) = map_at(obj, "data") {
            for (k, v) in d {
                data.insert(
                    k.clone(),
                    base64_decode(v.as_str().unwrap_or("")).unwrap_or_default(),
                );
            }
        }
        if let Some(d) = map_at(obj, "stringData") {
            for (k, v) in d {
                data.insert(k.clone(), v.as_str().unwrap_or("").as_bytes().to_vec());
            }
        }
        let mut total = 0;
        for (k, v) in &data {
            for msg in fmtcheck::config_map_key(k) {
                e.invalid(&key("data", k), k, &msg);
            }
            total += v.len();
        }
        if total > MAX_SECRET_SIZE {
            e.too_long("data", MAX_SECRET_SIZE);
        }
        let json_key = |k: &str, e: &mut Errs| match data.get(k) {
            None => e.required(&key("data", k), ""),
            Some(bytes) => {
                if let Err(err) = serde_json::from_slice::<Map<String, Value>>(bytes) {
                    e.invalid(
                        &key("data", k),
                        "<secret contents redacted>",
                        &err.to_string(),
                    );
                }
            }
        };
        match st(obj, "type") {
            "kubernetes.io/service-account-token" => {
                let sa = map_at(meta(obj), "annotations")
                    .and_then(|a| a.get("kubernetes.io/service-account.name"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if sa.is_empty() {
                    e.required(
                        "metadata.annotations[kubernetes.io/service-account.name]",
                        "",
                    );
                }
            }
            "kubernetes.io/dockercfg" => json_key(".dockercfg", e),
            "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson", e),
            "kubernetes.io/basic-auth"
                if !data.contains_key("username") && !data.contains_key("password") =>
            {
                e.required("data[username]", "");
                e.required("data[password]", "");
            }
            "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(Vec::is_empty) => {
                e.required("data[ssh-privatekey]", "");
            }
            "kubernetes.io/tls" => {
                for k in ["tls.crt", "tls.key"] {
                    if !data.contains_key(k) {
                        e.required(&key("data", k), "");
                    }
                }
            }
            _ => {}
        }
    }

    fn node(obj: &Value, e: &mut Errs) {
        let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
        for (i, t) in arr(spec(obj), "taints").iter().enumerate() {
            let p = ix("spec.taints", i);
            let k = st(t, "key");
            for msg in fmtcheck::qualified_name(k) {
                e.invalid(&ch(&p, "key"), k, &msg);
            }
            let v = st(t, "value");
            let errs = fmtcheck::label_value(v);
            if !errs.is_empty() {
                e.invalid(&ch(&p, "value"), v, &errs.join(";"));
            }
            let effect = st(t, "effect");
            if effect.is_empty() {
                e.required(&ch(&p, "effect"), "");
            } else {
                pod::taint_effect(effect, &ch(&p, "effect"), e);
            }
            if !unique.insert((effect.to_string(), k.to_string())) {
                e.duplicate_detail(
                    &p,
                    go_json(t),
                    "taints must be unique by key and effect pair",
                );
            }
        }
    }

    /// `ValidatePersistentVolumeClaimSpec`.
    pub fn pvc_spec(s: &Value, path: &str, e: &mut Errs) {
        const MODES: [&str; 4] = [
            "ReadOnlyMany",
            "ReadWriteMany",
            "ReadWriteOnce",
            "ReadWriteOncePod",
        ];
        let modes = strs(s, "accessModes");
        if modes.is_empty() {
            e.required(
                &ch(path, "accessModes"),
                "at least 1 access mode is required",
            );
        }
        validate_label_selector(s.get("selector"), &ch(path, "selector"), e);
        let (mut rwop, mut other) = (false, false);
        for m in &modes {
            if !MODES.contains(&m.as_str()) {
                e.not_supported(&ch(path, "accessModes"), m.as_str(), &MODES);
            }
            if m == "ReadWriteOncePod" {
                rwop = true;
            } else if MODES.contains(&m.as_str()) {
                other = true;
            }
        }
        if rwop && other {
            e.forbidden(
                &ch(path, "accessModes"),
                "may not use ReadWriteOncePod with other access modes",
            );
        }
        let storage_path = key(&ch(path, "resources"), "storage");
        match sub(sub(s, "resources"), "requests").get("storage") {
            None | Some(Value::Null) => e.required(&storage_path, ""),
            Some(v) => {
                let q = match v {
                    Value::String(x) => quantity::parse(x).ok(),
                    Value::Number(n) => quantity::parse(&n.to_string()).ok(),
                    _ => None,
                };
                if let Some(q) = q
                    && q.signum() <= 0
                {
                    e.invalid(&storage_path, q.canonical(), "must be greater than zero");
                }
            }
        }
        if let Some(sc) = opt_str(s, "storageClassName").filter(|x| !x.is_empty()) {
            for msg in fmtcheck::dns1123_subdomain(sc) {
                e.invalid(&ch(path, "storageClassName"), sc, &msg);
            }
        }
        if let Some(vm) = opt_str(s, "volumeMode")
            && vm != "Block"
            && vm != "Filesystem"
        {
            e.not_supported(&ch(path, "volumeMode"), vm, &["Block", "Filesystem"]);
        }
    }

    fn pvc(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        pvc_spec(spec(obj), "spec", e);
        let Some(old) = old else { return };
        let (n, o) = (spec(obj), spec(old));
        let mut nc = normalize(n);
        let mut oc = normalize(o);
        if st(o, "volumeName").is_empty()
            && let (Some(nm), Some(om)) = (nc.as_object_mut(), oc.as_object_mut())
        {
            match nm.get("volumeName") {
                Some(v) => om.insert("volumeName".into(), v.clone()),
                None => om.remove("volumeName"),
            };
        }
        if let (Some(nm), Some(om)) = (nc.as_object_mut(), oc.as_object_mut()) {
            // Bound claims may change their storage request (expansion); compare the rest.
            if st(sub(obj, "status"), "phase") == "Bound" {
                for m in [&mut *nm, &mut *om] {
                    if let Some(Value::Object(r)) = m.get_mut("resources")
                        && let Some(Value::Object(req)) = r.get_mut("requests")
                    {
                        req.remove("storage");
                    }
                }
            }
            if opt_str(o, "storageClassName").is_none() && nm.contains_key("storageClassName") {
                nm.remove("storageClassName");
            }
        }
        if normalize(&nc) != normalize(&oc) {
            let diff = json_diff(&normalize(&oc), &normalize(&nc));
            e.forbidden(
                "spec",
                &format!(
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{diff}"
                ),
            );
        }
        let size = |v: &Value| {
            opt_str(sub(sub(v, "resources"), "requests"), "storage")
                .and_then(|q| quantity::parse(q).ok())
        };
        if let (Some(ns), Some(os)) = (size(n), size(o))
            && ns.cmp(&os) == std::cmp::Ordering::Less
        {
            e.forbidden(
                "spec.resources.requests.storage",
                "field can not be less than status.capacity",
            );
        }
    }

    // --- apps ---------------------------------------------------------------------------------

    /// `ValidatePositiveIntOrPercent`.
    fn positive_int_or_percent(v: &Value, path: &str, e: &mut Errs) {
        match v {
            Value::String(s) => {
                for msg in fmtcheck::percent(s) {
                    e.invalid(path, Bad::Raw(go_int_or_string(v)), &msg);
                }
            }
            Value::Null => {}
            other => e.nonnegative(path, as_int(other).unwrap_or(0)),
        }
    }

    fn percent_value(v: &Value) -> Option<i64> {
        let s = v.as_str()?;
        if !fmtcheck::percent(s).is_empty() {
            return None;
        }
        s.trim_end_matches('%').parse().ok()
    }

    /// `getIntOrPercentValue`.
    fn int_or_percent_value(v: &Value) -> i64 {
        match v {
            Value::String(s) => percent_value(v).unwrap_or_else(|| s.parse().unwrap_or(0)),
            other => as_int(other).unwrap_or(0),
        }
    }

    /// `IsNotMoreThan100Percent`.
    fn not_more_than_100(v: &Value, path: &str, e: &mut Errs) {
        if percent_value(v).is_some_and(|p| p > 100) {
            e.invalid(
                path,
                Bad::Raw(go_int_or_string(v)),
                "must not be greater than 100%",
            );
        }
    }

    /// Selector checks shared by Deployment and ReplicaSet; the converted selector when valid.
    fn required_selector(s: &Value, what: &str, e: &mut Errs) -> Option<Selector> {
        let sel = get(s, "selector");
        match sel {
            None => e.required("spec.selector", ""),
            Some(sel) => {
                validate_label_selector(Some(sel), "spec.selector", e);
                if map_at(sel, "matchLabels").is_none_or(Map::is_empty)
                    && arr(sel, "matchExpressions").is_empty()
                {
                    e.invalid(
                        "spec.selector",
                        go_selector(sel),
                        &format!("empty selector is invalid for {what}"),
                    );
                }
            }
        }
        Selector::from(sel)
    }

    fn template_matches(template: &Value, selector: &Selector, check_empty: bool, e: &mut Errs) {
        let labels = str_map(meta(template), "labels");
        if (!check_empty || !selector.is_empty()) && !selector.matches(labels.as_ref()) {
            e.invalid(
                "spec.template.metadata.labels",
                go_map(labels.as_ref()),
                "`selector` does not match template `labels`",
            );
        }
    }

    /// `ValidatePodTemplateSpecForReplicaSet`.
    fn replica_set_template(s: &Value, selector: Option<Selector>, e: &mut Errs) {
        let template = sub(s, "template");
        match selector {
            None => e.invalid(
                "spec.selector",
                go_selector(sub(s, "selector")),
                "invalid label selector",
            ),
            Some(sel) => {
                template_matches(template, &sel, true, e);
                pod::validate_template(template, "spec.template", e);
                restart_always_and_no_deadline(template, "spec.template", "ReplicaSet", e);
            }
        }
    }

    fn selector_immutable(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let Some(old) = old else { return };
        let (n, o) = (spec(obj).get("selector"), spec(old).get("selector"));
        if differs(n, o) {
            match n.filter(|v| !v.is_null()) {
                Some(sel) => e.immutable("spec.selector", go_selector(sel)),
                None => e.immutable("spec.selector", "null"),
            }
        }
    }

    fn deployment(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        e.nonnegative("spec.replicas", int(s, "replicas").unwrap_or(0));
        let selector = required_selector(s, "deployment", e);
        replica_set_template(s, selector, e);
        let strategy = sub(s, "strategy");
        let ru = get(strategy, "rollingUpdate");
        match st(strategy, "type") {
            "Recreate" => {
                if ru.is_some() {
                    e.forbidden(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    );
                }
            }
            "RollingUpdate" => match ru {
                None => e.required(
                    "spec.strategy.rollingUpdate",
                    "this should be defaulted and never be nil",
                ),
                Some(ru) => {
                    let mu = ru.get("maxUnavailable").unwrap_or(&NULL);
                    let ms = ru.get("maxSurge").unwrap_or(&NULL);
                    positive_int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
                    positive_int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge", e);
                    if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                        e.invalid(
                            "spec.strategy.rollingUpdate.maxUnavailable",
                            Bad::Raw(go_int_or_string(mu)),
                            "may not be 0 when `maxSurge` is 0",
                        );
                    }
                    not_more_than_100(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
                }
            },
            t => {
                let ru_shown = if ru.is_some() {
                    "(*apps.RollingUpdateDeployment)(0xc000000000)"
                } else {
                    "(*apps.RollingUpdateDeployment)(nil)"
                };
                e.not_supported(
                    "spec.strategy",
                    Bad::Raw(format!(
                        "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{ru_shown}}}",
                        go_quote(t)
                    )),
                    &["Recreate", "RollingUpdate"],
                );
            }
        }
        let min_ready = int(s, "minReadySeconds").unwrap_or(0);
        e.nonnegative("spec.minReadySeconds", min_ready);
        if let Some(r) = int(s, "revisionHistoryLimit") {
            e.nonnegative("spec.revisionHistoryLimit", r);
        }
        if let Some(p) = int(s, "progressDeadlineSeconds") {
            e.nonnegative("spec.progressDeadlineSeconds", p);
            if p <= min_ready {
                e.invalid(
                    "spec.progressDeadlineSeconds",
                    p,
                    "must be greater than minReadySeconds",
                );
            }
        }
        selector_immutable(obj, old, e);
    }

    fn replica_set(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        e.nonnegative("spec.replicas", int(s, "replicas").unwrap_or(0));
        e.nonnegative(
            "spec.minReadySeconds",
            int(s, "minReadySeconds").unwrap_or(0),
        );
        let selector = required_selector(s, "deployment", e);
        replica_set_template(s, selector, e);
        selector_immutable(obj, old, e);
    }

    fn stateful_set(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        match st(s, "podManagementPolicy") {
            "" => e.required("spec.podManagementPolicy", ""),
            "OrderedReady" | "Parallel" => {}
            other => e.invalid(
                "spec.podManagementPolicy",
                other,
                "must be 'OrderedReady' or 'Parallel'",
            ),
        }
        let us = sub(s, "updateStrategy");
        let ru = get(us, "rollingUpdate");
        match st(us, "type") {
            "" => e.required("spec.updateStrategy", ""),
            "OnDelete" => {
                if let Some(ru) = ru {
                    e.invalid("spec.updateStrategy.rollingUpdate", go_json(ru), "only allowed for updateStrategy 'RollingUpdate'");
                }
            }
            "RollingUpdate" => {
                if let Some(ru) = ru {
                    e.nonnegative("spec.updateStrategy.rollingUpdate.partition", int(ru, "partition").unwrap_or(0));
                    if let Some(mu) = get(ru, "maxUnavailable") {
                        let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                        positive_int_or_percent(mu, p, e);
                        if int_or_percent_value(mu) == 0 {
                            e.invalid(p, Bad::Raw(go_int_or_string(mu)), "cannot be 0");
                        }
                        not_more_than_100(mu, p, e);
                    }
                }
            }
            t => e.invalid(
                "spec.updateStrategy",
                Bad::Raw(format!(
                    "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)({})}}",
                    go_quote(t),
                    if ru.is_some() { "0xc000000000" } else { "nil" }
                )),
                "must be 'RollingUpdate' or 'OnDelete'",
            ),
        }
        if let Some(policy) = get(s, "persistentVolumeClaimRetentionPolicy") {
            for k in ["whenDeleted", "whenScaled"] {
                let v = st(policy, k);
                if v != "Retain" && v != "Delete" {
                    e.not_supported(
                        &format!("spec.persistentVolumeClaimRetentionPolicy.{k}"),
                        v,
                        &["Retain", "Delete"],
                    );
                }
            }
        }
        e.nonnegative("spec.replicas", int(s, "replicas").unwrap_or(0));
        e.nonnegative(
            "spec.minReadySeconds",
            int(s, "minReadySeconds").unwrap_or(0),
        );
        if let Some(o) = get(s, "ordinals") {
            e.nonnegative("spec.ordinals.start", int(o, "start").unwrap_or(0));
        }
        let sel = get(s, "selector");
        match sel {
            None => e.required("spec.selector", ""),
            Some(sel) => {
                validate_label_selector(Some(sel), "spec.selector", e);
                if map_at(sel, "matchLabels").is_none_or(Map::is_empty)
                    && arr(sel, "matchExpressions").is_empty()
                {
                    e.invalid(
                        "spec.selector",
                        go_selector(sel),
                        "empty selector is invalid for statefulset",
                    );
                }
            }
        }
        let template = sub(s, "template");
        match Selector::from(sel) {
            None => e.invalid("spec.selector", go_selector(sub(s, "selector")), ""),
            Some(selector) => {
                template_matches(template, &selector, true, e);
                let m = meta(template);
                validate_labels(map_at(m, "labels"), "spec.template.labels", e);
                validate_annotations(map_at(m, "annotations"), "spec.template.annotations", e);
            }
        }
        restart_always_and_no_deadline(template, "spec.template", "StatefulSet", e);
        for (i, t) in arr(s, "volumeClaimTemplates").iter().enumerate() {
            let p = ix("spec.volumeClaimTemplates", i);
            let m = meta(t);
            validate_labels(map_at(m, "labels"), &ch(&p, "metadata.labels"), e);
            validate_annotations(map_at(m, "annotations"), &ch(&p, "metadata.annotations"), e);
        }
        if let Some(old) = old {
            let strip = |v: &Value| -> Value {
                let mut v = normalize(v);
                if let Some(m) = v.as_object_mut() {
                    for k in [
                        "replicas",
                        "template",
                        "updateStrategy",
                        "minReadySeconds",
                        "ordinals",
                        "persistentVolumeClaimRetentionPolicy",
                    ] {
                        m.remove(k);
                    }
                }
                v
            };
            if strip(s) != strip(spec(old)) {
                e.forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                );
            }
        }
    }

    fn daemon_set(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        let sel = get(s, "selector");
        validate_label_selector(sel, "spec.selector", e);
        let template = sub(s, "template");
        if let Some(selector) = Selector::from(sel) {
            template_matches(template, &selector, false, e);
        }
        if let Some(sel) = sel
            && map_at(sel, "matchLabels").is_none_or(Map::is_empty)
            && arr(sel, "matchExpressions").is_empty()
        {
            e.invalid(
                "spec.selector",
                go_selector(sel),
                "empty selector is invalid for daemonset",
            );
        }
        pod::validate_template(template, "spec.template", e);
        restart_always_and_no_deadline(template, "spec.template", "DaemonSet", e);
        e.nonnegative(
            "spec.minReadySeconds",
            int(s, "minReadySeconds").unwrap_or(0),
        );
        e.nonnegative(
            "spec.templateGeneration",
            int(s, "templateGeneration").unwrap_or(0),
        );
        let us = sub(s, "updateStrategy");
        let ru = get(us, "rollingUpdate");
        match st(us, "type") {
            "OnDelete" => {}
            "RollingUpdate" => match ru {
                None => e.required("spec.updateStrategy.rollingUpdate", ""),
                Some(ru) => {
                    let p = "spec.updateStrategy.rollingUpdate";
                    let mu = ru.get("maxUnavailable").unwrap_or(&NULL);
                    let ms = ru.get("maxSurge").unwrap_or(&NULL);
                    positive_int_or_percent(mu, &ch(p, "maxUnavailable"), e);
                    positive_int_or_percent(ms, &ch(p, "maxSurge"), e);
                    not_more_than_100(mu, &ch(p, "maxUnavailable"), e);
                    not_more_than_100(ms, &ch(p, "maxSurge"), e);
                    let (u, su) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                    if u && su {
                        e.invalid(&ch(p, "maxSurge"), Bad::Raw(go_int_or_string(ms)), "may not be set when maxUnavailable is non-zero");
                    } else if !u && !su {
                        e.required(&ch(p, "maxUnavailable"), "cannot be 0 when maxSurge is 0");
                    }
                }
            },
            t => e.not_supported(
                "spec.updateStrategy",
                Bad::Raw(format!(
                    "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)({})}}",
                    go_quote(t),
                    if ru.is_some() { "0xc000000000" } else { "nil" }
                )),
                &["RollingUpdate", "OnDelete"],
            ),
        }
        if let Some(r) = int(s, "revisionHistoryLimit") {
            e.nonnegative("spec.revisionHistoryLimit", r);
        }
        selector_immutable(obj, old, e);
    }

    // --- batch --------------------------------------------------------------------------------

    /// `validateJobSpec` (shared by Jobs and CronJob job templates).
    fn job_spec(s: &Value, path: &str, e: &mut Errs) {
        for k in [
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
            "backoffLimitPerIndex",
        ] {
            if let Some(v) = int(s, k) {
                e.nonnegative(&ch(path, k), v);
            }
        }
        if let Some(v) = int(s, "maxFailedIndexes") {
            e.nonnegative(&ch(path, "maxFailedIndexes"), v);
            if get(s, "backoffLimitPerIndex").is_none() {
                e.required(
                    &ch(path, "backoffLimitPerIndex"),
                    "when maxFailedIndexes is specified",
                );
            }
        }
        if let Some(mb) = opt_str(s, "managedBy") {
            let ok = mb.split_once('/').is_some_and(|(host, rest)| {
                !host.is_empty() && !rest.is_empty() && fmtcheck::dns1123_subdomain(host).is_empty()
            });
            if !ok {
                e.invalid(
                    &ch(path, "managedBy"),
                    mb,
                    "must be a domain-prefixed path (such as \"acme.io/foo\")",
                );
            }
            if mb.len() > 63 {
                e.too_long(&ch(path, "managedBy"), 63);
            }
        }
        let indexed = opt_str(s, "completionMode") == Some("Indexed");
        if let Some(cm) = opt_str(s, "completionMode") {
            if cm != "NonIndexed" && cm != "Indexed" {
                e.not_supported(&ch(path, "completionMode"), cm, &["NonIndexed", "Indexed"]);
            }
            if indexed {
                if get(s, "completions").is_none() {
                    e.required(&ch(path, "completions"), "when completion mode is Indexed");
                }
                if let Some(p) = int(s, "parallelism")
                    && p > 100_000
                {
                    e.invalid(
                        &ch(path, "parallelism"),
                        p,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    );
                }
                if let (Some(c), Some(m)) = (int(s, "completions"), int(s, "maxFailedIndexes"))
                    && m > c
                {
                    e.invalid(
                        &ch(path, "maxFailedIndexes"),
                        m,
                        "must be less than or equal to completions",
                    );
                }
            }
        }
        if !indexed {
            for k in ["backoffLimitPerIndex", "maxFailedIndexes"] {
                if let Some(v) = int(s, k) {
                    e.invalid(&ch(path, k), v, "requires indexed completion mode");
                }
            }
        }
        if let Some(sp) = get(s, "successPolicy")
            && !indexed
        {
            e.invalid(
                &ch(path, "successPolicy"),
                go_json(sp),
                "requires indexed completion mode",
            );
        }
        let pfp = get(s, "podFailurePolicy").is_some();
        if let Some(prp) = opt_str(s, "podReplacementPolicy") {
            if pfp {
                if prp != "Failed" {
                    e.not_supported(&ch(path, "podReplacementPolicy"), prp, &["Failed"]);
                }
            } else if prp != "Failed" && prp != "TerminatingOrFailed" {
                e.not_supported(
                    &ch(path, "podReplacementPolicy"),
                    prp,
                    &["Failed", "TerminatingOrFailed"],
                );
            }
        }
        let tpath = ch(path, "template");
        let template = sub(s, "template");
        pod::validate_template(template, &tpath, e);
        let rp = st(sub(template, "spec"), "restartPolicy");
        let rp_path = format!("{tpath}.spec.restartPolicy");
        if rp == "Always" || rp.is_empty() {
            e.required(&rp_path, "valid values: \"OnFailure\", \"Never\"");
        } else if rp != "OnFailure" && rp != "Never" {
            e.not_supported(&rp_path, rp, &["OnFailure", "Never"]);
        } else if pfp && rp != "Never" {
            e.invalid(
                &rp_path,
                rp,
                "only \"Never\" is supported when podFailurePolicy is specified",
            );
        }
    }

    fn has_label(template: &Value, label: &str, expected: &str, e: &mut Errs) {
        let labels = str_map(meta(template), "labels");
        let path = format!("spec.template.metadata.labels[{label}]");
        match labels.as_ref().and_then(|l| l.get(label)) {
            None => e.required(&path, &format!("must be '{expected}'")),
            Some(v) if v != expected => e.invalid(
                &path,
                go_map(labels.as_ref()),
                &format!("must be '{expected}'"),
            ),
            Some(_) => {}
        }
    }

    fn job(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        let m = meta(obj);
        if old.is_none()
            && boolean(s, "manualSelector") != Some(true)
            && get(s, "selector").is_some()
        {
            let uid = st(m, "uid");
            let name = st(m, "name");
            if uid.is_empty() {
                e.required("metadata.uid", "");
            }
            let template = sub(s, "template");
            has_label(template, "controller-uid", uid, e);
            has_label(template, "job-name", name, e);
            has_label(template, "batch.kubernetes.io/controller-uid", uid, e);
            has_label(template, "batch.kubernetes.io/job-name", name, e);
            let expected: BTreeMap<String, String> = [
                ("batch.kubernetes.io/controller-uid", uid),
                ("batch.kubernetes.io/job-name", name),
                ("controller-uid", uid),
                ("job-name", name),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            if let Some(sel) = Selector::from(get(s, "selector"))
                && !sel.matches(Some(&expected))
            {
                e.invalid(
                    "spec.selector",
                    go_selector(sub(s, "selector")),
                    "`selector` not auto-generated",
                );
            }
        }
        job_spec(s, "spec", e);
        let sel = get(s, "selector");
        match sel {
            None => e.required("spec.selector", ""),
            Some(sel) => validate_label_selector(Some(sel), "spec.selector", e),
        }
        if let Some(selector) = Selector::from(sel) {
            template_matches(sub(s, "template"), &selector, false, e);
        }
        if old.is_none()
            && opt_str(s, "completionMode") == Some("Indexed")
            && let Some(c) = int(s, "completions").filter(|c| *c > 0)
        {
            let host = format!("{}-{}", st(m, "name"), c - 1);
            if !fmtcheck::dns1123_label(&host).is_empty() {
                e.invalid(
                    "metadata.name",
                    st(m, "name"),
                    &format!("will not able to create pod with invalid DNS label: {host}"),
                );
            }
        }
        let Some(old) = old else { return };
        let o = spec(old);
        let immutable = |k: &str, e: &mut Errs| {
            if differs(s.get(k), o.get(k)) {
                let shown = match get(s, k) {
                    None => Bad::Str("null".into()),
                    Some(Value::String(x)) => Bad::Str(x.clone()),
                    Some(v) if as_int(v).is_some() => Bad::Plain(v.to_string()),
                    Some(v) if k == "selector" => go_selector(v),
                    Some(v) => go_json(v),
                };
                e.immutable(&ch("spec", k), shown);
            }
        };
        immutable("completions", e);
        immutable("selector", e);
        let mutable_directives =
            boolean(o, "suspend") == Some(true) && get(sub(old, "status"), "startTime").is_none();
        let mut nt = normalize(sub(s, "template"));
        let mut ot = normalize(sub(o, "template"));
        if mutable_directives {
            for t in [&mut nt, &mut ot] {
                if let Some(tm) = t.as_object_mut() {
                    if let Some(Value::Object(mm)) = tm.get_mut("metadata") {
                        mm.remove("labels");
                        mm.remove("annotations");
                    }
                    if let Some(Value::Object(sm)) = tm.get_mut("spec") {
                        for k in ["nodeSelector", "tolerations", "schedulingGates"] {
                            sm.remove(k);
                        }
                        if let Some(Value::Object(a)) = sm.get_mut("affinity") {
                            a.remove("nodeAffinity");
                        }
                    }
                }
                *t = normalize(t);
            }
        }
        if nt != ot {
            e.immutable("spec.template", go_json(sub(s, "template")));
        }
        for k in [
            "completionMode",
            "podFailurePolicy",
            "backoffLimitPerIndex",
            "managedBy",
            "successPolicy",
        ] {
            immutable(k, e);
        }
    }

    fn cron_job(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let s = spec(obj);
        let old_spec = old.map(spec);
        let schedule = st(s, "schedule");
        if schedule.is_empty() {
            e.required("spec.schedule", "");
        } else {
            if let Err(err) = cron::parse_standard(schedule) {
                e.invalid("spec.schedule", schedule, &err);
            }
            let allow_tz = old_spec.is_some_and(|o| st(o, "schedule").contains("TZ"));
            if allow_tz && schedule.contains("TZ") && get(s, "timeZone").is_some() {
                e.invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                );
            } else if !allow_tz && schedule.contains("TZ") {
                e.invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                );
            }
        }
        if let Some(v) = int(s, "startingDeadlineSeconds") {
            e.nonnegative("spec.startingDeadlineSeconds", v);
        }
        if old_spec.is_none_or(|o| o.get("timeZone") != s.get("timeZone"))
            && let Some(tz) = opt_str(s, "timeZone")
        {
            time_zone(tz, e);
        }
        match st(s, "concurrencyPolicy") {
            "Allow" | "Forbid" | "Replace" => {}
            "" => e.required("spec.concurrencyPolicy", ""),
            other => e.not_supported(
                "spec.concurrencyPolicy",
                other,
                &["Allow", "Forbid", "Replace"],
            ),
        }
        let jt = sub(s, "jobTemplate");
        job_spec(sub(jt, "spec"), "spec.jobTemplate.spec", e);
        if let Some(sel) = get(sub(jt, "spec"), "selector") {
            e.invalid(
                "spec.jobTemplate.spec.selector",
                go_selector(sel),
                "`selector` will be auto-generated",
            );
        }
        if boolean(sub(jt, "spec"), "manualSelector") == Some(true) {
            e.not_supported(
                "spec.jobTemplate.spec.manualSelector",
                true,
                &["nil", "false"],
            );
        }
        for k in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            if let Some(v) = int(s, k) {
                e.nonnegative(&ch("spec", k), v);
            }
        }
        let name = st(meta(obj), "name");
        if old.is_none() && name.len() > 52 {
            e.invalid("metadata.name", name, "must be no more than 52 characters");
        }
    }

    fn time_zone(tz: &str, e: &mut Errs) {
        let p = "spec.timeZone";
        if tz.is_empty() {
            e.invalid(p, tz, "timeZone must be nil or non-empty string");
            return;
        }
        for part in tz.split('/') {
            let ok = part != "."
                && part != ".."
                && !part.starts_with('-')
                && (1..=14).contains(&part.len())
                && part
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c));
            if !ok {
                e.invalid(p, tz, &format!("unknown time zone {tz}"));
                return;
            }
        }
        if tz.eq_ignore_ascii_case("local") {
            e.invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
        }
    }

    // --- other groups -------------------------------------------------------------------------

    fn lease(obj: &Value, e: &mut Errs) {
        let s = spec(obj);
        if let Some(d) = int(s, "leaseDurationSeconds")
            && d <= 0
        {
            e.invalid("spec.leaseDurationSeconds", d, "must be greater than 0");
        }
        if let Some(t) = int(s, "leaseTransitions")
            && t < 0
        {
            e.invalid(
                "spec.leaseTransitions",
                t,
                "must be greater than or equal to 0",
            );
        }
    }

    fn endpoint_slice(obj: &Value, old: Option<&Value>, e: &mut Errs) {
        let at = st(obj, "addressType");
        match at {
            "" => e.required("addressType", ""),
            "FQDN" | "IPv4" | "IPv6" => {}
            other => e.not_supported("addressType", other, &["FQDN", "IPv4", "IPv6"]),
        }
        let endpoints = arr(obj, "endpoints");
        if endpoints.len() > 1000 {
            e.too_many("endpoints", endpoints.len(), 1000);
        }
        for (i, ep) in endpoints.iter().enumerate() {
            let p = ix("endpoints", i);
            let addrs = arr(ep, "addresses");
            if addrs.is_empty() {
                e.required(&ch(&p, "addresses"), "must contain at least 1 address");
            } else if addrs.len() > 100 {
                e.too_many(&ch(&p, "addresses"), addrs.len(), 100);
            }
            for (j, a) in addrs.iter().enumerate() {
                let a = a.as_str().unwrap_or("");
                let ap = ix(&ch(&p, "addresses"), j);
                let valid = match at {
                    "IPv4" => a.parse::<std::net::Ipv4Addr>().is_ok(),
                    "IPv6" => a.parse::<std::net::Ipv6Addr>().is_ok(),
                    _ => true,
                };
                if !valid {
                    let msg = if at == "IPv4" {
                        "must be a valid IPv4 address"
                    } else {
                        "must be a valid IPv6 address"
                    };
                    e.invalid(&ap, a, msg);
                }
                if at == "FQDN" {
                    let name = a.strip_suffix('.').unwrap_or(a);
                    let errs = fmtcheck::dns1123_subdomain(name);
                    if !errs.is_empty() {
                        e.invalid(&ap, name, &errs.join(","));
                    } else if !name.contains('.') {
                        e.invalid(
                            &ap,
                            name,
                            "should be a domain with at least two segments separated by dots",
                        );
                    }
                }
            }
            if let Some(h) = opt_str(ep, "hostname") {
                for msg in fmtcheck::dns1123_label(h) {
                    e.invalid(&ch(&p, "hostname"), h, &msg);
                }
            }
            if let Some(n) = opt_str(ep, "nodeName") {
                for msg in fmtcheck::dns1123_subdomain(n) {
                    e.invalid(&ch(&p, "nodeName"), n, &msg);
                }
            }
        }
        let mut names = BTreeSet::new();
        for (i, port) in arr(obj, "ports").iter().enumerate() {
            let p = ix("ports", i);
            let name = st(port, "name");
            if !name.is_empty() {
                for msg in fmtcheck::dns1123_label(name) {
                    e.invalid(&ch(&p, "name"), name, &msg);
                }
            }
            if !names.insert(name.to_string()) {
                e.duplicate(&ch(&p, "name"), name);
            }
            if let Some(n) = int(port, "port") {
                for msg in fmtcheck::port_num(n) {
                    e.invalid(&ch(&p, "port"), n, &msg);
                }
            }
            if get(port, "protocol").is_some() {
                pod::protocol(port, &p, e);
            }
        }
        if let Some(old) = old
            && at != st(old, "addressType")
        {
            e.immutable("addressType", at);
        }
    }

    fn ingress_backend(b: &Value, path: &str, e: &mut Errs) {
        let (res, svc) = (get(b, "resource"), get(b, "service"));
        match (res, svc) {
            (Some(_), Some(_)) => {
                e.invalid(path, "", "cannot set both resource and service backends")
            }
            (Some(r), None) => {
                let rp = ch(path, "resource");
                if let Some(g) = opt_str(r, "apiGroup") {
                    for msg in fmtcheck::dns1123_subdomain(g) {
                        e.invalid(&ch(&rp, "apiGroup"), g, &msg);
                    }
                }
                for k in ["kind", "name"] {
                    let v = st(r, k);
                    if v.is_empty() {
                        e.required(&ch(&rp, k), &format!("{k} is required"));
                    } else {
                        for msg in fmtcheck::path_segment(v, false) {
                            e.invalid(&ch(&rp, k), v, &msg);
                        }
                    }
                }
            }
            (None, Some(s)) => {
                let name = st(s, "name");
                if name.is_empty() {
                    e.required(&ch(path, "service.name"), "");
                } else {
                    for msg in fmtcheck::dns1035_label(name) {
                        e.invalid(&ch(path, "service.name"), name, &msg);
                    }
                }
                let port = sub(s, "port");
                let pname = st(port, "name");
                let pnum = int(port, "number").unwrap_or(0);
                if !pname.is_empty() && pnum != 0 {
                    e.invalid(path, "", "cannot set both port name & port number");
                } else if !pname.is_empty() {
                    for msg in fmtcheck::port_name(pname) {
                        e.invalid(&ch(path, "service.port.name"), pname, &msg);
                    }
                } else if pnum != 0 {
                    for msg in fmtcheck::port_num(pnum) {
                        e.invalid(&ch(path, "service.port.number"), pnum, &msg);
                    }
                } else {
                    e.required(path, "port name or number is required");
                }
            }
            (None, None) => e.invalid(path, "", "resource or service backend is required"),
        }
    }

    fn ingress(obj: &Value, e: &mut Errs) {
        let s = spec(obj);
        let rules = arr(s, "rules");
        let default_backend = get(s, "defaultBackend");
        if rules.is_empty() && default_backend.is_none() {
            let shown = if s.get("rules").is_some_and(Value::is_array) {
                "[]networking.IngressRule{}"
            } else {
                "[]networking.IngressRule(nil)"
            };
            e.invalid(
                "spec",
                Bad::Raw(shown.into()),
                "either `defaultBackend` or `rules` must be specified",
            );
        }
        if let Some(b) = default_backend {
            ingress_backend(b, "spec.defaultBackend", e);
        }
        for (i, r) in rules.iter().enumerate() {
            let p = ix("spec.rules", i);
            let host = st(r, "host");
            if !host.is_empty() {
                if host.parse::<std::net::IpAddr>().is_ok() {
                    e.invalid(
                        &ch(&p, "host"),
                        host,
                        "must be a DNS name, not an IP address",
                    );
                }
                let msgs = if host.contains('*') {
                    fmtcheck::wildcard_subdomain(host)
                } else {
                    fmtcheck::dns1123_subdomain(host)
                };
                for msg in msgs {
                    e.invalid(&ch(&p, "host"), host, &msg);
                }
            }
            let Some(http) = get(r, "http") else { continue };
            let hp = ch(&p, "http");
            let paths = arr(http, "paths");
            if paths.is_empty() {
                e.required(&ch(&hp, "paths"), "");
            }
            for (j, path) in paths.iter().enumerate() {
                let pp = ix(&ch(&hp, "paths"), j);
                let Some(pt) = opt_str(path, "pathType") else {
                    e.required(&ch(&pp, "pathType"), "pathType must be specified");
                    continue;
                };
                let value = st(path, "path");
                match pt {
                    "Exact" | "Prefix" => {
                        if !value.starts_with('/') {
                            e.invalid(&ch(&pp, "path"), value, "must be an absolute path");
                        }
                        if !value.is_empty() {
                            for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                                if value.contains(seq) {
                                    e.invalid(
                                        &ch(&pp, "path"),
                                        value,
                                        &format!("must not contain '{seq}'"),
                                    );
                                }
                            }
                            for suffix in ["/..", "/."] {
                                if value.ends_with(suffix) {
                                    e.invalid(
                                        &ch(&pp, "path"),
                                        value,
                                        &format!("cannot end with '{suffix}'"),
                                    );
                                }
                            }
                        }
                    }
                    "ImplementationSpecific" => {
                        if !value.is_empty() && !value.starts_with('/') {
                            e.invalid(&ch(&pp, "path"), value, "must be an absolute path");
                        }
                    }
                    other => e.not_supported(
                        &ch(&pp, "pathType"),
                        other,
                        &["Exact", "ImplementationSpecific", "Prefix"],
                    ),
                }
                ingress_backend(sub(path, "backend"), &ch(&pp, "backend"), e);
            }
        }
        for (ti, tls) in arr(s, "tls").iter().enumerate() {
            let tp = ix("spec.tls", ti);
            for (hi, h) in arr(tls, "hosts").iter().enumerate() {
                let h = h.as_str().unwrap_or("");
                let msgs = if h.contains('*') {
                    fmtcheck::wildcard_subdomain(h)
                } else {
                    fmtcheck::dns1123_subdomain(h)
                };
                for msg in msgs {
                    e.invalid(&ix(&ch(&tp, "hosts"), hi), h, &msg);
                }
            }
            let secret = st(tls, "secretName");
            if !secret.is_empty() {
                for msg in fmtcheck::dns1123_subdomain(secret) {
                    e.invalid(&ch(&tp, "secretName"), secret, &msg);
                }
            }
        }
        if let Some(class) = opt_str(s, "ingressClassName") {
            for msg in fmtcheck::dns1123_subdomain(class) {
                e.invalid("spec.ingressClassName", class, &msg);
            }
        }
    }

    fn policy_rules(obj: &Value, namespaced: bool, e: &mut Errs) {
        for (i, rule) in arr(obj, "rules").iter().enumerate() {
            let p = ix("rules", i);
            if arr(rule, "verbs").is_empty() {
                e.required(&ch(&p, "verbs"), "verbs must contain at least one value");
            }
            let urls = rule.get("nonResourceURLs");
            if !arr(rule, "nonResourceURLs").is_empty() {
                if namespaced {
                    e.invalid(
                        &ch(&p, "nonResourceURLs"),
                        Bad::Raw(go_strings(urls)),
                        "namespaced rules cannot apply to non-resource URLs",
                    );
                }
                if !arr(rule, "apiGroups").is_empty()
                    || !arr(rule, "resources").is_empty()
                    || !arr(rule, "resourceNames").is_empty()
                {
                    e.invalid(
                        &ch(&p, "nonResourceURLs"),
                        Bad::Raw(go_strings(urls)),
                        "rules cannot apply to both regular resources and non-resource URLs",
                    );
                }
                continue;
            }
            if arr(rule, "apiGroups").is_empty() {
                e.required(
                    &ch(&p, "apiGroups"),
                    "resource rules must supply at least one api group",
                );
            }
            if arr(rule, "resources").is_empty() {
                e.required(
                    &ch(&p, "resources"),
                    "resource rules must supply at least one resource",
                );
            }
            if !arr(rule, "resourceNames").is_empty() && arr(rule, "resources").len() > 1 {
                e.required(
                    &ch(&p, "resourceNames"),
                    "resource names cannot apply to multiple resources",
                );
            }
        }
    }

    fn role_binding(obj: &Value, old: Option<&Value>, namespaced: bool, e: &mut Errs) {
        let rr = sub(obj, "roleRef");
        let group = st(rr, "apiGroup");
        if group != RBAC {
            e.not_supported("roleRef.apiGroup", group, &[RBAC]);
        }
        let kind = st(rr, "kind");
        let kinds: &[&str] = if namespaced {
            &["Role", "ClusterRole"]
        } else {
            &["ClusterRole"]
        };
        if !kinds.contains(&kind) {
            e.not_supported("roleRef.kind", kind, kinds);
        }
        let name = st(rr, "name");
        if name.is_empty() {
            e.required("roleRef.name", "");
        } else {
            for msg in fmtcheck::path_segment(name, false) {
                e.invalid("roleRef.name", name, &msg);
            }
        }
        for (i, s) in arr(obj, "subjects").iter().enumerate() {
            let p = ix("subjects", i);
            let sname = st(s, "name");
            if sname.is_empty() {
                e.required(&ch(&p, "name"), "");
            }
            let group = st(s, "apiGroup");
            match st(s, "kind") {
                "ServiceAccount" => {
                    if !sname.is_empty() {
                        for msg in fmtcheck::dns1123_subdomain(sname) {
                            e.invalid(&ch(&p, "name"), sname, &msg);
                        }
                    }
                    if !group.is_empty() {
                        e.not_supported(&ch(&p, "apiGroup"), group, &[""]);
                    }
                    if !namespaced && st(s, "namespace").is_empty() {
                        e.required(&ch(&p, "namespace"), "");
                    }
                }
                k @ ("User" | "Group") => {
                    if sname.is_empty() {
                        let what = if k == "User" { "user" } else { "group" };
                        e.invalid(
                            &ch(&p, "name"),
                            sname,
                            &format!("{what} name cannot be empty"),
                        );
                    }
                    if group != RBAC {
                        e.not_supported(&ch(&p, "apiGroup"), group, &[RBAC]);
                    }
                }
                other => {
                    e.not_supported(&ch(&p, "kind"), other, &["ServiceAccount", "User", "Group"])
                }
            }
        }
        if let Some(old) = old {
            let orr = sub(old, "roleRef");
            if (st(orr, "apiGroup"), st(orr, "kind"), st(orr, "name")) != (group, kind, name) {
                e.invalid(
                    "roleRef",
                    Bad::Raw(format!(
                        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
                        go_quote(group),
                        go_quote(kind),
                        go_quote(name)
                    )),
                    "cannot change roleRef",
                );
            }
        }
    }

    fn pdb(obj: &Value, e: &mut Errs) {
        let s = spec(obj);
        let (min, max) = (get(s, "minAvailable"), get(s, "maxUnavailable"));
        if min.is_some() && max.is_some() {
            e.invalid(
                "spec",
                go_json(s),
                "minAvailable and maxUnavailable cannot be both set",
            );
        }
        for (k, v) in [("minAvailable", min), ("maxUnavailable", max)] {
            if let Some(v) = v {
                positive_int_or_percent(v, &ch("spec", k), e);
                not_more_than_100(v, &ch("spec", k), e);
            }
        }
        validate_label_selector(s.get("selector"), "spec.selector", e);
        if let Some(p) = opt_str(s, "unhealthyPodEvictionPolicy")
            && p != "AlwaysAllow"
            && p != "IfHealthyBudget"
        {
            e.not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                &["AlwaysAllow", "IfHealthyBudget"],
            );
        }
    }

    fn hpa(obj: &Value, e: &mut Errs) {
        let s = spec(obj);
        let min = int(s, "minReplicas");
        if let Some(m) = min
            && m < 1
        {
            e.invalid("spec.minReplicas", m, "must be greater than or equal to 1");
        }
        let max = int(s, "maxReplicas").unwrap_or(0);
        if max < 1 {
            e.invalid("spec.maxReplicas", max, "must be greater than 0");
        }
        if min.is_some_and(|m| max < m) {
            e.invalid(
                "spec.maxReplicas",
                max,
                "must be greater than or equal to `minReplicas`",
            );
        }
        let target = sub(s, "scaleTargetRef");
        let mut ref_errs = Errs::default();
        for k in ["kind", "name"] {
            let v = st(target, k);
            let p = ch("spec.scaleTargetRef", k);
            if v.is_empty() {
                ref_errs.required(&p, "");
            } else {
                for msg in fmtcheck::path_segment(v, false) {
                    ref_errs.invalid(&p, v, &msg);
                }
            }
        }
        if !ref_errs.0.is_empty() {
            e.0.extend(ref_errs.0);
            return;
        }
        if st(obj, "apiVersion") == "autoscaling/v1" {
            if let Some(t) = int(s, "targetCPUUtilizationPercentage")
                && t < 1
            {
                e.invalid(
                    "spec.metrics[0].resource.target.averageUtilization",
                    t,
                    "must be greater than 0",
                );
            }
            return;
        }
        const TYPES: [&str; 5] = [
            "ContainerResource",
            "External",
            "Object",
            "Pods",
            "Resource",
        ];
        for (i, m) in arr(s, "metrics").iter().enumerate() {
            let p = ix("spec.metrics", i);
            let t = st(m, "type");
            if t.is_empty() {
                e.required(&ch(&p, "type"), "must specify a metric source type");
                continue;
            }
            if !TYPES.contains(&t) {
                e.not_supported(&ch(&p, "type"), t, &TYPES);
                continue;
            }
            let member = match t {
                "ContainerResource" => "containerResource",
                "External" => "external",
                "Object" => "object",
                "Pods" => "pods",
                _ => "resource",
            };
            let Some(src) = get(m, member) else {
                e.required(
                    &ch(&p, member),
                    "must populate information for the given metric source",
                );
                continue;
            };
            if t == "Resource" || t == "ContainerResource" {
                let mp = ch(&p, member);
                if st(src, "name").is_empty() {
                    e.required(&ch(&mp, "name"), "must specify a resource name");
                }
                let target = sub(src, "target");
                match st(target, "type") {
                    "" => e.required(&ch(&mp, "target.type"), "must specify a metric target type"),
                    "Utilization" => {
                        if let Some(u) = int(target, "averageUtilization")
                            && u <= 0
                        {
                            e.invalid(
                                &ch(&mp, "target.averageUtilization"),
                                u,
                                "must be greater than 0",
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn crd(obj: &Value, old: Option<&Value>, rule: MetaRule, e: &mut Errs) {
        let s = spec(obj);
        let names = sub(s, "names");
        let group = st(s, "group");
        let plural = st(names, "plural");
        if old.is_none() {
            let name = st(meta(obj), "name");
            let required = format!("{plural}.{group}");
            let extra = if name != required {
                vec!["must be spec.names.plural+\".\"+spec.group".to_string()]
            } else {
                Vec::new()
            };
            validate_object_meta_with(obj, rule, &extra, e);
        }
        if group.is_empty() {
            e.required("spec.group", "");
        } else {
            let errs = fmtcheck::dns1123_subdomain(group);
            if !errs.is_empty() {
                e.invalid("spec.group", group, &errs.join(","));
            } else if !group.contains('.') {
                e.invalid(
                    "spec.group",
                    group,
                    "should be a domain with at least one dot",
                );
            }
        }
        match st(s, "scope") {
            "" => e.required("spec.scope", ""),
            "Cluster" | "Namespaced" => {}
            other => e.not_supported("spec.scope", other, &["Cluster", "Namespaced"]),
        }
        let versions = arr(s, "versions");
        let mut seen = BTreeSet::new();
        let mut unique = true;
        let mut storage = 0;
        for (i, v) in versions.iter().enumerate() {
            if boolean(v, "storage") == Some(true) {
                storage += 1;
            }
            let name = st(v, "name");
            if !seen.insert(name.to_string()) {
                unique = false;
            }
            let errs = fmtcheck::dns1035_label(name);
            if !errs.is_empty() {
                e.invalid(&format!("spec.versions[{i}].name"), name, &errs.join(","));
            }
            if get(sub(v, "schema"), "openAPIV3Schema").is_none() {
                e.required(
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                );
            }
        }
        let shown = go_json(sub(s, "versions"));
        if !unique {
            e.invalid(
                "spec.versions",
                shown.clone(),
                "must contain unique version names",
            );
        }
        if storage != 1 {
            e.invalid(
                "spec.versions",
                shown,
                "must have exactly one version marked as storage version",
            );
        }
        for k in ["plural", "singular", "kind", "listKind"] {
            if st(names, k).is_empty() {
                e.required(&format!("spec.names.{k}"), "");
            }
        }
        for k in ["plural", "singular"] {
            let v = st(names, k);
            if !v.is_empty() {
                let errs = fmtcheck::dns1035_label(v);
                if !errs.is_empty() {
                    e.invalid(&format!("spec.names.{k}"), v, &errs.join(","));
                }
            }
        }
        for (i, sn) in strs(names, "shortNames").iter().enumerate() {
            let errs = fmtcheck::dns1035_label(sn);
            if !errs.is_empty() {
                e.invalid(
                    &format!("spec.names.shortNames[{i}]"),
                    sn.as_str(),
                    &errs.join(","),
                );
            }
        }
        for k in ["kind", "listKind"] {
            let v = st(names, k);
            if !v.is_empty() {
                let errs = fmtcheck::dns1035_label(&v.to_lowercase());
                if !errs.is_empty() {
                    e.invalid(
                        &format!("spec.names.{k}"),
                        v,
                        &format!(
                            "may have mixed case, but should otherwise match: {}",
                            errs.join(",")
                        ),
                    );
                }
            }
        }
        if !st(names, "kind").is_empty() && st(names, "kind") == st(names, "listKind") {
            e.invalid(
                "spec.names.listKind",
                st(names, "listKind"),
                "kind and listKind may not be the same",
            );
        }
        if let Some(conv) = get(s, "conversion") {
            match st(conv, "strategy") {
                "" => e.required("spec.conversion.strategy", ""),
                "None" => {
                    if get(conv, "webhook").is_some() {
                        e.forbidden(
                            "spec.conversion.webhook",
                            "should not be set when strategy is not set to Webhook",
                        );
                    }
                }
                "Webhook" => {
                    if get(sub(conv, "webhook"), "clientConfig").is_none() {
                        e.required(
                            "spec.conversion.webhook",
                            "required when strategy is set to Webhook",
                        );
                    }
                }
                other => e.not_supported("spec.conversion.strategy", other, &["None", "Webhook"]),
            }
        }
        if let Some(old) = old {
            let o = spec(old);
            let established = arr(sub(old, "status"), "conditions")
                .iter()
                .any(|c| st(c, "type") == "Established" && st(c, "status") == "True");
            if established {
                if st(s, "scope") != st(o, "scope") {
                    e.immutable("spec.scope", st(s, "scope"));
                }
                if st(names, "kind") != st(sub(o, "names"), "kind") {
                    e.immutable("spec.names.kind", st(names, "kind"));
                }
            }
            if group != st(o, "group") {
                e.immutable("spec.group", group);
            }
            if plural != st(sub(o, "names"), "plural") {
                e.immutable("spec.names.plural", plural);
            }
        }
    }
}

/// Length of the bytes a base64 string decodes to (0 for invalid input).
fn base64_decoded_len(s: &str) -> usize {
    base64_decode(s).map_or(0, |b| b.len())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u8> {
    B64.iter()
        .position(|&x| x == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// Go's `base64.StdEncoding.Decode`: the bytes, or the offset of `illegal base64 data at input
/// byte N`. Newlines are ignored, padding is required.
fn base64_decode(s: &str) -> std::result::Result<Vec<u8>, usize> {
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len() * 3 / 4);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut j = 0;
        let mut dlen = 4;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                quantum[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(si);
            }
            dlen = j;
            break;
        }
        let v = (u32::from(quantum[0]) << 18)
            | (u32::from(quantum[1]) << 12)
            | (u32::from(quantum[2]) << 6)
            | u32::from(quantum[3]);
        let bytes = v.to_be_bytes();
        out.extend_from_slice(&bytes[1..dlen]);
        if dlen < 4 {
            return Ok(out);
        }
    }
}

/// Standard base64 with padding.
fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cron schedules (github.com/robfig/cron/v3 ParseStandard, as the CronJob validation uses it)
// ---------------------------------------------------------------------------------------------

mod cron {
    //! `cron.ParseStandard`: five fields or a `@descriptor`, with robfig/cron's error messages.

    struct Bounds {
        min: u32,
        max: u32,
        names: &'static [(&'static str, u32)],
    }

    const MINUTES: Bounds = Bounds {
        min: 0,
        max: 59,
        names: &[],
    };
    const HOURS: Bounds = Bounds {
        min: 0,
        max: 23,
        names: &[],
    };
    const DOM: Bounds = Bounds {
        min: 1,
        max: 31,
        names: &[],
    };
    const MONTHS: Bounds = Bounds {
        min: 1,
        max: 12,
        names: &[
            ("jan", 1),
            ("feb", 2),
            ("mar", 3),
            ("apr", 4),
            ("may", 5),
            ("jun", 6),
            ("jul", 7),
            ("aug", 8),
            ("sep", 9),
            ("oct", 10),
            ("nov", 11),
            ("dec", 12),
        ],
    };
    const DOW: Bounds = Bounds {
        min: 0,
        max: 6,
        names: &[
            ("sun", 0),
            ("mon", 1),
            ("tue", 2),
            ("wed", 3),
            ("thu", 4),
            ("fri", 5),
            ("sat", 6),
        ],
    };

    /// Go's `strconv.Atoi` error text.
    fn atoi(s: &str) -> Result<i64, String> {
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "strconv.Atoi: parsing {}: invalid syntax",
                super::go_quote(s)
            ));
        }
        s.parse::<i64>().map_err(|_| {
            format!(
                "strconv.Atoi: parsing {}: value out of range",
                super::go_quote(s)
            )
        })
    }

    fn must_parse_int(expr: &str) -> Result<u32, String> {
        let n = atoi(expr).map_err(|e| format!("failed to parse int from {expr}: {e}"))?;
        if n < 0 {
            return Err(format!("negative number ({n}) not allowed: {expr}"));
        }
        u32::try_from(n).map_err(|_| format!("end of range ({n}) above maximum: {expr}"))
    }

    fn int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
        let lower = expr.to_lowercase();
        if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
            return Ok(*v);
        }
        must_parse_int(expr)
    }

    fn range(expr: &str, b: &Bounds) -> Result<(), String> {
        let range_and_step: Vec<&str> = expr.split('/').collect();
        let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
        let single = low_and_high.len() == 1;
        let (start, mut end);
        if low_and_high[0] == "*" || low_and_high[0] == "?" {
            start = b.min;
            end = b.max;
        } else {
            start = int_or_name(low_and_high[0], b)?;
            end = match low_and_high.len() {
                1 => start,
                2 => int_or_name(low_and_high[1], b)?,
                _ => return Err(format!("too many hyphens: {expr}")),
            };
        }
        let step = match range_and_step.len() {
            1 => 1,
            2 => {
                let step = must_parse_int(range_and_step[1])?;
                if single {
                    end = b.max;
                }
                step
            }
            _ => return Err(format!("too many slashes: {expr}")),
        };
        if start < b.min {
            return Err(format!(
                "beginning of range ({start}) below minimum ({}): {expr}",
                b.min
            ));
        }
        if end > b.max {
            return Err(format!(
                "end of range ({end}) above maximum ({}): {expr}",
                b.max
            ));
        }
        if start > end {
            return Err(format!(
                "beginning of range ({start}) beyond end of range ({end}): {expr}"
            ));
        }
        if step == 0 {
            return Err(format!("step of range should be a positive number: {expr}"));
        }
        Ok(())
    }

    /// Go's `time.ParseDuration`, for `@every`.
    fn parse_duration(s: &str) -> Result<(), String> {
        let quoted = super::go_quote(s);
        let mut rest = s.strip_prefix(['+', '-']).unwrap_or(s);
        if rest == "0" {
            return Ok(());
        }
        if rest.is_empty() {
            return Err(format!("time: invalid duration {quoted}"));
        }
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(rest.len());
            let num = &rest[..num_end];
            if num.is_empty() || num == "." || num.matches('.').count() > 1 {
                return Err(format!("time: invalid duration {quoted}"));
            }
            rest = &rest[num_end..];
            let unit_end = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_end];
            if unit.is_empty() {
                return Err(format!("time: missing unit in duration {quoted}"));
            }
            if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&unit) {
                return Err(format!(
                    "time: unknown unit {} in duration {quoted}",
                    super::go_quote(unit)
                ));
            }
            rest = &rest[unit_end..];
        }
        Ok(())
    }

    /// `cron.ParseStandard`: `Ok` when the schedule parses, else robfig/cron's message.
    pub fn parse_standard(spec: &str) -> Result<(), String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let mut spec = spec;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let eq = spec.find('=').unwrap_or(0);
            let Some(sp) = spec.find(' ') else {
                return Err(format!(
                    "provided bad location {}: unknown time zone {}",
                    &spec[eq + 1..],
                    &spec[eq + 1..]
                ));
            };
            spec = spec[sp..].trim();
        }
        if let Some(descriptor) = spec.strip_prefix('@') {
            let full = spec;
            return match descriptor {
                "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                    Ok(())
                }
                d if d.starts_with("every ") => parse_duration(&d["every ".len()..])
                    .map_err(|e| format!("failed to parse duration {full}: {e}")),
                _ => Err(format!("unrecognized descriptor: {full}")),
            };
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        for (field, bounds) in fields.iter().zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW]) {
            for expr in field.split(',').filter(|e| !e.is_empty()) {
                range(expr, bounds)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Defaulting (pkg/apis/*/v1/defaults.go and the strategy/admission steps clients see)
// ---------------------------------------------------------------------------------------------

mod defaults {
    //! `SetDefaults_*` over JSON. Go's "zero" tests (`== ""`, `== 0`, `== nil`) read a missing
    //! field, a `null` and the zero value alike, so defaulting is idempotent.

    use super::*;

    /// The object under `k`, created when absent or null; `None` when `k` holds another type.
    fn ensure<'a>(m: &'a mut Obj, k: &str) -> Option<&'a mut Obj> {
        let v = m
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if v.is_null() {
            *v = Value::Object(Map::new());
        }
        v.as_object_mut()
    }

    /// The object under `k` when it is one (never created).
    fn existing<'a>(m: &'a mut Obj, k: &str) -> Option<&'a mut Obj> {
        m.get_mut(k).and_then(Value::as_object_mut)
    }

    fn items<'a>(m: &'a mut Obj, k: &str) -> impl Iterator<Item = &'a mut Obj> {
        m.get_mut(k)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
    }

    fn absent(m: &Obj, k: &str) -> bool {
        m.get(k).is_none_or(Value::is_null)
    }

    /// Go's `if x == ""`.
    fn empty_str(m: &Obj, k: &str) -> bool {
        match m.get(k) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        }
    }

    /// Go's `if x == 0`.
    fn zero_int(m: &Obj, k: &str) -> bool {
        match m.get(k) {
            None | Some(Value::Null) => true,
            Some(v) => as_int(v) == Some(0),
        }
    }

    fn default(m: &mut Obj, k: &str, v: Value) {
        if absent(m, k) {
            m.insert(k.to_string(), v);
        }
    }

    fn default_str(m: &mut Obj, k: &str, v: &str) {
        if empty_str(m, k) {
            m.insert(k.to_string(), Value::String(v.to_string()));
        }
    }

    fn default_int(m: &mut Obj, k: &str, v: i64) {
        if zero_int(m, k) {
            m.insert(k.to_string(), json!(v));
        }
    }

    fn str_of<'a>(m: &'a Obj, k: &str) -> &'a str {
        m.get(k).and_then(Value::as_str).unwrap_or("")
    }

    pub fn apply(group: &str, kind: &str, obj: &mut Value) {
        let Some(root) = obj.as_object_mut() else {
            return;
        };
        match (group, kind) {
            ("", "Pod") => {
                if let Some(spec) = ensure(root, "spec") {
                    pod_spec(spec, Template::Pod);
                }
                pod_status(root);
            }
            ("", "PodTemplate") => template(root, "template", Template::Workload),
            ("", "ReplicationController") => replication_controller(root),
            ("", "Service") => {
                if let Some(spec) = ensure(root, "spec") {
                    service(spec);
                }
            }
            ("", "Namespace") => namespace(root),
            ("", "Secret") => secret(root),
            ("", "PersistentVolumeClaim") => pvc(root),
            ("", "PersistentVolume") => {
                if let Some(spec) = ensure(root, "spec") {
                    default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
                    default(spec, "volumeMode", json!("Filesystem"));
                }
                if let Some(status) = ensure(root, "status") {
                    default_str(status, "phase", "Pending");
                }
            }
            ("", "Endpoints") => {
                for subset in items(root, "subsets") {
                    for port in items(subset, "ports") {
                        default_str(port, "protocol", "TCP");
                    }
                }
            }
            ("", "Node") => {
                if let Some(status) = existing(root, "status")
                    && status
                        .get("allocatable")
                        .and_then(Value::as_object)
                        .is_none_or(Map::is_empty)
                    && let Some(cap) = status
                        .get("capacity")
                        .filter(|c| c.as_object().is_some_and(|m| !m.is_empty()))
                {
                    let cap = cap.clone();
                    status.insert("allocatable".into(), cap);
                }
            }
            ("apps", "Deployment") => {
                if let Some(spec) = ensure(root, "spec") {
                    default(spec, "replicas", json!(1));
                    if let Some(strategy) = ensure(spec, "strategy") {
                        default_str(strategy, "type", "RollingUpdate");
                        if str_of(strategy, "type") == "RollingUpdate"
                            && let Some(ru) = ensure(strategy, "rollingUpdate")
                        {
                            default(ru, "maxUnavailable", json!("25%"));
                            default(ru, "maxSurge", json!("25%"));
                        }
                    }
                    default(spec, "revisionHistoryLimit", json!(10));
                    default(spec, "progressDeadlineSeconds", json!(600));
                    template(spec, "template", Template::Workload);
                }
            }
            ("apps", "ReplicaSet") => {
                if let Some(spec) = ensure(root, "spec") {
                    default(spec, "replicas", json!(1));
                    template(spec, "template", Template::Workload);
                }
            }
            ("apps", "StatefulSet") => {
                if let Some(spec) = ensure(root, "spec") {
                    stateful_set(spec);
                }
            }
            ("apps", "DaemonSet") => {
                if let Some(spec) = ensure(root, "spec") {
                    if let Some(us) = ensure(spec, "updateStrategy") {
                        default_str(us, "type", "RollingUpdate");
                        if str_of(us, "type") == "RollingUpdate"
                            && let Some(ru) = ensure(us, "rollingUpdate")
                        {
                            default(ru, "maxUnavailable", json!(1));
                            default(ru, "maxSurge", json!(0));
                        }
                    }
                    default(spec, "revisionHistoryLimit", json!(10));
                    template(spec, "template", Template::Workload);
                }
            }
            ("batch", "Job") => job(root),
            ("batch", "CronJob") => {
                if let Some(spec) = ensure(root, "spec") {
                    default_str(spec, "concurrencyPolicy", "Allow");
                    default(spec, "suspend", json!(false));
                    default(spec, "successfulJobsHistoryLimit", json!(3));
                    default(spec, "failedJobsHistoryLimit", json!(1));
                    if let Some(jt) = ensure(spec, "jobTemplate")
                        && let Some(js) = ensure(jt, "spec")
                    {
                        template(js, "template", Template::Job);
                    }
                }
            }
            ("autoscaling", "HorizontalPodAutoscaler") => {
                let v2 = root.get("apiVersion").and_then(Value::as_str) != Some("autoscaling/v1");
                if let Some(spec) = ensure(root, "spec") {
                    default(spec, "minReplicas", json!(1));
                    if v2
                        && spec
                            .get("metrics")
                            .and_then(Value::as_array)
                            .is_none_or(Vec::is_empty)
                    {
                        spec.insert(
                            "metrics".into(),
                            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
                        );
                    }
                }
            }
            ("networking.k8s.io", "NetworkPolicy") => {
                if let Some(spec) = ensure(root, "spec") {
                    for dir in ["ingress", "egress"] {
                        for rule in items(spec, dir) {
                            for port in items(rule, "ports") {
                                default_str(port, "protocol", "TCP");
                            }
                        }
                    }
                    if spec
                        .get("policyTypes")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty)
                    {
                        let mut types = vec![json!("Ingress")];
                        if spec
                            .get("egress")
                            .and_then(Value::as_array)
                            .is_some_and(|a| !a.is_empty())
                        {
                            types.push(json!("Egress"));
                        }
                        spec.insert("policyTypes".into(), Value::Array(types));
                    }
                }
            }
            ("discovery.k8s.io", "EndpointSlice") => {
                for port in items(root, "ports") {
                    default(port, "name", json!(""));
                    default(port, "protocol", json!("TCP"));
                }
            }
            ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
                if let Some(rr) = existing(root, "roleRef") {
                    default_str(rr, "apiGroup", "rbac.authorization.k8s.io");
                }
                for subject in items(root, "subjects") {
                    if empty_str(subject, "apiGroup") {
                        match str_of(subject, "kind") {
                            "ServiceAccount" => {
                                subject.insert("apiGroup".into(), json!(""));
                            }
                            "User" | "Group" => {
                                subject
                                    .insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
                            }
                            _ => {}
                        }
                    }
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                if let Some(spec) = ensure(root, "spec") {
                    if let Some(names) = ensure(spec, "names") {
                        let kind = str_of(names, "kind").to_string();
                        default_str(names, "singular", &kind.to_lowercase());
                        if !kind.is_empty() {
                            default_str(names, "listKind", &format!("{kind}List"));
                        }
                    }
                    if let Some(conv) = ensure(spec, "conversion") {
                        default_str(conv, "strategy", "None");
                        if let Some(svc) = existing(conv, "webhook")
                            .and_then(|w| existing(w, "clientConfig"))
                            .and_then(|c| existing(c, "service"))
                        {
                            default(svc, "port", json!(443));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Template {
        /// A Pod's own spec: admission and pod-only defaults apply.
        Pod,
        /// A workload's pod template.
        Workload,
        /// A Job's pod template: no default `restartPolicy` (it must be chosen).
        Job,
    }

    fn template(parent: &mut Obj, k: &str, kind: Template) {
        if let Some(t) = ensure(parent, k)
            && let Some(spec) = ensure(t, "spec")
        {
            pod_spec(spec, kind);
        }
    }

    const DEFAULT_MODE: i64 = 0o644;

    fn pod_spec(spec: &mut Obj, kind: Template) {
        let is_pod = kind == Template::Pod;
        if kind != Template::Job {
            default_str(spec, "restartPolicy", "Always");
        }
        default_str(spec, "dnsPolicy", "ClusterFirst");
        default(spec, "securityContext", json!({}));
        default(spec, "terminationGracePeriodSeconds", json!(30));
        default_str(spec, "schedulerName", "default-scheduler");
        if empty_str(spec, "serviceAccountName") && !empty_str(spec, "serviceAccount") {
            let sa = str_of(spec, "serviceAccount").to_string();
            spec.insert("serviceAccountName".into(), json!(sa));
        }
        if is_pod {
            default_str(spec, "serviceAccountName", "default");
            default(spec, "enableServiceLinks", json!(true));
            if empty_str(spec, "priorityClassName") {
                default(spec, "priority", json!(0));
                default_str(spec, "preemptionPolicy", "PreemptLowerPriority");
            }
            default_tolerations(spec);
        }
        if !empty_str(spec, "serviceAccountName") {
            let sa = str_of(spec, "serviceAccountName").to_string();
            spec.insert("serviceAccount".into(), json!(sa));
        }
        let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for c in items(spec, list) {
                container(
                    c,
                    is_pod,
                    is_pod && host_network && list != "ephemeralContainers",
                );
            }
        }
        for vol in items(spec, "volumes") {
            volume(vol);
        }
    }

    /// The `DefaultTolerationSeconds` admission plugin.
    fn default_tolerations(spec: &mut Obj) {
        let list = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let tolerates = |taint: &str| {
            list.iter().any(|t| {
                let k = st(t, "key");
                let e = st(t, "effect");
                (k == taint || k.is_empty()) && (e == "NoExecute" || e.is_empty())
            })
        };
        let mut add = Vec::new();
        for taint in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            if !tolerates(taint) {
                add.push(json!({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
        if add.is_empty() {
            return;
        }
        let mut all = list;
        all.extend(add);
        spec.insert("tolerations".into(), Value::Array(all));
    }

    fn probe(p: &mut Obj) {
        default_int(p, "timeoutSeconds", 1);
        default_int(p, "periodSeconds", 10);
        default_int(p, "successThreshold", 1);
        default_int(p, "failureThreshold", 3);
        http_get(p);
    }

    fn http_get(handler: &mut Obj) {
        if let Some(h) = existing(handler, "httpGet") {
            default_str(h, "path", "/");
            default_str(h, "scheme", "HTTP");
        }
    }

    fn field_ref(holder: &mut Obj) {
        if let Some(fr) = existing(holder, "fieldRef") {
            default_str(fr, "apiVersion", "v1");
        }
    }

    fn container(c: &mut Obj, is_pod: bool, host_network: bool) {
        if empty_str(c, "imagePullPolicy") {
            let policy = if image_tag_is_latest(str_of(c, "image")) {
                "Always"
            } else {
                "IfNotPresent"
            };
            c.insert("imagePullPolicy".into(), json!(policy));
        }
        default_str(c, "terminationMessagePath", "/dev/termination-log");
        default_str(c, "terminationMessagePolicy", "File");
        default(c, "resources", json!({}));
        for port in items(c, "ports") {
            default_str(port, "protocol", "TCP");
            if host_network
                && zero_int(port, "hostPort")
                && let Some(cp) = port.get("containerPort").cloned()
            {
                port.insert("hostPort".into(), cp);
            }
        }
        for env in items(c, "env") {
            if let Some(from) = existing(env, "valueFrom") {
                field_ref(from);
            }
        }
        for p in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = existing(c, p) {
                probe(p);
            }
        }
        if let Some(l) = existing(c, "lifecycle") {
            for hook in ["postStart", "preStop"] {
                if let Some(h) = existing(l, hook) {
                    http_get(h);
                }
            }
        }
        if is_pod
            && let Some(res) = existing(c, "resources")
            && let Some(limits) = res.get("limits").and_then(Value::as_object).cloned()
            && !limits.is_empty()
            && let Some(requests) = ensure(res, "requests")
        {
            for (k, v) in limits {
                requests.entry(k).or_insert(v);
            }
        }
    }

    fn volume(vol: &mut Obj) {
        let has_source = pod::VOLUME_SOURCES.iter().any(|(k, _)| !absent(vol, k));
        if !has_source {
            vol.insert("emptyDir".into(), json!({}));
        }
        for k in ["secret", "configMap", "downwardAPI", "projected"] {
            if let Some(src) = existing(vol, k) {
                default(src, "defaultMode", json!(DEFAULT_MODE));
            }
        }
        if let Some(d) = existing(vol, "downwardAPI") {
            for item in items(d, "items") {
                field_ref(item);
            }
        }
        if let Some(p) = existing(vol, "projected") {
            for source in items(p, "sources") {
                if let Some(t) = existing(source, "serviceAccountToken") {
                    default(t, "expirationSeconds", json!(3600));
                }
                if let Some(d) = existing(source, "downwardAPI") {
                    for item in items(d, "items") {
                        field_ref(item);
                    }
                }
            }
        }
        if let Some(h) = existing(vol, "hostPath") {
            default(h, "type", json!(""));
        }
        if let Some(i) = existing(vol, "iscsi") {
            default_str(i, "iscsiInterface", "default");
        }
        if let Some(r) = existing(vol, "rbd") {
            default_str(r, "pool", "rbd");
            default_str(r, "user", "admin");
            default_str(r, "keyring", "/etc/ceph/keyring");
        }
        if let Some(a) = existing(vol, "azureDisk") {
            default(a, "cachingMode", json!("ReadWrite"));
            default(a, "fsType", json!("ext4"));
            default(a, "readOnly", json!(false));
            default(a, "kind", json!("Shared"));
        }
        if let Some(s) = existing(vol, "scaleIO") {
            default_str(s, "storageMode", "ThinProvisioned");
            default_str(s, "fsType", "xfs");
        }
        if let Some(spec) = existing(vol, "ephemeral")
            .and_then(|e| existing(e, "volumeClaimTemplate"))
            .and_then(|t| existing(t, "spec"))
        {
            default(spec, "volumeMode", json!("Filesystem"));
        }
    }

    /// `parsers.ParseImageName`'s tag is `latest` (explicitly, or because neither a tag nor a
    /// digest is given). Unparseable references count as not `latest`.
    pub fn image_tag_is_latest(image: &str) -> bool {
        match parse_image(image) {
            Some((tag, digest)) => {
                tag.as_deref() == Some("latest") || (tag.is_none() && digest.is_none())
            }
            None => false,
        }
    }

    /// Splits a Docker reference into `(tag, digest)`; `None` when it does not parse.
    fn parse_image(image: &str) -> Option<(Option<String>, Option<String>)> {
        if image.is_empty() || image.len() > 512 {
            return None;
        }
        let (name_tag, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (image, None),
        };
        if let Some(d) = digest {
            let (algo, hex) = d.split_once(':')?;
            let algo_ok = !algo.is_empty()
                && algo.as_bytes()[0].is_ascii_alphabetic()
                && algo
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_+.".contains(&c));
            if !algo_ok || hex.len() < 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
        }
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            let b = t.as_bytes();
            let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
            if b.is_empty()
                || b.len() > 128
                || !word(b[0])
                || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
            {
                return None;
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        if parts.len() > 1 {
            let first = parts[0];
            let is_domain = first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.to_lowercase() != first;
            if is_domain {
                let (host, port) = match first.rsplit_once(':') {
                    Some((h, p)) if !h.ends_with(']') || first.starts_with('[') => (h, Some(p)),
                    _ => (first, None),
                };
                let host_ok = host.split('.').all(|l| {
                    let b = l.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                }) || (host.starts_with('[') && host.ends_with(']'));
                let port_ok =
                    port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
                if !host_ok || !port_ok {
                    return None;
                }
                parts.remove(0);
            }
        }
        let component_ok = |c: &str| {
            let b = c.as_bytes();
            if b.is_empty() || !(b[0].is_ascii_lowercase() || b[0].is_ascii_digit()) {
                return false;
            }
            let last = b[b.len() - 1];
            if !(last.is_ascii_lowercase() || last.is_ascii_digit()) {
                return false;
            }
            // Separators: one '.' or '_', two '_', or any number of '-'.
            let mut i = 0;
            while i < b.len() {
                let c = b[i];
                if c.is_ascii_lowercase() || c.is_ascii_digit() {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
                    i += 1;
                }
                let sep = &b[start..i];
                let ok =
                    sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|x| *x == b'-');
                if !ok {
                    return false;
                }
            }
            true
        };
        if parts.is_empty() || !parts.iter().all(|p| component_ok(p)) || name.len() > 255 {
            return None;
        }
        Some((tag.map(str::to_string), digest.map(str::to_string)))
    }

    fn service(spec: &mut Obj) {
        default_str(spec, "sessionAffinity", "None");
        default_str(spec, "type", "ClusterIP");
        let t = str_of(spec, "type").to_string();
        if str_of(spec, "sessionAffinity") == "ClientIP" {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        for port in items(spec, "ports") {
            default_str(port, "protocol", "TCP");
            let unset = match port.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(v) => as_int(v) == Some(0),
            };
            if unset && let Some(p) = port.get("port").cloned() {
                port.insert("targetPort".into(), p);
            }
        }
        if (t == "NodePort" || t == "LoadBalancer") && empty_str(spec, "externalTrafficPolicy") {
            spec.insert("externalTrafficPolicy".into(), json!("Cluster"));
        }
        if ["ClusterIP", "NodePort", "LoadBalancer"].contains(&t.as_str()) {
            default(spec, "internalTrafficPolicy", json!("Cluster"));
        }
        if t == "LoadBalancer" {
            default(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        if t != "ExternalName" {
            let ip = str_of(spec, "clusterIP").to_string();
            if !ip.is_empty()
                && spec
                    .get("clusterIPs")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
            {
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            default(spec, "ipFamilyPolicy", json!("SingleStack"));
            if spec
                .get("ipFamilies")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                spec.insert("ipFamilies".into(), json!(["IPv4"]));
            }
        }
    }

    fn namespace(root: &mut Obj) {
        if let Some(spec) = ensure(root, "spec") {
            default(spec, "finalizers", json!(["kubernetes"]));
        }
        if let Some(status) = ensure(root, "status") {
            default_str(status, "phase", "Active");
        }
        let name = root
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !name.is_empty()
            && let Some(meta) = ensure(root, "metadata")
            && let Some(labels) = ensure(meta, "labels")
        {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }

    fn secret(root: &mut Obj) {
        default_str(root, "type", "Opaque");
        if let Some(Value::Object(string_data)) = root.remove("stringData")
            && let Some(data) = ensure(root, "data")
        {
            for (k, v) in string_data {
                let bytes = v.as_str().unwrap_or("").as_bytes().to_vec();
                data.insert(k, json!(base64_encode(&bytes)));
            }
        }
    }

    fn pvc(root: &mut Obj) {
        if let Some(spec) = ensure(root, "spec") {
            default(spec, "volumeMode", json!("Filesystem"));
        }
        if let Some(status) = ensure(root, "status") {
            default_str(status, "phase", "Pending");
        }
    }

    fn replication_controller(root: &mut Obj) {
        let Some(spec) = ensure(root, "spec") else {
            return;
        };
        default(spec, "replicas", json!(1));
        let template_labels = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .cloned();
        if spec.get("template").is_some_and(Value::is_object) {
            template(spec, "template", Template::Workload);
        }
        let Some(labels) = template_labels else {
            return;
        };
        if spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        {
            spec.insert("selector".into(), Value::Object(labels.clone()));
        }
        if let Some(meta) = ensure(root, "metadata")
            && meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
        {
            meta.insert("labels".into(), Value::Object(labels));
        }
    }

    fn stateful_set(spec: &mut Obj) {
        default_str(spec, "podManagementPolicy", "OrderedReady");
        if let Some(us) = ensure(spec, "updateStrategy") {
            if empty_str(us, "type") {
                us.insert("type".into(), json!("RollingUpdate"));
                default(us, "rollingUpdate", json!({}));
            }
            if str_of(us, "type") == "RollingUpdate"
                && let Some(ru) = existing(us, "rollingUpdate")
            {
                default(ru, "partition", json!(0));
            }
        }
        if let Some(policy) = ensure(spec, "persistentVolumeClaimRetentionPolicy") {
            default_str(policy, "whenDeleted", "Retain");
            default_str(policy, "whenScaled", "Retain");
        }
        default(spec, "replicas", json!(1));
        default(spec, "revisionHistoryLimit", json!(10));
        template(spec, "template", Template::Workload);
        for claim in items(spec, "volumeClaimTemplates") {
            if let Some(s) = ensure(claim, "spec") {
                default(s, "volumeMode", json!("Filesystem"));
            }
            if let Some(status) = ensure(claim, "status") {
                default_str(status, "phase", "Pending");
            }
        }
    }

    fn job(root: &mut Obj) {
        let template_labels = root
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .cloned();
        if let Some(labels) = template_labels
            && let Some(meta) = ensure(root, "metadata")
            && meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
        {
            meta.insert("labels".into(), Value::Object(labels));
        }
        let Some(spec) = ensure(root, "spec") else {
            return;
        };
        if absent(spec, "completions") && absent(spec, "parallelism") {
            spec.insert("completions".into(), json!(1));
            spec.insert("parallelism".into(), json!(1));
        }
        default(spec, "parallelism", json!(1));
        if absent(spec, "backoffLimit") {
            let limit = if absent(spec, "backoffLimitPerIndex") {
                6
            } else {
                i64::from(i32::MAX)
            };
            spec.insert("backoffLimit".into(), json!(limit));
        }
        default(spec, "completionMode", json!("NonIndexed"));
        default(spec, "suspend", json!(false));
        let replacement = if absent(spec, "podFailurePolicy") {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        default(spec, "podReplacementPolicy", json!(replacement));
        default(spec, "manualSelector", json!(false));
        if let Some(pfp) = existing(spec, "podFailurePolicy") {
            for rule in items(pfp, "rules") {
                for pattern in items(rule, "onPodConditions") {
                    default_str(pattern, "status", "True");
                }
            }
        }
        template(spec, "template", Template::Job);
    }

    pub fn job_selector(obj: &mut Value, uid: &str) {
        let Some(root) = obj.as_object_mut() else {
            return;
        };
        let name = root
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(spec) = ensure(root, "spec") else {
            return;
        };
        if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let template_labels = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .filter(|l| l.is_object())
            .cloned();
        let generated = [
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name.as_str()),
            ("controller-uid", uid),
            ("job-name", name.as_str()),
        ];
        let add = |labels: &mut Obj| {
            for (k, v) in generated {
                labels.entry(k.to_string()).or_insert_with(|| json!(v));
            }
        };
        if let Some(labels) = ensure(spec, "template")
            .and_then(|t| ensure(t, "metadata"))
            .and_then(|m| ensure(m, "labels"))
        {
            add(labels);
        }
        if let Some(matchers) = ensure(spec, "selector").and_then(|s| ensure(s, "matchLabels")) {
            matchers
                .entry("batch.kubernetes.io/controller-uid".to_string())
                .or_insert_with(|| json!(uid));
        }
        // The Job's labels were copied from the template map; upstream they share it.
        if let Some(before) = template_labels
            && let Some(meta) = existing(root, "metadata")
            && meta.get("labels") == Some(&before)
            && let Some(labels) = existing(meta, "labels")
        {
            add(labels);
        }
    }

    fn pod_status(root: &mut Obj) {
        let qos = root.get("spec").map(qos_class).unwrap_or("BestEffort");
        if let Some(status) = ensure(root, "status") {
            default_str(status, "phase", "Pending");
            default_str(status, "qosClass", qos);
        }
    }

    /// `qos.ComputePodQOS` over containers and init containers.
    fn qos_class(spec: &Value) -> &'static str {
        let mut requests: BTreeMap<String, i128> = BTreeMap::new();
        let mut limits: BTreeMap<String, i128> = BTreeMap::new();
        let mut guaranteed = true;
        let sum =
            |m: &mut BTreeMap<String, i128>, res: Option<&Obj>, found: &mut BTreeSet<String>| {
                for (k, v) in res.into_iter().flatten() {
                    if k != "cpu" && k != "memory" {
                        continue;
                    }
                    let q = v
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| v.as_number().map(|n| n.to_string()));
                    if let Some(q) = q.and_then(|q| quantity::parse(&q).ok())
                        && q.signum() != 0
                    {
                        let slot = m.entry(k.clone()).or_insert(0);
                        *slot = slot.saturating_add(q.nanos());
                        found.insert(k.clone());
                    }
                }
            };
        for c in arr(spec, "containers")
            .iter()
            .chain(arr(spec, "initContainers"))
        {
            let res = sub(c, "resources");
            let mut req_found = BTreeSet::new();
            let mut lim_found = BTreeSet::new();
            sum(&mut requests, map_at(res, "requests"), &mut req_found);
            sum(&mut limits, map_at(res, "limits"), &mut lim_found);
            if !(lim_found.contains("cpu") && lim_found.contains("memory")) {
                guaranteed = false;
            }
        }
        if requests.is_empty() && limits.is_empty() {
            return "BestEffort";
        }
        if guaranteed
            && requests.iter().all(|(k, v)| limits.get(k) == Some(v))
            && requests.len() == limits.len()
        {
            return "Guaranteed";
        }
        "Burstable"
    }
}

// ---------------------------------------------------------------------------------------------
// Strict decoding: the OpenAPI schema of each k8s-openapi type, walked like Go's decoder
// ---------------------------------------------------------------------------------------------

mod schema {
    //! Type and unknown-field checks against the JSON schema `k8s-openapi` (feature `schemars`)
    //! generates for each built-in type. The walk mimics `sigs.k8s.io/json`: field names are
    //! case-sensitive, type mismatches become `UnmarshalTypeError`s carrying the innermost Go
    //! struct and the field path, the errors of custom unmarshalers (`IntOrString`, `Quantity`,
    //! `Time`, `JSONSchemaPropsOr*`) stop decoding, and unknown fields are only reported when
    //! nothing else failed.

    use super::*;
    use k8s_openapi::Resource;
    use k8s_openapi::api::{
        apps, autoscaling, batch, coordination, core, discovery, events, networking, policy, rbac,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};

    type Cache = Mutex<HashMap<String, Option<Arc<Value>>>>;

    static CACHE: OnceLock<Cache> = OnceLock::new();

    fn generate<T: JsonSchema>() -> Option<Arc<Value>> {
        let schema = SchemaGenerator::default().into_root_schema_for::<T>();
        serde_json::to_value(&schema).ok().map(Arc::new)
    }

    /// One table from (group, version, kind) to the `k8s-openapi` type.
    macro_rules! types {
        ($($t:ty),* $(,)?) => {
            fn generate_for(group: &str, version: &str, kind: &str) -> Option<Arc<Value>> {
                $(
                    if <$t as Resource>::GROUP == group
                        && <$t as Resource>::VERSION == version
                        && <$t as Resource>::KIND == kind
                    {
                        return generate::<$t>();
                    }
                )*
                None
            }

            /// Every (group, version, kind) with a schema.
            #[cfg(test)]
            pub fn all_kinds() -> Vec<(&'static str, &'static str, &'static str)> {
                vec![$((<$t as Resource>::GROUP, <$t as Resource>::VERSION, <$t as Resource>::KIND)),*]
            }
        };
    }

    types!(
        core::v1::Binding,
        core::v1::ComponentStatus,
        core::v1::ConfigMap,
        core::v1::Endpoints,
        core::v1::Event,
        core::v1::LimitRange,
        core::v1::Namespace,
        core::v1::Node,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::Pod,
        core::v1::PodTemplate,
        core::v1::ReplicationController,
        core::v1::ResourceQuota,
        core::v1::Secret,
        core::v1::Service,
        core::v1::ServiceAccount,
        apps::v1::ControllerRevision,
        apps::v1::DaemonSet,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        batch::v1::CronJob,
        batch::v1::Job,
        autoscaling::v1::HorizontalPodAutoscaler,
        autoscaling::v1::Scale,
        autoscaling::v2::HorizontalPodAutoscaler,
        coordination::v1::Lease,
        discovery::v1::EndpointSlice,
        events::v1::Event,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::IPAddress,
        networking::v1::NetworkPolicy,
        networking::v1::ServiceCIDR,
        policy::v1::Eviction,
        policy::v1::PodDisruptionBudget,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        apiextensions::CustomResourceDefinition,
    );

    /// The root schema of a kind, generated once.
    pub fn root(group: &str, version: &str, kind: &str) -> Option<Arc<Value>> {
        let cache = CACHE.get_or_init(Cache::default);
        let k = format!("{group}/{version}/{kind}");
        if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&k) {
            return hit.clone();
        }
        let generated = generate_for(group, version, kind);
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k, generated.clone());
        generated
    }

    /// What the walk found.
    pub struct Outcome {
        /// Paths of unknown fields.
        pub unknown: Vec<String>,
        /// The decode error (Go's message), if any.
        pub error: Option<String>,
    }

    /// Types whose Go unmarshaling accepts any JSON.
    const OPAQUE: [&str; 4] = [
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    ];

    #[derive(Clone)]
    struct Ctx {
        /// Strict-decoding path (`.` for fields and map keys, `[i]` for items).
        path: String,
        /// Go's `errorContext.FieldStack` (struct fields only).
        stack: Vec<String>,
        /// Name of the innermost Go struct.
        strukt: String,
        /// Report unknown fields (false inside custom unmarshalers, which decode leniently).
        strict: bool,
        /// Inside a custom unmarshaler: errors stop decoding and carry the outer context.
        outer: Option<(String, Vec<String>)>,
    }

    struct Walker<'a> {
        defs: Option<&'a Obj>,
        unknown: Vec<String>,
        saved: Option<String>,
        fatal: Option<String>,
    }

    /// Walks `value` against the root schema.
    pub fn walk(root: &Value, value: &Value) -> Outcome {
        let mut w = Walker {
            defs: root.get("$defs").and_then(Value::as_object),
            unknown: Vec::new(),
            saved: None,
            fatal: None,
        };
        let title = root.get("title").and_then(Value::as_str).unwrap_or("");
        let ctx = Ctx {
            path: String::new(),
            stack: Vec::new(),
            strukt: short(title).to_string(),
            strict: true,
            outer: None,
        };
        w.object(root, value, Some(title), &ctx);
        let error = w.fatal.or(w.saved);
        Outcome {
            unknown: if error.is_some() {
                Vec::new()
            } else {
                w.unknown
            },
            error,
        }
    }

    fn short(name: &str) -> &str {
        name.rsplit('.').next().unwrap_or(name)
    }

    fn ref_name(schema: &Value) -> Option<&str> {
        schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r))
    }

    fn json_kind(v: &Value) -> String {
        match v {
            Value::String(_) => "string".into(),
            Value::Number(_) => "number".into(),
            Value::Bool(_) => "bool".into(),
            Value::Array(_) => "array".into(),
            Value::Object(_) => "object".into(),
            Value::Null => "null".into(),
        }
    }

    impl<'a> Walker<'a> {
        fn def(&self, name: &str) -> Option<&'a Value> {
            self.defs.and_then(|d| d.get(name))
        }

        /// Go's name of the type a schema describes, as `reflect.Type.String()` prints it.
        fn go_type(&self, schema: &Value) -> String {
            if let Some(name) = ref_name(schema) {
                let mut parts = name.rsplit('.');
                let ty = parts.next().unwrap_or(name);
                let pkg = parts.next().unwrap_or("");
                return format!("{pkg}.{ty}");
            }
            let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
            match schema.get("type").and_then(Value::as_str).unwrap_or("") {
                "string" if format == "byte" => "[]uint8".into(),
                "string" => "string".into(),
                "integer" if format == "int32" => "int32".into(),
                "integer" if format == "int64" => "int64".into(),
                "integer" => "int".into(),
                "number" => "float64".into(),
                "boolean" => "bool".into(),
                "array" => format!(
                    "[]{}",
                    schema
                        .get("items")
                        .map(|i| self.go_type(i))
                        .unwrap_or_default()
                ),
                "object" => match schema.get("additionalProperties") {
                    Some(ap) if ap.is_object() => format!("map[string]{}", self.go_type(ap)),
                    _ => "map[string]interface {}".into(),
                },
                _ => "interface {}".into(),
            }
        }

        fn type_error(&mut self, value: String, go_type: &str, ctx: &Ctx) {
            let (strukt, stack) = match &ctx.outer {
                Some((s, st)) => (s.as_str(), st.as_slice()),
                None => (ctx.strukt.as_str(), ctx.stack.as_slice()),
            };
            let msg = if strukt.is_empty() && stack.is_empty() {
                format!("json: cannot unmarshal {value} into Go value of type {go_type}")
            } else {
                format!(
                    "json: cannot unmarshal {value} into Go struct field {strukt}.{} of type {go_type}",
                    stack.join(".")
                )
            };
            if ctx.outer.is_some() {
                self.fatal_error(msg);
            } else if self.saved.is_none() {
                self.saved = Some(msg);
            }
        }

        fn fatal_error(&mut self, msg: String) {
            if self.fatal.is_none() {
                self.fatal = Some(msg);
            }
        }

        /// Walks `value` against `schema` (which may be a `$ref`).
        fn value(&mut self, schema: &'a Value, value: &Value, ctx: &Ctx) {
            if self.fatal.is_some() || value.is_null() {
                return;
            }
            if let Some(name) = ref_name(schema) {
                if OPAQUE.contains(&name) {
                    return;
                }
                let go = self.go_type(schema);
                let Some(def) = self.def(name) else {
                    return;
                };
                match short(name) {
                    "IntOrString" => return self.int_or_string(value, ctx),
                    "Quantity" => {
                        if let Some(err) = quantity::check_json(value) {
                            self.fatal_error(err.to_string());
                        }
                        return;
                    }
                    "Time" | "MicroTime" => return self.time(value, ctx),
                    _ => {}
                }
                if def.get("oneOf").is_some() {
                    return self.one_of(def, name, value, ctx);
                }
                if def.get("type").and_then(Value::as_str) == Some("object")
                    && value.as_object().is_none()
                {
                    return self.type_error(json_kind(value), &go, ctx);
                }
                return self.object(def, value, Some(name), ctx);
            }
            let go = self.go_type(schema);
            let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
            match schema.get("type").and_then(Value::as_str).unwrap_or("") {
                "object" => self.object(schema, value, None, ctx),
                "array" => match value.as_array() {
                    None => self.type_error(json_kind(value), &go, ctx),
                    Some(items) => {
                        let Some(item_schema) = schema.get("items") else {
                            return;
                        };
                        for (i, item) in items.iter().enumerate() {
                            let mut c = ctx.clone();
                            c.path = ix(&ctx.path, i);
                            self.value(item_schema, item, &c);
                        }
                    }
                },
                "string" => match value.as_str() {
                    None => self.type_error(json_kind(value), &go, ctx),
                    Some(s) if format == "byte" => {
                        if let Err(at) = base64_decode(s)
                            && ctx.outer.is_none()
                            && self.saved.is_none()
                        {
                            self.saved = Some(format!("illegal base64 data at input byte {at}"));
                        }
                    }
                    Some(_) => {}
                },
                "integer" => match value {
                    Value::Number(n) => {
                        let fits = match format {
                            "int32" => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
                            _ => n.as_i64().is_some(),
                        };
                        if !fits {
                            self.type_error(format!("number {n}"), &go, ctx);
                        }
                    }
                    other => self.type_error(json_kind(other), &go, ctx),
                },
                "number" if !value.is_number() => self.type_error(json_kind(value), &go, ctx),
                "boolean" if !value.is_boolean() => self.type_error(json_kind(value), &go, ctx),
                _ => {}
            }
        }

        /// A struct (`properties`), a map (`additionalProperties`) or an empty struct.
        fn object(&mut self, schema: &'a Value, value: &Value, name: Option<&str>, ctx: &Ctx) {
            let Some(m) = value.as_object() else {
                let go = match name {
                    Some(n) => self.go_type(&json!({"$ref": format!("#/$defs/{n}")})),
                    None => self.go_type(schema),
                };
                return self.type_error(json_kind(value), &go, ctx);
            };
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let strukt = name.map(short).unwrap_or(&ctx.strukt).to_string();
                for (k, v) in m {
                    if self.fatal.is_some() {
                        return;
                    }
                    let path = ch(&ctx.path, k);
                    match props.get(k) {
                        Some(ps) => {
                            let mut stack = ctx.stack.clone();
                            stack.push(k.clone());
                            let c = Ctx {
                                path,
                                stack,
                                strukt: strukt.clone(),
                                strict: ctx.strict,
                                outer: ctx.outer.clone(),
                            };
                            self.value(ps, v, &c);
                        }
                        None => {
                            if ctx.strict {
                                self.unknown.push(path);
                            }
                        }
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, v) in m {
                    let mut c = ctx.clone();
                    c.path = ch(&ctx.path, k);
                    self.value(ap, v, &c);
                }
            } else if ctx.strict {
                // A struct without fields: everything in it is unknown.
                for k in m.keys() {
                    self.unknown.push(ch(&ctx.path, k));
                }
            }
        }

        fn int_or_string(&mut self, value: &Value, ctx: &Ctx) {
            let c = Ctx {
                outer: Some(self.context(ctx)),
                ..ctx.clone()
            };
            match value {
                Value::String(_) | Value::Null => {}
                Value::Number(n) => {
                    if n.as_i64().is_none_or(|v| i32::try_from(v).is_err()) {
                        self.type_error(format!("number {n}"), "int32", &c);
                    }
                }
                other => self.type_error(json_kind(other), "int32", &c),
            }
        }

        fn time(&mut self, value: &Value, ctx: &Ctx) {
            match value {
                Value::String(s) => {
                    if !is_rfc3339(s) {
                        self.fatal_error(format!(
                            "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"",
                            go_quote(s),
                            go_quote(s)
                        ));
                    }
                }
                other => {
                    let c = Ctx {
                        outer: Some(self.context(ctx)),
                        ..ctx.clone()
                    };
                    self.type_error(json_kind(other), "string", &c);
                }
            }
        }

        fn context(&self, ctx: &Ctx) -> (String, Vec<String>) {
            ctx.outer
                .clone()
                .unwrap_or_else(|| (ctx.strukt.clone(), ctx.stack.clone()))
        }

        /// `JSONSchemaPropsOrBool`, `...OrArray`, `...OrStringArray`: custom unmarshalers that
        /// decode leniently.
        fn one_of(&mut self, def: &'a Value, name: &str, value: &Value, ctx: &Ctx) {
            let alts: &'a [Value] = def
                .get("oneOf")
                .and_then(Value::as_array)
                .map_or(&[], Vec::as_slice);
            let inner = Ctx {
                strict: false,
                outer: Some(self.context(ctx)),
                ..ctx.clone()
            };
            match value {
                Value::Object(_) => {
                    if let Some(alt) = alts.iter().find(|a| a.get("$ref").is_some()) {
                        self.value(alt, value, &inner);
                    }
                }
                Value::Array(_) => {
                    if let Some(alt) = alts
                        .iter()
                        .find(|a| a.get("type").and_then(Value::as_str) == Some("array"))
                    {
                        self.value(alt, value, &inner);
                    }
                }
                Value::Bool(_) => {}
                other => {
                    if name.ends_with("OrBool") {
                        self.type_error(json_kind(other), "bool", &inner);
                    }
                }
            }
        }
    }

    /// `time.Parse(time.RFC3339, s)` succeeds (fractional seconds allowed).
    fn is_rfc3339(s: &str) -> bool {
        let b = s.as_bytes();
        let digits =
            |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        if b.len() < 20
            || !digits(0..4)
            || b[4] != b'-'
            || !digits(5..7)
            || b[7] != b'-'
            || !digits(8..10)
        {
            return false;
        }
        if b[10] != b'T'
            || !digits(11..13)
            || b[13] != b':'
            || !digits(14..16)
            || b[16] != b':'
            || !digits(17..19)
        {
            return false;
        }
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
        match &b[i..] {
            [b'Z'] => true,
            [sign, h1, h2, b':', m1, m2] => {
                (*sign == b'+' || *sign == b'-')
                    && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fm(causes: &[Cause]) -> Vec<(String, String)> {
        causes
            .iter()
            .map(|c| (c.field.clone(), c.message.clone()))
            .collect()
    }

    fn defaulted(group: &str, kind: &str, mut v: Value) -> Value {
        apply_defaults(group, kind, &mut v);
        v
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn deployment(replicas: Value, selector: Value, labels: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": selector,
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}
            }
        })
    }

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn pod_defaults() {
        let got = defaulted(
            "",
            "Pod",
            pod(json!({"containers": [{
                "name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "livenessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "resources": {"limits": {"cpu": "500m"}}
            }], "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "scratch"}]})),
        );
        let want = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx", "imagePullPolicy": "Always",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "livenessProbe": {
                        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
                    },
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "volumes": [
                    {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
                    {"name": "scratch", "emptyDir": {}}
                ],
                "restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
                "schedulerName": "default-scheduler",
                "serviceAccountName": "default",
                "serviceAccount": "default",
                "enableServiceLinks": true,
                "priority": 0,
                "preemptionPolicy": "PreemptLowerPriority",
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]
            },
            "status": {"phase": "Pending", "qosClass": "Burstable"}
        });
        assert_eq!(got, want);
        // Idempotent, and valid once defaulted.
        assert_eq!(defaulted("", "Pod", got.clone()), got);
        assert_eq!(fm(&validate("", "Pod", &got, None)), vec![]);
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("registry.example.com:5000/team/nginx", "Always"),
            ("registry.example.com:5000/team/nginx:v2", "IfNotPresent"),
            ("localhost/app:latest", "Always"),
            (&format!("nginx@{digest}"), "IfNotPresent"),
            (&format!("nginx:latest@{digest}"), "Always"),
            ("Nginx", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("nginx:", "IfNotPresent"),
        ];
        for (image, want) in cases {
            let got = defaulted(
                "",
                "Pod",
                pod(json!({"containers": [{"name": "c", "image": image}]})),
            );
            assert_eq!(
                got["spec"]["containers"][0]["imagePullPolicy"],
                json!(want),
                "image {image:?}"
            );
        }
        // An explicit policy is kept.
        let got = defaulted(
            "",
            "Pod",
            pod(
                json!({"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]}),
            ),
        );
        assert_eq!(
            got["spec"]["containers"][0]["imagePullPolicy"],
            json!("Never")
        );
    }

    #[test]
    fn deployment_defaults() {
        let got = defaulted(
            "apps",
            "Deployment",
            deployment(
                Value::Null,
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "web"}),
            ),
        );
        let want = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{
                        "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "resources": {}
                    }],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "securityContext": {},
                    "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"
                }}
            }
        });
        assert_eq!(got, want);
        assert_eq!(fm(&validate("apps", "Deployment", &got, None)), vec![]);
    }

    #[test]
    fn workload_defaults() {
        let sts = defaulted(
            "apps",
            "StatefulSet",
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}),
        );
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            sts["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );
        let ds = defaulted("apps", "DaemonSet", json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
        let cj = defaulted(
            "batch",
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}}),
        );
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(cj["spec"]["suspend"], false);
        assert!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                .get("restartPolicy")
                .is_none()
        );
        let svc = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
        );
        assert_eq!(
            svc["spec"],
            json!({
                "type": "NodePort", "sessionAffinity": "None",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]
            })
        );
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "team"}}));
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        let secret = defaulted("", "Secret", json!({"stringData": {"user": "admin"}}));
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"user": "YWRtaW4="}})
        );
        let rc = defaulted(
            "",
            "ReplicationController",
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
        );
        assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "x"}));
        assert_eq!(rc["spec"]["replicas"], 1);
    }

    fn job(manual: Option<bool>) -> Value {
        let mut j = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}}, "spec": {
                "restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]
            }}}
        });
        if let Some(m) = manual {
            j["spec"]["manualSelector"] = json!(m);
        }
        j
    }

    #[test]
    fn job_defaults_and_generated_selector() {
        let mut j = defaulted("batch", "Job", job(None));
        job_selector(&mut j, "u-1");
        let s = &j["spec"];
        assert_eq!(
            (
                s["completions"].clone(),
                s["parallelism"].clone(),
                s["backoffLimit"].clone(),
                s["completionMode"].clone()
            ),
            (json!(1), json!(1), json!(6), json!("NonIndexed"))
        );
        assert_eq!(
            (s["suspend"].clone(), s["manualSelector"].clone()),
            (json!(false), json!(false))
        );
        assert_eq!(s["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(
            s["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let labels = json!({
            "app": "pi", "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "u-1", "job-name": "pi"
        });
        assert_eq!(s["template"]["metadata"]["labels"], labels);
        assert_eq!(j["metadata"]["labels"], labels);
        assert_eq!(fm(&validate("batch", "Job", &j, None)), vec![]);
    }

    #[test]
    fn job_rules() {
        let mut j = defaulted("batch", "Job", job(None));
        j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        job_selector(&mut j, "u-1");
        assert_eq!(
            fm(&validate("batch", "Job", &j, None)),
            vec![(
                "spec.template.spec.restartPolicy".to_string(),
                "Required value: valid values: \"OnFailure\", \"Never\"".to_string()
            )]
        );
        // Without the generated selector the Job is rejected as upstream does.
        let j = defaulted("batch", "Job", job(None));
        let got = fm(&validate("batch", "Job", &j, None));
        assert!(
            got.contains(&("spec.selector".to_string(), "Required value".to_string())),
            "{got:?}"
        );
        // The selector is immutable.
        let mut old = defaulted("batch", "Job", job(None));
        job_selector(&mut old, "u-1");
        let mut new = old.clone();
        new["spec"]["selector"]["matchLabels"]["extra"] = json!("x");
        new["spec"]["template"]["metadata"]["labels"]["extra"] = json!("x");
        let got = fm(&validate("batch", "Job", &new, Some(&old)));
        assert!(
            got.iter()
                .any(|(f, m)| f == "spec.selector" && m.ends_with(": field is immutable")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(f, m)| f == "spec.template" && m.ends_with(": field is immutable")),
            "{got:?}"
        );
    }

    #[test]
    fn bad_names() {
        let cases: Vec<(&str, &str, Value, &str, String)> = vec![
            ("", "ConfigMap", json!({"name": "Foo"}), "metadata.name", format!("Invalid value: \"Foo\": {SUBDOMAIN_MSG}")),
            (
                "",
                "Namespace",
                json!({"name": "a.b"}),
                "metadata.name",
                "Invalid value: \"a.b\": must not contain dots".to_string(),
            ),
            (
                "",
                "Service",
                json!({"name": "1abc", "namespace": "default"}),
                "metadata.name",
                "Invalid value: \"1abc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string(),
            ),
            (
                "rbac.authorization.k8s.io",
                "Role",
                json!({"name": "a/b", "namespace": "default"}),
                "metadata.name",
                "Invalid value: \"a/b\": may not contain '/'".to_string(),
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRole",
                json!({"name": "system:Admin"}),
                "",
                String::new(),
            ),
            ("", "ConfigMap", json!({"namespace": "default"}), "metadata.name", "Required value: name or generateName is required".to_string()),
            (
                "",
                "ConfigMap",
                json!({"generateName": "Web-", "namespace": "default"}),
                "metadata.generateName",
                format!("Invalid value: \"Web-\": {SUBDOMAIN_MSG}"),
            ),
            ("", "ConfigMap", json!({"generateName": "web-", "namespace": "default"}), "", String::new()),
            ("", "ConfigMap", json!({"name": "x"}), "metadata.namespace", "Required value".to_string()),
            (
                "",
                "ConfigMap",
                json!({"name": "x".repeat(254), "namespace": "default"}),
                "metadata.name",
                format!("Invalid value: \"{}\": must be no more than 253 characters", "x".repeat(254)),
            ),
        ];
        for (group, kind, meta, field, message) in cases {
            let mut obj = json!({"metadata": meta});
            if kind == "Service" {
                obj = defaulted(
                    group,
                    kind,
                    json!({"metadata": obj["metadata"], "spec": {"ports": [{"port": 80}]}}),
                );
            }
            if kind == "ConfigMap"
                && obj["metadata"]["namespace"].is_null()
                && field != "metadata.namespace"
            {
                obj["metadata"]["namespace"] = json!("default");
            }
            let got = fm(&validate(group, kind, &obj, None));
            let want = if field.is_empty() {
                vec![]
            } else {
                vec![(field.to_string(), message.clone())]
            };
            assert_eq!(got, want, "{kind} {meta_dbg}", meta_dbg = obj["metadata"]);
        }
    }

    #[test]
    fn bad_label_keys_and_values() {
        let qualified = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let value_msg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        let long = "v".repeat(64);
        let cases: Vec<(Value, Vec<String>)> = vec![
            (
                json!({"app": "web", "example.com/tier": "", "a_b.c-d": "X_y.z-1"}),
                vec![],
            ),
            (
                json!({"-bad": "x"}),
                vec![format!("Invalid value: \"-bad\": name part {qualified}")],
            ),
            (
                json!({"a/b/c": "x"}),
                vec![format!(
                    "Invalid value: \"a/b/c\": a qualified name {qualified} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
                )],
            ),
            (
                json!({"example.com/": "x"}),
                vec![
                    "Invalid value: \"example.com/\": name part must be non-empty".to_string(),
                    format!("Invalid value: \"example.com/\": name part {qualified}"),
                ],
            ),
            (
                json!({"Example.com/x": "x"}),
                vec![format!(
                    "Invalid value: \"Example.com/x\": prefix part {SUBDOMAIN_MSG}"
                )],
            ),
            (
                json!({"app": "-web"}),
                vec![format!("Invalid value: \"-web\": {value_msg}")],
            ),
            (
                json!({"app": long}),
                vec![format!(
                    "Invalid value: \"{long}\": must be no more than 63 characters"
                )],
            ),
        ];
        for (labels, want) in cases {
            let obj = json!({"metadata": {"name": "x", "namespace": "default", "labels": labels}});
            let got = validate("", "ConfigMap", &obj, None);
            assert!(
                got.iter()
                    .all(|c| c.field == "metadata.labels" && c.reason == "FieldValueInvalid"),
                "{got:?}"
            );
            let got: Vec<String> = got.into_iter().map(|c| c.message).collect();
            assert_eq!(got, want, "{labels}");
        }
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let obj =
            json!({"metadata": {"name": "x", "namespace": "default", "annotations": {"a": big}}});
        let got = validate("", "ConfigMap", &obj, None);
        assert_eq!(
            got,
            vec![Cause::new(
                "FieldValueTooLong",
                "metadata.annotations",
                "Too long: may not be more than 262144 bytes"
            )]
        );
    }

    #[test]
    fn deployment_selector_mismatch_and_replicas() {
        let d = defaulted(
            "apps",
            "Deployment",
            deployment(
                json!(-1),
                json!({"matchLabels": {"app": "api"}}),
                json!({"app": "web", "tier": "front"}),
            ),
        );
        assert_eq!(
            validate("apps", "Deployment", &d, None),
            vec![
                Cause::new(
                    "FieldValueInvalid",
                    "spec.replicas",
                    "Invalid value: -1: must be greater than or equal to 0"
                ),
                Cause::new(
                    "FieldValueInvalid",
                    "spec.template.metadata.labels",
                    "Invalid value: map[string]string{\"app\":\"web\", \"tier\":\"front\"}: `selector` does not match template `labels`"
                ),
            ]
        );
        // No selector at all: required, and nothing matches.
        let mut d = defaulted(
            "apps",
            "Deployment",
            deployment(json!(1), Value::Null, json!({"app": "web"})),
        );
        d["spec"].as_object_mut().map(|s| s.remove("selector"));
        assert_eq!(
            fm(&validate("apps", "Deployment", &d, None)),
            vec![
                ("spec.selector".to_string(), "Required value".to_string()),
                (
                    "spec.template.metadata.labels".to_string(),
                    "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`".to_string()
                ),
            ]
        );
        // An empty selector.
        let d = defaulted(
            "apps",
            "Deployment",
            deployment(json!(1), json!({}), json!({"app": "web"})),
        );
        assert_eq!(
            fm(&validate("apps", "Deployment", &d, None)),
            vec![(
                "spec.selector".to_string(),
                "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment".to_string()
            )]
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = defaulted(
            "apps",
            "Deployment",
            deployment(
                json!(1),
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "web", "v": "2"}),
            ),
        );
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
        new["spec"]["replicas"] = json!(3);
        assert_eq!(
            fm(&validate("apps", "Deployment", &new, Some(&old))),
            vec![(
                "spec.selector".to_string(),
                "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".to_string()
            )]
        );
        // Scaling alone is fine; renaming is not.
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert_eq!(
            fm(&validate("apps", "Deployment", &scaled, Some(&old))),
            vec![]
        );
        let mut renamed = old.clone();
        renamed["metadata"]["name"] = json!("other");
        renamed["metadata"]["uid"] = json!("u-2");
        let mut old_with_uid = old.clone();
        old_with_uid["metadata"]["uid"] = json!("u-1");
        assert_eq!(
            fm(&validate(
                "apps",
                "Deployment",
                &renamed,
                Some(&old_with_uid)
            )),
            vec![
                (
                    "metadata.name".to_string(),
                    "Invalid value: \"other\": field is immutable".to_string()
                ),
                (
                    "metadata.uid".to_string(),
                    "Invalid value: \"u-2\": field is immutable".to_string()
                ),
            ]
        );
    }

    fn service(spec: Value) -> Value {
        defaulted(
            "",
            "Service",
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}),
        )
    }

    #[test]
    fn service_ports() {
        let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
            (
                json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
                vec![],
            ),
            (
                json!({"ports": [{"port": 0, "targetPort": 8080}]}),
                vec![(
                    "spec.ports[0].port",
                    "Invalid value: 0: must be between 1 and 65535, inclusive",
                )],
            ),
            (
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}),
                vec![(
                    "spec.ports[0].nodePort",
                    "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
                )],
            ),
            (
                json!({"ports": [{"port": 80, "nodePort": 30080}]}),
                vec![(
                    "spec.ports[0].nodePort",
                    "Forbidden: may not be used when `type` is 'ClusterIP'",
                )],
            ),
            (
                json!({"ports": [{"name": "http", "port": 80}, {"port": 443}]}),
                vec![("spec.ports[1].name", "Required value")],
            ),
            (
                json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}),
                vec![(
                    "spec.ports[1]",
                    "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                )],
            ),
            (json!({"ports": []}), vec![("spec.ports", "Required value")]),
            (
                json!({"type": "ExternalName"}),
                vec![("spec.externalName", "Required value")],
            ),
            (
                json!({"type": "ExternalName", "externalName": "db.example.com."}),
                vec![],
            ),
            (
                json!({"type": "Bogus", "ports": [{"port": 80}]}),
                vec![(
                    "spec.type",
                    "Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                )],
            ),
        ];
        for (spec, want) in cases {
            let svc = service(spec.clone());
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(f, m)| (f.to_string(), m.to_string()))
                .collect();
            assert_eq!(fm(&validate("", "Service", &svc, None)), want, "{spec}");
        }
    }

    #[test]
    fn service_cluster_ip_is_immutable() {
        let mut old = service(json!({"ports": [{"port": 80}]}));
        old["spec"]["clusterIP"] = json!("10.0.0.5");
        old["spec"]["clusterIPs"] = json!(["10.0.0.5"]);
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.0.0.6");
        new["spec"]["clusterIPs"] = json!(["10.0.0.6"]);
        assert_eq!(
            fm(&validate("", "Service", &new, Some(&old))),
            vec![(
                "spec.clusterIPs[0]".to_string(),
                "Invalid value: []string{\"10.0.0.6\"}: may not change once set".to_string()
            )]
        );
        // Omitting the cluster IP keeps it; switching to ExternalName may drop it.
        let mut omitted = old.clone();
        omitted["spec"].as_object_mut().map(|s| {
            s.remove("clusterIP");
            s.remove("clusterIPs")
        });
        assert_eq!(fm(&validate("", "Service", &omitted, Some(&old))), vec![]);
        let external = service(json!({"type": "ExternalName", "externalName": "example.com"}));
        assert_eq!(fm(&validate("", "Service", &external, Some(&old))), vec![]);
    }

    #[test]
    fn pod_rules() {
        let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
            (
                json!({"containers": []}),
                vec![("spec.containers", "Required value")],
            ),
            (
                json!({"containers": [{"name": "Web", "image": ""}]}),
                vec![
                    (
                        "spec.containers[0].name",
                        "Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                    ),
                    ("spec.containers[0].image", "Required value"),
                ],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}),
                vec![("spec.containers[1].name", "Duplicate value: \"a\"")],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}),
                vec![(
                    "spec.containers[0].ports[0].containerPort",
                    "Invalid value: 70000: must be between 1 and 65535, inclusive",
                )],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}),
                vec![(
                    "spec.containers[0].volumeMounts[0].name",
                    "Not found: \"data\"",
                )],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}),
                vec![("spec.volumes[1].name", "Duplicate value: \"v\"")],
            ),
            (
                json!({"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]}),
                vec![(
                    "spec.restartPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                )],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}),
                vec![(
                    "spec.containers[0].resources.requests",
                    "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
                )],
            ),
        ];
        for (spec, want) in cases {
            let p = defaulted("", "Pod", pod(spec.clone()));
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(f, m)| (f.to_string(), m.to_string()))
                .collect();
            assert_eq!(fm(&validate("", "Pod", &p, None)), want, "{spec}");
        }
    }

    #[test]
    fn pod_updates() {
        let old = defaulted(
            "",
            "Pod",
            pod(json!({"containers": [{"name": "a", "image": "nginx:1"}]})),
        );
        let mut image = old.clone();
        image["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert_eq!(fm(&validate("", "Pod", &image, Some(&old))), vec![]);
        let mut added = old.clone();
        if let Some(t) = added["spec"]["tolerations"].as_array_mut() {
            t.push(json!({"key": "k", "operator": "Exists"}));
        }
        assert_eq!(fm(&validate("", "Pod", &added, Some(&old))), vec![]);
        let mut changed = old.clone();
        changed["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        let got = validate("", "Pod", &changed, Some(&old));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].field, "spec");
        assert!(
            got[0].message.starts_with(
                "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
            ),
            "{}",
            got[0].message
        );
        assert!(
            got[0]
                .message
                .contains("spec.containers[0].imagePullPolicy"),
            "{}",
            got[0].message
        );
        let mut fewer = old.clone();
        fewer["spec"]["containers"] = json!([]);
        let got = fm(&validate("", "Pod", &fewer, Some(&old)));
        assert!(got.contains(&(
            "spec.containers".to_string(),
            "Forbidden: pod updates may not add or remove containers".to_string()
        )));
    }

    #[test]
    fn config_maps_and_secrets() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"good.key": "v", "bad key": "v", "..x": "v"}});
        assert_eq!(
            fm(&validate("", "ConfigMap", &cm, None)),
            vec![
                ("data[..x]".to_string(), "Invalid value: \"..x\": must not start with '..'".to_string()),
                (
                    "data[bad key]".to_string(),
                    "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string()
                ),
            ]
        );
        let big = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "x".repeat(MAX_BYTES + 1)}});
        assert_eq!(
            fm(&validate("", "ConfigMap", &big, None)),
            vec![(
                "[]".to_string(),
                "Too long: may not be more than 1048576 bytes".to_string()
            )]
        );
        let tls = defaulted(
            "",
            "Secret",
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "Zm9v"}}),
        );
        assert_eq!(
            fm(&validate("", "Secret", &tls, None)),
            vec![("data[tls.key]".to_string(), "Required value".to_string())]
        );
        let mut old = defaulted(
            "",
            "Secret",
            json!({"metadata": {"name": "s", "namespace": "d"}, "immutable": true, "data": {"a": "Zm9v"}}),
        );
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["data"]["a"] = json!("YmFy");
        new["type"] = json!("Other");
        assert_eq!(
            fm(&validate("", "Secret", &new, Some(&old))),
            vec![
                (
                    "type".to_string(),
                    "Invalid value: \"Other\": field is immutable".to_string()
                ),
                (
                    "data".to_string(),
                    "Forbidden: field is immutable when `immutable` is set".to_string()
                ),
            ]
        );
    }

    const MAX_BYTES: usize = 1024 * 1024;

    #[test]
    fn cron_schedules() {
        for ok in [
            "*/5 * * * *",
            "0 0 * * 0",
            "@hourly",
            "@every 1h30m",
            "0 9-17/2 * jan-mar mon-fri",
            "? * * * *",
        ] {
            assert_eq!(cron::parse_standard(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("61 * * * *", "end of range (61) above maximum (59): 61"),
            ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            (
                "x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                "5-1 * * * *",
                "beginning of range (5) beyond end of range (1): 5-1",
            ),
            (
                "*/0 * * * *",
                "step of range should be a positive number: */0",
            ),
            ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
            (
                "@every x",
                "failed to parse duration @every x: time: invalid duration \"x\"",
            ),
        ];
        for (schedule, want) in bad {
            assert_eq!(
                cron::parse_standard(schedule),
                Err(want.to_string()),
                "{schedule}"
            );
        }
        let cj = |schedule: &str| {
            defaulted(
                "batch",
                "CronJob",
                json!({"metadata": {"name": "tick", "namespace": "d"}, "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                    "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]
                }}}}}}),
            )
        };
        assert_eq!(
            fm(&validate("batch", "CronJob", &cj("@daily"), None)),
            vec![]
        );
        assert_eq!(
            fm(&validate("batch", "CronJob", &cj("60 * * * *"), None)),
            vec![(
                "spec.schedule".to_string(),
                "Invalid value: \"60 * * * *\": end of range (60) above maximum (59): 60"
                    .to_string()
            )]
        );
        assert_eq!(
            fm(&validate("batch", "CronJob", &cj(""), None)),
            vec![("spec.schedule".to_string(), "Required value".to_string())]
        );
        let mut long = cj("@daily");
        long["metadata"]["name"] = json!("x".repeat(53));
        assert_eq!(
            fm(&validate("batch", "CronJob", &long, None)),
            vec![(
                "metadata.name".to_string(),
                format!(
                    "Invalid value: \"{}\": must be no more than 52 characters",
                    "x".repeat(53)
                )
            )]
        );
    }

    #[test]
    fn unknown_field_paths() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any-key": "ok"}, "bogus": 1},
            "spec": {
                "foo": true,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                    {"name": "a", "image": "x"},
                    {"name": "b", "image": "y", "imagePullPolicyy": "Always", "ports": [{"containerPort": 80, "hostPortt": 1}],
                     "resources": {"limits": {"cpu": "1"}}}
                ]}}
            },
            "status": {"replicas": 1}
        });
        let got = unknown_fields("apps", "v1", "Deployment", &d);
        assert_eq!(
            got,
            Ok(vec![
                "metadata.bogus".to_string(),
                "spec.foo".to_string(),
                "spec.template.spec.containers[1].imagePullPolicyy".to_string(),
                "spec.template.spec.containers[1].ports[0].hostPortt".to_string(),
            ])
        );
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}, "spec": {}});
        assert_eq!(
            unknown_fields("", "v1", "ConfigMap", &cm),
            Ok(vec!["spec".to_string()])
        );
        // Empty structs accept nothing; opaque fields accept anything.
        let crd = json!({"spec": {"versions": [{"name": "v1", "subresources": {"status": {"x": 1}},
            "schema": {"openAPIV3Schema": {"type": "object", "default": {"any": [1, "x"]}, "additionalProperties": {"type": "string", "typo": 1}}}}]}});
        assert_eq!(
            unknown_fields(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                &crd
            ),
            Ok(vec!["spec.versions[0].subresources.status.x".to_string()])
        );
        assert_eq!(
            unknown_fields("example.com", "v1", "Widget", &cm),
            Ok(vec![])
        );
        assert_eq!(
            strict_decoding_error(
                "Deployment",
                "v1",
                &["spec.foo".to_string(), "spec.bar".to_string()]
            )
            .to_string(),
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.bar\""
        );
    }

    #[test]
    fn type_errors() {
        let prefix = "Deployment in version \"v1\" cannot be handled as a Deployment: ";
        let cases = [
            (
                json!({"spec": {"replicas": "3"}}),
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                json!({"spec": {"replicas": 1.5}}),
                "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                json!({"spec": {"replicas": 3_000_000_000u64}}),
                "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                json!({"spec": "x"}),
                "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec",
            ),
            (
                json!({"metadata": {"labels": {"a": 1}}}),
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}}}}),
                "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": {"name": "a"}}}}}),
                "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container",
            ),
            (
                json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": true}}}}),
                "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "lots"}}}]}}}}),
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
            (
                json!({"spec": {"paused": "yes"}}),
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool",
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(
                check_types("apps", "v1", "Deployment", &obj),
                Err(ApiError::BadRequest(format!("{prefix}{want}"))),
                "{obj}"
            );
        }
        let secret = json!({"data": {"a": "not base64!"}});
        assert_eq!(
            check_types("", "v1", "Secret", &secret),
            Err(ApiError::BadRequest(
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3".into()
            ))
        );
        // Nulls are fine anywhere, as Go's decoder has it.
        assert_eq!(
            check_types(
                "apps",
                "v1",
                "Deployment",
                &json!({"spec": {"replicas": null, "selector": null}})
            ),
            Ok(())
        );
        // A type error outranks unknown fields.
        assert!(
            unknown_fields(
                "apps",
                "v1",
                "Deployment",
                &json!({"spec": {"replicas": "1", "bogus": 1}})
            )
            .is_err()
        );
    }

    #[test]
    fn every_kind_has_a_schema_and_accepts_its_minimal_object() {
        for (group, version, kind) in schema::all_kinds() {
            let api_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            let obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
            assert_eq!(
                unknown_fields(group, version, kind, &obj),
                Ok(vec![]),
                "{group}/{version} {kind}"
            );
            assert!(schema::root(group, version, kind).is_some());
        }
        assert_eq!(schema::all_kinds().len(), 42);
    }

    #[test]
    fn valid_objects_pass() {
        let objects = [
            ("", "Namespace", json!({"metadata": {"name": "team-a"}})),
            (
                "",
                "ServiceAccount",
                json!({"metadata": {"name": "builder", "namespace": "d"}}),
            ),
            (
                "",
                "Node",
                json!({"metadata": {"name": "node-1"}, "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"metadata": {"name": "data", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"metadata": {"name": "db", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                    "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres"}]}}}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"metadata": {"name": "agent", "namespace": "d"}, "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]},
                    "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent"}]}}}}),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"metadata": {"name": "rs", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
            ),
            (
                "",
                "ReplicationController",
                json!({"metadata": {"name": "rc", "namespace": "d"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
            ),
            (
                "coordination.k8s.io",
                "Lease",
                json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 15}}),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "http", "port": 80}]}),
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"rules": [{"host": "example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
            ),
            (
                "rbac.authorization.k8s.io",
                "Role",
                json!({"metadata": {"name": "reader", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                json!({"metadata": {"name": "system:readers"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
                    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "d"}, {"kind": "User", "name": "alice"}]}),
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"metadata": {"name": "pdb", "namespace": "d"}, "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}}}),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "h", "namespace": "d"}, "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}}),
            ),
            (
                "example.com",
                "Widget",
                json!({"metadata": {"name": "w", "namespace": "d"}, "spec": {"anything": true}}),
            ),
        ];
        for (group, kind, obj) in objects {
            let obj = defaulted(group, kind, obj);
            assert_eq!(
                fm(&validate(group, kind, &obj, None)),
                vec![],
                "{group} {kind}: {obj}"
            );
        }
    }

    #[test]
    fn other_kinds_rules() {
        let crd = defaulted(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            json!({"metadata": {"name": "widgets"}, "spec": {"group": "example", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}}]}}),
        );
        let got: Vec<String> = validate(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &crd,
            None,
        )
        .into_iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(
            got[0],
            "metadata.name: Invalid value: \"widgets\": must be spec.names.plural+\".\"+spec.group"
        );
        assert_eq!(
            got[1],
            "spec.group: Invalid value: \"example\": should be a domain with at least one dot"
        );
        assert!(
            got[2].starts_with("spec.versions: Invalid value: ")
                && got[2].ends_with(": must have exactly one version marked as storage version"),
            "{}",
            got[2]
        );

        let pvc = defaulted(
            "",
            "PersistentVolumeClaim",
            json!({"metadata": {"name": "data", "namespace": "d"}, "spec": {}}),
        );
        assert_eq!(
            fm(&validate("", "PersistentVolumeClaim", &pvc, None)),
            vec![
                (
                    "spec.accessModes".to_string(),
                    "Required value: at least 1 access mode is required".to_string()
                ),
                (
                    "spec.resources[storage]".to_string(),
                    "Required value".to_string()
                ),
            ]
        );

        let role = json!({"metadata": {"name": "r", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]});
        assert_eq!(
            fm(&validate("rbac.authorization.k8s.io", "Role", &role, None)),
            vec![(
                "rules[0].verbs".to_string(),
                "Required value: verbs must contain at least one value".to_string()
            )]
        );
        let old = defaulted(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"kind": "Role", "name": "a"}}),
        );
        let mut new = old.clone();
        new["roleRef"]["name"] = json!("b");
        assert_eq!(
            fm(&validate("rbac.authorization.k8s.io", "RoleBinding", &new, Some(&old))),
            vec![(
                "roleRef".to_string(),
                "Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"b\"}: cannot change roleRef".to_string()
            )]
        );

        let slice =
            json!({"metadata": {"name": "s", "namespace": "d"}, "endpoints": [{"addresses": []}]});
        assert_eq!(
            fm(&validate("discovery.k8s.io", "EndpointSlice", &slice, None)),
            vec![
                ("addressType".to_string(), "Required value".to_string()),
                (
                    "endpoints[0].addresses".to_string(),
                    "Required value: must contain at least 1 address".to_string()
                ),
            ]
        );

        let ingress = json!({"metadata": {"name": "i", "namespace": "d"}, "spec": {"rules": [{"http": {"paths": [{"path": "api", "backend": {"service": {"name": "web", "port": {"number": 80}}}}, {"path": "api", "pathType": "Exact", "backend": {"service": {"name": "web"}}}]}}]}});
        assert_eq!(
            fm(&validate("networking.k8s.io", "Ingress", &ingress, None)),
            vec![
                (
                    "spec.rules[0].http.paths[0].pathType".to_string(),
                    "Required value: pathType must be specified".to_string()
                ),
                (
                    "spec.rules[0].http.paths[1].path".to_string(),
                    "Invalid value: \"api\": must be an absolute path".to_string()
                ),
                (
                    "spec.rules[0].http.paths[1].backend".to_string(),
                    "Required value: port name or number is required".to_string()
                ),
            ]
        );

        let hpa = json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "h", "namespace": "d"}, "spec": {"minReplicas": 3, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        assert_eq!(
            fm(&validate(
                "autoscaling",
                "HorizontalPodAutoscaler",
                &hpa,
                None
            )),
            vec![(
                "spec.maxReplicas".to_string(),
                "Invalid value: 2: must be greater than or equal to `minReplicas`".to_string()
            )]
        );

        let ss = defaulted(
            "apps",
            "StatefulSet",
            json!({"metadata": {"name": "db", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres"}]}}}}),
        );
        let mut changed = ss.clone();
        changed["spec"]["serviceName"] = json!("other");
        assert_eq!(
            fm(&validate("apps", "StatefulSet", &changed, Some(&ss))),
            vec![(
                "spec".to_string(),
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_string()
            )]
        );
    }

    #[test]
    fn quantities() {
        let cases = [
            ("1", "1"),
            ("0.5", "500m"),
            ("1500m", "1500m"),
            ("1000", "1k"),
            ("1.5Gi", "1536Mi"),
            ("1024", "1024"),
            ("1e3", "1e3"),
            ("-2Ki", "-2Ki"),
            ("0", "0"),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                quantity::parse(input).map(|q| q.canonical()),
                Ok(canonical.to_string()),
                "{input}"
            );
        }
        for bad in ["", "abc", "1.5.5", "1i", "1e", "--1"] {
            assert!(quantity::parse(bad).is_err(), "{bad}");
        }
        let gi = quantity::parse("1Gi").map(|q| q.nanos());
        assert_eq!(gi, quantity::parse("1073741824").map(|q| q.nanos()));
    }

    #[test]
    fn generation() {
        let old = deployment(
            json!(1),
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(2);
        let mut relabelled = old.clone();
        relabelled["metadata"]["labels"] = json!({"x": "y"});
        let mut annotated = old.clone();
        annotated["metadata"]["annotations"] = json!({"x": "y"});
        let mut statused = old.clone();
        statused["status"] = json!({"replicas": 3});
        assert!(generation_changed("Deployment", &old, &scaled));
        assert!(!generation_changed("Deployment", &old, &relabelled));
        assert!(generation_changed("Deployment", &old, &annotated));
        assert!(!generation_changed("Deployment", &old, &statused));
        assert!(!generation_changed("ReplicaSet", &old, &annotated));
        assert!(!generation_changed(
            "ConfigMap",
            &json!({"data": {"a": "1"}}),
            &json!({"data": {"a": "2"}})
        ));
        assert!(generation_changed(
            "Widget",
            &json!({"spec": {"a": 1}}),
            &json!({"spec": {"a": 2}})
        ));
        assert!(!generation_changed(
            "Widget",
            &json!({"spec": {"a": 1}}),
            &json!({"spec": {"a": 1}, "status": {"b": 1}})
        ));
        // Null, empty and absent are the same spec.
        assert!(!generation_changed(
            "Job",
            &json!({"spec": {"a": null, "b": []}}),
            &json!({"spec": {}})
        ));
        assert!(
            uses_generation("Deployment")
                && uses_generation("Widget")
                && !uses_generation("ConfigMap")
        );
    }

    #[test]
    fn go_renderings() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(base64_encode(b"admin"), "YWRtaW4=");
        assert_eq!(base64_decode("YWRtaW4="), Ok(b"admin".to_vec()));
        assert_eq!(base64_decode("YWRtaW4"), Err(4));
        assert_eq!(base64_decode("YW=="), Ok(b"a".to_vec()));
        assert_eq!(base64_decode("YW="), Err(3));
        assert_eq!(base64_decode("Y!=="), Err(1));
        assert_eq!(
            go_int_or_string(&json!("25%")),
            "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"25%\"}"
        );
        assert_eq!(
            go_int_or_string(&json!(3)),
            "intstr.IntOrString{Type:0, IntVal:3, StrVal:\"\"}"
        );
        assert_eq!(fmtcheck::mask_trailing_dash("web-"), "wea");
    }

    /// Every value of every field replaced by values of every JSON type: nothing panics.
    #[test]
    fn never_panics() {
        let samples = [
            json!(null),
            json!(true),
            json!(-7),
            json!(1.5),
            json!("x"),
            json!([]),
            json!([null, 1, "y", {}]),
            json!({}),
            json!({"k": [1]}),
        ];
        let base = [
            (
                "",
                "Pod",
                defaulted(
                    "",
                    "Pod",
                    pod(
                        json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 1}],
                "livenessProbe": {"httpGet": {"port": "http"}}, "resources": {"limits": {"cpu": "1"}}}], "volumes": [{"name": "v", "secret": {"secretName": "s"}}]}),
                    ),
                ),
            ),
            (
                "apps",
                "Deployment",
                defaulted(
                    "apps",
                    "Deployment",
                    deployment(
                        json!(1),
                        json!({"matchLabels": {"a": "b"}}),
                        json!({"a": "b"}),
                    ),
                ),
            ),
            (
                "",
                "Service",
                service(json!({"ports": [{"port": 80}], "selector": {"a": "b"}})),
            ),
            (
                "batch",
                "CronJob",
                defaulted(
                    "batch",
                    "CronJob",
                    json!({"spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}}),
                ),
            ),
        ];
        fn leaves(v: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
            out.push(path.clone());
            match v {
                Value::Object(m) => m
                    .iter()
                    .for_each(|(k, x)| leaves(x, [path.clone(), vec![k.clone()]].concat(), out)),
                Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
                    leaves(x, [path.clone(), vec![i.to_string()]].concat(), out)
                }),
                _ => {}
            }
        }
        for (group, kind, obj) in base {
            let mut paths = Vec::new();
            leaves(&obj, Vec::new(), &mut paths);
            for path in paths {
                for sample in &samples {
                    let mut mutated = obj.clone();
                    let pointer = format!("/{}", path.join("/"));
                    if let Some(slot) = mutated.pointer_mut(&pointer) {
                        *slot = sample.clone();
                    }
                    let version = "v1";
                    let _ = validate(group, kind, &mutated, None);
                    let _ = validate(group, kind, &mutated, Some(&obj));
                    let _ = validate(group, kind, &obj, Some(&mutated));
                    let _ = unknown_fields(group, version, kind, &mutated);
                    let _ = generation_changed(kind, &obj, &mutated);
                    let mut d = mutated.clone();
                    apply_defaults(group, kind, &mut d);
                    job_selector(&mut d, "u");
                }
            }
        }
        for weird in [
            "",
            "*",
            "@every",
            "TZ=x",
            "1-2-3 * * * *",
            "1/2/3 * * * *",
            "99999999999999999999 * * * *",
        ] {
            let _ = cron::parse_standard(weird);
        }
        for weird in [
            "+",
            "-",
            ".",
            "1.",
            ".5",
            "1e99999",
            "1e2147483647",
            "1e-2147483648",
            "9".repeat(80).as_str(),
            "1Ei",
            "1E18",
        ] {
            let _ = quantity::parse(weird).map(|q| q.canonical());
        }
    }
}
