// Stand-ins for Microsoft Entra ID and Google, built on node's oidc-provider (OpenID certified),
// so firmgate's federation runs against an independent OpenID provider on loopback.
//
// - Entra ID, multi-tenant: /organizations/v2.0 publishes the issuer template
//   http://HOST/{tenantid}/v2.0 and one key set; each tenant is its own oidc-provider instance
//   at /<tid>/v2.0 (issuer = the template with its tid), all signing with that key set. ID tokens
//   carry tid, oid, xms_edov, preferred_username. The shared /authorize shows an account picker
//   (like Microsoft's) and hands over to the account's tenant; the shared /token routes the code
//   to the tenant that issued it.
// - Google: one instance at /google with hd and email_verified.
// - Forged answers for the refusal cases (wrong iss for the tid, alg none, HS256 keyed with the
//   client secret, wrong aud, expired, wrong nonce, unknown key, no oid): picked on the Entra
//   account picker, answered by the shared /token with a token built here (jose).
import http from 'node:http'
import { Provider } from 'oidc-provider'
import * as jose from 'jose'

export const TENANT_FIRM = '11111111-2222-3333-4444-555555555555'
export const TENANT_OTHER = '99999999-8888-7777-6666-555555555555'
export const TENANT_PERSONAL = '9188040d-6c67-4c5b-b112-36a304b66dad'

// Accounts people pick on the upstream's page. `amr` is what the upstream asserts.
export const ACCOUNTS = {
  // Entra ID
  'ms-ann': { tenant: TENANT_FIRM, claims: { oid: 'oid-ann', email: 'ann@lawfirm.example', xms_edov: true, name: 'Ann Perkins', preferred_username: 'ann@lawfirm.example' }, amr: ['pwd'] },
  'ms-bob': { tenant: TENANT_FIRM, claims: { oid: 'oid-bob', email: 'bob@lawfirm.example', name: 'Bob Newhart', preferred_username: 'bob@lawfirm.example' }, amr: ['pwd', 'mfa'] },
  'ms-mallory': { tenant: TENANT_OTHER, claims: { oid: 'oid-mallory', email: 'ann@lawfirm.example', name: 'Mallory', preferred_username: 'ann@lawfirm.example' }, amr: ['pwd'] },
  'ms-mallory-edov': { tenant: TENANT_OTHER, claims: { oid: 'oid-mallory2', email: 'ann@lawfirm.example', xms_edov: true, name: 'Mallory', preferred_username: 'ann@lawfirm.example' }, amr: ['pwd'] },
  'ms-personal': { tenant: TENANT_PERSONAL, claims: { oid: 'oid-personal', email: 'ann@outlook.example', xms_edov: true, name: 'Ann at home' }, amr: ['pwd'] },
    // The demo person of `firmgate serve --demo` (the browser suite links this account).
  'ms-demo': { tenant: TENANT_FIRM, claims: { oid: 'oid-demo', email: 'demo@firmgate.test', xms_edov: true, name: 'Demo Person', preferred_username: 'demo@firmgate.test' }, amr: ['pwd'] },
  'ms-carol-unverified': { tenant: TENANT_FIRM, claims: { oid: 'oid-carol', email: 'carol@other.example', name: 'Carol' }, amr: ['pwd'] },
  // Google
  'g-ann': { claims: { email: 'ann@lawfirm.example', email_verified: true, hd: 'lawfirm.example', name: 'Ann Perkins' } },
  'g-ann-unverified': { claims: { email: 'ann@lawfirm.example', email_verified: false, hd: 'lawfirm.example', name: 'Ann Perkins' } },
  'g-ann-no-hd': { claims: { email: 'ann@lawfirm.example', email_verified: true, name: 'Ann Perkins' } },
  'g-ann-other-hd': { claims: { email: 'ann@lawfirm.example', email_verified: true, hd: 'evil.example', name: 'Ann Perkins' } },
  'g-dave': { claims: { email: 'dave@lawfirm.example', email_verified: true, hd: 'lawfirm.example', name: 'Dave' } },
}

// Forged Entra answers (signed with the tenant key set unless the case is about the key).
export const FORGERIES = ['forge-iss-other-tenant', 'forge-alg-none', 'forge-hs256', 'forge-wrong-aud', 'forge-expired', 'forge-wrong-nonce', 'forge-unknown-key', 'forge-no-oid', 'deny']

function page (title, body) {
    return `<!doctype html><html lang="en"><head><title>${title}</title><link rel="icon" href="data:,"></head><body><h1>${title}</h1>${body}</body></html>`
}

