// Sign in with Microsoft and Google, end to end: firmgate's pages, an independent OpenID
// provider (node's oidc-provider, see upstream.mjs) standing in for Entra ID and Google, and the
// relying party's code redemption. One line per case, named after the SECURITY.md case it checks.
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import { parse } from 'node-html-parser'
import { UserAgent } from './agent.mjs'
import { startUpstream, TENANT_FIRM } from './upstream.mjs'

const cfg = JSON.parse(process.env.FG_FED_CONFIG)
const issuer = cfg.issuer
const RP = 'https://rp.example/cb'
let passed = 0
let failed = 0

function cli (...args) {
  return JSON.parse(execFileSync(cfg.bin, [...args, '--json'], { cwd: cfg.work, env: { ...process.env, ...cfg.env } }).toString())
}
const policy = (...args) => cli('firm', 'policy', '--firm', cfg.firm, ...args)

function assert (cond, message) { if (!cond) throw new Error(message) }

async function check (name, fn) {
  try {
    await fn()
    passed++
    console.log(`PASS ${name}`)
  } catch (e) {
    failed++
    console.log(`FAIL ${name}: ${e.message}`)
  }
}

// Follows redirects across firmgate and the upstream; stops at the relying party, at a page,
// or (with `stopAt`) before requesting a URL whose path starts with it.
async function walk (agent, url, init, stopAt) {
  let res = await agent.request(url, init)
  for (let i = 0; i < 25; i++) {
    const loc = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && loc) {
      const next = new URL(loc, url).toString()
      if (next.startsWith(RP)) return { kind: 'rp', url: new URL(next) }
      if (stopAt && new URL(next).pathname.startsWith(stopAt)) return { kind: 'stopped', url: next }
      url = next
      res = await agent.request(url)
      continue
    }
        const html = await res.text()
    const doc = parse(html)
    // The upstream's self-submitting forms (oidc-provider ends its own session before signing
    // in another account), submitted as a browser running its script would.
    const auto = !url.startsWith(issuer) && html.includes('document.forms[0].submit()') && doc.querySelector('form')
    if (auto) {
      const fields = Object.fromEntries(auto.querySelectorAll('input').map((i) => [i.getAttribute('name'), i.getAttribute('value') ?? '']))
      url = new URL(auto.getAttribute('action'), url).toString()
      res = await agent.request(url, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
      continue
    }
    return { kind: 'page', url, status: res.status, html, doc, title: doc.querySelector('h1')?.text.trim() }
  }
  throw new Error('too many redirects')
}

async function post (agent, page, selector, values = {}, stopAt) {
  const form = page.doc.querySelector(selector)
  assert(form, `no form ${selector} on ${page.url} (${page.title})`)
  const fields = {}
  for (const input of form.querySelectorAll('input')) {
    const name = input.getAttribute('name')
    if (name) fields[name] = input.getAttribute('value') ?? ''
  }
  Object.assign(fields, values)
  const action = new URL(form.getAttribute('action'), page.url).toString()
  return walk(agent, action, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }, stopAt)
}

