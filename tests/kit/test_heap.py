import gc
import sys
import types
import weakref
from collections.abc import Iterator

import pytest

from interlink.kit import heap


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(heap, "_modules_at_freeze", 0)
    yield
    gc.unfreeze()


def test_objects_alive_after_a_new_module_was_imported_are_frozen_once(unfrozen: None) -> None:
    heap.freeze_if_modules_loaded()
    gc.unfreeze()
    sys.modules["interlink_heap_probe"] = types.ModuleType("interlink_heap_probe")
    try:
        assert heap.freeze_if_modules_loaded() is True
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        assert heap.freeze_if_modules_loaded() is False  # nothing imported since
        assert gc.get_freeze_count() == 0
    finally:
        del sys.modules["interlink_heap_probe"]


def test_garbage_is_collected_before_the_freeze(unfrozen: None) -> None:
    heap.freeze_if_modules_loaded()
    gc.unfreeze()

    class Node:
        def __init__(self) -> None:
            self.me = self

    collected: list[str] = []
    cycle = Node()
    weakref.finalize(cycle, collected.append, "gone")
    del cycle
    sys.modules["interlink_heap_probe"] = types.ModuleType("interlink_heap_probe")
    try:
        heap.freeze_if_modules_loaded()
    finally:
        del sys.modules["interlink_heap_probe"]
    assert collected == ["gone"]


def _rss_anon_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def test_trim_returns_freed_heap_memory_to_the_system() -> None:
    if not heap.trim():
        pytest.skip("the C library has no malloc_trim (not glibc)")
    # 80 MB of blocks, one in 64 kept: the freed ones lie between kept ones, where the
    # allocator keeps them (only free memory at the top of the heap goes back by itself)
    blocks = [bytes(4000) + bytes([n % 256]) for n in range(20_000)]
    kept = blocks[::64]
    del blocks
    held = _rss_anon_kib()
    assert heap.trim() is True
    assert held - _rss_anon_kib() > 40_000  # KiB: most of the 80 MB freed
    assert len(kept) == 313
