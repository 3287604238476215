/**
 * Browserless login on the PDS's OAuth authorization page (@atproto/pds
 * 0.4.217, @atproto/oauth-provider 0.15.x): performs the same HTTP calls the
 * page's JavaScript makes, with the same headers, and returns the URL the
 * browser would finally be sent to (the client's redirect_uri with
 * code/state/iss, or error/state/iss).
 *
 * Sequence (see oauth-provider dist/router/create-authorization-page-middleware.js
 * and create-api-middleware.js):
 *   1. GET  /oauth/authorize?client_id=…&request_uri=…   (navigation; binds the
 *      request to a new device and sets dev-id/ses-id and csrf-token cookies)
 *   2. POST /@atproto/oauth-provider/~api/sign-in  {locale, username, password, remember:false}
 *      → { account: { sub }, ephemeralToken, consentRequired }
 *   3. POST /@atproto/oauth-provider/~api/consent  {sub}  + "Authorization: Bearer <ephemeralToken>"
 *      → { url: /oauth/authorize/redirect?… }   (the UI calls it even when no consent is required)
 *   4. GET  that url (navigation from the authorize page) → 303 to the redirect_uri
 * The API insists on sec-fetch-mode/site "same-origin", an Origin equal to the
 * issuer, a Referer on /oauth/authorize carrying the request_uri, and an
 * x-csrf-token header equal to the csrf-token cookie.
 *
 * Requests go through node:http rather than fetch(): undici's fetch overwrites
 * `sec-fetch-mode` with the Request's mode ("cors"), and "navigate" cannot be
 * requested, but the authorize page only accepts `sec-fetch-mode: navigate`.
 */
import http from 'node:http'
import https from 'node:https'

const API_PREFIX = '/@atproto/oauth-provider/~api'
const CSRF_COOKIE = 'csrf-token'
const CSRF_HEADER = 'x-csrf-token'
const TIMEOUT_MS = 15_000
const USER_AGENT = 'robot-e2e-harness (browserless PDS login)'

export type PdsCredentials = { identifier: string; password: string }

export async function completePdsLogin(authorizeUrl: string, creds: PdsCredentials): Promise<string> {
  const page = new URL(authorizeUrl)
  const jar = new CookieJar()

  const early = await openAuthorizePage(page, jar)
  if (early) return early // the PDS answered with a redirect straight away (e.g. an error)

  const signIn = await callApi<SignInResponse>(page, jar, '/sign-in', {
    locale: 'en',
    username: creds.identifier,
    password: creds.password,
    // Like the UI's unchecked "remember me": no device session is kept, so
    // consent must be authorized with the ephemeral token.
    remember: false,
  })
  const consent = await callApi<{ url: string }>(page, jar, '/consent', { sub: signIn.account.sub }, signIn.ephemeralToken)
  return followAuthorizeRedirect(page, jar, new URL(consent.url, page))
}

type SignInResponse = { account: { sub: string }; ephemeralToken?: string; consentRequired?: boolean }

/** Step 1. Returns a Location if the PDS redirected instead of rendering the page. */
async function openAuthorizePage(page: URL, jar: CookieJar): Promise<string | undefined> {
  const res = await request('GET', page, {
    ...navigationHeaders('cross-site'), // the user arrives from the client app
    cookie: jar.header(),
  })
  jar.store(res)
  if (isRedirect(res.status)) return redirectTarget(res, page)
  if (res.status !== 200) throw new Error(`PDS authorize page answered ${res.status}: ${pageError(res.body)}`)
  if (!jar.get(CSRF_COOKIE)) throw new Error('PDS authorize page did not set the csrf-token cookie')
  return undefined
}

