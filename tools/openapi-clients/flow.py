"""One whole sandbox verification through a client generated from bonin's OpenAPI document
(openapi-python-client → package `bonin_client`): start a window verification, play the simulated
window as a persona, complete with the callback's parameters, read the identity.

Usage: flow.py BONIN_URL SIMULATOR_URL API_KEY (with the generated `bonin_client` on PYTHONPATH).
Run by crates/app/tests/openapi_clients.rs, which generates the client from the served document.
"""

import json
import sys
import urllib.request

from bonin_client import AuthenticatedClient
from bonin_client.api.verifications import complete_verification, get_verification, start_verification
from bonin_client.models import (
    CompleteRequest,
    CompleteRequestParams,
    Display,
    FormLaunch,
    Method,
    Problem,
    StartRequest,
    Status,
    Verification,
    VerificationProvider,
)


def main() -> int:
    bonin, simulator, api_key = sys.argv[1:4]
    client = AuthenticatedClient(base_url=bonin, token=api_key, raise_on_unexpected_status=True)

    started = start_verification.sync_detailed(
        client=client,
        body=StartRequest(
            provider=VerificationProvider("nice"),
            method=Method.WINDOW,
            display=Display.PAGE,
            return_url=f"{bonin}/demo/done",
        ),
        x_request_id="python-client-start",
    )
    assert started.status_code == 201, started.content
    assert started.headers.get("x-request-id") == "python-client-start", started.headers
    verification = started.parsed
    assert isinstance(verification, Verification), verification
    launch = verification.launch
    assert isinstance(launch, FormLaunch), launch

    # The simulated window, played as a persona (the sandbox's control API, not bonin's).
    play = urllib.request.Request(
        f"{simulator}/_sandbox/play",
        data=json.dumps({"launch": launch.to_dict(), "persona": "hong"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(play, timeout=30) as answer:
        played = json.load(answer)
    params = CompleteRequestParams.from_dict(dict(played["callback"]["fields"]))

    completed = complete_verification.sync(verification.id, client=client, body=CompleteRequest(params=params))
    assert isinstance(completed, Verification) and completed.status == Status.VERIFIED, completed

    read = get_verification.sync(verification.id, client=client)
    assert isinstance(read, Verification) and read.status == Status.VERIFIED, read
    assert isinstance(read.identity.name, str), read.identity

    missing = get_verification.sync("nope", client=client)
    assert isinstance(missing, Problem) and missing.code.value == "not_found", missing

    print(f"python client: verified through {launch.action} (provider {read.identity.provider.value})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
