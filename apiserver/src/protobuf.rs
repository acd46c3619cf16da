//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into the
//! JSON object the client would have sent as `application/json`.
//!
//! kubectl 1.32+ sends built-in types as protobuf (create deployment/namespace/secret/…, auth
//! can-i, auth whoami, create token, certificate approve); the API server stores JSON, so
//! [`decode`] is the one place protobuf enters. A body is the magic `k8s\0` followed by a
//! `runtime.Unknown { typeMeta{apiVersion, kind} = 1, raw = 2, contentEncoding = 3,
//! contentType = 4 }` whose `raw` is the typed message from `k8s.io/api/…/generated.proto`.
//!
//! ## How it works
//! One generic wire walker driven by `TABLE`, a schema of every message reachable from the
//! served kinds: per field its tag, JSON name and type. Messages whose Go type has its own JSON
//! form (`Time`, `MicroTime`, `Duration`, `IntOrString`, `Quantity`, `RawExtension`, `FieldsV1`,
//! apiextensions `JSON` and `JSONSchemaPropsOr*`, `ExtraValue`) are handled by name in
//! `Decoder::special`. Fields the table does not know are skipped, so bodies from newer
//! clients still decode.
//!
//! ## `omitempty`
//! Go's protobuf encoder writes every non-pointer scalar, even when zero, and a pointer only
//! when set; Go's JSON encoder drops zero scalars tagged `omitempty`, keeps the rest, and never
//! omits a struct. So a message on the wire always appears (`"status":{}`,
//! `"resources":{}`), a zero scalar appears only when the table marks the field `!` (a pointer,
//! such as `replicas`, or a field without `omitempty`, such as `containerPort`), and a list or
//! map marked `!` that is absent appears as `null`, as Go writes a nil slice without
//! `omitempty`.
//!
//! ## Where the table comes from
//! Tags and types come from the `k8s-pb` crate's generated sources (the same `generated.proto`
//! files), JSON names from `k8s-openapi`, and the `!` marks from round-tripping zero-filled
//! objects of every kind through kubectl 1.32's and 1.33's typed Go JSON encoding (`set image
//! --local`, and `create … -o json` against a stub server), completed from the Go types for the
//! few kinds kubectl never decodes. The tests check the table against `k8s-pb` and decode real
//! kubectl 1.32 bodies.

use std::collections::HashMap;
use std::sync::LazyLock;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::{ApiError, Result};

/// The media type of a Kubernetes protobuf body.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8] = b"k8s\0";

/// Deepest message nesting accepted (CRD schemas nest `JSONSchemaProps` two levels per
/// property); deeper bodies are refused rather than risking the stack.
const MAX_DEPTH: usize = 200;

/// API groups whose built-in kinds decode, with the package prefix their messages have in
/// [`TABLE`].
const GROUPS: &[(&str, &str)] = &[
    ("", "core"),
    ("apps", "apps"),
    ("batch", "batch"),
    ("autoscaling", "autoscaling"),
    ("policy", "policy"),
    ("coordination.k8s.io", "coordination"),
    ("discovery.k8s.io", "discovery"),
    ("events.k8s.io", "events"),
    ("networking.k8s.io", "networking"),
    ("rbac.authorization.k8s.io", "rbac"),
    ("apiextensions.k8s.io", "apiextensions"),
    ("authorization.k8s.io", "authorization"),
    ("authentication.k8s.io", "authentication"),
    ("scheduling.k8s.io", "scheduling"),
    ("certificates.k8s.io", "certificates"),
];

/// Decodes a Kubernetes protobuf body into the JSON object of the same kind, with `apiVersion`
/// and `kind` set from the body's type meta.
///
/// Errors: `UnsupportedMediaType` for a kind or encoding this module does not decode,
/// `BadRequest` for a body that is not valid protobuf of its kind.
pub fn decode(body: &[u8]) -> Result<Value> {
    let schema = SCHEMA
        .as_ref()
        .map_err(|e| ApiError::Internal(format!("protobuf schema table: {e}")))?;
    Decoder { schema }.body(body, 0)
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("invalid protobuf body: {message}"))
}

// ---------------------------------------------------------------------------------------------
// Wire format

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32,
}

/// The fields of one message, in wire order.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(bad("truncated or overlong varint"))
    }

    fn read(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(bad("field runs past the end of its message"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u32, Wire<'a>)> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| bad("field number out of range"))?;
        if tag == 0 {
            return Err(bad("field number 0"));
        }
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(array(self.read(8)?)?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| bad("length overflow"))?;
                Wire::Len(self.read(len)?)
            }
            5 => {
                self.read(4)?;
                Wire::Fixed32
            }
            other => return Err(bad(format!("unsupported wire type {other} in field {tag}"))),
        };
        Ok((tag, wire))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.buf = &[];
        }
        Some(item)
    }
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| bad("short fixed-width field"))
}

/// Every field of a message, in wire order.
fn scan(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>> {
    Fields::new(buf).collect()
}

/// The last occurrence of a length-delimited field (proto2: the last value wins).
fn last_len<'a>(fields: &[(u32, Wire<'a>)], tag: u32) -> Result<Option<&'a [u8]>> {
    let mut found = None;
    for &(t, wire) in fields {
        if t == tag {
            match wire {
                Wire::Len(bytes) => found = Some(bytes),
                _ => return Err(bad(format!("field {tag} is not length-delimited"))),
            }
        }
    }
    Ok(found)
}

