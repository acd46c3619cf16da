//! Node conditions, cordoning and taints: the node-Ready check, NodeUnschedulable, and
//! TaintToleration (filter on `NoSchedule`/`NoExecute`, score on `PreferNoSchedule`).

use k8s_openapi::api::core::v1::{Node, Taint, Toleration};

/// Filter reason for a node whose Ready condition is not True.
pub const REASON_NOT_READY: &str = "node(s) were not ready";
/// Filter reason for a cordoned node (`spec.unschedulable`).
pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";

/// Taint key the node controller puts on cordoned nodes.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Taint key the node lifecycle controller puts on nodes whose Ready is False (or missing).
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint key the node lifecycle controller puts on nodes whose Ready is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Whether a toleration tolerates a taint (`Toleration.ToleratesTaint`): an empty effect
/// matches every effect, an empty key (with `Exists`) every key; operator `Exists` ignores the
/// value, `Equal` (or empty) compares it.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref()
        && !effect.is_empty()
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = t.key.as_deref()
        && !key.is_empty()
        && key != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of the tolerations tolerates the taint.
pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

fn tolerates_key_effect(tolerations: &[Toleration], key: &str, effect: &str) -> bool {
    let taint = Taint {
        key: key.to_string(),
        effect: effect.to_string(),
        ..Default::default()
    };
    tolerations_tolerate(tolerations, &taint)
}

/// The first `NoSchedule` or `NoExecute` taint of the node the pod does not tolerate.
pub fn find_untolerated_taint<'a>(node: &'a Node, tolerations: &[Toleration]) -> Option<&'a Taint> {
    node.spec.as_ref()?.taints.as_ref()?.iter().find(|taint| {
        (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !tolerations_tolerate(tolerations, taint)
    })
}

/// TaintToleration filter reason for an untolerated taint, as kube-scheduler 1.33 words it.
pub fn untolerated_taint_reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or("")
    )
}

/// TaintToleration filter.
pub fn filter_taints(node: &Node, tolerations: &[Toleration]) -> Result<(), String> {
    match find_untolerated_taint(node, tolerations) {
        Some(t) => Err(untolerated_taint_reason(t)),
        None => Ok(()),
    }
}

/// NodeUnschedulable filter: a cordoned node only takes pods that tolerate
/// `node.kubernetes.io/unschedulable:NoSchedule`.
pub fn filter_unschedulable(node: &Node, tolerations: &[Toleration]) -> Result<(), &'static str> {
    let cordoned = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if cordoned && !tolerates_key_effect(tolerations, TAINT_UNSCHEDULABLE, "NoSchedule") {
        return Err(REASON_UNSCHEDULABLE);
    }
    Ok(())
}

/// The node's Ready condition status (`"True"`, `"False"`, `"Unknown"`), if it has one.
pub fn ready_status(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

/// Node-Ready filter: the node's Ready condition must be True. kube-scheduler relies on the
/// `not-ready`/`unreachable` `NoSchedule` taints the node lifecycle controller adds instead;
/// this check stands in for them, so a pod that tolerates the taint such a node would carry
/// (`unreachable` for Unknown, `not-ready` otherwise, e.g. a CNI DaemonSet with
/// `operator: Exists`) passes, as it would upstream.
pub fn filter_ready(node: &Node, tolerations: &[Toleration]) -> Result<(), &'static str> {
    let taint_key = match ready_status(node) {
        Some("True") => return Ok(()),
        Some("Unknown") => TAINT_UNREACHABLE,
        _ => TAINT_NOT_READY,
    };
    if tolerates_key_effect(tolerations, taint_key, "NoSchedule") {
        Ok(())
    } else {
        Err(REASON_NOT_READY)
    }
}

/// The tolerations that can tolerate `PreferNoSchedule` taints (effect empty or
/// `PreferNoSchedule`).
pub fn prefer_no_schedule_tolerations(tolerations: &[Toleration]) -> Vec<Toleration> {
    tolerations
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect()
}

