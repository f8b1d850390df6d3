//! The prober against real HTTP servers on loopback that speak the Docker `/_ping` and Nomad
//! job endpoints: healthy, failing and hanging.

use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use terrane_domain::{AddressPolicy, Cidr, Connection, HealthStatus, TargetType};
use terrane_ports::HealthProber;
use terrane_probe::HttpProber;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How a fake server answers.
#[derive(Clone)]
enum Answer {
    /// `status` with `body` for every request.
    Fixed(u16, String),
    /// Accepts and reads, never answers.
    Hang,
}

/// A server on 127.0.0.1 answering every request with `answer`; records request lines.
struct Fake {
    addr: SocketAddr,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

async fn serve(answer: Answer) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (seen, count) = (requests.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let (answer, seen) = (answer.clone(), seen.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                seen.lock().unwrap().push(line);
                match answer {
                    Answer::Fixed(status, body) => {
                        let response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    Answer::Hang => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    Fake {
        addr,
        requests,
        connections,
    }
}

fn connection(target_type: TargetType, value: Value) -> Connection {
    let Value::Object(map) = value else {
        panic!("not an object")
    };
    Connection::parse(target_type, &map).unwrap()
}

fn docker(addr: SocketAddr) -> Connection {
    connection(
        TargetType::DockerHost,
        json!({"host": addr.ip().to_string(), "port": addr.port()}),
    )
}

fn nomad(addr: SocketAddr, job: &str) -> Connection {
    connection(
        TargetType::NomadJob,
        json!({"address": format!("http://{addr}"), "jobId": job, "namespace": "ops"}),
    )
}

fn prober() -> HttpProber {
    HttpProber::new(AddressPolicy::default())
        .with_timeouts(Duration::from_millis(500), Duration::from_millis(1500))
}

#[tokio::test]
async fn a_docker_daemon_answering_ping_is_healthy() {
    let fake = serve(Answer::Fixed(200, "OK".into())).await;
    let outcome = prober().probe(&docker(fake.addr)).await;
    assert_eq!(outcome.status, HealthStatus::Healthy, "{outcome:?}");
    assert_eq!(outcome.message, "Docker daemon responding");
    assert_eq!(
        fake.requests.lock().unwrap().as_slice(),
        ["GET /_ping HTTP/1.1"]
    );
}

#[tokio::test]
async fn an_ipv6_docker_host_is_reached_with_or_without_brackets() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for host in ["::1", "[::1]"] {
        let target = connection(TargetType::DockerHost, json!({"host": host, "port": port}));
        let outcome = prober().probe(&target).await;
        // Nothing listens any more: the probe got as far as connecting, so the URL was valid.
        assert_eq!(
            outcome.status,
            HealthStatus::Unhealthy,
            "{host}: {outcome:?}"
        );
        assert!(outcome.message.contains("[::1]"), "{}", outcome.message);
        assert!(!outcome.message.contains("invalid"), "{}", outcome.message);
    }
}

#[tokio::test]
async fn a_compose_host_is_probed_like_its_docker_daemon() {
    let fake = serve(Answer::Fixed(200, "OK".into())).await;
    let compose = connection(
        TargetType::ComposeHost,
        json!({"host": "127.0.0.1", "port": fake.addr.port(), "projectName": "shop"}),
    );
    assert_eq!(prober().probe(&compose).await.status, HealthStatus::Healthy);
}

#[tokio::test]
async fn a_docker_daemon_answering_another_status_is_degraded() {
    let fake = serve(Answer::Fixed(500, "{\"message\":\"boom\"}".into())).await;
    let outcome = prober().probe(&docker(fake.addr)).await;
    assert_eq!(outcome.status, HealthStatus::Degraded, "{outcome:?}");
    assert!(outcome.message.contains("500"), "{}", outcome.message);
}

#[tokio::test]
async fn a_refused_connection_is_unhealthy_with_the_reason() {
    // Bind and drop: nothing listens on the port afterwards.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let outcome = prober().probe(&docker(addr)).await;
    assert_eq!(outcome.status, HealthStatus::Unhealthy, "{outcome:?}");
    assert!(
        outcome.message.to_lowercase().contains("refused"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn a_hanging_daemon_times_out_without_stalling_a_healthy_probe_beside_it() {
    let hanging = serve(Answer::Hang).await;
    let healthy = serve(Answer::Fixed(200, "OK".into())).await;
    let prober = prober();
    let started = Instant::now();
    let slow = async {
        let outcome = prober.probe(&docker(hanging.addr)).await;
        (outcome, started.elapsed())
    };
    let fast = async {
        let outcome = prober.probe(&docker(healthy.addr)).await;
        (outcome, started.elapsed())
    };
    let ((slow, slow_took), (fast, fast_took)) = tokio::join!(slow, fast);
    assert_eq!(fast.status, HealthStatus::Healthy);
    assert!(fast_took < Duration::from_millis(500), "{fast_took:?}");
    assert_eq!(slow.status, HealthStatus::Unhealthy, "{slow:?}");
    assert!(slow.message.contains("no answer"), "{}", slow.message);
    assert!(
        slow_took >= Duration::from_millis(1400) && slow_took < Duration::from_secs(3),
        "{slow_took:?}"
    );
    assert_eq!(hanging.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn nomad_job_statuses_map_to_health() {
    for (status, health) in [
        ("running", HealthStatus::Healthy),
        ("pending", HealthStatus::Degraded),
        ("dead", HealthStatus::Unhealthy),
    ] {
        let fake = serve(Answer::Fixed(
            200,
            json!({"ID": "api", "Status": status}).to_string(),
        ))
        .await;
        let outcome = prober().probe(&nomad(fake.addr, "api")).await;
        assert_eq!(outcome.status, health, "{status}: {outcome:?}");
        assert_eq!(
            fake.requests.lock().unwrap().as_slice(),
            ["GET /v1/job/api?namespace=ops HTTP/1.1"]
        );
    }
}

#[tokio::test]
async fn a_nomad_job_that_does_not_exist_is_unhealthy() {
    let fake = serve(Answer::Fixed(404, "job not found".into())).await;
    let outcome = prober().probe(&nomad(fake.addr, "gone")).await;
    assert_eq!(outcome.status, HealthStatus::Unhealthy);
    assert!(
        outcome.message.contains("no job gone"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn an_answer_over_64_kib_is_not_read_past_the_limit() {
    let mut big = Map::new();
    big.insert("Padding".into(), Value::String("x".repeat(70 * 1024)));
    big.insert("Status".into(), Value::String("running".into()));
    let fake = serve(Answer::Fixed(200, Value::Object(big).to_string())).await;
    let outcome = prober().probe(&nomad(fake.addr, "api")).await;
    assert_eq!(outcome.status, HealthStatus::Unknown, "{outcome:?}");
    assert!(outcome.message.contains("64 KiB"), "{}", outcome.message);
}

#[tokio::test]
async fn a_denied_address_is_refused_without_a_request_being_sent() {
    let fake = serve(Answer::Fixed(200, "OK".into())).await;
    let policy = AddressPolicy::new(Vec::new(), Cidr::parse_list("127.0.0.0/8").unwrap());
    let outcome = HttpProber::new(policy).probe(&docker(fake.addr)).await;
    assert_eq!(outcome.status, HealthStatus::Unhealthy);
    assert!(
        outcome.message.contains("TERRANE_PROBE_DENY"),
        "{}",
        outcome.message
    );
    assert_eq!(fake.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_host_name_resolving_to_a_denied_address_is_refused() {
    let fake = serve(Answer::Fixed(200, "OK".into())).await;
    let policy = AddressPolicy::new(Vec::new(), Cidr::parse_list("127.0.0.0/8,::1").unwrap());
    let named = connection(
        TargetType::DockerHost,
        json!({"host": "localhost", "port": fake.addr.port()}),
    );
    let outcome = HttpProber::new(policy).probe(&named).await;
    assert_eq!(outcome.status, HealthStatus::Unhealthy, "{outcome:?}");
    assert_eq!(fake.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_metadata_address_is_refused_by_default() {
    let metadata = connection(
        TargetType::NomadJob,
        json!({"address": "http://169.254.169.254", "jobId": "x"}),
    );
    let outcome = prober().probe(&metadata).await;
    assert_eq!(outcome.status, HealthStatus::Unhealthy);
    assert!(outcome.message.contains("169.254"), "{}", outcome.message);
}

#[tokio::test]
async fn ecs_services_are_unknown_until_their_agent_reports() {
    let ecs = connection(
        TargetType::EcsService,
        json!({"cluster": "c", "service": "s", "region": "us-east-1"}),
    );
    let outcome = prober().probe(&ecs).await;
    assert_eq!(outcome.status, HealthStatus::Unknown);
    assert!(outcome.message.contains("agent"));
}

/// A TLS server on 127.0.0.1 with a self-signed certificate (as a Docker daemon or Nomad
/// cluster with its own CA has), answering every request with `status` and `body`.
fn serve_tls(status: u16, body: &'static str) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    use std::io::{Read, Write};
    let cert = CertificateDer::from(include_bytes!("tls/cert.der").to_vec());
    let key = PrivatePkcs8KeyDer::from(include_bytes!("tls/key.der").to_vec());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key.into())
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_docker_daemon_speaking_tls_is_pinged_over_https() {
    let addr = serve_tls(200, "OK");
    let tls = connection(
        TargetType::DockerHost,
        json!({"host": "127.0.0.1", "port": addr.port(), "tlsEnabled": true}),
    );
    let outcome = prober().probe(&tls).await;
    assert_eq!(outcome.status, HealthStatus::Healthy, "{}", outcome.message);
    assert_eq!(outcome.message, "Docker daemon responding");
    let plain = serve(Answer::Fixed(200, "OK".into())).await;
    let wrong = connection(
        TargetType::DockerHost,
        json!({"host": "127.0.0.1", "port": plain.addr.port(), "tlsEnabled": true}),
    );
    let outcome = prober().probe(&wrong).await;
    assert_eq!(
        outcome.status,
        HealthStatus::Unhealthy,
        "a daemon without TLS fails the handshake: {}",
        outcome.message
    );
}

#[tokio::test]
async fn a_nomad_cluster_behind_https_is_asked_for_its_job() {
    let addr = serve_tls(200, r#"{"Status": "running"}"#);
    let nomad = connection(
        TargetType::NomadJob,
        json!({"address": format!("https://{addr}"), "jobId": "web", "namespace": "ops"}),
    );
    let outcome = prober().probe(&nomad).await;
    assert_eq!(outcome.status, HealthStatus::Healthy, "{}", outcome.message);
}
