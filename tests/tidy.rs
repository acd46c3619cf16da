//! Tidy checks that run as ordinary tests: the dependency arrows of ARCHITECTURE.md, and the
//! install material under deploy/ parses.

use std::collections::BTreeSet;
use std::process::Command;

fn deps_of(metadata: &serde_json::Value, package: &str) -> BTreeSet<String> {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == package)
        .map(|p| {
            p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn dependency_arrows_hold() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let store = deps_of(&m, "keelson-store");
    assert!(!store.is_empty(), "keelson-store not found in metadata");
    for forbidden in ["k8s-openapi", "kube", "axum", "keelson-apiserver"] {
        assert!(
            !store.contains(forbidden),
            "the store must know nothing about Kubernetes, but depends on {forbidden}"
        );
    }
    let api = deps_of(&m, "keelson-apiserver");
    assert!(!api.is_empty(), "keelson-apiserver not found in metadata");
    assert!(
        !api.contains("keelson-store") && !api.contains("rocksdb"),
        "the apiserver reaches the store only through its client trait, but links {api:?}"
    );
    for role in ["keelson-controllers", "keelson-scheduler"] {
        let deps = deps_of(&m, role);
        assert!(!deps.is_empty(), "{role} not found in metadata");
        for forbidden in [
            "keelson-store",
            "keelson-apiserver",
            "rocksdb",
            "etcd-client",
        ] {
            assert!(
                !deps.contains(forbidden),
                "{role} reaches the cluster only through the API server, but links {forbidden}"
            );
        }
    }
    let proto = deps_of(&m, "keelson-proto");
    let allowed: BTreeSet<String> = ["prost", "tonic", "tonic-prost"]
        .into_iter()
        .map(String::from)
        .collect();
    assert!(
        proto.is_subset(&allowed),
        "keelson-proto must depend on prost/tonic only, has {proto:?}"
    );
}

#[test]
fn deploy_config_example_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/store.example.yaml");
    let cfg = keelson_store::StoreConfig::from_file(&path).expect("example parses");
    let v = cfg.validate().expect("example validates");
    assert_eq!(v.name, "m1");
    assert_eq!(v.election_timeout, std::time::Duration::from_millis(1000));
}
