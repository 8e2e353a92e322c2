//! Shared fixtures for the integration tests: the real `baton` binary started on an ephemeral
//! port, on a fresh SQLite file or a fresh PostgreSQL schema, and small HTTP/WebSocket clients.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

pub const BIN: &str = env!("CARGO_BIN_EXE_baton");
pub const IDENTITY_SECRET: &str = "test-identity-secret-0123456789";

/// Which database a test server runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// Every backend available here: SQLite always, PostgreSQL when
    /// `BATON_TEST_DATABASE_URL` is set.
    pub fn all() -> Vec<Backend> {
        let mut all = vec![Backend::Sqlite];
        match std::env::var("BATON_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => all.push(Backend::Postgres(url)),
            _ => eprintln!("skipping the PostgreSQL variant: BATON_TEST_DATABASE_URL is not set"),
        }
        all
    }
}

/// A database for one test: a SQLite file in a temporary folder, or a new PostgreSQL schema
/// that is dropped again when the test ends.
pub struct TestDatabase {
    pub url: String,
    pub dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn new(backend: &Backend) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.path().join("baton.db").display()),
                dir,
                schema: None,
            },
            Backend::Postgres(base) => {
                let schema = format!("baton_test_{}", uuid::Uuid::new_v4().simple());
                run_sql(base, &format!("CREATE SCHEMA {schema}")).await;
                let separator = if base.contains('?') { '&' } else { '?' };
                TestDatabase {
                    url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                    dir,
                    schema: Some((base.clone(), schema)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Servers were dropped (and killed) before the database they ran on.
        if let Some((base, schema)) = self.schema.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(run_sql(
                        &base,
                        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                    ));
                }
            })
            .join();
        }
    }
}

async fn run_sql(base: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to BATON_TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A running `baton serve`.
pub struct Server {
    pub base: String,
    pub ws_base: String,
    pub database_url: String,
    pub child: Child,
    pub http: reqwest::Client,
    stderr_log: PathBuf,
}

pub struct ServerOptions<'a> {
    pub env: Vec<(&'a str, String)>,
    pub config: Option<&'a Path>,
}

impl Default for ServerOptions<'_> {
    fn default() -> Self {
        ServerOptions {
            env: vec![("BATON_IDENTITY_SECRET", IDENTITY_SECRET.to_string())],
            config: None,
        }
    }
}

impl Server {
    pub async fn start(db: &TestDatabase) -> Server {
        Server::start_with(db, ServerOptions::default()).await
    }

    pub async fn start_with(db: &TestDatabase, options: ServerOptions<'_>) -> Server {
        let stderr_log = db
            .dir
            .path()
            .join(format!("server-{}.log", uuid::Uuid::new_v4().simple()));
        let log = std::fs::File::create(&stderr_log).expect("log file");
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--database", &db.url])
            .current_dir(db.dir.path())
            .env_remove("BATON_CONFIG")
            .env_remove("BATON_LISTEN")
            .env_remove("BATON_DATABASE_URL")
            .env("BATON_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if let Some(config) = options.config {
            command.arg("--config").arg(config);
        }
        for (k, v) in options.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start baton serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("server ready within 60 s")
            .expect("read stdout");
        let Some(line) = line else {
            let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
            panic!("baton serve exited before it was ready:\n{log}");
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            ws_base: base.replacen("http://", "ws://", 1),
            base,
            database_url: db.url.clone(),
            child,
            http: reqwest::Client::new(),
            stderr_log,
        }
    }

