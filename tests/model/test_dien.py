"""DIEN: fast AUGRU vs the reference loop, padding, empty histories, auxiliary loss."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from recplat.models import native_scan
from recplat.models.augru import AUGRUCell, augru, augru_reference, run_cell
from recplat.models.catalog import build_model, entry
from recplat.models.dien import DIEN, DIENConfig, DIENOutput, left_align
from recplat.models.layers import TargetAttention, Vocab
from recplat.models.predict import predict_logits
from recplat.training.fit import auxiliary_loss, train_epoch
from recplat.training.metrics import auc

from tests.model.test_models import _batch

pytestmark = pytest.mark.model
VOCAB = Vocab(users=30, items=50, categories=6)


@pytest.fixture(params=["native", "torchscript"])
def scan_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test on the C loops (CPU default) and on the TorchScript ones (GPU, no compiler)."""
    if request.param == "torchscript":
        assert native_scan.choose(enabled=False) is None  # chosen once, for every forward
    elif shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: only the TorchScript loops run here")
    else:
        assert native_scan.choose() is not None  # a compiler is here: the C path must build
    yield str(request.param)
    native_scan.reset()


def _inputs(
    lengths: list[int], steps: int = 6, size: int = 4
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    lengths_t = torch.tensor(lengths)
    mask = torch.arange(steps).unsqueeze(0) < lengths_t.unsqueeze(1)
    x = torch.randn(len(lengths), steps, size) * mask.unsqueeze(-1)
    att = torch.softmax(torch.randn(len(lengths), steps).masked_fill(~mask, -1e9), dim=1) * mask
    return x.requires_grad_(), att, lengths_t


@pytest.mark.parametrize("lengths", [[6, 3, 1], [0, 2, 6], [0, 0, 0], [6, 6, 6]])
def test_fast_augru_matches_the_reference_loop_in_outputs_and_gradients(
    lengths: list[int], scan_path: str
) -> None:
    cell = AUGRUCell(4, 5)
    x, att, lengths_t = _inputs(lengths)
    fast = augru(cell, x, att, lengths_t)
    reference = augru_reference(cell, x, att)
    torch.testing.assert_close(fast, reference)
    grads_ref = torch.autograd.grad(reference.sum(), [x, *cell.parameters()])
    grads_fast: list[torch.Tensor | None] = [None] * len(grads_ref)
    if fast.requires_grad:  # with no real step anywhere the fast path does no work at all
        grads_fast = list(
            torch.autograd.grad(fast.sum(), [x, *cell.parameters()], allow_unused=True)
        )
    for got, want in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(got if got is not None else torch.zeros_like(want), want)
    # Empty histories end in the zero state.
    for row, n in enumerate(lengths):
        if n == 0:
            assert torch.equal(fast[row], torch.zeros(5))


@pytest.mark.parametrize("dtype", [torch.double, torch.float])
def test_run_cell_states_and_attention_gradients_match_the_reference_loop(
    scan_path: str, dtype: torch.dtype
) -> None:
    # Every state is used (as DIEN's extractor does) and attention gets a gradient.
    # Inputs up to +-30 saturate some gates (the C loops clamp before exp).
    torch.manual_seed(0)
    cell = AUGRUCell(4, 5).to(dtype)
    lengths = torch.tensor([6, 3, 0, 1])
    mask = torch.arange(6).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    scale = torch.tensor([1.0, 30.0, 1.0, 3.0], dtype=dtype).view(4, 1, 1)
    x = (torch.randn(4, 6, 4, dtype=dtype) * scale * mask.unsqueeze(-1)).requires_grad_()
    att = (torch.rand(4, 6, dtype=dtype) * mask).requires_grad_()
    weights = torch.randn(4, 6, 5, dtype=dtype)

    states, final = run_cell(cell, x, lengths, att)
    h, reference = x.new_zeros(4, 5), []
    for t in range(6):
        h = cell(x[:, t], h, att[:, t : t + 1])
        reference.append(h * mask[:, t : t + 1])
    expected = torch.stack(reference, dim=1)  # (B, T, H), zero on padding
    torch.testing.assert_close(states, expected)
    torch.testing.assert_close(final, h)
    assert states.requires_grad

    inputs = [x, att, *cell.parameters()]
    got = torch.autograd.grad((states * weights).sum() + 0.3 * final.sum(), inputs)
    want = torch.autograd.grad((expected * weights).sum() + 0.3 * h.sum(), inputs)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1][mask], want[1][mask])  # padded attention is masked anyway
    for g, w in zip(got[2:], want[2:], strict=True):
        torch.testing.assert_close(g, w)


