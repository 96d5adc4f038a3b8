//! OpenID Connect Back-Channel Logout 1.0: a relying party's `backchannel_logout_uri` (a real
//! HTTP listener here) receives a logout token when the session it signed in to ends; failed
//! deliveries are retried. [SECURITY case 65; Back-Channel Logout 1.0 §2.4-§2.8;
//! oidcc-backchannel-rp-initiated-logout]

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use firmgate::admin::clients::ClientSpec;
use serde_json::Value;

use crate::support::*;

/// A relying party's back-channel endpoint: records each `logout_token`, answering 500 to the
/// first `fail_first` requests.
#[derive(Clone)]
struct Receiver {
    tokens: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<u32>>,
    fail_first: u32,
}

async fn receive(State(r): State<Receiver>, body: String) -> AxumStatus {
    let n = {
        let mut n = r.requests.lock().unwrap();
        *n += 1;
        *n
    };
    if n <= r.fail_first {
        return AxumStatus::INTERNAL_SERVER_ERROR;
    }
    let token = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    r.tokens.lock().unwrap().push(token);
    AxumStatus::OK
}

async fn start_receiver(fail_first: u32) -> (String, Receiver) {
    let r = Receiver {
        tokens: Arc::default(),
        requests: Arc::default(),
        fail_first,
    };
    let app = axum::Router::new()
        .route("/bc", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bc", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, r)
}

/// How long a test waits for deliveries, polling: the first one also builds the HTTP client
/// (it loads the system's CA certificates), which takes seconds on a loaded 2-core machine
/// running the whole suite at once.
const DELIVERY_WAIT_POLLS: usize = 200;

async fn wait_for_tokens(r: &Receiver, n: usize) -> Vec<String> {
    for _ in 0..DELIVERY_WAIT_POLLS {
        let got = r.tokens.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    r.tokens.lock().unwrap().clone()
}

/// Waits until `n` requests reached the receiver, answered or refused; returns how many did.
async fn wait_for_requests(r: &Receiver, n: u32) -> u32 {
    for _ in 0..DELIVERY_WAIT_POLLS {
        if *r.requests.lock().unwrap() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    *r.requests.lock().unwrap()
}

async fn signed_in_with_backchannel(server: &TestServer, uri: &str) -> (Fixture, Browser, String) {
    let fx = server
        .fixture_with(ClientSpec {
            backchannel_logout_uri: Some(uri.to_owned()),
            ..server.spec()
        })
        .await;
    let browser = Browser::new(server);
    let t = signed_in_tokens(server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    (fx, browser, t["id_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn sign_out_sends_a_logout_token_to_the_relying_party() {
    let (uri, receiver) = start_receiver(0).await;
    let server = TestServer::start().await;
    let discovery: Value = server
        .backchannel()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let (fx, browser, id_token) = signed_in_with_backchannel(&server, &uri).await;
    let id = claims(&id_token);
    let res = browser
        .get(&format!(
            "/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye"
        ))
        .await;
    assert_eq!(location(&res), "https://rp.example/bye");
    let tokens = wait_for_tokens(&receiver, 1).await;
    assert_eq!(tokens.len(), 1, "one logout token");
    let token = &tokens[0];
    // §2.4: explicitly typed, signed like the client's ID tokens, verifiable with the JWKS.
    assert_eq!(header(token)["typ"], "logout+jwt");
    assert_eq!(header(token)["alg"], header(&id_token)["alg"]);
    firmgate::crypto::jwt::verify(&server.state.keys.current(), token, server.clock.now())
        .expect("signed with a published key");
    let c = claims(token);
    assert_eq!(c["iss"], server.base.as_str());
    assert_eq!(c["aud"], fx.client_id.as_str());
    assert_eq!(c["sub"], id["sub"]);
    assert_eq!(c["sid"], id["sid"], "the sid of the ID token");
    assert!(
        c.get("nonce").is_none(),
        "§2.4: a logout token never has a nonce"
    );
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    assert_eq!(
        c["events"],
        serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
    );
    // The delivery is audited once the relying party has answered, which may be a moment
    // after the token arrived here.
    let mut audited = false;
    for _ in 0..100 {
        audited = server
            .audit_kinds()
            .await
            .iter()
            .any(|(k, o, _)| k == "backchannel_logout" && o == "success");
        if audited {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(audited, "the delivery was not audited");
    // Nothing more is sent for the same session.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(receiver.tokens.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn sign_out_everywhere_and_failed_deliveries_are_retried() {
    let (uri, receiver) = start_receiver(1).await;
    let server = TestServer::start().await;
    let (fx, browser, id_token) = signed_in_with_backchannel(&server, &uri).await;
    // A client without a back-channel URI, signed in to in the same session, is not called.
    let (quiet, _) = server.client(server.spec()).await;
    let back = browser.sign_in(&AuthRequest::new(&quiet), &fx.email).await;
    assert!(query_param(&back, "code").is_some(), "{back}");
    // My Profile "Sign out everywhere" ends the session: the first delivery fails (500).
    server
        .state
        .store
        .end_sessions_of(
            claims(&id_token)["sub"].as_str().unwrap(),
            None,
            server.clock.now(),
            "test",
        )
        .await
        .unwrap();
    server.state.backchannel.notify_one();
    assert_eq!(wait_for_requests(&receiver, 1).await, 1);
    assert!(receiver.tokens.lock().unwrap().is_empty());
    // The retry waits 10 s (on firmgate's clock), then delivers.
    server.clock.advance(11);
    server.state.backchannel.notify_one();
    let tokens = wait_for_tokens(&receiver, 1).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(claims(&tokens[0])["sid"], claims(&id_token)["sid"]);
    assert_eq!(claims(&tokens[0])["aud"], fx.client_id.as_str());
    let audit = server.audit_kinds().await;
    let row = audit
        .iter()
        .find(|(k, _, _)| k == "backchannel_logout")
        .expect("audited");
    assert_eq!(row.1, "success");
    assert!(
        row.2.as_deref().unwrap().contains("\"attempts\":2"),
        "{row:?}"
    );
}

#[tokio::test]
async fn a_back_channel_logout_uri_must_be_https_or_loopback() {
    let server = TestServer::start().await;
    for bad in [
        "http://rp.example/bc",
        "https://rp.example/bc#frag",
        "not a uri",
    ] {
        let spec = ClientSpec {
            backchannel_logout_uri: Some(bad.into()),
            ..server.spec()
        };
        assert!(
            firmgate::admin::clients::create_client(&server.state, &spec)
                .await
                .is_err(),
            "{bad}"
        );
    }
}
