from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.cron import Cron, CronError


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(("expr", "now", "fired"), [
    ("0 */12 * * *", "2026-12-01T11:59", "2026-12-01T00:00"),
    ("0 */12 * * *", "2026-12-01T12:00", "2026-12-01T12:00"),
    ("0 3 * * 0", "2026-12-01T10:00", "2026-11-29T03:00"),  # Sunday 03:00, seen on a Tuesday
    ("0 3 * * 7", "2026-11-29T02:59", "2026-11-22T03:00"),  # 7 is Sunday too
    ("30 8 1 * *", "2026-12-01T08:29", "2026-11-01T08:30"),
    ("*/15 9-17 * * 1-5", "2026-12-05T12:00", "2026-12-04T17:45"),  # Saturday noon: Friday's last slot
    ("0 0 13 * 5", "2026-12-01T00:00", "2026-11-27T00:00"),  # both day fields: Friday OR the 13th
])
def test_previous_fire_time(expr: str, now: str, fired: str) -> None:
    assert Cron.parse(expr).previous(t(now)) == t(fired)


@pytest.mark.parametrize(("expr", "says"), [
    ("0 3 * *", "needs 5 fields"), ("61 * * * *", "outside 0-59"), ("0 x * * *", "not a number"),
    ("0 3 * * 8", "outside 0-7"), ("*/0 * * * *", "outside"),
])
def test_bad_expressions_name_the_field(expr: str, says: str) -> None:
    with pytest.raises(CronError, match=says):
        Cron.parse(expr)


def test_next_fire_time() -> None:
    assert Cron.parse("0 3 * * 0").next(t("2026-12-01T10:00")) == t("2026-12-06T03:00")  # the next Sunday
    assert Cron.parse("0 */12 * * *").next(t("2026-12-01T12:00")) == t("2026-12-02T00:00")
    assert Cron.parse("*/15 9-17 * * 1-5").next(t("2026-12-04T17:45")) == t("2026-12-07T09:00")
