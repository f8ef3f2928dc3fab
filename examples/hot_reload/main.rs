//! Run with `cargo run -p rpckit-examples --bin hot_reload -- --addr 127.0.0.1:7001`
//!
//! The port of flaskJSONRPCServer's `hotReload` example: `/api` serves
//! `compute(n)` (one number in, one number out) and `reload_api()`, which
//! swaps `compute` for the next of three versions, in turn, while the
//! server runs:
//!
//! 1. a value with state carried over: [`Doubler`] (`2n`), which counts its
//!    calls in a counter every version hands on to the next;
//! 2. a plain function, [`square`] (`n²`);
//! 3. a closure (`n + 0.5`).
//!
//! `version()` says which one serves now, how many reloads there were and
//! how many calls the doubler answered, over all its turns. Calls that
//! arrive during a switch wait for it and are then answered by the new
//! version: under load, no call fails. Try:
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"compute","params":[3],"id":1}'   # 6
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"reload_api","id":2}'            # 2
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"compute","params":[3],"id":3}'   # 9
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rpckit::codec::ErrorCode;
use rpckit::extract::Params;
use rpckit::{ApiHandle, ErrorObject, MethodSet, ReloadOptions, Router};
use serde_json::{json, Value};

/// What each version of the API hands on to the next.
#[derive(Debug, Default)]
struct Carried {
    /// Calls the doubler answered, over all its turns.
    doubled: AtomicU64,
    /// Reloads done.
    reloads: AtomicU64,
}

/// Version 1, a value: `compute` doubles its number and counts the call in
/// the carried state.
#[derive(Clone, Debug)]
struct Doubler {
    carried: Arc<Carried>,
}

impl MethodSet for Doubler {
    fn register(self, router: Router) -> Router {
        router.sync_method("compute", move |Params((n,)): Params<(f64,)>| {
            self.carried.doubled.fetch_add(1, Ordering::Relaxed);
            n * 2.0
        })
    }
}

/// Version 2, a plain function.
fn square(Params((n,)): Params<(f64,)>) -> f64 {
    n * n
}

/// `compute` and `version` as of `version` (1, 2 or 3), both carrying the
/// state on for the next reload.
fn api_version(version: u8, carried: Arc<Carried>) -> Router {
    let compute = match version {
        1 => Router::new().register(Doubler {
            carried: carried.clone(),
        }),
        2 => Router::new().sync_method("compute", square),
        _ => {
            // Version 3, a closure.
            let offset = 0.5;
            Router::new().sync_method("compute", move |Params((n,)): Params<(f64,)>| n + offset)
        }
    };
    let shown = carried.clone();
    compute
        .with_state("compute", carried)
        .sync_method("version", move || {
            json!({
                "version": version,
                "reloads": shown.reloads.load(Ordering::Relaxed),
                "doubled": shown.doubled.load(Ordering::Relaxed),
            })
        })
        .with_state("version", Arc::new(version))
}

/// The original's `reloadApi`: the next version of `compute`, from inside a
/// handler. The reload waits for the other calls in flight (not for this
/// one) and holds new calls meanwhile; `reload_api` itself stays.
async fn reload_api(api: ApiHandle) -> Result<Value, ErrorObject> {
    let mut next = 0;
    let mut carried = None;
    api.try_reload(ReloadOptions::new(), |old| {
        let now = old.state::<u8>("version").ok_or("no version state")?;
        let state = old.state::<Carried>("compute").ok_or("no carried state")?;
        next = *now % 3 + 1;
        carried = Some(state.clone());
        Ok::<_, &str>(api_version(next, state))
    })
    .await
    .map_err(|error| ErrorObject::new(ErrorCode::ServerError(-32_000), error.to_string()))?;
    if let Some(carried) = carried {
        carried.reloads.fetch_add(1, Ordering::Relaxed);
    }
    Ok(json!(next))
}

fn api() -> Router {
    api_version(1, Arc::default()).method("reload_api", reload_api)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let server = rpckit::http::Server::builder()
        .route("/api", api())
        .bind(addr)
        .await?;
    println!("hot_reload listening on http://{}/api", server.local_addr());
    server.serve().await?;
    Ok(())
}
