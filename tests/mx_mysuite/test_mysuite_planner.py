"""Acceptance 5: never ask MYSuite twice, exactly — only the days no earlier request holds are asked,
whether one request or several cover the rest; the daily month-to-date duty asks one new day a day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from pasarela.providers.mx.mysuite import planner
from pasarela.providers.mx.mysuite.models import SatRequest
from pasarela.runtime import Runtime
from pasarela.schedule.duties import DUTIES, Slot


def _ask(start: str, end: str, tipo: str = "CFDI", force: bool = False) -> planner.Ask:
    return planner.Ask(direccion="EMISOR", tipo=tipo, servicio="CFDIS", start=date.fromisoformat(start),
                       end=date.fromisoformat(end), force=force)


def _periods(rt: Runtime, ids: list[int]) -> list[tuple[str, str]]:
    with rt.db.transaction() as session:
        rows = session.scalars(select(SatRequest).where(SatRequest.id.in_(ids)).order_by(SatRequest.id)).all()
        return [(r.fecha_inicial[:10], r.fecha_final[:10]) for r in rows]


def _hold(rt: Runtime, start: str, end: str, tipo: str = "CFDI", state: str = "done") -> list[int]:
    """Earlier requests for a range (registered through the planner, then settled as ``state``)."""
    ids = planner.plan(rt, _ask(start, end, tipo)).created
    with rt.db.transaction() as session:
        for row in session.scalars(select(SatRequest).where(SatRequest.id.in_(ids))):
            row.state = state
    return ids


def test_missing_days_subtracts_every_held_range() -> None:
    d = date.fromisoformat
    held = [(d("2025-03-08"), d("2025-03-20")), (d("2025-03-01"), d("2025-03-10")), (d("2025-03-25"), d("2025-03-26"))]
    assert planner.missing_days(d("2025-03-01"), d("2025-03-31"), held) == [
        (d("2025-03-21"), d("2025-03-24")), (d("2025-03-27"), d("2025-03-31"))]
    assert planner.missing_days(d("2025-03-05"), d("2025-03-09"), held) == []
    assert planner.missing_days(d("2025-04-01"), d("2025-04-02"), held) == [(d("2025-04-01"), d("2025-04-02"))]


def test_one_covering_request_leaves_only_the_days_after_it(rt: Runtime) -> None:
    _hold(rt, "2025-06-11", "2025-09-10", tipo="Metadata")  # one request (metadata is not split)
    result = planner.plan(rt, _ask("2025-08-10", "2025-09-20", tipo="Metadata"))
    assert _periods(rt, result.created) == [("2025-09-11", "2025-09-20")]
    assert len(result.refused) == 1 and "ya fue solicitado" in result.refused[0]["explanation"]


def test_several_covering_requests_leave_only_the_days_after_them(rt: Runtime) -> None:
    held = _hold(rt, "2025-06-11", "2025-09-10")  # CFDI by month: 06-11..06-30, July, August, 09-01..09-10
    assert len(held) == 4
    result = planner.plan(rt, _ask("2025-08-10", "2025-09-20"))
    assert _periods(rt, result.created) == [("2025-09-11", "2025-09-20")]


def test_a_request_inside_the_month_leaves_both_ends(rt: Runtime) -> None:
    _hold(rt, "2025-03-05", "2025-03-15")
    result = planner.plan(rt, _ask("2025-03-01", "2025-03-31"))
    assert _periods(rt, result.created) == [("2025-03-01", "2025-03-04"), ("2025-03-16", "2025-03-31")]


def test_several_scattered_requests_leave_the_gaps_between_them(rt: Runtime) -> None:
    _hold(rt, "2025-03-01", "2025-03-10")
    _hold(rt, "2025-03-08", "2025-03-20", state="downloading")  # a live one holds its days too (resumed)
    _hold(rt, "2025-03-25", "2025-03-26")
    result = planner.plan(rt, _ask("2025-03-01", "2025-03-31"))
    assert _periods(rt, result.created) == [("2025-03-21", "2025-03-24"), ("2025-03-27", "2025-03-31")]
    assert len(result.resumed) == 1


def test_days_of_a_failed_request_are_still_missing_and_force_asks_all_again(rt: Runtime) -> None:
    _hold(rt, "2025-05-01", "2025-05-10", state="failed")
    result = planner.plan(rt, _ask("2025-05-01", "2025-05-31"))  # the failed days are asked within May
    assert _periods(rt, result.created) == [("2025-05-01", "2025-05-31")] and not result.refused
    _hold(rt, "2025-04-01", "2025-04-10", state="too_large")
    same = planner.plan(rt, _ask("2025-04-01", "2025-04-10"))  # the very period refused: needs --force
    assert same.created == [] and "--force" in same.refused[0]["explanation"]
    forced = planner.plan(rt, _ask("2025-04-01", "2025-04-10", force=True))
    assert _periods(rt, forced.created) == [("2025-04-01", "2025-04-10")]


def test_everything_held_asks_nothing(rt: Runtime) -> None:
    _hold(rt, "2025-01-01", "2025-02-28")
    result = planner.plan(rt, _ask("2025-01-15", "2025-02-10"))
    assert result.created == [] and result.resumed == [] and len(result.refused) == 2


@pytest.mark.parametrize("first_day", ["2026-06-03", "2026-07-01"])
def test_month_to_date_three_days_in_a_row_asks_one_new_day_each_time(rt: Runtime, first_day: str) -> None:
    duty = DUTIES["mx_cfdi_month_to_date"]
    options = {"directions": ["issued"], "kinds": ["xml", "metadata"]}
    asked: list[list[tuple[str, str]]] = []
    start = date.fromisoformat(first_day)
    for offset in range(3):
        day = date.fromordinal(start.toordinal() + offset)
        slot = Slot(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC), "America/Mexico_City")
        outcome = duty.run(rt, slot, options)
        asked.append(_periods(rt, outcome.data["created"]))
    if first_day == "2026-06-03":  # June 1–2 the first day, then June 3, then June 4 — per kind
        assert asked == [[("2026-06-01", "2026-06-02")] * 2, [("2026-06-03", "2026-06-03")] * 2,
                         [("2026-06-04", "2026-06-04")] * 2]
    else:  # on the 1st, only the last day of June is missing once June 1–29 are held
        assert asked[0] == [("2026-06-01", "2026-06-30")] * 2
        assert asked[1:] == [[("2026-07-01", "2026-07-01")] * 2, [("2026-07-02", "2026-07-02")] * 2]
