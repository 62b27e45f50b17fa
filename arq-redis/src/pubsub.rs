//! Push notifications over Redis pub/sub: one subscriber connection per watch, resubscribed
//! after reconnects, feeding a callback until stopped.

use crate::settings::RedisSettings;
use arq_core::backend::OnMessage;
use arq_core::{Error, Result};
use fred::prelude::*;
use fred::types::Value as RValue;
use tokio_util::sync::CancellationToken;

/// Subscribes to `channel` and calls `on_message` with each message's bytes until `stop` is
/// cancelled; returns once the subscription is live.
pub(crate) async fn subscribe(
    settings: &RedisSettings,
    channel: String,
    on_message: OnMessage,
    stop: CancellationToken,
) -> Result<()> {
    let config = settings.to_config()?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = settings.conn_timeout;
        })
        .with_performance_config(|p| {
            // Room for a burst of notices (a batch of finished jobs) before any is dropped.
            p.broadcast_channel_capacity = 4096;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build_subscriber_client()
        .map_err(|e| Error::Config(e.to_string()))?;
    let fail = |e: fred::error::Error| Error::backend(format!("subscribing to {channel}: {e}"));
    client.init().await.map_err(fail)?;
    // Subscribe through the receiver taken first, so no message after SUBSCRIBE is missed.
    let mut rx = client.message_rx();
    if let Err(e) = client.subscribe(channel.as_str()).await {
        let _ = client.quit().await;
        return Err(fail(e));
    }
    let resubscriber = client.manage_subscriptions();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(m) => match &m.value {
                        RValue::Bytes(b) => on_message(b),
                        RValue::String(s) => on_message(s.as_bytes()),
                        _ => on_message(&[]),
                    },
                    // Messages were dropped under load: wake the listener anyway.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => on_message(&[]),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = stop.cancelled() => break,
            }
        }
        resubscriber.abort();
        let _ = client.quit().await;
    });
    Ok(())
}