    /// A server following `policy` (a policy file's text), with short timers for the handoff
    /// service and the `[handoff]` settings in `handoff` (TOML lines).
    pub async fn start_with_policy(db: &TestDatabase, policy: &str, handoff: &str) -> Server {
        let config = policy_config(db.dir.path(), policy, handoff);
        Server::start_with(
            db,
            ServerOptions {
                config: Some(&config),
                ..Default::default()
            },
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Kills the process at once (SIGKILL): nothing gets to flush.
    pub async fn kill_hard(&mut self) {
        self.child.kill().await.expect("kill -9");
    }

    /// Opens a conversation and returns (id, token).
    pub async fn open_conversation(&self, body: Value) -> (String, String) {
        let response = self
            .http
            .post(self.url("/v1/conversations"))
            .json(&body)
            .send()
            .await
            .expect("POST /v1/conversations");
        assert_eq!(response.status(), 201, "open conversation");
        let v: Value = response.json().await.expect("json");
        (
            v["id"].as_str().expect("id").to_string(),
            v["token"].as_str().expect("token").to_string(),
        )
    }

    /// Posts a customer message; returns (status, body).
    pub async fn post_message(
        &self,
        id: &str,
        token: &str,
        client_msg_id: &str,
        text: &str,
    ) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/v1/conversations/{id}/messages")))
            .bearer_auth(token)
            .json(&json!({"client_msg_id": client_msg_id, "text": text}))
            .send()
            .await
            .expect("POST messages");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GET with an optional bearer credential; returns (status, body).
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        let response = request.send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST JSON with an optional bearer credential; returns (status, body).
    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        let response = request.send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// PUT JSON with an optional bearer credential; returns (status, body).
    pub async fn put(&self, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.put(self.url(path)).json(&body);
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        let response = request.send().await.expect("PUT");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A configuration file in `dir` that follows `policy` (written beside it) and checks the
/// handoff timers every 100 ms, with `handoff`'s lines added to `[handoff]`: short timers
/// with generous margins for a busy machine.
pub fn policy_config(dir: &Path, policy: &str, handoff: &str) -> PathBuf {
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy).expect("write the policy");
    let config_path = dir.join("baton.toml");
    std::fs::write(
        &config_path,
        format!(
            "[policy]\npath = {:?}\n\n[handoff]\ntick_ms = 100\n{handoff}\n",
            policy_path.display().to_string()
        ),
    )
    .expect("write the configuration");
    config_path
}

/// An agent's staff id and API key.
pub struct Agent {
    pub id: String,
    pub key: String,
}

/// Creates an agent with a profile (teams, capacity), through the CLI and the admin API.
pub async fn create_agent(
    server: &Server,
    admin: &str,
    name: &str,
    teams: &[&str],
    capacity: u32,
) -> Agent {
    let key = create_staff(&server.database_url, "agent", name);
    let (status, me) = server.get("/v1/agent/me", Some(&key)).await;
    assert_eq!(status, 200, "{me}");
    let id = me["agent"]["id"].as_str().expect("agent id").to_string();
    let (status, body) = server
        .put(
            &format!("/v1/admin/agents/{id}"),
            Some(admin),
            json!({"teams": teams, "capacity": capacity}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    Agent { id, key }
}

/// Sets the agent online through the API.
pub async fn online(server: &Server, agent: &Agent) {
    let (status, body) = server
        .put(
            "/v1/agent/presence",
            Some(&agent.key),
            json!({"presence": "online"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["presence"], "online");
}

/// Runs `baton admin ...` on a database and returns the key printed on the last line.
pub fn create_staff(database_url: &str, role: &str, name: &str) -> String {
    let output = std::process::Command::new(BIN)
        .args(["admin", &format!("create-{role}"), "--name", name])
        .args(["--database", database_url])
        .env("BATON_LOG", "warn")
        .output()
        .expect("run baton admin");
    assert!(
        output.status.success(),
        "baton admin failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    stdout
        .lines()
        .last()
        .expect("a key line")
        .trim()
        .to_string()
}

/// A WebSocket client for a stream.
pub struct Stream {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Stream {
    pub async fn connect(url: &str) -> Stream {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Stream { ws }
    }

    /// The next JSON frame, waiting at most `secs` seconds; `None` on timeout or close.
    pub async fn next_json(&mut self, secs: u64) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match frame.ok()? {
                Message::Text(text) => return serde_json::from_str(&text).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Collects stored events until the one with `seq == last` arrives (or `secs` pass);
    /// transient notices are skipped.
    pub async fn collect_until_seq(&mut self, last: i64, secs: u64) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            let remaining = deadline - tokio::time::Instant::now();
            match self.next_json(remaining.as_secs().max(1)).await {
                // Transient notices (typing, where a waiting customer stands) carry no seq.
                Some(v) if v.get("seq").is_none() => {}
                Some(v) => {
                    let seq = v["seq"].as_i64();
                    out.push(v);
                    if seq == Some(last) {
                        break;
                    }
                }
                None => break,
            }
        }
        out
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Sends a JSON text frame.
    pub async fn send_json(&mut self, value: &Value) {
        use futures::SinkExt;
        self.ws
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("send a frame");
    }

    /// Skips frames until the server closes the stream; its close code, or `None` when it
    /// stayed open for `secs` seconds (or dropped without a close frame).
    pub async fn close_code(&mut self, secs: u64) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
            {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

/// Signs an identity token the way a host product would.
pub fn identity_token(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