def test_native_scan_can_be_switched_off_and_falls_back_when_it_cannot_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    native_scan.reset()  # forget this process's choice
    monkeypatch.setenv("RECPLAT_NATIVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RECPLAT_NATIVE_SCAN", "0")  # the documented switch, read once
    assert native_scan.load() is None
    monkeypatch.delenv("RECPLAT_NATIVE_SCAN")
    assert native_scan.load() is None  # chosen already: the environment is not read again
    native_scan.reset()
    monkeypatch.setenv("CC", "false")  # a compiler that always fails
    with caplog.at_level(logging.WARNING, logger=native_scan.__name__):
        assert native_scan.load() is None
    assert "TorchScript" in caplog.text
    assert not list((tmp_path / "cache").glob("*.so"))  # nothing half-built is left to load
    # DIEN still runs, on the TorchScript loops.
    cell = AUGRUCell(4, 5)
    x, att, lengths = _inputs([6, 3, 1])
    torch.testing.assert_close(augru(cell, x, att, lengths), augru_reference(cell, x, att))
    native_scan.reset()


def test_augru_input_and_hidden_paths_have_their_own_biases() -> None:
    # DeepCTR-Torch 0.3.0's AUGRU cell shares one bias between both paths.
    cell = AUGRUCell(3, 4)
    assert cell.bias_ih is not cell.bias_hh
    assert cell.bias_ih.data_ptr() != cell.bias_hh.data_ptr()
    x, h, att = torch.randn(2, 3), torch.randn(2, 4), torch.ones(2, 1)
    # The candidate's hidden bias is gated by the reset gate, its input bias is not:
    # moving the same amount from one to the other changes the output.
    before = cell(x, h, att)
    with torch.no_grad():
        cell.bias_ih[8:] += 0.5
    moved_to_input = cell(x, h, att)
    with torch.no_grad():
        cell.bias_ih[8:] -= 0.5
        cell.bias_hh[8:] += 0.5
    moved_to_hidden = cell(x, h, att)
    assert not torch.allclose(moved_to_input, moved_to_hidden)
    assert not torch.allclose(before, moved_to_hidden)


def test_left_align_moves_real_steps_first() -> None:
    seq = torch.tensor([[0, 0, 7, 8], [0, 0, 0, 0], [1, 2, 3, 4]])
    lengths = (seq > 0).sum(1)
    assert left_align(seq, lengths).tolist() == [[7, 8, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]]


def _model(seed: int = 0) -> DIEN:
    torch.manual_seed(seed)
    return DIEN(DIENConfig(vocab=VOCAB, embed_dim=8))


