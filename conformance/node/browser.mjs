// The pages in a real browser (Debian's chromium, driven by playwright-core; no browser download):
// the journey a person takes from a relying party (the built-in demo app) through sign-in,
// a wrong password, consent, back to the app, sign-out, plus the error pages. For every page it
// asserts what a person sees, that nothing is requested from another origin, that no console
// error is logged, and that axe-core finds no accessibility violations; it saves a screenshot of
// each page (desktop and 320 px wide) under target/screenshots/.
import { chromium } from 'playwright-core'
import { readFileSync, readdirSync, existsSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { crc32, deflateSync } from 'node:zlib'

import { startUpstream, TENANT_FIRM } from './upstream.mjs'


const require = createRequire(import.meta.url)
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
const BASE = process.env.FG_DEMO_BASE
const SHOTS = process.env.FG_SCREENSHOTS
const EMAIL = 'demo@firmgate.test'
const PASSWORD = 'correct horse battery staple'
mkdirSync(SHOTS, { recursive: true })

// A 120x40 PNG logo: a navy bar with a lighter square, drawn here (no image files in the repo).
function logoPng () {
  const w = 120; const h = 40
  const raw = Buffer.alloc((w * 3 + 1) * h)
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0
    for (let x = 0; x < w; x++) {
      const inSquare = x >= 8 && x < 32 && y >= 8 && y < 32
      const [r, g, b] = inSquare ? [120, 170, 230] : [31, 78, 140]
      raw.set([r, g, b], y * (w * 3 + 1) + 1 + x * 3)
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type), data])
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body))
    return Buffer.concat([len, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

const results = []
function assert (cond, msg) { if (!cond) throw new Error(msg) }
// A TOTP code from Debian's oathtool (an implementation firmgate does not use) for unix time t.
function totp (secret, t) {
  return execFileSync('oathtool', ['--totp', '-b', '-N', `@${Math.floor(t)}`, secret]).toString().trim()
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']
})

async function newPage (width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } })
  const page = await context.newPage()
  page.problems = []
  page.on('console', (m) => {
    // An error page's own 4xx status is reported as a console error for the document itself.
    if (m.type() === 'error' && m.location().url !== page.url()) page.problems.push(`console error: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`))
    // Only single sign-on navigates elsewhere (to the upstream's own pages, which are not ours
  // to check); firmgate's pages load nothing from another origin.
  page.navigableOrigins = []
  page.on('request', (r) => {
    const origin = new URL(r.url()).origin
    const upstreamPage = r.isNavigationRequest() && page.navigableOrigins.includes(origin)
    if (origin !== new URL(BASE).origin && !upstreamPage) page.problems.push(`request to another origin: ${r.url()}`)
  })
  return page
}

