//! STUB (replaced by the protobuf module).
use crate::error::{ApiError, Result};
use serde_json::Value;
/// stub
pub fn decode(_b: &[u8]) -> Result<Value> {
    Err(ApiError::UnsupportedMediaType("protobuf".into()))
}
