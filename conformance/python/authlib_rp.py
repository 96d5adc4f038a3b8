"""firmgate against Python's authlib as the relying party: the code flow with PKCE and nonce,
ID tokens verified by authlib.jose (signature from the JWKS, iss, aud, exp, nonce, at_hash) for
RS256, ES256 and EdDSA, UserInfo, refresh rotation, client_secret_post, introspection and
revocation. Prints PASS / FAIL per check; the conformance runner counts them."""

import json
import os
import sys
import time
import traceback
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

CFG = json.loads(os.environ["FG_CONFIG"])
ISSUER = CFG["issuer"]
REDIRECT = "https://rp.example/cb"
META = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()


class Forms(HTMLParser):
    """Collects the first form's action and inputs (the stdlib HTML parser does the parsing)."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}
        self.in_form = False
        self.h1 = ""
        self._h1 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.in_form = a.get("action"), True
        elif tag == "input" and self.in_form and a.get("name"):
            if a.get("type") == "radio" and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "h1":
            self._h1 = True

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        if tag == "h1":
            self._h1 = False

    def handle_data(self, data):
        if self._h1:
            self.h1 += data


def journey(url):
    """Follows firmgate's pages as a person: sign in, allow. Returns the URL back at the RP."""
    ua = requests.Session()
    method, data = "GET", None
    for _ in range(12):
        res = ua.request(method, url, data=data, allow_redirects=False, timeout=10)
        if res.is_redirect:
            nxt = urljoin(url, res.headers["location"])
            if not nxt.startswith(ISSUER):
                return nxt
            url, method, data = nxt, "GET", None
            continue
        page = Forms()
        page.feed(res.text)
        if "/signin/login" in url:
            data = dict(page.fields, email=CFG["email"], password=CFG["password"])
        elif "/signin/consent" in url:
            data = dict(page.fields, decision="allow")
        else:
            raise AssertionError(f"unexpected page {url}: {page.h1}")
        url, method = urljoin(url, page.action), "POST"
    raise AssertionError("the journey did not end")


def session(name, scope="openid profile email", auth="client_secret_basic"):
    c = CFG["clients"][name]
    return OAuth2Session(c["id"], c["secret"], scope=scope, redirect_uri=REDIRECT,
                         code_challenge_method="S256", token_endpoint_auth_method=auth)


def sign_in(name="basic", scope="openid profile email", auth="client_secret_basic"):
    s = session(name, scope, auth)
    verifier = os.urandom(40).hex()
    nonce = os.urandom(16).hex()
    url, state = s.create_authorization_url(META["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    back = journey(url)
    token = s.fetch_token(META["token_endpoint"], authorization_response=back, code_verifier=verifier)
    jwks = JsonWebKey.import_key_set(requests.get(META["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], jwks, claims_cls=CodeIDToken,
                        claims_options={"iss": {"essential": True, "value": ISSUER}},
                        claims_params={"nonce": nonce, "client_id": CFG["clients"][name]["id"],
                                       "access_token": token["access_token"]})
    claims.validate(leeway=5)
    assert claims["aud"] == CFG["clients"][name]["id"]
    return s, token, claims


def check_code_flow_rs256():
    _, token, claims = sign_in()
    assert claims.header["alg"] == "RS256"
    assert "at_hash" in claims


def check_code_flow_es256():
    _, _, claims = sign_in("es256")
    assert claims.header["alg"] == "ES256"


def check_code_flow_eddsa():
    _, _, claims = sign_in("eddsa")
    assert claims.header["alg"] == "EdDSA"


def check_userinfo():
    s, _, claims = sign_in()
    info = s.get(META["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"], info
    assert info["email"] == CFG["email"]


def check_client_secret_post():
    sign_in("post", auth="client_secret_post")


def check_refresh_rotation():
    s, token, claims = sign_in(scope="openid offline_access")
    first = token["refresh_token"]
    new = s.refresh_token(META["token_endpoint"], refresh_token=first)
    assert new["refresh_token"] != first
    reuse = requests.post(META["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": first},
                          auth=(CFG["clients"]["basic"]["id"], CFG["clients"]["basic"]["secret"]), timeout=10)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant", reuse.text


def check_introspect_and_revoke():
    s, token, _ = sign_in()
    c = CFG["clients"]["basic"]
    intro = requests.post(META["introspection_endpoint"], data={"token": token["access_token"]}, auth=(c["id"], c["secret"]), timeout=10).json()
    assert intro["active"] is True, intro
    s.revoke_token(META["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
    intro = requests.post(META["introspection_endpoint"], data={"token": token["access_token"]}, auth=(c["id"], c["secret"]), timeout=10).json()
    assert intro == {"active": False}, intro


CHECKS = [
    ("authlib-code-flow-pkce-rs256", check_code_flow_rs256),
    ("authlib-code-flow-pkce-es256", check_code_flow_es256),
    ("authlib-code-flow-pkce-eddsa", check_code_flow_eddsa),
    ("authlib-userinfo", check_userinfo),
    ("authlib-client-secret-post", check_client_secret_post),
    ("authlib-refresh-rotation-and-reuse", check_refresh_rotation),
    ("authlib-introspection-and-revocation", check_introspect_and_revoke),
]


def main():
    passed = failed = 0
    for name, fn in CHECKS:
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"PASS    {name} ({int((time.time() - t0) * 1000)} ms)")
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL    {name}: {e!r}")
            traceback.print_exc(file=sys.stderr)
    print(f"authlib: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
