"""Weight-space interpolation between the base and the fine-tuned model (WiSE-FT, Wortsman et al. 2022).

``theta(a) = (1 - a) * theta_base + a * theta_finetuned``: a = 0 is the base model, a = 1 the fine-tuned one. An
intermediate ``a`` keeps much of what fine-tuning gained on the new data while giving back less of what the base
knew (forgetting), the guard this project needs: InfoNCE fine-tunes of strong embedders on synthetic queries often
get worse elsewhere. ``a`` is chosen on the dev split among ``training.wise_ft_alphas``.

sentence-transformers has no such helper; the parameters are mixed here by name over the two state dicts, which
must have the same keys and shapes (the same architecture and vocabulary). Integer buffers (position ids) are
taken from the fine-tuned model as they are.

Example::

    mixed = interpolate(base_model, finetuned_model, alpha=0.5)   # a new SentenceTransformer
"""

from __future__ import annotations

import copy

import torch

from retrieval.errors import ConfigError, ModelError


def check_alpha(alpha: float) -> float:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"interpolation weight {alpha} is outside [0, 1]: 0 is the base model, 1 the fine-tuned "
                          "one. Fix training.wise_ft_alphas.")
    return float(alpha)


def interpolate(base, finetuned, alpha: float):
    """A copy of ``finetuned`` whose floating-point weights are ``(1 - alpha) * base + alpha * finetuned``."""
    alpha = check_alpha(alpha)
    base_state, ft_state = base.state_dict(), finetuned.state_dict()
    if base_state.keys() != ft_state.keys():
        missing = sorted(set(base_state) ^ set(ft_state))[:5]
        raise ModelError(f"cannot interpolate: the base and fine-tuned models have different parameters ({missing}"
                         "...). WiSE-FT needs the same architecture and vocabulary on both sides.")
    mixed = {}
    for name, ft_value in ft_state.items():
        base_value = base_state[name]
        if base_value.shape != ft_value.shape:
            raise ModelError(f"cannot interpolate: parameter {name} has shape {tuple(base_value.shape)} in the base "
                             f"model and {tuple(ft_value.shape)} in the fine-tuned one (a trimmed vocabulary?).")
        if torch.is_floating_point(ft_value):
            base_value = base_value.to(ft_value.device, ft_value.dtype)
            if alpha == 1.0:
                mixed[name] = ft_value.clone()
            elif alpha == 0.0:
                mixed[name] = base_value.clone()
            else:
                mixed[name] = torch.lerp(base_value, ft_value, alpha)
        else:
            mixed[name] = ft_value.clone()
    model = copy.deepcopy(finetuned)
    model.load_state_dict(mixed)
    return model


def choose_alpha(base, finetuned, evaluator, alphas: list[float]) -> tuple[float, dict[float, float], object]:
    """Score every ``alpha`` with ``evaluator`` (its primary metric); return (best alpha, scores, best model).
    Ties go to the larger alpha (closer to what was trained)."""
    scores, best = {}, None
    for alpha in sorted({check_alpha(a) for a in alphas}):
        model = interpolate(base, finetuned, alpha)
        result = evaluator(model)
        scores[alpha] = float(result[evaluator.primary_metric] if evaluator.primary_metric in result
                              else next(v for k, v in result.items() if k.endswith(evaluator.primary_metric)))
        if best is None or scores[alpha] >= scores[best[0]]:
            best = (alpha, model)
    return best[0], scores, best[1]
