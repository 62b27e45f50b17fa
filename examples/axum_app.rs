//! A web app that hands slow work to arq: Python arq's FastAPI example, in axum.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example axum_app          # serves on 127.0.0.1:3000
//! curl -X POST localhost:3000/users/42/welcome
//! curl -X POST localhost:3000/images/7/process                           # again: de-duplicated
//! curl localhost:3000/jobs/<job id>
//! ```
//!
//! The pool lives in axum's state; handlers enqueue through the typed stubs. `PORT` picks the
//! port (0 for any free one; the chosen address is printed), and `ARQ_EXAMPLE_WORKER=1` runs a
//! worker in the same process, so the example works alone. In production the worker is its
//! own binary (`arq_cli::main()`).

use arq::{Ctx, Error, JobStatus, Pool, Value};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value as JsonValue};
use std::time::Duration;

/// Sends the welcome email (pretend).
#[arq::job(max_tries = 3, timeout = "30s")]
async fn send_welcome(ctx: &Ctx, user_id: u64) -> anyhow::Result<String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(format!(
        "welcome mail sent to user {user_id} (try {})",
        ctx.job_try()
    ))
}

/// Makes thumbnails (pretend).
#[arq::job(timeout = "5m")]
async fn process_image(image_id: u64) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    ["small", "medium", "large"]
        .iter()
        .map(|size| format!("image-{image_id}-{size}.png"))
        .collect()
}

type ApiResult = Result<(StatusCode, Json<JsonValue>), (StatusCode, Json<JsonValue>)>;

fn internal(e: Error) -> (StatusCode, Json<JsonValue>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": e.to_string()})),
    )
}

async fn welcome(State(pool): State<Pool>, Path(user_id): Path<u64>) -> ApiResult {
    let job = send_welcome::enqueue(&pool, user_id)
        .await
        .map_err(internal)?;
    let status = job.status().await.map_err(internal)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": job.id(), "status": status.as_str()})),
    ))
}

async fn process(State(pool): State<Pool>, Path(image_id): Path<u64>) -> ApiResult {
    // One job per image: a second request while it is queued (or its result is kept)
    // is refused by arq's job id rule, and reported as such.
    let job_id = format!("process-image-{image_id}");
    match process_image::enqueue(&pool, image_id)
        .job_id(&job_id)
        .defer_by(Duration::from_millis(500))
        .await
    {
        Ok(job) => {
            let status = job.status().await.map_err(internal)?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"job_id": job.id(), "status": status.as_str(), "enqueued": true})),
            ))
        }
        Err(e) if e.is_duplicate() => {
            let status = process_image::job(&pool, &job_id)
                .status()
                .await
                .map_err(internal)?;
            Ok((
                StatusCode::OK,
                Json(json!({"job_id": job_id, "status": status.as_str(), "enqueued": false})),
            ))
        }
        Err(e) => Err(internal(e)),
    }
}

async fn job_status(State(pool): State<Pool>, Path(job_id): Path<String>) -> ApiResult {
    let job = pool.job::<Value>(&job_id);
    let status = job.status().await.map_err(internal)?;
    let mut body = json!({"job_id": job_id, "status": status.as_str()});
    if status == JobStatus::Complete {
        if let Some(r) = job.result_info().await.map_err(internal)? {
            body["success"] = json!(r.success);
            body["function"] = json!(r.job.function);
            match r.failure() {
                Some(f) => body["error"] = json!(f.to_string()),
                None => body["result"] = serde_json::to_value(&r.result).unwrap_or_default(),
            }
        }
    }
    let code = if status == JobStatus::NotFound {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((code, Json(body)))
}

/// The app's routes, on a pool.
fn app(pool: Pool) -> Router {
    Router::new()
        .route("/users/{id}/welcome", post(welcome))
        .route("/images/{id}/process", post(process))
        .route("/jobs/{id}", get(job_status))
        .with_state(pool)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| arq::DEFAULT_REDIS_URL.into());
    let pool = arq::create_pool(arq::RedisSettings::from_url(&url)?).await?;
    if std::env::var("ARQ_EXAMPLE_WORKER").as_deref() == Ok("1") {
        let worker = arq::Worker::new(
            pool.clone(),
            arq::WorkerSettings::new()
                .functions([send_welcome::FUNCTION, process_image::FUNCTION])
                .poll_delay(Duration::from_millis(50))
                .handle_signals(false),
        )?;
        tokio::spawn(worker.run());
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(pool))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
