//! Where each record lives: Python arq's default key layout, in one type.
//!
//! Every key this backend touches is built here, so a hash-tagged layout for Redis Cluster
//! (every key of a queue in one slot) can be added as another constructor without touching
//! the scripts, which receive keys and prefixes from this type.

/// Key names and prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    job: String,
    in_progress: String,
    result: String,
    retry: String,
    abort: String,
    health_suffix: String,
    cron_tick: String,
}

impl Default for KeyLayout {
    fn default() -> Self {
        Self::arq()
    }
}

impl KeyLayout {
    /// Python arq's layout: `arq:job:<id>`, `arq:in-progress:<id>`, `arq:result:<id>`,
    /// `arq:retry:<id>`, `arq:abort`, `<queue>:health-check`.
    pub fn arq() -> Self {
        KeyLayout {
            job: "arq:job:".into(),
            in_progress: "arq:in-progress:".into(),
            result: "arq:result:".into(),
            retry: "arq:retry:".into(),
            abort: "arq:abort".into(),
            health_suffix: ":health-check".into(),
            cron_tick: "arq:cron-tick:".into(),
        }
    }

    /// `arq:job:<id>`
    pub fn job(&self, id: &str) -> String {
        format!("{}{id}", self.job)
    }

    /// `arq:in-progress:<id>`
    pub fn in_progress(&self, id: &str) -> String {
        format!("{}{id}", self.in_progress)
    }

    /// `arq:result:<id>`
    pub fn result(&self, id: &str) -> String {
        format!("{}{id}", self.result)
    }

    /// `arq:retry:<id>`
    pub fn retry(&self, id: &str) -> String {
        format!("{}{id}", self.retry)
    }

    /// `arq:abort`
    pub fn abort(&self) -> &str {
        &self.abort
    }

    /// The queue's own key: its name.
    pub fn queue<'a>(&self, queue: &'a str) -> &'a str {
        queue
    }

    /// `<queue>:health-check`
    pub fn health_check(&self, queue: &str) -> String {
        format!("{queue}{}", self.health_suffix)
    }

    pub(crate) fn job_prefix(&self) -> &str {
        &self.job
    }

    pub(crate) fn in_progress_prefix(&self) -> &str {
        &self.in_progress
    }

    pub(crate) fn retry_prefix(&self) -> &str {
        &self.retry
    }

    /// `arq:cron-tick:<job id>`: the marker that a cron tick (job id `cron:<name>:<ms>`) was
    /// claimed by a worker, kept after its job finished.
    pub fn cron_tick(&self, job_id: &str) -> String {
        format!("{}{job_id}", self.cron_tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arq_layout_matches_python_constants() {
        let k = KeyLayout::arq();
        assert_eq!(k.job("abc"), "arq:job:abc");
        assert_eq!(k.in_progress("abc"), "arq:in-progress:abc");
        assert_eq!(k.result("abc"), "arq:result:abc");
        assert_eq!(k.retry("abc"), "arq:retry:abc");
        assert_eq!(k.abort(), "arq:abort");
        assert_eq!(k.health_check("arq:queue"), "arq:queue:health-check");
        assert_eq!(
            k.cron_tick("cron:f:1795904914123"),
            "arq:cron-tick:cron:f:1795904914123"
        );
    }
}
