"""Attention maps out of the backbone, the convolutional probe, and token ↔ residue bookkeeping."""

import keras
import numpy as np

from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.contacts.data import ContactExample
from deepbio.multiomic.contacts.encoding import encode_example
from deepbio.multiomic.contacts.models import attention_backbone, attention_features, build_probe
from deepbio.multiomic.contacts.training import _TokenBatches, predict_probe, predict_token_head
from deepbio.multiomic.contacts.models import token_classifier
from deepbio.multiomic.tokenizer import MultiomicTokenizer


def tiny_backbone(**overrides):
    keras.utils.set_random_seed(0)
    config = dict(vocabulary_size=31, num_layers=2, num_heads=2, hidden_dim=16,
                  intermediate_dim=32, segment_token_ids=[4, 5, 6], isolated_segment_token_id=4)
    return MultiomicBackbone(**{**config, **overrides})


def inputs():
    ids = np.random.default_rng(0).integers(7, 31, (2, 11)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    return {"token_ids": ids, "padding_mask": mask}


def test_attention_output_leaves_the_embeddings_unchanged_and_reloads(tmp_path):
    plain = tiny_backbone()
    config = {**plain.get_config(), "return_attention": True}
    flagged = MultiomicBackbone.from_config(config)
    flagged.set_weights(plain.get_weights())
    out = flagged(inputs())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(plain(inputs())),
                                  keras.ops.convert_to_numpy(out["embeddings"]))
    maps = keras.ops.convert_to_numpy(out["attention"])
    assert maps.shape == (2, 4, 11, 11)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(maps[1, :, :, 7:], 0.0, atol=1e-6)  # padding keys
    np.testing.assert_allclose(np.concatenate(plain.attention_maps(**inputs()), axis=1), maps,
                               atol=1e-6)
    assert plain.get_config()["return_attention"] is False
    flagged.save(tmp_path / "b.keras")
    loaded = keras.saving.load_model(tmp_path / "b.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(inputs())["attention"]), maps)
    full = attention_backbone(plain)  # the probe's copy: full attention, same weights
    assert full.isolated_segment_token_id is None and full.return_attention


def features(seed, shapes, channels=4):
    rng = np.random.default_rng(seed)
    return [rng.random((p, n, channels)).astype(np.float32) for p, n in shapes]


def test_probe_output_does_not_depend_on_the_batch_and_reloads(tmp_path):
    blocks = features(0, [(7, 3), (12, 9), (5, 5), (9, 2)])
    probe = build_probe(4, filters=6, seed=0)
    one = predict_probe(probe, blocks, batch_size=1)
    four = predict_probe(probe, blocks, batch_size=4)
    for a, b, block in zip(one, four, blocks):
        assert a.shape == (block.shape[0],)
        np.testing.assert_allclose(a, b, atol=1e-6)
    probe.save(tmp_path / "probe.keras")
    loaded = keras.saving.load_model(tmp_path / "probe.keras")
    for a, b in zip(one, predict_probe(loaded, blocks, batch_size=3)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_probe_reads_the_maximum_over_nucleotides():
    block = np.zeros((3, 4, 2), np.float32)
    probe = build_probe(2, filters=2, depth=0, seed=0)  # one 3×3 convolution
    kernel = np.zeros((3, 3, 2, 1), np.float32)
    kernel[1, 1, 0, 0] = 1.0  # the centre of channel 0
    probe.get_layer("contact_probe").convolutions[0].set_weights([kernel, np.zeros(1)])
    block[1, 2, 0] = 5.0
    block[2, 0, 0] = 2.0
    (probs,) = predict_probe(probe, [block])
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-np.array([0.0, 5.0, 2.0]))), rtol=1e-6)


def toy_example(protein="MKRAL", nucleic="ACGTA"):
    return ContactExample("toy_A", "toy", "DNA", "A", protein, "B", nucleic, "DNA",
                          np.array([9.0, 3.0, 12.0, 7.9, 20.0], np.float32)[:len(protein)],
                          np.full((len(protein), len(nucleic)), np.inf, np.float32))


