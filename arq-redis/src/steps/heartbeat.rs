//! `Backend::heartbeat` ↔ `lua/heartbeat.lua`: renew held leases and read the dataset
//! generation.

use super::Call;
use crate::reply::{array, int_of, protocol, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{Heartbeat, HeartbeatReply};
use arq_core::Result;
use fred::types::Value as RValue;

/// Renews every lease of `hb` in one call.
pub(crate) async fn heartbeat(b: &RedisBackend, hb: &Heartbeat) -> Result<HeartbeatReply> {
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let (keys, args) = call(b.keys(), hb, fresh);
    decode(
        b.eval(&scripts().heartbeat, keys, args).await?,
        hb.leases.len(),
    )
}

/// KEYS generation, then one in-progress key per lease; ARGV the generation to create when
/// missing (`fresh`), the one seen before (`''` on the first beat), then token and lease ms
/// per lease (at least 1 ms).
fn call(k: &KeyLayout, hb: &Heartbeat, fresh: String) -> Call {
    let mut keys = Vec::with_capacity(1 + hb.leases.len());
    keys.push(k.generation());
    let mut args: Vec<RValue> = Vec::with_capacity(2 + hb.leases.len() * 2);
    args.push(fresh.into());
    args.push(hb.generation.as_deref().unwrap_or("").into());
    for l in &hb.leases {
        keys.push(k.in_progress(&l.job_id));
        args.push(l.token.as_str().into());
        args.push(l.ms.max(1).into());
    }
    (keys, args)
}

/// `{generation, renewed 0|1 per lease}`.
fn decode(reply: RValue, leases: usize) -> Result<HeartbeatReply> {
    let mut items = array(reply, "heartbeat")?.into_iter();
    let generation = items
        .next()
        .and_then(string_of)
        .ok_or_else(|| protocol("heartbeat: generation"))?;
    let renewed = items.map(|v| int_of(&v) == Some(1)).collect::<Vec<_>>();
    if renewed.len() != leases {
        return Err(protocol("heartbeat: lease count"));
    }
    Ok(HeartbeatReply {
        renewed,
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arq_core::backend::Lease;

    #[test]
    fn keys_and_arguments() {
        let lease = |id: &str, ms| Lease {
            job_id: id.into(),
            token: format!("t-{id}"),
            ms,
        };
        let hb = Heartbeat {
            leases: vec![lease("a", 30_000), lease("b", 0)],
            generation: Some("g0".into()),
        };
        let (keys, args) = call(&KeyLayout::arq(), &hb, "g1".into());
        assert_eq!(
            keys,
            ["arq:generation", "arq:in-progress:a", "arq:in-progress:b"]
        );
        let expected: Vec<RValue> = vec![
            "g1".into(),
            "g0".into(),
            "t-a".into(),
            30_000i64.into(),
            "t-b".into(),
            1i64.into(),
        ];
        assert_eq!(args, expected);
        let first = Heartbeat {
            leases: vec![],
            generation: None,
        };
        let (keys, args) = call(&KeyLayout::arq(), &first, "g1".into());
        assert_eq!(keys, ["arq:generation"]);
        assert_eq!(args, vec![RValue::from("g1"), RValue::from("")]);
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec!["g1".into(), 1i64.into(), 0i64.into()]);
        let r = decode(reply.clone(), 2).unwrap();
        assert_eq!(r.generation, "g1");
        assert_eq!(r.renewed, [true, false]);
        assert!(decode(reply, 3)
            .unwrap_err()
            .to_string()
            .contains("heartbeat: lease count"));
        assert!(decode(RValue::Array(vec![]), 0).is_err());
        assert!(decode(RValue::Integer(1), 0).is_err());
    }
}
