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
    })
}
