"""ShareGPT: recovery of a truncated file and vLLM's sampling rules."""

import random
from pathlib import Path

import numpy as np
import pytest

from skipsim.errors import UserError
from traces.sharegpt import conversation_pairs, is_valid_pair, recover_records, sample_indices

FIXTURE = Path(__file__).parent / "fixtures" / "sharegpt_truncated.json"


def test_truncated_file_keeps_every_complete_record():
    recovered = recover_records(FIXTURE.read_text())
    assert [r["id"] for r in recovered.records] == ["conv0", "conv1", "conv2", "conv3"]
    assert recovered.truncated and recovered.bytes_dropped > 0


def test_complete_file_is_not_reported_truncated():
    recovered = recover_records('[{"id": 1}, {"id": 2}]')
    assert [r["id"] for r in recovered.records] == [1, 2]
    assert not recovered.truncated


def test_text_that_is_no_array_is_a_user_error():
    with pytest.raises(UserError):
        recover_records('{"id": 1}')


def test_conversations_with_fewer_than_two_turns_are_dropped():
    pairs = conversation_pairs(recover_records(FIXTURE.read_text()).records)
    assert len(pairs) == 3  # conv2 has one turn, conv4 is cut off
    assert pairs[0][0].startswith("Question 0") and pairs[0][1].startswith("The answer is 0")


@pytest.mark.parametrize("prompt,output,ok", [
    (4, 4, True), (3, 100, False), (100, 3, False), (1024, 1024, True),
    (1025, 10, False), (1000, 1049, False), (1000, 1048, True),
])
def test_length_filters_are_vllms(prompt, output, ok):
    assert bool(is_valid_pair(np.array([prompt]), np.array([output]))[0]) is ok


def test_sampling_takes_valid_pairs_in_vllms_shuffle_order():
    rng = np.random.default_rng(7)
    prompt = rng.integers(1, 1500, 500)
    output = rng.integers(1, 1500, 500)
    chosen = sample_indices(prompt, output, 50, seed=3)
    # vLLM: random.seed(seed); random.shuffle(dataset); keep valid ones in order
    order = list(range(500))
    random.seed(3)
    random.shuffle(order)
    expected = [i for i in order if is_valid_pair(prompt[i:i + 1], output[i:i + 1])[0]][:50]
    assert chosen == expected


def test_asking_for_more_prompts_than_pass_the_filters_is_a_user_error():
    with pytest.raises(UserError, match="only 2"):
        sample_indices(np.array([10, 10, 2]), np.array([10, 10, 10]), 3, seed=0)