class PairTokenizer(MultiomicTokenizer):
    """Protein tokens of two residues (the last one alone): a stand-in for BPE pieces."""

    def _content(self, sequence, modality, name):
        if modality != "protein":
            return super()._content(sequence, modality, name)
        return [102 if i + 1 < len(sequence) else 101 for i in range(0, len(sequence), 2)]

    def detokenize(self, ids):
        pieces = {102: "AB", 101: "A"}
        return "".join(pieces[i] if i in pieces else MultiomicTokenizer.detokenize(self, [i])
                       for i in ids)


def test_encoding_locates_tokens_and_spreads_labels_and_scores():
    tokenizer = MultiomicTokenizer()
    encoded = encode_example(tokenizer, toy_example())
    assert [encoded.token_ids[i] for i in encoded.protein_tokens] == \
        tokenizer.tokenize("MKRAL", "protein")[1:-1]
    assert encoded.nucleic_spans.tolist() == [1] * 5 and encoded.residues == 5
    labels = toy_example().labels(8.0)
    np.testing.assert_array_equal(encoded.token_labels(labels), [0, 1, 0, 1, 0])
    pieces = encode_example(PairTokenizer(), toy_example())
    assert pieces.protein_spans.tolist() == [2, 2, 1]
    np.testing.assert_array_equal(pieces.token_labels(labels), [1, 1, 0])  # any residue covered
    np.testing.assert_allclose(pieces.residue_scores([0.2, 0.5, 0.9]),
                               [0.2, 0.2, 0.5, 0.5, 0.9])
    np.testing.assert_array_equal(pieces.pair_scores(np.arange(15).reshape(3, 5))[:, 0],
                                  [0, 0, 5, 5, 10])
    unknown = encode_example(tokenizer, toy_example("MKXAL", "ACXTA"))
    assert unknown.replaced == 2


def test_token_head_predictions_cover_the_protein_tokens_in_any_batch():
    tokenizer = MultiomicTokenizer()
    backbone = tiny_backbone(isolated_segment_token_id=None)
    model = token_classifier(backbone)
    encoded = [encode_example(tokenizer, toy_example(p)) for p in ("MKRAL", "MKR", "MKRALMKRAL")]
    one = predict_token_head(model, encoded, tokenizer.pad_id, batch_size=1)
    three = predict_token_head(model, encoded, tokenizer.pad_id, batch_size=3)
    for a, b, e in zip(one, three, encoded):
        assert a.shape == (len(e.protein_tokens),)
        np.testing.assert_allclose(a, b, atol=1e-5)
    x, y, w = _TokenBatches(encoded, [np.ones(len(e.protein_tokens)) for e in encoded], 3,
                            tokenizer.pad_id)[0]
    assert w.sum() == 5 + 3 + 10 and y.sum() == 18


def test_attention_features_are_the_protein_nucleic_blocks_both_ways():
    tokenizer = MultiomicTokenizer()
    backbone = attention_backbone(tiny_backbone())
    encoded = encode_example(tokenizer, toy_example())
    (block,) = attention_features(backbone, [encoded])
    assert block.shape == (5, 5, 8)
    ids = np.asarray([encoded.token_ids], np.int32)
    maps = backbone.predict({"token_ids": ids, "padding_mask": np.ones_like(ids)},
                            verbose=0)["attention"][0]
    p, n = encoded.protein_tokens, encoded.nucleic_tokens
    tokens = len(encoded.token_ids)  # probabilities × token count
    np.testing.assert_allclose(block[2, 3, 1], tokens * maps[1, p[2], n[3]], rtol=1e-5)
    np.testing.assert_allclose(block[2, 3, 5], tokens * maps[1, n[3], p[2]], rtol=1e-5)
    (again,) = attention_features(backbone, [encoded, encode_example(tokenizer, toy_example(
        "MKRALMKRALMKRAL"))], batch_size=2)[:1]  # batched with a longer input: the same
    np.testing.assert_allclose(again, block, atol=1e-5)
