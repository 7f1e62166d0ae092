"""Tokenizer, masking, backbone / masked LM / regressor: round trips, fast path, training."""

import keras
import numpy as np
import pytest

from deepbio.multiomic.binding_model import BindingAffinityRegressor
from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.masked_lm import MultiomicMaskedLM
from deepbio.multiomic.tokenizer import MultiomicTokenizer
from deepbio.multiomic.backbone import BACKBONE_PRESETS
from deepbio.multiomic.masked_lm import mask_tokens
from deepbio.multiomic.tokenizer import train_sentencepiece
from deepbio.multiomic.binding_specificity import reverse_complement
from deepbio.multiomic import fine_tuning
from deepbio.multiomic import pretraining as masked_lm

TOKENIZER = MultiomicTokenizer()
TAGS = TOKENIZER.tag_ids


def tiny_backbone(isolated=True, **overrides):
    config = dict(vocabulary_size=TOKENIZER.vocabulary_size, num_layers=2, num_heads=2,
                  hidden_dim=16, intermediate_dim=32, segment_token_ids=list(TAGS.values()),
                  isolated_segment_token_id=TAGS["protein"] if isolated else None)
    config.update(overrides)
    return MultiomicBackbone(**config)


def complexes(rng, n_proteins=3, n_complexes=7):
    proteins = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), rng.integers(5, 30)))
                for _ in range(n_proteins)]
    rows = []
    for i in range(n_complexes):
        strand = "".join(rng.choice(list("ACGT"), rng.integers(4, 15)))
        rows.append((i % n_proteins, strand, "DNA" if i % 2 else "RNA",
                     reverse_complement(strand) if i % 3 == 0 else ""))
    return proteins, rows


def test_tokenizer_encodes_and_rejects():
    ids = TOKENIZER.encode_complex("MKV", "ACGU", "RNA", "ACGT")
    assert TOKENIZER.detokenize(ids) == "<cls><protein>MKV<eos><RNA>acgt<eos><RNA>acgt<eos>"
    assert TOKENIZER.vocabulary_size == 4 + 3 + 20 + 4
    assert TOKENIZER.pad_id == 0 and len(TOKENIZER.content_ids) == 24
    # protein A and DNA A are different tokens
    assert TOKENIZER.tokenize("A", "protein")[1] != TOKENIZER.tokenize("A", "DNA")[1]
    with pytest.raises(ValueError, match=r"'P12345'.*non-standard residue 'X' at position 3"):
        TOKENIZER.encode_complex("MKXV", "ACGT", "DNA", name="P12345")
    with pytest.raises(ValueError, match=r"non-standard base 'N' at position 2"):
        TOKENIZER.tokenize("ANGT", "DNA", name="site")
    with pytest.raises(ValueError, match="U for RNA"):
        TOKENIZER.tokenize("ACGU", "DNA")
    with pytest.raises(ValueError, match="unknown modality"):
        TOKENIZER.tokenize("ACGT", "mRNA")
    with pytest.raises(ValueError, match="empty"):
        TOKENIZER.tokenize("", "protein", name="blank")
    with pytest.raises(ValueError, match="'DNA' or 'RNA'"):
        TOKENIZER.encode_complex("MK", "ACGT", "Other")
    ids, mask = TOKENIZER.pad([[1, 4, 9], [1]])
    np.testing.assert_array_equal(mask, [[True, True, True], [True, False, False]])


def test_tokenizer_sentencepiece_bpe(tmp_path):
    rng = np.random.default_rng(0)
    corpus = ["".join(rng.choice(list("ACGT"), 60)) + "GATTACA" * 4 for _ in range(200)]
    model = train_sentencepiece(corpus, 40, "nucleic_acid")
    tokenizer = MultiomicTokenizer(nucleic_acid_bpe=model)
    assert tokenizer.vocabulary_size == 31 + 40
    ids = tokenizer.tokenize("GATTACAGATTACA", "DNA")
    assert len(ids) - 2 < 14  # merged pieces
    assert all(i >= 31 for i in ids[1:-1])
    tokenizer.save(tmp_path / "tok.json")
    again = MultiomicTokenizer.load(tmp_path / "tok.json")
    assert again.tokenize("GATTACAGATTACA", "DNA") == ids
    assert again.tokenize("MKV", "protein") == TOKENIZER.tokenize("MKV", "protein")
    with pytest.raises(FileNotFoundError):
        MultiomicTokenizer.load(tmp_path / "missing.json")


