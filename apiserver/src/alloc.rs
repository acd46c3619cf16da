//! Service cluster IP and node port allocation, done in the same store transaction as the
//! Service write so an address is never handed out twice, even by two API servers at once.
//!
//! Each allocated address is a key of its own (`/registry/keelson/serviceips/<ip>`,
//! `/registry/keelson/nodeports/<port>`) whose value names the owning Service. Creating a
//! Service adds "key absent" conditions and puts for its addresses; deleting it removes them.

use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{Value, json};

use crate::backend::{Cond, Mutation};
use crate::error::{ApiError, Cause, Result, Subject};
use crate::meta;
use crate::resources::Resource;
use crate::rest::Rest;

const IP_PREFIX: &str = "/registry/keelson/serviceips/";
const PORT_PREFIX: &str = "/registry/keelson/nodeports/";

fn is_service(res: &Resource) -> bool {
    res.group.is_empty() && res.kind == "Service"
}

/// Parse `a.b.c.d/n` into (network, size).
pub fn parse_cidr(cidr: &str) -> Result<(u32, u32)> {
    let bad = || ApiError::Internal(format!("bad service CIDR {cidr}"));
    let (ip, bits) = cidr.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    if !(8..=30).contains(&bits) {
        return Err(bad());
    }
    let size = 1u32 << (32 - bits);
    Ok((u32::from(ip) & !(size - 1), size))
}

/// The first usable address of the range (the `kubernetes` Service's address).
pub fn first_ip(cidr: &str) -> Result<String> {
    let (net, _) = parse_cidr(cidr)?;
    Ok(Ipv4Addr::from(net + 1).to_string())
}

fn invalid(obj: &Value, field: &str, msg: String) -> ApiError {
    ApiError::invalid(
        Subject {
            group: String::new(),
            kind: "services".into(),
            name: meta::name(obj).to_string(),
        },
        "Service",
        vec![Cause::new("FieldValueInvalid", field, msg)],
    )
}

fn owner(obj: &Value) -> Vec<u8> {
    json!({"namespace": meta::namespace(obj), "name": meta::name(obj)})
        .to_string()
        .into_bytes()
}

fn wants_node_ports(obj: &Value) -> bool {
    matches!(
        obj.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

async fn pick_ip(rest: &Rest, res: &Resource) -> Result<String> {
    let (net, size) = parse_cidr(&rest.config.service_cidr)?;
    for _ in 0..64 {
        let off = rand::rng().random_range(2..size - 1);
        let ip = Ipv4Addr::from(net + off).to_string();
        let (kv, _) = rest
            .backend_for(res)
            .get(&format!("{IP_PREFIX}{ip}"))
            .await?;
        if kv.is_none() {
            return Ok(ip);
        }
    }
    Err(ApiError::Internal(
        "failed to allocate a service IP: range is full".into(),
    ))
}

async fn pick_port(rest: &Rest, res: &Resource, taken: &[i64]) -> Result<i64> {
    let (lo, hi) = rest.config.node_ports;
    for _ in 0..128 {
        let p = rand::rng().random_range(lo as i64..=hi as i64);
        if taken.contains(&p) {
            continue;
        }
        let (kv, _) = rest
            .backend_for(res)
            .get(&format!("{PORT_PREFIX}{p}"))
            .await?;
        if kv.is_none() {
            return Ok(p);
        }
    }
    Err(ApiError::Internal(
        "failed to allocate a node port: range is full".into(),
    ))
}

fn node_ports(obj: &Value) -> Vec<i64> {
    obj.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .filter(|p| *p > 0)
                .collect()
        })
        .unwrap_or_default()
}

fn cluster_ip(obj: &Value) -> Option<String> {
    obj.pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "None")
        .map(str::to_string)
}

