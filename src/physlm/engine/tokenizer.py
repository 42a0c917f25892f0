"""A word-level tokenizer built from the generator's lexicon.

A word-level vocabulary keeps the embedding small (a few thousand rows instead of GPT-2's 50K), which
is what makes CPU-scale training possible, and makes every name and value a short token sequence.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"


def build_tokenizer(
    texts: Iterable[str], extra_special: tuple[str, ...] = (), prepend_scheme: str = "always"
) -> PreTrainedTokenizerFast:
    """Every word and punctuation mark of `texts` becomes one token; nothing is merged or dropped.
    `extra_special` are marker tokens kept whole (probe inputs), after the words. `prepend_scheme`
    "first" marks a word start only at the text's start and after spaces, not after an added token,
    so text that follows an added token directly ("[BACK].") decodes back exactly."""
    core = Tokenizer(models.WordLevel(unk_token=UNK))
    # Words keep their leading space ("▁born") and punctuation stands alone, so decoding is exact.
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(prepend_scheme=prepend_scheme), pre_tokenizers.Punctuation()]
    )
    core.decoder = decoders.Metaspace(prepend_scheme=prepend_scheme)
    trainer = trainers.WordLevelTrainer(special_tokens=[PAD, UNK, EOS], min_frequency=1)
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=EOS,
        bos_token=EOS,
        padding_side="left",
    )
    if extra_special:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special)})
    return tokenizer
