//! The load generator for the flows `wrk` cannot drive alone, used by `benches/run`: each
//! request here needs something the previous answer gave (a rotated refresh token, a fresh
//! code, a login form's CSRF token). Closed loop: `--connections` tasks, each sending its next
//! request when the last one is answered, for `--seconds`. Prints one line per figure,
//! `name requests_per_second p50_ms p99_ms`, the format benches/run tabulates; any answer that
//! is not the expected one stops the run with an error, so a figure is never made of failures.
//!
//! Scenarios:
//! - `refresh`: refresh_token grants with rotation, each on its own family.
//! - `redeem`: authorization codes minted through signed-in sessions, then redeemed.
//! - `access-token`: prints one access token (for the wrk runs on UserInfo and introspection).
//! - `storm`: whole browser sign-ins (authorize, login, consent, code, token; the offer to set
//!   up two-step sign-in is declined if it comes) with a fresh
//!   browser each, while probes time discovery and client_credentials at a low steady rate.
//! - `sessions`: `--sessions` live browser sessions of the person `--email` (10,000 by default),
//!   each then used once through `/authorize` (prompt=none, a code each); benches/run reads the
//!   server's memory afterwards.
//! - `argon2`: the ceiling for `storm`, password hashes per second at firmgate's OWASP cost on
//!   all cores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::{Parser, ValueEnum};
use rand::distributions::Alphanumeric;
use rand::Rng;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use scraper::{Html, Selector};
use sha2::{Digest, Sha256};

type Failure = Box<dyn std::error::Error + Send + Sync>;
type Outcome<T> = Result<T, Failure>;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    Refresh,
    Redeem,
    AccessToken,
    Storm,
    Sessions,
    Argon2,
}

#[derive(Parser, Debug, Clone)]
struct Args {
    scenario: Scenario,
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    #[arg(long, default_value = "")]
    client_id: String,
    #[arg(long, default_value = "")]
    client_secret: String,
    #[arg(long, default_value = "https://rp.example/cb")]
    redirect_uri: String,
    #[arg(long, default_value = "")]
    email: String,
    #[arg(long, default_value = "")]
    password: String,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// A client_credentials client for the storm's token probe.
    #[arg(long, default_value = "")]
    probe_client_id: String,
    #[arg(long, default_value = "")]
    probe_client_secret: String,
    /// How many live sessions `sessions` makes.
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
}

fn fail<T>(what: impl Into<String>) -> Outcome<T> {
    Err(what.into().into())
}

/// Latencies of one figure, merged from every task.
#[derive(Default)]
struct Timings(Mutex<Vec<Duration>>);

impl Timings {
    fn add(&self, mut mine: Vec<Duration>) {
        if let Ok(mut all) = self.0.lock() {
            all.append(&mut mine);
        }
    }

    fn line(&self, name: &str, elapsed: Duration) -> String {
        let mut all = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        all.sort_unstable();
        let at = |q: f64| {
            let i = ((all.len() as f64 - 1.0) * q).round() as usize;
            all.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        let rate = all.len() as f64 / elapsed.as_secs_f64();
        format!("{name} {rate:.0} {:.2} {:.2}", at(0.50), at(0.99))
    }
}

/// A browser of its own: cookies kept by hand, so a new one costs nothing (a reqwest client
/// with a cookie store each would set up TLS each time).
struct Browser<'a> {
    http: &'a Client,
    base: &'a str,
    cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(http: &'a Client, base: &'a str) -> Self {
        Browser {
            http,
            base,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, res: &Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }

    async fn get(&mut self, path: &str) -> Outcome<Response> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await?;
        self.keep_cookies(&res);
        Ok(res)
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Outcome<Response> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await?;
        self.keep_cookies(&res);
        Ok(res)
    }

