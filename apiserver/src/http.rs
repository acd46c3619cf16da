//! The HTTP front: routing of Kubernetes API paths, query and body decoding, content
//! negotiation (JSON, Table), and turning every [`ApiError`] into a `Status` answer.

use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rand::Rng;
use serde_json::{Value, json};

use crate::decode;
use crate::discovery;
use crate::error::{ApiError, Result, Subject};
use crate::meta;
use crate::openapi::OpenApi;
use crate::resources::Resource;
use crate::rest::{FieldValidation, ListOpts, MAX_BODY, Rest, WriteOpts, apply_patch, patch_kind};
use crate::selector::{FieldSelector, LabelSelector};
use crate::watch::{WatchOpts, watch};

/// Shared state of the HTTP handlers.
pub struct Server {
    /// Storage.
    pub rest: Arc<Rest>,
    /// OpenAPI documents (rebuilt when CRDs change).
    pub openapi: RwLock<Arc<OpenApi>>,
    /// Kubernetes minor version reported by `/version`.
    pub minor: u32,
    /// Address clients reach this server at (`host:port`).
    pub advertise: String,
    /// Interval of watch bookmarks.
    pub bookmark_every: Duration,
    /// Requests served, by verb (for `/metrics`).
    pub metrics: crate::metrics::Metrics,
}

/// The axum router: every path goes through [`handle`].
pub fn router(state: Arc<Server>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

fn json_response(code: u16, v: &Value, warnings: &[String]) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for w in warnings {
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{}\"", w.replace('"', "'"))) {
            r.headers_mut().append(header::WARNING, h);
        }
    }
    r
}

