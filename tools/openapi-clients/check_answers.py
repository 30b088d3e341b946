"""Validates bonin's answers against the schemas its OpenAPI document gives them.

Usage: check_answers.py OPENAPI_JSON SAMPLES_JSON

SAMPLES_JSON is a list of {"what", "schema", "value", "invalid"?}: each value is validated against
components.schemas[schema] (JSON Schema 2020-12, the dialect of OpenAPI 3.1), with $refs resolved
in the document. A sample marked "invalid" must fail (the check can fail). Exits non-zero on the
first mismatch. Run by crates/app/tests/openapi_clients.rs.
"""

import json
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:bonin:openapi"


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        document = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        samples = json.load(f)
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012))
    failures = 0
    for sample in samples:
        schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{sample['schema']}"}
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        errors = sorted(validator.iter_errors(sample["value"]), key=lambda e: list(e.path))
        expected_invalid = sample.get("invalid", False)
        if errors and not expected_invalid:
            failures += 1
            print(f"FAIL {sample['what']}: does not match {sample['schema']}")
            for error in errors[:5]:
                print(f"  at /{'/'.join(map(str, error.path))}: {error.message[:300]}")
        elif expected_invalid and not errors:
            failures += 1
            print(f"FAIL {sample['what']}: matches {sample['schema']} but must not")
        else:
            print(f"ok   {sample['what']}")
    print(f"{len(samples) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
