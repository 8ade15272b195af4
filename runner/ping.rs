//! The library side of `windlass ping`: can every host be reached and run a command?
//!
//! Why this module exists: like Ansible's `ping` module, a reachability check must prove more
//! than an open TCP port: it connects (authenticating, checking the host key) and runs `true`
//! on every host, in parallel up to `forks`, and reports the latency of each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::command::RemoteCommand;
use crate::transport::{ConnectionSpec, Connector};

/// The outcome for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingResult {
    /// The inventory name.
    pub host: String,
    /// Whether `true` ran and exited 0.
    pub ok: bool,
    /// Connection (if not yet connected) plus the command's round trip.
    pub latency: Duration,
    /// Why not, when not ok.
    pub error: Option<String>,
}

/// Connect to every host in `specs` (at most `forks` at a time) and run `true` there.
/// Results come back in the order of `specs`.
pub async fn ping(
    connector: &dyn Connector,
    specs: &[ConnectionSpec],
    forks: usize,
) -> Vec<PingResult> {
    let limit = Arc::new(Semaphore::new(forks.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let transport = connector.connect(spec);
        let limit = limit.clone();
        let host = spec.inventory_hostname.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let start = Instant::now();
            let out = transport.exec(&RemoteCommand::argv(["true"])).await;
            let latency = start.elapsed();
            let error = match out {
                Ok(o) if o.rc == 0 => None,
                Ok(o) => Some(format!(
                    "`true` exited with {}: {}",
                    o.rc,
                    o.stderr_str().trim()
                )),
                Err(e) => Some(e.to_string()),
            };
            (
                i,
                PingResult {
                    host,
                    ok: error.is_none(),
                    latency,
                    error,
                },
            )
        });
    }
    let mut results: Vec<Option<PingResult>> = vec![None; specs.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, r)) => results[i] = Some(r),
            Err(e) => tracing::error!("ping task failed: {e}"),
        }
    }
    results
        .into_iter()
        .zip(specs)
        .map(|(r, spec)| {
            r.unwrap_or_else(|| PingResult {
                host: spec.inventory_hostname.clone(),
                ok: false,
                latency: Duration::ZERO,
                error: Some("the ping task panicked".into()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{ConnectionKind, DefaultConnector};

    #[tokio::test]
    async fn local_hosts_answer_in_order() {
        let specs: Vec<ConnectionSpec> = ["a", "b", "c"]
            .iter()
            .map(|h| ConnectionSpec {
                inventory_hostname: h.to_string(),
                kind: ConnectionKind::Local,
                ..Default::default()
            })
            .collect();
        let res = ping(&DefaultConnector::new(), &specs, 2).await;
        let names: Vec<_> = res.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(res.iter().all(|r| r.ok && r.error.is_none()), "{res:?}");
    }
}
