//! NodeResourcesFit (filter: requests against free allocatable; score: LeastAllocated on
//! cpu and memory) and NodeResourcesBalancedAllocation (score: how even cpu and memory use
//! would be).

use crate::nodeinfo::NodeInfo;
use crate::resources::Resources;

/// Filter reason when the node is full of pods.
pub const REASON_TOO_MANY_PODS: &str = "Too many pods";

/// NodeResourcesFit filter: one reason per missing resource, in upstream's order (pods,
/// cpu, memory, ephemeral storage, then scalar resources by name).
pub fn filter_fit(req: &Resources, node: &NodeInfo) -> Result<(), Vec<String>> {
    let alloc = node.allocatable();
    let used = node.requested();
    let mut reasons = Vec::new();
    if node.num_pods() as i64 + 1 > alloc.pods {
        reasons.push(REASON_TOO_MANY_PODS.to_string());
    }
    if !req.is_zero_ignoring_pods() {
        let short = |want: i64, have: i64, used: i64| want > 0 && want > have.saturating_sub(used);
        if short(req.milli_cpu, alloc.milli_cpu, used.milli_cpu) {
            reasons.push("Insufficient cpu".to_string());
        }
        if short(req.memory, alloc.memory, used.memory) {
            reasons.push("Insufficient memory".to_string());
        }
        if short(
            req.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
        ) {
            reasons.push("Insufficient ephemeral-storage".to_string());
        }
        for (name, want) in &req.scalar {
            if *want > alloc.scalar(name).saturating_sub(used.scalar(name)) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// `(capacity - requested) * 100 / capacity`, 0 when over capacity.
fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    ((i128::from(capacity) - i128::from(requested)) * 100 / i128::from(capacity)) as i64
}

/// NodeResourcesFit score (LeastAllocated, cpu and memory weighted 1 each): how much would
/// stay free, using the scoring view of requests (unset cpu/memory count as defaults).
/// `pod` is the incoming pod's `(milli_cpu, memory)` from
/// [`crate::resources::non_zero_requests`].
pub fn least_allocated_score(pod: (i64, i64), node: &NodeInfo) -> i64 {
    let alloc = node.allocatable();
    let used = node.non_zero_requested();
    let mut sum = 0;
    let mut weights = 0;
    for (cap, req) in [
        (alloc.milli_cpu, used.0.saturating_add(pod.0)),
        (alloc.memory, used.1.saturating_add(pod.1)),
    ] {
        if cap == 0 {
            continue;
        }
        sum += least_requested(req, cap);
        weights += 1;
    }
    if weights == 0 { 0 } else { sum / weights }
}

/// NodeResourcesBalancedAllocation score: `(1 - |cpu fraction - memory fraction| / 2) × 100`
/// with fractions of allocatable the node's requests plus the pod's would use (capped at
/// 1). `pod` is the incoming pod's actual `(milli_cpu, memory)` requests.
pub fn balanced_allocation_score(pod: (i64, i64), node: &NodeInfo) -> i64 {
    let alloc = node.allocatable();
    let used = node.requested();
    let fraction = |cap: i64, req: i64| (cap != 0).then(|| (req as f64 / cap as f64).min(1.0));
    let cpu = fraction(alloc.milli_cpu, used.milli_cpu.saturating_add(pod.0));
    let mem = fraction(alloc.memory, used.memory.saturating_add(pod.1));
    // with one resource (or none) there is nothing to balance
    let std = match (cpu, mem) {
        (Some(a), Some(b)) => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - std) * 100.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use crate::resources::pod_requests;
    use std::sync::Arc;

    fn node_info(
        n: k8s_openapi::api::core::v1::Node,
        pods: &[k8s_openapi::api::core::v1::Pod],
    ) -> NodeInfo {
        let mut ni = NodeInfo::new(Arc::new(n));
        for p in pods {
            ni.add_pod(Arc::new(p.clone()));
        }
        ni
    }

    #[test]
    fn fits_and_reasons() {
        let ni = node_info(
            node("n")
                .cpu("2")
                .memory("4Gi")
                .pods(3)
                .ephemeral("10Gi")
                .scalar("example.com/gpu", "1")
                .build(),
            &[pod("d", "a").cpu("1500m").memory("1Gi").build()],
        );
        assert_eq!(
            filter_fit(
                &pod_requests(&pod("d", "p").cpu("500m").memory("3Gi").build()),
                &ni
            ),
            Ok(())
        );
        assert_eq!(
            filter_fit(&pod_requests(&pod("d", "p").cpu("600m").build()), &ni),
            Err(vec!["Insufficient cpu".to_string()])
        );
        assert_eq!(
            filter_fit(
                &pod_requests(
                    &pod("d", "p")
                        .cpu("3")
                        .memory("5Gi")
                        .ephemeral("11Gi")
                        .scalar("example.com/gpu", "2")
                        .scalar("example.com/fpga", "1")
                        .build()
                ),
                &ni
            ),
            Err(vec![
                "Insufficient cpu".to_string(),
                "Insufficient memory".to_string(),
                "Insufficient ephemeral-storage".to_string(),
                "Insufficient example.com/fpga".to_string(),
                "Insufficient example.com/gpu".to_string(),
            ])
        );
    }

    #[test]
    fn too_many_pods_even_for_best_effort() {
        let ni = node_info(node("n").pods(1).build(), &[pod("d", "a").build()]);
        assert_eq!(
            filter_fit(&pod_requests(&pod("d", "p").build()), &ni),
            Err(vec!["Too many pods".to_string()])
        );
        let ni = node_info(node("n").pods(1).cpu("1").build(), &[pod("d", "a").build()]);
        assert_eq!(
            filter_fit(&pod_requests(&pod("d", "p").cpu("2").build()), &ni),
            Err(vec![
                "Too many pods".to_string(),
                "Insufficient cpu".to_string()
            ])
        );
        let empty = node_info(node("n").pods(0).build(), &[]);
        assert_eq!(
            filter_fit(&pod_requests(&pod("d", "p").build()), &empty),
            Err(vec!["Too many pods".to_string()])
        );
    }

    #[test]
    fn least_allocated() {
        // 4 cores / 8Gi; placed pod requests nothing → defaults 100m / 200Mi count.
        let ni = node_info(
            node("n").cpu("4").memory("8Gi").build(),
            &[pod("d", "a").build()],
        );
        let incoming = (1000, 2 << 30);
        // cpu: (4000-1100)*100/4000 = 72; mem: (8192-200-2048)Mi*100/8192Mi = 72 → 72
        assert_eq!(least_allocated_score(incoming, &ni), 72);
        let full = node_info(node("n").cpu("1").memory("1Gi").build(), &[]);
        assert_eq!(least_allocated_score((2000, 0), &full), 50);
        assert_eq!(
            least_allocated_score(
                (0, 0),
                &node_info(node("n").cpu("0").memory("0").build(), &[])
            ),
            0
        );
    }

    #[test]
    fn balanced() {
        let ni = node_info(node("n").cpu("4").memory("4Gi").build(), &[]);
        assert_eq!(balanced_allocation_score((1000, 1 << 30), &ni), 100);
        // cpu 50%, memory 0% → std 0.25 → 75
        assert_eq!(balanced_allocation_score((2000, 0), &ni), 75);
        // over-requested caps at 1: cpu 1.0, mem 0.0 → 50
        assert_eq!(balanced_allocation_score((8000, 0), &ni), 50);
        let cpu_only = node_info(node("n").cpu("4").memory("0").build(), &[]);
        assert_eq!(balanced_allocation_score((2000, 0), &cpu_only), 100);
    }
}
