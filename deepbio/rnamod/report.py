"""The rnamod run's interpretation outputs: ISM logos, codebook feature spectrum, saliency.

After VQ-RNA's analyses (ISM motifs and logos, the codebook "feature
spectrum" of TF-IDF code usage per modification).
"""

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepbio.core.io import write_csv
from deepbio.rnamod.feature_spectrum import write_feature_spectrum


def interpret_models(config, names, data, onehot, models, out):
    """ISM importance and logos, the codebook feature spectrum, saliency maps.

    * ISM: for each modification, the ``ism_windows`` positive valid windows
      its model scores highest; batched saturation mutagenesis over the whole
      window; ``ism/{name}_importance.{svg,png,csv}`` (mean |Δp| summed over
      bases per position) and ``ism/{name}_logo.{svg,png}`` (logomaker,
      reference-base importance over the site ± ``logo_flank`` nt).
    * Feature spectrum (multi-task model: one codebook for all): code usage
      on the training windows of each modification → TF-IDF →
      ``tf_idf_matrix_sorted.csv`` and ``feature_spectrum.svg``.
    * Saliency (tf-keras-vis, through `deepbio.interpret.mean_saliency`) of
      each model's logit over its positive valid windows →
      ``saliency_valid.{png,csv}``.

    Returns:
        dict summarising what was written.
    """
    from deepbio.interpret.saliency import mean_saliency, plot_saliency_heatmap  # deferred: imports Keras/TensorFlow
    from deepbio.interpret.ism import plot_ism, saturation_mutagenesis  # deferred: imports Keras/TensorFlow

    summary = {}
    length = config.sequence_length
    positions = np.arange(length) - length // 2
    if config.ism_windows:
        ism_dir = out / "ism"
        summary["ism"] = {}
        for name in tqdm(names, desc="ISM", unit="modification"):
            model = models.get(name) or models.get("multitask")
            column = 0 if name in models else names.index(name)
            classifier = model.classifier()
            positives = onehot[name]["valid"][data[name]["valid"].labels == 1]
            scores = classifier.predict(positives, batch_size=512, verbose=0)[:, column]
            top = np.argsort(-scores)[:config.ism_windows]
            attributions = saturation_mutagenesis(classifier, positives[top], output_index=column)
            files = plot_ism(attributions, positives[top], ism_dir, name, positions,
                             flank=config.logo_flank)
            summary["ism"][name] = {"windows": int(len(top)),
                                    "mean_score": float(scores[top].mean()),
                                    "files": [str(f.relative_to(out)) for f in files]}
    if "multitask" in models:
        model = models["multitask"]
        counts = {name: model.code_indices(onehot[name]["train"]) for name in names}
        files = write_feature_spectrum(counts, config.num_embeddings, out)
        summary["feature_spectrum"] = {"model": "multitask",
                                       "files": [str(f.relative_to(out)) for f in files]}
    if config.saliency_windows:
        rows = []
        for name in names:
            model = models.get(name) or models.get("multitask")
            column = 0 if name in models else names.index(name)
            positives = onehot[name]["valid"][data[name]["valid"].labels == 1][:config.saliency_windows]
            (matrix,) = mean_saliency(model.classifier(logits=True), positives,
                                      model.num_modifications)
            rows.append(matrix[column])
        matrix = np.asarray(rows)
        ticks = [str(p) if p % 10 == 0 else "" for p in positions]
        plot_saliency_heatmap(matrix, names, out / "saliency_valid.png",
                              f"saliency of each modification's logit, positive valid windows "
                              f"(≤{config.saliency_windows} each)", ticks, "position relative to the site")
        frame = pd.DataFrame(matrix, columns=[str(p) for p in positions])
        frame.insert(0, "modification", names)
        write_csv(frame, out / "saliency_valid.csv")
        summary["saliency"] = ["saliency_valid.png", "saliency_valid.csv"]
    return summary