/// The last occurrence of a varint field.
fn last_varint(fields: &[(u32, Wire<'_>)], tag: u32) -> Result<Option<u64>> {
    let mut found = None;
    for &(t, wire) in fields {
        if t == tag {
            match wire {
                Wire::Varint(v) => found = Some(v),
                _ => return Err(bad(format!("field {tag} is not a varint"))),
            }
        }
    }
    Ok(found)
}

fn utf8(bytes: &[u8]) -> String {
    // Go's JSON encoder writes invalid UTF-8 as U+FFFD; do the same.
    String::from_utf8_lossy(bytes).into_owned()
}

fn string_field(fields: &[(u32, Wire<'_>)], tag: u32) -> Result<String> {
    Ok(last_len(fields, tag)?.map(utf8).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Schema

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Bool,
    Int32,
    Int64,
    Double,
    Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Type {
    Scalar(Scalar),
    /// A message, by its full name (`core.v1.PodSpec`).
    Message(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Single,
    Repeated,
    /// `map<string, T>`: repeated entries `{ key = 1; value = 2 }`.
    Map,
}

#[derive(Debug, Clone)]
struct Field {
    /// The JSON name; empty for an embedded Go struct (`json:",inline"`).
    name: &'static str,
    tag: u32,
    label: Label,
    ty: Type,
    /// Go's JSON writes the field even when zero: a scalar keeps its zero value, an absent list,
    /// map or message becomes `null`.
    keep: bool,
}

impl Field {
    fn inline(&self) -> bool {
        self.name.is_empty()
    }
}

/// Message name to its fields.
type Schema = HashMap<String, Vec<Field>>;

static SCHEMA: LazyLock<std::result::Result<Schema, String>> = LazyLock::new(|| parse(TABLE));

/// Parses [`TABLE`]: whitespace-separated tokens; a token without `=` starts a message (its
/// full name), each following `name=tag:type` is one of its fields.
fn parse(table: &'static str) -> std::result::Result<Schema, String> {
    let mut schema = Schema::new();
    let mut current: Option<(&str, Vec<Field>)> = None;
    for token in table.split_whitespace() {
        let Some((name, rest)) = token.split_once('=') else {
            if let Some((message, fields)) = current.take() {
                schema.insert(message.to_string(), fields);
            }
            current = Some((token, Vec::new()));
            continue;
        };
        let Some((message, fields)) = current.as_mut() else {
            return Err(format!("field {token} before any message"));
        };
        let package = message.rsplit_once('.').map_or("", |(package, _)| package);
        let (tag, ty) = rest
            .split_once(':')
            .ok_or_else(|| format!("{message}: bad field {token}"))?;
        let tag = tag
            .parse()
            .map_err(|_| format!("{message}: bad tag in {token}"))?;
        let (label, ty) = if let Some(ty) = ty.strip_prefix("[]") {
            (Label::Repeated, ty)
        } else if let Some(ty) = ty.strip_prefix("{}") {
            (Label::Map, ty)
        } else {
            (Label::Single, ty)
        };
        let ty = match ty {
            "s" => Type::Scalar(Scalar::String),
            "b" => Type::Scalar(Scalar::Bool),
            "i32" => Type::Scalar(Scalar::Int32),
            "i64" => Type::Scalar(Scalar::Int64),
            "f64" => Type::Scalar(Scalar::Double),
            "by" => Type::Scalar(Scalar::Bytes),
            name if name.contains('.') => Type::Message(name.to_string()),
            name => Type::Message(format!("{package}.{name}")),
        };
        let (name, keep) = match name.strip_suffix('!') {
            Some(name) => (name, true),
            None => (name, false),
        };
        let name = if name == "..." { "" } else { name };
        fields.push(Field {
            name,
            tag,
            label,
            ty,
            keep,
        });
    }
    if let Some((message, fields)) = current {
        schema.insert(message.to_string(), fields);
    }
    Ok(schema)
}

/// The table message of a served kind, if it is one.
fn kind_message(schema: &Schema, api_version: &str, kind: &str) -> Option<String> {
    if kind == "DeleteOptions" {
        // Registered in every group version; one Go type.
        return Some("meta.v1.DeleteOptions".to_string());
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let (_, package) = GROUPS.iter().find(|(g, _)| *g == group)?;
    let name = format!("{package}.{version}.{kind}");
    let fields = schema.get(&name)?;
    fields.iter().any(|f| f.name == "metadata").then_some(name)
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct Decoder<'s> {
    schema: &'s Schema,
}

impl Decoder<'_> {
    /// A whole body: magic, `runtime.Unknown`, then the typed message.
    fn body(&self, body: &[u8], depth: usize) -> Result<Value> {
        let unknown = body
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("missing the k8s\\0 prefix of a Kubernetes protobuf body"))?;
        let fields = scan(unknown)?;
        let type_meta = scan(last_len(&fields, 1)?.unwrap_or_default())?;
        let api_version = string_field(&type_meta, 1)?;
        let kind = string_field(&type_meta, 2)?;
        let raw = last_len(&fields, 2)?.unwrap_or_default();
        let encoding = string_field(&fields, 3)?;
        let content_type = string_field(&fields, 4)?;
        if !encoding.is_empty() {
            return Err(ApiError::UnsupportedMediaType(format!(
                "protobuf body with content encoding {encoding:?} is not supported"
            )));
        }
        if !content_type.is_empty() && content_type != CONTENT_TYPE {
            return Err(ApiError::UnsupportedMediaType(format!(
                "protobuf body wrapping {content_type:?} is not supported"
            )));
        }
        if kind.is_empty() || api_version.is_empty() {
            return Err(bad("missing apiVersion or kind"));
        }
        let Some(message) = kind_message(self.schema, &api_version, &kind) else {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the server does not decode {kind} ({api_version}) from protobuf; send application/json"
            )));
        };
        let mut object = Map::new();
        object.insert("apiVersion".into(), Value::String(api_version));
        object.insert("kind".into(), Value::String(kind));
        self.object(&message, raw, depth + 1, &mut object)?;
        Ok(Value::Object(object))
    }

    fn fields(&self, message: &str) -> Result<&[Field]> {
        self.schema
            .get(message)
            .map(Vec::as_slice)
            .ok_or_else(|| ApiError::Internal(format!("protobuf schema has no message {message}")))
    }

    /// One message as a JSON value.
    fn message(&self, message: &str, buf: &[u8], depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(bad("messages nested too deeply"));
        }
        if let Some(value) = self.special(message, buf, depth)? {
            return Ok(value);
        }
        let mut object = Map::new();
        self.object(message, buf, depth, &mut object)?;
        Ok(Value::Object(object))
    }

    /// Decodes the fields of `buf` into `out` (a message's own object, or its parent's for an
    /// embedded struct).
    fn object(
        &self,
        message: &str,
        buf: &[u8],
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(bad("messages nested too deeply"));
        }
        let fields = self.fields(message)?;
        for item in Fields::new(buf) {
            let (tag, wire) = item?;
            // Unknown fields (newer clients) are skipped, as Go's decoder does.
            let Some(field) = fields.iter().find(|f| f.tag == tag) else {
                continue;
            };
            match field.label {
                Label::Map => {
                    let (key, value) = self.map_entry(field, wire, depth)?;
                    let map = out
                        .entry(field.name)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(map) = map {
                        map.insert(key, value);
                    }
                }
                Label::Repeated => {
                    let list = out
                        .entry(field.name)
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = list {
                        self.repeated(field, wire, depth, list)?;
                    }
                }
                Label::Single if field.inline() => {
                    let (Type::Message(child), Wire::Len(bytes)) = (&field.ty, wire) else {
                        return Err(bad(format!(
                            "{message}: embedded field {tag} is not a message"
                        )));
                    };
                    self.object(child, bytes, depth + 1, out)?;
                }
                Label::Single => {
                    let value = self.value(&field.ty, wire, depth)?;
                    if field.keep || !is_zero_scalar(&field.ty, &value) {
                        out.insert(field.name.to_string(), value);
                    } else {
                        out.remove(field.name);
                    }
                }
            }
        }
        // Go writes a nil slice, map or pointer without `omitempty` as null.
        for field in fields {
            let nullable = field.label != Label::Single || matches!(field.ty, Type::Message(_));
            if field.keep && nullable && !field.inline() && !out.contains_key(field.name) {
                out.insert(field.name.to_string(), Value::Null);
            }
        }
        Ok(())
    }

    /// One value of a singular field or list element.
    fn value(&self, ty: &Type, wire: Wire<'_>, depth: usize) -> Result<Value> {
        match (ty, wire) {
            (Type::Message(message), Wire::Len(bytes)) => self.message(message, bytes, depth + 1),
            (Type::Scalar(scalar), wire) => scalar_value(*scalar, wire),
            (Type::Message(message), _) => {
                Err(bad(format!("{message} field is not length-delimited")))
            }
        }
    }

    /// Appends one occurrence of a repeated field: one element, or a packed run of scalars.
    fn repeated(
        &self,
        field: &Field,
        wire: Wire<'_>,
        depth: usize,
        list: &mut Vec<Value>,
    ) -> Result<()> {
        let packed = match (&field.ty, wire) {
            (
                Type::Scalar(Scalar::Bool | Scalar::Int32 | Scalar::Int64 | Scalar::Double),
                Wire::Len(bytes),
            ) => Some(bytes),
            _ => None,
        };
        let Some(mut bytes) = packed else {
            list.push(self.value(&field.ty, wire, depth)?);
            return Ok(());
        };
        while !bytes.is_empty() {
            let mut reader = Fields::new(bytes);
            let wire = if field.ty == Type::Scalar(Scalar::Double) {
                Wire::Fixed64(u64::from_le_bytes(array(reader.read(8)?)?))
            } else {
                Wire::Varint(reader.varint()?)
            };
            list.push(self.value(&field.ty, wire, depth)?);
            bytes = reader.buf;
        }
        Ok(())
    }

    /// One `map<string, T>` entry.
    fn map_entry(&self, field: &Field, wire: Wire<'_>, depth: usize) -> Result<(String, Value)> {
        let Wire::Len(entry) = wire else {
            return Err(bad(format!(
                "map field {} is not length-delimited",
                field.name
            )));
        };
        let entry = scan(entry)?;
        let key = string_field(&entry, 1)?;
        let value = match (entry.iter().rev().find(|(tag, _)| *tag == 2), &field.ty) {
            (Some(&(_, wire)), ty) => self.value(ty, wire, depth)?,
            (None, Type::Message(message)) => self.message(message, &[], depth + 1)?,
            (None, Type::Scalar(scalar)) => scalar_value(*scalar, Wire::Len(&[]))?,
        };
        Ok((key, value))
    }

    /// Messages whose Go type has its own JSON form.
    fn special(&self, message: &str, buf: &[u8], depth: usize) -> Result<Option<Value>> {
        let value = match message {
            "meta.v1.Time" => time(buf, false)?,
            "meta.v1.MicroTime" => time(buf, true)?,
            "meta.v1.Duration" => {
                let nanos = last_varint(&scan(buf)?, 1)?.unwrap_or(0) as i64;
                Value::String(go_duration(nanos))
            }
            "intstr.IntOrString" => {
                let fields = scan(buf)?;
                if last_varint(&fields, 1)? == Some(1) {
                    Value::String(string_field(&fields, 3)?)
                } else {
                    Value::from(last_varint(&fields, 2)?.unwrap_or(0) as i32)
                }
            }
            "resource.Quantity" => {
                let quantity = string_field(&scan(buf)?, 1)?;
                Value::String(if quantity.is_empty() {
                    "0".to_string()
                } else {
                    quantity
                })
            }
            "runtime.RawExtension" | "meta.v1.FieldsV1" | "apiextensions.v1.Json" => {
                match last_len(&scan(buf)?, 1)? {
                    None | Some([]) => Value::Null,
                    Some(raw) if raw.starts_with(MAGIC) => self.body(raw, depth + 1)?,
                    Some(raw) => {
                        serde_json::from_slice(raw).map_err(|e| bad(format!("{message}: {e}")))?
                    }
                }
            }
            "apiextensions.v1.JsonSchemaPropsOrArray" => {
                let fields = scan(buf)?;
                let schemas = self.list_of(&fields, 2, depth)?;
                match last_len(&fields, 1)? {
                    _ if !schemas.is_empty() => Value::Array(schemas),
                    Some(schema) => self.message(PROPS, schema, depth + 1)?,
                    None => Value::Null,
                }
            }
            "apiextensions.v1.JsonSchemaPropsOrBool" => {
                let fields = scan(buf)?;
                match last_len(&fields, 2)? {
                    Some(schema) => self.message(PROPS, schema, depth + 1)?,
                    None => Value::Bool(last_varint(&fields, 1)?.unwrap_or(0) != 0),
                }
            }
            "apiextensions.v1.JsonSchemaPropsOrStringArray" => {
                let fields = scan(buf)?;
                let property = strings(&fields, 2)?;
                match last_len(&fields, 1)? {
                    _ if !property.is_empty() => Value::Array(property),
                    Some(schema) => self.message(PROPS, schema, depth + 1)?,
                    None => Value::Null,
                }
            }
            "authentication.v1.ExtraValue"
            | "authorization.v1.ExtraValue"
            | "certificates.v1.ExtraValue" => Value::Array(strings(&scan(buf)?, 1)?),
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// The `JSONSchemaProps` elements of a repeated field.
    fn list_of(&self, fields: &[(u32, Wire<'_>)], tag: u32, depth: usize) -> Result<Vec<Value>> {
        let mut list = Vec::new();
        for &(t, wire) in fields {
            if t == tag {
                list.push(self.value(&Type::Message(PROPS.to_string()), wire, depth)?);
            }
        }
        Ok(list)
    }
}

const PROPS: &str = "apiextensions.v1.JsonSchemaProps";

fn strings(fields: &[(u32, Wire<'_>)], tag: u32) -> Result<Vec<Value>> {
    let mut list = Vec::new();
    for &(t, wire) in fields {
        if t == tag {
            list.push(scalar_value(Scalar::String, wire)?);
        }
    }
    Ok(list)
}

fn scalar_value(scalar: Scalar, wire: Wire<'_>) -> Result<Value> {
    Ok(match (scalar, wire) {
        (Scalar::String, Wire::Len(bytes)) => Value::String(utf8(bytes)),
        (Scalar::Bytes, Wire::Len(bytes)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        (Scalar::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        // int32 travels sign-extended to 64 bits; truncating recovers it.
        (Scalar::Int32, Wire::Varint(v)) => Value::from(v as i32),
        (Scalar::Int64, Wire::Varint(v)) => Value::from(v as i64),
        (Scalar::Double, Wire::Fixed64(bits)) => double(f64::from_bits(bits))?,
        (scalar, wire) => return Err(bad(format!("{scalar:?} field has wire value {wire:?}"))),
    })
}

/// A float64 as Go's JSON encoder writes it: integral values without a fraction.
fn double(value: f64) -> Result<Value> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        return Ok(Value::from(value as i64));
    }
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| bad(format!("number {value} has no JSON form")))
}

fn is_zero_scalar(ty: &Type, value: &Value) -> bool {
    if !matches!(ty, Type::Scalar(_)) {
        return false;
    }
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// `meta.v1.Time` (RFC 3339, whole seconds) or `MicroTime` (six fractional digits); the empty
/// message is Go's zero time, which JSON writes as `null`.
fn time(buf: &[u8], micros: bool) -> Result<Value> {
    if buf.is_empty() {
        return Ok(Value::Null);
    }
    let fields = scan(buf)?;
    let seconds = last_varint(&fields, 1)?.unwrap_or(0) as i64;
    let nanos = i64::from(last_varint(&fields, 2)?.unwrap_or(0) as i32);
    let seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| bad("time out of range"))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        return Err(bad(format!("time {seconds}s is outside years 0-9999")));
    }
    let secs = seconds.rem_euclid(86_400);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let text = if micros {
        format!(
            "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:06}Z",
            nanos / 1000
        )
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    };
    Ok(Value::String(text))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration in nanoseconds as Go's `time.Duration.String` writes it (`1h2m3.5s`, `1.5ms`).
fn go_duration(nanos: i64) -> String {
    fn with_fraction(int: u64, frac: u64, digits: usize) -> String {
        let frac = format!("{frac:0digits$}");
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let text = match u {
        0 => return "0s".to_string(),
        1..1_000 => format!("{u}ns"),
        1_000..1_000_000 => format!("{}µs", with_fraction(u / 1_000, u % 1_000, 3)),
        1_000_000..1_000_000_000 => format!("{}ms", with_fraction(u / 1_000_000, u % 1_000_000, 6)),
        _ => {
            let secs = u / 1_000_000_000;
            let s = with_fraction(secs % 60, u % 1_000_000_000, 9);
            match secs {
                0..60 => format!("{s}s"),
                60..3600 => format!("{}m{s}s", secs / 60),
                _ => format!("{}h{}m{s}s", secs / 3600, secs / 60 % 60),
            }
        }
    };
    format!("{sign}{text}")
}

/// Every message reachable from the served kinds: `full.Name field=tag:type …`. Types: `s`
/// string, `b` bool, `i32`, `i64`, `f64` double, `by` bytes, or a message (same package when
/// unqualified); `[]` marks a repeated field, `{}` a `map<string, T>`. A name ending in `!`
/// keeps its zero value (or `null` when empty); `...` is an embedded Go struct whose fields
/// JSON inlines. Generated; see the module docs.
const TABLE: &str = "
apiextensions.v1.CustomResourceColumnDefinition
    name!=1:s type!=2:s format=3:s description=4:s priority=5:i32 jsonPath!=6:s
apiextensions.v1.CustomResourceConversion
    strategy!=1:s webhook=2:WebhookConversion
apiextensions.v1.CustomResourceDefinition
    metadata=1:meta.v1.ObjectMeta spec=2:CustomResourceDefinitionSpec
    status=3:CustomResourceDefinitionStatus
apiextensions.v1.CustomResourceDefinitionCondition
    type!=1:s status!=2:s lastTransitionTime=3:meta.v1.Time reason=4:s message=5:s
    observedGeneration=6:i64
apiextensions.v1.CustomResourceDefinitionList
    metadata=1:meta.v1.ListMeta items=2:[]CustomResourceDefinition
apiextensions.v1.CustomResourceDefinitionNames
    plural!=1:s singular=2:s shortNames=3:[]s kind!=4:s listKind=5:s categories=6:[]s
apiextensions.v1.CustomResourceDefinitionSpec
    group!=1:s names=3:CustomResourceDefinitionNames scope!=4:s
    versions!=7:[]CustomResourceDefinitionVersion conversion=9:CustomResourceConversion
    preserveUnknownFields=10:b
apiextensions.v1.CustomResourceDefinitionStatus
    conditions=1:[]CustomResourceDefinitionCondition
    acceptedNames=2:CustomResourceDefinitionNames storedVersions!=3:[]s observedGeneration=4:i64
apiextensions.v1.CustomResourceDefinitionVersion
    name!=1:s served!=2:b storage!=3:b schema=4:CustomResourceValidation
    subresources=5:CustomResourceSubresources
    additionalPrinterColumns=6:[]CustomResourceColumnDefinition deprecated=7:b
    deprecationWarning!=8:s selectableFields=9:[]SelectableField
apiextensions.v1.CustomResourceSubresourceScale
    specReplicasPath!=1:s statusReplicasPath!=2:s labelSelectorPath!=3:s
apiextensions.v1.CustomResourceSubresourceStatus
apiextensions.v1.CustomResourceSubresources
    status=1:CustomResourceSubresourceStatus scale=2:CustomResourceSubresourceScale
apiextensions.v1.CustomResourceValidation
    openAPIV3Schema=1:JsonSchemaProps
apiextensions.v1.ExternalDocumentation
    description=1:s url=2:s
apiextensions.v1.JsonSchemaProps
    id=1:s $schema=2:s $ref!=3:s description=4:s type=5:s format=6:s title=7:s default=8:Json
    maximum!=9:f64 exclusiveMaximum=10:b minimum!=11:f64 exclusiveMinimum=12:b maxLength!=13:i64
    minLength!=14:i64 pattern=15:s maxItems!=16:i64 minItems!=17:i64 uniqueItems=18:b
    multipleOf!=19:f64 enum=20:[]Json maxProperties!=21:i64 minProperties!=22:i64
    required=23:[]s items=24:JsonSchemaPropsOrArray allOf=25:[]JsonSchemaProps
    oneOf=26:[]JsonSchemaProps anyOf=27:[]JsonSchemaProps not=28:JsonSchemaProps
    properties=29:{}JsonSchemaProps additionalProperties=30:JsonSchemaPropsOrBool
    patternProperties=31:{}JsonSchemaProps dependencies=32:{}JsonSchemaPropsOrStringArray
    additionalItems=33:JsonSchemaPropsOrBool definitions=34:{}JsonSchemaProps
    externalDocs=35:ExternalDocumentation example=36:Json nullable=37:b
    x-kubernetes-preserve-unknown-fields!=38:b x-kubernetes-embedded-resource=39:b
    x-kubernetes-int-or-string=40:b x-kubernetes-list-map-keys=41:[]s
    x-kubernetes-list-type!=42:s x-kubernetes-map-type!=43:s
    x-kubernetes-validations=44:[]ValidationRule
apiextensions.v1.SelectableField
    jsonPath!=1:s
apiextensions.v1.ServiceReference
    namespace!=1:s name!=2:s path!=3:s port!=4:i32
apiextensions.v1.ValidationRule
    rule!=1:s message=2:s messageExpression=3:s reason!=4:s fieldPath=5:s optionalOldSelf!=6:b
apiextensions.v1.WebhookClientConfig
    service=1:ServiceReference caBundle=2:by url!=3:s
apiextensions.v1.WebhookConversion
    clientConfig=2:WebhookClientConfig conversionReviewVersions!=3:[]s
apps.v1.ControllerRevision
    metadata=1:meta.v1.ObjectMeta data=2:runtime.RawExtension revision!=3:i64
apps.v1.ControllerRevisionList
    metadata=1:meta.v1.ListMeta items=2:[]ControllerRevision
apps.v1.DaemonSet
    metadata=1:meta.v1.ObjectMeta spec=2:DaemonSetSpec status=3:DaemonSetStatus
apps.v1.DaemonSetCondition
    type!=1:s status!=2:s lastTransitionTime=3:meta.v1.Time reason=4:s message=5:s
apps.v1.DaemonSetList
    metadata=1:meta.v1.ListMeta items=2:[]DaemonSet
apps.v1.DaemonSetSpec
    selector=1:meta.v1.LabelSelector template=2:core.v1.PodTemplateSpec
    updateStrategy=3:DaemonSetUpdateStrategy minReadySeconds=4:i32 revisionHistoryLimit!=6:i32
apps.v1.DaemonSetStatus
    currentNumberScheduled!=1:i32 numberMisscheduled!=2:i32 desiredNumberScheduled!=3:i32
    numberReady!=4:i32 observedGeneration=5:i64 updatedNumberScheduled=6:i32
    numberAvailable=7:i32 numberUnavailable=8:i32 collisionCount!=9:i32
    conditions=10:[]DaemonSetCondition
apps.v1.DaemonSetUpdateStrategy
    type=1:s rollingUpdate=2:RollingUpdateDaemonSet
apps.v1.Deployment
    metadata=1:meta.v1.ObjectMeta spec=2:DeploymentSpec status=3:DeploymentStatus
apps.v1.DeploymentCondition
    type!=1:s status!=2:s reason=4:s message=5:s lastUpdateTime=6:meta.v1.Time
    lastTransitionTime=7:meta.v1.Time
apps.v1.DeploymentList
    metadata=1:meta.v1.ListMeta items=2:[]Deployment
apps.v1.DeploymentSpec
    replicas!=1:i32 selector!=2:meta.v1.LabelSelector template=3:core.v1.PodTemplateSpec
    strategy=4:DeploymentStrategy minReadySeconds=5:i32 revisionHistoryLimit!=6:i32 paused=7:b
    progressDeadlineSeconds!=9:i32
apps.v1.DeploymentStatus
    observedGeneration=1:i64 replicas=2:i32 updatedReplicas=3:i32 availableReplicas=4:i32
    unavailableReplicas=5:i32 conditions=6:[]DeploymentCondition readyReplicas=7:i32
    collisionCount!=8:i32 terminatingReplicas!=9:i32
apps.v1.DeploymentStrategy
    type=1:s rollingUpdate=2:RollingUpdateDeployment
apps.v1.ReplicaSet
    metadata=1:meta.v1.ObjectMeta spec=2:ReplicaSetSpec status=3:ReplicaSetStatus
apps.v1.ReplicaSetCondition
    type!=1:s status!=2:s lastTransitionTime=3:meta.v1.Time reason=4:s message=5:s
apps.v1.ReplicaSetList
    metadata=1:meta.v1.ListMeta items=2:[]ReplicaSet
apps.v1.ReplicaSetSpec
    replicas!=1:i32 selector=2:meta.v1.LabelSelector template=3:core.v1.PodTemplateSpec
    minReadySeconds=4:i32
apps.v1.ReplicaSetStatus
    replicas!=1:i32 fullyLabeledReplicas=2:i32 observedGeneration=3:i64 readyReplicas=4:i32
    availableReplicas=5:i32 conditions=6:[]ReplicaSetCondition terminatingReplicas!=7:i32
apps.v1.RollingUpdateDaemonSet
    maxUnavailable=1:intstr.IntOrString maxSurge=2:intstr.IntOrString
apps.v1.RollingUpdateDeployment
    maxUnavailable=1:intstr.IntOrString maxSurge=2:intstr.IntOrString
apps.v1.RollingUpdateStatefulSetStrategy
    partition!=1:i32 maxUnavailable=2:intstr.IntOrString
apps.v1.StatefulSet
    metadata=1:meta.v1.ObjectMeta spec=2:StatefulSetSpec status=3:StatefulSetStatus
apps.v1.StatefulSetCondition
    type!=1:s status!=2:s lastTransitionTime=3:meta.v1.Time reason=4:s message=5:s
apps.v1.StatefulSetList
    metadata=1:meta.v1.ListMeta items=2:[]StatefulSet
apps.v1.StatefulSetOrdinals
    start!=1:i32
apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy
    whenDeleted=1:s whenScaled=2:s
apps.v1.StatefulSetSpec
    replicas!=1:i32 selector=2:meta.v1.LabelSelector template=3:core.v1.PodTemplateSpec
    volumeClaimTemplates=4:[]core.v1.PersistentVolumeClaim serviceName!=5:s
    podManagementPolicy=6:s updateStrategy=7:StatefulSetUpdateStrategy
    revisionHistoryLimit!=8:i32 minReadySeconds=9:i32
    persistentVolumeClaimRetentionPolicy=10:StatefulSetPersistentVolumeClaimRetentionPolicy
    ordinals=11:StatefulSetOrdinals
apps.v1.StatefulSetStatus
    observedGeneration=1:i64 replicas!=2:i32 readyReplicas=3:i32 currentReplicas=4:i32
    updatedReplicas=5:i32 currentRevision=6:s updateRevision=7:s collisionCount!=9:i32
    conditions=10:[]StatefulSetCondition availableReplicas!=11:i32
apps.v1.StatefulSetUpdateStrategy
    type=1:s rollingUpdate=2:RollingUpdateStatefulSetStrategy
authentication.v1.BoundObjectReference
    kind=1:s apiVersion=2:s name=3:s uid=4:s
authentication.v1.SelfSubjectReview
    metadata=1:meta.v1.ObjectMeta status=2:SelfSubjectReviewStatus
authentication.v1.SelfSubjectReviewStatus
    userInfo=1:UserInfo
authentication.v1.TokenRequest
    metadata=1:meta.v1.ObjectMeta spec=2:TokenRequestSpec status=3:TokenRequestStatus
authentication.v1.TokenRequestSpec
    audiences!=1:[]s boundObjectRef!=3:BoundObjectReference expirationSeconds!=4:i64
authentication.v1.TokenRequestStatus
    token!=1:s expirationTimestamp=2:meta.v1.Time
authentication.v1.TokenReview
    metadata=1:meta.v1.ObjectMeta spec=2:TokenReviewSpec status=3:TokenReviewStatus
authentication.v1.TokenReviewSpec
    token=1:s audiences=2:[]s
authentication.v1.TokenReviewStatus
    authenticated=1:b user=2:UserInfo error=3:s audiences=4:[]s
authentication.v1.UserInfo
    username=1:s uid=2:s groups=3:[]s extra=4:{}ExtraValue
authorization.v1.FieldSelectorAttributes
    rawSelector=1:s requirements=2:[]meta.v1.FieldSelectorRequirement
authorization.v1.LabelSelectorAttributes
    rawSelector=1:s requirements=2:[]meta.v1.LabelSelectorRequirement
authorization.v1.LocalSubjectAccessReview
    metadata=1:meta.v1.ObjectMeta spec=2:SubjectAccessReviewSpec
    status=3:SubjectAccessReviewStatus
authorization.v1.NonResourceAttributes
    path=1:s verb=2:s
authorization.v1.NonResourceRule
    verbs!=1:[]s nonResourceURLs=2:[]s
authorization.v1.ResourceAttributes
    namespace=1:s verb=2:s group=3:s version=4:s resource=5:s subresource=6:s name=7:s
    fieldSelector=8:FieldSelectorAttributes labelSelector=9:LabelSelectorAttributes
authorization.v1.ResourceRule
    verbs!=1:[]s apiGroups=2:[]s resources=3:[]s resourceNames=4:[]s
authorization.v1.SelfSubjectAccessReview
    metadata=1:meta.v1.ObjectMeta spec=2:SelfSubjectAccessReviewSpec
    status=3:SubjectAccessReviewStatus
authorization.v1.SelfSubjectAccessReviewSpec
    resourceAttributes=1:ResourceAttributes nonResourceAttributes=2:NonResourceAttributes
authorization.v1.SelfSubjectRulesReview
    metadata=1:meta.v1.ObjectMeta spec=2:SelfSubjectRulesReviewSpec
    status=3:SubjectRulesReviewStatus
authorization.v1.SelfSubjectRulesReviewSpec
    namespace=1:s
authorization.v1.SubjectAccessReview
    metadata=1:meta.v1.ObjectMeta spec=2:SubjectAccessReviewSpec
    status=3:SubjectAccessReviewStatus
authorization.v1.SubjectAccessReviewSpec
    resourceAttributes=1:ResourceAttributes nonResourceAttributes=2:NonResourceAttributes
    user=3:s groups=4:[]s extra=5:{}ExtraValue uid=6:s
authorization.v1.SubjectAccessReviewStatus
    allowed!=1:b reason=2:s evaluationError=3:s denied=4:b
authorization.v1.SubjectRulesReviewStatus
    resourceRules!=1:[]ResourceRule nonResourceRules!=2:[]NonResourceRule incomplete!=3:b
    evaluationError=4:s
autoscaling.v1.CrossVersionObjectReference
    kind!=1:s name!=2:s apiVersion=3:s
autoscaling.v1.HorizontalPodAutoscaler
    metadata=1:meta.v1.ObjectMeta spec=2:HorizontalPodAutoscalerSpec
    status=3:HorizontalPodAutoscalerStatus
autoscaling.v1.HorizontalPodAutoscalerList
    metadata=1:meta.v1.ListMeta items=2:[]HorizontalPodAutoscaler
autoscaling.v1.HorizontalPodAutoscalerSpec
    scaleTargetRef=1:CrossVersionObjectReference minReplicas!=2:i32 maxReplicas!=3:i32
    targetCPUUtilizationPercentage!=4:i32
autoscaling.v1.HorizontalPodAutoscalerStatus
    observedGeneration!=1:i64 lastScaleTime=2:meta.v1.Time currentReplicas!=3:i32
    desiredReplicas!=4:i32 currentCPUUtilizationPercentage!=5:i32
autoscaling.v1.Scale
    metadata=1:meta.v1.ObjectMeta spec=2:ScaleSpec status=3:ScaleStatus
autoscaling.v1.ScaleSpec
    replicas=1:i32
autoscaling.v1.ScaleStatus
    replicas!=1:i32 selector=2:s
autoscaling.v2.ContainerResourceMetricSource
    name!=1:s target=2:MetricTarget container!=3:s
autoscaling.v2.ContainerResourceMetricStatus
    name!=1:s current=2:MetricValueStatus container!=3:s
autoscaling.v2.CrossVersionObjectReference
    kind!=1:s name!=2:s apiVersion=3:s
autoscaling.v2.ExternalMetricSource
    metric=1:MetricIdentifier target=2:MetricTarget
autoscaling.v2.ExternalMetricStatus
    metric=1:MetricIdentifier current=2:MetricValueStatus
autoscaling.v2.HorizontalPodAutoscaler
    metadata=1:meta.v1.ObjectMeta spec=2:HorizontalPodAutoscalerSpec
    status=3:HorizontalPodAutoscalerStatus
autoscaling.v2.HorizontalPodAutoscalerBehavior
    scaleUp=1:HpaScalingRules scaleDown=2:HpaScalingRules
autoscaling.v2.HorizontalPodAutoscalerCondition
    type!=1:s status!=2:s lastTransitionTime=3:meta.v1.Time reason=4:s message=5:s
autoscaling.v2.HorizontalPodAutoscalerList
    metadata=1:meta.v1.ListMeta items=2:[]HorizontalPodAutoscaler
autoscaling.v2.HorizontalPodAutoscalerSpec
    scaleTargetRef=1:CrossVersionObjectReference minReplicas!=2:i32 maxReplicas!=3:i32
    metrics=4:[]MetricSpec behavior=5:HorizontalPodAutoscalerBehavior
autoscaling.v2.HorizontalPodAutoscalerStatus
    observedGeneration!=1:i64 lastScaleTime=2:meta.v1.Time currentReplicas=3:i32
    desiredReplicas!=4:i32 currentMetrics!=5:[]MetricStatus
    conditions=6:[]HorizontalPodAutoscalerCondition
autoscaling.v2.HpaScalingPolicy
    type!=1:s value!=2:i32 periodSeconds!=3:i32
autoscaling.v2.HpaScalingRules
    selectPolicy!=1:s policies=2:[]HpaScalingPolicy stabilizationWindowSeconds!=3:i32
    tolerance=4:resource.Quantity
autoscaling.v2.MetricIdentifier
    name!=1:s selector=2:meta.v1.LabelSelector
autoscaling.v2.MetricSpec
    type!=1:s object=2:ObjectMetricSource pods=3:PodsMetricSource
    resource=4:ResourceMetricSource external=5:ExternalMetricSource
    containerResource=7:ContainerResourceMetricSource
autoscaling.v2.MetricStatus
    type!=1:s object=2:ObjectMetricStatus pods=3:PodsMetricStatus
    resource=4:ResourceMetricStatus external=5:ExternalMetricStatus
    containerResource=7:ContainerResourceMetricStatus
autoscaling.v2.MetricTarget
    type!=1:s value=2:resource.Quantity averageValue=3:resource.Quantity
    averageUtilization!=4:i32
autoscaling.v2.MetricValueStatus
    value=1:resource.Quantity averageValue=2:resource.Quantity averageUtilization!=3:i32
autoscaling.v2.ObjectMetricSource
    describedObject=1:CrossVersionObjectReference target=2:MetricTarget
    metric=3:MetricIdentifier
autoscaling.v2.ObjectMetricStatus
    metric=1:MetricIdentifier current=2:MetricValueStatus
    describedObject=3:CrossVersionObjectReference
autoscaling.v2.PodsMetricSource
    metric=1:MetricIdentifier target=2:MetricTarget
autoscaling.v2.PodsMetricStatus
    metric=1:MetricIdentifier current=2:MetricValueStatus
autoscaling.v2.ResourceMetricSource
    name!=1:s target=2:MetricTarget
autoscaling.v2.ResourceMetricStatus
    name!=1:s current=2:MetricValueStatus
batch.v1.CronJob
    metadata=1:meta.v1.ObjectMeta spec=2:CronJobSpec status=3:CronJobStatus
batch.v1.CronJobList
    metadata=1:meta.v1.ListMeta items=2:[]CronJob
batch.v1.CronJobSpec
    schedule!=1:s startingDeadlineSeconds!=2:i64 concurrencyPolicy=3:s suspend!=4:b
    jobTemplate=5:JobTemplateSpec successfulJobsHistoryLimit!=6:i32
    failedJobsHistoryLimit!=7:i32 timeZone!=8:s
batch.v1.CronJobStatus
    active=1:[]core.v1.ObjectReference lastScheduleTime=4:meta.v1.Time
    lastSuccessfulTime=5:meta.v1.Time
batch.v1.Job
    metadata=1:meta.v1.ObjectMeta spec=2:JobSpec status=3:JobStatus
batch.v1.JobCondition
    type!=1:s status!=2:s lastProbeTime=3:meta.v1.Time lastTransitionTime=4:meta.v1.Time
    reason=5:s message=6:s
batch.v1.JobList
    metadata=1:meta.v1.ListMeta items=2:[]Job
batch.v1.JobSpec
    parallelism!=1:i32 completions!=2:i32 activeDeadlineSeconds!=3:i64
    selector=4:meta.v1.LabelSelector manualSelector!=5:b template=6:core.v1.PodTemplateSpec
    backoffLimit!=7:i32 ttlSecondsAfterFinished!=8:i32 completionMode!=9:s suspend!=10:b
    podFailurePolicy=11:PodFailurePolicy backoffLimitPerIndex!=12:i32 maxFailedIndexes!=13:i32
    podReplacementPolicy!=14:s managedBy!=15:s successPolicy=16:SuccessPolicy
batch.v1.JobStatus
    conditions=1:[]JobCondition startTime=2:meta.v1.Time completionTime=3:meta.v1.Time
    active=4:i32 succeeded=5:i32 failed=6:i32 completedIndexes=7:s
    uncountedTerminatedPods=8:UncountedTerminatedPods ready!=9:i32 failedIndexes!=10:s
    terminating!=11:i32
batch.v1.JobTemplateSpec
    metadata=1:meta.v1.ObjectMeta spec=2:JobSpec
batch.v1.PodFailurePolicy
    rules!=1:[]PodFailurePolicyRule
batch.v1.PodFailurePolicyOnExitCodesRequirement
    containerName!=1:s operator!=2:s values!=3:[]i32
batch.v1.PodFailurePolicyOnPodConditionsPattern
    type!=1:s status!=2:s
batch.v1.PodFailurePolicyRule
    action!=1:s onExitCodes=2:PodFailurePolicyOnExitCodesRequirement
    onPodConditions=3:[]PodFailurePolicyOnPodConditionsPattern
batch.v1.SuccessPolicy
    rules!=1:[]SuccessPolicyRule
batch.v1.SuccessPolicyRule
    succeededIndexes!=1:s succeededCount!=2:i32
batch.v1.UncountedTerminatedPods
    succeeded=1:[]s failed=2:[]s
certificates.v1.CertificateSigningRequest
    metadata=1:meta.v1.ObjectMeta spec=2:CertificateSigningRequestSpec
    status=3:CertificateSigningRequestStatus
certificates.v1.CertificateSigningRequestCondition
    type!=1:s reason=2:s message=3:s lastUpdateTime=4:meta.v1.Time
    lastTransitionTime=5:meta.v1.Time status!=6:s
certificates.v1.CertificateSigningRequestList
    metadata=1:meta.v1.ListMeta items=2:[]CertificateSigningRequest
certificates.v1.CertificateSigningRequestSpec
    request!=1:by username=2:s uid=3:s groups=4:[]s usages=5:[]s extra=6:{}ExtraValue
    signerName!=7:s expirationSeconds!=8:i32
certificates.v1.CertificateSigningRequestStatus
    conditions=1:[]CertificateSigningRequestCondition certificate=2:by
coordination.v1.Lease
    metadata=1:meta.v1.ObjectMeta spec=2:LeaseSpec
coordination.v1.LeaseList
    metadata=1:meta.v1.ListMeta items=2:[]Lease
coordination.v1.LeaseSpec
    holderIdentity!=1:s leaseDurationSeconds!=2:i32 acquireTime=3:meta.v1.MicroTime
    renewTime=4:meta.v1.MicroTime leaseTransitions!=5:i32 strategy!=6:s preferredHolder!=7:s
core.v1.Affinity
    nodeAffinity=1:NodeAffinity podAffinity=2:PodAffinity podAntiAffinity=3:PodAntiAffinity
core.v1.AppArmorProfile
    type!=1:s localhostProfile!=2:s
core.v1.AttachedVolume
    name!=1:s devicePath!=2:s
core.v1.AwsElasticBlockStoreVolumeSource
    volumeID!=1:s fsType=2:s partition=3:i32 readOnly=4:b
core.v1.AzureDiskVolumeSource
    diskName!=1:s diskURI!=2:s cachingMode!=3:s fsType!=4:s readOnly!=5:b kind!=6:s
core.v1.AzureFilePersistentVolumeSource
    secretName!=1:s shareName!=2:s readOnly=3:b secretNamespace!=4:s
core.v1.AzureFileVolumeSource
    secretName!=1:s shareName!=2:s readOnly=3:b
core.v1.Binding
    metadata=1:meta.v1.ObjectMeta target=2:ObjectReference
core.v1.CSIPersistentVolumeSource
    driver!=1:s volumeHandle!=2:s readOnly=3:b fsType=4:s volumeAttributes=5:{}s
    controllerPublishSecretRef=6:SecretReference nodeStageSecretRef=7:SecretReference
    nodePublishSecretRef=8:SecretReference controllerExpandSecretRef=9:SecretReference
    nodeExpandSecretRef=10:SecretReference
core.v1.CSIVolumeSource
    driver!=1:s readOnly!=2:b fsType!=3:s volumeAttributes=4:{}s
    nodePublishSecretRef=5:LocalObjectReference
core.v1.Capabilities
    add=1:[]s drop=2:[]s
core.v1.CephFsPersistentVolumeSource
    monitors=1:[]s path=2:s user=3:s secretFile=4:s secretRef=5:SecretReference readOnly=6:b
core.v1.CephFsVolumeSource
    monitors!=1:[]s path=2:s user=3:s secretFile=4:s secretRef=5:LocalObjectReference
    readOnly=6:b
core.v1.CinderPersistentVolumeSource
    volumeID!=1:s fsType=2:s readOnly=3:b secretRef=4:SecretReference
core.v1.CinderVolumeSource
    volumeID!=1:s fsType=2:s readOnly=3:b secretRef=4:LocalObjectReference
core.v1.ClientIpConfig
    timeoutSeconds!=1:i32
core.v1.ClusterTrustBundleProjection
    name!=1:s signerName!=2:s labelSelector=3:meta.v1.LabelSelector path!=4:s optional!=5:b
core.v1.ComponentCondition
    type!=1:s status!=2:s message=3:s error=4:s
core.v1.ComponentStatus
    metadata=1:meta.v1.ObjectMeta conditions=2:[]ComponentCondition
core.v1.ComponentStatusList
    metadata=1:meta.v1.ListMeta items=2:[]ComponentStatus
core.v1.ConfigMap
    metadata=1:meta.v1.ObjectMeta data=2:{}s binaryData=3:{}by immutable!=4:b
core.v1.ConfigMapEnvSource
    ...=1:LocalObjectReference optional!=2:b
core.v1.ConfigMapKeySelector
    ...=1:LocalObjectReference key!=2:s optional!=3:b
core.v1.ConfigMapList
    metadata=1:meta.v1.ListMeta items=2:[]ConfigMap
core.v1.ConfigMapNodeConfigSource
    namespace!=1:s name!=2:s uid=3:s resourceVersion=4:s kubeletConfigKey!=5:s
core.v1.ConfigMapProjection
    ...=1:LocalObjectReference items=2:[]KeyToPath optional!=4:b
core.v1.ConfigMapVolumeSource
    ...=1:LocalObjectReference items=2:[]KeyToPath defaultMode!=3:i32 optional!=4:b
core.v1.Container
    name!=1:s image=2:s command=3:[]s args=4:[]s workingDir=5:s ports=6:[]ContainerPort
    env=7:[]EnvVar resources=8:ResourceRequirements volumeMounts=9:[]VolumeMount
    livenessProbe=10:Probe readinessProbe=11:Probe lifecycle=12:Lifecycle
    terminationMessagePath=13:s imagePullPolicy=14:s securityContext=15:SecurityContext
    stdin=16:b stdinOnce=17:b tty=18:b envFrom=19:[]EnvFromSource terminationMessagePolicy=20:s
    volumeDevices=21:[]VolumeDevice startupProbe=22:Probe
    resizePolicy=23:[]ContainerResizePolicy restartPolicy!=24:s
    restartPolicyRules=25:[]ContainerRestartRule
core.v1.ContainerExtendedResourceRequest
    containerName!=1:s resourceName!=2:s requestName!=3:s
core.v1.ContainerImage
    names=1:[]s sizeBytes=2:i64
core.v1.ContainerPort
    name=1:s hostPort=2:i32 containerPort!=3:i32 protocol=4:s hostIP=5:s
core.v1.ContainerResizePolicy
    resourceName!=1:s restartPolicy!=2:s
core.v1.ContainerRestartRule
    action=1:s exitCodes=2:ContainerRestartRuleOnExitCodes
core.v1.ContainerRestartRuleOnExitCodes
    operator=1:s values=2:[]i32
core.v1.ContainerState
    waiting=1:ContainerStateWaiting running=2:ContainerStateRunning
    terminated=3:ContainerStateTerminated
core.v1.ContainerStateRunning
    startedAt=1:meta.v1.Time
core.v1.ContainerStateTerminated
    exitCode!=1:i32 signal=2:i32 reason=3:s message=4:s startedAt=5:meta.v1.Time
    finishedAt=6:meta.v1.Time containerID=7:s
core.v1.ContainerStateWaiting
    reason=1:s message=2:s
core.v1.ContainerStatus
    name!=1:s state=2:ContainerState lastState=3:ContainerState ready!=4:b restartCount!=5:i32
    image!=6:s imageID!=7:s containerID=8:s started!=9:b
    allocatedResources=10:{}resource.Quantity resources=11:ResourceRequirements
    volumeMounts=12:[]VolumeMountStatus user=13:ContainerUser
    allocatedResourcesStatus=14:[]ResourceStatus stopSignal!=15:s
core.v1.ContainerUser
    linux=1:LinuxContainerUser
core.v1.DaemonEndpoint
    Port!=1:i32
core.v1.DownwardAPIProjection
    items=1:[]DownwardAPIVolumeFile
core.v1.DownwardAPIVolumeFile
    path!=1:s fieldRef=2:ObjectFieldSelector resourceFieldRef=3:ResourceFieldSelector
    mode!=4:i32
core.v1.DownwardAPIVolumeSource
    items=1:[]DownwardAPIVolumeFile defaultMode!=2:i32
core.v1.EmptyDirVolumeSource
    medium=1:s sizeLimit=2:resource.Quantity
core.v1.EndpointAddress
    ip!=1:s targetRef=2:ObjectReference hostname=3:s nodeName!=4:s
core.v1.EndpointPort
    name=1:s port!=2:i32 protocol=3:s appProtocol!=4:s
core.v1.EndpointSubset
    addresses=1:[]EndpointAddress notReadyAddresses=2:[]EndpointAddress ports=3:[]EndpointPort
core.v1.Endpoints
    metadata=1:meta.v1.ObjectMeta subsets=2:[]EndpointSubset
core.v1.EndpointsList
    metadata=1:meta.v1.ListMeta items=2:[]Endpoints
core.v1.EnvFromSource
    prefix=1:s configMapRef=2:ConfigMapEnvSource secretRef=3:SecretEnvSource
core.v1.EnvVar
    name!=1:s value=2:s valueFrom=3:EnvVarSource
core.v1.EnvVarSource
    fieldRef=1:ObjectFieldSelector resourceFieldRef=2:ResourceFieldSelector
    configMapKeyRef=3:ConfigMapKeySelector secretKeyRef=4:SecretKeySelector
    fileKeyRef=5:FileKeySelector
core.v1.EphemeralContainer
    ...=1:EphemeralContainerCommon targetContainerName=2:s
core.v1.EphemeralContainerCommon
    name!=1:s image=2:s command=3:[]s args=4:[]s workingDir=5:s ports=6:[]ContainerPort
    env=7:[]EnvVar resources=8:ResourceRequirements volumeMounts=9:[]VolumeMount
    livenessProbe=10:Probe readinessProbe=11:Probe lifecycle=12:Lifecycle
    terminationMessagePath=13:s imagePullPolicy=14:s securityContext=15:SecurityContext
    stdin=16:b stdinOnce=17:b tty=18:b envFrom=19:[]EnvFromSource terminationMessagePolicy=20:s
    volumeDevices=21:[]VolumeDevice startupProbe=22:Probe
    resizePolicy=23:[]ContainerResizePolicy restartPolicy!=24:s
    restartPolicyRules=25:[]ContainerRestartRule
core.v1.EphemeralVolumeSource
    volumeClaimTemplate=1:PersistentVolumeClaimTemplate
core.v1.Event
    metadata=1:meta.v1.ObjectMeta involvedObject=2:ObjectReference reason=3:s message=4:s
    source=5:EventSource firstTimestamp=6:meta.v1.Time lastTimestamp=7:meta.v1.Time count=8:i32
    type=9:s eventTime=10:meta.v1.MicroTime series=11:EventSeries action=12:s
    related=13:ObjectReference reportingComponent!=14:s reportingInstance!=15:s
core.v1.EventList
    metadata=1:meta.v1.ListMeta items=2:[]Event
core.v1.EventSeries
    count=1:i32 lastObservedTime=2:meta.v1.MicroTime
core.v1.EventSource
    component=1:s host=2:s
core.v1.ExecAction
    command=1:[]s
core.v1.FcVolumeSource
    targetWWNs=1:[]s lun!=2:i32 fsType=3:s readOnly=4:b wwids=5:[]s
core.v1.FileKeySelector
    volumeName!=1:s path!=2:s key!=3:s optional!=4:b
core.v1.FlexPersistentVolumeSource
    driver!=1:s fsType=2:s secretRef=3:SecretReference readOnly=4:b options=5:{}s
core.v1.FlexVolumeSource
    driver!=1:s fsType=2:s secretRef=3:LocalObjectReference readOnly=4:b options=5:{}s
core.v1.FlockerVolumeSource
    datasetName=1:s datasetUUID=2:s
core.v1.GcePersistentDiskVolumeSource
    pdName!=1:s fsType=2:s partition=3:i32 readOnly=4:b
core.v1.GitRepoVolumeSource
    repository!=1:s revision=2:s directory=3:s
core.v1.GlusterfsPersistentVolumeSource
    endpoints!=1:s path!=2:s readOnly=3:b endpointsNamespace!=4:s
core.v1.GlusterfsVolumeSource
    endpoints!=1:s path!=2:s readOnly=3:b
core.v1.GrpcAction
    port!=1:i32 service!=2:s
core.v1.HostAlias
    ip!=1:s hostnames=2:[]s
core.v1.HostIp
    ip!=1:s
core.v1.HostPathVolumeSource
    path!=1:s type!=2:s
core.v1.HttpGetAction
    path=1:s port=2:intstr.IntOrString host=3:s scheme=4:s httpHeaders=5:[]HttpHeader
core.v1.HttpHeader
    name!=1:s value!=2:s
core.v1.ImageVolumeSource
    reference=1:s pullPolicy=2:s
core.v1.IscsiPersistentVolumeSource
    targetPortal!=1:s iqn!=2:s lun!=3:i32 iscsiInterface=4:s fsType=5:s readOnly=6:b
    portals=7:[]s chapAuthDiscovery=8:b secretRef=10:SecretReference chapAuthSession=11:b
    initiatorName!=12:s
core.v1.IscsiVolumeSource
    targetPortal!=1:s iqn!=2:s lun!=3:i32 iscsiInterface=4:s fsType=5:s readOnly=6:b
    portals=7:[]s chapAuthDiscovery=8:b secretRef=10:LocalObjectReference chapAuthSession=11:b
    initiatorName!=12:s
core.v1.KeyToPath
    key!=1:s path!=2:s mode!=3:i32
core.v1.Lifecycle
    postStart=1:LifecycleHandler preStop=2:LifecycleHandler stopSignal!=3:s
core.v1.LifecycleHandler
    exec=1:ExecAction httpGet=2:HttpGetAction tcpSocket=3:TcpSocketAction sleep=4:SleepAction
core.v1.LimitRange
    metadata=1:meta.v1.ObjectMeta spec=2:LimitRangeSpec
core.v1.LimitRangeItem
    type!=1:s max=2:{}resource.Quantity min=3:{}resource.Quantity default=4:{}resource.Quantity
    defaultRequest=5:{}resource.Quantity maxLimitRequestRatio=6:{}resource.Quantity
core.v1.LimitRangeList
    metadata=1:meta.v1.ListMeta items=2:[]LimitRange
core.v1.LimitRangeSpec
    limits!=1:[]LimitRangeItem
core.v1.LinuxContainerUser
    uid!=1:i64 gid!=2:i64 supplementalGroups=3:[]i64
core.v1.List
    metadata=1:meta.v1.ListMeta items=2:[]runtime.RawExtension
core.v1.LoadBalancerIngress
    ip=1:s hostname=2:s ipMode!=3:s ports=4:[]PortStatus
core.v1.LoadBalancerStatus
    ingress=1:[]LoadBalancerIngress
core.v1.LocalObjectReference
    name=1:s
core.v1.LocalVolumeSource
    path!=1:s fsType!=2:s
core.v1.ModifyVolumeStatus
    targetVolumeAttributesClassName=1:s status!=2:s
core.v1.Namespace
    metadata=1:meta.v1.ObjectMeta spec=2:NamespaceSpec status=3:NamespaceStatus
core.v1.NamespaceCondition
    type!=1:s status!=2:s lastTransitionTime=4:meta.v1.Time reason=5:s message=6:s
core.v1.NamespaceList
    metadata=1:meta.v1.ListMeta items=2:[]Namespace
core.v1.NamespaceSpec
    finalizers=1:[]s
core.v1.NamespaceStatus
    phase=1:s conditions=2:[]NamespaceCondition
core.v1.NfsVolumeSource
    server!=1:s path!=2:s readOnly=3:b
core.v1.Node
    metadata=1:meta.v1.ObjectMeta spec=2:NodeSpec status=3:NodeStatus
core.v1.NodeAddress
    type!=1:s address!=2:s
core.v1.NodeAffinity
    requiredDuringSchedulingIgnoredDuringExecution=1:NodeSelector
    preferredDuringSchedulingIgnoredDuringExecution=2:[]PreferredSchedulingTerm
core.v1.NodeCondition
    type!=1:s status!=2:s lastHeartbeatTime=3:meta.v1.Time lastTransitionTime=4:meta.v1.Time
    reason=5:s message=6:s
core.v1.NodeConfigSource
    configMap=2:ConfigMapNodeConfigSource
core.v1.NodeConfigStatus
    assigned=1:NodeConfigSource active=2:NodeConfigSource lastKnownGood=3:NodeConfigSource
    error=4:s
core.v1.NodeDaemonEndpoints
    kubeletEndpoint=1:DaemonEndpoint
core.v1.NodeFeatures
    supplementalGroupsPolicy!=1:b
core.v1.NodeList
    metadata=1:meta.v1.ListMeta items=2:[]Node
core.v1.NodeRuntimeHandler
    name!=1:s features=2:NodeRuntimeHandlerFeatures
core.v1.NodeRuntimeHandlerFeatures
    recursiveReadOnlyMounts!=1:b userNamespaces!=2:b
core.v1.NodeSelector
    nodeSelectorTerms!=1:[]NodeSelectorTerm
core.v1.NodeSelectorRequirement
    key!=1:s operator!=2:s values=3:[]s
core.v1.NodeSelectorTerm
    matchExpressions=1:[]NodeSelectorRequirement matchFields=2:[]NodeSelectorRequirement
core.v1.NodeSpec
    podCIDR=1:s externalID=2:s providerID=3:s unschedulable=4:b taints=5:[]Taint
    configSource=6:NodeConfigSource podCIDRs=7:[]s
core.v1.NodeStatus
    capacity=1:{}resource.Quantity allocatable=2:{}resource.Quantity phase=3:s
    conditions=4:[]NodeCondition addresses=5:[]NodeAddress daemonEndpoints=6:NodeDaemonEndpoints
    nodeInfo=7:NodeSystemInfo images=8:[]ContainerImage volumesInUse=9:[]s
    volumesAttached=10:[]AttachedVolume config=11:NodeConfigStatus
    runtimeHandlers=12:[]NodeRuntimeHandler features=13:NodeFeatures declaredFeatures=14:[]s
core.v1.NodeSwapStatus
    capacity!=1:i64
core.v1.NodeSystemInfo
    machineID!=1:s systemUUID!=2:s bootID!=3:s kernelVersion!=4:s osImage!=5:s
    containerRuntimeVersion!=6:s kubeletVersion!=7:s kubeProxyVersion!=8:s operatingSystem!=9:s
    architecture!=10:s swap=11:NodeSwapStatus
core.v1.ObjectFieldSelector
    apiVersion=1:s fieldPath!=2:s
core.v1.ObjectReference
    kind=1:s namespace=2:s name=3:s uid=4:s apiVersion=5:s resourceVersion=6:s fieldPath=7:s
core.v1.PersistentVolume
    metadata=1:meta.v1.ObjectMeta spec=2:PersistentVolumeSpec status=3:PersistentVolumeStatus
core.v1.PersistentVolumeClaim
    metadata=1:meta.v1.ObjectMeta spec=2:PersistentVolumeClaimSpec
    status=3:PersistentVolumeClaimStatus
core.v1.PersistentVolumeClaimCondition
    type!=1:s status!=2:s lastProbeTime=3:meta.v1.Time lastTransitionTime=4:meta.v1.Time
    reason=5:s message=6:s
core.v1.PersistentVolumeClaimList
    metadata=1:meta.v1.ListMeta items=2:[]PersistentVolumeClaim
core.v1.PersistentVolumeClaimSpec
    accessModes=1:[]s resources=2:VolumeResourceRequirements volumeName=3:s
    selector=4:meta.v1.LabelSelector storageClassName!=5:s volumeMode!=6:s
    dataSource=7:TypedLocalObjectReference dataSourceRef=8:TypedObjectReference
    volumeAttributesClassName!=9:s
core.v1.PersistentVolumeClaimStatus
    phase=1:s accessModes=2:[]s capacity=3:{}resource.Quantity
    conditions=4:[]PersistentVolumeClaimCondition allocatedResources=5:{}resource.Quantity
    allocatedResourceStatuses=7:{}s currentVolumeAttributesClassName!=8:s
    modifyVolumeStatus=9:ModifyVolumeStatus
core.v1.PersistentVolumeClaimTemplate
    metadata=1:meta.v1.ObjectMeta spec=2:PersistentVolumeClaimSpec
core.v1.PersistentVolumeClaimVolumeSource
    claimName!=1:s readOnly=2:b
core.v1.PersistentVolumeList
    metadata=1:meta.v1.ListMeta items=2:[]PersistentVolume
core.v1.PersistentVolumeSource
    gcePersistentDisk=1:GcePersistentDiskVolumeSource
    awsElasticBlockStore=2:AwsElasticBlockStoreVolumeSource hostPath=3:HostPathVolumeSource
    glusterfs=4:GlusterfsPersistentVolumeSource nfs=5:NfsVolumeSource
    rbd=6:RbdPersistentVolumeSource iscsi=7:IscsiPersistentVolumeSource
    cinder=8:CinderPersistentVolumeSource cephfs=9:CephFsPersistentVolumeSource
    fc=10:FcVolumeSource flocker=11:FlockerVolumeSource flexVolume=12:FlexPersistentVolumeSource
    azureFile=13:AzureFilePersistentVolumeSource vsphereVolume=14:VsphereVirtualDiskVolumeSource
    quobyte=15:QuobyteVolumeSource azureDisk=16:AzureDiskVolumeSource
    photonPersistentDisk=17:PhotonPersistentDiskVolumeSource
    portworxVolume=18:PortworxVolumeSource scaleIO=19:ScaleIoPersistentVolumeSource
    local=20:LocalVolumeSource storageos=21:StorageOsPersistentVolumeSource
    csi=22:CSIPersistentVolumeSource
core.v1.PersistentVolumeSpec
    capacity=1:{}resource.Quantity ...=2:PersistentVolumeSource accessModes=3:[]s
    claimRef=4:ObjectReference persistentVolumeReclaimPolicy=5:s storageClassName=6:s
    mountOptions=7:[]s volumeMode!=8:s nodeAffinity=9:VolumeNodeAffinity
    volumeAttributesClassName!=10:s
core.v1.PersistentVolumeStatus
    phase=1:s message=2:s reason=3:s lastPhaseTransitionTime=4:meta.v1.Time
core.v1.PhotonPersistentDiskVolumeSource
    pdID!=1:s fsType=2:s
core.v1.Pod
    metadata=1:meta.v1.ObjectMeta spec=2:PodSpec status=3:PodStatus
core.v1.PodAffinity
    requiredDuringSchedulingIgnoredDuringExecution=1:[]PodAffinityTerm
    preferredDuringSchedulingIgnoredDuringExecution=2:[]WeightedPodAffinityTerm
core.v1.PodAffinityTerm
    labelSelector=1:meta.v1.LabelSelector namespaces=2:[]s topologyKey!=3:s
    namespaceSelector=4:meta.v1.LabelSelector matchLabelKeys=5:[]s mismatchLabelKeys=6:[]s
core.v1.PodAntiAffinity
    requiredDuringSchedulingIgnoredDuringExecution=1:[]PodAffinityTerm
    preferredDuringSchedulingIgnoredDuringExecution=2:[]WeightedPodAffinityTerm
core.v1.PodCertificateProjection
    signerName!=1:s keyType!=2:s maxExpirationSeconds!=3:i32 credentialBundlePath=4:s
    keyPath=5:s certificateChainPath=6:s userAnnotations=7:{}s
core.v1.PodCondition
    type!=1:s status!=2:s lastProbeTime=3:meta.v1.Time lastTransitionTime=4:meta.v1.Time
    reason=5:s message=6:s observedGeneration=7:i64
core.v1.PodDnsConfig
    nameservers=1:[]s searches=2:[]s options=3:[]PodDnsConfigOption
core.v1.PodDnsConfigOption
    name=1:s value!=2:s
core.v1.PodExtendedResourceClaimStatus
    requestMappings=1:[]ContainerExtendedResourceRequest resourceClaimName!=2:s
core.v1.PodIp
    ip!=1:s
core.v1.PodList
    metadata=1:meta.v1.ListMeta items=2:[]Pod
core.v1.PodOs
    name!=1:s
core.v1.PodReadinessGate
    conditionType!=1:s
core.v1.PodResourceClaim
    name!=1:s resourceClaimName!=3:s resourceClaimTemplateName!=4:s
core.v1.PodResourceClaimStatus
    name!=1:s resourceClaimName!=2:s
core.v1.PodSchedulingGate
    name!=1:s
core.v1.PodSecurityContext
    seLinuxOptions=1:SeLinuxOptions runAsUser!=2:i64 runAsNonRoot!=3:b
    supplementalGroups=4:[]i64 fsGroup!=5:i64 runAsGroup!=6:i64 sysctls=7:[]Sysctl
    windowsOptions=8:WindowsSecurityContextOptions fsGroupChangePolicy!=9:s
    seccompProfile=10:SeccompProfile appArmorProfile=11:AppArmorProfile
    supplementalGroupsPolicy!=12:s seLinuxChangePolicy!=13:s
core.v1.PodSpec
    volumes=1:[]Volume containers!=2:[]Container restartPolicy=3:s
    terminationGracePeriodSeconds!=4:i64 activeDeadlineSeconds!=5:i64 dnsPolicy=6:s
    nodeSelector=7:{}s serviceAccountName=8:s serviceAccount=9:s nodeName=10:s hostNetwork=11:b
    hostPID=12:b hostIPC=13:b securityContext=14:PodSecurityContext
    imagePullSecrets=15:[]LocalObjectReference hostname=16:s subdomain=17:s affinity=18:Affinity
    schedulerName=19:s initContainers=20:[]Container automountServiceAccountToken!=21:b
    tolerations=22:[]Toleration hostAliases=23:[]HostAlias priorityClassName=24:s
    priority!=25:i32 dnsConfig=26:PodDnsConfig shareProcessNamespace!=27:b
    readinessGates=28:[]PodReadinessGate runtimeClassName!=29:s enableServiceLinks!=30:b
    preemptionPolicy!=31:s overhead=32:{}resource.Quantity
    topologySpreadConstraints=33:[]TopologySpreadConstraint
    ephemeralContainers=34:[]EphemeralContainer setHostnameAsFQDN!=35:b os=36:PodOs
    hostUsers!=37:b schedulingGates=38:[]PodSchedulingGate resourceClaims=39:[]PodResourceClaim
    resources=40:ResourceRequirements hostnameOverride=41:s workloadRef=42:WorkloadReference
core.v1.PodStatus
    phase=1:s conditions=2:[]PodCondition message=3:s reason=4:s hostIP=5:s podIP=6:s
    startTime=7:meta.v1.Time containerStatuses=8:[]ContainerStatus qosClass=9:s
    initContainerStatuses=10:[]ContainerStatus nominatedNodeName=11:s podIPs=12:[]PodIp
    ephemeralContainerStatuses=13:[]ContainerStatus resize=14:s
    resourceClaimStatuses=15:[]PodResourceClaimStatus hostIPs=16:[]HostIp
    observedGeneration=17:i64 extendedResourceClaimStatus=18:PodExtendedResourceClaimStatus
    allocatedResources=19:{}resource.Quantity resources=20:ResourceRequirements
core.v1.PodStatusResult
    metadata=1:meta.v1.ObjectMeta status=2:PodStatus
core.v1.PodTemplate
    metadata=1:meta.v1.ObjectMeta template=2:PodTemplateSpec
core.v1.PodTemplateList
    metadata=1:meta.v1.ListMeta items=2:[]PodTemplate
core.v1.PodTemplateSpec
    metadata=1:meta.v1.ObjectMeta spec=2:PodSpec
core.v1.PortStatus
    port!=1:i32 protocol!=2:s error!=3:s
core.v1.PortworxVolumeSource
    volumeID!=1:s fsType=2:s readOnly=3:b
core.v1.PreferredSchedulingTerm
    weight!=1:i32 preference=2:NodeSelectorTerm
core.v1.Probe
    ...=1:ProbeHandler initialDelaySeconds=2:i32 timeoutSeconds=3:i32 periodSeconds=4:i32
    successThreshold=5:i32 failureThreshold=6:i32 terminationGracePeriodSeconds!=7:i64
core.v1.ProbeHandler
    exec=1:ExecAction httpGet=2:HttpGetAction tcpSocket=3:TcpSocketAction grpc=4:GrpcAction
core.v1.ProjectedVolumeSource
    sources!=1:[]VolumeProjection defaultMode!=2:i32
core.v1.QuobyteVolumeSource
    registry!=1:s volume!=2:s readOnly=3:b user=4:s group=5:s tenant=6:s
core.v1.RangeAllocation
    metadata=1:meta.v1.ObjectMeta range!=2:s data!=3:by
core.v1.RbdPersistentVolumeSource
    monitors=1:[]s image!=2:s fsType=3:s pool=4:s user=5:s keyring=6:s
    secretRef=7:SecretReference readOnly=8:b
core.v1.RbdVolumeSource
    monitors!=1:[]s image!=2:s fsType=3:s pool=4:s user=5:s keyring=6:s
    secretRef=7:LocalObjectReference readOnly=8:b
core.v1.ReplicationController
    metadata=1:meta.v1.ObjectMeta spec=2:ReplicationControllerSpec
    status=3:ReplicationControllerStatus
core.v1.ReplicationControllerCondition
    type!=1:s status!=2:s lastTransitionTime=3:meta.v1.Time reason=4:s message=5:s
core.v1.ReplicationControllerList
    metadata=1:meta.v1.ListMeta items=2:[]ReplicationController
core.v1.ReplicationControllerSpec
    replicas!=1:i32 selector=2:{}s template=3:PodTemplateSpec minReadySeconds=4:i32
core.v1.ReplicationControllerStatus
    replicas!=1:i32 fullyLabeledReplicas=2:i32 observedGeneration=3:i64 readyReplicas=4:i32
    availableReplicas=5:i32 conditions=6:[]ReplicationControllerCondition
core.v1.ResourceClaim
    name!=1:s request=2:s
core.v1.ResourceFieldSelector
    containerName=1:s resource!=2:s divisor=3:resource.Quantity
core.v1.ResourceHealth
    resourceID!=1:s health=2:s
core.v1.ResourceQuota
    metadata=1:meta.v1.ObjectMeta spec=2:ResourceQuotaSpec status=3:ResourceQuotaStatus
core.v1.ResourceQuotaList
    metadata=1:meta.v1.ListMeta items=2:[]ResourceQuota
core.v1.ResourceQuotaSpec
    hard=1:{}resource.Quantity scopes=2:[]s scopeSelector=3:ScopeSelector
core.v1.ResourceQuotaStatus
    hard=1:{}resource.Quantity used=2:{}resource.Quantity
core.v1.ResourceRequirements
    limits=1:{}resource.Quantity requests=2:{}resource.Quantity claims=3:[]ResourceClaim
core.v1.ResourceStatus
    name!=1:s resources=2:[]ResourceHealth
core.v1.ScaleIoPersistentVolumeSource
    gateway!=1:s system!=2:s secretRef=3:SecretReference sslEnabled=4:b protectionDomain=5:s
    storagePool=6:s storageMode=7:s volumeName=8:s fsType=9:s readOnly=10:b
core.v1.ScaleIoVolumeSource
    gateway!=1:s system!=2:s secretRef!=3:LocalObjectReference sslEnabled=4:b
    protectionDomain=5:s storagePool=6:s storageMode=7:s volumeName=8:s fsType=9:s readOnly=10:b
core.v1.ScopeSelector
    matchExpressions=1:[]ScopedResourceSelectorRequirement
core.v1.ScopedResourceSelectorRequirement
    scopeName!=1:s operator!=2:s values=3:[]s
core.v1.SeLinuxOptions
    user=1:s role=2:s type=3:s level=4:s
core.v1.SeccompProfile
    type!=1:s localhostProfile!=2:s
core.v1.Secret
    metadata=1:meta.v1.ObjectMeta data=2:{}by type=3:s stringData=4:{}s immutable!=5:b
core.v1.SecretEnvSource
    ...=1:LocalObjectReference optional!=2:b
core.v1.SecretKeySelector
    ...=1:LocalObjectReference key!=2:s optional!=3:b
core.v1.SecretList
    metadata=1:meta.v1.ListMeta items=2:[]Secret
core.v1.SecretProjection
    ...=1:LocalObjectReference items=2:[]KeyToPath optional!=4:b
core.v1.SecretReference
    name=1:s namespace=2:s
core.v1.SecretVolumeSource
    secretName=1:s items=2:[]KeyToPath defaultMode!=3:i32 optional!=4:b
core.v1.SecurityContext
    capabilities=1:Capabilities privileged!=2:b seLinuxOptions=3:SeLinuxOptions runAsUser!=4:i64
    runAsNonRoot!=5:b readOnlyRootFilesystem!=6:b allowPrivilegeEscalation!=7:b
    runAsGroup!=8:i64 procMount!=9:s windowsOptions=10:WindowsSecurityContextOptions
    seccompProfile=11:SeccompProfile appArmorProfile=12:AppArmorProfile
core.v1.Service
    metadata=1:meta.v1.ObjectMeta spec=2:ServiceSpec status=3:ServiceStatus
core.v1.ServiceAccount
    metadata=1:meta.v1.ObjectMeta secrets=2:[]ObjectReference
    imagePullSecrets=3:[]LocalObjectReference automountServiceAccountToken!=4:b
core.v1.ServiceAccountList
    metadata=1:meta.v1.ListMeta items=2:[]ServiceAccount
core.v1.ServiceAccountTokenProjection
    audience=1:s expirationSeconds!=2:i64 path!=3:s
core.v1.ServiceList
    metadata=1:meta.v1.ListMeta items=2:[]Service
core.v1.ServicePort
    name=1:s protocol=2:s port!=3:i32 targetPort=4:intstr.IntOrString nodePort=5:i32
    appProtocol!=6:s
core.v1.ServiceSpec
    ports=1:[]ServicePort selector=2:{}s clusterIP=3:s type=4:s externalIPs=5:[]s
    sessionAffinity=7:s loadBalancerIP=8:s loadBalancerSourceRanges=9:[]s externalName=10:s
    externalTrafficPolicy=11:s healthCheckNodePort=12:i32 publishNotReadyAddresses=13:b
    sessionAffinityConfig=14:SessionAffinityConfig ipFamilyPolicy!=17:s clusterIPs=18:[]s
    ipFamilies=19:[]s allocateLoadBalancerNodePorts!=20:b loadBalancerClass!=21:s
    internalTrafficPolicy!=22:s trafficDistribution!=23:s
core.v1.ServiceStatus
    loadBalancer=1:LoadBalancerStatus conditions=2:[]meta.v1.Condition
core.v1.SessionAffinityConfig
    clientIP=1:ClientIpConfig
core.v1.SleepAction
    seconds!=1:i64
core.v1.StorageOsPersistentVolumeSource
    volumeName=1:s volumeNamespace=2:s fsType=3:s readOnly=4:b secretRef=5:ObjectReference
core.v1.StorageOsVolumeSource
    volumeName=1:s volumeNamespace=2:s fsType=3:s readOnly=4:b secretRef=5:LocalObjectReference
core.v1.Sysctl
    name!=1:s value!=2:s
core.v1.Taint
    key!=1:s value=2:s effect!=3:s timeAdded=4:meta.v1.Time
core.v1.TcpSocketAction
    port=1:intstr.IntOrString host=2:s
core.v1.Toleration
    key=1:s operator=2:s value=3:s effect=4:s tolerationSeconds!=5:i64
core.v1.TopologySpreadConstraint
    maxSkew!=1:i32 topologyKey!=2:s whenUnsatisfiable!=3:s labelSelector=4:meta.v1.LabelSelector
    minDomains!=5:i32 nodeAffinityPolicy!=6:s nodeTaintsPolicy!=7:s matchLabelKeys=8:[]s
core.v1.TypedLocalObjectReference
    apiGroup!=1:s kind!=2:s name!=3:s
core.v1.TypedObjectReference
    apiGroup!=1:s kind!=2:s name!=3:s namespace!=4:s
core.v1.Volume
    name!=1:s ...=2:VolumeSource
core.v1.VolumeDevice
    name!=1:s devicePath!=2:s
core.v1.VolumeMount
    name!=1:s readOnly=2:b mountPath!=3:s subPath=4:s mountPropagation!=5:s subPathExpr=6:s
    recursiveReadOnly!=7:s
core.v1.VolumeMountStatus
    name!=1:s mountPath!=2:s readOnly=3:b recursiveReadOnly!=4:s
core.v1.VolumeNodeAffinity
    required=1:NodeSelector
core.v1.VolumeProjection
    secret=1:SecretProjection downwardAPI=2:DownwardAPIProjection
    configMap=3:ConfigMapProjection serviceAccountToken=4:ServiceAccountTokenProjection
    clusterTrustBundle=5:ClusterTrustBundleProjection podCertificate=6:PodCertificateProjection
core.v1.VolumeResourceRequirements
    limits=1:{}resource.Quantity requests=2:{}resource.Quantity
core.v1.VolumeSource
    hostPath=1:HostPathVolumeSource emptyDir=2:EmptyDirVolumeSource
    gcePersistentDisk=3:GcePersistentDiskVolumeSource
    awsElasticBlockStore=4:AwsElasticBlockStoreVolumeSource gitRepo=5:GitRepoVolumeSource
    secret=6:SecretVolumeSource nfs=7:NfsVolumeSource iscsi=8:IscsiVolumeSource
    glusterfs=9:GlusterfsVolumeSource persistentVolumeClaim=10:PersistentVolumeClaimVolumeSource
    rbd=11:RbdVolumeSource flexVolume=12:FlexVolumeSource cinder=13:CinderVolumeSource
    cephfs=14:CephFsVolumeSource flocker=15:FlockerVolumeSource
    downwardAPI=16:DownwardAPIVolumeSource fc=17:FcVolumeSource
    azureFile=18:AzureFileVolumeSource configMap=19:ConfigMapVolumeSource
    vsphereVolume=20:VsphereVirtualDiskVolumeSource quobyte=21:QuobyteVolumeSource
    azureDisk=22:AzureDiskVolumeSource photonPersistentDisk=23:PhotonPersistentDiskVolumeSource
    portworxVolume=24:PortworxVolumeSource scaleIO=25:ScaleIoVolumeSource
    projected=26:ProjectedVolumeSource storageos=27:StorageOsVolumeSource csi=28:CSIVolumeSource
    ephemeral=29:EphemeralVolumeSource image=30:ImageVolumeSource
core.v1.VsphereVirtualDiskVolumeSource
    volumePath!=1:s fsType=2:s storagePolicyName=3:s storagePolicyID=4:s
core.v1.WeightedPodAffinityTerm
    weight!=1:i32 podAffinityTerm=2:PodAffinityTerm
core.v1.WindowsSecurityContextOptions
    gmsaCredentialSpecName!=1:s gmsaCredentialSpec!=2:s runAsUserName!=3:s hostProcess!=4:b
core.v1.WorkloadReference
    name!=1:s podGroup!=2:s podGroupReplicaKey=3:s
discovery.v1.Endpoint
    addresses!=1:[]s conditions=2:EndpointConditions hostname!=3:s
    targetRef=4:core.v1.ObjectReference deprecatedTopology=5:{}s nodeName!=6:s zone!=7:s
    hints=8:EndpointHints
discovery.v1.EndpointConditions
    ready!=1:b serving!=2:b terminating!=3:b
discovery.v1.EndpointHints
    forZones=1:[]ForZone forNodes=2:[]ForNode
discovery.v1.EndpointPort
    name!=1:s protocol!=2:s port!=3:i32 appProtocol!=4:s
discovery.v1.EndpointSlice
    metadata=1:meta.v1.ObjectMeta endpoints!=2:[]Endpoint ports=3:[]EndpointPort
    addressType!=4:s
discovery.v1.EndpointSliceList
    metadata=1:meta.v1.ListMeta items=2:[]EndpointSlice
discovery.v1.ForNode
    name!=1:s
discovery.v1.ForZone
    name!=1:s
events.v1.Event
    metadata=1:meta.v1.ObjectMeta eventTime=2:meta.v1.MicroTime series=3:EventSeries
    reportingController=4:s reportingInstance=5:s action=6:s reason=7:s
    regarding=8:core.v1.ObjectReference related=9:core.v1.ObjectReference note=10:s type=11:s
    deprecatedSource=12:core.v1.EventSource deprecatedFirstTimestamp=13:meta.v1.Time
    deprecatedLastTimestamp=14:meta.v1.Time deprecatedCount=15:i32
events.v1.EventList
    metadata=1:meta.v1.ListMeta items=2:[]Event
events.v1.EventSeries
    count!=1:i32 lastObservedTime=2:meta.v1.MicroTime
meta.v1.Condition
    type!=1:s status!=2:s observedGeneration=3:i64 lastTransitionTime=4:Time reason!=5:s
    message!=6:s
meta.v1.DeleteOptions
    gracePeriodSeconds!=1:i64 preconditions=2:Preconditions orphanDependents!=3:b
    propagationPolicy!=4:s dryRun=5:[]s ignoreStoreReadErrorWithClusterBreakingPotential!=6:b
meta.v1.FieldSelectorRequirement
    key!=1:s operator!=2:s values=3:[]s
meta.v1.LabelSelector
    matchLabels=1:{}s matchExpressions=2:[]LabelSelectorRequirement
meta.v1.LabelSelectorRequirement
    key!=1:s operator!=2:s values=3:[]s
meta.v1.ListMeta
    selfLink=1:s resourceVersion=2:s continue=3:s remainingItemCount!=4:i64
meta.v1.ManagedFieldsEntry
    manager=1:s operation=2:s apiVersion=3:s time=4:Time fieldsType=6:s fieldsV1=7:FieldsV1
    subresource=8:s
meta.v1.ObjectMeta
    name=1:s generateName=2:s namespace=3:s selfLink=4:s uid=5:s resourceVersion=6:s
    generation=7:i64 creationTimestamp=8:Time deletionTimestamp=9:Time
    deletionGracePeriodSeconds!=10:i64 labels=11:{}s annotations=12:{}s
    ownerReferences=13:[]OwnerReference finalizers=14:[]s managedFields=17:[]ManagedFieldsEntry
meta.v1.OwnerReference
    kind!=1:s name!=3:s uid!=4:s apiVersion!=5:s controller!=6:b blockOwnerDeletion!=7:b
meta.v1.Preconditions
    uid!=1:s resourceVersion!=2:s
networking.v1.HttpIngressPath
    path=1:s backend=2:IngressBackend pathType!=3:s
networking.v1.HttpIngressRuleValue
    paths!=1:[]HttpIngressPath
networking.v1.IPAddress
    metadata=1:meta.v1.ObjectMeta spec=2:IPAddressSpec
networking.v1.IPAddressList
    metadata=1:meta.v1.ListMeta items=2:[]IPAddress
networking.v1.IPAddressSpec
    parentRef=1:ParentReference
networking.v1.Ingress
    metadata=1:meta.v1.ObjectMeta spec=2:IngressSpec status=3:IngressStatus
networking.v1.IngressBackend
    resource=3:core.v1.TypedLocalObjectReference service=4:IngressServiceBackend
networking.v1.IngressClass
    metadata=1:meta.v1.ObjectMeta spec=2:IngressClassSpec
networking.v1.IngressClassList
    metadata=1:meta.v1.ListMeta items=2:[]IngressClass
networking.v1.IngressClassParametersReference
    apiGroup!=1:s kind!=2:s name!=3:s scope!=4:s namespace!=5:s
networking.v1.IngressClassSpec
    controller=1:s parameters=2:IngressClassParametersReference
networking.v1.IngressList
    metadata=1:meta.v1.ListMeta items=2:[]Ingress
networking.v1.IngressLoadBalancerIngress
    ip=1:s hostname=2:s ports=4:[]IngressPortStatus
networking.v1.IngressLoadBalancerStatus
    ingress=1:[]IngressLoadBalancerIngress
networking.v1.IngressPortStatus
    port!=1:i32 protocol!=2:s error!=3:s
networking.v1.IngressRule
    host=1:s ...=2:IngressRuleValue
networking.v1.IngressRuleValue
    http=1:HttpIngressRuleValue
networking.v1.IngressServiceBackend
    name!=1:s port=2:ServiceBackendPort
networking.v1.IngressSpec
    defaultBackend=1:IngressBackend tls=2:[]IngressTls rules=3:[]IngressRule
    ingressClassName!=4:s
networking.v1.IngressStatus
    loadBalancer=1:IngressLoadBalancerStatus
networking.v1.IngressTls
    hosts=1:[]s secretName=2:s
networking.v1.IpBlock
    cidr!=1:s except=2:[]s
networking.v1.NetworkPolicy
    metadata=1:meta.v1.ObjectMeta spec=2:NetworkPolicySpec
networking.v1.NetworkPolicyEgressRule
    ports=1:[]NetworkPolicyPort to=2:[]NetworkPolicyPeer
networking.v1.NetworkPolicyIngressRule
    ports=1:[]NetworkPolicyPort from=2:[]NetworkPolicyPeer
networking.v1.NetworkPolicyList
    metadata=1:meta.v1.ListMeta items=2:[]NetworkPolicy
networking.v1.NetworkPolicyPeer
    podSelector=1:meta.v1.LabelSelector namespaceSelector=2:meta.v1.LabelSelector
    ipBlock=3:IpBlock
networking.v1.NetworkPolicyPort
    protocol!=1:s port=2:intstr.IntOrString endPort!=3:i32
networking.v1.NetworkPolicySpec
    podSelector=1:meta.v1.LabelSelector ingress=2:[]NetworkPolicyIngressRule
    egress=3:[]NetworkPolicyEgressRule policyTypes=4:[]s
networking.v1.ParentReference
    group=1:s resource!=2:s namespace=3:s name!=4:s
networking.v1.ServiceBackendPort
    name=1:s number=2:i32
networking.v1.ServiceCIDR
    metadata=1:meta.v1.ObjectMeta spec=2:ServiceCIDRSpec status=3:ServiceCIDRStatus
networking.v1.ServiceCIDRList
    metadata=1:meta.v1.ListMeta items=2:[]ServiceCIDR
networking.v1.ServiceCIDRSpec
    cidrs=1:[]s
networking.v1.ServiceCIDRStatus
    conditions=1:[]meta.v1.Condition
policy.v1.Eviction
    metadata=1:meta.v1.ObjectMeta deleteOptions=2:meta.v1.DeleteOptions
policy.v1.PodDisruptionBudget
    metadata=1:meta.v1.ObjectMeta spec=2:PodDisruptionBudgetSpec
    status=3:PodDisruptionBudgetStatus
policy.v1.PodDisruptionBudgetList
    metadata=1:meta.v1.ListMeta items=2:[]PodDisruptionBudget
policy.v1.PodDisruptionBudgetSpec
    minAvailable=1:intstr.IntOrString selector=2:meta.v1.LabelSelector
    maxUnavailable=3:intstr.IntOrString unhealthyPodEvictionPolicy!=4:s
policy.v1.PodDisruptionBudgetStatus
    observedGeneration=1:i64 disruptedPods=2:{}meta.v1.Time disruptionsAllowed!=3:i32
    currentHealthy!=4:i32 desiredHealthy!=5:i32 expectedPods!=6:i32
    conditions=7:[]meta.v1.Condition
rbac.v1.AggregationRule
    clusterRoleSelectors=1:[]meta.v1.LabelSelector
rbac.v1.ClusterRole
    metadata=1:meta.v1.ObjectMeta rules!=2:[]PolicyRule aggregationRule=3:AggregationRule
rbac.v1.ClusterRoleBinding
    metadata=1:meta.v1.ObjectMeta subjects=2:[]Subject roleRef=3:RoleRef
rbac.v1.ClusterRoleBindingList
    metadata=1:meta.v1.ListMeta items=2:[]ClusterRoleBinding
rbac.v1.ClusterRoleList
    metadata=1:meta.v1.ListMeta items=2:[]ClusterRole
rbac.v1.PolicyRule
    verbs!=1:[]s apiGroups=2:[]s resources=3:[]s resourceNames=4:[]s nonResourceURLs=5:[]s
rbac.v1.Role
    metadata=1:meta.v1.ObjectMeta rules!=2:[]PolicyRule
rbac.v1.RoleBinding
    metadata=1:meta.v1.ObjectMeta subjects=2:[]Subject roleRef=3:RoleRef
rbac.v1.RoleBindingList
    metadata=1:meta.v1.ListMeta items=2:[]RoleBinding
rbac.v1.RoleList
    metadata=1:meta.v1.ListMeta items=2:[]Role
rbac.v1.RoleRef
    apiGroup!=1:s kind!=2:s name!=3:s
rbac.v1.Subject
    kind!=1:s apiGroup=2:s name!=3:s namespace=4:s
scheduling.v1.PriorityClass
    metadata=1:meta.v1.ObjectMeta value!=2:i32 globalDefault=3:b description=4:s
    preemptionPolicy!=5:s
scheduling.v1.PriorityClassList
    metadata=1:meta.v1.ListMeta items=2:[]PriorityClass
";

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions as ext;
    use k8s_pb::apimachinery::pkg::apis::meta;
    use k8s_pb::{api, apimachinery::pkg as machinery};
    use prost::Message as _;
    use serde_json::json;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// Wraps a typed message as kubectl does: magic, then `runtime.Unknown`.
    fn wrap(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = Vec::new();
        put_len(&mut type_meta, 1, api_version.as_bytes());
        put_len(&mut type_meta, 2, kind.as_bytes());
        let mut body = MAGIC.to_vec();
        put_len(&mut body, 1, &type_meta);
        put_len(&mut body, 2, raw);
        put_len(&mut body, 3, b"");
        put_len(&mut body, 4, b"");
        body
    }

    fn put_varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn put_key(out: &mut Vec<u8>, tag: u32, wire_type: u64) {
        put_varint(out, (u64::from(tag) << 3) | wire_type);
    }

    fn put_len(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
        put_key(out, tag, 2);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    fn put_uint(out: &mut Vec<u8>, tag: u32, value: u64) {
        put_key(out, tag, 0);
        put_varint(out, value);
    }

    fn decode_pb(api_version: &str, kind: &str, message: &impl prost::Message) -> Value {
        decode(&wrap(api_version, kind, &message.encode_to_vec())).unwrap()
    }

    fn object_meta(name: &str) -> Option<meta::v1::ObjectMeta> {
        Some(meta::v1::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        })
    }

    /// Real request bodies of kubectl 1.32, each with the JSON the same command sends as
    /// `--dry-run=client -o json` (or kubectl 1.31 sends as its body).
    const KUBECTL: &[(&str, &str)] = &[
        // kubectl create namespace ns1
        (
            "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a00320038004200\
             12001a020a001a002200",
            r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns1","creationTimestamp":null},"spec":{},"status":{}}"#,
        ),
        // kubectl create deployment d1 --image=nginx --replicas=0 --port=80
        (
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bb010a240a02643112001a0764656661\
             756c7422002a003200380042005a090a03617070120264311284010800120b0a090a03617070120264311a6b\
             0a1b0a0012001a0022002a003200380042005a090a0361707012026431124c122e0a056e67696e7812056e67\
             696e782a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a0052\
             005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a0022\
             00",
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d1","namespace":"default","creationTimestamp":null,"labels":{"app":"d1"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"d1"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"d1"}},"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],"resources":{}}]}},"strategy":{}},"status":{}}"#,
        ),
        // kubectl create secret generic s1 --from-literal=k=v
        (
            "6b3873000a0c0a027631120653656372657412250a190a02733112001a0764656661756c7422002a00320038\
             00420012060a016b1201761a001a002200",
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1","namespace":"default","creationTimestamp":null},"data":{"k":"dg=="}}"#,
        ),
        // kubectl create service nodeport svc1 --tcp=80:8080
        (
            "6b3873000a0d0a02763112075365727669636512720a280a047376633112001a0764656661756c7422002a00\
             3200380042005a0b0a0361707012047376633112420a1b0a0738302d38303830120354435018502207080010\
             903f1a002800120b0a036170701204737663311a0022084e6f6465506f72743a00420052005a00600068001a\
             020a001a002200",
            r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc1","namespace":"default","creationTimestamp":null,"labels":{"app":"svc1"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"svc1"},"type":"NodePort"},"status":{"loadBalancer":{}}}"#,
        ),
        // kubectl create cronjob cj1 --image=busybox --schedule='*/5 * * * *'
        (
            "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a8010a1a0a03636a3112001a076465666175\
             6c7422002a003200380042001287010a0b2a2f35202a202a202a202a1a002a760a130a03636a3112001a0022\
             002a00320038004200125f325d0a100a0012001a0022002a00320038004200124912220a03636a3112076275\
             7379626f782a0042006a007200800100880100900100a201001a094f6e4661696c757265320042004a005200\
             5800600068008201008a01009a0100c201001a001a002200",
            r#"{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"cj1","namespace":"default","creationTimestamp":null},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"metadata":{"name":"cj1","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"cj1","image":"busybox","resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}"#,
        ),
        // kubectl create ingress ing1 --rule='foo.com/bar*=svc:80,tls=secret'
        (
            "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e677265737312640a1b0a0469\
             6e673112001a0764656661756c7422002a00320038004200124112110a07666f6f2e636f6d12067365637265\
             741a2c0a07666f6f2e636f6d12210a1f0a1d0a042f626172120d220b0a0373766312040a0010501a06507265\
             6669781a020a001a002200",
            r#"{"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"ing1","namespace":"default","creationTimestamp":null},"spec":{"tls":[{"hosts":["foo.com"],"secretName":"secret"}],"rules":[{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Prefix","backend":{"service":{"name":"svc","port":{"number":80}}}}]}}]},"status":{"loadBalancer":{}}}"#,
        ),
        // kubectl create clusterrole cr1 --aggregation-rule=a=b
        (
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c75737465\
             72526f6c6512210a130a0363723112001a0022002a003200380042001a0a0a080a060a01611201621a002200",
            r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"cr1","creationTimestamp":null},"rules":null,"aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"a":"b"}}]}}"#,
        ),
        // kubectl create quota q1 --hard=pods=2,requests.cpu=500m
        (
            "6b3873000a130a027631120d5265736f7572636551756f746112440a190a02713112001a0764656661756c74\
             22002a0032003800420012250a0b0a04706f647312030a01320a160a0c72657175657374732e63707512060a\
             043530306d1a001a002200",
            r#"{"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"q1","namespace":"default","creationTimestamp":null},"spec":{"hard":{"pods":"2","requests.cpu":"500m"}},"status":{}}"#,
        ),
        // kubectl create token sa1 --duration=1h --audience=a
        (
            "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565\
             737412200a100a0012001a0022002a0032003800420012060a016120901c1a040a0012001a002200",
            r#"{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"audiences":["a"],"expirationSeconds":3600,"boundObjectRef":null},"status":{"token":"","expirationTimestamp":null}}"#,
        ),
        // kubectl auth can-i get pods
        (
            "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374\
             416363657373526576696577123c0a100a0012001a0022002a00320038004200121e0a1c0a0764656661756c\
             7412036765741a0022002a04706f647332003a001a08080012001a0020001a002200",
            r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}},"status":{"allowed":false}}"#,
        ),
        // kubectl auth can-i --list
        (
            "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a656374\
             52756c657352657669657712230a100a0012001a0022002a0032003800420012090a0764656661756c741a04\
             180022001a002200",
            r#"{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"namespace":"default"},"status":{"resourceRules":null,"nonResourceRules":null,"incomplete":false}}"#,
        ),
        // kubectl auth whoami
        (
            "6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a6563\
             74526576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200",
            r#"{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}"#,
        ),
        // kubectl autoscale deployment x --max=3 --cpu-percent=50
        (
            "6b3873000a290a0e6175746f7363616c696e672f76311217486f72697a6f6e74616c506f644175746f736361\
             6c657212390a110a017812001a0022002a00320038004200121e0a180a0a4465706c6f796d656e741201781a\
             07617070732f7631180320321a04180020001a002200",
            r#"{"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v1","metadata":{"name":"x","creationTimestamp":null},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"x","apiVersion":"apps/v1"},"maxReplicas":3,"targetCPUUtilizationPercentage":50},"status":{"currentReplicas":0,"desiredReplicas":0}}"#,
        ),
        // kubectl create priorityclass pc1 --value=10
        (
            "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c61737312\
             310a130a0370633112001a0022002a00320038004200100a180022002a14507265656d70744c6f7765725072\
             696f726974791a002200",
            r#"{"kind":"PriorityClass","apiVersion":"scheduling.k8s.io/v1","metadata":{"name":"pc1","creationTimestamp":null},"value":10,"preemptionPolicy":"PreemptLowerPriority"}"#,
        ),
        // kubectl certificate approve csr1
        (
            "6b3873000a330a166365727469666963617465732e6b38732e696f2f76311219436572746966696361746553\
             69676e696e675265717565737412fa010a1f0a046373723112001a0022002a0275313201353800420808eeae\
             c8b106100012700a0568656c6c6f1205616c6963651a0022026731221473797374656d3a61757468656e7469\
             63617465642a0b636c69656e74206175746832100a0673636f70657312060a01610a01623a236b756265726e\
             657465732e696f2f6b7562652d6170697365727665722d636c69656e7440001a650a630a08417070726f7665\
             64120e4b75626563746c417070726f76651a3554686973204353522077617320617070726f76656420627920\
             6b75626563746c20636572746966696361746520617070726f76652e220808e0fd92d80610002a0032045472\
             75651a002200",
            r#"{"kind":"CertificateSigningRequest","apiVersion":"certificates.k8s.io/v1","metadata":{"name":"csr1","uid":"u1","resourceVersion":"5","creationTimestamp":"2024-05-01T10:20:30Z"},"spec":{"request":"aGVsbG8=","signerName":"kubernetes.io/kube-apiserver-client","expirationSeconds":0,"usages":["client auth"],"username":"alice","groups":["g1","system:authenticated"],"extra":{"scopes":["a","b"]}},"status":{"conditions":[{"type":"Approved","status":"True","reason":"KubectlApprove","message":"This CSR was approved by kubectl certificate approve.","lastUpdateTime":"2026-11-23T22:32:00Z","lastTransitionTime":null}]}}"#,
        ),
    ];

    #[test]
    fn kubectl_bodies_decode_to_kubectl_json() {
        for (body, want) in KUBECTL {
            let want: Value = serde_json::from_str(want).unwrap();
            assert_eq!(decode(&hex(body)).unwrap(), want);
        }
    }

    #[test]
    fn truncated_and_corrupted_bodies_fail_cleanly() {
        for (body, _) in KUBECTL {
            let body = hex(body);
            for end in 0..body.len() {
                let _ = decode(&body[..end]);
            }
            for at in MAGIC.len()..body.len() {
                for byte in [0x00, 0x07, 0x0a, 0x80, 0xff] {
                    let mut corrupt = body.clone();
                    corrupt[at] = byte;
                    let _ = decode(&corrupt);
                }
            }
        }
        assert!(matches!(decode(b"k8s"), Err(ApiError::BadRequest(_))));
        assert!(matches!(
            decode(b"{\"kind\":\"Pod\"}"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(decode(MAGIC), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn unknown_kinds_and_encodings_are_unsupported() {
        let err = decode(&wrap("example.com/v1", "Widget", b"")).unwrap_err();
        assert!(
            matches!(&err, ApiError::UnsupportedMediaType(m) if m.contains("Widget")),
            "{err:?}"
        );
        // A message of a served group that is not a kind.
        assert!(matches!(
            decode(&wrap("v1", "PodSpec", b"")),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        let mut gzip = MAGIC.to_vec();
        let mut type_meta = Vec::new();
        put_len(&mut type_meta, 1, b"v1");
        put_len(&mut type_meta, 2, b"Namespace");
        put_len(&mut gzip, 1, &type_meta);
        put_len(&mut gzip, 3, b"gzip");
        assert!(matches!(
            decode(&gzip),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut raw = api::core::v1::ConfigMap {
            metadata: object_meta("c"),
            ..Default::default()
        }
        .encode_to_vec();
        put_uint(&mut raw, 99, 7);
        put_len(&mut raw, 98, b"future");
        let got = decode(&wrap("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            got,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        // JSONSchemaProps.not (tag 28), nested far past MAX_DEPTH.
        let mut props = Vec::new();
        for _ in 0..10_000 {
            let mut outer = Vec::new();
            put_len(&mut outer, 28, &props);
            props = outer;
        }
        let mut validation = Vec::new();
        put_len(&mut validation, 1, &props);
        let mut version = Vec::new();
        put_len(&mut version, 4, &validation);
        let mut spec = Vec::new();
        put_len(&mut spec, 7, &version);
        let mut crd = Vec::new();
        put_len(&mut crd, 2, &spec);
        let err = decode(&wrap(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            &crd,
        ))
        .unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)), "{err:?}");
    }

    #[test]
    fn secret_bytes_are_base64_and_pointer_zeros_survive() {
        let secret = api::core::v1::Secret {
            metadata: object_meta("s"),
            data: [("k".to_string(), b"\x00\xffhi".to_vec())].into(),
            immutable: Some(false),
            ..Default::default()
        };
        assert_eq!(
            decode_pb("v1", "Secret", &secret),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"k": "AP9oaQ=="}, "immutable": false})
        );
    }

    #[test]
    fn eviction_keeps_grace_period_zero() {
        let eviction = api::policy::v1::Eviction {
            metadata: Some(meta::v1::ObjectMeta {
                name: Some("p1".into()),
                namespace: Some("default".into()),
                creation_timestamp: Some(meta::v1::Time::default()),
                ..Default::default()
            }),
            delete_options: Some(meta::v1::DeleteOptions {
                grace_period_seconds: Some(0),
                ..Default::default()
            }),
        };
        // What kubectl drain sends as JSON.
        assert_eq!(
            decode_pb("policy/v1", "Eviction", &eviction),
            json!({"kind":"Eviction","apiVersion":"policy/v1","metadata":{"name":"p1","namespace":"default","creationTimestamp":null},"deleteOptions":{"gracePeriodSeconds":0}})
        );
        let options = meta::v1::DeleteOptions {
            propagation_policy: Some("Foreground".into()),
            dry_run: vec!["All".into()],
            ..Default::default()
        };
        assert_eq!(
            decode_pb("apps/v1", "DeleteOptions", &options),
            json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground", "dryRun": ["All"]})
        );
    }

    #[test]
    fn times_quantities_and_int_or_string() {
        let lease = api::coordination::v1::Lease {
            metadata: object_meta("l"),
            spec: Some(api::coordination::v1::LeaseSpec {
                holder_identity: Some("n1".into()),
                lease_duration_seconds: Some(40),
                acquire_time: Some(meta::v1::MicroTime {
                    seconds: Some(1_700_000_000),
                    nanos: Some(123_456_789),
                }),
                renew_time: Some(meta::v1::MicroTime {
                    seconds: Some(-1),
                    nanos: Some(0),
                }),
                ..Default::default()
            }),
        };
        assert_eq!(
            decode_pb("coordination.k8s.io/v1", "Lease", &lease)["spec"],
            json!({"holderIdentity": "n1", "leaseDurationSeconds": 40,
                   "acquireTime": "2023-11-14T22:13:20.123456Z", "renewTime": "1969-12-31T23:59:59.000000Z"})
        );
        let int_or_string = |value: Result<i32, &str>| machinery::util::intstr::IntOrString {
            r#type: Some(i64::from(value.is_err())),
            int_val: value.ok(),
            str_val: value.err().map(str::to_string),
        };
        let pdb = api::policy::v1::PodDisruptionBudget {
            metadata: object_meta("p"),
            spec: Some(api::policy::v1::PodDisruptionBudgetSpec {
                min_available: Some(int_or_string(Ok(2))),
                max_unavailable: Some(int_or_string(Err("25%"))),
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            decode_pb("policy/v1", "PodDisruptionBudget", &pdb)["spec"],
            json!({"minAvailable": 2, "maxUnavailable": "25%"})
        );
        let quota = api::core::v1::ResourceQuota {
            metadata: object_meta("q"),
            spec: Some(api::core::v1::ResourceQuotaSpec {
                hard: [(
                    "cpu".to_string(),
                    machinery::api::resource::Quantity {
                        string: Some("500m".into()),
                    },
                )]
                .into(),
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            decode_pb("v1", "ResourceQuota", &quota)["spec"],
            json!({"hard": {"cpu": "500m"}})
        );
    }

    #[test]
    fn go_formats() {
        let time = |seconds: i64, nanos: i32, micros: bool| {
            let mut buf = Vec::new();
            put_uint(&mut buf, 1, seconds as u64);
            put_uint(&mut buf, 2, i64::from(nanos) as u64);
            super::time(&buf, micros).unwrap()
        };
        assert_eq!(time(0, 0, false), json!("1970-01-01T00:00:00Z"));
        assert_eq!(time(951_782_400, 5, false), json!("2000-02-29T00:00:00Z"));
        assert_eq!(
            time(253_402_300_799, 999_999_999, true),
            json!("9999-12-31T23:59:59.999999Z")
        );
        assert_eq!(
            time(-62_135_596_800, 0, false),
            json!("0001-01-01T00:00:00Z")
        );
        assert!(
            super::time(
                &[
                    0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01
                ],
                false
            )
            .is_err()
        );
        assert_eq!(super::time(&[], false).unwrap(), Value::Null);
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-3_723_004_000_000, "-1h2m3.004s"),
        ] {
            assert_eq!(go_duration(nanos), text);
        }
        assert_eq!(double(3.0).unwrap(), json!(3));
        assert_eq!(double(0.25).unwrap(), json!(0.25));
        assert!(double(f64::NAN).is_err());
    }

    #[test]
    fn crd_schemas_decode_recursively() {
        use ext::v1 as x;
        let props = |ty: &str| x::JsonSchemaProps {
            r#type: Some(ty.into()),
            ..Default::default()
        };
        let raw = |json: &str| x::Json {
            raw: Some(json.as_bytes().to_vec()),
        };
        let schema = x::JsonSchemaProps {
            properties: [
                (
                    "spec".to_string(),
                    x::JsonSchemaProps {
                        additional_properties: Some(Box::new(x::JsonSchemaPropsOrBool {
                            allows: Some(false),
                            schema: None,
                        })),
                        x_kubernetes_preserve_unknown_fields: Some(false),
                        ..props("object")
                    },
                ),
                (
                    "size".to_string(),
                    x::JsonSchemaProps {
                        default: Some(raw("\"small\"")),
                        r#enum: vec![raw("\"small\""), raw("\"large\"")],
                        minimum: Some(1.0),
                        x_kubernetes_int_or_string: Some(true),
                        ..Default::default()
                    },
                ),
                (
                    "tags".to_string(),
                    x::JsonSchemaProps {
                        items: Some(Box::new(x::JsonSchemaPropsOrArray {
                            schema: Some(Box::new(props("string"))),
                            j_son_schemas: vec![],
                        })),
                        ..props("array")
                    },
                ),
            ]
            .into(),
            ..props("object")
        };
        let crd = x::CustomResourceDefinition {
            metadata: object_meta("widgets.example.com"),
            spec: Some(x::CustomResourceDefinitionSpec {
                group: Some("example.com".into()),
                names: Some(x::CustomResourceDefinitionNames {
                    plural: Some("widgets".into()),
                    kind: Some("Widget".into()),
                    ..Default::default()
                }),
                scope: Some("Namespaced".into()),
                versions: vec![x::CustomResourceDefinitionVersion {
                    name: Some("v1".into()),
                    served: Some(true),
                    storage: Some(true),
                    schema: Some(x::CustomResourceValidation {
                        open_apiv3_schema: Some(schema),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            decode_pb("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd)["spec"],
            json!({
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "additionalProperties": false,
                                 "x-kubernetes-preserve-unknown-fields": false},
                        "size": {"default": "small", "enum": ["small", "large"], "minimum": 1,
                                 "x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                }}}],
            })
        );
    }

    #[test]
    fn embedded_objects_decode_json_or_protobuf() {
        let inner = wrap(
            "v1",
            "ConfigMap",
            &api::core::v1::ConfigMap {
                metadata: object_meta("c"),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        for (raw, want) in [
            (
                inner,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            ),
            (br#"{"a":[1]}"#.to_vec(), json!({"a": [1]})),
        ] {
            let revision = api::apps::v1::ControllerRevision {
                metadata: object_meta("r"),
                data: Some(machinery::runtime::RawExtension { raw: Some(raw) }),
                revision: Some(3),
            };
            assert_eq!(
                decode_pb("apps/v1", "ControllerRevision", &revision)["data"],
                want
            );
        }
    }

    /// A body filling every field of `message` in the table (one element per list and map),
    /// as an independent check of tags and wire types against `k8s-pb`.
    fn fill(schema: &Schema, message: &str, path: &mut Vec<String>) -> Vec<u8> {
        let mut out = Vec::new();
        let special = |name: &str| -> Option<Vec<u8>> {
            let mut buf = Vec::new();
            match name {
                "meta.v1.Time" | "meta.v1.MicroTime" => {
                    put_uint(&mut buf, 1, 1_700_000_000);
                    put_uint(&mut buf, 2, 5_000);
                }
                "meta.v1.Duration" => put_uint(&mut buf, 1, 1_500_000_000),
                "intstr.IntOrString" => {
                    put_uint(&mut buf, 1, 1);
                    put_len(&mut buf, 3, b"50%");
                }
                "resource.Quantity" => put_len(&mut buf, 1, b"1Gi"),
                "runtime.RawExtension" | "meta.v1.FieldsV1" | "apiextensions.v1.Json" => {
                    put_len(&mut buf, 1, br#"{"a":1}"#)
                }
                "apiextensions.v1.JsonSchemaPropsOrArray" => put_len(&mut buf, 2, b""),
                "apiextensions.v1.JsonSchemaPropsOrBool" => put_uint(&mut buf, 1, 1),
                "apiextensions.v1.JsonSchemaPropsOrStringArray"
                | "authentication.v1.ExtraValue"
                | "authorization.v1.ExtraValue"
                | "certificates.v1.ExtraValue" => {
                    put_len(&mut buf, if name.contains("Extra") { 1 } else { 2 }, b"x")
                }
                _ => return None,
            }
            Some(buf)
        };
        path.push(message.to_string());
        for field in &schema[message] {
            let mut value = Vec::new();
            let wire_type = match &field.ty {
                Type::Scalar(Scalar::String | Scalar::Bytes) => {
                    value.extend_from_slice(b"x");
                    2
                }
                Type::Scalar(Scalar::Bool | Scalar::Int32 | Scalar::Int64) => {
                    put_varint(&mut value, 1);
                    0
                }
                Type::Scalar(Scalar::Double) => {
                    value.extend_from_slice(&1.5f64.to_le_bytes());
                    1
                }
                Type::Message(name) => {
                    if let Some(bytes) = special(name) {
                        value = bytes;
                    } else if path.contains(name) {
                        continue;
                    } else {
                        value = fill(schema, name, path);
                    }
                    2
                }
            };
            if field.label == Label::Map {
                let mut entry = Vec::new();
                put_len(&mut entry, 1, b"k");
                put_key(&mut entry, 2, wire_type);
                if wire_type == 2 {
                    put_varint(&mut entry, value.len() as u64);
                }
                entry.extend_from_slice(&value);
                put_len(&mut out, field.tag, &entry);
            } else {
                put_key(&mut out, field.tag, wire_type);
                if wire_type == 2 {
                    put_varint(&mut out, value.len() as u64);
                }
                out.extend_from_slice(&value);
            }
        }
        path.pop();
        out
    }

    /// Fills `kind` from the table, lets `k8s-pb` decode and re-encode it, and checks that
    /// both bodies decode to the same JSON: every tag and wire type of the table is the one
    /// `k8s-pb` has (a wrong one fails prost's decode; an unknown one is dropped by it).
    fn rt<T: prost::Message + Default>(api_version: &str, kind: &str) {
        let schema = SCHEMA.as_ref().unwrap();
        let name = kind_message(schema, api_version, kind)
            .unwrap_or_else(|| panic!("{kind} is not served"));
        let raw = fill(schema, &name, &mut Vec::new());
        let ours = decode(&wrap(api_version, kind, &raw)).unwrap();
        let reencoded = T::decode(raw.as_slice())
            .unwrap_or_else(|e| panic!("{kind}: {e}"))
            .encode_to_vec();
        let theirs = decode(&wrap(api_version, kind, &reencoded)).unwrap();
        assert_eq!(ours, theirs, "{kind}");
    }

    /// Runs [`rt`] for each listed kind, returning how many.
    macro_rules! round_trips {
        ($($api_version:literal => $($module:ident)::+ { $($kind:ident)* })*) => {{
            let mut count = 0;
            $({
                use $($module)::+ as module;
                $(
                    rt::<module::$kind>($api_version, stringify!($kind));
                    count += 1;
                )*
            })*
            count
        }};
    }

    #[test]
    fn table_matches_k8s_pb_for_every_kind() {
        let checked = round_trips! {
            "apiextensions.k8s.io/v1" => ext::v1 {
                CustomResourceDefinition CustomResourceDefinitionList
            }
            "apps/v1" => api::apps::v1 {
                ControllerRevision ControllerRevisionList DaemonSet DaemonSetList
                Deployment DeploymentList ReplicaSet ReplicaSetList StatefulSet
                StatefulSetList
            }
            "authentication.k8s.io/v1" => api::authentication::v1 {
                SelfSubjectReview TokenRequest TokenReview
            }
            "authorization.k8s.io/v1" => api::authorization::v1 {
                LocalSubjectAccessReview SelfSubjectAccessReview
                SelfSubjectRulesReview SubjectAccessReview
            }
            "autoscaling/v1" => api::autoscaling::v1 {
                HorizontalPodAutoscaler HorizontalPodAutoscalerList Scale
            }
            "autoscaling/v2" => api::autoscaling::v2 {
                HorizontalPodAutoscaler HorizontalPodAutoscalerList
            }
            "batch/v1" => api::batch::v1 {
                CronJob CronJobList Job JobList JobTemplateSpec
            }
            "certificates.k8s.io/v1" => api::certificates::v1 {
                CertificateSigningRequest CertificateSigningRequestList
            }
            "coordination.k8s.io/v1" => api::coordination::v1 {
                Lease LeaseList
            }
            "v1" => api::core::v1 {
                Binding ComponentStatus ComponentStatusList ConfigMap ConfigMapList
                Endpoints EndpointsList Event EventList LimitRange LimitRangeList
                List Namespace NamespaceList Node NodeList PersistentVolume
                PersistentVolumeClaim PersistentVolumeClaimList
                PersistentVolumeClaimTemplate PersistentVolumeList Pod PodList
                PodStatusResult PodTemplate PodTemplateList PodTemplateSpec
                RangeAllocation ReplicationController ReplicationControllerList
                ResourceQuota ResourceQuotaList Secret SecretList Service
                ServiceAccount ServiceAccountList ServiceList
            }
            "discovery.k8s.io/v1" => api::discovery::v1 {
                EndpointSlice EndpointSliceList
            }
            "events.k8s.io/v1" => api::events::v1 {
                Event EventList
            }
            "meta.k8s.io/v1" => meta::v1 {
                DeleteOptions
            }
            "networking.k8s.io/v1" => api::networking::v1 {
                IPAddress IPAddressList Ingress IngressClass IngressClassList
                IngressList NetworkPolicy NetworkPolicyList ServiceCIDR
                ServiceCIDRList
            }
            "policy/v1" => api::policy::v1 {
                Eviction PodDisruptionBudget PodDisruptionBudgetList
            }
            "rbac.authorization.k8s.io/v1" => api::rbac::v1 {
                ClusterRole ClusterRoleBinding ClusterRoleBindingList
                ClusterRoleList Role RoleBinding RoleBindingList RoleList
            }
            "scheduling.k8s.io/v1" => api::scheduling::v1 {
                PriorityClass PriorityClassList
            }
        };
        let schema = SCHEMA.as_ref().unwrap();
        let served = schema
            .keys()
            .filter(|name| schema[*name].iter().any(|f| f.name == "metadata"))
            .count();
        assert_eq!(
            checked,
            served + 1,
            "every served kind (and DeleteOptions) is checked"
        );
    }
}