function pkce () {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

function authorizeUrl (p, extra = {}) {
  const u = new URL(`${issuer}/authorize`)
  const params = { client_id: cfg.client.id, redirect_uri: RP, response_type: 'code', scope: 'openid email', state: randomBytes(8).toString('hex'), nonce: randomBytes(8).toString('hex'), code_challenge: p.challenge, code_challenge_method: 'S256', ...extra }
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  return u.toString()
}

// To the upstream's account page through "Sign in with <provider>".
async function toUpstream (agent, provider, p) {
  const login = await walk(agent, authorizeUrl(p))
  assert(login.kind === 'page' && new URL(login.url).pathname === '/signin/login', `expected the login page, got ${login.kind} ${login.url}`)
  const button = login.doc.querySelector(`form[action="/sso/${provider}/start"] button`)
  assert(button && button.text.includes('Sign in with'), `no "Sign in with" button for ${provider}`)
  const picker = await post(agent, login, `form[action="/sso/${provider}/start"]`)
  assert(picker.kind === 'page' && picker.doc.querySelector('select[name=account]'), `expected the upstream's account page, got ${picker.kind} ${picker.title}`)
  return picker
}

// A whole SSO sign-in picking `account`; returns where it ended (and the PKCE pair).
async function ssoSignIn (agent, provider, account, stopAt) {
  const p = pkce()
  const picker = await toUpstream(agent, provider, p)
  const end = await post(agent, picker, 'form', { account }, stopAt)
  return { end, p }
}

async function redeem (rp, p) {
  const code = rp.url.searchParams.get('code')
  assert(code, `no code at the relying party: ${rp.url}`)
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(cfg.client.id)}:${encodeURIComponent(cfg.client.secret)}`).toString('base64') },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP, code_verifier: p.verifier }).toString(),
  })
  const body = await res.json()
  assert(res.status === 200 && body.id_token, `token endpoint: ${res.status} ${JSON.stringify(body)}`)
  const claims = JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString())
  const info = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${body.access_token}` } })
  assert(info.status === 200, `userinfo: ${info.status}`)
  return { ...claims, userinfo: await info.json() }
}

function refused (end, status, words) {
  assert(end.kind === 'page', `expected a refusal page, got ${end.kind} ${end.url}`)
  assert(end.status === status, `expected ${status}, got ${end.status} (${end.title})`)
  assert(end.html.includes(words), `the page does not say "${words}": ${end.title}`)
}

async function signedIn (agent) {
  const res = await agent.request(`${issuer}/account`)
  return res.status === 200
}

async function passwordSub (email, password) {
  const agent = new UserAgent(issuer)
  const p = pkce()
  const end = await agent.signIn(authorizeUrl(p), email, password)
  assert(end.kind === 'rp', `password sign-in of ${email} ended at ${end.url} (${end.title})`)
  return (await redeem({ url: new URL(end.url) }, p)).sub
}

