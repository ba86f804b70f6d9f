"""Admission and the preemption victim as specifications: the vLLM watermark
rule, the batch-slot limit, the walk over a waiting line, and last-in
first-out eviction (policies/admission.py, policies/preemption.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.admission import WatermarkAdmission
from policies.preemption import LatestAdmitted


def test_the_watermark_is_kept_back_next_to_running_requests():
    a = WatermarkAdmission(max_num_seqs=8, watermark_blocks=3)
    # 10 - 7 = 3 left: exactly the watermark
    assert a.admits(need_blocks=7, free_blocks=10, running=2)
    assert not a.admits(need_blocks=8, free_blocks=10, running=2)   # would dig into it


def test_an_empty_batch_ignores_the_watermark_but_not_the_capacity():
    a = WatermarkAdmission(max_num_seqs=8, watermark_blocks=3)
    assert a.admits(need_blocks=10, free_blocks=10, running=0)
    assert not a.admits(need_blocks=11, free_blocks=10, running=0)


def test_no_admission_past_max_num_seqs_whatever_is_free():
    a = WatermarkAdmission(max_num_seqs=4, watermark_blocks=0)
    assert a.admits(1, 1000, running=3)
    assert not a.admits(1, 1000, running=4)


def test_the_watermark_fraction_rounds_down_to_whole_blocks():
    assert WatermarkAdmission.from_fraction(256, 0.01, 999).watermark_blocks == 9
    assert WatermarkAdmission.from_fraction(256, 0.0, 999).watermark_blocks == 0


@given(needs=st.lists(st.integers(1, 40), max_size=12), free=st.integers(0, 200),
       running=st.integers(0, 6), max_seqs=st.integers(1, 8), watermark=st.integers(0, 30))
def test_admit_count_admits_the_longest_head_that_fits_one_by_one(needs, free, running,
                                                                  max_seqs, watermark):
    a = WatermarkAdmission(max_seqs, watermark)
    n = a.admit_count(needs, free, running)
    taken = sum(needs[:n])
    assert taken <= free and running + n <= max(max_seqs, running)
    for m in range(n):  # every admitted request fitted when its turn came
        left = free - sum(needs[:m])
        assert running + m < max_seqs
        assert needs[m] <= left - (watermark if running + m else 0)
    if n < len(needs):  # and the head that stayed did not
        assert not a.admits(needs[n], free - taken, running + n)


@given(order=st.permutations(range(7)), k=st.integers(1, 7))
def test_the_victim_is_the_latest_admitted_candidate(order, k):
    admit_seq = list(order)  # request i was admitted order[i]-th
    candidates = list(range(k))
    v = LatestAdmitted().victim(candidates, admit_seq)
    assert admit_seq[v] == max(admit_seq[c] for c in candidates)


def test_the_grower_itself_can_be_the_victim():
    import numpy as np

    assert LatestAdmitted().victim([3, 1, 5], np.array([0, 4, 0, 2, 0, 9])) == 5


def test_bad_admission_settings_are_refused():
    with pytest.raises(ValueError):
        WatermarkAdmission(0, 1)
    with pytest.raises(ValueError):
        WatermarkAdmission(4, -1)


def test_make_room_evicts_latest_admitted_until_the_grower_fits():
    from skipsim.kv_pages import PagedKVCache

    kv = PagedKVCache(capacity_blocks=6, block_tokens=4, num_requests=4)
    for rid, tokens in ((0, 4), (1, 8), (2, 4), (3, 4)):  # 1 + 2 + 1 + 1 blocks: 1 free
        assert kv.allocate(rid, tokens, 0.0)
    admit_seq = [0, 1, 2, 3]
    queued, evicted = [1, 2, 3], []

    def evict(v):
        evicted.append(v)
        kv.free(v, 0.0)
        if v in queued:
            queued.remove(v)

    # request 0 grows by 3 blocks: 3 (latest) then 2 go, then it fits
    assert LatestAdmitted().make_room(kv, 0, 16, 0.0, lambda: list(queued), admit_seq, evict)
    assert evicted == [3, 2] and kv.held == [4, 2, 0, 0]
    # the latest admitted may be the grower itself: it is evicted and told so
    evicted.clear()
    assert not LatestAdmitted().make_room(kv, 1, 64, 0.0, lambda: [0], [0, 5, 0, 0], evict)
    assert evicted == [1] and kv.held[1] == 0
    kv.check_integrity()
