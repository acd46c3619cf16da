//! STUB (replaced by the validation module).
use crate::error::{Cause, Result};
use serde_json::Value;
/// stub
pub fn apply_defaults(_g: &str, _k: &str, _o: &mut Value) {}
/// stub
pub fn validate(_g: &str, _k: &str, _o: &Value, _old: Option<&Value>) -> Vec<Cause> {
    vec![]
}
/// stub
pub fn unknown_fields(_g: &str, _v: &str, _k: &str, _o: &Value) -> Result<Vec<String>> {
    Ok(vec![])
}
/// stub
pub fn check_types(_g: &str, _v: &str, _k: &str, _o: &Value) -> Result<()> {
    Ok(())
}
/// stub
pub fn generation_changed(_k: &str, old: &Value, new: &Value) -> bool {
    old.get("spec") != new.get("spec")
}
/// stub
pub fn job_selector(_o: &mut Value, _uid: &str) {}
