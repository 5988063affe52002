// The reference AT Protocol servers on 127.0.0.1, seeded with the accounts decaudit's
// integration tests audit (tests/reference/, issue 7).
//
// Why this exists: the sandbox is decaudit's own model of the network; this process runs the
// unmodified reference implementations (@atproto/pds, @did-plc/server) so that every claim
// decaudit makes is checked against what the real servers do. It starts, in one Node process:
//
//   * a PLC directory (@did-plc/server with its in-memory mock database),
//   * a PDS (@atproto/pds, sqlite files and a disk blobstore under --data-dir),
//   * a tiny did:web host serving /.well-known/did.json for the did:web account,
//
// every one bound to 127.0.0.1 only (the servers' own start() methods listen on all
// interfaces, so their steps are done here with listen(port, '127.0.0.1')). It then seeds the
// accounts through plain XRPC and the PLC client, and prints ONE line to stdout:
//
//   HARNESS-READY {"plc": ..., "pds": ..., "accounts": {...}}
//
// describing ports and, per account, what is true about it (DID, handles over time, rotation
// keys, the records and blobs written, the commit, the status, the user's private keys). It
// runs until SIGTERM/SIGINT or until its stdin closes (the parent died), then shuts everything
// down. A port that is asked for and already in use is a clear one-line error (exit 2), never
// a hang; ports left at 0 are chosen free.
//
// Options: --data-dir DIR (required), --crawler URL (the stub relay), --pds-port N,
// --plc-port N, --web-port N.

import { once } from 'node:events'
import fs from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import process from 'node:process'
import zlib from 'node:zlib'

import { Secp256k1Keypair } from '@atproto/crypto'
import { PDS, envToCfg, envToSecrets } from '@atproto/pds'
import plcLib from '@did-plc/lib'
import plcServer from '@did-plc/server'

const HOST = '127.0.0.1'
const READY = 'HARNESS-READY '
const ADMIN_PASSWORD = 'harness-admin-password'
const PASSWORD = 'harness-password'
const BASE_TIME = Date.parse('2024-05-01T12:00:00.000Z')

class HarnessError extends Error {}

function parseArgs(argv) {
  const options = { crawler: null, dataDir: null, pdsPort: 0, plcPort: 0, webPort: 0 }
  const names = {
    '--crawler': 'crawler',
    '--data-dir': 'dataDir',
    '--pds-port': 'pdsPort',
    '--plc-port': 'plcPort',
    '--web-port': 'webPort',
  }
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]]
    if (!key || argv[i + 1] === undefined) throw new HarnessError(`bad argument ${argv[i]}`)
    options[key] = key.endsWith('Port') ? Number(argv[i + 1]) : argv[i + 1]
    if (key.endsWith('Port') && !Number.isInteger(options[key])) {
      throw new HarnessError(`${argv[i]} needs a port number, not ${argv[i + 1]}`)
    }
  }
  if (!options.dataDir) throw new HarnessError('--data-dir is required')
  return options
}

// --- listening on loopback --------------------------------------------------------------------

async function listen(server, port, service) {
  server.listen(port, HOST)
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => Promise.reject(err)),
    ])
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      throw new HarnessError(`${service} port ${port} on ${HOST} is already in use`)
    }
    throw new HarnessError(`cannot bind the ${service} to ${HOST}:${port}: ${err.message}`)
  }
  return server.address().port
}

async function freePort() {
  const probe = net.createServer()
  const port = await listen(probe, 0, 'port probe')
  await new Promise((resolve) => probe.close(resolve))
  return port
}

function closer(server) {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections?.()
      server.close(() => resolve())
    })
}

// --- PLC directory ----------------------------------------------------------------------------

async function startPlc(port) {
  const db = plcServer.Database.mock()
  const plc = plcServer.PlcServer.create({ db, port, version: 'reference' })
  const server = http.createServer(plc.app)
  const bound = await listen(server, port, 'PLC directory')
  const close = closer(server)
  return {
    port: bound,
    // localhost, not 127.0.0.1: the PDS's DID resolver refuses IP-address hostnames
    // ("Invalid hostname"), which breaks describeRepo for every did:plc account.
    url: `http://localhost:${bound}`,
    destroy: async () => {
      await close()
      await db.close()
    },
  }
}

// --- did:web host -----------------------------------------------------------------------------

async function startWebHost(port) {
  const documents = { current: null }
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/did.json' && documents.current) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(documents.current))
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
    }
  })
  const bound = await listen(server, port, 'did:web host')
  return { port: bound, documents, destroy: closer(server) }
}

// --- PDS --------------------------------------------------------------------------------------

