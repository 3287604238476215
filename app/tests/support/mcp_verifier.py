#!/usr/bin/env python3
"""An independent verifier of platform approval tokens, in the MCP server's language.

Written from spec/contracts.md §5.2-§5.4 alone (it shares no code with the platform or with
mcp-verifier.ts): the key derivation of §5.3, read the way a Python process reads the file
(text mode, universal newlines), and the /authorize/callback checks of §5.4 steps 1-4.

Usage: mcp_verifier.py  (reads one JSON object on stdin)
  {"location": "<approve redirect URL>", "key_file": "<SIGNING_KEY_PATH>"}   or
  {"location": "...", "consent_secret": "<CONSENT_SECRET>"}, optionally "now": <unix seconds>
Prints {"ok": true, "payload": {...}} or {"ok": false, "status": 400|403, "error": ..., "error_description": ...}.
"""
import hashlib
import hmac
import json
import sys
import time
from urllib.parse import parse_qsl, urlsplit


def consent_key(spec):
    # §5.3: SHA-256(UTF-8("consent:" + PEM text)) or SHA-256(UTF-8("consent:" + CONSENT_SECRET)).
    if "consent_secret" in spec:
        material = spec["consent_secret"]
    else:
        with open(spec["key_file"], "r", encoding="utf-8") as f:  # text mode: CRLF and CR become LF
            material = f.read()
    return hashlib.sha256(("consent:" + material).encode("utf-8")).digest()


def refuse(status, error, description):
    return {"ok": False, "status": status, "error": error, "error_description": description}


def verify(location, key, now):
    parts = urlsplit(location)
    if parts.path != "/authorize/callback":
        return refuse(400, "invalid_request", "unexpected path " + parts.path)
    query = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, value)
    # 1. Query.
    token = query.get("approval_token") or ""
    if not token:
        return refuse(400, "missing_token", "approval_token is required")
    if not (query.get("client_id") and query.get("redirect_uri") and query.get("code_challenge")):
        return refuse(400, "invalid_request", "client_id, redirect_uri and code_challenge are required")
    # 2. Parse: split at the last "|".
    if "|" not in token:
        return refuse(403, "access_denied", "malformed approval token")
    payload_text, signature = token.rsplit("|", 1)
    # 3. MAC (constant time), then JSON, then exp (missing counts as 0).
    expected = hmac.new(key, payload_text.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return refuse(403, "access_denied", "invalid approval token signature")
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return refuse(403, "server_error", "approval token payload is not JSON")
    if not isinstance(payload, dict):
        return refuse(403, "server_error", "approval token payload is not an object")
    if payload.get("exp", 0) < now:
        return refuse(403, "access_denied", "approval token expired")
    # 4. Bindings: the client, and the wiki of the request Host (its first DNS label).
    if payload.get("client_id") != query["client_id"]:
        return refuse(403, "access_denied", "client_id mismatch")
    host_slug = parts.netloc.split(":")[0].split(".")[0].lower()
    if payload.get("wiki_slug") != host_slug:
        return refuse(403, "access_denied", "wiki_slug does not match host")
    return {"ok": True, "payload": payload}


def main():
    spec = json.load(sys.stdin)
    now = spec.get("now", time.time())
    json.dump(verify(spec["location"], consent_key(spec), now), sys.stdout)


if __name__ == "__main__":
    main()
