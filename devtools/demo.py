"""A guided run of the service on the local stack: `make demo` (`python -m devtools.demo`).

Signed deliveries go over HTTP to the local webhook, the stream function runs on the table's stream, and the table is
shown after each step. Each step states what must hold; the exit status is 1 if any of it did not.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from social_connections import cli, container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.fake_clerk_api import seed_user
from devtools.local_stack import LocalStack
from devtools.send import Delivery, deliver
from devtools.testkit.deliveries import new_secret

USER = "user_demo"


def _snapshot(event_type: str, updated_at: int, *, instagram: bool = True, tiktok: str = "verified") -> dict[str, Any]:
    """The user with X, optionally Instagram, TikTok in the given verification status, and GitHub (not a platform)."""
    accounts = [external_account("eac_demo_x", "oauth_x", updated_at=updated_at, username="ada_x")]
    if instagram:
        accounts.append(external_account("eac_demo_ig", "oauth_instagram", updated_at=updated_at, username="ada.ig"))
    accounts.append(external_account("eac_demo_tt", "oauth_custom_tiktok", updated_at=updated_at, status=tiktok))
    accounts.append(external_account("eac_demo_gh", "oauth_github", updated_at=updated_at))
    return user_event(event_type, USER, updated_at=updated_at, accounts=accounts)


def _row(item: dict[str, Any]) -> str:
    if item["sk"] == "PROFILE":
        return f"    PROFILE                              {item['profileStatus']:<12} version={item.get('version')}"
    return f"    {item['sk']:<36} {item['connectionStatus']:<12} errorCount={item.get('errorCount')}"


@dataclass
class Demo:
    stack: LocalStack
    out: TextIO
    failures: list[str] = field(default_factory=list)
    step_number: int = 0
    bus_events: list[dict[str, Any]] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.step_number += 1
        self.say(f"\n{self.step_number}. {title}")

    def send(self, payload: dict[str, Any], **options: Any) -> Delivery:
        body = to_body(payload)
        result = deliver(self.stack.webhook_url, options.pop("secret", self.stack.secret), body, **options)
        self.say(f"   -> HTTP {result.status} {result.body}")
        return result

    def settle(self) -> None:
        """Let the stream function see everything written so far, as the event source mapping would."""
        pollers = self.stack.stream_pollers
        delivered_before = sum(poller.delivered for poller in pollers)
        read = self.stack.wait_for_stream_idle()
        delivered = sum(poller.delivered for poller in pollers) - delivered_before
        if read:
            self.say(f"   stream: {read} new records, {delivered} passed the filter criteria to the stream function")
        self.bus_events = self.stack.bus_events()
        for event in self.bus_events:
            detail = event["detail"]
            change = f"{detail['platform']} {detail['from']} -> {detail['to']}"
            self.say(f"   bus: {event['detail-type']} ({event['source']}): {change}, errorCount {detail['errorCount']}")

    def saw_event(self, platform: str, old: str | None, new: str) -> bool:
        """Whether the last settle() put exactly one such Connection Status Changed event on the local bus."""
        matching = [
            event
            for event in self.bus_events
            if event["detail-type"] == "Connection Status Changed"
            and (event["detail"]["platform"], event["detail"]["from"], event["detail"]["to"]) == (platform, old, new)
        ]
        return len(matching) == 1

    def expect(self, holds: bool, claim: str) -> None:
        self.say(f"   {'ok  ' if holds else 'FAIL'} {claim}")
        if not holds:
            self.failures.append(f"step {self.step_number}: {claim}")

    def rows(self) -> dict[str, dict[str, Any]]:
        items = [item for item in self.stack.table_items() if item["pk"] == f"USER#{USER}"]
        for item in items:
            self.say(_row(item))
        return {str(item["sk"]): item for item in items}

    def statuses(self) -> dict[str, str]:
        return {sk.split("#")[1]: str(item["connectionStatus"]) for sk, item in self.rows().items() if sk != "PROFILE"}


def run(demo: Demo) -> None:
    t0 = int(time.time() * 1000)
    x_account = ConnectionKey(Platform.TWITTER, "eac_demo_x")

    demo.step("user.created with X, Instagram, TikTok and GitHub linked")
    first = demo.send(_snapshot("user.created", t0))
    demo.settle()
    statuses = demo.statuses()
    demo.expect(first.status == 200 and first.body.get("upserted") == 3, "applied: three connections written")
    demo.expect(statuses == {"twitter": "connected", "instagram": "connected", "tiktok": "connected"}, "GitHub ignored")

    demo.step("Svix delivers the same message again (same svix-id)")
    again = demo.send(_snapshot("user.created", t0), message_id=first.message_id)
    demo.expect(again.status == 200 and again.body.get("outcome") == "duplicate", "acknowledged, nothing written")

    demo.step("user.updated: Instagram unlinked, the TikTok grant expired")
    updated = demo.send(_snapshot("user.updated", t0 + 2000, instagram=False, tiktok="expired"))
    demo.settle()
    statuses = demo.statuses()
    demo.expect(updated.body.get("outcome") == "applied", "applied")
    demo.expect(statuses == {"twitter": "connected", "instagram": "disconnected", "tiktok": "expired"}, "rows follow")
    demo.expect(demo.saw_event("tiktok", "connected", "expired"), "apps hear that TikTok expired (to ask for a relink)")

    demo.step("an older user.updated arrives late (relinks Instagram)")
    late = demo.send(_snapshot("user.updated", t0 + 1000))
    demo.expect(late.body.get("outcome") == "stale", "ignored as stale: the newer snapshot stands")

    threshold = container.current().settings.error_threshold
    demo.step(f"the sharing feature records {threshold} failed posts to X (through the shared package)")
    store = container.current().store
    for _ in range(threshold):
        store.record_publish_failure(USER, x_account, "demo: the platform refused the post")
    demo.settle()
    demo.expect(demo.statuses()["twitter"] == "error", f"the stream function moved X to error at {threshold} failures")
    demo.expect(demo.saw_event("twitter", "connected", "error"), "one Connection Status Changed event on the bus")

    demo.step("a post to X succeeds again")
    store.record_publish_success(USER, x_account)
    demo.settle()
    demo.expect(demo.statuses()["twitter"] == "connected", "the stream function moved X back to connected")
    demo.expect(demo.saw_event("twitter", "error", "connected"), "and the bus heard of it")

    demo.step("a forged delivery (signed with another secret)")
    before = demo.stack.table_items()
    forged = demo.send(_snapshot("user.updated", t0 + 9000, instagram=False), secret=new_secret())
    demo.expect(forged.status == 401 and demo.stack.table_items() == before, "401, nothing written")

    demo.step("user.deleted")
    deleted = demo.send(deleted_event(USER, timestamp=t0 + 3000))
    demo.settle()
    rows = demo.rows()
    demo.expect(deleted.body.get("outcome") == "deleted", "tombstoned")
    demo.expect(list(rows) == ["PROFILE"], "the stream function removed every connection row")

    demo.step("a user.updated replayed from the dashboard after the deletion")
    replay = demo.send(_snapshot("user.updated", t0 + 4000))
    demo.settle()
    demo.expect(replay.body.get("outcome") == "user_deleted" and list(demo.rows()) == ["PROFILE"], "deletion wins")

    repair_story(demo)

    dead = demo.stack.dead_letters()
    demo.expect(dead == [], "no stream batch went to the failure queue")


SUMMARY_SHOWN = ("usersSeen", "usersUpdated", "usersUnchanged", "connectionsCreated", "connectionsDisconnected")


def reconcile(demo: Demo, *flags: str) -> tuple[int, dict[str, Any]]:
    """`clerk-connections reconcile --json` against the local stack and its fake Clerk Backend API."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = cli.main(["reconcile", "--json", *flags])
    lines = output.getvalue().strip().splitlines()
    figures: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    shown = ", ".join(f"{key}={figures.get(key)}" for key in (*SUMMARY_SHOWN, "usersTombstoned"))
    command = " ".join(["clerk-connections reconcile", *flags])
    demo.say(f"   $ {command}\n   -> exit {code}: {shown}")
    return code, figures