// Checks every page the same way and saves its screenshots.
async function inspect (page, name, heading) {
  const h1 = (await page.locator('h1').first().textContent()).trim()
  assert(h1.includes(heading), `${name}: heading "${h1}" lacks "${heading}"`)
  await page.evaluate(AXE)
  const axe = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }))
  const violations = axe.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  assert(violations.length === 0, `${name}: accessibility violations: ${violations.join('; ')}`)
  assert(page.problems.length === 0, `${name}: ${page.problems.join('; ')}`)
  const headers = page.lastHeaders
  if (headers) assert((headers['content-security-policy'] || '').includes("frame-ancestors 'none'"), `${name}: CSP frame-ancestors`)
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true })
  await page.setViewportSize({ width: 320, height: 900 })
  const overflow = await page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth + 1) return null
    // Name the widest elements that stick out, to say what to fix.
    return [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 3)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''}`)
      .join(', ')
  })
  assert(!overflow, `${name}: wider than a 320 px screen (${overflow})`)
  await page.screenshot({ path: `${SHOTS}/${name}-320px.png`, fullPage: true })
  await page.setViewportSize({ width: 1280, height: 900 })
}

async function step (name, fn) {
  try {
    await fn()
    results.push(['PASS', name])
    console.log(`PASS    browser: ${name}`)
  } catch (e) {
    results.push(['FAIL', name])
    console.log(`FAIL    browser: ${name}: ${e.message.split('\n')[0]}`)
  }
}

const page = await newPage()
page.on('response', (r) => { if (r.request().isNavigationRequest()) page.lastHeaders = r.headers() })

await step('the demo application offers sign-in', async () => {
  await page.goto(`${BASE}/demo`)
  await inspect(page, '01-demo-app', 'signing in with firmgate')
  await page.getByRole('link', { name: 'Sign in with firmgate' }).click()
  await page.waitForURL(/\/signin\/login/)
})

await step('the sign-in page: labelled inputs, clear error next to the form, focus on the field', async () => {
  await inspect(page, '02-sign-in', 'Sign in')
  await page.getByLabel('Email address').fill(EMAIL)
  await page.getByLabel('Password').fill('not my password at all')
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.waitForLoadState()
  const alert = await page.getByRole('alert').textContent()
  assert(alert.includes('Email or password is incorrect.'), `error message: ${alert}`)
  const focused = await page.evaluate(() => document.activeElement?.id)
  assert(focused === 'email', `focus on the first invalid field, got ${focused}`)
  await inspect(page, '03-sign-in-error', 'Sign in')
})

await step('signing in offers two-step sign-in (the firm default), which may be skipped', async () => {
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.waitForURL(/\/signin\/mfa-offer/)
  await inspect(page, '04a-mfa-offer', 'Protect your account')
  await page.getByRole('button', { name: 'Not now' }).click()
})

await step('then consent, in plain words', async () => {
  await page.waitForURL(/\/signin\/consent/)
  const items = await page.locator('ul.scopes li').allTextContents()
  assert(items.includes('See your email address') && items.includes('See your name'), `scopes: ${items}`)
  await inspect(page, '04-consent', 'Allow firmgate demo')
})

await step('allowing returns to the app with verified claims, userinfo and a refresh', async () => {
  await page.getByRole('button', { name: 'Allow' }).click()
  await page.waitForURL(/\/demo\/callback/)
  const text = await page.locator('main').textContent()
  assert(text.includes(EMAIL) && text.includes('"firm_name"') && text.includes('new_refresh_token_issued'), 'claims shown')
  await inspect(page, '05-back-at-the-app', 'signing in with firmgate')
})

await step('signing out from the app ends at the app, signed out of firmgate', async () => {
  await page.getByRole('link', { name: 'Sign out' }).click()
  await page.waitForURL(/\/demo$/)
  await page.goto(`${BASE}/logout`)
  await inspect(page, '06-sign-out-confirmation', 'Sign out of firmgate?')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForLoadState()
  await inspect(page, '07-signed-out', 'You are signed out')
})

await step('error pages say what went wrong', async () => {
  await page.goto(`${BASE}/authorize?client_id=unknown-app&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code&scope=openid`)
  await inspect(page, '08-error-unknown-application', 'Unknown application')
  await page.goto(`${BASE}/signin/login?interaction=expired-or-foreign`)
  await inspect(page, '09-error-expired-sign-in', 'This sign-in has expired')
  await page.goto(`${BASE}/no-such-page`)
  await inspect(page, '10-error-not-found', 'Page not found')
})

await step('a forgotten password is reset through the e-mailed link', async () => {
  const outbox = process.env.FG_DEMO_OUTBOX
  await page.goto(`${BASE}/demo/start`)
  await page.waitForURL(/\/signin\/login/)
  await page.getByRole('link', { name: 'Forgotten password?' }).click()
  await page.waitForURL(/\/signin\/forgot/)
  await inspect(page, '11-forgotten-password', 'Reset your password')
  await page.getByLabel('Email address').fill(EMAIL)
  await page.getByRole('button', { name: 'Send the link' }).click()
  await page.waitForLoadState()
  const status = await page.getByRole('status').textContent()
  assert(status.includes('If an account exists'), `answer: ${status}`)
  await inspect(page, '12-reset-link-sent', 'Reset your password')
  // With no SMTP server configured the message is written as an .eml file; follow its link
  // (undoing the quoted-printable soft breaks and escapes of the text part).
  let link
  for (let i = 0; i < 50 && !link; i++) {
    if (existsSync(outbox)) {
      for (const f of readdirSync(outbox)) {
        const m = readFileSync(`${outbox}/${f}`, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=').match(/https?:\/\/[^\s"<>]*\/signin\/reset\?token=[A-Za-z0-9_-]{43}/)
        if (m) link = m[0]
      }
    }
    if (!link) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert(link, 'a reset link arrived')
  await page.goto(link)
  await inspect(page, '13-choose-new-password', 'Choose a new password')
  await page.getByLabel('New password', { exact: true }).fill('password1234')
  await page.getByLabel('New password again').fill('password1234')
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.waitForLoadState()
  const refusal = await page.getByRole('alert').textContent()
  assert(refusal.includes('too easy to guess'), `reason shown: ${refusal}`)
  const focused = await page.evaluate(() => document.activeElement?.id)
  assert(focused === 'new_password', `focus on the password field, got ${focused}`)
  await inspect(page, '14-new-password-refused', 'Choose a new password')
  await page.getByLabel('New password', { exact: true }).fill('maple orbit canyon velvet')
  await page.getByLabel('New password again').fill('maple orbit canyon velvet')
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.waitForLoadState()
  await inspect(page, '15-password-changed', 'Your password has been changed')
})

await step('My Profile: live strength estimate, a refused and an accepted password change', async () => {
  await page.goto(`${BASE}/account`)
  await page.waitForURL(/\/signin\/login/)
  await page.getByLabel('Email address').fill(EMAIL)
  await page.getByLabel('Password').fill('maple orbit canyon velvet')
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.waitForURL(/\/signin\/mfa-offer/)
  await page.getByRole('button', { name: 'Not now' }).click()
  await page.waitForURL(/\/account$/)
  await inspect(page, '16-my-profile', 'My Profile')
  const firms = await page.locator('section[aria-labelledby=firms-heading] li').allTextContents()
  assert(firms.some((f) => f.includes('Demo & Partners LLP')), `memberships: ${firms}`)
  await page.getByLabel('New password', { exact: true }).pressSequentially('password12')
  await page.waitForFunction(() => (document.getElementById('strength-live')?.textContent || '').includes('Strength:'))
  const live = await page.locator('#strength-live').textContent()
  assert(/weak/.test(live) && live.includes('16 characters'), `live estimate: ${live}`)
  await page.getByLabel('Current password').fill('not the current one')
  await page.getByLabel('New password', { exact: true }).fill('harbour pocket thunder violin')
  await page.getByLabel('New password again').fill('harbour pocket thunder violin')
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.waitForLoadState()
  const refusal = await page.getByRole('alert').textContent()
  assert(refusal.includes('current password is not right'), `reason shown: ${refusal}`)
  const focused = await page.evaluate(() => document.activeElement?.id)
  assert(focused === 'current_password', `focus on the current password, got ${focused}`)
  await inspect(page, '17-my-profile-password-refused', 'My Profile')
  await page.getByLabel('Current password').fill('maple orbit canyon velvet')
  await page.getByLabel('New password', { exact: true }).fill('harbour pocket thunder violin')
  await page.getByLabel('New password again').fill('harbour pocket thunder violin')
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.waitForURL(/\/account\?done=password/)
  const notice = await page.getByRole('status').textContent()
  assert(notice.includes('Your password was changed'), `notice: ${notice}`)
  await inspect(page, '18-my-profile-password-changed', 'My Profile')
})

let totpSecret
let recoveryCodes = []

await step('two-step sign-in is set up on My Profile with the key shown on the page', async () => {
  await page.goto(`${BASE}/account`)
  await page.getByRole('button', { name: 'Activate' }).click()
  await page.waitForURL(/\/account\/mfa$/)
  await inspect(page, '19-mfa-set-up', 'Set up two-step sign-in')
  const qr = await page.locator('.qr svg').count()
  assert(qr === 1, 'a QR code is drawn in the page')
  totpSecret = (await page.locator('#totp-secret').textContent()).replace(/\s/g, '')
  assert(totpSecret.length === 32, `the key: ${totpSecret}`)
  const now = Date.now() / 1000
  await page.getByLabel('First code').fill(totp(totpSecret, now - 30))
  await page.getByLabel('Next code').fill(totp(totpSecret, now))
  await page.getByRole('button', { name: 'Save' }).click()
  await page.waitForLoadState()
    const codes = await page.locator('#recovery-codes code').allTextContents()
  assert(codes.length === 10, `ten recovery codes: ${codes}`)
  recoveryCodes = codes
  await inspect(page, '20-recovery-codes', 'Your recovery codes')
  await page.getByRole('link', { name: /continue/ }).click()
  await page.waitForURL(/\/account$/)
  const status = await page.locator('#mfa-status').textContent()
  assert(status.startsWith('On since'), `status: ${status}`)
})

await step('the next sign-in asks for a code, refuses a wrong one and accepts the right one', async () => {
  await page.goto(`${BASE}/logout`)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForLoadState()
  await page.goto(`${BASE}/demo/start`)
  await page.waitForURL(/\/signin\/login/)
  await page.getByLabel('Email address').fill(EMAIL)
  await page.getByLabel('Password').fill('harbour pocket thunder violin')
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.waitForURL(/\/signin\/mfa/)
  await inspect(page, '21-mfa-challenge', 'Enter your code')
  const next = totp(totpSecret, Date.now() / 1000 + 30)
  await page.getByLabel('Code').fill(next === '000000' ? '111111' : '000000')
  await page.getByRole('button', { name: 'Confirm' }).click()
  await page.waitForLoadState()
  const alert = await page.getByRole('alert').textContent()
  assert(alert.includes('not right'), `error message: ${alert}`)
  const focused = await page.evaluate(() => document.activeElement?.id)
  assert(focused === 'code', `focus on the code field, got ${focused}`)
  await inspect(page, '22-mfa-wrong-code', 'Enter your code')
  // The step after the one used at activation (one step of skew is allowed).
  await page.getByLabel('Code').fill(next)
  await page.getByRole('button', { name: 'Confirm' }).click()
  await page.waitForURL(/\/demo\/callback/)
  const text = await page.locator('main').textContent()
  assert(text.includes('urn:firmgate:acr:mfa') && text.includes('"otp"'), 'the ID token says MFA')
  await inspect(page, '23-back-at-the-app-with-mfa', 'signing in with firmgate')
})

await step('an owner changes a policy in the admin console; people and audit pages', async () => {
  await page.goto(`${BASE}/admin`)
  await page.waitForURL(/\/admin\/firms\/[^/]+\/settings/)
  await inspect(page, '24-admin-settings', 'Authentication settings')
  await page.getByLabel('Sign out after inactivity').fill('4h')
  await page.getByLabel('Allowed networks').fill('10.0.0.0/33')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.waitForLoadState()
  const refusal = await page.getByRole('alert').textContent()
  assert(refusal.includes('10.0.0.0/33'), `reason shown: ${refusal}`)
  await inspect(page, '25-admin-settings-refused', 'Authentication settings')
  await page.getByLabel('Allowed networks').fill('')
  await page.getByLabel('Sign out after inactivity').fill('4h')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.waitForURL(/saved=1/)
  const saved = await page.getByRole('status').textContent()
  assert(saved.includes('Saved'), `notice: ${saved}`)
  const idle = await page.getByLabel('Sign out after inactivity').inputValue()
  assert(idle === '4h', `stored value shown: ${idle}`)
    // The firm's face on its sign-in page: a display name and a logo (an SVG would be refused).
  await page.getByLabel('Name shown on the firm\'s sign-in page').fill('Demo & Partners')
  await page.getByRole('button', { name: 'Save', exact: true }).click()
  await page.waitForURL(/saved=1/)
  await page.getByLabel('PNG or JPEG, at most 48 KiB').setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') })
  await page.getByRole('button', { name: 'Upload logo' }).click()
  await page.waitForLoadState()
  const logoRefusal = await page.getByRole('alert').textContent()
  assert(logoRefusal.includes('PNG or JPEG'), `logo refusal: ${logoRefusal}`)
  await page.getByLabel('PNG or JPEG, at most 48 KiB').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: logoPng() })
  await page.getByRole('button', { name: 'Upload logo' }).click()
  await page.waitForURL(/saved=1/)
  assert(await page.getByRole('img', { name: 'The firm\'s current logo' }).isVisible(), 'the uploaded logo is shown')
  await page.getByRole('link', { name: 'People' }).click()
  await page.waitForURL(/\/people/)
  await inspect(page, '26-admin-people', 'People')
  await page.getByRole('link', { name: 'Applications' }).click()
  await page.waitForURL(/\/apps/)
  await inspect(page, '26b-admin-applications', 'Applications')
  await page.getByRole('link', { name: 'Audit log' }).click()
  await page.waitForURL(/\/audit/)
  const rows = await page.locator('table.audit tbody').textContent()
  assert(rows.includes('policy_changed') && rows.includes('idle_timeout_secs'), 'the change is in the audit log')
  await inspect(page, '27-admin-audit-log', 'Audit log')
})

const upstream = await startUpstream({
  port: Number(process.env.FG_DEMO_UPSTREAM_PORT),
  firmgate: BASE,
  microsoft: { id: 'firmgate-at-entra', secret: 'entra-secret-for-tests' },
  google: { id: 'unused', secret: 'unused' },
})
page.navigableOrigins.push(new URL(upstream.base).origin)

await step('single sign-on: the admin accepts the firm\'s tenant, the person links Microsoft on My Profile and signs in with it', async () => {
  await page.goto(`${BASE}/admin`)
  await page.waitForURL(/\/admin\/firms\/[^/]+\/settings/)
  await page.getByLabel('Microsoft tenant ids accepted').fill(TENANT_FIRM)
  await page.getByRole('button', { name: 'Save' }).click()
  await page.waitForURL(/saved=1/)
  await page.goto(`${BASE}/account`)
  await page.getByRole('button', { name: 'Link a Microsoft account' }).click()
  await page.waitForURL(/organizations\/v2.0\/authorize/)
  await page.locator('select[name=account]').selectOption('ms-demo')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL(/\/account\?done=sso-linked/)
  const notice = await page.getByRole('status').textContent()
  assert(notice.includes('The account was linked'), `notice: ${notice}`)
  const links = await page.locator('#sso-links').textContent()
  assert(links.includes('Microsoft: demo@firmgate.test') && links.includes(TENANT_FIRM), `links: ${links}`)
  await inspect(page, '28-my-profile-sso-linked', 'My Profile')
  await page.goto(`${BASE}/logout`)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForLoadState()
  await page.goto(`${BASE}/demo/start`)
    await page.waitForURL(/\/signin\/login/)
  const brand = await page.locator('p.firm-brand').textContent()
  assert(brand.includes('Demo & Partners'), `the firm's name heads its sign-in page: ${brand}`)
  const logoWidth = await page.locator('img.firm-logo').evaluate((img) => img.naturalWidth)
  assert(logoWidth === 120, `the firm's logo is loaded from firmgate: ${logoWidth}`)
  await inspect(page, '29-sign-in-with-firm-brand-and-microsoft', 'Sign in')
  await page.getByRole('button', { name: 'Sign in with Microsoft' }).click()
  await page.waitForURL(/organizations\/v2.0\/authorize/)
  await page.locator('select[name=account]').selectOption('ms-demo')
  await page.getByRole('button', { name: 'Continue' }).click()
  // The person has two-step sign-in on: firmgate still asks (the firm trusts no upstream MFA).
  await page.waitForURL(/\/signin\/mfa/)
  await page.getByLabel('Code').fill(recoveryCodes[0])
  await page.getByRole('button', { name: 'Confirm' }).click()
  await page.waitForURL(/\/demo\/callback/)
  const text = await page.locator('main').textContent()
  assert(text.includes('"fed"') && text.includes('"otp"') && text.includes('urn:firmgate:acr:mfa'), 'the ID token says fed + otp')
})

await step('a single sign-on answer that belongs to no sign-in gets a clear page', async () => {
  await page.goto(`${BASE}/sso/microsoft/callback?code=abc&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)
  await inspect(page, '30-sso-failed', 'Sign-in could not be completed')
})

upstream.server.close()
await browser.close()
const failed = results.filter(([r]) => r === 'FAIL').length
console.log(`browser: ${results.length - failed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
