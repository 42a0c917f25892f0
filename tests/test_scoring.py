"""Teacher-forced scoring: each text's losses, each at its own token, alike in batches or alone."""

import torch
from fakes import NextToken

from physlm.data.bios import lexicon, make_biographies
from physlm.data.tokenizer import build_tokenizer
from physlm.models import build_model
from physlm.scoring import text_losses
from physlm.sections import ModelConfig


def test_each_tokens_loss_is_read_at_that_token(people):
    """A model certain of every token but one: the whole loss sits at that token's index."""
    tokenizer = build_tokenizer(lexicon(people))
    text = make_biographies(people.head(1), "single", seed=0)["text"][0]
    ids = tokenizer(text)["input_ids"]
    k = 5
    assert ids[k] not in ids[:k] + ids[k + 1 :]
    ((loss, _),) = text_losses(NextToken(len(tokenizer), scale=100.0, blind=ids[k]), tokenizer, [text])
    assert loss.argmax() == k and loss[k] > 99 and loss.sum() - loss[k] < 1e-3


def test_batched_teacher_forcing_gives_each_text_its_own_losses(people):
    """Right padding in a batch changes no text's losses: the same numbers one text at a time."""
    tokenizer = build_tokenizer(lexicon(people))
    model = build_model(
        ModelConfig("llama", 2, 2, 16, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    texts = make_biographies(people.head(7), "single", seed=0)["text"].tolist()
    texts[3] = texts[3].split(".")[0] + "."  # one much shorter text, so the batches hold padding
    with torch.no_grad():
        batched = text_losses(model, tokenizer, texts, batch_size=4)
        alone = text_losses(model, tokenizer, texts, batch_size=1)
    for (loss, offsets), (reference, same), text in zip(batched, alone, texts, strict=True):
        assert len(loss) == len(offsets) == len(tokenizer(text)["input_ids"])
        assert offsets == same and torch.allclose(loss, reference, atol=1e-5)
        assert (loss > 0).all()


def test_scoring_fills_no_kv_cache(tiny_model, tokenizer, people, no_kv_cache):
    texts = make_biographies(people.head(3), "single", seed=0)["text"].tolist()
    with torch.no_grad():
        assert len(text_losses(tiny_model, tokenizer, texts, batch_size=2)) == 3
