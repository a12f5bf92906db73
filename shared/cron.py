"""Five-field cron expressions (minute hour day-of-month month day-of-week), in UTC.

    Cron.parse("0 */12 * * *").previous(now)   # the last time it fired at or before now
    Cron.parse("0 3 * * 0")                    # Sunday 03:00

Fields take `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n`, `a-b/n`; day-of-week 0 or 7
is Sunday. As in cron, when both day fields are restricted a day matches either. A scheduler
keeps the last time it fired and fires once when `previous(now)` is later: a run missed while
the loop was down fires once, not once per missed slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class CronError(ValueError):
    pass


def _field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = lo, hi
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = end = int(body)
        except ValueError:
            raise CronError(f"cron {name} field {text!r}: {part!r} is not a number, range or step") from None
        if step < 1 or not (lo <= start <= hi and lo <= end <= hi and start <= end):
            raise CronError(f"cron {name} field {text!r}: {part!r} is outside {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"cron {text!r} needs 5 fields (minute hour day-of-month month day-of-week)")
        m, h, d, mo, w = (_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True))
        weekdays = frozenset(x % 7 for x in w)
        return cls(text, m, h, d, mo, weekdays, parts[2] == "*", parts[4] == "*")

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def previous(self, now: datetime) -> datetime | None:
        """The latest time at or before `now` the expression fires (None within 4 years: e.g. 30 Feb)."""
        now = now.astimezone(UTC).replace(second=0, microsecond=0)
        day = now.replace(hour=0, minute=0)
        for _ in range(366 * 4):
            if self._day_matches(day):
                for h in sorted(self.hours, reverse=True):
                    for m in sorted(self.minutes, reverse=True):
                        t = day.replace(hour=h, minute=m)
                        if t <= now:
                            return t
            day -= timedelta(days=1)
        return None

    def next(self, now: datetime) -> datetime | None:
        """The earliest time after `now` the expression fires (None within 4 years)."""
        now = now.astimezone(UTC).replace(second=0, microsecond=0)
        day = now.replace(hour=0, minute=0)
        for _ in range(366 * 4):
            if self._day_matches(day):
                for h in sorted(self.hours):
                    for m in sorted(self.minutes):
                        t = day.replace(hour=h, minute=m)
                        if t > now:
                            return t
            day += timedelta(days=1)
        return None
