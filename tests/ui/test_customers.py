"""The Customers pages: find a customer, see their cases, change their tier and tags,
add one (which starts onboarding) and count a purchase (which can start loyalty)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sopdesk.actions.cases import do_open_case
from sopdesk.actions.delivery import mark_address_bounced
from sopdesk.actions.sop_files import do_load_library
from sopdesk.store.tables import CaseEventRow, CaseRow, CustomerRow
from tests.ui.conftest import ClientFor, World, _client_factory, make_world


@pytest.fixture
def library_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    """The UI world with the built-in library published too (onboarding, loyalty)."""
    for world in make_world(sqlite_url, tmp_path):
        do_load_library(world.session)
        yield world


@pytest.fixture
def library_client_for(library_world: World) -> Iterator[ClientFor]:
    yield from _client_factory(library_world)


def _customer(world: World, email: str) -> CustomerRow:
    world.session.expire_all()
    row = world.session.scalar(select(CustomerRow).where(CustomerRow.email == email))
    assert row is not None
    return row


def test_the_list_finds_customers_by_name_or_e_mail(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    page = agent.get("/customers")
    assert page.status_code == 200
    assert "Dana Scully" in page.text and "Fox Mulder" in page.text
    assert 'href="/customers"' in agent.get("/inbox").text  # in the navigation
    found = agent.get("/customers", params={"q": "SCULLY"})
    assert "Dana Scully" in found.text and "Fox Mulder" not in found.text
    none = agent.get("/customers", params={"q": "%"})
    assert "No customer's name or e-mail contains" in none.text


def test_a_customer_page_shows_their_cases_and_offers_a_new_one(
    world: World, client_for: ClientFor
) -> None:
    dana = _customer(world, "dana@example.com")
    page = client_for("agent").get(f"/customers/{dana.id}")
    assert page.status_code == 200
    assert f'href="/cases/{world.case_ref}"' in page.text
    assert "Refund for order 1042" in page.text
    link = "/cases/new?email=dana%40example.com&amp;name=Dana+Scully"
    assert link in page.text
    form = client_for("agent").get("/cases/new?email=dana%40example.com&name=Dana+Scully")
    assert 'value="dana@example.com"' in form.text and 'value="Dana Scully"' in form.text
    assert client_for("agent").get("/customers/999999").status_code == 404


def test_changing_tier_and_tags_is_saved_and_logged(world: World, client_for: ClientFor) -> None:
    dana = _customer(world, "dana@example.com")
    agent = client_for("agent")
    fields = {"name": "Dana K. Scully", "phone": "", "tier": "gold", "tags": "vip, sla, vip"}
    saved = agent.post_form(f"/customers/{dana.id}", fields)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/customers/{dana.id}?done=saved"
    dana = _customer(world, "dana@example.com")
    assert (dana.name, dana.first_name, dana.tier, dana.tags) == (
        "Dana K. Scully",
        "Dana",
        "gold",
        ["vip", "sla"],
    )
    page = agent.get(saved.headers["location"])
    assert "The details are saved." in page.text
    assert "customer.updated · agent@example.com: " in page.text
    assert "tier standard → gold" in page.text
    same = agent.post_form(f"/customers/{dana.id}", fields)
    assert same.headers["location"].endswith("done=unchanged")
    refused = agent.post_form(f"/customers/{dana.id}", {**fields, "tier": " "})
    assert refused.status_code == 422
    assert "a tier cannot be empty" in refused.text
    events = world.session.scalars(
        select(CaseEventRow).where(CaseEventRow.kind == "customer.updated")
    ).all()
    assert len(events) == 1


def test_changing_the_address_keeps_the_customer_and_refuses_another_s(
    world: World, client_for: ClientFor
) -> None:
    dana = _customer(world, "dana@example.com")
    _customer(world, "fox@example.com")
    agent = client_for("agent")
    page = agent.get(f"/customers/{dana.id}")
    assert (
        'name="email" type="email" maxlength="320" required value="dana@example.com"' in page.text
    )
    fields = {"email": "Dana.Scully@example.com", "name": "", "phone": "", "tier": "standard",
              "tags": ""}  # fmt: skip
    saved = agent.post_form(f"/customers/{dana.id}", fields)
    assert saved.headers["location"] == f"/customers/{dana.id}?done=saved"
    assert _customer(world, "dana.scully@example.com").id == dana.id
    shown = agent.get(saved.headers["location"]).text
    assert "email dana@example.com → dana.scully@example.com" in shown
    taken = agent.post_form(f"/customers/{dana.id}", {**fields, "email": "fox@example.com"})
    assert taken.status_code == 409
    assert "has the e-mail address fox@example.com already" in taken.text
    assert 'value="fox@example.com"' in taken.text  # what was typed is kept to fix
    empty = agent.post_form(f"/customers/{dana.id}", {**fields, "email": " "})
    assert empty.status_code == 422 and "is not an e-mail address" in empty.text


def test_adding_a_customer_starts_onboarding(
    library_world: World, library_client_for: ClientFor
) -> None:
    agent = library_client_for("agent")
    form = agent.get("/customers/new")
    assert form.status_code == 200
    fields = {"email": "Nia@Example.com", "name": "Nia Obi", "tier": "gold", "tags": "vip"}
    added = agent.post_form("/customers/new", fields)
    assert added.status_code == 303
    nia = _customer(library_world, "nia@example.com")
    assert added.headers["location"] == f"/customers/{nia.id}?done=added&started=1"
    page = agent.get(added.headers["location"])
    assert "The customer is added. It started an SOP" in page.text
    [case] = library_world.session.scalars(select(CaseRow).where(CaseRow.customer_id == nia.id))
    assert case.sop_id == "customer-onboarding"
    assert f'href="/cases/{case.reference}"' in page.text
    again = agent.post_form("/customers/new", {**fields, "tier": "silver"})
    assert again.headers["location"] == f"/customers/{nia.id}?done=known"
    assert _customer(library_world, "nia@example.com").tier == "gold"
    bad = agent.post_form("/customers/new", {**fields, "email": "nia"})
    assert bad.status_code == 422 and 'value="Nia Obi"' in bad.text


def test_the_third_purchase_opens_a_loyalty_case(
    library_world: World, library_client_for: ClientFor
) -> None:
    agent = library_client_for("agent")
    dana = _customer(library_world, "dana@example.com")
    url = f"/customers/{dana.id}/purchases"
    answers = [agent.post_form(url, {"purchase_id": f"o-{n}"}) for n in (1, 2, 3, 3)]
    assert [a.headers["location"].split("?")[1] for a in answers] == [
        "done=counted",
        "done=counted",
        "done=counted&started=1",
        "done=counted-before",
    ]
    assert _customer(library_world, "dana@example.com").purchases == 3
    theirs = select(CaseRow.sop_id).where(CaseRow.customer_id == dana.id)
    loyalty = [s for s in library_world.session.scalars(theirs) if s == "loyalty-recognition"]
    assert len(loyalty) == 1
    dated = agent.post_form(url, {"purchase_id": "o-4", "at": "2026-01-05T10:30"})
    assert dated.status_code == 303
    future = agent.post_form(url, {"purchase_id": "o-5", "at": "2999-01-01T00:00"})
    assert future.status_code == 422
    empty = agent.post_form(url, {"purchase_id": " "})
    assert empty.status_code == 422 and "give the order number" in empty.text
    garbled = agent.post_form(url, {"purchase_id": "o-6", "at": "next tuesday"})
    assert garbled.status_code == 422 and "like 2026-11-24 14:30" in garbled.text


def test_a_customer_with_many_cases_gets_them_a_page_at_a_time(
    world: World, client_for: ClientFor
) -> None:
    for n in range(60):  # with the seeded one, 61 cases: two pages on theirs
        do_open_case(
            world.session,
            customer_email="dana@example.com",
            customer_name="Dana Scully",
            subject=f"Question number {n}",
            body="Where is my parcel?",
            now=world.now + timedelta(seconds=n),
            settings=world.settings,
        )
    dana = _customer(world, "dana@example.com")
    agent = client_for("agent")
    first = agent.get(f"/customers/{dana.id}").text
    assert "Page 1 of 2 (61 cases)" in first and "<dd>61</dd>" in first
    assert "Question number 59" in first and "Question number 10" in first
    seeded = f'href="/cases/{world.case_ref}"'
    assert "Question number 9<" not in first and seeded not in first
    assert f'href="/customers/{dana.id}?page=2#cases-title" rel="next"' in first
    second = agent.get(f"/customers/{dana.id}", params={"page": 2}).text
    assert "Page 2 of 2" in second and seeded in second
    assert "Question number 9<" in second and "Question number 10" not in second
    assert f'href="/customers/{dana.id}?page=1#cases-title" rel="prev"' in second
    beyond = agent.get(f"/customers/{dana.id}", params={"page": 9})
    assert beyond.status_code == 200 and "Page 2 of 2" in beyond.text

    case = agent.get(f"/cases/{world.case_ref}").text  # the oldest: ten newer ones listed
    assert case.count('<li><a href="/cases/') == 10
    assert "Question number 59" in case and "Question number 49" not in case
    assert f'<a href="/customers/{dana.id}">All 61 cases of dana@example.com</a>' in case
    assert 'title="60 other cases">Repeat customer' in case


def test_another_address_is_added_and_removed_on_the_page(
    world: World, client_for: ClientFor
) -> None:
    dana = _customer(world, "dana@example.com")
    agent = client_for("agent")
    added = agent.post_form(f"/customers/{dana.id}/addresses", {"address": "Dana@Home.example"})
    assert added.headers["location"] == f"/customers/{dana.id}?done=address-added"
    page = agent.get(added.headers["location"]).text
    assert "The address is added: mail from it finds this customer." in page
    assert '<ul class="addresses" aria-label="Other addresses">' in page
    assert 'aria-label="Remove dana@home.example"' in page
    assert "customer.address_added · agent@example.com: dana@home.example" in page
    taken = agent.post_form(f"/customers/{dana.id}/addresses", {"address": "fox@example.com"})
    assert taken.status_code == 409
    fox = _customer(world, "fox@example.com")
    assert f"The address fox@example.com is customer {fox.id}&#39;s: merge customer" in taken.text
    assert 'value="fox@example.com"' in taken.text  # kept to fix
    removed = agent.post_form(
        f"/customers/{dana.id}/addresses/remove", {"address": "dana@home.example"}
    )
    assert removed.headers["location"] == f"/customers/{dana.id}?done=address-removed"
    assert "Remove dana@home.example" not in agent.get(removed.headers["location"]).text
    reader = client_for("agent")
    reader.csrf = "forged"
    assert (
        reader.post_form(f"/customers/{dana.id}/addresses", {"address": "x@y.example"}).status_code
        == 403
    )


def test_a_duplicate_is_merged_into_the_customer_on_the_page(
    world: World, client_for: ClientFor
) -> None:
    dana = _customer(world, "dana@example.com")
    fox = _customer(world, "fox@example.com")
    fox_id = fox.id
    agent = client_for("agent")
    page = agent.get(f"/customers/{dana.id}").text
    assert "Merge a duplicate" in page and 'name="confirm" value="yes" required' in page
    unconfirmed = agent.post_form(f"/customers/{dana.id}/merge", {"other": "fox@example.com"})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm: a merge cannot be undone." in unconfirmed.text
    assert 'value="fox@example.com"' in unconfirmed.text
    nobody = agent.post_form(
        f"/customers/{dana.id}/merge", {"other": "nobody@example.com", "confirm": "yes"}
    )
    assert nobody.status_code == 422 and "No customer &#39;nobody@example.com&#39;." in nobody.text
    merged = agent.post_form(
        f"/customers/{dana.id}/merge", {"other": "FOX@example.com", "confirm": "yes"}
    )
    assert merged.headers["location"] == f"/customers/{dana.id}?done=merged"
    page = agent.get(merged.headers["location"]).text
    assert "The other customer is merged into this one" in page
    assert f'href="/cases/{world.critical_ref}"' in page  # Fox's case is Dana's now
    assert (
        f"customer.merged · agent@example.com: customer {fox_id} (fox@example.com), 1 case" in page
    )
    assert 'aria-label="Remove fox@example.com"' in page
    assert agent.get(f"/customers/{fox_id}").status_code == 404
    itself = agent.post_form(
        f"/customers/{dana.id}/merge", {"other": str(dana.id), "confirm": "yes"}
    )
    assert itself.status_code == 422 and "cannot be merged into themselves" in itself.text


def test_an_address_that_bounces_is_shown_and_the_mark_lifted_on_the_page(
    world: World, client_for: ClientFor
) -> None:
    dana = _customer(world, "dana@example.com")
    agent = client_for("agent")
    assert "email-bounced" not in agent.get(f"/customers/{dana.id}").text
    mark_address_bounced(
        world.session,
        dana.id,
        ["dana@example.com"],
        "bounced: dana@example.com: 5.1.1 550 <script>alert(1)</script>",
        world.now,
    )
    world.session.commit()
    page = agent.get(f"/customers/{dana.id}").text
    assert 'id="email-bounced"' in page and "Address bounces" in page
    assert "Mail to dana@example.com bounces" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "customer.email_bounced" in page  # in what happened to the customer
    cleared = agent.post_form(f"/customers/{dana.id}/bounce/clear", {})
    assert cleared.headers["location"] == f"/customers/{dana.id}?done=bounce-cleared"
    page = agent.get(cleared.headers["location"]).text
    assert "Follow-up messages go to this address again." in page
    assert (
        'id="email-bounced"' not in page and "customer.bounce_cleared · agent@example.com" in page
    )
    world.session.expire_all()
    assert _customer(world, "dana@example.com").email_bounced_at is None


def test_the_customers_whose_address_bounces_are_one_filter_away(
    world: World, client_for: ClientFor
) -> None:
    dana = _customer(world, "dana@example.com")
    mark_address_bounced(world.session, dana.id, ["dana@example.com"], "5.1.1", world.now)
    world.session.commit()
    agent = client_for("agent")
    page = agent.get("/customers?bounced=true").text
    listed = re.findall(r'<a href="/customers/(\d+)">', page)
    assert listed == [str(dana.id)] and "whose address bounces" in page
    assert 'name="bounced" type="checkbox" value="true" checked' in page
    everyone = agent.get("/customers").text
    assert len(re.findall(r'<a href="/customers/(\d+)">', everyone)) >= 2
    assert everyone.count("Address bounces") == 1  # Dana's row is marked
    none = agent.get("/customers?bounced=true&q=fox").text
    assert "has an address that bounces" in none
