"""One test per lint rule: the rule fires on a document that breaks it, with its position,
and stays quiet on the clean document and on near misses."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopdesk.sop import lint as lint_module
from sopdesk.sop.findings import CODES, Finding, Severity, severity_of
from sopdesk.sop.lint import lint, lint_paths, sop_files, vague_spans
from sopdesk.sop.parser import parse_sop

VALID_SOP = """\
---
id: order-questions
title: Answering order questions
owner: support-lead
review: quarterly
applies_to:
  case_type: order
  channels: [email, web]
  when: case.fields.order_number
roles:
  agent:
    title: Support agent
  support-lead:
    title: Support team lead
events:
  carrier_replied: The carrier answered our trace request
fields:
  order_number: The order the question is about
standards:
  first_response: 12 hours
  resolution: 3 business days
  csat: ">= 4.5"
  fcr: ">= 70%"
steps:
  - id: acknowledge
    title: Acknowledge the question
    owner: system
    send: ack
    within: 1 hour
  - id: answer
    title: Answer with the order status
    owner: agent
    within: 4 business hours after acknowledge
    checklist:
      - The order number is recorded
  - id: trace
    title: Pass on the carrier's answer
    owner: agent
    within: 1 business day after carrier_replied
    critical: true
    evidence:
      - The carrier's trace reference
escalation:
  - level: 1
    at: 75%
    notify: [support-lead]
  - level: 2
    at: breach
    assign: support-lead
    respond_within: 2 business hours
followups:
  - id: survey
    send: survey
    after: 1 day after resolved
templates:
  ack:
    subject: "About your order – {{ case.reference }}"
    body: |
      Dear {{ customer.first_name }},

      We have your question about order {{ case.fields.order_number }} and will answer
      within one business day, as soon as the carrier replies.

      {{ company.name }}
  survey:
    subject: "How did we do?"
    body: |
      Dear {{ customer.first_name }}, one click tells us: {{ links.survey }}
---
# Purpose

Customers know where their order is within one business day.

# Scope

Questions about an order that has been placed, by email or the web form.

# Responsibilities

The agent answers; the support lead owns this SOP.

# Procedure

Acknowledge, answer, and trace with the carrier when needed.

# Tools and Resources

The order system and the carrier portal.

# Performance Standards

First response within 12 hours; CSAT of 4.5 or more.

# Records

The case keeps every message and the trace reference.

# Troubleshooting

If the carrier does not answer within 2 business days, call them.

# Escalation

At 75% of a limit the lead is told; at the breach the lead takes the case.

# Glossary

