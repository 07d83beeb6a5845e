"""Prints an HS256 bearer token for tenantgraph's `hs256` authentication mode, valid for two hours.

Usage: python3 benches/hs256_token.py SECRET '{"oid": "bench", "roles": ["reader"]}'
Used by the load tests and by .ci/fuzz; standard library only.
"""
import base64
import hashlib
import hmac
import json
import sys
import time


def part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


secret, claims = sys.argv[1], json.loads(sys.argv[2])
now = int(time.time())
claims = {"nbf": now - 10, "exp": now + 7200, **claims}
head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = part(json.dumps(claims).encode())
mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{part(mac)}")
