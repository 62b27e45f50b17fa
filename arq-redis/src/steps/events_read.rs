//! `Backend::events_read`: a queue's event stream read with plain commands, `XREVRANGE`
//! (where the stream ends, when the read starts from there) and `XREAD`.
//!
//! A read that waits (`block_ms` > 0) is sent as a blocking command (`XREAD BLOCK`), so fred
//! holds other commands of that connection back until it returns: callers that wait use a
//! backend of their own ([`Backend::standalone`](arq_core::Backend::standalone)). Its
//! timeout is the connection's command timeout plus the wait, so a wait longer than the
//! command timeout is not cut short.

use crate::reply::{array, bytes_of, int_of, protocol, string_of};
use crate::RedisBackend;
use arq_core::backend::{EventEntry, EventKind, EventsPage, EventsRead};
use arq_core::Result;
use fred::prelude::*;
use fred::types::Value as RValue;
use std::time::Duration;

/// The position before every entry.
const START: &str = "0-0";

/// Reads up to `count` entries after the request's position, waiting up to `block_ms`.
pub(crate) async fn events_read(b: &RedisBackend, req: &EventsRead) -> Result<EventsPage> {
    let k = b.keys();
    let key = k.events(&req.queue);
    let pool = b.client();
    let client = pool.next();
    let after = match &req.after {
        Some(id) => id.clone(),
        None => {
            let reply: RValue = client
                .custom(fred::cmd!("XREVRANGE"), last_args(&key))
                .await
                .map_err(|e| crate::acl::command_error(e, client, "XREVRANGE", &[&key]))?;
            last_id(reply)?
        }
    };
    if req.count == 0 {
        return Ok(EventsPage {
            events: Vec::new(),
            last_id: after,
        });
    }
    let args = read_args(&key, &after, req.count, req.block_ms);
    let reply: RValue = if req.block_ms > 0 {
        let base = client.perf_config().default_command_timeout;
        let options = Options {
            // No command timeout (zero) stays none; else the wait comes on top of it.
            timeout: (!base.is_zero()).then(|| base + Duration::from_millis(req.block_ms)),
            ..Default::default()
        };
        client
            .with_options(&options)
            .custom(fred::cmd!("XREAD", blocking: true), args)
            .await
    } else {
        client.custom(fred::cmd!("XREAD"), args).await
    }
    .map_err(|e| crate::acl::command_error(e, client, "XREAD", &[&key]))?;
    decode(reply, after)
}

/// `XREVRANGE <stream> + - COUNT 1`: the last entry.
fn last_args(key: &str) -> Vec<RValue> {
    vec![
        key.into(),
        "+".into(),
        "-".into(),
        "COUNT".into(),
        1i64.into(),
    ]
}

/// The id of the last entry, or `0-0` for an empty or missing stream.
fn last_id(reply: RValue) -> Result<String> {
    let Some(entry) = array(reply, "XREVRANGE")?.into_iter().next() else {
        return Ok(START.to_owned());
    };
    array(entry, "XREVRANGE entry")?
        .into_iter()
        .next()
        .and_then(string_of)
        .ok_or_else(|| protocol("XREVRANGE: entry id"))
}

/// `XREAD [BLOCK <ms>] COUNT <n> STREAMS <stream> <after>` (no `BLOCK` when it does not wait:
/// `BLOCK 0` would wait forever).
fn read_args(key: &str, after: &str, count: usize, block_ms: u64) -> Vec<RValue> {
    let mut args: Vec<RValue> = Vec::with_capacity(7);
    if block_ms > 0 {
        args.push("BLOCK".into());
        args.push(block_ms.min(i64::MAX as u64).to_string().into());
    }
    args.push("COUNT".into());
    args.push(count.min(i64::MAX as usize).to_string().into());
    args.push("STREAMS".into());
    args.push(key.into());
    args.push(after.into());
    args
}

/// An `XREAD` reply (nil when nothing came; RESP2 `[[stream, entries]]` or RESP3
/// `{stream: entries}`) as a page: entries of unknown kinds are skipped, but `last_id` moves
/// past them.
fn decode(reply: RValue, after: String) -> Result<EventsPage> {
    let entries = match reply {
        RValue::Null => Vec::new(),
        RValue::Map(map) => match map.inner().into_iter().next() {
            Some((_, entries)) => array(entries, "XREAD entries")?,
            None => Vec::new(),
        },
        other => match array(other, "XREAD")?.into_iter().next() {
            Some(stream) => {
                let mut s = array(stream, "XREAD stream")?.into_iter();
                s.next();
                array(s.next().unwrap_or(RValue::Null), "XREAD entries")?
            }
            None => Vec::new(),
        },
    };
    let mut page = EventsPage {
        events: Vec::with_capacity(entries.len()),
        last_id: after,
    };
    for entry in entries {
        let mut e = array(entry, "XREAD entry")?.into_iter();
        let id = e
            .next()
            .and_then(string_of)
            .ok_or_else(|| protocol("XREAD: entry id"))?;
        if let Some(event) = event(&id, e.next().unwrap_or(RValue::Null))? {
            page.events.push(event);
        }
        page.last_id = id;
    }
    Ok(page)
}

