"""The KPIs of a set of cases, overall and per group, from `Facts`.

Definitions (docs/metrics.md has them with examples):

Proactive cases (channel `internal`: opened by sopdesk for a customer's event, or by an
agent for an outreach) count in the cases, CSAT and SLA attainment, but not in the KPIs
about customers contacting us — first contact resolution, response and resolution
times, repeat contacts and repeat business — where an onboarding case closed without a
reply would read as a first contact resolution, a thank-you as a first response, and
a case a purchase opened as the customer writing in again.

- CSAT: share of answers rated 4 or 5; mean rating; answers; response rate = resolved
  cases with an answer / resolved cases.
- First contact resolution: share of resolved cases with at most one agent reply and
  no reopening; beside it, the share of "yes" among the customers' own answers to
  "did we solve it".
- First response and resolution times: wall-clock hours from opening, count, mean,
  nearest-rank p50 and p90.
- SLA attainment: share of cases without an `sla.breached` event; breaches by target.
- Repeat complaints: complaining customers with another complaint case within 90 days.
- Repeat contacts: resolved cases whose customer opened another case within 7 days.
- Repeat business: customers with a resolved case who bought within 90 days after it.

A group with no cases (or no answers) reports None, never 0, for what it cannot know.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sopdesk.metrics import stats
from sopdesk.metrics.model import (
    CaseFacts,
    Contact,
    Csat,
    Dimension,
    Durations,
    Facts,
    Fcr,
    GroupKey,
    GroupReport,
    Kpis,
    Purchase,
    RepeatBusiness,
    Repeats,
    Report,
    Sla,
    SurveyFacts,
)

SATISFIED_MIN = 4
"""The standard CSAT counts 4 (satisfied) and 5 (very satisfied) as satisfied."""
FIRST_CONTACT_MAX_REPLIES = 1
COMPLAINT = "complaint"
REPEAT_COMPLAINT_WINDOW = timedelta(days=90)
REPEAT_CONTACT_WINDOW = timedelta(days=7)
REPEAT_BUSINESS_WINDOW = timedelta(days=90)
HOUR = timedelta(hours=1)


# --- grouping ----------------------------------------------------------------------


def case_key(case: CaseFacts, by: Dimension) -> GroupKey:
    """The group a case belongs to under `by`."""
    if by is Dimension.SOP:
        return GroupKey(sop_id=case.sop_id)
    if by is Dimension.VERSION:
        return GroupKey(sop_id=case.sop_id, version=case.sop_version)
    if by is Dimension.CHANNEL:
        return GroupKey(channel=case.channel)
    if by is Dimension.ASSIGNEE:
        return GroupKey(assignee=case.assignee)
    return GroupKey()


def sequence_key(survey: SurveyFacts, by: Dimension) -> GroupKey:
    """The group of a customer-sequence answer (no case): its SOP, where the dimension
    has one, else a group of its own."""
    if by is Dimension.OVERALL:
        return GroupKey()
    if by is Dimension.SOP:
        return GroupKey(sop_id=survey.sop_id)
    return GroupKey(sop_id=survey.sop_id if by is Dimension.VERSION else None, sequence=True)


# --- the KPIs of one group ------------------------------------------------------------


def csat(cases: Sequence[CaseFacts], answers: Sequence[SurveyFacts]) -> Csat:
    ratings = [answer.rating for answer in answers]
    satisfied = sum(rating >= SATISFIED_MIN for rating in ratings)
    resolved = {case.case_id for case in cases if case.resolved}
    answered = {answer.case_id for answer in answers if answer.case_id in resolved}
    return Csat(
        answers=len(ratings),
        satisfied=satisfied,
        csat=stats.share(satisfied, len(ratings)),
        mean_rating=stats.mean(ratings),
        answered_resolved_cases=len(answered),
        response_rate=stats.share(len(answered), len(resolved)),
    )


def first_contact(case: CaseFacts) -> bool:
    """Resolved with at most one agent reply and never reopened."""
    return (
        case.resolved and case.agent_replies <= FIRST_CONTACT_MAX_REPLIES and case.reopen_count == 0
    )


def fcr(cases: Sequence[CaseFacts], answers: Sequence[SurveyFacts]) -> Fcr:
    resolved = sum(case.resolved for case in cases)
    first = sum(first_contact(case) for case in cases)
    said = [answer.resolved for answer in answers if answer.resolved is not None]
    yes = sum(said)
    return Fcr(
        resolved_cases=resolved,
        first_contact=first,
        rate=stats.share(first, resolved),
        said_answers=len(said),
        said_yes=yes,
        customer_yes_share=stats.share(yes, len(said)),
    )


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max((end - start) / HOUR, 0.0)


def sla(cases: Sequence[CaseFacts]) -> Sla:
    breached = sum(bool(case.breaches) for case in cases)
    targets = Counter(target for case in cases for target in case.breaches)
    return Sla(
        cases=len(cases),
        breached_cases=breached,
        attainment=stats.share(len(cases) - breached, len(cases)),
        breaches_by_target=tuple(sorted(targets.items(), key=lambda item: (-item[1], item[0]))),
    )


def repeats(cases: Sequence[CaseFacts], contacts: Mapping[int, Sequence[Contact]]) -> Repeats:
    complaints: dict[int, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        if case.case_type == COMPLAINT:
            complaints[case.customer_id].append(case)
    repeat_complainers = sum(
        _complained_again(own, contacts.get(customer, ())) for customer, own in complaints.items()
    )
    resolved = [case for case in cases if case.resolved_at is not None]
    again = sum(_came_back(case, contacts.get(case.customer_id, ())) for case in resolved)
    return Repeats(
        complaining_customers=len(complaints),
        repeat_complainers=repeat_complainers,
        repeat_complaint_share=stats.share(repeat_complainers, len(complaints)),
        resolved_cases=len(resolved),
        repeat_contacts=again,
        repeat_contact_share=stats.share(again, len(resolved)),
    )


def _complained_again(own: Sequence[CaseFacts], contacts: Iterable[Contact]) -> bool:
    """Another complaint case of the customer (in the group or not, in the period or
    not) opened within 90 days of one of `own`, before or after it."""
    opened = {c.case_id: c.opened_at for c in contacts if c.case_type == COMPLAINT}
    opened.update((case.case_id, case.opened_at) for case in own)
    return any(
        other != case.case_id and abs(at - case.opened_at) <= REPEAT_COMPLAINT_WINDOW
        for case in own
        for other, at in opened.items()
    )


def _came_back(case: CaseFacts, contacts: Iterable[Contact]) -> bool:
    """The customer opened another case within 7 days after this one's resolution."""
    assert case.resolved_at is not None
    end = case.resolved_at + REPEAT_CONTACT_WINDOW
    return any(
        other.case_id != case.case_id and case.resolved_at < other.opened_at <= end
        for other in contacts
    )


