//! Conversion between versions that share storage: `autoscaling/v1` HorizontalPodAutoscalers
//! are stored as `autoscaling/v2`, and `events.k8s.io/v1` Events as core `v1` Events, as
//! kube-apiserver stores them. Requests in the other version are converted on the way in and
//! answers on the way out, so every version sees every object.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::registry::Registry;
use crate::resources::Resource;

/// The version a resource is stored in, when it differs from `res`.
pub fn storage_res(reg: &Registry, res: &Resource) -> Option<Arc<Resource>> {
    match (
        res.group.as_str(),
        res.version.as_str(),
        res.plural.as_str(),
    ) {
        ("autoscaling", "v1", "horizontalpodautoscalers") => {
            reg.find("autoscaling", "v2", "horizontalpodautoscalers")
        }
        ("events.k8s.io", "v1", "events") => reg.find("", "v1", "events"),
        _ => None,
    }
}

fn take(m: &mut Map<String, Value>, k: &str) -> Option<Value> {
    m.remove(k).filter(|v| !v.is_null())
}

/// An object of `res`'s version → its storage version.
pub fn to_storage(res: &Resource, obj: Value) -> Value {
    let Value::Object(mut o) = obj else {
        return obj;
    };
    match (res.group.as_str(), res.version.as_str(), res.kind.as_str()) {
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            o.insert("apiVersion".into(), json!("autoscaling/v2"));
            if let Some(Value::Object(spec)) = o.get_mut("spec")
                && let Some(cpu) = take(spec, "targetCPUUtilizationPercentage")
            {
                spec.insert(
                        "metrics".into(),
                        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]),
                    );
            }
            if let Some(Value::Object(st)) = o.get_mut("status")
                && let Some(cpu) = take(st, "currentCPUUtilizationPercentage")
            {
                st.insert(
                        "currentMetrics".into(),
                        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]),
                    );
            }
            Value::Object(o)
        }
        ("events.k8s.io", "v1", "Event") => {
            o.insert("apiVersion".into(), json!("v1"));
            let renames = [
                ("regarding", "involvedObject"),
                ("note", "message"),
                ("deprecatedFirstTimestamp", "firstTimestamp"),
                ("deprecatedLastTimestamp", "lastTimestamp"),
                ("deprecatedCount", "count"),
                ("deprecatedSource", "source"),
                ("reportingController", "reportingComponent"),
            ];
            for (from, to) in renames {
                if let Some(v) = take(&mut o, from) {
                    o.insert(to.into(), v);
                }
            }
            Value::Object(o)
        }
        _ => Value::Object(o),
    }
}

/// A stored object → `res`'s version.
pub fn from_storage(res: &Resource, obj: Value) -> Value {
    let Value::Object(mut o) = obj else {
        return obj;
    };
    match (res.group.as_str(), res.version.as_str(), res.kind.as_str()) {
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            o.insert("apiVersion".into(), json!("autoscaling/v1"));
            if let Some(Value::Object(spec)) = o.get_mut("spec") {
                let metrics = take(spec, "metrics");
                spec.remove("behavior");
                let cpu = metrics.as_ref().and_then(Value::as_array).and_then(|ms| {
                    ms.iter()
                        .find(|m| m.pointer("/resource/name") == Some(&json!("cpu")))
                        .and_then(|m| m.pointer("/resource/target/averageUtilization").cloned())
                });
                if let Some(c) = cpu {
                    spec.insert("targetCPUUtilizationPercentage".into(), c);
                }
            }
            if let Some(Value::Object(st)) = o.get_mut("status") {
                let cur = take(st, "currentMetrics");
                st.remove("conditions");
                let cpu = cur.as_ref().and_then(Value::as_array).and_then(|ms| {
                    ms.iter()
                        .find(|m| m.pointer("/resource/name") == Some(&json!("cpu")))
                        .and_then(|m| m.pointer("/resource/current/averageUtilization").cloned())
                });
                if let Some(c) = cpu {
                    st.insert("currentCPUUtilizationPercentage".into(), c);
                }
            }
            Value::Object(o)
        }
        ("events.k8s.io", "v1", "Event") => {
            o.insert("apiVersion".into(), json!("events.k8s.io/v1"));
            let renames = [
                ("involvedObject", "regarding"),
                ("message", "note"),
                ("firstTimestamp", "deprecatedFirstTimestamp"),
                ("lastTimestamp", "deprecatedLastTimestamp"),
                ("count", "deprecatedCount"),
                ("source", "deprecatedSource"),
                ("reportingComponent", "reportingController"),
            ];
            for (from, to) in renames {
                if let Some(v) = take(&mut o, from) {
                    o.insert(to.into(), v);
                }
            }
            Value::Object(o)
        }
        _ => Value::Object(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(group: &str, version: &str, plural: &str) -> Resource {
        let reg = Registry::default();
        reg.find(group, version, plural)
            .map(|r| (*r).clone())
            .unwrap_or_else(|| panic!("{plural}"))
    }

    #[test]
    fn hpa_v1_round_trips_through_v2_storage() {
        let v1 = res("autoscaling", "v1", "horizontalpodautoscalers");
        let obj = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}});
        let stored = to_storage(&v1, obj.clone());
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
        assert!(
            stored["spec"]
                .get("targetCPUUtilizationPercentage")
                .is_none()
        );
        assert_eq!(from_storage(&v1, stored), obj);
        let reg = Registry::default();
        assert_eq!(
            storage_res(&reg, &v1).map(|r| r.version.clone()).as_deref(),
            Some("v2")
        );
    }

    #[test]
    fn events_k8s_io_round_trips_through_core_storage() {
        let ev = res("events.k8s.io", "v1", "events");
        let obj = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hi", "reason": "R", "type": "Normal", "reportingController": "c"});
        let stored = to_storage(&ev, obj.clone());
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "hi");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(from_storage(&ev, stored), obj);
    }
}
