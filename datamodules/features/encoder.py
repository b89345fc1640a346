"""A frozen self-supervised speech encoder (torchaudio's wav2vec 2.0 / HuBERT / WavLM) as a feature extractor.

Extractor ``frozen_encoder``: the hidden states of one transformer layer for every segment,
``(dims, frames)`` (``lld``-like, e.g. 768 x 69 for wav2vec2-base on 1.4 s), computed in the main
process on the GPU when there is one, in batches of segments, without gradients::

    data:
      inputs: [lld]
      features:
        lld: {name: frozen_encoder, architecture: wav2vec2_base, weights: models/wav2vec2_base.pt, layer: 6}

Nothing is downloaded: the architecture is built by torchaudio (a factory name such as
``wav2vec2_base``, ``hubert_base``, ``wavlm_base``, or a dict of
``torchaudio.models.wav2vec2_model`` arguments), and the weights come from a local file holding its
state dict (e.g. ``torch.save(bundle.get_model().state_dict(), "wav2vec2_base.pt")`` with a
torchaudio pipeline bundle, once, where it can download). The cache key holds the weights file's
SHA-256 and the layer, so other weights or another layer never reuse cached features.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio

from datamodules.features.base import FeatureConfig, FeatureError, FeatureExtractor, SegmentedAudio, register_extractor

__all__ = ["FrozenEncoder", "ENCODER_FACTORIES", "build_encoder"]

#: torchaudio factories selectable as ``architecture`` (each builds the architecture only, random weights).
ENCODER_FACTORIES = (
    "wav2vec2_base", "wav2vec2_large", "wav2vec2_large_lv60k", "wav2vec2_xlsr_300m", "wav2vec2_xlsr_1b",
    "wav2vec2_xlsr_2b", "hubert_base", "hubert_large", "hubert_xlarge", "wavlm_base", "wavlm_large",
)
#: Segments per forward pass.
BATCH_SEGMENTS = 16


def build_encoder(architecture: str | dict[str, Any]) -> torch.nn.Module:
    """The encoder architecture with random weights (a factory name, or ``wav2vec2_model`` arguments)."""
    if isinstance(architecture, str):
        if architecture not in ENCODER_FACTORIES:
            raise ValueError(
                f"data.features: frozen_encoder architecture {architecture!r} is not one of {list(ENCODER_FACTORIES)} "
                "(or give a dict of torchaudio.models.wav2vec2_model arguments)."
            )
        return getattr(torchaudio.models, architecture)()
    try:
        return torchaudio.models.wav2vec2_model(**architecture)
    except TypeError as err:
        raise ValueError(
            f"data.features: frozen_encoder architecture {architecture!r} is not a set of "
            f"torchaudio.models.wav2vec2_model arguments ({err})."
        ) from err


@functools.lru_cache(maxsize=8)
def _layout(architecture: str) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    """``(dims, layers, ((kernel, stride), ...) of the convolutional front end)``, from a model built on
    the meta device (no memory, no weights). ``architecture`` is its JSON form (hashable)."""
    with torch.device("meta"):
        model: Any = build_encoder(json.loads(architecture))
    convs = tuple((int(layer.conv.kernel_size[0]), int(layer.conv.stride[0])) for layer in model.feature_extractor.conv_layers)
    return model.encoder.feature_projection.projection.out_features, len(model.encoder.transformer.layers), convs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@register_extractor
class FrozenEncoder(FeatureExtractor):
    """Hidden states of layer ``layer`` of a frozen wav2vec2-family encoder, ``(dims, frames)`` per segment.

    Args:
        config: Shared settings (16 kHz audio, segmentation).
        weights: Local file with the encoder's state dict (``torch.save(model.state_dict(), path)``;
            a dict holding it under ``state_dict`` also works). Read weights-only.
        architecture: A torchaudio factory name (:data:`ENCODER_FACTORIES`) or a dict of
            ``torchaudio.models.wav2vec2_model`` arguments.
        layer: Transformer layer whose output is the feature, 1 .. number of layers (default: the last).
        normalize_waveform: Standardise each segment's samples first (what ``wav2vec2_large_lv60k``
            and the XLS-R models were trained with).
    """

    name = "frozen_encoder"
    kind = "frames"
    runs = "batched"

    def __init__(
        self,
        config: FeatureConfig,
        weights: str,
        architecture: str | dict[str, Any] = "wav2vec2_base",
        layer: int | None = None,
        normalize_waveform: bool = False,
    ) -> None:
        super().__init__(config)
        if config.sample_rate != 16000:
            raise ValueError(f"data.features: frozen_encoder needs 16 kHz audio, got sample_rate {config.sample_rate}.")
        self.weights = str(weights)
        self.architecture = architecture
        self._arch_key = json.dumps(architecture, sort_keys=True)
        dims, layers, _ = _layout(self._arch_key)
        layer = layers if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= layers:
            raise ValueError(f"data.features: frozen_encoder layer must be 1 .. {layers} for this architecture, got {layer!r}.")
        self.layer = layer
        self.normalize_waveform = bool(normalize_waveform)
        self._dims = dims
        self._model: Any = None
        self._digest: tuple[tuple[int, int], str] | None = None

    @property
    def options(self) -> dict[str, Any]:
        return {"weights": self.weights, "architecture": self.architecture, "layer": self.layer,
                "normalize_waveform": self.normalize_waveform}

    def _weights_path(self) -> Path:
        path = Path(self.weights).expanduser()
        if not path.is_file():
            raise FeatureError(
                f"data.features: frozen_encoder weights {path} not found; save the encoder's state dict there "
                "(torch.save(model.state_dict(), path)) or fix the path."
            )
        return path

    def weights_sha256(self) -> str:
        """SHA-256 of the weights file (read once per file version)."""
        path = self._weights_path()
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        if self._digest is None or self._digest[0] != stamp:
            self._digest = (stamp, _sha256(path))
        return self._digest[1]

    def cache_key(self) -> dict[str, Any]:
        options = {k: v for k, v in super().cache_key().items() if k != "weights"}  # the content counts, not the path
        return options | {"weights_sha256": self.weights_sha256(), "torch": torch.__version__,
                          "torchaudio": torchaudio.__version__}

    def segment_shape(self) -> tuple[int, ...]:
        _, _, convs = _layout(self._arch_key)
        frames = self.config.segment_samples
        for kernel, stride in convs:
            frames = (frames - kernel) // stride + 1
        if frames < 1:
            raise ValueError(
                f"data.segment_length {self.config.segment_length} s is too short for the encoder's front end (no frame)."
            )
        return (self._dims, frames)

    @staticmethod
    def device() -> torch.device:
        """Where the encoder runs: the GPU when there is one (the model's device), else the CPU."""
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def model(self) -> Any:
        """The encoder with the weights loaded, in eval mode, frozen (no parameter needs a gradient)."""
        if self._model is None:
            path = self._weights_path()
            model = build_encoder(self.architecture)
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001 - name the file whatever torch raises
                raise FeatureError(f"data.features: frozen_encoder weights {path} cannot be read ({err}).") from err
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
            try:
                model.load_state_dict(state)
            except (RuntimeError, TypeError) as err:
                raise FeatureError(
                    f"data.features: frozen_encoder weights {path} do not fit architecture {self.architecture!r} ({err})."
                ) from err
            self._model = model.eval().requires_grad_(False).to(self.device())
        return self._model

    @torch.inference_mode()
    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        model, device = self.model(), self.device()
        out = []
        for start in range(0, len(audio.segments), BATCH_SEGMENTS):
            x = audio.segments[start : start + BATCH_SEGMENTS].to(device, torch.float32)
            if self.normalize_waveform:
                x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-7)
            hidden, _ = model.extract_features(x, num_layers=self.layer)
            out.append(hidden[-1].transpose(1, 2).float().cpu().numpy())  # (batch, dims, frames)
        values = np.concatenate(out)
        if not np.isfinite(values).all():
            raise FeatureError(f"{audio.name}: the frozen encoder returned NaN/inf features.")
        return values

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_model": None}  # never pickle the loaded model (worker processes rebuild it)
