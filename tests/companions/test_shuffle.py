"""Altschul–Erickson dinucleotide shuffle: counts kept, walks drawn uniformly."""

import itertools
from collections import Counter

import numpy as np
import pytest

from Feature_extraction_algorithms import dinucleotide_shuffle, dinucleotide_shuffles


def _pairs(seq):
    return Counter(seq[i:i + 2] for i in range(len(seq) - 1))


@pytest.mark.parametrize("seed", range(5))
def test_keeps_dinucleotides_first_and_last_letter(seed):
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGTN"), 300, p=[0.3, 0.2, 0.2, 0.25, 0.05]))
    out = dinucleotide_shuffle(seq, rng=seed)
    assert len(out) == len(seq) and out[0] == seq[0] and out[-1] == seq[-1]
    assert _pairs(out) == _pairs(seq)
    assert out != seq


def test_many_is_seeded_and_keeps_counts_on_real_like_input():
    seqs = ["ACGCGCGTTTAAACGCGAT" * 10, "GGGGGGGGGGA", "ACACACACACGT"]
    first = dinucleotide_shuffles(seqs, random_state=7, n_copies=3)
    assert first == dinucleotide_shuffles(seqs, random_state=7, n_copies=3)
    assert len(first) == 9
    for i, out in enumerate(first):
        assert _pairs(out) == _pairs(seqs[i // 3])
    assert dinucleotide_shuffle("GGGGGGGGGGA", rng=0) == "GGGGGGGGGGA"  # only one Eulerian walk


def test_every_eulerian_walk_is_drawn_uniformly():
    seq = "ACAGATCAGA"
    target = _pairs(seq)
    # Brute force: every arrangement of the letters with the same first letter and dinucleotides.
    walks = {"".join(p) for p in itertools.permutations(seq)
             if p[0] == seq[0] and _pairs("".join(p)) == target}
    rng = np.random.default_rng(0)
    draws = Counter(dinucleotide_shuffle(seq, rng) for _ in range(4000))
    assert set(draws) == walks and len(walks) == 12
    expected = 4000 / len(walks)
    chi2 = sum((draws[w] - expected) ** 2 / expected for w in walks)
    assert chi2 < 35.0  # chi-square, 11 d.o.f.: p ≈ 2e-4 at 35


def test_short_and_bad_input():
    assert dinucleotide_shuffle("", rng=0) == "" and dinucleotide_shuffle("AC", rng=0) == "AC"
    with pytest.raises(TypeError):
        dinucleotide_shuffle(b"ACGT")
    with pytest.raises(TypeError, match="record 1"):
        dinucleotide_shuffles(["ACGT", 5])
    with pytest.raises(ValueError):
        dinucleotide_shuffles(["ACGT"], n_copies=0)
