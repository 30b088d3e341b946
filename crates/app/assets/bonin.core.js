/*! bonin.js: opens a bonin verification's provider UI and resolves its outcome. No dependencies. */
(function (global) {
  "use strict";

  var current = global.document && global.document.currentScript;
  // The origin bonin's landing posts from: the one this script came from (or, bundled into the
  // page, the page's own), unless `Bonin.configure({origin})` names it.
  var config = { origin: current && current.src ? new URL(current.src, global.location.href).origin : global.location.origin };
  var FEATURES = "width=480,height=720";
  var PENDING_KEY = "bonin:pending";
  var counter = 0;

  /** A failure bonin.js can name: `code` is stable, `message` is for people. */
  function BoninError(code, message) {
    this.name = "BoninError";
    this.code = code;
    this.message = message;
    this.stack = new Error(message).stack;
  }
  BoninError.prototype = Object.create(Error.prototype);
  BoninError.prototype.constructor = BoninError;

  var LAUNCHERS = {};
  /*@LAUNCHERS@*/

  var scripts = {};
  function loadScript(url) {
    if (!scripts[url]) {
      scripts[url] = new Promise(function (resolve, reject) {
        var element = global.document.createElement("script");
        element.src = url;
        element.async = true;
        element.onload = function () { resolve(); };
        element.onerror = function () {
          delete scripts[url];
          reject(new BoninError("script_failed", "the provider's script could not be loaded"));
        };
        global.document.head.appendChild(element);
      });
    }
    return scripts[url];
  }

  function outcome(body, providerResult) {
    var result = { verification_id: String(body.verification_id), status: String(body.status) };
    if (body.error) { result.error = String(body.error); }
    if (providerResult !== undefined) { result.provider_result = providerResult; }
    return result;
  }

  // Schemes a launch never navigates to: they would run script, or show local or inline content,
  // with the host page's (or its popup's) origin.
  var UNSAFE_SCHEMES = ["javascript:", "data:", "vbscript:", "blob:", "file:", "about:", "filesystem:"];
  function safeUrl(url) {
    if (typeof url !== "string" || !url) { return null; }
    var parsed;
    try { parsed = new URL(url, global.location.href); } catch (ignored) { return null; }
    return UNSAFE_SCHEMES.indexOf(parsed.protocol.toLowerCase()) === -1 ? parsed.toString() : null;
  }

  // NICE's kind (and any provider's plain form): post the fields, into the popup when there is one.
  function submitForm(launch, ctx) {
    var action = safeUrl(launch.action);
    if (!action) {
      ctx.reject("unsafe_launch", "the launch's form action is not a web address");
      return;
    }
    var form = global.document.createElement("form");
    form.method = launch.method || "post";
    form.action = action;
    form.style.display = "none";
    (launch.fields || []).forEach(function (field) {
      var input = global.document.createElement("input");
      input.type = "hidden";
      input.name = field.name;
      input.value = field.value;
      form.appendChild(input);
    });
    if (ctx.window) {
      form.target = ctx.window.name;
      ctx.watchClosed();
    }
    global.document.body.appendChild(form);
    form.submit();
    global.document.body.removeChild(form);
  }

  function run(verification, display, popup, options) {
    return new Promise(function (resolve, reject) {
      var settled = false;
      var cleanups = [];
      function settle(error, result) {
        if (settled) { return; }
        settled = true;
        cleanups.forEach(function (cleanup) { cleanup(); });
        if (error) { reject(error); } else { resolve(result); }
      }
      var id = verification.id;
      var ctx = {
        verification: verification,
        display: display,
        window: popup,
        origin: config.origin,
        loadScript: loadScript,
        // Moves `target` (the popup, or this page when there is none) to `url`, unless it is not a
        // web or app address (`javascript:`, `data:`, …): then rejects with `unsafe_launch`.
        navigate: function (url) {
          var safe = safeUrl(url);
          if (!safe) { ctx.reject("unsafe_launch", "the launch named an address that is not a web or app address"); return false; }
          if (popup) { popup.location.href = safe; } else { global.location.href = safe; }
          return true;
        },
        resolve: function (body, providerResult) { settle(null, outcome(body, providerResult)); },
        reject: function (code, message) {
          if (popup && !popup.closed) { popup.close(); }
          settle(new BoninError(code, message));
        },
        // Hands the provider's answer to bonin's landing, which completes the verification with
        // the provider and answers `{verification_id, status, error}`.
        land: function (url, params, providerResult) {
          var target = new URL(url, global.location.href);
          Object.keys(params || {}).forEach(function (key) {
            var value = params[key];
            if (value !== undefined && value !== null && typeof value !== "object") { target.searchParams.set(key, String(value)); }
          });
          return global.fetch(target.toString(), { headers: { accept: "application/json" }, credentials: "omit" })
            .then(function (response) {
              var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
              if (!response.ok || !json) { throw new BoninError("landing_failed", "bonin's landing answered " + response.status); }
              return response.json();
            })
            .then(function (body) { ctx.resolve(body, providerResult); },
              function (error) { ctx.reject(error.code || "landing_failed", error.message || "bonin's landing could not be reached"); });
        },
        // A function on `window` the provider's SDK can call back by name.
        callbackName: function (callback) {
          var name = "__bonin_callback_" + (++counter);
          global[name] = function () { delete global[name]; return callback.apply(null, arguments); };
          cleanups.push(function () { delete global[name]; });
          return name;
        },
        // An approval in an app: no landing tells the page; follow it with the host's `poll`.
        follow: function () {
          if (typeof options.poll !== "function") {
            settle(null, { verification_id: id, status: "pending" });
            return;
          }
          var interval = options.pollIntervalMs > 0 ? options.pollIntervalMs : 2000;
          var timer = null;
          cleanups.push(function () { if (timer) { global.clearTimeout(timer); } });
          var next = function () {
            Promise.resolve(options.poll(id)).then(function (answer) {
              var status = typeof answer === "string" ? answer : answer && answer.status;
              if (status && status !== "pending" && status !== "otp_sent") {
                settle(null, outcome({ verification_id: id, status: status, error: answer && answer.error && (answer.error.code || answer.error) }));
              } else if (!settled) { timer = global.setTimeout(next, interval); }
            }, function () { if (!settled) { timer = global.setTimeout(next, interval * 2); } });
          };
          timer = global.setTimeout(next, interval);
        },
        // Rejects with `popup_closed` once the popup is closed and no outcome came shortly after.
        watchClosed: function () {
          if (!popup) { return; }
          var timer = global.setInterval(function () {
            if (!popup.closed) { return; }
            global.clearInterval(timer);
            global.setTimeout(function () { settle(new BoninError("popup_closed", "the window was closed before the verification ended")); }, 1500);
          }, 500);
          cleanups.push(function () { global.clearInterval(timer); });
        }
      };
      if (popup) {
        // The landing in the popup posts `{type: "bonin:verification", …}` to this page's origin.
        // Only that window, showing bonin's origin, is heard: a message from any other window or
        // frame (of whatever origin) is ignored.
        var onMessage = function (event) {
          var data = event.data;
          if (event.source !== popup || event.origin !== config.origin || !data || data.type !== "bonin:verification" || data.verification_id !== id) { return; }
          settle(null, outcome(data));
        };
        global.addEventListener("message", onMessage);
        cleanups.push(function () { global.removeEventListener("message", onMessage); });
      } else {
        try { global.sessionStorage.setItem(PENDING_KEY, id); } catch (ignored) { /* storage may be off */ }
      }
      var launch = verification.launch;
      var launcher = launch.kind === "form" ? submitForm : LAUNCHERS[launch.kind];
      if (typeof launcher !== "function") {
        ctx.reject("unsupported_launch", "this bonin.js cannot open a launch of kind " + launch.kind);
        return;
      }
      try {
        Promise.resolve(launcher(launch, ctx)).then(null, function (error) {
          ctx.reject(error && error.code ? error.code : "script_failed", error && error.message ? error.message : "the provider's script failed");
        });
      } catch (error) {
        ctx.reject("script_failed", error && error.message ? error.message : "the provider's script failed");
      }
    });
  }

  function check(verification) {
    if (!verification || typeof verification.id !== "string" || !verification.launch || typeof verification.launch.kind !== "string") {
      throw new BoninError("invalid_verification", "expected the verification bonin answered (with `id` and `launch`)");
    }
    return verification;
  }

  /**
   * Opens the provider UI of `source` (a verification with its `launch`, a Promise of one, or a
   * function returning either) and resolves `{verification_id, status, error?, provider_result?}`.
   * Popup display opens the window at once, before `source` is awaited, so call it straight from
   * the click handler.
   */
  function open(source, options) {
    options = options || {};
    var display = options.display === "page" ? "page" : "popup";
    var popup = null;
    if (display === "popup") {
      popup = global.open("", "bonin_" + Date.now().toString(36) + "_" + (++counter), options.features || FEATURES);
      if (!popup) {
        if (options.fallback !== "page") {
          return Promise.reject(new BoninError("popup_blocked", "the browser blocked the verification window"));
        }
        display = "page";
      }
    }
    var verification;
    try {
      verification = Promise.resolve(typeof source === "function" ? source() : source);
    } catch (error) {
      verification = Promise.reject(error);
    }
    return verification.then(check).then(function (v) {
      return run(v, display, popup, options);
    }, function (error) {
      if (popup && !popup.closed) { popup.close(); }
      throw error;
    });
  }

  /**
   * The outcome bonin sent the browser back with, read from the return URL's query (page display);
   * `null` when it names no verification.
   */
  function result(search) {
    var params = new URLSearchParams(search === undefined ? global.location.search : search);
    var id = params.get("verification_id");
    var stored = null;
    try { stored = global.sessionStorage.getItem(PENDING_KEY); global.sessionStorage.removeItem(PENDING_KEY); } catch (ignored) { /* storage may be off */ }
    if (!id) { return stored ? { verification_id: stored, status: "pending" } : null; }
    return outcome({ verification_id: id, status: params.get("status") || "pending", error: params.get("error") });
  }

  function configure(settings) {
    if (settings && typeof settings.origin === "string") { config.origin = new URL(settings.origin).origin; }
  }

  global.Bonin = Object.freeze({
    open: open,
    result: result,
    configure: configure,
    BoninError: BoninError,
    kinds: Object.freeze(["form"].concat(Object.keys(LAUNCHERS)))
  });
})(window);