fn error_response(e: &ApiError) -> Response {
    let mut r = json_response(e.code(), &e.status(), &[]);
    if e.code() == 429 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// Query parameters, in order, with repeats.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

/// What the path names.
struct Target {
    res: Arc<Resource>,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

/// The answer shape the Accept header asks for, by its first media type that names one:
/// a Table (`as=Table`, with `includeObject` defaulting to PartialObjectMetadata), or
/// metadata only (`as=PartialObjectMetadata[List]`, marked [`crate::printing::METADATA`]).
fn table_accept(headers: &HeaderMap) -> Option<String> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    for a in accept.split(',') {
        if a.contains("as=Table") {
            return Some("PartialObjectMetadata".to_string());
        }
        if a.contains("as=PartialObjectMetadata") {
            return Some(crate::printing::METADATA.to_string());
        }
        if a.contains("json") || a.contains("*/*") || a.contains("protobuf") {
            return None;
        }
    }
    None
}

/// Entry point of every request.
pub async fn handle(State(s): State<Arc<Server>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let r = match dispatch(&s, req).await {
        Ok(r) => r,
        Err(e) => {
            if e.code() >= 500 {
                tracing::warn!(%method, %path, error = %e, "request failed");
            }
            error_response(&e)
        }
    };
    s.metrics
        .observe(method.as_str(), r.status().as_u16(), started.elapsed());
    r
}

async fn dispatch(s: &Arc<Server>, req: Request) -> Result<Response> {
    let (parts, body) = req.into_parts();
    let q = Query::parse(parts.uri.query());
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').filter(|x| !x.is_empty()).collect();
    let reg = s.rest.registry();
    let aggregated = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList") && a.contains("v=v2;"));
    let get = parts.method == Method::GET;
    match segs.as_slice() {
        ["version"] if get => return Ok(json_response(200, &discovery::version(s.minor), &[])),
        ["healthz" | "livez"] if get => return Ok(text(200, "ok")),
        ["readyz"] if get => {
            let ok = tokio::time::timeout(
                Duration::from_secs(3),
                s.rest.backend.get("/registry/health"),
            )
            .await;
            return Ok(match ok {
                Ok(Ok(_)) => text(200, "ok"),
                _ => text(
                    503,
                    "[-]etcd failed: the store is not reachable\nreadyz check failed",
                ),
            });
        }
        ["metrics"] if get => return Ok(text(200, &s.metrics.render())),
        ["api"] if get => {
            return Ok(if aggregated {
                aggregated_response(&discovery::aggregated(&reg, true))
            } else {
                json_response(200, &discovery::api_versions(&s.advertise), &[])
            });
        }
        ["apis"] if get => {
            return Ok(if aggregated {
                aggregated_response(&discovery::aggregated(&reg, false))
            } else {
                json_response(200, &discovery::group_list(&reg), &[])
            });
        }
        ["api", "v1"] if get => {
            return Ok(json_response(
                200,
                &discovery::resource_list(&reg, "", "v1"),
                &[],
            ));
        }
        ["apis", g] if get => {
            return discovery::group(&reg, g)
                .map(|v| json_response(200, &v, &[]))
                .ok_or(ApiError::NoRoute);
        }
        ["apis", g, v] if get => {
            if !reg.has_group_version(g, v) {
                return Err(ApiError::NoRoute);
            }
            return Ok(json_response(
                200,
                &discovery::resource_list(&reg, g, v),
                &[],
            ));
        }
        ["openapi", "v3"] if get => {
            let o = s
                .openapi
                .read()
                .map(|o| o.clone())
                .map_err(|_| ApiError::Internal("openapi lock".into()))?;
            return Ok(json_response(200, &o.v3_index(), &[]));
        }
        ["openapi", "v3", rest @ ..] if get => {
            let o = s
                .openapi
                .read()
                .map(|o| o.clone())
                .map_err(|_| ApiError::Internal("openapi lock".into()))?;
            let (doc, _) = o.v3_document(&rest.join("/")).ok_or(ApiError::NoRoute)?;
            let mut r = Response::new(Body::from(doc));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(r);
        }
        ["openapi", "v2"] if get => {
            let o = s
                .openapi
                .read()
                .map(|o| o.clone())
                .map_err(|_| ApiError::Internal("openapi lock".into()))?;
            let wants_pb = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .is_some_and(|a| a.contains("protobuf"));
            if wants_pb {
                let mut r = Response::new(Body::from(o.v2_protobuf()));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(crate::openapi::V2_PROTOBUF_CONTENT_TYPE),
                );
                return Ok(r);
            }
            let mut r = Response::new(Body::from(o.v2_json_bytes()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(r);
        }
        _ => {}
    }
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::NoRoute),
    };
    let t = target(&reg, group, version, rest)?;
    let bytes = to_bytes(body, MAX_BODY + 1)
        .await
        .map_err(|e| ApiError::TooLarge(format!("limit is {MAX_BODY} bytes: {e}")))?;
    if bytes.len() > MAX_BODY {
        return Err(ApiError::TooLarge(format!("limit is {MAX_BODY} bytes")));
    }
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .to_string();
    let table = table_accept(&parts.headers).map(|d| match d.as_str() {
        crate::printing::METADATA => d,
        _ => q.get("includeObject").map(str::to_string).unwrap_or(d),
    });
    resource(s, &parts.method, t, &q, &ct, &ua, &bytes, table).await
}

fn text(code: u16, body: &str) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn aggregated_response(v: &Value) -> Response {
    let mut r = json_response(200, v, &[]);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(discovery::AGGREGATED),
    );
    r
}

