from __future__ import annotations

from ulid import ULID

from interlink.kit.ids import has_prefix, new_id_stem


def test_id_stems_drawn_in_one_millisecond_differ_before_the_tail_a_statement_appends() -> None:
    # ULID() draws consecutive values within a millisecond: cut before their tail, they collide
    stems = {new_id_stem("msg", 5) for _ in range(2000)}
    assert len(stems) == 2000
    completed = next(iter(stems)) + "0000A"
    assert has_prefix(completed, "msg")
    assert ULID.from_str(completed[4:])  # still a ULID, in the ULID alphabet
