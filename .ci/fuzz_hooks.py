"""schemathesis hooks for .ci/fuzz: values for tenantgraph's Decimal scalar, and the check the
mutation run uses. A mutation naming an unknown id, a clashing name or a forbidden change is
answered with NOT_FOUND, CONFLICT, FORBIDDEN or BAD_USER_INPUT (the interface contract), which
schemathesis' own check takes for resolver failures; what fails here is what is the server's
fault: a 5xx, an INTERNAL_SERVER_ERROR, or an error without a code."""
from hypothesis import strategies as st

import schemathesis
from schemathesis.graphql import nodes

# Prices and shares: decimal text, as clients send it (the scalar also takes numbers).
schemathesis.graphql.scalar(
    "Decimal",
    st.decimals(min_value=-1000, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
    .map(str)
    .map(nodes.String),
)

ANSWERS = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "CONFLICT",
    "FORBIDDEN",
    "OPERATION_LIMIT_EXCEEDED",
    "RATE_LIMITED",
    "PERSISTED_QUERY_NOT_FOUND",
}


@schemathesis.check
def no_server_fault(ctx, response, case):
    """Fails on a 5xx, or on a GraphQL error coded INTERNAL_SERVER_ERROR or not coded at all."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in ANSWERS:
            raise AssertionError(f"error coded {code!r}: {error.get('message')}")
    return None
