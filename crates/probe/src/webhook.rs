//! Webhook deliveries over HTTP: one `POST` per attempt, to the addresses the probes'
//! [`AddressPolicy`] allows, bounded by a timeout, never following a redirect.

use crate::{bare, describe, resolve};
use async_trait::async_trait;
use reqwest::Url;
use std::time::{Duration, Instant};
use terrane_domain::{AddressPolicy, AttemptOutcome};
use terrane_ports::{OutgoingDelivery, WebhookSender};

/// Default time for a whole attempt: lookup, connection, request and answer.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Most bytes of a receiver's answer read (only its status matters).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Sends webhook deliveries.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    policy: AddressPolicy,
    timeout: Duration,
}

impl HttpWebhookSender {
    /// A sender that refuses what `policy` refuses and gives up after `timeout`.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Self {
        Self { policy, timeout }
    }

    async fn post(&self, delivery: OutgoingDelivery) -> Result<u16, String> {
        let url = Url::parse(&delivery.url).map_err(|e| format!("bad URL: {e}"))?;
        let host = url
            .host_str()
            .map(bare)
            .ok_or_else(|| "the URL has no host".to_owned())?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the URL has no port".to_owned())?;
        let addrs = resolve(&self.policy, &host, port).await?;
        let client = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .no_proxy()
            // A redirect could lead to an address the policy refuses: a receiver answers
            // where it is configured, or the attempt fails.
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let mut request = client.post(url).body(delivery.body);
        for (name, value) in delivery.headers {
            request = request.header(name, value);
        }
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        // Read (a bounded part of) the answer so the connection ends cleanly.
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read >= MAX_ANSWER_BYTES {
                break;
            }
        }
        Ok(status)
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, delivery: OutgoingDelivery) -> AttemptOutcome {
        let started = Instant::now();
        // The lookup is not covered by the HTTP client's timeout.
        let result = tokio::time::timeout(self.timeout, self.post(delivery)).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(Ok(status)) => AttemptOutcome::Answered {
                status,
                duration_ms,
            },
            Ok(Err(reason)) => AttemptOutcome::Failed {
                reason,
                duration_ms,
            },
            Err(_) => AttemptOutcome::Failed {
                reason: format!("no answer within {} ms", self.timeout.as_millis()),
                duration_ms,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn delivery(url: String) -> OutgoingDelivery {
        OutgoingDelivery {
            url,
            headers: vec![("X-Terrane-Event".into(), "environment.created".into())],
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn a_metadata_address_is_refused_without_connecting() {
        let sender = HttpWebhookSender::new(AddressPolicy::default(), Duration::from_secs(2));
        let outcome = sender
            .send(delivery("http://169.254.169.254/latest".into()))
            .await;
        let AttemptOutcome::Failed { reason, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(reason.contains("169.254.169.254"), "{reason}");
    }

    #[tokio::test]
    async fn a_refused_connection_and_a_silent_receiver_are_failures() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let sender = HttpWebhookSender::new(AddressPolicy::default(), Duration::from_millis(300));
        let refused = sender
            .send(delivery(format!("http://127.0.0.1:{port}/")))
            .await;
        assert!(
            matches!(refused, AttemptOutcome::Failed { .. }),
            "{refused:?}"
        );
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let _hold = tokio::spawn(async move {
            let (_socket, _) = silent.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let timed_out = sender
            .send(delivery(format!("http://127.0.0.1:{port}/")))
            .await;
        let AttemptOutcome::Failed {
            reason,
            duration_ms,
        } = timed_out
        else {
            panic!("{timed_out:?}")
        };
        assert!(reason.contains("within"), "{reason}");
        assert!(duration_ms < 2000);
    }

    #[tokio::test]
    async fn the_receivers_status_is_the_outcome() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let _ = socket.read(&mut buf).await;
            socket
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
        });
        let sender = HttpWebhookSender::new(AddressPolicy::default(), Duration::from_secs(2));
        let outcome = sender
            .send(delivery(format!("http://127.0.0.1:{port}/hook")))
            .await;
        assert!(
            matches!(outcome, AttemptOutcome::Answered { status: 503, .. }),
            "{outcome:?}"
        );
    }
}
