// A scripted user agent for firmgate's pages, the way the OpenID conformance suite's HtmlUnit
// browser drives an OP: a cookie jar (tough-cookie), an HTML parser (node-html-parser), forms
// submitted as a person would. It never fetches the relying party: a redirect leaving firmgate
// ends the journey.
import { CookieJar } from 'tough-cookie'
import { parse } from 'node-html-parser'

export class UserAgent {
  constructor (base) {
    this.base = base
    this.jar = new CookieJar()
  }

  async request (url, opts = {}) {
    const cookie = await this.jar.getCookieString(url)
    const headers = { ...(opts.headers || {}) }
    if (cookie) headers.cookie = cookie
    const res = await fetch(url, { ...opts, headers, redirect: 'manual' })
    for (const c of res.headers.getSetCookie()) await this.jar.setCookie(c, url)
    return res
  }

  // Follows redirects that stay at firmgate. Ends with the relying party's URL, a form_post
  // page's fields, or a firmgate page.
  async go (url, opts) {
    let res = await this.request(url, opts)
    for (let i = 0; i < 10; i++) {
      const loc = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && loc) {
        const next = new URL(loc, url).toString()
        if (!next.startsWith(this.base)) return { kind: 'rp', url: next, status: res.status }
        url = next
        res = await this.request(url)
        continue
      }
      const html = await res.text()
      const doc = parse(html)
      const fp = doc.querySelector('#form-post')
      if (fp) {
        const fields = {}
        for (const input of fp.querySelectorAll('input')) fields[input.getAttribute('name')] = input.getAttribute('value')
        return { kind: 'formpost', action: fp.getAttribute('action'), method: fp.getAttribute('method'), fields, status: res.status }
      }
      return { kind: 'page', url, status: res.status, html, doc, headers: res.headers, title: doc.querySelector('h1')?.text.trim() }
    }
    throw new Error('too many redirects')
  }

  // Submits the page's form with `values` (CSRF and hidden fields are carried as a browser would).
  async submit (page, values = {}) {
    const form = page.doc.querySelector('form')
    if (!form) throw new Error(`no form on ${page.url}`)
    const action = new URL(form.getAttribute('action'), page.url).toString()
    const fields = {}
    for (const input of form.querySelectorAll('input')) {
      const name = input.getAttribute('name')
      if (!name) continue
      const type = input.getAttribute('type')
      if (type === 'radio') {
        if (input.hasAttribute('checked')) fields[name] = input.getAttribute('value')
        continue
      }
      fields[name] = input.getAttribute('value') ?? ''
    }
    Object.assign(fields, values)
    return this.go(action, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' }
    })
  }

  isLogin (r) { return r.kind === 'page' && new URL(r.url).pathname === '/signin/login' }
  isConsent (r) { return r.kind === 'page' && new URL(r.url).pathname === '/signin/consent' }

  // Whatever the journey asks for: sign in, allow. Returns where it ends and what it showed.
  async signIn (url, email, password, seen = []) {
    let r = await this.go(url)
    for (let i = 0; i < 5; i++) {
      if (this.isLogin(r)) { seen.push('login'); r = await this.submit(r, { email, password }); continue }
      if (this.isConsent(r)) { seen.push('consent'); r = await this.submit(r, { decision: 'allow' }); continue }
      return r
    }
    throw new Error('the journey did not end')
  }
}