/// One stream entry as an event; `None` when its `e` is not a known kind (or it has no job
/// id).
fn event(id: &str, fields: RValue) -> Result<Option<EventEntry>> {
    let time_ms = id
        .split_once('-')
        .and_then(|(ms, _)| ms.parse().ok())
        .ok_or_else(|| protocol(format!("XREAD: entry id {id:?}")))?;
    let pairs: Vec<(RValue, RValue)> = match fields {
        RValue::Map(map) => map
            .inner()
            .into_iter()
            .map(|(k, v)| (RValue::Bytes(k.into_bytes()), v))
            .collect(),
        other => {
            let flat = array(other, "XREAD fields")?;
            let mut it = flat.into_iter();
            std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect()
        }
    };
    let (mut kind, mut job_id, mut job_try, mut data) = (None, None, None, None);
    for (name, value) in pairs {
        match bytes_of(name).as_deref() {
            Some(b"e") => kind = string_of(value).as_deref().and_then(EventKind::parse),
            Some(b"id") => job_id = string_of(value),
            Some(b"t") => job_try = int_of(&value),
            Some(b"d") => data = bytes_of(value),
            _ => {}
        }
    }
    Ok(kind.zip(job_id).map(|(kind, job_id)| EventEntry {
        id: id.to_owned(),
        time_ms,
        kind,
        job_id,
        job_try,
        data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyLayout;
    use bytes::Bytes;

    fn entry(id: &str, fields: &[&str]) -> RValue {
        RValue::Array(vec![
            id.into(),
            RValue::Array(fields.iter().map(|f| RValue::from(*f)).collect()),
        ])
    }

    #[test]
    fn arguments() {
        let key = KeyLayout::prefixed("t1").unwrap().events("t1:arq:queue");
        assert_eq!(key, "t1:arq:queue:events");
        let expected: Vec<RValue> = vec![
            key.as_str().into(),
            "+".into(),
            "-".into(),
            "COUNT".into(),
            1i64.into(),
        ];
        assert_eq!(last_args(&key), expected);
        let expected: Vec<RValue> = vec![
            "COUNT".into(),
            "10".into(),
            "STREAMS".into(),
            key.as_str().into(),
            "5-0".into(),
        ];
        assert_eq!(read_args(&key, "5-0", 10, 0), expected);
        let blocking = read_args(&key, "0-0", 1, 2_500);
        assert_eq!(blocking[..2], [RValue::from("BLOCK"), "2500".into()]);
        assert_eq!(blocking.len(), 7);
    }

    #[test]
    fn the_last_id_of_a_stream() {
        assert_eq!(last_id(RValue::Null).unwrap(), "0-0");
        assert_eq!(last_id(RValue::Array(vec![])).unwrap(), "0-0");
        let one = RValue::Array(vec![entry("17-3", &["e", "started"])]);
        assert_eq!(last_id(one).unwrap(), "17-3");
        assert!(last_id(RValue::Array(vec![RValue::Array(vec![])])).is_err());
    }

    #[test]
    fn entries_become_events_and_unknown_kinds_only_move_the_position() {
        let entries = RValue::Array(vec![
            entry("1700000000000-0", &["e", "enqueued", "id", "a"]),
            entry(
                "1700000000001-0",
                &["e", "failed", "id", "a", "t", "2", "d", "E: x"],
            ),
            entry("1700000000002-0", &["e", "teleported", "id", "a"]),
        ]);
        let reply = RValue::Array(vec![RValue::Array(vec!["q:events".into(), entries])]);
        let page = decode(reply, "0-0".into()).unwrap();
        assert_eq!(page.last_id, "1700000000002-0");
        assert_eq!(
            page.events,
            [
                EventEntry {
                    id: "1700000000000-0".into(),
                    time_ms: 1_700_000_000_000,
                    kind: EventKind::Enqueued,
                    job_id: "a".into(),
                    job_try: None,
                    data: None,
                },
                EventEntry {
                    id: "1700000000001-0".into(),
                    time_ms: 1_700_000_000_001,
                    kind: EventKind::Failed,
                    job_id: "a".into(),
                    job_try: Some(2),
                    data: Some(Bytes::from_static(b"E: x")),
                },
            ]
        );
    }

    #[test]
    fn nothing_new_keeps_the_position() {
        let page = decode(RValue::Null, "5-1".into()).unwrap();
        assert!(page.events.is_empty());
        assert_eq!(page.last_id, "5-1");
        let page = decode(RValue::Array(vec![]), "5-1".into()).unwrap();
        assert_eq!(page.last_id, "5-1");
    }

    #[test]
    fn resp3_maps_are_read_too() {
        let mut streams = std::collections::HashMap::new();
        streams.insert(
            fred::types::Key::from("q:events"),
            RValue::Array(vec![entry("9-0", &["e", "progress", "id", "b", "d", ""])]),
        );
        let reply = RValue::Map(fred::types::Map::try_from(streams).unwrap());
        let page = decode(reply, "0-0".into()).unwrap();
        assert_eq!(page.last_id, "9-0");
        assert_eq!(page.events[0].kind, EventKind::Progress);
        assert_eq!(page.events[0].data.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn malformed_replies_name_the_command() {
        for bad in [
            RValue::from("x"),
            RValue::Array(vec![RValue::Array(vec![
                "q:events".into(),
                RValue::Array(vec![entry("nodash", &["e", "started", "id", "a"])]),
            ])]),
            RValue::Array(vec![RValue::Array(vec![
                "q:events".into(),
                RValue::Array(vec![RValue::Array(vec![])]),
            ])]),
        ] {
            let e = decode(bad.clone(), "0-0".into()).unwrap_err().to_string();
            assert!(
                e.contains("unexpected reply from redis: XREAD"),
                "{bad:?}: {e}"
            );
        }
    }
}
