"""Object ids: ULIDs after a type prefix, checked against python-ulid's reading of them."""

from __future__ import annotations

import os
import threading
import time

import pytest
from ulid import ULID

from interlink.kit import ids
from interlink.kit.ids import has_prefix, new_id, new_id_stem


@pytest.fixture
def own_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator's memory of the last id is put back after the test: ids made with a clock
    moved ahead must not push the ids of later tests into the future."""
    for name in ("_last_ms", "_last_random", "_last_time"):
        monkeypatch.setattr(ids, name, getattr(ids, name))


def test_an_id_is_a_ulid_of_the_current_millisecond_after_its_prefix() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id("inev")
    after = time.time_ns() // 1_000_000

    assert made.startswith("inev_")
    parsed = ULID.from_str(made.removeprefix("inev_"))
    assert str(parsed) == made.removeprefix("inev_")
    assert before <= parsed.milliseconds <= after
    assert has_prefix(made, "inev")
    assert not has_prefix(made, "inv")


def test_ids_made_one_after_another_sort_in_the_order_they_were_made() -> None:
    made = [new_id("job") for _ in range(5000)]  # many share a millisecond

    assert made == sorted(made)
    assert len(set(made)) == len(made)


@pytest.mark.usefixtures("own_generator")
def test_ids_made_in_the_same_millisecond_differ_only_by_an_increment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen = time.time_ns() + 10**9  # later than any id made so far
    monkeypatch.setattr(time, "time_ns", lambda: frozen)

    first, second = new_id("x"), new_id("x")

    a, b = ULID.from_str(first[2:]), ULID.from_str(second[2:])
    assert a.milliseconds == b.milliseconds == frozen // 1_000_000
    assert int(b) == int(a) + 1


@pytest.mark.usefixtures("own_generator")
@pytest.mark.parametrize("random", [bytes(10), b"\xff" * 10, bytes(range(1, 11))])
def test_the_time_and_every_bit_of_the_random_part_are_encoded_as_python_ulid_does(
    monkeypatch: pytest.MonkeyPatch, random: bytes
) -> None:
    ms = time.time_ns() // 1_000_000 + 10_000  # a millisecond no id was made in yet
    monkeypatch.setattr(time, "time_ns", lambda: ms * 1_000_000)
    monkeypatch.setattr(os, "urandom", lambda n: random[:n])

    made = new_id("x")

    assert made == "x_" + str(ULID.from_bytes(ms.to_bytes(6, "big") + random))


def test_ids_made_on_several_threads_at_once_are_all_different() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(new_id("job") for _ in range(3000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [i for out in made for i in out]
    assert len(set(every)) == len(every)


def test_id_stems_drawn_in_one_millisecond_differ_before_the_tail_a_statement_appends() -> None:
    # ids drawn within a millisecond are consecutive: cut before their tail, they would collide
    stems = {new_id_stem("msg", 5) for _ in range(2000)}
    assert len(stems) == 2000
    completed = next(iter(stems)) + "0000A"
    assert has_prefix(completed, "msg")
    assert ULID.from_str(completed[4:])  # still a ULID, in the ULID alphabet
