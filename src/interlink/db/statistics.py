"""The planner's statistics of Interlink's tables, kept current on PostgreSQL.

The queues (``jobs``, ``webhook_deliveries``) change faster than anything else in the database: a
backlog of 100k deliveries fills an empty table in a minute and drains in less. PostgreSQL plans
every claim from the statistics ``ANALYZE`` last gathered, and a table analyzed while it was
empty, or never, is estimated at a few dozen due rows when it holds tens of thousands. The claim
is then planned as a bitmap scan of every pending row, a join and a sort of all of them for the
first 64 (50 to 80 ms a claim, its sort spilling to disk) instead of reading the first 64 entries of
its index (0.3 ms): a 60k backlog drained at 0.15 of the bare loop instead of 0.49.

Autovacuum's analyze would gather them, but it wakes once a minute per database
(``autovacuum_naptime``) and may be turned off. So the worker's housekeeping calls ``refresh``:
every table of the schema whose rows changed by more than ``MINIMUM + FRACTION * its live rows``
since it was last analyzed, and that no analyze (ours or autovacuum's) touched in the last
``GAP`` seconds, nor this process tried to (an analyze may be refused), is analyzed. The rule is
autovacuum's own, with a larger floor; the gap bounds the cost on a table under steady churn (one
``ANALYZE`` samples at most 30,000 rows)."""

from __future__ import annotations

import time

from sqlalchemy import text

from interlink.db.engine import Database

MINIMUM = 1000
FRACTION = 0.1
GAP_SECONDS = 15.0

# (database, table) -> when this process last analyzed it (monotonic): a role that may not
# analyze a table (PostgreSQL then warns and changes nothing) does not retry it every tick
_analyzed_at: dict[tuple[str, str], float] = {}

_STALE = text(
    """
    SELECT relname FROM pg_stat_user_tables
    WHERE schemaname = current_schema()
      AND n_mod_since_analyze >= :minimum + :fraction * n_live_tup
      AND coalesce(greatest(last_analyze, last_autoanalyze), '-infinity')
          < now() - make_interval(secs => :gap)
    ORDER BY n_mod_since_analyze DESC
    """
)


async def refresh(
    db: Database,
    *,
    minimum: int = MINIMUM,
    fraction: float = FRACTION,
    gap_seconds: float = GAP_SECONDS,
) -> list[str]:
    """Analyze the tables whose statistics are stale by the rule above; the tables analyzed.
    SQLite is left alone: it gathers statistics only when asked to, and the one query whose plan
    mattered (the delivery claim) names its index there instead."""
    if db.is_sqlite:
        return []
    analyzed: list[str] = []
    async with db.engine.connect() as conn:
        params = {"minimum": minimum, "fraction": fraction, "gap": gap_seconds}
        tables = [str(row[0]) for row in (await conn.execute(_STALE, params)).all()]
        await conn.commit()
        database = str(db.engine.url.database)
        for table in tables:
            mono = time.monotonic()
            if mono - _analyzed_at.get((database, table), float("-inf")) < gap_seconds:
                continue
            _analyzed_at[(database, table)] = mono
            quoted = conn.dialect.identifier_preparer.quote(table)
            # another worker analyzing the same table holds its lock: that one is enough
            await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {quoted}"))
            await conn.commit()
            analyzed.append(table)
    return analyzed
