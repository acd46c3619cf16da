//! Eviction admission: a pod covered by a PodDisruptionBudget that allows no disruption
//! cannot be evicted (429, as kube-apiserver answers).

use serde_json::Value;

use crate::error::{ApiError, Result};
use crate::meta;
use crate::rest::{ListOpts, Rest};
use crate::selector::LabelSelector;

/// Refuse the eviction of `ns/name` when a matching budget has no disruptions left.
pub async fn check_eviction(rest: &Rest, ns: &str, name: &str) -> Result<()> {
    let reg = rest.registry();
    let (Some(pods), Some(pdbs)) = (
        reg.find("", "v1", "pods"),
        reg.find("policy", "v1", "poddisruptionbudgets"),
    ) else {
        return Ok(());
    };
    let pod = rest.get(&pods, ns, name).await?;
    let labels = meta::metadata(&pod)
        .get("labels")
        .cloned()
        .unwrap_or(Value::Null);
    let budgets = rest.list(&pdbs, Some(ns), &ListOpts::default()).await?;
    for b in budgets.items {
        let b = &*b;
        let Some(sel) = b.pointer("/spec/selector") else {
            continue;
        };
        let Ok(sel) = LabelSelector::from_label_selector_json(sel) else {
            continue;
        };
        if !sel.matches(&labels) {
            continue;
        }
        let allowed = b
            .pointer("/status/disruptionsAllowed")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if allowed <= 0 {
            return Err(ApiError::TooManyRequests(format!(
                "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {} healthy pods and has {} currently",
                meta::name(b),
                b.pointer("/status/desiredHealthy")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                b.pointer("/status/currentHealthy")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            )));
        }
    }
    Ok(())
}
