"""Give an untrained network realistic BatchNorm statistics, for tests and measurements.

A freshly initialised network has running mean 0, variance 1, weight 1, bias 0 in every
BatchNorm: its outputs are nearly constant (validation compares near-identical numbers) and
conv/bn folding is a no-op (the optimize_for_mobile fusion problem stays hidden). Seeded random
statistics fix both.
"""
import torch


def randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
