//! The test harness: a real firmgate on a real port with a fresh database (a temporary SQLite
//! file, or a fresh PostgreSQL database when TEST_DATABASE_URL names a server), a fake clock, and
//! helpers named after what people and relying parties do.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use firmgate::admin::clients::{create_client, ClientSpec};
use firmgate::admin::firms::create_firm;
use firmgate::admin::users::{create_user, NewUser};
use firmgate::app::{self, AppState};
use firmgate::clock::Clock;
use firmgate::config::Settings;
use firmgate::crypto::keys::SigningAlg;
use firmgate::crypto::password::{HashCost, Password};
use firmgate::crypto::secret_box::MasterKey;
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Client, Response, StatusCode};
use scraper::{Html, Selector};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "https://rp.example/cb";

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: Clock,
    _dir: tempfile::TempDir,
}

pub struct Fixture {
    pub firm_id: String,
    pub person_id: String,
    pub email: String,
    pub client_id: String,
    pub client_secret: String,
}

async fn database_url(dir: &tempfile::TempDir, server: Option<String>) -> String {
    match server {
        Some(server) if !server.is_empty() => {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let name = format!(
                "fgtest_{}_{}_{n}",
                std::process::id(),
                firmgate::crypto::bearer::random_id()
                    .to_lowercase()
                    .replace(['-', '_'], "")
            );
            let mut admin = Url::parse(&server).expect("TEST_DATABASE_URL");
            admin.set_path("/postgres");
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(admin.as_str())
                .await
                .expect("connect to postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create database");
            pool.close().await;
            let mut url = Url::parse(&server).expect("TEST_DATABASE_URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("firmgate.db").display()
        ),
    }
}

/// Serves `state` on `listener` for the rest of the test; returns the base URL.
fn serve_in_background(state: &AppState, listener: tokio::net::TcpListener, port: u16) -> String {
    let served = state.clone();
    tokio::spawn(async move {
        let _ = app::serve(served, listener).await;
    });
    format!("http://127.0.0.1:{port}")
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_on(std::env::var("TEST_DATABASE_URL").ok(), adjust).await
    }

    /// The state of a server (fresh database, settings, keys) that is not served here: for
    /// seeding a database that the real binary then serves. `base` is left empty.
    pub async fn unserved(adjust: impl FnOnce(&mut Settings)) -> TestServer {
        Self::prepare(std::env::var("TEST_DATABASE_URL").ok(), adjust, false).await
    }

    /// A server on a fresh database of the PostgreSQL server `postgres` (None: SQLite).
    pub async fn start_on(
        postgres: Option<String>,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestServer {
        Self::prepare(postgres, adjust, true).await
    }

    async fn prepare(
        postgres: Option<String>,
        adjust: impl FnOnce(&mut Settings),
        serve: bool,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let issuer = Url::parse(&format!("http://127.0.0.1:{port}")).expect("issuer");
        let mut settings = Settings::for_tests(
            issuer,
            database_url(&dir, postgres).await,
            MasterKey::generate(),
        );
        // Cheap hashing keeps the suite fast; the OWASP parameters have their own test.
        settings.password_cost = HashCost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        adjust(&mut settings);
        let clock = Clock::fake(Clock::system().now());
        let state = AppState::start(settings, clock.clone())
            .await
            .expect("start");
        if !serve {
            return TestServer {
                base: String::new(),
                state,
                clock,
                _dir: dir,
            };
        }
        TestServer {
            base: serve_in_background(&state, listener, port),
            state,
            clock,
            _dir: dir,
        }
    }

    /// Another firmgate node on its own port sharing this one's database, master key and
    /// clock, as nodes behind a load balancer do. Browsers keep their cookies across nodes
    /// because cookies do not depend on the port.
    pub async fn another_node(&self) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let settings = (*self.state.settings).clone();
        let state = AppState::start(settings, self.clock.clone())
            .await
            .expect("start another node");
        TestServer {
            base: serve_in_background(&state, listener, port),
            state,
            clock: self.clock.clone(),
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A firm with MFA `off`, so that tests of other things see no set-up offer. (The default,
    /// `prompt`, has its own tests in tests/it/policy.rs.)
    pub async fn firm(&self, name: &str) -> String {
        let id = create_firm(&self.state, name, Some("gb"))
            .await
            .expect("firm")
            .id;
        firmgate::admin::firms::set_policy(
            &self.state,
            &id,
            &firmgate::admin::firms::PolicyChange {
                mfa: Some("off".into()),
                ..Default::default()
            },
            &firmgate::audit::Actor::default(),
        )
        .await
        .expect("policy");
        id
    }

    pub async fn person(&self, firm_id: &str, email: &str) -> String {
        let pw = Password::new(PASSWORD);
        create_user(
            &self.state,
            &NewUser {
                firm_id,
                email,
                name: "Ann Example",
                password: &pw,
                role: "member",
            },
        )
        .await
        .expect("user")
        .0
        .id
    }

    pub async fn client(&self, spec: ClientSpec) -> (String, String) {
        let c = create_client(&self.state, &spec).await.expect("client");
        (c.client_id, c.client_secret.unwrap_or_default())
    }

    pub fn spec(&self) -> ClientSpec {
        ClientSpec {
            name: "Practice App".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://rp.example/bye".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            ..ClientSpec::default()
        }
    }

    /// A firm, a member and a confidential client using client_secret_basic.
    pub async fn fixture(&self) -> Fixture {
        self.fixture_with(self.spec()).await
    }

    pub async fn fixture_with(&self, spec: ClientSpec) -> Fixture {
        let firm_id = self.firm("Example LLP").await;
        let email = format!("ann{}@example.com", COUNTER.fetch_add(1, Ordering::SeqCst));
        let person_id = self.person(&firm_id, &email).await;
        let (client_id, client_secret) = self.client(spec).await;
        Fixture {
            firm_id,
            person_id,
            email,
            client_id,
            client_secret,
        }
    }

    pub fn alg_spec(&self, alg: SigningAlg) -> ClientSpec {
        ClientSpec {
            signing_alg: alg,
            ..self.spec()
        }
    }

    /// An HTTP client that acts as a relying party's back end (no cookies).
    pub fn backchannel(&self) -> Client {
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub async fn audit_kinds(&self) -> Vec<(String, String, Option<String>)> {
        self.state.store.audit_kinds(500).await.expect("audit")
    }
}

/// The database is whole: SQLite's own integrity check passes, every redeemed code has its
/// grant, every grant its refresh token, and no refresh family has two usable tokens.
pub async fn assert_nothing_half_written(database_url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database_url).await.unwrap();
    if database_url.starts_with("sqlite:") {
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(verdict, "ok", "SQLite integrity check");
    }
    for (what, sql) in [
        (
            "redeemed codes without a grant",
            "SELECT COUNT(*) FROM authorization_codes c WHERE c.redeemed_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = c.grant_id)",
        ),
        (
            "grants without a refresh token",
            "SELECT COUNT(*) FROM grants g \
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)",
        ),
        (
            "families with two usable refresh tokens",
            // Used: marked (before migration 0011) or replaced by a successor that names it.
            "SELECT COUNT(*) FROM (SELECT grant_id FROM refresh_tokens r WHERE r.used_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens n WHERE n.parent_hash = r.token_hash) \
             GROUP BY grant_id HAVING COUNT(*) > 1) AS doubled",
        ),
    ] {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0, "{what}");
    }
    pool.close().await;
}

/// A person's browser: a cookie jar, no automatic redirects.
pub struct Browser {
    pub http: Client,
    pub base: String,
}

/// What the relying party sent and must remember.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub client_id: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub extra: Vec<(String, String)>,
}

pub fn pkce_pair() -> (String, String) {
    let verifier = firmgate::crypto::bearer::BearerToken::generate()
        .expose()
        .to_owned();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl AuthRequest {
    pub fn new(client_id: &str) -> Self {
        let (verifier, _) = pkce_pair();
        AuthRequest {
            client_id: client_id.to_owned(),
            state: format!("st-{}", COUNTER.fetch_add(1, Ordering::SeqCst)),
            nonce: format!("n-{}", COUNTER.fetch_add(1, Ordering::SeqCst)),
            verifier,
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, k: &str, v: &str) -> Self {
        self.extra.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email")
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.challenge())
            .append_pair("code_challenge_method", "S256");
        let mut s = q.finish();
        for (k, v) in &self.extra {
            // Later values override: drop the default of that name first.
            let prefix = format!("{k}=");
            s = s
                .split('&')
                .filter(|p| !p.starts_with(&prefix))
                .collect::<Vec<_>>()
                .join("&");
            if !v.is_empty() {
                s.push('&');
                s.push_str(
                    &form_urlencoded::Serializer::new(String::new())
                        .append_pair(k, v)
                        .finish(),
                );
            }
        }
        s
    }
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn hidden(html: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(&format!("input[name=\"{name}\"]")).ok()?;
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_owned)
}

pub fn text_of(html: &str, css: &str) -> String {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).expect("selector");
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes a JWT's claims without verifying (tests verify with openidconnect separately).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("b64")).expect("json")
}

impl Browser {
    /// A browser whose every request carries `headers` (an `X-Forwarded-For` from a proxy).
    pub fn with_headers(server: &TestServer, headers: reqwest::header::HeaderMap) -> Browser {
        Browser::at(&server.base, headers)
    }

    /// A browser talking to `base` (any firmgate, in this process or not).
    pub fn at(base: &str, headers: reqwest::header::HeaderMap) -> Browser {
        Browser {
            http: Client::builder()
                .cookie_store(true)
                .default_headers(headers)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("browser"),
            base: base.to_owned(),
        }
    }

    pub fn new(server: &TestServer) -> Browser {
        Browser {
            http: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("browser"),
            base: server.base.clone(),
        }
    }

    pub async fn get(&self, url: &str) -> Response {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        self.http.get(url).send().await.expect("get")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("post")
    }

    /// GET /authorize; returns the response (a redirect to a page or back to the RP).
    pub async fn authorize(&self, req: &AuthRequest) -> Response {
        self.get(&format!("/authorize?{}", req.query())).await
    }

    /// Follows redirects that stay at firmgate; stops at the RP or at a page.
    pub async fn follow(&self, mut res: Response) -> Response {
        for _ in 0..10 {
            let loc = location(&res);
            if !res.status().is_redirection()
                || !loc.starts_with('/') && !loc.starts_with(&self.base)
            {
                return res;
            }
            res = self.get(&loc).await;
        }
        res
    }

    /// The HTML of the page that `/authorize` with `req` leads to (the login page, for a
    /// browser not signed in).
    pub async fn page_for(&self, req: &AuthRequest) -> String {
        let res = self.follow(self.authorize(req).await).await;
        res.text().await.expect("a page")
    }

    /// Fills in the login form on `page` (a response showing the login page).
    pub async fn submit_login(&self, page_html: &str, email: &str, password: &str) -> Response {
        let csrf = hidden(page_html, "csrf").expect("csrf on the login page");
        let interaction = hidden(page_html, "interaction").expect("interaction on the login page");
        self.post_form(
            "/signin/login",
            &[
                ("csrf", &csrf),
                ("interaction", &interaction),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn submit_consent(&self, page_html: &str, decision: &str) -> Response {
        let csrf = hidden(page_html, "csrf").expect("csrf on the consent page");
        let interaction = hidden(page_html, "interaction").expect("interaction");
        self.post_form(
            "/signin/consent",
            &[
                ("csrf", &csrf),
                ("interaction", &interaction),
                ("decision", decision),
            ],
        )
        .await
    }

    /// The whole journey: authorize, sign in, allow; returns the redirect back to the RP.
    pub async fn sign_in(&self, req: &AuthRequest, email: &str) -> String {
        let res = self.follow(self.authorize(req).await).await;
        let rp = self.complete(res, email).await;
        assert!(
            rp.starts_with(REDIRECT),
            "expected a return to the RP, got {rp}"
        );
        rp
    }

    /// From wherever `res` is (login page, consent page or RP redirect), finish the journey.
    pub async fn complete(&self, mut res: Response, email: &str) -> String {
        for _ in 0..5 {
            let loc = location(&res);
            if res.status() == StatusCode::SEE_OTHER && loc.starts_with(REDIRECT) {
                return loc;
            }
            let url = res.url().to_string();
            let html = res.text().await.expect("page");
            res = if url.contains("/signin/login") {
                self.follow(self.submit_login(&html, email, PASSWORD).await)
                    .await
            } else if url.contains("/signin/consent") {
                self.follow(self.submit_consent(&html, "allow").await).await
            } else {
                panic!("unexpected page {url}: {html}");
            };
        }
        panic!("the journey did not end");
    }
}

/// Redeems a code as a confidential client with client_secret_basic.
pub async fn redeem(
    server: &TestServer,
    fx: &Fixture,
    code: &str,
    verifier: &str,
) -> (StatusCode, HeaderMap, Value) {
    let res = server
        .backchannel()
        .post(server.url("/token"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token");
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

pub async fn token_request(
    server: &TestServer,
    fx: &Fixture,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let res = server
        .backchannel()
        .post(server.url("/token"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(form)
        .send()
        .await
        .expect("token");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub async fn refresh(server: &TestServer, fx: &Fixture, rt: &str) -> (StatusCode, Value) {
    token_request(
        server,
        fx,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

pub async fn userinfo(server: &TestServer, access_token: &str) -> (StatusCode, HeaderMap, Value) {
    let res = server
        .backchannel()
        .get(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo");
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

/// RFC 7662 §2.1: `token` introspected by the client `id` (HTTP Basic).
pub async fn introspect(
    server: &TestServer,
    id: &str,
    secret: &str,
    token: &str,
) -> (StatusCode, Value) {
    let res = server
        .backchannel()
        .post(server.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// Signs in through the browser and redeems the code: the tokens a relying party holds.
pub async fn signed_in_tokens(
    server: &TestServer,
    fx: &Fixture,
    browser: &Browser,
    req: &AuthRequest,
) -> Value {
    let back = browser.sign_in(req, &fx.email).await;
    let code = query_param(&back, "code").expect("code");
    let (status, _, body) = redeem(server, fx, &code, &req.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A real SMTP server (mailin-embedded) on a free port, keeping what it receives.
pub struct SmtpSink {
    pub url: String,
    messages: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

#[derive(Clone)]
struct Collect {
    messages: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    current: Vec<u8>,
}

impl mailin_embedded::Handler for Collect {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> mailin_embedded::Response {
        self.current.clear();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        self.messages
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// One received message, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    /// The Message-ID without angle brackets: `{outbox id}@{domain}`.
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut server = mailin_embedded::Server::new(Collect {
            messages: messages.clone(),
            current: Vec::new(),
        });
        server
            .with_name("sink.test")
            .with_ssl(mailin_embedded::SslConfig::None)
            .unwrap()
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink {
            url: format!("smtp://127.0.0.1:{port}"),
            messages,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|raw| {
                let m = mail_parser::MessageParser::default()
                    .parse(raw.as_slice())
                    .expect("a parsable message");
                Received {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    to: m
                        .to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap_or_default()
                        .to_owned(),
                    subject: m.subject().unwrap_or_default().to_owned(),
                    text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                    html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Waits (real time, bounded) until `count` messages to `to` have arrived.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Received> {
        for _ in 0..100 {
            let got: Vec<Received> = self
                .all()
                .into_iter()
                .filter(|m| m.to.eq_ignore_ascii_case(to))
                .collect();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no message for {to} arrived: {:?}", self.all());
    }
}

/// The first URL in a text that starts with `prefix`.
pub fn link_in(text: &str, prefix: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"))
}