/** Steps 2–3: a same-origin JSON call as made by the page's script. */
async function callApi<T>(page: URL, jar: CookieJar, endpoint: string, input: unknown, bearer?: string): Promise<T> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    origin: page.origin,
    referer: page.href,
    'sec-fetch-mode': 'same-origin',
    'sec-fetch-site': 'same-origin',
    'sec-fetch-dest': 'empty',
    'user-agent': USER_AGENT,
    [CSRF_HEADER]: jar.get(CSRF_COOKIE) ?? '',
    cookie: jar.header(),
  }
  if (bearer) headers.authorization = `Bearer ${bearer}`
  const res = await request('POST', new URL(`${API_PREFIX}${endpoint}`, page.origin), headers, JSON.stringify(input))
  jar.store(res)
  const json = parseJson(res.body) as T & { error?: string; error_description?: string }
  if (res.status !== 200 || json.error) {
    throw new Error(`PDS ${endpoint} failed (${res.status}): ${json.error_description ?? json.error ?? 'no details'}`)
  }
  return json
}

/** Step 4: the page navigates to /oauth/authorize/redirect, which 303s to the client. */
async function followAuthorizeRedirect(page: URL, jar: CookieJar, target: URL): Promise<string> {
  const res = await request('GET', target, {
    ...navigationHeaders('same-origin'),
    referer: page.href,
    cookie: jar.header(),
  })
  if (isRedirect(res.status)) return redirectTarget(res, target)
  if (res.status === 200) {
    const formUrl = formPostAsUrl(res.body)
    if (formUrl) return formUrl
  }
  throw new Error(`PDS redirect step answered ${res.status}: ${pageError(res.body)}`)
}

function navigationHeaders(site: 'cross-site' | 'same-origin'): Record<string, string> {
  return {
    accept: 'text/html',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    'sec-fetch-site': site,
    'user-agent': USER_AGENT,
  }
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400
}

function redirectTarget(res: RawResponse, base: URL): string {
  const location = res.location
  if (!location) throw new Error(`PDS answered ${res.status} without a Location header`)
  return new URL(location, base).href
}

/**
 * response_mode=form_post clients get an auto-submitting HTML form instead of
 * a 303. Turn it into the equivalent query URL so callers handle one shape.
 */
function formPostAsUrl(html: string): string | undefined {
  const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1]
  if (!action) return undefined
  const url = new URL(decodeHtml(action))
  for (const m of html.matchAll(/<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"/gi)) {
    url.searchParams.set(decodeHtml(m[1]), decodeHtml(m[2]))
  }
  return url.href
}

function decodeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;|&#x0*27;/gi, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** The PDS's HTML error page carries the error in a JSON blob for its script. */
function pageError(html: string): string {
  const m = /__errorData"\]=JSON\.parse\((".*?")\);/.exec(html)
  if (m) {
    try {
      const data = JSON.parse(JSON.parse(m[1])) as { error?: string; error_description?: string }
      return `${data.error}: ${data.error_description}`
    } catch {
      // fall through to the raw snippet
    }
  }
  return html.replace(/\s+/g, ' ').slice(0, 300)
}

function parseJson(body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>
  } catch {
    return { error: 'invalid_response', error_description: body.slice(0, 300) }
  }
}

type RawResponse = { status: number; location?: string; setCookies: string[]; body: string }

/** One HTTP exchange, headers sent verbatim, redirects not followed. */
function request(method: string, url: URL, headers: Record<string, string>, body?: string): Promise<RawResponse> {
  const mod = url.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          setCookies: res.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.origin}${url.pathname} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Minimal cookie jar for a single origin. Attributes (Secure, Path, SameSite)
 * are ignored on purpose: all requests go to the one PDS origin, and the PDS
 * marks its csrf cookie Secure even on http://localhost, which browsers accept
 * for localhost but a strict jar would drop.
 */
class CookieJar {
  private readonly cookies = new Map<string, string>()

  store(res: RawResponse): void {
    for (const line of res.setCookies) {
      const pair = line.split(';', 1)[0]
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === '' || /;\s*max-age=0\b/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  get(name: string): string | undefined {
    const raw = this.cookies.get(name)
    return raw === undefined ? undefined : decodeURIComponent(raw)
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}
