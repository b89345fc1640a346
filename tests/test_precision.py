"""Speed switches: bf16 mixed precision (the trainer's) and torch.compile (the module's), correct on CPU."""

import json
from pathlib import Path

import pytest
import torch

from sermodels.cli import cli_main
from sermodels.module import SERModule, bf16_cpu_supported
from sermodels.strl_ser import STRLSER
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC


def _args(cache: Path, runs: Path) -> list[str]:
    return [*config_args("strl_ser"),
            f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={cache}", "--data.extract_workers=0",
            "--data.progress=false", "--data.batch_size=8", "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={runs}", "--model.init_args.net.init_args.fusion_tokens=branches"]


@pytest.mark.slow
@pytest.mark.skipif(not bf16_cpu_supported(), reason="this CPU has no bfloat16 kernels (no AVX-512): bf16-mixed is refused")
def test_bf16_mixed_trains_and_scores_in_float32(ser_cache: Path, tmp_path: Path) -> None:
    args = [*_args(ser_cache, tmp_path), "--trainer.precision=bf16-mixed", "--trainer.max_epochs=2"]
    fit = cli_main(["fit", *args])
    assert fit.trainer.precision == "bf16-mixed"
    loss = fit.trainer.callback_metrics["train/loss_epoch"]
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in fit.model.parameters())  # master weights stay float32
    ckpt = Path(fit.trainer.log_dir) / "checkpoints" / "last.ckpt"
    test = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert 0.0 <= metrics["wa"] <= 1.0 and 0.0 <= metrics["ua"] <= 1.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        batch = {"lld": torch.randn(3, 76, 40), "hsf": torch.randn(3, 1582)}
        assert fit.model(batch).dtype == torch.float32  # logits leave the net as float32


def test_bf16_mixed_is_refused_with_the_way_out_on_a_cpu_without_bf16_kernels(
        ser_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where oneDNN has no bfloat16 kernels (an AVX2 CPU), an LSTM under bf16 autocast fails deep in oneDNN at its
    first step; the module refuses before training, naming the switch and what to use instead."""
    import sermodels.module

    monkeypatch.setattr(sermodels.module, "bf16_cpu_supported", lambda: False)
    args = [*_args(ser_cache, tmp_path), "--trainer.precision=bf16-mixed", "--trainer.max_epochs=1"]
    with pytest.raises(RuntimeError, match=r"--trainer.precision bf16-mixed: this CPU .* Use --trainer.precision 32-true"):
        cli_main(["fit", *args])


@pytest.mark.slow
def test_compile_gives_the_eager_outputs_and_the_same_checkpoint_keys() -> None:
    torch.manual_seed(0)
    eager = SERModule(STRLSER(4, fusion_tokens="branches"), num_classes=4).eval()
    compiled = SERModule(STRLSER(4, fusion_tokens="branches"), num_classes=4, compile=True).eval()
    compiled.load_state_dict(eager.state_dict())
    compiled.configure_model()
    assert compiled._compiled is not None
    assert set(compiled.state_dict()) == set(eager.state_dict())  # nothing compiled leaks into checkpoints
    batch = {"lld": torch.randn(5, 76, 40), "hsf": torch.randn(5, 1582)}
    with torch.no_grad():
        torch.testing.assert_close(compiled(batch), eager(batch), atol=1e-4, rtol=1e-4)


def test_mixup_is_opt_in_and_mixes_inputs_and_targets() -> None:
    torch.manual_seed(0)
    module = SERModule(STRLSER(4, fusion_tokens="branches"), num_classes=4, mixup_alpha=0.4)
    seen = {}
    module.log = lambda *a, **k: None  # type: ignore[method-assign]
    original = module.forward

    def spy(batch):  # noqa: ANN001, ANN202
        seen.update(batch)
        return original(batch)

    module.forward = spy  # type: ignore[method-assign]
    batch = {"lld": torch.randn(6, 76, 40), "hsf": torch.randn(6, 1582), "target": torch.tensor([0, 1, 2, 3, 0, 1])}
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss) and loss.requires_grad
    assert not torch.equal(seen["lld"], batch["lld"])  # inputs were mixed
    with pytest.raises(ValueError, match="mixup_alpha"):
        SERModule(STRLSER(4), num_classes=4, mixup_alpha=-1)
    assert SERModule(STRLSER(4), num_classes=4).hparams.mixup_alpha == 0.0  # off by default
