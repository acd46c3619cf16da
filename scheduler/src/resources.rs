//! Resource arithmetic for scheduling: Kubernetes quantity parsing, a pod's effective
//! requests, the scoring view of requests (with defaults for unset cpu/memory) and a node's
//! allocatable resources.
//!
//! Quantities come from user objects and may be malformed: every function here treats an
//! unparsable quantity as 0 and never panics. Values are `i64` in scheduler units: milli-cores
//! for cpu, plain integers (bytes, counts) for everything else, rounded up like
//! `resource.Quantity.Value()` / `MilliValue()`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Resource name of cpu.
pub const CPU: &str = "cpu";
/// Resource name of memory.
pub const MEMORY: &str = "memory";
/// Resource name of ephemeral storage.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Resource name of the pod count.
pub const PODS: &str = "pods";

/// cpu request assumed for scoring when a container sets none (upstream
/// `DefaultMilliCPURequest`, 0.1 core).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// memory request assumed for scoring when a container sets none (upstream
/// `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A set of resource amounts in scheduler units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// cpu in milli-cores.
    pub milli_cpu: i64,
    /// memory in bytes.
    pub memory: i64,
    /// ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod count: on a node's allocatable, how many pods fit; on a pod's requests, 1; on a
    /// node's requested total, how many pods it holds.
    pub pods: i64,
    /// Extended, hugepages and attachable-volume resources, by name. No entry is 0.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Adds `other` to `self` (saturating).
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.pods = self.pods.saturating_add(other.pods);
        for (name, v) in &other.scalar {
            self.add_scalar(name, *v);
        }
    }

    /// Subtracts `other` from `self` (saturating); the exact inverse of [`Resources::add`]
    /// as long as nothing saturated.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.pods = self.pods.saturating_sub(other.pods);
        for (name, v) in &other.scalar {
            self.add_scalar(name, v.saturating_neg());
        }
    }

    /// The amount of a scalar resource (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.get(name).copied().unwrap_or(0)
    }

    /// Whether cpu, memory, ephemeral storage and every scalar resource are zero (the pod
    /// count is not looked at).
    pub fn is_zero_ignoring_pods(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.is_empty()
    }

    /// Builds resources from a resource list as upstream's `Resource.Add` does: cpu, memory,
    /// ephemeral storage, pods, and the scalar resources; other names are ignored.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list {
            r.add_named(name, q);
        }
        r
    }

    fn add_named(&mut self, name: &str, q: &Quantity) {
        match name {
            CPU => self.milli_cpu = self.milli_cpu.saturating_add(milli_value(q)),
            MEMORY => self.memory = self.memory.saturating_add(value(q)),
            EPHEMERAL_STORAGE => {
                self.ephemeral_storage = self.ephemeral_storage.saturating_add(value(q))
            }
            PODS => self.pods = self.pods.saturating_add(value(q)),
            _ if is_scalar_resource_name(name) => self.add_scalar(name, value(q)),
            _ => {}
        }
    }

    fn add_scalar(&mut self, name: &str, v: i64) {
        if v == 0 {
            return;
        }
        let entry = self.scalar.entry(name.to_string()).or_insert(0);
        *entry = entry.saturating_add(v);
        if *entry == 0 {
            self.scalar.remove(name);
        }
    }

    /// Raises every amount of `self` to at least the one in `other` (pods excepted).
    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let cur = self.scalar(name);
            if *v > cur {
                self.scalar.insert(name.clone(), *v);
            }
        }
    }
}

/// Whether a resource name is one the scheduler tracks as a scalar: extended resources
/// (`example.com/gpu`), `kubernetes.io/`-prefixed native resources, `hugepages-*` and
/// `attachable-volumes-*`.
pub fn is_scalar_resource_name(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || name.contains("kubernetes.io/")
        || (name.contains('/') && !name.starts_with("requests."))
}

