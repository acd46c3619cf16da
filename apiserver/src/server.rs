//! Running the API server: configuration, TLS (a cluster CA and serving certificate made
//! on first start and kept in the data directory), the admin kubeconfig, the listener, and
//! the background tasks (watch caches, CRD sync, namespace finalizer, bootstrap objects).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::backend::{Backend, EtcdBackend};
use crate::error::{ApiError, Result};
use crate::http::{Server, router};
use crate::openapi::OpenApi;
use crate::rest::{Rest, RestConfig};

/// API server settings (flag names follow kube-apiserver where one exists).
#[derive(clap::Args, Debug, Clone)]
pub struct ApiConfig {
    /// Address to listen on.
    #[arg(long = "bind-address", default_value = "127.0.0.1")]
    pub bind_address: String,
    /// HTTPS (or HTTP with --insecure-http) port.
    #[arg(long = "secure-port", default_value_t = 6443)]
    pub port: u16,
    /// Address other components and the `kubernetes` Service use to reach this server
    /// (default: the bind address, or 127.0.0.1 when binding all addresses).
    #[arg(long = "advertise-address")]
    pub advertise_address: Option<String>,
    /// Serve plain HTTP instead of HTTPS (tests, local debugging).
    #[arg(long = "insecure-http")]
    pub insecure_http: bool,
    /// Store endpoints (`host:port`, comma separated) for `keelson apiserver`; `keelson server`
    /// uses its embedded store when this is empty.
    #[arg(long = "etcd-servers", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// Deadline of each store call before the client fails over to the next endpoint.
    #[arg(long = "etcd-timeout", default_value = "3s", value_parser = humantime::parse_duration)]
    pub etcd_timeout: Duration,
    /// Service cluster IP range.
    #[arg(long = "service-cluster-ip-range", default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// Node port range, `low-high`.
    #[arg(long = "service-node-port-range", default_value = "30000-32767")]
    pub node_port_range: String,
    /// Kubernetes minor version reported by `/version` (27..33); kubectl's dispatcher picks
    /// its client from it.
    #[arg(long = "kubernetes-minor", default_value_t = 32)]
    pub minor: u32,
    /// Serving certificate (PEM); made with a cluster CA in `<data-dir>/pki` when absent.
    #[arg(long = "tls-cert-file")]
    pub tls_cert: Option<PathBuf>,
    /// Serving key (PEM).
    #[arg(long = "tls-private-key-file")]
    pub tls_key: Option<PathBuf>,
    /// Interval of watch bookmarks.
    #[arg(long = "watch-bookmark-interval", default_value = "60s", value_parser = humantime::parse_duration)]
    pub bookmark_every: Duration,
    /// Events kept by each watch cache.
    #[arg(long = "watch-cache-size", default_value_t = 2000)]
    pub cache_window: usize,
    /// Resources kept in other shards (Raft groups) of a keelson store, like kube-apiserver's
    /// `--etcd-servers-overrides`: `events=events,leases=leases` stores events and leases in
    /// the groups named `events` and `leases` (the store must host them: `--groups`).
    #[arg(long = "store-shards", value_delimiter = ',')]
    pub store_shards: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            bind_address: "127.0.0.1".into(),
            port: 6443,
            advertise_address: None,
            insecure_http: false,
            etcd_servers: vec![],
            etcd_timeout: Duration::from_secs(3),
            service_cidr: "10.96.0.0/12".into(),
            node_port_range: "30000-32767".into(),
            minor: 32,
            tls_cert: None,
            tls_key: None,
            bookmark_every: Duration::from_secs(60),
            cache_window: 2000,
            store_shards: vec![],
        }
    }
}

impl ApiConfig {
    fn node_ports(&self) -> Result<(u16, u16)> {
        let bad = || {
            ApiError::Internal(format!(
                "bad --service-node-port-range {}",
                self.node_port_range
            ))
        };
        let (a, b) = self.node_port_range.split_once('-').ok_or_else(bad)?;
        let (a, b): (u16, u16) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b {
            return Err(bad());
        }
        Ok((a, b))
    }

    /// The backend for `keelson apiserver`: the configured etcd endpoints.
    pub fn remote_backend(&self) -> Result<Arc<dyn Backend>> {
        Ok(EtcdBackend::remote(&self.etcd_servers, self.etcd_timeout)?)
    }

    fn advertise(&self) -> String {
        match &self.advertise_address {
            Some(a) => a.clone(),
            None if self.bind_address == "0.0.0.0" || self.bind_address == "::" => {
                "127.0.0.1".into()
            }
            None => self.bind_address.clone(),
        }
    }
}

/// A running API server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Path of the admin kubeconfig it wrote.
    pub kubeconfig: PathBuf,
}

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn io(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Load `<dir>/pki` or make a CA and a serving certificate for `hosts`.
fn pki(dir: &Path, hosts: &[String]) -> Result<Pki> {
    let pki = dir.join("pki");
    let paths = (
        pki.join("ca.crt"),
        pki.join("apiserver.crt"),
        pki.join("apiserver.key"),
    );
    if paths.0.exists() && paths.1.exists() && paths.2.exists() {
        return Ok(Pki {
            ca_pem: std::fs::read_to_string(&paths.0).map_err(io)?,
            cert_pem: std::fs::read_to_string(&paths.1).map_err(io)?,
            key_pem: std::fs::read_to_string(&paths.2).map_err(io)?,
        });
    }
    std::fs::create_dir_all(&pki).map_err(io)?;
    let ca_key = rcgen::KeyPair::generate().map_err(io)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(io)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "keelson-ca");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(io)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        "kubernetes.default.svc.cluster.local".into(),
    ];
    for h in hosts {
        if !names.contains(h) {
            names.push(h.clone());
        }
    }
    let key = rcgen::KeyPair::generate().map_err(io)?;
    let mut params = rcgen::CertificateParams::new(names).map_err(io)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.signed_by(&key, &issuer).map_err(io)?;
    let out = Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    std::fs::write(&paths.0, &out.ca_pem).map_err(io)?;
    std::fs::write(&paths.1, &out.cert_pem).map_err(io)?;
    std::fs::write(&paths.2, &out.key_pem).map_err(io)?;
    Ok(out)
}

