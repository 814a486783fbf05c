"""Samplers: small pure functions of one signature, with inpainting of the known region.

``denoise(x, sigma) -> x0`` is any callable taking ``x (B, 1, C, F)`` and ``sigma (B,)``
(a :class:`~.denoiser.Denoiser` with its conditioning bound). Every sampler takes the
initial latent ``x`` (unit noise already scaled by the first σ), a decreasing noise schedule
``sigmas`` — ``(S,)`` shared by the batch or ``(S, B)`` per item — an optional
:class:`Inpaint` (known frames with their mask) and an :class:`ItemNoise` (per-item
generators, so an item's randomness does not depend on its batch), and returns the clean
latent with the known frames equal to the known latent exactly.

Noise temperature (the ``variation`` setting) is a per-item schedule, not a sampler option:
:func:`tempered_sigmas` scales every level an item visits by its ``v`` and clamps it to the
trained range, so the start noise, the re-noising and the σ the network is told always agree.
Scaling only the noise while telling the network the unscaled σ makes it remove noise that is
not there (the embedded default's stream fell to about -77 dBFS at v = 0.5).

Why not diffusers' schedulers: ``EDMEulerScheduler`` and ``CMStochasticIterativeScheduler``
keep per-run state (``set_timesteps``/``step_index``) and draw noise for a whole batch,
whereas here each item carries its own generator and inpainting happens at every model call.
The schedules and scalings are checked against those schedulers in the tests.

Inpainting is the replacement method (Song et al., "Score-Based Generative Modeling through
Stochastic Differential Equations", ICLR 2021, App. I.2; as in the reference system): before
every model call the known frames are set to the known latent noised to the current σ.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SAMPLERS = ("euler", "heun", "consistency")

#: The lowest σ the ODE samplers (euler, heun) evaluate a teacher at, as a multiple of
#: σ_data. EDM training draws ln σ ~ N(P_mean, 1.2²) with P_mean = -1.2 + ln(σ_data / 0.5)
#: (``edm_p_mean`` in training/ldm.py), so σ / σ_data has one log-normal law whatever σ_data
#: is, and 0.06·σ_data lies about 2 standard deviations below its mean: 97 % of training
#: draws are above it. Karras' σ_min = 0.002 is 4 to 5 below (4.9 for the embedded teacher),
#: a time embedding the network has hardly seen. It follows the training recipe, which
#: config.json does not record (a teacher trained with another ``--p-mean``/``--p-std``
#: would want another floor), hence a constant and not a config field.
ODE_SIGMA_FLOOR = 0.06


def ode_sigma_floor(sigma_min: float, sigma_data: float) -> float:
    """The last nonzero σ of the ODE samplers' schedule (:data:`ODE_SIGMA_FLOOR`); the step
    from it to σ = 0 is an Euler step, whose result is the denoiser's estimate there."""
    return max(sigma_min, ODE_SIGMA_FLOOR * sigma_data)


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0
                  ) -> torch.Tensor:
    """``(steps + 1,)``: Karras et al. 2022, Eq. 5, from σ_max down to σ_min, then 0."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho  # one step: just σ_max
    return torch.cat([sigmas, sigmas.new_zeros(1)]).float()


def consistency_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0
                       ) -> torch.Tensor:
    """``(steps,)``: the noise levels a multistep consistency sampler visits.

    σ_max, then the first ``steps - 1`` interior points of a ``steps + 1``-point Karras
    schedule (for 2 steps with the defaults: 80, 2.52).
    """
    return karras_sigmas(steps + 1, sigma_min, sigma_max, rho)[:steps]


def tempered_sigmas(sigmas: torch.Tensor, variation: torch.Tensor, sigma_min: float,
                    sigma_max: float) -> torch.Tensor:
    """``(S, B)``: the schedule ``sigmas (S,)`` at noise temperature ``variation (B,)``.

    Every nonzero level becomes ``v·σ`` clamped to ``[sigma_min, sigma_max]`` (the range the
    network was trained on); a final σ = 0 stays 0; ``v = 1`` leaves the levels unchanged.
    Once ``v·σ_max`` is no longer well above σ_data the start is not noise any more and the
    model keeps the empty latent (useful range: ``StreamingPipeline.sample``).
    """
    scaled = (variation.to(sigmas)[None, :] * sigmas[:, None]).clamp(sigma_min, sigma_max)
    return torch.where(sigmas[:, None] == 0, torch.zeros_like(scaled), scaled)


class ItemNoise:
    """Standard normal noise drawn per item from its own generator (batch-independent)."""

    def __init__(self, seeds: Sequence[int], shape: Sequence[int], *,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
        self.shape = tuple(shape)
        self.device = device
        self.dtype = dtype

    def __call__(self) -> torch.Tensor:
        """``(B, *shape)`` fresh unit noise; item i's draws depend only on its seed."""
        draws = [torch.randn(self.shape, generator=g, dtype=self.dtype) for g in self.generators]
        return torch.stack(draws).to(self.device)


