// Drives cephdr's services with an independent NATS client (npm `nats`), the way an operator's
// tools would, and prints what it saw as JSON. It judges nothing: tests/system/test_npm_client.py
// decides what is right, so a wrong reply can't be hidden by a lenient script.
//
// Input (stdin): {"steps": [...]}, each step one of
//   {"op": "request", "subject": "...", "body": "<raw text, sent as is>", "timeout_ms": 5000}
//   {"op": "ping" | "info" | "stats", "service": "cephdr-agent", "expect": 2, "max_wait_ms": 10000}
//     (nc.services.client(): every reply until `expect` came or max_wait_ms passed)
// Output (stdout): {"results": [...]}, one per step, in order.
// Environment: CEPHDR_NATS_URL; CEPHDR_NATS_CREDS (a .creds file, or an nkey seed file, or empty
// for no auth); CEPHDR_NATS_NAME (connection name); CEPHDR_NATS_INBOX (inbox prefix, so
// per-role permissions on reply subjects apply to this client as to the python ones).
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, ErrorCode, nkeyAuthenticator, RequestStrategy } from "nats";

function authenticator(path) {
  if (!path) return undefined;
  const bytes = readFileSync(path);
  if (path.endsWith(".creds")) return credsAuthenticator(new Uint8Array(bytes));
  return nkeyAuthenticator(new TextEncoder().encode(bytes.toString("utf8").trim()));
}

function headersOf(msg) {
  const out = {};
  if (!msg.headers) return out;
  for (const k of msg.headers.keys()) out[k] = msg.headers.values(k);
  return out;
}

async function request(nc, step) {
  const data = new TextEncoder().encode(step.body ?? "");
  try {
    const msg = await nc.request(step.subject, data, { timeout: step.timeout_ms ?? 5000 });
    const text = new TextDecoder().decode(msg.data);
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { ok: true, headers: headersOf(msg), data: text, json };
  } catch (err) {
    const code = err?.code ?? "";
    const kind = code === ErrorCode.NoResponders ? "no_responders"
      : code === ErrorCode.Timeout ? "timeout" : "other";
    return { ok: false, error: kind, code: String(code), message: String(err?.message ?? err) };
  }
}

async function discover(nc, step) {
  // natscli waits out its timeout for every instance; the default jitter strategy would stop
  // 300 ms after the latest reply and miss a slow instance. With `expect`, stop at that count.
  const client = nc.services.client(step.expect
    ? { strategy: RequestStrategy.Count, maxMessages: step.expect, maxWait: step.max_wait_ms ?? 10000 }
    : { strategy: RequestStrategy.Timer, maxWait: step.max_wait_ms ?? 2000 });
  const iter = await client[step.op](step.service);
  const replies = [];
  for await (const r of iter) replies.push(r);
  return { ok: true, replies };
}

async function main() {
  const plan = JSON.parse(readFileSync(0, "utf8"));
  const nc = await connect({
    servers: process.env.CEPHDR_NATS_URL,
    name: process.env.CEPHDR_NATS_NAME || "cephdr-npm-compat",
    inboxPrefix: process.env.CEPHDR_NATS_INBOX || undefined,
    authenticator: authenticator(process.env.CEPHDR_NATS_CREDS || ""),
    timeout: 5000,
    maxReconnectAttempts: 0,
  });
  const results = [];
  try {
    for (const step of plan.steps) {
      results.push(step.op === "request" ? await request(nc, step) : await discover(nc, step));
    }
  } finally {
    await nc.close();
  }
  process.stdout.write(JSON.stringify({ results }) + "\n");
}

main().catch((err) => {
  process.stderr.write(`compat.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
