"""``deepbio train contacts`` (one token-head model on every complex) and ``predict contacts``."""

from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.core.io import write_csv
from deepbio.multiomic.contacts.data import complex_examples, load_examples
from deepbio.multiomic.contacts.encoding import encode_example
from deepbio.multiomic.contacts.pipeline import load_backbone_and_tokenizer, resolve_backbone
from deepbio.multiomic.contacts.structures import read_complex
from deepbio.core.loading import load_task_model
from deepbio.multiomic.finetune_task import backbone_tokenizer


def train_all(config, folder):
    """Fine-tunes the token head on every complex; writes ``model.keras`` and ``tokenizer.json``.

    Returns:
        The report dict (``data``: chains, residues, positive rate; ``history``).
    """
    from deepbio.multiomic.contacts.training import finetune_token_head  # deferred: imports Keras/TensorFlow

    folder.write_params()
    with folder.timer("data"):
        examples, records = load_examples(config.benchmark, config.cutoff, folder.data_dir,
                                          config.max_complexes)
        backbone, tokenizer, converted, head_scale = load_backbone_and_tokenizer(
            resolve_backbone(config.backbone))
        encoded = [encode_example(tokenizer, e, converted, config.max_protein, config.max_nucleic)
                   for e in examples]
        residue = [e.labels(config.cutoff)[:c.residues] for e, c in zip(examples, encoded)]
        tokens = [c.token_labels(y) for c, y in zip(encoded, residue)]
    with folder.timer("train"):
        model, history = finetune_token_head(backbone, encoded, tokens, config, tokenizer.pad_id,
                                             head_scale)
    folder.save_model(model, "model.keras")
    tokenizer.save(folder.file("tokenizer.json"))
    labels = np.concatenate(residue)
    return folder.write_report({
        "data": {"complexes": len(records), "protein_chains": len(examples),
                 "residues": int(len(labels)), "positive_rate": float(labels.mean())},
        "history": {k: [float(v) for v in values] for k, values in history.items()}})


def predict_structure(model_path, structure, output, max_protein=1000):
    """Per-residue contact probabilities of every protein chain of one PDB complex.

    Args:
        model_path: str, a fine-tuned token-head ``.keras`` (``tokenizer.json`` beside it).
        structure: str, a PDB file.
        output: str, the CSV written (atomically): ``chain, position, residue, probability,
            distance_angstrom``.
        max_protein: int, residues kept per chain.

    Returns:
        int, residues written.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a protein–nucleic-acid PDB file (one line naming it).
    """
    from deepbio.multiomic.contacts.training import predict_token_head  # deferred: imports Keras/TensorFlow

    record = read_complex(structure)
    examples = complex_examples(record, "input", cutoff=float("inf"), min_length=1)
    tokenizer, converted = backbone_tokenizer(str(model_path))
    model = load_task_model(str(Path(model_path)), "contacts", compile=False)
    encoded = [encode_example(tokenizer, e, converted, max_protein) for e in examples]
    scores = predict_token_head(model, encoded, tokenizer.pad_id)
    frames = [pd.DataFrame({"chain": e.protein_chain, "position": np.arange(1, c.residues + 1),
                            "residue": list(e.protein[:c.residues]),
                            "probability": c.residue_scores(s),
                            "distance_angstrom": e.distances[:c.residues]})
              for e, c, s in zip(examples, encoded, scores)]
    frame = pd.concat(frames, ignore_index=True)
    write_csv(frame, output)
    return len(frame)