async function startPds({ port, plcUrl, crawler, dataDir, rotationKeyHex }) {
  const fixed = port !== 0
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const chosen = fixed ? port : await freePort()
    const directory = path.join(dataDir, `pds-${chosen}`)
    await fs.mkdir(path.join(directory, 'blobs'), { recursive: true })
    const env = {
      devMode: true,
      hostname: 'localhost',
      port: chosen,
      dataDirectory: directory,
      blobstoreDiskLocation: path.join(directory, 'blobs'),
      didPlcUrl: plcUrl,
      serviceHandleDomains: ['.test'],
      inviteRequired: false,
      plcRotationKeyK256PrivateKeyHex: rotationKeyHex,
      jwtSecret: 'harness-jwt-secret',
      adminPassword: ADMIN_PASSWORD,
      crawlers: crawler ? [crawler] : [],
      disableSsrfProtection: true,
      rateLimitsEnabled: false,
    }
    // No PDS_RECOVERY_DID_KEY: the official installer sets none, so by default the PDS's own
    // rotation key is an account's only one.
    const pds = await PDS.create(envToCfg(env), envToSecrets(env))
    await pds.ctx.sequencer.start()
    const server = http.createServer(pds.app)
    server.keepAliveTimeout = 90_000
    try {
      await listen(server, chosen, 'PDS')
    } catch (err) {
      await pds.ctx.destroy()
      if (!fixed && err.message.includes('already in use')) continue // lost a race: retry
      throw err
    }
    const close = closer(server)
    pds.server = server
    pds.terminator = { terminate: close } // PDS.destroy() ends the listener through this
    return { pds, port: chosen, url: `http://localhost:${chosen}`, api: `http://${HOST}:${chosen}` }
  }
  throw new HarnessError('no free port for the PDS after 5 attempts')
}

// --- XRPC -------------------------------------------------------------------------------------