def test_mask_tokens_statistics():
    rng = np.random.default_rng(0)
    sequences = [TOKENIZER.encode_sequence("".join(rng.choice(list("ACGT"), 200)), "DNA")
                 for _ in range(200)]
    ids, mask = TOKENIZER.pad(sequences + [[TOKENIZER.cls_id, TAGS["DNA"], 30, 2]])
    inputs, targets, weights = mask_tokens(ids, mask, TOKENIZER.content_ids, TOKENIZER.mask_id,
                                           0.15, np.random.default_rng(1))
    content = np.isin(ids, TOKENIZER.content_ids)
    picked = weights > 0
    assert not (picked & ~content).any()  # never <cls>, tags, <eos>, padding
    assert picked[:-1].sum() / content[:-1].sum() == pytest.approx(0.15, abs=0.005)
    assert picked[-1].sum() == 1  # every sequence gets at least one
    np.testing.assert_array_equal(targets, ids)
    as_mask = (inputs == TOKENIZER.mask_id)[picked].mean()
    unchanged = (inputs == ids)[picked].mean()
    assert as_mask == pytest.approx(0.8, abs=0.015)
    # random replacements that hit the same token count as unchanged: 0.1 + 0.1 / 24
    assert unchanged == pytest.approx(0.1 + 0.1 / 24, abs=0.015)
    assert np.isin(inputs[picked & (inputs != TOKENIZER.mask_id)], TOKENIZER.content_ids).all()
    np.testing.assert_array_equal(inputs[~picked], ids[~picked])
    with pytest.raises(ValueError, match="rate"):
        mask_tokens(ids, mask, TOKENIZER.content_ids, TOKENIZER.mask_id, 1.5)


def test_presets_follow_the_aspect_ratio():
    for name, preset in BACKBONE_PRESETS.items():
        assert preset["hidden_dim"] == 128 * preset["num_layers"], name
        assert preset["hidden_dim"] % preset["num_heads"] == 0
    backbone = MultiomicBackbone.from_preset("tiny", TOKENIZER.vocabulary_size)
    assert (backbone.num_layers, backbone.hidden_dim) == (1, 128)
    with pytest.raises(ValueError, match="unknown preset"):
        MultiomicBackbone.from_preset("huge", 31)


def test_shared_protein_path_equals_full_forward():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    proteins, rows = complexes(rng)
    import pandas as pd

    frame = pd.DataFrame([(f"P{g}", proteins[g], na, t, c, g) for g, na, t, c in rows],
                         columns=["accession", "protein", "nucleic_acid", "type", "complementary",
                                  "group"])
    encoded = fine_tuning.encode_complexes(frame, TOKENIZER, max_protein_length=None)
    model = BindingAffinityRegressor(tiny_backbone(), target_mean=-9.0, target_std=2.0)
    model.head.kernel.assign(rng.normal(size=model.head.kernel.shape).astype("float32"))
    order = np.array([5, 0, 3, 1, 6, 2, 4])
    fast = np.asarray(model.standardized_shared(fine_tuning.shared_batch(encoded, order, TOKENIZER)))
    full = fine_tuning.full_batch(encoded, order, TOKENIZER)
    slow = model.predict(full, verbose=0)[:, 0]
    np.testing.assert_allclose(fast * 2.0 - 9.0, slow, atol=1e-4)
    assert np.ptp(slow) > 1e-3
    # the isolated protein's states do not depend on the partner; with full attention they do
    iso, plain = tiny_backbone(True), tiny_backbone(False)
    plain.set_weights(iso.get_weights())
    a = TOKENIZER.encode_complex(proteins[0], "ACGTAC", "DNA")
    b = TOKENIZER.encode_complex(proteins[0], "TTTTGG", "DNA")
    ids, mask = TOKENIZER.pad([a, b])
    protein_slice = slice(1, 3 + len(proteins[0]))
    for backbone, same in ((iso, True), (plain, False)):
        out = keras.ops.convert_to_numpy(backbone({"token_ids": ids, "padding_mask": mask}))
        assert np.allclose(out[0, protein_slice], out[1, protein_slice], atol=1e-5) == same
    with pytest.raises(ValueError, match="isolated_segment_token_id"):
        plain.encode_shared_prefix(ids, mask, ids, mask, ids, np.zeros(2, "int32"))