- **Trace**: a carrier's search for a lost parcel.
"""


def lint_text(text: str) -> list[Finding]:
    return lint(parse_sop(text, "sop.md"))


def edit(old: str, new: str, text: str = VALID_SOP) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(needle: str, text: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def only(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


def test_the_valid_sop_has_no_findings():
    assert lint_text(VALID_SOP) == []


@pytest.mark.parametrize("code", sorted(c for c in CODES if c.startswith("SOP1")))
def test_every_semantic_code_has_a_meaning_and_a_severity(code):
    assert CODES[code]
    assert severity_of(code) in {Severity.ERROR, Severity.WARNING}


# --- components ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "code"),
    [
        ("# Purpose\n\nCustomers know where their order is within one business day.\n", "SOP101"),
        ("# Tools and Resources\n\nThe order system and the carrier portal.\n", "SOP102"),
        ("# Records\n\nThe case keeps every message and the trace reference.\n", "SOP102"),
        ("# Glossary\n\n- **Trace**: a carrier's search for a lost parcel.\n", "SOP102"),
        (
            "# Troubleshooting\n\nIf the carrier does not answer within 2 business days, call "
            "them.\n",
            "SOP102",
        ),
    ],
)
def test_missing_section(section, code):
    text = edit(section, "")
    findings = only(lint_text(text), code)
    title = section.splitlines()[0][2:]
    assert [f.message for f in findings] == [f"no '{title}' section"]
    assert findings[0].severity is severity_of(code)


def test_missing_section_points_at_the_body_start():
    text = edit("# Records\n\nThe case keeps every message and the trace reference.\n", "")
    (finding,) = only(lint_text(text), "SOP102")
    assert finding.line == line_of("# Purpose", text)


def test_no_steps_is_an_error():
    start = VALID_SOP.index("steps:\n")
    end = VALID_SOP.index("escalation:\n")
    text = VALID_SOP[:start] + VALID_SOP[end:]
    messages = [f.message for f in only(lint_text(text), "SOP101")]
    assert any("no procedure steps" in m for m in messages)


def test_no_scope_at_all_is_an_error_but_rules_without_a_section_are_a_warning():
    rules = "applies_to:\n  case_type: order\n  channels: [email, web]\n"
    rules += "  when: case.fields.order_number\n"
    section = (
        "# Scope\n\nQuestions about an order that has been placed, by email or the web form.\n"
    )
    both_gone = edit(section, "", edit(rules, ""))
    assert any("no scope" in f.message for f in only(lint_text(both_gone), "SOP101"))
    rules_only = edit(section, "")
    assert [f.message for f in only(lint_text(rules_only), "SOP102")] == ["no 'Scope' section"]
    section_only = edit(rules, "")
    (finding,) = only(lint_text(section_only), "SOP102")
    assert "no applies_to rule" in finding.message


def test_manual_trigger_counts_as_scope():
    text = edit(
        "applies_to:\n  case_type: order\n  channels: [email, web]\n"
        "  when: case.fields.order_number\n",
        "applies_to:\n  trigger: manual\n",
    )
    assert only(lint_text(text), "SOP102") == []


def test_no_roles_and_no_responsibilities_section_is_an_error():
    text = edit("# Responsibilities\n\nThe agent answers; the support lead owns this SOP.\n", "")
    assert only(lint_text(text), "SOP101") == []  # roles still declared
    roles = "roles:\n  agent:\n    title: Support agent\n"
    roles += "  support-lead:\n    title: Support team lead\n"
    text = edit(roles, "", text)
    assert any("no roles" in f.message for f in only(lint_text(text), "SOP101"))


@pytest.mark.parametrize(
    ("key_block", "message"),
    [
        (
            "standards:\n  first_response: 12 hours\n  resolution: 3 business days\n"
            '  csat: ">= 4.5"\n  fcr: ">= 70%"\n',
            "no performance standards",
        ),
    ],
)
def test_missing_runnable_component(key_block, message):
    text = edit(key_block, "")
    assert any(message in f.message for f in only(lint_text(text), "SOP102"))


def test_missing_escalation_and_templates_are_warnings():
    start = VALID_SOP.index("escalation:\n")
    end = VALID_SOP.index("followups:\n")
    text = VALID_SOP[:start] + VALID_SOP[end:]
    assert any("no escalation matrix" in f.message for f in lint_text(text))
    assert severity_of("SOP102") is Severity.WARNING


def test_empty_and_duplicate_sections():
    text = edit("# Records\n\nThe case keeps", "# Records\n\n# Records\n\nThe case keeps")
    findings = only(lint_text(text), "SOP125")
    assert {f.message for f in findings} == {
        "the 'Records' section is empty",
        "a second 'Records' section",
    }
    assert {f.line for f in findings} == {
        line_of("# Records", text),
        line_of("# Records", text) + 2,
    }


# --- steps --------------------------------------------------------------------------


def test_step_without_owner_is_a_warning():
    text = edit("    owner: agent\n    within: 4 business hours", "    within: 4 business hours")
    (finding,) = only(lint_text(text), "SOP103")
    assert finding.severity is Severity.WARNING
    assert finding.line == line_of("  - id: answer", text)
    assert "'answer'" in finding.message


def test_critical_step_without_owner_is_an_error():
    text = edit("    owner: agent\n    within: 1 business day", "    within: 1 business day")
    findings = lint_text(text)
    assert [f.code for f in findings if f.code in {"SOP103", "SOP104"}] == ["SOP104"]
    assert only(findings, "SOP104")[0].severity is Severity.ERROR


def test_step_without_time_limit():
    text = edit("    within: 4 business hours after acknowledge\n", "")
    (finding,) = only(lint_text(text), "SOP105")
    assert finding.line == line_of("  - id: answer", text)


def test_system_step_must_send_something():
    text = edit("    send: ack\n    within: 1 hour\n", "    within: 1 hour\n")
    findings = lint_text(text)
    (finding,) = only(findings, "SOP119")
    assert finding.line == line_of("owner: system", text)
    assert only(lint_text(VALID_SOP), "SOP119") == []


def test_step_limit_longer_than_the_standard():
    text = edit("    within: 1 hour\n", "    within: 24 hours\n")
    (finding,) = only(lint_text(text), "SOP128")
    assert "first_response" in finding.message
    assert finding.line == line_of("within: 24 hours", text)
    # a business limit does not compare with a calendar standard: no guess
    text = edit("    within: 1 hour\n", "    within: 2 business days\n")
    assert only(lint_text(text), "SOP128") == []


# --- anchors ------------------------------------------------------------------------


def test_unknown_anchor():
    text = edit("after carrier_replied", "after carrier_replyed")
    findings = only(lint_text(text), "SOP112")
    assert len(findings) == 1
    assert findings[0].hint == "did you mean 'carrier_replied'?"
    assert findings[0].line == line_of("after carrier_replyed", text)


@pytest.mark.parametrize("anchor", ["opened", "resolved", "first response", "acknowledge"])
def test_known_anchors(anchor):
    text = edit("after carrier_replied", f"after {anchor}")
    assert only(lint_text(text), "SOP112") == []


def test_step_anchored_on_itself_is_a_circle():
    text = edit("4 business hours after acknowledge", "4 business hours after answer")
    (finding,) = only(lint_text(text), "SOP113")
    assert "answer -> answer" in finding.message
    assert only(lint_text(text), "SOP112") == []


def test_circle_of_two_and_a_step_stuck_behind_it():
    text = edit("4 business hours after acknowledge", "4 business hours after trace")
    text = edit("1 business day after carrier_replied", "1 business day after answer", text)
    text = edit("    within: 1 hour\n", "    within: 1 hour after answer\n", text)
    findings = lint_text(text)
    assert {f.message.split("'")[1] for f in only(findings, "SOP113")} == {"answer", "trace"}
    (stuck,) = only(findings, "SOP114")
    assert "'acknowledge'" in stuck.message


def test_unused_event():
    text = edit("1 business day after carrier_replied", "1 business day after acknowledge")
    (finding,) = only(lint_text(text), "SOP124")
    assert finding.line == line_of("  carrier_replied:", text)


# --- templates ----------------------------------------------------------------------


def test_step_sends_a_template_that_does_not_exist():
    text = edit("    send: ack\n", "    send: akc\n")
    findings = lint_text(text)
    (missing,) = only(findings, "SOP109")
    assert missing.hint == "did you mean 'ack'?"
    assert missing.line == line_of("send: akc", text)
    assert [f.message for f in only(findings, "SOP108")] == ["template 'ack' is never sent"]


def test_followup_sends_a_template_that_does_not_exist():
    text = edit("    send: survey\n", "    send: csat-survey\n")
    (finding,) = only(lint_text(text), "SOP109")
    assert finding.message.startswith("followup sends template 'csat-survey'")
    assert finding.line == line_of("send: csat-survey", text)


def test_unknown_placeholder_is_positioned_inside_the_block():
    text = edit("{{ customer.first_name }},\n\n", "{{ customer.frist_name }},\n\n")
    (finding,) = only(lint_text(text), "SOP107")
    assert finding.line == line_of("{{ customer.frist_name }}", text)
    line = text.splitlines()[finding.line - 1]
    assert line[finding.column - 1 :].startswith("customer.frist_name")
    assert "did you mean 'first_name'" in finding.message


@pytest.mark.parametrize(
    "placeholder",
    ["{{ custmer.name }}", "{{ case.fields }}{{ agent.nickname }}", "{{ company.name.first }}"],
)
def test_placeholders_nothing_fills(placeholder):
    text = edit("{{ company.name }}", placeholder)
    assert only(lint_text(text), "SOP107")


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ links.return_label }}",
        "{% for tag in customer.tags %}{{ tag }}{% endfor %}",
        "{{ agent.first_name | default('the team') }}",
        "{{ case.subject.upper() }}",
    ],
)
def test_placeholders_the_context_fills(placeholder):
    text = edit("{{ company.name }}", placeholder)
    assert only(lint_text(text), "SOP107") == []


def test_a_misspelt_built_in_link_is_a_warning_and_a_business_link_is_not():
    text = edit("{{ links.survey }}", "{{ links.surevy }}")
    (finding,) = only(lint_text(text), "SOP129")
    assert finding.severity is Severity.WARNING
    assert "did you mean links.survey" in finding.message
    assert finding.line == line_of("links.surevy", text)
    for fine in ("{{ links.survey }}", "{{ links.return_label }}", "{{ links.unsubscribe }}"):
        assert only(lint_text(edit("{{ links.survey }}", fine)), "SOP129") == []


def test_placeholder_reading_an_undeclared_field():
    text = edit("{{ case.fields.order_number }}", "{{ case.fields.order_id }}")
    (finding,) = only(lint_text(text), "SOP115")
    assert finding.line == line_of("order_id", text)


def test_template_that_does_not_compile():
    text = edit('subject: "How did we do?"', 'subject: "How did we do {{ case.reference"')
    (finding,) = only(lint_text(text), "SOP011")
    assert finding.line == line_of("How did we do {{", text)


def test_template_error_line_inside_a_block_body():
    text = edit("one click tells us: {{ links.survey }}", "one click {% if %} tells us")
    (finding,) = only(lint_text(text), "SOP011")
    assert finding.line == line_of("{% if %}", text)


def test_email_template_without_subject():
    text = edit('    subject: "How did we do?"\n', "")
    (finding,) = only(lint_text(text), "SOP126")
    assert finding.line == line_of("  survey:\n    body", text)
    sms = edit('    subject: "How did we do?"\n', "    channel: sms\n")
    assert only(lint_text(sms), "SOP126") == []


@pytest.mark.parametrize(("channel", "fires"), [("sms", True), ("call", True), ("email", False)])
def test_call_or_sms_followup_with_an_email_template(channel, fires):
    text = edit(
        "    after: 1 day after resolved\n",
        f"    after: 1 day after resolved\n    channel: {channel}\n",
    )
    findings = only(lint_text(text), "SOP120")
    assert bool(findings) is fires
    if fires:
        assert findings[0].line == line_of(f"channel: {channel}", text)


# --- conditions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        "case.fields.order_number and",
        "customer.teir == 'vip'",
        "__import__('os')",
        "case.__class__",
        "x %}{% for a in b",
    ],
)
def test_invalid_conditions(condition):
    text = edit("when: case.fields.order_number", f'when: "{condition}"')
    (finding,) = only(lint_text(text), "SOP010")
    assert finding.line == line_of("when:", text)


def test_condition_reading_an_undeclared_field():
    text = edit("when: case.fields.order_number", "when: case.fields.order_no")
    (finding,) = only(lint_text(text), "SOP115")
    assert finding.line == line_of("when:", text)


def test_unless_on_a_followup_is_checked():
    text = edit(
        "    after: 1 day after resolved\n",
        "    after: 1 day after resolved\n    unless: case.reopend\n",
    )
    assert only(lint_text(text), "SOP010")
    ok = edit(
        "    after: 1 day after resolved\n",
        "    after: 1 day after resolved\n    unless: case.reopened\n",
    )
    assert only(lint_text(ok), "SOP010") == []


# --- roles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("owner: support-lead\nreview", "owner: supportlead\nreview", "owner: supportlead"),
        ("    owner: agent\n    within: 4", "    owner: agnet\n    within: 4", "agnet"),
        ("notify: [support-lead]", "notify: [team-lead]", "team-lead"),
        ("assign: support-lead", "assign: manager", "manager"),
    ],
)
def test_undeclared_roles(old, new, needle):
    text = edit(old, new)
    findings = only(lint_text(text), "SOP110")
    assert findings
    assert findings[0].line == line_of(needle, text)


def test_system_may_own_a_step_but_not_receive_escalations():
    assert only(lint_text(VALID_SOP), "SOP110") == []
    text = edit("notify: [support-lead]", "notify: [system]")
    assert only(lint_text(text), "SOP110")


def test_unused_role():
    text = edit(
        "  support-lead:\n    title: Support team lead\n",
        "  support-lead:\n    title: Support team lead\n  billing:\n    title: Billing\n",
    )
    (finding,) = only(lint_text(text), "SOP123")
    assert finding.line == line_of("  billing:", text)


# --- escalation ---------------------------------------------------------------------


def test_escalation_nobody_receives():
    text = edit("    notify: [support-lead]\n", "")
    (finding,) = only(lint_text(text), "SOP111")
    assert finding.line == line_of("  - level: 1", text)


def test_escalation_that_only_assigns_is_received():
    assert only(lint_text(VALID_SOP), "SOP111") == []


@pytest.mark.parametrize(
    ("first", "second", "fires"),
    [
        ("75%", "breach", False),
        ("breach", "75%", True),
        ("75%", "50%", True),
        ("75%", "75%", True),
        ("breach", "2 business hours after breach", False),
    ],
)
def test_escalation_order(first, second, fires):
    text = edit("    at: 75%\n", "    at: FIRST\n")
    text = edit("    at: breach\n", f"    at: {second}\n", text)
    text = edit("FIRST", first, text)
    assert bool(only(lint_text(text), "SOP121")) is fires


def test_escalation_level_numbers_must_increase():
    text = edit("  - level: 2\n", "  - level: 1\n")
    (finding,) = only(lint_text(text), "SOP121")
    assert finding.line == line_of("    at: breach", text)


def test_respond_within_with_an_anchor():
    text = edit("respond_within: 2 business hours", "respond_within: 2 business hours after answer")
    (finding,) = only(lint_text(text), "SOP122")
    assert "respond_within: 2 business hours" in finding.hint


def test_escalation_metric_must_be_measurable():
    text = edit("  - level: 2\n", "  - level: 2\n    metric: happiness\n")
    assert only(lint_text(text), "SOP116")
    ok = edit("  - level: 2\n", "  - level: 2\n    metric: first_response\n")
    assert only(lint_text(ok), "SOP116") == []


# --- standards ----------------------------------------------------------------------

STANDARDS = (
    "standards:\n  first_response: 12 hours\n  resolution: 3 business days\n"
    '  csat: ">= 4.5"\n  fcr: ">= 70%"\n'
)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("  first_respnse: 12 hours\n", "SOP116"),
        ("  happiness: '>= 3'\n", "SOP116"),
        ("  resolution: fast\n", "SOP117"),
        ("  resolution: 3 days after answer\n", "SOP117"),
        ("  csat: '4.5'\n", "SOP118"),
        ("  csat: '>= 9'\n", "SOP118"),
        ("  fcr: '>= 70'\n", "SOP118"),
        ("  fcr: '>= 170%'\n", "SOP118"),
        ("  nps: 'at least 30'\n", "SOP118"),
    ],
)
def test_unmeasurable_standards(line, code):
    text = edit(STANDARDS, "standards:\n" + line)
    findings = only(lint_text(text), code)
    assert len(findings) == 1
    assert findings[0].line == line_of(line.strip(), text)


@pytest.mark.parametrize(
    "line",
    [
        "  first_response: 12 hours\n",
        "  first-response: 24 business hours\n",
        "  next_response: '<= 8 business hours'\n",
        "  nps: '>= 30'\n",
        "  csat: '>= 90%'\n",
        "  reopen_rate: '< 5%'\n",
        "  sla_compliance: 95\n",
    ],
)
def test_measurable_standards(line):
    text = edit(STANDARDS, "standards:\n" + line)
    codes = {f.code for f in lint_text(text)}
    if line.strip().startswith("sla_compliance"):
        assert codes == {"SOP118"}  # a bare number is not a comparison
    else:
        assert not codes & {"SOP116", "SOP117", "SOP118"}


# --- language and cadence -----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "word"),
    [
        ("title: Answer with the order status", "title: Answer ASAP", "ASAP"),
        ("- The order number is recorded", "- Reply promptly", "promptly"),
        ("and will answer\n      within one business day", "and will answer\n      soon", "soon"),
        (
            "Customers know where their order is within one business day.",
            "Customers hear from us in a timely manner.",
            "in a timely manner",
        ),
        (
            "title: Support agent",
            "title: Support agent\n    responsibilities: [Reply quickly]",
            "quickly",
        ),
    ],
)
def test_vague_language_is_found_where_it_is(old, new, word):
    text = edit(old, new)
    (finding,) = only(lint_text(text), "SOP106")
    assert finding.severity is Severity.WARNING
    assert finding.line == line_of(word, text)
    line = text.splitlines()[finding.line - 1]
    assert line[finding.column - 1 :].startswith(word)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("as soon as the item arrives", []),
        ("as soon as possible", ["as soon as possible"]),
        ("as soon as we can", ["soon"]),
        ("no later than Friday", []),
        ("we will call later", ["later"]),
        ("ASAP and promptly", ["ASAP", "promptly"]),
        ("reasonably", []),
        ("in a\n  timely manner", ["in a\n  timely manner"]),
    ],
)
def test_vague_spans(text, expected):
    assert [word for _, word in vague_spans(text)] == expected


def test_review_cadence_longer_than_a_year():
    text = edit("review: quarterly", "review: every 2 years")
    (finding,) = only(lint_text(text), "SOP127")
    assert finding.line == 5
    assert only(lint_text(edit("review: quarterly", "review: annually")), "SOP127") == []


# --- robustness and paths -----------------------------------------------------------


def test_a_crashing_rule_becomes_a_finding_and_the_other_rules_still_run(monkeypatch):
    def broken_rule(ctx):
        raise KeyError("boom")

    monkeypatch.setattr(lint_module, "RULES", (broken_rule, *lint_module.RULES))
    text = edit("title: Answer with the order status", "title: Answer ASAP")
    codes = [f.code for f in lint_text(text)]
    assert codes.count("SOP199") == 1
    assert "SOP106" in codes


def test_lint_of_an_unparsed_result_returns_the_parser_findings():
    result = parse_sop("no front matter here", "x.md")
    assert [f.code for f in lint(result)] == ["SOP001"]


def test_lint_paths_walks_directories_and_reports_missing_files(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.md").write_text(VALID_SOP, encoding="utf-8")
    (tmp_path / "bad.md").write_text("---\nid: [\n---\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not an SOP", encoding="utf-8")
    (tmp_path / "README.md").write_text("# Our SOPs", encoding="utf-8")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "vendored.md").write_text("# not ours", encoding="utf-8")
    assert [p.name for p in sop_files([tmp_path])] == ["bad.md", "good.md"]
    assert sop_files([tmp_path / "README.md"]) == [tmp_path / "README.md"]
    findings = lint_paths([tmp_path, tmp_path / "missing.md"])
    assert {(Path(f.path).name, f.code) for f in findings} == {
        ("bad.md", "SOP002"),
        ("missing.md", "SOP008"),
    }


def test_findings_are_sorted_by_position():
    text = edit("title: Answer with the order status", "title: Answer ASAP")
    text = edit("review: quarterly", "review: every 2 years", text)
    findings = lint_text(text)
    assert findings == sorted(findings, key=lambda f: (f.path, f.line, f.column, f.code))


def test_library_sops_lint_without_errors():
    library = Path(__file__).parents[2] / "src" / "sopdesk" / "library"
    findings = lint_paths([library])
    assert [str(f) for f in findings if f.severity is Severity.ERROR] == []