def user_items(demo: Demo) -> list[dict[str, Any]]:
    return [item for item in demo.stack.table_items() if str(item["pk"]).startswith("USER#")]


def repair_story(demo: Demo) -> None:
    """Webhooks lost for good, and the table made true again from Clerk's Backend API (docs/reconciliation.md)."""
    clerk = demo.stack.clerk_api.users
    people = len(clerk.users)
    demo.step(f"first backfill: the fake Clerk Backend API has {people} users the table has never heard of")
    code, first = reconcile(demo)
    demo.settle()
    demo.expect(code == 0 and first.get("usersUpdated") == people, f"all {people} users written")

    demo.step("Clerk unlinks user_local's TikTok and deletes user_seed_000003; both webhooks are lost")
    local = clerk.get("user_local") or {}
    changed = seed_user(0, user_id="user_local", updated_at=int(local.get("updated_at", 0)) + 60_000)
    changed["external_accounts"] = [a for a in changed["external_accounts"] if a["provider"] != "oauth_custom_tiktok"]
    clerk.put(changed)
    clerk.delete("user_seed_000003")
    before = user_items(demo)
    code, dry = reconcile(demo, "--dry-run")
    expected = (1, 1, 1)
    found = (dry.get("usersUpdated"), dry.get("connectionsDisconnected"), dry.get("usersTombstoned"))
    demo.expect(code == 0 and found == expected, "the dry run finds one update, one disconnect, one deletion")
    demo.expect(user_items(demo) == before, "and writes nothing")

    demo.step("clerk-connections reconcile repairs both")
    code, repair = reconcile(demo)
    demo.settle()
    found = (repair.get("usersUpdated"), repair.get("connectionsDisconnected"), repair.get("usersTombstoned"))
    rows = {
        str(item["sk"]): item for item in user_items(demo) if item["pk"] in {"USER#user_local", "USER#user_seed_000003"}
    }
    tiktok = rows.get("CONNECTION#tiktok#eac_local_tt", {}).get("connectionStatus")
    demo.expect(code == 0 and found == expected, "one user updated, one connection disconnected, one tombstoned")
    demo.expect(tiktok == "disconnected", "user_local's TikTok row is disconnected")
    deleted = [item for item in user_items(demo) if item["pk"] == "USER#user_seed_000003"]
    demo.expect([item["sk"] for item in deleted] == ["PROFILE"], "the stream function removed the deleted user's rows")

    demo.step("a second run changes nothing")
    before = user_items(demo)
    code, again = reconcile(demo)
    demo.expect(code == 0 and again.get("usersUpdated") == 0 and again.get("usersTombstoned") == 0, "nothing to do")
    demo.expect(user_items(demo) == before, "no user's item was written")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m devtools.demo", description="A guided run on the local stack."
    )
    parser.add_argument("--verbose", action="store_true", help="also print the functions' JSON logs and metrics")
    args = parser.parse_args(argv)
    out = sys.stdout
    with contextlib.ExitStack() as context:
        if not args.verbose:
            # The functions' JSON logs and EMF blobs would bury the story. Powertools binds stdout when the handlers
            # are imported (inside this block), so run the demo as its own process, as `make demo` does.
            context.enter_context(contextlib.redirect_stdout(open(os.devnull, "w", encoding="utf-8")))  # noqa: SIM115
        stack = context.enter_context(LocalStack(poll_interval=None))
        demo = Demo(stack, out)
        demo.say(f"Local stack: webhook {stack.webhook_url}, moto {stack.endpoint_url} (no AWS account, no Docker)")
        run(demo)
    if demo.failures:
        demo.say(f"\n{len(demo.failures)} expectation(s) failed:\n  " + "\n  ".join(demo.failures))
        return 1
    demo.say("\nEvery step behaved as the design says.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
