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
