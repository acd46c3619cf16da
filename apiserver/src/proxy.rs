//! Pod and node subresources served by the node agent (`log`, `exec`, `attach`,
//! `portforward`, `proxy`). The agent (issue: node agent) is not built yet, so these answer
//! 503 with a message naming the node, after checking that the pod exists.

use axum::response::Response;

use crate::error::{ApiError, Result};
use crate::resources::Resource;
use crate::rest::Rest;

/// Forward a streaming subresource to the node running the pod.
pub async fn to_node(
    rest: &Rest,
    res: &Resource,
    ns: &str,
    name: &str,
    sub: &str,
) -> Result<Response> {
    let obj = rest.get(res, ns, name).await?;
    let node = obj
        .pointer("/spec/nodeName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if node.is_empty() && res.kind == "Pod" {
        return Err(ApiError::BadRequest(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    Err(ApiError::Unavailable(format!(
        "{sub} for {}/{name} needs the node agent on \"{node}\", which keelson does not run yet",
        res.plural
    )))
}
