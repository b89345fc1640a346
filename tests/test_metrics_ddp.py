"""UtteranceMetrics under DDP: two CPU processes (gloo) must both get the single-process result.

One utterance's segments are split across the two ranks on purpose, the other utterances land on
either rank at random, and rank 1 re-scores two of rank 0's segments and one of its own, as DistributedSampler padding
does (dropped again via ``segment_index``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sermodels.metrics import UtteranceMetrics

WORLD_SIZE = 2
NUM_CLASSES = 4
TIMEOUT_S = 60.0


def _make_data() -> dict[str, torch.Tensor]:
    """The same data in every process: 12 utterances of 1..6 segments and a rank for each segment."""
    gen = torch.Generator().manual_seed(1234)
    counts = torch.randint(1, 7, (12,), generator=gen)
    counts[0] = 6
    utt = torch.repeat_interleave(torch.arange(100, 112), counts)
    target = torch.repeat_interleave(torch.randint(0, NUM_CLASSES, (12,), generator=gen), counts)
    probs = (2 * torch.randn(utt.numel(), NUM_CLASSES, generator=gen)).softmax(-1)
    segment_index = torch.arange(utt.numel())
    rank = torch.randint(0, WORLD_SIZE, (utt.numel(),), generator=gen)
    rank[:6] = torch.tensor([0, 1, 0, 1, 1, 0])  # utterance 100 is split across the ranks
    return {"probs": probs, "target": target, "utt": utt, "seg": segment_index, "rank": rank}


def _metrics() -> dict[str, UtteranceMetrics]:
    return {
        "mean_dedup": UtteranceMetrics(NUM_CLASSES, aggregation="mean"),
        "vote_dedup": UtteranceMetrics(NUM_CLASSES, aggregation="vote"),
        "mean_plain": UtteranceMetrics(NUM_CLASSES, aggregation="mean"),
    }


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        data = _make_data()
        mine = torch.nonzero(data["rank"] == rank).squeeze(1)
        with_padding = mine
        if rank == 1:  # padding: two of rank 0's segments and one of its own scored again
            rank0_rows = torch.nonzero(data["rank"] == 0).squeeze(1)
            with_padding = torch.cat([mine, rank0_rows[:2], mine[:1]])
        results = {}
        for name, metric in _metrics().items():
            rows = with_padding if name.endswith("dedup") else mine
            for chunk in rows.split(5):  # several updates of uneven size
                seg = data["seg"][chunk] if name.endswith("dedup") else None
                metric.update(data["probs"][chunk], data["target"][chunk], data["utt"][chunk], seg)
            results[name] = (metric.compute(), metric.utterance_predictions())
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _single_process() -> dict[str, tuple]:
    data = _make_data()
    results = {}
    for name, metric in _metrics().items():
        seg = data["seg"] if name.endswith("dedup") else None
        metric.update(data["probs"], data["target"], data["utt"], seg)
        results[name] = (metric.compute(), metric.utterance_predictions())
    return results


def test_utterance_metrics_ddp_matches_single_process(tmp_path: Path) -> None:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    context = mp.start_processes(
        _worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=WORLD_SIZE,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"DDP workers did not finish within {TIMEOUT_S} s")

    expected = _single_process()
    assert int(expected["mean_dedup"][0]["num_utterances"]) == 12
    for rank in range(WORLD_SIZE):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert got.keys() == expected.keys()
        for name, (exp_out, exp_pred) in expected.items():
            out, pred = got[name]
            assert out.keys() == exp_out.keys(), (rank, name)
            for key in exp_out:
                assert torch.equal(out[key], exp_out[key]), (rank, name, key)
            utt_ids, probs, preds, target = pred
            assert torch.equal(utt_ids, exp_pred[0]), (rank, name)
            torch.testing.assert_close(probs, exp_pred[1])
            assert torch.equal(preds, exp_pred[2]), (rank, name)
            assert torch.equal(target, exp_pred[3]), (rank, name)


def _fake_run(rank: int, world_size: int, out_dir: str):  # noqa: ANN202
    from types import SimpleNamespace

    files = [Path(f"clip{i:02d}.wav") for i in range(12)]
    trainer = SimpleNamespace(world_size=world_size, is_global_zero=rank == 0, log_dir=out_dir,
                              datamodule=SimpleNamespace(predict_files=files))
    return trainer, SimpleNamespace(class_names=["neutral", "happy", "angry", "sad"])


def _predictions(rows: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    data = _make_data()
    return [{"probs": data["probs"][c], "utt_index": data["utt"][c] - 100, "segment_index": data["seg"][c]} for c in rows.split(5)]


def _predict_worker(rank: int, init_file: str, out_dir: str) -> None:
    from sermodels.predict import UtterancePredictionWriter

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        data = _make_data()
        mine = torch.nonzero(data["rank"] == rank).squeeze(1)
        if rank == 1:  # a sampler's padding: one of rank 0's segments scored again
            mine = torch.cat([mine, torch.nonzero(data["rank"] == 0).squeeze(1)[:1]])
        trainer, module = _fake_run(rank, WORLD_SIZE, out_dir)
        UtterancePredictionWriter().write_on_epoch_end(trainer, module, _predictions(mine), [])
    finally:
        dist.destroy_process_group()


def test_prediction_writer_under_ddp_writes_whole_utterances_once(tmp_path: Path) -> None:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    from sermodels.predict import UtterancePredictionWriter

    ddp_dir, single_dir = tmp_path / "ddp", tmp_path / "single"
    ddp_dir.mkdir()
    context = mp.start_processes(_predict_worker, args=(str(tmp_path / "init"), str(ddp_dir)), nprocs=WORLD_SIZE,
                                 join=False, start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"DDP workers did not finish within {TIMEOUT_S} s")
    trainer, module = _fake_run(0, 1, str(single_dir))
    UtterancePredictionWriter().write_on_epoch_end(trainer, module, _predictions(torch.arange(len(_make_data()["utt"]))), [])
    expected = (single_dir / "predictions.csv").read_text()
    assert len(expected.splitlines()) == 13  # header + 12 utterances
    assert (ddp_dir / "predictions.csv").read_text() == expected