def repeat_business(
    cases: Sequence[CaseFacts], purchases: Mapping[int, Sequence[Purchase]]
) -> RepeatBusiness:
    resolutions: dict[int, list[datetime]] = defaultdict(list)
    for case in cases:
        if case.resolved_at is not None:
            resolutions[case.customer_id].append(case.resolved_at)
    returning = sum(
        any(
            resolved < purchase.at <= resolved + REPEAT_BUSINESS_WINDOW
            for resolved in moments
            for purchase in purchases.get(customer, ())
        )
        for customer, moments in resolutions.items()
    )
    return RepeatBusiness(
        customers=len(resolutions),
        returning=returning,
        share=stats.share(returning, len(resolutions)),
    )


def kpis(
    cases: Sequence[CaseFacts],
    answers: Sequence[SurveyFacts],
    contacts: Mapping[int, Sequence[Contact]],
    purchases: Mapping[int, Sequence[Purchase]],
) -> Kpis:
    """Every KPI of one group: its cases and the answers that belong to it."""
    reactive = [case for case in cases if not case.proactive]
    return Kpis(
        cases=len(cases),
        resolved=sum(case.resolved for case in cases),
        proactive=len(cases) - len(reactive),
        csat=csat(cases, answers),
        fcr=fcr(reactive, answers),
        first_response=_durations(reactive, lambda case: case.first_response_at),
        resolution=_durations(reactive, lambda case: case.resolved_at),
        sla=sla(cases),
        repeats=repeats(reactive, contacts),
        repeat_business=repeat_business(reactive, purchases),
    )


def _durations(
    cases: Sequence[CaseFacts], end: Callable[[CaseFacts], datetime | None]
) -> Durations:
    hours = [h for case in cases if (h := _hours(case.opened_at, end(case))) is not None]
    return stats.durations(hours)


# --- the report -----------------------------------------------------------------------


def build_report(facts: Facts, by: Dimension = Dimension.OVERALL) -> Report:
    """The KPIs of the cases opened in `facts.period`, overall and grouped `by`.

    A case's answer counts in the case's group; a customer-sequence answer (no case)
    counts when answered in the period, in its SOP's group (`sequence_key`).
    """
    period = facts.period
    cases = [case for case in facts.cases if period.contains(case.opened_at)]
    in_period = {case.case_id for case in cases}
    answers = [
        answer
        for answer in facts.surveys
        if (answer.case_id in in_period)
        or (answer.case_id is None and period.contains(answer.answered_at))
    ]
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in facts.contacts:
        if not contact.proactive:  # our own outreach is not the customer coming back
            contacts[contact.customer_id].append(contact)
    purchases: dict[int, list[Purchase]] = defaultdict(list)
    for purchase in facts.purchases:
        purchases[purchase.customer_id].append(purchase)

    overall = kpis(cases, answers, contacts, purchases)
    if by is Dimension.OVERALL:
        return Report(period, by, overall, ())
    grouped_cases: dict[GroupKey, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        grouped_cases[case_key(case, by)].append(case)
    key_of_case = {case.case_id: case_key(case, by) for case in cases}
    grouped_answers: dict[GroupKey, list[SurveyFacts]] = defaultdict(list)
    for answer in answers:
        if answer.case_id is None:
            grouped_answers[sequence_key(answer, by)].append(answer)
        else:
            grouped_answers[key_of_case[answer.case_id]].append(answer)
    keys = sorted(set(grouped_cases) | set(grouped_answers), key=GroupKey.sort_key)
    groups = tuple(
        GroupReport(
            key,
            key.label(by),
            kpis(grouped_cases.get(key, []), grouped_answers.get(key, []), contacts, purchases),
        )
        for key in keys
    )
    return Report(period, by, overall, groups)
