//! Checks on the Redis server itself: the start-up description and configuration warnings
//! (reliability D10), the detail added to an out-of-memory refusal, and the clock-skew warning.
//!
//! Each check reads `INFO` (and `CONFIG GET save`) and hands the text to a plain function, so
//! what it concludes is tested on INFO samples without a server.

use crate::reply::redis_error;
use arq_core::Result;
use fred::prelude::*;

/// Clocks further apart than this are reported: `defer_until`/`run_at` and the enqueue time
/// in job records use this machine's clock, due-ness uses Redis's. Up to this difference, a
/// `defer_by` job is scored from the record's enqueue time, as Python arq scores it; beyond
/// it, from Redis's clock (`lua/enqueue.lua`, which receives it as ARGV[9]).
pub(crate) const MAX_CLOCK_SKEW_MS: i64 = arq_core::backend::TRUSTED_CLOCK_SKEW_MS;

/// How often the clock-skew warning may repeat, ms.
const SKEW_WARNING_EVERY_MS: i64 = 60_000;

/// The value of `name` in an `INFO` reply (`name:value` lines), trimmed.
pub(crate) fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// The worker's start-up line about the server (`Backend::describe`).
pub(crate) async fn describe(pool: &fred::clients::Pool) -> Result<String> {
    let info: String = pool
        .info(None)
        .await
        .map_err(|e| crate::acl::command_error(e, pool.next(), "INFO", &[]))?;
    let keys: i64 = pool.dbsize().await.map_err(redis_error)?;
    Ok(description(&info, keys))
}

/// `redis_version=… mem_usage=… clients_connected=… db_keys=…`, `?` for what INFO lacks.
fn description(info: &str, keys: i64) -> String {
    let field = |name: &str| info_field(info, name).unwrap_or_else(|| "?".to_owned());
    format!(
        "redis_version={} mem_usage={} clients_connected={} db_keys={keys}",
        field("redis_version"),
        field("used_memory_human"),
        field("connected_clients"),
    )
}

/// Warnings about a configuration that loses jobs (`Backend::config_warnings`). A user without
/// `CONFIG` rights skips the persistence check; one without `INFO` gets the ACL error.
pub(crate) async fn config_warnings(pool: &fred::clients::Pool) -> Result<Vec<String>> {
    let info: String = pool
        .info(None)
        .await
        .map_err(|e| crate::acl::command_error(e, pool.next(), "INFO", &[]))?;
    // RDB snapshots are on when `save` has rules; INFO does not say, CONFIG GET does.
    let save: Option<Vec<String>> = pool
        .next()
        .custom(fred::cmd!("CONFIG"), vec!["GET", "save"])
        .await
        .ok();
    Ok(warnings(&info, save.as_deref()))
}

/// What [`config_warnings`] concludes from INFO and the `CONFIG GET save` reply
/// (`["save", "<rules>"]`; `None` when it could not be read).
fn warnings(info: &str, save: Option<&[String]>) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(policy) = info_field(info, "maxmemory_policy") {
        if policy != "noeviction" {
            warnings.push(format!(
                "maxmemory-policy is {policy}; jobs can be evicted when redis is full \
                 (set maxmemory-policy noeviction)"
            ));
        }
    }
    let aof = info_field(info, "aof_enabled").as_deref() == Some("1");
    let rdb = save.and_then(|v| v.get(1).map(|rules| !rules.trim().is_empty()));
    if !aof && rdb == Some(false) {
        warnings.push(
            "persistence is off (no AOF, no RDB snapshots): a redis restart loses every \
             queued job and result"
                .to_owned(),
        );
    }
    warnings
}

/// ` (maxmemory=<bytes>, policy=<policy>)` from INFO memory, for an out-of-memory refusal;
/// nothing when it cannot be read.
pub(crate) async fn oom_detail(pool: &fred::clients::Pool) -> String {
    match pool
        .info::<String>(Some(fred::types::InfoKind::Memory))
        .await
    {
        Ok(info) => memory_detail(&info),
        Err(_) => String::new(),
    }
}

/// The text of [`oom_detail`] from an INFO memory reply.
fn memory_detail(info: &str) -> String {
    match (
        info_field(info, "maxmemory"),
        info_field(info, "maxmemory_policy"),
    ) {
        (Some(m), Some(p)) => format!(" (maxmemory={m}, policy={p})"),
        _ => String::new(),
    }
}

