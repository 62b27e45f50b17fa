//! Throw-away TLS certificates, made with the `openssl` command.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A throw-away CA and a server certificate for `localhost`/127.0.0.1, made with openssl in
/// a temp dir that is removed on drop.
pub struct TestCerts {
    /// The directory holding `ca.crt`, `ca.key`, `server.crt`, `server.key` and `ext.cnf`.
    pub dir: PathBuf,
}

impl TestCerts {
    /// A fresh CA and a server certificate for `DNS:localhost,IP:127.0.0.1`.
    pub fn generate() -> Self {
        Self::generate_with_san("DNS:localhost,IP:127.0.0.1")
    }

    /// A fresh CA and a server certificate (CN `localhost`) whose subjectAltName is `san`,
    /// e.g. `DNS:localhost` for one that does not cover 127.0.0.1.
    pub fn generate_with_san(san: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "arq-test-certs-{}-{n}-{}",
            std::process::id(),
            crate::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ext.cnf"), format!("subjectAltName={san}\n")).unwrap();
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=arq test CA",
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        TestCerts { dir }
    }

    /// The CA certificate (PEM) that signed the server's.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The server certificate (PEM).
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// The server's private key (PEM).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
