"""The API as a generated client sees it: run by tools/test-openapi with
the Python client that openapi-python-client generated from the served
/openapi.json installed, against a server on a demo store.

It pages through the projects and the events by following `next`, appends
an `x.` event, reads each section of a project's projections and of the
organisation's, and checks that every answer was parsed into the
generated attrs classes, with real fields, not left as dicts.

Usage: python3 test_openapi_client.py BASE_URL STAFF_TOKEN AUDITOR_TOKEN
"""

import datetime
import sys
import uuid

import attrs

from jointly_client import AuthenticatedClient, Client
from jointly_client.api.default import (
    append,
    get_event,
    get_project,
    healthz,
    list_events,
    list_projects,
    project_projection,
    projection,
)
from jointly_client.models import (
    AppendRequest,
    AppendRequestPayload,
    DecisionView,
    Event,
    EventPage,
    Health,
    ImpactPage,
    ImpactReport,
    Jointness,
    JointnessPage,
    JointnessReport,
    OrganisationProjection,
    PresenceReport,
    Problem,
    ProjectPage,
    ProjectProjection,
    ProjectSummary,
    ProjectView,
    Record,
    Recorded,
    Section,
    ShownCount,
    ShownFewerThan,
    ShownHidden,
    ShownRounded,
    TokenismReport,
    YouSaidWeDid,
    YouSaidWeDidPage,
)
from jointly_client.types import Unset

SHOWN = (ShownCount, ShownFewerThan, ShownHidden, ShownRounded)
checked = 0


def typed(value, cls, what):
    """`value` is an instance of the generated class `cls` (an attrs
    class), not a dict, and each of its declared fields is set to
    something that is not a dict either."""
    global checked
    assert not isinstance(value, dict), f"{what}: a dict, not a {cls.__name__}: {value!r}"
    assert isinstance(value, cls), f"{what}: {type(value).__name__}, not {cls.__name__}: {value!r}"
    if attrs.has(cls):
        for f in attrs.fields(cls):
            if f.name == "additional_properties":
                continue
            v = getattr(value, f.name)
            assert not isinstance(v, dict), f"{what}.{f.name} is a dict: {v!r}"
    checked += 1
    return value


