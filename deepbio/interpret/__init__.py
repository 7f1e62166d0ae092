"""Interpretation: saliency maps (tf-keras-vis), DeepASMM motif scoring, JASPAR annotation."""

from deepbio.interpret.jaspar import annotate_kmers, compare_motifs, load_jaspar
from deepbio.interpret.motif_scoring import (MotifScorer, NaiveMotifScorer, aggregate_scores,
                                             combine_scores, locate_kmers, score_motifs)
from deepbio.interpret.saliency import mean_saliency, plot_saliency_heatmap
from deepbio.interpret.feature_spectrum import (sort_by_specificity, term_frequencies,
                                                tf_idf_matrix, write_feature_spectrum)
from deepbio.interpret.ism import (ism_importance, naive_ism, plot_ism, reference_logo_matrix,
                                   saturation_mutagenesis)