function pickerForm (action, hidden, names) {
  const inputs = Object.entries(hidden).map(([k, v]) => `<input type="hidden" name="${k}" value="${String(v).replace(/"/g, '&quot;')}">`).join('')
  const options = names.map(n => `<option value="${n}">${n}</option>`).join('')
  return `<form method="post" action="${action}">${inputs}<select name="account">${options}</select><button type="submit">Continue</button></form>`
}

async function readBody (req) {
  const chunks = []
  for await (const c of req) chunks.push(c)
  return Buffer.concat(chunks).toString()
}

export async function startUpstream ({ port, firmgate, microsoft, google }) {
  const base = `http://127.0.0.1:${port}`
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true })
  const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'tenant-key', alg: 'RS256', use: 'sig' }
  const publicJwk = { kty: signingJwk.kty, n: signingJwk.n, e: signingJwk.e, kid: signingJwk.kid, alg: 'RS256', use: 'sig' }
  const { privateKey: strangerKey } = await jose.generateKeyPair('RS256')

  const findAccount = (ctx, id) => {
    const a = ACCOUNTS[id]
    if (!a) return undefined
    return {
      accountId: id,
      async claims () { return { sub: id, ...(a.tenant ? { tid: a.tenant } : {}), ...a.claims } },
    }
  }
  const common = (client, redirect) => ({
    clients: [{
      client_id: client.id,
      client_secret: client.secret,
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    findAccount,
    claims: {
      openid: ['sub', 'tid', 'oid', 'xms_edov', 'hd', 'acr', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: false,
    jwks: { keys: [signingJwk] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    cookies: { keys: ['upstream-test-cookie-key'] },
    ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
  })

  // The pending interaction of an instance: finish it for `account` (login and consent).
  async function finish (provider, req, res, account) {
    const details = await provider.interactionDetails(req, res)
    const a = ACCOUNTS[account]
    if (!a) { res.writeHead(400).end('unknown account'); return }
    const grant = new provider.Grant({ accountId: account, clientId: details.params.client_id })
    grant.addOIDCScope(details.params.scope)
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { login: { accountId: account, amr: a.amr }, consent: { grantId } }, { mergeWithLastSubmission: false })
  }

  const tenants = {}
  const codeTenant = new Map()
  for (const tid of [TENANT_FIRM, TENANT_OTHER, TENANT_PERSONAL]) {
    const p = new Provider(`${base}/${tid}/v2.0`, {
      ...common(microsoft, `${firmgate}/sso/microsoft/callback`),
      interactions: { url: (ctx, i) => `/${tid}/v2.0/interaction/${i.uid}` },
    })
    tenants[tid] = p
  }
  const googleProvider = new Provider(`${base}/google`, {
    ...common(google, `${firmgate}/sso/google/callback`),
    interactions: { url: (ctx, i) => `/google/interaction/${i.uid}` },
  })

  const templateIssuer = `${base}/{tenantid}/v2.0`
  const org = `${base}/organizations/v2.0`
  const discovery = {
    issuer: templateIssuer,
    authorization_endpoint: `${org}/authorize`,
    token_endpoint: `${org}/token`,
    jwks_uri: `${org}/keys`,
    response_types_supported: ['code'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'profile', 'email'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'oid', 'email', 'name', 'preferred_username'],
  }
  // Forged codes: code -> { kind, nonce }.
  const forged = new Map()

  async function forgedToken (kind, nonce) {
    const now = Math.floor(Date.now() / 1000)
    const claims = {
      iss: `${base}/${TENANT_FIRM}/v2.0`,
      sub: 'forged-sub',
      aud: microsoft.id,
      iat: now,
      exp: now + 300,
      nonce,
      tid: TENANT_FIRM,
      oid: 'oid-ann',
      email: 'ann@lawfirm.example',
      xms_edov: true,
      name: 'Forged Ann',
    }
    const sign = (c, key = privateKey, header = { alg: 'RS256', kid: 'tenant-key' }) =>
      new jose.SignJWT(c).setProtectedHeader(header).sign(key)
    switch (kind) {
      case 'forge-iss-other-tenant': return sign({ ...claims, iss: `${base}/${TENANT_OTHER}/v2.0` })
      case 'forge-alg-none': {
        const enc = o => Buffer.from(JSON.stringify(o)).toString('base64url')
        return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`
      }
      case 'forge-hs256': return sign(claims, new TextEncoder().encode(microsoft.secret), { alg: 'HS256', kid: 'tenant-key' })
      case 'forge-wrong-aud': return sign({ ...claims, aud: 'someone-else' })
      case 'forge-expired': return sign({ ...claims, iat: now - 7200, exp: now - 3600 })
      case 'forge-wrong-nonce': return sign({ ...claims, nonce: 'not-the-nonce' })
      case 'forge-unknown-key': return sign(claims, strangerKey, { alg: 'RS256', kid: 'stranger' })
      case 'forge-no-oid': { const { oid, ...rest } = claims; return sign(rest) }
      default: throw new Error(`no forgery ${kind}`)
    }
  }

  function mount (provider, prefix, req, res) {
    req.originalUrl = req.url
    req.url = req.url.slice(prefix.length) || '/'
    return provider.callback()(req, res)
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, base)
      const path = url.pathname
            if (path === '/favicon.ico') { res.writeHead(204).end(); return }
      if (path === '/organizations/v2.0/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(discovery))
        return
      }
      if (path === '/organizations/v2.0/keys') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }))
        return
      }
      if (path === '/organizations/v2.0/authorize' && req.method === 'GET') {
        const hidden = Object.fromEntries(url.searchParams)
        const names = Object.keys(ACCOUNTS).filter(n => n.startsWith('ms-')).concat(FORGERIES)
        res.writeHead(200, { 'content-type': 'text/html' }).end(page('Pick an account', pickerForm('/organizations/v2.0/authorize', hidden, names)))
        return
      }
      if (path === '/organizations/v2.0/authorize' && req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req))
        const account = form.get('account')
        form.delete('account')
        const back = new URL(form.get('redirect_uri'))
        if (account === 'deny') {
          back.searchParams.set('error', 'access_denied')
          back.searchParams.set('state', form.get('state'))
          res.writeHead(303, { location: back.toString() }).end()
          return
        }
        if (FORGERIES.includes(account)) {
          const code = `forged-${account}-${Math.random().toString(36).slice(2)}`
          forged.set(code, { kind: account, nonce: form.get('nonce') })
          back.searchParams.set('code', code)
          back.searchParams.set('state', form.get('state'))
          res.writeHead(303, { location: back.toString() }).end()
          return
        }
        const a = ACCOUNTS[account]
        if (!a?.tenant) { res.writeHead(400).end('unknown account'); return }
        form.set('login_hint', account)
        res.writeHead(303, { location: `/${a.tenant}/v2.0/auth?${form}` }).end()
        return
      }
      if (path === '/organizations/v2.0/token' && req.method === 'POST') {
        const body = await readBody(req)
        const code = new URLSearchParams(body).get('code')
        const f = forged.get(code)
        if (f) {
          forged.delete(code)
          const idToken = await forgedToken(f.kind, f.nonce)
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'forged', token_type: 'Bearer', expires_in: 300, id_token: idToken }))
          return
        }
        const tid = codeTenant.get(code)
        if (!tid) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant' }))
          return
        }
        const proxied = http.request(`${base}/${tid}/v2.0/token`, { method: 'POST', headers: { ...req.headers, host: `127.0.0.1:${port}` } }, up => {
          res.writeHead(up.statusCode, up.headers)
          up.pipe(res)
        })
        proxied.end(body)
        return
      }
      for (const [tid, provider] of Object.entries(tenants)) {
        const prefix = `/${tid}/v2.0`
        if (!path.startsWith(`${prefix}/`)) continue
        if (path.startsWith(`${prefix}/interaction/`)) {
          // The tenant's own page: the account was picked on the shared page (login_hint).
          const details = await provider.interactionDetails(req, res)
          await finish(provider, req, res, details.params.login_hint)
          return
        }
        // Note which tenant issued each code, for the shared token endpoint.
        const setHeader = res.setHeader.bind(res)
        res.setHeader = (k, v) => {
          if (String(k).toLowerCase() === 'location') {
            try { const c = new URL(String(v), base).searchParams.get('code'); if (c) codeTenant.set(c, tid) } catch {}
          }
          return setHeader(k, v)
        }
        return mount(provider, prefix, req, res)
      }
      if (path.startsWith('/google/interaction/')) {
        if (req.method === 'GET') {
          const names = Object.keys(ACCOUNTS).filter(n => n.startsWith('g-'))
          res.writeHead(200, { 'content-type': 'text/html' }).end(page('Choose an account', pickerForm(path, {}, names)))
          return
        }
        const form = new URLSearchParams(await readBody(req))
        await finish(googleProvider, req, res, form.get('account'))
        return
      }
      if (path.startsWith('/google/') || path === '/google') return mount(googleProvider, '/google', req, res)
      res.writeHead(404).end('not found')
    } catch (e) {
      console.error('upstream error', e)
      if (!res.headersSent) res.writeHead(500).end(String(e))
    }
  })
  await new Promise(resolve => server.listen(port, '127.0.0.1', resolve))
  return { server, base, microsoftDiscovery: org, googleDiscovery: `${base}/google` }
}
