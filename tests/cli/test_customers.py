"""`sopdesk customer add|update|purchase|merge|clear-bounce|address`: onboarding and
loyalty started from the command line, a customer's details changed, duplicates merged,
an address that bounced cleared."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sopdesk.actions.customers import customer_by_key
from sopdesk.actions.delivery import mark_address_bounced
from sopdesk.cli.db import open_session
from tests.conftest import Runner

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def initialised(cli: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Runner:
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "data"))
    assert cli("init").code == 0
    return cli


def test_add_a_customer_then_count_purchases(initialised: Runner) -> None:
    cli = initialised
    added = cli("customer", "add", "lou@customer.example", "--name", "Lou Park", "--tag", "vip")
    assert added.code == 0, added.err
    assert added.out.startswith("added customer ") and "lou@customer.example" in added.out
    assert cli("customer", "add", "LOU@customer.example").out.startswith("known customer ")
    runs = [
        cli("customer", "purchase", "lou@customer.example", f"o-{n}", "--format", "json")
        for n in (1, 2, 3)
    ]
    assert [json.loads(r.out)["started"] for r in runs] == [0, 0, 1]
    again = cli("customer", "purchase", "lou@customer.example", "o-3")
    assert again.code == 0 and "already counted: 3 in all; 0 SOP(s) started" in again.out
    cases = json.loads(cli("case", "list", "--format", "json").out)
    assert {"customer-onboarding", "loyalty-recognition"} <= {case["sop"] for case in cases}


def test_bad_purchases_are_refused_with_a_reason(initialised: Runner) -> None:
    cli = initialised
    assert cli("customer", "add", "ann@customer.example").code == 0
    naive = cli("customer", "purchase", "ann@customer.example", "o-1", "--at", "2026-03-02")
    assert naive.code == 1 and "has no time zone" in naive.err
    future = cli("customer", "purchase", "ann@customer.example", "o-1", "--at", "2999-01-01T00:00Z")
    assert future.code == 1 and "has not happened yet" in future.err
    unknown = cli("customer", "purchase", "nobody@customer.example", "o-1")
    assert unknown.code == 1 and "no customer" in unknown.err


def test_update_changes_tier_and_tags_and_refuses_nonsense(initialised: Runner) -> None:
    cli = initialised
    assert cli("customer", "add", "kim@customer.example", "--tag", "old").code == 0
    changed = cli(
        "customer", "update", "kim@customer.example", "--tier", "gold", "--tag", "sla",
        "--tag", "emea", "--phone", "+1 555", "--format", "json",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    assert json.loads(changed.out) | {"id": 0} == {
        "id": 0,
        "email": "kim@customer.example",
        "name": "",
        "tier": "gold",
        "tags": ["sla", "emea"],
        "phone": "+1 555",
    }
    cleared = cli("customer", "update", "kim@customer.example", "--no-tags", "--phone", "")
    assert cleared.code == 0 and "tier gold, no tags" in cleared.out
    both = cli("customer", "update", "kim@customer.example", "--tag", "x", "--no-tags")
    assert both.code == 1 and "not both" in both.err
    empty_tier = cli("customer", "update", "kim@customer.example", "--tier", " ")
    assert empty_tier.code == 1 and "a tier cannot be empty" in empty_tier.err
    unknown = cli("customer", "update", "nobody@customer.example", "--tier", "gold")
    assert unknown.code == 1 and "no customer" in unknown.err


def test_update_changes_the_address_and_keeps_the_customer(initialised: Runner) -> None:
    cli = initialised
    assert cli("customer", "add", "lee@customer.exmaple").code == 0
    assert cli("customer", "add", "mo@customer.example").code == 0
    moved = cli("customer", "update", "lee@customer.exmaple", "--email", "Lee@Customer.Example",
                "--format", "json")  # fmt: skip
    assert moved.code == 0, moved.err
    assert json.loads(moved.out)["email"] == "lee@customer.example"
    gone = cli("customer", "update", "lee@customer.exmaple", "--tier", "gold")
    assert gone.code == 1 and "no customer" in gone.err
    taken = cli("customer", "update", "lee@customer.example", "--email", "mo@customer.example")
    assert taken.code == 1 and "has the e-mail address mo@customer.example already" in taken.err
    bad = cli("customer", "update", "lee@customer.example", "--email", "lee")
    assert bad.code == 1 and "is not an e-mail address" in bad.err


def test_two_customers_are_merged_and_addresses_added_and_removed(
    initialised: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = initialised
    for address in ("ann@work.example", "ann@home.example"):
        assert cli("customer", "add", address, "--name", "Ann Lee").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    asked = cli("customer", "merge", "ann@work.example", "ann@home.example")
    assert asked.code == 1 and "This cannot be undone" in asked.out
    listed = json.loads(cli("case", "list", "--format", "json").out)
    assert len({case["customer"] for case in listed}) == 2  # nothing merged
    merged = cli("customer", "merge", "ann@work.example", "ANN@home.example", "--yes")
    assert merged.code == 0, merged.err
    assert "merged customer 2 (ann@home.example) into customer 1 (ann@work.example)" in merged.out
    assert "1 case(s) moved" in merged.out  # each had an onboarding case
    added = cli("customer", "address", "add", "1", "Ann@Phone.example", "--format", "json")
    assert json.loads(added.out) == {
        "id": 1,
        "email": "ann@work.example",
        "addresses": ["ann@home.example", "ann@phone.example"],
    }
    taken = cli("customer", "address", "add", "ann@home.example", "ann@work.example")
    assert taken.code == 1 and "has the address ann@work.example already" in taken.err
    removed = cli("customer", "address", "remove", "1", "ann@phone.example")
    assert removed.out.strip() == "customer 1: ann@work.example; other addresses: ann@home.example"
    itself = cli("customer", "merge", "1", "ann@home.example", "--yes")
    assert itself.code == 1 and "cannot be merged into themselves" in itself.err


def test_clear_bounce_says_the_address_works_again(initialised: Runner) -> None:
    cli = initialised
    assert cli("customer", "add", "kim@customer.example").code == 0
    with open_session() as session:
        kim = customer_by_key(session, "kim@customer.example")
        gone = ["kim@customer.example"]
        assert mark_address_bounced(session, kim.id, gone, "bounced: 5.1.1", AT)
        session.commit()
    cleared = cli("customer", "clear-bounce", "kim@customer.example")
    assert cleared.code == 0, cleared.err
    assert cleared.out.strip().endswith("kim@customer.example; follow-ups go to it again")
    again = cli("customer", "clear-bounce", "kim@customer.example", "--format", "json")
    assert json.loads(again.out)["cleared"] is False
    missing = cli("customer", "clear-bounce", "nobody@customer.example")
    assert missing.code == 1 and "no customer" in missing.err