def main():
    base, staff_token, auditor_token = sys.argv[1:4]
    staff = AuthenticatedClient(base_url=base, token=staff_token, raise_on_unexpected_status=True)
    auditor = AuthenticatedClient(base_url=base, token=auditor_token, raise_on_unexpected_status=True)

    health = typed(healthz.sync(client=Client(base_url=base)), Health, "healthz")
    assert health.status == "ok" and health.records > 0, health

    # Projects, a page at a time, following `next`.
    projects, after, pages = [], None, 0
    while True:
        kwargs = {"limit": 3} if after is None else {"limit": 3, "after": after}
        page = typed(list_projects.sync(client=auditor, **kwargs), ProjectPage, "projects page")
        pages += 1
        assert len(page.projects) <= 3
        for p in page.projects:
            typed(p, ProjectSummary, "project summary")
            assert isinstance(p.project_id, uuid.UUID), p.project_id
            assert isinstance(p.partners, SHOWN), p.partners
        projects.extend(page.projects)
        if page.next_ is None:
            break
        assert isinstance(page.next_, uuid.UUID)
        assert page.next_ == page.projects[-1].project_id
        after = page.next_
    ids = [p.project_id for p in projects]
    assert len(ids) == len(set(ids)) and pages > 1, (len(ids), pages)
    assert [str(i) for i in ids] == sorted(str(i) for i in ids), "projects in id order"
    print(f"ok   {len(ids)} projects in {pages} pages of ProjectPage")

    # One project's figures.
    first = typed(get_project.sync(id=ids[0], client=auditor), ProjectView, "project")
    assert first.project_id == ids[0] and isinstance(first.partners, SHOWN)
    assert isinstance(first.title, str) and isinstance(first.started, str)

    # Append an extension event: a typed answer with its seq.
    recorded = typed(
        append.sync(
            client=staff,
            body=AppendRequest(
                type_="x.client.note",
                payload=AppendRequestPayload.from_dict({"said": "from the generated client"}),
            ),
        ),
        Recorded,
        "append",
    )
    assert isinstance(recorded.seq, int) and isinstance(recorded.id, uuid.UUID), recorded
    back = typed(get_event.sync(seq=recorded.seq, client=staff), Event, "event")
    typed(back.record, Record, "record")
    assert back.record.type_ == "x.client.note" and back.seq == recorded.seq
    assert back.payload.additional_properties == {"said": "from the generated client"}, back.payload
    print(f"ok   appended x.client.note as record {recorded.seq} (Recorded), read back as Event")

    # Events, a page at a time, following `next`, up to that record.
    seqs, after = [], None
    while True:
        kwargs = {"limit": 10} if after is None else {"limit": 10, "after": after}
        page = typed(list_events.sync(client=staff, **kwargs), EventPage, "events page")
        for e in page.events:
            typed(e, Event, "event")
            typed(e.record, Record, "record")
            assert e.seq == e.record.seq
        seqs.extend(e.seq for e in page.events)
        if page.next_ is None:
            break
        after = page.next_
    assert seqs == list(range(len(seqs))) and recorded.seq in seqs, seqs[-5:]
    print(f"ok   {len(seqs)} events in pages of EventPage")

    # Each section of each of the first projects' projections.
    expected = {
        "you_said_we_did": YouSaidWeDid,
        "jointness": JointnessReport,
        "tokenism": TokenismReport,
        "presence": PresenceReport,
        "impact": ImpactReport,
    }
    sections = {
        Section.YOU_SAID_WE_DID: ["you_said_we_did"],
        Section.JOINTNESS: ["jointness"],
        Section.TOKENISM: ["tokenism"],
        Section.PRESENCE: ["presence"],
        Section.IMPACT: ["impact"],
        Section.ALL: list(expected),
    }
    decisions = 0
    for pid in ids[:4]:
        for section, present in sections.items():
            pr = typed(
                project_projection.sync(id=pid, section=section, client=auditor),
                ProjectProjection,
                f"projection {section}",
            )
            assert isinstance(pr.as_of, datetime.date)
            for name, cls in expected.items():
                v = getattr(pr, name)
                if name in present:
                    typed(v, cls, f"{section}.{name}")
                else:
                    assert isinstance(v, Unset), f"{section} also holds {name}"
            if section == Section.JOINTNESS:
                for jp in pr.jointness.projects:
                    assert jp.project_id == pid
                    for d in jp.decisions:
                        typed(d, DecisionView, "decision")
                        assert isinstance(d.decision_id, uuid.UUID)
                        assert isinstance(d.class_, Jointness), d.class_
                        decisions += 1
            if section == Section.PRESENCE:
                for row in pr.presence.projects:
                    assert isinstance(row.partners, SHOWN), row.partners
    assert decisions > 0, "no decision in the first projects' jointness"
    print(f"ok   every section of {min(4, len(ids))} projects' projections ({decisions} decisions classed)")

    # The organisation's projections: bounded pages, following `next`.
    pages_of = {
        "you_said_we_did": YouSaidWeDidPage,
        "jointness": JointnessPage,
        "tokenism": TokenismReport,
        "presence": PresenceReport,
        "impact": ImpactPage,
    }
    rows, after = [], None
    while True:
        kwargs = {"limit": 4} if after is None else {"limit": 4, "after": after}
        org = typed(projection.sync(section=Section.ALL, client=auditor, **kwargs), OrganisationProjection, "organisation")
        for name, cls in pages_of.items():
            typed(getattr(org, name), cls, f"organisation {name}")
        assert org.project_count == len(ids)
        rows.extend(r.project_id for r in org.jointness.projects)
        for r in org.jointness.projects:
            assert r.projection == f"/v1/projects/{r.project_id}/projections/jointness"
            assert isinstance(r.decisions, int)
        if org.next_ is None:
            break
        after = org.next_
    assert rows == ids, "the organisation's rows are the projects, once each, in order"
    one = typed(projection.sync(section=Section.JOINTNESS, client=auditor), OrganisationProjection, "jointness")
    assert isinstance(one.you_said_we_did, Unset) and not isinstance(one.jointness, Unset)
    print(f"ok   the organisation's projections: {len(rows)} rows in pages of 4, totals over all")

    # A refusal is a typed problem too.
    refused = AuthenticatedClient(base_url=base, token=auditor_token)
    answer = project_projection.sync(id=uuid.uuid4(), section=Section.ALL, client=refused)
    typed(answer, Problem, "problem")
    assert answer.status == 404, answer
    print(f"ok   {checked} answers parsed into generated classes")


if __name__ == "__main__":
    main()