def _with_negatives(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    mask = batch["hist_item_ids"] > 0
    g = torch.Generator().manual_seed(5)
    neg = torch.randint(1, VOCAB.items, batch["hist_item_ids"].shape, generator=g) * mask
    return {**batch, "neg_item_ids": neg, "neg_category_ids": (neg % 5 + 1) * mask}


def test_a_batch_where_every_history_is_empty_works() -> None:
    # DeepCTR-Torch 0.3.0 crashes here (packing zero-length sequences).
    batch = _batch()
    batch["hist_item_ids"] = torch.zeros_like(batch["hist_item_ids"])
    batch["hist_category_ids"] = torch.zeros_like(batch["hist_category_ids"])
    model = _model().eval()
    logits = model(batch)
    assert logits.shape == (7,) and torch.isfinite(logits).all()
    out = model(_with_negatives(batch), return_aux=True)
    assert isinstance(out, DIENOutput) and out.aux_positive.numel() == 0
    assert float(auxiliary_loss(out)) == 0.0


def test_extra_front_padding_and_padding_embeddings_change_nothing() -> None:
    model = _model().eval()
    batch = _batch()
    before = model(batch)
    padded = dict(batch)
    for key in ("hist_item_ids", "hist_category_ids"):
        padded[key] = torch.cat(
            [torch.zeros(7, 4, dtype=torch.long), batch[key]], dim=1
        )  # (B, L + 4)
    model.embeddings.item.weight.data[0].normal_()
    model.embeddings.category.weight.data[0].normal_()
    torch.testing.assert_close(model(padded), before)


def test_dien_reads_the_order_of_behaviours_where_din_does_not() -> None:
    # Drifting interests make *when* matter: reversing a history must move DIEN's
    # score (recurrences), while DIN's attention pooling is order-blind.
    batch = _batch()
    reversed_ = dict(batch)
    for key in ("hist_item_ids", "hist_category_ids"):
        seq = batch[key].clone()
        seq[2:] = seq[2:].flip(1)  # rows 2.. are full histories
        reversed_[key] = seq
    dien = _model().eval()
    assert not torch.allclose(dien(batch)[2:], dien(reversed_)[2:])
    din = build_model("din", entry("din").config(vocab=VOCAB, embed_dim=8)).eval()
    torch.testing.assert_close(din(batch), din(reversed_))


def test_a_request_sharing_one_history_scores_as_row_by_row() -> None:
    # In eval, rows with one shared history run the extractor once; the scores
    # must equal the general path's (train mode: no dropout or batch norm here).
    batch = _batch()
    for key in ("hist_item_ids", "hist_category_ids"):
        batch[key] = batch[key][2:3].expand(7, -1).clone()  # one user, 7 candidates
    model = _model()
    with torch.no_grad():
        shared = model.eval()(batch)
        general = model.train()(batch)
    torch.testing.assert_close(shared, general)
    assert shared.unique().numel() > 1  # the candidates still score differently


def test_aux_output_shapes_and_mask() -> None:
    batch = _with_negatives(_batch())
    out = _model()(batch, return_aux=True)
    assert isinstance(out, DIENOutput)
    lengths = (batch["hist_item_ids"] > 0).sum(1)
    pairs = int((lengths - 1).clamp(min=0).sum())  # (t, t + 1) pairs of real steps
    assert out.logits.shape == (7,)
    assert out.aux_positive.shape == out.aux_negative.shape == (pairs,)
    assert float(auxiliary_loss(out)) > 0


def test_attention_decomposition_equals_the_concatenated_form() -> None:
    torch.manual_seed(0)
    attention = TargetAttention(6, (8, 4))
    q, k = torch.randn(3, 6), torch.randn(3, 5, 6)
    qe = q.unsqueeze(1).expand_as(k)
    concat = torch.cat([qe, k, qe - k, qe * k], dim=-1)  # (B, L, 4E)
    hidden = attention.first_activation(attention.first(concat).reshape(15, -1))
    expected = attention.rest(hidden).view(3, 5)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[0, :2] = False
    scores = attention.scores(q, k, mask, fill=-7.0)
    torch.testing.assert_close(scores[mask], expected[mask])
    assert (scores[~mask] == -7.0).all()


def test_auxiliary_loss_trains_the_extractor_to_predict_the_next_behaviour() -> None:
    # Histories are runs of one category; the aux head must tell next vs random.
    n, L = 1024, 8
    rng = np.random.default_rng(0)
    items_per_category = {c: np.arange(1, 50)[np.arange(1, 50) % 5 + 1 == c] for c in range(1, 6)}
    category = rng.integers(1, 6, size=n)
    hist = np.stack([rng.choice(items_per_category[c], size=L) for c in category])
    arrays = {k: v.numpy() for k, v in _batch(seed=2, batch=n).items()}
    arrays["hist_item_ids"], arrays["hist_category_ids"] = hist, hist % 5 + 1
    arrays["label"] = (arrays["category_id"] == category).astype(np.int64)
    item_categories = np.arange(50) % 5 + 1
    item_categories[0] = 0
    model = _model(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    batch = _with_negatives(
        {k: torch.from_numpy(v[:256]) for k, v in arrays.items() if k != "label"}
    )
    with torch.no_grad():
        start = float(auxiliary_loss(model(batch, return_aux=True)))
    for epoch in range(3):
        train_epoch(
            model,
            arrays,
            np.random.default_rng(epoch).permutation(n),
            optimizer=optimizer,
            batch_size=64,
            device=torch.device("cpu"),
            aux_weight=1.0,
            item_categories=item_categories,
            rng=np.random.default_rng(epoch),
        )
    with torch.no_grad():
        end = float(auxiliary_loss(model(batch, return_aux=True)))
    assert end < 0.7 * start
    assert auc(arrays["label"], predict_logits(model, arrays)) > 0.8  # the sequence is used


def test_reruns_are_bit_identical_with_deterministic_algorithms_at_two_threads() -> None:
    """TrainOptions.deterministic: the gathers' backward (parallel scatter-adds) is what
    differs between reruns at more than one thread; deterministic algorithms fix it."""
    n = 512
    arrays = {k: v.numpy() for k, v in _batch(seed=3, batch=n).items()}
    arrays["label"] = (arrays["category_id"] % 2).astype(np.int64)
    item_categories = np.arange(VOCAB.items) % 5 + 1

    def train() -> dict[str, torch.Tensor]:
        model = _model(4)
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
        train_epoch(
            model, arrays, np.random.default_rng(0).permutation(n), optimizer=optimizer,
            batch_size=64, device=torch.device("cpu"), aux_weight=1.0,
            item_categories=item_categories, rng=np.random.default_rng(0),
        )  # fmt: skip
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    try:
        first, second = train(), train()
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(
        first["embeddings.item.weight"], _model(4).state_dict()["embeddings.item.weight"]
    )


def test_sampled_negatives_carry_the_type_of_the_step_they_stand_in_for() -> None:
    """Otherwise the auxiliary loss separates real from sampled steps by the type
    embedding alone: negatives equal to the real steps must score exactly alike."""
    torch.manual_seed(0)
    model = DIEN(DIENConfig(vocab=VOCAB, embed_dim=8, behaviour_types=4))
    batch = _batch(seed=6)
    batch["hist_behaviour_types"] = (batch["hist_item_ids"] % 3 + 1) * (batch["hist_item_ids"] > 0)
    batch["neg_item_ids"] = batch["hist_item_ids"].clone()
    batch["neg_category_ids"] = batch["hist_category_ids"].clone()
    with torch.no_grad():
        out = model(batch, return_aux=True)
    assert out.aux_positive.numel() > 0
    assert torch.equal(out.aux_positive, out.aux_negative)