/// TaintToleration raw score: how many `PreferNoSchedule` taints the pod does not tolerate
/// (normalised later, reversed).
pub fn count_intolerable_prefer_no_schedule(node: &Node, tolerations: &[Toleration]) -> i64 {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map_or(0, |taints| {
            taints
                .iter()
                .filter(|t| t.effect == "PreferNoSchedule" && !tolerations_tolerate(tolerations, t))
                .count() as i64
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            ..Default::default()
        }
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.to_string()),
            effect: effect.into(),
            ..Default::default()
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(
            &tol("dedicated", "Equal", "gpu", "NoSchedule"),
            &t
        ));
        assert!(tolerates(&tol("dedicated", "", "gpu", "NoSchedule"), &t));
        assert!(!tolerates(
            &tol("dedicated", "Equal", "cpu", "NoSchedule"),
            &t
        ));
        assert!(tolerates(&tol("dedicated", "Exists", "", ""), &t));
        assert!(!tolerates(&tol("dedicated", "Exists", "", "NoExecute"), &t));
        assert!(tolerates(&tol("", "Exists", "", ""), &t));
        assert!(!tolerates(&tol("other", "Exists", "", ""), &t));
        assert!(!tolerates(&tol("dedicated", "Gt", "gpu", ""), &t));
    }

    #[test]
    fn taint_filter_reason() {
        let n = node("n")
            .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")
            .taint("soft", "x", "PreferNoSchedule")
            .build();
        assert_eq!(
            filter_taints(&n, &[]),
            Err(
                "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                    .to_string()
            )
        );
        assert_eq!(
            filter_taints(
                &n,
                &[tol(
                    "node-role.kubernetes.io/control-plane",
                    "Exists",
                    "",
                    "NoSchedule"
                )]
            ),
            Ok(())
        );
        let n = node("n")
            .taint("a", "1", "PreferNoSchedule")
            .taint("b", "2", "NoExecute")
            .build();
        assert_eq!(
            filter_taints(&n, &[]),
            Err("node(s) had untolerated taint {b: 2}".to_string())
        );
        assert_eq!(filter_taints(&n, &[tol("", "Exists", "", "")]), Ok(()));
    }

    #[test]
    fn unschedulable_and_ready() {
        let cordoned = node("n").unschedulable().build();
        assert_eq!(
            filter_unschedulable(&cordoned, &[]),
            Err(REASON_UNSCHEDULABLE)
        );
        assert_eq!(
            filter_unschedulable(
                &cordoned,
                &[tol(TAINT_UNSCHEDULABLE, "Exists", "", "NoSchedule")]
            ),
            Ok(())
        );
        assert_eq!(filter_unschedulable(&node("n").build(), &[]), Ok(()));

        assert_eq!(filter_ready(&node("n").build(), &[]), Ok(()));
        assert_eq!(
            filter_ready(&node("n").ready("False").build(), &[]),
            Err(REASON_NOT_READY)
        );
        assert_eq!(
            filter_ready(&node("n").ready("Unknown").build(), &[]),
            Err(REASON_NOT_READY)
        );
        assert_eq!(
            filter_ready(&node("n").no_conditions().build(), &[]),
            Err(REASON_NOT_READY)
        );
        let everything = [tol("", "Exists", "", "")];
        assert_eq!(
            filter_ready(&node("n").ready("False").build(), &everything),
            Ok(())
        );
        let not_ready = [tol(TAINT_NOT_READY, "Exists", "", "NoSchedule")];
        assert_eq!(
            filter_ready(&node("n").no_conditions().build(), &not_ready),
            Ok(())
        );
        assert_eq!(
            filter_ready(&node("n").ready("Unknown").build(), &not_ready),
            Err(REASON_NOT_READY)
        );
        // NoExecute-only tolerations (DaemonSet defaults) do not make a not-ready node eligible.
        let ds = [tol(TAINT_NOT_READY, "Exists", "", "NoExecute")];
        assert_eq!(
            filter_ready(&node("n").ready("False").build(), &ds),
            Err(REASON_NOT_READY)
        );
    }

    #[test]
    fn prefer_no_schedule_count() {
        let n = node("n")
            .taint("a", "1", "PreferNoSchedule")
            .taint("b", "2", "PreferNoSchedule")
            .taint("c", "3", "NoSchedule")
            .build();
        let tols = prefer_no_schedule_tolerations(&[
            tol("a", "Equal", "1", ""),
            tol("b", "Exists", "", "NoSchedule"),
        ]);
        assert_eq!(tols.len(), 1);
        assert_eq!(count_intolerable_prefer_no_schedule(&n, &tols), 1);
        assert_eq!(count_intolerable_prefer_no_schedule(&n, &[]), 2);
    }
}
