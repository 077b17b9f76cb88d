//! The real `whenly` process with `--log-format json`: one JSON object per line, and every line
//! written while serving a request names the request id the response carried.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::Deployment;
use crate::helpers::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_request_id() {
    let env = [("WHENLY_LOG_FORMAT", "json"), ("WHENLY_LOG", "warn,tower_http=debug")];
    let mut deployment = Deployment::start_with_env(crate::helpers::Backend::Sqlite, &["n1"], &env).await.expect("SQLite needs no service");
    let logs = TempDir::new();
    let log = logs.path.join("whenly.log");
    deployment.kill_server();
    deployment.log_server_to(log.clone());
    deployment.start_server().await;

    let browser = deployment.browser();
    // A client's own id is not taken: it could name another request's lines.
    let response = browser.client.post(browser.url("/api/v1/users/signup")).header("x-request-id", "forged").json(&serde_json::json!({ "username": "alice", "password": "password123" })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let other = browser.get("/api/v1/users/me").await;
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id, "each request its own id");
    deployment.kill_server();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|line| line["spans"].as_array().is_some_and(|spans| spans.iter().any(|span| span["name"] == "request" && span["id"] == id.as_str())))
        .collect();
    assert!(of_request.len() >= 2, "the sign-up's lines name its id: {text}");
    assert!(of_request.iter().all(|line| line["spans"][0]["path"] == "/api/v1/users/signup"), "{of_request:?}");
    assert!(!text.contains("forged"), "{text}");
}
