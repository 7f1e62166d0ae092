"""Interpretation: saliency maps (tf-keras-vis), DeepASMM motif scoring, JASPAR annotation."""

from deepbio.interpret.jaspar import annotate_kmers, compare_motifs, load_jaspar
from deepbio.interpret.motif_kmers import KmerOccurrences, check_sequences, locate_kmers
from deepbio.interpret.motif_common import PerturbationScores, linear_output_model
from deepbio.interpret.motif_naive import NaiveMotifScorer
from deepbio.interpret.motif_fast import MotifScorer
from deepbio.interpret.motif_aggregate import (SCORE_COLUMNS, MotifScores, aggregate_scores,
                                               combine_scores, score_motifs)
from deepbio.interpret.saliency import mean_saliency, plot_saliency_heatmap
from deepbio.interpret.feature_spectrum import (sort_by_specificity, term_frequencies,
                                                tf_idf_matrix, write_feature_spectrum)
from deepbio.interpret.ism import (ism_importance, naive_ism, plot_ism, reference_logo_matrix,
                                   saturation_mutagenesis)
