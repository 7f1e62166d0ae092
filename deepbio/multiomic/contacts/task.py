"""``deepbio run contacts``: protein–nucleic-acid contacts on real complexes, after OmniBioTE.

OmniBioTE's structure tests (``evals/PDB_contact_eval.py``, ``evals/attn_to_contact_eval.py``):
a protein residue is a contact when its closest nucleotide heavy atom lies within 8 Å; (a) the
backbone is fine-tuned with a per-token head (ROC AUC), (b) the frozen backbone's attention maps
feed a small convolutional probe (F1). Here both run on the protein–DNA docking benchmark v1.3 and
PRDBv3.0 under cross-validation grouped by homology clusters (upstream's folds put the same
protein on both sides; deepbio does not), beside a residue-propensity logistic regression and the
same probe on a randomly initialised backbone. This module imports neither Keras nor TensorFlow.
"""

import dataclasses

from deepbio.core.task import CrossValidationConfig, PredictConfig, Task, TrainingConfig, option
from deepbio.multiomic.contacts.homology import IDENTITY_THRESHOLD
from deepbio.multiomic.contacts.pipeline import run_contacts
from deepbio.multiomic.contacts.fit_all import predict_structure, train_all
from deepbio.multiomic.contacts.report import summary_lines


@dataclasses.dataclass
class ContactsConfig(CrossValidationConfig, TrainingConfig):
    """Contact-run parameters (saved to ``params.json``); see the `option` help texts."""

    epochs: int = 5
    batch_size: int = 8
    learning_rate: float = 1e-3
    benchmark: str = option("both", "complexes: DNA (protein–DNA benchmark v1.3), RNA "
                                    "(PRDBv3.0) or both", choices=("DNA", "RNA", "both"))
    cutoff: float = option(8.0, "contact distance (Å) between a residue's and a nucleotide's "
                                "closest heavy atoms (OmniBioTE: 8)", minimum=0.5, maximum=30)
    backbone: str = option(None, "backbone.keras, or a 'deepbio convert' folder (its "
                                 "tokenizer.json is used); default: the binding-dg preset's "
                                 "pre-trained backbone", metavar="DIR|BACKBONE.keras")
    max_complexes: int = option(None, "the first N complexes of each benchmark (quick runs)",
                                minimum=1)
    max_protein: int = option(1000, "residues kept per protein chain (the first ones)", minimum=8)
    max_nucleic: int = option(200, "nucleotides kept per partner chain", minimum=2)
    identity: float = option(IDENTITY_THRESHOLD, "sequence identity linking homologous proteins "
                                                 "(single linkage; clusters stay in one fold)",
                             minimum=0.05, maximum=1.0)
    finetune: bool = option(True, "fine-tune the backbone with a token head in every fold "
                                  "(--no-finetune: probes and baselines only)")
    weight_decay: float = option(0.01, "AdamW weight decay of fine-tuning", minimum=0)
    warmup_fraction: float = option(0.05, "fraction of fine-tuning steps of linear warm-up",
                                    minimum=0, maximum=1)
    probe_epochs: int = option(4, "epochs of the attention probe", minimum=1)
    probe_filters: int = option(8, "channels of the probe's convolutions (OmniBioTE: 64)",
                                minimum=1)
    probe_learning_rate: float = option(1e-3, "learning rate of the probe", minimum=1e-12)
    window: int = option(3, "residues on each side in the propensity baseline's window",
                         minimum=0, maximum=20)
    figures: int = option(2, "example complexes drawn (half DNA, half RNA)", minimum=1,
                          maximum=20)


@dataclasses.dataclass
class ContactsPredictConfig(PredictConfig):
    """``deepbio predict contacts``: per-residue contact probabilities of PDB complexes."""

    max_protein: int = option(1000, "residues kept per protein chain", minimum=8)


class ContactsTask(Task):
    """``deepbio run contacts``: per-residue protein–nucleic-acid contacts on real complexes."""

    name = "contacts"
    brief = "protein–nucleic-acid contacts on real complexes (token head, attention probe), after OmniBioTE"
    rank = 70
    keras_modules = ("deepbio.multiomic.backbone", "deepbio.multiomic.masked_lm",
                     "deepbio.multiomic.heads", "deepbio.multiomic.binding_model",
                     "deepbio.multiomic.contacts.models")
    tiny_flags = ("--max-complexes", "2", "--folds", "2", "--epochs", "1", "--probe-epochs", "1",
                  "--max-protein", "60", "--max-nucleic", "24", "--figures", "2")
    config_class = ContactsConfig
    description = ("Per-residue protein–nucleic-acid contacts (closest heavy atoms within "
                   "--cutoff Å, OmniBioTE: 8) on the protein–DNA docking benchmark (47 complexes) "
                   "and PRDBv3.0 (197 protein–RNA complexes): a backbone fine-tuned with a token "
                   "head, and a convolutional probe on the frozen backbone's attention maps, "
                   "under cross-validation grouped by homology clusters (identity ≥ 30 %, single "
                   "linkage), beside residue propensity (logistic regression on one-hot windows) "
                   "and the probe on a random backbone. ROC AUC, AUPRC, F1 and MCC per fold and "
                   "pooled, DNA / RNA / ProNAB-overlap subsets, figures as PNG.")
    example = ("deepbio run contacts --output runs/contacts\n"
               "deepbio run contacts --backbone omnibiote-xl/ --profile cpu\n"
               "deepbio predict contacts --model runs/contacts/finetuned_fold1.keras "
               "--input complex.pdb")
    predict_input = "a PDB file of a protein–nucleic-acid complex"
    predict_config_class = ContactsPredictConfig

    def run(self, config, folder):
        return run_contacts(config, folder)

    def train(self, config, folder):
        return train_all(config, folder)

    def predict(self, config, output):
        rows = predict_structure(config.model, config.input, output, config.max_protein)
        return f"{rows} residues → {output}"

    def summary(self, report):
        if "models" not in report:
            return [f"token head fine-tuned on {report['data']['protein_chains']} protein chains "
                    "→ model.keras, tokenizer.json"]
        return summary_lines(report)


TASK = ContactsTask()