function xrpcClient(base) {
  return async function xrpc(nsid, { params, body, token, basic, bytes, contentType, post } = {}) {
    const url = new URL(`/xrpc/${nsid}`, base)
    for (const [key, value] of Object.entries(params ?? {})) url.searchParams.set(key, value)
    const headers = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (basic) headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`
    let payload
    if (bytes) {
      payload = bytes
      headers['content-type'] = contentType
    } else if (body !== undefined) {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
    // Procedures are POSTs (`post: true` for one without input); queries are GETs.
    const method = payload === undefined && !post ? 'GET' : 'POST'
    const res = await fetch(url, { method, headers, body: payload })
    const text = await res.text()
    if (!res.ok) throw new HarnessError(`${nsid} failed: HTTP ${res.status} ${text}`)
    return text ? JSON.parse(text) : {}
  }
}

// --- small helpers ----------------------------------------------------------------------------

/** A valid 2x2 PNG of one colour (distinct colours give distinct blobs). */
function png(red, green, blue) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(zlib.crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(2, 0)
  header.writeUInt32BE(2, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // truecolour
  const row = Buffer.from([0, red, green, blue, red, green, blue])
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.concat([row, row]))),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const b64url = (data) => Buffer.from(data).toString('base64url')

/** A service-auth JWT signed by ``keypair`` (what an old PDS issues in a migration). */
async function serviceJwt(keypair, iss, aud, lxm) {
  const now = Math.floor(Date.now() / 1000)
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: keypair.jwtAlg }))
  const payload = b64url(
    JSON.stringify({ iat: now, exp: now + 120, iss, aud, lxm, jti: `harness-${now}-${Math.random()}` }),
  )
  const signature = await keypair.sign(Buffer.from(`${header}.${payload}`))
  return `${header}.${payload}.${b64url(signature)}`
}

async function newKey() {
  const keypair = await Secp256k1Keypair.create({ exportable: true })
  return { keypair, did: keypair.did(), privateKeyHex: Buffer.from(await keypair.export()).toString('hex') }
}

// --- seeding ----------------------------------------------------------------------------------

class Seeder {
  constructor({ xrpc, plcUrl, pdsUrl, pdsDid }) {
    this.xrpc = xrpc
    this.plcClient = new plcLib.Client(plcUrl)
    this.pdsUrl = pdsUrl
    this.pdsDid = pdsDid
    this.clock = 0
  }

  createdAt() {
    this.clock += 1
    return new Date(BASE_TIME + this.clock * 60_000).toISOString()
  }

  async create(handle, extra = {}, auth = undefined) {
    const body = { handle, email: `${handle.split('.')[0]}@harness.test`, password: PASSWORD, ...extra }
    const session = await this.xrpc('com.atproto.server.createAccount', { body, token: auth })
    return {
      did: session.did,
      token: session.accessJwt,
      handle,
      handles: [handle],
      records: [],
      blobs: [],
      status: 'active',
      user_keys: [],
    }
  }

  async write(account, collection, record, rkey = undefined) {
    const body = { repo: account.did, collection, record: { $type: collection, ...record } }
    if (rkey) body.rkey = rkey
    const out = await this.xrpc('com.atproto.repo.createRecord', { body, token: account.token })
    account.records.push({ uri: out.uri, cid: out.cid, collection, rkey: out.uri.split('/').pop() })
    return out
  }

  async post(account, text, embed = undefined) {
    return this.write(account, 'app.bsky.feed.post', {
      text,
      createdAt: this.createdAt(),
      ...(embed ? { embed } : {}),
    })
  }

  async upload(account, bytes) {
    const out = await this.xrpc('com.atproto.repo.uploadBlob', {
      bytes,
      contentType: 'image/png',
      token: account.token,
    })
    account.blobs.push(out.blob.ref.$link)
    return out.blob
  }

  async commit(account) {
    const head = await this.xrpc('com.atproto.sync.getLatestCommit', { params: { did: account.did } })
    account.commit = { cid: head.cid, rev: head.rev }
  }

  async plcData(account) {
    const data = await this.plcClient.getDocumentData(account.did)
    account.rotation_keys = data.rotationKeys
    account.signing_key = data.verificationMethods.atproto
    account.plc_operations = (await this.plcClient.getAuditableLog(account.did)).length
  }

  /** The default account: posts, a like, and a profile with an avatar blob. */
  async defaultAccount() {
    const account = await this.create('alice.test')
    const avatar = await this.upload(account, png(200, 40, 40))
    await this.write(
      account,
      'app.bsky.actor.profile',
      { displayName: 'Alice (reference PDS)', description: 'Seeded by the harness', avatar },
      'self',
    )
    const photo = await this.upload(account, png(40, 40, 200))
    const first = await this.post(account, 'Hello from the reference PDS', {
      $type: 'app.bsky.embed.images',
      images: [{ image: photo, alt: 'a blue square' }],
    })
    await this.post(account, 'A second post')
    await this.post(account, 'A third post')
    await this.write(account, 'app.bsky.feed.like', {
      subject: { uri: first.uri, cid: first.cid },
      createdAt: this.createdAt(),
    })
    account.txt = true
    account.role = 'default'
    return account
  }

  /** createAccount with the user's own did:key as recoveryKey: rotation key #0 is the user's. */
  async recoveryKeyAccount() {
    const key = await newKey()
    const account = await this.create('bob.test', { recoveryKey: key.did })
    await this.post(account, 'My own key outranks my PDS')
    account.user_keys.push({ did_key: key.did, private_key_hex: key.privateKeyHex })
    account.txt = true
    account.role = 'recovery-key'
    return account
  }

  /** A handle change through the PDS (updateHandle adds a PLC operation). */
  async renamedAccount() {
    const account = await this.create('carol-was.test')
    await this.post(account, 'Posted under my first handle')
    await this.xrpc('com.atproto.identity.updateHandle', {
      body: { handle: 'carol.test' },
      token: account.token,
    })
    account.handle = 'carol.test'
    account.handles.push('carol.test')
    await this.post(account, 'Posted under my second handle')
    account.txt = false // resolves by HTTPS only: the PDS's /.well-known/atproto-did
    account.role = 'renamed'
    return account
  }

  /** The user's key (rotation key #0) updates the identity directly at the PLC directory. */
  async directlyUpdatedAccount() {
    const key = await newKey()
    const backup = await newKey()
    const account = await this.create('dave.test', { recoveryKey: key.did })
    await this.post(account, 'I manage my identity myself')
    const data = await this.plcClient.getDocumentData(account.did)
    // Add a second key of the user's, below the first and above the PDS's.
    const rotationKeys = [key.did, backup.did, ...data.rotationKeys.filter((k) => k !== key.did)]
    await this.plcClient.updateRotationKeys(account.did, key.keypair, rotationKeys)
    account.user_keys.push({ did_key: key.did, private_key_hex: key.privateKeyHex })
    account.user_keys.push({ did_key: backup.did, private_key_hex: backup.privateKeyHex })
    account.txt = true
    account.role = 'plc-direct-update'
    return account
  }

  /** did:web through the migration-style flow: createAccount with an existing DID. */
  async webAccount(web) {
    const did = `did:web:localhost%3A${web.port}`
    const handle = 'erin.test'
    const first = await newKey()
    const document = (signingKey) => ({
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
      id: did,
      alsoKnownAs: [`at://${handle}`],
      verificationMethod: [
        {
          id: `${did}#atproto`,
          type: 'Multikey',
          controller: did,
          publicKeyMultibase: signingKey.replace('did:key:', ''),
        },
      ],
      service: [
        { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: this.pdsUrl },
      ],
    })
    web.documents.current = document(first.did)
    const jwt = await serviceJwt(first.keypair, did, this.pdsDid, 'com.atproto.server.createAccount')
    const account = await this.create(handle, { did }, jwt)
    const credentials = await this.xrpc('com.atproto.identity.getRecommendedDidCredentials', {
      token: account.token,
    })
    web.documents.current = document(credentials.verificationMethods.atproto)
    await this.xrpc('com.atproto.server.activateAccount', { post: true, token: account.token })
    await this.post(account, 'My identity lives on a web domain')
    account.signing_key = credentials.verificationMethods.atproto
    account.rotation_keys = null
    account.did_document = web.documents.current
    account.txt = true
    account.role = 'did-web'
    return account
  }

  async deactivatedAccount() {
    const account = await this.create('frank.test')
    await this.post(account, 'Taking a break')
    await this.commit(account)
    await this.xrpc('com.atproto.server.deactivateAccount', { body: {}, token: account.token })
    account.status = 'deactivated'
    account.txt = true
    account.role = 'deactivated'
    return account
  }

  async takenDownAccount() {
    const account = await this.create('grace.test')
    await this.post(account, 'About to be taken down')
    await this.commit(account)
    await this.xrpc('com.atproto.admin.updateSubjectStatus', {
      body: {
        subject: { $type: 'com.atproto.admin.defs#repoRef', did: account.did },
        takedown: { applied: true, ref: 'harness-takedown' },
      },
      basic: `admin:${ADMIN_PASSWORD}`,
    })
    account.status = 'takendown'
    account.txt = true
    account.role = 'taken-down'
    return account
  }
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2))
  const stops = []
  let stopping = null
  const shutdown = async (code) => {
    if (stopping) return stopping
    stopping = (async () => {
      const timer = setTimeout(() => process.exit(code || 1), 10_000)
      timer.unref()
      for (const stop of stops.reverse()) {
        try {
          await stop()
        } catch (err) {
          process.stderr.write(`harness: shutdown step failed: ${err?.stack ?? err}\n`)
        }
      }
      process.exit(code)
    })()
    return stopping
  }
  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(0))
  process.stdin.on('end', () => shutdown(0)) // the parent died or closed our stdin
  process.stdin.on('error', () => shutdown(0))
  process.stdin.resume()

  try {
    const plc = await startPlc(options.plcPort)
    stops.push(plc.destroy)
    const web = await startWebHost(options.webPort)
    stops.push(web.destroy)
    const rotation = await newKey()
    const started = await startPds({
      port: options.pdsPort,
      plcUrl: plc.url,
      crawler: options.crawler,
      dataDir: options.dataDir,
      rotationKeyHex: rotation.privateKeyHex,
    })
    stops.push(() => started.pds.destroy())
    const xrpc = xrpcClient(started.api)
    const server = await xrpc('com.atproto.server.describeServer')
    const health = await (await fetch(`${started.api}/xrpc/_health`)).json()
    const seeder = new Seeder({
      xrpc,
      plcUrl: plc.url,
      pdsUrl: started.url,
      pdsDid: server.did,
    })
    const accounts = [
      await seeder.defaultAccount(),
      await seeder.recoveryKeyAccount(),
      await seeder.renamedAccount(),
      await seeder.directlyUpdatedAccount(),
      await seeder.webAccount(web),
    ]
    for (const account of accounts) await seeder.commit(account)
    accounts.push(await seeder.deactivatedAccount(), await seeder.takenDownAccount())
    for (const account of accounts) {
      if (account.did.startsWith('did:plc:')) await seeder.plcData(account)
      delete account.token
    }
    const description = {
      host: HOST,
      plc: { port: plc.port, url: plc.url },
      pds: {
        port: started.port,
        url: started.url,
        did: server.did,
        version: health.version,
        rotation_key: rotation.did,
        available_user_domains: server.availableUserDomains,
        admin_password: ADMIN_PASSWORD,
      },
      web: { port: web.port, url: `http://localhost:${web.port}` },
      crawler: options.crawler,
      accounts: Object.fromEntries(accounts.map((a) => [a.role, a])),
    }
    process.stdout.write(`${READY}${JSON.stringify(description)}\n`)
  } catch (err) {
    const message = err instanceof HarnessError ? err.message : (err?.stack ?? String(err))
    process.stderr.write(`HARNESS-ERROR ${message}\n`)
    await shutdown(2)
  }
}

main()