fn target(
    reg: &crate::registry::Registry,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Target> {
    let (ns, rest) = match rest {
        ["namespaces", ns, r, ..]
            if group.is_empty() && (*r == "status" || *r == "finalize") && rest.len() == 3 =>
        {
            let res = reg.find("", "v1", "namespaces").ok_or(ApiError::NoRoute)?;
            return Ok(Target {
                res,
                ns: None,
                name: Some(ns.to_string()),
                sub: Some(r.to_string()),
            });
        }
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Err(ApiError::NoRoute),
    };
    let res = reg.find(group, version, plural).ok_or(ApiError::NoRoute)?;
    if ns.is_some() && !res.namespaced {
        return Err(ApiError::NoRoute);
    }
    if let Some(sname) = &sub
        && res.subresource(sname).is_none()
    {
        return Err(ApiError::NoRoute);
    }
    if res.namespaced && ns.is_none() && name.is_some() {
        return Err(ApiError::NoRoute);
    }
    Ok(Target { res, ns, name, sub })
}

fn write_opts(q: &Query, ua: &str) -> Result<WriteOpts> {
    let dry_run = match q.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "Invalid dry run value: {other}; supported values: \"All\""
            )));
        }
    };
    let field_validation = match q.get("fieldValidation") {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(o) => {
            return Err(ApiError::BadRequest(format!(
                "fieldValidation: Unsupported value: \"{o}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    let field_manager = match q.get("fieldManager") {
        Some(m) if m.len() > 128 => {
            return Err(ApiError::BadRequest(
                "fieldManager: Too long: must have at most 128 bytes".into(),
            ));
        }
        Some(m) if !m.is_empty() => Some(m.to_string()),
        _ => {
            let prefix = ua.split('/').next().unwrap_or("").trim();
            (!prefix.is_empty()).then(|| prefix.chars().take(128).collect())
        }
    };
    let force = q.flag("force");
    Ok(WriteOpts {
        dry_run,
        field_manager,
        field_validation,
        force,
        view: None,
        server_side: false,
        status_subresource: false,
    })
}

fn list_opts(q: &Query) -> Result<ListOpts> {
    let label = q
        .get("labelSelector")
        .filter(|s| !s.is_empty())
        .map(LabelSelector::parse)
        .transpose()?;
    let field = q
        .get("fieldSelector")
        .filter(|s| !s.is_empty())
        .map(FieldSelector::parse)
        .transpose()?;
    let limit = match q.get("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| ApiError::BadRequest(format!("invalid limit: {l}")))?
            .max(0),
    };
    Ok(ListOpts {
        label,
        field,
        limit,
        continue_token: q
            .get("continue")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        resource_version: q.get("resourceVersion").map(str::to_string),
        rv_match: q.get("resourceVersionMatch").map(str::to_string),
    })
}

fn delete_opts(q: &Query, body: &[u8], ct: &str) -> Result<Value> {
    let mut o = if body.iter().any(|b| !b.is_ascii_whitespace()) {
        decode::body(ct, body)?
    } else {
        json!({})
    };
    if !o.is_object() {
        return Err(ApiError::BadRequest(
            "DeleteOptions must be an object".into(),
        ));
    }
    if let Some(g) = q.get("gracePeriodSeconds") {
        let g: i64 = g
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds: {g}")))?;
        o["gracePeriodSeconds"] = json!(g);
    }
    if let Some(p) = q.get("propagationPolicy") {
        o["propagationPolicy"] = json!(p);
    }
    if let Some(p) = q.get("orphanDependents") {
        o["orphanDependents"] = json!(p == "true");
    }
    Ok(o)
}

#[allow(clippy::too_many_arguments)]
async fn resource(
    s: &Arc<Server>,
    method: &Method,
    t: Target,
    q: &Query,
    ct: &str,
    ua: &str,
    body: &[u8],
    table: Option<String>,
) -> Result<Response> {
    let rest = &s.rest;
    // The version asked for, and the one the object is stored in (they differ for
    // autoscaling/v1 HPAs and events.k8s.io Events; see `convert`).
    let view = t.res.clone();
    let stored = crate::convert::storage_res(&rest.registry(), &view);
    let converting = stored.is_some();
    let res = stored.unwrap_or_else(|| view.clone());
    let out_of = |v: Value| -> Value {
        if converting && v.get("kind").and_then(Value::as_str) != Some("Status") {
            crate::convert::from_storage(&view, v)
        } else {
            v
        }
    };
    let ns = t.ns.clone().unwrap_or_default();
    let list_meta = |rv: i64, cont: Option<String>, remaining: Option<i64>| {
        let mut m = json!({"resourceVersion": rv.to_string()});
        if let Some(c) = cont {
            m["continue"] = json!(c);
        }
        if let Some(r) = remaining.filter(|r| *r > 0) {
            m["remainingItemCount"] = json!(r);
        }
        m
    };
    match (method.clone(), t.name.as_deref(), t.sub.as_deref()) {
        (Method::GET, None, None) if res.virtual_only => Err(ApiError::MethodNotAllowed),
        (Method::GET, None, None) if q.flag("watch") => {
            let timeout =
                match q.get("timeoutSeconds") {
                    Some(t) => Duration::from_secs(t.parse::<u64>().map_err(|_| {
                        ApiError::BadRequest(format!("invalid timeoutSeconds: {t}"))
                    })?),
                    None => Duration::from_secs(1800 + rand::rng().random_range(0..1800)),
                };
            if q.get("resourceVersionMatch").is_some_and(|m| !m.is_empty())
                && q.get("sendInitialEvents").is_none()
            {
                return Err(ApiError::BadRequest(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".into(),
                ));
            }
            let lo = list_opts(q)?;
            let opts = WatchOpts {
                label: lo.label,
                field: lo.field,
                resource_version: lo.resource_version,
                bookmarks: q.flag("allowWatchBookmarks"),
                send_initial: q.get("sendInitialEvents").map(|v| v == "true"),
                timeout,
                table,
                bookmark_every: s.bookmark_every,
                view: None,
            };
            let stream = watch(
                rest.clone(),
                res,
                t.ns.clone(),
                WatchOpts {
                    view: converting.then(|| view.clone()),
                    ..opts
                },
            )
            .await?;
            let mut r = Response::new(Body::from_stream(stream.map(Ok::<_, Infallible>)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
            Ok(r)
        }
        (Method::GET, None, None) => {
            if q.get("sendInitialEvents").is_some() {
                return Err(ApiError::BadRequest(
                    "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list".into(),
                ));
            }
            let lo = list_opts(q)?;
            let mut l = rest.list(&res, t.ns.as_deref(), &lo).await?;
            if converting {
                l.items = l
                    .items
                    .iter()
                    .map(|o| Arc::new(out_of((**o).clone())))
                    .collect();
            }
            let metadata = list_meta(l.revision, l.continue_token, l.remaining);
            let v = match table {
                Some(inc) if inc == crate::printing::METADATA => {
                    crate::printing::partial_list(&l.items, metadata)
                }
                Some(inc) => {
                    let items: Vec<Value> = l.items.iter().map(|o| (**o).clone()).collect();
                    crate::printing::table_for(&res, &items, metadata, &inc)
                }
                None => {
                    // Serialised straight from the shared objects: no copy of the items.
                    #[derive(serde::Serialize)]
                    struct List<'a> {
                        kind: String,
                        #[serde(rename = "apiVersion")]
                        api_version: String,
                        metadata: Value,
                        items: Vec<&'a Value>,
                    }
                    let body = serde_json::to_vec(&List {
                        kind: format!("{}List", res.kind),
                        api_version: res.api_version(),
                        metadata,
                        items: l.items.iter().map(|o| &**o).collect(),
                    })
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                    let mut r = Response::new(Body::from(body));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    return Ok(r);
                }
            };
            Ok(json_response(200, &v, &[]))
        }
        (Method::GET, Some(name), None | Some("status")) => {
            let obj = out_of(rest.get(&res, &ns, name).await?);
            let v = match table {
                Some(inc) if inc == crate::printing::METADATA => crate::printing::partial(&obj),
                Some(inc) => {
                    let rv = meta::meta_str(&obj, "resourceVersion").to_string();
                    crate::printing::table_for(
                        &res,
                        std::slice::from_ref(&obj),
                        json!({"resourceVersion": rv}),
                        &inc,
                    )
                }
                None => obj,
            };
            Ok(json_response(200, &v, &[]))
        }
        (Method::GET, Some(name), Some("scale")) => {
            let obj = rest.get(&res, &ns, name).await?;
            Ok(json_response(200, &to_scale(&res, &obj)?, &[]))
        }
        (Method::POST, None, None) => {
            let mut obj = decode::body(ct, body)?;
            if res.virtual_only {
                return Ok(json_response(201, &review(&res, obj)?, &[]));
            }
            crate::rest::drop_nulls(&mut obj);
            if converting {
                obj = crate::convert::to_storage(&view, obj);
            }
            let opts = write_opts(q, ua)?;
            let out = rest.create(&res, &ns, obj, &opts).await?;
            Ok(json_response(out.code, &out_of(out.object), &out.warnings))
        }
        (Method::POST, Some(name), Some("binding")) => {
            let b = decode::body(ct, body)?;
            let node = b
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if node.is_empty() {
                return Err(ApiError::invalid(
                    Subject {
                        group: String::new(),
                        kind: "bindings".into(),
                        name: name.to_string(),
                    },
                    "Binding",
                    vec![crate::error::Cause::new(
                        "FieldValueRequired",
                        "target.name",
                        "Required value",
                    )],
                ));
            }
            let opts = write_opts(q, ua)?;
            rest.modify(
                &res,
                &ns,
                name,
                &WriteOpts {
                    field_manager: None,
                    server_side: true,
                    ..opts
                },
                |pod| {
                    let cur = pod
                        .pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !cur.is_empty() {
                        return Err(ApiError::Conflict {
                            subject: Subject {
                                group: String::new(),
                                kind: "pods".into(),
                                name: name.to_string(),
                            },
                            message: format!("pod {name} is already assigned to node \"{cur}\""),
                        });
                    }
                    if meta::deleting(pod) {
                        return Err(ApiError::Conflict {
                            subject: Subject {
                                group: String::new(),
                                kind: "pods".into(),
                                name: name.to_string(),
                            },
                            message: format!(
                                "pod {name} is being deleted, cannot be assigned to a host"
                            ),
                        });
                    }
                    let mut p = pod.clone();
                    p["spec"]["nodeName"] = json!(node);
                    Ok((p, false))
                },
            )
            .await?;
            // The binding endpoint also records PodScheduled on the status.
            let _ = rest
                .modify(&res, &ns, name, &WriteOpts::default(), |pod| {
                    let mut p = pod.clone();
                    set_condition(&mut p, json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now()}));
                    Ok((p, false))
                })
                .await;
            Ok(json_response(201, &success(), &[]))
        }
        (Method::POST, Some(name), Some("eviction")) => {
            let b = decode::body(ct, body)?;
            let opts = b
                .get("deleteOptions")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            crate::policy::check_eviction(rest, &ns, name).await?;
            rest.delete(&res, &ns, name, &opts, q.get("dryRun") == Some("All"))
                .await?;
            Ok(json_response(201, &success(), &[]))
        }
        (Method::PUT, Some(name), None | Some("status") | Some("finalize")) => {
            let mut obj = decode::body(ct, body)?;
            crate::rest::drop_nulls(&mut obj);
            let opts = write_opts(q, ua)?;
            let sub = match t.sub.as_deref() {
                Some("finalize") => None,
                other => other,
            };
            if converting {
                obj = crate::convert::to_storage(&view, obj);
            }
            let out = rest.update(&res, &ns, name, obj, sub, &opts).await?;
            Ok(json_response(out.code, &out_of(out.object), &out.warnings))
        }
        (Method::PUT, Some(name), Some("scale")) => {
            let scale = decode::body(ct, body)?;
            let opts = write_opts(q, ua)?;
            let out = set_scale(rest, &res, &ns, name, &opts, |_| Ok(scale.clone())).await?;
            Ok(json_response(200, &out, &[]))
        }
        (Method::PATCH, Some(name), Some("scale")) => {
            let kind = patch_kind(ct)?;
            let patch = decode::json(body)?;
            let opts = write_opts(q, ua)?;
            let out = set_scale(rest, &res, &ns, name, &opts, |cur| {
                let scale_res = Resource {
                    group: "autoscaling".into(),
                    version: "v1".into(),
                    kind: "Scale".into(),
                    ..(*res).clone()
                };
                apply_patch(kind, cur, &patch, &scale_res)
            })
            .await?;
            Ok(json_response(200, &out, &[]))
        }
        (Method::PATCH, Some(name), None | Some("status")) => {
            let mut opts = write_opts(q, ua)?;
            opts.view = converting.then(|| view.clone());
            let out = rest
                .patch(&res, &ns, name, ct, body, t.sub.as_deref(), &opts)
                .await?;
            Ok(json_response(out.code, &out_of(out.object), &out.warnings))
        }
        (Method::DELETE, Some(name), None) => {
            let opts = delete_opts(q, body, ct)?;
            let dry = q.get("dryRun") == Some("All")
                || opts
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x == "All"));
            let out = rest.delete(&res, &ns, name, &opts, dry).await?;
            Ok(json_response(out.code, &out_of(out.object), &[]))
        }
        (Method::DELETE, None, None) => {
            let opts = delete_opts(q, body, ct)?;
            let lo = list_opts(q)?;
            let v = rest
                .delete_collection(
                    &res,
                    t.ns.as_deref(),
                    &lo,
                    &opts,
                    q.get("dryRun") == Some("All"),
                )
                .await?;
            Ok(json_response(200, &v, &[]))
        }
        (_, Some(name), Some(sub @ ("log" | "exec" | "attach" | "portforward" | "proxy"))) => {
            crate::proxy::to_node(rest, &res, &ns, name, sub).await
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

fn set_condition(obj: &mut Value, cond: Value) {
    let t = cond["type"].clone();
    if !obj["status"].is_object() {
        obj["status"] = json!({});
    }
    let list = obj["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    if let Some(Value::Array(list)) = list {
        match list.iter_mut().find(|c| c["type"] == t) {
            Some(c) => {
                if c["status"] != cond["status"] {
                    *c = cond;
                }
            }
            None => list.push(cond),
        }
    }
}

/// The selector of a scalable object, in string form.
fn selector_string(res: &Resource, obj: &Value) -> String {
    let sel = obj.pointer("/spec/selector");
    match sel {
        Some(v) if res.kind == "ReplicationController" => v
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        Some(v) => LabelSelector::from_label_selector_json(v)
            .map(|s| s.to_string_form())
            .unwrap_or_default(),
        None => String::new(),
    }
}

fn to_scale(res: &Resource, obj: &Value) -> Result<Value> {
    let m = meta::metadata(obj);
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m.get("name"), "namespace": m.get("namespace"), "uid": m.get("uid"),
            "resourceVersion": m.get("resourceVersion"), "creationTimestamp": m.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector_string(res, obj),
        },
    }))
}

