//! Compiles the etcd v3 API and keelson's peer transport with a vendored `protoc`, so the
//! build needs no system protobuf compiler.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(
            config,
            &[
                "proto/etcd/mvccpb/kv.proto",
                "proto/etcd/authpb/auth.proto",
                "proto/etcd/etcdserverpb/rpc.proto",
                "proto/keelson/peer.proto",
            ],
            &["proto"],
        )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