def test_attention_maps():
    backbone = tiny_backbone()
    ids, mask = TOKENIZER.pad([TOKENIZER.encode_complex("MKVL", "ACGT", "DNA"),
                               TOKENIZER.encode_complex("MK", "AC", "RNA")])
    maps = backbone.attention_maps(ids, mask)
    assert len(maps) == 2 and maps[0].shape == (2, 2, ids.shape[1], ids.shape[1])
    n = int(mask[1].sum())
    assert maps[0][1, :, :, n:].max() < 1e-6  # padding never attended
    # the padded complex's maps are those of the same complex alone, without padding
    alone = backbone.attention_maps(ids[1:, :n], mask[1:, :n])
    for layer in range(2):
        np.testing.assert_allclose(maps[layer][1, :, :n, :n], alone[layer][0], rtol=1e-4, atol=1e-6)
    # protein isolation: <protein> M K V L <eos> (positions 1..6) attend only to each other
    protein = np.arange(1, 7)
    others = np.setdiff1d(np.arange(ids.shape[1]), protein)
    for layer in range(2):
        assert maps[layer][0][:, protein][:, :, others].max() < 1e-6
        assert maps[layer][0][:, protein][:, :, protein].min() > 1e-4


def test_serialization_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    ids, mask = TOKENIZER.pad([TOKENIZER.encode_complex("MKVLA", "ACGTT", "DNA", "AACGT"),
                               TOKENIZER.encode_complex("MK", "ACG", "RNA")])
    inputs = {"token_ids": ids, "padding_mask": mask.astype("int32")}
    backbone = tiny_backbone(attention_scale="standard")
    regressor = BindingAffinityRegressor(backbone, -9.5, 2.1)
    regressor.head.kernel.assign(rng.normal(size=regressor.head.kernel.shape).astype("float32"))
    masked_lm = MultiomicMaskedLM(tiny_backbone(isolated=False))
    for name, model in (("backbone", backbone), ("regressor", regressor), ("mlm", masked_lm)):
        path = tmp_path / f"{name}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is type(model)
        np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0),
                                   atol=1e-6)
    loaded = keras.models.load_model(tmp_path / "regressor.keras")
    assert (loaded.target_mean, loaded.target_std) == (-9.5, 2.1)
    assert loaded.backbone.isolated_segment_token_id == TAGS["protein"]
    assert loaded.backbone.attention_scale == "standard"


def test_masked_lm_loss_falls_on_a_tiny_corpus():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    motifs = ["ACGTTGCA", "GGGAAATT"]
    sequences = [TOKENIZER.encode_sequence(motifs[i % 2] * 3, "DNA") for i in range(64)]
    ids, mask = TOKENIZER.pad(sequences)
    model = MultiomicMaskedLM(tiny_backbone(isolated=False, num_layers=1, hidden_dim=32))
    optimizer = keras.optimizers.Adam(3e-3)
    optimizer.build(model.trainable_variables)
    train_step, eval_step = masked_lm.mlm_step_functions(model, optimizer)
    held = mask_tokens(ids, mask, TOKENIZER.content_ids, TOKENIZER.mask_id, 0.15,
                       np.random.default_rng(99))

    def heldout_loss():
        total, _, count = eval_step(held[0], mask.astype("int32"), held[1], held[2])
        return float(total) / float(count)

    before = heldout_loss()
    for _ in range(60):
        inputs, targets, weights = mask_tokens(ids, mask, TOKENIZER.content_ids, TOKENIZER.mask_id,
                                               0.15, rng)
        train_step(inputs, mask.astype("int32"), targets, weights)
    after = heldout_loss()
    assert before == pytest.approx(np.log(TOKENIZER.vocabulary_size), rel=0.01)  # zero-init head
    assert after < 0.5 * before
