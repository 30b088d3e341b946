// PortOne's official server SDK as a receiver of the events `bonin serve` delivers: every request
// bonin sent (secret, headers, raw body, as the test receiver captured them) must pass
// `Webhook.verify`, and a tampered body or another secret must not. Driven by the app crate's
// `tests/events.rs`, which passes the captured requests as a JSON file in BONIN_EVENTS_FILE.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Webhook } from "@portone/server-sdk";

const file = process.env.BONIN_EVENTS_FILE;
if (!file) throw new Error("BONIN_EVENTS_FILE is not set");
const { secret, requests } = JSON.parse(readFileSync(file, "utf8"));
assert.ok(requests.length > 0, "no requests to check");

for (const { headers, body } of requests) {
  const payload = await Webhook.verify(secret, body, headers);
  assert.equal(payload.type, JSON.parse(body).type);
  await assert.rejects(Webhook.verify(secret, body.replace("verified", "failed"), headers));
  await assert.rejects(Webhook.verify("whsec_" + Buffer.from("another secret").toString("base64"), body, headers));
}
console.log(`ok - the SDK verifies ${requests.length} events bonin delivered and refuses tampered ones`);
