//! Cluster behaviour that lives in kube-apiserver itself: the system namespaces, the
//! `kubernetes` Service and its Endpoints, and the namespace finalizer that empties a
//! Terminating namespace and then lets it go.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{ApiError, Result};
use crate::meta;
use crate::rest::{ListOpts, Rest, WriteOpts};

/// Create what a fresh cluster has: namespaces and the `kubernetes` Service/Endpoints.
pub async fn bootstrap(rest: &Rest, ip: &str, port: u16) -> Result<()> {
    let reg = rest.registry();
    let ns = reg.find("", "v1", "namespaces").ok_or(ApiError::NoRoute)?;
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}});
        match rest.create(&ns, "", obj, &WriteOpts::default()).await {
            Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let svc = reg.find("", "v1", "services").ok_or(ApiError::NoRoute)?;
    let cluster_ip = crate::alloc::first_ip(&rest.config.service_cidr)?;
    let obj = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}], "sessionAffinity": "None"}
    });
    match rest
        .create(&svc, "default", obj, &WriteOpts::default())
        .await
    {
        Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    // Each API server adds its own address to the Endpoints.
    let eps = reg.find("", "v1", "endpoints").ok_or(ApiError::NoRoute)?;
    let obj = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    });
    match rest
        .create(&eps, "default", obj, &WriteOpts::default())
        .await
    {
        Ok(_) => {}
        Err(ApiError::AlreadyExists(_)) => {
            rest.modify(&eps, "default", "kubernetes", &WriteOpts::default(), |cur| {
                let mut e = cur.clone();
                let has = e.pointer("/subsets/0/addresses").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x["ip"] == ip));
                if !has {
                    match e.pointer_mut("/subsets/0/addresses").and_then(Value::as_array_mut) {
                        Some(a) => a.push(json!({"ip": ip})),
                        None => e["subsets"] = json!([{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]),
                    }
                }
                Ok((e, false))
            })
            .await?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Empty Terminating namespaces, then remove their `kubernetes` finalizer. Every API server
/// runs this; they race harmlessly (deletes of gone objects are ignored, updates retry).
pub async fn namespace_finalizer(rest: Arc<Rest>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Err(e) = finalize_once(&rest).await {
            tracing::debug!(error = %e, "namespace finalizer pass failed");
        }
    }
}

async fn finalize_once(rest: &Rest) -> Result<()> {
    let reg = rest.registry();
    let Some(nsr) = reg.find("", "v1", "namespaces") else {
        return Ok(());
    };
    let cache = rest.cache(&nsr)?;
    let (all, _) = cache.list(&nsr.prefix(None));
    for ns in all.iter().filter(|n| meta::deleting(n)) {
        let name = meta::name(ns).to_string();
        let mut left = 0usize;
        let mut seen = std::collections::HashSet::new();
        for res in reg.all().iter().filter(|r| r.namespaced && !r.virtual_only) {
            if !seen.insert(res.storage.clone()) {
                continue;
            }
            let items = rest
                .list(
                    res,
                    Some(&name),
                    &ListOpts {
                        resource_version: Some("0".into()),
                        ..Default::default()
                    },
                )
                .await?;
            for item in items.items {
                let item = &*item;
                left += 1;
                if meta::deleting(item) {
                    continue;
                }
                match rest
                    .delete(
                        res,
                        &name,
                        meta::name(item),
                        &json!({"propagationPolicy": "Background"}),
                        false,
                    )
                    .await
                {
                    Ok(_) | Err(ApiError::NotFound(_)) => {}
                    Err(e) => {
                        tracing::debug!(namespace = %name, error = %e, "could not delete namespace content")
                    }
                }
            }
        }
        if left == 0 {
            let r = rest
                .modify(&nsr, "", &name, &WriteOpts::default(), |cur| {
                    let mut n = cur.clone();
                    if let Some(f) = n
                        .pointer_mut("/spec/finalizers")
                        .and_then(Value::as_array_mut)
                    {
                        f.retain(|x| x != "kubernetes");
                    }
                    Ok((n, false))
                })
                .await;
            match r {
                Ok(_) | Err(ApiError::NotFound(_)) => {}
                Err(e) => {
                    tracing::debug!(namespace = %name, error = %e, "could not finalize namespace")
                }
            }
        }
    }
    Ok(())
}