    /// From `/authorize` to the code at the relying party, through whatever pages come.
    async fn code(
        &mut self,
        args: &Args,
        challenge: &str,
        prompt: Option<&str>,
    ) -> Outcome<String> {
        let mut path = format!("/authorize?{}", authorize_query(args, challenge, prompt));
        let mut res = self.get(&path).await?;
        for _ in 0..10 {
            if res.status().is_redirection() {
                let to = res
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                if to.starts_with(&args.redirect_uri) {
                    return url::Url::parse(&to)?
                        .query_pairs()
                        .find(|(k, _)| k == "code")
                        .map(|(_, v)| v.into_owned())
                        .ok_or_else(|| format!("no code in {to}").into());
                }
                path = to.strip_prefix(self.base).unwrap_or(&to).to_owned();
                res = self.get(&path).await?;
                continue;
            }
            let status = res.status();
            let page = res.text().await?;
            if status != StatusCode::OK {
                return fail(format!("{path} answered {status}: {page}"));
            }
            let form_path = path.split('?').next().unwrap_or_default().to_owned();
            let csrf = hidden(&page, "csrf")?;
            let interaction = hidden(&page, "interaction")?;
            let mut fields = vec![
                ("csrf", csrf.as_str()),
                ("interaction", interaction.as_str()),
            ];
            if form_path.ends_with("/signin/login") {
                fields.extend([
                    ("email", args.email.as_str()),
                    ("password", args.password.as_str()),
                ]);
            } else if form_path.ends_with("/signin/consent") {
                fields.push(("decision", "allow"));
            } else if form_path.ends_with("/signin/mfa-offer") {
                fields.push(("decision", "skip"));
            } else {
                return fail(format!("unexpected page {form_path}"));
            }
            res = self.post(&form_path, &fields).await?;
            path = form_path;
        }
        fail("the journey did not end in 10 steps")
    }
}

fn authorize_query(args: &Args, challenge: &str, prompt: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &args.client_id)
        .append_pair("redirect_uri", &args.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("state", &random_text(16))
        .append_pair("nonce", &random_text(16))
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(p) = prompt {
        query.append_pair("prompt", p);
    }
    query.finish()
}

fn hidden(page: &str, name: &str) -> Outcome<String> {
    let selector = Selector::parse(&format!("input[name=\"{name}\"]"))
        .map_err(|e| format!("selector: {e}"))?;
    Html::parse_document(page)
        .select(&selector)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name} field on the page").into())
}