/// A parsed Kubernetes quantity: `sign × mantissa × 10^exp10 × 2^exp2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedQuantity {
    negative: bool,
    mantissa: i128,
    exp10: i32,
    exp2: u32,
    /// Non-zero digits were dropped for lack of precision: the true value is a bit larger.
    inexact: bool,
}

/// Most decimal digits kept in the mantissa (i128 holds 38).
const MAX_MANTISSA_DIGITS: u32 = 36;

impl ParsedQuantity {
    /// Parses a quantity string (`"100m"`, `"0.5"`, `"128Mi"`, `"1e3"`, `"1.5Gi"`, ...).
    /// Returns `None` for anything Kubernetes would reject.
    pub fn parse(s: &str) -> Option<ParsedQuantity> {
        let b = s.as_bytes();
        let mut pos = 0;
        let mut negative = false;
        if let Some(&c) = b.first()
            && (c == b'+' || c == b'-')
        {
            negative = c == b'-';
            pos = 1;
        }
        let mut mantissa: i128 = 0;
        let mut digits = 0u32;
        let mut exp10: i64 = 0;
        let mut inexact = false;
        let mut seen_digit = false;
        while pos < b.len() && b[pos].is_ascii_digit() {
            let d = i128::from(b[pos] - b'0');
            seen_digit = true;
            if mantissa == 0 && d == 0 {
                // leading zero: nothing to keep
            } else if digits < MAX_MANTISSA_DIGITS {
                mantissa = mantissa * 10 + d;
                digits += 1;
            } else {
                exp10 += 1;
                inexact |= d != 0;
            }
            pos += 1;
        }
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            while pos < b.len() && b[pos].is_ascii_digit() {
                let d = i128::from(b[pos] - b'0');
                seen_digit = true;
                if digits < MAX_MANTISSA_DIGITS {
                    if mantissa != 0 || d != 0 {
                        digits += 1;
                    }
                    mantissa = mantissa * 10 + d;
                    exp10 -= 1;
                } else {
                    inexact |= d != 0;
                }
                pos += 1;
            }
        }
        if !seen_digit {
            return None;
        }
        let (suffix_exp10, exp2) = match &s[pos..] {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            rest if rest.len() > 1 && (rest.starts_with('e') || rest.starts_with('E')) => {
                (parse_exponent(&rest[1..])?, 0)
            }
            _ => return None,
        };
        let exp10 = exp10.saturating_add(suffix_exp10);
        let exp10 = i32::try_from(exp10.clamp(-10_000, 10_000)).ok()?;
        Some(ParsedQuantity {
            negative: negative && mantissa != 0,
            mantissa,
            exp10,
            exp2,
            inexact,
        })
    }

    /// The value rounded up to an integer (`Quantity.Value()`), saturating at the `i64`
    /// range.
    pub fn value(&self) -> i64 {
        self.scaled(0)
    }

    /// The value in thousandths rounded up (`Quantity.MilliValue()`), saturating.
    pub fn milli_value(&self) -> i64 {
        self.scaled(3)
    }

    /// `ceil(|v| × 10^k)` with the sign of `v`, saturating.
    fn scaled(&self, k: i32) -> i64 {
        if self.mantissa == 0 && !self.inexact {
            return 0;
        }
        let mut n: i128 = self.mantissa;
        n = n
            .checked_shl(self.exp2)
            .filter(|v| (v >> self.exp2) == n)
            .unwrap_or(i128::MAX);
        let e = self.exp10.saturating_add(k);
        let magnitude: i128 = if e >= 0 {
            let mut m = n;
            for _ in 0..e {
                m = match m.checked_mul(10) {
                    Some(v) => v,
                    None => {
                        m = i128::MAX;
                        break;
                    }
                };
            }
            if self.inexact { m.saturating_add(1) } else { m }
        } else {
            let neg_e = e.unsigned_abs();
            if neg_e > 38 {
                // far below one unit; a non-zero value rounds up to 1
                i128::from(n != 0 || self.inexact)
            } else {
                let div = 10i128.pow(neg_e);
                let q = n / div;
                if n % div != 0 || self.inexact {
                    q + 1
                } else {
                    q
                }
            }
        };
        let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
        if self.negative { -magnitude } else { magnitude }
    }
}

