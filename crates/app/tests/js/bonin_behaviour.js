// bonin.js in a scripted window (node's vm): which messages settle a popup verification, and what
// the Toss launcher does without an address. Run by crates/app/tests/bonin_js.rs as
// `node bonin_behaviour.js <bonin.js>`; exits non-zero with the failed check.
"use strict";
const assert = require("assert");
const fs = require("fs");
const vm = require("vm");

const source = fs.readFileSync(process.argv[2], "utf8");
const BONIN = "https://bonin.example";

function element() {
  return { style: {}, appendChild() {}, removeChild() {}, submit() {}, setAttribute() {} };
}

/** A fresh page on https://shop.example that loaded bonin.js from BONIN. */
function page() {
  const listeners = {};
  const opened = [];
  const win = {
    location: { href: "https://shop.example/checkout", origin: "https://shop.example" },
    document: {
      currentScript: { src: BONIN + "/bonin.js" },
      createElement: element,
      body: element(),
      head: element(),
    },
    sessionStorage: { setItem() {}, getItem() { return null; }, removeItem() {} },
    open(url, name) {
      const popup = { name, closed: false, location: { href: url }, close() { this.closed = true; } };
      opened.push(popup);
      return popup;
    },
    addEventListener(type, listener) { (listeners[type] = listeners[type] || []).push(listener); },
    removeEventListener(type, listener) { listeners[type] = (listeners[type] || []).filter((l) => l !== listener); },
    dispatch(type, event) { (listeners[type] || []).slice().forEach((l) => l(event)); },
    setTimeout, clearTimeout, setInterval, clearInterval, URL, URLSearchParams, console,
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(source, win);
  return { win, opened, Bonin: win.Bonin };
}

/** Follows `promise` from now on: `state()` says, after `ms`, whether and how it settled. */
function track(promise) {
  let state = { pending: true };
  // Plain objects of this realm (the window's objects have its own prototypes).
  promise.then((value) => { state = { resolved: JSON.parse(JSON.stringify(value)) }; }, (error) => { state = { rejected: error && error.code }; });
  return (ms) => new Promise((resolve) => setTimeout(() => resolve(state), ms));
}

const FORM = { id: "vf-msg", launch: { kind: "form", action: BONIN + "/window", method: "post", fields: [] } };

async function onlyThePopupIsHeard() {
  const { win, opened, Bonin } = page();
  const outcome = track(Bonin.open(FORM, { display: "popup" }));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.strictEqual(opened.length, 1, "one popup opened");
  const popup = opened[0];
  const data = { type: "bonin:verification", verification_id: "vf-msg", status: "verified" };
  // Another window or frame, even one showing bonin's origin, is not heard.
  win.dispatch("message", { source: { closed: false }, origin: BONIN, data });
  win.dispatch("message", { source: win, origin: BONIN, data });
  // The popup showing another origin is not heard either.
  win.dispatch("message", { source: popup, origin: "https://evil.example", data });
  assert.deepStrictEqual(await outcome(50), { pending: true }, "a forged message settled the verification");
  // The popup on bonin's origin is.
  win.dispatch("message", { source: popup, origin: BONIN, data });
  assert.deepStrictEqual(await outcome(50), { resolved: { verification_id: "vf-msg", status: "verified" } });
}

async function tossWithoutAnAddressNavigatesNowhere() {
  for (const display of ["popup", "page"]) {
    const { win, opened, Bonin } = page();
    if (!Bonin.kinds.includes("toss")) { return; }
    const launch = { kind: "toss", tx_id: "tx", auth_url: null, app_scheme: null, android_app_uri: null, ios_app_uri: null };
    const outcome = await track(Bonin.open({ id: "vf-toss", launch }, { display, poll: () => "pending" }))(200);
    assert.deepStrictEqual(outcome, { rejected: "unsupported_launch" }, display);
    assert.strictEqual(win.location.href, "https://shop.example/checkout", display + ": the page moved");
    opened.forEach((popup) => {
      assert.strictEqual(popup.location.href, "", display + ": the popup moved");
      assert.ok(popup.closed, display + ": the popup was left open");
    });
  }
  // With only the app scheme, the app is opened.
  const { opened, Bonin } = page();
  const launch = { kind: "toss", tx_id: "tx", auth_url: null, app_scheme: "supertoss://auth?tx=1", android_app_uri: null, ios_app_uri: null };
  const outcome = await track(Bonin.open({ id: "vf-toss", launch }, { display: "popup" }))(50);
  assert.deepStrictEqual(outcome, { resolved: { verification_id: "vf-toss", status: "pending" } });
  assert.strictEqual(opened[0].location.href, "supertoss://auth?tx=1");
}

async function scriptAddressesAreNeverOpened() {
  for (const display of ["popup", "page"]) {
    const { win, opened, Bonin } = page();
    const form = { id: "vf-form", launch: { kind: "form", action: "javascript:alert(1)", method: "post", fields: [] } };
    assert.deepStrictEqual(await track(Bonin.open(form, { display }))(50), { rejected: "unsafe_launch" }, display);
    if (!Bonin.kinds.includes("toss")) { continue; }
    const launch = { kind: "toss", tx_id: "tx", auth_url: null, app_scheme: "JavaScript:opener.document.title='x'", android_app_uri: null, ios_app_uri: null };
    assert.deepStrictEqual(await track(Bonin.open({ id: "vf-toss", launch }, { display }))(50), { rejected: "unsafe_launch" }, display);
    assert.strictEqual(win.location.href, "https://shop.example/checkout", display + ": the page moved");
    opened.forEach((popup) => assert.ok(!/script/i.test(popup.location.href), display + ": the popup ran a script address"));
  }
}

(async () => {
  await scriptAddressesAreNeverOpened();
  await onlyThePopupIsHeard();
  await tossWithoutAnAddressNavigatesNowhere();
  console.log("bonin.js behaviour: ok");
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
