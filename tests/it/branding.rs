//! A firm's display name and logo on its sign-in page, served by firmgate itself.
//! [Issue 7 "Looks": firms can set a display name and logo shown on their sign-in pages]

use firmgate::admin::branding::{set_branding, BrandingChange};
use firmgate::admin::clients::ClientSpec;
use firmgate::admin::AdminError;
use firmgate::audit::Actor;
use reqwest::StatusCode;

use crate::support::*;

/// A 1x1 transparent PNG.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

async fn login_html(server: &TestServer, client_id: &str) -> String {
    let browser = Browser::new(server);
    let res = browser
        .follow(browser.authorize(&AuthRequest::new(client_id)).await)
        .await;
    assert!(res.url().path().ends_with("/signin/login"));
    res.text().await.unwrap()
}

#[tokio::test]
async fn the_firms_name_and_logo_head_its_sign_in_page() {
    let server = TestServer::start().await;
    let firm_id = server.firm("Example LLP").await;
    let firm_client = ClientSpec {
        firm_id: Some(firm_id.clone()),
        ..server.spec()
    };
    let (client_id, _) = server.client(firm_client).await;
    // No branding yet: the firm's own name.
    let html = login_html(&server, &client_id).await;
    assert_eq!(text_of(&html, "p.firm-brand span"), "Example LLP");
    assert!(!html.contains("firm-logo"));

    // An SVG (script can live in one) is refused and nothing changes.
    let svg = BrandingChange {
        display_name: Some("Renamed".into()),
        logo: Some(Some(b"<svg onload=alert(1)>".to_vec())),
    };
    let err = set_branding(&server.state, &firm_id, &svg, &Actor::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Invalid(_)));
    let firm = server.state.store.firm(&firm_id).await.unwrap().unwrap();
    assert_eq!(
        (firm.display_name.as_str(), firm.logo_type.as_str()),
        ("", "")
    );

    let good = BrandingChange {
        display_name: Some("Smith & Jones".into()),
        logo: Some(Some(TINY_PNG.to_vec())),
    };
    set_branding(&server.state, &firm_id, &good, &Actor::default())
        .await
        .unwrap();
    let html = login_html(&server, &client_id).await;
    assert_eq!(text_of(&html, "p.firm-brand span"), "Smith & Jones");
    let src = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("img.firm-logo").unwrap())
        .next()
        .and_then(|e| e.value().attr("src").map(str::to_owned))
        .expect("the logo");
    assert_eq!(src, format!("/branding/{}/logo", firm_id));
    let logo = server
        .backchannel()
        .get(server.url(&src))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(logo.bytes().await.unwrap().as_ref(), TINY_PNG);

    // A client that serves every firm does not know the firm yet: firmgate's own name.
    let (other, _) = server.client(server.spec()).await;
    let html = login_html(&server, &other).await;
    assert_eq!(text_of(&html, "p.brand"), "firmgate");

    let audit = server.audit_kinds().await;
    for setting in ["display_name", "logo"] {
        assert!(
            audit
                .iter()
                .any(|(k, _, d)| k == "policy_changed" && d.as_deref().unwrap().contains(setting)),
            "{setting} audited"
        );
    }
    let remove = BrandingChange {
        display_name: None,
        logo: Some(None),
    };
    set_branding(&server.state, &firm_id, &remove, &Actor::default())
        .await
        .unwrap();
    let gone = server
        .backchannel()
        .get(server.url(&src))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let unknown = server
        .backchannel()
        .get(server.url("/branding/no-such-firm/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
