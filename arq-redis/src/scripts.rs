//! The Lua scripts, one per atomic step, loaded once and called with EVALSHA (reloaded on
//! NOSCRIPT by fred).

use fred::types::scripts::Script;
use std::sync::OnceLock;

/// All scripts of the backend.
pub(crate) struct Scripts {
    pub(crate) enqueue: Script,
    pub(crate) claim: Script,
    pub(crate) heartbeat: Script,
    pub(crate) finish: Script,
    pub(crate) retry: Script,
    pub(crate) release: Script,
    pub(crate) status: Script,
    pub(crate) result: Script,
    pub(crate) health: Script,
    pub(crate) health_close: Script,
    pub(crate) abort: Script,
    pub(crate) queue_page: Script,
    pub(crate) queue_stats: Script,
    pub(crate) delete: Script,
    pub(crate) purge: Script,
    pub(crate) cron_tick: Script,
    pub(crate) snooze: Script,
    pub(crate) progress: Script,
    pub(crate) hooks_claim: Script,
    pub(crate) hook_done: Script,
    pub(crate) dead_page: Script,
    pub(crate) dead_read: Script,
    pub(crate) dead_requeue: Script,
    pub(crate) dead_delete: Script,
    pub(crate) dead_purge: Script,
}

pub(crate) fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        enqueue: Script::from_lua(include_str!("../lua/enqueue.lua")),
        claim: Script::from_lua(include_str!("../lua/claim.lua")),
        heartbeat: Script::from_lua(include_str!("../lua/heartbeat.lua")),
        finish: Script::from_lua(include_str!("../lua/finish.lua")),
        retry: Script::from_lua(include_str!("../lua/retry.lua")),
        release: Script::from_lua(include_str!("../lua/release.lua")),
        status: Script::from_lua(include_str!("../lua/status.lua")),
        result: Script::from_lua(include_str!("../lua/result.lua")),
        health: Script::from_lua(include_str!("../lua/health.lua")),
        health_close: Script::from_lua(include_str!("../lua/health_close.lua")),
        abort: Script::from_lua(include_str!("../lua/abort.lua")),
        queue_page: Script::from_lua(include_str!("../lua/queue_page.lua")),
        queue_stats: Script::from_lua(include_str!("../lua/queue_stats.lua")),
        delete: Script::from_lua(include_str!("../lua/delete.lua")),
        purge: Script::from_lua(include_str!("../lua/purge.lua")),
        cron_tick: Script::from_lua(include_str!("../lua/cron_tick.lua")),
        snooze: Script::from_lua(include_str!("../lua/snooze.lua")),
        progress: Script::from_lua(include_str!("../lua/progress.lua")),
        hooks_claim: Script::from_lua(include_str!("../lua/hooks_claim.lua")),
        hook_done: Script::from_lua(include_str!("../lua/hook_done.lua")),
        dead_page: Script::from_lua(include_str!("../lua/dead_page.lua")),
        dead_read: Script::from_lua(include_str!("../lua/dead_read.lua")),
        dead_requeue: Script::from_lua(include_str!("../lua/dead_requeue.lua")),
        dead_delete: Script::from_lua(include_str!("../lua/dead_delete.lua")),
        dead_purge: Script::from_lua(include_str!("../lua/dead_purge.lua")),
    })
}

#[cfg(test)]
mod tests {
    use arq_core::backend::EventKind;

    /// Every script, by name.
    const ALL: [(&str, &str); 25] = [
        ("enqueue", include_str!("../lua/enqueue.lua")),
        ("claim", include_str!("../lua/claim.lua")),
        ("heartbeat", include_str!("../lua/heartbeat.lua")),
        ("finish", include_str!("../lua/finish.lua")),
        ("retry", include_str!("../lua/retry.lua")),
        ("release", include_str!("../lua/release.lua")),
        ("status", include_str!("../lua/status.lua")),
        ("result", include_str!("../lua/result.lua")),
        ("health", include_str!("../lua/health.lua")),
        ("health_close", include_str!("../lua/health_close.lua")),
        ("abort", include_str!("../lua/abort.lua")),
        ("queue_page", include_str!("../lua/queue_page.lua")),
        ("queue_stats", include_str!("../lua/queue_stats.lua")),
        ("delete", include_str!("../lua/delete.lua")),
        ("purge", include_str!("../lua/purge.lua")),
        ("cron_tick", include_str!("../lua/cron_tick.lua")),
        ("snooze", include_str!("../lua/snooze.lua")),
        ("progress", include_str!("../lua/progress.lua")),
        ("hooks_claim", include_str!("../lua/hooks_claim.lua")),
        ("hook_done", include_str!("../lua/hook_done.lua")),
        ("dead_page", include_str!("../lua/dead_page.lua")),
        ("dead_read", include_str!("../lua/dead_read.lua")),
        ("dead_requeue", include_str!("../lua/dead_requeue.lua")),
        ("dead_delete", include_str!("../lua/dead_delete.lua")),
        ("dead_purge", include_str!("../lua/dead_purge.lua")),
    ];

    #[test]
    fn each_script_names_itself_on_its_first_line() {
        // Permission errors name the script by this line (acl.rs).
        for (name, lua) in ALL {
            assert!(lua.starts_with(&format!("-- {name}: ")), "{name}.lua");
        }
    }

    #[test]
    fn the_events_scripts_write_are_the_contracts_kinds() {
        use EventKind::*;
        // finish.lua gets its outcome's kind as an argument; `dead` it writes itself.
        for (name, kinds) in [
            ("enqueue", &[Enqueued][..]),
            ("claim", &[Started]),
            ("finish", &[Dead]),
            ("retry", &[Retried]),
            ("snooze", &[Snoozed]),
            ("progress", &[Progress]),
            ("abort", &[Aborted]),
            ("dead_requeue", &[Requeued]),
        ] {
            let lua = ALL.iter().find(|(n, _)| *n == name).unwrap().1;
            for kind in kinds {
                let field = format!("'e', '{}'", kind.as_str());
                assert!(lua.contains(&field), "{name}.lua writes {field}");
            }
            // Only behind the stream length argument, as one-line XADDs with MAXLEN ~.
            assert!(lua.contains("'XADD', "), "{name}.lua");
            for line in lua.lines().filter(|l| l.contains("'XADD'")) {
                assert!(line.contains("'MAXLEN', '~'"), "{name}.lua: {line}");
            }
        }
        for (name, lua) in ALL {
            if !lua.contains("'XADD'") {
                continue;
            }
            for literal in lua.split("'e', '").skip(1) {
                let kind = literal.split('\'').next().unwrap();
                assert!(EventKind::parse(kind).is_some(), "{name}.lua: {kind}");
            }
        }
    }
}
