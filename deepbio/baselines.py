"""Trivial and simple baselines the tasks fit beside their deep models.

* ProNAB ΔG (after OmniBioTE, arXiv:2408.16245): `kmer_features` +
  `ridge_baseline`, k-mer composition and ridge regression;
* masked-LM pre-training (OmniBioTE): `unigram_baseline`, per-modality
  token frequencies scored on the held-out masked tokens;
* RNA modification (VQ-RNA): `kmer_baseline`, k-mer counts + logistic
  regression.

The PTM baseline (the answer "acetylation only" for every window) is scored
like the PTM model, so it lives with it (`deepbio.ptm.protocol.always_a_baseline`).
"""

import numpy as np


# ---------------------------------------------------------------------------------------------
# ProNAB ΔG
# ---------------------------------------------------------------------------------------------
def kmer_features(frame):
    """Ridge-baseline features: protein 1/2-mer and nucleic-acid 1–4-mer composition + scalars.

    Returns:
        float32 (n, 420 + 340 + 4): protein composition (k = 1, 2), strand +
        complementary composition (k = 1..4, both strands counted), log
        lengths, RNA flag, double-strand flag.
    """
    from Feature_extraction_algorithms.kmer import KmerComposition

    proteins = KmerComposition((1, 2), "ACDEFGHIKLMNPQRSTVWY").transform(frame["protein"])
    strands = (frame["nucleic_acid"] + "N" + frame["complementary"]).tolist()
    nucleic = KmerComposition((1, 2, 3, 4), "ACGT").transform(strands)
    scalars = np.stack([np.log(frame["nucleic_acid"].str.len()), np.log(frame["protein"].str.len()),
                        (frame["type"] == "RNA").astype(float),
                        (frame["complementary"] != "").astype(float)], axis=1)
    return np.concatenate([proteins, nucleic, scalars], axis=1).astype(np.float32)


def ridge_baseline():
    """Standardisation + ridge regression with its alpha chosen by leave-one-out on the training rows."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13)))


# ---------------------------------------------------------------------------------------------
# Masked-LM pre-training
# ---------------------------------------------------------------------------------------------
def unigram_baseline(content, tag_ids, train, batches, vocabulary_size):
    """Per-modality token frequencies of the training slice, scored on the same masked tokens.

    Args:
        content, tag_ids: encoded corpus (`deepbio.multiomic.pretraining.encode_corpus`).
        train: int array, the training rows (frequencies, +0.5 smoothing).
        batches: iterable of ``(inputs, targets, weights, mask, ids)``, the
            held-out masked batches (`deepbio.multiomic.pretraining.heldout_batches`).
        vocabulary_size: int.

    Returns:
        dict ``masked_accuracy``, ``perplexity``, ``cross_entropy``,
        ``n_masked``.
    """
    tables = {}
    for tag in np.unique(tag_ids):
        rows = train[tag_ids[train] == tag]
        counts = np.bincount(np.concatenate([content[r] for r in rows]) if len(rows) else
                             np.zeros(0, np.int64), minlength=vocabulary_size) + 0.5
        tables[tag] = counts / counts.sum()
    total = correct = count = 0.0
    for _, targets, weights, _, ids in batches:
        for row in range(len(ids)):
            table = tables[int(ids[row, 1])]
            picked = targets[row][weights[row] > 0]
            total += float(-np.log(table[picked]).sum())
            correct += float((picked == np.argmax(table)).sum())
            count += len(picked)
    return {"masked_accuracy": correct / count, "perplexity": float(np.exp(total / count)),
            "cross_entropy": total / count, "n_masked": int(count)}


# ---------------------------------------------------------------------------------------------
# RNA modification
# ---------------------------------------------------------------------------------------------
def kmer_baseline(train, others, length=51, k_max=4, seed=0):
    """k-mer (1..k_max) counts of the central ``length`` nt + logistic regression, fitted on train.

    Returns:
        list of probability arrays, one per dataset in ``others``.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    def crop(data):  # the central min(length, len) characters: the site stays central
        return [s[len(s) // 2 - min(length, len(s)) // 2:][:min(length, len(s))]
                for s in data.sequences]

    pipeline = make_pipeline(
        CountVectorizer(analyzer="char", ngram_range=(1, k_max), lowercase=False),
        LogisticRegression(C=0.1, max_iter=3000, random_state=seed))
    pipeline.fit(crop(train), train.labels)
    return [pipeline.predict_proba(crop(d))[:, 1] if d is not None else None for d in others]
