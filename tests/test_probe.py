"""The probe: it reads what a frozen model's hidden states hold, and no more."""

import numpy as np
import torch

from physlm.engine.config_types import ProbeConfig
from physlm.engine.probe import Probe, fit, held_out_correct, loss_curve_end, probe_model

CFG = ProbeConfig(p_rank=2, q_rank=2, steps=300, batch_size=64, lr=1e-2, embedding_lr=1e-3, weight_decay=0.0)


def synthetic(shuffle: bool):
    """A frozen 'model' whose hidden state is the running mean of the token embeddings (a crude
    attention); the label is a linear function of the last hidden state."""
    rng = np.random.default_rng(0)
    vocab, width, n, length = 500, 16, 800, 4
    embedding = torch.from_numpy(rng.normal(size=(vocab, width)).astype(np.float32))
    ids = torch.from_numpy(rng.integers(vocab, size=(n, length)))
    steps = torch.arange(1, length + 1).view(1, -1, 1)

    def body(embeds):
        return embeds.cumsum(dim=1) / steps

    labels = (body(embedding[ids])[:, -1].numpy() @ rng.normal(size=(width, 4))).argmax(1)
    if shuffle:
        labels = rng.permutation(labels)
    train = np.arange(n) < n // 2
    probe = Probe(embedding, body, rank=2, classes=[4], seed=0)
    positions = torch.full((n, 1), length - 1)
    targets = torch.from_numpy(labels)[:, None]
    fit(probe, ids, positions, targets, train, CFG, seed=0)
    correct = held_out_correct(probe, ids, positions, targets, train, CFG.batch_size)
    return correct[:, 0].mean(), np.bincount(labels[~train]).max() / (~train).sum()


def test_probe_recovers_a_known_linear_answer_on_unseen_inputs():
    accuracy, majority = synthetic(shuffle=False)
    assert accuracy > 0.8 and majority < 0.5


def test_probe_stays_at_chance_on_shuffled_labels():
    accuracy, majority = synthetic(shuffle=True)
    assert accuracy < majority + 0.1


def test_untrained_probe_sees_the_model_hidden_states_exactly():
    embedding = torch.randn(10, 4)
    probe = Probe(embedding, lambda embeds: embeds, rank=3, classes=[2], seed=0)
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(probe.embedding[ids] + probe.down[ids] @ probe.up, embedding[ids])


def test_a_probe_on_a_model_fills_no_kv_cache(tiny_model, no_kv_cache):
    probe = probe_model(tiny_model, rank=2, classes=[3], seed=0)
    logits = probe(torch.tensor([[4, 5, 6]]), torch.tensor([[2]]))
    assert logits[0].shape == (1, 3)


def test_loss_curve_end_says_whether_training_had_flattened():
    assert loss_curve_end([1.0] * 100).endswith("(last tenth +0.0%)")
    assert "(last tenth -50.0%)" in loss_curve_end([2.0] * 90 + [1.0] * 10)


def test_a_batch_is_cut_after_its_last_read_position_and_reads_the_same(tiny_model):
    probe = probe_model(tiny_model, rank=2, classes=[3], seed=0)
    widths = []
    body = probe.body
    probe.body = lambda embeds: widths.append(embeds.shape[1]) or body(embeds)
    ids = torch.tensor([[4, 5, 6, 7, 0, 0, 0, 0], [4, 5, 0, 0, 0, 0, 0, 0]])  # right-padded to 8
    read = torch.tensor([[3], [1]])
    cut = probe(ids, read)[0]
    assert widths == [4]  # the padding after position 3, the batch's last read, never entered the model
    whole = torch.cat([body(probe.embedding[r] + probe.down[r] @ probe.up) for r in ids.unsqueeze(1)])
    assert torch.allclose(cut, probe.heads[0](probe.norms[0](whole[[0, 1], [3, 1]])), atol=1e-5)
    assert not torch.allclose(
        cut, probe(ids, torch.tensor([[2], [1]]))[0], atol=1e-5
    )  # a read one earlier differs
