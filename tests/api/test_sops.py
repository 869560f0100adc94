"""/api/v1/sops: drafts, lint, the publish workflow, diffs, versions and acknowledgements."""

from __future__ import annotations

from importlib.resources import files

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import acknowledgements
from tests.api.conftest import bearer, problem
from tests.conftest import sop_text


def test_draft_submit_publish_diff_retire(
    client: TestClient, session: Session, manager: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/sops", json={"text": sop_text(), "note": "first"}, headers=manager
    )
    assert created.status_code == 201, created.text
    v1 = created.json()
    assert (v1["sop_id"], v1["version"], v1["status"]) == ("refunds", 1, "draft")
    assert v1["author"] == "manager@example.com" and v1["source"] == sop_text()
    problem(client.post("/api/v1/sops", json={"text": sop_text()}, headers=manager), 409)
    problem(client.post("/api/v1/sops", json={"text": "no front matter"}, headers=manager), 422)

    edited = client.put(
        "/api/v1/sops/refunds/draft",
        json={"text": sop_text(title="Refunds, fast")},
        headers=manager,
    )
    assert edited.status_code == 200 and edited.json()["title"] == "Refunds, fast"
    submitted = client.post("/api/v1/sops/refunds/submit", json={}, headers=manager)
    assert submitted.json()["status"] == "in_review"
    published = client.post("/api/v1/sops/refunds/publish", json={"note": "ok"}, headers=manager)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["approved_by"] == "manager@example.com"

    draft2 = client.put(
        "/api/v1/sops/refunds/draft",
        json={"text": sop_text(within="12 business hours")},
        headers=manager,
    )
    assert draft2.json()["version"] == 2 and draft2.json()["status"] == "draft"
    diff = client.get("/api/v1/sops/refunds/diff", headers=manager).json()
    assert (diff["from_version"], diff["to_version"], diff["identical"]) == (1, 2, False)
    assert any("24 business hours" in c and "12 business hours" in c for c in diff["changes"])
    assert "-  first_response: 24 business hours" in diff["unified"]
    same = client.get("/api/v1/sops/refunds/diff?from=2&to=2", headers=manager).json()
    assert same["identical"] is True
    problem(client.get("/api/v1/sops/refunds/diff?from=9", headers=manager), 404)

    detail = client.get("/api/v1/sops/refunds", headers=manager).json()
    assert detail["published_version"] == 1 and detail["current"]["version"] == 1
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert "source" not in detail["versions"][0]
    assert client.get("/api/v1/sops/refunds/versions/2", headers=manager).json()["source"] == (
        sop_text(within="12 business hours")
    )
    problem(client.get("/api/v1/sops/refunds/versions/7", headers=manager), 404)
    problem(client.get("/api/v1/sops/nope", headers=manager), 404)
    listed = client.get("/api/v1/sops", headers=manager).json()
    assert [(s["id"], s["latest_version"]) for s in listed] == [("refunds", 2)]

    retired = client.post("/api/v1/sops/refunds/retire", json={}, headers=manager)
    assert retired.status_code == 200, retired.text
    assert {v["status"] for v in retired.json()} == {"retired"}
    assert client.get("/api/v1/sops/refunds", headers=manager).json()["status"] == "retired"


def test_lint_without_saving(client: TestClient, session: Session, agent: dict[str, str]) -> None:
    text = (files("sopdesk.library") / "inquiry-response.md").read_text(encoding="utf-8")
    good = client.post("/api/v1/sops/lint", json={"text": text}, headers=agent).json()
    assert good["parses"] is True and good["errors"] == 0 and 60 < good["score"] <= 100
    small = client.post("/api/v1/sops/lint", json={"text": sop_text()}, headers=agent).json()
    assert small["parses"] is True and small["errors"] > 0 and small["score"] < good["score"]
    vague = sop_text(purpose="Answer as soon as possible, where appropriate.")
    found = client.post("/api/v1/sops/lint", json={"text": vague}, headers=agent).json()
    assert any(f["severity"] == "warning" and f["line"] > 1 for f in found["findings"])
    broken = client.post("/api/v1/sops/lint", json={"text": "# no front matter"}, headers=agent)
    assert broken.json()["parses"] is False and broken.json()["errors"] >= 1
    assert broken.json()["score"] == 0
    assert client.get("/api/v1/sops", headers=agent).json() == []


def test_agents_cannot_edit_or_publish(client: TestClient, agent: dict[str, str]) -> None:
    body = problem(client.post("/api/v1/sops", json={"text": sop_text()}, headers=agent), 403)
    assert body["detail"] == "an agent may not do this (sop.edit)"
    problem(client.post("/api/v1/sops/refunds/publish", json={}, headers=agent), 403, "forbidden")


def test_acknowledgements_reset_on_a_material_change_only(
    client: TestClient, session: Session, manager: dict[str, str]
) -> None:
    ann = bearer(session, "ann@example.com", "agent")
    bob = bearer(session, "bob@example.com", "agent")
    client.post("/api/v1/sops", json={"text": sop_text()}, headers=manager)
    problem(client.post("/api/v1/sops/refunds/versions/1/acknowledge", headers=ann), 409)
    client.post("/api/v1/sops/refunds/publish", json={}, headers=manager)

    acked = client.post("/api/v1/sops/refunds/versions/1/acknowledge", headers=ann)
    assert acked.status_code == 200, acked.text
    assert acked.json()["user_id"] and acked.json()["version"] == 1
    again = client.post("/api/v1/sops/refunds/versions/1/acknowledge", headers=ann).json()
    assert again["at"] == acked.json()["at"]

    def status() -> tuple[list[str], list[str]]:
        body = client.get("/api/v1/sops/refunds/acknowledgements", headers=bob).json()
        return [r["email"] for r in body["read"]], [r["email"] for r in body["not_read"]]

    assert status() == (["ann@example.com"], ["bob@example.com", "manager@example.com"])

    # an editorial change (material: false) keeps Ann's acknowledgement
    client.put(
        "/api/v1/sops/refunds/draft", json={"text": sop_text(title="Refunds!")}, headers=manager
    )
    client.post("/api/v1/sops/refunds/publish", json={"material": False}, headers=manager)
    assert status()[0] == ["ann@example.com"]
    problem(client.post("/api/v1/sops/refunds/versions/1/acknowledge", headers=bob), 409)
    client.post("/api/v1/sops/refunds/versions/2/acknowledge", headers=bob)
    body = client.get("/api/v1/sops/refunds/acknowledgements", headers=bob).json()
    assert body["version"] == 2 and body["counting_from"] == 1
    assert [(r["email"], r["version"]) for r in body["read"]] == [
        ("ann@example.com", 1),
        ("bob@example.com", 2),
    ]

    # a material change asks everyone again
    client.put(
        "/api/v1/sops/refunds/draft",
        json={"text": sop_text(within="8 business hours")},
        headers=manager,
    )
    client.post("/api/v1/sops/refunds/publish", json={"material": True}, headers=manager)
    assert status() == ([], ["ann@example.com", "bob@example.com", "manager@example.com"])
    read, not_read = acknowledgements.acknowledgement_status(session, "refunds")
    assert read == [] and len(not_read) == 3

    cases_token = bearer(session, "ann@example.com", "agent", "cases")
    problem(client.post("/api/v1/sops/refunds/versions/3/acknowledge", headers=cases_token), 403)