fn random_text(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = random_text(64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// POST /token; the JSON answer, or an error naming what came back instead.
async fn token(
    http: &Client,
    args: &Args,
    auth: &str,
    form: &[(&str, &str)],
) -> Outcome<serde_json::Value> {
    let res = http
        .post(format!("{}/token", args.base))
        .header(AUTHORIZATION, auth)
        .form(form)
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await?;
    if status != StatusCode::OK {
        return fail(format!("/token answered {status}: {body}"));
    }
    Ok(serde_json::from_str(&body)?)
}

fn field(json: &serde_json::Value, name: &str) -> Outcome<String> {
    json.get(name)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name} in {json}").into())
}

/// Signs in (one password check) and redeems the code: the token response.
async fn signed_in_tokens(http: &Client, args: &Args) -> Outcome<serde_json::Value> {
    let p = pkce();
    let code = Browser::new(http, &args.base)
        .code(args, &p.challenge, None)
        .await?;
    redeem(http, args, &code, &p.verifier).await
}

async fn redeem(
    http: &Client,
    args: &Args,
    code: &str,
    verifier: &str,
) -> Outcome<serde_json::Value> {
    token(
        http,
        args,
        &basic(&args.client_id, &args.client_secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &args.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// One task per seed, each calling `step` again and again with what the last call gave, timing
/// each call that did something, until `step` answers `None`; returns how long all of them took.
async fn timed_tasks<S, F, Fut>(seeds: Vec<S>, timings: Arc<Timings>, step: F) -> Outcome<Duration>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Outcome<Option<S>>> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for seed in seeds {
        let (step, timings) = (step.clone(), timings.clone());
        tasks.push(tokio::spawn(async move {
            let mut state = seed;
            let mut mine = Vec::new();
            loop {
                let t = Instant::now();
                let Some(next) = step(state).await? else {
                    break;
                };
                mine.push(t.elapsed());
                state = next;
            }
            timings.add(mine);
            Outcome::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

/// Runs `one` in closed loops for `seconds`, one per seed; each loop starts from its seed.
async fn closed_loops<S, F, Fut>(
    args: &Args,
    seeds: Vec<S>,
    timings: Arc<Timings>,
    one: F,
) -> Outcome<Duration>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Outcome<S>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    timed_tasks(seeds, timings, move |state| {
        let one = one.clone();
        async move {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            one(state).await.map(Some)
        }
    })
    .await
}

async fn refresh(http: Client, args: Args) -> Outcome<()> {
    let mut seeds = Vec::new();
    for _ in 0..args.connections {
        seeds.push(field(
            &signed_in_tokens(&http, &args).await?,
            "refresh_token",
        )?);
    }
    let auth = basic(&args.client_id, &args.client_secret);
    let timings = Arc::new(Timings::default());
    let a = args.clone();
    let elapsed = closed_loops(&args, seeds, timings.clone(), move |rt: String| {
        let (http, a, auth) = (http.clone(), a.clone(), auth.clone());
        async move {
            let json = token(
                &http,
                &a,
                &auth,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await?;
            field(&json, "refresh_token")
        }
    })
    .await?;
    println!("{}", timings.line("refresh_token", elapsed));
    Ok(())
}

/// Runs `one` once on each of `items`, `connections` at a time, timing each; returns how long
/// all of them took.
async fn each_once<T, F, Fut>(
    connections: usize,
    items: Vec<T>,
    timings: Arc<Timings>,
    one: F,
) -> Outcome<Duration>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Outcome<()>> + Send,
{
    let items = Arc::new(Mutex::new(items));
    timed_tasks(vec![(); connections], timings, move |()| {
        let (items, one) = (items.clone(), one.clone());
        async move {
            // The guard is taken and dropped inside and_then: no lock is held during `one`.
            let Some(item) = items.lock().ok().and_then(|mut i| i.pop()) else {
                return Ok(None);
            };
            one(item).await.map(Some)
        }
    })
    .await
}

/// Codes are minted first (each task signs in once, then asks for codes with its session) for
/// half the time, then redeemed, so the figure is the redemption alone.
async fn redeem_codes(http: Client, args: Args) -> Outcome<()> {
    const MAX_CODES: usize = 20_000;
    let codes = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mint_until = Instant::now() + Duration::from_secs(args.seconds.div_ceil(2));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (http, args, codes) = (http.clone(), args.clone(), codes.clone());
        tasks.push(tokio::spawn(async move {
            let p = pkce();
            let mut browser = Browser::new(&http, &args.base);
            while Instant::now() < mint_until && codes.lock().map_or(0, |c| c.len()) < MAX_CODES {
                let code = browser.code(&args, &p.challenge, None).await?;
                if let Ok(mut c) = codes.lock() {
                    c.push((code, p.verifier.clone()));
                }
            }
            Outcome::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let codes = std::mem::take(&mut *codes.lock().map_err(|_| "poisoned")?);
    let minted = codes.len();
    let timings = Arc::new(Timings::default());
    let elapsed = each_once(
        args.connections,
        codes,
        timings.clone(),
        move |(code, verifier)| {
            let (http, args) = (http.clone(), args.clone());
            async move { redeem(&http, &args, &code, &verifier).await.map(drop) }
        },
    )
    .await?;
    eprintln!("  redeemed {minted} codes");
    println!("{}", timings.line("code_redemption", elapsed));
    Ok(())
}

/// Steady probes at `every` until `running` ends, each timed alone.
async fn probe<F, Fut>(
    every: Duration,
    running: Arc<AtomicBool>,
    timings: Arc<Timings>,
    one: F,
) -> Outcome<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Outcome<()>>,
{
    let mut tick = tokio::time::interval(every);
    let mut mine = Vec::new();
    while running.load(Ordering::SeqCst) {
        tick.tick().await;
        let t = Instant::now();
        one().await?;
        mine.push(t.elapsed());
    }
    timings.add(mine);
    Ok(())
}

async fn storm(http: Client, args: Args) -> Outcome<()> {
    let running = Arc::new(AtomicBool::new(true));
    let discovery = Arc::new(Timings::default());
    let cc = Arc::new(Timings::default());
    let probes = {
        let (http_d, base) = (http.clone(), args.base.clone());
        let d = tokio::spawn(probe(
            Duration::from_millis(10),
            running.clone(),
            discovery.clone(),
            move || {
                let (http, url) = (
                    http_d.clone(),
                    format!("{base}/.well-known/openid-configuration"),
                );
                async move {
                    let res = http.get(url).send().await?;
                    if res.status() != StatusCode::OK {
                        return fail(format!("discovery answered {}", res.status()));
                    }
                    res.bytes().await?;
                    Ok(())
                }
            },
        ));
        let (http, a) = (http.clone(), args.clone());
        let auth = basic(&args.probe_client_id, &args.probe_client_secret);
        let t = tokio::spawn(probe(
            Duration::from_millis(20),
            running.clone(),
            cc.clone(),
            move || {
                let (http, a, auth) = (http.clone(), a.clone(), auth.clone());
                async move {
                    token(&http, &a, &auth, &[("grant_type", "client_credentials")])
                        .await
                        .map(drop)
                }
            },
        ));
        [d, t]
    };
    let journeys = Arc::new(Timings::default());
    let a = args.clone();
    let http2 = http.clone();
    let elapsed = closed_loops(
        &args,
        vec![(); args.connections],
        journeys.clone(),
        move |()| {
            let (http, a) = (http2.clone(), a.clone());
            async move {
                // A fresh browser each time: authorize, login, consent (asked for), code, token.
                let p = pkce();
                let code = Browser::new(&http, &a.base)
                    .code(&a, &p.challenge, Some("consent"))
                    .await?;
                redeem(&http, &a, &code, &p.verifier).await?;
                Ok(())
            }
        },
    )
    .await;
    running.store(false, Ordering::SeqCst);
    for p in probes {
        p.await??;
    }
    let elapsed = elapsed?;
    println!("{}", journeys.line("signin_storm", elapsed));
    println!("{}", discovery.line("storm_discovery_probe", elapsed));
    println!("{}", cc.line("storm_token_probe", elapsed));
    Ok(())
}

/// The sessions are written with firmgate's own store call, a fresh token each, as a sign-in
/// leaves them: signing in 10,000 times through the pages would spend minutes hashing
/// passwords. The server's database is the one FIRMGATE_DATABASE_URL names (benches/run
/// exports it). Then each session asks for a code once, so the server has read, touched and
/// used every one of them.
async fn live_sessions(http: Client, args: Args) -> Outcome<()> {
    use firmgate::crypto::bearer::{random_id, BearerToken, TokenKind};
    use firmgate::store::sessions::NewSession;
    let url = std::env::var("FIRMGATE_DATABASE_URL")?;
    let store = firmgate::store::Store::connect(&url).await?;
    let person = store
        .person_by_email(&args.email)
        .await?
        .ok_or_else(|| format!("no person {}", args.email))?;
    let now = firmgate::clock::Clock::system().now();
    let mut tokens = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        let token = BearerToken::generate();
        store
            .insert_session(&NewSession {
                id: &random_id(),
                token_hash: &token.hash(TokenKind::Session),
                person_id: &person.id,
                auth_time: now,
                amr: "pwd",
                expires_at: now + 3600,
                user_agent: Some("bench_load"),
                ip: Some("127.0.0.1"),
                upstream: None,
            })
            .await?;
        tokens.push(token.expose().to_owned());
    }
    store.close().await;
    let cookie = firmgate::web::cookies::CookieName::Session.name(args.base.starts_with("https:"));
    let timings = Arc::new(Timings::default());
    let elapsed = each_once(args.connections, tokens, timings.clone(), move |token| {
        let (http, args) = (http.clone(), args.clone());
        async move {
            let mut browser = Browser::new(&http, &args.base);
            browser.cookies.insert(cookie.to_owned(), token);
            browser
                .code(&args, &pkce().challenge, Some("none"))
                .await
                .map(drop)
        }
    })
    .await?;
    println!("{}", timings.line("live_sessions", elapsed));
    Ok(())
}

/// Hashes per second at the OWASP cost firmgate uses, one thread per core, each hashing in
/// memory it keeps from one hash to the next, as firmgate's hashing threads do: the fastest
/// argon2 allows, so the storm's ratio counts none of the hashing's own cost as overhead.
fn argon2_ceiling(seconds: u64) -> Outcome<()> {
    use firmgate::crypto::password::HashCost;
    let cost = HashCost::OWASP;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || -> Result<usize, String> {
                let params =
                    argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
                        .map_err(|e| e.to_string())?;
                let mut memory = vec![argon2::Block::default(); params.block_count()];
                let hasher = argon2::Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params,
                );
                let mut n = 0;
                let mut out = [0u8; 32];
                while Instant::now() < until {
                    let salt: [u8; 16] = rand::random();
                    hasher
                        .hash_password_into_with_memory(
                            b"correct horse battery staple",
                            &salt,
                            &mut out,
                            &mut memory,
                        )
                        .map_err(|e| e.to_string())?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| "a hashing thread panicked")??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("argon2 {rate:.1} {:.2} 0", 1000.0 * cores as f64 / rate);
    Ok(())
}

fn main() -> Outcome<()> {
    let args = Args::parse();
    // The storm's browsers wait on the hashing most of the time: one thread drives them all
    // without handing work between threads (each hand-off is a switch taken from the hashing).
    // The loads that want both cores get both.
    let runtime = match args.scenario {
        Scenario::Storm => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Outcome<()> {
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.connections + 4)
        .timeout(Duration::from_secs(30))
        .build()?;
    match args.scenario {
        Scenario::Refresh => refresh(http, args).await,
        Scenario::Redeem => redeem_codes(http, args).await,
        Scenario::AccessToken => {
            println!(
                "{}",
                field(&signed_in_tokens(&http, &args).await?, "access_token")?
            );
            Ok(())
        }
        Scenario::Storm => storm(http, args).await,
        Scenario::Sessions => live_sessions(http, args).await,
        Scenario::Argon2 => argon2_ceiling(args.seconds.min(5)),
    }
}
