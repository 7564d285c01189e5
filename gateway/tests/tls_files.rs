//! Certificates from files: a matching pair loads, a mismatched or missing one is a clear error,
//! and the served certificate can be swapped live.

use orama_gateway::tls::{certified_key, setup};
use orama_service::config::{TlsConfig, TlsMode};

fn pair(name: &str) -> (String, String) {
    let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("generate");
    (generated.cert.pem(), generated.signing_key.serialize_pem())
}

#[test]
fn files_load_and_mismatches_are_refused() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = pair("a.example");
    let (other_cert, _) = pair("b.example");
    std::fs::write(dir.path().join("a.crt"), &cert).expect("write");
    std::fs::write(dir.path().join("a.key"), &key).expect("write");
    let config = TlsConfig {
        mode: TlsMode::Files,
        cert_file: Some(dir.path().join("a.crt")),
        key_file: Some(dir.path().join("a.key")),
        ..TlsConfig::default()
    };
    let tls = setup(&config, dir.path()).expect("setup").expect("enabled");
    tls.certificate.replace(certified_key(cert.as_bytes(), key.as_bytes()).expect("same pair again"));

    let err = certified_key(other_cert.as_bytes(), key.as_bytes()).expect_err("mismatch");
    assert!(err.to_string().starts_with("certificate:"), "{err}");
    let missing = TlsConfig { cert_file: Some(dir.path().join("nope.crt")), ..config };
    let err = setup(&missing, dir.path()).expect_err("missing file");
    assert!(err.to_string().contains("nope.crt"), "{err}");
    assert!(setup(&TlsConfig::default(), dir.path()).expect("off").is_none());
}
