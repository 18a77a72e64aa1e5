"""Schemathesis hooks of test/fuzz/openapi-fuzz.int-spec.ts: a refused request (4xx) must change no row.

Before each request the hook asks the test for a snapshot of every table (row count and checksum, the test's
table-snapshot helper); after a 4xx the check asks again and fails when anything differs. The run has one
worker, so nothing else writes between the two snapshots.
"""

import json
import os
import urllib.request

import schemathesis

SNAPSHOT_URL = os.environ["TIDINGS_FUZZ_SNAPSHOT_URL"]
# The key the fuzzer authenticates with: revoking it would turn the rest of the run into 401s.
OWN_KEY_ID = os.environ["TIDINGS_FUZZ_KEY_ID"]
_before = {}


def _snapshot():
    with urllib.request.urlopen(SNAPSHOT_URL, timeout=30) as response:
        return json.load(response)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # Ids found in earlier responses are reused as they are, past any generation filter: steer this one here.
    own_key = case.method.upper() == "DELETE" and case.path_parameters and case.path_parameters.get("id") == OWN_KEY_ID
    if own_key and case.operation.path == "/api-keys/{id}":
        case.path_parameters["id"] = "key_not_the_fuzzers_own"
    _before["tables"] = _snapshot()


@schemathesis.check
def refused_request_changes_nothing(ctx, response, case):
    if not 400 <= response.status_code < 500:
        return None
    before = _before.get("tables")
    after = _snapshot()
    if before is not None and before != after:
        changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
        raise AssertionError(f"A {response.status_code} changed rows of {', '.join(changed)}")
    return None
