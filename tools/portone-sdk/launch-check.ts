// The `PortOne.requestIdentityVerification` parameters bonin's PortOne V2 adapter emits, checked
// against the official browser SDK's own `IdentityVerificationRequest` type with `tsc --strict`
// (nothing is emitted or run). The PortOne crate's `tests/official_sdk.rs` writes `generated/launches.ts`: one launch
// per configuration variant, serialized by the adapter itself.
//
// A launch passes only if it is assignable to the SDK's type *and* has no key the type lacks, at
// any depth: a plain assignment would let `customer.name` (PortOne reads `fullName`) or a
// REST-only `bypass.kcpV2.media_type` through, because TypeScript checks excess keys of object
// literals only.
import type { IdentityVerificationRequest } from "@portone/browser-sdk/v2";
import { launches } from "./generated/launches.js";

/** `Actual`, with each key `Expected` does not have (at any depth) turned into `never`. */
type Exact<Expected, Actual> = Actual extends readonly unknown[]
  ? Actual
  : Actual extends object
    ? {
        [K in keyof Actual]: K extends keyof NonNullable<Expected>
          ? Exact<NonNullable<NonNullable<Expected>[K]>, Actual[K]>
          : never;
      }
    : Actual;

/** Every launch, each required to be an exact `IdentityVerificationRequest`. */
type Checked<L> = {
  [K in keyof L]: L[K] extends IdentityVerificationRequest ? Exact<IdentityVerificationRequest, L[K]> : never;
};

export const checked: Checked<typeof launches> = launches;

// The variants the adapter must have produced.
type Variant =
  | "plain"
  | "page"
  | "minAge"
  | "prefill"
  | "prefillNameOnly"
  | "prefillCarrierOnly"
  | "company"
  | "windowTypes"
  | "kcp"
  | "inicis"
  | "everything";
export const variants: Record<Variant, IdentityVerificationRequest> = launches;

// The check itself must bite: each of these shapes is wrong, and tsc fails if it is not refused.
function check<const A extends IdentityVerificationRequest>(launch: A & Exact<IdentityVerificationRequest, A>): A {
  return launch;
}
const wrong = {
  customerName: { storeId: "s", identityVerificationId: "i", customer: { name: "홍길동", phoneNumber: "01012345678" } },
  restOnlyKcp: { storeId: "s", identityVerificationId: "i", bypass: { kcpV2: { media_type: "MC01", web_siteid: "J" } } },
  lowerCaseWindow: { storeId: "s", identityVerificationId: "i", windowType: { pc: "popup" } },
  textAgeLimit: { storeId: "s", identityVerificationId: "i", bypass: { danal: { AGELIMIT: "19" } } },
  nullRedirect: { storeId: "s", identityVerificationId: "i", redirectUrl: null },
  unknownKey: { storeId: "s", identityVerificationId: "i", minAge: 19 },
} as const;
// @ts-expect-error `Customer` has `fullName`, not `name`.
check(wrong.customerName);
// @ts-expect-error `media_type` is a REST send parameter; the SDK's `kcpV2` takes `web_siteid` only.
check(wrong.restOnlyKcp);
// @ts-expect-error window types are upper case.
check(wrong.lowerCaseWindow);
// @ts-expect-error `AGELIMIT` is a number.
check(wrong.textAgeLimit);
// @ts-expect-error an absent field is left out, never `null`.
check(wrong.nullRedirect);
// @ts-expect-error a key the SDK does not know.
check(wrong.unknownKey);
