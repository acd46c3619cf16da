//! Request body decoding: JSON, YAML and Kubernetes protobuf into one JSON value.

use serde_json::Value;

use crate::error::{ApiError, Result};

/// Decode a request body by its Content-Type.
pub fn body(content_type: &str, bytes: &[u8]) -> Result<Value> {
    let base = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match base.as_str() {
        "" | "application/json" | "*/*" => json(bytes),
        "application/yaml" | "application/x-yaml" | "text/yaml" => yaml_or_json(bytes),
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(bytes),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"
        ))),
    }
}

/// Decode JSON.
pub fn json(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("error decoding request body: {e}")))
}

/// Decode YAML (a superset of JSON).
pub fn yaml_or_json(bytes: &[u8]) -> Result<Value> {
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let v: serde_yaml::Value = serde_yaml::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    serde_json::to_value(v)
        .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_decode_the_same() {
        let a = body("application/yaml", b"kind: Pod\nmetadata:\n  name: x\n").ok();
        let b = body(
            "application/json",
            br#"{"kind":"Pod","metadata":{"name":"x"}}"#,
        )
        .ok();
        assert_eq!(a, b);
        assert_eq!(body("text/html", b"x").map_err(|e| e.code()), Err(415));
        assert_eq!(
            body("application/json", b"{").map_err(|e| e.code()),
            Err(400)
        );
    }
}