/// Warns (at most once a minute) when this machine's clock and Redis's (`server_ms`, read by
/// an enqueue) disagree by more than [`MAX_CLOCK_SKEW_MS`].
pub(crate) fn check_clock(server_ms: i64) {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST_WARNING: AtomicI64 = AtomicI64::new(0);
    let local = arq_core::now_ms();
    if local - LAST_WARNING.load(Ordering::Relaxed) <= SKEW_WARNING_EVERY_MS {
        return;
    }
    if let Some(warning) = skew_warning(local, server_ms) {
        LAST_WARNING.store(local, Ordering::Relaxed);
        tracing::warn!("{warning}");
    }
}

/// The clock-skew warning for these two clocks, if they are too far apart.
fn skew_warning(local_ms: i64, server_ms: i64) -> Option<String> {
    let skew = local_ms - server_ms;
    (skew.abs() > MAX_CLOCK_SKEW_MS).then(|| {
        format!(
            "clock skew of {}s between this machine and redis (this clock is {}): jobs deferred \
             with defer_until/run_at use this clock, due-ness uses redis's",
            skew.abs() / 1000,
            if skew > 0 { "ahead" } else { "behind" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from `INFO` of redis 7.0 (CRLF line ends, as Redis sends them).
    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\
        \r\n# Clients\r\nconnected_clients:3\r\nmaxclients:10000\r\n\
        \r\n# Memory\r\nused_memory:1104544\r\nused_memory_human:1.05M\r\nmaxmemory:0\r\n\
        maxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n\
        \r\n# Persistence\r\naof_enabled:0\r\n";

    fn save(rules: &str) -> Vec<String> {
        vec!["save".to_owned(), rules.to_owned()]
    }

    #[test]
    fn info_field_reads_whole_names_only() {
        assert_eq!(info_field(INFO, "redis_version").as_deref(), Some("7.0.15"));
        // `maxmemory` is not `maxmemory_human` or `maxmemory_policy`.
        assert_eq!(info_field(INFO, "maxmemory").as_deref(), Some("0"));
        assert_eq!(
            info_field(INFO, "maxmemory_policy").as_deref(),
            Some("noeviction")
        );
        assert_eq!(info_field(INFO, "used_memory").as_deref(), Some("1104544"));
        assert_eq!(info_field(INFO, "missing_field"), None);
        assert_eq!(info_field(INFO, "Server"), None);
        assert_eq!(info_field("", "redis_version"), None);
    }

    #[test]
    fn description_names_version_memory_clients_and_keys() {
        assert_eq!(
            description(INFO, 12),
            "redis_version=7.0.15 mem_usage=1.05M clients_connected=3 db_keys=12"
        );
        assert_eq!(
            description("# nothing\r\n", 0),
            "redis_version=? mem_usage=? clients_connected=? db_keys=0"
        );
    }

    #[test]
    fn a_safe_configuration_has_no_warnings() {
        assert!(warnings(INFO, Some(&save("3600 1 300 100"))).is_empty());
        // Persistence unknown (no CONFIG rights): no guess.
        assert!(warnings(INFO, None).is_empty());
        // AOF on, snapshots off.
        let aof = INFO.replace("aof_enabled:0", "aof_enabled:1");
        assert!(warnings(&aof, Some(&save(""))).is_empty());
    }

    #[test]
    fn eviction_and_no_persistence_are_warned_about() {
        let lru = INFO.replace("noeviction", "allkeys-lru");
        let w = warnings(&lru, Some(&save(" ")));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("maxmemory-policy is allkeys-lru;"),
            "{w:?}"
        );
        assert!(w[1].starts_with("persistence is off"), "{w:?}");
        // A short CONFIG reply says nothing about snapshots.
        assert_eq!(warnings(&lru, Some(&["save".to_owned()])).len(), 1);
    }

    #[test]
    fn oom_detail_names_the_limit_and_policy() {
        let full = INFO.replace("maxmemory:0", "maxmemory:1048576");
        assert_eq!(
            memory_detail(&full),
            " (maxmemory=1048576, policy=noeviction)"
        );
        assert_eq!(memory_detail("maxmemory:5\r\n"), "");
        assert_eq!(memory_detail(""), "");
    }

    #[test]
    fn skew_is_reported_beyond_the_limit_with_its_direction() {
        let now = 1_700_000_000_000;
        assert_eq!(skew_warning(now, now), None);
        assert_eq!(skew_warning(now, now - MAX_CLOCK_SKEW_MS), None);
        assert_eq!(skew_warning(now, now + MAX_CLOCK_SKEW_MS), None);
        let ahead = skew_warning(now, now - 5_500).unwrap();
        assert!(
            ahead.starts_with(
                "clock skew of 5s between this machine and redis (this clock is ahead)"
            ),
            "{ahead}"
        );
        let behind = skew_warning(now, now + 3_000).unwrap();
        assert!(behind.contains("(this clock is behind)"), "{behind}");
    }
}
