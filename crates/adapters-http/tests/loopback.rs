//! The reqwest transport against raw loopback servers: timeouts, redirects, body limits, schemes.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::Duration;

use bonin_adapters_http::*;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// Serves `response` (raw HTTP) to every connection after `delay`.
async fn serve(response: &'static str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn transport(timeout: Duration, max_body: usize) -> ReqwestTransport {
    ReqwestTransport::new(&HttpConfig::default().with_timeout(timeout).with_max_response_bytes(max_body)).unwrap()
}

#[tokio::test]
async fn answers_are_returned_whatever_the_status() {
    let base = serve("HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 25\r\n\r\n{\"code\":-1,\"message\":\"x\"}", Duration::ZERO).await;
    let response =
        transport(Duration::from_secs(5), 1024).execute(&HttpRequest::get("t", format!("{base}/x"))).await.unwrap();
    assert_eq!(response.status, 404);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(&response.body[..], br#"{"code":-1,"message":"x"}"#);
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let base = serve(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n",
        Duration::ZERO,
    )
    .await;
    let response = transport(Duration::from_secs(5), 1024).execute(&HttpRequest::get("t", base)).await.unwrap();
    assert_eq!(response.status, 302);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let base = serve("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", Duration::from_secs(5)).await;
    let error = transport(Duration::from_millis(200), 1024).execute(&HttpRequest::get("t", base)).await.unwrap_err();
    assert_eq!(error, TransportError::Timeout);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let base = serve("HTTP/1.1 200 OK\r\ncontent-length: 2048\r\n\r\n", Duration::ZERO).await;
    let error = transport(Duration::from_secs(5), 1024).execute(&HttpRequest::get("t", base)).await.unwrap_err();
    assert_eq!(error, TransportError::BodyTooLarge(1024));
}

#[tokio::test]
async fn a_status_only_transport_takes_the_status_of_an_oversized_answer_and_reads_no_body() {
    let base = serve("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n", Duration::ZERO).await;
    let large = serve("HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\npartial", Duration::ZERO).await;
    let transport = ReqwestTransport::new(
        &HttpConfig::default()
            .with_timeout(Duration::from_secs(5))
            .with_max_response_bytes(1024)
            .with_status_only(true),
    )
    .unwrap();
    assert_eq!(transport.execute(&HttpRequest::post("t", base)).await.unwrap().status, 204);
    let response = transport.execute(&HttpRequest::post("t", large)).await.unwrap();
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = transport(Duration::from_secs(5), 1024)
        .execute(&HttpRequest::post("t", format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert_eq!(error, TransportError::Connect);
    assert!(error.not_sent());
}

#[tokio::test]
async fn plain_http_is_refused_except_to_loopback() {
    let t = transport(Duration::from_secs(1), 1024);
    let error = t.execute(&HttpRequest::get("t", "http://example.com/")).await.unwrap_err();
    assert!(matches!(error, TransportError::InvalidRequest(_)));
    let error = t.execute(&HttpRequest::get("t", "ftp://127.0.0.1/")).await.unwrap_err();
    assert!(matches!(error, TransportError::InvalidRequest(_)));
    let error = t.execute(&HttpRequest::get("t", "not a url")).await.unwrap_err();
    assert!(matches!(error, TransportError::InvalidRequest(_)));
}
