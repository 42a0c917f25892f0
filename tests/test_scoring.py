"""Teacher-forced scoring: each text's losses, each at its own token, alike in batches or alone."""

import pytest
import torch
from fakes import NextToken

from physlm.engine.config_types import ModelConfig
from physlm.engine.models import build_model
from physlm.engine.scoring import text_losses
from physlm.engine.tokenizer import build_tokenizer
from physlm.knowledge.bios import lexicon, make_biographies


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


def test_masked_loss_is_the_training_loss_of_the_tokens_a_document_learns_from(people):
    """Against the model's own loss with the unmasked tokens' labels ignored (-100), each document
    preceded by EOS, as training sees it; a mask read one token off gives another number."""
    from physlm.engine.corpus import qa_documents
    from physlm.engine.scoring import masked_loss
    from physlm.knowledge.bios import make_qa

    tokenizer = build_tokenizer(lexicon(people))
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    model = build_model(ModelConfig("llama", 2, 2, 16, 256), len(tokenizer), eos, pad, 0)
    ids, masks = qa_documents(tokenizer, make_qa(people.head(3)).head(5))
    expected_sum, expected_n = 0.0, 0
    for row, mask in zip(ids, masks, strict=True):
        labels = torch.tensor([[-100, *(t if m else -100 for t, m in zip(row, mask, strict=True))]])
        with torch.no_grad():
            loss = model(torch.tensor([[eos, *row]]), labels=labels).loss
        expected_sum, expected_n = expected_sum + float(loss) * sum(mask), expected_n + sum(mask)
    measured = masked_loss(model, (ids, masks), eos, pad, batch_size=2)
    assert measured == pytest.approx(expected_sum / expected_n, rel=1e-5)
    # A model certain of every token but the first answer's first token: its whole loss is there.
    first = ids[0][masks[0].index(True)]
    blind = NextToken(len(tokenizer), scale=100.0, blind=first)
    held_out = masked_loss(blind, (ids, masks), eos, pad)
    assert held_out > 99 / sum(map(sum, masks))
    shifted = [[False, *m[:-1]] for m in masks]  # every mask one token late misses that token
    assert masked_loss(blind, (ids[:1], shifted[:1]), eos, pad) < 1e-3 < held_out
