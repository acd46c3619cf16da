//! ImageLocality: favour nodes that already have the pod's images, weighted by image size
//! and damped for images present on few nodes (so pods do not all pile onto the one node
//! that has an image).

use k8s_openapi::api::core::v1::Pod;

use crate::nodeinfo::{ClusterState, NodeInfo};

const MB: i64 = 1024 * 1024;
/// Below this total the score is 0.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this the score is 100.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The image name as the node reports it: a name without a tag gets `:latest`.
pub fn normalized_image_name(name: &str) -> String {
    let colon = name.rfind(':');
    let slash = name.rfind('/');
    if colon.is_none_or(|c| slash.is_some_and(|s| c < s)) {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}

/// The pod's normalised image names (init containers first), one per container.
pub fn pod_images(pod: &Pod) -> Vec<String> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| normalized_image_name(c.image.as_deref().unwrap_or("")))
        .collect()
}

/// ImageLocality score (0..100): the sum over the pod's containers of
/// `size × (nodes having the image / all nodes)` for images on this node, clamped between
/// 23 MiB and 1000 MiB per container and scaled to 0..100.
pub fn score(images: &[String], ni: &NodeInfo, cluster: &ClusterState) -> i64 {
    if images.is_empty() {
        return 0;
    }
    let total_nodes = cluster.len().max(1) as f64;
    let mut sum: i64 = 0;
    for img in images {
        if let Some(size) = ni.image_size(img) {
            let spread = cluster.image_node_count(img) as f64 / total_nodes;
            sum = sum.saturating_add((size as f64 * spread) as i64);
        }
    }
    let max_threshold = MAX_CONTAINER_THRESHOLD.saturating_mul(images.len() as i64);
    let sum = sum.clamp(MIN_THRESHOLD, max_threshold);
    100 * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use std::sync::Arc;

    #[test]
    fn names() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.25"), "nginx:1.25");
        assert_eq!(
            normalized_image_name("registry:5000/app"),
            "registry:5000/app:latest"
        );
        assert_eq!(
            normalized_image_name("registry:5000/app:v1"),
            "registry:5000/app:v1"
        );
    }

    #[test]
    fn scores_scale_with_size_and_spread() {
        let mut c = ClusterState::new();
        c.upsert_node(Arc::new(
            node("a")
                .image("big:1", 500 * MB)
                .image("small:1", MB)
                .build(),
        ));
        c.upsert_node(Arc::new(node("b").image("big:1", 500 * MB).build()));
        c.upsert_node(Arc::new(node("c").build()));
        c.upsert_node(Arc::new(node("d").build()));
        let imgs = pod_images(&pod("d", "p").image("big:1").build());
        let a = c.get("a").map(|n| score(&imgs, n, &c));
        // 500MiB × 2/4 = 250MiB → (250-23)/(1000-23) × 100 = 23
        assert_eq!(a, Some(23));
        assert_eq!(c.get("c").map(|n| score(&imgs, n, &c)), Some(0));
        let small = pod_images(&pod("d", "p").image("small:1").build());
        assert_eq!(c.get("a").map(|n| score(&small, n, &c)), Some(0));
    }
}
