//! STUB (replaced by the openapi module).
use crate::resources::Resource;
use serde_json::{Value, json};
use std::sync::Arc;
/// stub
pub struct OpenApi;
impl OpenApi {
    /// stub
    pub fn new(_r: &[Arc<Resource>]) -> OpenApi {
        OpenApi
    }
    /// stub
    pub fn v3_index(&self) -> Value {
        json!({"paths": {}})
    }
    /// stub
    pub fn v3_document(&self, _p: &str) -> Option<(Vec<u8>, String)> {
        None
    }
    /// stub
    pub fn v2_json(&self) -> Value {
        json!({})
    }
}
