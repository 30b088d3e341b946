// PortOne's official server SDK as a client of bonin's PortOne V2 simulator, and as a verifier of
// webhook signatures made by the simulator and by bonin. Driven by the PortOne crate's `tests/official_sdk.rs`, which
// passes the simulator's address and credentials in the environment.
import assert from "node:assert/strict";
import { PortOneClient, Webhook } from "@portone/server-sdk";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const baseUrl = env("PORTONE_SIM_URL");
const secret = env("PORTONE_SIM_SECRET");
const storeId = env("PORTONE_SIM_STORE_ID");
const channelKey = env("PORTONE_SIM_CHANNEL_KEY");
const ours = JSON.parse(env("BONIN_SIGNED_WEBHOOK"));

const client = PortOneClient({ secret, baseUrl, storeId }).identityVerification;
const step = (name) => console.log(`ok - ${name}`);

async function refused(promise, type) {
  try {
    await promise;
  } catch (error) {
    assert.equal(error.data?.type, type, `expected ${type}, got ${JSON.stringify(error.data)}`);
    return error;
  }
  assert.fail(`expected ${type}, the call succeeded`);
}

const id = `sdk-check-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const customer = { name: "홍길동", phoneNumber: "01012345678", identityNumber: "9002151", ipAddress: "203.0.113.7" };

await refused(client.getIdentityVerification({ identityVerificationId: id }), "IDENTITY_VERIFICATION_NOT_FOUND");
step("get of an unknown id is IDENTITY_VERIFICATION_NOT_FOUND");

await refused(client.confirmIdentityVerification({ identityVerificationId: id, otp: "123456" }), "IDENTITY_VERIFICATION_NOT_FOUND");
step("confirm before send is refused");

await refused(
  client.sendIdentityVerification({ identityVerificationId: id, channelKey: "no-such-channel", customer, operator: "SKT", method: "SMS" }),
  "CHANNEL_NOT_FOUND",
);
step("send with an unknown channel is CHANNEL_NOT_FOUND");

assert.deepEqual(
  await client.sendIdentityVerification({ identityVerificationId: id, channelKey, customer, operator: "SKT", method: "SMS" }),
  {},
);
step("send");

await refused(
  client.sendIdentityVerification({ identityVerificationId: id, channelKey, customer, operator: "SKT", method: "SMS" }),
  "IDENTITY_VERIFICATION_ALREADY_SENT",
);
step("a second send without an Idempotency-Key is IDENTITY_VERIFICATION_ALREADY_SENT");

assert.deepEqual(await client.resendIdentityVerification({ identityVerificationId: id }), {});
step("resend");

const wrong = await refused(client.confirmIdentityVerification({ identityVerificationId: id, otp: "000000" }), "PG_PROVIDER");
assert.ok(wrong.data.pgCode, "PG_PROVIDER carries pgCode");
step("a wrong code is PG_PROVIDER with pgCode");

const confirmed = await client.confirmIdentityVerification({ identityVerificationId: id, otp: "123456" });
assert.equal(confirmed.identityVerification.status, "VERIFIED");
assert.equal(confirmed.identityVerification.verifiedCustomer.name, "홍길동");
assert.equal(confirmed.identityVerification.verifiedCustomer.birthDate, "1990-02-15");
step("confirm");

const read = await client.getIdentityVerification({ identityVerificationId: id });
assert.equal(read.status, "VERIFIED");
assert.equal(read.id, id);
assert.ok(!Number.isNaN(Date.parse(read.verifiedAt)), "verifiedAt is RFC 3339");
step("get after confirm is VERIFIED");

await refused(client.confirmIdentityVerification({ identityVerificationId: id, otp: "123456" }), "IDENTITY_VERIFICATION_ALREADY_VERIFIED");
step("a second confirm is IDENTITY_VERIFICATION_ALREADY_VERIFIED");

const listed = await client.getIdentityVerifications({ filter: { identityVerificationId: id }, page: { number: 0, size: 10 } });
assert.equal(listed.items.length, 1);
assert.equal(listed.page.totalCount, 1);
step("list filtered by id");

const stranger = PortOneClient({ secret: "not-the-secret", baseUrl }).identityVerification;
await refused(stranger.getIdentityVerification({ identityVerificationId: id }), "UNAUTHORIZED");
// The SDK sends a GET's storeId only when the call names one (the client-level storeId is for bodies).
await refused(client.getIdentityVerification({ identityVerificationId: id, storeId: "store-of-someone-else" }), "FORBIDDEN");
step("a wrong secret is UNAUTHORIZED, a foreign store FORBIDDEN");

// Webhooks: the simulator's signature, then bonin's, each checked by the SDK.
const simulated = await (await fetch(`${baseUrl}/_sandbox/portone/webhook`, {
  method: "POST",
  body: JSON.stringify({ type: "Transaction.Paid", timestamp: new Date().toISOString(), data: { storeId, paymentId: "p-1", transactionId: "t-1" } }),
})).json();
const payload = await Webhook.verify(simulated.secret, simulated.body, simulated.headers);
assert.equal(payload.type, "Transaction.Paid");
await assert.rejects(Webhook.verify(simulated.secret, simulated.body.replace("p-1", "p-2"), simulated.headers));
step("the SDK verifies the simulator's webhook signature and refuses a tampered body");

const verified = await Webhook.verify(ours.secret, ours.body, ours.headers);
assert.equal(verified.type, ours.type);
await assert.rejects(Webhook.verify(ours.secret, ours.body + " ", ours.headers));
await assert.rejects(Webhook.verify("whsec_" + Buffer.from("another secret").toString("base64"), ours.body, ours.headers));
step("the SDK verifies bonin's webhook signature and refuses a tampered body or another secret");

// Console secrets may come without Base64 padding; the SDK takes them, and so does bonin's verifier.
const unpadded = ours.secret.replace(/=+$/, "");
assert.notEqual(unpadded, ours.secret);
assert.equal((await Webhook.verify(unpadded, ours.body, ours.headers)).type, ours.type);
step("the SDK takes the same secret without its Base64 padding");

console.log(`portone-sdk: all checks passed (${id})`);