async fn fill_node_ports(
    rest: &Rest,
    res: &Resource,
    obj: &mut Value,
    keep: &[i64],
) -> Result<(Vec<Cond>, Vec<Mutation>)> {
    let (lo, hi) = rest.config.node_ports;
    let mut conds = vec![];
    let mut muts = vec![];
    let mut taken: Vec<i64> = vec![];
    let n = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    for i in 0..n {
        let cur = obj
            .pointer(&format!("/spec/ports/{i}/nodePort"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let port = if cur > 0 {
            if cur < lo as i64 || cur > hi as i64 {
                return Err(invalid(
                    obj,
                    &format!("spec.ports[{i}].nodePort"),
                    format!(
                        "Invalid value: {cur}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
                    ),
                ));
            }
            if taken.contains(&cur) {
                return Err(invalid(
                    obj,
                    &format!("spec.ports[{i}].nodePort"),
                    format!("Duplicate value: {cur}"),
                ));
            }
            cur
        } else {
            pick_port(rest, res, &taken).await?
        };
        taken.push(port);
        if !keep.contains(&port) {
            conds.push(Cond {
                key: format!("{PORT_PREFIX}{port}"),
                mod_revision: 0,
            });
            muts.push(Mutation::Put(format!("{PORT_PREFIX}{port}"), owner(obj)));
        }
        obj["spec"]["ports"][i]["nodePort"] = json!(port);
    }
    Ok((conds, muts))
}

/// Allocations for a new object: conditions and writes to add to its create.
pub async fn on_create(
    rest: &Rest,
    res: &Resource,
    obj: &mut Value,
) -> Result<(Vec<Cond>, Vec<Mutation>)> {
    if !is_service(res) {
        return Ok((vec![], vec![]));
    }
    let mut conds = vec![];
    let mut muts = vec![];
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        let ip = match cluster_ip(obj) {
            Some(ip) => {
                let (net, size) = parse_cidr(&rest.config.service_cidr)?;
                let ok = ip
                    .parse::<Ipv4Addr>()
                    .map(|a| u32::from(a).wrapping_sub(net) < size)
                    .unwrap_or(false);
                if !ok {
                    return Err(invalid(
                        obj,
                        "spec.clusterIPs",
                        format!(
                            "Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                            rest.config.service_cidr
                        ),
                    ));
                }
                Some(ip)
            }
            None if obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None") => None,
            None => Some(pick_ip(rest, res).await?),
        };
        if let Some(ip) = ip {
            conds.push(Cond {
                key: format!("{IP_PREFIX}{ip}"),
                mod_revision: 0,
            });
            muts.push(Mutation::Put(format!("{IP_PREFIX}{ip}"), owner(obj)));
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
        } else {
            obj["spec"]["clusterIPs"] = json!(["None"]);
        }
    }
    if wants_node_ports(obj) {
        let (c, m) = fill_node_ports(rest, res, obj, &[]).await?;
        conds.extend(c);
        muts.extend(m);
    }
    Ok((conds, muts))
}

/// Allocation changes of an update: keep the cluster IP, allocate or release node ports.
pub async fn on_update(
    rest: &Rest,
    res: &Resource,
    old: &Value,
    new: &mut Value,
) -> Result<(Vec<Cond>, Vec<Mutation>)> {
    if !is_service(res) {
        return Ok((vec![], vec![]));
    }
    // The cluster IP is immutable; an update that leaves it out keeps the old one.
    if let Some(ip) = cluster_ip(old) {
        match new.pointer("/spec/clusterIP").and_then(Value::as_str) {
            None | Some("") => {
                new["spec"]["clusterIP"] = json!(ip);
                new["spec"]["clusterIPs"] = json!([ip]);
            }
            Some(x) if x != ip => {
                return Err(invalid(
                    new,
                    "spec.clusterIPs[0]",
                    format!("Invalid value: []string{{\"{x}\"}}: may not change once set"),
                ));
            }
            _ => {}
        }
    }
    let old_ports = node_ports(old);
    let mut conds = vec![];
    let mut muts = vec![];
    if wants_node_ports(new) {
        let (c, m) = fill_node_ports(rest, res, new, &old_ports).await?;
        conds.extend(c);
        muts.extend(m);
    } else if let Some(ps) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ps.iter_mut().filter_map(Value::as_object_mut) {
            p.remove("nodePort");
        }
    }
    let new_ports = node_ports(new);
    for p in old_ports {
        if !new_ports.contains(&p) {
            muts.push(Mutation::Delete(format!("{PORT_PREFIX}{p}")));
        }
    }
    Ok((conds, muts))
}

/// Releases for a deleted object.
pub fn on_delete(res: &Resource, old: &Value) -> (Vec<Cond>, Vec<Mutation>) {
    if !is_service(res) {
        return (vec![], vec![]);
    }
    let mut muts: Vec<Mutation> = node_ports(old)
        .into_iter()
        .map(|p| Mutation::Delete(format!("{PORT_PREFIX}{p}")))
        .collect();
    if let Some(ip) = cluster_ip(old) {
        muts.push(Mutation::Delete(format!("{IP_PREFIX}{ip}")));
    }
    (vec![], muts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing() {
        assert_eq!(
            parse_cidr("10.96.0.0/12").ok(),
            Some((u32::from(Ipv4Addr::new(10, 96, 0, 0)), 1 << 20))
        );
        assert_eq!(first_ip("10.96.0.0/12").ok().as_deref(), Some("10.96.0.1"));
        assert!(parse_cidr("10.96.0.0").is_err());
        assert!(parse_cidr("10.96.0.0/31").is_err());
    }
}
