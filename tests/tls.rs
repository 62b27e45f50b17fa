//! S33: the TLS matrix (reliability R14) against private TLS-only servers, with certificates
//! made by openssl in the test.
//!
//! The server's certificate and host name are always verified: `RedisSettings` has no option
//! to turn that off, and these tests show that nothing gets through without it.

mod common;

use arq::JobStatus;
use common::{TestCerts, TestRedis};
use std::time::{Duration, Instant};

/// Settings for `rediss://<host>:<port>` trusting `ca` (none: the system's roots), one attempt.
fn tls_settings(host: &str, port: u16, ca: Option<std::path::PathBuf>) -> arq::RedisSettings {
    let mut s = arq::RedisSettings::from_url(&format!("rediss://{host}:{port}")).unwrap();
    assert!(s.ssl);
    s.ssl_ca_certs = ca;
    s.conn_retries = 0;
    s
}

/// Connects and returns the error text, checking it came back within the connect timeout.
async fn connect_error(settings: arq::RedisSettings) -> String {
    let limit = settings.conn_timeout + Duration::from_secs(4);
    let started = Instant::now();
    let result = tokio::time::timeout(limit * 2, arq::create_pool(settings)).await;
    let err = result
        .expect("connecting must fail, not hang")
        .expect_err("connecting must fail");
    assert!(
        started.elapsed() < limit,
        "took {:?}: {err}",
        started.elapsed()
    );
    err.to_string()
}

#[tokio::test]
async fn good_ca_connects_by_name_and_by_ip() {
    let certs = TestCerts::generate();
    let redis = TestRedis::start_tls(&certs);
    for host in ["localhost", "127.0.0.1"] {
        let pool = arq::create_pool(tls_settings(host, redis.port, Some(certs.ca())))
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 0);
        let job = pool.job::<i64>("nope");
        assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
    }
}

#[tokio::test]
async fn wrong_ca_is_a_certificate_verification_error() {
    let certs = TestCerts::generate();
    let other = TestCerts::generate();
    let redis = TestRedis::start_tls(&certs);
    let err = connect_error(tls_settings("localhost", redis.port, Some(other.ca()))).await;
    assert!(err.contains("certificate verification failed"), "{err}");
    assert!(
        err.contains("not signed by the CA in ssl_ca_certs"),
        "{err}"
    );
}

#[tokio::test]
async fn verification_is_on_by_default() {
    // No CA given: the system's roots, which do not know the test CA.
    let certs = TestCerts::generate();
    let redis = TestRedis::start_tls(&certs);
    let settings = tls_settings("localhost", redis.port, None);
    assert_eq!(settings.ssl_ca_certs, None);
    let err = connect_error(settings).await;
    assert!(err.contains("certificate verification failed"), "{err}");
    assert!(err.contains("not signed by the system's root CAs"), "{err}");
}

#[tokio::test]
async fn certificate_without_ip_san_is_a_hostname_error_for_an_ip() {
    let certs = TestCerts::generate_with_san("DNS:localhost");
    let redis = TestRedis::start_tls(&certs);
    // By name it is fine...
    arq::create_pool(tls_settings("localhost", redis.port, Some(certs.ca())))
        .await
        .unwrap();
    // ...but 127.0.0.1 is not a name the certificate covers.
    let err = connect_error(tls_settings("127.0.0.1", redis.port, Some(certs.ca()))).await;
    assert!(err.contains("certificate verification failed"), "{err}");
    assert!(err.contains("not valid for \"127.0.0.1\""), "{err}");
}

#[tokio::test]
async fn plaintext_client_to_a_tls_port_fails_fast() {
    let certs = TestCerts::generate();
    let redis = TestRedis::start_tls(&certs);
    let mut plain =
        arq::RedisSettings::from_url(&format!("redis://127.0.0.1:{}", redis.port)).unwrap();
    plain.conn_retries = 0;
    plain.conn_timeout = Duration::from_secs(2);
    let err = connect_error(plain).await;
    assert!(err.contains("could not connect"), "{err}");
    assert!(
        err.contains("rediss://"),
        "the error should suggest TLS: {err}"
    );
}

#[tokio::test]
async fn tls_client_to_a_plain_port_fails_fast() {
    let certs = TestCerts::generate();
    let redis = TestRedis::start();
    let mut settings = tls_settings("localhost", redis.port, Some(certs.ca()));
    settings.conn_timeout = Duration::from_secs(2);
    let err = connect_error(settings).await;
    assert!(err.contains("could not connect"), "{err}");
}

#[tokio::test]
async fn a_bad_ca_file_is_a_configuration_error() {
    let certs = TestCerts::generate();
    let missing = certs.dir.join("missing.pem");
    let err = arq::create_pool(tls_settings("localhost", 1, Some(missing)))
        .await
        .unwrap_err();
    assert!(matches!(err, arq::Error::Config(_)), "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let not_pem = certs.dir.join("ext.cnf");
    let err = arq::create_pool(tls_settings("localhost", 1, Some(not_pem)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no certificates found"), "{err}");
}