function latestResetLink (email) {
  const dir = cfg.outbox
  assert(existsSync(dir), 'no outbox')
  const files = readdirSync(dir).map(f => `${dir}/${f}`).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  for (const f of files) {
    const text = readFileSync(f, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=')
    if (!text.includes(email)) continue
    const m = text.match(/https?:\/\/[^\s"<>]*\/signin\/reset\?token=[A-Za-z0-9_-]{43}/)
    if (m) return m[0]
  }
  throw new Error(`no reset link for ${email}`)
}

const upstream = await startUpstream({ port: cfg.upstreamPort, firmgate: issuer, microsoft: cfg.microsoft, google: cfg.google })
const ann = { email: 'ann@lawfirm.example', password: cfg.password }
const annSub = await passwordSub(ann.email, ann.password)

await check('federation-92-no-link-to-a-local-account-with-an-unproven-address', async () => {
  const agent = new UserAgent(issuer)
  const { end } = await ssoSignIn(agent, 'google', 'g-ann')
  refused(end, 403, 'not linked yet')
  assert(!(await signedIn(agent)), 'a session was created')
})

// Ann proves her address: a reset link e-mailed by an administrator.
cli('user', 'send-reset', '--firm', cfg.firm, '--email', ann.email)
await new Promise(resolve => setTimeout(resolve, 500))
{
  const agent = new UserAgent(issuer)
  const page = await walk(agent, latestResetLink(ann.email))
  ann.password = 'a brand new passphrase for ann'
  const done = await post(agent, page, 'form', { new_password: ann.password, confirm_password: ann.password })
  assert(done.kind === 'page' && done.status === 200, `reset failed: ${done.status} ${done.title}`)
}

await check('federation-94-google-email-verified-false-is-refused', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'google', 'g-ann-unverified')
  refused(end, 403, 'not linked yet')
})
await check('federation-94-google-without-hd-is-refused', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'google', 'g-ann-no-hd')
  refused(end, 403, 'not linked yet')
})
await check('federation-94-google-other-hd-is-refused', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'google', 'g-ann-other-hd')
  refused(end, 403, 'not linked yet')
})
await check('federation-92-google-verified-email-links-and-signs-in', async () => {
  const agent = new UserAgent(issuer)
  const { end, p } = await ssoSignIn(agent, 'google', 'g-ann')
  assert(end.kind === 'rp', `ended at ${end.url} (${end.title})`)
  const claims = await redeem(end, p)
  assert(claims.sub === annSub, 'not signed in as Ann')
  assert(claims.amr.includes('fed'), `amr ${claims.amr}`)
  assert(claims.acr === 'urn:firmgate:acr:password', `acr ${claims.acr}`)
})
await check('federation-91-the-link-is-by-subject-and-reused', async () => {
  const { end, p } = await ssoSignIn(new UserAgent(issuer), 'google', 'g-ann')
  assert(end.kind === 'rp', `ended at ${end.url} (${end.title})`)
  assert((await redeem(end, p)).sub === annSub, 'not Ann')
})
await check('federation-91-nOAuth-same-email-other-tenant-unverified', async () => {
  const agent = new UserAgent(issuer)
  const { end } = await ssoSignIn(agent, 'microsoft', 'ms-mallory')
  refused(end, 403, 'not linked yet')
  assert(!(await signedIn(agent)), 'a session was created')
})
await check('federation-93-verified-email-from-an-untrusted-tenant', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-mallory-edov')
  refused(end, 403, 'not linked yet')
})
await check('federation-93-personal-microsoft-account', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-personal')
  refused(end, 403, 'not linked yet')
})
await check('federation-92-microsoft-xms_edov-links-by-tid-and-oid', async () => {
  const { end, p } = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-ann')
  assert(end.kind === 'rp', `ended at ${end.url} (${end.title})`)
  const claims = await redeem(end, p)
  assert(claims.sub === annSub, 'not Ann')
  assert(claims.amr.includes('fed') && claims.amr.includes('pwd'), `amr ${claims.amr}`)
})
await check('federation-92-unverified-microsoft-email-outside-the-firm-domain', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-carol-unverified')
  refused(end, 403, 'not linked yet')
})
await check('federation-just-in-time-membership-only-when-the-firm-allows', async () => {
  let r = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-bob')
  refused(r.end, 403, 'not linked yet')
  policy('--sso-join', 'on')
    const bobAgent = new UserAgent(issuer)
  r = await ssoSignIn(bobAgent, 'microsoft', 'ms-bob')
  assert(r.end.kind === 'rp', `ended at ${r.end.url} (${r.end.title})`)
  // My Profile works for someone who only ever signed in with Microsoft.
  const profile = await walk(bobAgent, `${issuer}/account`)
  assert(profile.kind === 'page' && profile.status === 200 && profile.doc.querySelector('#password-none'), `Bob's My Profile: ${profile.status} ${profile.title}`)
  assert(profile.doc.querySelector('#sso-links')?.text.includes('bob@lawfirm.example'), 'the linked account is listed')
  const claims = await redeem(r.end, r.p)
  assert(claims.sub && claims.sub !== annSub, 'Bob is a new person')
  assert(claims.userinfo.email === 'bob@lawfirm.example', `email ${claims.userinfo.email}`)
  policy('--sso-join', 'off')
})
for (const forgery of ['forge-iss-other-tenant', 'forge-alg-none', 'forge-hs256', 'forge-wrong-aud', 'forge-expired', 'forge-wrong-nonce', 'forge-unknown-key', 'forge-no-oid']) {
  await check(`federation-95-${forgery}`, async () => {
    const agent = new UserAgent(issuer)
    const { end } = await ssoSignIn(agent, 'microsoft', forgery)
    refused(end, 403, 'could not verify')
    assert(!(await signedIn(agent)), 'a session was created')
  })
}
await check('federation-upstream-error-is-shown', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'deny')
  refused(end, 403, 'access_denied')
})
await check('federation-95-replayed-state', async () => {
  const agent = new UserAgent(issuer)
  const { end } = await ssoSignIn(agent, 'microsoft', 'ms-ann', '/sso/microsoft/callback')
  assert(end.kind === 'stopped', `expected to stop at the callback, got ${end.kind}`)
  const first = await walk(agent, end.url)
  assert(first.kind === 'rp', `first use ended at ${first.url} (${first.title})`)
  const again = await walk(agent, end.url)
  refused(again, 400, 'already used')
})
await check('federation-96-callback-in-another-browser', async () => {
  const { end } = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-ann', '/sso/microsoft/callback')
  const thief = new UserAgent(issuer)
  const stolen = await walk(thief, end.url)
  refused(stolen, 400, 'another browser')
  assert(!(await signedIn(thief)), 'the other browser got a session')
})
await check('federation-95-missing-state', async () => {
  const r = await walk(new UserAgent(issuer), `${issuer}/sso/microsoft/callback?code=abc`)
  refused(r, 400, 'does not belong to a sign-in')
})
await check('federation-97-mix-up-code-delivered-to-the-other-provider', async () => {
  const agent = new UserAgent(issuer)
  const { end } = await ssoSignIn(agent, 'microsoft', 'ms-ann', '/sso/microsoft/callback')
  const swapped = end.url.replace('/sso/microsoft/callback', '/sso/google/callback')
  refused(await walk(agent, swapped), 400, 'started with another provider')
})
await check('federation-97-iss-parameter-of-another-issuer', async () => {
  const agent = new UserAgent(issuer)
  const { end } = await ssoSignIn(agent, 'google', 'g-ann', '/sso/google/callback')
  const u = new URL(end.url)
  assert(u.searchParams.get('iss') === upstream.googleDiscovery, `the upstream sent iss ${u.searchParams.get('iss')}`)
  u.searchParams.set('iss', `${upstream.base}/${TENANT_FIRM}/v2.0`)
  refused(await walk(agent, u.toString()), 400, 'named another issuer')
})
await check('federation-99-enforced-sso-refuses-the-password-and-takes-google', async () => {
  policy('--require-sso', 'google')
  try {
    const agent = new UserAgent(issuer)
    const login = await walk(agent, authorizeUrl(pkce()))
    const end = await post(agent, login, 'form[action="/signin/login"]', { email: ann.email, password: ann.password })
    assert(end.kind === 'page' && end.html.includes('requires you to sign in with Google'), `password sign-in: ${end.kind} ${end.title}`)
    assert(!(await signedIn(agent)), 'the refused password created a session')
    const r = await ssoSignIn(new UserAgent(issuer), 'google', 'g-ann')
    assert(r.end.kind === 'rp', `Google sign-in ended at ${r.end.url} (${r.end.title})`)
    // A Microsoft sign-in does not satisfy a Google-only rule.
    const m = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-ann')
    assert(m.end.kind === 'page' && new URL(m.end.url).pathname === '/signin/sso-required', `Microsoft sign-in ended at ${m.end.url} (${m.end.title})`)
  } finally {
    policy('--require-sso', 'off')
  }
})
await check('federation-98-mfa-required-after-sso-unless-the-firm-trusts-the-upstream', async () => {
  policy('--mfa', 'required')
  try {
    const r = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-bob')
    assert(r.end.kind === 'page' && new URL(r.end.url).pathname === '/signin/mfa-setup', `without trust: ended at ${r.end.url} (${r.end.title})`)
    policy('--trust-upstream-mfa', 'microsoft')
    const t = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-bob')
    assert(t.end.kind === 'rp', `with trust: ended at ${t.end.url} (${t.end.title})`)
    const claims = await redeem(t.end, t.p)
    assert(claims.acr === 'urn:firmgate:acr:mfa', `acr ${claims.acr}`)
    assert(['fed', 'mfa', 'pwd'].every(m => claims.amr.includes(m)), `amr ${claims.amr}`)
    // Ann's Microsoft account asserts no MFA: trust does not invent it.
    const a = await ssoSignIn(new UserAgent(issuer), 'microsoft', 'ms-ann')
    assert(a.end.kind === 'page' && new URL(a.end.url).pathname === '/signin/mfa-setup', `Ann without upstream MFA: ended at ${a.end.url}`)
  } finally {
    policy('--mfa', 'off', '--trust-upstream-mfa', 'none')
  }
})
await check('federation-96-link-and-unlink-from-my-profile', async () => {
  const dave = { email: 'dave@lawfirm.example', password: cfg.password }
  const daveSub = await passwordSub(dave.email, dave.password)
  let r = await ssoSignIn(new UserAgent(issuer), 'google', 'g-dave')
  refused(r.end, 403, 'not linked yet')
  const agent = new UserAgent(issuer)
  const profile = await agent.signIn(`${issuer}/account`, dave.email, dave.password)
  assert(profile.kind === 'page' && profile.doc.querySelector('#sso-heading'), `My Profile: ${profile.title}`)
  const picker = await post(agent, profile, '#link-google')
  const back = await post(agent, picker, 'form', { account: 'g-dave' })
  assert(back.kind === 'page' && back.html.includes('The account was linked'), `after linking: ${back.kind} ${back.status} ${back.url} ${back.html?.slice(0, 300)}`)
  r = await ssoSignIn(new UserAgent(issuer), 'google', 'g-dave')
  assert(r.end.kind === 'rp' && (await redeem(r.end, r.p)).sub === daveSub, 'Google does not sign Dave in')
  // Linking the same Google account again is refused.
  const again = await post(agent, await walk(agent, `${issuer}/account`), '#link-google')
  // Google remembers Dave now, so it may answer without showing its account page again.
  const answer = again.doc?.querySelector('select[name=account]') ? await post(agent, again, 'form', { account: 'g-dave' }) : again
    refused(answer, 400, 'already linked')
  // Ann's Microsoft account is hers: Dave cannot link it to himself.
  const msPicker = await post(agent, await walk(agent, `${issuer}/account`), '#link-microsoft')
  refused(await post(agent, msPicker, 'form', { account: 'ms-ann' }), 403, 'linked to another firmgate account')
  policy('--require-sso', 'google')
  try {
    const page = await walk(agent, `${issuer}/account`)
    refused(await post(agent, page, 'form[action="/account/sso/unlink"]'), 403, 'only account it accepts')
  } finally {
    policy('--require-sso', 'off')
  }
  const page = await walk(agent, `${issuer}/account`)
  const done = await post(agent, page, 'form[action="/account/sso/unlink"]')
  assert(done.kind === 'page' && done.html.includes('The account was unlinked'), `unlink: ${done.title}`)
  r = await ssoSignIn(new UserAgent(issuer), 'google', 'g-dave')
  refused(r.end, 403, 'not linked yet')
})

await check('federation-96-a-link-finished-after-signing-out-is-refused', async () => {
  const agent = new UserAgent(issuer)
  const profile = await agent.signIn(`${issuer}/account`, 'dave@lawfirm.example', cfg.password)
  const picker = await post(agent, profile, '#link-google')
  // Signed out of firmgate while at Google: the link proof must not attach to anyone.
  const confirm = await walk(agent, `${issuer}/logout`)
  await post(agent, confirm, 'form')
  const back = picker.doc.querySelector('select[name=account]') ? await post(agent, picker, 'form', { account: 'g-dave' }) : picker
  refused(back, 403, 'no longer signed in')
  const r = await ssoSignIn(new UserAgent(issuer), 'google', 'g-dave')
  refused(r.end, 403, 'not linked yet')
})

upstream.server.close()
console.log(`federation: ${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
