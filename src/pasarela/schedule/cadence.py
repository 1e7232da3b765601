"""When a duty is due: a cron expression (croniter) or an interval, read in the duty's time zone.

Slot arithmetic takes explicit moments (``now``) so it can be checked without waiting; the workers
pass the clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from pasarela.core.errors import InvalidInput

_INTERVAL = re.compile(r"^\s*(?:every|cada)\s+(\d+)\s*(s|m|min|h|d)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Cadence:
    text: str
    zone: str

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"zona horaria desconocida: {self.zone!r}", "timezone") from None
        if self.interval is None and not croniter.is_valid(self.text):
            raise InvalidInput(
                f"cadencia inválida {self.text!r}: use una expresión cron (p. ej. '*/15 * * * *') "
                "o un intervalo ('every 15m', 'cada 2h')",
                "cadence",
            )

    @property
    def interval(self) -> int | None:
        """Seconds between slots for 'every N<unit>', None for a cron expression."""
        found = _INTERVAL.match(self.text)
        if not found:
            return None
        seconds = int(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()]
        if seconds <= 0:
            raise InvalidInput(f"intervalo inválido {self.text!r}", "cadence")
        return seconds

    def next_after(self, moment: datetime) -> datetime:
        """The first slot start strictly after ``moment`` (aware UTC)."""
        step = self.interval
        if step is not None:
            # Aligned to the Unix epoch: 'every 15m' fires at :00, :15, :30, :45 in every zone of the region.
            epoch = int(moment.timestamp())
            return datetime.fromtimestamp((epoch // step + 1) * step, UTC)
        local = moment.astimezone(ZoneInfo(self.zone))
        following = croniter(self.text, local).get_next(datetime)
        return following.astimezone(UTC)

    def due(self, since: datetime, now: datetime, limit: int) -> list[datetime]:
        """Slot starts in (since, now], oldest first: at most the ``limit`` latest ones (walked back from
        ``now``, so a long downtime costs ``limit`` steps, not one per missed slot)."""
        slots: list[datetime] = []
        cursor = self.previous(now)
        while cursor is not None and cursor > since and len(slots) < limit:
            slots.append(cursor)
            cursor = self.previous(cursor - timedelta(seconds=1))
        return slots[::-1]

    def previous(self, now: datetime) -> datetime | None:
        """The latest slot start at or before ``now``."""
        step = self.interval
        if step is not None:
            return datetime.fromtimestamp(int(now.timestamp()) // step * step, UTC)
        local = now.astimezone(ZoneInfo(self.zone))
        nudged = local + timedelta(seconds=1)  # croniter's get_prev is strict
        return croniter(self.text, nudged).get_prev(datetime).astimezone(UTC)
