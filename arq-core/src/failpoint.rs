//! Failpoints for the fault-injection tests: named places in the worker and client where a
//! test can make the process exit, sleep or panic, set through the `ARQ_FAILPOINTS`
//! environment variable, e.g. `after_claim=exit;before_heartbeat=sleep(3000)`.
//!
//! Compiled to nothing unless the `failpoints` feature is on; with it on and the variable
//! unset, a failpoint is one atomic load.

#[cfg(feature = "failpoints")]
mod imp {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    use std::time::Duration;

    #[derive(Debug, Clone, Copy)]
    enum Action {
        Exit,
        Abort,
        Panic,
        Sleep(u64),
    }

    fn parse(spec: &str) -> HashMap<String, Action> {
        let mut out = HashMap::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, action)) = part.split_once('=') else {
                eprintln!("ARQ_FAILPOINTS: ignoring {part:?} (expected name=action)");
                continue;
            };
            let action = match action.trim() {
                "exit" => Action::Exit,
                "abort" => Action::Abort,
                "panic" => Action::Panic,
                other => match other
                    .strip_prefix("sleep(")
                    .and_then(|s| s.strip_suffix(')'))
                    .and_then(|ms| ms.parse().ok())
                {
                    Some(ms) => Action::Sleep(ms),
                    None => {
                        eprintln!("ARQ_FAILPOINTS: unknown action {other:?} for {name}");
                        continue;
                    }
                },
            };
            out.insert(name.trim().to_owned(), action);
        }
        out
    }

    fn table() -> &'static HashMap<String, Action> {
        static TABLE: OnceLock<HashMap<String, Action>> = OnceLock::new();
        TABLE.get_or_init(|| parse(&std::env::var("ARQ_FAILPOINTS").unwrap_or_default()))
    }

    pub(crate) fn hit(name: &str) {
        let Some(action) = table().get(name) else {
            return;
        };
        tracing::warn!("failpoint {name}: {action:?}");
        match action {
            Action::Exit => std::process::exit(86),
            Action::Abort => std::process::abort(),
            Action::Panic => panic!("failpoint {name}"),
            Action::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }

    #[cfg(test)]
    #[test]
    fn parses_actions() {
        let t = parse("a=exit; b=sleep(25);c=bogus;d");
        assert!(matches!(t["a"], Action::Exit));
        assert!(matches!(t["b"], Action::Sleep(25)));
        assert!(!t.contains_key("c") && !t.contains_key("d"));
    }
}

/// Triggers the failpoint `name` if `ARQ_FAILPOINTS` configures it.
#[inline]
pub(crate) fn hit(_name: &str) {
    #[cfg(feature = "failpoints")]
    imp::hit(_name);
}
