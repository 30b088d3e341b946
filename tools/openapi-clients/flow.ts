// One whole sandbox verification through a client generated from bonin's OpenAPI document
// (openapi-typescript → generated/api.d.ts, openapi-fetch): start a window verification, play the
// simulated window as a persona, complete with the callback's parameters, read the identity.
// Usage: node generated/build/flow.js BONIN_URL SIMULATOR_URL API_KEY
// Run by crates/app/tests/openapi_clients.rs, which generates the types from the served document.

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

type Verification = components["schemas"]["Verification"];

declare const process: { argv: string[]; exitCode?: number };

const [bonin, simulator, apiKey] = process.argv.slice(2);
if (bonin === undefined || simulator === undefined || apiKey === undefined) {
  throw new Error("usage: flow.js BONIN_URL SIMULATOR_URL API_KEY");
}

const client = createClient<paths>({ baseUrl: bonin, headers: { Authorization: `Bearer ${apiKey}` } });

const started = await client.POST("/v1/verifications", {
  body: { provider: "nice", method: "window", display: "page", return_url: `${bonin}/demo/done` },
});
if (started.error !== undefined || started.response.status !== 201) {
  throw new Error(`start answered ${started.response.status}: ${JSON.stringify(started.error)}`);
}
const verification: Verification = started.data;
const launch = verification.launch;
if (launch === undefined || launch === null || launch.kind !== "form") {
  throw new Error(`expected a form launch, got ${JSON.stringify(launch)}`);
}
// The discriminated union narrows to the form's shape.
const action: string = launch.action;

// The simulated window, played as a persona (the sandbox's control API, not bonin's).
const play = await fetch(`${simulator}/_sandbox/play`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ launch, persona: "hong" }),
});
if (!play.ok) {
  throw new Error(`play answered ${play.status}`);
}
const played = (await play.json()) as { callback: { fields: [string, string][] } };
const params: Record<string, string> = Object.fromEntries(played.callback.fields);

const completed = await client.POST("/v1/verifications/{id}/complete", {
  params: { path: { id: verification.id } },
  body: { params },
});
if (completed.error !== undefined || completed.data.status !== "verified") {
  throw new Error(`complete answered ${completed.response.status}: ${JSON.stringify(completed.error ?? completed.data)}`);
}

const read = await client.GET("/v1/verifications/{id}", { params: { path: { id: verification.id } } });
if (read.error !== undefined) {
  throw new Error(`read answered ${read.response.status}`);
}
const identity = read.data.identity;
if (read.data.status !== "verified" || identity === undefined || identity === null || typeof identity.name !== "string") {
  throw new Error("the read carries no verified identity");
}
const requestId = read.response.headers.get("x-request-id");
if (requestId === null) {
  throw new Error("no x-request-id on the answer");
}

const missing = await client.GET("/v1/verifications/{id}", { params: { path: { id: "nope" } } });
if (missing.error === undefined || missing.error.code !== "not_found") {
  throw new Error(`an unknown id answered ${missing.response.status}`);
}

console.log(`typescript client: verified through ${action} (provider ${identity.provider}, request ${requestId})`);