fn parse_exponent(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Large exponents saturate (the value then saturates too).
    let v = digits.parse::<i64>().unwrap_or(i64::MAX / 2);
    Some(if neg { -v } else { v })
}

/// `Quantity.Value()`: the quantity rounded up to an integer; 0 when malformed.
pub fn value(q: &Quantity) -> i64 {
    ParsedQuantity::parse(&q.0).map_or(0, |p| p.value())
}

/// `Quantity.MilliValue()`: the quantity in thousandths, rounded up; 0 when malformed.
pub fn milli_value(q: &Quantity) -> i64 {
    ParsedQuantity::parse(&q.0).map_or(0, |p| p.milli_value())
}

/// Whether a container is a sidecar (an init container with `restartPolicy: Always`).
pub fn is_restartable_init_container(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// A container's requests as the scheduler sees them. A resource with a limit but no
/// request gets the limit as its request, as API defaulting does (a no-op for objects the
/// API server already defaulted). With `non_zero`, a missing cpu or memory request becomes
/// the scoring default.
fn container_requests(c: &Container, non_zero: bool) -> Resources {
    let mut r = Resources::default();
    let res = c.resources.as_ref();
    let requests = res.and_then(|r| r.requests.as_ref());
    let limits = res.and_then(|r| r.limits.as_ref());
    if let Some(requests) = requests {
        for (name, q) in requests {
            if name != PODS {
                r.add_named(name, q);
            }
        }
    }
    if let Some(limits) = limits {
        for (name, q) in limits {
            if name != PODS && !requests.is_some_and(|req| req.contains_key(name)) {
                r.add_named(name, q);
            }
        }
    }
    if non_zero {
        let has = |name: &str| {
            requests.is_some_and(|m| m.contains_key(name))
                || limits.is_some_and(|m| m.contains_key(name))
        };
        if !has(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// The aggregation of upstream's `PodRequests`: the sum of the containers and sidecars,
/// raised to what each init container needs while it runs (itself plus the sidecars
/// started before it), plus the pod overhead. `pods` is 1.
fn aggregate(pod: &Pod, non_zero: bool) -> Resources {
    let mut reqs = Resources::default();
    let Some(spec) = pod.spec.as_ref() else {
        reqs.pods = 1;
        return reqs;
    };
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let cr = container_requests(c, non_zero);
        if is_restartable_init_container(c) {
            reqs.add(&cr);
            sidecars.add(&cr);
            init_max.max_with(&sidecars);
        } else {
            let mut running = cr;
            running.add(&sidecars);
            init_max.max_with(&running);
        }
    }
    reqs.max_with(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        for (name, q) in overhead {
            if name != PODS {
                reqs.add_named(name, q);
            }
        }
    }
    reqs.pods = 1;
    reqs
}

/// The resources a pod requests, as NodeResourcesFit counts them: max(sum of containers and
/// sidecars, each init container with the sidecars before it) + `spec.overhead`, with
/// `pods = 1`. Pod-level `spec.resources` (alpha in 1.33) is not looked at.
pub fn pod_requests(pod: &Pod) -> Resources {
    aggregate(pod, false)
}

/// `(milli_cpu, memory)` a pod requests for scoring: like [`pod_requests`], but a container
/// that sets no cpu (memory) request counts as [`DEFAULT_MILLI_CPU_REQUEST`]
/// ([`DEFAULT_MEMORY_REQUEST`]); an explicit 0 stays 0.
pub fn non_zero_requests(pod: &Pod) -> (i64, i64) {
    let r = aggregate(pod, true);
    (r.milli_cpu, r.memory)
}

/// A node's allocatable resources: `status.allocatable`, or `status.capacity` when the node
/// reports no allocatable.
pub fn node_allocatable(node: &Node) -> Resources {
    let Some(status) = node.status.as_ref() else {
        return Resources::default();
    };
    match (&status.allocatable, &status.capacity) {
        (Some(a), _) if !a.is_empty() => Resources::from_list(a),
        (_, Some(c)) => Resources::from_list(c),
        _ => Resources::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeStatus, PodSpec, ResourceRequirements};

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn quantity_values() {
        let cases: &[(&str, i64, i64)] = &[
            // (text, Value(), MilliValue())
            ("0", 0, 0),
            ("1", 1, 1000),
            ("100m", 1, 100),
            ("0.5", 1, 500),
            ("1.5", 2, 1500),
            ("250m", 1, 250),
            ("1001m", 2, 1001),
            ("128Mi", 128 * 1024 * 1024, 128 * 1024 * 1024 * 1000),
            ("1Ki", 1024, 1_024_000),
            ("1.5Gi", 1_610_612_736, 1_610_612_736_000),
            ("1G", 1_000_000_000, 1_000_000_000_000),
            ("1k", 1000, 1_000_000),
            ("1e3", 1000, 1_000_000),
            ("1E3", 1000, 1_000_000),
            ("1e-3", 1, 1),
            ("2E", 2_000_000_000_000_000_000, i64::MAX),
            ("+2", 2, 2000),
            (".5", 1, 500),
            ("5.", 5, 5000),
            ("1n", 1, 1),
            ("1u", 1, 1),
            ("0.0001", 1, 1),
            ("100Gi", 107_374_182_400, 107_374_182_400_000),
            ("8Ei", i64::MAX, i64::MAX),
            (
                "12345678901234567890123456789012345678901234567890",
                i64::MAX,
                i64::MAX,
            ),
            ("0.000000000000000000000000000000000000000000001", 1, 1),
            ("1e999999999999999999999", i64::MAX, i64::MAX),
            ("1e-999", 1, 1),
            ("0e-999", 0, 0),
            ("000100m", 1, 100),
        ];
        for (text, v, mv) in cases {
            let p = ParsedQuantity::parse(text).unwrap_or_else(|| panic!("{text} should parse"));
            assert_eq!(p.value(), *v, "Value({text})");
            assert_eq!(p.milli_value(), *mv, "MilliValue({text})");
        }
        assert_eq!(value(&q("-1")), -1);
        assert_eq!(milli_value(&q("-100m")), -100);
    }

    #[test]
    fn malformed_quantities_are_zero() {
        for text in [
            "", " ", "m", "Mi", "1.2.3", "abc", "1KB", "1ki", "1K", "1 Gi", " 1", "1e", "1e+",
            "1ee3", "--1", "+", ".", "1Mi ", "1.5.Gi", "\u{661}", "1e3.5", "0x10", "１",
        ] {
            assert!(
                ParsedQuantity::parse(text).is_none(),
                "{text:?} should not parse"
            );
            assert_eq!(value(&q(text)), 0);
            assert_eq!(milli_value(&q(text)), 0);
        }
    }

    fn container(req: &[(&str, &str)], lim: &[(&str, &str)]) -> Container {
        let to_map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| kv.iter().map(|(k, v)| (k.to_string(), q(v))).collect())
        };
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: to_map(req),
                limits: to_map(lim),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: (!init.is_empty()).then_some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn requests_sum_containers_and_max_init() {
        let p = pod(
            vec![
                container(&[("cpu", "100m"), ("memory", "100Mi")], &[]),
                container(&[("cpu", "200m"), ("example.com/gpu", "1")], &[]),
            ],
            vec![container(&[("cpu", "1"), ("memory", "50Mi")], &[])],
        );
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 1000);
        assert_eq!(r.memory, 100 * 1024 * 1024);
        assert_eq!(r.scalar("example.com/gpu"), 1);
        assert_eq!(r.pods, 1);
    }

    #[test]
    fn sidecars_add_to_containers_and_to_later_init_containers() {
        let mut sidecar = container(&[("cpu", "500m")], &[]);
        sidecar.restart_policy = Some("Always".into());
        // init order: sidecar (500m), then an init container of 800m → 1300m while it runs.
        let p = pod(
            vec![container(&[("cpu", "200m")], &[])],
            vec![sidecar, container(&[("cpu", "800m")], &[])],
        );
        let r = pod_requests(&p);
        // containers + sidecar = 700m; init phase = 500m + 800m = 1300m.
        assert_eq!(r.milli_cpu, 1300);
    }

    #[test]
    fn init_container_before_sidecar_does_not_count_it() {
        let mut sidecar = container(&[("cpu", "500m")], &[]);
        sidecar.restart_policy = Some("Always".into());
        let p = pod(
            vec![container(&[("cpu", "200m")], &[])],
            vec![container(&[("cpu", "600m")], &[]), sidecar],
        );
        // containers + sidecar = 700m, first init = 600m alone.
        assert_eq!(pod_requests(&p).milli_cpu, 700);
    }

    #[test]
    fn overhead_and_limits_default() {
        let mut p = pod(
            vec![container(&[], &[("cpu", "2"), ("memory", "1Gi")])],
            vec![],
        );
        if let Some(spec) = p.spec.as_mut() {
            spec.overhead = Some([("cpu".to_string(), q("250m"))].into());
        }
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 2250);
        assert_eq!(r.memory, 1 << 30);
    }

    #[test]
    fn malformed_requests_do_not_panic() {
        let p = pod(
            vec![container(&[("cpu", "lots"), ("memory", "1Gi")], &[])],
            vec![],
        );
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 0);
        assert_eq!(r.memory, 1 << 30);
        assert_eq!(pod_requests(&Pod::default()).pods, 1);
    }

    #[test]
    fn non_zero_defaults_only_missing_requests() {
        let p = pod(
            vec![
                container(&[], &[]),
                container(&[("cpu", "0"), ("memory", "0")], &[]),
                container(&[("cpu", "300m")], &[]),
            ],
            vec![],
        );
        assert_eq!(non_zero_requests(&p), (400, DEFAULT_MEMORY_REQUEST * 2));
        assert_eq!(pod_requests(&p).milli_cpu, 300);
    }

    #[test]
    fn allocatable_falls_back_to_capacity() {
        let list = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), q(v))).collect();
        let mut node = Node {
            status: Some(NodeStatus {
                capacity: Some(list(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let a = node_allocatable(&node);
        assert_eq!((a.milli_cpu, a.memory, a.pods), (4000, 8 << 30, 110));
        if let Some(s) = node.status.as_mut() {
            s.allocatable = Some(list(&[
                ("cpu", "3500m"),
                ("pods", "10"),
                ("nvidia.com/gpu", "2"),
                ("hugepages-2Mi", "0"),
                ("unknown", "5"),
            ]));
        }
        let a = node_allocatable(&node);
        assert_eq!((a.milli_cpu, a.memory, a.pods), (3500, 0, 10));
        assert_eq!(a.scalar("nvidia.com/gpu"), 2);
        assert!(!a.scalar.contains_key("hugepages-2Mi"));
        assert!(!a.scalar.contains_key("unknown"));
    }

    #[test]
    fn add_sub_are_inverse() {
        let mut a = Resources {
            milli_cpu: 5,
            memory: 7,
            pods: 1,
            ..Default::default()
        };
        a.scalar.insert("x/y".into(), 3);
        let mut b = a.clone();
        b.scalar.insert("x/z".into(), 4);
        let before = a.clone();
        a.add(&b);
        a.sub(&b);
        assert_eq!(a, before);
    }
}
