"""Shared by the ``test_cli*`` modules: a fake site serving the wire format (docs/signing-wire-format.md), and
the CLI run in-process. No tests here.

The fake site is built from real keys and statements made with the library: a chain of three updates
signed by two publishers, Priya's key being revoked only after all three were published.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from statushub import cli
from statushub.lib import signing

SITE = "https://status.example"
KEYS_URL = f"{SITE}/.well-known/statushub/keys.json"
CHAIN_URL = f"{SITE}/.well-known/statushub/chain.json"


@dataclass
class FakeKey:
    private: bytes
    owner: dict[str, str]
    created: str
    revoked: str | None = None

    @property
    def public(self) -> bytes:
        return signing.public_key_bytes(self.private)

    @property
    def kid(self) -> str:
        return signing.kid_for(self.public)


@dataclass
class FakeUpdate:
    """What the server stores for a published update; ``statement`` is what it serves."""

    id: str
    incident: str
    seq: int
    prev: str | None
    kid: str
    published_at: str
    statement: bytes
    signature: str
    sha256: str
    record: dict[str, Any]  # the fields as the server stored them


@dataclass
class FakeSite:
    keys: list[FakeKey]
    updates: list[FakeUpdate] = field(default_factory=list)
    page_size: int = 500
    hidden_from_chain: set[int] = field(default_factory=set)
    listed_twice_in_chain: set[int] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)

    def key(self, kid: str) -> FakeKey:
        return next(key for key in self.keys if key.kid == kid)

    def publish(
        self, key: FakeKey, body: str, published_at: str, status: str = "investigating"
    ) -> FakeUpdate:
        seq = len(self.updates) + 1
        fields = {
            "v": 1,
            "kid": key.kid,
            "site": SITE,
            "incident": "7",
            "update": str(500 + seq),
            "seq": seq,
            "status": status,
            "impact": "major",
            "components": [{"id": "3", "name": "Payments API", "status": "major_outage"}],
            "body": body,
            "author": dict(key.owner),
            "published_at": published_at,
            "corrects": None,
            "prev": self.updates[-1].sha256 if self.updates else None,
        }
        update = self._signed(fields, key)
        self.updates.append(update)
        return update

    def rewrite(self, index: int, key: FakeKey | None = None, **changes: Any) -> FakeUpdate:
        """Replace a stored update with a validly re-signed statement whose fields differ."""
        old = self.updates[index]
        fields = {**old.record, **changes}
        key = key or self.key(old.kid)
        fields["kid"] = key.kid
        self.updates[index] = self._signed(fields, key)
        return self.updates[index]

    @staticmethod
    def _signed(fields: dict[str, Any], key: FakeKey) -> FakeUpdate:
        statement = signing.build_statement(fields)
        return FakeUpdate(
            id=fields["update"],
            incident=fields["incident"],
            seq=fields["seq"],
            prev=fields["prev"],
            kid=key.kid,
            published_at=fields["published_at"],
            statement=statement,
            signature=signing.b64encode_signature(signing.sign(key.private, statement)),
            sha256=signing.digest(statement),
            record=fields,
        )

    # --- the endpoints ---

    def update_json(self, update: FakeUpdate) -> dict[str, Any]:
        fields = update.record
        return {
            "id": update.id,
            "incident_id": update.incident,
            "seq": update.seq,
            "status": fields["status"],
            "body": fields["body"],
            "author": fields["author"],
            "published_at": update.published_at,
            "corrects": None,
            "signature": update.signature,
            "kid": update.kid,
            "statement_url": f"{SITE}/updates/{update.id}/statement",
            "statement_sha256": update.sha256,
            "prev": update.prev,
        }

    def chain_entry(self, update: FakeUpdate) -> dict[str, Any]:
        return {
            "seq": update.seq,
            "update_id": update.id,
            "update_url": f"{SITE}/updates/{update.id}/",
            "statement_url": f"{SITE}/updates/{update.id}/statement",
            "sha256": update.sha256,
            "prev": update.prev,
            "signature": update.signature,
            "kid": update.kid,
            "published_at": update.published_at,
        }

    def keys_json(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    **signing.public_jwk(key.public),
                    "owner": key.owner,
                    "created": key.created,
                    "revoked": key.revoked,
                }
                for key in self.keys
            ]
        }

    def chain_page(self, after: int) -> dict[str, Any]:
        listed = [update for update in self.updates if update.seq not in self.hidden_from_chain]
        listed += [update for update in self.updates if update.seq in self.listed_twice_in_chain]
        listed.sort(key=lambda update: update.seq)
        remaining = [update for update in listed if update.seq > after]
        page = remaining[: self.page_size]
        more = len(remaining) > self.page_size
        return {
            "site": SITE,
            "entries": [self.chain_entry(update) for update in page],
            "next": f"{CHAIN_URL}?after={page[-1].seq}" if more else None,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        by_id = {update.id: update for update in self.updates}
        if path == "/.well-known/statushub/keys.json":
            return httpx.Response(200, json=self.keys_json())
        if path == "/.well-known/statushub/chain.json":
            return httpx.Response(200, json=self.chain_page(int(request.url.params.get("after", "0"))))
        if match := re.fullmatch(r"/\.well-known/statushub/keys/(.+)\.pem", path):
            key = self.key(match[1])
            return httpx.Response(200, text=signing.public_pem(key.public))
        if (match := re.fullmatch(r"/updates/(\w+)(/|\.json|/statement)", path)) and match[1] in by_id:
            update = by_id[match[1]]
            if match[2] == ".json":
                return httpx.Response(200, json=self.update_json(update))
            if match[2] == "/statement":
                return httpx.Response(
                    200, content=update.statement, headers={"Content-Type": "application/octet-stream"}
                )
            return httpx.Response(
                302, headers={"Location": f"{SITE}/incidents/{update.incident}/#update-{update.id}"}
            )
        if re.fullmatch(r"/incidents/\d+/", path):
            return httpx.Response(200, text="<html>incident page</html>")
        return httpx.Response(404, text="Not found")


PRIYA = {"name": "Priya Raman", "title": "VP Engineering"}
MARCO = {"name": "Marco Rossi", "title": "Head of SRE"}


def build_site() -> FakeSite:
    priya = FakeKey(
        signing.generate_private_key(), PRIYA, "2026-01-01T00:00:00Z", revoked="2026-12-01T00:00:00Z"
    )
    marco = FakeKey(signing.generate_private_key(), MARCO, "2026-06-01T00:00:00Z")
    site = FakeSite(keys=[priya, marco])
    site.publish(priya, "We are investigating elevated error rates on **Payments**.", "2026-11-23T09:31:00Z")
    site.publish(
        marco,
        "The cause is a failed database failover; we are rolling back.",
        "2026-11-23T09:58:00Z",
        "identified",
    )
    site.publish(
        priya, "Payments have been working normally since 10:32 UTC.", "2026-11-23T10:40:00Z", "resolved"
    )
    return site


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def final_line(out: str) -> str:
    return out.strip().splitlines()[-1]
