"""The toy net of the "how to add a model" recipe (checked by tests/test_recipe_model.py).

A model is a plain ``nn.Module``: a class attribute ``inputs`` names the batch keys its ``forward``
takes (``"lld"``, ``"hsf"``, ``"wave"``), ``forward`` returns logits ``(batch, classes)``, and
``__init__`` takes ``num_classes`` (the CLI links it from the data module). Everything else
(loss, optimiser, utterance-level metrics, checkpoints, result files) is :class:`SERModule`'s.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class TinyNet(nn.Module):
    """Log energy of ``bands`` equal stretches of each waveform segment, then a linear classifier."""

    inputs = ("wave",)

    def __init__(self, num_classes: int, bands: int = 8) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bands = bands
        self.classifier = nn.Linear(bands, num_classes)

    def forward(self, wave: Tensor) -> Tensor:
        energy = F.adaptive_avg_pool1d(wave.unsqueeze(1) ** 2, self.bands).squeeze(1)  # (batch, bands)
        return self.classifier(torch.log(energy + 1e-6))
