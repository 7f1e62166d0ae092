"""``deepbio convert omnibiote``: the converter as the pre-training task declares it (`Task.converters`).

After OmniBioTE (nyuolab/OmniBioTE; Hugging Face WeiHua/OmniBioTE): a
``torch.save`` checkpoint of OmniBioTA / OmniBindER becomes ``backbone.keras``,
``masked_lm.keras``, ``binding.keras`` and ``tokenizer.json``
(`deepbio.multiomic.convert.convert_omnibiote`); the checkpoint is read with
NumPy alone and none of its code runs.
"""

import dataclasses

from deepbio.core.task import ConvertConfig, option
from deepbio.multiomic.convert import convert_omnibiote

BRIEF = ("OmniBioTE checkpoints (torch.save of OmniBioTA / OmniBindER, Hugging Face "
         "WeiHua/OmniBioTE) → backbone.keras, masked_lm.keras, binding.keras, tokenizer.json")


@dataclasses.dataclass
class OmniBioTEConvertConfig(ConvertConfig):
    """The checkpoint, the output folder and what the checkpoint cannot say itself."""

    tokenizer: str = option(None, "tokenizer of the checkpoint; none: from its vocabulary size",
                            choices=("char", "bpe"))
    num_heads: int = option(None, "attention heads, only for a bare state dict; none: from the "
                                  "checkpoint", minimum=1)


class OmniBioTEConverter:
    """``deepbio convert omnibiote CHECKPOINT --output DIR``."""

    brief = BRIEF
    config_class = OmniBioTEConvertConfig

    def convert(self, config):
        """Converts ``config.checkpoint`` into ``config.output``; returns one summary line.

        Raises:
            FileNotFoundError: no such checkpoint.
            ValueError: not an OmniBioTE checkpoint, or pickled code in it
                (named, see `convert_omnibiote`).
        """
        result = convert_omnibiote(config.checkpoint, config.output,
                                   tokenizer_mode=config.tokenizer, num_heads=config.num_heads)
        written = [result[k] for k in ("backbone", "masked_lm", "binding", "tokenizer")
                   if result.get(k)]
        return f"{result['kind']} checkpoint converted: " + ", ".join(str(p) for p in written)


OMNIBIOTE = OmniBioTEConverter()
