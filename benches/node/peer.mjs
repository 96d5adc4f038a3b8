// The peer for benches/run: node's oidc-provider (OpenID certified) with client_credentials and
// JWT access tokens signed RS256 or ES256, keys generated at start. Usage:
//   node peer.mjs PORT   -> prints one JSON line {"clients": {...}} when listening
import { Provider } from 'oidc-provider'
import * as jose from 'jose'

const port = Number(process.argv[2] || 9100)
const issuer = `http://127.0.0.1:${port}`
const rsa = await jose.generateKeyPair('RS256', { extractable: true })
const ec = await jose.generateKeyPair('ES256', { extractable: true })
const keys = [
  { ...(await jose.exportJWK(rsa.privateKey)), kid: 'rsa', alg: 'RS256', use: 'sig' },
  { ...(await jose.exportJWK(ec.privateKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
]
const clients = {
  rs256: { client_id: 'bench-rs256', client_secret: 'bench-secret-rs256-0123456789abcdef' },
  es256: { client_id: 'bench-es256', client_secret: 'bench-secret-es256-0123456789abcdef' },
}
const provider = new Provider(issuer, {
  clients: Object.values(clients).map((c) => ({ ...c, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })),
  jwks: { keys },
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => `urn:bench:${client.clientId.endsWith('es256') ? 'es256' : 'rs256'}`,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: 'api',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: resource.endsWith('es256') ? 'ES256' : 'RS256' } },
      }),
    },
  },
})
provider.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer, clients }))
})
