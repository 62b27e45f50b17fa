//! One module per step of the [`Backend`](arq_core::Backend),
//! [`Inspect`](arq_core::backend::Inspect) and
//! [`DeadLetters`](arq_core::backend::DeadLetters) contracts, named as the trait method and as
//! its Lua script (`enqueue.rs` ↔ `lua/enqueue.lua` ↔ `Backend::enqueue`).
//!
//! Each module builds its step's KEYS (all from [`KeyLayout`](crate::KeyLayout)) and ARGV in a
//! plain function, sends them in one call, and decodes the reply in another plain function, so
//! both are unit-tested without a server. `reads.rs` holds the steps that are one plain
//! command (or a SCAN) rather than a script; `events_read.rs` reads a stream with plain
//! commands too.

pub(crate) mod abort;
pub(crate) mod claim;
pub(crate) mod cron_tick;
pub(crate) mod dead_delete;
pub(crate) mod dead_page;
pub(crate) mod dead_purge;
pub(crate) mod dead_read;
pub(crate) mod dead_requeue;
pub(crate) mod delete;
pub(crate) mod enqueue;
pub(crate) mod events_read;
pub(crate) mod finish;
pub(crate) mod health;
pub(crate) mod heartbeat;
pub(crate) mod hook_done;
pub(crate) mod hooks_claim;
pub(crate) mod progress;
pub(crate) mod purge;
pub(crate) mod queue_page;
pub(crate) mod queue_stats;
pub(crate) mod reads;
pub(crate) mod release;
pub(crate) mod result;
pub(crate) mod retry;
pub(crate) mod set_try;
pub(crate) mod snooze;
pub(crate) mod status;

use bytes::Bytes;
use fred::types::Value as RValue;

/// A step's KEYS and ARGV, as sent.
pub(crate) type Call = (Vec<String>, Vec<RValue>);

/// A script argument that may be absent: the bytes, or `''`.
fn optional_bytes(b: Option<&[u8]>) -> RValue {
    b.map_or_else(|| "".into(), |b| RValue::Bytes(Bytes::copy_from_slice(b)))
}

/// A TTL argument that may be absent (`''`: no TTL); at least 1 ms, never `PX 0`.
fn optional_ms(ms: Option<i64>) -> RValue {
    ms.map(|ms| ms.max(1).to_string())
        .unwrap_or_default()
        .into()
}

/// An event stream length argument: the length, or `''` to write no event
/// ([`EnqueueRequest::events`](arq_core::backend::EnqueueRequest::events) and the like).
fn events_len(events: Option<u64>) -> RValue {
    events.map(|n| n.to_string()).unwrap_or_default().into()
}

/// Optional event data, told apart from none even when empty: `''` for none, else `'+'`
/// followed by the bytes (the scripts drop the `+`).
fn event_data(data: Option<&[u8]>) -> RValue {
    match data {
        None => "".into(),
        Some(d) => {
            let mut v = Vec::with_capacity(d.len() + 1);
            v.push(b'+');
            v.extend_from_slice(d);
            RValue::Bytes(Bytes::from(v))
        }
    }
}

/// A flag argument: `'1'` or `'0'`.
fn flag(on: bool) -> RValue {
    if on { "1" } else { "0" }.into()
}

/// A count a script returns, never below 0.
fn count(n: i64) -> u64 {
    n.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_arguments_are_empty_strings_and_ttls_are_at_least_1ms() {
        assert_eq!(optional_bytes(None), RValue::from(""));
        assert_eq!(
            optional_bytes(Some(b"x")),
            RValue::Bytes(Bytes::from_static(b"x"))
        );
        assert_eq!(optional_ms(None), RValue::from(""));
        assert_eq!(optional_ms(Some(0)), RValue::from("1"));
        assert_eq!(optional_ms(Some(-5)), RValue::from("1"));
        assert_eq!(optional_ms(Some(60_000)), RValue::from("60000"));
        assert_eq!(flag(true), RValue::from("1"));
        assert_eq!(flag(false), RValue::from("0"));
        assert_eq!(events_len(None), RValue::from(""));
        assert_eq!(events_len(Some(1000)), RValue::from("1000"));
        assert_eq!(event_data(None), RValue::from(""));
        assert_eq!(
            event_data(Some(b"")),
            RValue::Bytes(Bytes::from_static(b"+"))
        );
        assert_eq!(
            event_data(Some(b"E: x")),
            RValue::Bytes(Bytes::from_static(b"+E: x"))
        );
        assert_eq!(count(-1), 0);
        assert_eq!(count(7), 7);
    }
}
