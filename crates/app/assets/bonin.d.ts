// TypeScript declarations for bonin.js (served at /bonin.d.ts): `window.Bonin`.
//
// Call order: the host's backend starts a verification with its API key
// (`POST /v1/verifications`, same `display` as below) and hands the 201 body to the page; the page
// calls `Bonin.open` straight from the click handler (popup display opens its window at once,
// before the body is awaited), and tells its backend the outcome, which reads the verified identity
// with `GET /v1/verifications/{id}` (API key). The browser never holds the API key, and what the
// Promise resolves is the browser's word only: decide on what the backend reads.

declare namespace Bonin {
  /** How the provider's UI is shown: a popup window, or this page moving to it. */
  type Display = "popup" | "page";

  /** A verification's status, as bonin's API names it. */
  type Status = "pending" | "otp_sent" | "verified" | "failed" | "expired";

  /** What the provider's UI needs: `kind` names the shape (`"form"`, or a provider SDK's kind). */
  interface FormLaunch {
    kind: "form";
    action: string;
    method: string;
    fields: ReadonlyArray<{ name: string; value: string }>;
  }

  interface ScriptLaunch {
    kind: string;
    script_url?: string;
    [field: string]: unknown;
  }

  type Launch = FormLaunch | ScriptLaunch;

  /** The `201` body of `POST /v1/verifications` (what bonin.js reads of it). */
  interface Verification {
    id: string;
    launch: Launch;
    provider?: string;
    method?: string;
    status?: Status;
    expires_at?: string;
  }

  /** The outcome the browser learned. */
  interface Result {
    verification_id: string;
    status: Status;
    /** A stable error code (`provider_rejected`, `expired`, …) when the verification did not verify. */
    error?: string;
    /** The provider SDK's own answer, when its SDK resolved one (PortOne's Promise, iamport's `rsp`). */
    provider_result?: unknown;
  }

  type ErrorCode =
    | "popup_blocked"
    | "popup_closed"
    | "unsupported_launch"
    | "unsafe_launch"
    | "invalid_verification"
    | "script_failed"
    | "landing_failed"
    | "provider_error";

  interface OpenOptions {
    /** Default `"popup"`. Use the `display` the verification was started with. */
    display?: Display;
    /** `"page"`: when the popup is blocked, move this page instead of rejecting `popup_blocked`. */
    fallback?: "page" | "none";
    /** `window.open` features of the popup. */
    features?: string;
    /**
     * Approval in an app (no landing reaches the page): asks the host's backend for the status
     * until it is no longer `pending`. Without it the Promise resolves `pending` once the app is
     * open, and the backend follows the verification itself.
     */
    poll?: (verificationId: string) => PromiseLike<Status | { status: Status; error?: { code: string } | string }>;
    /** Milliseconds between polls (default 2000). */
    pollIntervalMs?: number;
  }

  interface Settings {
    /** bonin's origin, where its landing posts from: by default the origin bonin.js was loaded from. */
    origin?: string;
  }

  interface BoninError extends Error {
    readonly name: "BoninError";
    readonly code: ErrorCode;
  }

  interface BoninErrorConstructor {
    new (code: ErrorCode, message: string): BoninError;
    readonly prototype: BoninError;
  }

  type Source = Verification | PromiseLike<Verification> | (() => Verification | PromiseLike<Verification>);

  interface Api {
    /**
     * Opens the verification's provider UI. Popup: resolves once bonin's landing reports (its
     * message is taken from bonin's origin only). Page: this page moves away; the outcome arrives
     * at the return URL (read it with `result()`). Rejects with a `BoninError`.
     */
    open(source: Source, options?: OpenOptions): Promise<Result>;
    /** The outcome in the return URL's query (page display), or `null`. */
    result(search?: string): Result | null;
    configure(settings: Settings): void;
    readonly BoninError: BoninErrorConstructor;
    /** The launch kinds this bonin.js opens. */
    readonly kinds: ReadonlyArray<string>;
  }
}

declare const Bonin: Bonin.Api;

interface Window {
  Bonin: Bonin.Api;
}