async fn set_scale<F>(
    rest: &Rest,
    res: &Resource,
    ns: &str,
    name: &str,
    opts: &WriteOpts,
    f: F,
) -> Result<Value>
where
    F: Fn(&Value) -> Result<Value>,
{
    let out = rest
        .modify(res, ns, name, opts, |cur| {
            let scale = to_scale(res, cur)?;
            let new = f(&scale)?;
            let want_rv = meta::meta_str(&new, "resourceVersion").to_string();
            if !want_rv.is_empty() && want_rv != meta::meta_str(cur, "resourceVersion") {
                return Err(ApiError::modified(Subject {
                    group: res.group.clone(),
                    kind: res.plural.clone(),
                    name: name.to_string(),
                }));
            }
            let replicas = new
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid(
                    Subject {
                        group: "autoscaling".into(),
                        kind: "Scale".into(),
                        name: name.to_string(),
                    },
                    "Scale.autoscaling",
                    vec![crate::error::Cause::new(
                        "FieldValueInvalid",
                        "spec.replicas",
                        format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                    )],
                ));
            }
            let mut obj = cur.clone();
            obj["spec"]["replicas"] = json!(replicas);
            Ok((obj, !want_rv.is_empty()))
        })
        .await?;
    to_scale(res, &out.object)
}

/// Authorization and identity reviews: answered, never stored. Authorization is not
/// enforced yet, so every access is allowed.
fn review(res: &Resource, mut obj: Value) -> Result<Value> {
    if !obj.is_object() {
        return Err(ApiError::BadRequest("review must be an object".into()));
    }
    obj["apiVersion"] = json!(res.api_version());
    obj["kind"] = json!(res.kind);
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    obj["status"] = match res.kind.as_str() {
        "SelfSubjectAccessReview" => {
            json!({"allowed": true, "reason": "keelson does not enforce authorization yet"})
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        _ => {
            json!({"userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}})
        }
    };
    Ok(obj)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}