fn kubeconfig(server: &str, ca_pem: Option<&str>) -> String {
    let cluster = match ca_pem {
        Some(ca) => format!(
            "    server: {server}\n    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(ca)
        ),
        None => format!("    server: {server}\n"),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: keelson\n  cluster:\n{cluster}contexts:\n- name: keelson\n  context:\n    cluster: keelson\n    user: admin\n    namespace: default\ncurrent-context: keelson\nusers:\n- name: admin\n  user:\n    token: keelson-admin\npreferences: {{}}\n"
    )
}

fn tls_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<rustls::pki_types::CertificateDer<'static>> =
        rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<std::result::Result<_, _>>()
            .map_err(io)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(io)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(io)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Start the API server over `backend`; `data_dir` holds the PKI and the admin kubeconfig.
/// Returns once it listens; serving goes on until `shutdown` resolves.
pub async fn start(
    cfg: ApiConfig,
    backend: Arc<dyn Backend>,
    data_dir: &Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running> {
    let (lo, hi) = cfg.node_ports()?;
    crate::alloc::parse_cidr(&cfg.service_cidr)?;
    if !(27..=33).contains(&cfg.minor) {
        return Err(ApiError::Internal(format!(
            "--kubernetes-minor must be in 27..=33, not {}",
            cfg.minor
        )));
    }
    let mut shards = vec![];
    for s in &cfg.store_shards {
        let (res, shard) = s
            .split_once('=')
            .filter(|(r, g)| !r.is_empty() && !g.is_empty())
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "bad --store-shards entry {s:?}: want resource=shard"
                ))
            })?;
        if backend.shard(shard).is_none() {
            return Err(ApiError::Internal(format!(
                "the store backend has no shard {shard:?}"
            )));
        }
        shards.push((res.to_string(), shard.to_string()));
    }
    let rest = Rest::new(
        backend,
        RestConfig {
            service_cidr: cfg.service_cidr.clone(),
            node_ports: (lo, hi),
            cache_window: cfg.cache_window,
            shards,
        },
    );
    let listener = TcpListener::bind((cfg.bind_address.as_str(), cfg.port))
        .await
        .map_err(|e| {
            ApiError::Internal(format!(
                "cannot listen on {}:{}: {e}",
                cfg.bind_address, cfg.port
            ))
        })?;
    let addr = listener.local_addr().map_err(io)?;
    let advertise = cfg.advertise();
    let server = Arc::new(Server {
        rest: rest.clone(),
        openapi: RwLock::new(Arc::new(OpenApi::new(rest.registry().all()))),
        minor: cfg.minor,
        advertise: format!("{advertise}:{}", addr.port()),
        bookmark_every: cfg.bookmark_every,
        metrics: Default::default(),
    });
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let scheme = if cfg.insecure_http { "http" } else { "https" };
    let url = format!("{scheme}://{advertise}:{}", addr.port());
    let tls = if cfg.insecure_http {
        None
    } else {
        let (cert, key, ca) = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(c), Some(k)) => (
                std::fs::read_to_string(c).map_err(io)?,
                std::fs::read_to_string(k).map_err(io)?,
                None,
            ),
            _ => {
                let p = pki(data_dir, std::slice::from_ref(&advertise))?;
                (p.cert_pem, p.key_pem, Some(p.ca_pem))
            }
        };
        Some((tls_config(&cert, &key)?, ca))
    };
    let kubeconfig_path = data_dir.join("admin.kubeconfig");
    let ca = tls.as_ref().and_then(|(_, ca)| ca.clone());
    std::fs::write(&kubeconfig_path, kubeconfig(&url, ca.as_deref())).map_err(io)?;
    tracing::info!(%url, kubeconfig = %kubeconfig_path.display(), "API server listening; admin kubeconfig written");

    tokio::spawn(crate::crd::sync(server.clone()));
    tokio::spawn(crate::lifecycle::namespace_finalizer(rest.clone()));
    {
        let rest = rest.clone();
        let ip = advertise.clone();
        let port = addr.port();
        tokio::spawn(async move {
            for attempt in 0.. {
                match crate::lifecycle::bootstrap(&rest, &ip, port).await {
                    Ok(()) => break,
                    Err(e) => {
                        if attempt % 10 == 0 {
                            tracing::warn!(error = %e, "bootstrap objects not written yet; retrying");
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }
    let app = router(server);
    let acceptor = tls.map(|(c, _)| tokio_rustls::TlsAcceptor::from(c));
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                a = listener.accept() => a,
            };
            let Ok((tcp, _)) = accepted else { continue };
            let _ = tcp.set_nodelay(true);
            let app = app.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let r = match acceptor {
                    Some(a) => match a.accept(tcp).await {
                        Ok(tls) => {
                            builder
                                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                                .await
                        }
                        Err(_) => return,
                    },
                    None => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                            .await
                    }
                };
                if let Err(e) = r {
                    tracing::trace!(error = %e, "connection ended");
                }
            });
        }
    });
    Ok(Running {
        addr,
        kubeconfig: kubeconfig_path,
    })
}
