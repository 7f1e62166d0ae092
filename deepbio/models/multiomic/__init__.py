"""OmniBioTE-style multi-omic transformer: tokenizer, backbone, masked LM, ΔG regressor."""

from deepbio.models.multiomic.binding_affinity_regressor import BindingAffinityRegressor
from deepbio.models.multiomic.multiomic_backbone import BACKBONE_PRESETS, MultiomicBackbone
from deepbio.models.multiomic.multiomic_masked_lm import MultiomicMaskedLM, mask_tokens
from deepbio.models.multiomic.multiomic_tokenizer import MultiomicTokenizer, train_sentencepiece
from deepbio.models.multiomic.omnibiote_tokenizer import OmniBioTETokenizer
from deepbio.models.multiomic.convert_omnibiote import convert_omnibiote
from deepbio.models.multiomic.builders import (build_backbone, clone_backbone, load_backbone,
                                               make_tokenizer)
from deepbio.models.multiomic.task_heads import (MultiomicClassifier, MultiomicRegressor,
                                                 MultiomicTokenClassifier, SequencePooling)
