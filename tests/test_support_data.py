"""Self-verifying data: deterministic, checkable at any offset, mismatches located exactly."""

import pathlib
import sys

# `support/` is the suite's library at the repository root (not an installed package).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pytest

from support import data
from support.data import BLOCK, DataMismatch, Payload


def test_same_seed_and_size_give_the_same_bytes_and_ranges_agree():
    payload = Payload(seed=42, size=3 * BLOCK + 123)
    whole = payload.bytes()
    assert len(whole) == payload.size
    assert whole == Payload(seed=42, size=payload.size).bytes()
    assert payload.bytes(BLOCK - 5, 10) == whole[BLOCK - 5:BLOCK + 5]
    assert b"".join(payload.pieces(1000)) == whole


def test_different_seeds_differ():
    assert Payload(1, 4096).bytes() != Payload(2, 4096).bytes()


def test_verify_accepts_exact_data_and_names_the_first_bad_offset():
    payload = Payload(seed=7, size=2 * BLOCK)
    good = payload.bytes()
    payload.verify(good)
    bad = bytearray(good)
    bad[BLOCK + 17] ^= 0xFF
    with pytest.raises(DataMismatch, match=f"differs at offset {BLOCK + 17}"):
        payload.verify(bytes(bad))


def test_verify_reports_truncated_data_and_holes():
    payload = Payload(seed=9, size=2 * BLOCK)
    with pytest.raises(DataMismatch, match="read 100"):
        payload.verify(payload.bytes()[:100])
    holed = payload.bytes()[:BLOCK] + bytes(BLOCK)
    with pytest.raises(DataMismatch, match="zeros"):
        payload.verify(holed)


def test_a_block_from_another_file_is_named_by_its_header():
    mine, other = Payload(seed=1, size=2 * BLOCK), Payload(seed=2, size=2 * BLOCK)
    mixed = mine.bytes()[:BLOCK] + other.bytes()[BLOCK:]
    with pytest.raises(DataMismatch, match=f"header of seed 2 offset {BLOCK}"):
        mine.verify(mixed)


def test_verify_range_checks_a_slice_at_its_offset():
    payload = Payload(seed=3, size=5000)
    payload.verify_range(payload.bytes(1000, 200), 1000)
    with pytest.raises(DataMismatch):
        payload.verify_range(payload.bytes(1000, 200), 1001)


def test_sizes_from_feature_files_and_the_scale():
    assert data.parse_size("64 KB") == 65536
    assert data.parse_size("1.5 MB") == 1536 * 1024
    with pytest.raises(ValueError):
        data.parse_size("lots")
    data.set_scale(0.5)
    try:
        assert data.scaled_size("1 MB") == 512 * 1024
    finally:
        data.set_scale(1.0)


def test_sizes_must_belong_to_the_named_data_set():
    data.check_data_set("small", "1 KB", "64 KB")
    data.check_data_set("large", "8 GB")
    with pytest.raises(ValueError, match="outside the small data set"):
        data.check_data_set("small", "1 MB")
    with pytest.raises(ValueError, match="unknown data set"):
        data.check_data_set("tiny", "1 KB")
