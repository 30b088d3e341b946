//! Callback delivery: one HTTP/1.1 POST to a loopback `http://` URL (the simulator never leaves the
//! machine).

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Posts `body` as JSON, with the `Authorization` header when given; returns the receiver's HTTP
/// status.
pub(super) async fn post(url: &str, authorization: Option<&str>, body: &str) -> Result<u16, String> {
    let rest = url.strip_prefix("http://").ok_or("the simulator delivers only to http:// loopback URLs")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err("the simulator delivers only to loopback hosts".into());
    }
    let address = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    let exchange = async {
        let mut stream =
            TcpStream::connect(address.replace("localhost", "127.0.0.1")).await.map_err(|e| e.to_string())?;
        let authorization = authorization.map(|value| format!("Authorization: {value}\r\n")).unwrap_or_default();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut head = [0u8; 64];
        let read = stream.read(&mut head).await.map_err(|e| e.to_string())?;
        let line = String::from_utf8_lossy(&head[..read]);
        line.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()).ok_or_else(|| "no HTTP status line".to_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.map_err(|_| "timed out".to_owned())?
}