@dataclass
class Inpaint:
    """Known frames of the target: ``known (B, 1, C, F)`` where ``mask (B, F)`` is True."""

    known: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self) -> None:
        self._where = self.mask[:, None, None, :]

    def noised(self, x: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x`` with its known frames replaced by ``known + σ·noise``."""
        return torch.where(self._where, self.known + sigma.reshape(-1, 1, 1, 1) * noise, x)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with its known frames replaced by the known latent exactly."""
        return torch.where(self._where, self.known, x)


def _inpainting(denoise: Denoise, inpaint: Inpaint | None, noise: ItemNoise) -> Denoise:
    if inpaint is None:
        return denoise

    def call(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return denoise(inpaint.noised(x, sigma, noise()), sigma)

    return call


def _per_item(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """σ as ``(B,)`` for the denoiser (a scalar σ is shared by every item)."""
    return sigma.to(x.dtype).expand(x.shape[0])


def _column(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """σ broadcastable against ``x (B, 1, C, F)``: a scalar, or ``(B, 1, 1, 1)``."""
    return sigma.to(x.dtype).reshape(-1, 1, 1, 1) if sigma.ndim else sigma.to(x.dtype)


def _euler_step(denoise: Denoise, x: torch.Tensor, sigma: torch.Tensor,
                sigma_next: torch.Tensor) -> torch.Tensor:
    """One Euler step of the probability-flow ODE from σ to σ_next (to σ = 0: the estimate)."""
    s, s_next = _column(sigma, x), _column(sigma_next, x)
    return x + (s_next - s) * (x - denoise(x, _per_item(sigma, x))) / s


def sample_euler(denoise: Denoise, x: torch.Tensor, sigmas: torch.Tensor, *,
                 noise: ItemNoise, inpaint: Inpaint | None = None) -> torch.Tensor:
    """Euler steps of the probability-flow ODE (Karras et al. 2022, Alg. 2 without the Heun
    correction); ``len(sigmas) - 1`` model calls."""
    model = _inpainting(denoise, inpaint, noise)
    for sigma, sigma_next in itertools.pairwise(sigmas):
        x = _euler_step(model, x, sigma, sigma_next)
    return inpaint.finish(x) if inpaint is not None else x


def heun_step(denoise: Denoise, x: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor
              ) -> torch.Tensor:
    """One Heun step of the probability-flow ODE from σ to σ_next (Karras et al. 2022, Alg. 1,
    lines 5-8); the ODE solver consistency distillation uses.

    ``sigma``/``sigma_next`` are scalars or per-item ``(B,)``; items stepping to σ = 0 take
    the Euler step (as in Alg. 1).
    """
    s, s_next = _column(sigma, x), _column(sigma_next, x)
    d = (x - denoise(x, _per_item(sigma, x))) / s
    x_next = x + (s_next - s) * d
    final = s_next == 0
    if bool(final.all()):
        return x_next
    safe = torch.where(final, torch.ones_like(s_next), s_next)
    d_next = (x_next - denoise(x_next, _per_item(safe.reshape(-1) if sigma_next.ndim
                                                 else safe, x))) / safe
    return torch.where(final, x_next, x + (s_next - s) * (d + d_next) / 2)


def sample_heun(denoise: Denoise, x: torch.Tensor, sigmas: torch.Tensor, *,
                noise: ItemNoise, inpaint: Inpaint | None = None) -> torch.Tensor:
    """Heun's 2nd-order deterministic sampler (Karras et al. 2022, Alg. 1 with S_churn = 0),
    except that the step onto the last nonzero σ (the floor) is an Euler step too, like the
    step from it to 0; ``max(n, 2n - 2)`` model calls for ``n = len(sigmas) - 1`` steps.

    Why: a Heun step from σ to σ' adds ``(σ/σ' - 1)/2`` times the change of the estimate
    between the two, so a correction evaluated at a small floor multiplies the teacher's
    error there by about σ/(2σ'): 530 for 80 → 0.075, the embedded teacher's two steps. With
    that correction, 2 steps put 69 % of the streamed latent at the codec's floor and 28 % at
    its clamp (floor σ = 0.075 or 0.002 alike). Landing on the floor with Euler leaves the
    corrections to the larger σ, where the ratio between levels is moderate.
    """
    model = _inpainting(denoise, inpaint, noise)
    pairs = list(itertools.pairwise(sigmas))
    for i, (sigma, sigma_next) in enumerate(pairs):
        step = _euler_step if i >= len(pairs) - 2 else heun_step
        x = step(model, x, sigma, sigma_next)
    return inpaint.finish(x) if inpaint is not None else x


def sample_consistency(denoise: Denoise, x: torch.Tensor, sigmas: torch.Tensor, *,
                       noise: ItemNoise, sigma_min: float, inpaint: Inpaint | None = None
                       ) -> torch.Tensor:
    """Multistep consistency sampling (Song et al. 2023, Alg. 1); ``len(sigmas)`` model calls.

    ``x`` is the initial latent at ``sigmas[0]``; between calls the estimate is re-noised to
    the next σ with fresh noise of standard deviation ``sqrt(σ² - σ_min²)``.
    """
    model = _inpainting(denoise, inpaint, noise)
    x0 = model(x, _per_item(sigmas[0], x))
    for sigma in sigmas[1:]:
        x = x0 + (_column(sigma, x) ** 2 - sigma_min**2).clamp(min=0).sqrt() * noise()
        x0 = model(x, _per_item(sigma, x))
    return inpaint.finish(x0) if inpaint is not None else x0


def model_calls(sampler: str, steps: int) -> int:
    """Denoiser evaluations a sampler makes for ``steps`` steps."""
    return {"euler": steps, "heun": max(steps, 2 * steps - 2), "consistency": steps}[sampler]
